//! RFC 6902 JSON Patch as Kyverno applies it (evanphx/json-patch v5 with
//! `SupportNegativeIndices`, `AllowMissingPathOnRemove` and `EnsurePathExistsOnAdd`):
//! - `add` creates missing parents: an array when the next path token is an index or `-`
//!   (padded with `null` up to the index), an object otherwise; a `null` parent counts as
//!   missing;
//! - `remove` of a path whose parent, key or index does not exist does nothing;
//! - negative indices count from the end (`-1` is the last element, or "append" for `add`);
//! - `~1` decodes to `/` and `~0` to `~`; array tokens are parsed like Go's `strconv.Atoi`.

use serde_json::Value;

use super::MutateError;

/// Parses the `patchesJson6902` text: JSON when it starts with `[`, YAML otherwise.
pub(super) fn parse_patch(text: &str) -> Result<Vec<Value>, MutateError> {
    let value: Value = if text.starts_with('[') {
        serde_json::from_str(text).map_err(|e| MutateError::PatchSyntax {
            reason: e.to_string(),
        })?
    } else if text.trim().is_empty() {
        return Ok(Vec::new());
    } else {
        serde_saphyr::from_str(text).map_err(|e| MutateError::PatchSyntax {
            reason: e.to_string(),
        })?
    };
    match value {
        Value::Array(ops) => Ok(ops),
        Value::Null => Ok(Vec::new()),
        _ => Err(MutateError::PatchNotAList),
    }
}

/// One validated operation.
enum Op<'a> {
    Add { path: &'a str, value: &'a Value },
    Remove { path: &'a str },
    Replace { path: &'a str, value: &'a Value },
    Move { from: &'a str, path: &'a str },
    Copy { from: &'a str, path: &'a str },
    Test { path: &'a str, value: &'a Value },
}

fn decode(index: usize, op: &Value) -> Result<Op<'_>, MutateError> {
    let invalid = |reason: &str| MutateError::InvalidOperation {
        index,
        reason: reason.to_string(),
    };
    let Value::Object(map) = op else {
        return Err(invalid("an operation must be a map"));
    };
    let kind = map.get("op").and_then(Value::as_str).unwrap_or("unknown");
    let value = map.get("value");
    let from = map.get("from");
    let path = match map.get("path") {
        Some(Value::String(p)) => Some(p.as_str()),
        Some(_) => return Err(invalid("'path' must be a string")),
        None => None,
    };
    let need_value = || value.ok_or_else(|| invalid("missing 'value'"));
    let need_from = || match from {
        Some(Value::String(f)) => Ok(f.as_str()),
        Some(_) => Err(invalid("'from' must be a string")),
        None => Err(invalid("missing 'from'")),
    };
    let need_path = || path.ok_or_else(|| invalid("missing 'path'"));
    Ok(match kind {
        "add" => Op::Add {
            value: need_value()?,
            path: need_path()?,
        },
        "replace" => Op::Replace {
            value: need_value()?,
            path: need_path()?,
        },
        "remove" => Op::Remove { path: need_path()? },
        "move" => Op::Move {
            from: need_from()?,
            path: need_path()?,
        },
        "copy" => Op::Copy {
            from: need_from()?,
            path: need_path()?,
        },
        "test" => Op::Test {
            value: value.unwrap_or(&Value::Null),
            path: need_path()?,
        },
        other => return Err(invalid(&format!("unsupported operation '{other}'"))),
    })
}

/// Applies the operations in order to a copy of `doc`.
pub(super) fn apply(doc: &Value, ops: &[Value]) -> Result<Value, MutateError> {
    // Validate every operation first, as the Go library does when decoding the patch.
    let decoded: Vec<Op<'_>> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| decode(i, op))
        .collect::<Result<_, _>>()?;
    let mut doc = doc.clone();
    for (index, op) in decoded.iter().enumerate() {
        let (name, path) = match op {
            Op::Add { path, .. } => ("add", *path),
            Op::Remove { path } => ("remove", *path),
            Op::Replace { path, .. } => ("replace", *path),
            Op::Move { path, .. } => ("move", *path),
            Op::Copy { path, .. } => ("copy", *path),
            Op::Test { path, .. } => ("test", *path),
        };
        apply_one(&mut doc, op).map_err(|reason| MutateError::OperationFailed {
            index,
            op: name.to_string(),
            path: path.to_string(),
            reason,
        })?;
    }
    Ok(doc)
}

fn apply_one(doc: &mut Value, op: &Op<'_>) -> Result<(), String> {
    match *op {
        Op::Add { path, value } => {
            if path.is_empty() {
                return replace_root(doc, value);
            }
            ensure_path_exists(doc, path)?;
            let (parent, key) =
                find_parent(doc, path).ok_or_else(|| format!("doc is missing path: {path:?}"))?;
            add_to(parent, &key, value.clone())
        }
        Op::Remove { path } => {
            let Some((parent, key)) = find_parent(doc, path) else {
                return Ok(());
            };
            remove_from(parent, &key, true).map(|_| ())
        }
        Op::Replace { path, value } => {
            if path.is_empty() {
                return replace_root(doc, value);
            }
            let (parent, key) =
                find_parent(doc, path).ok_or_else(|| format!("doc is missing path: {path}"))?;
            let slot =
                get_mut(parent, &key)?.ok_or_else(|| format!("doc is missing key: {path}"))?;
            *slot = value.clone();
            Ok(())
        }
        Op::Move { from, path } => {
            if from.is_empty() {
                return Err("unable to move entire document to another path".into());
            }
            let (parent, key) = find_parent(doc, from)
                .ok_or_else(|| format!("doc is missing from path: {from}"))?;
            if get_mut(parent, &key)?.is_none() {
                return Err(format!("unable to get nonexistent key: {key}"));
            }
            let value = remove_from(parent, &key, false)?
                .ok_or_else(|| format!("unable to get nonexistent key: {key}"))?;
            let (parent, key) = find_parent(doc, path)
                .ok_or_else(|| format!("doc is missing destination path: {path}"))?;
            add_to(parent, &key, value)
        }
        Op::Copy { from, path } => {
            let (parent, key) = find_parent(doc, from)
                .ok_or_else(|| format!("doc is missing from path: {from:?}"))?;
            let value = get_mut(parent, &key)?
                .map(|v| v.clone())
                .ok_or_else(|| format!("unable to get nonexistent key: {key}"))?;
            let (parent, key) = find_parent(doc, path)
                .ok_or_else(|| format!("doc is missing destination path: {path}"))?;
            add_to(parent, &key, value)
        }
        Op::Test { path, value } => {
            if path.is_empty() {
                return if &*doc == value {
                    Ok(())
                } else {
                    Err("testing value failed".into())
                };
            }
            let (parent, key) =
                find_parent(doc, path).ok_or_else(|| format!("is missing path: {path}"))?;
            let actual = get_mut(parent, &key)?.map(|v| v.clone());
            match actual {
                None | Some(Value::Null) if value.is_null() => Ok(()),
                Some(a) if !value.is_null() && a == *value => Ok(()),
                _ => Err(format!("testing value {path} failed")),
            }
        }
    }
}

fn replace_root(doc: &mut Value, value: &Value) -> Result<(), String> {
    if !(value.is_object() || value.is_array()) {
        return Err("the value for the whole document must be an object or an array".into());
    }
    *doc = value.clone();
    Ok(())
}

/// RFC 6901 token decoding in one left-to-right pass.
fn decode_token(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.peek() {
                Some('1') => {
                    chars.next();
                    out.push('/');
                }
                Some('0') => {
                    chars.next();
                    out.push('~');
                }
                _ => out.push('~'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's `strconv.Atoi`: optional sign, decimal digits, no spaces.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

/// The tokens between the first `/`-separated segment and the last one, and the last one.
fn split_path(path: &str) -> Option<(Vec<String>, String)> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return None;
    }
    let parts = split[1..split.len() - 1]
        .iter()
        .map(|p| decode_token(p))
        .collect();
    Some((parts, decode_token(split[split.len() - 1])))
}

/// Array position for `get`/`set`: negative counts from the end.
fn index_in(len: usize, token: &str) -> Result<Option<usize>, String> {
    let idx =
        atoi(token).ok_or_else(|| format!("value was not a proper array index: {token:?}"))?;
    let len_i = len as i64;
    let idx = if idx < 0 { idx + len_i } else { idx };
    if idx < 0 || idx >= len_i {
        return Err(format!("unable to access invalid index: {token}"));
    }
    Ok(usize::try_from(idx).ok())
}

fn child<'a>(container: &'a mut Value, token: &str) -> Option<&'a mut Value> {
    match container {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => {
            let idx = index_in(items.len(), token).ok()??;
            items.get_mut(idx)
        }
        _ => None,
    }
}

/// evanphx's `findObject`: walk to the parent container; `None` when a step is missing,
/// `null` or not a container.
fn find_parent<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let (parts, key) = split_path(path)?;
    let mut cur = doc;
    for part in &parts {
        let next = child(cur, part)?;
        if !(next.is_object() || next.is_array()) {
            return None;
        }
        cur = next;
    }
    if !(cur.is_object() || cur.is_array()) {
        return None;
    }
    Some((cur, key))
}

/// `Ok(None)` for a missing object key, `Err` for a bad array index.
fn get_mut<'a>(parent: &'a mut Value, key: &str) -> Result<Option<&'a mut Value>, String> {
    match parent {
        Value::Object(map) => Ok(map.get_mut(key)),
        Value::Array(items) => {
            let idx = index_in(items.len(), key)?;
            Ok(idx.and_then(|i| items.get_mut(i)))
        }
        _ => Err("not a container".into()),
    }
}

fn add_to(parent: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match parent {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let idx =
                atoi(key).ok_or_else(|| format!("value was not a proper array index: {key:?}"))?;
            let size = items.len() as i64 + 1;
            if idx >= size || idx < -size {
                return Err(format!("unable to access invalid index: {idx}"));
            }
            let idx = if idx < 0 { idx + size } else { idx };
            let at = usize::try_from(idx)
                .map_err(|_| format!("unable to access invalid index: {idx}"))?;
            items.insert(at, value);
            Ok(())
        }
        _ => Err("not a container".into()),
    }
}

/// Removes `key`; with `allow_missing` a missing key or index is not an error.
fn remove_from(
    parent: &mut Value,
    key: &str,
    allow_missing: bool,
) -> Result<Option<Value>, String> {
    match parent {
        Value::Object(map) => match map.shift_remove(key) {
            Some(v) => Ok(Some(v)),
            None if allow_missing => Ok(None),
            None => Err(format!("unable to remove nonexistent key: {key}")),
        },
        Value::Array(items) => {
            let idx =
                atoi(key).ok_or_else(|| format!("value was not a proper array index: {key:?}"))?;
            let len = items.len() as i64;
            if idx >= len || idx < -len {
                return if allow_missing {
                    Ok(None)
                } else {
                    Err(format!("unable to access invalid index: {idx}"))
                };
            }
            let idx = if idx < 0 { idx + len } else { idx };
            let at = usize::try_from(idx)
                .map_err(|_| format!("unable to access invalid index: {idx}"))?;
            Ok(Some(items.remove(at)))
        }
        _ => Err("not a container".into()),
    }
}

/// Where `add` puts a new element in a list of `len` elements for `token` (evanphx's
/// `partialArray.add` with negative indices on), `None` when the index is invalid.
fn array_add_position(len: usize, token: &str) -> Option<usize> {
    if token == "-" {
        return Some(len);
    }
    let idx = atoi(token)?;
    let size = i64::try_from(len).ok()? + 1;
    if idx >= size || idx < -size {
        return None;
    }
    usize::try_from(if idx < 0 { idx + size } else { idx }).ok()
}

/// Creates the missing parents of `path` (the `EnsurePathExistsOnAdd` option).
fn ensure_path_exists(doc: &mut Value, path: &str) -> Result<(), String> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return Ok(());
    }
    let parts: Vec<&str> = split[1..].to_vec();
    let mut cur = doc;
    for pi in 0..parts.len().saturating_sub(1) {
        let token = decode_token(parts[pi]);
        let exists = matches!(child(cur, &token), Some(v) if !v.is_null());
        if exists {
            let next = child(cur, &token).ok_or("path vanished")?;
            if !(next.is_object() || next.is_array()) {
                return Err(format!(
                    "cannot create a path below the scalar at {token:?}"
                ));
            }
            cur = next;
            continue;
        }
        // Pad an array parent with nulls up to the wanted index.
        if let (Some(idx), Value::Array(items)) = (atoi(&token), &mut *cur)
            && idx >= 0
            && let Ok(idx) = usize::try_from(idx)
            && idx > items.len()
        {
            items.resize(idx, Value::Null);
        }
        let next_token = parts[pi + 1];
        let new_node = match atoi(next_token) {
            Some(i) if i < -1 => {
                return Err(format!(
                    "unable to ensure path for negative index other than -1: {i}"
                ));
            }
            Some(i) => Value::Array(vec![Value::Null; usize::try_from(i.max(0)).unwrap_or(0)]),
            None if next_token == "-" => Value::Array(Vec::new()),
            None => Value::Object(serde_json::Map::new()),
        };
        let placed = match &mut *cur {
            Value::Object(map) => {
                map.insert(token.clone(), new_node);
                map.get_mut(&token)
            }
            // The new node is added as the `add` operation adds: `-` appends, a negative
            // index counts from the end of the list grown by one (`-1` appends too).
            // Like the Go code, a `null` element is not replaced: the new node is
            // inserted before it.
            Value::Array(items) => match array_add_position(items.len(), &token) {
                Some(at) => {
                    items.insert(at, new_node);
                    items.get_mut(at)
                }
                // The Go code ignores a failed insertion and keeps walking a detached node;
                // the following lookup then fails, so stop here.
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        match placed {
            Some(next) => cur = next,
            None => return Ok(()),
        }
    }
    Ok(())
}
