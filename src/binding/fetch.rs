//! `apiFetch()` in JS terms: its `(input, init)` read into the core's `AppFetch` (a subset
//! of fetch's: `method`, `headers`, `body`, `signal`), and the answer made a WHATWG
//! `Response`.

use super::{args, coded_error, js_error};
use crate::api::AppResponse;
use crate::errors::{AuthError, ErrorCode};
use crate::session::{AbortHandle, AppFetch};
use napi::bindgen_prelude::*;

type Checked<T> = std::result::Result<T, AuthError>;

fn invalid(message: &str) -> AuthError {
    AuthError::new(ErrorCode::InvalidArgument, message)
}

fn kind(value: &Unknown) -> ValueType {
    value.get_type().unwrap_or(ValueType::Unknown)
}

fn present<'env>(value: Option<Unknown<'env>>) -> Option<Unknown<'env>> {
    value.filter(|value| !matches!(kind(value), ValueType::Undefined | ValueType::Null))
}

/// `input`: a string, or a `URL` (its `href`).
fn target(input: &Unknown) -> Checked<String> {
    const WHAT: &str =
        "apiFetch() takes a path, or a URL on the API's origin, as a string or a URL";
    match kind(input) {
        ValueType::String => args::convert(
            input,
            &args::Shape::String,
            "input",
            ErrorCode::InvalidArgument,
        ),
        ValueType::Object => {
            // SAFETY: checked to be an object just above.
            let object = unsafe { input.cast::<Object>() }.map_err(|_| invalid(WHAT))?;
            object
                .get::<String>("href")
                .ok()
                .flatten()
                .ok_or_else(|| invalid(WHAT))
        }
        _ => Err(invalid(WHAT)),
    }
}

fn string_pair(value: Unknown) -> Option<(String, String)> {
    let pair: Vec<String> = args::take(
        &value,
        &args::Shape::StringList,
        "init.headers",
        ErrorCode::InvalidArgument,
    )
    .ok()?;
    match <[String; 2]>::try_from(pair) {
        Ok([name, value]) => Some((name, value)),
        Err(_) => None,
    }
}

/// `init.headers` as fetch takes it: a `Headers`, `[name, value]` pairs, or a record.
fn headers(env: &Env, value: Unknown) -> Checked<Vec<(String, String)>> {
    const WHAT: &str =
        "apiFetch() init.headers must be a Headers, an array of [name, value] string pairs or an object of strings";
    if kind(&value) != ValueType::Object {
        return Err(invalid(WHAT));
    }
    // SAFETY: checked to be an object just above.
    let object = unsafe { value.cast::<Object>() }.map_err(|_| invalid(WHAT))?;
    let pairs = || -> Result<Option<Vec<(String, String)>>> {
        let global = env.get_global()?;
        let headers_class: Function<Unknown, Unknown> = global.get_named_property("Headers")?;
        let entries: Unknown = if value.instanceof(headers_class)? {
            // A Headers iterates as its [name, value] pairs; Array.from cannot throw on it.
            let array_class: Function<Unknown, Unknown> = global.get_named_property("Array")?;
            let from: Function<Unknown, Unknown> = array_class.get_named_property("from")?;
            from.call(value)?
        } else {
            value
        };
        // SAFETY: `entries` is a live value of this env.
        if unsafe { Array::validate(env.raw(), entries.raw()) }.is_ok() {
            // SAFETY: validated to be an array just above.
            let array = unsafe { Array::from_napi_value(env.raw(), entries.raw()) }?;
            return Ok((0..array.len())
                .map(|index| {
                    array
                        .get::<Unknown>(index)
                        .ok()
                        .flatten()
                        .and_then(string_pair)
                })
                .collect());
        }
        let names = object.get_property_names()?;
        // SAFETY: `names` is the array of strings napi just made.
        let names = unsafe { Vec::<String>::from_napi_value(env.raw(), names.raw()) }?;
        Ok(names
            .into_iter()
            .map(|name| Some((name.clone(), object.get::<String>(&name).ok().flatten()?)))
            .collect())
    };
    pairs().ok().flatten().ok_or_else(|| invalid(WHAT))
}

/// `init.body`: a string (sent as UTF-8), an `ArrayBuffer` or a `Uint8Array` (a `Buffer`).
fn body(value: Unknown) -> Checked<Vec<u8>> {
    const WHAT: &str = "apiFetch() init.body must be a string, an ArrayBuffer or a Uint8Array";
    if kind(&value) == ValueType::String {
        return args::convert::<String>(
            &value,
            &args::Shape::String,
            "init.body",
            ErrorCode::InvalidArgument,
        )
        .map(String::into_bytes);
    }
    let env = value.value().env;
    // SAFETY: `value` is a live value of its env; each conversion validates its type first.
    unsafe {
        if let Ok(bytes) = Uint8ArraySlice::from_napi_value(env, value.raw()) {
            return Ok(bytes.to_vec());
        }
        if let Ok(buffer) = ArrayBuffer::from_napi_value(env, value.raw()) {
            return Ok(buffer.to_vec());
        }
    }
    Err(invalid(WHAT))
}

/// `addEventListener` / `removeEventListener` of an `EventTarget`, called with a listener.
type EventListenerMethod<'env> =
    Function<'env, FnArgs<(&'static str, Function<'env, (), ()>)>, Unknown<'env>>;

/// `init.signal`, listened to for the call: its `abort` event aborts the core's request.
/// The listener is removed when the call settles, so a long-lived signal (one controller for
/// many requests) does not collect them.
pub struct SignalWatch {
    signal: ObjectRef<false>,
    listener: FunctionRef<(), ()>,
}

impl SignalWatch {
    fn start(env: &Env, signal: Object, abort: AbortHandle) -> Result<SignalWatch> {
        // A signal aborted already sends no more `abort` events.
        if signal.get::<bool>("aborted")? == Some(true) {
            abort.abort();
        }
        let listener: Function<(), ()> = env.create_function_from_closure("abort", move |_| {
            abort.abort();
            Ok(())
        })?;
        let add: EventListenerMethod = signal.get_named_property("addEventListener")?;
        add.apply(signal, FnArgs::from(("abort", listener)))?;
        Ok(SignalWatch {
            signal: signal.create_ref()?,
            listener: listener.create_ref()?,
        })
    }

    /// Stops listening; the signal's `reason` when it was aborted.
    fn finish<'env>(self, env: &'env Env) -> Result<Option<Unknown<'env>>> {
        let signal = self.signal.get_value(env)?;
        self.signal.unref(env)?;
        let remove: EventListenerMethod = signal.get_named_property("removeEventListener")?;
        remove.apply(
            signal,
            FnArgs::from(("abort", self.listener.borrow_back(env)?)),
        )?;
        Ok(if signal.get::<bool>("aborted")? == Some(true) {
            signal.get::<Unknown>("reason")?
        } else {
            None
        })
    }
}

/// `init.signal`: an `AbortSignal`, or absent.
fn signal<'env>(init: &Object<'env>) -> Checked<Option<Object<'env>>> {
    const WHAT: &str = "apiFetch() init.signal must be an AbortSignal";
    let Some(value) = present(init.get::<Unknown>("signal").ok().flatten()) else {
        return Ok(None);
    };
    if kind(&value) != ValueType::Object {
        return Err(invalid(WHAT));
    }
    // SAFETY: checked to be an object just above.
    let signal = unsafe { value.cast::<Object>() }.map_err(|_| invalid(WHAT))?;
    let is_signal = signal.get::<bool>("aborted").ok().flatten().is_some()
        && signal
            .get::<Function<(), ()>>("addEventListener")
            .ok()
            .flatten()
            .is_some();
    is_signal
        .then_some(Some(signal))
        .ok_or_else(|| invalid(WHAT))
}

/// Reads `(input, init)`; any other field of `init` is not used (see docs/API.md). With a
/// `signal`, the watch to hand to `settled`.
pub fn app_fetch(
    env: &Env,
    input: &Unknown,
    init: Option<Unknown>,
) -> Checked<(AppFetch, Option<SignalWatch>)> {
    let target = target(input)?;
    let Some(init) = present(init) else {
        return Ok((
            AppFetch {
                target,
                method: None,
                headers: Vec::new(),
                body: None,
                abort: None,
            },
            None,
        ));
    };
    if kind(&init) != ValueType::Object {
        return Err(invalid("apiFetch() init must be an object"));
    }
    // SAFETY: checked to be an object just above.
    let init = unsafe { init.cast::<Object>() }
        .map_err(|_| invalid("apiFetch() init must be an object"))?;
    let field = |name: &str| present(init.get::<Unknown>(name).ok().flatten());
    let method = match field("method") {
        Some(value) => Some(args::take::<String>(
            &value,
            &args::Shape::String,
            "init.method",
            ErrorCode::InvalidArgument,
        )?),
        None => None,
    };
    let mut headers = match field("headers") {
        Some(value) => headers(env, value)?,
        None => Vec::new(),
    };
    let body = match field("body") {
        Some(value) => {
            let was_string = kind(&value) == ValueType::String;
            let bytes = body(value)?;
            // As fetch does for a string body without a type of its own.
            if was_string
                && !headers
                    .iter()
                    .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("content-type".into(), "text/plain;charset=UTF-8".into()));
            }
            Some(bytes)
        }
        None => None,
    };
    let (abort, watch) = match signal(&init)? {
        Some(signal) => {
            let abort = AbortHandle::default();
            let watch = SignalWatch::start(env, signal, abort.clone())
                .map_err(|_| invalid("apiFetch() could not listen to init.signal"))?;
            (Some(abort), Some(watch))
        }
        None => (None, None),
    };
    Ok((
        AppFetch {
            target,
            method,
            headers,
            body,
            abort,
        },
        watch,
    ))
}

/// What an `apiFetch()` promise settles with: the `Response`, or its error. Aborted, the
/// error is named as fetch names it (`AbortError`, or the reason's `TimeoutError`) and
/// carries the signal's reason as `cause`.
pub fn settled<'env>(
    env: &'env Env,
    outcome: Checked<AppResponse>,
    signal: Option<SignalWatch>,
) -> Result<Unknown<'env>> {
    let reason = match signal {
        Some(watch) => watch.finish(env)?,
        None => None,
    };
    match outcome {
        Ok(answer) => response(env, answer),
        Err(err) if err.code == ErrorCode::Aborted => Err(aborted(env, &err, reason)),
        Err(err) => Err(js_error(env, err)),
    }
}

fn aborted(env: &Env, err: &AuthError, reason: Option<Unknown>) -> Error {
    let build = || -> Result<Error> {
        let mut error = coded_error(env, err)?;
        let reason_name = reason
            .filter(|reason| kind(reason) == ValueType::Object)
            // SAFETY: checked to be an object just above.
            .and_then(|reason| unsafe { reason.cast::<Object>() }.ok())
            .and_then(|reason| reason.get::<String>("name").ok().flatten());
        let name = match reason_name.as_deref() {
            Some("TimeoutError") => "TimeoutError",
            _ => "AbortError",
        };
        error.set_named_property("name", name)?;
        if let Some(reason) = reason {
            error.set_named_property("cause", reason)?;
        }
        Ok(Error::from(error.to_unknown()))
    };
    build().unwrap_or_else(|failure| failure)
}

/// Statuses whose `Response` may not have a body (the constructor throws otherwise).
fn is_null_body_status(status: u16) -> bool {
    matches!(status, 101 | 103 | 204 | 205 | 304)
}

/// The answer as a WHATWG `Response` of this JS realm, its body already read.
fn response<'env>(env: &'env Env, answer: AppResponse) -> Result<Unknown<'env>> {
    let global = env.get_global()?;
    let response_class: Function<FnArgs<(Unknown, Object)>, Unknown> =
        global.get_named_property("Response")?;
    let mut init = Object::new(env)?;
    init.set("status", answer.status)?;
    let headers: Vec<Vec<String>> = answer
        .headers
        .into_iter()
        .map(|(name, value)| vec![name, value])
        .collect();
    init.set("headers", headers)?;
    let body = if is_null_body_status(answer.status) {
        Null.into_unknown(env)?
    } else {
        Buffer::from(answer.body).into_unknown(env)?
    };
    response_class.new_instance(FnArgs::from((body, init)))
}
