//! The system update this box shares with the stations that follow it
//! ([`crate::update::share`]): its signed manifest, as the release key signed it, and the
//! bundle's torrent, with the node's own tracker, which lists the node as its seeder.
//! Both 404 while the box shares none.

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};

use super::{base_url, lang::missing, AppState, ConnInfo};
use crate::library::torrent;

/// `GET /api/update/manifest`: the signed bytes; followers check them, not this box.
pub async fn manifest(State(app): State<AppState>) -> Response {
    let Some(shared) = app.updates.share().current() else {
        return missing();
    };
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        shared.signed.clone(),
    )
        .into_response()
}

/// `GET /api/update/bundle.torrent`: the bundle as a single-file torrent.
pub async fn torrent(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
) -> Response {
    let Some(shared) = app.updates.share().current() else {
        return missing();
    };
    let base = base_url(&app.station.settings(), &headers, &conn);
    let body = torrent::torrent_file(&shared.info, &[format!("{base}/announce")], &[]);
    ([(header::CONTENT_TYPE, "application/x-bittorrent")], body).into_response()
}
