//! `McpAuthProvider`: converts what `crate::mcp::McpAccess` answers for one MCP server.

use super::args;
use super::raw_function::{data_of, plain_function};
use super::{guarded, settle};
use crate::errors::catch_panic;
use crate::mcp::{BearerTokens, McpAccess};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

/// The MCP SDKs' contract says `undefined` where napi would give `null` for `None`.
fn or_undefined<T>(value: Option<T>) -> Either<T, Undefined> {
    match value {
        Some(value) => Either::A(value),
        None => Either::B(()),
    }
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

impl From<BearerTokens> for JsOAuthTokens {
    fn from(tokens: BearerTokens) -> Self {
        JsOAuthTokens {
            access_token: tokens.access_token.expose().to_string(),
            token_type: "Bearer".to_string(),
            expires_in: tokens.expires_in.map(|s| s as f64),
        }
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

impl McpAuthProvider {
    pub fn new(access: McpAccess) -> Self {
        McpAuthProvider {
            access: Arc::new(access),
        }
    }
}

#[napi]
impl McpAuthProvider {
    /// The origin this provider hands tokens to.
    #[napi(getter)]
    pub fn origin(&self, env: Env) -> Result<String> {
        guarded(&env, || Ok(self.access.origin().to_string()))
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
        guarded(env, || {
            plain_function(
                env,
                "generationProbe",
                probe_generation,
                Some(self.access.clone()),
            )
        })
    }

    /// The token of the current generation, for caching per generation; `undefined` when
    /// `tokens()` would have to wait (refresh first) or there is no session. No network.
    #[napi(ts_return_type = "TokenSnapshot | undefined")]
    pub fn token_snapshot(&self, env: Env) -> Result<Either<JsTokenSnapshot, Undefined>> {
        guarded(&env, || {
            Ok(or_undefined(self.access.snapshot().map(|snapshot| {
                JsTokenSnapshot {
                    generation: snapshot.id as f64,
                    access_token: snapshot.raw.expose().to_string(),
                    expires_at: snapshot.expires_at_local_ms as f64,
                }
            })))
        })
    }

    /// `OAuthClientProvider.tokens()` of the MCP SDK; `undefined` only when signed out.
    /// With a usable token the promise is resolved at once, without a trip through the
    /// runtime; otherwise it settles after the (shared) refresh.
    #[napi(ts_return_type = "Promise<OAuthTokens | undefined>")]
    pub fn tokens<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Either<JsOAuthTokens, Undefined>>> {
        guarded(env, || {
            if let Some(tokens) = self.access.ready_tokens() {
                return PromiseRaw::resolve(env, Either::A(JsOAuthTokens::from(tokens)));
            }
            let access = self.access.clone();
            settle(env, async move { access.tokens().await }, |tokens| {
                or_undefined(tokens.map(JsOAuthTokens::from))
            })
        })
    }

    /// `AuthProvider.token()` of `@modelcontextprotocol/client` 2.x.
    #[napi(ts_return_type = "Promise<string | undefined>")]
    pub fn token<'env>(
        &self,
        env: &'env Env,
    ) -> Result<PromiseRaw<'env, Either<String, Undefined>>> {
        guarded(env, || {
            if let Some(tokens) = self.access.ready_tokens() {
                return PromiseRaw::resolve(
                    env,
                    Either::A(tokens.access_token.expose().to_string()),
                );
            }
            let access = self.access.clone();
            settle(env, async move { access.token().await }, |token| {
                or_undefined(token.map(|t| t.expose().to_string()))
            })
        })
    }

    /// The server said 401: drop this JWT and refresh once (shared); never an OAuth flow.
    #[napi(
        ts_args_type = "rejectedToken?: string | undefined | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn on_unauthorized<'env>(
        &self,
        env: &'env Env,
        rejected_token: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, ()>> {
        guarded(env, || {
            let work = args::optional_string(rejected_token.as_ref(), "rejectedToken")
                .map(|token| self.access.on_unauthorized(token.as_deref()));
            settle(env, async move { work?.await }, |()| ())
        })
    }

    /// `"tokens"` / `"all"`: as `onUnauthorized`; other scopes hold nothing to invalidate.
    #[napi(
        ts_args_type = "scope?: string | undefined | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn invalidate_credentials<'env>(
        &self,
        env: &'env Env,
        scope: Option<Unknown<'env>>,
    ) -> Result<PromiseRaw<'env, ()>> {
        guarded(env, || {
            let work = args::optional_string(scope.as_ref(), "scope")
                .map(|scope| self.access.invalidate(scope.as_deref()));
            settle(env, async move { work?.await }, |()| ())
        })
    }
}

/// `generationProbe()`: the generation of the token that can be handed out at once, or 0.
unsafe extern "C" fn probe_generation(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: this callback belongs to functions made with an `Arc<McpAccess>` as data.
    let access = unsafe { data_of::<McpAccess>(env, info) };
    let generation = access
        .and_then(|access| catch_panic(|| access.ready_generation()).ok().flatten())
        .map_or(0.0, |id| id as f64);
    let mut result = std::ptr::null_mut();
    // SAFETY: a number in the current scope; on failure `result` stays null (undefined).
    unsafe { sys::napi_create_double(env, generation, &mut result) };
    result
}
