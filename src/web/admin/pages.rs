//! The config page's HTML (server-rendered, so it works before its script loads) and the
//! live status the script polls.

use std::fmt::Write;

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

use super::{forms::FormError, guard, upload};
use crate::{
    config::{
        operator::{Show, DAYS},
        Settings,
    },
    live::LiveState,
    station::access::Session,
    status::Listeners,
    web::{
        api::{trackers, ItemView},
        base_url,
        page::{esc, size},
        AppState, ConnInfo,
    },
};

const ADMIN_JS: &str = include_str!("../assets/admin.js");
const ADMIN_CSS: &str = include_str!("../assets/admin.css");

pub async fn script() -> Response {
    asset(ADMIN_JS, "text/javascript")
}

pub async fn style() -> Response {
    asset(ADMIN_CSS, "text/css")
}

fn asset(body: &'static str, mime: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

fn shell(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><link rel=\"icon\" href=\"data:,\">\
         <title>{t}</title><link rel=\"stylesheet\" href=\"/admin/admin.css\"></head>\
         <body><main>{body}</main><script type=\"module\" src=\"/admin/admin.js\"></script>\
         </body></html>",
        t = esc(title)
    )
}

/// A message beside the field it is about (or at the top when it names none).
fn problem(err: Option<&FormError>, field: &str) -> String {
    match err {
        Some(e) if e.field() == field || (field.is_empty() && e.field().is_empty()) => format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            esc(&e.message())
        ),
        _ => String::new(),
    }
}

/// First run: the password and the station's name.
pub fn setup(settings: &Settings, form_token: &str, err: Option<&FormError>) -> String {
    shell(
        "Set up your station",
        &format!(
            "<h1>Welcome</h1><p>This box is your station's broadcaster, archive and tracker. \
             Choose a password for this page first: only someone who knows it can change the \
             station. Keep it somewhere safe.</p>{top}\
             <form method=\"post\" action=\"/admin/setup\" class=\"card\">\
             <input type=\"hidden\" name=\"form_token\" value=\"{tok}\">\
             <label>Password (at least 8 characters)<input type=\"password\" name=\"password\" \
             autocomplete=\"new-password\" minlength=\"8\" required></label>{p1}\
             <label>Password again<input type=\"password\" name=\"password2\" \
             autocomplete=\"new-password\" minlength=\"8\" required></label>{p2}\
             <label>Station name<input name=\"station_name\" value=\"{name}\" maxlength=\"100\" \
             required></label>{p3}\
             <label>A sentence about the station<textarea name=\"station_description\" rows=\"3\" \
             maxlength=\"2000\">{desc}</textarea></label>{p4}\
             <button type=\"submit\">Save and start</button></form>",
            top = problem(err, ""),
            tok = esc(form_token),
            p1 = problem(err, "password"),
            p2 = problem(err, "password2"),
            name = esc(&settings.station.name),
            p3 = problem(err, "station.name"),
            desc = esc(&settings.station.description),
            p4 = problem(err, "station.description"),
        ),
    )
}

pub fn login(form_token: &str, message: Option<&str>) -> String {
    shell(
        "Log in",
        &format!(
            "<h1>Station settings</h1>{msg}\
             <form method=\"post\" action=\"/admin/login\" class=\"card\">\
             <input type=\"hidden\" name=\"form_token\" value=\"{tok}\">\
             <label>Password<input type=\"password\" name=\"password\" \
             autocomplete=\"current-password\" required autofocus></label>\
             <button type=\"submit\">Log in</button></form>\
             <p class=\"hint\">Forgot it? Someone with access to the box can reset it (see the \
             manual). After five wrong tries this page waits ten minutes.</p>",
            msg = message
                .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(m)))
                .unwrap_or_default(),
            tok = esc(form_token),
        ),
    )
}

fn notice(done: &str) -> &'static str {
    match done {
        "saved" => "Saved. The change is in use now.",
        "restarting" => {
            "Saved. The station restarts its audio and library services to use it: back \
             in a few seconds."
        }
        "schedule" => "The schedule is saved; the next recordings are named after it.",
        "episode" => "The episode's title and notes are saved.",
        _ => "",
    }
}

/// Plain-language warnings: what is wrong and what to do.
pub fn warnings(app: &AppState) -> Vec<String> {
    let mut w = Vec::new();
    let running = app.station.settings();
    if let Some(p) = app.station.startup_problem() {
        w.push(format!("Settings: {p}."));
    }
    if app.live.is_on() {
        let st = app.live.status();
        if matches!(st.state, LiveState::NoInput { .. }) {
            w.push(
                "No sound input: the sound card is not answering. Check that it is plugged \
                 in; the box tries again every few seconds and goes back on air by itself."
                    .into(),
            );
        }
        if let Some(s) = st.silent_for_secs {
            w.push(format!(
                "Silence on air for {s} seconds. Is the mixer's output muted or its fader down?"
            ));
        }
    }
    for root in &running.library {
        if !root.is_dir() {
            w.push(format!(
                "USB storage missing: {}. Plug it back in: its episodes come back without \
                 being read again.",
                root.display()
            ));
        }
    }
    if let Some((free, total)) = upload::disk_space(&running.data_dir) {
        if free < 200 * 1024 * 1024 || free * 20 < total {
            w.push(format!(
                "The box's own storage is almost full ({} left). Delete old recordings or \
                 uploads, or use a bigger card.",
                size(free)
            ));
        }
    }
    if let Some(wt) = &app.webtorrent {
        if wt.stats().trackers_connected == 0 && app.started.elapsed().as_secs() > 30 {
            w.push(
                "The browser tracker cannot be reached, so web listeners may not find each \
                 other. Check the box's internet connection."
                    .into(),
            );
        }
    }
    let problems = app.library.problems().len();
    if problems > 0 {
        w.push(format!(
            "{problems} file(s) in the library could not be read; they are listed under \
             Library. The others are fine."
        ));
    }
    w
}

fn section(id: &str, title: &str, body: &str) -> String {
    format!("<section id=\"{id}\" class=\"card\"><h2>{title}</h2>{body}</section>")
}

fn share_row(label: &str, url: &str) -> String {
    format!(
        "<div class=\"share\"><img src=\"/admin/qr?u={q}\" alt=\"QR code for {l}\" \
         width=\"132\" height=\"132\"><div><b>{l}</b><input readonly value=\"{u}\" \
         aria-label=\"{l} address\"><button type=\"button\" class=\"copy\" data-copy=\"{u}\">\
         Copy</button></div></div>",
        q = percent_encoding::utf8_percent_encode(url, percent_encoding::NON_ALPHANUMERIC),
        l = esc(label),
        u = esc(url),
    )
}

/// The dashboard: state at a glance, then settings, publishing, sharing and episodes.
pub async fn dashboard(
    app: &AppState,
    base: &str,
    session: &Session,
    done: &str,
    err: Option<&FormError>,
) -> String {
    let s = app.station.settings();
    let csrf = esc(&session.csrf);
    let hidden = format!("<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">");
    let mut out = String::new();
    let _ = write!(
        out,
        "<header><h1>{name}</h1><form method=\"post\" action=\"/admin/logout\">{hidden}\
         <button type=\"submit\" class=\"quiet\">Log out</button></form></header>\
         <nav><a href=\"#air\">On air</a><a href=\"#library\">Library</a>\
         <a href=\"#publish\">Publish</a><a href=\"#share\">Share</a>\
         <a href=\"#federation\">Sister stations</a>\
         <a href=\"#settings\">Settings</a></nav>",
        name = esc(&s.station.name)
    );
    let n = notice(done);
    if !n.is_empty() {
        let _ = write!(out, "<p class=\"notice\" role=\"status\">{n}</p>");
    }
    out.push_str(&problem(err, ""));
    let warn = warnings(app);
    let _ = write!(
        out,
        "<div id=\"warnings\" class=\"warnings\" role=\"alert\"{hide}>{}</div>",
        warn.iter()
            .map(|w| format!("<p>{}</p>", esc(w)))
            .collect::<String>(),
        hide = if warn.is_empty() { " hidden" } else { "" }
    );

    // On air
    let live = app.live.status();
    let listeners = app.sources().listeners(std::time::Instant::now());
    let state = match live.state {
        LiveState::OnAir => "On air",
        LiveState::Starting => "Starting",
        LiveState::NoInput { .. } => "No input",
        LiveState::Off => "No live input set",
    };
    let meter = if app.live.is_on() {
        "<div class=\"meter\" aria-label=\"Sound level\"><div id=\"meter-l\"></div>\
         <div id=\"meter-r\"></div></div>\
         <p class=\"hint\">The bars move with the sound coming in. Green is fine; red means \
         too loud: turn the mixer's output down a little.</p>"
    } else {
        "<p class=\"hint\">Choose the sound input under <a href=\"#settings\">Settings</a> to \
         go on air.</p>"
    };
    out.push_str(&section(
        "air",
        "On air",
        &format!(
            "<p class=\"big\"><span id=\"air-state\" class=\"badge\">{state}</span></p>\
             {meter}\
             <dl class=\"stats\"><dt>Listening now</dt><dd id=\"listeners\">{l}</dd>\
             <dt>How they listen</dt><dd id=\"listen-ways\">{ways}</dd>\
             <dt>Sharing in browsers</dt><dd id=\"p2p\">–</dd>\
             <dt>Up for</dt><dd id=\"uptime\">–</dd></dl>\
             <h3>Last 24 hours</h3>\
             <figure><figcaption>Listeners</figcaption><svg id=\"graph-listeners\" \
             class=\"graph\" viewBox=\"0 0 300 60\" role=\"img\" aria-label=\"Listeners over \
             the last 24 hours\"></svg></figure>\
             <figure><figcaption>Upload (kB/s)</figcaption><svg id=\"graph-upload\" \
             class=\"graph\" viewBox=\"0 0 300 60\" role=\"img\" aria-label=\"Upload rate over \
             the last 24 hours\"></svg></figure>",
            l = listeners.total,
            ways = esc(&listen_ways(&listeners)),
        ),
    ));

    // Library
    let catalog = app.library.catalog();
    let mut roots = String::new();
    for r in &s.library {
        let (present, free) = (r.is_dir(), upload::disk_space(r));
        let _ = write!(
            roots,
            "<li>{} — {}</li>",
            esc(&r.display().to_string()),
            match (present, free) {
                (false, _) => "missing (unplugged?)".to_string(),
                (true, Some((f, _))) => format!("present, {} free", size(f)),
                (true, None) => "present".to_string(),
            }
        );
    }
    let problems: String = app
        .library
        .problems()
        .iter()
        .map(|(p, why)| format!("<li>{}: {}</li>", esc(&p.display().to_string()), esc(why)))
        .collect();
    out.push_str(&section(
        "library",
        "Library",
        &format!(
            "<p class=\"big\">Episodes shared: <span id=\"items\">{items}</span></p>\
             <div id=\"hashing\" hidden><p>Reading new files: <span id=\"hash-text\"></span></p>\
             <progress id=\"hash-bar\" max=\"1\" value=\"0\"></progress>\
             <p class=\"hint\">Each new file is read once to make its torrent; a big library \
             takes a while the first time.</p></div>\
             <dl class=\"stats\"><dt>Sharing with</dt><dd id=\"peers\">–</dd>\
             <dt>Upload now</dt><dd id=\"upload-rate\">–</dd>\
             <dt>Tracker</dt><dd id=\"tracker\">–</dd></dl>\
             <h3>Storage</h3><ul>{roots}</ul>{probs}",
            items = catalog.items.len(),
            roots = if roots.is_empty() {
                "<li>No library folder set: add one under Settings.</li>".into()
            } else {
                roots
            },
            probs = if problems.is_empty() {
                String::new()
            } else {
                format!("<h3>Files that could not be read</h3><ul>{problems}</ul>")
            }
        ),
    ));

    // Publish
    out.push_str(&section(
        "publish",
        "Publish an episode",
        &format!(
            "<form id=\"upload\" class=\"stack\" data-csrf=\"{csrf}\">\
             <label>Audio file (MP3, Ogg, Opus, FLAC, WAV or M4A, up to {max} MB)\
             <input type=\"file\" id=\"upload-file\" accept=\"audio/*\" required></label>\
             <label>Title<input id=\"upload-title\" maxlength=\"200\"></label>\
             <label>Notes<textarea id=\"upload-desc\" rows=\"3\" maxlength=\"5000\"></textarea>\
             </label><button type=\"submit\">Publish</button>\
             <progress id=\"upload-bar\" max=\"1\" value=\"0\" hidden></progress>\
             <p id=\"upload-status\" role=\"status\"></p></form>\
             <p class=\"hint\">If the Wi-Fi drops, choose the same file again: the upload \
             goes on where it stopped.</p>",
            max = s.admin.max_upload_mb
        ),
    ));

    // Share
    let mut share = String::new();
    share.push_str(&share_row("Listen page", &format!("{base}/")));
    if app.live.is_on() {
        share.push_str(&share_row("Live stream", &format!("{base}/live.mp3")));
    }
    share.push_str(&share_row("Podcast feed", &format!("{base}/feed.xml")));
    out.push_str(&section("share", "Share", &share));

    // Episodes
    let metas = app.station.item_meta();
    let trackers = trackers(app, base);
    let mut eps = String::new();
    for item in catalog.items.values() {
        let v = ItemView::new(item, base, &trackers);
        let meta = metas.get(&item.infohash).cloned().unwrap_or_default();
        let title = v.clone().with_meta(Some(&meta)).display_title().to_string();
        let _ = write!(
            eps,
            "<details class=\"episode\"><summary><span>{t}</span><span class=\"edit\">\
             Edit</span></summary>\
             <form method=\"post\" action=\"/admin/item\" class=\"stack\">{hidden}\
             <input type=\"hidden\" name=\"infohash\" value=\"{ih}\">\
             <label>Title<input name=\"title\" maxlength=\"200\" value=\"{mt}\" \
             placeholder=\"{tag}\"></label><label>Notes<textarea name=\"description\" rows=\"3\" \
             maxlength=\"5000\">{md}</textarea></label><button type=\"submit\">Save</button>\
             </form><p><button type=\"button\" class=\"copy\" data-copy=\"{mag}\">Copy magnet \
             link</button> <a href=\"/admin/qr?u={magq}\">QR code</a></p></details>",
            t = esc(&title),
            ih = esc(&item.infohash),
            mt = esc(meta.title.as_deref().unwrap_or("")),
            tag = esc(v.title.unwrap_or(v.name)),
            md = esc(meta.description.as_deref().unwrap_or("")),
            mag = esc(&v.magnet),
            magq = percent_encoding::utf8_percent_encode(
                &v.magnet,
                percent_encoding::NON_ALPHANUMERIC
            ),
        );
    }
    out.push_str(&section(
        "episodes",
        "Episodes",
        if eps.is_empty() {
            "<p>No episodes yet.</p>"
        } else {
            &eps
        },
    ));

    // Schedule
    let mut rows = String::new();
    let shows = app.station.schedule();
    for show in shows.iter().map(Some).chain([None]) {
        let day_opts: String = DAYS
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let sel = show.is_some_and(|s| s.day as usize == i);
                format!("<option{}>{d}</option>", if sel { " selected" } else { "" })
            })
            .collect();
        let _ = write!(
            rows,
            "<fieldset class=\"show\"><label class=\"wide\">Show<input name=\"name\" \
             placeholder=\"{ph}\" maxlength=\"80\" value=\"{nm}\"></label>\
             <label class=\"wide\">Day<select name=\"day\">{day_opts}</select></label>\
             <label>Starts<input name=\"start\" type=\"time\" value=\"{st}\"></label>\
             <label>Ends<input name=\"end\" type=\"time\" value=\"{en}\"></label></fieldset>",
            ph = if show.is_some() {
                ""
            } else {
                "New show's name"
            },
            st = show.map(|s| Show::hhmm(s.start)).unwrap_or_default(),
            en = show.map(|s| Show::hhmm(s.end)).unwrap_or_default(),
            nm = esc(show.map(|s| s.name.as_str()).unwrap_or("")),
        );
    }
    out.push_str(&section(
        "schedule",
        "Weekly schedule",
        &format!(
            "<p class=\"hint\">Recordings are named after the show on air. Empty a show's name \
             to remove it; the last row adds one.</p>{}\
             <form method=\"post\" action=\"/admin/schedule\" class=\"stack\">{hidden}{rows}\
             <button type=\"submit\">Save schedule</button></form>",
            problem(err, "schedule")
        ),
    ));

    // Federation
    let fed = &app.federation;
    let mut follows = String::new();
    for f in fed.follows() {
        let state = match (&f.error, f.last_ok) {
            (Some(e), _) => format!(
                "<span class=\"error\">{}</span> (next try in {} s)",
                esc(e),
                f.retry_in_secs.unwrap_or(0)
            ),
            (None, Some(_)) => format!("{} of {} episodes mirrored", f.mirrored, f.items),
            (None, None) => "first contact pending".into(),
        };
        let _ = write!(
            follows,
            "<li><b>{name}</b> {url}<br>key {fp}<br>{state}</li>",
            name = esc(f.station.as_deref().unwrap_or("")),
            url = esc(&f.url),
            fp = esc(f.fingerprint.as_deref().unwrap_or("not seen yet")),
        );
    }
    let trackers_health: String = fed
        .health
        .stats()
        .iter()
        .map(|(url, st)| {
            let state = if st.dead() {
                format!(
                    "<span class=\"error\">not answering ({}); left out of links</span>",
                    esc(st.last_error.as_deref().unwrap_or(""))
                )
            } else {
                format!(
                    "{:.0} % answered{}",
                    st.success_rate() * 100.0,
                    st.latency_ms
                        .map(|l| format!(", {l} ms"))
                        .unwrap_or_default()
                )
            };
            format!("<li>{}<br>{state}</li>", esc(url))
        })
        .collect();
    let mirrors: String = fed
        .mirrors()
        .iter()
        .map(|m| format!("<li>{}</li>", esc(m)))
        .collect();
    out.push_str(&section(
        "federation",
        "Sister stations",
        &format!(
            "<p>This box's key: <b class=\"mono\">{fp}</b></p>\
             <p class=\"hint\">Stations that follow this one check its catalog with this key. \
             Read it to them to compare. Keep a copy: a replacement box with the same key is \
             trusted at once.</p><p><a class=\"button\" href=\"/admin/key\" download>Save a \
             copy of the key</a></p>\
             <h3>Stations this box follows</h3><ul>{follows}</ul>\
             <h3>Boxes that mirror this station</h3><ul>{mirrors}</ul>\
             <h3>Trackers</h3><p class=\"hint\">Trackers help listeners find each other. The \
             box checks each every few minutes; links list the healthy ones first.</p>\
             <ul>{trackers_health}</ul>\
             <details><summary>Use the key of an old box</summary>\
             <form method=\"post\" action=\"/admin/key\" class=\"stack\">{hidden}\
             <label>Saved key<textarea name=\"key\" rows=\"3\" required></textarea></label>{e_key}\
             <button type=\"submit\">Use this key</button></form></details>",
            fp = esc(&fed.fingerprint()),
            follows = if follows.is_empty() {
                "<li>None yet: add a station's address under Settings.</li>".to_string()
            } else {
                follows
            },
            mirrors = if mirrors.is_empty() {
                "<li>None yet.</li>".to_string()
            } else {
                mirrors
            },
            e_key = problem(err, "key"),
            trackers_health = if trackers_health.is_empty() {
                "<li>Not checked yet.</li>".to_string()
            } else {
                trackers_health
            },
        ),
    ));

    // Settings
    let devices = tokio::task::spawn_blocking(crate::live::source::capture_devices)
        .await
        .unwrap_or_default();
    let mut audio_opts = String::new();
    let current_audio = s.audio.to_string();
    let mut choices: Vec<(String, String)> = vec![
        ("none".into(), "No live input".into()),
        ("sine".into(), "Test tone".into()),
    ];
    choices.extend(
        devices
            .into_iter()
            .map(|(d, desc)| (format!("alsa:{d}"), format!("{desc} ({d})"))),
    );
    if !choices.iter().any(|(v, _)| *v == current_audio) {
        choices.push((current_audio.clone(), current_audio.clone()));
    }
    for (v, label) in &choices {
        let _ = write!(
            audio_opts,
            "<option value=\"{}\"{}>{}</option>",
            esc(v),
            if *v == current_audio { " selected" } else { "" },
            esc(label)
        );
    }
    let detected = upload::usb_volumes();
    let library_hint = if detected.is_empty() {
        "No USB storage detected right now.".to_string()
    } else {
        format!(
            "USB storage found: {}",
            detected
                .iter()
                .map(|p| esc(&p.display().to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    out.push_str(&section(
        "settings",
        "Settings",
        &format!(
            "<form method=\"post\" action=\"/admin/settings\" class=\"stack\">{hidden}\
             <label>Station name<input name=\"station_name\" value=\"{name}\" maxlength=\"100\" \
             required></label>{e_name}\
             <label>About the station<textarea name=\"station_description\" rows=\"3\" \
             maxlength=\"2000\">{desc}</textarea></label>{e_desc}\
             <label>Sound input<select name=\"audio\">{audio_opts}</select></label>\
             <p class=\"hint\">After saving, watch the level bars above move with the \
             mixer.</p>{e_audio}\
             <label>Stream quality (kb/s; 128 is good, 64 saves data)<input name=\"bitrate_kbps\" \
             type=\"number\" min=\"16\" max=\"510\" value=\"{br}\"></label>{e_br}\
             <label>Library folders (one per line)<textarea name=\"library\" rows=\"3\">{lib}\
             </textarea></label><p class=\"hint\">{library_hint}</p>{e_lib}\
             <label>Upload limit for sharing (KiB/s, 0 = no limit; lower it if the home \
             internet gets slow)<input name=\"upload_limit_kib\" type=\"number\" min=\"0\" \
             value=\"{ul}\"></label>{e_ul}\
             <label>Extra trackers (one per line; they help listeners find each other)\
             <textarea name=\"trackers\" rows=\"3\">{tr}</textarea></label>{e_tr}\
             <label>Public address listeners use (empty: the address in the browser)\
             <input name=\"public_url\" type=\"url\" value=\"{pu}\" \
             placeholder=\"http://radio.example.org\"></label>{e_pu}\
             <label>Largest upload (MB)<input name=\"max_upload_mb\" type=\"number\" min=\"1\" \
             value=\"{mu}\"></label>{e_mu}\
             <label>Sister stations to follow and mirror (one address per line)\
             <textarea name=\"follow\" rows=\"2\" placeholder=\"http://radio-b.example.org\">\
             {fo}</textarea></label>{e_fo}\
             <label class=\"check\"><input type=\"checkbox\" name=\"allow_remote_admin\"{ar}> \
             Allow this page from outside the local network (only with a strong password)\
             </label><button type=\"submit\">Save settings</button></form>",
            name = esc(&s.station.name),
            e_name = problem(err, "station.name"),
            desc = esc(&s.station.description),
            e_desc = problem(err, "station.description"),
            e_audio = problem(err, "audio"),
            br = s.live.bitrate_kbps,
            e_br = problem(err, "live.bitrate_kbps") + &problem(err, "bitrate_kbps"),
            lib = esc(&s
                .library
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join("\n")),
            e_lib = problem(err, "library"),
            ul = s.swarm.upload_limit_kib,
            e_ul = problem(err, "upload_limit_kib"),
            tr = esc(&s.swarm.trackers.join("\n")),
            e_tr = problem(err, "swarm.trackers"),
            pu = esc(s.public_url.as_deref().unwrap_or("")),
            e_pu = problem(err, "public_url"),
            mu = s.admin.max_upload_mb,
            e_mu = problem(err, "admin.max_upload_mb") + &problem(err, "max_upload_mb"),
            ar = if s.admin.allow_remote { " checked" } else { "" },
            fo = esc(&s.federation.follow.join("\n")),
            e_fo = problem(err, "federation.follow"),
        ),
    ));
    shell(&format!("{} – settings", s.station.name), &out)
}

/// Listeners by way of listening, in words (the script writes the same line).
fn listen_ways(l: &Listeners) -> String {
    format!(
        "{} on the stream · {} in players ({} sharing)",
        l.progressive(),
        l.hls,
        l.sharing
    )
}

/// `GET /admin/status`: what the dashboard's script refreshes every few seconds.
pub async fn status(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = guard(&app, &headers, &conn, None) {
        return r.into_response();
    }
    let st = app.status();
    let wt_peers = st.webtorrent.map_or(0, |w| w.peers);
    let body: Value = json!({
        "base": base_url(&app.station.settings(), &headers, &conn),
        "uptime_secs": st.uptime_secs,
        "live": st.live,
        "listeners": st.listeners,
        "listen_ways": listen_ways(&st.listeners),
        "items": st.library.items,
        "hashing": st.library.hashing,
        "peers": st.swarm.map_or(0, |s| s.live) + wt_peers,
        "p2p_listeners": wt_peers,
        "upload_bps": st.swarm.map_or(0, |s| s.upload_bps),
        "tracker": { "swarms": st.tracker.swarms, "peers": st.tracker.peers },
        "warnings": warnings(&app),
        "history": app.station.history(),
    });
    Json(body).into_response()
}
