//! Recordings never fill the card: below the free space the station keeps, the oldest
//! recordings go first, the ones the operator kept or published never do, nothing else is
//! touched, and the stream goes on throughout.

mod common;

use std::{path::Path, process::Command, time::Duration};

use common::*;

const DAYS: [&str; 4] = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"];

fn name(day: &str) -> String {
    format!("{day} 10.00 Radio live.mp3")
}

fn config(keep_free_mb: u64) -> String {
    format!("audio = \"sine\"\n{BASE_CONFIG}\n[recording]\nkeep_free_mb = {keep_free_mb}\n")
}

/// Old recordings in the node's recordings folder, each dated by its day.
fn old_recordings(dir: &Path) {
    for day in DAYS {
        let path = dir.join(name(day));
        make_tagged_mp3(&path, &format!("Show of {day}"), "Radio", 6);
        let touched = Command::new("touch")
            .args(["-d", &format!("{day} 10:00")])
            .arg(&path)
            .status()
            .unwrap();
        assert!(touched.success());
    }
}

#[test]
fn old_recordings_go_oldest_first_and_kept_or_published_ones_stay() {
    let tmp = tempdir();
    let recordings = tmp.path().join("data/recordings");
    old_recordings(&recordings);
    let upload = tmp.path().join("data/uploads/interview.mp3");
    make_tagged_mp3(&upload, "Interview", "Radio", 6);
    // 1 MB free is always there: nothing goes while the operator chooses.
    let mut node = Node::start(tmp.path(), &[], &config(1));
    node.wait_healthy(5);
    let mut op = Operator::new(&node);
    op.setup("Radio");
    let csrf = op.csrf();
    let kept = node.item(&name(DAYS[0]))["infohash"]
        .as_str()
        .unwrap()
        .to_string();
    let published = node.item(&name(DAYS[2]))["infohash"]
        .as_str()
        .unwrap()
        .to_string();
    // The oldest is kept with the button; the third is published with its own title.
    for (ih, title, keep) in [(&kept, "", "on"), (&published, "Best of November", "")] {
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("infohash", ih.as_str()),
            ("title", title),
            ("description", ""),
        ];
        if !keep.is_empty() {
            form.push(("keep", keep));
        }
        let r = op.post("/admin/item", &form);
        assert_eq!(r.status, 303, "{}", r.text());
    }
    // The keep box shows ticked on the kept recording only.
    let page = op.get("/admin/episodes").text();
    assert_eq!(
        page.matches("name=\"keep\" value=\"on\" checked").count(),
        1
    );

    // Now the station asks for more free space than the disk has.
    node.stop();
    std::fs::write(
        &node.config_path,
        without_port_mapping(&config(100_000_000)),
    )
    .unwrap();
    node.restart();
    node.wait_until(
        "the unkept old recordings removed",
        Duration::from_secs(60),
        |_| {
            let gone = [DAYS[1], DAYS[3]]
                .iter()
                .all(|d| !recordings.join(name(d)).exists());
            gone.then_some(()).ok_or_else(|| "still there".to_string())
        },
    );
    for day in [DAYS[0], DAYS[2]] {
        assert!(
            recordings.join(name(day)).exists(),
            "{day} was kept or published"
        );
    }
    assert!(upload.exists(), "uploads are never removed");
    // Oldest first, as the log says.
    let log = std::fs::read_to_string(&node.log_path).unwrap();
    let at = |day: &str| {
        log.find(&format!("{}/{}", recordings.display(), name(day)))
            .unwrap_or_else(|| panic!("no removal of {day} in the log"))
    };
    assert!(at(DAYS[1]) < at(DAYS[3]), "the older went first");
    // Nothing more may go: the dashboard's numbers say the card fills within the day.
    let h = node.wait_until("the keeper's report", Duration::from_secs(20), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        (h["recordings"]["full_in_hours"].is_u64()
            && h["recordings"]["removed"].as_u64() >= Some(2))
        .then_some(h.clone())
        .ok_or(h["recordings"].to_string())
    });
    assert_eq!(h["recordings"]["paused"], false, "{h}");
    // The stream went on through it all.
    node.wait_live_state("on_air", Duration::from_secs(10));
    let heard = decode_audio(&format!("{}/live.mp3", node.base_url()), 2);
    let hz = tone_hz(&heard[heard.len() / 2..]);
    assert!((hz - 440.0).abs() < 10.0, "{hz} Hz");
    node.assert_alive();
}
