//! What goes on air is recorded as episodes that join the library: a finished recording is
//! listed, decodes as MP3 (the default; Opus as a choice) of the split length with the
//! station's tone and its title tag, has a torrent and plays in Chromium through WebTorrent
//! from the node alone; one cut short by a SIGKILL (a power cut) is kept and listed after
//! the restart.

mod common;

use std::{process::Command, time::Duration};

use common::*;

fn recordings(node: &Node, ext: &str) -> Vec<serde_json::Value> {
    node.library()
        .into_iter()
        .filter(|i| {
            i["name"]
                .as_str()
                .is_some_and(|n| n.contains(" live") && n.ends_with(ext))
        })
        .collect()
}

/// The codec and title tag ffprobe reads at `url`, and its seconds of audio, by decoding all
/// of it (ffprobe only estimates). The audio is the node's 440 Hz test tone.
fn probe(url: &str) -> (String, String, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:stream_tags=title:format_tags=title",
            "-of",
            "json",
            url,
        ])
        .output()
        .expect("run ffprobe");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ffprobe JSON");
    let codec = v["streams"][0]["codec_name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // ID3 tags are the container's (format), Vorbis comments the stream's.
    let title = v["format"]["tags"]["title"]
        .as_str()
        .or(v["streams"][0]["tags"]["title"].as_str())
        .or(v["streams"][0]["tags"]["TITLE"].as_str())
        .unwrap_or("")
        .to_string();
    let samples = decode_audio(url, 600);
    let hz = tone_hz(&samples[4800..]);
    assert!((hz - 440.0).abs() < 5.0, "{url}: tone at {hz} Hz");
    (codec, title, samples.len() as f64 / 48_000.0)
}

#[test]
fn live_sessions_become_episodes_even_after_a_power_cut() {
    let tmp = tempdir();
    let tables = "[station]\nname = \"Radio Rec\"\n[live]\nrecord_split_secs = 10\n";
    let mut node = start_live_node(tmp.path(), "sine", tables, any_file);
    let first = node.wait_until("a finished recording", Duration::from_secs(40), |n| {
        recordings(n, ".mp3")
            .into_iter()
            .next()
            .ok_or("none yet".to_string())
    });
    let title = first["title"].as_str().unwrap_or_default();
    // The station's language (Spanish by default) and the time it began.
    assert!(
        title.starts_with("Radio Rec — ") && title.contains(" de "),
        "{first}"
    );
    let (codec, tag, secs) = probe(first["web_seed"].as_str().unwrap());
    assert_eq!(codec, "mp3");
    assert_eq!(tag, title, "the file's own title tag");
    assert!((secs - 10.0).abs() < 0.6, "recording lasts {secs} s");
    let ih = first["infohash"].as_str().unwrap();
    assert_eq!(node.get(&format!("/t/{ih}.torrent")).status, 200);

    // Halfway through the next one (6 s of 128 kb/s MP3 written), the power goes. Waiting
    // for the bytes rather than for a clock keeps a slow machine from cutting it short.
    let recordings_dir = node.data_dir.join("recordings");
    node.wait_until("6 s of the next recording", Duration::from_secs(40), |_| {
        let part = std::fs::read_dir(&recordings_dir)
            .map_err(|e| e.to_string())?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".part"))
            .ok_or("no recording under way")?;
        let len = part.metadata().map_err(|e| e.to_string())?.len();
        if len >= 6 * 16_000 {
            Ok(())
        } else {
            Err(format!("{len} bytes"))
        }
    });
    node.kill();
    node.restart();
    let kept = node.wait_until("the interrupted recording", Duration::from_secs(40), |n| {
        n.health().map_err(|e| e.to_string())?;
        let r = recordings(n, ".mp3");
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
    let (codec, _, secs) = probe(cut["web_seed"].as_str().unwrap());
    assert_eq!(codec, "mp3");
    assert!(secs >= 5.0, "interrupted recording lasts {secs} s");

    // A listener's browser plays the first recording through WebTorrent with the web seed
    // left out: every byte from the node's WebRTC peer.
    let shot = tmp.path().join("recording.png");
    let out = run_js(
        "listen_page.mjs",
        &[
            format!("--base={}", node.base_url()),
            format!("--shot={}", shot.display()),
            "--episodes=any".into(),
            format!("--title={title}"),
            "--p2p".into(),
            "--seconds=3".into(),
        ],
        Duration::from_secs(150),
    );
    assert!(out.contains("ok"), "{out}");
    node.assert_alive();
}

#[test]
fn opus_recordings_when_chosen() {
    let tmp = tempdir();
    let tables = "[station]\nname = \"Radio Rec\"\n[live]\nrecord_split_secs = 10\n\
                  [recording]\nformat = \"opus\"\n";
    let mut node = start_live_node(tmp.path(), "sine", tables, any_file);
    let first = node.wait_until("a finished recording", Duration::from_secs(40), |n| {
        recordings(n, ".ogg")
            .into_iter()
            .next()
            .ok_or("none yet".to_string())
    });
    let (codec, tag, secs) = probe(first["web_seed"].as_str().unwrap());
    assert_eq!(codec, "opus");
    assert_eq!(tag, first["title"].as_str().unwrap_or_default());
    assert!((secs - 10.0).abs() < 0.6, "recording lasts {secs} s");
    node.assert_alive();
}
