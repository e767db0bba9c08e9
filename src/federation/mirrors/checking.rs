//! The origin's side of a claim, and the scheduled re-check: the claim's checks that fetch
//! nothing, then the claimant's catalog (the address serves the claim's key) and random
//! pieces of the episodes it names (see [`crate::federation::proof`]), fetched through the
//! outbound rules within [`CLAIM_ANSWER_WITHIN`]; every listed mirror is checked the same way
//! every `federation.mirror_check_secs`. The only part of the book that waits on the
//! network, kept apart from the pure rules in `book`.

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use super::{claim::canonical_url, Check, MirrorClaim, Refusal, Standing, Verdict};
use crate::{
    federation::{catalog, proof, Federation},
    library::torrent,
    outbound::{Origin, OutboundError},
    store::unix_secs,
};

/// A claim's check (the claimant's catalog and the pieces) ends within this; a mirror that
/// cannot hand over a few megabytes in that time serves listeners badly too.
pub const CLAIM_ANSWER_WITHIN: Duration = Duration::from_secs(45);

/// A claim that passed the checks made without fetching anything.
pub struct Received {
    url: String,
    key: String,
    time: u64,
    holds: Vec<String>,
}

impl Federation {
    /// The checks of a claim that fetch nothing (see [`Book::receive`](super::Book::receive));
    /// the caller then takes its turn to [`Federation::prove_claim`].
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
                    let verdict = match e {
                        OutboundError::Unreachable(_) => Verdict::Unreachable,
                        OutboundError::Refused(_) => Verdict::NotStation,
                    };
                    (format!("its catalog: {e}"), verdict)
                })
                .and_then(|body| {
                    catalog::open(&body, Some(key), None)
                        .map(|_| ())
                        .map_err(|e| match e {
                            // A parser's message can quote what the address answered.
                            catalog::Refused::Malformed(_) => (
                                "its catalog: not a streamp2p catalog".to_string(),
                                Verdict::NotStation,
                            ),
                            e => (format!("its catalog: {e}"), Verdict::NotStation),
                        })
                }),
            Err(e) => Err((e.to_string(), Verdict::BadAddress)),
        };
        if let Err((words, verdict)) = catalog_ok {
            return Check {
                at: unix_secs(),
                passed: false,
                words,
                verdict: Some(verdict),
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
                    verdict: Some(Verdict::BadAddress),
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
            verdict: Some(verdict(&outcome)),
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
    pub(in crate::federation) async fn check_mirrors(self: Arc<Self>, shutdown: CancellationToken) {
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
        verdict: Some(Verdict::TooSlow),
    }
}

/// A check's outcome as the config page says it.
fn verdict(outcome: &proof::Outcome) -> Verdict {
    match outcome {
        proof::Outcome::Proven { pieces, .. } => Verdict::Matched { pieces: *pieces },
        proof::Outcome::Wrong { name, index } => Verdict::Wrong {
            name: name.clone(),
            piece: index + 1,
        },
        proof::Outcome::Unanswered { name, .. } => Verdict::Unanswered { name: name.clone() },
        proof::Outcome::Nothing => Verdict::Nothing,
    }
}
