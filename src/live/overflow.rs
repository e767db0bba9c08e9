//! Overflow to the station's Icecast relay (issue 20, item 6): when the box's uplink cannot
//! carry its plain-stream listeners (`/live.mp3`, `/live.ogg`: each one a full stream), new
//! ones are sent by an HTTP redirect to the Icecast server the station pushes to, and the
//! operator is told. The listeners the box already has stay: nobody is cut off to make room.
//!
//! The signal is the plain-stream listeners themselves. A listener whose socket takes less
//! than the stream's rate piles up a queue in its writer (`web::listeners`). One alone is
//! its own slow link; a tenth of them or more (two at least) at once is taken for the link
//! they share, the box's uplink. Not half: a full uplink is not shared evenly. Each stream
//! is a few packets in flight, a lost packet waits for a retransmission timeout, and in the
//! swarm lab (benches/README.md, "Overflow") a 10 Mbit/s uplink kept about 75 listeners of
//! 128 kbit/s whole and starved the rest: past 75, only (N - 75) of N lag. A wrong guess
//! (two listeners on poor mobile links at once) costs little: for a while, new listeners
//! hear the same programme from the station's own relay. Rates alone ("sending near the
//! fastest ever seen") are not used: a box that never filled its uplink would look full.
//!
//! The signal must hold for [`HOLD`] before listeners are sent away, and they go on being
//! sent away until it has been gone for [`CALM`], so a moment's congestion does not send
//! anyone and a full uplink does not flap.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::Serialize;

use super::Output;

/// How long the plain-stream listeners must lag together before new ones are sent away.
pub const HOLD: Duration = Duration::from_secs(3);
/// How long new listeners are still sent away once the lag is gone.
pub const CALM: Duration = Duration::from_secs(30);

/// What the operator and `/api/health` see.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OverflowStatus {
    /// New plain-stream listeners are being sent to the relay now.
    pub full: bool,
    /// Listeners sent to the relay since the box started.
    pub redirected: u64,
    /// Where the last one went (the push target, without its password).
    pub to: Option<String>,
}

/// The plain-stream writers' reports and what follows from them.
#[derive(Default)]
pub struct Overflow {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Each stream's listeners and how many of them lag, as its writer last said.
    ogg: (usize, usize),
    mp3: (usize, usize),
    /// Since when the listeners have lagged together, without a break.
    since: Option<Instant>,
    /// New listeners are sent away until then.
    until: Option<Instant>,
    redirected: u64,
    to: Option<String>,
}

impl State {
    fn full(&self, now: Instant) -> bool {
        self.until.is_some_and(|u| u > now)
    }
}

/// Whether `lagging` of `listeners` plain-stream listeners say the uplink is full (pure).
pub fn shared_bottleneck(listeners: usize, lagging: usize) -> bool {
    lagging >= 2 && lagging * 10 >= listeners
}

impl Overflow {
    /// A writer's count of its listeners and of those that lag, at `now`.
    pub fn report(&self, output: Output, listeners: usize, lagging: usize, now: Instant) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        match output {
            Output::Ogg => st.ogg = (listeners, lagging),
            Output::Mp3 => st.mp3 = (listeners, lagging),
        }
        let (all, behind) = (st.ogg.0 + st.mp3.0, st.ogg.1 + st.mp3.1);
        if !shared_bottleneck(all, behind) {
            st.since = None;
            return;
        }
        let since = *st.since.get_or_insert(now);
        if now.saturating_duration_since(since) >= HOLD {
            if st.until.is_none_or(|u| u <= now) {
                tracing::warn!(
                    listeners = all,
                    lagging = behind,
                    "the uplink is full: new plain-stream listeners go to the Icecast relay"
                );
            }
            st.until = Some(now + CALM);
        }
    }

    /// Whether new plain-stream listeners are sent away at `now`.
    pub fn full(&self, now: Instant) -> bool {
        self.state.lock().is_ok_and(|st| st.full(now))
    }

    /// Counts a listener sent to `to`.
    pub fn sent(&self, to: &str) {
        if let Ok(mut st) = self.state.lock() {
            st.redirected += 1;
            if st.to.as_deref() != Some(to) {
                st.to = Some(to.to_string());
            }
        }
    }

    pub fn status(&self, now: Instant) -> OverflowStatus {
        let Ok(st) = self.state.lock() else {
            return OverflowStatus::default();
        };
        OverflowStatus {
            full: st.full(now),
            redirected: st.redirected,
            to: st.to.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slow_listener_is_its_own_link_a_tenth_of_them_is_the_uplink() {
        assert!(!shared_bottleneck(0, 0));
        assert!(!shared_bottleneck(1, 1), "a lone listener's own link");
        assert!(!shared_bottleneck(4, 1), "one of a few");
        assert!(!shared_bottleneck(100, 9));
        assert!(shared_bottleneck(2, 2));
        assert!(shared_bottleneck(20, 2));
        assert!(shared_bottleneck(85, 10), "ten starved past 75");
    }

    #[test]
    fn listeners_are_sent_away_after_a_lasting_lag_and_until_it_has_long_gone() {
        let o = Overflow::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_millis(s);
        o.report(Output::Mp3, 4, 3, at(0));
        o.report(Output::Mp3, 4, 3, at(2_000));
        assert!(!o.full(at(2_000)), "a moment's congestion sends nobody");
        // A break in the lag starts the wait again.
        o.report(Output::Mp3, 4, 1, at(2_500));
        o.report(Output::Mp3, 4, 3, at(3_000));
        o.report(Output::Mp3, 4, 3, at(5_500));
        assert!(!o.full(at(5_500)));
        o.report(Output::Mp3, 4, 3, at(6_000));
        assert!(o.full(at(6_000)));
        // The lag is gone: new listeners still go for CALM, then stay again.
        o.report(Output::Mp3, 4, 0, at(7_000));
        assert!(o.full(at(6_000 + CALM.as_millis() as u64 - 1)));
        assert!(!o.full(at(6_000 + CALM.as_millis() as u64)));
    }

    #[test]
    fn both_streams_count_together_and_redirects_are_counted() {
        let o = Overflow::default();
        let t0 = Instant::now();
        // One lagging Ogg listener and one lagging MP3 listener: two of twenty lag.
        o.report(Output::Ogg, 1, 1, t0);
        o.report(Output::Mp3, 19, 1, t0);
        o.report(Output::Mp3, 19, 1, t0 + HOLD);
        assert!(o.full(t0 + HOLD));
        o.sent("icecast://relay.example.org:8000/radio.mp3");
        o.sent("icecast://relay.example.org:8000/radio.mp3");
        assert_eq!(
            o.status(t0 + HOLD),
            OverflowStatus {
                full: true,
                redirected: 2,
                to: Some("icecast://relay.example.org:8000/radio.mp3".into()),
            }
        );
    }
}
