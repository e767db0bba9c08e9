//! The config page's forms: first run, login, logout, settings, schedule, item notes, mirrors.
//!
//! Forms post `application/x-www-form-urlencoded` bodies; each answer is either a redirect
//! to the page (Post/Redirect/Get, with a fixed notice code in the query, never the
//! operator's input) or the page again with a message beside the field that was wrong.

use std::{path::PathBuf, time::Duration};

use axum::{
    extract::{Query, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Redirect, Response},
};
use maud::Markup;

use super::{
    auth,
    dashboard::Dashboard,
    error::{AdminError, FormError},
    extract::{Change, Fields, Local, LoggedIn, LoginForm, PreLogin, SetupForm},
    pages,
    reply::Page,
    sections, stale,
    tasks::Task,
};
use crate::{
    config::{
        operator::{Operator, Show, ShowKind},
        redact, PushTarget, Settings,
    },
    federation::{identity::IdentityError, mirrors::Refusal},
    i18n::{Lang, Tr},
    msg,
    station::{
        access::{random_token, AccessError, SESSION_IDLE},
        logo::{self, LogoError},
        ItemMeta,
    },
    update::Ask,
    web::{lang::PageLang, AppState},
};

#[derive(serde::Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub done: String,
    /// Set on the first run's steps after the password (`welcome=1`).
    #[serde(default)]
    pub welcome: Option<String>,
    /// The first run's step before the password: `name`, `password` (the language's
    /// comes without).
    #[serde(default)]
    pub step: Option<String>,
    /// The name given at the first run's name step, for the password step to save.
    #[serde(default)]
    pub station_name: Option<String>,
}

/// A form shown before login carries a fresh token that must come back both as a field
/// and as a cookie (double submit, checked by [`PreLogin`]).
fn pre_login_form(render: impl FnOnce(&str) -> Markup) -> Page {
    let token = random_token();
    Page::new(render(&token)).with_cookie(auth::cookie(
        auth::FORM_COOKIE,
        &token,
        Duration::from_secs(3600),
    ))
}

/// `GET /admin`: first-run setup, login, or the dashboard.
pub async fn page(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    _: Local,
    op: Option<LoggedIn>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AdminError> {
    if !app.station.access.has_password()? {
        // The station's language starts as the page's: the browser's, when the box
        // speaks it.
        let mut first = Settings::clone(&app.station.settings());
        first.station.language = tr.lang();
        if let Some(name) = q.station_name.filter(|n| !n.trim().is_empty()) {
            first.station.name = name;
        }
        return Ok(match q.step.as_deref() {
            Some("name") => pages::setup_name(tr, &first).into_response(),
            Some("password") => {
                pre_login_form(|t| pages::setup(tr, &first, t, None)).into_response()
            }
            _ => pages::setup_language(tr).into_response(),
        });
    }
    Ok(match op {
        Some(op) => {
            let d =
                Dashboard::gather(tr, &app, &op.client.base, &op.session.csrf, &q.done, None).await;
            sections::page(Task::Home, &d).into_response()
        }
        None => pre_login_form(|t| pages::login(tr, t, None)).into_response(),
    })
}

/// `GET` on a task's address: its page, for a logged-in operator.
pub async fn task_page(
    task: Task,
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    op: LoggedIn,
    Query(q): Query<PageQuery>,
) -> Result<Response, AdminError> {
    let mut d = Dashboard::gather(tr, &app, &op.client.base, &op.session.csrf, &q.done, None).await;
    d.welcome = q.welcome.is_some();
    Ok(sections::page(task, &d).into_response())
}

/// Logs the browser in: a session cookie, then the page at `to`.
fn logged_in(app: &AppState, to: &str) -> Result<Response, AdminError> {
    let (token, _) = app.station.access.new_session()?;
    let r = Redirect::to(to).into_response();
    let r = auth::set_cookie(r, &auth::cookie(auth::SESSION_COOKIE, &token, SESSION_IDLE));
    Ok(auth::set_cookie(
        r,
        &auth::cookie(auth::FORM_COOKIE, "", Duration::ZERO),
    ))
}

/// `POST /admin/setup`: the first run sets the password and the station's name.
pub async fn setup(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    SetupForm(PreLogin { fields: f, .. }): SetupForm,
) -> Result<Response, AdminError> {
    // The form again with what was typed (but the passwords) and the message.
    let again = |e: FormError| {
        let mut shown = Settings::clone(&app.station.settings());
        shown.station.name = f.text("station_name");
        if let Some(lang) = f.get("station_language").and_then(Lang::from_tag) {
            shown.station.language = lang;
        }
        AdminError::Form(pre_login_form(|t| pages::setup(tr, &shown, t, Some(&e))))
    };
    let (password, repeat) = (
        f.get("password").unwrap_or(""),
        f.get("password2").unwrap_or(""),
    );
    if password != repeat {
        return Err(again(FormError::Input {
            field: "password2",
            problem: msg!("admin-password-mismatch"),
        }));
    }
    let mut op = app.station.operator()?;
    station_fields(&mut op, &f).map_err(again)?;
    app.station.save_operator(&op).map_err(|e| {
        let e = FormError::from(e);
        if let FormError::Store(e) = &e {
            tracing::error!("config page: saving the first run: {e}");
        }
        again(e)
    })?;
    let station = app.station.clone();
    let pw = password.to_string();
    match tokio::task::spawn_blocking(move || station.access.set_password(&pw)).await? {
        // The first run goes on, one question a page (steps 4 and 5): the sound input,
        // then how listeners will reach the box.
        Ok(()) => logged_in(&app, &format!("{}?welcome=1", Task::Sound.path())),
        Err(e @ (AccessError::TooShort | AccessError::TooLong)) => Err(again(FormError::Input {
            field: "password",
            problem: e.said().unwrap_or_else(|| msg!("admin-password-too-short")),
        })),
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/login`.
pub async fn login(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    LoginForm(PreLogin { client, fields }): LoginForm,
) -> Result<Response, AdminError> {
    let station = app.station.clone();
    let pw = fields.get("password").unwrap_or("").to_string();
    match tokio::task::spawn_blocking(move || station.access.check_password(client.ip, &pw)).await?
    {
        Ok(()) => logged_in(&app, Task::Home.path()),
        Err(e @ (AccessError::Locked(_) | AccessError::Wrong)) => {
            let said = e.said().map(|m| tr.say(&m));
            let page = pre_login_form(|t| pages::login(tr, t, said.as_deref()));
            Err(match e {
                AccessError::Locked(_) => AdminError::Locked(page),
                _ => AdminError::WrongPassword(page),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/logout`.
pub async fn logout(
    State(app): State<AppState>,
    Change { op, .. }: Change,
) -> Result<Response, AdminError> {
    app.station.access.end_session(&op.token)?;
    Ok(auth::set_cookie(
        Redirect::to("/admin").into_response(),
        &auth::cookie(auth::SESSION_COOKIE, "", Duration::ZERO),
    ))
}

/// Applies a change a logged-in operator posted on `task`'s page: on success back to that
/// page with notice `done`, on a form error the page with the message beside the field.
pub(super) async fn change(
    tr: Tr,
    app: &AppState,
    Change { op, fields }: Change,
    task: Task,
    apply: impl FnOnce(&AppState, &Fields) -> Result<&'static str, FormError>,
) -> Result<Redirect, AdminError> {
    // A form saved during the first run's steps keeps the page in them.
    let welcome = if fields.get("welcome").is_some() {
        "&welcome=1"
    } else {
        ""
    };
    match apply(app, &fields) {
        Ok(done) => Ok(Redirect::to(&format!(
            "{}?done={done}{welcome}",
            task.path()
        ))),
        Err(FormError::Store(e)) => Err(e.into()),
        Err(e) => {
            let task = Task::of_field(e.field()).unwrap_or(task);
            let mut d =
                Dashboard::gather(tr, app, &op.client.base, &op.session.csrf, "", Some(&e)).await;
            // The page again with what was typed, but after a stale save: that one shows
            // the page as another phone left it.
            if !matches!(e, FormError::Stale) {
                d.typed = Some(&fields);
            }
            Err(AdminError::Form(Page::new(sections::page(task, &d))))
        }
    }
}

/// Refuses a save from a page made before another change to the same fields (another
/// phone, another tab): the page comes back as it is now, with that said. A form that
/// carries no `seen` is taken as it comes.
fn not_stale(app: &AppState, task: Task, f: &Fields) -> Result<(), FormError> {
    unchanged_since(f, || {
        stale::fingerprint(task, &app.station.settings(), &app.station.schedule())
    })
}

/// [`not_stale`] for any form: `now` makes the digest of what the form's fields stand for
/// as they are now.
fn unchanged_since(f: &Fields, now: impl FnOnce() -> String) -> Result<(), FormError> {
    let Some(seen) = f.get("seen") else {
        return Ok(());
    };
    if seen == now() {
        Ok(())
    } else {
        Err(FormError::Stale)
    }
}

/// A whole number from field `name`; the message goes beside that field.
fn number<T: std::str::FromStr>(f: &Fields, name: &'static str) -> Result<T, FormError> {
    f.text(name).parse().map_err(|_| FormError::Input {
        field: name,
        problem: msg!("admin-whole-number"),
    })
}

/// The station's name, description and language, from the first-run form or the
/// settings. The language list sends a code; a form without it keeps the language.
fn station_fields(op: &mut Operator, f: &Fields) -> Result<(), FormError> {
    op.station_name = Some(f.text("station_name"));
    if f.get("station_description").is_some() {
        op.station_description = Some(f.text("station_description"));
    }
    if let Some(code) = f.get("station_language") {
        let lang = Lang::from_tag(code).ok_or(FormError::Input {
            field: "station.language",
            problem: msg!("admin-language-unknown"),
        })?;
        op.station_language = Some(lang);
    }
    Ok(())
}

/// The Icecast servers the stream is sent to, one per line of the page's list.
fn push_lines(text: &str) -> Result<Vec<PushTarget>, FormError> {
    lines(text)
        .iter()
        .map(|line| {
            PushTarget::from_line(line).map_err(|_| FormError::Input {
                field: "live.push",
                problem: msg!("admin-push-bad", line = redact(line)),
            })
        })
        .collect()
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// `POST /admin/settings`: the fields of one page's settings form (`page`), and only those;
/// a field the form does not have keeps its value. A form that names no page (a script)
/// saves the fields it has, its checkboxes included.
pub async fn settings(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    form: Change,
) -> Result<Redirect, AdminError> {
    let page = form.fields.get("page").and_then(Task::from_form);
    // An unchecked box sends nothing: it is read only on the page that shows it.
    let boxes = |owner: Task| page.is_none_or(|p| p == owner);
    change(tr, &app, form, page.unwrap_or(Task::Settings), |app, f| {
        if let Some(task) = page {
            not_stale(app, task, f)?;
        }
        let mut op = app.station.operator()?;
        if f.get("station_name").is_some() {
            station_fields(&mut op, f)?;
        }
        if f.get("public_url").is_some() {
            op.public_url = Some(f.text("public_url"));
        }
        if f.get("audio").is_some() {
            op.audio = Some(f.text("audio"));
        }
        if f.get("bitrate_kbps").is_some() {
            op.bitrate_kbps = Some(number(f, "bitrate_kbps")?);
        }
        if let Some(text) = f.get("library") {
            op.library = Some(lines(text).into_iter().map(PathBuf::from).collect());
        }
        if f.get("upload_limit_kib").is_some() {
            op.upload_limit_kib = Some(number(f, "upload_limit_kib")?);
        }
        if let Some(text) = f.get("trackers") {
            op.trackers = Some(lines(text));
        }
        if boxes(Task::Settings) {
            op.allow_remote_admin = Some(f.get("allow_remote_admin").is_some());
        }
        if f.get("max_upload_mb").is_some() {
            op.max_upload_mb = Some(number(f, "max_upload_mb")?);
        }
        if let Some(text) = f.get("follow") {
            op.follow = Some(lines(text));
        }
        if boxes(Task::Sisters) {
            op.approve_mirrors = Some(f.get("approve_mirrors").is_some());
        }
        // Read per connection and per track: saved without a restart.
        if let Some(pw) = f.get("source_password") {
            op.source_password = Some(pw.trim().to_string());
        }
        if let Some(folder) = f.get("fallback_folder") {
            op.fallback_folder = Some(folder.trim().trim_matches('/').to_string());
        }
        if let Some(text) = f.get("push") {
            op.push = Some(push_lines(text)?);
        }
        if app.station.save_operator(&op)? {
            app.station.request_restart();
            Ok("restarting")
        } else {
            Ok("saved")
        }
    })
    .await
}

/// `POST /admin/usb`: stop sharing a USB stick, or share it again (`share` on or off),
/// by its label. Only a label of the sticks' folder is taken: one plain folder name.
pub async fn usb(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    form: Change,
) -> Result<Redirect, AdminError> {
    change(tr, &app, form, Task::Storage, |app, f| {
        let label = f.text("label");
        let plain = std::path::Path::new(&label)
            .components()
            .map(|c| matches!(c, std::path::Component::Normal(_)))
            .collect::<Vec<_>>()
            == [true];
        if !plain || label.starts_with('.') {
            return Err(FormError::Input {
                field: "",
                problem: msg!("admin-usb-unknown"),
            });
        }
        let paused = app.station.share_usb(&label, f.text("share") == "on")?;
        app.library.pause(paused);
        Ok("usb")
    })
    .await
}

/// `POST /admin/music`: the tracks ticked for the music between shows (none: the folder
/// or the whole library). Read per track by the fallback: no restart.
pub async fn music(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    form: Change,
) -> Result<Redirect, AdminError> {
    change(tr, &app, form, Task::Schedule, |app, f| {
        unchanged_since(f, || stale::music(&app.station.settings()))?;
        let mut op = app.station.operator()?;
        op.fallback_tracks = Some(f.all("track").into_iter().map(String::from).collect());
        app.station.save_operator(&op)?;
        Ok("music")
    })
    .await
}

/// `POST /admin/schedule`: the whole weekly schedule, one row per show.
pub async fn schedule(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    form: Change,
) -> Result<Redirect, AdminError> {
    change(tr, &app, form, Task::Schedule, |app, f| {
        not_stale(app, Task::Schedule, f)?;
        let (days, starts, ends, names, kinds) = (
            f.all("day"),
            f.all("start"),
            f.all("end"),
            f.all("name"),
            f.all("kind"),
        );
        let mut shows = Vec::new();
        for i in 0..names.len() {
            let field = |v: &[&str]| v.get(i).copied().unwrap_or("").to_string();
            // A row left empty (the page's spare row) is no show.
            if field(&names).trim().is_empty() && field(&starts).trim().is_empty() {
                continue;
            }
            shows.push(Show {
                kind: ShowKind::from_form(&field(&kinds)),
                ..Show::parse(
                    &field(&days),
                    &field(&starts),
                    &field(&ends),
                    &field(&names),
                )?
            });
        }
        shows.sort_by_key(|s| (s.day, s.start));
        if let Some(w) = shows
            .windows(2)
            .find(|w| w[0].day == w[1].day && w[1].start < w[0].end)
        {
            return Err(FormError::Input {
                field: "schedule",
                problem: msg!(
                    "admin-schedule-overlap",
                    first = w[0].name.as_str(),
                    second = w[1].name.as_str()
                ),
            });
        }
        app.station.save_schedule(&shows)?;
        Ok("schedule")
    })
    .await
}

/// `POST /admin/logo`: the station's logo from a picture on the phone (a form with a file),
/// or with `remove` the drawn icon again.
pub async fn logo(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    form: Change,
) -> Result<Redirect, AdminError> {
    // A photo takes a second of CPU to square and scale: off the async threads, before the
    // change is applied.
    let prepared = match (form.fields.get("remove"), form.fields.file("logo")) {
        (Some(_), _) => None,
        (None, Some(upload)) => {
            let upload = upload.clone();
            let background = crate::web::icon::BACKGROUND;
            let done =
                tokio::task::spawn_blocking(move || logo::prepare(&upload, background)).await;
            Some(done.map_err(|e| {
                tracing::error!("config page: preparing a logo: {e}");
                FormError::Input {
                    field: "logo",
                    problem: msg!("admin-form-store"),
                }
            }))
        }
        (None, None) => Some(Err(FormError::Input {
            field: "logo",
            problem: msg!("admin-logo-none"),
        })),
    };
    change(tr, &app, form, Task::Settings, |app, _| match prepared {
        None => {
            app.station.remove_logo().map_err(logo_problem)?;
            Ok("logo_removed")
        }
        Some(prepared) => {
            let png = prepared?.map_err(logo_problem)?;
            app.station.save_logo(&png).map_err(logo_problem)?;
            Ok("logo")
        }
    })
    .await
}

/// What the operator is told about a picture the box could not take.
fn logo_problem(e: LogoError) -> FormError {
    let problem = match e {
        LogoError::Unreadable => msg!("admin-logo-unreadable"),
        LogoError::TooBig => msg!("admin-logo-too-big", mb = logo::MAX_BYTES / 1024 / 1024),
        LogoError::TooLarge { width, height } => {
            msg!("admin-logo-too-large", width = width, height = height)
        }
        LogoError::TooSmall { width, height } => {
            msg!("admin-logo-too-small", width = width, height = height)
        }
        LogoError::Encode(_) | LogoError::Store(_) => {
            tracing::error!("config page: keeping the logo: {e}");
            msg!("admin-form-store")
        }
    };
    FormError::Input {
        field: "logo",
        problem,
    }
}

/// `POST /admin/mirrors`: approve, remove or allow again one mirror of this station.
pub async fn mirrors(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    form: Change,
) -> Result<Redirect, AdminError> {
    change(tr, &app, form, Task::Sisters, |app, f| {
        let url = f.text("url");
        let fed = &app.federation;
        let (result, done) = match f.text("action").as_str() {
            "approve" => (fed.approve_mirror(&url), "mirror_approved"),
            "remove" => (fed.remove_mirror(&url), "mirror_removed"),
            "allow" => (fed.allow_mirror(&url), "mirror_allowed"),
            _ => (Err(Refusal::Unknown), ""),
        };
        result.map(|()| done).map_err(|e| FormError::Input {
            field: "mirrors",
            // The operator's buttons can only meet these two: a mirror gone since the
            // page was drawn, or no place left for one more.
            problem: match e {
                Refusal::Full => msg!("admin-mirrors-full"),
                _ => msg!("admin-mirror-gone"),
            },
        })
    })
    .await
}

/// `POST /admin/key`: puts a saved key (from the old box) in place of this box's, so the
/// stations that follow this one keep trusting it; the services restart to use it.
pub async fn import_key(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    form: Change,
) -> Result<Redirect, AdminError> {
    change(tr, &app, form, Task::Sisters, |app, f| {
        app.federation
            .import_key(&f.text("key"))
            .map_err(|e| FormError::Input {
                field: "key",
                problem: match e {
                    IdentityError::Store(e) => {
                        tracing::error!("config page: storing an imported key: {e}");
                        msg!("admin-form-store")
                    }
                    IdentityError::Damaged | IdentityError::NotAKey => msg!("admin-key-not-a-key"),
                },
            })?;
        app.station.request_restart();
        Ok("restarting")
    })
    .await
}

/// `GET /admin/key`: this box's secret key as a file, for a backup.
pub async fn export_key(State(app): State<AppState>, _: LoggedIn) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/plain")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"streamp2p-key.txt\""),
            ),
        ],
        format!("{}\n", app.federation.export_key()),
    )
        .into_response()
}

/// `POST /admin/item`: the operator's title and notes for one library item.
pub async fn item(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    form: Change,
) -> Result<Redirect, AdminError> {
    change(tr, &app, form, Task::Episodes, |app, f| {
        let ih = f.text("infohash");
        if !app.library.catalog().items.contains_key(&ih) {
            return Err(FormError::Input {
                field: "item",
                problem: msg!("admin-item-gone"),
            });
        }
        unchanged_since(f, || {
            stale::item(&app.station.item_meta().remove(&ih).unwrap_or_default())
        })?;
        let (title, description) = (f.text("title"), f.text("description"));
        if title.chars().count() > 200 || description.chars().count() > 5000 {
            return Err(FormError::Input {
                field: "item",
                problem: msg!("admin-text-too-long"),
            });
        }
        let meta = ItemMeta {
            title: (!title.is_empty()).then_some(title),
            description: (!description.is_empty()).then_some(description),
            keep: f.text("keep") == "on",
        };
        app.station.set_item_meta(&ih, &meta)?;
        Ok("episode")
    })
    .await
}

/// `POST /admin/update`: check now, or update now.
pub async fn update(
    State(app): State<AppState>,
    PageLang(tr): PageLang,
    form: Change,
) -> Result<Redirect, AdminError> {
    change(tr, &app, form, Task::Settings, |app, f| {
        let ask = match f.text("action").as_str() {
            "install" => Ask::Install,
            "check" => Ask::Check,
            choice @ ("automatic" | "manual") => {
                let mut op = app.station.operator()?;
                op.update_automatic = Some(choice == "automatic");
                app.station.save_operator(&op)?;
                return Ok("saved");
            }
            _ => {
                return Err(FormError::Input {
                    field: "action",
                    problem: msg!("admin-update-unknown-action"),
                })
            }
        };
        app.updates.ask(ask);
        Ok(match ask {
            Ask::Install => "update",
            Ask::Check => "update_check",
        })
    })
    .await
}
