//! Malformed tracker requests, odd HTTP requests, path traversal and files that must not be
//! seeded: the node answers each properly and keeps serving.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

const PEER_ID: &str = "-TS0001-abcdefghijkl";

fn assert_still_serving(node: &mut Node, after: &str) {
    node.assert_alive();
    let h = node
        .health()
        .unwrap_or_else(|e| panic!("/api/health after {after}: {e}"));
    assert_eq!(h["status"], "ok", "health after {after}: {h}");
}

fn one_file_node(root: &Path) -> (Node, PathBuf, String) {
    let lib = root.join("library");
    write_random(&lib.join("tune.mp3"), 2 * MIB + 123);
    let mut node = Node::start(root, std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(1);
    let ih = node.item("tune.mp3")["infohash"]
        .as_str()
        .expect("infohash")
        .to_ascii_lowercase();
    (node, lib, ih)
}

#[test]
fn tracker_answers_malformed_announces_with_failure_reason() {
    let dir = tempdir();
    let (mut node, _lib, ih) = one_file_node(dir.path());
    let ih_enc = urlencode_all(&infohash_bytes(&ih));
    let rest = format!("peer_id={PEER_ID}&uploaded=0&downloaded=0&left=0&compact=1");

    // A well-formed announce works (control).
    let r = node.get(&format!("/announce?info_hash={ih_enc}&port=51413&{rest}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = bdecode(&r.body);
    assert!(
        v.get("failure reason").is_none(),
        "valid announce failed: {}",
        r.text()
    );
    assert!(
        v.get("interval").and_then(Bencode::int).is_some(),
        "{}",
        r.text()
    );
    assert!(v.get("peers").is_some(), "{}", r.text());

    let short_ih = urlencode_all(&infohash_bytes(&ih)[..19]);
    let long_ih = format!("{ih_enc}%00");
    let bad = [
        "/announce".to_string(),
        "/announce?".to_string(),
        format!("/announce?port=51413&{rest}"),
        format!("/announce?info_hash=&port=51413&{rest}"),
        format!("/announce?info_hash={short_ih}&port=51413&{rest}"),
        format!("/announce?info_hash={long_ih}&port=51413&{rest}"),
        format!("/announce?info_hash={ih_enc}&port=notaport&{rest}"),
        format!("/announce?info_hash={ih_enc}&port=99999&{rest}"),
        format!("/announce?info_hash={ih_enc}&port=-1&{rest}"),
        format!("/announce?info_hash={ih_enc}&{rest}"),
        "/announce?%ZZ%%garbage&&==&info_hash=%G0".to_string(),
        "/announce?info_hash=%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%".to_string(),
    ];
    for target in &bad {
        let r = node
            .request("GET", target, &[])
            .unwrap_or_else(|e| panic!("GET {target}: {e}"));
        assert_eq!(r.status, 200, "GET {target}: {}", r.text());
        assert!(
            r.body
                .windows(b"14:failure reason".len())
                .any(|w| w == b"14:failure reason"),
            "GET {target}: no bencoded failure reason in {:?}",
            r.text()
        );
        let v = bdecode(&r.body);
        assert!(v.get("failure reason").is_some(), "GET {target}: {v:?}");
        assert_still_serving(&mut node, target);
    }
}

#[test]
fn torrent_and_file_endpoints_handle_odd_requests() {
    let dir = tempdir();
    let (mut node, lib, ih) = one_file_node(dir.path());
    let data = fs::read(lib.join("tune.mp3")).unwrap();
    let len = data.len();

    // Torrents that do not exist.
    let zeros = "0".repeat(40);
    let r = node.get(&format!("/t/{zeros}.torrent"));
    assert_eq!(r.status, 404, "/t/<zeros>.torrent");
    assert_still_serving(&mut node, "/t/<zeros>.torrent");
    for target in [
        "/t/nothex.torrent",
        "/t/.torrent",
        &format!("/t/{ih}00.torrent"),
    ] {
        let r = node.get(target);
        assert!(
            r.status == 400 || r.status == 404,
            "GET {target}: status {}",
            r.status
        );
        assert_still_serving(&mut node, target);
    }
    let r = node.get(&format!("/t/{ih}.torrent"));
    assert_eq!(r.status, 200, "the real torrent");

    // The web seed: whole file, HEAD, ranges.
    let item = node.item("tune.mp3");
    let web_seed = item["web_seed"].as_str().expect("web_seed field");
    let file_path = path_of(web_seed);
    assert!(
        file_path.starts_with(&format!("/files/{ih}/")),
        "web_seed {web_seed:?}"
    );
    let full = node.get(&file_path);
    assert_eq!(full.status, 200);
    assert_same_bytes(&full.body, &data, "GET of the web seed");
    assert!(full.header("etag").is_some(), "no ETag: {:?}", full.headers);
    assert!(
        full.header("last-modified").is_some(),
        "no Last-Modified: {:?}",
        full.headers
    );

    let head = node.request("HEAD", &file_path, &[]).unwrap();
    assert_eq!(head.status, 200, "HEAD");
    assert_eq!(
        head.header("content-length"),
        Some(len.to_string().as_str()),
        "HEAD Content-Length: {:?}",
        head.headers
    );
    assert!(head.body.is_empty());

    let r = node
        .request("GET", &file_path, &[("Range", "bytes=100-199")])
        .unwrap();
    assert_eq!(r.status, 206, "Range bytes=100-199");
    assert_same_bytes(&r.body, &data[100..200], "Range bytes=100-199");
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 100-199/{len}").as_str()),
        "{:?}",
        r.headers
    );

    let r = node
        .request("GET", &file_path, &[("Range", "bytes=-100")])
        .unwrap();
    assert_eq!(r.status, 206, "Range bytes=-100");
    assert_same_bytes(&r.body, &data[len - 100..], "Range bytes=-100");

    let tail_from = len - 1000;
    let r = node
        .request(
            "GET",
            &file_path,
            &[("Range", &format!("bytes={tail_from}-"))],
        )
        .unwrap();
    assert_eq!(r.status, 206, "open-ended Range");
    assert_same_bytes(&r.body, &data[tail_from..], "open-ended Range");

    let r = node
        .request("GET", &file_path, &[("Range", "bytes=999999999-")])
        .unwrap();
    assert_eq!(r.status, 416, "Range past the end");
    assert_still_serving(&mut node, "Range past the end");

    // Unknown infohash on the web seed.
    let r = node.get(&format!("/files/{zeros}/tune.mp3"));
    assert_eq!(r.status, 404, "web seed of an unknown infohash");

    // Path traversal, plain and percent-encoded: never the file, never 200.
    let traversals = [
        format!("/files/{ih}/../../etc/passwd"),
        format!("/files/{ih}/../../../../../../etc/passwd"),
        format!("/files/{ih}/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
        format!("/files/{ih}/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd"),
        format!("/files/{ih}/..%2f..%2f..%2f..%2fetc%2fpasswd"),
        format!("/files/{ih}/%2e%2e%5c%2e%2e%5cetc%5cpasswd"),
        format!("/files/{ih}/%252e%252e%252fetc%252fpasswd"),
        format!("/files/{ih}/tune.mp3/../../../etc/passwd"),
        "/files/../../etc/passwd".to_string(),
        "/files/%2e%2e/%2e%2e/etc/passwd".to_string(),
        format!("/files/{ih}//etc/passwd"),
        format!("/files/{ih}/%2fetc%2fpasswd"),
        format!("/t/..%2f..%2fetc%2fpasswd%00{ih}.torrent"),
    ];
    for target in &traversals {
        let r = node
            .request("GET", target, &[])
            .unwrap_or_else(|e| panic!("GET {target}: {e}"));
        assert!(
            r.status == 400 || r.status == 404,
            "GET {target}: status {} (want 400 or 404)",
            r.status
        );
        assert!(
            !r.text().contains("root:"),
            "GET {target} leaked /etc/passwd"
        );
        assert_still_serving(&mut node, target);
    }
}

#[test]
fn files_that_must_not_be_seeded_are_skipped() {
    let dir = tempdir();
    let lib = dir.path().join("library");
    let outside = dir.path().join("outside");
    write_random(&lib.join("good.mp3"), MIB);
    write_random(&lib.join("sub/deep.ogg"), MIB);
    fs::write(lib.join("empty.mp3"), b"").unwrap();
    write_random(&lib.join(".hidden.mp3"), MIB);
    write_random(&lib.join("partial.mp3.part"), MIB);
    write_random(&lib.join("notes.txt"), 1000);
    write_random(&outside.join("secret.mp3"), MIB);
    symlink(outside.join("secret.mp3"), lib.join("outside.mp3")).unwrap();
    symlink(lib.join("does-not-exist.mp3"), lib.join("dangling.mp3")).unwrap();

    let mut node = Node::start(dir.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    let h = node.wait_healthy(2);
    // A couple more rescans, then look again.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let h2 = node.health().unwrap();
    assert_eq!(num(&h2, "/library/items"), Some(2), "{h} then {h2}");

    let names: Vec<String> = node
        .library()
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().any(|n| n.ends_with("good.mp3")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with("deep.ogg")), "{names:?}");
    for skipped in [
        "empty.mp3",
        ".hidden.mp3",
        "partial.mp3.part",
        "notes.txt",
        "outside.mp3",
        "secret.mp3",
        "dangling.mp3",
    ] {
        assert!(
            !names.iter().any(|n| n.contains(skipped)),
            "{skipped} is listed: {names:?}"
        );
    }
    let problems = node.get("/api/library/problems");
    assert_eq!(problems.status, 200);
    assert!(
        problems.json().is_array(),
        "problems is not a list: {}",
        problems.text()
    );
    assert_still_serving(&mut node, "the scan of odd files");
}
