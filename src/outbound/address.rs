//! Which addresses a learned URL may lead to, and the lookup that holds to it: the HTTP
//! client's resolver checks every address it hands out, so the check and the connection
//! share one lookup and DNS rebinding between them is impossible.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
};

use super::{refused, unreachable, OutboundError, CONNECT_TIMEOUT};

/// Addresses a learned URL may not lead to: this box, its network and the ISP's shared one
/// (private, loopback, link-local, carrier-grade NAT 100.64/10, unique-local fc00::/7),
/// and addresses that are nobody's (unspecified, multicast, broadcast, reserved). IPv4
/// addresses written as IPv6 (mapped, compatible, NAT64, 6to4) are judged as IPv4.
/// The documentation ranges (TEST-NET) count as public.
pub(super) fn is_forbidden(ip: IpAddr) -> bool {
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
pub(super) struct Blocked(pub(super) String);

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

/// The HTTP client's resolver: looks the name up once and hands the client only the
/// addresses that pass, so the connection goes where the check looked.
pub(super) struct CheckedResolver {
    pub(super) allow_private: bool,
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
pub(super) async fn resolve(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
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
}
