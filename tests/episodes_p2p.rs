//! Episodes shared between listeners on plain http, as deployed: the node in its own network
//! namespace (10.15.1.2), two Chromium listeners beside it (10.15.1.1) opening the listen
//! page by that address, where no service worker is allowed. The first plays an MP3; the
//! second plays it next and gets most of it from the first over WebRTC, while the bytes
//! leaving the node's interface stay under half the episode. An M4A (its moov at the end,
//! and at the front) plays through Media Source Extensions too, a FLAC whole from memory.
//! Then, over a slow uplink, a listener seeks far into an MP3 and into an M4A before they
//! are whole: playback goes on there, from the pieces around it.

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
    // The same, written for the web: the moov first.
    tone(
        &lib.join("talk.m4a"),
        "Morning Talk",
        20,
        &["-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart"],
    );
    tone(&lib.join("concert.flac"), "Concert", 10, &["-c:a", "flac"]);
    // Five minutes each for the seeks: 4.8 MB and 3.6 MB.
    tone(
        &lib.join("long.mp3"),
        "Long Show",
        300,
        &["-ac", "2", "-b:a", "128k"],
    );
    tone(
        &lib.join("long.m4a"),
        "Long Interview",
        300,
        &["-c:a", "aac", "-b:a", "96k"],
    );
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
    node.wait_healthy(6);
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
            "--also=Interview:mse".into(),
            "--also=Morning Talk:mse".into(),
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
    for also in out.lines().filter_map(|l| l.strip_prefix("ALSO ")) {
        let also: Value = serde_json::from_str(also).expect("ALSO json");
        if also["title"] != "Concert" {
            assert!(
                also["mime"].as_str().is_some_and(|m| m.contains("mp4a")),
                "{also}"
            );
        }
    }

    // A home uplink: 2 Mbit/s out of the box, so a file is far from whole when the
    // listener seeks (on the bare veth it would be whole within a second).
    let shaped = box_ns
        .command("sh")
        .arg("-c")
        .arg(
            "for d in /sys/class/net/*; do n=${d##*/}; [ $n = lo ] || \
             tc qdisc add dev $n root tbf rate 2mbit burst 16kb latency 200ms || exit 1; done",
        )
        .status()
        .expect("run tc");
    assert!(shaped.success(), "tc could not shape the box's link");
    let out = run_node(
        phones.command("node"),
        "episodes_p2p.mjs",
        &[
            format!("--base={}", node.base_url()),
            format!("--ns={}", box_ns.name),
            "--seek=Long Show".into(),
            "--seek=Long Interview".into(),
            "--timeout=60".into(),
        ],
        Duration::from_secs(70),
    );
    let seeks: Vec<Value> = out
        .lines()
        .filter_map(|l| l.strip_prefix("SEEK "))
        .filter_map(|j| serde_json::from_str(j).ok())
        .collect();
    assert_eq!(seeks.len(), 2, "{out}");
    for seek in &seeks {
        assert_eq!(seek["after"]["target"], true, "{seek}");
        assert!(
            seek["after"]["between"].as_f64().is_some_and(|b| b < 0.5),
            "{seek}"
        );
    }
    node.assert_alive();
}
