//! `/admin`: the operator's config page, made for a phone.
//!
//! Parts: `auth` (cookies, the local-network rule), `pages` (the server-rendered HTML),
//! `forms` (first run, login, settings, schedule, item notes), `upload` (resumable
//! publishing from the phone), `share` (QR codes). The state behind them (settings,
//! password, sessions, schedule, notes, uploads, history) is the station's
//! ([`crate::station`]).
//!
//! Every request to `/admin` passes [`guard`]: the local-network rule first, then the
//! session cookie; every change also needs the session's CSRF token and a same-origin
//! `Origin` (when the browser sends one).

pub mod auth;
pub mod forms;
pub mod pages;
pub mod share;
pub mod upload;

use axum::{
    extract::DefaultBodyLimit,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};

use super::{AppState, ConnInfo};
use crate::station::access::{same_secret, Session};

/// A request that passed [`guard`].
pub struct LoggedIn {
    pub token: String,
    pub session: Session,
}

/// Why a request to `/admin` is turned away.
pub enum Refusal {
    /// From outside the local network while `admin.allow_remote` is off.
    NotLocal,
    /// No valid session: log in first.
    NoSession,
    /// A change without the session's CSRF token, or from another site.
    Forged,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotLocal => (
                StatusCode::FORBIDDEN,
                "The config page only answers on the station's local network. To allow it \
                 from anywhere, set admin.allow_remote in the config file.\n",
            )
                .into_response(),
            Refusal::NoSession => Redirect::to("/admin").into_response(),
            Refusal::Forged => (
                StatusCode::FORBIDDEN,
                "This change did not come from the config page (missing or wrong security \
                 token). Reload the page and try again.\n",
            )
                .into_response(),
        }
    }
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The local-network rule alone (also for the first-run and login forms).
pub fn check_local(app: &AppState, conn: &ConnInfo, headers: &HeaderMap) -> Result<(), Refusal> {
    let admin = app.station.settings();
    if admin.admin.allow_remote || auth::is_local(super::client_ip(app, conn, headers)) {
        Ok(())
    } else {
        Err(Refusal::NotLocal)
    }
}

/// A browser sends `Origin` with every POST; one naming another site is a forgery.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

/// Local network, then a valid session; with `csrf` (a change), the session's token too.
pub fn guard(
    app: &AppState,
    headers: &HeaderMap,
    conn: &ConnInfo,
    csrf: Option<&str>,
) -> Result<LoggedIn, Refusal> {
    check_local(app, conn, headers)?;
    let token = cookie_value(headers, auth::SESSION_COOKIE).ok_or(Refusal::NoSession)?;
    let session = app
        .station
        .access
        .session(token)
        .ok_or(Refusal::NoSession)?;
    if let Some(sent) = csrf {
        if !same_origin(headers) || !same_secret(sent, &session.csrf) {
            return Err(Refusal::Forged);
        }
    }
    Ok(LoggedIn {
        token: token.to_string(),
        session,
    })
}

/// The CSRF token a script sends in `X-CSRF-Token` (uploads, JSON calls).
pub fn csrf_header(headers: &HeaderMap) -> &str {
    headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Headers for every admin response: a strict content policy (own scripts and styles
/// only, no framing), no sniffing, no caching of operator pages.
pub async fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(forms::page))
        .route("/admin/setup", post(forms::setup))
        .route("/admin/login", post(forms::login))
        .route("/admin/logout", post(forms::logout))
        .route("/admin/settings", post(forms::settings))
        .route("/admin/schedule", post(forms::schedule))
        .route("/admin/item", post(forms::item))
        .route("/admin/key", get(forms::export_key).post(forms::import_key))
        .route("/admin/status", get(pages::status))
        .route("/admin/qr", get(share::qr))
        .route("/admin/admin.js", get(pages::script))
        .route("/admin/admin.css", get(pages::style))
        .route("/admin/uploads", post(upload::create))
        .route(
            "/admin/uploads/{id}",
            get(upload::state)
                .put(upload::chunk)
                .layer(DefaultBodyLimit::max(upload::CHUNK_MAX)),
        )
        .layer(axum::middleware::map_response(secure))
}
