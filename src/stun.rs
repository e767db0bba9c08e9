//! The box's own STUN server (RFC 8489, Binding only), so that listeners behind home
//! routers learn the address the internet sees them at and their browsers can reach each
//! other over WebRTC, with no third-party STUN server.
//!
//! A top-level module of its own: it serves browsers and the node's WebRTC peer alike, is
//! neither the tracker nor the WebTorrent peer, and keeps no station state. The message
//! types are webrtc-rs's own (`rtc-stun`, already in the tree under `webrtc`); only the
//! decision of what to answer is here.
//!
//! A UDP service that answers a spoofable source is a reflector, so the answer is kept as
//! small as the protocol allows (XOR-MAPPED-ADDRESS and FINGERPRINT: 40 bytes for IPv4, 52
//! for IPv6, for a request of at least 20), nothing but well-formed Binding requests is
//! answered, and answers are rate-limited per source address and in total. Requests in the
//! RFC 3489 format (no magic cookie, no XOR-MAPPED-ADDRESS understood) are not answered:
//! `rtc-stun` refuses them and no browser sends them, and MAPPED-ADDRESS is left out of the
//! answer for the same reason (12 bytes more to every answer, for no client of ours).
//!
//! A port is answered once, then not again for a minute but for retransmissions of the
//! request it was answered for ([`Answered`]). A browser gathers its address once per
//! WebRTC connection, then keeps asking every 10 s for as long as the connection lives
//! (Chromium's keep-alive of its reflexive address, towards the STUN server only): eight
//! peers made a listener cost the box's uplink about 0.5 kbit/s of answers it had no use
//! for. Unanswered, Chromium goes on asking every 10 s, once each time (no retransmission,
//! so the downlink carries what it did), and its connections, kept alive between the peers
//! themselves, are untouched (benches/README.md, "STUN keep-alives").

use std::{
    collections::HashMap,
    io::ErrorKind,
    net::SocketAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use rtc_stun::{
    attributes::{
        ATTR_FINGERPRINT, ATTR_MESSAGE_INTEGRITY, ATTR_MESSAGE_INTEGRITY_SHA256, ATTR_PRIORITY,
        ATTR_USERNAME, ATTR_USE_CANDIDATE,
    },
    fingerprint::FINGERPRINT,
    message::{Message, Setter, BINDING_REQUEST, BINDING_SUCCESS, MESSAGE_HEADER_SIZE},
    xoraddr::XorMappedAddress,
};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::{
    config::ConfigError,
    tracker::limits::{Bucket, RateLimiter},
};

/// Longest request read. A Binding request with ICE's attributes is about 100 bytes; a
/// longer datagram is cut here and then fails to decode.
const MAX_REQUEST: usize = 576;
/// Requests a second from one address, on average (bursts of ten times this pass): a page
/// gathers candidates for a few peer connections at once, with retransmissions.
const PER_ADDRESS: u32 = 5;
/// Answers a second in all, so a flood of spoofed sources costs at most about 50 KB/s.
const TOTAL_PER_SEC: f64 = 1000.0;
/// How long a port just answered gets no answer to a new request (a keep-alive).
const QUIET: Duration = Duration::from_secs(60);
/// Ports remembered at once; past that, every request is answered (the rate limits still
/// hold), as before this server told keep-alives apart.
const MAX_PORTS: usize = 65_536;

/// The ports answered lately, each with the transaction it was answered for.
#[derive(Default)]
struct Answered {
    ports: HashMap<SocketAddr, ([u8; 12], Instant)>,
    /// When the full table was last swept: at most once per [`QUIET`], so that a flood of
    /// new (spoofed) ports does not cost a sweep each.
    swept: Option<Instant>,
}

impl Answered {
    /// Whether request `tx` from `from` is answered: the first from its port, a
    /// retransmission of that one (its answer may have been lost), or any after [`QUIET`].
    fn first(&mut self, from: SocketAddr, tx: [u8; 12], now: Instant) -> bool {
        if let Some((answered, at)) = self.ports.get(&from) {
            if now.saturating_duration_since(*at) < QUIET {
                return *answered == tx;
            }
        }
        let due = self
            .swept
            .is_none_or(|at| now.saturating_duration_since(at) >= QUIET);
        if self.ports.len() >= MAX_PORTS && due {
            self.ports
                .retain(|_, (_, at)| now.saturating_duration_since(*at) < QUIET);
            self.swept = Some(now);
        }
        if self.ports.len() < MAX_PORTS {
            self.ports.insert(from, (tx, now));
        }
        true
    }
}

/// Binds the STUN socket; a clear config error if the address is taken or not ours.
pub async fn bind(addr: SocketAddr) -> Result<UdpSocket, ConfigError> {
    UdpSocket::bind(addr).await.map_err(|e| match e.kind() {
        ErrorKind::AddrInUse => ConfigError::new(
            "stun",
            format!("{addr} is already in use"),
            "stop the other STUN server (coturn?), choose another --stun address, or --stun off",
        ),
        _ => ConfigError::new(
            "stun",
            format!("cannot listen on {addr}: {e}"),
            "use an address of this machine, such as 0.0.0.0:3478",
        ),
    })
}

/// Comprehension-required attributes a Binding request may carry and still be answered:
/// ICE's connectivity-check attributes, which a plain Binding answer does not need. Any
/// other one below 0x8000 (say RFC 5780's CHANGE-REQUEST) asks for something this server
/// does not do; RFC 8489 would answer 420, this server stays silent (less to reflect).
const UNDERSTOOD: [rtc_stun::attributes::AttrType; 5] = [
    ATTR_USERNAME,
    ATTR_MESSAGE_INTEGRITY,
    ATTR_MESSAGE_INTEGRITY_SHA256,
    ATTR_PRIORITY,
    ATTR_USE_CANDIDATE,
];

/// The answer to the datagram `request` from `from`, or `None` for anything but a
/// well-formed Binding request (which gets no answer at all).
pub fn answer(request: &[u8], from: SocketAddr) -> Option<Vec<u8>> {
    // The two top bits of a STUN message are zero (RFC 8489 section 5), and its length is
    // a multiple of 4; `rtc-stun` checks neither, both tell STUN from other protocols.
    let first = *request.first()?;
    if request.len() < MESSAGE_HEADER_SIZE || first & 0xc0 != 0 || !request.len().is_multiple_of(4)
    {
        return None;
    }
    let mut req = Message::new();
    req.unmarshal_binary(request).ok()?;
    if req.typ != BINDING_REQUEST || req.raw.len() != MESSAGE_HEADER_SIZE + req.length as usize {
        return None;
    }
    if req
        .attributes
        .0
        .iter()
        .any(|a| a.typ.required() && !UNDERSTOOD.contains(&a.typ))
    {
        return None;
    }
    if req.contains(ATTR_FINGERPRINT) && FINGERPRINT.check(&req).is_err() {
        return None;
    }
    let mapped = XorMappedAddress {
        ip: from.ip().to_canonical(),
        port: from.port(),
    };
    let mut res = Message::new();
    let setters: [Box<dyn Setter>; 4] = [
        Box::new(req.transaction_id),
        Box::new(BINDING_SUCCESS),
        Box::new(mapped),
        Box::new(FINGERPRINT),
    ];
    res.build(&setters).ok()?;
    Some(res.raw)
}

/// The STUN service on its socket.
pub struct StunServer {
    socket: UdpSocket,
    per_address: RateLimiter,
    total: Mutex<Bucket>,
    answered: Mutex<Answered>,
}

impl StunServer {
    pub fn new(socket: UdpSocket) -> Self {
        Self {
            socket,
            per_address: RateLimiter::new(PER_ADDRESS),
            total: Mutex::new(Bucket::new(TOTAL_PER_SEC, Instant::now())),
            answered: Mutex::default(),
        }
    }

    fn allowed(&self, from: SocketAddr, tx: [u8; 12]) -> bool {
        let now = Instant::now();
        let mut answered = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        if !answered.first(from, tx, now) {
            return false;
        }
        let ip = from.ip().to_canonical();
        let mut total = self.total.lock().unwrap_or_else(|p| p.into_inner());
        // The address's bucket first: a flood from one source must not drain the total.
        self.per_address.allow(ip, now) && total.take(now, TOTAL_PER_SEC, TOTAL_PER_SEC)
    }

    /// Answers Binding requests until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), std::io::Error> {
        if let Ok(addr) = self.socket.local_addr() {
            tracing::info!(%addr, "STUN server listening");
        }
        let mut buf = [0u8; MAX_REQUEST];
        loop {
            let (n, from) = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok(got) => got,
                    // ICMP errors from earlier answers (a client gone) surface here on
                    // some systems; they concern that client only.
                    Err(e) if e.kind() == ErrorKind::ConnectionRefused => continue,
                    Err(e) => return Err(e),
                },
            };
            let Some(reply) = answer(&buf[..n], from) else {
                continue;
            };
            // A request that was answered is at least a header: its transaction id is there.
            let Some(tx) = buf.get(8..20).and_then(|t| <[u8; 12]>::try_from(t).ok()) else {
                continue;
            };
            if !self.allowed(from, tx) {
                continue;
            }
            if let Err(e) = self.socket.send_to(&reply, from).await {
                tracing::debug!(%from, "STUN answer not sent: {e}");
            }
        }
    }
}

/// The ICE server URLs for WebRTC peers of this box: the configured ones when there are
/// any, else the box's own STUN server (`own`) at `host`, the name a peer reaches the box
/// by; none when neither is known.
pub fn ice_urls(configured: &[String], own: Option<SocketAddr>, host: Option<&str>) -> Vec<String> {
    if !configured.is_empty() {
        return configured.to_vec();
    }
    match (own, host) {
        (Some(own), Some(host)) if is_host(host) => vec![format!("stun:{host}:{}", own.port())],
        _ => Vec::new(),
    }
}

/// A DNS name, an IPv4 address or a bracketed IPv6 address: nothing that could end the
/// URL early or smuggle another part into it.
fn is_host(host: &str) -> bool {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc_stun::{
        message::{Getter, TransactionId},
        textattrs::TextAttribute,
    };

    fn request(extra: Vec<Box<dyn Setter>>) -> Message {
        let mut m = Message::new();
        let mut setters: Vec<Box<dyn Setter>> =
            vec![Box::new(TransactionId::new()), Box::new(BINDING_REQUEST)];
        setters.extend(extra);
        m.build(&setters).unwrap();
        m
    }

    fn decode(raw: &[u8]) -> Message {
        let mut m = Message::new();
        m.unmarshal_binary(raw).unwrap();
        m
    }

    #[test]
    fn binding_request_gets_the_source_address() {
        for from in [
            "198.51.100.7:40123",
            "[2001:db8::5]:3333",
            "[::ffff:10.0.0.9]:5000",
        ] {
            let from: SocketAddr = from.parse().unwrap();
            let req = request(vec![Box::new(FINGERPRINT)]);
            let raw = answer(&req.raw, from).expect("an answer");
            let res = decode(&raw);
            assert_eq!(res.typ, BINDING_SUCCESS);
            assert_eq!(res.transaction_id, req.transaction_id);
            FINGERPRINT.check(&res).expect("a valid fingerprint");
            let mut got = XorMappedAddress::default();
            got.get_from(&res).unwrap();
            assert_eq!(
                SocketAddr::new(got.ip, got.port),
                SocketAddr::new(from.ip().to_canonical(), from.port())
            );
            let want = if got.ip.is_ipv4() { 40 } else { 52 };
            assert_eq!(raw.len(), want, "no more than needed");
        }
    }

    #[test]
    fn everything_else_gets_nothing() {
        let from: SocketAddr = "198.51.100.7:40123".parse().unwrap();
        let good = request(vec![]).raw;
        assert!(answer(&good, from).is_some());
        let mut not_binding = good.clone();
        not_binding[1] = 0x03; // Allocate
        let mut response = good.clone();
        response[0] = 0x01; // 0x0101, a success response reflected back at us
        let mut cookie = good.clone();
        cookie[4] ^= 0xff;
        let mut top_bits = good.clone();
        top_bits[0] |= 0x80;
        let mut bad_fp = request(vec![Box::new(FINGERPRINT)]).raw;
        let last = bad_fp.len() - 1;
        bad_fp[last] ^= 1;
        let mut change = request(vec![]);
        change.add(rtc_stun::attributes::ATTR_CHANGE_REQUEST, &[0, 0, 0, 6]);
        let change = change.raw;
        // An optional attribute it does not know (SOFTWARE) is no reason to stay silent.
        let software = request(vec![Box::new(TextAttribute::new(
            rtc_stun::attributes::ATTR_SOFTWARE,
            "test".into(),
        ))]);
        assert!(answer(&software.raw, from).is_some());
        let mut long = good.clone();
        long[3] = 8; // says 8 bytes of attributes that are not there
        let mut trailing = good.clone();
        trailing.extend_from_slice(&[0; 8]);
        for (what, bad) in [
            ("empty", Vec::new()),
            ("short", good[..12].to_vec()),
            ("not binding", not_binding),
            ("a response", response),
            ("no magic cookie", cookie),
            ("top bits", top_bits),
            ("bad fingerprint", bad_fp),
            ("change request", change),
            ("length past the end", long),
            ("bytes after the message", trailing),
            ("text", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ] {
            assert!(answer(&bad, from).is_none(), "{what} was answered");
        }
    }

    #[test]
    fn a_port_is_answered_once_a_minute_but_for_retransmissions() {
        let mut a = Answered::default();
        let t0 = Instant::now();
        let port: SocketAddr = "192.0.2.7:50000".parse().unwrap();
        let other: SocketAddr = "192.0.2.7:50001".parse().unwrap();
        assert!(a.first(port, [1; 12], t0), "a port's first request");
        let later = t0 + Duration::from_millis(500);
        assert!(a.first(port, [1; 12], later), "its retransmission");
        assert!(!a.first(port, [2; 12], later), "a keep-alive");
        assert!(!a.first(port, [3; 12], t0 + QUIET / 2));
        assert!(
            a.first(other, [2; 12], later),
            "another port of the address"
        );
        assert!(a.first(port, [4; 12], t0 + QUIET), "a port a minute later");
        // Full of fresh ports: a new one is still answered, unremembered.
        for i in 0..MAX_PORTS as u32 {
            let p = SocketAddr::from((i.to_be_bytes(), 1));
            a.first(p, [0; 12], later);
        }
        let new: SocketAddr = "198.51.100.1:9".parse().unwrap();
        assert!(a.first(new, [5; 12], later));
        assert!(a.first(new, [6; 12], later));
        assert!(a.ports.len() <= MAX_PORTS);
        // A minute on, the sweep makes room again, and the port is remembered.
        let on = later + QUIET;
        assert!(a.first(new, [7; 12], on));
        assert!(!a.first(new, [8; 12], on));
    }

    #[test]
    fn random_bytes_never_panic() {
        let from: SocketAddr = "198.51.100.7:1".parse().unwrap();
        let good = request(vec![Box::new(FINGERPRINT)]).raw;
        for i in 0..20_000u32 {
            let mut b = good.clone();
            let n = fastrand::usize(..b.len() + 16);
            b.resize(n, 0);
            for _ in 0..(i % 5) {
                if !b.is_empty() {
                    let at = fastrand::usize(..b.len());
                    b[at] = fastrand::u8(..);
                }
            }
            let _ = answer(&b, from);
        }
    }

    #[test]
    fn ice_urls_prefer_configured_then_own() {
        let own: SocketAddr = "0.0.0.0:3478".parse().unwrap();
        let set = vec!["stun:s.example:19302".to_string()];
        assert_eq!(ice_urls(&set, Some(own), Some("radio.example")), set);
        assert_eq!(
            ice_urls(&[], Some(own), Some("radio.example")),
            ["stun:radio.example:3478"]
        );
        assert_eq!(
            ice_urls(&[], Some(own), Some("[2001:db8::1]")),
            ["stun:[2001:db8::1]:3478"]
        );
        assert!(ice_urls(&[], None, Some("radio.example")).is_empty());
        assert!(ice_urls(&[], Some(own), None).is_empty());
        for hostile in ["", "a b", "x?transport=tcp", "a@b", "[zz]", "a/b"] {
            assert!(
                ice_urls(&[], Some(own), Some(hostile)).is_empty(),
                "{hostile}"
            );
        }
    }
}
