//! Tracker health: every tracker the node knows besides its own (its mirrors', the
//! configured and the followed stations' ones) is probed on a schedule over its own protocol (HTTP
//! announce, BEP 15 UDP connect, WebSocket handshake). Success rate and latency are kept in
//! sled, and tracker lists in magnets and torrents are ordered by them, with dead trackers
//! left out, so a listener's client does not spend its first 30 s on a tracker that is gone.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

use crate::store::{Setting, Store};

/// Probes that fail in a row before a tracker is left out of lists.
pub const DEAD_AFTER: u32 = 3;
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Trackers remembered at most (a followed station may list many).
const MAX_TRACKERS: usize = 256;

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
    http: reqwest::Client,
}

impl Health {
    pub fn new(store: Store, http: reqwest::Client) -> Self {
        let stats = store
            .setting(Setting::TrackerHealth)
            .ok()
            .flatten()
            .unwrap_or_default();
        Self {
            store,
            stats: Mutex::new(stats),
            http,
        }
    }

    pub fn stats(&self) -> BTreeMap<String, TrackerStat> {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Probes every tracker of `trackers` once, then keeps the results (durably).
    pub async fn probe_all(&self, trackers: &[String]) {
        let results = futures::future::join_all(trackers.iter().map(|t| self.probe(t))).await;
        let snapshot = {
            let Ok(mut stats) = self.stats.lock() else {
                return;
            };
            for (t, r) in trackers.iter().zip(results) {
                if !stats.contains_key(t) && stats.len() >= MAX_TRACKERS {
                    continue;
                }
                stats.entry(t.clone()).or_default().record(r);
            }
            stats.clone()
        };
        if let Err(e) = self.store.set_setting(Setting::TrackerHealth, &snapshot) {
            tracing::warn!("tracker health: {e}");
        }
    }

    async fn probe(&self, tracker: &str) -> Result<Duration, String> {
        let started = Instant::now();
        let r = tokio::time::timeout(PROBE_TIMEOUT, async {
            if tracker.starts_with("http://") || tracker.starts_with("https://") {
                self.probe_http(tracker).await
            } else if let Some(rest) = tracker.strip_prefix("udp://") {
                probe_udp(rest).await
            } else if tracker.starts_with("ws://") || tracker.starts_with("wss://") {
                tokio_tungstenite::connect_async(tracker)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            } else {
                Err("unknown tracker kind".into())
            }
        })
        .await
        .unwrap_or_else(|_| Err("no answer in 10 s".into()));
        r.map(|()| started.elapsed())
    }

    /// A stopped announce of a random infohash: any bencoded answer (even a refusal) shows
    /// a working tracker, and it adds nobody to any swarm.
    async fn probe_http(&self, url: &str) -> Result<(), String> {
        let ih: [u8; 20] = rand::random();
        let sep = if url.contains('?') { '&' } else { '?' };
        let q = format!(
            "{url}{sep}info_hash={}&peer_id=-SP0100-healthprobe0&port=6881&uploaded=0\
             &downloaded=0&left=0&compact=1&event=stopped&numwant=0",
            percent_encoding::percent_encode(&ih, percent_encoding::NON_ALPHANUMERIC)
        );
        let resp = self
            .http
            .get(q)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if body.first() == Some(&b'd') {
            Ok(())
        } else {
            Err("not a tracker answer".into())
        }
    }
}

/// BEP 15 connect: a connect reply with our transaction id shows a working UDP tracker.
async fn probe_udp(rest: &str) -> Result<(), String> {
    let authority = rest.split('/').next().unwrap_or("");
    let addr: SocketAddr = tokio::net::lookup_host(authority)
        .await
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
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
