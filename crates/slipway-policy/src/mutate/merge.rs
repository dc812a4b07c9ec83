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

//!
//! The merge works in place: the object is moved through the merge (never copied), and a
//! read-only pass ([`check`]) first finds the errors the merge would meet, so that a failing
//! merge leaves the object untouched. Whether anything changed is tracked on the way (what
//! comparing the object before and after would say), which saves a copy and a comparison of
//! the whole object per patch.

use serde_json::{Map, Value};

use super::MutateError;
use super::schema::Ty;

const DIRECTIVE: &str = "$patch";

/// Merges `patch` into `resource` in place (the top level of both is a map in practice);
/// returns whether `resource` changed. On error `resource` is unchanged.
pub(super) fn merge_document(resource: &mut Value, patch: &Value) -> Result<bool, MutateError> {
    let ty = Ty::for_object(resource);
    let mut path = String::new();
    check(Some(resource), patch, ty, &mut path)?;
    let was_null = resource.is_null();
    let mut changed = false;
    let old = std::mem::take(resource);
    match merge(Some(old), patch, ty, &mut changed) {
        Some(v) => {
            *resource = v;
            Ok(changed || was_null)
        }
        None => Ok(!was_null),
    }
}

/// The errors [`merge`] would meet, found without changing anything: the node pairs it
/// visits are the same (map fields by key, merge-list elements by [`plan_list`]).
fn check(
    dest: Option<&Value>,
    patch: &Value,
    ty: Ty,
    path: &mut String,
) -> Result<(), MutateError> {
    let dest = dest.filter(|d| !d.is_null());
    if let Some(d) = dest
        && !patch.is_null()
        && shape(d) != shape(patch)
    {
        return Err(MutateError::KindMismatch {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.clone()
            },
            patch_kind: super::kind_name(patch),
            resource_kind: super::kind_name(d),
        });
    }
    match patch {
        Value::Object(p) => {
            if matches!(
                p.get(DIRECTIVE).and_then(Value::as_str),
                Some("delete" | "replace")
            ) {
                return Ok(());
            }
            let dmap = dest.and_then(Value::as_object);
            for (key, pv) in p {
                if key == DIRECTIVE {
                    continue;
                }
                let len = path.len();
                path.push('/');
                path.push_str(key);
                let r = check(dmap.and_then(|m| m.get(key)), pv, ty.field(key), path);
                path.truncate(len);
                r?;
            }
            Ok(())
        }
        Value::Array(p) => {
            let Ty::List(list) = ty else {
                return Ok(());
            };
            if p.iter()
                .any(|v| is_marker(v, "replace") || is_marker(v, "delete"))
                || list.keys.is_empty()
            {
                return Ok(());
            }
            let original: &[Value] = dest.and_then(Value::as_array).map_or(&[], Vec::as_slice);
            let (plans, _) = plan_list(original, p, list.keys);
            let elem_ty = ty.element();
            for plan in &plans {
                if let Some(pe) = plan.patch {
                    let mut element_path = format!("{path}[{}]", plan.values.join(","));
                    check(
                        plan.dest.map(|i| &original[i]),
                        pe,
                        elem_ty,
                        &mut element_path,
                    )?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Merges one node, taking the old value by move; `None` means "remove the field".
/// `changed` is set when the result differs from a present, non-null `dest`; the caller
/// accounts for fields that appear or disappear.
fn merge(dest: Option<Value>, patch: &Value, ty: Ty, changed: &mut bool) -> Option<Value> {
    let dest = dest.filter(|d| !d.is_null());
    match patch {
        Value::Null => None,
        Value::Object(p) => merge_map(dest, p, ty, changed),
        Value::Array(p) => merge_list(dest, p, ty, changed),
        scalar => {
            if dest.as_ref().is_some_and(|d| d != scalar) {
                *changed = true;
            }
            Some(scalar.clone())
        }
    }
}

fn shape(v: &Value) -> u8 {
    match v {
        Value::Object(_) => 1,
        Value::Array(_) => 2,
        _ => 0,
    }
}

/// Replaces `dest` by `new`, noting a change against a present `dest`.
fn replace(dest: Option<Value>, new: Value, changed: &mut bool) -> Option<Value> {
    if dest.is_some_and(|d| d != new) {
        *changed = true;
    }
    Some(new)
}

fn merge_map(
    dest: Option<Value>,
    patch: &Map<String, Value>,
    ty: Ty,
    changed: &mut bool,
) -> Option<Value> {
    match patch.get(DIRECTIVE).and_then(Value::as_str) {
        Some("delete") => return None,
        Some("replace") => {
            let mut replaced = patch.clone();
            replaced.shift_remove(DIRECTIVE);
            return replace(dest, Value::Object(replaced), changed);
        }
        _ => {}
    }
    let mut out = match dest {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for (key, pv) in patch {
        if key == DIRECTIVE {
            continue;
        }
        let child_ty = ty.field(key);
        match out.get_mut(key) {
            Some(slot) => {
                let was_null = slot.is_null();
                let old = std::mem::take(slot);
                match merge(Some(old), pv, child_ty, changed) {
                    Some(v) => {
                        *changed |= was_null;
                        *slot = v;
                    }
                    None => {
                        out.shift_remove(key);
                        *changed = true;
                    }
                }
            }
            None => {
                if let Some(v) = merge(None, pv, child_ty, changed) {
                    out.insert(key.clone(), v);
                    *changed = true;
                }
            }
        }
    }
    Some(Value::Object(out))
}

/// A `{$patch: <what>}` marker element of a merge list.
fn is_marker(v: &Value, what: &str) -> bool {
    v.as_object()
        .is_some_and(|m| m.len() == 1 && m.get(DIRECTIVE).and_then(Value::as_str) == Some(what))
}

/// One keyed element of a merged list: the keys and values it is matched on, the object
/// element it merges into (index) and the overlay element merged (if any).
struct Planned<'p> {
    keys: Vec<&'static str>,
    values: Vec<String>,
    dest: Option<usize>,
    patch: Option<&'p Value>,
}

/// Pairs the elements of a merge list: the key values of every keyed element, the
/// overlay's first, then the object's, without repeats, each with the first element of
/// either list that has them. Also returns the overlay's elements without any key value.
fn plan_list<'p>(
    original: &[Value],
    patch: &'p [Value],
    keys: &'static [&'static str],
) -> (Vec<Planned<'p>>, Vec<&'p Value>) {
    let mut values: Vec<Vec<String>> = Vec::new();
    let mut keyless_patch: Vec<&'p Value> = Vec::new();
    let key_values = |element: &Value| -> Option<Vec<String>> {
        let v: Vec<String> = keys
            .iter()
            .map(|k| key_text(element, k).unwrap_or_default())
            .collect();
        (!v.iter().all(String::is_empty)).then_some(v)
    };
    for element in patch {
        match key_values(element) {
            Some(v) if !values.contains(&v) => values.push(v),
            Some(_) => {}
            None if !element.is_null() => keyless_patch.push(element),
            None => {}
        }
    }
    for element in original {
        if let Some(v) = key_values(element)
            && !values.contains(&v)
        {
            values.push(v);
        }
    }
    let plans = values
        .iter()
        .filter_map(|value| {
            let (keys, values) = valid_keys(keys, value);
            let dest = original
                .iter()
                .position(|e| element_matches(e, &keys, &values));
            let patch = find(patch, &keys, &values);
            (dest.is_some() || patch.is_some()).then_some(Planned {
                keys,
                values,
                dest,
                patch,
            })
        })
        .collect();
    (plans, keyless_patch)
}

/// A merged element waiting to be placed: its match keys and values, the value, the object
/// element it came from and whether merging changed it.
struct Added {
    keys: Vec<&'static str>,
    values: Vec<String>,
    value: Value,
    source: Option<usize>,
    changed: bool,
}

fn merge_list(dest: Option<Value>, patch: &[Value], ty: Ty, changed: &mut bool) -> Option<Value> {
    let Ty::List(list) = ty else {
        return replace(dest, Value::Array(patch.to_vec()), changed);
    };
    // A `{$patch: replace}` marker element: the overlay list (without the marker) wins.
    if patch.iter().any(|v| is_marker(v, "replace")) {
        let kept: Vec<Value> = patch
            .iter()
            .filter(|v| !is_marker(v, "replace"))
            .cloned()
            .collect();
        return replace(dest, Value::Array(kept), changed);
    }
    if patch.iter().any(|v| is_marker(v, "delete")) {
        return None;
    }
    let had_dest = dest.is_some();
    let mut out: Vec<Value> = match dest {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    if list.keys.is_empty() {
        for item in patch {
            if item.is_null() {
                continue;
            }
            let text = scalar_text(item);
            if !out.iter().any(|d| scalar_text(d) == text) {
                out.push(item.clone());
                *changed = true;
            }
        }
        return Some(Value::Array(out));
    }
    let keys = list.keys;
    let (plans, keyless_patch) = plan_list(&out, patch, keys);
    // An object element is moved into the result at its last use, copied before that.
    let mut uses = vec![0usize; out.len()];
    for plan in &plans {
        if let Some(i) = plan.dest {
            uses[i] += 1;
        }
    }
    let mut slots: Vec<Option<Value>> = out.into_iter().map(Some).collect();
    let elem_ty = ty.element();
    let mut items_to_add: Vec<Added> = Vec::new();
    for plan in plans {
        let dest_elem = plan.dest.and_then(|i| {
            uses[i] -= 1;
            if uses[i] == 0 {
                slots[i].take()
            } else {
                slots[i].clone()
            }
        });
        let source = plan.dest.filter(|_| dest_elem.is_some());
        let mut elem_changed = false;
        let merged = match (dest_elem, plan.patch) {
            (d, Some(p)) => merge(d, p, elem_ty, &mut elem_changed),
            (Some(d), None) => Some(d),
            (None, None) => continue,
        };
        match merged {
            None => {}
            Some(Value::Object(m)) if m.is_empty() => {}
            Some(mut v) => {
                if let Value::Object(m) = &mut v {
                    for (k, val) in plan.keys.iter().zip(&plan.values) {
                        if !m.contains_key(*k) {
                            m.insert((*k).to_string(), Value::String(val.clone()));
                            elem_changed = true;
                        }
                    }
                }
                set_element(
                    &mut items_to_add,
                    Added {
                        keys: plan.keys,
                        values: plan.values,
                        value: v,
                        source,
                        changed: elem_changed,
                    },
                );
            }
        }
    }
    // kustomize's strategic-merge filter (which Kyverno calls) merges with
    // `ListIncreaseDirection: Prepend`: the list is rebuilt from the merged
    // elements in overlay order, followed by the object's remaining elements
    // in their order (kyaml's `appendListNode(itemsToBeAdded, dest)`); object
    // elements without key values come last.
    let original_len = slots.len();
    let mut result: Vec<Value> = Vec::with_capacity(items_to_add.len() + keyless_patch.len());
    let mut sources: Vec<Option<usize>> = Vec::with_capacity(result.capacity());
    let mut elements_changed = false;
    for item in items_to_add {
        elements_changed |= item.changed;
        result.push(item.value);
        sources.push(item.source);
    }
    for (i, slot) in slots.into_iter().enumerate() {
        if let Some(e) = slot
            && keys
                .iter()
                .all(|k| key_text(&e, k).unwrap_or_default().is_empty())
        {
            result.push(e);
            sources.push(Some(i));
        }
    }
    for e in keyless_patch {
        result.push(e.clone());
        sources.push(None);
    }
    // The list is unchanged when every object element is back at its place, unchanged,
    // and nothing was added.
    if had_dest
        && (elements_changed
            || sources.len() != original_len
            || sources.iter().enumerate().any(|(i, s)| *s != Some(i)))
    {
        *changed = true;
    }
    Some(Value::Array(result))
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

fn set_element(items: &mut Vec<Added>, item: Added) {
    if let Some(slot) = items
        .iter_mut()
        .find(|e| element_matches(&e.value, &item.keys, &item.values))
    {
        *slot = item;
    } else {
        items.push(item);
    }
}
