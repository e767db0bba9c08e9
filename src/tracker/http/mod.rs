//! `GET /announce` and `GET /scrape`: the HTTP tracker front end. A WebSocket upgrade on
//! `/announce` is handed to the WebSocket tracker.
//!
//! Parts: `request` (pure parsing of the query), `response` (bencoded replies).
//! Replies are always `200 text/plain` bencode; a bad request gets a `failure reason`, as
//! clients expect, rather than an HTTP error they would not show to anyone.

pub mod request;
pub mod response;

use std::net::SocketAddr;

use axum::{
    extract::{ws::WebSocketUpgrade, ConnectInfo, FromRequestParts, RawQuery, Request, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};

use super::peers::{Announce, Endpoint, Proto};
use crate::web::{client_ip, AppState, ConnInfo};
use request::AnnounceRequest;

/// Default peers per reply when the client does not say (BEP 3 suggests 50).
const DEFAULT_NUMWANT: u32 = 50;

fn bencoded(body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

pub async fn announce(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    req: Request,
) -> Response {
    let (mut parts, _body) = req.into_parts();
    if parts.headers.contains_key(header::UPGRADE) {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &app).await {
            Ok(ws) => {
                let ip = client_ip(&app, &conn, &parts.headers);
                super::ws::upgrade(app, ws, ip)
            }
            Err(rejection) => rejection.into_response(),
        };
    }
    let ip = client_ip(&app, &conn, &parts.headers);
    let query = parts.uri.query().unwrap_or_default();
    let req = match AnnounceRequest::parse(query) {
        Ok(r) => r,
        Err(e) => return bencoded(response::failure(&e.to_string())),
    };
    let a = Announce {
        info_hash: req.info_hash,
        peer_id: req.peer_id,
        left: req.left,
        event: req.event,
        proto: Proto::Http,
        endpoint: Endpoint::Addr(SocketAddr::new(ip.to_canonical(), req.port)),
        numwant: req.numwant.unwrap_or(DEFAULT_NUMWANT) as usize,
    };
    let body = match app.tracker.announce(a, ip, || Some(conn.local.ip())) {
        Ok(reply) => {
            let peers: Vec<_> = reply
                .peers
                .iter()
                .filter_map(|(id, e)| match e {
                    Endpoint::Addr(a) => Some((*id, *a)),
                    Endpoint::Ws(_) => None,
                })
                .collect();
            response::announce(&response::AnnounceOut {
                peers: &peers,
                counts: reply.counts,
                interval: reply.interval,
                compact: req.compact,
                no_peer_id: req.no_peer_id,
            })
        }
        Err(denied) => response::failure(&denied.to_string()),
    };
    bencoded(body)
}

pub async fn scrape(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let ip = client_ip(&app, &conn, &headers);
    let hashes = match request::parse_scrape(query.as_deref().unwrap_or_default(), MAX_SCRAPE) {
        Ok(h) => h,
        Err(e) => return bencoded(response::failure(&e.to_string())),
    };
    bencoded(match app.tracker.scrape(&hashes, ip, Proto::Http) {
        Ok(files) => response::scrape(&files),
        Err(denied) => response::failure(&denied.to_string()),
    })
}

/// Most infohashes in one HTTP scrape.
const MAX_SCRAPE: usize = 64;
