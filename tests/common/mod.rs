//! Shared helpers for the integration tests: free ports, fixture files, a tiny HTTP/1.1 client,
//! a minimal bencode reader, the `Node` process wrapper and drivers for real BitTorrent clients.
//!
//! Every helper is synchronous (std only): the node under test is a separate process.
#![allow(dead_code)]

use serde_json::Value;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a node may take from start to "ready" (all files hashed, items as expected).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Config for most tests: quick rescans, no DHT or LSD traffic.
pub const BASE_CONFIG: &str = "[scan]\nrescan_secs = 1\n\n[swarm]\ndht = false\nlsd = false\n";

pub const MIB: u64 = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Ports, directories, fixture files

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

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("streamp2p-test-")
        .tempdir()
        .expect("create a temp dir")
}

/// Writes `len` random bytes (from /dev/urandom) to `path`, creating parent folders.
pub fn write_random(path: &Path, len: u64) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    let mut src = File::open("/dev/urandom").expect("open /dev/urandom");
    let mut dst = File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let copied = io::copy(&mut (&mut src).take(len), &mut dst).unwrap();
    assert_eq!(copied, len);
    dst.sync_all().unwrap();
}

/// Makes a real, tagged MP3 with ffmpeg: a sine tone of `secs` seconds.
pub fn make_tagged_mp3(path: &Path, title: &str, artist: &str, secs: u32) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={secs}"))
        .args(["-metadata", &format!("title={title}")])
        .args(["-metadata", &format!("artist={artist}")])
        .arg(path)
        .output()
        .expect("run ffmpeg (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// sha256 of a file, as lowercase hex, computed by `sha256sum`.
pub fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(
        out.status.success(),
        "sha256sum {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string()
}

/// sha256 of bytes, as lowercase hex, computed by `sha256sum`.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string()
}

/// `%XX` for every byte (what BitTorrent clients send for info_hash and peer_id).
pub fn urlencode_all(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for b in bytes {
        write!(s, "%{b:02X}").unwrap();
    }
    s
}

/// Percent-encodes one path segment (keeps unreserved characters).
pub fn urlencode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            write!(out, "%{b:02X}").unwrap();
        }
    }
    out
}

pub fn infohash_bytes(hex_ih: &str) -> Vec<u8> {
    let b = hex::decode(hex_ih).unwrap_or_else(|e| panic!("infohash {hex_ih:?} is not hex: {e}"));
    assert_eq!(b.len(), 20, "infohash {hex_ih:?} is not 20 bytes");
    b
}

/// The path (and query) of an absolute http URL: `http://h:p/a/b?c` -> `/a/b?c`.
pub fn path_of(url: &str) -> String {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or_else(|| panic!("not an http URL: {url:?}"));
    match rest.find('/') {
        Some(i) => rest[i..].to_string(),
        None => "/".to_string(),
    }
}

/// Byte-for-byte comparison that reports a short message instead of dumping megabytes.
pub fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length differs");
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b).unwrap();
        panic!("{what}: bytes differ from offset {first}");
    }
}

// ---------------------------------------------------------------------------------------------
// Logs shown when a test fails

/// Prints the tail of a log file if the current thread is panicking when this is dropped.
pub struct ShowLogOnPanic {
    label: String,
    path: PathBuf,
}

impl ShowLogOnPanic {
    pub fn new(label: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        ShowLogOnPanic {
            label: label.into(),
            path: path.into(),
        }
    }
}

impl Drop for ShowLogOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- {} ({}) -----\n{}\n----- end of {} -----",
                self.label,
                self.path.display(),
                tail_of_file(&self.path, 300, 40_000),
                self.label
            );
        }
    }
}

/// The last `max_lines` lines (at most `max_bytes` bytes) of a file.
pub fn tail_of_file(path: &Path, max_lines: usize, max_bytes: usize) -> String {
    let Ok(bytes) = fs::read(path) else {
        return format!("(no file {})", path.display());
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(max_lines);
    let mut out = lines[start..].join("\n");
    if out.len() > max_bytes {
        let mut cut = out.len() - max_bytes;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = format!("[...]{}", &out[cut..]);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 client (one request per connection), so tests control the exact request line

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response is not JSON ({e}): status {} body {:?}",
                self.status,
                short(&self.text())
            )
        })
    }
}

pub fn short(s: &str) -> String {
    if s.len() <= 2000 {
        s.to_string()
    } else {
        let mut cut = 2000;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}[... {} bytes]", &s[..cut], s.len())
    }
}

/// Sends `METHOD target HTTP/1.1` with `Host: addr` and `Connection: close`, reads the whole
/// response. `target` goes on the wire exactly as given (no normalisation of `..` or `%2e`).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> io::Result<Resp> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        write!(req, "{k}: {v}\r\n").unwrap();
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw, method.eq_ignore_ascii_case("HEAD"))
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn parse_response(raw: &[u8], head: bool) -> io::Result<Resp> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad(format!("no end of headers in {} bytes", raw.len())))?;
    let head_text = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if head || status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad(format!("bad Content-Length {len:?}")))?;
        if rest.len() < len {
            return Err(bad(format!(
                "body cut short: {} of {len} bytes",
                rest.len()
            )));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("chunk size line"))?;
        let line = String::from_utf8_lossy(&data[..eol]);
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| bad(format!("bad chunk size {size_hex:?}")))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(bad("chunk cut short"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

// ---------------------------------------------------------------------------------------------
// Minimal bencode reader (keeps the raw bytes of the info dict, to check the infohash)

#[derive(Debug, Clone, PartialEq)]
pub enum Bencode {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Bencode>),
    Dict(Vec<(Vec<u8>, Bencode)>),
}

impl Bencode {
    pub fn get(&self, key: &str) -> Option<&Bencode> {
        match self {
            Bencode::Dict(entries) => entries
                .iter()
                .find(|(k, _)| k == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Bencode::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn str(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Bencode::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn list(&self) -> Option<&[Bencode]> {
        match self {
            Bencode::List(l) => Some(l),
            _ => None,
        }
    }
}

/// Decodes one value starting at `pos`; returns it and the position after it.
pub fn bdecode_at(data: &[u8], pos: usize) -> Result<(Bencode, usize), String> {
    let at = |p: usize| {
        data.get(p)
            .copied()
            .ok_or_else(|| format!("unexpected end at {p}"))
    };
    match at(pos)? {
        b'i' => {
            let end = data[pos..]
                .iter()
                .position(|&c| c == b'e')
                .ok_or("unterminated int")?
                + pos;
            let s = std::str::from_utf8(&data[pos + 1..end]).map_err(|e| e.to_string())?;
            let v = s.parse::<i64>().map_err(|e| format!("int {s:?}: {e}"))?;
            Ok((Bencode::Int(v), end + 1))
        }
        b'l' => {
            let mut p = pos + 1;
            let mut items = Vec::new();
            while at(p)? != b'e' {
                let (v, next) = bdecode_at(data, p)?;
                items.push(v);
                p = next;
            }
            Ok((Bencode::List(items), p + 1))
        }
        b'd' => {
            let mut p = pos + 1;
            let mut entries = Vec::new();
            while at(p)? != b'e' {
                let (k, next) = bdecode_at(data, p)?;
                let Bencode::Bytes(k) = k else {
                    return Err(format!("dict key at {p} is not a string"));
                };
                let (v, next) = bdecode_at(data, next)?;
                entries.push((k, v));
                p = next;
            }
            Ok((Bencode::Dict(entries), p + 1))
        }
        b'0'..=b'9' => {
            let colon = data[pos..]
                .iter()
                .position(|&c| c == b':')
                .ok_or("string without ':'")?
                + pos;
            let s = std::str::from_utf8(&data[pos..colon]).map_err(|e| e.to_string())?;
            let len: usize = s.parse().map_err(|e| format!("length {s:?}: {e}"))?;
            let start = colon + 1;
            if start + len > data.len() {
                return Err(format!("string of {len} bytes at {pos} runs past the end"));
            }
            Ok((
                Bencode::Bytes(data[start..start + len].to_vec()),
                start + len,
            ))
        }
        c => Err(format!("unexpected byte {c:#x} at {pos}")),
    }
}

/// Decodes a whole buffer; panics (with the data shown) if it is not exactly one value.
pub fn bdecode(data: &[u8]) -> Bencode {
    match bdecode_at(data, 0) {
        Ok((v, end)) if end == data.len() => v,
        Ok((_, end)) => panic!(
            "trailing bytes after bencode value at {end}: {:?}",
            short(&String::from_utf8_lossy(data))
        ),
        Err(e) => panic!(
            "not bencode ({e}): {:?}",
            short(&String::from_utf8_lossy(data))
        ),
    }
}

/// The raw bytes of the top-level `info` value of a .torrent (what the infohash is taken of).
pub fn raw_info_dict(torrent: &[u8]) -> &[u8] {
    assert_eq!(torrent.first(), Some(&b'd'), "torrent is not a dict");
    let mut p = 1;
    while torrent[p] != b'e' {
        let (k, next) = bdecode_at(torrent, p).expect("torrent key");
        let (_, end) = bdecode_at(torrent, next).expect("torrent value");
        if k == Bencode::Bytes(b"info".to_vec()) {
            return &torrent[next..end];
        }
        p = end;
    }
    panic!("torrent has no info dict");
}

// ---------------------------------------------------------------------------------------------
// The node under test

/// JSON number at a pointer (`/library/items`), or None.
pub fn num(v: &Value, pointer: &str) -> Option<u64> {
    v.pointer(pointer).and_then(Value::as_u64)
}

/// A running `streamp2p run` process with its own data dir, ports, config file and log file.
/// Killed on drop; its log is printed if the test is failing.
pub struct Node {
    pub root: PathBuf,
    pub data_dir: PathBuf,
    pub libraries: Vec<PathBuf>,
    pub config_path: PathBuf,
    pub host: IpAddr,
    pub http: SocketAddr,
    pub peer_port: u16,
    pub udp: SocketAddr,
    pub log_path: PathBuf,
    /// The address the UDP tracker listens on (127.0.0.1 unless started with `start_udp_on`).
    udp_host: IpAddr,
    child: Option<Child>,
    starts: u32,
}

impl Node {
    /// Starts a node on 127.0.0.1 with `root/data` as data dir and `config` as its config file.
    pub fn start(root: &Path, libraries: &[PathBuf], config: &str) -> Node {
        Node::start_on(localhost(), root, libraries, config)
    }

    /// Same as `start`, with the HTTP server (web seed, tracker, API) on `host`.
    pub fn start_on(host: IpAddr, root: &Path, libraries: &[PathBuf], config: &str) -> Node {
        Node::start_udp_on(host, localhost(), root, libraries, config)
    }

    /// Same as `start_on`, with the UDP tracker on `udp_host` too (the node lists itself to UDP
    /// clients at the address their packets arrived at, so transmission needs a non-loopback one).
    pub fn start_udp_on(
        host: IpAddr,
        udp_host: IpAddr,
        root: &Path,
        libraries: &[PathBuf],
        config: &str,
    ) -> Node {
        let data_dir = root.join("data");
        fs::create_dir_all(&data_dir).unwrap();
        let config_path = root.join("streamp2p.toml");
        fs::write(&config_path, config).unwrap();
        let mut node = Node {
            root: root.to_path_buf(),
            data_dir,
            libraries: libraries.to_vec(),
            config_path,
            host,
            http: SocketAddr::new(host, 0),
            peer_port: 0,
            udp: SocketAddr::new(udp_host, 0),
            log_path: root.join("streamp2p.log"),
            udp_host,
            child: None,
            starts: 0,
        };
        node.pick_ports();
        node.spawn();
        node
    }

    fn pick_ports(&mut self) {
        self.http = SocketAddr::new(self.host, free_tcp_port_on(self.host));
        self.peer_port = free_peer_port();
        self.udp = SocketAddr::new(self.udp_host, free_udp_port_on(self.udp_host));
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "node already running");
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .unwrap();
        writeln!(
            log,
            "===== test harness: start #{} of streamp2p (http {}, peer port {}, udp tracker {}) =====",
            self.starts, self.http, self.peer_port, self.udp
        )
        .unwrap();
        let err = log.try_clone().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_streamp2p"));
        cmd.arg("run").arg("--data-dir").arg(&self.data_dir);
        for lib in &self.libraries {
            cmd.arg("--library").arg(lib);
        }
        cmd.arg("--http")
            .arg(self.http.to_string())
            .arg("--peer-port")
            .arg(self.peer_port.to_string())
            .arg("--udp-tracker")
            .arg(self.udp.to_string())
            .arg("--config")
            .arg(&self.config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        self.child = Some(cmd.spawn().expect("spawn the streamp2p binary"));
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("node not running").id()
    }

    /// Starts the node again on the same data dir and config (new ports).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the node before restarting it");
        self.pick_ports();
        self.spawn();
    }

    /// SIGTERM, then waits up to 20 s for the process to exit. Panics if it does not.
    pub fn stop(&mut self) -> ExitStatus {
        let pid = self.pid();
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("streamp2p did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Some(status) if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().unwrap()
    }

    pub fn assert_alive(&mut self) {
        if let Some(status) = self.exited() {
            panic!("streamp2p exited unexpectedly: {status}");
        }
        assert!(self.child.is_some(), "node not running");
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.http)
    }

    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<Resp> {
        http_request(self.http, method, target, headers)
    }

    /// GET that panics on a transport error (any status is returned).
    pub fn get(&self, target: &str) -> Resp {
        self.request("GET", target, &[])
            .unwrap_or_else(|e| panic!("GET {target} on {}: {e}", self.http))
    }

    pub fn health(&self) -> io::Result<Value> {
        let r = self.request("GET", "/api/health", &[])?;
        if r.status != 200 {
            return Err(bad(format!(
                "/api/health status {}: {}",
                r.status,
                r.text()
            )));
        }
        serde_json::from_slice(&r.body).map_err(|e| bad(format!("/api/health not JSON: {e}")))
    }

    /// GET /api/library, asserting 200 and a JSON list.
    pub fn library(&self) -> Vec<Value> {
        let r = self.get("/api/library");
        assert_eq!(r.status, 200, "/api/library: {}", short(&r.text()));
        match r.json() {
            Value::Array(items) => items,
            other => panic!("/api/library is not a JSON list: {other}"),
        }
    }

    /// The /api/library entry whose name is `name` (or ends with `/name`).
    pub fn find_item(&self, name: &str) -> Option<Value> {
        self.library().into_iter().find(|item| {
            item["name"]
                .as_str()
                .is_some_and(|n| n == name || n.ends_with(&format!("/{name}")))
        })
    }

    pub fn item(&self, name: &str) -> Value {
        let items = self.library();
        self.find_item(name).unwrap_or_else(|| {
            panic!(
                "{name:?} not in /api/library: {}",
                short(&Value::Array(items).to_string())
            )
        })
    }

    /// Polls `check` (every 100 ms) until it returns Some, the process exits, or `timeout`.
    pub fn wait_until<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Node) -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("(never checked)");
        loop {
            if let Some(status) = self.exited() {
                panic!("streamp2p exited ({status}) while waiting for {what}; last: {last}");
            }
            match check(self) {
                Ok(v) => return v,
                Err(e) => last = e,
            }
            if Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting for {what}; last: {last}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until /api/health says `status` "ok", every file found is hashed
    /// (`hashing.files_done == files_total`) and `library.items == items`. Returns that health.
    pub fn wait_healthy(&mut self, items: u64) -> Value {
        self.wait_until(
            &format!("health ok with {items} items"),
            READY_TIMEOUT,
            |node| {
                let h = node.health().map_err(|e| e.to_string())?;
                let ok = h["status"] == "ok";
                let done = num(&h, "/library/hashing/files_done");
                let total = num(&h, "/library/hashing/files_total");
                let n = num(&h, "/library/items");
                if ok && done.is_some() && done == total && n == Some(items) {
                    Ok(h)
                } else {
                    Err(h.to_string())
                }
            },
        )
    }

    /// Scrapes the node's tracker for one infohash: (complete, incomplete), if listed.
    pub fn scrape(&self, infohash_hex: &str) -> Result<(i64, i64), String> {
        let ih = infohash_bytes(infohash_hex);
        let r = self
            .request(
                "GET",
                &format!("/scrape?info_hash={}", urlencode_all(&ih)),
                &[],
            )
            .map_err(|e| e.to_string())?;
        if r.status != 200 {
            return Err(format!("scrape status {}: {}", r.status, r.text()));
        }
        let (v, _) = bdecode_at(&r.body, 0).map_err(|e| format!("scrape: {e}: {}", r.text()))?;
        let files = v.get("files").ok_or(format!("no files: {}", r.text()))?;
        let Bencode::Dict(entries) = files else {
            return Err(format!("files not a dict: {}", r.text()));
        };
        let (_, stats) = entries
            .iter()
            .find(|(k, _)| *k == ih)
            .ok_or(format!("infohash not in scrape: {}", r.text()))?;
        Ok((
            stats.get("complete").and_then(Bencode::int).unwrap_or(-1),
            stats.get("incomplete").and_then(Bencode::int).unwrap_or(-1),
        ))
    }

    /// Waits (up to 20 s) until the node's tracker lists a seeder for the torrent, so a client
    /// that announces finds the node at once.
    pub fn wait_seeder(&mut self, infohash_hex: &str) {
        self.wait_until(
            &format!("a seeder in /scrape for {infohash_hex}"),
            Duration::from_secs(20),
            |node| match node.scrape(infohash_hex)? {
                (complete, _) if complete >= 1 => Ok(()),
                other => Err(format!("(complete, incomplete) = {other:?}")),
            },
        )
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- streamp2p log ({}) -----\n{}\n----- end of streamp2p log -----",
                self.log_path.display(),
                tail_of_file(&self.log_path, 400, 60_000)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Real BitTorrent clients

/// Waits for `child` up to `timeout`; kills it and returns None on timeout.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub struct ClientRun {
    /// Exit status; None if the client was killed at the timeout.
    pub status: Option<ExitStatus>,
    pub log: PathBuf,
    /// Keep alive for the rest of the test: prints the client's log if the test fails.
    pub guard: ShowLogOnPanic,
}

/// aria2c fetch of `uri` (magnet, .torrent URL) into `dir`: no DHT, LPD or PEX, so the only ways
/// to the data are the node's tracker and the web seed. Returns after aria2c exits (or is killed
/// at `timeout`).
pub fn aria2c(uri: &str, dir: &Path, timeout: Duration) -> ClientRun {
    aria2c_run(uri, dir, timeout, false)
}

/// Like `aria2c`, but able to use udp:// trackers: aria2c turns its UDP tracker client off
/// together with DHT, so DHT is on, with a fresh, empty routing table and no entry point (it
/// then knows no DHT node and sends no DHT traffic). `--dht-entry-point=` with an empty value
/// is refused by aria2c 1.36 ("Unrecognized format"), so the option is left out.
pub fn aria2c_udp_trackers(uri: &str, dir: &Path, timeout: Duration) -> ClientRun {
    aria2c_run(uri, dir, timeout, true)
}

fn aria2c_run(uri: &str, dir: &Path, timeout: Duration, udp_trackers: bool) -> ClientRun {
    fs::create_dir_all(dir).unwrap();
    let log = dir.with_extension("aria2c.log");
    let console = dir.with_extension("aria2c.out");
    let out = File::create(&console).unwrap();
    let err = out.try_clone().unwrap();
    let guard = ShowLogOnPanic::new("aria2c log", &log);
    let mut child = Command::new("aria2c")
        .arg("--no-conf=true")
        .arg(format!("--dir={}", dir.display()))
        .args(if udp_trackers {
            vec![
                "--enable-dht=true".to_string(),
                format!(
                    "--dht-file-path={}",
                    dir.with_extension("dht.dat").display()
                ),
                format!("--dht-listen-port={}", free_udp_port()),
            ]
        } else {
            vec!["--enable-dht=false".to_string()]
        })
        .args([
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--seed-time=0",
            "--follow-torrent=mem",
            "--bt-tracker-connect-timeout=10",
            "--bt-tracker-timeout=10",
            "--stop=100",
            "--file-allocation=none",
            "--allow-overwrite=true",
            "--auto-file-renaming=false",
            "--summary-interval=0",
            "--console-log-level=notice",
            "--log-level=info",
            "--max-tries=3",
            "--retry-wait=1",
            "--interface=127.0.0.1",
        ])
        .arg(format!("--listen-port={}", free_peer_port()))
        .arg(format!("--log={}", log.display()))
        .arg(uri)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("run aria2c (apt-get install aria2)");
    let status = wait_child(&mut child, timeout);
    if status.is_none_or(|s| !s.success()) {
        eprintln!(
            "----- aria2c console -----\n{}",
            tail_of_file(&console, 100, 20_000)
        );
    }
    ClientRun { status, log, guard }
}

pub struct TransmissionRun {
    /// The done script (-f) ran.
    pub done_script_ran: bool,
    /// Path of the downloaded file (may not exist if the fetch failed).
    pub file: PathBuf,
    pub log: PathBuf,
    pub guard: ShowLogOnPanic,
}

/// transmission-cli fetch of `uri` into `work/download`, with its own config dir (DHT, LPD, PEX,
/// uTP and port mapping off). Waits until the done script ran and the file holds `expected`, or
/// `timeout`; then kills transmission-cli (it would seed forever).
pub fn transmission(
    uri: &str,
    work: &Path,
    name: &str,
    expected: &[u8],
    timeout: Duration,
) -> TransmissionRun {
    let cfg = work.join("config");
    let dl = work.join("download");
    fs::create_dir_all(&cfg).unwrap();
    fs::create_dir_all(&dl).unwrap();
    let port = free_peer_port();
    let settings = serde_json::json!({
        "dht-enabled": false,
        "lpd-enabled": false,
        "pex-enabled": false,
        "utp-enabled": false,
        "port-forwarding-enabled": false,
        "peer-port": port,
        "peer-port-random-on-start": false,
        "download-dir": dl,
        "incomplete-dir-enabled": false,
        "rename-partial-files": true,
        "rpc-enabled": false,
        "speed-limit-down-enabled": false,
        "speed-limit-up-enabled": false,
        "blocklist-enabled": false,
        "message-level": 3
    });
    fs::write(
        cfg.join("settings.json"),
        serde_json::to_string_pretty(&settings).unwrap(),
    )
    .unwrap();
    let marker = work.join("done.marker");
    let script = work.join("done.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$TR_TORRENT_NAME $TR_TORRENT_DIR\" >> '{}'\n",
            marker.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let log = work.join("transmission.log");
    let out = File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let guard = ShowLogOnPanic::new("transmission-cli log", &log);
    let mut child = Command::new("transmission-cli")
        .arg("-g")
        .arg(&cfg)
        .arg("-w")
        .arg(&dl)
        .arg("-f")
        .arg(&script)
        .arg("-p")
        .arg(port.to_string())
        .args(["-M", "-D", "-U", "-et"])
        .arg(uri)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("run transmission-cli (apt-get install transmission-cli)");
    let file = dl.join(name);
    let deadline = Instant::now() + timeout;
    let mut done_script_ran = false;
    loop {
        done_script_ran = done_script_ran || marker.exists();
        let complete = fs::read(&file).is_ok_and(|b| b == expected);
        if done_script_ran && complete {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("transmission-cli exited early: {status}");
            break;
        }
        if Instant::now() > deadline {
            eprintln!(
                "transmission-cli: timeout after {timeout:?} (done script ran: {done_script_ran}, file complete: {complete})"
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    TransmissionRun {
        done_script_ran,
        file,
        log,
        guard,
    }
}

// ---------------------------------------------------------------------------------------------
// Node.js test drivers (tests/js/*.mjs, packages from the repository's node_modules)

/// The repository root, where package.json and node_modules are.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `node tests/js/<script> <args>` from the repository root, up to `timeout`. Panics
/// (showing the script's output) unless it exits 0; returns its output.
pub fn run_js(script: &str, args: &[String], timeout: Duration) -> String {
    let root = repo_root();
    assert!(
        root.join("node_modules").is_dir(),
        "{} is missing: run `npm ci` in {} (scripts/test.sh does)",
        root.join("node_modules").display(),
        root.display()
    );
    let out_path = std::env::temp_dir().join(format!(
        "streamp2p-js-{}-{}-{}.log",
        script.trim_end_matches(".mjs"),
        std::process::id(),
        rand::random::<u32>()
    ));
    let out = File::create(&out_path).unwrap();
    let err = out.try_clone().unwrap();
    let started = Instant::now();
    let mut child = Command::new("node")
        .arg(root.join("tests/js").join(script))
        .args(args)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("run node (Node.js 20 is needed for the tests/js drivers)");
    let status = wait_child(&mut child, timeout);
    let output = String::from_utf8_lossy(&fs::read(&out_path).unwrap_or_default()).into_owned();
    let _ = fs::remove_file(&out_path);
    match status {
        Some(s) if s.success() => {
            eprintln!(
                "----- node tests/js/{script} passed in {:.1} s -----\n{}",
                started.elapsed().as_secs_f64(),
                tail_lines(&output, 60)
            );
            output
        }
        other => panic!(
            "node tests/js/{script} {} failed ({}):\n----- its output -----\n{}\n----- end -----",
            args.join(" "),
            match other {
                Some(s) => s.to_string(),
                None => format!("killed after {timeout:?}"),
            },
            tail_lines(&output, 300)
        ),
    }
}

fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// A .torrent with other trackers

/// The same torrent (same info dict, so same infohash) with `announce` set to `tracker`, and
/// `announce-list` and `url-list` (web seeds) left out.
pub fn torrent_with_only_tracker(torrent: &[u8], tracker: &str) -> Vec<u8> {
    assert_eq!(torrent.first(), Some(&b'd'), "torrent is not a dict");
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut p = 1;
    while torrent[p] != b'e' {
        let (k, next) = bdecode_at(torrent, p).expect("torrent key");
        let (_, end) = bdecode_at(torrent, next).expect("torrent value");
        let Bencode::Bytes(k) = k else {
            panic!("torrent key is not a string")
        };
        if !matches!(&k[..], b"announce" | b"announce-list" | b"url-list") {
            entries.push((k, torrent[next..end].to_vec()));
        }
        p = end;
    }
    entries.push((
        b"announce".to_vec(),
        format!("{}:{tracker}", tracker.len()).into_bytes(),
    ));
    entries.sort();
    let mut out = vec![b'd'];
    for (k, v) in entries {
        out.extend_from_slice(format!("{}:", k.len()).as_bytes());
        out.extend_from_slice(&k);
        out.extend_from_slice(&v);
    }
    out.push(b'e');
    out
}

// ---------------------------------------------------------------------------------------------
// BEP 15 UDP tracker client (the wire format of src/tracker/udp/protocol.rs)

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

// ---------------------------------------------------------------------------------------------
// A minimal WebSocket client (RFC 6455) over TcpStream, for raw frames

#[derive(Debug, Clone, PartialEq)]
pub enum WsFrame {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// Close code (1005 when the frame carried none) and reason.
    Close(u16, String),
}

pub struct WsClient {
    pub stream: TcpStream,
}

impl WsClient {
    /// Opens `ws://addr{path}`: HTTP upgrade, expects `101 Switching Protocols`.
    pub fn connect(addr: SocketAddr, path: &str) -> io::Result<WsClient> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        stream.set_nodelay(true)?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(req.as_bytes())?;
        // Read the response head byte by byte, so no frame bytes are consumed.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > 16 * 1024 {
                return Err(bad("upgrade response head too long"));
            }
            match stream.read(&mut byte)? {
                0 => {
                    return Err(bad(format!(
                        "connection closed during upgrade: {:?}",
                        String::from_utf8_lossy(&head)
                    )))
                }
                _ => head.push(byte[0]),
            }
        }
        let text = String::from_utf8_lossy(&head);
        let status = text.split_whitespace().nth(1).unwrap_or("");
        if status != "101" {
            return Err(bad(format!("upgrade refused: {:?}", text.trim())));
        }
        Ok(WsClient { stream })
    }

    /// Sends one frame (FIN set), masked as a client must.
    pub fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mut f = Vec::with_capacity(payload.len() + 14);
        f.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n <= 0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask: [u8; 4] = rand::random();
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&f)
    }

    pub fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send_frame(0x1, text.as_bytes())
    }

    pub fn send_json(&mut self, v: &Value) -> io::Result<()> {
        self.send_text(&v.to_string())
    }

    /// The next frame; an error on timeout (the stream's read timeout) or a closed connection.
    pub fn recv(&mut self) -> io::Result<WsFrame> {
        let mut h = [0u8; 2];
        self.stream.read_exact(&mut h)?;
        let opcode = h[0] & 0x0f;
        let masked = h[1] & 0x80 != 0;
        let mut len = u64::from(h[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            self.stream.read_exact(&mut b)?;
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            self.stream.read_exact(&mut b)?;
            len = u64::from_be_bytes(b);
        }
        if len > 16 * 1024 * 1024 {
            return Err(bad(format!("frame of {len} bytes")));
        }
        let mut mask = [0u8; 4];
        if masked {
            self.stream.read_exact(&mut mask)?;
        }
        let mut payload = vec![0u8; len as usize];
        self.stream.read_exact(&mut payload)?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        Ok(match opcode {
            0x1 => WsFrame::Text(String::from_utf8_lossy(&payload).into_owned()),
            0x2 => WsFrame::Binary(payload),
            0x8 => {
                let code = if payload.len() >= 2 {
                    u16::from_be_bytes([payload[0], payload[1]])
                } else {
                    1005
                };
                WsFrame::Close(
                    code,
                    String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned(),
                )
            }
            0x9 => WsFrame::Ping(payload),
            0xA => WsFrame::Pong(payload),
            other => return Err(bad(format!("unexpected opcode {other:#x}"))),
        })
    }

    /// The next text message parsed as JSON (pings and pongs are skipped), within `timeout`.
    pub fn recv_json(&mut self, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no message within {timeout:?}"));
            }
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(10))))
                .unwrap();
            match self.recv().map_err(|e| format!("receive: {e}"))? {
                WsFrame::Text(t) => {
                    return serde_json::from_str(&t).map_err(|e| format!("not JSON ({e}): {t:?}"))
                }
                WsFrame::Ping(_) | WsFrame::Pong(_) => continue,
                other => return Err(format!("unexpected frame {other:?}")),
            }
        }
    }
}

/// The WebTorrent tracker's "binary string" for some bytes: one char per byte, U+0000..U+00FF.
pub fn binary_string(b: &[u8]) -> String {
    b.iter().map(|&b| char::from(b)).collect()
}

// ---------------------------------------------------------------------------------------------
// Live audio

/// Decodes `secs` of `url` to mono 48 kHz samples with ffmpeg.
pub fn decode_audio(url: &str, secs: u32) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-nostdin",
            "-t",
            &secs.to_string(),
            "-i",
            url,
        ])
        .args(["-f", "s16le", "-ac", "1", "-ar", "48000", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// The frequency of a pure tone, from its zero crossings.
pub fn tone_hz(samples: &[i16]) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / 48_000.0)
}

// ---------------------------------------------------------------------------------------------
// The config page

/// The password the tests set at first run.
pub const PASSWORD: &str = "correct horse battery";

/// A browser-like client of the config page: cookies kept, forms posted.
pub struct Operator<'a> {
    pub node: &'a Node,
    pub cookies: Vec<(String, String)>,
}

impl<'a> Operator<'a> {
    pub fn new(node: &'a Node) -> Self {
        Self {
            node,
            cookies: Vec::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn keep_cookies(&mut self, r: &Resp) {
        for (k, v) in &r.headers {
            if !k.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = v.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_string(), value.to_string()));
                }
            }
        }
    }

    pub fn get(&mut self, target: &str) -> Resp {
        let c = self.cookie_header();
        let r = self
            .node
            .request("GET", target, &[("Cookie", &c)])
            .expect("GET");
        self.keep_cookies(&r);
        r
    }

    pub fn post(&mut self, target: &str, form: &[(&str, &str)]) -> Resp {
        let body: String = form_urlencoded_body(form);
        let c = self.cookie_header();
        let len = body.len().to_string();
        let r = http_request_with_body(
            self.node.http,
            "POST",
            target,
            &[
                ("Cookie", &c),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", &len),
            ],
            body.as_bytes(),
        )
        .expect("POST");
        self.keep_cookies(&r);
        r
    }

    /// The hidden value of input `name` in the last page.
    pub fn hidden(page: &str, name: &str) -> String {
        let at = page
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap_or_else(|| panic!("no hidden {name} in {}", short(page)));
        let rest = &page[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    pub fn setup(&mut self, station: &str) {
        let page = self.get("/admin").text();
        let tok = Self::hidden(&page, "form_token");
        let r = self.post(
            "/admin/setup",
            &[
                ("form_token", &tok),
                ("password", PASSWORD),
                ("password2", PASSWORD),
                ("station_name", station),
                ("station_description", "Test station"),
            ],
        );
        assert_eq!(r.status, 303, "setup: {}", short(&r.text()));
    }

    pub fn login(&mut self, password: &str) -> Resp {
        let page = self.get("/admin").text();
        let tok = Self::hidden(&page, "form_token");
        self.post(
            "/admin/login",
            &[("form_token", &tok), ("password", password)],
        )
    }

    /// The number `N` of the station description `write N` the page shows (0 for none).
    pub fn description_write(page: &str) -> u64 {
        page.split("name=\"station_description\"")
            .nth(1)
            .and_then(|rest| rest.split("write ").nth(1))
            .and_then(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }

    pub fn csrf(&mut self) -> String {
        let page = self.get("/admin");
        assert_eq!(page.status, 200);
        Self::hidden(&page.text(), "csrf")
    }
}

pub fn form_urlencoded_body(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                urlencode_all(k.as_bytes()),
                urlencode_all(v.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `http_request` with a body.
pub fn http_request_with_body(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    // Reuse the common parser through a GET-shaped response: status, headers, body.
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: raw.get(end + 4..).unwrap_or(&[]).to_vec(),
    })
}
