//! HTTP tracker requests (BEP 3, BEP 23) parsed from the raw query string. Pure.
//!
//! The query is parsed by hand because `info_hash` and `peer_id` are raw bytes,
//! percent-encoded, and usually not UTF-8: generic query decoders refuse them.

use std::borrow::Cow;

use crate::tracker::peers::Event;

/// One `key=value` of a query string, percent-decoded to bytes.
fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, [u8]>, Cow<'_, [u8]>)> {
    query.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (decode(k), decode(v))
    })
}

fn decode(s: &str) -> Cow<'_, [u8]> {
    // '+' is a space in form encoding; clients percent-encode a literal plus.
    if s.contains('+') {
        let s = s.replace('+', " ");
        Cow::Owned(percent_encoding::percent_decode_str(&s).collect())
    } else {
        percent_encoding::percent_decode_str(s).into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("{0} must be 20 bytes")]
    BadId(&'static str),
    #[error("invalid {0}")]
    BadNumber(&'static str),
    #[error("unknown event")]
    BadEvent,
    #[error("too many info_hash values (most {0})")]
    TooMany(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: Event,
    pub numwant: Option<u32>,
    pub compact: bool,
    pub no_peer_id: bool,
}

fn id(v: &[u8], name: &'static str) -> Result<[u8; 20], RequestError> {
    v.try_into().map_err(|_| RequestError::BadId(name))
}

fn num<T: std::str::FromStr>(v: &[u8], name: &'static str) -> Result<T, RequestError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RequestError::BadNumber(name))
}

impl AnnounceRequest {
    pub fn parse(query: &str) -> Result<Self, RequestError> {
        let (mut info_hash, mut peer_id, mut port) = (None, None, None);
        let mut r = AnnounceRequest {
            info_hash: [0; 20],
            peer_id: [0; 20],
            port: 0,
            uploaded: 0,
            downloaded: 0,
            // A client that does not say what it lacks is not counted as a seeder.
            left: u64::MAX,
            event: Event::None,
            numwant: None,
            compact: true,
            no_peer_id: false,
        };
        for (k, v) in pairs(query) {
            match &*k {
                b"info_hash" => info_hash = Some(id(&v, "info_hash")?),
                b"peer_id" => peer_id = Some(id(&v, "peer_id")?),
                b"port" => port = Some(num::<u16>(&v, "port")?),
                b"uploaded" => r.uploaded = num(&v, "uploaded")?,
                b"downloaded" => r.downloaded = num(&v, "downloaded")?,
                b"left" => r.left = num(&v, "left")?,
                b"numwant" => r.numwant = Some(num(&v, "numwant")?),
                b"compact" => r.compact = &*v != b"0",
                b"no_peer_id" => r.no_peer_id = &*v == b"1",
                b"event" => {
                    r.event = match &*v {
                        b"" | b"empty" | b"paused" => Event::None,
                        b"started" => Event::Started,
                        b"stopped" => Event::Stopped,
                        b"completed" => Event::Completed,
                        _ => return Err(RequestError::BadEvent),
                    }
                }
                _ => {}
            }
        }
        r.info_hash = info_hash.ok_or(RequestError::Missing("info_hash"))?;
        r.peer_id = peer_id.ok_or(RequestError::Missing("peer_id"))?;
        r.port = match port.ok_or(RequestError::Missing("port"))? {
            0 => return Err(RequestError::BadNumber("port")),
            p => p,
        };
        Ok(r)
    }
}

/// The infohashes of a scrape; at most `max`, so one request cannot ask for everything.
pub fn parse_scrape(query: &str, max: usize) -> Result<Vec<[u8; 20]>, RequestError> {
    let mut out = Vec::new();
    for (k, v) in pairs(query) {
        if &*k == b"info_hash" {
            if out.len() == max {
                return Err(RequestError::TooMany(max));
            }
            out.push(id(&v, "info_hash")?);
        }
    }
    if out.is_empty() {
        return Err(RequestError::Missing("info_hash"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IH: &str = "%12%34%56%78%9a%bc%de%f1%23%45%67%89%ab%cd%ef%12%34%56%78%9a";

    #[test]
    fn parses_a_real_announce() {
        let q = format!(
            "info_hash={IH}&peer_id=-TR3000-abcdefghijkl&port=51413&uploaded=0&downloaded=5\
             &left=100&event=started&numwant=30&compact=1&key=x"
        );
        let r = AnnounceRequest::parse(&q).unwrap();
        assert_eq!(r.info_hash[0], 0x12);
        assert_eq!(&r.peer_id, b"-TR3000-abcdefghijkl");
        assert_eq!(r.port, 51413);
        assert_eq!(r.downloaded, 5);
        assert_eq!(r.left, 100);
        assert_eq!(r.event, Event::Started);
        assert_eq!(r.numwant, Some(30));
        assert!(r.compact);
    }

    #[test]
    fn rejects_bad_input_without_panic() {
        let pid = "peer_id=-TR3000-abcdefghijkl";
        for (q, e) in [
            ("", RequestError::Missing("info_hash")),
            (
                &format!("info_hash=%12&{pid}&port=1") as &str,
                RequestError::BadId("info_hash"),
            ),
            (
                &format!("info_hash={IH}&port=1"),
                RequestError::Missing("peer_id"),
            ),
            (
                &format!("info_hash={IH}&{pid}"),
                RequestError::Missing("port"),
            ),
            (
                &format!("info_hash={IH}&{pid}&port=0"),
                RequestError::BadNumber("port"),
            ),
            (
                &format!("info_hash={IH}&{pid}&port=70000"),
                RequestError::BadNumber("port"),
            ),
            (
                &format!("info_hash={IH}&{pid}&port=1&left=-1"),
                RequestError::BadNumber("left"),
            ),
            (
                &format!("info_hash={IH}&{pid}&port=1&event=x"),
                RequestError::BadEvent,
            ),
        ] {
            assert_eq!(AnnounceRequest::parse(q).unwrap_err(), e, "{q}");
        }
        // Arbitrary garbage, including broken percent escapes, never panics.
        for q in [
            "%",
            "&&&=",
            "info_hash=%zz",
            "=%%%",
            "port=%FF%FF",
            "a=b=c&=&",
        ] {
            assert!(AnnounceRequest::parse(q).is_err());
        }
    }

    #[test]
    fn scrape_limits() {
        let q = format!("info_hash={IH}&info_hash={IH}");
        assert_eq!(parse_scrape(&q, 5).unwrap().len(), 2);
        assert_eq!(parse_scrape(&q, 1).unwrap_err(), RequestError::TooMany(1));
        assert!(parse_scrape("", 5).is_err());
    }
}
