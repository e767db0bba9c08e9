//! A BEP 15 UDP tracker client (the wire format of src/tracker/udp/protocol.rs).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

pub const UDP_PROTOCOL_ID: u64 = 0x0417_2710_1980;

pub fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

pub fn be_u64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// A UDP socket on 127.0.0.1 talking to one tracker, with a 5 s receive timeout.
pub struct UdpTrackerClient {
    pub sock: UdpSocket,
    pub tracker: SocketAddr,
}

/// An announce as BEP 15 lays it out.
#[derive(Debug, Clone)]
pub struct UdpAnnounce {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub left: u64,
    /// 0 none, 1 completed, 2 started, 3 stopped
    pub event: u32,
    pub numwant: i32,
    pub port: u16,
}

#[derive(Debug, Clone)]
pub struct UdpAnnounceReply {
    pub interval: u32,
    pub leechers: u32,
    pub seeders: u32,
    pub peers: Vec<SocketAddr>,
}

impl UdpTrackerClient {
    pub fn new(tracker: SocketAddr) -> Self {
        let local = if tracker.is_ipv4() {
            SocketAddr::new(tracker.ip(), 0)
        } else {
            SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), 0)
        };
        let sock = UdpSocket::bind(local).expect("bind a UDP socket");
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        UdpTrackerClient { sock, tracker }
    }

    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        self.sock.send_to(packet, self.tracker).map(|_| ())
    }

    /// The next datagram from the tracker, or an error on timeout.
    pub fn recv(&self) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = self.sock.recv_from(&mut buf)?;
            if from == self.tracker {
                return Ok(buf[..n].to_vec());
            }
        }
    }

    /// Sends `packet` and waits for the reply carrying transaction id `tx` (others are skipped).
    pub fn request(&self, packet: &[u8], tx: u32) -> Result<Vec<u8>, String> {
        self.send(packet).map_err(|e| format!("send: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let r = self
                .recv()
                .map_err(|e| format!("no reply to tx {tx:#x}: {e}"))?;
            if r.len() >= 8 && be_u32(&r, 4) == tx {
                return Ok(r);
            }
        }
        Err(format!("no reply to tx {tx:#x} within 5 s"))
    }

    pub fn connect(&self) -> Result<u64, String> {
        let tx = rand::random::<u32>();
        let mut p = UDP_PROTOCOL_ID.to_be_bytes().to_vec();
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&tx.to_be_bytes());
        let r = self.request(&p, tx)?;
        if r.len() < 16 || be_u32(&r, 0) != 0 {
            return Err(format!("bad connect reply {}", hex::encode(&r)));
        }
        Ok(be_u64(&r, 8))
    }

    /// Sends an announce with connection id `conn`; returns the raw reply.
    pub fn announce_raw(&self, conn: u64, a: &UdpAnnounce) -> Result<Vec<u8>, String> {
        let tx = rand::random::<u32>();
        self.request(&udp_announce_packet(conn, tx, a), tx)
    }

    /// connect + announce; Err unless the reply is an announce reply.
    pub fn announce(&self, a: &UdpAnnounce) -> Result<UdpAnnounceReply, String> {
        let conn = self.connect()?;
        let r = self.announce_raw(conn, a)?;
        parse_udp_announce_reply(&r)
    }
}

pub fn udp_announce_packet(conn: u64, tx: u32, a: &UdpAnnounce) -> Vec<u8> {
    let mut p = Vec::with_capacity(98);
    p.extend_from_slice(&conn.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&tx.to_be_bytes());
    p.extend_from_slice(&a.info_hash);
    p.extend_from_slice(&a.peer_id);
    p.extend_from_slice(&0u64.to_be_bytes()); // downloaded
    p.extend_from_slice(&a.left.to_be_bytes());
    p.extend_from_slice(&0u64.to_be_bytes()); // uploaded
    p.extend_from_slice(&a.event.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes()); // ip
    p.extend_from_slice(&rand::random::<u32>().to_be_bytes()); // key
    p.extend_from_slice(&a.numwant.to_be_bytes());
    p.extend_from_slice(&a.port.to_be_bytes());
    p
}

pub fn parse_udp_announce_reply(r: &[u8]) -> Result<UdpAnnounceReply, String> {
    if r.len() >= 8 && be_u32(r, 0) == 3 {
        return Err(format!(
            "error reply: {:?}",
            String::from_utf8_lossy(&r[8..])
        ));
    }
    if r.len() < 20 || be_u32(r, 0) != 1 || !(r.len() - 20).is_multiple_of(6) {
        return Err(format!("bad announce reply {}", hex::encode(r)));
    }
    let peers = r[20..]
        .chunks_exact(6)
        .map(|c| {
            SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
                u16::from_be_bytes([c[4], c[5]]),
            )
        })
        .collect();
    Ok(UdpAnnounceReply {
        interval: be_u32(r, 8),
        leechers: be_u32(r, 12),
        seeders: be_u32(r, 16),
        peers,
    })
}
