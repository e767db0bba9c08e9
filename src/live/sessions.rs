//! Who is listening over HLS. A player fetches the playlist every target duration and the
//! segments it plays, so a session seen within about three target durations is
//! listening. Sessions are told apart without cookies: the master playlist hands each
//! player a token of its own in its media playlist URLs (`?s=TOKEN`); a player that comes
//! without one (it was given a media playlist URL directly, or fetches a segment) counts
//! by its address and user agent, and is joined to the token last seen from them.
//!
//! Every input here is a client's: the table is bounded, tokens are ours or ignored, and
//! the address and user agent are only hashed.

use std::{
    collections::HashMap,
    hash::BuildHasher,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Sessions remembered at once; past this, new ones are not counted until old ones expire
/// (a flood of made-up user agents cannot grow memory).
const MAX_SESSIONS: usize = 50_000;

/// About three target durations of the live playlists (2 s segments).
const WINDOW: Duration = Duration::from_secs(6);

pub struct Sessions {
    window: Duration,
    hasher: std::collections::hash_map::RandomState,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Session key -> last seen. Tokens are keys themselves; clients without one are keyed
    /// by a hash of their address and user agent.
    seen: HashMap<u64, Instant>,
    /// Address + user agent hash -> the token that client was given.
    tokens: HashMap<u64, u64>,
}

impl Inner {
    fn prune(&mut self, now: Instant, window: Duration) {
        self.seen
            .retain(|_, t| now.saturating_duration_since(*t) < window);
        let seen = &self.seen;
        self.tokens.retain(|_, token| seen.contains_key(token));
    }

    /// Makes room for one more, if there is any to make.
    fn room(&mut self, now: Instant, window: Duration) -> bool {
        if self.seen.len() >= MAX_SESSIONS {
            self.prune(now, window);
        }
        self.seen.len() < MAX_SESSIONS
    }
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new(WINDOW)
    }
}

impl Sessions {
    /// Sessions count while seen within `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            hasher: Default::default(),
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The table holds counts only: a panic elsewhere leaves it usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn client_key(&self, ip: IpAddr, user_agent: &str) -> u64 {
        // Tokens are odd, client keys even: the two kinds never collide.
        self.hasher.hash_one((ip.to_canonical(), user_agent)) & !1
    }

    /// A new session for a player that fetched the master playlist; its token goes into
    /// the media playlist URLs.
    pub fn start(&self, ip: IpAddr, user_agent: &str, now: Instant) -> String {
        let token = fastrand::u64(..) | 1;
        let client = self.client_key(ip, user_agent);
        let mut inner = self.lock();
        if inner.room(now, self.window) {
            inner.seen.insert(token, now);
            inner.tokens.insert(client, token);
        }
        format!("{token:016x}")
    }

    /// A playlist or segment request: refreshes the session of `token` if it is one of
    /// ours and still alive, else the one of this address and user agent.
    pub fn touch(&self, token: Option<&str>, ip: IpAddr, user_agent: &str, now: Instant) {
        let token = token
            .filter(|t| t.len() == 16)
            .and_then(|t| u64::from_str_radix(t, 16).ok())
            .filter(|t| t & 1 == 1);
        let client = self.client_key(ip, user_agent);
        let mut inner = self.lock();
        let key = match token {
            Some(t) if inner.seen.contains_key(&t) => {
                inner.tokens.insert(client, t);
                t
            }
            _ => inner
                .tokens
                .get(&client)
                .copied()
                .filter(|t| inner.seen.contains_key(t))
                .unwrap_or(client),
        };
        if inner.seen.contains_key(&key) || inner.room(now, self.window) {
            inner.seen.insert(key, now);
        }
    }

    /// Sessions seen within the window.
    pub fn count(&self, now: Instant) -> usize {
        let mut inner = self.lock();
        inner.prune(now, self.window);
        inner.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(6);

    #[test]
    fn players_are_told_apart_and_expire() {
        let s = Sessions::new(W);
        let t0 = Instant::now();
        let nat: IpAddr = "192.168.1.1".parse().unwrap();
        // Two players behind one address with the same user agent: two tokens.
        let a = s.start(nat, "ffmpeg", t0);
        let b = s.start(nat, "ffmpeg", t0);
        assert_ne!(a, b);
        s.touch(Some(&a), nat, "ffmpeg", t0 + Duration::from_secs(2));
        s.touch(Some(&b), nat, "ffmpeg", t0 + Duration::from_secs(2));
        // A segment without a token joins the token last seen from that client.
        s.touch(None, nat, "ffmpeg", t0 + Duration::from_secs(3));
        assert_eq!(s.count(t0 + Duration::from_secs(3)), 2);
        // A player that never saw the master playlist counts by address and agent.
        s.touch(None, nat, "Safari", t0 + Duration::from_secs(3));
        s.touch(None, nat, "Safari", t0 + Duration::from_secs(4));
        assert_eq!(s.count(t0 + Duration::from_secs(4)), 3);
        assert_eq!(s.count(t0 + Duration::from_secs(30)), 0);
    }

    #[test]
    fn made_up_tokens_count_by_client_and_the_table_is_bounded() {
        let s = Sessions::new(W);
        let now = Instant::now();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for bad in [
            "zz",
            "ffffffffffffffff",
            "0000000000000001",
            "not hex at all!!",
        ] {
            s.touch(Some(bad), ip, "curl", now);
        }
        assert_eq!(s.count(now), 1, "unknown tokens are not sessions");
        for i in 0..(MAX_SESSIONS + 10) {
            s.touch(None, ip, &i.to_string(), now);
        }
        assert_eq!(s.count(now), MAX_SESSIONS);
    }
}
