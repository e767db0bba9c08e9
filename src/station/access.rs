//! Who may change the box: the operator's password (argon2id), login sessions with their
//! CSRF tokens, and the login limit. Rules and sled records; the HTTP side (cookies, the
//! local-network rule, the request guard) is in `web::admin`.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Error;
use crate::{
    i18n::Msg,
    msg,
    store::{unix_secs as now_secs, Setting, Store, Tree},
};

/// An operator stays logged in this long without visiting.
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Wrong passwords from one address before it must wait.
pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(10 * 60);
/// Addresses whose failures are remembered; beyond, the oldest are forgotten.
const MAX_TRACKED: usize = 4096;

#[derive(Debug)]
pub enum AccessError {
    Wrong,
    /// Minutes left to wait.
    Locked(u64),
    TooShort,
    TooLong,
    Store(Error),
    Hash(String),
}

impl AccessError {
    /// What the config page tells the visitor, for the refusals that are theirs to fix;
    /// the log says the same in English.
    pub fn said(&self) -> Option<Msg> {
        match self {
            AccessError::Wrong => Some(msg!("admin-wrong-password")),
            AccessError::Locked(minutes) => Some(msg!("admin-locked", minutes = *minutes)),
            AccessError::TooShort => Some(msg!("admin-password-too-short")),
            AccessError::TooLong => Some(msg!("admin-password-too-long")),
            AccessError::Store(_) | AccessError::Hash(_) => None,
        }
    }
}

impl std::fmt::Display for AccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self, self.said()) {
            (_, Some(m)) => m.fmt(f),
            (AccessError::Store(e), None) => e.fmt(f),
            (AccessError::Hash(e), None) => write!(f, "password hashing failed: {e}"),
            (_, None) => Ok(()),
        }
    }
}

impl std::error::Error for AccessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AccessError::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for AccessError {
    fn from(e: Error) -> Self {
        AccessError::Store(e)
    }
}

/// A login session, stored under the hash of its cookie token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Sent back with every change the page makes (form field or `X-CSRF-Token`).
    pub csrf: String,
    /// Unix seconds of the last request, for the idle limit.
    pub seen: u64,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

pub struct Access {
    store: Store,
    logins: Lockout,
    sources: Lockout,
}

/// Wrong secrets by address: after `MAX_FAILURES` the address waits `LOCKOUT`.
#[derive(Default)]
struct Lockout {
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

impl Lockout {
    /// Refuses an address that must wait, right secret or not.
    fn check(&self, ip: IpAddr, now: Instant) -> Result<(), AccessError> {
        let f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let Some(e) = f.get(&ip.to_canonical()) else {
            return Ok(());
        };
        let since = now.saturating_duration_since(e.last);
        if e.count >= MAX_FAILURES && since < LOCKOUT {
            let left = LOCKOUT - since;
            return Err(AccessError::Locked(left.as_secs().div_ceil(60).max(1)));
        }
        Ok(())
    }

    /// Counts a failure from `ip`, or forgets its failures after a success.
    fn judge(&self, ip: IpAddr, ok: bool, now: Instant) -> Result<(), AccessError> {
        let ip = ip.to_canonical();
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if ok {
            f.remove(&ip);
            return Ok(());
        }
        if f.len() >= MAX_TRACKED && !f.contains_key(&ip) {
            f.retain(|_, v| now.saturating_duration_since(v.last) < LOCKOUT);
            if f.len() >= MAX_TRACKED {
                if let Some(oldest) = f.iter().min_by_key(|(_, v)| v.last).map(|(k, _)| *k) {
                    f.remove(&oldest);
                }
            }
        }
        let e = f.entry(ip).or_insert(Failures {
            count: 0,
            last: now,
        });
        // A failure after a lockout has passed starts the count again.
        if now.saturating_duration_since(e.last) >= LOCKOUT {
            e.count = 0;
        }
        e.count += 1;
        e.last = now;
        Err(AccessError::Wrong)
    }
}

/// 32 random bytes from the OS, as hex.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn token_key(token: &str) -> Vec<u8> {
    hex::encode(Sha256::digest(token.as_bytes())).into_bytes()
}

/// Compares secrets without stopping at the first difference.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Access {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            logins: Lockout::default(),
            sources: Lockout::default(),
        }
    }

    pub fn has_password(&self) -> Result<bool, Error> {
        Ok(self
            .store
            .setting::<String>(Setting::PasswordHash)?
            .is_some())
    }

    fn check_strength(password: &str) -> Result<(), AccessError> {
        match password.chars().count() {
            n if n < 8 => Err(AccessError::TooShort),
            n if n > 200 => Err(AccessError::TooLong),
            _ => Ok(()),
        }
    }

    /// Hashes and stores a new password (argon2id, a fresh salt). Slow on purpose: call
    /// it from a blocking thread.
    pub fn set_password(&self, password: &str) -> Result<(), AccessError> {
        Self::check_strength(password)?;
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| AccessError::Hash(e.to_string()))?
            .to_string();
        self.store.set_setting(Setting::PasswordHash, &hash)?;
        Ok(())
    }

    /// Checks a login from `ip`. After `MAX_FAILURES` wrong passwords the address waits
    /// `LOCKOUT`, right password or not. Slow on purpose: call from a blocking thread.
    pub fn check_password(&self, ip: IpAddr, password: &str) -> Result<(), AccessError> {
        let now = Instant::now();
        self.logins.check(ip, now)?;
        let stored: Option<String> = self.store.setting(Setting::PasswordHash)?;
        let ok = stored.as_deref().is_some_and(|h| {
            PasswordHash::new(h).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        });
        self.logins.judge(ip, ok, now)
    }

    /// Checks a studio PC's source password (`live.source_password`, user `source`) from
    /// `ip`, with the same limit as logins. No password set: no source may connect.
    pub fn check_source(
        &self,
        ip: IpAddr,
        (user, password): (&str, &str),
        configured: &str,
    ) -> Result<(), AccessError> {
        let now = Instant::now();
        self.sources.check(ip, now)?;
        let ok = !configured.is_empty() && user == "source" && same_secret(password, configured);
        self.sources.judge(ip, ok, now)
    }

    /// Starts a session; returns the cookie token and the session.
    pub fn new_session(&self) -> Result<(String, Session), Error> {
        let token = random_token();
        let s = Session {
            csrf: random_token(),
            seen: now_secs(),
        };
        self.store.put(Tree::Sessions, &token_key(&token), &s)?;
        Ok((token, s))
    }

    /// The live session of a cookie token. Its last-seen time is refreshed at most once an
    /// hour (a flush per page view would wear the SD card).
    pub fn session(&self, token: &str) -> Option<Session> {
        if token.len() != 64 {
            return None;
        }
        let key = token_key(token);
        let mut s: Session = self.store.get(Tree::Sessions, &key).ok()??;
        let now = now_secs();
        if now.saturating_sub(s.seen) > SESSION_IDLE.as_secs() {
            let _ = self.store.remove(Tree::Sessions, &key);
            return None;
        }
        if now.saturating_sub(s.seen) > 3600 {
            s.seen = now;
            if let Err(e) = self.store.put(Tree::Sessions, &key, &s) {
                tracing::warn!("session refresh: {e}");
            }
        }
        Some(s)
    }

    pub fn end_session(&self, token: &str) -> Result<(), Error> {
        Ok(self.store.remove(Tree::Sessions, &token_key(token))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_sessions_and_lockout() {
        let dir = tempfile::tempdir().unwrap();
        let auth = Access::new(Store::open(dir.path()).unwrap());
        assert!(!auth.has_password().unwrap());
        assert!(matches!(
            auth.set_password("short"),
            Err(AccessError::TooShort)
        ));
        auth.set_password("correct horse").unwrap();
        let ip: IpAddr = "192.168.1.5".parse().unwrap();
        auth.check_password(ip, "correct horse").unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(matches!(
                auth.check_password(ip, "nope"),
                Err(AccessError::Wrong)
            ));
        }
        assert!(matches!(
            auth.check_password(ip, "correct horse"),
            Err(AccessError::Locked(_))
        ));
        let other: IpAddr = "192.168.1.6".parse().unwrap();
        auth.check_password(other, "correct horse").unwrap();

        let (token, s) = auth.new_session().unwrap();
        assert_eq!(auth.session(&token).unwrap().csrf, s.csrf);
        assert!(auth.session(&random_token()).is_none());
        assert!(auth.session("short").is_none());
        auth.end_session(&token).unwrap();
        assert!(auth.session(&token).is_none());
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("a", "ab"));
    }
}
