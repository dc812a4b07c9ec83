//! The validate-pattern check used by mutate conditions (`(key)` and `<(key)` anchors).
//!
//! Kyverno evaluates a condition anchor's value with its validate `MatchPattern`; any outcome
//! other than "pass" (a mismatch or a nested condition that does not apply) makes the
//! condition fail. This is a compact matcher covering the map/list/anchor walk and the leaf
//! comparisons; FIXME: delegate the leaves to `crate::pattern` once it lands, so both paths
//! share one implementation.

use serde_json::{Map, Value};

use super::anchor::{self, AnchorKind};

/// `true` when `resource` satisfies `pattern` (validate semantics, "skip" counts as no).
pub(crate) fn matches(resource: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Object(p) => match resource {
            Value::Object(r) => map_matches(r, p),
            _ => false,
        },
        Value::Array(p) => match resource {
            Value::Array(r) => list_matches(r, p),
            _ => false,
        },
        _ => match resource {
            Value::Array(items) => items.iter().all(|item| leaf_matches(item, pattern)),
            Value::Object(_) => false,
            _ => leaf_matches(resource, pattern),
        },
    }
}

fn map_matches(resource: &Map<String, Value>, pattern: &Map<String, Value>) -> bool {
    for (key, pv) in pattern {
        let ok = match anchor::parse(key) {
            Some(a) => match a.kind {
                AnchorKind::Condition | AnchorKind::Global => {
                    resource.get(a.key).is_some_and(|rv| matches(rv, pv))
                }
                AnchorKind::Equality | AnchorKind::AddIfNotPresent => {
                    resource.get(a.key).is_none_or(|rv| matches(rv, pv))
                }
                AnchorKind::Negation => !resource.contains_key(a.key),
                AnchorKind::Existence => match resource.get(a.key) {
                    None => true,
                    Some(Value::Array(items)) => match pv {
                        Value::Array(ps) => ps.iter().all(|p| items.iter().any(|i| matches(i, p))),
                        _ => false,
                    },
                    Some(_) => false,
                },
            },
            None => {
                if pv.as_str() == Some("*") {
                    resource.get(key).is_some_and(|v| !v.is_null())
                } else {
                    matches(resource.get(key).unwrap_or(&Value::Null), pv)
                }
            }
        };
        if !ok {
            return false;
        }
    }
    true
}

fn list_matches(resource: &[Value], pattern: &[Value]) -> bool {
    match pattern.first() {
        None => false,
        Some(first @ Value::Object(_)) => resource.iter().all(|r| matches(r, first)),
        Some(first @ Value::Array(_)) => {
            resource.len() >= pattern.len()
                && pattern.iter().zip(resource).all(|(p, r)| matches(r, p))
                && first.is_array()
        }
        Some(first) => resource.iter().all(|r| leaf_matches(r, first)),
    }
}

/// Leaf comparison (section 3 of the Kyverno spec, simplified: no quantities/durations).
pub(crate) fn leaf_matches(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(b) => value.as_bool() == Some(*b),
        Value::Null => match value {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            _ => false,
        },
        Value::Number(n) => {
            let want = n.as_f64();
            match value {
                Value::Number(v) => v.as_f64() == want,
                Value::String(s) => s.trim().parse::<f64>().ok() == want,
                _ => false,
            }
        }
        Value::String(p) => string_leaf(value, p),
        _ => false,
    }
}

fn string_leaf(value: &Value, pattern: &str) -> bool {
    if value.as_str() == Some(pattern) {
        return true;
    }
    pattern.split('|').any(|alt| {
        alt.split('&')
            .all(|part| operand_matches(value, part.trim()))
    })
}

fn operand_matches(value: &Value, part: &str) -> bool {
    for (op, f) in [
        (">=", (|a: f64, b: f64| a >= b) as fn(f64, f64) -> bool),
        ("<=", |a, b| a <= b),
        (">", |a, b| a > b),
        ("<", |a, b| a < b),
    ] {
        if let Some(rest) = part.strip_prefix(op) {
            return match (number_of(value), rest.trim().parse::<f64>().ok()) {
                (Some(a), Some(b)) => f(a, b),
                _ => false,
            };
        }
    }
    if let Some(rest) = part.strip_prefix('!') {
        return !equals_operand(value, rest.trim());
    }
    equals_operand(value, part)
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Null => Some(0.0),
        _ => None,
    }
}

fn equals_operand(value: &Value, operand: &str) -> bool {
    match value {
        Value::String(s) => wildcard(operand, s),
        Value::Number(n) => match (n.as_f64(), operand.parse::<f64>().ok()) {
            (Some(a), Some(b)) => a == b,
            _ => wildcard(operand, &n.to_string()),
        },
        Value::Bool(b) => wildcard(operand, if *b { "true" } else { "false" }),
        _ => false,
    }
}

/// `*` any sequence, `?` one character, whole-string match.
pub(crate) fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}
