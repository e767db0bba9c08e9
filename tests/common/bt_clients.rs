//! Real BitTorrent clients fetching from the node: aria2c and transmission-cli.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::ports::{free_peer_port, free_udp_port};
use super::process::{tail_of_file, wait_child, ShowLogOnPanic};

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
///
/// transmission 3.00 stops a magnet's torrent for a moment when its metadata is complete (stop,
/// verify, start again), and transmission-cli quits as soon as it sees the torrent stopped. When
/// its 200 ms poll falls into that window it exits 0 having fetched nothing: a race in the
/// client, not in what the node sent (the log says "Magnet Verify" after "Got N peers"). Only
/// that exit is tried again, in a fresh directory, at most twice.
pub fn transmission(
    uri: &str,
    work: &Path,
    name: &str,
    expected: &[u8],
    timeout: Duration,
) -> TransmissionRun {
    const TRIES: usize = 3;
    let deadline = Instant::now() + timeout;
    let mut run = transmission_once(uri, work, name, expected, deadline);
    for again in 2..=TRIES {
        if !run.quit_after_magnet_verify {
            break;
        }
        eprintln!(
            "transmission-cli quit when the magnet's metadata was complete (transmission 3.00 \
             race); try {again} of {TRIES}"
        );
        let work = work.join(format!("try{again}"));
        run = transmission_once(uri, &work, name, expected, deadline);
    }
    run.run
}

struct Attempt {
    run: TransmissionRun,
    /// transmission-cli exited 0 before the done script ran, right after verifying the metadata
    /// it had fetched for a magnet.
    quit_after_magnet_verify: bool,
}

fn transmission_once(
    uri: &str,
    work: &Path,
    name: &str,
    expected: &[u8],
    deadline: Instant,
) -> Attempt {
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
    let mut done_script_ran = false;
    let mut early_success = false;
    loop {
        done_script_ran = done_script_ran || marker.exists();
        let complete = fs::read(&file).is_ok_and(|b| b == expected);
        if done_script_ran && complete {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("transmission-cli exited early: {status}");
            early_success = status.success();
            break;
        }
        if Instant::now() > deadline {
            eprintln!(
                "transmission-cli: timeout (done script ran: {done_script_ran}, file complete: {complete})"
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    let quit_after_magnet_verify = early_success
        && !done_script_ran
        && fs::read_to_string(&log).is_ok_and(|l| l.contains("Magnet Verify"));
    Attempt {
        run: TransmissionRun {
            done_script_ran,
            file,
            log,
            guard,
        },
        quit_after_magnet_verify,
    }
}
