use serde_json::{Value, json};

use super::*;

fn y(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap()
}

/// Strategic merge: `expected` is the patched object, `None` means "unchanged".
fn check_smp(resource: &str, overlay: &str, expected: Option<&str>) {
    let resource = y(resource);
    let out = strategic_merge(&resource, &y(overlay)).unwrap();
    match expected {
        Some(e) => {
            assert_eq!(
                out.patched,
                y(e),
                "patched:\n{}",
                serde_json::to_string_pretty(&out.patched).unwrap()
            );
            assert!(out.changed);
        }
        None => {
            assert_eq!(out.patched, resource);
            assert!(!out.changed);
        }
    }
}

fn check_json(resource: Value, patch: &str, expected: Value) {
    let out = json6902(&resource, patch).unwrap();
    assert_eq!(out.patched, expected);
    assert_eq!(out.changed, resource != expected);
}

fn json_err(resource: Value, patch: &str) -> MutateError {
    json6902(&resource, patch).unwrap_err()
}

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: {app: web}
spec:
  containers:
  - name: a
    image: nginx:latest
  - name: b
    image: busybox:1.28
    imagePullPolicy: Never
"#;

// ---------- strategic merge: plain merge ----------

#[test]
fn smp_adds_label_and_keeps_others() {
    check_smp(
        POD,
        "metadata: {labels: {team: x}}",
        Some(&POD.replace("{app: web}", "{app: web, team: x}")),
    );
}

#[test]
fn smp_null_deletes_field() {
    check_smp(
        POD,
        "metadata: {labels: {app: null}}",
        Some(&POD.replace("labels: {app: web}", "labels: {}")),
    );
}

#[test]
fn smp_same_value_is_unchanged() {
    check_smp(POD, "metadata: {labels: {app: web}}", None);
}

#[test]
fn smp_containers_merge_by_name() {
    check_smp(
        POD,
        "spec: {containers: [{name: b, imagePullPolicy: Always}, {name: c, image: redis}]}",
        // kyaml's prepend direction: the overlay's elements first, then the object's others.
        Some(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: web}}\nspec: {containers: [{name: b, image: 'busybox:1.28', imagePullPolicy: Always}, {name: c, image: redis}, {name: a, image: 'nginx:latest'}]}",
        ),
    );
}

#[test]
fn smp_unknown_lists_are_replaced() {
    let r = "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, args: [x, y]}]}";
    check_smp(
        r,
        "spec: {containers: [{name: a, args: [z]}]}",
        Some("apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, args: [z]}]}"),
    );
}

#[test]
fn smp_custom_resource_lists_are_replaced() {
    let r = "apiVersion: example.com/v1\nkind: Thing\nspec: {items: [{name: a, v: 1}]}";
    check_smp(
        r,
        "spec: {items: [{name: b}]}",
        Some("apiVersion: example.com/v1\nkind: Thing\nspec: {items: [{name: b}]}"),
    );
}

#[test]
fn smp_env_merges_by_name_and_volume_mounts_by_mount_path() {
    let r = "apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: a, env: [{name: X, value: '1'}], volumeMounts: [{name: v, mountPath: /a}]}]}}}";
    let o = "spec: {template: {spec: {containers: [{name: a, env: [{name: X, value: '2'}, {name: Y, value: '3'}], volumeMounts: [{name: w, mountPath: /a}]}]}}}";
    let e = "apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: a, env: [{name: X, value: '2'}, {name: Y, value: '3'}], volumeMounts: [{name: w, mountPath: /a}]}]}}}";
    check_smp(r, o, Some(e));
}

#[test]
fn smp_cronjob_template_containers_merge() {
    let r = "apiVersion: batch/v1\nkind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: x}]}}}}}";
    let o = "spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, imagePullPolicy: Always}]}}}}}";
    let e = "apiVersion: batch/v1\nkind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a, image: x, imagePullPolicy: Always}]}}}}}";
    check_smp(r, o, Some(e));
}

#[test]
fn smp_patch_delete_directive_removes_element() {
    check_smp(
        POD,
        "spec: {containers: [{name: a, $patch: delete}]}",
        Some(&POD.replace("  - name: a\n    image: nginx:latest\n", "")),
    );
}

#[test]
fn smp_patch_replace_directive_on_map() {
    check_smp(
        POD,
        "metadata: {labels: {$patch: replace, x: y}}",
        Some(&POD.replace("{app: web}", "{x: y}")),
    );
}

#[test]
fn smp_patch_replace_marker_on_list() {
    check_smp(
        POD,
        "spec: {containers: [{$patch: replace}, {name: z, image: z}]}",
        Some(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: web}}\nspec: {containers: [{name: z, image: z}]}",
        ),
    );
}

#[test]
fn smp_finalizers_union() {
    let r = "apiVersion: v1\nkind: ConfigMap\nmetadata: {finalizers: [a, b]}";
    check_smp(
        r,
        "metadata: {finalizers: [b, c]}",
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {finalizers: [a, b, c]}"),
    );
}

#[test]
fn smp_port_with_both_keys_is_prepended() {
    // Elements addressed by two merge keys: the list is the merged elements, overlay first.
    let r = "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, ports: [{containerPort: 80, protocol: TCP}]}]}";
    check_smp(
        r,
        "spec: {containers: [{name: a, ports: [{containerPort: 81, protocol: TCP}]}]}",
        Some(
            "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, ports: [{containerPort: 81, protocol: TCP}, {containerPort: 80, protocol: TCP}]}]}",
        ),
    );
}

#[test]
fn smp_port_with_one_key_is_merged() {
    let r =
        "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, ports: [{containerPort: 80}]}]}";
    check_smp(
        r,
        "spec: {containers: [{name: a, ports: [{containerPort: 80, name: http}]}]}",
        Some(
            "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a, ports: [{containerPort: 80, name: http}]}]}",
        ),
    );
}

#[test]
fn smp_kind_mismatch_is_an_error() {
    let err = strategic_merge(&y(POD), &y("metadata: {labels: [a]}")).unwrap_err();
    assert!(
        matches!(err, MutateError::KindMismatch { ref path, .. } if path == "/metadata/labels"),
        "{err}"
    );
}

#[test]
fn smp_overlay_must_be_a_map() {
    assert!(matches!(
        strategic_merge(&y(POD), &json!([1])),
        Err(MutateError::Preprocess { .. })
    ));
}

// ---------- strategic merge: anchors ----------

#[test]
fn smp_add_if_not_present_adds_only_missing() {
    check_smp(
        POD,
        "metadata: {labels: {+(app): other, +(tier): web}}",
        Some(&POD.replace("{app: web}", "{app: web, tier: web}")),
    );
}

#[test]
fn smp_add_if_not_present_all_present_is_skip() {
    check_smp(POD, "metadata: {labels: {+(app): other}}", None);
}

#[test]
fn smp_add_if_not_present_per_container() {
    let r = "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a}, {name: b, imagePullPolicy: Never, resources: {limits: {cpu: 2}}}]}";
    check_smp(
        r,
        "spec: {containers: [{(name): b, resources: {+(limits): {cpu: 1}, +(requests): {cpu: 1}}}]}",
        Some(
            "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: b, imagePullPolicy: Never, resources: {limits: {cpu: 2}, requests: {cpu: 1}}}, {name: a}]}",
        ),
    );
    // `+()` keys next to the condition are resolved before the condition is checked, against
    // the first container visited (`a`, which lacks the field), as in Kyverno.
    check_smp(
        r,
        "spec: {containers: [{(name): b, +(imagePullPolicy): IfNotPresent}]}",
        Some(
            "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: b, imagePullPolicy: IfNotPresent, resources: {limits: {cpu: 2}}}, {name: a}]}",
        ),
    );
}

#[test]
fn smp_two_anchored_list_elements_follow_kyverno_index_shift() {
    // Kyverno deletes the anchored originals by a stale index after the first deletion, so
    // with two anchored elements the second original survives and the first generated copy
    // is dropped. The `+()` anchor of the second element was resolved against container `a`
    // (the first one visited), hence `b` gets the value although it had its own.
    let r = "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a}, {name: b, imagePullPolicy: Never}]}";
    check_smp(
        r,
        "spec: {containers: [{(name): a, +(imagePullPolicy): IfNotPresent}, {(name): b, +(imagePullPolicy): IfNotPresent}]}",
        Some(
            "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: b, imagePullPolicy: IfNotPresent}, {name: a}, {'(name)': b, '+(imagePullPolicy)': IfNotPresent}]}",
        ),
    );
}

#[test]
fn smp_add_if_not_present_in_list_uses_first_element_only() {
    // Kyverno reuses one working copy per overlay element: the `+()` anchor is resolved
    // against the first matching container and the result is applied to all of them, so
    // container `b` loses its own value.
    check_smp(
        POD,
        "spec: {containers: [{(name): '*', +(imagePullPolicy): IfNotPresent}]}",
        Some(
            &POD.replace(
                "    image: nginx:latest\n",
                "    image: nginx:latest\n    imagePullPolicy: IfNotPresent\n",
            )
            .replace("imagePullPolicy: Never", "imagePullPolicy: IfNotPresent"),
        ),
    );
    let reversed = POD
        .replace("  - name: a\n    image: nginx:latest\n", "")
        .replace(
            "    imagePullPolicy: Never\n",
            "    imagePullPolicy: Never\n  - name: a\n    image: nginx:latest\n",
        );
    // The first container already has the field: the anchor is dropped for all of them.
    check_smp(
        &reversed,
        "spec: {containers: [{(name): '*', +(imagePullPolicy): IfNotPresent}]}",
        None,
    );
}

#[test]
fn smp_conditional_anchor_in_list_selects_elements() {
    check_smp(
        POD,
        "spec: {containers: [{(image): 'busybox:*', imagePullPolicy: Always}]}",
        Some(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {app: web}}\nspec: {containers: [{name: b, image: 'busybox:1.28', imagePullPolicy: Always}, {name: a, image: 'nginx:latest'}]}",
        ),
    );
}

#[test]
fn smp_conditional_anchor_in_list_no_match_is_skip() {
    check_smp(
        POD,
        "spec: {containers: [{(image): 'redis:*', imagePullPolicy: Always}]}",
        None,
    );
}

#[test]
fn smp_conditional_anchor_only_element_adds_nothing() {
    check_smp(
        POD,
        "spec: {containers: [{(image): 'busybox:*'}], imagePullSecrets: [{name: reg}]}",
        Some(&format!("{POD}  imagePullSecrets: [{{name: reg}}]\n")),
    );
}

#[test]
fn smp_failed_condition_in_map_drops_whole_overlay() {
    check_smp(
        POD,
        "metadata: {labels: {(app): db, team: x}}\nspec: {restartPolicy: Never}",
        None,
    );
}

#[test]
fn smp_holding_condition_in_map_applies_siblings() {
    check_smp(
        POD,
        "metadata: {labels: {(app): web, team: x}}",
        Some(&POD.replace("{app: web}", "{app: web, team: x}")),
    );
}

#[test]
fn smp_condition_on_missing_key_fails() {
    check_smp(
        POD,
        "metadata: {(annotations): {a: b}, labels: {x: y}}",
        None,
    );
}

#[test]
fn smp_global_anchor_failing_drops_everything() {
    check_smp(
        POD,
        "metadata: {labels: {x: y}}\nspec: {containers: [{<(image): 'redis:*'}]}",
        None,
    );
}

#[test]
fn smp_global_anchor_holding_applies_rest() {
    check_smp(
        POD,
        "metadata: {labels: {x: y}}\nspec: {containers: [{<(image): 'busybox:*'}]}",
        Some(&POD.replace("{app: web}", "{app: web, x: y}")),
    );
}

#[test]
fn smp_global_anchor_in_map() {
    check_smp(POD, "metadata: {<(name): q, labels: {x: y}}", None);
    check_smp(
        POD,
        "metadata: {<(name): p, labels: {x: y}}",
        Some(&POD.replace("{app: web}", "{app: web, x: y}")),
    );
}

#[test]
fn smp_condition_with_map_value_is_kept() {
    let r = "apiVersion: v1\nkind: Pod\nspec: {securityContext: {runAsNonRoot: true}, hostNetwork: true}";
    check_smp(
        r,
        "spec: {(securityContext): {runAsNonRoot: true}, hostNetwork: false}",
        Some(
            "apiVersion: v1\nkind: Pod\nspec: {securityContext: {runAsNonRoot: true}, hostNetwork: false}",
        ),
    );
}

#[test]
fn smp_empty_maps_are_pruned_from_overlay() {
    // Kyverno's preprocessing drops maps left empty, including literal `{}` values.
    check_smp(POD, "metadata: {annotations: {}}", None);
}

#[test]
fn smp_equality_anchor_is_a_literal_key_in_mutation() {
    check_smp(
        POD,
        "metadata: {labels: {=(app): x}}",
        Some(&POD.replace("{app: web}", "{app: web, '=(app)': x}")),
    );
}

#[test]
fn smp_null_overlay_value_at_top_is_kept() {
    let out = strategic_merge(&y(POD), &y("metadata: null")).unwrap();
    assert!(out.patched.get("metadata").is_none());
}

#[test]
fn smp_conditional_element_without_resource_list() {
    let r = "apiVersion: v1\nkind: Pod\nspec: {}";
    check_smp(r, "spec: {containers: [{(name): '*', image: x}]}", None);
}

// ---------- JSON 6902 ----------

#[test]
fn jp_add_replace_remove() {
    check_json(
        json!({"a": 1, "b": [1, 2]}),
        "- {op: add, path: /c, value: 3}\n- {op: replace, path: /a, value: 9}\n- {op: remove, path: /b/0}",
        json!({"a": 9, "b": [2], "c": 3}),
    );
}

#[test]
fn jp_json_text_is_accepted() {
    check_json(
        json!({}),
        r#"[{"op": "add", "path": "/x", "value": {"y": 1}}]"#,
        json!({"x": {"y": 1}}),
    );
}

#[test]
fn jp_append_with_dash_and_insert() {
    check_json(
        json!({"l": [1, 3]}),
        "- {op: add, path: /l/-, value: 4}\n- {op: add, path: /l/1, value: 2}",
        json!({"l": [1, 2, 3, 4]}),
    );
}

#[test]
fn jp_add_creates_missing_parents() {
    check_json(
        json!({"spec": {}}),
        "- {op: add, path: /spec/volumes/-, value: {name: v}}\n- {op: add, path: /metadata/labels/a, value: b}",
        json!({"spec": {"volumes": [{"name": "v"}]}, "metadata": {"labels": {"a": "b"}}}),
    );
}

#[test]
fn jp_add_creates_array_padded_for_index() {
    check_json(
        json!({}),
        "- {op: add, path: /l/2, value: x}",
        json!({"l": [null, null, "x"]}),
    );
}

#[test]
fn jp_add_replaces_null_parent() {
    check_json(
        json!({"m": null}),
        "- {op: add, path: /m/k, value: 1}",
        json!({"m": {"k": 1}}),
    );
}

#[test]
fn jp_add_below_scalar_fails() {
    assert!(matches!(
        json_err(json!({"a": 1}), "- {op: add, path: /a/b, value: 1}"),
        MutateError::OperationFailed { .. }
    ));
}

#[test]
fn jp_add_index_out_of_bounds_fails() {
    assert!(matches!(
        json_err(json!({"l": [1]}), "- {op: add, path: /l/5, value: 1}"),
        MutateError::OperationFailed { index: 0, .. }
    ));
}

#[test]
fn jp_remove_missing_is_ignored() {
    check_json(
        json!({"a": {"b": 1}, "l": [1]}),
        "- {op: remove, path: /x/y}\n- {op: remove, path: /a/c}\n- {op: remove, path: /l/3}",
        json!({"a": {"b": 1}, "l": [1]}),
    );
}

#[test]
fn jp_negative_indices() {
    check_json(
        json!({"l": [1, 2, 3]}),
        "- {op: remove, path: /l/-1}\n- {op: replace, path: /l/-2, value: 0}",
        json!({"l": [0, 2]}),
    );
}

#[test]
fn jp_replace_missing_fails() {
    assert!(matches!(
        json_err(json!({}), "- {op: replace, path: /a, value: 1}"),
        MutateError::OperationFailed { .. }
    ));
    assert!(matches!(
        json_err(json!({"l": []}), "- {op: replace, path: /l/0, value: 1}"),
        MutateError::OperationFailed { .. }
    ));
}

#[test]
fn jp_escapes() {
    check_json(
        json!({"metadata": {"annotations": {}}}),
        "- {op: add, path: /metadata/annotations/example.com~1a~0b, value: x}",
        json!({"metadata": {"annotations": {"example.com/a~b": "x"}}}),
    );
}

#[test]
fn jp_move_and_copy() {
    check_json(
        json!({"a": {"x": 1}, "b": {}}),
        "- {op: move, from: /a/x, path: /b/y}\n- {op: copy, from: /b/y, path: /c}",
        json!({"a": {}, "b": {"y": 1}, "c": 1}),
    );
}

#[test]
fn jp_move_missing_fails() {
    assert!(json6902(&json!({}), "- {op: move, from: /a, path: /b}").is_err());
}

#[test]
fn jp_test_op() {
    check_json(
        json!({"a": 1}),
        "- {op: test, path: /a, value: 1}\n- {op: test, path: /b, value: null}",
        json!({"a": 1}),
    );
    assert!(json6902(&json!({"a": 1}), "- {op: test, path: /a, value: 2}").is_err());
}

#[test]
fn jp_root_replace() {
    check_json(
        json!({"a": 1}),
        "- {op: replace, path: '', value: {b: 2}}",
        json!({"b": 2}),
    );
}

#[test]
fn jp_invalid_operations() {
    assert!(matches!(
        json_err(json!({}), "- {op: frobnicate, path: /a}"),
        MutateError::InvalidOperation { index: 0, .. }
    ));
    assert!(matches!(
        json_err(json!({}), "- {op: add, path: /a}"),
        MutateError::InvalidOperation { .. }
    ));
    assert!(matches!(
        json_err(json!({}), "- {op: move, path: /a}"),
        MutateError::InvalidOperation { .. }
    ));
    assert!(matches!(
        json_err(json!({}), "- {op: remove}"),
        MutateError::InvalidOperation { .. }
    ));
    assert!(matches!(
        json_err(json!({}), "op: add"),
        MutateError::PatchNotAList
    ));
    assert!(matches!(
        json_err(json!({}), "[not json"),
        MutateError::PatchSyntax { .. }
    ));
}

#[test]
fn jp_invalid_op_later_in_list_fails_before_applying() {
    assert!(matches!(
        json_err(
            json!({}),
            "- {op: add, path: /a, value: 1}\n- {op: nope, path: /a}"
        ),
        MutateError::InvalidOperation { index: 1, .. }
    ));
}

#[test]
fn jp_ops_api() {
    let out = json_patch_ops(&json!({"a": 1}), &[json!({"op": "remove", "path": "/a"})]).unwrap();
    assert_eq!(
        out,
        MutateOutcome {
            patched: json!({}),
            changed: true
        }
    );
}

// ---------- diff ----------

fn roundtrip(old: Value, new: Value) {
    let ops = diff_to_json_patch(&old, &new);
    let applied = json_patch_ops(&old, &ops).unwrap().patched;
    assert_eq!(applied, new, "ops: {ops:?}");
}

#[test]
fn diff_roundtrips() {
    roundtrip(
        json!({"a": 1, "b": {"c": [1, 2, 3]}}),
        json!({"b": {"c": [1, 5]}, "d": "x"}),
    );
    roundtrip(json!({"l": [1]}), json!({"l": [1, 2, {"x": 1}]}));
    roundtrip(json!({"a/b": 1, "t~": 2}), json!({"a/b": 2}));
    roundtrip(json!({"a": 1}), json!([1]));
    assert!(diff_to_json_patch(&json!({"a": 1}), &json!({"a": 1})).is_empty());
}

// ---------- robustness ----------

/// A small deterministic generator (no extra dependency) for random-input checks.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() as usize) % items.len()]
    }
    fn value(&mut self, depth: u32) -> Value {
        let keys = [
            "name",
            "(name)",
            "+(image)",
            "<(kind)",
            "=(x)",
            "X(y)",
            "image",
            "$patch",
            "containers",
            "spec",
            "a",
            "(a)",
        ];
        match self.next() % if depth == 0 { 4 } else { 7 } {
            0 => Value::Null,
            1 => json!(self.next() % 3),
            2 => json!(self.pick(&["*", "a", "b*", "delete", "replace", "?"])),
            3 => json!(self.next().is_multiple_of(2)),
            4 | 5 => {
                let mut m = serde_json::Map::new();
                for _ in 0..self.next() % 4 {
                    m.insert(self.pick(&keys).to_string(), self.value(depth - 1));
                }
                Value::Object(m)
            }
            _ => Value::Array(
                (0..self.next() % 4)
                    .map(|_| self.value(depth - 1))
                    .collect(),
            ),
        }
    }
}

#[test]
fn random_inputs_never_panic() {
    let mut g = Lcg(7);
    for _ in 0..3000 {
        let mut resource = g.value(4);
        if let Value::Object(m) = &mut resource {
            m.insert("apiVersion".into(), json!("v1"));
            m.insert("kind".into(), json!("Pod"));
        }
        let overlay = g.value(4);
        let _ = strategic_merge(&resource, &overlay);
        let ops: Vec<Value> = (0..g.next() % 4)
            .map(|_| {
                let path: String = (0..g.next() % 4)
                    .map(|_| format!("/{}", g.pick(&["a", "0", "-", "-1", "5", "name", "~1", "spec", "01", "+1"])))
                    .collect();
                json!({"op": g.pick(&["add", "remove", "replace", "move", "copy", "test"]), "path": path, "from": "/a", "value": g.value(1)})
            })
            .collect();
        if let Ok(out) = json_patch_ops(&resource, &ops) {
            roundtrip(resource.clone(), out.patched);
        }
    }
}

#[test]
fn smp_condition_uses_validate_operators() {
    let r = "apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 3}";
    check_smp(
        r,
        "spec: {(replicas): '>2', paused: true}",
        Some("apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 3, paused: true}"),
    );
    check_smp(r, "spec: {(replicas): '<2', paused: true}", None);
}

/// The in-place merge tracks whether the object changed instead of comparing it before and
/// after: on random objects and overlays (with merge lists) the flag must agree with the
/// comparison, and a failing merge must leave the object as it was.
#[test]
fn in_place_merge_reports_change_exactly() {
    let mut g = Lcg(11);
    let mut compared = 0;
    for _ in 0..4000 {
        let mut resource = g.value(4);
        if let Value::Object(m) = &mut resource {
            m.insert("apiVersion".into(), json!("v1"));
            m.insert("kind".into(), json!("Pod"));
            m.insert(
                "spec".into(),
                json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "ports": [{"containerPort": 80}]}, {"image": "keyless"}]}),
            );
        }
        let mut overlay = g.value(3);
        if !overlay.is_object() {
            overlay = json!({"metadata": {"labels": {"a": g.value(1)}}});
        }
        if let Value::Object(m) = &mut overlay
            && g.next().is_multiple_of(2)
        {
            let name = g.pick(&["a", "b", "c"]);
            m.insert(
                "spec".into(),
                json!({"containers": [{"name": name, "image": g.value(1)}, g.value(2)]}),
            );
        }
        let mut patched = resource.clone();
        match strategic_merge_in_place(&mut patched, &overlay) {
            Ok(changed) => {
                assert_eq!(changed, patched != resource, "overlay {overlay}");
                compared += 1;
            }
            Err(_) => assert_eq!(patched, resource),
        }
    }
    assert!(compared > 1000, "only {compared} merges succeeded");
}

/// `add` creates missing parents; a `-1` segment below a list that had to be created (or
/// exists) adds the new parent at the end, as evanphx/json-patch does with negative
/// indices enabled (Kyverno's add-node-affinity policy relies on it).
#[test]
fn json_add_creates_parents_through_negative_indices() {
    check_json(
        json!({"spec": {}}),
        "- {op: add, path: /spec/affinity/terms/-1/matchExpressions/-1, value: {key: zone}}",
        json!({"spec": {"affinity": {"terms": [{"matchExpressions": [{"key": "zone"}]}]}}}),
    );
    // `-` creates a parent too, but (as in Go) the final lookup cannot walk through `-`.
    assert!(matches!(
        json_err(
            json!({"spec": {"terms": [{"a": 1}]}}),
            "- {op: add, path: /spec/terms/-/b/-, value: 2}",
        ),
        MutateError::OperationFailed { .. }
    ));
    // An existing element is walked into (here the last one).
    check_json(
        json!({"spec": {"terms": [{"a": 1}, {"b": []}]}}),
        "- {op: add, path: /spec/terms/-1/b/-1, value: 3}",
        json!({"spec": {"terms": [{"a": 1}, {"b": [3]}]}}),
    );
}
