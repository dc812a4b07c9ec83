//! The slice of the Kubernetes OpenAPI schema that strategic merge needs: which lists are
//! merged by key (`x-kubernetes-patch-strategy: merge` with `x-kubernetes-patch-merge-key`,
//! or `x-kubernetes-list-map-keys` when present) for built-in kinds.
//!
//! kustomize's merge (used by Kyverno) looks the schema up by the object's apiVersion/kind;
//! for kinds it does not know (custom resources) or fields absent from the schema every list
//! is replaced by the overlay's list. Lists of known fields without a merge strategy
//! (`command`, `args`, `tolerations`, ...) are replaced too, so only the merge lists matter here.

use serde_json::Value;

/// A schema position while walking the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    /// No schema: lists are replaced.
    None,
    /// The top of a built-in kind.
    Root(Root),
    ObjectMeta,
    PodTemplateSpec,
    PodSpec,
    Container,
    /// Deployment/StatefulSet/DaemonSet/ReplicaSet/ReplicationController/Job spec.
    WorkloadSpec,
    CronJobSpec,
    JobTemplateSpec,
    ServiceSpec,
    /// A list merged by key (or, with no key, a set of scalars).
    List(ListTy),
}

/// Built-in kinds with pod templates or merge lists get their own root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Root {
    Builtin,
    Pod,
    PodTemplate,
    Workload,
    CronJob,
    Service,
}

/// A merge list: its keys (empty for a primitive set like `finalizers`) and element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ListTy {
    pub(super) keys: &'static [&'static str],
    pub(super) elem: Elem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Elem {
    Plain,
    Container,
}

const fn list(keys: &'static [&'static str], elem: Elem) -> Ty {
    Ty::List(ListTy { keys, elem })
}

/// Built-in API groups (core is "").
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "certificates.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "extensions",
];

impl Ty {
    /// The schema root for an object, from its `apiVersion` and `kind`.
    pub(super) fn for_object(object: &Value) -> Ty {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if kind.is_empty() || api_version.is_empty() {
            return Ty::None;
        }
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        if !BUILTIN_GROUPS.contains(&group) {
            return Ty::None;
        }
        let root = match (group, kind) {
            ("", "Pod") => Root::Pod,
            ("", "PodTemplate") => Root::PodTemplate,
            ("", "Service") => Root::Service,
            ("", "ReplicationController")
            | ("apps" | "extensions", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
            | ("batch", "Job") => Root::Workload,
            ("batch", "CronJob") => Root::CronJob,
            _ => Root::Builtin,
        };
        Ty::Root(root)
    }

    /// The schema of a field of this object type.
    pub(super) fn field(self, key: &str) -> Ty {
        match (self, key) {
            (Ty::Root(_), "metadata") => Ty::ObjectMeta,
            (Ty::Root(Root::Pod), "spec") => Ty::PodSpec,
            (Ty::Root(Root::PodTemplate), "template") => Ty::PodTemplateSpec,
            (Ty::Root(Root::Workload), "spec") => Ty::WorkloadSpec,
            (Ty::Root(Root::CronJob), "spec") => Ty::CronJobSpec,
            (Ty::Root(Root::Service), "spec") => Ty::ServiceSpec,
            (Ty::WorkloadSpec, "template") => Ty::PodTemplateSpec,
            (Ty::CronJobSpec, "jobTemplate") => Ty::JobTemplateSpec,
            (Ty::JobTemplateSpec, "metadata") => Ty::ObjectMeta,
            (Ty::JobTemplateSpec, "spec") => Ty::WorkloadSpec,
            (Ty::PodTemplateSpec, "metadata") => Ty::ObjectMeta,
            (Ty::PodTemplateSpec, "spec") => Ty::PodSpec,
            (Ty::ObjectMeta, "finalizers") => list(&[], Elem::Plain),
            (Ty::ObjectMeta, "ownerReferences") => list(&["uid"], Elem::Plain),
            (Ty::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
                list(&["name"], Elem::Container)
            }
            (
                Ty::PodSpec,
                "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates",
            ) => list(&["name"], Elem::Plain),
            (Ty::PodSpec, "hostAliases") => list(&["ip"], Elem::Plain),
            (Ty::PodSpec, "topologySpreadConstraints") => {
                list(&["topologyKey", "whenUnsatisfiable"], Elem::Plain)
            }
            (Ty::Container, "ports") => list(&["containerPort", "protocol"], Elem::Plain),
            (Ty::Container, "env") => list(&["name"], Elem::Plain),
            (Ty::Container, "volumeMounts") => list(&["mountPath"], Elem::Plain),
            (Ty::Container, "volumeDevices") => list(&["devicePath"], Elem::Plain),
            (Ty::ServiceSpec, "ports") => list(&["port", "protocol"], Elem::Plain),
            _ => Ty::None,
        }
    }

    /// The schema of a list's elements.
    pub(super) fn element(self) -> Ty {
        match self {
            Ty::List(ListTy {
                elem: Elem::Container,
                ..
            }) => Ty::Container,
            _ => Ty::None,
        }
    }
}
