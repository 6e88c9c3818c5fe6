//! A session store written by the host app in JavaScript: `{ load, save, clear }`, each
//! returning a value or a promise (for example wrapping Electron `safeStorage`). Called
//! through threadsafe functions, so the core can await them from any thread.

use crate::errors::AuthError;
use crate::js_guard::promising;
use crate::secret::Secret;
use crate::storage::{SessionStore, StoreFuture};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use std::sync::Arc;

/// What the host passes as `storage`; its methods run with `this` = the backend object.
#[napi(object, object_to_js = false)]
pub struct StorageBackend<'env> {
    #[napi(ts_type = "() => string | null | undefined | Promise<string | null | undefined>")]
    pub load: Function<'env, (), Unknown<'env>>,
    #[napi(ts_type = "(data: string) => void | Promise<void>")]
    pub save: Function<'env, String, Unknown<'env>>,
    #[napi(ts_type = "() => void | Promise<void>")]
    pub clear: Function<'env, (), Unknown<'env>>,
}

/// Any JS value, when only completion matters (`save` and `clear` may resolve to anything).
pub struct Completed;

impl TypeName for Completed {
    fn type_name() -> &'static str {
        "unknown"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for Completed {}

impl FromNapiValue for Completed {
    unsafe fn from_napi_value(_env: sys::napi_env, _value: sys::napi_value) -> napi::Result<Self> {
        Ok(Completed)
    }
}

/// What `load()` resolved to, checked here: napi's own conversion error would quote the
/// value, which may be the session record.
pub struct LoadedRecord(Option<String>);

/// The reason of the error `LoadedRecord` fails with, told apart from a rejection.
const NOT_A_RECORD: &str = "load() resolved to something other than a string, null or undefined";

impl TypeName for LoadedRecord {
    fn type_name() -> &'static str {
        "string | null | undefined"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for LoadedRecord {}

impl FromNapiValue for LoadedRecord {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY: `value` is a live value of `env`, as napi hands it to us.
        let value = unsafe { Unknown::from_raw_unchecked(env, value) };
        match value.get_type()? {
            // SAFETY: checked to be a string.
            ValueType::String => Ok(LoadedRecord(Some(unsafe { value.cast::<String>() }?))),
            ValueType::Null | ValueType::Undefined => Ok(LoadedRecord(None)),
            _ => Err(Error::new(Status::InvalidArg, NOT_A_RECORD)),
        }
    }
}

/// Weak: the store never keeps the Node process alive.
type Callback<T, R> = ThreadsafeFunction<T, Promise<R>, T, Status, false, true>;

pub struct JsStore {
    load: Callback<(), LoadedRecord>,
    save: Callback<String, Completed>,
    clear: Callback<(), Completed>,
}

/// The backend is the host's code: what it threw is not copied into our error (it could
/// hold anything, the record included), only what went wrong.
fn backend_failed(operation: &str, err: Error) -> AuthError {
    if err.reason == NOT_A_RECORD {
        return AuthError::storage(format!("the storage backend's {NOT_A_RECORD}"));
    }
    AuthError::storage(format!(
        "the storage backend's {operation}() threw or rejected; check the backend (its error is not repeated here)"
    ))
}

impl JsStore {
    pub fn new(env: &Env, object: Object) -> napi::Result<Arc<JsStore>> {
        let backend = unsafe { StorageBackend::from_napi_value(env.raw(), object.raw()) }.map_err(|_| {
            Error::from_reason(
                "storage must be \"keyring\", \"memory\" or an object with load, save and clear functions",
            )
        })?;
        Ok(Arc::new(JsStore {
            load: promising(env, backend.load, object)?
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?,
            save: promising(env, backend.save, object)?
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?,
            clear: promising(env, backend.clear, object)?
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?,
        }))
    }
}

/// Calls one backend method and waits for its promise.
async fn settled<T: 'static + JsValuesTupleIntoVec, R: 'static + FromNapiValue + Send>(
    operation: &str,
    callback: &Callback<T, R>,
    value: T,
) -> crate::errors::Result<R> {
    let promise = callback
        .call_async(value)
        .await
        .map_err(|err| backend_failed(operation, err))?;
    promise.await.map_err(|err| backend_failed(operation, err))
}

impl SessionStore for JsStore {
    fn load(&self) -> StoreFuture<'_, Option<Secret>> {
        Box::pin(async move {
            let LoadedRecord(loaded) = settled("load", &self.load, ()).await?;
            Ok(loaded.filter(|data| !data.is_empty()).map(Secret::new))
        })
    }

    fn save(&self, record: Secret) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            settled("save", &self.save, record.expose().to_string())
                .await
                .map(|_| ())
        })
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move { settled("clear", &self.clear, ()).await.map(|_| ()) })
    }

    fn is_persistent(&self) -> bool {
        true
    }

    /// The host's backend has one slot, whatever `baseUrl` the client has.
    fn is_shared_by_origins(&self) -> bool {
        true
    }
}
