//! GitOps delivery: Argo CD `Application` and `ApplicationSet` objects, Git
//! sources, rendering, desired-vs-live diff, sync plans ordered by phase, wave
//! and kind, health, history and rollback, and the [`cluster::Cluster`] trait
//! with the embedded environment as its default backend.
//!
//! **Invariant:** nothing here prints; every operation returns values or typed
//! errors, and the CLI decides how to show them.

pub mod application;
pub mod appset;
pub mod cluster;
pub mod controller;
pub mod diff;
pub mod environments;
pub mod fields;
pub mod gate;
pub mod git;
pub mod health;
pub mod plan;
pub mod render;
pub mod store;
pub mod tracking;
