//! A USB stick pulled out and put back while the node runs: its items leave the library,
//! their torrents are paused rather than forgotten, and when it returns nothing is hashed
//! again and a real client downloads the file with the right bytes. The config page shows
//! sticks by name, and a listener is told when an episode goes offline with its stick.

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

/// USB sticks by name: a folder copied into the sticks' folder (`usb_root`) is a stick
/// plugged in: within seconds it is shared and shown by its label with its audio files; its
/// switch stops and resumes sharing it, remembered across a restart; pulled out, the home
/// screen says which stick and how many episodes wait for it. No path is ever typed.
#[test]
fn usb_sticks_are_shared_and_shown_by_name() {
    let tmp = tempdir();
    let usb = tmp.path().join("usb");
    fs::create_dir_all(&usb).unwrap();
    let config = format!("usb_root = \"{}\"\n{BASE_CONFIG}", usb.display());
    let mut node = Node::start(tmp.path(), &[], &config);
    node.wait_healthy(0);
    let cookies = {
        let mut op = Operator::new(&node);
        op.setup("Radio USB");
        op.cookies.clone()
    };
    // The operator's phone, logged in, on the node as it runs now.
    fn phone<'a>(node: &'a Node, cookies: &[(String, String)]) -> Operator<'a> {
        let mut op = Operator::new(node);
        op.cookies = cookies.to_vec();
        op
    }
    let items = |want: usize| {
        move |n: &Node| {
            let have = n.library().len();
            (have == want).then_some(()).ok_or(format!("{have} items"))
        }
    };

    // Plugged in: the stick's folder appears at once, as a mount does.
    let staging = tmp.path().join("staging");
    make_tagged_mp3(&staging.join("show 1.mp3"), "Show One", "Radio USB", 2);
    make_tagged_mp3(
        &staging.join("shows/show 2.mp3"),
        "Show Two",
        "Radio USB",
        2,
    );
    // A file that cannot be shared: listed on the stick's row with why, the others fine.
    fs::write(staging.join("shows/broken.mp3"), b"").unwrap();
    fs::rename(&staging, usb.join("VKMUSICA")).unwrap();
    node.wait_until("the stick's two files", Duration::from_secs(10), items(2));
    let storage = phone(&node, &cookies).get("/admin/storage").text();
    assert!(storage.contains("<b>VKMUSICA</b>"), "{}", short(&storage));
    assert!(
        storage.contains("2 audio files, shared"),
        "{}",
        short(&storage)
    );
    assert!(
        storage.contains("1 file was skipped: see why")
            && storage.contains("<span class=\"path\">shows/broken.mp3</span>"),
        "{}",
        short(&storage)
    );
    assert!(
        phone(&node, &cookies)
            .get("/admin")
            .text()
            .contains("VKMUSICA"),
        "not on the home screen"
    );

    // Stopped: its episodes leave the station, and it stays stopped after a restart.
    fn switch(node: &Node, cookies: &[(String, String)], label: &str, share: &str) -> Resp {
        let mut op = phone(node, cookies);
        let csrf = op.csrf();
        op.post(
            "/admin/usb",
            &[("csrf", &csrf), ("label", label), ("share", share)],
        )
    }
    let r = switch(&node, &cookies, "VKMUSICA", "off");
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    node.wait_until("the stopped stick gone", Duration::from_secs(10), items(0));
    let storage = phone(&node, &cookies).get("/admin/storage?done=usb").text();
    assert!(
        storage.contains("not shared: 2 episodes offline"),
        "{}",
        short(&storage)
    );
    assert!(storage.contains("Share again"), "{}", short(&storage));
    assert!(node.stop().success());
    node.restart();
    node.wait_healthy(0);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(node.library().len(), 0, "shared again after a restart");

    // Resumed; then pulled out.
    let r = switch(&node, &cookies, "VKMUSICA", "on");
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    node.wait_until("the stick shared again", Duration::from_secs(10), items(2));
    fs::rename(usb.join("VKMUSICA"), tmp.path().join("away")).unwrap();
    node.wait_until(
        "the pulled stick's items offline",
        Duration::from_secs(10),
        items(0),
    );
    let home = phone(&node, &cookies).get("/admin").text();
    assert!(
        home.contains(
            "USB stick VKMUSICA removed: its 2 episodes are offline until it comes back."
        ),
        "{}",
        &home[home.find("id=\"warnings\"").unwrap_or(0)..]
            .chars()
            .take(1500)
            .collect::<String>()
    );

    // Only a stick's name is taken, never a path.
    let r = switch(&node, &cookies, "../data", "off");
    assert_eq!(r.status, 422);
    assert!(r.text().contains("That is not a USB stick of this box."));
    node.assert_alive();
}

/// A stick pulled out while someone listens (Chromium on the listen page): the episode
/// already playing goes on, and another of the stick's episodes, chosen after the pull,
/// says it is offline instead of waiting in silence.
#[test]
fn a_listener_hears_on_and_is_told_when_a_stick_is_pulled() {
    let tmp = tempdir();
    let usb = tmp.path().join("usb");
    let stick = usb.join("ARCHIVO");
    make_tagged_mp3(&stick.join("one.mp3"), "Primer programa", "Radio USB", 20);
    make_tagged_mp3(&stick.join("two.mp3"), "Segundo programa", "Radio USB", 20);
    let config = format!("usb_root = \"{}\"\n{BASE_CONFIG}", usb.display());
    let mut node = Node::start(tmp.path(), &[], &config);
    node.wait_healthy(2);
    let arg = |k: &str, v: String| format!("--{k}={v}");
    run_js(
        "listen_offline.mjs",
        &[
            arg("base", node.base_url()),
            arg("playing", "Primer programa".into()),
            arg("other", "Segundo programa".into()),
            arg("pull", stick.display().to_string()),
            arg("away", tmp.path().join("away").display().to_string()),
            arg(
                "offline",
                message("en", "listen.ftl", "listen-js-episode-offline"),
            ),
        ],
        Duration::from_secs(120),
    );
    node.assert_alive();
}
