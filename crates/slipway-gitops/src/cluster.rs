//! The [`Cluster`] trait every deployment target implements (get, list by label
//! selector, apply as a field manager, delete, and a polling watch), with the
//! identity types it uses. Backends: [`embedded`] (the default, a persistent
//! object store in the data directory) and [`kube`] (a Kubernetes cluster
//! through a kubeconfig context).

pub mod embedded;
#[cfg(test)]
pub(crate) mod harness;
pub mod kube;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slipway_model::{ObjectExt, is_cluster_scoped};

/// The field manager Slipway applies as.
pub const FIELD_MANAGER: &str = "slipway";

/// A target failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The object cannot be stored as given.
    #[error("invalid object {resource}: {message}")]
    Invalid {
        /// Which object.
        resource: String,
        /// What is wrong.
        message: String,
    },
    /// The backing store failed.
    #[error("environment {env}: store error")]
    Store {
        /// The environment.
        env: String,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored object could not be decoded.
    #[error("environment {env}: stored object {resource} is corrupt")]
    Corrupt {
        /// The environment.
        env: String,
        /// Which object.
        resource: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The data directory could not be prepared.
    #[error("cannot prepare data directory {path}")]
    DataDir {
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Kubernetes backend failed (the message carries the cause, as sync
    /// results record only the top-level message).
    #[error("environment {env}: {error}")]
    Kubernetes {
        /// The environment.
        env: String,
        /// What failed.
        error: Box<self::kube::KubeError>,
    },
    /// A backend is not available in this build or configuration.
    #[error("environment {env}: {message}")]
    Unavailable {
        /// The environment.
        env: String,
        /// Why.
        message: String,
    },
}

/// A version-independent object identity: group, kind, namespace, name (what
/// Argo CD tracks resources by).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    /// API group (empty for core).
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace (empty for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ResourceRef {
    /// The identity of an object.
    pub fn of(obj: &Value) -> Self {
        Self {
            group: obj.gvk().group,
            kind: obj.kind().to_string(),
            namespace: obj.namespace().unwrap_or("").to_string(),
            name: obj.name().to_string(),
        }
    }

    /// Builds one from parts.
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// `group/Kind` (`Kind` for the core group).
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}/{}", self.group, self.kind)
        }
    }
}

impl fmt::Display for ResourceRef {
    /// `group/Kind:namespace/name` with empty parts left out, as Argo CD prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.group_kind())?;
        if self.namespace.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelRequirement {
    /// `key=value`.
    Equals(String, String),
    /// `key!=value`.
    NotEquals(String, String),
    /// `key`.
    Exists(String),
    /// `!key`.
    NotExists(String),
}

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Only this `(group, kind)`.
    pub group_kind: Option<(String, String)>,
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Label requirements (all must hold).
    pub labels: Vec<LabelRequirement>,
    /// Only objects tracked by this Application (tracking-id annotation).
    pub tracked_by: Option<String>,
}

impl Selector {
    /// Parses a label selector (`app=web,tier!=db,env,!legacy`).
    pub fn parse_labels(text: &str) -> Result<Vec<LabelRequirement>, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let req = if let Some((k, v)) = part.split_once("!=") {
                LabelRequirement::NotEquals(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                LabelRequirement::Equals(k.trim().into(), v.trim().into())
            } else if let Some(k) = part.strip_prefix('!') {
                LabelRequirement::NotExists(k.trim().into())
            } else {
                LabelRequirement::Exists(part.into())
            };
            let key = match &req {
                LabelRequirement::Equals(k, _)
                | LabelRequirement::NotEquals(k, _)
                | LabelRequirement::Exists(k)
                | LabelRequirement::NotExists(k) => k,
            };
            if key.is_empty() || key.contains(' ') {
                return Err(format!("invalid label selector requirement {part:?}"));
            }
            out.push(req);
        }
        Ok(out)
    }

    /// Whether an object's labels satisfy the label requirements.
    pub fn matches_labels(&self, obj: &Value) -> bool {
        let empty = serde_json::Map::new();
        let labels = obj.labels().unwrap_or(&empty);
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.labels.iter().all(|r| match r {
            LabelRequirement::Equals(k, v) => get(k) == Some(v.as_str()),
            LabelRequirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            LabelRequirement::Exists(k) => labels.contains_key(k),
            LabelRequirement::NotExists(k) => !labels.contains_key(k),
        })
    }
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Deleted.
    Deleted,
}

/// One change, in resourceVersion order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchEvent {
    /// The resourceVersion the change produced.
    pub revision: u64,
    /// The kind of change.
    pub event: EventType,
    /// Which object.
    pub resource: ResourceRef,
    /// Who made it (field manager).
    pub manager: String,
}

/// A deployment target.
pub trait Cluster: Send + Sync {
    /// The environment's name.
    fn name(&self) -> &str;
    /// Whether controllers run workloads there (health of Deployments, Pods...).
    fn runs_workloads(&self) -> bool;
    /// One object.
    fn get(&self, resource: &ResourceRef) -> Result<Option<Value>, ClusterError>;
    /// Objects matching a selector, sorted by identity.
    fn list(&self, selector: &Selector) -> Result<Vec<Value>, ClusterError>;
    /// Applies an object as `manager`; returns the stored object.
    fn apply(&self, object: &Value, manager: &str) -> Result<Value, ClusterError>;
    /// Deletes an object; false when it did not exist.
    fn delete(&self, resource: &ResourceRef, manager: &str) -> Result<bool, ClusterError>;
    /// Changes after `revision` (a polling watch), oldest first.
    fn events_since(&self, revision: u64) -> Result<Vec<WatchEvent>, ClusterError>;
}

/// Checks what every stored object needs: apiVersion, kind, name, and a
/// namespace exactly when the kind is namespaced.
pub fn validate_object(obj: &Value) -> Result<(), ClusterError> {
    let r = ResourceRef::of(obj);
    let invalid = |message: &str| ClusterError::Invalid {
        resource: r.to_string(),
        message: message.into(),
    };
    if !obj.is_object() {
        return Err(invalid("not a mapping"));
    }
    if obj.api_version().is_empty() {
        return Err(invalid("apiVersion is required"));
    }
    if obj.kind().is_empty() {
        return Err(invalid("kind is required"));
    }
    if obj.name().is_empty() {
        return Err(invalid("metadata.name is required"));
    }
    if obj.name().len() > 253 {
        return Err(invalid("metadata.name is longer than 253 characters"));
    }
    let scoped = is_cluster_scoped(obj.kind());
    match (scoped, obj.namespace()) {
        (true, Some(_)) => Err(invalid(
            "a cluster-scoped kind cannot have metadata.namespace",
        )),
        (false, None) => Err(invalid(
            "metadata.namespace is required for a namespaced kind",
        )),
        _ => Ok(()),
    }
}

/// Labels as a sorted map (for display).
pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj.labels()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}
