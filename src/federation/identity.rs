//! The node's identity: an ed25519 key pair made at first start and kept in sled, so a
//! follower can pin it and refuse a catalog signed by anyone else. Exportable for a backup
//! and importable on a replacement box (the followers then keep following it).

use ring::{
    rand::SystemRandom,
    signature::{self, Ed25519KeyPair, KeyPair},
};
use sha2::{Digest, Sha256};

use crate::store::{Setting, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the stored key is damaged; import the backup of this node's key")]
    Damaged,
    #[error("this is not a key exported by streamp2p")]
    NotAKey,
}

pub struct Identity {
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

impl Identity {
    /// The node's key, made (and stored, durably) on first use.
    pub fn load_or_create(store: &Store) -> Result<Self, IdentityError> {
        if let Some(text) = store.setting::<String>(Setting::Identity)? {
            let pkcs8 = hex::decode(text).map_err(|_| IdentityError::Damaged)?;
            let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| IdentityError::Damaged)?;
            return Ok(Self { pair, pkcs8 });
        }
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| IdentityError::Damaged)?;
        let pkcs8 = doc.as_ref().to_vec();
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| IdentityError::Damaged)?;
        store.set_setting(Setting::Identity, &hex::encode(&pkcs8))?;
        tracing::info!("made this node's identity key");
        Ok(Self { pair, pkcs8 })
    }

    /// Replaces the stored key with an exported one (a replacement box).
    pub fn import(store: &Store, exported: &str) -> Result<Self, IdentityError> {
        let pkcs8 = hex::decode(exported.trim()).map_err(|_| IdentityError::NotAKey)?;
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| IdentityError::NotAKey)?;
        store.set_setting(Setting::Identity, &hex::encode(&pkcs8))?;
        Ok(Self { pair, pkcs8 })
    }

    /// The secret key, for the operator's backup.
    pub fn export(&self) -> String {
        hex::encode(&self.pkcs8)
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.pair.public_key().as_ref())
    }

    pub fn sign(&self, msg: &[u8]) -> String {
        hex::encode(self.pair.sign(msg).as_ref())
    }
}

/// A short form of a public key for people to compare: 16 hex digits in groups of four.
pub fn fingerprint(public_hex: &str) -> String {
    let d = Sha256::digest(public_hex.as_bytes());
    hex::encode(&d[..8])
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `sig_hex` is `public_hex`'s signature of `msg`.
pub fn verify(public_hex: &str, msg: &[u8], sig_hex: &str) -> bool {
    let (Ok(pk), Ok(sig)) = (hex::decode(public_hex), hex::decode(sig_hex)) else {
        return false;
    };
    signature::UnparsedPublicKey::new(&signature::ED25519, pk)
        .verify(msg, &sig)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_persist_sign_and_move_to_another_box() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = Identity::load_or_create(&store).unwrap();
        let again = Identity::load_or_create(&store).unwrap();
        assert_eq!(a.public_hex(), again.public_hex());
        let sig = a.sign(b"catalog");
        assert!(verify(&a.public_hex(), b"catalog", &sig));
        assert!(!verify(&a.public_hex(), b"catalog!", &sig));
        assert!(!verify("zz", b"catalog", &sig));

        let other_dir = tempfile::tempdir().unwrap();
        let other = Store::open(other_dir.path()).unwrap();
        let moved = Identity::import(&other, &a.export()).unwrap();
        assert_eq!(moved.public_hex(), a.public_hex());
        assert!(Identity::import(&other, "not hex").is_err());
        assert_eq!(fingerprint(&a.public_hex()).len(), 19);
    }
}
