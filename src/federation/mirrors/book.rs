//! The book itself, pure: the caller passes the time, and nothing is fetched or stored here,
//! so every rule is tested below with a fixed clock. A claim's checks that need no network
//! (address, signature, time near this box's clock and later than the mirror's last, not
//! removed), the places a checked mirror takes or loses, where each stands (listed, awaiting
//! approval, dropped), lapse when it stops claiming, the operator's approved and removed
//! sets, and the stored format with the first one it replaces.

use serde::{Deserialize, Serialize};

use super::{
    claim::{canonical_url, claim_text, MirrorClaim, RECLAIM_SECS},
    Refusal,
};
use crate::federation::identity;

/// Most mirrors listed at once, and most kept waiting for approval or shown as dropped.
const MAX_MIRRORS: usize = 16;
/// A mirror whose last claim is older than this is forgotten: three missed claims.
const CLAIM_TTL_SECS: u64 = 3 * RECLAIM_SECS;
/// Largest distance between a claim's time and this box's clock.
const CLAIM_SKEW_SECS: u64 = 600;
/// Most episodes one claim may name (a mirror's budget holds far fewer).
const MAX_HOLDS: usize = 10_000;
/// Removed mirrors remembered (the oldest removal is forgotten beyond that).
const MAX_REMOVED: usize = 64;
/// Approved keys remembered.
const MAX_APPROVED: usize = 64;

/// The result of a mirror's last check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub at: u64,
    pub passed: bool,
    /// In English, for the log and the claimant's answer.
    pub words: String,
    /// What happened, for the config page to say in the operator's language. Checks
    /// stored before it was kept have none (their `words` are shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

/// How a mirror's check went, as the config page says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Verdict {
    /// Every random piece asked for matched.
    Matched { pieces: usize },
    /// Piece `piece` (counted from 1) of the file `name` came back different.
    Wrong { name: String, piece: usize },
    /// A piece of `name` could not be had.
    Unanswered { name: String },
    /// It claims none of this station's episodes.
    Nothing,
    /// Its address did not answer.
    Unreachable,
    /// Its address answered, but not with a station's signed catalog.
    NotStation,
    /// Its address is not one a mirror may have.
    BadAddress,
    /// It took longer than a check may.
    TooSlow,
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
    /// `MAX_MIRRORS`, even after approval was turned off with many waiting).
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
            verdict: None,
        }
    }

    fn failed(at: u64) -> Check {
        Check {
            at,
            passed: false,
            words: "piece 2 of 'a.mp3' is not the same".into(),
            verdict: None,
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
