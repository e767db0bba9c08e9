//! Power cuts: the node is killed (SIGKILL) at random moments of its start and of hashing a
//! library that grows between cuts, many times over one data dir. After every restart the
//! database opens and every file the library listed before a cut is listed again at once, with
//! the same infohash (so it is not hashed again); after the last one each file is hashed, and
//! none twice. The operator's settings are written (the station description, through the
//! config page) as fast as the page confirms them until each cut: after the restart the
//! page shows the last confirmed one (or one sent later whose confirmation the cut ate).
//!
//! `STREAMP2P_POWER_CUTS=N` sets the number of cuts: 5 by default (CI), 100 for the long run.

mod common;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use common::*;
use serde_json::Value;

/// New files added between cuts, so hashing is under way at many cuts (each file is one
/// flushed database write).
const NEW_FILES_PER_CUT: u64 = 96;
const FILE_SIZE: u64 = 16 * 1024;
/// Longest run from a start to its cut: the start (database open, first scan), hashing, and
/// some time after.
const MAX_RUN_MS: u64 = 1200;
const CONFIG: &str = "[scan]\nrescan_secs = 1\n\n[swarm]\nenabled = false\n\n\
                      [webtorrent]\nenabled = false\n";

/// What /api/library lists (name -> infohash), or None while the node does not serve.
fn listed(node: &Node) -> Option<BTreeMap<String, String>> {
    let r = node.request("GET", "/api/library", &[]).ok()?;
    if r.status != 200 {
        return None;
    }
    let Value::Array(items) = r.json() else {
        return None;
    };
    items
        .iter()
        .map(|i| Some((i["name"].as_str()?.into(), i["infohash"].as_str()?.into())))
        .collect()
}

#[test]
fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let cuts: u64 = std::env::var("STREAMP2P_POWER_CUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    let mut acked: BTreeMap<String, String> = BTreeMap::new();
    let mut files = 0u64;
    let mut node: Option<Node> = None;
    let (mut at_start, mut mid_hash) = (0, 0);
    // The config page's session, and the description writes sent and confirmed.
    let mut cookies: Vec<(String, String)> = Vec::new();
    let (mut sent, mut confirmed) = (0u64, 0u64);
    let lib_text = lib.display().to_string();
    for cut in 0..cuts {
        // New files only once the last ones were all listed: hashing is under way at the next
        // start either way, and the backlog stays bounded.
        if acked.len() as u64 >= files {
            for _ in 0..NEW_FILES_PER_CUT {
                write_random(&lib.join(format!("show {files:04}.mp3")), FILE_SIZE);
                files += 1;
            }
        }
        let n = match node.as_mut() {
            None => node.insert(Node::start(tmp.path(), std::slice::from_ref(&lib), CONFIG)),
            Some(n) => {
                n.restart();
                n
            }
        };
        // Until the cut, at a random moment: the first answer of this run must list every
        // file listed before any earlier cut, with the same infohash, and the page must show
        // the last description it confirmed.
        let until = Instant::now() + Duration::from_millis(fastrand::u64(0..MAX_RUN_MS));
        let mut seen = None;
        let mut settings_checked = false;
        loop {
            if let Some(now) = listed(n) {
                if seen.is_none() {
                    for (name, ih) in &acked {
                        assert_eq!(
                            now.get(name),
                            Some(ih),
                            "cut {cut}: {name} was listed before a cut, and is missing or \
                             changed after it"
                        );
                    }
                }
                seen = Some(now.len() as u64);
                acked.extend(now);
                let mut op = Operator::new(n);
                op.cookies = cookies.clone();
                if cookies.is_empty() {
                    op.setup("Radio Power Cut");
                    cookies = op.cookies.clone();
                }
                let page = op.get("/admin/settings");
                if page.status == 200 {
                    let shown = Operator::description_write(&page.text());
                    if !settings_checked {
                        assert!(
                            shown >= confirmed && shown <= sent,
                            "cut {cut}: the page shows write {shown}; {confirmed} was confirmed, \
                             {sent} sent"
                        );
                        settings_checked = true;
                    }
                    let csrf = Operator::hidden(&page.text(), "csrf");
                    sent += 1;
                    let text = format!("write {sent}");
                    let r = op.post(
                        "/admin/settings",
                        &[
                            ("csrf", &csrf),
                            ("station_name", "Radio Power Cut"),
                            ("station_description", &text),
                            ("audio", "none"),
                            ("bitrate_kbps", "128"),
                            ("library", &lib_text),
                            ("upload_limit_kib", "0"),
                            ("max_upload_mb", "500"),
                        ],
                    );
                    if r.status == 303 {
                        confirmed = sent;
                    }
                }
            }
            if Instant::now() >= until {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        n.kill();
        match seen {
            None => at_start += 1,
            Some(s) if s < files => mid_hash += 1,
            Some(_) => {}
        }
    }

    let Some(mut n) = node else {
        return;
    };
    n.restart();
    let h = n.wait_healthy(files);
    let hashed = num(&h, "/library/hashed_since_start").unwrap_or(u64::MAX);
    eprintln!(
        "{cuts} cuts ({at_start} before serving, {mid_hash} while hashing), {files} files, {} listed before the last cut, \
         {hashed} hashed after it; {confirmed} settings writes confirmed",
        acked.len()
    );
    assert!(
        confirmed > 0,
        "no settings write was confirmed before any cut"
    );
    assert!(
        hashed <= files - acked.len() as u64,
        "{} files were listed before the last cut, yet {hashed} of {files} were hashed after it",
        acked.len()
    );
    let all = listed(&n).unwrap_or_default();
    assert_eq!(all.len() as u64, files, "{all:?}");
    for (name, ih) in &acked {
        assert_eq!(all.get(name), Some(ih), "{name} changed infohash");
    }
    n.assert_alive();
}
