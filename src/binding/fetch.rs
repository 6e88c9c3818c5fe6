//! `apiFetch()` in JS terms: its `(input, init)` read into the core's `AppFetch` (a subset
//! of fetch's: `method`, `headers`, `body`), and the answer made a WHATWG `Response`.

use super::args;
use crate::api::AppResponse;
use crate::errors::{AuthError, ErrorCode};
use crate::session::AppFetch;
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

/// Reads `(input, init)`; any other field of `init` is not used (see docs/API.md).
pub fn app_fetch(env: &Env, input: &Unknown, init: Option<Unknown>) -> Checked<AppFetch> {
    let target = target(input)?;
    let Some(init) = present(init) else {
        return Ok(AppFetch {
            target,
            method: None,
            headers: Vec::new(),
            body: None,
        });
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
    Ok(AppFetch {
        target,
        method,
        headers,
        body,
    })
}

/// Statuses whose `Response` may not have a body (the constructor throws otherwise).
fn is_null_body_status(status: u16) -> bool {
    matches!(status, 101 | 103 | 204 | 205 | 304)
}

/// The answer as a WHATWG `Response` of this JS realm, its body already read.
pub fn response<'env>(env: &'env Env, answer: AppResponse) -> Result<Unknown<'env>> {
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
