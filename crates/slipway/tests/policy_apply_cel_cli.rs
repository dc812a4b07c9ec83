//! `slipway policy apply` evaluates CEL policies (ValidatingPolicy,
//! ValidatingAdmissionPolicy with its binding) next to Kyverno ones.

use std::process::Command;

use serde_json::Value;

const POLICIES: &str = r#"apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: require-team-label
  annotations:
    policies.kyverno.io/severity: high
    policies.kyverno.io/title: Team label
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [configmaps]
  validations:
    - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
      message: "every ConfigMap needs a team label"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: small-configmaps
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [""]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [configmaps]
  validations:
    - expression: "!has(object.data) || size(object.data) <= 2"
      message: "at most two keys"
"#;

const RESOURCES: &str = r#"apiVersion: v1
kind: ConfigMap
metadata: {name: good, labels: {team: a}}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unlabelled}
data: {a: "1", b: "2", c: "3"}
"#;

fn apply(dir: &std::path::Path) -> (Option<i32>, Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["policy", "apply", "--format", "json", "--policy"])
        .arg(dir.join("policies.yaml"))
        .arg("--resource")
        .arg(dir.join("resources.yaml"))
        .output()
        .unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.code(), v)
}

fn results(v: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["policy"].as_str().unwrap_or("").to_string(),
                f["object"]["name"].as_str().unwrap_or("").to_string(),
                f["result"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn cel_policies_are_applied_and_deny_blocks() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("policies.yaml"), POLICIES).unwrap();
    fs_err::write(dir.path().join("resources.yaml"), RESOURCES).unwrap();

    let (code, v) = apply(dir.path());
    assert_eq!(code, Some(1), "a Deny ValidatingPolicy failed: {v}");
    let r = results(&v);
    let has = |p: &str, n: &str, res: &str| r.iter().any(|(a, b, c)| a == p && b == n && c == res);
    assert!(has("require-team-label", "unlabelled", "fail"), "{r:?}");
    assert!(has("require-team-label", "good", "pass"), "{r:?}");
    // Not bound: reported, not blocking.
    assert!(has("small-configmaps", "unlabelled", "warn"), "{r:?}");
    let high = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["policy"] == "require-team-label" && f["result"] == "fail")
        .unwrap();
    assert_eq!(
        high["severity"], "high",
        "severity from the annotation: {high}"
    );

    // A binding with Deny makes the VAP blocking; fixing the label alone is not enough.
    let fixed = RESOURCES.replace(
        "{name: unlabelled}",
        "{name: unlabelled, labels: {team: b}}",
    );
    fs_err::write(dir.path().join("resources.yaml"), &fixed).unwrap();
    let (code, _) = apply(dir.path());
    assert_eq!(code, Some(0), "only the unbound VAP is violated");
    let bound = format!(
        "{POLICIES}---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {{name: b}}\nspec: {{policyName: small-configmaps, validationActions: [Deny]}}\n"
    );
    fs_err::write(dir.path().join("policies.yaml"), bound).unwrap();
    let (code, v) = apply(dir.path());
    assert_eq!(code, Some(1), "{v}");
    assert!(results(&v).contains(&(
        "small-configmaps".into(),
        "unlabelled".into(),
        "fail".into()
    )));
}
