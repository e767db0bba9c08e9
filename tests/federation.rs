//! Federation with three real nodes on one machine: B and C follow A, check its signed
//! catalog, mirror its episodes and get listed as its mirrors. Then A is killed, and
//! aria2c (A's magnet plus B's tracker), webtorrent in Node (A's .torrent file) and the
//! listen page served by B still get every episode. Bad catalogs are refused, and an
//! unreachable node is retried with back-off. A mirror is listed only while random pieces
//! of its episodes match the origin's (a liar never is; a follower whose copy changes is
//! dropped), and its claims are signed, timed and not replayable.

mod common;

use std::{
    collections::HashMap,
    io::{Read, Write},
    net::TcpListener,
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use common::*;
use serde_json::Value;
use streamp2p::{
    federation::{
        catalog::{Catalog, CatalogItem},
        identity::Identity,
        mirrors::MirrorClaim,
    },
    store::{Setting, Store},
};

/// The nodes share loopback: the addresses they learn of each other (mirror claims,
/// their trackers) are private ones, allowed here.
const SHARED_LOOPBACK: &str = "allow_private_addresses = true\n";

fn follower_config(origin: &str) -> String {
    format!(
        "{BASE_CONFIG}\n[federation]\nfollow = [\"{origin}\"]\npoll_secs = 5\n{SHARED_LOOPBACK}"
    )
}

fn origin_config() -> String {
    format!("{BASE_CONFIG}\n[federation]\n{SHARED_LOOPBACK}")
}

/// The config page's session cookie for `node`, set up at first run.
fn operator_cookie(node: &Node) -> String {
    let mut op = Operator::new(node);
    op.setup("Station");
    op.cookie_header()
}

/// The federation details the config page shows (follow states, errors, tracker health),
/// with the operator's session `cookie`.
fn federation(node: &Node, cookie: &str) -> Value {
    node.request("GET", "/admin/federation", &[("Cookie", cookie)])
        .ok()
        .and_then(|r| serde_json::from_slice(&r.body).ok())
        .unwrap_or(Value::Null)
}

/// What anyone sees of the node's federation.
fn public_federation(node: &Node) -> Value {
    node.request("GET", "/api/federation", &[])
        .ok()
        .and_then(|r| serde_json::from_slice(&r.body).ok())
        .unwrap_or(Value::Null)
}

/// Waits until `node` lists every one of `names` as mirrored from `origin`.
fn wait_mirrored(node: &mut Node, origin: &str, names: &[&str]) {
    node.wait_until(
        "the origin's episodes mirrored",
        Duration::from_secs(120),
        |n| {
            let r = n
                .request("GET", "/api/library", &[])
                .map_err(|e| e.to_string())?;
            let lib: Vec<Value> = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
            let missing: Vec<&&str> = names
                .iter()
                .filter(|name| {
                    !lib.iter().any(|i| {
                        i["name"].as_str() == Some(**name) && i["origin"].as_str() == Some(origin)
                    })
                })
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "missing {missing:?}; federation {}",
                    public_federation(n)
                ))
            }
        },
    );
}

#[test]
fn followers_mirror_and_listeners_fail_over_when_the_origin_dies() {
    let tmp = tempdir();
    let lib = tmp.path().join("a-library");
    make_tagged_mp3(&lib.join("first.mp3"), "First Episode", "Radio A", 12);
    make_tagged_mp3(&lib.join("second.mp3"), "Second Episode", "Radio A", 12);
    let mut a = Node::start(
        &tmp.path().join("a"),
        std::slice::from_ref(&lib),
        &origin_config(),
    );
    a.wait_healthy(2);
    let origin = a.base_url();
    let cfg = follower_config(&origin);
    let mut b = Node::start(&tmp.path().join("b"), &[], &cfg);
    let mut c = Node::start(&tmp.path().join("c"), &[], &cfg);
    let names = ["first.mp3", "second.mp3"];
    wait_mirrored(&mut b, &origin, &names);
    wait_mirrored(&mut c, &origin, &names);

    // B pinned A's key and checked its catalog; A lists both as mirrors once they claim it.
    let a_key = public_federation(&a)["key"].as_str().unwrap().to_string();
    // B checked A's signed catalog and pinned A's key.
    let fb = federation(&b, &operator_cookie(&b));
    assert_eq!(fb["follows"][0]["error"], Value::Null, "{fb}");
    assert_eq!(fb["follows"][0]["url"], origin.as_str());
    assert_eq!(
        fb["follows"][0]["fingerprint"],
        public_federation(&a)["fingerprint"]
    );
    let mirrors = a.wait_until("A lists B and C as mirrors", Duration::from_secs(60), |n| {
        let m = public_federation(n)["mirrors"].clone();
        let list: Vec<String> = serde_json::from_value(m).unwrap_or_default();
        if list.contains(&b.base_url()) && list.contains(&c.base_url()) {
            Ok(list)
        } else {
            Err(format!("{list:?}"))
        }
    });
    eprintln!("A's mirrors: {mirrors:?} (A's key {a_key})");
    // Each is listed for the episodes it proved it holds: both, once both are hashed there.
    a.wait_until(
        "both mirrors in every torrent",
        Duration::from_secs(60),
        |n| {
            let missing: Vec<String> = names
                .iter()
                .flat_map(|name| {
                    let ih = n.item(name)["infohash"].as_str().unwrap().to_string();
                    let seeds = bdecode(&n.get(&format!("/t/{ih}.torrent")).body)
                        .get("url-list")
                        .and_then(|l| l.list().map(<[_]>::to_vec))
                        .unwrap_or_default();
                    [b.base_url(), c.base_url()]
                        .into_iter()
                        .filter(move |m| {
                            !seeds
                                .iter()
                                .any(|s| s.str().is_some_and(|s| s.starts_with(m)))
                        })
                        .map(move |m| format!("{m} for {name}"))
                })
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("{missing:?}"))
            }
        },
    );

    // A's feed: one integrity per episode covers A's own file and both mirrors' copies, and
    // what each mirror serves at the source A lists for it has that digest.
    let episodes = feed_episodes(&a.get("/feed.xml").text());
    for name in names {
        let web_seed = a.item(name)["web_seed"].as_str().unwrap().to_string();
        let ep = episodes
            .iter()
            .find(|e| e.enclosure.get("url") == Some(&web_seed))
            .unwrap_or_else(|| panic!("no episode with enclosure {web_seed} in {episodes:?}"));
        let alt = assert_integrity_covers_every_source(ep, &lib.join(name));
        for m in [&b, &c] {
            let prefix = format!("{}/files/", m.base_url());
            let src = alt
                .sources
                .iter()
                .find(|s| s.starts_with(&prefix))
                .unwrap_or_else(|| panic!("no source on {prefix} in {alt:?}"));
            let copy = tmp.path().join(format!("from-{}-{name}", m.http.port()));
            let r = m.get(&path_of(src));
            assert_eq!(r.status, 200, "{src}");
            std::fs::write(&copy, r.body).unwrap();
            assert_eq!(sri_sha256(&copy), alt.integrity[0].1, "{src}");
        }
    }

    // What listeners hold before A goes: each episode's magnet and .torrent.
    let mut held = Vec::new();
    for name in names {
        let item = a.item(name);
        let ih = item["infohash"].as_str().unwrap().to_string();
        let torrent = a.get(&format!("/t/{ih}.torrent")).body;
        let seeds: Vec<String> = bdecode(&torrent)
            .get("url-list")
            .and_then(|l| l.list())
            .unwrap_or(&[])
            .iter()
            .filter_map(|s| s.str())
            .collect();
        assert_eq!(seeds.len(), 3, "A's web seed and both mirrors': {seeds:?}");
        let torrent_path = tmp.path().join(format!("{name}.torrent"));
        std::fs::write(&torrent_path, &torrent).unwrap();
        b.wait_seeder(&ih);
        held.push((
            name,
            item["magnet"].as_str().unwrap().to_string(),
            torrent_path,
        ));
    }

    a.kill();

    for (name, magnet, torrent_path) in &held {
        let want = sha256_file(&lib.join(name));
        // aria2c: A's magnet plus B's tracker.
        let got = tmp.path().join(format!("aria2c-{name}"));
        let b_tracker = format!("{}/announce", b.base_url());
        let uri = format!("{magnet}&tr={}", urlencode_all(b_tracker.as_bytes()));
        let run = aria2c(&uri, &got, Duration::from_secs(120));
        assert!(
            run.status.is_some_and(|s| s.success()),
            "aria2c {name}: {:?}",
            run.status
        );
        assert_eq!(sha256_file(&got.join(name)), want, "aria2c's {name}");
        // webtorrent in Node with A's .torrent file: the mirrors' web seeds.
        let out = run_js(
            "torrent_file_fetch.mjs",
            &[
                format!("--torrent={}", torrent_path.display()),
                format!("--sha256={want}"),
            ],
            Duration::from_secs(180),
        );
        assert!(out.contains("ok"), "webtorrent {name}: {out}");
    }

    // The listen page served by B plays A's episode.
    let shot = tmp.path().join("b-listen.png");
    let out = run_js(
        "listen_page.mjs",
        &[
            format!("--base={}", b.base_url()),
            format!("--shot={}", shot.display()),
            "--episodes=2".into(),
            "--title=Second Episode".into(),
        ],
        Duration::from_secs(150),
    );
    assert!(out.contains("ok"), "{out}");
    b.assert_alive();
    c.assert_alive();
}

/// A one-file HTTP server for `/api/catalog`, answering `body` to every request.
fn serve_catalog(body: Vec<u8>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    url
}

fn signed_catalog(id: &Identity, seq: u64) -> Vec<u8> {
    let cat = Catalog {
        key: id.public_hex(),
        seq,
        station: "Fake".into(),
        description: String::new(),
        url: "http://fake".into(),
        items: vec![CatalogItem {
            infohash: "ab".repeat(20),
            name: "x.mp3".into(),
            size: 10,
            mime: "audio/mpeg".into(),
            title: None,
            duration_secs: None,
            added: 1,
        }],
        live: vec![],
        trackers: vec![],
        mirrors: vec![],
    };
    serde_json::to_vec(&cat.sign(id)).unwrap()
}

fn identity(dir: &Path) -> Identity {
    Identity::load_or_create(&Store::open(dir).unwrap()).unwrap()
}

/// Follows `urls` and waits until each has a status with an error, which it returns.
fn follow_errors(tmp: &Path, urls: &[String]) -> (Node, String, Vec<String>) {
    let list = urls
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let cfg = format!("{BASE_CONFIG}\n[federation]\nfollow = [{list}]\npoll_secs = 5\n");
    let mut node = Node::start(tmp, &[], &cfg);
    node.wait_healthy(0);
    let cookie = operator_cookie(&node);
    let errors = node.wait_until("every follow to report", Duration::from_secs(60), |n| {
        let f = federation(n, &cookie);
        let errs: Vec<String> = f["follows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["error"].as_str().map(String::from))
            .collect();
        if errs.len() == urls.len() {
            Ok(errs)
        } else {
            Err(f.to_string())
        }
    });
    (node, cookie, errors)
}

#[test]
fn forged_swapped_replayed_oversized_and_unreachable_catalogs_are_refused() {
    let tmp = tempdir();
    let real = identity(&tmp.path().join("k1"));
    let other = identity(&tmp.path().join("k2"));

    // A forged one: the catalog text changed after signing.
    let mut forged: serde_json::Value = serde_json::from_slice(&signed_catalog(&real, 3)).unwrap();
    let text = forged["catalog"].as_str().unwrap().replace("Fake", "Evil");
    forged["catalog"] = text.into();
    let forged_url = serve_catalog(serde_json::to_vec(&forged).unwrap());
    // Too big to read.
    let huge_url = serve_catalog(vec![b' '; 5 * 1024 * 1024]);
    // Nobody there.
    let gone = format!("http://127.0.0.1:{}", free_tcp_port());
    let (mut node, cookie, errors) = follow_errors(
        &tmp.path().join("n1"),
        &[forged_url.clone(), huge_url.clone(), gone.clone()],
    );
    let text = errors.join(" | ");
    assert!(text.contains("signature does not match"), "{text}");
    assert!(text.contains("larger than"), "{text}");
    // The unreachable one is retried, each time later.
    let first = node.wait_until("a retry time", Duration::from_secs(5), |n| {
        let f = federation(n, &cookie);
        f["follows"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["url"] == gone.as_str())
            .and_then(|s| s["retry_in_secs"].as_u64())
            .ok_or_else(|| f.to_string())
    });
    node.wait_until("a longer retry", Duration::from_secs(40), |n| {
        let f = federation(n, &cookie);
        let later = f["follows"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["url"] == gone.as_str())
            .and_then(|s| s["retry_in_secs"].as_u64())
            .unwrap_or(0);
        if later > first {
            Ok(())
        } else {
            Err(format!("retry still {later} s"))
        }
    });
    node.assert_alive();
    node.kill();

    // Pinned on first contact, then a catalog with another key or an older sequence.
    let good = serve_catalog(signed_catalog(&real, 7));
    let (mut node, _) = {
        let cfg = format!("{BASE_CONFIG}\n[federation]\nfollow = [\"{good}\"]\npoll_secs = 5\n");
        let mut n = Node::start(&tmp.path().join("n2"), &[], &cfg);
        n.wait_healthy(0);
        let cookie = operator_cookie(&n);
        n.wait_until("the good catalog pinned", Duration::from_secs(30), |n| {
            let f = federation(n, &cookie);
            if f["follows"][0]["seq"] == 7 {
                Ok(())
            } else {
                Err(f.to_string())
            }
        });
        (n, ())
    };
    node.stop();
    // The same address now serves a swapped key, then an older sequence of the right key.
    let config = std::fs::read_to_string(&node.config_path).unwrap();
    for (body, want) in [
        (signed_catalog(&other, 9), "another key"),
        (signed_catalog(&real, 2), "older than"),
    ] {
        let url = serve_catalog(body);
        // Move the pin to the new server's address by following it under the old pin: the
        // pin is per address, so copy it across by following the same URL string.
        std::fs::write(&node.config_path, config.replace(&good, &url)).unwrap();
        let data = node.data_dir.clone();
        let store = Store::open(&data).unwrap();
        let pin: Option<serde_json::Value> = store.setting(Setting::FollowPin(&good)).unwrap();
        store
            .set_setting(Setting::FollowPin(&url), &pin.expect("pinned"))
            .unwrap();
        drop(store);
        node.restart();
        node.wait_healthy(0);
        let mut op = Operator::new(&node);
        assert_eq!(op.login(PASSWORD).status, 303, "login after restart");
        let cookie = op.cookie_header();
        let err = node.wait_until("the catalog refused", Duration::from_secs(30), |n| {
            let f = federation(n, &cookie);
            f["follows"][0]["error"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| f.to_string())
        });
        assert!(err.contains(want), "{want}: {err}");
        node.stop();
    }
}

/// Every known tracker is probed over its own protocol; a dead one is left out of the
/// node's magnets and torrents, the node's own trackers stay first.
#[test]
fn tracker_health_orders_links_and_drops_dead_trackers() {
    let tmp = tempdir();
    // Another node's tracker, alive, in open mode (it answers for any infohash).
    let other = Node::start(
        &tmp.path().join("other"),
        &[],
        "[swarm]\nenabled = false\n[tracker]\nmode = \"open\"\n",
    );
    let alive_http = format!("{}/announce", other.base_url());
    let alive_udp = format!("udp://{}/announce", other.udp);
    let alive_ws = format!("ws://{}/announce", other.http);
    let dead = format!("udp://127.0.0.1:{}/announce", free_udp_port());
    let lib = tmp.path().join("library");
    make_tagged_mp3(&lib.join("one.mp3"), "One", "Radio", 5);
    let cfg = format!(
        "[scan]\nrescan_secs = 1\n[swarm]\ndht = false\nlsd = false\n\
         trackers = [\"{dead}\", \"{alive_http}\", \"{alive_udp}\"]\n\
         [webtorrent]\ntrackers = [\"{alive_ws}\"]\n[federation]\nprobe_secs = 5\n"
    );
    let mut node = Node::start(&tmp.path().join("node"), std::slice::from_ref(&lib), &cfg);
    node.wait_healthy(1);
    let cookie = operator_cookie(&node);
    let trackers = |n: &Node| -> Vec<String> {
        let m = n.item("one.mp3")["magnet"].as_str().unwrap().to_string();
        m.split('&')
            .filter_map(|p| p.strip_prefix("tr="))
            .map(|t| {
                percent_encoding::percent_decode_str(t)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect()
    };
    assert!(trackers(&node).contains(&dead), "before any probe");
    let stats = node.wait_until("the dead tracker marked", Duration::from_secs(60), |n| {
        let t = federation(n, &cookie)["trackers"].clone();
        if t[&dead]["failed_in_a_row"].as_u64().unwrap_or(0) >= 3 {
            Ok(t)
        } else {
            Err(t.to_string())
        }
    });
    for alive in [&alive_http, &alive_udp, &alive_ws] {
        assert!(
            stats[alive.as_str()]["ok"].as_u64().unwrap_or(0) >= 1,
            "{alive}: {stats}"
        );
        assert!(
            stats[alive.as_str()]["latency_ms"].is_u64(),
            "{alive}: {stats}"
        );
        assert_eq!(stats[alive.as_str()]["failed"], 0, "{alive}: {stats}");
    }
    let own_http = format!("{}/announce", node.base_url());
    assert!(
        stats.get(&own_http).is_none(),
        "the node's own tracker is not probed"
    );
    let now = trackers(&node);
    assert!(!now.contains(&dead), "dead tracker still listed: {now:?}");
    assert_eq!(now.first(), Some(&own_http), "own tracker first: {now:?}");
    assert!(
        now.contains(&alive_http) && now.contains(&alive_udp),
        "{now:?}"
    );
    node.assert_alive();
}

/// B relays A's live stream: listeners on B hear A's tone while A serves one copy, to B.
#[test]
fn a_follower_relays_the_live_stream() {
    let tmp = tempdir();
    let a_cfg = format!("audio = \"sine\"\n{BASE_CONFIG}");
    let mut a = Node::start(&tmp.path().join("a"), &[], &a_cfg);
    a.wait_live_state("on_air", Duration::from_secs(20));
    let cfg = format!(
        "{BASE_CONFIG}\n[federation]\nfollow = [\"{}\"]\npoll_secs = 5\nrelay = true\n",
        a.base_url()
    );
    let mut b = Node::start(&tmp.path().join("b"), &[], &cfg);
    let path = b.wait_until("B relays A", Duration::from_secs(30), |n| {
        let f = public_federation(n);
        f["follows"][0]["relay"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| f.to_string())
    });
    let url = format!("{}{path}", b.base_url());
    // Three listeners on B at once; each hears A's 440 Hz tone.
    let listeners: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || decode_audio(&url, 4))
        })
        .collect();
    // While they listen, A counts one listener: B.
    std::thread::sleep(Duration::from_secs(2));
    let a_listeners = a.health().unwrap()["live"]["listeners"].as_u64();
    for l in listeners {
        let samples = l.join().unwrap();
        assert!(samples.len() > 150_000, "only {} samples", samples.len());
        let hz = tone_hz(&samples[4800..]);
        assert!((hz - 440.0).abs() < 5.0, "relayed tone at {hz} Hz");
    }
    assert_eq!(a_listeners, Some(1), "A serves one copy, to the relay");
    a.assert_alive();
    b.assert_alive();
}

/// A box that claims to mirror a station: it serves a catalog signed by its own key, and
/// for a range of `/files/<infohash>/<name>` either the station's real bytes (honest) or as
/// many other bytes (a liar). Counts the pieces it was asked for.
struct FakeMirror {
    url: String,
    id: Identity,
    honest: Arc<AtomicBool>,
    pieces_asked: Arc<AtomicUsize>,
}

fn fake_mirror(keys: &Path, files: HashMap<String, Vec<u8>>) -> FakeMirror {
    let id = identity(keys);
    let catalog = signed_catalog(&id, 1);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let honest = Arc::new(AtomicBool::new(false));
    let pieces_asked = Arc::new(AtomicUsize::new(0));
    let (h, asked) = (honest.clone(), pieces_asked.clone());
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = vec![0u8; 8192];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let target = req.split(' ').nth(1).unwrap_or("").to_string();
            let range = req
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("range: bytes=")
                        .map(String::from)
                })
                .and_then(|r| {
                    let (a, b) = r.trim().split_once('-')?;
                    Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?))
                });
            let file = target
                .strip_prefix("/files/")
                .and_then(|rest| files.get(rest.split('/').next()?));
            let (status, body) = match (target.as_str(), file, range) {
                ("/api/catalog", _, _) => ("200 OK", catalog.clone()),
                (_, Some(bytes), Some((a, b))) if a <= b && b < bytes.len() => {
                    asked.fetch_add(1, Ordering::SeqCst);
                    if h.load(Ordering::SeqCst) {
                        ("206 Partial Content", bytes[a..=b].to_vec())
                    } else {
                        let lie = b"ID3ATTACKER-CHOSEN BYTES ";
                        (
                            "206 Partial Content",
                            lie.iter().cycle().take(b - a + 1).copied().collect(),
                        )
                    }
                }
                _ => ("404 Not Found", b"not found".to_vec()),
            };
            let range_header = match (range, file) {
                (Some((a, b)), Some(f)) => format!("Content-Range: bytes {a}-{b}/{}\r\n", f.len()),
                _ => String::new(),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{range_header}Connection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    FakeMirror {
        url,
        id,
        honest,
        pieces_asked,
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn post_claim(origin: &Node, claim: &Value) -> Resp {
    let body = serde_json::to_vec(claim).unwrap();
    let len = body.len().to_string();
    http_request_with_body(
        origin.http,
        "POST",
        "/api/federation/mirrors",
        &[
            ("Content-Type", "application/json"),
            ("Content-Length", &len),
        ],
        &body,
    )
    .unwrap()
}

fn claim_json(m: &FakeMirror, origin_key: &str, url: &str, time: u64, holds: &[String]) -> Value {
    serde_json::to_value(MirrorClaim::new(
        &m.id,
        origin_key,
        url,
        time,
        holds.to_vec(),
    ))
    .unwrap()
}

/// Where `node` lists the mirror at `mirror`: its catalog, `/api/federation`, the feed,
/// each episode's torrent (`url-list`, `announce-list`) and magnet.
fn listed_in(node: &Node, mirror: &str, names: &[&str]) -> Vec<String> {
    let mut places = Vec::new();
    let signed = node.get("/api/catalog").json();
    let cat: Value = serde_json::from_str(signed["catalog"].as_str().unwrap()).unwrap();
    if cat["mirrors"].to_string().contains(mirror) || cat["trackers"].to_string().contains(mirror) {
        places.push("catalog".to_string());
    }
    if public_federation(node)["mirrors"]
        .to_string()
        .contains(mirror)
    {
        places.push("/api/federation".into());
    }
    if node
        .get("/feed.xml")
        .text()
        .contains(&format!("{mirror}/files/"))
    {
        places.push("feed".into());
    }
    for name in names {
        let item = node.item(name);
        let ih = item["infohash"].as_str().unwrap();
        let t = bdecode(&node.get(&format!("/t/{ih}.torrent")).body);
        let strings = |key: &str| -> Vec<String> {
            let mut out = Vec::new();
            for v in t.get(key).and_then(|l| l.list()).unwrap_or(&[]) {
                match v.list() {
                    Some(tier) => out.extend(tier.iter().filter_map(|s| s.str())),
                    None => out.extend(v.str()),
                }
            }
            out
        };
        if strings("url-list")
            .iter()
            .any(|s| s.starts_with(&format!("{mirror}/files/{ih}/")))
        {
            places.push(format!("url-list of {name}"));
        }
        if strings("announce-list")
            .iter()
            .any(|s| s.starts_with(mirror))
        {
            places.push(format!("announce-list of {name}"));
        }
        let magnet = percent_encoding::percent_decode_str(item["magnet"].as_str().unwrap())
            .decode_utf8_lossy()
            .into_owned();
        if magnet.contains(mirror) {
            places.push(format!("magnet of {name}"));
        }
    }
    places
}

/// Logs in to `node`'s config page and posts `action` (approve, remove, allow) for the
/// mirror at `url`.
fn mirror_action(node: &Node, action: &str, url: &str) -> Resp {
    let mut op = Operator::new(node);
    assert_eq!(op.login(PASSWORD).status, 303, "login");
    let csrf = op.csrf();
    op.post(
        "/admin/mirrors",
        &[("csrf", &csrf), ("action", action), ("url", url)],
    )
}

/// A claimant serving other bytes than the station's is never listed; an honest follower
/// is, by its web seed only (never its tracker); replayed, stale, old-format and steering
/// claims are refused before anything is fetched; with approval asked, a checked mirror
/// waits for the operator, who approves or removes it (for good) on the config page; and a
/// listed follower whose file changes on disk is dropped at the next check.
#[test]
fn mirrors_are_listed_only_while_they_prove_what_they_hold() {
    let tmp = tempdir();
    let lib = tmp.path().join("a-library");
    make_tagged_mp3(&lib.join("first.mp3"), "First Episode", "Radio A", 12);
    make_tagged_mp3(&lib.join("second.mp3"), "Second Episode", "Radio A", 12);
    // Every box here shares loopback: private addresses allowed.
    let a_cfg = format!(
        "{BASE_CONFIG}\n[federation]\nmirror_check_secs = 5\nallow_private_addresses = true\n\
         approve_mirrors = true\n"
    );
    // A box that ran the first version listed mirrors unchecked: they are forgotten.
    let old_store = Store::open(&tmp.path().join("a").join("data")).unwrap();
    let unchecked = "http://unchecked.example";
    old_store
        .set_setting(Setting::Mirrors, &vec![unchecked.to_string()])
        .unwrap();
    drop(old_store);
    let mut a = Node::start(&tmp.path().join("a"), std::slice::from_ref(&lib), &a_cfg);
    a.wait_healthy(2);
    let a_key = public_federation(&a)["key"].as_str().unwrap().to_string();
    let names = ["first.mp3", "second.mp3"];
    assert_eq!(listed_in(&a, unchecked, &names), Vec::<String>::new());
    let mut files = HashMap::new();
    let mut holds = Vec::new();
    for name in names {
        let ih = a.item(name)["infohash"].as_str().unwrap().to_string();
        files.insert(ih.clone(), std::fs::read(lib.join(name)).unwrap());
        holds.push(ih);
    }
    holds.sort();

    // A liar: its catalog is signed, but its pieces are someone else's bytes.
    let liar = fake_mirror(&tmp.path().join("liar-key"), files.clone());
    let r = post_claim(
        &a,
        &claim_json(&liar, &a_key, &liar.url, unix_now(), &holds),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("not the same"), "{}", r.text());
    assert!(
        liar.pieces_asked.load(Ordering::SeqCst) >= 1,
        "pieces were asked for"
    );
    assert_eq!(listed_in(&a, &liar.url, &names), Vec::<String>::new());

    // Refused before anything is fetched: stale, replayed later, first format, an address
    // with a path, a claim for other episodes than signed.
    let asked = liar.pieces_asked.load(Ordering::SeqCst);
    let stale = post_claim(
        &a,
        &claim_json(&liar, &a_key, &liar.url, unix_now() - 3600, &holds),
    );
    assert_eq!(stale.status, 400);
    assert!(stale.text().contains("minutes away"), "{}", stale.text());
    let mut old = claim_json(&liar, &a_key, &liar.url, unix_now(), &holds);
    old.as_object_mut().unwrap().remove("time");
    let old = post_claim(&a, &old);
    assert_eq!(old.status, 400);
    assert!(old.text().contains("older streamp2p"), "{}", old.text());
    let steer = format!("{}/cgi-bin/reboot.cgi?x=", liar.url);
    let steered = post_claim(&a, &claim_json(&liar, &a_key, &steer, unix_now(), &holds));
    assert_eq!(steered.status, 400);
    assert!(
        steered.text().contains("nothing after it"),
        "{}",
        steered.text()
    );
    let mut swapped = claim_json(&liar, &a_key, &liar.url, unix_now(), &holds[..1]);
    swapped["holds"] = serde_json::json!(holds);
    assert_eq!(post_claim(&a, &swapped).status, 400);
    assert_eq!(
        liar.pieces_asked.load(Ordering::SeqCst),
        asked,
        "nothing fetched"
    );

    // The same box with the real bytes proves them, and waits for the operator's
    // approval (A asks for it); its exact claim again is a replay.
    liar.honest.store(true, Ordering::SeqCst);
    let claim = claim_json(&liar, &a_key, &liar.url, unix_now(), &holds);
    let r = post_claim(&a, &claim);
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(r.text().contains("approval"), "{}", r.text());
    assert_eq!(listed_in(&a, &liar.url, &names), Vec::<String>::new());
    let replay = post_claim(&a, &claim);
    assert_eq!(replay.status, 400);
    assert!(replay.text().contains("replay"), "{}", replay.text());

    // On the config page: approved, listed; removed, unlisted and its claims refused.
    {
        let mut op = Operator::new(&a);
        op.setup("Radio A");
        let page = op.get("/admin/sisters").text();
        assert!(
            page.contains(&liar.url) && page.contains("waiting for your approval"),
            "{}",
            short(&page)
        );
        let forged = op.post(
            "/admin/mirrors",
            &[("csrf", "wrong"), ("action", "approve"), ("url", &liar.url)],
        );
        assert_eq!(forged.status, 403, "a change without the token");
        assert_eq!(listed_in(&a, &liar.url, &names), Vec::<String>::new());
    }
    let r = mirror_action(&a, "approve", &liar.url);
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    assert_eq!(listed_in(&a, &liar.url, &names).len(), 5);
    let r = mirror_action(&a, "remove", &liar.url);
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    assert_eq!(listed_in(&a, &liar.url, &names), Vec::<String>::new());
    let again = post_claim(
        &a,
        &claim_json(&liar, &a_key, &liar.url, unix_now() + 1, &holds),
    );
    assert_eq!(again.status, 403, "{}", again.text());

    // An honest follower: it proves its episodes, the operator approves it, and it is
    // listed by its web seed for both episodes, never by its tracker.
    let b_cfg = follower_config(&a.base_url());
    let mut b = Node::start(&tmp.path().join("b"), &[], &b_cfg);
    wait_mirrored(&mut b, &a.base_url(), &names);
    let b_url = b.base_url();
    let b_cookie = operator_cookie(&b);
    b.wait_until("B's claim checked", Duration::from_secs(60), |n| {
        let f = federation(n, &b_cookie);
        match f["follows"][0]["claim"].as_str() {
            Some(c) if c.contains("approval") => Ok(()),
            _ => Err(f.to_string()),
        }
    });
    let r = mirror_action(&a, "approve", &b_url);
    assert_eq!(r.status, 303, "{}", short(&r.text()));
    let places = a.wait_until("A lists B", Duration::from_secs(90), |n| {
        let p = listed_in(n, &b_url, &names);
        if p.len() == 5 {
            Ok(p)
        } else {
            Err(format!("{p:?}; B: {}", federation(&b, &b_cookie)))
        }
    });
    assert_eq!(
        places,
        [
            "catalog",
            "/api/federation",
            "feed",
            "url-list of first.mp3",
            "url-list of second.mp3"
        ]
    );

    // B's copy of an episode changes on disk (same size and time, so B serves it as it
    // is): A drops B at its next check.
    let fp = public_federation(&a)["fingerprint"]
        .as_str()
        .unwrap()
        .replace(' ', "");
    let copy = b.data_dir.join("mirrors").join(fp).join("first.mp3");
    let mtime = std::fs::metadata(&copy).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&copy).unwrap();
    for x in &mut bytes {
        *x ^= 0x5a;
    }
    // In place: the size never changes, not even for a moment.
    let mut f = std::fs::File::options().write(true).open(&copy).unwrap();
    f.write_all(&bytes).unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    a.wait_until("A drops B", Duration::from_secs(60), |n| {
        let p = listed_in(n, &b_url, &names);
        if p.is_empty() {
            Ok(())
        } else {
            Err(format!("{p:?}"))
        }
    });
    let mut op = Operator::new(&a);
    assert_eq!(op.login(PASSWORD).status, 303);
    let page = op.get("/admin/sisters").text();
    assert!(
        page.contains("Not listed: its last check failed"),
        "{}",
        short(&page)
    );
    // maud escapes the quotes around the name.
    assert!(
        page.contains("is not the same as this station"),
        "dropped for its bytes: {}",
        page.split("id=\"mirrors\"").nth(1).unwrap_or(&page)
    );
    a.assert_alive();
    b.assert_alive();
}
