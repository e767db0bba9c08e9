//! The live stream's swarm as the station seeds it (`live::seeding`), with real listen
//! pages: a binary of its own, so no other browser test shares the two cores with it (its
//! figures are the station's sends, which a starved browser would change).

mod common;

use std::time::Duration;

use common::*;

/// A small swarm as the station seeds it (`live::seeding`): four phone-sized Chromium
/// listeners, one of which never uploads (a phone on mobile data, `?upload=0`) and the
/// first of which (the seeder: it came first) leaves halfway. Every listener plays through
/// without a stall, the one that never uploads still gets segments from the others, the
/// seeder's page says it leaves and its stand-in takes its place (another stands in then),
/// the three left count two peers each,
/// and the station sends each segment made once all listened at most twice, counted by the
/// node itself (`hls_opus_sends`). Every page hears its role on its tracker socket, so the
/// seeders ask the station for a playlist about every 30 s like everyone, not every 2 s.
#[test]
fn a_small_swarm_gets_each_segment_from_the_station_at_most_twice() {
    let tmp = tempdir();
    let mut node = start_live_node(tmp.path(), "sine", "", |lib| {
        make_tagged_mp3(&lib.join("one.mp3"), "One", "Radio Test", 5)
    });
    six_segments(&mut node);
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
            // The three left are all connected, and each counts its peers by id: the
            // leaver's connection closed once, however often p2p-media-loader told it.
            assert_eq!(l["peers"], 2, "listener {i}'s peers: {line}");
        }
        assert_eq!(stalls, 0, "listener {i} stalled: {line}");
        assert!(
            l["told"].as_u64().unwrap_or(0) >= 1,
            "listener {i} never heard its role on its tracker socket: {line}"
        );
        // About one playlist from the station every 30 s (and the master's first), seeds
        // included; every 2 s would be about 30.
        let asked = l["playlists"]["station"].as_u64().unwrap_or(u64::MAX);
        assert!(
            asked <= 8,
            "listener {i} asked the station for {asked} playlists: {line}"
        );
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
        listeners[1..]
            .iter()
            .any(|l| l["standsIn"] == true && l["seeds"] != true),
        "nobody stood in for the new seeder: {line}"
    );
    // The seeder said it left as its page closed (`POST /live/leave`).
    let health = http_request(node.http, "GET", "/api/health", &[])
        .expect("health")
        .json();
    assert_eq!(
        health["live"]["hls_seeding"]["left"], 1,
        "the leaver's page did not say it left: {health}"
    );
    assert!(
        listeners[1..].iter().all(|l| l["seeds"] != true) || phone["seeds"] != true,
        "a listener that never uploads was made a seeder: {line}"
    );
    // The pages told the tracker which listeners they were connected to (listen.js), each
    // at least once as its first peers connected.
    let tracker = http_request(node.http, "GET", "/api/tracker", &[])
        .expect("tracker")
        .json();
    let reports = tracker["stats"]["peer_reports"].as_u64().unwrap_or(0);
    assert!(
        reports >= listeners.len() as u64,
        "{reports} reports of peers from {} pages: {tracker}",
        listeners.len()
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
