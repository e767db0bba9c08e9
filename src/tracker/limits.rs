//! Token buckets: [`Bucket`] for one sender (a WebSocket's messages), [`RateLimiter`]
//! for announces and scrapes, one bucket per address.
//!
//! The limiter's map is bounded: when it is full, buckets that have refilled (idle clients) are
//! dropped; if it is still full, the new address is let through rather than refused, so a
//! flood of spoofed sources cannot lock out real clients.

use std::{collections::HashMap, net::IpAddr, sync::Mutex, time::Instant};

const MAX_ADDRESSES: usize = 65_536;
/// A client may burst this many times its per-second rate (a client starting many
/// downloads announces them all at once).
const BURST_SECONDS: f64 = 10.0;

/// Allows `rate` events a second on average, `cap` at once after a quiet spell.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(cap: f64, now: Instant) -> Self {
        Self {
            tokens: cap,
            at: now,
        }
    }

    /// The tokens there would be at `now`.
    fn level(&self, now: Instant, rate: f64, cap: f64) -> f64 {
        (self.tokens + now.saturating_duration_since(self.at).as_secs_f64() * rate).min(cap)
    }

    /// Takes one token; false when there is none.
    pub fn take(&mut self, now: Instant, rate: f64, cap: f64) -> bool {
        self.tokens = self.level(now, rate, cap);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub struct RateLimiter {
    per_sec: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
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
        let rate = self.per_sec;
        if b.len() >= MAX_ADDRESSES && !b.contains_key(&ip) {
            b.retain(|_, bucket| bucket.level(now, rate, cap) < cap);
            if b.len() >= MAX_ADDRESSES {
                return true;
            }
        }
        b.entry(ip)
            .or_insert(Bucket::new(cap, now))
            .take(now, rate, cap)
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
