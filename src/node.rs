//! Builds the node's services from the settings, runs them, and shuts them down cleanly.
//!
//! Order matters: the database opens and every port is bound before anything runs, so a
//! bad setting fails at once (exit 2); the library publishes its first catalog before the
//! swarm starts, so torrents persisted by the last run find their files.

use std::{
    io::ErrorKind,
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use rand::Rng;
use tokio::{net::TcpListener, sync::watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    config::{AudioSource, Config, ConfigError, Settings, WebTorrentConfig},
    federation::{self, Federation, FederationError},
    library::Library,
    live::{
        hls::Hls,
        p2p, playlog,
        recorder::{self, Recorder},
        retention, Live,
    },
    outbound::Outbound,
    station::{uploads, Station},
    store::{Store, StoreError},
    stun::{self, StunServer},
    swarm::{Extras, Swarm, SwarmError},
    system::{
        self,
        portmap::{Mapping, PortMapStatus, PortMapper, Protocol, Purpose},
        uplink::Meter,
        TaskPanicked, Tasks,
    },
    tls::Tls,
    tracker::{
        udp::{self, UdpTracker},
        ws::Hub,
        NodePeer, Tracker,
    },
    update::Updater,
    web::{self, AppState},
    webtorrent::WebTorrent,
};

/// How long a first scan of the library may take before the node serves anyway.
const FIRST_SCAN_WAIT: Duration = Duration::from_secs(30);
/// How long after a save the services restart: the page's answer goes out first (the
/// restart closes its connection too).
const RESTART_DELAY: Duration = Duration::from_millis(500);
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
    #[error("federation: {0}")]
    Federation(#[from] FederationError),
    /// A bug: the node stops rather than run on with a half-done task (see `system::tasks`).
    #[error(transparent)]
    TaskPanicked(#[from] TaskPanicked),
}

/// Binds `addr` for the web server (`key` is `http` or `https`, the setting and the flag),
/// turning the usual failures into config errors.
fn bind_web(key: &str, addr: SocketAddr) -> Result<TcpListener, ConfigError> {
    web::listen(addr).map_err(|e| match e.kind() {
        ErrorKind::AddrInUse => ConfigError::new(
            key,
            format!("{addr} is already in use"),
            format!("stop the program using it or choose another address with --{key}"),
        ),
        ErrorKind::PermissionDenied => ConfigError::new(
            key,
            format!("no permission to listen on {addr}"),
            "run as a service with CAP_NET_BIND_SERVICE, or use a port above 1023",
        ),
        _ => ConfigError::new(
            key,
            format!("cannot listen on {addr}: {e}"),
            "use an address of this machine, such as 0.0.0.0:80 (http) or 0.0.0.0:443 (https)",
        ),
    })
}

/// The https listener and its certificate side, when https is on.
fn https(settings: &Settings) -> Result<Option<(TcpListener, Tls)>, ConfigError> {
    let Some((addr, certificate)) = &settings.https else {
        return Ok(None);
    };
    let listener = bind_web("https", *addr)?;
    let tls = Tls::new(certificate, &settings.data_dir).map_err(|e| {
        ConfigError::new(
            "tls",
            e.to_string(),
            "give a PEM certificate chain and its key (tls.cert_file, tls.key_file), or a PEM \
             root in tls.acme_ca_file",
        )
    })?;
    Ok(Some((listener, tls)))
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

/// Creates a folder the node writes in (the data dir and the library roots under it).
fn make_dir(dir: &std::path::Path) -> Result<(), ConfigError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        ConfigError::new(
            "data_dir",
            format!("cannot create {}: {e}", dir.display()),
            "give a writable folder with --data-dir",
        )
    })
}

/// Waits `DRAIN` for the web server's graceful shutdown, then cuts what is still open.
async fn drain_web(
    web: &mut tokio::task::JoinHandle<std::io::Result<()>>,
) -> Result<std::io::Result<()>, tokio::task::JoinError> {
    match tokio::time::timeout(DRAIN, &mut *web).await {
        Ok(served) => served,
        Err(_) => {
            tracing::warn!("open connections did not close in time; cutting them");
            web.abort();
            Ok(Ok(()))
        }
    }
}

/// The node's own `/api/health`, as the updater asks it once the node serves.
fn health_url(http: SocketAddr) -> String {
    let ip = match http.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}/api/health", SocketAddr::new(ip, http.port()))
}

/// How a run of the node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Asked to stop (a signal).
    Stopped,
    /// The operator saved settings that the services take only when they start: the
    /// caller starts the node again (see `main`).
    Restart,
}

/// The WebRTC peer's settings, with the box's own STUN server as its ICE server when none
/// is configured and the box has a public address (its `public_url`): on the LAN host
/// candidates are enough, and asking our own socket at a LAN address would tell nothing.
fn webtorrent_config(settings: &Settings) -> WebTorrentConfig {
    let mut cfg = settings.webtorrent.clone();
    let public_host = settings.public_url.as_deref().and_then(web::base_host);
    cfg.stun = stun::ice_urls(&cfg.stun, settings.stun, public_host);
    cfg
}

/// Runs the node on `base` (the config file and command line) with the operator's saved
/// choices laid over it, until `shutdown` or a restart asked by the config page.
pub async fn run(base: Config, shutdown: CancellationToken) -> Result<Exit, NodeError> {
    let started = Instant::now();
    make_dir(&base.data_dir)?;
    let store = Store::open(&base.data_dir)?;
    // The station first: every service below reads its settings.
    let station = Station::open(store, base)?;
    let settings = station.settings();
    // The services stop on this; a save on the config page cancels it alone to restart them.
    let services = shutdown.child_token();
    let outer = shutdown;
    let shutdown = services;
    let listener = bind_web("http", settings.http)?;
    let https = https(&settings)?;
    let udp_socket = udp::bind(settings.udp_tracker).await?;
    let stun_socket = match settings.stun {
        Some(addr) => Some(stun::bind(addr).await?),
        None => None,
    };
    if settings.swarm.enabled {
        check_peer_port(settings.peer_port)?;
    }
    // Once the settings and ports are known good (a config error stays the only line), and
    // before the services open their files: the web server sizes its connection cap by it.
    match system::limits::raise_open_files() {
        Ok(n) if n.was < n.now => {
            tracing::info!("open files limit raised from {} to {}", n.was, n.now)
        }
        Ok(n) => tracing::info!("open files limit {}", n.now),
        Err(e) => tracing::warn!("cannot raise the open files limit: {e}"),
    }
    let mut tasks = Tasks::new();
    tasks.spawn(
        "restart_on_save",
        restart_when_asked(station.clone(), shutdown.clone()),
    );

    // Recordings and uploads land under the data dir, which holds library roots like the
    // USB ones.
    let recording = settings.audio != AudioSource::None && settings.live.record;
    let mut roots = settings.library.clone();
    // The USB sticks' folder is always shared, whether or not it is listed (it need not
    // exist yet: then no stick was ever plugged in).
    if !roots.contains(&settings.usb_root) {
        roots.push(settings.usb_root.clone());
    }
    let uploads = uploads::uploads_dir(&settings.data_dir);
    make_dir(&uploads)?;
    roots.push(uploads);
    if recording {
        let dir = recorder::dir(&settings.data_dir);
        make_dir(&dir)?;
        roots.push(dir);
    }
    // Followed stations' episodes, one folder per origin.
    let mirrors = federation::mirror::mirrors_dir(&settings.data_dir);
    make_dir(&mirrors)?;
    roots.push(mirrors);
    let library = Library::new(
        station.store().clone(),
        roots,
        Duration::from_secs(settings.scan.rescan_secs),
    );
    // The sticks the operator stopped sharing stay unshared across restarts.
    library.pause(station.usb_paused());
    let mut first = library.subscribe();
    tasks.spawn("library", {
        let (library, shutdown) = (library.clone(), shutdown.clone());
        async move {
            let ended = library.run(shutdown.clone()).await;
            if ended.is_err() {
                shutdown.cancel();
            }
            ended
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
    tasks.spawn(
        "tracker_sweeper",
        tracker.clone().run_sweeper(shutdown.clone()),
    );
    tasks.spawn(
        "udp_tracker",
        UdpTracker::new(udp_socket, tracker.clone()).run(shutdown.clone()),
    );
    if let Some(socket) = stun_socket {
        tasks.spawn("stun", StunServer::new(socket).run(shutdown.clone()));
    }

    // The web server starts before the swarm: restoring a large library's torrents takes
    // a while, and the pages, the web seed and the tracker need none of it.
    let live = Live::start(station.clone(), library.subscribe(), shutdown.clone());
    if live.is_on() {
        tasks.spawn("capture", live.clone().join_capture());
    }
    for push in live.push_tasks(&shutdown) {
        tasks.spawn("push", push);
    }
    let recordings = Arc::new(retention::Recordings::default());
    if recording {
        let rec = Recorder::new(
            recorder::dir(&settings.data_dir),
            station.clone(),
            Duration::from_secs(settings.live.record_split_secs),
            settings.recording.format,
            recordings.clone(),
        );
        tasks.spawn("recorder", rec.run(live.clone(), shutdown.clone()));
        let keeper = retention::Keeper {
            recordings_dir: recorder::dir(&settings.data_dir),
            data_dir: settings.data_dir.clone(),
            keep_free_mb: settings.recording.keep_free_mb,
            rate: settings.live.bytes_per_sec(),
            station: station.clone(),
            library: library.clone(),
            state: recordings.clone(),
        };
        tasks.spawn("recordings_keeper", keeper.run(shutdown.clone()));
    }
    let hls = Arc::new(Hls::default());
    if live.is_on() {
        // Listen pages share the live segments in these swarms, signalled by our tracker.
        tracker.admit_swarms(p2p::infohashes(settings.live.bitrate_kbps));
        tasks.spawn("hls", hls.clone().run(live.clone(), shutdown.clone()));
    }
    let swarm_slot = Arc::new(OnceLock::new());
    // The WebTorrent peer reaches the node's own tracker at the address the web server got.
    let http_addr = listener.local_addr().unwrap_or(settings.http);
    let webtorrent = settings
        .webtorrent
        .enabled
        .then(|| WebTorrent::new(webtorrent_config(&settings), library.clone(), http_addr));
    let port_mapping = start_port_mapping(&settings, &mut tasks, &shutdown);
    let federation = Federation::new(station.clone(), library.clone())?;
    let updates = Updater::new(
        settings.update.clone(),
        &settings.data_dir,
        station.clone(),
        live.clone(),
        Outbound::new(settings.federation.allow_private_addresses)
            .map_err(FederationError::from)?,
        federation.downloader(),
    );
    tasks.spawn(
        "updates",
        updates.clone().run(health_url(http_addr), shutdown.clone()),
    );
    // The system update this box shares: seeded beside the library, tracked with the node.
    let (extras, seeded) = watch::channel(Extras::default());
    tasks.spawn(
        "update_share",
        updates.share().run(
            settings.update.keyring.clone(),
            extras,
            tracker.clone(),
            shutdown.clone(),
        ),
    );
    tasks.spawn(
        "federation",
        federation.clone().run(tracker.clone(), shutdown.clone()),
    );
    let uplink = Arc::new(Meter::new(
        "/sys/class/net",
        settings.swarm.uplink_interfaces.clone(),
    ));
    let state = AppState {
        station: station.clone(),
        library: library.clone(),
        swarm: swarm_slot.clone(),
        tracker: tracker.clone(),
        ws_hub: Hub::new(settings.tracker.max_ws_connections),
        live: live.clone(),
        recordings,
        hls: hls.clone(),
        webtorrent: webtorrent.clone(),
        federation,
        claim_gate: web::claim_gate(),
        port_mapping,
        tls: https.as_ref().map(|(_, tls)| tls.status()),
        updates,
        uplink: uplink.clone(),
        started,
    };
    tasks.spawn("uplink", uplink.run(shutdown.clone()));
    tasks.spawn("history", state.sources().run_history(shutdown.clone()));
    if live.is_on() {
        let sources = state.sources();
        let listeners = move || sources.listeners(std::time::Instant::now()).total as u64;
        tasks.spawn(
            "plays",
            playlog::run(live.clone(), station.clone(), listeners, shutdown.clone()),
        );
    }
    tasks.spawn(
        "uploads",
        adopt_uploads(station.clone(), library.clone(), shutdown.clone()),
    );
    let https = https.map(|(listener, tls)| {
        let config = tls.server_config();
        tasks.spawn("certificate", tls.run(shutdown.clone()));
        (listener, config)
    });
    // Not one of `tasks`: its result is the node's, and it gets its own drain below.
    let web = tokio::spawn(
        web::serve(listener, https, state, shutdown.clone())
            .instrument(tracing::info_span!("task", name = "web")),
    );
    // The listener is bound and the server task spawned: connections from now on are
    // answered (they wait in the backlog until the task first runs).
    system::ready();
    tasks.spawn("watchdog", system::run_watchdog(shutdown.clone()));
    if let Some(wt) = webtorrent {
        tasks.spawn("webtorrent", wt.run(http_addr, shutdown.clone()));
    }
    tracing::info!(
        http = %settings.http,
        https = ?settings.https.as_ref().map(|(a, _)| a),
        udp_tracker = %settings.udp_tracker,
        stun = ?settings.stun,
        library = ?settings.library,
        "serving"
    );

    let mut failed = None;
    if settings.swarm.enabled {
        match Swarm::start(&settings, library, seeded, peer_id).await {
            Ok(s) => {
                let s = Arc::new(s);
                let _ = swarm_slot.set(s.clone());
                tasks.spawn("swarm", s.run(shutdown.clone()));
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

    // The web server stops on shutdown; if it fails by itself, everything else stops too,
    // and so it does when a task panics. Open streams (live listeners, level meters) hold
    // a graceful shutdown open: they get `DRAIN`, then are cut.
    let mut web = web;
    let mut panicked = None;
    let served = tokio::select! {
        r = &mut web => r,
        p = tasks.first_panic() => {
            panicked = Some(p);
            shutdown.cancel();
            drain_web(&mut web).await
        }
        _ = shutdown.cancelled() => drain_web(&mut web).await,
    };
    // Only a stop asked from outside is a stop for systemd: after a restart for new
    // settings (the config page) this process goes on serving.
    if outer.is_cancelled() {
        system::stopping();
    }
    shutdown.cancel();
    let panicked = panicked.or(tasks.stop(DRAIN).await);
    if let Some(p) = panicked {
        return Err(p.into());
    }
    if let Some(e) = failed {
        return Err(e.into());
    }
    match served {
        Ok(r) => r.map_err(NodeError::Web)?,
        Err(e) => return Err(NodeError::Web(std::io::Error::other(e))),
    }
    Ok(if outer.is_cancelled() {
        Exit::Stopped
    } else {
        Exit::Restart
    })
}

/// Every port the node listens on that the internet should reach, for the router. A
/// listener on loopback only is not meant to be reached from anywhere and is left out.
pub fn port_mappings(settings: &Settings) -> Vec<Mapping> {
    let mut list = Vec::new();
    let mut add = |protocol, port: u16, what| {
        list.push(Mapping {
            protocol,
            internal_port: port,
            external_port: port,
            what,
        })
    };
    if settings.swarm.enabled {
        add(Protocol::Tcp, settings.peer_port, Purpose::Peers);
        if settings.swarm.utp {
            add(Protocol::Udp, settings.peer_port, Purpose::Peers);
        }
    }
    if !settings.udp_tracker.ip().is_loopback() {
        add(
            Protocol::Udp,
            settings.udp_tracker.port(),
            Purpose::UdpTracker,
        );
    }
    if !settings.http.ip().is_loopback() {
        add(Protocol::Tcp, settings.http.port(), Purpose::Web);
    }
    if let Some((https, _)) = settings
        .https
        .as_ref()
        .filter(|(a, _)| !a.ip().is_loopback())
    {
        add(Protocol::Tcp, https.port(), Purpose::Https);
    }
    // Browsers on the internet learn their own public address from the box's STUN.
    if let Some(stun) = settings.stun.filter(|a| !a.ip().is_loopback()) {
        add(Protocol::Udp, stun.port(), Purpose::Stun);
    }
    list
}

/// Starts keeping the node's ports open on the router (`swarm.port_mapping`); the status
/// channel, `None` when off or when no port needs it.
fn start_port_mapping(
    settings: &Settings,
    tasks: &mut Tasks,
    shutdown: &CancellationToken,
) -> Option<tokio::sync::watch::Receiver<PortMapStatus>> {
    let mappings = port_mappings(settings);
    if !settings.swarm.port_mapping || mappings.is_empty() {
        return None;
    }
    let lease = Duration::from_secs(settings.swarm.port_mapping_lease_secs.into());
    let (mapper, status) = PortMapper::new(mappings, lease);
    tasks.spawn("port_mapping", mapper.run(shutdown.clone()));
    Some(status)
}

/// Restarts the services when the station asks (settings they take only at start were
/// saved), a moment later so the config page's answer goes out first.
async fn restart_when_asked(station: Arc<Station>, services: CancellationToken) {
    tokio::select! {
        _ = services.cancelled() => {}
        _ = station.restart_wanted() => {
            tokio::time::sleep(RESTART_DELAY).await;
            tracing::info!("restarting the services with the new settings");
            services.cancel();
        }
    }
}

/// Gives finished uploads their title and notes once the library has hashed them: on
/// every library change until `shutdown`.
async fn adopt_uploads(station: Arc<Station>, library: Arc<Library>, shutdown: CancellationToken) {
    let mut changes = library.subscribe();
    loop {
        {
            let catalog = library.catalog();
            let by_path = catalog
                .items
                .values()
                .map(|i| (i.path(), i.infohash.as_str()))
                .collect();
            station.adopt_uploads(&by_path);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = changes.changed() => if r.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> Settings {
        Config::from_toml(toml).unwrap().validate().unwrap()
    }

    #[test]
    fn webrtc_peer_uses_the_box_stun_at_its_public_name_only() {
        // On the LAN (no public address): host candidates, no STUN.
        assert!(webtorrent_config(&settings("")).stun.is_empty());
        assert_eq!(
            webtorrent_config(&settings(
                "public_url = \"https://radio.example.org:8443/\""
            ))
            .stun,
            ["stun:radio.example.org:3478"]
        );
        // Servers the operator set win; with the box's STUN off there is none.
        assert_eq!(
            webtorrent_config(&settings(
                "public_url = \"http://radio.example.org\"\n[webtorrent]\nstun = [\"stun:s.example:1\"]"
            ))
            .stun,
            ["stun:s.example:1"]
        );
        assert!(webtorrent_config(&settings(
            "public_url = \"http://radio.example.org\"\nstun = \"off\""
        ))
        .stun
        .is_empty());
    }
}
