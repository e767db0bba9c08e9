//! `/admin`: the operator's config page, made for a phone.
//!
//! Parts: `extract` (who is asking: the local-network rule, the session, the CSRF token,
//! as extractors), `error` (every refusal and failure, answered in one place), `auth`
//! (cookies, the local-network rule), `pages` (the frame and the pre-login pages),
//! `dashboard` (what the dashboard shows, gathered) and `sections` (its HTML, one renderer
//! per section), `forms` (first run, login, settings, schedule, item notes), `host` (the
//! box's own names, the only ones the page answers under), `upload`
//! (resumable publishing from the phone), `share` (QR codes). The state behind them
//! (settings, password, sessions, schedule, notes, uploads, history) is the station's
//! ([`crate::station`]); `update` says the system updates' state, which is the updater's.
//!
//! Every handler names what it needs of the request as an extractor: [`extract::Local`]
//! (the local-network rule), [`extract::LoggedIn`] (then the session cookie),
//! [`extract::Change`] or [`extract::ScriptChange`] (then the session's CSRF token and a
//! same-origin `Origin`, when the browser sends one).

pub mod auth;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod forms;
pub mod host;
pub mod pages;
mod reply;
pub mod sections;
pub mod share;
mod stale;
pub mod tasks;
pub mod update;
pub mod upload;

use axum::{
    extract::DefaultBodyLimit,
    http::{header, HeaderValue},
    response::Response,
    routing::{get, post},
    Router,
};

use super::AppState;

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

/// The config page's routes, each refused under a name that is not the box's (`host`).
pub fn routes(state: AppState) -> Router<AppState> {
    // Each task's page at its own address (beside the forms that post there).
    let pages = tasks::Task::LINKED
        .into_iter()
        .fold(Router::new(), |r, task| {
            r.route(
                task.path(),
                get(move |s, l, op, q| forms::task_page(task, s, l, op, q)),
            )
        });
    pages
        .route("/admin", get(forms::page))
        .route("/admin/setup", post(forms::setup))
        .route("/admin/login", post(forms::login))
        .route("/admin/logout", post(forms::logout))
        .route("/admin/settings", post(forms::settings))
        .route("/admin/schedule", post(forms::schedule))
        .route("/admin/music", post(forms::music))
        .route("/admin/usb", post(forms::usb))
        .route("/admin/item", post(forms::item))
        .route("/admin/mirrors", post(forms::mirrors))
        .route("/admin/update", post(forms::update))
        .route(
            "/admin/logo",
            // The picture and the form's few fields.
            post(forms::logo).layer(DefaultBodyLimit::max(
                crate::station::logo::MAX_BYTES + 64 * 1024,
            )),
        )
        .route("/admin/key", get(forms::export_key).post(forms::import_key))
        .route("/admin/status", get(pages::status))
        .route("/admin/plays.csv", get(pages::plays_csv))
        .route("/admin/federation", get(super::federation::details))
        .route("/admin/qr", get(share::qr))
        .route("/admin/admin.js", get(crate::web::assets::admin_js))
        .route("/admin/admin.css", get(crate::web::assets::admin_css))
        .route("/admin/uploads", post(upload::create))
        .route(
            "/admin/uploads/{id}",
            get(upload::state)
                .put(upload::chunk)
                .layer(DefaultBodyLimit::max(upload::CHUNK_MAX)),
        )
        .route("/admin/audio/devices", get(pages::devices))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            host::own_names_only,
        ))
        .layer(axum::middleware::map_response(secure))
}
