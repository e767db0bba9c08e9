//! The box in the visitor's language, checked in a real browser (Debian's Chromium through
//! playwright-core): a Spanish phone on the box's network address (first run, feed, the
//! language switch), axe-core's WCAG 2.1 A/AA rules and a phone layout check on every page
//! in every language, and the operator's guide served by the box.
//!
//! Expected words are read from the catalogs (`locales/<lang>/*.ftl`) by message id, so the
//! test follows the translations instead of repeating them.

mod common;

use std::time::Duration;

use common::*;

/// The box on its own network (10.214.0.2) and a phone beside it (10.214.0.1), as a
/// station's LAN: the config page judges the phone by its real address, and the browser
/// reaches the box by that address, not by loopback. Nothing else is reachable.
#[test]
fn a_spanish_visitor_sets_up_the_box_and_switches_to_basque() {
    let tmp = tempdir();
    let (box_ns, phone_ns) = (Netns::new("box"), Netns::new("phone"));
    box_ns.link("10.214.0.2/24", &phone_ns, "10.214.0.1/24");
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("one.mp3"), "Primer programa", "Radio Test", 2);
    // The box starts out English: only the first run can make it Spanish.
    let config = format!("{BASE_CONFIG}\n[station]\nlanguage = \"en\"\n");
    let mut node = Node::start_in(
        &box_ns,
        "10.214.0.2".parse().unwrap(),
        tmp.path(),
        std::slice::from_ref(&lib),
        &config,
    );
    node.wait_healthy(1);
    assert!(
        node.get("/feed.xml")
            .text()
            .contains("<language>en</language>"),
        "before the first run the feed is in the configured language"
    );
    let arg = |k: &str, v: String| format!("--{k}={v}");
    run_node(
        phone_ns.command("node"),
        "i18n_spanish.mjs",
        &[
            arg("base", node.base_url()),
            arg("listen-es", message("es", "listen.ftl", "listen-episodes")),
            arg("listen-eu", message("eu", "listen.ftl", "listen-episodes")),
            arg("setup-es", message("es", "admin.ftl", "admin-setup-title")),
            arg("switch-es", message("es", "common.ftl", "language-switch")),
            arg("switch-eu", message("eu", "common.ftl", "language-switch")),
        ],
        Duration::from_secs(120),
    );
    // The choice is the station's: the feed says it to anyone, whatever their language.
    let feed = node.get("/feed.xml").text();
    assert!(feed.contains("<language>es</language>"), "{}", short(&feed));
    node.assert_alive();
}

/// Every page in every language passes axe-core and fits both phones. The node has what
/// makes each page full: episodes, the live input on air, a followed station (unreachable:
/// a closed port on loopback), a USB stick pulled out (a warning), and a schedule (the script
/// adds it).
#[test]
fn every_page_in_every_language_passes_axe_and_fits_a_phone() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    for (file, title) in [
        ("manana.mp3", "Programa de la mañana"),
        (
            "tertulia.mp3",
            "Tertulia del barrio: vivienda, fiestas y el mercado",
        ),
        ("conciertos.mp3", "Conciertos"),
    ] {
        make_tagged_mp3(&lib.join(file), title, "Radio Vallekas", 2);
    }
    // A USB stick's folder, pulled out by the script after the first run: a warning.
    let stick = tmp.path().join("usb-stick");
    std::fs::create_dir_all(&stick).unwrap();
    let closed = free_tcp_port_on(localhost());
    // A long description, as a station writes it in the settings: the listen page's
    // layout is checked with it.
    let config = format!(
        "audio = \"sine\"\n{BASE_CONFIG}\n[federation]\nfollow = [\"http://127.0.0.1:{closed}\"]\n\
         allow_private_addresses = true\n\n[station]\ndescription = \"Radio libre de barrio: \
         música, debates y programas hechos por la gente del barrio.\"\n"
    );
    let mut node = Node::start(tmp.path(), &[lib, stick.clone()], &config);
    node.wait_healthy(3);
    node.wait_live_state("on_air", Duration::from_secs(30));
    let langs = std::env::var("I18N_LANGS").unwrap_or_else(|_| "es,ca,eu,gl,pt,fr,en".into());
    let out = run_js(
        "i18n_pages.mjs",
        &[
            format!("--base={}", node.base_url()),
            format!("--langs={langs}"),
            format!("--password={PASSWORD}"),
            format!("--unplug={}", stick.display()),
        ],
        Duration::from_secs(330),
    );
    assert!(out.contains("ok"), "{out}");
    node.assert_alive();
}

/// `/guide` sends a visitor to the guide in their language (or the nearest one written), and
/// `/guide/es` is Spanish HTML whose pictures are the box's own PNGs.
#[test]
fn the_guide_is_served_in_the_visitors_language() {
    let tmp = tempdir();
    let mut node = Node::start(tmp.path(), &[], BASE_CONFIG);
    node.wait_healthy(0);
    for (accept, want) in [
        ("es-ES,es;q=0.9", "/guide/es"),
        ("en-GB", "/guide/en"),
        ("fr-FR", "/guide/fr"),
        // No Basque guide yet: Spanish is the nearest.
        ("eu", "/guide/es"),
    ] {
        let r = node
            .request("GET", "/guide", &[("Accept-Language", accept)])
            .expect("GET /guide");
        assert!(
            (300..400).contains(&r.status),
            "{accept}: {} {}",
            r.status,
            short(&r.text())
        );
        assert_eq!(r.header("location"), Some(want), "{accept}");
    }
    let r = node.get("/guide/es");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    let html = r.text();
    assert!(html.contains("<html lang=\"es\""), "{}", short(&html));
    let md = std::fs::read_to_string(repo_root().join("docs/guide/es.md")).unwrap();
    let title = md
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .expect("the Spanish guide has a title");
    assert!(
        html.contains(&format!("<h1>{title}</h1>")),
        "{}",
        short(&html)
    );
    let images: Vec<&str> = html
        .split("<img src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert!(images.len() >= 3, "few pictures: {images:?}");
    for src in images {
        let path = format!("/guide/{src}");
        let r = node.get(&path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("image/png"), "{path}");
        assert!(r.body.starts_with(b"\x89PNG"), "{path} is not a PNG");
    }
    for bad in [
        "/guide/xx",
        "/guide/img/es/../../../Cargo.toml",
        "/guide/img/es/none.png",
        "/guide/img/xx/1-setup.png",
    ] {
        assert_eq!(node.get(bad).status, 404, "{bad}");
    }
    node.assert_alive();
}
