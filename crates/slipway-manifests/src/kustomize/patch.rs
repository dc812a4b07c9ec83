//! Patches: strategic merge (kyaml merge semantics: maps merged, lists of
//! objects merged by their merge key, `$patch` directives, `null` deletes) and
//! JSON 6902 (RFC 6902 operations on JSON pointers).

use serde_json::{Map, Value};

/// The merge key of a list field, from the Kubernetes schema's
/// `x-kubernetes-patch-merge-key`; `None` means the list is replaced.
fn merge_key(
    field: &str,
    parent_path: &[String],
    dest: &[Value],
    patch: &[Value],
) -> Option<String> {
    let in_containers = parent_path
        .iter()
        .any(|p| p == "containers" || p == "initContainers" || p == "ephemeralContainers");
    let key = match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "webhooks"
        | "resourceClaims"
        | "schedulingGates" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "readinessGates" => Some("conditionType"),
        "conditions" => Some("type"),
        "ports" if in_containers => Some("containerPort"),
        "ports" => Some("port"),
        "args" | "command" | "tolerations" | "envFrom" | "rules" | "subjects" | "finalizers" => {
            None
        }
        _ => {
            // No schema: kyaml infers `name` when every element has it.
            let all_named = |l: &[Value]| {
                l.iter()
                    .all(|e| e.as_object().is_some_and(|m| m.contains_key("name")))
            };
            if !dest.is_empty() && all_named(dest) && all_named(patch) {
                Some("name")
            } else {
                None
            }
        }
    };
    key.map(str::to_string)
}

/// Strips `$patch`, `$retainKeys`, `$setElementOrder/...` directives from a value being added.
fn clean(v: &Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.get("$patch").and_then(Value::as_str) == Some("delete") {
                return None;
            }
            let mut out = Map::new();
            for (k, x) in m {
                if k.starts_with('$') {
                    continue;
                }
                if x.is_null() {
                    continue;
                }
                if let Some(c) = clean(x) {
                    out.insert(k.clone(), c);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(a) => Some(Value::Array(a.iter().filter_map(clean).collect())),
        other => Some(other.clone()),
    }
}

/// Applies a strategic merge patch to `dest`. Returns `false` when the patch
/// deletes the whole object.
pub(crate) fn strategic_merge(dest: &mut Value, patch: &Value) -> Result<bool, String> {
    merge_value(dest, patch, &mut Vec::new())
}

fn merge_value(dest: &mut Value, patch: &Value, path: &mut Vec<String>) -> Result<bool, String> {
    match (dest, patch) {
        (Value::Object(d), Value::Object(p)) => merge_map(d, p, path),
        (d, p) => {
            if let Some(c) = clean(p) {
                *d = c;
            }
            Ok(true)
        }
    }
}

fn merge_map(
    d: &mut Map<String, Value>,
    p: &Map<String, Value>,
    path: &mut Vec<String>,
) -> Result<bool, String> {
    match p.get("$patch").and_then(Value::as_str) {
        Some("delete") => return Ok(false),
        Some("replace") => {
            let mut out = Map::new();
            for (k, v) in p {
                if !k.starts_with('$')
                    && let Some(c) = clean(v)
                {
                    out.insert(k.clone(), c);
                }
            }
            *d = out;
            return Ok(true);
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch directive `$patch: {other}`")),
    }
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        d.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, pv) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(del)) = (d.get_mut(field), pv) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if pv.is_null() {
            d.remove(k);
            continue;
        }
        match d.get_mut(k) {
            None => {
                if let Some(c) = clean(pv) {
                    d.insert(k.clone(), c);
                }
            }
            Some(dv) => {
                path.push(k.clone());
                let keep = match (dv, pv) {
                    (Value::Array(dl), Value::Array(pl)) => {
                        merge_list(k, dl, pl, path)?;
                        true
                    }
                    (dv @ Value::Object(_), pv @ Value::Object(_)) => merge_value(dv, pv, path)?,
                    (dv, pv) => {
                        if let Some(c) = clean(pv) {
                            *dv = c;
                        }
                        true
                    }
                };
                path.pop();
                if !keep {
                    d.remove(k);
                }
            }
        }
    }
    Ok(true)
}

fn merge_list(
    field: &str,
    dest: &mut Vec<Value>,
    patch: &[Value],
    path: &mut Vec<String>,
) -> Result<(), String> {
    let replace = patch
        .iter()
        .any(|e| e.get("$patch").and_then(Value::as_str) == Some("replace"));
    if replace {
        *dest = patch
            .iter()
            .filter(|e| e.get("$patch").is_none())
            .filter_map(clean)
            .collect();
        return Ok(());
    }
    let parent: Vec<String> = path[..path.len().saturating_sub(1)].to_vec();
    let Some(key) = merge_key(field, &parent, dest, patch) else {
        if field == "finalizers" {
            for e in patch {
                if !dest.contains(e) {
                    dest.push(e.clone());
                }
            }
            return Ok(());
        }
        *dest = patch.iter().filter_map(clean).collect();
        return Ok(());
    };
    // kyaml's order: the patch's elements in patch order (merged with their
    // match), then the destination's elements the patch did not mention.
    let mut out = Vec::new();
    let mut used = vec![false; dest.len()];
    for pe in patch {
        let Some(pm) = pe.as_object() else {
            if let Some(i) = dest.iter().position(|d| d == pe) {
                used[i] = true;
            }
            out.push(pe.clone());
            continue;
        };
        let kv = pm.get(&key);
        let pos = kv.and_then(|kv| {
            dest.iter()
                .position(|de| de.get(&key).is_some_and(|dk| key_eq(dk, kv)))
        });
        if let Some(i) = pos {
            used[i] = true;
        }
        let directive = pm.get("$patch").and_then(Value::as_str);
        match (pos, directive) {
            (_, Some("delete")) => {}
            (Some(i), _) => {
                let mut merged = dest[i].clone();
                if merge_value(&mut merged, pe, path)? {
                    out.push(merged);
                }
            }
            (None, _) => {
                if let Some(c) = clean(pe) {
                    out.push(c);
                }
            }
        }
    }
    for (i, d) in dest.iter().enumerate() {
        if !used[i] {
            out.push(d.clone());
        }
    }
    *dest = out;
    Ok(())
}

fn key_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::Number(n)) | (Value::Number(n), Value::String(x)) => {
            *x == n.to_string()
        }
        _ => a == b,
    }
}

/// Applies RFC 6902 operations to `doc`.
pub(crate) fn json6902(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let Some(ops) = ops.as_array() else {
        return Err("a JSON 6902 patch must be a list of operations".into());
    };
    for (i, op) in ops.iter().enumerate() {
        apply_op(doc, op).map_err(|e| format!("operation {i}: {e}"))?;
    }
    Ok(())
}

fn pointer_parts(p: &str) -> Result<Vec<String>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!("invalid JSON pointer `{p}`"));
    };
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn get_mut<'a>(doc: &'a mut Value, parts: &[String]) -> Option<&'a mut Value> {
    let mut cur = doc;
    for p in parts {
        cur = match cur {
            Value::Object(m) => m.get_mut(p)?,
            Value::Array(a) => a.get_mut(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn remove_at(doc: &mut Value, parts: &[String], ptr: &str) -> Result<Value, String> {
    let Some((last, parent)) = parts.split_last() else {
        return Ok(std::mem::take(doc));
    };
    match get_mut(doc, parent) {
        Some(Value::Object(m)) => m
            .shift_remove(last)
            .ok_or_else(|| format!("path `{ptr}` does not exist")),
        Some(Value::Array(a)) => {
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < a.len())
                .ok_or_else(|| format!("path `{ptr}` does not exist"))?;
            Ok(a.remove(i))
        }
        _ => Err(format!("path `{ptr}` does not exist")),
    }
}

fn add_at(doc: &mut Value, parts: &[String], value: Value, ptr: &str) -> Result<(), String> {
    let Some((last, parent)) = parts.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent) {
        Some(Value::Object(m)) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Some(Value::Array(a)) => {
            if last == "-" {
                a.push(value);
                return Ok(());
            }
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i <= a.len())
                .ok_or_else(|| format!("index out of range in `{ptr}`"))?;
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("missing parent of path `{ptr}`")),
    }
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), String> {
    let name = op.get("op").and_then(Value::as_str).unwrap_or("");
    let ptr = op
        .get("path")
        .and_then(Value::as_str)
        .ok_or("missing `path`")?;
    let parts = pointer_parts(ptr)?;
    let value = || {
        op.get("value")
            .cloned()
            .ok_or("missing `value`".to_string())
    };
    match name {
        "add" => add_at(doc, &parts, value()?, ptr),
        "remove" => remove_at(doc, &parts, ptr).map(|_| ()),
        "replace" => {
            let v = value()?;
            let slot = get_mut(doc, &parts).ok_or_else(|| {
                format!("replace operation does not apply: doc is missing key: {ptr}")
            })?;
            *slot = v;
            Ok(())
        }
        "move" | "copy" => {
            let from = op
                .get("from")
                .and_then(Value::as_str)
                .ok_or("missing `from`")?;
            let from_parts = pointer_parts(from)?;
            let v = if name == "move" {
                remove_at(doc, &from_parts, from)?
            } else {
                get_mut(doc, &from_parts)
                    .cloned()
                    .ok_or_else(|| format!("path `{from}` does not exist"))?
            };
            add_at(doc, &parts, v, ptr)
        }
        "test" => {
            let v = value()?;
            match get_mut(doc, &parts) {
                Some(cur) if *cur == v => Ok(()),
                _ => Err(format!("test failed at `{ptr}`")),
            }
        }
        other => Err(format!("unknown operation `{other}`")),
    }
}
