//! The Flask API as the desktop client sees it (docs/API.md, "The Flask API"): CSRF, login, status, token,
//! refresh, JWKS, logout. `FlaskApi` is what the session needs of it, so the lifecycle runs
//! against an in-memory API in tests; `HttpApi` is the real one over reqwest.

mod app_request;
mod http;
mod reply;

pub use app_request::{api_url, AppRequest, AppResponse};
pub use http::HttpApi;
pub use reply::{parse_token_response, Reply};

use crate::config::ProxySetting;
use crate::cookies::StoredCookie;
use crate::errors::Result;
use crate::jwks::KeySet;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

/// Larger bodies are refused: every answer of this API is a few KB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

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
    pub(crate) fn from_api(value: &Value) -> Option<User> {
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

/// A token answer with what the session learns from it besides the token.
#[derive(Debug)]
pub struct TokenAnswer {
    pub issued: IssuedToken,
    /// The server's `Date` header, for clock-skew estimates.
    pub server_date: Option<SystemTime>,
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
    /// A request of the app's own (`apiFetch()`).
    App,
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
            Endpoint::App => "API request",
        }
    }
}

/// Which of the client's sessions at the API a call belongs to: the signed-in one, or the
/// one a `login()` is making, which takes over only once the whole sign-in succeeded (a
/// failed login keeps the session there was, cookies included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiSession {
    Current,
    Pending,
}

pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// The API calls the session makes, and the session credentials (cookies, CSRF token) the
/// client keeps for the API's origin. Every error is one of the contract's codes with a
/// message of ours.
pub trait FlaskApi: Send + Sync {
    /// `POST paths.login` (after a CSRF token when `paths.csrf` is set) in the pending
    /// session; the user when the answer names one.
    fn login<'a>(
        &'a self,
        email: &'a str,
        password: &'a Secret,
        remember: bool,
    ) -> ApiFuture<'a, Option<User>>;
    /// `GET paths.status`: `None` when the server does not know the session.
    fn user_status(&self, session: ApiSession) -> ApiFuture<'_, Option<User>>;
    /// `POST paths.token` with the session cookie; `E_LOGIN_REQUIRED` when the session ended.
    fn issue_token(&self, session: ApiSession) -> ApiFuture<'_, TokenAnswer>;
    /// `POST paths.refresh` with `current` as bearer; `None` when no refresh path is set.
    fn refresh_token<'a>(&'a self, current: &'a Secret) -> ApiFuture<'a, Option<TokenAnswer>>;
    fn fetch_jwks(&self) -> ApiFuture<'_, KeySet>;
    /// `POST paths.logout` with the session cookie.
    fn logout(&self, session: ApiSession) -> ApiFuture<'_, ()>;
    /// `apiFetch()`: the app's own request with the session cookie (and the CSRF token on
    /// a method that changes something). Whatever the status, it is the caller's answer.
    fn send<'a>(&'a self, request: &'a AppRequest) -> ApiFuture<'a, AppResponse>;

    /// The session cookies, to store with the session.
    fn session_cookies(&self) -> Vec<StoredCookie>;
    /// Uses stored session cookies from now on (restore).
    fn resume_session(&self, cookies: Vec<StoredCookie>);
    fn has_session(&self) -> bool;
    /// Forgets the session cookies and the CSRF token.
    fn forget_session(&self);
    /// The pending session becomes the current one (its cookies and CSRF token).
    fn adopt_pending_session(&self);
    /// Drops the pending session's cookies and CSRF token.
    fn forget_pending_session(&self);
    /// Reaches the API as `proxy` says from the next request on.
    fn set_proxy(&self, proxy: &ProxySetting) -> Result<()>;
}
