//! The recursive walk of a validate pattern over a resource (`pkg/engine/validate`).
//!
//! The walk mirrors Kyverno's error plumbing because the rule status depends on it:
//! conditional (`(k)`) and global (`<(k)`) anchor mismatches are "skip" errors, a negation
//! (`X(k)`) match is a "fail" error, and everything else is a plain error. A list whose
//! elements were all skipped returns a list-level skip, which propagates like the anchor
//! errors it combines (Kyverno's own tests expect a rule skip when the only container is
//! excluded by a conditional or global anchor).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::anchor::{self, AnchorKind};
use super::leaf::leaf_matches;
use crate::wildcard;

static NULL: Value = Value::Null;

/// How an error propagates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrKind {
    /// A conditional anchor did not hold.
    Conditional,
    /// A global anchor did not hold.
    Global,
    /// A negation anchor matched.
    Negation,
    /// Every element of a list was skipped.
    ListSkip,
    /// Any other mismatch.
    Plain,
}

/// An error of the walk: its kind, the path Kyverno reports, and Kyverno's message.
#[derive(Debug, Clone)]
pub(crate) struct WalkError {
    pub kind: ErrKind,
    pub path: String,
    pub message: String,
}

impl WalkError {
    fn plain(path: &str, message: String) -> WalkError {
        WalkError {
            kind: ErrKind::Plain,
            path: path.to_string(),
            message,
        }
    }

    pub(crate) fn is_skip(&self) -> bool {
        matches!(
            self.kind,
            ErrKind::Conditional | ErrKind::Global | ErrKind::ListSkip
        )
    }
}

/// State shared by one walk: Kyverno's `AnchorMap`, recording for every conditional,
/// existence and negation anchor key seen in a visited pattern map whether any visited
/// resource map had that key.
#[derive(Default)]
pub(crate) struct Walker {
    anchors: Vec<(String, bool)>,
}

impl Walker {
    /// Whether some tracked anchor key never occurred in the resource (`KeysAreMissing`).
    pub fn keys_are_missing(&self) -> bool {
        self.anchors.iter().any(|(_, found)| !found)
    }

    fn check_anchors_in_resource(
        &mut self,
        pattern: &Map<String, Value>,
        resource: &Map<String, Value>,
    ) {
        for key in pattern.keys() {
            let Some(a) = anchor::parse(key) else {
                continue;
            };
            if !anchor::is_tracked(a.kind) {
                continue;
            }
            let present = resource.contains_key(a.key);
            match self.anchors.iter_mut().find(|(k, _)| k == key) {
                Some((_, found)) => *found |= present,
                None => self.anchors.push((key.clone(), present)),
            }
        }
    }

    /// `validateResourceElement`.
    pub fn element(
        &mut self,
        resource: &Value,
        pattern: &Value,
        path: &mut String,
    ) -> Result<(), WalkError> {
        match pattern {
            Value::Object(pmap) => {
                let Value::Object(rmap) = resource else {
                    return Err(WalkError::plain(
                        path,
                        format!(
                            "pattern and resource have different structures. Path: {path}. Expected {}, found {}",
                            go_type(pattern),
                            go_type(resource)
                        ),
                    ));
                };
                self.check_anchors_in_resource(pmap, rmap);
                self.map(rmap, pmap, path)
            }
            Value::Array(parr) => {
                let Value::Array(rarr) = resource else {
                    return Err(WalkError::plain(
                        path,
                        format!(
                            "validation rule failed at path {path}, resource does not satisfy the expected overlay pattern"
                        ),
                    ));
                };
                self.array(rarr, parr, path)
            }
            _ => {
                let ok = match resource {
                    Value::Array(items) => items.iter().all(|item| leaf_matches(item, pattern)),
                    _ => leaf_matches(resource, pattern),
                };
                if ok {
                    Ok(())
                } else {
                    Err(WalkError::plain(
                        path,
                        format!(
                            "resource value '{}' does not match '{}' at path {path}",
                            go_print(resource),
                            go_print(pattern)
                        ),
                    ))
                }
            }
        }
    }

    /// `validateMap`: phase one runs the condition/existence/equality/negation anchors in
    /// sorted key order; phase two the other keys, global anchors and keys with anchors
    /// below them first (in reverse sorted order, as Kyverno pushes them to the front of
    /// a list), then the remaining keys in sorted order.
    fn map(
        &mut self,
        resource: &Map<String, Value>,
        pattern: &Map<String, Value>,
        path: &mut String,
    ) -> Result<(), WalkError> {
        let pattern = expand_metadata_wildcards(pattern, resource);
        let pattern: &Map<String, Value> = &pattern;

        let mut phase_one: Vec<(&str, &Value)> = Vec::new();
        let mut rest: Vec<(&str, &Value)> = Vec::with_capacity(pattern.len());
        for (key, value) in pattern {
            match anchor::parse(key) {
                Some(a) if anchor::is_phase_one(a.kind) => phase_one.push((key, value)),
                _ => rest.push((key, value)),
            }
        }
        phase_one.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, value) in phase_one {
            self.handle(key, value, resource, path)?;
        }

        rest.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut front: Vec<(&str, &Value)> = Vec::new();
        let mut back: Vec<(&str, &Value)> = Vec::with_capacity(rest.len());
        for (key, value) in rest {
            let global = matches!(anchor::parse(key), Some(a) if a.kind == AnchorKind::Global);
            if global || has_nested_anchors(value) {
                front.push((key, value));
            } else {
                back.push((key, value));
            }
        }
        for (key, value) in front.into_iter().rev().chain(back) {
            self.handle(key, value, resource, path)?;
        }
        Ok(())
    }

    /// One map entry, dispatched on its anchor (Kyverno's element handlers).
    fn handle(
        &mut self,
        key: &str,
        pattern: &Value,
        resource: &Map<String, Value>,
        path: &mut String,
    ) -> Result<(), WalkError> {
        let parent_len = path.len();
        let parsed = anchor::parse(key);
        let kind = parsed.map(|a| a.kind);
        let result = match (kind, parsed) {
            (Some(AnchorKind::Condition), Some(a)) => {
                push_key(path, a.key);
                match resource.get(a.key) {
                    Some(value) => self.element(value, pattern, path).map_err(|e| WalkError {
                        kind: ErrKind::Conditional,
                        path: e.path,
                        message: format!("conditional anchor mismatch: {}", e.message),
                    }),
                    None => Err(WalkError {
                        kind: ErrKind::Conditional,
                        path: path.clone(),
                        message: "conditional anchor mismatch: conditional anchor key doesn't exist in the resource"
                            .to_string(),
                    }),
                }
            }
            (Some(AnchorKind::Global), Some(a)) => {
                push_key(path, a.key);
                match resource.get(a.key) {
                    Some(value) => self.element(value, pattern, path).map_err(|e| WalkError {
                        kind: ErrKind::Global,
                        path: e.path,
                        message: format!("global anchor mismatch: {}", e.message),
                    }),
                    None => Ok(()),
                }
            }
            (Some(AnchorKind::Existence), Some(a)) => {
                push_key(path, a.key);
                match resource.get(a.key) {
                    Some(value) => self.existence(value, pattern, path),
                    None => Ok(()),
                }
            }
            (Some(AnchorKind::Equality), Some(a)) => {
                push_key(path, a.key);
                match resource.get(a.key) {
                    Some(value) => self.element(value, pattern, path),
                    None => Ok(()),
                }
            }
            (Some(AnchorKind::Negation), Some(a)) => {
                push_key(path, a.key);
                if resource.contains_key(a.key) {
                    Err(WalkError {
                        kind: ErrKind::Negation,
                        path: path.clone(),
                        message: format!(
                            "negation anchor matched in resource: {path} is not allowed"
                        ),
                    })
                } else {
                    Ok(())
                }
            }
            // Plain keys, and `+(key)` which validation treats as a literal key.
            _ => {
                let value = resource.get(key).unwrap_or(&NULL);
                if matches!(pattern, Value::String(s) if s == "*") {
                    if value.is_null() {
                        Err(WalkError::plain(path, format!("{path}/{key} not found")))
                    } else {
                        Ok(())
                    }
                } else {
                    push_key(path, key);
                    self.element(value, pattern, path)
                }
            }
        };
        path.truncate(parent_len);
        result
    }

    /// `^(key)`: every pattern map must match at least one element of the resource list.
    fn existence(
        &mut self,
        value: &Value,
        pattern: &Value,
        path: &mut String,
    ) -> Result<(), WalkError> {
        let Value::Array(items) = value else {
            return Err(WalkError::plain(
                path,
                format!(
                    "invalid resource type {}: Existence ^ () anchor can be used only on list/array type resource",
                    go_type(value)
                ),
            ));
        };
        let Value::Array(pattern_items) = pattern else {
            return Err(WalkError::plain(
                path,
                format!(
                    "invalid pattern type {}: Pattern has to be of list to compare against resource",
                    go_type(pattern)
                ),
            ));
        };
        for pattern_item in pattern_items {
            if !pattern_item.is_object() {
                return Err(WalkError::plain(
                    path,
                    format!(
                        "invalid pattern type {}: Pattern has to be of type map to compare against items in resource",
                        go_type(pattern)
                    ),
                ));
            }
            let base_len = path.len();
            let mut found = false;
            for (i, item) in items.iter().enumerate() {
                push_index(path, i);
                let ok = self.element(item, pattern_item, path).is_ok();
                path.truncate(base_len);
                if ok {
                    found = true;
                    break;
                }
            }
            if !found {
                return Err(WalkError::plain(
                    path,
                    format!("existence anchor validation failed at path {path}"),
                ));
            }
        }
        Ok(())
    }

    /// `validateArray`: the first pattern element decides how the list is checked.
    fn array(
        &mut self,
        resource: &[Value],
        pattern: &[Value],
        path: &mut String,
    ) -> Result<(), WalkError> {
        let Some(first) = pattern.first() else {
            return Err(WalkError::plain(path, "pattern Array empty".to_string()));
        };
        match first {
            Value::Object(_) => self.array_of_maps(resource, first, path),
            Value::Array(_) => self.positional(resource, pattern, path),
            scalar => {
                // Every element must satisfy the scalar (checked on the list as a whole).
                let ok = resource.iter().all(|item| leaf_matches(item, scalar));
                if ok {
                    Ok(())
                } else {
                    Err(WalkError::plain(
                        path,
                        format!(
                            "resource value '{}' does not match '{}' at path {path}",
                            go_print_list(resource),
                            go_print(scalar)
                        ),
                    ))
                }
            }
        }
    }

    fn array_of_maps(
        &mut self,
        resource: &[Value],
        pattern: &Value,
        path: &mut String,
    ) -> Result<(), WalkError> {
        let base_len = path.len();
        let mut applied = 0usize;
        let mut skips: Vec<String> = Vec::new();
        for (i, item) in resource.iter().enumerate() {
            push_index(path, i);
            let result = self.element(item, pattern, path);
            path.truncate(base_len);
            match result {
                Ok(()) => applied += 1,
                Err(e) if e.is_skip() => skips.push(e.message),
                Err(e) => return Err(e),
            }
        }
        list_outcome(applied, skips, path)
    }

    fn positional(
        &mut self,
        resource: &[Value],
        pattern: &[Value],
        path: &mut String,
    ) -> Result<(), WalkError> {
        if resource.len() < pattern.len() {
            // Kyverno returns this error without a path, which makes the rule an error.
            return Err(WalkError::plain(
                "",
                format!(
                    "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                    resource.len(),
                    pattern.len()
                ),
            ));
        }
        let base_len = path.len();
        let mut applied = 0usize;
        let mut skips: Vec<String> = Vec::new();
        for (i, pattern_item) in pattern.iter().enumerate() {
            push_index(path, i);
            let result = self.element(&resource[i], pattern_item, path);
            path.truncate(base_len);
            match result {
                Ok(()) => applied += 1,
                Err(e) if e.is_skip() => skips.push(e.message),
                Err(e) => return Err(e),
            }
        }
        list_outcome(applied, skips, path)
    }
}

fn list_outcome(applied: usize, skips: Vec<String>, path: &str) -> Result<(), WalkError> {
    if applied == 0 && !skips.is_empty() {
        return Err(WalkError {
            kind: ErrKind::ListSkip,
            path: path.to_string(),
            message: skips.join("; "),
        });
    }
    Ok(())
}

fn push_key(path: &mut String, key: &str) {
    path.push_str(key);
    path.push('/');
}

fn push_index(path: &mut String, i: usize) {
    use std::fmt::Write;
    let _ = write!(path, "{i}/");
}

/// Kyverno's `hasNestedAnchors`: the value is (or contains) a map with an anchored key.
fn has_nested_anchors(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, v)| {
            matches!(anchor::parse(key), Some(a) if a.kind != AnchorKind::AddIfNotPresent)
                || has_nested_anchors(v)
        }),
        Value::Array(items) => items.iter().any(has_nested_anchors),
        _ => false,
    }
}

/// Kyverno's `ExpandInMetadata`: wildcard keys under `metadata.labels` and
/// `metadata.annotations` of the pattern are replaced by the first resource key they match
/// (resource keys tried in sorted order; Go's map order is random), keeping anchors.
fn expand_metadata_wildcards<'p>(
    pattern: &'p Map<String, Value>,
    resource: &Map<String, Value>,
) -> Cow<'p, Map<String, Value>> {
    let Some((meta_key, Value::Object(pattern_meta))) = find_tag(pattern, "metadata") else {
        return Cow::Borrowed(pattern);
    };
    let Some(Value::Object(resource_meta)) = resource.get("metadata") else {
        return Cow::Borrowed(pattern);
    };
    let mut new_meta: Option<Map<String, Value>> = None;
    for tag in ["labels", "annotations"] {
        let Some((tag_key, Value::Object(pattern_tag))) = find_tag(pattern_meta, tag) else {
            continue;
        };
        if !pattern_tag.keys().any(|k| wildcard::contains_wildcard(k)) {
            continue;
        }
        let Some((_, Value::Object(resource_tag))) = find_tag(resource_meta, tag) else {
            continue;
        };
        let mut resource_keys: Vec<&String> = resource_tag.keys().collect();
        resource_keys.sort_unstable();
        let mut expanded = Map::with_capacity(pattern_tag.len());
        for (k, v) in pattern_tag {
            if !wildcard::contains_wildcard(k) {
                expanded.insert(k.clone(), v.clone());
                continue;
            }
            let new_key = match anchor::parse(k) {
                Some(a) => {
                    let matched = first_match(a.key, &resource_keys).unwrap_or(a.key);
                    format!("{}({matched})", anchor_prefix(a.kind))
                }
                None => first_match(k, &resource_keys).unwrap_or(k).to_string(),
            };
            expanded.insert(new_key, v.clone());
        }
        new_meta
            .get_or_insert_with(|| pattern_meta.clone())
            .insert(tag_key.to_string(), Value::Object(expanded));
    }
    match new_meta {
        Some(meta) => {
            let mut new_pattern = pattern.clone();
            new_pattern.insert(meta_key.to_string(), Value::Object(meta));
            Cow::Owned(new_pattern)
        }
        None => Cow::Borrowed(pattern),
    }
}

fn first_match<'a>(pattern: &str, keys: &[&'a String]) -> Option<&'a str> {
    keys.iter()
        .find(|k| wildcard::matches(pattern, k))
        .map(|k| k.as_str())
}

fn anchor_prefix(kind: AnchorKind) -> &'static str {
    match kind {
        AnchorKind::Condition => "",
        AnchorKind::Global => "<",
        AnchorKind::Existence => "^",
        AnchorKind::Equality => "=",
        AnchorKind::Negation => "X",
        AnchorKind::AddIfNotPresent => "+",
    }
}

/// Kyverno's `getPatternValue`: the entry named `tag`, plain or anchored.
fn find_tag<'a>(map: &'a Map<String, Value>, tag: &str) -> Option<(&'a str, &'a Value)> {
    if let Some((k, v)) = map.get_key_value(tag) {
        return Some((k.as_str(), v));
    }
    map.iter()
        .find(|(k, _)| matches!(anchor::parse(k), Some(a) if a.key == tag))
        .map(|(k, v)| (k.as_str(), v))
}

/// Go's `%T` for decoded JSON, used in Kyverno's messages.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%v` for decoded JSON (approximate for maps: keys in document order).
fn go_print(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) => go_print_float(f),
            None => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => go_print_list(items),
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_print(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

fn go_print_list(items: &[Value]) -> String {
    let parts: Vec<String> = items.iter().map(go_print).collect();
    format!("[{}]", parts.join(" "))
}

/// Go's `%v` of a float64: shortest form, exponent notation from 1e21 or below 1e-4.
fn go_print_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        let e = super::leaf::go_format_e(f);
        return e.replace('E', "e");
    }
    format!("{f}")
}
