//! The node's persistent state in sled: the only module that writes state to disk.
//!
//! Trees:
//! - `settings`: single records named by [`Setting`] (operator settings, schedule,
//!   password hash, federation state), key -> JSON value;
//! - `index`: library file path -> [`IndexRecord`] (size, mtime, infohash, SHA-256, tags),
//!   so a restart rehashes nothing that did not change;
//! - `infos`: infohash -> bencoded info dictionary (the piece hashes), shared by every copy
//!   of the same file;
//! - the [`Tree`]s of the config page: login sessions, the operator's titles and notes for
//!   library items, the 24-hour history for its graphs, unfinished uploads, and what played
//!   when (90 days); key -> JSON record, typed by the module that owns the record.
//!
//! Every write is flushed before it returns: when a caller reports something as done, a
//! power cut can no longer lose it. A database written by a newer schema, or one sled
//! cannot open, is refused with an error and never wiped.

use std::{
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Bumped whenever a tree's layout changes; older nodes refuse newer databases.
pub const SCHEMA_VERSION: u32 = 1;
const SCHEMA_KEY: &[u8] = b"schema_version";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the database in {path}: {source}; if another streamp2p runs on this data \
         dir stop it, otherwise move the folder aside (it is not deleted automatically)"
    )]
    Open { path: PathBuf, source: sled::Error },
    #[error(
        "the database in {path} has schema version {found}, newer than this program's \
         {SCHEMA_VERSION}; install a newer streamp2p or use another data dir"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("the database in {path} has an unreadable schema version")]
    BadVersion { path: PathBuf },
    #[error("database error: {0}")]
    Db(#[from] sled::Error),
    #[error("stored record {key} cannot be decoded: {source}")]
    Decode {
        key: String,
        source: serde_json::Error,
    },
}

/// Tags read from an audio file; every field is optional because many files have none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub duration_secs: Option<f64>,
    /// The recording date tag as written (`2026-11-01`, `2026-11-01T10:00:00`, `2026`).
    #[serde(default)]
    pub recorded: Option<String>,
}

/// SHA-256 of a whole library file: what a podcast app can check its download against
/// (`podcast:integrity` in the feed). Stored as 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// Subresource Integrity metadata (W3C SRI): `sha256-` and the digest in base64.
    pub fn sri(&self) -> String {
        use base64::Engine;
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(self.0)
        )
    }
}

impl Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(text.as_bytes(), &mut out).map_err(serde::de::Error::custom)?;
        Ok(Sha256(out))
    }
}

/// What the index knows about one library file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexRecord {
    pub path: PathBuf,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch: with the size, the key to "unchanged".
    pub mtime_ns: i128,
    /// Hex infohash.
    pub infohash: String,
    /// SHA-256 of the whole file, taken in the same read as the piece hashes. `None` in
    /// records written before the index kept it: the library hashes such a file again at
    /// its next scan, serving it meanwhile.
    #[serde(default)]
    pub sha256: Option<Sha256>,
    pub tags: Tags,
}

/// Now, in the Unix seconds that stored records (sessions, history) are stamped with.
pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The single-value records of the `settings` tree. The key names live here alone, so
/// no other module can misspell one or read another's; the value types belong to the
/// module that owns each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting<'a> {
    /// The operator's choices laid over the config file.
    Operator,
    /// The weekly schedule.
    Schedule,
    /// The config page's password (argon2 PHC string).
    PasswordHash,
    /// The node's federation key (PKCS#8, hex).
    Identity,
    /// The signed catalog's sequence and the digest it was last bumped for.
    CatalogSeq,
    /// The boxes that mirror this station: their claims, checks, approval and removal.
    Mirrors,
    /// The other trackers' probe results.
    TrackerHealth,
    /// A followed node's pinned key and last sequence, by its URL.
    FollowPin(&'a str),
    /// The station's logo (a PNG, kept as its bytes).
    Logo,
    /// The system update waiting to be confirmed and the last one's outcome.
    Update,
    /// The labels of the USB sticks the operator stopped sharing.
    UsbStopped,
}

impl Setting<'_> {
    fn key(self) -> std::borrow::Cow<'static, str> {
        match self {
            Setting::Operator => "operator".into(),
            Setting::Schedule => "schedule".into(),
            Setting::PasswordHash => "admin.password_hash".into(),
            Setting::Identity => "federation.key".into(),
            Setting::CatalogSeq => "federation.seq".into(),
            Setting::Mirrors => "federation.mirrors".into(),
            Setting::TrackerHealth => "tracker_health".into(),
            Setting::FollowPin(url) => format!("follow:{url}").into(),
            Setting::Logo => "station.logo".into(),
            Setting::Update => "update".into(),
            Setting::UsbStopped => "usb.stopped".into(),
        }
    }
}

/// Keyed record trees (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    Sessions,
    ItemMeta,
    History,
    Uploads,
    Plays,
}

impl Tree {
    fn name(self) -> &'static str {
        match self {
            Tree::Sessions => "sessions",
            Tree::ItemMeta => "item_meta",
            Tree::History => "history",
            Tree::Uploads => "uploads",
            Tree::Plays => "plays",
        }
    }
}

#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    settings: sled::Tree,
    index: sled::Tree,
    infos: sled::Tree,
    records: [sled::Tree; 5],
}

/// How long an open waits for the previous handle's file lock: after a restart for new
/// settings the node reopens the database in the same process, and sled's background
/// threads let go of the lock a moment after the last handle is dropped.
const LOCK_WAIT: Duration = Duration::from_secs(5);

fn open_when_unlocked(path: &Path) -> Result<sled::Db, sled::Error> {
    let give_up = Instant::now() + LOCK_WAIT;
    loop {
        let opened = sled::Config::new()
            .path(path)
            // Small cache: the box has little memory and the index is read once per scan.
            .cache_capacity(8 * 1024 * 1024)
            .open();
        match opened {
            // sled says "locked" only in its message (an io::Error of kind Other).
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && Instant::now() < give_up =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

impl Store {
    /// Opens (or creates) the database in `dir/db`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("db");
        let open_err = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let db = open_when_unlocked(&path).map_err(open_err)?;
        match db.get(SCHEMA_KEY).map_err(open_err)? {
            None => {
                db.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(open_err)?;
                db.flush().map_err(open_err)?;
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::BadVersion { path: path.clone() })?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::TooNew { path, found });
                }
            }
        }
        let tree = |t: Tree| db.open_tree(t.name()).map_err(open_err);
        let records = [
            tree(Tree::Sessions)?,
            tree(Tree::ItemMeta)?,
            tree(Tree::History)?,
            tree(Tree::Uploads)?,
            tree(Tree::Plays)?,
        ];
        Ok(Self {
            records,
            settings: db.open_tree("settings").map_err(open_err)?,
            index: db.open_tree("index").map_err(open_err)?,
            infos: db.open_tree("infos").map_err(open_err)?,
            path,
            db,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records a hashed file and its info dictionary, durably, in one flush.
    pub fn put_indexed(&self, rec: &IndexRecord, info: &[u8]) -> Result<(), StoreError> {
        self.infos.insert(rec.infohash.as_bytes(), info)?;
        self.index.insert(path_key(&rec.path), encode(rec))?;
        self.db.flush()?;
        Ok(())
    }

    /// Forgets files that are gone; the info dictionaries stay while another copy uses them.
    pub fn remove_indexed(&self, paths: &[PathBuf]) -> Result<(), StoreError> {
        if paths.is_empty() {
            return Ok(());
        }
        for p in paths {
            self.index.remove(path_key(p))?;
        }
        self.db.flush()?;
        Ok(())
    }

    /// Every indexed file. A record that cannot be decoded is reported and skipped (its
    /// file is then simply hashed again).
    pub fn indexed(&self) -> Result<Vec<IndexRecord>, StoreError> {
        let mut out = Vec::new();
        for kv in self.index.iter() {
            let (k, v) = kv?;
            match serde_json::from_slice(&v) {
                Ok(rec) => out.push(rec),
                Err(e) => tracing::warn!(
                    key = %String::from_utf8_lossy(&k),
                    "skipping undecodable index record: {e}"
                ),
            }
        }
        Ok(out)
    }

    pub fn info(&self, infohash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.infos.get(infohash.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Drops info dictionaries that no index record refers to any more.
    pub fn prune_infos(&self, keep: &std::collections::HashSet<String>) -> Result<(), StoreError> {
        let mut dropped = false;
        for k in self.infos.iter().keys() {
            let k = k?;
            if !keep.contains(String::from_utf8_lossy(&k).as_ref()) {
                self.infos.remove(k)?;
                dropped = true;
            }
        }
        if dropped {
            self.db.flush()?;
        }
        Ok(())
    }

    pub fn setting<T: DeserializeOwned>(&self, which: Setting) -> Result<Option<T>, StoreError> {
        let key = which.key();
        match self.settings.get(key.as_bytes())? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|source| StoreError::Decode {
                    key: key.into_owned(),
                    source,
                }),
        }
    }

    pub fn set_setting<T: Serialize>(&self, which: Setting, value: &T) -> Result<(), StoreError> {
        self.settings
            .insert(which.key().as_bytes(), encode(value))?;
        self.db.flush()?;
        Ok(())
    }

    /// A setting kept as raw bytes (a picture), not as JSON.
    pub fn blob(&self, which: Setting) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .settings
            .get(which.key().as_bytes())?
            .map(|v| v.to_vec()))
    }

    /// Replaces (or with `None` removes) a raw setting, durably.
    pub fn set_blob(&self, which: Setting, value: Option<&[u8]>) -> Result<(), StoreError> {
        let key = which.key();
        match value {
            Some(v) => self.settings.insert(key.as_bytes(), v)?,
            None => self.settings.remove(key.as_bytes())?,
        };
        self.db.flush()?;
        Ok(())
    }

    fn tree(&self, t: Tree) -> &sled::Tree {
        &self.records[t as usize]
    }

    /// Writes one record, durably.
    pub fn put<T: Serialize>(&self, t: Tree, key: &[u8], value: &T) -> Result<(), StoreError> {
        self.tree(t).insert(key, encode(value))?;
        self.db.flush()?;
        Ok(())
    }

    /// One record; an undecodable one is an error naming its key.
    pub fn get<T: DeserializeOwned>(&self, t: Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.tree(t).get(key)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|source| StoreError::Decode {
                    key: String::from_utf8_lossy(key).into_owned(),
                    source,
                }),
        }
    }

    pub fn remove(&self, t: Tree, key: &[u8]) -> Result<(), StoreError> {
        if self.tree(t).remove(key)?.is_some() {
            self.db.flush()?;
        }
        Ok(())
    }

    /// Records with keys from `from` on, in key order; undecodable ones are reported and
    /// skipped.
    pub fn scan<T: DeserializeOwned>(
        &self,
        t: Tree,
        from: &[u8],
    ) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.tree(t).range(from..) {
            let (k, v) = kv?;
            match serde_json::from_slice(&v) {
                Ok(rec) => out.push((k.to_vec(), rec)),
                Err(e) => tracing::warn!(
                    tree = t.name(),
                    key = %String::from_utf8_lossy(&k),
                    "skipping undecodable record: {e}"
                ),
            }
        }
        Ok(out)
    }

    /// Drops every record with a key before `until`.
    pub fn remove_before(&self, t: Tree, until: &[u8]) -> Result<(), StoreError> {
        let tree = self.tree(t);
        let mut dropped = false;
        for k in tree.range(..until).keys() {
            tree.remove(k?)?;
            dropped = true;
        }
        if dropped {
            self.db.flush()?;
        }
        Ok(())
    }
}

fn path_key(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing these plain structs to JSON cannot fail (no maps with non-string keys).
    serde_json::to_vec(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(path: &str) -> IndexRecord {
        IndexRecord {
            path: path.into(),
            size: 10,
            mtime_ns: 1_700_000_000_000_000_000,
            infohash: "ab".repeat(20),
            sha256: Some(Sha256([7; 32])),
            tags: Tags {
                title: Some("t".into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.put_indexed(&rec("/a/b.mp3"), b"d4:infoe").unwrap();
            s.set_setting(Setting::Schedule, &"Radio").unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.indexed().unwrap(), vec![rec("/a/b.mp3")]);
        assert_eq!(
            s.info(&"ab".repeat(20)).unwrap().as_deref(),
            Some(&b"d4:infoe"[..])
        );
        assert_eq!(
            s.setting::<String>(Setting::Schedule).unwrap().as_deref(),
            Some("Radio")
        );
        s.remove_indexed(&["/a/b.mp3".into()]).unwrap();
        assert!(s.indexed().unwrap().is_empty());
    }

    #[test]
    fn records_without_sha256_from_older_versions_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        // A record exactly as the version before issue 13 wrote it, and one whose digest
        // is damaged (skipped, so its file is hashed again).
        let old = br#"{"path":"/lib/old.mp3","size":10,"mtime_ns":1700000000000000000,"infohash":"abababababababababababababababababababab","tags":{"title":"t","artist":null,"album":null,"duration_secs":null}}"#;
        s.index.insert(b"/lib/old.mp3", &old[..]).unwrap();
        let bad =
            String::from_utf8_lossy(&encode(&rec("/lib/bad.mp3"))).replace(&"07".repeat(32), "zz");
        s.index.insert(b"/lib/bad.mp3", bad.as_bytes()).unwrap();
        s.put_indexed(&rec("/lib/new.mp3"), b"i").unwrap();
        let got = s.indexed().unwrap();
        let want_old = IndexRecord {
            sha256: None,
            ..rec("/lib/old.mp3")
        };
        assert_eq!(got, vec![rec("/lib/new.mp3"), want_old]);
    }

    #[test]
    fn sha256_is_stored_as_hex_and_shown_as_sri() {
        let json = String::from_utf8(encode(&rec("/a.mp3"))).unwrap();
        assert!(
            json.contains(&format!(r#""sha256":"{}""#, "07".repeat(32))),
            "{json}"
        );
        // SRI of the SHA-256 of no bytes, as `openssl dgst -sha256 -binary | base64` gives it.
        let empty = hex::decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            .unwrap();
        assert_eq!(
            Sha256(empty.try_into().unwrap()).sri(),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn records_are_kept_scanned_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            for t in [10u64, 20, 30] {
                s.put(Tree::History, &t.to_be_bytes(), &(t * 2)).unwrap();
            }
            s.put(Tree::Sessions, b"abc", &"x").unwrap();
            s.tree(Tree::ItemMeta).insert(b"bad", b"{not json").unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let got: Vec<(Vec<u8>, u64)> = s.scan(Tree::History, &20u64.to_be_bytes()).unwrap();
        assert_eq!(got.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [40, 60]);
        s.remove_before(Tree::History, &30u64.to_be_bytes())
            .unwrap();
        assert_eq!(s.scan::<u64>(Tree::History, &[]).unwrap().len(), 1);
        assert_eq!(
            s.get::<String>(Tree::Sessions, b"abc").unwrap().as_deref(),
            Some("x")
        );
        s.remove(Tree::Sessions, b"abc").unwrap();
        assert_eq!(s.get::<String>(Tree::Sessions, b"abc").unwrap(), None);
        assert!(s.get::<String>(Tree::ItemMeta, b"bad").is_err());
        assert!(s.scan::<String>(Tree::ItemMeta, &[]).unwrap().is_empty());
    }

    #[test]
    fn newer_schema_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.db.insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            s.put_indexed(&rec("/x.mp3"), b"i").unwrap();
        }
        match Store::open(dir.path()) {
            Err(StoreError::TooNew { found, .. }) => assert_eq!(found, SCHEMA_VERSION + 1),
            other => panic!("expected TooNew, got {:?}", other.map(|_| ())),
        }
        // Still there: refusing must not have touched it.
        let db = sled::open(dir.path().join("db")).unwrap();
        assert_eq!(db.open_tree("index").unwrap().len(), 1);
    }

    #[test]
    fn garbage_database_is_refused_not_wiped() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir_all(&db).unwrap();
        std::fs::write(db.join("conf"), b"not a sled config").unwrap();
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::Open { .. })
        ));
        assert_eq!(
            std::fs::read(db.join("conf")).unwrap(),
            b"not a sled config"
        );
    }
}
