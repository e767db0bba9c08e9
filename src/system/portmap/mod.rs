//! Opens the node's ports on the home router, so peers and listeners on the internet can
//! reach the box: UPnP IGD (v1 and v2, found by SSDP) or, when no UPnP router answers,
//! NAT-PMP / PCP on the default gateway.
//!
//! Every port in the list the node gives ([`Mapping`]) is asked for at start, renewed at
//! half its lease (`swarm.port_mapping_lease_secs`, or what the router gave if less), and
//! removed on shutdown. A renewal asks for the external port the router gave before, so a
//! port moved because another device holds the one asked stays where it is. When no router answers, or a request fails,
//! the whole round is tried again with a growing wait. The state of each port and the
//! address the internet sees are published on a `watch` channel ([`PortMapStatus`]),
//! which the status snapshot reads.
//!
//! The router's answers are hostile input: igd-next caps every body and takes control URLs
//! only on the address that answered the search, and this module takes a router only on a
//! private LAN address (never a URL that points to the internet).

mod pmp;
mod upnp;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket},
    time::Duration,
};

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The shortest wait between renewals, whatever lease a router gives: a router that grants
/// a few seconds is not asked again and again.
const MIN_RENEW: Duration = Duration::from_secs(15);
/// The first wait before a new round when no router answered or one refused a request;
/// doubled each time up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(300);
/// How long removing the mappings may take on shutdown (the node drains for 10 s).
const REMOVE_WITHIN: Duration = Duration::from_secs(4);
/// How long a search for a router takes at most, each way.
const SEARCH_WITHIN: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        })
    }
}

/// What a port is for; the dashboard names it in the operator's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// BitTorrent peers (TCP, and UDP for uTP).
    Peers,
    /// The UDP tracker.
    UdpTracker,
    /// The web server: pages, web seed, HTTP and WebSocket tracker.
    Web,
    /// HTTPS.
    Https,
    /// The STUN server browsers use to find each other.
    Stun,
}

/// One port the node wants open on the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mapping {
    pub protocol: Protocol,
    /// The port the node listens on.
    pub internal_port: u16,
    /// The port asked for on the router's internet side (usually the same).
    #[serde(rename = "asked_port")]
    pub external_port: u16,
    pub what: Purpose,
}

/// How one port stands on the router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PortState {
    /// Not asked yet.
    Trying,
    /// Open: the internet reaches the node through `external_port`.
    Open { external_port: u16 },
    /// The router said no.
    Refused { reason: Refusal },
    /// No router answered.
    NoRouter,
}

/// Why a router refused a port, in kinds the dashboard can say in every language; the
/// router's own words ride along in `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Refusal {
    /// The router's rules do not allow this port for this box.
    NotAllowed,
    /// Another device holds the port (and no other one was given).
    Taken,
    /// Anything else, with the router's answer (cut to [`MAX_REASON`] characters).
    Other(String),
}

/// The most characters of a router's error text kept.
const MAX_REASON: usize = 160;

impl Refusal {
    fn other(text: impl std::fmt::Display) -> Refusal {
        let text: String = text
            .to_string()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_REASON)
            .collect();
        Refusal::Other(text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortStatus {
    #[serde(flatten)]
    pub mapping: Mapping,
    #[serde(flatten)]
    pub state: PortState,
}

/// Which way the router was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Upnp,
    NatPmp,
    Pcp,
}

/// Everything the front ends show about the router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortMapStatus {
    /// The router that answered, if one did.
    pub method: Option<Method>,
    pub router: Option<IpAddr>,
    /// The address the internet sees, as the router tells it.
    pub external_ip: Option<IpAddr>,
    /// The box's own address on the home network: where a port opened by hand on the
    /// router must point.
    pub lan_address: Option<IpAddr>,
    pub ports: Vec<PortStatus>,
}

impl PortMapStatus {
    fn new(mappings: &[Mapping]) -> PortMapStatus {
        PortMapStatus {
            method: None,
            router: None,
            external_ip: None,
            lan_address: None,
            ports: mappings
                .iter()
                .map(|&mapping| PortStatus {
                    mapping,
                    state: PortState::Trying,
                })
                .collect(),
        }
    }

    /// Ports open now.
    pub fn open(&self) -> usize {
        self.ports
            .iter()
            .filter(|p| matches!(p.state, PortState::Open { .. }))
            .count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PortMapError {
    #[error("UPnP: {0}")]
    Upnp(#[from] upnp::UpnpError),
    #[error("NAT-PMP: {0}")]
    Pmp(#[from] pmp::PmpError),
}

/// A router found on the LAN, and the box's own address towards it.
enum Router {
    Upnp(upnp::Gateway),
    Pmp(pmp::Gateway),
}

impl Router {
    fn addr(&self) -> IpAddr {
        match self {
            Router::Upnp(g) => g.addr(),
            Router::Pmp(g) => g.addr(),
        }
    }

    /// The box's address towards the router.
    fn local(&self) -> IpAddr {
        match self {
            Router::Upnp(g) => g.local(),
            Router::Pmp(g) => g.local(),
        }
    }

    /// The way the ports are held: for NAT-PMP routers, PCP once the router answered it.
    fn method(&self) -> Method {
        match self {
            Router::Upnp(_) => Method::Upnp,
            Router::Pmp(g) if g.speaks_pcp() => Method::Pcp,
            Router::Pmp(_) => Method::NatPmp,
        }
    }

    async fn external_ip(&self) -> Option<IpAddr> {
        match self {
            Router::Upnp(g) => g.external_ip().await,
            Router::Pmp(g) => g.external_ip().await,
        }
    }

    /// Asks for `m` for `lease`, or renews it where the router put it (`current`); the
    /// external port and lease the router gave, or why not.
    async fn map(
        &self,
        m: &Mapping,
        current: Option<u16>,
        lease: Duration,
    ) -> Result<Granted, Refusal> {
        match self {
            Router::Upnp(g) => g.map(m, current, lease).await,
            Router::Pmp(g) => g.map(m, lease).await,
        }
    }

    async fn unmap(&self, m: &Mapping, external_port: u16) {
        let done = match self {
            Router::Upnp(g) => g.unmap(m, external_port).await.map_err(PortMapError::from),
            Router::Pmp(g) => g.unmap(m).await.map_err(PortMapError::from),
        };
        if let Err(e) = done {
            tracing::warn!(port = external_port, protocol = %m.protocol, "port mapping not removed: {e}");
        }
    }
}

/// What the router gave for one mapping.
#[derive(Debug, Clone, Copy)]
struct Granted {
    external_port: u16,
    /// How long the router keeps it without a renewal (it may give less than asked).
    lease: Duration,
}

/// When to renew: at half the shortest lease the router gave, never later than half the
/// one asked, never sooner than [`MIN_RENEW`].
fn renew_after(asked: Duration, granted: impl IntoIterator<Item = Duration>) -> Duration {
    let shortest = granted.into_iter().fold(asked, Duration::min);
    (shortest / 2).max(MIN_RENEW)
}

/// Keeps the node's ports open on the router until shutdown, then closes them.
pub struct PortMapper {
    mappings: Vec<Mapping>,
    /// The lease asked for each port.
    lease: Duration,
    status: watch::Sender<PortMapStatus>,
}

impl PortMapper {
    /// A mapper for `mappings`, each asked for `lease`, and the channel its status is
    /// published on.
    pub fn new(
        mappings: Vec<Mapping>,
        lease: Duration,
    ) -> (PortMapper, watch::Receiver<PortMapStatus>) {
        let (status, rx) = watch::channel(PortMapStatus::new(&mappings));
        (
            PortMapper {
                mappings,
                lease,
                status,
            },
            rx,
        )
    }

    /// Finds the router, opens every port, renews them, and removes them on `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut retry = FIRST_RETRY;
        loop {
            let found = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = find_router() => r,
            };
            let wait = match found {
                Some(router) => {
                    match self.hold(&router, &shutdown).await {
                        Held::Stopped => return,
                        // Everything was open for a while: start again from a short wait.
                        Held::Lost => {
                            retry = FIRST_RETRY;
                            retry
                        }
                        Held::Refused => retry,
                    }
                }
                None => {
                    tracing::info!(
                        "no router answered for port mapping; trying again in {retry:?}"
                    );
                    // Where ports opened by hand would point: the box's address towards
                    // its default gateway.
                    let lan_address =
                        default_gateway().and_then(|g| local_addr_towards(g.into()).ok());
                    self.status.send_modify(|s| {
                        s.method = None;
                        s.router = None;
                        s.external_ip = None;
                        s.lan_address = lan_address;
                        for p in &mut s.ports {
                            p.state = PortState::NoRouter;
                        }
                    });
                    retry
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            retry = (retry * 2).min(MAX_RETRY);
        }
    }

    /// Opens every port on `router` and renews them at half their lease until shutdown
    /// (then removes them) or until a renewal fails.
    async fn hold(&self, router: &Router, shutdown: &CancellationToken) -> Held {
        let external_ip = router.external_ip().await;
        tracing::info!(router = %router.addr(), method = ?router.method(), external_ip = ?external_ip, "router found for port mapping");
        self.status.send_modify(|s| {
            s.method = Some(router.method());
            s.router = Some(router.addr());
            s.external_ip = external_ip;
            s.lan_address = Some(router.local());
        });
        // The external port each mapping got (None: refused).
        let mut open: Vec<Option<u16>> = vec![None; self.mappings.len()];
        let mut ended = Held::Stopped;
        loop {
            let mut refused = false;
            let mut leases = Vec::new();
            for (i, m) in self.mappings.iter().enumerate() {
                let state = match router.map(m, open[i], self.lease).await {
                    Ok(Granted {
                        external_port: port,
                        lease,
                    }) => {
                        if open[i] != Some(port) {
                            tracing::info!(what = ?m.what, protocol = %m.protocol, internal = m.internal_port, external = port, lease_secs = lease.as_secs(), "port open on the router");
                        } else {
                            tracing::debug!(what = ?m.what, protocol = %m.protocol, external = port, lease_secs = lease.as_secs(), "port lease renewed");
                        }
                        open[i] = Some(port);
                        leases.push(lease);
                        PortState::Open {
                            external_port: port,
                        }
                    }
                    Err(reason) => {
                        tracing::warn!(what = ?m.what, protocol = %m.protocol, port = m.external_port, "router refused the port: {reason:?}");
                        open[i] = None;
                        refused = true;
                        PortState::Refused { reason }
                    }
                };
                self.status.send_modify(|s| s.ports[i].state = state);
            }
            self.status
                .send_modify(|s| s.method = Some(router.method()));
            if refused && open.iter().all(Option::is_none) {
                ended = Held::Refused;
                break;
            }
            // Refused ports are asked again at each renewal: the router's rules may change.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(renew_after(self.lease, leases)) => {}
            }
            if router.external_ip().await.is_none() && external_ip.is_some() {
                // The router stopped answering: look for it (or another) again.
                ended = Held::Lost;
                break;
            }
        }
        let remove = async {
            for (m, port) in self.mappings.iter().zip(&open) {
                if let Some(port) = port {
                    router.unmap(m, *port).await;
                }
            }
        };
        if tokio::time::timeout(REMOVE_WITHIN, remove).await.is_err() {
            tracing::warn!(
                "the router did not answer in time; some ports stay open until their lease ends"
            );
        } else if open.iter().any(Option::is_some) {
            tracing::info!("port mappings removed from the router");
        }
        ended
    }
}

/// How holding a router ended.
enum Held {
    Stopped,
    /// The router stopped answering.
    Lost,
    /// Every port was refused.
    Refused,
}

/// A UPnP router by SSDP, else NAT-PMP / PCP on the default gateway.
async fn find_router() -> Option<Router> {
    match upnp::Gateway::search(SEARCH_WITHIN).await {
        Ok(g) => return Some(Router::Upnp(g)),
        Err(e) => tracing::debug!("no UPnP router: {e}"),
    }
    let gateway = default_gateway()?;
    match pmp::Gateway::probe(gateway).await {
        Ok(g) => Some(Router::Pmp(g)),
        Err(e) => {
            tracing::debug!("no NAT-PMP router at {gateway}: {e}");
            None
        }
    }
}

/// The box's own address on the way to `router` (a connected UDP socket sends nothing).
fn local_addr_towards(router: IpAddr) -> std::io::Result<IpAddr> {
    let any: IpAddr = match router {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0))?;
    socket.connect(SocketAddr::new(router, 9))?;
    Ok(socket.local_addr()?.ip())
}

/// Only a router on the LAN is asked: a private, shared or link-local address. An SSDP
/// answer naming anything else is ignored.
fn is_lan(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || v4.is_link_local() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// The IPv4 default gateway from the kernel's routing table, where NAT-PMP is asked.
fn default_gateway() -> Option<Ipv4Addr> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    parse_default_gateway(&table)
}

fn parse_default_gateway(table: &str) -> Option<Ipv4Addr> {
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(1) != Some(&"00000000") {
            return None;
        }
        // The gateway is written as a little-endian hex number.
        let raw = u32::from_str_radix(cols.get(2)?, 16).ok()?;
        let ip = Ipv4Addr::from(raw.to_le_bytes());
        (!ip.is_unspecified()).then_some(ip)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_route_gives_the_gateway() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n\
                     eth0\t0005A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n\
                     eth0\t00000000\t0105A8C0\t0003\t0\t0\t0\t00000000\n";
        assert_eq!(
            parse_default_gateway(table),
            Some(Ipv4Addr::new(192, 168, 5, 1))
        );
        assert_eq!(parse_default_gateway("Iface\n"), None);
        assert_eq!(parse_default_gateway("h\neth0 00000000 zz\n"), None);
        assert_eq!(parse_default_gateway("h\neth0 00000000\n"), None);
    }

    #[test]
    fn only_lan_routers_are_asked() {
        for ip in [
            "192.168.1.1",
            "10.0.0.1",
            "172.16.3.1",
            "100.64.0.1",
            "169.254.1.1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_lan(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "100.128.0.1",
            "198.51.100.1",
            "2001:db8::1",
            "127.0.0.1",
        ] {
            assert!(!is_lan(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn renewals_come_at_half_the_shortest_lease_within_bounds() {
        let s = Duration::from_secs;
        assert_eq!(renew_after(s(3600), []), s(1800));
        // The router gave less than asked: renewed sooner.
        assert_eq!(renew_after(s(3600), [s(7200), s(600)]), s(300));
        // A router giving seconds is not asked every few seconds.
        assert_eq!(renew_after(s(3600), [s(2)]), MIN_RENEW);
        assert_eq!(renew_after(s(30), [s(30)]), MIN_RENEW);
    }

    #[test]
    fn router_words_are_cut_and_cleaned() {
        let long = format!("bad\n{}", "x".repeat(1000));
        let Refusal::Other(text) = Refusal::other(long) else {
            panic!("kind")
        };
        assert_eq!(text.chars().count(), MAX_REASON);
        assert!(!text.contains('\n'));
    }
}
