//! Copies the browser side's npm assets (WebTorrent's browser build and its service worker;
//! hls.js and p2p-media-loader's ES modules for the live player; mp4box.js for M4A episodes)
//! into OUT_DIR, so the
//! binary embeds them. They come from package-lock.json through
//! `npm ci` and are never committed; when node_modules is missing, this runs `npm ci`.

use std::{path::Path, process::Command};

const ASSETS: &[(&str, &str)] = &[
    (
        "node_modules/webtorrent/dist/webtorrent.min.js",
        "webtorrent.min.js",
    ),
    ("node_modules/webtorrent/dist/sw.min.js", "sw.min.js"),
    // SHA-1 for WebTorrent's piece checks on plain http, where browsers give no WebCrypto.
    ("node_modules/js-sha1/src/sha1.js", "sha1.js"),
    // The light build: everything an audio-only live stream needs (fMP4 and packed
    // audio), without subtitles, alternate renditions or DRM.
    (
        "node_modules/hls.js/dist/hls.light.min.mjs",
        "hls.light.min.mjs",
    ),
    (
        "node_modules/p2p-media-loader-core/dist/p2p-media-loader-core.es.min.js",
        "p2p-media-loader-core.es.min.js",
    ),
    (
        "node_modules/p2p-media-loader-hlsjs/dist/p2p-media-loader-hlsjs.es.min.js",
        "p2p-media-loader-hlsjs.es.min.js",
    ),
    // mp4box.js for M4A episodes on plain http: its browser build is an ES module that
    // imports two more by relative path, so the three keep their names (already hashed).
    ("node_modules/mp4box/dist/mp4box.all.mjs", "mp4box.all.mjs"),
    (
        "node_modules/mp4box/dist/styp-9TIZZDLN.mjs",
        "styp-9TIZZDLN.mjs",
    ),
    (
        "node_modules/mp4box/dist/rolldown-runtime-w6R9maHv.mjs",
        "rolldown-runtime-w6R9maHv.mjs",
    ),
];

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let root = Path::new(&root);
    println!("cargo:rerun-if-changed=package-lock.json");
    for (src, _) in ASSETS {
        println!("cargo:rerun-if-changed={src}");
    }
    if ASSETS.iter().any(|(src, _)| !root.join(src).exists()) {
        let status = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(root)
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => panic!(
                "the browser assets come from npm: `npm ci` failed ({other:?}); install Node.js \
                 and npm, then run `npm ci` in {}",
                root.display()
            ),
        }
    }
    for (src, name) in ASSETS {
        let from = root.join(src);
        std::fs::copy(&from, Path::new(&out).join(name))
            .unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
    }
}
