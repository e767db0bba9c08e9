//! The config page's frame and its pre-login pages (server-rendered, so they work before
//! the script loads) and the live status its script polls.
//!
//! The HTML is written with maud: escaped by default, checked by the compiler, and every
//! text is an ordinary Rust expression in the markup, so translating the page (Fluent) is
//! a matter of replacing each literal by a lookup in the same place, with no template
//! language between the strings and the code that chooses them.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    Json,
};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::{
    dashboard::{listen_ways, LiveWords},
    error::FormError,
    extract::LoggedIn,
};
use crate::{
    config::Settings,
    i18n::{Lang, Tr},
    t,
    web::{
        assets::href,
        lang::{switcher, PageLang},
        page::document,
        AppState,
    },
};

/// The operator's guide in `tr`'s language, served by the box itself.
pub fn guide_href(tr: Tr) -> String {
    format!("/guide/{}", tr.lang().code())
}

/// The config page's frame: kept out of search engines, its own style and script, and on
/// every page the language switch and the way to the operator's guide.
pub fn shell(tr: Tr, title: &str, body: Markup) -> Markup {
    document(
        tr,
        title,
        href::ADMIN_CSS,
        html! { meta name="robots" content="noindex"; },
        html! {
            nav class="frame" aria-label=(t!(tr, "admin-frame-label")) {
                (switcher(tr, "/admin"))
                a class="guide" href=(guide_href(tr)) { (t!(tr, "admin-guide-link")) }
            }
            main { (body) }
            script type="module" src=(href::ADMIN_JS) {}
        },
    )
}

/// A message beside the field it is about (or at the top when it names none).
pub fn problem(tr: Tr, err: Option<&FormError>, field: &str) -> Markup {
    html! {
        @if let Some(e) = err.filter(|e| e.field() == field) {
            p class="error" role="alert" { (e.message(tr)) }
        }
    }
}

/// How many screens the first run has: language, name and password here, then the sound
/// input and how listeners reach the box (`sections::welcome`).
pub const FIRST_RUN_STEPS: u8 = 5;

/// The fields the password step shows: a problem with any other setting (a library folder
/// of the config file that is missing, say) is shown at the top, or the form would come
/// back refused with nothing said.
const SETUP_FIELDS: [&str; 2] = ["password", "password2"];

/// "Step n of 5", above a first-run question (before login here, after it in
/// `sections::welcome`).
pub fn step_of(tr: Tr, n: u8) -> Markup {
    html! { p class="step" { (t!(tr, "dash-welcome-step", n = n, of = FIRST_RUN_STEPS)) } }
}

/// A first-run screen before login: its step, its question as the page's heading, and
/// what answers it.
fn first_run(tr: Tr, n: u8, question: &str, answer: Markup) -> Markup {
    shell(
        tr,
        &t!(tr, "admin-setup-page-title"),
        html! {
            (step_of(tr, n))
            h1 id="admin-setup-title" { (question) }
            (answer)
        },
    )
}

/// First run, step 1: which language the pages speak. Each choice is a link through the
/// language switch, which remembers it and goes on to the name.
pub fn setup_language(tr: Tr) -> Markup {
    let back = percent_encoding::utf8_percent_encode(
        "/admin?step=name",
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    first_run(
        tr,
        1,
        &t!(tr, "admin-setup-title"),
        html! {
            p { (t!(tr, "admin-setup-language")) }
            ul class="choices" {
                @for l in Lang::ALL {
                    li {
                        a class="button" href={ "/lang?to=" (l.code()) "&back=" (back) }
                            lang=(l.code()) hreflang=(l.code())
                            aria-current=[(l == tr.lang()).then_some("true")] { (l.name()) }
                    }
                }
            }
        },
    )
}

/// First run, step 2: the station's name. Nothing is saved before the password exists, so
/// the name goes on in the address to the password step, which saves both.
pub fn setup_name(tr: Tr, settings: &Settings) -> Markup {
    first_run(
        tr,
        2,
        &t!(tr, "admin-setup-name-title"),
        html! {
            form method="get" action="/admin" class="card" {
                input type="hidden" name="step" value="password";
                label {
                    (t!(tr, "admin-station-name"))
                    input name="station_name" value=(settings.station.name) maxlength="100"
                        required autofocus aria-describedby="station-name-hint";
                }
                p class="hint" id="station-name-hint" { (t!(tr, "admin-setup-name-hint")) }
                button type="submit" { (t!(tr, "dash-welcome-next")) }
            }
        },
    )
}

/// First run, step 3: the password, which saves the name and the language chosen before
/// (both in the form) with it. `settings` holds the name and language to save.
pub fn setup(tr: Tr, settings: &Settings, form_token: &str, err: Option<&FormError>) -> Markup {
    let station = &settings.station;
    first_run(
        tr,
        3,
        &t!(tr, "admin-setup-password-title"),
        html! {
            p { (t!(tr, "admin-setup-intro")) }
            @if let Some(e) = err.filter(|e| !SETUP_FIELDS.contains(&e.field())) {
                p class="error" role="alert" { (e.message(tr)) }
            }
            form method="post" action="/admin/setup" class="card" {
                input type="hidden" name="form_token" value=(form_token);
                input type="hidden" name="station_name" value=(station.name);
                input type="hidden" name="station_language" value=(station.language.code());
                p {
                    (t!(tr, "admin-station-name")) ": " b { (station.name) } " · "
                    a href="/admin?step=name" { (t!(tr, "admin-setup-change")) }
                }
                label {
                    (t!(tr, "admin-password-new"))
                    input type="password" name="password" autocomplete="new-password"
                        minlength="8" required autofocus;
                }
                (problem(tr, err, "password"))
                label {
                    (t!(tr, "admin-password-again"))
                    input type="password" name="password2" autocomplete="new-password"
                        minlength="8" required;
                }
                (problem(tr, err, "password2"))
                button type="submit" { (t!(tr, "admin-setup-submit")) }
            }
        },
    )
}

/// The login form; `message` is why the last try failed, in the page's language.
pub fn login(tr: Tr, form_token: &str, message: Option<&str>) -> Markup {
    shell(
        tr,
        &t!(tr, "admin-login-page-title"),
        html! {
            h1 { (t!(tr, "admin-login-title")) }
            @if let Some(m) = message {
                p class="error" role="alert" { (m) }
            }
            form method="post" action="/admin/login" class="card" {
                input type="hidden" name="form_token" value=(form_token);
                label {
                    (t!(tr, "admin-password"))
                    input type="password" name="password" autocomplete="current-password"
                        required autofocus;
                }
                button type="submit" { (t!(tr, "admin-login-submit")) }
            }
            p class="hint" { (t!(tr, "admin-login-forgot")) }
            p class="more" { a href=(guide_href(tr)) { (t!(tr, "admin-login-forgot-link")) } }
            p class="hint" { (t!(tr, "admin-login-limit")) }
        },
    )
}

/// `GET /admin/status`: what the dashboard's script refreshes every few seconds. The
/// numbers as they were (the JSON API stays English), and `words`: the lines the page
/// shows, already written in the request's language.
pub async fn status(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    op: LoggedIn,
) -> Json<Value> {
    let st = app.status();
    let days = app.station.two_days();
    let words = LiveWords::new(tr, &app, &st, &days);
    let wt_peers = st.webtorrent.map_or(0, |w| w.peers);
    Json(json!({
        "base": op.client.base,
        "uptime_secs": st.uptime_secs,
        "live": st.live,
        "listeners": st.listeners,
        "listen_ways": listen_ways(Lang::En.tr(), &st.listeners),
        "items": st.library.items,
        "hashing": st.library.hashing,
        "peers": st.swarm.map_or(0, |s| s.live) + wt_peers,
        "p2p_listeners": wt_peers,
        "upload_bps": st.swarm.map_or(0, |s| s.upload_bps),
        "tracker": { "swarms": st.tracker.swarms, "peers": st.tracker.peers },
        "warnings": words.warnings,
        "chart": days,
        "update": app.updates.view(),
        "words": words,
    }))
}

/// `GET /admin/audio/devices`: the ALSA capture devices, for choosing the input. For the
/// operator only: a card's name says what hardware the box has.
pub async fn devices(_: LoggedIn) -> Json<Value> {
    // Listing sound cards opens devices: off the async threads.
    let list = tokio::task::spawn_blocking(crate::live::source::capture_devices)
        .await
        .unwrap_or_default();
    Json(json!(list
        .into_iter()
        .map(|(name, description)| json!({ "device": format!("alsa:{name}"), "description": description }))
        .collect::<Vec<_>>()))
}

/// `GET /admin/plays.csv`: what played when, the last 90 days, for rights societies: start
/// and end (the box's local time, ISO 8601), title, artist, source (`line_in`, `source`,
/// `fallback`) and peak listeners.
pub async fn plays_csv(State(app): State<AppState>, _: LoggedIn) -> Response {
    let plays = app.station.plays();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let local = |t: u64| {
        chrono::DateTime::<chrono::Local>::from(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(t),
        )
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    };
    let mut rows = vec![[
        "start".to_string(),
        "end".into(),
        "title".into(),
        "artist".into(),
        "source".into(),
        "peak_listeners".into(),
    ]];
    rows.extend(plays.into_iter().map(|p| {
        [
            local(p.start),
            local(p.end),
            p.title,
            p.artist.unwrap_or_default(),
            p.source,
            p.peak_listeners.to_string(),
        ]
    }));
    for row in rows {
        if let Err(e) = csv.write_record(&row) {
            tracing::warn!("plays CSV: {e}");
        }
    }
    let body = csv.into_inner().unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"what-played.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
