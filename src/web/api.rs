//! JSON API: `/api/health`, `/api/library`, `/api/library/problems`.

use axum::{
    extract::{ConnectInfo, State},
    http::HeaderMap,
    Json,
};
use serde::Serialize;
use serde_json::{json, Value};

use super::{base_host, base_url, AppState, ConnInfo};
use crate::{
    federation::health,
    library::{torrent, Item},
    station::ItemMeta,
    system::portmap::PortMapStatus,
};

pub async fn health(State(app): State<AppState>) -> Json<Value> {
    let st = app.status();
    let swarm = st.swarm;
    let webtorrent = st.webtorrent;
    let mut live = json!(st.live);
    live["hls_segments_served"] = json!(st.hls_segments_served);
    live["hls_bytes_served"] = json!(st.hls_bytes_served);
    // The swarm's seeding (`live::seeding`): early requests served and refused, and how many
    // times the station sent each Opus segment still kept, as [number, sends].
    live["hls_seeding"] = json!(app.hls.seeding.counts());
    live["hls_opus_sends"] = json!(app.hls.sends(crate::live::hls::Variant::Opus));
    live["hls_playlist_bytes"] = json!(app.hls.playlist_bytes());
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": st.uptime_secs,
        "live": live,
        "recordings": st.recordings,
        "listeners": st.listeners,
        "library": st.library,
        "swarm": {
            "enabled": st.swarm_enabled,
            "started": swarm.is_some(),
            "torrents": swarm.map(|s| s.torrents),
            "seeding": swarm.map(|s| s.live),
            "uploaded_bytes": swarm.map(|s| s.uploaded_bytes),
            "upload_bytes_per_sec": swarm.map(|s| s.upload_bps),
        },
        "webtorrent": {
            "enabled": webtorrent.is_some(),
            "peers": webtorrent.map(|w| w.peers),
            "uploaded_bytes": webtorrent.map(|w| w.uploaded_bytes),
            "answered": webtorrent.map(|w| w.answered),
            "refused": webtorrent.map(|w| w.refused),
            "trackers_connected": webtorrent.map(|w| w.trackers_connected),
        },
        // Everything the box sends (its interfaces' counters, `system::uplink`), bytes a
        // second: now, and the fastest in this minute.
        "uplink": st.uplink,
        "port_mapping": port_mapping(st.port_mapping.as_ref()),
        // null when https is off: the certificate's dates and serial, the last problem
        // getting one (kind and the service's words), certificates issued since start.
        "https": st.https,
    }))
}

/// The ports on the home router: each port's state and the address the internet sees.
fn port_mapping(status: Option<&PortMapStatus>) -> Value {
    match status {
        None => json!({ "enabled": false }),
        Some(s) => json!({
            "enabled": true,
            "method": s.method,
            "router": s.router,
            "external_ip": s.external_ip,
            "lan_address": s.lan_address,
            "open": s.open(),
            "ports": s.ports,
        }),
    }
}

/// One library item as the API shows it.
#[derive(Clone, Serialize)]
pub struct ItemView<'a> {
    pub infohash: &'a str,
    pub name: &'a str,
    pub size: u64,
    pub mime: &'a str,
    pub magnet: String,
    pub torrent: String,
    pub web_seed: String,
    pub title: Option<&'a str>,
    pub artist: Option<&'a str>,
    pub album: Option<&'a str>,
    pub duration_secs: Option<f64>,
    /// The operator's notes (config page).
    pub description: Option<&'a str>,
    /// For a mirrored episode: the address of the station it comes from.
    pub origin: Option<String>,
    /// The file's SHA-256 as Subresource Integrity (`sha256-` and base64), as the feed's
    /// `podcast:integrity` gives it; absent until the library knows it.
    pub integrity: Option<String>,
    /// When it was recorded ([`Item::recorded_at`]), in seconds since 1970.
    pub recorded: u64,
}

impl<'a> ItemView<'a> {
    pub fn new(item: &'a Item, base: &str, trackers: &[String]) -> Self {
        let web_seed = web_seed_url(base, item);
        Self {
            infohash: &item.infohash,
            name: &item.name,
            size: item.size,
            mime: item.mime,
            magnet: torrent::magnet(&item.infohash, &item.name, item.size, trackers, &web_seed),
            torrent: format!("/t/{}.torrent", item.infohash),
            web_seed,
            title: item.tags.title.as_deref(),
            artist: item.tags.artist.as_deref(),
            album: item.tags.album.as_deref(),
            duration_secs: item.tags.duration_secs,
            description: None,
            origin: None,
            integrity: item.sha256.map(|h| h.sri()),
            recorded: item
                .recorded_at()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// With the operator's title and notes, where the config page set them.
    pub fn with_meta(mut self, meta: Option<&'a ItemMeta>) -> Self {
        if let Some(m) = meta {
            self.title = m.title.as_deref().or(self.title);
            self.description = m.description.as_deref();
        }
        self
    }

    /// What a listener sees as the episode's name.
    pub fn display_title(&self) -> &'a str {
        self.title.unwrap_or(self.name)
    }
}

pub fn web_seed_url(base: &str, item: &Item) -> String {
    format!(
        "{base}/files/{}/{}",
        item.infohash,
        torrent::path_segment(&item.name)
    )
}

/// Trackers for this node's torrents: its own first, then the configured ones.
/// Its HTTP tracker comes first, then its UDP tracker on the same host, each its own tier.
/// Mirrors' trackers are not listed: a mirror proves the bytes of its web seed, nothing
/// about its tracker, which would send every listener's client to an address nobody chose.
pub fn trackers(app: &AppState, base: &str) -> Vec<String> {
    let settings = app.station.settings();
    let own = own_trackers(base, settings.udp_tracker.port());
    let keep = own.len();
    let all = own
        .into_iter()
        .chain(settings.swarm.trackers.iter().cloned())
        .collect();
    // The node's own stay first; the others by health, dead ones left out.
    health::order(all, keep, &app.federation.health.stats())
}

/// The node's own trackers as seen from `base`: HTTP, UDP on the same host, and over https
/// the WebSocket tracker for browsers (a page on https may only open `wss://`).
fn own_trackers(base: &str, udp_port: u16) -> Vec<String> {
    let wss = base
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}/announce"));
    std::iter::once(format!("{base}/announce"))
        .chain(udp_tracker_url(base, udp_port))
        .chain(wss)
        .collect()
}

/// `udp://HOST:PORT/announce` for the host of `base` (`http://HOST[:PORT]`).
fn udp_tracker_url(base: &str, port: u16) -> Option<String> {
    base_host(base).map(|host| format!("udp://{host}:{port}/announce"))
}

pub async fn library(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
) -> Json<Value> {
    let base = base_url(&app.station.settings(), &headers, &conn);
    let trackers = trackers(&app, &base);
    let catalog = app.library.catalog();
    let metas = app.station.item_meta();
    let items: Vec<ItemView> = catalog
        .newest_first()
        .into_iter()
        .map(|i| {
            let mut v = ItemView::new(i, &base, &trackers).with_meta(metas.get(&i.infohash));
            v.origin = app.federation.origin_of(i.path());
            v
        })
        .collect();
    Json(json!(items))
}

/// Skipped files by their place in the library (`root-folder/sub/file.mp3`): public, so no
/// full paths.
pub async fn problems(State(app): State<AppState>) -> Json<Value> {
    let list: Vec<Value> = app
        .library
        .problems_by_place()
        .into_iter()
        .map(|(path, reason)| json!({ "path": path, "reason": reason }))
        .collect();
    Json(json!(list))
}

/// The tracker's swarms with seeders, leechers and downloads per protocol.
pub async fn tracker(State(app): State<AppState>) -> Json<Value> {
    let t = &app.tracker;
    Json(json!({
        "mode": t.config().mode,
        "stats": t.stats(),
        "websocket_connections": app.ws_hub.connections(),
        // Payload bytes written to the sockets, compressed where the client agreed, and
        // the same messages as they were.
        "websocket_bytes_sent": app.ws_hub.sent_bytes(),
        "websocket_message_bytes": app.ws_hub.message_bytes(),
        "torrents": t.table().report(std::time::Instant::now()),
    }))
}

#[cfg(test)]
mod tests {
    use super::{own_trackers, udp_tracker_url};

    #[test]
    fn over_https_browsers_get_the_wss_tracker() {
        assert_eq!(
            own_trackers("https://radio.example.org", 6969),
            [
                "https://radio.example.org/announce",
                "udp://radio.example.org:6969/announce",
                "wss://radio.example.org/announce",
            ]
        );
        assert_eq!(own_trackers("http://radio.local:8080", 6969).len(), 2);
    }

    #[test]
    fn udp_url_takes_the_host_of_the_base() {
        let u = |b| udp_tracker_url(b, 6969);
        assert_eq!(
            u("http://radio.local").as_deref(),
            Some("udp://radio.local:6969/announce")
        );
        assert_eq!(
            u("http://10.0.0.2:8080").as_deref(),
            Some("udp://10.0.0.2:6969/announce")
        );
        assert_eq!(
            u("http://[::1]:80").as_deref(),
            Some("udp://[::1]:6969/announce")
        );
        assert_eq!(
            u("http://[fe80::1]").as_deref(),
            Some("udp://[fe80::1]:6969/announce")
        );
        assert_eq!(u("nonsense"), None);
    }
}
