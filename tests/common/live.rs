//! The live stream as a listener hears it: audio decoded by ffmpeg, and the tone's pitch.

use std::process::Command;

/// Decodes `secs` of `url` to mono 48 kHz samples with ffmpeg.
pub fn decode_audio(url: &str, secs: u32) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-nostdin",
            "-t",
            &secs.to_string(),
            "-i",
            url,
        ])
        .args(["-f", "s16le", "-ac", "1", "-ar", "48000", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// The frequency of a pure tone, from its zero crossings.
pub fn tone_hz(samples: &[i16]) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / 48_000.0)
}
