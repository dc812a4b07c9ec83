//! KubeSec-compatible risk scoring: kind gating, points, buckets, ordering, messages,
//! and the `kubesec scan` JSON report.
//!
//! Semantics follow controlplaneio/kubesec (see the conformance `SPEC.md`): every rule whose
//! kinds contain the object's kind is evaluated; a rule with negative points that matches lands
//! in `critical`, a positive rule lands in `passed` when it matches and in `advise` otherwise;
//! points count once per rule. With schema validation on (the default, like upstream), an object
//! that fails strict validation is reported `valid: false` with score 0 and no rule results.

pub mod findings;
mod gostr;
mod report;
mod rules;

use std::cmp::Ordering;

use serde_json::Value;

pub use gostr::go_string;
pub use report::{JsonArrayWriter, KubesecReport, RuleRef, Scoring, write_json_array};
pub use rules::{RULES, Rule, pod_spec, rule};

use crate::schema::{SchemaError, SchemaSet};

/// The message for objects no rule applies to.
pub const UNSUPPORTED_MESSAGE: &str = "This resource kind is not supported by kubesec";

/// Rule ids that are not in the rule table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rule IDs requested: {}", .0.join(", "))]
pub struct UnknownRules(pub Vec<String>);

/// Scores objects. Cheap to clone; share one per run.
#[derive(Debug, Clone)]
pub struct Scorer {
    rules: Vec<&'static Rule>,
    schema: Option<&'static SchemaSet>,
    pod_template_crds: bool,
    annotations: bool,
    /// Active `.slipwayignore` suppressions (shared: scorers are cloned per thread).
    ignore_file: std::sync::Arc<[crate::suppress::Suppression]>,
}

/// The annotation that suppresses rules on one object: `RULE[,RULE] -- reason`.
pub const IGNORE_ANNOTATION: &str = "slipway.dev/ignore";

/// The rule ids an object suppresses with [`IGNORE_ANNOTATION`]. A suppression without a
/// reason after ` -- ` is not honoured: every accepted risk must say why.
pub fn suppressed_rules(object: &Value) -> Vec<String> {
    let Some(text) = object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(IGNORE_ANNOTATION))
        .and_then(Value::as_str)
    else {
        return Vec::new();
    };
    match text.split_once("--") {
        Some((rules, reason)) if !reason.trim().is_empty() => rules
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

impl Default for Scorer {
    fn default() -> Self {
        Self::new()
    }
}

impl Scorer {
    /// Every rule, strict schema validation on, KubeSec's kind list only.
    pub fn new() -> Self {
        Self {
            rules: RULES.iter().collect(),
            schema: Some(SchemaSet::embedded()),
            pod_template_crds: false,
            annotations: false,
            ignore_file: std::sync::Arc::from(Vec::new()),
        }
    }

    /// Turns schema validation on or off (rules only, like the library's validation-disabled path).
    pub fn with_schema(mut self, on: bool) -> Self {
        self.schema = on.then(SchemaSet::embedded);
        self
    }

    /// Also scores objects of other kinds (custom resources such as Argo Rollouts) that carry a
    /// pod template at `spec.template.spec`, with the rules for Deployments; kinds unknown in
    /// a built-in API group (a typo such as `apps/v1` `Deployment2`) are not. Such objects skip
    /// schema validation when no built-in schema exists for them. KubeSec itself reports them
    /// unsupported, so this is off by default.
    pub fn with_pod_template_crds(mut self, on: bool) -> Self {
        self.pod_template_crds = on;
        self
    }

    /// Honours `slipway.dev/ignore: RULE[,RULE] -- reason` annotations: the named rules are not
    /// evaluated for that object. Off by default (KubeSec has no suppressions).
    pub fn with_suppression_annotations(mut self, on: bool) -> Self {
        self.annotations = on;
        self
    }

    /// Honours `.slipwayignore` suppressions: a rule is not evaluated for an object a
    /// suppression selects by the rule's id (`Privileged`) or check id
    /// (`kubesec-privileged`). Pass only active ones ([`crate::suppress::IgnoreFile::active`]);
    /// expired ones are the caller's to report.
    pub fn with_suppressions(mut self, suppressions: Vec<crate::suppress::Suppression>) -> Self {
        self.ignore_file = std::sync::Arc::from(suppressions);
        self
    }

    /// Restricts scoring to the named rules (`--rules A,B`); unknown ids fail as a whole.
    pub fn with_rules<S: AsRef<str>>(mut self, ids: &[S]) -> Result<Self, UnknownRules> {
        let unknown: Vec<String> = ids
            .iter()
            .map(AsRef::as_ref)
            .filter(|id| rule(id).is_none())
            .map(str::to_string)
            .collect();
        if !unknown.is_empty() {
            return Err(UnknownRules(unknown));
        }
        self.rules = RULES
            .iter()
            .filter(|r| ids.iter().any(|id| id.as_ref() == r.id))
            .collect();
        Ok(self)
    }

    /// The rules this scorer evaluates.
    pub fn rules(&self) -> &[&'static Rule] {
        &self.rules
    }

    /// Scores one object read from `file_name`.
    pub fn score(&self, object: &Value, file_name: &str) -> KubesecReport {
        let name = object_name(object);
        let kind = match object.get("kind") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(go_string(other)),
        };
        let crd_as = kind
            .as_deref()
            .filter(|k| self.pod_template_crds && self.is_pod_template_crd(object, k));
        if let Some(schema) = self.schema {
            match schema.validate(object) {
                Ok(()) => {}
                Err(SchemaError::NoSchema { .. }) if crd_as.is_some() => {}
                Err(e) => {
                    return KubesecReport {
                        object: name,
                        valid: false,
                        file_name: file_name.to_string(),
                        message: e.to_string(),
                        score: 0,
                        scoring: Scoring::default(),
                        location: None,
                    };
                }
            }
        }
        // Custom resources with a pod template are read like a Deployment.
        let eval_kind = if crd_as.is_some() {
            Some("Deployment")
        } else {
            kind.as_deref()
        };
        let mut scoring = Scoring::default();
        let mut score = 0i64;
        let mut applied = false;
        let suppressed = if self.annotations {
            suppressed_rules(object)
        } else {
            Vec::new()
        };
        for rule in &self.rules {
            if suppressed.iter().any(|s| s == rule.id) {
                continue;
            }
            if !self.ignore_file.is_empty() {
                let check = findings::check_id(rule.id);
                if self
                    .ignore_file
                    .iter()
                    .any(|s| s.matches(&[rule.id, &check], object))
                {
                    continue;
                }
            }
            let count = match eval_kind {
                // Upstream quirk: without a kind every rule applies and counts nothing.
                None => 0,
                Some(k) if rule.applies_to(k) => rule.count(object, k),
                Some(_) => continue,
            };
            applied = true;
            let entry = RuleRef::of(rule);
            if rule.is_critical() {
                if count > 0 {
                    score += rule.points;
                    scoring.critical.push(entry);
                }
            } else if count > 0 {
                score += rule.points;
                scoring.passed.push(entry);
            } else {
                scoring.advise.push(entry);
            }
        }
        for bucket in [
            &mut scoring.critical,
            &mut scoring.passed,
            &mut scoring.advise,
        ] {
            bucket.sort_by(compare_entries);
        }
        let message = if !applied {
            UNSUPPORTED_MESSAGE.to_string()
        } else if score >= 0 {
            format!("Passed with a score of {score} points")
        } else {
            format!("Failed with a score of {score} points")
        };
        KubesecReport {
            object: name,
            valid: true,
            file_name: file_name.to_string(),
            message,
            score,
            scoring,
            location: None,
        }
    }

    /// Scores a loaded document: the report's `fileName` is the document's file and its
    /// location is kept for SARIF and tables.
    pub fn score_document(&self, document: &slipway_model::Document) -> KubesecReport {
        let mut report = self.score(&document.object, &document.source.file);
        report.location = Some(document.source.clone());
        report
    }

    /// A kind no rule knows, outside the Kubernetes API's own groups, with a pod template.
    fn is_pod_template_crd(&self, object: &Value, kind: &str) -> bool {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        !self.rules.iter().any(|r| r.applies_to(kind))
            && !api_version.is_empty()
            && !SchemaSet::embedded().serves_api_version(api_version)
            && pod_spec(object, "Deployment")
                .and_then(|s| s.get("containers"))
                .is_some_and(Value::is_array)
    }
}

/// KubeSec's bucket order: by points (higher first when either is positive, more negative
/// first when both are ≤ 0), then by selector, byte-wise.
fn compare_entries(a: &RuleRef, b: &RuleRef) -> Ordering {
    if a.points != b.points {
        if a.points > 0 || b.points > 0 {
            b.points.cmp(&a.points)
        } else {
            a.points.cmp(&b.points)
        }
    } else {
        a.selector.as_bytes().cmp(b.selector.as_bytes())
    }
}

/// `<kind>/<name>.<namespace>`: `undefined` for a missing name, `default` for a missing
/// namespace, `Unknown` when there is no kind.
pub fn object_name(object: &Value) -> String {
    let kind = match object.get("kind") {
        None | Some(Value::Null) => return "Unknown".to_string(),
        Some(k) => go_string(k),
    };
    let meta = object.get("metadata");
    let field = |key: &str, missing: &str| match meta.and_then(|m| m.get(key)) {
        None | Some(Value::Null) => missing.to_string(),
        Some(v) => go_string(v),
    };
    format!(
        "{kind}/{}.{}",
        field("name", "undefined"),
        field("namespace", "default")
    )
}

/// The exit status KubeSec gives a run: `true` (exit 0) when every report scores above
/// `min_score`; schema-invalid and unsupported objects score 0.
pub fn all_pass(reports: &[KubesecReport], min_score: i64) -> bool {
    reports.iter().all(|r| r.score > min_score)
}

#[cfg(test)]
mod tests;
