//! Conversions between `serde_json::Value` and the `jmespath` crate's `Variable`.
//!
//! Kyverno's functions work on Go `float64` numbers; results that are whole
//! numbers are stored as JSON integers so that `3` prints as `3`, like Go's
//! JSON encoder, and not as `3.0`.

use std::collections::BTreeMap;

use jmespath::{Rcvar, Variable};
use serde_json::{Map, Number, Value};

/// Converts a JSON value into a shared JMESPath variable.
pub(crate) fn to_var(value: &Value) -> Rcvar {
    Rcvar::new(to_variable(value))
}

fn to_variable(value: &Value) -> Variable {
    match value {
        Value::Null => Variable::Null,
        Value::Bool(b) => Variable::Bool(*b),
        Value::Number(n) => Variable::Number(n.clone()),
        Value::String(s) => Variable::String(s.clone()),
        Value::Array(items) => Variable::Array(items.iter().map(to_var).collect()),
        Value::Object(map) => Variable::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_var(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// Converts a JMESPath variable back into JSON. Expression references have no
/// JSON form and become `null`.
pub(crate) fn from_var(var: &Variable) -> Value {
    match var {
        Variable::Null | Variable::Expref(_) => Value::Null,
        Variable::Bool(b) => Value::Bool(*b),
        Variable::Number(n) => Value::Number(n.clone()),
        Variable::String(s) => Value::String(s.clone()),
        Variable::Array(items) => Value::Array(items.iter().map(|v| from_var(v)).collect()),
        Variable::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(k.clone(), from_var(v));
            }
            Value::Object(out)
        }
    }
}

/// A JSON number for `f`: integral values within the exact range of `f64`
/// become integers (as Go prints them); non-finite values have no JSON form.
pub(crate) fn number(f: f64) -> Option<Number> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= EXACT {
        // The range check above makes the conversion exact.
        #[allow(clippy::cast_possible_truncation)]
        Some(Number::from(f as i64))
    } else {
        Number::from_f64(f)
    }
}

/// A JMESPath number variable for `f` (`null` when not finite).
pub(crate) fn num_var(f: f64) -> Rcvar {
    match number(f) {
        Some(n) => Rcvar::new(Variable::Number(n)),
        None => null(),
    }
}

pub(crate) fn null() -> Rcvar {
    Rcvar::new(Variable::Null)
}

pub(crate) fn str_var(s: impl Into<String>) -> Rcvar {
    Rcvar::new(Variable::String(s.into()))
}

pub(crate) fn bool_var(b: bool) -> Rcvar {
    Rcvar::new(Variable::Bool(b))
}

/// Formats a number as Go's `strconv.FormatFloat(f, 'f', -1, 32)`, which
/// Kyverno uses to turn numeric arguments into strings: the shortest decimal
/// that round-trips through `float32`, never in exponent form.
pub(crate) fn go_float32_string(f: f64) -> String {
    #[allow(clippy::cast_possible_truncation)]
    let single = f as f32;
    format!("{single}")
}

/// Formats a JSON number as Go's `encoding/json` would after decoding it into
/// a `float64` (integers keep their digits).
pub(crate) fn json_number_text(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    match n.as_f64() {
        Some(f) => go_float64_json(f),
        None => n.to_string(),
    }
}

/// Go's JSON encoding of a `float64`: shortest representation, exponent form
/// only for very small or very large magnitudes.
pub(crate) fn go_float64_json(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go writes e.g. 1e+21 and 1e-07.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => {
                let (sign, digits) = match exp.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exp),
                };
                let digits = if digits.len() < 2 {
                    format!("0{digits}")
                } else {
                    digits.to_owned()
                };
                format!("{mantissa}e{sign}{digits}")
            }
            None => s,
        }
    } else {
        format!("{f}")
    }
}

/// Serialises a JSON value as Go's `json.Marshal` does for the decoded
/// `interface{}` (object keys sorted, no spaces, `<>&` escaped).
pub(crate) fn go_json(value: &Value) -> String {
    let mut out = String::new();
    write_go_json(value, &mut out);
    out
}

fn write_go_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&json_number_text(n)),
        Value::String(s) => write_go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(key, out);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_go_json(v, out);
                }
            }
            out.push('}');
        }
    }
}

fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
