//! sd_notify for a `Type=notify` unit: READY=1 once the HTTP port serves, WATCHDOG=1 at
//! half the unit's `WatchdogSec`, STOPPING=1 when shutdown starts.
//!
//! The `sd-notify` crate speaks the datagram protocol in Rust (no libsystemd to link, so
//! the aarch64 cross build needs no arm64 systemd headers). Both it and this module read
//! `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment; unset, every
//! call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

/// Shortest ping period, so a tiny `WatchdogSec` cannot turn into a busy loop.
const MIN_PING: Duration = Duration::from_millis(100);

/// A failed notification is logged, never fatal: the node serves either way, and systemd
/// reports a missing READY or watchdog ping itself.
fn send(state: NotifyState, what: &str) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!("cannot tell systemd {what}: {e}");
    }
}

/// Tells systemd the node serves: the unit becomes active and units ordered after it start.
pub fn ready() {
    send(NotifyState::Ready, "READY=1");
}

/// Tells systemd the node is shutting down on purpose.
pub fn stopping() {
    send(NotifyState::Stopping, "STOPPING=1");
}

/// How often to ping: half the watchdog timeout, as sd_watchdog_enabled(3) advises, so one
/// late tick still arrives in time. None when the unit has no watchdog.
fn ping_period(timeout: Option<Duration>) -> Option<Duration> {
    timeout.map(|t| (t / 2).max(MIN_PING))
}

/// Pings the systemd watchdog until `shutdown`. The pings come from a task on the node's
/// runtime, so a runtime that stops scheduling tasks (all workers blocked or deadlocked)
/// stops them, and systemd restarts the node after `WatchdogSec`.
pub async fn run_watchdog(shutdown: CancellationToken) {
    let Some(period) = ping_period(sd_notify::watchdog_enabled()) else {
        return;
    };
    tracing::info!(period_ms = period.as_millis() as u64, "systemd watchdog on");
    let mut tick = tokio::time::interval(period);
    // After a stall, one ping is enough; a burst of catch-up pings would hide nothing.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => send(NotifyState::Watchdog, "WATCHDOG=1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_at_half_the_timeout() {
        assert_eq!(ping_period(None), None);
        assert_eq!(
            ping_period(Some(Duration::from_secs(30))),
            Some(Duration::from_secs(15))
        );
        assert_eq!(ping_period(Some(Duration::from_micros(10))), Some(MIN_PING));
    }
}
