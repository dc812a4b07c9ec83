//! `wgpolicyk8s.io/v1alpha2` PolicyReports, as Kyverno writes them.
//!
//! Findings about namespaced objects go into one `PolicyReport` per namespace
//! (`slipway-polr-ns-<namespace>`, in that namespace); findings about
//! cluster-scoped objects, and findings without an object (a secret in a plain
//! file, a vulnerable package), go into one `ClusterPolicyReport`
//! (`slipway-cpolr`), the latter without `resources`. The `slipway-` prefix keeps
//! them apart from the reports Kyverno's own controllers maintain. Every result is
//! kept, passes included, as Kyverno does.
//!
//! Each result has `policy` (the finding's policy, else its source: `kubesec`,
//! `secrets`…), `rule` (the policy rule, else the check id), `result`, `scored:
//! true`, `severity`, `category` when known, `message`, `source: slipway`, the
//! render `timestamp`, `resources` and `properties` (a string map in v1alpha2, so
//! non-string values are written as JSON text; the KubeSec score is `score`).
//! Keys are written in alphabetical order, as Kyverno's YAML output has them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::{Finding, Format, Outcome, RenderError, RenderOptions, Report};

/// The API version written.
pub const API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";
/// The `source` of every result.
pub const SOURCE: &str = "slipway";
/// The name of the cluster-scoped report.
pub const CLUSTER_REPORT_NAME: &str = "slipway-cpolr";

/// The reports of `report`: the `ClusterPolicyReport` first (when it has results,
/// or when there is no other report), then one `PolicyReport` per namespace in
/// name order.
pub fn to_values(report: &Report, options: &RenderOptions) -> Vec<Value> {
    let mut cluster: Vec<&Finding> = Vec::new();
    let mut namespaced: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        match &f.object {
            Some(o) if !o.is_cluster_scoped() => {
                let ns = o.namespace.as_deref().unwrap_or_default();
                namespaced.entry(ns).or_default().push(f);
            }
            _ => cluster.push(f),
        }
    }
    let mut out = Vec::new();
    if !cluster.is_empty() || namespaced.is_empty() {
        let metadata = json!({
            "labels": { "app.kubernetes.io/managed-by": SOURCE },
            "name": CLUSTER_REPORT_NAME,
        });
        out.push(document("ClusterPolicyReport", metadata, &cluster, options));
    }
    for (ns, findings) in namespaced {
        let metadata = json!({
            "labels": { "app.kubernetes.io/managed-by": SOURCE },
            "name": format!("slipway-polr-ns-{ns}"),
            "namespace": ns,
        });
        out.push(document("PolicyReport", metadata, &findings, options));
    }
    out
}

/// The reports as multi-document YAML.
pub fn render_yaml(report: &Report, options: &RenderOptions) -> Result<String, RenderError> {
    serde_saphyr::to_string_multiple(&to_values(report, options)).map_err(|source| {
        RenderError::Yaml {
            format: Format::PolicyReport,
            source,
        }
    })
}

/// The reports as a JSON `v1/List`, which `kubectl apply -f` accepts.
pub fn render_json(report: &Report, options: &RenderOptions) -> Result<String, RenderError> {
    let list = json!({
        "apiVersion": "v1",
        "items": to_values(report, options),
        "kind": "List",
    });
    let mut text = serde_json::to_string_pretty(&list).map_err(|source| RenderError::Json {
        format: Format::PolicyReport,
        source,
    })?;
    text.push('\n');
    Ok(text)
}

fn document(kind: &str, metadata: Value, findings: &[&Finding], options: &RenderOptions) -> Value {
    let mut summary = Map::new();
    for outcome in [
        Outcome::Error,
        Outcome::Fail,
        Outcome::Pass,
        Outcome::Skip,
        Outcome::Warn,
    ] {
        let count = findings.iter().filter(|f| f.result == outcome).count();
        summary.insert(outcome.as_str().into(), json!(count));
    }
    let mut doc = Map::new();
    doc.insert("apiVersion".into(), json!(API_VERSION));
    doc.insert("kind".into(), json!(kind));
    doc.insert("metadata".into(), metadata);
    doc.insert(
        "results".into(),
        Value::Array(findings.iter().map(|f| result(f, options)).collect()),
    );
    doc.insert("summary".into(), Value::Object(summary));
    Value::Object(doc)
}

fn result(f: &Finding, options: &RenderOptions) -> Value {
    let mut r = Map::new();
    if let Some(category) = &f.category {
        r.insert("category".into(), json!(category));
    }
    r.insert("message".into(), json!(f.message));
    r.insert(
        "policy".into(),
        json!(f.policy.as_deref().unwrap_or(f.source.as_str())),
    );
    let properties = properties(f);
    if !properties.is_empty() {
        r.insert("properties".into(), Value::Object(properties));
    }
    if let Some(o) = &f.object {
        let mut resource = Map::new();
        resource.insert("apiVersion".into(), json!(o.api_version));
        resource.insert("kind".into(), json!(o.kind));
        resource.insert("name".into(), json!(o.name));
        if let Some(ns) = &o.namespace {
            resource.insert("namespace".into(), json!(ns));
        }
        if let Some(uid) = &o.uid {
            resource.insert("uid".into(), json!(uid));
        }
        r.insert("resources".into(), json!([resource]));
    }
    r.insert("result".into(), json!(f.result.as_str()));
    r.insert("rule".into(), json!(f.rule_name()));
    r.insert("scored".into(), json!(true));
    r.insert("severity".into(), json!(f.severity.as_str()));
    r.insert("source".into(), json!(SOURCE));
    r.insert(
        "timestamp".into(),
        json!({ "nanos": options.timestamp.nanos, "seconds": options.timestamp.seconds }),
    );
    Value::Object(r)
}

/// v1alpha2 `properties` is `map[string]string`: strings stay, other values become
/// their JSON text. Sorted by key.
fn properties(f: &Finding) -> Map<String, Value> {
    let mut sorted: BTreeMap<&str, String> = f
        .properties
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.as_str(), text)
        })
        .collect();
    let score = f.score.map(|s| s.to_string());
    if let Some(score) = &score {
        sorted.insert("score", score.clone());
    }
    sorted
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect()
}
