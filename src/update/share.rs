//! The system update this box installed, shared with the stations that follow it (they
//! fetch it with `sister`): the bundle is kept in `<data>/updates/shared/` under its name,
//! the signed manifest beside it, the newest only. It is published at
//! `/api/update/manifest` and `/api/update/bundle.torrent`, seeded by the node's swarm as
//! one of its extras, and its swarm tracked by the node's tracker with the node in it.
//!
//! Followers trust the release key's signature, not this box; still, only a bundle this
//! box checked against a manifest it verified is ever published: when it is kept, and
//! again at each start (signature, size and SHA-256, the last in the same read that makes
//! the torrent's piece hashes).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use bytes::Bytes;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{
    fetch,
    manifest::{self, Manifest},
    Problem,
};
use crate::{
    library::{
        hasher,
        scan::{mtime_ns, Found},
        torrent,
    },
    swarm::{Extra, Extras},
    tracker::Tracker,
};

/// The signed manifest's file name beside the bundle (a bundle's name always has a dot).
const MANIFEST: &str = "manifest";

/// A bundle shared, with what it was checked against.
#[derive(Debug)]
pub struct Shared {
    /// The manifest as the release key signed it: what followers check.
    pub signed: Bytes,
    pub manifest: Manifest,
    pub path: PathBuf,
    /// The bundle's single-file torrent; its name is the manifest's `bundle`.
    pub info: torrent::Info,
    pub infohash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    #[error("the bundle is not the one its manifest signed: {0}")]
    Bundle(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ShareError + '_ {
    move |source| ShareError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What is shared, for the web side, the swarm and the tracker.
pub struct Share {
    dir: PathBuf,
    now: watch::Sender<Option<Arc<Shared>>>,
}

impl Share {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("updates").join("shared"),
            now: watch::channel(None).0,
        }
    }

    /// The update shared now, if any.
    pub fn current(&self) -> Option<Arc<Shared>> {
        self.now.borrow().clone()
    }

    /// Keeps `bundle`, checked against `m` (signed as `signed`), in place of the one
    /// shared so far, and shares it. Reads the whole bundle once (a blocking thread).
    pub async fn keep(&self, bundle: &Path, signed: Bytes, m: &Manifest) {
        let (dir, bundle, m) = (self.dir.clone(), bundle.to_path_buf(), m.clone());
        let version = m.version.clone();
        match tokio::task::spawn_blocking(move || keep(&dir, &bundle, signed, m)).await {
            Ok(Ok(shared)) => {
                tracing::info!(%version, infohash = %shared.infohash, "updates: sharing this version with the stations that follow this one");
                self.now.send_replace(Some(Arc::new(shared)));
            }
            Ok(Err(e)) => tracing::warn!(%version, "updates: not shared: {e}"),
            Err(e) => tracing::warn!(%version, "updates: not shared: {e}"),
        }
    }

    /// Until `shutdown`: shares the pair an earlier run kept, once checked again against
    /// `keyring`, then whatever [`Share::keep`] keeps; each to the swarm to seed
    /// (`extras`) and to the tracker, which lists the node in its swarm.
    pub async fn run(
        self: Arc<Self>,
        keyring: PathBuf,
        extras: watch::Sender<Extras>,
        tracker: Arc<Tracker>,
        shutdown: CancellationToken,
    ) {
        let dir = self.dir.clone();
        match tokio::task::spawn_blocking(move || load(&dir, &keyring)).await {
            Ok(Ok(Some(shared))) => {
                tracing::info!(version = %shared.manifest.version, infohash = %shared.infohash, "updates: sharing again");
                // An update kept meanwhile is newer.
                self.now.send_modify(|now| {
                    now.get_or_insert_with(|| Arc::new(shared));
                });
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!("updates: the update kept to share is not shared: {e}"),
            Err(e) => tracing::warn!("updates: the update kept to share is not shared: {e}"),
        }
        let mut now = self.now.subscribe();
        loop {
            let shared = now.borrow_and_update().clone();
            let mut seeded = BTreeMap::new();
            let mut hashes = Vec::new();
            if let Some(s) = shared {
                if let Ok(ih) = <[u8; 20]>::try_from(hex::decode(&s.infohash).unwrap_or_default()) {
                    hashes.push(ih);
                }
                let extra = Extra {
                    path: s.path.clone(),
                    info: s.info.clone(),
                };
                seeded.insert(s.infohash.clone(), extra);
            }
            tracker.admit_seeded(hashes);
            extras.send_replace(Arc::new(seeded));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                r = now.changed() => if r.is_err() { return },
            }
        }
    }
}

/// Moves `bundle` into `dir` under its name in place of everything there, checks it, and
/// writes its manifest beside it last: a pair cut short by a power cut has no manifest,
/// and so is not shared.
fn keep(dir: &Path, bundle: &Path, signed: Bytes, m: Manifest) -> Result<Shared, ShareError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    clear(dir)?;
    let path = dir.join(&m.bundle);
    std::fs::rename(bundle, &path).map_err(io(&path))?;
    let shared = checked(path, signed, m)?;
    let manifest = dir.join(MANIFEST);
    let part = dir.join(format!("{MANIFEST}.part"));
    std::fs::write(&part, &shared.signed).map_err(io(&part))?;
    std::fs::rename(&part, &manifest).map_err(io(&manifest))?;
    Ok(shared)
}

/// The pair kept in `dir`, checked again; `None` when there is none. A pair that fails
/// its checks is removed: it is of no use to anyone.
fn load(dir: &Path, keyring: &Path) -> Result<Option<Shared>, ShareError> {
    let manifest = dir.join(MANIFEST);
    let signed = match std::fs::read(&manifest) {
        Ok(s) => Bytes::from(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A bundle whose manifest was never written: cut short.
            if dir.exists() {
                clear(dir)?;
            }
            return Ok(None);
        }
        Err(e) => return Err(io(&manifest)(e)),
    };
    let keys = std::fs::read(keyring).map_err(io(keyring))?;
    let checked = manifest::verify(&signed, &keys)
        .map_err(ShareError::from)
        .and_then(|m| checked(dir.join(&m.bundle), signed, m));
    if matches!(
        checked,
        Err(ShareError::Manifest(_) | ShareError::Bundle(_))
    ) {
        clear(dir)?;
    }
    checked.map(Some)
}

/// The bundle at `path` hashed into its torrent, and its size and SHA-256 checked
/// against `m` in the same read.
fn checked(path: PathBuf, signed: Bytes, m: Manifest) -> Result<Shared, ShareError> {
    let meta = std::fs::metadata(&path).map_err(io(&path))?;
    if meta.len() != m.size {
        return Err(ShareError::Bundle(format!(
            "{} bytes, not {}",
            meta.len(),
            m.size
        )));
    }
    let found = Found {
        path: path.clone(),
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
    };
    let hashed = hasher::hash_file(&found, |_| {}).map_err(|e| match e {
        hasher::HashError::Io(source) => ShareError::Io {
            path: path.clone(),
            source,
        },
        e => ShareError::Bundle(e.to_string()),
    })?;
    fetch::same_sha256(&hex::encode(hashed.sha256), &m).map_err(|p| match p {
        Problem::Damaged { detail } => ShareError::Bundle(detail),
        p => ShareError::Bundle(format!("{p:?}")),
    })?;
    Ok(Shared {
        infohash: torrent::infohash_hex(&hashed.info.to_bytes()),
        info: hashed.info,
        signed,
        manifest: m,
        path,
    })
}

/// Removes every file in `dir`: the older pair, or one cut short.
fn clear(dir: &Path) -> Result<(), ShareError> {
    // The manifest first: a pair half removed is never shared again.
    match std::fs::remove_file(dir.join(MANIFEST)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io(&dir.join(MANIFEST))(e))
        }
        _ => {}
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
        let path = entry.path();
        if path.is_file() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::manifest::tests::{release_key, sign};
    use sha2::{Digest, Sha256};

    fn manifest_for(bytes: &[u8], version: &str) -> (Vec<u8>, Manifest) {
        let body = serde_json::json!({
            "version": version,
            "compatible": "streamp2p-amd64",
            "bundle": format!("b-{version}.raucb"),
            "sha256": hex::encode(Sha256::digest(bytes)),
            "size": bytes.len(),
        })
        .to_string();
        let m: Manifest = serde_json::from_str(&body).unwrap();
        (body.into_bytes(), m)
    }

    #[test]
    fn the_newest_pair_is_kept_and_checked_again_at_start() {
        let (cert, key) = release_key("release");
        let dir = tempfile::tempdir().unwrap();
        let keyring = dir.path().join("keyring.pem");
        std::fs::write(&keyring, cert.to_pem().unwrap()).unwrap();
        let shared = dir.path().join("shared");
        let mut last = None;
        for version in ["2", "3"] {
            let bytes = vec![version.as_bytes()[0]; 100_000];
            let (body, m) = manifest_for(&bytes, version);
            let downloaded = dir.path().join("downloaded.raucb");
            std::fs::write(&downloaded, &bytes).unwrap();
            let signed = Bytes::from(sign(&body, &cert, &key));
            let s = keep(&shared, &downloaded, signed, m).unwrap();
            assert_eq!(s.info.name, format!("b-{version}.raucb"));
            assert_eq!(s.info.length, 100_000);
            last = Some(s);
        }
        let names: Vec<String> = std::fs::read_dir(&shared)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "the older pair is gone: {names:?}");
        let again = load(&shared, &keyring).unwrap().unwrap();
        assert_eq!(again.infohash, last.unwrap().infohash);
        assert_eq!(again.manifest.version, "3");

        // A changed byte in the bundle: not shared again, and removed.
        let mut bytes = std::fs::read(&again.path).unwrap();
        bytes[5] ^= 1;
        std::fs::write(&again.path, bytes).unwrap();
        assert!(matches!(
            load(&shared, &keyring),
            Err(ShareError::Bundle(_))
        ));
        assert!(load(&shared, &keyring).unwrap().is_none());
        assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
    }

    #[test]
    fn a_pair_signed_by_another_key_is_not_shared_again() {
        let (cert, _) = release_key("release");
        let (other, other_key) = release_key("someone else");
        let dir = tempfile::tempdir().unwrap();
        let keyring = dir.path().join("keyring.pem");
        std::fs::write(&keyring, cert.to_pem().unwrap()).unwrap();
        let shared = dir.path().join("shared");
        let bytes = vec![7u8; 1000];
        let (body, m) = manifest_for(&bytes, "2");
        let downloaded = dir.path().join("d.raucb");
        std::fs::write(&downloaded, &bytes).unwrap();
        let signed = Bytes::from(sign(&body, &other, &other_key));
        keep(&shared, &downloaded, signed, m).unwrap();
        assert!(matches!(
            load(&shared, &keyring),
            Err(ShareError::Manifest(_))
        ));
        assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
    }
}
