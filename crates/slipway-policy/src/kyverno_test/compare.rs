//! Object comparison for `patchedResources` and `generatedResource`: nulls,
//! empty maps and empty lists are dropped on both sides, recursively, then
//! the values must be deeply equal, with numbers compared by value (the
//! Kyverno CLI reads every number as a float).

use serde_json::Value;

/// Removes nulls, empty maps and empty lists, recursively. Returns `None` when
/// the value itself is empty after tidying.
pub fn tidy(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(map) => {
            let out: serde_json::Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| tidy(v).map(|v| (k.clone(), v)))
                .collect();
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let out: Vec<Value> = items.iter().filter_map(tidy).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}

/// Deep equality with numbers compared by value (`1` equals `1.0`).
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| equal(v, w))
        }
        _ => a == b,
    }
}

/// Compares two objects after tidying both. On a difference, returns the
/// first differing path.
pub fn compare(actual: &Value, expected: &Value) -> Result<(), String> {
    let a = tidy(actual).unwrap_or(Value::Null);
    let e = tidy(expected).unwrap_or(Value::Null);
    first_difference(&a, &e, String::new()).map_or(Ok(()), Err)
}

fn first_difference(a: &Value, e: &Value, path: String) -> Option<String> {
    if equal(a, e) {
        return None;
    }
    match (a, e) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in y {
                match x.get(k) {
                    None => return Some(format!("{path}/{k}: missing, expected {v}")),
                    Some(w) => {
                        if let Some(d) = first_difference(w, v, format!("{path}/{k}")) {
                            return Some(d);
                        }
                    }
                }
            }
            x.keys()
                .find(|k| !y.contains_key(*k))
                .map(|k| format!("{path}/{k}: unexpected field"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, format!("{path}/{i}"))),
        _ => Some(format!(
            "{}: got {}, expected {}",
            if path.is_empty() { "/" } else { &path },
            short(a),
            short(e)
        )),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        format!(
            "{}...",
            &s[..s.char_indices().nth(117).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_values_are_ignored_and_numbers_compare_by_value() {
        let a = json!({"a": 1, "b": null, "c": {}, "d": [], "e": [{"x": 2.0}]});
        let e = json!({"a": 1.0, "e": [{"x": 2}]});
        assert!(compare(&a, &e).is_ok());
    }

    #[test]
    fn differences_name_the_path() {
        let a = json!({"spec": {"replicas": 2}});
        let e = json!({"spec": {"replicas": 3}});
        let err = compare(&a, &e).unwrap_err();
        assert!(err.starts_with("/spec/replicas"), "{err}");
        let err = compare(&json!({"x": 1, "y": 2}), &json!({"x": 1})).unwrap_err();
        assert_eq!(err, "/y: unexpected field");
    }
}
