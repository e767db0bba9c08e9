//! The update manifest: a small JSON text saying which version is out, for which box, and
//! where its bundle is, inside a CMS signature made with the project's release key. The box
//! checks the signature against the same keyring RAUC checks bundles with, so nothing in
//! it (the notes shown to the operator included) is taken from whoever served it.
//!
//! Pure: bytes in, a [`Manifest`] or a [`ManifestError`] out.

use openssl::{
    cms::{CMSOptions, CmsContentInfo},
    x509::{store::X509StoreBuilder, X509},
};
use serde::{Deserialize, Serialize};

/// A manifest larger than this is not one.
pub const MAX_BYTES: usize = 64 * 1024;
/// Longest notes shown to the operator.
const MAX_NOTES: usize = 2000;

/// What a manifest says, once its signature is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: String,
    /// RAUC's compatible string of the boxes it is for (`streamp2p-amd64`).
    pub compatible: String,
    /// The bundle's file name, next to the manifest.
    pub bundle: String,
    /// Hex SHA-256 of the bundle.
    pub sha256: String,
    /// The bundle's size in bytes.
    pub size: u64,
    #[serde(default)]
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("the release keyring cannot be read: {0}")]
    Keyring(String),
    #[error("the manifest is not signed by the project's release key: {0}")]
    NotSigned(String),
    #[error("the manifest is not readable: {0}")]
    Malformed(String),
}

/// Checks `signed` (DER CMS with the JSON inside) against the certificates of `keyring`
/// (PEM) and reads it.
pub fn verify(signed: &[u8], keyring: &[u8]) -> Result<Manifest, ManifestError> {
    if signed.len() > MAX_BYTES {
        return Err(ManifestError::Malformed(format!(
            "{} bytes, more than a manifest's {MAX_BYTES}",
            signed.len()
        )));
    }
    let certs = X509::stack_from_pem(keyring).map_err(|e| ManifestError::Keyring(e.to_string()))?;
    if certs.is_empty() {
        return Err(ManifestError::Keyring("no certificate in it".into()));
    }
    let mut store = X509StoreBuilder::new().map_err(|e| ManifestError::Keyring(e.to_string()))?;
    for cert in certs {
        store
            .add_cert(cert)
            .map_err(|e| ManifestError::Keyring(e.to_string()))?;
    }
    let store = store.build();
    let mut cms =
        CmsContentInfo::from_der(signed).map_err(|e| ManifestError::NotSigned(e.to_string()))?;
    let mut body = Vec::new();
    // BINARY: the JSON is checked byte for byte, not as MIME text with its line ends changed.
    cms.verify(
        None,
        Some(&store),
        None,
        Some(&mut body),
        CMSOptions::BINARY,
    )
    .map_err(|e| ManifestError::NotSigned(e.to_string()))?;
    parse(&body)
}

/// Reads the signed body.
fn parse(body: &[u8]) -> Result<Manifest, ManifestError> {
    let m: Manifest =
        serde_json::from_slice(body).map_err(|e| ManifestError::Malformed(e.to_string()))?;
    let bad = |what: &str| Err(ManifestError::Malformed(what.to_string()));
    if m.version.is_empty() || m.version.len() > 64 || !m.version.bytes().all(is_version_byte) {
        return bad("its version is empty or has odd characters");
    }
    if m.compatible.is_empty() || m.compatible.len() > 128 {
        return bad("its compatible string is empty or too long");
    }
    // A file name beside the manifest, never a path or an address of its own.
    if m.bundle.is_empty()
        || m.bundle.len() > 200
        || m.bundle.starts_with('.')
        || !m
            .bundle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
    {
        return bad("its bundle is not a plain file name");
    }
    if m.sha256.len() != 64 || !m.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return bad("its sha256 is not 64 hex digits");
    }
    if m.size == 0 {
        return bad("its bundle size is 0");
    }
    if m.notes.chars().count() > MAX_NOTES {
        return bad("its notes are too long");
    }
    Ok(Manifest {
        sha256: m.sha256.to_ascii_lowercase(),
        ..m
    })
}

fn is_version_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._-+~".contains(&b)
}

/// Whether version `a` comes after `b`: compared part by part (split at `.`, `-`, `+`, `~`),
/// numbers as numbers and words as text, so `1.10` is after `1.9` and `2` after `1.9.9`.
pub fn is_newer(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<Part> {
        v.split(['.', '-', '+', '~'])
            .map(|p| match p.parse::<u64>() {
                Ok(n) => Part::Number(n),
                Err(_) => Part::Word(p.to_string()),
            })
            .collect()
    };
    parts(a) > parts(b)
}

/// A version's part; a number sorts before a word (`1.0` before `1.beta`), which only
/// matters for odd versions: the project's are numbers.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Number(u64),
    Word(String),
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openssl::{
        asn1::Asn1Time,
        ec::{EcGroup, EcKey},
        hash::MessageDigest,
        nid::Nid,
        pkey::{PKey, Private},
        x509::{X509Builder, X509NameBuilder},
    };

    /// A self-signed release certificate and its key, as `image/build.sh` makes for tests.
    pub(crate) fn release_key(name: &str) -> (X509, PKey<Private>) {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut subject = X509NameBuilder::new().unwrap();
        subject.append_entry_by_text("CN", name).unwrap();
        let subject = subject.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&subject).unwrap();
        b.set_issuer_name(&subject).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(3650).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    /// `body` signed as `openssl cms -sign -nodetach -binary -outform DER` does.
    pub(crate) fn sign(body: &[u8], cert: &X509, key: &PKey<Private>) -> Vec<u8> {
        CmsContentInfo::sign(Some(cert), Some(key), None, Some(body), CMSOptions::BINARY)
            .unwrap()
            .to_der()
            .unwrap()
    }

    pub(crate) fn body(version: &str) -> Vec<u8> {
        serde_json::json!({
            "version": version,
            "compatible": "streamp2p-amd64",
            "bundle": format!("streamp2p-amd64-{version}.raucb"),
            "sha256": "AB".repeat(32),
            "size": 1234,
            "notes": "Security fixes.",
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_manifest_signed_by_the_release_key_is_read() {
        let (cert, key) = release_key("release");
        let keyring = cert.to_pem().unwrap();
        let m = verify(&sign(&body("2"), &cert, &key), &keyring).unwrap();
        assert_eq!(m.version, "2");
        assert_eq!(m.bundle, "streamp2p-amd64-2.raucb");
        assert_eq!(m.sha256, "ab".repeat(32));
        assert_eq!(m.notes, "Security fixes.");
    }

    #[test]
    fn another_key_or_a_changed_byte_is_refused() {
        let (cert, key) = release_key("release");
        let (other, other_key) = release_key("someone else");
        let keyring = cert.to_pem().unwrap();
        let e = verify(&sign(&body("2"), &other, &other_key), &keyring).unwrap_err();
        assert!(matches!(e, ManifestError::NotSigned(_)), "{e}");
        // The notes changed after signing: one byte of the signed content.
        let mut der = sign(&body("2"), &cert, &key);
        let at = der
            .windows(8)
            .position(|w| w == b"Security")
            .expect("the content is inside");
        der[at] = b's';
        assert!(matches!(
            verify(&der, &keyring).unwrap_err(),
            ManifestError::NotSigned(_)
        ));
        assert!(matches!(
            verify(b"{\"version\":\"2\"}", &keyring).unwrap_err(),
            ManifestError::NotSigned(_)
        ));
        assert!(matches!(
            verify(&der, b"not a certificate").unwrap_err(),
            ManifestError::Keyring(_)
        ));
    }

    #[test]
    fn a_signed_manifest_that_names_a_path_is_refused() {
        let (cert, key) = release_key("release");
        let keyring = cert.to_pem().unwrap();
        for bundle in [
            "../etc/passwd",
            "http://evil/x.raucb",
            "a/b.raucb",
            ".hidden",
        ] {
            let body = serde_json::json!({
                "version": "2", "compatible": "x", "bundle": bundle,
                "sha256": "ab".repeat(32), "size": 1,
            })
            .to_string();
            let e = verify(&sign(body.as_bytes(), &cert, &key), &keyring).unwrap_err();
            assert!(matches!(e, ManifestError::Malformed(_)), "{bundle}: {e}");
        }
    }

    #[test]
    fn versions_compare_part_by_part() {
        assert!(is_newer("2", "1"));
        assert!(is_newer("1.10", "1.9"));
        assert!(is_newer("2", "1.9.9"));
        assert!(is_newer("1.0.1", "1.0"));
        assert!(!is_newer("1", "1"));
        assert!(!is_newer("1.9", "1.10"));
        assert!(is_newer("2026.12.1", "2026.11.30"));
    }
}
