//! The JavaScript surface (CONTRACT.md): converts options, results, errors and callbacks
//! between JS and the core, and nothing else.

use crate::config::{check_transport, Config, ConfigInput, PathsInput, StorageKind};
use crate::errors::{catch_panic, catch_panic_async, AuthError};
use crate::js_guard::quiet;
use crate::js_storage::JsStore;
use crate::keyring_store::KeyringStore;
use crate::mcp::McpAccess;
use crate::secret::Secret;
use crate::session::{AuthCore, AuthStatus, FastToken};
use crate::storage::{MemoryStore, SessionStore};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use std::sync::Arc;

/// Turns a core error into a JS `Error` with the contract's stable `code`.
fn js_error(env: &Env, err: AuthError) -> Error {
    let build = || -> Result<Error> {
        let mut error = env.create_error(Error::from_reason(err.message.clone()))?;
        error.set_named_property("code", err.code.as_str())?;
        Ok(Error::from(error.to_unknown()))
    };
    build().unwrap_or_else(|failure| failure)
}

/// Runs a synchronous entry point; a panic in it becomes an `E_INTERNAL` error for JS
/// instead of unwinding into Node, which would abort the app.
fn guarded<T>(env: &Env, entry: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_panic(entry).unwrap_or_else(|err| Err(js_error(env, err)))
}

/// Runs a core future on the addon's runtime and settles a promise with its outcome; a
/// panic in the future or in `convert` rejects it with `E_INTERNAL`.
fn settle<'env, T, V, F>(
    env: &'env Env,
    work: F,
    convert: impl 'static + FnOnce(T) -> V,
) -> Result<PromiseRaw<'env, V>>
where
    T: 'static + Send,
    V: ToNapiValue,
    F: 'static + Send + std::future::Future<Output = crate::errors::Result<T>>,
{
    env.spawn_future_with_callback(
        async move { Ok(catch_panic_async(work).await) },
        move |env, outcome| {
            guarded(env, || {
                outcome.map(convert).map_err(|err| js_error(env, err))
            })
        },
    )
}

#[napi(object)]
#[derive(Default)]
pub struct PathOptions {
    #[napi(ts_type = "string | null")]
    pub csrf: Option<Either<String, Null>>,
    pub login: Option<String>,
    pub logout: Option<String>,
    pub status: Option<String>,
    pub token: Option<String>,
    #[napi(ts_type = "string | null")]
    pub refresh: Option<Either<String, Null>>,
    pub jwks: Option<String>,
}

#[napi(object, object_to_js = false)]
pub struct AuthClientOptions<'env> {
    /// Flask API origin: `https://`, or `http://` to loopback only.
    pub base_url: String,
    pub paths: Option<PathOptions>,
    pub issuer: Option<String>,
    pub audience: Option<Either<String, Vec<String>>>,
    pub algorithms: Option<Vec<String>>,
    pub leeway_seconds: Option<f64>,
    pub refresh_before_expiry_seconds: Option<f64>,
    pub request_timeout_ms: Option<f64>,
    /// First pause after a failed refresh (default 1000); doubles per failure, with jitter.
    pub refresh_retry_min_ms: Option<f64>,
    /// Largest pause between refresh attempts (default 60000).
    pub refresh_retry_max_ms: Option<f64>,
    #[napi(ts_type = "'keyring' | 'memory' | StorageBackend")]
    pub storage: Option<Either<String, Object<'env>>>,
    /// Folder of the keyring store's encrypted record file (default: the OS data directory).
    pub storage_dir: Option<String>,
    pub keyring_service: Option<String>,
    pub account: Option<String>,
    pub trusted_origins: Option<Vec<String>>,
    #[napi(ts_type = "'none' | 'memory'")]
    pub storage_fallback: Option<String>,
    #[napi(ts_type = "'error' | 'warn' | 'info' | 'debug' | 'trace'")]
    pub log_level: Option<String>,
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

#[napi(object, js_name = "AuthErrorInfo")]
pub struct JsErrorInfo {
    pub code: String,
    pub message: String,
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
                message: err.message,
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

#[napi(object, js_name = "LogRecord")]
pub struct JsLogRecord {
    #[napi(ts_type = "'error' | 'warn' | 'info' | 'debug' | 'trace'")]
    pub level: String,
    pub message: String,
    pub fields: Option<std::collections::HashMap<String, String>>,
}

#[napi(object, js_name = "OAuthTokens")]
pub struct JsOAuthTokens {
    #[napi(js_name = "access_token")]
    pub access_token: String,
    #[napi(js_name = "token_type", ts_type = "'Bearer'")]
    pub token_type: String,
    #[napi(js_name = "expires_in")]
    pub expires_in: Option<f64>,
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

#[napi]
pub struct AuthClient {
    core: Arc<AuthCore>,
}

fn build_store(
    env: &Env,
    config: &Config,
    backend: Option<Object>,
) -> Result<Arc<dyn SessionStore>> {
    Ok(match (config.storage, backend) {
        (StorageKind::Custom, Some(backend)) => JsStore::new(env, backend)?,
        (StorageKind::Memory, _) => MemoryStore::new(&config.keyring_service, &config.account),
        _ => KeyringStore::new(
            &config.keyring_service,
            &config.account,
            config.storage_dir.clone(),
        )
        .map_err(|err| js_error(env, err))?,
    })
}

#[napi]
impl AuthClient {
    /// Validates the options; never does I/O.
    #[napi(constructor)]
    pub fn new(env: Env, options: AuthClientOptions) -> Result<Self> {
        guarded(&env, || {
            let backend = match &options.storage {
                Some(Either::B(object)) => Some(*object),
                _ => None,
            };
            let config = Config::from_input(options.into()).map_err(|err| js_error(&env, err))?;
            let store = build_store(&env, &config, backend)?;
            let core = AuthCore::new(config, store).map_err(|err| js_error(&env, err))?;
            Ok(AuthClient { core })
        })
    }

    /// Session login, then a JWT verified against the JWKS, then stored.
    #[napi(ts_return_type = "Promise<AuthStatus>")]
    pub fn login<'env>(
        &self,
        env: &'env Env,
        credentials: LoginCredentials,
    ) -> Result<PromiseRaw<'env, JsAuthStatus>> {
        guarded(env, || {
            let core = self.core.clone();
            let password = Secret::new(credentials.password);
            let remember = credentials.remember.unwrap_or(true);
            settle(
                env,
                async move { core.login(&credentials.email, password, remember).await },
                JsAuthStatus::from,
            )
        })
    }

    /// Tells the server (best effort), then wipes memory and storage.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn logout<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, ()>> {
        let core = self.core.clone();
        guarded(env, || {
            settle(env, async move { core.logout().await }, |()| ())
        })
    }

    /// Loads a stored session; no network while the stored JWT is valid.
    #[napi(ts_return_type = "Promise<AuthStatus>")]
    pub fn restore<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, JsAuthStatus>> {
        let core = self.core.clone();
        guarded(env, || {
            settle(env, async move { core.restore().await }, JsAuthStatus::from)
        })
    }

    /// A verified, unexpired JWT; concurrent callers share one refresh.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn get_jwt_token<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, String>> {
        let core = self.core.clone();
        guarded(env, || {
            settle(env, async move { core.get_token().await }, |token| {
                token.expose().to_string()
            })
        })
    }

    /// Forces a new JWT (single flight).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn refresh_jwt_token<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, String>> {
        let core = self.core.clone();
        guarded(env, || {
            settle(env, async move { core.refresh_token().await }, |token| {
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
    #[napi]
    pub fn is_jwt_token_valid(&self, env: Env, token: Option<String>) -> Result<bool> {
        guarded(&env, || Ok(self.core.is_token_valid(token.as_deref())))
    }

    #[napi]
    pub fn is_authenticated(&self, env: Env) -> Result<bool> {
        guarded(&env, || Ok(self.core.is_authenticated()))
    }

    #[napi]
    pub fn status(&self, env: Env) -> Result<JsAuthStatus> {
        guarded(&env, || Ok(self.core.status().into()))
    }

    /// Calls `callback` on every change of the status; returns the unsubscribe function.
    #[napi(
        ts_args_type = "callback: (status: AuthStatus) => void",
        ts_return_type = "() => void"
    )]
    pub fn on_status_change<'env>(
        &self,
        env: &'env Env,
        callback: Function<'env, JsAuthStatus, ()>,
    ) -> Result<Function<'env, (), ()>> {
        guarded(env, || {
            let deliver = js_listener(env, callback)?;
            let id = self
                .core
                .on_status_change(Arc::new(move |status: &AuthStatus| {
                    deliver(JsAuthStatus::from(status.clone()))
                }));
            let core = self.core.clone();
            unsubscriber(env, move || core.remove_status_watcher(id))
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
        callback: Function<'env, JsLogRecord, ()>,
    ) -> Result<Function<'env, (), ()>> {
        guarded(env, || {
            let deliver = js_listener(env, callback)?;
            let id = self
                .core
                .logger
                .subscribe(Arc::new(move |record: &crate::log::LogRecord| {
                    deliver(JsLogRecord {
                        level: record.level.as_str().to_string(),
                        message: record.message.clone(),
                        fields: (!record.fields.is_empty())
                            .then(|| record.fields.iter().cloned().collect()),
                    })
                }));
            let logger = self.core.logger.clone();
            unsubscriber(env, move || logger.unsubscribe(id))
        })
    }

    /// The app forwards Electron `powerMonitor` resume / unlock-screen: re-check expiry now.
    #[napi]
    pub fn notify_resume(&self, env: Env) -> Result<()> {
        let core = self.core.clone();
        guarded(&env, || {
            napi::bindgen_prelude::within_runtime_if_available(move || core.notify_resume());
            Ok(())
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
    #[napi]
    pub fn mcp_provider(&self, env: Env, server_url: String) -> Result<McpAuthProvider> {
        guarded(&env, || {
            let access = McpAccess::new(self.core.clone(), &server_url)
                .map_err(|err| js_error(&env, err))?;
            Ok(McpAuthProvider {
                access: Arc::new(access),
            })
        })
    }

    /// Whether `url` may receive the JWT (exact origin match against `trustedOrigins`).
    #[napi]
    pub fn is_trusted_url(&self, env: Env, url: String) -> Result<bool> {
        guarded(&env, || {
            Ok(crate::mcp::trusted_origin_of(&self.core, &url).is_ok())
        })
    }

    /// Whether `url` may carry credentials at all: `https://`, or `http://` to loopback.
    #[napi]
    pub fn is_secure_url(&self, env: Env, url: String) -> Result<bool> {
        guarded(&env, || {
            Ok(url::Url::parse(&url).is_ok_and(|url| check_transport(&url, "url").is_ok()))
        })
    }
}

/// The MCP SDKs' contract says `undefined` where napi would give `null` for `None`.
fn or_undefined<T>(value: Option<T>) -> Either<T, Undefined> {
    match value {
        Some(value) => Either::A(value),
        None => Either::B(()),
    }
}

/// What `McpAuthProvider.tokenSnapshot()` returns: the token of one generation.
#[napi(object, js_name = "TokenSnapshot")]
pub struct JsTokenSnapshot {
    /// What `generationProbe()` answers while this token is current.
    pub generation: f64,
    pub access_token: String,
    /// ms since the epoch on this machine's clock (as `AuthStatus.expiresAt`).
    pub expires_at: f64,
}

#[napi]
pub struct McpAuthProvider {
    access: Arc<McpAccess>,
}

#[napi]
impl McpAuthProvider {
    /// The origin this provider hands tokens to.
    #[napi(getter)]
    pub fn origin(&self) -> String {
        self.access.origin().to_string()
    }

    /// A plain function answering, at the cost of one plain native call, the generation of
    /// the token `tokens()` / `token()` would hand out right now without waiting (a
    /// positive integer, new for every token), or `0` when they would have to refresh first
    /// or there is no session. Lock-free; inside the refresh window it starts the one
    /// background refresh, as `tokens()` does. `symbiote-auth/mcp` calls it before every
    /// request and keeps one resolved promise per generation. (A function rather than a
    /// method because a method call on a native object costs several times more: the
    /// receiver is unwrapped and its class checked on every call.)
    #[napi(ts_return_type = "() => number")]
    pub fn generation_probe<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        generation_probe::create(env, self.access.clone())
    }

    /// The token of the current generation, for caching per generation; `undefined` when
    /// `tokens()` would have to wait (refresh first) or there is no session. No network.
    #[napi(ts_return_type = "TokenSnapshot | undefined")]
    pub fn token_snapshot(&self) -> Either<JsTokenSnapshot, Undefined> {
        or_undefined(self.access.snapshot().map(|snapshot| JsTokenSnapshot {
            generation: snapshot.id as f64,
            access_token: snapshot.raw.expose().to_string(),
            expires_at: snapshot.expires_at_local_ms as f64,
        }))
    }

    /// The token that can be handed out at once, with its expiry, if any.
    fn ready_snapshot(&self) -> Option<crate::session::TokenSnapshot> {
        ready_generation(&self.access)?;
        self.access.snapshot()
    }

    /// `OAuthClientProvider.tokens()` of the MCP SDK; `undefined` only when signed out.
    /// With a usable token the promise is resolved at once, without a trip through the
    /// runtime; otherwise it settles after the (shared) refresh.
    #[napi(ts_return_type = "Promise<OAuthTokens | undefined>")]
    pub fn tokens<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Either<JsOAuthTokens, Undefined>>> {
        if let Some(snapshot) = self.ready_snapshot() {
            return PromiseRaw::resolve(
                env,
                Either::A(JsOAuthTokens {
                    access_token: snapshot.raw.expose().to_string(),
                    token_type: "Bearer".to_string(),
                    expires_in: Some(crate::mcp::seconds_until(snapshot.expires_at_local_ms) as f64),
                }),
            );
        }
        let access = self.access.clone();
        settle(env, async move { access.tokens().await }, |tokens| {
            or_undefined(tokens.map(|t| JsOAuthTokens {
                access_token: t.access_token.expose().to_string(),
                token_type: "Bearer".to_string(),
                expires_in: t.expires_in.map(|s| s as f64),
            }))
        })
    }

    /// `AuthProvider.token()` of `@modelcontextprotocol/client` 2.x.
    #[napi(ts_return_type = "Promise<string | undefined>")]
    pub fn token<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Either<String, Undefined>>> {
        if let Some(snapshot) = self.ready_snapshot() {
            return PromiseRaw::resolve(env, Either::A(snapshot.raw.expose().to_string()));
        }
        let access = self.access.clone();
        settle(env, async move { access.token().await }, |token| {
            or_undefined(token.map(|t| t.expose().to_string()))
        })
    }

    /// The server said 401: drop this JWT and refresh once (shared); never an OAuth flow.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn on_unauthorized<'env>(
        &self,
        env: &'env Env,
        rejected_token: Option<String>,
    ) -> Result<PromiseRaw<'env, ()>> {
        settle(env, self.access.on_unauthorized(rejected_token), |()| ())
    }

    /// `"tokens"` / `"all"`: as `onUnauthorized`; other scopes hold nothing to invalidate.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn invalidate_credentials<'env>(
        &self,
        env: &'env Env,
        scope: Option<String>,
    ) -> Result<PromiseRaw<'env, ()>> {
        let replacement = matches!(scope.as_deref(), None | Some("tokens") | Some("all"))
            .then(|| self.access.on_unauthorized(None));
        settle(
            env,
            async move {
                match replacement {
                    Some(replacement) => replacement.await,
                    None => Ok(()),
                }
            },
            |()| (),
        )
    }
}

/// Generation of the token that can be handed out at once, if any; inside the refresh window
/// this starts the background refresh (entering the runtime only then). `None` sends the
/// caller down the async path.
fn ready_generation(access: &McpAccess) -> Option<u64> {
    match access.fast_token() {
        FastToken::Fresh(id) => Some(id),
        FastToken::Stale(_) => {
            napi::bindgen_prelude::within_runtime_if_available(|| access.ready_generation())
        }
        FastToken::Unavailable => None,
    }
}

/// `McpAuthProvider.generationProbe()`: a JS function made with plain Node-API, whose data is
/// the provider's `McpAccess` (one strong reference, released when the function is
/// collected). Calling it costs what any plain native call costs plus the lock-free check.
mod generation_probe {
    use super::{ready_generation, McpAccess};
    use napi::bindgen_prelude::*;
    use std::ffi::c_void;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::ptr;
    use std::sync::Arc;

    pub fn create<'env>(env: &'env Env, access: Arc<McpAccess>) -> Result<Unknown<'env>> {
        let data = Arc::into_raw(access) as *mut c_void;
        let name = "generationProbe";
        let mut function = ptr::null_mut();
        // SAFETY: `data` stays valid until `release` runs: it owns one strong count.
        let created = unsafe {
            sys::napi_create_function(
                env.raw(),
                name.as_ptr().cast(),
                name.len() as isize,
                Some(call),
                data,
                &mut function,
            )
        };
        let finalized = created == sys::Status::napi_ok
            && unsafe {
                sys::napi_add_finalizer(
                    env.raw(),
                    function,
                    data,
                    Some(release),
                    ptr::null_mut(),
                    ptr::null_mut(),
                )
            } == sys::Status::napi_ok;
        if !finalized {
            // SAFETY: no finalizer owns `data`, so this is its only release.
            drop(unsafe { Arc::from_raw(data as *const McpAccess) });
            return Err(Error::from_reason("could not create the generation probe"));
        }
        // SAFETY: `function` is a live value of this env's current scope.
        unsafe { Unknown::from_napi_value(env.raw(), function) }
    }

    unsafe extern "C" fn call(
        env: sys::napi_env,
        info: sys::napi_callback_info,
    ) -> sys::napi_value {
        let mut data = ptr::null_mut();
        let mut argc = 0;
        // SAFETY: asks for no arguments, only the data pointer given at creation.
        let status = unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                ptr::null_mut(),
                ptr::null_mut(),
                &mut data,
            )
        };
        let generation = if status == sys::Status::napi_ok && !data.is_null() {
            // SAFETY: `data` is the `Arc<McpAccess>` of `create`, alive while the function is.
            let access = unsafe { &*(data as *const McpAccess) };
            catch_unwind(AssertUnwindSafe(|| ready_generation(access)))
                .ok()
                .flatten()
                .map_or(0.0, |id| id as f64)
        } else {
            0.0
        };
        let mut result = ptr::null_mut();
        // SAFETY: a number in the current scope; on failure `result` stays null (undefined).
        unsafe { sys::napi_create_double(env, generation, &mut result) };
        result
    }

    unsafe extern "C" fn release(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
        // SAFETY: the strong count `create` leaked into `data`, released once, here.
        drop(unsafe { Arc::from_raw(data as *const McpAccess) });
    }
}
