//! The dashboard's HTML, one renderer per section, from the values [`Dashboard`] gathered.
//! The element ids, form names and classes are what `admin.js` and the tests look for.

use maud::{html, Markup};

use super::{
    dashboard::{listen_ways, Dashboard, Episode, LibraryView, OnAir, Sisters},
    error::FormError,
    pages::{problem, shell, station_fields},
};
use crate::{
    config::operator::{Show, DAYS},
    federation::mirrors::{MirrorsView, Standing},
    i18n::Tr,
    web::page::size,
};

/// The dashboard: state at a glance, then publishing, sharing, episodes, the schedule,
/// sister stations and settings.
pub fn dashboard(d: &Dashboard) -> Markup {
    let csrf = csrf_field(&d.csrf);
    shell(
        d.tr,
        &format!("{} – settings", d.settings.station.name),
        html! {
            header {
                h1 { (d.settings.station.name) }
                form method="post" action="/admin/logout" {
                    (csrf)
                    button type="submit" class="quiet" { "Log out" }
                }
            }
            nav {
                a href="#air" { "On air" }
                a href="#library" { "Library" }
                a href="#publish" { "Publish" }
                a href="#share" { "Share" }
                a href="#federation" { "Sister stations" }
                a href="#settings" { "Settings" }
            }
            @if !d.notice.is_empty() {
                p class="notice" role="status" { (d.notice) }
            }
            (problem(d.tr, d.err, ""))
            div id="warnings" class="warnings" role="alert" hidden[d.warnings.is_empty()] {
                @for w in &d.warnings { p { (w) } }
            }
            (on_air(d.tr, &d.air))
            (library(d.tr, &d.library))
            (publish(d.tr, &d.csrf, d.settings.admin.max_upload_mb))
            (share(d.tr, &d.share))
            (episodes(d.tr, &d.episodes, &csrf))
            (schedule(d.tr, &d.schedule, &csrf, d.err))
            (sisters(d.tr, &d.sisters, &csrf, d.err))
            (settings(d, &csrf))
        },
    )
}

fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

fn section(id: &str, title: &str, body: Markup) -> Markup {
    html! { section id=(id) class="card" { h2 { (title) } (body) } }
}

fn on_air(tr: Tr, air: &OnAir) -> Markup {
    section(
        "air",
        "On air",
        html! {
            p class="big" { span id="air-state" class="badge" { (air.state) } }
            @if air.on {
                div class="meter" aria-label="Sound level" {
                    div id="meter-l" {}
                    div id="meter-r" {}
                }
                p class="hint" {
                    "The bars move with the sound coming in. Green is fine; red means too \
                     loud: turn the mixer's output down a little."
                }
            } @else {
                p class="hint" {
                    "Choose the sound input under " a href="#settings" { "Settings" }
                    " to go on air."
                }
            }
            dl class="stats" {
                dt { "Listening now" } dd id="listeners" { (air.listeners.total) }
                dt { "How they listen" } dd id="listen-ways" { (listen_ways(&air.listeners)) }
                dt { "Sharing in browsers" } dd id="p2p" { "–" }
                dt { "Up for" } dd id="uptime" { "–" }
            }
            h3 { "Last 24 hours" }
            (graph("listeners", "Listeners", "Listeners over the last 24 hours"))
            (graph("upload", "Upload (kB/s)", "Upload rate over the last 24 hours"))
        },
    )
}

/// An empty chart the script draws the last day's history into.
fn graph(id: &str, caption: &str, label: &str) -> Markup {
    html! {
        figure {
            figcaption { (caption) }
            svg id={ "graph-" (id) } class="graph" viewBox="0 0 300 60" role="img"
                aria-label=(label) {}
        }
    }
}

fn library(tr: Tr, lib: &LibraryView) -> Markup {
    section(
        "library",
        "Library",
        html! {
            p class="big" { "Episodes shared: " span id="items" { (lib.items) } }
            div id="hashing" hidden {
                p { "Reading new files: " span id="hash-text" {} }
                progress id="hash-bar" max="1" value="0" {}
                p class="hint" {
                    "Each new file is read once to make its torrent; a big library takes a \
                     while the first time."
                }
            }
            dl class="stats" {
                dt { "Sharing with" } dd id="peers" { "–" }
                dt { "Upload now" } dd id="upload-rate" { "–" }
                dt { "Tracker" } dd id="tracker" { "–" }
            }
            h3 { "Storage" }
            ul {
                @for r in &lib.roots {
                    li {
                        (r.path.display()) " — "
                        @match (r.present, r.free) {
                            (false, _) => "missing (unplugged?)",
                            (true, Some(free)) => { "present, " (size(free)) " free" }
                            (true, None) => "present",
                        }
                    }
                } @if lib.roots.is_empty() {
                    li { "No library folder set: add one under Settings." }
                }
            }
            @if !lib.problems.is_empty() {
                h3 { "Files that could not be read" }
                ul { @for (path, why) in &lib.problems { li { (path.display()) ": " (why) } } }
            }
        },
    )
}

fn publish(tr: Tr, csrf: &str, max_upload_mb: u64) -> Markup {
    section(
        "publish",
        "Publish an episode",
        html! {
            form id="upload" class="stack" data-csrf=(csrf) {
                label {
                    "Audio file (MP3, Ogg, Opus, FLAC, WAV or M4A, up to " (max_upload_mb) " MB)"
                    input type="file" id="upload-file" accept="audio/*" required;
                }
                label { "Title" input id="upload-title" maxlength="200"; }
                label { "Notes" textarea id="upload-desc" rows="3" maxlength="5000" {} }
                button type="submit" { "Publish" }
                progress id="upload-bar" max="1" value="0" hidden {}
                p id="upload-status" role="status" {}
            }
            p class="hint" {
                "If the Wi-Fi drops, choose the same file again: the upload goes on where it \
                 stopped."
            }
        },
    )
}

/// `text` as the query of the QR code image's URL.
fn qr_src(text: &str) -> String {
    format!(
        "/admin/qr?u={}",
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC)
    )
}

fn share(tr: Tr, rows: &[(&str, String)]) -> Markup {
    section(
        "share",
        "Share",
        html! {
            @for (label, url) in rows {
                div class="share" {
                    img src=(qr_src(url)) alt={ "QR code for " (label) } width="132" height="132";
                    div {
                        b { (label) }
                        input readonly value=(url) aria-label={ (label) " address" };
                        button type="button" class="copy" data-copy=(url) { "Copy" }
                    }
                }
            }
        },
    )
}

fn episodes(tr: Tr, list: &[Episode], csrf: &Markup) -> Markup {
    section(
        "episodes",
        "Episodes",
        html! {
            @for e in list {
                details class="episode" {
                    summary { span { (e.title) } span class="edit" { "Edit" } }
                    form method="post" action="/admin/item" class="stack" {
                        (csrf)
                        input type="hidden" name="infohash" value=(e.infohash);
                        label {
                            "Title"
                            input name="title" maxlength="200" value=(e.own_title)
                                placeholder=(e.file_title);
                        }
                        label {
                            "Notes"
                            textarea name="description" rows="3" maxlength="5000" { (e.own_notes) }
                        }
                        button type="submit" { "Save" }
                    }
                    p {
                        button type="button" class="copy" data-copy=(e.magnet) {
                            "Copy magnet link"
                        }
                        " "
                        a href=(qr_src(&e.magnet)) { "QR code" }
                    }
                }
            }
            @if list.is_empty() {
                p { "No episodes yet." }
            }
        },
    )
}

fn schedule(tr: Tr, shows: &[Show], csrf: &Markup, err: Option<&FormError>) -> Markup {
    section(
        "schedule",
        "Weekly schedule",
        html! {
            p class="hint" {
                "Recordings are named after the show on air. Empty a show's name to remove \
                 it; the last row adds one."
            }
            (problem(tr, err, "schedule"))
            form method="post" action="/admin/schedule" class="stack" {
                (csrf)
                // The shows, then one spare row that adds a show.
                @for show in shows.iter().map(Some).chain([None]) {
                    (show_row(tr, show))
                }
                button type="submit" { "Save schedule" }
            }
        },
    )
}

fn show_row(tr: Tr, show: Option<&Show>) -> Markup {
    html! {
        fieldset class="show" {
            label class="wide" {
                "Show"
                input name="name" placeholder=(if show.is_some() { "" } else { "New show's name" })
                    maxlength="80" value=(show.map(|s| s.name.as_str()).unwrap_or(""));
            }
            label class="wide" {
                "Day"
                select name="day" {
                    @for (i, day) in DAYS.iter().enumerate() {
                        option selected[show.is_some_and(|s| s.day as usize == i)] { (day) }
                    }
                }
            }
            label {
                "Starts"
                input name="start" type="time"
                    value=(show.map(|s| Show::hhmm(s.start)).unwrap_or_default());
            }
            label {
                "Ends"
                input name="end" type="time"
                    value=(show.map(|s| Show::hhmm(s.end)).unwrap_or_default());
            }
        }
    }
}

fn sisters(tr: Tr, s: &Sisters, csrf: &Markup, err: Option<&FormError>) -> Markup {
    section(
        "federation",
        "Sister stations",
        html! {
            p { "This box's key: " b class="mono" { (s.fingerprint) } }
            p class="hint" {
                "Stations that follow this one check its catalog with this key. Read it to \
                 them to compare. Keep a copy: a replacement box with the same key is trusted \
                 at once."
            }
            p { a class="button" href="/admin/key" download { "Save a copy of the key" } }
            h3 { "Stations this box follows" }
            ul {
                @for f in &s.follows {
                    li {
                        b { (f.station.as_deref().unwrap_or("")) } " " (f.url) br;
                        "key " (f.fingerprint.as_deref().unwrap_or("not seen yet")) br;
                        @match (&f.error, f.last_ok) {
                            (Some(e), _) => {
                                span class="error" { (e) }
                                " (next try in " (f.retry_in_secs.unwrap_or(0)) " s)"
                            }
                            (None, Some(_)) => {
                                (f.mirrored) " of " (f.items) " episodes mirrored"
                            }
                            (None, None) => "first contact pending",
                        }
                        @if let Some(c) = &f.claim { br; "The station says: " (c) }
                    }
                } @if s.follows.is_empty() {
                    li { "None yet: add a station's address under Settings." }
                }
            }
            (mirrors(tr, &s.mirrors, s.now, csrf, err))
            h3 { "Trackers" }
            p class="hint" {
                "Trackers help listeners find each other. The box checks each every few \
                 minutes; links list the healthy ones first."
            }
            ul {
                @for (url, st) in &s.trackers {
                    li {
                        (url) br;
                        @if st.dead() {
                            span class="error" {
                                "not answering (" (st.last_error.as_deref().unwrap_or(""))
                                "); left out of links"
                            }
                        } @else {
                            (format!("{:.0}", st.success_rate() * 100.0)) " % answered"
                            @if let Some(ms) = st.latency_ms { ", " (ms) " ms" }
                        }
                    }
                }
                @if s.trackers.is_empty() { li { "Not checked yet." } }
            }
            details {
                summary { "Use the key of an old box" }
                form method="post" action="/admin/key" class="stack" {
                    (csrf)
                    label { "Saved key" textarea name="key" rows="3" required {} }
                    (problem(tr, err, "key"))
                    button type="submit" { "Use this key" }
                }
            }
        },
    )
}

/// "3 minutes ago", from Unix seconds.
fn ago(then: u64, now: u64) -> String {
    match now.saturating_sub(then) {
        s if s < 60 => "just now".into(),
        s if s < 2 * 3600 => format!("{} minute(s) ago", s / 60),
        s if s < 2 * 86400 => format!("{} hour(s) ago", s / 3600),
        s => format!("{} day(s) ago", s / 86400),
    }
}

/// The boxes that mirror this station: listed, waiting for approval or dropped, with the
/// last check in words and a button for each; then the removed ones.
fn mirrors(tr: Tr, v: &MirrorsView, now: u64, csrf: &Markup, err: Option<&FormError>) -> Markup {
    let button = |action: &str, url: &str, label: &str| {
        html! {
            form method="post" action="/admin/mirrors" class="inline" {
                (csrf)
                input type="hidden" name="action" value=(action);
                input type="hidden" name="url" value=(url);
                button type="submit" class="quiet" { (label) }
            }
        }
    };
    html! {
        h3 { "Boxes that mirror this station" }
        p class="hint" {
            "A box is listed as a mirror only after this box downloaded random pieces of the              episodes it holds and found them the same as here. Each is checked again              regularly and dropped if it fails."
            @if v.approval { " New mirrors also wait for your approval (Settings)." }
        }
        (problem(tr, err, "mirrors"))
        ul id="mirrors" {
            @for m in &v.mirrors {
                li {
                    b { (m.url) } br;
                    @match m.standing {
                        Standing::Listed => {
                            "Listed for " (m.episodes) " episode(s). "
                        }
                        Standing::AwaitingApproval => {
                            "Holds " (m.episodes) " episode(s); waiting for your approval. "
                        }
                        Standing::Dropped => {
                            span class="error" { "Not listed: its last check failed. " }
                        }
                    }
                    "Checked " (ago(m.last_check.at, now)) ": " (m.last_check.words) "."
                    @if let Some(v) = m.verified.filter(|v| *v != m.last_check.at) {
                        " Last passed " (ago(v, now)) "."
                    }
                    br;
                    @if m.standing == Standing::AwaitingApproval {
                        (button("approve", &m.url, "Approve"))
                    }
                    (button("remove", &m.url, "Remove"))
                }
            }
            @if v.mirrors.is_empty() { li { "None yet." } }
        }
        @if !v.removed.is_empty() {
            h3 { "Removed mirrors" }
            p class="hint" {
                "These boxes are not listed, whatever they claim, until you allow them again."
            }
            ul {
                @for r in &v.removed {
                    li {
                        (r.url) " (removed " (ago(r.at, now)) ") "
                        (button("allow", &r.url, "Allow again"))
                    }
                }
            }
        }
    }
}

fn settings(d: &Dashboard, csrf: &Markup) -> Markup {
    let (tr, s, err) = (d.tr, &d.settings, d.err);
    let current_audio = s.audio.to_string();
    let lines = |v: &[String]| v.join("\n");
    section(
        "settings",
        "Settings",
        html! {
            form method="post" action="/admin/settings" class="stack" {
                (csrf)
                (station_fields(tr, s, err, "About the station"))
                label {
                    "Sound input"
                    select name="audio" {
                        @for (value, label) in &d.audio_choices {
                            option value=(value) selected[*value == current_audio] { (label) }
                        }
                    }
                }
                p class="hint" { "After saving, watch the level bars above move with the mixer." }
                (problem(tr, err, "audio"))
                label {
                    "Stream quality (kb/s; 128 is good, 64 saves data)"
                    input name="bitrate_kbps" type="number" min="16" max="510"
                        value=(s.live.bitrate_kbps);
                }
                (problem(tr, err, "live.bitrate_kbps"))
                (problem(tr, err, "bitrate_kbps"))
                label {
                    "Library folders (one per line)"
                    textarea name="library" rows="3" {
                        (s.library.iter().map(|p| p.display().to_string()).collect::<Vec<_>>()
                            .join("\n"))
                    }
                }
                p class="hint" {
                    @if d.usb.is_empty() {
                        "No USB storage detected right now."
                    } @else {
                        "USB storage found: "
                        @for (i, p) in d.usb.iter().enumerate() {
                            @if i > 0 { ", " }
                            (p.display())
                        }
                    }
                }
                (problem(tr, err, "library"))
                label {
                    "Upload limit for sharing (KiB/s, 0 = no limit; lower it if the home \
                     internet gets slow)"
                    input name="upload_limit_kib" type="number" min="0"
                        value=(s.swarm.upload_limit_kib);
                }
                (problem(tr, err, "upload_limit_kib"))
                label {
                    "Extra trackers (one per line; they help listeners find each other)"
                    textarea name="trackers" rows="3" { (lines(&s.swarm.trackers)) }
                }
                (problem(tr, err, "swarm.trackers"))
                label {
                    "Public address listeners use (empty: the address in the browser)"
                    input name="public_url" type="url" value=(s.public_url.as_deref().unwrap_or(""))
                        placeholder="http://radio.example.org";
                }
                (problem(tr, err, "public_url"))
                label {
                    "Largest upload (MB)"
                    input name="max_upload_mb" type="number" min="1" value=(s.admin.max_upload_mb);
                }
                (problem(tr, err, "admin.max_upload_mb"))
                (problem(tr, err, "max_upload_mb"))
                label {
                    "Sister stations to follow and mirror (one address per line)"
                    textarea name="follow" rows="2" placeholder="http://radio-b.example.org" {
                        (lines(&s.federation.follow))
                    }
                }
                (problem(tr, err, "federation.follow"))
                label class="check" {
                    input type="checkbox" name="approve_mirrors"
                        checked[s.federation.approve_mirrors];
                    " New mirrors of this station need my approval before they are listed"
                }
                label class="check" {
                    input type="checkbox" name="allow_remote_admin" checked[s.admin.allow_remote];
                    " Allow this page from outside the local network (only with a strong \
                     password)"
                }
                button type="submit" { "Save settings" }
            }
        },
    )
}
