//! Typed views over dynamic objects.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Gvk;

/// Accessors for the fields every Kubernetes object has. Missing or mistyped
/// fields read as empty; validation is the caller's job.
pub trait ObjectExt {
    /// `apiVersion`, or "".
    fn api_version(&self) -> &str;
    /// `kind`, or "".
    fn kind(&self) -> &str;
    /// `metadata.name`, or "".
    fn name(&self) -> &str;
    /// `metadata.namespace`, if set and non-empty.
    fn namespace(&self) -> Option<&str>;
    /// `metadata.labels`, if it is a map.
    fn labels(&self) -> Option<&Map<String, Value>>;
    /// `metadata.annotations`, if it is a map.
    fn annotations(&self) -> Option<&Map<String, Value>>;
    /// The object's GVK.
    fn gvk(&self) -> Gvk {
        Gvk::from_api_version_kind(self.api_version(), self.kind())
    }
}

impl ObjectExt for Value {
    fn api_version(&self) -> &str {
        self.get("apiVersion").and_then(Value::as_str).unwrap_or("")
    }
    fn kind(&self) -> &str {
        self.get("kind").and_then(Value::as_str).unwrap_or("")
    }
    fn name(&self) -> &str {
        self.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    fn namespace(&self) -> Option<&str> {
        self.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
    fn labels(&self) -> Option<&Map<String, Value>> {
        self.pointer("/metadata/labels").and_then(Value::as_object)
    }
    fn annotations(&self) -> Option<&Map<String, Value>> {
        self.pointer("/metadata/annotations")
            .and_then(Value::as_object)
    }
}

/// Identifies one object: group/version/kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectKey {
    /// API group and version, e.g. `apps/v1`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Namespace, when namespaced.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// The key of an object value.
    pub fn of(object: &Value) -> Self {
        Self {
            api_version: object.api_version().to_string(),
            kind: object.kind().to_string(),
            namespace: object.namespace().map(str::to_string),
            name: object.name().to_string(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_metadata_fields() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}}});
        assert_eq!(pod.name(), "web");
        assert_eq!(pod.namespace(), Some("shop"));
        assert_eq!(pod.labels().map(|l| l.len()), Some(1));
        assert_eq!(ObjectKey::of(&pod).to_string(), "Pod/shop/web");
    }

    #[test]
    fn missing_fields_read_as_empty() {
        let v = json!({"kind": 3});
        assert_eq!(v.kind(), "");
        assert_eq!(v.namespace(), None);
        assert!(v.annotations().is_none());
    }
}
