//! The REST API under `/api/v1` (JSON), `/healthz`, `/readyz`, `/metrics`
//! and the console at `/`. Every mutating call needs
//! `Authorization: Bearer <token>` (the token file in the data directory),
//! except the Git webhook, which only asks for an early reconcile pass.
//! Bodies are size-limited. Engine calls block, so they run on the blocking
//! pool; syncs and other writes take the process-wide operation lock.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use slipway_gitops::cluster::Selector;
use slipway_gitops::controller::{APP_KIND, ControllerError, SyncRequest};
use slipway_policy::engine::{Operation, Request as PolicyRequest, RuleStatus};

use crate::server::{Shared, app_env};

/// The largest API request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

type S = State<Arc<Shared>>;

/// An API error: status and message, sent as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({"error": self.1}))).into_response()
    }
}

impl From<ControllerError> for ApiError {
    fn from(e: ControllerError) -> Self {
        let status = match &e {
            ControllerError::NotFound(_) => StatusCode::NOT_FOUND,
            ControllerError::Refused(_) => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self(status, error_chain(&e))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

type ApiResult = Result<Response, ApiError>;

fn ok(v: impl serde::Serialize) -> ApiResult {
    Ok(axum::Json(v).into_response())
}

/// Runs blocking engine work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn auth(State(s): S, req: Request, next: Next) -> Response {
    let mutating = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let exempt = req.uri().path() == "/api/v1/webhooks/git";
    if mutating && !exempt {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.trim().as_bytes(), s.token.as_bytes()) {
            return ApiError(
                StatusCode::UNAUTHORIZED,
                format!(
                    "this call changes state and needs 'Authorization: Bearer <token>' (the token is in {}/{})",
                    s.data_dir.display(),
                    crate::server::TOKEN_FILE
                ),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// All routes.
pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/applications", get(list_apps).post(apply_apps))
        .route("/applications/{name}", get(get_app).delete(delete_app))
        .route("/applications/{name}/resources", get(app_resources))
        .route("/applications/{name}/diff", get(app_diff))
        .route("/applications/{name}/sync", post(sync_app))
        .route("/applications/{name}/history", get(app_history))
        .route("/applications/{name}/rollback", post(rollback_app))
        .route("/applications/{name}/events", get(app_events))
        .route("/environments", get(list_envs))
        .route(
            "/environments/{env}/objects",
            get(env_objects).post(apply_objects),
        )
        .route(
            "/environments/{env}/objects/{kind}/{name}",
            axum::routing::delete(delete_object),
        )
        .route("/reconcile", post(reconcile))
        .route("/policies", get(list_policies))
        .route("/policies/reload", post(reload_policies))
        .route("/policyreports", get(policy_reports))
        .route("/findings", get(findings))
        .route("/events", get(events))
        .route("/delivery", get(delivery))
        .route("/webhooks/git", post(git_webhook))
        .route("/openapi.json", get(openapi));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", get(crate::console::index))
        .layer(middleware::from_fn_with_state(shared.clone(), auth))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

async fn readyz(State(s): S) -> Response {
    if s.ready.load(Ordering::SeqCst) && !s.stopping.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn metrics(State(s): S) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

fn app_summary(s: &Shared, a: &slipway_gitops::store::StoredApp) -> Value {
    let m = &a.manifest;
    let src = m
        .pointer("/spec/source")
        .or_else(|| m.pointer("/spec/sources/0"))
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "name": a.name,
        "project": m.pointer("/spec/project").and_then(Value::as_str).unwrap_or("default"),
        "env": app_env(&s.controller, m),
        "repoURL": src.get("repoURL"),
        "path": src.get("path"),
        "targetRevision": src.get("targetRevision").and_then(Value::as_str).unwrap_or("HEAD"),
        "automated": m.pointer("/spec/syncPolicy/automated").is_some(),
        "selfHeal": m.pointer("/spec/syncPolicy/automated/selfHeal").and_then(Value::as_bool).unwrap_or(false),
        "owner": a.owner,
        "sync": a.status.sync.as_str(),
        "syncReason": a.status.sync_reason,
        "health": a.status.health.status.as_str(),
        "healthMessage": a.status.health.causes,
        "revision": a.status.revisions.first(),
        "operation": a.status.operation_state.as_ref().map(|o| json!({
            "phase": o.phase, "message": o.message, "startedAt": o.started_at, "finishedAt": o.finished_at,
        })),
        "conditions": a.status.conditions,
        "reconciledAt": a.status.reconciled_at,
    })
}

async fn list_apps(State(s): S) -> ApiResult {
    let out = blocking(move || {
        let apps = s
            .controller
            .store()
            .list(APP_KIND)
            .map_err(ControllerError::from)?;
        Ok(apps.iter().map(|a| app_summary(&s, a)).collect::<Vec<_>>())
    })
    .await?;
    ok(out)
}

#[derive(Debug, Deserialize)]
struct RefreshQuery {
    #[serde(default)]
    refresh: bool,
}

async fn get_app(
    State(s): S,
    Path(name): Path<String>,
    Query(q): Query<RefreshQuery>,
) -> ApiResult {
    let out = blocking(move || {
        if q.refresh {
            s.exclusive(|c| c.refresh(&name))?;
        }
        let stored = s
            .controller
            .store()
            .get(APP_KIND, &name)
            .map_err(ControllerError::from)?
            .ok_or_else(|| ControllerError::NotFound(name.clone()))?;
        let mut manifest = stored.manifest.clone();
        manifest["status"] = serde_json::to_value(&stored.status).unwrap_or(Value::Null);
        Ok(json!({"summary": app_summary(&s, &stored), "application": manifest}))
    })
    .await?;
    ok(out)
}

async fn app_resources(State(s): S, Path(name): Path<String>) -> ApiResult {
    let out = blocking(move || {
        let (app, stored) = s.controller.application(&name)?;
        let env = app_env(&s.controller, &app.manifest);
        let cluster = s.controller.cluster(&env)?;
        let live = cluster
            .list(&Selector {
                tracked_by: Some(name.clone()),
                ..Selector::default()
            })
            .map_err(ControllerError::from)?;
        // The tree: the app, then its resources grouped by namespace, each
        // with the objects that name it as owner beneath it.
        let resources: Vec<Value> = stored
            .status
            .resources
            .iter()
            .map(|r| {
                let obj = live.iter().find(|o| {
                    o.pointer("/kind").and_then(Value::as_str) == Some(r.kind.as_str())
                        && o.pointer("/metadata/name").and_then(Value::as_str)
                            == Some(r.name.as_str())
                        && o.pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            == r.namespace
                });
                json!({
                    "group": r.group, "version": r.version, "kind": r.kind,
                    "namespace": r.namespace, "name": r.name,
                    "status": r.status.as_str(),
                    "health": r.health.as_ref().map(|h| json!({"status": h.status.as_str(), "message": h.message})),
                    "requiresPruning": r.requires_pruning,
                    "hook": r.hook,
                    "live": obj.is_some(),
                })
            })
            .collect();
        let mut by_ns: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for r in &resources {
            by_ns
                .entry(r["namespace"].as_str().unwrap_or("").to_string())
                .or_default()
                .push(r.clone());
        }
        Ok(json!({
            "app": name,
            "env": env,
            "resources": resources,
            "tree": by_ns.into_iter().map(|(ns, items)| json!({"namespace": ns, "resources": items})).collect::<Vec<_>>(),
        }))
    })
    .await?;
    ok(out)
}

async fn app_diff(State(s): S, Path(name): Path<String>) -> ApiResult {
    let out = blocking(move || {
        let (c, diffs) = s.exclusive(|c| c.diff(&name))?;
        Ok(json!({
            "app": name,
            "sync": c.sync.as_str(),
            "reason": c.reason,
            "revisions": c.revisions,
            "error": c.error,
            "diffs": diffs,
        }))
    })
    .await?;
    ok(out)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SyncBody {
    revision: Option<String>,
    #[serde(default)]
    prune: bool,
    #[serde(default)]
    dry_run: bool,
}

fn body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("request body: {e}")))
}

fn initiator(headers: &HeaderMap) -> String {
    headers
        .get("x-slipway-user")
        .and_then(|v| v.to_str().ok())
        .filter(|u| !u.is_empty() && u.len() < 64)
        .map(|u| format!("api:{u}"))
        .unwrap_or_else(|| "api".into())
}

async fn sync_app(
    State(s): S,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult {
    let b: SyncBody = body(&bytes)?;
    let who = initiator(&headers);
    let out = blocking(move || {
        let outcome = s.exclusive(|c| {
            let out = c.sync(
                &name,
                &SyncRequest {
                    revision: b.revision.clone(),
                    prune: b.prune,
                    dry_run: b.dry_run,
                    initiator: who.clone(),
                    reason: "manual sync".into(),
                    ..SyncRequest::default()
                },
            )?;
            // Refresh so the stored status shows the state after the sync.
            if !b.dry_run {
                c.refresh(&name)?;
            }
            Ok::<_, ControllerError>(out)
        })?;
        s.observe();
        Ok(outcome)
    })
    .await?;
    ok(out)
}

async fn app_history(State(s): S, Path(name): Path<String>) -> ApiResult {
    let out = blocking(move || {
        s.controller.application(&name)?;
        Ok(s.controller
            .store()
            .history(&name)
            .map_err(ControllerError::from)?)
    })
    .await?;
    ok(out)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    id: u64,
    #[serde(default)]
    prune: bool,
}

async fn rollback_app(
    State(s): S,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> ApiResult {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "request body: expected {\"id\": <history id>}".into(),
        ));
    }
    let b: RollbackBody = body(&bytes)?;
    let who = initiator(&headers);
    let out = blocking(move || {
        let out = s.exclusive(|c| {
            let out = c.rollback(&name, b.id, &who, b.prune)?;
            c.refresh(&name)?;
            Ok::<_, ControllerError>(out)
        })?;
        s.observe();
        Ok(out)
    })
    .await?;
    ok(out)
}

#[derive(Debug, Deserialize)]
struct DeleteQuery {
    #[serde(default)]
    cascade: bool,
}

async fn delete_app(
    State(s): S,
    Path(name): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult {
    let out = blocking(move || {
        let deleted = s.exclusive(|c| c.delete(&name, q.cascade))?;
        s.events.record(
            "ApplicationDeleted",
            &name,
            "",
            "",
            &format!("{} resource(s) deleted", deleted.len()),
        );
        Ok(json!({"deleted": name, "resources": deleted.iter().map(|r| r.to_string()).collect::<Vec<_>>()}))
    })
    .await?;
    ok(out)
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    app: Option<String>,
    limit: Option<usize>,
}

async fn app_events(State(s): S, Path(name): Path<String>) -> ApiResult {
    let out = blocking(move || {
        s.events
            .list(Some(&name), 200)
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, error_chain(&e)))
    })
    .await?;
    ok(out)
}

async fn events(State(s): S, Query(q): Query<EventsQuery>) -> ApiResult {
    let out = blocking(move || {
        s.events
            .list(q.app.as_deref(), q.limit.unwrap_or(200).min(5000))
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, error_chain(&e)))
    })
    .await?;
    ok(out)
}

async fn list_envs(State(s): S) -> ApiResult {
    let out = blocking(move || {
        let mut out = Vec::new();
        for e in &s.controller.environments().items {
            let objects = s
                .controller
                .cluster(&e.name)
                .and_then(|c| c.list(&Selector::default()).map_err(ControllerError::from))
                .map(|l| l.len());
            out.push(json!({
                "name": e.name,
                "server": e.server,
                "labels": e.labels,
                "target": match &e.target {
                    slipway_gitops::environments::Target::Embedded => "embedded".to_string(),
                    slipway_gitops::environments::Target::Kubeconfig { .. } => "kubernetes".to_string(),
                },
                "objects": objects.as_ref().ok(),
                "error": objects.as_ref().err().map(|e| e.to_string()),
            }));
        }
        Ok(out)
    })
    .await?;
    ok(out)
}

#[derive(Debug, Deserialize)]
struct ObjectsQuery {
    kind: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    app: Option<String>,
    selector: Option<String>,
}

async fn env_objects(
    State(s): S,
    Path(env): Path<String>,
    Query(q): Query<ObjectsQuery>,
) -> ApiResult {
    let out = blocking(move || {
        let cluster = s.controller.cluster(&env)?;
        let labels = match &q.selector {
            Some(text) => Selector::parse_labels(text).map_err(|e| {
                ApiError(StatusCode::BAD_REQUEST, format!("selector {text:?}: {e}"))
            })?,
            None => Vec::new(),
        };
        let list = cluster
            .list(&Selector {
                namespace: q.namespace.clone(),
                tracked_by: q.app.clone(),
                labels,
                ..Selector::default()
            })
            .map_err(ControllerError::from)?;
        // Kinds match case-insensitively, as kubectl's `get deployment`.
        Ok(list
            .into_iter()
            .filter(|o| {
                q.kind.as_deref().is_none_or(|k| {
                    o.get("kind")
                        .and_then(Value::as_str)
                        .is_some_and(|have| have.eq_ignore_ascii_case(k))
                }) && q
                    .name
                    .as_deref()
                    .is_none_or(|n| o.pointer("/metadata/name").and_then(Value::as_str) == Some(n))
            })
            .collect::<Vec<_>>())
    })
    .await?;
    ok(out)
}

/// Objects in a request body: `{"objects": [...]}` (or `documents`), or a
/// bare array, or one object.
fn objects_of(bytes: &[u8], key: &str) -> Result<Vec<Value>, ApiError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("request body: {e}")))?;
    let list = match v {
        Value::Array(a) => a,
        Value::Object(mut m) if m.contains_key(key) => match m.remove(key) {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("request body: {key} must be an array"),
                ));
            }
        },
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("request body: expected {{\"{key}\": [...]}}"),
            ));
        }
    };
    if let Some(i) = list.iter().position(|o| !o.is_object()) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("request body: {key}[{i}] is not an object"),
        ));
    }
    Ok(list)
}

/// `POST /applications`: store Applications and ApplicationSets (as
/// `slipway app apply`), then ask for a reconcile pass.
async fn apply_apps(State(s): S, bytes: axum::body::Bytes) -> ApiResult {
    let docs: Vec<slipway_model::Document> = objects_of(&bytes, "documents")?
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            slipway_model::Document::new(o, slipway_model::SourceLocation::new("request", i, 1))
        })
        .collect();
    let shared = s.clone();
    let names = blocking(move || Ok(shared.exclusive(|c| c.apply_documents(&docs))?)).await?;
    for n in &names {
        s.events.record(
            "ApplicationConfigured",
            n,
            "",
            "",
            "configured through the API",
        );
    }
    s.refresh.notify_one();
    ok(json!({"configured": names}))
}

/// `POST /reconcile`: one reconcile pass now; answers what it did.
async fn reconcile(State(s): S) -> ApiResult {
    let report = blocking(move || Ok(s.reconcile_pass()?)).await?;
    ok(json!({
        "compared": report.compared,
        "synced": report.synced.iter().map(|(app, reason, result)| json!({"app": app, "reason": reason, "result": result})).collect::<Vec<_>>(),
        "errors": report.errors.iter().map(|(app, error)| json!({"app": app, "error": error})).collect::<Vec<_>>(),
    }))
}

#[derive(Debug, Deserialize)]
struct ApplyQuery {
    /// Field manager (who made the change).
    manager: Option<String>,
    /// Namespace for namespaced objects that set none.
    namespace: Option<String>,
}

/// `POST /environments/{env}/objects`: apply objects as a field manager
/// (as `kubectl apply`), e.g. to make drift by hand.
async fn apply_objects(
    State(s): S,
    Path(env): Path<String>,
    Query(q): Query<ApplyQuery>,
    bytes: axum::body::Bytes,
) -> ApiResult {
    let objects = objects_of(&bytes, "objects")?;
    let manager = q.manager.unwrap_or_else(|| "kubectl".into());
    let namespace = q.namespace.unwrap_or_else(|| "default".into());
    let out = blocking(move || {
        let cluster = s.controller.cluster(&env)?;
        let mut out = Vec::new();
        for (i, mut obj) in objects.into_iter().enumerate() {
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
            if !slipway_model::is_cluster_scoped(kind)
                && obj.pointer("/metadata/namespace").is_none()
                && let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.insert("namespace".into(), Value::String(namespace.clone()));
            }
            let stored = cluster.apply(&obj, &manager).map_err(|e| {
                ApiError(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("objects[{i}]: {e}"),
                )
            })?;
            out.push(stored);
        }
        Ok(out)
    })
    .await?;
    ok(out)
}

#[derive(Debug, Deserialize)]
struct DeleteObjectQuery {
    namespace: Option<String>,
    manager: Option<String>,
}

/// `DELETE /environments/{env}/objects/{kind}/{name}`.
async fn delete_object(
    State(s): S,
    Path((env, kind, name)): Path<(String, String, String)>,
    Query(q): Query<DeleteObjectQuery>,
) -> ApiResult {
    let manager = q.manager.unwrap_or_else(|| "kubectl".into());
    let namespace = q.namespace.unwrap_or_else(|| "default".into());
    let out = blocking(move || {
        let cluster = s.controller.cluster(&env)?;
        let all = cluster
            .list(&Selector::default())
            .map_err(ControllerError::from)?;
        let obj = all
            .iter()
            .find(|o| {
                let k = o.get("kind").and_then(Value::as_str).unwrap_or("");
                k.eq_ignore_ascii_case(&kind)
                    && o.pointer("/metadata/name").and_then(Value::as_str) == Some(name.as_str())
                    && (slipway_model::is_cluster_scoped(k)
                        || o.pointer("/metadata/namespace").and_then(Value::as_str)
                            == Some(namespace.as_str()))
            })
            .ok_or_else(|| {
                ApiError(
                    StatusCode::NOT_FOUND,
                    format!("{kind}/{name} not found in environment {env}"),
                )
            })?;
        let r = slipway_gitops::cluster::ResourceRef::of(obj);
        cluster
            .delete(&r, &manager)
            .map_err(ControllerError::from)?;
        Ok(json!({"deleted": r.to_string()}))
    })
    .await?;
    ok(out)
}

async fn list_policies(State(s): S) -> ApiResult {
    let set = s.policies.current();
    ok(json!({
        "source": set.source,
        "policies": set.policies.iter().map(|p| json!({
            "name": p.name,
            "namespace": p.namespace,
            "rules": p.rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "validationFailureAction": p.spec.validation_failure_action,
            "background": p.background(),
            "category": p.annotations.get("policies.kyverno.io/category"),
            "title": p.annotations.get("policies.kyverno.io/title"),
        })).collect::<Vec<_>>(),
        "celPolicies": set.cel.iter().map(|p| json!({
            "name": p.name,
            "namespace": p.namespace,
            "kind": p.kind_name,
            "validationAction": format!("{:?}", p.action),
            "category": p.annotations.get("policies.kyverno.io/category"),
            "title": p.annotations.get("policies.kyverno.io/title"),
        })).collect::<Vec<_>>(),
        "skipped": set.skipped,
    }))
}

async fn reload_policies(State(s): S) -> ApiResult {
    let out = blocking(move || {
        let changed = s
            .policies
            .reload_if_changed()
            .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, error_chain(&e)))?;
        let n = s.policies.current().len();
        s.metrics
            .policies_loaded
            .set(i64::try_from(n).unwrap_or(i64::MAX));
        Ok(json!({"reloaded": changed, "policies": n}))
    })
    .await?;
    ok(out)
}

/// A background scan: every policy with `background: true` against every
/// live object of every environment.
fn scan(s: &Shared) -> Vec<Value> {
    let set = s.policies.current();
    let engine = slipway_policy::engine::Engine::new();
    let values = slipway_policy::engine::ContextValues::default();
    let mut out = Vec::new();
    for e in &s.controller.environments().items {
        let Ok(cluster) = s.controller.cluster(&e.name) else {
            continue;
        };
        let Ok(objects) = cluster.list(&Selector::default()) else {
            continue;
        };
        for obj in objects {
            let req = PolicyRequest {
                operation: Operation::Create,
                object: obj.clone(),
                background: true,
                ..PolicyRequest::default()
            };
            let prepared = engine.prepare(&req);
            for p in set.policies.iter().filter(|p| p.background()) {
                let resp = engine.validate_prepared(p, &prepared, &values);
                for r in resp.rules {
                    out.push(json!({
                        "env": e.name,
                        "policy": p.name,
                        "rule": r.name,
                        "result": r.status.as_str(),
                        "action": format!("{:?}", r.action),
                        "message": r.message,
                        "category": p.annotations.get("policies.kyverno.io/category"),
                        "severity": p.annotations.get("policies.kyverno.io/severity"),
                        "resource": {
                            "apiVersion": obj.get("apiVersion"),
                            "kind": obj.get("kind"),
                            "namespace": obj.pointer("/metadata/namespace"),
                            "name": obj.pointer("/metadata/name"),
                        },
                        "app": obj.pointer("/metadata/annotations/argocd.argoproj.io~1tracking-id")
                            .and_then(Value::as_str)
                            .and_then(|t| t.split(':').next()),
                    }));
                    let _ = RuleStatus::Pass;
                }
            }
        }
    }
    out
}

async fn policy_reports(State(s): S) -> ApiResult {
    let out = blocking(move || {
        let results = scan(&s);
        // One wgpolicyk8s.io/v1alpha2 ClusterPolicyReport per environment.
        let mut by_env: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for r in results {
            by_env
                .entry(r["env"].as_str().unwrap_or("").to_string())
                .or_default()
                .push(r);
        }
        let now = chrono::Utc::now().timestamp();
        Ok(by_env
            .into_iter()
            .map(|(env, rs)| {
                let count = |st: &str| rs.iter().filter(|r| r["result"] == st).count();
                json!({
                    "apiVersion": "wgpolicyk8s.io/v1alpha2",
                    "kind": "ClusterPolicyReport",
                    "metadata": {"name": format!("slipway-{env}"), "labels": {"app.kubernetes.io/managed-by": "slipway"}},
                    "scope": {"kind": "Environment", "name": env},
                    "summary": {"pass": count("pass"), "fail": count("fail"), "warn": count("warn"), "error": count("error"), "skip": count("skip")},
                    "results": rs.iter().map(|r| json!({
                        "source": "slipway",
                        "policy": r["policy"],
                        "rule": r["rule"],
                        "result": r["result"],
                        "message": r["message"],
                        "category": r["category"],
                        "severity": r["severity"],
                        "scored": true,
                        "timestamp": {"seconds": now, "nanos": 0},
                        "resources": [r["resource"]],
                    })).collect::<Vec<_>>(),
                })
            })
            .collect::<Vec<_>>())
    })
    .await?;
    ok(out)
}

async fn findings(State(s): S) -> ApiResult {
    let out = blocking(move || {
        Ok(scan(&s)
            .into_iter()
            .filter(|r| r["result"] == "fail" || r["result"] == "error")
            .collect::<Vec<_>>())
    })
    .await?;
    ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryQuery {
    window_days: Option<i64>,
}

async fn delivery(State(s): S, Query(q): Query<DeliveryQuery>) -> ApiResult {
    let window = q.window_days.unwrap_or(30).clamp(1, 3650);
    let out = blocking(move || {
        let deps = s
            .events
            .deployments()
            .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, error_chain(&e)))?;
        let (overall, per) = crate::dora::report(&deps, chrono::Utc::now(), window);
        Ok(json!({"windowDays": window, "overall": overall, "applications": per}))
    })
    .await?;
    ok(out)
}

async fn git_webhook(State(s): S) -> ApiResult {
    s.refresh.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"queued": "reconcile pass"})),
    )
        .into_response())
}

async fn openapi() -> ApiResult {
    ok(crate::openapi::document())
}
