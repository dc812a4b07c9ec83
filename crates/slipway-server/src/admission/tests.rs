use std::path::Path;

use super::*;

fn data() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
}

fn set() -> PolicySet {
    PolicySet::load_dir(&data().join("policies")).unwrap()
}

fn review(name: &str) -> AdmissionRequest {
    let body = fs_err::read(data().join("reviews").join(name)).unwrap();
    parse_review(&body).unwrap()
}

fn check(mode: Mode, file: &str) -> Decision {
    decide(&set(), &Engine::new(), mode, &review(file))
}

#[test]
fn loads_every_policy_of_the_directory() {
    let s = set();
    let mut names: Vec<_> = s.policies.iter().map(|p| p.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        ["add-labels", "disallow-latest-tag", "require-labels"]
    );
    assert!(s.skipped.is_empty());
    assert_eq!(s.fingerprint.len(), 64);
}

#[test]
fn enforce_violation_denies_with_kyverno_style_message() {
    let d = check(Mode::Validate, "pod-latest.json");
    assert!(!d.response.allowed);
    assert_eq!(d.response.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
    let status = d.response.status.unwrap();
    assert!(
        status
            .message
            .starts_with("resource Pod/default/web was blocked due to the following policies\n"),
        "{}",
        status.message
    );
    assert!(
        status
            .message
            .contains("policy disallow-latest-tag/validate-image-tag: "),
        "{}",
        status.message
    );
    assert!(!status.message.contains("require-labels"));
    // The Audit violation is a warning, not a reason to block.
    assert_eq!(d.response.warnings.len(), 1);
    assert!(d.response.warnings[0].starts_with("policy require-labels/check-for-labels: "));
}

#[test]
fn compliant_object_is_allowed_without_warnings() {
    let d = check(Mode::Validate, "pod-ok.json");
    assert!(d.response.allowed);
    assert!(d.response.status.is_none());
    assert!(d.response.warnings.is_empty());
    assert!(d.violations.is_empty());
    assert_eq!(d.resource, "Pod/default/web");
}

#[test]
fn mutation_returns_a_base64_json_patch() {
    let d = check(Mode::Mutate, "pod-ok.json");
    assert!(d.response.allowed);
    assert_eq!(d.response.patch_type.as_deref(), Some("JSONPatch"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(d.response.patch.unwrap())
        .unwrap();
    let ops: Value = serde_json::from_slice(&bytes).unwrap();
    let ops = ops.as_array().unwrap();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(ops[0]["op"], "add");
    assert_eq!(ops[0]["value"], "platform");
    assert!(ops[0]["path"].as_str().unwrap().ends_with("team"));
}

#[test]
fn mutation_of_a_labelled_object_changes_nothing() {
    let mut req = review("pod-ok.json");
    req.object.as_mut().unwrap()["metadata"]["labels"]["team"] = "payments".into();
    let d = decide(&set(), &Engine::new(), Mode::Mutate, &req);
    assert!(d.response.allowed);
    assert!(d.response.patch.is_none());
}

#[test]
fn delete_is_evaluated_against_the_old_object() {
    let mut req = review("pod-latest.json");
    req.operation = "DELETE".into();
    req.old_object = req.object.take();
    let d = decide(&set(), &Engine::new(), Mode::Validate, &req);
    assert_eq!(d.operation, "DELETE");
    assert_eq!(d.resource, "Pod/default/web");
}

#[test]
fn rejects_other_review_versions() {
    let err = parse_review(br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE"}}"#).unwrap_err();
    assert!(
        err.to_string().contains("expected \"admission.k8s.io/v1\""),
        "{err}"
    );
    let err = parse_review(b"{").unwrap_err();
    assert!(err.to_string().starts_with("bad AdmissionReview"), "{err}");
}

#[test]
fn missing_policy_directory_is_an_empty_set() {
    let s = PolicySet::load_dir(Path::new("/nonexistent/slipway/policies")).unwrap();
    assert!(s.policies.is_empty());
    let d = decide(
        &s,
        &Engine::new(),
        Mode::Validate,
        &review("pod-latest.json"),
    );
    assert!(d.response.allowed);
}

#[test]
fn answer_serializes_as_admission_review_v1() {
    let d = check(Mode::Validate, "pod-latest.json");
    let v = serde_json::to_value(AdmissionReview::answer(d.response)).unwrap();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["response"]["allowed"], false);
    assert_eq!(v["response"]["status"]["code"], 400);
    assert!(v.get("request").is_none());
}

fn cel_set() -> PolicySet {
    PolicySet::load_dir(&data().join("cel-policies")).unwrap()
}

#[test]
fn cel_policies_load_as_evaluated_kinds() {
    let s = cel_set();
    let mut names: Vec<_> = s.cel.iter().map(|p| p.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        ["mpol-managed-by", "vpol-disallow-latest", "vpol-team-label"]
    );
    assert!(s.skipped.is_empty(), "{:?}", s.skipped);
    assert_eq!(s.len(), 3);
}

#[test]
fn validating_policy_deny_blocks_and_audit_warns() {
    let d = decide(
        &cel_set(),
        &Engine::new(),
        Mode::Validate,
        &review("pod-latest.json"),
    );
    assert!(!d.response.allowed);
    let message = d.response.status.unwrap().message;
    assert!(
        message.contains("policy vpol-disallow-latest/vpol-disallow-latest: Using a mutable image tag e.g. 'latest' is not allowed."),
        "{message}"
    );
    // The Audit policy's messageExpression is a warning.
    assert_eq!(d.response.warnings.len(), 1, "{:?}", d.response.warnings);
    assert!(
        d.response.warnings[0].ends_with("has no team label"),
        "{:?}",
        d.response.warnings
    );

    let d = decide(
        &cel_set(),
        &Engine::new(),
        Mode::Validate,
        &review("pod-ok.json"),
    );
    assert!(d.response.allowed);
    assert_eq!(d.response.warnings.len(), 1);
    assert!(
        d.evaluations
            .iter()
            .any(|(p, n)| p == "vpol-disallow-latest" && *n == 1)
    );
}

#[test]
fn mutating_policy_answers_a_json_patch() {
    let d = decide(
        &cel_set(),
        &Engine::new(),
        Mode::Mutate,
        &review("pod-ok.json"),
    );
    assert!(d.response.allowed);
    assert_eq!(d.response.patch_type.as_deref(), Some("JSONPatch"));
    let ops: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(d.response.patch.unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        ops.as_array().unwrap().iter().any(|op| op["op"] == "add"
            && op["path"]
                .as_str()
                .unwrap()
                .contains("app.kubernetes.io~1managed-by")
            && op["value"] == "slipway"),
        "{ops}"
    );
}

#[test]
fn generating_policy_is_listed_as_skipped() {
    let doc = slipway_manifests::load_str(
        "apiVersion: policies.kyverno.io/v1alpha1\nkind: GeneratingPolicy\nmetadata:\n  name: gen\nspec:\n  matchConstraints:\n    resourceRules:\n    - apiGroups: ['']\n      apiVersions: [v1]\n      operations: [CREATE]\n      resources: [namespaces]\n  generate:\n  - expression: \"generator.Apply('default', [])\"\n",
        "gen.yaml",
    )
    .unwrap();
    let s = PolicySet::from_documents(&doc);
    assert!(s.cel.is_empty());
    assert_eq!(s.skipped.len(), 1, "{:?}", s.skipped);
    assert!(s.skipped[0].reason.contains("cannot"), "{:?}", s.skipped);
}
