//! The console's sessions: an opaque random token (the cookie) → who signed in, in memory.
//!
//! * The token is 32 random bytes (hex); the store keys sessions by the token's SHA-256, so
//!   the map never holds a usable cookie value.
//! * A session ends when unused for `idle`, `absolute` after sign-in, at sign-out, or when
//!   its access key is no longer active (checked on every request by the caller).
//! * Each session has its own CSRF token, required on every state-changing form.
//! * The secret access key is never kept: sign-in verifies it once (SigV4) and forgets it.
//! * At most [`MAX_SESSIONS`] live at once; past it the least recently used one ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use trent_policy::Principal;

/// The most sessions kept at once.
pub const MAX_SESSIONS: usize = 10_000;

/// A signed-in session, as the console's pages see it.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_key_id: String,
    pub principal: Principal,
    /// The region the console's calls are made in (the region selector).
    pub region: String,
    /// The token every state-changing form must carry.
    pub csrf: String,
    created: Instant,
    last_used: Instant,
}

/// Every live session.
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
    idle: Duration,
    absolute: Duration,
}

/// 32 random bytes as hex.
pub fn random_token() -> Option<String> {
    let mut b = [0u8; 32];
    trent_crypto::fill_random(&mut b).ok()?;
    Some(hex::encode(b))
}

fn digest(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Sessions {
    pub fn new(idle: Duration, absolute: Duration) -> Sessions {
        Sessions { map: Mutex::new(HashMap::new()), idle, absolute }
    }

    fn live(&self, s: &Session, now: Instant) -> bool {
        now.saturating_duration_since(s.last_used) < self.idle
            && now.saturating_duration_since(s.created) < self.absolute
    }

    /// Starts a session; returns its token (the cookie value). `None` if no randomness.
    pub fn create(&self, access_key_id: &str, principal: Principal, region: &str, now: Instant) -> Option<String> {
        let token = random_token()?;
        let csrf = random_token()?;
        let session = Session {
            access_key_id: access_key_id.to_string(),
            principal,
            region: region.to_string(),
            csrf,
            created: now,
            last_used: now,
        };
        let mut map = self.map.lock().ok()?;
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| now.saturating_duration_since(s.last_used) < self.idle);
        }
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        map.insert(digest(&token), session);
        Some(token)
    }

    /// The session `token` names, if live; marks it used. An expired one is removed.
    pub fn get(&self, token: &str, now: Instant) -> Option<Session> {
        let key = digest(token);
        let mut map = self.map.lock().ok()?;
        let live = self.live(map.get(&key)?, now);
        if !live {
            map.remove(&key);
            return None;
        }
        let s = map.get_mut(&key)?;
        s.last_used = now;
        Some(s.clone())
    }

    /// Ends the session (sign-out, or its key is no longer active).
    pub fn remove(&self, token: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&digest(token));
        }
    }

    /// Ends every session signed in with `access_key_id`.
    pub fn remove_for_key(&self, access_key_id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, s| s.access_key_id != access_key_id);
        }
    }

    /// Changes the session's region (the region selector).
    pub fn set_region(&self, token: &str, region: &str) -> bool {
        let Ok(mut map) = self.map.lock() else { return false };
        match map.get_mut(&digest(token)) {
            Some(s) => {
                s.region = region.to_string();
                true
            }
            None => false,
        }
    }

    /// Live sessions (for tests and metrics).
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Constant-time comparison of two tokens (CSRF).
pub fn tokens_match(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trent_policy::PrincipalKind;

    fn user() -> Principal {
        Principal {
            account_id: "111122223333".into(),
            kind: PrincipalKind::User { name: "alice".into(), path: "/".into(), id: "AIDAEXAMPLE".into() },
        }
    }

    fn store() -> Sessions {
        Sessions::new(Duration::from_secs(60), Duration::from_secs(600))
    }

    #[test]
    fn a_new_session_is_found_by_its_token_and_only_by_it() {
        let s = store();
        let t0 = Instant::now();
        let token = s.create("AKIAEXAMPLE", user(), "us-east-1", t0).unwrap();
        assert_eq!(token.len(), 64);
        let got = s.get(&token, t0).unwrap();
        assert_eq!((got.access_key_id.as_str(), got.region.as_str()), ("AKIAEXAMPLE", "us-east-1"));
        assert_eq!(got.principal, user());
        assert_eq!(got.csrf.len(), 64);
        assert_ne!(got.csrf, token);
        assert!(s.get("", t0).is_none());
        assert!(s.get(&token[..63], t0).is_none());
        let other = s.create("AKIAEXAMPLE", user(), "us-east-1", t0).unwrap();
        assert_ne!(other, token, "tokens are random");
        assert_ne!(s.get(&other, t0).unwrap().csrf, got.csrf, "each session has its own CSRF token");
    }

    #[test]
    fn the_store_never_holds_the_token_itself() {
        let s = store();
        let token = s.create("AKIAEXAMPLE", user(), "us-east-1", Instant::now()).unwrap();
        let map = s.map.lock().unwrap();
        assert!(map.keys().all(|k| hex::encode(k) != token));
    }

    #[test]
    fn an_idle_session_expires_and_use_keeps_it_alive() {
        let s = store();
        let t0 = Instant::now();
        let token = s.create("AKIAEXAMPLE", user(), "us-east-1", t0).unwrap();
        assert!(s.get(&token, t0 + Duration::from_secs(50)).is_some());
        // Used at 50 s, so still live at 100 s (50 s idle).
        assert!(s.get(&token, t0 + Duration::from_secs(100)).is_some());
        // 61 s unused: gone, and removed.
        assert!(s.get(&token, t0 + Duration::from_secs(161)).is_none());
        assert!(s.is_empty());
    }

    #[test]
    fn a_session_ends_at_its_absolute_expiry_however_much_it_is_used() {
        let s = store();
        let t0 = Instant::now();
        let token = s.create("AKIAEXAMPLE", user(), "us-east-1", t0).unwrap();
        for i in 1..=11 {
            let live = s.get(&token, t0 + Duration::from_secs(55 * i)).is_some();
            assert_eq!(live, 55 * i < 600, "at {} s", 55 * i);
        }
    }

    #[test]
    fn sign_out_and_key_removal_end_sessions() {
        let s = store();
        let t0 = Instant::now();
        let a = s.create("AKIAONE", user(), "us-east-1", t0).unwrap();
        let b = s.create("AKIAONE", user(), "eu-west-1", t0).unwrap();
        let c = s.create("AKIATWO", user(), "us-east-1", t0).unwrap();
        s.remove(&a);
        assert!(s.get(&a, t0).is_none() && s.get(&b, t0).is_some());
        s.remove_for_key("AKIAONE");
        assert!(s.get(&b, t0).is_none());
        assert!(s.get(&c, t0).is_some());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn the_region_can_be_switched() {
        let s = store();
        let t0 = Instant::now();
        let token = s.create("AKIAEXAMPLE", user(), "us-east-1", t0).unwrap();
        assert!(s.set_region(&token, "eu-central-1"));
        assert_eq!(s.get(&token, t0).unwrap().region, "eu-central-1");
        assert!(!s.set_region("nope", "eu-central-1"));
    }

    #[test]
    fn the_store_is_bounded() {
        let s = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        let t0 = Instant::now();
        let first = s.create("AKIAEXAMPLE", user(), "us-east-1", t0).unwrap();
        for i in 1..=MAX_SESSIONS {
            s.create("AKIAEXAMPLE", user(), "us-east-1", t0 + Duration::from_millis(i as u64)).unwrap();
        }
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(s.get(&first, t0 + Duration::from_secs(1)).is_none(), "the least recently used one went");
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd") && !tokens_match("abc", "ab") && !tokens_match("", "a"));
    }
}
