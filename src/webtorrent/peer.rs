//! One WebRTC peer: answer its offer, then seed one torrent to it over the data channel.
//!
//! `answer` builds a `PeerConnection`, applies the offer, waits for ICE gathering to end
//! (non-trickle, as WebTorrent's tracker client expects) and returns the answer SDP; a task
//! then waits for the browser's data channel and runs [`Session`] on it.
//!
//! A session is two halves joined by an [`Outbox`]:
//! - the reader polls the channel, parses the byte stream (`wire`) and decides: it queues
//!   replies and block requests, handles choke/unchoke and cancel, and ends the session on
//!   bad input or after `idle_secs` of silence;
//! - the writer sends what is queued, replies first, reading blocks from the library file
//!   on a blocking thread. Sends wait while the channel holds more than `SEND_BUFFER`
//!   unacknowledged bytes; a peer that stops reading for `SEND_STALL` is dropped.
//!
//! The reader also keeps `share` up to date with what the peer holds (its bitfield and HAVEs)
//! and, once a second, sends HAVEs for the pieces `share` decides to show it: the first
//! bitfield shows only the pieces no other connected peer holds (all of them with
//! `share_first` off).
//!
//! Invariants: the outbox holds at most `MAX_CONTROL` replies and `MAX_REQUESTS` requests
//! (a peer that asks for more is dropped), the receive buffer at most one partial message of
//! `wire::MAX_MESSAGE`; so memory per peer is bounded whatever it sends or fails to read.
//! An unchoked peer holds one upload-slot permit; the connection holds a peer permit until
//! it is closed.

use std::{
    collections::VecDeque,
    fs::File,
    os::unix::fs::FileExt,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use bytes::BytesMut;
use rtc::{ice::mdns::MulticastDnsMode, mdns::MulticastSocket};
use tokio::{
    sync::{mpsc, Notify, OwnedSemaphorePermit},
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use webrtc::{
    data_channel::{DataChannel, DataChannelEvent},
    peer_connection::{
        PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
        RTCIceGatheringState, RTCIceServer, RTCPeerConnectionState, RTCSessionDescription,
        SettingEngineBuilder,
    },
};

use super::{
    share::{self, ShareError},
    wire::{self, Block, Handshake, Layout, Message},
    WebTorrent,
};
use crate::library::torrent::Info;

/// Whether this peer looks up browsers' hidden `.local` addresses by multicast DNS. webrtc
/// 0.21 opens a multicast socket for every peer connection when it does, and fails the whole
/// answer when the socket cannot join the group (a network with no default route, as at an
/// event with no internet: "No such device"). Without it browsers still connect: they check
/// the node's plain addresses and the node learns theirs from those checks (peer-reflexive).
fn mdns_mode() -> MulticastDnsMode {
    static WARNED: AtomicBool = AtomicBool::new(false);
    match MulticastSocket::new().into_std() {
        Ok(_) => MulticastDnsMode::QueryOnly,
        Err(e) => {
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "no multicast DNS on this network ({e}); browsers connect without it"
                );
            }
            MulticastDnsMode::Disabled
        }
    }
}

/// ICE gathering on a LAN takes milliseconds; STUN may take a few seconds.
const GATHER_TIMEOUT: Duration = Duration::from_secs(10);
/// From the answer to an open data channel. Browsers connect in seconds (simple-peer waits
/// out a 5 s ICE timeout at most); a well-formed offer that never connects holds a peer
/// permit this long, so it is well below WebTorrent's own 50 s offer timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A handshake must come this soon after the channel opens (WebTorrent uses 25 s).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(25);
/// Unacknowledged bytes a data channel may hold before sends wait (about one SCTP window).
const SEND_BUFFER: usize = 1024 * 1024;
/// A send that waits this long means the peer stopped reading: it is dropped.
const SEND_STALL: Duration = Duration::from_secs(30);
/// Data-channel messages we send are at most this big: every browser takes 16 KiB.
const CHUNK: usize = 16 * 1024;
/// Outstanding block requests allowed per peer (WebTorrent keeps a few dozen in flight).
const MAX_REQUESTS: usize = 256;
/// Queued replies (metadata pieces, choke/unchoke, keep-alives) per peer.
const MAX_CONTROL: usize = 64;
/// Keep-alive after this long without sending anything.
const KEEP_ALIVE: Duration = Duration::from_secs(60);
/// How often a choked, interested peer looks for a free upload slot.
const SLOT_RETRY: Duration = Duration::from_secs(2);
/// How often the node looks for pieces to show a peer (`share`): a second is short beside
/// `share_wait_secs` and webtorrent's own request planning.
const SHARE_LOOK: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("offer for a torrent not in the library")]
    UnknownTorrent,
    #[error("webrtc: {0}")]
    Rtc(#[from] webrtc::error::Error),
    #[error("ICE gathering did not finish")]
    GatherTimeout,
    #[error("no local description after gathering")]
    NoAnswer,
    #[error("cannot open the library file: {0}")]
    File(std::io::Error),
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionEnd {
    #[error("channel closed")]
    Closed,
    #[error("idle for too long")]
    Idle,
    #[error("no handshake in time")]
    NoHandshake,
    #[error("shutdown")]
    Shutdown,
    #[error("bad input: {0}")]
    Wire(#[from] wire::WireError),
    #[error("bad request: {0}")]
    Request(#[from] wire::BadRequest),
    #[error("bad piece list: {0}")]
    Share(#[from] ShareError),
    #[error("too many outstanding requests")]
    TooManyRequests,
    #[error("too many queued replies")]
    TooManyReplies,
    #[error("peer stopped reading")]
    Stalled,
    #[error("send failed: {0}")]
    Send(webrtc::error::Error),
    #[error("reading the library file: {0}")]
    Read(std::io::Error),
}

/// What a session serves: one library item.
struct Torrent {
    /// Piece bytes sent to this peer.
    uploaded: std::sync::atomic::AtomicU64,
    info_hash: [u8; 20],
    /// The peer's id from its offer: its key in `share` (one session per id and torrent).
    remote: [u8; 20],
    layout: Layout,
    info_bytes: Vec<u8>,
    file: Arc<File>,
}

struct Events {
    gathered: mpsc::UnboundedSender<()>,
    channels: mpsc::UnboundedSender<Arc<dyn DataChannel>>,
    failed: CancellationToken,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Events {
    async fn on_ice_gathering_state_change(&self, s: RTCIceGatheringState) {
        if s == RTCIceGatheringState::Complete {
            let _ = self.gathered.send(());
        }
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        let _ = self.channels.send(dc);
    }

    async fn on_connection_state_change(&self, s: RTCPeerConnectionState) {
        if matches!(
            s,
            RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
        ) {
            self.failed.cancel();
        }
    }
}

/// Forgets the (infohash, peer) pair when the connection attempt or session ends.
struct SessionGuard {
    wt: Arc<WebTorrent>,
    key: ([u8; 20], [u8; 20]),
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = self.wt.sessions.lock() {
            s.remove(&self.key);
        }
    }
}

/// Answers an offer from `remote` for `info_hash`: returns the answer SDP, and leaves a
/// task that serves the peer once its data channel opens. `None` when the peer is already
/// connected or connecting (nothing to answer).
pub async fn answer(
    wt: Arc<WebTorrent>,
    info_hash: [u8; 20],
    remote: [u8; 20],
    offer_sdp: String,
    permit: OwnedSemaphorePermit,
    shutdown: CancellationToken,
) -> Result<Option<String>, PeerError> {
    let hex = hex::encode(info_hash);
    let item = wt
        .library
        .catalog()
        .items
        .get(&hex)
        .cloned()
        .ok_or(PeerError::UnknownTorrent)?;
    let info: Info = wt.library.info(&hex).ok_or(PeerError::UnknownTorrent)?;
    let key = (info_hash, remote);
    if !wt
        .sessions
        .lock()
        .map(|mut s| s.insert(key))
        .unwrap_or(false)
    {
        return Ok(None);
    }
    let guard = SessionGuard {
        wt: wt.clone(),
        key,
    };
    let path = item.path().to_path_buf();
    let file = tokio::task::spawn_blocking(move || File::open(path))
        .await
        .map_err(|e| PeerError::File(std::io::Error::other(e)))?
        .map_err(PeerError::File)?;
    let torrent = Torrent {
        uploaded: Default::default(),
        info_hash,
        remote,
        layout: Layout {
            length: info.length,
            piece_length: info.piece_length,
        },
        info_bytes: info.to_bytes(),
        file: Arc::new(file),
    };

    let (gathered_tx, mut gathered) = mpsc::unbounded_channel();
    let (channels_tx, mut channels) = mpsc::unbounded_channel();
    let failed = CancellationToken::new();
    let ice_servers = if wt.cfg.stun.is_empty() {
        Vec::new()
    } else {
        vec![RTCIceServer {
            urls: wt.cfg.stun.clone(),
            ..Default::default()
        }]
    };
    let pc = PeerConnectionBuilder::new()
        .with_configuration(
            RTCConfigurationBuilder::new()
                .with_ice_servers(ice_servers)
                .build(),
        )
        .with_setting_engine(
            SettingEngineBuilder::new()
                .with_include_loopback_candidate(wt.loopback)
                .with_multicast_dns_mode(mdns_mode())
                .build(),
        )
        .with_handler(Arc::new(Events {
            gathered: gathered_tx,
            channels: channels_tx,
            failed: failed.clone(),
        }))
        .with_udp_addrs(wt.udp_addrs.clone())
        .with_data_channel_send_buffer_limit(SEND_BUFFER)
        .build()
        .await?;

    let answered = async {
        pc.set_remote_description(RTCSessionDescription::offer(offer_sdp)?)
            .await?;
        let answer = pc.create_answer(None).await?;
        pc.set_local_description(answer).await?;
        tokio::time::timeout(GATHER_TIMEOUT, gathered.recv())
            .await
            .map_err(|_| PeerError::GatherTimeout)?;
        let local = pc.local_description().await.ok_or(PeerError::NoAnswer)?;
        Ok::<_, PeerError>(local.sdp)
    }
    .await;
    let sdp = match answered {
        Ok(sdp) => sdp,
        Err(e) => {
            let _ = pc.close().await;
            return Err(e);
        }
    };

    let remote_str = String::from_utf8_lossy(&remote).into_owned();
    let span = tracing::info_span!("webrtc peer", infohash = %hex, peer = %remote_str);
    let task = async move {
        let _guard = guard;
        let _permit = permit;
        let dc = tokio::select! {
            dc = channels.recv() => dc,
            _ = tokio::time::sleep(CONNECT_TIMEOUT) => None,
            _ = failed.cancelled() => None,
            _ = shutdown.cancelled() => None,
        };
        match dc {
            Some(dc) => {
                wt.connected.fetch_add(1, Ordering::Relaxed);
                let torrent = Arc::new(torrent);
                let session = Session::new(wt.clone(), torrent.clone(), dc.clone());
                let end = tokio::select! {
                    end = session.run() => end,
                    _ = failed.cancelled() => SessionEnd::Closed,
                    _ = shutdown.cancelled() => SessionEnd::Shutdown,
                };
                wt.connected.fetch_sub(1, Ordering::Relaxed);
                tracing::info!(
                    reason = %end,
                    uploaded = torrent.uploaded.load(Ordering::Relaxed),
                    "webrtc peer session ended"
                );
                let _ = dc.close().await;
            }
            None => tracing::debug!("webrtc peer never opened a data channel"),
        }
        let _ = pc.close().await;
    };
    tokio::spawn(task.instrument(span));
    Ok(Some(sdp))
}

/// A peer's place in its torrent's [`share::Swarm`], left when the session ends.
struct Joined {
    wt: Arc<WebTorrent>,
    info_hash: [u8; 20],
    peer: share::PeerKey,
}

impl Joined {
    fn new(wt: Arc<WebTorrent>, t: &Torrent) -> Self {
        wt.shares().join(
            t.info_hash,
            t.layout.pieces(),
            t.remote,
            std::time::Instant::now(),
        );
        Self {
            wt,
            info_hash: t.info_hash,
            peer: t.remote,
        }
    }

    /// Runs `f` on the torrent's swarm (there while this peer is joined).
    fn with<T>(&self, f: impl FnOnce(&mut share::Swarm, &share::PeerKey) -> T) -> Option<T> {
        self.wt
            .shares()
            .swarm(&self.info_hash)
            .map(|s| f(s, &self.peer))
    }

    /// The pieces to show the peer now (marked shown).
    fn reveal(&self) -> Vec<u32> {
        let wait = if self.wt.cfg.share_first {
            Duration::from_secs(self.wt.cfg.share_wait_secs)
        } else {
            Duration::ZERO
        };
        self.with(|s, p| s.reveal(p, std::time::Instant::now(), wait))
            .unwrap_or_default()
    }
}

impl Drop for Joined {
    fn drop(&mut self) {
        self.wt.shares().leave(&self.info_hash, &self.peer);
    }
}

/// What the writer sends next.
#[derive(Default)]
struct OutState {
    control: VecDeque<Vec<u8>>,
    requests: VecDeque<Block>,
    /// Requests are served only while the peer is unchoked.
    unchoked: bool,
}

/// The queue between a session's reader and writer.
#[derive(Default)]
struct Outbox {
    state: Mutex<OutState>,
    ready: Notify,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, bytes: Vec<u8>) -> Result<(), SessionEnd> {
        {
            let mut s = self.lock();
            if s.control.len() >= MAX_CONTROL {
                return Err(SessionEnd::TooManyReplies);
            }
            s.control.push_back(bytes);
        }
        self.ready.notify_one();
        Ok(())
    }
}

enum Job {
    Bytes(Vec<u8>),
    Block(Block),
}

struct Session {
    wt: Arc<WebTorrent>,
    torrent: Arc<Torrent>,
    dc: Arc<dyn DataChannel>,
    out: Arc<Outbox>,
}

impl Session {
    fn new(wt: Arc<WebTorrent>, torrent: Arc<Torrent>, dc: Arc<dyn DataChannel>) -> Self {
        Self {
            wt,
            torrent,
            dc,
            out: Arc::default(),
        }
    }

    async fn run(self) -> SessionEnd {
        let stop = CancellationToken::new();
        let writer = {
            let (wt, torrent, dc, out, stop) = (
                self.wt.clone(),
                self.torrent.clone(),
                self.dc.clone(),
                self.out.clone(),
                stop.clone(),
            );
            let writer = async move {
                let end = run_writer(wt, torrent, dc, out, stop.clone()).await;
                stop.cancel();
                end
            };
            // The session's too: it logs in the session's span.
            tokio::spawn(writer.in_current_span())
        };
        let end = tokio::select! {
            end = self.run_reader() => end,
            _ = stop.cancelled() => SessionEnd::Closed,
        };
        stop.cancel();
        // The writer's reason is the better one when it stopped first (stall, read error).
        match writer.await {
            Ok(Some(w)) if matches!(end, SessionEnd::Closed) => w,
            _ => end,
        }
    }

    async fn run_reader(&self) -> SessionEnd {
        let t = &self.torrent;
        let idle = Duration::from_secs(self.wt.cfg.idle_secs);
        let handshake_by = Instant::now() + HANDSHAKE_TIMEOUT;
        let mut buf: Vec<u8> = Vec::new();
        let mut sent_handshake = false;
        let mut peer: Option<Handshake> = None;
        let mut joined: Option<Joined> = None;
        let mut peer_metadata_id: Option<u8> = None;
        let mut interested = false;
        let mut slot: Option<OwnedSemaphorePermit> = None;
        let mut last_seen = Instant::now();
        let mut retry = tokio::time::interval(SLOT_RETRY);
        let mut look = tokio::time::interval(SHARE_LOOK);
        loop {
            let deadline = if peer.is_none() {
                handshake_by.min(last_seen + idle)
            } else {
                last_seen + idle
            };
            let event = tokio::select! {
                ev = self.dc.poll() => ev,
                _ = tokio::time::sleep_until(deadline) => {
                    return if peer.is_none() { SessionEnd::NoHandshake } else { SessionEnd::Idle };
                }
                _ = retry.tick(), if interested && slot.is_none() => {
                    if let Err(e) = self.try_unchoke(&mut slot) {
                        return e;
                    }
                    continue;
                }
                _ = look.tick(), if joined.is_some() => {
                    let shown = joined.as_ref().map(Joined::reveal).unwrap_or_default();
                    if !shown.is_empty() {
                        if let Err(e) = self.out.push(wire::haves(&shown)) {
                            return e;
                        }
                    }
                    continue;
                }
            };
            let data = match event {
                None | Some(DataChannelEvent::OnClose) | Some(DataChannelEvent::OnClosing) => {
                    return SessionEnd::Closed
                }
                Some(DataChannelEvent::OnOpen) => None,
                Some(DataChannelEvent::OnMessage(m)) => Some(m.data),
                Some(_) => continue,
            };
            // Both ends send their handshake as soon as the channel is open (we know the
            // infohash from the offer).
            if !sent_handshake {
                sent_handshake = true;
                let ours = Handshake {
                    info_hash: t.info_hash,
                    peer_id: self.wt.peer_id,
                    extensions: true,
                };
                if let Err(e) = self.out.push(ours.to_bytes()) {
                    return e;
                }
            }
            let Some(data) = data else { continue };
            last_seen = Instant::now();
            buf.extend_from_slice(&data);

            if peer.is_none() {
                match Handshake::parse(&buf) {
                    Ok(None) => continue,
                    Err(e) => return e.into(),
                    Ok(Some(h)) => {
                        if h.info_hash != t.info_hash {
                            return wire::WireError::WrongInfoHash.into();
                        }
                        buf.drain(..wire::HANDSHAKE_LEN);
                        if h.extensions {
                            let ext = wire::extended_handshake(
                                t.info_bytes.len() as u64,
                                MAX_REQUESTS as u32,
                            );
                            if let Err(e) = self.out.push(ext) {
                                return e;
                            }
                        }
                        let j = Joined::new(self.wt.clone(), t);
                        j.reveal();
                        let shown = j.with(|s, p| s.shown_bytes(p)).unwrap_or_default();
                        if let Err(e) = self.out.push(wire::bitfield(&shown)) {
                            return e;
                        }
                        joined = Some(j);
                        peer = Some(h);
                    }
                }
            }

            loop {
                let (msg, used) = match Message::parse(&buf, wire::MAX_MESSAGE) {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(e) => return e.into(),
                };
                buf.drain(..used);
                let r = match msg {
                    Message::Interested => {
                        interested = true;
                        self.try_unchoke(&mut slot)
                    }
                    Message::NotInterested => {
                        interested = false;
                        self.choke(&mut slot)
                    }
                    Message::Request(b) => self.request(b),
                    Message::Bitfield(bits) => joined.as_ref().map_or(Ok(()), |j| {
                        j.with(|s, p| s.bitfield(p, &bits, std::time::Instant::now()))
                            .unwrap_or(Ok(()))
                            .map_err(SessionEnd::from)
                    }),
                    Message::Have(i) => joined.as_ref().map_or(Ok(()), |j| {
                        j.with(|s, p| s.have(p, i, std::time::Instant::now()))
                            .unwrap_or(Ok(()))
                            .map_err(SessionEnd::from)
                    }),
                    Message::Cancel(b) => {
                        self.out.lock().requests.retain(|r| *r != b);
                        Ok(())
                    }
                    Message::Extended { id: 0, payload } => {
                        match wire::peer_ut_metadata_id(&payload) {
                            Ok(id) => {
                                peer_metadata_id = id;
                                Ok(())
                            }
                            Err(e) => Err(e.into()),
                        }
                    }
                    Message::Extended {
                        id: wire::UT_METADATA_ID,
                        payload,
                    } => match (wire::metadata_request(&payload), peer_metadata_id) {
                        (Ok(Some(piece)), Some(id)) => {
                            self.out
                                .push(wire::metadata_reply(id, piece, &t.info_bytes))
                        }
                        (Ok(_), _) => Ok(()),
                        (Err(e), _) => Err(e.into()),
                    },
                    // Keep-alive, their choke state, other extensions: nothing for a seeder
                    // to do.
                    _ => Ok(()),
                };
                if let Err(e) = r {
                    return e;
                }
            }
        }
    }

    /// Unchokes the peer if an upload slot is free; otherwise it stays choked and retries.
    fn try_unchoke(&self, slot: &mut Option<OwnedSemaphorePermit>) -> Result<(), SessionEnd> {
        if slot.is_some() {
            return Ok(());
        }
        if let Ok(p) = self.wt.slots.clone().try_acquire_owned() {
            *slot = Some(p);
            self.out.lock().unchoked = true;
            self.out.push(wire::unchoke())?;
        }
        Ok(())
    }

    fn choke(&self, slot: &mut Option<OwnedSemaphorePermit>) -> Result<(), SessionEnd> {
        if slot.take().is_some() {
            {
                let mut s = self.out.lock();
                s.unchoked = false;
                s.requests.clear();
            }
            self.out.push(wire::choke())?;
        }
        Ok(())
    }

    fn request(&self, b: Block) -> Result<(), SessionEnd> {
        self.torrent.layout.check(&b)?;
        {
            let mut s = self.out.lock();
            // BEP 3: requests from a choked peer are dropped.
            if !s.unchoked {
                return Ok(());
            }
            if s.requests.len() >= MAX_REQUESTS {
                return Err(SessionEnd::TooManyRequests);
            }
            s.requests.push_back(b);
        }
        self.out.ready.notify_one();
        Ok(())
    }
}

/// Sends `bytes` in data-channel messages of at most `CHUNK` bytes, each send waiting for
/// room in the channel's buffer, but not longer than `SEND_STALL`.
async fn send_all(dc: &Arc<dyn DataChannel>, bytes: &[u8]) -> Result<(), SessionEnd> {
    for part in bytes.chunks(CHUNK) {
        match tokio::time::timeout(SEND_STALL, dc.send(BytesMut::from(part))).await {
            Err(_) => return Err(SessionEnd::Stalled),
            Ok(Err(e)) => return Err(SessionEnd::Send(e)),
            Ok(Ok(())) => {}
        }
    }
    Ok(())
}

/// Sends what the reader queues until `stop`; returns why it stopped on its own.
async fn run_writer(
    wt: Arc<WebTorrent>,
    t: Arc<Torrent>,
    dc: Arc<dyn DataChannel>,
    out: Arc<Outbox>,
    stop: CancellationToken,
) -> Option<SessionEnd> {
    let mut last_sent = Instant::now();
    loop {
        let job = {
            let mut s = out.lock();
            match s.control.pop_front() {
                Some(b) => Some(Job::Bytes(b)),
                None if s.unchoked => s.requests.pop_front().map(Job::Block),
                None => None,
            }
        };
        let r = match job {
            Some(Job::Bytes(b)) => send_all(&dc, &b).await,
            Some(Job::Block(b)) => send_block(&wt, &t, &dc, &out, b).await,
            None => {
                tokio::select! {
                    _ = out.ready.notified() => continue,
                    _ = stop.cancelled() => return None,
                    _ = tokio::time::sleep_until(last_sent + KEEP_ALIVE) => {
                        send_all(&dc, &wire::keep_alive()).await
                    }
                }
            }
        };
        if let Err(e) = r {
            return Some(e);
        }
        last_sent = Instant::now();
    }
}

/// Reads one requested block from the library file and sends it as a piece message,
/// unless it was cancelled or the peer choked meanwhile.
async fn send_block(
    wt: &WebTorrent,
    t: &Torrent,
    dc: &Arc<dyn DataChannel>,
    out: &Outbox,
    b: Block,
) -> Result<(), SessionEnd> {
    // Checked when it was queued.
    let offset = t.layout.check(&b)?;
    let file = t.file.clone();
    let len = b.length as usize;
    let data = tokio::task::spawn_blocking(move || {
        let mut data = wire::piece_header(b.index, b.begin, b.length);
        let head = data.len();
        data.resize(head + len, 0);
        file.read_exact_at(&mut data[head..], offset).map(|_| data)
    })
    .await
    .map_err(|e| SessionEnd::Read(std::io::Error::other(e)))?
    .map_err(SessionEnd::Read)?;
    if !out.lock().unchoked {
        return Ok(());
    }
    send_all(dc, &data).await?;
    wt.uploaded
        .fetch_add(u64::from(b.length), Ordering::Relaxed);
    t.uploaded.fetch_add(u64::from(b.length), Ordering::Relaxed);
    Ok(())
}
