//! Files are hashed once: a restart rehashes nothing, a kill in the middle of hashing loses only
//! the files not yet reported done, and changes to the library are picked up while running.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::time::{Duration, Instant};

fn infohashes(node: &Node) -> BTreeSet<(String, String)> {
    node.library()
        .iter()
        .map(|item| {
            (
                item["name"].as_str().unwrap_or_default().to_string(),
                item["infohash"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
            )
        })
        .collect()
}

fn hashed_since_start(h: &Value) -> u64 {
    num(h, "/library/hashed_since_start")
        .unwrap_or_else(|| panic!("no library.hashed_since_start in {h}"))
}

#[test]
fn restart_rehashes_nothing_and_changes_are_picked_up() {
    let dir = tempdir();
    let lib = dir.path().join("library");
    write_random(&lib.join("show 1.mp3"), 3 * MIB);
    write_random(&lib.join("show 2.mp3"), 5 * MIB);
    write_random(&lib.join("interviews/guest.flac"), MIB);
    let mut node = Node::start(dir.path(), std::slice::from_ref(&lib), BASE_CONFIG);

    let h = node.wait_healthy(3);
    assert_eq!(
        hashed_since_start(&h),
        3,
        "first start hashes every file: {h}"
    );
    let before = infohashes(&node);
    assert_eq!(before.len(), 3, "{before:?}");

    node.stop();
    node.restart();
    let h = node.wait_healthy(3);
    assert_eq!(hashed_since_start(&h), 0, "restart rehashed files: {h}");
    assert_eq!(
        infohashes(&node),
        before,
        "library changed across a restart"
    );
    // Still 0 a few rescans later.
    std::thread::sleep(Duration::from_secs(3));
    let h = node.health().unwrap();
    assert_eq!(hashed_since_start(&h), 0, "rescans rehashed files: {h}");

    // A new file (moved in whole) appears within a few seconds and is the only one hashed.
    let staged = dir.path().join("staging.mp3");
    write_random(&staged, 2 * MIB);
    fs::rename(&staged, lib.join("new show.mp3")).unwrap();
    let h = node.wait_until(
        "the new file in /api/library",
        Duration::from_secs(20),
        |n| {
            let h = n.health().map_err(|e| e.to_string())?;
            let listed = n.find_item("new show.mp3").is_some();
            if listed && num(&h, "/library/items") == Some(4) && hashed_since_start(&h) == 1 {
                Ok(h)
            } else {
                Err(format!("listed: {listed}; health {h}"))
            }
        },
    );
    assert_eq!(hashed_since_start(&h), 1, "{h}");
    let new_item = node.item("new show.mp3");
    assert_eq!(new_item["size"].as_u64(), Some(2 * MIB), "{new_item}");

    // A deleted file disappears, and its web seed URL stops serving it.
    let gone = node.item("show 1.mp3");
    let gone_ih = gone["infohash"].as_str().unwrap().to_ascii_lowercase();
    fs::remove_file(lib.join("show 1.mp3")).unwrap();
    node.wait_until(
        "the deleted file to leave /api/library",
        Duration::from_secs(20),
        |n| {
            let h = n.health().map_err(|e| e.to_string())?;
            let listed = n.find_item("show 1.mp3").is_some();
            if !listed && num(&h, "/library/items") == Some(3) {
                Ok(())
            } else {
                Err(format!("listed: {listed}; health {h}"))
            }
        },
    );
    let r = node.get(&format!("/files/{gone_ih}/show%201.mp3"));
    assert_eq!(r.status, 404, "web seed of a deleted file");
    // A listener who followed an old download link gets the 404 page in the station's
    // language (Spanish by default), not a bare line of English.
    assert!(
        r.text().contains("<html lang=\"es\"") && r.text().contains("Página no encontrada"),
        "{}",
        r.text()
    );
    assert_eq!(
        hashed_since_start(&node.health().unwrap()),
        1,
        "deleting a file rehashed others"
    );
    node.assert_alive();
}

#[test]
fn sigkill_mid_hash_keeps_what_was_reported_done() {
    const FILES: u64 = 60;
    let dir = tempdir();
    let lib = dir.path().join("library");
    for i in 0..FILES {
        write_random(&lib.join(format!("episode {i:02}.mp3")), 4 * MIB);
    }
    let mut node = Node::start(dir.path(), std::slice::from_ref(&lib), BASE_CONFIG);

    // Poll fast and kill as soon as a few files are reported hashed, well before the end.
    let deadline = Instant::now() + READY_TIMEOUT;
    let done_at_kill = loop {
        if let Some(status) = node.exited() {
            panic!("streamp2p exited while hashing: {status}");
        }
        if let Ok(h) = node.health() {
            let done = num(&h, "/library/hashing/files_done").unwrap_or(0);
            let total = num(&h, "/library/hashing/files_total").unwrap_or(0);
            if done >= 2 && done < total {
                node.kill();
                break done;
            }
            assert!(
                done < FILES,
                "hashing finished before the test could kill the node: {h}"
            );
        }
        assert!(
            Instant::now() < deadline,
            "never saw 2 <= files_done < files_total"
        );
        std::thread::sleep(Duration::from_millis(20));
    };

    node.restart();
    let h = node.wait_healthy(FILES);
    let rehashed = hashed_since_start(&h);
    eprintln!(
        "SIGKILL after {done_at_kill} of {FILES} files reported hashed; restart hashed {rehashed}"
    );
    assert!(
        rehashed > 0 && rehashed < FILES,
        "after SIGKILL mid-hash, the restart hashed {rehashed} of {FILES} files: {h}"
    );
    assert!(
        rehashed <= FILES - done_at_kill,
        "{done_at_kill} files were reported hashed before SIGKILL, yet the restart hashed \
         {rehashed} of {FILES}: an acknowledged index entry was lost. {h}"
    );
    let ihs = infohashes(&node);
    assert_eq!(ihs.len() as u64, FILES, "{ihs:?}");
    let distinct: BTreeSet<_> = ihs.iter().map(|(_, ih)| ih.clone()).collect();
    assert_eq!(
        distinct.len() as u64,
        FILES,
        "files with different bytes share an infohash"
    );
    node.assert_alive();
}

/// A data dir from before the index kept each file's SHA-256 (issue 13): the node starts with
/// every file listed from its record, reads each once more to complete the record (same
/// infohash, nothing reported as a problem), the feed and the library then give the digest,
/// and the restart after that reads nothing.
#[test]
fn index_from_before_sha256_is_completed_once() {
    let dir = tempdir();
    let lib = dir.path().join("library");
    write_random(&lib.join("old 1.mp3"), 3 * MIB);
    write_random(&lib.join("old 2.mp3"), MIB);
    let mut node = Node::start(dir.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(2);
    let before = infohashes(&node);
    node.stop();

    // Every index record as the older version wrote it: the same JSON without "sha256".
    {
        let db = sled::open(node.data_dir.join("db")).unwrap();
        let index = db.open_tree("index").unwrap();
        let mut records = 0;
        for kv in index.iter() {
            let (k, v) = kv.unwrap();
            let mut rec: Value = serde_json::from_slice(&v).unwrap();
            let digest = rec.as_object_mut().unwrap().remove("sha256");
            assert!(digest.is_some_and(|d| d.is_string()), "{rec}");
            index.insert(k, serde_json::to_vec(&rec).unwrap()).unwrap();
            records += 1;
        }
        assert_eq!(records, 2);
        db.flush().unwrap();
    }

    node.restart();
    let h = node.wait_until("both records completed", Duration::from_secs(60), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        let done = num(&h, "/library/hashing/files_done");
        if hashed_since_start(&h) == 2 && done == num(&h, "/library/hashing/files_total") {
            Ok(h)
        } else {
            Err(h.to_string())
        }
    });
    assert_eq!(num(&h, "/library/items"), Some(2), "{h}");
    assert_eq!(
        infohashes(&node),
        before,
        "the same bytes, the same infohashes"
    );
    let problems = node.get("/api/library/problems").json();
    assert_eq!(problems, serde_json::json!([]), "{problems}");
    let episodes = feed_episodes(&node.get("/feed.xml").text());
    for name in ["old 1.mp3", "old 2.mp3"] {
        let file = lib.join(name);
        assert_eq!(
            node.item(name)["integrity"].as_str(),
            Some(sri_sha256(&file).as_str())
        );
        let ep = episodes
            .iter()
            .find(|e| e.title == name)
            .unwrap_or_else(|| panic!("{name} not in the feed: {episodes:?}"));
        assert_integrity_covers_every_source(ep, &file);
    }

    node.stop();
    node.restart();
    let h = node.wait_healthy(2);
    assert_eq!(
        hashed_since_start(&h),
        0,
        "completed records read again: {h}"
    );
    node.assert_alive();
}
