//! Federation: stations' nodes follow, mirror and list each other, so one box going down
//! takes nothing with it.
//!
//! Parts: `identity` (the node's ed25519 key), `catalog` (the signed catalog and its
//! checks), `mirror` (downloading a followed station's episodes into a library root),
//! `mirrors` (the origin's book of its mirrors and the signed, timed claim), `proof` (random
//! pieces of a mirror's episodes checked against this station's piece hashes).
//!
//! A node publishes its catalog at `/api/catalog`, signed, with a sequence number that grows
//! with every change. A follower pins the key it saw first, refuses catalogs that fail the
//! signature, go backwards or come from another key, mirrors the newest episodes within its
//! budget, and then tells the origin which of them it holds (`POST /api/federation/mirrors`,
//! signed and timed), again every [`mirrors::RECLAIM_SECS`]. The origin fetches random pieces
//! of those episodes from the mirror's web seed, and only when every one matches its own
//! piece hashes lists the mirror's web seed in its catalog, feed and torrents, so a listener
//! whose client cannot reach the origin uses the mirror with no manual step. It checks each
//! listed mirror again on a schedule and drops one that fails or stops claiming.

pub mod catalog;
pub mod health;
pub mod identity;
pub mod mirror;
pub mod mirrors;
pub mod proof;
pub mod relay;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    library::Library,
    outbound::{Origin, Outbound, OutboundError},
    station::Station,
    store::{unix_secs as now_secs, Setting, Store, StoreError},
    system::Tasks,
    tracker::Tracker,
};
use catalog::{Catalog, CatalogItem, Refused, Signed};
use identity::{fingerprint, Identity};

/// Most of a followed station's episodes this node's tracker tracks (the newest): its
/// catalog is someone else's input, and each poll replaces what the last one admitted.
const MAX_FOLLOWED_SWARMS: usize = 1000;
/// Most trackers kept from one followed station's catalog, replaced at each poll.
const MAX_TRACKERS_PER_STATION: usize = 8;
/// Most of a claim's or a follow's answer read back.
const SMALL_ANSWER: usize = 4096;
/// Retry after a failed poll: doubling from this up to the poll interval times ten.
const FIRST_RETRY: Duration = Duration::from_secs(5);
/// How often a follower looks whether a claim is due, between polls.
const CLAIM_TICK: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("{0}")]
    Identity(#[from] identity::IdentityError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot send requests to other stations: {}", .0.detail())]
    Outbound(#[from] OutboundError),
}

/// What the node keeps about a followed station (sled, by its address).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Pinned {
    key: String,
    seq: u64,
}

/// A followed station as the config page shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FollowStatus {
    pub url: String,
    pub station: Option<String>,
    pub fingerprint: Option<String>,
    pub seq: Option<u64>,
    pub items: usize,
    pub mirrored: usize,
    /// Unix seconds of the last good catalog.
    pub last_ok: Option<u64>,
    /// The last problem, in words, and when the next try is.
    pub error: Option<String>,
    /// The last problem's kind, for the config page to say in the operator's language.
    #[serde(skip)]
    pub problem: Option<FollowProblem>,
    pub retry_in_secs: Option<u64>,
    /// Where this node re-serves the station's live stream, when it relays it.
    pub relay: Option<String>,
    /// Bytes the relay took from the origin, and its listeners here now.
    pub relay_bytes_in: Option<u64>,
    pub relay_listeners: Option<usize>,
    /// What the station said to this box's last claim to mirror it, in words.
    pub claim: Option<String>,
    /// Whether the station took that claim.
    #[serde(skip)]
    pub claim_taken: Option<bool>,
}

/// Why following a station failed, as the config page says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowProblem {
    /// Nobody answered, or not with a success.
    Unreachable,
    /// The address breaks the outbound rules; why, in English (nothing else says it).
    Refused(String),
    /// What answered is not a station's signed catalog.
    NotStation,
    /// The catalog is signed by another key than the one pinned on first contact.
    KeyChanged,
    /// The catalog is older than one already seen.
    OldList,
    /// This box could not keep what it read (its store); why, in English.
    Local(String),
}

/// A failed poll: its kind and the English words for the log.
#[derive(Debug)]
struct PollError {
    problem: FollowProblem,
    words: String,
}

impl PollError {
    fn local(e: impl std::fmt::Display) -> Self {
        let words = e.to_string();
        PollError {
            problem: FollowProblem::Local(words.clone()),
            words,
        }
    }
}

impl std::fmt::Display for PollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.words)
    }
}

/// This box's claims to one followed station (the mirror side).
#[derive(Debug, Default)]
struct Claiming {
    origin_key: String,
    /// The station's episodes held here and served, sorted.
    holds: Vec<String>,
    /// When the station last accepted a claim, and the episodes it named.
    accepted: Option<(u64, Vec<String>)>,
    /// After a refusal: no claim before this, and the wait that led to it.
    retry_at: u64,
    retry_secs: u64,
}

pub struct Federation {
    identity: Identity,
    store: Store,
    library: Arc<Library>,
    /// The operator's settings, read live (the station's name goes into the catalog).
    station: Arc<Station>,
    /// Every request to another node goes through it.
    out: Outbound,
    /// Shared with the updater, which fetches followed stations' update bundles with it.
    downloader: Arc<mirror::Downloader>,
    follows: Mutex<BTreeMap<String, FollowStatus>>,
    /// Trackers each followed station lists (by its address), for the health probes:
    /// checked, capped, and replaced at each poll.
    their_trackers: Mutex<BTreeMap<String, Vec<health::Target>>>,
    pub health: health::Health,
    /// Live relays by the origin key's fingerprint (no spaces).
    relays: Mutex<BTreeMap<String, Arc<relay::Relay>>>,
    /// The boxes that mirror this station (origin side), as stored.
    book: Mutex<mirrors::Book>,
    /// This box's claims to the followed stations, by their address (mirror side).
    claims: Mutex<BTreeMap<String, Claiming>>,
}

impl Federation {
    pub fn new(station: Arc<Station>, library: Arc<Library>) -> Result<Arc<Self>, FederationError> {
        let store = station.store().clone();
        let settings = station.settings();
        let identity = Identity::load_or_create(&store)?;
        let out = Outbound::new(settings.federation.allow_private_addresses)?;
        let follows = settings
            .federation
            .follow
            .iter()
            .map(|u| {
                let url = u.trim_end_matches('/').to_string();
                (
                    url.clone(),
                    FollowStatus {
                        url,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let book = match store.setting::<mirrors::Stored>(Setting::Mirrors) {
            Ok(b) => b.map(mirrors::Stored::into_book).unwrap_or_default(),
            Err(e) => {
                tracing::warn!("the list of mirrors is unreadable ({e}); mirrors claim again");
                mirrors::Book::default()
            }
        };
        Ok(Arc::new(Self {
            book: Mutex::new(book),
            claims: Mutex::default(),
            downloader: Arc::new(mirror::Downloader::new(
                settings.data_dir.clone(),
                settings.swarm.dht,
                out.clone(),
            )),
            identity,
            health: health::Health::new(store.clone(), out.clone()),
            their_trackers: Mutex::default(),
            relays: Mutex::default(),
            store,
            library,
            station,
            out,
            follows: Mutex::new(follows),
        }))
    }

    /// This node's base address for others (public URL, or the HTTP address when it is a
    /// specific one); `None` when it listens on every address and has no public URL.
    pub fn own_url(&self) -> Option<String> {
        let settings = self.station.settings();
        settings.public_url.clone().or_else(|| {
            (!settings.http.ip().is_unspecified()).then(|| format!("http://{}", settings.http))
        })
    }

    /// The download side of BitTorrent: one session for whatever this node fetches from
    /// the stations it follows.
    pub fn downloader(&self) -> Arc<mirror::Downloader> {
        self.downloader.clone()
    }

    /// Listeners of the relayed streams, all together.
    pub fn relay_listeners(&self) -> usize {
        self.relays
            .lock()
            .map(|r| r.values().map(|r| r.listeners()).sum())
            .unwrap_or(0)
    }

    /// Puts an exported key (from the old box) in place of this node's, durably. The
    /// node uses it once its services restart.
    pub fn import_key(&self, exported: &str) -> Result<(), identity::IdentityError> {
        Identity::import(&self.store, exported).map(|_| ())
    }

    pub fn public_key(&self) -> String {
        self.identity.public_hex()
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.identity.public_hex())
    }

    pub fn export_key(&self) -> String {
        self.identity.export()
    }

    pub fn follows(&self) -> Vec<FollowStatus> {
        let mut list: Vec<FollowStatus> = self
            .follows
            .lock()
            .map(|f| f.values().cloned().collect())
            .unwrap_or_default();
        for f in &mut list {
            let relay = f
                .fingerprint
                .as_deref()
                .and_then(|fp| self.relay(&fp.replace(' ', "")));
            if let Some(r) = relay {
                f.relay_bytes_in = Some(r.bytes_in.load(std::sync::atomic::Ordering::Relaxed));
                f.relay_listeners = Some(r.listeners());
            }
        }
        list
    }

    /// The followed station whose mirrored episode lies at `path`, if it is one.
    pub fn origin_of(&self, path: &Path) -> Option<String> {
        let rel = path
            .strip_prefix(mirror::mirrors_dir(&self.station.settings().data_dir))
            .ok()?;
        let dir = rel.components().next()?.as_os_str().to_string_lossy();
        let follows = self.follows.lock().ok()?;
        follows
            .values()
            .find(|f| {
                f.fingerprint
                    .as_deref()
                    .is_some_and(|fp| fp.replace(' ', "") == dir)
            })
            .map(|f| f.url.clone())
    }

    fn is_mirrored(&self, path: &Path) -> bool {
        path.starts_with(mirror::mirrors_dir(&self.station.settings().data_dir))
    }

    /// This station's own catalog (mirrored episodes are other stations'), signed. The
    /// sequence grows, durably, whenever the content differs from the last one published.
    /// Nothing in it comes from the request that asks for it: `trackers` and `live` are
    /// built from [`Federation::own_url`] (relative paths when it has none), so neither
    /// the content nor the sequence depends on who asks or by which name.
    pub fn catalog(&self, trackers: Vec<String>, live: Vec<String>) -> Signed {
        let lib = self.library.catalog();
        let items = lib
            .items
            .values()
            .filter(|i| !self.is_mirrored(i.path()))
            .map(|i| CatalogItem {
                infohash: i.infohash.clone(),
                name: i.name.clone(),
                size: i.size,
                mime: i.mime.to_string(),
                title: i.tags.title.clone(),
                duration_secs: i.tags.duration_secs,
                added: u64::try_from(i.mtime_ns / 1_000_000_000).unwrap_or(0),
            })
            .collect();
        let mut cat = Catalog {
            key: self.identity.public_hex(),
            seq: 0,
            station: self.station.settings().station.name.clone(),
            description: self.station.settings().station.description.clone(),
            url: self.own_url().unwrap_or_default(),
            items,
            live,
            trackers,
            mirrors: self.mirrors(),
        };
        let digest = hex::encode(Sha256::digest(serde_json::to_vec(&cat).unwrap_or_default()));
        let (mut seq, last): (u64, String) = self
            .store
            .setting(Setting::CatalogSeq)
            .ok()
            .flatten()
            .unwrap_or((0, String::new()));
        if last != digest {
            seq += 1;
            if let Err(e) = self.store.set_setting(Setting::CatalogSeq, &(seq, &digest)) {
                tracing::warn!("catalog sequence: {e}");
            }
        }
        cat.seq = seq;
        cat.sign(&self.identity)
    }

    fn set_status(&self, url: &str, f: impl FnOnce(&mut FollowStatus)) {
        if let Ok(mut follows) = self.follows.lock() {
            if let Some(s) = follows.get_mut(url) {
                f(s);
            }
        }
    }

    /// The relay of the station whose key has fingerprint `fp` (without spaces).
    pub fn relay(&self, fp: &str) -> Option<Arc<relay::Relay>> {
        self.relays.lock().ok()?.get(fp).cloned()
    }

    /// Starts relaying `url`'s live stream (once).
    fn start_relay(&self, url: &str, fp: &str, shutdown: &CancellationToken) -> String {
        let key = fp.replace(' ', "");
        let path = format!("/relay/{key}/live.ogg");
        let Ok(mut relays) = self.relays.lock() else {
            return path;
        };
        if !relays.contains_key(&key) {
            let r = Arc::new(relay::Relay::new(url.to_string()));
            relays.insert(key, r.clone());
            let (out, shutdown) = (self.out.clone(), shutdown.clone());
            // It lives as long as the node, but is started from a poll, away from the
            // node's tasks: named here, it ends on `shutdown` like them.
            let span = tracing::info_span!("task", name = "relay", origin = %url);
            let relay = async move {
                r.run(out, shutdown).await;
                tracing::info!("task ended");
            };
            tokio::spawn(relay.instrument(span));
            tracing::info!(origin = %url, %path, "relaying the live stream");
        }
        path
    }

    /// One poll of a followed node: fetch, check, admit, mirror, claim.
    async fn poll(
        &self,
        url: &str,
        tracker: &Tracker,
        shutdown: &CancellationToken,
    ) -> Result<(), PollError> {
        let pin_key = Setting::FollowPin(url);
        let pinned: Option<Pinned> = self.store.setting(pin_key).map_err(PollError::local)?;
        let outbound = |e: OutboundError, words: String| PollError {
            problem: match e {
                OutboundError::Unreachable(_) => FollowProblem::Unreachable,
                OutboundError::Refused(why) => FollowProblem::Refused(why),
            },
            words,
        };
        let origin = Origin::operator(url).map_err(|e| {
            let words = e.detail().to_string();
            outbound(e, words)
        })?;
        let body = self
            .out
            .get(&origin, "/api/catalog", None, catalog::MAX_BYTES)
            .await
            .and_then(|f| f.success())
            .map_err(|e| {
                let words = format!("the catalog: {}", e.detail());
                outbound(e, words)
            })?;
        let cat = catalog::open(
            &body,
            pinned.as_ref().map(|p| p.key.as_str()),
            pinned.as_ref().map(|p| p.seq),
        )
        .map_err(|e: Refused| PollError {
            problem: match e {
                Refused::KeyChanged { .. } => FollowProblem::KeyChanged,
                Refused::Replayed { .. } => FollowProblem::OldList,
                Refused::TooBig | Refused::Malformed(_) | Refused::BadSignature => {
                    FollowProblem::NotStation
                }
            },
            words: format!("catalog refused: {e}"),
        })?;
        if pinned.is_none() {
            tracing::info!(%url, fingerprint = %fingerprint(&cat.key), "pinned a followed node's key");
        }
        self.store
            .set_setting(
                pin_key,
                &Pinned {
                    key: cat.key.clone(),
                    seq: cat.seq,
                },
            )
            .map_err(PollError::local)?;
        tracker.admit_followed(url, followed_swarms(&cat.items));
        let trackers = learned_trackers(&cat.trackers);
        if let Ok(mut t) = self.their_trackers.lock() {
            t.insert(url.to_string(), trackers);
        }
        let fp = fingerprint(&cat.key);
        let relay = (self.station.settings().federation.relay && !cat.live.is_empty())
            .then(|| self.start_relay(url, &fp, shutdown));
        self.set_status(url, |s| {
            s.relay = relay;
            s.station = Some(cat.station.clone());
            s.fingerprint = Some(fp.clone());
            s.seq = Some(cat.seq);
            s.items = cat.items.len();
            s.last_ok = Some(now_secs());
            s.error = None;
            s.problem = None;
            s.retry_in_secs = None;
        });
        let dest = mirror::origin_dir(&self.station.settings().data_dir, &fp);
        let budget = self.station.settings().federation.mirror_budget_mb * 1024 * 1024;
        let mut mirrored = 0;
        let mut held = Vec::new();
        for item in mirror::choose(&cat.items, budget) {
            match self.downloader.fetch(&origin, item, &dest).await {
                Ok(fresh) => {
                    mirrored += 1;
                    held.push(item.infohash.clone());
                    if fresh {
                        tracing::info!(origin = %url, name = %item.name, "mirrored an episode");
                    }
                }
                Err(e) => tracing::warn!(origin = %url, name = %item.name, "mirror: {e:#}"),
            }
            self.set_status(url, |s| s.mirrored = mirrored);
        }
        // Claimed are only the episodes the library has hashed and serves: the station
        // asks for their pieces at once.
        let served = self.library.catalog();
        held.retain(|ih| served.items.contains_key(ih));
        held.sort_unstable();
        if let Ok(mut claims) = self.claims.lock() {
            let c = claims.entry(url.to_string()).or_default();
            c.origin_key = cat.key.clone();
            c.holds = held;
        }
        Ok(())
    }

    /// Claims to mirror the followed station at `origin` when a claim is due: the episodes
    /// held changed, the last accepted claim is [`mirrors::RECLAIM_SECS`] old, or the wait
    /// after a refusal is over. Needs an address others can reach.
    async fn claim_if_due(&self, origin: &str) {
        let now = now_secs();
        let (origin_key, holds) = {
            let Ok(claims) = self.claims.lock() else {
                return;
            };
            let Some(c) = claims.get(origin) else {
                return;
            };
            let due = match &c.accepted {
                None => true,
                Some((at, named)) => {
                    *named != c.holds || now >= at.saturating_add(mirrors::RECLAIM_SECS)
                }
            };
            if c.holds.is_empty() || !due || now < c.retry_at {
                return;
            }
            (c.origin_key.clone(), c.holds.clone())
        };
        let Some(me) = self.own_url() else {
            tracing::warn!(
                "set public_url so that followed stations can list this box as their mirror"
            );
            return;
        };
        let claim = mirrors::MirrorClaim::new(&self.identity, &origin_key, &me, now, holds.clone());
        let answer = self.send_claim(origin, &claim).await;
        let poll = self.station.settings().federation.poll_secs;
        if let Ok(mut claims) = self.claims.lock() {
            if let Some(c) = claims.get_mut(origin) {
                match &answer {
                    Ok(_) => {
                        c.accepted = Some((now, holds));
                        c.retry_secs = 0;
                    }
                    Err(_) => {
                        c.retry_secs = (c.retry_secs * 2).clamp(poll, mirrors::RECLAIM_SECS);
                        c.retry_at = now + c.retry_secs;
                    }
                }
            }
        }
        if let Err(e) = &answer {
            tracing::warn!(%origin, "mirror claim refused: {e}");
        }
        self.set_status(origin, |s| {
            s.claim_taken = Some(answer.is_ok());
            s.claim = Some(answer.unwrap_or_else(|e| e));
        });
    }

    /// Sends a claim to the followed station at `origin` (the operator's address); its
    /// answer in words, `Err` when it refused. The station checks pieces before it answers
    /// (within [`mirrors::CLAIM_ANSWER_WITHIN`], inside the outbound time limit).
    async fn send_claim(
        &self,
        origin: &str,
        claim: &mirrors::MirrorClaim,
    ) -> Result<String, String> {
        // What went wrong in detail goes to the log: the follows' state is public.
        let not_sent = |e: OutboundError| {
            tracing::info!(%origin, "mirror claim: {}", e.detail());
            format!("the claim could not be sent ({e})")
        };
        let to = Origin::operator(origin).map_err(not_sent)?;
        let answer = self
            .out
            .post_json(&to, "/api/federation/mirrors", claim, SMALL_ANSWER)
            .await
            .map_err(not_sent)?;
        let words = String::from_utf8_lossy(&answer.body).trim().to_string();
        let words = if words.is_empty() {
            format!("HTTP {}", answer.status)
        } else {
            words
        };
        if (200..300).contains(&answer.status) {
            Ok(words)
        } else {
            Err(words)
        }
    }

    /// Every tracker worth probing: the configured ones and the followed stations'. The
    /// node's own are not probed: they answer whenever the node does, and always lead the
    /// lists. The configured ones are the operator's choice; the others were learned, and
    /// are probed by [`Outbound`]'s rules. Mirrors' trackers are none of these: a mirror
    /// is listed by its web seed only.
    fn known_trackers(&self) -> Vec<health::Target> {
        let settings = self.station.settings();
        let configured = settings
            .swarm
            .trackers
            .iter()
            .chain(&settings.webtorrent.trackers)
            .filter_map(|t| match Origin::operator(t) {
                Ok(origin) => Some(health::Target {
                    url: t.clone(),
                    origin,
                }),
                Err(e) => {
                    tracing::warn!("tracker {t} cannot be probed: {}", e.detail());
                    None
                }
            });
        let theirs: Vec<health::Target> = self
            .their_trackers
            .lock()
            .map(|t| t.values().flatten().cloned().collect())
            .unwrap_or_default();
        let mut seen = BTreeSet::new();
        configured
            .chain(theirs)
            .filter(|t| seen.insert(t.url.clone()))
            .collect()
    }

    /// Probes every known tracker every `probe_secs` until `shutdown`.
    async fn probe_trackers(self: Arc<Self>, shutdown: CancellationToken) {
        let every = Duration::from_secs(self.station.settings().federation.probe_secs);
        // A first round soon after start.
        let mut wait = Duration::from_secs(5);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            self.health.probe_all(&self.known_trackers()).await;
            wait = every;
        }
    }

    /// Polls every followed node until `shutdown`, each on its own schedule, with back-off
    /// after failures; probes the known trackers.
    pub async fn run(self: Arc<Self>, tracker: Arc<Tracker>, shutdown: CancellationToken) {
        let urls: Vec<String> = self
            .follows
            .lock()
            .map(|f| f.keys().cloned().collect())
            .unwrap_or_default();
        let every = Duration::from_secs(self.station.settings().federation.poll_secs);
        let mut tasks = Tasks::new();
        tasks.spawn(
            "tracker_probe",
            self.clone().probe_trackers(shutdown.clone()),
        );
        tasks.spawn(
            "mirror_checks",
            self.clone().check_mirrors(shutdown.clone()),
        );
        for url in urls {
            let (me, tracker, shutdown) = (self.clone(), tracker.clone(), shutdown.clone());
            tasks.spawn("follow", async move {
                let mut retry = FIRST_RETRY;
                let mut next_poll = tokio::time::Instant::now();
                loop {
                    if tokio::time::Instant::now() >= next_poll {
                        let wait = match me.poll(&url, &tracker, &shutdown).await {
                            Ok(()) => {
                                retry = FIRST_RETRY;
                                every
                            }
                            Err(e) => {
                                tracing::warn!(%url, "following: {e}; retrying in {}s", retry.as_secs());
                                let wait = retry;
                                me.set_status(&url, |s| {
                                    s.error = Some(e.words);
                                    s.problem = Some(e.problem);
                                    s.retry_in_secs = Some(wait.as_secs());
                                });
                                retry = (retry * 2).min(every * 10);
                                wait
                            }
                        };
                        next_poll = tokio::time::Instant::now() + wait;
                    }
                    // Claims keep their own schedule: a station polled hourly is still
                    // claimed before its mirrors lapse.
                    me.claim_if_due(&url).await;
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep_until(next_poll.min(
                            tokio::time::Instant::now() + CLAIM_TICK,
                        )) => {}
                    }
                }
            });
        }
        tasks.join_all().await;
    }
}

/// The infohashes of a followed catalog this node's tracker admits: well-formed ones, the
/// newest [`MAX_FOLLOWED_SWARMS`].
fn followed_swarms(items: &[CatalogItem]) -> Vec<[u8; 20]> {
    let mut by_age: Vec<&CatalogItem> = items.iter().collect();
    by_age.sort_by_key(|i| std::cmp::Reverse(i.added));
    by_age
        .into_iter()
        .filter_map(|i| {
            let b = hex::decode(&i.infohash).ok()?;
            <[u8; 20]>::try_from(b.as_slice()).ok()
        })
        .take(MAX_FOLLOWED_SWARMS)
        .collect()
}

/// The trackers of a followed catalog worth probing: those [`Origin::learned_tracker`]
/// accepts, each once, at most [`MAX_TRACKERS_PER_STATION`]; listed by their rebuilt
/// address (`…/announce`), never by the catalog's text.
fn learned_trackers(listed: &[String]) -> Vec<health::Target> {
    let mut seen = BTreeSet::new();
    listed
        .iter()
        .filter_map(|t| Origin::learned_tracker(t).ok())
        .map(|origin| health::Target {
            url: origin.base(),
            origin,
        })
        .filter(|t| seen.insert(t.url.clone()))
        .take(MAX_TRACKERS_PER_STATION)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_followed_catalog_can_make_this_node_track_and_probe_is_bounded() {
        let items: Vec<CatalogItem> = (0..5000u32)
            .map(|n| CatalogItem {
                infohash: format!("{n:040x}"),
                name: format!("{n}.mp3"),
                size: 1,
                mime: "audio/mpeg".into(),
                title: None,
                duration_secs: None,
                added: u64::from(n),
            })
            .chain(std::iter::once(CatalogItem {
                infohash: "not hex".into(),
                name: "x".into(),
                size: 1,
                mime: String::new(),
                title: None,
                duration_secs: None,
                added: u64::MAX,
            }))
            .collect();
        let admitted = followed_swarms(&items);
        assert_eq!(admitted.len(), MAX_FOLLOWED_SWARMS);
        let newest = hex::decode(format!("{:040x}", 4999)).unwrap();
        assert_eq!(admitted[0][..], newest[..], "the newest first");

        let mut listed: Vec<String> = (0..40)
            .map(|n| format!("udp://t{n}.example.org:6969/announce"))
            .collect();
        listed.insert(0, "http://t0.example.org/announce?x=1".into());
        listed.insert(0, "http://a.example.org:80/announce".into());
        listed.insert(0, "http://a.example.org/".into());
        let kept = learned_trackers(&listed);
        assert_eq!(kept.len(), MAX_TRACKERS_PER_STATION);
        assert_eq!(kept[0].url, "http://a.example.org/announce");
        assert_eq!(kept[1].url, "udp://t0.example.org:6969/announce");
    }
}
