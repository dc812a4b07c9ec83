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
//!
//! **Invariant:** nothing here prints; the CLI owns stdout. Logs go through
//! `tracing`, and the subscriber is installed by the binary.

pub mod admission;
pub mod events;
pub mod metrics;
pub mod tls;
pub mod webhook;
