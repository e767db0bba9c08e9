//! Network namespaces for tests that must never reach a real host: the node runs in a
//! namespace with no default route, beside "public" and "LAN" namespaces joined to it by
//! veth pairs, with the addresses the test chooses and names resolved through
//! `/etc/netns/NAME/hosts`. Everything is removed on drop, failed test or not.
//!
//! Sockets are made in a namespace by a thread that joins it (`setns` moves only the
//! calling thread): [`Netns::enter`]. A socket keeps its namespace for life, so a listener
//! made there can be served from any thread afterwards. Processes run inside with
//! `ip netns exec` ([`Netns::command`]), which also lays `/etc/netns/NAME/*` over `/etc`.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

extern "C" {
    /// libc's `setns(2)`; std links libc already.
    fn setns(fd: i32, nstype: i32) -> i32;
}

const CLONE_NEWNET: i32 = 0x4000_0000;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Runs `ip ARGS`, panicking with its output when it fails.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted (with its `/etc/netns` files) on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A fresh namespace with its loopback up; the name is unique to this process and call
    /// (test binaries run in parallel).
    pub fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("sp{}-{tag}{n}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        // No IPv6 chatter (router solicitations, DAD) on the links the tests count.
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1");
        ns.sysctl("net.ipv6.conf.default.disable_ipv6", "1");
        ns
    }

    /// `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ip(&all);
    }

    fn sysctl(&self, key: &str, value: &str) {
        let _ = Command::new("ip")
            .args(["netns", "exec", &self.name, "sysctl", "-qw"])
            .arg(format!("{key}={value}"))
            .status();
    }

    /// Joins `self` and `other` with a veth pair, `addr` (CIDR) on this end and
    /// `other_addr` on the other; both ends up.
    pub fn link(&self, addr: &str, other: &Netns, other_addr: &str) {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // Interface names: 15 bytes at most, unique on the host while they are created.
        let (a, b) = (
            format!("v{}a{n}", std::process::id() % 100_000),
            format!("v{}b{n}", std::process::id() % 100_000),
        );
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        ip(&["link", "set", &a, "netns", &self.name]);
        ip(&["link", "set", &b, "netns", &other.name]);
        self.ip(&["addr", "add", addr, "dev", &a]);
        other.ip(&["addr", "add", other_addr, "dev", &b]);
        self.ip(&["link", "set", &a, "up"]);
        other.ip(&["link", "set", &b, "up"]);
    }

    /// Names resolved inside (for processes run with [`Netns::command`]): `hosts` is the
    /// text of `/etc/hosts`; DNS goes nowhere.
    pub fn hosts(&self, hosts: &str) {
        let dir = self.etc();
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("hosts"),
            format!("127.0.0.1 localhost\n::1 localhost\n{hosts}"),
        )
        .unwrap();
        fs::write(dir.join("resolv.conf"), "nameserver 127.0.0.53\n").unwrap();
    }

    fn etc(&self) -> PathBuf {
        PathBuf::from("/etc/netns").join(&self.name)
    }

    /// `program` run inside: `ip netns exec NAME program`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Runs `f` on a thread that has joined this namespace: the sockets it makes are
    /// inside, and stay there.
    pub fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        Netns::enter_named(&self.name, f)
    }

    /// [`Netns::enter`] by the namespace's name.
    pub fn enter_named<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{name}");
        std::thread::spawn(move || {
            let file = fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: a plain system call on an open descriptor; it changes only this
            // thread's network namespace, and the thread ends with `f`.
            let r = unsafe { setns(file.as_raw_fd(), CLONE_NEWNET) };
            assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// What arrived in this namespace, from its own counters: TCP segments, UDP datagrams
    /// (to open and closed ports) and ICMP messages. Any connection attempt counts, to any
    /// port, answered or not.
    pub fn packets_in(&self) -> u64 {
        let out = self
            .command("cat")
            .arg("/proc/net/snmp")
            .output()
            .expect("read /proc/net/snmp");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        let field = |proto: &str, name: &str| -> u64 {
            let mut rows = lines.iter().filter(|l| l.starts_with(&format!("{proto}:")));
            let (Some(head), Some(values)) = (rows.next(), rows.next()) else {
                return 0;
            };
            head.split_whitespace()
                .zip(values.split_whitespace())
                .find(|(h, _)| *h == name)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        field("Tcp", "InSegs")
            + field("Udp", "InDatagrams")
            + field("Udp", "NoPorts")
            + field("Udp", "InErrors")
            + field("Icmp", "InMsgs")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = fs::remove_dir_all(self.etc());
    }
}
