//! Updates of the box's own system, which a station never has to think about.
//!
//! The appliance has two root slots (A and B) and RAUC (see `image/README.md`): a new
//! version is installed into the slot the box is not running from, and the boot loader
//! tries it a set number of times before going back to the old one by itself. This module
//! is the node's side of that:
//!
//! 1. **Check**: every `update.check_secs` (or when the operator asks), the update source's
//!    manifest, and the one each followed station shares, is fetched and its signature
//!    checked against the release keyring ([`manifest`]); the newest version for this kind
//!    of box is "available".
//! 2. **Install**: automatically (`update.automatic`) or when the operator presses "Update
//!    now", the bundle is downloaded beside the node's data, over HTTP from the update
//!    server ([`fetch`]) or over BitTorrent from a followed station ([`sister`]), checked
//!    against the manifest's SHA-256, and handed to RAUC ([`rauc`]), which checks its
//!    signature and compatible string again and writes the other slot at low I/O priority.
//!    Installed, it is shared in turn with the stations that follow this one ([`share`]).
//! 3. **Restart at a quiet time**: no studio PC connected, and (unless the operator asked)
//!    no live show in the schedule now or soon. The node asks for the reboot by creating
//!    `update.reboot_file`, which a root path unit of the image acts on.
//! 4. **Healthy or back**: after any start, once `/api/health` answers and the stream (when
//!    there is one) is on air, the running slot is marked good. A slot that never gets
//!    there is rebooted by the image's boot deadline until its attempts run out and the
//!    boot loader starts the old one; the node there finds its note of the install, marks
//!    the failed slot bad, and tells the operator why.
//!
//! The state is owned here and published on a watch channel; the config page reads it and
//! asks through [`Updater::ask`]. What must survive a reboot (the install waiting to be
//! confirmed, the last outcome) is in the database on the data partition.

mod fetch;
pub mod manifest;
pub mod rauc;
pub mod share;
mod sister;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{
    config::{
        operator::{Show, ShowKind},
        UpdateConfig,
    },
    federation::mirror::Downloader,
    live::{Live, LiveState},
    outbound::{Origin, Outbound},
    station::Station,
    store::{unix_secs, Setting},
};
use rauc::Rauc;
use share::Share;
use sister::Offer;

/// How long after start the first check waits: the box has its first scan and its stream
/// to start, and a check is never urgent.
const FIRST_CHECK: Duration = Duration::from_secs(20);
/// How often a waiting install looks for a quiet moment, and health is looked at.
const POLL: Duration = Duration::from_secs(5);
/// How many times RAUC's status is asked again, [`POLL`] twice apart, before updates are
/// given up for the run (an ordinary computer with RAUC but no A/B system says no at once,
/// every time).
const STATUS_TRIES: u32 = 12;
/// A live show starting within this is not a quiet time to restart.
const SHOW_MARGIN: Duration = Duration::from_secs(15 * 60);

/// What the operator can ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Check the update source now.
    Check,
    /// Check, then install what is available and restart into it as soon as no studio PC
    /// is connected (the operator chose the moment).
    Install,
}

/// Why an update did not go through, for the operator (each kind has its words on the
/// page; `detail` is the technical reason, shown folded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The update source (or the bundle's server) could not be reached.
    Unreachable { detail: String },
    /// The manifest or the bundle is not signed by the project's release key.
    NotSigned { detail: String },
    /// Made for another kind of box.
    OtherBox { compatible: String },
    /// The download does not match its manifest.
    Damaged { detail: String },
    /// The data partition has no room for the bundle.
    NoSpace { need: u64, free: u64 },
    /// RAUC refused or failed; its words.
    Install { detail: String },
    /// The new version was started and never became healthy: the box went back.
    NeverHealthy { detail: String },
}

/// The last install's outcome, kept across reboots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Updated {
        version: String,
        at: u64,
    },
    /// Installed and started, but it never became healthy: the box is back on `back_to`.
    RolledBack {
        version: String,
        back_to: String,
        problem: Problem,
        at: u64,
    },
    /// Refused or failed before anything changed.
    Failed {
        version: String,
        problem: Problem,
        at: u64,
    },
}

/// An update the source offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Available {
    pub version: String,
    pub notes: String,
    pub size: u64,
}

/// What the updater is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Idle,
    Checking,
    Downloading {
        version: String,
        done: u64,
        total: u64,
    },
    Installing {
        version: String,
        percent: u8,
    },
    /// Installed; the restart waits for a quiet time.
    Waiting {
        version: String,
    },
    Restarting {
        version: String,
    },
}

/// Everything the config page shows about updates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateView {
    /// RAUC manages this system (the appliance); off on an ordinary computer.
    pub managed: bool,
    /// The running version.
    pub running: String,
    pub automatic: bool,
    /// When the update source was last asked (Unix seconds), and what went wrong then.
    pub last_check: Option<u64>,
    pub check_problem: Option<Problem>,
    pub available: Option<Available>,
    pub phase: Phase,
    pub outcome: Option<Outcome>,
}

/// An install RAUC finished, waiting for the new slot to prove itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pending {
    version: String,
    /// The boot name of the slot it went into, and RAUC's name for it.
    slot: String,
    slot_name: String,
    /// The version it replaces.
    from_version: String,
    /// Written to the run-time folder (emptied at every boot) as the install ends: found
    /// there again, the box has not restarted since.
    token: String,
}

/// What is kept in the database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    pending: Option<Pending>,
    outcome: Option<Outcome>,
    last_check: Option<u64>,
    /// A version that was installed and went back: not installed again by itself.
    abandoned: Option<String>,
}

pub struct Updater {
    config: UpdateConfig,
    downloads: PathBuf,
    station: Arc<Station>,
    live: Arc<Live>,
    outbound: Outbound,
    /// Fetches a followed station's bundle over BitTorrent (the federation's own).
    downloader: Arc<Downloader>,
    /// What this box shares with the stations that follow it.
    share: Arc<Share>,
    rauc: Rauc,
    view: watch::Sender<UpdateView>,
    asks: mpsc::Sender<Ask>,
    asked: Mutex<Option<mpsc::Receiver<Ask>>>,
}

impl Updater {
    pub fn new(
        config: UpdateConfig,
        data_dir: &Path,
        station: Arc<Station>,
        live: Arc<Live>,
        outbound: Outbound,
        downloader: Arc<Downloader>,
    ) -> Arc<Self> {
        let (asks, asked) = mpsc::channel(4);
        let view = UpdateView {
            running: env!("CARGO_PKG_VERSION").to_string(),
            ..UpdateView::default()
        };
        Arc::new(Self {
            rauc: Rauc::new(config.rauc.clone()),
            config,
            downloads: data_dir.join("updates"),
            share: Arc::new(Share::new(data_dir)),
            station,
            live,
            outbound,
            downloader,
            view: watch::channel(view).0,
            asks,
            asked: Mutex::new(Some(asked)),
        })
    }

    /// What this box shares with the stations that follow it.
    pub fn share(&self) -> Arc<Share> {
        self.share.clone()
    }

    /// What the page shows.
    pub fn view(&self) -> UpdateView {
        UpdateView {
            automatic: self.automatic(),
            ..self.view.borrow().clone()
        }
    }

    /// The operator's choice (the config page's, over the file's).
    fn automatic(&self) -> bool {
        self.station.settings().update.automatic
    }

    /// The operator's request; `false` when one is already waiting.
    pub fn ask(&self, ask: Ask) -> bool {
        self.asks.try_send(ask).is_ok()
    }

    fn set(&self, f: impl FnOnce(&mut UpdateView)) {
        self.view.send_modify(f);
    }

    fn record(&self) -> Record {
        match self.station.store().setting(Setting::Update) {
            Ok(r) => r.unwrap_or_default(),
            Err(e) => {
                tracing::warn!("updates: cannot read their record: {e}");
                Record::default()
            }
        }
    }

    fn save(&self, record: &Record) {
        if let Err(e) = self.station.store().set_setting(Setting::Update, record) {
            tracing::error!("updates: cannot save their record: {e}");
        }
        self.set(|v| {
            v.outcome = record.outcome.clone();
            v.last_check = record.last_check;
        });
    }

    /// Runs until `shutdown`. `health` is the node's own `/api/health` address.
    pub async fn run(self: Arc<Self>, health: String, shutdown: CancellationToken) {
        let Some(mut asked) = self.asked.lock().ok().and_then(|mut a| a.take()) else {
            return;
        };
        // RAUC's service starts on demand over D-Bus, which takes a while on a busy first
        // boot: asked again before updates are given up for this run.
        let mut tries = 0;
        let system = loop {
            match self.rauc.status().await {
                Ok(s) => break s,
                Err(e @ rauc::RaucError::Missing(_)) => {
                    tracing::info!("updates: not managed on this computer ({e})");
                    return;
                }
                Err(e) if tries < STATUS_TRIES => {
                    tries += 1;
                    tracing::info!("updates: RAUC is not answering yet ({e}); asking again");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(POLL * 2) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "updates: RAUC does not answer ({e}); no updates until the node restarts"
                    );
                    return;
                }
            }
        };
        let running = system
            .booted_slot()
            .and_then(|s| s.version.clone())
            .or_else(|| read_line(&self.config.version_file))
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
        let mut record = self.record();
        self.set(|v| {
            v.managed = true;
            v.running = running.clone();
            v.outcome = record.outcome.clone();
            v.last_check = record.last_check;
        });
        tracing::info!(version = %running, slot = %system.booted, "updates: running");

        // An install from before a restart: are we on it, waiting for it, or back?
        let mut confirming = None;
        if let Some(p) = record.pending.clone() {
            if system.booted == p.slot {
                confirming = Some(p);
            } else if read_line(&self.token_file()).as_deref() == Some(p.token.as_str()) {
                // Installed in this boot; the restart has not happened yet.
                self.set(|v| {
                    v.phase = Phase::Waiting {
                        version: p.version.clone(),
                    }
                });
            } else {
                let detail = boot_failure(&self.config.boot_failure_file, &p.slot)
                    .unwrap_or_else(|| "it did not become healthy in time".into());
                tracing::warn!(version = %p.version, slot = %p.slot, "updates: the new version did not start ({detail}); back on {running}");
                if let Err(e) = self.rauc.mark_bad(&p.slot_name).await {
                    tracing::warn!("updates: cannot mark slot {} bad: {e}", p.slot);
                }
                record.abandoned = Some(p.version.clone());
                record.outcome = Some(Outcome::RolledBack {
                    version: p.version,
                    back_to: running.clone(),
                    problem: Problem::NeverHealthy { detail },
                    at: unix_secs(),
                });
                record.pending = None;
                self.save(&record);
            }
        }

        // Whatever we started from: healthy and on air, the slot is good.
        tokio::select! {
            _ = shutdown.cancelled() => return,
            () = self.wait_healthy(&health) => {}
        }
        match self.rauc.mark_good().await {
            Ok(()) => tracing::info!(slot = %system.booted, "updates: running slot marked good"),
            Err(e) => tracing::warn!("updates: cannot mark the running slot good: {e}"),
        }
        if let Some(p) = confirming {
            record.outcome = Some(Outcome::Updated {
                version: p.version,
                at: unix_secs(),
            });
            record.pending = None;
            self.save(&record);
        }

        let mut next = tokio::time::Instant::now() + FIRST_CHECK;
        loop {
            let ask = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(next) => None,
                a = asked.recv() => a,
            };
            next = tokio::time::Instant::now() + Duration::from_secs(self.config.check_secs);
            if matches!(self.view.borrow().phase, Phase::Waiting { .. }) {
                // Installed already: only the restart is left.
                if ask == Some(Ask::Install) {
                    self.restart_when_quiet(true, &shutdown).await;
                }
                continue;
            }
            let Some(offer) = self.check(&system.compatible).await else {
                continue;
            };
            let operator = ask == Some(Ask::Install);
            let abandoned =
                self.record().abandoned.as_deref() == Some(offer.manifest.version.as_str());
            if (operator || (self.automatic() && !abandoned))
                && self.install(&offer, &running, &system).await
            {
                self.restart_when_quiet(operator, &shutdown).await;
            }
        }
    }

    /// Asks the update source and the followed stations; a newer version for this box, if
    /// any, and where its bundle is.
    async fn check(&self, compatible: &str) -> Option<Offer> {
        if self.config.url.is_empty() && self.station.settings().federation.follow.is_empty() {
            return None;
        }
        self.set(|v| v.phase = Phase::Checking);
        let (offer, problem) = self.ask_all(compatible).await;
        let mut record = self.record();
        record.last_check = Some(unix_secs());
        self.save(&record);
        let running = self.view.borrow().running.clone();
        if let Some(p) = &problem {
            tracing::warn!("updates: check failed: {p:?}");
        }
        let found = offer.filter(|o| manifest::is_newer(&o.manifest.version, &running));
        let available = found.as_ref().map(|o| Available {
            version: o.manifest.version.clone(),
            notes: o.manifest.notes.clone(),
            size: o.manifest.size,
        });
        self.set(|v| {
            v.phase = Phase::Idle;
            v.available = available;
            v.check_problem = problem;
        });
        found
    }

    /// The manifest at `path` on `url` (an address the operator typed), checked against
    /// the release keyring and this box's compatible string; as signed, and as read.
    async fn fetch_manifest(
        &self,
        url: &str,
        path: &str,
        compatible: &str,
    ) -> Result<(bytes::Bytes, manifest::Manifest), Problem> {
        let origin = Origin::operator(url).map_err(|e| Problem::Unreachable {
            detail: e.detail().to_string(),
        })?;
        let signed = self
            .outbound
            .get(&origin, path, None, manifest::MAX_BYTES)
            .await
            .and_then(|f| f.success())
            .map_err(|e| Problem::Unreachable {
                detail: e.detail().to_string(),
            })?;
        let keyring = std::fs::read(&self.config.keyring).map_err(|e| Problem::NotSigned {
            detail: format!("cannot read {}: {e}", self.config.keyring.display()),
        })?;
        let m = manifest::verify(&signed, &keyring).map_err(|e| match e {
            manifest::ManifestError::Malformed(d) => Problem::Damaged { detail: d },
            e => Problem::NotSigned {
                detail: e.to_string(),
            },
        })?;
        if m.compatible != compatible {
            return Err(Problem::OtherBox {
                compatible: m.compatible,
            });
        }
        Ok((signed, m))
    }

    /// Downloads and installs `offer`; true when RAUC installed it.
    async fn install(&self, offer: &Offer, running: &str, system: &rauc::System) -> bool {
        let m = &offer.manifest;
        let failed = |problem: Problem| {
            tracing::warn!(version = %m.version, "updates: not installed: {problem:?}");
            let mut record = self.record();
            // RAUC's refusal stands however often it is asked: not again by itself.
            if matches!(
                problem,
                Problem::NotSigned { .. } | Problem::OtherBox { .. }
            ) {
                record.abandoned = Some(m.version.clone());
            }
            record.outcome = Some(Outcome::Failed {
                version: m.version.clone(),
                problem,
                at: unix_secs(),
            });
            self.save(&record);
            self.set(|v| v.phase = Phase::Idle);
            false
        };
        let version = m.version.clone();
        self.set(|v| {
            v.phase = Phase::Downloading {
                version: version.clone(),
                done: 0,
                total: m.size,
            }
        });
        let bundle = match self.fetch_bundle(offer).await {
            Ok(path) => path,
            Err(p) => return failed(p),
        };
        tracing::info!(version = %m.version, "updates: installing");
        self.set(|v| {
            v.phase = Phase::Installing {
                version: version.clone(),
                percent: 0,
            }
        });
        let installed = self
            .rauc
            .install(&bundle, |percent, step| {
                tracing::debug!("updates: {percent}% {step}");
                self.set(|v| {
                    if let Phase::Installing { percent: p, .. } = &mut v.phase {
                        *p = percent;
                    }
                })
            })
            .await;
        // Not installed, the bundle has done its work (and is passed on to nobody); the
        // data partition needs the room.
        let discard = || {
            if let Err(e) = std::fs::remove_file(&bundle) {
                tracing::warn!("updates: cannot remove {}: {e}", bundle.display());
            }
        };
        if let Err(e) = installed {
            discard();
            return failed(classify(e));
        }
        // RAUC wrote the slot the box is not running from.
        let Some(target) = system.slots.iter().find(|s| s.bootname != system.booted) else {
            discard();
            return failed(Problem::Install {
                detail: "no other slot to start from".into(),
            });
        };
        let token = format!("{:016x}", rand::random::<u64>());
        let token_file = self.token_file();
        if let Err(e) = std::fs::write(&token_file, &token) {
            tracing::warn!("updates: cannot write {}: {e}", token_file.display());
        }
        let mut record = self.record();
        record.pending = Some(Pending {
            version: m.version.clone(),
            slot: target.bootname.clone(),
            slot_name: target.name.clone(),
            from_version: running.to_string(),
            token,
        });
        self.save(&record);
        tracing::info!(version = %m.version, slot = %target.bootname, "updates: installed; restarting at a quiet time");
        self.set(|v| {
            v.available = None;
            v.phase = Phase::Waiting { version }
        });
        // The install is on record first; then the bundle goes on to the stations that
        // follow this one (reading it whole for its torrent takes a while).
        self.share.keep(&bundle, offer.signed.clone(), m).await;
        true
    }

    /// Waits for a quiet time, then asks the system to restart.
    async fn restart_when_quiet(&self, operator: bool, shutdown: &CancellationToken) {
        loop {
            if self.quiet(operator, SystemTime::now()) {
                break;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        let version = match &self.view.borrow().phase {
            Phase::Waiting { version } => version.clone(),
            _ => return,
        };
        tracing::info!(%version, "updates: restarting into the new version");
        if let Err(e) = std::fs::write(&self.config.reboot_file, b"update\n") {
            tracing::error!(
                "updates: cannot ask for a restart ({}): {e}",
                self.config.reboot_file.display()
            );
            return;
        }
        self.set(|v| v.phase = Phase::Restarting { version });
    }

    /// No studio PC connected, and unless the operator chose the moment, no live show in the
    /// schedule now or within [`SHOW_MARGIN`].
    fn quiet(&self, operator: bool, now: SystemTime) -> bool {
        is_quiet(
            self.live.ingest().is_connected(),
            operator,
            &self.station.schedule(),
            now,
        )
    }

    /// Until `/api/health` answers and the stream, when there is one, is on air.
    async fn wait_healthy(&self, health: &str) {
        loop {
            let web = match Origin::operator(health) {
                Ok(o) => {
                    matches!(self.outbound.get(&o, "", None, 64 * 1024).await, Ok(f) if f.status == 200)
                }
                Err(_) => false,
            };
            let air = !self.live.is_on() || matches!(self.live.status().state, LiveState::OnAir);
            if web && air {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn token_file(&self) -> PathBuf {
        self.config.reboot_file.with_file_name("update-installed")
    }
}

/// Whether `now` is a quiet time to restart: no studio PC connected, and unless the operator
/// chose the moment, no live show of `schedule` now or within [`SHOW_MARGIN`] (looked at
/// every 5 minutes, the schedule's finest step).
fn is_quiet(connected: bool, operator: bool, schedule: &[Show], now: SystemTime) -> bool {
    if connected {
        return false;
    }
    operator
        || (0..=SHOW_MARGIN.as_secs() / 60).step_by(5).all(|m| {
            let at = now + Duration::from_secs(m * 60);
            Show::at_time(schedule, at).is_none_or(|s| s.kind != ShowKind::Live)
        })
}

/// RAUC's refusal, sorted for the operator's words.
fn classify(e: rauc::RaucError) -> Problem {
    let detail = e.to_string();
    let lower = detail.to_ascii_lowercase();
    if lower.contains("compatible") {
        let compatible = detail
            .rsplit("has '")
            .next()
            .and_then(|r| r.split('\'').next())
            .filter(|c| c.len() < detail.len())
            .unwrap_or_default()
            .to_string();
        Problem::OtherBox { compatible }
    } else if lower.contains("signature")
        || lower.contains("verif")
        || lower.contains("certificate")
    {
        Problem::NotSigned { detail }
    } else {
        Problem::Install { detail }
    }
}

/// The first line of a small text file.
fn read_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().next()?.trim();
    (!line.is_empty()).then(|| line.chars().take(200).collect())
}

/// The boot deadline's note about `slot` (`slot=A`, `reason=...` lines), if it wrote one.
fn boot_failure(path: &Path, slot: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
    };
    (field("slot")? == slot).then(|| field("reason").unwrap_or("").chars().take(400).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rauc_s_refusals_are_sorted_for_the_operator() {
        let e = rauc::RaucError::Said(
            "Failed to check bundle identifier: Compatible mismatch: Expected 'streamp2p-amd64' but bundle manifest has 'other-board'".into(),
        );
        assert_eq!(
            classify(e),
            Problem::OtherBox {
                compatible: "other-board".into()
            }
        );
        let e = rauc::RaucError::Said(
            "signature verification failed: Verify error:self-signed certificate".into(),
        );
        assert!(matches!(classify(e), Problem::NotSigned { .. }));
        let e = rauc::RaucError::Said("Failed writing slot: No space".into());
        assert!(matches!(classify(e), Problem::Install { .. }));
    }

    #[test]
    fn a_restart_waits_for_the_studio_and_the_live_shows() {
        use chrono::{Datelike, Local, TimeZone, Timelike};
        // Monday 10:00 (the box's local time), a live show at 10:10 and a playlist at 12:00.
        let monday = Local
            .with_ymd_and_hms(2026, 11, 30, 10, 0, 0)
            .single()
            .expect("a plain local time");
        assert_eq!(monday.weekday().num_days_from_monday(), 0);
        assert_eq!(monday.hour(), 10);
        let now = SystemTime::from(monday);
        let show = |start: &str, end: &str, kind| Show {
            kind,
            ..Show::parse("0", start, end, "show").unwrap()
        };
        let live = [show("10:10", "11:00", ShowKind::Live)];
        let playlist = [show("10:00", "13:00", ShowKind::Playlist)];
        assert!(is_quiet(false, false, &[], now));
        assert!(!is_quiet(true, false, &[], now), "a studio PC is on air");
        assert!(
            !is_quiet(true, true, &[], now),
            "not even when the operator asks"
        );
        assert!(
            !is_quiet(false, false, &live, now),
            "a live show starts in 10 minutes"
        );
        assert!(
            is_quiet(false, true, &live, now),
            "the operator chose the moment"
        );
        assert!(
            is_quiet(false, false, &playlist, now),
            "music from the library only"
        );
        let later = SystemTime::from(monday + chrono::Duration::minutes(65));
        assert!(is_quiet(false, false, &live, later), "the show has ended");
    }

    #[test]
    fn the_boot_deadline_s_note_is_read_for_its_slot_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("last-failure");
        std::fs::write(
            &f,
            "slot=A\ntime=1764860000\nreason=the node's service is failed (exit-code)\n",
        )
        .unwrap();
        assert_eq!(
            boot_failure(&f, "A").as_deref(),
            Some("the node's service is failed (exit-code)")
        );
        assert_eq!(boot_failure(&f, "B"), None);
        assert_eq!(boot_failure(&dir.path().join("none"), "A"), None);
    }
}
