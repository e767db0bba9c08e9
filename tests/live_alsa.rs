//! Live capture through the real ALSA code path with no sound card: an `asound.conf` PCM of
//! the `file` plugin replays a known tone as capture input. The device is missing when the
//! node starts (status "no input"), then appears: the node goes on air by itself, and the
//! decoded stream has the input's frequency.

mod common;

use std::{process::Command, time::Duration};

use common::*;

#[test]
fn alsa_capture_recovers_and_carries_the_tone() {
    let tmp = tempdir();
    let raw = tmp.path().join("tone.raw");
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:duration=60",
        ])
        .args(["-ar", "48000", "-ac", "2", "-f", "s16le", "-y"])
        .arg(&raw)
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success());
    let conf = tmp.path().join("asound.conf");
    std::fs::write(&conf, "# no capture device yet\n").unwrap();
    // Only this test runs in this binary, and the node inherits the variable.
    std::env::set_var(
        "ALSA_CONFIG_PATH",
        format!("/usr/share/alsa/alsa.conf:{}", conf.display()),
    );
    let mut node = start_live_node(tmp.path(), "alsa:testin", "", any_file);
    node.wait_live_state("no_input", Duration::from_secs(10));
    // The library and the web keep serving meanwhile.
    assert_eq!(node.get("/api/library").status, 200);

    // alsa-lib rereads its configuration when a file's mtime changes, in whole seconds.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(
        &conf,
        format!(
            "pcm.testin {{\n type file\n slave.pcm \"null\"\n file \"/dev/null\"\n infile \"{}\"\n format \"raw\"\n}}\n",
            raw.display()
        ),
    )
    .unwrap();
    node.wait_live_state("on_air", Duration::from_secs(15));
    let samples = decode_audio(&format!("{}/live.ogg", node.base_url()), 2);
    let hz = tone_hz(&samples[4800..]);
    assert!((hz - 1000.0).abs() < 10.0, "tone at {hz} Hz");
    node.assert_alive();
}
