use std::path::Path;

use serde_json::json;
use slipway_model::{Document, SourceLocation};
use slipway_report::Outcome;
use slipway_scan::suppress::IgnoreFile;

use super::*;

const LATEST_POLICY: &str = "\
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: disallow-latest-tag
spec:
  validationFailureAction: Enforce
  rules:
    - name: validate-image-tag
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        message: \"Using a mutable image tag such as `latest` is not allowed.\"
        foreach:
          - list: \"request.object.spec.containers\"
            pattern:
              image: \"!*:latest\"
";

fn policies(audit: bool) -> Vec<Policy> {
    let text = if audit {
        LATEST_POLICY.replace("Enforce", "Audit")
    } else {
        LATEST_POLICY.to_string()
    };
    let docs = slipway_manifests::load_str(&text, "policy.yaml").unwrap();
    policies_of(&docs, "policy.yaml").unwrap().0
}

fn deployment(name: &str, image: &str, privileged: bool) -> Document {
    Document::new(
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image,
                    "securityContext": {"privileged": privileged}}]}}}}),
        SourceLocation::new(format!("{name}.yaml"), 0, 1),
    )
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
}

fn gate(audit: bool, ignore: &str) -> Gate {
    let ignore = IgnoreFile::parse(ignore, ".slipwayignore").unwrap();
    Gate::new(policies(audit), &GateConfig::default(), &ignore, today())
}

#[test]
fn enforce_violation_fails_with_the_policy_message() {
    let out = gate(false, "").evaluate(&GateInput::from_documents(vec![
        deployment("web", "nginx:latest", false),
        deployment("api", "nginx:1.27", false),
    ]));
    assert!(!out.passed());
    assert_eq!(out.failures.len(), 1, "{:?}", out.failures);
    assert!(out.failures[0].contains("Using a mutable image tag such as `latest` is not allowed."));
    assert!(
        out.failures[0].contains("Deployment/shop/web"),
        "{}",
        out.failures[0]
    );
    assert!(
        out.report
            .findings
            .iter()
            .any(|f| f.result == Outcome::Fail)
    );
}

#[test]
fn audit_violation_is_reported_and_passes() {
    let out = gate(true, "").evaluate(&GateInput::from_documents(vec![deployment(
        "web",
        "nginx:latest",
        false,
    )]));
    assert!(out.passed(), "{:?}", out.failures);
    assert_eq!(out.audits.len(), 1);
    assert!(
        out.report
            .findings
            .iter()
            .any(|f| f.result == Outcome::Warn)
    );
}

#[test]
fn risk_score_below_minimum_fails_and_suppression_lifts_it() {
    let input = GateInput::from_documents(vec![deployment("agent", "nginx:1.27", true)]);
    let out = gate(false, "").evaluate(&input);
    assert_eq!(
        out.failures,
        ["risk score of Deployment/shop/agent is -30, below the minimum 0 (critical: Privileged)"]
    );
    let out = gate(
        false,
        "suppressions:\n  - rule: Privileged\n    object: Deployment/shop/agent\n    reason: node agent\n    expires: 2030-01-01\n",
    )
    .evaluate(&input);
    assert!(out.passed(), "{:?}", out.failures);
}

#[test]
fn expired_suppressions_fail_and_say_so() {
    let out = gate(
        false,
        "suppressions:\n  - rule: disallow-latest-tag\n    reason: migrating\n    expires: 2025-01-31\n",
    )
    .evaluate(&GateInput::from_documents(vec![deployment("web", "nginx:latest", false)]));
    assert_eq!(out.failures.len(), 2, "{:?}", out.failures);
    assert!(
        out.failures
            .iter()
            .any(|f| f.contains("expired on 2025-01-31"))
    );
}

#[test]
fn current_suppression_skips_a_policy_finding() {
    let out = gate(
        false,
        "suppressions:\n  - rule: disallow-latest-tag/validate-image-tag\n    object: Deployment/shop/*\n    reason: migrating\n    expires: 2030-01-31\n",
    )
    .evaluate(&GateInput::from_documents(vec![deployment("web", "nginx:latest", false)]));
    assert!(out.passed(), "{:?}", out.failures);
    assert!(
        out.report
            .findings
            .iter()
            .any(|f| f.result == Outcome::Skip
                && f.message.contains("suppressed by .slipwayignore:2"))
    );
}

#[test]
fn secrets_in_texts_fail() {
    let mut input = GateInput::from_documents(vec![deployment("api", "nginx:1.27", false)]);
    input.texts.push(ScanText {
        file: "config.env".into(),
        text: "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLF\n".into(),
    });
    let out = gate(false, "").evaluate(&input);
    assert!(
        out.failures.iter().any(|f| f.starts_with("secret ")),
        "{:?}",
        out.failures
    );
    assert!(
        !out.failures
            .iter()
            .any(|f| f.contains("AKIAIOSFODNN7EXAMPLF")),
        "never print the secret"
    );
}

#[test]
fn example_platform_policies_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/platform/policies");
    let (policies, _) = load_policies(&dir).unwrap();
    assert!(policies.len() >= 5, "{}", policies.len());
}

const CEL_POLICIES: &str = "\
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: vpol-no-latest
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments]
  validations:
    - expression: \"object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))\"
      message: \"latest is not allowed (CEL)\"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: vap-not-privileged
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments]
  validations:
    - expression: \"object.spec.template.spec.containers.all(c, !has(c.securityContext) || !has(c.securityContext.privileged) || c.securityContext.privileged == false)\"
      message: \"privileged containers are not allowed (VAP)\"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: vap-not-privileged-binding
spec:
  policyName: vap-not-privileged
  validationActions: [Deny]
---
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: vpol-audit-name
spec:
  validationActions: [Audit]
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments]
  validations:
    - expression: \"object.metadata.name.startsWith('team-')\"
      message: \"names should start with team-\"
";

#[test]
fn cel_policies_are_evaluated_by_the_gate() {
    let docs = slipway_manifests::load_str(CEL_POLICIES, "cel.yaml").unwrap();
    let set = policy_set_of(&docs, "cel.yaml").unwrap();
    assert_eq!(set.cel.len(), 3, "skipped: {:?}", set.skipped);
    assert!(set.kyverno.is_empty());
    let vap = set
        .cel
        .iter()
        .find(|p| p.name == "vap-not-privileged")
        .unwrap();
    assert_eq!(vap.action, FailureAction::Enforce, "bound with Deny");
    // The Kyverno-only loader says CEL policies are not run through it.
    assert_eq!(policies_of(&docs, "cel.yaml").unwrap().1.len(), 3);

    let gate = Gate::new(
        Vec::new(),
        &GateConfig::default(),
        &IgnoreFile::default(),
        today(),
    )
    .with_cel_policies(set.cel);
    let bad = gate.evaluate(&GateInput::from_documents(vec![
        deployment("team-web", "nginx:latest", false),
        deployment("api", "nginx:1.27", true),
    ]));
    assert!(!bad.passed());
    let failures = bad.failures.join("\n");
    assert!(
        failures.contains("vpol-no-latest") && failures.contains("latest is not allowed (CEL)"),
        "{failures}"
    );
    assert!(failures.contains("Deployment/shop/team-web"), "{failures}");
    assert!(
        failures.contains("privileged containers are not allowed (VAP)")
            && failures.contains("Deployment/shop/api"),
        "{failures}"
    );
    // Audit: reported, not blocking.
    assert!(
        bad.audits
            .iter()
            .any(|a| a.contains("names should start with team-")),
        "{:?}",
        bad.audits
    );
    assert!(!failures.contains("names should start"));

    let good = gate.evaluate(&GateInput::from_documents(vec![deployment(
        "team-web",
        "nginx:1.27",
        false,
    )]));
    assert!(good.passed(), "{:?}", good.failures);
    assert!(good.audits.is_empty());
}
