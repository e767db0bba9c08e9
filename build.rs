//! Prepares the browser side's assets for the binary to embed: the npm builds (WebTorrent's
//! browser build and its service worker; hls.js and p2p-media-loader's ES modules for the
//! live player) and the project's own scripts and styles (`src/web/assets`).
//!
//! Each is written to OUT_DIR three times, as is, brotli and gzip (zopfli; best quality: it
//! is done once per build, and a phone on a slow link saves it on every first visit), and
//! named by the first 8 hex digits of its SHA-256, so its URL changes exactly when its bytes
//! do and a browser may keep it for a year. `assets.rs` in OUT_DIR is the table `web::assets`
//! serves from: file name, hashed URL, type and the three bodies, plus one `href` constant
//! per asset for the pages.
//!
//! The npm files come from package-lock.json through `npm ci` and are never committed; when
//! node_modules is missing, this runs `npm ci`.

use std::{
    fmt::Write as _,
    io::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use sha2::{Digest, Sha256};

/// Where each asset comes from (relative to the crate root) and the name it is served as.
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
    ("src/web/assets/listen.js", "listen.js"),
    ("src/web/assets/episode.js", "episode.js"),
    ("src/web/assets/listen.css", "listen.css"),
    ("src/web/assets/admin.js", "admin.js"),
    ("src/web/assets/admin.css", "admin.css"),
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

/// Registered at `/sw.min.js` (a service worker's URL is its identity, and its scope comes
/// from its path), so no page links it by hash.
const SERVICE_WORKER: &str = "sw.min.js";

/// mp4box.js's inner modules: `mp4box.all.mjs` imports them by these relative names, so they
/// answer at their plain names (already content-hashed by mp4box's build) and no page links
/// them.
const IMPORTED_BY_NAME: &[&str] = &["styp-9TIZZDLN.mjs", "rolldown-runtime-w6R9maHv.mjs"];

/// brotli's best: quality 11 with the largest window (16 MiB would be wasted on files of
/// at most a few hundred kB; 22 is the format's default maximum).
const BROTLI_QUALITY: u32 = 11;
const BROTLI_WINDOW: u32 = 22;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=package-lock.json");
    for (src, _) in ASSETS {
        println!("cargo:rerun-if-changed={src}");
    }
    if ASSETS.iter().any(|(src, _)| !root.join(src).exists()) {
        npm_ci(&root);
    }
    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    let mut hrefs = String::from("pub mod href {\n");
    for (src, name) in ASSETS {
        let from = root.join(src);
        let body =
            std::fs::read(&from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
        let hash = hex8(&Sha256::digest(&body));
        let (stem, ext) = name.rsplit_once('.').expect("every asset has an extension");
        let url = format!("/assets/{stem}.{hash}.{ext}");
        // Named by content, so an unchanged file (most builds: only one script was edited)
        // is not compressed again.
        let stored = |suffix: &str| out.join(format!("asset-{hash}{suffix}"));
        write_once(&stored(""), || body.clone());
        write_once(&stored(".br"), || brotli(&body));
        write_once(&stored(".zopfli.gz"), || gzip(&body));
        let path = |suffix: &str| format!("{:?}", stored(suffix).display().to_string());
        writeln!(
            table,
            "    Asset {{ name: {name:?}, url: {url:?}, hash: {hash:?}, mime: {mime:?}, \
             identity: include_bytes!({}), br: include_bytes!({}), gzip: include_bytes!({}) }},",
            path(""),
            path(".br"),
            path(".zopfli.gz"),
            mime = mime(ext),
        )
        .expect("writing to a String");
        if *name == SERVICE_WORKER || IMPORTED_BY_NAME.contains(name) {
            continue;
        }
        let constant = name.replace(['.', '-'], "_").to_uppercase();
        writeln!(hrefs, "    pub const {constant}: &str = {url:?};").expect("String");
    }
    table.push_str("];\n");
    hrefs.push_str("}\n");
    std::fs::write(out.join("assets.rs"), table + &hrefs).expect("writing assets.rs");
}

fn npm_ci(root: &Path) {
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

fn hex8(digest: &[u8]) -> String {
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

fn mime(ext: &str) -> &'static str {
    match ext {
        "js" | "mjs" => "text/javascript",
        "css" => "text/css",
        other => panic!("no type for .{other} assets"),
    }
}

/// Writes `path` unless a previous build did; through a temporary name, so an interrupted
/// build never leaves half a file that a later one would take as done.
fn write_once(path: &Path, make: impl FnOnce() -> Vec<u8>) {
    if path.exists() {
        return;
    }
    let part = path.with_extension("part");
    std::fs::write(&part, make())
        .and_then(|()| std::fs::rename(&part, path))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w =
            brotli::CompressorWriter::new(&mut out, 64 * 1024, BROTLI_QUALITY, BROTLI_WINDOW);
        w.write_all(body).expect("compressing in memory");
    }
    out
}

/// Zopfli's gzip: any gzip reader takes it, and it is 3 to 6 % smaller than zlib's best.
/// That matters more than brotli's copy does: browsers ask for brotli only over https, and
/// a station's box is mostly reached over plain http, where every first visit takes these.
fn gzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        body,
        &mut out,
    )
    .expect("compressing in memory");
    out
}
