//! The API's published keys: parsing a JWKS into keys we can verify with, and a cache that
//! refetches once when a token names a key it has not seen (rotation), but then not again
//! for any unknown key within a cooldown, so a flood of bad tokens cannot flood the API.

use crate::errors::{AuthError, Result};
use crate::jwt::Algorithm;
use crate::jwt::{self, ClaimRules, DecodedToken};
use crate::signature::VerifyingKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use parking_lot::Mutex;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
// tokio's clock, so the cooldown follows `tokio::time::pause()` in tests.
use tokio::time::Instant;

/// RSA moduli below this are refused: 2048 bits is the floor of every current guideline.
const MIN_RSA_BITS: usize = 2048;
/// After a refetch for an unknown `kid`, how long no unknown `kid` causes another: the
/// refetch brought every key the API publishes, so within this time another unknown `kid`
/// (the same or a new one) is far likelier a bad token than a second rotation.
pub const UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(30);

pub struct PublicKey {
    kid: Option<String>,
    alg: Option<Algorithm>,
    key: VerifyingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("family", &self.key.family())
            .finish()
    }
}

/// The usable keys of one JWKS document.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<PublicKey>,
    /// When the cache fetched it; `None` for keys from elsewhere (a stored session), whose
    /// age is unknown.
    fetched_at: Option<Instant>,
    /// The JWKS document as served (public keys only), kept so it can be stored and reused.
    pub document: String,
    /// Keys present in the document but not usable (wrong `use`, weak, malformed, private, `oct`).
    pub skipped: usize,
}

fn b64_field(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(jwk.get(name)?.as_str()?).ok()
}

fn parse_key(jwk: &Value) -> Option<PublicKey> {
    if let Some(usage) = jwk.get("use") {
        if usage.as_str() != Some("sig") {
            return None;
        }
    }
    // A published private key (`d`) can sign for anyone: nothing it verifies proves anything.
    if jwk.get("d").is_some() {
        return None;
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return None,
    };
    let alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(jwt::parse_algorithm(name).ok()?),
        Some(_) => return None,
    };
    let key = match jwk.get("kty")?.as_str()? {
        "RSA" => {
            let n = b64_field(jwk, "n")?;
            let e = b64_field(jwk, "e")?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            let bits = significant * 8 - n.iter().find(|b| **b != 0)?.leading_zeros() as usize;
            if bits < MIN_RSA_BITS || e.is_empty() || e.len() > 8 {
                return None;
            }
            VerifyingKey::Rsa { n, e }
        }
        "EC" => {
            let (curve, size): (fn(Vec<u8>) -> VerifyingKey, usize) =
                match jwk.get("crv")?.as_str()? {
                    "P-256" => (VerifyingKey::P256, 32),
                    "P-384" => (VerifyingKey::P384, 48),
                    _ => return None,
                };
            let (x, y) = (b64_field(jwk, "x")?, b64_field(jwk, "y")?);
            if x.len() != size || y.len() != size {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            curve(point)
        }
        "OKP" if jwk.get("crv")?.as_str()? == "Ed25519" => {
            VerifyingKey::Ed25519(b64_field(jwk, "x")?.try_into().ok()?)
        }
        _ => return None,
    };
    if let Some(alg) = alg {
        if !key.fits(alg) {
            return None;
        }
    }
    Some(PublicKey { kid, alg, key })
}

pub fn parse_jwks(body: &[u8]) -> Result<KeySet> {
    let document: Value = serde_json::from_slice(body)
        .map_err(|_| AuthError::bad_response("the JWKS endpoint did not return JSON"))?;
    let Some(Value::Array(entries)) = document.get("keys") else {
        return Err(AuthError::bad_response(
            "the JWKS endpoint did not return {\"keys\": [...]}",
        ));
    };
    let mut set = KeySet {
        document: String::from_utf8_lossy(body).into_owned(),
        ..KeySet::default()
    };
    for entry in entries {
        match parse_key(entry) {
            Some(key) => set.keys.push(key),
            None => set.skipped += 1,
        }
    }
    // Refused rather than cached: a set without a usable key would replace keys that work.
    if set.keys.is_empty() {
        return Err(AuthError::bad_response(format!(
            "the JWKS endpoint published no usable public signing key ({} unusable: weak, malformed, private, symmetric or not for signatures)",
            set.skipped
        )));
    }
    Ok(set)
}

impl KeySet {
    /// Keys that may have signed a token with this header. A token without `kid` is accepted
    /// only when exactly one key fits, as jose does: guessing among several is not verification.
    fn candidates(&self, header: &jwt::Header) -> Result<Vec<&PublicKey>> {
        let fitting: Vec<&PublicKey> = self
            .keys
            .iter()
            .filter(|key| key.key.fits(header.alg))
            .filter(|key| key.alg.is_none_or(|alg| alg == header.alg))
            .filter(|key| header.kid.is_none() || key.kid == header.kid)
            .collect();
        if header.kid.is_none() && fitting.len() > 1 {
            return Err(AuthError::token_invalid(
                "the JWT has no kid and the API publishes several keys that could fit",
            ));
        }
        Ok(fitting)
    }

    /// Verifies the signature with the keys this set has for the token; `Ok(false)` when none fits.
    fn verify(&self, token: &DecodedToken<'_>) -> Result<bool> {
        let candidates = self.candidates(&token.header)?;
        if candidates.is_empty() {
            return Ok(false);
        }
        let mut last = None;
        for key in candidates {
            match token.verify_signature(&key.key) {
                Ok(()) => return Ok(true),
                Err(err) => last = Some(err),
            }
        }
        Err(last.unwrap_or_else(|| AuthError::token_invalid("the JWT signature does not verify")))
    }
}

/// A verified token's parts that the session keeps.
#[derive(Clone, Debug)]
pub struct Verified {
    pub claims: jwt::Claims,
}

pub struct JwksCache {
    current: Mutex<Option<Arc<KeySet>>>,
    max_age: Duration,
    fetch_lock: tokio::sync::Mutex<()>,
    /// When a refetch for an unknown `kid` last succeeded. A failed one does not count: the
    /// next token tries again, so the error it reports is the fetch's, not "unknown key"
    /// (refresh attempts are spaced by the backoff, which bounds those fetches).
    unknown_kid_refetched_at: Mutex<Option<Instant>>,
}

impl JwksCache {
    /// `max_age`: how long fetched keys are used for verifications that talk to the API
    /// anyway (as jose's `cacheMaxAge`), so a key the API withdraws stops being trusted.
    pub fn new(max_age: Duration) -> Self {
        JwksCache {
            current: Mutex::new(None),
            max_age,
            fetch_lock: tokio::sync::Mutex::new(()),
            unknown_kid_refetched_at: Mutex::new(None),
        }
    }

    fn is_fresh(&self, keys: &KeySet) -> bool {
        keys.fetched_at
            .is_some_and(|at| at.elapsed() < self.max_age)
    }

    pub fn cached(&self) -> Option<Arc<KeySet>> {
        self.current.lock().clone()
    }

    /// Uses keys obtained elsewhere (a stored session) until the next refetch.
    pub fn install(&self, keys: KeySet) {
        *self.current.lock() = Some(Arc::new(keys));
    }

    /// Fetches the JWKS once for all concurrent callers: whoever waited on the lock while
    /// another fetched uses that result instead of fetching again.
    async fn refetch<F, Fut>(&self, seen: Option<&Arc<KeySet>>, fetch: &F) -> Result<Arc<KeySet>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<KeySet>>,
    {
        let _guard = self.fetch_lock.lock().await;
        if let Some(current) = self.cached() {
            if seen.is_none_or(|seen| !Arc::ptr_eq(seen, &current)) {
                return Ok(current);
            }
        }
        let mut fetched = fetch().await?;
        fetched.fetched_at = Some(Instant::now());
        let fresh = Arc::new(fetched);
        *self.current.lock() = Some(fresh.clone());
        Ok(fresh)
    }

    /// Whether a token with an unknown `kid` may cause a refetch now.
    fn unknown_kid_may_refetch(&self) -> bool {
        self.unknown_kid_refetched_at
            .lock()
            .is_none_or(|at| at.elapsed() >= UNKNOWN_KID_COOLDOWN)
    }

    /// Full verification: allowlist, key (fetching the JWKS when none is cached, when the
    /// cached one is older than the max age or of unknown age, and once for an unknown
    /// `kid`), signature, claims.
    pub async fn verify<F, Fut>(
        &self,
        token: &str,
        algorithms: &[Algorithm],
        rules: &ClaimRules,
        now: i64,
        fetch: F,
    ) -> Result<Verified>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<KeySet>>,
    {
        let decoded = check_allowed(jwt::decode(token)?, algorithms)?;
        let (mut keys, just_fetched) = match self.cached() {
            Some(keys) if self.is_fresh(&keys) => (keys, false),
            stale => (self.refetch(stale.as_ref(), &fetch).await?, true),
        };
        let mut verified = keys.verify(&decoded)?;
        // Keys fetched for this very call are all the API publishes: no second fetch.
        if !verified && !just_fetched && self.unknown_kid_may_refetch() {
            keys = self.refetch(Some(&keys), &fetch).await?;
            *self.unknown_kid_refetched_at.lock() = Some(Instant::now());
            verified = keys.verify(&decoded)?;
        }
        if !verified {
            return Err(AuthError::token_invalid(
                "the JWT was signed with a key the API does not publish in its JWKS",
            ));
        }
        jwt::validate_claims(&decoded.claims, rules, Some(now))?;
        Ok(Verified {
            claims: decoded.claims,
        })
    }

    /// Verification with the cached keys only: no network, `Err` when the key is not cached;
    /// `now: None` skips the time claims.
    pub fn verify_cached(
        &self,
        token: &str,
        algorithms: &[Algorithm],
        rules: &ClaimRules,
        now: Option<i64>,
    ) -> Result<Verified> {
        let decoded = check_allowed(jwt::decode(token)?, algorithms)?;
        let keys = self
            .cached()
            .ok_or_else(|| AuthError::token_invalid("the API's keys have not been fetched yet"))?;
        if !keys.verify(&decoded)? {
            return Err(AuthError::token_invalid(
                "the JWT was signed with a key that is not in the cached JWKS",
            ));
        }
        jwt::validate_claims(&decoded.claims, rules, now)?;
        Ok(Verified {
            claims: decoded.claims,
        })
    }
}

fn check_allowed<'a>(
    decoded: DecodedToken<'a>,
    algorithms: &[Algorithm],
) -> Result<DecodedToken<'a>> {
    if !algorithms.contains(&decoded.header.alg) {
        return Err(AuthError::token_invalid(format!(
            "the JWT uses {:?}, which is not in the allowed algorithms",
            decoded.header.alg
        )));
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorCode;
    use crate::test_keys::{self, FIRST, SECOND};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const MAX_AGE: Duration = Duration::from_secs(600);

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: None,
            audience: Vec::new(),
            leeway: Duration::from_secs(30),
        }
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({"sub": "1", "exp": 4_000_000_000i64})
    }

    /// A JWKS endpoint whose document can change, counting its fetches.
    struct Endpoint {
        document: Mutex<String>,
        fetches: AtomicUsize,
    }

    impl Endpoint {
        fn publishing(keys: &[&test_keys::TestKey]) -> Endpoint {
            Endpoint {
                document: Mutex::new(test_keys::jwks(keys)),
                fetches: AtomicUsize::new(0),
            }
        }

        fn publish(&self, keys: &[&test_keys::TestKey]) {
            *self.document.lock() = test_keys::jwks(keys);
        }

        async fn fetch(&self) -> Result<KeySet> {
            self.fetches.fetch_add(1, Ordering::Relaxed);
            parse_jwks(self.document.lock().as_bytes())
        }

        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::Relaxed)
        }
    }

    async fn verify(cache: &JwksCache, endpoint: &Endpoint, token: &str) -> Result<Verified> {
        cache
            .verify(token, &[Algorithm::EdDSA], &rules(), 1_800_000_000, || {
                endpoint.fetch()
            })
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn keys_older_than_the_max_age_are_refetched_and_a_withdrawn_key_is_refused() {
        let endpoint = Endpoint::publishing(&[&FIRST, &SECOND]);
        let cache = JwksCache::new(MAX_AGE);
        let token = FIRST.sign(&claims());
        verify(&cache, &endpoint, &token).await.unwrap();
        verify(&cache, &endpoint, &token).await.unwrap();
        assert_eq!(endpoint.fetches(), 1, "fresh keys are reused");

        endpoint.publish(&[&SECOND]);
        tokio::time::advance(MAX_AGE - Duration::from_secs(1)).await;
        verify(&cache, &endpoint, &token).await.unwrap();
        assert_eq!(
            endpoint.fetches(),
            1,
            "within the max age the cached keys verify"
        );

        tokio::time::advance(Duration::from_secs(1)).await;
        let err = verify(&cache, &endpoint, &token).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::TokenInvalid);
        assert_eq!(endpoint.fetches(), 2, "refetched once past the max age");
        assert!(
            cache
                .verify_cached(&token, &[Algorithm::EdDSA], &rules(), None)
                .is_err(),
            "the withdrawn key is gone from the cache"
        );
        verify(&cache, &endpoint, &SECOND.sign(&claims()))
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn stored_keys_serve_offline_checks_but_are_refetched_before_the_next_online_one() {
        let endpoint = Endpoint::publishing(&[&SECOND]);
        let cache = JwksCache::new(MAX_AGE);
        cache.install(parse_jwks(test_keys::jwks(&[&FIRST]).as_bytes()).unwrap());
        let token = FIRST.sign(&claims());
        assert!(cache
            .verify_cached(&token, &[Algorithm::EdDSA], &rules(), None)
            .is_ok());
        assert_eq!(endpoint.fetches(), 0);
        let err = verify(&cache, &endpoint, &token).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::TokenInvalid);
        assert_eq!(endpoint.fetches(), 1, "keys of unknown age are refetched");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_kid_refetches_once_then_not_again_within_the_cooldown() {
        let endpoint = Endpoint::publishing(&[&FIRST]);
        let cache = JwksCache::new(MAX_AGE);
        verify(&cache, &endpoint, &FIRST.sign(&claims()))
            .await
            .unwrap();
        endpoint.publish(&[&FIRST, &SECOND]);
        let rotated = SECOND.sign(&claims());
        verify(&cache, &endpoint, &rotated).await.unwrap();
        assert_eq!(endpoint.fetches(), 2, "rotation: one refetch");

        let mut header = serde_json::json!({"alg": "EdDSA", "kid": "nobody"});
        let stranger = {
            let token = FIRST.sign(&claims());
            let (_, rest) = token.split_once('.').unwrap();
            header["kid"] = "nobody".into();
            format!("{}.{rest}", crate::jwt::tests::b64(&header))
        };
        for _ in 0..3 {
            assert!(verify(&cache, &endpoint, &stranger).await.is_err());
        }
        assert_eq!(endpoint.fetches(), 2, "no refetch within the cooldown");
        tokio::time::advance(UNKNOWN_KID_COOLDOWN).await;
        assert!(verify(&cache, &endpoint, &stranger).await.is_err());
        assert_eq!(endpoint.fetches(), 3, "one more after it");
    }
}
