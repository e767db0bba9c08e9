//! One snapshot of how the node is doing, read by every front end that shows it
//! (`/api/health`, `/metrics`, the config page) and by the listener history. One place
//! decides what a listener is:
//!
//! - **progressive**: a client of `/live.ogg`, `/live.mp3` or a relayed station's
//!   `/relay/<key>/live.ogg`, while its response streams;
//! - **HLS**: a player that fetched a live playlist or segment within about three target
//!   durations (`live::sessions`), told apart by the token its master playlist gave it, or
//!   a browser in the live segments' swarms;
//! - **sharing**: browsers in the live segments' swarms on the node's WebSocket tracker.
//!   They play HLS too, so they are a part of the HLS listeners, never added to the total.
//!   Most of them ask the station for a playlist only every 30 s (`live::seeding`), so the
//!   swarms count them; the sharing pages that asked lately are in both counts, once.
//!
//! The snapshot reads the state side only; it is cheap enough to take per request.

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{
    federation::Federation,
    library::{Hashing, Library},
    live::{
        hls::{Hls, Served},
        p2p,
        retention::{Recordings, Report},
        Live, LiveStatus,
    },
    station::{Sample, Station},
    store::unix_secs,
    swarm::{Swarm, SwarmStats},
    system::{
        portmap::PortMapStatus,
        process::{self, Usage},
        uplink::Meter,
    },
    tls::{TlsStatus, TlsWatch},
    tracker::{Tracker, TrackerStats},
    webtorrent::{WebTorrent, WebTorrentStats},
};

/// How often the listener history takes a sample.
const SAMPLE_EVERY: Duration = Duration::from_secs(60);

/// The services a snapshot reads.
#[derive(Clone)]
pub struct Sources {
    pub station: Arc<Station>,
    pub library: Arc<Library>,
    /// Set once the BitTorrent session has started (after the web server, see `node`).
    pub swarm: Arc<OnceLock<Arc<Swarm>>>,
    pub tracker: Arc<Tracker>,
    pub live: Arc<Live>,
    pub recordings: Arc<Recordings>,
    pub hls: Arc<Hls>,
    /// The node's WebRTC peer; `None` when `webtorrent.enabled` is off.
    pub webtorrent: Option<Arc<WebTorrent>>,
    pub federation: Arc<Federation>,
    /// The ports on the home router; `None` when port mapping is off.
    pub port_mapping: Option<tokio::sync::watch::Receiver<PortMapStatus>>,
    /// The https side; `None` when https is off.
    pub tls: Option<TlsWatch>,
    pub uplink: Arc<Meter>,
    pub started: Instant,
}

/// Listeners now, by way of listening.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Listeners {
    /// Everyone: progressive plus HLS.
    pub total: usize,
    pub ogg: usize,
    pub mp3: usize,
    /// Listeners of followed stations relayed by this node.
    pub relays: usize,
    pub hls: usize,
    /// HLS listeners' browsers in the live swarms (a part of `hls`).
    pub sharing: usize,
}

impl Listeners {
    pub fn progressive(&self) -> usize {
        self.ogg + self.mp3 + self.relays
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LibraryStatus {
    pub items: usize,
    pub hashed_since_start: u64,
    pub hashing: Hashing,
    pub problems: usize,
}

/// The recorder and the free-space keeper.
#[derive(Debug, Clone, Serialize)]
pub struct RecordingsStatus {
    /// The recorder waits for room on a full disk.
    pub paused: bool,
    #[serde(flatten)]
    pub space: Report,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub uptime_secs: u64,
    pub live: LiveStatus,
    pub recordings: RecordingsStatus,
    pub hls_segments_served: Served,
    pub hls_bytes_served: Served,
    pub listeners: Listeners,
    pub library: LibraryStatus,
    pub swarm_enabled: bool,
    /// None until the BitTorrent session has started (or when it is off).
    pub swarm: Option<SwarmStats>,
    /// None when the WebRTC peer is off.
    pub webtorrent: Option<WebTorrentStats>,
    pub tracker: TrackerStats,
    /// None where /proc cannot be read.
    pub process: Option<Usage>,
    /// None when port mapping is off.
    pub port_mapping: Option<PortMapStatus>,
    /// The certificate and its last problem; None when https is off.
    pub https: Option<TlsStatus>,
    pub uplink: UplinkStatus,
}

/// What the box sends (`system::uplink`), bytes a second.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct UplinkStatus {
    /// Over the last few seconds.
    pub now: u64,
    /// Steadily now: the median of the last minute's rates (what the room for more
    /// listeners is reckoned from).
    pub steady: u64,
    /// The fastest in this minute, not yet in the listener history.
    pub minute_peak: u64,
}

impl Sources {
    pub fn listeners(&self, now: Instant) -> Listeners {
        let (ogg, mp3) = self.live.listeners();
        let relays = self.federation.relay_listeners();
        let sessions = self.hls.sessions.count(now);
        let sharing = self.sharing(now);
        let hls = sessions.all - sessions.sharing + sessions.sharing.max(sharing);
        Listeners {
            total: ogg + mp3 + relays + hls,
            ogg,
            mp3,
            relays,
            hls,
            sharing: sharing.min(hls),
        }
    }

    /// Browsers in the live segments' swarms (see the module's definitions).
    pub fn sharing(&self, now: Instant) -> usize {
        if !self.live.is_on() {
            return 0;
        }
        let bitrate = self.station.settings().live.bitrate_kbps;
        p2p::infohashes(bitrate)
            .iter()
            .map(|ih| self.tracker.table().ws_peers(ih, now))
            .sum()
    }

    pub fn status(&self) -> NodeStatus {
        let lib = &self.library;
        NodeStatus {
            uptime_secs: self.started.elapsed().as_secs(),
            live: self.live.status(),
            recordings: RecordingsStatus {
                paused: self.recordings.paused(),
                space: self.recordings.report(),
            },
            hls_segments_served: self.hls.served(),
            hls_bytes_served: self.hls.served_bytes(),
            listeners: self.listeners(Instant::now()),
            library: LibraryStatus {
                items: lib.catalog().items.len(),
                hashed_since_start: lib.hashed_since_start(),
                hashing: lib.hashing(),
                problems: lib.problems().len(),
            },
            swarm_enabled: self.station.settings().swarm.enabled,
            swarm: self.swarm.get().map(|s| s.stats()),
            webtorrent: self.webtorrent.as_ref().map(|w| w.stats()),
            tracker: self.tracker.stats(),
            process: process::usage(),
            port_mapping: self.port_mapping.as_ref().map(|s| s.borrow().clone()),
            https: self.tls.as_ref().map(|t| t.borrow().clone()),
            uplink: UplinkStatus {
                now: self.uplink.now_rate(),
                steady: self.uplink.steady_rate(),
                minute_peak: self.uplink.peak_rate(),
            },
        }
    }

    /// Records a history sample every minute until `shutdown`.
    pub async fn run_history(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let st = self.status();
            let sample = Sample {
                t: unix_secs(),
                listeners: st.listeners.total as u64,
                // Everything the box sent (BitTorrent, HTTP, WebRTC), at its fastest in
                // the minute: the uplink's capacity is read back from these.
                upload_bps: self.uplink.take_peak(),
            };
            let station = self.station.clone();
            match tokio::task::spawn_blocking(move || station.record_sample(&sample)).await {
                Ok(Err(e)) => tracing::warn!("history sample: {e}"),
                Err(e) => tracing::warn!("history sample: {e}"),
                Ok(Ok(())) => {}
            }
        }
    }
}
