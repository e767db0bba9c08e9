//! The library: audio files under the library roots, each turned into a torrent.
//!
//! `run` polls the roots (scan -> diff against the index -> hash what is new or changed)
//! and publishes the result as a [`Catalog`] on a watch channel. The swarm, the tracker and
//! the web front end only read that catalog; only this module changes the index.
//!
//! Parts: `scan` (walk the roots), `hasher` (file -> info dictionary), `torrent` (info
//! dictionary -> infohash, .torrent, magnet), `tags` (title, artist, duration).

pub mod hasher;
pub mod problem;
pub mod scan;
pub mod tags;
pub mod torrent;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, SystemTime},
};

use chrono::NaiveDate;
use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::store::{IndexRecord, Sha256, Store, StoreError, Tags};
use problem::Problem;
use scan::{Found, ScanResult};
use torrent::Info;

/// `path` as the name of its library root's folder and the path inside it; a path under
/// no root (never expected) by its file name alone.
fn place(roots: &[PathBuf], path: &Path) -> String {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let root = roots
        .iter()
        .filter(|r| path.starts_with(r))
        .max_by_key(|r| r.components().count());
    match root.map(|r| (r, path.strip_prefix(r))) {
        Some((r, Ok(rel))) if rel.as_os_str().is_empty() => name(r),
        Some((r, Ok(rel))) => format!("{}/{}", name(r), rel.to_string_lossy()),
        _ => name(path),
    }
}

/// One seeded file. Copies of the same bytes under the same name share one item.
#[derive(Debug, Clone)]
pub struct Item {
    pub infohash: String,
    pub name: String,
    pub size: u64,
    pub mime: &'static str,
    pub mtime_ns: i128,
    pub tags: Tags,
    /// SHA-256 of the file; unknown for a while after an upgrade from a version that did
    /// not keep it (see [`IndexRecord::sha256`]).
    pub sha256: Option<Sha256>,
    /// Every copy on disk, sorted; the first is the one served and seeded.
    pub paths: Vec<PathBuf>,
}

impl Item {
    pub fn path(&self) -> &Path {
        // An item is only made from at least one record.
        &self.paths[0]
    }

    /// Where the item is in the library of `roots`: its root's folder name and the path
    /// inside (`STICK/music/a.mp3`), unlike `name`, which two folders may share.
    pub fn place(&self, roots: &[PathBuf]) -> String {
        place(roots, self.path())
    }

    /// When it was recorded, for the feed and every page: the file's date tag, else a
    /// `YYYY-MM-DD` (with an `HH.MM` after it, as the box names its recordings, in UTC) in
    /// its name, else the file's modification time.
    pub fn recorded_at(&self) -> SystemTime {
        let from_tag = self.tags.recorded.as_deref().and_then(|d| {
            let day = d
                .get(..10)
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
            let year = || {
                d.get(..4)
                    .filter(|_| d.len() == 4)
                    .and_then(|y| y.parse().ok())
                    .and_then(|y| NaiveDate::from_ymd_opt(y, 1, 1))
            };
            day.or_else(year).and_then(|day| day.and_hms_opt(0, 0, 0))
        });
        let from_name = || {
            let name = self.name.rsplit('/').next().unwrap_or(&self.name);
            (0..name.len().saturating_sub(9)).find_map(|i| {
                let day = NaiveDate::parse_from_str(name.get(i..i + 10)?, "%Y-%m-%d").ok()?;
                let time = name
                    .get(i + 11..i + 16)
                    .filter(|_| name.get(i + 10..i + 11) == Some(" "))
                    .and_then(|t| chrono::NaiveTime::parse_from_str(t, "%H.%M").ok())
                    .unwrap_or_default();
                Some(day.and_time(time))
            })
        };
        from_tag
            .or_else(from_name)
            .map(|t| SystemTime::from(t.and_utc()))
            .unwrap_or_else(|| {
                let ns = u64::try_from(self.mtime_ns).unwrap_or(0);
                SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)
            })
    }
}

/// What the library holds right now, by hex infohash.
#[derive(Debug, Default)]
pub struct Catalog {
    pub items: BTreeMap<String, Item>,
    /// Infohashes indexed under a root that is absent now (a pulled USB stick): not served,
    /// but expected back, so the swarm pauses rather than forgets them.
    pub offline: HashSet<String>,
    /// Each absent root (a pulled or paused USB stick), and each top-level folder of one,
    /// with how many items are offline for it.
    pub absent: BTreeMap<PathBuf, usize>,
}

impl Catalog {
    /// The items newest first (by [`Item::recorded_at`], then by name), as the listen page,
    /// the config page, the feed and the API list them: a stick of old shows lands in its
    /// place in the past, not on top.
    pub fn newest_first(&self) -> Vec<&Item> {
        let mut items: Vec<&Item> = self.items.values().collect();
        items.sort_by_cached_key(|i| (std::cmp::Reverse(i.recorded_at()), i.name.clone()));
        items
    }
}

/// Hashing progress of the current pass, for `/api/health` and the config page.
#[derive(Debug, Default)]
struct Progress {
    files_done: AtomicU64,
    files_total: AtomicU64,
    bytes_done: AtomicU64,
    bytes_total: AtomicU64,
    hashed_since_start: AtomicU64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Hashing {
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

pub struct Library {
    store: Store,
    roots: Vec<PathBuf>,
    /// Folders under the roots not shared for now (USB sticks the operator stopped): their
    /// records are kept and their items offline, as for a stick pulled out.
    paused: Mutex<Vec<PathBuf>>,
    /// Cuts the wait before the next scan short (a stick stopped or resumed).
    wake: tokio::sync::Notify,
    rescan: Duration,
    progress: Progress,
    problems: Mutex<BTreeMap<PathBuf, Problem>>,
    catalog: watch::Sender<Arc<Catalog>>,
}

impl Library {
    pub fn new(store: Store, roots: Vec<PathBuf>, rescan: Duration) -> Arc<Self> {
        Arc::new(Self {
            store,
            roots,
            paused: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            rescan,
            progress: Progress::default(),
            problems: Mutex::default(),
            catalog: watch::Sender::new(Arc::default()),
        })
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Catalog>> {
        self.catalog.subscribe()
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.borrow().clone()
    }

    /// The info dictionary of an item, from the store.
    pub fn info(&self, infohash: &str) -> Option<Info> {
        match self.store.info(infohash) {
            Ok(Some(b)) => Info::from_bytes(&b)
                .inspect_err(|e| tracing::error!(infohash, "{e}"))
                .ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(infohash, "reading info dictionary: {e}");
                None
            }
        }
    }

    pub fn hashing(&self) -> Hashing {
        let p = &self.progress;
        Hashing {
            files_done: p.files_done.load(Ordering::Relaxed),
            files_total: p.files_total.load(Ordering::Relaxed),
            bytes_done: p.bytes_done.load(Ordering::Relaxed),
            bytes_total: p.bytes_total.load(Ordering::Relaxed),
        }
    }

    pub fn hashed_since_start(&self) -> u64 {
        self.progress.hashed_since_start.load(Ordering::Relaxed)
    }

    /// Files that were skipped, with the reason, as of the last scan.
    pub fn problems(&self) -> BTreeMap<PathBuf, Problem> {
        self.problems.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The same, each by its place in the library (`root-folder/sub/file.mp3`) rather than
    /// its full path: for the public API, where the library is mounted is the box's own.
    pub fn problems_by_place(&self) -> Vec<(String, String)> {
        self.problems()
            .into_iter()
            .map(|(path, why)| (place(&self.roots, &path), why.to_string()))
            .collect()
    }

    /// Stops sharing the folders `paused` (and shares again those no longer in it), at the
    /// next scan, which starts now.
    pub fn pause(&self, paused: Vec<PathBuf>) {
        if let Ok(mut p) = self.paused.lock() {
            *p = paused;
        }
        self.wake.notify_one();
    }

    /// Scans, hashes and publishes until `shutdown`; then returns.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) -> Result<(), StoreError> {
        let mut index: HashMap<PathBuf, IndexRecord> = self
            .store
            .indexed()?
            .into_iter()
            .map(|r| (r.path.clone(), r))
            .collect();
        tracing::info!(files = index.len(), "library index loaded");
        loop {
            self.pass(&mut index, &shutdown).await?;
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.rescan) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// One scan: forget what is gone, publish what is unchanged, hash the rest.
    async fn pass(
        &self,
        index: &mut HashMap<PathBuf, IndexRecord>,
        shutdown: &CancellationToken,
    ) -> Result<(), StoreError> {
        let roots = self.roots.clone();
        let indexed: Vec<PathBuf> = index.keys().cloned().collect();
        let paused = self.paused.lock().map(|p| p.clone()).unwrap_or_default();
        let ScanResult {
            files,
            absent_roots,
            mut problems,
        } = tokio::task::spawn_blocking(move || {
            let mut result = scan::scan(&roots);
            let children = scan::absent_children(&roots, &result.absent_roots, &indexed);
            result.absent_roots.extend(children);
            // A paused folder is as if pulled out: its files are not shared, its records kept.
            result
                .files
                .retain(|f| !paused.iter().any(|p| f.path.starts_with(p)));
            result
                .problems
                .retain(|path, _| !paused.iter().any(|p| path.starts_with(p)));
            result.absent_roots.extend(paused);
            result
        })
        .await
        .unwrap_or_default();

        // Records of an absent root (stick pulled out) are kept so it is not rehashed when
        // it returns; records under a present root whose file was not found are dropped.
        let found: HashSet<&Path> = files.iter().map(|f| f.path.as_path()).collect();
        let present_roots: Vec<&PathBuf> = self
            .roots
            .iter()
            .filter(|r| !absent_roots.contains(r))
            .collect();
        let mut gone: Vec<PathBuf> = index
            .keys()
            .filter(|p| {
                let under_absent = absent_roots.iter().any(|r| p.starts_with(r));
                let under_present = present_roots.iter().any(|r| p.starts_with(r));
                !under_absent && (!under_present || !found.contains(p.as_path()))
            })
            .cloned()
            .collect();

        let mut todo: Vec<Found> = Vec::new();
        // Unchanged files whose record has no SHA-256 (written by a version before it was
        // kept): read once more, after the new files, to complete the record. They stay
        // served from their record meanwhile; the feed only lacks their integrity.
        let mut incomplete: Vec<Found> = Vec::new();
        for f in &files {
            match index.get(&f.path) {
                Some(r) if r.size == f.size && r.mtime_ns == f.mtime_ns => {
                    if r.sha256.is_none() {
                        incomplete.push(f.clone());
                    }
                }
                Some(_) => {
                    gone.push(f.path.clone());
                    todo.push(f.clone());
                }
                None => todo.push(f.clone()),
            }
        }
        if !gone.is_empty() {
            tracing::info!(files = gone.len(), "library files removed or changed");
            self.store.remove_indexed(&gone)?;
            for p in &gone {
                index.remove(p);
            }
            let keep = index.values().map(|r| r.infohash.clone()).collect();
            self.store.prune_infos(&keep)?;
        }
        self.publish(index, &found, &absent_roots);
        let completing: HashSet<PathBuf> = incomplete.iter().map(|f| f.path.clone()).collect();
        todo.extend(incomplete);

        let p = &self.progress;
        p.files_done.store(0, Ordering::Relaxed);
        p.bytes_done.store(0, Ordering::Relaxed);
        p.files_total.store(todo.len() as u64, Ordering::Relaxed);
        p.bytes_total
            .store(todo.iter().map(|f| f.size).sum(), Ordering::Relaxed);
        if !todo.is_empty() {
            tracing::info!(files = todo.len(), "hashing new library files");
        }
        for f in todo {
            if shutdown.is_cancelled() {
                break;
            }
            let path = f.path.clone();
            match self.hash_one(f).await {
                Ok(rec) => {
                    tracing::info!(path = %path.display(), infohash = rec.infohash, "hashed");
                    let new_infohash = rec.infohash.clone();
                    let old = index.insert(path, rec);
                    // A completed record whose bytes turned out different (changed without
                    // a new size or mtime) leaves its old info dictionary unused.
                    if old.is_some_and(|o| o.infohash != new_infohash) {
                        let keep = index.values().map(|r| r.infohash.clone()).collect();
                        self.store.prune_infos(&keep)?;
                    }
                    p.hashed_since_start.fetch_add(1, Ordering::Relaxed);
                    self.publish(index, &found, &absent_roots);
                }
                // Still served from its older record: not a problem for the operator, only
                // an integrity the feed goes on without until a later scan reads it.
                Err(reason) if completing.contains(&path) => {
                    tracing::warn!(
                        path = %path.display(),
                        "cannot take its SHA-256 yet, will retry at the next scan: {reason}"
                    );
                }
                Err(reason) => {
                    tracing::warn!(path = %path.display(), "skipped: {reason}");
                    problems.insert(path, reason);
                }
            }
            p.files_done.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut pr) = self.problems.lock() {
            *pr = problems;
        }
        Ok(())
    }

    /// Hashes one file on a blocking thread and records it durably.
    async fn hash_one(&self, f: Found) -> Result<IndexRecord, Problem> {
        let bytes_done = &self.progress.bytes_done;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let job = tokio::task::spawn_blocking(move || {
            let hashed = hasher::hash_file(&f, |n| {
                let _ = tx.send(n);
            })?;
            let tags = tags::read_tags(&f.path);
            Ok::<_, hasher::HashError>((f, hashed, tags))
        });
        // Progress arrives piece by piece while the blocking thread reads.
        while let Some(n) = rx.recv().await {
            bytes_done.fetch_add(n, Ordering::Relaxed);
        }
        let (f, hashed, tags) = job
            .await
            .map_err(|e| Problem::Unreadable(format!("hashing task failed: {e}")))??;
        let info_bytes = hashed.info.to_bytes();
        let rec = IndexRecord {
            path: f.path,
            size: f.size,
            mtime_ns: f.mtime_ns,
            infohash: torrent::infohash_hex(&info_bytes),
            sha256: Some(Sha256(hashed.sha256)),
            tags,
        };
        self.store
            .put_indexed(&rec, &info_bytes)
            .map_err(|e| Problem::NotRecorded(e.to_string()))?;
        Ok(rec)
    }

    /// Rebuilds the catalog from the records whose file was seen in this scan.
    fn publish(
        &self,
        index: &HashMap<PathBuf, IndexRecord>,
        found: &HashSet<&Path>,
        absent_roots: &[PathBuf],
    ) {
        let mut recs: Vec<&IndexRecord> = index
            .values()
            .filter(|r| found.contains(r.path.as_path()))
            .collect();
        // Sorted, so the first copy (the one served) and its tags do not change at random.
        recs.sort_by(|a, b| a.path.cmp(&b.path));
        let mut items: BTreeMap<String, Item> = BTreeMap::new();
        for rec in recs {
            let name = rec
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let item = items.entry(rec.infohash.clone()).or_insert_with(|| Item {
                infohash: rec.infohash.clone(),
                mime: scan::audio_mime(&name).unwrap_or("application/octet-stream"),
                name,
                size: rec.size,
                mtime_ns: rec.mtime_ns,
                tags: rec.tags.clone(),
                sha256: None,
                paths: Vec::new(),
            });
            // Copies share their bytes, so any copy whose record has the digest gives it.
            item.sha256 = item.sha256.or(rec.sha256);
            item.paths.push(rec.path.clone());
        }
        let offline: HashSet<String> = index
            .values()
            .filter(|r| absent_roots.iter().any(|root| r.path.starts_with(root)))
            .filter(|r| !items.contains_key(&r.infohash))
            .map(|r| r.infohash.clone())
            .collect();
        // Per absent root, and per top-level folder of it (a folder of sticks left empty
        // when its last stick is pulled is absent as a whole, yet each stick is named).
        let mut waiting: BTreeMap<PathBuf, HashSet<&str>> = absent_roots
            .iter()
            .map(|root| (root.clone(), HashSet::new()))
            .collect();
        for r in index.values().filter(|r| offline.contains(&r.infohash)) {
            for root in absent_roots.iter().filter(|root| r.path.starts_with(root)) {
                let mut rel = r.path.strip_prefix(root).unwrap_or(&r.path).components();
                if let (Some(first), Some(_)) = (rel.next(), rel.next()) {
                    waiting
                        .entry(root.join(first))
                        .or_default()
                        .insert(&r.infohash);
                }
                waiting.entry(root.clone()).or_default().insert(&r.infohash);
            }
        }
        let absent = waiting.into_iter().map(|(k, v)| (k, v.len())).collect();
        self.catalog.send_replace(Arc::new(Catalog {
            items,
            offline,
            absent,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    fn library(store: &Store, root: &Path) -> Arc<Library> {
        Library::new(
            store.clone(),
            vec![root.to_path_buf()],
            Duration::from_secs(3600),
        )
    }

    fn loaded(store: &Store) -> HashMap<PathBuf, IndexRecord> {
        let recs = store.indexed().unwrap();
        recs.into_iter().map(|r| (r.path.clone(), r)).collect()
    }

    #[test]
    fn recorded_at_reads_the_tag_then_the_name_then_the_file_time() {
        let item = |name: &str, tag: Option<&str>| Item {
            infohash: String::new(),
            name: name.into(),
            size: 0,
            mime: "audio/mpeg",
            mtime_ns: 1_700_000_000_000_000_000,
            tags: Tags {
                recorded: tag.map(String::from),
                ..Tags::default()
            },
            sha256: None,
            paths: vec![PathBuf::from("/x")],
        };
        let utc = |s: &str| {
            SystemTime::from(
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
                    .unwrap()
                    .and_utc(),
            )
        };
        assert_eq!(
            item("show.mp3", Some("2025-06-01T08:00:00")).recorded_at(),
            utc("2025-06-01 00:00")
        );
        assert_eq!(
            item("show.mp3", Some("2024")).recorded_at(),
            utc("2024-01-01 00:00")
        );
        assert_eq!(
            item("recordings/2026-11-02 10.00 Radio live.mp3", Some("junk")).recorded_at(),
            utc("2026-11-02 10:00")
        );
        assert_eq!(
            item("Programa 2026-03-08.mp3", None).recorded_at(),
            utc("2026-03-08 00:00")
        );
        assert_eq!(
            item("episode 12.mp3", None).recorded_at(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
    }

    /// A library of one file, hashed once; returns its record as this version writes it.
    async fn hashed_once(store: &Store, root: &Path) -> IndexRecord {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 13 % 256) as u8).collect();
        std::fs::write(root.join("a.mp3"), &data).unwrap();
        let mut index = HashMap::new();
        library(store, root)
            .pass(&mut index, &CancellationToken::new())
            .await
            .unwrap();
        let rec = index.into_values().next().unwrap();
        assert_eq!(rec.sha256, Some(Sha256(sha2::Sha256::digest(&data).into())));
        rec
    }

    #[tokio::test]
    async fn records_without_sha256_stay_served_and_are_completed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        std::fs::create_dir(&root).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rec = hashed_once(&store, &root).await;
        // The record as a version before the SHA-256 was kept left it.
        let info = store.info(&rec.infohash).unwrap().unwrap();
        let old = IndexRecord {
            sha256: None,
            ..rec.clone()
        };
        store.put_indexed(&old, &info).unwrap();

        // A restart whose pass is stopped before any hashing: the file is served from its
        // old record, without a digest, and it is not reported as a problem.
        let lib = library(&store, &root);
        let mut index = loaded(&store);
        let stopped = CancellationToken::new();
        stopped.cancel();
        lib.pass(&mut index, &stopped).await.unwrap();
        let cat = lib.catalog();
        let item = &cat.items[&rec.infohash];
        assert_eq!(item.sha256, None);
        assert!(lib.problems().is_empty(), "{:?}", lib.problems());
        assert_eq!(lib.hashing().files_total, 1, "the file waits to be read");

        // The next pass reads it once more and completes the record, same infohash.
        lib.pass(&mut index, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(lib.catalog().items[&rec.infohash].sha256, rec.sha256);
        assert_eq!(store.indexed().unwrap(), vec![rec.clone()]);
        assert_eq!(lib.hashed_since_start(), 1);
        // Complete now: a later pass reads nothing.
        lib.pass(&mut index, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(lib.hashed_since_start(), 1);
        assert_eq!(lib.hashing().files_total, 0);
    }

    #[tokio::test]
    async fn completing_a_record_whose_bytes_changed_drops_the_old_info() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lib");
        std::fs::create_dir(&root).unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rec = hashed_once(&store, &root).await;
        // An old record for other bytes with the same size and mtime (rewritten in place
        // with its time set back): its info dictionary must not outlive it.
        let stale = "cd".repeat(20);
        let old = IndexRecord {
            sha256: None,
            infohash: stale.clone(),
            ..rec.clone()
        };
        store
            .remove_indexed(std::slice::from_ref(&rec.path))
            .unwrap();
        store.prune_infos(&Default::default()).unwrap();
        store.put_indexed(&old, b"d6:lengthi1ee").unwrap();

        let lib = library(&store, &root);
        let mut index = loaded(&store);
        lib.pass(&mut index, &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(store.indexed().unwrap(), vec![rec.clone()]);
        assert!(store.info(&stale).unwrap().is_none(), "stale info kept");
        assert!(store.info(&rec.infohash).unwrap().is_some());
        let cat = lib.catalog();
        assert!(!cat.items.contains_key(&stale));
        assert_eq!(cat.items[&rec.infohash].sha256, rec.sha256);
    }

    #[test]
    fn problems_are_shown_by_place_not_full_path() {
        let roots = [
            PathBuf::from("/media/streamp2p"),
            PathBuf::from("/var/lib/streamp2p/uploads"),
        ];
        let place = |p: &str| place(&roots, Path::new(p));
        assert_eq!(
            place("/media/streamp2p/STICK/show/a.mp3"),
            "streamp2p/STICK/show/a.mp3"
        );
        assert_eq!(place("/var/lib/streamp2p/uploads/b.mp3"), "uploads/b.mp3");
        assert_eq!(place("/media/streamp2p"), "streamp2p");
        assert_eq!(place("/elsewhere/c.mp3"), "c.mp3");
    }
}
