//! Group, version, kind.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A group/version/kind triple. The core group is the empty string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Gvk {
    /// API group (`apps`, `networking.k8s.io`; empty for the core group).
    pub group: String,
    /// API version (`v1`, `v1beta1`).
    pub version: String,
    /// Kind (`Deployment`).
    pub kind: String,
}

impl Gvk {
    /// Builds a GVK from an object's `apiVersion` (`apps/v1` or `v1`) and `kind`.
    pub fn from_api_version_kind(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Self {
            group,
            version,
            kind: kind.to_string(),
        }
    }

    /// The `apiVersion` string for this GVK.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.api_version(), self.kind)
    }
}

/// Kinds of the Kubernetes API that are cluster-scoped. Unknown kinds are treated
/// as namespaced, which is what `kubectl` and Kyverno's CLI do without discovery.
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterPolicy",
    "ClusterPolicyReport",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CSIDriver",
    "CSINode",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "SecurityContextConstraints",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
    "ClusterCleanupPolicy",
    "ValidatingPolicy",
    "MutatingPolicy",
    "GeneratingPolicy",
    "ImageValidatingPolicy",
    "DeletingPolicy",
];

/// Whether `kind` is a cluster-scoped kind of the Kubernetes API (or of a
/// well-known add-on). Unknown kinds count as namespaced.
pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED.contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_core_and_grouped_api_versions() {
        let core = Gvk::from_api_version_kind("v1", "Pod");
        assert_eq!(core.group, "");
        assert_eq!(core.api_version(), "v1");
        let apps = Gvk::from_api_version_kind("apps/v1", "Deployment");
        assert_eq!(apps.group, "apps");
        assert_eq!(apps.to_string(), "apps/v1/Deployment");
    }

    #[test]
    fn scope_of_known_and_unknown_kinds() {
        assert!(is_cluster_scoped("Namespace"));
        assert!(!is_cluster_scoped("Pod"));
        assert!(!is_cluster_scoped("SomethingCustom"));
    }
}
