//! The origin's book of the boxes that mirror it, and the signed claim a mirror sends.
//!
//! A claim names the mirror's address, the episodes of this station it holds and the time
//! it was made, signed by the mirror's key. It is refused when its time is far from this
//! box's clock or not later than the mirror's last claim (a replay). A mirror is listed
//! (catalog, feed, torrents) only while it passed its last check (pieces of its episodes,
//! see [`super::proof`]), its last claim is recent (mirrors re-claim every
//! [`RECLAIM_SECS`]; one that stops is forgotten after [`CLAIM_TTL_SECS`]) and, when the
//! operator asked for it, the operator approved it. Places go to checked mirrors only: a
//! claim that fails its check takes none.
//!
//! The [`Book`] is pure (the caller passes the time); the [`Federation`] methods at the end
//! receive claims, fetch the pieces, keep the book in the store and check it on schedule.

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{catalog, identity, proof, Federation};
use crate::{
    library::torrent,
    outbound::Origin,
    store::{unix_secs, Setting},
};

/// Most mirrors listed at once, and most kept waiting for approval or shown as dropped.
pub const MAX_MIRRORS: usize = 16;
/// A mirror claims again this often (sooner when it holds other episodes).
pub const RECLAIM_SECS: u64 = 600;
/// A mirror whose last claim is older than this is forgotten: three missed claims.
pub const CLAIM_TTL_SECS: u64 = 3 * RECLAIM_SECS;
/// Largest distance between a claim's time and this box's clock.
pub const CLAIM_SKEW_SECS: u64 = 600;
/// Most episodes one claim may name (a mirror's budget holds far fewer).
pub const MAX_HOLDS: usize = 10_000;
/// Removed mirrors remembered (the oldest removal is forgotten beyond that).
const MAX_REMOVED: usize = 64;
/// Approved keys remembered.
const MAX_APPROVED: usize = 64;
/// A claim's check (the claimant's catalog and the pieces) ends within this; a mirror that
/// cannot hand over a few megabytes in that time serves listeners badly too.
pub const CLAIM_ANSWER_WITHIN: Duration = Duration::from_secs(45);

/// A mirror's claim as it travels (`POST /api/federation/mirrors`, JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MirrorClaim {
    /// The mirror's base address: `scheme://host[:port]`, nothing more.
    pub url: String,
    /// The mirror's public key (hex ed25519).
    pub key: String,
    /// Unix seconds when the claim was made. Claims of the first format had none.
    #[serde(default)]
    pub time: Option<u64>,
    /// Infohashes (hex) of this station's episodes the mirror holds and serves.
    #[serde(default)]
    pub holds: Vec<String>,
    pub signature: String,
}

/// The signed text: the origin's key (a claim for one station is worth nothing at
/// another), the address, the time and the episodes.
pub fn claim_text(origin_key: &str, url: &str, time: u64, holds: &[String]) -> String {
    format!(
        "streamp2p mirror claim 2\norigin {origin_key}\nmirror {url}\ntime {time}\nholds {}",
        holds.join(",")
    )
}

impl MirrorClaim {
    /// A claim made and signed by this node (the mirror side).
    pub fn new(
        me: &identity::Identity,
        origin_key: &str,
        url: &str,
        time: u64,
        holds: Vec<String>,
    ) -> Self {
        Self {
            url: url.to_string(),
            key: me.public_hex(),
            time: Some(time),
            signature: me.sign(claim_text(origin_key, url, time, &holds).as_bytes()),
            holds,
        }
    }
}

/// Why a claim, approval or removal was not taken, in words for the claimant or operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "refused: this claim has no time in it: the mirroring box runs an older streamp2p; \
         update it"
    )]
    OldFormat,
    #[error("refused: the mirror's address must be http(s)://host[:port] with nothing after it")]
    BadUrl,
    #[error("refused: the claim's signature does not match")]
    BadSignature,
    #[error("refused: the claim names too many episodes")]
    TooManyHolds,
    #[error(
        "refused: the claim's time is {0} minutes away from this box's clock; check both \
         boxes' clocks"
    )]
    Clock(u64),
    #[error("refused: this claim is not newer than the mirror's last one (a replay)")]
    Replayed,
    #[error("refused: this station's operator removed this mirror")]
    Removed,
    #[error("refused: this station lists enough mirrors already")]
    Full,
    #[error("refused: enough mirrors are waiting for the operator's approval already")]
    WaitingFull,
    #[error("refused: another box is listed at this address")]
    Taken,
    #[error("refused: the mirror did not pass its check ({0})")]
    Failed(String),
    #[error("no such mirror")]
    Unknown,
}

/// The address a claim may carry: `scheme://host[:port]` exactly as the outbound rules
/// rebuild it, so the address listed is the address checked (no path, query, fragment or
/// login to steer either, nothing spelled two ways).
pub fn canonical_url(url: &str) -> Result<Origin, Refusal> {
    match Origin::learned(url) {
        Ok(origin) if origin.base() == url => Ok(origin),
        _ => Err(Refusal::BadUrl),
    }
}

/// The result of a mirror's last check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub at: u64,
    pub passed: bool,
    pub words: String,
}

/// One mirror as the book keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mirror {
    pub url: String,
    pub key: String,
    /// The time of its last accepted claim.
    pub claimed: u64,
    /// This station's episodes it holds (as of its last passed check), sorted.
    pub holds: Vec<String>,
    /// When it last passed a check.
    pub verified: Option<u64>,
    pub last_check: Check,
}

impl Mirror {
    fn fresh(&self, now: u64) -> bool {
        self.claimed.saturating_add(CLAIM_TTL_SECS) >= now
    }
}

/// A mirror the operator removed: its address and key stay out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub url: String,
    pub key: String,
    pub at: u64,
}

/// Where a mirror stands, for the config page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Listed,
    AwaitingApproval,
    /// Its last check failed: not listed until a claim passes again.
    Dropped,
}

/// The book, as stored (`store::Setting::Mirrors`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Book {
    pub mirrors: Vec<Mirror>,
    /// Keys the operator approved, kept when their claims lapse (a box that was off for a
    /// night is not asked about again).
    pub approved: Vec<String>,
    pub removed: Vec<Removed>,
}

/// What the store may hold: this book, or the first format's list of addresses.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Stored {
    Book(Book),
    Addresses(Vec<String>),
}

impl Stored {
    /// The book; addresses listed by the first format were never checked, so they are
    /// forgotten until their boxes claim again and pass.
    pub fn into_book(self) -> Book {
        match self {
            Stored::Book(b) => b,
            Stored::Addresses(old) => {
                if !old.is_empty() {
                    tracing::warn!(
                        count = old.len(),
                        "mirrors listed by an older version are forgotten until they prove \
                         what they hold"
                    );
                }
                Book::default()
            }
        }
    }
}

impl Book {
    fn find(&self, url: &str) -> Option<&Mirror> {
        self.mirrors.iter().find(|m| m.url == url)
    }

    fn is_approved(&self, m: &Mirror, approval: bool) -> bool {
        !approval || self.approved.contains(&m.key)
    }

    /// Where `m` stands now, `None` when its claims lapsed.
    pub fn standing(&self, m: &Mirror, now: u64, approval: bool) -> Option<Standing> {
        if !m.fresh(now) {
            None
        } else if !m.last_check.passed {
            Some(Standing::Dropped)
        } else if self.is_approved(m, approval) {
            Some(Standing::Listed)
        } else {
            Some(Standing::AwaitingApproval)
        }
    }

    fn count(&self, now: u64, approval: bool, standing: Standing) -> usize {
        self.mirrors
            .iter()
            .filter(|m| self.standing(m, now, approval) == Some(standing))
            .count()
    }

    /// The mirrors listed now, in the order they were first listed (at most
    /// [`MAX_MIRRORS`], even after approval was turned off with many waiting).
    pub fn listed(&self, now: u64, approval: bool) -> impl Iterator<Item = &Mirror> {
        self.mirrors
            .iter()
            .filter(move |m| self.standing(m, now, approval) == Some(Standing::Listed))
            .take(MAX_MIRRORS)
    }

    /// The mirrors to check again on schedule: every one that passed its last check.
    pub fn to_check(&self, now: u64) -> Vec<Mirror> {
        self.mirrors
            .iter()
            .filter(|m| m.fresh(now) && m.last_check.passed)
            .cloned()
            .collect()
    }

    /// The checks a claim passes before anything is fetched: a clear address, the
    /// signature, the time near `now` and later than the mirror's last, not removed. For a
    /// mirror already in the book, a good claim renews it at once (its bytes are checked
    /// next), so a busy box cannot make a real mirror lapse. Returns the claim's address,
    /// time and episodes; the caller keeps only the episodes that are its own.
    pub fn receive(
        &mut self,
        origin_key: &str,
        claim: &MirrorClaim,
        now: u64,
    ) -> Result<(String, u64, Vec<String>), Refusal> {
        let time = claim.time.ok_or(Refusal::OldFormat)?;
        let url = canonical_url(&claim.url)?.base();
        if claim.holds.len() > MAX_HOLDS {
            return Err(Refusal::TooManyHolds);
        }
        let text = claim_text(origin_key, &url, time, &claim.holds);
        if !identity::verify(&claim.key, text.as_bytes(), &claim.signature) {
            return Err(Refusal::BadSignature);
        }
        if self
            .removed
            .iter()
            .any(|r| r.url == url || r.key == claim.key)
        {
            return Err(Refusal::Removed);
        }
        let skew = time.abs_diff(now);
        if skew > CLAIM_SKEW_SECS {
            return Err(Refusal::Clock(skew.div_ceil(60)));
        }
        if let Some(m) = self.mirrors.iter_mut().find(|m| m.url == url) {
            if time <= m.claimed {
                return Err(Refusal::Replayed);
            }
            if m.key == claim.key {
                m.claimed = time;
            }
        }
        let mut holds = claim.holds.clone();
        holds.sort_unstable();
        holds.dedup();
        Ok((url, time, holds))
    }

    /// Takes the result of a claim's check: a mirror that passed is listed (or waits for
    /// approval) when a place is free; one that failed is refused, and if it was in the
    /// book it is dropped from the lists.
    #[allow(clippy::too_many_arguments)]
    pub fn admit(
        &mut self,
        url: &str,
        key: &str,
        time: u64,
        holds: Vec<String>,
        check: Check,
        now: u64,
        approval: bool,
    ) -> Result<Standing, Refusal> {
        self.expire(now);
        let existing = self.mirrors.iter().position(|m| m.url == url);
        if let Some(m) = existing.map(|i| &self.mirrors[i]) {
            // A dropped mirror's address may come back under another key (a new box):
            // the claim was signed by the key whose catalog the address serves.
            if m.key != key && m.last_check.passed {
                return Err(Refusal::Taken);
            }
        }
        if !check.passed {
            let words = check.words.clone();
            if let Some(i) = existing {
                self.mirrors[i].last_check = check;
                self.keep_dropped_bounded(now, approval);
            }
            return Err(Refusal::Failed(words));
        }
        let claimed = existing.map_or(time, |i| self.mirrors[i].claimed.max(time));
        let m = Mirror {
            url: url.to_string(),
            key: key.to_string(),
            claimed,
            holds,
            verified: Some(now),
            last_check: check,
        };
        // Fresh: its time was within minutes of now when it was received.
        let standing = if self.is_approved(&m, approval) {
            Standing::Listed
        } else {
            Standing::AwaitingApproval
        };
        // It needs a free place unless it holds one already.
        let holds_one = existing
            .is_some_and(|i| self.standing(&self.mirrors[i], now, approval) == Some(standing));
        if !holds_one && self.count(now, approval, standing) >= MAX_MIRRORS {
            return Err(if standing == Standing::Listed {
                Refusal::Full
            } else {
                Refusal::WaitingFull
            });
        }
        match existing {
            Some(i) => self.mirrors[i] = m,
            None => self.mirrors.push(m),
        }
        Ok(standing)
    }

    /// Takes the result of a scheduled check of the mirror at `url` (as it was when the
    /// check began, `key`): a failure drops it from the lists.
    pub fn rechecked(&mut self, url: &str, key: &str, check: Check, now: u64, approval: bool) {
        let Some(m) = self
            .mirrors
            .iter_mut()
            .find(|m| m.url == url && m.key == key)
        else {
            return;
        };
        if check.passed {
            m.verified = Some(now);
        }
        m.last_check = check;
        self.keep_dropped_bounded(now, approval);
    }

    /// Dropped mirrors are kept to show the operator why, but no more than [`MAX_MIRRORS`]:
    /// the oldest failures go first.
    fn keep_dropped_bounded(&mut self, now: u64, approval: bool) {
        loop {
            let dropped: Vec<(usize, u64)> = self
                .mirrors
                .iter()
                .enumerate()
                .filter(|(_, m)| self.standing(m, now, approval) == Some(Standing::Dropped))
                .map(|(i, m)| (i, m.last_check.at))
                .collect();
            if dropped.len() <= MAX_MIRRORS {
                return;
            }
            if let Some((i, _)) = dropped.iter().min_by_key(|(_, at)| *at) {
                self.mirrors.remove(*i);
            }
        }
    }

    /// Forgets mirrors whose claims lapsed. Returns whether any was.
    pub fn expire(&mut self, now: u64) -> bool {
        let before = self.mirrors.len();
        self.mirrors.retain(|m| m.fresh(now));
        self.mirrors.len() != before
    }

    /// The operator lists a mirror that waits for approval (its key, so it stays approved
    /// at its next claims).
    pub fn approve(&mut self, url: &str, now: u64) -> Result<(), Refusal> {
        let m = self.find(url).ok_or(Refusal::Unknown)?;
        if self.standing(m, now, true) != Some(Standing::AwaitingApproval) {
            return Err(Refusal::Unknown);
        }
        if self.count(now, true, Standing::Listed) >= MAX_MIRRORS {
            return Err(Refusal::Full);
        }
        let key = m.key.clone();
        self.approved.retain(|k| *k != key);
        self.approved.push(key);
        if self.approved.len() > MAX_APPROVED {
            self.approved.remove(0);
        }
        Ok(())
    }

    /// The operator removes a mirror: unlisted now, and its address and key refused until
    /// the operator allows them again.
    pub fn remove(&mut self, url: &str, now: u64) -> Result<(), Refusal> {
        let i = self
            .mirrors
            .iter()
            .position(|m| m.url == url)
            .ok_or(Refusal::Unknown)?;
        let m = self.mirrors.remove(i);
        self.approved.retain(|k| *k != m.key);
        self.removed.retain(|r| r.url != m.url);
        self.removed.push(Removed {
            url: m.url,
            key: m.key,
            at: now,
        });
        if self.removed.len() > MAX_REMOVED {
            self.removed.remove(0);
        }
        Ok(())
    }

    /// The operator lets a removed mirror claim again.
    pub fn allow(&mut self, url: &str) -> Result<(), Refusal> {
        let before = self.removed.len();
        self.removed.retain(|r| r.url != url);
        if self.removed.len() == before {
            Err(Refusal::Unknown)
        } else {
            Ok(())
        }
    }
}

/// A claim that passed the checks made without fetching anything.
pub struct Received {
    url: String,
    key: String,
    time: u64,
    holds: Vec<String>,
}

/// A mirror as the config page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MirrorView {
    pub url: String,
    pub standing: Standing,
    pub verified: Option<u64>,
    pub last_check: Check,
    pub episodes: usize,
}

/// The config page's view of the book.
#[derive(Debug, Clone, Default)]
pub struct MirrorsView {
    pub mirrors: Vec<MirrorView>,
    pub removed: Vec<Removed>,
    /// New mirrors wait for the operator's approval.
    pub approval: bool,
}

impl Federation {
    fn approval(&self) -> bool {
        self.station.settings().federation.approve_mirrors
    }

    /// Changes the book and saves it (durably, before the answer goes out).
    fn with_book<T>(&self, f: impl FnOnce(&mut Book) -> T) -> T {
        let mut book = match self.book.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let before = book.clone();
        let out = f(&mut book);
        if *book != before {
            if let Err(e) = self.store.set_setting(Setting::Mirrors, &*book) {
                tracing::warn!("saving the list of mirrors: {e}");
            }
        }
        out
    }

    fn read_book<T>(&self, f: impl FnOnce(&Book) -> T) -> T {
        match self.book.lock() {
            Ok(b) => f(&b),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    /// The base addresses of the mirrors listed now (checked, claiming, approved).
    pub fn mirrors(&self) -> Vec<String> {
        let (now, approval) = (unix_secs(), self.approval());
        self.read_book(|b| b.listed(now, approval).map(|m| m.url.clone()).collect())
    }

    /// The listed mirrors that hold the episode `infohash`: their web seeds go in its
    /// torrent and feed entry.
    pub fn mirrors_for(&self, infohash: &str) -> Vec<String> {
        let (now, approval) = (unix_secs(), self.approval());
        self.read_book(|b| {
            b.listed(now, approval)
                .filter(|m| {
                    m.holds
                        .binary_search_by(|h| h.as_str().cmp(infohash))
                        .is_ok()
                })
                .map(|m| m.url.clone())
                .collect()
        })
    }

    /// Every mirror in the book and the removed ones, for the config page.
    pub fn mirrors_view(&self) -> MirrorsView {
        let (now, approval) = (unix_secs(), self.approval());
        self.read_book(|b| MirrorsView {
            mirrors: b
                .mirrors
                .iter()
                .filter_map(|m| {
                    Some(MirrorView {
                        url: m.url.clone(),
                        standing: b.standing(m, now, approval)?,
                        verified: m.verified,
                        last_check: m.last_check.clone(),
                        episodes: m.holds.len(),
                    })
                })
                .collect(),
            removed: b.removed.clone(),
            approval,
        })
    }

    pub fn approve_mirror(&self, url: &str) -> Result<(), Refusal> {
        self.with_book(|b| b.approve(url, unix_secs()))
    }

    pub fn remove_mirror(&self, url: &str) -> Result<(), Refusal> {
        self.with_book(|b| b.remove(url, unix_secs()))?;
        tracing::info!(mirror = %url, "the operator removed a mirror");
        Ok(())
    }

    pub fn allow_mirror(&self, url: &str) -> Result<(), Refusal> {
        self.with_book(|b| b.allow(url))
    }

    /// The checks of a claim that fetch nothing (see [`Book::receive`]); the caller then
    /// takes its turn to [`Federation::prove_claim`].
    pub fn receive_claim(&self, claim: &MirrorClaim) -> Result<Received, Refusal> {
        let origin_key = self.identity.public_hex();
        let (url, time, holds) = self.with_book(|b| b.receive(&origin_key, claim, unix_secs()))?;
        Ok(Received {
            url,
            key: claim.key.clone(),
            time,
            holds,
        })
    }

    /// Checks a received claim: the address serves a catalog signed by the claim's key,
    /// and random pieces of the episodes it names match this station's. Lists the mirror
    /// (or keeps it waiting for approval) when they do.
    pub async fn prove_claim(&self, claim: Received) -> Result<Standing, Refusal> {
        let holds = self.own_episodes(claim.holds);
        let check = match tokio::time::timeout(
            CLAIM_ANSWER_WITHIN,
            self.prove_claimant(&claim.url, &claim.key, &holds),
        )
        .await
        {
            Ok(check) => check,
            Err(_) => too_slow(),
        };
        let passed = check.passed;
        let (now, approval) = (unix_secs(), self.approval());
        let r = self.with_book(|b| {
            b.admit(
                &claim.url, &claim.key, claim.time, holds, check, now, approval,
            )
        });
        match &r {
            Ok(standing) => {
                tracing::info!(mirror = %claim.url, ?standing, "a mirror proved what it holds")
            }
            Err(e) if !passed => tracing::info!(mirror = %claim.url, "mirror claim refused: {e}"),
            Err(e) => tracing::info!(mirror = %claim.url, "mirror not listed: {e}"),
        }
        r
    }

    /// Of `holds`, the episodes that are this station's own (not mirrored from another).
    fn own_episodes(&self, mut holds: Vec<String>) -> Vec<String> {
        let lib = self.library.catalog();
        holds.retain(|ih| {
            lib.items
                .get(ih)
                .is_some_and(|item| !self.is_mirrored(item.path()))
        });
        holds
    }

    /// The claimant's address serves a catalog signed by the claim's key (so nobody claims
    /// another's address), then [`Federation::prove`].
    async fn prove_claimant(&self, url: &str, key: &str, holds: &[String]) -> Check {
        let catalog_ok = match canonical_url(url) {
            Ok(origin) => self
                .out
                .get(&origin, "/api/catalog", None, catalog::MAX_BYTES)
                .await
                .and_then(|f| f.success())
                .map_err(|e| {
                    tracing::info!(mirror = %url, "its catalog: {}", e.detail());
                    format!("its catalog: {e}")
                })
                .and_then(|body| {
                    catalog::open(&body, Some(key), None)
                        .map(|_| ())
                        .map_err(|e| match e {
                            // A parser's message can quote what the address answered.
                            catalog::Refused::Malformed(_) => {
                                "its catalog: not a streamp2p catalog".to_string()
                            }
                            e => format!("its catalog: {e}"),
                        })
                }),
            Err(e) => Err(e.to_string()),
        };
        if let Err(words) = catalog_ok {
            return Check {
                at: unix_secs(),
                passed: false,
                words,
            };
        }
        self.prove(url, holds).await
    }

    /// Fetches random pieces of `holds` from the web seed at `url` and checks them.
    async fn prove(&self, url: &str, holds: &[String]) -> Check {
        let origin = match canonical_url(url) {
            Ok(o) => o,
            Err(e) => {
                return Check {
                    at: unix_secs(),
                    passed: false,
                    words: e.to_string(),
                }
            }
        };
        let infos: Vec<(String, torrent::Info)> = holds
            .iter()
            .filter_map(|ih| Some((ih.clone(), self.library.info(ih)?)))
            .collect();
        let episodes: Vec<proof::Episode> = infos
            .iter()
            .map(|(ih, info)| proof::Episode { infohash: ih, info })
            .collect();
        let samples = proof::choose(&episodes, &mut rand::thread_rng());
        let origin = &origin;
        let outcome = proof::check(
            &samples,
            |s| async move { self.fetch_piece(origin, &s).await },
        )
        .await;
        Check {
            at: unix_secs(),
            passed: outcome.passed(),
            words: outcome.words(),
        }
    }

    /// One piece from a mirror's web seed, through the outbound rules: this node's own
    /// path for it, a byte range, and no more bytes than the piece has. Only a 206 answer
    /// is a piece (a whole file for a range is not).
    async fn fetch_piece(&self, origin: &Origin, s: &proof::Sample) -> Result<Vec<u8>, String> {
        let path = format!("/files/{}/{}", s.infohash, torrent::path_segment(&s.name));
        let cap = usize::try_from(s.size()).unwrap_or(usize::MAX);
        let got = self
            .out
            .get(origin, &path, Some(s.range.clone()), cap)
            .await
            .map_err(|e| {
                tracing::info!(mirror = %origin.base(), "piece: {}", e.detail());
                e.to_string()
            })?;
        if got.status != 206 {
            return Err(format!("answered HTTP {}", got.status));
        }
        Ok(got.body.to_vec())
    }

    /// Checks every mirror again every `federation.mirror_check_secs`, drops the ones that
    /// fail, forgets the ones that stopped claiming; until `shutdown`.
    pub(super) async fn check_mirrors(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let every = Duration::from_secs(self.station.settings().federation.mirror_check_secs);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let now = unix_secs();
            let due = self.with_book(|b| {
                b.expire(now);
                b.to_check(now)
            });
            for m in due {
                let holds = self.own_episodes(m.holds.clone());
                let check = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    r = tokio::time::timeout(CLAIM_ANSWER_WITHIN, self.prove(&m.url, &holds)) => {
                        r.unwrap_or_else(|_| too_slow())
                    }
                };
                if !check.passed {
                    tracing::warn!(mirror = %m.url, "mirror dropped: {}", check.words);
                }
                let approval = self.approval();
                self.with_book(|b| b.rechecked(&m.url, &m.key, check, unix_secs(), approval));
            }
        }
    }
}

fn too_slow() -> Check {
    Check {
        at: unix_secs(),
        passed: false,
        words: "too slow to hand over the pieces asked for".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{federation::identity::Identity, store::Store};

    const NOW: u64 = 1_700_000_000;

    fn id() -> (tempfile::TempDir, Identity) {
        let d = tempfile::tempdir().unwrap();
        let i = Identity::load_or_create(&Store::open(d.path()).unwrap()).unwrap();
        (d, i)
    }

    fn passed(at: u64) -> Check {
        Check {
            at,
            passed: true,
            words: "ok".into(),
        }
    }

    fn failed(at: u64) -> Check {
        Check {
            at,
            passed: false,
            words: "piece 2 of 'a.mp3' is not the same".into(),
        }
    }

    fn url(i: usize) -> String {
        format!("http://mirror{i}.example:8080")
    }

    /// Admits a mirror at `url(i)` with a passed check.
    fn admit(book: &mut Book, i: usize, now: u64, approval: bool) -> Result<Standing, Refusal> {
        book.admit(
            &url(i),
            &format!("key{i}"),
            now,
            vec!["ab".into()],
            passed(now),
            now,
            approval,
        )
    }

    #[test]
    fn addresses_must_be_plain() {
        for ok in [
            "http://radio.example.org",
            "https://radio.example.org:8443",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
        ] {
            assert_eq!(
                canonical_url(ok).map(|o| o.base()).as_deref(),
                Ok(ok),
                "{ok}"
            );
        }
        for bad in [
            "http://radio.example.org/",
            "http://radio.example.org/x",
            "http://lan.local/cgi-bin/reboot.cgi?action=reboot&x=",
            "http://evil.example#",
            "http://evil.example?",
            "http://user@lan.local",
            "http://evil.example@192.168.1.1",
            "ftp://radio.example.org",
            "HTTP://radio.example.org",
            "http://radio.example.org:80",
            "radio.example.org",
        ] {
            assert!(canonical_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn claims_are_signed_timed_and_not_replayable() {
        let (_d1, origin) = id();
        let (_d2, mirror) = id();
        let ok_key = origin.public_hex();
        let u = "http://127.0.0.1:9000";
        let holds = vec!["bb".repeat(20), "aa".repeat(20)];
        let mut book = Book::default();
        let claim = MirrorClaim::new(&mirror, &ok_key, u, NOW, holds.clone());
        let (got_url, time, got_holds) = book.receive(&ok_key, &claim, NOW + 5).unwrap();
        assert_eq!((got_url.as_str(), time), (u, NOW));
        assert_eq!(got_holds, ["aa".repeat(20), "bb".repeat(20)], "sorted");

        // For another station, with other episodes, or unsigned: refused.
        let (_d3, other) = id();
        assert_eq!(
            book.receive(&other.public_hex(), &claim, NOW),
            Err(Refusal::BadSignature)
        );
        let mut more = claim.clone();
        more.holds.push("cc".repeat(20));
        assert_eq!(
            book.receive(&ok_key, &more, NOW),
            Err(Refusal::BadSignature)
        );
        // The first format (no time): refused in words that say what to do.
        let old = MirrorClaim {
            time: None,
            ..claim.clone()
        };
        let e = book.receive(&ok_key, &old, NOW).unwrap_err();
        assert_eq!(e, Refusal::OldFormat);
        assert!(e.to_string().contains("update"));
        let json = r#"{"url":"http://x","key":"00","signature":"00"}"#;
        let parsed: MirrorClaim = serde_json::from_str(json).unwrap();
        assert_eq!(book.receive(&ok_key, &parsed, NOW), Err(Refusal::OldFormat));

        // Too old or from the future.
        let stale = MirrorClaim::new(&mirror, &ok_key, u, NOW - 3600, vec![]);
        assert_eq!(book.receive(&ok_key, &stale, NOW), Err(Refusal::Clock(60)));
        let ahead = MirrorClaim::new(&mirror, &ok_key, u, NOW + 700, vec![]);
        assert!(matches!(
            book.receive(&ok_key, &ahead, NOW),
            Err(Refusal::Clock(_))
        ));

        // Once admitted, the same claim again is a replay; a later one renews it.
        book.admit(u, &mirror.public_hex(), NOW, holds, passed(NOW), NOW, false)
            .unwrap();
        assert_eq!(
            book.receive(&ok_key, &claim, NOW + 10),
            Err(Refusal::Replayed)
        );
        let later = MirrorClaim::new(&mirror, &ok_key, u, NOW + 60, vec![]);
        book.receive(&ok_key, &later, NOW + 60).unwrap();
        assert_eq!(book.mirrors[0].claimed, NOW + 60);
    }

    #[test]
    fn failed_claims_take_no_place_and_real_mirrors_are_not_locked_out() {
        let mut book = Book::default();
        // Thirteen claimants that fail their checks: none is kept.
        for i in 0..13 {
            let r = book.admit(
                &url(i),
                &format!("key{i}"),
                NOW,
                vec![],
                failed(NOW),
                NOW,
                false,
            );
            assert!(matches!(r, Err(Refusal::Failed(_))));
        }
        assert!(book.mirrors.is_empty());
        // Sixteen honest ones are listed; the seventeenth waits for a free place.
        for i in 0..MAX_MIRRORS {
            assert_eq!(admit(&mut book, i, NOW, false), Ok(Standing::Listed));
        }
        assert_eq!(admit(&mut book, 99, NOW, false), Err(Refusal::Full));
        assert_eq!(book.listed(NOW, false).count(), MAX_MIRRORS);

        // One fails a scheduled check: dropped from the list, its place free.
        book.rechecked(&url(3), "key3", failed(NOW + 1), NOW + 1, false);
        assert_eq!(book.listed(NOW + 1, false).count(), MAX_MIRRORS - 1);
        assert!(!book.listed(NOW + 1, false).any(|m| m.url == url(3)));
        assert_eq!(
            book.standing(&book.mirrors[3], NOW + 1, false),
            Some(Standing::Dropped)
        );
        assert_eq!(admit(&mut book, 99, NOW + 2, false), Ok(Standing::Listed));
        // The dropped one passes again but the places are taken.
        assert_eq!(admit(&mut book, 3, NOW + 3, false), Err(Refusal::Full));
        assert_eq!(
            book.standing(&book.mirrors[3], NOW + 3, false),
            Some(Standing::Dropped)
        );
        // Another key cannot take over a listed address.
        assert_eq!(
            book.admit(
                &url(0),
                "intruder",
                NOW + 4,
                vec![],
                passed(NOW + 4),
                NOW + 4,
                false
            ),
            Err(Refusal::Taken)
        );
        assert_eq!(book.mirrors[0].key, "key0");
    }

    #[test]
    fn mirrors_that_stop_claiming_are_forgotten() {
        let mut book = Book::default();
        admit(&mut book, 1, NOW, false).unwrap();
        admit(&mut book, 2, NOW + RECLAIM_SECS, false).unwrap();
        let later = NOW + CLAIM_TTL_SECS + 1;
        assert_eq!(
            book.listed(later, false)
                .map(|m| m.url.clone())
                .collect::<Vec<_>>(),
            [url(2)],
            "not listed once lapsed, even before the book is tidied"
        );
        assert!(book.expire(later));
        assert_eq!(book.mirrors.len(), 1);
        assert!(book.to_check(later).iter().all(|m| m.url == url(2)));
    }

    #[test]
    fn approval_and_removal() {
        let (_d, mirror) = id();
        let origin_key = "00".repeat(32);
        let u = "http://127.0.0.1:9000";
        let mut book = Book::default();
        book.admit(u, &mirror.public_hex(), NOW, vec![], passed(NOW), NOW, true)
            .unwrap();
        assert_eq!(book.listed(NOW, true).count(), 0, "waits for the operator");
        assert_eq!(book.listed(NOW, false).count(), 1, "approval off: listed");
        book.approve(u, NOW).unwrap();
        assert_eq!(book.listed(NOW, true).count(), 1);
        assert_eq!(book.approve(u, NOW), Err(Refusal::Unknown), "once");

        // Removed: gone, and its next claims are refused until allowed again.
        book.remove(u, NOW).unwrap();
        assert_eq!(book.listed(NOW, false).count(), 0);
        let claim = MirrorClaim::new(&mirror, &origin_key, u, NOW + 1, vec![]);
        assert_eq!(
            book.receive(&origin_key, &claim, NOW + 1),
            Err(Refusal::Removed)
        );
        let elsewhere = MirrorClaim::new(&mirror, &origin_key, "http://127.0.0.2", NOW + 1, vec![]);
        assert_eq!(
            book.receive(&origin_key, &elsewhere, NOW + 1),
            Err(Refusal::Removed),
            "the same key at another address"
        );
        book.allow(u).unwrap();
        assert!(book.receive(&origin_key, &claim, NOW + 1).is_ok());
        assert!(!book.approved.contains(&mirror.public_hex()), "asked again");
    }

    #[test]
    fn the_first_format_and_this_one_are_read_back() {
        let old: Stored = serde_json::from_str(r#"["http://a", "http://b"]"#).unwrap();
        assert_eq!(old.into_book(), Book::default());
        let mut book = Book::default();
        admit(&mut book, 1, NOW, false).unwrap();
        let text = serde_json::to_string(&book).unwrap();
        let back: Stored = serde_json::from_str(&text).unwrap();
        assert_eq!(back.into_book(), book);
    }
}
