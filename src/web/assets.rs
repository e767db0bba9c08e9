//! Static assets embedded in the binary: the listen page's script and style, WebTorrent's
//! browser build and service worker, and the live player's hls.js and p2p-media-loader ES
//! modules, and mp4box.js for M4A episodes (all copied from npm by `build.rs`).

use axum::{
    extract::Path,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

const WEBTORRENT_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/webtorrent.min.js"));
const SW_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sw.min.js"));
const SHA1_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sha1.js"));
const HLS_JS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hls.light.min.mjs"));
const P2PML_CORE_JS: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/p2p-media-loader-core.es.min.js"));
const P2PML_HLSJS_JS: &[u8] = include_bytes!(concat!(
    env!("OUT_DIR"),
    "/p2p-media-loader-hlsjs.es.min.js"
));
/// mp4box.js's browser build, by the names its modules import each other with.
const MP4BOX: &[(&str, &[u8])] = &[
    (
        "mp4box.all.mjs",
        include_bytes!(concat!(env!("OUT_DIR"), "/mp4box.all.mjs")),
    ),
    (
        "styp-9TIZZDLN.mjs",
        include_bytes!(concat!(env!("OUT_DIR"), "/styp-9TIZZDLN.mjs")),
    ),
    (
        "rolldown-runtime-w6R9maHv.mjs",
        include_bytes!(concat!(env!("OUT_DIR"), "/rolldown-runtime-w6R9maHv.mjs")),
    ),
];
const LISTEN_JS: &str = include_str!("assets/listen.js");
const EPISODE_JS: &str = include_str!("assets/episode.js");
const LISTEN_CSS: &str = include_str!("assets/listen.css");

fn asset(body: &'static [u8], mime: &'static str, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The assets change with the binary only, so a day of caching is safe and saves the
/// phone's data; `no-cache` still revalidates the page's own script after an update.
pub async fn webtorrent() -> Response {
    asset(WEBTORRENT_JS, "text/javascript", "public, max-age=86400")
}

/// js-sha1, a classic script: `window.sha1`, which episode.js hands to WebTorrent where
/// the page has no WebCrypto (plain http).
pub async fn sha1_js() -> Response {
    asset(SHA1_JS, "text/javascript", "public, max-age=86400")
}

pub async fn hls_js() -> Response {
    asset(HLS_JS, "text/javascript", "public, max-age=86400")
}

/// Imported by the hls.js integration under its bare name, which the page's import map
/// points here.
pub async fn p2pml_core() -> Response {
    asset(P2PML_CORE_JS, "text/javascript", "public, max-age=86400")
}

pub async fn p2pml_hlsjs() -> Response {
    asset(P2PML_HLSJS_JS, "text/javascript", "public, max-age=86400")
}

/// Imported by episode.js only when an M4A plays, so MP3 listeners never fetch it.
pub async fn mp4box(Path(name): Path<String>) -> Response {
    match MP4BOX.iter().find(|(n, _)| *n == name) {
        Some((_, body)) => asset(body, "text/javascript", "public, max-age=86400"),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The service worker must be served from the root to control the whole origin, and
/// browsers check it for updates on every visit.
pub async fn service_worker() -> Response {
    asset(SW_JS, "text/javascript", "no-cache")
}

pub async fn listen_js() -> Response {
    asset(LISTEN_JS.as_bytes(), "text/javascript", "no-cache")
}

/// Imported by listen.js: episodes through Media Source Extensions and the choice of
/// their sources.
pub async fn episode_js() -> Response {
    asset(EPISODE_JS.as_bytes(), "text/javascript", "no-cache")
}

pub async fn listen_css() -> Response {
    asset(LISTEN_CSS.as_bytes(), "text/css", "no-cache")
}
