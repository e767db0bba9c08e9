//! BitTorrent v1 metadata for one library file: the info dictionary, the infohash, the
//! .torrent file and the magnet link.
//!
//! The info dictionary holds only `length`, `name`, `piece length` and `pieces`, and the
//! piece length is a function of the size, so the infohash depends on the bytes and the
//! file name alone: the same file anywhere (another folder, another station) has the same
//! infohash. Trackers and the web seed go outside the info dictionary.

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// Smallest piece: 16 KiB, one request block, so tiny files are still one piece.
pub const MIN_PIECE: u64 = 16 * 1024;
/// Largest piece: 4 MiB. Larger pieces make a browser wait longer before it can verify
/// and share the first bytes of an episode.
const MAX_PIECE: u64 = 4 * 1024 * 1024;
/// Aim for about this many pieces: a 20 KiB piece list stays cheap to send (BEP 9).
const TARGET_PIECES: u64 = 1024;

/// Piece length for a file of `size` bytes: a power of two in [16 KiB, 4 MiB].
pub fn piece_length(size: u64) -> u64 {
    (size / TARGET_PIECES)
        .next_power_of_two()
        .clamp(MIN_PIECE, MAX_PIECE)
}

#[derive(Debug, thiserror::Error)]
pub enum TorrentError {
    #[error("stored info dictionary cannot be decoded: {0}")]
    Decode(#[from] serde_bencode::Error),
}

/// A single-file info dictionary (BEP 3). Field order does not matter: bencode sorts keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub length: u64,
    pub name: String,
    #[serde(rename = "piece length")]
    pub piece_length: u64,
    #[serde(with = "serde_bytes")]
    pub pieces: Vec<u8>,
}

impl Info {
    /// The bencoded dictionary: what the infohash is taken over and what the store keeps.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Encoding a struct of integers, strings and bytes cannot fail.
        serde_bencode::to_bytes(self).unwrap_or_default()
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, TorrentError> {
        Ok(serde_bencode::from_bytes(b)?)
    }
}

/// SHA-1 of the bencoded info dictionary, as 40 lowercase hex digits.
pub fn infohash_hex(info_bytes: &[u8]) -> String {
    hex::encode(Sha1::digest(info_bytes))
}

#[derive(Serialize)]
struct MetaInfo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    announce: Option<&'a str>,
    #[serde(rename = "announce-list", skip_serializing_if = "Vec::is_empty")]
    announce_list: Vec<Vec<&'a str>>,
    #[serde(rename = "created by")]
    created_by: &'a str,
    info: &'a Info,
    /// BEP 19: for a single-file torrent, the URL of the file itself.
    #[serde(rename = "url-list", skip_serializing_if = "Vec::is_empty")]
    url_list: Vec<&'a str>,
}

/// The .torrent file. `trackers` is in priority order (the node's own tracker first); each
/// gets its own tier so clients try them in that order.
pub fn torrent_file(info: &Info, trackers: &[String], web_seeds: &[String]) -> Vec<u8> {
    let meta = MetaInfo {
        announce: trackers.first().map(String::as_str),
        announce_list: trackers.iter().map(|t| vec![t.as_str()]).collect(),
        created_by: concat!("streamp2p ", env!("CARGO_PKG_VERSION")),
        info,
        url_list: web_seeds.iter().map(String::as_str).collect(),
    };
    serde_bencode::to_bytes(&meta).unwrap_or_default()
}

/// A magnet link with name, size, trackers and the web seed (`ws`, BEP 19), so a client
/// needs nothing else to find the file.
pub fn magnet(
    infohash: &str,
    name: &str,
    size: u64,
    trackers: &[String],
    web_seed: &str,
) -> String {
    let mut m = format!("magnet:?xt=urn:btih:{infohash}&dn={}&xl={size}", qenc(name));
    for t in trackers {
        m.push_str("&tr=");
        m.push_str(&qenc(t));
    }
    m.push_str("&ws=");
    m.push_str(&qenc(web_seed));
    m
}

/// Whether `s` is a hex infohash (40 hex digits), before it goes in a path or a URL.
pub fn is_infohash_hex(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Percent-encoding for a query-string value.
fn qenc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Percent-encoding for one path segment of a URL (the file name in a web-seed URL).
pub fn path_segment(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_length_bounds() {
        assert_eq!(piece_length(1), MIN_PIECE);
        assert_eq!(piece_length(100 * 1024 * 1024), 128 * 1024);
        assert_eq!(piece_length(1 << 30), 1 << 20);
        assert_eq!(piece_length(1 << 40), MAX_PIECE);
    }

    #[test]
    fn info_is_canonical_bencode() {
        let info = Info {
            length: 3,
            name: "a.mp3".into(),
            piece_length: 16384,
            pieces: vec![0xaa; 20],
        };
        let b = info.to_bytes();
        let mut expected = b"d6:lengthi3e4:name5:a.mp312:piece lengthi16384e6:pieces20:".to_vec();
        expected.extend_from_slice(&[0xaa; 20]);
        expected.push(b'e');
        assert_eq!(b, expected);
        assert_eq!(Info::from_bytes(&b).unwrap(), info);
    }

    #[test]
    fn torrent_file_keeps_info_bytes() {
        let info = Info {
            length: 3,
            name: "a b.mp3".into(),
            piece_length: 16384,
            pieces: vec![1; 20],
        };
        let t = torrent_file(
            &info,
            &["http://h/announce".into()],
            &["http://h/files/x/a%20b.mp3".into()],
        );
        let needle = info.to_bytes();
        assert!(t.windows(needle.len()).any(|w| w == needle.as_slice()));
        assert!(t.starts_with(b"d8:announce17:http://h/announce13:announce-listll"));
        assert!(t.ends_with(b"8:url-listl26:http://h/files/x/a%20b.mp3ee"));
    }

    #[test]
    fn magnet_is_encoded() {
        let m = magnet(
            "ab",
            "a b&c.mp3",
            5,
            &["http://h:1/announce".into()],
            "http://h:1/f",
        );
        assert_eq!(
            m,
            "magnet:?xt=urn:btih:ab&dn=a%20b%26c%2Emp3&xl=5&tr=http%3A%2F%2Fh%3A1%2Fannounce&ws=http%3A%2F%2Fh%3A1%2Ff"
        );
    }
}
