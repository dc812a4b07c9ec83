//! `match` / `exclude` evaluation (Kyverno's `pkg/engine/utils/match.go` and
//! `pkg/utils/match`): kinds with group/version/subresource and wildcards,
//! names, namespaces, annotations, label and namespace selectors, operations,
//! and the user criteria (subjects, roles, clusterRoles).
//!
//! When the request carries no user information at all (the CLI without a
//! userinfo file) the user criteria of `match` filters are ignored, while in
//! `exclude` filters they can then never hold, as in Kyverno.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::engine::{Operation, UserInfo};
use crate::model::{
    LabelSelector, MatchResources, ResourceDescription, ResourceFilter, Rule, Subject,
};
use crate::wildcard;

/// What a match is decided on: the object under evaluation and the request
/// around it.
#[derive(Debug, Clone, Copy)]
pub struct MatchTarget<'a> {
    /// The object (the new object, or the old one on DELETE).
    pub resource: &'a Value,
    /// The admission operation.
    pub operation: Operation,
    /// The subresource of the request (empty for the object itself).
    pub subresource: &'a str,
    /// The requester; `None` or an all-empty value means "unknown".
    pub user_info: Option<&'a UserInfo>,
    /// Labels of the object's namespace.
    pub namespace_labels: Option<&'a Map<String, Value>>,
}

impl MatchTarget<'_> {
    fn has_user_info(&self) -> bool {
        self.user_info.is_some_and(|u| {
            !u.roles.is_empty()
                || !u.cluster_roles.is_empty()
                || match &u.user_info {
                    Value::Null => false,
                    Value::Object(m) => m.values().any(|v| match v {
                        Value::Null => false,
                        Value::String(s) => !s.is_empty(),
                        Value::Array(a) => !a.is_empty(),
                        Value::Object(o) => !o.is_empty(),
                        _ => true,
                    }),
                    _ => true,
                }
        })
    }
}

/// Whether `rule` applies to the target: a positive match and no exclusion.
/// `policy_namespace` is set for a namespaced `Policy`, which only ever
/// matches objects in its own namespace.
pub fn rule_matches(rule: &Rule, policy_namespace: Option<&str>, target: &MatchTarget<'_>) -> bool {
    if let Some(ns) = policy_namespace
        && str_at(target.resource, &["metadata", "namespace"]) != ns
    {
        return false;
    }
    if !matches_block(&rule.match_, target) {
        return false;
    }
    match &rule.exclude {
        Some(ex) => !excluded(ex, target),
        None => true,
    }
}

/// The positive side of `match`.
pub fn matches_block(m: &MatchResources, target: &MatchTarget<'_>) -> bool {
    if !m.any.is_empty() {
        m.any.iter().any(|f| match_filter(f, target))
    } else if !m.all.is_empty() {
        m.all.iter().all(|f| match_filter(f, target))
    } else {
        match_filter(&m.legacy, target)
    }
}

/// Whether `exclude` removes the target.
pub fn excluded(ex: &MatchResources, target: &MatchTarget<'_>) -> bool {
    if !ex.any.is_empty() {
        ex.any.iter().any(|f| exclude_filter(f, target))
    } else if !ex.all.is_empty() {
        ex.all.iter().all(|f| exclude_filter(f, target))
    } else {
        exclude_filter(&ex.legacy, target)
    }
}

fn match_filter(filter: &ResourceFilter, target: &MatchTarget<'_>) -> bool {
    let ignore_user = !target.has_user_info();
    let empty = ResourceDescription::default();
    let resources = filter.resources.as_ref().unwrap_or(&empty);
    let user_set = filter.has_user_criteria() && !ignore_user;
    if resources.is_empty() && !user_set {
        // Kyverno: "match cannot be empty".
        return false;
    }
    resources_match(resources, target) && (!user_set || user_matches(filter, target))
}

fn exclude_filter(filter: &ResourceFilter, target: &MatchTarget<'_>) -> bool {
    if filter.is_empty() {
        return false;
    }
    let empty = ResourceDescription::default();
    let resources = filter.resources.as_ref().unwrap_or(&empty);
    resources_match(resources, target)
        && (!filter.has_user_criteria() || user_matches(filter, target))
}

/// Splits `apiVersion` into group and version.
fn group_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

fn is_version(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits_end == 0 {
        return false;
    }
    let tail = &rest[digits_end..];
    if tail.is_empty() {
        return true;
    }
    for pre in ["alpha", "beta"] {
        if let Some(n) = tail.strip_prefix(pre) {
            return !n.is_empty() && n.chars().all(|c| c.is_ascii_digit());
        }
    }
    false
}

/// A kind selector split into (group, version, kind, subresource), each
/// possibly a wildcard; as Kyverno's `ParseKindSelector`.
pub fn parse_kind_selector<'a>(input: &'a str) -> (&'a str, &'a str, &'a str, &'a str) {
    // Up to four parts: the `/`-separated components, the last one split once
    // at `.` (kind.subresource). More parts than that select nothing.
    let mut parts: [&str; 4] = [""; 4];
    let mut n = 0;
    let (head, last) = match input.rsplit_once('/') {
        Some((h, l)) => (Some(h), l),
        None => (None, input),
    };
    let mut push = |p: &'a str| {
        if n < parts.len() {
            parts[n] = p;
        }
        n += 1;
    };
    if let Some(h) = head {
        h.split('/').for_each(&mut push);
    }
    last.splitn(2, '.').for_each(&mut push);
    if n > parts.len() {
        return ("", "", "", "");
    }
    match &parts[..n] {
        [k] => ("*", "*", k, ""),
        ["*", "*"] => ("*", "*", "*", "*"),
        ["*", sub] if sub.to_lowercase() == *sub => ("*", "*", "*", sub),
        [v, k] if is_version(v) => ("*", v, k, ""),
        [k, sub] => ("*", "*", k, sub),
        [v, k, sub] if is_version(v) => ("*", v, k, sub),
        [g, v, k] => (g, v, k, ""),
        [g, v, k, sub] => (g, v, k, sub),
        _ => ("", "", "", ""),
    }
}

/// Whether any kind selector selects the object's group/version/kind and subresource.
pub fn kind_matches(kinds: &[String], api_version: &str, kind: &str, subresource: &str) -> bool {
    let (group, version) = group_version(api_version);
    kinds.iter().any(|k| {
        let (g, v, kk, sub) = parse_kind_selector(k);
        if !(wildcard::matches(g, group)
            && wildcard::matches(v, version)
            && wildcard::matches(kk, kind))
        {
            return false;
        }
        if sub.is_empty() {
            subresource.is_empty()
        } else {
            wildcard::matches(sub, subresource)
                || (group.is_empty()
                    && version == "v1"
                    && kind == "Pod"
                    && subresource == "ephemeralcontainers")
        }
    }) || (kind == "Pod"
        && subresource == "ephemeralcontainers"
        && kinds.iter().any(|k| {
            let (g, v, kk, sub) = parse_kind_selector(k);
            sub.is_empty()
                && wildcard::matches(g, "")
                && wildcard::matches(v, "v1")
                && wildcard::matches(kk, "Pod")
        }))
}

/// The kinds a `match` block can select at most (kind names only, group and
/// version aside), or `None` when some filter admits any kind (no kinds, a
/// wildcard kind, or user criteria alone). Used to reject a rule by the
/// object's kind before the full match; never narrower than [`matches_block`].
pub fn possible_kinds(m: &MatchResources) -> Option<Vec<String>> {
    let filter_kinds = |f: &ResourceFilter| -> Option<Vec<String>> {
        let kinds = &f.resources.as_ref()?.kinds;
        if kinds.is_empty() {
            return None;
        }
        kinds
            .iter()
            .map(|k| {
                let (_, _, kind, _) = parse_kind_selector(k);
                (!wildcard::contains_wildcard(kind)).then(|| kind.to_string())
            })
            .collect()
    };
    if !m.any.is_empty() {
        let mut out = Vec::new();
        for f in &m.any {
            out.extend(filter_kinds(f)?);
        }
        Some(out)
    } else if !m.all.is_empty() {
        // Every filter must hold, so any one that names kinds bounds the rule.
        m.all.iter().find_map(filter_kinds)
    } else {
        filter_kinds(&m.legacy)
    }
}

/// The string under a path of object keys, `""` when absent (no JSON pointer
/// parsing: this runs for every rule and resource).
fn str_at<'a>(v: &'a Value, keys: &[&str]) -> &'a str {
    keys.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn resources_match(rd: &ResourceDescription, target: &MatchTarget<'_>) -> bool {
    let res = target.resource;
    let kind = str_at(res, &["kind"]);
    if !rd.kinds.is_empty()
        && !kind_matches(
            &rd.kinds,
            str_at(res, &["apiVersion"]),
            kind,
            target.subresource,
        )
    {
        return false;
    }
    let mut name = str_at(res, &["metadata", "name"]);
    if name.is_empty() {
        name = str_at(res, &["metadata", "generateName"]);
    }
    if !rd.name.is_empty() && !wildcard::matches(&rd.name, name) {
        return false;
    }
    if !rd.names.is_empty() && !rd.names.iter().any(|n| wildcard::matches(n, name)) {
        return false;
    }
    if !rd.namespaces.is_empty() {
        let ns = if kind == "Namespace" {
            str_at(res, &["metadata", "name"])
        } else {
            str_at(res, &["metadata", "namespace"])
        };
        if !rd.namespaces.iter().any(|p| wildcard::matches(p, ns)) {
            return false;
        }
    }
    if let Some(ann) = &rd.annotations
        && !ann.is_empty()
    {
        let actual = res
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object);
        let ok = ann.iter().all(|(k, v)| {
            actual.is_some_and(|m| {
                m.iter().any(|(ak, av)| {
                    wildcard::matches(k, ak) && av.as_str().is_some_and(|s| wildcard::matches(v, s))
                })
            })
        });
        if !ok {
            return false;
        }
    }
    if let Some(sel) = &rd.selector {
        let labels = res
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        if !selector_matches(sel, labels) {
            return false;
        }
    }
    if let Some(sel) = &rd.namespace_selector
        && kind != "Namespace"
        && !kind.is_empty()
        && !selector_matches(sel, target.namespace_labels)
    {
        return false;
    }
    if !rd.operations.is_empty()
        && !rd
            .operations
            .iter()
            .any(|o| o.eq_ignore_ascii_case(target.operation.as_str()))
    {
        return false;
    }
    true
}

/// A Kubernetes label selector, with Kyverno's wildcard keys/values in `matchLabels`.
pub fn selector_matches(sel: &LabelSelector, labels: Option<&Map<String, Value>>) -> bool {
    let empty = Map::new();
    let labels = labels.unwrap_or(&empty);
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    if let Some(ml) = &sel.match_labels {
        for (k, v) in ml {
            let ok = if wildcard::contains_wildcard(k) || wildcard::contains_wildcard(v) {
                labels.iter().any(|(lk, lv)| {
                    wildcard::matches(k, lk) && lv.as_str().is_some_and(|s| wildcard::matches(v, s))
                })
            } else {
                get(k) == Some(v.as_str())
            };
            if !ok {
                return false;
            }
        }
    }
    for req in &sel.match_expressions {
        let value = get(&req.key);
        let ok = match req.operator.as_str() {
            "In" => value.is_some_and(|v| req.values.iter().any(|x| x == v)),
            "NotIn" => value.is_none_or(|v| !req.values.iter().any(|x| x == v)),
            "Exists" => labels.contains_key(&req.key),
            "DoesNotExist" => !labels.contains_key(&req.key),
            // An invalid selector matches nothing (Kyverno reports a parse error).
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn user_matches(filter: &ResourceFilter, target: &MatchTarget<'_>) -> bool {
    let empty = UserInfo::default();
    let user = target.user_info.unwrap_or(&empty);
    if !filter.roles.is_empty() && !user.roles.iter().any(|r| filter.roles.contains(r)) {
        return false;
    }
    if !filter.cluster_roles.is_empty()
        && !user
            .cluster_roles
            .iter()
            .any(|r| filter.cluster_roles.contains(r))
    {
        return false;
    }
    if !filter.subjects.is_empty() && !subjects_match(&filter.subjects, &user.user_info) {
        return false;
    }
    true
}

fn subjects_match(subjects: &[Subject], user_info: &Value) -> bool {
    let username = str_at(user_info, &["username"]);
    let groups: Vec<&str> = user_info
        .get("groups")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    subjects.iter().any(|s| match s.kind.as_str() {
        "ServiceAccount" => {
            let expected = format!("system:serviceaccount:{}:{}", s.namespace, s.name);
            wildcard::matches(&expected, username)
        }
        "User" => wildcard::matches(&s.name, username),
        "Group" => groups.iter().any(|g| wildcard::matches(&s.name, g)),
        _ => false,
    })
}

/// Labels of a namespace object, for callers that build `namespace_labels`.
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(yaml: &str) -> Rule {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn target<'a>(
        res: &'a Value,
        op: Operation,
        user: Option<&'a UserInfo>,
        ns: Option<&'a Map<String, Value>>,
    ) -> MatchTarget<'a> {
        MatchTarget {
            resource: res,
            operation: op,
            subresource: "",
            user_info: user,
            namespace_labels: ns,
        }
    }

    fn check(rule_yaml: &str, resource: Value, expected: bool) {
        let r = rule(rule_yaml);
        let t = target(&resource, Operation::Create, None, None);
        assert_eq!(
            rule_matches(&r, None, &t),
            expected,
            "rule:\n{rule_yaml}\nresource: {resource}"
        );
    }

    fn pod(name: &str, ns: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"app": "web", "tier": "front"}}})
    }

    #[test]
    fn kinds_with_group_version_and_wildcards() {
        let deploy =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
        assert!(kind_matches(
            &["Deployment".into()],
            "apps/v1",
            "Deployment",
            ""
        ));
        assert!(kind_matches(
            &["apps/v1/Deployment".into()],
            "apps/v1",
            "Deployment",
            ""
        ));
        assert!(kind_matches(
            &["apps/*/Deployment".into()],
            "apps/v1",
            "Deployment",
            ""
        ));
        assert!(kind_matches(&["v1/Pod".into()], "v1", "Pod", ""));
        assert!(!kind_matches(
            &["v1/Pod".into()],
            "apps/v1",
            "Deployment",
            ""
        ));
        assert!(kind_matches(&["*".into()], "v1", "Pod", ""));
        assert!(!kind_matches(&["Pod".into()], "v1", "Pod", "status"));
        assert!(kind_matches(&["Pod/status".into()], "v1", "Pod", "status"));
        assert!(kind_matches(&["Pod.status".into()], "v1", "Pod", "status"));
        assert!(kind_matches(
            &["Pod".into()],
            "v1",
            "Pod",
            "ephemeralcontainers"
        ));
        assert!(!kind_matches(
            &["batch/v1/Job".into()],
            "apps/v1",
            "Deployment",
            ""
        ));
        check(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [apps/v1/Deployment]\n",
            deploy,
            true,
        );
    }

    #[test]
    fn names_namespaces_and_selectors() {
        check(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\n      names: [\"we*\"]\n",
            pod("web", "a"),
            true,
        );
        check(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\n      names: [\"db\"]\n",
            pod("web", "a"),
            false,
        );
        check(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\n      namespaces: [\"prod-*\"]\n",
            pod("web", "prod-1"),
            true,
        );
        check(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\n      namespaces: [\"prod-*\"]\n",
            pod("web", "dev"),
            false,
        );
        check(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\n      selector:\n        matchLabels:\n          app: \"w*\"\n",
            pod("web", "a"),
            true,
        );
        check(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\n      selector:\n        matchExpressions:\n        - key: tier\n          operator: NotIn\n          values: [front]\n",
            pod("web", "a"),
            false,
        );
    }

    #[test]
    fn namespace_object_matches_on_its_own_name() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}});
        check(
            "name: r\nmatch:\n  resources:\n    kinds: [Namespace]\n    namespaces: [prod]\n",
            ns,
            true,
        );
    }

    #[test]
    fn any_all_and_exclude() {
        check(
            "name: r\nmatch:\n  all:\n  - resources:\n      kinds: [Pod]\n  - resources:\n      namespaces: [a]\n",
            pod("web", "a"),
            true,
        );
        check(
            "name: r\nmatch:\n  all:\n  - resources:\n      kinds: [Pod]\n  - resources:\n      namespaces: [b]\n",
            pod("web", "a"),
            false,
        );
        check(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\nexclude:\n  any:\n  - resources:\n      namespaces: [kube-system]\n",
            pod("web", "kube-system"),
            false,
        );
        check(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\nexclude:\n  all:\n  - resources:\n      namespaces: [a]\n  - resources:\n      names: [db]\n",
            pod("web", "a"),
            true,
        );
    }

    #[test]
    fn operations() {
        let r = rule(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\n      operations: [UPDATE]\n",
        );
        let p = pod("web", "a");
        assert!(!rule_matches(
            &r,
            None,
            &target(&p, Operation::Create, None, None)
        ));
        assert!(rule_matches(
            &r,
            None,
            &target(&p, Operation::Update, None, None)
        ));
    }

    #[test]
    fn user_criteria_ignored_without_user_info_in_match_only() {
        let r = rule(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\n    subjects:\n    - kind: User\n      name: alice\nexclude:\n  any:\n  - clusterRoles: [cluster-admin]\n",
        );
        let p = pod("web", "a");
        assert!(rule_matches(
            &r,
            None,
            &target(&p, Operation::Create, None, None)
        ));
        let bob = UserInfo {
            user_info: json!({"username": "bob"}),
            ..UserInfo::default()
        };
        assert!(!rule_matches(
            &r,
            None,
            &target(&p, Operation::Create, Some(&bob), None)
        ));
        let alice_admin = UserInfo {
            user_info: json!({"username": "alice"}),
            cluster_roles: vec!["cluster-admin".into()],
            ..UserInfo::default()
        };
        assert!(!rule_matches(
            &r,
            None,
            &target(&p, Operation::Create, Some(&alice_admin), None)
        ));
        let alice = UserInfo {
            user_info: json!({"username": "alice"}),
            ..UserInfo::default()
        };
        assert!(rule_matches(
            &r,
            None,
            &target(&p, Operation::Create, Some(&alice), None)
        ));
    }

    #[test]
    fn namespace_selector_uses_namespace_labels() {
        let r = rule(
            "name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\n      namespaceSelector:\n        matchLabels:\n          env: prod\n",
        );
        let p = pod("web", "a");
        let mut labels = Map::new();
        labels.insert("env".into(), json!("prod"));
        assert!(rule_matches(
            &r,
            None,
            &target(&p, Operation::Create, None, Some(&labels))
        ));
        assert!(!rule_matches(
            &r,
            None,
            &target(&p, Operation::Create, None, None)
        ));
    }

    #[test]
    fn namespaced_policy_only_matches_its_namespace() {
        let r = rule("name: r\nmatch:\n  any:\n  - resources:\n      kinds: [Pod]\n");
        let p = pod("web", "a");
        assert!(rule_matches(
            &r,
            Some("a"),
            &target(&p, Operation::Create, None, None)
        ));
        assert!(!rule_matches(
            &r,
            Some("b"),
            &target(&p, Operation::Create, None, None)
        ));
    }

    #[test]
    fn empty_filter_never_matches() {
        check(
            "name: r\nmatch:\n  any:\n  - subjects:\n    - kind: User\n      name: x\n",
            pod("web", "a"),
            false,
        );
    }
}
