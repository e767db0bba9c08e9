//! Tracker load generator for `benches/tracker.sh`.
//!
//! ```text
//! streamp2p-loadgen hashes --torrents T                  # hex infohashes, one a line
//! streamp2p-loadgen http-paths --torrents T --peers P    # announce query strings for wrk
//! streamp2p-loadgen udp --server ADDR [--torrents T --peers P --sockets S --window W
//!                       --warmup SECS --seconds SECS --numwant N]
//! streamp2p-loadgen ws --server ADDR [--conns N --rate R --offers K --torrents T
//!                      --warmup SECS --seconds SECS] [--hold]
//! ```
//!
//! Torrents and peers are derived exactly as `aquatic_udp_load_test` 0.9 derives them (same
//! seeds, same rand 0.8 generators, same weighting of torrents), so its infohashes are known
//! in advance (opentracker's whitelist) and every generator loads the same swarms. Unlike
//! aquatic's UDP load tester (which sends peer_id = 0 in every announce), each simulated
//! peer has its own peer_id, and every request's latency is recorded.
//!
//! Only loopback targets are accepted; every run is bounded in time.

use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    io::{ErrorKind, Write},
    net::{SocketAddr, UdpSocket},
    rc::Rc,
    time::{Duration, Instant},
};

use rand::{rngs::SmallRng, Rng, SeedableRng};
use rand_distr::{Distribution, Gamma, WeightedAliasIndex};

// ------------------------------------------------------------------ arguments

struct Args(HashMap<String, String>);

impl Args {
    fn parse(v: &[String]) -> Self {
        let mut m = HashMap::new();
        let mut i = 0;
        while i < v.len() {
            let k = v[i].trim_start_matches("--").to_string();
            if i + 1 < v.len() && !v[i + 1].starts_with("--") {
                m.insert(k, v[i + 1].clone());
                i += 2;
            } else {
                m.insert(k, "1".into());
                i += 1;
            }
        }
        Args(m)
    }
    fn get<T: std::str::FromStr>(&self, k: &str, default: T) -> T {
        match self.0.get(k) {
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| die(&format!("bad value for --{k}: {v}"))),
            None => default,
        }
    }
    fn flag(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }
    fn server(&self) -> SocketAddr {
        let s: SocketAddr = self
            .0
            .get("server")
            .unwrap_or_else(|| die("--server ADDR is required"))
            .parse()
            .unwrap_or_else(|_| die("--server must be IP:PORT"));
        if !s.ip().is_loopback() {
            die("only loopback targets (127.0.0.0/8, ::1) are allowed");
        }
        s
    }
}

fn die(msg: &str) -> ! {
    eprintln!("loadgen: {msg}");
    std::process::exit(2)
}

// ------------------------------------------------------------------ aquatic-compatible swarms

/// `aquatic_udp_load_test` 0.9 `InfoHashDist::new`: the infohashes and the torrent weights.
fn info_hashes(n: usize) -> Vec<[u8; 20]> {
    let mut rng = SmallRng::seed_from_u64(0xc3aa8be617b3acce);
    (0..n)
        .map(|_| {
            let mut b = [0u8; 20];
            for x in b.iter_mut() {
                *x = rng.gen();
            }
            b
        })
        .collect()
}

fn torrent_dist(torrents: usize, peers: usize) -> WeightedAliasIndex<f64> {
    let n = torrents as u32;
    let w = (0..n)
        .map(|i| {
            let floor = n as f64 / peers as f64;
            floor + (6.5f64 - ((500.0 * f64::from(i)) / f64::from(n))).exp()
        })
        .collect();
    WeightedAliasIndex::new(w).expect("torrent weights")
}

/// A simulated peer: its torrent and its port (as `create_peers` of aquatic's load test,
/// drawing the same random numbers in the same order), and its own peer id.
#[derive(Clone, Copy)]
struct Peer {
    torrent: usize,
    port: u16,
    id: [u8; 20],
}

fn make_peers(torrents: usize, peers: usize) -> Vec<Peer> {
    const SCRAPE_MAX: usize = 10;
    const SOCKETS_PER_WORKER: u8 = 4;
    let dist = torrent_dist(torrents, peers);
    let mut rng = SmallRng::seed_from_u64(0xc3a58be617b3acce);
    (0..peers)
        .map(|i| {
            let scrapes = rng.gen_range(1..SCRAPE_MAX + 1);
            for _ in 0..scrapes {
                dist.sample(&mut rng);
            }
            let torrent = dist.sample(&mut rng);
            let port: u16 = rng.gen();
            let _socket: u8 = rng.gen_range(0..SOCKETS_PER_WORKER);
            let mut id = [0u8; 20];
            id[..8].copy_from_slice(b"-LG0001-");
            id[8..].copy_from_slice(format!("{i:012}").as_bytes());
            Peer { torrent, port, id }
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn urlencode(b: &[u8]) -> String {
    b.iter()
        .map(|&x| {
            if x.is_ascii_alphanumeric() || b"-_.~".contains(&x) {
                (x as char).to_string()
            } else {
                format!("%{x:02X}")
            }
        })
        .collect()
}

// ------------------------------------------------------------------ latency histogram

/// Exact to the microsecond up to 100 ms, then to the millisecond up to 100 s.
struct Hist {
    fine: Vec<u32>,
    coarse: Vec<u32>,
    n: u64,
    max_us: u64,
}

impl Hist {
    fn new() -> Self {
        Hist {
            fine: vec![0; 100_000],
            coarse: vec![0; 100_000],
            n: 0,
            max_us: 0,
        }
    }
    fn record(&mut self, d: Duration) {
        let us = d.as_micros() as u64;
        if us < 100_000 {
            self.fine[us as usize] += 1;
        } else {
            self.coarse[((us / 1000) as usize).min(99_999)] += 1;
        }
        self.n += 1;
        self.max_us = self.max_us.max(us);
    }
    fn pct(&self, p: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let want = ((p / 100.0) * self.n as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (us, c) in self.fine.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= want {
                return us as u64;
            }
        }
        for (ms, c) in self.coarse.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= want {
                return ms as u64 * 1000;
            }
        }
        self.max_us
    }
    fn json(&self) -> String {
        format!(
            "\"p50_us\": {}, \"p90_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"max_us\": {}",
            self.pct(50.0),
            self.pct(90.0),
            self.pct(99.0),
            self.pct(99.9),
            self.max_us
        )
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

// ------------------------------------------------------------------ UDP (BEP 15)

const PROTOCOL_ID: u64 = 0x41727101980;

fn udp_connect(sock: &UdpSocket) -> u64 {
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 2048];
    for attempt in 0..10u32 {
        let mut req = Vec::with_capacity(16);
        req.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
        req.extend_from_slice(&0u32.to_be_bytes());
        req.extend_from_slice(&(0xC0_0000 + attempt).to_be_bytes());
        let _ = sock.send(&req);
        if let Ok(n) = sock.recv(&mut buf) {
            if n >= 16 && buf[..4] == 0u32.to_be_bytes() {
                sock.set_nonblocking(true).unwrap();
                return u64::from_be_bytes(buf[8..16].try_into().unwrap());
            }
        }
    }
    die("UDP tracker did not answer connect requests")
}

struct Slot {
    sent: Option<Instant>,
    gen: u16,
}

fn udp(a: &Args) {
    let server = a.server();
    let torrents: usize = a.get("torrents", 10_000);
    let npeers: usize = a.get("peers", 100_000);
    let nsockets: usize = a.get("sockets", 4);
    let window: usize = a.get("window", 16);
    let warmup: f64 = a.get("warmup", 5.0);
    let seconds: f64 = a.get("seconds", 20.0);
    let numwant: i32 = a.get("numwant", 30);
    let seeder_p: f64 = a.get("seeder-probability", 0.75);
    let timeout = Duration::from_millis(a.get("timeout-ms", 1000));
    if warmup + seconds > 100.0 {
        die("warmup + seconds must stay under 100 s (connection ids live 2 minutes)");
    }
    assert!(window <= 0xffff && window > 0 && nsockets > 0);
    let hashes = info_hashes(torrents);
    let peers = make_peers(torrents, npeers);
    let bind: SocketAddr = if server.is_ipv6() {
        "[::1]:0".parse().unwrap()
    } else {
        "127.0.0.1:0".parse().unwrap()
    };
    let socks: Vec<UdpSocket> = (0..nsockets)
        .map(|_| {
            let s = UdpSocket::bind(bind).expect("bind");
            s.connect(server).expect("connect");
            s
        })
        .collect();
    let conn_ids: Vec<u64> = socks.iter().map(udp_connect).collect();
    let mut slots: Vec<Vec<Slot>> = (0..nsockets)
        .map(|_| (0..window).map(|_| Slot { sent: None, gen: 0 }).collect())
        .collect();
    let mut free: Vec<Vec<u16>> = (0..nsockets)
        .map(|_| (0..window as u16).rev().collect())
        .collect();
    let mut rng = SmallRng::seed_from_u64(7);
    let mut hist = Hist::new();
    let (mut sent, mut ok, mut errors, mut lost, mut peers_in) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut first_error = String::new();
    let mut next_peer = 0usize;
    let mut req = [0u8; 98];
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let end = measure_from + Duration::from_secs_f64(seconds);
    let mut measuring = false;
    let mut loops = 0u64;
    loop {
        let now = Instant::now();
        if loops % 256 == 0 {
            if !measuring && now >= measure_from {
                measuring = true;
                hist = Hist::new();
                (sent, ok, errors, lost, peers_in) = (0, 0, 0, 0, 0);
            }
            if now >= end {
                break;
            }
            for (si, ss) in slots.iter_mut().enumerate() {
                for (i, s) in ss.iter_mut().enumerate() {
                    if s.sent.is_some_and(|t| now.duration_since(t) > timeout) {
                        s.sent = None;
                        s.gen = s.gen.wrapping_add(1);
                        free[si].push(i as u16);
                        lost += 1;
                    }
                }
            }
        }
        loops += 1;
        for (si, sock) in socks.iter().enumerate() {
            while let Some(slot) = free[si].pop() {
                let p = &peers[next_peer];
                next_peer = (next_peer + 1) % peers.len();
                let s = &mut slots[si][slot as usize];
                let tx = (u32::from(s.gen) << 16) | u32::from(slot);
                let (event, left) = if rng.gen_bool(seeder_p) {
                    (1u32, 0u64) // completed
                } else {
                    (2u32, 50u64) // started
                };
                req[0..8].copy_from_slice(&conn_ids[si].to_be_bytes());
                req[8..12].copy_from_slice(&1u32.to_be_bytes());
                req[12..16].copy_from_slice(&tx.to_be_bytes());
                req[16..36].copy_from_slice(&hashes[p.torrent]);
                req[36..56].copy_from_slice(&p.id);
                req[56..64].copy_from_slice(&50u64.to_be_bytes());
                req[64..72].copy_from_slice(&left.to_be_bytes());
                req[72..80].copy_from_slice(&50u64.to_be_bytes());
                req[80..84].copy_from_slice(&event.to_be_bytes());
                req[84..88].copy_from_slice(&0u32.to_be_bytes());
                req[88..92].copy_from_slice(&0u32.to_be_bytes());
                req[92..96].copy_from_slice(&numwant.to_be_bytes());
                req[96..98].copy_from_slice(&p.port.to_be_bytes());
                match sock.send(&req) {
                    Ok(_) => {
                        s.sent = Some(now);
                        sent += 1;
                    }
                    Err(_) => {
                        free[si].push(slot);
                        break;
                    }
                }
            }
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) if n >= 8 => {
                        let action = u32::from_be_bytes(buf[0..4].try_into().unwrap());
                        let tx = u32::from_be_bytes(buf[4..8].try_into().unwrap());
                        let slot = (tx & 0xffff) as usize;
                        let gen = (tx >> 16) as u16;
                        let Some(s) = slots[si].get_mut(slot) else {
                            continue;
                        };
                        if s.gen != gen || s.sent.is_none() {
                            continue; // late reply to a request already counted lost
                        }
                        let t = s.sent.take().unwrap();
                        s.gen = s.gen.wrapping_add(1);
                        free[si].push(slot as u16);
                        hist.record(Instant::now().duration_since(t));
                        match action {
                            1 if n >= 20 => {
                                ok += 1;
                                peers_in += ((n - 20) / 6) as u64;
                            }
                            1 => {
                                // opentracker answers an announce for an infohash not on
                                // its whitelist with a bare 8-byte header.
                                errors += 1;
                                if first_error.is_empty() {
                                    first_error = format!("short announce reply ({n} bytes)");
                                }
                            }
                            _ => {
                                errors += 1;
                                if first_error.is_empty() {
                                    first_error = String::from_utf8_lossy(&buf[8..n]).into();
                                }
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break, // ICMP unreachable and the like
                }
            }
        }
    }
    let secs = seconds;
    println!(
        "{{\"proto\": \"udp\", \"seconds\": {secs}, \"sent\": {sent}, \"announces\": {ok}, \
         \"announces_per_s\": {:.1}, \"errors\": {errors}, \"lost\": {lost}, \
         \"peers_per_reply\": {:.2}, {}, \"first_error\": {}, \"torrents\": {torrents}, \
         \"peers\": {npeers}, \"sockets\": {nsockets}, \"window\": {window}}}",
        ok as f64 / secs,
        peers_in as f64 / ok.max(1) as f64,
        hist.json(),
        json_str(&first_error)
    );
}

// ------------------------------------------------------------------ WebSocket (WebTorrent)

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, BufReader},
    net::{tcp::OwnedReadHalf, TcpStream},
    sync::{Notify, Semaphore},
};

const SDP: &str = "abcdefg-abcdefg-abcdefg-abcdefg-abcdefg-abcdefg";

#[derive(Default)]
struct WsStats {
    connected: Cell<u64>,
    failed: Cell<u64>,
    closed: Cell<u64>,
    sent: Cell<u64>,
    replies: Cell<u64>,
    offers_in: Cell<u64>,
    errors: Cell<u64>,
    lost: Cell<u64>,
    first_error: RefCell<String>,
}

struct WsShared {
    server: SocketAddr,
    hashes: Vec<[u8; 20]>,
    gamma: Gamma<f64>,
    offers: usize,
    rate: f64,
    hold: bool,
    measuring: Cell<bool>,
    stop: Cell<bool>,
    go: Notify,
    started: Cell<bool>,
    stats: WsStats,
    hist: RefCell<Hist>,
    rng: RefCell<SmallRng>,
    connect_limit: Semaphore,
    announced_once: Cell<u64>,
}

fn push_bin(o: &mut String, b: &[u8]) {
    o.push('"');
    for &x in b {
        match x {
            b'"' => o.push_str("\\\""),
            b'\\' => o.push_str("\\\\"),
            x if x < 0x20 || x == 0x7f => o.push_str(&format!("\\u{x:04x}")),
            x => o.push(char::from(x)),
        }
    }
    o.push('"');
}

fn ws_frame(payload: &[u8], opcode: u8) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else if n < 65536 {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    let mask = [0x37u8, 0xfa, 0x21, 0x3d];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

fn announce_json(sh: &WsShared, peer_id: &[u8; 20]) -> String {
    let mut rng = sh.rng.borrow_mut();
    // aquatic_ws_load_test's torrent choice: Gamma(0.2, 100) over the torrents.
    let p: f64 = sh.gamma.sample(&mut *rng);
    let p = (p.min(101.0) - 1.0) / 100.0;
    let idx = ((p * (sh.hashes.len() - 1) as f64) as isize).max(0) as usize;
    let seeder = rng.gen_bool(0.25);
    let mut o = String::with_capacity(200 + sh.offers * 120);
    o.push_str("{\"action\":\"announce\",\"info_hash\":");
    push_bin(&mut o, &sh.hashes[idx.min(sh.hashes.len() - 1)]);
    o.push_str(",\"peer_id\":");
    push_bin(&mut o, peer_id);
    o.push_str(&format!(
        ",\"numwant\":{},\"uploaded\":0,\"downloaded\":0,\"left\":{},\"event\":\"{}\",\"offers\":[",
        sh.offers,
        if seeder { 0 } else { 50 },
        if seeder { "completed" } else { "started" }
    ));
    for i in 0..sh.offers {
        if i > 0 {
            o.push(',');
        }
        let mut oid = [0u8; 20];
        for x in oid.iter_mut() {
            *x = rng.gen_range(b'a'..=b'z');
        }
        o.push_str("{\"offer\":{\"type\":\"offer\",\"sdp\":\"");
        o.push_str(SDP);
        o.push_str("\"},\"offer_id\":");
        push_bin(&mut o, &oid);
        o.push('}');
    }
    o.push_str("]}");
    o
}

struct ConnState {
    sent_at: Cell<Option<Instant>>,
    replied: Notify,
    open: Cell<bool>,
}

async fn ws_reader(rd: OwnedReadHalf, st: Rc<ConnState>, sh: Rc<WsShared>) {
    let mut rd = BufReader::with_capacity(16 * 1024, rd);
    let mut payload = Vec::new();
    loop {
        let mut h = [0u8; 2];
        if rd.read_exact(&mut h).await.is_err() {
            break;
        }
        let opcode = h[0] & 0x0f;
        let mut len = u64::from(h[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            if rd.read_exact(&mut b).await.is_err() {
                break;
            }
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            if rd.read_exact(&mut b).await.is_err() {
                break;
            }
            len = u64::from_be_bytes(b);
        }
        if h[1] & 0x80 != 0 || len > 1 << 20 {
            break; // servers do not mask; nothing here is that large
        }
        payload.resize(len as usize, 0);
        if rd.read_exact(&mut payload).await.is_err() {
            break;
        }
        let count = sh.measuring.get();
        match opcode {
            0x1 | 0x2 => {
                let text = String::from_utf8_lossy(&payload);
                if text.contains("\"interval\"") || text.contains("failure reason") {
                    if text.contains("failure reason") {
                        if count {
                            sh.stats.errors.set(sh.stats.errors.get() + 1);
                        }
                        if sh.stats.first_error.borrow().is_empty() {
                            *sh.stats.first_error.borrow_mut() = text.chars().take(200).collect();
                        }
                    }
                    if let Some(t) = st.sent_at.take() {
                        if count {
                            sh.hist.borrow_mut().record(t.elapsed());
                            sh.stats.replies.set(sh.stats.replies.get() + 1);
                        }
                        st.replied.notify_one();
                    }
                } else if text.contains("\"offer\"") {
                    if count {
                        sh.stats.offers_in.set(sh.stats.offers_in.get() + 1);
                    }
                }
            }
            0x8 => {
                if sh.stats.first_error.borrow().is_empty() {
                    let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or(&[]));
                    *sh.stats.first_error.borrow_mut() = format!("server closed: {reason}");
                }
                break;
            }
            _ => {} // ping/pong: the trackers here do not ping within a run
        }
    }
    if !sh.stop.get() {
        sh.stats.closed.set(sh.stats.closed.get() + 1);
    }
    st.open.set(false);
    st.replied.notify_one();
}

async fn ws_conn(i: usize, sh: Rc<WsShared>) {
    let permit = sh.connect_limit.acquire().await.unwrap();
    let stream = match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(sh.server))
        .await
    {
        Ok(Ok(s)) => s,
        _ => {
            sh.stats.failed.set(sh.stats.failed.get() + 1);
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let hs = format!(
        "GET /announce HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        sh.server
    );
    if wr.write_all(hs.as_bytes()).await.is_err() {
        sh.stats.failed.set(sh.stats.failed.get() + 1);
        return;
    }
    // Read the 101 response byte by byte up to the blank line (small, once per connection).
    let mut rd = rd;
    let mut head = Vec::new();
    let ok = tokio::time::timeout(Duration::from_secs(10), async {
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
            if rd.read_exact(&mut b).await.is_err() {
                return false;
            }
            head.push(b[0]);
        }
        head.starts_with(b"HTTP/1.1 101")
    })
    .await
    .unwrap_or(false);
    drop(permit);
    if !ok {
        sh.stats.failed.set(sh.stats.failed.get() + 1);
        if sh.stats.first_error.borrow().is_empty() {
            *sh.stats.first_error.borrow_mut() =
                format!("upgrade refused: {}", String::from_utf8_lossy(&head).lines().next().unwrap_or(""));
        }
        return;
    }
    sh.stats.connected.set(sh.stats.connected.get() + 1);
    let st = Rc::new(ConnState {
        sent_at: Cell::new(None),
        replied: Notify::new(),
        open: Cell::new(true),
    });
    tokio::task::spawn_local(ws_reader(rd, st.clone(), sh.clone()));
    let mut peer_id = [0u8; 20];
    peer_id[..8].copy_from_slice(b"-LW0001-");
    peer_id[8..].copy_from_slice(format!("{i:012}").as_bytes());
    while !sh.started.get() {
        sh.go.notified().await;
    }
    let interval = if sh.rate > 0.0 {
        Duration::from_secs_f64(1.0 / sh.rate)
    } else {
        Duration::ZERO
    };
    // Spread the connections over one interval.
    let phase = interval.mul_f64(sh.rng.borrow_mut().gen::<f64>());
    let mut next = tokio::time::Instant::now() + phase;
    let mut first = true;
    while !sh.stop.get() && st.open.get() {
        tokio::time::sleep_until(next).await;
        if sh.stop.get() {
            break;
        }
        let msg = announce_json(&sh, &peer_id);
        st.sent_at.set(Some(Instant::now()));
        if wr.write_all(&ws_frame(msg.as_bytes(), 1)).await.is_err() {
            break;
        }
        if sh.measuring.get() {
            sh.stats.sent.set(sh.stats.sent.get() + 1);
        }
        if tokio::time::timeout(Duration::from_secs(5), st.replied.notified())
            .await
            .is_err()
        {
            st.sent_at.set(None);
            if sh.measuring.get() {
                sh.stats.lost.set(sh.stats.lost.get() + 1);
            }
        }
        if first {
            first = false;
            sh.announced_once.set(sh.announced_once.get() + 1);
            if sh.hold {
                // Memory mode: one announce with offers, then stay connected and silent.
                while !sh.stop.get() && st.open.get() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                break;
            }
        }
        next = (next + interval).max(tokio::time::Instant::now() - interval);
    }
    let _ = wr.write_all(&ws_frame(&[0x03, 0xe8], 0x8)).await;
}

fn ws(a: &Args) {
    let server = a.server();
    let conns: usize = a.get("conns", 1000);
    let rate: f64 = a.get("rate", 10.0);
    let offers: usize = a.get("offers", 10);
    let torrents: usize = a.get("torrents", 10_000);
    let warmup: f64 = a.get("warmup", 5.0);
    let seconds: f64 = a.get("seconds", 20.0);
    let hold = a.flag("hold");
    if warmup + seconds > 300.0 {
        die("warmup + seconds must stay under 300 s");
    }
    let sh = Rc::new(WsShared {
        server,
        hashes: info_hashes(torrents),
        gamma: Gamma::new(0.2, 100.0).unwrap(),
        offers,
        rate,
        hold,
        measuring: Cell::new(false),
        stop: Cell::new(false),
        go: Notify::new(),
        started: Cell::new(false),
        stats: WsStats::default(),
        hist: RefCell::new(Hist::new()),
        rng: RefCell::new(SmallRng::seed_from_u64(11)),
        connect_limit: Semaphore::new(64),
        announced_once: Cell::new(0),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        for i in 0..conns {
            tokio::task::spawn_local(ws_conn(i, sh.clone()));
        }
        // Bounded wait for every connection to open (or fail).
        let t0 = Instant::now();
        while (sh.stats.connected.get() + sh.stats.failed.get()) < conns as u64
            && t0.elapsed() < Duration::from_secs(120)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let connect_secs = t0.elapsed().as_secs_f64();
        eprintln!(
            "loadgen: {} connected, {} failed in {:.2} s",
            sh.stats.connected.get(),
            sh.stats.failed.get(),
            connect_secs
        );
        sh.started.set(true);
        sh.go.notify_waiters();
        if hold {
            let t1 = Instant::now();
            while sh.announced_once.get() < sh.stats.connected.get()
                && t1.elapsed() < Duration::from_secs(60)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            println!(
                "READY {} {} {}",
                sh.stats.connected.get(),
                sh.announced_once.get(),
                sh.stats.closed.get()
            );
            let _ = std::io::stdout().flush();
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            sh.stop.set(true);
            return;
        }
        tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
        *sh.hist.borrow_mut() = Hist::new();
        sh.measuring.set(true);
        let c0 = sh.stats.closed.get();
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        sh.measuring.set(false);
        sh.stop.set(true);
        let s = &sh.stats;
        println!(
            "{{\"proto\": \"ws\", \"seconds\": {seconds}, \"conns\": {conns}, \"connected\": {}, \
             \"connect_failed\": {}, \"closed_by_server\": {}, \"closed_during_measure\": {}, \
             \"rate_per_conn\": {rate}, \"offers\": {offers}, \"sent\": {}, \"announces\": {}, \
             \"announces_per_s\": {:.1}, \"offers_relayed_in\": {}, \"offers_in_per_s\": {:.1}, \
             \"errors\": {}, \"lost\": {}, {}, \"first_error\": {}, \"connect_secs\": {:.2}}}",
            s.connected.get(),
            s.failed.get(),
            s.closed.get(),
            s.closed.get() - c0,
            s.sent.get(),
            s.replies.get(),
            s.replies.get() as f64 / seconds,
            s.offers_in.get(),
            s.offers_in.get() as f64 / seconds,
            s.errors.get(),
            s.lost.get(),
            sh.hist.borrow().json(),
            json_str(&s.first_error.borrow()),
            connect_secs
        );
    });
}

// ------------------------------------------------------------------ main

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let cmd = argv.get(1).map(String::as_str).unwrap_or("");
    let a = Args::parse(argv.get(2..).unwrap_or(&[]));
    match cmd {
        "hashes" => {
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            for h in info_hashes(a.get("torrents", 10_000)) {
                writeln!(out, "{}", hex(&h)).unwrap();
            }
        }
        "http-paths" => {
            // One announce path per simulated peer (same swarms as the UDP load), for wrk.
            let torrents = a.get("torrents", 10_000);
            let hashes = info_hashes(torrents);
            let peers = make_peers(torrents, a.get("peers", 100_000));
            let numwant: u32 = a.get("numwant", 30);
            let mut rng = SmallRng::seed_from_u64(5);
            let out = std::io::stdout();
            let mut out = std::io::BufWriter::new(out.lock());
            for p in &peers {
                let left = if rng.gen_bool(0.75) { 0 } else { 50 };
                writeln!(
                    out,
                    "/announce?info_hash={}&peer_id={}&port={}&uploaded=50&downloaded=50&left={left}&compact=1&numwant={numwant}",
                    urlencode(&hashes[p.torrent]),
                    urlencode(&p.id),
                    p.port.max(1)
                )
                .unwrap();
            }
        }
        "swarms" => {
            // Peers per torrent of the simulated population, largest first (for the report).
            let torrents = a.get("torrents", 10_000);
            let peers = make_peers(torrents, a.get("peers", 100_000));
            let mut n = vec![0u64; torrents];
            for p in &peers {
                n[p.torrent] += 1;
            }
            let mut sorted = n.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            let nonempty = sorted.iter().filter(|&&x| x > 0).count();
            let sq: u64 = n.iter().map(|x| x * x).sum();
            println!(
                "{{\"torrents_with_peers\": {nonempty}, \"largest\": {:?}, \"mean_swarm_seen_by_an_announce\": {:.1}}}",
                &sorted[..10.min(sorted.len())],
                sq as f64 / peers.len() as f64
            );
        }
        "udp" => udp(&a),
        "ws" => ws(&a),
        _ => die("usage: streamp2p-loadgen hashes|http-paths|swarms|udp|ws [--options]"),
    }
}
