//! Tags and duration of a real audio file show up in /api/library.

mod common;

use common::*;

#[test]
fn tags_and_duration_of_a_real_mp3() {
    let dir = tempdir();
    let lib = dir.path().join("library");
    make_tagged_mp3(&lib.join("morning.mp3"), "Morning Show", "Radio Test", 5);
    write_random(&lib.join("untagged.mp3"), MIB);
    let mut node = Node::start(dir.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(2);

    let item = node.item("morning.mp3");
    assert_eq!(item["title"], "Morning Show", "{item}");
    assert_eq!(item["artist"], "Radio Test", "{item}");
    let duration = item["duration_secs"]
        .as_f64()
        .unwrap_or_else(|| panic!("no duration_secs in {item}"));
    assert!(
        (4.5..=5.6).contains(&duration),
        "duration_secs {duration} is not about 5: {item}"
    );
    assert_eq!(item["mime"], "audio/mpeg", "{item}");
    let size = std::fs::metadata(lib.join("morning.mp3")).unwrap().len();
    assert_eq!(item["size"].as_u64(), Some(size), "{item}");

    // Random bytes carry no tags: the entry is still listed, with no title or artist invented.
    let untagged = node.item("untagged.mp3");
    assert_eq!(untagged["size"].as_u64(), Some(MIB), "{untagged}");
    assert!(
        untagged["artist"].is_null() || untagged["artist"] == "",
        "{untagged}"
    );
    node.assert_alive();
}
