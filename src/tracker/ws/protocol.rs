//! WebTorrent tracker messages (the `bittorrent-tracker` WebSocket protocol). Pure.
//!
//! Messages are JSON text. Infohashes and peer ids are "binary strings": 20 characters in
//! U+0000..U+00FF, one per byte, as browsers build them. An announce may carry WebRTC
//! `offers`, each relayed to another peer of the swarm; a message with an `answer` is
//! relayed back to the peer named in `to_peer_id` with its `offer_id`. SDP bodies are
//! kept as raw JSON and never interpreted here.
//!
//! Besides the protocol, this tracker reads a listen page's `streamp2p-peers` message: the
//! peer ids of the browsers it is connected to (`peers::PeerTable::report_peers`). Other
//! clients never send it, and it is answered, if at all, by an announce reply that only
//! sets the announce interval ([`announce_soon`]), which `bittorrent-tracker` clients obey.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::tracker::peers::{Event, SwarmCounts};

/// Most offers relayed from one announce (WebTorrent sends up to 10).
pub const MAX_OFFERS: usize = 10;
/// Most peer ids read from one `streamp2p-peers` message (a page keeps a few dozen peers
/// at most; the rest are passed over).
pub const MAX_REPORTED: usize = 64;
/// The action of a listen page's report of its peers.
pub const PEERS_ACTION: &str = "streamp2p-peers";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a JSON object of the tracker protocol: {0}")]
    Json(String),
    #[error("unknown action")]
    UnknownAction,
    #[error("{0} must be a 20-character binary string")]
    BadId(&'static str),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("unknown event")]
    BadEvent,
}

/// Converts a binary string to its 20 bytes.
pub fn id_from_str(s: &str, what: &'static str) -> Result<[u8; 20], ParseError> {
    let mut out = [0u8; 20];
    let mut n = 0;
    for c in s.chars() {
        let b = u8::try_from(u32::from(c)).map_err(|_| ParseError::BadId(what))?;
        *out.get_mut(n).ok_or(ParseError::BadId(what))? = b;
        n += 1;
    }
    if n != 20 {
        return Err(ParseError::BadId(what));
    }
    Ok(out)
}

/// The binary string of some bytes.
pub fn id_to_string(b: &[u8]) -> String {
    b.iter().map(|&b| char::from(b)).collect()
}

#[derive(Deserialize)]
struct RawOffer<'a> {
    #[serde(borrow)]
    offer: &'a RawValue,
    offer_id: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    action: String,
    info_hash: Option<OneOrMany>,
    peer_id: Option<String>,
    numwant: Option<u32>,
    left: Option<serde_json::Number>,
    event: Option<String>,
    #[serde(borrow)]
    offers: Option<Vec<RawOffer<'a>>>,
    #[serde(borrow)]
    answer: Option<&'a RawValue>,
    to_peer_id: Option<String>,
    offer_id: Option<String>,
    peers: Option<Vec<String>>,
}

#[derive(Debug)]
pub struct Offer<'a> {
    pub offer: &'a RawValue,
    pub offer_id: String,
}

#[derive(Debug)]
pub enum Message<'a> {
    Announce {
        info_hash: [u8; 20],
        peer_id: [u8; 20],
        numwant: Option<u32>,
        left: Option<u64>,
        event: Event,
        offers: Vec<Offer<'a>>,
    },
    Answer {
        info_hash: [u8; 20],
        peer_id: [u8; 20],
        to_peer_id: [u8; 20],
        offer_id: String,
        answer: &'a RawValue,
    },
    Scrape {
        info_hashes: Vec<[u8; 20]>,
    },
    /// The browsers a page is connected to, by peer id, in whatever swarms its socket
    /// announced (a listen page announces one). Ids that are not 20 binary characters are
    /// passed over.
    Peers {
        peers: Vec<[u8; 20]>,
    },
}

impl<'a> Message<'a> {
    pub fn parse(text: &'a str) -> Result<Self, ParseError> {
        let m: RawMessage<'a> =
            serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
        let one_hash = |h: Option<OneOrMany>| match h {
            Some(OneOrMany::One(s)) => id_from_str(&s, "info_hash"),
            Some(OneOrMany::Many(_)) => Err(ParseError::BadId("info_hash")),
            None => Err(ParseError::Missing("info_hash")),
        };
        match m.action.as_str() {
            "announce" => {
                let info_hash = one_hash(m.info_hash)?;
                let peer_id = id_from_str(
                    m.peer_id.as_deref().ok_or(ParseError::Missing("peer_id"))?,
                    "peer_id",
                )?;
                if let Some(answer) = m.answer {
                    return Ok(Self::Answer {
                        info_hash,
                        peer_id,
                        to_peer_id: id_from_str(
                            m.to_peer_id
                                .as_deref()
                                .ok_or(ParseError::Missing("to_peer_id"))?,
                            "to_peer_id",
                        )?,
                        offer_id: m.offer_id.ok_or(ParseError::Missing("offer_id"))?,
                        answer,
                    });
                }
                let event = match m.event.as_deref() {
                    None | Some("") | Some("update") => Event::None,
                    Some("started") => Event::Started,
                    Some("stopped") => Event::Stopped,
                    Some("completed") => Event::Completed,
                    Some(_) => return Err(ParseError::BadEvent),
                };
                let mut offers = m.offers.unwrap_or_default();
                offers.truncate(MAX_OFFERS);
                Ok(Self::Announce {
                    info_hash,
                    peer_id,
                    numwant: m.numwant,
                    // JavaScript numbers may arrive as floats; a negative or non-finite
                    // one is treated like a missing one (a leecher).
                    left: m.left.and_then(|n| {
                        n.as_u64().or_else(|| {
                            n.as_f64()
                                .filter(|f| f.is_finite() && *f >= 0.0)
                                .map(|f| f as u64)
                        })
                    }),
                    event,
                    offers: offers
                        .into_iter()
                        .map(|o| Offer {
                            offer: o.offer,
                            offer_id: o.offer_id,
                        })
                        .collect(),
                })
            }
            "scrape" => {
                let info_hashes = match m.info_hash {
                    Some(OneOrMany::One(s)) => vec![id_from_str(&s, "info_hash")?],
                    Some(OneOrMany::Many(v)) => v
                        .iter()
                        .take(crate::tracker::udp::protocol::MAX_SCRAPE)
                        .map(|s| id_from_str(s, "info_hash"))
                        .collect::<Result<_, _>>()?,
                    None => return Err(ParseError::Missing("info_hash")),
                };
                Ok(Self::Scrape { info_hashes })
            }
            PEERS_ACTION => Ok(Self::Peers {
                peers: m
                    .peers
                    .ok_or(ParseError::Missing("peers"))?
                    .iter()
                    .take(MAX_REPORTED)
                    .filter_map(|s| id_from_str(s, "peers").ok())
                    .collect(),
            }),
            _ => Err(ParseError::UnknownAction),
        }
    }
}

#[derive(Serialize)]
struct AnnounceReply<'a> {
    action: &'static str,
    info_hash: &'a str,
    interval: u32,
    complete: u32,
    incomplete: u32,
}

pub fn announce_reply(info_hash: &[u8; 20], interval: u32, c: SwarmCounts) -> String {
    serde_json::to_string(&AnnounceReply {
        action: "announce",
        info_hash: &id_to_string(info_hash),
        interval,
        complete: c.complete,
        incomplete: c.incomplete,
    })
    .unwrap_or_default()
}

#[derive(Serialize)]
struct AnnounceSoon<'a> {
    action: &'static str,
    info_hash: &'a str,
    interval: u32,
}

/// Asks a browser to announce again in `secs`: an announce reply with only the interval,
/// which the client's timer takes (its next announce's reply sets the usual one back).
pub fn announce_soon(info_hash: &[u8; 20], secs: u32) -> String {
    serde_json::to_string(&AnnounceSoon {
        action: "announce",
        info_hash: &id_to_string(info_hash),
        interval: secs,
    })
    .unwrap_or_default()
}

#[derive(Serialize)]
struct Relayed<'a> {
    action: &'static str,
    info_hash: &'a str,
    /// The peer that sent the offer or answer.
    peer_id: &'a str,
    offer_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    offer: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<&'a RawValue>,
}

/// An offer from `from`, for another peer of the swarm.
pub fn relayed_offer(info_hash: &[u8; 20], from: &[u8; 20], o: &Offer<'_>) -> String {
    serde_json::to_string(&Relayed {
        action: "announce",
        info_hash: &id_to_string(info_hash),
        peer_id: &id_to_string(from),
        offer_id: &o.offer_id,
        offer: Some(o.offer),
        answer: None,
    })
    .unwrap_or_default()
}

/// An answer from `from`, back to the peer that made the offer.
pub fn relayed_answer(
    info_hash: &[u8; 20],
    from: &[u8; 20],
    offer_id: &str,
    answer: &RawValue,
) -> String {
    serde_json::to_string(&Relayed {
        action: "announce",
        info_hash: &id_to_string(info_hash),
        peer_id: &id_to_string(from),
        offer_id,
        offer: None,
        answer: Some(answer),
    })
    .unwrap_or_default()
}

#[derive(Serialize)]
struct ScrapeFile {
    complete: u32,
    incomplete: u32,
    downloaded: u64,
}

#[derive(Serialize)]
struct ScrapeReply {
    action: &'static str,
    files: std::collections::BTreeMap<String, ScrapeFile>,
}

pub fn scrape_reply(files: &[([u8; 20], SwarmCounts)]) -> String {
    let files = files
        .iter()
        .map(|(h, c)| {
            (
                id_to_string(h),
                ScrapeFile {
                    complete: c.complete,
                    incomplete: c.incomplete,
                    downloaded: c.downloaded,
                },
            )
        })
        .collect();
    serde_json::to_string(&ScrapeReply {
        action: "scrape",
        files,
    })
    .unwrap_or_default()
}

#[derive(Serialize)]
struct Failure<'a> {
    action: &'a str,
    #[serde(rename = "failure reason")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    info_hash: Option<String>,
}

pub fn failure(action: &str, reason: &str, info_hash: Option<&[u8; 20]>) -> String {
    serde_json::to_string(&Failure {
        action,
        reason,
        info_hash: info_hash.map(|h| id_to_string(h)),
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(b: u8) -> String {
        id_to_string(&[b; 20])
    }

    #[test]
    fn binary_strings_round_trip() {
        let bytes: Vec<u8> = (0..20).map(|i| i * 13).collect();
        let s = id_to_string(&bytes);
        assert_eq!(id_from_str(&s, "x").unwrap().to_vec(), bytes);
        assert!(id_from_str("short", "x").is_err());
        assert!(id_from_str(&"é".repeat(21), "x").is_err());
        assert!(id_from_str(&"€".repeat(20), "x").is_err());
    }

    #[test]
    fn parses_announce_with_offers() {
        let text = serde_json::json!({
            "action": "announce", "info_hash": bin(0xfe), "peer_id": bin(b'a'),
            "numwant": 5, "left": 1234.0, "event": "started", "uploaded": 0,
            "offers": [{"offer": {"type": "offer", "sdp": "v=0..."}, "offer_id": bin(b'o')}]
        })
        .to_string();
        match Message::parse(&text).unwrap() {
            Message::Announce {
                info_hash,
                left,
                offers,
                event,
                ..
            } => {
                assert_eq!(info_hash, [0xfe; 20]);
                assert_eq!(left, Some(1234));
                assert_eq!(event, Event::Started);
                assert_eq!(offers.len(), 1);
                let offer: serde_json::Value = serde_json::from_str(offers[0].offer.get()).unwrap();
                assert_eq!(offer["sdp"], "v=0...");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_answer_and_scrape() {
        let text = serde_json::json!({
            "action": "announce", "info_hash": bin(1), "peer_id": bin(2),
            "to_peer_id": bin(3), "offer_id": bin(4), "answer": {"type": "answer", "sdp": "x"}
        })
        .to_string();
        assert!(matches!(
            Message::parse(&text).unwrap(),
            Message::Answer { to_peer_id, .. } if to_peer_id == [3; 20]
        ));
        let s = serde_json::json!({"action": "scrape", "info_hash": [bin(1), bin(2)]}).to_string();
        assert!(matches!(
            Message::parse(&s).unwrap(),
            Message::Scrape { info_hashes } if info_hashes.len() == 2
        ));
    }

    #[test]
    fn a_pages_report_of_its_peers_keeps_good_ids_and_is_bounded() {
        let many: Vec<String> = (0..200).map(|i| bin(i as u8)).collect();
        let text = serde_json::json!({"action": PEERS_ACTION, "peers": many}).to_string();
        assert!(matches!(
            Message::parse(&text).unwrap(),
            Message::Peers { peers } if peers.len() == MAX_REPORTED && peers[1] == [1; 20]
        ));
        let text =
            serde_json::json!({"action": PEERS_ACTION, "peers": ["short", bin(7), "€".repeat(20)]})
                .to_string();
        assert!(matches!(
            Message::parse(&text).unwrap(),
            Message::Peers { peers } if peers == vec![[7; 20]]
        ));
        for text in [
            serde_json::json!({"action": PEERS_ACTION}).to_string(),
            serde_json::json!({"action": PEERS_ACTION, "peers": "abc"}).to_string(),
            serde_json::json!({"action": PEERS_ACTION, "peers": [1, 2]}).to_string(),
        ] {
            assert!(Message::parse(&text).is_err(), "{text}");
        }
        // The ask to announce soon is an announce reply the client's timer reads.
        let v: serde_json::Value = serde_json::from_str(&announce_soon(&[9; 20], 1)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"action": "announce", "info_hash": bin(9), "interval": 1})
        );
    }

    #[test]
    fn hostile_messages_are_errors() {
        for text in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"action":"bogus"}"#,
            r#"{"action":"announce"}"#,
            r#"{"action":"announce","info_hash":"short","peer_id":"x"}"#,
            r#"{"action":"announce","info_hash":["a"],"peer_id":"x"}"#,
            r#"{"action":"announce","info_hash":12,"peer_id":"x"}"#,
            r#"{"action":"scrape"}"#,
        ] {
            assert!(Message::parse(text).is_err(), "{text}");
        }
        let bad_event = serde_json::json!({
            "action": "announce", "info_hash": bin(1), "peer_id": bin(2), "event": "boom"
        })
        .to_string();
        assert_eq!(
            Message::parse(&bad_event).unwrap_err(),
            ParseError::BadEvent
        );
    }

    #[test]
    fn replies_carry_binary_ids() {
        let r = announce_reply(&[0xff; 20], 120, SwarmCounts::default());
        let v: serde_json::Value = serde_json::from_str(&r).unwrap();
        assert_eq!(v["info_hash"].as_str().unwrap(), bin(0xff));
        assert_eq!(v["interval"], 120);
        let f = failure("announce", "nope", None);
        assert_eq!(f, r#"{"action":"announce","failure reason":"nope"}"#);
    }
}
