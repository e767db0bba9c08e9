//! Requests to addresses the node learned from others cannot be steered, and what a
//! followed station lists cannot grow the node without end.
//!
//! The hostile cases run in network namespaces with no default route: the node at
//! 203.0.113.1, a "public" host at 203.0.113.10 (an attacker, or a hostile followed
//! station), and a "LAN device" at 192.168.77.20 that records every request, and whose
//! namespace counts every packet that reaches it. Names resolve through
//! `/etc/netns/NAME/hosts`.

mod common;

use std::{
    collections::BTreeSet,
    io::{Read, Write},
    net::{IpAddr, SocketAddr, TcpListener, TcpStream},
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use common::*;
use serde_json::Value;
use streamp2p::{
    federation::{
        catalog::{Catalog, CatalogItem},
        identity::Identity,
        mirrors::MirrorClaim,
    },
    store::Store,
};

const NODE: &str = "203.0.113.1";
const PUBLIC: &str = "203.0.113.10";
const LAN: &str = "192.168.77.20";
/// A 400 MB answer, written 1 MiB at a time.
const HUGE: usize = 400;
const MIB: usize = 1024 * 1024;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Requests seen by a test server: each connection's request line ("(nothing)" if it
/// sent none), and the body bytes it was sent.
#[derive(Clone, Default)]
struct Log {
    lines: Arc<Mutex<Vec<String>>>,
    bytes_out: Arc<AtomicU64>,
}

impl Log {
    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

/// Serves `listener`, a thread per connection: records the request line, then `answer`
/// writes the reply (and returns how many body bytes it got out).
fn serve(
    listener: TcpListener,
    log: &Log,
    answer: impl Fn(&str, &mut TcpStream) -> u64 + Send + Sync + 'static,
) {
    let answer = Arc::new(answer);
    let log = log.clone();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let (answer, log) = (answer.clone(), log.clone());
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16384 {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&req);
                let line = text.lines().next().unwrap_or("(nothing)").to_string();
                log.lines.lock().unwrap().push(line.clone());
                let sent = answer(&line, &mut s);
                log.bytes_out.fetch_add(sent, Ordering::Relaxed);
            });
        }
    });
}

/// A listener on `addr:port` inside `ns`.
fn listen_in(ns: &Netns, addr: &str, port: u16) -> TcpListener {
    let at: SocketAddr = format!("{addr}:{port}").parse().unwrap();
    ns.enter(move || TcpListener::bind(at).unwrap())
}

fn reply(s: &mut TcpStream, status: &str, headers: &str, body: &[u8]) -> u64 {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
    body.len() as u64
}

/// How a 400 MB answer is framed.
#[derive(Clone, Copy)]
enum Huge {
    /// Chunked, 1 MiB chunks: no length anywhere.
    Chunked,
    /// No length, ended by closing.
    Unsized,
    /// A `Content-Length` of 1000, then 400 MB anyway.
    Lying,
    /// An honest `Content-Length` of 400 MB.
    Honest,
}

/// Writes a 400 MB answer until the client stops reading; returns the body bytes written.
fn huge(s: &mut TcpStream, how: Huge) -> u64 {
    let head = match how {
        Huge::Chunked => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_string(),
        Huge::Unsized => "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string(),
        Huge::Lying => "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_string(),
        Huge::Honest => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", HUGE * MIB),
    };
    if s.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let _ = s.set_write_timeout(Some(Duration::from_secs(20)));
    // Not bencode: a probe must not take it for a tracker's answer.
    let chunk = vec![b'x'; MIB];
    let mut sent = 0u64;
    for _ in 0..HUGE {
        let ok = match how {
            Huge::Chunked => s
                .write_all(format!("{:x}\r\n", MIB).as_bytes())
                .and_then(|()| s.write_all(&chunk))
                .and_then(|()| s.write_all(b"\r\n")),
            _ => s.write_all(&chunk),
        };
        if ok.is_err() {
            break;
        }
        sent += MIB as u64;
    }
    sent
}

fn identity(dir: &Path) -> Identity {
    Identity::load_or_create(&Store::open(dir).unwrap()).unwrap()
}

fn item(infohash: String, added: u64) -> CatalogItem {
    CatalogItem {
        name: format!("{}.mp3", &infohash[..8]),
        infohash,
        size: 1000,
        mime: "audio/mpeg".into(),
        title: None,
        duration_secs: None,
        added,
    }
}

fn signed(id: &Identity, seq: u64, items: Vec<CatalogItem>, trackers: Vec<String>) -> Vec<u8> {
    let cat = Catalog {
        key: id.public_hex(),
        seq,
        station: "Hostile".into(),
        description: String::new(),
        url: String::new(),
        items,
        live: vec![],
        trackers,
        mirrors: vec![],
    };
    serde_json::to_vec(&cat.sign(id)).unwrap()
}

/// The config page's federation details (the operator is logged in first).
fn details(op: &mut Operator) -> Value {
    let r = op.get("/admin/federation");
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn vm_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The node's namespace linked to a "public" one and to a "LAN" one (no default route
/// anywhere, so nothing leaves these three).
fn node_public_and_lan() -> (Netns, Netns, Netns) {
    let node_ns = Netns::new("node");
    let pub_ns = Netns::new("pub");
    let lan_ns = Netns::new("lan");
    node_ns.link(&format!("{NODE}/24"), &pub_ns, &format!("{PUBLIC}/24"));
    node_ns.link("192.168.77.1/24", &lan_ns, &format!("{LAN}/24"));
    (node_ns, pub_ns, lan_ns)
}

/// Claims whose address points into the LAN, by every trick of the issue, are refused
/// without the LAN device hearing a single packet, and the answer says only "refused".
#[test]
fn mirror_claims_cannot_reach_the_lan() {
    let tmp = tempdir();
    let (node_ns, pub_ns, lan_ns) = node_public_and_lan();
    node_ns.hosts(&format!(
        "{LAN} lan-device.example\n{PUBLIC} public.example\n"
    ));

    // The LAN device: answers like a router's admin page, on the ports the claims name.
    let lan_log = Log::default();
    for port in [80, 8080] {
        serve(listen_in(&lan_ns, LAN, port), &lan_log, |_, s| {
            reply(s, "200 OK", "", b"\"device secret\"")
        });
    }
    // The public attacker: every request redirected to the LAN device.
    let pub_log = Log::default();
    serve(listen_in(&pub_ns, PUBLIC, 80), &pub_log, |_, s| {
        reply(
            s,
            "302 Found",
            &format!("Location: http://{LAN}/admin/factory-reset\r\n"),
            b"",
        )
    });

    let mut node = Node::start_in(&node_ns, ip(NODE), &tmp.path().join("a"), &[], BASE_CONFIG);
    node.wait_healthy(0);
    let key = node.get("/api/federation").json()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let claimant = identity(&tmp.path().join("claimant"));
    let lan_packets = lan_ns.packets_in();

    let own = node.http.port();
    let claims = [
        format!("http://{LAN}"),
        format!("http://{LAN}:8080/cgi-bin/reboot.cgi?action=reboot&x="),
        format!("http://{LAN}?x="),
        format!("http://{LAN}/admin/factory-reset#"),
        format!("http://{LAN}#/x"),
        format!("http://public.example@{LAN}"),
        format!("http://{PUBLIC}@{LAN}:8080"),
        "http://lan-device.example".to_string(),
        "http://lan-device.example:8080".to_string(),
        format!("http://[::ffff:{LAN}]"),
        "http://0xc0.0xa8.77.20".to_string(),
        format!("http://127.0.0.1:{own}"),
        "http://localhost:8080".to_string(),
        format!("http://{PUBLIC}/admin"),
        // The one that reaches a host: the public one, which redirects into the LAN.
        format!("http://{PUBLIC}"),
    ];
    for url in &claims {
        let url = url.as_str();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let body =
            serde_json::to_string(&MirrorClaim::new(&claimant, &key, url, now, vec![])).unwrap();
        let len = body.len().to_string();
        let r = node
            .request_with_body(
                "POST",
                "/api/federation/mirrors",
                &[
                    ("Content-Type", "application/json"),
                    ("Content-Length", &len),
                ],
                body.as_bytes(),
            )
            .unwrap();
        let answer = r.text();
        eprintln!("claim {url} -> {} {}", r.status, answer.trim());
        assert_eq!(r.status, 400, "{url}: {answer}");
        assert!(answer.starts_with("refused"), "{url}: {answer}");
        // Public-safe: no address, no port, nothing the device said.
        assert!(
            !answer.chars().any(|c| c.is_ascii_digit())
                && !answer.contains("secret")
                && !answer.contains("lan-device")
                && !answer.contains("Location"),
            "{url}: {answer}"
        );
    }
    assert_eq!(
        lan_log.lines(),
        Vec::<String>::new(),
        "the LAN device heard"
    );
    assert_eq!(
        lan_ns.packets_in(),
        lan_packets,
        "packets reached the LAN device's namespace"
    );
    // The public host was asked once, on the node's own path, and its redirect not followed.
    assert_eq!(pub_log.lines(), ["GET /api/catalog HTTP/1.1"]);
    assert_eq!(
        node.get("/api/federation").json()["mirrors"],
        Value::Array(vec![])
    );
    node.assert_alive();
}

/// A followed station whose tracker probes and `.torrent` files answer 400 MB (chunked,
/// unsized, with a lying or an honest length) costs the node less than 32 MiB; the
/// trackers and `.torrent` files it points into the LAN (by address, by name, by redirect)
/// are never reached.
#[test]
fn probes_and_torrent_fetches_stay_within_the_memory_budget_and_out_of_the_lan() {
    let tmp = tempdir();
    let (node_ns, pub_ns, lan_ns) = node_public_and_lan();
    node_ns.hosts(&format!("{LAN} lan-device.example\n"));
    let lan_log = Log::default();
    for port in [80, 8080] {
        serve(listen_in(&lan_ns, LAN, port), &lan_log, |_, s| {
            reply(s, "200 OK", "", b"d8:intervali60ee")
        });
    }
    let lan_packets = lan_ns.packets_in();
    let to_lan = format!("Location: http://{LAN}/announce\r\n");

    let station = identity(&tmp.path().join("station"));
    let hostile = Arc::new(AtomicBool::new(false));
    let kinds = [Huge::Chunked, Huge::Unsized, Huge::Lying, Huge::Honest];
    let trackers: Vec<String> = (0..kinds.len())
        .map(|i| format!("http://{PUBLIC}:{}/announce", 81 + i))
        .collect();
    // Trackers that lead into the LAN: 8 in all, the most kept of one station.
    let steering = [
        format!("udp://{LAN}:6969/announce"),
        "ws://lan-device.example:8080/announce".to_string(),
        "http://lan-device.example/announce".to_string(),
        format!("http://{PUBLIC}:85/announce"),
    ];
    let listed: Vec<String> = trackers.iter().chain(&steering).cloned().collect();
    let mut items: Vec<CatalogItem> = ["aa", "bb", "cc", "dd"]
        .iter()
        .enumerate()
        .map(|(i, h)| item(h.repeat(20), i as u64))
        .collect();
    // One so big (20 GB) that its .torrent may take the full 16 MiB: that cap holds too.
    let mut big = item("ee".repeat(20), 9);
    big.size = 20_000_000_000;
    items.push(big);
    // And one whose .torrent redirects into the LAN.
    items.push(item("ff".repeat(20), 10));
    let benign = signed(&station, 1, vec![], vec![]);
    let attack = signed(&station, 2, items.clone(), listed);
    let site_log = Log::default();
    let h = hostile.clone();
    let redirect = to_lan.clone();
    serve(listen_in(&pub_ns, PUBLIC, 80), &site_log, move |line, s| {
        let path = line.split_whitespace().nth(1).unwrap_or("");
        if path == "/api/catalog" {
            let body = if h.load(Ordering::SeqCst) {
                &attack
            } else {
                &benign
            };
            return reply(s, "200 OK", "Content-Type: application/json\r\n", body);
        }
        let kind = ["aa", "bb", "cc", "dd", "ee"]
            .iter()
            .position(|p| path.starts_with(&format!("/t/{}", p.repeat(20))));
        match kind {
            Some(k) => huge(s, kinds[k % kinds.len()]),
            None if path.starts_with("/t/ffff") => reply(s, "302 Found", &redirect, b""),
            None => reply(s, "404 Not Found", "", b""),
        }
    });
    let probe_log = Log::default();
    for (i, kind) in kinds.iter().enumerate() {
        let kind = *kind;
        serve(
            listen_in(&pub_ns, PUBLIC, 81 + i as u16),
            &probe_log,
            move |_, s| huge(s, kind),
        );
    }
    serve(listen_in(&pub_ns, PUBLIC, 85), &probe_log, move |_, s| {
        reply(s, "302 Found", &to_lan, b"")
    });

    // The test's operator reaches the config page from 203.0.113.1, not a LAN address.
    let cfg = format!(
        "{BASE_CONFIG}\n[admin]\nallow_remote = true\n\
         [federation]\nfollow = [\"http://{PUBLIC}\"]\npoll_secs = 5\nprobe_secs = 5\n\
         mirror_budget_mb = 100000\n"
    );
    let mut node = Node::start_in(&node_ns, ip(NODE), &tmp.path().join("n"), &[], &cfg);
    node.wait_healthy(0);
    let mut op = Operator::new(&node);
    op.setup("Follower");
    let pid = node.pid();
    wait_for(pid, "the benign catalog", Duration::from_secs(30), || {
        let d = details(&mut op);
        (d["follows"][0]["seq"] == 1)
            .then_some(())
            .ok_or(d.to_string())
    });
    std::thread::sleep(Duration::from_secs(2));
    let before = vm_rss_kib(pid);

    hostile.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let mut peak = before;
    // Two polls and three probe rounds at least.
    let mut timeline = Vec::new();
    while started.elapsed() < Duration::from_secs(22) {
        let now = vm_rss_kib(pid);
        peak = peak.max(now);
        timeline.push(now / 1024);
        std::thread::sleep(Duration::from_millis(100));
    }
    timeline.dedup();
    eprintln!("VmRSS changes, sampled every 100 ms (MiB): {timeline:?}");
    let after = vm_rss_kib(pid);
    peak = peak.max(after);
    eprintln!(
        "VmRSS: {} MiB before, {} MiB at most, {} MiB after; sent {} MiB to the \
         .torrent fetches and {} MiB to the probes",
        before / 1024,
        peak / 1024,
        after / 1024,
        site_log.bytes_out.load(Ordering::Relaxed) / MIB as u64,
        probe_log.bytes_out.load(Ordering::Relaxed) / MIB as u64,
    );
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "the node died");
    // The attack happened: every huge .torrent and every tracker was asked.
    let asked: BTreeSet<String> = site_log
        .lines()
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1).map(String::from))
        .collect();
    for i in &items {
        let want = format!("/t/{}.torrent", i.infohash);
        assert!(asked.contains(&want), "{want} not fetched: {asked:?}");
    }
    let probes = probe_log.lines();
    assert!(probes.len() >= (kinds.len() + 1) * 2, "{probes:?}");
    assert!(
        probes
            .iter()
            .all(|l| l.starts_with("GET /announce?info_hash=")),
        "probes go to the node's own path: {probes:?}"
    );
    assert!(
        peak - before < 32 * 1024,
        "resident memory grew by {} KiB under 400 MB answers",
        peak - before
    );
    // The operator sees why: the caps, the private addresses, the redirect.
    let d = details(&mut op);
    for t in &trackers[..2] {
        let err = d["trackers"][t]["last_error"].as_str().unwrap_or_default();
        assert!(err.contains("larger than"), "{t}: {d}");
    }
    for (t, why) in steering
        .iter()
        .zip(["private", "private", "private", "redirect"])
    {
        let err = d["trackers"][t]["last_error"].as_str().unwrap_or_default();
        assert!(err.contains(why), "{t}: {d}");
    }
    assert!(asked.contains(&format!("/t/{}.torrent", "ff".repeat(20))));
    assert_eq!(
        lan_log.lines(),
        Vec::<String>::new(),
        "the LAN device heard"
    );
    assert_eq!(lan_ns.packets_in(), lan_packets, "packets reached the LAN");
}

/// Polls `check` every 200 ms until it passes, the node (by `pid`) dies, or `timeout`
/// (`Node::wait_until` needs the node to itself, and an `Operator` borrows it).
fn wait_for<T>(
    pid: u32,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "the node died waiting for {what}"
        );
        let last = match check() {
            Ok(v) => return v,
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {last}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `GET /api/catalog` with only the `Host` given: the signed catalog's text.
fn catalog_for_host(node: &Node, host: &str) -> String {
    let mut s = TcpStream::connect(node.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /api/catalog HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let v: Value = serde_json::from_slice(&raw[at + 4..]).expect("a JSON catalog");
    v["catalog"].as_str().unwrap_or_default().to_string()
}

/// One announce for `infohash` to `node`'s tracker: whether it tracks that swarm.
fn tracks(node: &Node, infohash: &str) -> bool {
    let ih = infohash_bytes(infohash);
    let r = node.get(&format!(
        "/announce?info_hash={}&peer_id=-TT0001-000000000001&port=6881&uploaded=0\
         &downloaded=0&left=0&compact=1&event=stopped&numwant=0",
        urlencode_all(&ih)
    ));
    let text = r.text();
    assert!(
        !text.contains("failure reason") || text.contains("only tracks"),
        "{text}"
    );
    !text.contains("failure reason")
}

/// A followed station's 5,000 made-up episodes and 40 trackers: a capped number is tracked
/// and probed, and the next catalog replaces them. The node's own catalog does not change
/// with the `Host` it is asked by, and its public federation status tells no probe result.
#[test]
fn a_followed_catalog_is_capped_and_replaced_and_the_catalog_ignores_host() {
    let tmp = tempdir();
    let station = identity(&tmp.path().join("station"));
    let many: Vec<CatalogItem> = (0..5000u64).map(|n| item(format!("{n:040x}"), n)).collect();
    // Trackers on loopback ports nobody listens on: probed, failing, harmless.
    let trackers: Vec<String> = (0..40)
        .map(|n| format!("udp://127.0.0.{}:{}/announce", 2 + n, 7000 + n))
        .collect();
    let later_tracker = "udp://127.0.0.99:7999/announce".to_string();
    let first = signed(&station, 1, many, trackers.clone());
    let second = signed(
        &station,
        2,
        vec![item("ee".repeat(20), 1)],
        vec![later_tracker.clone()],
    );
    let replaced = Arc::new(AtomicBool::new(false));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let r = replaced.clone();
    serve(listener, &Log::default(), move |_, s| {
        let body = if r.load(Ordering::SeqCst) {
            &second
        } else {
            &first
        };
        reply(s, "200 OK", "Content-Type: application/json\r\n", body)
    });

    // The test announces often: no rate limit in the way.
    let cfg = format!(
        "{BASE_CONFIG}\n[tracker]\nrate_limit_per_ip = 1000000\n\
         [federation]\nfollow = [\"{url}\"]\npoll_secs = 5\nprobe_secs = 5\n\
         allow_private_addresses = true\n"
    );
    // On every address and with no public URL: the catalog has no address to trust but
    // its own, and must not take the asker's.
    let mut node = Node::start_on("0.0.0.0".parse().unwrap(), &tmp.path().join("n"), &[], &cfg);
    // Asked over loopback: the config page answers only under the box's own names, and
    // `0.0.0.0` (the listening address) is none of them.
    node.http.set_ip("127.0.0.1".parse().unwrap());
    node.wait_healthy(0);
    let mut op = Operator::new(&node);
    op.setup("Follower");
    let pid = node.pid();
    let newest = format!("{:040x}", 4999);
    let oldest = format!("{:040x}", 0);
    wait_for(
        pid,
        "the big catalog admitted",
        Duration::from_secs(30),
        || {
            tracks(&node, &newest)
                .then_some(())
                .ok_or("not yet".to_string())
        },
    );
    assert!(!tracks(&node, &oldest), "more than the cap is tracked");
    let learned = wait_for(pid, "the trackers probed", Duration::from_secs(30), || {
        let d = details(&mut op);
        let probed: Vec<String> = d["trackers"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if probed.is_empty() {
            Err(d.to_string())
        } else {
            Ok(probed)
        }
    });
    assert!(
        learned.len() <= 8,
        "{} trackers kept: {learned:?}",
        learned.len()
    );
    assert!(learned.iter().all(|t| trackers.contains(t)), "{learned:?}");

    // The public status names the followed station and no more.
    let public = node.get("/api/federation").json();
    assert!(public.get("trackers").is_none(), "{public}");
    let follow = &public["follows"][0];
    assert_eq!(follow["station"], "Hostile", "{public}");
    for hidden in ["error", "url", "retry_in_secs", "last_ok"] {
        assert!(follow.get(hidden).is_none(), "{hidden} is public: {public}");
    }

    // The next catalog replaces what the first one admitted and listed.
    replaced.store(true, Ordering::SeqCst);
    wait_for(
        pid,
        "the old swarms dropped",
        Duration::from_secs(60),
        || {
            (!tracks(&node, &newest) && tracks(&node, &"ee".repeat(20)))
                .then_some(())
                .ok_or("still the old ones".to_string())
        },
    );
    wait_for(
        pid,
        "the old trackers forgotten",
        Duration::from_secs(30),
        || {
            let d = details(&mut op);
            let probed: Vec<String> = d["trackers"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            (probed == [later_tracker.clone()])
                .then_some(())
                .ok_or(d.to_string())
        },
    );

    // The catalog is the same whoever asks, by whatever name.
    let catalogs: Vec<String> = ["evil.example", "127.0.0.1", "attacker.example:666"]
        .iter()
        .map(|host| catalog_for_host(&node, host))
        .collect();
    assert!(!catalogs[0].is_empty());
    assert!(
        catalogs.iter().all(|c| c == &catalogs[0]),
        "the catalog changed with Host: {catalogs:?}"
    );
    assert!(
        !catalogs[0].contains("evil") && !catalogs[0].contains("attacker"),
        "{}",
        catalogs[0]
    );
    node.assert_alive();
}
