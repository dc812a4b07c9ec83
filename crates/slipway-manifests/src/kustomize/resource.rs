//! The resource model: an object plus the bookkeeping Kustomize keeps in its
//! internal build annotations (original id, previous ids, prefixes and
//! suffixes applied, whether a hash suffix is due, generator behavior).

use std::fmt;

use serde_json::{Map, Value};

pub(crate) use slipway_model::Gvk;

/// Kustomize's view of a [`Gvk`]: selection with empty wildcards, upstream's
/// sort key, and upstream's own list of cluster-scoped kinds.
pub(crate) trait GvkExt {
    /// Whether this gvk is selected by `selector` (empty selector fields match anything).
    fn is_selected_by(&self, selector: &Gvk) -> bool;
    /// Upstream's `Gvk.String()`: `group_version_kind` with `~G`/`~V`/`~K` for empty parts.
    fn sort_string(&self) -> String;
    /// Whether objects of this kind live outside namespaces.
    fn is_cluster_scoped(&self) -> bool;
}

impl GvkExt for Gvk {
    fn is_selected_by(&self, selector: &Gvk) -> bool {
        (selector.group.is_empty() || selector.group == self.group)
            && (selector.version.is_empty() || selector.version == self.version)
            && (selector.kind.is_empty() || selector.kind == self.kind)
    }

    fn sort_string(&self) -> String {
        let g = if self.group.is_empty() {
            "~G"
        } else {
            &self.group
        };
        let v = if self.version.is_empty() {
            "~V"
        } else {
            &self.version
        };
        let k = if self.kind.is_empty() {
            "~K"
        } else {
            &self.kind
        };
        format!("{g}_{v}_{k}")
    }

    fn is_cluster_scoped(&self) -> bool {
        CLUSTER_SCOPED_KINDS.contains(&self.kind.as_str())
    }
}

/// Kinds of the built-in API that are cluster-scoped. Unknown kinds (custom
/// resources) are treated as namespaced, as upstream does without a schema.
const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "StorageClass",
    "SubjectAccessReview",
    "TokenReview",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// A resource id: gvk, name and namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ResId {
    pub gvk: Gvk,
    pub name: String,
    pub namespace: String,
}

impl ResId {
    /// The namespace with upstream's defaults: `default` when unset,
    /// `_non_namespaceable_` for cluster-scoped kinds.
    pub fn effective_namespace(&self) -> &str {
        if self.gvk.is_cluster_scoped() {
            "_non_namespaceable_"
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// Namespace equality treating unset and `default` alike.
    pub fn ns_equals(&self, other: &ResId) -> bool {
        self.effective_namespace() == other.effective_namespace()
    }

    /// Upstream's `ResId.Equals`.
    pub fn equals(&self, other: &ResId) -> bool {
        self.gvk == other.gvk && self.name == other.name && self.ns_equals(other)
    }
}

impl fmt::Display for ResId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let api = if self.gvk.group.is_empty() {
            self.gvk.version.clone()
        } else {
            format!("{}/{}", self.gvk.group, self.gvk.version)
        };
        write!(f, "{} {} {}", api, self.gvk.kind, self.name)?;
        if !self.namespace.is_empty() {
            write!(f, " (namespace {})", self.namespace)?;
        }
        Ok(())
    }
}

/// How a generated resource combines with an existing one of the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Behavior {
    #[default]
    Create,
    Merge,
    Replace,
}

/// An object in the build with Kustomize's bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    /// The object itself.
    pub obj: Value,
    /// The id when the resource entered the build.
    pub org: ResId,
    /// Ids the resource had before renames (upstream's previous-names annotation).
    pub prev: Vec<ResId>,
    /// Name prefixes applied, innermost first.
    pub prefixes: Vec<String>,
    /// Name suffixes applied, innermost first.
    pub suffixes: Vec<String>,
    /// A content hash suffix is due at the end of the build.
    pub needs_hash: bool,
    /// Generator behavior (create, merge, replace).
    pub behavior: Behavior,
    /// Where the resource came from, tracked when `buildMetadata` is set.
    pub origin: Option<super::origin::Origin>,
    /// The transformers that ran over it, tracked when `buildMetadata` is set.
    pub transformations: Vec<super::origin::Origin>,
    /// Names of the vars declared against this resource (upstream's
    /// `refVarNames`), used to pick among several objects matching a var.
    pub ref_vars: Vec<String>,
}

pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(x) => cur = x,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

impl Resource {
    /// Wraps an object loaded from a file.
    pub fn new(obj: Value) -> Self {
        let org = id_of(&obj);
        Self {
            obj,
            org,
            prev: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
            behavior: Behavior::Create,
            origin: None,
            transformations: Vec::new(),
            ref_vars: Vec::new(),
        }
    }

    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version_kind(
            str_at(&self.obj, &["apiVersion"]),
            str_at(&self.obj, &["kind"]),
        )
    }

    pub fn name(&self) -> &str {
        str_at(&self.obj, &["metadata", "name"])
    }

    pub fn namespace(&self) -> &str {
        str_at(&self.obj, &["metadata", "namespace"])
    }

    pub fn kind(&self) -> &str {
        str_at(&self.obj, &["kind"])
    }

    pub fn cur_id(&self) -> ResId {
        id_of(&self.obj)
    }

    /// Upstream's `PrevIds`: the ids stored before each rename (empty when never renamed).
    pub fn prev_ids(&self) -> &[ResId] {
        &self.prev
    }

    /// Previous ids plus the current one.
    pub fn any_ids(&self) -> Vec<ResId> {
        let mut ids = vec![self.org.clone()];
        ids.extend(self.prev.iter().cloned());
        ids.push(self.cur_id());
        ids
    }

    pub fn store_previous_id(&mut self) {
        self.prev.push(self.cur_id());
    }

    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let obj = ensure_map(&mut self.obj);
        let md = obj
            .entry("metadata".to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        ensure_map(md)
    }

    pub fn set_name(&mut self, name: &str) {
        self.metadata_mut()
            .insert("name".into(), Value::String(name.into()));
    }

    pub fn set_namespace(&mut self, ns: &str) {
        let md = self.metadata_mut();
        if ns.is_empty() {
            md.remove("namespace");
        } else {
            md.insert("namespace".into(), Value::String(ns.into()));
        }
    }

    pub fn string_map(&self, field: &str) -> Map<String, Value> {
        self.obj
            .get("metadata")
            .and_then(|m| m.get(field))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    pub fn labels(&self) -> Map<String, Value> {
        self.string_map("labels")
    }

    pub fn annotations(&self) -> Map<String, Value> {
        self.string_map("annotations")
    }

    pub fn set_string_map(&mut self, field: &str, map: Map<String, Value>) {
        let md = self.metadata_mut();
        if map.is_empty() {
            md.remove(field);
        } else {
            md.insert(field.into(), Value::Object(map));
        }
    }

    /// Whether the object is marked `config.kubernetes.io/local-config: "true"`.
    pub fn is_local_config(&self) -> bool {
        self.annotations()
            .get("config.kubernetes.io/local-config")
            .and_then(Value::as_str)
            == Some("true")
    }
}

/// The id of an object as it is now.
pub(crate) fn id_of(obj: &Value) -> ResId {
    ResId {
        gvk: Gvk::from_api_version_kind(str_at(obj, &["apiVersion"]), str_at(obj, &["kind"])),
        name: str_at(obj, &["metadata", "name"]).to_string(),
        namespace: str_at(obj, &["metadata", "namespace"]).to_string(),
    }
}

/// Makes `v` a map (replacing anything else) and returns it.
pub(crate) fn ensure_map(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        // Unreachable: replaced by a map just above.
        _ => unreachable_map(),
    }
}

#[allow(clippy::panic)]
fn unreachable_map() -> ! {
    // Broken invariant: `ensure_map` replaced the value by a map just before.
    panic!("value was just replaced by a map")
}

/// The legacy output order of kinds (upstream's `SortOrderTransformer` legacy sorter).
const ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn kind_rank(kind: &str) -> i64 {
    if let Some(i) = ORDER_FIRST.iter().position(|k| *k == kind) {
        return i as i64 - ORDER_FIRST.len() as i64;
    }
    if let Some(i) = ORDER_LAST.iter().position(|k| *k == kind) {
        return i as i64 + 1;
    }
    0
}

/// Sorts resources in the legacy order.
pub(crate) fn legacy_sort(resources: &mut [Resource]) {
    resources.sort_by_cached_key(|r| {
        let id = r.cur_id();
        (
            kind_rank(&id.gvk.kind),
            id.gvk.sort_string(),
            format!("{}|{}", id.effective_namespace(), id.name),
        )
    });
}
