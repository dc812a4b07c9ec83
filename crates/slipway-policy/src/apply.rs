//! Applying a set of policies to resources the way an admission chain does:
//! every mutate rule of every policy first (each policy sees the previous
//! one's output), then validate on the mutated object, then generate. The CLI's
//! `policy apply`, `slipway check` and the delivery gate share this code.

use std::collections::BTreeMap;

use serde_json::Value;
use slipway_model::{Document, ObjectExt, SourceLocation};
use slipway_report::{CheckId, Finding, ObjectRef, Outcome, Severity, Source};

use crate::cel::policy::{CelInputs, CelKind, CelPolicy};
use crate::engine::{
    ContextValues, Engine, EngineResponse, FailureAction, Operation, Request, RuleStatus,
};
use crate::kyverno_test::spec::{ValuesFile, operation_of};
use crate::model::Policy;

/// What the policies said about one resource.
#[derive(Debug, Clone)]
pub struct ResourceVerdict {
    /// Where the resource was read.
    pub source: SourceLocation,
    /// The resource as given.
    pub original: Value,
    /// The resource after every mutation.
    pub patched: Value,
    /// One response per policy and stage (mutate, validate, generate), in order.
    pub responses: Vec<EngineResponse>,
}

impl ResourceVerdict {
    /// Whether an Enforce rule failed (the request would be denied).
    pub fn blocked(&self) -> bool {
        self.responses
            .iter()
            .flat_map(|r| &r.rules)
            .any(|r| r.status == RuleStatus::Fail && r.action == FailureAction::Enforce)
    }
}

/// Applies `policies` to every resource. `values` supplies variables (the
/// kyverno-test `Values` format), e.g. `request.operation` or context data
/// that would otherwise be fetched from a cluster.
pub fn apply(
    engine: &Engine,
    policies: &[Policy],
    resources: &[Document],
    values: &ValuesFile,
) -> Vec<ResourceVerdict> {
    resources
        .iter()
        .filter(|d| d.object.is_object())
        .map(|doc| apply_one(engine, policies, doc, values))
        .collect()
}

fn request(values: &ValuesFile, cv: &ContextValues, object: &Value) -> Request {
    let op = operation_of(cv);
    let (obj, old) = match op {
        Operation::Create | Operation::Connect => (object.clone(), Value::Null),
        Operation::Update => (object.clone(), object.clone()),
        Operation::Delete => (Value::Null, object.clone()),
    };
    Request {
        operation: op,
        object: obj,
        old_object: old,
        namespace_labels: object
            .namespace()
            .and_then(|ns| values.namespace_labels(ns)),
        ..Request::default()
    }
}

fn apply_one(
    engine: &Engine,
    policies: &[Policy],
    doc: &Document,
    values: &ValuesFile,
) -> ResourceVerdict {
    let name = doc.object.name().to_string();
    let mut current = doc.object.clone();
    let mut responses = Vec::new();
    for p in policies {
        let cv = values.context_values(&p.name, &name);
        let req = request(values, &cv, &current);
        let resp = engine.mutate(p, &req, &cv);
        if let Some(patched) = &resp.patched {
            current = patched.clone();
        }
        responses.push(resp);
    }
    for p in policies {
        let cv = values.context_values(&p.name, &name);
        let req = request(values, &cv, &current);
        responses.push(engine.validate(p, &req, &cv));
        responses.push(engine.generate(p, &req, &cv));
    }
    ResourceVerdict {
        source: doc.source.clone(),
        original: doc.object.clone(),
        patched: current,
        responses,
    }
}

/// Turns verdicts into report findings: one per rule response. A failing
/// Audit rule becomes a `warn` (it is reported, it does not block); a failing
/// Enforce rule a `fail`. Severity and category come from the policy's
/// `policies.kyverno.io/severity` and `/category` annotations.
pub fn findings(policies: &[Policy], verdicts: &[ResourceVerdict]) -> Vec<Finding> {
    findings_with(verdicts, |name| {
        policies
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.annotations)
    })
}

/// [`findings`] for the verdicts of [`apply_cel`]: the same annotations are read
/// from the CEL policies' metadata.
pub fn cel_findings(policies: &[CelPolicy], verdicts: &[ResourceVerdict]) -> Vec<Finding> {
    findings_with(verdicts, |name| {
        policies
            .iter()
            .find(|p| p.name == name)
            .map(|p| &p.annotations)
    })
}

fn findings_with<'p>(
    verdicts: &[ResourceVerdict],
    annotations_of: impl Fn(&str) -> Option<&'p BTreeMap<String, String>>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for v in verdicts {
        for resp in &v.responses {
            let annotations = annotations_of(&resp.policy);
            let annotation =
                |key: &str| annotations.and_then(|a| a.get(&format!("policies.kyverno.io/{key}")));
            let severity = annotation("severity")
                .and_then(|s| s.parse::<Severity>().ok())
                .unwrap_or(Severity::Medium);
            let title = annotation("title")
                .cloned()
                .unwrap_or_else(|| resp.policy.clone());
            for rule in &resp.rules {
                let result = match (rule.status, rule.action) {
                    (RuleStatus::Pass, _) => Outcome::Pass,
                    (RuleStatus::Fail, FailureAction::Enforce) => Outcome::Fail,
                    (RuleStatus::Fail, FailureAction::Audit) | (RuleStatus::Warn, _) => {
                        Outcome::Warn
                    }
                    (RuleStatus::Skip, _) => Outcome::Skip,
                    (RuleStatus::Error, _) => Outcome::Error,
                };
                let mut f = Finding::new(
                    CheckId::slugify(&format!("{}-{}", resp.policy, rule.name)),
                    Source::Policy,
                    severity,
                    result,
                    title.clone(),
                    rule.message.clone(),
                )
                .with_object(ObjectRef::of(&v.patched))
                .with_location(v.source.clone())
                .with_policy_rule(resp.policy.clone(), rule.name.clone())
                .with_property(
                    "action",
                    match rule.action {
                        FailureAction::Enforce => "Enforce",
                        FailureAction::Audit => "Audit",
                    },
                )
                .with_property("status", rule.status.as_str());
                if let Some(c) = annotation("category") {
                    f = f.with_category(c.clone());
                }
                if let Some(d) = annotation("description") {
                    f = f.with_remediation(d.split_whitespace().collect::<Vec<_>>().join(" "));
                }
                out.push(f);
            }
        }
    }
    out
}

/// Applies CEL policies (Kyverno's MutatingPolicy and ValidatingPolicy, and
/// Kubernetes' ValidatingAdmissionPolicy) as the admission chain does: every
/// mutating policy first, then every validating one on the mutated object.
/// Generating policies need a cluster to write to and are not run here.
/// [`cel_findings`] turns the verdicts into report findings.
pub fn apply_cel(
    policies: &[CelPolicy],
    resources: &[Document],
    values: &ValuesFile,
) -> Vec<ResourceVerdict> {
    let inputs = CelInputs::default();
    resources
        .iter()
        .filter(|d| d.object.is_object())
        .map(|doc| {
            let name = doc.object.name().to_string();
            let mut current = doc.object.clone();
            let mut responses = Vec::new();
            for p in policies.iter().filter(|p| p.kind == CelKind::Mutating) {
                let cv = values.context_values(&p.name, &name);
                let resp = p.mutate(&request(values, &cv, &current), &inputs);
                if let Some(patched) = &resp.patched {
                    current = patched.clone();
                }
                responses.push(resp);
            }
            for p in policies.iter().filter(|p| p.kind == CelKind::Validating) {
                let cv = values.context_values(&p.name, &name);
                responses.push(p.validate(&request(values, &cv, &current), &inputs));
            }
            ResourceVerdict {
                source: doc.source.clone(),
                original: doc.object.clone(),
                patched: current,
                responses,
            }
        })
        .collect()
}
