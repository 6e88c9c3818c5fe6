//! The Flask API as the desktop client sees it (FLASK_API.md): CSRF, login, status, token,
//! refresh, JWKS, logout. Every response is size-limited, time-limited and classified into
//! the contract's error codes; nothing from a response body is ever copied into a message.

use crate::config::{check_transport, Config, Endpoints};
use crate::cookies::CookieJar;
use crate::errors::{AuthError, ErrorCode, Result};
use crate::jwks::{self, KeySet};
use crate::secret::Secret;
use parking_lot::Mutex;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, DATE, LOCATION, RETRY_AFTER,
};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use url::Url;
use zeroize::{Zeroize, Zeroizing};

/// Larger bodies are refused: every answer of this API is a few KB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 5;
const CSRF_HEADER: &str = "X-CSRF-Token";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl User {
    /// Reads the Flask shape `{id, email, display_name, roles}`; ids may be numbers.
    fn from_api(value: &Value) -> Option<User> {
        let id = match value.get("id")? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        Some(User {
            id,
            email: text("email")?,
            display_name: text("display_name").or_else(|| text("displayName")),
            roles: value.get("roles").and_then(Value::as_array).map(|roles| {
                roles
                    .iter()
                    .filter_map(|r| r.as_str().or_else(|| r.get("name")?.as_str()))
                    .map(str::to_string)
                    .collect()
            }),
        })
    }
}

#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: Secret,
    pub expires_in: Option<u64>,
}

/// One endpoint, named in error messages and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Csrf,
    Login,
    Logout,
    Status,
    Token,
    Refresh,
    Jwks,
}

impl Endpoint {
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Csrf => "CSRF endpoint",
            Endpoint::Login => "login endpoint",
            Endpoint::Logout => "logout endpoint",
            Endpoint::Status => "status endpoint",
            Endpoint::Token => "token endpoint",
            Endpoint::Refresh => "refresh endpoint",
            Endpoint::Jwks => "JWKS endpoint",
        }
    }
}

/// A response read in full (within the size limit). Its body is zeroed when dropped: token
/// and CSRF answers carry secrets.
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
    /// The server's `Date` header, for clock-skew estimates.
    pub server_date: Option<SystemTime>,
    headers: HeaderMap,
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

    fn json(&self, endpoint: Endpoint) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|_| {
            let kind = self
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("no content type");
            AuthError::bad_response(format!(
                "the {} answered HTTP {} with a body that is not JSON ({kind}); check paths and baseUrl",
                endpoint.name(),
                self.status.as_u16()
            ))
        })
    }

    fn mentions_csrf(&self) -> bool {
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

impl Drop for Reply {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

#[derive(Serialize)]
struct LoginRequest<'a> {
    email: &'a str,
    password: &'a str,
    remember: bool,
}

/// The login request body, holding the password in exactly one buffer: written into room
/// reserved up front (JSON escaping at most sextuples a byte), so no reallocation leaves a
/// copy behind, and zeroed when the HTTP client drops the body after sending it.
fn login_body(email: &str, password: &Secret, remember: bool) -> Result<reqwest::Body> {
    let request = LoginRequest {
        email,
        password: password.expose(),
        remember,
    };
    let mut buffer = Zeroizing::new(Vec::with_capacity(
        6 * (email.len() + password.expose().len()) + 64,
    ));
    serde_json::to_writer(&mut *buffer, &request)
        .map_err(|_| AuthError::internal("could not encode the login request"))?;
    Ok(reqwest::Body::from(bytes::Bytes::from_owner(buffer)))
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

pub struct ApiClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    origin: url::Origin,
    timeout: Duration,
    pub cookies: Arc<CookieJar>,
    csrf_token: Mutex<Option<Secret>>,
}

impl ApiClient {
    pub fn new(config: &Config) -> Result<ApiClient> {
        // reqwest is built without a default TLS provider; installing ours fails harmlessly
        // when the host process already installed one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let origin = config.base_url.origin();
        let cookies = Arc::new(CookieJar::new(&config.base_url));
        let redirect_origin = origin.clone();
        let http = reqwest::Client::builder()
            .cookie_provider(cookies.clone())
            .connect_timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if attempt.url().origin() == redirect_origin {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .user_agent(concat!("symbiote-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| AuthError::internal("could not set up the HTTP client (TLS backend)"))?;
        Ok(ApiClient {
            http,
            endpoints: config.endpoints.clone(),
            origin,
            timeout: config.request_timeout,
            cookies,
            csrf_token: Mutex::new(None),
        })
    }

    fn origin_name(&self) -> String {
        self.origin.ascii_serialization()
    }

    fn transport_error(&self, endpoint: Endpoint, err: reqwest::Error) -> AuthError {
        let mut root: &dyn std::error::Error = &err;
        while let Some(source) = root.source() {
            root = source;
        }
        let code = if err.is_timeout() {
            ErrorCode::Timeout
        } else if err.is_redirect() {
            ErrorCode::BadResponse
        } else {
            ErrorCode::Network
        };
        let what = match code {
            ErrorCode::BadResponse => "redirected too many times",
            _ if err.is_connect() => "could not connect",
            _ if err.is_body() || err.is_decode() => "lost the connection while reading the answer",
            _ => "failed",
        };
        AuthError::new(
            code,
            format!(
                "the {} at {} {what} ({root}); check that the API is running and reachable",
                endpoint.name(),
                self.origin_name()
            ),
        )
    }

    fn timeout_error(&self, endpoint: Endpoint) -> AuthError {
        AuthError::new(
            ErrorCode::Timeout,
            format!(
                "the {} at {} did not answer within {} ms (requestTimeoutMs)",
                endpoint.name(),
                self.origin_name(),
                self.timeout.as_millis()
            ),
        )
    }

    /// Sends one request and reads the whole answer within `requestTimeoutMs`.
    async fn exchange(
        &self,
        endpoint: Endpoint,
        request: reqwest::RequestBuilder,
    ) -> Result<Reply> {
        let exchange = async {
            let mut response = request
                .send()
                .await
                .map_err(|err| self.transport_error(endpoint, err))?;
            let too_large = || {
                AuthError::bad_response(format!(
                    "the {} answered with more than {} bytes",
                    endpoint.name(),
                    MAX_BODY_BYTES
                ))
            };
            let announced = response.content_length().unwrap_or(0);
            if announced > MAX_BODY_BYTES as u64 {
                return Err(too_large());
            }
            // Sized up front where the length is announced: growing would leave copies of
            // the body (a token) behind in freed memory.
            let mut body = Vec::with_capacity(announced as usize);
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|err| self.transport_error(endpoint, err))?
            {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Reply::from_parts(
                response.status(),
                response.headers().clone(),
                body,
            ))
        };
        let reply = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| self.timeout_error(endpoint))??;
        if reply.status.is_redirection() {
            return Err(self.redirect_error(endpoint, &reply));
        }
        Ok(reply)
    }

    fn redirect_error(&self, endpoint: Endpoint, reply: &Reply) -> AuthError {
        let target = reply
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| self.endpoints.login.join(location).ok());
        if let Some(target) = &target {
            if let Err(err) =
                check_transport(target, &format!("a redirect from the {}", endpoint.name()))
            {
                return err;
            }
        }
        AuthError::bad_response(format!(
            "the {} redirected to another origin, which is not followed so credentials stay with the API; point baseUrl at the final address",
            endpoint.name()
        ))
    }

    fn request(&self, method: Method, url: &Url) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(ACCEPT, "application/json");
        if method == Method::POST {
            if let Some(csrf) = self.csrf_token.lock().as_ref() {
                if let Ok(mut value) = HeaderValue::from_str(csrf.expose()) {
                    value.set_sensitive(true);
                    request = request.header(CSRF_HEADER, value);
                }
            }
        }
        request
    }

    fn post_json(&self, url: &Url, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        self.request(Method::POST, url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
    }

    /// Errors every endpoint shares: 5xx, 429, and anything else unexpected. A `Retry-After`
    /// on a 5xx or 429 is named in the message and carried on the error for the backoff.
    fn unexpected_status(&self, endpoint: Endpoint, reply: &Reply) -> AuthError {
        let status = reply.status.as_u16();
        let what = if reply.status.is_server_error() {
            format!("failed with HTTP {status}")
        } else if status == 429 {
            "is rate limiting this client".to_string()
        } else {
            return AuthError::bad_response(format!(
                "the {} answered HTTP {status}, which the API contract does not describe",
                endpoint.name()
            ));
        };
        let retry_after = reply.retry_after();
        let wait = retry_after
            .map(|d| format!(" (Retry-After: {} s)", d.as_secs()))
            .unwrap_or_default();
        AuthError::new(
            ErrorCode::Server,
            format!("the {} {what}{wait}; try again later", endpoint.name()),
        )
        .with_retry_after(retry_after)
    }

    fn csrf_refused(&self, endpoint: Endpoint) -> AuthError {
        AuthError::new(
            ErrorCode::Csrf,
            format!(
                "the {} refused the request for a missing or invalid CSRF token; set paths.csrf (e.g. \"/login\") if the API has CSRF protection on",
                endpoint.name()
            ),
        )
    }

    pub async fn fetch_csrf_token(&self) -> Result<()> {
        let Some(url) = &self.endpoints.csrf else {
            return Ok(());
        };
        let failed = |why: &str| {
            AuthError::new(
                ErrorCode::Csrf,
                format!(
                    "could not obtain a CSRF token from the CSRF endpoint: {why}; check paths.csrf"
                ),
            )
        };
        let reply = self
            .exchange(Endpoint::Csrf, self.request(Method::GET, url))
            .await?;
        if !reply.status.is_success() {
            return Err(if reply.status.is_server_error() {
                self.unexpected_status(Endpoint::Csrf, &reply)
            } else {
                failed(&format!("HTTP {}", reply.status.as_u16()))
            });
        }
        let body: Value =
            serde_json::from_slice(&reply.body).map_err(|_| failed("the answer is not JSON"))?;
        let token = body
            .pointer("/response/csrf_token")
            .or_else(|| body.get("csrf_token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && t.len() <= 4096 && HeaderValue::from_str(t).is_ok())
            .ok_or_else(|| failed("the answer has no usable csrf_token"))?;
        *self.csrf_token.lock() = Some(Secret::new(token));
        Ok(())
    }

    /// `POST paths.login`; the password is only ever in the request body.
    pub async fn login(
        &self,
        email: &str,
        password: &Secret,
        remember: bool,
    ) -> Result<Option<User>> {
        self.fetch_csrf_token().await?;
        let body = login_body(email, password, remember)?;
        let reply = self
            .exchange(Endpoint::Login, self.post_json(&self.endpoints.login, body))
            .await?;
        let refused = || {
            AuthError::new(
                ErrorCode::InvalidCredentials,
                "the API refused the email or password",
            )
        };
        match reply.status.as_u16() {
            200..=299 => {
                let body = reply.json(Endpoint::Login)?;
                if body.get("success").and_then(Value::as_bool) == Some(false) {
                    return Err(if reply.mentions_csrf() {
                        self.csrf_refused(Endpoint::Login)
                    } else {
                        refused()
                    });
                }
                Ok(body
                    .get("user")
                    .or_else(|| body.pointer("/response/user"))
                    .and_then(User::from_api))
            }
            400 | 401 | 403 if reply.mentions_csrf() => Err(self.csrf_refused(Endpoint::Login)),
            400 | 401 | 403 | 422 => Err(refused()),
            _ => Err(self.unexpected_status(Endpoint::Login, &reply)),
        }
    }

    /// `GET paths.status`: `Ok(None)` when the server does not know the session.
    pub async fn user_status(&self) -> Result<Option<User>> {
        let reply = self
            .exchange(
                Endpoint::Status,
                self.request(Method::GET, &self.endpoints.status),
            )
            .await?;
        match reply.status.as_u16() {
            200..=299 => {
                let body = reply.json(Endpoint::Status)?;
                if body.get("authenticated").and_then(Value::as_bool) != Some(true) {
                    return Ok(None);
                }
                Ok(body.get("user").and_then(User::from_api))
            }
            401 | 403 => Ok(None),
            _ => Err(self.unexpected_status(Endpoint::Status, &reply)),
        }
    }

    /// `POST paths.token` with the session cookie.
    pub async fn issue_token(&self) -> Result<(IssuedToken, Reply)> {
        let reply = self
            .exchange(
                Endpoint::Token,
                self.post_json(&self.endpoints.token, b"{}".to_vec()),
            )
            .await?;
        match reply.status.as_u16() {
            200..=299 => Ok((parse_token_response(Endpoint::Token, &reply)?, reply)),
            400 | 403 if reply.mentions_csrf() => Err(self.csrf_refused(Endpoint::Token)),
            401 | 403 => Err(AuthError::login_required(
                "the API no longer recognises this session; sign in again",
            )),
            _ => Err(self.unexpected_status(Endpoint::Token, &reply)),
        }
    }

    /// `POST paths.refresh` with the current JWT as bearer; `None` when no refresh path is set.
    pub async fn refresh_token(&self, current: &Secret) -> Option<Result<(IssuedToken, Reply)>> {
        let url = self.endpoints.refresh.as_ref()?;
        let mut bearer = match HeaderValue::from_str(&format!("Bearer {}", current.expose())) {
            Ok(value) => value,
            Err(_) => {
                return Some(Err(AuthError::token_invalid(
                    "the current JWT is not a valid header value",
                )))
            }
        };
        bearer.set_sensitive(true);
        let request = self
            .post_json(url, b"{}".to_vec())
            .header(AUTHORIZATION, bearer);
        Some(match self.exchange(Endpoint::Refresh, request).await {
            Ok(reply) if reply.status.is_success() => {
                parse_token_response(Endpoint::Refresh, &reply).map(|issued| (issued, reply))
            }
            Ok(reply) => Err(self.unexpected_status(Endpoint::Refresh, &reply)),
            Err(err) => Err(err),
        })
    }

    pub async fn fetch_jwks(&self) -> Result<KeySet> {
        let reply = self
            .exchange(
                Endpoint::Jwks,
                self.request(Method::GET, &self.endpoints.jwks),
            )
            .await?;
        if !reply.status.is_success() {
            return Err(self.unexpected_status(Endpoint::Jwks, &reply));
        }
        jwks::parse_jwks(&reply.body)
    }

    /// `POST paths.logout`, best effort: the outcome is returned for logging only.
    pub async fn logout(&self) -> Result<()> {
        let reply = self
            .exchange(
                Endpoint::Logout,
                self.post_json(&self.endpoints.logout, b"{}".to_vec()),
            )
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(self.unexpected_status(Endpoint::Logout, &reply))
        }
    }

    pub fn forget_csrf_token(&self) {
        *self.csrf_token.lock() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_login_body_is_the_contract_json_whatever_the_password() {
        let password = Secret::new("p\"w\\\n\u{1}é😀");
        let body = login_body("a@b.c", &password, true).unwrap();
        let json: Value = serde_json::from_slice(body.as_bytes().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"email": "a@b.c", "password": password.expose(), "remember": true})
        );
    }
}
