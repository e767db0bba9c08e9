//! The config page: end to end in Chromium at a phone's size (setup, login, a new station
//! name on the public pages, a publish that resumes after interruptions and ends as a
//! torrent aria2c downloads), the podcast feed through a real feed parser, and the
//! security rules (CSRF, login lockout, local network only, sessions and settings that
//! survive a restart and a kill -9).

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use common::*;
use serde_json::Value;

/// A 30 s stereo WAV tone made by ffmpeg: a real audio file of ~5.8 MB (six chunks).
fn make_wav(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let ok = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg("sine=frequency=523:duration=30:sample_rate=48000")
        .args(["-ac", "2"])
        .arg(path)
        .status()
        .expect("run ffmpeg");
    assert!(ok.success(), "ffmpeg made no wav");
}

fn item_titled<'a>(items: &'a [Value], title: &str) -> Option<&'a Value> {
    items.iter().find(|i| i["title"].as_str() == Some(title))
}

#[test]
fn operator_sets_up_publishes_and_renames_from_a_phone() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("morning.mp3"), "Morning Show", "Radio Test", 10);
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(1);
    let wav = tmp.path().join("upload").join("dunes session.wav");
    make_wav(&wav);
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("admin-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = run_js(
        "admin_page.mjs",
        &[
            format!("--base={}", node.base_url()),
            format!("--shots={}", shots.display()),
            format!("--file={}", wav.display()),
            "--title=Dunes Session".into(),
        ],
        Duration::from_secs(180),
    );
    assert!(out.contains("ok"), "{out}");
    eprintln!("screenshots: {}", shots.display());
    for shot in ["1-setup.png", "2-dashboard.png", "5-published.png"] {
        let png = std::fs::read(shots.join(shot)).expect("screenshot written");
        assert!(png.starts_with(b"\x89PNG"), "{shot} is not a PNG");
    }

    // The upload joins the library under its title, in the feed, and as a torrent.
    let item = node.wait_until("the upload in the library", Duration::from_secs(60), |n| {
        item_titled(&n.library(), "Dunes Session")
            .cloned()
            .ok_or_else(|| "not yet".to_string())
    });
    assert_eq!(item["name"], "dunes session.wav");
    let feed = node.get("/feed.xml").text();
    assert!(
        feed.contains("<title>Dunes Session</title>"),
        "{}",
        short(&feed)
    );
    assert!(feed.contains("<title>Radio Dunas FM</title>"));
    let ih = item["infohash"].as_str().unwrap().to_string();
    node.wait_seeder(&ih);
    let got = tmp.path().join("aria2c");
    let run = aria2c(
        &format!("{}/t/{ih}.torrent", node.base_url()),
        &got,
        Duration::from_secs(120),
    );
    assert!(
        run.status.is_some_and(|s| s.success()),
        "aria2c: {:?}",
        run.status
    );
    assert_eq!(
        sha256_file(&got.join("dunes session.wav")),
        sha256_file(&wav),
        "aria2c's copy differs from the file uploaded"
    );
    node.assert_alive();
}

/// The feed read by podcast apps' parsers (feedparser, podcastparser) and by a plain XML
/// reader: every episode's file, by any of its sources, is covered by a `podcast:integrity`
/// equal to the SHA-256 of the file on disk, computed here by `sha256sum` and in Python.
#[test]
fn feed_parses_with_a_real_feed_parser() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("one.mp3"), "Episode One", "Radio Test", 5);
    make_tagged_mp3(&lib.join("two.mp3"), "Episode Two", "Radio Test", 5);
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(2);
    let xml = node.get("/feed.xml").text();
    let episodes = feed_episodes(&xml);
    assert_eq!(episodes.len(), 2, "{}", short(&xml));
    for (name, title) in [("one.mp3", "Episode One"), ("two.mp3", "Episode Two")] {
        let ep = episodes
            .iter()
            .find(|e| e.title == title)
            .unwrap_or_else(|| panic!("no episode {title:?} in {episodes:?}"));
        let file = lib.join(name);
        let alt = assert_integrity_covers_every_source(ep, &file);
        let item = node.item(name);
        assert_eq!(ep.enclosure["url"], item["web_seed"].as_str().unwrap());
        let torrent = format!("{}{}", node.base_url(), item["torrent"].as_str().unwrap());
        assert!(alt.sources.contains(&torrent), "{alt:?}");
        assert!(
            alt.sources
                .contains(&item["magnet"].as_str().unwrap().to_string()),
            "{alt:?}"
        );
        // The library's JSON gives the same digest.
        assert_eq!(item["integrity"].as_str(), Some(sri_sha256(&file).as_str()));
    }

    // No input configured: nothing on air, no live item.
    assert!(!xml.contains("podcast:liveItem"), "{}", short(&xml));
    check_feed(&tmp.path().join("feed.xml"), &xml, 2, &lib);
    node.assert_alive();
}

/// Reads `xml` (saved to `path`) with feedparser, podcastparser and Python's XML parser
/// (`tests/py/check_feed.py`): `episodes` episodes, the files' digests checked in `lib`.
fn check_feed(path: &Path, xml: &str, episodes: usize, lib: &Path) {
    std::fs::write(path, xml).unwrap();
    let script = repo_root().join("tests").join("py").join("check_feed.py");
    let out = Command::new(python_with_feedparser())
        .arg(&script)
        .arg(path)
        .arg(episodes.to_string())
        .arg(lib)
        .output()
        .expect("run python");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "feedparser: {text}");
    assert!(text.contains("ok"), "{text}");
}

/// While the station is on air the feed carries a `podcast:liveItem` whose enclosure is the
/// live stream (it decodes), and the feed still reads in feedparser and podcastparser.
#[test]
fn the_feed_lists_the_live_stream_while_on_air() {
    let tmp = tempdir();
    let mut node = start_live_node(tmp.path(), "sine", "", |lib| {
        make_tagged_mp3(&lib.join("one.mp3"), "Episode One", "Radio Test", 3);
    });
    let lib = tmp.path().join("library");
    make_tagged_mp3(
        &lib.join("Programa 2026-03-08.mp3"),
        "Dated",
        "Radio Test",
        3,
    );
    node.wait_until("both episodes", Duration::from_secs(20), |n| {
        (n.library().len() == 2)
            .then_some(())
            .ok_or_else(String::new)
    });
    node.wait_live_state("on_air", Duration::from_secs(20));
    let xml = node.get("/feed.xml").text();
    // An episode's date is when it was recorded: here the date in its name.
    let dated = xml
        .split("<title>Dated</title>")
        .nth(1)
        .unwrap_or_else(|| panic!("no dated episode: {}", short(&xml)));
    assert!(
        dated
            .split("</item>")
            .next()
            .unwrap_or("")
            .contains("<pubDate>Sun, 08 Mar 2026 00:00:00 GMT</pubDate>"),
        "{}",
        short(&xml)
    );
    assert!(
        xml.contains("<itunes:category text=\"Music\""),
        "{}",
        short(&xml)
    );
    let live = xml
        .split("<podcast:liveItem ")
        .nth(1)
        .and_then(|rest| rest.split("</podcast:liveItem>").next())
        .unwrap_or_else(|| panic!("no live item: {}", short(&xml)));
    assert!(live.contains("status=\"live\""), "{live}");
    assert!(live.contains("start=\""), "{live}");
    let stream = format!("{}/live.mp3", node.base_url());
    assert!(live.contains(&format!("url=\"{stream}\"")), "{live}");
    assert!(live.contains("<title>streamp2p radio</title>"), "{live}");
    // The station's picture is a 1400 px square PNG (the size Apple's directory asks for).
    let cover = node.get("/icons/cover-1400.png");
    assert_eq!(cover.status, 200);
    assert!(cover.body.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let side = |at: usize| u32::from_be_bytes(cover.body[at..at + 4].try_into().unwrap());
    assert_eq!((side(16), side(20)), (1400, 1400), "IHDR width and height");
    assert!(xml.contains("/icons/cover-1400.png"), "{}", short(&xml));
    // The enclosure is the stream itself: the test tone.
    let samples = decode_audio(&stream, 2);
    assert!(
        samples.iter().any(|s| s.unsigned_abs() > 1000),
        "the live item's enclosure is silent"
    );
    check_feed(
        &tmp.path().join("feed.xml"),
        &xml,
        2,
        &tmp.path().join("library"),
    );
    node.assert_alive();
}

/// The Python that has Debian's feedparser and podcastparser (`scripts/test.sh` installs
/// python3-feedparser and python3-podcastparser and names it in STREAMP2P_PYTHON): Debian's
/// own, not one first on the PATH.
fn python_with_feedparser() -> PathBuf {
    match std::env::var_os("STREAMP2P_PYTHON") {
        Some(p) => PathBuf::from(p),
        None if Path::new("/usr/bin/python3").exists() => PathBuf::from("/usr/bin/python3"),
        None => PathBuf::from("python3"),
    }
}

#[test]
fn changes_need_the_csrf_token_and_logins_are_limited() {
    let tmp = tempdir();
    let mut node = Node::start(tmp.path(), &[], BASE_CONFIG);
    node.wait_healthy(0);
    let mut op = Operator::new(&node);
    op.setup("Radio CSRF");
    let csrf = op.csrf();

    // Without the token, or with another, a change is refused and nothing changes.
    for token in ["", "0000"] {
        let r = op.post(
            "/admin/settings",
            &[("csrf", token), ("station_name", "Hijacked")],
        );
        assert_eq!(r.status, 403, "settings without a valid CSRF token");
    }
    // From another site (Origin), even with the token.
    let c = op.cookie_header();
    let body = form_urlencoded_body(&[("csrf", &csrf), ("station_name", "Hijacked")]);
    let len = body.len().to_string();
    let r = http_request_with_body(
        node.http,
        "POST",
        "/admin/settings",
        &[
            ("Cookie", &c),
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", &len),
        ],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 403, "a cross-site post is refused");
    assert!(!node.get("/").text().contains("Hijacked"));
    // No session at all: back to the login page.
    let r = http_request_with_body(node.http, "POST", "/admin/settings", &[], b"").unwrap();
    assert_eq!(r.status, 303);

    // Five wrong passwords lock the address out, even for the right one.
    let mut other = Operator::new(&node);
    for i in 0..5 {
        let r = other.login("not the password");
        assert_eq!(r.status, 401, "wrong password {i}");
    }
    let r = other.login(PASSWORD);
    assert_eq!(r.status, 429, "locked out after five failures");
    assert!(r.text().contains("try again in"), "{}", short(&r.text()));
    // The operator logged in before keeps working.
    assert_eq!(op.get("/admin").status, 200);
    assert!(op.get("/admin").text().contains("Log out"));
    node.assert_alive();
}

/// A form post: target, fields, and a text the page shows once it is kept.
type Step<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn sessions_and_confirmed_settings_survive_kill_9() {
    let tmp = tempdir();
    let mut node = Node::start(tmp.path(), &[], BASE_CONFIG);
    node.wait_healthy(0);
    let mut op = Operator::new(&node);
    op.setup("Radio Before");
    let cookies = op.cookies.clone();

    // Each setting: confirmed by the page (303 to the notice), then the power is cut.
    let steps: &[Step] = &[
        (
            "/admin/settings",
            &[
                ("station_name", "Radio After"),
                ("station_description", "Saved before the cut"),
                ("public_url", ""),
                ("audio", "none"),
                ("bitrate_kbps", "96"),
                ("library", ""),
                ("upload_limit_kib", "300"),
                ("trackers", "udp://tracker.example.org:6969/announce"),
                ("max_upload_mb", "123"),
            ],
            "Radio After",
        ),
        (
            "/admin/schedule",
            &[
                ("day", "Tuesday"),
                ("start", "18:00"),
                ("end", "19:30"),
                ("name", "Evening Jazz"),
            ],
            "Evening Jazz",
        ),
    ];
    for (target, fields, expect) in steps {
        let mut op = Operator::new(&node);
        op.cookies = cookies.clone();
        let csrf = op.csrf();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let r = op.post(target, &form);
        assert_eq!(r.status, 303, "{target}: {}", short(&r.text()));
        node.kill();
        node.restart();
        node.wait_healthy(0);
        // The session survived too: the same cookie opens the dashboard.
        let mut again = Operator::new(&node);
        again.cookies = cookies.clone();
        let page = again.get("/admin");
        assert_eq!(page.status, 200);
        assert!(
            page.text().contains("Log out"),
            "session lost after kill -9"
        );
        let text = again.all_pages();
        assert!(text.contains(expect), "{expect} lost after kill -9");
    }
    let page = {
        let mut op = Operator::new(&node);
        op.cookies = cookies.clone();
        op.all_pages()
    };
    for kept in [
        "value=\"96\"",
        "value=\"300\"",
        "value=\"123\"",
        "tracker.example.org",
    ] {
        assert!(page.contains(kept), "{kept} not kept");
    }
    assert!(node.get("/").text().contains("<h1>Radio After</h1>"));
    node.assert_alive();
}

/// The page answers only on the local network: a request from a public address (inside a
/// network namespace of this test, with a documentation-range address on its loopback)
/// is refused, while one from a private address works.
#[test]
fn admin_is_refused_from_public_addresses() {
    let tmp = tempdir();
    let script = tmp.path().join("ns.sh");
    let data = tmp.path().join("data");
    std::fs::write(
        &script,
        format!(
            "set -eu\nip link set lo up\nip addr add 203.0.113.7/32 dev lo\n\
             ip addr add 192.168.77.1/32 dev lo\n\
             {bin} run --data-dir {data} --http 192.168.77.1:8080 --udp-tracker \
             192.168.77.1:6969 --audio none --config /dev/null >{log} 2>&1 &\n\
             pid=$!\n\
             for i in $(seq 100); do curl -s -o /dev/null http://192.168.77.1:8080/api/health \
             && break; sleep 0.1; done\n\
             echo public $(curl -s -o /dev/null -w '%{{http_code}}' --interface 203.0.113.7 \
             http://192.168.77.1:8080/admin)\n\
             echo private $(curl -s -o /dev/null -w '%{{http_code}}' --interface 192.168.77.1 \
             http://192.168.77.1:8080/admin)\n\
             echo listen $(curl -s -o /dev/null -w '%{{http_code}}' --interface 203.0.113.7 \
             http://192.168.77.1:8080/)\n\
             kill $pid\n",
            bin = env!("CARGO_BIN_EXE_streamp2p"),
            data = data.display(),
            log = tmp.path().join("node.log").display(),
        ),
    )
    .unwrap();
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "sh"])
        .arg(&script)
        .output()
        .expect("run unshare");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "namespace script: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("public 403"), "{text}");
    assert!(text.contains("private 200"), "{text}");
    assert!(
        text.contains("listen 200"),
        "the public pages stay open: {text}"
    );
}

/// A setting the running services cannot take live (a new library folder) restarts them by
/// themselves: the same process comes back with the new folder's episodes.
#[test]
fn a_new_library_folder_restarts_the_services_and_is_seeded() {
    let tmp = tempdir();
    let mut node = Node::start(tmp.path(), &[], BASE_CONFIG);
    node.wait_healthy(0);
    let pid = node.pid();
    let lib = tmp.path().join("new-stick");
    make_tagged_mp3(&lib.join("found.mp3"), "Found Later", "Radio", 5);
    let mut op = Operator::new(&node);
    op.setup("Radio Restart");
    let csrf = op.csrf();
    let lib_text = lib.display().to_string();
    let r = op.post(
        "/admin/settings",
        &[
            ("csrf", &csrf),
            ("station_name", "Radio Restart"),
            ("station_description", ""),
            ("public_url", ""),
            ("audio", "none"),
            ("bitrate_kbps", "128"),
            ("library", &lib_text),
            ("upload_limit_kib", "0"),
            ("trackers", ""),
            ("max_upload_mb", "500"),
        ],
    );
    assert_eq!(r.status, 303);
    assert!(
        r.header("location")
            .is_some_and(|l| l.contains("restarting")),
        "{:?}",
        r.header("location")
    );
    let cookies = op.cookies.clone();
    node.wait_until("the new folder's episode", Duration::from_secs(60), |n| {
        let lib: Vec<Value> = n
            .request("GET", "/api/library", &[])
            .ok()
            .and_then(|r| serde_json::from_slice(&r.body).ok())
            .ok_or("not answering (restarting)")?;
        lib.iter()
            .any(|i| i["title"] == "Found Later")
            .then_some(())
            .ok_or_else(|| format!("{lib:?}"))
    });
    assert_eq!(node.pid(), pid, "restarted in the same process");
    // The operator stays logged in across the restart.
    let mut again = Operator::new(&node);
    again.cookies = cookies;
    assert!(again.get("/admin").text().contains("Log out"));
    node.assert_alive();
}

#[test]
fn the_first_run_asks_the_station_language_and_forms_speak_the_visitors() {
    let tmp = tempdir();
    let mut node = Node::start(tmp.path(), &[], BASE_CONFIG);
    node.wait_healthy(0);

    // A Basque browser gets the first-run page in Basque, the station's language on Basque.
    let page = node
        .request(
            "GET",
            "/admin",
            &[("Accept-Language", "eu-ES,eu;q=0.9,es;q=0.5")],
        )
        .unwrap()
        .text();
    assert!(page.contains("<html lang=\"eu\""), "{}", short(&page));
    assert!(page.contains("<h1 id=\"admin-setup-title\">Ongi etorri</h1>"));
    assert!(
        page.contains("lang=\"eu\" hreflang=\"eu\" aria-current=\"true\">Euskara</a>"),
        "Basque is not offered first: {}",
        short(&page)
    );
    assert!(page.contains("href=\"/guide/eu\""), "no link to the guide");

    // Setup keeps the language chosen (the password step sends it with the name); the
    // settings show it.
    let mut op = Operator::new(&node);
    op.get("/lang?to=eu&back=/admin");
    let step = op
        .get("/admin?step=password&station_name=Irrati%20Librea")
        .text();
    assert!(
        step.contains("name=\"station_language\" value=\"eu\""),
        "{}",
        short(&step)
    );
    assert!(step.contains("<b>Irrati Librea</b>"), "{}", short(&step));
    let tok = Operator::hidden(&step, "form_token");
    let r = op.post(
        "/admin/setup",
        &[
            ("form_token", &tok),
            ("password", PASSWORD),
            ("password2", PASSWORD),
            ("station_name", "Irrati Librea"),
            ("station_description", ""),
            ("station_language", "eu"),
        ],
    );
    assert_eq!(r.status, 303, "setup: {}", short(&r.text()));
    let dash = op.get("/admin/settings").text();
    assert!(
        dash.contains("<option value=\"eu\" lang=\"eu\" selected>"),
        "station language not kept: {}",
        short(&dash)
    );
    // The operator's own pages back in the browser's language (English) for the messages
    // below.
    op.cookies.retain(|(name, _)| name != "sp2p_lang");

    // A language the box does not speak: said beside the field, nothing saved.
    let csrf = op.csrf();
    let r = op.post(
        "/admin/settings",
        &[
            ("csrf", &csrf),
            ("station_name", "Irrati Librea"),
            ("station_language", "xx"),
        ],
    );
    assert_eq!(r.status, 422);
    assert!(r.text().contains("Pick one of the languages in the list."));

    // The schedule's day list sends numbers (0 = Monday); English names still work.
    let show = |day: &'static str, name: &'static str| {
        vec![
            ("day", day),
            ("start", "18:00"),
            ("end", "19:00"),
            ("name", name),
        ]
    };
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(show("2", "Jazz"));
    form.extend(show("Friday", "Blues"));
    assert_eq!(op.post("/admin/schedule", &form).status, 303);
    // The visitor's own choice (the switch's cookie) says a form's problems in Basque.
    op.cookies.push(("sp2p_lang".into(), "eu".into()));
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(show("9", "Jazz"));
    let r = op.post("/admin/schedule", &form);
    assert_eq!(r.status, 422);
    let text = r.text();
    assert!(
        text.contains("«9» ez da asteko egun bat. Aukeratu zerrendako egun bat."),
        "{}",
        short(&text)
    );
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend(show("0", "Goiza"));
    form.extend(show("0", "Arratsaldea"));
    let text = op.post("/admin/schedule", &form).text();
    assert!(
        text.contains("«Goiza» eta «Arratsaldea» gainjarri egiten dira."),
        "{}",
        short(&text)
    );
    node.assert_alive();
}

/// The operator gives the station a logo from the phone (a photo of another shape, as a
/// browser's form sends it): every icon and the feed's cover become its centre square;
/// what is not a picture is refused with the reason; the drawn logo comes back on request.
#[test]
fn the_station_logo_is_uploaded_from_the_phone_and_used_everywhere() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("one.mp3"), "Episode One", "Radio Test", 3);
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(1);
    let mut op = Operator::new(&node);
    op.setup("Radio Logo");
    // A 1600 x 900 photo by ffmpeg's JPEG encoder: blue in the middle, orange at the sides.
    let photo = tmp.path().join("photo.jpg");
    ffmpeg_to(
        &photo,
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=0xf08020:s=1600x900",
            "-vf",
            "drawbox=x=350:y=0:w=900:h=900:color=0x2040c0:t=fill",
            "-frames:v",
            "1",
        ],
    );
    let photo = std::fs::read(&photo).unwrap();
    let drawn = node.get("/icons/cover-1400.png").body;

    let csrf = op.csrf();
    let r = op.post_file(
        "/admin/logo",
        &[("csrf", &csrf)],
        ("logo", "IMG_2041.jpg", "image/jpeg", &photo),
    );
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    // Back to the page the logo is on, with what happened said.
    assert_eq!(r.header("location"), Some("/admin/settings?done=logo"));
    let page = op.get("/admin/settings?done=logo").text();
    assert!(
        page.contains("The new logo is in place."),
        "{}",
        short(&page)
    );
    assert!(
        page.contains("Go back to the drawn logo"),
        "{}",
        short(&page)
    );

    let icon = |node: &Node, file: &str| {
        let r = node.get(&format!("/icons/{file}"));
        assert_eq!(r.status, 200, "{file}");
        image::load_from_memory_with_format(&r.body, image::ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{file} is not a PNG: {e}"))
            .to_rgb8()
    };
    let near =
        |p: &image::Rgb<u8>, want: [u8; 3]| p.0.iter().zip(want).all(|(a, b)| a.abs_diff(b) <= 12);
    let blue = [0x20, 0x40, 0xc0];
    let cover = icon(&node, "cover-1400.png");
    assert_eq!(cover.dimensions(), (1400, 1400));
    for (x, y) in [(700, 700), (20, 20), (1380, 700)] {
        assert!(
            near(cover.get_pixel(x, y), blue),
            "cover at {x},{y} is {:?}: not the photo's centre square",
            cover.get_pixel(x, y)
        );
    }
    let home = icon(&node, "icon-192.png");
    assert_eq!(home.dimensions(), (192, 192));
    assert!(
        near(home.get_pixel(3, 3), blue),
        "{:?}",
        home.get_pixel(3, 3)
    );
    // A maskable icon keeps the picture inside the part no home screen cuts.
    let maskable = icon(&node, "icon-maskable-512.png");
    assert!(near(maskable.get_pixel(4, 4), [0xff, 0xfd, 0xf8]));
    assert!(near(maskable.get_pixel(256, 256), blue));
    // The feed's cover, as a podcast app reads it.
    let xml = node.get("/feed.xml").text();
    assert!(
        xml.contains(&format!("{}/icons/cover-1400.png", node.base_url())),
        "{}",
        short(&xml)
    );
    check_feed(&tmp.path().join("feed.xml"), &xml, 1, &lib);

    // Not a picture: the reason beside the form, and the logo stays.
    let r = op.post_file(
        "/admin/logo",
        &[("csrf", &csrf)],
        ("logo", "notes.txt", "text/plain", b"this is not a picture"),
    );
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains(
            "This file is not a picture the box can read. Send a JPEG, PNG or WebP picture."
        ),
        "{}",
        short(&r.text())
    );
    assert!(near(
        icon(&node, "cover-1400.png").get_pixel(700, 700),
        blue
    ));
    // Another site's form (no CSRF token) changes nothing.
    let r = op.post_file(
        "/admin/logo",
        &[("csrf", "forged")],
        ("logo", "x.jpg", "image/jpeg", &photo),
    );
    assert_eq!(r.status, 403);
    let cookies = op.cookies.clone();
    drop(op);

    // A power cut right after: the logo was kept before the page said so.
    node.kill();
    node.restart();
    node.wait_healthy(1);
    assert!(near(
        icon(&node, "cover-1400.png").get_pixel(700, 700),
        blue
    ));

    // Back to the drawn logo.
    let mut op = Operator::new(&node);
    op.cookies = cookies;
    let csrf = op.csrf();
    let r = op.post("/admin/logo", &[("csrf", &csrf), ("remove", "1")]);
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    assert_eq!(node.get("/icons/cover-1400.png").body, drawn);
    let settings = op.get("/admin/settings").text();
    assert!(settings.contains("id=\"logo\""), "{}", short(&settings));
    assert!(!settings.contains("Go back to the drawn logo"));
    node.assert_alive();
}

/// Positions of `needles` in `text`, panicking with `what` if one is missing.
fn order_of(text: &str, needles: &[&str], what: &str) -> Vec<usize> {
    needles
        .iter()
        .map(|n| {
            text.find(n)
                .unwrap_or_else(|| panic!("{what}: no {n:?} in {}", short(text)))
        })
        .collect()
}

/// Episodes by the day they were recorded (a date tag, else a date in the file name, else the
/// file's time), newest first on the listen page, the config page, the feed and the API; the
/// operator's notes reach listeners escaped, with web addresses as links and nothing else;
/// each episode has its own page with the card chat apps show, and a gone one says so.
#[test]
fn episodes_come_newest_first_with_their_day_notes_and_own_page() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(
        &lib.join("Programa 2019-03-08.mp3"),
        "Named Show",
        "Radio Test",
        2,
    );
    make_tagged_mp3(&lib.join("plain.mp3"), "Plain Show", "Radio Test", 2);
    ffmpeg_to(
        &lib.join("tagged.mp3"),
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=550:duration=2",
            "-metadata",
            "title=Tagged Show",
            "-metadata",
            "date=2021-06-01",
        ],
    );
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(3);
    let newest_first = ["Plain Show", "Tagged Show", "Named Show"];

    // The API and the feed.
    let titles: Vec<String> = node
        .library()
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(titles, newest_first, "/api/library");
    let named = node.item("Programa 2019-03-08.mp3");
    assert_eq!(named["recorded"], 1_552_003_200u64, "{named}");
    let xml = node.get("/feed.xml").text();
    let feed: Vec<String> = feed_episodes(&xml).into_iter().map(|e| e.title).collect();
    assert_eq!(feed, newest_first, "feed");
    assert!(
        xml.contains("Fri, 08 Mar 2019 00:00:00 GMT"),
        "{}",
        short(&xml)
    );

    // Notes with markup, a web address and a script address, set on the config page.
    let mut op = Operator::new(&node);
    op.setup("Radio Test");
    let tagged = node.item("tagged.mp3");
    let ih = tagged["infohash"].as_str().unwrap().to_string();
    let csrf = op.csrf();
    let notes = "Guests: <script>alert(1)</script>\nMore at https://radio.example.org/show?id=1&x=2 or javascript:alert(2)";
    let r = op.post(
        "/admin/item",
        &[
            ("csrf", &csrf),
            ("infohash", &ih),
            ("title", ""),
            ("description", notes),
        ],
    );
    assert_eq!(r.status, 303, "{}", short(&r.text()));

    let listen = node.get("/").text();
    let at = order_of(
        &listen,
        &newest_first
            .map(|t| ">".to_string() + t + "<")
            .each_ref()
            .map(String::as_str),
        "listen page",
    );
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "listen page not newest first: {at:?}"
    );
    // In the station's language (Spanish by default), as a request without a language gets.
    for day in ["8 de marzo de 2019", "1 de junio de 2021"] {
        assert!(
            listen.contains(day),
            "no {day:?} on the listen page: {}",
            short(&listen)
        );
    }
    assert!(
        listen.contains("Guests: &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        short(&listen)
    );
    assert!(!listen.contains("<script>alert"), "notes not escaped");
    assert!(
        listen.contains("<a href=\"https://radio.example.org/show?id=1&amp;x=2\" rel=\"nofollow ugc noopener\">"),
        "the address in the notes is no link: {}",
        short(&listen)
    );
    assert!(
        !listen.contains("href=\"javascript"),
        "a javascript: address became a link"
    );
    assert!(
        listen.contains(&format!("href=\"/episode/{ih}\"")),
        "no link to the episode's page"
    );

    // The episode's own page and its card.
    let page = node.get(&format!("/episode/{ih}"));
    assert_eq!(page.status, 200);
    let page = page.text();
    let base = node.base_url();
    for want in [
        "<meta property=\"og:title\" content=\"Tagged Show\">".to_string(),
        "<meta property=\"og:site_name\" content=\"Radio Test\">".to_string(),
        format!("<meta property=\"og:image\" content=\"{base}/icons/cover-1400.png\">"),
        format!("<meta property=\"og:url\" content=\"{base}/episode/{ih}\">"),
        format!(
            "<meta property=\"og:audio\" content=\"{}\">",
            tagged["web_seed"].as_str().unwrap()
        ),
        "<title>Tagged Show · Radio Test</title>".to_string(),
        "1 de junio de 2021".to_string(),
        "Guests: &lt;script&gt;".to_string(),
        "Todos los episodios de Radio Test".to_string(),
    ] {
        assert!(
            page.contains(&want),
            "episode page lacks {want:?}: {}",
            short(&page)
        );
    }
    assert!(
        !page.contains("Plain Show"),
        "the episode page lists other episodes"
    );
    let cover = node.get("/icons/cover-1400.png");
    assert_eq!(cover.status, 200, "the card's picture is not served");
    let gone = node.get(&format!("/episode/{}", "0".repeat(40)));
    assert_eq!(gone.status, 404);
    assert!(gone.text().contains("Episodio no encontrado"));

    // The config page: newest first, each with its listeners' page.
    let dash = op.get("/admin/episodes").text();
    let list = dash
        .split("id=\"episodes\"")
        .nth(1)
        .expect("episodes section");
    let list = &list[..list.find("</section>").unwrap_or(list.len())];
    let at = order_of(list, &newest_first, "config page");
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "config page not newest first: {at:?}"
    );
    assert!(
        list.contains(&format!("href=\"/episode/{ih}\"")),
        "no listeners' page link"
    );
    node.assert_alive();
}

/// The Share section never offers the address the operator's own browser used when that is
/// loopback (nobody else can open it), says that nothing is shareable yet, and
/// once one is set offers it as the link anyone can open.
#[test]
fn share_never_offers_a_loopback_address() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    std::fs::create_dir_all(&lib).unwrap();
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(0);
    let mut op = Operator::new(&node);
    op.setup("Radio Test");
    let share = |op: &mut Operator| {
        let page = op.get("/admin/share").text();
        let s = page
            .split("id=\"share\"")
            .nth(1)
            .expect("share section")
            .to_string();
        s[..s.find("</section>").unwrap_or(s.len())].to_string()
    };
    let before = share(&mut op);
    for loopback in ["127.0.0.1", "localhost", "[::1]"] {
        assert!(!before.contains(loopback), "offers {loopback}: {before}");
    }
    assert!(before.contains("No address to share yet"), "{before}");

    let r = op.save_settings(
        "none",
        &lib.display().to_string(),
        &[
            ("station_name", "Radio Test"),
            ("public_url", "http://radio.example.org"),
        ],
    );
    assert_eq!(
        r.status,
        303,
        "{}",
        r.text()
            .split("class=\"error\"")
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(300)
            .collect::<String>()
    );
    assert!(
        r.header("location").is_some_and(|l| l.contains("saved")),
        "a public address needs no restart: {:?}",
        r.header("location")
    );
    let after = share(&mut op);
    assert!(
        after.contains("value=\"http://radio.example.org/\""),
        "{after}"
    );
    assert!(
        after.contains("Anyone on the internet can open this"),
        "{after}"
    );
    assert!(!after.contains("No address to share yet"), "{after}");
    assert!(!after.contains("127.0.0.1"), "{after}");
    node.assert_alive();
}

/// Two phones on the same page: the save made from a page older than another's save is
/// refused, said in words, and the page comes back as it is now: nothing is silently
/// overwritten. Each page's form saves its own fields and leaves the others alone.
#[test]
fn a_stale_page_never_overwrites_a_newer_save() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("show.mp3"), "Show", "Radio Test", 2);
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(1);
    let mut op = Operator::new(&node);
    op.setup("Radio Test");
    let share = op.get("/admin/share").text();
    let seen = Operator::hidden(&share, "seen");
    let csrf = op.csrf();
    let save = |op: &mut Operator, url: &str| {
        op.post(
            "/admin/settings",
            &[
                ("csrf", &csrf),
                ("page", "share"),
                ("seen", &seen),
                ("public_url", url),
            ],
        )
    };
    // The first phone saves.
    let r = save(&mut op, "http://a.example.org");
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    assert_eq!(r.header("location"), Some("/admin/share?done=saved"));
    // The second, from the page it opened before that.
    let r = save(&mut op, "http://b.example.org");
    assert_eq!(r.status, 422, "{}", short(&r.text()));
    let page = r.text();
    assert!(
        page.contains("Someone else saved this page while you were changing it"),
        "{}",
        short(&page)
    );
    assert!(
        page.contains("value=\"http://a.example.org\""),
        "{}",
        short(&page)
    );
    let now = op.get("/admin/share").text();
    assert!(now.contains("value=\"http://a.example.org\"") && !now.contains("b.example.org"));

    // The Settings page's form: the name changes, the public address stays.
    let settings = op.get("/admin/settings").text();
    let r = op.post(
        "/admin/settings",
        &[
            ("csrf", &csrf),
            ("page", "settings"),
            ("seen", &Operator::hidden(&settings, "seen")),
            ("station_name", "Radio Nueva"),
            ("station_description", "Otra"),
            ("station_language", "es"),
            ("max_upload_mb", "500"),
        ],
    );
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    assert!(node.get("/").text().contains("<h1>Radio Nueva</h1>"));
    assert!(op
        .get("/admin/share")
        .text()
        .contains("value=\"http://a.example.org\""));

    // An episode's notes, edited on two phones: the later save from the older page is
    // refused, and the first one's words stay.
    let infohash = node.item("show.mp3")["infohash"]
        .as_str()
        .unwrap()
        .to_string();
    let episodes = op.get("/admin/episodes").text();
    let form = &episodes[episodes.find("action=\"/admin/item\"").unwrap()..];
    let seen = Operator::hidden(form, "seen");
    let edit = |op: &mut Operator, notes: &str| {
        op.post(
            "/admin/item",
            &[
                ("csrf", &csrf),
                ("infohash", &infohash),
                ("seen", &seen),
                ("title", ""),
                ("description", notes),
            ],
        )
    };
    assert_eq!(edit(&mut op, "Guests: Ana and Luis").status, 303);
    let r = edit(&mut op, "Guests: nobody");
    assert_eq!(r.status, 422, "{}", short(&r.text()));
    assert!(r.text().contains("Someone else saved this page"));
    let now = op.get("/admin/episodes").text();
    assert!(now.contains("Guests: Ana and Luis") && !now.contains("Guests: nobody"));
    node.assert_alive();
}

/// The page's text as a person reads it: no scripts, no markup (so no attribute values), and
/// nothing folded away in a `<details>` (the lines a curious operator opens on purpose).
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let mut folded = 0usize;
    while let Some(lt) = rest.find('<') {
        if folded == 0 {
            out.push_str(&rest[..lt]);
            out.push(' ');
        }
        let Some(gt) = rest[lt..].find('>') else {
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        if tag.starts_with("script") {
            rest = rest.find("</script>").map_or("", |end| &rest[end + 9..]);
        } else if tag.starts_with("details") {
            folded += 1;
        } else if tag.starts_with("/details") {
            folded = folded.saturating_sub(1);
        }
    }
    out.push_str(rest);
    out
}

/// The words of the trade (tracker, torrent, peer, magnet, seeding, swarm, infohash, web
/// seed, KiB, MiB) are on no page of the operator's but Technical, unless folded away.
#[test]
fn no_jargon_outside_the_technical_page() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("show.mp3"), "Show", "Radio Test", 2);
    let config = format!("audio = \"sine\"\n{BASE_CONFIG}");
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), &config);
    node.wait_healthy(1);
    let mut op = Operator::new(&node);
    op.setup("Radio Test");
    let words = [
        "tracker", "torrent", "peer", "magnet", "seeding", "swarm", "infohash", "web seed", "kib",
        "mib",
    ];
    let mut found = Vec::new();
    for lang in ["en", "es"] {
        op.cookies.retain(|(k, _)| k != "sp2p_lang");
        op.cookies.push(("sp2p_lang".into(), lang.into()));
        for page in PAGES.iter().filter(|p| !p.contains("technical")) {
            let text = visible_text(&op.get(page).text()).to_lowercase();
            for w in words {
                if let Some(at) = text.find(w) {
                    let from = text.floor_char_boundary(at.saturating_sub(60));
                    let to = text.ceil_char_boundary((at + 60).min(text.len()));
                    found.push(format!("{lang} {page}: {w:?} in {:?}", &text[from..to]));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "jargon on the operator's pages:\n{}",
        found.join("\n")
    );
    node.assert_alive();
}

/// A form refused for one wrong field says so beside that field, in the visitor's
/// language, and keeps every field as typed: the settings, the public address, a schedule
/// whose shows overlap, a too-short password at the first run.
#[test]
fn a_refused_form_keeps_what_was_typed() {
    let tmp = tempdir();
    let mut node = Node::start(tmp.path(), &[], BASE_CONFIG);
    node.wait_healthy(0);
    let mut op = Operator::new(&node);

    // The first run: a too-short password; the name chosen a step before stays.
    let step = op
        .get("/admin?step=password&station_name=Radio%20Nueva")
        .text();
    let tok = Operator::hidden(&step, "form_token");
    let r = op.post(
        "/admin/setup",
        &[
            ("form_token", &tok),
            ("password", "short"),
            ("password2", "short"),
            ("station_name", "Radio Nueva"),
            ("station_language", "en"),
        ],
    );
    assert_eq!(r.status, 422, "{}", short(&r.text()));
    let page = r.text();
    assert!(page.contains("at least 8 characters"), "{}", short(&page));
    assert!(page.contains("<b>Radio Nueva</b>"), "{}", short(&page));
    op.setup("Radio Nueva");
    let csrf = op.csrf();

    // Settings: a wrong number; the name and the description typed stay, nothing is saved.
    let r = op.post(
        "/admin/settings",
        &[
            ("csrf", &csrf),
            ("page", "settings"),
            ("station_name", "Radio Otra"),
            ("station_description", "Desde el barrio"),
            ("station_language", "es"),
            ("max_upload_mb", "mucho"),
        ],
    );
    assert_eq!(r.status, 422, "{}", short(&r.text()));
    let page = r.text();
    assert!(
        page.contains("Write a whole number here"),
        "{}",
        short(&page)
    );
    assert!(page.contains("value=\"Radio Otra\""), "{}", short(&page));
    assert!(
        page.contains(">Desde el barrio</textarea>"),
        "{}",
        short(&page)
    );
    assert!(page.contains("value=\"mucho\""), "{}", short(&page));
    assert!(page.contains("<option value=\"es\" lang=\"es\" selected>"));
    assert!(node.get("/").text().contains("<h1>Radio Nueva</h1>"));

    // Share: a wrong public address, shown again as typed beside its message.
    let r = op.post(
        "/admin/settings",
        &[
            ("csrf", &csrf),
            ("page", "share"),
            ("public_url", "radio punto org"),
        ],
    );
    assert_eq!(r.status, 422, "{}", short(&r.text()));
    let page = r.text();
    assert!(
        page.contains("is not an http(s) address"),
        "{}",
        short(&page)
    );
    assert!(
        page.contains("value=\"radio punto org\""),
        "{}",
        short(&page)
    );

    // Schedule: two shows that overlap; both rows come back as typed.
    let mut form = vec![("csrf", csrf.as_str())];
    for (day, start, end, name) in [
        ("0", "18:00", "19:30", "Jazz"),
        ("0", "19:00", "20:00", "Blues"),
    ] {
        form.extend([
            ("day", day),
            ("start", start),
            ("end", end),
            ("name", name),
            ("kind", "live"),
        ]);
    }
    let r = op.post("/admin/schedule", &form);
    assert_eq!(r.status, 422, "{}", short(&r.text()));
    let page = r.text();
    assert!(page.contains("overlap"), "{}", short(&page));
    for typed in ["value=\"Jazz\"", "value=\"Blues\"", "value=\"19:30\""] {
        assert!(page.contains(typed), "{typed}: {}", short(&page));
    }
    assert!(!op.get("/admin/schedule").text().contains("value=\"Jazz\""));
    node.assert_alive();
}
