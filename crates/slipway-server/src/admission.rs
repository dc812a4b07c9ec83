//! Kubernetes admission: the `admission.k8s.io/v1` AdmissionReview wire
//! types (our own small serde structs, so the webhook does not pull in kube
//! and k8s-openapi), the policy set the webhook evaluates, and the decision
//! for one review: allowed or denied with Kyverno-style messages, a base64
//! JSONPatch for mutations, and Audit violations returned as warnings.
//!
//! Everything here is synchronous and pure over its inputs; the HTTP layer
//! (`webhook`) adds timeouts, size limits, metrics and logs.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use slipway_policy::cel::{CelInputs, CelKind, CelPolicy};
use slipway_policy::engine::{
    ContextValues, Engine, FailureAction, LoadedPolicy, Operation, Policy, Request, RuleStatus,
    UserInfo,
};
use slipway_policy::model::load_policies_lenient;
use slipway_policy::mutate::diff_to_json_patch;

/// The API version of the reviews we accept and answer.
pub const ADMISSION_API_VERSION: &str = "admission.k8s.io/v1";

/// Errors of the admission layer.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// The policy directory could not be read.
    #[error("cannot load policies from {path}")]
    Load {
        /// The directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: slipway_manifests::LoadError,
    },
    /// The body is not an AdmissionReview we understand.
    #[error("bad AdmissionReview: {0}")]
    BadReview(String),
}

/// `GroupVersionKind` as the API server sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupVersionKind {
    /// Group (empty for core).
    #[serde(default)]
    pub group: String,
    /// Version.
    #[serde(default)]
    pub version: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
}

/// `GroupVersionResource`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupVersionResource {
    /// Group.
    #[serde(default)]
    pub group: String,
    /// Version.
    #[serde(default)]
    pub version: String,
    /// Resource (plural).
    #[serde(default)]
    pub resource: String,
}

/// `AdmissionRequest` (the fields the engine uses; others are ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    /// Echoed back in the response.
    pub uid: String,
    /// The object's kind.
    #[serde(default)]
    pub kind: GroupVersionKind,
    /// The resource.
    #[serde(default)]
    pub resource: GroupVersionResource,
    /// Subresource (`status`, `scale`), if any.
    #[serde(default)]
    pub sub_resource: Option<String>,
    /// Object name (may be empty on CREATE with generateName).
    #[serde(default)]
    pub name: Option<String>,
    /// Namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// CREATE, UPDATE, DELETE, CONNECT.
    pub operation: String,
    /// The requester.
    #[serde(default)]
    pub user_info: Value,
    /// The new object.
    #[serde(default)]
    pub object: Option<Value>,
    /// The old object.
    #[serde(default)]
    pub old_object: Option<Value>,
    /// Dry run.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// `metav1.Status` in a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// `Failure`.
    pub status: String,
    /// Why.
    pub message: String,
    /// HTTP-like code.
    pub code: u16,
    /// Machine reason.
    pub reason: String,
}

/// `AdmissionResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's uid.
    pub uid: String,
    /// The verdict.
    pub allowed: bool,
    /// Why it was denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Base64 of a JSONPatch document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// `JSONPatch` when `patch` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// Warnings shown to the client (Audit violations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `AdmissionReview`: a request in, a response out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview {
    /// `admission.k8s.io/v1`.
    pub api_version: String,
    /// `AdmissionReview`.
    pub kind: String,
    /// The request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<AdmissionRequest>,
    /// The response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<AdmissionResponse>,
}

impl AdmissionReview {
    /// Wraps a response in a review.
    pub fn answer(response: AdmissionResponse) -> Self {
        Self {
            api_version: ADMISSION_API_VERSION.into(),
            kind: "AdmissionReview".into(),
            request: None,
            response: Some(response),
        }
    }
}

/// Which webhook endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `/validate`.
    Validate,
    /// `/mutate`.
    Mutate,
}

impl Mode {
    /// `validate` / `mutate` (metric and log label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::Mutate => "mutate",
        }
    }
}

/// A policy that is present but not evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedPolicy {
    /// Name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// The policies the webhook evaluates.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// Evaluated policies, in load order.
    pub policies: Vec<Policy>,
    /// CEL policies: ValidatingPolicy (and ValidatingAdmissionPolicy) on
    /// `/validate`, MutatingPolicy on `/mutate`, in load order.
    pub cel: Vec<CelPolicy>,
    /// Policies that are not evaluated (unsupported kinds, invalid documents).
    pub skipped: Vec<SkippedPolicy>,
    /// Where they came from.
    pub source: Option<PathBuf>,
    /// Content fingerprint of the source (to reload only on change).
    pub fingerprint: String,
}

impl PolicySet {
    /// Policies from documents already loaded.
    pub fn from_documents(docs: &[slipway_model::Document]) -> Self {
        let mut set = Self::default();
        for p in load_policies_lenient(docs) {
            match p {
                LoadedPolicy::Kyverno(p) => set.policies.push(*p),
                LoadedPolicy::Unsupported { name, reason, .. } => {
                    set.skipped.push(SkippedPolicy { name, reason })
                }
                // Generation needs a cluster to create objects in; an
                // admission answer cannot carry them.
                LoadedPolicy::Cel(p) if p.kind == CelKind::Generating => {
                    set.skipped.push(SkippedPolicy {
                        reason: format!(
                            "{} creates objects, which an admission webhook cannot do",
                            p.kind_name
                        ),
                        name: p.name,
                    })
                }
                LoadedPolicy::Cel(p) => set.cel.push(*p),
                LoadedPolicy::Invalid { name, error } => set.skipped.push(SkippedPolicy {
                    name,
                    reason: error.to_string(),
                }),
            }
        }
        set
    }

    /// Every policy under `dir` (recursively; non-policy documents are
    /// ignored). A missing directory is an empty set.
    pub fn load_dir(dir: &Path) -> Result<Self, AdmissionError> {
        let fingerprint = fingerprint(dir);
        if !dir.exists() {
            return Ok(Self {
                source: Some(dir.to_path_buf()),
                fingerprint,
                ..Self::default()
            });
        }
        let docs = slipway_manifests::load_path(dir).map_err(|source| AdmissionError::Load {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut set = Self::from_documents(&docs);
        set.source = Some(dir.to_path_buf());
        set.fingerprint = fingerprint;
        Ok(set)
    }

    /// Number of rules over all evaluated policies (a CEL policy counts as
    /// one rule).
    pub fn rule_count(&self) -> usize {
        self.policies.iter().map(|p| p.rules.len()).sum::<usize>() + self.cel.len()
    }

    /// Number of evaluated policies of every kind.
    pub fn len(&self) -> usize {
        self.policies.len() + self.cel.len()
    }

    /// Whether no policy is evaluated.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A fingerprint of the manifest files under `dir` (names, sizes, mtimes),
/// cheap enough to compute on every poll.
pub fn fingerprint(dir: &Path) -> String {
    let mut h = Sha256::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut entries = Vec::new();
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs_err::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(p);
            } else {
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                entries.push(format!("{}\0{}\0{}", p.display(), meta.len(), mtime));
            }
        }
    }
    entries.sort();
    for e in entries {
        h.update(e.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// One failed or errored rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// Policy name.
    pub policy: String,
    /// Rule name.
    pub rule: String,
    /// `fail` or `error`.
    pub status: RuleStatus,
    /// Enforce or Audit.
    pub action: FailureAction,
    /// The rule's message.
    pub message: String,
}

impl Violation {
    /// `policy <name>/<rule>: <message>`, the line shown to users.
    pub fn line(&self) -> String {
        format!("policy {}/{}: {}", self.policy, self.rule, self.message)
    }

    /// Whether this violation blocks the request.
    pub fn blocks(&self) -> bool {
        self.action == FailureAction::Enforce
    }
}

/// The decision on one review, with what the logs and metrics need.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The response to send.
    pub response: AdmissionResponse,
    /// Failed / errored rules, blocking or not.
    pub violations: Vec<Violation>,
    /// Per policy evaluated: (policy, rules that applied).
    pub evaluations: Vec<(String, usize)>,
    /// `Kind/namespace/name` of the object.
    pub resource: String,
    /// The operation.
    pub operation: String,
}

fn describe(req: &AdmissionRequest, obj: &Value) -> String {
    let kind = if req.kind.kind.is_empty() {
        obj.get("kind").and_then(Value::as_str).unwrap_or("")
    } else {
        req.kind.kind.as_str()
    };
    let name = req
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            obj.pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .or_else(|| {
            obj.pointer("/metadata/generateName")
                .and_then(Value::as_str)
                .map(|g| format!("{g}*"))
        })
        .unwrap_or_default();
    match req.namespace.as_deref().filter(|n| !n.is_empty()) {
        Some(ns) => format!("{kind}/{ns}/{name}"),
        None => format!("{kind}/{name}"),
    }
}

/// Parses a review body.
pub fn parse_review(body: &[u8]) -> Result<AdmissionRequest, AdmissionError> {
    let review: AdmissionReview =
        serde_json::from_slice(body).map_err(|e| AdmissionError::BadReview(e.to_string()))?;
    if review.kind != "AdmissionReview" {
        return Err(AdmissionError::BadReview(format!(
            "kind is {:?}, expected \"AdmissionReview\"",
            review.kind
        )));
    }
    if review.api_version != ADMISSION_API_VERSION {
        return Err(AdmissionError::BadReview(format!(
            "apiVersion is {:?}, expected {ADMISSION_API_VERSION:?} (admissionReviewVersions: [v1])",
            review.api_version
        )));
    }
    review
        .request
        .ok_or_else(|| AdmissionError::BadReview("the review has no request".into()))
}

/// Evaluates one admission request against the set.
pub fn decide(set: &PolicySet, engine: &Engine, mode: Mode, req: &AdmissionRequest) -> Decision {
    let Some(operation) = Operation::parse(&req.operation) else {
        // An operation we do not know is not ours to block.
        return Decision {
            response: AdmissionResponse {
                uid: req.uid.clone(),
                allowed: true,
                status: None,
                patch: None,
                patch_type: None,
                warnings: vec![format!(
                    "slipway: unknown operation {:?}, not evaluated",
                    req.operation
                )],
            },
            violations: Vec::new(),
            evaluations: Vec::new(),
            resource: describe(req, &Value::Null),
            operation: req.operation.clone(),
        };
    };
    let object = req.object.clone().unwrap_or(Value::Null);
    let old_object = req.old_object.clone().unwrap_or(Value::Null);
    let target = if operation == Operation::Delete {
        &old_object
    } else {
        &object
    };
    let resource = describe(req, target);
    let values = ContextValues::default();
    let mut request = Request {
        operation,
        object: object.clone(),
        old_object: old_object.clone(),
        user_info: Some(UserInfo {
            user_info: req.user_info.clone(),
            roles: Vec::new(),
            cluster_roles: Vec::new(),
        }),
        namespace_labels: None,
        subresource: req.sub_resource.clone().unwrap_or_default(),
        background: false,
    };
    let mut violations = Vec::new();
    let mut evaluations = Vec::new();
    let mut patch = None;
    let mut record = |policy: &str, rules: &[slipway_policy::engine::RuleResponse]| {
        evaluations.push((policy.to_string(), rules.len()));
        for r in rules {
            if matches!(r.status, RuleStatus::Fail | RuleStatus::Error) {
                violations.push(Violation {
                    policy: policy.to_string(),
                    rule: r.name.clone(),
                    status: r.status,
                    action: r.action,
                    message: r.message.clone(),
                });
            }
        }
    };
    match mode {
        Mode::Validate => {
            let prepared = engine.prepare(&request);
            for p in &set.policies {
                if p.spec.admission == Some(false) || !p.rules.iter().any(|r| r.validate.is_some())
                {
                    continue;
                }
                let resp = engine.validate_prepared(p, &prepared, &values);
                record(&p.name, &resp.rules);
            }
            let inputs = CelInputs::default();
            for p in set.cel.iter().filter(|p| p.kind == CelKind::Validating) {
                let resp = p.validate(&request, &inputs);
                record(&p.name, &resp.rules);
            }
        }
        Mode::Mutate => {
            if operation != Operation::Delete && !object.is_null() {
                let mut current = object.clone();
                for p in &set.policies {
                    if p.spec.admission == Some(false)
                        || !p.rules.iter().any(|r| r.mutate.is_some())
                    {
                        continue;
                    }
                    let resp = engine.mutate(p, &request, &values);
                    record(&p.name, &resp.rules);
                    if let Some(patched) = resp.patched
                        && patched != current
                    {
                        // Later policies see the object as mutated so far.
                        current = patched;
                        request.object = current.clone();
                    }
                }
                let inputs = CelInputs::default();
                for p in set.cel.iter().filter(|p| p.kind == CelKind::Mutating) {
                    let resp = p.mutate(&request, &inputs);
                    record(&p.name, &resp.rules);
                    if let Some(patched) = resp.patched
                        && patched != current
                    {
                        current = patched;
                        request.object = current.clone();
                    }
                }
                let ops = diff_to_json_patch(&object, &current);
                if !ops.is_empty() {
                    let text = serde_json::to_vec(&Value::Array(ops)).unwrap_or_default();
                    patch = Some(base64::engine::general_purpose::STANDARD.encode(text));
                }
            }
        }
    }
    // Mutation failures never block: the object is admitted unmutated by
    // that rule and the user sees a warning (Kyverno's mutate webhook
    // behaves the same unless the whole webhook errors).
    let blocking: Vec<&Violation> = violations
        .iter()
        .filter(|v| mode == Mode::Validate && v.blocks())
        .collect();
    let allowed = blocking.is_empty();
    let status = (!allowed).then(|| {
        let mut message =
            format!("resource {resource} was blocked due to the following policies\n");
        for v in &blocking {
            message.push('\n');
            message.push_str(&v.line());
        }
        Status {
            status: "Failure".into(),
            message,
            code: 400,
            reason: "BadRequest".into(),
        }
    });
    let warnings = violations
        .iter()
        .filter(|v| !(mode == Mode::Validate && v.blocks()))
        .map(Violation::line)
        .collect();
    Decision {
        response: AdmissionResponse {
            uid: req.uid.clone(),
            allowed,
            status,
            patch_type: patch.as_ref().map(|_| "JSONPatch".to_string()),
            patch,
            warnings,
        },
        violations,
        evaluations,
        resource,
        operation: operation.as_str().to_string(),
    }
}

#[cfg(test)]
mod tests;
