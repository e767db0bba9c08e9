//! The node's own tracker: one peer table, with a front end per protocol.
//!
//! Parts: `peers` (the table), `limits` (per-IP rate limit), `http` (the `/announce` and
//! `/scrape` wire format), `udp` (BEP 15), `ws` (the WebTorrent WebSocket tracker and
//! signalling). Front ends parse their wire format into a [`peers::Announce`] and call
//! [`Tracker`]. The HTTP and WebSocket ends are reached through the web front end's port,
//! which carries them; nothing here knows of it.
//!
//! In `library` mode only this station's library is tracked: a tracker that answers for
//! any infohash on a home connection would soon serve strangers' swarms. The node itself
//! is listed as a seeder of each library torrent, at the address the client used to reach
//! it, so a client finds the node through the tracker alone, with no DHT. Other swarms of
//! this station, such as the live stream's, are admitted with [`Tracker::admit_swarms`];
//! files the node seeds besides its library (the system update it shares) with
//! [`Tracker::admit_seeded`], which lists the node in them as in its library's.

pub mod http;
pub mod limits;
pub mod peers;
pub mod udp;
pub mod ws;

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::{
    config::{TrackerConfig, TrackerMode},
    library::Library,
};
use limits::RateLimiter;
use peers::{
    Announce, Endpoint, Expiry, InfoHash, PeerId, PeerTable, Proto, SwarmCounts, TableError,
};

/// The node's own seeding identity, listed in its torrents' swarms.
#[derive(Debug, Clone, Copy)]
pub struct NodePeer {
    pub peer_id: PeerId,
    pub port: u16,
}

/// Why an announce or scrape gets a failure reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("this tracker only tracks this station's library")]
    NotTracked,
    #[error("too many requests from this address, slow down")]
    RateLimited,
    #[error("tracker is full, try again later")]
    Full,
}

/// What an announce gets back.
#[derive(Debug)]
pub struct Reply {
    pub peers: Vec<(PeerId, Endpoint)>,
    pub counts: SwarmCounts,
    pub interval: u32,
}

/// Request counters, for `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    announces: [AtomicU64; 3],
    scrapes: AtomicU64,
    denied: AtomicU64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct TrackerStats {
    pub swarms: usize,
    pub peers: usize,
    pub announces_http: u64,
    pub announces_udp: u64,
    pub announces_ws: u64,
    pub scrapes: u64,
    pub denied: u64,
    /// Browsers' pairings offered again (see `peers::Expiry::pairing`).
    pub pairings_rechecked: u64,
    /// Listen pages' reports of the browsers they are connected to, taken.
    pub peer_reports: u64,
    /// Lonely browsers asked to announce again (see `peers::PeerTable::report_peers`).
    pub lonely_nudged: u64,
    /// Offers sent to lonely browsers first (see `peers::PeerTable::announce`).
    pub lonely_offered: u64,
}

pub struct Tracker {
    table: PeerTable,
    library: Arc<Library>,
    cfg: TrackerConfig,
    node: Option<NodePeer>,
    limiter: RateLimiter,
    counters: Counters,
    /// Admitted in `library` mode besides the library (the live stream's swarms).
    extra: RwLock<HashSet<InfoHash>>,
    /// Seeded by the node besides its library: admitted, and the node listed in them.
    seeded: RwLock<HashSet<InfoHash>>,
    /// The followed stations' episodes, by station: each poll replaces its station's set.
    followed: RwLock<HashMap<String, HashSet<InfoHash>>>,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig, library: Arc<Library>, node: Option<NodePeer>) -> Self {
        let times = |secs: u32| Duration::from_secs(u64::from(secs) * u64::from(cfg.expiry_factor));
        let expiry = Expiry {
            addr: times(cfg.interval_secs),
            ws: times(cfg.ws_interval_secs.max(cfg.ws_settled_interval_secs)),
            // A settled browser announces this seldom: about one pairing checked per
            // announce (see `peers`).
            pairing: Duration::from_secs(u64::from(cfg.ws_settled_interval_secs)),
        };
        Self {
            table: PeerTable::new(expiry, cfg.max_torrents, cfg.max_peers_per_torrent),
            limiter: RateLimiter::new(cfg.rate_limit_per_ip),
            library,
            cfg,
            node,
            counters: Counters::default(),
            extra: RwLock::default(),
            seeded: RwLock::default(),
            followed: RwLock::default(),
        }
    }

    /// Tracks these swarms in `library` mode too; they never list the node as a seeder.
    pub fn admit_swarms(&self, hashes: impl IntoIterator<Item = InfoHash>) {
        if let Ok(mut extra) = self.extra.write() {
            extra.extend(hashes);
        }
    }

    /// Tracks the files the node seeds besides its library, in place of the last set, with
    /// the node listed as their seeder (as for the library's).
    pub fn admit_seeded(&self, hashes: impl IntoIterator<Item = InfoHash>) {
        if let Ok(mut seeded) = self.seeded.write() {
            *seeded = hashes.into_iter().collect();
        }
    }

    /// Tracks a followed station's episodes in `library` mode, in place of what the last
    /// poll of `station` admitted (a catalog is someone else's input: what it lists is
    /// tracked while it lists it, and no more than the caller's cap).
    pub fn admit_followed(&self, station: &str, hashes: impl IntoIterator<Item = InfoHash>) {
        if let Ok(mut followed) = self.followed.write() {
            followed.insert(station.to_string(), hashes.into_iter().collect());
        }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    pub fn table(&self) -> &PeerTable {
        &self.table
    }

    fn in_library(&self, info_hash: &InfoHash) -> bool {
        self.library
            .catalog()
            .items
            .contains_key(&hex::encode(info_hash))
    }

    /// Whether the node seeds this swarm: its library's and its other seeded files.
    fn node_seeds(&self, info_hash: &InfoHash) -> bool {
        self.in_library(info_hash) || self.seeded.read().is_ok_and(|s| s.contains(info_hash))
    }

    fn tracked(&self, info_hash: &InfoHash) -> bool {
        self.cfg.mode == TrackerMode::Open
            || self.node_seeds(info_hash)
            || self.extra.read().is_ok_and(|e| e.contains(info_hash))
            || self
                .followed
                .read()
                .is_ok_and(|f| f.values().any(|s| s.contains(info_hash)))
    }

    fn admit(&self, ip: IpAddr) -> Result<(), Denied> {
        if self.limiter.allow(ip.to_canonical(), Instant::now()) {
            Ok(())
        } else {
            self.counters.denied.fetch_add(1, Ordering::Relaxed);
            Err(Denied::RateLimited)
        }
    }

    /// Handles an announce from `client_ip`. `node_ip` tells the node's address as the
    /// client sees it (where it sent the request), for listing the node in its library's
    /// swarms; it is asked only then.
    pub fn announce(
        &self,
        mut a: Announce,
        client_ip: IpAddr,
        node_ip: impl FnOnce() -> Option<IpAddr>,
    ) -> Result<Reply, Denied> {
        self.admit(client_ip)?;
        if !self.tracked(&a.info_hash) {
            self.counters.denied.fetch_add(1, Ordering::Relaxed);
            return Err(Denied::NotTracked);
        }
        self.counters.announces[a.proto.index()].fetch_add(1, Ordering::Relaxed);
        a.numwant = a.numwant.min(self.cfg.max_numwant as usize);
        let numwant = a.numwant;
        let reply = self
            .table
            .announce(&a, Instant::now())
            .map_err(|e| match e {
                TableError::Full => Denied::Full,
            })?;
        let mut peers = reply.peers;
        let mut counts = reply.counts;
        // The node seeds over BitTorrent, so only BitTorrent clients are told of it.
        let bittorrent = matches!(a.endpoint, Endpoint::Addr(_));
        if let Some(node) = self
            .node
            .filter(|_| bittorrent && self.node_seeds(&a.info_hash))
        {
            counts.complete += 1;
            if let (true, Some(ip)) = (numwant > 0, node_ip()) {
                peers.truncate(numwant - 1);
                let addr = SocketAddr::new(ip.to_canonical(), node.port);
                peers.insert(0, (node.peer_id, Endpoint::Addr(addr)));
            }
        }
        let interval = match a.proto {
            Proto::Ws if reply.settled => self.cfg.ws_settled_interval_secs,
            Proto::Ws => self.cfg.ws_interval_secs,
            Proto::Http | Proto::Udp => self.cfg.interval_secs,
        };
        Ok(Reply {
            peers,
            counts,
            interval,
        })
    }

    /// Counts for each infohash, in order; untracked ones count zero. The node counts as a
    /// seeder of its library for BitTorrent clients (`proto` HTTP or UDP).
    pub fn scrape(
        &self,
        hashes: &[InfoHash],
        client_ip: IpAddr,
        proto: Proto,
    ) -> Result<Vec<(InfoHash, SwarmCounts)>, Denied> {
        self.admit(client_ip)?;
        self.counters.scrapes.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        Ok(hashes
            .iter()
            .map(|h| {
                if !self.tracked(h) {
                    return (*h, SwarmCounts::default());
                }
                let mut c = self.table.counts(h, now);
                if self.node.is_some() && proto != Proto::Ws && self.node_seeds(h) {
                    c.complete += 1;
                }
                (*h, c)
            })
            .collect())
    }

    pub fn stats(&self) -> TrackerStats {
        let t = self.table.stats();
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TrackerStats {
            swarms: t.swarms,
            peers: t.peers,
            announces_http: load(&c.announces[0]),
            announces_udp: load(&c.announces[1]),
            announces_ws: load(&c.announces[2]),
            scrapes: load(&c.scrapes),
            denied: load(&c.denied),
            pairings_rechecked: t.rechecks,
            peer_reports: t.reports,
            lonely_nudged: t.nudges,
            lonely_offered: t.lonely_offered,
        }
    }

    /// Frees expired peers every interval until `shutdown`.
    pub async fn run_sweeper(self: Arc<Self>, shutdown: CancellationToken) {
        let every = Duration::from_secs(u64::from(
            self.cfg.ws_interval_secs.min(self.cfg.interval_secs),
        ));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => self.table.sweep(Instant::now()),
            }
        }
    }
}
