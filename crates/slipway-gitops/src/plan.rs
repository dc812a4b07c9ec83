//! The sync plan: which resources to apply and prune, in Argo CD's order —
//! phase (PreSync, Sync, PostSync, SyncFail), then wave
//! (`argocd.argoproj.io/sync-wave`, falling back to `helm.sh/hook-weight`), then
//! kind (Helm's install order, unknown kinds last), then name; a Namespace moves
//! before the first resource in it and a CRD before the first of its custom
//! resources; prune tasks run their waves in reverse, and `PruneLast` prunes
//! after the last sync wave.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slipway_model::ObjectExt;

use crate::application::option_value;
use crate::cluster::ResourceRef;
use crate::health::{HELM_HOOK_ANNOTATION, HOOK_ANNOTATION};

/// Wave annotation.
pub const SYNC_WAVE_ANNOTATION: &str = "argocd.argoproj.io/sync-wave";
/// Per-resource sync options annotation.
pub const SYNC_OPTIONS_ANNOTATION: &str = "argocd.argoproj.io/sync-options";
/// Hook delete policy annotation.
pub const HOOK_DELETE_POLICY_ANNOTATION: &str = "argocd.argoproj.io/hook-delete-policy";

/// Kind order of Helm's install sorter, which Argo CD uses.
pub const KIND_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "Ingress",
    "APIService",
];

/// Position of a kind in [`KIND_ORDER`]; unknown kinds sort after all known ones.
pub fn kind_rank(kind: &str) -> usize {
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

/// Sync phases, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SyncPhase {
    /// Before the manifests.
    PreSync,
    /// With the manifests.
    Sync,
    /// After a successful, healthy sync.
    PostSync,
    /// When the sync failed.
    SyncFail,
}

impl SyncPhase {
    /// The name Argo CD uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreSync => "PreSync",
            Self::Sync => "Sync",
            Self::PostSync => "PostSync",
            Self::SyncFail => "SyncFail",
        }
    }
}

/// How an object takes part in a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Participation {
    /// A normal resource (Sync phase).
    Resource,
    /// A hook in these phases.
    Hook(Vec<SyncPhase>),
    /// `hook: Skip`: not applied at all.
    Skip,
}

/// Reads the hook annotations (Argo CD's, then Helm's).
pub fn participation(obj: &Value) -> Participation {
    let ann = |k: &str| {
        obj.annotations()
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
    };
    if let Some(v) = ann(HOOK_ANNOTATION) {
        let mut phases = Vec::new();
        for p in v.split(',').map(str::trim) {
            match p {
                "PreSync" => phases.push(SyncPhase::PreSync),
                "Sync" => phases.push(SyncPhase::Sync),
                "PostSync" => phases.push(SyncPhase::PostSync),
                "SyncFail" => phases.push(SyncPhase::SyncFail),
                "Skip" => return Participation::Skip,
                _ => {}
            }
        }
        if !phases.is_empty() {
            return Participation::Hook(phases);
        }
    }
    if let Some(v) = ann(HELM_HOOK_ANNOTATION) {
        let mut phases = Vec::new();
        for p in v.split(',').map(str::trim) {
            match p {
                "pre-install" | "pre-upgrade" => phases.push(SyncPhase::PreSync),
                "post-install" | "post-upgrade" => phases.push(SyncPhase::PostSync),
                _ => {}
            }
        }
        phases.dedup();
        if !phases.is_empty() {
            return Participation::Hook(phases);
        }
    }
    Participation::Resource
}

/// The object's wave (default 0; Helm hook weight as fallback).
pub fn wave(obj: &Value) -> i64 {
    let ann = |k: &str| {
        obj.annotations()
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .and_then(|s| s.trim().parse::<i64>().ok())
    };
    ann(SYNC_WAVE_ANNOTATION)
        .or_else(|| ann("helm.sh/hook-weight"))
        .unwrap_or(0)
}

/// A per-resource sync option from the annotation (`Prune=false` -> `false`).
pub fn resource_option<'a>(obj: &'a Value, name: &str) -> Option<&'a str> {
    let text = obj
        .annotations()
        .and_then(|a| a.get(SYNC_OPTIONS_ANNOTATION))
        .and_then(Value::as_str)?;
    option_value(text.split(','), name)
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskAction {
    /// Create or update.
    Apply,
    /// Delete (prune).
    Prune,
}

/// One step of a sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncTask {
    /// The resource.
    pub resource: ResourceRef,
    /// Apply or prune.
    pub action: TaskAction,
    /// Phase.
    pub phase: SyncPhase,
    /// Wave (after prune reversal and PruneLast).
    pub wave: i64,
    /// Whether this is a hook.
    pub hook: bool,
    /// The object to apply (desired), or the live object being pruned.
    pub object: Value,
}

impl SyncTask {
    fn sort_key(&self) -> (SyncPhase, i64, usize, &str, &str) {
        (
            self.phase,
            self.wave,
            kind_rank(&self.resource.kind),
            self.resource.name.as_str(),
            self.resource.namespace.as_str(),
        )
    }
}

/// Orders tasks: sorts, moves Namespaces and CRDs before their dependents,
/// reverses prune waves, and puts PruneLast prunes after the last Sync wave.
pub fn order_tasks(tasks: &mut Vec<SyncTask>, app_prune_last: bool) {
    // Prune waves run in reverse: swap the lowest and highest prune waves, and so on.
    let mut prune_waves: Vec<i64> = tasks
        .iter()
        .filter(|t| t.action == TaskAction::Prune)
        .map(|t| t.wave)
        .collect();
    prune_waves.sort_unstable();
    prune_waves.dedup();
    let n = prune_waves.len();
    for t in tasks.iter_mut().filter(|t| t.action == TaskAction::Prune) {
        if let Some(i) = prune_waves.iter().position(|w| *w == t.wave) {
            t.wave = prune_waves[n - 1 - i];
        }
    }
    let last_sync_wave = tasks
        .iter()
        .filter(|t| t.phase == SyncPhase::Sync)
        .map(|t| t.wave)
        .max()
        .unwrap_or(0)
        .max(0)
        + 1;
    for t in tasks.iter_mut().filter(|t| t.action == TaskAction::Prune) {
        if app_prune_last || resource_option(&t.object, "PruneLast") == Some("true") {
            t.wave = last_sync_wave;
        }
    }
    tasks.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    // Dependencies: a Namespace before the first task in it, a CRD before the
    // first of its custom resources; the moved task takes that task's phase and wave.
    let mut i = 0;
    while i < tasks.len() {
        let t = &tasks[i];
        let target = if t.action != TaskAction::Apply {
            None
        } else if t.resource.group.is_empty() && t.resource.kind == "Namespace" {
            let ns = t.resource.name.clone();
            tasks[..i]
                .iter()
                .position(|o| o.resource.namespace == ns && o.action == TaskAction::Apply)
        } else if t.resource.group == "apiextensions.k8s.io"
            && t.resource.kind == "CustomResourceDefinition"
        {
            let group = t
                .object
                .pointer("/spec/group")
                .and_then(Value::as_str)
                .unwrap_or("");
            let kind = t
                .object
                .pointer("/spec/names/kind")
                .and_then(Value::as_str)
                .unwrap_or("");
            tasks[..i]
                .iter()
                .position(|o| o.resource.group == group && o.resource.kind == kind)
        } else {
            None
        };
        if let Some(j) = target {
            let mut moved = tasks.remove(i);
            moved.phase = tasks[j].phase;
            moved.wave = tasks[j].wave;
            tasks.insert(j, moved);
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn task(kind: &str, name: &str, ns: &str, wave_: i64, action: TaskAction) -> SyncTask {
        let group = if kind == "Deployment" { "apps" } else { "" };
        let obj = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
        SyncTask {
            resource: ResourceRef::new(group, kind, ns, name),
            action,
            phase: SyncPhase::Sync,
            wave: wave_,
            hook: false,
            object: obj,
        }
    }

    fn names(tasks: &[SyncTask]) -> Vec<String> {
        tasks
            .iter()
            .map(|t| format!("{}/{}@{}", t.resource.kind, t.resource.name, t.wave))
            .collect()
    }

    #[test]
    fn orders_by_wave_then_kind_then_name() {
        let mut tasks = vec![
            task("Deployment", "b", "ns", 0, TaskAction::Apply),
            task("Service", "a", "ns", 0, TaskAction::Apply),
            task("Widget", "w", "ns", -1, TaskAction::Apply),
            task("ConfigMap", "z", "ns", 0, TaskAction::Apply),
            task("ConfigMap", "c", "ns", 0, TaskAction::Apply),
        ];
        order_tasks(&mut tasks, false);
        assert_eq!(
            names(&tasks),
            [
                "Widget/w@-1",
                "ConfigMap/c@0",
                "ConfigMap/z@0",
                "Service/a@0",
                "Deployment/b@0"
            ]
        );
    }

    #[test]
    fn namespace_moves_before_its_first_resource() {
        let mut tasks = vec![
            task("ConfigMap", "c", "shop", -5, TaskAction::Apply),
            task("Namespace", "shop", "", 3, TaskAction::Apply),
        ];
        order_tasks(&mut tasks, false);
        assert_eq!(names(&tasks), ["Namespace/shop@-5", "ConfigMap/c@-5"]);
    }

    #[test]
    fn prune_waves_reverse_and_prune_last() {
        let mut tasks = vec![
            task("ConfigMap", "p1", "ns", 1, TaskAction::Prune),
            task("ConfigMap", "p3", "ns", 3, TaskAction::Prune),
            task("ConfigMap", "a", "ns", 2, TaskAction::Apply),
        ];
        order_tasks(&mut tasks, false);
        assert_eq!(
            names(&tasks),
            ["ConfigMap/p3@1", "ConfigMap/a@2", "ConfigMap/p1@3"]
        );
        let mut tasks = vec![
            task("ConfigMap", "p1", "ns", 0, TaskAction::Prune),
            task("ConfigMap", "a", "ns", 2, TaskAction::Apply),
        ];
        order_tasks(&mut tasks, true);
        assert_eq!(names(&tasks), ["ConfigMap/a@2", "ConfigMap/p1@3"]);
    }

    #[test]
    fn hooks_waves_and_options_from_annotations() {
        let obj = json!({"metadata": {"annotations": {
            "argocd.argoproj.io/hook": "PreSync,PostSync",
            "argocd.argoproj.io/sync-wave": "-2",
            "argocd.argoproj.io/sync-options": "Prune=false, PruneLast=true"}}});
        assert_eq!(
            participation(&obj),
            Participation::Hook(vec![SyncPhase::PreSync, SyncPhase::PostSync])
        );
        assert_eq!(wave(&obj), -2);
        assert_eq!(resource_option(&obj, "Prune"), Some("false"));
        assert_eq!(resource_option(&obj, "PruneLast"), Some("true"));
        let helm = json!({"metadata": {"annotations": {"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "5"}}});
        assert_eq!(
            participation(&helm),
            Participation::Hook(vec![SyncPhase::PreSync])
        );
        assert_eq!(wave(&helm), 5);
        assert_eq!(participation(&json!({})), Participation::Resource);
    }
}
