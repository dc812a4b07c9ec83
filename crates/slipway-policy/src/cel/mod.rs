//! CEL policies: the language (see [`lang`]) and the policy kinds that use it.
//!
//! Language: the `cel` crate (cel-rust, the maintained successor of
//! `cel-interpreter`, which is the same project under its old name): a
//! spec-conformant interpreter with optional types (`.?`, `orValue`), the
//! standard macros and the strings/lists extensions. Slipway adds what
//! Kubernetes and Kyverno define on top in [`lang`], and a cost bound.
pub mod cluster;
pub mod lang;
mod mutate;
pub mod policy;

pub use lang::{CelData, CompileError};
pub use policy::{CelInputs, CelKind, CelPolicy};
