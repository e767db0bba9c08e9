//! A bad configuration stops the node with exit code 2 and one stderr line naming the key.

mod common;

use common::*;
use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Args {
    data_dir: String,
    library: String,
    /// None: no --http flag (the config file's value, or the default, applies).
    http: Option<String>,
    peer_port: String,
    udp: String,
    /// The box's STUN server: a free port of its own (the default 3478 would clash).
    stun: String,
    config: String,
}

/// Valid arguments in `root`, with `config` as the config file.
fn valid_args(root: &Path, config: &str) -> Args {
    let lib = root.join("library");
    write_random(&lib.join("a.mp3"), 64 * 1024);
    let config_path = root.join("streamp2p.toml");
    fs::write(&config_path, config).unwrap();
    Args {
        data_dir: root.join("data").display().to_string(),
        library: lib.display().to_string(),
        http: Some(format!("127.0.0.1:{}", free_tcp_port())),
        peer_port: free_peer_port().to_string(),
        udp: format!("127.0.0.1:{}", free_udp_port()),
        stun: format!("127.0.0.1:{}", free_udp_port()),
        config: config_path.display().to_string(),
    }
}

/// Runs `streamp2p run` with `a`, expects exit code 2 within 30 s and exactly one non-empty
/// stderr line that contains `key`.
fn expect_config_error(root: &Path, a: &Args, key: &str) {
    let stderr_path = root.join("stderr.txt");
    let stdout_path = root.join("stdout.txt");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_streamp2p"));
    cmd.args(["run", "--data-dir", &a.data_dir, "--library", &a.library]);
    if let Some(http) = &a.http {
        cmd.args(["--http", http]);
    }
    let mut child = cmd
        .args(["--peer-port", &a.peer_port])
        .args([
            "--udp-tracker",
            &a.udp,
            "--stun",
            &a.stun,
            "--config",
            &a.config,
        ])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).unwrap())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("spawn streamp2p");
    let status = wait_child(&mut child, Duration::from_secs(30));
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let status = status
        .unwrap_or_else(|| panic!("still running after 30 s; stderr: {stderr}; stdout: {stdout}"));
    assert_eq!(
        status.code(),
        Some(2),
        "exit status {status}; stderr: {stderr}; stdout: {stdout}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "want exactly one stderr line, got {}: {stderr}",
        lines.len()
    );
    assert!(
        lines[0].contains(key),
        "stderr line does not name {key:?}: {}",
        lines[0]
    );
}

#[test]
fn unknown_key_in_config_file() {
    let dir = tempdir();
    let a = valid_args(dir.path(), &format!("bogus = 1\n{BASE_CONFIG}"));
    expect_config_error(dir.path(), &a, "bogus");
}

#[test]
fn unknown_key_in_config_table() {
    let dir = tempdir();
    let a = valid_args(dir.path(), &format!("{BASE_CONFIG}bogus_switch = true\n"));
    expect_config_error(dir.path(), &a, "bogus_switch");
}

#[test]
fn bad_http_address_flag() {
    let dir = tempdir();
    let mut a = valid_args(dir.path(), BASE_CONFIG);
    a.http = Some("notanaddress".to_string());
    expect_config_error(dir.path(), &a, "http");
}

#[test]
fn bad_http_address_in_config_file() {
    let dir = tempdir();
    let mut a = valid_args(
        dir.path(),
        &format!("http = \"nowhere:port\"\n{BASE_CONFIG}"),
    );
    a.http = None;
    expect_config_error(dir.path(), &a, "http");
}

#[test]
fn missing_library_folder() {
    let dir = tempdir();
    let mut a = valid_args(dir.path(), BASE_CONFIG);
    a.library = dir.path().join("no-such-folder").display().to_string();
    expect_config_error(dir.path(), &a, "library");
}

#[test]
fn http_port_in_use() {
    let dir = tempdir();
    let mut a = valid_args(dir.path(), BASE_CONFIG);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    a.http = Some(taken.local_addr().unwrap().to_string());
    expect_config_error(dir.path(), &a, "http");
    drop(taken);
}

#[test]
fn stun_port_in_use() {
    let dir = tempdir();
    let mut a = valid_args(dir.path(), BASE_CONFIG);
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.stun = taken.local_addr().unwrap().to_string();
    expect_config_error(dir.path(), &a, "stun");
    drop(taken);
}

#[test]
fn capture_rate_out_of_range() {
    let dir = tempdir();
    let a = valid_args(
        dir.path(),
        &format!("{BASE_CONFIG}\n[live]\ncapture_rate = 1000000\n"),
    );
    expect_config_error(dir.path(), &a, "live.capture_rate");
}
