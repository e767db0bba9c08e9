//! `GET /`: the listen page, and `GET /episode/{infohash}`: one episode's own page, the
//! link a station shares (its Open Graph card makes it look like a programme in a chat).
//! Server-rendered episode list (with magnet, torrent and download links that work without
//! JavaScript) and a player that streams the chosen episode with WebTorrent in the browser
//! and the live stream with hls.js and p2p-media-loader (`assets/listen.js`). The import
//! map lets the p2p-media-loader hls.js integration import its core by the bare name it
//! was built with.
//!
//! Written with maud, like the config page (see `admin::pages` for why).

use axum::{
    extract::{ConnectInfo, Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Datelike};
use linkify::{LinkFinder, LinkKind};
use maud::{html, Markup, PreEscaped};

use crate::{
    i18n::{format, Tr},
    library::Item,
    live::{p2p, LiveState},
    stun, t,
};

use super::{
    api::{trackers, ItemView},
    assets::href,
    base_host, base_url, icon,
    lang::{switcher, PageLang},
    manifest, AppState, ConnInfo,
};

/// An episode's length as a person says it: seconds for a jingle, else minutes (and
/// hours), rounded to the nearest minute; a player shows the exact time.
fn duration(tr: Tr, secs: Option<f64>) -> Option<String> {
    let s = secs.filter(|s| s.is_finite() && *s >= 0.0)?.round() as u64;
    let text = if s < 60 {
        t!(tr, "listen-seconds", n = s)
    } else {
        format::span(tr, (s + 30) / 60 * 60)
    };
    Some(format::on_one_line(&text))
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
    let base = base_url(&app.station.settings(), &headers, &conn);
    listen(tr, &app, &base, None)
}

/// The address of an episode's own page, from the station's root.
pub fn episode_href(infohash: &str) -> String {
    format!("/episode/{infohash}")
}

/// `GET /episode/{infohash}`: the episode alone, with the station's name, its date and notes,
/// the same player, and the card chat apps show for the link. An episode the library does
/// not hold (any more) gets a page that says so and leads to the others.
pub async fn episode_page(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    PageLang(tr): PageLang,
    Path(infohash): Path<String>,
) -> Response {
    let settings = app.station.settings();
    let base = base_url(&settings, &headers, &conn);
    let catalog = app.library.catalog();
    match catalog.items.get(&infohash) {
        Some(item) => listen(tr, &app, &base, Some(item)).into_response(),
        None => {
            let station = &settings.station.name;
            let page = document(
                tr,
                &t!(tr, "listen-episode-missing-title"),
                href::LISTEN_CSS,
                html! { meta name="robots" content="noindex"; },
                html! {
                    header { (switcher(tr, "/")) }
                    main {
                        h1 { (t!(tr, "listen-episode-missing-title")) }
                        p { (t!(tr, "listen-episode-missing")) }
                        p { a href="/" { (t!(tr, "listen-all-episodes", station = station.as_str())) } }
                    }
                },
            );
            (StatusCode::NOT_FOUND, page).into_response()
        }
    }
}

/// The listen page (`one` is `None`) or one episode's page.
fn listen(tr: Tr, app: &AppState, base: &str, one: Option<&Item>) -> Markup {
    let settings = app.station.settings();
    let trackers = trackers(app, base);
    let station = &settings.station;
    let metas = app.station.item_meta();
    let catalog = app.library.catalog();
    let items: Vec<&Item> = match one {
        Some(item) => vec![item],
        None => catalog.newest_first(),
    };
    let views: Vec<ItemView> = items
        .iter()
        .map(|item| ItemView::new(item, base, &trackers).with_meta(metas.get(&item.infohash)))
        .collect();
    // An episode's page has no live row: the link is about that programme.
    let live_on = one.is_none() && app.live.is_on();
    let live_state = live_on.then(|| match app.live.status().state {
        LiveState::OnAir => t!(tr, "listen-state-on-air"),
        LiveState::Starting => t!(tr, "listen-state-starting"),
        LiveState::NoInput { .. } => t!(tr, "listen-state-no-input"),
        LiveState::Off => String::new(),
    });
    // What is playing, as the page is made; listen.js follows it (server-sent events).
    let now_playing = app
        .live
        .now_playing()
        .stream_line()
        .map(|what| t!(tr, "listen-now-playing", what = what))
        .unwrap_or_default();
    // Read by listen.js; JSON inside a non-executed script block, with `<` escaped so no
    // value can close the block.
    let live_cfg = live_on
        .then(|| serde_json::json!({ "playlist": "/live/index.m3u8", "swarmId": p2p::SWARM_ID }));
    // The page's peers find each other through the box's STUN server at the name the page
    // was loaded by (or the configured servers), never a third party's by default.
    let ice = stun::ice_urls(&settings.webtorrent.stun, settings.stun, base_host(base));
    let ice = if ice.is_empty() {
        serde_json::json!([])
    } else {
        serde_json::json!([{ "urls": ice }])
    };
    let config = serde_json::json!({
        "tracker": ws_tracker(base),
        "assets": script_assets(),
        "ice": ice,
        "live": live_cfg,
        "words": script_words(tr),
    })
    .to_string()
    .replace('<', "\\u003c");
    // The page as an app: its manifest, the phone's bar in the page's colour, and the icon
    // Apple's home screen takes (it reads no manifest icons).
    let head = html! {
        script type="importmap" { (PreEscaped(import_map())) }
        // Fetched beside listen.js rather than after it has run (it imports its players
        // dynamically, from the addresses in the config): while the live stream is on, the
        // live player's (most who open the page then listen to it, and WebTorrent with the
        // episode player was 65 kB of a new live listener's 215, benches/README.md), else
        // the episode player's.
        @if live_on {
            link rel="modulepreload" href=(href::HLS_LIGHT_MIN_MJS);
            link rel="modulepreload" href=(href::P2P_MEDIA_LOADER_HLSJS_ES_MIN_JS);
            link rel="modulepreload" href=(href::P2P_MEDIA_LOADER_CORE_ES_MIN_JS);
        } @else {
            link rel="modulepreload" href=(href::EPISODE_JS);
            link rel="modulepreload" href=(href::WEBTORRENT_MIN_JS);
        }
        link rel="manifest" href="/manifest.webmanifest";
        meta name="theme-color" content=(icon::ACCENT_HEX);
        link rel="apple-touch-icon" href=(manifest::APPLE_TOUCH_ICON);
        @if let Some(v) = views.first().filter(|_| one.is_some()) {
            (card(station, v, base))
        }
    };
    let (title, switch_to) = match views.first().filter(|_| one.is_some()) {
        Some(v) => (
            format!("{} · {}", v.display_title(), station.name),
            episode_href(v.infohash),
        ),
        None => (station.name.clone(), "/".to_string()),
    };
    document(
        tr,
        &title,
        href::LISTEN_CSS,
        head,
        html! {
            header { (switcher(tr, &switch_to)) }
            main {
                @if one.is_some() {
                    p class="station" { a href="/" { (station.name) } }
                } @else {
                    h1 { (station.name) }
                    p class="desc" { (station.description) }
                }
                section id="player" hidden {
                    // The title is announced when an episode starts; the status line's
                    // messages are, its running figures (every second) are not.
                    p id="now" aria-live="polite" {}
                    audio id="audio" controls preload="none" {}
                    progress id="progress" max="1" value="0" aria-label=(t!(tr, "listen-progress")) {}
                    p id="status" {
                        span id="status-say" aria-live="polite" {}
                        span id="status-figures" {}
                    }
                    div class="links" {
                        a id="direct" download { (t!(tr, "listen-download")) }
                        // For BitTorrent apps: folded, so the words of the trade stay out of
                        // sight of those who do not need them.
                        details id="other-apps" {
                            summary { (t!(tr, "listen-other-apps")) }
                            a id="magnet" { (t!(tr, "listen-magnet")) }
                            a id="torrent" { (t!(tr, "listen-torrent")) }
                        }
                    }
                }
                @if let Some(state) = live_state {
                    h2 { (t!(tr, "listen-live-heading")) }
                    div class="episode live" {
                        button type="button" id="live-play"
                            aria-label=(t!(tr, "listen-live-play")) { "▶" }
                        div class="meta" {
                            div class="title" { (t!(tr, "listen-live-title", station = station.name.as_str())) }
                            small id="live-state" { (state) }
                            small id="live-now" aria-live="polite" { (now_playing) }
                        }
                    }
                }
                @if let Some(v) = views.first().filter(|_| one.is_some()) {
                    h1 id="listen-episodes" { (v.display_title()) }
                    ul class="one" aria-labelledby="listen-episodes" { (episode(tr, v, false)) }
                    p { a href="/" { (t!(tr, "listen-all-episodes", station = station.name.as_str())) } }
                } @else {
                    h2 id="listen-episodes" { (t!(tr, "listen-episodes")) }
                    ul aria-labelledby="listen-episodes" {
                        @for v in &views { (episode(tr, v, true)) }
                        @if views.is_empty() {
                            li class="empty" id="listen-empty" { (t!(tr, "listen-empty")) }
                        }
                    }
                }
                footer id="listen-footer" { (t!(tr, "listen-footer")) }
            }
            script type="application/json" id="config" { (PreEscaped(config)) }
            // A classic script, so it has run before the modules below (WebTorrent) start.
            script src=(href::SHA1_JS) {}
            script type="module" src=(href::LISTEN_JS) {}
        },
    )
}

/// The words listen.js writes, in the page's language: finished sentences, and templates
/// whose `{name}` placeholders the script fills with figures it formats itself
/// (`Intl.NumberFormat` in the page's language). No template has a plural to agree:
/// figures stand after a label ("Fuentes: 3").
fn script_words(tr: Tr) -> serde_json::Value {
    // A placeholder the script fills, passed as the message's variable.
    let slot = |name: &str| format!("{{{name}}}");
    // A size's number and unit stay on one line, as `format::size` writes them.
    let unit = |s: String| format::on_one_line(&s);
    serde_json::json!({
        "connecting": t!(tr, "listen-js-connecting"),
        "stats": t!(tr, "listen-js-stats", sources = slot("sources"), speed = slot("speed"),
            loaded = slot("loaded"), share = slot("share"), shared = slot("shared")),
        "episodeLoading": t!(tr, "listen-js-episode-loading"),
        "episodePaused": t!(tr, "listen-js-episode-paused"),
        "episodeEnded": t!(tr, "listen-js-episode-ended"),
        "noSharing": t!(tr, "listen-js-no-sharing"),
        "fromStation": t!(tr, "listen-js-from-station"),
        "sharingStopped": t!(tr, "listen-js-sharing-stopped"),
        "episodeOffline": t!(tr, "listen-js-episode-offline"),
        "liveConnecting": t!(tr, "listen-js-live-connecting"),
        "livePlaying": t!(tr, "listen-js-live-playing"),
        "liveFromStation": t!(tr, "listen-js-live-from-station"),
        "liveStats": t!(tr, "listen-js-live-stats", peers = slot("peers"), share = slot("share"),
            shared = slot("shared")),
        "liveFallback": t!(tr, "listen-js-live-fallback"),
        "nowPlaying": t!(tr, "listen-now-playing", what = slot("what")),
        "sizeB": unit(t!(tr, "size-bytes", n = slot("n"))),
        "sizeKB": unit(t!(tr, "size-kb", n = slot("n"))),
        "sizeMB": unit(t!(tr, "size-mb", n = slot("n"))),
        "sizeGB": unit(t!(tr, "size-gb", n = slot("n"))),
        "rate": t!(tr, "rate-per-second", size = slot("size")),
    })
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

/// Lets the p2p-media-loader hls.js integration import its core by the bare name it was
/// built with.
fn import_map() -> String {
    serde_json::json!({ "imports": {
        "p2p-media-loader-core": href::P2P_MEDIA_LOADER_CORE_ES_MIN_JS,
    }})
    .to_string()
}

/// The content-hashed addresses listen.js loads its modules from (a static `import` could
/// not take its address from here; an import map could, but browsers before 2023 have none).
fn script_assets() -> serde_json::Value {
    serde_json::json!({
        "episode": href::EPISODE_JS,
        "mp4box": href::MP4BOX_ALL_MJS,
        "webtorrent": href::WEBTORRENT_MIN_JS,
        "hls": href::HLS_LIGHT_MIN_MJS,
        "p2pmlHlsjs": href::P2P_MEDIA_LOADER_HLSJS_ES_MIN_JS,
    })
}

/// One episode: a play button carrying what the player needs, the title (a link to the
/// episode's own page, in the list), a line of facts (when it was recorded, artist, length,
/// size) and the operator's notes.
fn episode(tr: Tr, v: &ItemView, linked: bool) -> Markup {
    let title = v.display_title();
    let facts: Vec<String> = [
        recorded_day(tr, v.recorded),
        v.artist.map(str::to_string),
        duration(tr, v.duration_secs),
        Some(format::size(tr, v.size)),
    ]
    .into_iter()
    .flatten()
    .collect();
    html! {
        li class="episode" {
            button type="button" aria-label=(t!(tr, "listen-play", title = title))
                data-infohash=(v.infohash) data-title=(title) data-magnet=(v.magnet)
                data-torrent=(v.torrent) data-webseed=(v.web_seed) { "▶" }
            div class="meta" {
                div class="title" {
                    @if linked { a href=(episode_href(v.infohash)) { (title) } } @else { (title) }
                }
                small { (facts.join(" · ")) }
                @if let Some(text) = v.description {
                    p class="notes" { (notes(text)) }
                }
            }
        }
        "\n"
    }
}

/// The day an episode was recorded, in words (`8 de marzo de 2019`), from
/// [`ItemView::recorded`]; `None` before 1970.
pub fn recorded_day(tr: Tr, secs: u64) -> Option<String> {
    let at = DateTime::from_timestamp(i64::try_from(secs).ok()?, 0).filter(|_| secs > 0)?;
    Some(format::date(tr, at.year(), at.month(), at.day()))
}

/// The operator's notes as typed (the style keeps their line breaks), escaped, with their
/// `http`/`https` addresses made links. No other scheme becomes a link: `javascript:` and
/// the like stay text.
fn notes(text: &str) -> Markup {
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    let web = |s: &str| {
        let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    };
    let parts: Vec<(&str, bool)> = finder
        .spans(text)
        .map(|span| (span.as_str(), span.kind().is_some() && web(span.as_str())))
        .collect();
    html! {
        @for (part, link) in parts {
            @if link { a href=(part) rel="nofollow ugc noopener" { (part) } } @else { (part) }
        }
    }
}

/// The card chat apps and social sites show for an episode's link (Open Graph): its title,
/// the station, the notes (or the station's description), the station's cover picture, and
/// the audio itself. Every address absolute, from the address the page was asked by.
fn card(station: &crate::config::StationConfig, v: &ItemView, base: &str) -> Markup {
    let about: String = v
        .description
        .unwrap_or(&station.description)
        .chars()
        .take(300)
        .collect();
    let url = format!("{base}{}", episode_href(v.infohash));
    html! {
        meta property="og:type" content="website";
        meta property="og:site_name" content=(station.name);
        meta property="og:title" content=(v.display_title());
        meta property="og:description" content=(about);
        meta name="description" content=(about);
        meta property="og:url" content=(url);
        link rel="canonical" href=(url);
        meta property="og:image" content={ (base) (manifest::COVER) };
        meta property="og:image:width" content="1400";
        meta property="og:image:height" content="1400";
        meta property="og:image:alt" content=(station.name);
        meta property="og:audio" content=(v.web_seed);
        meta property="og:audio:type" content=(v.mime);
        meta name="twitter:card" content="summary";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::i18n::Lang;

    #[test]
    fn lengths_in_words_and_tracker_addresses() {
        let (es, fr) = (Lang::Es.tr(), Lang::Fr.tr());
        assert_eq!(duration(es, Some(20.4)).as_deref(), Some("20\u{a0}s"));
        assert_eq!(duration(es, Some(65.4)).as_deref(), Some("1\u{a0}min"));
        assert_eq!(
            duration(fr, Some(3_700.0)).as_deref(),
            Some("1\u{a0}h\u{a0}2\u{a0}min")
        );
        assert_eq!(duration(es, None), None);
        assert_eq!(
            ws_tracker("http://radio.local:8080"),
            "ws://radio.local:8080/announce"
        );
        assert_eq!(ws_tracker("https://radio.org"), "wss://radio.org/announce");
    }

    /// The script's templates keep their `{name}` slots through the catalog, in every
    /// language, and sizes use the language's unit.
    #[test]
    fn the_script_gets_templates_in_the_page_language() {
        for lang in Lang::ALL {
            let w = script_words(lang.tr());
            let stats = w["stats"].as_str().unwrap();
            for slot in ["{sources}", "{speed}", "{loaded}", "{shared}"] {
                assert!(stats.contains(slot), "{lang}: {stats}");
            }
            let live = w["liveStats"].as_str().unwrap();
            for slot in ["{peers}", "{share}", "{shared}"] {
                assert!(live.contains(slot), "{lang}: {live}");
            }
            assert!(w["rate"].as_str().unwrap().contains("{size}"), "{lang}");
        }
        let fr = script_words(Lang::Fr.tr());
        assert_eq!(fr["sizeMB"], "{n}\u{a0}Mo");
        assert_eq!(script_words(Lang::Es.tr())["connecting"], "Conectando…");
    }
}
