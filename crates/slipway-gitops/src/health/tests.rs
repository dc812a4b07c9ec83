//! Unit tests and the Argo CD health conformance run over
//! `shared/conformance/argocd-health`, read in place.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;

/// The conformance root: `SLIPWAY_CONFORMANCE_DIR` or `../shared/conformance`.
fn conformance_root() -> Option<PathBuf> {
    let dir = std::env::var_os("SLIPWAY_CONFORMANCE_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/conformance"
            ))
        },
        PathBuf::from,
    );
    if dir.join("argocd-health").is_dir() {
        return Some(dir.join("argocd-health"));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "conformance data missing at {} (CI is set)",
        dir.display()
    );
    None
}

fn load_one(path: &std::path::Path) -> Value {
    slipway_manifests::load_path(path).unwrap().remove(0).object
}

#[test]
#[allow(clippy::print_stderr)]
fn conformance_objects() {
    let Some(root) = conformance_root() else {
        eprintln!("skipped: argocd-health conformance data not found");
        return;
    };
    let expected = load_one(&root.join("expected.yaml"));
    let cases = expected["objects"].as_object().unwrap();
    let mut failures = Vec::new();
    for (file, want) in cases {
        let obj = load_one(&root.join("objects").join(file));
        let got = resource_health(&obj);
        let want_status = want["status"].as_str();
        let ok_status = got.as_ref().map(|h| h.status.as_str()) == want_status;
        let ok_message = match want.get("message").and_then(Value::as_str) {
            Some(m) => got.as_ref().is_some_and(|h| h.message == m),
            None => true,
        };
        if !(ok_status && ok_message) {
            failures.push(format!(
                "{file}: want {want_status:?} {:?}, got {got:?}",
                want.get("message")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 37);
}

#[test]
#[allow(clippy::print_stderr)]
fn conformance_aggregation() {
    let Some(root) = conformance_root() else {
        eprintln!("skipped: argocd-health conformance data not found");
        return;
    };
    let doc = load_one(&root.join("aggregation/scenarios.yaml"));
    let mut ran = 0;
    for sc in doc["scenarios"].as_array().unwrap() {
        let name = sc["scenario"].as_str().unwrap();
        if sc.get("health_overrides").is_some() {
            // Lua health overrides are not implemented; these scenarios are
            // outside the built-in rules this engine claims.
            eprintln!("skipped: {name} needs a Lua health override");
            continue;
        }
        let mut owned: Vec<(Value, Option<Value>, Option<Value>)> = Vec::new();
        for r in sc["resources"].as_array().unwrap() {
            let read = |key: &str, ann_key: &str| -> Option<Value> {
                let file = r.get(key)?.as_str()?;
                let mut obj = load_one(&root.join("aggregation").join(file));
                if let Some(n) = r.get("rename").and_then(Value::as_str) {
                    obj["metadata"]["name"] = json!(n);
                }
                if let Some(a) = r.get(ann_key) {
                    obj["metadata"]["annotations"] = a.clone();
                }
                Some(obj)
            };
            owned.push((
                r.clone(),
                read("target", "target_annotations"),
                read("live", "live_annotations"),
            ));
        }
        let inputs: Vec<ResourceHealthInput<'_>> = owned
            .iter()
            .map(|(r, target, live)| ResourceHealthInput {
                group: r["group"].as_str().unwrap_or(""),
                kind: r["kind"].as_str().unwrap_or(""),
                namespace: r.get("namespace").and_then(Value::as_str).unwrap_or(""),
                name: r.get("name").and_then(Value::as_str).unwrap_or(""),
                target: target.as_ref(),
                live: live.as_ref(),
                health: live.as_ref().and_then(resource_health),
            })
            .collect();
        let got = app_health(&inputs);
        assert_eq!(
            got.status.as_str(),
            sc["expected"]["status"].as_str().unwrap(),
            "{name}"
        );
        if let Some(c) = sc["expected"].get("causes").and_then(Value::as_str) {
            assert_eq!(got.causes, c, "{name}");
        }
        if let Some(rh) = sc["expected"]
            .get("resource_health")
            .and_then(Value::as_array)
        {
            let statuses: Vec<&str> = inputs
                .iter()
                .map(|i| i.health.as_ref().map_or("", |h| h.status.as_str()))
                .collect();
            let want: Vec<&str> = rh.iter().filter_map(Value::as_str).collect();
            assert_eq!(statuses, want, "{name}");
        }
        ran += 1;
    }
    assert!(ran >= 7, "only {ran} scenarios ran");
}

#[test]
fn workloads_in_an_environment_without_controllers_are_unknown() {
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": 1}});
    let h = resource_health_in(&d, false).unwrap();
    assert_eq!(h.status, HealthStatus::Unknown);
    assert_eq!(h.message, NO_WORKLOAD_CONTROLLER);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
    assert!(resource_health_in(&cm, false).is_none());
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"type": "ClusterIP"}});
    assert_eq!(
        resource_health_in(&svc, false).unwrap().status,
        HealthStatus::Healthy
    );
}

#[test]
fn causes_are_capped_at_three() {
    let objs: Vec<Value> = (0..5)
        .map(|i| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": format!("p{i}")}, "status": {"phase": "Lost"}}))
        .collect();
    let names: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
    let inputs: Vec<_> = objs
        .iter()
        .zip(&names)
        .map(|(o, n)| ResourceHealthInput {
            group: "",
            kind: "PersistentVolumeClaim",
            namespace: "ns",
            name: n,
            target: Some(o),
            live: Some(o),
            health: resource_health(o),
        })
        .collect();
    let h = app_health(&inputs);
    assert_eq!(h.status, HealthStatus::Degraded);
    assert_eq!(
        h.causes,
        "Caused by PersistentVolumeClaim:ns/p0, PersistentVolumeClaim:ns/p1, PersistentVolumeClaim:ns/p2 and 2 more"
    );
}
