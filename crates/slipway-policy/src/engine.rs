//! The evaluation pipeline: the public API the CLI, the kyverno-test runner,
//! the GitOps gate and the admission webhook call.
//!
//! CONTRACT (the types below are the agreed interface; fill in the bodies, keep
//! the names and shapes unless all users are updated together):
//!
//! ```text
//! pub fn load_policies(docs: &[slipway_model::Document]) -> Result<Vec<LoadedPolicy>, PolicyError>
//!     // every document that is a kyverno.io ClusterPolicy/Policy becomes LoadedPolicy::Kyverno;
//!     // CEL kinds (policies.kyverno.io/*, admissionregistration ValidatingAdmissionPolicy, and
//!     // ClusterPolicy rules with validate.cel) become LoadedPolicy::Unsupported { .. } for now;
//!     // other documents are ignored.
//! pub struct Engine (cheap to build, Send + Sync, caches compiled expressions)
//! impl Engine {
//!     pub fn new() -> Self;
//!     pub fn mutate(&self, policy: &Policy, req: &Request, values: &ContextValues) -> EngineResponse;   // response.patched = Some(object after this policy's mutate rules), None when no mutate rule applied
//!     pub fn validate(&self, policy: &Policy, req: &Request, values: &ContextValues) -> EngineResponse;
//!     pub fn generate(&self, policy: &Policy, req: &Request, values: &ContextValues) -> EngineResponse; // response.generated
//! }
//! ```
//!
//! Types shared by everyone: [`Request`], [`Operation`], [`UserInfo`],
//! [`ContextValues`], [`EngineResponse`], [`RuleResponse`], [`RuleStatus`],
//! [`RuleType`], [`FailureAction`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The admission operation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    /// CREATE (the default for files evaluated offline).
    #[default]
    Create,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// CONNECT.
    Connect,
}

impl Operation {
    /// Parses `CREATE`, `UPDATE`, `DELETE`, `CONNECT` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "CREATE" => Some(Self::Create),
            "UPDATE" => Some(Self::Update),
            "DELETE" => Some(Self::Delete),
            "CONNECT" => Some(Self::Connect),
            _ => None,
        }
    }

    /// The upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Connect => "CONNECT",
        }
    }
}

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserInfo {
    /// `request.userInfo` (`username`, `uid`, `groups`, `extra`) as a JSON object.
    pub user_info: Value,
    /// `request.roles` (`namespace:name`).
    pub roles: Vec<String>,
    /// `request.clusterRoles`.
    pub cluster_roles: Vec<String>,
}

/// One simulated (or real) admission request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    /// The operation.
    pub operation: Operation,
    /// The new object (`Value::Null` on DELETE).
    pub object: Value,
    /// The old object (`Value::Null` on CREATE).
    pub old_object: Value,
    /// The requester; `None` means no user information at all, in which case
    /// the user criteria of `match` filters are ignored (as the Kyverno CLI does).
    pub user_info: Option<UserInfo>,
    /// Labels of the object's namespace, for `namespaceSelector`; `None` when unknown.
    pub namespace_labels: Option<Map<String, Value>>,
    /// Subresource of the request (`status`, `scale`, `exec`...), empty for the object itself.
    pub subresource: String,
    /// Whether this is a dry run / background scan (no admission): `request.*` user fields absent.
    pub background: bool,
}

/// Values injected into the rule context, keyed by dotted path
/// (`request.operation`, `mycm.data.key`), from a kyverno-test values file or
/// from the caller. Applied in this order, later wins: `global`, `resource`,
/// then the rule's entries in `rules` (before the rule's `context` entries run;
/// a context entry whose name was given here is not computed/fetched).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContextValues {
    /// For every policy and resource.
    pub global: Vec<(String, Value)>,
    /// For this policy and resource.
    pub resource: Vec<(String, Value)>,
    /// Per rule name of this policy.
    pub rules: BTreeMap<String, Vec<(String, Value)>>,
    /// Per rule name: per-iteration values of foreach loops (`variable -> [v0, v1, ...]`).
    pub foreach: BTreeMap<String, Vec<(String, Vec<Value>)>>,
}

/// The kind of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleType {
    /// validate
    Validation,
    /// mutate
    Mutation,
    /// generate
    Generation,
    /// verifyImages
    ImageVerify,
}

/// The outcome of one rule on one resource, as in PolicyReports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    /// The rule applied and the resource complies (or the mutation changed it).
    Pass,
    /// The resource violates the rule.
    Fail,
    /// Preconditions false, anchors not applicable, or a mutation changed nothing.
    Skip,
    /// The rule could not be evaluated; the message says why.
    Error,
    /// A warning (reserved).
    Warn,
}

impl RuleStatus {
    /// Lower-case name, as `kyverno test` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Skip => "skip",
            Self::Error => "error",
            Self::Warn => "warn",
        }
    }
}

/// Enforce blocks the request on `fail`; Audit allows it and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum FailureAction {
    /// Allow and report (Kyverno's default).
    #[default]
    Audit,
    /// Block.
    Enforce,
}

/// One rule's response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResponse {
    /// Rule name as evaluated (autogen rules keep their `autogen-` names).
    pub name: String,
    /// validate / mutate / generate.
    pub rule_type: RuleType,
    /// The outcome.
    pub status: RuleStatus,
    /// The message (with variables substituted), or the reason for skip/error.
    pub message: String,
    /// The effective failure action of this rule for this resource.
    pub action: FailureAction,
}

/// All rule responses of one policy for one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct EngineResponse {
    /// Policy name.
    pub policy: String,
    /// Policy namespace for a namespaced `Policy`.
    pub policy_namespace: Option<String>,
    /// Rule responses, in rule order. A rule that did not match the resource has no entry.
    pub rules: Vec<RuleResponse>,
    /// For `mutate`: the object after this policy's mutations; `None` when no
    /// mutate rule of the policy applied to the resource (it is unchanged).
    pub patched: Option<Value>,
    /// For `generate`: the objects generated.
    pub generated: Vec<Value>,
}

mod compiled;
mod context;
mod foreach;
mod generate;
mod images;
mod mutation;
mod run;
mod validation;

pub use crate::model::{LoadedPolicy, Policy, PolicyError, load_policies};
pub use compiled::CompileCache;
pub use run::{Engine, PreparedRequest};

#[cfg(test)]
mod tests;
