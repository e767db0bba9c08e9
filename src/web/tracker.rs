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
    extract::{ws::WebSocketUpgrade, ConnectInfo, FromRequestParts, RawQuery, Request, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
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
    ws,
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
        return match WebSocketUpgrade::from_request_parts(&mut parts, &app).await {
            Ok(ws) => {
                let ip = client_ip(&app, &conn, &parts.headers);
                // A listen page names its live session as in its live requests.
                let Ok(page) = Player::from_request_parts(&mut parts, &app).await;
                upgrade(&app, ws, ip, page.session(&app))
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

/// Accepts a WebSocket tracker connection if a slot is free, and hands it to the tracker.
/// Once it is open, a listen page's socket is tied to its live `session`, and its role goes
/// out on it too (`web::live::role_feed`).
fn upgrade(app: &AppState, ws: WebSocketUpgrade, ip: IpAddr, session: Option<u64>) -> Response {
    let Some(permit) = app.ws_hub.admit() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many tracker connections\n",
        )
            .into_response();
    };
    let max = app.tracker.config().max_ws_message_bytes;
    let (tracker, hub, hls) = (app.tracker.clone(), app.ws_hub.clone(), app.hls.clone());
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(WS_READ_BUFFER)
        .on_upgrade(move |socket| async move {
            let (feed, notices) = session.and_then(|s| role_feed(&hls, s)).unzip();
            ws::run_connection(tracker, hub, socket, ip, permit, notices).await;
            // The socket closed: the page has gone.
            drop(feed);
        })
}
