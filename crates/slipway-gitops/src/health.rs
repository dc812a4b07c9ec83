//! Resource health, following Argo CD's built-in checks (gitops-engine
//! `pkg/health`), and the fold of resource health into an Application's health.
//!
//! Kinds without a built-in check have no health (`None`), which is different
//! from `Unknown`: they do not count in the app's health at all.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slipway_model::ObjectExt;

/// Annotation that marks a hook.
pub const HOOK_ANNOTATION: &str = "argocd.argoproj.io/hook";
/// Helm's hook annotation (honoured as Argo CD does).
pub const HELM_HOOK_ANNOTATION: &str = "helm.sh/hook";
/// Annotation that removes a resource from the app's health.
pub const IGNORE_HEALTHCHECK_ANNOTATION: &str = "argocd.argoproj.io/ignore-healthcheck";
/// Annotation that makes a Pod's health ignore its restart policy.
pub const IGNORE_RESTART_POLICY_ANNOTATION: &str = "argocd.argoproj.io/ignore-restart-policy";
/// The reason given for workloads in an environment that runs no controllers.
pub const NO_WORKLOAD_CONTROLLER: &str = "no workload controller";

/// Health statuses, declared in Argo CD's "worse than" order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HealthStatus {
    /// All good.
    Healthy,
    /// Paused or suspended on purpose.
    Suspended,
    /// Not yet healthy, may become so.
    Progressing,
    /// Expected but not live.
    Missing,
    /// Failed.
    Degraded,
    /// Cannot be assessed.
    Unknown,
}

impl HealthStatus {
    /// The name Argo CD uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "Healthy",
            Self::Suspended => "Suspended",
            Self::Progressing => "Progressing",
            Self::Missing => "Missing",
            Self::Degraded => "Degraded",
            Self::Unknown => "Unknown",
        }
    }

    /// Parses an Argo CD health name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Healthy" => Self::Healthy,
            "Suspended" => Self::Suspended,
            "Progressing" => Self::Progressing,
            "Missing" => Self::Missing,
            "Degraded" => Self::Degraded,
            "Unknown" => Self::Unknown,
            _ => return None,
        })
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A health verdict with its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The status.
    pub status: HealthStatus,
    /// Why (may be empty).
    pub message: String,
}

impl Health {
    fn new(status: HealthStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// Whether the object is a hook (Argo CD or Helm annotation).
pub fn is_hook(obj: &Value) -> bool {
    obj.annotations().is_some_and(|a| {
        a.get(HOOK_ANNOTATION).and_then(Value::as_str).is_some()
            || a.get(HELM_HOOK_ANNOTATION)
                .and_then(Value::as_str)
                .is_some()
    })
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.annotations()
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// Kinds whose status only a controller writes; an environment without
/// controllers cannot say anything about them.
pub fn is_workload(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "apps",
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
        ) | ("batch", "Job" | "CronJob")
            | ("", "Pod" | "ReplicationController")
    )
}

/// Built-in health of a live object, or `None` when its kind has no check.
pub fn resource_health(obj: &Value) -> Option<Health> {
    let gvk = obj.gvk();
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return Some(Health::new(HealthStatus::Progressing, "Pending deletion"));
    }
    match (gvk.group.as_str(), gvk.kind.as_str()) {
        ("apps" | "extensions", "Deployment") => Some(deployment(obj)),
        ("apps", "StatefulSet") => Some(stateful_set(obj)),
        ("apps" | "extensions", "DaemonSet") => Some(daemon_set(obj)),
        ("apps" | "extensions", "ReplicaSet") => Some(replica_set(obj)),
        ("extensions" | "networking.k8s.io", "Ingress") => Some(ingress(obj)),
        ("argoproj.io", "Workflow") => Some(workflow(obj)),
        ("apiregistration.k8s.io", "APIService") => Some(api_service(obj)),
        ("", "Service") => Some(service(obj)),
        ("", "PersistentVolumeClaim") => Some(pvc(obj)),
        ("", "Pod") => Some(pod(obj)),
        ("", "Namespace") => Some(namespace(obj)),
        ("batch", "Job") => Some(job(obj)),
        ("batch", "CronJob") => Some(cron_job(obj)),
        ("autoscaling", "HorizontalPodAutoscaler") => Some(hpa(obj)),
        _ => None,
    }
}

/// Health in an environment; `runs_workloads` false means no controller ever
/// writes workload status there, so workloads are `Unknown` rather than guessed.
pub fn resource_health_in(obj: &Value, runs_workloads: bool) -> Option<Health> {
    let gvk = obj.gvk();
    if !runs_workloads && is_workload(&gvk.group, &gvk.kind) {
        return Some(Health::new(HealthStatus::Unknown, NO_WORKLOAD_CONTROLLER));
    }
    resource_health(obj)
}

fn int(obj: &Value, ptr: &str) -> Option<i64> {
    obj.pointer(ptr).and_then(Value::as_i64)
}

fn int0(obj: &Value, ptr: &str) -> i64 {
    int(obj, ptr).unwrap_or(0)
}

fn str_at<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn conditions(obj: &Value) -> Vec<&Value> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    conditions(obj)
        .into_iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn generation_observed(obj: &Value) -> bool {
    int0(obj, "/metadata/generation") <= int0(obj, "/status/observedGeneration")
}

fn deployment(obj: &Value) -> Health {
    use HealthStatus::*;
    if obj.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return Health::new(Suspended, "Deployment is paused");
    }
    let name = obj.name();
    if generation_observed(obj) {
        if let Some(c) = condition(obj, "Progressing")
            && field(c, "reason") == "ProgressDeadlineExceeded"
        {
            return Health::new(
                Degraded,
                format!("Deployment {name:?} exceeded its progress deadline"),
            );
        }
        let updated = int0(obj, "/status/updatedReplicas");
        if let Some(want) = int(obj, "/spec/replicas")
            && updated < want
        {
            return Health::new(
                Progressing,
                format!(
                    "Waiting for rollout to finish: {updated} out of {want} new replicas have been updated..."
                ),
            );
        }
        let replicas = int0(obj, "/status/replicas");
        if replicas > updated {
            return Health::new(
                Progressing,
                format!(
                    "Waiting for rollout to finish: {} old replicas are pending termination...",
                    replicas - updated
                ),
            );
        }
        let available = int0(obj, "/status/availableReplicas");
        if available < updated {
            return Health::new(
                Progressing,
                format!(
                    "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
                ),
            );
        }
    } else {
        return Health::new(
            Progressing,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        );
    }
    Health::new(Healthy, "")
}

fn stateful_set(obj: &Value) -> Health {
    use HealthStatus::*;
    let observed = int0(obj, "/status/observedGeneration");
    if observed == 0 || int0(obj, "/metadata/generation") > observed {
        return Health::new(
            Progressing,
            "Waiting for statefulset spec update to be observed...",
        );
    }
    let want = int(obj, "/spec/replicas");
    if let Some(w) = want {
        let ready = int0(obj, "/status/readyReplicas");
        if ready < w {
            return Health::new(
                Progressing,
                format!("Waiting for {} pods to be ready...", w - ready),
            );
        }
    }
    let strategy = str_at(obj, "/spec/updateStrategy/type");
    if strategy == "RollingUpdate"
        && let (Some(w), Some(partition)) = (
            want,
            int(obj, "/spec/updateStrategy/rollingUpdate/partition"),
        )
    {
        if int0(obj, "/status/updatedReplicas") < w - partition {
            return Health::new(Progressing, "Waiting for partitioned roll out to finish...");
        }
        return Health::new(Healthy, "partitioned roll out complete");
    }
    if strategy == "OnDelete" {
        return Health::new(Healthy, "statefulset has OnDelete update strategy");
    }
    if str_at(obj, "/status/updateRevision") != str_at(obj, "/status/currentRevision") {
        return Health::new(
            Progressing,
            "waiting for statefulset rolling update to complete",
        );
    }
    Health::new(Healthy, "statefulset rolling update complete")
}

fn daemon_set(obj: &Value) -> Health {
    use HealthStatus::*;
    if !generation_observed(obj) {
        return Health::new(
            Progressing,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        );
    }
    if str_at(obj, "/spec/updateStrategy/type") == "OnDelete" {
        return Health::new(Healthy, "daemon set has OnDelete update strategy");
    }
    let desired = int0(obj, "/status/desiredNumberScheduled");
    if int0(obj, "/status/updatedNumberScheduled") < desired {
        return Health::new(Progressing, "Waiting for daemon set rollout to finish");
    }
    if int0(obj, "/status/numberAvailable") < desired {
        return Health::new(Progressing, "Waiting for daemon set pods to be available");
    }
    Health::new(Healthy, "")
}

fn replica_set(obj: &Value) -> Health {
    use HealthStatus::*;
    if !generation_observed(obj) {
        return Health::new(
            Progressing,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        );
    }
    if let Some(c) = condition(obj, "ReplicaFailure")
        && field(c, "status") == "True"
    {
        return Health::new(Degraded, field(c, "message"));
    }
    if let Some(want) = int(obj, "/spec/replicas") {
        let available = int0(obj, "/status/availableReplicas");
        if available < want {
            return Health::new(
                Progressing,
                format!(
                    "Waiting for rollout to finish: {available} out of {want} new replicas are available..."
                ),
            );
        }
    }
    Health::new(Healthy, "")
}

fn has_lb_ingress(obj: &Value) -> bool {
    obj.pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

fn service(obj: &Value) -> Health {
    if str_at(obj, "/spec/type") == "LoadBalancer" && !has_lb_ingress(obj) {
        return Health::new(HealthStatus::Progressing, "");
    }
    Health::new(HealthStatus::Healthy, "")
}

fn ingress(obj: &Value) -> Health {
    if has_lb_ingress(obj) {
        Health::new(HealthStatus::Healthy, "")
    } else {
        Health::new(HealthStatus::Progressing, "")
    }
}

fn pvc(obj: &Value) -> Health {
    use HealthStatus::*;
    match str_at(obj, "/status/phase") {
        "Lost" => Health::new(Degraded, ""),
        "Pending" => Health::new(Progressing, ""),
        "Bound" => Health::new(Healthy, ""),
        other => Health::new(
            Unknown,
            format!("unknown persistent volume claim phase {other:?}"),
        ),
    }
}

fn namespace(obj: &Value) -> Health {
    match str_at(obj, "/status/phase") {
        "Terminating" => Health::new(HealthStatus::Progressing, "namespace is terminating"),
        _ => Health::new(HealthStatus::Healthy, ""),
    }
}

fn job(obj: &Value) -> Health {
    use HealthStatus::*;
    let (mut failed, mut complete, mut suspended) = (false, false, false);
    let (mut fail_msg, mut message) = (String::new(), String::new());
    for c in conditions(obj) {
        match field(c, "type") {
            "Failed" => {
                failed = true;
                complete = true;
                fail_msg = field(c, "message").to_string();
            }
            "Complete" => {
                complete = true;
                message = field(c, "message").to_string();
            }
            "Suspended" => {
                complete = true;
                message = field(c, "message").to_string();
                suspended = field(c, "status") == "True";
            }
            _ => {}
        }
    }
    if !complete {
        Health::new(Progressing, message)
    } else if failed {
        Health::new(Degraded, fail_msg)
    } else if suspended {
        Health::new(Suspended, message)
    } else {
        Health::new(Healthy, message)
    }
}

fn cron_job(obj: &Value) -> Health {
    use HealthStatus::*;
    if obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return Health::new(Suspended, "CronJob is suspended");
    }
    let active = obj
        .pointer("/status/active")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if active {
        return Health::new(Progressing, "a job is running");
    }
    Health::new(Healthy, "")
}

fn workflow(obj: &Value) -> Health {
    use HealthStatus::*;
    let message = str_at(obj, "/status/message");
    match str_at(obj, "/status/phase") {
        "" | "Pending" | "Running" => Health::new(Progressing, message),
        "Succeeded" => Health::new(Healthy, message),
        "Failed" | "Error" => Health::new(Degraded, message),
        _ => Health::new(Unknown, message),
    }
}

fn api_service(obj: &Value) -> Health {
    use HealthStatus::*;
    match condition(obj, "Available") {
        Some(c) if field(c, "status") == "True" => Health::new(
            Healthy,
            format!("{}: {}", field(c, "reason"), field(c, "message")),
        ),
        Some(c) => Health::new(
            Progressing,
            format!("{}: {}", field(c, "reason"), field(c, "message")),
        ),
        None => Health::new(Progressing, "Waiting to be processed"),
    }
}

fn hpa(obj: &Value) -> Health {
    use HealthStatus::*;
    let gvk = obj.gvk();
    let conds: Vec<Value> = if gvk.version == "v1" {
        annotation(obj, "autoscaling.alpha.kubernetes.io/conditions")
            .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
            .unwrap_or_default()
    } else {
        conditions(obj).into_iter().cloned().collect()
    };
    for c in &conds {
        let (t, r) = (field(c, "type"), field(c, "reason"));
        let degraded =
            matches!(
                (t, r),
                ("AbleToScale", "FailedGetScale" | "FailedUpdateScale")
                    | ("ScalingActive", "InvalidSelector")
            ) || (t == "ScalingActive" && r.starts_with("FailedGet") && r.ends_with("Metric"));
        if degraded {
            return Health::new(Degraded, field(c, "message"));
        }
    }
    // An HPA that has not (yet) said it is able to scale is still waiting.
    let able = conds
        .iter()
        .any(|c| field(c, "type") == "AbleToScale" && field(c, "status") == "True");
    if !able {
        return Health::new(Progressing, "Waiting to Autoscale");
    }
    for c in &conds {
        let (t, r) = (field(c, "type"), field(c, "reason"));
        let degraded =
            matches!(
                (t, r),
                ("AbleToScale", "FailedGetScale" | "FailedUpdateScale")
                    | ("ScalingActive", "InvalidSelector")
            ) || (t == "ScalingActive" && r.starts_with("FailedGet") && r.ends_with("Metric"));
        if degraded {
            return Health::new(Degraded, field(c, "message"));
        }
        let healthy = matches!(
            (t, r),
            ("AbleToScale", "SucceededRescale")
                | (
                    "ScalingLimited",
                    "DesiredWithinRange" | "TooFewReplicas" | "TooManyReplicas"
                )
        );
        if healthy {
            return Health::new(Healthy, field(c, "message"));
        }
    }
    Health::new(Progressing, "Waiting to Autoscale")
}

fn pod(obj: &Value) -> Health {
    use HealthStatus::*;
    let restart = match str_at(obj, "/spec/restartPolicy") {
        "" => "Always",
        other => other,
    };
    // The ignore-restart-policy annotation makes a Never/OnFailure Pod be
    // judged like a long-running one, except for hooks, which must finish.
    let ignore_restart =
        annotation(obj, IGNORE_RESTART_POLICY_ANNOTATION) == Some("true") && !is_hook(obj);
    let long_running = restart == "Always" || ignore_restart;
    let statuses: Vec<&Value> = ["/status/initContainerStatuses", "/status/containerStatuses"]
        .iter()
        .filter_map(|p| obj.pointer(p).and_then(Value::as_array))
        .flatten()
        .collect();
    let main_statuses: Vec<&Value> = obj
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    if long_running {
        let mut messages = Vec::new();
        let mut degraded = false;
        for cs in &statuses {
            if let Some(w) = cs.pointer("/state/waiting") {
                let reason = field(w, "reason");
                if reason.starts_with("Err")
                    || reason.ends_with("Error")
                    || reason.ends_with("BackOff")
                {
                    degraded = true;
                    messages.push(field(w, "message").to_string());
                }
            }
        }
        if degraded {
            return Health::new(Degraded, messages.join(", "));
        }
    }
    let message = str_at(obj, "/status/message");
    match str_at(obj, "/status/phase") {
        "Pending" => Health::new(Progressing, message),
        "Succeeded" => Health::new(Healthy, message),
        "Failed" => {
            if !message.is_empty() {
                return Health::new(Degraded, message);
            }
            for cs in &statuses {
                if let Some(t) = cs.pointer("/state/terminated") {
                    let m = field(t, "message");
                    if !m.is_empty() {
                        return Health::new(Degraded, m);
                    }
                }
            }
            Health::new(Degraded, "")
        }
        "Running" => {
            if long_running {
                let ready = condition(obj, "Ready").is_some_and(|c| field(c, "status") == "True");
                if ready {
                    return Health::new(Healthy, message);
                }
                if main_statuses
                    .iter()
                    .any(|cs| cs.pointer("/lastState/terminated").is_some())
                {
                    return Health::new(Degraded, message);
                }
                Health::new(Progressing, message)
            } else {
                Health::new(Progressing, message)
            }
        }
        _ => Health::new(Unknown, message),
    }
}

/// One managed resource as the app-health fold sees it.
#[derive(Debug, Clone)]
pub struct ResourceHealthInput<'a> {
    /// API group.
    pub group: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Namespace (may be empty).
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// The desired object, when Git has it.
    pub target: Option<&'a Value>,
    /// The live object, when it exists.
    pub live: Option<&'a Value>,
    /// The resource's own health (None = no check). For a resource with a
    /// target and no live object the fold uses `Missing`.
    pub health: Option<Health>,
}

/// The app's health and the "Caused by ..." summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppHealth {
    /// Worst status.
    pub status: HealthStatus,
    /// `Caused by ...` or empty.
    pub causes: String,
}

/// Folds resource health into the app's health (Argo CD `setApplicationHealth`).
pub fn app_health(resources: &[ResourceHealthInput<'_>]) -> AppHealth {
    let mut status = HealthStatus::Healthy;
    let mut contributing: Vec<(HealthStatus, String)> = Vec::new();
    let mut any_live = false;
    let mut counted = 0usize;
    for r in resources {
        let obj = r.live.or(r.target);
        if obj.is_some_and(is_hook) {
            continue;
        }
        // A live object that opted out of health still counts as live (the app
        // is not Missing), unlike a hook.
        if r.live.is_some() {
            any_live = true;
        }
        if obj.is_some_and(|o| annotation(o, IGNORE_HEALTHCHECK_ANNOTATION) == Some("true")) {
            continue;
        }
        let health = if r.live.is_none() {
            if r.target.is_none() {
                continue;
            }
            Some(HealthStatus::Missing)
        } else {
            r.health.as_ref().map(|h| h.status)
        };
        let Some(h) = health else { continue };
        counted += 1;
        // A missing resource does not count against the app while others are
        // live; a child Application that is Missing or Unknown is ignored.
        if h == HealthStatus::Missing && r.live.is_none() {
            continue;
        }
        if r.group == "argoproj.io"
            && r.kind == "Application"
            && matches!(h, HealthStatus::Missing | HealthStatus::Unknown)
        {
            continue;
        }
        let key = if r.group.is_empty() {
            format!("{}:", r.kind)
        } else {
            format!("{}/{}:", r.group, r.kind)
        };
        let key = if r.namespace.is_empty() {
            format!("{key}{}", r.name)
        } else {
            format!("{key}{}/{}", r.namespace, r.name)
        };
        contributing.push((h, key));
        if h > status {
            status = h;
        }
    }
    if !any_live && counted > 0 {
        return AppHealth {
            status: HealthStatus::Missing,
            causes: String::new(),
        };
    }
    let causes = if status == HealthStatus::Healthy {
        String::new()
    } else {
        let names: Vec<&String> = contributing
            .iter()
            .filter(|(h, _)| *h == status)
            .map(|(_, k)| k)
            .collect();
        let mut text = names
            .iter()
            .take(3)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > 3 {
            text.push_str(&format!(" and {} more", names.len() - 3));
        }
        format!("Caused by {text}")
    };
    AppHealth { status, causes }
}

#[cfg(test)]
mod tests;
