//! The listen page in a real browser (Debian's Chromium through playwright-core) at a
//! phone's size: episodes listed with thumb-sized buttons, and a tap plays the episode.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

/// Opens the listen page in phone-sized Chromium (tests/js/listen_page.mjs) on `node`, with
/// `args` after the page's address and the screenshot path; the script must report "ok".
fn play_listen_page(node: &Node, shot: &Path, args: &[&str]) {
    let mut all = vec![
        format!("--base={}", node.base_url()),
        format!("--shot={}", shot.display()),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let out = run_js("listen_page.mjs", &all, Duration::from_secs(150));
    assert!(out.contains("ok"), "{out}");
}

/// Keeps a screenshot for a person to look at, as `name` in the temp dir (the CI log names it).
fn keep_screenshot(shot: &Path, name: &str) {
    let keep = std::env::temp_dir().join(name);
    std::fs::copy(shot, &keep).unwrap();
    eprintln!("screenshot: {}", keep.display());
}

/// The listen page's arguments for the live tests: their one episode, then 3 s of the live
/// stream.
const LIVE: &[&str] = &["--episodes=1", "--title=One", "--seconds=3", "--live"];

/// The library of the live tests: one short episode, "One".
fn one_episode(lib: &Path) {
    make_tagged_mp3(&lib.join("one.mp3"), "One", "Radio Test", 5);
}

#[test]
fn listen_page_plays_an_episode_on_a_phone() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("morning.mp3"), "Morning Show", "Radio Test", 20);
    write_random(&lib.join("archive.ogg"), MIB);
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(2);
    let shot = tmp.path().join("listen.png");
    play_listen_page(&node, &shot, &["--episodes=2", "--title=Morning Show"]);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    keep_screenshot(&shot, "streamp2p-listen-page.png");
    node.assert_alive();
}

/// With the web seed left out (`?webseed=0`), the page can only get the episode from the
/// node's WebRTC peer: the audio still plays, so the bytes came over WebRTC.
#[test]
fn listen_page_plays_over_webrtc_from_the_node() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("evening.mp3"), "Evening Show", "Radio Test", 20);
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(1);
    let shot = tmp.path().join("p2p.png");
    play_listen_page(
        &node,
        &shot,
        &["--episodes=1", "--title=Evening Show", "--p2p"],
    );
    let h = node.health().unwrap();
    assert!(
        num(&h, "/webtorrent/uploaded_bytes").is_some_and(|b| b > 0),
        "the node sent nothing over WebRTC: {h}"
    );
    keep_screenshot(&shot, "streamp2p-listen-page-p2p.png");
    node.assert_alive();
}

/// A browser listener that has the episode shares it: a Node webtorrent client connected to
/// the browser and the node gets most of the episode from the browser (per-wire stats).
#[test]
fn a_listener_shares_with_the_next_one() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    // Big enough (about 24 MB) that the Node client is still fetching when both of its
    // peers are connected.
    std::fs::create_dir_all(&lib).unwrap();
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=330:duration=600",
        ])
        .args([
            "-ac",
            "2",
            "-b:a",
            "320k",
            "-metadata",
            "title=Long Show",
            "-y",
        ])
        .arg(lib.join("long.mp3"))
        .status()
        .expect("run ffmpeg");
    assert!(made.success());
    // A first WebRTC connection between the Node client and the browser can fail on a loaded
    // machine; webtorrent then offers again at its next announce, at the interval the tracker
    // sets (120 s by default, longer than the script waits for both peers). A short interval
    // gets the pair a second offer soon, as a listener would get one at the next interval.
    let config = format!("{BASE_CONFIG}\n[tracker]\nws_interval_secs = 15\n");
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), &config);
    node.wait_healthy(1);
    let ih = node.item("long.mp3")["infohash"]
        .as_str()
        .expect("infohash")
        .to_string();
    let out = run_js(
        "browser_and_node.mjs",
        &[
            format!("--base={}", node.base_url()),
            format!("--infohash={ih}"),
            "--title=Long Show".into(),
        ],
        Duration::from_secs(170),
    );
    assert!(out.contains("bytes from the browser"), "{out}");
    node.assert_alive();
}

/// With a live input, the page offers the live stream and a tap plays it (hls.js, Opus).
#[test]
fn listen_page_plays_the_live_stream() {
    let tmp = tempdir();
    let mut node = start_live_node(tmp.path(), "sine", "", one_episode);
    let shot = tmp.path().join("live.png");
    play_listen_page(&node, &shot, LIVE);
    let h = node.health().unwrap();
    assert_eq!(h["live"]["state"], "on_air", "{h}");
    keep_screenshot(&shot, "streamp2p-listen-page-live.png");
    node.assert_alive();
}

/// Without Media Source Extensions or native HLS the page falls back to the progressive
/// stream (Ogg Opus in Chromium), and it plays. (Native HLS, the path of an iPhone before
/// iOS 17.1, needs a Safari to test.)
#[test]
fn listen_page_plays_live_without_media_source() {
    let tmp = tempdir();
    let mut node = start_live_node(tmp.path(), "sine", "", one_episode);
    let shot = tmp.path().join("live-no-mse.png");
    play_listen_page(&node, &shot, &[LIVE, &["--no-mse"]].concat());
    node.assert_alive();
}

/// Two phone-sized Chromium listeners play the live stream through hls.js and
/// p2p-media-loader, signalling through the node's own tracker (in `library` mode, so it
/// must admit the live swarms): both play, each gets segments from the other over WebRTC
/// (p2p-media-loader's own `onSegmentLoaded` events), and the node served fewer segments
/// than the listeners played.
#[test]
fn two_listeners_share_the_live_stream() {
    let tmp = tempdir();
    let mut node = start_live_node(tmp.path(), "sine", "", one_episode);
    // The players start about five segments behind the live edge.
    node.wait_until("six Opus segments", Duration::from_secs(30), |n| {
        let r = n.get("/live/opus.m3u8");
        (r.status == 200 && r.text().matches("#EXTINF").count() >= 6)
            .then_some(())
            .ok_or(r.text())
    });
    let shot = tmp.path().join("live-p2p.png");
    // While they play, the node counts them: two HLS sessions (one browser, two pages: the
    // master playlist's tokens tell them apart), browsers sharing among them. A page that
    // reopens the stream leaves its old session for a few seconds, so the count is judged
    // by what it says most of the time.
    let playing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let counter = {
        let (http, playing) = (node.http, playing.clone());
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while playing.load(std::sync::atomic::Ordering::Relaxed) {
                let h = http_request(http, "GET", "/api/health", &[]).map(|r| r.json());
                if let Ok(h) = h {
                    let hls = num(&h, "/listeners/hls").unwrap_or(0);
                    let sharing = num(&h, "/listeners/sharing").unwrap_or(0);
                    assert!(
                        sharing <= hls,
                        "sharing is a part of HLS: {}",
                        h["listeners"]
                    );
                    samples.push((hls, sharing));
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            samples
        })
    };
    let out = run_js(
        "live_p2p.mjs",
        &[
            format!("--base={}", node.base_url()),
            format!("--shot={}", shot.display()),
            "--listeners=2".into(),
            "--seconds=40".into(),
            // The first listener is in the swarm before the second asks for the playlist.
            "--stagger=5".into(),
        ],
        Duration::from_secs(170),
    );
    playing.store(false, std::sync::atomic::Ordering::Relaxed);
    let samples = counter.join().expect("listener counter");
    eprintln!("HLS sessions and sharing browsers, each second: {samples:?}");
    let twos = samples.iter().filter(|(hls, _)| *hls == 2).count();
    assert!(
        twos * 2 > samples.len(),
        "two HLS sessions most of the time: {samples:?}"
    );
    assert!(
        samples.iter().all(|(hls, _)| *hls <= 3),
        "never more than one leftover: {samples:?}"
    );
    assert!(
        samples.iter().any(|(_, sharing)| *sharing >= 1),
        "no browser counted as sharing: {samples:?}"
    );
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .unwrap_or_else(|| panic!("no result line: {out}"));
    let listeners: Vec<serde_json::Value> = serde_json::from_str(line).expect("result JSON");
    assert_eq!(listeners.len(), 2, "{line}");
    // The master playlist told each page how many shared when it joined: the second
    // waited for the first rather than take its first segments from the node.
    assert_eq!(listeners[0]["joined"], 0, "{line}");
    assert!(listeners[1]["joined"].as_u64() >= Some(1), "{line}");
    let count = |l: &serde_json::Value, src: &str| l["segments"][src].as_u64().unwrap_or(0);
    for l in &listeners {
        assert!(l["peers"].as_u64() >= Some(1), "no peer connected: {line}");
        assert!(
            count(l, "http") + count(l, "p2p") >= 15,
            "too few segments: {line}"
        );
    }
    let p2p: u64 = listeners.iter().map(|l| count(l, "p2p")).sum();
    let http: u64 = listeners.iter().map(|l| count(l, "http")).sum();
    assert!(p2p > 0, "no segment came from a peer: {line}");
    let h = node.health().unwrap();
    let served = num(&h, "/live/hls_segments_served/opus").expect("opus segments served");
    eprintln!("listeners played {http} segments from the node and {p2p} from each other; node served {served}");
    // Every segment a listener took over HTTP came from the node; the peers' share did not.
    assert!(
        served >= http,
        "node served {served}, listeners got {http} over HTTP"
    );
    assert!(
        served < http + p2p,
        "node served {served} of the {} segments played",
        http + p2p
    );
    keep_screenshot(&shot, "streamp2p-listen-page-live-p2p.png");
    node.assert_alive();
}

/// A small swarm as the station seeds it (`live::seeding`): four phone-sized Chromium
/// listeners, one of which never uploads (a phone on mobile data, `?upload=0`) and the
/// first of which (the seeder: it came first) leaves halfway. Every listener plays through
/// without a stall, the one that never uploads still gets segments from the others, another
/// listener takes the seeder's place, and the station sends each segment made once all
/// listened at most twice, counted by the node itself (`hls_opus_sends`).
#[test]
fn a_small_swarm_gets_each_segment_from_the_station_at_most_twice() {
    let tmp = tempdir();
    let mut node = start_live_node(tmp.path(), "sine", "", one_episode);
    node.wait_until("six Opus segments", Duration::from_secs(30), |n| {
        let r = n.get("/live/opus.m3u8");
        (r.status == 200 && r.text().matches("#EXTINF").count() >= 6)
            .then_some(())
            .ok_or(r.text())
    });
    // Each segment's sends, and when it was first seen (ms since the epoch): the node keeps
    // 14 segments (28 s), sampled every 2 s.
    let playing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (http, playing) = (node.http, playing.clone());
        std::thread::spawn(move || {
            let mut segs = std::collections::BTreeMap::<u64, (u128, u64)>::new();
            loop {
                let done = !playing.load(std::sync::atomic::Ordering::Relaxed);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                if let Ok(r) = http_request(http, "GET", "/api/health", &[]) {
                    let h = r.json();
                    for s in h["live"]["hls_opus_sends"].as_array().into_iter().flatten() {
                        let (seq, sends) = (s[0].as_u64().unwrap(), s[1].as_u64().unwrap());
                        let e = segs.entry(seq).or_insert((now, 0));
                        e.1 = e.1.max(sends);
                    }
                }
                if done {
                    return segs;
                }
                std::thread::sleep(Duration::from_secs(2));
            }
        })
    };
    let seconds = 60;
    let out = run_js(
        "live_p2p.mjs",
        &[
            format!("--base={}", node.base_url()),
            format!("--shot={}", tmp.path().join("swarm.png").display()),
            "--listeners=4".into(),
            format!("--seconds={seconds}"),
            "--stagger=3".into(),
            "--no-upload=2".into(),
            "--leave=0@20".into(),
        ],
        Duration::from_secs(240),
    );
    let ended = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    playing.store(false, std::sync::atomic::Ordering::Relaxed);
    let segs = sampler.join().expect("sampler");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .unwrap_or_else(|| panic!("no result line: {out}"));
    let listeners: Vec<serde_json::Value> = serde_json::from_str(line).expect("result JSON");
    assert_eq!(listeners.len(), 4, "{line}");
    let count = |l: &serde_json::Value, src: &str| l["segments"][src].as_u64().unwrap_or(0);
    for (i, l) in listeners.iter().enumerate() {
        let played = l["played"].as_f64().unwrap_or(0.0);
        let stalls = l["stalls"].as_u64().unwrap_or(u64::MAX);
        if i == 0 {
            assert_eq!(l["left"], true, "{line}");
            assert!(l["seeds"] == true, "the first listener seeded: {line}");
            assert!(
                played >= 15.0,
                "listener 0 played {played} s before leaving: {line}"
            );
        } else {
            assert!(
                played >= f64::from(seconds) - 6.0,
                "listener {i} played {played} s: {line}"
            );
        }
        assert_eq!(stalls, 0, "listener {i} stalled: {line}");
    }
    let phone = &listeners[2];
    assert_eq!(phone["uploads"], false, "{line}");
    assert_eq!(phone["uploaded"], 0, "the phone uploaded: {line}");
    assert!(
        count(phone, "p2p") > 0,
        "the phone got nothing from peers: {line}"
    );
    assert!(
        listeners[1..].iter().any(|l| l["seeds"] == true),
        "nobody took the seeder's place: {line}"
    );
    assert!(
        listeners[1..].iter().all(|l| l["seeds"] != true) || phone["seeds"] != true,
        "a listener that never uploads was made a seeder: {line}"
    );
    // Segments made once all listened (first seen 10 s after the last one started), and
    // played before the end (the players are about 10 s behind the live edge).
    let all_started = listeners[1]["allStarted"].as_u64().expect("allStarted") as u128;
    let steady: Vec<(u64, u64)> = segs
        .iter()
        .filter(|(_, (seen, _))| *seen >= all_started + 10_000 && *seen + 14_000 <= ended)
        .map(|(seq, (_, sends))| (*seq, *sends))
        .collect();
    eprintln!("segments and the station's sends, once all listened: {steady:?}");
    eprintln!("listeners: {line}");
    assert!(steady.len() >= 15, "too few segments observed: {segs:?}");
    let most = steady.iter().map(|(_, n)| *n).max().unwrap_or(0);
    assert!(most <= 2, "a segment was sent {most} times: {steady:?}");
    assert!(
        steady.iter().all(|(_, n)| *n >= 1),
        "a segment never left the station: {steady:?}"
    );
    node.assert_alive();
}
