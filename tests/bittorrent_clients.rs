//! Real BitTorrent clients (aria2c, transmission-cli) fetch library files from the node, given
//! only a magnet or only the .torrent URL, with DHT, LPD and PEX off: the node's own tracker and
//! web seed are the only ways to the data. The downloaded bytes must equal the library file.

mod common;

use common::*;
use sha1::{Digest, Sha1};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(90);

/// A library of two random files (3 MiB and 5 MiB) and a node seeding it, ready.
fn seeded_node(root: &Path, host: IpAddr, config: &str) -> (Node, PathBuf) {
    let lib = root.join("library");
    write_random(&lib.join("show 1.mp3"), 3 * MIB);
    write_random(&lib.join("show 2.ogg"), 5 * MIB);
    let mut node = Node::start_on(host, root, std::slice::from_ref(&lib), config);
    node.wait_healthy(2);
    (node, lib)
}

fn infohash_of(item: &serde_json::Value) -> String {
    let ih = item["infohash"]
        .as_str()
        .unwrap_or_else(|| panic!("no infohash in {item}"))
        .to_ascii_lowercase();
    assert_eq!(ih.len(), 40, "infohash {ih:?} is not 40 hex digits");
    assert!(ih.bytes().all(|c| c.is_ascii_hexdigit()), "{ih:?}");
    ih
}

fn torrent_url(node: &Node, ih: &str) -> String {
    format!("{}/t/{ih}.torrent", node.base_url())
}

fn assert_same_file(got: &Path, want: &Path) {
    assert!(got.is_file(), "{} was not downloaded", got.display());
    assert_eq!(
        sha256_file(got),
        sha256_file(want),
        "sha256 of {} differs from the library file {}",
        got.display(),
        want.display()
    );
}

/// Waits until the node reports having uploaded at least `bytes` over BitTorrent.
fn wait_uploaded(node: &mut Node, bytes: u64) {
    node.wait_until(
        &format!("swarm.uploaded_bytes >= {bytes}"),
        Duration::from_secs(15),
        |n| {
            let h = n.health().map_err(|e| e.to_string())?;
            match num(&h, "/swarm/uploaded_bytes") {
                Some(up) if up >= bytes => Ok(()),
                _ => Err(h.to_string()),
            }
        },
    );
}

#[test]
fn torrent_file_matches_library_file() {
    let dir = tempdir();
    let (node, lib) = seeded_node(dir.path(), localhost(), BASE_CONFIG);
    let item = node.item("show 1.mp3");
    let ih = infohash_of(&item);
    let data = std::fs::read(lib.join("show 1.mp3")).unwrap();

    assert_eq!(item["size"].as_u64(), Some(3 * MIB), "{item}");
    assert!(
        item["torrent"]
            .as_str()
            .is_some_and(|t| t.ends_with(&format!("/t/{ih}.torrent"))),
        "torrent field: {item}"
    );
    let magnet = item["magnet"].as_str().expect("magnet field");
    assert!(
        magnet.starts_with("magnet:?")
            && magnet
                .to_ascii_lowercase()
                .contains(&format!("xt=urn:btih:{ih}")),
        "magnet {magnet:?} does not name {ih}"
    );

    let r = node.get(&format!("/t/{ih}.torrent"));
    assert_eq!(r.status, 200, "{}", r.text());
    let info_raw = raw_info_dict(&r.body);
    assert_eq!(
        hex::encode(Sha1::digest(info_raw)),
        ih,
        "sha1 of the info dict is not the infohash"
    );
    let torrent = bdecode(&r.body);
    let info = bdecode(info_raw);
    assert_eq!(
        info.get("name").and_then(|n| n.str()).as_deref(),
        Some("show 1.mp3")
    );
    assert_eq!(
        info.get("length").and_then(Bencode::int),
        Some(3 * MIB as i64)
    );
    let piece_len = info
        .get("piece length")
        .and_then(Bencode::int)
        .expect("piece length") as usize;
    let pieces = info.get("pieces").and_then(Bencode::bytes).expect("pieces");
    assert_eq!(pieces.len(), data.len().div_ceil(piece_len) * 20);
    for (i, chunk) in data.chunks(piece_len).enumerate() {
        assert_eq!(
            &Sha1::digest(chunk)[..],
            &pieces[i * 20..i * 20 + 20],
            "piece {i} hash"
        );
    }
    // The node's tracker comes first; the web seed is outside the info dict.
    let announce = torrent
        .get("announce")
        .and_then(|a| a.str())
        .expect("announce");
    assert_eq!(announce, format!("{}/announce", node.base_url()));
    let url_list: Vec<String> = match torrent.get("url-list").expect("url-list") {
        Bencode::List(l) => l.iter().filter_map(|u| u.str()).collect(),
        other => vec![other.str().expect("url-list string")],
    };
    assert!(
        url_list
            .iter()
            .any(|u| u.starts_with(&format!("{}/files/{ih}", node.base_url()))),
        "url-list {url_list:?} has no web seed on the node"
    );
    assert!(info.get("url-list").is_none() && info.get("announce").is_none());
}

#[test]
fn aria2c_fetches_by_magnet() {
    let dir = tempdir();
    let (mut node, lib) = seeded_node(dir.path(), localhost(), BASE_CONFIG);
    let item = node.item("show 2.ogg");
    let ih = infohash_of(&item);
    node.wait_seeder(&ih);
    let magnet = item["magnet"].as_str().expect("magnet field").to_string();

    let out = dir.path().join("aria2c-magnet");
    let run = aria2c(&magnet, &out, CLIENT_TIMEOUT);
    assert!(
        run.status.is_some_and(|s| s.success()),
        "aria2c by magnet: {:?}",
        run.status
    );
    assert_same_file(&out.join("show 2.ogg"), &lib.join("show 2.ogg"));
    // A magnet has no web seed for aria2c: the bytes came over BitTorrent from the node.
    wait_uploaded(&mut node, 5 * MIB);
    node.assert_alive();
}

#[test]
fn aria2c_fetches_by_torrent_url() {
    let dir = tempdir();
    let (mut node, lib) = seeded_node(dir.path(), localhost(), BASE_CONFIG);
    let ih = infohash_of(&node.item("show 1.mp3"));
    node.wait_seeder(&ih);

    let out = dir.path().join("aria2c-torrent");
    let run = aria2c(&torrent_url(&node, &ih), &out, CLIENT_TIMEOUT);
    assert!(
        run.status.is_some_and(|s| s.success()),
        "aria2c by .torrent URL: {:?}",
        run.status
    );
    assert_same_file(&out.join("show 1.mp3"), &lib.join("show 1.mp3"));
    node.assert_alive();
}

#[test]
fn aria2c_fetches_from_web_seed_alone() {
    let dir = tempdir();
    let config = "[scan]\nrescan_secs = 1\n\n[swarm]\nenabled = false\ndht = false\nlsd = false\n";
    let (mut node, lib) = seeded_node(dir.path(), localhost(), config);
    // No BitTorrent listener at all.
    assert!(
        TcpStream::connect_timeout(
            &SocketAddr::new(localhost(), node.peer_port),
            Duration::from_secs(2)
        )
        .is_err(),
        "swarm.enabled = false, yet something listens on the peer port {}",
        node.peer_port
    );
    let ih = infohash_of(&node.item("show 2.ogg"));

    let out = dir.path().join("aria2c-webseed");
    let run = aria2c(&torrent_url(&node, &ih), &out, CLIENT_TIMEOUT);
    assert!(
        run.status.is_some_and(|s| s.success()),
        "aria2c through the web seed: {:?}",
        run.status
    );
    assert_same_file(&out.join("show 2.ogg"), &lib.join("show 2.ogg"));
    node.assert_alive();
}

/// transmission 3.00 ignores tracker peers on 127.0.0.0/8, so these tests put the node's HTTP
/// side (tracker, web seed) on the machine's LAN address.
fn transmission_host() -> IpAddr {
    IpAddr::V4(lan_ipv4().expect(
        "transmission-cli tests need a non-loopback IPv4 address (transmission 3.00 drops \
         127.0.0.0/8 peers from trackers)",
    ))
}

#[test]
fn transmission_fetches_by_magnet() {
    let dir = tempdir();
    let (mut node, lib) = seeded_node(dir.path(), transmission_host(), BASE_CONFIG);
    let item = node.item("show 1.mp3");
    let ih = infohash_of(&item);
    node.wait_seeder(&ih);
    let magnet = item["magnet"].as_str().expect("magnet field").to_string();
    let want = std::fs::read(lib.join("show 1.mp3")).unwrap();

    let run = transmission(
        &magnet,
        &dir.path().join("transmission-magnet"),
        "show 1.mp3",
        &want,
        CLIENT_TIMEOUT,
    );
    assert!(
        run.done_script_ran,
        "transmission's done script did not run"
    );
    assert_same_file(&run.file, &lib.join("show 1.mp3"));
    node.assert_alive();
}

#[test]
fn transmission_fetches_by_torrent_url() {
    let dir = tempdir();
    let (mut node, lib) = seeded_node(dir.path(), transmission_host(), BASE_CONFIG);
    let ih = infohash_of(&node.item("show 2.ogg"));
    node.wait_seeder(&ih);
    let want = std::fs::read(lib.join("show 2.ogg")).unwrap();

    let run = transmission(
        &torrent_url(&node, &ih),
        &dir.path().join("transmission-torrent"),
        "show 2.ogg",
        &want,
        CLIENT_TIMEOUT,
    );
    assert!(
        run.done_script_ran,
        "transmission's done script did not run"
    );
    assert_same_file(&run.file, &lib.join("show 2.ogg"));
    node.assert_alive();
}
