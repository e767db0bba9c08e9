//! The tracker's peer table: per infohash, the peers that announced, how and when.
//!
//! One table for every front end (HTTP, UDP, WebSocket). Peers that stop announcing are
//! dropped after the interval times the expiry factor. Memory is bounded: a full swarm
//! replaces its stalest peer, and a full table refuses new swarms.
//!
//! Peers come in two kinds that cannot reach each other: BitTorrent clients (HTTP and UDP
//! announces) have a socket address; WebTorrent browsers (WebSocket) only have their
//! tracker connection, through which offers reach them. Each kind is only given its own.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use indexmap::IndexMap;
use serde::Serialize;

pub type InfoHash = [u8; 20];
pub type PeerId = [u8; 20];
/// A WebSocket connection of the tracker, by number.
pub type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    None,
    Started,
    Stopped,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Http,
    Udp,
    Ws,
}

/// How other peers reach a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Addr(SocketAddr),
    Ws(ConnId),
}

impl Endpoint {
    fn same_kind(&self, other: &Endpoint) -> bool {
        matches!(
            (self, other),
            (Endpoint::Addr(_), Endpoint::Addr(_)) | (Endpoint::Ws(_), Endpoint::Ws(_))
        )
    }
}

/// One announce, whatever protocol it came in.
#[derive(Debug, Clone)]
pub struct Announce {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub left: u64,
    pub event: Event,
    pub proto: Proto,
    pub endpoint: Endpoint,
    pub numwant: usize,
}

#[derive(Debug, Clone, Copy)]
struct Peer {
    endpoint: Endpoint,
    proto: Proto,
    seeder: bool,
    seen: Instant,
}

/// One infohash's peers. Invariant: `seeders` is the number of peers with `seeder` set,
/// kept up to date on every insert and removal, so an announce never walks the swarm.
/// Expired peers stay until the periodic sweep; replies may count them until then.
#[derive(Debug, Default)]
struct Swarm {
    /// Indexable, so picking `numwant` random peers costs O(numwant), not O(swarm).
    peers: IndexMap<PeerId, Peer>,
    seeders: u32,
    downloads: HashMap<Proto, u64>,
}

impl Swarm {
    fn insert(&mut self, id: PeerId, peer: Peer) {
        let seeder = peer.seeder;
        if let Some(old) = self.peers.insert(id, peer) {
            self.seeders -= u32::from(old.seeder);
        }
        self.seeders += u32::from(seeder);
    }

    fn remove(&mut self, id: &PeerId) {
        if let Some(old) = self.peers.swap_remove(id) {
            self.seeders -= u32::from(old.seeder);
        }
    }

    fn expire(&mut self, now: Instant, expiry: Duration) {
        self.peers
            .retain(|_, p| now.saturating_duration_since(p.seen) < expiry);
        self.seeders = self.peers.values().filter(|p| p.seeder).count() as u32;
    }

    /// Counts from the maintained totals (expired peers included until the sweep).
    fn totals(&self) -> SwarmCounts {
        SwarmCounts {
            complete: self.seeders,
            incomplete: self.peers.len() as u32 - self.seeders,
            downloaded: self.downloads.values().sum(),
        }
    }

    /// Up to `n` random peers of `kind`'s kind, other than `except`.
    fn pick(&self, n: usize, except: &PeerId, kind: &Endpoint) -> Vec<(PeerId, Endpoint)> {
        let len = self.peers.len();
        let ok = |(id, p): (&PeerId, &Peer)| *id != *except && p.endpoint.same_kind(kind);
        if n == 0 {
            return Vec::new();
        }
        if len <= n + 1 {
            return self
                .peers
                .iter()
                .filter(|e| ok(*e))
                .map(|(id, p)| (*id, p.endpoint))
                .collect();
        }
        // Sample a few more than asked, as some may be the announcer or of the other kind.
        let want = (2 * n + 1).min(len);
        rand::seq::index::sample(&mut rand::thread_rng(), len, want)
            .into_iter()
            .filter_map(|i| self.peers.get_index(i))
            .filter(|e| ok(*e))
            .take(n)
            .map(|(id, p)| (*id, p.endpoint))
            .collect()
    }

    /// Counts the peers seen within `expiry` of `now`, for those that `pick` accepts.
    fn counts(&self, now: Instant, expiry: Duration, pick: impl Fn(Proto) -> bool) -> SwarmCounts {
        let mut c = SwarmCounts::default();
        for p in self.peers.values() {
            if now.saturating_duration_since(p.seen) < expiry && pick(p.proto) {
                if p.seeder {
                    c.complete += 1;
                } else {
                    c.incomplete += 1;
                }
            }
        }
        c.downloaded = self
            .downloads
            .iter()
            .filter(|(proto, _)| pick(**proto))
            .map(|(_, n)| n)
            .sum();
        c
    }
}

/// Counts for one swarm, as announce and scrape report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SwarmCounts {
    pub complete: u32,
    pub incomplete: u32,
    pub downloaded: u64,
}

#[derive(Debug)]
pub struct AnnounceReply {
    pub peers: Vec<(PeerId, Endpoint)>,
    pub counts: SwarmCounts,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TableError {
    #[error("tracker is full, try again later")]
    Full,
}

/// One swarm's counts per protocol, for `/api/tracker`.
#[derive(Debug, Clone, Serialize)]
pub struct SwarmReport {
    pub info_hash: String,
    pub http: SwarmCounts,
    pub udp: SwarmCounts,
    pub ws: SwarmCounts,
}

/// Table-wide numbers for `/metrics`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct TableStats {
    pub swarms: usize,
    pub peers: usize,
}

pub struct PeerTable {
    swarms: Mutex<HashMap<InfoHash, Swarm>>,
    expiry: Duration,
    max_swarms: usize,
    max_peers: usize,
}

impl PeerTable {
    pub fn new(expiry: Duration, max_swarms: usize, max_peers: usize) -> Self {
        Self {
            swarms: Mutex::default(),
            expiry,
            max_swarms,
            max_peers,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<InfoHash, Swarm>> {
        // A panic elsewhere while holding the lock leaves the table usable.
        self.swarms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records `a` and returns up to `a.numwant` other peers of its kind.
    pub fn announce(&self, a: &Announce, now: Instant) -> Result<AnnounceReply, TableError> {
        let mut swarms = self.lock();
        if !swarms.contains_key(&a.info_hash) {
            if a.event == Event::Stopped {
                return Ok(AnnounceReply {
                    peers: Vec::new(),
                    counts: SwarmCounts::default(),
                });
            }
            if swarms.len() >= self.max_swarms {
                return Err(TableError::Full);
            }
        }
        let swarm = swarms.entry(a.info_hash).or_default();
        if a.event == Event::Stopped {
            swarm.remove(&a.peer_id);
        } else {
            let was_leecher = swarm.peers.get(&a.peer_id).is_some_and(|p| !p.seeder);
            if a.event == Event::Completed && was_leecher {
                *swarm.downloads.entry(a.proto).or_default() += 1;
            }
            if swarm.peers.len() >= self.max_peers && !swarm.peers.contains_key(&a.peer_id) {
                // Full: the stalest peer makes room (a scan, but only for a full swarm).
                swarm.expire(now, self.expiry);
                if swarm.peers.len() >= self.max_peers {
                    let oldest = swarm
                        .peers
                        .iter()
                        .min_by_key(|(_, p)| p.seen)
                        .map(|(k, _)| *k);
                    if let Some(oldest) = oldest {
                        swarm.remove(&oldest);
                    }
                }
            }
            swarm.insert(
                a.peer_id,
                Peer {
                    endpoint: a.endpoint,
                    proto: a.proto,
                    seeder: a.left == 0,
                    seen: now,
                },
            );
        }
        // Seeders get seeders too: a magnet client announces left=0 before it knows the
        // size, and needs a peer to fetch the metadata from.
        let peers = swarm.pick(a.numwant, &a.peer_id, &a.endpoint);
        let counts = swarm.totals();
        if swarm.peers.is_empty() && swarm.downloads.is_empty() {
            swarms.remove(&a.info_hash);
        }
        Ok(AnnounceReply { peers, counts })
    }

    pub fn counts(&self, info_hash: &InfoHash, now: Instant) -> SwarmCounts {
        self.lock()
            .get(info_hash)
            .map(|s| s.counts(now, self.expiry, |_| true))
            .unwrap_or_default()
    }

    /// The endpoint of a peer of a swarm, to route a WebRTC answer to it.
    pub fn endpoint(&self, info_hash: &InfoHash, peer_id: &PeerId) -> Option<Endpoint> {
        self.lock()
            .get(info_hash)
            .and_then(|s| s.peers.get(peer_id))
            .map(|p| p.endpoint)
    }

    /// Forgets the peers that WebSocket connection `conn` announced (it closed): only
    /// those swarms are touched, and only entries still reached through `conn`.
    pub fn remove_conn<'a>(
        &self,
        conn: ConnId,
        announced: impl IntoIterator<Item = &'a (InfoHash, PeerId)>,
    ) {
        let mut swarms = self.lock();
        for (ih, pid) in announced {
            let Some(s) = swarms.get_mut(ih) else {
                continue;
            };
            if s.peers
                .get(pid)
                .is_some_and(|p| p.endpoint == Endpoint::Ws(conn))
            {
                s.remove(pid);
            }
            if s.peers.is_empty() && s.downloads.is_empty() {
                swarms.remove(ih);
            }
        }
    }

    /// Per-protocol counts of every swarm.
    pub fn report(&self, now: Instant) -> Vec<SwarmReport> {
        let swarms = self.lock();
        let mut out: Vec<SwarmReport> = swarms
            .iter()
            .map(|(h, s)| SwarmReport {
                info_hash: hex::encode(h),
                http: s.counts(now, self.expiry, |p| p == Proto::Http),
                udp: s.counts(now, self.expiry, |p| p == Proto::Udp),
                ws: s.counts(now, self.expiry, |p| p == Proto::Ws),
            })
            .collect();
        out.sort_by(|a, b| a.info_hash.cmp(&b.info_hash));
        out
    }

    pub fn stats(&self) -> TableStats {
        let swarms = self.lock();
        TableStats {
            swarms: swarms.len(),
            peers: swarms.values().map(|s| s.peers.len()).sum(),
        }
    }

    /// Drops expired peers and empty swarms; run now and then so idle swarms free memory.
    pub fn sweep(&self, now: Instant) {
        self.lock().retain(|_, s| {
            s.expire(now, self.expiry);
            !s.peers.is_empty() || !s.downloads.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(peer: u8, left: u64, event: Event) -> Announce {
        Announce {
            info_hash: [7; 20],
            peer_id: [peer; 20],
            left,
            event,
            proto: Proto::Http,
            endpoint: Endpoint::Addr(addr(peer)),
            numwant: 50,
        }
    }

    fn addr(peer: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, peer], 1000 + peer as u16))
    }

    fn table() -> PeerTable {
        PeerTable::new(Duration::from_secs(60), 100, 100)
    }

    #[test]
    fn peers_see_each_other_and_stop_removes() {
        let t = table();
        let now = Instant::now();
        t.announce(&ann(1, 0, Event::Started), now).unwrap();
        let r = t.announce(&ann(2, 10, Event::Started), now).unwrap();
        assert_eq!(r.peers, vec![([1; 20], Endpoint::Addr(addr(1)))]);
        assert_eq!((r.counts.complete, r.counts.incomplete), (1, 1));
        t.announce(&ann(1, 0, Event::Stopped), now).unwrap();
        assert_eq!(t.counts(&[7; 20], now).complete, 0);
    }

    #[test]
    fn completed_counts_a_download_and_peers_expire() {
        let t = table();
        let now = Instant::now();
        t.announce(&ann(1, 10, Event::Started), now).unwrap();
        t.announce(&ann(1, 0, Event::Completed), now).unwrap();
        assert_eq!(t.counts(&[7; 20], now).downloaded, 1);
        let later = now + Duration::from_secs(61);
        assert_eq!(t.counts(&[7; 20], later).complete, 0);
        t.sweep(later);
        assert_eq!(t.counts(&[7; 20], later).downloaded, 1);
        assert_eq!(t.stats().peers, 0);
    }

    #[test]
    fn numwant_and_bounds_are_respected() {
        let t = PeerTable::new(Duration::from_secs(60), 1, 10);
        let now = Instant::now();
        for p in 1..=20 {
            t.announce(&ann(p, 0, Event::Started), now).unwrap();
        }
        assert_eq!(t.stats().peers, 10);
        let mut a = ann(99, 5, Event::Started);
        a.numwant = 7;
        assert_eq!(t.announce(&a, now).unwrap().peers.len(), 7);
        let mut other = ann(1, 0, Event::Started);
        other.info_hash = [8; 20];
        assert_eq!(t.announce(&other, now).unwrap_err(), TableError::Full);
    }

    #[test]
    fn websocket_and_socket_peers_stay_apart() {
        let t = table();
        let now = Instant::now();
        t.announce(&ann(1, 0, Event::Started), now).unwrap();
        let mut ws = ann(2, 5, Event::Started);
        ws.proto = Proto::Ws;
        ws.endpoint = Endpoint::Ws(42);
        assert!(t.announce(&ws, now).unwrap().peers.is_empty());
        let r = t.announce(&ann(3, 5, Event::Started), now).unwrap();
        assert_eq!(r.peers, vec![([1; 20], Endpoint::Addr(addr(1)))]);
        assert_eq!(t.endpoint(&[7; 20], &[2; 20]), Some(Endpoint::Ws(42)));
        let rep = t.report(now);
        assert_eq!(rep[0].ws.incomplete, 1);
        assert_eq!(rep[0].http.complete, 1);
        t.remove_conn(42, &[([7; 20], [2; 20]), ([9; 20], [2; 20])]);
        assert_eq!(t.endpoint(&[7; 20], &[2; 20]), None);
    }
}
