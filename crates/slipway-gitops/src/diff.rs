//! Desired vs live comparison. The desired object is applied (in memory) to the
//! live one with the same merge the environment uses, giving the *predicted
//! live* object; the resource is out of sync when that differs from live after
//! normalisation (server-set metadata, the last-applied annotation) and after
//! the app's `ignoreDifferences` (JSON pointers, jq paths, managed-field
//! managers) are removed from both. This is gitops-engine's approach: fields the
//! server defaulted, or another manager owns, never count as drift.

use crate::application::IgnoreDifference;
use crate::cluster::ResourceRef;
use crate::fields::{SERVER_METADATA, apply_merge, managed_entries};
use serde_json::Value;

/// The result of comparing one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDiff {
    /// Whether a sync would change the live object (or create it).
    pub modified: bool,
    /// Live, normalised (None when it does not exist).
    pub live: Option<Value>,
    /// What live would be after applying the desired object, normalised.
    pub predicted: Value,
}

/// An ignoreDifferences path expression that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ignoreDifferences: cannot parse jq path expression {expression:?}: {message}")]
pub struct JqPathError {
    /// The expression.
    pub expression: String,
    /// Why.
    pub message: String,
}

/// Removes what the server sets and what only says how an object was applied.
pub fn normalize(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in SERVER_METADATA {
            m.remove(*k);
        }
        if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            a.remove("deployment.kubernetes.io/revision");
        }
        for k in ["annotations", "labels"] {
            if m.get(k)
                .is_some_and(|v| v.as_object().is_some_and(|o| o.is_empty()) || v.is_null())
            {
                m.remove(k);
            }
        }
    }
    v
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Elem {
    Key(String),
    Index(usize),
}

fn remove_at(v: &mut Value, path: &[Elem]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for e in parents {
        let next = match (e, cur) {
            (Elem::Key(k), Value::Object(m)) => m.get_mut(k),
            (Elem::Index(i), Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match (last, cur) {
        (Elem::Key(k), Value::Object(m)) => {
            m.remove(k);
        }
        (Elem::Index(i), Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}

fn pointer_path(pointer: &str, v: &Value) -> Vec<Elem> {
    let mut out = Vec::new();
    let mut cur = Some(v);
    for raw in pointer.split('/').skip(1) {
        let key = raw.replace("~1", "/").replace("~0", "~");
        let elem = match cur {
            Some(Value::Array(_)) => match key.parse::<usize>() {
                Ok(i) => Elem::Index(i),
                Err(_) => Elem::Key(key),
            },
            _ => Elem::Key(key),
        };
        cur = match (&elem, cur) {
            (Elem::Key(k), Some(Value::Object(m))) => m.get(k),
            (Elem::Index(i), Some(Value::Array(a))) => a.get(*i),
            _ => None,
        };
        out.push(elem);
    }
    out
}

/// A parsed jq path: the subset Argo CD users write in ignoreDifferences.
#[derive(Debug, Clone, PartialEq)]
enum JqStep {
    Key(String),
    Index(usize),
    Each,
    Select(Vec<String>, Value),
}

fn parse_jq(expr: &str) -> Result<Vec<JqStep>, JqPathError> {
    let err = |m: &str| JqPathError {
        expression: expr.to_string(),
        message: m.to_string(),
    };
    let mut steps = Vec::new();
    for segment in split_pipes(expr) {
        let s = segment.trim();
        if let Some(inner) = s.strip_prefix("select(").and_then(|r| r.strip_suffix(')')) {
            let (lhs, rhs) = inner
                .split_once("==")
                .ok_or_else(|| err("select() needs `.field == value`"))?;
            let path = parse_simple_path(lhs.trim()).ok_or_else(|| err("bad path in select()"))?;
            let value: Value = serde_json::from_str(rhs.trim())
                .map_err(|_| err("select() compares with a JSON literal"))?;
            steps.push(JqStep::Select(path, value));
            continue;
        }
        let bytes = s.as_bytes();
        let mut i = 0;
        if !s.starts_with('.') {
            return Err(err("a path starts with `.`"));
        }
        while i < bytes.len() {
            match bytes[i] {
                b'.' => {
                    i += 1;
                    let start = i;
                    while i < bytes.len()
                        && (bytes[i].is_ascii_alphanumeric()
                            || bytes[i] == b'_'
                            || bytes[i] == b'-')
                    {
                        i += 1;
                    }
                    if i > start {
                        steps.push(JqStep::Key(s[start..i].to_string()));
                    }
                }
                b'[' => {
                    let end = s[i..].find(']').ok_or_else(|| err("unclosed `[`"))? + i;
                    let inner = s[i + 1..end].trim();
                    if inner.is_empty() {
                        steps.push(JqStep::Each);
                    } else if let Ok(n) = inner.parse::<usize>() {
                        steps.push(JqStep::Index(n));
                    } else {
                        let key: String = serde_json::from_str(inner)
                            .map_err(|_| err("a bracket holds a number or a quoted key"))?;
                        steps.push(JqStep::Key(key));
                    }
                    i = end + 1;
                }
                b' ' => i += 1,
                _ => return Err(err("unsupported syntax")),
            }
        }
    }
    Ok(steps)
}

fn split_pipes(expr: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut in_str, mut start) = (0i32, false, 0usize);
    for (i, c) in expr.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '(' if !in_str => depth += 1,
            ')' if !in_str => depth -= 1,
            '|' if !in_str && depth == 0 => {
                out.push(&expr[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&expr[start..]);
    out
}

fn parse_simple_path(s: &str) -> Option<Vec<String>> {
    let s = s.strip_prefix('.')?;
    Some(
        s.split('.')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

fn eval_jq(v: &Value, steps: &[JqStep], prefix: &mut Vec<Elem>, out: &mut Vec<Vec<Elem>>) {
    let Some((step, rest)) = steps.split_first() else {
        out.push(prefix.clone());
        return;
    };
    match step {
        JqStep::Key(k) => {
            if let Some(child) = v.get(k.as_str()) {
                prefix.push(Elem::Key(k.clone()));
                eval_jq(child, rest, prefix, out);
                prefix.pop();
            }
        }
        JqStep::Index(i) => {
            if let Some(child) = v.get(*i) {
                prefix.push(Elem::Index(*i));
                eval_jq(child, rest, prefix, out);
                prefix.pop();
            }
        }
        JqStep::Each => match v {
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    prefix.push(Elem::Index(i));
                    eval_jq(child, rest, prefix, out);
                    prefix.pop();
                }
            }
            Value::Object(m) => {
                for (k, child) in m {
                    prefix.push(Elem::Key(k.clone()));
                    eval_jq(child, rest, prefix, out);
                    prefix.pop();
                }
            }
            _ => {}
        },
        JqStep::Select(path, want) => {
            let mut cur = Some(v);
            for k in path {
                cur = cur.and_then(|c| c.get(k.as_str()));
            }
            if cur == Some(want) {
                eval_jq(v, rest, prefix, out);
            }
        }
    }
}

/// Checks every jq expression of the app's ignoreDifferences.
pub fn validate_ignores(ignores: &[IgnoreDifference]) -> Result<(), JqPathError> {
    for i in ignores {
        for e in &i.jq_path_expressions {
            parse_jq(e)?;
        }
    }
    Ok(())
}

fn ignore_applies(i: &IgnoreDifference, r: &ResourceRef) -> bool {
    (i.group == r.group || i.group == "*")
        && (i.kind == r.kind || i.kind == "*")
        && i.name.as_ref().is_none_or(|n| n.is_empty() || *n == r.name)
        && i.namespace
            .as_ref()
            .is_none_or(|n| n.is_empty() || *n == r.namespace)
}

fn remove_ignored(v: &mut Value, ignores: &[&IgnoreDifference], live_raw: Option<&Value>) {
    for i in ignores {
        for p in &i.json_pointers {
            let path = pointer_path(p, v);
            remove_at(v, &path);
        }
        for e in &i.jq_path_expressions {
            // Invalid expressions were reported by validate_ignores; skip here.
            let Ok(steps) = parse_jq(e) else { continue };
            let mut paths = Vec::new();
            eval_jq(v, &steps, &mut Vec::new(), &mut paths);
            // Remove deepest and highest indices first so earlier paths stay valid.
            paths.sort();
            for p in paths.iter().rev() {
                remove_at(v, p);
            }
        }
        if !i.managed_fields_managers.is_empty()
            && let Some(live) = live_raw
        {
            for entry in managed_entries(live) {
                if i.managed_fields_managers.contains(&entry.manager) {
                    for f in &entry.fields {
                        crate::fields::remove_path(v, f);
                    }
                }
            }
        }
    }
}

/// Compares a desired object with its live counterpart.
pub fn diff_resource(
    desired: &Value,
    live: Option<&Value>,
    ignores: &[IgnoreDifference],
    manager: &str,
) -> ResourceDiff {
    let r = ResourceRef::of(desired);
    let applicable: Vec<&IgnoreDifference> =
        ignores.iter().filter(|i| ignore_applies(i, &r)).collect();
    let predicted_raw = apply_merge(live, desired, manager, "");
    let mut predicted = normalize(&predicted_raw);
    remove_ignored(&mut predicted, &applicable, live);
    let live_norm = live.map(|l| {
        let mut n = normalize(l);
        remove_ignored(&mut n, &applicable, live);
        n
    });
    let modified = match &live_norm {
        None => true,
        Some(l) => *l != predicted,
    };
    ResourceDiff {
        modified,
        live: live_norm,
        predicted,
    }
}

/// YAML text of an object for display (empty for none).
pub fn to_yaml(v: Option<&Value>) -> String {
    match v {
        None => String::new(),
        Some(v) => serde_saphyr::to_string(v).unwrap_or_else(|_| v.to_string()),
    }
}

/// A unified diff between live and predicted, labelled with the resource.
pub fn unified_diff(resource: &ResourceRef, d: &ResourceDiff) -> String {
    let old = to_yaml(d.live.as_ref());
    let new = to_yaml(Some(&d.predicted));
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{resource}"), &format!("desired/{resource}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fields::apply_merge;

    fn deploy(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "web", "image": image}, {"name": "sidecar", "image": "proxy:1"}]}}}})
    }

    fn ignore(ptrs: &[&str], jq: &[&str], managers: &[&str]) -> IgnoreDifference {
        IgnoreDifference {
            group: "apps".into(),
            kind: "Deployment".into(),
            json_pointers: ptrs.iter().map(|s| s.to_string()).collect(),
            jq_path_expressions: jq.iter().map(|s| s.to_string()).collect(),
            managed_fields_managers: managers.iter().map(|s| s.to_string()).collect(),
            ..IgnoreDifference::default()
        }
    }

    #[test]
    fn in_sync_after_apply_and_server_fields_do_not_count() {
        let desired = deploy(2, "web:1");
        let mut live = apply_merge(None, &desired, "slipway", "t");
        live["metadata"]["uid"] = json!("u");
        live["metadata"]["resourceVersion"] = json!("7");
        live["status"] = json!({"replicas": 2});
        assert!(!diff_resource(&desired, Some(&live), &[], "slipway").modified);
        assert!(diff_resource(&desired, None, &[], "slipway").modified);
    }

    #[test]
    fn drift_is_detected_and_ignored_by_pointer_jq_or_manager() {
        let desired = deploy(2, "web:1");
        let live = apply_merge(None, &desired, "slipway", "t");
        let drifted = apply_merge(Some(&live), &deploy(5, "web:1"), "hpa", "t");
        let d = diff_resource(&desired, Some(&drifted), &[], "slipway");
        assert!(d.modified);
        let text = unified_diff(&ResourceRef::of(&desired), &d);
        assert!(text.contains("-  replicas: 5"), "{text}");
        assert!(text.contains("+  replicas: 2"), "{text}");
        for ig in [
            ignore(&["/spec/replicas"], &[], &[]),
            ignore(&[], &[".spec.replicas"], &[]),
            ignore(&[], &[], &["hpa"]),
        ] {
            assert!(
                !diff_resource(
                    &desired,
                    Some(&drifted),
                    std::slice::from_ref(&ig),
                    "slipway"
                )
                .modified,
                "{ig:?}"
            );
        }
        let image_drift = apply_merge(Some(&live), &deploy(2, "web:2"), "alice", "t");
        let ig = ignore(
            &[],
            &[r#".spec.template.spec.containers[] | select(.name == "web") | .image"#],
            &[],
        );
        assert!(!diff_resource(&desired, Some(&image_drift), &[ig], "slipway").modified);
        let ig = ignore(
            &[],
            &[r#".spec.template.spec.containers[] | select(.name == "sidecar") | .image"#],
            &[],
        );
        assert!(diff_resource(&desired, Some(&image_drift), &[ig], "slipway").modified);
    }

    #[test]
    fn bad_jq_is_reported() {
        let err = validate_ignores(&[ignore(&[], &["spec.replicas"], &[])]).unwrap_err();
        assert!(err.to_string().contains("spec.replicas"));
    }
}
