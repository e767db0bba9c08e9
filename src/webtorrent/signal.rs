//! Client of one WebSocket (WebTorrent) tracker: announce the library, answer offers.
//!
//! `run_tracker_client` keeps a connection open, reconnecting with a backoff of 1 s doubling
//! to 60 s. On each connection it announces every catalog item as a seeder (`left` 0, no
//! offers: the node only answers), again every `interval` the tracker asks for, and at once
//! when the catalog changes (`stopped` for items gone). Announces are paced at
//! `ANNOUNCES_PER_SEC`, below the per-connection message limits of trackers (the node's own
//! allows 20 a second).
//!
//! A relayed offer for a library item gets a `PeerConnection` (see `peer`) and, once ICE
//! gathering is complete, an answer with our `peer_id`, their `to_peer_id` and the
//! `offer_id`, on the connection the offer came in.

use std::{
    collections::{BTreeSet, VecDeque},
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::{sync::mpsc, time::Instant};
use tokio_tungstenite::tungstenite::{protocol::WebSocketConfig, Message as WsMessage};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{peer, WebTorrent};
use crate::tracker::ws::protocol::{id_from_str, id_to_string};

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Until a tracker says otherwise (WebTorrent's default).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(120);
/// Shortest re-announce interval accepted from a tracker.
const MIN_INTERVAL: Duration = Duration::from_secs(15);
const ANNOUNCES_PER_SEC: u64 = 10;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Keeps the connection from idling out on the tracker side.
const PING_EVERY: Duration = Duration::from_secs(60);
/// Tracker messages are small JSON; an offer with its SDP is a few KiB.
const MAX_MESSAGE: usize = 64 * 1024;
/// Answers waiting to be written to one tracker connection.
const OUT_QUEUE: usize = 64;

#[derive(Serialize)]
struct AnnounceMsg<'a> {
    action: &'static str,
    info_hash: &'a str,
    peer_id: &'a str,
    numwant: u32,
    uploaded: u64,
    downloaded: u64,
    left: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'static str>,
    offers: [(); 0],
}

#[derive(Serialize, Deserialize)]
struct Sdp {
    #[serde(rename = "type")]
    kind: String,
    sdp: String,
}

#[derive(Serialize)]
struct AnswerMsg<'a> {
    action: &'static str,
    info_hash: &'a str,
    peer_id: &'a str,
    to_peer_id: &'a str,
    offer_id: &'a str,
    answer: Sdp,
}

/// What the client reads from a tracker; everything else in a message is ignored.
#[derive(Deserialize)]
struct Incoming {
    info_hash: Option<String>,
    peer_id: Option<String>,
    offer_id: Option<String>,
    offer: Option<Sdp>,
    interval: Option<u64>,
    #[serde(rename = "failure reason")]
    failure: Option<String>,
}

/// An offer relayed to us, checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Offer {
    pub info_hash: [u8; 20],
    pub from: [u8; 20],
    pub offer_id: String,
    pub sdp: String,
}

/// What a tracker message means to the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    Offer(Offer),
    Interval(Duration),
    Failure(String),
    Nothing,
}

/// Reads one tracker message. Pure; `Err` for what is not a tracker message at all.
pub fn parse_incoming(text: &str) -> Result<Event, String> {
    let m: Incoming = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if let Some(offer) = m.offer {
        if offer.kind != "offer" {
            return Err(format!("offer of type {:?}", offer.kind));
        }
        let info_hash = id_from_str(m.info_hash.as_deref().unwrap_or(""), "info_hash")
            .map_err(|e| e.to_string())?;
        let from = id_from_str(m.peer_id.as_deref().unwrap_or(""), "peer_id")
            .map_err(|e| e.to_string())?;
        let offer_id = m.offer_id.ok_or("offer without offer_id")?;
        return Ok(Event::Offer(Offer {
            info_hash,
            from,
            offer_id,
            sdp: offer.sdp,
        }));
    }
    if let Some(f) = m.failure {
        return Ok(Event::Failure(f));
    }
    if let Some(i) = m.interval {
        return Ok(Event::Interval(Duration::from_secs(i).max(MIN_INTERVAL)));
    }
    Ok(Event::Nothing)
}

fn announce_text(wt: &WebTorrent, info_hash: &[u8; 20], event: Option<&'static str>) -> String {
    serde_json::to_string(&AnnounceMsg {
        action: "announce",
        info_hash: &id_to_string(info_hash),
        peer_id: &id_to_string(&wt.peer_id),
        numwant: 0,
        uploaded: 0,
        downloaded: 0,
        left: 0,
        event,
        offers: [],
    })
    .unwrap_or_default()
}

fn answer_text(wt: &WebTorrent, o: &Offer, sdp: String) -> String {
    serde_json::to_string(&AnswerMsg {
        action: "announce",
        info_hash: &id_to_string(&o.info_hash),
        peer_id: &id_to_string(&wt.peer_id),
        to_peer_id: &id_to_string(&o.from),
        offer_id: &o.offer_id,
        answer: Sdp {
            kind: "answer".into(),
            sdp,
        },
    })
    .unwrap_or_default()
}

/// Keeps a connection to `url` until `shutdown`.
pub async fn run_tracker_client(wt: Arc<WebTorrent>, url: String, shutdown: CancellationToken) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let connect =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true);
        let connected = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = tokio::time::timeout(CONNECT_TIMEOUT, connect) => r,
        };
        match connected {
            Ok(Ok((ws, _))) => {
                tracing::info!(tracker = %url, "connected to tracker");
                backoff = BACKOFF_MIN;
                wt.trackers_connected.fetch_add(1, Ordering::Relaxed);
                let why = connection(&wt, &url, ws, &shutdown).await;
                wt.trackers_connected.fetch_sub(1, Ordering::Relaxed);
                if shutdown.is_cancelled() {
                    return;
                }
                tracing::info!(tracker = %url, "tracker connection ended: {why}");
            }
            Ok(Err(e)) => tracing::warn!(tracker = %url, "cannot connect to tracker: {e}"),
            Err(_) => tracing::warn!(tracker = %url, "tracker connect timed out"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves one tracker connection; returns why it ended.
async fn connection(
    wt: &Arc<WebTorrent>,
    url: &str,
    ws: Ws,
    shutdown: &CancellationToken,
) -> String {
    let (mut sink, mut stream) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<String>(OUT_QUEUE);
    let mut catalog = wt.library.subscribe();
    // Infohashes announced on this connection, and the announces still to send.
    let mut announced: BTreeSet<[u8; 20]> = BTreeSet::new();
    let mut queue: VecDeque<([u8; 20], Option<&'static str>)> = VecDeque::new();
    let mut interval = DEFAULT_INTERVAL;
    let mut next_round = Instant::now();
    let mut pace = tokio::time::interval(Duration::from_millis(1000 / ANNOUNCES_PER_SEC));
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let current = |wt: &WebTorrent| -> BTreeSet<[u8; 20]> {
        wt.library
            .catalog()
            .items
            .keys()
            .filter_map(|h| hex::decode(h).ok()?.try_into().ok())
            .collect()
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                let _ = sink.send(WsMessage::Close(None)).await;
                return "shutdown".into();
            }
            msg = stream.next() => {
                let text = match msg {
                    None => return "closed by the tracker".into(),
                    Some(Err(e)) => return format!("read error: {e}"),
                    Some(Ok(WsMessage::Text(t))) => t,
                    Some(Ok(WsMessage::Close(_))) => return "closed by the tracker".into(),
                    Some(Ok(_)) => continue,
                };
                match parse_incoming(text.as_str()) {
                    Ok(Event::Offer(o)) => on_offer(wt, o, out_tx.clone(), shutdown),
                    Ok(Event::Interval(i)) => {
                        if i != interval {
                            if let Some(last) = next_round.checked_sub(interval) {
                                next_round = last + i;
                            }
                            interval = i;
                        }
                    }
                    Ok(Event::Failure(f)) => tracing::debug!(tracker = %url, "tracker refused: {f}"),
                    Ok(Event::Nothing) => {}
                    Err(e) => tracing::debug!(tracker = %url, "unreadable tracker message: {e}"),
                }
            }
            Some(text) = out_rx.recv() => {
                if let Err(e) = sink.send(WsMessage::Text(text.into())).await {
                    return format!("write error: {e}");
                }
            }
            changed = catalog.changed() => {
                if changed.is_err() {
                    return "library stopped".into();
                }
                let now = current(wt);
                for h in now.difference(&announced) {
                    queue.push_back((*h, Some("started")));
                }
                for h in announced.difference(&now) {
                    queue.push_back((*h, Some("stopped")));
                }
                announced = now;
            }
            _ = tokio::time::sleep_until(next_round) => {
                // A full round: first announces say `started`, later ones are updates.
                let now = current(wt);
                for h in &now {
                    let event = (!announced.contains(h)).then_some("started");
                    queue.push_back((*h, event));
                }
                announced = now;
                next_round = Instant::now() + interval;
            }
            _ = pace.tick(), if !queue.is_empty() => {
                if let Some((h, event)) = queue.pop_front() {
                    let text = announce_text(wt, &h, event);
                    if let Err(e) = sink.send(WsMessage::Text(text.into())).await {
                        return format!("write error: {e}");
                    }
                }
            }
            _ = ping.tick() => {
                if let Err(e) = sink.send(WsMessage::Ping(Vec::new().into())).await {
                    return format!("write error: {e}");
                }
            }
        }
    }
}

/// Starts answering an offer in its own task; the answer goes out on `out`.
fn on_offer(
    wt: &Arc<WebTorrent>,
    o: Offer,
    out: mpsc::Sender<String>,
    shutdown: &CancellationToken,
) {
    let hex = hex::encode(o.info_hash);
    if !wt.library.catalog().items.contains_key(&hex) {
        tracing::debug!(infohash = %hex, "offer for a torrent not in the library");
        wt.refused.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let Ok(permit) = wt.peer_permits.clone().try_acquire_owned() else {
        tracing::debug!(infohash = %hex, "offer refused: max_peers reached");
        wt.refused.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let (wt, shutdown) = (wt.clone(), shutdown.clone());
    let answer = async move {
        let mut o = o;
        let sdp = std::mem::take(&mut o.sdp);
        match peer::answer(wt.clone(), o.info_hash, o.from, sdp, permit, shutdown).await {
            Ok(Some(answer)) => {
                wt.answered.fetch_add(1, Ordering::Relaxed);
                let _ = out.try_send(answer_text(&wt, &o, answer));
            }
            Ok(None) => {
                wt.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(infohash = %hex, "offer from a peer already connected");
            }
            Err(e) => {
                wt.refused.fetch_add(1, Ordering::Relaxed);
                tracing::info!(infohash = %hex, "offer not answered: {e}");
            }
        }
    };
    // Short-lived: it runs in its tracker client's span (the session gets its own).
    tokio::spawn(answer.in_current_span());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(b: u8) -> String {
        id_to_string(&[b; 20])
    }

    #[test]
    fn reads_relayed_offers() {
        let text = serde_json::json!({
            "action": "announce", "info_hash": bin(0xfe), "peer_id": bin(b'p'),
            "offer_id": "abc", "offer": {"type": "offer", "sdp": "v=0\r\n"}
        })
        .to_string();
        assert_eq!(
            parse_incoming(&text),
            Ok(Event::Offer(Offer {
                info_hash: [0xfe; 20],
                from: [b'p'; 20],
                offer_id: "abc".into(),
                sdp: "v=0\r\n".into(),
            }))
        );
    }

    #[test]
    fn reads_replies_and_refuses_junk() {
        let reply = r#"{"action":"announce","interval":300,"info_hash":"x","complete":1}"#;
        assert_eq!(
            parse_incoming(reply),
            Ok(Event::Interval(Duration::from_secs(300)))
        );
        assert_eq!(
            parse_incoming(r#"{"interval":1}"#),
            Ok(Event::Interval(MIN_INTERVAL))
        );
        assert_eq!(
            parse_incoming(r#"{"action":"announce","failure reason":"nope"}"#),
            Ok(Event::Failure("nope".into()))
        );
        assert_eq!(parse_incoming(r#"{"action":"scrape"}"#), Ok(Event::Nothing));
        for junk in [
            "",
            "[]",
            "nope",
            r#"{"offer":{"type":"answer","sdp":""},"offer_id":"a"}"#,
            r#"{"offer":{"type":"offer","sdp":""},"offer_id":"a","info_hash":"short"}"#,
            r#"{"offer":{"type":"offer"}}"#,
        ] {
            assert!(parse_incoming(junk).is_err(), "{junk}");
        }
        let no_id = serde_json::json!({
            "info_hash": bin(1), "peer_id": bin(2), "offer": {"type": "offer", "sdp": ""}
        })
        .to_string();
        assert!(parse_incoming(&no_id).is_err());
    }

    fn empty_node() -> (Arc<WebTorrent>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let wt = WebTorrent::new(
            Default::default(),
            crate::library::Library::new(
                crate::store::Store::open(dir.path()).unwrap(),
                Vec::new(),
                Duration::from_secs(1),
            ),
            "127.0.0.1:1".parse().unwrap(),
        );
        (wt, dir)
    }

    #[tokio::test]
    async fn offers_for_unknown_torrents_are_refused_at_once() {
        let (wt, _dir) = empty_node();
        let (tx, mut rx) = mpsc::channel(1);
        let o = Offer {
            info_hash: [3; 20],
            from: [4; 20],
            offer_id: "x".into(),
            sdp: "v=0\r\n".into(),
        };
        on_offer(&wt, o, tx, &CancellationToken::new());
        assert_eq!(wt.stats().refused, 1);
        // No permit was taken, no answer will come.
        assert_eq!(wt.peer_permits.available_permits(), wt.cfg.max_peers);
        assert!(rx.recv().await.is_none());
    }

    #[test]
    fn announce_and_answer_carry_binary_ids() {
        let (wt, _dir) = empty_node();
        let a: serde_json::Value =
            serde_json::from_str(&announce_text(&wt, &[0xff; 20], Some("started"))).unwrap();
        assert_eq!(a["info_hash"].as_str().unwrap(), bin(0xff));
        assert_eq!(a["left"], 0);
        assert_eq!(a["event"], "started");
        assert_eq!(a["offers"], serde_json::json!([]));
        let o = Offer {
            info_hash: [1; 20],
            from: [2; 20],
            offer_id: "id".into(),
            sdp: String::new(),
        };
        let r: serde_json::Value =
            serde_json::from_str(&answer_text(&wt, &o, "v=0".into())).unwrap();
        assert_eq!(r["to_peer_id"].as_str().unwrap(), bin(2));
        assert_eq!(r["offer_id"], "id");
        assert_eq!(r["answer"]["type"], "answer");
        assert_eq!(r["answer"]["sdp"], "v=0");
        assert_eq!(
            r["peer_id"].as_str().unwrap(),
            String::from_utf8_lossy(&wt.peer_id)
        );
    }
}
