//! Strategic merge of a preprocessed overlay into an object, following kustomize's kyaml
//! `merge2` (the library Kyverno calls) rather than the apimachinery implementation:
//! - maps merge recursively; an overlay `null` deletes the field; `$patch: delete` deletes the
//!   map, `$patch: replace` replaces it with the overlay (directive removed);
//! - scalars and lists without a merge strategy are replaced by the overlay's value;
//! - merge lists (see [`super::schema`]) merge elements with equal key values; the result
//!   lists the overlay's elements first, in overlay order, then the object's others
//!   (kustomize's `ListIncreaseDirection: Prepend`, as Kyverno's filter sets it); an element that merges to nothing (`$patch:
//!   delete`) is removed; a `{$patch: replace}` element makes the overlay list replace the
//!   object's list; scalar sets (`finalizers`) get the union;
//! - with two merge keys (`containerPort`+`protocol`) elements are matched on the keys whose
//!   values they have (kyaml's `validateKeys`).

use serde_json::{Map, Value};

use super::MutateError;
use super::schema::Ty;

const DIRECTIVE: &str = "$patch";

/// Merges `patch` into `resource` (the top level of both is a map in practice).
pub(super) fn merge_document(resource: &Value, patch: &Value) -> Result<Value, MutateError> {
    let ty = Ty::for_object(resource);
    Ok(merge(Some(resource), patch, ty, "")?.unwrap_or(Value::Null))
}

/// Merges one node; `None` means "remove the field".
fn merge(
    dest: Option<&Value>,
    patch: &Value,
    ty: Ty,
    path: &str,
) -> Result<Option<Value>, MutateError> {
    let dest = dest.filter(|d| !d.is_null());
    if let Some(d) = dest
        && !patch.is_null()
        && shape(d) != shape(patch)
    {
        return Err(MutateError::KindMismatch {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_string()
            },
            patch_kind: super::kind_name(patch),
            resource_kind: super::kind_name(d),
        });
    }
    match patch {
        Value::Null => Ok(None),
        Value::Object(p) => merge_map(dest.and_then(Value::as_object), p, ty, path),
        Value::Array(p) => merge_list(dest.and_then(Value::as_array), p, ty, path),
        scalar => Ok(Some(scalar.clone())),
    }
}

fn shape(v: &Value) -> u8 {
    match v {
        Value::Object(_) => 1,
        Value::Array(_) => 2,
        _ => 0,
    }
}

fn merge_map(
    dest: Option<&Map<String, Value>>,
    patch: &Map<String, Value>,
    ty: Ty,
    path: &str,
) -> Result<Option<Value>, MutateError> {
    match patch.get(DIRECTIVE).and_then(Value::as_str) {
        Some("delete") => return Ok(None),
        Some("replace") => {
            let mut replaced = patch.clone();
            replaced.shift_remove(DIRECTIVE);
            return Ok(Some(Value::Object(replaced)));
        }
        _ => {}
    }
    let mut out = dest.cloned().unwrap_or_default();
    for (key, pv) in patch {
        if key == DIRECTIVE {
            continue;
        }
        let child_path = format!("{path}/{key}");
        match merge(out.get(key), pv, ty.field(key), &child_path)? {
            Some(v) => {
                out.insert(key.clone(), v);
            }
            None => {
                out.shift_remove(key);
            }
        }
    }
    Ok(Some(Value::Object(out)))
}

fn merge_list(
    dest: Option<&Vec<Value>>,
    patch: &[Value],
    ty: Ty,
    path: &str,
) -> Result<Option<Value>, MutateError> {
    let Ty::List(list) = ty else {
        return Ok(Some(Value::Array(patch.to_vec())));
    };
    // A `{$patch: replace}` marker element: the overlay list (without the marker) wins.
    let is_marker = |v: &Value, what: &str| {
        v.as_object()
            .is_some_and(|m| m.len() == 1 && m.get(DIRECTIVE).and_then(Value::as_str) == Some(what))
    };
    if patch.iter().any(|v| is_marker(v, "replace")) {
        let kept: Vec<Value> = patch
            .iter()
            .filter(|v| !is_marker(v, "replace"))
            .cloned()
            .collect();
        return Ok(Some(Value::Array(kept)));
    }
    if patch.iter().any(|v| is_marker(v, "delete")) {
        return Ok(None);
    }
    let mut out: Vec<Value> = dest.cloned().unwrap_or_default();
    if list.keys.is_empty() {
        for item in patch {
            if item.is_null() {
                continue;
            }
            let text = scalar_text(item);
            if !out.iter().any(|d| scalar_text(d) == text) {
                out.push(item.clone());
            }
        }
        return Ok(Some(Value::Array(out)));
    }
    let keys = list.keys;
    let original = out.clone();
    // Key values of every keyed element, the overlay's first, then the object's, without repeats.
    // Elements without any key value stay where they are (object) or are appended (overlay).
    let mut values: Vec<Vec<String>> = Vec::new();
    let mut keyless_patch: Vec<Value> = Vec::new();
    // Prepend order (see below): the overlay's elements first, then the object's.
    for (element, from_patch) in patch
        .iter()
        .map(|e| (e, true))
        .chain(original.iter().map(|e| (e, false)))
    {
        let v: Vec<String> = keys
            .iter()
            .map(|k| key_text(element, k).unwrap_or_default())
            .collect();
        if v.iter().all(String::is_empty) {
            if from_patch && !element.is_null() {
                keyless_patch.push(element.clone());
            }
            continue;
        }
        if !values.contains(&v) {
            values.push(v);
        }
    }
    let elem_ty = ty.element();
    let mut items_to_add: Vec<(Vec<&'static str>, Vec<String>, Value)> = Vec::new();
    for value in &values {
        let (valid_keys, valid_values) = valid_keys(keys, value);
        let dest_elem = find(&original, &valid_keys, &valid_values);
        let patch_elem = find(patch, &valid_keys, &valid_values);
        let element_path = format!("{path}[{}]", valid_values.join(","));
        let merged = match (dest_elem, patch_elem) {
            (_, Some(p)) => merge(dest_elem, p, elem_ty, &element_path)?,
            (Some(d), None) => Some(d.clone()),
            (None, None) => continue,
        };
        match merged {
            None => remove_matching(&mut out, &valid_keys, &valid_values),
            Some(Value::Object(m)) if m.is_empty() => {
                remove_matching(&mut out, &valid_keys, &valid_values)
            }
            Some(mut v) => {
                if let Value::Object(m) = &mut v {
                    for (k, val) in valid_keys.iter().zip(&valid_values) {
                        if !m.contains_key(*k) {
                            m.insert((*k).to_string(), Value::String(val.clone()));
                        }
                    }
                }
                set_element(&mut items_to_add, valid_keys, valid_values, v);
            }
        }
    }
    // kustomize's strategic-merge filter (which Kyverno calls) merges with
    // `ListIncreaseDirection: Prepend`: the list is rebuilt from the merged
    // elements in overlay order, followed by the object's remaining elements
    // in their order (kyaml's `appendListNode(itemsToBeAdded, dest)`); object
    // elements without key values come last.
    let mut result: Vec<Value> = items_to_add.into_iter().map(|(_, _, v)| v).collect();
    result.extend(out.into_iter().filter(|e| {
        keys.iter()
            .all(|k| key_text(e, k).unwrap_or_default().is_empty())
    }));
    result.extend(keyless_patch);
    Ok(Some(Value::Array(result)))
}

/// kyaml's `validateKeys`: keep the keys whose value is known; if none is, keep them all.
fn valid_keys(
    keys: &'static [&'static str],
    values: &[String],
) -> (Vec<&'static str>, Vec<String>) {
    let mut k = Vec::new();
    let mut v = Vec::new();
    for (key, value) in keys.iter().zip(values) {
        if !value.is_empty() {
            k.push(*key);
            v.push(value.clone());
        }
    }
    if k.is_empty() {
        return (keys.to_vec(), values.to_vec());
    }
    (k, v)
}

fn key_text(element: &Value, key: &str) -> Option<String> {
    match element.get(key)? {
        Value::Null => None,
        Value::Object(_) | Value::Array(_) => None,
        v => {
            let t = scalar_text(v);
            (!t.is_empty()).then_some(t)
        }
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn element_matches(element: &Value, keys: &[&str], values: &[String]) -> bool {
    element.is_object()
        && keys
            .iter()
            .zip(values)
            .all(|(k, v)| key_text(element, k).unwrap_or_default() == *v)
}

fn find<'a>(list: &'a [Value], keys: &[&str], values: &[String]) -> Option<&'a Value> {
    list.iter().find(|e| element_matches(e, keys, values))
}

fn remove_matching(list: &mut Vec<Value>, keys: &[&str], values: &[String]) {
    list.retain(|e| !element_matches(e, keys, values));
}

fn set_element(
    items: &mut Vec<(Vec<&'static str>, Vec<String>, Value)>,
    keys: Vec<&'static str>,
    values: Vec<String>,
    item: Value,
) {
    if let Some(slot) = items
        .iter_mut()
        .find(|(_, _, e)| element_matches(e, &keys, &values))
    {
        slot.2 = item;
    } else {
        items.push((keys, values, item));
    }
}
