//! The pages' scripts and styles as a browser gets them: brotli, gzip or as is by
//! `Accept-Encoding`, every coding decoding to the same bytes, under URLs named by their
//! content and cached for a year; the pages link nothing else. And the listen page as an
//! app: its manifest and icons, checked by Chromium itself.

mod common;

use std::io::Read;
use std::time::Duration;

use common::*;
use sha2::{Digest, Sha256};

const STATION: &str = "[station]\nname = \"Ràdio Bronka\"\nlanguage = \"ca\"\n";

/// Every `/assets/...` address in `html` (attributes, the import map, the script's config).
fn asset_urls(html: &str) -> Vec<String> {
    let mut urls: Vec<String> = html
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .map(str::to_string)
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

fn decode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        Some("br") => brotli::Decompressor::new(body, 4096)
            .read_to_end(&mut out)
            .expect("valid brotli"),
        Some("gzip") => flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("valid gzip"),
        None => return body.to_vec(),
        Some(other) => panic!("unexpected coding {other}"),
    };
    out
}

fn header_is(r: &Resp, name: &str, want: Option<&str>, what: &str) {
    assert_eq!(r.header(name), want, "{name} of {what}");
}

#[test]
fn assets_go_out_compressed_under_their_content_hash() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("one.mp3"), "One", "Radio Test", 2);
    let mut node = Node::start(
        tmp.path(),
        std::slice::from_ref(&lib),
        &format!("{BASE_CONFIG}{STATION}"),
    );
    node.wait_healthy(1);

    let page = node
        .request("GET", "/", &[("Accept-Encoding", "gzip")])
        .unwrap();
    header_is(&page, "Content-Encoding", Some("gzip"), "the page");
    let html = String::from_utf8(decode(Some("gzip"), &page.body)).unwrap();
    assert!(html.contains("Ràdio Bronka"), "{}", short(&html));
    let urls = asset_urls(&html);
    // Style, js-sha1 and the script, the import map's two modules, the four the scripts
    // import themselves (episode.js, WebTorrent, hls.js, mp4box.js for an M4A).
    assert_eq!(urls.len(), 9, "{urls:?}");
    for url in &urls {
        // /assets/<stem>.<hash8>.<ext>
        let parts: Vec<&str> = url["/assets/".len()..].rsplitn(3, '.').collect();
        let [_, hash, stem] = parts[..] else {
            panic!("not a hashed URL: {url}");
        };
        assert!(
            hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()) && !stem.is_empty(),
            "not a hashed URL: {url}"
        );
        let plain = node.request("GET", url, &[]).unwrap();
        assert_eq!(plain.status, 200, "{url}");
        header_is(&plain, "Content-Encoding", None, url);
        assert_eq!(
            &hex::encode(Sha256::digest(&plain.body))[..8],
            hash,
            "{url} is named by its content"
        );
        header_is(
            &plain,
            "Cache-Control",
            Some("public, max-age=31536000, immutable"),
            url,
        );
        for (accept, coding) in [
            ("gzip, deflate, br", Some("br")),
            ("gzip", Some("gzip")),
            ("br;q=0.5, gzip", Some("gzip")),
            ("identity", None),
        ] {
            let r = node
                .request("GET", url, &[("Accept-Encoding", accept)])
                .unwrap();
            header_is(&r, "Content-Encoding", coding, url);
            header_is(&r, "Vary", Some("Accept-Encoding"), url);
            let length = r.body.len().to_string();
            header_is(&r, "Content-Length", Some(&length), url);
            assert_same_bytes(&decode(coding, &r.body), &plain.body, url);
            let head = node
                .request("HEAD", url, &[("Accept-Encoding", accept)])
                .unwrap();
            assert!(head.body.is_empty(), "HEAD {url} has a body");
            header_is(
                &head,
                "Content-Length",
                Some(&length),
                &format!("HEAD {url}"),
            );
            header_is(&head, "Content-Encoding", coding, &format!("HEAD {url}"));
        }
        // A range is answered with the whole body (allowed, and simpler for a script).
        let ranged = node.request("GET", url, &[("Range", "bytes=0-9")]).unwrap();
        assert!(ranged.status == 200 && ranged.body == plain.body, "{url}");
    }

    // The plain names still answer, for a page cached before an update, revalidated (the
    // config page's never cached at all, as everything under /admin).
    for (old, name, cache) in [
        ("/assets/listen.js", "listen", "no-cache"),
        ("/assets/webtorrent.min.js", "webtorrent.min", "no-cache"),
        ("/admin/admin.js", "admin", "no-store"),
        ("/sw.min.js", "sw.min", "no-cache"),
    ] {
        let r = node
            .request("GET", old, &[("Accept-Encoding", "br")])
            .unwrap();
        assert_eq!(r.status, 200, "{old}");
        header_is(&r, "Cache-Control", Some(cache), old);
        header_is(&r, "Content-Encoding", Some("br"), old);
        let body = decode(Some("br"), &r.body);
        let hash = &hex::encode(Sha256::digest(&body))[..8];
        let hashed = node
            .request("GET", &format!("/assets/{name}.{hash}.js"), &[])
            .unwrap();
        assert_eq!(hashed.status, 200, "{old}: no hashed twin");
        let tag = r.header("ETag").expect("an ETag").to_string();
        let again = node
            .request(
                "GET",
                old,
                &[("Accept-Encoding", "br"), ("If-None-Match", &tag)],
            )
            .unwrap();
        assert!(again.status == 304 && again.body.is_empty(), "{old}");
    }
    assert_eq!(
        node.request("GET", "/assets/nothing.js", &[])
            .unwrap()
            .status,
        404
    );

    // Audio goes as it is, whatever the client accepts.
    let item = node.item("one.mp3");
    let file = node
        .request(
            "GET",
            &path_of(item["web_seed"].as_str().expect("web seed")),
            &[("Accept-Encoding", "gzip, br")],
        )
        .unwrap();
    assert_eq!(file.status, 200);
    header_is(&file, "Content-Encoding", None, "an episode");
    assert!(file.body.starts_with(b"ID3"), "the episode's own bytes");
    node.assert_alive();
}

/// The manifest as the node writes it, and its icons as valid PNGs of the stated sizes.
#[test]
fn the_manifest_names_the_station_and_its_icons_are_pngs() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    std::fs::create_dir_all(&lib).unwrap();
    let mut node = Node::start(
        tmp.path(),
        std::slice::from_ref(&lib),
        &format!("{BASE_CONFIG}{STATION}"),
    );
    node.wait_healthy(0);
    let r = node.get("/manifest.webmanifest");
    header_is(
        &r,
        "Content-Type",
        Some("application/manifest+json"),
        "manifest",
    );
    let m = r.json();
    assert_eq!(m["name"], "Ràdio Bronka");
    assert_eq!(m["short_name"], "Ràdio Bronka");
    assert_eq!(m["lang"], "ca");
    assert_eq!(m["start_url"], "/");
    assert_eq!(m["display"], "standalone");
    let icons = m["icons"].as_array().expect("icons");
    let mut sizes = Vec::new();
    for icon in icons {
        let src = icon["src"].as_str().unwrap();
        let png = node.get(src);
        header_is(&png, "Content-Type", Some("image/png"), src);
        let img = tiny_skia::Pixmap::decode_png(&png.body).expect("a valid PNG");
        let side = format!("{}x{}", img.width(), img.height());
        assert_eq!(icon["sizes"].as_str(), Some(side.as_str()), "{src}");
        sizes.push((side, icon["purpose"].as_str().unwrap().to_string()));
    }
    for want in [
        ("192x192", "any"),
        ("512x512", "any"),
        ("512x512", "maskable"),
    ] {
        assert!(
            sizes.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} in {sizes:?}"
        );
    }
    assert_eq!(node.get("/icons/icon-9999.png").status, 404);
    node.assert_alive();
}

/// Chromium on a phone beside the box (10.215.0.1 -> 10.215.0.2, plain http as a station's
/// LAN): it reads the manifest with no error and finds the page installable except for the
/// one thing plain http cannot give (a secure origin); the page loads only hashed assets,
/// gzipped (Chromium offers brotli over https only), with no console error.
#[test]
fn chromium_finds_the_listen_page_an_app() {
    let tmp = tempdir();
    let (box_ns, phone_ns) = (Netns::new("box"), Netns::new("phone"));
    box_ns.link("10.215.0.2/24", &phone_ns, "10.215.0.1/24");
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("one.mp3"), "One", "Radio Test", 2);
    let mut node = Node::start_in(
        &box_ns,
        "10.215.0.2".parse().unwrap(),
        tmp.path(),
        std::slice::from_ref(&lib),
        &format!("{BASE_CONFIG}{STATION}"),
    );
    node.wait_healthy(1);
    let out = run_node(
        phone_ns.command("node"),
        "app_manifest.mjs",
        &[
            format!("--base={}", node.base_url()),
            "--name=Ràdio Bronka".to_string(),
            "--lang=ca".to_string(),
            "--installability=not-from-secure-origin".to_string(),
            "--encoding=gzip".to_string(),
        ],
        Duration::from_secs(120),
    );
    assert!(out.contains("ok"), "{out}");
    node.assert_alive();
}
