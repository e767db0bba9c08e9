//! `GET /`: the listen page. Server-rendered episode list (with magnet, torrent and
//! download links that work without JavaScript) and a player that streams the chosen
//! episode with WebTorrent in the browser and the live stream with hls.js and
//! p2p-media-loader (`assets/listen.js`). The import map lets the p2p-media-loader hls.js
//! integration import its core by the bare name it was built with.

use std::fmt::Write;

use axum::{
    extract::{ConnectInfo, State},
    http::HeaderMap,
    response::Html,
};

use crate::live::{p2p, LiveState};

use super::{
    api::{trackers, ItemView},
    base_url, AppState, ConnInfo,
};

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn size(bytes: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if (bytes as f64) < MB {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        format!("{:.1} MB", bytes as f64 / MB)
    }
}

fn duration(secs: Option<f64>) -> String {
    match secs {
        Some(s) => {
            let s = s.round() as u64;
            format!("{}:{:02}", s / 60, s % 60)
        }
        None => String::new(),
    }
}

/// The WebSocket tracker for browsers: the HTTP base with `ws`/`wss` for `http`/`https`.
fn ws_tracker(base: &str) -> String {
    match base.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}/announce"),
        None => format!("ws://{}/announce", base.trim_start_matches("http://")),
    }
}

pub async fn index(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
) -> Html<String> {
    let settings = app.station.settings();
    let base = base_url(&settings, &headers, &conn);
    let trackers = trackers(&app, &base);
    let station = &settings.station;
    let metas = app.station.item_meta();
    let catalog = app.library.catalog();
    let mut rows = String::new();
    for item in catalog.items.values() {
        let v = ItemView::new(item, &base, &trackers).with_meta(metas.get(&item.infohash));
        let title = v.display_title();
        let meta: Vec<String> = [
            v.artist.map(str::to_string),
            Some(duration(v.duration_secs)).filter(|d| !d.is_empty()),
            Some(size(v.size)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let _ = writeln!(
            rows,
            "<li class=\"episode\"><button type=\"button\" aria-label=\"Play {t}\" \
             data-infohash=\"{ih}\" data-title=\"{t}\" data-magnet=\"{m}\" data-torrent=\"{tf}\" \
             data-webseed=\"{ws}\">&#9654;</button><div class=\"meta\"><div class=\"title\">{t}</div>\
             <small>{meta}</small></div></li>",
            t = esc(title),
            ih = esc(v.infohash),
            m = esc(&v.magnet),
            tf = esc(&v.torrent),
            ws = esc(&v.web_seed),
            meta = esc(&meta.join(" · ")),
        );
    }
    if rows.is_empty() {
        rows.push_str(
            "<li class=\"empty\">No episodes yet. When the station's USB storage is plugged in, \
             its episodes appear here by themselves.</li>",
        );
    }
    let live = if app.live.is_on() {
        let state = match app.live.status().state {
            LiveState::OnAir => "On air now",
            LiveState::Starting => "Starting…",
            LiveState::NoInput { .. } => "Off air for the moment: the studio sends no sound",
            LiveState::Off => "",
        };
        format!(
            "<h2>Live</h2><div class=\"episode live\"><button type=\"button\" id=\"live-play\" \
             aria-label=\"Listen live\">&#9654;</button><div class=\"meta\"><div class=\"title\">\
             {name} live</div><small id=\"live-state\">{state}</small></div></div>",
            name = esc(&station.name),
            state = esc(state),
        )
    } else {
        String::new()
    };
    // Read by listen.js; JSON inside a non-executed script block, with `<` escaped so no
    // value can close the block.
    let live_cfg = app
        .live
        .is_on()
        .then(|| serde_json::json!({ "playlist": "/live/index.m3u8", "swarmId": p2p::SWARM_ID }));
    let config = serde_json::json!({ "tracker": ws_tracker(&base), "ice": [], "live": live_cfg })
        .to_string()
        .replace('<', "\\u003c");
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\">\
         <title>{name}</title><link rel=\"stylesheet\" href=\"/assets/listen.css\">\
         <script type=\"importmap\">{{\"imports\":{{\"p2p-media-loader-core\":\
         \"/assets/p2p-media-loader-core.es.min.js\"}}}}</script></head><body><main>\
         <h1>{name}</h1><p class=\"desc\">{desc}</p>\
         <section id=\"player\" hidden aria-live=\"polite\"><p id=\"now\"></p>\
         <audio id=\"audio\" controls preload=\"none\"></audio>\
         <progress id=\"progress\" max=\"1\" value=\"0\"></progress><p id=\"status\"></p>\
         <div class=\"links\"><a id=\"direct\" download>Download</a>\
         <a id=\"magnet\">Magnet link</a><a id=\"torrent\">Torrent file</a></div></section>\
         {live}<h2>Episodes</h2><ul>{rows}</ul>\
         <footer>Listening here also shares what you hear, live or an episode, with other \
         listeners, so the station needs less of its own internet connection.</footer></main>\
         <script type=\"application/json\" id=\"config\">{config}</script>\
         <script type=\"module\" src=\"/assets/listen.js\"></script></body></html>",
        name = esc(&station.name),
        desc = esc(&station.description),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(duration(Some(65.4)), "1:05");
        assert_eq!(size(2048), "2 KB");
        assert_eq!(
            ws_tracker("http://radio.local:8080"),
            "ws://radio.local:8080/announce"
        );
        assert_eq!(ws_tracker("https://radio.org"), "wss://radio.org/announce");
    }
}
