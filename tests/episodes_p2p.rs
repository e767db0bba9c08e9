//! Episodes shared between listeners on plain http, as deployed: the node in its own network
//! namespace (10.15.1.2), two Chromium listeners beside it (10.15.1.1) opening the listen
//! page by that address, where no service worker is allowed. The first plays an MP3; the
//! second plays it next and gets most of it from the first over WebRTC, while the bytes
//! leaving the node's interface stay under half the episode. An M4A and a FLAC play too.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// `ffmpeg -f lavfi -i sine=...` encoded with `codec` args into `path`, tagged with `title`.
fn tone(path: &Path, title: &str, secs: u32, codec: &[&str]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={secs}"))
        .args(codec)
        .arg("-metadata")
        .arg(format!("title={title}"))
        .arg("-y")
        .arg(path)
        .status()
        .expect("run ffmpeg");
    assert!(made.success(), "ffmpeg made no {}", path.display());
}

#[test]
fn the_second_listener_gets_the_episode_from_the_first() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    // 150 s at 128 kb/s: about 2.4 MB.
    tone(
        &lib.join("shared.mp3"),
        "Shared Show",
        150,
        &["-ac", "2", "-b:a", "128k"],
    );
    // AAC in a plain (not fragmented) MP4, as podcasts publish it.
    tone(
        &lib.join("interview.m4a"),
        "Interview",
        20,
        &["-c:a", "aac", "-b:a", "96k"],
    );
    tone(&lib.join("concert.flac"), "Concert", 10, &["-c:a", "flac"]);
    let (box_ns, phones) = (Netns::new("epbox"), Netns::new("epphone"));
    box_ns.link("10.15.1.2/24", &phones, "10.15.1.1/24");
    // The phones' LAN has a default route (to the box, leading nowhere else); the box has
    // none, as at an event with no internet.
    phones.ip(&["route", "add", "default", "via", "10.15.1.2"]);
    let mut node = Node::start_in(
        &box_ns,
        "10.15.1.2".parse().unwrap(),
        tmp.path(),
        std::slice::from_ref(&lib),
        BASE_CONFIG,
    );
    node.wait_healthy(3);
    let size = node.item("shared.mp3")["size"].as_u64().expect("size");
    let out = run_node(
        phones.command("node"),
        "episodes_p2p.mjs",
        &[
            format!("--base={}", node.base_url()),
            format!("--ns={}", box_ns.name),
            "--title=Shared Show".into(),
            "--listeners=2".into(),
            "--check".into(),
            "--also=Interview:blob".into(),
            "--also=Concert:blob".into(),
        ],
        Duration::from_secs(150),
    );
    let second: Value = out
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .filter_map(|j| serde_json::from_str::<Value>(j).ok())
        .find(|r| r["listener"] == 2)
        .unwrap_or_else(|| panic!("no result for the second listener:\n{out}"));
    let got = |k: &str| {
        second[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {second}"))
    };
    assert_eq!(got("size"), size, "{second}");
    assert!(got("fromPeers") > size / 2, "{second}");
    assert!(got("nodeOut") < size / 2, "{second}");
    node.assert_alive();
}
