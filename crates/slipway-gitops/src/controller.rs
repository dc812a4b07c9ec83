//! The sync engine: compare (render + diff + health), sync (plan, apply,
//! prune, hooks, history), rollback, delete, and the reconcile loop that
//! auto-syncs (once per revision), self-heals drift and expands
//! ApplicationSets. Every step stores its outcome in the app store, so a
//! process killed mid-sync leaves a visible `Running` operation that the next
//! reconcile marks as interrupted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;
use slipway_model::{Document, ObjectExt, SourceLocation, is_cluster_scoped};

use crate::application::{Application, SpecError};
use crate::appset::{ApplicationSet, GeneratorContext};
use crate::cluster::{Cluster, ClusterError, FIELD_MANAGER, ResourceRef, Selector};
use crate::diff::{ResourceDiff, diff_resource, unified_diff, validate_ignores};
use crate::environments::{EnvError, Environments};
use crate::gate::SyncGate;
use crate::git::{GitError, RepoCache};
use crate::health::{AppHealth, HealthStatus, ResourceHealthInput, app_health, resource_health_in};
use crate::plan::{
    HOOK_DELETE_POLICY_ANNOTATION, Participation, SyncPhase, SyncTask, TaskAction, order_tasks,
    participation, resource_option, wave,
};
use crate::render::{RenderError, Renderer, is_application};
use crate::store::{
    AppStatus, AppStore, AutoSyncAttempt, Condition, HistoryEntry, OperationState, ResourceResult,
    ResourceStatus, StoreError, StoredApp, SyncStatusCode,
};
use crate::tracking::set_tracking;

/// Kind names in the store.
pub const APP_KIND: &str = "Application";
/// ApplicationSet kind.
pub const APPSET_KIND: &str = "ApplicationSet";
/// How often a running sync saves its progress.
const PROGRESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);
/// Condition type of a pre-sync gate failure that blocked the last sync.
pub const POLICY_VIOLATION: &str = "PolicyViolation";
/// Condition type of an Audit finding of the pre-sync gate.
pub const POLICY_AUDIT: &str = "PolicyAudit";

/// Controller errors.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// Store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Spec failure.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Target failure.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// Environment resolution failure.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// Git failure.
    #[error(transparent)]
    Git(#[from] GitError),
    /// No such app.
    #[error("application {0:?} not found")]
    NotFound(String),
    /// A request that Argo CD refuses too.
    #[error("{0}")]
    Refused(String),
    /// A document is neither an Application nor an ApplicationSet.
    #[error(
        "{location}: expected an Application or ApplicationSet (argoproj.io/v1alpha1), found {found}"
    )]
    NotAnApp {
        /// Where.
        location: SourceLocation,
        /// What.
        found: String,
    },
    /// ApplicationSet generation failed.
    #[error("applicationset {name}: {message}")]
    Generate {
        /// The set.
        name: String,
        /// Why.
        message: String,
    },
}

/// One resource in a comparison.
#[derive(Debug, Clone)]
pub struct ResourceCompare {
    /// Identity.
    pub resource: ResourceRef,
    /// apiVersion's version.
    pub version: String,
    /// Desired (with namespace and tracking set).
    pub desired: Option<Value>,
    /// Live.
    pub live: Option<Value>,
    /// The diff (desired resources only).
    pub diff: Option<ResourceDiff>,
    /// Sync status.
    pub status: SyncStatusCode,
    /// Live and not in Git.
    pub requires_pruning: bool,
    /// A hook.
    pub hook: bool,
}

/// The result of comparing an app with its environment.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Resolved commits, one per source.
    pub revisions: Vec<String>,
    /// Resources, desired first in Git order, then those to prune.
    pub resources: Vec<ResourceCompare>,
    /// Overall sync status.
    pub sync: SyncStatusCode,
    /// Why.
    pub reason: String,
    /// App health.
    pub health: AppHealth,
    /// Per-resource health, aligned with `resources`.
    pub resource_health: Vec<Option<crate::health::Health>>,
    /// The error that stopped the comparison (render, Git, destination).
    pub error: Option<String>,
}

/// A sync request.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    /// Revision override (for every source).
    pub revision: Option<String>,
    /// Prune resources no longer in Git.
    pub prune: bool,
    /// Plan only.
    pub dry_run: bool,
    /// Who asked (`automated` or a user).
    pub initiator: String,
    /// Why.
    pub reason: String,
    /// Skip hooks (rollback).
    pub skip_hooks: bool,
    /// Sources to use instead of the spec's (rollback).
    pub sources: Option<Vec<crate::application::Source>>,
    /// Revisions per source (rollback).
    pub revisions: Option<Vec<String>>,
}

/// The planned or executed steps of a sync.
#[derive(Debug, Clone, Serialize)]
pub struct SyncOutcome {
    /// The history entry (id 0 and not stored for a dry run).
    pub entry: HistoryEntry,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// What a reconcile pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    /// Apps compared.
    pub compared: usize,
    /// Syncs run, with app name and reason.
    pub synced: Vec<(String, String, String)>,
    /// Errors per app.
    pub errors: Vec<(String, String)>,
}

/// The sync engine over a data directory.
pub struct Controller {
    data_dir: PathBuf,
    store: AppStore,
    repos: RepoCache,
    envs: Environments,
    clusters: Mutex<HashMap<String, Arc<dyn Cluster>>>,
    gate: Option<SyncGate>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
}

fn result_of(task: &SyncTask, status: &str, message: impl Into<String>) -> ResourceResult {
    ResourceResult {
        group: task.resource.group.clone(),
        version: task.object.gvk().version,
        kind: task.resource.kind.clone(),
        namespace: task.resource.namespace.clone(),
        name: task.resource.name.clone(),
        status: status.into(),
        message: message.into(),
        sync_phase: task.phase,
        wave: task.wave,
        hook: task.hook,
    }
}

impl Controller {
    /// Opens the engine over `data_dir` with these environments.
    pub fn open(data_dir: &Path, envs: Environments) -> Result<Self, ControllerError> {
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            store: AppStore::open(data_dir)?,
            repos: RepoCache::new(data_dir),
            envs,
            clusters: Mutex::new(HashMap::new()),
            gate: None,
        })
    }

    /// Runs `gate` before every sync: a failing gate blocks the sync.
    pub fn with_gate(mut self, gate: SyncGate) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The pre-sync gate, if any.
    pub fn gate(&self) -> Option<&SyncGate> {
        self.gate.as_ref()
    }

    /// The app store.
    pub fn store(&self) -> &AppStore {
        &self.store
    }

    /// The environments.
    pub fn environments(&self) -> &Environments {
        &self.envs
    }

    /// The repository cache.
    pub fn repos(&self) -> &RepoCache {
        &self.repos
    }

    /// The backend of an environment.
    pub fn cluster(&self, env: &str) -> Result<Arc<dyn Cluster>, ControllerError> {
        let mut map = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get(env) {
            return Ok(c.clone());
        }
        let e = self
            .envs
            .get(env)
            .ok_or_else(|| EnvError::UnknownDestination {
                destination: format!("name {env:?}"),
                known: self
                    .envs
                    .items
                    .iter()
                    .map(|e| e.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let c = e.open_cluster(&self.data_dir)?;
        map.insert(env.to_string(), c.clone());
        Ok(c)
    }

    /// Stores Applications and ApplicationSets from documents; returns `Kind/name` for each.
    pub fn apply_documents(&self, docs: &[Document]) -> Result<Vec<String>, ControllerError> {
        let mut out = Vec::new();
        let mut sets = Vec::new();
        // Validate everything before storing anything.
        let mut apps = Vec::new();
        for d in docs {
            match (d.object.api_version(), d.object.kind()) {
                (crate::application::ARGO_API_VERSION, APP_KIND) => {
                    apps.push(Application::from_document(d)?);
                }
                (crate::application::ARGO_API_VERSION, APPSET_KIND) => {
                    sets.push(ApplicationSet::from_document(d)?);
                }
                (a, k) => {
                    return Err(ControllerError::NotAnApp {
                        location: d.source.clone(),
                        found: format!("{a}/{k}"),
                    });
                }
            }
        }
        for a in apps {
            validate_ignores(&a.spec.ignore_differences)
                .map_err(|e| ControllerError::Refused(e.to_string()))?;
            self.store.put(APP_KIND, &a.name, &a.manifest, None)?;
            out.push(format!("Application/{}", a.name));
        }
        for s in sets {
            self.store.put(APPSET_KIND, &s.name, &s.manifest, None)?;
            out.push(format!("ApplicationSet/{}", s.name));
            self.expand_appset(&s)?;
        }
        Ok(out)
    }

    /// Loads a stored Application.
    pub fn application(&self, name: &str) -> Result<(Application, StoredApp), ControllerError> {
        let stored = self
            .store
            .get(APP_KIND, name)?
            .ok_or_else(|| ControllerError::NotFound(name.into()))?;
        let doc = Document::new(
            stored.manifest.clone(),
            SourceLocation::new(format!("store:{name}"), 0, 1),
        );
        Ok((Application::from_document(&doc)?, stored))
    }

    fn resolve_revisions(
        &self,
        app: &Application,
        req: &SyncRequest,
    ) -> Result<Vec<String>, GitError> {
        if let Some(r) = &req.revisions {
            return Ok(r.clone());
        }
        let sources = req
            .sources
            .clone()
            .unwrap_or_else(|| app.sources().into_iter().cloned().collect());
        sources
            .iter()
            .map(|s| {
                let rev = req.revision.as_deref().unwrap_or_else(|| s.revision());
                self.repos.resolve(&s.repo_url, rev)
            })
            .collect()
    }

    fn render(
        &self,
        app: &Application,
        req: &SyncRequest,
        revisions: &[String],
    ) -> Result<Vec<Value>, String> {
        let renderer = Renderer::new(&self.repos, &self.data_dir);
        let sources = req
            .sources
            .clone()
            .unwrap_or_else(|| app.sources().into_iter().cloned().collect());
        let dest_ns = app
            .spec
            .destination
            .namespace
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into());
        let mut out: Vec<Value> = Vec::new();
        let mut seen: BTreeMap<ResourceRef, SourceLocation> = BTreeMap::new();
        for (s, commit) in sources.iter().zip(revisions) {
            if s.reference.is_some() && s.path.is_none() {
                // A `ref`-only source provides values files to other sources.
                continue;
            }
            let docs = renderer
                .render_source(s, commit)
                .map_err(|e: RenderError| e.to_string())?;
            for d in docs {
                let mut obj = d.object;
                if !is_cluster_scoped(obj.kind()) && obj.namespace().is_none() {
                    obj["metadata"]["namespace"] = Value::String(dest_ns.clone());
                }
                let r = ResourceRef::of(&obj);
                if let Some(first) = seen.get(&r) {
                    return Err(format!(
                        "{}: resource {r} appears more than once (first at {first})",
                        d.source
                    ));
                }
                seen.insert(r, d.source.clone());
                set_tracking(&mut obj, &app.name);
                out.push(obj);
            }
        }
        Ok(out)
    }

    /// Renders an app's desired objects at its target revisions, nothing changed:
    /// what `slipway check` evaluates for an Application.
    pub fn desired(&self, app: &Application) -> Result<Vec<Value>, String> {
        let req = SyncRequest::default();
        let revisions = self
            .resolve_revisions(app, &req)
            .map_err(|e| e.to_string())?;
        self.render(app, &req, &revisions)
    }

    /// Compares an app with its environment (nothing is changed).
    pub fn compare(&self, app: &Application, req: &SyncRequest) -> Comparison {
        let fail = |revisions: Vec<String>, error: String| Comparison {
            revisions,
            resources: Vec::new(),
            sync: SyncStatusCode::OutOfSync,
            reason: error.clone(),
            health: AppHealth {
                status: HealthStatus::Unknown,
                causes: String::new(),
            },
            resource_health: Vec::new(),
            error: Some(error),
        };
        let revisions = match self.resolve_revisions(app, req) {
            Ok(r) => r,
            Err(e) => {
                let mut c = fail(Vec::new(), e.to_string());
                c.sync = SyncStatusCode::Unknown;
                return c;
            }
        };
        let cluster = match self
            .envs
            .resolve(&app.spec.destination)
            .map_err(ControllerError::from)
            .and_then(|e| self.cluster(&e.name))
        {
            Ok(c) => c,
            Err(e) => {
                let mut c = fail(revisions, e.to_string());
                c.sync = SyncStatusCode::Unknown;
                return c;
            }
        };
        let desired = match self.render(app, req, &revisions) {
            Ok(d) => d,
            Err(e) => return fail(revisions, e),
        };
        match self.compare_with(app, &cluster, desired) {
            Ok(mut c) => {
                c.revisions = revisions;
                c
            }
            Err(e) => {
                let mut c = fail(revisions, e.to_string());
                c.sync = SyncStatusCode::Unknown;
                c
            }
        }
    }

    fn compare_with(
        &self,
        app: &Application,
        cluster: &Arc<dyn Cluster>,
        desired: Vec<Value>,
    ) -> Result<Comparison, ClusterError> {
        let tracked = cluster.list(&Selector {
            tracked_by: Some(app.name.clone()),
            ..Selector::default()
        })?;
        let mut live_by_ref: HashMap<ResourceRef, Value> = tracked
            .into_iter()
            .map(|o| (ResourceRef::of(&o), o))
            .collect();
        let mut resources = Vec::new();
        let mut desired_refs = std::collections::HashSet::new();
        for d in desired {
            let r = ResourceRef::of(&d);
            desired_refs.insert(r.clone());
            let part = participation(&d);
            if part == Participation::Skip {
                continue;
            }
            let live = match live_by_ref.remove(&r) {
                Some(l) => Some(l),
                None => cluster.get(&r)?,
            };
            let hook = matches!(part, Participation::Hook(_));
            let diff = (!hook).then(|| {
                diff_resource(
                    &d,
                    live.as_ref(),
                    &app.spec.ignore_differences,
                    FIELD_MANAGER,
                )
            });
            let status = if diff.as_ref().is_some_and(|d| d.modified) {
                SyncStatusCode::OutOfSync
            } else {
                SyncStatusCode::Synced
            };
            resources.push(ResourceCompare {
                version: d.gvk().version,
                resource: r,
                desired: Some(d),
                live,
                diff,
                status,
                requires_pruning: false,
                hook,
            });
        }
        let mut extra: Vec<(ResourceRef, Value)> = live_by_ref.into_iter().collect();
        extra.sort_by(|a, b| a.0.cmp(&b.0));
        for (r, l) in extra {
            // Hooks left behind are not resources of the app.
            if desired_refs.contains(&r) || crate::health::is_hook(&l) {
                continue;
            }
            resources.push(ResourceCompare {
                version: l.gvk().version,
                resource: r,
                desired: None,
                live: Some(l),
                diff: None,
                status: SyncStatusCode::OutOfSync,
                requires_pruning: true,
                hook: false,
            });
        }
        let runs = cluster.runs_workloads();
        let resource_health: Vec<_> = resources
            .iter()
            .map(|rc| rc.live.as_ref().and_then(|l| resource_health_in(l, runs)))
            .collect();
        let inputs: Vec<ResourceHealthInput<'_>> = resources
            .iter()
            .zip(&resource_health)
            .map(|(rc, h)| ResourceHealthInput {
                group: &rc.resource.group,
                kind: &rc.resource.kind,
                namespace: &rc.resource.namespace,
                name: &rc.resource.name,
                target: rc.desired.as_ref(),
                live: rc.live.as_ref(),
                health: h.clone(),
            })
            .collect();
        let health = app_health(&inputs);
        let out_of_sync: Vec<String> = resources
            .iter()
            .filter(|r| r.status == SyncStatusCode::OutOfSync)
            .map(|r| r.resource.to_string())
            .collect();
        let (sync, reason) = if out_of_sync.is_empty() {
            (SyncStatusCode::Synced, String::new())
        } else {
            let mut text = out_of_sync
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if out_of_sync.len() > 5 {
                text.push_str(&format!(" and {} more", out_of_sync.len() - 5));
            }
            (
                SyncStatusCode::OutOfSync,
                format!("{} resource(s) out of sync: {text}", out_of_sync.len()),
            )
        };
        Ok(Comparison {
            revisions: Vec::new(),
            resources,
            sync,
            reason,
            health,
            resource_health,
            error: None,
        })
    }

    fn status_from(&self, c: &Comparison, previous: &AppStatus) -> AppStatus {
        let mut conditions: Vec<Condition> = previous
            .conditions
            .iter()
            .filter(|c| c.kind != "ComparisonError")
            .cloned()
            .collect();
        if let Some(e) = &c.error {
            conditions.push(Condition {
                kind: "ComparisonError".into(),
                message: e.clone(),
            });
        }
        AppStatus {
            sync: c.sync,
            sync_reason: c.reason.clone(),
            revisions: c.revisions.clone(),
            health: c.health.clone(),
            resources: c
                .resources
                .iter()
                .zip(&c.resource_health)
                .map(|(r, h)| ResourceStatus {
                    group: r.resource.group.clone(),
                    version: r.version.clone(),
                    kind: r.resource.kind.clone(),
                    namespace: r.resource.namespace.clone(),
                    name: r.resource.name.clone(),
                    status: r.status,
                    health: h.clone(),
                    requires_pruning: r.requires_pruning,
                    hook: r.hook,
                })
                .collect(),
            conditions,
            operation_state: previous.operation_state.clone(),
            last_auto_sync: previous.last_auto_sync.clone(),
            reconciled_at: now(),
        }
    }

    /// Compares an app and stores its status.
    pub fn refresh(&self, name: &str) -> Result<(Comparison, AppStatus), ControllerError> {
        let (app, stored) = self.application(name)?;
        let mut previous = stored.status;
        self.recover_interrupted(name, &app, &mut previous)?;
        let c = self.compare(&app, &SyncRequest::default());
        let status = self.status_from(&c, &previous);
        self.store.set_status(APP_KIND, name, &status)?;
        Ok((c, status))
    }

    /// Unified diffs of the out-of-sync resources, and the comparison.
    pub fn diff(&self, name: &str) -> Result<(Comparison, Vec<String>), ControllerError> {
        let (c, _) = self.refresh(name)?;
        let mut texts = Vec::new();
        for r in &c.resources {
            if let Some(d) = &r.diff {
                if d.modified {
                    texts.push(unified_diff(&r.resource, d));
                }
            } else if r.requires_pruning {
                let live = crate::diff::normalize(r.live.as_ref().unwrap_or(&Value::Null));
                let old = crate::diff::to_yaml(Some(&live));
                texts.push(
                    similar::TextDiff::from_lines(old.as_str(), "")
                        .unified_diff()
                        .header(
                            &format!("live/{}", r.resource),
                            "/dev/null (requires pruning)",
                        )
                        .to_string(),
                );
            }
        }
        Ok((c, texts))
    }

    /// A process killed mid-sync left a `Running` operation: record it as
    /// interrupted, with what it had done.
    fn recover_interrupted(
        &self,
        name: &str,
        app: &Application,
        status: &mut AppStatus,
    ) -> Result<(), ControllerError> {
        let Some(op) = status.operation_state.clone() else {
            return Ok(());
        };
        if op.phase != "Running" || process_alive(op.pid) {
            return Ok(());
        }
        let finished = now();
        let message = format!(
            "sync interrupted: process {} ended before the operation finished; {} step(s) had been recorded as done (each object is written in one transaction, so it is either applied whole or untouched); sync again to converge",
            op.pid,
            op.results.len()
        );
        let entry = HistoryEntry {
            id: 0,
            revisions: op.revisions.clone(),
            sources: app.sources().into_iter().cloned().collect(),
            started_at: op.started_at.clone(),
            deployed_at: finished.clone(),
            initiator: op.initiator.clone(),
            reason: op.reason.clone(),
            result: "Error".into(),
            message: message.clone(),
            resources: op.results.clone(),
            policy_violations: Vec::new(),
            policy_audits: Vec::new(),
        };
        self.store.add_history(name, entry, app.history_limit())?;
        status.operation_state = Some(OperationState {
            phase: "Error".into(),
            message,
            finished_at: Some(finished),
            ..op
        });
        self.store.set_status(APP_KIND, name, status)?;
        Ok(())
    }

    /// Syncs an app.
    pub fn sync(&self, name: &str, req: &SyncRequest) -> Result<SyncOutcome, ControllerError> {
        let (app, stored) = self.application(name)?;
        let mut status = stored.status;
        self.recover_interrupted(name, &app, &mut status)?;
        let started = now();
        let sources: Vec<crate::application::Source> = req
            .sources
            .clone()
            .unwrap_or_else(|| app.sources().into_iter().cloned().collect());
        let c = self.compare(&app, req);
        let mut entry = HistoryEntry {
            id: 0,
            revisions: c.revisions.clone(),
            sources,
            started_at: started.clone(),
            deployed_at: String::new(),
            initiator: req.initiator.clone(),
            reason: req.reason.clone(),
            result: "Succeeded".into(),
            message: String::new(),
            resources: Vec::new(),
            policy_violations: Vec::new(),
            policy_audits: Vec::new(),
        };
        let finish = |mut entry: HistoryEntry,
                      status: &mut AppStatus|
         -> Result<SyncOutcome, ControllerError> {
            entry.deployed_at = now();
            if req.dry_run {
                return Ok(SyncOutcome {
                    entry,
                    dry_run: true,
                });
            }
            let stored_entry = self.store.add_history(name, entry, app.history_limit())?;
            status.operation_state = Some(OperationState {
                phase: stored_entry.result.clone(),
                message: stored_entry.message.clone(),
                revisions: stored_entry.revisions.clone(),
                initiator: stored_entry.initiator.clone(),
                reason: stored_entry.reason.clone(),
                started_at: stored_entry.started_at.clone(),
                finished_at: Some(stored_entry.deployed_at.clone()),
                pid: std::process::id(),
                results: stored_entry.resources.clone(),
            });
            status.conditions.retain(|c| c.kind != "SyncError");
            if stored_entry.result != "Succeeded" {
                status.conditions.push(Condition {
                    kind: "SyncError".into(),
                    message: stored_entry.message.clone(),
                });
            }
            if req.initiator == "automated" {
                status.last_auto_sync = Some(AutoSyncAttempt {
                    revisions: stored_entry.revisions.clone(),
                    succeeded: stored_entry.result == "Succeeded",
                });
            }
            // Recompute status after the change.
            let after = self.compare(&app, req);
            let mut fresh = self.status_from(&after, status);
            fresh.operation_state = status.operation_state.clone();
            fresh.last_auto_sync = status.last_auto_sync.clone();
            fresh.conditions = status.conditions.clone();
            if let Some(e) = &after.error {
                fresh.conditions.push(Condition {
                    kind: "ComparisonError".into(),
                    message: e.clone(),
                });
            }
            self.store.set_status(APP_KIND, name, &fresh)?;
            Ok(SyncOutcome {
                entry: stored_entry,
                dry_run: false,
            })
        };
        if let Some(e) = &c.error {
            entry.result = "Failed".into();
            entry.message = format!("comparison failed, nothing was applied: {e}");
            return finish(entry, &mut status);
        }
        let env = self.envs.resolve(&app.spec.destination)?.name.clone();
        let cluster = self.cluster(&env)?;
        let automated = app.automated();
        let auto_sync = req.initiator == "automated";
        let desired_count = c
            .resources
            .iter()
            .filter(|r| r.desired.is_some() && !r.hook)
            .count();
        let prune_requested = req.prune || (auto_sync && automated.is_some_and(|a| a.prune));
        if auto_sync && desired_count == 0 && !automated.is_some_and(|a| a.allow_empty) {
            let live_count = c.resources.iter().filter(|r| r.live.is_some()).count();
            if live_count > 0 {
                entry.result = "Failed".into();
                entry.message = "auto-sync will wipe out all resources; refusing (set syncPolicy.automated.allowEmpty to allow it)".into();
                return finish(entry, &mut status);
            }
        }
        // The policy gate sees everything this revision would put live,
        // hooks included; it blocks before anything is applied.
        status
            .conditions
            .retain(|c| c.kind != POLICY_VIOLATION && c.kind != POLICY_AUDIT);
        if let Some(gate) = &self.gate {
            let objects: Vec<&Value> = c
                .resources
                .iter()
                .filter_map(|r| r.desired.as_ref())
                .collect();
            let verdict = gate.evaluate(name, &objects);
            for (kind, lines) in [
                (POLICY_VIOLATION, &verdict.violations),
                (POLICY_AUDIT, &verdict.audits),
            ] {
                status.conditions.extend(lines.iter().map(|l| Condition {
                    kind: kind.into(),
                    message: l.clone(),
                }));
            }
            entry.policy_audits = verdict.audits.clone();
            if !verdict.passed() {
                entry.result = "Failed".into();
                entry.message = format!(
                    "sync blocked by the policy gate, nothing was applied: {}",
                    verdict.violations.join("; ")
                );
                entry.policy_violations = verdict.violations;
                return finish(entry, &mut status);
            }
        }
        let apply_out_of_sync_only = app.sync_option("ApplyOutOfSyncOnly") == Some("true");
        let mut tasks = Vec::new();
        let mut skipped = Vec::new();
        for rc in &c.resources {
            if let Some(d) = &rc.desired {
                match participation(d) {
                    Participation::Hook(phases) => {
                        if req.skip_hooks {
                            continue;
                        }
                        for p in phases {
                            tasks.push(SyncTask {
                                resource: rc.resource.clone(),
                                action: TaskAction::Apply,
                                phase: p,
                                wave: wave(d),
                                hook: true,
                                object: d.clone(),
                            });
                        }
                    }
                    Participation::Skip => {}
                    Participation::Resource => {
                        if apply_out_of_sync_only && rc.status == SyncStatusCode::Synced {
                            continue;
                        }
                        tasks.push(SyncTask {
                            resource: rc.resource.clone(),
                            action: TaskAction::Apply,
                            phase: SyncPhase::Sync,
                            wave: wave(d),
                            hook: false,
                            object: d.clone(),
                        });
                    }
                }
            } else if rc.requires_pruning {
                let live = rc.live.clone().unwrap_or(Value::Null);
                let task = SyncTask {
                    resource: rc.resource.clone(),
                    action: TaskAction::Prune,
                    phase: SyncPhase::Sync,
                    wave: wave(&live),
                    hook: false,
                    object: live,
                };
                if !prune_requested {
                    skipped.push(result_of(
                        &task,
                        "PruneSkipped",
                        "ignored (requires pruning)",
                    ));
                } else if resource_option(&task.object, "Prune") == Some("false") {
                    skipped.push(result_of(
                        &task,
                        "PruneSkipped",
                        "ignored (Prune=false annotation)",
                    ));
                } else {
                    tasks.push(task);
                }
            }
        }
        let fail_hooks: Vec<SyncTask> = tasks
            .iter()
            .filter(|t| t.phase == SyncPhase::SyncFail)
            .cloned()
            .collect();
        tasks.retain(|t| t.phase != SyncPhase::SyncFail);
        order_tasks(&mut tasks, app.sync_option("PruneLast") == Some("true"));
        if req.dry_run {
            entry.resources = tasks
                .iter()
                .map(|t| {
                    let s = if t.action == TaskAction::Prune {
                        "Pruned"
                    } else {
                        "Synced"
                    };
                    result_of(t, s, "dry run")
                })
                .chain(skipped)
                .collect();
            entry.message = format!("dry run: {} step(s) planned", tasks.len());
            return finish(entry, &mut status);
        }
        // Record the running operation first, so an interruption is visible.
        let mut op = OperationState {
            phase: "Running".into(),
            message: "syncing".into(),
            revisions: c.revisions.clone(),
            initiator: req.initiator.clone(),
            reason: req.reason.clone(),
            started_at: started.clone(),
            finished_at: None,
            pid: std::process::id(),
            results: Vec::new(),
        };
        status.operation_state = Some(op.clone());
        self.store.set_status(APP_KIND, name, &status)?;
        if app.sync_option("CreateNamespace") == Some("true")
            && let Some(ns) = app
                .spec
                .destination
                .namespace
                .as_deref()
                .filter(|s| !s.is_empty())
        {
            let r = ResourceRef::new("", "Namespace", "", ns);
            if cluster.get(&r)?.is_none() {
                let mut obj = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
                if let Some(meta) = app
                    .spec
                    .sync_policy
                    .as_ref()
                    .and_then(|p| p.managed_namespace_metadata.as_ref())
                {
                    for k in ["labels", "annotations"] {
                        if let Some(v) = meta.get(k) {
                            obj["metadata"][k] = v.clone();
                        }
                    }
                }
                cluster.apply(&obj, FIELD_MANAGER)?;
            }
        }
        let retry = app.retry();
        let mut results: Vec<ResourceResult> = Vec::new();
        let mut failed: Option<String> = None;
        let mut succeeded_hooks: Vec<SyncTask> = Vec::new();
        let mut last_saved = std::time::Instant::now();
        for (i, t) in tasks.iter().enumerate() {
            if let Some(reason) = &failed {
                results.push(result_of(t, "Skipped", format!("not run: {reason}")));
                continue;
            }
            let mut attempt = 0u32;
            let outcome = loop {
                let res = self.run_task(&cluster, t);
                match (&res, retry) {
                    (Err(_), Some(r)) if r.limit.is_none_or(|l| attempt < l) && !req.dry_run => {
                        std::thread::sleep(std::time::Duration::from_secs(r.delay_secs(attempt)));
                        attempt += 1;
                    }
                    _ => break res,
                }
            };
            match outcome {
                Ok(r) => {
                    if t.hook {
                        succeeded_hooks.push(t.clone());
                    }
                    results.push(r);
                }
                Err(e) => {
                    let msg = e.to_string();
                    results.push(result_of(t, "SyncFailed", msg.clone()));
                    failed = Some(format!("{} failed: {msg}", t.resource));
                    let _ = i;
                }
            }
            // Progress is saved a few times a second, not per task: the
            // status holds every resource, so saving it per task would make a
            // large sync quadratic. Objects are applied in their own
            // transactions either way; this is only the operation's record.
            if failed.is_some() || last_saved.elapsed() >= PROGRESS_INTERVAL {
                op.results = results.clone();
                status.operation_state = Some(op.clone());
                self.store.set_status(APP_KIND, name, &status)?;
                last_saved = std::time::Instant::now();
            }
        }
        if failed.is_some() {
            for t in &fail_hooks {
                match self.run_task(&cluster, t) {
                    Ok(r) => results.push(r),
                    Err(e) => results.push(result_of(t, "SyncFailed", e.to_string())),
                }
            }
        }
        // Hook delete policies.
        for t in &succeeded_hooks {
            let policy = t
                .object
                .annotations()
                .and_then(|a| a.get(HOOK_DELETE_POLICY_ANNOTATION))
                .and_then(Value::as_str)
                .unwrap_or("");
            let delete = (failed.is_none() && policy.contains("HookSucceeded"))
                || (failed.is_some() && policy.contains("HookFailed"));
            if delete {
                cluster.delete(&t.resource, FIELD_MANAGER)?;
            }
        }
        results.extend(skipped);
        // Children of an app of apps become apps of their own.
        if failed.is_none() {
            self.register_children(&app, &c)?;
        }
        entry.resources = results;
        match failed {
            Some(reason) => {
                entry.result = "Failed".into();
                entry.message = format!("one or more tasks failed: {reason}");
            }
            None => {
                entry.message = "successfully synced (all tasks run)".into();
            }
        }
        finish(entry, &mut status)
    }

    fn run_task(
        &self,
        cluster: &Arc<dyn Cluster>,
        t: &SyncTask,
    ) -> Result<ResourceResult, ClusterError> {
        match t.action {
            TaskAction::Apply => {
                if t.hook {
                    // Default hook delete policy is BeforeHookCreation.
                    let policy = t
                        .object
                        .annotations()
                        .and_then(|a| a.get(HOOK_DELETE_POLICY_ANNOTATION))
                        .and_then(Value::as_str)
                        .unwrap_or("BeforeHookCreation");
                    if policy.contains("BeforeHookCreation") {
                        cluster.delete(&t.resource, FIELD_MANAGER)?;
                    }
                }
                let existed = cluster.get(&t.resource)?.is_some();
                cluster.apply(&t.object, FIELD_MANAGER)?;
                let verb = if existed { "configured" } else { "created" };
                Ok(result_of(
                    t,
                    "Synced",
                    format!("{} {verb}", t.resource.kind.to_lowercase()),
                ))
            }
            TaskAction::Prune => {
                cluster.delete(&t.resource, FIELD_MANAGER)?;
                if is_application(&t.object) {
                    self.delete_child(t.resource.name.as_str())?;
                }
                Ok(result_of(t, "Pruned", "pruned"))
            }
        }
    }

    fn delete_child(&self, name: &str) -> Result<(), ClusterError> {
        if let Ok(Some(stored)) = self.store.get(APP_KIND, name)
            && stored
                .owner
                .as_deref()
                .is_some_and(|o| o.starts_with("Application/"))
        {
            let cascade = self
                .application(name)
                .map(|(a, _)| a.cascade_finalizer)
                .unwrap_or(false);
            let _ = self.delete(name, cascade);
        }
        Ok(())
    }

    fn register_children(&self, app: &Application, c: &Comparison) -> Result<(), ControllerError> {
        for rc in &c.resources {
            let Some(d) = &rc.desired else { continue };
            if !is_application(d) {
                continue;
            }
            let mut manifest = d.clone();
            if let Some(a) = manifest
                .pointer_mut("/metadata/annotations")
                .and_then(Value::as_object_mut)
            {
                a.remove(crate::tracking::TRACKING_ANNOTATION);
                if a.is_empty()
                    && let Some(m) = manifest.get_mut("metadata").and_then(Value::as_object_mut)
                {
                    m.remove("annotations");
                }
            }
            let doc = Document::new(
                manifest.clone(),
                SourceLocation::new(format!("app {}", app.name), 0, 1),
            );
            let child = Application::from_document(&doc)?;
            self.store.put(
                APP_KIND,
                &child.name,
                &manifest,
                Some(&format!("Application/{}", app.name)),
            )?;
        }
        Ok(())
    }

    /// Rolls an app back to a history entry.
    pub fn rollback(
        &self,
        name: &str,
        id: u64,
        initiator: &str,
        prune: bool,
    ) -> Result<SyncOutcome, ControllerError> {
        let (app, _) = self.application(name)?;
        if app.automated().is_some() {
            return Err(ControllerError::Refused(format!(
                "rollback of {name} refused: automated sync is enabled (disable syncPolicy.automated first, as Argo CD requires)"
            )));
        }
        let history = self.store.history(name)?;
        let entry = history.iter().find(|e| e.id == id).ok_or_else(|| {
            ControllerError::Refused(format!(
                "application {name} has no history entry {id} (ids: {})",
                history
                    .iter()
                    .map(|e| e.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        self.sync(
            name,
            &SyncRequest {
                prune,
                initiator: initiator.into(),
                reason: format!("rollback to history id {id}"),
                skip_hooks: true,
                sources: Some(entry.sources.clone()),
                revisions: Some(entry.revisions.clone()),
                ..SyncRequest::default()
            },
        )
    }

    /// Deletes an app; with `cascade`, also its resources (except those
    /// annotated `Delete=false`).
    pub fn delete(&self, name: &str, cascade: bool) -> Result<Vec<ResourceRef>, ControllerError> {
        let (app, _) = self.application(name)?;
        let mut deleted = Vec::new();
        if cascade {
            let env = self.envs.resolve(&app.spec.destination)?.name.clone();
            let cluster = self.cluster(&env)?;
            let mut live = cluster.list(&Selector {
                tracked_by: Some(name.into()),
                ..Selector::default()
            })?;
            // Reverse of creation order: highest wave and kind rank first.
            live.sort_by_key(|o| {
                (
                    std::cmp::Reverse(wave(o)),
                    std::cmp::Reverse(crate::plan::kind_rank(o.kind())),
                )
            });
            for o in live {
                if resource_option(&o, "Delete") == Some("false") {
                    continue;
                }
                let r = ResourceRef::of(&o);
                cluster.delete(&r, FIELD_MANAGER)?;
                if is_application(&o) {
                    self.delete_child(&r.name)?;
                }
                deleted.push(r);
            }
        }
        self.store.delete(APP_KIND, name)?;
        Ok(deleted)
    }

    /// Expands an ApplicationSet into Applications (adding, updating and
    /// deleting the ones it owns).
    pub fn expand_appset(&self, set: &ApplicationSet) -> Result<Vec<String>, ControllerError> {
        let ctx = Ctx { c: self };
        let apps = set
            .generate(&ctx)
            .map_err(|message| ControllerError::Generate {
                name: set.name.clone(),
                message,
            })?;
        let owner = format!("ApplicationSet/{}", set.name);
        let mut names = Vec::new();
        for manifest in apps {
            let doc = Document::new(
                manifest.clone(),
                SourceLocation::new(format!("applicationset {}", set.name), 0, 1),
            );
            let app = Application::from_document(&doc)?;
            self.store
                .put(APP_KIND, &app.name, &manifest, Some(&owner))?;
            names.push(app.name);
        }
        for stale in self.store.list(APP_KIND)? {
            if stale.owner.as_deref() == Some(owner.as_str()) && !names.contains(&stale.name) {
                self.delete(&stale.name, !set.preserve_resources_on_deletion)?;
            }
        }
        Ok(names)
    }

    /// One pass of the automated loop: expand ApplicationSets, compare every
    /// app, auto-sync (once per revision), self-heal drift.
    pub fn reconcile_once(&self) -> Result<ReconcileReport, ControllerError> {
        self.repos.forget_fetches();
        let mut report = ReconcileReport::default();
        for s in self.store.list(APPSET_KIND)? {
            let doc = Document::new(
                s.manifest.clone(),
                SourceLocation::new(format!("store:{}", s.name), 0, 1),
            );
            let res = ApplicationSet::from_document(&doc)
                .map_err(ControllerError::from)
                .and_then(|set| self.expand_appset(&set));
            if let Err(e) = res {
                report
                    .errors
                    .push((format!("ApplicationSet/{}", s.name), e.to_string()));
            }
        }
        // Apps created by syncs in this pass (app of apps) are handled in
        // the same pass: loop until no new app appears.
        let mut done = std::collections::HashSet::new();
        loop {
            let names: Vec<String> = self
                .store
                .list(APP_KIND)?
                .into_iter()
                .map(|a| a.name)
                .filter(|n| !done.contains(n))
                .collect();
            if names.is_empty() {
                break;
            }
            for name in names {
                done.insert(name.clone());
                if let Err(e) = self.reconcile_app(&name, &mut report) {
                    report.errors.push((name, e.to_string()));
                }
            }
        }
        Ok(report)
    }

    fn reconcile_app(
        &self,
        name: &str,
        report: &mut ReconcileReport,
    ) -> Result<(), ControllerError> {
        let (app, _) = match self.application(name) {
            Ok(a) => a,
            Err(ControllerError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let (c, status) = self.refresh(name)?;
        report.compared += 1;
        let Some(_auto) = app.automated() else {
            return Ok(());
        };
        if c.error.is_some() || c.sync != SyncStatusCode::OutOfSync {
            return Ok(());
        }
        let self_heal = app.automated().is_some_and(|a| a.self_heal);
        let reason = match &status.last_auto_sync {
            Some(last) if last.revisions == c.revisions => {
                if !last.succeeded || !self_heal {
                    // One attempt per revision; without self-heal, drift stays.
                    return Ok(());
                }
                "self-heal: live state drifted from Git".to_string()
            }
            _ => format!(
                "auto-sync to {}",
                c.revisions
                    .iter()
                    .map(|r| &r[..r.len().min(12)])
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        let out = self.sync(
            name,
            &SyncRequest {
                initiator: "automated".into(),
                reason: reason.clone(),
                revisions: Some(c.revisions.clone()),
                ..SyncRequest::default()
            },
        )?;
        report
            .synced
            .push((name.to_string(), reason, out.entry.result));
        Ok(())
    }
}

struct Ctx<'a> {
    c: &'a Controller,
}

impl GeneratorContext for Ctx<'_> {
    fn directories(&self, repo: &str, revision: &str) -> Result<Vec<String>, String> {
        let commit = self
            .c
            .repos
            .resolve(repo, revision)
            .map_err(|e| e.to_string())?;
        self.c
            .repos
            .directories(repo, &commit)
            .map_err(|e| e.to_string())
    }

    fn files(&self, repo: &str, revision: &str) -> Result<Vec<crate::git::TreeFile>, String> {
        let commit = self
            .c
            .repos
            .resolve(repo, revision)
            .map_err(|e| e.to_string())?;
        self.c
            .repos
            .files(repo, &commit, "")
            .map_err(|e| e.to_string())
    }

    fn clusters(&self) -> Vec<crate::environments::Environment> {
        self.c.envs.items.clone()
    }
}

#[cfg(test)]
mod tests;
