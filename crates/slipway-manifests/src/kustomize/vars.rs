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

/// Adds a var, refusing duplicates and vars whose object is not in the build.
pub(crate) fn merge_var(vars: &mut Vec<Var>, resources: &[Resource], v: Var) -> Result<(), String> {
    if vars.iter().any(|x| x.name == v.name) {
        return Err(format!("var '{}' already encountered", v.name));
    }
    if !resources.iter().any(|r| v.matches(r)) {
        return Err(format!(
            "var '{}' cannot be mapped to a field in the set of known resources",
            v.name
        ));
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

/// Replaces `$(NAME)` (and `$$` escapes) in `s`.
fn expand(s: &str, values: &[(String, String)], used: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        if let Some(inner) = after.strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            let name = &inner[..end];
            if let Some((_, v)) = values.iter().find(|(n, _)| n == name) {
                out.push_str(v);
                used.push(name.to_string());
                rest = &inner[end + 1..];
                continue;
            }
            out.push_str("$(");
            out.push_str(name);
            out.push(')');
            rest = &inner[end + 1..];
            continue;
        }
        out.push('$');
        rest = after;
    }
    out.push_str(rest);
    out
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
            _ => {
                return Err(format!(
                    "found {} resId matches for var {}",
                    found.len(),
                    v.name
                ));
            }
        };
        let value = read_field(&r.obj, &v.field_path).ok_or_else(|| {
            format!(
                "field specified in var '{}' not found in corresponding resource",
                v.name
            )
        })?;
        values.push((v.name.clone(), value_string(value)));
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

fn substitute(node: &mut Value, values: &[(String, String)], used: &mut Vec<String>) {
    match node {
        Value::String(s) => *s = expand(s, values, used),
        Value::Array(items) => {
            for i in items {
                substitute(i, values, used);
            }
        }
        Value::Object(m) => {
            for (_, v) in m.iter_mut() {
                if let Value::String(s) = v {
                    *s = expand(s, values, used);
                }
            }
        }
        _ => {}
    }
}

/// Name-reference config from a CRD's `x-kubernetes-object-ref-*` schema hints.
pub(crate) fn config_from_crd(doc: &Value) -> TransformerConfig {
    // CRD schemas in the legacy `definitions` form may mark fields as
    // references with `x-kubernetes-object-ref-kind`; collect them as
    // name-reference field specs of that kind.
    let mut cfg = TransformerConfig::default();
    let Some(defs) = doc.get("definitions").and_then(Value::as_object) else {
        return cfg;
    };
    for (def_name, def) in defs {
        let kind = def_name.rsplit('.').next().unwrap_or(def_name);
        collect_refs(def, kind, defs, &mut Vec::new(), &mut cfg, 0);
    }
    cfg
}

fn collect_refs(
    schema: &Value,
    kind: &str,
    defs: &serde_json::Map<String, Value>,
    path: &mut Vec<String>,
    cfg: &mut TransformerConfig,
    depth: usize,
) {
    if depth > 16 {
        return;
    }
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (field, sub) in props {
        path.push(field.clone());
        if let Some(ref_kind) = sub
            .get("x-kubernetes-object-ref-kind")
            .and_then(Value::as_str)
        {
            let fs = FieldSpec::new("", "", kind, &path.join("/"), false);
            let target = Gvk {
                kind: ref_kind.to_string(),
                ..Gvk::default()
            };
            match cfg.name_reference.iter_mut().find(|b| b.gvk == target) {
                Some(b) => b.field_specs.push(fs),
                None => cfg.name_reference.push(super::config::NameBackRef {
                    gvk: target,
                    field_specs: vec![fs],
                }),
            }
        }
        let nested = sub
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/definitions/"))
            .and_then(|r| defs.get(r))
            .unwrap_or(sub);
        collect_refs(nested, kind, defs, path, cfg, depth + 1);
        path.pop();
    }
}
