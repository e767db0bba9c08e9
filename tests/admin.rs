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

const PASSWORD: &str = "correct horse battery";

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

/// A browser-like client of the config page: cookies kept, forms posted.
struct Operator<'a> {
    node: &'a Node,
    cookies: Vec<(String, String)>,
}

impl<'a> Operator<'a> {
    fn new(node: &'a Node) -> Self {
        Self {
            node,
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, r: &Resp) {
        for (k, v) in &r.headers {
            if !k.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = v.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_string(), value.to_string()));
                }
            }
        }
    }

    fn get(&mut self, target: &str) -> Resp {
        let c = self.cookie_header();
        let r = self
            .node
            .request("GET", target, &[("Cookie", &c)])
            .expect("GET");
        self.keep_cookies(&r);
        r
    }

    fn post(&mut self, target: &str, form: &[(&str, &str)]) -> Resp {
        let body: String = form_urlencoded_body(form);
        let c = self.cookie_header();
        let len = body.len().to_string();
        let r = http_request_with_body(
            self.node.http,
            "POST",
            target,
            &[
                ("Cookie", &c),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", &len),
            ],
            body.as_bytes(),
        )
        .expect("POST");
        self.keep_cookies(&r);
        r
    }

    /// The hidden value of input `name` in the last page.
    fn hidden(page: &str, name: &str) -> String {
        let at = page
            .find(&format!("name=\"{name}\" value=\""))
            .unwrap_or_else(|| panic!("no hidden {name} in {}", short(page)));
        let rest = &page[at + name.len() + 15..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    fn setup(&mut self, station: &str) {
        let page = self.get("/admin").text();
        let tok = Self::hidden(&page, "form_token");
        let r = self.post(
            "/admin/setup",
            &[
                ("form_token", &tok),
                ("password", PASSWORD),
                ("password2", PASSWORD),
                ("station_name", station),
                ("station_description", "Test station"),
            ],
        );
        assert_eq!(r.status, 303, "setup: {}", short(&r.text()));
    }

    fn login(&mut self, password: &str) -> Resp {
        let page = self.get("/admin").text();
        let tok = Self::hidden(&page, "form_token");
        self.post(
            "/admin/login",
            &[("form_token", &tok), ("password", password)],
        )
    }

    fn csrf(&mut self) -> String {
        let page = self.get("/admin");
        assert_eq!(page.status, 200);
        Self::hidden(&page.text(), "csrf")
    }
}

fn form_urlencoded_body(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                urlencode_all(k.as_bytes()),
                urlencode_all(v.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `http_request` with a body.
fn http_request_with_body(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    // Reuse the common parser through a GET-shaped response: status, headers, body.
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: raw.get(end + 4..).unwrap_or(&[]).to_vec(),
    })
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

#[test]
fn feed_parses_with_a_real_feed_parser() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("one.mp3"), "Episode One", "Radio Test", 5);
    make_tagged_mp3(&lib.join("two.mp3"), "Episode Two", "Radio Test", 5);
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(2);
    let feed = tmp.path().join("feed.xml");
    std::fs::write(&feed, node.get("/feed.xml").body).unwrap();
    let script = repo_root().join("tests").join("py").join("check_feed.py");
    let out = Command::new(python_with_feedparser())
        .arg(&script)
        .arg(&feed)
        .arg("2")
        .output()
        .expect("run python");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "feedparser: {text}");
    assert!(text.contains("ok"), "{text}");
    node.assert_alive();
}

/// The Python that has Debian's feedparser (`scripts/test.sh` installs python3-feedparser
/// and names it in STREAMP2P_PYTHON): Debian's own, not one first on the PATH.
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
        let text = page.text();
        assert!(text.contains("Log out"), "session lost after kill -9");
        assert!(text.contains(expect), "{expect} lost after kill -9");
    }
    let page = {
        let mut op = Operator::new(&node);
        op.cookies = cookies.clone();
        op.get("/admin").text()
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
