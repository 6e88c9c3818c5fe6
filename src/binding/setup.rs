//! What the client makes of its setup, for `symbiote-auth doctor` and for a host that shows
//! it: the resolved configuration, a JWKS as the client reads it, and the CSRF token of an
//! answer as the client finds it. The CLI asks these instead of restating a rule.

use super::{guarded, js_error, string_arg, AuthClient};
use crate::api::Reply;
use crate::config::{Config, StorageKind};
use crate::errors::ErrorCode;
use crate::jwks;
use crate::jwt::Algorithm;
use napi::bindgen_prelude::*;
use napi_derive::napi;

#[napi(object, js_name = "ResolvedEndpoints")]
pub struct JsEndpoints {
    pub csrf: Option<String>,
    pub login: String,
    pub logout: String,
    pub status: String,
    pub token: String,
    pub refresh: Option<String>,
    pub jwks: String,
}

/// The options as the client applies them, defaults filled in. Nothing secret is in it.
#[napi(object, js_name = "ResolvedConfiguration")]
pub struct JsConfiguration {
    /// The API origin.
    pub base_url: String,
    /// Absolute URLs of the API's endpoints.
    pub endpoints: JsEndpoints,
    pub algorithms: Vec<String>,
    pub issuer: Option<String>,
    pub audience: Vec<String>,
    pub leeway_seconds: f64,
    pub request_timeout_ms: f64,
    pub trusted_origins: Vec<String>,
    #[napi(ts_type = "'keyring' | 'memory' | 'custom'")]
    pub storage: String,
    pub keyring_service: String,
    pub account: String,
}

fn names(algorithms: &[Algorithm]) -> Vec<String> {
    algorithms.iter().map(|alg| format!("{alg:?}")).collect()
}

impl From<&Config> for JsConfiguration {
    fn from(config: &Config) -> Self {
        let endpoints = &config.endpoints;
        JsConfiguration {
            base_url: config.base_url.origin().ascii_serialization(),
            endpoints: JsEndpoints {
                csrf: endpoints.csrf.as_ref().map(ToString::to_string),
                login: endpoints.login.to_string(),
                logout: endpoints.logout.to_string(),
                status: endpoints.status.to_string(),
                token: endpoints.token.to_string(),
                refresh: endpoints.refresh.as_ref().map(ToString::to_string),
                jwks: endpoints.jwks.to_string(),
            },
            algorithms: names(&config.algorithms),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway_seconds: config.leeway.as_secs_f64(),
            request_timeout_ms: config.request_timeout.as_millis() as f64,
            trusted_origins: config.trusted_origins.clone(),
            storage: match config.storage {
                StorageKind::Keyring => "keyring",
                StorageKind::Memory => "memory",
                StorageKind::Custom => "custom",
            }
            .to_string(),
            keyring_service: config.keyring_service.clone(),
            account: config.account.clone(),
        }
    }
}

#[napi(object, js_name = "JwksKey")]
pub struct JsJwksKey {
    pub kid: Option<String>,
    /// The algorithm the key is limited to (its `alg`), if any.
    pub alg: Option<String>,
    /// Which of the client's `algorithms` it can verify; empty: none.
    pub verifies: Vec<String>,
}

#[napi(object, js_name = "SkippedJwksKey")]
pub struct JsSkippedKey {
    pub kid: Option<String>,
    /// Stable: `private`, `symmetric`, `not-for-signatures`, `malformed`, `weak-rsa`,
    /// `unsupported-curve`, `alg-not-for-key`.
    pub code: String,
    /// Why the client does not use it.
    pub reason: String,
}

/// A JWKS as the client reads it.
#[napi(object, js_name = "JwksReport")]
pub struct JsJwksReport {
    pub keys: Vec<JsJwksKey>,
    pub skipped: Vec<JsSkippedKey>,
}

/// The CSRF side of one API answer.
#[napi(object, js_name = "CsrfAnswer")]
pub struct JsCsrfAnswer {
    /// The CSRF token the client would take from it (a 2xx JSON answer).
    pub token: Option<String>,
    /// Whether the client would read it as a refusal for want of a CSRF token.
    pub refused: bool,
}

#[napi]
impl AuthClient {
    /// The options as this client applies them, defaults filled in.
    #[napi(ts_return_type = "ResolvedConfiguration")]
    pub fn configuration(&self, env: Env) -> Result<JsConfiguration> {
        guarded(&env, || Ok(JsConfiguration::from(self.core.config())))
    }

    /// Reads a JWKS document (its JSON text) as this client would: each key usable, and
    /// which of `algorithms` it verifies, or skipped and why. `E_BAD_RESPONSE` when the text
    /// is not a JWKS at all.
    #[napi(ts_args_type = "jwks: string", ts_return_type = "JwksReport")]
    pub fn inspect_jwks(&self, env: Env, jwks: Unknown<'_>) -> Result<JsJwksReport> {
        guarded(&env, || {
            let document = string_arg(&env, &jwks, "jwks")?;
            let set = jwks::read_jwks(document.as_bytes()).map_err(|err| js_error(&env, err))?;
            let algorithms = &self.core.config().algorithms;
            Ok(JsJwksReport {
                keys: set
                    .usable(algorithms)
                    .into_iter()
                    .map(|key| JsJwksKey {
                        kid: key.kid.map(str::to_string),
                        alg: key.alg.map(|alg| format!("{alg:?}")),
                        verifies: names(&key.verifies),
                    })
                    .collect(),
                skipped: set
                    .skipped
                    .iter()
                    .map(|skipped| JsSkippedKey {
                        kid: skipped.kid.clone(),
                        code: skipped.why.code().to_string(),
                        reason: skipped.why.reason().to_string(),
                    })
                    .collect(),
            })
        })
    }

    /// What the client would make of an API answer with this status and body: the CSRF
    /// token it carries, and whether it refuses a request for want of one.
    #[napi(
        ts_args_type = "status: number, body: string",
        ts_return_type = "CsrfAnswer"
    )]
    pub fn inspect_csrf_answer(
        &self,
        env: Env,
        status: Unknown<'_>,
        body: Unknown<'_>,
    ) -> Result<JsCsrfAnswer> {
        guarded(&env, || {
            let status: f64 = super::args::take(
                &status,
                &super::args::Shape::Number,
                "status",
                ErrorCode::InvalidArgument,
            )
            .map_err(|err| js_error(&env, err))?;
            let body = string_arg(&env, &body, "body")?;
            let status = reqwest::StatusCode::from_u16(status as u16).map_err(|_| {
                js_error(
                    &env,
                    crate::errors::AuthError::new(
                        ErrorCode::InvalidArgument,
                        "status is not an HTTP status",
                    ),
                )
            })?;
            let reply = Reply::from_parts(status, Default::default(), body.into_bytes());
            Ok(JsCsrfAnswer {
                token: reply.csrf_token().map(|token| token.expose().to_string()),
                refused: reply.is_csrf_refusal(),
            })
        })
    }
}
