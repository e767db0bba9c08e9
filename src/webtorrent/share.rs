//! Which pieces the node shows each WebRTC peer, so that listeners serve each other first.
//!
//! The node knows, per torrent, which pieces every connected WebRTC peer holds (from their
//! BITFIELD and HAVE messages). To a peer it shows only the pieces no *other* connected peer
//! holds; the rest stay hidden, so the peer takes them from the listeners that have them. A
//! peer that gets no new piece for `wait` (it is not connected to those listeners, or they
//! are slow) is shown everything it lacks: the node never holds back a listener that nobody
//! else serves. A lone listener sees every piece at once.
//!
//! Why hiding rather than refusing requests (BEP 6 REJECT, choke cycles): webtorrent 2.8.5
//! requests a piece only from a wire whose bitfield has it, and in Node it re-plans its
//! requests at once on every reject, picking the same next piece (sequential selection) from
//! the same wire while the other wires' pipelines are full; a choke drops all of a wire's
//! requests. Hidden pieces cost nothing: no request, no refusal, no round trip. A shown
//! piece cannot be taken back (HAVE is final), which is why the node shows late rather than
//! early.
//!
//! Invariants: every bit set is for a piece of the torrent (`pieces` bits per peer, spare
//! bits of wire bitfields are refused); `holders[p]` is the number of joined peers whose
//! `has` holds `p`; a peer is shown nothing it holds itself only if it held it when shown.
//! Memory is two bits per piece per connected peer.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use bitvec::prelude::*;

type Bits = BitVec<u8, Msb0>;

/// A peer of a torrent: the remote peer id of its connection (unique per torrent).
pub type PeerKey = [u8; 20];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("have for piece {index} of a {pieces}-piece torrent")]
    NoSuchPiece { index: u32, pieces: u32 },
    #[error("bitfield of {got} bytes for a {pieces}-piece torrent")]
    BitfieldLength { got: usize, pieces: u32 },
    #[error("bitfield sets bits past the last piece")]
    SpareBits,
}

struct PeerView {
    /// What it holds, as it told us.
    has: Bits,
    /// What we told it we hold.
    shown: Bits,
    /// When `has` last grew (or it joined).
    progress_at: Instant,
}

/// One torrent's connected WebRTC peers and what they hold.
pub struct Swarm {
    pieces: u32,
    /// For each piece, how many joined peers hold it.
    holders: Vec<u32>,
    peers: HashMap<PeerKey, PeerView>,
}

impl Swarm {
    pub fn new(pieces: u32) -> Self {
        Self {
            pieces,
            holders: vec![0; pieces as usize],
            peers: HashMap::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// A peer connected: it holds nothing yet and has been shown nothing.
    pub fn join(&mut self, peer: PeerKey, now: Instant) {
        self.leave(&peer);
        let none = bitvec![u8, Msb0; 0; self.pieces as usize];
        self.peers.insert(
            peer,
            PeerView {
                has: none.clone(),
                shown: none,
                progress_at: now,
            },
        );
    }

    /// A peer went away: what it held is no longer held by it.
    pub fn leave(&mut self, peer: &PeerKey) {
        if let Some(v) = self.peers.remove(peer) {
            for p in v.has.iter_ones() {
                self.holders[p] -= 1;
            }
        }
    }

    /// The peer's BITFIELD: exactly `ceil(pieces / 8)` bytes with the spare bits clear, as
    /// BEP 3 asks. It replaces what the peer said before.
    pub fn bitfield(
        &mut self,
        peer: &PeerKey,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), ShareError> {
        let n = self.pieces as usize;
        if bytes.len() != n.div_ceil(8) {
            return Err(ShareError::BitfieldLength {
                got: bytes.len(),
                pieces: self.pieces,
            });
        }
        let mut bits = Bits::from_slice(bytes);
        if bits[n..].any() {
            return Err(ShareError::SpareBits);
        }
        bits.truncate(n);
        let Some(v) = self.peers.get_mut(peer) else {
            return Ok(());
        };
        let before = v.has.count_ones();
        for p in v.has.iter_ones() {
            self.holders[p] -= 1;
        }
        for p in bits.iter_ones() {
            self.holders[p] += 1;
        }
        v.has = bits;
        if v.has.count_ones() > before {
            v.progress_at = now;
        }
        Ok(())
    }

    /// The peer's HAVE for `index`.
    pub fn have(&mut self, peer: &PeerKey, index: u32, now: Instant) -> Result<(), ShareError> {
        if index >= self.pieces {
            return Err(ShareError::NoSuchPiece {
                index,
                pieces: self.pieces,
            });
        }
        let Some(v) = self.peers.get_mut(peer) else {
            return Ok(());
        };
        let p = index as usize;
        if !v.has[p] {
            v.has.set(p, true);
            self.holders[p] += 1;
            v.progress_at = now;
        }
        Ok(())
    }

    /// The pieces to show `peer` now, marked shown: those it lacks that no other connected
    /// peer holds, or all it lacks once it has gone `wait` without a new piece (a `wait` of
    /// zero shows everything at once).
    pub fn reveal(&mut self, peer: &PeerKey, now: Instant, wait: Duration) -> Vec<u32> {
        let Some(v) = self.peers.get_mut(peer) else {
            return Vec::new();
        };
        if v.shown.all() {
            return Vec::new();
        }
        let stalled = now.saturating_duration_since(v.progress_at) >= wait;
        let mut out = Vec::new();
        for p in v.shown.iter_zeros() {
            // `holders` counts the peer itself when it holds the piece: then it needs
            // nothing from anyone, and showing it costs nothing either.
            let others = self.holders[p] - u32::from(v.has[p]);
            if v.has[p] || stalled || others == 0 {
                out.push(p as u32);
            }
        }
        for &p in &out {
            v.shown.set(p as usize, true);
        }
        out
    }

    /// What `peer` has been shown, as the bytes of a BITFIELD message (spare bits clear).
    pub fn shown_bytes(&self, peer: &PeerKey) -> Vec<u8> {
        match self.peers.get(peer) {
            Some(v) => v.shown.as_raw_slice().to_vec(),
            None => vec![0; (self.pieces as usize).div_ceil(8)],
        }
    }
}

/// Every torrent's [`Swarm`], made when its first peer joins and dropped with its last.
#[derive(Default)]
pub struct Shares {
    swarms: HashMap<[u8; 20], Swarm>,
}

impl Shares {
    pub fn join(&mut self, info_hash: [u8; 20], pieces: u32, peer: PeerKey, now: Instant) {
        self.swarms
            .entry(info_hash)
            .or_insert_with(|| Swarm::new(pieces))
            .join(peer, now);
    }

    pub fn leave(&mut self, info_hash: &[u8; 20], peer: &PeerKey) {
        if let Some(s) = self.swarms.get_mut(info_hash) {
            s.leave(peer);
            if s.is_empty() {
                self.swarms.remove(info_hash);
            }
        }
    }

    /// The swarm of a torrent with a joined peer.
    pub fn swarm(&mut self, info_hash: &[u8; 20]) -> Option<&mut Swarm> {
        self.swarms.get_mut(info_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PeerKey = [1; 20];
    const B: PeerKey = [2; 20];
    const C: PeerKey = [3; 20];
    const WAIT: Duration = Duration::from_secs(4);

    fn full(pieces: u32) -> Vec<u8> {
        let mut b = bitvec![u8, Msb0; 1; pieces as usize];
        b.set_uninitialized(false);
        b.as_raw_slice().to_vec()
    }

    #[test]
    fn a_lone_peer_is_shown_everything_at_once() {
        let now = Instant::now();
        let mut s = Swarm::new(10);
        s.join(A, now);
        assert_eq!(s.reveal(&A, now, WAIT), (0..10).collect::<Vec<_>>());
        assert_eq!(s.shown_bytes(&A), vec![0xff, 0xc0]);
        assert!(s.reveal(&A, now + WAIT, WAIT).is_empty());
    }

    #[test]
    fn pieces_another_peer_holds_are_hidden_until_the_peer_stalls() {
        let t0 = Instant::now();
        let mut s = Swarm::new(10);
        s.join(A, t0);
        s.reveal(&A, t0, WAIT);
        // A holds 0..6 (one by HAVE, the rest by bitfield).
        s.bitfield(&A, &[0b1111_1000, 0], t0).unwrap();
        s.have(&A, 5, t0).unwrap();
        s.join(B, t0);
        assert_eq!(s.reveal(&B, t0, WAIT), vec![6, 7, 8, 9]);
        assert_eq!(s.shown_bytes(&B), vec![0b0000_0011, 0b1100_0000]);
        // B gets piece 0 from A: progress, nothing more to show.
        s.have(&B, 0, t0 + Duration::from_secs(3)).unwrap();
        assert_eq!(s.reveal(&B, t0 + Duration::from_secs(6), WAIT), vec![0]);
        // Then nothing for WAIT: it is shown all it lacks.
        assert_eq!(
            s.reveal(&B, t0 + Duration::from_secs(7), WAIT),
            vec![1, 2, 3, 4, 5]
        );
        assert_eq!(s.shown_bytes(&B), full(10));
    }

    #[test]
    fn what_only_a_departed_peer_held_is_shown_at_the_next_look() {
        let t0 = Instant::now();
        let mut s = Swarm::new(4);
        s.join(A, t0);
        s.bitfield(&A, &full(4), t0).unwrap();
        s.join(C, t0);
        s.have(&C, 1, t0).unwrap();
        s.join(B, t0);
        assert!(s.reveal(&B, t0, WAIT).is_empty());
        s.leave(&A);
        // Piece 1 is still with C.
        assert_eq!(s.reveal(&B, t0, WAIT), vec![0, 2, 3]);
        s.leave(&C);
        assert_eq!(s.reveal(&B, t0, WAIT), vec![1]);
    }

    #[test]
    fn wait_zero_shows_everything() {
        let t0 = Instant::now();
        let mut s = Swarm::new(3);
        s.join(A, t0);
        s.bitfield(&A, &full(3), t0).unwrap();
        s.join(B, t0);
        assert_eq!(s.reveal(&B, t0, Duration::ZERO), vec![0, 1, 2]);
    }

    #[test]
    fn holders_follow_bitfields_haves_and_departures() {
        let t0 = Instant::now();
        let mut s = Swarm::new(9);
        s.join(A, t0);
        s.bitfield(&A, &[0xff, 0x80], t0).unwrap();
        // A second bitfield replaces the first.
        s.bitfield(&A, &[0x80, 0x00], t0).unwrap();
        s.have(&A, 8, t0).unwrap();
        s.have(&A, 8, t0).unwrap();
        let mut want = vec![0; 9];
        want[0] = 1;
        want[8] = 1;
        assert_eq!(s.holders, want);
        // Joining again under the same key starts over.
        s.join(A, t0);
        assert_eq!(s.holders, vec![0; 9]);
        s.bitfield(&A, &[0xff, 0x80], t0).unwrap();
        s.leave(&A);
        assert_eq!(s.holders, vec![0; 9]);
        assert!(s.is_empty());
    }

    #[test]
    fn hostile_bitfields_and_haves_are_refused_without_harm() {
        let t0 = Instant::now();
        let mut s = Swarm::new(10);
        s.join(A, t0);
        assert_eq!(
            s.bitfield(&A, &[0xff], t0),
            Err(ShareError::BitfieldLength { got: 1, pieces: 10 })
        );
        assert_eq!(
            s.bitfield(&A, &[0xff; 3], t0),
            Err(ShareError::BitfieldLength { got: 3, pieces: 10 })
        );
        assert_eq!(
            s.bitfield(&A, &[0xff, 0xe0], t0),
            Err(ShareError::SpareBits)
        );
        assert_eq!(
            s.have(&A, 10, t0),
            Err(ShareError::NoSuchPiece {
                index: 10,
                pieces: 10
            })
        );
        assert!(s.have(&A, u32::MAX, t0).is_err());
        assert_eq!(s.holders, vec![0; 10]);
        // A flood of HAVEs and bitfields keeps the counts right.
        for i in 0..10_000u32 {
            s.have(&A, i % 10, t0).unwrap();
            s.bitfield(&A, &[(i % 256) as u8, 0], t0).unwrap();
        }
        // The last: HAVE 9, then a bitfield of 9999 % 256 = 0b0000_1111 (pieces 4..8).
        let mut want = vec![0; 10];
        want[4..8].fill(1);
        assert_eq!(s.holders, want);
        // Unknown peers and an empty torrent are no trouble.
        assert!(s.reveal(&C, t0, WAIT).is_empty());
        assert!(s.have(&C, 1, t0).is_ok());
        let mut empty = Swarm::new(0);
        empty.join(A, t0);
        assert!(empty.bitfield(&A, &[], t0).is_ok());
        assert!(empty.have(&A, 0, t0).is_err());
        assert!(empty.reveal(&A, t0, WAIT).is_empty());
        assert!(empty.shown_bytes(&A).is_empty());
    }

    #[test]
    fn shares_drop_a_torrent_with_its_last_peer() {
        let t0 = Instant::now();
        let mut sh = Shares::default();
        let ih = [9; 20];
        sh.join(ih, 5, A, t0);
        sh.join(ih, 5, B, t0);
        sh.leave(&ih, &A);
        assert!(sh.swarm(&ih).is_some());
        sh.leave(&ih, &B);
        assert!(sh.swarm(&ih).is_none());
        sh.leave(&ih, &B);
    }
}
