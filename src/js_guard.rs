//! Wraps host callbacks so they can never throw into a threadsafe-function call: there, a
//! JS exception becomes a fatal `uncaughtException` that would take the app down.

use napi::bindgen_prelude::*;

/// `this` stays the backend object; a synchronous throw becomes a rejected promise, and
/// any return value becomes a promise, so the Rust side awaits one shape.
const PROMISING: &str = "(function (fn, self) { return function () { \
    try { return Promise.resolve(fn.apply(self, arguments)) } \
    catch (error) { return Promise.reject(error) } } })";

/// A listener that throws is reported as a process warning; the client carries on.
const QUIET: &str = "(function (fn) { return function () { \
    try { fn.apply(undefined, arguments) } \
    catch (error) { if (typeof process !== 'undefined' && process.emitWarning) \
      process.emitWarning('symbiote-auth: a listener threw: ' + (error && error.message || error)) } } })";

type PromisingFactory<'env, Args, Resolved> = Function<
    'env,
    FnArgs<(Function<'env, Args, Unknown<'env>>, Object<'env>)>,
    Function<'env, Args, Promise<Resolved>>,
>;

/// `method` bound to `this`, returning a promise whatever it does.
pub fn promising<'env, Args: JsValuesTupleIntoVec, Resolved: FromNapiValue>(
    env: &'env Env,
    method: Function<'env, Args, Unknown<'env>>,
    this: Object<'env>,
) -> Result<Function<'env, Args, Promise<Resolved>>> {
    let factory: PromisingFactory<Args, Resolved> = env.run_script(PROMISING)?;
    factory.call(FnArgs {
        data: (method, this),
    })
}

/// `listener`, made unable to throw.
pub fn quiet<'env, Args: JsValuesTupleIntoVec>(
    env: &'env Env,
    listener: Function<'env, Args, ()>,
) -> Result<Function<'env, Args, ()>> {
    let factory: Function<Function<Args, ()>, Function<Args, ()>> = env.run_script(QUIET)?;
    factory.call(listener)
}
