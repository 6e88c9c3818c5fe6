//! Bench-only exports (`--features bench`, used by `npm run bench`): the floors the
//! per-request path is measured against. Never part of a shipped binary.

// Test builds do not register `#[napi]` exports, which leaves these functions unused there.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// An empty native call as this addon makes them (`#[napi] fn`): what any call into it costs
/// at the least. Floor (a) of row 1.
#[napi]
pub fn bench_noop() {}

/// A plain Node-API function that does nothing (returns `undefined` without even reading its
/// arguments): the floor under any native call, below what napi-rs generates. `McpAuthProvider
/// .generationProbe()` is made the same way.
#[napi(ts_return_type = "() => void")]
pub fn bench_raw_noop(env: &Env) -> Result<Unknown<'_>> {
    unsafe extern "C" fn call(
        _env: sys::napi_env,
        _info: sys::napi_callback_info,
    ) -> sys::napi_value {
        std::ptr::null_mut()
    }
    crate::binding::plain_function::<()>(env, "benchRawNoop", call, None)
}

/// An object with an empty method: the floor of a method call on a native object, which is
/// what `McpAuthProvider.tokens()` is when called directly.
#[napi]
pub struct BenchNoop {}

#[napi]
impl BenchNoop {
    #[napi(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        BenchNoop {}
    }

    #[napi]
    pub fn noop(&self) {}
}

/// An empty async native call, settled through the same machinery as every promise this
/// addon returns (a future on the addon's runtime, settled back on the JS thread): the floor
/// under an awaited `getJwtToken()`.
#[napi(ts_return_type = "Promise<void>")]
pub fn bench_async_noop(env: &Env) -> Result<PromiseRaw<'_, ()>> {
    crate::binding::settle(env, async { Ok(()) }, |()| ())
}
