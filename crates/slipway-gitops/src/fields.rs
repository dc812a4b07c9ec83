//! Field ownership and the apply merge shared by the embedded environment and
//! the differ: an object's fields as a set of paths, `metadata.managedFields`
//! in Kubernetes' `FieldsV1` shape, and the server-side-apply-like merge that
//! computes what an apply by one field manager makes of a live object.
//!
//! Lists are atomic (owned and replaced whole), which is what server-side apply
//! does for lists without merge keys; maps merge key by key.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// A field path: the keys from the object's root.
pub type FieldPath = Vec<String>;
/// A set of owned fields.
pub type FieldSet = BTreeSet<FieldPath>;

/// Metadata fields the server sets; never owned, never compared.
pub const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
];

/// One manager's entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedEntry {
    /// The field manager (`slipway`, `kubectl`, a user).
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// RFC 3339 time of the last change.
    pub time: String,
    /// The fields it owns.
    pub fields: FieldSet,
}

fn is_identity(path: &[String]) -> bool {
    match path {
        [k] => k == "apiVersion" || k == "kind",
        [m, k] if m == "metadata" => {
            k == "name" || k == "namespace" || SERVER_METADATA.contains(&k.as_str())
        }
        _ => false,
    }
}

/// The leaf field paths of an object (identity and server fields left out).
pub fn leaf_paths(obj: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    let mut prefix = Vec::new();
    collect(obj, &mut prefix, &mut out);
    out.retain(|p| !is_identity(p));
    out
}

fn collect(v: &Value, prefix: &mut Vec<String>, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                prefix.push(k.clone());
                collect(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
        }
    }
}

/// Converts a field set to Kubernetes' `FieldsV1` map (`{"f:spec": {"f:replicas": {}}}`).
pub fn to_fields_v1(fields: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut cur = &mut root;
        for key in path {
            let entry = cur
                .entry(format!("f:{key}"))
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(m) => cur = m,
                _ => break,
            }
        }
    }
    Value::Object(root)
}

/// Reads a `FieldsV1` map back into paths (keys other than `f:` are skipped).
pub fn from_fields_v1(v: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    let mut prefix = Vec::new();
    walk_v1(v, &mut prefix, &mut out);
    out
}

fn walk_v1(v: &Value, prefix: &mut Vec<String>, out: &mut FieldSet) {
    let Some(m) = v.as_object() else { return };
    let children: Vec<(&String, &Value)> = m.iter().filter(|(k, _)| k.starts_with("f:")).collect();
    if children.is_empty() {
        if !prefix.is_empty() {
            out.insert(prefix.clone());
        }
        return;
    }
    for (k, child) in children {
        prefix.push(k[2..].to_string());
        walk_v1(child, prefix, out);
        prefix.pop();
    }
}

/// Reads `metadata.managedFields`.
pub fn managed_entries(obj: &Value) -> Vec<ManagedEntry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|e| ManagedEntry {
                    manager: e
                        .get("manager")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                    operation: e
                        .get("operation")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                    time: e.get("time").and_then(Value::as_str).unwrap_or("").into(),
                    fields: e.get("fieldsV1").map(from_fields_v1).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn entries_to_value(entries: &[ManagedEntry], api_version: &str) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|e| {
                json!({
                    "manager": e.manager,
                    "operation": e.operation,
                    "apiVersion": api_version,
                    "time": e.time,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": to_fields_v1(&e.fields),
                })
            })
            .collect(),
    )
}

/// Removes the value at `path`, then parents left empty by the removal.
pub fn remove_path(obj: &mut Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let removed = {
        let mut cur = &mut *obj;
        for k in parents {
            match cur.get_mut(k.as_str()) {
                Some(next) => cur = next,
                None => return false,
            }
        }
        cur.as_object_mut().and_then(|m| m.remove(last)).is_some()
    };
    if removed && !parents.is_empty() {
        let empty =
            get_path(obj, parents).is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
        if empty {
            remove_path(obj, parents);
        }
    }
    removed
}

/// The value at `path`.
pub fn get_path<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for k in path {
        cur = cur.get(k.as_str())?;
    }
    Some(cur)
}

/// Deep-merges `patch` into `base`: maps key by key, everything else replaced.
pub fn merge_into(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_into(existing, v)
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Strips server-set metadata from an applied object, so it cannot overwrite them.
pub fn strip_server_fields(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in SERVER_METADATA {
            m.remove(*k);
        }
    }
}

/// What an apply by `manager` makes of `live`: fields the manager owned and no
/// longer sets are removed (unless another manager owns them), the applied
/// fields are merged in, ownership of those fields moves to the manager
/// (conflicts are forced, as `--force-conflicts` does), and `managedFields`
/// records the result. Server-set metadata of `live` is kept.
pub fn apply_merge(live: Option<&Value>, applied: &Value, manager: &str, now: &str) -> Value {
    let mut applied = applied.clone();
    strip_server_fields(&mut applied);
    let new_fields = leaf_paths(&applied);
    let mut entries = live.map(managed_entries).unwrap_or_default();
    let prev: FieldSet = entries
        .iter()
        .find(|e| e.manager == manager)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut result = live.cloned().unwrap_or_else(|| json!({}));
    if let Some(m) = result.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    for path in prev.difference(&new_fields) {
        let owned_by_other = entries
            .iter()
            .any(|e| e.manager != manager && e.fields.contains(path));
        if !owned_by_other {
            remove_path(&mut result, path);
        }
    }
    merge_into(&mut result, &applied);
    for e in entries.iter_mut().filter(|e| e.manager != manager) {
        e.fields.retain(|p| {
            !new_fields
                .iter()
                .any(|n| n.starts_with(p) || p.starts_with(n))
        });
    }
    entries.retain(|e| e.manager == manager || !e.fields.is_empty());
    match entries.iter_mut().find(|e| e.manager == manager) {
        Some(e) => {
            e.fields = new_fields;
            e.operation = "Apply".into();
            e.time = now.into();
        }
        None => entries.push(ManagedEntry {
            manager: manager.into(),
            operation: "Apply".into(),
            time: now.into(),
            fields: new_fields,
        }),
    }
    let api_version = applied
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !result.get("metadata").is_some_and(Value::is_object) {
        result["metadata"] = json!({});
    }
    result["metadata"]["managedFields"] = entries_to_value(&entries, &api_version);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> FieldPath {
        s.split('.').map(str::to_string).collect()
    }

    #[test]
    fn fields_v1_round_trip() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v", "l": []}});
        let f = leaf_paths(&obj);
        assert!(f.contains(&p("metadata.labels.x")));
        assert!(f.contains(&p("data.l")));
        assert!(!f.contains(&p("metadata.name")));
        assert_eq!(from_fields_v1(&to_fields_v1(&f)), f);
    }

    #[test]
    fn apply_removes_fields_the_manager_dropped_but_keeps_others() {
        let a1 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1", "y": "2"}});
        let live = apply_merge(None, &a1, "slipway", "t1");
        let hand = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"z": "3", "x": "9"}});
        let live = apply_merge(Some(&live), &hand, "alice", "t2");
        assert_eq!(live["data"], json!({"x": "9", "y": "2", "z": "3"}));
        let a2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1"}});
        let live = apply_merge(Some(&live), &a2, "slipway", "t3");
        // y was slipway's and is gone; z is alice's and stays; x moved back to slipway.
        assert_eq!(live["data"], json!({"x": "1", "z": "3"}));
        let entries = managed_entries(&live);
        let alice = entries.iter().find(|e| e.manager == "alice").unwrap();
        assert_eq!(alice.fields, FieldSet::from([p("data.z")]));
    }

    #[test]
    fn remove_path_prunes_empty_parents() {
        let mut v = json!({"a": {"b": {"c": 1}}, "d": 2});
        assert!(remove_path(&mut v, &p("a.b.c")));
        assert_eq!(v, json!({"d": 2}));
    }
}
