//! The current token as the per-request paths read it, without any lock: `tokens()`,
//! `getStoredJwtToken()` and the MCP generation probe never wait on the session.
//!
//! `AuthCore` publishes here after every change of the session state, while holding the
//! state lock, so writers never race each other and readers never see a token the state
//! no longer holds for longer than one publish.

use crate::clock::ServerClock;
use crate::jwt::Claims;
use crate::secret::Secret;
use arc_swap::ArcSwapOption;
use std::sync::atomic::{fence, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

/// How far ahead of the refresh window a coarse clock read may still say "fresh" (see
/// `TokenCache::fast_token`): a coarse clock lags by a few scheduler ticks, far less than this.
pub const COARSE_CLOCK_MARGIN_MS: i64 = 1000;

/// The JWT in use, verified when it was obtained.
#[derive(Debug)]
pub struct CurrentToken {
    pub raw: Secret,
    pub claims: Claims,
    /// Unique per token this client ever held (never 0): names a token generation.
    pub id: u64,
    /// Expiry in ms since the epoch on the server's clock.
    pub expires_at_ms: i64,
    /// From this moment (ms, server clock) the token is refreshed ahead of expiry.
    pub refresh_at_ms: i64,
}

#[cfg(test)]
impl CurrentToken {
    pub fn for_tests(raw: Secret, id: u64, refresh_at_ms: i64, expires_at_ms: i64) -> Self {
        CurrentToken {
            raw,
            claims: Claims {
                sub: None,
                email: None,
                exp: expires_at_ms / 1000,
                nbf: None,
                iat: None,
            },
            id,
            expires_at_ms,
            refresh_at_ms,
        }
    }
}

/// How the per-request fast path may serve the current token, decided without a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastToken {
    /// Outside the refresh window: token `id` is the answer.
    Fresh(u64),
    /// Inside the refresh window: token `id` is still the answer, and a background refresh
    /// should run, as `get_token` does.
    Stale(u64),
    /// Missing, expired, signed out, or the session ended: take `get_token`.
    Unavailable,
}

/// The usable token as the fast path hands it out.
pub struct TokenSnapshot {
    pub id: u64,
    pub raw: Secret,
    /// Expiry in ms since the epoch on this machine's clock (as `AuthStatus.expires_at`).
    pub expires_at_local_ms: i64,
}

/// A seqlock over (token id, refresh-at, expires-at) of the usable token. Hand-written
/// because the generation probe runs before every MCP request and costs about as much as
/// an empty native call: these are five plain atomic loads, where even `arc-swap`'s
/// wait-free load adds a write to a shared slot. An id of 0 means no usable token.
#[derive(Default)]
struct TokenBeacon {
    /// Odd while a write is in progress.
    seq: AtomicU64,
    id: AtomicU64,
    refresh_at_ms: AtomicI64,
    expires_at_ms: AtomicI64,
}

impl TokenBeacon {
    /// Only one writer at a time (the caller holds the state lock).
    fn publish(&self, token: Option<&CurrentToken>) {
        let (id, refresh_at, expires_at) =
            token.map_or((0, 0, 0), |t| (t.id, t.refresh_at_ms, t.expires_at_ms));
        // A token's times never change, so the same id means nothing to publish.
        if self.id.load(Ordering::Relaxed) == id {
            return;
        }
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.id.store(id, Ordering::Relaxed);
        self.refresh_at_ms.store(refresh_at, Ordering::Relaxed);
        self.expires_at_ms.store(expires_at, Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// `(id, refresh_at_ms, expires_at_ms)` of the usable token; `None` when there is none,
    /// or when a write is in progress (the caller then takes the slower path).
    fn read(&self) -> Option<(u64, i64, i64)> {
        let before = self.seq.load(Ordering::Acquire);
        if before & 1 == 1 {
            return None;
        }
        let id = self.id.load(Ordering::Relaxed);
        let refresh_at = self.refresh_at_ms.load(Ordering::Relaxed);
        let expires_at = self.expires_at_ms.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != before || id == 0 {
            return None;
        }
        Some((id, refresh_at, expires_at))
    }
}

/// The usable token (that of an active session), published for lock-free readers.
#[derive(Default)]
pub struct TokenCache {
    beacon: TokenBeacon,
    current: ArcSwapOption<CurrentToken>,
}

impl TokenCache {
    /// Call with the state lock held, after every change of the state.
    pub fn publish(&self, usable: Option<&Arc<CurrentToken>>) {
        let unchanged = match (self.current.load().as_ref(), usable) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !unchanged {
            self.current.store(usable.cloned());
        }
        self.beacon.publish(usable.map(Arc::as_ref));
    }

    /// The token of an active session, whatever its expiry (`getStoredJwtToken`).
    pub fn current(&self) -> Option<Arc<CurrentToken>> {
        self.current.load_full()
    }

    /// Whether the current token can be handed out right now, from the beacon and a coarse
    /// clock read (no lock, no JWT parsing). The coarse time only ever answers "fresh", and
    /// only while the refresh window is more than `COARSE_CLOCK_MARGIN_MS` away; closer to
    /// it, and inside it, the precise clock decides, exactly as `get_token` does.
    pub fn fast_token(&self, clock: &ServerClock) -> FastToken {
        let Some((id, refresh_at, expires_at)) = self.beacon.read() else {
            return FastToken::Unavailable;
        };
        let offset = clock.offset_ms();
        if clock.coarse_local_now_ms() + offset + COARSE_CLOCK_MARGIN_MS < refresh_at {
            return FastToken::Fresh(id);
        }
        let now = clock.local_now_ms() + offset;
        if expires_at <= now {
            FastToken::Unavailable
        } else if refresh_at <= now {
            FastToken::Stale(id)
        } else {
            FastToken::Fresh(id)
        }
    }

    /// The usable, unexpired token with its generation id; `None` when `get_token` would
    /// have to refresh first (or fail).
    pub fn snapshot(&self, clock: &ServerClock) -> Option<TokenSnapshot> {
        let token = self.current()?;
        (token.expires_at_ms > clock.server_now_ms()).then(|| TokenSnapshot {
            id: token.id,
            raw: token.raw.clone(),
            expires_at_local_ms: token.expires_at_ms - clock.offset_ms(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use std::sync::atomic::AtomicBool;

    fn token(id: u64, refresh_at_ms: i64, expires_at_ms: i64) -> Arc<CurrentToken> {
        Arc::new(CurrentToken::for_tests(
            Secret::new(format!("token-{id}")),
            id,
            refresh_at_ms,
            expires_at_ms,
        ))
    }

    #[test]
    fn the_cache_shows_the_published_token_only() {
        let cache = TokenCache::default();
        let clock = ServerClock::new(Arc::new(SystemClock));
        let now = clock.local_now_ms();
        assert_eq!(cache.fast_token(&clock), FastToken::Unavailable);
        let fresh = token(7, now + 60_000, now + 120_000);
        cache.publish(Some(&fresh));
        assert_eq!(cache.fast_token(&clock), FastToken::Fresh(7));
        assert_eq!(cache.current().unwrap().id, 7);
        assert_eq!(cache.snapshot(&clock).unwrap().raw.expose(), "token-7");
        let stale = token(8, now - 1, now + 60_000);
        cache.publish(Some(&stale));
        assert_eq!(cache.fast_token(&clock), FastToken::Stale(8));
        let expired = token(9, now - 2, now - 1);
        cache.publish(Some(&expired));
        assert_eq!(cache.fast_token(&clock), FastToken::Unavailable);
        assert!(cache.snapshot(&clock).is_none());
        assert_eq!(cache.current().unwrap().id, 9, "stored, though expired");
        cache.publish(None);
        assert!(cache.current().is_none());
        assert_eq!(cache.fast_token(&clock), FastToken::Unavailable);
    }

    /// Readers racing a writer never see the id of one token with the times of another.
    #[test]
    fn a_read_never_mixes_two_tokens() {
        let beacon = Arc::new(TokenBeacon::default());
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let (beacon, done) = (beacon.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut seen = 0u64;
                    while !done.load(Ordering::Relaxed) {
                        if let Some((id, refresh_at, expires_at)) = beacon.read() {
                            let id = id as i64;
                            assert_eq!((refresh_at, expires_at), (id * 10, id * 10 + 5));
                            seen += 1;
                        }
                    }
                    seen
                })
            })
            .collect();
        for id in 1..200_000i64 {
            let published = (id % 7 != 0).then(|| token(id as u64, id * 10, id * 10 + 5));
            beacon.publish(published.as_deref());
        }
        done.store(true, Ordering::Relaxed);
        let seen: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(seen > 0);
    }
}
