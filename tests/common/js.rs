//! Node.js test drivers: tests/js/*.mjs, with the packages of the repository's node_modules
//! (webtorrent, bittorrent-tracker, playwright-core driving Chromium).

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::wait_child;

/// The repository root, where package.json and node_modules are.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `node tests/js/<script> <args>` from the repository root, up to `timeout`. Panics
/// (showing the script's output) unless it exits 0; returns its output.
pub fn run_js(script: &str, args: &[String], timeout: Duration) -> String {
    run_node(Command::new("node"), script, args, timeout)
}

/// [`run_js`] with `node` started by `node` (e.g. inside a network namespace:
/// `Netns::command("node")`).
pub fn run_node(node: Command, script: &str, args: &[String], timeout: Duration) -> String {
    try_node(node, script, args, timeout).unwrap_or_else(|failure| panic!("{failure}"))
}

/// [`run_js`] that returns a failure (with the script's output) instead of panicking, for the
/// caller to judge.
pub fn try_js(script: &str, args: &[String], timeout: Duration) -> Result<String, String> {
    try_node(Command::new("node"), script, args, timeout)
}

/// Two node-datachannel (libdatachannel) clients on one loaded machine now and then fail
/// after the tracker did its part (the offer went to A, A's answer came back to B): with
/// "Got a remote candidate without ICE transport" (its own race between the offer's ICE
/// transport and the answer), or with a connection that never opens, which
/// tests/js/tracker_client.mjs reports only once both clients hold the peer the tracker
/// paired them with. `attempt` is run again, once, on those failures only; any other fails
/// the test.
pub fn again_on_client_race<T>(mut attempt: impl FnMut() -> Result<T, String>) -> T {
    const CLIENT_FAILURES: [&str; 2] = [
        "Got a remote candidate without ICE transport",
        "WebRTC connection to open after the tracker relayed offer and answer",
    ];
    match attempt() {
        Ok(v) => v,
        Err(failure) => {
            assert!(
                CLIENT_FAILURES.iter().any(|f| failure.contains(f)),
                "{failure}"
            );
            eprintln!("node-datachannel failed after the tracker's part; running the clients again:\n{failure}");
            attempt().unwrap_or_else(|failure| panic!("{failure}"))
        }
    }
}

fn try_node(
    mut node: Command,
    script: &str,
    args: &[String],
    timeout: Duration,
) -> Result<String, String> {
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
    let mut child = node
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
            Ok(output)
        }
        other => Err(format!(
            "node tests/js/{script} {} failed ({}):\n----- its output -----\n{}\n----- end -----",
            args.join(" "),
            match other {
                Some(s) => s.to_string(),
                None => format!("killed after {timeout:?}"),
            },
            tail_lines(&output, 300)
        )),
    }
}

fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
