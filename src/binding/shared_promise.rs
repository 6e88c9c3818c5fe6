//! One pending promise that callers share while it runs: `getJwtToken()` hands the promise
//! of the call in progress to whoever calls meanwhile, so a storm of callers costs one native
//! async call (each costs microseconds of promise machinery on the JS thread) instead of one
//! per caller. The refresh itself is single-flight in the core either way.
//!
//! Held through a plain `napi_ref`: napi's `Ref` ties the value to one call's lifetime, and
//! this must outlive the call that made it. Only ever touched on the JS thread that owns the
//! client (`Rc`, not `Send`).

use napi::bindgen_prelude::*;
use std::cell::Cell;
use std::ptr;
use std::rc::Rc;

#[derive(Clone, Default)]
pub struct SharedPromise(Rc<Slot>);

#[derive(Default)]
struct Slot {
    reference: Cell<Option<sys::napi_ref>>,
    /// Which call the reference belongs to, so a late settle never drops a newer one.
    call: Cell<u64>,
}

/// One call whose promise is shared; `SharedPromise::settled` ends the sharing.
#[derive(Clone, Copy)]
pub struct CallId(u64);

impl SharedPromise {
    /// The promise of the call in progress, if any.
    pub fn pending<'env, T>(&self, env: &'env Env) -> Option<PromiseRaw<'env, T>> {
        let reference = self.0.reference.get()?;
        let mut value = ptr::null_mut();
        // SAFETY: `reference` is live (deleted only by `forget`, which also takes it out).
        let status = unsafe { sys::napi_get_reference_value(env.raw(), reference, &mut value) };
        (status == sys::Status::napi_ok && !value.is_null())
            .then(|| PromiseRaw::new(env.raw(), value))
    }

    /// A new call begins; its promise is to be shared with `share`.
    pub fn begin(&self) -> CallId {
        let call = self.0.call.get().wrapping_add(1);
        self.0.call.set(call);
        CallId(call)
    }

    /// Shares `promise`, of the call begun last, with later callers until that call has
    /// `settled` or the promise is forgotten.
    pub fn share<T>(&self, env: &Env, promise: &PromiseRaw<'_, T>) -> Result<()> {
        self.forget(env);
        let mut reference = ptr::null_mut();
        // SAFETY: `promise` is a live value of this env; one strong count keeps it alive.
        let status =
            unsafe { sys::napi_create_reference(env.raw(), promise.raw(), 1, &mut reference) };
        if status != sys::Status::napi_ok {
            return Err(Error::from_reason("could not keep the pending promise"));
        }
        self.0.reference.set(Some(reference));
        Ok(())
    }

    /// The call `call` has settled: later callers start a new one.
    pub fn settled(&self, env: &Env, call: CallId) {
        if self.0.call.get() == call.0 {
            self.forget(env);
        }
    }

    /// No caller from now on gets the promise of a call made before (a session change).
    pub fn forget(&self, env: &Env) {
        if let Some(reference) = self.0.reference.take() {
            // SAFETY: taken out above, so it is deleted exactly once.
            unsafe { sys::napi_delete_reference(env.raw(), reference) };
        }
    }
}
