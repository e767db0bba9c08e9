//! The box's own STUN server, as deployed: the node in a network namespace of its own.
//!
//! - A real STUN client (coturn's `turnutils_stunclient`) learns its own address from the
//!   box; malformed and non-Binding packets get no answer and leave the node running; new
//!   requests from a port just answered (keep-alives) get none; a flood from one address
//!   is cut to its rate.
//! - Two listeners, each in its own namespace behind its own masquerading "home router"
//!   (nftables), with the node on the "internet" side: their listen pages in Chromium share
//!   live segments over WebRTC through the box's STUN, and with the box's STUN off (the
//!   page's ICE list empty) they never connect. Two webtorrent clients in the same two homes
//!   share an episode: the fetcher's bytes match and came from the other home.
//!
//! Addresses: node net 10.15.6.0/24; the homes' routers 10.15.61.2 and 10.15.62.2 on the
//! internet, their LANs 192.168.61.0/24 and 192.168.62.0/24. The "internet" namespace routes
//! between node and routers and knows no route to the LANs, as the real one does not.

mod common;

use common::*;
use rtc_stun::{
    message::{Getter, Message, Setter, TransactionId, BINDING_REQUEST},
    xoraddr::XorMappedAddress,
};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, Stdio};
use std::time::Duration;

const NODE_IP: &str = "10.15.6.2";

/// A STUN Binding request with a fresh transaction id.
fn binding_request() -> Message {
    let mut m = Message::new();
    let setters: [Box<dyn Setter>; 2] = [Box::new(TransactionId::new()), Box::new(BINDING_REQUEST)];
    m.build(&setters).unwrap();
    m
}

/// The next datagram on `sock`, or None within its read timeout.
fn recv(sock: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = [0u8; 1500];
    sock.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

#[test]
fn real_stun_client_learns_its_address_and_junk_gets_nothing() {
    let tmp = tempdir();
    let node_ns = Netns::new("stn");
    let client_ns = Netns::new("stc");
    node_ns.link("10.15.5.1/24", &client_ns, "10.15.5.2/24");
    let lib = tmp.path().join("library");
    write_random(&lib.join("x.mp3"), 1000);
    let host: IpAddr = "10.15.5.1".parse().unwrap();
    let mut node = Node::start_in(&node_ns, host, tmp.path(), &[lib], BASE_CONFIG);
    node.wait_healthy(1);
    let stun = node.stun;

    // coturn's STUN client: "UDP reflexive addr: 10.15.5.2:<its port>".
    let out = client_ns
        .command("turnutils_stunclient")
        .args(["-p", &stun.port().to_string(), "10.15.5.1"])
        .output()
        .expect("run turnutils_stunclient (Debian's coturn package)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("turnutils_stunclient: {text}");
    assert!(out.status.success(), "turnutils_stunclient failed: {text}");
    assert!(
        text.contains("UDP reflexive addr: 10.15.5.2:"),
        "the client's own address: {text}"
    );

    // Our own socket in the client's namespace: junk first, then a good request.
    let (answered_junk, good, keepalives, flood) = client_ns.enter(move || {
        let sock = UdpSocket::bind("10.15.5.2:0").unwrap();
        sock.connect(stun).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(700)))
            .unwrap();
        let valid = binding_request().raw;
        let mut success = valid.clone();
        success[0] = 0x01; // a Binding success response
        let mut allocate = valid.clone();
        allocate[1] = 0x03; // a TURN Allocate request
        let mut no_cookie = valid.clone();
        no_cookie[4..8].copy_from_slice(&[1, 2, 3, 4]); // RFC 3489 style
        let mut lying_length = valid.clone();
        lying_length[3] = 200;
        let junk: Vec<Vec<u8>> = vec![
            vec![],
            vec![0; 3],
            valid[..19].to_vec(),
            success,
            allocate,
            no_cookie,
            lying_length,
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            vec![0xff; 1400],
        ];
        let mut answered = Vec::new();
        for (i, j) in junk.iter().enumerate() {
            sock.send(j).unwrap();
            if recv(&sock).is_some() {
                answered.push(i);
            }
        }
        // The server still answers, with this socket's own address.
        let req = binding_request();
        sock.send(&req.raw).unwrap();
        let good = recv(&sock).map(|raw| {
            let mut m = Message::new();
            m.unmarshal_binary(&raw).unwrap();
            let mut a = XorMappedAddress::default();
            a.get_from(&m).unwrap();
            (
                m.transaction_id == req.transaction_id,
                SocketAddr::new(a.ip, a.port),
                sock.local_addr().unwrap(),
            )
        });
        // New requests from the port just answered (a browser's keep-alives) get nothing.
        for _ in 0..5 {
            sock.send(&binding_request().raw).unwrap();
        }
        let mut keepalives = 0;
        while recv(&sock).is_some() {
            keepalives += 1;
        }
        // A flood from one address: 300 requests from 300 ports, answered up to its burst.
        let ports: Vec<UdpSocket> = (0..300)
            .map(|_| {
                let s = UdpSocket::bind("10.15.5.2:0").unwrap();
                s.connect(stun).unwrap();
                s
            })
            .collect();
        for s in &ports {
            s.send(&binding_request().raw).unwrap();
        }
        std::thread::sleep(Duration::from_millis(700));
        let flood = ports
            .iter()
            .filter(|s| {
                s.set_nonblocking(true).unwrap();
                s.recv(&mut [0u8; 576]).is_ok()
            })
            .count();
        (answered, good, keepalives, flood)
    });
    assert!(
        answered_junk.is_empty(),
        "junk packets answered: {answered_junk:?}"
    );
    let (same_id, mapped, local) = good.expect("a Binding request after the junk is answered");
    assert!(same_id, "the answer carries the request's transaction id");
    assert_eq!(mapped, local, "the reflected address is the client's");
    assert_eq!(
        keepalives, 0,
        "keep-alives from an answered port were answered"
    );
    eprintln!("flood of 300 requests from one address: {flood} answered");
    assert!(
        (40..=80).contains(&flood),
        "one address gets its burst (50) and its rate (5/s), not 300: {flood}"
    );
    node.assert_alive();
    assert_eq!(
        node.health().expect("health after the junk")["status"],
        "ok"
    );
}

/// The "internet" (a router between node and homes), the node's namespace, and two homes:
/// a router that masquerades its LAN behind its one public address, and a listener's LAN.
struct Internet {
    _inet: Netns,
    node: Netns,
    /// (router, listener LAN, the router's public address)
    homes: Vec<(Netns, Netns, &'static str)>,
}

fn in_ns(ns: &Netns, program: &str, args: &[&str]) {
    let out = ns.command(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Internet {
    fn new() -> Internet {
        let inet = Netns::new("net");
        let node = Netns::new("nod");
        inet.link("10.15.6.1/24", &node, &format!("{NODE_IP}/24"));
        node.ip(&["route", "add", "default", "via", "10.15.6.1"]);
        in_ns(&inet, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        let mut homes = Vec::new();
        for (n, public) in [(61, "10.15.61.2"), (62, "10.15.62.2")] {
            let router = Netns::new("rt");
            let lan = Netns::new("lan");
            inet.link(&format!("10.15.{n}.1/24"), &router, &format!("{public}/24"));
            router.ip(&["route", "add", "default", "via", &format!("10.15.{n}.1")]);
            router.link(
                &format!("192.168.{n}.1/24"),
                &lan,
                &format!("192.168.{n}.2/24"),
            );
            lan.ip(&["route", "add", "default", "via", &format!("192.168.{n}.1")]);
            in_ns(&router, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
            // A home router: the LAN goes out behind the public address, and nothing comes
            // in unasked (no route to the LAN outside; conntrack lets answers back). The
            // router drops what comes to it unasked, as home routers do: a packet it accepted
            // would leave a conntrack entry that makes the LAN's next packet to that sender
            // go out on another port, and hole punching then fails both ways.
            in_ns(
                &router,
                "nft",
                &[&format!(
                    "add table ip home; \
                     add chain ip home post {{ type nat hook postrouting priority 100; }}; \
                     add rule ip home post ip saddr 192.168.{n}.0/24 \
                     ip daddr != 192.168.{n}.0/24 masquerade; \
                     add chain ip home in {{ type filter hook input priority 0; }}; \
                     add rule ip home in iifname != \"lo\" ip saddr != 192.168.{n}.0/24 \
                     ct state new drop"
                )],
            );
            homes.push((router, lan, public));
        }
        Internet {
            _inet: inet,
            node,
            homes,
        }
    }
}

/// Runs `node tests/js/<script>` inside `ns`, its output to a file; returns the child.
fn spawn_js(ns: &Netns, script: &str, args: &[String], log: &std::path::Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    ns.command("node")
        .arg(repo_root().join("tests/js").join(script))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("run node")
}

/// A script's process, stopped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` (up to `timeout`); panics with its log unless it exits 0. Returns the
/// `result {...}` line's JSON.
fn result_of(mut child: Child, log: &std::path::Path, timeout: Duration) -> serde_json::Value {
    let status = wait_child(&mut child, timeout);
    assert!(
        status.is_some_and(|s| s.success()),
        "{} failed ({status:?}):\n{}",
        log.display(),
        std::fs::read_to_string(log).unwrap_or_default()
    );
    result_line(log)
}

/// The `result {...}` line a script wrote to `log`.
fn result_line(log: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    eprintln!("----- {} -----\n{text}", log.display());
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .unwrap_or_else(|| panic!("no result line in {}", log.display()));
    serde_json::from_str(line).expect("result JSON")
}

/// Both homes' listeners play the live stream for `secs`, at once; their results.
fn two_homes_listen(
    net: &Internet,
    node: &Node,
    root: &std::path::Path,
    secs: u32,
) -> Vec<serde_json::Value> {
    let children: Vec<(Child, std::path::PathBuf)> = net
        .homes
        .iter()
        .enumerate()
        .map(|(i, (_, lan, _))| {
            let log = root.join(format!("listener{i}.log"));
            let profile = root.join(format!("profile{i}"));
            let child = spawn_js(
                lan,
                "live_listener.mjs",
                &[
                    format!("--base={}", node.base_url()),
                    format!("--seconds={secs}"),
                    format!("--profile={}", profile.display()),
                ],
                &log,
            );
            (child, log)
        })
        .collect();
    children
        .into_iter()
        .map(|(child, log)| result_of(child, &log, Duration::from_secs(u64::from(secs) + 90)))
        .collect()
}

fn live_node(net: &Internet, root: &std::path::Path, extra: &str) -> Node {
    let lib = root.join("library");
    write_random(&lib.join("x.mp3"), 1000);
    let config = format!("audio = \"sine\"\n{extra}{BASE_CONFIG}");
    let mut node = Node::start_in(&net.node, NODE_IP.parse().unwrap(), root, &[lib], &config);
    node.wait_healthy(1);
    six_segments(&mut node);
    node
}

fn p2p_segments(l: &serde_json::Value) -> u64 {
    l["segments"]["p2p"].as_u64().unwrap_or(0)
}

#[test]
fn listeners_behind_two_home_routers_share_live_through_the_box_stun() {
    let net = Internet::new();
    let tmp = tempdir();
    let publics: Vec<&str> = net.homes.iter().map(|h| h.2).collect();

    // With the box's STUN: each page's ICE list is the box, they connect across the routers.
    let with = tmp.path().join("with");
    let mut node = live_node(&net, &with, "");
    let listeners = two_homes_listen(&net, &node, &with, 30);
    node.stop();
    let want_ice = format!("stun:{NODE_IP}:{}", node.stun.port());
    for l in &listeners {
        assert_eq!(
            l["ice"],
            serde_json::json!([{ "urls": [want_ice] }]),
            "the page's ICE servers are the box's STUN"
        );
        assert!(l["played"].as_f64() >= Some(15.0), "played: {l}");
    }
    let p2p: u64 = listeners.iter().map(p2p_segments).sum();
    assert!(
        p2p > 0,
        "no segment travelled between the homes: {listeners:?}"
    );
    // The selected pairs run between the routers' public addresses: NAT traversed.
    let remotes: Vec<&str> = listeners
        .iter()
        .flat_map(|l| l["pairs"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["remote"]["address"].as_str().map(str::to_owned))
        .map(|a| {
            if publics.contains(&a.as_str()) {
                "public"
            } else {
                "other"
            }
        })
        .collect();
    eprintln!("selected pairs' remote addresses: {remotes:?}");
    assert!(
        remotes.contains(&"public"),
        "a connected pair reaches the other home's router: {listeners:?}"
    );

    // The control: the box's STUN off, the page's ICE list empty; the same two homes never
    // connect, and every segment comes from the station.
    let without = tmp.path().join("without");
    let mut node = live_node(&net, &without, "stun = \"off\"\n");
    let listeners = two_homes_listen(&net, &node, &without, 25);
    node.stop();
    for l in &listeners {
        assert_eq!(l["ice"], serde_json::json!([]), "no ICE servers: {l}");
        assert!(l["played"].as_f64() >= Some(12.0), "played: {l}");
        assert_eq!(p2p_segments(l), 0, "no STUN, no path between homes: {l}");
        assert_eq!(l["pairs"], serde_json::json!([]), "no connection: {l}");
    }
}

#[test]
fn an_episode_travels_between_two_homes_through_the_box_stun() {
    let net = Internet::new();
    let tmp = tempdir();
    let lib = tmp.path().join("library");
    let size = 3 * 1024 * 1024 + 12_345;
    write_random(&lib.join("episode.mp3"), size);
    let sha = sha256_file(&lib.join("episode.mp3"));
    // The node's own WebRTC peer off: the other home is the fetcher's only source.
    let config = format!("{BASE_CONFIG}\n[webtorrent]\nenabled = false\n");
    let mut node = Node::start_in(
        &net.node,
        NODE_IP.parse().unwrap(),
        tmp.path(),
        std::slice::from_ref(&lib),
        &config,
    );
    node.wait_healthy(1);
    let infohash = node.item("episode.mp3")["infohash"]
        .as_str()
        .unwrap()
        .to_string();
    let ice = format!("stun:{NODE_IP}:{}", node.stun.port());
    let common = [
        format!("--node={}", node.base_url()),
        format!("--infohash={infohash}"),
        format!("--ice={ice}"),
    ];
    let (seeder_home, fetcher_home) = (&net.homes[0], &net.homes[1]);
    let seed_log = tmp.path().join("seeder.log");
    let mut args = common.to_vec();
    args.push("--role=seed".into());
    // It seeds until it is stopped (see nat_episode.mjs): stopped when the test ends, however.
    let seeder = Running(spawn_js(
        &seeder_home.1,
        "nat_episode.mjs",
        &args,
        &seed_log,
    ));
    // The fetcher starts once the seeder holds the episode.
    node.wait_until("the seeder to seed", Duration::from_secs(60), |_| {
        let text = std::fs::read_to_string(&seed_log).unwrap_or_default();
        if text.contains("FAIL") {
            panic!("seeder failed: {text}");
        }
        text.lines()
            .any(|l| l == "seeding")
            .then_some(())
            .ok_or(text)
    });
    // and once its announce is on the node's tracker (the fetcher's offers go to it).
    node.wait_until("the seeder's announce", Duration::from_secs(30), |n| {
        let t = n.get("/api/tracker").json();
        let seeders = t["torrents"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["info_hash"] == infohash.as_str())
            .map(|s| s["ws"]["complete"].clone());
        (seeders == Some(serde_json::json!(1)))
            .then_some(())
            .ok_or(t.to_string())
    });
    let fetch_log = tmp.path().join("fetcher.log");
    let mut args = common.to_vec();
    args.extend([
        "--role=fetch".into(),
        format!("--sha256={sha}"),
        format!("--size={size}"),
    ]);
    let fetcher = spawn_js(&fetcher_home.1, "nat_episode.mjs", &args, &fetch_log);
    let fetched =
        std::panic::catch_unwind(|| result_of(fetcher, &fetch_log, Duration::from_secs(110)))
            .unwrap_or_else(|e| {
                eprintln!(
                    "----- seeder -----\n{}",
                    std::fs::read_to_string(&seed_log).unwrap_or_default()
                );
                std::panic::resume_unwind(e)
            });
    drop(seeder);
    let seeded = result_line(&seed_log);
    assert!(fetched["received"].as_u64() >= Some(size), "{fetched}");
    assert!(seeded["uploaded"].as_u64() >= Some(size), "{seeded}");
    // The bytes came over the NAT: the fetcher's wire is to the seeder's router.
    let wires = fetched["wires"].as_array().cloned().unwrap_or_default();
    assert!(
        wires.iter().any(|w| w["remoteAddress"] == seeder_home.2),
        "the fetcher's peer is the seeder's home ({}): {fetched}",
        seeder_home.2
    );
    node.stop();
}
