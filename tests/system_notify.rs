//! The node under a fake systemd: a unix datagram socket bound by the test stands in for
//! `NOTIFY_SOCKET`. READY=1 must come only once /api/health answers, WATCHDOG=1 must come
//! while `WATCHDOG_USEC` is set, and STOPPING=1 on SIGTERM. /metrics carries the process's
//! own memory and CPU use.

mod common;

use std::{
    os::unix::net::UnixDatagram,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::*;

/// Kills the node if the test fails half-way.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next notification datagram, or a panic after `within`.
fn next_message(sock: &UnixDatagram, within: Duration, waiting_for: &str) -> String {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {waiting_for} within {within:?}");
        sock.set_read_timeout(Some(left)).unwrap();
        match sock.recv(&mut buf) {
            Ok(n) => return String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(e) => panic!("reading the notify socket: {e}"),
        }
    }
}

#[test]
fn ready_after_health_then_watchdog_then_stopping() {
    let tmp = tempdir();
    let sock_path = tmp.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let config = tmp.path().join("streamp2p.toml");
    std::fs::write(&config, without_port_mapping(BASE_CONFIG)).unwrap();
    let http = std::net::SocketAddr::new(localhost(), free_tcp_port());
    let log = std::fs::File::create(tmp.path().join("streamp2p.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_streamp2p"))
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .args(["--http", &http.to_string()])
        .args(["--peer-port", &free_peer_port().to_string()])
        .args(["--udp-tracker", &format!("127.0.0.1:{}", free_udp_port())])
        .args(["--stun", &format!("127.0.0.1:{}", free_udp_port())])
        .args(["--audio", "none"])
        .env("NOTIFY_SOCKET", &sock_path)
        // 0.4 s timeout: a ping every 0.2 s.
        .env("WATCHDOG_USEC", "400000")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn the streamp2p binary");
    let mut node = Reaper(child);

    let first = next_message(&sock, Duration::from_secs(60), "READY=1");
    assert_eq!(first.trim_end(), "READY=1", "first notification");
    // READY promises a serving port: the very next request must be answered.
    let health = http_request(http, "GET", "/api/health", &[]).expect("/api/health after READY");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["status"], "ok");
    // What the image benchmark reads: the node's own memory and CPU use.
    let metrics = http_request(http, "GET", "/metrics", &[]).unwrap().text();
    let rss: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no process_resident_memory_bytes in {metrics}"));
    assert!(rss > 1 << 20, "resident {rss} bytes");
    assert!(
        metrics.contains("\nprocess_cpu_seconds_total "),
        "{metrics}"
    );

    let mut pings = 0;
    let since = Instant::now();
    while pings < 3 {
        let m = next_message(&sock, Duration::from_secs(5), "WATCHDOG=1");
        assert_eq!(m.trim_end(), "WATCHDOG=1", "message after READY");
        pings += 1;
    }
    // Three pings at 0.2 s, the first at once: well under the 0.4 s timeout each.
    assert!(
        since.elapsed() < Duration::from_secs(2),
        "{pings} pings took {:?}",
        since.elapsed()
    );

    let pid = node.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let stopping = loop {
        let m = next_message(&sock, Duration::from_secs(20), "STOPPING=1");
        if m.trim_end() != "WATCHDOG=1" {
            break m;
        }
    };
    assert_eq!(stopping.trim_end(), "STOPPING=1");
    let status = node.0.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}
