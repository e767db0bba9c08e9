//! The node as a system service: telling systemd how it is doing.
//!
//! Parts: `notify` (READY, WATCHDOG and STOPPING messages to systemd's notify socket),
//! `process` (the node's own memory and CPU use, for `/metrics`).
//! Everything here is a no-op outside systemd (no `NOTIFY_SOCKET`), so `demo` and the
//! tests run the same code as the box.

pub mod notify;
pub mod process;

pub use notify::{ready, run_watchdog, stopping};
