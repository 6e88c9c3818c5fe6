//! The API's published keys: parsing a JWKS into keys we can verify with, and a cache that
//! refetches once when a token names a key it has not seen (rotation), but then not again
//! for any unknown key within a cooldown, so a flood of bad tokens cannot flood the API.

use crate::errors::{AuthError, Result};
use crate::jwt::{self, Algorithm, ClaimRules, Claims, Refusal};
use crate::signature;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{AlgorithmFamily, DecodingKey, DecodingKeyKind};
use parking_lot::Mutex;
use serde::Deserialize;
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

/// Which algorithms a key can verify at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Shape {
    fn fits(self, alg: Algorithm) -> bool {
        match self {
            Shape::Rsa => alg.family() == AlgorithmFamily::Rsa,
            Shape::P256 => alg == Algorithm::ES256,
            Shape::P384 => alg == Algorithm::ES384,
            Shape::Ed25519 => alg == Algorithm::EdDSA,
        }
    }
}

pub struct PublicKey {
    kid: Option<String>,
    alg: Option<Algorithm>,
    shape: Shape,
    key: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("shape", &self.shape)
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
    pub skipped: Vec<Skipped>,
}

/// Why a JWK is not used; doctor names it (`inspect_jwks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    Private,
    NotForSignatures,
    Malformed,
    Symmetric,
    WeakRsa,
    UnsupportedCurve,
    AlgorithmNotForKey,
}

impl Unusable {
    /// A stable name, for programs (doctor's `--json`).
    pub fn code(self) -> &'static str {
        match self {
            Unusable::Private => "private",
            Unusable::NotForSignatures => "not-for-signatures",
            Unusable::Malformed => "malformed",
            Unusable::Symmetric => "symmetric",
            Unusable::WeakRsa => "weak-rsa",
            Unusable::UnsupportedCurve => "unsupported-curve",
            Unusable::AlgorithmNotForKey => "alg-not-for-key",
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Unusable::Private => "a private key (has d): never trusted",
            Unusable::NotForSignatures => "not for signatures (use is not sig)",
            Unusable::Malformed => "malformed",
            Unusable::Symmetric => "a symmetric (oct or HS*) key: never trusted",
            Unusable::WeakRsa => "an RSA key under 2048 bits or with a bad exponent",
            Unusable::UnsupportedCurve => {
                "a curve this client does not verify (P-256, P-384, Ed25519 are)"
            }
            Unusable::AlgorithmNotForKey => "its alg does not fit its key type",
        }
    }
}

/// The `alg` names what a JWK may verify; `none` has no variant and HMAC is never trusted.
fn key_algorithm(jwk: &Jwk) -> std::result::Result<Option<Algorithm>, Unusable> {
    let Some(named) = jwk.common.key_algorithm else {
        return Ok(None);
    };
    match Algorithm::try_from(named) {
        Ok(alg) if alg.family() == AlgorithmFamily::Hmac => Err(Unusable::Symmetric),
        Ok(alg) => Ok(Some(alg)),
        Err(_) => Err(Unusable::AlgorithmNotForKey),
    }
}

fn shape_of(jwk: &Jwk, key: &DecodingKey) -> std::result::Result<Shape, Unusable> {
    match (&jwk.algorithm, key.kind()) {
        (AlgorithmParameters::RSA(_), DecodingKeyKind::RsaModulusExponent { n, e }) => {
            let significant = n.iter().skip_while(|b| **b == 0).count();
            let top = n.iter().find(|b| **b != 0).ok_or(Unusable::Malformed)?;
            let bits = significant * 8 - top.leading_zeros() as usize;
            if bits < MIN_RSA_BITS || e.is_empty() || e.len() > 8 {
                return Err(Unusable::WeakRsa);
            }
            Ok(Shape::Rsa)
        }
        (AlgorithmParameters::EllipticCurve(params), DecodingKeyKind::SecretOrDer(point)) => {
            let size =
                signature::curve_point_size(&params.curve).ok_or(Unusable::UnsupportedCurve)?;
            if point.len() != size || params.x.len() != params.y.len() {
                return Err(Unusable::Malformed);
            }
            Ok(if size == 65 { Shape::P256 } else { Shape::P384 })
        }
        (AlgorithmParameters::OctetKeyPair(params), DecodingKeyKind::SecretOrDer(x)) => {
            match params.curve {
                EllipticCurve::Ed25519 if x.len() == 32 => Ok(Shape::Ed25519),
                EllipticCurve::Ed25519 => Err(Unusable::Malformed),
                _ => Err(Unusable::UnsupportedCurve),
            }
        }
        (AlgorithmParameters::OctetKey(_), _) => Err(Unusable::Symmetric),
        _ => Err(Unusable::Malformed),
    }
}

/// One JWKS entry as a key we verify with, through jsonwebtoken's `Jwk` and `DecodingKey`;
/// what they accept but we do not trust (private, weak, symmetric keys) is refused here.
fn parse_key(entry: &Value) -> std::result::Result<PublicKey, Unusable> {
    // A published private key (`d`) can sign for anyone: nothing it verifies proves anything.
    if entry.get("d").is_some() {
        return Err(Unusable::Private);
    }
    if entry.get("kty").and_then(Value::as_str) == Some("oct") {
        return Err(Unusable::Symmetric);
    }
    let jwk = Jwk::deserialize(entry).map_err(|_| Unusable::Malformed)?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| *usage != PublicKeyUse::Signature)
    {
        return Err(Unusable::NotForSignatures);
    }
    let alg = key_algorithm(&jwk)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| Unusable::Malformed)?;
    let shape = shape_of(&jwk, &key)?;
    if alg.is_some_and(|alg| !shape.fits(alg)) {
        return Err(Unusable::AlgorithmNotForKey);
    }
    Ok(PublicKey {
        kid: jwk.common.key_id,
        alg,
        shape,
        key,
    })
}

/// A JWKS entry this client does not use, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub kid: Option<String>,
    pub why: Unusable,
}

/// Every entry of a JWKS document, usable or skipped with its reason; `Err` only when the
/// document is not a JWKS at all.
pub fn read_jwks(body: &[u8]) -> Result<KeySet> {
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
            Ok(key) => set.keys.push(key),
            Err(why) => set.skipped.push(Skipped {
                kid: entry.get("kid").and_then(Value::as_str).map(str::to_string),
                why,
            }),
        }
    }
    Ok(set)
}

/// The keys the client verifies with. Refused rather than cached when none is usable: a
/// set without a usable key would replace keys that work.
pub fn parse_jwks(body: &[u8]) -> Result<KeySet> {
    let set = read_jwks(body)?;
    if set.keys.is_empty() {
        let mut reasons: Vec<&str> = Vec::new();
        for skipped in &set.skipped {
            if !reasons.contains(&skipped.why.reason()) {
                reasons.push(skipped.why.reason());
            }
        }
        return Err(AuthError::bad_response(format!(
            "the JWKS endpoint published no usable public signing key ({} unusable: {})",
            set.skipped.len(),
            if reasons.is_empty() {
                "the list is empty".to_string()
            } else {
                reasons.join("; ")
            }
        )));
    }
    Ok(set)
}

/// A usable key as doctor shows it.
pub struct UsableKey<'a> {
    pub kid: Option<&'a str>,
    pub alg: Option<Algorithm>,
    /// Which of the allowed algorithms it can verify (empty: none the client accepts).
    pub verifies: Vec<Algorithm>,
}

impl KeySet {
    pub fn usable(&self, allowed: &[Algorithm]) -> Vec<UsableKey<'_>> {
        self.keys
            .iter()
            .map(|key| UsableKey {
                kid: key.kid.as_deref(),
                alg: key.alg,
                verifies: allowed
                    .iter()
                    .copied()
                    .filter(|alg| key.shape.fits(*alg) && key.alg.is_none_or(|only| only == *alg))
                    .collect(),
            })
            .collect()
    }

    /// Keys that may have signed a token with this header. A token without `kid` is accepted
    /// only when exactly one key fits, as jose does: guessing among several is not verification.
    fn candidates(&self, header: &jwt::Header) -> Result<Vec<&PublicKey>> {
        let fitting: Vec<&PublicKey> = self
            .keys
            .iter()
            .filter(|key| key.shape.fits(header.alg))
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

    /// Verifies the token with the keys this set has for it; `Ok(None)` when none fits.
    /// Only a signature that does not verify moves on to the next candidate.
    fn verify(
        &self,
        token: &str,
        header: &jwt::Header,
        rules: &ClaimRules,
    ) -> Result<Option<Claims>> {
        let candidates = self.candidates(header)?;
        let mut last = None;
        for key in candidates {
            match jwt::verify(token, header, &key.key, rules) {
                Ok(claims) => return Ok(Some(claims)),
                Err(Refusal::Token(error)) => return Err(error),
                Err(Refusal::Signature(error)) => last = Some(error),
            }
        }
        last.map_or(Ok(None), Err)
    }
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
    ) -> Result<Claims>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<KeySet>>,
    {
        let header = jwt::read_header(token, algorithms)?;
        let (mut keys, just_fetched) = match self.cached() {
            Some(keys) if self.is_fresh(&keys) => (keys, false),
            stale => (self.refetch(stale.as_ref(), &fetch).await?, true),
        };
        let mut verified = keys.verify(token, &header, rules)?;
        // Keys fetched for this very call are all the API publishes: no second fetch.
        if verified.is_none() && !just_fetched && self.unknown_kid_may_refetch() {
            keys = self.refetch(Some(&keys), &fetch).await?;
            *self.unknown_kid_refetched_at.lock() = Some(Instant::now());
            verified = keys.verify(token, &header, rules)?;
        }
        let claims = verified.ok_or_else(|| {
            AuthError::token_invalid(
                "the JWT was signed with a key the API does not publish in its JWKS",
            )
        })?;
        jwt::check_times(&claims, rules.leeway, Some(now))?;
        Ok(claims)
    }

    /// Verification with the cached keys only: no network, `Err` when the key is not cached;
    /// `now: None` skips the time claims.
    pub fn verify_cached(
        &self,
        token: &str,
        algorithms: &[Algorithm],
        rules: &ClaimRules,
        now: Option<i64>,
    ) -> Result<Claims> {
        let header = jwt::read_header(token, algorithms)?;
        let keys = self
            .cached()
            .ok_or_else(|| AuthError::token_invalid("the API's keys have not been fetched yet"))?;
        let claims = keys.verify(token, &header, rules)?.ok_or_else(|| {
            AuthError::token_invalid("the JWT was signed with a key that is not in the cached JWKS")
        })?;
        jwt::check_times(&claims, rules.leeway, now)?;
        Ok(claims)
    }
}

#[cfg(test)]
mod tests;
