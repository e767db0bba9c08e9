//! `/t/<infohash>.torrent` and `/files/<infohash>/<name>`, the BEP 19 web seed.
//!
//! Only files in the library catalog are served, looked up by infohash and checked by
//! name; no part of the request path is ever joined to a directory, so a request cannot
//! reach outside the library roots. Ranges, HEAD and Last-Modified come from tower-http's
//! `ServeFile`; this adds the ETag, the MIME type of the catalog and CORS for browsers.

use axum::{
    body::Body,
    extract::{ConnectInfo, Path, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::{
    api::{trackers, web_seed_url},
    base_url,
    lang::missing,
    AppState, ConnInfo,
};
use crate::library::torrent;

pub async fn torrent(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let Some(hex) = file.strip_suffix(".torrent") else {
        return missing();
    };
    if !torrent::is_infohash_hex(hex) {
        return (
            StatusCode::BAD_REQUEST,
            "expected /t/<40 hex digits>.torrent\n",
        )
            .into_response();
    }
    let hex = hex.to_ascii_lowercase();
    let catalog = app.library.catalog();
    let (Some(item), Some(info)) = (catalog.items.get(&hex), app.library.info(&hex)) else {
        return missing();
    };
    let base = base_url(&app.station.settings(), &headers, &conn);
    // This node's web seed first, then those of the mirrors that proved they hold this
    // episode: a client that cannot reach this node downloads from a mirror.
    let seeds: Vec<String> = std::iter::once(base.clone())
        .chain(app.federation.mirrors_for(&item.infohash))
        .map(|b| web_seed_url(&b, item))
        .collect();
    let body = torrent::torrent_file(&info, &trackers(&app, &base), &seeds);
    let disposition = format!(
        "attachment; filename=\"{}.torrent\"; filename*=UTF-8''{}.torrent",
        item.name.replace(
            |c: char| !c.is_ascii_graphic() || c == '"' || c == '\\',
            "_"
        ),
        torrent::path_segment(&item.name)
    );
    (
        [
            (header::CONTENT_TYPE, "application/x-bittorrent".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".to_string()),
        ],
        body,
    )
        .into_response()
}

pub async fn file(
    State(app): State<AppState>,
    Path((infohash, name)): Path<(String, String)>,
    req: Request,
) -> Response {
    let catalog = app.library.catalog();
    let Some(item) = catalog.items.get(&infohash.to_ascii_lowercase()) else {
        return missing();
    };
    if name != item.name {
        return missing();
    }
    // The infohash names these exact bytes, so it is a strong validator.
    let etag = format!("\"{}\"", item.infohash);
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if matches {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default()
    } else {
        match ServeFile::new(item.path()).oneshot(req).await {
            Ok(r) => r.map(Body::new),
            Err(never) => match never {},
        }
    };
    let ok = res.status().is_success();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if ok {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(item.mime));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Length, Content-Range, ETag"),
    );
    res
}
