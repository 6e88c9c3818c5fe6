//! Every failure the library reports: a stable code (docs/API.md) and a message that
//! says what happened and what to do. Messages are written by us, never copied from a
//! response body, so they cannot carry a token, a cookie or a password.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

/// The stable code of every failure (docs/API.md). Two are raised in JS, listed here so that
/// this is the one list of codes: `E_FORBIDDEN_SENDER` (the Electron glue) and
/// `E_NATIVE_BINDING` (the package entry, when this binary did not load).
#[napi_derive::napi(string_enum, js_name = "AuthErrorCode")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    #[napi(value = "E_CONFIG")]
    Config,
    #[napi(value = "E_INSECURE_URL")]
    InsecureUrl,
    #[napi(value = "E_UNTRUSTED_ORIGIN")]
    UntrustedOrigin,
    #[napi(value = "E_INVALID_CREDENTIALS")]
    InvalidCredentials,
    #[napi(value = "E_CSRF")]
    Csrf,
    #[napi(value = "E_LOGIN_REQUIRED")]
    LoginRequired,
    #[napi(value = "E_NETWORK")]
    Network,
    #[napi(value = "E_TIMEOUT")]
    Timeout,
    #[napi(value = "E_SERVER")]
    Server,
    #[napi(value = "E_BAD_RESPONSE")]
    BadResponse,
    #[napi(value = "E_TOKEN_INVALID")]
    TokenInvalid,
    #[napi(value = "E_STORAGE")]
    Storage,
    /// A method was called with an argument of the wrong type (the message names it).
    #[napi(value = "E_INVALID_ARGUMENT")]
    InvalidArgument,
    /// The caller cancelled the call (`apiFetch`'s `init.signal`).
    #[napi(value = "E_ABORTED")]
    Aborted,
    /// Raised by `symbiote-auth/electron`: its sender policy refused the frame.
    #[napi(value = "E_FORBIDDEN_SENDER")]
    ForbiddenSender,
    /// Raised by the package entry (index.js) when no binary loads; never by this crate.
    #[napi(value = "E_NATIVE_BINDING")]
    NativeBinding,
    #[napi(value = "E_INTERNAL")]
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Config => "E_CONFIG",
            ErrorCode::InsecureUrl => "E_INSECURE_URL",
            ErrorCode::UntrustedOrigin => "E_UNTRUSTED_ORIGIN",
            ErrorCode::InvalidCredentials => "E_INVALID_CREDENTIALS",
            ErrorCode::Csrf => "E_CSRF",
            ErrorCode::LoginRequired => "E_LOGIN_REQUIRED",
            ErrorCode::Network => "E_NETWORK",
            ErrorCode::Timeout => "E_TIMEOUT",
            ErrorCode::Server => "E_SERVER",
            ErrorCode::BadResponse => "E_BAD_RESPONSE",
            ErrorCode::TokenInvalid => "E_TOKEN_INVALID",
            ErrorCode::Storage => "E_STORAGE",
            ErrorCode::InvalidArgument => "E_INVALID_ARGUMENT",
            ErrorCode::Aborted => "E_ABORTED",
            ErrorCode::ForbiddenSender => "E_FORBIDDEN_SENDER",
            ErrorCode::NativeBinding => "E_NATIVE_BINDING",
            ErrorCode::Internal => "E_INTERNAL",
        }
    }

    /// Failures that say nothing about the session itself: the API may answer next time.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorCode::Network | ErrorCode::Timeout | ErrorCode::Server
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError {
    pub code: ErrorCode,
    pub message: String,
    /// How long the API asked to be left alone (`Retry-After`); the refresh backoff honours it.
    pub retry_after: Option<Duration>,
}

impl AuthError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AuthError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Config, message)
    }

    pub fn insecure_url(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InsecureUrl, message)
    }

    pub fn token_invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::TokenInvalid, message)
    }

    pub fn bad_response(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadResponse, message)
    }

    pub fn login_required(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::LoginRequired, message)
    }

    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Storage, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AuthError {}

pub type Result<T> = std::result::Result<T, AuthError>;

/// What a panic (a bug) becomes at the JS boundary. The panic's own text is not used: it is
/// written for developers and could quote anything.
fn panicked() -> AuthError {
    AuthError::internal(
        "symbiote-auth hit an internal error (a bug) and stopped this call; the client is still usable, please report it",
    )
}

/// Runs `entry`; a panic in it becomes an `E_INTERNAL` error instead of unwinding further
/// (into Node, where it would abort the app). The core holds no lock across a panic point
/// that a later call could find poisoned (parking_lot locks do not poison).
pub fn catch_panic<T>(entry: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(entry)).map_err(|_| panicked())
}

/// Runs `work` as a task of its own, so that a panic in it becomes an `E_INTERNAL` error.
pub async fn catch_panic_async<T: Send + 'static>(
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(work).await.unwrap_or_else(|_| Err(panicked()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_e_internal_without_its_text() {
        let err = catch_panic(|| panic!("secret-ish detail")).unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(!err.message.contains("secret-ish"));
        assert_eq!(catch_panic(|| 7).unwrap(), 7);
    }

    #[tokio::test]
    async fn a_panicking_task_becomes_e_internal() {
        let err = catch_panic_async(async { panic!("in a task") as Result<()> })
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        assert_eq!(catch_panic_async(async { Ok(7) }).await.unwrap(), 7);
    }
}
