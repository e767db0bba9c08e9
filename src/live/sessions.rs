//! Who is listening over HLS. A player fetches the playlist every target duration and the
//! segments it plays, so a session seen within about three target durations is
//! listening. Sessions are told apart without cookies: the master playlist hands each
//! player a token of its own in its media playlist URLs (`?s=TOKEN`); a player that comes
//! without one (it was given a media playlist URL directly, or fetches a segment) counts
//! by its address and user agent, and is joined to the token last seen from them.
//!
//! Listen pages that share the stream peer-to-peer say so (`up` in the query, see
//! `live::seeding`) and are counted apart: most of them take their segments from other
//! listeners and ask the station for a playlist only now and then, so they are counted
//! by the tracker's live swarms instead (`status`).
//!
//! A token carries a tag keyed by a secret of this process, so the node knows its own
//! tokens without keeping them: a player that paused past the window comes back as the same
//! session, and a made-up token is ignored. Every input here is a client's: the table is
//! bounded, and the address and user agent are only hashed.

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
    /// Session key -> last seen, and whether it is a listen page sharing the stream.
    /// Tokens are keys themselves; clients without one are keyed by a hash of their address
    /// and user agent.
    seen: HashMap<u64, (Instant, bool)>,
    /// Address + user agent hash -> the token that client used last, and when.
    tokens: HashMap<u64, (u64, Instant)>,
}

impl Inner {
    fn prune(&mut self, now: Instant, window: Duration) {
        let live = |t: &Instant| now.saturating_duration_since(*t) < window;
        self.seen.retain(|_, (t, _)| live(t));
        self.tokens.retain(|_, (_, t)| live(t));
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

    /// The tag of a token's nonce: the low half of the token.
    fn tag(&self, nonce: u32) -> u32 {
        self.hasher.hash_one(nonce) as u32
    }

    /// A token of ours, as its session key; anything else is None.
    pub fn token_key(&self, text: &str) -> Option<u64> {
        let t = u64::from_str_radix(text, 16)
            .ok()
            .filter(|_| text.len() == 16)?;
        (t as u32 == self.tag((t >> 32) as u32)).then_some(t | 1)
    }

    /// A token for a player that fetched the master playlist, for its media playlist URLs.
    /// The session counts from the player's first media playlist.
    pub fn start(&self) -> String {
        let nonce = fastrand::u32(..);
        format!("{nonce:08x}{:08x}", self.tag(nonce))
    }

    /// A playlist or segment request: refreshes the session of `token` if it is one of
    /// ours, else the one this address and user agent used last, else a session of the
    /// address and user agent themselves. `sharing`: a listen page that shares the stream.
    pub fn touch(
        &self,
        token: Option<&str>,
        ip: IpAddr,
        user_agent: &str,
        sharing: bool,
        now: Instant,
    ) {
        let token = token.and_then(|t| self.token_key(t));
        let client = self.client_key(ip, user_agent);
        let mut inner = self.lock();
        let key = match token {
            Some(t) => {
                inner.tokens.insert(client, (t, now));
                t
            }
            None => inner.tokens.get(&client).map_or(client, |(t, _)| *t),
        };
        if inner.seen.contains_key(&key) || inner.room(now, self.window) {
            inner.seen.insert(key, (now, sharing));
        }
    }

    /// Sessions seen within the window.
    pub fn count(&self, now: Instant) -> Count {
        let mut inner = self.lock();
        inner.prune(now, self.window);
        Count {
            all: inner.seen.len(),
            sharing: inner.seen.values().filter(|(_, s)| *s).count(),
        }
    }
}

/// Sessions seen within the window, and how many of them share the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub all: usize,
    pub sharing: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(6);

    #[test]
    fn players_are_told_apart_and_expire() {
        let s = Sessions::new(W);
        let t0 = Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        let nat: IpAddr = "192.168.1.1".parse().unwrap();
        // Two players behind one address with the same user agent: two tokens.
        let (a, b) = (s.start(), s.start());
        assert_ne!(a, b);
        assert_eq!(
            s.count(t0).all,
            0,
            "a master playlist alone is not a listener"
        );
        s.touch(Some(&a), nat, "ffmpeg", false, at(1));
        s.touch(Some(&b), nat, "ffmpeg", false, at(1));
        // A segment without a token joins the token last seen from that client.
        s.touch(None, nat, "ffmpeg", false, at(2));
        assert_eq!(s.count(at(2)).all, 2);
        // A player that never saw the master playlist counts by address and agent.
        s.touch(None, nat, "Safari", false, at(3));
        s.touch(None, nat, "Safari", false, at(4));
        assert_eq!(s.count(at(4)).all, 3);
        assert_eq!(s.count(at(30)).all, 0);
        // A player back from a pause is the same session as before, not a new one.
        s.touch(Some(&a), nat, "ffmpeg", false, at(40));
        s.touch(None, nat, "ffmpeg", false, at(41));
        assert_eq!(s.count(at(41)).all, 1);
        // A listen page that shares is counted apart.
        s.touch(Some(&b), nat, "ffmpeg", true, at(42));
        assert_eq!(s.count(at(42)), Count { all: 2, sharing: 1 });
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
            s.touch(Some(bad), ip, "curl", false, now);
        }
        assert_eq!(s.count(now).all, 1, "unknown tokens are not sessions");
        for i in 0..(MAX_SESSIONS + 10) {
            s.touch(None, ip, &i.to_string(), false, now);
        }
        assert_eq!(s.count(now).all, MAX_SESSIONS);
    }
}
