//! The origin's book of the boxes that mirror it, as the rest of the node uses it: the
//! mirrors listed now (catalog, feed, torrents), the config page's view, the operator's
//! approvals and removals, the [`Refusal`]s, and the book kept behind a lock and saved to the
//! store at every change. The parts: `claim` (the signed, timed claim a mirror sends), `book`
//! (the pure rules: places, standings, lapse, the approved and removed sets, the stored
//! format) and `checking` (a claim received, its pieces fetched and checked, the scheduled
//! re-check).
//!
//! A claim names the mirror's address, the episodes of this station it holds and the time
//! it was made, signed by the mirror's key. It is refused when its time is far from this
//! box's clock or not later than the mirror's last claim (a replay). A mirror is listed
//! (catalog, feed, torrents) only while it passed its last check (pieces of its episodes,
//! see [`super::proof`]), its last claim is recent (mirrors re-claim every
//! [`RECLAIM_SECS`]; one that stops is forgotten after `CLAIM_TTL_SECS`) and, when the
//! operator asked for it, the operator approved it. Places go to checked mirrors only: a
//! claim that fails its check takes none.

mod book;
mod checking;
mod claim;

use serde::Serialize;

use super::Federation;
use crate::store::{unix_secs, Setting};

// What the rest of the node names, and the types in their signatures (so those stay
// nameable); the rest stays inside `mirrors`.
pub use book::{Book, Check, Mirror, Removed, Standing, Stored, Verdict};
pub use checking::{Received, CLAIM_ANSWER_WITHIN};
pub use claim::{MirrorClaim, RECLAIM_SECS};

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
}
