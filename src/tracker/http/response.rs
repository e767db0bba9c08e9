//! Bencoded HTTP tracker replies (BEP 3, BEP 7 for IPv6, BEP 23 compact, BEP 48 scrape).

use std::{collections::BTreeMap, net::SocketAddr};

use serde::Serialize;
use serde_bytes::ByteBuf;

use crate::tracker::peers::{PeerId, SwarmCounts};

#[derive(Serialize)]
struct Failure<'a> {
    #[serde(rename = "failure reason")]
    reason: &'a str,
}

pub fn failure(reason: &str) -> Vec<u8> {
    serde_bencode::to_bytes(&Failure { reason }).unwrap_or_default()
}

#[derive(Serialize)]
#[serde(untagged)]
enum Peers {
    Compact(ByteBuf),
    List(Vec<PeerEntry>),
}

#[derive(Serialize)]
struct PeerEntry {
    #[serde(rename = "peer id", skip_serializing_if = "Option::is_none")]
    peer_id: Option<ByteBuf>,
    ip: String,
    port: u16,
}

#[derive(Serialize)]
struct Announce {
    complete: u32,
    incomplete: u32,
    downloaded: u64,
    interval: u32,
    #[serde(rename = "min interval")]
    min_interval: u32,
    peers: Peers,
    #[serde(skip_serializing_if = "Option::is_none")]
    peers6: Option<ByteBuf>,
}

pub struct AnnounceOut<'a> {
    pub peers: &'a [(PeerId, SocketAddr)],
    pub counts: SwarmCounts,
    pub interval: u32,
    pub compact: bool,
    pub no_peer_id: bool,
}

pub fn announce(out: &AnnounceOut<'_>) -> Vec<u8> {
    let (peers, peers6) = if out.compact {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for (_, addr) in out.peers {
            match addr {
                SocketAddr::V4(a) => {
                    v4.extend_from_slice(&a.ip().octets());
                    v4.extend_from_slice(&a.port().to_be_bytes());
                }
                SocketAddr::V6(a) => {
                    v6.extend_from_slice(&a.ip().octets());
                    v6.extend_from_slice(&a.port().to_be_bytes());
                }
            }
        }
        let peers6 = (!v6.is_empty()).then(|| ByteBuf::from(v6));
        (Peers::Compact(ByteBuf::from(v4)), peers6)
    } else {
        let list = out
            .peers
            .iter()
            .map(|(id, addr)| PeerEntry {
                peer_id: (!out.no_peer_id).then(|| ByteBuf::from(id.to_vec())),
                ip: addr.ip().to_string(),
                port: addr.port(),
            })
            .collect();
        (Peers::List(list), None)
    };
    let reply = Announce {
        complete: out.counts.complete,
        incomplete: out.counts.incomplete,
        downloaded: out.counts.downloaded,
        interval: out.interval,
        // Clients may come back sooner (a new download starting), not hammer it.
        min_interval: (out.interval / 4).max(1),
        peers,
        peers6,
    };
    serde_bencode::to_bytes(&reply).unwrap_or_default()
}

#[derive(Serialize)]
struct ScrapeFile {
    complete: u32,
    downloaded: u64,
    incomplete: u32,
}

#[derive(Serialize)]
struct Scrape {
    files: BTreeMap<ByteBuf, ScrapeFile>,
}

pub fn scrape(files: &[([u8; 20], SwarmCounts)]) -> Vec<u8> {
    let files = files
        .iter()
        .map(|(h, c)| {
            (
                ByteBuf::from(h.to_vec()),
                ScrapeFile {
                    complete: c.complete,
                    downloaded: c.downloaded,
                    incomplete: c.incomplete,
                },
            )
        })
        .collect();
    serde_bencode::to_bytes(&Scrape { files }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_announce_bytes() {
        let peers = [
            ([1; 20], "1.2.3.4:258".parse().unwrap()),
            ([2; 20], "[::1]:1".parse().unwrap()),
        ];
        let b = announce(&AnnounceOut {
            peers: &peers,
            counts: SwarmCounts {
                complete: 1,
                incomplete: 2,
                downloaded: 3,
            },
            interval: 300,
            compact: true,
            no_peer_id: false,
        });
        let mut expected = b"d8:completei1e10:downloadedi3e10:incompletei2e8:intervali300e\
12:min intervali75e5:peers6:\x01\x02\x03\x04\x01\x026:peers618:"
            .to_vec();
        expected.extend_from_slice(&[0; 15]);
        expected.extend_from_slice(&[1, 0, 1, b'e']);
        assert_eq!(b, expected);
    }

    #[test]
    fn list_announce_and_failure() {
        let peers = [([b'a'; 20], "10.0.0.1:6881".parse().unwrap())];
        let b = announce(&AnnounceOut {
            peers: &peers,
            counts: SwarmCounts::default(),
            interval: 60,
            compact: false,
            no_peer_id: false,
        });
        let s = String::from_utf8(b).unwrap();
        assert!(
            s.contains("5:peersld2:ip8:10.0.0.17:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti6881eee"),
            "{s}"
        );
        assert_eq!(failure("no"), b"d14:failure reason2:noe");
    }

    #[test]
    fn scrape_bytes() {
        let b = scrape(&[(
            [0x41; 20],
            SwarmCounts {
                complete: 1,
                incomplete: 0,
                downloaded: 2,
            },
        )]);
        assert_eq!(
            b,
            b"d5:filesd20:AAAAAAAAAAAAAAAAAAAAd8:completei1e10:downloadedi2e10:incompletei0eeee"
        );
    }
}
