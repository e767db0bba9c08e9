//! The tracker's ends on the HTTP port: `GET /announce` and `GET /scrape` (bencoded), and
//! the WebSocket upgrade on `/announce` that carries the WebTorrent tracker.
//!
//! Only glue: `tracker::http` parses the queries and writes the replies, `tracker::ws`
//! serves an upgraded connection, and the peer table answers. A listen page's socket is
//! also tied to its live session, which its role in the live swarm goes out on
//! (`web::live::role_feed`). Replies are always
//! `200 text/plain` bencode; a bad request gets a `failure reason`, as clients expect,
//! rather than an HTTP error they would not show to anyone.

use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Body,
    extract::{ConnectInfo, FromRequestParts, RawQuery, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::{
    tungstenite::{
        handshake::server::create_response_with_body,
        protocol::{Role, WebSocketConfig},
    },
    WebSocketStream,
};

use super::{
    client_ip,
    live::{role_feed, Player},
    AppState, ConnInfo,
};
use crate::tracker::{
    http::{
        request::{self, AnnounceRequest},
        response,
    },
    peers::{Announce, Endpoint, Proto},
    ws::{self, deflate, inflating::Inflating},
};

/// Default peers per reply when the client does not say (BEP 3 suggests 50).
const DEFAULT_NUMWANT: u32 = 50;
/// Most infohashes in one HTTP scrape.
const MAX_SCRAPE: usize = 64;
/// WebSocket read buffer. A tracker message is about 1-4 KiB; a larger one is read in
/// several chunks. tungstenite's default (128 KiB) stays resident per connection.
const WS_READ_BUFFER: usize = 4096;

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
        let ip = client_ip(&app, &conn, &parts.headers);
        // A listen page names its live session as in its live requests.
        let Ok(page) = Player::from_request_parts(&mut parts, &app).await;
        let session = page.session(&app);
        return upgrade(&app, parts, ip, session);
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

/// Accepts a WebSocket tracker connection if a slot is free, and hands it to the tracker.
/// Once it is open, a listen page's socket is tied to its live `session`, and its role goes
/// out on it too (`web::live::role_feed`).
///
/// The opening handshake is done here rather than by axum's extractor, which cannot agree
/// to an extension: this one agrees to permessage-deflate (`tracker::ws::deflate`).
fn upgrade(app: &AppState, mut parts: Parts, ip: IpAddr, session: Option<u64>) -> Response {
    let agreed = deflate::negotiate(
        parts
            .headers
            .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    // tungstenite checks the opening handshake (RFC 6455, 4.2.1) and writes the 101.
    let accepted = match create_response_with_body(&Request::from_parts(parts, ()), Body::empty) {
        Ok(accepted) => accepted,
        Err(why) => return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
    };
    let Some(on_upgrade) = on_upgrade else {
        return (
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded\n",
        )
            .into_response();
    };
    let Some(permit) = app.ws_hub.admit() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many tracker connections\n",
        )
            .into_response();
    };
    let max = app.tracker.config().max_ws_message_bytes;
    let config = WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER)
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let (tracker, hub, hls) = (app.tracker.clone(), app.ws_hub.clone(), app.hls.clone());
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = Inflating::new(TokioIo::new(upgraded), max, agreed.is_some());
        let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        let (feed, notices) = session.and_then(|s| role_feed(&hls, s)).unzip();
        let conn = ws::Upgraded {
            socket,
            deflate: agreed,
        };
        ws::run_connection(tracker, hub, conn, ip, permit, notices).await;
        // The socket closed: the page has gone.
        drop(feed);
    });
    let mut response = accepted.into_response();
    if let Some(value) = agreed.and_then(|a| HeaderValue::from_str(&a.header()).ok()) {
        response
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
    }
    response
}
