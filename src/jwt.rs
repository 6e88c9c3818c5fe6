//! Parsing and checking a JWT: strict structure, header, signature against one public key,
//! and claims against our clock. Keys come from `jwks`; this module never touches the network.

use crate::errors::{AuthError, Result};
pub use crate::signature::Algorithm;
use crate::signature::VerifyingKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::time::Duration;

/// Tokens larger than this are refused before any parsing (a JWT is a few KB at most).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    pub sub: Option<String>,
    pub email: Option<String>,
    pub iss: Option<String>,
    pub aud: Vec<String>,
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    pub jti: Option<String>,
    /// Every claim, for the host's display (never contains the token itself).
    pub all: Map<String, Value>,
}

/// A token split and decoded, signature not yet checked.
pub struct DecodedToken<'a> {
    pub header: Header,
    pub claims: Claims,
    signing_input: &'a str,
    signature: &'a str,
}

/// Header and claims only: the signing input and signature are the token itself.
impl std::fmt::Debug for DecodedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedToken")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// What the claims must satisfy besides the signature.
#[derive(Clone, Debug)]
pub struct ClaimRules {
    pub issuer: Option<String>,
    pub audience: Vec<String>,
    pub leeway: Duration,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
    typ: Option<Value>,
}

/// Explicit typing (RFC 8725 §3.11): a token that says what it is must say it is a JWT or
/// an OAuth access token (RFC 9068 `at+jwt`); any other type (an ID token's sibling, a
/// DPoP proof, a security event, a logout token) was made for another purpose and is
/// refused. Absent (or `null`) is accepted: most APIs, Flask-JWT-Extended's included, set
/// none or `JWT`.
fn check_type(typ: Option<&Value>) -> Result<()> {
    let Some(typ) = typ else {
        return Ok(());
    };
    let accepted = typ.as_str().is_some_and(|typ| {
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

fn b64_json(part: &str, what: &str) -> Result<Value> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::token_invalid(format!("the JWT {what} is not base64url")))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::token_invalid(format!("the JWT {what} is not UTF-8 JSON")))
}

/// Maps a header `alg` to an algorithm we can verify; `none` and HMAC are refused outright:
/// a client holding only public keys must never accept a symmetric or unsigned token.
pub fn parse_algorithm(name: &str) -> Result<Algorithm> {
    match name {
        "RS256" => Ok(Algorithm::RS256),
        "RS384" => Ok(Algorithm::RS384),
        "RS512" => Ok(Algorithm::RS512),
        "PS256" => Ok(Algorithm::PS256),
        "PS384" => Ok(Algorithm::PS384),
        "PS512" => Ok(Algorithm::PS512),
        "ES256" => Ok(Algorithm::ES256),
        "ES384" => Ok(Algorithm::ES384),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other if other.eq_ignore_ascii_case("none") => Err(AuthError::token_invalid(
            "the JWT is unsigned (alg: none), which is never accepted",
        )),
        other if other.starts_with("HS") => Err(AuthError::token_invalid(format!(
            "the JWT uses {other}, a shared-secret algorithm, which is never accepted"
        ))),
        _ => Err(AuthError::token_invalid(
            "the JWT uses an unsupported algorithm",
        )),
    }
}

fn numeric_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>> {
    match claims.get(name) {
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

fn string_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<String>> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if name == "sub" => Ok(Some(n.to_string())),
        Some(_) => Err(AuthError::token_invalid(format!(
            "the JWT claim {name} is not a string"
        ))),
    }
}

pub fn decode(token: &str) -> Result<DecodedToken<'_>> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::token_invalid(format!(
            "the JWT is larger than {MAX_TOKEN_BYTES} bytes"
        )));
    }
    let mut parts = token.split('.');
    let (Some(header_part), Some(claims_part), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::token_invalid(
            "the JWT does not have three dot-separated parts",
        ));
    };
    let raw_header: RawHeader = serde_json::from_value(b64_json(header_part, "header")?)
        .map_err(|_| AuthError::token_invalid("the JWT header has no valid alg"))?;
    if raw_header.crit.is_some() {
        return Err(AuthError::token_invalid(
            "the JWT header lists critical extensions, which are not supported",
        ));
    }
    check_type(raw_header.typ.as_ref())?;
    let header = Header {
        alg: parse_algorithm(&raw_header.alg)?,
        kid: raw_header.kid,
    };
    let Value::Object(all) = b64_json(claims_part, "payload")? else {
        return Err(AuthError::token_invalid(
            "the JWT payload is not a JSON object",
        ));
    };
    let aud = match all.get("aud") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| AuthError::token_invalid("the JWT claim aud is not a string list"))?,
        Some(_) => {
            return Err(AuthError::token_invalid(
                "the JWT claim aud is not a string",
            ))
        }
    };
    let claims = Claims {
        sub: string_claim(&all, "sub")?,
        email: string_claim(&all, "email")?,
        iss: string_claim(&all, "iss")?,
        aud,
        exp: numeric_claim(&all, "exp")?
            .ok_or_else(|| AuthError::token_invalid("the JWT has no exp claim"))?,
        nbf: numeric_claim(&all, "nbf")?,
        iat: numeric_claim(&all, "iat")?,
        jti: string_claim(&all, "jti")?,
        all,
    };
    let signing_input = &token[..header_part.len() + 1 + claims_part.len()];
    Ok(DecodedToken {
        header,
        claims,
        signing_input,
        signature,
    })
}

impl DecodedToken<'_> {
    pub fn verify_signature(&self, key: &VerifyingKey) -> Result<()> {
        let verified = URL_SAFE_NO_PAD
            .decode(self.signature)
            .is_ok_and(|signature| {
                key.verify(self.header.alg, self.signing_input.as_bytes(), &signature)
            });
        if verified {
            Ok(())
        } else {
            Err(AuthError::token_invalid(
                "the JWT signature does not verify with the API's published key",
            ))
        }
    }
}

/// Checks time claims at `now` (seconds since the epoch on the server's clock; `None` skips
/// them, for a stored token that is about to be refreshed anyway) and issuer and audience.
pub fn validate_claims(claims: &Claims, rules: &ClaimRules, now: Option<i64>) -> Result<()> {
    if let Some(now) = now {
        let leeway = rules.leeway.as_secs() as i64;
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
    }
    if let Some(issuer) = &rules.issuer {
        if claims.iss.as_deref() != Some(issuer.as_str()) {
            return Err(AuthError::token_invalid(
                "the JWT issuer (iss) is not the configured issuer",
            ));
        }
    }
    if !rules.audience.is_empty() && !claims.aud.iter().any(|aud| rules.audience.contains(aud)) {
        return Err(AuthError::token_invalid(
            "the JWT audience (aud) does not include the configured audience",
        ));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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

    fn claims_with(extra: Value) -> Claims {
        let mut claims = serde_json::json!({"exp": 1000, "iss": "iss-1", "aud": "app"});
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let token = unsigned(serde_json::json!({"alg": "RS256"}), claims);
        decode(&token).unwrap().claims
    }

    #[test]
    fn refuses_none_and_hmac_before_anything_else() {
        let claims = serde_json::json!({"exp": 1});
        for alg in ["none", "NONE", "HS256", "HS512"] {
            let err =
                decode(&unsigned(serde_json::json!({ "alg": alg }), claims.clone())).unwrap_err();
            assert!(err.message.contains("never accepted"), "{alg}: {err}");
        }
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
            assert!(decode(token).is_err(), "{token:.20}");
        }
        let not_utf8 = format!(
            "{}.{}.x",
            b64(&serde_json::json!({"alg":"RS256"})),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe])
        );
        assert!(decode(&not_utf8).is_err());
        let exp_string = unsigned(
            serde_json::json!({"alg":"RS256"}),
            serde_json::json!({"exp": "9999999999"}),
        );
        assert!(decode(&exp_string)
            .unwrap_err()
            .message
            .contains("not a number"));
        let no_exp = unsigned(
            serde_json::json!({"alg":"RS256"}),
            serde_json::json!({"sub": "1"}),
        );
        assert!(decode(&no_exp).unwrap_err().message.contains("no exp"));
    }

    #[test]
    fn debug_output_shows_no_part_of_the_token() {
        let token = unsigned(
            serde_json::json!({"alg": "RS256", "kid": "k"}),
            serde_json::json!({"exp": 1, "sub": "1"}),
        );
        let shown = format!("{:?}", decode(&token).unwrap());
        for part in token.split('.') {
            assert!(!shown.contains(part), "{shown}");
        }
    }

    #[test]
    fn time_claims_use_the_leeway() {
        let claims = claims_with(serde_json::json!({"nbf": 500, "iat": 500}));
        assert!(validate_claims(&claims, &rules(), Some(1029)).is_ok());
        assert!(validate_claims(&claims, &rules(), Some(1030)).is_err());
        assert!(validate_claims(&claims, &rules(), Some(470)).is_ok());
        assert!(validate_claims(&claims, &rules(), Some(469)).is_err());
    }

    #[test]
    fn issuer_and_audience_must_match_when_configured() {
        let wrong_iss = claims_with(serde_json::json!({"iss": "other"}));
        assert!(validate_claims(&wrong_iss, &rules(), Some(0))
            .unwrap_err()
            .message
            .contains("iss"));
        let wrong_aud = claims_with(serde_json::json!({"aud": ["x", "y"]}));
        assert!(validate_claims(&wrong_aud, &rules(), Some(0))
            .unwrap_err()
            .message
            .contains("aud"));
        let one_of = claims_with(serde_json::json!({"aud": ["x", "app"]}));
        assert!(validate_claims(&one_of, &rules(), Some(0)).is_ok());
        let open = ClaimRules {
            issuer: None,
            audience: vec![],
            leeway: Duration::ZERO,
        };
        assert!(validate_claims(&wrong_aud, &open, Some(0)).is_ok());
    }

    #[test]
    fn the_type_may_be_absent_jwt_or_at_jwt_and_nothing_else() {
        let claims = serde_json::json!({"exp": 2_000_000_000});
        let with_typ = |typ: Value| {
            unsigned(
                serde_json::json!({"alg": "RS256", "typ": typ}),
                claims.clone(),
            )
        };
        assert!(decode(&unsigned(
            serde_json::json!({"alg": "RS256"}),
            claims.clone()
        ))
        .is_ok());
        for typ in ["JWT", "jwt", "at+jwt", "application/at+jwt", "AT+JWT"] {
            assert!(decode(&with_typ(Value::from(typ))).is_ok(), "{typ}");
        }
        for typ in [
            Value::from("dpop+jwt"),
            Value::from("secevent+jwt"),
            Value::from("logout+jwt"),
            Value::from("JWE"),
            Value::from(""),
            Value::from(7),
        ] {
            let err = decode(&with_typ(typ.clone())).unwrap_err();
            assert!(err.message.contains("typ"), "{typ}: {err}");
        }
    }
}
