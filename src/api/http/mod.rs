//! `FlaskApi` over HTTP: every response size-limited, time-limited and classified into the
//! contract's error codes; nothing from a response body is ever copied into a message.
//! Here the exchanges with each endpoint; `conversation.rs` holds a session's HTTP client,
//! cookies and CSRF token, `failures.rs` how each failure is worded.

use super::{
    parse_token_response, ApiFuture, ApiSession, AppRequest, AppResponse, Endpoint, FlaskApi,
    Reply, TokenAnswer, User, MAX_BODY_BYTES,
};
use crate::config::{Config, Endpoints, ProxySetting};
use crate::cookies::StoredCookie;
use crate::errors::{AuthError, ErrorCode, Result};
use crate::jwks::{self, KeySet};
use crate::secret::Secret;
use parking_lot::Mutex;
use reqwest::header::{HeaderValue, AUTHORIZATION, SET_COOKIE};
use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use zeroize::Zeroizing;

mod conversation;
mod failures;

use conversation::{credentials_of, http_client, Conversation};

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

pub struct HttpApi {
    /// The signed-in session: every call but the sign-in.
    session: Conversation,
    /// A sign-in starts a session of its own, without the current one's cookies (Flask-
    /// Security refuses a login from a signed-in session), and it replaces the current one
    /// only when it succeeds: a failed login keeps the session there was. Logins never
    /// overlap (they hold the storage lane).
    sign_in: Conversation,
    endpoints: Endpoints,
    base_url: Url,
    origin: url::Origin,
    timeout: Duration,
    /// The user name and password of the proxy in use, never to appear in a message.
    proxy_credentials: Mutex<Vec<Secret>>,
}

impl HttpApi {
    pub fn new(config: &Config) -> Result<HttpApi> {
        // reqwest is built without a default TLS provider; installing ours fails harmlessly
        // when the host process already installed one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(HttpApi {
            session: Conversation::new(config)?,
            sign_in: Conversation::new(config)?,
            endpoints: config.endpoints.clone(),
            base_url: config.base_url.clone(),
            origin: config.base_url.origin(),
            timeout: config.request_timeout,
            proxy_credentials: Mutex::new(credentials_of(&config.proxy)),
        })
    }

    /// From the next request on, the API is reached as `proxy` says.
    fn use_proxy(&self, proxy: &ProxySetting) -> Result<()> {
        for talk in [&self.session, &self.sign_in] {
            let http = http_client(&self.base_url, self.timeout, talk.cookies.clone(), proxy)?;
            talk.http.store(Arc::new(http));
        }
        *self.proxy_credentials.lock() = credentials_of(proxy);
        Ok(())
    }

    /// Sends one request and reads the whole answer within `requestTimeoutMs`.
    async fn exchange(
        &self,
        talk: &Conversation,
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
        if let Some(newer) = reply.csrf_token() {
            *talk.csrf_token.lock() = Some(newer);
        }
        if reply.status.is_redirection() {
            return Err(self.redirect_error(endpoint, &reply));
        }
        Ok(reply)
    }

    /// Sends a POST with a CSRF token for the session's whole life: one is fetched when there
    /// is none yet (the first login, after `restore()`), any newer one an answer carries
    /// replaces it (in `exchange`), and when the API refuses it (expired, or the session
    /// changed) a fresh one is fetched and the request built and sent once more. A refusal
    /// of a token fetched for this very request is final: never a loop. The caller reads
    /// whatever the last answer says, a refusal included.
    async fn post_with_csrf(
        &self,
        talk: &Conversation,
        endpoint: Endpoint,
        build: impl Fn() -> Result<reqwest::RequestBuilder>,
    ) -> Result<Reply> {
        let have_token = talk.csrf_token.lock().is_some();
        let fetched_now = !have_token && self.fetch_csrf_token(talk).await?;
        let reply = self.exchange(talk, endpoint, build()?).await?;
        if fetched_now || !reply.is_csrf_refusal() || !self.fetch_csrf_token(talk).await? {
            return Ok(reply);
        }
        self.exchange(talk, endpoint, build()?).await
    }

    /// Fetches a new CSRF token from `paths.csrf`; false when none is configured.
    async fn fetch_csrf_token(&self, talk: &Conversation) -> Result<bool> {
        let Some(url) = &self.endpoints.csrf else {
            return Ok(false);
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
            .exchange(talk, Endpoint::Csrf, talk.request(Method::GET, url))
            .await?;
        if !reply.status.is_success() {
            return Err(if reply.status.is_server_error() {
                self.unexpected_status(Endpoint::Csrf, &reply)
            } else {
                failed(&format!("HTTP {}", reply.status.as_u16()))
            });
        }
        let token = reply.csrf_token().ok_or_else(|| {
            failed("the answer is not JSON with a usable csrf_token or response.csrf_token")
        })?;
        *talk.csrf_token.lock() = Some(token);
        Ok(true)
    }

    /// Signs in within the sign-in conversation, which becomes the current session only
    /// when `adopt_pending_session` says so. The password is only ever in the request body.
    async fn post_login(
        &self,
        email: &str,
        password: &Secret,
        remember: bool,
    ) -> Result<Option<User>> {
        let talk = &self.sign_in;
        talk.forget();
        self.sign_in_at(talk, email, password, remember).await
    }

    fn conversation(&self, session: ApiSession) -> &Conversation {
        match session {
            ApiSession::Current => &self.session,
            ApiSession::Pending => &self.sign_in,
        }
    }

    async fn sign_in_at(
        &self,
        talk: &Conversation,
        email: &str,
        password: &Secret,
        remember: bool,
    ) -> Result<Option<User>> {
        let reply = self
            .post_with_csrf(talk, Endpoint::Login, || {
                let body = login_body(email, password, remember)?;
                Ok(talk.post_json(&self.endpoints.login, body))
            })
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
                    return Err(if reply.is_csrf_refusal() {
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
            _ if reply.is_csrf_refusal() => Err(self.csrf_refused(Endpoint::Login)),
            400 | 401 | 403 | 422 => Err(refused()),
            _ => Err(self.unexpected_status(Endpoint::Login, &reply)),
        }
    }

    async fn get_user_status(&self, session: ApiSession) -> Result<Option<User>> {
        let talk = self.conversation(session);
        let reply = self
            .exchange(
                talk,
                Endpoint::Status,
                talk.request(Method::GET, &self.endpoints.status),
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

    async fn post_token(&self, session: ApiSession) -> Result<TokenAnswer> {
        let talk = self.conversation(session);
        let reply = self
            .post_with_csrf(talk, Endpoint::Token, || {
                Ok(talk.post_json(&self.endpoints.token, b"{}".to_vec()))
            })
            .await?;
        match reply.status.as_u16() {
            200..=299 => Ok(TokenAnswer {
                issued: parse_token_response(Endpoint::Token, &reply)?,
                server_date: reply.server_date,
            }),
            _ if reply.is_csrf_refusal() => Err(self.csrf_refused(Endpoint::Token)),
            401 | 403 => Err(AuthError::login_required(
                "the API no longer recognises this session; sign in again",
            )),
            _ => Err(self.unexpected_status(Endpoint::Token, &reply)),
        }
    }

    async fn post_refresh(&self, current: &Secret) -> Result<Option<TokenAnswer>> {
        let Some(url) = self.endpoints.refresh.as_ref() else {
            return Ok(None);
        };
        let mut bearer = match HeaderValue::from_str(&format!("Bearer {}", current.expose())) {
            Ok(value) => value,
            Err(_) => {
                return Err(AuthError::token_invalid(
                    "the current JWT is not a valid header value",
                ))
            }
        };
        bearer.set_sensitive(true);
        let reply = self
            .post_with_csrf(&self.session, Endpoint::Refresh, || {
                Ok(self
                    .session
                    .post_json(url, b"{}".to_vec())
                    .header(AUTHORIZATION, bearer.clone()))
            })
            .await?;
        if reply.is_csrf_refusal() {
            return Err(self.csrf_refused(Endpoint::Refresh));
        }
        if !reply.status.is_success() {
            return Err(self.unexpected_status(Endpoint::Refresh, &reply));
        }
        Ok(Some(TokenAnswer {
            issued: parse_token_response(Endpoint::Refresh, &reply)?,
            server_date: reply.server_date,
        }))
    }

    async fn get_jwks(&self) -> Result<KeySet> {
        let reply = self
            .exchange(
                &self.session,
                Endpoint::Jwks,
                self.session.request(Method::GET, &self.endpoints.jwks),
            )
            .await?;
        if !reply.status.is_success() {
            return Err(self.unexpected_status(Endpoint::Jwks, &reply));
        }
        jwks::parse_jwks(&reply.body)
    }

    async fn send_app(&self, request: &AppRequest) -> Result<AppResponse> {
        let talk = &self.session;
        let build = || {
            let mut builder = talk.request(request.method.clone(), &request.url);
            let mut headers = reqwest::header::HeaderMap::new();
            for (name, value) in &request.headers {
                headers.append(name, value.clone());
            }
            // Replaces the default Accept when the caller names its own.
            builder = builder.headers(headers);
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            Ok(builder)
        };
        let mut reply = if request.method.is_safe() {
            self.exchange(talk, Endpoint::App, build()?).await?
        } else {
            let reply = self.post_with_csrf(talk, Endpoint::App, build).await?;
            if reply.is_csrf_refusal() {
                return Err(self.csrf_refused(Endpoint::App));
            }
            reply
        };
        // What a WHATWG Response can carry.
        if !(200..=599).contains(&reply.status.as_u16()) {
            return Err(AuthError::bad_response(format!(
                "the API request was answered with HTTP {}, which is not a final status",
                reply.status.as_u16()
            )));
        }
        let headers = reply
            .headers
            .iter()
            .filter(|(name, _)| *name != SET_COOKIE)
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
            .collect();
        Ok(AppResponse {
            status: reply.status.as_u16(),
            headers,
            body: std::mem::take(&mut reply.body),
        })
    }

    async fn post_logout(&self, session: ApiSession) -> Result<()> {
        let talk = self.conversation(session);
        let reply = self
            .post_with_csrf(talk, Endpoint::Logout, || {
                Ok(talk.post_json(&self.endpoints.logout, b"{}".to_vec()))
            })
            .await?;
        if reply.is_csrf_refusal() {
            Err(self.csrf_refused(Endpoint::Logout))
        } else if reply.status.is_success() {
            Ok(())
        } else {
            Err(self.unexpected_status(Endpoint::Logout, &reply))
        }
    }
}

impl FlaskApi for HttpApi {
    fn login<'a>(
        &'a self,
        email: &'a str,
        password: &'a Secret,
        remember: bool,
    ) -> ApiFuture<'a, Option<User>> {
        Box::pin(self.post_login(email, password, remember))
    }

    fn user_status(&self, session: ApiSession) -> ApiFuture<'_, Option<User>> {
        Box::pin(self.get_user_status(session))
    }

    fn issue_token(&self, session: ApiSession) -> ApiFuture<'_, TokenAnswer> {
        Box::pin(self.post_token(session))
    }

    fn refresh_token<'a>(&'a self, current: &'a Secret) -> ApiFuture<'a, Option<TokenAnswer>> {
        Box::pin(self.post_refresh(current))
    }

    fn fetch_jwks(&self) -> ApiFuture<'_, KeySet> {
        Box::pin(self.get_jwks())
    }

    fn logout(&self, session: ApiSession) -> ApiFuture<'_, ()> {
        Box::pin(self.post_logout(session))
    }

    fn send<'a>(&'a self, request: &'a AppRequest) -> ApiFuture<'a, AppResponse> {
        Box::pin(self.send_app(request))
    }

    fn session_cookies(&self) -> Vec<StoredCookie> {
        self.session.cookies.snapshot()
    }

    fn resume_session(&self, cookies: Vec<StoredCookie>) {
        self.session.cookies.replace(cookies);
        // A CSRF token belongs to the session it was issued for: the next POST fetches one.
        *self.session.csrf_token.lock() = None;
    }

    fn has_session(&self) -> bool {
        !self.session.cookies.is_empty()
    }

    fn forget_session(&self) {
        self.session.forget();
    }

    fn adopt_pending_session(&self) {
        self.session
            .cookies
            .replace(self.sign_in.cookies.snapshot());
        *self.session.csrf_token.lock() = self.sign_in.csrf_token.lock().take();
        self.sign_in.forget();
    }

    fn forget_pending_session(&self) {
        self.sign_in.forget();
    }

    fn set_proxy(&self, proxy: &ProxySetting) -> Result<()> {
        self.use_proxy(proxy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
