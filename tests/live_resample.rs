//! A capture card recording at 44.1 kHz, through the real ALSA code path with no sound
//! card (an `asound.conf` PCM of the `file` plugin replays a 44.1 kHz tone): the node
//! captures at the card's rate and resamples to 48 kHz, so the stream carries the input's
//! pitch (read as 48 kHz without resampling, a 1000 Hz tone would come out at 1088 Hz).

mod common;

use std::{process::Command, time::Duration};

use common::*;

#[test]
fn a_44100_hz_card_is_resampled_to_48_khz() {
    let tmp = tempdir();
    let raw = tmp.path().join("tone44.raw");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-f", "lavfi"])
        .args(["-i", "sine=frequency=1000:duration=60"])
        .args(["-ar", "44100", "-ac", "2", "-f", "s16le", "-y"])
        .arg(&raw)
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success());
    let conf = tmp.path().join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "pcm.testin44 {{\n type file\n slave.pcm \"null\"\n file \"/dev/null\"\n infile \"{}\"\n format \"raw\"\n}}\n",
            raw.display()
        ),
    )
    .unwrap();
    // Only this test runs in this binary, and the node inherits the variable.
    std::env::set_var(
        "ALSA_CONFIG_PATH",
        format!("/usr/share/alsa/alsa.conf:{}", conf.display()),
    );
    // The file plugin takes any rate, so the card's 44.1 kHz is asked for explicitly.
    let rate = "\n[live]\ncapture_rate = 44100\n";
    let mut node = start_live_node(tmp.path(), "alsa:testin44", rate, any_file);
    node.wait_live_state("on_air", Duration::from_secs(15));
    let samples = decode_audio(&format!("{}/live.ogg", node.base_url()), 3);
    assert!(samples.len() > 2 * 48_000, "only {} samples", samples.len());
    let hz = tone_hz(&samples[9600..]);
    assert!((hz - 1000.0).abs() < 10.0, "tone at {hz} Hz");
    node.assert_alive();
}
