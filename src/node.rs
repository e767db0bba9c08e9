//! Builds the node's services from the settings, runs them, and shuts them down cleanly.
//!
//! Order matters: the database opens and every port is bound before anything runs, so a
//! bad setting fails at once (exit 2); the library publishes its first catalog before the
//! swarm starts, so torrents persisted by the last run find their files.

use std::{
    io::ErrorKind,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use rand::Rng;
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

use crate::{
    config::{AudioSource, ConfigError, Settings},
    library::Library,
    live::{
        hls::Hls,
        recorder::{self, Recorder},
        Live,
    },
    store::{Store, StoreError},
    swarm::{Swarm, SwarmError},
    system,
    tracker::{
        udp::{self, UdpTracker},
        ws::Hub,
        NodePeer, Tracker,
    },
    web::{self, AppState},
    webtorrent::WebTorrent,
};

/// How long a first scan of the library may take before the node serves anyway.
const FIRST_SCAN_WAIT: Duration = Duration::from_secs(30);
/// How long tasks get to finish after shutdown is asked.
const DRAIN: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Swarm(#[from] SwarmError),
    #[error("web server failed: {0}")]
    Web(std::io::Error),
}

/// Binds `addr` for the web server, turning the usual failures into config errors.
async fn bind_http(settings: &Settings) -> Result<TcpListener, ConfigError> {
    TcpListener::bind(settings.http).await.map_err(|e| {
        let addr = settings.http;
        match e.kind() {
            ErrorKind::AddrInUse => ConfigError::new(
                "http",
                format!("{addr} is already in use"),
                "stop the program using it or choose another address with --http",
            ),
            ErrorKind::PermissionDenied => ConfigError::new(
                "http",
                format!("no permission to listen on {addr}"),
                "run as a service with CAP_NET_BIND_SERVICE, or use a port above 1023",
            ),
            _ => ConfigError::new(
                "http",
                format!("cannot listen on {addr}: {e}"),
                "use an address of this machine, such as 0.0.0.0:80",
            ),
        }
    })
}

/// librqbit binds its own listener; check first that the port is free, so a clash is
/// reported as a config error rather than deep inside the session start.
fn check_peer_port(port: u16) -> Result<(), ConfigError> {
    match std::net::TcpListener::bind(("0.0.0.0", port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AddrInUse => Err(ConfigError::new(
            "peer_port",
            format!("port {port} is already in use"),
            "stop the other BitTorrent program or choose another --peer-port",
        )),
        Err(e) => Err(ConfigError::new(
            "peer_port",
            format!("cannot listen on port {port}: {e}"),
            "choose another --peer-port",
        )),
    }
}

/// A peer id in the Azureus style: `-SP0100-` then random bytes.
fn new_peer_id() -> [u8; 20] {
    let mut id = *b"-SP0100-000000000000";
    let mut rng = rand::thread_rng();
    for b in &mut id[8..] {
        *b = rng.sample(rand::distributions::Alphanumeric);
    }
    id
}

pub async fn run(settings: Settings, shutdown: CancellationToken) -> Result<(), NodeError> {
    let started = Instant::now();
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
        ConfigError::new(
            "data_dir",
            format!("cannot create {}: {e}", settings.data_dir.display()),
            "give a writable folder with --data-dir",
        )
    })?;
    let store = Store::open(&settings.data_dir)?;
    let listener = bind_http(&settings).await?;
    let udp_socket = udp::bind(settings.udp_tracker).await?;
    if settings.swarm.enabled {
        check_peer_port(settings.peer_port)?;
    }
    let settings = Arc::new(settings);
    let mut tasks = JoinSet::new();

    // Recordings land under the data dir, which is then a library root like the USB ones.
    let recording = settings.audio != AudioSource::None && settings.live.record;
    let mut roots = settings.library.clone();
    if recording {
        let dir = recorder::dir(&settings.data_dir);
        std::fs::create_dir_all(&dir).map_err(|e| {
            ConfigError::new(
                "data_dir",
                format!("cannot create {}: {e}", dir.display()),
                "give a writable folder with --data-dir",
            )
        })?;
        roots.push(dir);
    }
    let library = Library::new(store, roots, Duration::from_secs(settings.scan.rescan_secs));
    let mut first = library.subscribe();
    tasks.spawn({
        let (library, shutdown) = (library.clone(), shutdown.clone());
        async move {
            if let Err(e) = library.run(shutdown.clone()).await {
                tracing::error!("library stopped: {e}");
                shutdown.cancel();
            }
        }
    });
    if tokio::time::timeout(FIRST_SCAN_WAIT, first.changed())
        .await
        .is_err()
    {
        tracing::warn!("first library scan is slow; serving before it ends");
    }

    let peer_id = new_peer_id();
    let node_peer = settings.swarm.enabled.then_some(NodePeer {
        peer_id,
        port: settings.peer_port,
    });
    let tracker = Arc::new(Tracker::new(
        settings.tracker.clone(),
        library.clone(),
        node_peer,
    ));
    tasks.spawn(tracker.clone().run_sweeper(shutdown.clone()));
    tasks.spawn(UdpTracker::new(udp_socket, tracker.clone()).run(shutdown.clone()));

    // The web server starts before the swarm: restoring a large library's torrents takes
    // a while, and the pages, the web seed and the tracker need none of it.
    let live = Live::start(&settings, shutdown.clone());
    if recording {
        let rec = Recorder::new(
            recorder::dir(&settings.data_dir),
            settings.station.name.clone(),
            Duration::from_secs(settings.live.record_split_secs),
        );
        tasks.spawn(rec.run(live.clone(), shutdown.clone()));
    }
    let hls = Arc::new(Hls::default());
    if live.is_on() {
        tasks.spawn(hls.clone().run(live.clone(), shutdown.clone()));
    }
    let swarm_slot = Arc::new(OnceLock::new());
    // The WebTorrent peer reaches the node's own tracker at the address the web server got.
    let http_addr = listener.local_addr().unwrap_or(settings.http);
    let webtorrent = settings
        .webtorrent
        .enabled
        .then(|| WebTorrent::new(settings.webtorrent.clone(), library.clone(), http_addr));
    let state = AppState {
        settings: settings.clone(),
        library: library.clone(),
        swarm: swarm_slot.clone(),
        tracker,
        ws_hub: Hub::new(settings.tracker.max_ws_connections),
        live: live.clone(),
        hls: hls.clone(),
        webtorrent: webtorrent.clone(),
        started,
    };
    let web = tokio::spawn(web::serve(listener, state, shutdown.clone()));
    // The listener is bound and the server task spawned: connections from now on are
    // answered (they wait in the backlog until the task first runs).
    system::ready();
    tasks.spawn(system::run_watchdog(shutdown.clone()));
    if let Some(wt) = webtorrent {
        tasks.spawn(wt.run(http_addr, shutdown.clone()));
    }
    tracing::info!(
        http = %settings.http,
        udp_tracker = %settings.udp_tracker,
        library = ?settings.library,
        "serving"
    );

    let mut failed = None;
    if settings.swarm.enabled {
        match Swarm::start(&settings, library, peer_id).await {
            Ok(s) => {
                let s = Arc::new(s);
                let _ = swarm_slot.set(s.clone());
                tasks.spawn(s.run(shutdown.clone()));
                tracing::info!(
                    peer_port = settings.peer_port,
                    ready_ms = started.elapsed().as_millis() as u64,
                    "seeding"
                );
            }
            Err(e) => {
                failed = Some(e);
                shutdown.cancel();
            }
        }
    }

    // The web server stops on shutdown; if it fails by itself, everything else stops too.
    let served = web.await;
    system::stopping();
    shutdown.cancel();
    if tokio::time::timeout(DRAIN, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::warn!("some tasks did not stop in time");
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    match served {
        Ok(r) => r.map_err(NodeError::Web),
        Err(e) => Err(NodeError::Web(std::io::Error::other(e))),
    }
}
