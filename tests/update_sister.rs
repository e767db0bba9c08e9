//! System updates from a sister station (issue 17): two nodes on loopback, RAUC replaced by
//! a stub script. The origin gets a signed update from the update server, installs it and
//! shares it; the follower, whose update server is down, reads the manifest the origin
//! publishes, checks it against the release keyring, fetches the bundle over BitTorrent
//! from the origin's swarm, installs it (the stub gets the very bytes) and asks for a
//! restart. A sister's manifest signed with another key is refused and nothing installed.

mod common;

use std::{
    io::{Read, Write},
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use common::*;

/// What the stub says RAUC runs: slot A, version 1, for the test's kind of box.
const RAUC_STATUS: &str = r#"{"compatible":"streamp2p-test","booted":"A","slots":[{"rootfs.0":{"bootname":"A","state":"booted","boot_status":"good","slot_status":{"bundle":{"compatible":"streamp2p-test","version":"1"},"status":"ok"}}},{"rootfs.1":{"bootname":"B","state":"inactive","boot_status":"good","slot_status":{"status":"ok"}}}]}"#;
/// The update's bundle, as the update server names it.
const BUNDLE: &str = "streamp2p-test-2.raucb";
/// First check 20 s after the node is healthy, then every 10 s: both nodes have theirs
/// within the test's minute.
const UPDATE_WAIT: Duration = Duration::from_secs(60);

/// One node's side of the updates: its folder of stub and files, and its `[update]` table.
struct Appliance {
    dir: PathBuf,
    /// Where the stub copies the bundle RAUC is asked to install.
    installed: PathBuf,
    reboot: PathBuf,
}

impl Appliance {
    /// The stub RAUC and the update files in `dir`.
    fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let installed = dir.join("installed.raucb");
        let stub = dir.join("rauc");
        let script = format!(
            r#"#!/bin/sh
case "$1 $2" in
  "status --detailed") echo '{RAUC_STATUS}' ;;
  "status mark-good"|"status mark-bad") ;;
  install*)
    echo "  0% Installing"
    cp "$2" "{installed}" || exit 1
    echo " 50% Installing"
    echo "100% Installing done." ;;
  *) echo "the test's rauc stub: $*?" >&2; exit 1 ;;
esac
"#,
            installed = installed.display()
        );
        std::fs::write(&stub, script).unwrap();
        let made = Command::new("chmod")
            .arg("755")
            .arg(&stub)
            .status()
            .unwrap();
        assert!(made.success());
        Self {
            dir: dir.to_path_buf(),
            installed,
            reboot: dir.join("reboot"),
        }
    }

    /// The `[update]` table: checks of `url` (and the followed stations) against `keyring`.
    fn config(&self, url: &str, keyring: &Path) -> String {
        format!(
            "[update]\nurl = \"{url}\"\nautomatic = true\ncheck_secs = 10\nkeyring = \"{}\"\n\
             rauc = \"{}\"\nversion_file = \"{}\"\nboot_failure_file = \"{}\"\n\
             reboot_file = \"{}\"\n",
            keyring.display(),
            self.dir.join("rauc").display(),
            self.dir.join("version").display(),
            self.dir.join("last-failure").display(),
            self.reboot.display(),
        )
    }
}

/// A release key pair (`<name>.cert.pem`, `<name>.key.pem`) in `dir`.
fn release_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.cert.pem")),
        dir.join(format!("{name}.key.pem")),
    );
    self_signed(name, &cert, &key);
    (cert, key)
}

/// The signed manifest of `bundle` (version 2), made as releases are, by
/// `image/sign-manifest.sh`, with `key`.
fn sign_manifest(bundle: &Path, (cert, key): &(PathBuf, PathBuf), out: &Path) -> Vec<u8> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("image/sign-manifest.sh");
    let run = Command::new(script)
        .args([Path::new("2"), bundle, Path::new("Test update.")])
        .env("RELEASE_CERT", cert)
        .env("RELEASE_KEY", key)
        .env("MANIFEST", out)
        .output()
        .expect("run image/sign-manifest.sh");
    assert!(
        run.status.success(),
        "sign-manifest.sh: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read(out).unwrap()
}

/// An HTTP server answering `GET /<name>` with `files[name]` and 404 otherwise; counts
/// the requests for the bundle.
fn serve_files(files: Vec<(String, Vec<u8>)>) -> (String, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let bundle_asked = Arc::new(AtomicUsize::new(0));
    let asked = bundle_asked.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let target = req.split(' ').nth(1).unwrap_or("").to_string();
            if target.ends_with(".raucb") {
                asked.fetch_add(1, Ordering::SeqCst);
            }
            let found = files.iter().find(|(name, _)| target == format!("/{name}"));
            let (status, body) = match found {
                Some((_, body)) => ("200 OK", body.as_slice()),
                None => ("404 Not Found", &b"not found"[..]),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    (url, bundle_asked)
}

/// An address nobody answers at: the follower's update server, down.
fn dead_server() -> String {
    format!(
        "http://127.0.0.1:{}/streamp2p-test-2.manifest",
        free_tcp_port()
    )
}

fn follower_config(boxed: &Appliance, keyring: &Path, station: &str) -> String {
    format!(
        "{BASE_CONFIG}\n[federation]\nfollow = [\"{station}\"]\npoll_secs = 5\n\
         allow_private_addresses = true\n\n{}",
        boxed.config(&dead_server(), keyring)
    )
}

fn log_of(node: &Node) -> String {
    std::fs::read_to_string(&node.log_path).unwrap_or_default()
}

#[test]
fn a_follower_gets_the_update_from_its_origin_over_bittorrent_with_the_update_server_down() {
    let tmp = tempdir();
    let keys = release_key(tmp.path(), "release");
    let bundle = tmp.path().join("server").join(BUNDLE);
    write_random(&bundle, 4 * MIB);
    let bundle_bytes = std::fs::read(&bundle).unwrap();
    let manifest = sign_manifest(&bundle, &keys, &tmp.path().join("server/2.manifest"));
    let (server, bundle_asked) = serve_files(vec![
        ("streamp2p-test-2.manifest".into(), manifest.clone()),
        (BUNDLE.into(), bundle_bytes.clone()),
    ]);

    // The origin: the update server's manifest and bundle, installed and shared.
    let origin_box = Appliance::new(&tmp.path().join("origin-box"));
    let origin_config = format!(
        "{BASE_CONFIG}\n[federation]\nallow_private_addresses = true\n\n{}",
        origin_box.config(&format!("{server}/streamp2p-test-2.manifest"), &keys.0)
    );
    let mut origin = Node::start(&tmp.path().join("origin"), &[], &origin_config);
    origin.wait_healthy(0);
    // The follower: its update server down, the origin followed.
    let follower_box = Appliance::new(&tmp.path().join("follower-box"));
    let cfg = follower_config(&follower_box, &keys.0, &origin.base_url());
    let mut follower = Node::start(&tmp.path().join("follower"), &[], &cfg);
    follower.wait_healthy(0);

    assert_eq!(
        origin.get("/api/update/manifest").status,
        404,
        "nothing is shared before it is installed"
    );
    origin.wait_until(
        "the origin installs and shares the update",
        UPDATE_WAIT,
        |n| {
            let r = n.get("/api/update/manifest");
            match r.status {
                200 => Ok(r.body),
                s => Err(format!("/api/update/manifest: {s}")),
            }
        },
    );
    assert_same_bytes(
        &std::fs::read(&origin_box.installed).unwrap(),
        &bundle_bytes,
        "what the origin's RAUC got",
    );
    assert_same_bytes(
        &origin.get("/api/update/manifest").body,
        &manifest,
        "the manifest the origin shares, as signed",
    );
    let torrent = origin.get("/api/update/bundle.torrent");
    assert_eq!(torrent.status, 200);
    let t = bdecode(&torrent.body);
    let info = t.get("info").expect("an info dict");
    assert_eq!(
        info.get("name").and_then(Bencode::str).as_deref(),
        Some(BUNDLE)
    );
    assert_eq!(
        info.get("length").and_then(Bencode::int),
        Some(4 * MIB as i64)
    );
    assert_eq!(
        t.get("announce").and_then(Bencode::str),
        Some(format!("{}/announce", origin.base_url())),
        "the origin's own tracker, which lists it as the seeder"
    );
    assert!(
        origin.library().is_empty(),
        "the bundle is no episode of the station's"
    );

    // The follower: the bytes over BitTorrent, from the origin's swarm.
    follower.wait_until(
        "the follower installs the update",
        UPDATE_WAIT,
        |_| match std::fs::read(&follower_box.installed) {
            Ok(b) => Ok(b),
            Err(e) => Err(e.to_string()),
        },
    );
    let got = follower.wait_until("the stub's copy is whole", Duration::from_secs(10), |_| {
        let b = std::fs::read(&follower_box.installed).map_err(|e| e.to_string())?;
        (b.len() == bundle_bytes.len())
            .then_some(b)
            .ok_or("short".into())
    });
    assert_same_bytes(&got, &bundle_bytes, "what the follower's RAUC got");
    let uploaded = num(&origin.health().unwrap(), "/swarm/uploaded_bytes").unwrap_or(0);
    assert!(
        uploaded >= 4 * MIB,
        "the origin's swarm uploaded {uploaded} bytes, less than the bundle"
    );
    assert!(
        log_of(&follower).contains("the bundle came over BitTorrent"),
        "the follower's log says how the bundle came"
    );
    assert_eq!(
        bundle_asked.load(Ordering::SeqCst),
        1,
        "the update server gave the bundle to the origin only"
    );
    follower.wait_until(
        "the follower asks for a restart",
        Duration::from_secs(20),
        |_| {
            follower_box
                .reboot
                .exists()
                .then_some(())
                .ok_or("no reboot file".into())
        },
    );
    // Installed, the follower shares the update in turn.
    follower.wait_until(
        "the follower shares it too",
        Duration::from_secs(20),
        |n| match n.get("/api/update/manifest").status {
            200 => Ok(()),
            s => Err(s.to_string()),
        },
    );

    // Restarted, the origin checks what it kept again and seeds it from where it lies.
    origin.stop();
    origin.restart();
    origin.wait_until("the origin shares it again", Duration::from_secs(30), |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        let shared = n.get("/api/update/manifest").body == manifest;
        match num(&h, "/swarm/seeding") {
            Some(1) if shared => Ok(()),
            _ => Err(format!("shared {shared}, swarm {}", h["swarm"])),
        }
    });
}

#[test]
fn a_sister_s_manifest_signed_with_another_key_is_refused() {
    let tmp = tempdir();
    let keys = release_key(tmp.path(), "release");
    let forger = release_key(tmp.path(), "forger");
    let bundle = tmp.path().join("forged").join(BUNDLE);
    write_random(&bundle, MIB);
    let forged = sign_manifest(&bundle, &forger, &tmp.path().join("forged/2.manifest"));
    let (sister, bundle_asked) = serve_files(vec![
        ("api/update/manifest".into(), forged),
        (BUNDLE.into(), std::fs::read(&bundle).unwrap()),
    ]);
    let follower_box = Appliance::new(&tmp.path().join("follower-box"));
    let cfg = follower_config(&follower_box, &keys.0, &sister);
    let mut follower = Node::start(&tmp.path().join("follower"), &[], &cfg);
    follower.wait_healthy(0);
    follower.wait_until("the forged manifest refused", UPDATE_WAIT, |n| {
        let log = log_of(n);
        match log.find("a followed station's manifest is refused") {
            Some(at) => Ok(log[at..].lines().next().unwrap_or("").to_string()),
            None => Err("not in the log yet".into()),
        }
    });
    // A check later, still nothing installed, asked for, or restarted.
    std::thread::sleep(Duration::from_secs(11));
    assert!(!follower_box.installed.exists(), "nothing installed");
    assert!(!follower_box.reboot.exists(), "no restart");
    assert_eq!(
        bundle_asked.load(Ordering::SeqCst),
        0,
        "no bundle asked for"
    );
    assert_eq!(follower.get("/api/update/manifest").status, 404);
    assert!(
        log_of(&follower).contains("NotSigned"),
        "refused as not signed"
    );
}
