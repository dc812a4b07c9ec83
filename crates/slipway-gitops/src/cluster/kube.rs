//! The Kubernetes backend: a [`KubeCluster`] reaches a real API server through
//! kube-rs, chosen by a kubeconfig file and context (`slipway.yaml`:
//! `target: {kubeconfig: {path, context}}`).
//!
//! What it owns:
//! - loading the kubeconfig and selecting the context, with errors that name
//!   the file and list the contexts it has;
//! - API discovery, mapped into a [`DiscoveryMap`] from (group, version, kind)
//!   to the plural resource name and scope; a kind it does not know triggers one
//!   fresh discovery (a CRD applied earlier in the same sync);
//! - get, list (label selectors run on the server), server-side apply as a
//!   field manager with `force=true` (conflicting fields are taken over, as Argo
//!   CD's `ServerSideApply=true` does with `--force-conflicts`), delete with a
//!   propagation policy (foreground by default, Argo CD's prune default) that
//!   waits until the object is gone;
//! - listing by tracking annotation: the annotation cannot be selected on the
//!   server, so every listable kind is scanned as metadata only (skipping the
//!   kinds Argo CD excludes by default: events, leases, endpoints, reviews,
//!   metrics) into an index of which kinds hold which app's objects, reused
//!   for a few seconds; only those kinds are then read in full;
//! - [`Cluster::events_since`] as a short watch per kind this handle has
//!   touched, resumed from the given revision (see its docs for the semantics).
//!
//! The [`Cluster`] trait is synchronous and is called from plain threads, from
//! `spawn_blocking` and from the CLI. So each handle owns a small tokio runtime
//! (one worker thread) and every call spawns its future there and waits on a
//! channel; that never nests `block_on` in a caller's runtime, whichever
//! thread calls. Every request has a deadline, so an unreachable server gives
//! an error, not a hang.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroupList, APIResourceList, APIVersions};
use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use kube::core::params::{
    DeleteParams, ListParams, Patch, PatchParams, PropagationPolicy, ValidationDirective,
    WatchParams,
};
use kube::core::{Request, WatchEvent as KubeWatchEvent};
use serde_json::Value;
use slipway_model::ObjectExt;

use super::{
    Cluster, ClusterError, EventType, LabelRequirement, ResourceRef, Selector, WatchEvent,
};
use crate::tracking;

/// Kinds never listed when looking for tracked objects: Argo CD's default
/// `resource.exclusions` (high churn, or not objects anyone applies).
/// `*` matches every kind of the group.
pub const EXCLUDED_KINDS: &[(&str, &str)] = &[
    ("", "Event"),
    ("events.k8s.io", "Event"),
    ("", "Endpoints"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("coordination.k8s.io", "Lease"),
    ("authentication.k8s.io", "*"),
    ("authorization.k8s.io", "*"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("metrics.k8s.io", "*"),
];

/// How many kinds are listed at once when scanning for tracked objects.
const LIST_CONCURRENCY: usize = 4;
/// Page size of list calls.
const PAGE_SIZE: u32 = 500;
/// An unknown kind triggers a new discovery when the last one is this old.
pub const REDISCOVER_AFTER: Duration = Duration::from_secs(10);
/// How long a scan of which kinds hold which app's objects is reused.
pub const TRACKED_SCAN_TTL: Duration = Duration::from_secs(5);
/// How long after applying a CRD its kinds are waited for.
pub const CRD_SETTLE: Duration = Duration::from_secs(10);

/// When to discover again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// Use what is known.
    No,
    /// When the API may have changed.
    IfStale,
    /// Always.
    Force,
}

/// A Kubernetes backend failed. Messages say which object and verb, and what to
/// check.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The kubeconfig did not load.
    #[error("cannot load kubeconfig {path}: {detail}")]
    Kubeconfig {
        /// The file (or `$KUBECONFIG / ~/.kube/config`).
        path: String,
        /// What went wrong, with its causes.
        detail: String,
    },
    /// The named context is not in the kubeconfig.
    #[error("kubeconfig {path} has no context {context:?} (contexts: {known})")]
    UnknownContext {
        /// The file.
        path: String,
        /// The context asked for.
        context: String,
        /// The contexts it has.
        known: String,
    },
    /// No context was named and the kubeconfig has no current-context.
    #[error(
        "kubeconfig {path} sets no current-context\nhint: name one in slipway.yaml: target: {{kubeconfig: {{context: NAME}}}} (contexts: {known})"
    )]
    NoContext {
        /// The file.
        path: String,
        /// The contexts it has.
        known: String,
    },
    /// The API server could not be reached (refused, DNS, TLS, timeout).
    #[error(
        "cannot reach the API server {server} ({what}): {detail}\nhint: check that the cluster is up and that the kubeconfig context points at it"
    )]
    Unreachable {
        /// The server URL.
        server: String,
        /// The operation.
        what: String,
        /// The transport error and its causes.
        detail: String,
    },
    /// The API server did not answer in time.
    #[error("{what}: no answer from the API server {server} within {secs}s")]
    Timeout {
        /// The server URL.
        server: String,
        /// The operation.
        what: String,
        /// The deadline.
        secs: u64,
    },
    /// The credentials were rejected.
    #[error(
        "{what}: unauthorized by {server}: {message}\nhint: the kubeconfig user's credentials are missing or expired"
    )]
    Unauthorized {
        /// The server URL.
        server: String,
        /// The operation.
        what: String,
        /// The server's message.
        message: String,
    },
    /// RBAC denied the request.
    #[error("{what}: forbidden: {message}")]
    Forbidden {
        /// The operation.
        what: String,
        /// The server's message (names the user, verb and resource).
        message: String,
    },
    /// The API server serves no such kind.
    #[error("kind {kind} of apiVersion {api_version} is not served by the API server{hint}")]
    UnknownKind {
        /// The apiVersion asked for.
        api_version: String,
        /// The kind.
        kind: String,
        /// What to check (other served versions, failed discovery).
        hint: String,
    },
    /// Any other API error.
    #[error("{what}: {reason} ({code}): {message}")]
    Api {
        /// The operation.
        what: String,
        /// HTTP status.
        code: u16,
        /// Kubernetes reason (`Conflict`, `InternalError`...).
        reason: String,
        /// The server's message.
        message: String,
    },
    /// Watching from a revision the API server no longer keeps.
    #[error(
        "watch {what} from revision {revision}: the API server no longer keeps changes that old\nhint: list again and watch from a newer revision"
    )]
    Expired {
        /// The collection watched.
        what: String,
        /// The revision asked for.
        revision: u64,
    },
    /// A deletion did not finish in time.
    #[error("delete {resource}: still present after {waited:?} (finalizers: {finalizers})")]
    DeleteTimeout {
        /// The object.
        resource: String,
        /// The wait.
        waited: Duration,
        /// Its finalizers, which hold it.
        finalizers: String,
    },
    /// A resourceVersion is not a number, so changes cannot be ordered.
    #[error("{resource}: resourceVersion {value:?} is not a number")]
    Revision {
        /// The object.
        resource: String,
        /// The value.
        value: String,
    },
    /// The client could not be built (TLS material, runtime).
    #[error("cannot build the Kubernetes client for {server}: {detail}")]
    Client {
        /// The server URL.
        server: String,
        /// What went wrong.
        detail: String,
    },
}

/// Tunables of a [`KubeCluster`].
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// TCP/TLS connect deadline.
    pub connect_timeout: Duration,
    /// Deadline for one whole call (discovery, a paged list, an apply).
    pub request_timeout: Duration,
    /// How long `delete` waits for the object to be gone (zero: do not wait).
    pub delete_wait: Duration,
    /// Propagation policy of deletes.
    pub propagation: PropagationPolicy,
    /// How long `events_since` keeps each watch open, in seconds (at least 1).
    pub watch_seconds: u32,
}

impl Default for KubeOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            delete_wait: Duration::from_secs(60),
            propagation: PropagationPolicy::Foreground,
            watch_seconds: 1,
        }
    }
}

/// One served resource: where a (group, version, kind) lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceInfo {
    /// API group (empty for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Plural resource name (`deployments`).
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Verbs the server supports on it.
    pub verbs: Vec<String>,
}

impl ResourceInfo {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The collection URL path, in `namespace` when the kind is namespaced and
    /// one is given.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace.filter(|ns| self.namespaced && !ns.is_empty()) {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", self.plural),
            None => format!("{base}/{}", self.plural),
        }
    }

    fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    fn excluded(&self) -> bool {
        EXCLUDED_KINDS
            .iter()
            .any(|(g, k)| *g == self.group && (*k == "*" || *k == self.kind))
    }
}

/// The versions of one API group, most preferred first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupVersions {
    /// The group (empty for core).
    pub group: String,
    /// Its versions, the preferred one first.
    pub versions: Vec<String>,
}

/// The groups an API server serves, from `/api` and `/apis`.
pub fn served_groups(core: &APIVersions, groups: &APIGroupList) -> Vec<GroupVersions> {
    let mut out = vec![GroupVersions {
        group: String::new(),
        versions: core.versions.clone(),
    }];
    for g in &groups.groups {
        let mut versions: Vec<String> = Vec::new();
        if let Some(p) = &g.preferred_version {
            versions.push(p.version.clone());
        }
        for v in &g.versions {
            if !versions.contains(&v.version) {
                versions.push(v.version.clone());
            }
        }
        out.push(GroupVersions {
            group: g.name.clone(),
            versions,
        });
    }
    out
}

/// The result of API discovery: (group, version, kind) to resource, and each
/// (group, kind) to its preferred served version.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryMap {
    exact: HashMap<(String, String, String), ResourceInfo>,
    preferred: BTreeMap<(String, String), ResourceInfo>,
    /// `group/version` whose discovery failed, with why (an aggregated API
    /// that is down answers 503; kubectl warns and goes on, so do we).
    pub failed: BTreeMap<String, String>,
}

impl DiscoveryMap {
    /// Builds the map from the served groups and each group version's resource
    /// list (or why it could not be read). Subresources (`pods/status`) are
    /// skipped.
    pub fn from_lists(
        groups: &[GroupVersions],
        lists: Vec<(String, String, Result<APIResourceList, String>)>,
    ) -> Self {
        let mut map = Self::default();
        let mut by_gv: HashMap<(String, String), APIResourceList> = HashMap::new();
        for (group, version, list) in lists {
            match list {
                Ok(l) => {
                    by_gv.insert((group, version), l);
                }
                Err(e) => {
                    let gv = if group.is_empty() {
                        version
                    } else {
                        format!("{group}/{version}")
                    };
                    map.failed.insert(gv, e);
                }
            }
        }
        for g in groups {
            for v in &g.versions {
                let Some(list) = by_gv.get(&(g.group.clone(), v.clone())) else {
                    continue;
                };
                for r in &list.resources {
                    if r.name.contains('/') {
                        continue;
                    }
                    let info = ResourceInfo {
                        group: r.group.clone().unwrap_or_else(|| g.group.clone()),
                        version: r.version.clone().unwrap_or_else(|| v.clone()),
                        kind: r.kind.clone(),
                        plural: r.name.clone(),
                        namespaced: r.namespaced,
                        verbs: r.verbs.clone(),
                    };
                    // Versions come most preferred first: the first seen wins.
                    map.preferred
                        .entry((info.group.clone(), info.kind.clone()))
                        .or_insert_with(|| info.clone());
                    map.exact
                        .entry((info.group.clone(), info.version.clone(), info.kind.clone()))
                        .or_insert(info);
                }
            }
        }
        map
    }

    /// The resource serving exactly this group, version and kind.
    pub fn resolve(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceInfo> {
        self.exact
            .get(&(group.to_string(), version.to_string(), kind.to_string()))
    }

    /// The preferred served version of a (group, kind).
    pub fn preferred(&self, group: &str, kind: &str) -> Option<&ResourceInfo> {
        self.preferred.get(&(group.to_string(), kind.to_string()))
    }

    /// Kinds that can be listed and are not excluded, one (preferred) version
    /// each, in (group, kind) order.
    pub fn listable(&self) -> Vec<&ResourceInfo> {
        self.preferred
            .values()
            .filter(|r| r.supports("list") && !r.excluded())
            .collect()
    }

    /// Number of (group, kind) pairs served.
    pub fn len(&self) -> usize {
        self.preferred.len()
    }

    /// Whether nothing is served.
    pub fn is_empty(&self) -> bool {
        self.preferred.is_empty()
    }

    /// Why a kind is unknown: which versions of it are served, or which group
    /// versions failed discovery.
    fn unknown_hint(&self, group: &str, kind: &str) -> String {
        let served: Vec<String> = self
            .exact
            .values()
            .filter(|r| r.group == group && r.kind == kind)
            .map(ResourceInfo::api_version)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !served.is_empty() {
            return format!(" (served as: {})", served.join(", "));
        }
        let failed: Vec<&String> = self
            .failed
            .keys()
            .filter(|gv| {
                gv.split('/').next() == Some(group) || (group.is_empty() && !gv.contains('/'))
            })
            .collect();
        if !failed.is_empty() {
            let list: Vec<String> = failed
                .iter()
                .map(|gv| format!("{gv}: {}", self.failed[*gv]))
                .collect();
            return format!(" (discovery failed for {})", list.join("; "));
        }
        "\nhint: is its CustomResourceDefinition installed?".into()
    }
}

/// The label selector query string for requirements (`app=web,tier!=db,env,!legacy`).
pub fn label_selector(labels: &[LabelRequirement]) -> String {
    labels
        .iter()
        .map(|r| match r {
            LabelRequirement::Equals(k, v) => format!("{k}={v}"),
            LabelRequirement::NotEquals(k, v) => format!("{k}!={v}"),
            LabelRequirement::Exists(k) => k.clone(),
            LabelRequirement::NotExists(k) => format!("!{k}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Server-side apply parameters: `manager` owns the fields it sends, conflicts
/// with other managers are forced (Argo CD's `ServerSideApply=true` applies
/// with `--force-conflicts`), and unknown or duplicate fields are errors, as
/// `kubectl apply` validates by default.
pub fn ssa_params(manager: &str) -> PatchParams {
    PatchParams::apply(manager)
        .force()
        .validation(ValidationDirective::Strict)
}

/// The object as sent in an apply: server-populated metadata is dropped, so an
/// object read back from any environment can be applied again (the API server
/// rejects `managedFields` in an apply body and would treat `resourceVersion`
/// and `uid` as preconditions).
pub fn apply_body(object: &Value) -> Value {
    let mut body = object.clone();
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            meta.remove(k);
        }
    }
    if let Some(m) = body.as_object_mut() {
        m.remove("status");
    }
    body
}

/// The HTTP request of a server-side apply of `object` to `info`.
pub fn apply_request(
    info: &ResourceInfo,
    object: &Value,
    manager: &str,
) -> Result<http::Request<Vec<u8>>, KubeError> {
    let name = object.name();
    let body = apply_body(object);
    Request::new(info.collection_path(object.namespace()))
        .patch(name, &ssa_params(manager), &Patch::Apply(&body))
        .map_err(|e| KubeError::Client {
            server: String::new(),
            detail: format!("apply {}: {}", ResourceRef::of(object), chain(&e)),
        })
}

/// The HTTP request deleting `r` (served by `info`) with `policy`.
pub fn delete_request(
    info: &ResourceInfo,
    r: &ResourceRef,
    policy: PropagationPolicy,
) -> Result<http::Request<Vec<u8>>, KubeError> {
    let dp = DeleteParams {
        propagation_policy: Some(policy),
        ..DeleteParams::default()
    };
    Request::new(info.collection_path(Some(&r.namespace)))
        .delete(&r.name, &dp)
        .map_err(|e| KubeError::Client {
            server: String::new(),
            detail: format!("delete {r}: {}", chain(&e)),
        })
}

/// An error and its causes, joined with `: `.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// The kubeconfig a target names: `path`, or `$KUBECONFIG` / `~/.kube/config`
/// when empty; and the context to use (`context`, or its current-context).
pub fn load_kubeconfig(path: &str, context: &str) -> Result<(Kubeconfig, String), KubeError> {
    let label = if path.is_empty() {
        "$KUBECONFIG or ~/.kube/config".to_string()
    } else {
        path.to_string()
    };
    let loaded = if path.is_empty() {
        Kubeconfig::read()
    } else {
        Kubeconfig::read_from(Path::new(path))
    };
    let kc = loaded.map_err(|e| KubeError::Kubeconfig {
        path: label.clone(),
        detail: chain(&e),
    })?;
    let known = || {
        let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let chosen = if context.is_empty() {
        match kc.current_context.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => c.to_string(),
            None => {
                return Err(KubeError::NoContext {
                    path: label,
                    known: known(),
                });
            }
        }
    } else {
        context.to_string()
    };
    if !kc.contexts.iter().any(|c| c.name == chosen) {
        return Err(KubeError::UnknownContext {
            path: label,
            context: chosen,
            known: known(),
        });
    }
    Ok((kc, chosen))
}

/// Maps a kube-rs error of operation `what` to a [`KubeError`].
fn map_kube_error(server: &str, what: &str, e: kube::Error) -> KubeError {
    match e {
        kube::Error::Api(status) => {
            let message = status.message.clone();
            match status.code {
                401 => KubeError::Unauthorized {
                    server: server.into(),
                    what: what.into(),
                    message,
                },
                403 => KubeError::Forbidden {
                    what: what.into(),
                    message,
                },
                code => KubeError::Api {
                    what: what.into(),
                    code,
                    reason: status.reason.clone(),
                    message,
                },
            }
        }
        kube::Error::SerdeError(_) | kube::Error::BuildRequest(_) => KubeError::Client {
            server: server.into(),
            detail: format!("{what}: {}", chain(&e)),
        },
        other => KubeError::Unreachable {
            server: server.into(),
            what: what.into(),
            detail: chain(&other),
        },
    }
}

fn api_code(e: &KubeError) -> Option<u16> {
    match e {
        KubeError::Api { code, .. } => Some(*code),
        _ => None,
    }
}

fn revision_of(obj: &Value) -> Result<u64, KubeError> {
    let rv = obj
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    rv.parse().map_err(|_| KubeError::Revision {
        resource: ResourceRef::of(obj).to_string(),
        value: rv.into(),
    })
}

/// The manager of the latest write recorded in `managedFields`.
fn last_manager(obj: &Value) -> String {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .and_then(|entries| {
            entries
                .iter()
                .max_by_key(|e| e.get("time").and_then(Value::as_str).unwrap_or(""))
        })
        .and_then(|e| e.get("manager"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// State shared by the calls of one handle.
#[derive(Debug, Default)]
struct State {
    discovery: Option<Arc<DiscoveryMap>>,
    discovered_at: Option<Instant>,
    /// When this handle last applied or deleted a CustomResourceDefinition or
    /// APIService, which changes what the server serves.
    api_changed_at: Option<Instant>,
    /// Which kinds hold which app's objects.
    tracked: Option<Arc<TrackedIndex>>,
    /// Kinds this handle touched: what `events_since` watches.
    touched: BTreeMap<(String, String), ResourceInfo>,
}

/// Which kinds hold the objects of which Application, from one metadata-only
/// scan of every listable kind. It saves listing every kind of the cluster for
/// every app: within [`TRACKED_SCAN_TTL`] only the kinds known to hold an app's
/// objects are listed. Applies through this handle add to it, so an app's own
/// writes are never missed; a kind that only someone else's write made hold
/// an app's objects shows up at the next scan.
#[derive(Debug, Clone)]
struct TrackedIndex {
    scanned_at: Instant,
    kinds_by_app: HashMap<String, BTreeMap<(String, String), ResourceInfo>>,
}

impl TrackedIndex {
    fn add(&mut self, app: &str, info: &ResourceInfo) {
        self.kinds_by_app
            .entry(app.to_string())
            .or_default()
            .entry((info.group.clone(), info.kind.clone()))
            .or_insert_with(|| info.clone());
    }

    fn kinds_of(&self, app: &str) -> impl Iterator<Item = &ResourceInfo> {
        self.kinds_by_app
            .get(app)
            .into_iter()
            .flat_map(|m| m.values())
    }
}

/// A kind and the apps whose objects it holds.
type KindApps = (ResourceInfo, BTreeSet<String>);

/// A Kubernetes cluster reached through a kubeconfig context.
pub struct KubeCluster {
    name: String,
    server: String,
    context: String,
    client: Client,
    options: KubeOptions,
    state: Mutex<State>,
    // Declared last: dropped after the client (see `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster")
            .field("name", &self.name)
            .field("server", &self.server)
            .field("context", &self.context)
            .finish()
    }
}

impl Drop for KubeCluster {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks stop, which panics when the
        // handle is dropped inside some other async context: shut it down in the
        // background instead.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl KubeCluster {
    /// Connects environment `name` to the cluster of kubeconfig `path`
    /// (`$KUBECONFIG` / `~/.kube/config` when empty) and `context` (the
    /// current one when empty). Nothing is sent yet: the first call discovers
    /// the API.
    pub fn connect(name: &str, path: &str, context: &str) -> Result<Self, ClusterError> {
        Self::connect_with(name, path, context, KubeOptions::default())
    }

    /// [`KubeCluster::connect`] with tunables.
    pub fn connect_with(
        name: &str,
        path: &str,
        context: &str,
        options: KubeOptions,
    ) -> Result<Self, ClusterError> {
        let wrap = |e: KubeError| ClusterError::Kubernetes {
            env: name.to_string(),
            error: Box::new(e),
        };
        let (kc, context) = load_kubeconfig(path, context).map_err(wrap)?;
        let label = if path.is_empty() {
            "$KUBECONFIG or ~/.kube/config".to_string()
        } else {
            path.to_string()
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("slipway-kube")
            .enable_all()
            .build()
            .map_err(|e| {
                wrap(KubeError::Client {
                    server: label.clone(),
                    detail: format!("cannot start the client runtime: {e}"),
                })
            })?;
        let opts = KubeConfigOptions {
            context: Some(context.clone()),
            ..KubeConfigOptions::default()
        };
        let connect_timeout = options.connect_timeout;
        let request_timeout = options.request_timeout;
        let built = run_on(&runtime, request_timeout, async move {
            let mut config = Config::from_custom_kubeconfig(kc, &opts)
                .await
                .map_err(|e| KubeError::Kubeconfig {
                    path: label.clone(),
                    detail: format!("context {context:?}: {}", chain(&e)),
                })?;
            config.connect_timeout = Some(connect_timeout);
            config.read_timeout = Some(request_timeout);
            let server = config.cluster_url.to_string();
            let client = Client::try_from(config).map_err(|e| KubeError::Client {
                server: server.clone(),
                detail: chain(&e),
            })?;
            Ok::<_, KubeError>((client, server, context))
        });
        let (client, server, context) = match built {
            Some(r) => r.map_err(wrap)?,
            None => {
                return Err(wrap(KubeError::Timeout {
                    server: String::new(),
                    what: "build client".into(),
                    secs: request_timeout.as_secs(),
                }));
            }
        };
        Ok(Self {
            name: name.to_string(),
            server: server.trim_end_matches('/').to_string(),
            context,
            client,
            options,
            state: Mutex::new(State::default()),
            runtime: Some(runtime),
        })
    }

    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The kubeconfig context in use.
    pub fn context(&self) -> &str {
        &self.context
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic elsewhere; the state is a cache.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, e: KubeError) -> ClusterError {
        ClusterError::Kubernetes {
            env: self.name.clone(),
            error: Box::new(e),
        }
    }

    /// Runs `fut` on the handle's runtime with the request deadline.
    fn run<T, F>(&self, what: &str, fut: F) -> Result<T, ClusterError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, KubeError>> + Send + 'static,
    {
        let timeout = self.options.request_timeout;
        let outcome = match &self.runtime {
            Some(rt) => run_on(rt, timeout, fut),
            None => None,
        };
        match outcome {
            Some(r) => r.map_err(|e| self.err(e)),
            None => Err(self.err(KubeError::Timeout {
                server: self.server.clone(),
                what: what.into(),
                secs: timeout.as_secs(),
            })),
        }
    }

    /// The discovery map: discovered when there is none yet, again when
    /// `refresh` says so.
    fn discovery(&self, refresh: Refresh) -> Result<Arc<DiscoveryMap>, ClusterError> {
        {
            let st = self.lock();
            if let Some(d) = &st.discovery {
                let stale = match refresh {
                    Refresh::No => false,
                    Refresh::Force => true,
                    Refresh::IfStale => {
                        let age = st.discovered_at.map_or(Duration::MAX, |t| t.elapsed());
                        let api_changed = match (st.api_changed_at, st.discovered_at) {
                            (Some(c), Some(d)) => c >= d,
                            (Some(_), None) => true,
                            _ => false,
                        };
                        api_changed || age >= REDISCOVER_AFTER
                    }
                };
                if !stale {
                    return Ok(d.clone());
                }
            }
        }
        let client = self.client.clone();
        let server = self.server.clone();
        let map = self.run("discover API", discover(client, server))?;
        let map = Arc::new(map);
        let mut st = self.lock();
        st.discovery = Some(map.clone());
        st.discovered_at = Some(Instant::now());
        Ok(map)
    }

    /// The resource serving `group/version/kind` (the preferred version when
    /// `version` is None). An unknown kind is looked up again when the API
    /// may have changed since the last discovery (a CRD applied through this
    /// handle, or discovery older than [`REDISCOVER_AFTER`]); after a CRD was
    /// applied it is polled for [`CRD_SETTLE`], the time a new CRD takes to be
    /// served.
    fn resource(
        &self,
        group: &str,
        version: Option<&str>,
        kind: &str,
    ) -> Result<Result<ResourceInfo, KubeError>, ClusterError> {
        let find = |d: &DiscoveryMap| match version {
            Some(v) => d.resolve(group, v, kind).cloned(),
            None => d.preferred(group, kind).cloned(),
        };
        let mut d = self.discovery(Refresh::No)?;
        let mut found = find(&d);
        if found.is_none() {
            d = self.discovery(Refresh::IfStale)?;
            found = find(&d);
        }
        while found.is_none()
            && self
                .lock()
                .api_changed_at
                .is_some_and(|t| t.elapsed() < CRD_SETTLE)
        {
            std::thread::sleep(Duration::from_millis(500));
            d = self.discovery(Refresh::Force)?;
            found = find(&d);
        }
        Ok(match found {
            Some(info) => Ok(info),
            None => Err(KubeError::UnknownKind {
                api_version: match version {
                    Some(v) if group.is_empty() => v.to_string(),
                    Some(v) => format!("{group}/{v}"),
                    None if group.is_empty() => "(any version)".into(),
                    None => format!("{group}/(any version)"),
                },
                kind: kind.into(),
                hint: d.unknown_hint(group, kind),
            }),
        })
    }

    /// Records that `info` was used, so `events_since` watches it.
    fn touch(&self, info: &ResourceInfo) {
        self.lock()
            .touched
            .entry((info.group.clone(), info.kind.clone()))
            .or_insert_with(|| info.clone());
    }

    /// Notes a change to what the API server serves.
    fn note_api_change(&self, info: &ResourceInfo) {
        let changes_api = matches!(
            (info.group.as_str(), info.kind.as_str()),
            ("apiextensions.k8s.io", "CustomResourceDefinition")
                | ("apiregistration.k8s.io", "APIService")
        );
        if changes_api {
            self.lock().api_changed_at = Some(Instant::now());
        }
    }

    fn invalid(r: &ResourceRef, message: &str) -> ClusterError {
        ClusterError::Invalid {
            resource: r.to_string(),
            message: message.into(),
        }
    }

    /// Lists one kind (all pages), filling in apiVersion and kind, which the
    /// API server leaves out of list items.
    fn list_kind(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        labels: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        let client = self.client.clone();
        let server = self.server.clone();
        let info = info.clone();
        let ns = namespace.map(str::to_string);
        let labels = labels.to_string();
        let used = info.clone();
        let items = self.run("list", async move {
            list_all(&client, &server, &info, ns.as_deref(), &labels, false).await
        })?;
        self.touch(&used);
        Ok(items)
    }

    /// Objects tracked by `app` across every listable kind: the kinds that
    /// hold the app's objects come from the [`TrackedIndex`], then those kinds
    /// are listed in full (so the objects are always current).
    fn list_tracked(
        &self,
        app: &str,
        sel: &Selector,
        labels: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        let index = self.tracked_index()?;
        let kinds: Vec<ResourceInfo> = index
            .kinds_of(app)
            .filter(|r| match sel.namespace.as_deref() {
                Some("") => !r.namespaced,
                Some(_) => r.namespaced,
                None => true,
            })
            .cloned()
            .collect();
        let mut out = Vec::new();
        for info in kinds {
            match self.list_kind(&info, sel.namespace.as_deref(), labels) {
                Ok(items) => out.extend(
                    items
                        .into_iter()
                        .filter(|o| tracking::tracked_app(o).as_deref() == Some(app)),
                ),
                // The kind went away since the scan: it holds nothing.
                Err(ClusterError::Kubernetes { error, .. })
                    if matches!(api_code(&error), Some(404 | 405)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The index of which kinds hold which app's objects, scanned again when
    /// older than [`TRACKED_SCAN_TTL`].
    fn tracked_index(&self) -> Result<Arc<TrackedIndex>, ClusterError> {
        if let Some(index) = &self.lock().tracked
            && index.scanned_at.elapsed() < TRACKED_SCAN_TTL
        {
            return Ok(index.clone());
        }
        let d = self.discovery(Refresh::No)?;
        let kinds: Vec<ResourceInfo> = d.listable().into_iter().cloned().collect();
        let client = self.client.clone();
        let server = self.server.clone();
        // Metadata only: cheap (no Secret data, no specs), and the tracking
        // annotation is metadata.
        let scanned: Vec<KindApps> = self.run("scan for tracked objects", async move {
            let results: Vec<Result<Option<KindApps>, KubeError>> =
                futures::stream::iter(kinds.into_iter().map(|info| {
                    let client = client.clone();
                    let server = server.clone();
                    async move {
                        match list_all(&client, &server, &info, None, "", true).await {
                            Ok(items) => {
                                let apps: BTreeSet<String> =
                                    items.iter().filter_map(tracking::tracked_app).collect();
                                Ok((!apps.is_empty()).then_some((info, apps)))
                            }
                            // Kinds this user may not list cannot hold
                            // objects it applied; kinds that vanished since
                            // discovery hold none.
                            Err(KubeError::Forbidden { .. }) => Ok(None),
                            Err(e) if matches!(api_code(&e), Some(404 | 405)) => Ok(None),
                            Err(e) => Err(e),
                        }
                    }
                }))
                .buffer_unordered(LIST_CONCURRENCY)
                .collect()
                .await;
            results
                .into_iter()
                .filter_map(Result::transpose)
                .collect::<Result<Vec<_>, _>>()
        })?;
        let mut index = TrackedIndex {
            scanned_at: Instant::now(),
            kinds_by_app: HashMap::new(),
        };
        for (info, apps) in scanned {
            for app in apps {
                index.add(&app, &info);
            }
        }
        let index = Arc::new(index);
        self.lock().tracked = Some(index.clone());
        Ok(index)
    }

    /// Waits until `r` (uid `uid`) is gone.
    fn wait_gone(
        &self,
        info: &ResourceInfo,
        r: &ResourceRef,
        uid: Option<String>,
    ) -> Result<(), ClusterError> {
        let wait = self.options.delete_wait;
        if wait.is_zero() {
            return Ok(());
        }
        let start = Instant::now();
        loop {
            let live = self.get_with(info, r)?;
            let same = live.as_ref().is_some_and(|o| {
                uid.is_none()
                    || o.pointer("/metadata/uid").and_then(Value::as_str) == uid.as_deref()
            });
            if !same {
                return Ok(());
            }
            if start.elapsed() >= wait {
                let finalizers = live
                    .as_ref()
                    .and_then(|o| o.pointer("/metadata/finalizers"))
                    .and_then(Value::as_array)
                    .map(|f| {
                        f.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "none".into());
                return Err(self.err(KubeError::DeleteTimeout {
                    resource: r.to_string(),
                    waited: wait,
                    finalizers,
                }));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn get_with(
        &self,
        info: &ResourceInfo,
        r: &ResourceRef,
    ) -> Result<Option<Value>, ClusterError> {
        let client = self.client.clone();
        let server = self.server.clone();
        let path = info.collection_path(Some(&r.namespace));
        let name = r.name.clone();
        let what = format!("get {r}");
        let api_version = info.api_version();
        let kind = info.kind.clone();
        let found = self.run(&what.clone(), async move {
            let req = Request::new(path)
                .get(&name, &Default::default())
                .map_err(|e| KubeError::Client {
                    server: server.clone(),
                    detail: format!("{what}: {}", chain(&e)),
                })?;
            match client.request::<Value>(req).await {
                Ok(mut o) => {
                    o["apiVersion"] = api_version.into();
                    o["kind"] = kind.into();
                    Ok(Some(o))
                }
                Err(e) => match map_kube_error(&server, &what, e) {
                    e if api_code(&e) == Some(404) => Ok(None),
                    e => Err(e),
                },
            }
        })?;
        self.touch(info);
        Ok(found)
    }
}

fn labels_str(sel: &Selector) -> String {
    label_selector(&sel.labels)
}

/// Runs `fut` on `rt` from any thread, waiting at most `timeout`; None on
/// timeout. Spawning and waiting on a channel (not `block_on`) works from
/// inside another runtime too.
fn run_on<T, F>(rt: &tokio::runtime::Runtime, timeout: Duration, fut: F) -> Option<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let out = tokio::time::timeout(timeout, fut).await.ok();
        let _ = tx.send(out);
    });
    rx.recv().ok().flatten()
}

/// Reads `/api`, `/apis` and every group version's resource list (four at a
/// time).
async fn discover(client: Client, server: String) -> Result<DiscoveryMap, KubeError> {
    let core = client
        .list_core_api_versions()
        .await
        .map_err(|e| map_kube_error(&server, "discover API (/api)", e))?;
    let groups = client
        .list_api_groups()
        .await
        .map_err(|e| map_kube_error(&server, "discover API (/apis)", e))?;
    let served = served_groups(&core, &groups);
    let pairs: Vec<(String, String)> = served
        .iter()
        .flat_map(|g| g.versions.iter().map(|v| (g.group.clone(), v.clone())))
        .collect();
    let lists = futures::stream::iter(pairs.into_iter().map(|(g, v)| {
        let client = client.clone();
        let server = server.clone();
        async move {
            let res = if g.is_empty() {
                client.list_core_api_resources(&v).await
            } else {
                client.list_api_group_resources(&format!("{g}/{v}")).await
            };
            let res = res.map_err(|e| map_kube_error(&server, "discover API", e));
            (g, v, res)
        }
    }))
    .buffer_unordered(LIST_CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    let mut out = Vec::new();
    for (g, v, res) in lists {
        match res {
            Ok(l) => out.push((g, v, Ok(l))),
            // The whole server being away is an error, not a failed group.
            Err(e @ (KubeError::Unreachable { .. } | KubeError::Unauthorized { .. })) => {
                return Err(e);
            }
            Err(e) => out.push((g, v, Err(e.to_string()))),
        }
    }
    Ok(DiscoveryMap::from_lists(&served, out))
}

/// Lists every page of one kind; `metadata_only` asks for
/// PartialObjectMetadata.
async fn list_all(
    client: &Client,
    server: &str,
    info: &ResourceInfo,
    namespace: Option<&str>,
    labels: &str,
    metadata_only: bool,
) -> Result<Vec<Value>, KubeError> {
    let what = format!("list {}", info.collection_path(namespace));
    let request = Request::new(info.collection_path(namespace));
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(PAGE_SIZE);
        if !labels.is_empty() {
            lp = lp.labels(labels);
        }
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let req = if metadata_only {
            request.list_metadata(&lp)
        } else {
            request.list(&lp)
        }
        .map_err(|e| KubeError::Client {
            server: server.into(),
            detail: format!("{what}: {}", chain(&e)),
        })?;
        let page: Value = client
            .request(req)
            .await
            .map_err(|e| map_kube_error(server, &what, e))?;
        if let Some(items) = page.get("items").and_then(Value::as_array) {
            for item in items {
                let mut item = item.clone();
                item["apiVersion"] = info.api_version().into();
                item["kind"] = info.kind.clone().into();
                out.push(item);
            }
        }
        token = page
            .pointer("/metadata/continue")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Watches one kind from `revision` for `seconds`, returning its changes.
async fn watch_kind(
    client: Client,
    server: String,
    info: ResourceInfo,
    revision: u64,
    seconds: u32,
) -> Result<Vec<WatchEvent>, KubeError> {
    let what = format!("watch {}", info.collection_path(None));
    let wp = WatchParams::default().timeout(seconds.max(1));
    let req = Request::new(info.collection_path(None))
        .watch(&wp, &revision.to_string())
        .map_err(|e| KubeError::Client {
            server: server.clone(),
            detail: format!("{what}: {}", chain(&e)),
        })?;
    let stream = client
        .request_events::<Value>(req)
        .await
        .map_err(|e| map_kube_error(&server, &what, e))?;
    let mut stream = std::pin::pin!(stream);
    let mut out = Vec::new();
    while let Some(ev) = stream
        .try_next()
        .await
        .map_err(|e| map_kube_error(&server, &what, e))?
    {
        let (event, mut obj) = match ev {
            KubeWatchEvent::Added(o) => (EventType::Added, o),
            KubeWatchEvent::Modified(o) => (EventType::Modified, o),
            KubeWatchEvent::Deleted(o) => (EventType::Deleted, o),
            KubeWatchEvent::Bookmark(_) => continue,
            KubeWatchEvent::Error(status) if status.code == 410 => {
                return Err(KubeError::Expired { what, revision });
            }
            KubeWatchEvent::Error(status) => {
                return Err(map_kube_error(&server, &what, kube::Error::Api(status)));
            }
        };
        obj["apiVersion"] = info.api_version().into();
        obj["kind"] = info.kind.clone().into();
        let rev = revision_of(&obj)?;
        if rev <= revision {
            continue;
        }
        out.push(WatchEvent {
            revision: rev,
            event,
            resource: ResourceRef::of(&obj),
            // The API server records who wrote an object, not who deleted it.
            manager: if event == EventType::Deleted {
                String::new()
            } else {
                last_manager(&obj)
            },
        });
    }
    Ok(out)
}

impl Cluster for KubeCluster {
    fn name(&self) -> &str {
        &self.name
    }

    /// Controllers run there, so workload health comes from status.
    fn runs_workloads(&self) -> bool {
        true
    }

    /// An object of a kind the server does not serve does not exist: None.
    fn get(&self, r: &ResourceRef) -> Result<Option<Value>, ClusterError> {
        match self.resource(&r.group, None, &r.kind)? {
            Ok(info) => self.get_with(&info, r),
            Err(KubeError::UnknownKind { .. }) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    fn list(&self, sel: &Selector) -> Result<Vec<Value>, ClusterError> {
        let labels = labels_str(sel);
        let mut out = match (&sel.group_kind, &sel.tracked_by) {
            (Some((g, k)), tracked) => match self.resource(g, None, k)? {
                Ok(info) => {
                    if sel
                        .namespace
                        .as_deref()
                        .is_some_and(|ns| ns.is_empty() == info.namespaced)
                    {
                        return Ok(Vec::new());
                    }
                    let items = self.list_kind(&info, sel.namespace.as_deref(), &labels)?;
                    items
                        .into_iter()
                        .filter(|o| {
                            tracked
                                .as_deref()
                                .is_none_or(|app| tracking::tracked_app(o).as_deref() == Some(app))
                        })
                        .collect()
                }
                Err(KubeError::UnknownKind { .. }) => Vec::new(),
                Err(e) => return Err(self.err(e)),
            },
            (None, Some(app)) => self.list_tracked(app, sel, &labels)?,
            (None, None) => {
                // Everything: each listable kind in full.
                let d = self.discovery(Refresh::No)?;
                let mut all = Vec::new();
                for info in d.listable() {
                    if sel
                        .namespace
                        .as_deref()
                        .is_some_and(|ns| ns.is_empty() == info.namespaced)
                    {
                        continue;
                    }
                    match self.list_kind(info, sel.namespace.as_deref(), &labels) {
                        Ok(items) => all.extend(items),
                        Err(ClusterError::Kubernetes { error, .. })
                            if matches!(*error, KubeError::Forbidden { .. })
                                || matches!(api_code(&error), Some(404 | 405)) => {}
                        Err(e) => return Err(e),
                    }
                }
                all
            }
        };
        out.sort_by_cached_key(ResourceRef::of);
        Ok(out)
    }

    fn apply(&self, object: &Value, manager: &str) -> Result<Value, ClusterError> {
        let r = ResourceRef::of(object);
        if !object.is_object() {
            return Err(Self::invalid(&r, "not a mapping"));
        }
        let gvk = object.gvk();
        if object.api_version().is_empty() || gvk.kind.is_empty() {
            return Err(Self::invalid(&r, "apiVersion and kind are required"));
        }
        if object.name().is_empty() {
            return Err(Self::invalid(&r, "metadata.name is required"));
        }
        let info = self
            .resource(&gvk.group, Some(&gvk.version), &gvk.kind)?
            .map_err(|e| self.err(e))?;
        match (info.namespaced, object.namespace()) {
            (true, None) => {
                return Err(Self::invalid(
                    &r,
                    "metadata.namespace is required for a namespaced kind",
                ));
            }
            (false, Some(_)) => {
                return Err(Self::invalid(
                    &r,
                    "a cluster-scoped kind cannot have metadata.namespace",
                ));
            }
            _ => {}
        }
        let req = apply_request(&info, object, manager).map_err(|e| self.err(e))?;
        let client = self.client.clone();
        let server = self.server.clone();
        let what = format!("apply {r}");
        let res = self.run(&what.clone(), async move {
            client
                .request::<Value>(req)
                .await
                .map_err(|e| map_kube_error(&server, &what, e))
        });
        match res {
            Err(ClusterError::Kubernetes { error, .. })
                if matches!(
                    *error,
                    KubeError::Api {
                        code: 422 | 400,
                        ..
                    }
                ) =>
            {
                let message = match *error {
                    KubeError::Api { message, .. } => message,
                    other => other.to_string(),
                };
                Err(ClusterError::Invalid {
                    resource: r.to_string(),
                    message,
                })
            }
            Ok(stored) => {
                self.touch(&info);
                self.note_api_change(&info);
                if let Some(app) = tracking::tracked_app(&stored) {
                    let mut st = self.lock();
                    if let Some(index) = st.tracked.as_mut() {
                        Arc::make_mut(index).add(&app, &info);
                    }
                }
                Ok(stored)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes with the configured propagation policy, then waits until the
    /// object is gone (finalizers and foreground deletion take time) so a
    /// following apply creates a new object instead of changing a terminating
    /// one.
    fn delete(&self, r: &ResourceRef, _manager: &str) -> Result<bool, ClusterError> {
        let info = match self.resource(&r.group, None, &r.kind)? {
            Ok(info) => info,
            Err(KubeError::UnknownKind { .. }) => return Ok(false),
            Err(e) => return Err(self.err(e)),
        };
        let req =
            delete_request(&info, r, self.options.propagation.clone()).map_err(|e| self.err(e))?;
        let client = self.client.clone();
        let server = self.server.clone();
        let what = format!("delete {r}");
        let deleted: Option<Value> = self.run(&what.clone(), async move {
            match client.request::<Value>(req).await {
                Ok(v) => Ok(Some(v)),
                Err(e) => match map_kube_error(&server, &what, e) {
                    e if api_code(&e) == Some(404) => Ok(None),
                    e => Err(e),
                },
            }
        })?;
        self.touch(&info);
        self.note_api_change(&info);
        let Some(answer) = deleted else {
            return Ok(false);
        };
        // The answer is the object being deleted, or a Status when it is
        // already gone.
        let uid = answer
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        self.wait_gone(&info, r, uid)?;
        Ok(true)
    }

    /// Changes to the kinds this handle has touched (got, listed, applied or
    /// deleted) after `revision`, oldest first. Each such kind is watched from
    /// `revision` for `watch_seconds` (all kinds at once), so a call takes
    /// about that long. Revisions are the objects' resourceVersions, which
    /// every etcd-backed API server numbers from one store-wide counter.
    /// `revision` 0 gives an `Added` event for every current object. A
    /// revision older than the API server keeps (etcd compaction, minutes)
    /// gives [`KubeError::Expired`]. The API server does not record who
    /// deleted an object: `Deleted` events have an empty manager, others the
    /// manager of the latest write in `managedFields`.
    fn events_since(&self, revision: u64) -> Result<Vec<WatchEvent>, ClusterError> {
        let kinds: Vec<ResourceInfo> = self
            .lock()
            .touched
            .values()
            .filter(|r| r.supports("watch"))
            .cloned()
            .collect();
        let client = self.client.clone();
        let server = self.server.clone();
        let seconds = self.options.watch_seconds;
        let results = self.run("watch", async move {
            let all =
                futures::future::join_all(kinds.into_iter().map(|info| {
                    watch_kind(client.clone(), server.clone(), info, revision, seconds)
                }))
                .await;
            all.into_iter().collect::<Result<Vec<_>, _>>()
        })?;
        let mut out: Vec<WatchEvent> = results.into_iter().flatten().collect();
        out.sort_by(|a, b| {
            a.revision
                .cmp(&b.revision)
                .then_with(|| a.resource.cmp(&b.resource))
        });
        Ok(out)
    }
}

/// The kubeconfig path of a target relative to the platform root, as
/// written in `slipway.yaml` (empty stays empty: the default kubeconfig).
pub fn resolve_kubeconfig_path(platform_root: &Path, path: &str) -> String {
    if path.is_empty() || Path::new(path).is_absolute() {
        return path.to_string();
    }
    let joined: PathBuf = platform_root.join(path);
    joined.display().to_string()
}

#[cfg(test)]
mod tests;
