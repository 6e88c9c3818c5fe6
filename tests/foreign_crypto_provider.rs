//! A Rust program that installed another jsonwebtoken `CryptoProvider` before this crate's
//! first verification keeps it (the provider is process-global; src/signature.rs). This
//! test is its own process, so it can install one first: a provider that counts the
//! verifiers it is asked for and accepts no signature. It shows that the foreign provider
//! does the math, that nothing panics, and that every rule of ours is applied before it is
//! asked (so a permissive provider could not widen what is accepted by those rules).

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::{signature, Algorithm as Alg, DecodingKey, EncodingKey};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use symbiote_auth::fuzzing::{
    crypto_provider_is_ours, parse_jwks, Algorithm, ClaimRules, JwksCache,
};

static ASKED: AtomicUsize = AtomicUsize::new(0);

struct Refusing(Alg);

impl signature::Verifier<Vec<u8>> for Refusing {
    fn verify(&self, _: &[u8], _: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        Err(signature::Error::new())
    }
}

impl JwtVerifier for Refusing {
    fn algorithm(&self) -> Alg {
        self.0
    }
}

fn no_signer(_: &Alg, _: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Err(ErrorKind::Provider("no signing".into()).into())
}

fn refusing_verifier(alg: &Alg, _: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    ASKED.fetch_add(1, Ordering::SeqCst);
    Ok(Box::new(Refusing(*alg)))
}

static FOREIGN: CryptoProvider = CryptoProvider {
    signer_factory: no_signer,
    verifier_factory: refusing_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

const KEYS: &str = include_str!("../fuzz/seeds/jwks_parse/keys.json");
const RS256: &str = include_str!("../fuzz/seeds/jwt_decode/rs256.jwt");

fn rules() -> ClaimRules {
    ClaimRules {
        issuer: Some("fuzz-issuer".into()),
        audience: vec!["fuzz-audience".into()],
        leeway: Duration::from_secs(30),
    }
}

#[test]
fn a_provider_installed_first_is_kept_and_asked_only_after_our_rules() {
    FOREIGN
        .install_default()
        .expect("the first provider of this process");
    let cache = JwksCache::new(Duration::from_secs(600));
    cache.install(parse_jwks(KEYS.as_bytes()).expect("the seed JWKS parses"));
    let now = Some(1_700_000_000);

    // Refused by our rules before any provider is asked: an algorithm outside the
    // allowlist, and HMAC whatever is listed.
    let outside = cache.verify_cached(RS256.trim(), &[Algorithm::ES256], &rules(), now);
    assert!(outside.is_err());
    let hmac = format!(
        "eyJhbGciOiJIUzI1NiJ9.{}",
        RS256.trim().split_once('.').unwrap().1
    );
    assert!(cache
        .verify_cached(&hmac, &[Algorithm::RS256], &rules(), now)
        .is_err());
    assert_eq!(
        ASKED.load(Ordering::SeqCst),
        0,
        "asked before our rules refused"
    );

    // A token ours would accept goes to the foreign provider, which refuses it: an error,
    // never a panic, and ours is not in use.
    let refused = cache.verify_cached(RS256.trim(), &[Algorithm::RS256], &rules(), now);
    assert!(refused.unwrap_err().message.contains("signature"));
    assert_eq!(ASKED.load(Ordering::SeqCst), 1);
    assert!(!crypto_provider_is_ours());
}
