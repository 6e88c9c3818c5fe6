//! The JavaScript surface (docs/API.md): converts options, results, errors and callbacks
//! between JS and the core, and nothing else.

mod args;
mod fetch;
mod mcp;
mod raw_function;
mod setup;
mod shared_promise;
mod status_snapshot;

pub use mcp::McpAuthProvider;
#[cfg(feature = "bench")]
pub(crate) use raw_function::plain_function;

use crate::config::{check_transport, Config, ConfigInput, PathsInput, ProxySetting};
use crate::errors::{catch_panic, catch_panic_async, AuthError, ErrorCode};
use crate::js_guard::quiet;
use crate::js_storage::JsStore;
use crate::mcp::McpAccess;
use crate::secret::Secret;
use crate::session::{AuthCore, AuthStatus};
use crate::storage::{open_store, SessionStore};
use args::Shape;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use shared_promise::SharedPromise;
use status_snapshot::StatusSnapshot;
use std::sync::Arc;

/// Turns a core error into a JS `Error` with the contract's stable `code`.
pub(crate) fn js_error(env: &Env, err: AuthError) -> Error {
    coded_error(env, &err)
        .map(|error| Error::from(error.to_unknown()))
        .unwrap_or_else(|failure| failure)
}

/// The JS `Error` for `err`, to throw as it is or with more properties.
pub(crate) fn coded_error<'env>(env: &'env Env, err: &AuthError) -> Result<Object<'env>> {
    // "E_CODE: message": the code survives a host that re-wraps the error by message.
    let mut error = env.create_error(Error::from_reason(err.to_string()))?;
    error.set_named_property("code", err.code.as_str())?;
    if let Some(ms) = retry_after_ms(err) {
        error.set_named_property("retryAfterMs", ms)?;
    }
    Ok(error)
}

/// Runs a synchronous entry point; a panic in it becomes an `E_INTERNAL` error for JS
/// instead of unwinding into Node, which would abort the app.
pub(crate) fn guarded<T>(env: &Env, entry: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_panic(entry).unwrap_or_else(|err| Err(js_error(env, err)))
}

/// Runs a core future on the addon's runtime and settles a promise with its outcome; a
/// panic in the future or in `convert` rejects it with `E_INTERNAL`.
pub(crate) fn settle<'env, T, V, F>(
    env: &'env Env,
    work: F,
    convert: impl 'static + FnOnce(T) -> V,
) -> Result<PromiseRaw<'env, V>>
where
    T: 'static + Send,
    V: ToNapiValue,
    F: 'static + Send + std::future::Future<Output = crate::errors::Result<T>>,
{
    settle_then(env, work, convert, |_| {})
}

/// As `settle`, calling `settled` on the JS thread just before the promise settles.
fn settle_then<'env, T, V, F>(
    env: &'env Env,
    work: F,
    convert: impl 'static + FnOnce(T) -> V,
    settled: impl 'static + FnOnce(&Env),
) -> Result<PromiseRaw<'env, V>>
where
    T: 'static + Send,
    V: ToNapiValue,
    F: 'static + Send + std::future::Future<Output = crate::errors::Result<T>>,
{
    settle_with(env, work, move |env, outcome| {
        settled(env);
        outcome.map(convert).map_err(|err| js_error(env, err))
    })
}

/// Runs a core future on the addon's runtime and settles a promise with what `finish` makes
/// of its outcome on the JS thread; a panic in either rejects it with `E_INTERNAL`.
fn settle_with<'env, T, V, F>(
    env: &'env Env,
    work: F,
    finish: impl 'static + FnOnce(&'env Env, crate::errors::Result<T>) -> Result<V>,
) -> Result<PromiseRaw<'env, V>>
where
    T: 'static + Send,
    V: ToNapiValue,
    F: 'static + Send + std::future::Future<Output = crate::errors::Result<T>>,
{
    env.spawn_future_with_callback(
        async move { Ok(catch_panic_async(work).await) },
        move |env, outcome| guarded(env, || finish(env, outcome)),
    )
}

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

#[napi(object, js_name = "User")]
pub struct JsUser {
    pub id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
}

/// The last failure, shaped as a rejection is: `code`, the message beginning with it, and
/// `retryAfterMs` when the API sent `Retry-After`.
#[napi(object, js_name = "AuthErrorInfo")]
pub struct JsErrorInfo {
    #[napi(ts_type = "AuthErrorCode")]
    pub code: String,
    /// `"E_CODE: …"`, written by the library for developers and logs; `userMessage()` has words for users.
    pub message: String,
    /// How long the API asked to be left alone (`Retry-After`), in ms.
    pub retry_after_ms: Option<f64>,
}

fn retry_after_ms(err: &AuthError) -> Option<f64> {
    err.retry_after.map(|wait| wait.as_millis() as f64)
}

#[napi(object, js_name = "AuthStatus", use_nullable = true)]
pub struct JsAuthStatus {
    #[napi(
        ts_type = "'signed-out' | 'valid' | 'refreshing' | 'expired' | 'login-required' | 'offline'"
    )]
    pub state: String,
    pub authenticated: bool,
    pub user: Option<JsUser>,
    /// ms since the epoch, of the current JWT.
    pub expires_at: Option<f64>,
    pub last_error: Option<JsErrorInfo>,
    pub persistent: bool,
    /// The API's clock minus this machine's, in ms, when it exceeds `leewaySeconds`.
    pub clock_skew_ms: Option<f64>,
}

impl From<AuthStatus> for JsAuthStatus {
    fn from(status: AuthStatus) -> Self {
        JsAuthStatus {
            state: status.state.as_str().to_string(),
            authenticated: status.authenticated,
            user: status.user.map(|user| JsUser {
                id: user.id,
                email: user.email,
                display_name: user.display_name,
                roles: user.roles,
            }),
            expires_at: status.expires_at.map(|ms| ms as f64),
            last_error: status.last_error.map(|err| JsErrorInfo {
                code: err.code.as_str().to_string(),
                message: err.to_string(),
                retry_after_ms: retry_after_ms(&err),
            }),
            persistent: status.persistent,
            clock_skew_ms: status.clock_skew_ms.map(|ms| ms as f64),
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

const OPTIONS_SHAPE: Shape = Shape::Fields(&[
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

const CREDENTIALS_SHAPE: Shape = Shape::Fields(&[
    ("email", Shape::Required(&Shape::String)),
    ("password", Shape::Required(&Shape::String)),
    ("remember", Shape::Boolean),
]);

/// A required string argument of a synchronous method.
fn string_arg(env: &Env, value: &Unknown, name: &str) -> Result<String> {
    args::take(value, &Shape::String, name, ErrorCode::InvalidArgument)
        .map_err(|err| js_error(env, err))
}

fn callback_arg<'env, T: 'static + JsValuesTupleIntoVec>(
    env: &Env,
    value: &Unknown<'env>,
) -> Result<Function<'env, T, ()>> {
    args::take(
        value,
        &Shape::Function,
        "callback",
        ErrorCode::InvalidArgument,
    )
    .map_err(|err| js_error(env, err))
}

#[napi(object, js_name = "LogRecord")]
pub struct JsLogRecord {
    #[napi(ts_type = "'error' | 'warn' | 'info' | 'debug' | 'trace'")]
    pub level: String,
    pub message: String,
    pub fields: Option<std::collections::HashMap<String, String>>,
}

/// A host listener as a Rust closure that delivers values to it without blocking: it can
/// never throw into the runtime (`quiet`) nor keep the Node process alive (weak).
fn js_listener<T: 'static + JsValuesTupleIntoVec>(
    env: &Env,
    callback: Function<'_, T, ()>,
) -> Result<impl Fn(T) + Send + Sync + 'static> {
    let listener = quiet(env, callback)?
        .build_threadsafe_function::<T>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()?;
    Ok(move |value: T| {
        listener.call_with_return_value(
            value,
            ThreadsafeFunctionCallMode::NonBlocking,
            |_outcome, _env| Ok(()),
        );
    })
}

/// The `() => void` that `onStatusChange` and `onLog` return.
fn unsubscriber<'env>(
    env: &'env Env,
    unsubscribe: impl Fn() + 'static,
) -> Result<Function<'env, (), ()>> {
    env.create_function_from_closure("unsubscribe", move |_| {
        unsubscribe();
        Ok(())
    })
}

#[napi(custom_finalize)]
pub struct AuthClient {
    core: Arc<AuthCore>,
    /// The `getJwtToken()` call in progress, whose promise later callers share.
    pending_token: SharedPromise,
    /// The object `status()` hands out until the status changes.
    status_object: StatusSnapshot,
}

impl ObjectFinalize for AuthClient {
    fn finalize(self, env: Env) -> Result<()> {
        self.pending_token.forget(&env);
        self.status_object.release(&env)
    }
}

#[napi]
impl AuthClient {
    /// Validates the options; never does I/O.
    #[napi(constructor, ts_args_type = "options: AuthClientOptions")]
    pub fn new(env: Env, options: Unknown<'_>) -> Result<Self> {
        guarded(&env, || {
            let options: AuthClientOptions =
                args::take(&options, &OPTIONS_SHAPE, "options", ErrorCode::Config)
                    .map_err(|err| js_error(&env, err))?;
            let backend = match &options.storage {
                Some(Either::B(object)) => Some(*object),
                _ => None,
            };
            let config = Config::from_input(options.into()).map_err(|err| js_error(&env, err))?;
            let custom: Option<Arc<dyn SessionStore>> = match backend {
                Some(backend) => Some(JsStore::new(&env, backend)?),
                None => None,
            };
            let store = open_store(&config, custom).map_err(|err| js_error(&env, err))?;
            let runtime = within_runtime_if_available(tokio::runtime::Handle::current);
            let core = AuthCore::new(config, store, runtime).map_err(|err| js_error(&env, err))?;
            Ok(AuthClient {
                core,
                pending_token: SharedPromise::default(),
                status_object: StatusSnapshot::default(),
            })
        })
    }

    /// Session login, then a JWT verified against the JWKS, then stored. With `remember` (the
    /// default) and no usable store, fails `E_STORAGE` before the password is sent (unless
    /// `storageFallback: "memory"`). A failed login keeps the session there was.
    #[napi(
        ts_args_type = "credentials: LoginCredentials",
        ts_return_type = "Promise<AuthStatus>"
    )]
    pub fn login<'env>(
        &self,
        env: &'env Env,
        credentials: Unknown<'env>,
    ) -> Result<PromiseRaw<'env, JsAuthStatus>> {
        guarded(env, || {
            self.pending_token.forget(env);
            let core = self.core.clone();
            let credentials: std::result::Result<LoginCredentials, AuthError> = args::take(
                &credentials,
                &CREDENTIALS_SHAPE,
                "credentials",
                ErrorCode::InvalidArgument,
            );
            // Called now, so a `logout()` after this call abandons it.
            let signing_in = credentials.map(|credentials| {
                let password = Secret::new(credentials.password);
                let remember = credentials.remember.unwrap_or(true);
                core.login(&credentials.email, password, remember)
            });
            settle(env, async move { signing_in?.await }, JsAuthStatus::from)
        })
    }

    /// Tells the server (best effort), then wipes memory and storage.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn logout<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let core = self.core.clone();
        guarded(env, || {
            self.pending_token.forget(env);
            settle(env, core.logout(), |()| ())
        })
    }

    /// Loads a stored session; no network while the stored JWT is valid.
    #[napi(ts_return_type = "Promise<AuthStatus>")]
    pub fn restore<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, JsAuthStatus>> {
        let core = self.core.clone();
        guarded(env, || {
            self.pending_token.forget(env);
            settle(env, core.restore(), JsAuthStatus::from)
        })
    }

    /// A verified, unexpired JWT; concurrent callers share one refresh, and one promise.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn get_jwt_token<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, String>> {
        guarded(env, || {
            if let Some(pending) = self.pending_token.pending(env) {
                return Ok(pending);
            }
            let core = self.core.clone();
            let shared = self.pending_token.clone();
            let call = shared.begin();
            let promise = settle_then(
                env,
                core.get_token(),
                |token| token.expose().to_string(),
                move |env| shared.settled(env, call),
            )?;
            self.pending_token.share(env, &promise)?;
            Ok(promise)
        })
    }

    /// A request to the API's origin with the session cookie (and CSRF token), answered
    /// with a WHATWG `Response` whose body is already read (at most 1 MiB); a 401 rejects
    /// with `E_LOGIN_REQUIRED` and ends the session.
    #[napi(
        ts_args_type = "input: string | URL, init?: ApiFetchInit",
        ts_return_type = "Promise<Response>"
    )]
    pub fn api_fetch<'env>(
        &self,
        env: &'env Env,
        input: Unknown<'env>,
        init: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, Unknown<'env>>> {
        guarded(env, || {
            let (request, signal) = match fetch::app_fetch(env, &input, init) {
                Ok((request, signal)) => (Ok(request), signal),
                Err(err) => (Err(err), None),
            };
            let core = self.core.clone();
            settle_with(
                env,
                async move { core.api_fetch(request?).await },
                |env, outcome| fetch::settled(env, outcome, signal),
            )
        })
    }

    /// Forces a new JWT (single flight).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn refresh_jwt_token<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, String>> {
        let core = self.core.clone();
        guarded(env, || {
            settle(env, core.force_refresh(), |token| {
                token.expose().to_string()
            })
        })
    }

    /// The current JWT without network or refresh.
    #[napi]
    pub fn get_stored_jwt_token(&self, env: Env) -> Result<Option<String>> {
        guarded(&env, || {
            Ok(self
                .core
                .stored_token()
                .map(|token| token.expose().to_string()))
        })
    }

    /// Signature (cached JWKS), algorithm, time and audience claims; default: the stored token.
    #[napi(ts_args_type = "token?: string | undefined | null")]
    pub fn is_jwt_token_valid(&self, env: Env, token: Option<Unknown<'_>>) -> Result<bool> {
        guarded(&env, || {
            let token = args::optional_string(token.as_ref(), "token")
                .map_err(|err| js_error(&env, err))?;
            Ok(self.core.is_token_valid(token.as_deref()))
        })
    }

    #[napi]
    pub fn is_authenticated(&self, env: Env) -> Result<bool> {
        guarded(&env, || Ok(self.core.is_authenticated()))
    }

    /// A frozen snapshot; the same object while the status is unchanged.
    #[napi(ts_return_type = "Readonly<AuthStatus>")]
    pub fn status<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        guarded(env, || self.status_object.object(env, self.core.status()))
    }

    /// Calls `callback` on every change of the status; returns the unsubscribe function.
    #[napi(
        ts_args_type = "callback: (status: AuthStatus) => void",
        ts_return_type = "() => void"
    )]
    pub fn on_status_change<'env>(
        &self,
        env: &'env Env,
        callback: Unknown<'env>,
    ) -> Result<Function<'env, (), ()>> {
        guarded(env, || {
            let callback: Function<'env, JsAuthStatus, ()> = callback_arg(env, &callback)?;
            let deliver = js_listener(env, callback)?;
            let id = self
                .core
                .on_status_change(Arc::new(move |status: &AuthStatus| {
                    deliver(JsAuthStatus::from(status.clone()))
                }));
            let core = self.core.clone();
            unsubscriber(env, move || core.remove_status_listener(id))
        })
    }

    /// Structured log records from the Rust side; never a token, cookie or password.
    #[napi(
        ts_args_type = "callback: (record: LogRecord) => void",
        ts_return_type = "() => void"
    )]
    pub fn on_log<'env>(
        &self,
        env: &'env Env,
        callback: Unknown<'env>,
    ) -> Result<Function<'env, (), ()>> {
        guarded(env, || {
            let callback: Function<'env, JsLogRecord, ()> = callback_arg(env, &callback)?;
            let deliver = js_listener(env, callback)?;
            let id =
                self.core
                    .logger()
                    .subscribe(Arc::new(move |record: &crate::log::LogRecord| {
                        deliver(JsLogRecord {
                            level: record.level.as_str().to_string(),
                            message: record.message.clone(),
                            fields: (!record.fields.is_empty())
                                .then(|| record.fields.iter().cloned().collect()),
                        })
                    }));
            let logger = self.core.logger().clone();
            unsubscriber(env, move || logger.unsubscribe(id))
        })
    }

    /// The app forwards Electron `powerMonitor` resume / unlock-screen: re-check expiry now.
    #[napi]
    pub fn notify_resume(&self, env: Env) -> Result<()> {
        guarded(&env, || {
            self.core.notify_resume();
            Ok(())
        })
    }

    /// Changes how the API is reached, from the next request on: `"system"`, `"none"` or a
    /// proxy URL (as the `proxy` option). Loopback is never proxied.
    #[napi(ts_args_type = "proxy: 'system' | 'none' | (string & {})")]
    pub fn set_proxy(&self, env: Env, proxy: Unknown<'_>) -> Result<()> {
        guarded(&env, || {
            args::take(&proxy, &Shape::String, "proxy", ErrorCode::Config)
                .and_then(|value: String| ProxySetting::parse(&value))
                .and_then(|setting| self.core.set_proxy(&setting))
                .map_err(|err| js_error(&env, err))
        })
    }

    /// Resolves when the configured session store can be used now; rejects with `E_STORAGE`
    /// saying what to install or unlock otherwise.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn check_storage<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let core = self.core.clone();
        guarded(env, || {
            settle(env, async move { core.check_storage().await }, |()| ())
        })
    }

    /// A provider for one MCP server; throws unless its origin is in `trustedOrigins`.
    #[napi(ts_args_type = "serverUrl: string")]
    pub fn mcp_provider(&self, env: Env, server_url: Unknown<'_>) -> Result<McpAuthProvider> {
        guarded(&env, || {
            let server_url = string_arg(&env, &server_url, "serverUrl")?;
            let access = McpAccess::new(self.core.clone(), &server_url)
                .map_err(|err| js_error(&env, err))?;
            Ok(McpAuthProvider::new(access))
        })
    }

    /// Whether `url` may receive the JWT (exact origin match against `trustedOrigins`).
    #[napi(ts_args_type = "url: string")]
    pub fn is_trusted_url(&self, env: Env, url: Unknown<'_>) -> Result<bool> {
        guarded(&env, || {
            let url = string_arg(&env, &url, "url")?;
            Ok(crate::mcp::trusted_origin_of(&self.core, &url).is_ok())
        })
    }

    /// Whether `url` may carry credentials at all: `https://`, or `http://` to loopback.
    #[napi(ts_args_type = "url: string")]
    pub fn is_secure_url(&self, env: Env, url: Unknown<'_>) -> Result<bool> {
        guarded(&env, || {
            let url = string_arg(&env, &url, "url")?;
            Ok(url::Url::parse(&url).is_ok_and(|url| check_transport(&url, "url").is_ok()))
        })
    }
}
