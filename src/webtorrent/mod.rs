//! The node's own WebTorrent peer: it seeds the library to browsers over WebRTC.
//!
//! librqbit cannot take WebRTC streams, so the node serves WebRTC peers itself:
//! - `signal` is a client of WebSocket trackers (the node's own and the configured ones): it
//!   announces every library torrent as a seeder and answers the offers relayed to it;
//! - `peer` answers one offer with a webrtc-rs `PeerConnection` (non-trickle: the answer
//!   carries every candidate) and runs the wire protocol on its data channel;
//! - `wire` is the BitTorrent peer protocol (BEP 3, 9, 10) as bytes, pure;
//! - `share` knows which pieces each connected peer holds and decides which pieces the node
//!   shows each one, so that listeners serve each other before the node does, pure.
//!
//! Pieces are read straight from the library files, the ones the BitTorrent side seeds.
//! Limits: `max_peers` connections (each holds a permit from offer to close), `upload_slots`
//! unchoked peers, and bounded queues per peer (see `peer`).

pub mod peer;
pub mod share;
pub mod signal;
pub mod wire;

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use rand::Rng;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::{config::WebTorrentConfig, library::Library, system::Tasks};

/// What `/api/health` and `/metrics` show.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct WebTorrentStats {
    /// Peers with an open data channel.
    pub peers: usize,
    /// Bytes of piece data sent to WebRTC peers.
    pub uploaded_bytes: u64,
    /// Offers answered since start.
    pub answered: u64,
    /// Offers refused or failed (unknown torrent, bad SDP, no free peer slot...).
    pub refused: u64,
    /// Trackers the node is connected to now.
    pub trackers_connected: usize,
}

/// State shared by the tracker clients and the peers.
pub struct WebTorrent {
    pub(crate) library: Arc<Library>,
    pub(crate) cfg: WebTorrentConfig,
    /// Our peer id on WebSocket trackers (not the BitTorrent one: another kind of peer).
    pub(crate) peer_id: [u8; 20],
    /// Where peer connections bind their UDP sockets.
    pub(crate) udp_addrs: Vec<SocketAddr>,
    /// Whether loopback candidates go into answers (a node serving on 127.0.0.1 only).
    pub(crate) loopback: bool,
    pub(crate) peer_permits: Arc<Semaphore>,
    pub(crate) slots: Arc<Semaphore>,
    /// (infohash, remote peer id) of the peers connected or connecting, so a browser that
    /// offers again while connected does not get a second connection.
    pub(crate) sessions: Mutex<HashSet<([u8; 20], [u8; 20])>>,
    /// What each connected peer holds, per torrent (see `share`).
    pub(crate) shares: Mutex<share::Shares>,
    pub(crate) connected: AtomicUsize,
    pub(crate) uploaded: AtomicU64,
    pub(crate) answered: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) trackers_connected: AtomicUsize,
}

/// A WebTorrent peer id in the Azureus style, distinct from the BitTorrent one.
fn new_peer_id() -> [u8; 20] {
    let mut id = *b"-SP0100-000000000000";
    let mut rng = rand::thread_rng();
    for b in &mut id[8..] {
        *b = rng.sample(rand::distributions::Alphanumeric);
    }
    id
}

impl WebTorrent {
    /// `http` is the bound address of the web server: a node that serves only on loopback
    /// (tests, a demo) also binds its peer connections there.
    pub fn new(cfg: WebTorrentConfig, library: Arc<Library>, http: SocketAddr) -> Arc<Self> {
        let loopback = http.ip().is_loopback();
        let udp_addrs = if loopback {
            vec![SocketAddr::new(http.ip(), 0)]
        } else {
            // Every non-loopback interface, one socket each (webrtc-rs expands wildcards).
            vec![SocketAddr::from(([0, 0, 0, 0], 0))]
        };
        Arc::new(Self {
            library,
            peer_permits: Arc::new(Semaphore::new(cfg.max_peers)),
            slots: Arc::new(Semaphore::new(cfg.upload_slots)),
            cfg,
            peer_id: new_peer_id(),
            udp_addrs,
            loopback,
            sessions: Mutex::default(),
            shares: Mutex::default(),
            connected: AtomicUsize::new(0),
            uploaded: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            trackers_connected: AtomicUsize::new(0),
        })
    }

    /// The piece table; a poisoned lock is still a consistent table (every change is made
    /// whole under it).
    pub(crate) fn shares(&self) -> std::sync::MutexGuard<'_, share::Shares> {
        self.shares.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn stats(&self) -> WebTorrentStats {
        WebTorrentStats {
            peers: self.connected.load(Ordering::Relaxed),
            uploaded_bytes: self.uploaded.load(Ordering::Relaxed),
            answered: self.answered.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            trackers_connected: self.trackers_connected.load(Ordering::Relaxed),
        }
    }

    /// The node's own tracker, as a client reaches it from this machine.
    pub fn own_tracker_url(http: SocketAddr) -> String {
        let ip = if http.ip().is_unspecified() {
            match http {
                SocketAddr::V4(_) => "127.0.0.1".to_string(),
                SocketAddr::V6(_) => "[::1]".to_string(),
            }
        } else {
            match http {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            }
        };
        format!("ws://{ip}:{}/announce", http.port())
    }

    /// Runs a client for the node's own tracker and each configured one until `shutdown`;
    /// then closes every peer.
    pub async fn run(self: Arc<Self>, http: SocketAddr, shutdown: CancellationToken) {
        // rustls is built with two crypto back-ends in this tree (ring for webrtc, aws-lc
        // for reqwest), so it cannot pick one by itself for wss:// trackers. Another part of
        // the process may have chosen already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut urls = vec![Self::own_tracker_url(http)];
        urls.extend(self.cfg.trackers.iter().cloned());
        tracing::info!(trackers = ?urls, "webtorrent peer started");
        let mut tasks = Tasks::new();
        for url in urls {
            tasks.spawn(
                "tracker_client",
                signal::run_tracker_client(self.clone(), url, shutdown.clone()),
            );
        }
        tasks.join_all().await;
        tracing::info!("webtorrent peer stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_tracker_url_uses_a_reachable_address() {
        let u = |s: &str| WebTorrent::own_tracker_url(s.parse().unwrap());
        assert_eq!(u("0.0.0.0:80"), "ws://127.0.0.1:80/announce");
        assert_eq!(u("127.0.0.1:8080"), "ws://127.0.0.1:8080/announce");
        assert_eq!(u("192.168.1.2:80"), "ws://192.168.1.2:80/announce");
        assert_eq!(u("[::]:80"), "ws://[::1]:80/announce");
    }
}
