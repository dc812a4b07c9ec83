//! Engine behaviour, one small policy per case.

use serde_json::{Value, json};
use slipway_model::{Document, SourceLocation};

use super::*;
use crate::model::load_policy;

fn policy(yaml: &str) -> Policy {
    let object: Value = serde_saphyr::from_str(yaml).unwrap();
    match load_policy(&Document::new(object, SourceLocation::new("p.yaml", 0, 1))) {
        Some(LoadedPolicy::Kyverno(p)) => *p,
        other => panic!("not loaded: {other:?}"),
    }
}

fn resource(yaml: &str) -> Value {
    serde_saphyr::from_str(yaml).unwrap()
}

fn request(object: Value) -> Request {
    Request {
        object,
        ..Request::default()
    }
}

fn statuses(resp: &EngineResponse) -> Vec<(String, &'static str)> {
    resp.rules
        .iter()
        .map(|r| (r.name.clone(), r.status.as_str()))
        .collect()
}

/// Validates `resource_yaml` against `policy_yaml` and compares `(rule, status)` pairs.
fn check(policy_yaml: &str, resource_yaml: &str, expected: &[(&str, &str)]) {
    check_with(
        policy_yaml,
        request(resource(resource_yaml)),
        &ContextValues::default(),
        expected,
    );
}

fn check_with(policy_yaml: &str, req: Request, values: &ContextValues, expected: &[(&str, &str)]) {
    let p = policy(policy_yaml);
    let resp = Engine::new().validate(&p, &req, values);
    let got = statuses(&resp);
    let want: Vec<(String, &str)> = expected.iter().map(|(n, s)| (n.to_string(), *s)).collect();
    assert_eq!(
        got,
        want,
        "messages: {:?}",
        resp.rules.iter().map(|r| &r.message).collect::<Vec<_>>()
    );
}

const HEAD: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  background: false\n  rules:\n";

fn pol(rules: &str) -> String {
    format!("{HEAD}{rules}")
}

const POD_OK: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ok\n  namespace: default\n  labels:\n    app: web\nspec:\n  containers:\n  - name: c\n    image: nginx:1.25\n";
const POD_LATEST: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  namespace: default\nspec:\n  containers:\n  - name: c\n    image: nginx:latest\n  - name: d\n    image: busybox:1\n";

const NO_LATEST: &str = "  - name: no-latest\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      message: \"latest is not allowed\"\n      pattern:\n        spec:\n          containers:\n          - image: \"!*:latest\"\n";

#[test]
fn pattern_pass_and_fail() {
    check(&pol(NO_LATEST), POD_OK, &[("no-latest", "pass")]);
    check(&pol(NO_LATEST), POD_LATEST, &[("no-latest", "fail")]);
}

#[test]
fn fail_message_has_kyverno_shape() {
    let p = policy(&pol(NO_LATEST));
    let resp = Engine::new().validate(
        &p,
        &request(resource(POD_LATEST)),
        &ContextValues::default(),
    );
    assert_eq!(
        resp.rules[0].message,
        "validation error: latest is not allowed. rule no-latest failed at path /spec/containers/0/image/"
    );
}

#[test]
fn non_matching_rule_has_no_response() {
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
    check(&pol(NO_LATEST), cm, &[]);
}

#[test]
fn autogen_rules_apply_to_controllers() {
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx:latest\n";
    let y = pol(NO_LATEST).replace("  background: false\n", "");
    check(&y, deploy, &[("autogen-no-latest", "fail")]);
}

#[test]
fn deny_with_conditions_and_variables() {
    let rules = "  - name: deny-app\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      message: \"app {{ request.object.metadata.labels.app }} denied\"\n      deny:\n        conditions:\n          any:\n          - key: \"{{ request.object.metadata.labels.app || '' }}\"\n            operator: Equals\n            value: web\n";
    check(&pol(rules), POD_OK, &[("deny-app", "fail")]);
    check(&pol(rules), POD_LATEST, &[("deny-app", "pass")]);
    let p = policy(&pol(rules));
    let resp = Engine::new().validate(&p, &request(resource(POD_OK)), &ContextValues::default());
    assert_eq!(resp.rules[0].message, "app web denied");
}

#[test]
fn empty_deny_always_fails() {
    let rules = "  - name: block\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      deny: {}\n";
    check(&pol(rules), POD_OK, &[("block", "fail")]);
}

#[test]
fn preconditions_skip_and_unresolved_is_empty() {
    let rules = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    preconditions:\n      all:\n      - key: \"{{ request.object.metadata.labels.app }}\"\n        operator: Equals\n        value: web\n    validate:\n      deny: {}\n";
    check(&pol(rules), POD_OK, &[("r", "fail")]);
    // The label is missing: the variable resolves to "" in preconditions.
    check(&pol(rules), POD_LATEST, &[("r", "skip")]);
}

#[test]
fn operation_from_request() {
    let rules = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    preconditions:\n      any:\n      - key: \"{{ request.operation }}\"\n        operator: AnyIn\n        value: [CREATE, UPDATE]\n    validate:\n      deny: {}\n";
    check(&pol(rules), POD_OK, &[("r", "fail")]);
    let mut req = request(Value::Null);
    req.operation = Operation::Delete;
    req.old_object = resource(POD_OK);
    check_with(
        &pol(rules),
        req,
        &ContextValues::default(),
        &[("r", "skip")],
    );
}

#[test]
fn any_pattern_pass_fail_skip() {
    let rules = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      anyPattern:\n      - metadata:\n          labels:\n            app: db\n      - spec:\n          containers:\n          - image: \"nginx:*\"\n";
    check(&pol(rules), POD_OK, &[("r", "pass")]);
    check(&pol(rules), POD_LATEST, &[("r", "fail")]);
    let skip = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      anyPattern:\n      - metadata:\n          (name): zzz\n          labels:\n            app: db\n";
    check(&pol(skip), POD_OK, &[("r", "skip")]);
}

#[test]
fn foreach_deny_with_elements() {
    let rules = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      foreach:\n      - list: request.object.spec.containers\n        deny:\n          conditions:\n            any:\n            - key: \"{{ element.image }}\"\n              operator: Equals\n              value: \"*:latest\"\n";
    check(&pol(rules), POD_OK, &[("r", "pass")]);
    check(&pol(rules), POD_LATEST, &[("r", "fail")]);
}

#[test]
fn foreach_pattern_is_element_scoped_and_preconditions_skip_elements() {
    let rules = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      foreach:\n      - list: request.object.spec.containers\n        preconditions:\n          all:\n          - key: \"{{ element.name }}\"\n            operator: Equals\n            value: d\n        pattern:\n          image: \"busybox:*\"\n";
    check(&pol(rules), POD_LATEST, &[("r", "pass")]);
    // No element survives the preconditions: no response.
    check(&pol(rules), POD_OK, &[]);
}

#[test]
fn foreach_missing_list_gives_no_response() {
    let rules = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      foreach:\n      - list: request.object.spec.initContainers\n        deny: {}\n";
    check(&pol(rules), POD_OK, &[]);
}

#[test]
fn nested_foreach_numbers_elements() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    ports:\n    - containerPort: 80\n    - containerPort: 22\n";
    let rules = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      foreach:\n      - list: request.object.spec.containers\n        foreach:\n        - list: element.ports\n          deny:\n            conditions:\n              all:\n              - key: \"{{ element1.containerPort }}\"\n                operator: Equals\n                value: 22\n              - key: \"{{ element0.name }}\"\n                operator: Equals\n                value: a\n";
    check(&pol(rules), pod, &[("r", "fail")]);
}

#[test]
fn context_variable_and_values() {
    let rules = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    context:\n    - name: cm\n      configMap:\n        name: x\n        namespace: other\n    - name: podname\n      variable:\n        jmesPath: request.object.metadata.name\n    validate:\n      deny:\n        conditions:\n          all:\n          - key: \"{{ podname }}\"\n            operator: AnyIn\n            value: \"{{ cm.data.names }}\"\n";
    // Without a value the configMap cannot be fetched offline.
    check(&pol(rules), POD_OK, &[("r", "error")]);
    let mut values = ContextValues::default();
    values.rules.insert(
        "r".into(),
        vec![("cm.data.names".into(), json!(["ok", "x"]))],
    );
    check_with(
        &pol(rules),
        request(resource(POD_OK)),
        &values,
        &[("r", "fail")],
    );
    check_with(
        &pol(rules),
        request(resource(POD_LATEST)),
        &values,
        &[("r", "pass")],
    );
}

#[test]
fn images_variable() {
    let rules = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      deny:\n        conditions:\n          any:\n          - key: \"{{ images.containers.c.registry }}\"\n            operator: NotEquals\n            value: docker.io\n";
    check(&pol(rules), POD_OK, &[("r", "pass")]);
}

#[test]
fn failure_action_and_overrides() {
    let y = format!(
        "{HEAD}{NO_LATEST}",
        HEAD = HEAD.replace("  rules:\n", "  validationFailureAction: Enforce\n  validationFailureActionOverrides:\n  - action: Audit\n    namespaces: [dev]\n  rules:\n")
    );
    let p = policy(&y);
    let mut r = resource(POD_LATEST);
    let resp = Engine::new().validate(&p, &request(r.clone()), &ContextValues::default());
    assert_eq!(resp.rules[0].action, FailureAction::Enforce);
    r["metadata"]["namespace"] = json!("dev");
    let resp = Engine::new().validate(&p, &request(r), &ContextValues::default());
    assert_eq!(resp.rules[0].action, FailureAction::Audit);
}

#[test]
fn existing_violation_on_update_is_skipped_with_enforce() {
    let y = pol(NO_LATEST).replace(
        "      message:",
        "      failureAction: Enforce\n      message:",
    );
    let bad = resource(POD_LATEST);
    let req = Request {
        operation: Operation::Update,
        object: bad.clone(),
        old_object: bad,
        ..Request::default()
    };
    check_with(
        &y,
        req.clone(),
        &ContextValues::default(),
        &[("no-latest", "skip")],
    );
    check_with(
        &pol(NO_LATEST),
        req,
        &ContextValues::default(),
        &[("no-latest", "fail")],
    );
}

#[test]
fn apply_rules_one_stops_after_first_applied() {
    let y = pol(&format!(
        "{NO_LATEST}{}",
        NO_LATEST.replace("no-latest", "second")
    ))
    .replace("  rules:\n", "  applyRules: One\n  rules:\n");
    check(&y, POD_OK, &[("no-latest", "pass")]);
}

#[test]
fn mutate_strategic_merge_pass_then_skip() {
    let rules = "  - name: add-label\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    mutate:\n      patchStrategicMerge:\n        metadata:\n          labels:\n            +(team): \"{{ request.object.metadata.name }}\"\n";
    let p = policy(&pol(rules));
    let resp = Engine::new().mutate(&p, &request(resource(POD_OK)), &ContextValues::default());
    assert_eq!(statuses(&resp), vec![("add-label".to_string(), "pass")]);
    let patched = resp.patched.unwrap();
    assert_eq!(patched["metadata"]["labels"]["team"], "ok");
    let again = Engine::new().mutate(&p, &request(patched), &ContextValues::default());
    assert_eq!(statuses(&again), vec![("add-label".to_string(), "skip")]);
}

#[test]
fn mutate_json6902_and_foreach() {
    let rules = "  - name: j\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    mutate:\n      patchesJson6902: |-\n        - op: add\n          path: /metadata/annotations\n          value:\n            owner: \"{{ request.object.metadata.name }}\"\n  - name: f\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    mutate:\n      foreach:\n      - list: request.object.spec.containers\n        patchStrategicMerge:\n          spec:\n            containers:\n            - name: \"{{ element.name }}\"\n              imagePullPolicy: Always\n";
    let p = policy(&pol(rules));
    let resp = Engine::new().mutate(
        &p,
        &request(resource(POD_LATEST)),
        &ContextValues::default(),
    );
    assert_eq!(
        statuses(&resp),
        vec![("j".to_string(), "pass"), ("f".to_string(), "pass")]
    );
    let patched = resp.patched.unwrap();
    assert_eq!(patched["metadata"]["annotations"]["owner"], "bad");
    assert_eq!(
        patched["spec"]["containers"][1]["imagePullPolicy"],
        "Always"
    );
    assert_eq!(
        patched["spec"]["containers"][0]["imagePullPolicy"],
        "Always"
    );
}

#[test]
fn generate_data_object() {
    let rules = "  - name: g\n    match:\n      any:\n      - resources:\n          kinds: [Namespace]\n    generate:\n      apiVersion: v1\n      kind: ConfigMap\n      name: defaults\n      namespace: \"{{ request.object.metadata.name }}\"\n      synchronize: true\n      data:\n        data:\n          a: b\n";
    let p = policy(&pol(rules));
    let ns = resource("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n");
    let resp = Engine::new().generate(&p, &request(ns), &ContextValues::default());
    assert_eq!(statuses(&resp), vec![("g".to_string(), "pass")]);
    assert_eq!(
        resp.generated,
        vec![
            json!({"data": {"a": "b"}, "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "defaults", "namespace": "team-a"}})
        ]
    );
}

#[test]
fn user_info_variables() {
    let rules = "  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      deny:\n        conditions:\n          any:\n          - key: \"{{ serviceAccountName }}\"\n            operator: Equals\n            value: builder\n";
    let mut req = request(resource(POD_OK));
    req.user_info = Some(UserInfo {
        user_info: json!({"username": "system:serviceaccount:ci:builder"}),
        ..UserInfo::default()
    });
    check_with(
        &pol(rules),
        req,
        &ContextValues::default(),
        &[("r", "fail")],
    );
}
