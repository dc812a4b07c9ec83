//! Go's `%v` rendering of JSON values.
//!
//! Several KubeSec predicates test substrings of this rendering (for example a list of
//! host paths rendered as `[/proc /var/run/docker.sock]`), and object names print values
//! with it, so reproducing it keeps those quirks exact. Upstream decodes JSON numbers as
//! `float64`, so numbers render the way Go prints a float64.

use std::fmt::Write;

use serde_json::Value;

/// Renders `value` as Go's `fmt.Sprintf("%v", v)` would for the decoded JSON value.
pub fn go_string(value: &Value) -> String {
    let mut out = String::new();
    render(value, &mut out);
    out
}

fn render(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_float(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                render(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Go prints map keys sorted.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                if let Some(v) = map.get(*key) {
                    render(v, out);
                }
            }
            out.push(']');
        }
    }
}

/// A float64 as `%v` prints it: shortest representation, exponent form below 1e-4 and
/// from 1e21 on (`1e+21`, `1e-05`).
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        let mut out = String::new();
        let _ = write!(out, "{mantissa}e{sign}{digits:0>2}");
        return out;
    }
    format!("{f}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_like_go() {
        assert_eq!(go_string(&json!(["A", "B"])), "[A B]");
        assert_eq!(
            go_string(&json!({"path": "/x", "a": null})),
            "map[a:<nil> path:/x]"
        );
        assert_eq!(go_string(&json!(1)), "1");
        assert_eq!(go_string(&json!(1.5)), "1.5");
        assert_eq!(go_string(&json!(1e21)), "1e+21");
        assert_eq!(go_string(&json!(0.00001)), "1e-05");
        assert_eq!(go_string(&json!(true)), "true");
    }
}
