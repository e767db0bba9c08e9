//! A USB stick pulled out and put back while the node runs: its items leave the library,
//! their torrents are paused rather than forgotten, and when it returns nothing is hashed
//! again and a real client downloads the file with the right bytes.

mod common;

use std::{fs, time::Duration};

use common::*;

#[test]
fn pulled_stick_comes_back_without_rehash() {
    let tmp = tempdir();
    let usb = tmp.path().join("usb");
    write_random(&usb.join("shows/a.mp3"), 3 * MIB);
    write_random(&usb.join("b.ogg"), MIB + 77);
    let want = sha256_file(&usb.join("shows/a.mp3"));
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&usb), BASE_CONFIG);
    node.wait_healthy(2);
    node.wait_until("both torrents seeding", Duration::from_secs(30), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (num(&h, "/swarm/seeding") == Some(2))
            .then_some(())
            .ok_or(h.to_string())
    });

    // Pulled: the mount point stays, empty.
    let away = tmp.path().join("usb-away");
    fs::rename(&usb, &away).unwrap();
    fs::create_dir(&usb).unwrap();
    let h = node.wait_until("library empty", Duration::from_secs(20), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (num(&h, "/library/items") == Some(0) && num(&h, "/swarm/seeding") == Some(0))
            .then_some(h.clone())
            .ok_or(h.to_string())
    });
    assert_eq!(
        num(&h, "/swarm/torrents"),
        Some(2),
        "paused, not dropped: {h}"
    );
    assert_eq!(node.get("/api/library").json(), serde_json::json!([]));

    // Back again.
    fs::remove_dir(&usb).unwrap();
    fs::rename(&away, &usb).unwrap();
    node.wait_until("seeding again", Duration::from_secs(20), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (num(&h, "/library/items") == Some(2) && num(&h, "/swarm/seeding") == Some(2))
            .then_some(())
            .ok_or(h.to_string())
    });
    let h = node.health().unwrap();
    assert_eq!(
        num(&h, "/library/hashed_since_start"),
        Some(2),
        "rehashed: {h}"
    );

    let item = node.item("a.mp3");
    let ih = item["infohash"].as_str().unwrap().to_string();
    node.wait_seeder(&ih);
    let dl = tmp.path().join("dl");
    let run = aria2c(
        item["magnet"].as_str().unwrap(),
        &dl,
        Duration::from_secs(90),
    );
    assert!(run.status.is_some_and(|s| s.success()), "aria2c failed");
    assert_eq!(sha256_file(&dl.join("a.mp3")), want);
    node.assert_alive();
}

/// The appliance's layout: one library root, /media/streamp2p, whose children are the
/// sticks systemd-mount mounts and removes. A stick that goes takes its folder with it
/// while the other stays; when it returns nothing is hashed again.
#[test]
fn stick_folder_under_media_root_comes_and_goes() {
    let tmp = tempdir();
    let media = tmp.path().join("media");
    write_random(&media.join("STICK_A/shows/a.mp3"), MIB);
    write_random(&media.join("STICK_B/b.ogg"), MIB + 5);
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&media), BASE_CONFIG);
    node.wait_healthy(2);

    // Unmounted: the mount point folder is gone, the root and the other stick stay.
    let away = tmp.path().join("stick-a-away");
    fs::rename(media.join("STICK_A"), &away).unwrap();
    let h = node.wait_until("one stick left", Duration::from_secs(20), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (num(&h, "/library/items") == Some(1))
            .then_some(h.clone())
            .ok_or(h.to_string())
    });
    assert_eq!(node.library()[0]["name"], "b.ogg", "{h}");

    fs::rename(&away, media.join("STICK_A")).unwrap();
    node.wait_until("both sticks back", Duration::from_secs(20), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (num(&h, "/library/items") == Some(2))
            .then_some(())
            .ok_or(h.to_string())
    });
    let h = node.health().unwrap();
    assert_eq!(
        num(&h, "/library/hashed_since_start"),
        Some(2),
        "rehashed: {h}"
    );
    node.assert_alive();
}
