//! Behaviour tests of pattern validation, one small case per rule of the spec.

use serde_json::Value;

use super::*;

#[derive(Debug)]
enum Expect {
    Pass,
    Fail(&'static str),
    Skip,
    Error,
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("bad yaml {text:?}: {e}"))
}

fn check(resource: &str, pattern: &str, expected: Expect) {
    let resource = yaml(resource);
    let pattern = resolve_references(&yaml(pattern)).unwrap();
    let outcome = validate(&resource, &pattern);
    let ok = match (&expected, &outcome) {
        (Expect::Pass, PatternOutcome::Pass) => true,
        (Expect::Fail(p), PatternOutcome::Fail { path, .. }) => path == p,
        (Expect::Skip, PatternOutcome::Skip { .. }) => true,
        (Expect::Error, PatternOutcome::Error { .. }) => true,
        _ => false,
    };
    assert!(
        ok,
        "expected {expected:?}, got {outcome:?}\nresource: {resource}\npattern: {pattern}"
    );
}

const POD: &str = r#"
metadata:
  name: p
  labels:
    app: web
    app.kubernetes.io/name: web
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    resources:
      limits:
        memory: 512Mi
        cpu: "1"
  - name: sidecar
    image: busybox:latest
"#;

// ---- map walking -------------------------------------------------------------------

#[test]
fn plain_keys_must_match() {
    check(POD, "metadata: {name: p}", Expect::Pass);
    check(POD, "metadata: {name: q}", Expect::Fail("/metadata/name/"));
}

#[test]
fn missing_key_is_validated_as_null() {
    check(POD, "metadata: {namespace: null}", Expect::Pass);
    check(
        POD,
        "metadata: {namespace: \"?*\"}",
        Expect::Fail("/metadata/namespace/"),
    );
    check(
        POD,
        "spec: {hostNetwork: false}",
        Expect::Fail("/spec/hostNetwork/"),
    );
}

#[test]
fn map_pattern_needs_map_value() {
    check(
        POD,
        "metadata: {name: {x: 1}}",
        Expect::Fail("/metadata/name/"),
    );
    check(
        POD,
        "spec: {nothere: {x: 1}}",
        Expect::Fail("/spec/nothere/"),
    );
}

#[test]
fn star_value_means_present_and_not_null() {
    check(POD, "metadata: {labels: \"*\"}", Expect::Pass);
    check(
        POD,
        "metadata: {annotations: \"*\"}",
        Expect::Fail("/metadata/"),
    );
    check("a: null", "a: \"*\"", Expect::Fail("/"));
    check("a: {}", "a: \"*\"", Expect::Pass);
    check("a: 0", "a: \"*\"", Expect::Pass);
}

#[test]
fn scalar_pattern_against_map_fails() {
    check(POD, "spec: x", Expect::Fail("/spec/"));
}

// ---- lists ------------------------------------------------------------------------

#[test]
fn every_list_element_must_match_the_first_map() {
    check(POD, "spec: {containers: [{name: \"?*\"}]}", Expect::Pass);
    check(
        POD,
        "spec: {containers: [{image: \"!*:latest\"}]}",
        Expect::Fail("/spec/containers/1/image/"),
    );
    // Extra pattern elements are ignored.
    check(
        POD,
        "spec: {containers: [{name: \"?*\"}, {name: nope}]}",
        Expect::Pass,
    );
}

#[test]
fn empty_resource_list_passes_a_map_element_pattern() {
    check(
        "spec: {containers: []}",
        "spec: {containers: [{name: x}]}",
        Expect::Pass,
    );
}

#[test]
fn list_pattern_needs_list_value() {
    check(
        POD,
        "metadata: {name: [x]}",
        Expect::Fail("/metadata/name/"),
    );
}

#[test]
fn empty_pattern_list_fails() {
    check(
        POD,
        "spec: {containers: []}",
        Expect::Fail("/spec/containers/"),
    );
}

#[test]
fn scalar_list_pattern_applies_to_every_element() {
    check("args: [a1, a2]", "args: [\"a*\"]", Expect::Pass);
    check("args: [a1, b2]", "args: [\"a*\"]", Expect::Fail("/args/"));
}

#[test]
fn scalar_pattern_against_list_value_checks_every_element() {
    check("args: [a1, a2]", "args: \"a*\"", Expect::Pass);
    check("args: [a1, b2]", "args: \"a*\"", Expect::Fail("/args/"));
}

#[test]
fn nested_lists_are_positional() {
    check("m: [[1, 1], [3]]", "m: [[1], [3]]", Expect::Pass);
    // The first scalar of a nested pattern list applies to every element.
    check(
        "m: [[1, 2], [3]]",
        "m: [[1, 2], [3]]",
        Expect::Fail("/m/0/"),
    );
    check(
        "m: [[1, 2], [4]]",
        "m: [[\"*\"], [3]]",
        Expect::Fail("/m/1/"),
    );
    // Shorter resource list: Kyverno reports it without a path, which is an error.
    check("m: [[1]]", "m: [[1], [2]]", Expect::Error);
}

// ---- conditional anchors -------------------------------------------------------------

#[test]
fn conditional_anchor_true_checks_siblings() {
    check(
        POD,
        "spec: {containers: [{(name): nginx, image: \"nginx:*\"}]}",
        Expect::Pass,
    );
    check(
        POD,
        "spec: {containers: [{(name): nginx, image: \"httpd:*\"}]}",
        Expect::Fail("/spec/containers/0/image/"),
    );
}

#[test]
fn conditional_anchor_in_list_skips_element() {
    // Only the sidecar is checked.
    check(
        POD,
        "spec: {containers: [{(name): sidecar, image: \"busybox:*\"}]}",
        Expect::Pass,
    );
    check(
        POD,
        "spec: {containers: [{(image): \"*:latest\", name: sidecar}]}",
        Expect::Pass,
    );
}

#[test]
fn conditional_anchor_at_top_skips_rule() {
    check(
        POD,
        "metadata: {(name): other, labels: {app: x}}",
        Expect::Skip,
    );
    check(POD, "(kind): Deployment\nspec: {replicas: 1}", Expect::Skip);
    check(
        POD,
        "spec: {(hostNetwork): true, hostPID: true}",
        Expect::Skip,
    );
}

#[test]
fn conditional_anchors_run_before_plain_keys() {
    // The plain key would fail, but the anchor decides first.
    check(
        POD,
        "metadata: {name: wrong, (labels): {app: db}}",
        Expect::Skip,
    );
}

#[test]
fn all_skipped_list_under_conditional_anchor_skips() {
    let pod = "spec: {volumes: [{name: v, emptyDir: {}}]}\nmetadata: {labels: {a: b}}";
    let pattern = r#"
metadata: {labels: {allow: "true"}}
(spec):
  (volumes):
  - (hostPath): {path: /var/run/docker.sock}
"#;
    check(pod, pattern, Expect::Skip);
    check("spec: {}\nmetadata: {labels: {}}", pattern, Expect::Skip);
    let bad = "spec: {volumes: [{hostPath: {path: /var/run/docker.sock}}]}\nmetadata: {labels: {allow: \"false\"}}";
    check(bad, pattern, Expect::Fail("/metadata/labels/allow/"));
    let good = "spec: {volumes: [{hostPath: {path: /var/run/docker.sock}}]}\nmetadata: {labels: {allow: \"true\"}}";
    check(good, pattern, Expect::Pass);
}

#[test]
fn all_skipped_list_under_plain_key_skips() {
    check(
        POD,
        "spec: {containers: [{(name): nomatch, image: x}]}",
        Expect::Skip,
    );
}

#[test]
fn conditional_anchor_with_map_value() {
    check(
        POD,
        "spec: {containers: [{(resources): {limits: {memory: \"?*\"}}, image: \"nginx:*\"}]}",
        Expect::Pass,
    );
}

#[test]
fn several_conditional_anchors_must_all_hold() {
    check(
        POD,
        "spec: {containers: [{(name): nginx, (image): \"*:1.25\", resources: \"*\"}]}",
        Expect::Pass,
    );
    check(
        POD,
        "spec: {containers: [{(name): sidecar, (image): \"*:latest\", resources: \"*\"}]}",
        Expect::Fail("/spec/containers/1/"),
    );
}

#[test]
fn conditional_anchor_missing_key_with_other_fail() {
    // The sidecar has no resources; its conditional anchor is "not applicable".
    check(
        POD,
        "spec: {containers: [{(resources): {limits: {cpu: \"?*\"}}, image: \"nginx:*\"}]}",
        Expect::Pass,
    );
}

// ---- equality, existence, negation, global ------------------------------------------

#[test]
fn equality_anchor_checks_only_when_present() {
    check(POD, "spec: {=(hostNetwork): false}", Expect::Pass);
    check(
        "spec: {hostNetwork: true}",
        "spec: {=(hostNetwork): false}",
        Expect::Fail("/spec/hostNetwork/"),
    );
    check(
        "spec: {hostNetwork: false}",
        "spec: {=(hostNetwork): false}",
        Expect::Pass,
    );
    check(
        POD,
        "spec: {containers: [{=(securityContext): {=(privileged): false}}]}",
        Expect::Pass,
    );
}

#[test]
fn equality_anchor_nested_under_lists() {
    let pod = "spec: {containers: [{name: a, securityContext: {privileged: true}}]}";
    check(
        pod,
        "spec: {containers: [{=(securityContext): {=(privileged): false}}]}",
        Expect::Fail("/spec/containers/0/securityContext/privileged/"),
    );
}

#[test]
fn existence_anchor_needs_one_matching_element() {
    check(
        POD,
        "spec: {^(containers): [{image: \"nginx:*\"}]}",
        Expect::Pass,
    );
    check(
        POD,
        "spec: {^(containers): [{image: \"httpd:*\"}]}",
        Expect::Fail("/spec/containers/"),
    );
    check(
        POD,
        "spec: {^(initContainers): [{image: \"httpd:*\"}]}",
        Expect::Pass,
    );
    check(
        POD,
        "metadata: {^(name): [{a: b}]}",
        Expect::Fail("/metadata/name/"),
    );
    check(
        POD,
        "spec: {^(containers): [{image: \"nginx:*\"}, {image: \"busybox:*\"}]}",
        Expect::Pass,
    );
    check(
        POD,
        "spec: {^(containers): [{image: \"nginx:*\"}, {image: \"x:*\"}]}",
        Expect::Fail("/spec/containers/"),
    );
}

#[test]
fn negation_anchor_requires_absence() {
    check(POD, "spec: {X(hostNetwork): \"null\"}", Expect::Pass);
    check(
        "spec: {hostNetwork: false}",
        "spec: {X(hostNetwork): \"null\"}",
        Expect::Fail("/spec/hostNetwork/"),
    );
    check(
        "spec: {hostNetwork: null}",
        "spec: {X(hostNetwork): \"null\"}",
        Expect::Fail("/spec/hostNetwork/"),
    );
}

#[test]
fn negation_inside_list_fails_the_rule() {
    let pod = "spec: {volumes: [{name: a, emptyDir: {}}, {name: b, hostPath: {path: /}}]}";
    check(
        pod,
        "spec: {=(volumes): [{X(hostPath): \"null\"}]}",
        Expect::Fail("/spec/volumes/1/hostPath/"),
    );
    check(
        "spec: {volumes: [{name: a}]}",
        "spec: {=(volumes): [{X(hostPath): \"null\"}]}",
        Expect::Pass,
    );
}

#[test]
fn negation_under_conditional_anchor_is_a_skip() {
    check(
        "spec: {a: {b: 1}}",
        "spec: {(a): {X(b): null}, c: 1}",
        Expect::Skip,
    );
}

#[test]
fn forbid_cpu_limits_shape() {
    let pattern =
        "spec: {containers: [{(name): \"*\", =(resources): {=(limits): {X(cpu): null}}}]}";
    check(
        POD,
        pattern,
        Expect::Fail("/spec/containers/0/resources/limits/cpu/"),
    );
    check(
        "spec: {containers: [{name: a, resources: {limits: {memory: 1Gi}}}]}",
        pattern,
        Expect::Pass,
    );
}

#[test]
fn global_anchor_skips_rule_when_false() {
    check(
        POD,
        "spec: {containers: [{<(image): \"*:2.0\", name: nope}]}",
        Expect::Skip,
    );
    check(
        "spec: {containers: [{image: a:1}]}",
        "spec: {containers: [{<(image): \"*:2.0\", name: x}]}",
        Expect::Skip,
    );
    check(
        POD,
        "metadata: {<(name): other}\nspec: {x: 1}",
        Expect::Skip,
    );
    check(
        POD,
        "metadata: {<(name): p}\nspec: {x: 1}",
        Expect::Fail("/spec/x/"),
    );
    check(
        POD,
        "metadata: {<(namespace): prod}\nspec: {x: 1}",
        Expect::Fail("/spec/x/"),
    );
}

#[test]
fn global_anchor_evaluated_before_plain_siblings() {
    check(
        "spec: {aaa: 1, zzz: 1}",
        "spec: {aaa: 1, <(zzz): 1}",
        Expect::Pass,
    );
    check("spec: {zzz: 2}", "spec: {aaa: 1, <(zzz): 1}", Expect::Skip);
}

#[test]
fn add_anchor_is_a_literal_key_in_validate() {
    check(
        POD,
        "metadata: {+(name): p}",
        Expect::Fail("/metadata/+(name)/"),
    );
}

// ---- missing anchor keys turn failures into errors -------------------------------------

#[test]
fn failure_with_missing_anchor_key_is_an_error() {
    // `X(hostPath)` is tracked and never present; an unrelated mismatch becomes an error.
    let pattern =
        "spec: {=(volumes): [{X(hostPath): \"null\"}], containers: [{image: \"!*:latest\"}]}";
    check(
        "spec: {volumes: [{name: a}], containers: [{image: a:latest}]}",
        pattern,
        Expect::Error,
    );
    check(
        "spec: {containers: [{image: a:latest}]}",
        pattern,
        Expect::Fail("/spec/containers/0/image/"),
    );
}

// ---- leaves through the walk --------------------------------------------------------

#[test]
fn quantities_and_missing_values() {
    check(
        POD,
        "spec: {containers: [{(name): nginx, resources: {limits: {memory: \"<=1Gi\"}}}]}",
        Expect::Pass,
    );
    check(
        POD,
        "spec: {containers: [{(name): nginx, resources: {limits: {memory: \"<=256Mi\"}}}]}",
        Expect::Fail("/spec/containers/0/resources/limits/memory/"),
    );
    // Missing value counts as 0 for quantities.
    check(
        POD,
        "spec: {containers: [{(name): nginx, resources: {requests: {memory: \"<=1Gi\"}}}]}",
        Expect::Fail("/spec/containers/0/resources/requests/"),
    );
    check(
        "spec: {r: {}}",
        "spec: {r: {memory: \"<=1Gi\"}}",
        Expect::Pass,
    );
}

#[test]
fn numbers_in_resources() {
    check(
        "spec: {replicas: 3}",
        "spec: {replicas: \">1\"}",
        Expect::Pass,
    );
    check(
        "spec: {replicas: 3}",
        "spec: {replicas: \"1-2\"}",
        Expect::Fail("/spec/replicas/"),
    );
    check("spec: {replicas: 3}", "spec: {replicas: 3}", Expect::Pass);
    check(
        "spec: {port: 8080}",
        "spec: {port: \"80*\"}",
        Expect::Fail("/spec/port/"),
    );
}

#[test]
fn image_pull_policy_conditional_with_or() {
    let pattern = "spec: {containers: [{(image): \"*:latest | !*:*\", imagePullPolicy: Always}]}";
    check(
        "spec: {containers: [{image: nginx:latest, imagePullPolicy: Always}]}",
        pattern,
        Expect::Pass,
    );
    check(
        "spec: {containers: [{image: nginx:latest}]}",
        pattern,
        Expect::Fail("/spec/containers/0/imagePullPolicy/"),
    );
    check(
        "spec: {containers: [{image: nginx}]}",
        pattern,
        Expect::Fail("/spec/containers/0/imagePullPolicy/"),
    );
}

// ---- metadata wildcards -------------------------------------------------------------

#[test]
fn wildcard_label_keys_are_expanded() {
    check(
        POD,
        "metadata: {labels: {\"app.kubernetes.io/*\": \"?*\"}}",
        Expect::Pass,
    );
    check(
        POD,
        "metadata: {labels: {\"team.io/*\": \"?*\"}}",
        Expect::Fail("/metadata/labels/team.io/*/"),
    );
    check(POD, "metadata: {labels: {\"app*\": web}}", Expect::Pass);
    check(
        POD,
        "metadata: {labels: {\"=(app.kubernetes.io/*)\": web}}",
        Expect::Pass,
    );
    check(
        POD,
        "metadata: {labels: {\"=(app.kubernetes.io/*)\": db}}",
        Expect::Fail("/metadata/labels/app.kubernetes.io/name/"),
    );
}

#[test]
fn wildcard_annotation_keys_without_annotations() {
    check(
        POD,
        "metadata: {annotations: {\"x/*\": \"?*\"}}",
        Expect::Fail("/metadata/annotations/"),
    );
}

#[test]
fn wildcard_keys_elsewhere_are_literal() {
    check(
        "spec: {\"a*\": 1, ab: 1}",
        "spec: {\"a*\": 1}",
        Expect::Pass,
    );
    check(
        "spec: {ab: 1}",
        "spec: {\"a*\": 1}",
        Expect::Fail("/spec/a*/"),
    );
}

// ---- references ----------------------------------------------------------------------

#[test]
fn references_tie_two_fields() {
    let pattern = r#"
spec:
  containers:
  - name: "*"
    resources:
      requests:
        memory: "$(<=./../../limits/memory)"
      limits:
        memory: "2048Mi"
"#;
    check(
        "spec: {containers: [{name: a, resources: {requests: {memory: 1Gi}, limits: {memory: 2Gi}}}]}",
        pattern,
        Expect::Pass,
    );
    check(
        "spec: {containers: [{name: a, resources: {requests: {memory: 3Gi}, limits: {memory: 2Gi}}}]}",
        pattern,
        Expect::Fail("/spec/containers/0/resources/requests/memory/"),
    );
}

// ---- syntax check -------------------------------------------------------------------

#[test]
fn syntax_check_rejects_add_anchor_and_bad_existence() {
    assert!(check_pattern_syntax(&yaml("spec: {containers: [{name: x}]}")).is_ok());
    let err = check_pattern_syntax(&yaml("spec: {+(a): 1}")).unwrap_err();
    assert_eq!(
        err,
        PatternError::UnsupportedAnchor {
            key: "+(a)".into(),
            path: "/spec/+(a)".into()
        }
    );
    assert!(matches!(
        check_pattern_syntax(&yaml("spec: {^(a): x}")),
        Err(PatternError::ExistenceNotList { .. })
    ));
    assert!(matches!(
        check_pattern_syntax(&yaml("spec: {^(a): []}")),
        Err(PatternError::ExistenceNotList { .. })
    ));
    assert!(check_pattern_syntax(&yaml("spec: {c: [{^(a): [{b: 1}]}]}")).is_ok());
}

// ---- robustness ------------------------------------------------------------------------

/// A tiny deterministic generator (xorshift) of JSON trees with pattern syntax in keys and
/// values; validation must never panic, whatever the shapes.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn value(&mut self, depth: u32) -> Value {
        const KEYS: &[&str] = &[
            "a",
            "(a)",
            "=(a)",
            "^(a)",
            "X(a)",
            "<(a)",
            "+(a)",
            "b",
            "(b)",
            "metadata",
            "labels",
            "x*",
            "()",
            "$(./../a)",
        ];
        const STRS: &[&str] = &[
            "*",
            "?*",
            "",
            "!x",
            ">1",
            "<=1Gi",
            "1-10",
            "1!-5",
            "a|b",
            ">1 & <5",
            "1h",
            "<2m",
            "500m",
            "x-y",
            "$(./../b)",
            "\\$(x)",
            "!",
            "-",
            "e",
            "1e3",
            "Mi",
            ">=",
            "9999999999999999999999999999999Ei",
            "0",
        ];
        let choice = if depth == 0 {
            self.next() % 5
        } else {
            self.next() % 8
        };
        match choice {
            0 => Value::Null,
            1 => Value::Bool(self.next().is_multiple_of(2)),
            2 => serde_json::json!((self.next() % 2000) as f64 / 7.0 - 100.0),
            3 | 4 => Value::String(self.pick(STRS).to_string()),
            5 | 6 => {
                let mut map = serde_json::Map::new();
                for _ in 0..(self.next() % 4) {
                    map.insert(self.pick(KEYS).to_string(), self.value(depth - 1));
                }
                Value::Object(map)
            }
            _ => Value::Array(
                (0..(self.next() % 3))
                    .map(|_| self.value(depth - 1))
                    .collect(),
            ),
        }
    }
}

#[test]
fn random_trees_never_panic() {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let resource = g.value(4);
        let pattern = g.value(4);
        let _ = validate(&resource, &pattern);
        let _ = check_pattern_syntax(&pattern);
        if let Ok(resolved) = resolve_references(&pattern) {
            let _ = validate(&resource, &resolved);
        }
        let _ = leaf_matches(&resource, &pattern);
    }
}

// ---- Kyverno's documented engine cases (conditional/global anchors in lists) -----------

const IMAGE_RULE: &str = "spec: {containers: [{name: \"*\", (image): \"*:latest | !*:*\", imagePullPolicy: \"!Always\"}]}";

fn containers(items: &[(&str, &str)]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|(image, policy)| {
            format!("{{name: c, image: \"{image}\", imagePullPolicy: {policy}}}")
        })
        .collect();
    format!("spec: {{containers: [{}]}}", parts.join(", "))
}

#[test]
fn conditional_image_rule_single_container() {
    check(
        &containers(&[("nginx:1.2.3", "Always")]),
        IMAGE_RULE,
        Expect::Skip,
    );
    check(
        &containers(&[("nginx:latest", "Always")]),
        IMAGE_RULE,
        Expect::Fail("/spec/containers/0/imagePullPolicy/"),
    );
    check(
        &containers(&[("nginx", "Always")]),
        IMAGE_RULE,
        Expect::Fail("/spec/containers/0/imagePullPolicy/"),
    );
    check(&containers(&[("nginx", "Never")]), IMAGE_RULE, Expect::Pass);
    check(
        &containers(&[("nginx:1.2.3", "Never")]),
        IMAGE_RULE,
        Expect::Skip,
    );
}

#[test]
fn conditional_image_rule_two_containers() {
    check(
        &containers(&[("nginx:1.2.3", "Always"), ("busybox:1.28", "Always")]),
        IMAGE_RULE,
        Expect::Skip,
    );
    check(
        &containers(&[("nginx", "Never"), ("busybox:1.28", "Always")]),
        IMAGE_RULE,
        Expect::Pass,
    );
    check(
        &containers(&[("busybox:1.28", "Always"), ("nginx", "Always")]),
        IMAGE_RULE,
        Expect::Fail("/spec/containers/1/imagePullPolicy/"),
    );
    check(
        &containers(&[
            ("busybox:1.2.3", "Always"),
            ("nginx:latest", "IfNotPresent"),
        ]),
        IMAGE_RULE,
        Expect::Pass,
    );
}

#[test]
fn global_image_rule() {
    let rule =
        "spec: {containers: [{name: \"*\", <(image): \"*:latest\", imagePullPolicy: \"!Always\"}]}";
    check(&containers(&[("nginx:v1", "Always")]), rule, Expect::Skip);
    check(
        &containers(&[("nginx:latest", "Always")]),
        rule,
        Expect::Fail("/spec/containers/0/imagePullPolicy/"),
    );
    check(
        &containers(&[("nginx:latest", "IfNotPresent")]),
        rule,
        Expect::Pass,
    );
    check(
        &containers(&[
            ("nginx:latest", "IfNotPresent"),
            ("nginx:v2", "IfNotPresent"),
        ]),
        rule,
        Expect::Pass,
    );
}

#[test]
fn global_anchor_on_sibling_list_gates_other_fields() {
    let rule = "spec: {containers: [{name: \"*\", <(image): nginx}], imagePullSecrets: [{name: my-registry-secret}]}";
    check(
        "spec: {containers: [{name: n, image: nginx}], imagePullSecrets: [{name: cred}]}",
        rule,
        Expect::Fail("/spec/imagePullSecrets/0/name/"),
    );
    check(
        "spec: {containers: [{name: n, image: nginx}], imagePullSecrets: [{name: my-registry-secret}]}",
        rule,
        Expect::Pass,
    );
    check(
        "spec: {containers: [{name: n, image: other}], imagePullSecrets: [{name: cred}]}",
        rule,
        Expect::Skip,
    );
}

#[test]
fn negated_condition_values_with_and() {
    let rule = "spec: {=(volumes): [{(name): \"!credential-socket&!istio-data\", =(emptyDir): {sizeLimit: \"?*\"}}]}";
    check(
        "spec: {volumes: [{name: credential-socket, emptyDir: {sizeLimit: 1Gi}}]}",
        rule,
        Expect::Skip,
    );
    check(
        "spec: {volumes: [{name: cache-volume, emptyDir: {sizeLimit: 1Gi}}]}",
        rule,
        Expect::Pass,
    );
    check(
        "spec: {volumes: [{name: cache-volume}]}",
        rule,
        Expect::Pass,
    );
    check(
        "spec: {volumes: [{name: cache-volume, emptyDir: {}}]}",
        rule,
        Expect::Fail("/spec/volumes/0/emptyDir/sizeLimit/"),
    );
}

#[test]
fn init_containers_excluded_by_name() {
    let rule = "spec: {=(initContainers): [{(name): \"!istio-init\", =(securityContext): {=(runAsUser): \">0\"}}], =(containers): [{=(securityContext): {=(runAsUser): \">0\"}}]}";
    check(
        "spec: {initContainers: [{name: n, securityContext: {runAsUser: 1000}}], containers: [{name: n}]}",
        rule,
        Expect::Pass,
    );
    check(
        "spec: {initContainers: [{name: n, securityContext: {runAsUser: 0}}], containers: [{name: n}]}",
        rule,
        Expect::Fail("/spec/initContainers/0/securityContext/runAsUser/"),
    );
    // Every init container excluded by the condition: the list, and so the rule, is skipped.
    check(
        "spec: {initContainers: [{name: istio-init, securityContext: {runAsUser: 0}}]}",
        rule,
        Expect::Skip,
    );
    check(
        "spec: {initContainers: [{name: istio-init, securityContext: {runAsUser: 0}}, {name: b, securityContext: {runAsUser: 5}}]}",
        rule,
        Expect::Pass,
    );
    check(
        "spec: {initContainers: [{name: istio-init, securityContext: {runAsUser: 1000}}], containers: [{securityContext: {runAsUser: 0}}]}",
        rule,
        Expect::Fail("/spec/containers/0/securityContext/runAsUser/"),
    );
    check(
        "spec: {containers: [{securityContext: {runAsUser: 1000}}]}",
        rule,
        Expect::Pass,
    );
}

#[test]
fn star_for_numbers_maps_and_lists() {
    check(
        "spec: {c: [{name: a, p: {s: 11}}]}",
        "spec: {c: [{name: \"*\", p: {s: \"*\"}}]}",
        Expect::Pass,
    );
    check(
        "spec: {c: [{name: a, p: {s: 11}}]}",
        "spec: {c: [{name: \"*\", p: \"*\"}]}",
        Expect::Pass,
    );
    check("spec: {c: [{name: a}]}", "spec: {c: \"*\"}", Expect::Pass);
    check(
        "spec: {c: [{name: a, p: null}]}",
        "spec: {c: [{name: \"*\", p: \"*\"}]}",
        Expect::Fail("/spec/c/0/"),
    );
    check(
        "spec: {c: [{name: a, p: null}]}",
        "spec: {c: [{name: \"*\", p: null}]}",
        Expect::Pass,
    );
}

#[test]
fn existence_with_nested_conditions() {
    let rule =
        "^(list): [{(name): \"nirmata-*\", object: [{(key1): \"value*\", key2: \"value*\"}]}]";
    let resource = "list: [{name: nirmata-1, object: [{key1: value1, key2: value2}]}, {name: nirmata-1, object: [{key1: not_value, key2: not_value}]}]";
    check(resource, rule, Expect::Pass);
}
