//! Loading manifests: files, directories (recursively), and streams; YAML
//! (multi-document) and JSON; `kind: List` expanded. Every document keeps the
//! file, document index and line it came from, so every report can point there.
//!
//! Rendering (Kustomize, Helm) lives here too as it lands.

pub mod kustomize;
mod load;

pub use kustomize::{KustomizeError, is_kustomization_dir, kustomize_build};
pub use load::{LoadError, Loader, load_path, load_paths, load_str};
