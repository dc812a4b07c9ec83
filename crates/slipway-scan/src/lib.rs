//! Security scanning of manifests and repositories.
//!
//! - [`kubesec`]: risk scoring of Kubernetes objects with the KubeSec rules (30 rules, buckets,
//!   ordering, messages and the `kubesec scan` JSON report), optionally after
//! - [`schema`]: strict validation against the embedded Kubernetes JSON schemas;
//! - [`input`]: reading files, directories and stdin into documents, reporting each bad file or
//!   document on its own and carrying on with the rest;
//! - [`secrets`]: secret detection in files and Git history, with redaction and baselines;
//! - [`suppress`]: the `.slipwayignore` file of accepted findings with reasons and expiry dates.
//!
//! **Invariant:** nothing here prints; commands render the returned values.

pub mod input;
pub mod kubesec;
pub mod schema;
pub mod secrets;
pub mod suppress;

pub use kubesec::{KubesecReport, Scorer};
