//! The Slipway control plane in one process: the Kubernetes admission
//! webhook over HTTPS, the REST API and web console, the GitOps reconcile
//! loop for every Application, `/metrics` and the delivery (DORA) metrics.
//!
//! Module ownership:
//! - [`admission`]: AdmissionReview types, the policy set, one decision.
//! - [`tls`]: the self-signed CA and serving certificate, webhook manifests.
//! - [`webhook`]: the HTTPS admission endpoints and the reloadable policy store.
//! - [`metrics`]: Prometheus metrics.
//! - [`events`]: the event and deployment ledger (`server.db`).
//! - [`server`]: `serve`: shared state, the reconcile loop, startup and shutdown.
//! - [`api`]: REST routes, auth, `/metrics`, probes; [`openapi`]: its document.
//! - [`dora`]: delivery metrics; [`console`]: the embedded web console.
//! - [`client`]: a blocking REST client (the CLI's `--server` mode).
//!
//! **Invariant:** nothing here prints; the CLI owns stdout. Logs go through
//! `tracing`, and the subscriber is installed by the binary.

pub mod admission;
pub mod api;
pub mod client;
pub mod console;
pub mod dora;
pub mod events;
pub mod metrics;
pub mod openapi;
pub mod server;
pub mod tls;
pub mod webhook;
