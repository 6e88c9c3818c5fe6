//! Every failure the library reports: a stable code (see CONTRACT.md) and a message that
//! says what happened and what to do. Messages are written by us, never copied from a
//! response body, so they cannot carry a token, a cookie or a password.

use std::fmt;

/// The stable error codes of the public contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Config,
    InsecureUrl,
    UntrustedOrigin,
    InvalidCredentials,
    Csrf,
    LoginRequired,
    Network,
    Timeout,
    Server,
    BadResponse,
    TokenInvalid,
    Storage,
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
}

impl AuthError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AuthError {
            code,
            message: message.into(),
        }
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
