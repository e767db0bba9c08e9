//! Live nodes: one started with a live input, its on-air state, and the stream as a listener
//! hears it (audio decoded by ffmpeg, the tone's pitch).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::node::{Node, BASE_CONFIG};

/// Starts a node on `root` with the live input `audio` (`sine` for the generated tone,
/// `alsa:DEVICE`), BASE_CONFIG followed by `tables` (more config tables, or ""), and one
/// library folder, `root/library`, holding the files `fill` writes there; returns once they
/// are hashed. Whether the node is on air yet is for the test to wait for.
pub fn start_live_node(root: &Path, audio: &str, tables: &str, fill: impl FnOnce(&Path)) -> Node {
    let lib = root.join("library");
    fill(&lib);
    let config = format!("audio = \"{audio}\"\n{BASE_CONFIG}{tables}");
    let mut node = Node::start(root, std::slice::from_ref(&lib), &config);
    node.wait_healthy(files_in(&lib));
    node
}

/// Waits until the live playlist lists six segments: the players start about five segments
/// behind the live edge.
pub fn six_segments(node: &mut Node) {
    node.wait_until("six Opus segments", Duration::from_secs(30), |n| {
        let r = n.get("/live/opus.m3u8");
        (r.status == 200 && r.text().matches("#EXTINF").count() >= 6)
            .then_some(())
            .ok_or(r.text())
    });
}

/// The files under `dir`, however deep.
fn files_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => files_in(&e.path()),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// A library file for a live node that needs an item, not its audio: `x.mp3`, 1000 random bytes.
pub fn any_file(lib: &Path) {
    super::fixtures::write_random(&lib.join("x.mp3"), 1000);
}

impl Node {
    /// Waits up to `timeout` until /api/health says the live input is in `state`
    /// (`on_air`, `no_input`).
    pub fn wait_live_state(&mut self, state: &str, timeout: Duration) {
        self.wait_until(&format!("live state {state}"), timeout, |n| {
            let h = n.health().map_err(|e| e.to_string())?;
            (h["live"]["state"] == state)
                .then_some(())
                .ok_or(h.to_string())
        });
    }
}

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
