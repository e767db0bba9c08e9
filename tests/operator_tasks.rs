//! A volunteer runs the station from a phone: the seven everyday tasks, done in Debian's
//! Chromium only by what a person sees (roles and labels), with every tap counted
//! (`tests/js/operator_tasks.mjs`). In Spanish and English on a 390x844 phone, and once in
//! Spanish on a 320x568 one.
//!
//! The box is as a station has it: a line-in (an ALSA `file`-plugin PCM that replays a
//! tone, through the real ALSA path), a folder where USB sticks appear, and yesterday's
//! listeners in its history. Its clock is held by Debian's libfaketime at a known noon in
//! a known time zone, so "yesterday" is a known day with a known audience (the history is
//! written into the store before the node starts), never the 0 of a fresh box.

mod common;

use std::path::Path;
use std::time::Duration;

use chrono::TimeZone;
use common::*;
use streamp2p::{
    station::Sample,
    store::{Store, Tree},
};

/// Debian's libfaketime (package `faketime`), under the machine's multiarch folder.
fn libfaketime() -> String {
    std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no libfaketime.so.1: install Debian's faketime"))
        .display()
        .to_string()
}
/// The node's clock: noon of a known day, ticking from there.
const FAKE_NOW: &str = "2026-06-10 12:00:00";
/// The station's time zone, as the box's TZ: Central European, with its summer time (a
/// POSIX rule, so it needs no tzdata).
const STATION_TZ: &str = "CET-1CEST,M3.5.0,M10.5.0/3";
/// The most listeners at once yesterday (the 9th), and the quarter hour they came.
const YESTERDAY_PEAK: u64 = 14;
const YESTERDAY_PEAK_AT: &str = "20:00";

#[test]
fn seven_tasks_in_spanish_on_a_phone() {
    seven_tasks("es", 390, 844, 1);
}

#[test]
fn seven_tasks_in_english_on_a_phone() {
    seven_tasks("en", 390, 844, 2);
}

#[test]
fn seven_tasks_in_spanish_on_a_small_phone() {
    seven_tasks("es", 320, 568, 3);
}

/// The tasks in `lang` on a `width`x`height` phone. The box is on its own network
/// (10.215.`net`.2) with the phone beside it (10.215.`net`.1), as on a station's Wi-Fi: the
/// browser reaches it by that address, and Share has a real address to give.
fn seven_tasks(lang: &str, width: u32, height: u32, net: u8) {
    let libfaketime = libfaketime();
    let tmp = tempdir();
    let root = tmp.path();

    // The line-in: three minutes of a 1 kHz tone, replayed by ALSA's file plugin.
    let tone = root.join("line-in.raw");
    ffmpeg_to(
        &tone,
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:duration=180",
            "-ar",
            "48000",
            "-ac",
            "2",
            "-f",
            "s16le",
        ],
    );
    let asound = root.join("asound.conf");
    std::fs::write(
        &asound,
        format!(
            "pcm.linein {{\n type file\n slave.pcm \"null\"\n file \"/dev/null\"\n \
             infile \"{}\"\n format \"raw\"\n hint {{ show on\n description \"USB line-in\" }}\n}}\n",
            tone.display()
        ),
    )
    .unwrap();
    let alsa_path = format!("/usr/share/alsa/alsa.conf:{}", asound.display());

    // The USB folder (empty: the script plugs the stick in), the stick to plug, and the
    // episode the volunteer publishes from the phone.
    let usb = root.join("usb");
    std::fs::create_dir_all(&usb).unwrap();
    let stick = root.join("stick").join("VKMUSICA");
    for (file, title) in [
        ("2019-03-01 tertulia.mp3", "Tertulia de marzo"),
        ("2019-04-05 conciertos.mp3", "Conciertos de abril"),
        ("2019-05-10 barrio.mp3", "Voces del barrio"),
    ] {
        make_tagged_mp3(&stick.join(file), title, "Radio Vallekas", 2);
    }
    let episode = root.join("programa.mp3");
    make_tagged_mp3(&episode, "Programa", "Radio Vallekas", 3);

    // Yesterday's audience, written where the node keeps it before it starts.
    seed_history(&root.join("data"));

    let config = format!(
        "usb_root = \"{}\"\naudio = \"none\"\n{BASE_CONFIG}",
        usb.display()
    );
    let (box_ns, phone_ns) = (Netns::new("box"), Netns::new("phone"));
    box_ns.link(
        &format!("10.215.{net}.2/24"),
        &phone_ns,
        &format!("10.215.{net}.1/24"),
    );
    let mut node = Node::start_in_with_env(
        &box_ns,
        format!("10.215.{net}.2").parse().unwrap(),
        root,
        &[],
        &config,
        &[
            ("ALSA_CONFIG_PATH", &alsa_path),
            ("TZ", STATION_TZ),
            ("LD_PRELOAD", &libfaketime),
            ("FAKETIME", &format!("@{FAKE_NOW}")),
            // Only the wall clock: timers and timeouts keep the real monotonic one.
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        ],
    );
    node.wait_healthy(0);

    let arg = |k: &str, v: String| format!("--{k}={v}");
    // STREAMP2P_SHOTS keeps the screenshots for a person to look at, every task page's too.
    let shots = std::env::var("STREAMP2P_SHOTS").ok();
    let mut args = vec![
        arg("base", node.base_url()),
        arg("lang", lang.to_string()),
        arg("width", width.to_string()),
        arg("height", height.to_string()),
        arg("stick", stick.display().to_string()),
        arg("usb", usb.display().to_string()),
        arg("episode", episode.display().to_string()),
        arg("yesterday-peak", YESTERDAY_PEAK.to_string()),
        arg("yesterday-at", YESTERDAY_PEAK_AT.to_string()),
        arg(
            "shots",
            shots
                .clone()
                .unwrap_or_else(|| root.join("shots").display().to_string()),
        ),
    ];
    if shots.is_some() {
        args.push("--all-pages".into());
    }
    let out = run_node(
        phone_ns.command("node"),
        "operator_tasks.mjs",
        &args,
        Duration::from_secs(300),
    );
    // The script's last line: the taps each task took.
    let taps = out
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("taps "))
        .unwrap_or_else(|| panic!("no taps line in:\n{out}"));
    let taps: serde_json::Value = serde_json::from_str(taps).unwrap();
    let taps = taps.as_object().expect("taps per task");
    assert_eq!(taps.len(), 7, "{taps:?}");
    for (task, n) in taps {
        let n = n.as_u64().unwrap();
        assert!(n <= 6, "{task}: {n} taps ({lang}, {width}x{height})");
    }
    eprintln!("taps ({lang}, {width}x{height}): {taps:?}");

    // What the volunteer did is on the box: the episode and the stick's three.
    node.wait_until(
        "the published episode and the stick's",
        Duration::from_secs(30),
        |n| match n.library().len() {
            4.. => Ok(()),
            got => Err(format!("{got} items")),
        },
    );
    node.assert_alive();
}

/// Yesterday (the 9th in the station's time zone) had its most listeners, 14, at 20:05;
/// the day before had more (99) and must not count; this morning had a few.
fn seed_history(data: &Path) {
    std::fs::create_dir_all(data).unwrap();
    let store = Store::open(data).expect("open the store");
    let tz = chrono::FixedOffset::east_opt(2 * 3600).unwrap(); // CEST in June
    let at = |d: u32, h: u32, m: u32| tz.with_ymd_and_hms(2026, 6, d, h, m, 0).unwrap();
    let put = |t: chrono::DateTime<chrono::FixedOffset>, listeners: u64| {
        let t = t.timestamp() as u64;
        let s = Sample {
            t,
            listeners,
            upload_bps: listeners * 16_000,
        };
        store.put(Tree::History, &t.to_be_bytes(), &s).unwrap();
    };
    for m in 0..60 {
        put(at(8, 20, 0) + chrono::Duration::minutes(m), 99);
    }
    for m in 0..180 {
        let t = at(9, 18, 0) + chrono::Duration::minutes(m);
        // 18:00 to 21:00, rising to 14 at 20:05.
        let n = if m == 125 {
            YESTERDAY_PEAK
        } else {
            3 + m as u64 / 30
        };
        put(t, n);
    }
    for m in 0..120 {
        put(at(10, 8, 0) + chrono::Duration::minutes(m), 2);
    }
}
