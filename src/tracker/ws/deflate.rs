//! permessage-deflate (RFC 7692) on the tracker's WebSocket, as this tracker uses it.
//!
//! Signalling is most of what a live listener costs the station beside audio: each relayed
//! offer or answer is an SDP of about 0.6 to 1.5 kB in JSON, and every peer's SDP repeats
//! the same lines. Browsers and Node's `ws` offer this extension on every socket.
//!
//! Memory is what decides the shape. A zlib state per socket (about 150 kB at zlib's
//! defaults) would cost hundreds of megabytes at 2,500 sockets; instead:
//!
//! - **To the client**, with context takeover: the socket keeps only the last
//!   `1 << window_bits` bytes it sent compressed ([`Deflater`]), and each message is
//!   compressed by one compressor per thread primed with them as a dictionary. That is what
//!   the client's inflater holds in its window, so the client sees an ordinary stream, and
//!   a socket costs 4 kB once it has been sent something.
//! - **From the client**, without: the answer asks for `client_no_context_takeover`, so each
//!   message inflates alone, with a state made for it and dropped ([`inflate_message`]).

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The window this side compresses with, at most: 4 kB holds the last two to six messages
/// sent, where a peer's SDP finds the lines it shares with the last.
const WINDOW_BITS: u8 = 12;
/// zlib cannot make a raw deflate stream with an 8-bit window.
const MIN_WINDOW_BITS: u8 = 9;
/// What every message compressed with a sync flush ends with; RFC 7692 leaves it off.
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// What was agreed with the client in the opening handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    /// The client asked that each message to it be compressed alone.
    no_context: bool,
    window_bits: u8,
}

impl Agreed {
    /// The `Sec-WebSocket-Extensions` value of the answer.
    pub fn header(&self) -> String {
        let mut h = format!(
            "permessage-deflate; server_max_window_bits={}; client_no_context_takeover",
            self.window_bits
        );
        if self.no_context {
            h.push_str("; server_no_context_takeover");
        }
        h
    }

    /// The compressing side of one socket.
    pub fn deflater(&self) -> Deflater {
        Deflater {
            agreed: *self,
            window: Vec::new(),
        }
    }
}

/// Picks the first permessage-deflate offer in the client's `Sec-WebSocket-Extensions`
/// values that this side can honour; `None` (no compression) when there is none.
pub fn negotiate<'a>(offers: impl IntoIterator<Item = &'a str>) -> Option<Agreed> {
    offers
        .into_iter()
        .flat_map(|v| v.split(','))
        .find_map(accept_offer)
}

fn accept_offer(offer: &str) -> Option<Agreed> {
    let mut parts = offer.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
        return None;
    }
    let mut agreed = Agreed {
        no_context: false,
        window_bits: WINDOW_BITS,
    };
    let mut seen: Vec<String> = Vec::new();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (param, None),
        };
        let name = name.to_ascii_lowercase();
        // A parameter named twice makes the offer invalid (RFC 7692, 7.1).
        if seen.contains(&name) {
            return None;
        }
        match (name.as_str(), value) {
            ("server_no_context_takeover", None) => agreed.no_context = true,
            // Asked of the client's side; the answer asks for no context there anyway.
            ("client_no_context_takeover", None) => {}
            ("server_max_window_bits", Some(v)) => {
                let bits = window_bits(v)?;
                if bits < MIN_WINDOW_BITS {
                    return None;
                }
                agreed.window_bits = agreed.window_bits.min(bits);
            }
            // The client may take a smaller window; each of its messages inflates alone, so
            // this side has no use for limiting it.
            ("client_max_window_bits", None) => {}
            ("client_max_window_bits", Some(v)) => {
                window_bits(v)?;
            }
            _ => return None,
        }
        seen.push(name);
    }
    Some(agreed)
}

fn window_bits(v: &str) -> Option<u8> {
    // Digits only: RFC 7692 allows no sign, space or leading zero.
    if v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok().filter(|b| (8..=15).contains(b))
}

thread_local! {
    /// One compressor per window size per thread, reset for each message: a zlib state is
    /// about 150 kB, too much to keep per socket.
    static COMPRESSORS: RefCell<Vec<(u8, Compress)>> = const { RefCell::new(Vec::new()) };
}

/// The compressing side of one socket: what it last sent compressed, which the client's
/// inflater still holds.
#[derive(Debug)]
pub struct Deflater {
    agreed: Agreed,
    window: Vec<u8>,
}

impl Deflater {
    /// The payload of `text` compressed for this socket, or `None` when compressing saves
    /// nothing (it then goes out as it is, and the client's window does not change).
    pub fn compress(&mut self, text: &[u8]) -> Option<Vec<u8>> {
        let bits = self.agreed.window_bits;
        let dictionary: &[u8] = if self.agreed.no_context {
            &[]
        } else {
            &self.window
        };
        let out = COMPRESSORS.with(|all| {
            let mut all = all.borrow_mut();
            let at = match all.iter().position(|(b, _)| *b == bits) {
                Some(at) => at,
                None => {
                    all.push((
                        bits,
                        Compress::new_with_window_bits(Compression::best(), false, bits),
                    ));
                    all.len() - 1
                }
            };
            let (_, c) = all.get_mut(at)?;
            deflate(c, dictionary, text)
        })?;
        if out.len() >= text.len() {
            return None;
        }
        if !self.agreed.no_context {
            // The last `keep` bytes, in a buffer of exactly that size.
            let keep = 1usize << bits;
            let text = text.get(text.len().saturating_sub(keep)..).unwrap_or(text);
            let cut = (self.window.len() + text.len()).saturating_sub(keep);
            self.window.drain(..cut);
            self.window.reserve_exact(keep - self.window.len());
            self.window.extend_from_slice(text);
        }
        Some(out)
    }
}

/// One message through `c`, primed with `dictionary`: raw deflate with a sync flush, the
/// flush's empty block taken off as RFC 7692 says. `None` if zlib refuses.
fn deflate(c: &mut Compress, dictionary: &[u8], text: &[u8]) -> Option<Vec<u8>> {
    c.reset();
    if !dictionary.is_empty() {
        c.set_dictionary(dictionary).ok()?;
    }
    let mut out = Vec::with_capacity(text.len() / 2 + 64);
    loop {
        let used = usize::try_from(c.total_in()).ok()?;
        c.compress_vec(text.get(used..)?, &mut out, FlushCompress::Sync)
            .ok()?;
        // Done when all is in and zlib had room to spare for the flush.
        if usize::try_from(c.total_in()).ok()? == text.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    Some(out)
}

/// Why a client's compressed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    #[error("a compressed message inflates past {0} bytes")]
    TooLarge(usize),
    #[error("a compressed message is not valid deflate data")]
    Corrupt,
}

/// A client's compressed message payload inflated, alone (no context is taken over from
/// its earlier messages), refused past `max` bytes, so a small message cannot grow into a
/// large one in memory. Data that inflates to garbage is left to the UTF-8 check and the
/// JSON parser after it, as garbage sent plain is.
pub fn inflate_message(payload: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    let mut d = Decompress::new(false);
    let mut input = Vec::with_capacity(payload.len() + TAIL.len());
    input.extend_from_slice(payload);
    input.extend_from_slice(&TAIL);
    let mut out = Vec::with_capacity((payload.len() * 3).clamp(256, max.saturating_add(1)));
    loop {
        let used = usize::try_from(d.total_in()).map_err(|_| InflateError::Corrupt)?;
        let rest = input.get(used..).ok_or(InflateError::Corrupt)?;
        let before = (d.total_in(), d.total_out());
        let status = d
            .decompress_vec(rest, &mut out, FlushDecompress::Sync)
            .map_err(|_| InflateError::Corrupt)?;
        if out.len() > max {
            return Err(InflateError::TooLarge(max));
        }
        let all_in =
            usize::try_from(d.total_in()).map_err(|_| InflateError::Corrupt)? == input.len();
        if status == Status::StreamEnd || (all_in && out.len() < out.capacity()) {
            return Ok(out);
        }
        if out.len() == out.capacity() {
            // Room for the next chunk, never more than one byte past the limit.
            let room = out.len().max(256).min(max + 1 - out.len());
            out.reserve_exact(room);
        } else if before == (d.total_in(), d.total_out()) {
            // zlib wants input that is not there: the message ended mid-block.
            return Err(InflateError::Corrupt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An inflater as a client keeps it, with the server's context taken over.
    fn client_inflate(d: &mut Decompress, payload: &[u8]) -> Vec<u8> {
        let mut input = payload.to_vec();
        input.extend_from_slice(&TAIL);
        let mut out = Vec::with_capacity(64 * 1024);
        let start = d.total_in();
        while ((d.total_in() - start) as usize) < input.len() {
            let at = (d.total_in() - start) as usize;
            d.decompress_vec(&input[at..], &mut out, FlushDecompress::Sync)
                .unwrap();
        }
        out
    }

    fn offer(n: u8) -> String {
        format!(
            r#"{{"action":"announce","info_hash":"abcdefghijklmnopqrst","peer_id":"-PM2300-{n:012}","offer_id":"zyxwvutsrqponml{n:05}","offer":{{"type":"offer","sdp":"v=0\r\no=- 46117{n} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=candidate:{n} 1 udp 2113937151 10.0.0.{n} 5{n:04} typ host generation 0 network-cost 999\r\na=ice-ufrag:u{n:03}\r\na=ice-pwd:pwdpwdpwdpwdpwd{n:08}\r\na=ice-options:trickle\r\na=fingerprint:sha-256 {n:02X}:4A:19:C3:88:0B:7E:51:2D:9F:63:E0:AA:41:5C:D7:02:8B:F6:3E:91:7C:24:B5:0D:E8:6F:13:A2:C9:58:{n:02X}\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n"}}}}"#
        )
    }

    #[test]
    fn browsers_and_ws_offers_are_accepted_with_client_context_off() {
        // Chromium's and Node's `ws` offer, as they send it.
        let a = negotiate(["permessage-deflate; client_max_window_bits"]).unwrap();
        assert_eq!(
            a.header(),
            "permessage-deflate; server_max_window_bits=12; client_no_context_takeover"
        );
        // Firefox's.
        let a = negotiate(["permessage-deflate"]).unwrap();
        assert!(!a.no_context);
        let a = negotiate(["x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover; server_max_window_bits=10"]).unwrap();
        assert_eq!(
            a.header(),
            "permessage-deflate; server_max_window_bits=10; client_no_context_takeover; server_no_context_takeover"
        );
        // A later offer is taken when the first cannot be honoured.
        let a = negotiate([
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; client_max_window_bits=15",
        ])
        .unwrap();
        assert_eq!(a.window_bits, 12);
    }

    #[test]
    fn offers_this_side_cannot_honour_leave_messages_uncompressed() {
        for offer in [
            "",
            "x-webkit-deflate-frame",
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=016",
            "permessage-deflate; server_max_window_bits=+9",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; unknown",
            "permessage-deflate; server_max_window_bits=99999999999999999999",
        ] {
            assert_eq!(negotiate([offer]), None, "{offer:?}");
        }
    }

    #[test]
    fn a_client_that_keeps_its_window_reads_every_message_back() {
        let agreed = negotiate(["permessage-deflate; client_max_window_bits"]).unwrap();
        let mut deflater = agreed.deflater();
        let mut client = Decompress::new(false);
        let mut sizes = Vec::new();
        for n in 1..=6 {
            let text = offer(n);
            let payload = deflater.compress(text.as_bytes()).expect("smaller");
            assert_eq!(client_inflate(&mut client, &payload), text.as_bytes());
            sizes.push((text.len(), payload.len()));
        }
        // The first stands alone; the next find the lines they share in the window.
        let (first_in, first_out) = sizes[0];
        assert!(first_out * 10 < first_in * 8, "{sizes:?}");
        for &(i, o) in &sizes[1..] {
            assert!(o * 3 < i, "{sizes:?}");
        }
        assert_eq!(deflater.window.len(), 1 << WINDOW_BITS);
        assert_eq!(deflater.window.capacity(), 1 << WINDOW_BITS);
        assert!(offer(6)
            .as_bytes()
            .ends_with(&deflater.window[deflater.window.len() - 100..]));
    }

    #[test]
    fn what_does_not_shrink_goes_out_plain_and_stays_out_of_the_window() {
        let agreed = negotiate(["permessage-deflate"]).unwrap();
        let mut deflater = agreed.deflater();
        assert_eq!(deflater.compress(b"{}"), None);
        assert!(deflater.window.is_empty());
        // The client's window holds only what it inflated.
        let mut client = Decompress::new(false);
        let text = offer(7);
        let payload = deflater.compress(text.as_bytes()).unwrap();
        assert_eq!(client_inflate(&mut client, &payload), text.as_bytes());
    }

    #[test]
    fn without_context_each_message_inflates_alone() {
        let agreed = negotiate(["permessage-deflate; server_no_context_takeover"]).unwrap();
        let mut deflater = agreed.deflater();
        for n in 1..=3 {
            let text = offer(n);
            let payload = deflater.compress(text.as_bytes()).unwrap();
            assert_eq!(
                inflate_message(&payload, 64 * 1024).unwrap(),
                text.as_bytes()
            );
        }
        assert!(deflater.window.is_empty());
    }

    #[test]
    fn a_client_message_inflates_within_its_limit_or_is_refused() {
        let text = offer(3);
        let payload = negotiate(["permessage-deflate; server_no_context_takeover"])
            .unwrap()
            .deflater()
            .compress(text.as_bytes())
            .unwrap();
        assert_eq!(
            inflate_message(&payload, text.len()).unwrap(),
            text.as_bytes()
        );
        assert_eq!(
            inflate_message(&payload, text.len() - 1),
            Err(InflateError::TooLarge(text.len() - 1))
        );
        // 10 MB of zeros in about 10 kB: refused at the limit, not inflated whole.
        let mut bomb = Compress::new(Compression::best(), false);
        let mut out = Vec::with_capacity(1 << 20);
        bomb.compress_vec(&vec![0u8; 10 << 20], &mut out, FlushCompress::Sync)
            .unwrap();
        assert_eq!(
            inflate_message(&out[..out.len() - 4], 64 * 1024),
            Err(InflateError::TooLarge(64 * 1024))
        );
        assert_eq!(
            inflate_message(b"\xff\xff\xff garbage", 1024),
            Err(InflateError::Corrupt)
        );
        // Cut off mid-block: an error, or bytes that are not the message (which the UTF-8
        // check and the JSON parser then refuse); never the message, never a panic.
        assert_ne!(
            inflate_message(&payload[..payload.len() / 2], 64 * 1024),
            Ok(text.clone().into_bytes())
        );
        assert_eq!(inflate_message(&[], 1024), Ok(Vec::new()));
    }
}
