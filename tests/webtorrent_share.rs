//! Listeners serve each other before the station (issue 15): the node's WebRTC seeder shows a
//! newcomer only the pieces no connected listener holds, so it takes the rest from them.
//!
//! As deployed: the node in a network namespace of its own (10.15.61.2), the listeners in
//! another one beside it (10.15.61.1), joined by a veth pair; webtorrent 2.8.5 clients in Node
//! (tests/js/webtorrent_share.mjs) fetch a library file over WebRTC alone, without web seed.
//! Client A is alone: every byte comes from the node. Client B joins while A stays connected
//! and seeding: B's bytes match, most of them came from A, and the node's own count of its
//! WebRTC upload and the bytes on the listeners' link while B fetched stay well under the file.
//!
//! The JS driver needs the repository's node_modules (`npm ci`, run by scripts/test.sh).

mod common;

use common::*;
use std::time::Duration;

const SIZE: u64 = 4 * MIB;

#[test]
fn a_second_listener_takes_the_file_from_the_first_not_from_the_node() {
    let dir = tempdir();
    let (box_ns, lan_ns) = (Netns::new("box"), Netns::new("lan"));
    box_ns.link("10.15.61.2/24", &lan_ns, "10.15.61.1/24");
    // No default route in the box's namespace, as on a LAN with no internet: no multicast
    // route either, so the node answers without multicast DNS (webtorrent::peer::mdns_mode).
    let lib = dir.path().join("library");
    write_random(&lib.join("episode.mp3"), SIZE);
    let mut node = Node::start_in(
        &box_ns,
        "10.15.61.2".parse().unwrap(),
        dir.path(),
        std::slice::from_ref(&lib),
        BASE_CONFIG,
    );
    node.wait_healthy(1);
    let ih = node.wait_webrtc_seeder("episode.mp3");

    let out = run_node(
        lan_ns.command("node"),
        "webtorrent_share.mjs",
        &[
            format!("--tracker=ws://{}/announce", node.http),
            format!("--infohash={ih}"),
            "--name=episode.mp3".into(),
            format!("--sha256={}", sha256_file(&lib.join("episode.mp3"))),
            format!("--size={SIZE}"),
            "--clients=2".into(),
            // B takes at least three quarters from A; the node sends it at most a quarter
            // (its own count), and the link from the box carries at most half (with the
            // signalling and the DTLS/SCTP framing).
            "--min-from-peers=0.75".into(),
            "--max-node=0.25".into(),
            "--max-link=0.5".into(),
        ],
        Duration::from_secs(180),
    );
    assert!(out.contains("all checks passed"), "{out}");
    node.assert_alive();
    // Both sessions were served by the seeder and neither ended on bad input.
    let w = node.health().expect("health")["webtorrent"].clone();
    assert!(w["answered"].as_u64().unwrap_or(0) >= 2, "{w}");
    assert!(w["uploaded_bytes"].as_u64().unwrap_or(0) >= SIZE, "{w}");
}
