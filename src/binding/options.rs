//! What `new AuthClient(options)` and `login(credentials)` take: the option objects as
//! napi-rs converts them (their doc comments are the `.d.ts`), the shapes `args` checks
//! before that conversion, and the step to the core's `ConfigInput`.

use super::args::Shape;
use crate::config::{ConfigInput, PathsInput};
use napi::bindgen_prelude::*;
use napi_derive::napi;

#[napi(object)]
#[derive(Default)]
pub struct PathOptions {
    /// The CSRF endpoint, `"/api/login"` for Flask-Security; default `null` (no CSRF token).
    /// When set, a token is fetched when a POST needs one and sent as `X-CSRF-Token`.
    #[napi(ts_type = "string | null")]
    pub csrf: Option<Either<String, Null>>,
    /// `POST {email, password, remember}`; default `"/api/login"`.
    pub login: Option<String>,
    /// `POST`, best effort; default `"/api/logout"`.
    pub logout: Option<String>,
    /// `GET` → `{authenticated, user}`, asked when the login answer names no user; default `"/api/user/status"`.
    pub status: Option<String>,
    /// `POST {}` with the session cookie → `{access_token}`; default `"/api/jwt/token"`.
    pub token: Option<String>,
    /// `POST` with the current JWT as bearer; a failure falls back to `token`. Default
    /// `"/api/jwt/refresh"`; `null` turns it off.
    #[napi(ts_type = "string | null")]
    pub refresh: Option<Either<String, Null>>,
    /// `GET` → the JWKS the JWTs are verified with; default `"/api/jwt/jwks"`.
    pub jwks: Option<String>,
}

#[napi(object, object_to_js = false)]
pub struct AuthClientOptions<'env> {
    /// Flask API origin: `https://`, or `http://` to loopback only.
    pub base_url: String,
    /// The API's endpoints, each a path on `baseUrl`; Flask-Security needs `{ csrf: "/api/login" }`.
    pub paths: Option<PathOptions>,
    /// When set, a JWT's `iss` must equal it.
    pub issuer: Option<String>,
    /// When set, a JWT's `aud` must contain one of these.
    pub audience: Option<Either<String, Vec<String>>>,
    /// JWS algorithms accepted; default `["RS256", "ES256"]`. Also `RS384/512`, `PS256/384/512`,
    /// `ES384`, `EdDSA`. `none` and `HS*` are never accepted, whatever is listed.
    pub algorithms: Option<Vec<String>>,
    /// Clock tolerance for `exp`, `nbf` and `iat`, in seconds; default 30.
    pub leeway_seconds: Option<f64>,
    /// Fetched JWKS older than this (default 600) is refetched before the next refresh.
    pub jwks_max_age_seconds: Option<f64>,
    /// How long before `exp` a refresh starts; default a fifth of the token's lifetime, at
    /// most 300, never more than half of it.
    pub refresh_before_expiry_seconds: Option<f64>,
    /// Per HTTP request, connection and whole body included; default 10000.
    pub request_timeout_ms: Option<f64>,
    /// First pause after a failed refresh (default 1000); doubles per failure, with jitter.
    pub refresh_retry_min_ms: Option<f64>,
    /// Largest pause between refresh attempts (default 60000).
    pub refresh_retry_max_ms: Option<f64>,
    /// Where the session lives between runs: `"keyring"` (default: a key in the OS credential
    /// store, the session sealed with it in a file), `"memory"` (this run only), or your own
    /// `StorageBackend` (it receives the session record in plaintext: encrypt it, e.g. with
    /// Electron's `safeStorage`).
    #[napi(ts_type = "'keyring' | 'memory' | StorageBackend")]
    pub storage: Option<Either<String, Object<'env>>>,
    /// Folder of the keyring store's encrypted record file (default: the OS data directory).
    pub storage_dir: Option<String>,
    /// The OS credential store's service name; default `"symbiote"`.
    pub keyring_service: Option<String>,
    /// Keeps several signed-in profiles of one app apart; default `"default"`.
    pub account: Option<String>,
    /// The only origins that ever receive the JWT (MCP servers and the API); default the origin
    /// of `baseUrl`. Each `https://`, or `http://` to loopback.
    pub trusted_origins: Option<Vec<String>>,
    /// When the credential store cannot be used (Linux without a Secret Service, a locked
    /// keychain): `"none"` (default) fails `login()` with `E_STORAGE` before the password is
    /// sent; `"memory"` keeps the session for this run only. Never a plaintext file.
    #[napi(ts_type = "'none' | 'memory'")]
    pub storage_fallback: Option<String>,
    /// The lowest level passed to `onLog`; default `"info"`. No level ever carries a secret.
    #[napi(ts_type = "'error' | 'warn' | 'info' | 'debug' | 'trace'")]
    pub log_level: Option<String>,
    /// `"system"` (default: `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` with `NO_PROXY`), `"none"`,
    /// or an `http://` / `https://` proxy URL. Loopback is never proxied.
    #[napi(ts_type = "'system' | 'none' | (string & {})")]
    pub proxy: Option<String>,
}

fn nullable_path(value: Option<Either<String, Null>>) -> Option<Option<String>> {
    value.map(|v| match v {
        Either::A(path) => Some(path),
        Either::B(Null) => None,
    })
}

impl From<AuthClientOptions<'_>> for ConfigInput {
    fn from(options: AuthClientOptions<'_>) -> Self {
        let paths = options.paths.unwrap_or_default();
        ConfigInput {
            base_url: options.base_url,
            paths: PathsInput {
                csrf: nullable_path(paths.csrf),
                login: paths.login,
                logout: paths.logout,
                status: paths.status,
                token: paths.token,
                refresh: nullable_path(paths.refresh),
                jwks: paths.jwks,
            },
            issuer: options.issuer,
            audience: match options.audience {
                None => Vec::new(),
                Some(Either::A(one)) => vec![one],
                Some(Either::B(many)) => many,
            },
            algorithms: options.algorithms,
            leeway_seconds: options.leeway_seconds,
            jwks_max_age_seconds: options.jwks_max_age_seconds,
            refresh_before_expiry_seconds: options.refresh_before_expiry_seconds,
            request_timeout_ms: options.request_timeout_ms,
            refresh_retry_min_ms: options.refresh_retry_min_ms,
            refresh_retry_max_ms: options.refresh_retry_max_ms,
            storage: options.storage.map(|storage| match storage {
                Either::A(kind) => kind,
                Either::B(_) => "custom".to_string(),
            }),
            storage_dir: options.storage_dir,
            keyring_service: options.keyring_service,
            account: options.account,
            trusted_origins: options.trusted_origins,
            storage_fallback: options.storage_fallback,
            log_level: options.log_level,
            proxy: options.proxy,
        }
    }
}

#[napi(object)]
pub struct LoginCredentials {
    pub email: String,
    pub password: String,
    pub remember: Option<bool>,
}

// The types `args` checks before napi converts: the shapes of `AuthClientOptions`,
// `PathOptions` and `LoginCredentials` above, field for field.
const PATHS_SHAPE: Shape = Shape::Fields(&[
    ("csrf", Shape::StringOrNull),
    ("login", Shape::String),
    ("logout", Shape::String),
    ("status", Shape::String),
    ("token", Shape::String),
    ("refresh", Shape::StringOrNull),
    ("jwks", Shape::String),
]);

pub(super) const OPTIONS_SHAPE: Shape = Shape::Fields(&[
    ("baseUrl", Shape::Required(&Shape::String)),
    ("paths", PATHS_SHAPE),
    ("issuer", Shape::String),
    ("audience", Shape::StringOrStringList),
    ("algorithms", Shape::StringList),
    ("leewaySeconds", Shape::Number),
    ("jwksMaxAgeSeconds", Shape::Number),
    ("refreshBeforeExpirySeconds", Shape::Number),
    ("requestTimeoutMs", Shape::Number),
    ("refreshRetryMinMs", Shape::Number),
    ("refreshRetryMaxMs", Shape::Number),
    ("storage", Shape::StringOrObject),
    ("storageDir", Shape::String),
    ("keyringService", Shape::String),
    ("account", Shape::String),
    ("trustedOrigins", Shape::StringList),
    ("storageFallback", Shape::String),
    ("logLevel", Shape::String),
    ("proxy", Shape::String),
]);

pub(super) const CREDENTIALS_SHAPE: Shape = Shape::Fields(&[
    ("email", Shape::Required(&Shape::String)),
    ("password", Shape::Required(&Shape::String)),
    ("remember", Shape::Boolean),
]);
