//! The HTTP front end: JSON API, web seed, torrent files, tracker and pages, on one port.
//!
//! Handlers read the station ([`crate::station`]), the library catalog, the swarm's stats
//! and the tracker through [`AppState`], and take the node's status from
//! [`crate::status`]; none of them touches the database.

pub mod admin;
mod api;
mod assets;
mod chunked;
mod compress;
mod encoding;
mod federation;
pub use federation::claim_gate;
mod feed;
mod files;
mod guide;
mod https;
mod icecast;
mod icon;
pub mod lang;
mod listeners;
mod live;
mod manifest;
mod metrics;
mod page;
mod server;
pub use server::listen;
mod tracker;
mod update;

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Instant,
};

use axum::{
    http::{header, HeaderMap},
    routing::get,
    Router,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    config::Settings,
    library::Library,
    live::{hls::Hls, Live},
    station::Station,
    status::{NodeStatus, Sources},
    swarm::Swarm,
    system::portmap::PortMapStatus,
    tls::TlsWatch,
    tracker::{ws::Hub, Tracker},
    webtorrent::WebTorrent,
};

#[derive(Clone)]
pub struct AppState {
    /// The operator's settings (live), schedule, notes, access and uploads.
    pub station: Arc<Station>,
    pub library: Arc<Library>,
    /// Set once the BitTorrent session has started (after the web server, see `node`).
    pub swarm: Arc<OnceLock<Arc<Swarm>>>,
    pub tracker: Arc<Tracker>,
    pub ws_hub: Arc<Hub>,
    pub live: Arc<Live>,
    /// The recorder's pause and the free-space keeper's report.
    pub recordings: Arc<crate::live::retention::Recordings>,
    pub hls: Arc<Hls>,
    /// The node's WebRTC peer; `None` when `webtorrent.enabled` is off.
    pub webtorrent: Option<Arc<WebTorrent>>,
    pub federation: Arc<crate::federation::Federation>,
    /// One mirror claim checked at a time (see `federation::claim`).
    pub claim_gate: Arc<tokio::sync::Semaphore>,
    /// The ports on the home router; `None` when `swarm.port_mapping` is off.
    pub port_mapping: Option<tokio::sync::watch::Receiver<PortMapStatus>>,
    /// The https side's certificate and problems; `None` when https is off.
    pub tls: Option<TlsWatch>,
    /// The system's updates (the appliance's A/B slots).
    pub updates: Arc<crate::update::Updater>,
    /// What the box sends, sampled (`system::uplink`).
    pub uplink: Arc<crate::system::uplink::Meter>,
    pub started: Instant,
}

impl AppState {
    /// What the status snapshot reads.
    pub fn sources(&self) -> Sources {
        Sources {
            station: self.station.clone(),
            library: self.library.clone(),
            swarm: self.swarm.clone(),
            tracker: self.tracker.clone(),
            live: self.live.clone(),
            recordings: self.recordings.clone(),
            hls: self.hls.clone(),
            webtorrent: self.webtorrent.clone(),
            federation: self.federation.clone(),
            port_mapping: self.port_mapping.clone(),
            tls: self.tls.clone(),
            uplink: self.uplink.clone(),
            started: self.started,
        }
    }

    /// How the node is doing now.
    pub fn status(&self) -> NodeStatus {
        self.sources().status()
    }
}

/// Both ends of a connection (the tracker lists the node at the address the client used)
/// and how it is carried.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    pub local: SocketAddr,
    /// Over TLS (the https listener).
    pub secure: bool,
    /// The https listener has a certificate (always true when `secure`): links may point
    /// there, and pages asked for by the public name move there.
    pub https_ready: bool,
}

pub fn router(state: AppState) -> Router {
    // The tracker's ends answer BitTorrent clients, not people: no language, no
    // compression (a reply is a few hundred bytes of bencode), no https redirect, no
    // cookies. Merged after the page layers, so those layers are not run for them: many
    // clients open a new connection for every announce, and each layer is work per request.
    let tracker = Router::new()
        .route("/announce", get(tracker::announce))
        .route("/scrape", get(tracker::scrape))
        // Source clients' metadata updates: their password, not the config page's rules.
        .route("/admin/metadata", get(icecast::metadata));
    Router::new()
        .route("/", get(page::index))
        .route("/episode/{infohash}", get(page::episode_page))
        .route("/sw.min.js", get(assets::service_worker))
        .route("/assets/{file}", get(assets::by_path))
        .route("/manifest.webmanifest", get(manifest::manifest))
        .route("/icons/{file}", get(manifest::icon))
        .route("/api/health", get(api::health))
        .route("/api/library", get(api::library))
        .route("/api/library/problems", get(api::problems))
        .route("/api/tracker", get(api::tracker))
        .route("/live.ogg", get(live::ogg))
        .route("/live.mp3", get(live::mp3))
        .route("/live/index.m3u8", get(live::hls_master))
        .route("/live/mp3.m3u8", get(live::hls_mp3))
        .route("/live/mp3/{file}", get(live::hls_mp3_segment))
        .route("/live/opus.m3u8", get(live::hls_opus))
        .route("/live/opus/{file}", get(live::hls_opus_segment))
        .route("/live/leave", axum::routing::post(live::leave))
        .route("/api/live/levels", get(live::levels))
        .route("/api/nowplaying", get(live::now_playing))
        .route("/api/nowplaying/events", get(live::now_playing_events))
        .route("/status-json.xsl", get(icecast::status_json))
        .route("/metrics", get(metrics::metrics))
        .route("/t/{file}", get(files::torrent))
        .route("/files/{infohash}/{*name}", get(files::file))
        .route("/feed.xml", get(feed::feed))
        .route("/api/catalog", get(federation::catalog))
        .route("/api/update/manifest", get(update::manifest))
        .route("/api/update/bundle.torrent", get(update::torrent))
        .route("/api/federation", get(federation::status))
        .route("/relay/{key}/live.ogg", get(federation::relay))
        .route(
            "/api/federation/mirrors",
            axum::routing::post(federation::claim)
                .layer(axum::extract::DefaultBodyLimit::max(16 * 1024)),
        )
        .route("/lang", get(lang::switch))
        // The operator's guide, compiled in (docs/guide).
        .route("/guide", get(guide::index))
        .route("/guide/{lang}", get(guide::page))
        .route("/guide/img/{lang}/{file}", get(guide::picture))
        .merge(admin::routes(state.clone()))
        .fallback(lang::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            lang::render_said,
        ))
        // Outside the language layer, so error pages written there are compressed too.
        .layer(compress::layer())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            https::pages_to_https,
        ))
        .layer(axum::middleware::from_fn(https::secure_cookies))
        .merge(tracker)
        .with_state(state)
}

/// Serves plain http, and https when `https` gives its listener and TLS settings (see
/// [`crate::tls`]), until `shutdown`, then lets open requests finish. Both count against the
/// same limits, `[web]`'s, the connection cap checked against the open-files limit (see
/// `server`).
pub async fn serve(
    listener: TcpListener,
    https: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let caps = server::Caps::new(server::Limits::new(
        &state.station.settings().web,
        crate::system::limits::open_files(),
    ));
    let plain = server::Scheme::Http {
        https: state.tls.clone(),
        sources: Arc::new(icecast::Door {
            live: state.live.clone(),
            station: state.station.clone(),
        }),
        listeners: Arc::new(listeners::Listeners::start(state.clone(), shutdown.clone())),
    };
    let router = router(state);
    let http = server::run(
        listener,
        router.clone(),
        caps.clone(),
        plain,
        shutdown.clone(),
    );
    match https {
        None => http.await,
        Some((listener, config)) => {
            let https = server::run(
                listener,
                router,
                caps,
                server::Scheme::Https(config),
                shutdown,
            );
            let (a, b) = tokio::join!(http, https);
            a.and(b)
        }
    }
}

/// The client's address: the socket's peer, or with `web.trust_forwarded_for` the last
/// address a reverse proxy appended to `X-Forwarded-For` (the tracker lists peers at it; the
/// config page's local-network rule and login limit judge by it, so a proxy on the box does
/// not make every visitor local).
pub fn client_ip(app: &AppState, conn: &ConnInfo, headers: &HeaderMap) -> std::net::IpAddr {
    server::client_address(
        app.station.settings().web.trust_forwarded_for,
        conn.remote.ip(),
        headers,
    )
}

/// The base URL for links in replies: the configured public address, or the `Host` the
/// client used (so links work from the LAN and from the box's own name alike), with the
/// scheme the client used. An https public address waiting for its certificate is given
/// as http, so the links work meanwhile.
pub fn base_url(settings: &Settings, headers: &HeaderMap, conn: &ConnInfo) -> String {
    if let Some(u) = &settings.public_url {
        return match u.strip_prefix("https://") {
            Some(rest) if !conn.https_ready => format!("http://{rest}"),
            _ => u.clone(),
        };
    }
    let scheme = if conn.secure { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    match host {
        Some(h) => format!("{scheme}://{h}"),
        None => format!("{scheme}://{}", conn.local),
    }
}

/// The host of a base URL (`http://HOST[:PORT][/...]`), without its port; `None` if empty.
pub fn base_host(base: &str) -> Option<&str> {
    let authority = base.split_once("://")?.1.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        // A bracketed IPv6 address without a port ends in ']' and has colons inside.
        Some((h, p)) if !p.contains(']') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    (!host.is_empty()).then_some(host)
}
