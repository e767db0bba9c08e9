//! Fixture files for the library (random bytes, tagged MP3s), their digests, and checks on
//! bytes that report briefly.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use std::process::Command;

pub const MIB: u64 = 1024 * 1024;

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("streamp2p-test-")
        .tempdir()
        .expect("create a temp dir")
}

/// Writes `len` random bytes (from /dev/urandom) to `path`, creating parent folders.
pub fn write_random(path: &Path, len: u64) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    let mut src = File::open("/dev/urandom").expect("open /dev/urandom");
    let mut dst = File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let copied = io::copy(&mut (&mut src).take(len), &mut dst).unwrap();
    assert_eq!(copied, len);
    dst.sync_all().unwrap();
}

/// Makes a real, tagged MP3 with ffmpeg: a 440 Hz sine tone of `secs` seconds.
pub fn make_tagged_mp3(path: &Path, title: &str, artist: &str, secs: u32) {
    make_tone_mp3(path, 440, title, artist, secs);
}

/// Makes a real, tagged MP3 with ffmpeg: a sine tone of `hz` for `secs` seconds.
pub fn make_tone_mp3(path: &Path, hz: u32, title: &str, artist: &str, secs: u32) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    ffmpeg_to(
        path,
        &[
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency={hz}:duration={secs}"),
            "-metadata",
            &format!("title={title}"),
            "-metadata",
            &format!("artist={artist}"),
        ],
    );
}

/// Runs `ffmpeg <args> <out>` (quiet, overwriting `out`); panics with ffmpeg's words unless
/// it succeeded.
pub fn ffmpeg_to(out: &Path, args: &[&str]) {
    let run = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .arg(out)
        .output()
        .expect("run ffmpeg (apt-get install ffmpeg)");
    assert!(
        run.status.success(),
        "ffmpeg failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// sha256 of a file, as lowercase hex, computed by `sha256sum`.
pub fn sha256_file(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(
        out.status.success(),
        "sha256sum {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string()
}

pub fn infohash_bytes(hex_ih: &str) -> Vec<u8> {
    let b = hex::decode(hex_ih).unwrap_or_else(|e| panic!("infohash {hex_ih:?} is not hex: {e}"));
    assert_eq!(b.len(), 20, "infohash {hex_ih:?} is not 20 bytes");
    b
}

/// Byte-for-byte comparison that reports a short message instead of dumping megabytes.
pub fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length differs");
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b).unwrap();
        panic!("{what}: bytes differ from offset {first}");
    }
}

/// A self-signed certificate for `name` (P-256, a random serial, two days) and its key,
/// written as PEM to `cert` and `key`: https from certificate files.
pub fn self_signed(name: &str, cert: &Path, key: &Path) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName=DNS:{name}")])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
