//! `vars`: values read from one resource's field and substituted for
//! `$(NAME)` in the fields the var-reference config lists; and name-reference
//! config derived from CRDs (`crds`).

use crate::kustomize::resource::GvkExt;
use serde_json::Value;

use super::config::{FieldSpec, TransformerConfig};
use super::fieldspec::{self, CreateKind};
use super::resource::{Gvk, Resource};

/// A declared var.
#[derive(Debug, Clone)]
pub(crate) struct Var {
    pub name: String,
    pub gvk: Gvk,
    pub obj_name: String,
    pub namespace: String,
    pub field_path: String,
}

impl Var {
    pub fn from_value(v: &Value) -> Result<Self, String> {
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a var needs a `name`")?;
        let objref = v
            .get("objref")
            .ok_or_else(|| format!("var `{name}` needs an `objref`"))?;
        let s = |k: &str| {
            objref
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let api = s("apiVersion");
        let mut gvk = Gvk::from_api_version_kind(&api, &s("kind"));
        if api.is_empty() {
            gvk.version.clear();
        }
        if !s("group").is_empty() {
            gvk.group = s("group");
        }
        if !s("version").is_empty() {
            gvk.version = s("version");
        }
        let field_path = v
            .get("fieldref")
            .and_then(|f| f.get("fieldpath").or_else(|| f.get("fieldPath")))
            .and_then(Value::as_str)
            .unwrap_or("metadata.name")
            .to_string();
        Ok(Self {
            name: name.to_string(),
            gvk,
            obj_name: s("name"),
            namespace: s("namespace"),
            field_path,
        })
    }

    fn matches(&self, r: &Resource) -> bool {
        r.any_ids().iter().any(|id| {
            id.gvk.is_selected_by(&self.gvk)
                && id.name == self.obj_name
                && (self.namespace.is_empty() || id.namespace == self.namespace)
        })
    }
}

/// Adds a var, refusing duplicates and vars that match several objects
/// already; the one object a var matches remembers the var's name.
pub(crate) fn merge_var(
    vars: &mut Vec<Var>,
    resources: &mut [Resource],
    v: Var,
) -> Result<(), String> {
    let matched: Vec<usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| v.matches(r))
        .map(|(i, _)| i)
        .collect();
    match matched.as_slice() {
        [one] => resources[*one].ref_vars.push(v.name.clone()),
        [] => {}
        many => {
            return Err(format!(
                "found {} resId matches for var {} (unable to disambiguate)",
                many.len(),
                v.name
            ));
        }
    }
    if vars.iter().any(|x| x.name == v.name) {
        return Err(format!("var '{}' already encountered", v.name));
    }
    vars.push(v);
    Ok(())
}

/// Reads a dotted field path (`spec.template.spec.containers[0].image`).
fn read_field<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for part in path.split('.') {
        let (key, idx) = match part.split_once('[') {
            Some((k, rest)) => (k, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        if let Some(i) = idx {
            cur = cur.get(i)?;
        }
    }
    Some(cur)
}

fn value_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Upstream's `expansion.Expand`: replaces `$(NAME)` by the var's value and
/// `$$` by `$`. A string that is exactly one reference takes the var's
/// value with its type (a port number stays a number).
fn expand(s: &str, values: &[(String, Value)], used: &mut Vec<String>) -> Value {
    let lookup = |name: &str, used: &mut Vec<String>| -> Option<Value> {
        let found = values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone());
        if found.is_some() {
            used.push(name.to_string());
        }
        found
    };
    if let Some(name) = s.strip_prefix("$(").and_then(|r| r.strip_suffix(')'))
        && !name.contains(')')
    {
        return lookup(name, used).unwrap_or_else(|| Value::String(s.to_string()));
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if after.is_empty() {
            out.push('$');
            rest = after;
            break;
        }
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            match lookup(name, used) {
                Some(v) => out.push_str(&value_string(&v)),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[end + 1..];
            continue;
        }
        // Not a reference: the operator and the next character are kept.
        out.push('$');
        rest = after;
    }
    out.push_str(rest);
    Value::String(out)
}

/// Substitutes every var in the var-reference fields.
pub(crate) fn resolve(
    resources: &mut [Resource],
    vars: &[Var],
    specs: &[FieldSpec],
) -> Result<(), String> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values = Vec::new();
    for v in vars {
        let found: Vec<&Resource> = resources.iter().filter(|r| v.matches(r)).collect();
        let r = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(format!(
                    "var '{}' cannot be mapped to a field in the set of known resources",
                    v.name
                ));
            }
            many => {
                // Several objects match (a base reused with different
                // prefixes): the one the var was declared against wins.
                let declared: Vec<&Resource> = many
                    .iter()
                    .copied()
                    .filter(|r| r.ref_vars.contains(&v.name))
                    .collect();
                match declared.as_slice() {
                    [one] => *one,
                    _ => {
                        return Err(format!(
                            "found {} resId matches for var {} (unable to disambiguate)",
                            many.len(),
                            v.name
                        ));
                    }
                }
            }
        };
        let value = read_field(&r.obj, &v.field_path).ok_or_else(|| {
            format!(
                "field specified in var '{}' not found in corresponding resource",
                v.name
            )
        })?;
        values.push((v.name.clone(), value.clone()));
    }
    let mut used = Vec::new();
    for r in resources.iter_mut() {
        let gvk = r.gvk();
        for fs in specs {
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
                &mut |node| {
                    substitute(node, &values, &mut used);
                    Ok(())
                },
            )?;
        }
    }
    Ok(())
}

/// Upstream's refvar filter: strings in scalars, in the values of a map and
/// in the items of a sequence are expanded; other values are left alone.
fn substitute(node: &mut Value, values: &[(String, Value)], used: &mut Vec<String>) {
    match node {
        Value::String(s) => *node = expand(s, values, used),
        Value::Array(items) => {
            for i in items {
                if let Value::String(s) = i {
                    *i = expand(s, values, used);
                }
            }
        }
        Value::Object(m) => {
            for (_, v) in m.iter_mut() {
                if let Value::String(s) = v {
                    *v = expand(s, values, used);
                }
            }
        }
        _ => {}
    }
}

/// Transformer config from a `crds` file: a map from OpenAPI definition
/// names to `{Schema, Dependencies}` (upstream's `LoadConfigFromCRDs`). For
/// each definition that looks like a Kubernetes type, the
/// `x-kubernetes-*` extensions on its properties (followed through `$ref`s)
/// become field specs: annotations, label selectors, identities (name
/// prefix) and object references (name references).
pub(crate) fn config_from_crd(doc: &Value) -> TransformerConfig {
    let mut cfg = TransformerConfig::default();
    let Some(defs) = doc.as_object() else {
        return cfg;
    };
    for (def_name, def) in defs {
        let props = def
            .get("Schema")
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object);
        let looks_like_k8s_type = props.is_some_and(|p| {
            p.contains_key("kind") && p.contains_key("apiVersion") && p.contains_key("metadata")
        });
        if !looks_like_k8s_type {
            continue;
        }
        let kind = def_name.rsplit('.').next().unwrap_or(def_name);
        let gvk = Gvk {
            kind: kind.to_string(),
            ..Gvk::default()
        };
        collect_refs(def_name, &gvk, defs, &mut Vec::new(), &mut cfg, 0);
    }
    cfg
}

fn collect_refs(
    type_name: &str,
    gvk: &Gvk,
    defs: &serde_json::Map<String, Value>,
    path: &mut Vec<String>,
    cfg: &mut TransformerConfig,
    depth: usize,
) {
    // Definitions may refer to each other in cycles; upstream has no guard
    // (it would recurse forever), a depth limit keeps us finite.
    if depth > 32 {
        return;
    }
    let Some(props) = defs
        .get(type_name)
        .and_then(|d| d.get("Schema"))
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    else {
        return;
    };
    let fs = |path: &[String]| FieldSpec {
        gvk: gvk.clone(),
        path: path.join("/"),
        create: false,
    };
    for (prop, sub) in props {
        path.push(prop.clone());
        let ext = |k: &str| sub.get(k).and_then(Value::as_str);
        if ext("x-kubernetes-annotation").is_some() {
            cfg.common_annotations.push(fs(path));
        }
        if ext("x-kubernetes-label-selector").is_some() {
            cfg.common_labels.push(fs(path));
        }
        if ext("x-kubernetes-identity").is_some() {
            cfg.name_prefix.push(fs(path));
        }
        if let (Some(version), Some(kind)) = (
            ext("x-kubernetes-object-ref-api-version"),
            ext("x-kubernetes-object-ref-kind"),
        ) {
            let name_key = ext("x-kubernetes-object-ref-name-key").unwrap_or("name");
            path.push(name_key.to_string());
            let spec = fs(path);
            path.pop();
            let target = Gvk {
                group: String::new(),
                version: version.to_string(),
                kind: kind.to_string(),
            };
            match cfg.name_reference.iter_mut().find(|b| b.gvk == target) {
                Some(b) => b.field_specs.push(spec),
                None => cfg.name_reference.push(super::config::NameBackRef {
                    gvk: target,
                    field_specs: vec![spec],
                }),
            }
        }
        if let Some(r) = sub.get("$ref").and_then(Value::as_str) {
            collect_refs(r, gvk, defs, path, cfg, depth + 1);
        }
        path.pop();
    }
}
