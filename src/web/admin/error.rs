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
use crate::i18n::Tr;
use crate::{
    config::ConfigError,
    station::{access::AccessError, uploads::UploadError, Error as StationError, SaveError},
};

/// An upload turned down before the station sees it, said for the page.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("This file is {size_mb} MB; the largest upload is {max_mb} MB (Settings).")]
    TooBig { size_mb: u64, max_mb: u64 },
    #[error("The title (200 characters) or the notes (5000) are too long.")]
    TextTooLong,
    #[error("The box does not have room for this file. Delete old recordings first.")]
    NoRoom,
    #[error("This piece of the upload is larger than the page sends.")]
    ChunkTooBig,
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

/// A JSON error for the page's script (uploads).
fn script_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            AdminError::ForeignHost => (
                StatusCode::FORBIDDEN,
                "The config page only answers at the box's own address: its IP address, \
                 streamp2p.local, or the station's public address.\n",
            )
                .into_response(),
            AdminError::NotLocal => (
                StatusCode::FORBIDDEN,
                "The config page only answers on the station's local network. To allow it \
                 from anywhere, set admin.allow_remote in the config file.\n",
            )
                .into_response(),
            AdminError::NoSession | AdminError::SetUp => Redirect::to("/admin").into_response(),
            AdminError::Forged => (
                StatusCode::FORBIDDEN,
                "This change did not come from the config page (missing or wrong security \
                 token). Reload the page and try again.\n",
            )
                .into_response(),
            AdminError::Body(e) => e.into_response(),
            AdminError::Form(page) => (StatusCode::UNPROCESSABLE_ENTITY, page).into_response(),
            AdminError::WrongPassword(page) => (StatusCode::UNAUTHORIZED, page).into_response(),
            AdminError::Locked(page) => (StatusCode::TOO_MANY_REQUESTS, page).into_response(),
            AdminError::Upload(e) => match e {
                UploadError::NotFound => script_error(StatusCode::NOT_FOUND, "no such upload"),
                UploadError::Offset(have) => {
                    (StatusCode::CONFLICT, Json(json!({ "received": have }))).into_response()
                }
                UploadError::TooLong => {
                    script_error(StatusCode::BAD_REQUEST, "more bytes than the file has")
                }
                UploadError::NotAudio => script_error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "This file is not audio the box knows (MP3, Ogg, Opus, FLAC, WAV or M4A).",
                ),
                UploadError::Io(e) => script_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("The box cannot store uploads: {e}"),
                ),
                UploadError::Store(e) => {
                    script_error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                }
            },
            AdminError::UploadRefused(r) => {
                let status = match r {
                    Refused::TooBig { .. } | Refused::ChunkTooBig => StatusCode::PAYLOAD_TOO_LARGE,
                    Refused::TextTooLong => StatusCode::UNPROCESSABLE_ENTITY,
                    Refused::NoRoom => StatusCode::INSUFFICIENT_STORAGE,
                };
                script_error(status, r.to_string())
            }
            AdminError::Internal(e) => {
                tracing::error!("config page: {e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The box could not do this (see its log). Try again in a moment.\n",
                )
                    .into_response()
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
    pub fn message(&self, _tr: Tr) -> String {
        match self {
            FormError::Field(e) => format!("{}; {}", e.problem, e.fix),
            other => other.to_string(),
        }
    }
}
