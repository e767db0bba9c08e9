//! BEP 15 UDP tracker packets: parsing requests and writing responses. Pure.
//!
//! All integers are big-endian. Requests carry a transaction id that every response
//! echoes; a packet too short to hold one cannot be answered and is dropped.

use std::net::{IpAddr, SocketAddr};

use crate::tracker::peers::{Event, SwarmCounts};

/// The magic constant of a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// Most infohashes in one scrape: what fits in a 1500-byte packet's reply.
pub const MAX_SCRAPE: usize = 74;

const CONNECT: u32 = 0;
const ANNOUNCE: u32 = 1;
const SCRAPE: u32 = 2;
const ERROR: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Connect {
        tx: u32,
    },
    Announce {
        conn: u64,
        tx: u32,
        info_hash: [u8; 20],
        peer_id: [u8; 20],
        left: u64,
        event: Event,
        numwant: Option<u32>,
        port: u16,
    },
    Scrape {
        conn: u64,
        tx: u32,
        hashes: Vec<[u8; 20]>,
    },
}

/// A packet that is not a request this tracker can serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Too short to even hold a transaction id: nothing to reply to.
    #[error("packet too short")]
    Unanswerable,
    /// Malformed, but the transaction id is known: an error packet can be sent.
    #[error("{msg}")]
    Bad { tx: u32, msg: &'static str },
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn id_at(b: &[u8], at: usize) -> Option<[u8; 20]> {
    b.get(at..at + 20)?.try_into().ok()
}

impl Request {
    pub fn parse(b: &[u8]) -> Result<Self, ParseError> {
        let (Some(conn), Some(action), Some(tx)) = (u64_at(b, 0), u32_at(b, 8), u32_at(b, 12))
        else {
            return Err(ParseError::Unanswerable);
        };
        let bad = |msg| ParseError::Bad { tx, msg };
        match action {
            CONNECT if conn == PROTOCOL_ID => Ok(Self::Connect { tx }),
            CONNECT => Err(bad("bad protocol id")),
            ANNOUNCE => {
                // Fixed part is 98 bytes; BEP 41 options may follow and are ignored.
                if b.len() < 98 {
                    return Err(bad("announce too short"));
                }
                let event = match u32_at(b, 80) {
                    Some(0) => Event::None,
                    Some(1) => Event::Completed,
                    Some(2) => Event::Started,
                    Some(3) => Event::Stopped,
                    _ => return Err(bad("unknown event")),
                };
                let numwant = u32_at(b, 92).ok_or(bad("announce too short"))?;
                let port = u16::from_be_bytes([b[96], b[97]]);
                if port == 0 {
                    return Err(bad("port 0"));
                }
                Ok(Self::Announce {
                    conn,
                    tx,
                    info_hash: id_at(b, 16).ok_or(bad("announce too short"))?,
                    peer_id: id_at(b, 36).ok_or(bad("announce too short"))?,
                    left: u64_at(b, 64).ok_or(bad("announce too short"))?,
                    event,
                    // -1 (all ones) means "default".
                    numwant: (numwant as i32 >= 0).then_some(numwant),
                    port,
                })
            }
            SCRAPE => {
                let body = &b[16..];
                if body.is_empty() || !body.len().is_multiple_of(20) {
                    return Err(bad("scrape needs whole 20-byte infohashes"));
                }
                if body.len() / 20 > MAX_SCRAPE {
                    return Err(bad("too many infohashes in one scrape"));
                }
                let hashes = body
                    .chunks_exact(20)
                    .filter_map(|c| c.try_into().ok())
                    .collect();
                Ok(Self::Scrape { conn, tx, hashes })
            }
            _ => Err(bad("unknown action")),
        }
    }
}

// The writers below append to `out`, so the socket loop reuses one buffer per reply.

pub fn connect_response(out: &mut Vec<u8>, tx: u32, conn: u64) {
    out.extend_from_slice(&CONNECT.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    out.extend_from_slice(&conn.to_be_bytes());
}

/// Peers are written in the family of the client's own address (BEP 15: 6 bytes per
/// IPv4 peer, 18 per IPv6 peer); the others are left out.
pub fn announce_response(
    out: &mut Vec<u8>,
    tx: u32,
    interval: u32,
    counts: SwarmCounts,
    peers: impl IntoIterator<Item = SocketAddr>,
    ipv6: bool,
) {
    out.extend_from_slice(&ANNOUNCE.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    out.extend_from_slice(&interval.to_be_bytes());
    out.extend_from_slice(&counts.incomplete.to_be_bytes());
    out.extend_from_slice(&counts.complete.to_be_bytes());
    for p in peers {
        match (p.ip().to_canonical(), ipv6) {
            (IpAddr::V4(ip), false) => out.extend_from_slice(&ip.octets()),
            (IpAddr::V6(ip), true) => out.extend_from_slice(&ip.octets()),
            _ => continue,
        }
        out.extend_from_slice(&p.port().to_be_bytes());
    }
}

pub fn scrape_response(out: &mut Vec<u8>, tx: u32, files: &[([u8; 20], SwarmCounts)]) {
    out.extend_from_slice(&SCRAPE.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    for (_, c) in files {
        out.extend_from_slice(&c.complete.to_be_bytes());
        out.extend_from_slice(
            &u32::try_from(c.downloaded)
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(&c.incomplete.to_be_bytes());
    }
}

pub fn error_response(out: &mut Vec<u8>, tx: u32, msg: &str) {
    out.extend_from_slice(&ERROR.to_be_bytes());
    out.extend_from_slice(&tx.to_be_bytes());
    out.extend_from_slice(msg.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announce_packet() -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        p.extend_from_slice(&ANNOUNCE.to_be_bytes());
        p.extend_from_slice(&7u32.to_be_bytes());
        p.extend_from_slice(&[0xaa; 20]);
        p.extend_from_slice(&[0xbb; 20]);
        p.extend_from_slice(&1u64.to_be_bytes()); // downloaded
        p.extend_from_slice(&500u64.to_be_bytes()); // left
        p.extend_from_slice(&2u64.to_be_bytes()); // uploaded
        p.extend_from_slice(&2u32.to_be_bytes()); // started
        p.extend_from_slice(&0u32.to_be_bytes()); // ip
        p.extend_from_slice(&9u32.to_be_bytes()); // key
        p.extend_from_slice(&(-1i32).to_be_bytes()); // numwant
        p.extend_from_slice(&6881u16.to_be_bytes());
        p
    }

    #[test]
    fn parses_connect_announce_scrape() {
        let mut c = PROTOCOL_ID.to_be_bytes().to_vec();
        c.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(Request::parse(&c), Ok(Request::Connect { tx: 5 }));

        let a = announce_packet();
        assert_eq!(a.len(), 98);
        match Request::parse(&a).unwrap() {
            Request::Announce {
                conn,
                tx,
                left,
                event,
                numwant,
                port,
                ..
            } => {
                assert_eq!(
                    (conn, tx, left, port),
                    (0x1122_3344_5566_7788, 7, 500, 6881)
                );
                assert_eq!((event, numwant), (Event::Started, None));
            }
            other => panic!("{other:?}"),
        }

        let mut s = 1u64.to_be_bytes().to_vec();
        s.extend_from_slice(&SCRAPE.to_be_bytes());
        s.extend_from_slice(&3u32.to_be_bytes());
        s.extend_from_slice(&[1; 40]);
        match Request::parse(&s).unwrap() {
            Request::Scrape { hashes, .. } => assert_eq!(hashes, vec![[1; 20], [1; 20]]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_truncation_is_rejected_without_panic() {
        let a = announce_packet();
        for len in 0..a.len() {
            let r = Request::parse(&a[..len]);
            if len < 16 {
                assert_eq!(r, Err(ParseError::Unanswerable));
            } else {
                assert!(
                    matches!(r, Err(ParseError::Bad { tx: 7, .. })),
                    "{len}: {r:?}"
                );
            }
        }
        // Every action number, on packets of every length up to a few hundred bytes.
        for action in 0..6u32 {
            for len in 0..300 {
                let mut p = vec![0x5a; len];
                if len >= 12 {
                    p[8..12].copy_from_slice(&action.to_be_bytes());
                }
                let _ = Request::parse(&p);
            }
        }
    }

    #[test]
    fn responses_are_laid_out_per_bep15() {
        let peers: Vec<SocketAddr> = vec![
            "1.2.3.4:5".parse().unwrap(),
            "[2001:db8::1]:6".parse().unwrap(),
        ];
        let counts = SwarmCounts {
            complete: 2,
            incomplete: 3,
            downloaded: 4,
        };
        let write = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut out = Vec::new();
            f(&mut out);
            out
        };
        let v4 = write(&|o| announce_response(o, 9, 120, counts, peers.clone(), false));
        assert_eq!(v4.len(), 20 + 6);
        assert_eq!(&v4[12..20], &[0, 0, 0, 3, 0, 0, 0, 2]);
        assert_eq!(&v4[20..], &[1, 2, 3, 4, 0, 5]);
        let v6 = write(&|o| announce_response(o, 9, 120, counts, peers.clone(), true));
        assert_eq!(v6.len(), 20 + 18);
        assert_eq!(
            write(&|o| scrape_response(o, 1, &[([0; 20], counts)]))[8..],
            [0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 3]
        );
        assert_eq!(
            write(&|o| error_response(o, 4, "no")),
            [0, 0, 0, 3, 0, 0, 0, 4, b'n', b'o']
        );
    }
}
