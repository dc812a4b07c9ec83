//! The `kyverno-test.yaml`, `Values` and `UserInfo` file formats
//! (cli.kyverno.io/v1alpha1), read as the current Kyverno CLI reads them,
//! including the older field names it used to accept.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::engine::{ContextValues, Operation};

/// A `kind: Test` document.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct TestFile {
    /// `metadata.name`.
    pub metadata: Metadata,
    /// Deprecated top-level name.
    pub name: Option<String>,
    /// Policy files, relative to the test file's directory.
    pub policies: Vec<String>,
    /// Resource files.
    pub resources: Vec<String>,
    /// Expected results.
    pub results: Vec<ResultEntry>,
    /// A `Values` file.
    pub variables: Option<String>,
    /// Inline values (when present, `variables` is not read).
    pub values: Option<ValuesFile>,
    /// A `UserInfo` file.
    pub userinfo: Option<String>,
    /// A `Context` file (CEL policies).
    pub context: Option<String>,
    /// PolicyException files.
    pub exceptions: Vec<String>,
    /// Existing objects for mutate-existing rules.
    pub target_resources: Vec<String>,
    /// Source objects for generate `clone`.
    pub cluster_resources: Vec<String>,
}

/// `metadata`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Metadata {
    /// The test's name.
    pub name: Option<String>,
}

/// One expected-result entry.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ResultEntry {
    /// Policy name (`namespace/name` for a namespaced policy).
    pub policy: String,
    /// Rule name (absent for rule-less CEL kinds).
    pub rule: Option<String>,
    /// Kind of the listed resources.
    pub kind: Option<String>,
    /// Resource names (`name` or `namespace/name`).
    pub resources: Vec<String>,
    /// Deprecated single resource name.
    pub resource: Option<String>,
    /// Deprecated: namespace prefix for the names.
    pub namespace: Option<String>,
    /// Expected outcome.
    pub result: Option<String>,
    /// Deprecated name of `result`.
    pub status: Option<String>,
    /// File with the expected object after mutation.
    pub patched_resources: Option<String>,
    /// Deprecated singular form.
    pub patched_resource: Option<String>,
    /// File with the expected generated object.
    pub generated_resource: Option<String>,
    /// Extra evaluation run for this entry with this operation.
    pub operation: Option<String>,
}

impl ResultEntry {
    /// The expected result, from `result` or the deprecated `status`.
    pub fn expected(&self) -> Option<&str> {
        self.result.as_deref().or(self.status.as_deref())
    }

    /// Resource names, with the deprecated forms folded in.
    pub fn resource_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.resources.clone();
        if let Some(r) = &self.resource {
            names.push(r.clone());
        }
        if let Some(ns) = &self.namespace {
            names = names
                .into_iter()
                .map(|n| {
                    if n.contains('/') {
                        n
                    } else {
                        format!("{ns}/{n}")
                    }
                })
                .collect();
        }
        names
    }

    /// The file with the expected patched object.
    pub fn patched_file(&self) -> Option<&str> {
        self.patched_resources
            .as_deref()
            .or(self.patched_resource.as_deref())
    }

    /// The policy name without a namespace prefix.
    pub fn policy_name(&self) -> &str {
        self.policy.rsplit('/').next().unwrap_or(&self.policy)
    }
}

/// A `kind: Values` document.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ValuesFile {
    /// Per policy values.
    pub policies: Vec<PolicyValues>,
    /// Values for every policy and resource.
    pub global_values: BTreeMap<String, Value>,
    /// Namespace labels for `namespaceSelector`.
    pub namespace_selector: Vec<NamespaceLabels>,
    /// Full Namespace objects; their labels win over `namespaceSelector`.
    pub namespaces: Vec<Value>,
}

/// Values of one policy.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyValues {
    /// Policy name.
    pub name: String,
    /// Per rule.
    pub rules: Vec<RuleValues>,
    /// Per resource.
    pub resources: Vec<ResourceValues>,
}

/// Values of one rule.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RuleValues {
    /// Rule name.
    pub name: String,
    /// Variables injected before the rule's context entries.
    pub values: BTreeMap<String, Value>,
    /// Per-iteration foreach values.
    pub foreach_values: BTreeMap<String, Vec<Value>>,
}

/// Values of one resource.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ResourceValues {
    /// Resource name.
    pub name: String,
    /// Variables.
    pub values: BTreeMap<String, Value>,
}

/// Labels of a namespace.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct NamespaceLabels {
    /// Namespace name.
    pub name: String,
    /// Its labels.
    pub labels: serde_json::Map<String, Value>,
}

/// A `kind: UserInfo` document.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserInfoFile {
    /// Roles (`namespace:name`).
    pub roles: Vec<String>,
    /// Cluster roles.
    pub cluster_roles: Vec<String>,
    /// `username`, `groups`, `uid`.
    pub user_info: Value,
}

impl ValuesFile {
    /// The values for `policy` evaluated on the resource named `resource`.
    pub fn context_values(&self, policy: &str, resource: &str) -> ContextValues {
        let mut cv = ContextValues {
            global: self
                .global_values
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            ..ContextValues::default()
        };
        for p in self.policies.iter().filter(|p| p.name == policy) {
            for r in p.resources.iter().filter(|r| r.name == resource) {
                cv.resource
                    .extend(r.values.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            for rule in &p.rules {
                cv.rules
                    .entry(rule.name.clone())
                    .or_default()
                    .extend(rule.values.iter().map(|(k, v)| (k.clone(), v.clone())));
                if !rule.foreach_values.is_empty() {
                    cv.foreach.entry(rule.name.clone()).or_default().extend(
                        rule.foreach_values
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone())),
                    );
                }
            }
        }
        cv
    }

    /// Labels of namespace `ns`: from `namespaces` (full objects) first, then
    /// from `namespaceSelector`.
    pub fn namespace_labels(&self, ns: &str) -> Option<serde_json::Map<String, Value>> {
        use slipway_model::ObjectExt;
        for n in &self.namespaces {
            if n.name() == ns {
                return Some(n.labels().cloned().unwrap_or_default());
            }
        }
        self.namespace_selector
            .iter()
            .find(|s| s.name == ns)
            .map(|s| s.labels.clone())
    }
}

/// The operation the values ask for: `request.operation` from the resource's
/// values, else the global values, else a rule's values; CREATE otherwise.
pub fn operation_of(cv: &ContextValues) -> Operation {
    let lookup = |vals: &[(String, Value)]| {
        vals.iter()
            .rev()
            .find(|(k, _)| k == "request.operation")
            .and_then(|(_, v)| v.as_str())
            .and_then(Operation::parse)
    };
    lookup(&cv.resource)
        .or_else(|| lookup(&cv.global))
        .or_else(|| cv.rules.values().find_map(|v| lookup(v)))
        .unwrap_or_default()
}
