//! An address taken apart: scheme, host and port out of a URL, each checked, and the
//! request URL put back together from them alone, with the node's own path. Whose choice
//! the address was (learned from others or typed by the operator) decides what else it may
//! carry, and stays with it, as it also decides which client may send to it.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use super::{refused, OutboundError};

/// Longest host name (RFC 1035).
const MAX_HOST: usize = 253;
/// Longest address accepted at all, operator's or not.
const MAX_URL: usize = 300;

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

    pub(super) fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Https)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Host {
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
pub(super) enum Trust {
    /// Learned from others: public addresses only (unless allowed), no path of its own.
    Learned,
    /// Typed by the operator: any address, and the path it was given.
    Operator,
}

/// A place to send requests to: scheme, host and port, taken apart from a URL and checked,
/// then put back together only by [`Origin::url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub(super) scheme: Scheme,
    pub(super) host: Host,
    pub(super) port: u16,
    /// The operator's own path (and query) before the node's: always empty when learned.
    prefix: String,
    pub(super) trust: Trust,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
