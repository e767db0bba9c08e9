//! What goes on air is recorded as episodes that join the library: a finished recording is
//! listed, decodes as Opus of the split length, and has a torrent; one cut short by a
//! SIGKILL (a power cut) is kept and listed after the restart.

mod common;

use std::{process::Command, time::Duration};

use common::*;

fn recordings(node: &Node) -> Vec<serde_json::Value> {
    node.library()
        .into_iter()
        .filter(|i| {
            i["name"]
                .as_str()
                .is_some_and(|n| n.contains(" live") && n.ends_with(".ogg"))
        })
        .collect()
}

/// Seconds of Opus audio at `url`, by decoding all of it (ffprobe only estimates).
fn opus_secs(url: &str) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "json",
            url,
        ])
        .output()
        .expect("run ffprobe");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe JSON");
    assert_eq!(v["streams"][0]["codec_name"], "opus", "{v}");
    decode_audio(url, 600).len() as f64 / 48_000.0
}

#[test]
fn live_sessions_become_episodes_even_after_a_power_cut() {
    let tmp = tempdir();
    let tables = "[station]\nname = \"Radio Rec\"\n[live]\nrecord_split_secs = 10\n";
    let mut node = start_live_node(tmp.path(), "sine", tables, any_file);
    let first = node.wait_until("a finished recording", Duration::from_secs(40), |n| {
        recordings(n)
            .into_iter()
            .next()
            .ok_or("none yet".to_string())
    });
    assert!(
        first["title"]
            .as_str()
            // The station's language (Spanish by default) and the time it began.
            .is_some_and(|t| t.starts_with("Radio Rec — ") && t.contains(" de ")),
        "{first}"
    );
    let secs = opus_secs(first["web_seed"].as_str().unwrap());
    assert!((secs - 10.0).abs() < 0.6, "recording lasts {secs} s");
    let ih = first["infohash"].as_str().unwrap();
    assert_eq!(node.get(&format!("/t/{ih}.torrent")).status, 200);

    // Halfway through the next one, the power goes.
    std::thread::sleep(Duration::from_secs(7));
    node.kill();
    node.restart();
    let kept = node.wait_until("the interrupted recording", Duration::from_secs(40), |n| {
        n.health().map_err(|e| e.to_string())?;
        let r = recordings(n);
        if r.len() >= 2 {
            Ok(r)
        } else {
            Err(format!("{} recordings", r.len()))
        }
    });
    let cut = kept
        .iter()
        .find(|i| i["infohash"] != first["infohash"])
        .expect("a second recording");
    let secs = opus_secs(cut["web_seed"].as_str().unwrap());
    assert!(secs >= 5.0, "interrupted recording lasts {secs} s");
    node.assert_alive();
}
