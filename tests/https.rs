//! HTTPS with automatic certificates, against Debian's `pebble` (Let's Encrypt's ACME test
//! server) in a network namespace: the node gets its first certificate by answering the
//! TLS-ALPN-01 challenge on its https port, serves the listen page over https with it,
//! renews it when it nears its end, and a challenge the CA cannot reach is reported on the
//! config page and in `/api/health` while plain http keeps serving.
//!
//! Layout (subnet 10.15.4.0/24): namespace "ca" at 10.15.4.1 holds pebble and the test's
//! https clients (curl, openssl); namespace "box" at 10.15.4.2 holds two nodes. `radio.test`
//! is the first node's name (its https on 10.15.4.2:443); `refused.test` points at
//! 10.15.4.1, where nothing listens on 443, so pebble's validation of the second node is
//! refused (a router that does not forward the port).
//!
//! Pebble runs with `PEBBLE_VA_NOSLEEP=1` (no random validation delay), never
//! `PEBBLE_VA_ALWAYS_VALID`: the challenge code runs; `PEBBLE_AUTHZREUSE=0` so the renewal
//! is validated again, and certificates last 90 s, so the node renews after 60.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

const CA_ADDR: &str = "10.15.4.1";
const BOX_ADDR: &str = "10.15.4.2";
/// Seconds a pebble certificate lasts.
const VALIDITY_SECS: u64 = 90;

/// A child killed on drop, its log shown if the test fails.
struct Running {
    child: Child,
    _log: ShowLogOnPanic,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd`, panicking with its output if it fails; its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A test CA and pebble's own https certificate (for its ACME directory at 10.15.4.1)
/// signed by it: `ca.pem`, `pebble.pem`, `pebble.key` in `dir`.
fn pebble_certificates(dir: &Path) {
    let ossl = |args: &[&str]| run(Command::new("openssl").current_dir(dir).args(args));
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=streamp2p test CA",
    ]);
    ossl(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "pebble.key",
        "-out",
        "pebble.csr",
        "-subj",
        "/CN=pebble",
    ]);
    ossl(&csr);
    std::fs::write(
        dir.join("ext.cnf"),
        format!(
            "subjectAltName=IP:{CA_ADDR}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        "pebble.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "pebble.pem",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
    ]);
}

/// Starts pebble in `ns`, validating TLS-ALPN-01 on port 443.
fn start_pebble(ns: &Netns, dir: &Path) -> Running {
    let config = serde_json::json!({ "pebble": {
        "listenAddress": format!("{CA_ADDR}:14000"),
        "managementListenAddress": format!("{CA_ADDR}:15000"),
        "certificate": dir.join("pebble.pem"),
        "privateKey": dir.join("pebble.key"),
        "httpPort": 80,
        "tlsPort": 443,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
        "certificateValidityPeriod": VALIDITY_SECS,
    }});
    std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
    let log_path = dir.join("pebble.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = ns
        .command("pebble")
        .arg("-config")
        .arg(dir.join("pebble.json"))
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_AUTHZREUSE", "0")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn pebble (apt-get install pebble)");
    let running = Running {
        child,
        _log: ShowLogOnPanic::new("pebble", log_path),
    };
    // Its directory answers once it listens.
    let ca = dir.join("ca.pem");
    wait_for("pebble's directory", Duration::from_secs(20), || {
        curl(
            ns,
            &[
                "--cacert",
                path(&ca),
                &format!("https://{CA_ADDR}:14000/dir"),
            ],
        )
        .filter(|(code, _)| *code == 200)
    });
    running
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// curl in `ns`: (status, body), or None when it could not connect or verify.
fn curl(ns: &Netns, args: &[&str]) -> Option<(u16, String)> {
    let out = ns
        .command("curl")
        .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n')?;
    Some((code.trim().parse().ok()?, body.to_string()))
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The serial of the certificate `radio.test:443` presents, read by openssl in `ns`.
fn served_serial(ns: &Netns) -> String {
    let mut s_client = ns
        .command("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("{BOX_ADDR}:443"),
            "-servername",
            "radio.test",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pem = s_client.stdout.take().unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(pem)
        .output()
        .unwrap();
    let _ = s_client.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .strip_prefix("serial=")
        .unwrap_or_else(|| panic!("no serial from openssl: {text}"))
        .to_ascii_lowercase()
}

fn https_status(node: &Node) -> Value {
    node.health().expect("/api/health")["https"].clone()
}

/// A node in `ns` whose public address is `https://NAME`, its https on `https`, its
/// certificates from pebble (trusting the test CA for the directory).
fn node_for(
    ns: &Netns,
    root: &Path,
    name: &str,
    https: &str,
    ca: &Path,
    library: &[PathBuf],
) -> Node {
    // Top-level keys before the tables of BASE_CONFIG.
    let config = format!(
        "public_url = \"https://{name}\"\nhttps = \"{https}\"\n{BASE_CONFIG}\n[tls]\n\
         acme_directory = \"https://{CA_ADDR}:14000/dir\"\nacme_ca_file = \"{}\"\n",
        path(ca)
    );
    std::fs::create_dir_all(root).unwrap();
    Node::start_in(ns, BOX_ADDR.parse().unwrap(), root, library, &config)
}

#[test]
fn pebble_issues_renews_and_a_refused_challenge_is_reported() {
    let tmp = tempdir();
    let dir = tmp.path();
    let ca_ns = Netns::new("ca");
    let box_ns = Netns::new("box");
    ca_ns.link(&format!("{CA_ADDR}/24"), &box_ns, &format!("{BOX_ADDR}/24"));
    // pebble's validation resolves the names through the ca namespace's /etc/hosts.
    ca_ns.hosts(&format!("{BOX_ADDR} radio.test\n{CA_ADDR} refused.test\n"));
    pebble_certificates(dir);
    let ca = dir.join("ca.pem");
    let _pebble = start_pebble(&ca_ns, dir);

    let lib = dir.join("library");
    make_tagged_mp3(&lib.join("morning.mp3"), "Morning Show", "Radio Test", 10);
    let mut radio = node_for(
        &box_ns,
        &dir.join("radio"),
        "radio.test",
        &format!("{BOX_ADDR}:443"),
        &ca,
        &[lib],
    );
    let mut refused = node_for(
        &box_ns,
        &dir.join("refused"),
        "refused.test",
        &format!("{BOX_ADDR}:8443"),
        &ca,
        &[],
    );
    radio.wait_healthy(1);
    refused.wait_healthy(0);

    // The first certificate.
    let first = wait_for("the first certificate", Duration::from_secs(60), || {
        let s = https_status(&radio);
        s["certificate"]["serial"].as_str().map(str::to_string)
    });
    assert_eq!(https_status(&radio)["source"], "acme");
    assert_eq!(
        served_serial(&ca_ns),
        first,
        "the node serves the certificate it reports"
    );

    // It chains to pebble's root: curl verifies it with that root alone.
    let (code, root) = curl(
        &ca_ns,
        &[
            "--cacert",
            path(&ca),
            &format!("https://{CA_ADDR}:15000/roots/0"),
        ],
    )
    .expect("pebble's root");
    assert_eq!(code, 200);
    let root_pem = dir.join("pebble-root.pem");
    std::fs::write(&root_pem, root).unwrap();
    let resolve = format!("radio.test:443:{BOX_ADDR}");
    let https = |target: &str, extra: &[&str]| {
        let mut args = vec!["--cacert", path(&root_pem), "--resolve", &resolve];
        args.extend_from_slice(extra);
        let url = format!("https://radio.test{target}");
        args.push(&url);
        curl(&ca_ns, &args).unwrap_or_else(|| panic!("https GET {target} failed"))
    };
    let (code, page) = https("/", &[]);
    assert_eq!(code, 200, "the listen page over https");
    assert!(
        page.contains("wss://radio.test/announce"),
        "a page opened over https gets the wss tracker: {}",
        &page[..page.len().min(2000)]
    );
    let (code, health) = https("/api/health", &[]);
    assert_eq!(code, 200);
    assert!(health.contains("\"https\""));
    // Torrents and magnets list the wss tracker for browsers.
    let (code, library) = https("/api/library", &[]);
    assert_eq!(code, 200);
    let library: Value = serde_json::from_str(&library).unwrap();
    let magnet = library[0]["magnet"].as_str().unwrap_or_default();
    assert!(
        magnet.contains("tr=wss%3A%2F%2Fradio%2Etest%2Fannounce"),
        "{magnet}"
    );
    // Cookies set over https are Secure.
    let (_, headers) = https("/lang?to=en&back=/", &["-D", "-", "-o", "/dev/null"]);
    let cookie = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {headers}"));
    assert!(cookie.contains("; Secure"), "{cookie}");
    // Plain http: pages by the public name move to https, by the box's address they stay;
    // the API stays on http.
    let plain = format!("http://{}", radio.http);
    let (code, _) = curl(
        &box_ns,
        &[
            "-H",
            "Host: radio.test",
            "-o",
            "/dev/null",
            &format!("{plain}/"),
        ],
    )
    .expect("plain http");
    assert_eq!(
        code, 308,
        "the listen page by the public name moves to https"
    );
    let (_, headers) = curl(
        &box_ns,
        &[
            "-H",
            "Host: radio.test",
            "-D",
            "-",
            "-o",
            "/dev/null",
            &format!("{plain}/admin"),
        ],
    )
    .unwrap();
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("location: https://radio.test/admin"),
        "{headers}"
    );
    assert_eq!(
        radio.get("/").status,
        200,
        "by the box's address the page stays on http"
    );
    let (code, _) = curl(
        &box_ns,
        &[
            "-H",
            "Host: radio.test",
            "-o",
            "/dev/null",
            &format!("{plain}/api/health"),
        ],
    )
    .unwrap();
    assert_eq!(code, 200, "the API stays on plain http");
    let (code, _) = curl(
        &box_ns,
        &[
            "-H",
            "Host: radio.test",
            "-o",
            "/dev/null",
            &format!("{plain}/feed.xml"),
        ],
    )
    .unwrap();
    assert_eq!(code, 200, "the feed stays on plain http");

    // Chromium over https: a secure context, the episode played through the service
    // worker. It trusts the certificates by the key of pebble's intermediate.
    let (code, intermediate) = curl(
        &ca_ns,
        &[
            "--cacert",
            path(&ca),
            &format!("https://{CA_ADDR}:15000/intermediates/0"),
        ],
    )
    .expect("pebble's intermediate");
    assert_eq!(code, 200);
    std::fs::write(dir.join("intermediate.pem"), intermediate).unwrap();
    let spki = run(Command::new("sh").current_dir(dir).args([
        "-c",
        "openssl x509 -in intermediate.pem -pubkey -noout | openssl pkey -pubin -outform der \
         | openssl dgst -sha256 -binary | base64",
    ]));
    let out = run_node(
        ca_ns.command("node"),
        "https_listen.mjs",
        &[
            "--base=https://radio.test".into(),
            "--title=Morning Show".into(),
            format!("--spki={}", spki.trim()),
            format!("--map=MAP radio.test {BOX_ADDR}"),
        ],
        Duration::from_secs(110),
    );
    assert!(out.contains("ok"), "{out}");

    // The refused challenge: said on the config page and in the JSON status; plain http
    // still serves the pages (no redirect, no certificate).
    let problem = wait_for("the refused challenge", Duration::from_secs(60), || {
        let s = https_status(&refused);
        (!s["problem"].is_null()).then(|| s["problem"].clone())
    });
    assert_eq!(problem["kind"], "challenge_failed", "{problem}");
    assert!(https_status(&refused)["certificate"].is_null());
    assert_eq!(refused.get("/").status, 200, "plain http keeps serving");
    let mut op = Operator::new(&refused);
    op.setup("Refused Radio");
    let dash = op.get("/admin/share").text();
    assert!(
        dash.contains(
            "The certificate service could not reach the box under the name refused.test"
        ),
        "the dashboard says it in plain words"
    );
    assert!(dash.contains("keeps working without the padlock"));

    // The renewal, at two thirds of the 90 s: a new serial, served.
    let second = wait_for("the renewal", Duration::from_secs(VALIDITY_SECS), || {
        let s = https_status(&radio);
        s["certificate"]["serial"]
            .as_str()
            .filter(|serial| *serial != first)
            .map(str::to_string)
    });
    assert!(https_status(&radio)["issued"].as_u64() >= Some(2));
    assert_eq!(
        served_serial(&ca_ns),
        second,
        "the renewed certificate is served"
    );
    let (code, _) = https("/", &[]);
    assert_eq!(code, 200);

    radio.assert_alive();
    refused.assert_alive();
}

/// With `tls.cert_file` and `tls.key_file`, a renewal written over the files (as certbot
/// or an operator copying files does, one file after the other) is served without a
/// restart; the half-way state, a certificate without its key, is reported and the old
/// certificate stays in use meanwhile.
#[test]
fn certificate_files_are_read_again_when_they_change() {
    let tmp = tempdir();
    let dir = tmp.path();
    let client_ns = Netns::new("ca");
    let box_ns = Netns::new("box");
    client_ns.link(&format!("{CA_ADDR}/24"), &box_ns, &format!("{BOX_ADDR}/24"));
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    self_signed("radio.test", &cert, &key);
    let config = format!(
        "https = \"{BOX_ADDR}:443\"\n{BASE_CONFIG}\n[tls]\ncert_file = \"{}\"\n\
         key_file = \"{}\"\nfiles_check_secs = 1\n",
        path(&cert),
        path(&key)
    );
    let mut node = Node::start_in(
        &box_ns,
        BOX_ADDR.parse().unwrap(),
        &dir.join("node"),
        &[],
        &config,
    );
    node.wait_healthy(0);
    let status = https_status(&node);
    assert_eq!(status["source"], "files", "{status}");
    let first = status["certificate"]["serial"]
        .as_str()
        .unwrap_or_else(|| panic!("no certificate: {status}"))
        .to_string();
    assert_eq!(served_serial(&client_ns), first);

    // The renewal: the new certificate first, its key a moment later.
    let (new_cert, new_key) = (dir.join("new-cert.pem"), dir.join("new-key.pem"));
    self_signed("radio.test", &new_cert, &new_key);
    std::fs::copy(&new_cert, &cert).unwrap();
    let halfway = wait_for(
        "the unmatched key reported",
        Duration::from_secs(30),
        || {
            let s = https_status(&node);
            (s["problem"]["kind"] == "bad_certificate").then_some(s)
        },
    );
    assert_eq!(
        halfway["certificate"]["serial"],
        first.as_str(),
        "{halfway}"
    );
    assert_eq!(
        served_serial(&client_ns),
        first,
        "the old one is served meanwhile"
    );
    // The dashboard says so in plain words.
    let mut op = Operator::new(&node);
    op.setup("Radio Ficheros");
    let page = op.get("/admin/share").text();
    assert!(
        page.contains("keeps using the certificate it had"),
        "{}",
        short(&page)
    );
    // On a phone on the LAN, with the problem showing: the padlock section passes axe-core's
    // WCAG 2.1 A/AA rules and fits the screen, in Spanish and English.
    let out = check_dashboard_section(&box_ns, &node, "https", &dir.join("shots"));
    assert!(
        out.contains("sigue usando el certificado que tenía"),
        "{out}"
    );
    assert!(out.contains("keeps using the certificate it had"), "{out}");

    std::fs::copy(&new_key, &key).unwrap();
    let second = wait_for("the renewed certificate", Duration::from_secs(30), || {
        let s = https_status(&node);
        let serial = s["certificate"]["serial"].as_str()?;
        (serial != first).then(|| serial.to_string())
    });
    let status = https_status(&node);
    assert!(status["problem"].is_null(), "{status}");
    assert_eq!(served_serial(&client_ns), second);
    node.assert_alive();
}
