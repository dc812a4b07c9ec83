//! Kyverno's preprocessing of a `patchStrategicMerge` overlay (its `strategicPreprocessing.go`).
//!
//! The overlay is rewritten against the original object before merging:
//! - `+(key)`: dropped when the object already has `key`, otherwise renamed to `key`;
//! - `(key)` / `<(key)`: checked with the validate matcher; a failing condition in a map
//!   aborts the whole overlay, inside a list of maps it only skips that resource element;
//!   a failing global condition aborts the whole overlay unless another element satisfies it;
//! - a list element carrying anchors is expanded into one copy per matching resource
//!   element, named after it (so the merge by `name` targets it), and the anchored original
//!   is removed;
//! - anchors are then stripped, and maps/lists left empty by that are pruned.
//!
//! The rewriting mutates a working copy in the same order as Kyverno so that its quirks carry
//! over (for instance `+(key)` inside a list element is resolved against the first resource
//! element only, because the same working copy is reused for the following ones).

use serde_json::{Map, Value};

use super::MutateError;
use super::anchor::{self, Anchor, AnchorKind};
use super::condition;

/// How preprocessing stopped early.
enum Stop {
    /// A `(key)` condition did not hold.
    Condition,
    /// A `<(key)` condition did not hold.
    Global,
    /// A real error: the rule errors.
    Error(MutateError),
}

/// Returns the overlay to merge: `{}` when a condition made the whole overlay inapplicable.
pub(super) fn preprocess(overlay: &Value, resource: &Value) -> Result<Value, MutateError> {
    let mut pattern = overlay.clone();
    match recurse(&mut pattern, Some(resource), &mut String::new()) {
        Ok(()) => {}
        Err(Stop::Condition | Stop::Global) => return Ok(Value::Object(Map::new())),
        Err(Stop::Error(e)) => return Err(e),
    }
    let Value::Object(map) = &mut pattern else {
        return Err(MutateError::Preprocess {
            path: "/".into(),
            reason: format!(
                "the overlay must be a map, not a {}",
                super::kind_name(&pattern)
            ),
        });
    };
    delete_condition_elements(map);
    Ok(pattern)
}

fn recurse(pattern: &mut Value, resource: Option<&Value>, path: &mut String) -> Result<(), Stop> {
    match pattern {
        Value::Object(_) => walk_map(pattern, resource, path),
        Value::Array(items) => {
            if items.first().is_some_and(Value::is_object) {
                process_list_of_maps(items, resource, path)
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

fn walk_map(pattern: &mut Value, resource: Option<&Value>, path: &mut String) -> Result<(), Stop> {
    handle_add_if_not_present(pattern, resource);
    let Value::Object(map) = pattern else {
        return Ok(());
    };
    validate_conditions(map, resource)?;
    // Children change, this map's keys do not: walk it in place.
    for (key, child) in map.iter_mut() {
        if anchor::is(key, anchor::is_mutation_anchor) {
            continue;
        }
        let child_resource = resource
            .and_then(|r| r.as_object())
            .and_then(|r| r.get(key));
        let len = path.len();
        path.push('/');
        path.push_str(key);
        let r = recurse(child, child_resource, path);
        path.truncate(len);
        r?;
    }
    Ok(())
}

/// Drops `+(key)` entries whose key the resource has, renames the others to `key`.
/// Returns how many `+()` anchors the map held.
fn handle_add_if_not_present(pattern: &mut Value, resource: Option<&Value>) -> usize {
    let Value::Object(map) = pattern else {
        return 0;
    };
    let anchors: Vec<String> = map
        .keys()
        .filter(|k| anchor::is(k, |a: &Anchor<'_>| a.kind == AnchorKind::AddIfNotPresent))
        .cloned()
        .collect();
    if anchors.is_empty() {
        return 0;
    }
    let resource_map = resource.and_then(Value::as_object);
    let old = std::mem::take(map);
    for (k, v) in old {
        match anchor::parse(&k) {
            Some(a) if a.kind == AnchorKind::AddIfNotPresent => {
                if resource_map.is_some_and(|r| r.contains_key(a.key)) {
                    continue;
                }
                map.insert(a.key.to_string(), v);
            }
            _ => {
                map.insert(k, v);
            }
        }
    }
    anchors.len()
}

fn validate_conditions(map: &mut Map<String, Value>, resource: Option<&Value>) -> Result<(), Stop> {
    if !conditions_hold(map, resource, AnchorKind::Global) {
        return Err(Stop::Global);
    }
    if !conditions_hold(map, resource, AnchorKind::Condition) {
        return Err(Stop::Condition);
    }
    Ok(())
}

fn conditions_hold(
    map: &mut Map<String, Value>,
    resource: Option<&Value>,
    kind: AnchorKind,
) -> bool {
    let keys: Vec<String> = map
        .keys()
        .filter(|k| anchor::is(k, |a: &Anchor<'_>| a.kind == kind))
        .cloned()
        .collect();
    for key in keys {
        let Some(a) = anchor::parse(&key) else {
            continue;
        };
        let Some(resource_value) = resource
            .and_then(Value::as_object)
            .and_then(|r| r.get(a.key))
        else {
            return false;
        };
        let Some(pattern_value) = map.get_mut(&key) else {
            continue;
        };
        // Kyverno treats a condition whose value holds `+()` anchors as satisfied once those
        // anchors are resolved, without matching the rest of it.
        if handle_add_if_not_present(pattern_value, Some(resource_value)) > 0 {
            continue;
        }
        if !condition::matches(resource_value, pattern_value) {
            return false;
        }
    }
    true
}

fn process_list_of_maps(
    pattern: &mut Vec<Value>,
    resource: Option<&Value>,
    path: &mut String,
) -> Result<(), Stop> {
    let resource_elements: &[Value] = match resource {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(Stop::Error(MutateError::Preprocess {
                path: path.clone(),
                reason: format!(
                    "the overlay has a list where the resource has a {}",
                    super::kind_name(other)
                ),
            }));
        }
    };
    let originals = pattern.len();
    for index in 0..originals {
        let element = pattern[index].clone();
        if !has_anchors(&element, &anchor::is_mutation_anchor) {
            continue;
        }
        let has_global = has_anchors(&element, &|a: &Anchor<'_>| a.kind == AnchorKind::Global);
        let mut working = element;
        let mut any_global_passed = false;
        let mut global_failed = false;
        for resource_element in resource_elements {
            match recurse(&mut working, Some(resource_element), path) {
                Ok(()) => {}
                Err(Stop::Condition) => continue,
                Err(Stop::Global) => {
                    global_failed = true;
                    continue;
                }
                Err(e @ Stop::Error(_)) => return Err(e),
            }
            if has_global {
                any_global_passed = true;
            } else {
                add_named_copy(pattern, &working, resource_element);
            }
        }
        if resource.is_none() {
            match recurse(&mut working, None, path) {
                Ok(()) => {
                    if has_global {
                        any_global_passed = true;
                    }
                }
                Err(Stop::Condition) => continue,
                Err(e) => return Err(e),
            }
        }
        if !any_global_passed && global_failed {
            return Err(Stop::Global);
        }
    }
    Ok(())
}

/// Appends a copy of the processed element, anchors removed, named after the resource element.
fn add_named_copy(pattern: &mut Vec<Value>, working: &Value, resource_element: &Value) {
    let name = match resource_element.get("name") {
        None | Some(Value::Null) => return,
        Some(Value::Object(m)) if m.is_empty() => return,
        Some(Value::Array(a)) if a.is_empty() => return,
        Some(name) => name.clone(),
    };
    let mut copy = working.clone();
    if delete_anchors(&mut copy, true) {
        return;
    }
    if let Value::Object(map) = &mut copy {
        map.insert("name".to_string(), name);
        pattern.push(copy);
    }
}

/// Kyverno's `hasAnchors`: an anchor key satisfying `pred` anywhere below, or a scalar string
/// that itself parses as a condition/global anchor.
fn has_anchors(node: &Value, pred: &dyn Fn(&Anchor<'_>) -> bool) -> bool {
    match node {
        Value::Object(map) => map.iter().any(|(k, v)| {
            anchor::parse(k).is_some_and(|a| pred(&a))
                || (!is_nil_or_empty(v) && has_anchors(v, pred))
        }),
        Value::Array(items) => items.iter().any(|i| has_anchors(i, pred)),
        Value::String(s) => anchor::is(s, anchor::is_condition_or_global),
        _ => false,
    }
}

fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn delete_condition_elements(map: &mut Map<String, Value>) {
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let delete_scalar = anchor::is(&key, anchor::is_condition_or_global);
        let remove = map
            .get_mut(&key)
            .is_some_and(|v| delete_anchors(v, delete_scalar));
        if remove {
            map.shift_remove(&key);
        }
    }
}

/// Strips condition anchors; returns `true` when the node is left with nothing to apply.
fn delete_anchors(node: &mut Value, delete_scalar: bool) -> bool {
    match node {
        Value::Object(map) => delete_anchors_in_map(map),
        Value::Array(items) => delete_anchors_in_list(items),
        _ => delete_scalar,
    }
}

fn delete_anchors_in_map(map: &mut Map<String, Value>) -> bool {
    let anchors: Vec<String> = map
        .keys()
        .filter(|k| anchor::is(k, anchor::is_condition_or_global))
        .cloned()
        .collect();
    let mut anchors_exist = false;
    for key in anchors {
        let remove = map.get_mut(&key).is_some_and(|v| delete_anchors(v, true));
        if remove {
            map.shift_remove(&key);
        } else {
            anchors_exist = true;
        }
    }
    if anchors_exist {
        let old = std::mem::take(map);
        for (k, v) in old {
            match anchor::parse(&k) {
                Some(a) if anchor::is_condition_or_global(&a) => {
                    map.insert(a.key.to_string(), v);
                }
                _ => {
                    map.insert(k, v);
                }
            }
        }
    }
    let mut need_to_delete = true;
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let remove = map.get_mut(&key).is_some_and(|v| delete_anchors(v, false));
        if remove {
            map.shift_remove(&key);
        } else {
            need_to_delete = false;
        }
    }
    need_to_delete
}

fn delete_anchors_in_list(items: &mut Vec<Value>) -> bool {
    let was_empty = items.is_empty();
    // Kyverno walks a snapshot of the elements but deletes by the snapshot's index from the
    // live list, so after a deletion later indices point one further. Mirror that.
    let snapshot_len = items.len();
    let mut live_ids: Vec<usize> = (0..snapshot_len).collect();
    let mut removed: Vec<(usize, Value)> = Vec::new();
    for index in 0..snapshot_len {
        let element: &mut Value = match live_ids.iter().position(|&id| id == index) {
            Some(p) => &mut items[p],
            // Already dropped from the live list by a shifted deletion: Kyverno still
            // evaluates its (detached) node.
            None => match removed.iter_mut().find(|(id, _)| *id == index) {
                Some((_, v)) => v,
                None => continue,
            },
        };
        let delete = if has_anchors(element, &anchor::is_mutation_anchor) {
            true
        } else {
            delete_anchors(element, false)
        };
        if delete && index < items.len() {
            let value = items.remove(index);
            let id = live_ids.remove(index);
            removed.push((id, value));
        }
    }
    items.is_empty() && !was_empty
}
