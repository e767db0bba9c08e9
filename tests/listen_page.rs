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
    six_segments(&mut node);
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
