//! The node's own tracker: one peer table, with front ends per protocol.
//!
//! Parts: `request` (pure parsing of HTTP tracker queries), `response` (bencoded replies),
//! `peers` (the table), `http` (the axum handlers for `/announce` and `/scrape`).
//!
//! Only this station's library is tracked: a tracker that answers for any infohash on a
//! home connection would soon serve strangers' swarms. The node itself is listed as a
//! seeder of each library torrent, at the address the client used to reach it, so a
//! client finds the node through the tracker alone, with no DHT.

pub mod http;
pub mod peers;
pub mod request;
pub mod response;

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;

use crate::{config::TrackerConfig, library::Library};
use peers::{PeerId, PeerTable, SwarmCounts};
use request::AnnounceRequest;

/// Most infohashes in one scrape request.
const MAX_SCRAPE: usize = 64;

/// The node's own seeding identity, listed in its torrents' swarms.
#[derive(Debug, Clone, Copy)]
pub struct NodePeer {
    pub peer_id: PeerId,
    pub port: u16,
}

pub struct Tracker {
    table: PeerTable,
    library: Arc<Library>,
    cfg: TrackerConfig,
    node: Option<NodePeer>,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig, library: Arc<Library>, node: Option<NodePeer>) -> Self {
        let expiry =
            Duration::from_secs(u64::from(cfg.interval_secs) * u64::from(cfg.expiry_factor));
        Self {
            table: PeerTable::new(expiry),
            library,
            cfg,
            node,
        }
    }

    fn tracked(&self, info_hash: &[u8; 20]) -> bool {
        self.library
            .catalog()
            .items
            .contains_key(&hex::encode(info_hash))
    }

    /// Handles an announce from `peer_ip`, which reached the node at `node_ip`. Returns the
    /// bencoded reply, a `failure reason` one included.
    pub fn announce(&self, req: &AnnounceRequest, peer_ip: IpAddr, node_ip: IpAddr) -> Vec<u8> {
        if !self.tracked(&req.info_hash) {
            return response::failure("this tracker only tracks this station's library");
        }
        let numwant = req.numwant.unwrap_or(50).min(self.cfg.max_numwant) as usize;
        let addr = SocketAddr::new(peer_ip.to_canonical(), req.port);
        let reply = match self.table.announce(req, addr, numwant, Instant::now()) {
            Ok(r) => r,
            Err(e) => return response::failure(&e.to_string()),
        };
        let mut peers = reply.peers;
        let mut counts = reply.counts;
        if let Some(node) = self.node {
            counts.complete += 1;
            if numwant > 0 {
                peers.truncate(numwant.saturating_sub(1));
                peers.insert(
                    0,
                    (
                        node.peer_id,
                        SocketAddr::new(node_ip.to_canonical(), node.port),
                    ),
                );
            }
        }
        response::announce(&response::AnnounceOut {
            peers: &peers,
            counts,
            interval: self.cfg.interval_secs,
            compact: req.compact,
            no_peer_id: req.no_peer_id,
        })
    }

    pub fn scrape(&self, query: &str) -> Vec<u8> {
        let hashes = match request::parse_scrape(query, MAX_SCRAPE) {
            Ok(h) => h,
            Err(e) => return response::failure(&e.to_string()),
        };
        let now = Instant::now();
        let files: Vec<([u8; 20], SwarmCounts)> = hashes
            .into_iter()
            .filter(|h| self.tracked(h))
            .map(|h| {
                let mut c = self.table.counts(&h, now);
                if self.node.is_some() {
                    c.complete += 1;
                }
                (h, c)
            })
            .collect();
        response::scrape(&files)
    }

    /// Frees expired peers every interval until `shutdown`.
    pub async fn run_sweeper(self: Arc<Self>, shutdown: CancellationToken) {
        let every = Duration::from_secs(u64::from(self.cfg.interval_secs));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => self.table.sweep(Instant::now()),
            }
        }
    }
}
