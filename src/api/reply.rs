//! One answer of the API, read in full, and the pure readers of its parts (fuzzed).

use super::{Endpoint, IssuedToken};
use crate::errors::{AuthError, Result};
use crate::secret::Secret;
use reqwest::header::{HeaderMap, CONTENT_TYPE, DATE, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, SystemTime};
use zeroize::Zeroize;

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

    pub(super) fn mentions_csrf(&self) -> bool {
        String::from_utf8_lossy(&self.body)
            .to_ascii_lowercase()
            .contains("csrf")
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
    use reqwest::header::HeaderValue;

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
