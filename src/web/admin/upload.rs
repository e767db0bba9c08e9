//! Publishing from the phone, the HTTP side: a resumable upload in chunks, so a dropped
//! Wi-Fi connection costs one chunk, not the half hour already sent.
//!
//! The page creates an upload (name, size, title, notes, and a fingerprint of the file so
//! choosing the same file again finds it), then sends chunks at the offset the node
//! reports. The records, files and checks are the station's
//! ([`crate::station::uploads`]); this module checks the request and says the outcome.

use std::path::{Path, PathBuf};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, Path as UrlPath, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::json;

use super::{csrf_header, guard};
use crate::{
    station::uploads::{Chunk, NewUpload, UploadError},
    web::{AppState, ConnInfo},
};

/// Largest chunk the page sends; requests are limited to this (see `routes`).
pub const CHUNK_MAX: usize = 4 * 1024 * 1024;
/// Where USB storage is mounted on the appliance (one folder per volume).
const USB_MOUNTS: &str = "/media/streamp2p";

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

fn refuse(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

/// An upload that went wrong, said for the page.
fn failed(e: UploadError) -> Response {
    match e {
        UploadError::NotFound => refuse(StatusCode::NOT_FOUND, "no such upload"),
        UploadError::Offset(have) => {
            (StatusCode::CONFLICT, Json(json!({ "received": have }))).into_response()
        }
        UploadError::TooLong => refuse(StatusCode::BAD_REQUEST, "more bytes than the file has"),
        UploadError::NotAudio => refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This file is not audio the box knows (MP3, Ogg, Opus, FLAC, WAV or M4A).",
        ),
        UploadError::Io(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The box cannot store uploads: {e}"),
        ),
        UploadError::Store(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Free and total bytes of the filesystem holding `p`.
pub fn disk_space(p: &Path) -> Option<(u64, u64)> {
    let s = nix::sys::statvfs::statvfs(p).ok()?;
    let unit = s.fragment_size() as u64;
    Some((s.blocks_available() as u64 * unit, s.blocks() as u64 * unit))
}

/// USB volumes mounted by the appliance's udev rule, for the settings page.
pub fn usb_volumes() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(USB_MOUNTS)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// `POST /admin/uploads`: starts an upload, or finds the unfinished one of the same file.
pub async fn create(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    Json(req): Json<NewUploadRequest>,
) -> Response {
    if let Err(r) = guard(&app, &headers, &conn, Some(csrf_header(&headers))) {
        return r.into_response();
    }
    let settings = app.station.settings();
    let max = settings.admin.max_upload_mb * 1024 * 1024;
    if req.size == 0 || req.size > max {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "This file is {} MB; the largest upload is {} MB (Settings).",
                req.size.div_ceil(1024 * 1024),
                settings.admin.max_upload_mb
            ),
        );
    }
    if req.title.chars().count() > 200 || req.description.chars().count() > 5000 {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The title (200 characters) or the notes (5000) are too long.",
        );
    }
    if let Some((free, _)) = disk_space(&settings.data_dir) {
        if free < req.size + 100 * 1024 * 1024 {
            return refuse(
                StatusCode::INSUFFICIENT_STORAGE,
                "The box does not have room for this file. Delete old recordings first.",
            );
        }
    }
    let new = NewUpload {
        name: &req.name,
        size: req.size,
        fingerprint: &req.fingerprint,
        title: &req.title,
        description: &req.description,
    };
    match app.station.uploads.start(&new) {
        Ok((id, received)) => Json(json!({ "id": id, "received": received })).into_response(),
        Err(e) => failed(e),
    }
}

/// `GET /admin/uploads/{id}`: how much the node has.
pub async fn state(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    if let Err(r) = guard(&app, &headers, &conn, None) {
        return r.into_response();
    }
    match app.station.uploads.progress(&id) {
        Ok(p) => {
            Json(json!({ "received": p.received, "size": p.size, "done": p.done })).into_response()
        }
        Err(e) => failed(e),
    }
}

#[derive(Deserialize)]
pub struct ChunkQuery {
    offset: u64,
}

/// `PUT /admin/uploads/{id}?offset=N`: appends one chunk at `N`, which must be what the
/// node already has (otherwise 409 with the right offset, and the page resends from there).
pub async fn chunk(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<ChunkQuery>,
    body: Bytes,
) -> Response {
    if let Err(r) = guard(&app, &headers, &conn, Some(csrf_header(&headers))) {
        return r.into_response();
    }
    let station = app.station.clone();
    let kept =
        tokio::task::spawn_blocking(move || station.uploads.append(&id, q.offset, &body)).await;
    match kept {
        Ok(Ok(Chunk::Kept(n))) => Json(json!({ "received": n })).into_response(),
        Ok(Ok(Chunk::Finished { received, file })) => {
            Json(json!({ "received": received, "done": true, "file": file })).into_response()
        }
        Ok(Ok(Chunk::AlreadyDone)) => Json(json!({ "done": true })).into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
