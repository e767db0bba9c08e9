//! What the box sends, from its network interfaces' own counters: the station's uplink as
//! real transfers use it (live segments and streams, BitTorrent, pages, signalling), never a
//! speed test to a third party. The fastest rate seen is what the uplink is known to carry;
//! with the steady rate now (the last minute's median, so a burst of a few seconds, such as
//! an episode downloaded on the LAN, does not read as "full") and the listeners now it says
//! how many more listeners fit ([`room`]), which the home screen tells the operator.
//!
//! The counters are `/sys/class/net/<interface>/statistics/tx_bytes`, summed over every
//! interface but loopback (or the configured ones). They count traffic to phones on the
//! box's own Wi-Fi too, which does not cross the home router's uplink: the figure is what
//! the box sent, at its best, which can overstate the internet uplink after a fast download
//! on the LAN; the operator sees it as "the fastest the box has sent".
//!
//! Rates are in bytes a second, as the listener history keeps them.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;

/// How often the counters are read: short enough to see a burst (a seed's segments, an
/// episode download), long enough that a rate is not a single packet's noise.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// The least a listener is assumed to cost (8 kbit/s), however little the box sends
/// per listener now: the swarm lab measured audiences up to a few hundred
/// (benches/README.md, "A big audience on a home uplink"), and what each costs there
/// (segments to the seeds and late pages, playlists, signalling, page loads) is about this.
pub const LEAST_PER_LISTENER: u64 = 1_000;

/// Samples the steady rate is the median of: a minute's.
const STEADY_SAMPLES: usize = 12;

/// The box's sent bytes, sampled.
pub struct Meter {
    root: PathBuf,
    /// Interfaces to count; empty: every one but loopback.
    only: Vec<String>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    last: Option<(Instant, u64)>,
    now_rate: u64,
    /// The last minute's rates, oldest first.
    recent: std::collections::VecDeque<u64>,
    /// The fastest sampled rate since [`Meter::take_peak`] last ran.
    peak_rate: u64,
}

impl Meter {
    /// A meter of the interfaces under `root` (`/sys/class/net` on the box).
    pub fn new(root: impl Into<PathBuf>, only: Vec<String>) -> Meter {
        Meter {
            root: root.into(),
            only,
            state: Mutex::new(State::default()),
        }
    }

    /// The rate over the last sample.
    pub fn now_rate(&self) -> u64 {
        self.lock().now_rate
    }

    /// What the box sends steadily now: the median of the last minute's rates. A burst
    /// shorter than half a minute leaves it where it was.
    pub fn steady_rate(&self) -> u64 {
        let mut rates: Vec<u64> = self.lock().recent.iter().copied().collect();
        if rates.is_empty() {
            return 0;
        }
        // The lower median: with few samples yet (just started), not the burst.
        let mid = (rates.len() - 1) / 2;
        *rates.select_nth_unstable(mid).1
    }

    /// The fastest rate since the last take, without taking it.
    pub fn peak_rate(&self) -> u64 {
        self.lock().peak_rate
    }

    /// The fastest rate since the last take (the history's minute sample), and start anew.
    pub fn take_peak(&self) -> u64 {
        std::mem::take(&mut self.lock().peak_rate)
    }

    /// Takes one reading of the counters (`sent`: their sum, bytes) at `at`.
    fn record(&self, at: Instant, sent: u64) {
        let mut s = self.lock();
        if let Some((then, before)) = s.last {
            let secs = at.saturating_duration_since(then).as_secs_f64();
            // A sum that went down: an interface went away or was reset (a USB network
            // adapter pulled out). Start again from the new sum, with no rate this time.
            if sent >= before && secs > 0.0 {
                let rate = ((sent - before) as f64 / secs) as u64;
                s.now_rate = rate;
                s.peak_rate = s.peak_rate.max(rate);
                if s.recent.len() == STEADY_SAMPLES {
                    s.recent.pop_front();
                }
                s.recent.push_back(rate);
            }
        }
        s.last = Some((at, sent));
    }

    /// The interfaces' sent bytes now; None where none can be read (no sysfs).
    fn read(&self) -> Option<u64> {
        sent_bytes(&self.root, &self.only)
    }

    /// Samples every [`SAMPLE_EVERY`] until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(SAMPLE_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            // A few small sysfs files: cheap, but file reads, so off the async threads.
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.read()).await {
                Ok(Some(sent)) => self.record(Instant::now(), sent),
                Ok(None) => {}
                Err(e) => tracing::warn!("uplink meter: {e}"),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sum of `tx_bytes` of the interfaces under `root`: those in `only`, or every one but
/// loopback. Interfaces that vanish while read are left out.
fn sent_bytes(root: &Path, only: &[String]) -> Option<u64> {
    let mut total = 0u64;
    let mut any = false;
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let counted = if only.is_empty() {
            name != "lo"
        } else {
            only.contains(&name)
        };
        if !counted {
            continue;
        }
        let path = entry.path().join("statistics/tx_bytes");
        if let Some(n) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
        {
            total = total.saturating_add(n);
            any = true;
        }
    }
    any.then_some(total)
}

/// How many more listeners the uplink carries: what is left of the fastest rate seen
/// (`best`) over the rate now, at what a listener costs now (the rate now over the
/// listeners now, and never less than [`LEAST_PER_LISTENER`]); with nobody listening,
/// a listener costs a full stream (`stream`, as a player of `/live.mp3` does) unless the
/// box has measured less. None until the box has sent at least one full stream's rate: a
/// box that has sent less has not shown what its uplink carries.
pub fn room(best: u64, now_rate: u64, listeners: u64, stream: u64) -> Option<u64> {
    if best < stream.max(1) {
        return None;
    }
    let each = now_rate
        .checked_div(listeners)
        .unwrap_or(stream)
        .max(LEAST_PER_LISTENER);
    Some(best.saturating_sub(now_rate) / each)
}

/// A count as people say it: exact up to 20, then to two significant figures (about 380,
/// about 1,200), never more than is known.
pub fn about(n: u64) -> u64 {
    if n <= 20 {
        return n;
    }
    let mut unit = 1;
    while n / unit >= 100 {
        unit *= 10;
    }
    n / unit * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_from_counters() {
        let m = Meter::new("/nonexistent", Vec::new());
        let t = Instant::now();
        m.record(t, 1_000);
        assert_eq!(m.now_rate(), 0, "one reading is no rate");
        m.record(t + Duration::from_secs(5), 1_000 + 625_000);
        assert_eq!(m.now_rate(), 125_000);
        m.record(t + Duration::from_secs(10), 1_000 + 625_000 + 62_500);
        assert_eq!(m.now_rate(), 12_500);
        assert_eq!(m.peak_rate(), 125_000);
        assert_eq!(m.take_peak(), 125_000);
        assert_eq!(m.take_peak(), 0, "taken");
        // An interface went away: the sum fell; no rate, and the next one counts again.
        m.record(t + Duration::from_secs(15), 500);
        assert_eq!(m.peak_rate(), 0);
        m.record(t + Duration::from_secs(20), 500 + 6_250);
        assert_eq!(m.now_rate(), 1_250);
    }

    #[test]
    fn a_short_burst_leaves_the_steady_rate_alone() {
        let m = Meter::new("/nonexistent", Vec::new());
        assert_eq!(m.steady_rate(), 0, "nothing sampled yet");
        let t = Instant::now();
        let mut sent = 0;
        let mut at = |secs: u64, rate: u64| {
            sent += rate * 5;
            m.record(t + Duration::from_secs(secs), sent);
        };
        at(0, 0);
        for k in 1..=8 {
            at(5 * k, 20_000);
        }
        // An episode downloaded on the LAN at 1 MB/s for 10 s.
        at(45, 1_000_000);
        at(50, 1_000_000);
        assert_eq!(m.now_rate(), 1_000_000);
        assert_eq!(m.steady_rate(), 20_000);
        // Listeners really doubled: within half a minute the steady rate follows.
        for k in 11..=17 {
            at(5 * k, 40_000);
        }
        assert_eq!(m.steady_rate(), 40_000);
    }

    #[test]
    fn reads_sysfs_counters() {
        let root = tempfile::tempdir().unwrap();
        for (name, sent) in [
            ("lo", "999999"),
            ("eth0", "1000\n"),
            ("wlan0", "234\n"),
            ("bad", "x"),
        ] {
            let dir = root.path().join(name).join("statistics");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("tx_bytes"), sent).unwrap();
        }
        assert_eq!(sent_bytes(root.path(), &[]), Some(1234), "all but loopback");
        assert_eq!(sent_bytes(root.path(), &["lo".into()]), Some(999_999));
        assert_eq!(sent_bytes(root.path(), &["eth9".into()]), None);
        assert_eq!(sent_bytes(&root.path().join("missing"), &[]), None);
    }

    #[test]
    fn room_for_more_listeners() {
        // 10 Mbit/s seen; 100 listeners cost 2 Mbit/s now: 20 kbit/s each, room for 400.
        assert_eq!(room(1_250_000, 250_000, 100, 16_000), Some(400));
        // Listeners that cost almost nothing now still count LEAST_PER_LISTENER each.
        assert_eq!(room(1_250_000, 10_000, 100, 16_000), Some(1_240));
        // Nobody listening: a full 128 kbit/s stream each.
        assert_eq!(room(160_000, 0, 0, 16_000), Some(10));
        // Busier now than ever seen (the best is from an earlier minute): no room.
        assert_eq!(room(125_000, 250_000, 10, 16_000), Some(0));
        assert_eq!(room(0, 0, 0, 16_000), None, "nothing measured yet");
        assert_eq!(
            room(900, 100, 0, 16_000),
            None,
            "never a full stream's rate"
        );
    }

    #[test]
    fn counts_as_people_say_them() {
        assert_eq!(about(7), 7);
        assert_eq!(about(20), 20);
        assert_eq!(about(384), 380);
        assert_eq!(about(1_239), 1_200);
        assert_eq!(about(99), 99);
    }
}
