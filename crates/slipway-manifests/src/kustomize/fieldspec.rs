//! Walking a field-spec path through an object (upstream's `fieldspec.Filter`):
//! sequences are walked element by element, missing fields are created only
//! when the spec says so, and the value found is handed to a setter.

use serde_json::{Map, Value};

use super::config::FieldSpec;

/// What to create at the end of the path when the field is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreateKind {
    /// A mapping (labels, annotations).
    Map,
    /// A scalar (namespace, replicas).
    Scalar,
}

/// Splits a path on `/`, honouring `\/` as a literal slash.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'/') {
            cur.push('/');
            chars.next();
        } else if c == '/' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Applies `set` to every field `fs.path` reaches in `obj`.
pub(crate) fn apply(
    obj: &mut Value,
    fs: &FieldSpec,
    create_kind: CreateKind,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let path = split_path(&fs.path);
    walk(obj, &path, fs.create, create_kind, set)
}

fn walk(
    node: &mut Value,
    path: &[String],
    create: bool,
    create_kind: CreateKind,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        return set(node);
    };
    match node {
        Value::Null => Ok(()),
        Value::Array(items) => {
            for item in items {
                walk(item, path, create, create_kind, set)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            let (name, is_seq) = match first.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (first.as_str(), false),
            };
            let last = rest.is_empty();
            if !map.contains_key(name) || map.get(name).is_some_and(Value::is_null) {
                if !create || is_seq {
                    if is_seq && map.get(name).is_some_and(Value::is_null) {
                        map.insert(name.to_string(), Value::Array(Vec::new()));
                    }
                    if !map.contains_key(name) || map.get(name).is_some_and(Value::is_null) {
                        return Ok(());
                    }
                } else {
                    let fresh = if last {
                        match create_kind {
                            CreateKind::Map => Value::Object(Map::new()),
                            CreateKind::Scalar => Value::String(String::new()),
                        }
                    } else {
                        Value::Object(Map::new())
                    };
                    map.insert(name.to_string(), fresh);
                }
            }
            match map.get_mut(name) {
                Some(child) => walk(child, rest, create, create_kind, set),
                None => Ok(()),
            }
        }
        _ => Err(format!(
            "expected sequence or mapping node at `{first}` of field path"
        )),
    }
}
