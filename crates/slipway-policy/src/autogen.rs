//! Kyverno's rule expansion for pod controllers ("autogen", `pkg/autogen/v1`).
//!
//! A rule that matches `Pod` also yields `autogen-<rule>` for DaemonSet,
//! Deployment, Job, StatefulSet, ReplicaSet and ReplicationController (its
//! patterns moved under `spec.template`) and `autogen-cronjob-<rule>` for
//! CronJob (under `spec.jobTemplate.spec.template`). Variables that read
//! `request.object.spec` / `.metadata` are rewritten to the pod template by a
//! plain text replacement over the serialised rule, exactly as Kyverno does,
//! so the expansion agrees with Kyverno even on odd inputs.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::model::{
    MatchResources, Mutation, PolicySpec, ResourceDescription, ResourceFilter, Rule, Validation,
};

/// Annotation selecting the controllers (`none` disables autogen).
pub const CONTROLLERS_ANNOTATION: &str = "pod-policies.kyverno.io/autogen-controllers";

/// All pod controllers, in Kyverno's default order.
const POD_CONTROLLERS: [&str; 7] = [
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
    "CronJob",
];

/// Controllers that take a `spec.template` (everything but CronJob).
const TEMPLATE_CONTROLLERS: [&str; 6] = [
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
];

/// The kind part of a kind selector (`apps/v1/Deployment` -> `Deployment`,
/// `Pod/exec` -> `Pod`), as Kyverno's `ContainsKind` reads it.
fn selector_kind(selector: &str) -> &str {
    let parts: Vec<&str> = selector.split('/').collect();
    let is_version = |s: &str| {
        s == "*" || {
            let rest = s.strip_prefix('v').unwrap_or("");
            rest.starts_with(|c: char| c.is_ascii_digit())
        }
    };
    let kind = match parts.len() {
        1 => parts[0],
        2 => {
            if parts[0] == "*" && parts[1] == "*" {
                "*"
            } else if is_version(parts[0]) {
                parts[1]
            } else {
                parts[0]
            }
        }
        3 => {
            if is_version(parts[0]) {
                parts[1]
            } else {
                parts[2]
            }
        }
        4 => parts[2],
        _ => "",
    };
    // `Pod.status` names a subresource.
    kind.split('.').next().unwrap_or(kind)
}

fn contains_kind(kinds: &[String], kind: &str) -> bool {
    kinds.iter().any(|k| selector_kind(k) == kind)
}

fn filters(m: &MatchResources) -> impl Iterator<Item = &ResourceFilter> {
    std::iter::once(&m.legacy)
        .chain(m.any.iter())
        .chain(m.all.iter())
}

/// Kyverno's `CanAutoGen`: whether every rule allows the expansion and some
/// rule selects pods or pod controllers.
pub fn can_autogen(spec: &PolicySpec) -> bool {
    let mut needed = false;
    for rule in &spec.rules {
        if rule.generate.is_some() {
            return false;
        }
        if let Some(m) = &rule.mutate {
            if m.patches_json6902.as_deref().is_some_and(|s| !s.is_empty()) {
                return false;
            }
            if m.foreach
                .iter()
                .flatten()
                .any(|f| f.patches_json6902.as_deref().is_some_and(|s| !s.is_empty()))
            {
                return false;
            }
        }
        let blocks = std::iter::once(&rule.match_).chain(rule.exclude.as_ref());
        for block in blocks {
            for filter in filters(block) {
                let Some(r) = &filter.resources else { continue };
                let mixed = r.kinds.len() > 1 && contains_kind(&r.kinds, "Pod");
                if !r.name.is_empty()
                    || !r.names.is_empty()
                    || r.selector.is_some()
                    || r.annotations.is_some()
                    || mixed
                {
                    return false;
                }
                needed = needed
                    || r.kinds
                        .iter()
                        .any(|k| k == "Pod" || POD_CONTROLLERS.contains(&k.as_str()));
            }
        }
    }
    needed
}

/// The rules Kyverno evaluates for a policy: the written rules (minus any
/// stale `autogen-` ones) followed by the generated rules.
pub fn compute_rules(spec: &PolicySpec, annotations: &BTreeMap<String, String>) -> Vec<Rule> {
    if !can_autogen(spec) {
        return spec.rules.clone();
    }
    let controllers = match annotations.get(CONTROLLERS_ANNOTATION) {
        Some(a) => a.clone(),
        None => POD_CONTROLLERS.join(","),
    };
    if controllers == "none" {
        return spec.rules.clone();
    }
    let generated = generate_rules(spec, &controllers);
    if generated.is_empty() {
        return spec.rules.clone();
    }
    let mut out: Vec<Rule> = spec
        .rules
        .iter()
        .filter(|r| !is_autogen_name(&r.name))
        .cloned()
        .collect();
    out.extend(generated);
    out
}

/// Whether a rule name is a generated one.
pub fn is_autogen_name(name: &str) -> bool {
    name.starts_with("autogen-")
}

fn generate_rules(spec: &PolicySpec, controllers: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    for rule in &spec.rules {
        let stripped = strip_cronjob(controllers);
        if let Some(r) = rule_for_controllers(rule, &stripped) {
            out.push(convert(r, &POD_REPLACEMENTS));
        }
        if let Some(r) = cronjob_rule(rule, controllers) {
            out.push(convert(r, &CRONJOB_REPLACEMENTS));
        }
    }
    out
}

fn split_kinds(controllers: &str) -> Vec<String> {
    let mut kinds: Vec<String> = controllers.split(',').map(str::to_string).collect();
    kinds.sort();
    kinds
}

fn strip_cronjob(controllers: &str) -> String {
    split_kinds(controllers)
        .into_iter()
        .filter(|c| c != "CronJob")
        .collect::<Vec<_>>()
        .join(",")
}

fn autogen_name(prefix: &str, name: &str) -> String {
    let mut n = format!("{prefix}-{name}");
    if n.len() > 63 {
        let mut cut = 63;
        while !n.is_char_boundary(cut) {
            cut -= 1;
        }
        n.truncate(cut);
    }
    n
}

fn rule_for_controllers(rule: &Rule, controllers: &str) -> Option<Rule> {
    if is_autogen_name(&rule.name) || controllers.is_empty() {
        return None;
    }
    let match_kinds: Vec<String> = rule
        .match_
        .kinds()
        .into_iter()
        .map(str::to_string)
        .collect();
    let exclude_kinds: Vec<String> = rule
        .exclude
        .as_ref()
        .map(|e| e.kinds().into_iter().map(str::to_string).collect())
        .unwrap_or_default();
    if !contains_kind(&match_kinds, "Pod")
        || (!exclude_kinds.is_empty() && !contains_kind(&exclude_kinds, "Pod"))
    {
        return None;
    }
    let kinds: String = if controllers == "all" {
        TEMPLATE_CONTROLLERS.join(",")
    } else if controllers == "none" {
        controllers.to_string()
    } else {
        let validated: Vec<String> = split_kinds(controllers)
            .into_iter()
            .filter(|c| TEMPLATE_CONTROLLERS.contains(&c.as_str()))
            .collect();
        if validated.is_empty() {
            controllers.to_string()
        } else {
            validated.join(",")
        }
    };
    generate_rule(
        autogen_name("autogen", &rule.name),
        rule.clone(),
        "template",
        &split_kinds(&kinds),
        true,
    )
}

fn cronjob_rule(rule: &Rule, controllers: &str) -> Option<Rule> {
    if !controllers.contains("CronJob") && !controllers.contains("all") {
        return None;
    }
    let base = rule_for_controllers(rule, controllers)?;
    generate_rule(
        autogen_name("autogen-cronjob", &rule.name),
        base,
        "jobTemplate",
        &["CronJob".to_string()],
        false,
    )
}

/// Replaces the kinds of the filters: for the pod variant only filters that
/// select `Pod`, for the CronJob variant every filter.
fn rewrite_filters(filters: &mut [ResourceFilter], kinds: &[String], only_pod: bool) {
    for f in filters {
        let has_pod = f
            .resources
            .as_ref()
            .is_some_and(|r| contains_kind(&r.kinds, "Pod"));
        if !only_pod || has_pod {
            f.resources
                .get_or_insert_with(ResourceDescription::default)
                .kinds = kinds.to_vec();
        }
    }
}

fn wrap(tpl_key: &str, value: Value) -> Value {
    json!({ "spec": { tpl_key: value } })
}

fn generate_rule(
    name: String,
    mut rule: Rule,
    tpl_key: &str,
    kinds: &[String],
    only_pod: bool,
) -> Option<Rule> {
    rule.name = name;
    if !rule.match_.any.is_empty() {
        rewrite_filters(&mut rule.match_.any, kinds, only_pod);
    } else if !rule.match_.all.is_empty() {
        rewrite_filters(&mut rule.match_.all, kinds, only_pod);
    } else {
        rule.match_
            .legacy
            .resources
            .get_or_insert_with(ResourceDescription::default)
            .kinds = kinds.to_vec();
    }
    if let Some(ex) = rule.exclude.as_mut() {
        if !ex.any.is_empty() {
            rewrite_filters(&mut ex.any, kinds, only_pod);
        } else if !ex.all.is_empty() {
            rewrite_filters(&mut ex.all, kinds, only_pod);
        } else if let Some(r) = ex.legacy.resources.as_mut()
            && !r.kinds.is_empty()
        {
            r.kinds = kinds.to_vec();
        }
    }
    if let Some(m) = rule.mutate.take() {
        if let Some(psm) = m.patch_strategic_merge {
            rule.mutate = Some(Mutation {
                patch_strategic_merge: Some(wrap(tpl_key, psm)),
                ..Mutation::default()
            });
            return Some(rule);
        }
        if let Some(loops) = m.foreach.filter(|l| !l.is_empty()) {
            let loops = loops
                .into_iter()
                .map(|f| crate::model::ForEachMutation {
                    list: f.list,
                    context: f.context,
                    preconditions: f.preconditions,
                    patch_strategic_merge: Some(wrap(
                        tpl_key,
                        f.patch_strategic_merge.unwrap_or(Value::Null),
                    )),
                    ..Default::default()
                })
                .collect();
            rule.mutate = Some(Mutation {
                foreach: Some(loops),
                ..Mutation::default()
            });
            return Some(rule);
        }
    }
    if let Some(v) = rule.validate.take() {
        let base = Validation {
            message: v.message.clone(),
            failure_action: v.failure_action.clone(),
            failure_action_overrides: v.failure_action_overrides.clone(),
            allow_existing_violations: v.allow_existing_violations,
            ..Validation::default()
        };
        if let Some(p) = v.pattern {
            rule.validate = Some(Validation {
                pattern: Some(wrap(tpl_key, p)),
                ..base
            });
            return Some(rule);
        }
        if v.deny.is_some() {
            rule.validate = Some(Validation {
                deny: v.deny,
                ..base
            });
            return Some(rule);
        }
        if v.pod_security.is_some() {
            rule.validate = Some(Validation {
                pod_security: v.pod_security,
                ..base
            });
            return Some(rule);
        }
        if let Some(ap) = v.any_pattern {
            let list = match ap {
                Value::Array(items) => items.into_iter().map(|p| wrap(tpl_key, p)).collect(),
                _ => Vec::new(),
            };
            rule.validate = Some(Validation {
                any_pattern: Some(Value::Array(list)),
                ..base
            });
            return Some(rule);
        }
        if let Some(loops) = v.foreach.filter(|l| !l.is_empty()) {
            rule.validate = Some(Validation {
                foreach: Some(loops),
                ..base
            });
            return Some(rule);
        }
        if v.cel.is_some() {
            rule.validate = Some(Validation { cel: v.cel, ..base });
            return Some(rule);
        }
    }
    if rule.verify_images.is_some() {
        return Some(rule);
    }
    None
}

const POD_REPLACEMENTS: [(&str, &str); 4] = [
    ("request.object.spec", "request.object.spec.template.spec"),
    (
        "request.oldObject.spec",
        "request.oldObject.spec.template.spec",
    ),
    (
        "request.object.metadata",
        "request.object.spec.template.metadata",
    ),
    (
        "request.oldObject.metadata",
        "request.oldObject.spec.template.metadata",
    ),
];

const CRONJOB_REPLACEMENTS: [(&str, &str); 4] = [
    (
        "request.object.spec",
        "request.object.spec.jobTemplate.spec.template.spec",
    ),
    (
        "request.oldObject.spec",
        "request.oldObject.spec.jobTemplate.spec.template.spec",
    ),
    (
        "request.object.metadata",
        "request.object.spec.jobTemplate.spec.template.metadata",
    ),
    (
        "request.oldObject.metadata",
        "request.oldObject.spec.jobTemplate.spec.template.metadata",
    ),
];

/// Kyverno rewrites variables by replacing text in the JSON-serialised rule;
/// doing the same (keys included) keeps odd cases identical.
fn convert(rule: Rule, replacements: &[(&str, &str)]) -> Rule {
    let Ok(mut text) = serde_json::to_string(&rule) else {
        return rule;
    };
    if !text.contains("request.") {
        return rule;
    }
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap_or(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> PolicySpec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn names(rules: &[Rule]) -> Vec<&str> {
        rules.iter().map(|r| r.name.as_str()).collect()
    }

    const POD_PATTERN: &str = "rules:\n- name: check\n  match:\n    any:\n    - resources:\n        kinds: [Pod]\n  validate:\n    message: \"{{ request.object.metadata.name }}\"\n    pattern:\n      spec:\n        containers:\n        - image: \"!*:latest\"\n";

    #[test]
    fn pod_rule_expands_to_controllers_and_cronjob() {
        let s = spec(POD_PATTERN);
        let rules = compute_rules(&s, &BTreeMap::new());
        assert_eq!(
            names(&rules),
            vec!["check", "autogen-check", "autogen-cronjob-check"]
        );
        let ctrl = &rules[1];
        assert_eq!(
            ctrl.match_.any[0].resources.as_ref().unwrap().kinds,
            vec![
                "DaemonSet",
                "Deployment",
                "Job",
                "ReplicaSet",
                "ReplicationController",
                "StatefulSet"
            ]
        );
        let pattern = ctrl.validate.as_ref().unwrap().pattern.as_ref().unwrap();
        assert_eq!(
            pattern["spec"]["template"]["spec"]["containers"][0]["image"],
            "!*:latest"
        );
        assert_eq!(
            ctrl.validate.as_ref().unwrap().message.as_deref(),
            Some("{{ request.object.spec.template.metadata.name }}")
        );
        let cron = &rules[2];
        assert_eq!(
            cron.match_.any[0].resources.as_ref().unwrap().kinds,
            vec!["CronJob"]
        );
        let pattern = cron.validate.as_ref().unwrap().pattern.as_ref().unwrap();
        assert_eq!(
            pattern["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"],
            "!*:latest"
        );
        assert_eq!(
            cron.validate.as_ref().unwrap().message.as_deref(),
            Some("{{ request.object.spec.jobTemplate.spec.template.metadata.name }}")
        );
    }

    #[test]
    fn annotation_selects_controllers() {
        let s = spec(POD_PATTERN);
        let mut ann = BTreeMap::new();
        ann.insert(CONTROLLERS_ANNOTATION.to_string(), "Deployment".to_string());
        let rules = compute_rules(&s, &ann);
        assert_eq!(names(&rules), vec!["check", "autogen-check"]);
        assert_eq!(
            rules[1].match_.any[0].resources.as_ref().unwrap().kinds,
            vec!["Deployment"]
        );
        ann.insert(CONTROLLERS_ANNOTATION.to_string(), "none".to_string());
        assert_eq!(names(&compute_rules(&s, &ann)), vec!["check"]);
        ann.insert(CONTROLLERS_ANNOTATION.to_string(), "CronJob".to_string());
        assert_eq!(
            names(&compute_rules(&s, &ann)),
            vec!["check", "autogen-cronjob-check"]
        );
    }

    #[test]
    fn name_or_selector_or_mixed_kinds_disable_autogen() {
        let s = spec(&POD_PATTERN.replace("kinds: [Pod]", "kinds: [Pod, Service]"));
        assert_eq!(names(&compute_rules(&s, &BTreeMap::new())), vec!["check"]);
        let s = spec(&POD_PATTERN.replace("kinds: [Pod]", "kinds: [Pod]\n        names: [x]"));
        assert_eq!(names(&compute_rules(&s, &BTreeMap::new())), vec!["check"]);
    }

    #[test]
    fn json6902_and_generate_disable_autogen() {
        let s = spec(
            "rules:\n- name: m\n  match:\n    resources:\n      kinds: [Pod]\n  mutate:\n    patchesJson6902: \"- op: add\\n  path: /x\\n  value: 1\"\n",
        );
        assert_eq!(names(&compute_rules(&s, &BTreeMap::new())), vec!["m"]);
    }

    #[test]
    fn long_names_are_cut_to_63() {
        let long = "a".repeat(70);
        let s = spec(&POD_PATTERN.replace("name: check", &format!("name: {long}")));
        let rules = compute_rules(&s, &BTreeMap::new());
        assert_eq!(rules[1].name.len(), 63);
        assert!(rules[2].name.starts_with("autogen-cronjob-aaa"));
    }

    #[test]
    fn deny_and_foreach_lists_are_rewritten() {
        let s = spec(
            "rules:\n- name: d\n  match:\n    any:\n    - resources:\n        kinds: [Pod]\n  validate:\n    foreach:\n    - list: request.object.spec.containers\n      deny:\n        conditions:\n          any:\n          - key: \"{{ element.name }}\"\n            operator: Equals\n            value: x\n",
        );
        let rules = compute_rules(&s, &BTreeMap::new());
        let fe = rules[1]
            .validate
            .as_ref()
            .unwrap()
            .foreach
            .as_ref()
            .unwrap();
        assert_eq!(fe[0].list, "request.object.spec.template.spec.containers");
        let fe = rules[2]
            .validate
            .as_ref()
            .unwrap()
            .foreach
            .as_ref()
            .unwrap();
        assert_eq!(
            fe[0].list,
            "request.object.spec.jobTemplate.spec.template.spec.containers"
        );
    }

    #[test]
    fn mutate_overlay_is_wrapped() {
        let s = spec(
            "rules:\n- name: m\n  match:\n    any:\n    - resources:\n        kinds: [Pod]\n  mutate:\n    patchStrategicMerge:\n      metadata:\n        labels:\n          a: b\n",
        );
        let rules = compute_rules(&s, &BTreeMap::new());
        let psm = rules[1]
            .mutate
            .as_ref()
            .unwrap()
            .patch_strategic_merge
            .as_ref()
            .unwrap();
        assert_eq!(psm["spec"]["template"]["metadata"]["labels"]["a"], "b");
    }
}
