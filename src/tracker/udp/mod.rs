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
    io::ErrorKind,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::{
    peers::{Announce, Endpoint, Proto},
    Tracker,
};
use crate::config::ConfigError;
use protocol::{ParseError, Request};

/// How long a connection id stays valid (BEP 15: clients use it for one minute).
const CONN_ID_VALID: Duration = Duration::from_secs(120);
/// Largest request read; anything longer is cut and then fails to parse.
const MAX_PACKET: usize = 2048;
/// Remembered routes from client to local address, for listing the node itself.
const MAX_ROUTES: usize = 1024;
/// Tasks receiving on the socket at once; requests are short, two keep both cores busy.
const WORKERS: usize = 2;
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
}

impl UdpTracker {
    pub fn new(socket: UdpSocket, tracker: Arc<Tracker>) -> Arc<Self> {
        Arc::new(Self {
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
        let bound = self.socket.local_addr().ok()?.ip();
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
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..WORKERS {
            let me = self.clone();
            let shutdown = shutdown.clone();
            workers.spawn(async move {
                let mut buf = vec![0u8; MAX_PACKET];
                loop {
                    let (n, from) = tokio::select! {
                        _ = shutdown.cancelled() => return,
                        r = me.socket.recv_from(&mut buf) => match r {
                            Ok(x) => x,
                            Err(e) => {
                                // ICMP errors for earlier replies surface here; keep going.
                                tracing::debug!("udp tracker receive: {e}");
                                continue;
                            }
                        },
                    };
                    if let Some(reply) = me.handle(&buf[..n], from) {
                        if let Err(e) = me.socket.send_to(&reply, from).await {
                            tracing::debug!(%from, "udp tracker send: {e}");
                        }
                    }
                }
            });
        }
        while workers.join_next().await.is_some() {}
    }

    /// One request in, at most one reply out.
    fn handle(&self, packet: &[u8], from: SocketAddr) -> Option<Vec<u8>> {
        let ip = from.ip().to_canonical();
        let error = |tx, msg: &str| {
            let mut r = protocol::error_response(tx, msg);
            r.truncate(packet.len());
            r
        };
        let req = match Request::parse(packet) {
            Ok(r) => r,
            Err(ParseError::Unanswerable) => return None,
            Err(ParseError::Bad { tx, msg }) => return Some(error(tx, msg)),
        };
        match req {
            Request::Connect { tx } => Some(protocol::connect_response(
                tx,
                self.conn_id(ip, self.now_secs()),
            )),
            Request::Announce { conn, tx, .. } | Request::Scrape { conn, tx, .. }
                if !self.conn_id_valid(ip, conn) =>
            {
                Some(error(tx, "connection id expired or invalid"))
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
                Some(match self.tracker.announce(a, ip, self.local_ip_for(ip)) {
                    Ok(reply) => {
                        let peers: Vec<SocketAddr> = reply
                            .peers
                            .iter()
                            .filter_map(|(_, e)| match e {
                                Endpoint::Addr(a) => Some(*a),
                                Endpoint::Ws(_) => None,
                            })
                            .collect();
                        protocol::announce_response(
                            tx,
                            reply.interval,
                            reply.counts,
                            &peers,
                            ip.is_ipv6(),
                        )
                    }
                    Err(denied) => error(tx, &denied.to_string()),
                })
            }
            Request::Scrape { tx, hashes, .. } => {
                Some(match self.tracker.scrape(&hashes, ip, Proto::Udp) {
                    Ok(files) => protocol::scrape_response(tx, &files),
                    Err(denied) => error(tx, &denied.to_string()),
                })
            }
        }
    }
}
