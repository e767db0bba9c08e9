//! The node's tracker against real client implementations:
//! - the npm `bittorrent-tracker` client over HTTP, UDP and WebSocket (tests/js/tracker_client.mjs):
//!   two clients find each other, scrape counts them, /api/tracker shows them per protocol, stop
//!   removes them; in library mode a foreign infohash is refused; in open mode any is tracked;
//! - two webtorrent 2.8 clients exchanging a file over WebRTC signalled by the node
//!   (tests/js/webtorrent_pair.mjs), with the signalling compressed both ways;
//! - aria2c and transmission-cli fetching a library file with the node's UDP tracker as their
//!   only tracker (no web seed, no HTTP tracker).
//!
//! The JS drivers need the repository's node_modules (`npm ci`, run by scripts/test.sh).

mod common;

use common::*;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

const JS_TIMEOUT: Duration = Duration::from_secs(150);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);
const OPEN_CONFIG: &str =
    "[scan]\nrescan_secs = 1\n\n[swarm]\ndht = false\nlsd = false\n\n[tracker]\nmode = \"open\"\n\n[webtorrent]\nenabled = false\n";

/// A node seeding three small random files, ready; returns it and the library folder.
fn node_with_library(root: &Path, config: &str) -> (Node, PathBuf) {
    let lib = root.join("library");
    for name in ["one.mp3", "two.ogg", "three.flac"] {
        write_random(&lib.join(name), 256 * 1024);
    }
    let mut node = Node::start(root, std::slice::from_ref(&lib), config);
    node.wait_healthy(3);
    (node, lib)
}

fn infohash(node: &Node, name: &str) -> String {
    node.item(name)["infohash"]
        .as_str()
        .expect("infohash")
        .to_ascii_lowercase()
}

fn random_infohash() -> String {
    hex::encode(rand::random::<[u8; 20]>())
}

/// Runs tests/js/tracker_client.mjs for `proto` against `node` (again on node-datachannel's
/// race, see [`again_on_client_race`]).
fn tracker_client(node: &mut Node, proto: &str, ih: &str, library: bool) {
    again_on_client_race(|| try_tracker_client(node, proto, ih, library));
}

fn try_tracker_client(node: &mut Node, proto: &str, ih: &str, library: bool) -> Result<(), String> {
    let mut args = vec![
        format!("--proto={proto}"),
        format!("--http={}", node.http),
        format!("--udp={}", node.udp),
        format!("--infohash={ih}"),
        format!("--node-peer={}:{}", node.host, node.peer_port),
    ];
    if library {
        args.push("--library".into());
        args.push(format!("--foreign={}", random_infohash()));
    }
    try_js("tracker_client.mjs", &args, JS_TIMEOUT)?;
    node.assert_alive();
    Ok(())
}

/// The node's own WebRTC peer would be one more WebSocket seeder of every library swarm; these
/// tests count the tracker's peers exactly, so it is off.
const TRACKER_ONLY_CONFIG: &str =
    "[scan]\nrescan_secs = 1\n\n[swarm]\ndht = false\nlsd = false\n\n[webtorrent]\nenabled = false\n";

fn library_mode(proto: &str, file: &str) {
    let dir = tempdir();
    let (mut node, _) = node_with_library(dir.path(), TRACKER_ONLY_CONFIG);
    let ih = infohash(&node, file);
    tracker_client(&mut node, proto, &ih, true);
}

fn open_mode(proto: &str) {
    let dir = tempdir();
    let (mut node, _) = node_with_library(dir.path(), OPEN_CONFIG);
    tracker_client(&mut node, proto, &random_infohash(), false);
}

#[test]
fn bittorrent_tracker_client_http_library_mode() {
    library_mode("http", "one.mp3");
}

#[test]
fn bittorrent_tracker_client_udp_library_mode() {
    library_mode("udp", "two.ogg");
}

#[test]
fn bittorrent_tracker_client_ws_library_mode() {
    library_mode("ws", "three.flac");
}

#[test]
fn bittorrent_tracker_client_http_open_mode() {
    open_mode("http");
}

#[test]
fn bittorrent_tracker_client_udp_open_mode() {
    open_mode("udp");
}

#[test]
fn bittorrent_tracker_client_ws_open_mode() {
    open_mode("ws");
}

#[test]
fn webtorrent_clients_exchange_a_file_over_webrtc() {
    let dir = tempdir();
    let lib = dir.path().join("library");
    std::fs::create_dir_all(&lib).unwrap();
    // node-datachannel can fail a first connection ("a remote candidate without ICE
    // transport"), after which nothing tells the tracker. Two browsers paired once are
    // settled (they lack no partner) and offered to each other again only once their pairing
    // is a settled interval old (600 s by default, longer than the script waits). Short
    // intervals get the pair a second offer within about 30 s, as two listeners would get
    // one after ten minutes.
    let config = OPEN_CONFIG.replace(
        "[tracker]\n",
        "[tracker]\nws_interval_secs = 15\nws_settled_interval_secs = 15\n",
    );
    let mut node = Node::start(dir.path(), std::slice::from_ref(&lib), &config);
    node.wait_healthy(0);
    let tracker = format!("ws://{}/announce", node.http);
    run_js(
        "webtorrent_pair.mjs",
        &[
            format!("--tracker={tracker}"),
            format!("--size={}", 1536 * 1024),
        ],
        JS_TIMEOUT,
    );
    node.assert_alive();
    let t = node.get("/api/tracker").json();
    assert!(
        t["stats"]["announces_ws"].as_u64().unwrap_or(0) >= 2,
        "/api/tracker counted no WebSocket announces: {t}"
    );
    assert_eq!(t["stats"]["announces_http"], 0, "{t}");
    assert_eq!(t["stats"]["announces_udp"], 0, "{t}");
    // Node's `ws` (under bittorrent-tracker) agrees to permessage-deflate, as browsers do:
    // the offers and answers relayed to it went out compressed, and its own compressed
    // announces were read (the file could not have crossed otherwise).
    let (sent, messages) = (
        t["websocket_bytes_sent"].as_u64().unwrap_or(0),
        t["websocket_message_bytes"].as_u64().unwrap_or(0),
    );
    assert!(
        messages > 0 && sent * 10 < messages * 8,
        "signalling was not compressed: {sent} bytes sent for {messages}: {t}"
    );
}

// ---------------------------------------------------------------------------------------------
// BitTorrent clients with only the UDP tracker

fn udp_tracker_url(node: &Node) -> String {
    format!("udp://{}/announce", node.udp)
}

/// The node's tracker counted UDP announces and no HTTP ones (nothing else could have told the
/// client about the node).
fn assert_only_udp_announces(node: &Node) {
    let t = node.get("/api/tracker").json();
    assert!(
        t["stats"]["announces_udp"].as_u64().unwrap_or(0) >= 1,
        "no UDP announce was counted: {t}"
    );
    assert_eq!(t["stats"]["announces_http"], 0, "HTTP announces: {t}");
}

#[test]
fn aria2c_fetches_with_only_the_udp_tracker() {
    let dir = tempdir();
    let (mut node, lib) = node_with_library(dir.path(), BASE_CONFIG);
    let ih = infohash(&node, "two.ogg");
    let r = node.get(&format!("/t/{ih}.torrent"));
    assert_eq!(r.status, 200, "{}", r.text());
    let torrent = torrent_with_only_tracker(&r.body, &udp_tracker_url(&node));
    // Same info dict, so the same infohash; and nothing but the UDP tracker.
    assert_eq!(raw_info_dict(&torrent), raw_info_dict(&r.body));
    let t = bdecode(&torrent);
    assert!(t.get("url-list").is_none() && t.get("announce-list").is_none());
    let file = dir.path().join("udp-only.torrent");
    std::fs::write(&file, &torrent).unwrap();

    let out = dir.path().join("aria2c-udp");
    let run = aria2c_udp_trackers(file.to_str().unwrap(), &out, CLIENT_TIMEOUT);
    assert!(
        run.status.is_some_and(|s| s.success()),
        "aria2c with only the UDP tracker: {:?}",
        run.status
    );
    assert_eq!(
        sha256_file(&out.join("two.ogg")),
        sha256_file(&lib.join("two.ogg")),
        "sha256 of aria2c's download"
    );
    let log = std::fs::read_to_string(&run.log).unwrap_or_default();
    assert!(
        log.contains("UDPT received ANNOUNCE reply"),
        "aria2c's log shows no UDP tracker announce reply"
    );
    assert_only_udp_announces(&node);
    node.assert_alive();
}

#[test]
fn transmission_fetches_with_only_the_udp_tracker() {
    // transmission 3.00 ignores tracker peers on 127.0.0.0/8 and the node lists itself at the
    // address the UDP announce arrived at: the UDP tracker listens on the LAN address.
    let lan = IpAddr::V4(lan_ipv4().expect(
        "this test needs a non-loopback IPv4 address (transmission 3.00 drops 127.0.0.0/8 peers)",
    ));
    let dir = tempdir();
    let lib = dir.path().join("library");
    write_random(&lib.join("one.mp3"), 2 * MIB);
    let mut node = Node::start_udp_on(
        localhost(),
        lan,
        dir.path(),
        std::slice::from_ref(&lib),
        BASE_CONFIG,
    );
    node.wait_healthy(1);
    let ih = infohash(&node, "one.mp3");
    let magnet = format!(
        "magnet:?xt=urn:btih:{ih}&dn=one.mp3&tr={}",
        urlencode_segment(&udp_tracker_url(&node))
    );
    let want = std::fs::read(lib.join("one.mp3")).unwrap();

    let run = transmission(
        &magnet,
        &dir.path().join("transmission-udp"),
        "one.mp3",
        &want,
        CLIENT_TIMEOUT,
    );
    assert!(
        run.done_script_ran,
        "transmission's done script did not run"
    );
    assert_eq!(
        sha256_file(&run.file),
        sha256_file(&lib.join("one.mp3")),
        "sha256 of transmission's download"
    );
    assert_only_udp_announces(&node);
    node.assert_alive();
}
