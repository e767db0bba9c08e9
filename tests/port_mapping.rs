//! Port mapping on a home router (issue 15, item 5), against Debian's miniupnpd (UPnP IGD and
//! NAT-PMP/PCP) acting as the router in a network namespace: the node's namespace sits on
//! the router's LAN side (10.15.5.0/24 and 10.15.51.0/24, one per test), a third namespace
//! is the "internet" on its WAN side.
//!
//! The WAN address is 100.128.5.5 / 100.128.51.5 because miniupnpd 2.3 refuses to forward
//! anything when its WAN address is private or reserved (every documentation range
//! included). It lives only on a veth between two of the test's namespaces, with no route
//! out of them, and nothing is sent to it: the router only reports it.
//!
//! The router's mappings are read from the router itself: `upnpc -l` (miniupnpc) from the
//! node's namespace, and miniupnpd's nftables chain in the router's.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(40);

/// miniupnpd running as the router of a test LAN; killed on drop.
struct Router {
    ns: Netns,
    child: Child,
    log: std::path::PathBuf,
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
}

/// The node's LAN (`10.15.<n>.0/24`, the router at .1, the node at .2), the router's
/// namespace and the WAN: (node, router, WAN).
fn network(n: u8) -> (Netns, Netns, Netns) {
    let node_ns = Netns::new("pmn");
    let router_ns = Netns::new("pmr");
    let wan = Netns::new("pmw");
    let (router_lan, node_ip) = (format!("10.15.{n}.1"), format!("10.15.{n}.2"));
    router_ns.link(
        &format!("{router_lan}/24"),
        &node_ns,
        &format!("{node_ip}/24"),
    );
    router_ns.link(
        &format!("100.128.{n}.5/24"),
        &wan,
        &format!("100.128.{n}.1/24"),
    );
    node_ns.ip(&["route", "add", "default", "via", &router_lan]);
    (node_ns, router_ns, wan)
}

/// miniupnpd on `router_ns` (made by [`network`] with `n`); `deny` is a port it refuses
/// to open for anyone.
fn start_router(dir: &Path, router_ns: Netns, n: u8, deny: Option<u16>) -> Router {
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

    let deny = deny
        .map(|p| format!("deny {p} 10.15.{n}.0/24 {p}\n"))
        .unwrap_or_default();
    let conf = dir.join("miniupnpd.conf");
    fs::write(
        &conf,
        format!(
            "ext_ifname={wan_if}\nlistening_ip={lan_if}\nhttp_port=0\n\
             enable_upnp=yes\nenable_natpmp=yes\nsecure_mode=yes\nsystem_uptime=yes\n\
             min_lifetime=120\nmax_lifetime=86400\n\
             lease_file={}\nuuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d0{n:02}\n\
             upnp_table_name=miniupnpd\nupnp_nat_table_name=miniupnpd\n\
             upnp_forward_chain=miniupnpd\nupnp_nat_chain=prerouting_miniupnpd\n\
             upnp_nat_postrouting_chain=postrouting_miniupnpd\n\
             {deny}allow 1024-65535 10.15.{n}.0/24 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n",
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
    let router = start_router(tmp.path(), router_ns, 5, None);
    let ip: IpAddr = "10.15.5.2".parse().unwrap();
    let mut node = Node::start_in(&node_ns, ip, &tmp.path().join("n"), &[], &config());
    let want = wanted(&node);

    let health = node.wait_until("every port open on the router", WAIT, |n| {
        let h = n.health().map_err(|e| e.to_string())?;
        if h["port_mapping"]["open"].as_u64() == Some(5) {
            Ok(h)
        } else {
            Err(h["port_mapping"].to_string())
        }
    });
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
    assert_eq!(held.len(), 5, "{held:?}");

    // The dashboard says it in plain words.
    let mut op = Operator::new(&node);
    op.setup("Radio Mapa");
    let page = op.get("/admin").text();
    assert!(page.contains("5 of 5"), "{}", short(&page));
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
    let _router = start_router(tmp.path(), router_ns, 51, Some(web));

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
    let page = op.get("/admin").text();
    assert!(page.contains("4 of 5"), "{}", short(&page));
    assert!(page.contains(&format!("port {web}")), "{}", short(&page));
    // The node keeps working.
    node.wait_healthy(0);
    assert!(node.stop().success());
    assert!(listed(&node_ns).is_empty());
}
