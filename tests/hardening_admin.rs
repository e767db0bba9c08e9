//! A config page that cannot be taken over, and public answers that give nothing away
//! (issue 13, items 5 and 6): uploads refused before their bodies are read, no answer under
//! a foreign `Host` (DNS rebinding), the sound devices for the operator only, and no full
//! paths in public JSON.

mod common;

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use common::*;

/// The node's resident memory in KiB (`VmRSS` in /proc/PID/status).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// Sends a request head with `Content-Length: len`, then up to `len` bytes of body while
/// the server takes them; returns the status line's code (0 if none came).
fn put_body(node: &Node, target: &str, extra: &str, len: usize) -> u16 {
    let mut s = TcpStream::connect(node.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "PUT {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {len}\r\n{extra}\r\n",
        node.http
    );
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![0x55u8; 64 * 1024];
    let mut sent = 0;
    while sent < len {
        // The server may answer and close before taking the body: that is the point.
        match s.write(&chunk[..chunk.len().min(len - sent)]) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn upload_chunks_are_refused_before_their_bodies_are_read() {
    let tmp = tempdir();
    let mut node = Node::start(tmp.path(), &[], BASE_CONFIG);
    node.wait_healthy(0);
    let mut op = Operator::new(&node);
    op.setup("Radio Upload");
    let csrf = op.csrf();
    let pid = node.pid();
    thread::sleep(Duration::from_millis(500));
    let before = rss_kib(pid);

    // The highest resident memory while the PUTs come in, sampled every 20 ms.
    let peak = Arc::new(AtomicU64::new(before));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = thread::spawn({
        let (peak, done) = (peak.clone(), done.clone());
        move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                thread::sleep(Duration::from_millis(20));
            }
        }
    });
    // 40 unauthenticated 4 MiB PUTs at once, to an upload id that may or may not exist.
    let node_ref = &node;
    let statuses: Vec<u16> = thread::scope(|s| {
        let puts: Vec<_> = (0..40)
            .map(|i| {
                s.spawn(move || {
                    put_body(
                        node_ref,
                        &format!("/admin/uploads/{i:032x}?offset=0"),
                        "",
                        4 * 1024 * 1024,
                    )
                })
            })
            .collect();
        puts.into_iter().map(|p| p.join().unwrap()).collect()
    });
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let grew_mib = peak.load(Ordering::Relaxed).saturating_sub(before) as f64 / 1024.0;
    eprintln!(
        "resident memory {} MiB before, peak growth {grew_mib:.1} MiB during 40 unauthenticated \
         4 MiB PUTs; statuses {statuses:?}",
        before / 1024
    );
    for st in &statuses {
        // No session: sent to the login (303); never taken.
        assert!(*st == 303 || *st == 403, "an unauthenticated PUT got {st}");
    }
    assert!(
        grew_mib < 32.0,
        "resident memory grew by {grew_mib:.1} MiB under unauthenticated PUTs"
    );

    // Logged in, a chunk declared larger than the page ever sends is refused from its
    // headers: the answer comes while the body has not been sent at all.
    let mut s = TcpStream::connect(node.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "PUT /admin/uploads/{:032x}?offset=0 HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\n\
         X-CSRF-Token: {csrf}\r\nContent-Length: {}\r\n\r\n",
        7,
        node.http,
        op.cookie_header(),
        512 * 1024 * 1024
    )
    .unwrap();
    let t = Instant::now();
    let mut head = [0u8; 64];
    let n = s.read(&mut head).expect("an answer before any body byte");
    let line = String::from_utf8_lossy(&head[..n]).into_owned();
    assert!(line.starts_with("HTTP/1.1 413"), "{line:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
    node.assert_alive();
}

/// The `Set-Cookie` values of an answer, for the refusals that must set none.
fn cookies(r: &Resp) -> Vec<&str> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A request with the given `Host` (the helpers send the node's address).
fn with_host(node: &Node, method: &str, target: &str, host: &str, rest: &str, body: &str) -> Resp {
    let mut s = TcpStream::connect(node.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{rest}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Resp {
        status,
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn a_foreign_host_gets_nothing_from_a_new_box() {
    let tmp = tempdir();
    let mut node = Node::start(tmp.path(), &[], BASE_CONFIG);
    node.wait_healthy(0);

    // DNS rebinding: a page on evil.example whose name now resolves to the box.
    let page = with_host(&node, "GET", "/admin", "evil.example", "", "");
    assert_eq!(page.status, 403, "{}", page.text());
    assert!(cookies(&page).is_empty(), "{:?}", page.headers);
    assert!(!page.text().contains("form_token"), "{}", page.text());

    // Even holding a real form token (as if it had one), the first-run form is refused.
    let mut op = Operator::new(&node);
    let form = op.get("/admin?step=password").text();
    let token = Operator::hidden(&form, "form_token");
    let body = form_urlencoded_body(&[
        ("form_token", &token),
        ("password", "attacker chose this"),
        ("password2", "attacker chose this"),
        ("station_name", "Taken"),
        ("station_description", ""),
    ]);
    let rest = format!(
        "Cookie: {}\r\nOrigin: http://evil.example\r\nContent-Type: \
         application/x-www-form-urlencoded\r\n",
        op.cookie_header()
    );
    for host in [
        "evil.example",
        "evil.example:80",
        "streamp2p.local.evil.example",
    ] {
        let r = with_host(&node, "POST", "/admin/setup", host, &rest, &body);
        assert_eq!(r.status, 403, "Host {host}: {}", r.text());
        assert!(cookies(&r).is_empty(), "Host {host}: {:?}", r.headers);
    }
    // No password was set: the box still shows its first-run form, and the owner sets it up
    // under its own address.
    let again = op.get("/admin?step=password").text();
    assert!(
        again.contains("password2"),
        "not the first-run form: {}",
        short(&again)
    );
    op.setup("Radio Own");
    // The box's own names work: localhost and streamp2p.local.
    for host in ["localhost", "streamp2p.local", &node.http.to_string()] {
        let r = with_host(&node, "GET", "/admin", host, "", "");
        assert_eq!(r.status, 200, "Host {host}");
    }
    node.assert_alive();
}

#[test]
fn sound_devices_are_for_the_operator_only() {
    let tmp = tempdir();
    let mut node = Node::start(tmp.path(), &[], BASE_CONFIG);
    node.wait_healthy(0);
    assert_eq!(node.get("/api/audio/devices").status, 404);
    let anonymous = node.get("/admin/audio/devices");
    assert_eq!(anonymous.status, 303, "{}", anonymous.text());
    let mut op = Operator::new(&node);
    op.setup("Radio Devices");
    let r = op.get("/admin/audio/devices");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().is_array(), "{}", r.text());
}

/// Every public JSON answer (and the metrics), as text.
fn public_json(node: &Node) -> Vec<(String, String)> {
    [
        "/metrics",
        "/api/health",
        "/api/library",
        "/api/library/problems",
        "/api/tracker",
        "/api/catalog",
        "/api/federation",
    ]
    .iter()
    .map(|p| {
        let r = node.get(p);
        assert_eq!(r.status, 200, "{p}");
        (p.to_string(), r.text())
    })
    .collect()
}

#[test]
fn public_answers_show_no_paths_and_folders_out_of_the_library_are_not_followed() {
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    let outside = tmp.path().join("private");
    write_random(&lib.join("shows/one.mp3"), 40_000);
    write_random(&outside.join("secret.mp3"), 40_000);
    std::fs::write(lib.join("shows/empty.mp3"), b"").unwrap();
    std::os::unix::fs::symlink(&outside, lib.join("escape")).unwrap();
    let mut node = Node::start(tmp.path(), std::slice::from_ref(&lib), BASE_CONFIG);
    node.wait_healthy(1);
    assert!(node.find_item("secret.mp3").is_none());

    let problems = node.wait_until("both problems listed", Duration::from_secs(20), |n| {
        let list = n.get("/api/library/problems").json();
        match list.as_array() {
            Some(l) if l.len() >= 2 => Ok(list),
            _ => Err(list.to_string()),
        }
    });
    let find = |place: &str| {
        problems
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"] == place)
            .unwrap_or_else(|| panic!("{place} not in {problems}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        find("library/escape"),
        "folder symlink leads outside the library"
    );
    assert_eq!(find("library/shows/empty.mp3"), "empty file");

    let roots: Vec<String> = [
        tmp.path(),
        lib.as_path(),
        outside.as_path(),
        node.data_dir.as_path(),
    ]
    .iter()
    .map(|p: &&Path| p.display().to_string())
    .collect();
    for (path, text) in public_json(&node) {
        for root in &roots {
            assert!(
                !text.contains(root.as_str()),
                "{path} shows {root}: {}",
                short(&text)
            );
        }
    }
}
