//! Publishing from the phone: a resumable upload in chunks, so a dropped Wi-Fi connection
//! costs one chunk, not the half hour already sent.
//!
//! The page creates an upload (name, size, title, notes, and a fingerprint of the file so
//! choosing the same file again finds it), then sends chunks at the offset the node
//! reports. Every chunk is on disk (fsync) before it is acknowledged. The file's type is
//! checked from its first bytes, not its name; then it is moved into `<data>/uploads`, a
//! library root, where it is hashed and seeded like any file, and its title and notes
//! follow it once it has an infohash.

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, Path as UrlPath, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{auth, csrf_header, guard, ItemMeta};
use crate::{
    store::{Store, Tree},
    web::{AppState, ConnInfo},
};

/// Largest chunk the page sends; requests are limited to this (see `routes`).
pub const CHUNK_MAX: usize = 4 * 1024 * 1024;
/// Where USB storage is mounted on the appliance (one folder per volume).
const USB_MOUNTS: &str = "/media/streamp2p";

/// The library root for published files.
pub fn uploads_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads")
}

fn incoming_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads-incoming")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub name: String,
    pub size: u64,
    pub fingerprint: String,
    pub title: String,
    pub description: String,
    /// Set once the file is in the library folder; the record then waits for its infohash.
    pub path: Option<PathBuf>,
}

#[derive(Deserialize)]
pub struct NewUpload {
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

/// Audio types recognised from a file's first bytes, with the extension it is given.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"ID3") {
        return Some("mp3");
    }
    if head.starts_with(b"OggS") {
        // Opus in Ogg names itself in the first page.
        return Some(if head.windows(8).any(|w| w == b"OpusHead") {
            "opus"
        } else {
            "ogg"
        });
    }
    if head.starts_with(b"fLaC") {
        return Some("flac");
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        return Some("wav");
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some("m4a");
    }
    // A bare MPEG audio frame: 11 sync bits, a layer, a bitrate index that is not "bad".
    if head.len() >= 3
        && head[0] == 0xff
        && head[1] & 0xe0 == 0xe0
        && head[1] & 0x06 != 0
        && head[2] & 0xf0 != 0xf0
    {
        return Some("mp3");
    }
    None
}

/// A safe file stem from the operator's file name: letters, digits, spaces, `-_.()`.
fn stem(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let base = base.rsplit_once('.').map_or(base, |(s, _)| s);
    let clean: String = base
        .chars()
        .filter(|c| c.is_alphanumeric() || " -_().".contains(*c))
        .take(100)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "episode".into()
    } else {
        clean
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

fn part_path(data_dir: &Path, id: &str) -> PathBuf {
    incoming_dir(data_dir).join(format!("{id}.part"))
}

fn received(data_dir: &Path, id: &str) -> u64 {
    std::fs::metadata(part_path(data_dir, id))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Upload ids are our own random tokens; anything else is refused before touching a path.
fn valid_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `POST /admin/uploads`: starts an upload, or finds the unfinished one of the same file.
pub async fn create(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    Json(req): Json<NewUpload>,
) -> Response {
    if let Err(r) = guard(&app, &headers, &conn, Some(csrf_header(&headers))) {
        return r.into_response();
    }
    let settings = app.admin.settings();
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
    if let Some((free, _)) = disk_space(&app.settings.data_dir) {
        if free < req.size + 100 * 1024 * 1024 {
            return refuse(
                StatusCode::INSUFFICIENT_STORAGE,
                "The box does not have room for this file. Delete old recordings first.",
            );
        }
    }
    let store = &app.admin.store;
    let data = &app.settings.data_dir;
    let pending = store.scan::<Upload>(Tree::Uploads, &[]).unwrap_or_default();
    if !req.fingerprint.is_empty() {
        if let Some((id, _)) = pending.iter().find(|(_, u)| {
            u.path.is_none()
                && u.fingerprint == req.fingerprint
                && u.size == req.size
                && u.name == req.name
        }) {
            let id = String::from_utf8_lossy(id).into_owned();
            return Json(json!({ "id": id, "received": received(data, &id) })).into_response();
        }
    }
    let id = auth::random_token();
    let up = Upload {
        name: req.name.chars().take(200).collect(),
        size: req.size,
        fingerprint: req.fingerprint.chars().take(200).collect(),
        title: req.title.trim().to_string(),
        description: req.description.trim().to_string(),
        path: None,
    };
    let made = std::fs::create_dir_all(incoming_dir(data))
        .and_then(|_| std::fs::File::create(part_path(data, &id)).map(|_| ()));
    if let Err(e) = made {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The box cannot store uploads: {e}"),
        );
    }
    if let Err(e) = store.put(Tree::Uploads, id.as_bytes(), &up) {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    Json(json!({ "id": id, "received": 0 })).into_response()
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
    if !valid_id(&id) {
        return refuse(StatusCode::NOT_FOUND, "no such upload");
    }
    match app.admin.store.get::<Upload>(Tree::Uploads, id.as_bytes()) {
        Ok(Some(u)) => Json(json!({
            "received": u.path.as_ref().map_or_else(|| received(&app.settings.data_dir, &id), |_| u.size),
            "size": u.size,
            "done": u.path.is_some(),
        }))
        .into_response(),
        _ => refuse(StatusCode::NOT_FOUND, "no such upload"),
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
    if !valid_id(&id) {
        return refuse(StatusCode::NOT_FOUND, "no such upload");
    }
    let store = app.admin.store.clone();
    let up = match store.get::<Upload>(Tree::Uploads, id.as_bytes()) {
        Ok(Some(u)) if u.path.is_none() => u,
        Ok(Some(_)) => return Json(json!({ "done": true })).into_response(),
        _ => return refuse(StatusCode::NOT_FOUND, "no such upload"),
    };
    let data = app.settings.data_dir.clone();
    let have = received(&data, &id);
    if q.offset != have {
        return (StatusCode::CONFLICT, Json(json!({ "received": have }))).into_response();
    }
    if have + body.len() as u64 > up.size {
        return refuse(StatusCode::BAD_REQUEST, "more bytes than the file has");
    }
    if have == 0 && sniff(&body[..body.len().min(64)]).is_none() {
        let _ = std::fs::remove_file(part_path(&data, &id));
        let _ = store.remove(Tree::Uploads, id.as_bytes());
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This file is not audio the box knows (MP3, Ogg, Opus, FLAC, WAV or M4A).",
        );
    }
    let path = part_path(&data, &id);
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let mut f = std::fs::OpenOptions::new().append(true).open(&path)?;
        f.write_all(&body)?;
        f.sync_data()?;
        Ok(f.metadata()?.len())
    })
    .await;
    let now = match written {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("write: {e}")),
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    if now < up.size {
        return Json(json!({ "received": now })).into_response();
    }
    match tokio::task::spawn_blocking(move || finish(&store, &data, &id, up)).await {
        Ok(Ok(path)) => Json(json!({
            "received": now,
            "done": true,
            "file": path.file_name().map(|n| n.to_string_lossy().into_owned()),
        }))
        .into_response(),
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Moves a complete upload into the library folder under a name of its own.
fn finish(store: &Store, data: &Path, id: &str, mut up: Upload) -> Result<PathBuf, String> {
    let part = part_path(data, id);
    let mut head = [0u8; 64];
    let n = std::fs::File::open(&part)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map_err(|e| format!("read back: {e}"))?;
    let ext = sniff(&head[..n]).ok_or("not audio")?;
    let dir = uploads_dir(data);
    std::fs::create_dir_all(&dir).map_err(|e| format!("uploads folder: {e}"))?;
    let stem = stem(&up.name);
    let dest = (0..1000)
        .map(|i| match i {
            0 => dir.join(format!("{stem}.{ext}")),
            i => dir.join(format!("{stem}-{i}.{ext}")),
        })
        .find(|p| !p.exists())
        .ok_or("too many files of this name")?;
    std::fs::rename(&part, &dest).map_err(|e| format!("move into the library: {e}"))?;
    // The rename is durable only once the folder is.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    up.path = Some(dest.clone());
    store
        .put(Tree::Uploads, id.as_bytes(), &up)
        .map_err(|e| e.to_string())?;
    Ok(dest)
}

/// Gives finished uploads their title and notes once the library has hashed them, then
/// forgets the upload. Runs on every library change until `shutdown`.
pub async fn run(app: AppState, shutdown: CancellationToken) {
    let mut changes = app.library.subscribe();
    loop {
        adopt(&app);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = changes.changed() => if r.is_err() { return },
        }
    }
}

fn adopt(app: &AppState) {
    let store = &app.admin.store;
    let Ok(pending) = store.scan::<Upload>(Tree::Uploads, &[]) else {
        return;
    };
    let catalog = app.library.catalog();
    let by_path: HashMap<&Path, &str> = catalog
        .items
        .values()
        .map(|i| (i.path(), i.infohash.as_str()))
        .collect();
    for (id, up) in pending {
        let Some(path) = &up.path else { continue };
        let Some(ih) = by_path.get(path.as_path()) else {
            continue;
        };
        let meta = ItemMeta {
            title: (!up.title.is_empty()).then(|| up.title.clone()),
            description: (!up.description.is_empty()).then(|| up.description.clone()),
        };
        let r = app
            .admin
            .set_item_meta(ih, &meta)
            .and_then(|_| store.remove(Tree::Uploads, &id));
        if let Err(e) = r {
            tracing::warn!("upload notes: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_is_recognised_by_content() {
        assert_eq!(sniff(b"ID3\x04\0\0"), Some("mp3"));
        assert_eq!(sniff(&[0xff, 0xfb, 0x90, 0x64]), Some("mp3"));
        assert_eq!(sniff(b"OggS\0\x02....OpusHead"), Some("opus"));
        assert_eq!(sniff(b"OggS\0\x02....\x01vorbis"), Some("ogg"));
        assert_eq!(sniff(b"fLaC\0\0\0\x22"), Some("flac"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), Some("wav"));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A "), Some("m4a"));
        assert_eq!(sniff(b"<html><body>"), None);
        assert_eq!(sniff(b"\x7fELF\x02\x01"), None);
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0]), None, "a JPEG is not MP3");
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(stem("../../etc/passwd.mp3"), "passwd");
        assert_eq!(stem("My Show (live).wav"), "My Show (live)");
        assert_eq!(stem("...."), "episode");
        assert_eq!(stem("a<b>c\"d.ogg"), "abcd");
        assert!(!valid_id("../x") && valid_id(&"a".repeat(64)));
    }
}
