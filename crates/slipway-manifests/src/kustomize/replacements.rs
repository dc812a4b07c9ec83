//! The `replacements` field and the builtin `ReplacementTransformer`: a
//! field of one resource (the source) is copied into fields of others (the
//! targets), as upstream's replacement filter does. Sources and targets are
//! selected by any id the resource has had (so original names work after a
//! prefix), field paths use kyaml's path syntax (`a.b`, `[name=x]`, `0`, `*`,
//! `[a.b]` for a key with dots), and a scalar target keeps its type.

use regex::Regex;
use serde_json::{Map, Value};

use super::KustomizeError;
use super::kustomization::{Kustomization, parse_yaml, scalar_string};
use super::resource::{Gvk, GvkExt, ResId, Resource};
use super::selector::label_selector_matches;

/// The default field path of sources and targets.
const DEFAULT_FIELD_PATH: &str = "metadata.name";

/// One replacement: where the value comes from and where it goes.
#[derive(Debug, Clone)]
pub(crate) struct Replacement {
    source: Source,
    targets: Vec<Target>,
}

/// An id selector: empty parts match anything, names match exactly.
#[derive(Debug, Clone, Default)]
struct IdSelector {
    gvk: Gvk,
    name: String,
    namespace: String,
}

impl IdSelector {
    fn is_empty(&self) -> bool {
        self.gvk == Gvk::default() && self.name.is_empty() && self.namespace.is_empty()
    }

    /// Upstream's `ResId.IsSelectedBy`.
    fn selects(&self, id: &ResId) -> bool {
        (self.name.is_empty() || self.name == id.name)
            && (self.namespace.is_empty()
                || ResId {
                    gvk: self.gvk.clone(),
                    name: String::new(),
                    namespace: self.namespace.clone(),
                }
                .ns_equals(id))
            && id.gvk.is_selected_by(&self.gvk)
    }
}

#[derive(Debug, Clone)]
struct Source {
    id: IdSelector,
    field_path: String,
    options: FieldOptions,
}

/// A `select` or `reject` entry.
#[derive(Debug, Clone, Default)]
struct Selector {
    id: IdSelector,
    label_selector: String,
    annotation_selector: String,
}

impl Selector {
    fn matches_labels_and_annotations(&self, r: &Resource) -> Result<bool, String> {
        Ok((self.annotation_selector.is_empty()
            || label_selector_matches(&self.annotation_selector, &r.annotations())?)
            && (self.label_selector.is_empty()
                || label_selector_matches(&self.label_selector, &r.labels())?))
    }
}

#[derive(Debug, Clone)]
struct Target {
    select: Option<Selector>,
    reject: Vec<Selector>,
    field_paths: Vec<String>,
    options: FieldOptions,
}

#[derive(Debug, Clone, Default)]
struct FieldOptions {
    delimiter: String,
    index: i64,
    create: bool,
}

fn mapping<'a>(
    v: &'a Value,
    what: &str,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, String> {
    let m = v
        .as_object()
        .ok_or_else(|| format!("{what} must be a mapping"))?;
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unknown field `{k}` in {what}"));
    }
    Ok(m)
}

fn string_field(m: &Map<String, Value>, key: &str) -> String {
    m.get(key).and_then(scalar_string).unwrap_or_default()
}

const ID_FIELDS: [&str; 5] = ["group", "version", "kind", "name", "namespace"];

fn id_selector(m: &Map<String, Value>) -> IdSelector {
    IdSelector {
        gvk: Gvk {
            group: string_field(m, "group"),
            version: string_field(m, "version"),
            kind: string_field(m, "kind"),
        },
        name: string_field(m, "name"),
        namespace: string_field(m, "namespace"),
    }
}

fn options(v: Option<&Value>, what: &str) -> Result<FieldOptions, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(FieldOptions::default());
    };
    let m = mapping(
        v,
        &format!("{what} options"),
        &["delimiter", "index", "create"],
    )?;
    Ok(FieldOptions {
        delimiter: string_field(m, "delimiter"),
        index: match m.get("index") {
            None | Some(Value::Null) => 0,
            Some(i) => i
                .as_i64()
                .ok_or_else(|| format!("{what} options: `index` must be an integer"))?,
        },
        create: m.get("create").and_then(Value::as_bool).unwrap_or(false),
    })
}

fn selector(v: &Value, what: &str) -> Result<Selector, String> {
    let mut allowed = ID_FIELDS.to_vec();
    allowed.extend(["labelSelector", "annotationSelector"]);
    let m = mapping(v, what, &allowed)?;
    Ok(Selector {
        id: id_selector(m),
        label_selector: string_field(m, "labelSelector"),
        annotation_selector: string_field(m, "annotationSelector"),
    })
}

impl Replacement {
    /// Parses one replacement (`source` and `targets`).
    fn from_value(v: &Value) -> Result<Self, String> {
        let m = mapping(v, "a replacement", &["source", "targets"])?;
        let (Some(source), Some(Value::Array(targets))) = (
            m.get("source").filter(|s| !s.is_null()),
            m.get("targets").filter(|t| !t.is_null()),
        ) else {
            return Err("replacements must specify a source and at least one target".into());
        };
        let mut allowed = ID_FIELDS.to_vec();
        allowed.extend(["fieldPath", "options"]);
        let sm = mapping(source, "a replacement source", &allowed)?;
        let source = Source {
            id: id_selector(sm),
            field_path: Some(string_field(sm, "fieldPath"))
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| DEFAULT_FIELD_PATH.to_string()),
            options: options(sm.get("options"), "source")?,
        };
        let targets = targets
            .iter()
            .map(|t| {
                let tm = mapping(
                    t,
                    "a replacement target",
                    &["select", "reject", "fieldPaths", "options"],
                )?;
                let select = match tm.get("select").filter(|s| !s.is_null()) {
                    None => None,
                    Some(s) => Some(selector(s, "a target `select`")?),
                };
                let reject = match tm.get("reject") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|r| selector(r, "a target `reject`"))
                        .collect::<Result<_, _>>()?,
                    Some(_) => return Err("`reject` must be a list".to_string()),
                };
                let mut field_paths = match tm.get("fieldPaths") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|p| {
                            scalar_string(p).ok_or_else(|| "`fieldPaths` must be strings".into())
                        })
                        .collect::<Result<Vec<String>, String>>()?,
                    Some(_) => return Err("`fieldPaths` must be a list".to_string()),
                };
                if field_paths.is_empty() {
                    field_paths.push(DEFAULT_FIELD_PATH.to_string());
                }
                Ok(Target {
                    select,
                    reject,
                    field_paths,
                    options: options(tm.get("options"), "target")?,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { source, targets })
    }
}

/// Loads the entries of a `replacements` list: inline replacements, or
/// `path` entries naming a file that holds one replacement or a list.
pub(crate) fn load(
    k: &Kustomization,
    entries: &[Value],
) -> Result<Vec<Replacement>, KustomizeError> {
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.get("path").and_then(Value::as_str);
        let Some(path) = path else {
            out.push(
                Replacement::from_value(entry)
                    .map_err(|m| k.invalid(format!("replacements: {m}")))?,
            );
            continue;
        };
        if entry.get("source").is_some() || entry.get("targets").is_some() {
            return Err(
                k.invalid("replacements: cannot specify both path and inline replacement".into())
            );
        }
        let file = super::kustomization::confined(&k.dir, path)?;
        let text = fs_err::read_to_string(&file).map_err(|source| KustomizeError::Io {
            path: file.clone(),
            source,
        })?;
        let invalid = |message: String| KustomizeError::Invalid {
            path: file.clone(),
            message,
        };
        match parse_yaml(&text, &file)? {
            Value::Array(items) => {
                for item in &items {
                    out.push(Replacement::from_value(item).map_err(invalid)?);
                }
            }
            v @ Value::Object(_) => out.push(Replacement::from_value(&v).map_err(invalid)?),
            _ => {
                return Err(invalid(
                    "a replacement file must hold a replacement or a list of them".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// Runs replacements over the resources, in order.
pub(crate) fn run(reps: &[Replacement], res: &mut [Resource]) -> Result<(), String> {
    for r in reps {
        let value = source_value(res, &r.source)?;
        for t in &r.targets {
            apply_target(res, &value, t)?;
        }
    }
    Ok(())
}

fn describe(sel: &IdSelector) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("group", &sel.gvk.group),
        ("version", &sel.gvk.version),
        ("kind", &sel.gvk.kind),
        ("name", &sel.name),
        ("namespace", &sel.namespace),
    ] {
        if !v.is_empty() {
            parts.push(format!("{k}: {v}"));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

fn source_value(res: &[Resource], s: &Source) -> Result<Value, String> {
    let mut found = res
        .iter()
        .filter(|r| r.any_ids().iter().any(|id| s.id.selects(id)));
    let (Some(source), None) = (found.next(), found.next()) else {
        let n = res
            .iter()
            .filter(|r| r.any_ids().iter().any(|id| s.id.selects(id)))
            .count();
        return Err(if n == 0 {
            format!("nothing selected by {}", describe(&s.id))
        } else {
            format!("multiple matches for selector {}", describe(&s.id))
        });
    };
    let path = split_path(&s.field_path);
    let value = lookup(&source.obj, &path)
        .filter(|v| !is_nil_or_empty(v))
        .ok_or_else(|| {
            format!(
                "fieldPath `{}` is missing for replacement source {}",
                s.field_path,
                source.cur_id()
            )
        })?;
    if s.options.delimiter.is_empty() {
        return Ok(value.clone());
    }
    let Some(text) = scalar_text(value) else {
        return Err("delimiter option can only be used with scalar nodes".into());
    };
    let parts: Vec<&str> = text.split(s.options.delimiter.as_str()).collect();
    let part = usize::try_from(s.options.index)
        .ok()
        .and_then(|i| parts.get(i))
        .ok_or_else(|| {
            format!(
                "options.index {} is out of bounds for value {text}",
                s.options.index
            )
        })?;
    Ok(with_text(value, part))
}

fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The text of a scalar node (what a YAML node's `Value` holds).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// A scalar of the same type as `like` holding `text`, when the text reads
/// as that type; a string otherwise.
fn with_text(like: &Value, text: &str) -> Value {
    match like {
        Value::String(_) => Value::String(text.to_string()),
        _ => plain_scalar(text),
    }
}

/// How a plain (untagged, unquoted) YAML scalar with this text reads.
fn plain_scalar(text: &str) -> Value {
    if text.is_empty() {
        return Value::String(String::new());
    }
    match serde_saphyr::from_str::<Value>(text) {
        Ok(v @ (Value::Bool(_) | Value::Number(_) | Value::Null)) => v,
        _ => Value::String(text.to_string()),
    }
}

fn apply_target(res: &mut [Resource], value: &Value, t: &Target) -> Result<(), String> {
    let Some(select) = &t.select else {
        return Err("target must specify resources to select".into());
    };
    for r in res.iter_mut() {
        if !select.matches_labels_and_annotations(r)? {
            continue;
        }
        let mut rejected = false;
        for rej in &t.reject {
            if (!rej.annotation_selector.is_empty() || !rej.label_selector.is_empty())
                && rej.matches_labels_and_annotations(r)?
            {
                rejected = true;
            }
        }
        let ids = r.any_ids();
        rejected = rejected
            || t.reject
                .iter()
                .any(|rej| !rej.id.is_empty() && ids.iter().any(|id| rej.id.selects(id)));
        if rejected || !ids.iter().any(|id| select.id.selects(id)) {
            continue;
        }
        copy_to_target(&mut r.obj, value, t).map_err(|e| format!("{}: {e}", r.cur_id()))?;
    }
    Ok(())
}

/// The kind of node a path step creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    Scalar,
    Map,
    Seq,
}

fn kind_of(v: &Value) -> NodeKind {
    match v {
        Value::Object(_) => NodeKind::Map,
        Value::Array(_) => NodeKind::Seq,
        _ => NodeKind::Scalar,
    }
}

fn copy_to_target(obj: &mut Value, value: &Value, t: &Target) -> Result<(), String> {
    for fp in &t.field_paths {
        let create = t.options.create.then(|| kind_of(value));
        let not_found = || {
            if create.is_some() {
                format!("unable to find or create field \"{fp}\" in replacement target")
            } else {
                format!("unable to find field \"{fp}\" in replacement target")
            }
        };
        let mut found = Vec::new();
        match_path(obj, &split_path(fp), create, &mut Vec::new(), &mut found)
            .map_err(|e| format!("{}: {e}", not_found()))?;
        if found.is_empty() {
            return Err(not_found());
        }
        for steps in found {
            let Some(field) = node_at(obj, &steps) else {
                continue;
            };
            set_field(&t.options, field, value)?;
        }
    }
    Ok(())
}

/// Upstream's `setFieldValue`.
fn set_field(opts: &FieldOptions, target: &mut Value, value: &Value) -> Result<(), String> {
    let mut value = value.clone();
    if !opts.delimiter.is_empty() {
        let Some(current) = scalar_text(target) else {
            return Err("delimiter option can only be used with scalar nodes".into());
        };
        let mut parts: Vec<String> = current
            .split(opts.delimiter.as_str())
            .map(str::to_string)
            .collect();
        let v = scalar_text(&value).unwrap_or_default();
        match usize::try_from(opts.index) {
            Err(_) => parts.insert(0, v),
            Ok(i) if i >= parts.len() => parts.push(v),
            Ok(i) => parts[i] = v,
        }
        value = with_text(&value, &parts.join(&opts.delimiter));
    }
    if kind_of(target) == NodeKind::Scalar {
        // Only the text is copied into a scalar: it keeps its own type.
        let text = scalar_text(&value).unwrap_or_default();
        *target = with_text(target, &text);
    } else {
        *target = value;
    }
    Ok(())
}

/// One concrete step into a document.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn node_at<'a>(mut node: &'a mut Value, steps: &[Step]) -> Option<&'a mut Value> {
    for s in steps {
        node = match s {
            Step::Key(k) => node.get_mut(k.as_str())?,
            Step::Index(i) => node.get_mut(*i)?,
        };
    }
    Some(node)
}

/// kyaml's `SmarterPathSplitter`: splits on `.`, keeping `[...]` together;
/// `[k=v]` keeps its brackets, `[a.b]` (a key with dots) loses them.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                cur.push('.');
                chars.next();
            }
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            '.' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|p| {
            if p.starts_with('[') && p.ends_with(']') && !p.contains('=') {
                p[1..p.len() - 1].to_string()
            } else {
                p
            }
        })
        .filter(|p| !p.trim().is_empty())
        .collect()
}

fn is_index(part: &str) -> Option<usize> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

fn list_entry(part: &str) -> Option<(&str, &str)> {
    part.strip_prefix('[')?.strip_suffix(']')?.split_once('=')
}

/// What `create` makes for a missing path part, given the part after it.
fn kind_for_next(next: Option<&String>, leaf: NodeKind) -> NodeKind {
    match next {
        None => leaf,
        Some(n) if is_index(n).is_some() || list_entry(n).is_some() => NodeKind::Seq,
        Some(_) => NodeKind::Map,
    }
}

fn new_node(kind: NodeKind) -> Value {
    match kind {
        NodeKind::Scalar => Value::Null,
        NodeKind::Map => Value::Object(Map::new()),
        NodeKind::Seq => Value::Array(Vec::new()),
    }
}

/// Reads the text a sequence element or field compares with in `[k=v]`.
fn compare_text(v: &Value) -> Option<String> {
    scalar_text(v).map(|s| s.trim().to_string())
}

/// kyaml's `PathMatcher`: every node the path reaches (list entries match
/// a regular expression, `*` matches every element), creating missing parts
/// when `create` is set. Records the concrete steps to each match.
fn match_path(
    node: &mut Value,
    path: &[String],
    create: Option<NodeKind>,
    prefix: &mut Vec<Step>,
    out: &mut Vec<Vec<Step>>,
) -> Result<(), String> {
    let Some((first, rest)) = path.split_first() else {
        out.push(prefix.clone());
        return Ok(());
    };
    if let Some(idx) = is_index(first) {
        let Value::Array(items) = node else {
            return Err(format!("`{first}`: expected a sequence"));
        };
        if items.len() == idx
            && let Some(leaf) = create
        {
            items.push(new_node(kind_for_next(rest.first(), leaf)));
        }
        let len = items.len();
        let Some(item) = items.get_mut(idx) else {
            return Err(format!(
                "index {idx} specified but only {len} elements found"
            ));
        };
        prefix.push(Step::Index(idx));
        let r = match_path(item, rest, create, prefix, out);
        prefix.pop();
        return r;
    }
    if let Some((field, pattern)) = list_entry(first) {
        let Value::Array(items) = node else {
            return Err(format!("`{first}`: expected a sequence"));
        };
        let re = Regex::new(pattern).map_err(|e| format!("`{first}`: {e}"))?;
        let before = out.len();
        let mut matched = false;
        for (i, item) in items.iter_mut().enumerate() {
            let text = if field.is_empty() {
                compare_text(item)
            } else {
                item.get(field).and_then(compare_text)
            };
            if !text.is_some_and(|t| re.is_match(&t)) {
                continue;
            }
            matched = true;
            prefix.push(Step::Index(i));
            if field.is_empty() {
                // A primitive element is itself the match.
                out.push(prefix.clone());
            } else {
                match_path(item, rest, create, prefix, out)?;
            }
            prefix.pop();
        }
        if matched || create.is_none() || out.len() > before {
            return Ok(());
        }
        let value = Value::String(pattern.to_string());
        items.push(if field.is_empty() {
            value
        } else {
            let mut m = Map::new();
            m.insert(field.to_string(), value);
            Value::Object(m)
        });
        return match_path(node, path, create, prefix, out);
    }
    if first == "*" {
        let Value::Array(items) = node else {
            return Err(format!("`{first}`: expected a sequence"));
        };
        for (i, item) in items.iter_mut().enumerate() {
            prefix.push(Step::Index(i));
            match_path(item, rest, create, prefix, out)?;
            prefix.pop();
        }
        return Ok(());
    }
    if node.is_null() && create.is_some() {
        *node = Value::Object(Map::new());
    }
    let Value::Object(m) = node else {
        return Ok(());
    };
    if !m.contains_key(first.as_str()) {
        let Some(leaf) = create else {
            return Ok(());
        };
        m.insert(first.clone(), new_node(kind_for_next(rest.first(), leaf)));
    }
    let Some(child) = m.get_mut(first.as_str()) else {
        return Ok(());
    };
    prefix.push(Step::Key(first.clone()));
    let r = match_path(child, rest, create, prefix, out);
    prefix.pop();
    r
}

/// kyaml's `Lookup` (used for sources): fields, `[k=v]` with an exact value,
/// and indexes.
fn lookup<'a>(mut node: &'a Value, path: &[String]) -> Option<&'a Value> {
    for part in path {
        node = if let Some(i) = is_index(part) {
            node.as_array()?.get(i)?
        } else if let Some((field, value)) = list_entry(part) {
            node.as_array()?.iter().find(|item| {
                let text = if field.is_empty() {
                    compare_text(item)
                } else {
                    item.get(field).and_then(compare_text)
                };
                text.as_deref() == Some(value)
            })?
        } else {
            node.as_object()?.get(part.as_str())?
        };
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_paths_like_kyaml() {
        assert_eq!(
            split_path("spec.containers.[name=a.b].image"),
            ["spec", "containers", "[name=a.b]", "image"]
        );
        assert_eq!(
            split_path("metadata.annotations.[a.b/c]"),
            ["metadata", "annotations", "a.b/c"]
        );
    }

    fn check(obj: Value, value: Value, path: &str, create: bool, expected: Value) {
        let t = Target {
            select: None,
            reject: Vec::new(),
            field_paths: vec![path.to_string()],
            options: FieldOptions {
                create,
                ..FieldOptions::default()
            },
        };
        let mut obj = obj;
        copy_to_target(&mut obj, &value, &t).unwrap();
        assert_eq!(obj, expected);
    }

    #[test]
    fn scalar_targets_keep_their_type() {
        check(json!({"a": 1}), json!("5"), "a", false, json!({"a": 5}));
        check(json!({"a": "x"}), json!(5), "a", false, json!({"a": "5"}));
    }

    #[test]
    fn creates_missing_fields_and_list_entries() {
        check(
            json!({}),
            json!({"k": "v"}),
            "spec.template",
            true,
            json!({"spec": {"template": {"k": "v"}}}),
        );
        check(
            json!({"c": []}),
            json!("img"),
            "c.[name=x].image",
            true,
            json!({"c": [{"name": "x", "image": "img"}]}),
        );
    }

    #[test]
    fn missing_target_field_is_an_error() {
        let t = Target {
            select: None,
            reject: Vec::new(),
            field_paths: vec!["a.b".into()],
            options: FieldOptions::default(),
        };
        let err = copy_to_target(&mut json!({}), &json!("x"), &t).unwrap_err();
        assert!(err.contains("unable to find field \"a.b\""), "{err}");
    }
}
