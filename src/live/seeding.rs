//! Who gets a new live segment from the station, and who must get it from other listeners.
//!
//! Listen pages share the Opus segments peer-to-peer (p2p-media-loader), but left to itself
//! each page fetches a segment nobody has announced yet over HTTP now and then, and several do
//! so at about the same moment: the station sent 1.2 to 2.1 copies of every segment whatever
//! the audience. Here the station seeds instead: a few listeners, the **seeders**, fetch each
//! new segment from it as soon as it exists and everyone else takes it from peers.
//!
//! A listen page says three things with each segment request (the query of its HTTP loader):
//! its session token, how many seconds before it must play the segment (`due`), and whether it
//! uploads to other listeners (`up`, with the bytes it has passed on). Answers:
//!
//! - a request without `due` (a native HLS player, a page with peer-to-peer off) or one due
//!   within [`URGENT`] is always served: a listener never stalls for this policy;
//! - an early request from a seeder is served;
//! - an early request for a segment that no one has taken from the station [`GRACE`] after it
//!   was made is served (the seeders are late, gone, or there are none): the first asker
//!   carries it to the others;
//! - any other early request is refused, and the page waits for its peers (it asks again when
//!   the segment becomes urgent).
//!
//! Seeders are the listeners that upload, ranked by what they have passed on to others and
//! then by how long they have been listening (staying power): one per [`PER_SEEDER`] sharing
//! listeners, at least one, and past [`LINEAR_SEEDERS`] one more each time the audience
//! doubles. A seeder keeps its place until it leaves (or spreads too slowly,
//! below). A page learns its role from the answer to any of its requests ([`Role`]).
//!
//! A seeder must also keep up. At the start nobody has passed anything on, so the first
//! page to come seeds, wherever it is: in the lab it was once a home with a 0.71 Mbit/s
//! uplink, full for the whole arrival of 50 listeners (benches/README.md, "The thin uplink
//! again"), and its segments reached the others only at their deadlines, from the station.
//! So each seeder is judged by how its segments spread: a segment it took early that
//! [`LATE_LIMIT`] or more pages (each counted once, however often it asked) still took from
//! the station at their deadline spread too slowly, and after [`SLOW_RUN`] such segments in
//! a row the seeder gives its place to its stand-in and may not seed again for
//! [`SLOW_FOR`]. One seeder at most is moved aside every [`DEMOTE_EVERY`]: when lateness is
//! not the seeders' doing (pages stranded without peers), they are not all thrown out.
//!
//! A seeder's place must not stay empty: while it is, no one takes the new segments early,
//! and every listener fetches them from the station at its deadline. So each seeder has a
//! **stand-in**, the next in rank, ready to take its place. A page that closes says so
//! ([`Seeding::left`], its last request), and its stand-in takes over at once; one that just
//! goes silent is replaced after [`SEED_SILENCE`].
//!
//! A page learns its role without asking for it: its tracker WebSocket, which every sharing
//! page holds anyway, is tied to its session ([`Seeding::attach`]), and the role goes out on
//! it the moment it changes. While that socket is open the page is here, however seldom it
//! asks the station for anything (a page with the socket asks for a playlist every 5
//! minutes, seeders included: they work out the new segments' names from the clock, as the
//! others do, and set that clock by each segment's answer); when it closes, the page has
//! gone. A seeder with the socket open that takes
//! no segment for [`SEED_IDLE`] has stopped seeding all the same (a page in a background
//! tab), and its stand-in takes over. A page without the socket learns its role
//! from its answers, and a seeder or stand-in among them asks for every playlist (every 2 s)
//! to hear it at once; the others ask every 30 s.
//!
//! Everything here comes from listeners: the tables are bounded and a made-up session is
//! simply never a seeder.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

use tokio::sync::watch;

/// A request due within this many seconds is served whatever else holds: the page's
/// high-demand window (3 s, `listen.js`) and one second to spare.
pub const URGENT: f32 = 4.0;
/// How long a new segment waits for its seeders before anyone asking may carry it: a seeder
/// sees a new segment at its next playlist, within a target duration (2 s) and a round trip.
pub const GRACE: Duration = Duration::from_secs(3);
/// Sharing listeners per seeder in a small audience. A 2 s segment of 128 kbit/s reaches a
/// listener from a peer in well under a second on a home uplink, and every listener that has
/// it passes it on, so the copies double about every second: one seed reaches a few dozen
/// listeners long before they play it (they play about 10 s behind the live edge). More
/// seeders cover for ones that leave or upload slowly.
pub const PER_SEEDER: usize = 30;
/// Past this many seeders, one more each time the audience doubles. Copies double about
/// every second, so twice the audience takes the seeds' copies one second more to reach, not
/// twice the seeds: a seeder per 30 would be 26 copies of every segment at 1,000 listeners
/// (3.4 Mbit/s of the station's uplink), this is 7. The extra one per doubling is a spare
/// for seeders that leave or spread slowly.
const LINEAR_SEEDERS: usize = 3;
/// A listener not heard from for this long is gone (unless its tracker socket is open). Pages
/// that take everything from peers ask the station for their playlist about every 30 s
/// (`listen.js`).
const GONE: Duration = Duration::from_secs(75);
/// A seeder or stand-in without a tracker socket asks for its playlist every 2 s: one not
/// heard from for this long (two playlists missed) has left without saying so, and another
/// takes its place (it is not chosen again until it is heard from). A seeder wrongly thought
/// gone costs one segment taken twice early, while both think they seed.
const SEED_SILENCE: Duration = Duration::from_secs(4);
/// A seeder takes each new segment early, one every 2 s: one that took none for this long
/// has stopped seeding, whatever its socket says.
const SEED_IDLE: Duration = Duration::from_secs(8);
/// Tracker sockets tied to sessions at once (one per sharing page; the tracker itself holds
/// at most `tracker.max_ws_connections`).
const MAX_ATTACHED: usize = 50_000;
/// Listeners remembered at once; past this, new ones are not ranked until old ones go.
const MAX_LISTENERS: usize = 50_000;
/// Segments remembered (the HLS window and a little more).
const MAX_SEGMENTS: usize = 32;
/// The seeders are ranked again at most this often (an early request is cheap to answer).
const RERANK: Duration = Duration::from_secs(1);
/// A segment is judged this long after it was made: pages play about 10 s behind the live
/// edge and ask the station at their deadline, 3 s before playing.
const JUDGE_AFTER: Duration = Duration::from_secs(12);
/// Pages taking one segment from the station at their deadline that say its seeder spread
/// it too slowly: an eighth of the sharing pages, and at least this many.
const LATE_LIMIT: usize = 3;
/// Pages remembered per segment as taking it at their deadline (past this, the segment
/// spread too slowly whatever the audience).
const MAX_LATE: usize = 256;
/// Segments in a row spread too slowly before a seeder gives its place away.
const SLOW_RUN: u8 = 3;
/// How long a seeder moved aside for spreading too slowly may not seed again.
const SLOW_FOR: Duration = Duration::from_secs(120);
/// One seeder at most is moved aside this often.
const DEMOTE_EVERY: Duration = Duration::from_secs(20);

/// What a listen page said with a request.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ask {
    /// The page's session (see `sessions`), if the token was one of ours.
    pub session: Option<u64>,
    /// Seconds until the page plays the segment; None for players that do not say.
    pub due: Option<f32>,
    /// Whether the page uploads to other listeners.
    pub shares: bool,
    /// Bytes it has passed on to other listeners so far.
    pub uploaded: u64,
}

/// The answer to a segment request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Serve,
    /// Other listeners have it or soon will: ask them.
    Refuse,
}

/// What a sharing page is to the swarm now; every answer to it says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It takes each new segment from the station as soon as it exists.
    Seeds,
    /// It takes a seeder's place the moment one leaves: it asks for every playlist.
    StandsIn,
    /// It takes segments from other listeners.
    Listens,
}

/// What a segment request gets, and the page's role now (its answer says so), from one pass
/// over the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub answer: Answer,
    pub role: Role,
}

#[derive(Debug, Clone, Copy)]
struct Listener {
    since: Instant,
    seen: Instant,
    shares: bool,
    uploaded: u64,
    /// It seeded, then went quiet.
    quiet: bool,
    /// When it last took a segment early as a seeder (or became one).
    took: Instant,
    /// Segments it seeded in a row that spread too slowly.
    slow_run: u8,
    /// It spread its segments too slowly: it may not seed again until then.
    slow_until: Option<Instant>,
}

impl Listener {
    fn may_seed(&self, now: Instant) -> bool {
        self.shares && !self.quiet && self.slow_until.is_none_or(|t| now >= t)
    }
}

#[derive(Debug, Clone)]
struct Made {
    seq: u64,
    at: Instant,
    /// Early requests served for it.
    early: u32,
    /// The seeder that took it first, if one did.
    seeder: Option<u64>,
    /// The pages it was served to at their deadline.
    late: Vec<u64>,
    judged: bool,
}

/// A page's tracker socket, tied to its session: the role it was last told goes out on it.
struct Attached {
    /// Which of the session's sockets (a page that reconnects has a new one before the old
    /// one is noticed closed).
    socket: u64,
    role: watch::Sender<Role>,
}

#[derive(Default)]
struct Table {
    listeners: HashMap<u64, Listener>,
    attached: HashMap<u64, Attached>,
    /// The last socket number handed out.
    sockets: u64,
    segments: VecDeque<Made>,
    seeders: Vec<u64>,
    /// One for each seeder, in the same order of rank.
    stand_ins: Vec<u64>,
    /// None: rank at the next request.
    ranked: Option<Instant>,
    /// When a seeder was last moved aside for spreading too slowly.
    demoted: Option<Instant>,
    counts: Counts,
}

/// Refusals, early grants and pages that said they left, since start, for `/api/health`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub seeded: u64,
    pub refused: u64,
    pub left: u64,
    /// Seeders moved aside for spreading their segments too slowly.
    pub slow: u64,
}

#[derive(Default)]
pub struct Seeding {
    inner: Mutex<Table>,
}

/// How many seeders `sharing` listeners need: one per [`PER_SEEDER`] up to
/// [`LINEAR_SEEDERS`], then one more each time the audience doubles.
pub fn seeders_for(sharing: usize) -> usize {
    let mut seeders = sharing.div_ceil(PER_SEEDER).clamp(1, LINEAR_SEEDERS);
    let mut covered = LINEAR_SEEDERS * PER_SEEDER;
    while sharing > covered {
        seeders += 1;
        covered = covered.saturating_mul(2);
    }
    seeders
}

impl Table {
    /// Remembers what a page said about itself.
    fn heard(&mut self, ask: &Ask, now: Instant) {
        let Some(key) = ask.session else { return };
        if !self.listeners.contains_key(&key) && self.listeners.len() >= MAX_LISTENERS {
            self.listeners
                .retain(|_, l| now.saturating_duration_since(l.seen) < GONE);
            if self.listeners.len() >= MAX_LISTENERS {
                return;
            }
        }
        // A swarm without a seeder ranks a newcomer at once: it may be the first.
        if self.seeders.is_empty() && !self.listeners.contains_key(&key) {
            self.ranked = None;
        }
        let l = self.listeners.entry(key).or_insert(Listener {
            since: now,
            seen: now,
            shares: ask.shares,
            uploaded: 0,
            quiet: false,
            took: now,
            slow_run: 0,
            slow_until: None,
        });
        l.seen = now;
        l.quiet = false;
        l.shares = ask.shares;
        // The page's own count: a reloaded page starts again from 0.
        l.uploaded = ask.uploaded;
    }

    /// Judges the segments old enough: each seeder's run of segments that spread too
    /// slowly grows or ends, and one seeder at most whose run is long enough is moved aside.
    fn judge(&mut self, now: Instant) {
        let sharing = self.listeners.values().filter(|l| l.shares).count();
        let limit = LATE_LIMIT.max(sharing / 8).min(MAX_LATE);
        let mut slow = None;
        for m in self.segments.iter_mut() {
            if m.judged || now.saturating_duration_since(m.at) < JUDGE_AFTER {
                continue;
            }
            m.judged = true;
            let Some(l) = m.seeder.and_then(|k| self.listeners.get_mut(&k)) else {
                continue;
            };
            // Moved aside already: its last segments, judged since, are not held again.
            if l.slow_until.is_some_and(|t| now < t) {
                continue;
            }
            if m.late.len() < limit {
                l.slow_run = 0;
                continue;
            }
            l.slow_run = l.slow_run.saturating_add(1);
            if l.slow_run >= SLOW_RUN && slow.is_none() {
                slow = m.seeder;
            }
        }
        let may = self
            .demoted
            .is_none_or(|t| now.saturating_duration_since(t) >= DEMOTE_EVERY);
        if let Some(l) = slow
            .and_then(|k| self.listeners.get_mut(&k))
            .filter(|_| may)
        {
            l.slow_until = Some(now + SLOW_FOR);
            l.slow_run = 0;
            tracing::debug!(seeder = ?slow, "live seeder spread its segments too slowly: moved aside");
            self.demoted = Some(now);
            self.counts.slow += 1;
        }
    }

    fn rank(&mut self, now: Instant) {
        if self
            .ranked
            .is_some_and(|t| now.saturating_duration_since(t) < RERANK)
        {
            return;
        }
        self.ranked = Some(now);
        // A page whose tracker socket is open is here, however long since it asked for
        // anything.
        for k in self.attached.keys() {
            if let Some(l) = self.listeners.get_mut(k) {
                l.seen = now;
            }
        }
        self.listeners
            .retain(|_, l| now.saturating_duration_since(l.seen) < GONE);
        for k in self.seeders.iter().chain(&self.stand_ins) {
            if let Some(l) = self.listeners.get_mut(k) {
                l.quiet |= now.saturating_duration_since(l.seen) >= SEED_SILENCE;
            }
        }
        // A seeder whose socket is open but which takes nothing early has stopped seeding
        // (a page in a background tab, its timers slowed): another takes its place.
        // (One without a socket is heard from at every playlist, or not: SEED_SILENCE.)
        for k in self
            .seeders
            .iter()
            .filter(|k| self.attached.contains_key(k))
        {
            if let Some(l) = self.listeners.get_mut(k) {
                l.quiet |= now.saturating_duration_since(l.took) >= SEED_IDLE;
            }
        }
        self.judge(now);
        let mut sharing: Vec<(u64, Listener)> = self
            .listeners
            .iter()
            .filter(|(_, l)| l.may_seed(now))
            .map(|(k, l)| (*k, *l))
            .collect();
        let k = seeders_for(sharing.len()).min(sharing.len());
        let wanted = (2 * k).min(sharing.len());
        // A seeder that is still here keeps seeding (its peers are used to getting new
        // segments from it), and a stand-in is next (it already asks for every playlist,
        // so it learns first); then the most passed on, then the longest here.
        let (seeders, stand_ins) = (
            std::mem::take(&mut self.seeders),
            std::mem::take(&mut self.stand_ins),
        );
        let place = |key: &u64| {
            if seeders.contains(key) {
                0
            } else if stand_ins.contains(key) {
                1
            } else {
                2
            }
        };
        let better = |a: &(u64, Listener), b: &(u64, Listener)| {
            place(&a.0)
                .cmp(&place(&b.0))
                .then(b.1.uploaded.cmp(&a.1.uploaded))
                .then(a.1.since.cmp(&b.1.since))
                .then(a.0.cmp(&b.0))
        };
        if wanted > 0 && wanted < sharing.len() {
            sharing.select_nth_unstable_by(wanted - 1, better);
        }
        sharing.truncate(wanted);
        sharing.sort_by(better);
        let mut ranked = sharing.into_iter().map(|(k, _)| k);
        self.seeders = ranked.by_ref().take(k).collect();
        self.stand_ins = ranked.collect();
        if self.seeders != seeders || self.stand_ins != stand_ins {
            tracing::debug!(seeders = ?self.seeders, stand_ins = ?self.stand_ins, "live seeders changed");
        }
        // A new seeder has until SEED_IDLE from now to take its first segment.
        for k in self.seeders.iter().filter(|k| !seeders.contains(k)) {
            if let Some(l) = self.listeners.get_mut(k) {
                l.took = now;
            }
        }
        // Pages whose role changed hear it now, on their tracker sockets.
        for (k, a) in &self.attached {
            let role = self.placed(Some(*k));
            a.role
                .send_if_modified(|r| std::mem::replace(r, role) != role);
        }
    }

    /// A session's role in the last ranking.
    fn placed(&self, session: Option<u64>) -> Role {
        match session {
            Some(s) if self.seeders.contains(&s) => Role::Seeds,
            Some(s) if self.stand_ins.contains(&s) => Role::StandsIn,
            _ => Role::Listens,
        }
    }

    fn role(&mut self, session: Option<u64>, now: Instant) -> Role {
        self.rank(now);
        self.placed(session)
    }

    /// Forgets a page that left, and ranks again at once so that its stand-in hears now
    /// that it seeds. True if the page was known.
    fn gone(&mut self, key: u64, now: Instant) -> bool {
        let known = self.listeners.remove(&key).is_some();
        if known {
            self.ranked = None;
            self.rank(now);
        }
        known
    }
}

impl Seeding {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // Counts and a ranking only: a panic elsewhere leaves them usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A segment was made now. The table is ranked then too, so that roles change (and are
    /// told) even while nobody asks the station for anything.
    pub fn made(&self, seq: u64, now: Instant) {
        let mut t = self.lock();
        t.rank(now);
        if t.segments.len() == MAX_SEGMENTS {
            t.segments.pop_front();
        }
        t.segments.push_back(Made {
            seq,
            at: now,
            early: 0,
            seeder: None,
            late: Vec::new(),
            judged: false,
        });
    }

    /// A page asked for its playlist or a segment: its role now.
    pub fn role(&self, ask: &Ask, now: Instant) -> Role {
        let mut t = self.lock();
        t.heard(ask, now);
        t.role(ask.session, now)
    }

    /// A page said it is leaving (it closed, or stopped the live player). A seeder's
    /// stand-in takes its place at once; the others' places are ranked again.
    pub fn left(&self, session: Option<u64>, now: Instant) {
        let Some(key) = session else { return };
        let mut t = self.lock();
        if t.gone(key, now) {
            t.counts.left += 1;
        }
    }

    /// Ties a page's tracker socket to its session: the page's role now, and each change
    /// after, comes out of the receiver. `None` when too many sockets are tied already.
    /// Hand the socket number back to [`Seeding::detach`] when the socket closes.
    pub fn attach(&self, session: u64, now: Instant) -> Option<(u64, watch::Receiver<Role>)> {
        let mut t = self.lock();
        if !t.attached.contains_key(&session) && t.attached.len() >= MAX_ATTACHED {
            return None;
        }
        t.sockets += 1;
        let socket = t.sockets;
        let role = t.role(Some(session), now);
        let (tx, rx) = watch::channel(role);
        t.attached.insert(session, Attached { socket, role: tx });
        Some((socket, rx))
    }

    /// A page's tracker socket closed: the page has gone (unless the session has another
    /// socket since), and a seeder's stand-in takes its place at once.
    pub fn detach(&self, session: u64, socket: u64, now: Instant) {
        let mut t = self.lock();
        if t.attached.get(&session).is_none_or(|a| a.socket != socket) {
            return;
        }
        t.attached.remove(&session);
        t.gone(session, now);
    }

    /// A page asked for segment `seq`.
    pub fn segment(&self, seq: u64, ask: &Ask, now: Instant) -> Reply {
        let mut g = self.lock();
        let t = &mut *g;
        t.heard(ask, now);
        let role = t.role(ask.session, now);
        let reply = |answer| Reply { answer, role };
        let made = t.segments.iter_mut().rev().find(|m| m.seq == seq);
        let early = ask.due.is_some_and(|d| d > URGENT);
        let Some(made) = made else {
            // Too old to be remembered, or not made yet: nothing to hand out or judge.
            return reply(Answer::Serve);
        };
        if !early {
            // A page that says when it plays and asks at its deadline: the swarm did
            // not bring it the segment in time.
            if let (Some(page), Some(_)) = (ask.session, ask.due) {
                if !made.late.contains(&page) && made.late.len() < MAX_LATE {
                    made.late.push(page);
                }
            }
            return reply(Answer::Serve);
        }
        let waited = now.saturating_duration_since(made.at) >= GRACE;
        if role == Role::Seeds || (made.early == 0 && waited) {
            made.early = made.early.saturating_add(1);
            if role == Role::Seeds {
                made.seeder = made.seeder.or(ask.session);
                if let Some(l) = ask.session.and_then(|k| t.listeners.get_mut(&k)) {
                    l.took = now;
                }
            }
            t.counts.seeded += 1;
            reply(Answer::Serve)
        } else {
            t.counts.refused += 1;
            reply(Answer::Refuse)
        }
    }

    pub fn counts(&self) -> Counts {
        self.lock().counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(session: u64, due: f32, uploaded: u64) -> Ask {
        Ask {
            session: Some(session),
            due: Some(due),
            shares: true,
            uploaded,
        }
    }

    /// Six segments made 2 s apart while pages 1 (the seeder) and 2 (its stand-in) poll
    /// every 2 s, as they do; page 1 takes each early, and `late` other pages take each at
    /// their deadline. Then the time runs on until every segment is judged. Returns the
    /// roles of pages 1 and 2 after each segment's judgement.
    fn spread(s: &Seeding, t0: Instant, late: u64) -> Vec<(Role, Role)> {
        let at = |ms| t0 + Duration::from_millis(ms);
        s.role(&ask(1, 9.0, 0), at(0));
        s.role(&ask(2, 9.0, 0), at(50));
        let mut roles = vec![];
        for step in 0..14u64 {
            // Ranked again a second after the first two came (at most once a second).
            let now = 1100 + step * 2000;
            if step < 6 {
                s.made(step, at(now));
                s.segment(step, &ask(1, 9.0, 0), at(now + 100));
                for page in 0..late {
                    s.segment(step, &ask(10 + page, 2.0, 0), at(now + 200));
                }
            }
            roles.push((
                s.role(&ask(1, 9.0, 0), at(now + 300)),
                s.role(&ask(2, 9.0, 0), at(now + 400)),
            ));
        }
        roles
    }

    #[test]
    fn a_seeder_whose_segments_reach_pages_only_at_their_deadline_gives_its_place_away() {
        // Four pages take each segment from the station at their deadline (the limit is 3,
        // or an eighth of the sharing pages): after three such segments in a row, judged
        // 12 s after each was made, the stand-in seeds and the slow seeder stands aside.
        let s = Seeding::default();
        let t0 = Instant::now();
        let roles = spread(&s, t0, 4);
        assert_eq!(roles[0], (Role::Seeds, Role::StandsIn));
        assert_eq!(
            roles[7],
            (Role::Seeds, Role::StandsIn),
            "two judged: {roles:?}"
        );
        assert_eq!(roles[8], (Role::Listens, Role::Seeds), "three: {roles:?}");
        assert_eq!(s.counts().slow, 1);
        // The segments after were seeded by page 1 too: nobody else is judged. Page 1 may
        // not even stand in for two minutes, then it may (both keep polling).
        let mut then = t0 + Duration::from_secs(30);
        while then < t0 + Duration::from_secs(17) + SLOW_FOR {
            assert_eq!(s.role(&ask(2, 9.0, 0), then), Role::Seeds);
            assert_ne!(s.role(&ask(1, 9.0, 0), then), Role::StandsIn);
            then += Duration::from_secs(2);
        }
        then += Duration::from_secs(2);
        s.role(&ask(2, 9.0, 0), then);
        assert_eq!(s.role(&ask(1, 9.0, 0), then), Role::StandsIn);
        assert_eq!(s.counts().slow, 1);
    }

    #[test]
    fn a_seeder_whose_segments_spread_keeps_its_place() {
        // Two late pages a segment are under the limit: a stranded page or two is not
        // the seeder's doing.
        let s = Seeding::default();
        let roles = spread(&s, Instant::now(), 2);
        assert!(
            roles.iter().all(|r| *r == (Role::Seeds, Role::StandsIn)),
            "{roles:?}"
        );
        assert_eq!(s.counts().slow, 0);
        // Nor is one page asking again and again (its requests time out), nor requests
        // that name no session.
        let s = Seeding::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        s.role(&ask(1, 9.0, 0), at(0));
        for step in 0..14u64 {
            let now = 1100 + step * 2000;
            s.made(step, at(now));
            s.segment(step, &ask(1, 9.0, 0), at(now + 100));
            for _ in 0..5 {
                s.segment(step, &ask(10, 2.0, 0), at(now + 200));
                let nobody = Ask {
                    session: None,
                    ..ask(0, 2.0, 0)
                };
                s.segment(step, &nobody, at(now + 200));
            }
            assert_eq!(s.role(&ask(1, 9.0, 0), at(now + 300)), Role::Seeds);
        }
        assert_eq!(s.counts().slow, 0);
    }

    #[test]
    fn one_seeder_per_thirty_sharing_listeners_then_one_per_doubling() {
        assert_eq!(seeders_for(0), 1);
        assert_eq!(seeders_for(12), 1);
        assert_eq!(seeders_for(30), 1);
        assert_eq!(seeders_for(31), 2);
        assert_eq!(seeders_for(90), 3);
        assert_eq!(seeders_for(91), 4);
        assert_eq!(seeders_for(180), 4);
        assert_eq!(seeders_for(181), 5);
        // 1,000 listeners, 78 % of them sharing.
        assert_eq!(seeders_for(780), 7);
        assert_eq!(seeders_for(usize::MAX), 3 + usize::BITS as usize - 6);
    }

    #[test]
    fn only_the_seeder_gets_a_new_segment_early() {
        let s = Seeding::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        // Three listeners: 1 came first and seeds, 2 has passed on the most and stands in,
        // 3 is new.
        assert_eq!(s.role(&ask(1, 10.0, 0), at(0)), Role::Seeds);
        s.role(&ask(2, 10.0, 0), at(100));
        s.role(&ask(3, 10.0, 0), at(200));
        assert_eq!(s.role(&ask(2, 10.0, 500_000), at(1_300)), Role::StandsIn);
        s.made(7, at(2_000));
        // Each reply also gives the asker's role (its answer's header).
        assert_eq!(
            s.segment(7, &ask(1, 9.0, 0), at(2_100)),
            Reply {
                answer: Answer::Serve,
                role: Role::Seeds
            }
        );
        assert_eq!(
            s.segment(7, &ask(2, 9.0, 500_000), at(2_200)),
            Reply {
                answer: Answer::Refuse,
                role: Role::StandsIn
            }
        );
        assert_eq!(
            s.segment(7, &ask(3, 9.0, 0), at(2_300)),
            Reply {
                answer: Answer::Refuse,
                role: Role::Listens
            }
        );
        // Past the grace, the segment was seeded: still refused.
        assert_eq!(
            s.segment(7, &ask(3, 8.0, 0), at(4_000)).answer,
            Answer::Refuse
        );
        // Due soon: always served, so no one stalls.
        assert_eq!(
            s.segment(7, &ask(3, 3.5, 0), at(4_100)).answer,
            Answer::Serve
        );
        assert_eq!(
            s.counts(),
            Counts {
                seeded: 1,
                refused: 3,
                left: 0,
                slow: 0
            }
        );
        // 1 goes silent: its stand-in takes over, and the newest stands in.
        s.role(&ask(3, 10.0, 0), at(5_000));
        s.role(&ask(2, 10.0, 500_000), at(5_500));
        let after = at(2_100) + SEED_SILENCE + Duration::from_secs(1);
        assert_eq!(s.role(&ask(2, 10.0, 500_000), after), Role::Seeds);
        assert_eq!(s.role(&ask(3, 10.0, 0), after), Role::StandsIn);
    }

    #[test]
    fn a_seeder_that_says_it_leaves_gives_its_place_to_its_stand_in_at_once() {
        let s = Seeding::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        s.role(&ask(1, 10.0, 900), at(0));
        s.role(&ask(2, 10.0, 500), at(10));
        s.role(&ask(3, 10.0, 100), at(20));
        assert_eq!(s.role(&ask(1, 10.0, 900), at(1_100)), Role::Seeds);
        assert_eq!(s.role(&ask(3, 10.0, 100), at(1_200)), Role::Listens);
        // Made up, or already gone: nothing changes.
        s.left(Some(77), at(1_250));
        s.left(None, at(1_250));
        assert_eq!(s.counts().left, 0);
        s.left(Some(1), at(1_250));
        // Within the same second: no silence to wait out, no rank period.
        assert_eq!(s.role(&ask(2, 10.0, 500), at(1_300)), Role::Seeds);
        assert_eq!(s.role(&ask(3, 10.0, 100), at(1_400)), Role::StandsIn);
        assert_eq!(s.counts().left, 1);
        // Its early requests are served again, as a seeder's.
        s.made(4, at(1_500));
        assert_eq!(
            s.segment(4, &ask(2, 9.0, 500), at(1_600)).answer,
            Answer::Serve
        );
    }

    /// A page's tracker socket carries its role as it changes, keeps the page here however
    /// seldom it asks (as long as a seeder takes its segments), and tells when it leaves.
    #[test]
    fn a_page_hears_its_role_on_its_tracker_socket_and_its_socket_says_when_it_goes() {
        let s = Seeding::default();
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        s.role(&ask(1, 10.0, 900), at(0));
        s.role(&ask(2, 10.0, 500), at(1));
        s.role(&ask(3, 10.0, 100), at(2));
        let (one, seeder) = s.attach(1, at(3)).unwrap();
        let (two, mut stand_in) = s.attach(2, at(3)).unwrap();
        assert_eq!(*seeder.borrow(), Role::Seeds);
        assert_eq!(*stand_in.borrow_and_update(), Role::StandsIn);
        // For far longer than a page without a socket may stay silent, page 1 asks for
        // nothing but each new segment early (it seeds) and page 2 for nothing at all:
        // they keep their places.
        for seq in 2..100 {
            s.made(seq, at(2 * seq));
            s.segment(
                seq,
                &ask(1, 9.0, 900),
                at(2 * seq) + Duration::from_millis(300),
            );
        }
        assert!(!stand_in.has_changed().unwrap());
        assert_eq!(s.role(&ask(3, 10.0, 100), at(200)), Role::Listens);
        // The seeder stops taking segments (its tab went to the background) with its
        // socket open: after SEED_IDLE its stand-in hears that it seeds, with nobody asking.
        for seq in 100..106 {
            s.made(seq, at(2 * seq));
        }
        assert!(stand_in.has_changed().unwrap());
        assert_eq!(*stand_in.borrow_and_update(), Role::Seeds);
        assert_eq!(*seeder.borrow(), Role::Listens);
        assert_eq!(s.role(&ask(3, 10.0, 100), at(212)), Role::StandsIn);
        // Page 2's page closes: its socket says so, its stand-in (3) seeds, and page 1,
        // here again, stands in.
        s.role(&ask(1, 10.0, 900), at(212));
        s.detach(2, two, at(213));
        assert_eq!(s.role(&ask(3, 10.0, 100), at(213)), Role::Seeds);
        assert_eq!(s.role(&ask(1, 10.0, 900), at(213)), Role::StandsIn);
        // A page that reconnects has a second socket before the first is noticed closed:
        // the first one's close changes nothing, the second one's ends the page.
        let (three, _) = s.attach(1, at(214)).unwrap();
        s.detach(1, one, at(215));
        assert_eq!(s.role(&ask(1, 10.0, 900), at(215)), Role::StandsIn);
        s.detach(1, three, at(216));
        // (Page 3 has no socket: it asks for every playlist as it seeds.)
        s.role(&ask(3, 10.0, 100), at(217));
        s.role(&ask(4, 10.0, 0), at(217));
        s.role(&ask(3, 10.0, 100), at(218));
        assert_eq!(s.role(&ask(4, 10.0, 0), at(218)), Role::StandsIn);
        // Closed sockets are not "said they left" (pages that said so are counted apart).
        assert_eq!(s.counts().left, 0);
    }

    #[test]
    fn the_oldest_listener_seeds_when_none_has_passed_anything_on() {
        let s = Seeding::default();
        let t0 = Instant::now();
        s.role(&ask(5, 10.0, 0), t0);
        s.role(&ask(4, 10.0, 0), t0 + Duration::from_secs(1));
        assert_eq!(
            s.role(&ask(5, 10.0, 0), t0 + Duration::from_secs(2)),
            Role::Seeds
        );
        assert_eq!(
            s.role(&ask(4, 10.0, 0), t0 + Duration::from_secs(3)),
            Role::StandsIn
        );
    }

    #[test]
    fn a_segment_nobody_seeded_goes_to_the_first_asker_after_the_grace() {
        let s = Seeding::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        s.role(&ask(1, 10.0, 0), at(0));
        s.role(&ask(2, 10.0, 0), at(10));
        s.made(3, at(100));
        // The seeder (1) does not come: 2 waits out the grace, then carries it.
        assert_eq!(
            s.segment(3, &ask(2, 9.0, 0), at(200)).answer,
            Answer::Refuse
        );
        assert_eq!(
            s.segment(3, &ask(2, 9.0, 0), at(3_200)).answer,
            Answer::Serve
        );
        // Once carried, a third early asker goes to the peers.
        s.role(&ask(9, 10.0, 0), at(3_300));
        assert_eq!(
            s.segment(3, &ask(9, 9.0, 0), at(3_400)).answer,
            Answer::Refuse
        );
    }

    #[test]
    fn listeners_that_never_upload_never_seed_and_gone_ones_stop() {
        let s = Seeding::default();
        let t0 = Instant::now();
        let secs = |n| t0 + Duration::from_secs(n);
        let phone = Ask {
            shares: false,
            ..ask(1, 10.0, 0)
        };
        s.role(&phone, t0);
        assert_eq!(s.role(&phone, secs(2)), Role::Listens);
        s.role(&ask(2, 10.0, 0), secs(3));
        assert_eq!(s.role(&ask(2, 10.0, 0), secs(4)), Role::Seeds);
        // 2 leaves without a word; 3 joins, stands in, and takes over once 2 has been
        // quiet for longer than a seeder ever is.
        s.role(&ask(3, 10.0, 0), secs(5));
        assert_eq!(s.role(&ask(3, 10.0, 0), secs(6)), Role::StandsIn);
        let later = secs(4) + SEED_SILENCE + Duration::from_secs(1);
        assert_eq!(s.role(&ask(3, 10.0, 0), later), Role::Seeds);
        // Back, 2 stands in: 3 keeps seeding.
        let back = later + Duration::from_secs(2);
        assert_eq!(s.role(&ask(2, 10.0, 0), back), Role::StandsIn);
        assert_eq!(
            s.role(&ask(3, 10.0, 0), back + Duration::from_secs(2)),
            Role::Seeds
        );
        // The phone is never anything but a listener.
        assert_eq!(s.role(&phone, back + Duration::from_secs(3)), Role::Listens);
    }

    #[test]
    fn players_that_do_not_say_are_always_served() {
        let s = Seeding::default();
        let t0 = Instant::now();
        s.role(&ask(1, 10.0, 0), t0);
        s.made(1, t0);
        let native = Ask::default();
        for _ in 0..5 {
            assert_eq!(s.segment(1, &native, t0).answer, Answer::Serve);
        }
        // Nor is a segment the table does not know refused.
        assert_eq!(s.segment(99, &ask(2, 9.0, 0), t0).answer, Answer::Serve);
        assert_eq!(s.counts(), Counts::default());
    }

    #[test]
    fn two_seeders_and_two_stand_ins_past_thirty_sharing_listeners() {
        let s = Seeding::default();
        let t0 = Instant::now();
        for k in 0..31u64 {
            s.role(&ask(k, 10.0, 1000 - k), t0 + Duration::from_millis(k));
        }
        let later = t0 + Duration::from_secs(2);
        let roles: Vec<(u64, Role)> = (0..31)
            .map(|k| (k, s.role(&ask(k, 10.0, 1000 - k), later)))
            .filter(|(_, r)| *r != Role::Listens)
            .collect();
        assert_eq!(
            roles,
            vec![
                (0, Role::Seeds),
                (1, Role::Seeds),
                (2, Role::StandsIn),
                (3, Role::StandsIn)
            ]
        );
    }
}
