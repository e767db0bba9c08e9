//! The WebTorrent tracker: WebSocket connections, upgraded on `/announce` by the web front
//! end and handed over here with the client's address ([`run_connection`]).
//!
//! Each connection gets a number ([`ConnId`]) and an outgoing queue in the [`Hub`]; the
//! peer table knows WebSocket peers by that number, so offers and answers are routed to
//! the right socket. A connection's reader parses messages and calls the tracker; its
//! writer drains the queue. A slow reader loses messages (its queue is bounded) instead of
//! slowing others; a socket that floods, sends garbage or stays silent is closed. Silent
//! means not even answering a ping: a browser that has its peers announces only every
//! ten minutes, and a ping after half the idle time (which browsers answer by themselves)
//! tells a live page from a dead connection, and keeps home routers' NAT entries open.
//! Messages go out compressed when the client agreed to permessage-deflate ([`deflate`]),
//! and the client's compressed messages are inflated before they are read ([`inflating`]).

pub mod deflate;
pub mod inflating;
pub mod protocol;

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures::{stream::BoxStream, SinkExt, StreamExt};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::{mpsc, OwnedSemaphorePermit, Semaphore},
};
use tokio_tungstenite::{
    tungstenite::{
        protocol::{
            frame::{
                coding::{CloseCode, Data, OpCode},
                Frame,
            },
            CloseFrame,
        },
        Message as WsMessage,
    },
    WebSocketStream,
};
use tracing::Instrument;

use super::{
    limits::Bucket,
    peers::{Announce, ConnId, Endpoint, Event, InfoHash, PeerId, Proto},
    Tracker,
};
use deflate::{Agreed, Deflater};
use protocol::Message;

/// Messages waiting for one slow socket before new ones are dropped.
const QUEUE: usize = 64;
/// A socket may send `tracker.ws_messages_per_sec` times this many messages at once.
const FLOOD_BURST_SECONDS: f64 = 5.0;
/// How long a socket closed by the tracker is read on for the client's close frame (the
/// closing handshake), so that what it sent meanwhile does not turn the close into a reset.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// Unparseable messages tolerated before the socket is closed.
const MAX_BAD: u32 = 10;
/// How soon a lonely page asked to announce again does it, in seconds (the interval an
/// announce reply can carry is whole seconds).
const ANNOUNCE_SOON_SECS: u32 = 1;
/// Swarms one socket may be in (a browser plays a handful of episodes); beyond this its
/// extra announces still work but are left to expire instead of being removed on close.
const MAX_ANNOUNCED: usize = 1024;

/// The open WebSocket connections, by number.
pub struct Hub {
    next: AtomicU64,
    queues: Mutex<HashMap<ConnId, mpsc::Sender<String>>>,
    permits: Arc<Semaphore>,
    /// Bytes of the messages written to clients since start (announce replies, relayed
    /// offers and answers, roles), as they are.
    messages: AtomicU64,
    /// The same messages' payloads as written, compressed or not: what signalling costs
    /// the node's uplink, before framing.
    sent: AtomicU64,
}

impl Hub {
    pub fn new(max_connections: usize) -> Arc<Self> {
        Arc::new(Self {
            next: AtomicU64::new(1),
            queues: Mutex::default(),
            permits: Arc::new(Semaphore::new(max_connections)),
            messages: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        })
    }

    /// Bytes of the messages written to clients since start, before compression.
    pub fn message_bytes(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// Bytes of payload written to clients since start, after compression.
    pub fn sent_bytes(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// `text` as it goes out on a socket: compressed when the client agreed to it and it
    /// saves bytes, counted both ways.
    fn outgoing(&self, deflater: Option<&mut Deflater>, text: String) -> WsMessage {
        self.messages
            .fetch_add(text.len() as u64, Ordering::Relaxed);
        match deflater.and_then(|d| d.compress(text.as_bytes())) {
            Some(payload) => {
                self.sent.fetch_add(payload.len() as u64, Ordering::Relaxed);
                let mut frame = Frame::message(payload, OpCode::Data(Data::Text), true);
                // RSV1 marks a compressed message (RFC 7692).
                frame.header_mut().rsv1 = true;
                WsMessage::Frame(frame)
            }
            None => {
                self.sent.fetch_add(text.len() as u64, Ordering::Relaxed);
                WsMessage::Text(text.into())
            }
        }
    }

    /// A connection slot, held for the connection's life; `None` when all are taken.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    pub fn connections(&self) -> usize {
        self.queues.lock().map(|q| q.len()).unwrap_or(0)
    }

    fn register(&self) -> (ConnId, mpsc::Receiver<String>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(QUEUE);
        if let Ok(mut q) = self.queues.lock() {
            q.insert(id, tx);
        }
        (id, rx)
    }

    fn unregister(&self, id: ConnId) {
        if let Ok(mut q) = self.queues.lock() {
            q.remove(&id);
        }
    }

    /// Queues `text` for connection `id`; dropped if it is gone or not keeping up.
    fn send(&self, id: ConnId, text: String) {
        let tx = self.queues.lock().ok().and_then(|q| q.get(&id).cloned());
        if let Some(tx) = tx {
            if tx.try_send(text).is_err() {
                tracing::debug!(conn = id, "websocket queue full; message dropped");
            }
        }
    }
}

/// What the rest of the node has to say to one client on its tracker socket, beside the
/// tracker's own messages (a live listener's role): each text goes out as it comes.
pub type Notices = BoxStream<'static, String>;

/// One upgraded connection: the socket, and the compression agreed with its client in the
/// opening handshake, if any.
pub struct Upgraded<S> {
    pub socket: WebSocketStream<S>,
    pub deflate: Option<Agreed>,
}

/// Serves one upgraded connection from `ip` until it closes, holding `_permit` (its slot,
/// from [`Hub::admit`]) meanwhile, and sending `notices` on it as they come.
pub async fn run_connection<S>(
    tracker: Arc<Tracker>,
    hub: Arc<Hub>,
    conn: Upgraded<S>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
    notices: Option<Notices>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (id, queue) = hub.register();
    // At debug level: one span per browser connection costs nothing at the default level.
    let span = tracing::debug_span!("ws_tracker", conn = id, %ip, deflate = conn.deflate.is_some());
    let notices = notices.unwrap_or_else(|| futures::stream::pending().boxed());
    serve(&tracker, &hub, conn, id, ip, queue, notices)
        .instrument(span)
        .await;
}

async fn serve<S>(
    tracker: &Tracker,
    hub: &Arc<Hub>,
    conn: Upgraded<S>,
    id: ConnId,
    ip: IpAddr,
    mut queue: mpsc::Receiver<String>,
    notices: Notices,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Half the idle time, twice: silence, a ping, silence again, then the socket is closed.
    let half_idle = Duration::from_secs(tracker.config().ws_idle_secs) / 2;
    // Fused: the writer asks for the next notice again after the last.
    let mut notices = notices.fuse();
    let (mut sink, mut stream) = conn.socket.split();
    let mut deflater = conn.deflate.map(|a| a.deflater());
    let out = hub.clone();
    let (close_tx, mut close_rx) = mpsc::channel::<CloseFrame>(1);
    let (ping_tx, mut ping_rx) = mpsc::channel::<()>(1);
    let writer = async move {
        loop {
            tokio::select! {
                // A close frame first; the queue's end (the connection was unregistered)
                // ends the writer, whatever notices are still to come.
                biased;
                Some(frame) = close_rx.recv() => {
                    let _ = sink.send(WsMessage::Close(Some(frame))).await;
                    return;
                }
                Some(()) = ping_rx.recv() => {
                    if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                        return;
                    }
                }
                text = queue.recv() => {
                    let Some(text) = text else { return };
                    // What is queued goes out together: one write for an announce reply
                    // and the offers relayed with it, not one each.
                    let mut next = Some(text);
                    while let Some(text) = next {
                        if sink.feed(out.outgoing(deflater.as_mut(), text)).await.is_err() {
                            return;
                        }
                        next = queue.try_recv().ok();
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
                Some(text) = notices.next() => {
                    if sink.send(out.outgoing(deflater.as_mut(), text)).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    // The writer is this connection's too: it runs in its span, and ends with it below.
    let writer = tokio::spawn(writer.in_current_span());
    let flood_rate = f64::from(tracker.config().ws_messages_per_sec);
    let flood_cap = flood_rate * FLOOD_BURST_SECONDS;
    let mut flood = Bucket::new(flood_cap, Instant::now());
    let mut bad = 0u32;
    // What this socket announced, to forget exactly that when it closes.
    let mut announced: HashSet<(InfoHash, PeerId)> = HashSet::new();
    let mut pinged = false;
    let reason = loop {
        let msg = match tokio::time::timeout(half_idle, stream.next()).await {
            Err(_) if pinged => break "idle",
            Err(_) => {
                // A ping still queued (a slow socket) counts as sent.
                if let Err(mpsc::error::TrySendError::Closed(())) = ping_tx.try_send(()) {
                    break "closed";
                }
                pinged = true;
                continue;
            }
            Ok(None) | Ok(Some(Err(_))) => break "closed",
            Ok(Some(Ok(m))) => m,
        };
        pinged = false;
        if !flood.take(Instant::now(), flood_rate, flood_cap) {
            let _ = close_tx
                .send(CloseFrame {
                    code: CloseCode::Policy,
                    reason: "too many messages".into(),
                })
                .await;
            break "flood";
        }
        let text = match msg {
            WsMessage::Text(t) => Some(t),
            WsMessage::Close(_) => break "closed",
            // The protocol is JSON text; binary frames count as malformed.
            WsMessage::Binary(_) => None,
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => continue,
        };
        match text.as_ref().map(|t| Message::parse(t.as_str())) {
            Some(Ok(m)) => handle(tracker, hub, id, ip, m, &mut announced),
            // Nothing in it to answer to: dropped, but counted.
            Some(Err(e)) => {
                tracing::debug!("bad tracker message: {e}");
                bad += 1;
            }
            None => bad += 1,
        }
        if bad > MAX_BAD {
            let _ = close_tx
                .send(CloseFrame {
                    code: CloseCode::Policy,
                    reason: "malformed messages".into(),
                })
                .await;
            break "malformed";
        }
    };
    tracing::debug!(reason, "websocket tracker connection ended");
    hub.unregister(id);
    tracker.table().remove_conn(id, &announced);
    drop(close_tx);
    if matches!(reason, "flood" | "malformed") {
        // Read on (and ignore) until the client's close frame, briefly.
        let drain = async { while let Some(Ok(_)) = stream.next().await {} };
        let _ = tokio::time::timeout(CLOSE_LINGER, drain).await;
    }
    let _ = writer.await;
}

fn handle(
    tracker: &Tracker,
    hub: &Hub,
    id: ConnId,
    ip: IpAddr,
    m: Message<'_>,
    announced: &mut HashSet<(InfoHash, PeerId)>,
) {
    match m {
        Message::Announce {
            info_hash,
            peer_id,
            left,
            event,
            offers,
            ..
        } => {
            let a = Announce {
                info_hash,
                peer_id,
                left: left.unwrap_or(u64::MAX),
                event,
                proto: Proto::Ws,
                endpoint: Endpoint::Ws(id),
                // One peer per offer: each offer can start one WebRTC connection.
                numwant: offers.len(),
            };
            match tracker.announce(a, ip, || None) {
                Ok(reply) => {
                    if event == Event::Stopped {
                        announced.remove(&(info_hash, peer_id));
                    } else if announced.len() < MAX_ANNOUNCED {
                        announced.insert((info_hash, peer_id));
                    }
                    hub.send(
                        id,
                        protocol::announce_reply(&info_hash, reply.interval, reply.counts),
                    );
                    let targets = reply.peers.iter().filter_map(|(_, e)| match e {
                        Endpoint::Ws(c) => Some(*c),
                        Endpoint::Addr(_) => None,
                    });
                    for (conn, offer) in targets.zip(&offers) {
                        hub.send(conn, protocol::relayed_offer(&info_hash, &peer_id, offer));
                    }
                }
                Err(denied) => hub.send(
                    id,
                    protocol::failure("announce", &denied.to_string(), Some(&info_hash)),
                ),
            }
        }
        Message::Answer {
            info_hash,
            peer_id,
            to_peer_id,
            offer_id,
            answer,
        } => {
            // The answering peer gets no reply; an answer to an unknown peer is dropped.
            let to =
                tracker
                    .table()
                    .route_answer(&info_hash, &peer_id, &to_peer_id, Instant::now());
            if let Some(Endpoint::Ws(conn)) = to {
                hub.send(
                    conn,
                    protocol::relayed_answer(&info_hash, &peer_id, &offer_id, answer),
                );
            }
        }
        Message::Peers { peers } => {
            // The page's own swarms only: what this socket announced.
            let now = Instant::now();
            for (info_hash, peer_id) in announced.iter() {
                if tracker
                    .table()
                    .report_peers(info_hash, peer_id, id, &peers, now)
                {
                    hub.send(id, protocol::announce_soon(info_hash, ANNOUNCE_SOON_SECS));
                }
            }
        }
        Message::Scrape { info_hashes } => {
            let text = match tracker.scrape(&info_hashes, ip, Proto::Ws) {
                Ok(files) => protocol::scrape_reply(&files),
                Err(denied) => protocol::failure("scrape", &denied.to_string(), None),
            };
            hub.send(id, text);
        }
    }
}
