//! The admission webhook over HTTPS: `POST /validate` and `POST /mutate`
//! (AdmissionReview v1), `GET /healthz`. Each review is evaluated off the
//! async workers under a deadline; a review that misses it gets HTTP 503 so
//! the API server applies the webhook's `failurePolicy`. Bodies are limited
//! in size. Policies live in a [`PolicyStore`] that the control plane
//! reloads when the policy directory changes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use slipway_policy::engine::{Engine, RuleStatus};

use crate::admission::{
    AdmissionError, AdmissionReview, Decision, Mode, PolicySet, decide, parse_review,
};
use crate::events::EventLog;
use crate::metrics::Metrics;
use crate::tls::TlsMaterial;

/// The largest AdmissionReview accepted (the API server's own request limit
/// is 3 MiB; a review carries the object twice on UPDATE).
pub const MAX_REVIEW_BYTES: usize = 7 * 1024 * 1024;

/// The default evaluation deadline (below the manifests' `timeoutSeconds`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(8);

/// The current policy set, swapped atomically on reload.
#[derive(Debug)]
pub struct PolicyStore {
    dir: Option<PathBuf>,
    current: RwLock<Arc<PolicySet>>,
}

impl PolicyStore {
    /// A store over a fixed set (tests, benchmarks).
    pub fn fixed(set: PolicySet) -> Self {
        Self {
            dir: None,
            current: RwLock::new(Arc::new(set)),
        }
    }

    /// A store loading `dir` now and on every [`PolicyStore::reload_if_changed`].
    pub fn from_dir(dir: &Path) -> Result<Self, AdmissionError> {
        Ok(Self {
            dir: Some(dir.to_path_buf()),
            current: RwLock::new(Arc::new(PolicySet::load_dir(dir)?)),
        })
    }

    /// The directory, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The current set.
    pub fn current(&self) -> Arc<PolicySet> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reloads when the directory's files changed; returns whether it did.
    /// On a load error the previous set stays in force.
    pub fn reload_if_changed(&self) -> Result<bool, AdmissionError> {
        let Some(dir) = &self.dir else {
            return Ok(false);
        };
        if crate::admission::fingerprint(dir) == self.current().fingerprint {
            return Ok(false);
        }
        let set = PolicySet::load_dir(dir)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        Ok(true)
    }
}

/// What the webhook handlers share.
#[derive(Debug, Clone)]
pub struct WebhookState {
    /// Policies.
    pub policies: Arc<PolicyStore>,
    /// The engine (stateless).
    pub engine: Engine,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Events (denials and violations are recorded).
    pub events: Option<Arc<EventLog>>,
    /// Evaluation deadline.
    pub timeout: Duration,
}

impl WebhookState {
    /// A state with the default deadline and no event log.
    pub fn new(policies: Arc<PolicyStore>, metrics: Arc<Metrics>) -> Self {
        Self {
            policies,
            engine: Engine::new(),
            metrics,
            events: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The webhook routes.
pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_REVIEW_BYTES))
        .with_state(state)
}

async fn validate(State(s): State<WebhookState>, body: Bytes) -> Response {
    review(s, Mode::Validate, body).await
}

async fn mutate(State(s): State<WebhookState>, body: Bytes) -> Response {
    review(s, Mode::Mutate, body).await
}

fn error(status: StatusCode, message: String) -> Response {
    (
        status,
        [("content-type", "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

async fn review(s: WebhookState, mode: Mode, body: Bytes) -> Response {
    let start = Instant::now();
    let req = match parse_review(&body) {
        Ok(r) => r,
        Err(e) => {
            s.metrics
                .admission(mode.as_str(), "error", start.elapsed().as_secs_f64());
            tracing::warn!(webhook = mode.as_str(), error = %e, "admission review rejected");
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let set = s.policies.current();
    let engine = s.engine.clone();
    let task = tokio::task::spawn_blocking(move || decide(&set, &engine, mode, &req));
    let decision = match tokio::time::timeout(s.timeout, task).await {
        Ok(Ok(d)) => d,
        Ok(Err(join)) => {
            s.metrics
                .admission(mode.as_str(), "error", start.elapsed().as_secs_f64());
            tracing::error!(webhook = mode.as_str(), error = %join, "policy evaluation failed");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("policy evaluation failed: {join}"),
            );
        }
        Err(_) => {
            s.metrics
                .admission(mode.as_str(), "error", start.elapsed().as_secs_f64());
            tracing::error!(
                webhook = mode.as_str(),
                timeout_ms = s.timeout.as_millis() as u64,
                "policy evaluation timed out"
            );
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "policy evaluation exceeded {} ms; the API server applies the webhook's failurePolicy",
                    s.timeout.as_millis()
                ),
            );
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    record(&s, mode, &decision, seconds);
    axum::Json(AdmissionReview::answer(decision.response)).into_response()
}

fn record(s: &WebhookState, mode: Mode, d: &Decision, seconds: f64) {
    let verdict = if d.response.allowed {
        "allowed"
    } else {
        "denied"
    };
    s.metrics.admission(mode.as_str(), verdict, seconds);
    for (policy, rules) in &d.evaluations {
        let failed = d
            .violations
            .iter()
            .any(|v| &v.policy == policy && v.status == RuleStatus::Fail);
        let errored = d
            .violations
            .iter()
            .any(|v| &v.policy == policy && v.status == RuleStatus::Error);
        let result = if failed {
            "fail"
        } else if errored {
            "error"
        } else if *rules == 0 {
            "skip"
        } else {
            "pass"
        };
        s.metrics.policy(policy, result);
    }
    tracing::info!(
        target: "slipway::admission",
        webhook = mode.as_str(),
        operation = %d.operation,
        resource = %d.resource,
        decision = verdict,
        violations = d.violations.len(),
        patched = d.response.patch.is_some(),
        latency_us = (seconds * 1e6) as u64,
        "admission decision"
    );
    for v in &d.violations {
        tracing::warn!(
            target: "slipway::policy",
            webhook = mode.as_str(),
            resource = %d.resource,
            policy = %v.policy,
            rule = %v.rule,
            action = ?v.action,
            status = v.status.as_str(),
            message = %v.message,
            "policy violation"
        );
    }
    if let Some(events) = &s.events
        && !d.violations.is_empty()
    {
        let kind = if d.response.allowed {
            "AdmissionWarning"
        } else {
            "AdmissionDenied"
        };
        let message = d
            .violations
            .iter()
            .map(|v| v.line())
            .collect::<Vec<_>>()
            .join("\n");
        events.record(kind, "", "", &d.resource, &message);
    }
}

/// A running HTTPS listener.
#[derive(Debug)]
pub struct TlsServer {
    /// The bound address.
    pub addr: SocketAddr,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TlsServer {
    /// Stops accepting, lets requests in flight finish (up to `grace`), waits.
    pub async fn shutdown(self, grace: Duration) {
        self.handle.graceful_shutdown(Some(grace));
        let _ = self.task.await;
    }
}

/// Serves `app` over HTTPS on `addr` (port 0 picks one).
pub async fn serve_tls(
    addr: SocketAddr,
    tls: &TlsMaterial,
    app: Router,
) -> std::io::Result<TlsServer> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(
        tls.cert_pem.clone().into_bytes(),
        tls.key_pem.clone().into_bytes(),
    )
    .await?;
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, config)?.handle(handle.clone());
    let task = tokio::spawn(async move { server.serve(app.into_make_service()).await });
    Ok(TlsServer { addr, handle, task })
}
