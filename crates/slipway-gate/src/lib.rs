//! The security validation gate: one verdict over a set of rendered objects.
//!
//! [`Gate::evaluate`] runs, on the same documents:
//! - the platform's Kyverno policies (`slipway_policy::apply`): a failing Enforce
//!   rule fails the gate, a failing Audit rule is reported as a warning;
//! - the KubeSec risk score (`slipway_scan::kubesec`) of every object KubeSec scores
//!   (workloads, and custom resources with a pod template): an object scoring below
//!   the configured minimum fails the gate;
//! - the secret scan (`slipway_scan::secrets`) of the given texts: any secret fails;
//! - the `.slipwayignore` suppressions (`slipway_scan::suppress`): a current one
//!   turns the matching findings into `skip`; an expired one fails the gate.
//!
//! Everything is collected in one [`slipway_report::Report`]; [`GateOutcome::failures`]
//! says in one line each why the gate failed. `slipway check` and the GitOps
//! pre-sync gate call this same code; [`config::GateConfig`] reads the thresholds
//! from `slipway.yaml`.
//!
//! **Invariant:** nothing here prints or reads the clock; callers pass today's date.

pub mod config;

use chrono::NaiveDate;
use serde_json::Value;
use slipway_model::{Document, ObjectExt};
use slipway_policy::cel::{CelKind, CelPolicy};
use slipway_policy::engine::{Engine, FailureAction};
use slipway_policy::kyverno_test::spec::ValuesFile;
use slipway_policy::model::{LoadedPolicy, Policy, load_policy};
use slipway_report::{CheckId, Finding, ObjectRef, Outcome, Report, Severity, Source, Tool};
use slipway_scan::kubesec::{self, Scorer};
use slipway_scan::secrets;
use slipway_scan::suppress::{IgnoreFile, Suppression};

pub use config::{ConfigError, GateConfig};

/// Policies could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// A policy file or directory could not be read or parsed.
    #[error("cannot read policies from {path}")]
    Load {
        /// The path given.
        path: String,
        /// The loader error (file and line).
        #[source]
        source: slipway_manifests::LoadError,
    },
    /// A policy document is one Kyverno would reject.
    #[error("invalid policy in {path}")]
    InvalidPolicy {
        /// The path given.
        path: String,
        /// What is wrong (file, policy, rule and field path).
        #[source]
        source: Box<slipway_policy::model::PolicyError>,
    },
}

/// A policy document that is recognised but not evaluated (a CEL policy kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPolicy {
    /// `Kind name at file:line`.
    pub what: String,
    /// Why it is not evaluated.
    pub reason: String,
}

/// The policies of a platform, in both languages.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Kyverno ClusterPolicy / Policy documents.
    pub kyverno: Vec<Policy>,
    /// CEL policies: ValidatingPolicy, MutatingPolicy, ValidatingAdmissionPolicy.
    pub cel: Vec<CelPolicy>,
    /// Recognised policy documents that are not evaluated, with the reason.
    pub skipped: Vec<SkippedPolicy>,
}

/// Loads the policies of a file or directory (recursively). Documents that
/// are not policies are ignored; policies this engine cannot evaluate are returned
/// apart so the caller can say so.
pub fn load_policy_set(path: &std::path::Path) -> Result<PolicySet, GateError> {
    let display = path.display().to_string();
    let docs = slipway_manifests::load_path(path).map_err(|source| GateError::Load {
        path: display.clone(),
        source,
    })?;
    policy_set_of(&docs, &display)
}

/// The policies among `docs` (see [`load_policy_set`]); `origin` names them in errors.
pub fn policy_set_of(docs: &[Document], origin: &str) -> Result<PolicySet, GateError> {
    let mut set = PolicySet::default();
    for doc in docs {
        match load_policy(doc) {
            Some(LoadedPolicy::Kyverno(p)) => set.kyverno.push(*p),
            Some(LoadedPolicy::Invalid { error, .. }) => {
                return Err(GateError::InvalidPolicy {
                    path: origin.to_string(),
                    source: error,
                });
            }
            Some(LoadedPolicy::Unsupported {
                kind,
                name,
                reason,
                source,
            }) => set.skipped.push(SkippedPolicy {
                what: format!("{kind} {name} at {source}"),
                reason,
            }),
            Some(LoadedPolicy::Cel(p)) if p.kind == CelKind::Generating => {
                set.skipped.push(SkippedPolicy {
                    what: format!("{} {} at {}", p.kind_name, p.name, p.source),
                    reason:
                        "generating policies need a cluster to write to; the gate does not run them"
                            .into(),
                });
            }
            Some(LoadedPolicy::Cel(p)) => set.cel.push(*p),
            None => {}
        }
    }
    apply_bindings(&mut set, docs);
    Ok(set)
}

/// A ValidatingAdmissionPolicy does nothing by itself in Kubernetes: its
/// bindings say how violations are acted on. A policy bound with `Deny` blocks;
/// one bound only with `Warn`/`Audit`, or not bound in the same set, is
/// reported without blocking. (The bindings' `matchResources` and `paramRef`
/// are not applied yet: the policy's own `matchConstraints` decide.)
fn apply_bindings(set: &mut PolicySet, docs: &[Document]) {
    for doc in docs {
        let o = &doc.object;
        if o.kind() != "ValidatingAdmissionPolicyBinding"
            || !o.api_version().starts_with("admissionregistration.k8s.io/")
        {
            continue;
        }
        let Some(policy) = o.pointer("/spec/policyName").and_then(Value::as_str) else {
            continue;
        };
        let deny = o
            .pointer("/spec/validationActions")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("Deny")));
        if deny {
            for p in set
                .cel
                .iter_mut()
                .filter(|p| p.kind_name == "ValidatingAdmissionPolicy" && p.name == policy)
            {
                p.action = FailureAction::Enforce;
            }
        }
    }
}

/// The Kyverno policies of a file or directory; CEL policies are returned as
/// skipped (use [`load_policy_set`] and [`Gate::with_cel_policies`] to run them).
pub fn load_policies(
    path: &std::path::Path,
) -> Result<(Vec<Policy>, Vec<SkippedPolicy>), GateError> {
    Ok(kyverno_only(load_policy_set(path)?))
}

/// The Kyverno policies among `docs` (see [`load_policies`]).
pub fn policies_of(
    docs: &[Document],
    origin: &str,
) -> Result<(Vec<Policy>, Vec<SkippedPolicy>), GateError> {
    Ok(kyverno_only(policy_set_of(docs, origin)?))
}

fn kyverno_only(set: PolicySet) -> (Vec<Policy>, Vec<SkippedPolicy>) {
    let mut skipped = set.skipped;
    skipped.extend(set.cel.iter().map(|p| SkippedPolicy {
        what: format!("{} {} at {}", p.kind_name, p.name, p.source),
        reason: "CEL policies are only evaluated through load_policy_set".into(),
    }));
    (set.kyverno, skipped)
}

/// A text to search for secrets: a file's content, or a rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanText {
    /// The name shown in findings.
    pub file: String,
    /// The content.
    pub text: String,
}

/// What the gate looks at.
#[derive(Debug, Clone, Default)]
pub struct GateInput {
    /// Rendered objects (policies and risk score).
    pub documents: Vec<Document>,
    /// Texts for the secret scan (the files the objects came from, when there are files).
    pub texts: Vec<ScanText>,
}

impl GateInput {
    /// Input from rendered documents only: each document is also scanned for secrets
    /// as pretty JSON, named `file#N` after its source.
    pub fn from_documents(documents: Vec<Document>) -> Self {
        let texts = documents
            .iter()
            .map(|d| ScanText {
                file: format!("{}#{}", d.source.file, d.source.document + 1),
                text: serde_json::to_string_pretty(&d.object).unwrap_or_default(),
            })
            .collect();
        Self { documents, texts }
    }
}

/// The gate, configured once and evaluated on any number of inputs.
#[derive(Debug)]
pub struct Gate {
    engine: Engine,
    policies: Vec<Policy>,
    cel_policies: Vec<CelPolicy>,
    scorer: Scorer,
    min_score: i64,
    secrets: bool,
    risk_score: bool,
    suppressions: Vec<Suppression>,
    expired: Vec<Suppression>,
}

/// The gate's verdict.
#[derive(Debug, Clone)]
pub struct GateOutcome {
    /// Every finding, sorted.
    pub report: Report,
    /// One line per reason the gate failed (empty when it passed).
    pub failures: Vec<String>,
    /// One line per Audit policy violation (reported, not blocking).
    pub audits: Vec<String>,
}

impl GateOutcome {
    /// Whether the gate passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl Gate {
    /// A gate with `policies`, the thresholds of `config`, and the suppressions of
    /// `ignore` as they stand on `today`.
    pub fn new(
        policies: Vec<Policy>,
        config: &GateConfig,
        ignore: &IgnoreFile,
        today: NaiveDate,
    ) -> Self {
        let suppressions = ignore.active(today);
        let scorer = Scorer::new()
            .with_schema(config.schema)
            .with_pod_template_crds(true)
            .with_suppression_annotations(true)
            .with_suppressions(suppressions.clone());
        Self {
            engine: Engine::new(),
            policies,
            cel_policies: Vec::new(),
            scorer,
            min_score: config.min_score,
            secrets: config.secrets,
            risk_score: config.risk_score,
            suppressions,
            expired: ignore.expired(today).into_iter().cloned().collect(),
        }
    }

    /// Adds CEL policies (validating and mutating), evaluated after the Kyverno ones.
    #[must_use]
    pub fn with_cel_policies(mut self, policies: Vec<CelPolicy>) -> Self {
        self.cel_policies = policies;
        self
    }

    /// The Kyverno policies evaluated.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The CEL policies evaluated.
    pub fn cel_policies(&self) -> &[CelPolicy] {
        &self.cel_policies
    }

    /// Runs every check on `input`.
    pub fn evaluate(&self, input: &GateInput) -> GateOutcome {
        let mut findings = Vec::new();
        let mut failures = Vec::new();
        let mut audits = Vec::new();

        // Policies. Only Kubernetes objects are admitted; policy documents and
        // other inputs (kyverno-test files) are not resources.
        let resources: Vec<Document> = input
            .documents
            .iter()
            .filter(|d| is_resource(&d.object))
            .cloned()
            .collect();
        let mut policy_findings = Vec::new();
        if !self.policies.is_empty() {
            let verdicts = slipway_policy::apply::apply(
                &self.engine,
                &self.policies,
                &resources,
                &ValuesFile::default(),
            );
            policy_findings.extend(slipway_policy::apply::findings(&self.policies, &verdicts));
        }
        if !self.cel_policies.is_empty() {
            let verdicts = slipway_policy::apply::apply_cel(
                &self.cel_policies,
                &resources,
                &ValuesFile::default(),
            );
            policy_findings.extend(slipway_policy::apply::cel_findings(
                &self.cel_policies,
                &verdicts,
            ));
        }
        for mut f in policy_findings {
            self.suppress(&mut f);
            let line = || {
                format!(
                    "policy {}/{}: {} ({})",
                    f.policy.as_deref().unwrap_or(""),
                    f.rule.as_deref().unwrap_or(""),
                    f.message,
                    f.object
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )
            };
            match f.result {
                Outcome::Fail => failures.push(line()),
                Outcome::Warn => audits.push(line()),
                _ => {}
            }
            findings.push(f);
        }

        // Risk score of the objects KubeSec scores.
        if self.risk_score {
            for doc in resources.iter().filter(|d| scorable(&d.object)) {
                let report = self.scorer.score_document(doc);
                // `minScore: N` means "at least N"; kubesec's findings use "above".
                let threshold = self.min_score.saturating_sub(1);
                let passed = report.valid && report.score >= self.min_score;
                for mut f in kubesec::findings::findings(&report, &doc.object, threshold) {
                    match f.result {
                        // Met and unmet advisory rules are `scan manifests`' detail.
                        Outcome::Pass | Outcome::Warn if f.check_id.as_str() != "kubesec-score" => {
                            continue;
                        }
                        // A critical rule only blocks through the score.
                        Outcome::Fail if f.check_id.as_str() != "kubesec-score" && passed => {
                            f.result = Outcome::Warn;
                        }
                        _ => {}
                    }
                    findings.push(f);
                }
                if !passed {
                    let object = ObjectRef::of(&doc.object);
                    failures.push(if report.valid {
                        let critical: Vec<&str> =
                            report.scoring.critical.iter().map(|r| r.id).collect();
                        format!(
                            "risk score of {object} is {}, below the minimum {}{}",
                            report.score,
                            self.min_score,
                            if critical.is_empty() {
                                String::new()
                            } else {
                                format!(" (critical: {})", critical.join(", "))
                            }
                        )
                    } else {
                        format!(
                            "{object} is not valid against the Kubernetes schema: {}",
                            report.message.lines().collect::<Vec<_>>().join("; ")
                        )
                    });
                }
            }
        }

        // Secrets.
        if self.secrets {
            for t in &input.texts {
                for s in secrets::scan_text(&t.text, &t.file) {
                    let mut f = s.to_finding();
                    self.suppress(&mut f);
                    if f.result == Outcome::Fail {
                        failures.push(format!(
                            "secret {} at {}:{} ({})",
                            s.rule, s.file, s.line, s.redacted
                        ));
                    }
                    findings.push(f);
                }
            }
        }

        // Expired suppressions.
        for s in &self.expired {
            failures.push(s.expired_message());
            findings.push(
                Finding::new(
                    CheckId::slugify("suppression-expired"),
                    Source::Kubesec,
                    Severity::Medium,
                    Outcome::Fail,
                    "Suppressions must not be past their expiry date",
                    s.expired_message(),
                )
                .with_location(slipway_model::SourceLocation::new(
                    s.file.clone(),
                    0,
                    s.line,
                )),
            );
        }

        let mut report = Report::new(Tool::slipway(), findings);
        report.sort();
        GateOutcome {
            report,
            failures,
            audits,
        }
    }

    /// Turns a failing finding that a current suppression covers into a skip that
    /// says why. Policy findings match by check id, policy or `policy/rule`;
    /// secrets by check id.
    fn suppress(&self, f: &mut Finding) {
        if !f.result.is_failing() || self.suppressions.is_empty() {
            return;
        }
        // Rules Kyverno generates for pod controllers are suppressed under the
        // name the user wrote (`autogen-check` and `autogen-cronjob-check` are `check`).
        let policy_rule = match (&f.policy, &f.rule) {
            (Some(p), Some(r)) => {
                let written = r
                    .strip_prefix("autogen-cronjob-")
                    .or_else(|| r.strip_prefix("autogen-"))
                    .unwrap_or(r);
                format!("{p}/{written}")
            }
            _ => String::new(),
        };
        let mut names = vec![f.check_id.as_str()];
        if let Some(p) = &f.policy {
            names.push(p);
        }
        if !policy_rule.is_empty() {
            names.push(&policy_rule);
        }
        let object = match &f.object {
            Some(o) => {
                serde_json::json!({"kind": o.kind, "metadata": {"name": o.name, "namespace": o.namespace}})
            }
            None => serde_json::json!({"kind": "", "metadata": {"name": ""}}),
        };
        if let Some(s) = self
            .suppressions
            .iter()
            .find(|s| s.matches(&names, &object))
        {
            f.result = Outcome::Skip;
            f.message = format!(
                "{} (suppressed by {} until {}: {})",
                f.message,
                s.position(),
                s.expires,
                s.reason
            );
        }
    }
}

/// A Kubernetes object (apiVersion, kind, name) that is not a policy.
fn is_resource(v: &Value) -> bool {
    let group = v.api_version().split_once('/').map_or("", |(g, _)| g);
    v.is_object()
        && !v.api_version().is_empty()
        && !v.kind().is_empty()
        && !matches!(
            group,
            "kyverno.io" | "policies.kyverno.io" | "cli.kyverno.io"
        )
}

/// Whether KubeSec scores this object: a kind its rules know, or any object with a
/// pod template (custom resources such as Argo Rollouts). Other kinds (Services,
/// ConfigMaps, Applications) have no risk score and are not gated by it.
fn scorable(v: &Value) -> bool {
    let kind = v.kind();
    kubesec::RULES.iter().any(|r| r.applies_to(kind))
        || kubesec::pod_spec(v, "Deployment")
            .and_then(|s| s.get("containers"))
            .is_some_and(Value::is_array)
}

#[cfg(test)]
mod tests;
