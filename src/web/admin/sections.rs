//! The dashboard's HTML, one renderer per section, from the values [`Dashboard`] gathered.
//! The element ids, form names and classes are what `admin.js` and the tests look for.
//! Every word comes from the page's language (`locales/<lang>/dashboard.ftl`).

use maud::{html, Markup};
use serde_json::json;

use super::{
    dashboard::{Dashboard, Episode, LibraryView, LiveWords, OnAir, Sisters, Stick, TrackChoice},
    error::FormError,
    pages::{self, problem, shell},
    share::Audience,
    stale::{self, fingerprint},
    tasks::Task,
};
use crate::{
    config::operator::{Show, ShowKind},
    federation::{
        mirrors::{MirrorsView, Standing, Verdict},
        FollowProblem, FollowStatus,
    },
    i18n::{
        format::{self, ago, decimal, number, on_one_line, size, weekday},
        Lang, Tr,
    },
    system::portmap::{PortMapStatus, PortState, PortStatus, Purpose, Refusal},
    t,
    tls::{ProblemKind, Source, TlsStatus},
};

/// A page of the config page: the home screen (what goes out, how it sounds, who listens,
/// and a link to each task) or one task's page, with its own forms.
pub fn page(task: Task, d: &Dashboard) -> Markup {
    let (tr, csrf) = (d.tr, csrf_field(&d.csrf));
    let station = d.settings.station.name.as_str();
    let title = match task {
        Task::Home => t!(tr, "dash-title", station = station),
        _ => t!(
            tr,
            "dash-task-title",
            task = task.name(tr),
            station = station
        ),
    };
    shell(
        tr,
        &title,
        html! {
            header data-words=(script_words(tr)) {
                @if task == Task::Home {
                    h1 { (station) }
                } @else {
                    a class="home" href=(Task::Home.path()) { (t!(tr, "dash-back-home")) }
                }
                form method="post" action="/admin/logout" {
                    (csrf)
                    button type="submit" class="quiet" { (t!(tr, "dash-log-out")) }
                }
            }
            @if task != Task::Home {
                h1 { (task.name(tr)) }
            }
            @if !d.notice.is_empty() {
                p class="notice" role="status" { (d.notice) }
            }
            (problem(tr, d.err, ""))
            @if d.welcome { (welcome(tr, task)) }
            @match task {
                Task::Home => (home(d, &csrf)),
                Task::Sound => (sound(d, &csrf)),
                Task::Episodes => {
                    (publish(tr, &d.csrf, d.settings.admin.max_upload_mb))
                    (episodes(tr, &d.episodes, &csrf))
                }
                Task::Schedule => {
                    (schedule(d, &csrf))
                    (music(tr, &d.music, &csrf, d.err, &stale::music(&d.settings)))
                }
                Task::Share => {
                    (share(tr, &d.share, d.air.on, station))
                    (public_address(d, &csrf))
                    @if let Some(r) = &d.reach { (reach(tr, r)) }
                    @if let Some(https) = &d.https { (padlock(tr, https)) }
                }
                Task::Storage => {
                    (usb(tr, &d.sticks, &csrf))
                    (library(tr, &d.library, &d.live))
                }
                Task::Sisters => {
                    (sisters(tr, &d.sisters, &csrf, d.err))
                    (following(d, &csrf))
                }
                Task::Settings => {
                    (station_settings(d, &csrf))
                    (logo(tr, d.logo, &csrf, d.err))
                    @if let Some(card) = super::update::card(tr, &d.update, &d.live.update, &csrf) { (card) }
                }
                Task::Technical => {
                    (swarm(tr, &d.live))
                    (trackers(tr, &d.sisters))
                    (technical(d, &csrf))
                }
            }
        },
    )
}

/// The first run's steps after the password, each one question: where the sound comes from,
/// then how listeners will reach the box. Steps 1 to 3 (language, name, password) come
/// before login (`pages::setup_language`).
fn welcome(tr: Tr, task: Task) -> Markup {
    let (n, title, text, next, next_words) = match task {
        Task::Sound => (
            4,
            t!(tr, "dash-welcome-sound-title"),
            t!(tr, "dash-welcome-sound"),
            format!("{}?welcome=1", Task::Share.path()),
            t!(tr, "dash-welcome-next"),
        ),
        Task::Share => (
            5,
            t!(tr, "dash-welcome-share-title"),
            t!(tr, "dash-welcome-share"),
            Task::Home.path().to_string(),
            t!(tr, "dash-welcome-finish"),
        ),
        _ => return html! {},
    };
    html! {
        section id="welcome" class="card welcome" aria-labelledby="welcome-title" {
            (pages::step_of(tr, n))
            h2 id="welcome-title" { (title) }
            p { (text) }
            a class="button" href=(next) { (next_words) }
        }
    }
}

/// The home screen: the warnings, what goes out and who listens, then the tasks.
fn home(d: &Dashboard, csrf: &Markup) -> Markup {
    let tr = d.tr;
    html! {
        div id="warnings" class="warnings" role="alert" hidden[d.live.warnings.is_empty()] {
            @for w in &d.live.warnings { p { (w) } }
        }
        (on_air(tr, &d.air, &d.live))
        @if d.sticks.iter().any(|s| s.present) {
            section id="sticks" class="card" aria-labelledby="sticks-title" {
                h2 id="sticks-title" { (t!(tr, "dash-usb-title")) }
                ul {
                    @for stick in d.sticks.iter().filter(|s| s.present) {
                        li { b { (stick.label) } " · " (stick_line(tr, stick)) }
                    }
                }
                p { a href=(Task::Storage.path()) { (Task::Storage.name(tr)) } }
            }
        }
        @if d.update.managed && d.update.available.is_some() {
            @if let Some(card) = super::update::card(tr, &d.update, &d.live.update, csrf) { (card) }
        }
        nav class="tasks" aria-label=(t!(tr, "dash-nav")) {
            @for task in Task::LINKED {
                a href=(task.path()) { (task.name(tr)) }
            }
        }
    }
}

/// The words the script writes by itself (copy buttons, the upload's progress, the level
/// meter), as JSON for the page's `data-words`: templates with `{name}` holes the script
/// fills, and how this language writes sizes.
fn script_words(tr: Tr) -> String {
    let hole = |name: &str| format!("{{{name}}}");
    json!({
        "copy": t!(tr, "dash-copy"),
        "copied": t!(tr, "dash-js-copied"),
        "selected": t!(tr, "dash-js-selected"),
        "choose_file": t!(tr, "dash-js-choose-file"),
        "sending": t!(tr, "dash-js-sending", done = hole("done"), total = hole("total")),
        "retry": t!(tr, "dash-js-retry", n = hole("n")),
        "published": t!(tr, "dash-js-published"),
        "error": t!(tr, "dash-js-error", status = hole("status")),
        "meter": t!(tr, "dash-meter-now", left = hole("left"), right = hole("right")),
        "meter_quiet": t!(tr, "dash-meter-quiet"),
        "level_quiet": t!(tr, "dash-meter-word-quiet"),
        "level_good": t!(tr, "dash-meter-word-good"),
        "level_loud": t!(tr, "dash-meter-word-loud"),
        // Sizes as `i18n::format::size` writes them: the unit templates and the decimal
        // mark (the second character of "0.5" in this language).
        "size": {
            "b": t!(tr, "size-bytes", n = hole("n")),
            "kb": t!(tr, "size-kb", n = hole("n")),
            "mb": t!(tr, "size-mb", n = hole("n")),
            "gb": t!(tr, "size-gb", n = hole("n")),
            "mark": decimal(tr, 0.5, 1).chars().nth(1).unwrap_or('.').to_string(),
        },
    })
    .to_string()
}

fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

fn section(id: &str, title: &str, body: Markup) -> Markup {
    html! {
        section id=(id) class="card" aria-labelledby={ (id) "-title" } {
            h2 id={ (id) "-title" } { (title) }
            (body)
        }
    }
}

fn on_air(tr: Tr, air: &OnAir, live: &LiveWords) -> Markup {
    section(
        "air",
        &t!(tr, "dash-air-title"),
        html! {
            p class="big" {
                span id="air-state" class={ "badge " (live.air_look) } role="status" { (live.air) }
            }
            @if air.on {
                (level(tr))
            } @else {
                p class="hint" {
                    (t!(tr, "dash-air-off-hint")) " "
                    a href=(Task::Sound.path()) { (Task::Sound.name(tr)) }
                }
            }
            dl class="stats" {
                div {
                    dt { (t!(tr, "dash-stat-listeners")) }
                    dd id="listeners" { (air.listeners.total) }
                }
                div class="long" {
                    dt { (t!(tr, "dash-stat-ways")) }
                    dd id="listen-ways" { (live.listen_ways) }
                }
                div class="long" {
                    dt { (t!(tr, "dash-stat-room")) }
                    dd id="room" { (live.room) }
                }
                div class="long" {
                    dt { (t!(tr, "dash-stat-yesterday")) }
                    dd id="yesterday" { (live.yesterday) }
                }
                div { dt { (t!(tr, "dash-stat-p2p")) } dd id="p2p" { "–" } }
                div { dt { (t!(tr, "dash-stat-uptime")) } dd id="uptime" { (live.uptime) } }
                @if let Some(pushes) = &live.pushes {
                    div class="long" {
                        dt { (t!(tr, "dash-stat-pushes")) }
                        dd id="pushes" { (pushes) }
                    }
                }
            }
            h3 { (t!(tr, "dash-two-days")) }
            // The key, once for both charts; the sentence under each says it all in words.
            p class="legend" aria-hidden="true" {
                span class="today" { (t!(tr, "dash-chart-today")) }
                span class="yesterday" { (t!(tr, "dash-stat-yesterday")) }
            }
            (chart("listeners", &t!(tr, "dash-graph-listeners"), &live.listeners_chart))
            (chart("upload", &t!(tr, "dash-graph-upload"), &live.upload_chart))
            @if air.on {
                p {
                    a href="/admin/plays.csv" download { (t!(tr, "dash-plays-download")) }
                }
            }
        },
    )
}

/// A stick's state in one line: its files and whether they are shared, or why not.
fn stick_line(tr: Tr, s: &Stick) -> String {
    match (s.present, s.shared) {
        (false, _) => t!(tr, "dash-usb-away", n = s.offline as u64),
        (true, false) => t!(tr, "dash-usb-stopped", n = s.offline as u64),
        (true, true) => t!(tr, "dash-usb-shared", n = s.files as u64),
    }
}

/// The USB sticks by name: each with its size, free space and audio files, and a switch
/// that stops or resumes sharing it (remembered by its label, across pulls and restarts).
fn usb(tr: Tr, sticks: &[Stick], csrf: &Markup) -> Markup {
    section(
        "usb",
        &t!(tr, "dash-usb-title"),
        html! {
            @if sticks.is_empty() {
                p { (t!(tr, "dash-usb-none")) }
            }
            ul class="sticks" {
                @for s in sticks {
                    li {
                        b { (s.label) }
                        @if let Some((total, free)) = s.space {
                            " " span class="hint" {
                                (t!(tr, "dash-usb-space", size = size(tr, total), free = size(tr, free)))
                            }
                        }
                        br;
                        (stick_line(tr, s))
                        @if !s.skipped.is_empty() {
                            details class="skipped" {
                                summary { (t!(tr, "dash-usb-skipped", n = s.skipped.len() as u64)) }
                                ul {
                                    @for (file, why) in &s.skipped {
                                        li { span class="path" { (file) } " — " (why) }
                                    }
                                }
                            }
                        }
                        form method="post" action="/admin/usb" {
                            (csrf)
                            input type="hidden" name="label" value=(s.label);
                            @if s.shared {
                                input type="hidden" name="share" value="off";
                                button type="submit" class="quiet" { (t!(tr, "dash-usb-stop")) }
                            } @else {
                                input type="hidden" name="share" value="on";
                                button type="submit" { (t!(tr, "dash-usb-resume")) }
                            }
                        }
                    }
                }
            }
            p class="hint" { (t!(tr, "dash-usb-hint")) }
        },
    )
}

/// How it sounds: the level meter with its scale and a word for it, and the Listen button
/// that plays the station's stream in the page, as listeners get it.
fn level(tr: Tr) -> Markup {
    html! {
        // An image to assistive technology, named by the levels in words (the script keeps
        // the name current); the bars themselves say nothing.
        div id="meter" class="meter" role="img" aria-label=(t!(tr, "dash-meter-quiet")) {
            div id="meter-l" {}
            div id="meter-r" {}
        }
        // The bars' scale: -60 dB at the left edge, 0 dB (the loudest) at the right.
        div class="scale" aria-hidden="true" {
            span { "−60" } span { "−40" } span { "−20" } span { "0 dB" }
        }
        p class="level" { b id="meter-word" { (t!(tr, "dash-meter-word-none")) } }
        p class="hint" { (t!(tr, "dash-meter-hint")) }
        p {
            button type="button" id="listen" data-stream="/live.mp3"
                data-stop=(t!(tr, "dash-listen-stop")) { (t!(tr, "dash-listen")) }
        }
    }
}

/// A chart the script draws today and yesterday into, from midnight to midnight. Its
/// hours are written under it in the page (never inside the drawing, where they met the
/// lines at 320 px), and a sentence says what it shows.
fn chart(id: &str, caption: &str, text: &str) -> Markup {
    html! {
        figure {
            figcaption { (caption) }
            svg id={ "graph-" (id) } class="graph" viewBox="0 0 288 60"
                preserveAspectRatio="none" aria-hidden="true" {}
            div class="axis" aria-hidden="true" {
                span { "0:00" } span { "6:00" } span { "12:00" } span { "18:00" } span { "24:00" }
            }
            p id={ "graph-" (id) "-text" } class="hint" { (text) }
        }
    }
}

fn library(tr: Tr, lib: &LibraryView, live: &LiveWords) -> Markup {
    section(
        "library",
        &t!(tr, "dash-library-title"),
        html! {
            p class="big" {
                (t!(tr, "dash-library-items")) " " span id="items" { (number(tr, lib.items as u64)) }
            }
            div id="hashing" hidden[live.hashing.is_none()] {
                p {
                    (t!(tr, "dash-hashing")) " "
                    span id="hash-text" { (live.hashing.as_deref().unwrap_or("")) }
                }
                progress id="hash-bar" max="1" value="0" aria-labelledby="hash-text" {}
                p class="hint" { (t!(tr, "dash-hashing-hint")) }
            }
            h3 { (t!(tr, "dash-storage")) }
            ul {
                @for r in &lib.roots {
                    li {
                        span class="path" { (r.path.display()) } " — "
                        @match (r.present, r.free) {
                            (false, _) => (t!(tr, "dash-storage-missing")),
                            (true, Some(free)) => {
                                (t!(tr, "dash-storage-free", free = size(tr, free)))
                            }
                            (true, None) => (t!(tr, "dash-storage-present")),
                        }
                    }
                } @if lib.roots.is_empty() {
                    li { (t!(tr, "dash-storage-none")) }
                }
            }
            @if !lib.problems.is_empty() {
                h3 { (t!(tr, "dash-problems")) }
                ul {
                    @for (path, why) in &lib.problems {
                        li { span class="path" { (path.display()) } ": " (why) }
                    }
                }
            }
        },
    )
}

fn publish(tr: Tr, csrf: &str, max_upload_mb: u64) -> Markup {
    // The limit as the operator set it, in whole megabytes.
    let max = on_one_line(&t!(tr, "size-mb", n = number(tr, max_upload_mb)));
    section(
        "publish",
        &t!(tr, "dash-publish-title"),
        html! {
            form id="upload" class="stack" data-csrf=(csrf) {
                label {
                    (t!(tr, "dash-upload-file", max = max))
                    input type="file" id="upload-file" accept="audio/*" required;
                }
                label { (t!(tr, "dash-field-title")) input id="upload-title" maxlength="200"; }
                label {
                    (t!(tr, "dash-field-notes"))
                    textarea id="upload-desc" rows="3" maxlength="5000" {}
                }
                button type="submit" { (t!(tr, "dash-upload-submit")) }
                progress id="upload-bar" max="1" value="0" hidden
                    aria-labelledby="upload-status" {}
                p id="upload-status" role="status" {}
            }
            p class="hint" { (t!(tr, "dash-upload-hint")) }
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

fn share(tr: Tr, links: &[(Audience, String)], live: bool, station: &str) -> Markup {
    let public = links.iter().any(|(who, _)| *who == Audience::Anyone);
    // The other links, for the address most people can open.
    let more: Vec<(String, String)> = links
        .first()
        .map(|(_, base)| {
            let live = live.then(|| (t!(tr, "dash-share-live"), format!("{base}/live.mp3")));
            live.into_iter()
                .chain([(t!(tr, "dash-share-feed"), format!("{base}/feed.xml"))])
                .collect()
        })
        .unwrap_or_default();
    section(
        "share",
        &t!(tr, "dash-share-title"),
        html! {
            @if !public {
                p class="hint" {
                    @if links.is_empty() {
                        (t!(tr, "dash-share-none"))
                    } @else {
                        (t!(tr, "dash-share-no-public"))
                    }
                    " "
                    a href="#public-address" { (t!(tr, "dash-share-set-public")) }
                }
            }
            @for (who, base) in links {
                @let url = format!("{base}/");
                @let label = match who {
                    Audience::Anyone => t!(tr, "dash-share-anyone"),
                    Audience::ThisNetwork => t!(tr, "dash-share-this-wifi"),
                };
                div class="share" {
                    img src=(qr_src(&url)) alt=(t!(tr, "dash-share-qr", what = label.as_str()))
                        width="132" height="132";
                    div {
                        b { (label) }
                        input readonly value=(url)
                            aria-label=(t!(tr, "dash-share-address", what = label.as_str()));
                        div class="actions" {
                            button type="button" class="copy" data-copy=(url) { (t!(tr, "dash-copy")) }
                            // Shown by the script where the browser has a share sheet.
                            button type="button" class="share-sheet" data-share=(url)
                                data-title=(station) hidden { (t!(tr, "dash-share-button")) }
                        }
                    }
                }
            }
            @if !more.is_empty() {
                details {
                    summary { (t!(tr, "dash-share-more")) }
                    @for (label, url) in &more {
                        label { (label) input readonly value=(url); }
                        button type="button" class="copy" data-copy=(url) { (t!(tr, "dash-copy")) }
                    }
                }
            }
        },
    )
}

/// The home router: how many of the box's doors (ports) it opened, each one's state, and
/// the address the internet sees.
fn reach(tr: Tr, r: &PortMapStatus) -> Markup {
    let total = r.ports.len().to_string();
    let open = r.open().to_string();
    let searching = r.ports.iter().all(|p| p.state == PortState::Trying);
    let no_router = r.ports.iter().all(|p| p.state == PortState::NoRouter);
    // TCP and UDP on one port read the same to the operator: one line each.
    let mut doors: Vec<String> = r.ports.iter().map(|p| door(tr, p)).collect();
    doors.dedup();
    // The doors the router would not open, as a router's own settings page names them
    // (protocol and number), for the operator to open by hand.
    let closed: Vec<String> = r
        .ports
        .iter()
        .filter(|p| matches!(p.state, PortState::Refused { .. } | PortState::NoRouter))
        .map(|p| format!("{} {}", p.mapping.protocol, p.mapping.internal_port))
        .collect();
    let closed = closed.join(", ");
    section(
        "reach",
        &t!(tr, "dash-reach-title"),
        html! {
            p class="hint" { (t!(tr, "dash-reach-hint")) }
            p role="status" {
                @if searching {
                    (t!(tr, "dash-reach-searching"))
                } @else if no_router {
                    (t!(tr, "dash-reach-no-router"))
                } @else {
                    (t!(tr, "dash-reach-open", open = open.as_str(), total = total.as_str()))
                }
            }
            @if let Some(ip) = r.external_ip {
                p { (t!(tr, "dash-reach-address", ip = ip.to_string())) }
            }
            @if !searching && !no_router {
                ul { @for d in &doors { li { (d) } } }
            }
            @if !closed.is_empty() {
                p class="hint" {
                    @if let Some(ip) = r.lan_address {
                        (t!(tr, "dash-reach-by-hand", ports = closed.as_str(), address = ip.to_string()))
                    } @else {
                        (t!(tr, "dash-reach-by-hand-no-address", ports = closed.as_str()))
                    }
                }
            }
        },
    )
}

/// The https certificate: until when it is good, or what stops the box getting one, in
/// plain words (the service's own, in English, folded away for whoever helps).
fn padlock(tr: Tr, https: &TlsStatus) -> Markup {
    let now = chrono::Utc::now().timestamp();
    let day = |secs: i64| {
        use chrono::Datelike as _;
        let at = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
        let local: chrono::DateTime<chrono::Local> = at.into();
        format::date(tr, local.year(), local.month(), local.day())
    };
    let name = https.domain.clone().unwrap_or_default();
    section(
        "https",
        &t!(tr, "dash-https-title"),
        html! {
            @match &https.certificate {
                Some(c) if c.not_after > now => {
                    p { (t!(tr, "dash-https-valid", date = day(c.not_after))) }
                    @match https.source {
                        Source::Acme => p { (t!(tr, "dash-https-renews")) },
                        Source::Files => p { (t!(tr, "dash-https-files")) },
                    }
                }
                Some(c) => p { (t!(tr, "dash-https-expired", date = day(c.not_after))) },
                None if https.problem.is_none() => p { (t!(tr, "dash-https-waiting", name = name.as_str())) },
                None => {}
            }
            @if let Some(problem) = &https.problem {
                div class="warnings" role="alert" {
                    p {
                        (match problem.kind {
                            ProblemKind::ChallengeFailed => t!(tr, "dash-https-problem-challenge", name = name.as_str()),
                            ProblemKind::Unreachable => t!(tr, "dash-https-problem-unreachable"),
                            ProblemKind::Refused => t!(tr, "dash-https-problem-refused"),
                            ProblemKind::Storage => t!(tr, "dash-https-problem-storage"),
                            ProblemKind::BadCertificate => t!(tr, "dash-https-problem-bad"),
                        })
                    }
                    @match https.source {
                        // The operator's files: the certificate in use stays until new
                        // files can be used.
                        Source::Files => p { (t!(tr, "dash-https-files-retry")) },
                        Source::Acme => p { (t!(tr, "dash-https-retry")) },
                    }
                }
                details {
                    summary { (t!(tr, "dash-https-detail")) }
                    p { code { (problem.detail) } }
                }
            }
        },
    )
}

/// One door in plain words: open (maybe under another number outside), or why the router
/// said no.
fn door(tr: Tr, p: &PortStatus) -> String {
    let port = p.mapping.internal_port.to_string();
    let what = match p.mapping.what {
        Purpose::Peers => t!(tr, "dash-reach-what-peers"),
        Purpose::UdpTracker => t!(tr, "dash-reach-what-udp-tracker"),
        Purpose::Web => t!(tr, "dash-reach-what-web"),
        Purpose::Https => t!(tr, "dash-reach-what-https"),
        Purpose::Stun => t!(tr, "dash-reach-what-stun"),
    };
    let (port, what) = (port.as_str(), what.as_str());
    match &p.state {
        PortState::Open { external_port } if *external_port == p.mapping.internal_port => {
            t!(tr, "dash-reach-door-open", port = port, what = what)
        }
        PortState::Open { external_port } => t!(
            tr,
            "dash-reach-door-moved",
            port = port,
            what = what,
            external = external_port.to_string()
        ),
        PortState::Refused {
            reason: Refusal::NotAllowed,
        } => t!(
            tr,
            "dash-reach-refused-not-allowed",
            port = port,
            what = what
        ),
        PortState::Refused {
            reason: Refusal::Taken,
        } => t!(tr, "dash-reach-refused-taken", port = port, what = what),
        PortState::Refused {
            reason: Refusal::Other(reason),
        } => t!(
            tr,
            "dash-reach-refused-other",
            port = port,
            what = what,
            reason = reason.as_str()
        ),
        PortState::Trying | PortState::NoRouter => {
            t!(tr, "dash-reach-trying", port = port, what = what)
        }
    }
}

fn episodes(tr: Tr, list: &[Episode], csrf: &Markup) -> Markup {
    section(
        "episodes",
        &t!(tr, "dash-episodes-title"),
        html! {
            @for e in list {
                details class="episode" {
                    summary {
                        span { (e.title) small { (e.recorded) } }
                        span class="edit" { (t!(tr, "dash-episode-edit")) }
                    }
                    form method="post" action="/admin/item" class="stack" {
                        (csrf)
                        input type="hidden" name="infohash" value=(e.infohash);
                        input type="hidden" name="seen" value=(e.seen);
                        label {
                            (t!(tr, "dash-field-title"))
                            input name="title" maxlength="200" value=(e.own_title)
                                placeholder=(e.file_title);
                        }
                        label {
                            (t!(tr, "dash-field-notes"))
                            textarea name="description" rows="3" maxlength="5000" { (e.own_notes) }
                        }
                        @if e.recording {
                            label class="check" {
                                input type="checkbox" name="keep" value="on" checked[e.keep];
                                (t!(tr, "dash-field-keep"))
                            }
                        }
                        button type="submit" { (t!(tr, "dash-save")) }
                    }
                    p class="actions" {
                        a href=(crate::web::page::episode_href(&e.infohash)) {
                            (t!(tr, "dash-episode-page"))
                        }
                        button type="button" class="copy" data-copy=(e.magnet) {
                            (t!(tr, "dash-copy-magnet"))
                        }
                        a class="qr" href=(qr_src(&e.magnet)) { (t!(tr, "dash-qr-code")) }
                    }
                }
            }
            @if list.is_empty() {
                p { (t!(tr, "dash-episodes-none")) }
            }
        },
    )
}

/// The station's picture: the one in use, a form to send another from the phone, and the
/// way back to the drawn one.
fn logo(tr: Tr, version: Option<usize>, csrf: &Markup, err: Option<&FormError>) -> Markup {
    let preview = format!("/icons/icon-192.png?v={}", version.unwrap_or(0));
    section(
        "logo",
        &t!(tr, "dash-logo-title"),
        html! {
            img class="logo" src=(preview) width="96" height="96"
                alt=(t!(tr, "dash-logo-now"));
            p class="hint" { (t!(tr, "dash-logo-hint")) }
            (problem(tr, err, "logo"))
            form method="post" action="/admin/logo" enctype="multipart/form-data" class="stack" {
                (csrf)
                label {
                    (t!(tr, "dash-logo-file"))
                    input type="file" name="logo" accept="image/jpeg,image/png,image/webp"
                        required;
                }
                button type="submit" { (t!(tr, "dash-logo-submit")) }
            }
            @if version.is_some() {
                form method="post" action="/admin/logo" {
                    (csrf)
                    input type="hidden" name="remove" value="1";
                    button type="submit" class="quiet" { (t!(tr, "dash-logo-remove")) }
                }
            }
        },
    )
}

fn schedule(d: &Dashboard, csrf: &Markup) -> Markup {
    let (tr, shows, err) = (d.tr, &d.schedule, d.err);
    section(
        "schedule",
        &t!(tr, "dash-schedule-title"),
        html! {
            p class="hint" { (t!(tr, "dash-schedule-hint")) }
            (problem(tr, err, "schedule"))
            form method="post" action="/admin/schedule" class="stack" data-guard {
                (csrf)
                input type="hidden" name="seen"
                    value=(fingerprint(Task::Schedule, &d.settings, shows));
                @for row in schedule_rows(d) {
                    (show_row(tr, &row))
                }
                button type="submit" { (t!(tr, "dash-schedule-save")) }
            }
        },
    )
}

/// The music between shows: every audio file of the library, ticked or not.
fn music(
    tr: Tr,
    tracks: &[TrackChoice],
    csrf: &Markup,
    err: Option<&FormError>,
    seen: &str,
) -> Markup {
    let ticked = tracks.iter().filter(|t| t.chosen).count();
    section(
        "music",
        &t!(tr, "dash-music-title"),
        html! {
            p class="hint" { (t!(tr, "dash-music-hint")) }
            (problem(tr, err, "live.fallback_tracks"))
            @if tracks.is_empty() {
                p { (t!(tr, "dash-music-empty")) }
            } @else {
                form method="post" action="/admin/music" class="stack" {
                    (csrf)
                    input type="hidden" name="seen" value=(seen);
                    fieldset class="tracks" {
                        legend { (t!(tr, "dash-music-count", n = ticked, total = tracks.len())) }
                        @for track in tracks {
                            label class="check" {
                                input type="checkbox" name="track" value=(track.place)
                                    checked[track.chosen];
                                span { (track.label) small { (track.place) } }
                            }
                        }
                    }
                    button type="submit" { (t!(tr, "dash-music-save")) }
                }
            }
        },
    )
}

/// A row of the schedule form, as its fields show it.
#[derive(Default)]
struct Row {
    name: String,
    day: String,
    start: String,
    end: String,
    kind: ShowKind,
}

impl Row {
    fn of(show: &Show) -> Row {
        Row {
            name: show.name.clone(),
            day: show.day.to_string(),
            start: Show::hhmm(show.start),
            end: Show::hhmm(show.end),
            kind: show.kind,
        }
    }
}

/// The schedule's rows: as typed into the form just refused (a wrong time or an overlap
/// loses none of the other rows), else the saved shows; then one spare row that adds a
/// show.
fn schedule_rows(d: &Dashboard) -> Vec<Row> {
    let mut rows: Vec<Row> = match d.typed.filter(|f| f.get("name").is_some()) {
        Some(f) => {
            let (names, days, starts, ends, kinds) = (
                f.all("name"),
                f.all("day"),
                f.all("start"),
                f.all("end"),
                f.all("kind"),
            );
            let at = |v: &[&str], i: usize| v.get(i).copied().unwrap_or("").to_string();
            (0..names.len())
                .map(|i| Row {
                    name: at(&names, i),
                    day: at(&days, i),
                    start: at(&starts, i),
                    end: at(&ends, i),
                    kind: ShowKind::from_form(&at(&kinds, i)),
                })
                .filter(|r| !(r.name.trim().is_empty() && r.start.trim().is_empty()))
                .collect()
        }
        None => d.schedule.iter().map(Row::of).collect(),
    };
    rows.push(Row::default());
    rows
}

fn show_row(tr: Tr, row: &Row) -> Markup {
    let new_name = t!(tr, "dash-show-new");
    let spare = row.name.is_empty() && row.start.is_empty();
    html! {
        fieldset class="show" {
            label class="wide" {
                (t!(tr, "dash-show"))
                input name="name" placeholder=(if spare { new_name.as_str() } else { "" })
                    maxlength="80" value=(row.name);
            }
            label class="wide" {
                (t!(tr, "dash-show-day"))
                select name="day" {
                    @for day in 0..7u8 {
                        option value=(day) selected[row.day == day.to_string()] {
                            (weekday(tr, day))
                        }
                    }
                }
            }
            label {
                (t!(tr, "dash-show-start"))
                input name="start" type="time" value=(row.start);
            }
            label {
                (t!(tr, "dash-show-end"))
                input name="end" type="time" value=(row.end);
            }
            label class="wide" {
                (t!(tr, "dash-show-kind"))
                select name="kind" {
                    @let playlist = row.kind == ShowKind::Playlist;
                    option value="live" selected[!playlist] { (t!(tr, "dash-show-kind-live")) }
                    option value="playlist" selected[playlist] {
                        (t!(tr, "dash-show-kind-playlist"))
                    }
                }
            }
        }
    }
}

fn sisters(tr: Tr, s: &Sisters, csrf: &Markup, err: Option<&FormError>) -> Markup {
    section(
        "federation",
        &t!(tr, "dash-sisters-title"),
        html! {
            p { (t!(tr, "dash-key")) " " b class="mono" { (s.fingerprint) } }
            p class="hint" { (t!(tr, "dash-key-hint")) }
            p { a class="button" href="/admin/key" download { (t!(tr, "dash-key-download")) } }
            h3 { (t!(tr, "dash-follows")) }
            ul {
                @for f in &s.follows { li { (follow(tr, f)) } }
                @if s.follows.is_empty() {
                    li { (t!(tr, "dash-follows-none")) }
                }
            }
            (mirrors(tr, &s.mirrors, s.now, csrf, err))
            details {
                summary { (t!(tr, "dash-key-old")) }
                form method="post" action="/admin/key" class="stack" {
                    (csrf)
                    label { (t!(tr, "dash-key-saved")) textarea name="key" rows="3" required {} }
                    (problem(tr, err, "key"))
                    button type="submit" { (t!(tr, "dash-key-use")) }
                }
            }
        },
    )
}

/// The other trackers the station lists, and how each answers.
fn trackers(tr: Tr, s: &Sisters) -> Markup {
    section(
        "trackers",
        &t!(tr, "dash-trackers-title"),
        html! {
            p class="hint" { (t!(tr, "dash-trackers-hint")) }
            ul {
                @for (url, st) in &s.trackers {
                    li {
                        span class="path" { (url) } br;
                        @if st.dead() {
                            span class="error" { (t!(tr, "dash-tracker-dead")) }
                        } @else {
                            @let percent = decimal(tr, st.success_rate() * 100.0, 0);
                            @if let Some(ms) = st.latency_ms {
                                (t!(tr, "dash-tracker-ok-ms", percent = percent, ms = number(tr, ms.into())))
                            } @else {
                                (t!(tr, "dash-tracker-ok", percent = percent))
                            }
                        }
                    }
                }
                @if s.trackers.is_empty() { li { (t!(tr, "dash-trackers-none")) } }
            }
        },
    )
}

/// A followed station: its name and address, its key, and how following it goes.
fn follow(tr: Tr, f: &FollowStatus) -> Markup {
    html! {
        b { (f.station.as_deref().unwrap_or("")) } " " span class="path" { (f.url) } br;
        @match &f.fingerprint {
            Some(key) => span class="mono" { (t!(tr, "dash-follow-key", key = key.as_str())) },
            None => (t!(tr, "dash-follow-key-unseen")),
        }
        br;
        @match (&f.error, f.last_ok) {
            (Some(words), _) => {
                span class="error" {
                    @match &f.problem {
                        Some(p) => (follow_problem(tr, p)),
                        // A problem of no known kind: its words as they are.
                        None => (words),
                    }
                }
                " (" (t!(tr, "dash-follow-retry", secs = f.retry_in_secs.unwrap_or(0))) ")"
            }
            (None, Some(_)) => {
                (t!(
                    tr,
                    "dash-follow-mirrored",
                    mirrored = number(tr, f.mirrored as u64),
                    items = number(tr, f.items as u64),
                ))
            }
            (None, None) => (t!(tr, "dash-follow-pending")),
        }
        @if let Some(c) = &f.claim {
            br;
            @if f.claim_taken == Some(true) {
                (t!(tr, "dash-follow-claim-ok"))
            } @else {
                // What the other station answered is its own words: only they say why.
                (t!(tr, "dash-follow-claim-refused", why = c.as_str()))
            }
        }
    }
}

/// Why following a station failed, in words; the technical detail only where nothing
/// else says what is wrong.
fn follow_problem(tr: Tr, p: &FollowProblem) -> String {
    match p {
        FollowProblem::Unreachable => t!(tr, "dash-follow-unreachable"),
        FollowProblem::Refused(why) => t!(tr, "dash-follow-refused", why = why.as_str()),
        FollowProblem::NotStation => t!(tr, "dash-follow-not-station"),
        FollowProblem::KeyChanged => t!(tr, "dash-follow-key-changed"),
        FollowProblem::OldList => t!(tr, "dash-follow-old-list"),
        FollowProblem::Local(why) => t!(tr, "dash-follow-local", why = why.as_str()),
    }
}

/// How a mirror's check went, in words.
fn verdict(tr: Tr, v: &Verdict) -> String {
    match v {
        Verdict::Matched { pieces } => t!(tr, "dash-check-matched", pieces = *pieces),
        Verdict::Wrong { name, piece } => t!(
            tr,
            "dash-check-wrong",
            piece = number(tr, *piece as u64),
            name = name.as_str()
        ),
        Verdict::Unanswered { name } => t!(tr, "dash-check-unanswered", name = name.as_str()),
        Verdict::Nothing => t!(tr, "dash-check-nothing"),
        Verdict::Unreachable => t!(tr, "dash-check-unreachable"),
        Verdict::NotStation => t!(tr, "dash-check-not-station"),
        Verdict::BadAddress => t!(tr, "dash-check-bad-address"),
        Verdict::TooSlow => t!(tr, "dash-check-too-slow"),
    }
}

/// The boxes that mirror this station: listed, waiting for approval or dropped, with the
/// last check in words and a button for each; then the removed ones.
fn mirrors(tr: Tr, v: &MirrorsView, now: u64, csrf: &Markup, err: Option<&FormError>) -> Markup {
    let ago = |then: u64| ago(tr, now.saturating_sub(then));
    let button = |action: &str, url: &str, label: String| {
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
        h3 { (t!(tr, "dash-mirrors-title")) }
        p class="hint" {
            (t!(tr, "dash-mirrors-hint"))
            @if v.approval { " " (t!(tr, "dash-mirrors-approval")) }
        }
        (problem(tr, err, "mirrors"))
        ul id="mirrors" {
            @for m in &v.mirrors {
                li {
                    b class="path" { (m.url) } br;
                    @match m.standing {
                        Standing::Listed => {
                            (t!(tr, "dash-mirror-listed", n = m.episodes)) " "
                        }
                        Standing::AwaitingApproval => {
                            (t!(tr, "dash-mirror-waiting", n = m.episodes)) " "
                        }
                        Standing::Dropped => {
                            span class="error" { (t!(tr, "dash-mirror-dropped")) } " "
                        }
                    }
                    @let result = match &m.last_check.verdict {
                        Some(v) => verdict(tr, v),
                        // Checked before verdicts were kept: its English words.
                        None => m.last_check.words.clone(),
                    };
                    (t!(tr, "dash-mirror-checked", ago = ago(m.last_check.at), result = result))
                    @if let Some(v) = m.verified.filter(|v| *v != m.last_check.at) {
                        " " (t!(tr, "dash-mirror-passed", ago = ago(v)))
                    }
                    br;
                    @if m.standing == Standing::AwaitingApproval {
                        (button("approve", &m.url, t!(tr, "dash-approve")))
                    }
                    (button("remove", &m.url, t!(tr, "dash-remove")))
                }
            }
            @if v.mirrors.is_empty() { li { (t!(tr, "dash-mirrors-none")) } }
        }
        @if !v.removed.is_empty() {
            h3 { (t!(tr, "dash-removed-title")) }
            p class="hint" { (t!(tr, "dash-removed-hint")) }
            ul {
                @for r in &v.removed {
                    li {
                        span class="path" { (r.url) } " (" (t!(tr, "dash-removed-at", ago = ago(r.at))) ") "
                        (button("allow", &r.url, t!(tr, "dash-allow")))
                    }
                }
            }
        }
    }
}

/// The opening of a settings form: which page's fields it saves, and what they were when
/// the page was made (a change saved meanwhile from another phone is then not overwritten).
fn settings_form(d: &Dashboard, task: Task, csrf: &Markup, fields: Markup) -> Markup {
    html! {
        form method="post" action="/admin/settings" class="stack" data-guard {
            (csrf)
            input type="hidden" name="page" value=(task.form_name());
            input type="hidden" name="seen" value=(fingerprint(task, &d.settings, &d.schedule));
            @if d.welcome { input type="hidden" name="welcome" value="1"; }
            (fields)
            button type="submit" { (t!(d.tr, "dash-save")) }
        }
    }
}

/// Sound and live: the input, the stream's quality, studio computers, the music between
/// shows, the Icecast servers the programme is sent to.
fn sound(d: &Dashboard, csrf: &Markup) -> Markup {
    // Where studio software sends its stream: the station's address, then `/live`.
    let source_url = d
        .share
        .first()
        .map(|(_, base)| format!("{base}/live"))
        .unwrap_or_default();
    let (tr, s, err) = (d.tr, &d.settings, d.err);
    let current_audio = d.shown("audio", &s.audio);
    html! {
        @if d.air.on {
            section id="level" class="card" aria-labelledby="level-title" {
                h2 id="level-title" { (t!(tr, "dash-level-title")) }
                p class="big" {
                    span id="air-state" class={ "badge " (d.live.air_look) } role="status" { (d.live.air) }
                }
                (level(tr))
            }
        }
        (section(
        "sound",
        &t!(tr, "dash-sound-title"),
        settings_form(
            d,
            Task::Sound,
            csrf,
            html! {
                label {
                    (t!(tr, "dash-audio"))
                    select name="audio" {
                        @for (value, label) in &d.audio_choices {
                            option value=(value) selected[*value == current_audio] { (label) }
                        }
                    }
                }
                p class="hint" { (t!(tr, "dash-audio-hint")) }
                (problem(tr, err, "audio"))
                label {
                    (t!(tr, "dash-bitrate"))
                    input name="bitrate_kbps" type="number" min="16" max="510"
                        value=(d.shown("bitrate_kbps", s.live.bitrate_kbps));
                }
                (problem(tr, err, "live.bitrate_kbps"))
                (problem(tr, err, "bitrate_kbps"))
                label {
                    (t!(tr, "dash-source-password"))
                    input name="source_password" type="text" autocomplete="off"
                        spellcheck="false" value=(d.shown("source_password", &s.live.source_password));
                }
                p class="hint" { (t!(tr, "dash-source-password-hint", url = source_url.as_str())) }
            },
        ),
        ))
    }
}

/// The address anyone on the internet reaches the station by.
fn public_address(d: &Dashboard, csrf: &Markup) -> Markup {
    let (tr, s, err) = (d.tr, &d.settings, d.err);
    section(
        "public-address",
        &t!(tr, "dash-public-title"),
        settings_form(
            d,
            Task::Share,
            csrf,
            html! {
                label {
                    (t!(tr, "dash-public-url"))
                    input name="public_url" type="url"
                        value=(d.shown("public_url", s.public_url.as_deref().unwrap_or("")))
                        placeholder="http://radio.example.org";
                }
                (problem(tr, err, "public_url"))
            },
        ),
    )
}

/// The stations this one follows (their programmes shared from here too), and whether
/// a station that offers to mirror this one is taken without asking.
fn following(d: &Dashboard, csrf: &Markup) -> Markup {
    let (tr, s, err) = (d.tr, &d.settings, d.err);
    section(
        "following",
        &t!(tr, "dash-follow-title"),
        settings_form(
            d,
            Task::Sisters,
            csrf,
            html! {
                label {
                    (t!(tr, "dash-follow-field"))
                    textarea name="follow" rows="2" placeholder="http://radio-b.example.org" {
                        (d.shown("follow", s.federation.follow.join("\n")))
                    }
                }
                (problem(tr, err, "federation.follow"))
                label class="check" {
                    input type="checkbox" name="approve_mirrors"
                        checked[d.ticked(Task::Sisters, "approve_mirrors", s.federation.approve_mirrors)];
                    (t!(tr, "dash-approve-mirrors"))
                }
            },
        ),
    )
}

/// The station's name, description and language, the largest upload, and whether the
/// config page opens from outside the local network.
fn station_settings(d: &Dashboard, csrf: &Markup) -> Markup {
    let (tr, s, err) = (d.tr, &d.settings, d.err);
    section(
        "settings",
        &t!(tr, "dash-settings-title"),
        settings_form(
            d,
            Task::Settings,
            csrf,
            html! {
                (station_fields(d))
                label {
                    (t!(tr, "dash-max-upload"))
                    input name="max_upload_mb" type="number" min="1"
                        value=(d.shown("max_upload_mb", s.admin.max_upload_mb));
                }
                (problem(tr, err, "admin.max_upload_mb"))
                (problem(tr, err, "max_upload_mb"))
                label class="check" {
                    input type="checkbox" name="allow_remote_admin"
                        checked[d.ticked(Task::Settings, "allow_remote_admin", s.admin.allow_remote)];
                    (t!(tr, "dash-remote-admin"))
                }
            },
        ),
    )
}

/// The swarm's figures: peers, upload rate, the tracker.
fn swarm(tr: Tr, live: &LiveWords) -> Markup {
    section(
        "swarm",
        &t!(tr, "dash-swarm-title"),
        html! {
            dl class="stats" {
                div { dt { (t!(tr, "dash-stat-peers")) } dd id="peers" { "–" } }
                div {
                    dt { (t!(tr, "dash-stat-upload")) }
                    dd id="upload-rate" { (live.upload_rate) }
                }
                div class="long" {
                    dt { (t!(tr, "dash-stat-tracker")) }
                    dd id="tracker" { (live.tracker) }
                }
            }
        },
    )
}

/// What a station rarely touches: the library folders as paths, the upload limit, extra
/// trackers.
fn technical(d: &Dashboard, csrf: &Markup) -> Markup {
    let (tr, s, err) = (d.tr, &d.settings, d.err);
    section(
        "technical",
        &t!(tr, "dash-technical-title"),
        settings_form(
            d,
            Task::Technical,
            csrf,
            html! {
                label {
                    (t!(tr, "dash-library-folders"))
                    textarea name="library" rows="3" {
                        (d.shown("library", s.library.iter().map(|p| p.display().to_string())
                            .collect::<Vec<_>>().join("\n")))
                    }
                }
                p class="hint" {
                    (t!(tr, "dash-usb-root", folder = d.settings.usb_root.display().to_string()))
                }
                (problem(tr, err, "library"))
                label {
                    (t!(tr, "dash-upload-limit"))
                    input name="upload_limit_kib" type="number" min="0"
                        value=(d.shown("upload_limit_kib", s.swarm.upload_limit_kib));
                }
                (problem(tr, err, "upload_limit_kib"))
                label {
                    (t!(tr, "dash-extra-trackers"))
                    textarea name="trackers" rows="3" { (d.shown("trackers", s.swarm.trackers.join("\n"))) }
                }
                (problem(tr, err, "swarm.trackers"))
                label {
                    (t!(tr, "dash-fallback-folder"))
                    input name="fallback_folder" type="text" spellcheck="false"
                        value=(d.shown("fallback_folder", &s.live.fallback_folder))
                        placeholder=(t!(tr, "dash-fallback-whole-library"));
                }
                p class="hint" { (t!(tr, "dash-fallback-folder-hint")) }
                (problem(tr, err, "live.fallback_folder"))
                label {
                    (t!(tr, "dash-push"))
                    textarea name="push" rows="2" spellcheck="false" autocomplete="off"
                        placeholder="icecast://source:PASSWORD@stream.example.org:8000/radio.mp3" {
                        (d.shown("push", s.live.push.iter().map(|t| t.line()).collect::<Vec<_>>().join("\n")))
                    }
                }
                p class="hint" { (t!(tr, "dash-push-hint")) }
                (problem(tr, err, "live.push"))
            },
        ),
    )
}

/// The station's name, description and language, in the settings. The language list
/// shows each language by its own name.
fn station_fields(d: &Dashboard) -> Markup {
    let (tr, station, err) = (d.tr, &d.settings.station, d.err);
    let language = d.shown("station_language", station.language.code());
    html! {
        label {
            (t!(tr, "admin-station-name"))
            input name="station_name" value=(d.shown("station_name", &station.name))
                maxlength="100" required;
        }
        (problem(tr, err, "station.name"))
        label {
            (t!(tr, "dash-about"))
            textarea name="station_description" rows="3" maxlength="2000" {
                (d.shown("station_description", &station.description))
            }
        }
        (problem(tr, err, "station.description"))
        label {
            (t!(tr, "admin-station-language"))
            select name="station_language" aria-describedby="station-language-hint" {
                @for l in Lang::ALL {
                    option value=(l.code()) lang=(l.code()) selected[l.code() == language] {
                        (l.name())
                    }
                }
            }
        }
        p class="hint" id="station-language-hint" { (t!(tr, "admin-station-language-hint")) }
        (problem(tr, err, "station.language"))
    }
}
