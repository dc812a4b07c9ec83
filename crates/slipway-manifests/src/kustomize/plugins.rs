//! The builtin transformers (patches, namespace, prefix/suffix, labels,
//! annotations, images, replicas) as functions over the resource list, and the
//! dispatch of builtin plugin configs (`apiVersion: builtin`) named in a
//! kustomization's `transformers` / `generators` fields.

use crate::kustomize::resource::GvkExt;
use regex::Regex;
use serde_json::{Map, Value};

use super::config::{FieldSpec, TransformerConfig};
use super::fieldspec::{self, CreateKind};
use super::patch;
use super::resource::{Gvk, Resource, id_of};
use super::selector::Selector;

/// The resource list a transformer works on.
pub(crate) type ResList = Vec<Resource>;

/// Options of a `patches` entry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PatchOptions {
    pub allow_name_change: bool,
    pub allow_kind_change: bool,
}

/// Applies a strategic merge patch to one resource, keeping name, kind and
/// namespace unless the options allow a change. Returns `false` when the
/// resource was deleted by the patch.
fn apply_smp(r: &mut Resource, p: &Value, opts: PatchOptions) -> Result<bool, String> {
    let (name, kind, ns) = (
        r.name().to_string(),
        r.kind().to_string(),
        r.namespace().to_string(),
    );
    if opts.allow_name_change || opts.allow_kind_change {
        r.store_previous_id();
    }
    if !patch::strategic_merge(&mut r.obj, p)? {
        return Ok(false);
    }
    if r.obj.as_object().is_none_or(Map::is_empty) {
        return Ok(false);
    }
    if !opts.allow_kind_change
        && let Some(m) = r.obj.as_object_mut()
    {
        m.insert("kind".into(), Value::String(kind));
    }
    if !opts.allow_name_change {
        r.set_name(&name);
    }
    r.set_namespace(&ns);
    Ok(true)
}

/// Finds the one resource any of whose ids equals the patch's id.
fn find_by_patch_id(res: &[Resource], p: &Value) -> Result<usize, String> {
    let id = id_of(p);
    let matches: Vec<usize> = res
        .iter()
        .enumerate()
        .filter(|(_, r)| r.any_ids().iter().any(|x| x.equals(&id)))
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "no matches for Id {id}; failed to find unique target for patch {id}"
        )),
        _ => Err(format!(
            "multiple matches for Id {id}; failed to find unique target for patch {id}"
        )),
    }
}

/// A strategic merge patch without target: applied to the resource it names.
pub(crate) fn smp_by_id(res: &mut ResList, p: &Value, opts: PatchOptions) -> Result<(), String> {
    let i = find_by_patch_id(res, p)?;
    if !apply_smp(&mut res[i], p, opts)? {
        res.remove(i);
    }
    Ok(())
}

/// Indices of resources selected by `sel`.
pub(crate) fn select(res: &[Resource], sel: &Selector) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for (i, r) in res.iter().enumerate() {
        if sel.matches(r)? {
            out.push(i);
        }
    }
    Ok(out)
}

/// A strategic merge patch applied to every selected resource.
pub(crate) fn smp_by_selector(
    res: &mut ResList,
    p: &Value,
    sel: &Selector,
    opts: PatchOptions,
) -> Result<(), String> {
    let idx = select(res, sel)?;
    let mut deleted = Vec::new();
    for i in idx {
        // Upstream patches each target with a copy of the patch that takes
        // the target's apiVersion (the kind stays the patch's).
        let mut p = p.clone();
        if let (Some(m), Some(api)) = (p.as_object_mut(), res[i].obj.get("apiVersion")) {
            m.insert("apiVersion".into(), api.clone());
        }
        if !apply_smp(&mut res[i], &p, opts)? {
            deleted.push(i);
        }
    }
    for i in deleted.into_iter().rev() {
        res.remove(i);
    }
    Ok(())
}

/// A JSON 6902 patch applied to every selected resource.
pub(crate) fn json6902_by_selector(
    res: &mut ResList,
    ops: &Value,
    sel: &Selector,
    opts: PatchOptions,
) -> Result<(), String> {
    for i in select(res, sel)? {
        let r = &mut res[i];
        if opts.allow_name_change || opts.allow_kind_change {
            r.store_previous_id();
        }
        patch::json6902(&mut r.obj, ops).map_err(|e| format!("{}: {e}", r.cur_id()))?;
    }
    Ok(())
}

/// The namespace transformer.
pub(crate) fn namespace(
    res: &mut [Resource],
    ns: &str,
    specs: &[FieldSpec],
    unset_only: bool,
) -> Result<(), String> {
    for r in res.iter_mut() {
        let gvk = r.gvk();
        r.store_previous_id();
        for fs in specs {
            if !gvk.is_selected_by(&fs.gvk) {
                continue;
            }
            if fs.path == "metadata/namespace" {
                if gvk.is_cluster_scoped() {
                    continue;
                }
                if unset_only && !r.namespace().is_empty() {
                    continue;
                }
                r.set_namespace(ns);
                continue;
            }
            fieldspec::apply(&mut r.obj, fs, CreateKind::Scalar, &mut |v| {
                *v = Value::String(ns.to_string());
                Ok(())
            })?;
        }
        if matches!(gvk.kind.as_str(), "RoleBinding" | "ClusterRoleBinding")
            && let Some(subjects) = r.obj.get_mut("subjects").and_then(Value::as_array_mut)
        {
            for s in subjects {
                if s.get("name").and_then(Value::as_str) == Some("default")
                    && let Some(m) = s.as_object_mut()
                {
                    m.insert("namespace".into(), Value::String(ns.to_string()));
                }
            }
        }
    }
    Ok(())
}

fn skips_affixes(gvk: &Gvk) -> bool {
    gvk.kind == "CustomResourceDefinition"
        || gvk.kind == "Namespace"
        || (gvk.kind == "APIService" && gvk.group == "apiregistration.k8s.io")
}

/// The prefix/suffix transformer.
pub(crate) fn prefix_suffix(
    res: &mut ResList,
    prefix: &str,
    suffix: &str,
    specs: &[FieldSpec],
) -> Result<(), String> {
    if prefix.is_empty() && suffix.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut() {
        let org_gvk = r.org.gvk.clone();
        if skips_affixes(&org_gvk) {
            continue;
        }
        for fs in specs {
            if !org_gvk.is_selected_by(&fs.gvk) {
                continue;
            }
            if fs.path == "metadata/name" {
                if !prefix.is_empty() {
                    r.prefixes.push(prefix.to_string());
                }
                if !suffix.is_empty() {
                    r.suffixes.push(suffix.to_string());
                }
                r.store_previous_id();
            }
            fieldspec::apply(&mut r.obj, fs, CreateKind::Scalar, &mut |v| {
                if let Value::String(s) = v {
                    *s = format!("{prefix}{s}{suffix}");
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Sets string entries in the maps the field specs reach (labels, annotations).
pub(crate) fn set_map_entries(
    res: &mut ResList,
    entries: &Map<String, Value>,
    specs: &[FieldSpec],
) -> Result<(), String> {
    if entries.is_empty() {
        return Ok(());
    }
    for r in res.iter_mut() {
        let gvk = r.gvk();
        let id = r.cur_id();
        for fs in specs {
            if !gvk.is_selected_by(&fs.gvk) {
                continue;
            }
            fieldspec::apply(&mut r.obj, fs, CreateKind::Map, &mut |v| {
                let m = match v {
                    Value::Object(m) => m,
                    Value::Null => {
                        *v = Value::Object(Map::new());
                        match v {
                            Value::Object(m) => m,
                            _ => return Ok(()),
                        }
                    }
                    _ => return Err(format!("`{}` is not a mapping", fs.path)),
                };
                for (k, val) in entries {
                    m.insert(k.clone(), val.clone());
                }
                Ok(())
            })
            .map_err(|e| format!("{id}: {e}"))?;
        }
    }
    Ok(())
}

/// An `images` entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageTag {
    pub name: String,
    pub new_name: String,
    pub new_tag: String,
    pub digest: String,
}

impl ImageTag {
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let s = |k: &str| {
            v.get(k)
                .map(|x| super::kustomization::scalar_string(x).unwrap_or_default())
                .unwrap_or_default()
        };
        for k in v
            .as_object()
            .ok_or("an image entry must be a mapping")?
            .keys()
        {
            if !matches!(k.as_str(), "name" | "newName" | "newTag" | "digest") {
                return Err(format!("unknown field `{k}` in images entry"));
            }
        }
        Ok(Self {
            name: s("name"),
            new_name: s("newName"),
            new_tag: s("newTag"),
            digest: s("digest"),
        })
    }
}

/// Upstream's `image.Split`: name, tag, digest.
fn split_image(image: &str) -> (String, String, String) {
    let (search, offset) = match image.find('/') {
        Some(i) if i > 0 => (&image[i..], i),
        _ => (image, 0),
    };
    let id = search.find('@');
    let ic = search.find(':');
    match (ic, id) {
        (None, None) => (image.to_string(), String::new(), String::new()),
        (ic, Some(id)) if ic.is_none_or(|ic| id < ic) => {
            let id = id + offset;
            (
                image[..id].to_string(),
                String::new(),
                image[id + 1..].to_string(),
            )
        }
        (Some(ic), Some(id)) => {
            let (ic, id) = (ic + offset, id + offset);
            (
                image[..ic].to_string(),
                image[ic + 1..id].to_string(),
                image[id + 1..].to_string(),
            )
        }
        (Some(ic), None) => {
            let ic = ic + offset;
            (
                image[..ic].to_string(),
                image[ic + 1..].to_string(),
                String::new(),
            )
        }
        (None, Some(_)) => (image.to_string(), String::new(), String::new()),
    }
}

/// The pattern an image value must match for the tag to apply (upstream's
/// `image.IsImageMatched`), compiled once per tag; `None` when the name is
/// not a valid regular expression (nothing matches then).
fn image_pattern(t: &ImageTag) -> Option<Regex> {
    Regex::new(&format!("^{}(@sha256)?(:[a-zA-Z0-9_.{{}}-]*)?$", t.name)).ok()
}

fn update_image(value: &str, t: &ImageTag, re: &Regex) -> Option<String> {
    if !re.is_match(value) {
        return None;
    }
    let (mut name, mut tag, mut digest) = split_image(value);
    if !t.new_name.is_empty() {
        name = t.new_name.clone();
    }
    if !t.new_tag.is_empty() && !t.digest.is_empty() {
        tag = t.new_tag.clone();
        digest = t.digest.clone();
    } else if !t.new_tag.is_empty() {
        tag = t.new_tag.clone();
        digest.clear();
    } else if !t.digest.is_empty() {
        tag.clear();
        digest = t.digest.clone();
    }
    if !tag.is_empty() {
        name = format!("{name}:{tag}");
    }
    if !digest.is_empty() {
        name = format!("{name}@{digest}");
    }
    Some(name)
}

fn legacy_images(v: &mut Value, t: &ImageTag, re: &Regex) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if (k == "containers" || k == "initContainers")
                    && let Value::Array(items) = child
                {
                    for c in items.iter_mut() {
                        if let Some(Value::String(img)) = c.get_mut("image")
                            && let Some(n) = update_image(img, t, re)
                        {
                            *img = n;
                        }
                    }
                }
                legacy_images(child, t, re);
            }
        }
        Value::Array(items) => {
            for i in items {
                legacy_images(i, t, re);
            }
        }
        _ => {}
    }
}

/// The image tag transformer: every `containers`/`initContainers` image
/// anywhere (upstream's legacy filter), plus configured extra field specs.
pub(crate) fn images(
    res: &mut ResList,
    tags: &[ImageTag],
    extra: &[FieldSpec],
) -> Result<(), String> {
    let defaults = TransformerConfig::default_config().images;
    let patterns: Vec<(&ImageTag, Regex)> = tags
        .iter()
        .filter_map(|t| image_pattern(t).map(|re| (t, re)))
        .collect();
    for r in res.iter_mut() {
        for (t, re) in &patterns {
            legacy_images(&mut r.obj, t, re);
            let gvk = r.gvk();
            for fs in extra.iter().filter(|fs| !defaults.contains(fs)) {
                if !gvk.is_selected_by(&fs.gvk) {
                    continue;
                }
                fieldspec::apply(
                    &mut r.obj,
                    &FieldSpec {
                        create: false,
                        ..fs.clone()
                    },
                    CreateKind::Scalar,
                    &mut |v| {
                        if let Value::String(img) = v
                            && let Some(n) = update_image(img, t, re)
                        {
                            *img = n;
                        }
                        Ok(())
                    },
                )?;
            }
        }
    }
    Ok(())
}

/// The replica count transformer.
pub(crate) fn replicas(
    res: &mut ResList,
    entries: &Value,
    specs: &[FieldSpec],
) -> Result<(), String> {
    for e in entries.as_array().into_iter().flatten() {
        let name = e.get("name").and_then(Value::as_str).unwrap_or("");
        let count = e.get("count").cloned().unwrap_or(Value::from(0));
        if !count.is_i64() && !count.is_u64() {
            return Err(format!("replicas `{name}`: count must be an integer"));
        }
        for r in res.iter_mut() {
            if !r.any_ids().iter().any(|id| id.name == name) {
                continue;
            }
            let gvk = r.gvk();
            for fs in specs {
                if !gvk.is_selected_by(&fs.gvk) {
                    continue;
                }
                fieldspec::apply(&mut r.obj, fs, CreateKind::Scalar, &mut |v| {
                    *v = count.clone();
                    Ok(())
                })?;
            }
        }
    }
    Ok(())
}

/// One target of the builtin `ValueAddTransformer`.
#[derive(Debug, Clone)]
struct ValueAddTarget {
    selector: Option<Selector>,
    field_path: String,
    file_path_position: i64,
}

/// The builtin `ValueAddTransformer`: adds a value (by default the name of
/// the kustomization directory) to a field, or into a file path held by it.
#[derive(Debug, Clone)]
pub(crate) struct ValueAdd {
    value: String,
    targets: Vec<ValueAddTarget>,
}

impl ValueAdd {
    /// Reads the config; `root` is the kustomization directory using it.
    pub fn from_value(v: &Value, root: &std::path::Path) -> Result<Self, String> {
        let mut value = v
            .get("value")
            .and_then(super::kustomization::scalar_string)
            .unwrap_or_default()
            .trim()
            .to_string();
        if value.is_empty() {
            value = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        if v.get("targetFilePath").is_some() {
            return Err("`targetFilePath` is not supported yet".into());
        }
        let mut targets = Vec::new();
        for t in v
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if t.get("notSelector").is_some() {
                return Err("`notSelector` is not supported yet".into());
            }
            let selector = match t.get("selector").filter(|s| !s.is_null()) {
                None => None,
                Some(s) => Some(Selector::from_value(s)?),
            };
            let pos = t
                .get("filePathPosition")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if pos < 0 {
                return Err(format!(
                    "value of FilePathPosition ({pos}) cannot be negative"
                ));
            }
            targets.push(ValueAddTarget {
                selector,
                field_path: t
                    .get("fieldPath")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                file_path_position: pos,
            });
        }
        if targets.is_empty() {
            return Err("must specify at least one target".into());
        }
        Ok(Self { value, targets })
    }

    pub fn apply(&self, res: &mut ResList) -> Result<(), String> {
        for t in &self.targets {
            let idx = match &t.selector {
                None => (0..res.len()).collect(),
                Some(sel) => select(res, sel)?,
            };
            for i in idx {
                let r = &mut res[i];
                if t.field_path == "metadata/namespace" {
                    // Upstream runs the namespace filter without field specs.
                    namespace(
                        std::slice::from_mut(r),
                        &self.value,
                        &[FieldSpec::new("", "", "", "metadata/namespace", true)],
                        false,
                    )?;
                    continue;
                }
                let id = r.cur_id();
                let mut node = &mut r.obj;
                for part in fieldspec::split_path(&t.field_path) {
                    let m = super::resource::ensure_map(node);
                    node = m.entry(part).or_insert(Value::Null);
                }
                let old = match node {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(format!("{id}: `{}` is not a scalar", t.field_path)),
                };
                let new = if t.file_path_position > 0 {
                    insert_path_part(&old, t.file_path_position - 1, &self.value)
                } else {
                    self.value.clone()
                };
                *node = Value::String(new);
            }
        }
        Ok(())
    }
}

/// Upstream's `filesys.InsertPathPart`: `part` inserted at position `pos`
/// of a slash-separated path (clamped; an absolute path stays absolute).
fn insert_path_part(path: &str, pos: i64, part: &str) -> String {
    if part.is_empty() {
        return path.to_string();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = path
        .trim_start_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let pos = usize::try_from(pos).unwrap_or(0).min(parts.len());
    parts.insert(pos, part);
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_path_parts_like_upstream() {
        assert_eq!(insert_path_part("", 0, "P"), "P");
        assert_eq!(insert_path_part("/", 3, "P"), "/P");
        assert_eq!(insert_path_part("pie", 0, "P"), "P/pie");
        assert_eq!(insert_path_part("/raw", 1, "P"), "/raw/P");
        assert_eq!(
            insert_path_part("a/nice/warm/pie", 3, "P"),
            "a/nice/warm/P/pie"
        );
        assert_eq!(
            insert_path_part("/a/nice/warm/pie", 3, "P"),
            "/a/nice/warm/P/pie"
        );
    }
}
