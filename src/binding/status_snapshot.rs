//! The object `status()` returns: built and frozen once per status change, then handed out
//! again while the status is unchanged. A UI polling `status()` then costs a comparison of
//! two Rust values instead of ~20 Node-API writes and string creations, and gets the same
//! object (`===`) while nothing changed, which is what `useSyncExternalStore`-style stores
//! and change checks expect. Frozen (with its user, roles and error) because every caller
//! shares it. Only ever touched on the JS thread that owns the client.

use super::retry_after_ms;
use crate::session::AuthStatus;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::cell::RefCell;

#[derive(Default)]
pub struct StatusSnapshot {
    last: RefCell<Option<(AuthStatus, ObjectRef<false>)>>,
}

impl StatusSnapshot {
    /// The JS object for `status`: the last one if it shows the same status, else a new one.
    pub fn object<'env>(&self, env: &'env Env, status: AuthStatus) -> Result<Object<'env>> {
        if let Some((shown, object)) = &*self.last.borrow() {
            if *shown == status {
                return object.get_value(env);
            }
        }
        let object = frozen(env, status.clone())?;
        let held = object.create_ref::<false>()?;
        if let Some((_, previous)) = self.last.replace(Some((status, held))) {
            previous.unref(env)?;
        }
        Ok(object)
    }

    /// Lets the last object go (the client is being collected).
    pub fn release(&self, env: &Env) -> Result<()> {
        match self.last.take() {
            Some((_, object)) => object.unref(env),
            None => Ok(()),
        }
    }
}

fn frozen(env: &Env, status: AuthStatus) -> Result<Object<'_>> {
    let has_user = status.user.is_some();
    let has_error = status.last_error.is_some();
    // SAFETY: `env` is the live env of this call, and the value is the object just built.
    let object = unsafe {
        Object::from_raw(
            env.raw(),
            JsAuthStatus::to_napi_value(env.raw(), status.into())?,
        )
    };
    // `Object.freeze` itself: `napi_object_freeze` needs Node-API 8, whose class type tags
    // would add ~0.4 µs to every method call on a native object; this runs once per change.
    let object_class: Function<Unknown, Unknown> =
        env.get_global()?.get_named_property("Object")?;
    let freeze: Function<Object, Object> = object_class.get_named_property("freeze")?;
    if has_user {
        let user: Object = object.get_named_property("user")?;
        if let Some(roles) = user.get::<Object>("roles")? {
            freeze.call(roles)?;
        }
        freeze.call(user)?;
    }
    if has_error {
        freeze.call(object.get_named_property("lastError")?)?;
    }
    freeze.call(object)
}

// The status as JS sees it (`AuthStatus` in the .d.ts).

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
