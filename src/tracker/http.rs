//! `GET /announce` and `GET /scrape`: the HTTP tracker front end.
//!
//! Replies are always `200 text/plain` bencode; a bad request gets a `failure reason`, as
//! clients expect, rather than an HTTP error they would not show to anyone.

use axum::{
    extract::{ConnectInfo, RawQuery, State},
    http::header,
    response::IntoResponse,
};

use super::request::AnnounceRequest;
use crate::web::{AppState, ConnInfo};

fn bencoded(body: Vec<u8>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/plain"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

pub async fn announce(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    RawQuery(query): RawQuery,
) -> impl IntoResponse {
    let body = match AnnounceRequest::parse(query.as_deref().unwrap_or_default()) {
        Ok(req) => app
            .tracker
            .announce(&req, conn.remote.ip(), conn.local.ip()),
        Err(e) => super::response::failure(&e.to_string()),
    };
    bencoded(body)
}

pub async fn scrape(State(app): State<AppState>, RawQuery(query): RawQuery) -> impl IntoResponse {
    bencoded(app.tracker.scrape(query.as_deref().unwrap_or_default()))
}
