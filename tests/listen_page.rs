//! The listen page in a real browser (Debian's Chromium through playwright-core) at a
//! phone's size: episodes listed with thumb-sized buttons, and a tap plays the episode.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn listen_page_plays_an_episode_on_a_phone() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("morning.mp3"), "Morning Show", "Radio Test", 20);
    write_random(&lib.join("archive.ogg"), MIB);
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(2);
    let shot = tmp.path().join("listen.png");
    let out = run_js(
        "listen_page.mjs",
        &[
            format!("--base={}", node.base_url()),
            format!("--shot={}", shot.display()),
            "--episodes=2".into(),
            "--title=Morning Show".into(),
        ],
        Duration::from_secs(150),
    );
    assert!(out.contains("ok"), "{out}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    // Kept for a person to look at (the CI log names it).
    let keep = std::env::temp_dir().join("streamp2p-listen-page.png");
    std::fs::write(&keep, &png).unwrap();
    eprintln!("screenshot: {}", keep.display());
    node.assert_alive();
}
