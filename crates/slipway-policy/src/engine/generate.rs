//! Generate rules: `data` produces an object with the rule's apiVersion,
//! kind, name and namespace (variables substituted). `clone`/`cloneList`
//! need the source objects from a cluster and are reported as errors offline.

use serde_json::{Map, Value, json};

use super::context::{inject, load_entries, preconditions, substitute};
use super::run::{Outcome, PolicyRun};
use crate::model::Rule;

/// Evaluates one generate rule that matched: the outcome and the generated
/// objects, or `None` for no response.
pub(crate) fn generate_rule(run: &mut PolicyRun<'_>, rule: &Rule) -> Option<(Outcome, Vec<Value>)> {
    let g = rule.generate.as_ref()?;
    if let Some(vals) = run.values.rules.get(&rule.name) {
        inject(&mut run.ctx, vals);
    }
    if let Err(e) = load_entries(&rule.context, &mut run.ctx, run.values, &rule.name) {
        return Some((
            Outcome::error(format!("failed to load context: {e}")),
            Vec::new(),
        ));
    }
    match preconditions(rule.compiled.get(rule).preconditions.as_ref(), &run.ctx) {
        Err(e) => {
            return Some((
                Outcome::error(format!("failed to evaluate preconditions: {e}")),
                Vec::new(),
            ));
        }
        Ok(false) => return Some((Outcome::skip("preconditions not met"), Vec::new())),
        Ok(true) => {}
    }
    let Some(data) = &g.data else {
        if g.clone.is_some() || g.clone_list.is_some() {
            return Some((
                Outcome::error(
                    "generate clone/cloneList needs the source objects from a cluster, which are not available offline",
                ),
                Vec::new(),
            ));
        }
        return None;
    };
    let head = json!({
        "apiVersion": g.api_version.clone().unwrap_or_default(),
        "kind": g.kind.clone().unwrap_or_default(),
        "name": g.name.clone().unwrap_or_default(),
        "namespace": g.namespace.clone().unwrap_or_default(),
    });
    let head = match substitute(&head, &run.ctx, None, false) {
        Ok(h) => h,
        Err(e) => {
            return Some((
                Outcome::error(format!("variable substitution failed: {e}")),
                Vec::new(),
            ));
        }
    };
    let data = match substitute(data, &run.ctx, None, false) {
        Ok(d) => d,
        Err(e) => {
            return Some((
                Outcome::error(format!("variable substitution failed: {e}")),
                Vec::new(),
            ));
        }
    };
    let mut object = match data {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => return Some((Outcome::error("generate.data must be a map"), Vec::new())),
    };
    let s = |k: &str| {
        head.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    object.insert("apiVersion".into(), json!(s("apiVersion")));
    object.insert("kind".into(), json!(s("kind")));
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    if let Value::Object(md) = metadata {
        md.insert("name".into(), json!(s("name")));
        let ns = s("namespace");
        if !ns.is_empty() {
            md.insert("namespace".into(), json!(ns));
        }
    }
    Some((
        Outcome::pass(format!("generated {} {}", s("kind"), s("name"))),
        vec![Value::Object(object)],
    ))
}
