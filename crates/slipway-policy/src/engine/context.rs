//! The rule context: building `request.*` once per request, injecting values,
//! loading `context` entries, substituting variables and evaluating condition
//! blocks (preconditions and deny).

use serde_json::{Map, Value, json};

use super::{ContextValues, Request};
use crate::jmes::{JmesContext, SubstituteOptions, substitute_with};
use crate::model::ContextEntry;

/// The JMESPath context of a request (`request.*`, `images`, service account),
/// as Kyverno's CLI builds it: `request.object` on CREATE/UPDATE,
/// `request.oldObject` when present, `request.namespace` from the object.
pub(crate) fn build_context(req: &Request) -> JmesContext {
    let resource = target_resource(req);
    let mut request = Map::new();
    request.insert("operation".into(), json!(req.operation.as_str()));
    let ns = resource
        .get("metadata")
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or("");
    request.insert("namespace".into(), json!(ns));
    let mut root = Map::new();
    if let Some(u) = &req.user_info {
        request.insert("userInfo".into(), u.user_info.clone());
        request.insert("roles".into(), json!(u.roles));
        request.insert("clusterRoles".into(), json!(u.cluster_roles));
        let username = u
            .user_info
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or("");
        let (sa_ns, sa_name) = service_account(username);
        root.insert("serviceAccountName".into(), json!(sa_name));
        root.insert("serviceAccountNamespace".into(), json!(sa_ns));
    }
    root.insert("request".into(), Value::Object(request));
    if let Some(images) = super::images::images_of(resource) {
        root.insert("images".into(), images);
    }
    let mut ctx = JmesContext::new(Value::Object(root));
    // Set from references: the objects are converted once, never cloned.
    if !req.object.is_null() {
        ctx.set("request.object", &req.object);
    }
    if !req.old_object.is_null() {
        ctx.set("request.oldObject", &req.old_object);
    }
    ctx
}

/// The object the request is about: the new object, or the old one on DELETE.
pub(crate) fn target_resource(req: &Request) -> &Value {
    if req.object.is_null() {
        &req.old_object
    } else {
        &req.object
    }
}

/// `(namespace, name)` of a `system:serviceaccount:<ns>:<name>` user, empty otherwise.
fn service_account(username: &str) -> (&str, &str) {
    const PREFIX: &str = "system:serviceaccount:";
    let rest = if username.len() <= PREFIX.len() {
        ""
    } else {
        username.get(PREFIX.len()..).unwrap_or("")
    };
    let mut parts = rest.split(':');
    match (parts.next(), parts.next()) {
        (Some(ns), Some(name)) => (ns, name),
        _ => ("", ""),
    }
}

/// Sets every `(dotted path, value)` pair.
pub(crate) fn inject(ctx: &mut JmesContext, values: &[(String, Value)]) {
    for (k, v) in values {
        ctx.set(k, v);
    }
}

/// Whether a context entry's name was supplied by the caller's values (then
/// it is neither computed nor fetched).
fn supplied(values: &ContextValues, rule: &str, name: &str) -> bool {
    let hit = |vals: &[(String, Value)]| {
        vals.iter()
            .any(|(k, _)| k == name || k.split('.').next() == Some(name))
    };
    hit(&values.global)
        || hit(&values.resource)
        || values.rules.get(rule).is_some_and(|v| hit(v))
        || values.foreach.get(rule).is_some_and(|v| {
            v.iter()
                .any(|(k, _)| k == name || k.split('.').next() == Some(name))
        })
}

/// Substitutes variables in `doc`; `at` resolves `{{ @ }}` against `target`.
pub(crate) fn substitute(
    doc: &Value,
    ctx: &JmesContext,
    target: Option<&Value>,
    preconditions: bool,
) -> Result<Value, String> {
    if !contains_variables(doc) {
        return Ok(doc.clone());
    }
    let lookup = |ptr: &str| -> Option<Value> {
        let t = target?;
        let clean: String = ptr
            .split('/')
            .map(strip_anchor)
            .collect::<Vec<_>>()
            .join("/");
        t.pointer(&clean).cloned()
    };
    let options = SubstituteOptions {
        at: Some(&lookup),
        unresolved_as_empty: preconditions,
        base_path: "",
    };
    substitute_with(doc, ctx, &options).map_err(|e| e.to_string())
}

/// `(key)`, `=(key)`, `X(key)`... -> `key`.
fn strip_anchor(segment: &str) -> &str {
    let s = segment.trim_start_matches(['+', '<', '=', 'X', '^']);
    match s.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        Some(inner) => inner,
        None => segment,
    }
}

/// Whether any string (or key) in `doc` holds `{{`.
pub(crate) fn contains_variables(doc: &Value) -> bool {
    match doc {
        Value::String(s) => s.contains("{{"),
        Value::Array(a) => a.iter().any(contains_variables),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.contains("{{") || contains_variables(v)),
        _ => false,
    }
}

/// Substitutes a message; on failure the raw message is kept (as Kyverno does).
pub(crate) fn message(msg: &str, ctx: &JmesContext) -> String {
    if !msg.contains("{{") {
        return msg.to_string();
    }
    match substitute(&Value::String(msg.to_string()), ctx, None, false) {
        Ok(Value::String(s)) => s,
        Ok(other) => crate::jmes::to_go_json(&other),
        Err(_) => msg.to_string(),
    }
}

/// Loads context entries in order. Entries supplied by values are skipped;
/// `configMap`, `apiCall`, `imageRegistry` and `globalReference` are not
/// fetched by this offline engine, so without a value they are an error.
pub(crate) fn load_entries(
    entries: &[ContextEntry],
    ctx: &mut JmesContext,
    values: &ContextValues,
    rule: &str,
) -> Result<(), String> {
    for entry in entries {
        if supplied(values, rule, &entry.name) {
            continue;
        }
        match &entry.variable {
            Some(var) => {
                let v = load_variable(entry, var, ctx)?;
                ctx.set(&entry.name, v);
            }
            None => {
                return Err(format!(
                    "context entry {:?} ({}) is not available offline: supply its value (kyverno-test values file `policies[].rules[].values`)",
                    entry.name,
                    entry.type_name()
                ));
            }
        }
    }
    Ok(())
}

fn load_variable(
    entry: &ContextEntry,
    var: &crate::model::ContextVariable,
    ctx: &JmesContext,
) -> Result<Value, String> {
    let default = match &var.default {
        Some(d) => Some(substitute(d, ctx, None, false)?),
        None => None,
    };
    let path = match &var.jmes_path {
        Some(p) if !p.trim().is_empty() => {
            match substitute(&Value::String(p.clone()), ctx, None, false)? {
                Value::String(s) => Some(s),
                other => Some(other.to_string()),
            }
        }
        _ => None,
    };
    let mut output = default.clone();
    if let Some(value) = &var.value {
        let v = substitute(value, ctx, None, false)?;
        match &path {
            Some(p) => match crate::jmes::search_value(p, &v) {
                Ok(r) => output = Some(r),
                Err(e) => {
                    if default.is_none() {
                        return Err(format!(
                            "failed to apply jmespath {p} to variable {:?}: {e}",
                            entry.name
                        ));
                    }
                }
            },
            None => output = Some(v),
        }
    } else if let Some(p) = &path {
        match ctx.search(p) {
            Ok(r) if !r.is_null() => output = Some(r),
            Ok(_) => {}
            Err(e) => {
                if default.is_none() {
                    return Err(format!(
                        "failed to apply jmespath {p} for variable {:?}: {e}",
                        entry.name
                    ));
                }
            }
        }
    }
    match output {
        Some(Value::Null) | None => match default {
            Some(d) if !d.is_null() => Ok(d),
            _ => Err(format!(
                "unable to add context entry for variable {:?} since it evaluated to nil",
                entry.name
            )),
        },
        Some(v) => Ok(v),
    }
}

/// Evaluates a condition block (`{any, all}` or a legacy list) whose
/// variables are already substituted. A missing block is true; an explicit
/// empty `any` is false.
pub(crate) fn evaluate_block(block: &Value) -> Result<bool, String> {
    let parsed = crate::conditions::ConditionBlock::parse(block).map_err(|e| e.to_string())?;
    crate::conditions::evaluate_block(&parsed).map_err(|e| e.to_string())
}

/// Preconditions: substituted with Kyverno's lenient resolver (an unresolved
/// variable becomes ""), then evaluated. A missing block is true.
pub(crate) fn preconditions(
    block: Option<&super::compiled::Block>,
    ctx: &JmesContext,
) -> Result<bool, String> {
    match block {
        None => Ok(true),
        Some(b) => b.evaluate(ctx, true).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_parsing() {
        assert_eq!(service_account("system:serviceaccount:ns:sa"), ("ns", "sa"));
        assert_eq!(service_account("alice"), ("", ""));
    }

    #[test]
    fn anchors_are_stripped_from_at_paths() {
        assert_eq!(strip_anchor("=(name)"), "name");
        assert_eq!(strip_anchor("(name)"), "name");
        assert_eq!(strip_anchor("name"), "name");
    }
}
