//! The node's WebRTC seeder against a real WebTorrent client, and against hostile offers.
//!
//! - webtorrent 2.8 in Node (tests/js/webtorrent_fetch.mjs) fetches a 3 MiB library file by a
//!   magnet that names only the node's ws:// tracker: no web seed, no DHT, so every byte comes
//!   over WebRTC from the node itself; /api/health counts the upload.
//! - Offers with malformed SDP relayed through the node's own tracker are refused, and a good
//!   peer is served afterwards.
//!
//! The JS driver needs the repository's node_modules (`npm ci`, run by scripts/test.sh).

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

const JS_TIMEOUT: Duration = Duration::from_secs(150);
const SIZE: u64 = 3 * MIB;

/// A node seeding one 3 MiB file, whose WebRTC peer has announced it to the node's tracker.
fn seeding_node(root: &std::path::Path) -> (Node, PathBuf, String) {
    let lib = root.join("library");
    write_random(&lib.join("episode.mp3"), SIZE);
    let mut node = Node::start(root, std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(1);
    let ih = node.wait_webrtc_seeder("episode.mp3");
    (node, lib.join("episode.mp3"), ih)
}

fn webtorrent(node: &Node) -> Value {
    node.health().expect("health")["webtorrent"].clone()
}

fn fetch_with_webtorrent(node: &mut Node, ih: &str, file: &std::path::Path) {
    run_js(
        "webtorrent_fetch.mjs",
        &[
            format!("--tracker=ws://{}/announce", node.http),
            format!("--infohash={ih}"),
            "--name=episode.mp3".into(),
            format!("--sha256={}", sha256_file(file)),
            format!("--size={SIZE}"),
        ],
        JS_TIMEOUT,
    );
    node.assert_alive();
}

#[test]
fn webtorrent_fetches_a_library_file_from_the_node_over_webrtc() {
    let dir = tempdir();
    let (mut node, file, ih) = seeding_node(dir.path());
    assert_eq!(webtorrent(&node)["uploaded_bytes"], 0);
    fetch_with_webtorrent(&mut node, &ih, &file);

    let w = webtorrent(&node);
    assert!(
        w["uploaded_bytes"].as_u64().unwrap_or(0) >= SIZE,
        "webtorrent uploaded less than the file: {w}"
    );
    assert!(w["answered"].as_u64().unwrap_or(0) >= 1, "{w}");
    // Nothing came from the BitTorrent side or the web seed.
    let h = node.health().unwrap();
    assert_eq!(h["swarm"]["uploaded_bytes"], 0, "{h}");
    let metrics = node.get("/metrics").text();
    assert!(
        metrics.contains("streamp2p_webtorrent_uploaded_bytes_total"),
        "{metrics}"
    );
}

/// An announce through the node's own tracker whose one offer carries `sdp`: the tracker
/// relays it to the only WebSocket peer of the swarm, the node's WebRTC seeder.
fn offer_with_sdp(ws: &mut WsClient, ih: &[u8], sdp: &str, n: u8) {
    // One peer id for every announce: the tracker keeps one peer, so the node's WebRTC peer
    // is the only other one in the swarm and gets every offer.
    let peer = "-XX0001-hostile-peer";
    ws.send_json(&json!({
        "action": "announce",
        "info_hash": binary_string(ih),
        "peer_id": peer,
        "numwant": 1,
        "left": 100,
        "event": "started",
        "offers": [{ "offer": { "type": "offer", "sdp": sdp }, "offer_id": format!("offer-{n:014}") }],
    }))
    .unwrap();
    let reply = ws
        .recv_json(Duration::from_secs(5))
        .expect("announce reply");
    assert!(reply.get("failure reason").is_none(), "{reply}");
}

#[test]
fn malformed_offers_are_refused_and_good_peers_still_served() {
    let dir = tempdir();
    let (mut node, file, ih) = seeding_node(dir.path());
    let ih_bytes = infohash_bytes(&ih);
    let mut ws = WsClient::connect(node.http, "/announce").expect("connect to the tracker");
    let bad = [
        "garbage".to_string(),
        String::new(),
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n".to_string(),
        format!("v=0\r\n{}", "a=x\r\n".repeat(5000)),
    ];
    // One at a time: the node answers one offer per peer at once.
    for (n, sdp) in bad.iter().enumerate() {
        offer_with_sdp(&mut ws, &ih_bytes, sdp, n as u8);
        node.wait_until(
            &format!("malformed offer {n} to be refused"),
            Duration::from_secs(20),
            |node| {
                let w = node.health().map_err(|e| e.to_string())?["webtorrent"].clone();
                if w["refused"].as_u64().unwrap_or(0) > n as u64 {
                    Ok(())
                } else {
                    Err(w.to_string())
                }
            },
        );
    }
    // No answer ever came back for them.
    if let Ok(v) = ws.recv_json(Duration::from_millis(500)) {
        assert!(
            v.get("answer").is_none(),
            "an answer to a malformed offer: {v}"
        );
    }
    // Well-formed SDP with a bogus fingerprint and no candidates: answered (the fingerprint
    // only matters in DTLS), routed back with our offer id, and never connects.
    let unreachable = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00\r\n\
        a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n";
    offer_with_sdp(&mut ws, &ih_bytes, unreachable, 99);
    let answer = ws.recv_json(Duration::from_secs(15)).expect("an answer");
    assert_eq!(answer["offer_id"], "offer-00000000000099", "{answer}");
    assert_eq!(answer["answer"]["type"], "answer", "{answer}");
    assert_eq!(answer["info_hash"], binary_string(&ih_bytes), "{answer}");
    drop(ws);
    node.assert_alive();
    assert_eq!(webtorrent(&node)["peers"], 0);

    fetch_with_webtorrent(&mut node, &ih, &file);
    let w = webtorrent(&node);
    assert!(w["uploaded_bytes"].as_u64().unwrap_or(0) >= SIZE, "{w}");
}
