//! The JavaScript surface (docs/API.md): converts options, results, errors and callbacks
//! between JS and the core, and nothing else.

mod args;
mod fetch;
mod mcp;
mod options;
mod raw_function;
mod setup;
mod shared_promise;
mod status_snapshot;

pub use mcp::McpAuthProvider;
#[cfg(feature = "bench")]
pub(crate) use raw_function::plain_function;

use crate::config::{check_transport, Config, ProxySetting};
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
use options::{AuthClientOptions, LoginCredentials, CREDENTIALS_SHAPE, OPTIONS_SHAPE};
use shared_promise::SharedPromise;
use status_snapshot::{JsAuthStatus, StatusSnapshot};
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

/// `Retry-After` as JS has it: ms.
pub(crate) fn retry_after_ms(err: &AuthError) -> Option<f64> {
    err.retry_after.map(|wait| wait.as_millis() as f64)
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

    /// Whether a session is signed in now (its token may be refreshing); no I/O.
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
