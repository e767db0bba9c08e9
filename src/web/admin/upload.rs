//! Publishing from the phone, the HTTP side: a resumable upload in chunks, so a dropped
//! Wi-Fi connection costs one chunk, not the half hour already sent.
//!
//! The page creates an upload (name, size, title, notes, and a fingerprint of the file so
//! choosing the same file again finds it), then sends chunks at the offset the node
//! reports. The records, files and checks are the station's
//! ([`crate::station::uploads`]); this module checks the request and says the outcome.

use axum::{
    body::Bytes,
    extract::{FromRequestParts, Path as UrlPath, Query, State},
    http::{header, request::Parts},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    error::{AdminError, Refused},
    extract::{LoggedIn, ScriptChange},
};
use crate::{
    station::uploads::{Chunk, NewUpload},
    web::AppState,
};

/// Largest chunk the page sends; requests are limited to this (see `routes`).
pub const CHUNK_MAX: usize = 4 * 1024 * 1024;

#[derive(Deserialize)]
pub struct NewUploadRequest {
    name: String,
    size: u64,
    #[serde(default)]
    fingerprint: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
}

/// `POST /admin/uploads`: starts an upload, or finds the unfinished one of the same file.
pub async fn create(
    State(app): State<AppState>,
    _: ScriptChange,
    Json(req): Json<NewUploadRequest>,
) -> Result<Json<Value>, AdminError> {
    let settings = app.station.settings();
    let max_mb = settings.admin.max_upload_mb;
    if req.size == 0 || req.size > max_mb * 1024 * 1024 {
        return Err(AdminError::UploadRefused(Refused::TooBig {
            size_mb: req.size.div_ceil(1024 * 1024),
            max_mb,
        }));
    }
    if req.title.chars().count() > 200 || req.description.chars().count() > 5000 {
        return Err(AdminError::UploadRefused(Refused::TextTooLong));
    }
    if let Some((free, _)) = crate::system::disk_space(&settings.data_dir) {
        if free < req.size + 100 * 1024 * 1024 {
            return Err(AdminError::UploadRefused(Refused::NoRoom));
        }
    }
    let new = NewUpload {
        name: &req.name,
        size: req.size,
        fingerprint: &req.fingerprint,
        title: &req.title,
        description: &req.description,
    };
    let (id, received) = app.station.uploads.start(&new)?;
    Ok(Json(json!({ "id": id, "received": received })))
}

/// `GET /admin/uploads/{id}`: how much the node has.
pub async fn state(
    State(app): State<AppState>,
    _: LoggedIn,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>, AdminError> {
    let p = app.station.uploads.progress(&id)?;
    Ok(Json(
        json!({ "received": p.received, "size": p.size, "done": p.done }),
    ))
}

#[derive(Deserialize)]
pub struct ChunkQuery {
    offset: u64,
}

/// A chunk's declared size, refused above [`CHUNK_MAX`] before any of its body is read. A
/// body sent without a length is cut at the same size as it streams (`routes`).
pub struct ChunkLength;

impl FromRequestParts<AppState> for ChunkLength {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, AdminError> {
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(n) if n > CHUNK_MAX as u64 => Err(AdminError::UploadRefused(Refused::ChunkTooBig)),
            _ => Ok(ChunkLength),
        }
    }
}

/// `PUT /admin/uploads/{id}?offset=N`: appends one chunk at `N`, which must be what the
/// node already has (otherwise 409 with the right offset, and the page resends from there).
///
/// The extractors run in order, and all but the body before the body is read: the
/// local-network rule, the session and its token (`ScriptChange`), then the chunk's size.
pub async fn chunk(
    State(app): State<AppState>,
    _: ScriptChange,
    _: ChunkLength,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<ChunkQuery>,
    body: Bytes,
) -> Result<Json<Value>, AdminError> {
    let station = app.station.clone();
    let kept =
        tokio::task::spawn_blocking(move || station.uploads.append(&id, q.offset, &body)).await?;
    Ok(Json(match kept? {
        Chunk::Kept(n) => json!({ "received": n }),
        Chunk::Finished { received, file } => {
            json!({ "received": received, "done": true, "file": file })
        }
        Chunk::AlreadyDone => json!({ "done": true }),
    }))
}
