//! The node as a system service: telling systemd how it is doing.
//!
//! Parts: `notify` (READY, WATCHDOG and STOPPING messages to systemd's notify socket),
//! `process` (the node's own memory and CPU use, for `/metrics`), `tasks` (the node's
//! named tasks; one that panics stops the node, so systemd restarts it), `limits` (the
//! open-files limit, raised at start), `uplink` (what the box sends, from its interfaces'
//! counters, and how many more listeners that leaves room for), [`disk_space`] (free room
//! on a filesystem).
//! The messages to systemd are no-ops outside it (no `NOTIFY_SOCKET`), so `demo` and the
//! tests run the same code as the box.

pub mod limits;
pub mod notify;
pub mod portmap;
pub mod process;
pub mod tasks;
pub mod uplink;

pub use notify::{ready, run_watchdog, stopping};
pub use tasks::{TaskPanicked, Tasks};

/// Free and total bytes of the filesystem holding `p` (free: what an unprivileged writer
/// may still use).
pub fn disk_space(p: &std::path::Path) -> Option<(u64, u64)> {
    let s = nix::sys::statvfs::statvfs(p).ok()?;
    let unit = s.fragment_size() as u64;
    Some((s.blocks_available() as u64 * unit, s.blocks() as u64 * unit))
}
