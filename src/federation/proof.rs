//! Proof that a mirror holds what it claims: randomly chosen pieces of the episodes it says
//! it holds, fetched from its web seed and checked with SHA-1 against this station's own
//! piece hashes (the info dictionaries its library made). A mirror cannot know in advance
//! which pieces will be asked, so it must hold them all to pass every check.
//!
//! Choosing the pieces and checking bytes are pure; the fetching is given in, so the rules
//! are tested here without a network.

use std::{future::Future, ops::Range};

use rand::{seq::index::sample, Rng};
use sha1::{Digest, Sha1};

use crate::library::torrent::Info;

/// Episodes sampled in one check: enough that a mirror holding only some of what it claims
/// is caught, few enough that a check stays a few megabytes.
pub const EPISODES_PER_CHECK: usize = 8;
/// Pieces of each sampled episode, at most.
pub const PIECES_PER_EPISODE: usize = 3;
/// Bytes of one episode's pieces aimed at: a 60 MB episode has 64 KiB pieces (three are
/// checked), a 4 GB one 4 MiB pieces (one is). One check reads at most 8 x 4 MiB.
const BYTES_PER_EPISODE: u64 = 2 * 1024 * 1024;

/// One of this station's episodes that a mirror says it holds.
pub struct Episode<'a> {
    pub infohash: &'a str,
    pub info: &'a Info,
}

/// One piece to ask a mirror for, and what its bytes must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub infohash: String,
    /// The file's name: the web seed's path ends with it.
    pub name: String,
    /// The piece's number (counted from 0), for the operator's words.
    pub index: usize,
    /// Its bytes in the file.
    pub range: Range<u64>,
    hash: [u8; 20],
}

impl Sample {
    pub fn size(&self) -> u64 {
        self.range.end - self.range.start
    }

    /// Whether `bytes` are exactly this piece.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.size() && Sha1::digest(bytes).as_slice() == self.hash
    }
}

/// The pieces of one file: (index, byte range, hash). Empty for an info dictionary whose
/// piece list does not fit its length (never made by this node's hasher, but read from disk).
fn pieces(info: &Info) -> Vec<(usize, Range<u64>, [u8; 20])> {
    let len = info.piece_length;
    if len == 0 || info.length == 0 || !info.pieces.len().is_multiple_of(20) {
        return Vec::new();
    }
    let count = info.length.div_ceil(len);
    if count != (info.pieces.len() / 20) as u64 {
        return Vec::new();
    }
    info.pieces
        .chunks_exact(20)
        .enumerate()
        .filter_map(|(i, h)| {
            let start = i as u64 * len;
            let range = start..(start + len).min(info.length);
            Some((i, range, <[u8; 20]>::try_from(h).ok()?))
        })
        .collect()
}

/// Which pieces to ask for: up to [`EPISODES_PER_CHECK`] episodes chosen at random, and
/// of each up to [`PIECES_PER_EPISODE`] distinct pieces at random (fewer when they are
/// large), in a random order.
pub fn choose(episodes: &[Episode], rng: &mut impl Rng) -> Vec<Sample> {
    let usable: Vec<(&Episode, Vec<_>)> = episodes
        .iter()
        .map(|e| (e, pieces(e.info)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    let mut out = Vec::new();
    let picked = sample(rng, usable.len(), usable.len().min(EPISODES_PER_CHECK));
    for i in picked {
        let (episode, all) = &usable[i];
        let want = usize::try_from(BYTES_PER_EPISODE / episode.info.piece_length.max(1))
            .unwrap_or(usize::MAX)
            .clamp(1, PIECES_PER_EPISODE)
            .min(all.len());
        for p in sample(rng, all.len(), want) {
            let (index, range, hash) = all[p].clone();
            out.push(Sample {
                infohash: episode.infohash.to_string(),
                name: episode.info.name.clone(),
                index,
                range,
                hash,
            });
        }
    }
    out
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every piece asked for matched.
    Proven { pieces: usize, episodes: usize },
    /// A piece came back with other bytes than this station's.
    Wrong { name: String, index: usize },
    /// A piece could not be had: the mirror did not answer, refused, or was too slow.
    Unanswered { name: String, why: String },
    /// None of the episodes it claims could be checked (nothing to ask for).
    Nothing,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Proven { .. })
    }

    /// The result in words for the operator (and the claimant, who learns nothing it did
    /// not send itself).
    pub fn words(&self) -> String {
        match self {
            Outcome::Proven { pieces, episodes } => format!(
                "{pieces} random piece(s) of {episodes} episode(s) matched this station's copy"
            ),
            Outcome::Wrong { name, index } => format!(
                "piece {} of '{name}' is not the same as this station's copy",
                index + 1
            ),
            Outcome::Unanswered { name, why } => {
                format!("did not hand over a piece of '{name}' ({why})")
            }
            Outcome::Nothing => "claims none of this station's episodes".into(),
        }
    }
}

/// Asks for every sample with `fetch` (one at a time: a check is a background chore, and
/// one piece in memory at once is enough) and stops at the first that fails.
pub async fn check<F, Fut>(samples: &[Sample], mut fetch: F) -> Outcome
where
    F: FnMut(Sample) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, String>>,
{
    if samples.is_empty() {
        return Outcome::Nothing;
    }
    for s in samples {
        match fetch(s.clone()).await {
            Ok(bytes) if s.matches(&bytes) => {}
            Ok(_) => {
                return Outcome::Wrong {
                    name: s.name.clone(),
                    index: s.index,
                }
            }
            Err(why) => {
                return Outcome::Unanswered {
                    name: s.name.clone(),
                    why,
                }
            }
        }
    }
    let mut episodes: Vec<&str> = samples.iter().map(|s| s.infohash.as_str()).collect();
    episodes.sort_unstable();
    episodes.dedup();
    Outcome::Proven {
        pieces: samples.len(),
        episodes: episodes.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    /// A file of `size` bytes (its byte i is i mod 251) and its info dictionary.
    fn file(name: &str, size: usize, piece: u64) -> (Vec<u8>, Info) {
        let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let pieces = bytes
            .chunks(piece as usize)
            .flat_map(|c| Sha1::digest(c).to_vec())
            .collect();
        let info = Info {
            length: size as u64,
            name: name.into(),
            piece_length: piece,
            pieces,
        };
        (bytes, info)
    }

    fn fetch_from(
        bytes: &[u8],
    ) -> impl FnMut(Sample) -> std::future::Ready<Result<Vec<u8>, String>> + '_ {
        move |s| {
            let r = s.range.start as usize..s.range.end as usize;
            std::future::ready(Ok(bytes[r].to_vec()))
        }
    }

    #[tokio::test]
    async fn an_honest_copy_passes_and_one_wrong_byte_fails() {
        // 10 pieces of 16 KiB and a short last one.
        let (bytes, info) = file("show.mp3", 10 * 16384 + 100, 16384);
        let eps = [Episode {
            infohash: "aa",
            info: &info,
        }];
        let mut rng = StdRng::seed_from_u64(7);
        let samples = choose(&eps, &mut rng);
        assert_eq!(samples.len(), PIECES_PER_EPISODE);
        let mut idx: Vec<usize> = samples.iter().map(|s| s.index).collect();
        idx.sort_unstable();
        idx.dedup();
        assert_eq!(idx.len(), PIECES_PER_EPISODE, "distinct pieces");
        let outcome = check(&samples, fetch_from(&bytes)).await;
        assert_eq!(
            outcome,
            Outcome::Proven {
                pieces: 3,
                episodes: 1
            }
        );
        assert!(outcome.passed());

        // Every piece, the short last one included, is checked by its own length and hash.
        let last = pieces(&info).pop().unwrap();
        assert_eq!(last.1, 10 * 16384..10 * 16384 + 100);

        // One byte changed in every piece: whichever is asked, the check fails.
        let mut bad = bytes.clone();
        for i in (0..bad.len()).step_by(16384) {
            bad[i] ^= 1;
        }
        let outcome = check(&samples, fetch_from(&bad)).await;
        assert!(matches!(outcome, Outcome::Wrong { .. }), "{outcome:?}");
        assert!(outcome.words().contains("show.mp3"));

        // Bytes of the right hash but cut short, or a whole file for a range, fail too.
        let s = &samples[0];
        let piece = &bytes[s.range.start as usize..s.range.end as usize];
        assert!(s.matches(piece));
        assert!(!s.matches(&piece[1..]));
        assert!(!s.matches(&bytes));

        let unanswered = check(&samples, |_| std::future::ready(Err("unreachable".into()))).await;
        assert!(!unanswered.passed());
        assert!(unanswered.words().contains("unreachable"));
        assert_eq!(
            check(&[], fetch_from(&bytes)).await,
            Outcome::Nothing,
            "nothing to ask for proves nothing"
        );
    }

    #[test]
    fn choices_are_bounded_random_and_skip_broken_dictionaries() {
        let small: Vec<(Vec<u8>, Info)> = (0..20)
            .map(|i| file(&format!("{i}.mp3"), 5 * 16384, 16384))
            .collect();
        let names: Vec<String> = (0..20).map(|i| format!("{i:02}")).collect();
        let eps: Vec<Episode> = small
            .iter()
            .zip(&names)
            .map(|((_, info), ih)| Episode { infohash: ih, info })
            .collect();
        let mut rng = StdRng::seed_from_u64(1);
        let a = choose(&eps, &mut rng);
        let b = choose(&eps, &mut rng);
        assert_eq!(a.len(), EPISODES_PER_CHECK * PIECES_PER_EPISODE);
        assert_ne!(a, b, "each check asks for other pieces");
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            seen.extend(choose(&eps, &mut rng).into_iter().map(|s| s.infohash));
        }
        assert_eq!(
            seen.len(),
            20,
            "over many checks every episode is asked for"
        );

        // Large pieces: one per episode.
        let big = Info {
            length: 3 * 4 * 1024 * 1024,
            name: "big.mp3".into(),
            piece_length: 4 * 1024 * 1024,
            pieces: vec![0; 60],
        };
        let one = choose(
            &[Episode {
                infohash: "bb",
                info: &big,
            }],
            &mut rng,
        );
        assert_eq!(one.len(), 1);

        // A piece list that does not fit the length, or an empty file: nothing to ask.
        let broken = Info {
            pieces: vec![0; 40],
            ..big.clone()
        };
        let empty = Info {
            length: 0,
            pieces: vec![],
            ..big
        };
        let none = choose(
            &[
                Episode {
                    infohash: "cc",
                    info: &broken,
                },
                Episode {
                    infohash: "dd",
                    info: &empty,
                },
            ],
            &mut rng,
        );
        assert!(none.is_empty());
    }
}
