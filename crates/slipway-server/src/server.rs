//! `slipway serve`: one process running the reconcile loop for every
//! Application, the REST API with the console and `/metrics` on a loopback
//! address by default, and the admission webhook over HTTPS. Shutdown
//! (SIGTERM / Ctrl-C) stops new work, lets the sync in progress finish, then
//! drains both listeners.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use slipway_gitops::controller::{APP_KIND, Controller};
use slipway_gitops::environments::Environments;
use tokio::sync::Notify;

use crate::admission::AdmissionError;
use crate::events::{Deployment, EventError, EventLog};
use crate::metrics::{AppLabels, AppStatusLabels, Metrics, ResultLabel, StoreLabel};
use crate::tls::{TlsError, TlsMaterial};
use crate::webhook::{PolicyStore, TlsServer, WebhookState};

/// The file holding the API token, in the data directory.
pub const TOKEN_FILE: &str = "api-token";

/// Server errors.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The GitOps engine could not start.
    #[error(transparent)]
    Controller(#[from] slipway_gitops::controller::ControllerError),
    /// Environments could not be loaded.
    #[error(transparent)]
    Env(#[from] slipway_gitops::environments::EnvError),
    /// The platform's pre-sync gate did not load.
    #[error(transparent)]
    Gate(#[from] slipway_gitops::gate::GateLoadError),
    /// Policies could not be loaded.
    #[error(transparent)]
    Policies(#[from] AdmissionError),
    /// The event store failed.
    #[error(transparent)]
    Events(#[from] EventError),
    /// TLS material.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A listener could not bind.
    #[error("cannot listen on {addr}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The token file.
    #[error("api token file {path}")]
    Token {
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// How to run.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// State directory.
    pub data_dir: PathBuf,
    /// Platform repository root (`slipway.yaml` with the environments).
    pub platform: PathBuf,
    /// Policy directory for the webhook (default `<platform>/policies`).
    pub policies: Option<PathBuf>,
    /// API, console and metrics address.
    pub listen: SocketAddr,
    /// Webhook address (HTTPS); `None` disables the webhook.
    pub webhook_listen: Option<SocketAddr>,
    /// TLS material for the webhook (generated when `None`).
    pub tls: Option<TlsMaterial>,
    /// Seconds between reconcile passes.
    pub poll_interval: Duration,
}

/// Everything the handlers and the loop share.
#[derive(Debug)]
pub struct Shared {
    /// The GitOps engine.
    pub controller: Controller,
    /// Serialises syncs, rollbacks, deletes and reconcile passes: the engine
    /// runs one operation at a time per process.
    pub op_lock: std::sync::Mutex<()>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Events and deployments.
    pub events: Arc<EventLog>,
    /// Webhook policies.
    pub policies: Arc<PolicyStore>,
    /// The bearer token for mutating calls.
    pub token: String,
    /// Wakes the reconcile loop early.
    pub refresh: Notify,
    /// Set after the first reconcile pass.
    pub ready: AtomicBool,
    /// Set when shutting down.
    pub stopping: AtomicBool,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The webhook's CA (PEM), for the console and `up`.
    pub ca_pem: Option<String>,
    /// `(app, history id)` already in the deployment ledger: each pass
    /// copies only new history, instead of opening the Git cache and
    /// writing to SQLite for every entry of every app again.
    pub ledgered: std::sync::Mutex<std::collections::HashSet<(String, u64)>>,
}

/// Reads the API token, creating it (mode 0600) on first start.
pub fn ensure_token(data_dir: &Path) -> Result<String, ServerError> {
    let path = data_dir.join(TOKEN_FILE);
    let err = |source| ServerError::Token {
        path: path.clone(),
        source,
    };
    if let Ok(t) = fs_err::read_to_string(&path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    fs_err::create_dir_all(data_dir).map_err(err)?;
    let token = format!(
        "slw_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let tmp = path.with_extension("tmp");
    fs_err::write(&tmp, format!("{token}\n")).map_err(err)?;
    crate::tls::restrict(&tmp).map_err(err)?;
    fs_err::rename(&tmp, &path).map_err(err)?;
    Ok(token)
}

impl Shared {
    /// Opens the engine, event log, policies and token of a data directory.
    pub fn open(config: &ServeConfig, ca_pem: Option<String>) -> Result<Self, ServerError> {
        let envs = Environments::load(&config.platform)?;
        let mut controller = Controller::open(&config.data_dir, envs)?;
        if let Some(gate) = slipway_gitops::gate::SyncGate::load(&config.platform)? {
            controller = controller.with_gate(gate);
        }
        let policies_dir = config
            .policies
            .clone()
            .unwrap_or_else(|| config.platform.join("policies"));
        let policies = Arc::new(PolicyStore::from_dir(&policies_dir)?);
        let metrics = Arc::new(Metrics::new());
        metrics
            .policies_loaded
            .set(i64::try_from(policies.current().len()).unwrap_or(i64::MAX));
        Ok(Self {
            controller,
            op_lock: std::sync::Mutex::new(()),
            metrics,
            events: Arc::new(EventLog::open(&config.data_dir)?),
            policies,
            token: ensure_token(&config.data_dir)?,
            refresh: Notify::new(),
            ready: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            data_dir: config.data_dir.clone(),
            ca_pem,
            ledgered: std::sync::Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// Runs `f` holding the operation lock (blocking; call from a blocking thread).
    pub fn exclusive<T>(&self, f: impl FnOnce(&Controller) -> T) -> T {
        let _guard = self.op_lock.lock().unwrap_or_else(|e| e.into_inner());
        f(&self.controller)
    }

    /// One reconcile pass with metrics, events and ledger updates (blocking);
    /// returns what the pass did.
    pub fn reconcile_pass(
        &self,
    ) -> Result<
        slipway_gitops::controller::ReconcileReport,
        slipway_gitops::controller::ControllerError,
    > {
        if let Ok(true) = self.policies.reload_if_changed().inspect_err(|e| {
            tracing::error!(error = %e, "policy reload failed; keeping the previous set");
            self.events
                .record("PolicyReloadFailed", "", "", "", &e.to_string());
        }) {
            let set = self.policies.current();
            self.metrics
                .policies_loaded
                .set(i64::try_from(set.len()).unwrap_or(i64::MAX));
            tracing::info!(policies = set.len(), "webhook policies reloaded");
            self.events.record(
                "PoliciesReloaded",
                "",
                "",
                "",
                &format!("{} policies loaded", set.len()),
            );
        }
        let start = Instant::now();
        let result = self.exclusive(|c| {
            self.time_fetches(c);
            c.reconcile_once()
        });
        self.metrics
            .reconcile_duration
            .observe(start.elapsed().as_secs_f64());
        match &result {
            Ok(report) => {
                self.metrics
                    .reconciles
                    .get_or_create(&ResultLabel {
                        result: "ok".into(),
                    })
                    .inc();
                for (app, message) in &report.errors {
                    tracing::warn!(app = %app, error = %message, "reconcile error");
                }
            }
            Err(e) => {
                self.metrics
                    .reconciles
                    .get_or_create(&ResultLabel {
                        result: "error".into(),
                    })
                    .inc();
                tracing::error!(error = %e, "reconcile pass failed");
            }
        }
        self.observe();
        self.ready.store(true, Ordering::SeqCst);
        result
    }

    /// Fetches every source repository once, timing it; the pass that
    /// follows fetches again, so a pass always sees the newest commits.
    fn time_fetches(&self, c: &Controller) {
        let Ok(apps) = c.store().list(APP_KIND) else {
            return;
        };
        let mut urls = std::collections::BTreeSet::new();
        for a in &apps {
            for p in ["/spec/source/repoURL"] {
                if let Some(u) = a.manifest.pointer(p).and_then(|v| v.as_str()) {
                    urls.insert(u.to_string());
                }
            }
            if let Some(list) = a
                .manifest
                .pointer("/spec/sources")
                .and_then(|v| v.as_array())
            {
                for s in list {
                    if let Some(u) = s.get("repoURL").and_then(|v| v.as_str()) {
                        urls.insert(u.to_string());
                    }
                }
            }
        }
        c.repos().forget_fetches();
        for url in urls {
            let start = Instant::now();
            let result = match c.repos().fetch(&url) {
                Ok(_) => "ok",
                Err(e) => {
                    tracing::warn!(repo = %url, error = %e, "git fetch failed");
                    "error"
                }
            };
            self.metrics
                .git_fetch_duration
                .get_or_create(&ResultLabel {
                    result: result.into(),
                })
                .observe(start.elapsed().as_secs_f64());
        }
    }

    /// Updates gauges and copies new sync history into the ledger (blocking).
    pub fn observe(&self) {
        let c = &self.controller;
        let Ok(apps) = c.store().list(APP_KIND) else {
            return;
        };
        self.metrics.app_health.clear();
        self.metrics.app_sync.clear();
        let mut history_rows = 0u64;
        for a in &apps {
            let env = app_env(c, &a.manifest);
            self.metrics
                .app_health
                .get_or_create(&AppStatusLabels {
                    app: a.name.clone(),
                    env: env.clone(),
                    status: a.status.health.status.as_str().into(),
                })
                .set(1);
            self.metrics
                .app_sync
                .get_or_create(&AppStatusLabels {
                    app: a.name.clone(),
                    env: env.clone(),
                    status: a.status.sync.as_str().into(),
                })
                .set(1);
            let Ok(history) = c.store().history(&a.name) else {
                continue;
            };
            history_rows += history.len() as u64;
            let mut ledgered = self.ledgered.lock().unwrap_or_else(|e| e.into_inner());
            for h in history {
                if ledgered.contains(&(a.name.clone(), h.id)) {
                    continue;
                }
                let revision = h.revisions.first().cloned().unwrap_or_default();
                let repo = h
                    .sources
                    .first()
                    .map(|s| s.repo_url.clone())
                    .unwrap_or_default();
                let d = Deployment {
                    app: a.name.clone(),
                    env: env.clone(),
                    history_id: h.id,
                    commit_time: commit_time(&self.data_dir, &repo, &revision),
                    revision,
                    started_at: h.started_at.clone(),
                    finished_at: h.deployed_at.clone(),
                    result: h.result.clone(),
                    initiator: h.initiator.clone(),
                    reason: h.reason.clone(),
                };
                let added = self.events.add_deployment(&d);
                if added.is_ok() {
                    ledgered.insert((a.name.clone(), h.id));
                }
                match added {
                    Ok(true) => {
                        self.metrics
                            .syncs
                            .get_or_create(&ResultLabel {
                                result: d.result.clone(),
                            })
                            .inc();
                        tracing::info!(
                            target: "slipway::sync",
                            app = %d.app,
                            env = %d.env,
                            revision = %d.revision,
                            result = %d.result,
                            initiator = %d.initiator,
                            reason = %d.reason,
                            "sync"
                        );
                        self.events.record(
                            "Sync",
                            &d.app,
                            &d.env,
                            &d.revision,
                            &format!("{} ({}): {}", d.result, d.reason, h.message),
                        );
                    }
                    Ok(false) => {}
                    Err(e) => tracing::error!(error = %e, "cannot record deployment"),
                }
            }
        }
        self.update_dora();
        let set = |store: &str, n: u64| {
            self.metrics
                .store_size
                .get_or_create(&StoreLabel {
                    store: store.into(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        };
        set("applications", apps.len() as u64);
        set("history", history_rows);
        if let Ok((events, deployments)) = self.events.sizes() {
            set("events", events);
            set("deployments", deployments);
        }
        if let Ok(envs) =
            slipway_gitops::cluster::embedded::EmbeddedCluster::environments(&self.data_dir)
        {
            for (name, n) in envs {
                set(&format!("env/{name}"), n);
            }
        }
    }

    fn update_dora(&self) {
        let Ok(deps) = self.events.deployments() else {
            return;
        };
        let (_, per) = crate::dora::report(&deps, chrono::Utc::now(), 30);
        for d in per {
            let l = AppLabels {
                app: d.app.clone().unwrap_or_default(),
                env: d.env.clone().unwrap_or_default(),
            };
            self.metrics
                .deployment_frequency
                .get_or_create(&l)
                .set(d.deployment_frequency_per_day);
            if let Some(v) = d.lead_time_seconds {
                self.metrics.lead_time.get_or_create(&l).set(v);
            }
            if let Some(v) = d.change_failure_rate {
                self.metrics.change_failure_rate.get_or_create(&l).set(v);
            }
            if let Some(v) = d.recovery_time_seconds {
                self.metrics.recovery_time.get_or_create(&l).set(v);
            }
        }
    }
}

/// The environment an app deploys to (its destination name, or the
/// environment whose server URL it names).
pub fn app_env(c: &Controller, manifest: &serde_json::Value) -> String {
    let name = manifest
        .pointer("/spec/destination/name")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty());
    if let Some(n) = name {
        return n.to_string();
    }
    let server = manifest
        .pointer("/spec/destination/server")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    c.environments()
        .items
        .iter()
        .find(|e| e.server.as_deref() == Some(server))
        .map(|e| e.name.clone())
        .unwrap_or_else(|| server.to_string())
}

/// The committer time of `sha` in the local mirror of `repo`, RFC 3339.
fn commit_time(data_dir: &Path, repo: &str, sha: &str) -> Option<String> {
    let url = slipway_gitops::git::normalize_url(repo);
    let path = data_dir
        .join("git")
        .join(slipway_gitops::git::url_key(&url));
    let r = gix::open(&path).ok()?;
    let id = gix::ObjectId::from_hex(sha.as_bytes()).ok()?;
    let commit = r.find_commit(id).ok()?;
    let t = commit.time().ok()?;
    chrono::DateTime::from_timestamp(t.seconds, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A running control plane.
#[derive(Debug)]
pub struct Running {
    /// Shared state.
    pub shared: Arc<Shared>,
    /// API address.
    pub api_addr: SocketAddr,
    /// Webhook address.
    pub webhook_addr: Option<SocketAddr>,
    api: tokio::task::JoinHandle<std::io::Result<()>>,
    api_stop: Arc<Notify>,
    webhook: Option<TlsServer>,
    reconciler: tokio::task::JoinHandle<()>,
}

/// Starts everything; returns once listening.
pub async fn start(config: ServeConfig) -> Result<Running, ServerError> {
    let tls = match (&config.tls, config.webhook_listen) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(_)) => Some(crate::tls::ensure_self_signed(
            &config.data_dir.join("tls"),
            &crate::tls::default_hosts(),
        )?),
        (None, None) => None,
    };
    let shared = Arc::new(Shared::open(
        &config,
        tls.as_ref().map(|t| t.ca_pem.clone()),
    )?);
    let webhook = match (config.webhook_listen, &tls) {
        (Some(addr), Some(tls)) => {
            let mut state = WebhookState::new(shared.policies.clone(), shared.metrics.clone());
            state.events = Some(shared.events.clone());
            let app = crate::webhook::router(state);
            Some(
                crate::webhook::serve_tls(addr, tls, app)
                    .await
                    .map_err(|source| ServerError::Bind { addr, source })?,
            )
        }
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let api_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    let api_stop = Arc::new(Notify::new());
    let router = crate::api::router(shared.clone());
    let stop = api_stop.clone();
    let api = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.notified().await })
            .await
    });
    let loop_shared = shared.clone();
    let interval = config.poll_interval;
    let reconciler = tokio::spawn(async move {
        loop {
            if loop_shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            let s = loop_shared.clone();
            // The pass runs to completion even when shutdown starts meanwhile.
            let _ = tokio::task::spawn_blocking(move || {
                // Failures are logged and counted by the pass itself.
                let _ = s.reconcile_pass();
            })
            .await;
            if loop_shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = loop_shared.refresh.notified() => {}
            }
        }
    });
    tracing::info!(api = %api_addr, webhook = ?webhook.as_ref().map(|w| w.addr), data_dir = %config.data_dir.display(), "control plane started");
    Ok(Running {
        shared,
        api_addr,
        webhook_addr: webhook.as_ref().map(|w| w.addr),
        api,
        api_stop,
        webhook,
        reconciler,
    })
}

impl Running {
    /// Stops: no new passes, the pass in progress finishes, listeners drain.
    pub async fn shutdown(self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.refresh.notify_one();
        let _ = self.reconciler.await;
        self.api_stop.notify_one();
        let _ = self.api.await;
        if let Some(w) = self.webhook {
            w.shutdown(Duration::from_secs(10)).await;
        }
        tracing::info!("control plane stopped");
    }
}

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
