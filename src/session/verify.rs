//! Where a token becomes the current token: verified against the API's keys (fetched
//! through the API when needed), checked against our rules, and timed for its refresh.

use super::token_cache::CurrentToken;
use crate::api::{FlaskApi, TokenAnswer};
use crate::clock::ServerClock;
use crate::config::Config;
use crate::errors::{AuthError, Result};
use crate::jwks::{self, JwksCache};
use crate::jwt::Algorithm;
use crate::jwt::{ClaimRules, Claims};
use crate::secret::Secret;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Verifier {
    jwks: JwksCache,
    algorithms: Vec<Algorithm>,
    rules: ClaimRules,
    refresh_before_expiry: Option<Duration>,
    next_token_id: AtomicU64,
}

impl Verifier {
    pub fn new(config: &Config) -> Verifier {
        Verifier {
            jwks: JwksCache::new(config.jwks_max_age),
            algorithms: config.algorithms.clone(),
            rules: ClaimRules {
                issuer: config.issuer.clone(),
                audience: config.audience.clone(),
                leeway: config.leeway,
            },
            refresh_before_expiry: config.refresh_before_expiry,
            next_token_id: AtomicU64::new(1),
        }
    }

    /// A token the API just issued: full verification (fetching the JWKS when a key is not
    /// cached), and refused when already past `exp`: the leeway tolerates clocks that
    /// differ, but a fresh token that has expired could only be handed out expired.
    pub async fn verify_issued(
        &self,
        answer: TokenAnswer,
        clock: &ServerClock,
        api: &dyn FlaskApi,
    ) -> Result<Arc<CurrentToken>> {
        let raw = answer.issued.access_token;
        let verified = self
            .jwks
            .verify(
                raw.expose(),
                &self.algorithms,
                &self.rules,
                clock.server_now_secs(),
                || api.fetch_jwks(),
            )
            .await?;
        if verified.exp * 1000 <= clock.server_now_ms() {
            return Err(AuthError::token_invalid(
                "the API issued a JWT that has already expired; check the API's token lifetime and clock",
            ));
        }
        Ok(self.current_token(raw, verified))
    }

    /// A stored token, with the stored keys only (no network); `None` when it does not
    /// verify, whatever its expiry (an expired one is then refreshed with the cookie).
    pub fn verify_stored(&self, raw: Secret) -> Option<Arc<CurrentToken>> {
        let verified = self
            .jwks
            .verify_cached(raw.expose(), &self.algorithms, &self.rules, None)
            .ok()?;
        Some(self.current_token(raw, verified))
    }

    /// Signature (cached keys only), algorithm and claims at `now_secs` (server clock).
    pub fn is_valid(&self, token: &str, now_secs: i64) -> bool {
        self.jwks
            .verify_cached(token, &self.algorithms, &self.rules, Some(now_secs))
            .is_ok()
    }

    /// Uses the keys stored with a session until the next refetch.
    pub fn install_stored_keys(&self, document: &str) {
        if let Ok(keys) = jwks::parse_jwks(document.as_bytes()) {
            self.jwks.install(keys);
        }
    }

    /// The JWKS document the current keys came from, to store with the session.
    pub fn keys_document(&self) -> Option<String> {
        self.jwks.cached().map(|keys| keys.document.clone())
    }

    fn current_token(&self, raw: Secret, claims: Claims) -> Arc<CurrentToken> {
        let expires_at_ms = claims.exp * 1000;
        Arc::new(CurrentToken {
            raw,
            id: self.next_token_id.fetch_add(1, Ordering::Relaxed),
            expires_at_ms,
            refresh_at_ms: expires_at_ms - self.refresh_window_ms(&claims),
            claims,
        })
    }

    /// `refreshBeforeExpirySeconds`, or a fifth of the token's lifetime capped at 5 minutes;
    /// never more than half the lifetime, so a window longer than the token cannot make every
    /// new token due for refresh at once.
    fn refresh_window_ms(&self, claims: &Claims) -> i64 {
        let lifetime_ms = (claims.exp - claims.iat.unwrap_or(claims.exp)).max(0) * 1000;
        match self.refresh_before_expiry {
            Some(window) => (window.as_millis() as i64).min(lifetime_ms / 2),
            None => (lifetime_ms / 5).min(300_000),
        }
    }
}
