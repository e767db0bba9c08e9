//! The live stream with the generated tone: `/live.ogg` is Ogg Opus, 48 kHz stereo, as
//! ffprobe reads it over HTTP, carries the station's name, and the level meter streams;
//! both HLS variants (Opus in fMP4, MP3 packed audio) and `/live.mp3` play in ffmpeg.

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::Command,
    time::{Duration, Instant},
};

use common::*;

#[test]
fn live_ogg_is_opus_with_the_test_tone() {
    let tmp = tempdir();
    let station = "[station]\nname = \"Radio Tone\"\n";
    let mut node = start_live_node(tmp.path(), "sine", station, any_file);
    node.wait_live_state("on_air", Duration::from_secs(10));
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

/// A `/live.ogg` listener that takes nothing (a phone gone to sleep, a stuck player) is let go
/// once it is the stream's backlog behind, and its connection closed; a listener beside it
/// plays on, from the same writer, and both were counted while they listened.
#[test]
fn a_listener_that_takes_nothing_is_dropped_and_the_others_play_on() {
    let tmp = tempdir();
    let mut node = start_live_node(tmp.path(), "sine", "", any_file);
    node.wait_live_state("on_air", Duration::from_secs(10));
    let ogg_listeners = |want: u64| {
        move |n: &Node| {
            let h = n.health().map_err(|e| e.to_string())?;
            (num(&h, "/listeners/ogg") == Some(want))
                .then_some(())
                .ok_or(h["listeners"].to_string())
        }
    };
    // A small receive window: the node's side of the connection fills, not this one's.
    let mut stalled = small_window_connection(node.http);
    stalled
        .write_all(b"GET /live.ogg HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    node.wait_until(
        "the stalled listener counted",
        Duration::from_secs(5),
        ogg_listeners(1),
    );
    // The reader decodes for longer than the wait below, so a count of one is the stalled
    // listener gone, not the reader done.
    let url = format!("{}/live.ogg", node.base_url());
    let reader = std::thread::spawn(move || decode_audio(&url, 40));
    node.wait_until("both counted", Duration::from_secs(10), ogg_listeners(2));
    node.wait_until(
        "the stalled listener let go",
        Duration::from_secs(30),
        ogg_listeners(1),
    );
    // Its connection was closed: what the node had sent, then the end.
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    stalled
        .read_to_end(&mut got)
        .expect("the end of the stalled connection");
    assert!(
        got.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{:?}",
        &got[..got.len().min(64)]
    );
    let samples = reader.join().expect("the reader");
    assert!(
        samples.len() >= 39 * 48_000,
        "only {} samples",
        samples.len()
    );
    let hz = tone_hz(&samples[samples.len() - 48_000..]);
    assert!((hz - 440.0).abs() < 5.0, "tone at {hz} Hz at the end");
    let log = std::fs::read_to_string(&node.log_path).unwrap_or_default();
    assert!(
        log.contains("slow listener dropped"),
        "not in the node's log"
    );
    node.assert_alive();
}

/// A TCP connection to `to` whose receive buffer is 4 KiB (set before connecting, so the
/// window it offers stays small).
fn small_window_connection(to: std::net::SocketAddr) -> TcpStream {
    use nix::sys::socket::{
        connect, setsockopt, socket, sockopt::RcvBuf, AddressFamily, SockFlag, SockType, SockaddrIn,
    };
    let std::net::SocketAddr::V4(v4) = to else {
        panic!("the test node listens on IPv4");
    };
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )
    .unwrap();
    setsockopt(&fd, RcvBuf, &4096).unwrap();
    connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(v4)).unwrap();
    TcpStream::from(fd)
}

/// Decodes `secs` of one program (variant) of an HLS master playlist to mono 48 kHz
/// samples, returning them with ffmpeg's error output.
fn decode_variant(url: &str, program: usize, secs: u32) -> (Vec<i16>, String) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i", url])
        .args(["-map", &format!("0:p:{program}:a"), "-t", &secs.to_string()])
        .args(["-f", "s16le", "-ac", "1", "-ar", "48000", "-"])
        .output()
        .expect("run ffmpeg");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ffmpeg, program {program}: {stderr}");
    let samples = out
        .stdout
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    (samples, stderr)
}

#[test]
fn hls_and_mp3_play_in_ffmpeg() {
    let tmp = tempdir();
    let mut node = start_live_node(tmp.path(), "sine", "", any_file);
    // HLS needs two segments (about 4 s) in each variant before a player may start.
    for playlist in ["/live/opus.m3u8", "/live/mp3.m3u8"] {
        node.wait_until("two HLS segments", Duration::from_secs(20), |n| {
            let r = n.get(playlist);
            (r.status == 200 && r.text().matches("#EXTINF").count() >= 2)
                .then_some(())
                .ok_or(r.text())
        });
    }
    let master = node.get("/live/index.m3u8").text();
    assert!(
        master.contains("CODECS=\"opus\"\nopus.m3u8")
            && master.contains("CODECS=\"mp4a.40.34\"\nmp3.m3u8"),
        "{master}"
    );
    let url = format!("{}/live/index.m3u8", node.base_url());

    // The Opus variant is Opus in fMP4: opus, 48 kHz, the configured two channels.
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries"])
        .args(["program=program_id:stream=codec_name,sample_rate,channels"])
        .args(["-of", "json", &url])
        .output()
        .expect("run ffprobe");
    let info: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("ffprobe JSON");
    let opus = &info["programs"][0]["streams"][0];
    assert_eq!(opus["codec_name"], "opus", "{info}");
    assert_eq!(opus["sample_rate"], "48000", "{info}");
    assert_eq!(opus["channels"], 2, "{info}");
    assert_eq!(
        info["programs"][1]["streams"][0]["codec_name"], "mp3",
        "{info}"
    );
    let init = node.get("/live/opus/init.mp4");
    assert_eq!(init.header("content-type"), Some("audio/mp4"));
    assert!(
        init.body.windows(4).any(|w| w == b"dOps"),
        "no dOps box in the init segment"
    );

    // A sharing listen page's playlist says its role and how old its newest segment is
    // (under a segment's 2 s and a little), from which the page lists the next ones itself.
    let master = node.get("/live/index.m3u8").text();
    let opus = master
        .lines()
        .find(|l| l.starts_with("opus.m3u8?s="))
        .expect("the Opus variant with a session token");
    let page = node.get(&format!("/live/{opus}&up=1&n=0"));
    assert_eq!(page.header("streamp2p-seed"), Some("1"), "alone, it seeds");
    let age: u64 = page
        .header("streamp2p-age")
        .and_then(|a| a.parse().ok())
        .expect("an age in milliseconds");
    assert!(age < 3_000, "the newest segment is {age} ms old");

    // The next segment, not made yet, is answered the moment it is made (a page's own
    // playlist may list it a little early, after the input stalled), and its answer says
    // how old it is; one further ahead is a 404 at once.
    let query = opus.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let newest: u64 = page
        .text()
        .lines()
        .filter_map(|l| l.strip_prefix("opus/")?.strip_suffix(".m4s")?.parse().ok())
        .max()
        .expect("a listed Opus segment");
    let asked = Instant::now();
    let next = node.get(&format!("/live/opus/{}.m4s?{query}&up=1&n=0", newest + 1));
    assert_eq!(next.status, 200, "{}", next.text());
    assert!(asked.elapsed() < Duration::from_secs(3));
    let age: u64 = next
        .header("streamp2p-age")
        .and_then(|a| a.parse().ok())
        .expect("the segment's age in milliseconds");
    assert!(age < 500, "the next segment was {age} ms old");
    let asked = Instant::now();
    let far = node.get(&format!("/live/opus/{}.m4s?{query}&up=1&n=0", newest + 4));
    assert_eq!(far.status, 404);
    assert!(asked.elapsed() < Duration::from_secs(1), "not held");

    // The page's tracker socket, opened with its session, hears its role at once and at
    // each change; a socket's close says its page has gone.
    let socket = |variant: &str| {
        let token = variant.split("s=").nth(1).unwrap_or_default();
        let ws = WsClient::connect(node.http, &format!("/announce?s={token}")).expect("socket");
        ws.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        ws
    };
    let hears = |ws: &mut WsClient, role: &str| loop {
        match ws.recv().unwrap_or_else(|e| panic!("no role {role}: {e}")) {
            WsFrame::Text(t) => {
                let m: serde_json::Value = serde_json::from_str(&t).expect("JSON");
                if m["streamp2p-seed"] == role {
                    assert_eq!(m["action"], "announce", "{t}");
                    assert_eq!(m["info_hash"], "", "a message for no swarm: {t}");
                    return;
                }
            }
            other => panic!("{other:?}"),
        }
    };
    let mut seeder = socket(opus);
    hears(&mut seeder, "1");
    let master = node.get("/live/index.m3u8").text();
    let other = master
        .lines()
        .find(|l| l.starts_with("opus.m3u8?s="))
        .expect("the Opus variant")
        .to_string();
    node.get(&format!("/live/{other}&up=1&n=0"));
    let mut stand_in = socket(&other);
    hears(&mut stand_in, "standby");
    drop(seeder);
    hears(&mut stand_in, "1");

    // A segment resumes where a page's transfer broke off: one range answers 206 with
    // those bytes, one past the end 416, and the whole stays the whole.
    let listed = node.get("/live/opus.m3u8").text();
    let first = listed
        .lines()
        .find(|l| l.ends_with(".m4s"))
        .expect("a listed Opus segment");
    let path = format!("/live/{first}");
    let whole = node.get(&path);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    let rest = http_request(node.http, "GET", &path, &[("Range", "bytes=1000-")]).expect("range");
    assert_eq!(rest.status, 206);
    assert_eq!(rest.body, whole.body[1000..], "the range's bytes");
    let expected = format!("bytes 1000-{}/{}", whole.body.len() - 1, whole.body.len());
    assert_eq!(rest.header("content-range"), Some(expected.as_str()));
    let past = format!("bytes={}-", whole.body.len() + 10);
    let past = http_request(node.http, "GET", &path, &[("Range", &past)]).expect("range");
    assert_eq!(past.status, 416);

    // Each variant plays for 10 s and carries the tone.
    for (program, name) in [(0, "opus"), (1, "mp3")] {
        let (samples, stderr) = decode_variant(&url, program, 10);
        assert!(
            samples.len() >= 10 * 48_000 - 4800,
            "{name}: {} samples",
            samples.len()
        );
        let hz = tone_hz(&samples[9600..]);
        assert!((hz - 440.0).abs() < 5.0, "{name}: tone at {hz} Hz");
        // ffmpeg 5.1's HLS demuxer gives the next packed-audio segment's ID3 timestamp to
        // MP3 frames its parser still holds from the previous one and then warns about
        // its own timestamps; the audio is whole (checked above). Nothing else may show.
        let unexpected: Vec<&str> = stderr
            .lines()
            .filter(|l| !(name == "mp3" && l.contains("non monotonically increasing dts")))
            .collect();
        assert!(unexpected.is_empty(), "{name}: {stderr}");
    }
    let samples = decode_audio(&format!("{}/live.mp3", node.base_url()), 6);
    assert!(
        samples.len() > 5 * 48_000,
        "/live.mp3: {} samples",
        samples.len()
    );
    let hz = tone_hz(&samples[9600..]);
    assert!((hz - 440.0).abs() < 5.0, "/live.mp3: tone at {hz} Hz");

    // Segments served are counted per variant, in the health and the metrics.
    let h = node.health().unwrap();
    for v in ["opus", "mp3"] {
        let served = num(&h, &format!("/live/hls_segments_served/{v}")).unwrap_or(0);
        assert!(served >= 5, "{v}: {served} segments counted: {h}");
        // 128 kb/s in ~2 s segments: about 32 KB each.
        let bytes = num(&h, &format!("/live/hls_bytes_served/{v}")).unwrap_or(0);
        assert!(bytes > served * 25_000, "{v}: {bytes} bytes counted: {h}");
    }
    let m = node.get("/metrics").text();
    for v in ["opus", "mp3"] {
        let line = format!("streamp2p_live_hls_bytes_served_total{{variant=\"{v}\"}} ");
        assert!(
            m.lines()
                .any(|l| l.starts_with(&line) && !l.ends_with(" 0")),
            "{m}"
        );
        let line = format!("streamp2p_live_hls_segments_served_total{{variant=\"{v}\"}} ");
        assert!(
            m.lines()
                .any(|l| l.starts_with(&line) && !l.ends_with(" 0")),
            "{m}"
        );
    }
    node.assert_alive();
}

/// In `library` mode the node's tracker admits the live stream's p2p-media-loader swarm
/// (the npm `bittorrent-tracker` client over WebSocket, as the listen page uses it) and
/// still refuses an infohash of nobody's.
#[test]
fn the_tracker_admits_the_live_swarms() {
    let tmp = tempdir();
    let no_webtorrent = "\n[webtorrent]\nenabled = false\n";
    let mut node = start_live_node(tmp.path(), "sine", no_webtorrent, any_file);
    // The Opus variant's swarm at the default 128 kb/s (BANDWIDTH 132000) with the page's
    // swarm id, computed with p2p-media-loader-core 2.3.1's own getStreamHash and
    // generateStreamShortId: the 20 ASCII bytes "WhUnN4akVT+F0SyQKnxN".
    let live = hex::encode(b"WhUnN4akVT+F0SyQKnxN");
    let args = [
        "--proto=ws".into(),
        format!("--http={}", node.http),
        format!("--udp={}", node.udp),
        format!("--infohash={live}"),
        format!("--foreign={}", hex::encode(rand::random::<[u8; 20]>())),
    ];
    again_on_client_race(|| try_js("tracker_client.mjs", &args, Duration::from_secs(150)));
    node.assert_alive();
}
