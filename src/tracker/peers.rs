//! The tracker's peer table: per infohash, the peers that announced and when.
//!
//! One table for every front end (HTTP now; UDP and WebSocket share it later). Peers that
//! stop announcing are dropped after the interval times the expiry factor. Memory is
//! bounded: a full swarm replaces its stalest peer, and a full table refuses new swarms.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use rand::seq::IteratorRandom;

use super::request::{AnnounceRequest, Event};

pub type InfoHash = [u8; 20];
pub type PeerId = [u8; 20];

/// Most swarms tracked at once; with the library mode this is far above any station's size.
const MAX_SWARMS: usize = 100_000;
/// Most peers kept per swarm.
const MAX_PEERS: usize = 5_000;

#[derive(Debug, Clone, Copy)]
struct Peer {
    addr: SocketAddr,
    seeder: bool,
    seen: Instant,
}

#[derive(Debug, Default)]
struct Swarm {
    peers: HashMap<PeerId, Peer>,
    downloads: u64,
}

impl Swarm {
    /// Counts the peers seen within `expiry` of `now`.
    fn counts(&self, now: Instant, expiry: Duration) -> SwarmCounts {
        let (mut complete, mut incomplete) = (0, 0);
        for p in self.peers.values() {
            if now.saturating_duration_since(p.seen) < expiry {
                if p.seeder {
                    complete += 1;
                } else {
                    incomplete += 1;
                }
            }
        }
        SwarmCounts {
            complete,
            incomplete,
            downloaded: self.downloads,
        }
    }
}

/// Counts for one swarm, as announce and scrape report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwarmCounts {
    pub complete: u32,
    pub incomplete: u32,
    pub downloaded: u64,
}

#[derive(Debug)]
pub struct AnnounceReply {
    pub peers: Vec<(PeerId, SocketAddr)>,
    pub counts: SwarmCounts,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TableError {
    #[error("tracker is full, try again later")]
    Full,
}

pub struct PeerTable {
    swarms: Mutex<HashMap<InfoHash, Swarm>>,
    expiry: Duration,
}

impl PeerTable {
    pub fn new(expiry: Duration) -> Self {
        Self {
            swarms: Mutex::default(),
            expiry,
        }
    }

    /// Records the announce of the peer at `addr` and returns up to `numwant` others.
    pub fn announce(
        &self,
        req: &AnnounceRequest,
        addr: SocketAddr,
        numwant: usize,
        now: Instant,
    ) -> Result<AnnounceReply, TableError> {
        let mut swarms = self.swarms.lock().unwrap_or_else(|p| p.into_inner());
        if !swarms.contains_key(&req.info_hash) {
            if req.event == Event::Stopped {
                return Ok(AnnounceReply {
                    peers: Vec::new(),
                    counts: SwarmCounts::default(),
                });
            }
            if swarms.len() >= MAX_SWARMS {
                return Err(TableError::Full);
            }
        }
        let swarm = swarms.entry(req.info_hash).or_default();
        let expiry = self.expiry;
        swarm
            .peers
            .retain(|_, p| now.saturating_duration_since(p.seen) < expiry);
        if req.event == Event::Stopped {
            swarm.peers.remove(&req.peer_id);
        } else {
            let was_leecher = swarm.peers.get(&req.peer_id).is_some_and(|p| !p.seeder);
            if req.event == Event::Completed && was_leecher {
                swarm.downloads += 1;
            }
            if swarm.peers.len() >= MAX_PEERS && !swarm.peers.contains_key(&req.peer_id) {
                if let Some(oldest) = swarm
                    .peers
                    .iter()
                    .min_by_key(|(_, p)| p.seen)
                    .map(|(k, _)| *k)
                {
                    swarm.peers.remove(&oldest);
                }
            }
            swarm.peers.insert(
                req.peer_id,
                Peer {
                    addr,
                    seeder: req.left == 0,
                    seen: now,
                },
            );
        }
        // Seeders get seeders too: a magnet client announces left=0 before it knows the
        // size, and needs a peer to fetch the metadata from.
        let peers = swarm
            .peers
            .iter()
            .filter(|(id, _)| **id != req.peer_id)
            .map(|(id, p)| (*id, p.addr))
            .choose_multiple(&mut rand::thread_rng(), numwant);
        let counts = swarm.counts(now, expiry);
        if swarm.peers.is_empty() && swarm.downloads == 0 {
            swarms.remove(&req.info_hash);
        }
        Ok(AnnounceReply { peers, counts })
    }

    pub fn counts(&self, info_hash: &InfoHash, now: Instant) -> SwarmCounts {
        let swarms = self.swarms.lock().unwrap_or_else(|p| p.into_inner());
        swarms
            .get(info_hash)
            .map(|s| s.counts(now, self.expiry))
            .unwrap_or_default()
    }

    /// Drops expired peers and empty swarms; run now and then so idle swarms free memory.
    pub fn sweep(&self, now: Instant) {
        let mut swarms = self.swarms.lock().unwrap_or_else(|p| p.into_inner());
        swarms.retain(|_, s| {
            s.peers
                .retain(|_, p| now.saturating_duration_since(p.seen) < self.expiry);
            !s.peers.is_empty() || s.downloads > 0
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(peer: u8, left: u64, event: Event) -> AnnounceRequest {
        AnnounceRequest {
            info_hash: [7; 20],
            peer_id: [peer; 20],
            port: 1000 + peer as u16,
            uploaded: 0,
            downloaded: 0,
            left,
            event,
            numwant: None,
            compact: true,
            no_peer_id: false,
        }
    }

    fn addr(peer: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, peer], 1000 + peer as u16))
    }

    #[test]
    fn peers_see_each_other_and_stop_removes() {
        let t = PeerTable::new(Duration::from_secs(60));
        let now = Instant::now();
        t.announce(&req(1, 0, Event::Started), addr(1), 50, now)
            .unwrap();
        let r = t
            .announce(&req(2, 10, Event::Started), addr(2), 50, now)
            .unwrap();
        assert_eq!(r.peers, vec![([1; 20], addr(1))]);
        assert_eq!((r.counts.complete, r.counts.incomplete), (1, 1));
        t.announce(&req(1, 0, Event::Stopped), addr(1), 50, now)
            .unwrap();
        assert_eq!(t.counts(&[7; 20], now).complete, 0);
    }

    #[test]
    fn completed_counts_a_download_and_peers_expire() {
        let t = PeerTable::new(Duration::from_secs(60));
        let now = Instant::now();
        t.announce(&req(1, 10, Event::Started), addr(1), 50, now)
            .unwrap();
        t.announce(&req(1, 0, Event::Completed), addr(1), 50, now)
            .unwrap();
        assert_eq!(t.counts(&[7; 20], now).downloaded, 1);
        let later = now + Duration::from_secs(61);
        assert_eq!(t.counts(&[7; 20], later).complete, 0);
        t.sweep(later);
        assert_eq!(t.counts(&[7; 20], later).downloaded, 1);
    }

    #[test]
    fn numwant_is_respected() {
        let t = PeerTable::new(Duration::from_secs(60));
        let now = Instant::now();
        for p in 1..=20 {
            t.announce(&req(p, 0, Event::Started), addr(p), 50, now)
                .unwrap();
        }
        let r = t
            .announce(&req(99, 5, Event::Started), addr(99), 7, now)
            .unwrap();
        assert_eq!(r.peers.len(), 7);
    }
}
