//! Recognising policy documents, deserialising them and checking them the way
//! Kyverno's policy validation does before the engine ever sees them.

// Errors carry file, policy, rule and path for the user; they happen once per
// load, so their size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use slipway_model::{Document, SourceLocation};

use super::{
    ForEachMutation, ForEachValidation, LoadedPolicy, Policy, PolicyError, PolicyKind, PolicySpec,
    Rule,
};

/// Loads every policy document of `docs`. Documents that are not policies are
/// ignored. The first policy Kyverno would reject is returned as an error; use
/// [`load_policies_lenient`] to keep going (as `kyverno test` does).
pub fn load_policies(docs: &[Document]) -> Result<Vec<LoadedPolicy>, PolicyError> {
    let mut out = Vec::new();
    for doc in docs {
        match load_policy(doc) {
            Some(LoadedPolicy::Invalid { error, .. }) => return Err(*error),
            Some(p) => out.push(p),
            None => {}
        }
    }
    Ok(out)
}

/// Like [`load_policies`], but an invalid policy becomes
/// [`LoadedPolicy::Invalid`] instead of stopping the load.
pub fn load_policies_lenient(docs: &[Document]) -> Vec<LoadedPolicy> {
    docs.iter().filter_map(load_policy).collect()
}

/// Loads one document; `None` when it is not a policy at all.
pub fn load_policy(doc: &Document) -> Option<LoadedPolicy> {
    let obj = &doc.object;
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let group = api_version.split_once('/').map(|(g, _)| g).unwrap_or("");
    let unsupported = |reason: String| LoadedPolicy::Unsupported {
        kind: kind.to_string(),
        name: name.clone(),
        reason,
        source: doc.source.clone(),
    };
    match (group, kind) {
        ("kyverno.io", "ClusterPolicy" | "Policy") => {}
        ("policies.kyverno.io", _) => {
            return Some(unsupported(format!(
                "{kind} ({api_version}) is a CEL policy kind, which this engine does not evaluate yet"
            )));
        }
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicy" | "MutatingAdmissionPolicy",
        ) => {
            return Some(unsupported(format!(
                "{kind} is a CEL admission policy, which this engine does not evaluate yet"
            )));
        }
        _ => return None,
    }
    let policy_kind = if kind == "Policy" {
        PolicyKind::Policy
    } else {
        PolicyKind::ClusterPolicy
    };
    let invalid =
        |path: String, rule: Option<String>, message: String, hint: &str| LoadedPolicy::Invalid {
            name: name.clone(),
            error: Box::new(PolicyError {
                location: doc.source.clone(),
                policy: name.clone(),
                rule,
                path,
                message,
                hint: hint.to_string(),
            }),
        };
    let spec_value = obj.get("spec").cloned().unwrap_or(Value::Null);
    if !spec_value.is_object() {
        return Some(invalid(
            "spec".into(),
            None,
            "spec is missing or not a map".into(),
            "a ClusterPolicy needs `spec.rules`",
        ));
    }
    // Find a rule that does not deserialise first, so the error can name it.
    if let Some(rules) = spec_value.get("rules").and_then(Value::as_array) {
        for (i, r) in rules.iter().enumerate() {
            if let Err(e) = serde_json::from_value::<Rule>(r.clone()) {
                let rname = r.get("name").and_then(Value::as_str).map(str::to_string);
                return Some(invalid(
                    format!("spec.rules[{i}]"),
                    rname,
                    format!("rule cannot be read: {e}"),
                    "check the field types against the kyverno.io/v1 ClusterPolicy schema",
                ));
            }
        }
    }
    let spec: PolicySpec = match serde_json::from_value(spec_value) {
        Ok(s) => s,
        Err(e) => {
            return Some(invalid(
                "spec".into(),
                None,
                format!("spec cannot be read: {e}"),
                "check the field types against the kyverno.io/v1 ClusterPolicy schema",
            ));
        }
    };
    if let Some((i, r)) = spec
        .rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.validate.as_ref().is_some_and(|v| v.cel.is_some()))
    {
        return Some(unsupported(format!(
            "rule {:?} (spec.rules[{i}]) uses validate.cel, which this engine does not evaluate yet",
            r.name
        )));
    }
    let annotations: BTreeMap<String, String> = obj
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let namespace = match policy_kind {
        PolicyKind::Policy => Some(
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("default")
                .to_string(),
        ),
        PolicyKind::ClusterPolicy => None,
    };
    if let Err(e) = check_spec(&spec, &name, &doc.source) {
        return Some(LoadedPolicy::Invalid {
            name,
            error: Box::new(e),
        });
    }
    let rules = crate::autogen::compute_rules(&spec, &annotations);
    // Compile condition blocks and patterns now rather than on the first request.
    for r in &rules {
        r.compiled.get(r);
    }
    Some(LoadedPolicy::Kyverno(Box::new(Policy {
        kind: policy_kind,
        name,
        namespace,
        annotations,
        spec,
        rules,
        source: doc.source.clone(),
    })))
}

/// Condition operators Kyverno accepts (compared case-insensitively).
const OPERATORS: &[&str] = &[
    "equals",
    "equal",
    "notequals",
    "notequal",
    "in",
    "anyin",
    "allin",
    "notin",
    "anynotin",
    "allnotin",
    "greaterthan",
    "greaterthanorequals",
    "lessthan",
    "lessthanorequals",
    "durationgreaterthan",
    "durationgreaterthanorequals",
    "durationlessthan",
    "durationlessthanorequals",
];

/// Variables only an admission request carries; forbidden when `background` is on.
const USER_VARIABLES: &[&str] = &[
    "request.userInfo",
    "request.roles",
    "request.clusterRoles",
    "serviceAccountName",
    "serviceAccountNamespace",
];

struct Checker<'a> {
    policy: &'a str,
    location: &'a SourceLocation,
    rule: Option<String>,
}

impl Checker<'_> {
    fn err(&self, path: String, message: String, hint: &str) -> PolicyError {
        PolicyError {
            location: self.location.clone(),
            policy: self.policy.to_string(),
            rule: self.rule.clone(),
            path,
            message,
            hint: hint.to_string(),
        }
    }

    /// Checks a condition block (`{any, all}` or a list) at `path`.
    fn conditions(&self, value: &Value, path: &str) -> Result<(), PolicyError> {
        match value {
            Value::Null => Ok(()),
            Value::Array(items) => self.condition_list(items, path),
            Value::Object(map) => {
                for (key, v) in map {
                    match key.as_str() {
                        "any" | "all" => match v {
                            Value::Array(items) => {
                                self.condition_list(items, &format!("{path}.{key}"))?
                            }
                            Value::Null => {}
                            _ => {
                                return Err(self.err(
                                    format!("{path}.{key}"),
                                    "expected a list of conditions".into(),
                                    "write `any:`/`all:` as a list of {key, operator, value}",
                                ));
                            }
                        },
                        _ => {
                            return Err(self.err(
                                format!("{path}.{key}"),
                                format!("unknown condition block {key:?}"),
                                "conditions are written under `any:` or `all:`",
                            ));
                        }
                    }
                }
                Ok(())
            }
            _ => Err(self.err(
                path.to_string(),
                "expected `any`/`all` blocks or a list of conditions".into(),
                "write conditions as {any: [...]} or {all: [...]}",
            )),
        }
    }

    fn condition_list(&self, items: &[Value], path: &str) -> Result<(), PolicyError> {
        for (i, c) in items.iter().enumerate() {
            let op = c.get("operator").and_then(Value::as_str).unwrap_or("");
            if !OPERATORS.contains(&op.to_ascii_lowercase().as_str()) {
                return Err(self.err(
                    format!("{path}[{i}].operator"),
                    format!("unknown condition operator {op:?}"),
                    "use one of Equals, NotEquals, AnyIn, AllIn, AnyNotIn, AllNotIn, GreaterThan, \
                     GreaterThanOrEquals, LessThan, LessThanOrEquals, DurationGreaterThan, ...",
                ));
            }
        }
        Ok(())
    }

    fn foreach_validation(
        &self,
        loops: &[ForEachValidation],
        path: &str,
    ) -> Result<(), PolicyError> {
        for (i, l) in loops.iter().enumerate() {
            let p = format!("{path}[{i}]");
            self.expression(&l.list, &format!("{p}.list"))?;
            if let Some(pre) = &l.preconditions {
                self.conditions(pre, &format!("{p}.preconditions"))?;
            }
            if let Some(c) = l.deny.as_ref().and_then(|d| d.conditions.as_ref()) {
                self.conditions(c, &format!("{p}.deny.conditions"))?;
            }
            if let Some(nested) = &l.foreach {
                self.foreach_validation(nested, &format!("{p}.foreach"))?;
            }
        }
        Ok(())
    }

    fn foreach_mutation(&self, loops: &[ForEachMutation], path: &str) -> Result<(), PolicyError> {
        for (i, l) in loops.iter().enumerate() {
            let p = format!("{path}[{i}]");
            self.expression(&l.list, &format!("{p}.list"))?;
            if let Some(pre) = &l.preconditions {
                self.conditions(pre, &format!("{p}.preconditions"))?;
            }
            if let Some(nested) = &l.foreach {
                self.foreach_mutation(nested, &format!("{p}.foreach"))?;
            }
        }
        Ok(())
    }

    /// A braceless JMESPath expression (a foreach `list`) must parse.
    fn expression(&self, expr: &str, path: &str) -> Result<(), PolicyError> {
        let trimmed = expr.trim();
        let inner = trimmed
            .strip_prefix("{{")
            .and_then(|s| s.strip_suffix("}}"))
            .unwrap_or(trimmed);
        if inner.trim().is_empty() {
            return Err(self.err(
                path.to_string(),
                "empty JMESPath expression".into(),
                "give the list to iterate, e.g. `request.object.spec.containers`",
            ));
        }
        if let Err(e) = jmespath::compile(inner.trim()) {
            return Err(self.err(
                path.to_string(),
                format!(
                    "invalid JMESPath expression {inner:?}: {}",
                    first_line(&e.to_string())
                ),
                "fix the expression syntax (see https://jmespath.org/specification.html)",
            ));
        }
        Ok(())
    }

    /// Every `{{ }}` inside string values (and keys) of `value` must parse.
    fn variables(&self, value: &Value, path: &str) -> Result<(), PolicyError> {
        match value {
            Value::String(s) => self.variables_in_str(s, path),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    self.variables(v, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let p = format!("{path}.{k}");
                    self.variables_in_str(k, &p)?;
                    self.variables(v, &p)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn variables_in_str(&self, s: &str, path: &str) -> Result<(), PolicyError> {
        for expr in innermost_variables(s) {
            let e = expr.trim().trim_start_matches('-').trim();
            // `@` and values that still hold a nested `{{` are resolved at run time.
            if e.is_empty() || e == "@" || e.contains("{{") {
                continue;
            }
            if let Err(err) = jmespath::compile(e) {
                return Err(self.err(
                    path.to_string(),
                    format!("invalid JMESPath expression {e:?} in variable: {}", first_line(&err.to_string())),
                    "fix the expression inside `{{ }}` (see https://jmespath.org/specification.html)",
                ));
            }
        }
        Ok(())
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The expressions of `{{ ... }}` variables in `s` that contain no nested
/// `{{` (nested ones are only known after the inner ones are substituted).
/// Escaped `\{{` are skipped.
pub(crate) fn innermost_variables(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'{' && bytes[i + 1] == b'{' && (i == 0 || bytes[i - 1] != b'\\') {
            let start = i + 2;
            // Find the matching close, restarting at any nested open.
            let mut j = start;
            let mut nested_open = None;
            while j + 1 < bytes.len() {
                if bytes[j] == b'{' && bytes[j + 1] == b'{' {
                    nested_open = Some(j);
                    break;
                }
                if bytes[j] == b'}' && bytes[j + 1] == b'}' {
                    break;
                }
                j += 1;
            }
            if let Some(n) = nested_open {
                i = n;
                continue;
            }
            if j + 1 < bytes.len() {
                out.push(&s[start..j]);
                i = j + 2;
                continue;
            }
            break;
        }
        i += 1;
    }
    out
}

/// Whether a variable expression reads request user information.
fn uses_user_variable(expr: &str) -> Option<&'static str> {
    for var in USER_VARIABLES {
        let mut from = 0;
        while let Some(pos) = expr[from..].find(var) {
            let at = from + pos;
            let before = expr[..at].chars().next_back();
            let after = expr[at + var.len()..].chars().next();
            let boundary_before =
                before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
            let boundary_after = after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if boundary_before && boundary_after {
                return Some(var);
            }
            from = at + var.len();
        }
    }
    None
}

fn find_user_variable(value: &Value, path: &str) -> Option<(String, &'static str)> {
    match value {
        Value::String(s) => innermost_variables(s)
            .into_iter()
            .find_map(uses_user_variable)
            .map(|v| (path.to_string(), v)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_user_variable(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| find_user_variable(v, &format!("{path}.{k}"))),
        _ => None,
    }
}

fn check_spec(
    spec: &PolicySpec,
    policy: &str,
    location: &SourceLocation,
) -> Result<(), PolicyError> {
    let mut checker = Checker {
        policy,
        location,
        rule: None,
    };
    if spec.rules.is_empty() {
        return Err(checker.err(
            "spec.rules".into(),
            "the policy has no rules".into(),
            "add at least one rule",
        ));
    }
    let background = spec.background.unwrap_or(true);
    let mut names = BTreeSet::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        checker.rule = Some(rule.name.clone());
        let path = format!("spec.rules[{i}]");
        if rule.name.is_empty() {
            return Err(checker.err(
                format!("{path}.name"),
                "rule has no name".into(),
                "give every rule a unique name",
            ));
        }
        if !names.insert(rule.name.as_str()) {
            return Err(checker.err(
                format!("{path}.name"),
                format!("duplicate rule name {:?}", rule.name),
                "give every rule a unique name",
            ));
        }
        let bodies = [
            rule.validate.is_some(),
            rule.mutate.is_some(),
            rule.generate.is_some(),
            rule.verify_images.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if bodies != 1 {
            return Err(checker.err(
                path.clone(),
                if bodies == 0 {
                    "rule has no validate, mutate, generate or verifyImages".into()
                } else {
                    "rule has more than one of validate, mutate, generate, verifyImages".into()
                },
                "give each rule exactly one of validate/mutate/generate/verifyImages",
            ));
        }
        if rule.match_.is_empty() {
            return Err(checker.err(
                format!("{path}.match"),
                "rule has an empty match block".into(),
                "select resources with match.any[].resources.kinds",
            ));
        }
        if let Some(pre) = &rule.preconditions {
            checker.conditions(pre, &format!("{path}.preconditions"))?;
        }
        if let Some(v) = &rule.validate {
            if let Some(c) = v.deny.as_ref().and_then(|d| d.conditions.as_ref()) {
                checker.conditions(c, &format!("{path}.validate.deny.conditions"))?;
            }
            if let Some(loops) = &v.foreach {
                checker.foreach_validation(loops, &format!("{path}.validate.foreach"))?;
            }
            if let Some(ap) = &v.any_pattern
                && !ap.is_array()
            {
                return Err(checker.err(
                    format!("{path}.validate.anyPattern"),
                    "anyPattern must be a list of patterns".into(),
                    "write anyPattern as a YAML list",
                ));
            }
        }
        if let Some(m) = &rule.mutate
            && let Some(loops) = &m.foreach
        {
            checker.foreach_mutation(loops, &format!("{path}.mutate.foreach"))?;
        }
        let rule_value = serde_json::to_value(rule).unwrap_or(Value::Null);
        checker.variables(&rule_value, &path)?;
        if background {
            for (field, filters) in [
                ("match", Some(&rule.match_)),
                ("exclude", rule.exclude.as_ref()),
            ] {
                let Some(m) = filters else { continue };
                let mut all: Vec<(String, &super::ResourceFilter)> =
                    vec![(format!("{path}.{field}"), &m.legacy)];
                all.extend(
                    m.any
                        .iter()
                        .enumerate()
                        .map(|(j, f)| (format!("{path}.{field}.any[{j}]"), f)),
                );
                all.extend(
                    m.all
                        .iter()
                        .enumerate()
                        .map(|(j, f)| (format!("{path}.{field}.all[{j}]"), f)),
                );
                for (p, f) in all {
                    if f.has_user_criteria() {
                        return Err(checker.err(
                            p,
                            "subjects, roles and clusterRoles cannot be used when background processing is enabled".into(),
                            "set `spec.background: false` or remove the user criteria",
                        ));
                    }
                }
            }
            let mut scan = rule_value.clone();
            if let Some(obj) = scan.as_object_mut() {
                obj.remove("match");
                obj.remove("exclude");
            }
            if let Some((p, var)) = find_user_variable(&scan, &path) {
                return Err(checker.err(
                    p,
                    format!("variable {var} cannot be used when background processing is enabled"),
                    "set `spec.background: false`; background scans have no admission request",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml: &str) -> Document {
        let object: Value = serde_saphyr::from_str(yaml).unwrap();
        Document::new(object, SourceLocation::new("policy.yaml", 0, 1))
    }

    fn load_err(yaml: &str) -> PolicyError {
        match load_policy(&doc(yaml)) {
            Some(LoadedPolicy::Invalid { error, .. }) => *error,
            other => panic!("expected an invalid policy, got {other:?}"),
        }
    }

    const HEAD: &str =
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n";

    #[test]
    fn loads_a_simple_policy() {
        let y = format!(
            "{HEAD}  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [ConfigMap]\n    validate:\n      pattern:\n        metadata:\n          name: \"?*\"\n"
        );
        match load_policy(&doc(&y)) {
            Some(LoadedPolicy::Kyverno(p)) => {
                assert_eq!(p.name, "p");
                assert_eq!(p.rules.len(), 1);
                assert_eq!(
                    p.rules[0].match_.any[0].resources.as_ref().unwrap().kinds,
                    vec!["ConfigMap"]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_operator_names_its_path() {
        let y = format!(
            "{HEAD}  rules:\n  - name: a\n    match:\n      resources:\n        kinds: [Pod]\n    validate:\n      pattern: {{}}\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      deny:\n        conditions:\n          any:\n          - key: a\n            operator: Foo\n            value: b\n"
        );
        let e = load_err(&y);
        assert_eq!(
            e.path,
            "spec.rules[1].validate.deny.conditions.any[0].operator"
        );
        assert_eq!(e.rule.as_deref(), Some("r"));
        assert!(e.to_string().contains("policy.yaml:1"), "{e}");
    }

    #[test]
    fn rule_without_body_is_rejected() {
        let y = format!(
            "{HEAD}  rules:\n  - name: r\n    match:\n      resources:\n        kinds: [Pod]\n"
        );
        assert!(load_err(&y).message.contains("no validate"));
    }

    #[test]
    fn background_policy_with_user_variables_is_rejected() {
        let y = format!(
            "{HEAD}  rules:\n  - name: r\n    match:\n      resources:\n        kinds: [Pod]\n    validate:\n      message: \"{{{{ request.userInfo.username }}}}\"\n      deny: {{}}\n"
        );
        let e = load_err(&y);
        assert_eq!(e.path, "spec.rules[0].validate.message");
        let ok = y.replace("spec:\n", "spec:\n  background: false\n");
        assert!(matches!(
            load_policy(&doc(&ok)),
            Some(LoadedPolicy::Kyverno(_))
        ));
    }

    #[test]
    fn object_field_named_like_a_user_variable_is_allowed() {
        let y = format!(
            "{HEAD}  rules:\n  - name: r\n    match:\n      resources:\n        kinds: [Pod]\n    validate:\n      message: \"{{{{ request.object.spec.serviceAccountName }}}}\"\n      deny: {{}}\n"
        );
        assert!(matches!(
            load_policy(&doc(&y)),
            Some(LoadedPolicy::Kyverno(_))
        ));
    }

    #[test]
    fn malformed_jmespath_is_rejected() {
        let y = format!(
            "{HEAD}  rules:\n  - name: r\n    match:\n      resources:\n        kinds: [Pod]\n    validate:\n      message: \"{{{{ request.object.[ }}}}\"\n      deny: {{}}\n"
        );
        assert!(load_err(&y).message.contains("invalid JMESPath"));
    }

    #[test]
    fn cel_kinds_are_unsupported() {
        let y = "apiVersion: policies.kyverno.io/v1alpha1\nkind: ValidatingPolicy\nmetadata:\n  name: v\nspec: {}\n";
        assert!(matches!(
            load_policy(&doc(y)),
            Some(LoadedPolicy::Unsupported { .. })
        ));
        let y = format!(
            "{HEAD}  rules:\n  - name: r\n    match:\n      resources:\n        kinds: [Pod]\n    validate:\n      cel:\n        expressions: []\n"
        );
        assert!(matches!(
            load_policy(&doc(&y)),
            Some(LoadedPolicy::Unsupported { .. })
        ));
    }

    #[test]
    fn other_documents_are_ignored() {
        assert!(load_policy(&doc("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n")).is_none());
    }

    #[test]
    fn innermost_variables_skip_nested_and_escaped() {
        assert_eq!(innermost_variables("a {{ b }} c {{d}}"), vec![" b ", "d"]);
        assert_eq!(innermost_variables("{{ x.\"{{ y }}\" }}"), vec![" y "]);
        assert_eq!(innermost_variables("\\{{ x }}"), Vec::<&str>::new());
    }
}
