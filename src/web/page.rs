//! `GET /`: the listen page. Server-rendered episode list (with magnet, torrent and
//! download links that work without JavaScript) and a player that streams the chosen
//! episode with WebTorrent in the browser and the live stream with hls.js and
//! p2p-media-loader (`assets/listen.js`). The import map lets the p2p-media-loader hls.js
//! integration import its core by the bare name it was built with.

//!
//! Written with maud, like the config page (see `admin::pages` for why).

use axum::{
    extract::{ConnectInfo, State},
    http::HeaderMap,
};
use maud::{html, Markup, PreEscaped};

use crate::{
    i18n::Tr,
    live::{p2p, LiveState},
};

use super::{
    api::{trackers, ItemView},
    base_url,
    lang::PageLang,
    AppState, ConnInfo,
};

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
    PageLang(tr): PageLang,
) -> Markup {
    let settings = app.station.settings();
    let base = base_url(&settings, &headers, &conn);
    let trackers = trackers(&app, &base);
    let station = &settings.station;
    let metas = app.station.item_meta();
    let catalog = app.library.catalog();
    let live_state = app.live.is_on().then(|| match app.live.status().state {
        LiveState::OnAir => "On air now",
        LiveState::Starting => "Starting…",
        LiveState::NoInput { .. } => "Off air for the moment: the studio sends no sound",
        LiveState::Off => "",
    });
    // Read by listen.js; JSON inside a non-executed script block, with `<` escaped so no
    // value can close the block.
    let live_cfg = app
        .live
        .is_on()
        .then(|| serde_json::json!({ "playlist": "/live/index.m3u8", "swarmId": p2p::SWARM_ID }));
    let config = serde_json::json!({ "tracker": ws_tracker(&base), "ice": [], "live": live_cfg })
        .to_string()
        .replace('<', "\\u003c");
    let head = html! { script type="importmap" { (PreEscaped(IMPORT_MAP)) } };
    document(
        tr,
        &station.name,
        "/assets/listen.css",
        head,
        html! {
            main {
                h1 { (station.name) }
                p class="desc" { (station.description) }
                section id="player" hidden aria-live="polite" {
                    p id="now" {}
                    audio id="audio" controls preload="none" {}
                    progress id="progress" max="1" value="0" {}
                    p id="status" {}
                    div class="links" {
                        a id="direct" download { "Download" }
                        a id="magnet" { "Magnet link" }
                        a id="torrent" { "Torrent file" }
                    }
                }
                @if let Some(state) = live_state {
                    h2 { "Live" }
                    div class="episode live" {
                        button type="button" id="live-play" aria-label="Listen live" { "▶" }
                        div class="meta" {
                            div class="title" { (station.name) " live" }
                            small id="live-state" { (state) }
                        }
                    }
                }
                h2 { "Episodes" }
                ul {
                    @for item in catalog.items.values() {
                        (episode(&ItemView::new(item, &base, &trackers)
                            .with_meta(metas.get(&item.infohash))))
                    }
                    @if catalog.items.is_empty() {
                        li class="empty" {
                            "No episodes yet. When the station's USB storage is plugged \
                             in, its episodes appear here by themselves."
                        }
                    }
                }
                footer {
                    "Listening here also shares what you hear, live or an episode, with \
                     other listeners, so the station needs less of its own internet \
                     connection."
                }
            }
            script type="application/json" id="config" { (PreEscaped(config)) }
            script type="module" src="/assets/listen.js" {}
        },
    )
}

/// The frame of every page, the listen page's and the config page's: the common head,
/// then the page's own `head` elements, and its body.
pub(crate) fn document(
    tr: Tr,
    title: &str,
    stylesheet: &str,
    head: Markup,
    body: Markup,
) -> Markup {
    html! {
        (PreEscaped("<!doctype html>"))
        html lang=(tr.lang().code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                link rel="icon" href="data:,";
                title { (title) }
                link rel="stylesheet" href=(stylesheet);
                (head)
            }
            body { (body) }
        }
    }
}

/// Lets the p2p-media-loader hls.js integration import its core by its bare name.
const IMPORT_MAP: &str =
    r#"{"imports":{"p2p-media-loader-core":"/assets/p2p-media-loader-core.es.min.js"}}"#;

/// One episode: a play button carrying what the player needs, the title and a line of
/// facts (artist, duration, size).
fn episode(v: &ItemView) -> Markup {
    let title = v.display_title();
    let facts: Vec<String> = [
        v.artist.map(str::to_string),
        Some(duration(v.duration_secs)).filter(|d| !d.is_empty()),
        Some(size(v.size)),
    ]
    .into_iter()
    .flatten()
    .collect();
    html! {
        li class="episode" {
            button type="button" aria-label={ "Play " (title) } data-infohash=(v.infohash)
                data-title=(title) data-magnet=(v.magnet) data-torrent=(v.torrent)
                data-webseed=(v.web_seed) { "▶" }
            div class="meta" {
                div class="title" { (title) }
                small { (facts.join(" · ")) }
            }
        }
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(duration(Some(65.4)), "1:05");
        assert_eq!(size(2048), "2 KB");
        assert_eq!(
            ws_tracker("http://radio.local:8080"),
            "ws://radio.local:8080/announce"
        );
        assert_eq!(ws_tracker("https://radio.org"), "wss://radio.org/announce");
    }
}
