//! Tracker health: every tracker the node knows besides its own (its mirrors', the
//! configured and the followed stations' ones) is probed on a schedule over its own protocol (HTTP
//! announce, BEP 15 UDP connect, WebSocket handshake). Success rate and latency are kept in
//! sled, and tracker lists in magnets and torrents are ordered by them, with dead trackers
//! left out, so a listener's client does not spend its first 30 s on a tracker that is gone.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::{
    outbound::{Origin, Outbound, Scheme},
    store::{Setting, Store},
};

/// Probes that fail in a row before a tracker is left out of lists.
pub const DEAD_AFTER: u32 = 3;
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Trackers remembered at most (a followed station may list many).
const MAX_TRACKERS: usize = 256;
/// Probes under way at once: a long list is worked through, not fired all together.
const PROBES_AT_ONCE: usize = 4;
/// Most of a tracker's answer a probe reads: a refusal or an empty peer list is small.
const PROBE_ANSWER_BYTES: usize = 16 * 1024;

/// A tracker to probe: its address as lists show it, and where the probe goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackerStat {
    pub ok: u32,
    pub failed: u32,
    pub failed_in_a_row: u32,
    /// Smoothed round-trip time of successful probes.
    pub latency_ms: Option<u32>,
    pub last_error: Option<String>,
}

impl TrackerStat {
    pub fn success_rate(&self) -> f64 {
        let n = self.ok + self.failed;
        if n == 0 {
            1.0
        } else {
            f64::from(self.ok) / f64::from(n)
        }
    }

    pub fn dead(&self) -> bool {
        self.failed_in_a_row >= DEAD_AFTER
    }

    fn record(&mut self, r: Result<Duration, String>) {
        match r {
            Ok(rtt) => {
                let ms = rtt.as_millis().min(u128::from(u32::MAX)) as u32;
                self.ok = self.ok.saturating_add(1);
                self.failed_in_a_row = 0;
                self.latency_ms = Some(match self.latency_ms {
                    Some(old) => (old * 3 + ms) / 4,
                    None => ms,
                });
                self.last_error = None;
            }
            Err(e) => {
                self.failed = self.failed.saturating_add(1);
                self.failed_in_a_row = self.failed_in_a_row.saturating_add(1);
                self.last_error = Some(e);
            }
        }
    }
}

/// Orders `trackers` for a list: the first `keep` (the node's own) stay first, the others
/// follow by success rate, then latency; dead ones are left out. Unprobed ones count as
/// healthy (a new tracker gets its chance).
pub fn order(
    trackers: Vec<String>,
    keep: usize,
    stats: &BTreeMap<String, TrackerStat>,
) -> Vec<String> {
    let (own, mut rest) = if trackers.len() > keep {
        let mut t = trackers;
        let rest = t.split_off(keep);
        (t, rest)
    } else {
        (trackers, Vec::new())
    };
    rest.retain(|t| !stats.get(t).is_some_and(TrackerStat::dead));
    rest.sort_by(|a, b| {
        let (sa, sb) = (stats.get(a), stats.get(b));
        let rate = |s: Option<&TrackerStat>| s.map_or(1.0, TrackerStat::success_rate);
        let lat = |s: Option<&TrackerStat>| s.and_then(|s| s.latency_ms).unwrap_or(u32::MAX);
        rate(sb).total_cmp(&rate(sa)).then(lat(sa).cmp(&lat(sb)))
    });
    own.into_iter().chain(rest).collect()
}

pub struct Health {
    store: Store,
    stats: Mutex<BTreeMap<String, TrackerStat>>,
    out: Outbound,
}

impl Health {
    pub fn new(store: Store, out: Outbound) -> Self {
        let stats = store
            .setting(Setting::TrackerHealth)
            .ok()
            .flatten()
            .unwrap_or_default();
        Self {
            store,
            stats: Mutex::new(stats),
            out,
        }
    }

    pub fn stats(&self) -> BTreeMap<String, TrackerStat> {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Probes every tracker of `trackers` once, a few at a time, then keeps the results
    /// (durably); trackers no longer in the list are forgotten.
    pub async fn probe_all(&self, trackers: &[Target]) {
        // Collected first: a lazy `map` in the future's state trips rustc's check that
        // the task is `Send` (a closure over `&Target` of any lifetime).
        let probes: Vec<_> = trackers.iter().map(|t| self.probe(&t.origin)).collect();
        let results: Vec<_> = futures::stream::iter(probes)
            .buffered(PROBES_AT_ONCE)
            .collect()
            .await;
        let known: BTreeSet<&str> = trackers.iter().map(|t| t.url.as_str()).collect();
        let snapshot = {
            let Ok(mut stats) = self.stats.lock() else {
                return;
            };
            stats.retain(|url, _| known.contains(url.as_str()));
            for (t, r) in trackers.iter().zip(results) {
                if !stats.contains_key(&t.url) && stats.len() >= MAX_TRACKERS {
                    continue;
                }
                stats.entry(t.url.clone()).or_default().record(r);
            }
            stats.clone()
        };
        if let Err(e) = self.store.set_setting(Setting::TrackerHealth, &snapshot) {
            tracing::warn!("tracker health: {e}");
        }
    }

    async fn probe(&self, tracker: &Origin) -> Result<Duration, String> {
        let started = Instant::now();
        let r = tokio::time::timeout(PROBE_TIMEOUT, async {
            match tracker.scheme() {
                Scheme::Http | Scheme::Https => self.probe_http(tracker).await,
                Scheme::Udp => {
                    let addr = self.out.socket_addr(tracker).await.map_err(detail)?;
                    probe_udp(addr).await
                }
                Scheme::Ws | Scheme::Wss => self.probe_ws(tracker).await,
            }
        })
        .await
        .unwrap_or_else(|_| Err("no answer in 10 s".into()));
        r.map(|()| started.elapsed())
    }

    /// A stopped announce of a random infohash: any bencoded answer (even a refusal) shows
    /// a working tracker, and it adds nobody to any swarm.
    async fn probe_http(&self, tracker: &Origin) -> Result<(), String> {
        let ih: [u8; 20] = rand::random();
        let query = format!(
            "?info_hash={}&peer_id=-SP0100-healthprobe0&port=6881&uploaded=0\
             &downloaded=0&left=0&compact=1&event=stopped&numwant=0",
            percent_encoding::percent_encode(&ih, percent_encoding::NON_ALPHANUMERIC)
        );
        let answer = self
            .out
            .get(tracker, &query, None, PROBE_ANSWER_BYTES)
            .await
            .map_err(detail)?;
        if answer.body.first() == Some(&b'd') {
            Ok(())
        } else {
            Err(format!("not a tracker answer (HTTP {})", answer.status))
        }
    }

    /// The WebSocket handshake, over a connection to the checked address (the handshake's
    /// answer is bounded by tungstenite).
    async fn probe_ws(&self, tracker: &Origin) -> Result<(), String> {
        let addr = self.out.socket_addr(tracker).await.map_err(detail)?;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        tokio_tungstenite::client_async_tls(tracker.url(""), tcp)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn detail(e: crate::outbound::OutboundError) -> String {
    e.detail().to_string()
}

/// BEP 15 connect: a connect reply with our transaction id shows a working UDP tracker.
async fn probe_udp(addr: SocketAddr) -> Result<(), String> {
    let bind: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|_| "bind")?
    } else {
        "[::]:0".parse().map_err(|_| "bind")?
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| e.to_string())?;
    sock.connect(addr).await.map_err(|e| e.to_string())?;
    let tx: u32 = rand::random();
    let mut req = Vec::with_capacity(16);
    req.extend_from_slice(&crate::tracker::udp::protocol::PROTOCOL_ID.to_be_bytes());
    req.extend_from_slice(&0u32.to_be_bytes());
    req.extend_from_slice(&tx.to_be_bytes());
    sock.send(&req).await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    let n = sock.recv(&mut buf).await.map_err(|e| e.to_string())?;
    if n >= 16 && buf[..4] == [0, 0, 0, 0] && buf[4..8] == tx.to_be_bytes() {
        Ok(())
    } else {
        Err("not a BEP 15 connect reply".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_first_then_healthy_fast_ones_and_dead_ones_out() {
        let mut stats = BTreeMap::new();
        let mut slow = TrackerStat::default();
        slow.record(Ok(Duration::from_millis(300)));
        let mut fast = TrackerStat::default();
        fast.record(Ok(Duration::from_millis(20)));
        let mut flaky = TrackerStat::default();
        flaky.record(Ok(Duration::from_millis(5)));
        flaky.record(Err("x".into()));
        let mut dead = TrackerStat::default();
        for _ in 0..DEAD_AFTER {
            dead.record(Err("gone".into()));
        }
        stats.insert("slow".to_string(), slow);
        stats.insert("fast".to_string(), fast);
        stats.insert("flaky".to_string(), flaky);
        stats.insert("dead".to_string(), dead.clone());
        stats.insert("own".to_string(), dead);
        let list = ["own", "dead", "flaky", "slow", "new", "fast"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            order(list, 1, &stats),
            ["own", "fast", "slow", "new", "flaky"]
        );
    }
}
