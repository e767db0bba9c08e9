//! The web server outlasts idle and slow clients (issue 13, item 4).
//!
//! The attacker and the honest client are told apart by their source address on the
//! loopback: attack sockets are bound to 127.0.0.2, the honest client to 127.0.0.3 (all of
//! 127/8 is loopback on Linux), the node listens on 127.0.0.1.

mod common;

use std::{
    io::{ErrorKind, Read, Write},
    net::{IpAddr, Ipv4Addr, TcpStream},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use common::*;

const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const HONEST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// The test opens a few thousand sockets: its own open-files limit goes up to the hard one.
fn raise_open_files() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    assert!(
        hard >= 6000,
        "this test needs 6000 open files, the system allows {hard}"
    );
}

/// The socket's state without waiting: `Some(when)` once the server has closed it.
enum Seen {
    Open,
    Closed,
}

fn peek(s: &mut TcpStream) -> Seen {
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) => Seen::Closed,
        // A refusal (503) would come with bytes; the timeouts close without a word.
        Ok(_) => Seen::Closed,
        Err(e) if e.kind() == ErrorKind::WouldBlock => Seen::Open,
        Err(_) => Seen::Closed,
    }
}

/// Health from the honest address, timed.
fn timed_health(node: &Node) -> Result<Duration, String> {
    let t = Instant::now();
    let r = http_request_from(HONEST, node.http, "GET", "/api/health", &[])
        .map_err(|e| format!("health from {HONEST}: {e}"))?;
    if r.status != 200 {
        return Err(format!("health status {}", r.status));
    }
    Ok(t.elapsed())
}

#[test]
fn idle_and_slow_header_clients_from_one_address_do_not_stop_the_server() {
    raise_open_files();
    let dir = tempfile::tempdir().unwrap();
    // Short timeouts so the test sees them act; the caps raised because this test puts
    // 2,300 clients on one address (the defaults would turn most of them away, which is
    // the other test).
    let config = format!(
        "{BASE_CONFIG}\n[web]\nmax_connections = 8192\nmax_per_address = 4096\n\
         idle_secs = 3\nheader_timeout_secs = 6\n"
    );
    let mut node = Node::start(dir.path(), &[], &config);
    node.wait_healthy(0);
    let idle_secs = 3.0;
    let header_secs = 6.0;

    let stop = Arc::new(AtomicBool::new(false));
    let http = node.http;

    // 2,000 idle sockets: connect, say nothing. Each records when it opened and closed.
    let idle = thread::spawn(move || {
        let mut socks: Vec<(TcpStream, Instant, Option<Instant>)> = Vec::new();
        for _ in 0..2000 {
            let s = connect_from(ATTACKER, http).expect("idle connect");
            s.set_nonblocking(true).unwrap();
            socks.push((s, Instant::now(), None));
        }
        let opened_all = Instant::now();
        // Until every one is closed, or well past the idle timeout.
        let deadline = opened_all + Duration::from_secs_f64(idle_secs + 10.0);
        while Instant::now() < deadline && socks.iter().any(|(_, _, c)| c.is_none()) {
            for (s, _, closed) in socks.iter_mut().filter(|(_, _, c)| c.is_none()) {
                if let Seen::Closed = peek(s) {
                    *closed = Some(Instant::now());
                }
            }
            thread::sleep(Duration::from_millis(200));
        }
        socks
            .into_iter()
            .map(|(_, opened, closed)| closed.map(|c| c.duration_since(opened)))
            .collect::<Vec<_>>()
    });

    // 300 slowloris clients: a request line, then a header byte every 2 s, never the end.
    // Faster than the idle timeout, so only the header timeout can end them; each one
    // cut off reconnects, as the attack does.
    let slow = thread::spawn({
        let stop = stop.clone();
        move || {
            let open = || {
                let mut s = connect_from(ATTACKER, http).expect("slowloris connect");
                s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    .unwrap();
                s.set_nonblocking(true).unwrap();
                (s, Instant::now())
            };
            let mut socks: Vec<(TcpStream, Instant)> = (0..300).map(|_| open()).collect();
            let mut lifetimes = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_secs(2));
                for (s, opened) in socks.iter_mut() {
                    let cut = match s.write(b"a") {
                        Ok(_) => matches!(peek(s), Seen::Closed),
                        Err(_) => true,
                    };
                    if cut {
                        lifetimes.push(opened.elapsed());
                        *s = open().0;
                        *opened = Instant::now();
                    }
                }
            }
            lifetimes
        }
    });

    // Meanwhile another address asks for health every 100 ms: each answer within 1 s.
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(18) {
        match timed_health(&node) {
            Ok(t) => {
                if t > Duration::from_millis(300) {
                    eprintln!("slow health at {:?}: {t:?}", started.elapsed());
                }
                samples.push(t)
            }
            Err(e) => panic!("after {:?} of the attack: {e}", started.elapsed()),
        }
        thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let idle_closed = idle.join().expect("idle clients");
    let slow_cut = slow.join().expect("slowloris clients");
    node.assert_alive();

    let slowest = samples.iter().max().copied().unwrap_or_default();
    eprintln!(
        "health: {} samples, slowest {slowest:?}; slowloris connections cut: {}",
        samples.len(),
        slow_cut.len()
    );
    assert!(samples.len() >= 50, "only {} health samples", samples.len());
    assert!(
        slowest < Duration::from_secs(1),
        "/api/health took {slowest:?} under the attack"
    );

    // Every idle socket was taken, then closed by the server after the idle timeout.
    let open_still = idle_closed.iter().filter(|c| c.is_none()).count();
    assert_eq!(open_still, 0, "{open_still} idle sockets still open");
    let lifetimes: Vec<f64> = idle_closed
        .iter()
        .flatten()
        .map(|d| d.as_secs_f64())
        .collect();
    let shortest = lifetimes.iter().copied().fold(f64::MAX, f64::min);
    let longest = lifetimes.iter().copied().fold(0.0, f64::max);
    eprintln!("idle sockets closed after {shortest:.1} to {longest:.1} s");
    assert!(
        shortest >= idle_secs - 0.5,
        "an idle socket was closed after {shortest:.1} s, before the idle timeout"
    );
    assert!(
        longest <= idle_secs + 8.0,
        "an idle socket stayed open {longest:.1} s"
    );

    // The slow-header clients were cut by the header timeout, not left to dribble on.
    assert!(
        slow_cut.len() >= 300,
        "only {} slowloris connections were cut in 18 s",
        slow_cut.len()
    );
    let longest_slow = slow_cut.iter().max().copied().unwrap_or_default();
    assert!(
        longest_slow.as_secs_f64() <= header_secs + 5.0,
        "a slowloris connection lasted {longest_slow:?}"
    );
    // The node still answers its usual client too.
    node.health()
        .expect("health from 127.0.0.1 after the attack");
}

#[test]
fn one_address_cannot_take_every_connection_or_websocket() {
    raise_open_files();
    let dir = tempfile::tempdir().unwrap();
    // Small caps so the test reaches them: 64 connections, 8 per address.
    let config = format!(
        "{BASE_CONFIG}\n[web]\nmax_connections = 64\nmax_per_address = 8\n\
         idle_secs = 30\nheader_timeout_secs = 30\n\
         [tracker]\nmax_ws_connections = 1000\n"
    );
    let mut node = Node::start(dir.path(), &[], &config);
    node.wait_healthy(0);

    // WebSocket tracker slots: one address gets its 8, then is refused.
    let mut sockets = Vec::new();
    let mut refused = 0;
    for _ in 0..20 {
        match WsClient::connect_from(ATTACKER, node.http, "/announce") {
            Ok(ws) => sockets.push(ws),
            Err(e) => {
                assert!(
                    e.to_string().contains("503"),
                    "upgrade failed otherwise: {e}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!(sockets.len(), 8, "WebSockets one address could open");
    assert_eq!(refused, 12);
    // Another address still gets a WebSocket, and answers.
    let other = WsClient::connect_from(HONEST, node.http, "/announce");
    assert!(other.is_ok(), "another address: {:?}", other.err());
    assert_eq!(
        http_request_from(ATTACKER, node.http, "GET", "/api/health", &[])
            .unwrap()
            .status,
        503,
        "the address holding all its slots is asked to wait"
    );
    drop(sockets);

    // Idle connections: one address fills at most half the server.
    let mut held = Vec::new();
    for _ in 0..100 {
        let mut s = connect_from(ATTACKER, node.http).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            // Nothing said: the server took it and waits for a request.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                held.push(s)
            }
            _ => {}
        }
    }
    assert!(
        (8..=40).contains(&held.len()),
        "one address holds {} of 64 connections",
        held.len()
    );
    for _ in 0..10 {
        let t = timed_health(&node).expect("health from another address");
        assert!(t < Duration::from_secs(1), "health took {t:?}");
    }
    node.assert_alive();
}

/// Sends a request head, then `body` in `pieces`, waiting `gap` before each; returns the
/// answer's status and body.
fn trickle(node: &Node, head: &str, body: &[u8], pieces: usize, gap: Duration) -> (u16, String) {
    let mut s = TcpStream::connect(node.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    for piece in body.chunks(body.len().div_ceil(pieces)) {
        thread::sleep(gap);
        s.write_all(piece).unwrap();
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The body timeout is the pause between reads, never a total: a body that keeps coming
/// for longer than the timeout is taken, one that stops is dropped.
#[test]
fn a_request_body_is_dropped_after_a_pause_not_after_a_total() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{BASE_CONFIG}\n[web]\nbody_idle_secs = 2\n");
    let mut node = Node::start(dir.path(), &[], &config);
    node.wait_healthy(0);
    let mut op = Operator::new(&node);
    op.setup("Radio Slow Uplink");
    let csrf = op.csrf();
    let auth = format!(
        "Host: {}\r\nCookie: {}\r\nX-CSRF-Token: {csrf}\r\n",
        node.http,
        op.cookie_header()
    );
    let new = br#"{"name":"slow.mp3","size":20000}"#;
    let (status, created) = trickle(
        &node,
        &format!(
            "POST /admin/uploads HTTP/1.1\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            new.len()
        ),
        new,
        1,
        Duration::ZERO,
    );
    assert_eq!(status, 200, "{created}");
    let id: serde_json::Value = serde_json::from_str(&created).unwrap();
    let id = id["id"].as_str().unwrap().to_string();

    // 10,000 bytes in ten pieces a second apart: 10 s in all, never 2 s without a byte.
    let mut steady = b"ID3".to_vec();
    steady.resize(10_000, 0x20);
    let put = |offset: u64, len: usize| {
        format!(
            "PUT /admin/uploads/{id}?offset={offset} HTTP/1.1\r\n{auth}\
             Content-Length: {len}\r\nConnection: close\r\n\r\n"
        )
    };
    let (status, answer) = trickle(&node, &put(0, 10_000), &steady, 10, Duration::from_secs(1));
    assert_eq!(status, 200, "a steady slow body: {answer}");
    assert!(answer.contains("\"received\":10000"), "{answer}");

    // The next chunk stops after 1,000 of its 10,000 bytes: dropped about 2 s later.
    let mut s = TcpStream::connect(node.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(put(10_000, 10_000).as_bytes()).unwrap();
    s.write_all(&[0x20; 1000]).unwrap();
    let stalled = Instant::now();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let waited = stalled.elapsed();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6),
        "a stalled body was dropped after {waited:?}"
    );
    // Nothing of the stalled chunk was kept.
    let state = op.get(&format!("/admin/uploads/{id}")).json();
    assert_eq!(state["received"], 10_000, "{state}");
    node.assert_alive();
}
