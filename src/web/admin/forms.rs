//! The config page's forms: first run, login, logout, settings, schedule, item notes.
//!
//! Forms post `application/x-www-form-urlencoded` bodies; each answer is either a redirect
//! to the page (Post/Redirect/Get, with a fixed notice code in the query, never the
//! operator's input) or the page again with a message beside the field that was wrong.

use std::{path::PathBuf, time::Duration};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
};

use super::{auth, check_local, cookie_value, guard, pages, Refusal};
use crate::{
    config::{operator::Show, ConfigError},
    station::{
        access::{random_token, same_secret, AccessError, SESSION_IDLE},
        Error as StationError, ItemMeta, SaveError,
    },
    web::{base_url, client_ip, AppState, ConnInfo},
};

/// A form that cannot be saved, said for the operator: which field and why.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("{0}")]
    Field(#[from] ConfigError),
    #[error("{problem}")]
    Input {
        field: &'static str,
        problem: String,
    },
    #[error("the box could not save this: {0}")]
    Store(#[from] StationError),
}

impl From<SaveError> for FormError {
    fn from(e: SaveError) -> Self {
        match e {
            SaveError::Invalid(e) => FormError::Field(e),
            SaveError::Store(e) => FormError::Store(e),
        }
    }
}

impl FormError {
    pub fn field(&self) -> &str {
        match self {
            FormError::Field(e) => &e.key,
            FormError::Input { field, .. } => field,
            FormError::Store(_) => "",
        }
    }

    /// The message shown beside the field.
    pub fn message(&self) -> String {
        match self {
            FormError::Field(e) => format!("{}; {}", e.problem, e.fix),
            other => other.to_string(),
        }
    }
}

/// A posted form's fields, in order (repeated names kept: the schedule has rows).
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Fields(form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub done: String,
}

fn set_cookie(mut r: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn secure_cookies(app: &AppState) -> bool {
    app.station
        .settings()
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
}

/// A form shown before login carries a fresh token that must come back both as a field
/// and as a cookie (double submit): another site can make the browser post, but cannot
/// read or set the cookie.
fn pre_login_form(app: &AppState, status: StatusCode, render: impl Fn(&str) -> String) -> Response {
    let token = random_token();
    let page = (status, Html(render(&token))).into_response();
    set_cookie(
        page,
        &auth::cookie(
            auth::FORM_COOKIE,
            &token,
            Duration::from_secs(3600),
            secure_cookies(app),
        ),
    )
}

fn pre_login_token_ok(headers: &HeaderMap, f: &Fields) -> bool {
    match (
        cookie_value(headers, auth::FORM_COOKIE),
        f.get("form_token"),
    ) {
        (Some(c), Some(t)) => super::same_origin(headers) && same_secret(c, t),
        _ => false,
    }
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("config page: {e}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "The box could not do this (see its log). Try again in a moment.\n",
    )
        .into_response()
}

/// `GET /admin`: first-run setup, login, or the dashboard.
pub async fn page(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Err(r) = check_local(&app, &conn, &headers) {
        return r.into_response();
    }
    match app.station.access.has_password() {
        Err(e) => internal(e),
        Ok(false) => pre_login_form(&app, StatusCode::OK, |t| {
            pages::setup(&app.station.settings(), t, None)
        }),
        Ok(true) => match guard(&app, &headers, &conn, None) {
            Ok(op) => {
                let base = base_url(&app.station.settings(), &headers, &conn);
                Html(pages::dashboard(&app, &base, &op.session, &q.done, None).await)
                    .into_response()
            }
            Err(_) => pre_login_form(&app, StatusCode::OK, |t| pages::login(t, None)),
        },
    }
}

/// Logs the browser in: a session cookie, then the dashboard.
fn logged_in(app: &AppState) -> Response {
    match app.station.access.new_session() {
        Ok((token, _)) => {
            let r = Redirect::to("/admin").into_response();
            let r = set_cookie(
                r,
                &auth::cookie(
                    auth::SESSION_COOKIE,
                    &token,
                    SESSION_IDLE,
                    secure_cookies(app),
                ),
            );
            set_cookie(
                r,
                &auth::cookie(auth::FORM_COOKIE, "", Duration::ZERO, false),
            )
        }
        Err(e) => internal(e),
    }
}

/// `POST /admin/setup`: the first run sets the password and the station's name.
pub async fn setup(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_local(&app, &conn, &headers) {
        return r.into_response();
    }
    match app.station.access.has_password() {
        Ok(false) => {}
        Ok(true) => return Redirect::to("/admin").into_response(),
        Err(e) => return internal(e),
    }
    let f = Fields::parse(&body);
    if !pre_login_token_ok(&headers, &f) {
        return Refusal::Forged.into_response();
    }
    let again = |e: FormError| {
        let settings = app.station.settings();
        pre_login_form(&app, StatusCode::UNPROCESSABLE_ENTITY, move |t| {
            pages::setup(&settings, t, Some(&e))
        })
    };
    let (password, repeat) = (
        f.get("password").unwrap_or(""),
        f.get("password2").unwrap_or(""),
    );
    if password != repeat {
        return again(FormError::Input {
            field: "password2",
            problem: "the two passwords are not the same; type them again".into(),
        });
    }
    let mut op = match app.station.operator() {
        Ok(o) => o,
        Err(e) => return internal(e),
    };
    op.station_name = Some(f.text("station_name"));
    op.station_description = Some(f.text("station_description"));
    if let Err(e) = app.station.save_operator(&op) {
        return again(e.into());
    }
    let station = app.station.clone();
    let pw = password.to_string();
    match tokio::task::spawn_blocking(move || station.access.set_password(&pw)).await {
        Ok(Ok(())) => logged_in(&app),
        Ok(Err(e @ (AccessError::TooShort | AccessError::TooLong))) => again(FormError::Input {
            field: "password",
            problem: e.to_string(),
        }),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// `POST /admin/login`.
pub async fn login(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_local(&app, &conn, &headers) {
        return r.into_response();
    }
    let f = Fields::parse(&body);
    if !pre_login_token_ok(&headers, &f) {
        return Refusal::Forged.into_response();
    }
    let station = app.station.clone();
    let pw = f.get("password").unwrap_or("").to_string();
    let ip = client_ip(&app, &conn, &headers);
    match tokio::task::spawn_blocking(move || station.access.check_password(ip, &pw)).await {
        Ok(Ok(())) => logged_in(&app),
        Ok(Err(e @ AccessError::Locked(_))) => {
            pre_login_form(&app, StatusCode::TOO_MANY_REQUESTS, |t| {
                pages::login(t, Some(&e.to_string()))
            })
        }
        Ok(Err(AccessError::Wrong)) => pre_login_form(&app, StatusCode::UNAUTHORIZED, |t| {
            pages::login(t, Some("Wrong password. Check it and try again."))
        }),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// `POST /admin/logout`.
pub async fn logout(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    let op = match guard(&app, &headers, &conn, Some(f.get("csrf").unwrap_or(""))) {
        Ok(op) => op,
        Err(r) => return r.into_response(),
    };
    if let Err(e) = app.station.access.end_session(&op.token) {
        return internal(e);
    }
    set_cookie(
        Redirect::to("/admin").into_response(),
        &auth::cookie(
            auth::SESSION_COOKIE,
            "",
            Duration::ZERO,
            secure_cookies(&app),
        ),
    )
}

/// Runs a change for a logged-in operator: guard with the form's CSRF token, then `apply`;
/// on success back to the page with notice `done`, on a form error the page with the
/// message.
async fn change(
    app: &AppState,
    conn: &ConnInfo,
    headers: &HeaderMap,
    body: &[u8],
    apply: impl FnOnce(&AppState, &Fields) -> Result<&'static str, FormError>,
) -> Response {
    let f = Fields::parse(body);
    let op = match guard(app, headers, conn, Some(f.get("csrf").unwrap_or(""))) {
        Ok(op) => op,
        Err(r) => return r.into_response(),
    };
    match apply(app, &f) {
        Ok(done) => Redirect::to(&format!("/admin?done={done}")).into_response(),
        Err(FormError::Store(e)) => internal(e),
        Err(e) => {
            let base = base_url(&app.station.settings(), headers, conn);
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(pages::dashboard(app, &base, &op.session, "", Some(&e)).await),
            )
                .into_response()
        }
    }
}

fn number<T: std::str::FromStr>(
    f: &Fields,
    name: &'static str,
    what: &str,
) -> Result<T, FormError> {
    f.text(name).parse().map_err(|_| FormError::Input {
        field: name,
        problem: format!("{what} must be a whole number"),
    })
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// `POST /admin/settings`.
pub async fn settings(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    change(&app, &conn, &headers, &body, |app, f| {
        let mut op = app.station.operator()?;
        op.station_name = Some(f.text("station_name"));
        op.station_description = Some(f.text("station_description"));
        op.public_url = Some(f.text("public_url"));
        op.audio = Some(f.text("audio"));
        op.bitrate_kbps = Some(number(f, "bitrate_kbps", "the bitrate")?);
        op.library = Some(
            lines(&f.text("library"))
                .into_iter()
                .map(PathBuf::from)
                .collect(),
        );
        op.upload_limit_kib = Some(number(f, "upload_limit_kib", "the upload limit")?);
        op.trackers = Some(lines(&f.text("trackers")));
        op.allow_remote_admin = Some(f.get("allow_remote_admin").is_some());
        op.max_upload_mb = Some(number(f, "max_upload_mb", "the largest upload")?);
        op.follow = Some(lines(&f.text("follow")));
        if app.station.save_operator(&op)? {
            app.station.request_restart();
            Ok("restarting")
        } else {
            Ok("saved")
        }
    })
    .await
}

/// `POST /admin/schedule`: the whole weekly schedule, one row per show.
pub async fn schedule(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    change(&app, &conn, &headers, &body, |app, f| {
        let (days, starts, ends, names) =
            (f.all("day"), f.all("start"), f.all("end"), f.all("name"));
        let mut shows = Vec::new();
        for i in 0..names.len() {
            let field = |v: &[&str]| v.get(i).copied().unwrap_or("").to_string();
            // A row left empty (the page's spare row) is no show.
            if field(&names).trim().is_empty() && field(&starts).trim().is_empty() {
                continue;
            }
            shows.push(Show::parse(
                &field(&days),
                &field(&starts),
                &field(&ends),
                &field(&names),
            )?);
        }
        shows.sort_by_key(|s| (s.day, s.start));
        if let Some(w) = shows
            .windows(2)
            .find(|w| w[0].day == w[1].day && w[1].start < w[0].end)
        {
            return Err(FormError::Input {
                field: "schedule",
                problem: format!("'{}' and '{}' overlap", w[0].name, w[1].name),
            });
        }
        app.station.save_schedule(&shows)?;
        Ok("schedule")
    })
    .await
}

/// `POST /admin/key`: puts a saved key (from the old box) in place of this box's, so the
/// stations that follow this one keep trusting it; the services restart to use it.
pub async fn import_key(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    change(&app, &conn, &headers, &body, |app, f| {
        app.federation
            .import_key(&f.text("key"))
            .map_err(|e| FormError::Input {
                field: "key",
                problem: e.to_string(),
            })?;
        app.station.request_restart();
        Ok("restarting")
    })
    .await
}

/// `GET /admin/key`: this box's secret key as a file, for a backup.
pub async fn export_key(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = guard(&app, &headers, &conn, None) {
        return r.into_response();
    }
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
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    change(&app, &conn, &headers, &body, |app, f| {
        let ih = f.text("infohash");
        if !app.library.catalog().items.contains_key(&ih) {
            return Err(FormError::Input {
                field: "item",
                problem: "this episode is no longer in the library".into(),
            });
        }
        let (title, description) = (f.text("title"), f.text("description"));
        if title.chars().count() > 200 || description.chars().count() > 5000 {
            return Err(FormError::Input {
                field: "item",
                problem: "the title (200 characters) or the notes (5000) are too long".into(),
            });
        }
        let meta = ItemMeta {
            title: (!title.is_empty()).then_some(title),
            description: (!description.is_empty()).then_some(description),
        };
        app.station.set_item_meta(&ih, &meta)?;
        Ok("episode")
    })
    .await
}
