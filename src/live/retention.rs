//! Recordings never fill the card. A box on air all day records about 1.4 GB a day at
//! 128 kb/s; an SD card would fill in weeks. Every few seconds the keeper looks at the free
//! space of the data partition and, below `recording.keep_free_mb` (default: the larger of
//! 2 GB and a tenth of the partition), removes the oldest recordings the operator has
//! neither kept nor published (given their own title or notes). It touches nothing else:
//! uploads, mirrors (they have their own budget) and the database are never removed.
//!
//! When nothing more may be removed and the recordings would fill the card within a day at
//! the stream's rate, the dashboard says so. A full disk anyway (ENOSPC) pauses the
//! recorder, which says so too; the stream never depends on the recorder.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, SystemTime},
};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{library::Library, station::Station, system::disk_space};

/// How often the free space is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(5);
/// The free space kept by default: at least this much...
const MIN_FREE: u64 = 2 * 1024 * 1024 * 1024;
/// ...or this fraction of the partition, whichever is more.
const FREE_FRACTION: u64 = 10;
/// Warn when the card would be full within this long.
const WARN_AHEAD: Duration = Duration::from_secs(24 * 3600);

/// What the recordings' keeper and the recorder report, for the dashboard and health.
#[derive(Debug, Default)]
pub struct Recordings {
    /// The recorder stopped writing: the disk is full.
    paused: AtomicBool,
    report: Mutex<Report>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub free_bytes: u64,
    pub keep_free_bytes: u64,
    /// Recordings removed since the node started.
    pub removed: u64,
    /// Hours until the disk is full at the stream's rate, when nothing more may be
    /// removed and that is less than a day.
    pub full_in_hours: Option<u64>,
}

impl Recordings {
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// The recorder says whether it can write.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Release);
    }

    pub fn report(&self) -> Report {
        self.report
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

pub struct Keeper {
    pub recordings_dir: PathBuf,
    pub data_dir: PathBuf,
    /// `recording.keep_free_mb`; 0 for the default.
    pub keep_free_mb: u64,
    /// Bytes per second the recorder writes (the stream's bitrate).
    pub rate: u64,
    pub station: Arc<Station>,
    pub library: Arc<Library>,
    pub state: Arc<Recordings>,
}

impl Keeper {
    /// Looks after the free space until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let me = Arc::new(self);
        loop {
            let keeper = me.clone();
            match tokio::task::spawn_blocking(move || keeper.check()).await {
                Ok(report) => {
                    if let Ok(mut r) = me.state.report.lock() {
                        let removed = r.removed + report.removed;
                        *r = Report { removed, ..report };
                    }
                }
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(CHECK_EVERY) => {}
            }
        }
    }

    /// One look: removes what must go; `removed` counts this look's removals.
    fn check(&self) -> Report {
        let Some((free, total)) = disk_space(&self.data_dir) else {
            return Report::default();
        };
        let keep_free = match self.keep_free_mb {
            0 => MIN_FREE.max(total / FREE_FRACTION),
            mb => mb.saturating_mul(1024 * 1024),
        };
        let protected = self.protected();
        let mut removable: Vec<(SystemTime, PathBuf, u64)> =
            finished_recordings(&self.recordings_dir)
                .into_iter()
                .filter(|(_, path, _)| !protected.contains(path))
                .collect();
        removable.sort();
        let mut free = free;
        let mut removed = 0;
        let mut left: Vec<&(SystemTime, PathBuf, u64)> = Vec::new();
        for r in &removable {
            if free >= keep_free {
                left.push(r);
                continue;
            }
            let (_, path, size) = r;
            match std::fs::remove_file(path) {
                Ok(()) => {
                    tracing::info!(
                        file = %path.display(),
                        free_mb = free / (1024 * 1024),
                        keep_free_mb = keep_free / (1024 * 1024),
                        "removed an old recording to keep free space"
                    );
                    free += size;
                    removed += 1;
                }
                Err(e) => tracing::warn!(file = %path.display(), "cannot remove a recording: {e}"),
            }
        }
        // Room left before the keeper runs out of recordings to remove, at the stream's rate.
        let could_free: u64 = left.iter().map(|(_, _, size)| size).sum();
        let headroom = (free + could_free).saturating_sub(keep_free);
        let full_in_hours = (self.rate > 0 && headroom < self.rate * WARN_AHEAD.as_secs())
            .then(|| headroom / self.rate / 3600);
        Report {
            free_bytes: free,
            keep_free_bytes: keep_free,
            removed,
            full_in_hours,
        }
    }

    /// Recordings the operator kept or published.
    fn protected(&self) -> HashSet<PathBuf> {
        let metas = self.station.item_meta();
        let catalog = self.library.catalog();
        catalog
            .items
            .values()
            .filter(|i| metas.get(&i.infohash).is_some_and(|m| m.protected()))
            .flat_map(|i| i.paths.iter().cloned())
            .collect()
    }
}

/// The finished recordings in `dir` (not the one being written, a hidden `.part`): their
/// time, path and size.
fn finished_recordings(dir: &Path) -> Vec<(SystemTime, PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| {
                (
                    meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    e.path(),
                    meta.len(),
                )
            })
        })
        .collect()
}
