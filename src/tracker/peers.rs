//! The tracker's peer table: per infohash, the peers that announced, how and when.
//!
//! One table for every front end (HTTP, UDP, WebSocket). Peers that stop announcing are
//! dropped after the interval times the expiry factor. Memory is bounded: a full swarm
//! replaces its stalest peer, and a full table refuses new swarms.
//!
//! Peers come in two kinds that cannot reach each other: BitTorrent clients (HTTP and UDP
//! announces) have a socket address; WebTorrent browsers (WebSocket) only have their
//! tracker connection, through which offers reach them. Each kind is only given its own.
//!
//! Browsers' offers cost the box's uplink: each one the tracker relays goes to a browser,
//! and its answer comes back through the box (about 1 kB each way). A browser sends a fresh
//! batch with every announce (every two minutes), whether it needs more peers or not; at a
//! hundred live listeners those batches were most of what the box sent that was not audio
//! (benches/README.md, "A big audience"). So the table remembers who was paired with whom
//! (an answer relayed between them), and a re-announce's offers go out only up to
//! [`ENOUGH_PARTNERS`] partners still in the swarm, and never to a partner it has. A
//! first announce gets all it asks. A browser that lacks no partner is told to announce
//! seldom ([`AnnounceReply::settled`]): its batches would be spare offers, each still a
//! WebRTC connection it opens and keeps alive with the box's STUN server for 50 s.
//!
//! A relayed answer does not mean the connection opened: WebRTC can still fail after it
//! (node-datachannel has a known race there), and nothing tells the tracker. So a pairing
//! is trusted for [`Expiry::pairing`] only: a settled browser's announce offers again to
//! its partner paired longest ago, once that pairing is older. A pair whose connection
//! failed is tried again (in a two-browser swarm nobody else would ever be offered); one
//! whose connection holds costs a spare offer, one per settled announce, which the clients
//! drop as a duplicate.
//!
//! A listen page says which browsers it is connected to, on its tracker socket (listen.js;
//! [`PeerTable::report_peers`]). Its pairings older than [`PAIRING_GRACE`] that it does not
//! name failed, and are forgotten on both sides, so its next announce is offered to others.
//! A page left with one peer or none by its own word is asked to announce again soon (its
//! announce interval set short; `ws`): a fresh batch of offers, while the peer it has stays
//! connected. Pairings between homes do fail (symmetric NATs, strict firewalls), and a page
//! whose pairings all failed took every segment from the station until it joined again (in
//! the swarm lab, while its own neighbour table overflowed: benches/README.md, "Pages the
//! tracker paired that never connected" and "The lab's own neighbour table overflowed").
//! The asks back off per page while it stays lonely, and one swarm's are spaced, so that a
//! crowd arriving at once does not announce again all together.
//!
//! Lonely pages are also the first choice for other browsers' offers: up to
//! [`LONELY_PER_BATCH`] of each batch go to pages that last said they were lonely (each taken
//! off that list when offered, until it says so again), the rest at random. A page is not
//! asked while a pairing of its own is younger than [`PAIRING_GRACE`]. So while a crowd
//! arrives the newcomers' offers reach the lonely pages and nobody is asked; the asks are
//! for the quiet hours, when nobody new comes (half the asks, in the lab whose pairings
//! failed: benches/README.md, "The lab's own neighbour table overflowed").

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

use indexmap::{IndexMap, IndexSet};
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

impl Proto {
    pub const ALL: [Proto; 3] = [Proto::Http, Proto::Udp, Proto::Ws];

    /// Position in per-protocol arrays.
    pub fn index(self) -> usize {
        match self {
            Proto::Http => 0,
            Proto::Udp => 1,
            Proto::Ws => 2,
        }
    }
}

/// How other peers reach a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Addr(SocketAddr),
    Ws(ConnId),
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

/// How long a peer is kept without an announce, by kind: browsers are asked to announce
/// at other intervals than BitTorrent clients (and are forgotten anyway when their
/// connection closes).
#[derive(Debug, Clone, Copy)]
pub struct Expiry {
    pub addr: Duration,
    pub ws: Duration,
    /// How long a pairing of two browsers is trusted to have made a connection.
    pub pairing: Duration,
}

impl Expiry {
    fn of(&self, p: &Peer) -> Duration {
        match p.endpoint {
            Endpoint::Addr(_) => self.addr,
            Endpoint::Ws(_) => self.ws,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Peer {
    endpoint: Endpoint,
    proto: Proto,
    seeder: bool,
    seen: Instant,
}

type Peers = IndexMap<PeerId, Peer>;

/// A browser with this many partners still in the swarm gets none of its re-announces'
/// offers relayed; one with fewer gets as many as it lacks. Eight is a common degree for
/// spreading live segments by gossip (each segment reaches a swarm of N in about log N hops)
/// and p2p-media-loader's batch is five.
pub const ENOUGH_PARTNERS: usize = 8;
/// Partners remembered per browser (the oldest is forgotten first).
const MAX_PARTNERS: usize = 32;
/// How long a pairing may take to connect before a browser that reports its peers is taken
/// at its word that it failed (WebRTC between two homes connects in a few seconds, or not).
const PAIRING_GRACE: Duration = Duration::from_secs(15);
/// A browser with this many peers or fewer is lonely.
const LONELY: usize = 1;
/// A lonely browser is asked to announce again once [`PAIRING_GRACE`] has passed since its
/// last announce; while it stays lonely, after this long, doubling up to [`NUDGE_MAX`].
const NUDGE_FIRST: Duration = Duration::from_secs(15);
const NUDGE_MAX: Duration = Duration::from_secs(120);
/// At most one ask per swarm this often: at two a second, a crowd of 200 that all failed
/// would be asked again over 100 s, not in one go.
const NUDGE_SPACING: Duration = Duration::from_millis(500);
/// At most this many of one batch of offers go to lonely pages: the rest go at random, so a
/// newcomer is not paired only with pages that may be lonely because they connect badly.
const LONELY_PER_BATCH: usize = 2;

/// One infohash's peers, one map per kind (BitTorrent clients by address, browsers by
/// WebSocket), so a reply picks from its own kind without skipping over the other.
/// A peer id lives in one of the two maps at most.
///
/// Invariant: `seeders` is the number of peers (both kinds) with `seeder` set, kept up to
/// date on every insert and removal, so an announce never walks the swarm. Expired peers
/// stay until the periodic sweep; replies may count them until then.
#[derive(Debug, Default)]
struct Swarm {
    /// Indexable, so picking `numwant` random peers costs O(numwant), not O(swarm).
    addr: Peers,
    ws: Peers,
    /// Browsers paired through the tracker, by browser, with when they were paired (or last
    /// offered again); entries for peers that have left are skipped when counted and pruned
    /// when the list is written.
    partners: HashMap<PeerId, Vec<(PeerId, Instant)>>,
    /// Lonely browsers asked to announce again: when last, and how many times in a row.
    nudged: HashMap<PeerId, (Instant, u32)>,
    /// When this swarm last asked one (see [`NUDGE_SPACING`]).
    last_nudge: Option<Instant>,
    /// Browsers whose last report said they were lonely and that no offer has reached
    /// since (see [`LONELY_PER_BATCH`]).
    lonely: IndexSet<PeerId>,
    /// When each browser was last offered as a lonely one: it is not listed again before
    /// [`PAIRING_GRACE`] has passed, so a page that says it is lonely over and over is not
    /// sent every newcomer's offer (and with it every newcomer's address).
    offered_lonely: HashMap<PeerId, Instant>,
    seeders: u32,
    downloads: [u64; 3],
}

impl Swarm {
    fn kind(&self, e: &Endpoint) -> &Peers {
        match e {
            Endpoint::Addr(_) => &self.addr,
            Endpoint::Ws(_) => &self.ws,
        }
    }

    fn len(&self) -> usize {
        self.addr.len() + self.ws.len()
    }

    fn is_unused(&self) -> bool {
        self.len() == 0 && self.downloads == [0; 3]
    }

    fn get(&self, id: &PeerId) -> Option<&Peer> {
        self.addr.get(id).or_else(|| self.ws.get(id))
    }

    fn insert(&mut self, id: PeerId, peer: Peer) {
        let (own, other) = match peer.endpoint {
            Endpoint::Addr(_) => (&mut self.addr, &mut self.ws),
            Endpoint::Ws(_) => (&mut self.ws, &mut self.addr),
        };
        let seeder = peer.seeder;
        // The same peer id moving to the other kind (rare) leaves its old entry.
        let old = own.insert(id, peer).or_else(|| other.swap_remove(&id));
        if let Some(old) = old {
            self.seeders -= u32::from(old.seeder);
        }
        self.seeders += u32::from(seeder);
    }

    fn remove(&mut self, id: &PeerId) {
        let old = self
            .addr
            .swap_remove(id)
            .or_else(|| self.ws.swap_remove(id));
        if let Some(old) = old {
            self.seeders -= u32::from(old.seeder);
        }
        self.partners.remove(id);
        self.nudged.remove(id);
        self.lonely.swap_remove(id);
        self.offered_lonely.remove(id);
    }

    fn expire(&mut self, now: Instant, expiry: &Expiry) {
        let live = |_: &PeerId, p: &mut Peer| now.saturating_duration_since(p.seen) < expiry.of(p);
        self.addr.retain(live);
        self.ws.retain(live);
        let ws = &self.ws;
        self.partners.retain(|id, _| ws.contains_key(id));
        self.nudged.retain(|id, _| ws.contains_key(id));
        self.lonely.retain(|id| ws.contains_key(id));
        self.offered_lonely.retain(|id, _| ws.contains_key(id));
        self.seeders = self.peers().filter(|p| p.seeder).count() as u32;
    }

    /// A browser's partners that are still in the swarm.
    fn live_partners(&self, id: &PeerId) -> usize {
        self.partners.get(id).map_or(0, |list| {
            list.iter().filter(|(p, _)| self.ws.contains_key(p)).count()
        })
    }

    /// How many more partners browser `id` is to be offered: up to [`ENOUGH_PARTNERS`], or
    /// every other browser of a smaller swarm.
    fn lacking(&self, id: &PeerId) -> usize {
        let others = self.ws.len() - usize::from(self.ws.contains_key(id));
        ENOUGH_PARTNERS
            .min(others)
            .saturating_sub(self.live_partners(id))
    }

    /// Whether `b` is one of browser `a`'s partners.
    fn paired(&self, a: &PeerId, b: &PeerId) -> bool {
        self.partners
            .get(a)
            .is_some_and(|list| list.iter().any(|(p, _)| p == b))
    }

    /// Browser `id`'s partner paired longest ago, if that was `trust` or more before `now`
    /// and it is still in the swarm; the pairing counts as made `now`, on both sides, so the
    /// next settled announce of either picks another.
    fn recheck(
        &mut self,
        id: &PeerId,
        now: Instant,
        trust: Duration,
    ) -> Option<(PeerId, Endpoint)> {
        let ws = &self.ws;
        let (other, _) = self
            .partners
            .get(id)?
            .iter()
            .filter(|(p, _)| ws.contains_key(p))
            .min_by_key(|(_, when)| *when)
            .filter(|(_, when)| now.saturating_duration_since(*when) >= trust)
            .copied()?;
        let endpoint = ws.get(&other)?.endpoint;
        self.pair(*id, other, now);
        Some((other, endpoint))
    }

    /// Forgets browser `id`'s pairings, both ways: it starts anew (p2p-media-loader keeps
    /// its peer id when it makes a new stream loader, and the old one's connections are
    /// closed).
    fn unpair(&mut self, id: &PeerId) {
        if let Some(list) = self.partners.remove(id) {
            self.forget_partner(list.into_iter().map(|(other, _)| other), id);
        }
    }

    /// Takes browser `id` off the partner lists of `others` (the other side of pairings
    /// forgotten on `id`'s side).
    fn forget_partner(&mut self, others: impl IntoIterator<Item = PeerId>, id: &PeerId) {
        for other in others {
            if let Some(theirs) = self.partners.get_mut(&other) {
                theirs.retain(|(p, _)| p != id);
            }
        }
    }

    /// Whether browser `id` is in the swarm and reached through WebSocket connection `conn`.
    fn reached_through(&self, id: &PeerId, conn: ConnId) -> bool {
        self.ws
            .get(id)
            .is_some_and(|p| p.endpoint == Endpoint::Ws(conn))
    }

    /// Browser `me` is connected to the browsers in `connected`: its pairings with others,
    /// made [`PAIRING_GRACE`] or longer before `now`, failed and are forgotten on both
    /// sides. A name that is no pairing is passed over: a page cannot make itself anyone's
    /// partner. Returns whether to ask `me` to announce again now.
    fn reported(&mut self, me: &PeerId, connected: &[PeerId], now: Instant) -> bool {
        let ws = &self.ws;
        let mut failed = Vec::new();
        if let Some(list) = self.partners.get_mut(me) {
            list.retain(|(p, when)| {
                let keep = ws.contains_key(p)
                    && (connected.contains(p)
                        || now.saturating_duration_since(*when) < PAIRING_GRACE);
                if !keep {
                    failed.push(*p);
                }
                keep
            });
        }
        self.forget_partner(failed, me);
        // Its own count too: a peer it reached through a pairing the table has forgotten
        // (its oldest, beyond MAX_PARTNERS) is a peer all the same.
        let peers = self.live_partners(me).max(connected.len());
        if peers > LONELY || self.lacking(me) == 0 {
            self.nudged.remove(me);
            self.lonely.swap_remove(me);
            return false;
        }
        let Some(peer) = self.ws.get(me) else {
            return false;
        };
        let rested = self
            .offered_lonely
            .get(me)
            .is_none_or(|at| now.saturating_duration_since(*at) >= PAIRING_GRACE);
        if rested {
            self.lonely.insert(*me);
        }
        // Its last announce's offers, or another's offer to it, may still connect.
        let announced_lately = now.saturating_duration_since(peer.seen) < PAIRING_GRACE;
        let paired_lately = self.partners.get(me).is_some_and(|list| {
            list.iter()
                .any(|(_, when)| now.saturating_duration_since(*when) < PAIRING_GRACE)
        });
        let backing_off = self.nudged.get(me).is_some_and(|(at, times)| {
            let wait = NUDGE_FIRST
                .saturating_mul(1 << times.saturating_sub(1).min(8))
                .min(NUDGE_MAX);
            now.saturating_duration_since(*at) < wait
        });
        let spaced = self
            .last_nudge
            .is_none_or(|at| now.saturating_duration_since(at) >= NUDGE_SPACING);
        if announced_lately || paired_lately || backing_off || !spaced {
            return false;
        }
        let times = self.nudged.get(me).map_or(0, |(_, t)| *t);
        self.nudged.insert(*me, (now, times.saturating_add(1)));
        self.last_nudge = Some(now);
        true
    }

    /// Records that browsers `a` and `b` were paired (an answer went between them).
    fn pair(&mut self, a: PeerId, b: PeerId, now: Instant) {
        if a == b || !self.ws.contains_key(&a) || !self.ws.contains_key(&b) {
            return;
        }
        for (one, other) in [(a, b), (b, a)] {
            let ws = &self.ws;
            let list = self.partners.entry(one).or_default();
            list.retain(|(p, _)| ws.contains_key(p) && *p != other);
            if list.len() == MAX_PARTNERS {
                list.remove(0);
            }
            list.push((other, now));
        }
    }

    fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.addr.values().chain(self.ws.values())
    }

    /// The stalest peer, to make room in a full swarm (a scan, but only when full).
    fn stalest(&self) -> Option<PeerId> {
        self.addr
            .iter()
            .chain(self.ws.iter())
            .min_by_key(|(_, p)| p.seen)
            .map(|(k, _)| *k)
    }

    /// Counts from the maintained totals (expired peers included until the sweep).
    fn totals(&self) -> SwarmCounts {
        SwarmCounts {
            complete: self.seeders,
            incomplete: self.len() as u32 - self.seeders,
            downloaded: self.downloads.iter().sum(),
        }
    }

    /// Up to `n` random peers of `kind`'s kind, other than those `skip` names (see [`walk`]).
    fn pick(
        &self,
        n: usize,
        skip: impl Fn(&PeerId) -> bool,
        kind: &Endpoint,
    ) -> Vec<(PeerId, Endpoint)> {
        let peers = self.kind(kind);
        walk(peers.len(), n, |i| {
            let (id, p) = peers.get_index(i)?;
            (!skip(id)).then_some((*id, p.endpoint))
        })
    }

    /// Up to `n` lonely browsers, other than `me` and its partners, taken off the lonely
    /// list at `now`: one offer each until they say again that they are lonely.
    fn pick_lonely(&mut self, n: usize, me: &PeerId, now: Instant) -> Vec<(PeerId, Endpoint)> {
        let out = walk(self.lonely.len(), n, |i| {
            let id = self.lonely.get_index(i)?;
            if id == me || self.paired(me, id) {
                return None;
            }
            Some((*id, self.ws.get(id)?.endpoint))
        });
        for (id, _) in &out {
            self.lonely.swap_remove(id);
            self.offered_lonely.insert(*id, now);
        }
        out
    }

    /// Counts the peers seen within `expiry` of `now`, for those that `pick` accepts.
    fn counts(&self, now: Instant, expiry: &Expiry, pick: impl Fn(Proto) -> bool) -> SwarmCounts {
        let mut c = SwarmCounts::default();
        for p in self.peers() {
            if now.saturating_duration_since(p.seen) < expiry.of(p) && pick(p.proto) {
                if p.seeder {
                    c.complete += 1;
                } else {
                    c.incomplete += 1;
                }
            }
        }
        c.downloaded = Proto::ALL
            .iter()
            .filter(|p| pick(**p))
            .map(|p| self.downloads[p.index()])
            .sum();
        c
    }
}

/// Up to `n` of what `take` gives for the indices `0..len`, each index tried at most once.
///
/// Walks the indices from a random start with a random stride coprime to `len`, so a pick
/// costs O(n) whatever `len` is, and each caller gets a different mix. (Drawing a uniform
/// subset needs either a set of the drawn indices or an index vector of the whole swarm;
/// the latter was a tenth of the UDP tracker's time.)
fn walk<T>(len: usize, n: usize, mut take: impl FnMut(usize) -> Option<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(n.min(len));
    if n == 0 || len == 0 {
        return out;
    }
    let stride = coprime_stride(len);
    let mut i = fastrand::usize(..len);
    for _ in 0..len {
        if let Some(t) = take(i) {
            out.push(t);
            if out.len() == n {
                break;
            }
        }
        i = (i + stride) % len;
    }
    out
}

/// A random step in `1..len` that shares no factor with `len` (1 for tiny swarms or when
/// a few draws miss), so stepping by it from any start visits every index once.
fn coprime_stride(len: usize) -> usize {
    fn gcd(mut a: usize, mut b: usize) -> usize {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    }
    if len <= 2 {
        return 1;
    }
    (0..8)
        .map(|_| fastrand::usize(1..len))
        .find(|s| gcd(*s, len) == 1)
        .unwrap_or(1)
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
    /// A browser's re-announce that lacks no partner: it may announce seldom.
    pub settled: bool,
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
    /// Settled browsers' announces offered again to an old partner (see [`Expiry::pairing`]).
    pub rechecks: u64,
    /// Browsers' reports of their peers taken (see [`PeerTable::report_peers`]).
    pub reports: u64,
    /// Lonely browsers asked to announce again (see [`PeerTable::report_peers`]).
    pub nudges: u64,
    /// Offers sent to lonely browsers first (see [`LONELY_PER_BATCH`]).
    pub lonely_offered: u64,
}

pub struct PeerTable {
    swarms: Mutex<HashMap<InfoHash, Swarm>>,
    expiry: Expiry,
    max_swarms: usize,
    max_peers: usize,
    rechecks: AtomicU64,
    reports: AtomicU64,
    nudges: AtomicU64,
    lonely_offered: AtomicU64,
}

impl PeerTable {
    pub fn new(expiry: Expiry, max_swarms: usize, max_peers: usize) -> Self {
        Self {
            swarms: Mutex::default(),
            expiry,
            max_swarms,
            max_peers,
            rechecks: AtomicU64::new(0),
            reports: AtomicU64::new(0),
            nudges: AtomicU64::new(0),
            lonely_offered: AtomicU64::new(0),
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
                    settled: false,
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
            let known = swarm.get(&a.peer_id).map(|p| p.seeder);
            if a.event == Event::Completed && known == Some(false) {
                swarm.downloads[a.proto.index()] += 1;
            }
            if known.is_none() && swarm.len() >= self.max_peers {
                swarm.expire(now, &self.expiry);
                if swarm.len() >= self.max_peers {
                    if let Some(oldest) = swarm.stalest() {
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
        let browser = matches!(a.endpoint, Endpoint::Ws(_));
        if browser && a.event == Event::Started {
            swarm.unpair(&a.peer_id);
        }
        // A browser's re-announce: offers only for the partners it lacks, to browsers it
        // is not paired with.
        let lacking = (browser && matches!(a.event, Event::None | Event::Completed))
            .then(|| swarm.lacking(&a.peer_id));
        let me = &a.peer_id;
        let want = lacking.map_or(a.numwant, |l| a.numwant.min(l));
        let mut peers = if browser && a.event != Event::Stopped {
            swarm.pick_lonely(want.min(LONELY_PER_BATCH), me, now)
        } else {
            Vec::new()
        };
        self.lonely_offered
            .fetch_add(peers.len() as u64, Ordering::Relaxed);
        // Seeders get seeders too: a magnet client announces left=0 before it knows the
        // size, and needs a peer to fetch the metadata from.
        let rest = swarm.pick(
            want - peers.len(),
            |id| {
                id == me
                    || (lacking.is_some() && swarm.paired(me, id))
                    || peers.iter().any(|(p, _)| p == id)
            },
            &a.endpoint,
        );
        peers.extend(rest);
        if lacking == Some(0) && a.numwant > 0 {
            if let Some(old) = swarm.recheck(me, now, self.expiry.pairing) {
                peers.push(old);
                self.rechecks.fetch_add(1, Ordering::Relaxed);
            }
        }
        let counts = swarm.totals();
        if swarm.is_unused() {
            swarms.remove(&a.info_hash);
        }
        Ok(AnnounceReply {
            peers,
            counts,
            settled: lacking == Some(0),
        })
    }

    pub fn counts(&self, info_hash: &InfoHash, now: Instant) -> SwarmCounts {
        self.lock()
            .get(info_hash)
            .map(|s| s.counts(now, &self.expiry, |_| true))
            .unwrap_or_default()
    }

    /// Browsers (WebSocket peers) of a swarm seen within the expiry.
    pub fn ws_peers(&self, info_hash: &InfoHash, now: Instant) -> usize {
        self.lock().get(info_hash).map_or(0, |s| {
            s.ws.values()
                .filter(|p| now.saturating_duration_since(p.seen) < self.expiry.ws)
                .count()
        })
    }

    /// Where browser `from`'s answer to browser `to` goes; the two count as partners.
    pub fn route_answer(
        &self,
        info_hash: &InfoHash,
        from: &PeerId,
        to: &PeerId,
        now: Instant,
    ) -> Option<Endpoint> {
        let mut swarms = self.lock();
        let swarm = swarms.get_mut(info_hash)?;
        let endpoint = swarm.get(to)?.endpoint;
        swarm.pair(*from, *to, now);
        Some(endpoint)
    }

    /// Browser `me`, announced through WebSocket connection `conn`, is connected to the
    /// browsers in `connected` (its own word; see [`Swarm::reported`]). Returns whether to
    /// ask it to announce again now: it is lonely.
    pub fn report_peers(
        &self,
        info_hash: &InfoHash,
        me: &PeerId,
        conn: ConnId,
        connected: &[PeerId],
        now: Instant,
    ) -> bool {
        let mut swarms = self.lock();
        let Some(swarm) = swarms.get_mut(info_hash) else {
            return false;
        };
        if !swarm.reached_through(me, conn) {
            return false;
        }
        self.reports.fetch_add(1, Ordering::Relaxed);
        let nudge = swarm.reported(me, connected, now);
        if nudge {
            self.nudges.fetch_add(1, Ordering::Relaxed);
        }
        nudge
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
            if s.reached_through(pid, conn) {
                s.remove(pid);
            }
            if s.is_unused() {
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
                http: s.counts(now, &self.expiry, |p| p == Proto::Http),
                udp: s.counts(now, &self.expiry, |p| p == Proto::Udp),
                ws: s.counts(now, &self.expiry, |p| p == Proto::Ws),
            })
            .collect();
        out.sort_by(|a, b| a.info_hash.cmp(&b.info_hash));
        out
    }

    pub fn stats(&self) -> TableStats {
        let swarms = self.lock();
        TableStats {
            swarms: swarms.len(),
            peers: swarms.values().map(Swarm::len).sum(),
            rechecks: self.rechecks.load(Ordering::Relaxed),
            reports: self.reports.load(Ordering::Relaxed),
            nudges: self.nudges.load(Ordering::Relaxed),
            lonely_offered: self.lonely_offered.load(Ordering::Relaxed),
        }
    }

    /// Drops expired peers and empty swarms; run now and then so idle swarms free memory.
    pub fn sweep(&self, now: Instant) {
        self.lock().retain(|_, s| {
            s.expire(now, &self.expiry);
            !s.is_unused()
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

    fn expiry() -> Expiry {
        Expiry {
            addr: Duration::from_secs(60),
            ws: Duration::from_secs(60),
            pairing: Duration::from_secs(600),
        }
    }

    fn table() -> PeerTable {
        PeerTable::new(expiry(), 100, 100)
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
        let t = PeerTable::new(expiry(), 1, 10);
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
        assert_eq!(
            t.route_answer(&[7; 20], &[3; 20], &[2; 20], now),
            Some(Endpoint::Ws(42))
        );
        let rep = t.report(now);
        assert_eq!(rep[0].ws.incomplete, 1);
        assert_eq!(rep[0].http.complete, 1);
        t.remove_conn(42, &[([7; 20], [2; 20]), ([9; 20], [2; 20])]);
        assert_eq!(t.route_answer(&[7; 20], &[3; 20], &[2; 20], now), None);
    }

    fn browser(peer: u8, event: Event) -> Announce {
        Announce {
            proto: Proto::Ws,
            endpoint: Endpoint::Ws(u64::from(peer)),
            numwant: 5,
            ..ann(peer, 5, event)
        }
    }

    #[test]
    fn a_browser_with_enough_partners_gets_no_offers_relayed_until_some_leave() {
        let t = table();
        let now = Instant::now();
        let offers = |p: u8, e: Event| t.announce(&browser(p, e), now).unwrap().peers.len();
        for p in 1..=20 {
            offers(p, Event::Started);
        }
        // A first announce gets all it asks, whatever it has.
        assert_eq!(offers(1, Event::Started), 5);
        for p in 2..=7 {
            assert_eq!(
                t.route_answer(&[7; 20], &[p; 20], &[1; 20], now),
                Some(Endpoint::Ws(1))
            );
        }
        // The same pair again, or an answer to itself, counts once or not at all.
        t.route_answer(&[7; 20], &[7; 20], &[1; 20], now);
        t.route_answer(&[7; 20], &[1; 20], &[1; 20], now);
        // Six partners: two offers of five go out; and the partner's own count rose too.
        assert_eq!(offers(1, Event::None), 2);
        assert_eq!(offers(2, Event::None), 5);
        t.route_answer(&[7; 20], &[1; 20], &[8; 20], now);
        t.route_answer(&[7; 20], &[9; 20], &[1; 20], now);
        assert_eq!(offers(1, Event::None), 0);
        // Partners that leave, by stopping or by closing their connection, are missed.
        offers(2, Event::Stopped);
        t.remove_conn(3, &[([7; 20], [3; 20])]);
        assert_eq!(offers(1, Event::None), 2);
        // No answer to a peer that is not there.
        assert_eq!(t.route_answer(&[7; 20], &[1; 20], &[2; 20], now), None);
    }

    #[test]
    fn re_announces_skip_partners_and_a_browser_lacking_none_is_settled() {
        let t = table();
        let now = Instant::now();
        let re = |p: u8| t.announce(&browser(p, Event::None), now).unwrap();
        // Four browsers: each may have every other as a partner (three), not eight.
        for p in 1..=4 {
            t.announce(&browser(p, Event::Started), now).unwrap();
        }
        t.route_answer(&[7; 20], &[2; 20], &[1; 20], now);
        t.route_answer(&[7; 20], &[3; 20], &[1; 20], now);
        for _ in 0..20 {
            let r = re(1);
            assert_eq!(r.peers, vec![([4; 20], Endpoint::Ws(4))]);
            assert!(!r.settled);
        }
        t.route_answer(&[7; 20], &[4; 20], &[1; 20], now);
        let r = re(1);
        assert!(r.peers.is_empty() && r.settled);
        // A first announce is never settled, and it starts its browser anew: its old
        // pairings are forgotten on both sides.
        let first = t.announce(&browser(1, Event::Started), now).unwrap();
        assert_eq!(first.peers.len(), 3);
        assert!(!first.settled);
        let r = re(2);
        assert_eq!(r.peers.len(), 3);
        assert!(!r.settled);
        // A lone browser has nobody to be offered: settled.
        let mut other = browser(9, Event::Started);
        other.info_hash = [9; 20];
        t.announce(&other, now).unwrap();
        other.event = Event::None;
        assert!(t.announce(&other, now).unwrap().settled);
    }

    #[test]
    fn a_settled_browser_offers_again_to_its_oldest_pairing_once_that_is_no_longer_trusted() {
        let t = PeerTable::new(
            Expiry {
                addr: Duration::from_secs(60),
                ws: Duration::from_secs(6000),
                pairing: Duration::from_secs(600),
            },
            10,
            10,
        );
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        let re = |p: u8, secs: u64| t.announce(&browser(p, Event::None), at(secs)).unwrap();
        let ids = |r: &AnnounceReply| r.peers.iter().map(|(id, _)| id[0]).collect::<Vec<_>>();
        // Two browsers, paired once: nobody else could ever be offered to either.
        t.announce(&browser(1, Event::Started), t0).unwrap();
        t.announce(&browser(2, Event::Started), t0).unwrap();
        t.route_answer(&[7; 20], &[2; 20], &[1; 20], t0);
        let r = re(1, 10);
        assert!(r.peers.is_empty() && r.settled);
        // Past the trust, a settled announce offers the pair again (its connection may have
        // failed), and stays settled.
        let r = re(1, 600);
        assert_eq!(ids(&r), [2]);
        assert!(r.settled);
        // Offered again counts as paired anew, on both sides.
        assert!(re(1, 700).peers.is_empty());
        assert!(re(2, 700).peers.is_empty());
        assert_eq!(ids(&re(2, 1200)), [1]);
        // A browser that sends no offers gets none relayed.
        let mut none = browser(1, Event::None);
        none.numwant = 0;
        assert!(t.announce(&none, at(5000)).unwrap().peers.is_empty());
        // One pairing per announce, the oldest first; a partner that left is never offered.
        t.announce(&browser(3, Event::Started), at(5000)).unwrap();
        t.announce(&browser(4, Event::Started), at(5000)).unwrap();
        t.route_answer(&[7; 20], &[1; 20], &[3; 20], at(5100));
        t.route_answer(&[7; 20], &[4; 20], &[1; 20], at(5200));
        assert_eq!(ids(&re(1, 5300)), [2]);
        assert!(re(1, 5600).peers.is_empty());
        assert_eq!(ids(&re(1, 5700)), [3]);
        t.announce(&browser(4, Event::Stopped), at(5800)).unwrap();
        let r = re(1, 5850);
        assert!(r.settled && r.peers.is_empty(), "{r:?}");
        assert_eq!(ids(&re(1, 5900)), [2]);
        assert_eq!(t.stats().rechecks, 5);
    }

    #[test]
    fn browsers_and_clients_expire_on_their_own_clocks() {
        let t = PeerTable::new(
            Expiry {
                addr: Duration::from_secs(60),
                ws: Duration::from_secs(600),
                pairing: Duration::from_secs(600),
            },
            10,
            10,
        );
        let now = Instant::now();
        t.announce(&ann(1, 0, Event::Started), now).unwrap();
        t.announce(&browser(2, Event::Started), now).unwrap();
        let later = now + Duration::from_secs(120);
        let c = t.counts(&[7; 20], later);
        assert_eq!((c.complete, c.incomplete), (0, 1));
        assert_eq!(t.ws_peers(&[7; 20], later), 1);
        t.sweep(later);
        assert_eq!(t.stats().peers, 1);
        t.sweep(now + Duration::from_secs(601));
        assert_eq!(t.stats().peers, 0);
    }

    #[test]
    fn picks_are_distinct_and_of_the_right_kind_in_a_mixed_swarm() {
        let t = PeerTable::new(expiry(), 10, 10_000);
        let now = Instant::now();
        // Many browsers, few BitTorrent clients: a client still gets every client.
        for i in 0..2000u32 {
            let mut a = ann(0, 5, Event::Started);
            a.peer_id[..4].copy_from_slice(&i.to_be_bytes());
            a.proto = Proto::Ws;
            a.endpoint = Endpoint::Ws(u64::from(i));
            t.announce(&a, now).unwrap();
        }
        for p in 1..=5 {
            t.announce(&ann(p, 0, Event::Started), now).unwrap();
        }
        let r = t.announce(&ann(6, 5, Event::Started), now).unwrap();
        assert_eq!(r.peers.len(), 5);
        assert!(r.peers.iter().all(|(_, e)| matches!(e, Endpoint::Addr(_))));
        assert_eq!(r.counts.complete + r.counts.incomplete, 2006);
        // A browser gets 50 different browsers, never itself.
        for _ in 0..100 {
            let mut a = ann(0, 5, Event::Started);
            a.proto = Proto::Ws;
            a.endpoint = Endpoint::Ws(0);
            let r = t.announce(&a, now).unwrap();
            let mut ids: Vec<_> = r.peers.iter().map(|(id, _)| *id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 50);
            assert!(!ids.contains(&a.peer_id));
        }
    }

    /// Browser `p` of swarm 7 (on connection `p`) reports the browsers `peers`, `ms` after
    /// `t0`; whether it is asked to announce again.
    fn reporter(t: &PeerTable, t0: Instant) -> impl Fn(u8, &[u8], u64) -> bool + '_ {
        move |p, peers, ms| {
            let ids: Vec<PeerId> = peers.iter().map(|&b| [b; 20]).collect();
            let at = t0 + Duration::from_millis(ms);
            t.report_peers(&[7; 20], &[p; 20], u64::from(p), &ids, at)
        }
    }

    #[test]
    fn a_page_that_says_its_pairings_failed_is_offered_anew_and_asked_to_announce_soon() {
        let t = table();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let report = reporter(&t, t0);
        let partners = |p: u8| t.lock()[&[7; 20]].live_partners(&[p; 20]);
        for p in 1..=12 {
            t.announce(&browser(p, Event::Started), t0).unwrap();
        }
        // Browser 1 is paired with 2, 3 and 4 at the start, and with 5 at 10 s.
        for p in 2..=4 {
            t.route_answer(&[7; 20], &[p; 20], &[1; 20], t0);
        }
        t.route_answer(&[7; 20], &[1; 20], &[5; 20], at(10_000));
        // Within the grace nothing is taken as failed, and a page with partners connecting
        // is not lonely.
        assert!(!report(1, &[], 5_000));
        assert_eq!(partners(1), 4);
        // Past it, the pairings it does not name failed, on both sides; the one still
        // connecting stays. Connected to 2 and with 5 pending it is not lonely.
        assert!(!report(1, &[2], 16_000));
        assert_eq!(partners(1), 2);
        assert_eq!((partners(3), partners(4), partners(2)), (0, 0, 1));
        // A name that is no pairing makes nobody a partner.
        assert!(!report(1, &[2, 9], 16_500));
        assert_eq!((partners(1), partners(9)), (2, 0));
        // 5 never connected: one peer left, lonely, and its last announce is older than the
        // grace, so it is asked to announce again; its re-announce is offered to five
        // browsers that are not its partner.
        assert!(report(1, &[2], 26_000));
        assert_eq!(t.stats().nudges, 1);
        let r = t.announce(&browser(1, Event::None), at(27_000)).unwrap();
        assert_eq!(r.peers.len(), 5);
        assert!(!r.peers.iter().any(|(id, _)| id == &[2; 20]));
        // Not again while its new offers have their grace (15 s from its announce), nor
        // before the backoff (15 s, then 30 s while it stays lonely).
        assert!(!report(1, &[2], 35_000));
        assert!(!report(1, &[], 41_000));
        assert!(report(1, &[], 42_000));
        assert!(!report(1, &[], 71_000));
        assert!(report(1, &[], 72_000));
        // Two lonely pages of one swarm are asked half a second apart, not together.
        t.announce(&browser(6, Event::None), at(60_000)).unwrap();
        t.announce(&browser(7, Event::None), at(60_000)).unwrap();
        assert!(report(6, &[], 80_000));
        assert!(!report(7, &[], 80_100));
        assert!(report(7, &[], 80_600));
        // Two peers by its own word, though the table knows one as its partner: not lonely.
        t.route_answer(&[7; 20], &[10; 20], &[7; 20], at(81_000));
        assert!(!report(7, &[10, 11], 100_000));
        // Connected again, a page's backoff starts over.
        t.route_answer(&[7; 20], &[8; 20], &[6; 20], at(81_000));
        t.route_answer(&[7; 20], &[9; 20], &[6; 20], at(81_000));
        assert!(!report(6, &[8, 9], 100_000));
        assert!(report(6, &[], 130_000));
        // A report through another socket than the browser's, or for a browser not in the
        // swarm, changes nothing.
        assert!(!t.report_peers(&[7; 20], &[10; 20], 99, &[], at(200_000)));
        assert!(!report(42, &[], 200_000));
        assert!(!t.report_peers(&[8; 20], &[10; 20], 10, &[], at(200_000)));
        assert_eq!(t.stats().nudges, 6);
        // Every report above but the three refused ones was taken.
        assert_eq!(t.stats().reports, 15);
    }

    #[test]
    fn newcomers_offers_go_to_lonely_pages_first_and_spare_them_the_ask() {
        let t = table();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let report = reporter(&t, t0);
        let ids = |r: &AnnounceReply| r.peers.iter().map(|(id, _)| id[0]).collect::<Vec<_>>();
        for p in 1..=20 {
            t.announce(&browser(p, Event::Started), t0).unwrap();
        }
        // 1, 2 and 3 say they have nobody (past their announce's grace, so 1 is asked; 2
        // and 3 are spaced after it in this swarm); 4 has two peers and is not lonely.
        t.route_answer(&[7; 20], &[5; 20], &[4; 20], t0);
        t.route_answer(&[7; 20], &[6; 20], &[4; 20], t0);
        assert!(report(1, &[], 20_000));
        assert!(!report(2, &[], 20_100));
        assert!(!report(3, &[], 20_200));
        assert!(!report(4, &[5, 6], 20_300));
        // A newcomer's batch of five: lonely pages first, two at most, then others at
        // random, all distinct. A lonely page is offered once until it says again that it
        // is lonely: the second newcomer finds one left.
        let mut offered = Vec::new();
        for (p, first) in [(21, 2), (22, 1)] {
            let r = t.announce(&browser(p, Event::Started), at(21_000)).unwrap();
            let mut got = ids(&r);
            assert_eq!(got.len(), 5);
            offered.extend_from_slice(&got[..first]);
            got.sort_unstable();
            got.dedup();
            assert_eq!(got.len(), 5, "{got:?}");
        }
        offered.sort_unstable();
        assert_eq!(offered, [1, 2, 3], "each lonely page offered once, first");
        assert_eq!(t.stats().lonely_offered, 3);
        // A page that says it is lonely again at once is not listed again before the grace
        // is over: saying so over and over does not bring it every newcomer's offer.
        assert!(!report(1, &[], 22_000));
        t.announce(&browser(25, Event::Started), at(22_500))
            .unwrap();
        assert_eq!(t.stats().lonely_offered, 3);
        // Page 2 answered newcomer 21: while that pairing is young it is not asked, though
        // it still has one peer at most; once the grace is over and it failed, it is.
        t.route_answer(&[7; 20], &[2; 20], &[21; 20], at(21_500));
        assert!(!report(2, &[21], 30_000));
        assert!(!report(2, &[], 36_000));
        assert!(report(2, &[], 37_000));
        // Lonely again by its reports, so the next newcomer's offer goes to it first.
        let r = t
            .announce(&browser(23, Event::Started), at(38_000))
            .unwrap();
        assert_eq!(ids(&r)[0], 2);
        // A lonely page that leaves is no longer offered.
        report(3, &[], 39_000);
        t.announce(&browser(3, Event::Stopped), at(39_100)).unwrap();
        let r = t
            .announce(&browser(24, Event::Started), at(40_000))
            .unwrap();
        assert!(!ids(&r).contains(&3));
        assert_eq!(t.stats().lonely_offered, 4);
    }
}
