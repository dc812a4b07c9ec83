//! The core model of Slipway: Kubernetes objects as dynamic JSON values, their
//! group/version/kind, stable keys, and documents that remember where they came
//! from (file, document index, line).
//!
//! **Invariant:** this crate does no I/O. It is shared by every engine, so it must
//! stay cheap to build and free of tokio, HTTP and filesystem access.

pub mod document;
pub mod gvk;
pub mod object;

pub use document::{Document, SourceLocation};
pub use gvk::{Gvk, is_cluster_scoped};
pub use object::{ObjectExt, ObjectKey};

/// A Kubernetes object as a dynamic JSON value. Typed views are built on demand
/// (see [`ObjectExt`]) because policies and renderers need to see every field,
/// including unknown ones and those of custom resources.
pub type Object = serde_json::Value;
