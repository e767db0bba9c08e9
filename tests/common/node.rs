//! The node under test: a `streamp2p run` process with its own data dir, ports, config file
//! and log, and the waits and reads the tests make on it.

use serde_json::Value;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::bencode::{bdecode_at, Bencode};
use super::fixtures::infohash_bytes;
use super::http::{bad, http_request, http_request_with_body, short, urlencode_all, Resp};
use super::netns::Netns;
use super::ports::{free_peer_port, free_tcp_port_on, free_udp_port_on, localhost};
use super::process::tail_of_file;

/// How long a node may take from start to "ready" (all files hashed, items as expected).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Config for most tests: quick rescans, no DHT or LSD traffic.
pub const BASE_CONFIG: &str = "[scan]\nrescan_secs = 1\n\n[swarm]\ndht = false\nlsd = false\n";

/// `config` with port mapping off, unless it says otherwise: a node on the test machine's
/// own network would ask the machine's real router (SSDP, NAT-PMP) to open its ports.
/// Nodes in a namespace ask only the routers the test made there.
pub fn without_port_mapping(config: &str) -> String {
    with_key(config, "swarm", "port_mapping", "false")
}

/// `config` with the free space kept for recordings at 1 MB, unless it says otherwise: the
/// default (a tenth of the partition) on a large shared test disk can be more than is
/// free, and the keeper would then remove every test's recordings.
pub fn with_little_free_space_kept(config: &str) -> String {
    with_key(config, "recording", "keep_free_mb", "1")
}

/// `config` without the fallback playlist, unless it says otherwise: a node with a library
/// would otherwise play it out to nobody for the whole test, and tests run side by side.
pub fn without_fallback(config: &str) -> String {
    with_key(config, "live", "fallback", "false")
}

/// `config` with `key = value` in `[table]`, unless a line sets the key already.
fn with_key(config: &str, table: &str, key: &str, value: &str) -> String {
    let sets_key = config.lines().any(|l| {
        l.trim_start()
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    if sets_key {
        return config.to_string();
    }
    let header = format!("[{table}]\n");
    match config.find(&header) {
        Some(at) => {
            let end = at + header.len();
            format!("{}{key} = {value}\n{}", &config[..end], &config[end..])
        }
        None => format!("{config}\n{header}{key} = {value}\n"),
    }
}

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
    /// The box's STUN server, on the UDP tracker's address with a port of its own (the
    /// default 3478 would clash between nodes run at once); not passed when the config file
    /// sets `stun` itself (say `stun = "off"`).
    pub stun: SocketAddr,
    pub log_path: PathBuf,
    /// The address the UDP tracker listens on (127.0.0.1 unless started with `start_udp_on`).
    udp_host: IpAddr,
    child: Option<Child>,
    starts: u32,
    /// The network namespace it runs in (`ip netns exec`), if any: its ports are picked and
    /// its requests made from inside.
    netns: Option<String>,
    /// Variables set for the process on top of the test's own (a time zone, a faked clock).
    env: Vec<(String, String)>,
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
        Node::start_netns(None, host, udp_host, root, libraries, config, &[])
    }

    /// Same as `start_in`, with `env` set for the node's process (kept over restarts).
    pub fn start_in_with_env(
        ns: &Netns,
        host: IpAddr,
        root: &Path,
        libraries: &[PathBuf],
        config: &str,
        env: &[(&str, &str)],
    ) -> Node {
        Node::start_netns(Some(ns), host, host, root, libraries, config, env)
    }

    /// Starts a node inside `ns` (`ip netns exec`), its HTTP server and UDP tracker on
    /// `host`, an address of that namespace. The test's requests to it are made from inside.
    pub fn start_in(
        ns: &Netns,
        host: IpAddr,
        root: &Path,
        libraries: &[PathBuf],
        config: &str,
    ) -> Node {
        Node::start_netns(Some(ns), host, host, root, libraries, config, &[])
    }

    fn start_netns(
        ns: Option<&Netns>,
        host: IpAddr,
        udp_host: IpAddr,
        root: &Path,
        libraries: &[PathBuf],
        config: &str,
        env: &[(&str, &str)],
    ) -> Node {
        let data_dir = root.join("data");
        fs::create_dir_all(&data_dir).unwrap();
        let config_path = root.join("streamp2p.toml");
        let config = match ns {
            Some(_) => config.to_string(),
            None => without_port_mapping(config),
        };
        let config = without_fallback(&with_little_free_space_kept(&config));
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
            stun: SocketAddr::new(udp_host, 0),
            log_path: root.join("streamp2p.log"),
            udp_host,
            child: None,
            starts: 0,
            netns: ns.map(|n| n.name.clone()),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        node.pick_ports();
        node.spawn();
        node
    }

    fn pick_ports(&mut self) {
        let (host, udp_host) = (self.host, self.udp_host);
        let pick = move || {
            let udp = free_udp_port_on(udp_host);
            let stun = loop {
                let p = free_udp_port_on(udp_host);
                if p != udp {
                    break p;
                }
            };
            let http = free_tcp_port_on(host);
            // Each probe releases its port, so the next can get the same one back: the
            // node's http and peer ports once came out equal and it could not start.
            let peer = loop {
                let p = free_peer_port();
                if ![http, udp, stun].contains(&p) {
                    break p;
                }
            };
            (http, peer, udp, stun)
        };
        let (http, peer, udp, stun) = match &self.netns {
            Some(ns) => Netns::enter_named(ns, pick),
            None => pick(),
        };
        self.http = SocketAddr::new(host, http);
        self.peer_port = peer;
        self.udp = SocketAddr::new(udp_host, udp);
        self.stun = SocketAddr::new(udp_host, stun);
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
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_streamp2p")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_streamp2p")),
        };
        cmd.arg("run").arg("--data-dir").arg(&self.data_dir);
        for lib in &self.libraries {
            cmd.arg("--library").arg(lib);
        }
        cmd.arg("--http")
            .arg(self.http.to_string())
            .arg("--peer-port")
            .arg(self.peer_port.to_string())
            .arg("--udp-tracker")
            .arg(self.udp.to_string());
        let config = fs::read_to_string(&self.config_path).unwrap_or_default();
        let sets_stun = config
            .lines()
            .take_while(|l| !l.trim_start().starts_with('['))
            .any(|l| l.trim_start().starts_with("stun ") || l.trim_start().starts_with("stun="));
        if !sets_stun {
            cmd.arg("--stun").arg(self.stun.to_string());
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.arg("--config")
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
        match &self.netns {
            None => http_request(self.http, method, target, headers),
            Some(_) => self.request_with_body(method, target, headers, &[]),
        }
    }

    /// A request with a body, made from inside the node's namespace if it has one.
    pub fn request_with_body(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Resp> {
        let Some(ns) = &self.netns else {
            return http_request_with_body(self.http, method, target, headers, body);
        };
        let (addr, method, target, body) = (
            self.http,
            method.to_string(),
            target.to_string(),
            body.to_vec(),
        );
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Netns::enter_named(ns, move || {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            http_request_with_body(addr, &method, &target, &h, &body)
        })
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

impl Node {
    /// Waits (up to 30 s) until the tracker lists a WebSocket seeder (the node's WebRTC
    /// peer) for the library item `name`, so a browser's offers reach it. Its infohash, in
    /// lowercase hex.
    pub fn wait_webrtc_seeder(&mut self, name: &str) -> String {
        let ih = self.item(name)["infohash"]
            .as_str()
            .expect("infohash")
            .to_ascii_lowercase();
        self.wait_until(
            "the node's WebRTC peer in /api/tracker",
            Duration::from_secs(30),
            |n| {
                let t = n.get("/api/tracker").json();
                let seeders = t["torrents"]
                    .as_array()
                    .and_then(|ts| ts.iter().find(|x| x["info_hash"] == ih))
                    .and_then(|x| x["ws"]["complete"].as_u64())
                    .unwrap_or(0);
                if seeders >= 1 {
                    Ok(())
                } else {
                    Err(t.to_string())
                }
            },
        );
        ih
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
