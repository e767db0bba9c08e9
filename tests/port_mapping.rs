//! Port mapping on a home router (issue 15, item 5), against Debian's miniupnpd (UPnP IGD and
//! NAT-PMP/PCP) acting as the router in a network namespace: the node's namespace sits on
//! the router's LAN side, a bridge (10.15.5.0/24, 10.15.51-53.0/24, one per test) where
//! other "devices" of the home can join, and a third namespace is the "internet" on its
//! WAN side.
//!
//! The WAN address is 100.128.5.5 / 100.128.51.5 because miniupnpd 2.3 refuses to forward
//! anything when its WAN address is private or reserved (every documentation range
//! included). It lives only on a veth between two of the test's namespaces, with no route
//! out of them, and nothing is sent to it: the router only reports it.
//!
//! The router's mappings are read from the router itself: `upnpc -l` (miniupnpc) from the
//! node's namespace, miniupnpd's lease file, and its nftables chain in the router's.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// miniupnpd running as the router of a test LAN; killed on drop.
struct Router {
    ns: Netns,
    child: Child,
    log: PathBuf,
    leases: PathBuf,
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- miniupnpd log ---\n{}",
                fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

impl Router {
    /// The rules miniupnpd adds (one DNAT per mapping), as nftables prints them.
    fn redirects(&self) -> String {
        let out = self
            .ns
            .command("nft")
            .args(["list", "chain", "inet", "miniupnpd", "prerouting_miniupnpd"])
            .output()
            .expect("run nft");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// miniupnpd's lease file: `(protocol, external port, internal address:port, expiry as
    /// a Unix time, description)` for each mapping with a lease.
    fn leases(&self) -> Vec<(String, u16, String, u64, String)> {
        let text = fs::read_to_string(&self.leases).unwrap_or_default();
        // Lines like `TCP:6881:10.15.5.2:6881:1796000000:streamp2p`.
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.splitn(6, ':').collect();
                Some((
                    f.first()?.to_string(),
                    f.get(1)?.parse().ok()?,
                    format!("{}:{}", f.get(2)?, f.get(3)?),
                    f.get(4)?.parse().ok()?,
                    f.get(5)?.to_string(),
                ))
            })
            .collect()
    }
}

/// Interface names made here (`Netns::link` numbers its own).
static LINKS: AtomicU32 = AtomicU32::new(0);

/// Puts `ns` on the router's LAN bridge as `10.15.<n>.<host>`, the router its gateway.
fn join_lan(router_ns: &Netns, n: u8, ns: &Netns, host: u8) {
    let k = LINKS.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id() % 100_000;
    let (a, b) = (format!("v{pid}r{k}"), format!("v{pid}h{k}"));
    ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
    ip(&["link", "set", &a, "netns", &router_ns.name]);
    ip(&["link", "set", &b, "netns", &ns.name]);
    router_ns.ip(&["link", "set", &a, "master", "br0"]);
    router_ns.ip(&["link", "set", &a, "up"]);
    ns.ip(&["addr", "add", &format!("10.15.{n}.{host}/24"), "dev", &b]);
    ns.ip(&["link", "set", &b, "up"]);
    ns.ip(&["route", "add", "default", "via", &format!("10.15.{n}.1")]);
}

/// The node's LAN (`10.15.<n>.0/24`, a bridge with the router at .1, the node at .2), the
/// router's namespace and the WAN: (node, router, WAN).
fn network(n: u8) -> (Netns, Netns, Netns) {
    let node_ns = Netns::new("pmn");
    let router_ns = Netns::new("pmr");
    let wan = Netns::new("pmw");
    router_ns.ip(&["link", "add", "br0", "type", "bridge"]);
    router_ns.ip(&["addr", "add", &format!("10.15.{n}.1/24"), "dev", "br0"]);
    router_ns.ip(&["link", "set", "br0", "up"]);
    join_lan(&router_ns, n, &node_ns, 2);
    router_ns.link(
        &format!("100.128.{n}.5/24"),
        &wan,
        &format!("100.128.{n}.1/24"),
    );
    (node_ns, router_ns, wan)
}

/// How the router is set up.
#[derive(Default)]
struct Rules {
    /// A port it refuses to open for anyone.
    deny: Option<u16>,
    /// A port below 1024 its owner allowed. The rules of miniupnpd's example
    /// configuration, used here, allow only 1024-65535: such a router refuses 80 and 443.
    allow: Option<u16>,
    /// It speaks only NAT-PMP and PCP, no UPnP.
    no_upnp: bool,
}

/// miniupnpd on `router_ns` (made by [`network`] with `n`).
fn start_router(dir: &Path, router_ns: Netns, n: u8, rules: Rules) -> Router {
    let router_lan = format!("10.15.{n}.1");
    let dev = |ns: &Netns, addr: &str| -> String {
        let out = ns
            .command("ip")
            .args(["-o", "-4", "addr", "show"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find(|l| l.contains(&format!(" {addr}/")))
            .unwrap_or_else(|| panic!("no interface with {addr}: {text}"));
        let name = line.split_whitespace().nth(1).unwrap();
        name.split('@').next().unwrap().to_string()
    };
    let lan_if = dev(&router_ns, &router_lan);
    let wan_if = dev(&router_ns, &format!("100.128.{n}.5"));

    // miniupnpd adds its rules to chains that must exist (Debian's nft_init.sh makes them
    // for the system service).
    let nft = dir.join("init.nft");
    fs::write(
        &nft,
        "table inet miniupnpd {\n\
         chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }\n\
         chain miniupnpd { }\n\
         chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }\n\
         chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }\n\
         chain prerouting_miniupnpd { }\n\
         chain postrouting_miniupnpd { }\n\
         }\n",
    )
    .unwrap();
    let st = router_ns
        .command("nft")
        .arg("-f")
        .arg(&nft)
        .status()
        .unwrap();
    assert!(st.success(), "nft -f {}", nft.display());

    let upnp = if rules.no_upnp { "no" } else { "yes" };
    let deny = rules
        .deny
        .map(|p| format!("deny {p} 10.15.{n}.0/24 {p}\n"))
        .unwrap_or_default();
    let allow = rules
        .allow
        .map(|p| format!("allow {p} 10.15.{n}.0/24 {p}\n"))
        .unwrap_or_default();
    let conf = dir.join("miniupnpd.conf");
    fs::write(
        &conf,
        format!(
            "ext_ifname={wan_if}\nlistening_ip={lan_if}\nhttp_port=0\n\
             enable_upnp={upnp}\nenable_natpmp=yes\nsecure_mode=yes\nsystem_uptime=yes\n\
             min_lifetime=30\nmax_lifetime=86400\n\
             lease_file={}\nuuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d0{n:02}\n\
             upnp_table_name=miniupnpd\nupnp_nat_table_name=miniupnpd\n\
             upnp_forward_chain=miniupnpd\nupnp_nat_chain=prerouting_miniupnpd\n\
             upnp_nat_postrouting_chain=postrouting_miniupnpd\n\
             {deny}{allow}allow 1024-65535 10.15.{n}.0/24 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n",
            dir.join("leases").display()
        ),
    )
    .unwrap();
    let log = dir.join("miniupnpd.log");
    let child = router_ns
        .command("miniupnpd")
        .arg("-f")
        .arg(&conf)
        .arg("-P")
        .arg(dir.join("miniupnpd.pid"))
        .arg("-d")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log).unwrap())
        .stderr(fs::File::create(dir.join("miniupnpd.err")).unwrap())
        .spawn()
        .expect("spawn miniupnpd (apt install miniupnpd-nftables)");
    Router {
        ns: router_ns,
        child,
        log: dir.join("miniupnpd.err"),
        leases: dir.join("leases"),
    }
}

/// `upnpc -l` from the node's LAN: the router's mappings as `(protocol, external port,
/// internal address:port)`.
fn listed(node_ns: &Netns) -> Vec<(String, u16, String)> {
    let out = node_ns
        .command("upnpc")
        .arg("-l")
        .output()
        .expect("run upnpc (apt install miniupnpc)");
    let text = String::from_utf8_lossy(&out.stdout);
    // Lines like ` 0 TCP  6881->10.15.5.2:6881  'streamp2p' '' 3598`.
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.next()?.parse::<u32>().ok()?;
            let proto = w.next()?.to_string();
            let (ext, int) = w.next()?.split_once("->")?;
            Some((proto, ext.parse().ok()?, int.to_string()))
        })
        .collect()
}

fn config() -> String {
    // uTP on, so the peer port is asked for over UDP too: five doors in all with the box's
    // STUN.
    "[swarm]\nport_mapping = true\nutp = true\ndht = false\nlsd = false\n".to_string()
}

/// The node's five ports: (protocol, port, what).
fn wanted(node: &Node) -> Vec<(&'static str, u16, &'static str)> {
    vec![
        ("TCP", node.peer_port, "peers"),
        ("UDP", node.peer_port, "peers"),
        ("UDP", node.udp.port(), "udp_tracker"),
        ("TCP", node.http.port(), "web"),
        ("UDP", node.stun.port(), "stun"),
    ]
}

/// Waits until the node says `open` of its ports are open on the router; its health then.
fn wait_open(node: &mut Node, what: &str, open: u64) -> Value {
    node.wait_until(what, WAIT, |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        if h["port_mapping"]["open"].as_u64() == Some(open) {
            Ok(h)
        } else {
            Err(h["port_mapping"].to_string())
        }
    })
}

fn port_entry<'a>(health: &'a Value, proto: &str, port: u16) -> Option<&'a Value> {
    health["port_mapping"]["ports"]
        .as_array()?
        .iter()
        .find(|p| {
            p["protocol"].as_str() == Some(&proto.to_lowercase())
                && p["internal_port"].as_u64() == Some(port as u64)
        })
}

#[test]
fn the_router_holds_every_port_while_the_node_runs_and_none_after() {
    let tmp = tempdir();
    let (node_ns, router_ns, _wan) = network(5);
    let rules = Rules {
        allow: Some(443),
        ..Rules::default()
    };
    let router = start_router(tmp.path(), router_ns, 5, rules);
    let ip: IpAddr = "10.15.5.2".parse().unwrap();
    // https on 443 from certificate files: the sixth door (the namespace is the node's own,
    // so 443 is free).
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    self_signed("radio.test", &cert, &key);
    let config = format!(
        "https = \"10.15.5.2:443\"\n{}[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        config(),
        cert.display(),
        key.display()
    );
    let mut node = Node::start_in(&node_ns, ip, &tmp.path().join("n"), &[], &config);
    let mut want = wanted(&node);
    want.push(("TCP", 443, "https"));

    let health = wait_open(&mut node, "every port open on the router", 6);
    let pm = &health["port_mapping"];
    assert_eq!(pm["enabled"], true, "{pm}");
    assert_eq!(pm["method"], "upnp", "{pm}");
    assert_eq!(pm["router"], "10.15.5.1", "{pm}");
    assert_eq!(pm["external_ip"], "100.128.5.5", "{pm}");
    for (proto, port, what) in &want {
        let p = port_entry(&health, proto, *port).unwrap_or_else(|| panic!("{proto} {port}: {pm}"));
        assert_eq!(p["state"], "open", "{p}");
        assert_eq!(p["what"], *what, "{p}");
        assert_eq!(p["external_port"].as_u64(), Some(*port as u64), "{p}");
    }

    // The router's own word: each port and protocol, forwarded to the node.
    let held = listed(&node_ns);
    let redirects = router.redirects();
    for (proto, port, _) in &want {
        assert!(
            held.contains(&(proto.to_string(), *port, format!("10.15.5.2:{port}"))),
            "{proto} {port} not held by the router: {held:?}"
        );
        assert!(
            redirects.contains(&format!("dport {port} dnat ip to 10.15.5.2:{port}")),
            "no DNAT for {proto} {port}: {redirects}"
        );
    }
    assert_eq!(held.len(), 6, "{held:?}");

    // The dashboard says it in plain words.
    let mut op = Operator::new(&node);
    op.setup("Radio Mapa");
    let page = op.get("/admin/share").text();
    assert!(page.contains("6 of 6"), "{}", short(&page));
    assert!(page.contains("100.128.5.5"), "{}", short(&page));

    // Stopped: the node takes every mapping away.
    assert!(node.stop().success());
    let held = listed(&node_ns);
    assert!(held.is_empty(), "left on the router: {held:?}");
    assert!(
        !router.redirects().contains("dnat"),
        "{}",
        router.redirects()
    );
}

#[test]
fn a_refused_port_is_reported_and_the_others_open() {
    let tmp = tempdir();
    let (node_ns, router_ns, _wan) = network(51);
    let ip: IpAddr = "10.15.51.2".parse().unwrap();
    // The node starts before its router answers: it finds none, says so, and tries again.
    let mut node = Node::start_in(&node_ns, ip, &tmp.path().join("n"), &[], &config());
    node.wait_until("no router found", WAIT, |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        let states: Vec<&str> = h["port_mapping"]["ports"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["state"].as_str()).collect())
            .unwrap_or_default();
        if states.len() == 5 && states.iter().all(|s| *s == "no_router") {
            Ok(())
        } else {
            Err(h["port_mapping"].to_string())
        }
    });
    // The router's rules refuse the web port to this LAN.
    let web = node.http.port();
    let _router = start_router(
        tmp.path(),
        router_ns,
        51,
        Rules {
            deny: Some(web),
            ..Rules::default()
        },
    );

    let health = node.wait_until("four ports open, the web port refused", WAIT, |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        let refused = port_entry(&h, "TCP", web).map(|p| p["state"] == "refused");
        if h["port_mapping"]["open"].as_u64() == Some(4) && refused == Some(true) {
            Ok(h)
        } else {
            Err(h["port_mapping"].to_string())
        }
    });
    let p = port_entry(&health, "TCP", web).unwrap();
    assert_eq!(p["reason"]["kind"], "not_allowed", "{p}");
    assert_eq!(health["status"], "ok");
    let held = listed(&node_ns);
    assert_eq!(held.len(), 4, "{held:?}");
    assert!(!held.iter().any(|(_, port, _)| *port == web), "{held:?}");

    // The operator reads which door and why.
    let mut op = Operator::new(&node);
    op.setup("Radio Mapa");
    let page = op.get("/admin/share").text();
    assert!(page.contains("4 of 5"), "{}", short(&page));
    assert!(page.contains(&format!("port {web}")), "{}", short(&page));
    // ... and what to do about it: which door to open by hand, towards which address.
    assert!(
        page.contains("port forwarding") && page.contains(&format!("(10.15.51.2): TCP {web}")),
        "{}",
        short(&page)
    );
    assert_eq!(health["port_mapping"]["lan_address"], "10.15.51.2");

    // A phone's browser on the LAN: the section passes axe-core's WCAG 2.1 A/AA rules and
    // fits the screen, in Spanish and English; its screenshots are kept for a person.
    let shots = tmp.path().join("shots");
    let out = check_dashboard_section(&node_ns, &node, "reach", &shots);
    assert!(out.contains("redirección de puertos"), "{out}");
    assert!(out.contains("port forwarding"), "{out}");
    for lang in ["es", "en"] {
        let shot = shots.join(format!("reach-{lang}.png"));
        assert!(
            fs::metadata(&shot).map(|m| m.len() > 1000).unwrap_or(false),
            "{}",
            shot.display()
        );
        if let Ok(keep) = std::env::var("REACH_SHOTS") {
            let _ = fs::copy(&shot, Path::new(&keep).join(format!("reach-{lang}.png")));
        }
    }
    // The node keeps working.
    node.wait_healthy(0);
    assert!(node.stop().success());
    assert!(listed(&node_ns).is_empty());
}

/// The node's leases in miniupnpd's lease file (`10.15.<n>.2`).
fn leases_of_node(router: &Router, n: u8) -> Vec<(String, u16, String, u64, String)> {
    let node = format!("10.15.{n}.2:");
    router
        .leases()
        .into_iter()
        .filter(|l| l.2.starts_with(&node))
        .collect()
}

/// Waits until every lease in `first` is renewed by the node: the same mapping with a later
/// expiry, and no other mapping of the node's.
fn wait_renewed(
    node: &mut Node,
    router: &Router,
    n: u8,
    first: &[(String, u16, String, u64, String)],
) -> Vec<(String, u16, String, u64, String)> {
    node.wait_until("every lease renewed", Duration::from_secs(40), |_| {
        let now = leases_of_node(router, n);
        let later = first.iter().all(|f| {
            now.iter()
                .any(|l| (&l.0, l.1, &l.2) == (&f.0, f.1, &f.2) && l.3 > f.3)
        });
        if now.len() == first.len() && later {
            Ok(now)
        } else {
            Err(format!("{now:?}"))
        }
    })
}

#[test]
fn a_router_without_upnp_opens_every_port_by_nat_pmp_or_pcp() {
    let tmp = tempdir();
    let (node_ns, router_ns, _wan) = network(52);
    let router = start_router(
        tmp.path(),
        router_ns,
        52,
        Rules {
            no_upnp: true,
            ..Rules::default()
        },
    );
    let ip: IpAddr = "10.15.52.2".parse().unwrap();
    // Leases of 30 s, so a renewal is seen within the test.
    let config = format!("{}port_mapping_lease_secs = 30\n", config());
    let mut node = Node::start_in(&node_ns, ip, &tmp.path().join("n"), &[], &config);
    let want = wanted(&node);

    let health = wait_open(&mut node, "every port open by NAT-PMP or PCP", 5);
    let pm = &health["port_mapping"];
    // miniupnpd speaks PCP (RFC 6887), which the node tries first.
    assert_eq!(pm["method"], "pcp", "{pm}");
    assert_eq!(pm["router"], "10.15.52.1", "{pm}");
    assert_eq!(pm["external_ip"], "100.128.52.5", "{pm}");
    for (proto, port, what) in &want {
        let p = port_entry(&health, proto, *port).unwrap_or_else(|| panic!("{proto} {port}: {pm}"));
        assert_eq!(p["state"], "open", "{p}");
        assert_eq!(p["what"], *what, "{p}");
    }
    // The router's own word: a lease and a DNAT rule for each, made over PCP.
    let leases = router.leases();
    let redirects = router.redirects();
    for (proto, port, _) in &want {
        let lease = leases
            .iter()
            .find(|l| l.0 == *proto && l.2 == format!("10.15.52.2:{port}"))
            .unwrap_or_else(|| panic!("no lease for {proto} {port}: {leases:?}"));
        assert!(lease.4.starts_with("PCP"), "{lease:?}");
        let p = port_entry(&health, proto, *port).unwrap();
        assert_eq!(
            p["external_port"].as_u64(),
            Some(lease.1 as u64),
            "{p} {lease:?}"
        );
        assert!(
            redirects.contains(&format!("dnat ip to 10.15.52.2:{port}")),
            "no DNAT for {proto} {port}: {redirects}"
        );
    }
    assert_eq!(leases.len(), 5, "{leases:?}");

    // Renewed over PCP on the same external ports, and still open.
    let renewed = wait_renewed(&mut node, &router, 52, &leases);
    assert!(
        renewed.iter().all(|l| l.4.starts_with("PCP")),
        "{renewed:?}"
    );
    let health = node.health().unwrap();
    assert_eq!(
        health["port_mapping"]["open"], 5,
        "{}",
        health["port_mapping"]
    );
    assert_eq!(health["port_mapping"]["method"], "pcp");

    // Stopped (SIGTERM): every mapping removed, the PCP way it was made.
    assert!(node.stop().success());
    assert!(
        router.leases().is_empty(),
        "left on the router: {:?}",
        router.leases()
    );
    assert!(
        !router.redirects().contains("dnat"),
        "{}",
        router.redirects()
    );
}

#[test]
fn a_port_another_device_holds_moves_and_every_lease_is_renewed() {
    let tmp = tempdir();
    let n = 53;
    let (node_ns, router_ns, _wan) = network(n);
    // Another device of the home (a game console), on the same LAN.
    let device = Netns::new("pmd");
    join_lan(&router_ns, n, &device, 3);
    let ip: IpAddr = "10.15.53.2".parse().unwrap();
    // Leases of 30 s, the shortest the node takes: renewed every 15 s.
    let config = format!("{}port_mapping_lease_secs = 30\n", config());
    // The node starts before its router answers; it finds none and waits 5 s before
    // asking again, time enough for the device to take the node's web port first.
    let mut node = Node::start_in(&node_ns, ip, &tmp.path().join("n"), &[], &config);
    node.wait_until("no router found", WAIT, |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        let first = &h["port_mapping"]["ports"][0]["state"];
        if first == "no_router" {
            Ok(())
        } else {
            Err(h["port_mapping"].to_string())
        }
    });
    let router = start_router(tmp.path(), router_ns, n, Rules::default());
    let web = node.http.port();
    let web_s = web.to_string();
    let taken = device
        .command("upnpc")
        .args(["-a", "10.15.53.3", &web_s, &web_s, "TCP"])
        .output()
        .expect("run upnpc");
    let said = String::from_utf8_lossy(&taken.stdout);
    assert!(
        listed(&device).contains(&("TCP".into(), web, format!("10.15.53.3:{web}"))),
        "the device did not get port {web}: {said}"
    );

    let health = wait_open(&mut node, "every port open, the web port elsewhere", 5);
    let p = port_entry(&health, "TCP", web).unwrap();
    let moved = p["external_port"].as_u64().unwrap_or(0) as u16;
    assert!(moved != 0 && moved != web, "{p}");
    // The router forwards the other port to the node's web port, and keeps the device's.
    let held = listed(&node_ns);
    assert!(
        held.contains(&("TCP".into(), moved, format!("10.15.53.2:{web}"))),
        "{held:?}"
    );
    assert!(
        held.contains(&("TCP".into(), web, format!("10.15.53.3:{web}"))),
        "{held:?}"
    );
    assert_eq!(held.len(), 6, "{held:?}");
    // The dashboard gives the number the internet uses.
    let mut op = Operator::new(&node);
    op.setup("Radio Mapa");
    let page = op.get("/admin/share").text();
    assert!(page.contains("5 of 5"), "{}", short(&page));
    assert!(
        page.contains(&format!("reached on port {moved}")),
        "{}",
        short(&page)
    );

    // Renewal: every one of the node's leases is pushed further by the node itself (at
    // half of 30 s), on the same external ports, while the router keeps forwarding.
    let first = leases_of_node(&router, n);
    assert_eq!(first.len(), 5, "{first:?}");
    let renewed = wait_renewed(&mut node, &router, n, &first);
    assert!(renewed.iter().any(|l| l.1 == moved), "{renewed:?}");
    let health = node.health().unwrap();
    assert_eq!(
        health["port_mapping"]["open"], 5,
        "{}",
        health["port_mapping"]
    );
    let p = port_entry(&health, "TCP", web).unwrap();
    assert_eq!(p["external_port"].as_u64(), Some(moved as u64), "{p}");
    assert_eq!(listed(&node_ns).len(), 6);

    // Stopped: the node's four go, the device's stays.
    assert!(node.stop().success());
    let held = listed(&node_ns);
    assert_eq!(
        held,
        vec![("TCP".to_string(), web, format!("10.15.53.3:{web}"))]
    );
}
