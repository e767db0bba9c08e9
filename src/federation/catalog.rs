//! The signed catalog a node publishes at `/api/catalog`, and the checks a follower makes
//! before believing one. Pure: no I/O.
//!
//! The catalog travels as the exact JSON text that was signed (`catalog`), beside its
//! signature, so no re-encoding can make a valid signature fail or an altered catalog pass.

use serde::{Deserialize, Serialize};

use super::identity;

/// Largest catalog a follower reads (a 10 000-episode station is about 3 MB).
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogItem {
    pub infohash: String,
    pub name: String,
    pub size: u64,
    pub mime: String,
    pub title: Option<String>,
    pub duration_secs: Option<f64>,
    /// Unix seconds of the file's modification time.
    pub added: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// The signer's public key (hex ed25519).
    pub key: String,
    /// Grows whenever the content changes; a follower refuses one that goes backwards.
    pub seq: u64,
    pub station: String,
    pub description: String,
    /// The node's own base address, as it knows it.
    pub url: String,
    pub items: Vec<CatalogItem>,
    pub live: Vec<String>,
    pub trackers: Vec<String>,
    /// Base addresses of nodes that mirror this station.
    pub mirrors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signed {
    pub catalog: String,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("catalog larger than {} MB", MAX_BYTES / 1024 / 1024)]
    TooBig,
    #[error("not a catalog: {0}")]
    Malformed(String),
    #[error("the signature does not match the catalog")]
    BadSignature,
    #[error("signed by another key ({got}) than the one pinned on first contact ({pinned})")]
    KeyChanged { pinned: String, got: String },
    #[error("sequence {got} is older than the {had} already seen (a replay)")]
    Replayed { had: u64, got: u64 },
}

impl Catalog {
    pub fn sign(&self, id: &identity::Identity) -> Signed {
        let text = serde_json::to_string(self).unwrap_or_default();
        Signed {
            signature: id.sign(text.as_bytes()),
            catalog: text,
        }
    }
}

/// Checks a fetched catalog: size, signature by the key it names, that key equal to the
/// `pinned` one (if any), and a sequence not below `last_seq`.
pub fn open(bytes: &[u8], pinned: Option<&str>, last_seq: Option<u64>) -> Result<Catalog, Refused> {
    if bytes.len() > MAX_BYTES {
        return Err(Refused::TooBig);
    }
    let signed: Signed =
        serde_json::from_slice(bytes).map_err(|e| Refused::Malformed(e.to_string()))?;
    let cat: Catalog =
        serde_json::from_str(&signed.catalog).map_err(|e| Refused::Malformed(e.to_string()))?;
    if !identity::verify(&cat.key, signed.catalog.as_bytes(), &signed.signature) {
        return Err(Refused::BadSignature);
    }
    if let Some(p) = pinned {
        if p != cat.key {
            return Err(Refused::KeyChanged {
                pinned: identity::fingerprint(p),
                got: identity::fingerprint(&cat.key),
            });
        }
    }
    if let Some(had) = last_seq {
        if cat.seq < had {
            return Err(Refused::Replayed { had, got: cat.seq });
        }
    }
    Ok(cat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{federation::identity::Identity, store::Store};

    fn catalog(key: String, seq: u64) -> Catalog {
        Catalog {
            key,
            seq,
            station: "A".into(),
            description: String::new(),
            url: "http://a".into(),
            items: vec![],
            live: vec![],
            trackers: vec![],
            mirrors: vec![],
        }
    }

    #[test]
    fn forged_replayed_swapped_and_huge_catalogs_are_refused() {
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        let a = Identity::load_or_create(&Store::open(d1.path()).unwrap()).unwrap();
        let b = Identity::load_or_create(&Store::open(d2.path()).unwrap()).unwrap();
        let good = serde_json::to_vec(&catalog(a.public_hex(), 5).sign(&a)).unwrap();
        assert_eq!(open(&good, Some(&a.public_hex()), Some(5)).unwrap().seq, 5);

        let mut tampered: Signed = serde_json::from_slice(&good).unwrap();
        tampered.catalog = tampered.catalog.replace("\"A\"", "\"Z\"");
        let tampered = serde_json::to_vec(&tampered).unwrap();
        assert_eq!(
            open(&tampered, None, None).unwrap_err(),
            Refused::BadSignature
        );

        assert!(matches!(
            open(&good, Some(&a.public_hex()), Some(6)),
            Err(Refused::Replayed { had: 6, got: 5 })
        ));
        let swapped = serde_json::to_vec(&catalog(b.public_hex(), 9).sign(&b)).unwrap();
        assert!(matches!(
            open(&swapped, Some(&a.public_hex()), None),
            Err(Refused::KeyChanged { .. })
        ));
        assert_eq!(
            open(&vec![b' '; MAX_BYTES + 1], None, None).unwrap_err(),
            Refused::TooBig
        );
        assert!(matches!(
            open(b"{}", None, None),
            Err(Refused::Malformed(_))
        ));
    }
}
