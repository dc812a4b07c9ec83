//! `$(path)` references inside patterns (`pkg/engine/variables/vars.go`).
//!
//! A string value may name another value of the same pattern with `$(path)`, optionally
//! after an operator (`$(<=./../limits/memory)`). The path is relative to the referencing
//! value (`./../../readinessProbe/port`) and is matched against the pattern's leaf paths
//! with anchors removed. Without an operator the referenced value must be a string and
//! replaces the reference; with one, the operator and the value's text (a number printed
//! as `%f`) replace it. `\$(` escapes a reference. References resolve against the
//! original pattern, so a reference to a value that is itself a reference sees its text.
//! Absolute paths (`/spec/...`) start at the pattern root.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::PatternError;
use super::anchor;

/// Kyverno's `RegexReferences`: `$(...)` at the start, or after a character other than `\`.
static REFERENCES: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^\$\(.[^ ]*\)|[^\\]\$\(.[^ ]*\)").ok());
/// Kyverno's `RegexEscpReferences`: `\$(...)`.
static ESCAPED: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\\\$\(.[^ ]*\)").ok());

/// Returns `pattern` with every `$(...)` reference replaced (see the module docs).
pub fn resolve_references(pattern: &Value) -> Result<Value, PatternError> {
    if !contains_reference(pattern) {
        return Ok(pattern.clone());
    }
    let mut leaves = Vec::new();
    collect_leaves(pattern, &mut String::new(), &mut leaves);
    let mut path = String::new();
    substitute(pattern, &leaves, &mut path)
}

fn contains_reference(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("$("),
        Value::Array(items) => items.iter().any(contains_reference),
        Value::Object(map) => map.values().any(contains_reference),
        _ => false,
    }
}

/// Scalar leaves of the pattern with their anchor-free paths.
fn collect_leaves<'a>(value: &'a Value, path: &mut String, out: &mut Vec<(String, &'a Value)>) {
    let len = path.len();
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                path.push('/');
                path.push_str(anchor::parse(key).map_or(key.as_str(), |a| a.key));
                collect_leaves(v, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push('/');
                path.push_str(&i.to_string());
                collect_leaves(v, path, out);
                path.truncate(len);
            }
        }
        Value::Null => {}
        scalar => out.push((clean_path(path), scalar)),
    }
}

fn substitute(
    value: &Value,
    leaves: &[(String, &Value)],
    path: &mut String,
) -> Result<Value, PatternError> {
    let len = path.len();
    let out = match value {
        Value::Object(map) => {
            let mut new = Map::with_capacity(map.len());
            for (key, v) in map {
                path.push('/');
                path.push_str(key);
                new.insert(key.clone(), substitute(v, leaves, path)?);
                path.truncate(len);
            }
            Value::Object(new)
        }
        Value::Array(items) => {
            let mut new = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                path.push('/');
                path.push_str(&i.to_string());
                new.push(substitute(v, leaves, path)?);
                path.truncate(len);
            }
            Value::Array(new)
        }
        Value::String(s) if s.contains("$(") => Value::String(substitute_string(s, leaves, path)?),
        other => other.clone(),
    };
    Ok(out)
}

fn substitute_string(
    value: &str,
    leaves: &[(String, &Value)],
    path: &str,
) -> Result<String, PatternError> {
    let (Some(references), Some(escaped)) = (REFERENCES.as_ref(), ESCAPED.as_ref()) else {
        return Ok(value.to_string());
    };
    let found: Vec<String> = references
        .find_iter(value)
        .map(|m| m.as_str().to_string())
        .collect();
    let mut result = value.to_string();
    for old in found {
        let initial = old.starts_with("$(");
        let reference = if initial {
            old.as_str()
        } else {
            &old[old.chars().next().map_or(0, char::len_utf8)..]
        };
        let replacement = resolve_one(reference, leaves, path)?;
        let replacement = if initial {
            replacement
        } else {
            let prefix: String = old.chars().take(1).collect();
            prefix + &replacement
        };
        result = result.replacen(&old, &replacement, 1);
    }
    let escapes: Vec<String> = escaped
        .find_iter(&result)
        .map(|m| m.as_str().to_string())
        .collect();
    for e in escapes {
        result = result.replace(&e, &e[1..]);
    }
    Ok(result)
}

fn resolve_one(
    reference: &str,
    leaves: &[(String, &Value)],
    path: &str,
) -> Result<String, PatternError> {
    let err = |reason: &str| PatternError::Reference {
        reference: reference.to_string(),
        path: path.to_string(),
        reason: reason.to_string(),
    };
    let inner = reference.trim_matches(|c| c == '$' || c == '(' || c == ')');
    let op_len = operator_len(inner);
    let (op, target) = inner.split_at(op_len);
    if target.is_empty() {
        return Err(err("expected path, found empty reference"));
    }
    let absolute = if target.starts_with('/') {
        clean_path(target)
    } else {
        clean_path(&format!("{path}/{target}"))
    };
    let Some((_, found)) = leaves.iter().find(|(p, _)| *p == absolute) else {
        return Err(err("referenced value not found"));
    };
    match (op.is_empty(), found) {
        (true, Value::String(s)) => Ok(s.clone()),
        (true, _) => Err(err("a reference without operator must name a string value")),
        (false, Value::String(s)) => Ok(format!("{op}{s}")),
        (false, Value::Number(n)) => Ok(format!("{op}{:.6}", n.as_f64().unwrap_or_default())),
        (false, other) => Err(err(&format!(
            "incorrect expression: operator {op} does not match with value {other}"
        ))),
    }
}

/// Length of Kyverno's pattern operator prefix (`>=`, `<=`, `>`, `<`, `!`), 0 for none.
fn operator_len(s: &str) -> usize {
    if s.len() < 2 {
        0
    } else if s.starts_with(">=") || s.starts_with("<=") {
        2
    } else if s.starts_with('>') || s.starts_with('<') || s.starts_with('!') {
        1
    } else {
        0
    }
}

/// Go's `path.Clean` for rooted paths.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(pattern: Value, expected: Value) {
        assert_eq!(resolve_references(&pattern).unwrap(), expected);
    }

    #[test]
    fn relative_reference_with_operator() {
        check(
            json!({"resources": {"requests": {"memory": "$(<=./../../limits/memory)"}, "limits": {"memory": "2048Mi"}}}),
            json!({"resources": {"requests": {"memory": "<=2048Mi"}, "limits": {"memory": "2048Mi"}}}),
        );
    }

    #[test]
    fn reference_without_operator_and_anchors_in_target_path() {
        // The reference itself keeps its anchors, so it never equals an anchor-free path.
        assert!(
            resolve_references(&json!({"spec": {"=(a)": {"name": "x"}, "b": "$(./../=(a)/name)"}}))
                .is_err()
        );
        check(
            json!({"spec": {"=(a)": {"name": "x"}, "b": "$(./../a/name)"}}),
            json!({"spec": {"=(a)": {"name": "x"}, "b": "x"}}),
        );
    }

    #[test]
    fn numbers_need_an_operator() {
        check(
            json!({"a": 80, "b": "$(>=./../a)"}),
            json!({"a": 80, "b": ">=80.000000"}),
        );
        assert!(resolve_references(&json!({"a": 80, "b": "$(./../a)"})).is_err());
    }

    #[test]
    fn missing_targets_are_errors() {
        let err = resolve_references(&json!({"a": "$(./../nope)"})).unwrap_err();
        assert!(matches!(err, PatternError::Reference { ref path, .. } if path == "/a"));
        // "$()" is not a reference at all; "$(>=)" is one without a path.
        check(json!({"a": "$()"}), json!({"a": "$()"}));
        assert!(resolve_references(&json!({"a": "$(>=)"})).is_err());
    }

    #[test]
    fn escaped_references_stay_literal() {
        check(
            json!({"a": "\\$(./../b)", "b": "x"}),
            json!({"a": "$(./../b)", "b": "x"}),
        );
    }

    #[test]
    fn reference_inside_text() {
        check(
            json!({"a": "x-$(./../b)", "b": "y"}),
            json!({"a": "x-y", "b": "y"}),
        );
    }

    #[test]
    fn absolute_paths_start_at_the_root() {
        check(
            json!({"a": {"b": "v"}, "c": "$(/a/b)"}),
            json!({"a": {"b": "v"}, "c": "v"}),
        );
    }

    #[test]
    fn clean_path_like_go() {
        assert_eq!(clean_path("/a/b/./../c"), "/a/c");
        assert_eq!(clean_path("/a/../../b"), "/b");
        assert_eq!(clean_path("/"), "/");
    }
}
