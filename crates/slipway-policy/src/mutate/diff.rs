//! RFC 6902 operations turning one document into another, for admission responses.

use serde_json::{Value, json};

/// Operations that turn `old` into `new`: `remove`/`add`/`replace` on the smallest differing
/// nodes (maps by key, lists by position, removals from the end first).
pub fn diff_to_json_patch(old: &Value, new: &Value) -> Vec<Value> {
    let mut ops = Vec::new();
    diff(old, new, "", &mut ops);
    ops
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn diff(old: &Value, new: &Value, path: &str, ops: &mut Vec<Value>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for key in o.keys().filter(|k| !n.contains_key(*k)) {
                ops.push(json!({"op": "remove", "path": format!("{path}/{}", escape(key))}));
            }
            for (key, nv) in n {
                let child = format!("{path}/{}", escape(key));
                match o.get(key) {
                    Some(ov) => diff(ov, nv, &child, ops),
                    None => ops.push(json!({"op": "add", "path": child, "value": nv})),
                }
            }
        }
        (Value::Array(o), Value::Array(n)) => {
            let common = o.len().min(n.len());
            for i in 0..common {
                diff(&o[i], &n[i], &format!("{path}/{i}"), ops);
            }
            for (i, nv) in n.iter().enumerate().skip(common) {
                ops.push(json!({"op": "add", "path": format!("{path}/{i}"), "value": nv}));
            }
            for i in (common..o.len()).rev() {
                ops.push(json!({"op": "remove", "path": format!("{path}/{i}")}));
            }
        }
        _ => ops.push(json!({"op": "replace", "path": path, "value": new})),
    }
}
