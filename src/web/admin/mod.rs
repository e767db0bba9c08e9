//! `/admin`: the operator's config page, made for a phone.
//!
//! Parts: `auth` (password, sessions, CSRF, login limit, local-network rule), `pages`
//! (the server-rendered HTML), `forms` (first run, login, settings, schedule, item notes),
//! `upload` (resumable publishing from the phone), `history` (the 24-hour graphs),
//! `share` (QR codes). State goes through [`crate::store`]; settings through
//! [`crate::config::operator`].
//!
//! Every request to `/admin` passes [`guard`]: the local-network rule first, then the
//! session cookie; every change also needs the session's CSRF token and a same-origin
//! `Origin` (when the browser sends one).

pub mod auth;
pub mod forms;
pub mod history;
pub mod pages;
pub mod share;
pub mod upload;

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use axum::{
    extract::DefaultBodyLimit,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use tokio_util::sync::CancellationToken;

use crate::{
    config::{
        operator::{Operator, Show, SCHEDULE_KEY},
        Config, Settings,
    },
    store::{Store, StoreError, Tree},
};

use super::{AppState, ConnInfo};
use auth::{Auth, Session};

const OPERATOR_KEY: &str = "operator";

/// The operator's titles and notes for a library item (the USB storage is read-only, so
/// they live in sled, by infohash).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemMeta {
    pub title: Option<String>,
    pub description: Option<String>,
}

/// The config page's state, shared by its handlers.
pub struct Admin {
    pub store: Store,
    pub auth: Auth,
    /// The config file and command line, before the operator's choices.
    base: Config,
    /// The settings as the operator last saved them (the running services may still use
    /// older ones until a restart).
    current: RwLock<Arc<Settings>>,
    /// Why the saved choices could not be used at start, if they could not.
    pub startup_problem: Option<String>,
    /// Cancelled to restart the node's services with new settings.
    restart: CancellationToken,
}

impl Admin {
    pub fn new(
        store: Store,
        base: Config,
        settings: Arc<Settings>,
        startup_problem: Option<String>,
        restart: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            auth: Auth::new(store.clone()),
            store,
            base,
            current: RwLock::new(settings),
            startup_problem,
            restart,
        })
    }

    /// The saved choices laid over `base` and checked; on a problem, `base` alone, with the
    /// problem to show on the page. The node starts with this.
    pub fn startup_settings(
        store: &Store,
        base: &Config,
    ) -> Result<(Settings, Option<String>), crate::config::ConfigError> {
        let op: Operator = match store.setting(OPERATOR_KEY) {
            Ok(o) => o.unwrap_or_default(),
            Err(e) => {
                let problem = format!("saved settings unreadable ({e}); running on defaults");
                return Ok((base.clone().validate()?, Some(problem)));
            }
        };
        match op.settings(base) {
            Ok(s) => Ok((s, None)),
            Err(e) => Ok((
                base.clone().validate()?,
                Some(format!(
                    "your saved settings could not be used ({e}); the box runs on its \
                     defaults until you change them"
                )),
            )),
        }
    }

    pub fn settings(&self) -> Arc<Settings> {
        self.current
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn operator(&self) -> Result<Operator, StoreError> {
        Ok(self.store.setting(OPERATOR_KEY)?.unwrap_or_default())
    }

    /// Validates `op` over the base config and saves it (durably, before returning).
    /// Returns whether the services must restart to use it.
    pub fn save_operator(
        &self,
        op: &Operator,
        running: &Settings,
    ) -> Result<bool, forms::FormError> {
        let new = op.settings(&self.base)?;
        self.store.set_setting(OPERATOR_KEY, op)?;
        let restart = crate::config::operator::needs_restart(running, &new);
        if let Ok(mut cur) = self.current.write() {
            *cur = Arc::new(new);
        }
        Ok(restart)
    }

    /// Restarts the services half a second from now: after the page's answer has gone
    /// out (the restart closes this connection too).
    pub fn restart_services_soon(&self) {
        let restart = self.restart.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            tracing::info!("restarting the services with the new settings");
            restart.cancel();
        });
    }

    pub fn schedule(&self) -> Vec<Show> {
        self.store
            .setting(SCHEDULE_KEY)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    pub fn save_schedule(&self, shows: &[Show]) -> Result<(), StoreError> {
        self.store.set_setting(SCHEDULE_KEY, &shows)
    }

    pub fn item_meta(&self) -> HashMap<String, ItemMeta> {
        match self.store.scan::<ItemMeta>(Tree::ItemMeta, &[]) {
            Ok(v) => v
                .into_iter()
                .map(|(k, m)| (String::from_utf8_lossy(&k).into_owned(), m))
                .collect(),
            Err(e) => {
                tracing::warn!("item notes: {e}");
                HashMap::new()
            }
        }
    }

    pub fn set_item_meta(&self, infohash: &str, meta: &ItemMeta) -> Result<(), StoreError> {
        if meta == &ItemMeta::default() {
            self.store.remove(Tree::ItemMeta, infohash.as_bytes())
        } else {
            self.store.put(Tree::ItemMeta, infohash.as_bytes(), meta)
        }
    }
}

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
    let admin = app.admin.settings();
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
    let session = app.admin.auth.session(token).ok_or(Refusal::NoSession)?;
    if let Some(sent) = csrf {
        if !same_origin(headers) || !auth::same_secret(sent, &session.csrf) {
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
