//! A JWT checked by jsonwebtoken (JWS structure, header and its `crit`, signature, `iss`,
//! `aud`, a numeric `exp`), plus the rules that are ours: a size limit before any parsing,
//! `none` and HMAC never, explicit typing, the time claims on the API's clock, and our
//! error messages. Keys come from `jwks`; this module never touches the network.

use crate::errors::{AuthError, Result};
use crate::signature;
use jsonwebtoken::errors::ErrorKind;
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{AlgorithmFamily, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// Tokens larger than this are refused before any parsing (a JWT is a few KB at most).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What choosing a key needs of the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

/// The claims the session uses, from a token whose signature verified.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    pub sub: Option<String>,
    pub email: Option<String>,
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
}

/// What the claims must satisfy besides the signature.
#[derive(Clone, Debug)]
pub struct ClaimRules {
    pub issuer: Option<String>,
    pub audience: Vec<String>,
    pub leeway: Duration,
}

/// The header of `token`, refused when it is too large or malformed, names `none` or an
/// HMAC algorithm, declares a foreign type, or names an algorithm outside `allowed`.
pub fn read_header(token: &str, allowed: &[Algorithm]) -> Result<Header> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::token_invalid(format!(
            "the JWT is larger than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    // Unknown algorithms, `none` among them, fail here: jsonwebtoken has no variant for them.
    let header = jsonwebtoken::decode_header(token).map_err(|error| match error.kind() {
        ErrorKind::InvalidToken | ErrorKind::Base64(_) => AuthError::token_invalid(
            "the JWT is not three dot-separated base64url parts",
        ),
        _ => AuthError::token_invalid(
            "the JWT header is malformed or names an algorithm this client does not know (none is never accepted)",
        ),
    })?;
    // A client holding only public keys must never accept a symmetric token.
    if header.alg.family() == AlgorithmFamily::Hmac {
        return Err(AuthError::token_invalid(format!(
            "the JWT uses {:?}, a shared-secret algorithm, which is never accepted",
            header.alg
        )));
    }
    check_type(header.typ.as_deref())?;
    if !allowed.contains(&header.alg) {
        return Err(AuthError::token_invalid(format!(
            "the JWT uses {:?}, which is not in the allowed algorithms",
            header.alg
        )));
    }
    Ok(Header {
        alg: header.alg,
        kid: header.kid,
    })
}

/// Explicit typing (RFC 8725 §3.11): a token that says what it is must say it is a JWT or
/// an OAuth access token (RFC 9068 `at+jwt`); any other type (a DPoP proof, a security
/// event, a logout token) was made for another purpose and is refused. Absent is accepted:
/// most APIs, Flask-JWT-Extended's included, set none or `JWT`.
fn check_type(typ: Option<&str>) -> Result<()> {
    let accepted = typ.is_none_or(|typ| {
        let name = typ.strip_prefix("application/").unwrap_or(typ);
        name.eq_ignore_ascii_case("JWT") || name.eq_ignore_ascii_case("at+jwt")
    });
    if accepted {
        Ok(())
    } else {
        Err(AuthError::token_invalid(
            "the JWT header declares a type (typ) other than JWT or at+jwt: it was made for another purpose",
        ))
    }
}

/// Why one key did not accept a token: its signature (another key may fit), or anything else.
pub enum Refusal {
    Signature(AuthError),
    Token(AuthError),
}

/// jsonwebtoken's `decode` with `key`: the `crit` rules, the signature, then `iss` and
/// `aud` (required when configured) and a numeric `exp`. The time claims are left to
/// `check_times`: jsonwebtoken compares them with this machine's clock, ours with the
/// API's (clock.rs), which tests also drive from tokio's paused time.
pub fn verify(
    token: &str,
    header: &Header,
    key: &DecodingKey,
    rules: &ClaimRules,
) -> std::result::Result<Claims, Refusal> {
    signature::install();
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    let mut required = vec!["exp"];
    if let Some(issuer) = &rules.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    validation.validate_aud = !rules.audience.is_empty();
    if validation.validate_aud {
        validation.set_audience(&rules.audience);
        required.push("aud");
    }
    validation.set_required_spec_claims(&required);
    let payload = jsonwebtoken::decode::<Payload>(token, key, &validation)
        .map_err(|error| refusal(error.kind()))?
        .claims;
    payload.claims().map_err(Refusal::Token)
}

fn refusal(kind: &ErrorKind) -> Refusal {
    const ISSUER: &str = "the JWT issuer (iss) is not the configured issuer";
    const AUDIENCE: &str = "the JWT audience (aud) does not include the configured audience";
    let message = match kind {
        ErrorKind::InvalidSignature => {
            return Refusal::Signature(AuthError::token_invalid(
                "the JWT signature does not verify with the API's published key",
            ))
        }
        ErrorKind::InvalidToken => {
            "the JWT header lists critical extensions (crit) or options this client does not support"
        }
        ErrorKind::InvalidIssuer => ISSUER,
        ErrorKind::InvalidAudience => AUDIENCE,
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
            match claim.as_str() {
                "iss" => ISSUER,
                "aud" => AUDIENCE,
                _ => "the JWT has no numeric exp claim",
            }
        }
        ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
            "the JWT payload is not a base64url JSON object"
        }
        _ => "the JWT algorithm does not fit the API's key",
    };
    Refusal::Token(AuthError::token_invalid(message))
}

/// The claims the session reads, each checked for its type by `claims()`.
#[derive(Deserialize)]
struct Payload {
    sub: Option<Value>,
    email: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
}

impl Payload {
    fn claims(self) -> Result<Claims> {
        Ok(Claims {
            sub: string_claim(self.sub, "sub")?,
            email: string_claim(self.email, "email")?,
            exp: numeric_claim(self.exp, "exp")?
                .ok_or_else(|| AuthError::token_invalid("the JWT has no numeric exp claim"))?,
            nbf: numeric_claim(self.nbf, "nbf")?,
            iat: numeric_claim(self.iat, "iat")?,
        })
    }
}

fn numeric_claim(value: Option<Value>, name: &str) -> Result<Option<i64>> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite() && v.abs() < 1e15)
            .map(|v| Some(v.floor() as i64))
            .ok_or_else(|| {
                AuthError::token_invalid(format!("the JWT claim {name} is out of range"))
            }),
        Some(_) => Err(AuthError::token_invalid(format!(
            "the JWT claim {name} is not a number"
        ))),
    }
}

fn string_claim(value: Option<Value>, name: &str) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) if name == "sub" => Ok(Some(n.to_string())),
        Some(_) => Err(AuthError::token_invalid(format!(
            "the JWT claim {name} is not a string"
        ))),
    }
}

/// Checks the time claims at `now` (seconds since the epoch on the API's clock) with the
/// leeway; `None` skips them, for a stored token that is about to be refreshed anyway.
pub fn check_times(claims: &Claims, leeway: Duration, now: Option<i64>) -> Result<()> {
    let Some(now) = now else {
        return Ok(());
    };
    let leeway = leeway.as_secs() as i64;
    if claims.exp + leeway <= now {
        return Err(AuthError::token_invalid("the JWT has expired"));
    }
    if claims.nbf.is_some_and(|nbf| nbf - leeway > now) {
        return Err(AuthError::token_invalid("the JWT is not valid yet (nbf)"));
    }
    if claims.iat.is_some_and(|iat| iat - leeway > now) {
        return Err(AuthError::token_invalid(
            "the JWT was issued in the future (iat); check the clocks of this machine and the API",
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_keys::FIRST;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    const ALL: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

    pub fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn unsigned(header: Value, claims: Value) -> String {
        format!("{}.{}.c2ln", b64(&header), b64(&claims))
    }

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: Some("iss-1".into()),
            audience: vec!["app".into()],
            leeway: Duration::from_secs(30),
        }
    }

    fn key() -> DecodingKey {
        DecodingKey::from_ed_components(FIRST.x).unwrap()
    }

    /// `claims` signed by the test key, verified against `rules()`.
    fn verified(claims: Value) -> Result<Claims> {
        let token = FIRST.sign(&claims);
        let header = read_header(&token, ALL)?;
        verify(&token, &header, &key(), &rules()).map_err(|refusal| match refusal {
            Refusal::Signature(error) | Refusal::Token(error) => error,
        })
    }

    fn good() -> Value {
        json!({"exp": 1000, "iss": "iss-1", "aud": "app", "sub": 7})
    }

    fn with(extra: Value) -> Value {
        let mut claims = good();
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    }

    #[test]
    fn refuses_none_and_hmac_before_anything_else() {
        let claims = json!({"exp": 1});
        for alg in ["none", "NONE"] {
            let err =
                read_header(&unsigned(json!({ "alg": alg }), claims.clone()), ALL).unwrap_err();
            assert!(
                err.message.contains("none is never accepted"),
                "{alg}: {err}"
            );
        }
        for alg in ["HS256", "HS512"] {
            let err =
                read_header(&unsigned(json!({ "alg": alg }), claims.clone()), ALL).unwrap_err();
            assert!(err.message.contains("never accepted"), "{alg}: {err}");
        }
        let err = read_header(&unsigned(json!({"alg": "PS256"}), claims), ALL).unwrap_err();
        assert!(err.message.contains("not in the allowed"), "{err}");
    }

    #[test]
    fn refuses_malformed_structure() {
        for token in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.e30.x",
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert!(read_header(token, ALL).is_err(), "{token:.20}");
        }
        let not_utf8 = format!(
            "{}.{}.x",
            b64(&json!({"alg":"EdDSA"})),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe])
        );
        let header = read_header(&not_utf8, ALL).unwrap();
        assert!(verify(&not_utf8, &header, &key(), &rules()).is_err());
        for (claims, says) in [
            (with(json!({"exp": "9999999999"})), "exp"),
            (json!({"iss": "iss-1", "aud": "app"}), "exp"),
            (with(json!({"exp": 1e300})), "exp"),
            (with(json!({"sub": true})), "sub"),
            (with(json!({"iat": "0"})), "iat"),
        ] {
            let err = verified(claims.clone()).unwrap_err();
            assert!(err.message.contains(says), "{claims}: {err}");
        }
        assert_eq!(verified(good()).unwrap().sub.as_deref(), Some("7"));
    }

    #[test]
    fn critical_extensions_are_refused_and_key_headers_are_never_used() {
        let claims = good();
        for extra in [
            json!({"crit": ["exp"], "exp": 1}),
            json!({"crit": []}),
            json!({"crit": ["b64"], "b64": false}),
        ] {
            let mut header = json!({"alg": "EdDSA", "kid": "test"});
            for (k, v) in extra.as_object().unwrap() {
                header[k] = v.clone();
            }
            let token = format!(
                "{}.{}",
                b64(&header),
                FIRST.sign(&claims).split_once('.').unwrap().1
            );
            let parsed = read_header(&token, ALL).unwrap();
            assert!(
                matches!(
                    verify(&token, &parsed, &key(), &rules()),
                    Err(Refusal::Token(_))
                ),
                "{extra}"
            );
        }
        // jku, x5u and an embedded jwk are not where keys come from: the signature is checked
        // with the key the caller chose, and fails (the header is part of the signing input).
        let header = json!({"alg": "EdDSA", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/x"});
        let token = format!(
            "{}.{}",
            b64(&header),
            FIRST.sign(&claims).split_once('.').unwrap().1
        );
        let parsed = read_header(&token, ALL).unwrap();
        assert!(matches!(
            verify(&token, &parsed, &key(), &rules()),
            Err(Refusal::Signature(_))
        ));
    }

    #[test]
    fn debug_output_shows_no_part_of_the_token() {
        let token = FIRST.sign(&good());
        let header = read_header(&token, ALL).unwrap();
        let claims = verify(&token, &header, &key(), &rules()).ok().unwrap();
        let shown = format!("{header:?} {claims:?}");
        for part in token.split('.') {
            assert!(!shown.contains(part), "{shown}");
        }
    }

    #[test]
    fn time_claims_use_the_leeway() {
        let claims = verified(with(json!({"nbf": 500, "iat": 500}))).unwrap();
        let leeway = Duration::from_secs(30);
        assert!(check_times(&claims, leeway, Some(1029)).is_ok());
        assert!(check_times(&claims, leeway, Some(1030)).is_err());
        assert!(check_times(&claims, leeway, Some(470)).is_ok());
        assert!(check_times(&claims, leeway, Some(469)).is_err());
        assert!(check_times(&claims, leeway, None).is_ok());
    }

    #[test]
    fn issuer_and_audience_must_be_present_and_match_when_configured() {
        for (claims, says) in [
            (with(json!({"iss": "other"})), "iss"),
            (with(json!({"iss": null})), "iss"),
            (with(json!({"aud": ["x", "y"]})), "aud"),
            (with(json!({"aud": null})), "aud"),
            (with(json!({"aud": 5})), "aud"),
        ] {
            let err = verified(claims.clone()).unwrap_err();
            assert!(err.message.contains(says), "{claims}: {err}");
        }
        assert!(verified(with(json!({"aud": ["x", "app"]}))).is_ok());
        let open = ClaimRules {
            issuer: None,
            audience: vec![],
            leeway: Duration::ZERO,
        };
        let token = FIRST.sign(&json!({"exp": 1, "aud": ["x"], "iss": "anyone"}));
        let header = read_header(&token, ALL).unwrap();
        assert!(verify(&token, &header, &key(), &open).is_ok());
    }

    #[test]
    fn the_type_may_be_absent_jwt_or_at_jwt_and_nothing_else() {
        let claims = json!({"exp": 2_000_000_000});
        let with_typ = |typ: Value| unsigned(json!({"alg": "EdDSA", "typ": typ}), claims.clone());
        assert!(read_header(&unsigned(json!({"alg": "EdDSA"}), claims.clone()), ALL).is_ok());
        for typ in ["JWT", "jwt", "at+jwt", "application/at+jwt", "AT+JWT"] {
            assert!(
                read_header(&with_typ(Value::from(typ)), ALL).is_ok(),
                "{typ}"
            );
        }
        for typ in ["dpop+jwt", "secevent+jwt", "logout+jwt", "JWE", ""] {
            let err = read_header(&with_typ(Value::from(typ)), ALL).unwrap_err();
            assert!(err.message.contains("typ"), "{typ}: {err}");
        }
        assert!(read_header(&with_typ(Value::from(7)), ALL).is_err());
    }
}
