//! The BitTorrent peer wire protocol as WebTorrent speaks it over a data channel. Pure.
//!
//! A data channel carries the same byte stream as a TCP connection: the 68-byte handshake,
//! then length-prefixed messages (BEP 3), with BEP 10 extended messages and BEP 9
//! `ut_metadata` inside. WebTorrent cuts that stream into data-channel messages at arbitrary
//! points, so the parsers here work on a receive buffer: they return `Ok(None)` when more
//! bytes are needed and an error when the bytes can never make a valid message. Every length
//! is checked against a limit before anything is allocated.

use serde::{Deserialize, Serialize};

/// `pstr` of the handshake.
const PSTR: &[u8; 19] = b"BitTorrent protocol";
pub const HANDSHAKE_LEN: usize = 68;
/// Reserved byte 5, bit 0x10: the peer speaks BEP 10 extended messages.
const EXTENSION_BIT: u8 = 0x10;
/// Our extended message id for `ut_metadata` (what peers use when they send to us).
pub const UT_METADATA_ID: u8 = 1;
/// BEP 9 metadata pieces are 16 KiB.
pub const METADATA_PIECE: usize = 16 * 1024;
/// The largest block a peer may request: WebTorrent asks for 16 KiB; some clients use up to
/// 128 KiB, more than that is refused.
pub const MAX_BLOCK: u32 = 128 * 1024;
/// The largest message accepted from a peer: a piece message with the largest block. A
/// seeder receives nothing that big (a bitfield of our largest torrents is a few KiB), so a
/// longer length prefix is hostile and ends the connection before any allocation.
pub const MAX_MESSAGE: usize = MAX_BLOCK as usize + 9;

const CHOKE: u8 = 0;
const UNCHOKE: u8 = 1;
const INTERESTED: u8 = 2;
const NOT_INTERESTED: u8 = 3;
const HAVE: u8 = 4;
const BITFIELD: u8 = 5;
const REQUEST: u8 = 6;
const PIECE: u8 = 7;
const CANCEL: u8 = 8;
const EXTENDED: u8 = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("handshake does not start with \"BitTorrent protocol\"")]
    BadHandshake,
    #[error("handshake is for another infohash")]
    WrongInfoHash,
    #[error("message of {0} bytes is over the limit")]
    TooLong(usize),
    #[error("message id {id} with a {len}-byte body")]
    BadLength { id: u8, len: usize },
    #[error("bad extended message: {0}")]
    BadExtended(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub extensions: bool,
}

impl Handshake {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HANDSHAKE_LEN);
        b.push(PSTR.len() as u8);
        b.extend_from_slice(PSTR);
        let mut reserved = [0u8; 8];
        if self.extensions {
            reserved[5] |= EXTENSION_BIT;
        }
        b.extend_from_slice(&reserved);
        b.extend_from_slice(&self.info_hash);
        b.extend_from_slice(&self.peer_id);
        b
    }

    /// The handshake at the start of `buf`, `None` if fewer than 68 bytes have come.
    pub fn parse(buf: &[u8]) -> Result<Option<Self>, WireError> {
        // Refuse a wrong protocol string as soon as its first bytes show it.
        let head = buf.len().min(20);
        let mut want = [0u8; 20];
        want[0] = PSTR.len() as u8;
        want[1..].copy_from_slice(PSTR);
        if buf[..head] != want[..head] {
            return Err(WireError::BadHandshake);
        }
        let Some(b) = buf.get(..HANDSHAKE_LEN) else {
            return Ok(None);
        };
        let mut info_hash = [0u8; 20];
        info_hash.copy_from_slice(&b[28..48]);
        let mut peer_id = [0u8; 20];
        peer_id.copy_from_slice(&b[48..68]);
        Ok(Some(Self {
            info_hash,
            peer_id,
            extensions: b[25] & EXTENSION_BIT != 0,
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub index: u32,
    pub begin: u32,
    pub length: u32,
}

/// A message from a peer, with what a seeder needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    KeepAlive,
    Choke,
    Unchoke,
    Interested,
    NotInterested,
    Have(u32),
    /// The bitfield's bytes (at most `MAX_MESSAGE`, like any message); checked against the
    /// torrent by `share`.
    Bitfield(Vec<u8>),
    Request(Block),
    /// A block sent to us: a seeder has no use for it.
    Piece,
    Cancel(Block),
    /// BEP 10: `id` 0 is the extended handshake; others are the ids we gave in ours.
    Extended {
        id: u8,
        payload: Vec<u8>,
    },
    /// Anything else (DHT port, fast extension...): ignored, as BEP 3 asks.
    Other(u8),
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl Message {
    /// The message at the start of `buf` and the bytes it took, `None` if it is not all
    /// there yet. `max` bounds the length prefix.
    pub fn parse(buf: &[u8], max: usize) -> Result<Option<(Self, usize)>, WireError> {
        let Some(prefix) = buf.get(..4) else {
            return Ok(None);
        };
        let len = be32(prefix) as usize;
        if len > max {
            return Err(WireError::TooLong(len));
        }
        let Some(body) = buf.get(4..4 + len) else {
            return Ok(None);
        };
        let used = 4 + len;
        let Some((&id, rest)) = body.split_first() else {
            return Ok(Some((Self::KeepAlive, used)));
        };
        let exact = |n: usize| {
            if rest.len() == n {
                Ok(())
            } else {
                Err(WireError::BadLength {
                    id,
                    len: rest.len(),
                })
            }
        };
        let block = |rest: &[u8]| Block {
            index: be32(&rest[0..4]),
            begin: be32(&rest[4..8]),
            length: be32(&rest[8..12]),
        };
        let m = match id {
            CHOKE => exact(0).map(|_| Self::Choke)?,
            UNCHOKE => exact(0).map(|_| Self::Unchoke)?,
            INTERESTED => exact(0).map(|_| Self::Interested)?,
            NOT_INTERESTED => exact(0).map(|_| Self::NotInterested)?,
            HAVE => exact(4).map(|_| Self::Have(be32(rest)))?,
            BITFIELD => Self::Bitfield(rest.to_vec()),
            REQUEST => exact(12).map(|_| Self::Request(block(rest)))?,
            CANCEL => exact(12).map(|_| Self::Cancel(block(rest)))?,
            PIECE if rest.len() >= 8 => Self::Piece,
            PIECE => {
                return Err(WireError::BadLength {
                    id,
                    len: rest.len(),
                })
            }
            EXTENDED => match rest.split_first() {
                Some((&ext, payload)) => Self::Extended {
                    id: ext,
                    payload: payload.to_vec(),
                },
                None => return Err(WireError::BadLength { id, len: 0 }),
            },
            other => Self::Other(other),
        };
        Ok(Some((m, used)))
    }
}

fn frame(id: u8, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(5 + body.len());
    b.extend_from_slice(&(1 + body.len() as u32).to_be_bytes());
    b.push(id);
    b.extend_from_slice(body);
    b
}

pub fn keep_alive() -> Vec<u8> {
    vec![0; 4]
}

pub fn choke() -> Vec<u8> {
    frame(CHOKE, &[])
}

pub fn unchoke() -> Vec<u8> {
    frame(UNCHOKE, &[])
}

/// A bitfield message of `bits` (one bit per piece, spare bits of the last byte clear).
pub fn bitfield(bits: &[u8]) -> Vec<u8> {
    frame(BITFIELD, bits)
}

/// HAVE messages for `pieces`, one after another in one buffer.
pub fn haves(pieces: &[u32]) -> Vec<u8> {
    let mut b = Vec::with_capacity(9 * pieces.len());
    for p in pieces {
        b.extend(frame(HAVE, &p.to_be_bytes()));
    }
    b
}

/// The header of a piece message for a block of `len` bytes; the data follows it.
pub fn piece_header(index: u32, begin: u32, len: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(13);
    b.extend_from_slice(&(9 + len).to_be_bytes());
    b.push(PIECE);
    b.extend_from_slice(&index.to_be_bytes());
    b.extend_from_slice(&begin.to_be_bytes());
    b
}

#[derive(Serialize)]
struct OurExtHandshake<'a> {
    m: ExtIds,
    metadata_size: u64,
    reqq: u32,
    v: &'a str,
}

#[derive(Serialize)]
struct ExtIds {
    ut_metadata: u8,
}

/// Our BEP 10 handshake: we serve `ut_metadata` for an info dictionary of `metadata_size`.
pub fn extended_handshake(metadata_size: u64, reqq: u32) -> Vec<u8> {
    let h = OurExtHandshake {
        m: ExtIds {
            ut_metadata: UT_METADATA_ID,
        },
        metadata_size,
        reqq,
        v: concat!("streamp2p ", env!("CARGO_PKG_VERSION")),
    };
    let mut body = vec![0u8];
    body.extend(serde_bencode::to_bytes(&h).unwrap_or_default());
    frame(EXTENDED, &body)
}

#[derive(Deserialize)]
struct PeerExtHandshake {
    #[serde(default)]
    m: std::collections::BTreeMap<String, serde_bencode::value::Value>,
}

/// The peer's `ut_metadata` id from its extended handshake (`None`: it does not take them).
pub fn peer_ut_metadata_id(payload: &[u8]) -> Result<Option<u8>, WireError> {
    let h: PeerExtHandshake =
        serde_bencode::from_bytes(payload).map_err(|e| WireError::BadExtended(e.to_string()))?;
    Ok(match h.m.get("ut_metadata") {
        Some(serde_bencode::value::Value::Int(i)) => u8::try_from(*i).ok().filter(|i| *i != 0),
        _ => None,
    })
}

#[derive(Deserialize)]
struct MetadataMsg {
    msg_type: i64,
    piece: Option<i64>,
}

/// A `ut_metadata` message for us: `Some(piece)` for a request, `None` for anything else
/// (data or reject, which a seeder does not need).
pub fn metadata_request(payload: &[u8]) -> Result<Option<u32>, WireError> {
    // A request is only a dictionary; data messages carry bytes after it, and are not for us.
    let m: MetadataMsg = match serde_bencode::from_bytes(payload) {
        Ok(m) => m,
        Err(_) if payload.first() == Some(&b'd') && payload.len() > 2 => return Ok(None),
        Err(e) => return Err(WireError::BadExtended(e.to_string())),
    };
    if m.msg_type != 0 {
        return Ok(None);
    }
    let piece = m
        .piece
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(|| WireError::BadExtended("ut_metadata request without a piece".into()))?;
    Ok(Some(piece))
}

#[derive(Serialize)]
struct MetadataReply {
    msg_type: u8,
    piece: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_size: Option<u64>,
}

/// The answer to a `ut_metadata` request for `piece` of `info` (the bencoded info
/// dictionary), sent with the peer's id `peer_id`: the piece, or a reject if there is none.
pub fn metadata_reply(peer_id: u8, piece: u32, info: &[u8]) -> Vec<u8> {
    let start = (piece as usize).saturating_mul(METADATA_PIECE);
    let mut body = vec![peer_id];
    match info.get(start..) {
        Some(rest) if !rest.is_empty() => {
            let part = &rest[..rest.len().min(METADATA_PIECE)];
            let head = MetadataReply {
                msg_type: 1,
                piece,
                total_size: Some(info.len() as u64),
            };
            body.extend(serde_bencode::to_bytes(&head).unwrap_or_default());
            body.extend_from_slice(part);
        }
        _ => {
            let head = MetadataReply {
                msg_type: 2,
                piece,
                total_size: None,
            };
            body.extend(serde_bencode::to_bytes(&head).unwrap_or_default());
        }
    }
    frame(EXTENDED, &body)
}

/// Why a block request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadRequest {
    #[error("piece {0} does not exist")]
    NoSuchPiece(u32),
    #[error("block length {0} is 0 or over the limit")]
    BadLength(u32),
    #[error("block ends past the end of its piece")]
    PastPiece,
}

/// The shape of a torrent, for checking requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub length: u64,
    pub piece_length: u64,
}

impl Layout {
    pub fn pieces(&self) -> u32 {
        if self.piece_length == 0 {
            return 0;
        }
        u32::try_from(self.length.div_ceil(self.piece_length)).unwrap_or(u32::MAX)
    }

    fn piece_size(&self, index: u32) -> u64 {
        let start = u64::from(index) * self.piece_length;
        self.piece_length.min(self.length.saturating_sub(start))
    }

    /// The file offset of a valid request.
    pub fn check(&self, b: &Block) -> Result<u64, BadRequest> {
        if b.index >= self.pieces() {
            return Err(BadRequest::NoSuchPiece(b.index));
        }
        if b.length == 0 || b.length > MAX_BLOCK {
            return Err(BadRequest::BadLength(b.length));
        }
        if u64::from(b.begin) + u64::from(b.length) > self.piece_size(b.index) {
            return Err(BadRequest::PastPiece);
        }
        Ok(u64::from(b.index) * self.piece_length + u64::from(b.begin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(ext: bool) -> Handshake {
        Handshake {
            info_hash: [7; 20],
            peer_id: *b"-WW0208-abcdefghijkl",
            extensions: ext,
        }
    }

    #[test]
    fn handshake_round_trips_and_waits_for_bytes() {
        let b = hs(true).to_bytes();
        assert_eq!(b.len(), HANDSHAKE_LEN);
        assert_eq!(b[25], 0x10);
        for n in 0..HANDSHAKE_LEN {
            assert_eq!(Handshake::parse(&b[..n]), Ok(None), "{n} bytes");
        }
        assert_eq!(Handshake::parse(&b), Ok(Some(hs(true))));
        let plain = Handshake::parse(&hs(false).to_bytes()).unwrap().unwrap();
        assert!(!plain.extensions);
    }

    #[test]
    fn bad_handshake_is_refused_early() {
        assert_eq!(
            Handshake::parse(b"\x13BitTorrent pr0"),
            Err(WireError::BadHandshake)
        );
        assert_eq!(
            Handshake::parse(b"GET / HTTP/1.1\r\n"),
            Err(WireError::BadHandshake)
        );
        assert_eq!(Handshake::parse(&[0u8; 68]), Err(WireError::BadHandshake));
    }

    fn all_messages() -> Vec<u8> {
        let mut s = Vec::new();
        s.extend(keep_alive());
        s.extend(frame(INTERESTED, &[]));
        s.extend(frame(HAVE, &5u32.to_be_bytes()));
        let mut req = Vec::new();
        for v in [1u32, 16384, 16384] {
            req.extend_from_slice(&v.to_be_bytes());
        }
        s.extend(frame(REQUEST, &req));
        s.extend(frame(CANCEL, &req));
        s.extend(frame(EXTENDED, b"\x00d1:md11:ut_metadatai3eee"));
        s.extend(frame(9, &[0x1a, 0xe1]));
        s
    }

    fn expected() -> Vec<Message> {
        let b = Block {
            index: 1,
            begin: 16384,
            length: 16384,
        };
        vec![
            Message::KeepAlive,
            Message::Interested,
            Message::Have(5),
            Message::Request(b),
            Message::Cancel(b),
            Message::Extended {
                id: 0,
                payload: b"d1:md11:ut_metadatai3eee".to_vec(),
            },
            Message::Other(9),
        ]
    }

    /// Feeds `stream` in chunks of `step` bytes into a receive buffer, as a data channel
    /// would deliver it, and collects the messages.
    fn feed(stream: &[u8], step: usize) -> Vec<Message> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for chunk in stream.chunks(step) {
            buf.extend_from_slice(chunk);
            while let Some((m, used)) = Message::parse(&buf, MAX_MESSAGE).unwrap() {
                out.push(m);
                buf.drain(..used);
            }
        }
        assert!(buf.is_empty());
        out
    }

    #[test]
    fn split_and_coalesced_input_give_the_same_messages() {
        let s = all_messages();
        for step in [1, 2, 3, 5, 7, 13, 64, s.len()] {
            assert_eq!(feed(&s, step), expected(), "step {step}");
        }
    }

    #[test]
    fn oversized_length_is_refused_before_the_body_arrives() {
        let huge = (MAX_MESSAGE as u32 + 1).to_be_bytes();
        assert_eq!(
            Message::parse(&huge, MAX_MESSAGE),
            Err(WireError::TooLong(MAX_MESSAGE + 1))
        );
        assert_eq!(
            Message::parse(&u32::MAX.to_be_bytes(), MAX_MESSAGE),
            Err(WireError::TooLong(u32::MAX as usize))
        );
    }

    #[test]
    fn wrong_body_lengths_are_errors() {
        for (id, len) in [
            (CHOKE, 1),
            (INTERESTED, 3),
            (HAVE, 3),
            (REQUEST, 11),
            (CANCEL, 13),
            (PIECE, 4),
        ] {
            let m = frame(id, &vec![0; len]);
            assert_eq!(
                Message::parse(&m, MAX_MESSAGE),
                Err(WireError::BadLength { id, len }),
                "id {id}"
            );
        }
        assert!(Message::parse(&frame(EXTENDED, &[]), MAX_MESSAGE).is_err());
    }

    #[test]
    fn no_input_panics() {
        // Every short prefix of every message, and random bytes, parse without panicking.
        let s = all_messages();
        for i in 0..s.len() {
            for j in i..s.len() {
                let _ = Message::parse(&s[i..j], MAX_MESSAGE);
                let _ = Handshake::parse(&s[i..j]);
            }
        }
        for _ in 0..2000 {
            let n = rand::random::<usize>() % 40;
            let b: Vec<u8> = (0..n).map(|_| rand::random()).collect();
            let _ = Message::parse(&b, MAX_MESSAGE);
            let _ = peer_ut_metadata_id(&b);
            let _ = metadata_request(&b);
        }
    }

    #[test]
    fn bitfields_and_haves_round_trip() {
        assert_eq!(
            bitfield(&[0xff, 0xc0]),
            vec![0, 0, 0, 3, BITFIELD, 0xff, 0xc0]
        );
        let (m, used) = Message::parse(&bitfield(&[0x80]), MAX_MESSAGE)
            .unwrap()
            .unwrap();
        assert_eq!((m, used), (Message::Bitfield(vec![0x80]), 6));
        assert_eq!(
            Message::parse(&bitfield(&[]), MAX_MESSAGE),
            Ok(Some((Message::Bitfield(vec![]), 5)))
        );
        assert_eq!(
            feed(&haves(&[0, 7, u32::MAX]), 4),
            vec![Message::Have(0), Message::Have(7), Message::Have(u32::MAX)]
        );
        assert!(haves(&[]).is_empty());
    }

    #[test]
    fn extended_handshakes() {
        let ours = extended_handshake(1234, 256);
        let (m, _) = Message::parse(&ours, MAX_MESSAGE).unwrap().unwrap();
        let Message::Extended { id: 0, payload } = m else {
            panic!("{m:?}")
        };
        assert!(payload.starts_with(b"d1:md11:ut_metadatai1ee13:metadata_sizei1234e"));
        assert_eq!(peer_ut_metadata_id(&payload), Ok(Some(1)));
        // WebTorrent's: more keys, values of other kinds.
        let theirs =
            b"d1:md6:ut_pexi2e11:ut_metadatai3ee1:v14:WebTorrent 2.86:yourip4:\x7f\x00\x00\x01e";
        assert_eq!(peer_ut_metadata_id(theirs), Ok(Some(3)));
        assert_eq!(peer_ut_metadata_id(b"d1:v1:xe"), Ok(None));
        assert!(peer_ut_metadata_id(b"li1ee").is_err());
    }

    #[test]
    fn metadata_requests_and_replies() {
        assert_eq!(metadata_request(b"d8:msg_typei0e5:piecei2ee"), Ok(Some(2)));
        assert_eq!(metadata_request(b"d8:msg_typei2e5:piecei2ee"), Ok(None));
        assert_eq!(
            metadata_request(b"d8:msg_typei1e5:piecei0e10:total_sizei3eexyz"),
            Ok(None)
        );
        assert!(metadata_request(b"d8:msg_typei0ee").is_err());
        assert!(metadata_request(b"d8:msg_typei0e5:piecei-1ee").is_err());
        assert!(metadata_request(b"x").is_err());

        let info = vec![b'x'; METADATA_PIECE + 10];
        let r = metadata_reply(3, 1, &info);
        let (m, _) = Message::parse(&r, MAX_MESSAGE * 2).unwrap().unwrap();
        let Message::Extended { id: 3, payload } = m else {
            panic!("{m:?}")
        };
        let head = b"d8:msg_typei1e5:piecei1e10:total_sizei16394ee";
        assert_eq!(&payload[..head.len()], head);
        assert_eq!(payload.len(), head.len() + 10);
        let r = metadata_reply(3, 2, &info);
        assert!(r.ends_with(b"d8:msg_typei2e5:piecei2ee"));
        let r = metadata_reply(3, u32::MAX, &info);
        assert!(r.ends_with(b"e"));
    }

    #[test]
    fn requests_are_checked_against_the_layout() {
        // 3 pieces: 32 KiB, 32 KiB, 4 KiB.
        let l = Layout {
            length: 68 * 1024,
            piece_length: 32 * 1024,
        };
        assert_eq!(l.pieces(), 3);
        let b = |index, begin, length| Block {
            index,
            begin,
            length,
        };
        assert_eq!(l.check(&b(0, 0, 16384)), Ok(0));
        assert_eq!(l.check(&b(1, 16384, 16384)), Ok(48 * 1024));
        assert_eq!(l.check(&b(2, 0, 4096)), Ok(64 * 1024));
        assert_eq!(l.check(&b(2, 0, 4097)), Err(BadRequest::PastPiece));
        assert_eq!(l.check(&b(3, 0, 1)), Err(BadRequest::NoSuchPiece(3)));
        assert_eq!(l.check(&b(0, 0, 0)), Err(BadRequest::BadLength(0)));
        assert_eq!(
            l.check(&b(0, 0, MAX_BLOCK + 1)),
            Err(BadRequest::BadLength(MAX_BLOCK + 1))
        );
        assert_eq!(l.check(&b(0, u32::MAX, 16384)), Err(BadRequest::PastPiece));
        assert_eq!(
            l.check(&b(u32::MAX, 0, 1)),
            Err(BadRequest::NoSuchPiece(u32::MAX))
        );
        let empty = Layout {
            length: 0,
            piece_length: 0,
        };
        assert_eq!(empty.check(&b(0, 0, 1)), Err(BadRequest::NoSuchPiece(0)));
    }
}
