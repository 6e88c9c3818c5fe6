//! Every argument the host passes is checked here, by us, before napi converts it: napi's
//! own conversion errors quote the value (a password passed as a `Buffer` would appear in
//! the message) and carry napi's codes. A wrong argument is an error with one of our codes
//! and a fixed message naming the field and the type it must have, never the value.

use crate::errors::{AuthError, ErrorCode};
use napi::bindgen_prelude::*;

type Checked<T> = std::result::Result<T, AuthError>;

/// The type an argument (or one of its fields) must have.
pub enum Shape {
    String,
    Number,
    Boolean,
    Function,
    /// `string | null`.
    StringOrNull,
    StringList,
    StringOrStringList,
    /// `string | object` (the `storage` option: a kind or a backend object).
    StringOrObject,
    /// An object whose listed fields, where present and not `undefined`, have these shapes.
    Fields(&'static [(&'static str, Shape)]),
    /// A field that must be present (and not `undefined`), with this shape.
    Required(&'static Shape),
}

impl Shape {
    fn description(&self) -> &'static str {
        match self {
            Shape::String => "a string",
            Shape::Number => "a number",
            Shape::Boolean => "a boolean",
            Shape::Function => "a function",
            Shape::StringOrNull => "a string or null",
            Shape::StringList => "an array of strings",
            Shape::StringOrStringList => "a string or an array of strings",
            Shape::StringOrObject => "a string or an object",
            Shape::Fields(_) => "an object",
            Shape::Required(shape) => shape.description(),
        }
    }
}

fn refused(code: ErrorCode, path: &str, shape: &Shape) -> AuthError {
    AuthError::new(code, format!("{path} must be {}", shape.description()))
}

fn value_type(value: &Unknown) -> ValueType {
    value.get_type().unwrap_or(ValueType::Unknown)
}

fn is_array(value: &Unknown) -> bool {
    // SAFETY: `value` is a live value of its env; `validate` only inspects it.
    unsafe { Array::validate(value.value().env, value.raw()) }.is_ok()
}

fn all_strings(value: &Unknown) -> bool {
    // SAFETY: checked to be an array just before.
    let Ok(array) = (unsafe { Array::from_napi_value(value.value().env, value.raw()) }) else {
        return false;
    };
    (0..array.len()).all(|index| {
        array
            .get::<Unknown>(index)
            .ok()
            .flatten()
            .is_some_and(|item| value_type(&item) == ValueType::String)
    })
}

/// Checks `value` against `shape`; `path` names it in the message ("options.paths.login").
pub fn check(value: &Unknown, shape: &Shape, path: &str, code: ErrorCode) -> Checked<()> {
    let kind = value_type(value);
    let fits = match shape {
        Shape::String => kind == ValueType::String,
        Shape::Number => kind == ValueType::Number,
        Shape::Boolean => kind == ValueType::Boolean,
        Shape::Function => kind == ValueType::Function,
        Shape::StringOrNull => matches!(kind, ValueType::String | ValueType::Null),
        Shape::StringList => is_array(value) && all_strings(value),
        Shape::StringOrStringList => {
            kind == ValueType::String || (is_array(value) && all_strings(value))
        }
        Shape::StringOrObject => {
            kind == ValueType::String || (kind == ValueType::Object && !is_array(value))
        }
        Shape::Required(inner) => return check(value, inner, path, code),
        Shape::Fields(fields) => {
            if kind != ValueType::Object || is_array(value) {
                return Err(refused(code, path, shape));
            }
            // SAFETY: checked to be an object just above.
            let object =
                unsafe { value.cast::<Object>() }.map_err(|_| refused(code, path, shape))?;
            for (name, field_shape) in *fields {
                let field = object
                    .get::<Unknown>(name)
                    .map_err(|_| refused(code, &format!("{path}.{name}"), field_shape))?;
                let field_path = format!("{path}.{name}");
                match field.filter(|f| value_type(f) != ValueType::Undefined) {
                    Some(field) => check(&field, field_shape, &field_path, code)?,
                    None if matches!(field_shape, Shape::Required(_)) => {
                        return Err(refused(code, &field_path, field_shape))
                    }
                    None => {}
                }
            }
            true
        }
    };
    if fits {
        Ok(())
    } else {
        Err(refused(code, path, shape))
    }
}

/// An optional argument: absent (`undefined`) or `null` is `None`, otherwise it must fit.
pub fn optional(
    value: Option<&Unknown>,
    shape: &Shape,
    path: &str,
    code: ErrorCode,
) -> Checked<bool> {
    match value {
        Some(value) if !matches!(value_type(value), ValueType::Undefined | ValueType::Null) => {
            check(value, shape, path, code).map(|()| true)
        }
        _ => Ok(false),
    }
}

/// Converts a value `check` accepted. A conversion that fails anyway (a getter that throws)
/// is reported with the same fixed message.
pub fn convert<T: FromNapiValue>(
    value: &Unknown,
    shape: &Shape,
    path: &str,
    code: ErrorCode,
) -> Checked<T> {
    // SAFETY: `value` is a live value of its env.
    unsafe { T::from_napi_value(value.value().env, value.raw()) }
        .map_err(|_| refused(code, path, shape))
}

/// `check` then `convert`.
pub fn take<T: FromNapiValue>(
    value: &Unknown,
    shape: &Shape,
    path: &str,
    code: ErrorCode,
) -> Checked<T> {
    check(value, shape, path, code)?;
    convert(value, shape, path, code)
}

/// An optional string argument: `undefined` or `null` is `None`.
pub fn optional_string(value: Option<&Unknown>, name: &str) -> Checked<Option<String>> {
    let code = ErrorCode::InvalidArgument;
    match value {
        Some(value) if optional(Some(value), &Shape::String, name, code)? => {
            convert(value, &Shape::String, name, code).map(Some)
        }
        _ => Ok(None),
    }
}
