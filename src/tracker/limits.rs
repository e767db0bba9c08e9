//! Per-IP rate limit for announces and scrapes: a token bucket per address.
//!
//! The map is bounded: when it is full, buckets that have refilled (idle clients) are
//! dropped; if it is still full, the new address is let through rather than refused, so a
//! flood of spoofed sources cannot lock out real clients.

use std::{collections::HashMap, net::IpAddr, sync::Mutex, time::Instant};

const MAX_ADDRESSES: usize = 65_536;
/// A client may burst this many times its per-second rate (a client starting many
/// downloads announces them all at once).
const BURST_SECONDS: f64 = 10.0;

pub struct RateLimiter {
    per_sec: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_sec == 0` allows everything.
    pub fn new(per_sec: u32) -> Self {
        Self {
            per_sec: f64::from(per_sec),
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `ip`; false when its bucket is empty.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        if self.per_sec == 0.0 {
            return true;
        }
        let cap = self.per_sec * BURST_SECONDS;
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.len() >= MAX_ADDRESSES && !b.contains_key(&ip) {
            let rate = self.per_sec;
            b.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < cap
            });
            if b.len() >= MAX_ADDRESSES {
                return true;
            }
        }
        let (tokens, at) = b.entry(ip).or_insert((cap, now));
        *tokens =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.per_sec).min(cap);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_empties_and_refills() {
        let l = RateLimiter::new(2);
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let other: IpAddr = "10.1.2.4".parse().unwrap();
        let now = Instant::now();
        for _ in 0..20 {
            assert!(l.allow(ip, now));
        }
        assert!(!l.allow(ip, now));
        assert!(
            l.allow(other, now),
            "one client's flood does not limit another"
        );
        assert!(l.allow(ip, now + Duration::from_secs(1)));
        assert!(RateLimiter::new(0).allow(ip, now));
    }
}
