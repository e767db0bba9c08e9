//! Hostile input to the tracker's three front ends: garbage, truncated and oversized UDP
//! packets, forged connection ids, bad HTTP announces, non-JSON, binary and oversized WebSocket
//! messages, compressed messages that inflate past the limit or are not deflate data,
//! answers to peers that do not exist, and a WebSocket that floods. The node must
//! answer each as documented (error packet, failure reason, close with 1008) and keep serving:
//! while and after each attack, well-behaved UDP, HTTP and WebSocket clients get proper answers.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Addresses of the node under test, for checker threads.
#[derive(Clone, Copy)]
struct Target {
    http: SocketAddr,
    udp: SocketAddr,
    node_peer: SocketAddr,
    ih: [u8; 20],
}

/// The interval the default config asks of BitTorrent clients and of browsers.
const INTERVAL: u32 = 300;
const WS_INTERVAL: u64 = 120;

fn peer_id(tag: &str) -> [u8; 20] {
    let mut id = *b"-TEST00-000000000000";
    let r: [u8; 12] = rand::random();
    for (i, b) in r.iter().enumerate() {
        id[8 + i] = b"0123456789abcdef"[(*b & 15) as usize];
    }
    id[1..1 + tag.len().min(6)].copy_from_slice(&tag.as_bytes()[..tag.len().min(6)]);
    id
}

/// UDP connect + announce as a leecher: an announce reply with the default interval that
/// counts and lists the node as a seeder.
fn udp_ok(t: &Target) -> Result<(), String> {
    let c = UdpTrackerClient::new(t.udp);
    let r = c.announce(&UdpAnnounce {
        info_hash: t.ih,
        peer_id: peer_id("udp"),
        left: 1000,
        event: 2,
        numwant: -1,
        port: 6881,
    })?;
    if r.interval != INTERVAL || r.seeders < 1 || !r.peers.contains(&t.node_peer) {
        return Err(format!("UDP announce reply {r:?}"));
    }
    Ok(())
}

/// HTTP announce: a bencoded reply with the interval and the node among the peers.
fn http_ok(t: &Target) -> Result<(), String> {
    let target = format!(
        "/announce?info_hash={}&peer_id={}&port=6881&uploaded=0&downloaded=0&left=1000&compact=1",
        urlencode_all(&t.ih),
        urlencode_all(&peer_id("http"))
    );
    let r = http_request(t.http, "GET", &target, &[]).map_err(|e| format!("HTTP announce: {e}"))?;
    if r.status != 200 {
        return Err(format!("HTTP announce status {}: {}", r.status, r.text()));
    }
    let (v, _) = bdecode_at(&r.body, 0).map_err(|e| format!("HTTP announce reply: {e}"))?;
    let peers = v.get("peers").and_then(Bencode::bytes).unwrap_or_default();
    let node = match t.node_peer.ip() {
        IpAddr::V4(ip) => [&ip.octets()[..], &t.node_peer.port().to_be_bytes()].concat(),
        IpAddr::V6(_) => unreachable!(),
    };
    let ok = v.get("failure reason").is_none()
        && v.get("interval").and_then(Bencode::int) == Some(i64::from(INTERVAL))
        && peers.chunks(6).any(|p| p == node);
    if !ok {
        return Err(format!("HTTP announce reply {:?}", r.text()));
    }
    Ok(())
}

fn ws_announce(ih: &[u8; 20], peer: &[u8; 20]) -> Value {
    json!({
        "action": "announce",
        "info_hash": binary_string(ih),
        "peer_id": binary_string(peer),
        "numwant": 5,
        "uploaded": 0,
        "downloaded": 0,
        "left": 1000,
        "event": "started",
        "offers": []
    })
}

/// Checks a WebSocket tracker announce reply for `ih`.
fn ws_reply_ok(v: &Value, ih: &[u8; 20]) -> Result<(), String> {
    if v["action"] == "announce"
        && v["info_hash"].as_str() == Some(&binary_string(ih))
        && v["interval"].as_u64() == Some(WS_INTERVAL)
        && v.get("failure reason").is_none()
        && v["complete"].is_u64()
        && v["incomplete"].is_u64()
    {
        Ok(())
    } else {
        Err(format!("WebSocket announce reply {v}"))
    }
}

/// A fresh WebSocket: announce, then an announce reply.
fn ws_ok(t: &Target) -> Result<(), String> {
    let mut ws = WsClient::connect(t.http, "/announce").map_err(|e| format!("WebSocket: {e}"))?;
    ws.send_json(&ws_announce(&t.ih, &peer_id("ws")))
        .map_err(|e| format!("WebSocket send: {e}"))?;
    let v = ws.recv_json(Duration::from_secs(5))?;
    ws_reply_ok(&v, &t.ih)?;
    let _ = ws.send_frame(0x8, &1000u16.to_be_bytes());
    Ok(())
}

fn all_ok(t: &Target) -> Result<(), String> {
    udp_ok(t)?;
    http_ok(t)?;
    ws_ok(t)
}

/// Runs `attack` against a node in library mode with one file, while a checker thread keeps
/// making well-behaved UDP, HTTP and WebSocket announces; then checks all three again.
fn under_attack(what: &str, attack: impl FnOnce(&mut Node, &Target)) {
    let dir = tempdir();
    let lib = dir.path().join("library");
    write_random(&lib.join("song.mp3"), 300 * 1024);
    let mut node = Node::start(dir.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(1);
    let ih_hex = node.item("song.mp3")["infohash"]
        .as_str()
        .unwrap()
        .to_string();
    let t = Target {
        http: node.http,
        udp: node.udp,
        node_peer: SocketAddr::new(node.host, node.peer_port),
        ih: infohash_bytes(&ih_hex).try_into().unwrap(),
    };
    all_ok(&t).unwrap_or_else(|e| panic!("before {what}: {e}"));

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let checker = {
        let (stop, failures) = (stop.clone(), failures.clone());
        thread::spawn(move || {
            let mut rounds = 0u32;
            // Bounded: at most 600 rounds (about a minute).
            while !stop.load(Ordering::Relaxed) && rounds < 600 {
                if let Err(e) = all_ok(&t) {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("round {rounds}: {e}"));
                }
                rounds += 1;
                thread::sleep(Duration::from_millis(100));
            }
            rounds
        })
    };
    attack(&mut node, &t);
    stop.store(true, Ordering::Relaxed);
    let rounds = checker.join().expect("checker thread");
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "during {what}, well-behaved clients failed {} of {rounds} rounds:\n{}",
        failures.len(),
        failures.join("\n")
    );
    node.assert_alive();
    all_ok(&t).unwrap_or_else(|e| panic!("after {what}: {e}"));
    let h = node.health().expect("/api/health after the attack");
    assert_eq!(h["status"], "ok", "{h}");
    node.assert_alive();
}

// ---------------------------------------------------------------------------------------------
// UDP

/// A reply to `packet` within `wait`, if any.
fn udp_reply_to(
    sock: &UdpSocket,
    to: SocketAddr,
    packet: &[u8],
    wait: Duration,
) -> Option<Vec<u8>> {
    sock.set_read_timeout(Some(wait)).unwrap();
    sock.send_to(packet, to).expect("send a UDP packet");
    let mut buf = vec![0u8; 70_000];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        Err(e) => panic!("UDP receive: {e}"),
    }
}

/// An error reply (action 3) for transaction `tx`, no longer than the request (the tracker is
/// no amplifier for spoofed sources).
fn assert_udp_error(reply: &[u8], tx: u32, request_len: usize, what: &str) -> String {
    assert!(
        reply.len() >= 8 && be_u32(reply, 0) == 3 && be_u32(reply, 4) == tx,
        "{what}: want an error packet (action 3, tx {tx:#x}), got {}",
        hex::encode(reply)
    );
    assert!(
        reply.len() <= request_len,
        "{what}: error reply of {} bytes to a request of {request_len}",
        reply.len()
    );
    String::from_utf8_lossy(&reply[8..]).into_owned()
}

#[test]
fn udp_garbage_truncated_and_oversized_packets() {
    under_attack("UDP garbage", |_, t| {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut replies = 0;
        for len in 0..=200usize {
            let mut p: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
            if len >= 12 && len % 3 == 0 {
                // Every action the tracker knows, and some it does not, on every length.
                p[8..12].copy_from_slice(&((len as u32 / 3) % 5).to_be_bytes());
            }
            let wait = Duration::from_millis(if len < 16 { 50 } else { 2000 });
            match udp_reply_to(&sock, t.udp, &p, wait) {
                None => assert!(len < 16, "no reply to a {len}-byte packet that has a tx"),
                Some(r) => {
                    assert!(
                        len >= 16,
                        "a {len}-byte packet (no tx) got a reply {}",
                        hex::encode(&r)
                    );
                    assert_udp_error(&r, be_u32(&p, 12), len, &format!("{len}-byte garbage"));
                    replies += 1;
                }
            }
        }
        assert_eq!(replies, 185);

        // A real announce cut at every length: an error packet naming the same transaction.
        let c = UdpTrackerClient::new(t.udp);
        let conn = c.connect().expect("connect");
        let full = udp_announce_packet(
            conn,
            0x5eed,
            &UdpAnnounce {
                info_hash: t.ih,
                peer_id: peer_id("cut"),
                left: 1,
                event: 2,
                numwant: 10,
                port: 7000,
            },
        );
        for len in 16..full.len() {
            let r = udp_reply_to(&sock, t.udp, &full[..len], Duration::from_secs(2))
                .unwrap_or_else(|| panic!("no reply to an announce cut to {len} bytes"));
            assert_udp_error(&r, 0x5eed, len, &format!("announce cut to {len} bytes"));
        }
        // A scrape with 100 infohashes (more than fit one reply) and one with a partial hash.
        for (body, what) in [
            (2000usize, "100-infohash scrape"),
            (30, "scrape of 1.5 infohashes"),
        ] {
            let mut p = conn.to_be_bytes().to_vec();
            p.extend_from_slice(&2u32.to_be_bytes());
            p.extend_from_slice(&0xabcdu32.to_be_bytes());
            p.extend((0..body).map(|_| rand::random::<u8>()));
            let r = udp_reply_to(&sock, t.udp, &p, Duration::from_secs(2))
                .unwrap_or_else(|| panic!("no reply to a {what}"));
            assert_udp_error(&r, 0xabcd, p.len(), what);
        }

        // 65000-byte datagrams: garbage, and a connect request with a huge tail.
        let mut huge: Vec<u8> = (0..65_000).map(|_| rand::random::<u8>()).collect();
        huge[8..12].copy_from_slice(&9u32.to_be_bytes());
        if let Some(r) = udp_reply_to(&sock, t.udp, &huge, Duration::from_secs(2)) {
            assert_udp_error(&r, be_u32(&huge, 12), 2048, "65000-byte garbage");
        }
        huge[..8].copy_from_slice(&UDP_PROTOCOL_ID.to_be_bytes());
        huge[8..12].copy_from_slice(&0u32.to_be_bytes());
        huge[12..16].copy_from_slice(&0x77u32.to_be_bytes());
        if let Some(r) = udp_reply_to(&sock, t.udp, &huge, Duration::from_secs(2)) {
            assert!(
                r.len() <= 16 && be_u32(&r, 4) == 0x77,
                "65000-byte connect got {}",
                hex::encode(&r)
            );
        }
        // A burst, as fast as the socket sends, of every kind above.
        let burst_start = Instant::now();
        for i in 0..2000u32 {
            let len = (i as usize * 7) % 300;
            let p: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
            let _ = sock.send_to(&p, t.udp);
        }
        let _ = sock.send_to(&huge, t.udp);
        eprintln!("2000-packet burst sent in {:?}", burst_start.elapsed());
        // UDP may drop a datagram while the node's receive buffer is full of the burst; a
        // client then asks again (BEP 15 retransmits), and so does this one, twice at most.
        let mut result = udp_ok(t);
        for _ in 0..2 {
            let Err(e) = &result else { break };
            eprintln!("UDP announce after the burst: {e}; asking again");
            result = udp_ok(t);
        }
        result.expect("UDP announce right after the burst");
    });
}

#[test]
fn udp_forged_connection_ids_get_error_packets() {
    under_attack("forged UDP connection ids", |_, t| {
        let c = UdpTrackerClient::new(t.udp);
        let a = UdpAnnounce {
            info_hash: t.ih,
            peer_id: peer_id("forge"),
            left: 1,
            event: 2,
            numwant: 10,
            port: 7001,
        };
        let real = c.connect().expect("connect");
        let forged = [
            rand::random::<u64>(),
            0,
            UDP_PROTOCOL_ID,
            real ^ 1,
            real ^ (1 << 40),
            real.wrapping_add(1 << 32), // a later "issued" second with the old tag
        ];
        for conn in forged {
            let r = c
                .announce_raw(conn, &a)
                .unwrap_or_else(|e| panic!("announce with forged id {conn:#x}: {e}"));
            let msg = assert_udp_error(
                &r,
                be_u32(&r, 4),
                98,
                &format!("announce with id {conn:#x}"),
            );
            assert!(msg.contains("connection id"), "error text {msg:?}");
            // Scrape with the forged id too.
            let tx = rand::random::<u32>();
            let mut p = conn.to_be_bytes().to_vec();
            p.extend_from_slice(&2u32.to_be_bytes());
            p.extend_from_slice(&tx.to_be_bytes());
            p.extend_from_slice(&t.ih);
            let r = c.request(&p, tx).expect("reply to a forged scrape");
            assert_udp_error(&r, tx, p.len(), &format!("scrape with id {conn:#x}"));
        }
        // The id is bound to the client's address: the same id from another local address fails.
        if let Some(lan) = lan_ipv4() {
            let other = UdpSocket::bind((lan, 0)).unwrap();
            other
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let tx = 0xfeed;
            other
                .send_to(&udp_announce_packet(real, tx, &a), t.udp)
                .unwrap();
            let mut buf = [0u8; 2048];
            let (n, _) = other.recv_from(&mut buf).expect("reply from the tracker");
            assert_udp_error(&buf[..n], tx, 98, "announce with an id issued to 127.0.0.1");
        }
        // The real id still works, and no forged announce was recorded.
        let r = parse_udp_announce_reply(&c.announce_raw(real, &a).unwrap()).unwrap();
        assert_eq!(r.interval, INTERVAL);
    });
}

// ---------------------------------------------------------------------------------------------
// HTTP

#[test]
fn http_bad_announces_get_failure_reasons() {
    under_attack("bad HTTP announces", |node, t| {
        let pid = urlencode_all(&peer_id("bad"));
        let ih = urlencode_all(&t.ih);
        let cases = [
            (
                format!("/announce?info_hash=%12%34&peer_id={pid}&port=6881"),
                "info_hash",
            ),
            (
                format!(
                    "/announce?info_hash={}&peer_id={pid}&port=6881",
                    urlencode_all(&[7; 21])
                ),
                "info_hash",
            ),
            (
                format!(
                    "/announce?info_hash={}&peer_id={pid}&port=6881",
                    urlencode_all(&[7; 4000])
                ),
                "info_hash",
            ),
            (
                format!("/announce?info_hash=&peer_id={pid}&port=6881"),
                "info_hash",
            ),
            (format!("/announce?peer_id={pid}&port=6881"), "info_hash"),
            (
                format!("/announce?info_hash={ih}&peer_id=%01&port=6881"),
                "peer_id",
            ),
            (
                format!("/announce?info_hash={ih}&peer_id={pid}&port=99999"),
                "port",
            ),
            (
                format!("/announce?info_hash={ih}&peer_id={pid}&port=6881&left=-5"),
                "left",
            ),
            (
                format!("/announce?info_hash={ih}&peer_id={pid}&port=6881&event=boom"),
                "event",
            ),
            (
                format!("/announce?info_hash=%zz%&peer_id={pid}&port=6881"),
                "info_hash",
            ),
            (
                format!(
                    "/announce?info_hash={}&peer_id={pid}&port=6881",
                    urlencode_all(&[9; 20])
                ),
                "library",
            ),
            ("/scrape?info_hash=%12%34".to_string(), "info_hash"),
            ("/scrape".to_string(), "info_hash"),
        ];
        for (target, want) in &cases {
            let r = node.get(target);
            assert_eq!(r.status, 200, "{target}: {}", r.text());
            let v = bdecode(&r.body);
            let reason = v
                .get("failure reason")
                .and_then(|f| f.str())
                .unwrap_or_else(|| panic!("{target}: no failure reason in {:?}", r.text()));
            assert!(
                reason.contains(want),
                "{target}: failure reason {reason:?} lacks {want:?}"
            );
        }
        // None of them made a swarm or a peer.
        let api = node.get("/api/tracker").json();
        assert_eq!(api["stats"]["swarms"].as_u64(), Some(1), "{api}");
    });
}

// ---------------------------------------------------------------------------------------------
// WebSocket

/// Reads frames until the server closes: Some(code) for a close frame, None for the connection
/// ending without one. Panics if it stays open for `within`.
fn wait_closed(ws: &mut WsClient, within: Duration, what: &str) -> Option<u16> {
    let deadline = Instant::now() + within;
    for _ in 0..10_000 {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{what}: the socket was still open after {within:?}"
        );
        ws.stream.set_read_timeout(Some(left)).unwrap();
        match ws.recv() {
            Ok(WsFrame::Close(code, reason)) => {
                eprintln!("{what}: closed with {code} {reason:?}");
                return Some(code);
            }
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{what}: the socket was still open after {within:?}")
            }
            Err(e) => {
                eprintln!("{what}: connection ended without a close frame: {e}");
                return None;
            }
        }
    }
    panic!("{what}: endless frames");
}

/// Nothing arrives on `ws` for `quiet`.
fn assert_silent(ws: &mut WsClient, quiet: Duration, what: &str) {
    ws.stream.set_read_timeout(Some(quiet)).unwrap();
    match ws.recv() {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("{what}: expected nothing, got {other:?}"),
    }
}

#[test]
fn websocket_non_json_messages_close_the_socket() {
    under_attack("non-JSON WebSocket messages", |_, t| {
        let mut ws = WsClient::connect(t.http, "/announce").unwrap();
        // One bad message is dropped without a reply; the socket still serves.
        ws.send_text("this is not JSON").unwrap();
        assert_silent(
            &mut ws,
            Duration::from_secs(1),
            "reply to a non-JSON message",
        );
        ws.send_json(&ws_announce(&t.ih, &peer_id("nj"))).unwrap();
        ws_reply_ok(&ws.recv_json(Duration::from_secs(5)).unwrap(), &t.ih).unwrap();
        // Ten more (eleven in all, the limit is ten): closed with 1008.
        let bad = [
            "{",
            "[]",
            "null",
            "{\"action\":\"bogus\"}",
            "{\"action\":\"announce\"}",
            "\u{0}\u{1}\u{2}",
            "{\"action\":\"announce\",\"info_hash\":12,\"peer_id\":\"x\"}",
            "{\"action\":\"scrape\"}",
            "1e999999",
            "\"\"",
        ];
        for m in bad {
            ws.send_text(m).unwrap();
        }
        assert_eq!(
            wait_closed(&mut ws, Duration::from_secs(5), "eleven bad messages"),
            Some(1008)
        );
    });
}

/// Binary messages are not part of the protocol and count as malformed, like non-JSON text.
#[test]
fn websocket_binary_messages_close_the_socket() {
    under_attack("binary WebSocket messages", |_, t| {
        let mut ws = WsClient::connect(t.http, "/announce").unwrap();
        for _ in 0..11 {
            ws.send_frame(0x2, b"\x00\x01binary garbage").unwrap();
        }
        assert_eq!(
            wait_closed(&mut ws, Duration::from_secs(5), "eleven binary messages"),
            Some(1008)
        );
    });
}

#[test]
fn websocket_oversized_messages_close_the_socket() {
    under_attack("oversized WebSocket messages", |_, t| {
        // Just under the 64 KiB limit: a valid announce with padding is served.
        let mut ws = WsClient::connect(t.http, "/announce").unwrap();
        let mut a = ws_announce(&t.ih, &peer_id("big"));
        a["padding"] = json!("x".repeat(60 * 1024));
        ws.send_json(&a).unwrap();
        ws_reply_ok(&ws.recv_json(Duration::from_secs(5)).unwrap(), &t.ih).unwrap();

        // Over it: garbage, a valid announce with padding, and a 1 MiB frame.
        for (size, what) in [
            (70_000usize, "70000-byte garbage"),
            (66_000, "66000-byte announce"),
            (1 << 20, "1 MiB frame"),
        ] {
            let mut ws = WsClient::connect(t.http, "/announce").unwrap();
            let payload = if what.contains("announce") {
                let mut a = ws_announce(&t.ih, &peer_id("huge"));
                a["padding"] = json!("y".repeat(size));
                a.to_string().into_bytes()
            } else {
                vec![b'z'; size]
            };
            // The server may close before it has read the whole frame.
            if let Err(e) = ws.send_frame(0x1, &payload) {
                eprintln!("{what}: send ended early: {e}");
            }
            let code = wait_closed(&mut ws, Duration::from_secs(5), what);
            assert!(
                code.is_none_or(|c| c == 1009 || c == 1008 || c == 1002),
                "{what}: close code {code:?}"
            );
        }
    });
}

/// An upgrade that is not a valid WebSocket opening handshake is answered 400 and goes no
/// further (the node checks it itself, with tungstenite, since it agrees to an extension).
#[test]
fn websocket_bad_opening_handshakes_are_refused() {
    use std::io::{Read, Write};
    under_attack("bad WebSocket opening handshakes", |_, t| {
        for (what, headers) in [
            ("version 8", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"),
            ("no key", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"),
            ("no Connection: upgrade", "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"),
            ("another protocol", "Upgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"),
        ] {
            let mut s = std::net::TcpStream::connect(t.http).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            write!(s, "GET /announce HTTP/1.1\r\nHost: {}\r\n{headers}\r\n", t.http).unwrap();
            let mut head = [0u8; 12];
            s.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 400", "{what}");
        }
    });
}

/// A client's message compressed as RFC 7692 says: raw deflate, sync flush, its tail off.
fn deflated(text: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(text.len() + 64);
    c.compress_vec(text, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

/// The next text message on a socket with permessage-deflate: its first byte and its text,
/// inflated by `inflater` if it came compressed (the server's context is taken over, so one
/// inflater reads them all, as a browser's does).
fn recv_deflated(ws: &mut WsClient, inflater: &mut flate2::Decompress) -> (u8, Value) {
    loop {
        let (first, payload) = ws.recv_raw().expect("a message");
        if first & 0x0f != 0x1 {
            continue;
        }
        let text = if first & 0x40 != 0 {
            let mut input = payload;
            input.extend_from_slice(&[0, 0, 0xff, 0xff]);
            let mut out = Vec::with_capacity(64 * 1024);
            inflater
                .decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync)
                .expect("valid deflate data");
            out
        } else {
            payload
        };
        return (first, serde_json::from_slice(&text).expect("JSON"));
    }
}

/// A client that offers permessage-deflate (as Chromium and Node's `ws` do) gets its
/// compressed announces read and its replies compressed; a compressed message that inflates
/// past the message limit closes its socket and nothing else.
#[test]
fn websocket_compressed_both_ways_and_a_deflate_bomb_closes_only_its_socket() {
    under_attack("compressed WebSocket messages", |_, t| {
        let (mut ws, head) = WsClient::connect_offering(
            t.http,
            "/announce",
            "permessage-deflate; client_max_window_bits",
        )
        .unwrap();
        assert!(
            head.to_ascii_lowercase().contains(
                "sec-websocket-extensions: permessage-deflate; server_max_window_bits=12; \
                 client_no_context_takeover\r\n"
            ),
            "{head}"
        );
        let mut inflater = flate2::Decompress::new(false);
        for n in 0..3 {
            let announce = ws_announce(&t.ih, &peer_id(&format!("deflate{n}"))).to_string();
            ws.send_raw(0x80 | 0x40 | 0x1, &deflated(announce.as_bytes()))
                .unwrap();
            let (first, reply) = recv_deflated(&mut ws, &mut inflater);
            ws_reply_ok(&reply, &t.ih).unwrap();
            // The first reply stands alone and may not shrink; the next ones find it in the
            // window.
            if n > 0 {
                assert_eq!(first & 0x40, 0x40, "reply {n} went out uncompressed");
            }
        }
        // A client that offers nothing gets no extension and plain replies.
        let (mut plain, head) =
            WsClient::connect_offering(t.http, "/announce", "x-unknown").unwrap();
        assert!(
            !head
                .to_ascii_lowercase()
                .contains("sec-websocket-extensions"),
            "{head}"
        );
        plain
            .send_json(&ws_announce(&t.ih, &peer_id("plain")))
            .unwrap();
        ws_reply_ok(&plain.recv_json(Duration::from_secs(5)).unwrap(), &t.ih).unwrap();

        // 10 MB of spaces in about 10 kB, past the 64 KiB limit once inflated.
        let bomb = deflated(&vec![b' '; 10 << 20]);
        assert!(bomb.len() < 64 * 1024);
        ws.send_raw(0x80 | 0x40 | 0x1, &bomb).unwrap();
        wait_closed(&mut ws, Duration::from_secs(5), "a deflate bomb");
        // Garbage marked compressed.
        let (mut ws, _) =
            WsClient::connect_offering(t.http, "/announce", "permessage-deflate").unwrap();
        ws.send_raw(0x80 | 0x40 | 0x1, b"\xff\xfe\xfd not deflate")
            .unwrap();
        wait_closed(&mut ws, Duration::from_secs(5), "garbage marked compressed");
        // The plain socket still serves.
        plain
            .send_json(&ws_announce(&t.ih, &peer_id("plain")))
            .unwrap();
        ws_reply_ok(&plain.recv_json(Duration::from_secs(5)).unwrap(), &t.ih).unwrap();
    });
}

#[test]
fn websocket_answer_to_unknown_peer_is_dropped() {
    under_attack("WebSocket answers to unknown peers", |node, t| {
        let (xid, yid) = (peer_id("x"), peer_id("y"));
        let mut x = WsClient::connect(t.http, "/announce").unwrap();
        let mut y = WsClient::connect(t.http, "/announce").unwrap();
        for (ws, id) in [(&mut x, &xid), (&mut y, &yid)] {
            ws.send_json(&ws_announce(&t.ih, id)).unwrap();
            ws_reply_ok(&ws.recv_json(Duration::from_secs(5)).unwrap(), &t.ih).unwrap();
        }
        // An HTTP peer of the same swarm, with a known peer id.
        let http_peer = peer_id("hp");
        let r = node.get(&format!(
            "/announce?info_hash={}&peer_id={}&port=6999&left=5",
            urlencode_all(&t.ih),
            urlencode_all(&http_peer)
        ));
        assert!(
            bdecode(&r.body).get("failure reason").is_none(),
            "{}",
            r.text()
        );

        let answer = |ih: &[u8; 20], to: &[u8; 20]| {
            json!({
                "action": "announce",
                "info_hash": binary_string(ih),
                "peer_id": binary_string(&xid),
                "to_peer_id": binary_string(to),
                "offer_id": binary_string(&[0x42; 20]),
                "answer": {"type": "answer", "sdp": "v=0\r\nfake"}
            })
        };
        let unknown_swarm: [u8; 20] = rand::random();
        let cases = [
            (answer(&t.ih, &rand::random()), "a peer id nobody announced"),
            (answer(&t.ih, &http_peer), "an HTTP peer"),
            (
                answer(&unknown_swarm, &yid),
                "Y in a swarm that does not exist",
            ),
        ];
        for (msg, what) in &cases {
            x.send_json(msg).unwrap();
            assert_silent(
                &mut y,
                Duration::from_millis(700),
                &format!("Y, after an answer to {what}"),
            );
            assert_silent(
                &mut x,
                Duration::from_millis(300),
                &format!("X, after an answer to {what}"),
            );
        }
        // Control: an answer to Y in its swarm is delivered, from X, with the offer id.
        x.send_json(&answer(&t.ih, &yid)).unwrap();
        let got = y
            .recv_json(Duration::from_secs(5))
            .expect("the answer relayed to Y");
        assert_eq!(
            got["peer_id"].as_str(),
            Some(binary_string(&xid).as_str()),
            "{got}"
        );
        assert_eq!(
            got["offer_id"].as_str(),
            Some(binary_string(&[0x42; 20]).as_str()),
            "{got}"
        );
        assert_eq!(got["answer"]["sdp"], "v=0\r\nfake", "{got}");
        // X is still served.
        x.send_json(&ws_announce(&t.ih, &xid)).unwrap();
        ws_reply_ok(&x.recv_json(Duration::from_secs(5)).unwrap(), &t.ih).unwrap();
    });
}

#[test]
fn websocket_flood_is_closed_with_policy_violation() {
    under_attack("a WebSocket flood", |_, t| {
        // A quiet socket opened before the flood keeps working after it.
        let mut quiet = WsClient::connect(t.http, "/announce").unwrap();
        let mut ws = WsClient::connect(t.http, "/announce").unwrap();
        let reader = {
            let mut r = WsClient {
                stream: ws.stream.try_clone().unwrap(),
            };
            thread::spawn(move || {
                let mut texts = 0u32;
                let deadline = Instant::now() + Duration::from_secs(15);
                while Instant::now() < deadline {
                    r.stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    match r.recv() {
                        Ok(WsFrame::Text(_)) => texts += 1,
                        Ok(WsFrame::Close(code, reason)) => return (texts, Ok((code, reason))),
                        Ok(_) => {}
                        Err(e) => return (texts, Err(e.to_string())),
                    }
                }
                (texts, Err("still open after 15 s".into()))
            })
        };
        let scrape = json!({"action": "scrape", "info_hash": [binary_string(&t.ih)]}).to_string();
        let mut sent = 0;
        for _ in 0..150 {
            if ws.send_text(&scrape).is_err() {
                break;
            }
            sent += 1;
        }
        let (texts, end) = reader.join().unwrap();
        eprintln!("flood: sent {sent}, got {texts} replies, then {end:?}");
        let (code, reason) = end.expect("a close frame after the flood");
        assert_eq!(code, 1008, "close code after the flood ({reason:?})");
        assert!(texts <= 101, "{texts} replies to a flood of {sent}");

        quiet.send_json(&ws_announce(&t.ih, &peer_id("q"))).unwrap();
        ws_reply_ok(&quiet.recv_json(Duration::from_secs(5)).unwrap(), &t.ih).unwrap();
    });
}

/// Two browsers, X and Y, announced on their own sockets to a node whose library holds one
/// file, with `tracker` among its tracker settings. The node's own WebTorrent peer stays out
/// of the swarm: X and Y are all of it.
type TwoBrowsers = (
    tempfile::TempDir,
    Node,
    [u8; 20],
    [[u8; 20]; 2],
    [WsClient; 2],
);

fn two_browsers(tracker: &str) -> TwoBrowsers {
    let dir = tempdir();
    let lib = dir.path().join("library");
    write_random(&lib.join("song.mp3"), 300 * 1024);
    let config = format!("{BASE_CONFIG}\n[tracker]\n{tracker}\n\n[webtorrent]\nenabled = false\n");
    let mut node = Node::start(dir.path(), std::slice::from_ref(&lib), &config);
    node.wait_healthy(1);
    let ih: [u8; 20] = infohash_bytes(node.item("song.mp3")["infohash"].as_str().unwrap())
        .try_into()
        .unwrap();
    let (xid, yid) = (peer_id("x"), peer_id("y"));
    let mut x = WsClient::connect(node.http, "/announce").unwrap();
    let mut y = WsClient::connect(node.http, "/announce").unwrap();
    for (ws, id) in [(&mut x, &xid), (&mut y, &yid)] {
        ws.send_json(&ws_announce(&ih, id)).unwrap();
        ws_reply_ok(&ws.recv_json(Duration::from_secs(5)).unwrap(), &ih).unwrap();
    }
    (dir, node, ih, [xid, yid], [x, y])
}

/// Browser `from` answers `to`'s offer 0x42.. through its socket `ws`: the tracker relays it
/// and counts the two as paired.
fn send_answer(ws: &mut WsClient, ih: &[u8; 20], from: &[u8; 20], to: &[u8; 20]) {
    ws.send_json(&json!({
        "action": "announce",
        "info_hash": binary_string(ih),
        "peer_id": binary_string(from),
        "to_peer_id": binary_string(to),
        "offer_id": binary_string(&[0x42; 20]),
        "answer": {"type": "answer", "sdp": "v=0\r\nfake"}
    }))
    .unwrap();
}

/// A silent WebSocket is pinged after half the idle time and kept while it answers; one
/// that answers nothing is closed after the idle time. And a browser paired with every
/// other browser of its swarm is asked to announce seldom (its fresh offers would be spare).
#[test]
fn websocket_silence_is_pinged_and_settled_browsers_announce_seldom() {
    let (_dir, mut node, ih, [xid, yid], [mut x, mut y]) = two_browsers("ws_idle_secs = 2");

    // X answers every ping for 5 s (two and a half idle times) and is kept; Y answers
    // nothing and is closed after about 2 s.
    let opened = Instant::now();
    let silent = thread::spawn(move || {
        let code = wait_closed(&mut y, Duration::from_secs(6), "a socket that never pongs");
        (code, opened.elapsed())
    });
    let mut pings = 0;
    while opened.elapsed() < Duration::from_secs(5) {
        x.stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        match x.recv() {
            Ok(WsFrame::Ping(p)) => {
                pings += 1;
                x.send_frame(0xA, &p).unwrap();
            }
            Ok(other) => panic!("X got {other:?}"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("X's socket ended after {:?}: {e}", opened.elapsed()),
        }
    }
    assert!(pings >= 3, "X was pinged {pings} times in 5 s");
    let (code, after) = silent.join().unwrap();
    assert!(code.is_none(), "Y got a close frame {code:?}");
    assert!(
        after >= Duration::from_millis(1800) && after <= Duration::from_secs(4),
        "Y was closed after {after:?}, not about 2 s"
    );

    // Y reconnects; an answer from Y to X pairs them; X's next announce then lacks no
    // partner and is asked to come back in 600 s, a first announce in 120 s.
    let mut y = WsClient::connect(node.http, "/announce").unwrap();
    y.send_json(&ws_announce(&ih, &yid)).unwrap();
    ws_reply_ok(&y.recv_json(Duration::from_secs(5)).unwrap(), &ih).unwrap();
    send_answer(&mut y, &ih, &yid, &xid);
    let relayed = x.recv_json(Duration::from_secs(5)).unwrap();
    assert_eq!(relayed["answer"]["sdp"], "v=0\r\nfake", "{relayed}");
    let mut again = ws_announce(&ih, &xid);
    again["event"] = json!("update");
    x.send_json(&again).unwrap();
    let reply = x.recv_json(Duration::from_secs(5)).unwrap();
    assert_eq!(reply["interval"], 600, "{reply}");
    node.assert_alive();
}

/// A relayed answer does not tell the tracker that the two browsers' WebRTC connection
/// opened. A settled pair is offered to each other again once their pairing is a settled
/// interval old (here 2 s): a connection that failed gets a second chance even when nobody
/// else is in the swarm.
#[test]
fn a_settled_pair_is_offered_again_after_a_settled_interval() {
    let (_dir, mut node, ih, [xid, yid], [mut x, mut y]) =
        two_browsers("ws_settled_interval_secs = 2");
    send_answer(&mut y, &ih, &yid, &xid);
    assert_eq!(
        x.recv_json(Duration::from_secs(5)).unwrap()["offer_id"],
        binary_string(&[0x42; 20])
    );
    let paired = Instant::now();
    // X's re-announces with one offer each: settled (interval 2), and the offer goes to Y
    // only once the pairing is 2 s old.
    let mut again = |n: u8| {
        let mut a = ws_announce(&ih, &xid);
        a["event"] = json!("update");
        a["numwant"] = json!(1);
        a["offers"] = json!([{
            "offer": {"type": "offer", "sdp": "v=0\r\nagain"},
            "offer_id": binary_string(&[n; 20]),
        }]);
        x.send_json(&a).unwrap();
        let reply = x.recv_json(Duration::from_secs(5)).unwrap();
        assert_eq!(reply["interval"], 2, "{reply}");
    };
    again(1);
    if paired.elapsed() < Duration::from_millis(1500) {
        let early = y.recv_json(Duration::from_millis(500));
        assert!(early.is_err(), "Y was offered X again at once: {early:?}");
    }
    thread::sleep(Duration::from_secs(2).saturating_sub(paired.elapsed()));
    again(2);
    let offer = y.recv_json(Duration::from_secs(5)).unwrap();
    assert_eq!(offer["offer_id"], binary_string(&[2; 20]), "{offer}");
    assert_eq!(offer["peer_id"], binary_string(&xid), "{offer}");
    assert_eq!(offer["offer"]["sdp"], "v=0\r\nagain", "{offer}");
    let t = node.get("/api/tracker").json();
    assert_eq!(t["stats"]["pairings_rechecked"], 1, "{t}");
    node.assert_alive();
}

/// A listen page tells the tracker which browsers it is connected to (`streamp2p-peers`,
/// listen.js). A pairing it leaves out, once 15 s old, failed: the tracker forgets it on
/// both sides and, the page being left with nobody, asks it to announce again at once (an
/// announce reply with only a short interval, which `bittorrent-tracker` clients obey). Its
/// next offer goes to its old partner again. A page that names its partner is not asked.
#[test]
fn a_page_whose_pairing_failed_is_asked_to_announce_again() {
    let (_dir, mut node, ih, [xid, yid], [mut x, mut y]) = two_browsers("");
    send_answer(&mut y, &ih, &yid, &xid);
    let relayed = x.recv_json(Duration::from_secs(5)).unwrap();
    assert_eq!(relayed["answer"]["sdp"], "v=0\r\nfake", "{relayed}");
    let paired = Instant::now();
    let report = |ws: &mut WsClient, peers: Value| {
        ws.send_json(&json!({"action": "streamp2p-peers", "peers": peers}))
            .unwrap()
    };
    // Within the grace nothing is taken as failed.
    report(&mut x, json!([]));
    assert_silent(&mut x, Duration::from_secs(1), "X within the grace");
    thread::sleep(Duration::from_millis(15_500).saturating_sub(paired.elapsed()));
    // Y names X (and junk, passed over): its pairing holds, and with the only other
    // browser as its partner it lacks nobody.
    report(&mut y, json!([binary_string(&xid), "not an id"]));
    assert_silent(&mut y, Duration::from_secs(1), "Y, paired");
    // X names nobody: the pairing failed, and X is asked to announce again now.
    report(&mut x, json!([]));
    let ask = x.recv_json(Duration::from_secs(5)).unwrap();
    assert_eq!(
        ask,
        json!({"action": "announce", "info_hash": binary_string(&ih), "interval": 1})
    );
    // Not again at once.
    report(&mut x, json!([]));
    assert_silent(&mut x, Duration::from_secs(1), "X, asked a moment ago");
    let mut again = ws_announce(&ih, &xid);
    again["event"] = json!("update");
    again["offers"] = json!([{
        "offer": {"type": "offer", "sdp": "v=0\r\nanew"},
        "offer_id": binary_string(&[3; 20]),
    }]);
    x.send_json(&again).unwrap();
    assert_eq!(
        x.recv_json(Duration::from_secs(5)).unwrap()["interval"],
        120
    );
    let offer = y.recv_json(Duration::from_secs(5)).unwrap();
    assert_eq!(offer["offer"]["sdp"], "v=0\r\nanew", "{offer}");
    assert_eq!(offer["peer_id"], binary_string(&xid), "{offer}");
    let t = node.get("/api/tracker").json();
    assert_eq!(t["stats"]["lonely_nudged"], 1, "{t}");
    assert_eq!(t["stats"]["peer_reports"], 4, "{t}");
    let metrics = node.get("/metrics").text();
    assert!(
        metrics.contains("streamp2p_tracker_lonely_nudged_total 1")
            && metrics.contains("streamp2p_tracker_peer_reports_total 4"),
        "{metrics}"
    );
    node.assert_alive();
}
