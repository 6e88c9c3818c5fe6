//! JS functions made with plain Node-API rather than `#[napi]`: a call costs what any
//! native call costs at the least (no receiver to unwrap, no class to check), which is what
//! the per-request generation probe and the bench floor need.

use napi::bindgen_prelude::*;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

pub type RawCallback =
    unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// A JS function named `name` that runs `callback`; `data`, if any, is what `data_of` gives
/// the callback, kept alive (one strong count) until the function is collected.
pub fn plain_function<'env, T: Send + Sync + 'static>(
    env: &'env Env,
    name: &str,
    callback: RawCallback,
    data: Option<Arc<T>>,
) -> Result<Unknown<'env>> {
    let raw_data = data.map_or(ptr::null_mut(), |data| Arc::into_raw(data) as *mut c_void);
    let release_data = || {
        if !raw_data.is_null() {
            // SAFETY: no finalizer owns `raw_data`, so this is its only release.
            drop(unsafe { Arc::from_raw(raw_data as *const T) });
        }
    };
    let mut function = ptr::null_mut();
    // SAFETY: `raw_data` stays valid until `release::<T>` runs; `function` is written on
    // success only.
    let created = unsafe {
        sys::napi_create_function(
            env.raw(),
            name.as_ptr().cast(),
            name.len() as isize,
            Some(callback),
            raw_data,
            &mut function,
        )
    };
    if created != sys::Status::napi_ok {
        release_data();
        return Err(Error::from_reason("could not create a native function"));
    }
    if !raw_data.is_null() {
        // SAFETY: `function` is live; the finalizer takes over the strong count in `raw_data`.
        let finalized = unsafe {
            sys::napi_add_finalizer(
                env.raw(),
                function,
                raw_data,
                Some(release::<T>),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if finalized != sys::Status::napi_ok {
            release_data();
            return Err(Error::from_reason("could not create a native function"));
        }
    }
    // SAFETY: `function` is a live value of this env's current scope.
    unsafe { Unknown::from_napi_value(env.raw(), function) }
}

/// The `data` a `plain_function` was made with, from inside its callback.
///
/// # Safety
/// `info` must be the callback info of a call to a function made by `plain_function::<T>`
/// with `Some(data)`.
pub unsafe fn data_of<'a, T>(env: sys::napi_env, info: sys::napi_callback_info) -> Option<&'a T> {
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
    // SAFETY: per the contract above, `data` is the `Arc<T>` the function keeps alive.
    (status == sys::Status::napi_ok && !data.is_null()).then(|| unsafe { &*(data as *const T) })
}

unsafe extern "C" fn release<T>(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: the strong count `plain_function` leaked into `data`, released once, here.
    drop(unsafe { Arc::from_raw(data as *const T) });
}
