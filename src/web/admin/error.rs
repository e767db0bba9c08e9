//! What can go wrong on the config page, and the one place that turns it into an answer:
//! refusals (another network, no session, a forged change), forms to fill again, uploads
//! the page's script must hear about, and the box's own failures.

use axum::{
    extract::rejection::BytesRejection,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Json,
};
use serde_json::json;

use super::reply::Page;
use crate::{
    config::ConfigError,
    i18n::{Msg, Tr},
    msg,
    station::{access::AccessError, uploads::UploadError, Error as StationError, SaveError},
    web::lang::{said, Back, Said},
};

/// An upload turned down before the station sees it.
#[derive(Debug)]
pub enum Refused {
    TooBig { size_mb: u64, max_mb: u64 },
    TextTooLong,
    NoRoom,
    ChunkTooBig,
}

impl Refused {
    /// What the page's script shows.
    fn said(&self) -> Msg {
        match self {
            Refused::TooBig { size_mb, max_mb } => {
                msg!("admin-upload-too-big", size = *size_mb, max = *max_mb)
            }
            Refused::TextTooLong => msg!("admin-text-too-long"),
            Refused::NoRoom => msg!("admin-upload-no-room"),
            Refused::ChunkTooBig => msg!("admin-upload-chunk-too-big"),
        }
    }
}

/// Why a request to `/admin` got no ordinary answer.
#[derive(Debug)]
pub enum AdminError {
    /// Sent under a name that is not the box's (DNS rebinding): see `host`.
    ForeignHost,
    /// From outside the local network while `admin.allow_remote` is off.
    NotLocal,
    /// No valid session: log in first.
    NoSession,
    /// The first-run form after the first run: the page shows the login instead.
    SetUp,
    /// A change without the session's CSRF token, or from another site.
    Forged,
    /// The form's body could not be read (too large, cut off).
    Body(BytesRejection),
    /// A form with a file could not be read (too large, cut off, not multipart).
    Multipart { status: StatusCode, reason: String },
    /// The form again, with the message beside the field that was wrong.
    Form(Page),
    /// The login form again after a wrong password.
    WrongPassword(Page),
    /// The login form again while the login limit waits.
    Locked(Page),
    /// An upload the station turned down.
    Upload(UploadError),
    /// An upload the page turned down before the station saw it.
    UploadRefused(Refused),
    /// The box failed (store, task): logged, and said plainly.
    Internal(String),
}

impl AdminError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AdminError::Internal(e.to_string())
    }
}

impl From<StationError> for AdminError {
    fn from(e: StationError) -> Self {
        AdminError::internal(e)
    }
}

impl From<AccessError> for AdminError {
    fn from(e: AccessError) -> Self {
        AdminError::internal(e)
    }
}

impl From<tokio::task::JoinError> for AdminError {
    fn from(e: tokio::task::JoinError) -> Self {
        AdminError::internal(e)
    }
}

impl From<UploadError> for AdminError {
    fn from(e: UploadError) -> Self {
        AdminError::Upload(e)
    }
}

/// An error page in the visitor's language (written by `web::lang::render_said`).
fn page(status: StatusCode, title: Msg, text: Msg, back: Back) -> Response {
    said(status, Said::Page { title, text, back })
}

/// A JSON error for the page's script (uploads), which shows `error` as it is.
fn script_error(status: StatusCode, m: Msg) -> Response {
    said(status, Said::Json(m))
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            AdminError::ForeignHost => page(
                StatusCode::FORBIDDEN,
                msg!("admin-error-foreign-host-title"),
                msg!("admin-error-foreign-host"),
                Back::Station,
            ),
            AdminError::NotLocal => page(
                StatusCode::FORBIDDEN,
                msg!("admin-error-not-local-title"),
                msg!("admin-error-not-local"),
                Back::Station,
            ),
            AdminError::NoSession | AdminError::SetUp => Redirect::to("/admin").into_response(),
            AdminError::Forged => page(
                StatusCode::FORBIDDEN,
                msg!("admin-error-forged-title"),
                msg!("admin-error-forged"),
                Back::Settings,
            ),
            AdminError::Body(e) => {
                tracing::info!("config page: a form's body was refused: {e}");
                page(
                    e.status(),
                    msg!("admin-error-body-title"),
                    msg!("admin-error-body"),
                    Back::Settings,
                )
            }
            AdminError::Multipart { status, reason } => {
                tracing::info!("config page: a form with a file was refused: {reason}");
                page(
                    status,
                    msg!("admin-error-body-title"),
                    msg!("admin-error-body"),
                    Back::Settings,
                )
            }
            AdminError::Form(page) => (StatusCode::UNPROCESSABLE_ENTITY, page).into_response(),
            AdminError::WrongPassword(page) => (StatusCode::UNAUTHORIZED, page).into_response(),
            AdminError::Locked(page) => (StatusCode::TOO_MANY_REQUESTS, page).into_response(),
            AdminError::Upload(e) => match e {
                UploadError::NotFound => {
                    script_error(StatusCode::NOT_FOUND, msg!("admin-upload-not-found"))
                }
                UploadError::Offset(have) => {
                    (StatusCode::CONFLICT, Json(json!({ "received": have }))).into_response()
                }
                UploadError::TooLong => {
                    script_error(StatusCode::BAD_REQUEST, msg!("admin-upload-too-long"))
                }
                UploadError::NotAudio => script_error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    msg!("admin-upload-not-audio"),
                ),
                UploadError::Io(e) => {
                    tracing::error!("config page: storing an upload: {e}");
                    script_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        msg!("admin-upload-cannot-store"),
                    )
                }
                UploadError::Store(e) => {
                    tracing::error!("config page: an upload's record: {e}");
                    script_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        msg!("admin-upload-cannot-store"),
                    )
                }
            },
            AdminError::UploadRefused(r) => {
                let status = match r {
                    Refused::TooBig { .. } | Refused::ChunkTooBig => StatusCode::PAYLOAD_TOO_LARGE,
                    Refused::TextTooLong => StatusCode::UNPROCESSABLE_ENTITY,
                    Refused::NoRoom => StatusCode::INSUFFICIENT_STORAGE,
                };
                script_error(status, r.said())
            }
            AdminError::Internal(e) => {
                tracing::error!("config page: {e}");
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    msg!("admin-error-internal-title"),
                    msg!("admin-error-internal"),
                    Back::Settings,
                )
            }
        }
    }
}

/// A form that cannot be saved, said for the operator: which field and why.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("{0}")]
    Field(#[from] ConfigError),
    #[error("{problem}")]
    Input { field: &'static str, problem: Msg },
    /// Another phone saved the same form since this one's page was made: the page comes
    /// back as it is now, not as typed.
    #[error("changed meanwhile")]
    Stale,
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
            FormError::Stale | FormError::Store(_) => "",
        }
    }

    /// The message shown beside the field, in `tr`'s language.
    pub fn message(&self, tr: Tr) -> String {
        match self {
            FormError::Field(e) => {
                format!(
                    "{}. {}.",
                    sentence(&e.problem.say(tr)),
                    sentence(&e.fix.say(tr))
                )
            }
            FormError::Input { problem, .. } => tr.say(problem),
            FormError::Stale => tr.t("admin-changed-meanwhile"),
            FormError::Store(_) => tr.t("admin-form-store"),
        }
    }
}

/// A config error's part as the start of a sentence: the file's messages are written to
/// follow `config error: key:` in lower case.
fn sentence(part: &str) -> String {
    let mut chars = part.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
