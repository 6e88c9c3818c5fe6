use super::*;
use crate::errors::ErrorCode;
use crate::test_keys::{self, FIRST, SECOND};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
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

async fn verify(cache: &JwksCache, endpoint: &Endpoint, token: &str) -> Result<Claims> {
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

/// The fuzz seeds: an RSA, a P-256 and an Ed25519 key, and a token of each algorithm.
mod seeds {
    pub const KEYS: &str = include_str!("../../fuzz/seeds/jwks_parse/keys.json");
    pub const TOKENS: [(&str, crate::jwt::Algorithm); 4] = [
        (
            include_str!("../../fuzz/seeds/jwt_decode/rs256.jwt"),
            crate::jwt::Algorithm::RS256,
        ),
        (
            include_str!("../../fuzz/seeds/jwt_decode/ps256.jwt"),
            crate::jwt::Algorithm::PS256,
        ),
        (
            include_str!("../../fuzz/seeds/jwt_decode/es256.jwt"),
            crate::jwt::Algorithm::ES256,
        ),
        (
            include_str!("../../fuzz/seeds/jwt_decode/eddsa.jwt"),
            crate::jwt::Algorithm::EdDSA,
        ),
    ];
}

fn seed_rules() -> ClaimRules {
    ClaimRules {
        issuer: Some("fuzz-issuer".into()),
        audience: vec!["fuzz-audience".into()],
        leeway: Duration::from_secs(30),
    }
}

fn seed_cache(document: &str) -> JwksCache {
    let cache = JwksCache::new(MAX_AGE);
    cache.install(parse_jwks(document.as_bytes()).unwrap());
    cache
}

#[test]
fn every_family_verifies_on_ring_and_a_changed_signature_does_not() {
    let cache = seed_cache(seeds::KEYS);
    for (token, alg) in seeds::TOKENS {
        let token = token.trim();
        let claims = cache.verify_cached(token, &[alg], &seed_rules(), Some(1_800_000_000));
        assert_eq!(
            claims.unwrap().email.as_deref(),
            Some("demo@example.com"),
            "{alg:?}"
        );
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        bytes[3] ^= 1;
        let changed = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        let err = cache
            .verify_cached(&changed, &[alg], &seed_rules(), None)
            .unwrap_err();
        assert!(err.message.contains("signature"), "{alg:?}: {err}");
    }
}

#[test]
fn hostile_keys_and_signatures_verify_nothing() {
    let (es256, _) = seeds::TOKENS[2];
    let (input, _) = es256.trim().rsplit_once('.').unwrap();
    // CVE-2022-21449: r = s = 0 must never verify.
    let zero = format!("{input}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
    let cache = seed_cache(seeds::KEYS);
    assert!(cache
        .verify_cached(&zero, &[Algorithm::ES256], &seed_rules(), None)
        .is_err());
    // A point moved off the curve is no key.
    let mut keys: Value = serde_json::from_str(seeds::KEYS).unwrap();
    let y = keys["keys"][1]["y"].as_str().unwrap().to_string();
    let flipped = if y.starts_with('A') {
        y.replacen('A', "B", 1)
    } else {
        format!("A{}", &y[1..])
    };
    keys["keys"][1]["y"] = flipped.into();
    let off_curve = seed_cache(&keys.to_string());
    assert!(off_curve
        .verify_cached(es256.trim(), &[Algorithm::ES256], &seed_rules(), None)
        .is_err());
    // An RSA exponent of 1 makes every padded message its own signature.
    let mut keys: Value = serde_json::from_str(seeds::KEYS).unwrap();
    keys["keys"][0]["e"] = "AQ".into();
    let tiny_exponent = seed_cache(&keys.to_string());
    let (rs256, _) = seeds::TOKENS[0];
    let (input, _) = rs256.trim().rsplit_once('.').unwrap();
    // With e = 1 the PKCS#1 v1.5 encoding of the message is its own "signature".
    let digest_info = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let hash = ring::digest::digest(&ring::digest::SHA256, input.as_bytes());
    let mut encoded = vec![0x00, 0x01];
    encoded.resize(256 - digest_info.len() - 32 - 1, 0xff);
    encoded.push(0x00);
    encoded.extend_from_slice(&digest_info);
    encoded.extend_from_slice(hash.as_ref());
    let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&encoded));
    let err = tiny_exponent
        .verify_cached(&forged, &[Algorithm::RS256], &seed_rules(), None)
        .unwrap_err();
    assert!(err.message.contains("signature"), "{err}");
    // Algorithm confusion: the RSA key's bytes as an HMAC secret never get a chance.
    let (_, claims_and_signature) = rs256.trim().split_once('.').unwrap();
    let hs256 = format!(
        "{}.{claims_and_signature}",
        crate::jwt::tests::b64(&serde_json::json!({"alg": "HS256", "kid": "rsa"}))
    );
    let err = cache
        .verify_cached(&hs256, &[Algorithm::RS256], &seed_rules(), None)
        .unwrap_err();
    assert!(err.message.contains("never accepted"), "{err}");
}

#[test]
fn unusable_entries_are_skipped_with_their_reason() {
    let mut keys: Value = serde_json::from_str(seeds::KEYS).unwrap();
    let entries = keys["keys"].as_array_mut().unwrap();
    let rsa = entries[0].clone();
    let with = |extra: Value| {
        let mut key = rsa.clone();
        for (k, v) in extra.as_object().unwrap() {
            key[k] = v.clone();
        }
        key
    };
    entries.extend([
        with(serde_json::json!({"kid": "private", "d": "AQAB"})),
        with(serde_json::json!({"kid": "enc", "use": "enc"})),
        with(serde_json::json!({"kid": "weak", "n": URL_SAFE_NO_PAD.encode([0xc5; 128])})),
        with(serde_json::json!({"kid": "hmac", "alg": "HS256"})),
        with(serde_json::json!({"kid": "mismatch", "alg": "ES256"})),
        serde_json::json!({"kty": "oct", "kid": "oct", "k": "c2VjcmV0"}),
        serde_json::json!({"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"}),
        serde_json::json!({"kty": "RSA", "kid": 7, "n": "AQAB", "e": "AQAB"}),
    ]);
    let set = parse_jwks(keys.to_string().as_bytes()).unwrap();
    let reasons: Vec<(Option<&str>, Unusable)> = set
        .skipped
        .iter()
        .map(|s| (s.kid.as_deref(), s.why))
        .collect();
    assert_eq!(
        reasons,
        [
            (Some("private"), Unusable::Private),
            (Some("enc"), Unusable::NotForSignatures),
            (Some("weak"), Unusable::WeakRsa),
            (Some("hmac"), Unusable::Symmetric),
            (Some("mismatch"), Unusable::AlgorithmNotForKey),
            (Some("oct"), Unusable::Symmetric),
            (Some("p521"), Unusable::UnsupportedCurve),
            (None, Unusable::Malformed),
        ]
    );
    assert_eq!(set.keys.len(), 3);
}
