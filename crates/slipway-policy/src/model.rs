//! Kyverno `ClusterPolicy` / `Policy` documents (`kyverno.io/v1`, `v2beta1`)
//! as typed values, and loading them from parsed documents.
//!
//! Loading does what Kyverno's admission-time policy validation does for the
//! parts the engine relies on (`pkg/validation/policy`): every rule has exactly
//! one of validate/mutate/generate/verifyImages, condition operators are known,
//! JMESPath expressions parse, background policies do not read user
//! information. A policy that fails is reported with its file, line, rule and
//! field path. CEL-based kinds are recognised and returned as
//! [`LoadedPolicy::Unsupported`] so callers can report them instead of
//! silently dropping them.
//!
//! Patterns, overlays and conditions stay JSON values: the evaluators walk
//! them directly. What is expensive to redo per request (autogen expansion,
//! the `{{ }}` scan) is done here once.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use slipway_model::SourceLocation;

/// A policy as loaded from a document.
#[derive(Debug, Clone)]
pub enum LoadedPolicy {
    /// A `kyverno.io` ClusterPolicy or Policy the engine evaluates.
    Kyverno(Box<Policy>),
    /// A policy kind (or a rule type) this engine cannot evaluate yet.
    Unsupported {
        /// `apiVersion`'s kind, e.g. `ValidatingPolicy`.
        kind: String,
        /// `metadata.name`.
        name: String,
        /// Why it is not evaluated.
        reason: String,
        /// Where it was read.
        source: SourceLocation,
    },
    /// A Kyverno policy that Kyverno itself would reject (the CLI drops such
    /// policies and their results become "skipped").
    Invalid {
        /// `metadata.name`.
        name: String,
        /// What is wrong.
        error: Box<PolicyError>,
    },
}

impl LoadedPolicy {
    /// The policy name.
    pub fn name(&self) -> &str {
        match self {
            Self::Kyverno(p) => &p.name,
            Self::Unsupported { name, .. } | Self::Invalid { name, .. } => name,
        }
    }
}

/// A policy that cannot be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{location}: policy {policy:?}{}: {path}: {message}\nhint: {hint}", rule.as_ref().map(|r| format!(", rule {r:?}")).unwrap_or_default())]
pub struct PolicyError {
    /// File, document and line of the policy document.
    pub location: SourceLocation,
    /// Policy name (empty when unreadable).
    pub policy: String,
    /// Rule name, when the problem is inside a rule.
    pub rule: Option<String>,
    /// Field path inside the document, e.g. `spec.rules[1].validate.deny.conditions.any[0].operator`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

/// `ClusterPolicy` or namespaced `Policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Cluster-wide.
    ClusterPolicy,
    /// Applies only in its own namespace.
    Policy,
}

/// A loaded Kyverno policy. `rules` holds the rules after autogen expansion,
/// in Kyverno's order (original rules, then the generated ones).
#[derive(Debug, Clone)]
pub struct Policy {
    /// ClusterPolicy or Policy.
    pub kind: PolicyKind,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` for a namespaced `Policy`.
    pub namespace: Option<String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// The spec as written (rules before autogen).
    pub spec: PolicySpec,
    /// Rules to evaluate: the written rules followed by autogen rules.
    pub rules: Vec<Rule>,
    /// Where the document was read.
    pub source: SourceLocation,
}

impl Policy {
    /// Whether `spec.background` is true (Kyverno's default).
    pub fn background(&self) -> bool {
        self.spec.background.unwrap_or(true)
    }
}

/// `spec` of a policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    /// The rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Deprecated policy-wide failure action (`Audit`/`Enforce`, any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_failure_action: Option<String>,
    /// Deprecated per-namespace overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_failure_action_overrides: Vec<FailureActionOverride>,
    /// Evaluate existing resources in background scans (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
    /// Evaluate admission requests (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<bool>,
    /// `All` (default) or `One`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply_rules: Option<String>,
    /// Everything else (`failurePolicy`, `webhookConfiguration`, ...), kept verbatim.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A failure action override for some namespaces.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureActionOverride {
    /// `Audit` or `Enforce`.
    #[serde(default)]
    pub action: String,
    /// Namespaces (wildcards allowed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Namespace label selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
}

/// One rule.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// Rule name.
    #[serde(default)]
    pub name: String,
    /// Which requests the rule applies to.
    #[serde(default, rename = "match")]
    pub match_: MatchResources,
    /// Which requests are excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<MatchResources>,
    /// Context entries, loaded in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextEntry>,
    /// Preconditions (`{any, all}` or a legacy list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Value>,
    /// CEL preconditions (not evaluated by this engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cel_preconditions: Option<Value>,
    /// Validate body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate: Option<Validation>,
    /// Mutate body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutate: Option<Mutation>,
    /// Generate body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<Generation>,
    /// verifyImages entries (not evaluated offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_images: Option<Vec<Value>>,
    /// Skip background requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_background_requests: Option<bool>,
    /// Unknown fields, kept so autogen round-trips them.
    #[serde(flatten)]
    pub other: Map<String, Value>,
    /// The compiled condition blocks and pattern facts, built on first use
    /// (see `engine::compiled`); a clone starts empty.
    #[serde(skip)]
    pub compiled: crate::engine::CompileCache,
}

impl Rule {
    /// The rule type, by body.
    pub fn rule_type(&self) -> Option<crate::engine::RuleType> {
        use crate::engine::RuleType;
        if self.validate.is_some() {
            Some(RuleType::Validation)
        } else if self.mutate.is_some() {
            Some(RuleType::Mutation)
        } else if self.generate.is_some() {
            Some(RuleType::Generation)
        } else if self.verify_images.is_some() {
            Some(RuleType::ImageVerify)
        } else {
            None
        }
    }
}

/// `match` / `exclude`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchResources {
    /// Any filter matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any: Vec<ResourceFilter>,
    /// All filters match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all: Vec<ResourceFilter>,
    /// Deprecated: one filter written directly under `match`.
    #[serde(flatten)]
    pub legacy: ResourceFilter,
}

impl MatchResources {
    /// All kinds named in any filter (legacy, any, all), as Kyverno's `GetKinds`.
    pub fn kinds(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let filters = std::iter::once(&self.legacy)
            .chain(self.any.iter())
            .chain(self.all.iter());
        for f in filters {
            if let Some(r) = &f.resources {
                out.extend(r.kinds.iter().map(String::as_str));
            }
        }
        out
    }

    /// Whether nothing at all is set.
    pub fn is_empty(&self) -> bool {
        self.any.is_empty() && self.all.is_empty() && self.legacy.is_empty()
    }
}

/// One filter: resources plus user criteria.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceFilter {
    /// Resource criteria.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceDescription>,
    /// Users, groups, service accounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<Subject>,
    /// Namespaced roles (`namespace:name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Cluster roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_roles: Vec<String>,
}

impl ResourceFilter {
    /// Whether the filter sets no criterion.
    pub fn is_empty(&self) -> bool {
        self.resources
            .as_ref()
            .is_none_or(ResourceDescription::is_empty)
            && !self.has_user_criteria()
    }

    /// Whether subjects, roles or clusterRoles are set.
    pub fn has_user_criteria(&self) -> bool {
        !self.subjects.is_empty() || !self.roles.is_empty() || !self.cluster_roles.is_empty()
    }
}

/// An RBAC subject.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    #[serde(default)]
    pub kind: String,
    /// Name (wildcards allowed).
    #[serde(default)]
    pub name: String,
    /// Namespace of a ServiceAccount.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// API group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_group: String,
}

/// Resource criteria of a filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescription {
    /// Kinds: `Kind`, `Version/Kind`, `Group/Version/Kind`, with optional subresource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Deprecated single name (wildcards).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Names (wildcards).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Namespaces (wildcards).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Annotations that must be present (keys and values may be wildcards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Label selector on the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Label selector on the object's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Admission operations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
}

impl ResourceDescription {
    /// Whether no criterion is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Exact labels (wildcards allowed in Kyverno).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Expressions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// Label key.
    #[serde(default)]
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    #[serde(default)]
    pub operator: String,
    /// Values for In/NotIn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A context entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextEntry {
    /// Variable name.
    #[serde(default)]
    pub name: String,
    /// A computed variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<ContextVariable>,
    /// A ConfigMap lookup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<Value>,
    /// A Kubernetes or service API call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_call: Option<Value>,
    /// Image registry data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_registry: Option<Value>,
    /// A GlobalContextEntry reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_reference: Option<Value>,
}

impl ContextEntry {
    /// The entry type, as named in Kyverno.
    pub fn type_name(&self) -> &'static str {
        if self.variable.is_some() {
            "variable"
        } else if self.config_map.is_some() {
            "configMap"
        } else if self.api_call.is_some() {
            "apiCall"
        } else if self.image_registry.is_some() {
            "imageRegistry"
        } else if self.global_reference.is_some() {
            "globalReference"
        } else {
            "unknown"
        }
    }
}

/// `context[].variable`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextVariable {
    /// A literal value (variables substituted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// A JMESPath expression, applied to `value` or to the whole context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jmes_path: Option<String>,
    /// Used when the result is null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// `validate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    /// Message on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Per-rule failure action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_action: Option<String>,
    /// Per-rule overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure_action_overrides: Vec<FailureActionOverride>,
    /// Allow pre-existing violations on UPDATE (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_existing_violations: Option<bool>,
    /// Pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Value>,
    /// Alternatives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_pattern: Option<Value>,
    /// Deny conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Deny>,
    /// Loops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<Vec<ForEachValidation>>,
    /// Pod Security Standards subrule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security: Option<PodSecurity>,
    /// CEL (not evaluated by this engine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cel: Option<Value>,
    /// Other subrules (`manifests`, `assert`), kept verbatim.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `validate.deny`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deny {
    /// Conditions (`{any, all}` or a legacy list); absent means "always deny".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Value>,
}

/// `validate.foreach[]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForEachValidation {
    /// JMESPath expression yielding the list.
    #[serde(default)]
    pub list: String,
    /// Apply patterns to the element (default: when it is a map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_scope: Option<bool>,
    /// Per-element context entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextEntry>,
    /// Per-element preconditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Value>,
    /// Pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Value>,
    /// Alternatives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_pattern: Option<Value>,
    /// Deny conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Deny>,
    /// Nested loops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<Vec<ForEachValidation>>,
}

/// `validate.podSecurity`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurity {
    /// `privileged`, `baseline` or `restricted`.
    #[serde(default)]
    pub level: String,
    /// PSS version (`latest`, `v1.29`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Exempted checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Value>,
}

/// `mutate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mutation {
    /// Existing targets (mutate-existing; not evaluated offline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Value>,
    /// Strategic merge overlay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_strategic_merge: Option<Value>,
    /// RFC 6902 patch as YAML/JSON text.
    #[serde(
        default,
        rename = "patchesJson6902",
        skip_serializing_if = "Option::is_none"
    )]
    pub patches_json6902: Option<String>,
    /// Loops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<Vec<ForEachMutation>>,
    /// Other fields, kept verbatim.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `mutate.foreach[]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForEachMutation {
    /// JMESPath expression yielding the list.
    #[serde(default)]
    pub list: String,
    /// `Ascending` or `Descending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// Per-element context entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextEntry>,
    /// Per-element preconditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Value>,
    /// Strategic merge overlay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_strategic_merge: Option<Value>,
    /// RFC 6902 patch text.
    #[serde(
        default,
        rename = "patchesJson6902",
        skip_serializing_if = "Option::is_none"
    )]
    pub patches_json6902: Option<String>,
    /// Nested loops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<Vec<ForEachMutation>>,
}

/// `generate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Generation {
    /// apiVersion of the generated object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the generated object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name (variables allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace (variables allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Keep in sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronize: Option<bool>,
    /// The object content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Clone source (`namespace`, `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone: Option<Value>,
    /// Clone several sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_list: Option<Value>,
    /// Loops and other fields, kept verbatim.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ClusterPolicy => "ClusterPolicy",
            Self::Policy => "Policy",
        })
    }
}

mod load;
pub use load::{load_policies, load_policies_lenient, load_policy};
