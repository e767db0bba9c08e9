//! The UDP tracker (BEP 15) on `--udp-tracker`, over the shared peer table.
//!
//! Connection ids cannot be forged and need no per-client state: an id is the second it
//! was issued plus a keyed hash (SipHash with a random key of this process) of the
//! client's IP and that second, and it is valid for two minutes. An announce or scrape
//! with a wrong id gets an error packet, so a client with a stale id reconnects. Until a
//! client has shown a valid id, no reply is larger than its request (error texts are cut
//! to fit), so a spoofed source gains nothing: the tracker is no amplifier.

pub mod protocol;

use std::{
    collections::HashMap,
    hash::BuildHasher,
    io::{ErrorKind, IoSlice, IoSliceMut},
    net::{IpAddr, SocketAddr},
    ops::Range,
    os::fd::{AsRawFd, RawFd},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use tokio::{io::Interest, net::UdpSocket};
use tokio_util::sync::CancellationToken;

use super::{
    peers::{Announce, Endpoint, Proto},
    Tracker,
};
use crate::{config::ConfigError, system::Tasks};
use protocol::{ParseError, Request};

/// How long a connection id stays valid (BEP 15: clients use it for one minute).
const CONN_ID_VALID: Duration = Duration::from_secs(120);
/// Largest request read; anything longer is cut and then fails to parse.
const MAX_PACKET: usize = 2048;
/// Remembered routes from client to local address, for listing the node itself.
const MAX_ROUTES: usize = 1024;
/// Tasks receiving on the socket at once; requests are short, two keep both cores busy.
const WORKERS: usize = 2;
/// Datagrams taken from or handed to the kernel per system call (`recvmmsg`, `sendmmsg`):
/// under load one call moves many, and system calls were most of the tracker's time.
const BATCH: usize = 32;
/// Largest reply: an announce with `max_numwant` IPv6 peers fits well within it.
const MAX_REPLY: usize = 1500;
/// Default peers per reply when the client sends -1 (fits one 1500-byte packet).
const DEFAULT_NUMWANT: usize = 50;

pub async fn bind(addr: SocketAddr) -> Result<UdpSocket, ConfigError> {
    UdpSocket::bind(addr).await.map_err(|e| match e.kind() {
        ErrorKind::AddrInUse => ConfigError::new(
            "udp_tracker",
            format!("{addr} is already in use"),
            "stop the other tracker or choose another --udp-tracker address",
        ),
        _ => ConfigError::new(
            "udp_tracker",
            format!("cannot listen on {addr}: {e}"),
            "use an address of this machine, such as 0.0.0.0:6969",
        ),
    })
}

pub struct UdpTracker {
    socket: UdpSocket,
    tracker: Arc<Tracker>,
    keys: std::collections::hash_map::RandomState,
    started: Instant,
    routes: Mutex<HashMap<IpAddr, IpAddr>>,
    /// The address the socket is bound to, read once (it never changes).
    bound: Option<IpAddr>,
}

impl UdpTracker {
    pub fn new(socket: UdpSocket, tracker: Arc<Tracker>) -> Arc<Self> {
        Arc::new(Self {
            bound: socket.local_addr().ok().map(|a| a.ip()),
            socket,
            tracker,
            keys: Default::default(),
            started: Instant::now(),
            routes: Mutex::default(),
        })
    }

    fn now_secs(&self) -> u32 {
        self.started.elapsed().as_secs() as u32
    }

    fn conn_id(&self, ip: IpAddr, secs: u32) -> u64 {
        let tag = self.keys.hash_one((ip.to_canonical(), secs)) & 0xffff_ffff;
        (u64::from(secs) << 32) | tag
    }

    fn conn_id_valid(&self, ip: IpAddr, id: u64) -> bool {
        let issued = (id >> 32) as u32;
        let age = self.now_secs().wrapping_sub(issued);
        u64::from(age) <= CONN_ID_VALID.as_secs() && self.conn_id(ip, issued) == id
    }

    /// The local address a client's packets arrive at (the socket may listen on all of
    /// them), found by asking the kernel for the route back and remembered.
    fn local_ip_for(&self, client: IpAddr) -> Option<IpAddr> {
        let bound = self.bound?;
        if !bound.is_unspecified() {
            return Some(bound);
        }
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ip) = routes.get(&client) {
            return Some(*ip);
        }
        let probe = std::net::UdpSocket::bind(SocketAddr::new(bound, 0)).ok()?;
        probe.connect(SocketAddr::new(client, 9)).ok()?;
        let local = probe.local_addr().ok()?.ip();
        if routes.len() >= MAX_ROUTES {
            routes.clear();
        }
        routes.insert(client, local);
        Some(local)
    }

    /// Serves until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut workers = Tasks::new();
        for _ in 0..WORKERS {
            let me = self.clone();
            let shutdown = shutdown.clone();
            workers.spawn("udp_worker", async move {
                let mut batch = Batch::new();
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = me.serve(&mut batch) => {}
                }
            });
        }
        workers.join_all().await;
    }

    /// Receives and answers batches of datagrams, forever.
    async fn serve(&self, batch: &mut Batch) {
        let fd = self.socket.as_raw_fd();
        loop {
            if let Err(e) = self.socket.readable().await {
                tracing::warn!("udp tracker: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let received = match self.socket.try_io(Interest::READABLE, || batch.receive(fd)) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => {
                    // ICMP errors for earlier replies surface here; keep going.
                    tracing::debug!("udp tracker receive: {e}");
                    continue;
                }
            };
            let mut replies = 0;
            for i in 0..received {
                let (len, from) = batch.received[i];
                let Some(from) = from else { continue };
                let out = &mut batch.replies[replies];
                out.clear();
                if self.handle(&batch.bufs[i][..len], from, out) {
                    batch.dests[replies] = Some(SockaddrStorage::from(from));
                    replies += 1;
                }
            }
            self.send(batch, replies, fd).await;
        }
    }

    /// Sends the first `n` replies of `batch`, waiting while the send buffer is full.
    async fn send(&self, batch: &Batch, n: usize, fd: RawFd) {
        let mut sent = 0;
        while sent < n {
            match self
                .socket
                .try_io(Interest::WRITABLE, || batch.send(fd, sent..n))
            {
                Ok(k) => sent += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if self.socket.writable().await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    // The first datagram left failed (e.g. no route back): skip it.
                    tracing::debug!("udp tracker send: {e}");
                    sent += 1;
                }
            }
        }
    }

    /// One request in, at most one reply out (written to `out`; false for none).
    fn handle(&self, packet: &[u8], from: SocketAddr, out: &mut Vec<u8>) -> bool {
        let ip = from.ip().to_canonical();
        let mut error = |tx, msg: &str| {
            protocol::error_response(out, tx, msg);
            out.truncate(packet.len());
        };
        let req = match Request::parse(packet) {
            Ok(r) => r,
            Err(ParseError::Unanswerable) => return false,
            Err(ParseError::Bad { tx, msg }) => {
                error(tx, msg);
                return true;
            }
        };
        match req {
            Request::Connect { tx } => {
                protocol::connect_response(out, tx, self.conn_id(ip, self.now_secs()))
            }
            Request::Announce { conn, tx, .. } | Request::Scrape { conn, tx, .. }
                if !self.conn_id_valid(ip, conn) =>
            {
                error(tx, "connection id expired or invalid")
            }
            Request::Announce {
                tx,
                info_hash,
                peer_id,
                left,
                event,
                numwant,
                port,
                ..
            } => {
                let a = Announce {
                    info_hash,
                    peer_id,
                    left,
                    event,
                    proto: Proto::Udp,
                    endpoint: Endpoint::Addr(SocketAddr::new(ip, port)),
                    numwant: numwant.map_or(DEFAULT_NUMWANT, |n| n as usize),
                };
                match self.tracker.announce(a, ip, || self.local_ip_for(ip)) {
                    Ok(reply) => protocol::announce_response(
                        out,
                        tx,
                        reply.interval,
                        reply.counts,
                        reply.peers.iter().filter_map(|(_, e)| match e {
                            Endpoint::Addr(a) => Some(*a),
                            Endpoint::Ws(_) => None,
                        }),
                        ip.is_ipv6(),
                    ),
                    Err(denied) => error(tx, &denied.to_string()),
                }
            }
            Request::Scrape { tx, hashes, .. } => {
                match self.tracker.scrape(&hashes, ip, Proto::Udp) {
                    Ok(files) => protocol::scrape_response(out, tx, &files),
                    Err(denied) => error(tx, &denied.to_string()),
                }
            }
        }
        true
    }
}

/// Buffers for one batch of requests and replies, reused for every batch.
struct Batch {
    bufs: Vec<[u8; MAX_PACKET]>,
    /// Length and sender of each datagram of the last receive (no sender: not IP, skipped).
    received: Vec<(usize, Option<SocketAddr>)>,
    replies: Vec<Vec<u8>>,
    dests: Vec<Option<SockaddrStorage>>,
}

impl Batch {
    fn new() -> Self {
        Self {
            bufs: vec![[0; MAX_PACKET]; BATCH],
            received: Vec::with_capacity(BATCH),
            replies: (0..BATCH).map(|_| Vec::with_capacity(MAX_REPLY)).collect(),
            dests: vec![None; BATCH],
        }
    }

    /// Takes up to `BATCH` waiting datagrams in one `recvmmsg`; never blocks.
    fn receive(&mut self, fd: RawFd) -> std::io::Result<usize> {
        self.received.clear();
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut iovs: Vec<[IoSliceMut; 1]> =
            self.bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        let msgs = recvmmsg(
            fd,
            &mut headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        self.received
            .extend(msgs.map(|m| (m.bytes, m.address.as_ref().and_then(std_addr))));
        Ok(self.received.len())
    }

    /// Sends `range` of the replies in one `sendmmsg`; returns how many went out.
    fn send(&self, fd: RawFd, range: Range<usize>) -> std::io::Result<usize> {
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(range.len(), None);
        let iovs: Vec<[IoSlice; 1]> = self.replies[range.clone()]
            .iter()
            .map(|r| [IoSlice::new(r)])
            .collect();
        let sent = sendmmsg(
            fd,
            &mut headers,
            &iovs,
            &self.dests[range],
            [],
            MsgFlags::MSG_DONTWAIT,
        )?;
        Ok(sent.count())
    }
}

fn std_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}
