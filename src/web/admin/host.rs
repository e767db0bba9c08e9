//! The config page answers only under the box's own names, so DNS rebinding gets nothing:
//! a web page on `evil.example` whose name is made to resolve to the box still sends
//! `Host: evil.example`, and is refused before any handler runs.
//!
//! The box's names: the public address's host (`public_url`), `streamp2p.local`, the
//! machine's host name with and without `.local`, `localhost`, and as addresses the one the
//! connection came in on, loopback, and those of the box's network interfaces.

use std::net::IpAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::error::AdminError;
use crate::web::{AppState, ConnInfo};

/// The name the box announces on the local network (avahi, `image/overlay/etc/hostname`).
const MDNS_NAME: &str = "streamp2p.local";

/// Middleware for every `/admin` route: refuses a request sent under a name that is not
/// the box's (or with no name at all).
pub async fn own_names_only(
    State(app): State<AppState>,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    req: Request,
    next: Next,
) -> Response {
    let settings = app.station.settings();
    let names = Names {
        public_url: settings.public_url.as_deref(),
        local: conn.local.ip(),
    };
    if names.allows(req.headers(), req.uri()) {
        next.run(req).await
    } else {
        AdminError::ForeignHost.into_response()
    }
}

/// What the request's names are checked against.
struct Names<'a> {
    public_url: Option<&'a str>,
    /// The address the connection came in on.
    local: IpAddr,
}

impl Names<'_> {
    /// The `Host` header (and a request target's authority, if the target is a full URL)
    /// all name the box.
    fn allows(&self, headers: &HeaderMap, uri: &Uri) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
            return false;
        };
        self.is_own(host) && uri.authority().is_none_or(|a| self.is_own(a.as_str()))
    }

    /// Whether `authority` (`name[:port]`, `address[:port]`, `[v6][:port]`) is the box.
    fn is_own(&self, authority: &str) -> bool {
        let Some(host) = host_part(authority) else {
            return false;
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.is_own_address(ip);
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host == "localhost" || host == MDNS_NAME {
            return true;
        }
        if self
            .public_url
            .and_then(url_host)
            .is_some_and(|h| h.eq_ignore_ascii_case(&host))
        {
            return true;
        }
        machine_name().is_some_and(|m| host == m || host == format!("{m}.local"))
    }

    fn is_own_address(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_loopback()
            || ip == self.local.to_canonical()
            || self
                .public_url
                .and_then(url_host)
                .and_then(|h| h.parse::<IpAddr>().ok())
                .is_some_and(|p| p.to_canonical() == ip)
            || interface_addresses().contains(&ip)
    }
}

/// The host of `authority`, without port or IPv6 brackets; `None` if it is malformed.
fn host_part(authority: &str) -> Option<&str> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        return (after.is_empty() || is_port(after.strip_prefix(':')?)).then_some(v6);
    }
    let host = match authority.rsplit_once(':') {
        Some((h, p)) if is_port(p) => h,
        Some(_) => return None,
        None => authority,
    };
    let plain = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    (!host.is_empty() && plain).then_some(host)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// The host of `http(s)://host[:port][/...]`.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    host_part(authority)
}

/// The name the box has on the local network: `<host name>.local` (the image's is
/// `streamp2p.local`, announced by avahi).
pub fn local_name() -> Option<String> {
    machine_name().map(|m| format!("{}.local", m.trim_end_matches(".local")))
}

/// The machine's host name, lowercased (the image sets `streamp2p`).
fn machine_name() -> Option<String> {
    let name = nix::unistd::gethostname().ok()?;
    let name = name.to_str()?.trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

/// The addresses of the box's network interfaces.
pub fn interface_addresses() -> Vec<IpAddr> {
    let Ok(ifaces) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    ifaces
        .filter_map(|i| i.address)
        .filter_map(|a| {
            a.as_sockaddr_in()
                .map(|v4| IpAddr::V4(v4.ip()))
                .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(public_url: Option<&str>) -> Names<'_> {
        Names {
            public_url,
            local: "192.168.1.20".parse().unwrap(),
        }
    }

    #[test]
    fn the_box_names() {
        let n = names(Some("https://radio.example.org"));
        for own in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:80",
            "192.168.1.20",
            "192.168.1.20:80",
            "streamp2p.local",
            "STREAMP2P.local.",
            "radio.example.org",
            "Radio.Example.org:443",
        ] {
            assert!(n.is_own(own), "{own}");
        }
        let m = machine_name().unwrap();
        assert!(n.is_own(&m) && n.is_own(&format!("{m}.local:80")));
    }

    #[test]
    fn other_names_are_refused() {
        let n = names(Some("http://radio.example.org/"));
        for foreign in [
            "evil.example",
            "evil.example:80",
            "radio.example.org.evil.example",
            "198.51.100.77",
            "192.0.2.254:80",
            "",
            "localhost:notaport",
            "local host",
            "[::1",
            "streamp2p.local@evil.example",
        ] {
            assert!(!n.is_own(foreign), "{foreign}");
        }
        assert!(!names(None).is_own("radio.example.org"));
    }

    #[test]
    fn a_full_url_target_must_name_the_box_too() {
        let n = names(None);
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:80".parse().unwrap());
        assert!(n.allows(&h, &"/admin".parse().unwrap()));
        assert!(!n.allows(&h, &"http://evil.example/admin".parse().unwrap()));
        assert!(!n.allows(&HeaderMap::new(), &"/admin".parse().unwrap()));
    }
}
