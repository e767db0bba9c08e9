//! Requests the node sends to addresses it did not choose: a mirror's claimed address, the
//! trackers and mirrors a followed station lists, the tracker probes, the `.torrent` and
//! catalog downloads. Every one goes through here, so none can be steered into the
//! station's own network or made to hold the node's memory.
//!
//! The rules, for an address learned from others:
//! - the URL is taken apart into scheme, host and port; anything else in it (a path, a `?`,
//!   a `#`, a user name before `@`) is refused, and the request URL is rebuilt from those
//!   three parts and the node's own fixed path, so no part of the learned text reaches the
//!   wire but the host;
//! - the host is resolved here, and private, loopback, link-local, carrier-grade NAT,
//!   unique-local, multicast, unspecified and broadcast addresses (and IPv4 addresses
//!   dressed as IPv6) are refused unless `federation.allow_private_addresses` is on; the
//!   connection goes to the checked address, as the check and the connection share one
//!   lookup (the resolver given to the HTTP client does both), so DNS rebinding between
//!   them is impossible;
//! - no redirect is followed (a 3xx answer is refused), no proxy is used, connect and read
//!   timeouts are short, and every body is read with a cap counted as it streams, never
//!   trusting `Content-Length`.
//!
//! Addresses the operator typed (the followed stations, the configured trackers) are the
//! operator's choice: they may be private and may carry a path, but get the same
//! redirect, timeout and size rules ([`Origin::operator`]).
//!
//! Errors say only "refused" or "unreachable" when shown ([`OutboundError`]'s `Display`):
//! what exactly happened ([`OutboundError::detail`]) is for the log and the config page,
//! never for whoever sent the address.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    ops::Range,
    sync::Arc,
    time::Duration,
};

use bytes::{Bytes, BytesMut};

/// Time to open a connection (DNS included).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest silence while reading an answer.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a whole request may take, answer included (a server trickling bytes ends here).
const TOTAL_TIMEOUT: Duration = Duration::from_secs(60);
/// A live stream relayed from a followed station never ends by itself.
const STREAM_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Longest host name (RFC 1035).
const MAX_HOST: usize = 253;
/// Longest address accepted at all, operator's or not.
const MAX_URL: usize = 300;
/// Above this cap a body is read into memory mapped for it alone (see [`Body`]).
const MAPPED_ABOVE: usize = 256 * 1024;

/// Why a request was not made or failed. Shown to the public, it says only "refused" or
/// "unreachable"; [`OutboundError::detail`] says why, for the log and the config page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The address or the answer breaks a rule (private address, path in a learned URL,
    /// redirect, answer over its cap).
    #[error("refused")]
    Refused(String),
    /// Nobody answered in time, or the name does not resolve.
    #[error("unreachable")]
    Unreachable(String),
}

impl OutboundError {
    /// What happened, in words, for the log and the config page only.
    pub fn detail(&self) -> &str {
        match self {
            Self::Refused(d) | Self::Unreachable(d) => d,
        }
    }
}

fn refused(why: impl Into<String>) -> OutboundError {
    OutboundError::Refused(why.into())
}

fn unreachable(why: impl Into<String>) -> OutboundError {
    OutboundError::Unreachable(why.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
    Udp,
    Ws,
    Wss,
}

impl Scheme {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "http" => Self::Http,
            "https" => Self::Https,
            "udp" => Self::Udp,
            "ws" => Self::Ws,
            "wss" => Self::Wss,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Udp => "udp",
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }

    /// The port when the URL names none (`None`: a UDP tracker must name its port).
    fn default_port(self) -> Option<u16> {
        match self {
            Self::Http | Self::Ws => Some(80),
            Self::Https | Self::Wss => Some(443),
            Self::Udp => None,
        }
    }

    fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Https)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Ip(IpAddr),
    /// Lower-case letters, digits, `-` and `.` only: it reads the same to every parser.
    Name(String),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Self::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Self::Name(n) => f.write_str(n),
        }
    }
}

/// Whose choice an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// Learned from others: public addresses only (unless allowed), no path of its own.
    Learned,
    /// Typed by the operator: any address, and the path it was given.
    Operator,
}

/// A place to send requests to: scheme, host and port, taken apart from a URL and checked,
/// then put back together only by [`Origin::url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: Scheme,
    host: Host,
    port: u16,
    /// The operator's own path (and query) before the node's: always empty when learned.
    prefix: String,
    trust: Trust,
}

impl Origin {
    /// A base address learned from others (a mirror's claim, a followed station's mirror
    /// list): `http(s)://HOST[:PORT]`, a trailing `/` at most. A path, a query, a fragment
    /// or a user name is refused, not dropped: a claim that names one is not what it seems.
    pub fn learned(url: &str) -> Result<Self, OutboundError> {
        let (origin, rest) = split(url, Trust::Learned)?;
        if !origin.scheme.is_http() {
            return Err(refused(format!("{url:?} is not an http(s) address")));
        }
        if !(rest.is_empty() || rest == "/") {
            return Err(refused(format!(
                "{url:?} has a path, query or fragment after its host"
            )));
        }
        Ok(origin)
    }

    /// A tracker learned from others: `http(s)`, `ws(s)` or `udp` to `HOST[:PORT]`, with
    /// nothing after the host or exactly `/announce` (which is where the node will probe it,
    /// whatever the URL said).
    pub fn learned_tracker(url: &str) -> Result<Self, OutboundError> {
        let (mut origin, rest) = split(url, Trust::Learned)?;
        if !matches!(rest, "" | "/" | "/announce") {
            return Err(refused(format!(
                "tracker {url:?} has another path than /announce"
            )));
        }
        // The node's own fixed path, not the URL's.
        origin.prefix = "/announce".into();
        Ok(origin)
    }

    /// An address the operator typed (a followed station, a configured tracker): it may be
    /// private and keeps its path and query (not its fragment); a user name is still
    /// refused, as nothing the node sends carries one.
    pub fn operator(url: &str) -> Result<Self, OutboundError> {
        let (mut origin, rest) = split(url, Trust::Operator)?;
        let rest = rest.split('#').next().unwrap_or_default();
        if !rest.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(refused(format!("{url:?} has spaces or odd characters")));
        }
        let rest = if rest.starts_with('?') {
            format!("/{rest}")
        } else {
            rest.to_string()
        };
        origin.prefix = rest.trim_end_matches('/').to_string();
        Ok(origin)
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The rebuilt base, `scheme://host[:port]` (the port unless it is the scheme's own,
    /// plus the operator's path or the tracker's `/announce`): what a mirror is listed as.
    pub fn base(&self) -> String {
        let scheme = self.scheme.as_str();
        if self.scheme.default_port() == Some(self.port) {
            format!("{scheme}://{}{}", self.host, self.prefix)
        } else {
            format!("{scheme}://{}:{}{}", self.host, self.port, self.prefix)
        }
    }

    /// The URL of the node's own `path` (and query) on this origin. A query joins the
    /// operator's own with `&`.
    pub fn url(&self, path: &str) -> String {
        match path.strip_prefix('?') {
            Some(q) if self.prefix.contains('?') => format!("{}&{q}", self.base()),
            _ => format!("{}{path}", self.base()),
        }
    }

    /// The host as it goes in a request (a name, or an address; IPv6 in brackets).
    pub fn host(&self) -> String {
        self.host.to_string()
    }
}

/// Takes `scheme://authority` off the front of `url`: the checked origin and the rest.
fn split(url: &str, trust: Trust) -> Result<(Origin, &str), OutboundError> {
    if url.len() > MAX_URL {
        return Err(refused("the address is longer than 300 characters"));
    }
    // A backslash reads as a slash to browsers' parsers and as text to others: never
    // anything but trouble in an address.
    if url.contains('\\') || url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(refused(format!("{url:?} has odd characters")));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| refused(format!("{url:?} is not an address")))?;
    let scheme =
        Scheme::parse(scheme).ok_or_else(|| refused(format!("{url:?}: unknown scheme")))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    if authority.contains('@') {
        return Err(refused(format!("{url:?} carries a user name")));
    }
    let (host, port) = split_port(authority)
        .ok_or_else(|| refused(format!("{url:?}: the port is not a number from 1 to 65535")))?;
    let host = parse_host(host).ok_or_else(|| refused(format!("{url:?}: not a host name")))?;
    let port = match port {
        Some(p) => p,
        None => scheme
            .default_port()
            .ok_or_else(|| refused(format!("{url:?} names no port")))?,
    };
    Ok((
        Origin {
            scheme,
            host,
            port,
            prefix: String::new(),
            trust,
        },
        rest,
    ))
}

/// `host[:port]` -> (host, port); `None` for a port that is not 1..=65535 in plain digits.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let after_host = if authority.starts_with('[') {
        authority.find(']')? + 1
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, port) = authority.split_at(after_host);
    match port.strip_prefix(':') {
        None if port.is_empty() => Some((host, None)),
        None => None,
        Some(p) => {
            let ok = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            let n: u16 = p.parse().ok().filter(|_| ok)?;
            (n != 0).then_some((host, Some(n)))
        }
    }
}

/// A host as the node will write it: an IPv4 address in four plain decimal parts, an IPv6
/// address in brackets (no zone), or an ASCII name of letters, digits and `-`. A name whose
/// last label starts with a digit is refused: URL parsers and `getaddrinfo` read such
/// names (`0x7f.1`, `2130706433`) as IPv4 addresses.
fn parse_host(host: &str) -> Option<Host> {
    if let Some(inner) = host.strip_prefix('[') {
        let ip: Ipv6Addr = inner.strip_suffix(']')?.parse().ok()?;
        return Some(Host::Ip(IpAddr::V6(ip)));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Some(Host::Ip(IpAddr::V4(ip)));
    }
    let name = host.to_ascii_lowercase();
    if name.is_empty() || name.len() > MAX_HOST {
        return None;
    }
    let labels_ok = name.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    let last = name.rsplit('.').next().unwrap_or_default();
    let numeric = last.bytes().next().is_some_and(|b| b.is_ascii_digit());
    (labels_ok && !numeric).then_some(Host::Name(name))
}

/// Addresses a learned URL may not lead to: this box, its network and the ISP's shared one
/// (private, loopback, link-local, carrier-grade NAT 100.64/10, unique-local fc00::/7),
/// and addresses that are nobody's (unspecified, multicast, broadcast, reserved). IPv4
/// addresses written as IPv6 (mapped, compatible, NAT64, 6to4) are judged as IPv4.
/// The documentation ranges (TEST-NET) count as public.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_loopback()
                || s[0] & 0xfe00 == 0xfc00 // unique local fc00::/7
                || s[0] & 0xffc0 == 0xfe80 // link-local fe80::/10
                || s[0] & 0xffc0 == 0xfec0 // site-local fec0::/10 (deprecated)
                || s[0] & 0xff00 == 0xff00 // multicast
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 0 // "this network", 0.0.0.0 included
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && b & 0xc0 == 64) // carrier-grade NAT 100.64/10
        || ip.is_multicast()
        || a >= 240 // reserved, and the broadcast address
}

/// The IPv4 address an IPv6 one stands for: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:AABB:CCDD::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        // Compatible (deprecated); `::` and `::1` are themselves, not 0.0.0.x.
        Some(low())
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(low())
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
    } else {
        None
    }
}

/// A name the resolver would not hand out: every address it has is forbidden.
#[derive(Debug)]
struct Blocked(String);

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

/// The HTTP client's resolver: looks the name up once and hands the client only the
/// addresses that pass, so the connection goes where the check looked.
struct CheckedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let name = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve(&name, 0, allow_private).await.map_err(
                |e| -> Box<dyn std::error::Error + Send + Sync> {
                    match e {
                        OutboundError::Refused(d) => Box::new(Blocked(d)),
                        OutboundError::Unreachable(d) => d.into(),
                    }
                },
            )?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Looks `name` up and keeps the addresses allowed.
async fn resolve(
    name: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, OutboundError> {
    let found: Vec<SocketAddr> =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((name, port)))
            .await
            .map_err(|_| unreachable(format!("{name}: no DNS answer in time")))?
            .map_err(|e| unreachable(format!("{name}: {e}")))?
            .collect();
    if found.is_empty() {
        return Err(unreachable(format!("{name} has no address")));
    }
    let allowed: Vec<SocketAddr> = found
        .iter()
        .copied()
        .filter(|a| allow_private || !is_forbidden(a.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(refused(format!(
            "{name} leads to a private or special address ({})",
            found[0].ip()
        )));
    }
    Ok(allowed)
}

/// An answer: its status and its body (read within the cap asked for).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub body: Bytes,
}

impl Fetched {
    /// The body of a 2xx answer; any other status is an error.
    pub fn success(self) -> Result<Bytes, OutboundError> {
        if (200..300).contains(&self.status) {
            Ok(self.body)
        } else {
            Err(unreachable(format!("answered HTTP {}", self.status)))
        }
    }
}

/// The one way out for requests to other nodes. Cheap to clone (the clients are shared).
#[derive(Clone)]
pub struct Outbound {
    /// For learned addresses: its resolver refuses forbidden ones (unless allowed).
    learned: reqwest::Client,
    /// For the operator's addresses: any address, the other rules alike.
    operator: reqwest::Client,
    allow_private: bool,
}

impl Outbound {
    /// `allow_private`: `federation.allow_private_addresses` (stations sharing a LAN, tests).
    pub fn new(allow_private: bool) -> Result<Self, OutboundError> {
        let client = |allow_private: bool| {
            reqwest::Client::builder()
                .dns_resolver(Arc::new(CheckedResolver { allow_private }))
                .redirect(reqwest::redirect::Policy::none())
                // A proxy would do the lookup and the connection itself, past the check.
                .no_proxy()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                .timeout(TOTAL_TIMEOUT)
                .user_agent(concat!("streamp2p/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| unreachable(format!("cannot set up the HTTP client: {e}")))
        };
        Ok(Self {
            learned: client(allow_private)?,
            operator: client(true)?,
            allow_private,
        })
    }

    /// Whether a learned address may be private (`federation.allow_private_addresses`).
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    fn client(&self, origin: &Origin) -> Result<&reqwest::Client, OutboundError> {
        if !origin.scheme.is_http() {
            return Err(refused(format!(
                "{} is not an http(s) address",
                origin.base()
            )));
        }
        self.check_literal(origin)?;
        Ok(match origin.trust {
            Trust::Learned => &self.learned,
            Trust::Operator => &self.operator,
        })
    }

    /// An address written as such is never resolved, so the resolver cannot check it:
    /// checked here instead.
    fn check_literal(&self, origin: &Origin) -> Result<(), OutboundError> {
        match origin.host {
            Host::Ip(ip) if origin.trust == Trust::Learned && !self.allow_private => {
                if is_forbidden(ip) {
                    return Err(refused(format!("{ip} is a private or special address")));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The address to open a socket to for `origin` (UDP and WebSocket probes), checked
    /// by the same rules as the HTTP requests.
    pub async fn socket_addr(&self, origin: &Origin) -> Result<SocketAddr, OutboundError> {
        self.check_literal(origin)?;
        let allow_private = self.allow_private || origin.trust == Trust::Operator;
        match &origin.host {
            Host::Ip(ip) => Ok(SocketAddr::new(*ip, origin.port)),
            Host::Name(name) => resolve(name, origin.port, allow_private)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| unreachable(format!("{name} has no address"))),
        }
    }

    /// `GET path` on `origin`, optionally a byte `range` (end exclusive), reading at most
    /// `cap` bytes of body. Any status but a redirect is returned with its body.
    pub async fn get(
        &self,
        origin: &Origin,
        path: &str,
        range: Option<Range<u64>>,
        cap: usize,
    ) -> Result<Fetched, OutboundError> {
        let mut req = self.client(origin)?.get(origin.url(path));
        if let Some(r) = range {
            if r.start >= r.end {
                return Err(refused("an empty byte range"));
            }
            req = req.header(
                reqwest::header::RANGE,
                format!("bytes={}-{}", r.start, r.end - 1),
            );
        }
        read_capped(send(req).await?, cap).await
    }

    /// `POST path` on `origin` with `body` as JSON, reading at most `cap` bytes of answer.
    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        origin: &Origin,
        path: &str,
        body: &T,
        cap: usize,
    ) -> Result<Fetched, OutboundError> {
        let req = self.client(origin)?.post(origin.url(path)).json(body);
        read_capped(send(req).await?, cap).await
    }

    /// `GET path` on `origin` for an answer that does not end (a live stream): the caller
    /// reads it chunk by chunk and bounds what it keeps. Silence still ends it.
    pub async fn stream(
        &self,
        origin: &Origin,
        path: &str,
    ) -> Result<reqwest::Response, OutboundError> {
        let req = self
            .client(origin)?
            .get(origin.url(path))
            .timeout(STREAM_TIMEOUT);
        let resp = send(req).await?;
        let status = resp.status();
        if status.is_success() {
            Ok(resp)
        } else {
            Err(unreachable(format!("answered HTTP {}", status.as_u16())))
        }
    }
}

/// Sends, refusing a redirect.
async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, OutboundError> {
    let resp = req.send().await.map_err(from_reqwest)?;
    if resp.status().is_redirection() {
        return Err(refused(format!(
            "answered with a redirect (HTTP {}), which is not followed",
            resp.status().as_u16()
        )));
    }
    Ok(resp)
}

/// Where a body is collected. A small one in an ordinary buffer. A large one in an
/// anonymous mapping of the cap's size, of which only the pages written take memory, and
/// which goes back to the system whole when dropped: a growing heap buffer would leave
/// its high-water mark behind in the allocator's per-thread arenas, so a few capped
/// hostile answers of 16 MiB would keep tens of MiB resident for good.
enum Body {
    Heap(BytesMut),
    Mapped(memmap2::MmapMut, usize),
}

impl Body {
    fn new(cap: usize, announced: Option<u64>) -> Result<Self, OutboundError> {
        if cap <= MAPPED_ABOVE {
            let start = announced.map_or(16 * 1024, |n| n as usize).min(cap);
            return Ok(Self::Heap(BytesMut::with_capacity(start)));
        }
        memmap2::MmapMut::map_anon(cap)
            .map(|m| Self::Mapped(m, 0))
            .map_err(|e| unreachable(format!("no memory for a {cap}-byte answer: {e}")))
    }

    fn len(&self) -> usize {
        match self {
            Self::Heap(b) => b.len(),
            Self::Mapped(_, len) => *len,
        }
    }

    /// Appends `chunk`; the caller has checked it fits the cap (the mapping's size).
    fn push(&mut self, chunk: &[u8]) {
        match self {
            Self::Heap(b) => b.extend_from_slice(chunk),
            Self::Mapped(m, len) => {
                m[*len..*len + chunk.len()].copy_from_slice(chunk);
                *len += chunk.len();
            }
        }
    }

    fn freeze(self) -> Bytes {
        match self {
            Self::Heap(b) => b.freeze(),
            Self::Mapped(m, len) => Bytes::from_owner(m).slice(..len),
        }
    }
}

/// Reads the body, counting as it comes: more than `cap` bytes ends the read, whatever
/// `Content-Length` said (a length above the cap ends it before any byte).
async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Fetched, OutboundError> {
    let status = resp.status().as_u16();
    let announced = resp.content_length();
    if announced.is_some_and(|n| n > cap as u64) {
        return Err(refused(format!(
            "the answer announces {} bytes, larger than the {cap} allowed",
            announced.unwrap_or_default()
        )));
    }
    let mut body = Body::new(cap, announced)?;
    while let Some(chunk) = resp.chunk().await.map_err(from_reqwest)? {
        if body.len() + chunk.len() > cap {
            return Err(refused(format!(
                "the answer is larger than the {cap} bytes allowed"
            )));
        }
        body.push(&chunk);
    }
    Ok(Fetched {
        status,
        body: body.freeze(),
    })
}

/// A client error as this module tells it: a blocked name is refused, the rest is
/// unreachable; the details (never the URL) go to the log.
fn from_reqwest(e: reqwest::Error) -> OutboundError {
    let e = e.without_url();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut chain = Vec::new();
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<Blocked>() {
            return refused(b.0.clone());
        }
        chain.push(s.to_string());
        source = s.source();
    }
    let what = if e.is_timeout() {
        "no answer in time".to_string()
    } else {
        chain.join(": ")
    };
    unreachable(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn learned_urls_are_scheme_host_and_port_only() {
        let o = Origin::learned("http://radio.example.org").unwrap();
        assert_eq!(
            o.url("/api/catalog"),
            "http://radio.example.org/api/catalog"
        );
        let o = Origin::learned("HTTPS://Radio.Example.org:8443/").unwrap();
        assert_eq!(o.base(), "https://radio.example.org:8443");
        let o = Origin::learned("http://radio.example.org:80/").unwrap();
        assert_eq!(o.base(), "http://radio.example.org");
        let o = Origin::learned("http://[2001:db8::1]:81").unwrap();
        assert_eq!(o.url("/x"), "http://[2001:db8::1]:81/x");
        assert_eq!(o.port(), 81);
        for bad in [
            "http://192.168.1.20/cgi-bin/reboot.cgi?action=reboot&x=",
            "http://192.168.1.20?x=",
            "http://192.168.1.20#",
            "http://192.168.1.20/admin/factory-reset#",
            "http://evil@192.168.1.20",
            "http://user:pw@radio.example.org",
            "http://radio.example.org@192.168.1.20",
            "http://radio.example.org\\@192.168.1.20",
            "ftp://radio.example.org",
            "udp://radio.example.org:6969",
            "http://radio.example.org:0",
            "http://radio.example.org:65536",
            "http://radio.example.org:+80",
            "http://radio.example.org:",
            "http://[fe80::1%25eth0]",
            "http://0x7f.1",
            "http://2130706433",
            "http://127.1",
            "http://radio example.org",
            "http://radio.example.org/\n",
            "http://",
            "radio.example.org",
            "http://-bad-.example",
            "http://ra\u{f6}dio.example",
        ] {
            let e = Origin::learned(bad).unwrap_err();
            assert_eq!(e.to_string(), "refused", "{bad}");
            assert!(!e.detail().is_empty());
        }
    }

    #[test]
    fn learned_trackers_are_probed_at_announce_only() {
        let t = Origin::learned_tracker("udp://tracker.example.org:6969/announce").unwrap();
        assert_eq!(t.scheme(), Scheme::Udp);
        assert_eq!(t.port(), 6969);
        assert_eq!(t.base(), "udp://tracker.example.org:6969/announce");
        let t = Origin::learned_tracker("wss://tracker.example.org:443").unwrap();
        assert_eq!(t.url(""), "wss://tracker.example.org/announce");
        let t = Origin::learned_tracker("http://tracker.example.org:8000/").unwrap();
        assert_eq!(
            t.url("?info_hash=x"),
            "http://tracker.example.org:8000/announce?info_hash=x"
        );
        for bad in [
            "udp://tracker.example.org/announce",
            "http://tracker.example.org/announce?x=1",
            "http://tracker.example.org/admin/announce",
            "http://tracker.example.org/announce#",
            "http://u@tracker.example.org/announce",
        ] {
            assert!(Origin::learned_tracker(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_operators_addresses_keep_their_path() {
        let o = Origin::operator("http://192.168.1.5:8080/radio/").unwrap();
        assert_eq!(
            o.url("/api/catalog"),
            "http://192.168.1.5:8080/radio/api/catalog"
        );
        let t = Origin::operator("https://t.example.org/announce.php?key=1#frag").unwrap();
        assert_eq!(
            t.url("?info_hash=x"),
            "https://t.example.org/announce.php?key=1&info_hash=x"
        );
        let t = Origin::operator("http://localhost:1234").unwrap();
        assert_eq!(t.url("/x"), "http://localhost:1234/x");
        assert!(Origin::operator("http://me@localhost").is_err());
        assert!(Origin::operator("http://localhost/a b").is_err());
    }

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.20",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:192.168.1.20",
            "::ffff:100.64.0.1",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:c0a8:0114::1",
        ] {
            assert!(is_forbidden(v4(ip)), "{ip} must be refused");
        }
        for ip in [
            "203.0.113.10",
            "198.51.100.7",
            "192.0.2.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2001:db8::1",
            "2606:4700::1111",
            "::ffff:203.0.113.10",
            "64:ff9b::203.0.113.10",
        ] {
            assert!(!is_forbidden(v4(ip)), "{ip} is public");
        }
    }

    /// A one-connection-per-answer HTTP server on loopback: each accepted connection gets
    /// `answer` (head and body). Returns its base URL.
    fn serve(answer: impl Fn(&mut std::net::TcpStream) + Send + 'static) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                answer(&mut s);
            }
        });
        url
    }

    #[tokio::test]
    async fn loopback_is_refused_before_any_connection_unless_allowed() {
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        let url = serve(move |s| {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        });
        let strict = Outbound::new(false).unwrap();
        let learned = Origin::learned(&url).unwrap();
        let e = strict.get(&learned, "/x", None, 100).await.unwrap_err();
        assert_eq!(e.to_string(), "refused");
        // By name: the resolver refuses it.
        let port = learned.port();
        let named = Origin::learned(&format!("http://localhost:{port}")).unwrap();
        let e = strict.get(&named, "/x", None, 100).await.unwrap_err();
        assert!(matches!(e, OutboundError::Refused(_)), "{e:?}");
        assert!(strict.socket_addr(&named).await.is_err());
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        // The operator's own address may be local; so may a learned one when allowed.
        let op = Origin::operator(&url).unwrap();
        let got = strict.get(&op, "/x", None, 100).await.unwrap();
        assert_eq!(&got.success().unwrap()[..], b"ok");
        let lenient = Outbound::new(true).unwrap();
        let got = lenient.get(&named, "/x", Some(0..2), 100).await.unwrap();
        assert_eq!((got.status, &got.body[..]), (200, &b"ok"[..]));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn bodies_are_capped_as_they_stream_and_redirects_refused() {
        let out = Outbound::new(true).unwrap();
        // Chunked, no length: 64 KiB chunks without end.
        let chunked = serve(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            let chunk = vec![b'x'; 65536];
            for _ in 0..64 {
                if s.write_all(b"10000\r\n").is_err()
                    || s.write_all(&chunk).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    return;
                }
            }
        });
        let e = out
            .get(&Origin::learned(&chunked).unwrap(), "/t", None, 100_000)
            .await
            .unwrap_err();
        assert!(matches!(e, OutboundError::Refused(_)), "{e:?}");
        // Within a large cap (read into a mapping): every byte, in order.
        let fits = serve(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            for n in 0..20u8 {
                let chunk = vec![b'a' + n; 65536];
                let _ = s.write_all(b"10000\r\n");
                let _ = s.write_all(&chunk);
                let _ = s.write_all(b"\r\n");
            }
            let _ = s.write_all(b"0\r\n\r\n");
        });
        let got = out
            .get(&Origin::learned(&fits).unwrap(), "/t", None, 4 << 20)
            .await
            .unwrap();
        assert_eq!(got.body.len(), 20 * 65536);
        assert!(got
            .body
            .chunks(65536)
            .zip(0u8..)
            .all(|(c, n)| c.iter().all(|&b| b == b'a' + n)));
        // No length, closed at the end.
        let unsized_ = serve(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let _ = s.write_all(&vec![b'y'; 300_000]);
        });
        let e = out
            .get(&Origin::learned(&unsized_).unwrap(), "/t", None, 100_000)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "refused");
        // An honest length above the cap: refused before the body.
        let big = serve(|s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n");
        });
        let e = out
            .get(&Origin::learned(&big).unwrap(), "/t", None, 100_000)
            .await
            .unwrap_err();
        assert!(e.detail().contains("999999999"), "{e:?}");
        // A redirect is refused, its target never asked.
        let redirect = serve(|s| {
            let _ = s.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: http://192.168.1.20/reboot\r\nContent-Length: 0\r\n\r\n",
            );
        });
        let e = out
            .get(&Origin::learned(&redirect).unwrap(), "/t", None, 100)
            .await
            .unwrap_err();
        assert!(e.detail().contains("redirect"), "{e:?}");
        assert_eq!(e.to_string(), "refused");
        // A closed port is unreachable, and says no more.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let e = out
            .get(&Origin::learned(&closed).unwrap(), "/t", None, 100)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "unreachable");
    }
}
