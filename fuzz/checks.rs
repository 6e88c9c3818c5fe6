//! What each fuzz target does with one input, shared by the libFuzzer targets
//! (`fuzz_targets/`) and by the replay of saved inputs in `tests/fuzz_regressions.rs`, so a
//! saved input is checked exactly as it was when the fuzzer found it.
//!
//! A check fails by panicking: on a panic in the code under test, or on a broken invariant.
//! Every input that the parsers refuse is fine; refusing is their job.

use reqwest::cookie::CookieStore;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, DATE, RETRY_AFTER};
use reqwest::StatusCode;
use std::time::Duration;
use symbiote_auth::fuzzing::{
    parse_jwks, parse_token_response, read_header, Algorithm, ClaimRules, CookieJar, Endpoint,
    JwksCache, KeySet, Reply, MAX_TOKEN_BYTES,
};
use url::Url;

/// What a target does with one input; it panics when the input reveals a bug.
pub type Check = fn(&[u8]);

/// Every target: its name (the directory names under `seeds/` and `regressions/`) and check.
pub const TARGETS: &[(&str, Check)] = &[
    ("jwt_decode", jwt_decode),
    ("jwks_parse", jwks_parse),
    ("token_response", token_response),
    ("cookie_jar", cookie_jar),
];

/// A JWKS with an RSA, a P-256 and an Ed25519 key (kids `rsa`, `ec`, `ed`).
const KEYS: &str = include_str!("seeds/jwks_parse/keys.json");
/// Tokens signed by those keys, with the claims `RULES` accepts until 2100.
const TOKENS: &[&str] = &[
    include_str!("seeds/jwt_decode/rs256.jwt"),
    include_str!("seeds/jwt_decode/ps256.jwt"),
    include_str!("seeds/jwt_decode/es256.jwt"),
    include_str!("seeds/jwt_decode/eddsa.jwt"),
];

const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The API's clock as the session may see it: unknown, the epoch, now-ish, year 9999.
const CLOCKS: &[Option<i64>] = &[None, Some(0), Some(1_700_000_000), Some(253_402_300_799)];

fn rules() -> ClaimRules {
    ClaimRules {
        issuer: Some("fuzz-issuer".into()),
        audience: vec!["fuzz-audience".into()],
        leeway: Duration::from_secs(30),
    }
}

fn cache_with(keys: KeySet) -> JwksCache {
    let cache = JwksCache::new(Duration::from_secs(600));
    cache.install(keys);
    cache
}

/// The header rules, then full verification (key choice, jsonwebtoken's decode and
/// signature, claims, times) against fixed keys.
pub fn jwt_decode(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if read_header(token, ALGORITHMS).is_ok() {
        assert!(
            token.len() <= MAX_TOKEN_BYTES,
            "an oversized token's header was read"
        );
    }
    let cache = cache_with(parse_jwks(KEYS.as_bytes()).expect("the fixed JWKS parses"));
    for now in CLOCKS {
        if cache
            .verify_cached(token, ALGORITHMS, &rules(), *now)
            .is_ok()
        {
            assert!(
                token.len() <= MAX_TOKEN_BYTES,
                "an oversized token was verified"
            );
        }
    }
}

/// The JWKS parser, then every fixed token verified with whatever keys it produced: keys
/// built from hostile components must refuse a signature, never panic.
pub fn jwks_parse(data: &[u8]) {
    let Ok(keys) = parse_jwks(data) else {
        return;
    };
    let cache = cache_with(keys);
    for token in TOKENS {
        let _ = cache.verify_cached(token, ALGORITHMS, &rules(), Some(1_700_000_000));
    }
}

/// The token-endpoint answer: input is `<Retry-After and Date value>\n<body>`, or only a
/// body when there is no newline.
pub fn token_response(data: &[u8]) {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (Some(&data[..at]), &data[at + 1..]),
        None => (None, data),
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(value) = header.and_then(|h| HeaderValue::from_bytes(h).ok()) {
        headers.insert(RETRY_AFTER, value.clone());
        headers.insert(DATE, value);
    }
    let reply = Reply::from_parts(StatusCode::OK, headers, body.to_vec());
    let _ = reply.retry_after();
    if let Ok(issued) = parse_token_response(Endpoint::Token, &reply) {
        assert!(
            !issued.access_token.is_empty(),
            "an empty access_token was accepted"
        );
    }
}

/// `Set-Cookie` handling: input is one header value per line, set from the API's origin.
/// The jar must only ever send a valid `Cookie` header, and only to the API's origin.
pub fn cookie_jar(data: &[u8]) {
    let api = Url::parse("https://api.example.com/api/login").expect("fixed URL");
    let elsewhere = Url::parse("https://evil.example.com/").expect("fixed URL");
    let jar = CookieJar::new(&api);
    let values: Vec<HeaderValue> = data
        .split(|b| *b == b'\n')
        .filter_map(|line| HeaderValue::from_bytes(line).ok())
        .collect();
    jar.set_cookies(&mut values.iter(), &api);
    jar.set_cookies(&mut values.iter(), &elsewhere);
    for cookie in jar.snapshot() {
        assert!(
            !cookie.name.is_empty() && !cookie.value.is_empty(),
            "an empty cookie was kept"
        );
    }
    if let Some(header) = jar.cookies(&api) {
        assert!(
            header.to_str().is_ok(),
            "the Cookie header is not visible ASCII"
        );
    }
    assert!(
        jar.cookies(&elsewhere).is_none(),
        "cookies sent to another origin"
    );
}
