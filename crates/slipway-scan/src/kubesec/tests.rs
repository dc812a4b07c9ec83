use serde_json::json;

use super::*;

fn ids(bucket: &[RuleRef]) -> Vec<&'static str> {
    bucket.iter().map(|r| r.id).collect()
}

#[test]
fn bare_deployment_advise_order() {
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "c"}]}}}});
    let report = Scorer::new().score(&d, "f.yaml");
    assert!(report.valid);
    assert_eq!(report.score, 0);
    assert_eq!(report.message, "Passed with a score of 0 points");
    assert_eq!(
        ids(&report.scoring.advise),
        [
            "ApparmorAny",
            "ServiceAccountName",
            "AutomountServiceAccountToken",
            "HostUsers",
            "SeccompAny",
            "RunAsGroup",
            "RunAsNonRoot",
            "RunAsUser",
            "LimitsCPU",
            "LimitsMemory",
            "RequestsCPU",
            "RequestsMemory",
            "CapDropAny",
            "CapDropAll",
            "ReadOnlyRootFilesystem"
        ]
    );
}

#[test]
fn criticals_most_negative_first_and_messages() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"hostNetwork": true, "containers": [{"name": "c",
            "securityContext": {"privileged": true, "allowPrivilegeEscalation": true}}]}});
    let report = Scorer::new().score(&pod, "f.yaml");
    assert_eq!(
        ids(&report.scoring.critical),
        ["Privileged", "HostNetwork", "AllowPrivilegeEscalation"]
    );
    assert_eq!(report.score, -46);
    assert_eq!(report.message, "Failed with a score of -46 points");
    assert_eq!(report.object, "Pod/p.default");
}

#[test]
fn unsupported_and_invalid_objects() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}});
    let report = Scorer::new().score(&cm, "f.yaml");
    assert_eq!((report.valid, report.score), (true, 0));
    assert_eq!(report.message, UNSUPPORTED_MESSAGE);
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "2"}});
    let report = Scorer::new().score(&bad, "f.yaml");
    assert!(!report.valid);
    assert_eq!(report.scoring, Scoring::default());
    assert!(report.message.contains("got string, want null or integer"));
    let report = Scorer::new().with_schema(false).score(&bad, "f.yaml");
    assert!(report.valid);
}

#[test]
fn missing_kind_applies_every_rule_with_nothing_matched() {
    let report = Scorer::new().with_schema(false).score(&json!({}), "f.json");
    assert_eq!(report.object, "Unknown");
    assert_eq!(report.message, "Passed with a score of 0 points");
    assert_eq!(report.scoring.advise.len(), 17);
}

#[test]
fn rule_subset_and_unknown_ids() {
    let scorer = Scorer::new()
        .with_rules(&["HostNetwork", "RunAsUser"])
        .unwrap();
    assert_eq!(scorer.rules().len(), 2);
    let err = Scorer::new()
        .with_rules(&["Nope", "HostNetwork", "Zap"])
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid rule IDs requested: Nope, Zap");
}

#[test]
fn pod_template_crds_are_opt_in() {
    let rollout = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
        "spec": {"template": {"spec": {"hostPID": true, "containers": [{"name": "c"}]}}}});
    let compat = Scorer::new().score(&rollout, "f.yaml");
    assert!(!compat.valid);
    assert_eq!(compat.message, "could not find schema for Rollout");
    let extended = Scorer::new()
        .with_pod_template_crds(true)
        .score(&rollout, "f.yaml");
    assert!(extended.valid);
    assert_eq!(extended.score, -9);
    let mut typo = rollout.clone();
    typo["apiVersion"] = json!("apps/v1");
    let report = Scorer::new()
        .with_schema(false)
        .with_pod_template_crds(true)
        .score(&typo, "f.yaml");
    assert_eq!(report.message, UNSUPPORTED_MESSAGE);
}

#[test]
fn json_array_layout() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a<b"}});
    let report = Scorer::new().with_schema(false).score(&cm, "f.yaml");
    let mut out = Vec::new();
    write_json_array(&mut out, [&report]).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "[\n  {\n    \"object\": \"ConfigMap/a\\u003cb.default\",\n    \"valid\": true,\n    \"fileName\": \"f.yaml\",\n    \"message\": \"This resource kind is not supported by kubesec\",\n    \"score\": 0,\n    \"scoring\": {}\n  }\n]\n"
    );
    let mut out = Vec::new();
    write_json_array(&mut out, []).unwrap();
    assert_eq!(out, b"[]\n");
}

#[test]
fn exit_semantics() {
    let report = |score| KubesecReport {
        object: String::new(),
        valid: true,
        file_name: String::new(),
        message: String::new(),
        score,
        scoring: Scoring::default(),
        location: None,
    };
    assert!(all_pass(&[report(1), report(3)], 0));
    assert!(!all_pass(&[report(1), report(0)], 0));
    assert!(!all_pass(&[report(3)], 3));
}

#[test]
fn ignore_annotation_needs_a_reason_and_is_opt_in() {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p",
        "annotations": {"slipway.dev/ignore": "Privileged, HostNetwork -- node agent, reviewed in SEC-12"}},
        "spec": {"hostNetwork": true, "containers": [{"name": "c", "securityContext": {"privileged": true}}]}});
    assert_eq!(Scorer::new().score(&pod, "f").score, -39);
    let report = Scorer::new()
        .with_suppression_annotations(true)
        .score(&pod, "f");
    assert_eq!(report.score, 0);
    assert!(report.scoring.critical.is_empty());
    pod["metadata"]["annotations"]["slipway.dev/ignore"] = json!("Privileged");
    assert_eq!(suppressed_rules(&pod), Vec::<String>::new());
    assert_eq!(
        Scorer::new()
            .with_suppression_annotations(true)
            .score(&pod, "f")
            .score,
        -39
    );
}

#[test]
fn ignore_file_suppressions_select_rule_and_object() {
    let file = crate::suppress::IgnoreFile::parse(
        "suppressions:\n  - rule: kubesec-privileged\n    object: Pod/*/agent-*\n    reason: node agent\n    expires: 2030-01-01\n  - rule: HostNetwork\n    reason: old\n    expires: 2020-01-01\n",
        ".slipwayignore",
    )
    .unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let scorer = Scorer::new().with_suppressions(file.active(today));
    let pod = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ops"},
            "spec": {"hostNetwork": true, "containers": [{"name": "c", "securityContext": {"privileged": true}}]}})
    };
    // Privileged (-30) is suppressed for agent-* only; the expired HostNetwork one is not in force.
    let agent = scorer.score(&pod("agent-1"), "f");
    assert_eq!(ids(&agent.scoring.critical), ["HostNetwork"]);
    assert_eq!(agent.score, -9);
    assert_eq!(scorer.score(&pod("web"), "f").score, -39);
    assert_eq!(file.expired(today).len(), 1);
}
