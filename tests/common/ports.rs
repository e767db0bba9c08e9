//! Free ports and local addresses for the node and the clients under test.

use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::process::Command;

pub fn localhost() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// A TCP port that was free a moment ago on `ip` (bind port 0, read it back, release it).
pub fn free_tcp_port_on(ip: IpAddr) -> u16 {
    TcpListener::bind((ip, 0))
        .expect("bind a TCP port")
        .local_addr()
        .unwrap()
        .port()
}

pub fn free_tcp_port() -> u16 {
    free_tcp_port_on(localhost())
}

/// A UDP port that was free a moment ago on `ip`.
pub fn free_udp_port_on(ip: IpAddr) -> u16 {
    UdpSocket::bind((ip, 0))
        .expect("bind a UDP port")
        .local_addr()
        .unwrap()
        .port()
}

/// A UDP port that was free a moment ago on 127.0.0.1.
pub fn free_udp_port() -> u16 {
    free_udp_port_on(localhost())
}

/// A port free for both TCP and UDP on every interface (BitTorrent may use both, e.g. uTP).
pub fn free_peer_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind a TCP port");
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP");
}

/// The first non-loopback IPv4 address of this machine, if it has one.
///
/// transmission 3.00 drops peers on 127.0.0.0/8 that a tracker hands out (its "martian" filter),
/// so tests that need transmission to connect to the node's BitTorrent port use this address.
pub fn lan_ipv4() -> Option<Ipv4Addr> {
    let mut candidates = String::new();
    if let Ok(out) = Command::new("hostname").arg("-I").output() {
        candidates.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    if let Ok(out) = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
    {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut words = line.split_whitespace();
            while let Some(w) = words.next() {
                if w == "inet" {
                    if let Some(a) = words.next() {
                        candidates.push(' ');
                        candidates.push_str(a.split('/').next().unwrap_or(""));
                    }
                }
            }
        }
    }
    candidates
        .split_whitespace()
        .filter_map(|w| w.parse::<Ipv4Addr>().ok())
        .find(|ip| !ip.is_loopback() && !ip.is_unspecified() && !ip.is_link_local())
}
