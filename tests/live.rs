//! The live stream with the generated tone: `/live.ogg` is Ogg Opus, 48 kHz stereo, as
//! ffprobe reads it over HTTP, carries the station's name, and the level meter streams.

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::Command,
    time::Duration,
};

use common::*;

#[test]
fn live_ogg_is_opus_with_the_test_tone() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    std::fs::create_dir_all(&lib).unwrap();
    write_random(&lib.join("x.mp3"), 1000);
    let config = format!("audio = \"sine\"\n[station]\nname = \"Radio Tone\"\n{BASE_CONFIG}");
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), &config);
    node.wait_healthy(1);
    node.wait_until("on air", Duration::from_secs(10), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (h["live"]["state"] == "on_air")
            .then_some(())
            .ok_or(h.to_string())
    });
    let url = format!("{}/live.ogg", node.base_url());
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,sample_rate,channels",
        ])
        .args(["-show_entries", "format_tags=title", "-of", "json", &url])
        .output()
        .expect("run ffprobe");
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("ffprobe JSON");
    let s = &info["streams"][0];
    assert_eq!(s["codec_name"], "opus", "{info}");
    assert_eq!(s["sample_rate"], "48000", "{info}");
    assert_eq!(s["channels"], 2, "{info}");

    let samples = decode_audio(&url, 2);
    assert!(samples.len() > 80_000, "only {} samples", samples.len());
    let hz = tone_hz(&samples[4800..]);
    assert!((hz - 440.0).abs() < 5.0, "tone at {hz} Hz");

    // Icecast-style headers, and a listener is counted while connected.
    let mut conn = TcpStream::connect(node.http).unwrap();
    write!(conn, "GET /live.ogg HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut head = String::new();
    while !head.ends_with("\r\n\r\n") {
        reader.read_line(&mut head).unwrap();
    }
    assert!(head.contains("icy-name: Radio Tone"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: audio/ogg"),
        "{head}"
    );
    let mut some = [0u8; 4];
    reader.read_exact(&mut some).unwrap();
    node.wait_until("listener counted", Duration::from_secs(5), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (num(&h, "/live/listeners") == Some(1))
            .then_some(())
            .ok_or(h.to_string())
    });
    drop(reader);
    drop(conn);

    // The level meter: -12 dBFS peaks for the tone.
    let mut sse = TcpStream::connect(node.http).unwrap();
    write!(sse, "GET /api/live/levels HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut r = BufReader::new(sse);
    let mut line = String::new();
    let data = loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if let Some(d) = line.strip_prefix("data: ") {
            break d.to_string();
        }
    };
    let levels: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
    let peak = levels["peak_db"][0].as_f64().unwrap();
    assert!((peak + 12.0).abs() < 1.0, "{levels}");
    node.assert_alive();
}

#[test]
fn hls_and_mp3_play_in_ffmpeg() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    write_random(&lib.join("x.mp3"), 1000);
    let config = format!("audio = \"sine\"\n{BASE_CONFIG}");
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), &config);
    node.wait_healthy(1);
    // HLS needs two segments (about 4 s) before a player may start.
    node.wait_until("two HLS segments", Duration::from_secs(20), |n| {
        let r = n.get("/live/mp3.m3u8");
        (r.status == 200 && r.text().matches("#EXTINF").count() >= 2)
            .then_some(())
            .ok_or(r.text())
    });
    let master = node.get("/live/index.m3u8");
    assert!(master.text().contains("mp3.m3u8"), "{}", master.text());
    for path in ["/live/index.m3u8", "/live.mp3"] {
        let samples = decode_audio(&format!("{}{path}", node.base_url()), 6);
        assert!(
            samples.len() > 5 * 48_000,
            "{path}: {} samples",
            samples.len()
        );
        let hz = tone_hz(&samples[9600..]);
        assert!((hz - 440.0).abs() < 5.0, "{path}: tone at {hz} Hz");
    }
    let m = node.get("/metrics").text();
    assert!(
        m.lines().any(
            |l| l.starts_with("streamp2p_live_hls_segments_served_total ") && !l.ends_with(" 0")
        ),
        "{m}"
    );
    node.assert_alive();
}
