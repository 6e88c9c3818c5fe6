//! One answer of the API, read in full, and the pure readers of its parts (fuzzed).

use super::{Endpoint, IssuedToken};
use crate::errors::{AuthError, Result};
use crate::secret::Secret;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, DATE, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, SystemTime};
use zeroize::Zeroize;

/// Longer than any CSRF token a framework issues; a longer one is not taken.
const MAX_CSRF_TOKEN_BYTES: usize = 4096;

/// A response read in full (within the size limit). Its body is zeroed when dropped: token
/// and CSRF answers carry secrets.
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
    /// The server's `Date` header, for clock-skew estimates.
    pub server_date: Option<SystemTime>,
    pub(super) headers: HeaderMap,
}

impl Reply {
    /// A complete answer: status, headers and the body read within the size limit.
    pub fn from_parts(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Reply {
        let server_date = headers
            .get(DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        Reply {
            status,
            body,
            server_date,
            headers,
        }
    }

    pub(super) fn json(&self, endpoint: Endpoint) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|_| {
            let kind = media_type_name(&self.headers);
            AuthError::bad_response(format!(
                "the {} answered HTTP {} with a body that is not JSON ({kind}); check paths and baseUrl",
                endpoint.name(),
                self.status.as_u16()
            ))
        })
    }

    /// Searched in place: a lower-cased copy would leave the body (perhaps a token) behind.
    fn mentions_csrf(&self) -> bool {
        self.body
            .windows(4)
            .any(|window| window.eq_ignore_ascii_case(b"csrf"))
    }

    /// The API refused the request for its CSRF token: a 400/401/403 that names CSRF, or a
    /// 2xx `{"success": false}` that does (some APIs answer failures with 200).
    pub(crate) fn is_csrf_refusal(&self) -> bool {
        match self.status.as_u16() {
            400 | 401 | 403 => self.mentions_csrf(),
            200..=299 => {
                #[derive(Deserialize)]
                struct Outcome {
                    success: Option<bool>,
                }
                self.mentions_csrf()
                    && serde_json::from_slice::<Outcome>(&self.body)
                        .is_ok_and(|outcome| outcome.success == Some(false))
            }
            _ => false,
        }
    }

    /// The CSRF token a successful answer carries: Flask-Security puts a fresh one in every
    /// JSON answer (`response.csrf_token`), simpler APIs at the top level. Only that field is
    /// read out of the body (serde skips the rest unread), so nothing else of it is copied.
    pub fn csrf_token(&self) -> Option<Secret> {
        #[derive(Deserialize)]
        struct Carrier {
            csrf_token: Option<Secret>,
            response: Option<Nested>,
        }
        #[derive(Deserialize)]
        struct Nested {
            csrf_token: Option<Secret>,
        }
        if !self.status.is_success() || !self.mentions_csrf() {
            return None;
        }
        let carrier: Carrier = serde_json::from_slice(&self.body).ok()?;
        carrier
            .response
            .and_then(|nested| nested.csrf_token)
            .or(carrier.csrf_token)
            .filter(|token| {
                !token.is_empty()
                    && token.expose().len() <= MAX_CSRF_TOKEN_BYTES
                    && HeaderValue::from_str(token.expose()).is_ok()
            })
    }

    /// The wait a `Retry-After` header asks for, in either of its forms (seconds or a date).
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self.headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
        match value.parse::<u64>() {
            Ok(seconds) => Some(Duration::from_secs(seconds)),
            Err(_) => httpdate::parse_http_date(value)
                .ok()
                .map(|at| at.duration_since(SystemTime::now()).unwrap_or_default()),
        }
    }
}

/// Media types an API or a proxy in front of it commonly answers with, the only ones an
/// error message may name.
const KNOWN_MEDIA_TYPES: &[&str] = &[
    "application/json",
    "application/problem+json",
    "application/xml",
    "application/xhtml+xml",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "text/html",
    "text/plain",
    "text/xml",
    "text/css",
    "text/javascript",
    "application/javascript",
];

/// The answer's media type for a message: one of `KNOWN_MEDIA_TYPES`, never the header's
/// own text (which the server chose, and which would reach logs and the UI).
fn media_type_name(headers: &HeaderMap) -> &'static str {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return "no content type";
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    KNOWN_MEDIA_TYPES
        .iter()
        .find(|known| known.eq_ignore_ascii_case(essence))
        .copied()
        .unwrap_or("an unrecognised content type")
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

/// Reads a successful token or refresh answer: `{access_token, token_type?, expires_in?}`.
/// Pure (no I/O), so it can be fuzzed on its own.
pub fn parse_token_response(endpoint: Endpoint, reply: &Reply) -> Result<IssuedToken> {
    let mut body = reply.json(endpoint)?;
    // Taken, not copied, so the only copy left is the one that zeroizes itself.
    let access_token = match body.get_mut("access_token").map(Value::take) {
        Some(Value::String(token)) if !token.is_empty() => Secret::new(token),
        Some(_) => {
            return Err(AuthError::bad_response(format!(
                "the {} answered an access_token that is not a non-empty string",
                endpoint.name()
            )))
        }
        None => {
            return Err(AuthError::bad_response(format!(
                "the {} answered without an access_token",
                endpoint.name()
            )))
        }
    };
    if let Some(kind) = body.get("token_type") {
        if !kind
            .as_str()
            .is_some_and(|k| k.eq_ignore_ascii_case("bearer"))
        {
            return Err(AuthError::bad_response(format!(
                "the {} answered a token_type that is not Bearer",
                endpoint.name()
            )));
        }
    }
    Ok(IssuedToken {
        access_token,
        expires_in: body.get("expires_in").and_then(Value::as_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::ErrorCode;

    fn reply(headers: &[(&str, &str)], body: &str) -> Reply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        Reply::from_parts(StatusCode::OK, map, body.as_bytes().to_vec())
    }

    #[test]
    fn token_answers_are_read_strictly_and_never_shown() {
        let issued = parse_token_response(
            Endpoint::Token,
            &reply(
                &[],
                r#"{"access_token": "eyJ.a.b", "token_type": "bearer", "expires_in": 900}"#,
            ),
        )
        .unwrap();
        assert_eq!(
            (issued.access_token.expose(), issued.expires_in),
            ("eyJ.a.b", Some(900))
        );
        assert!(!format!("{issued:?}").contains("eyJ"));
        for body in [
            r#"{"token_type": "Bearer"}"#,
            r#"{"access_token": 42}"#,
            r#"{"access_token": ""}"#,
            r#"{"access_token": "eyJ.a.b", "token_type": "MAC"}"#,
            "access_token=eyJ.a.b",
        ] {
            let err = parse_token_response(Endpoint::Token, &reply(&[], body)).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadResponse, "{body}");
            assert!(!err.message.contains("eyJ"), "{body}: {err}");
        }
    }

    #[test]
    fn csrf_tokens_are_taken_from_either_shape_of_a_successful_answer_only() {
        let token = |status: u16, body: &str| {
            let mut answer = reply(&[], body);
            answer.status = StatusCode::from_u16(status).unwrap();
            answer.csrf_token().map(|t| t.expose().to_string())
        };
        let flask_security =
            r#"{"meta": {"code": 200}, "response": {"csrf_token": "fs", "user": {}}}"#;
        assert_eq!(token(200, flask_security).as_deref(), Some("fs"));
        assert_eq!(
            token(200, r#"{"csrf_token": "top"}"#).as_deref(),
            Some("top")
        );
        assert_eq!(token(400, r#"{"csrf_token": "top"}"#), None);
        for unusable in [
            r#"{"csrf_token": ""}"#,
            r#"{"csrf_token": 7}"#,
            r#"{"csrf_token": "line
break"}"#,
            r#"{"access_token": "eyJ.a.b"}"#,
            "csrf_token=abc",
        ] {
            assert_eq!(token(200, unusable), None, "{unusable}");
        }
        let long = format!(
            r#"{{"csrf_token": "{}"}}"#,
            "a".repeat(MAX_CSRF_TOKEN_BYTES + 1)
        );
        assert_eq!(token(200, &long), None);
    }

    #[test]
    fn a_csrf_refusal_is_an_error_or_a_failure_that_names_csrf() {
        let refusal = |status: u16, body: &str| {
            let mut answer = reply(&[], body);
            answer.status = StatusCode::from_u16(status).unwrap();
            answer.is_csrf_refusal()
        };
        let missing =
            r#"{"meta": {"code": 400}, "response": {"errors": ["The CSRF token is missing."]}}"#;
        assert!(refusal(400, missing));
        assert!(refusal(403, "CSRF failed"));
        assert!(refusal(
            200,
            r#"{"success": false, "error": "bad CSRF token"}"#
        ));
        assert!(!refusal(200, r#"{"response": {"csrf_token": "fresh"}}"#));
        assert!(!refusal(
            400,
            r#"{"response": {"errors": ["Invalid password"]}}"#
        ));
        assert!(!refusal(500, "csrf"));
    }

    #[test]
    fn retry_after_is_read_in_both_forms() {
        assert_eq!(
            reply(&[("retry-after", "7")], "").retry_after(),
            Some(Duration::from_secs(7))
        );
        let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(60));
        let wait = reply(&[("retry-after", &in_a_minute)], "")
            .retry_after()
            .unwrap();
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(60));
        let past = "Thu, 01 Jan 1970 00:00:00 GMT";
        assert_eq!(
            reply(&[("retry-after", past)], "").retry_after(),
            Some(Duration::ZERO)
        );
        assert_eq!(reply(&[("retry-after", "soon")], "").retry_after(), None);
    }

    #[test]
    fn a_non_json_answer_is_described_by_a_known_media_type_name_only() {
        let message = |content_type: &str| {
            reply(&[("content-type", content_type)], "<html>")
                .json(Endpoint::Token)
                .unwrap_err()
                .message
        };
        let html = message("Text/HTML; charset=<script>alert(1)</script>");
        assert!(html.contains("(text/html)"), "{html}");
        assert!(
            !html.contains("script") && !html.contains("charset"),
            "{html}"
        );
        let odd = message("x-evil/<b>owned</b>");
        assert!(odd.contains("an unrecognised content type"), "{odd}");
        assert!(!odd.contains("owned") && !odd.contains("x-evil"), "{odd}");
        let none = reply(&[], "<html>")
            .json(Endpoint::Token)
            .unwrap_err()
            .message;
        assert!(none.contains("no content type"), "{none}");
    }
}
