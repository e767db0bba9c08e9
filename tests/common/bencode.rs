//! A minimal bencode reader (it keeps the raw bytes of the info dict, to check the
//! infohash), and a .torrent rewritten to name other trackers.

use super::http::short;

#[derive(Debug, Clone, PartialEq)]
pub enum Bencode {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Bencode>),
    Dict(Vec<(Vec<u8>, Bencode)>),
}

impl Bencode {
    pub fn get(&self, key: &str) -> Option<&Bencode> {
        match self {
            Bencode::Dict(entries) => entries
                .iter()
                .find(|(k, _)| k == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Bencode::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Bencode::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn list(&self) -> Option<&[Bencode]> {
        match self {
            Bencode::List(l) => Some(l),
            _ => None,
        }
    }
}

/// Decodes one value starting at `pos`; returns it and the position after it.
pub fn bdecode_at(data: &[u8], pos: usize) -> Result<(Bencode, usize), String> {
    let at = |p: usize| {
        data.get(p)
            .copied()
            .ok_or_else(|| format!("unexpected end at {p}"))
    };
    match at(pos)? {
        b'i' => {
            let end = data[pos..]
                .iter()
                .position(|&c| c == b'e')
                .ok_or("unterminated int")?
                + pos;
            let s = std::str::from_utf8(&data[pos + 1..end]).map_err(|e| e.to_string())?;
            let v = s.parse::<i64>().map_err(|e| format!("int {s:?}: {e}"))?;
            Ok((Bencode::Int(v), end + 1))
        }
        b'l' => {
            let mut p = pos + 1;
            let mut items = Vec::new();
            while at(p)? != b'e' {
                let (v, next) = bdecode_at(data, p)?;
                items.push(v);
                p = next;
            }
            Ok((Bencode::List(items), p + 1))
        }
        b'd' => {
            let mut p = pos + 1;
            let mut entries = Vec::new();
            while at(p)? != b'e' {
                let (k, next) = bdecode_at(data, p)?;
                let Bencode::Bytes(k) = k else {
                    return Err(format!("dict key at {p} is not a string"));
                };
                let (v, next) = bdecode_at(data, next)?;
                entries.push((k, v));
                p = next;
            }
            Ok((Bencode::Dict(entries), p + 1))
        }
        b'0'..=b'9' => {
            let colon = data[pos..]
                .iter()
                .position(|&c| c == b':')
                .ok_or("string without ':'")?
                + pos;
            let s = std::str::from_utf8(&data[pos..colon]).map_err(|e| e.to_string())?;
            let len: usize = s.parse().map_err(|e| format!("length {s:?}: {e}"))?;
            let start = colon + 1;
            if start + len > data.len() {
                return Err(format!("string of {len} bytes at {pos} runs past the end"));
            }
            Ok((
                Bencode::Bytes(data[start..start + len].to_vec()),
                start + len,
            ))
        }
        c => Err(format!("unexpected byte {c:#x} at {pos}")),
    }
}

/// Decodes a whole buffer; panics (with the data shown) if it is not exactly one value.
pub fn bdecode(data: &[u8]) -> Bencode {
    match bdecode_at(data, 0) {
        Ok((v, end)) if end == data.len() => v,
        Ok((_, end)) => panic!(
            "trailing bytes after bencode value at {end}: {:?}",
            short(&String::from_utf8_lossy(data))
        ),
        Err(e) => panic!(
            "not bencode ({e}): {:?}",
            short(&String::from_utf8_lossy(data))
        ),
    }
}

/// The raw bytes of the top-level `info` value of a .torrent (what the infohash is taken of).
pub fn raw_info_dict(torrent: &[u8]) -> &[u8] {
    assert_eq!(torrent.first(), Some(&b'd'), "torrent is not a dict");
    let mut p = 1;
    while torrent[p] != b'e' {
        let (k, next) = bdecode_at(torrent, p).expect("torrent key");
        let (_, end) = bdecode_at(torrent, next).expect("torrent value");
        if k == Bencode::Bytes(b"info".to_vec()) {
            return &torrent[next..end];
        }
        p = end;
    }
    panic!("torrent has no info dict");
}

/// The same torrent (same info dict, so same infohash) with `announce` set to `tracker`, and
/// `announce-list` and `url-list` (web seeds) left out.
pub fn torrent_with_only_tracker(torrent: &[u8], tracker: &str) -> Vec<u8> {
    assert_eq!(torrent.first(), Some(&b'd'), "torrent is not a dict");
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut p = 1;
    while torrent[p] != b'e' {
        let (k, next) = bdecode_at(torrent, p).expect("torrent key");
        let (_, end) = bdecode_at(torrent, next).expect("torrent value");
        let Bencode::Bytes(k) = k else {
            panic!("torrent key is not a string")
        };
        if !matches!(&k[..], b"announce" | b"announce-list" | b"url-list") {
            entries.push((k, torrent[next..end].to_vec()));
        }
        p = end;
    }
    entries.push((
        b"announce".to_vec(),
        format!("{}:{tracker}", tracker.len()).into_bytes(),
    ));
    entries.sort();
    let mut out = vec![b'd'];
    for (k, v) in entries {
        out.extend_from_slice(format!("{}:", k.len()).as_bytes());
        out.extend_from_slice(&k);
        out.extend_from_slice(&v);
    }
    out.push(b'e');
    out
}
