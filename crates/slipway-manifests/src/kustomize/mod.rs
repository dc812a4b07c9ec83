//! A native Kustomize renderer: `kustomize build` of a kustomization directory,
//! following Kustomize v5's semantics (the order in which generators and
//! builtin transformers run, name-reference fixing after all renames, content
//! hash suffixes, and the legacy output order).
//!
//! The pipeline per kustomization mirrors upstream's `accumulateTarget`:
//! resources, configurations, crds, generators, components, transformers,
//! vars. Hash suffixes, back references and vars are resolved once, at the
//! top. Every field of the Kustomization type is either implemented or
//! refused with an error naming it; nothing is silently ignored.

mod build;
mod config;
mod fieldspec;
mod generate;
mod kustomization;
mod nameref;
mod origin;
mod patch;
mod plugins;
mod replacements;
mod resource;
mod selector;
mod vars;

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use build::kustomize_build;
pub use kustomization::{SUPPORTED_FIELDS, UNSUPPORTED_FIELDS};

/// The file names a kustomization may have, in the order upstream looks for them.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// What went wrong while rendering a kustomization.
#[derive(Debug, thiserror::Error)]
pub enum KustomizeError {
    /// A file or directory could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A resource file did not load.
    #[error(transparent)]
    Load(#[from] crate::LoadError),
    /// The kustomization file itself is invalid (unknown field, wrong type).
    #[error("{path}: {message}")]
    Invalid {
        /// The kustomization file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A Kustomize feature this renderer does not implement yet.
    #[error("{path}: field `{field}` is not supported yet")]
    Unsupported {
        /// The kustomization (or plugin config) file.
        path: PathBuf,
        /// The field, as written.
        field: String,
    },
    /// A file named in a kustomization lies outside its directory
    /// (Kustomize's default load restrictions; directories may be anywhere).
    #[error("security; file '{path}' is not in or below '{root}'")]
    OutsideRoot {
        /// The file.
        path: PathBuf,
        /// The kustomization directory.
        root: PathBuf,
    },
    /// A directory has no kustomization file.
    #[error("{path}: no kustomization.yaml, kustomization.yml or Kustomization in this directory")]
    NoKustomization {
        /// The directory.
        path: PathBuf,
    },
    /// A directory has more than one kustomization file.
    #[error("{path}: found multiple kustomization files")]
    MultipleKustomizations {
        /// The directory.
        path: PathBuf,
    },
    /// A build step failed on the resources (conflicting ids, a patch with no
    /// target, an ambiguous reference...).
    #[error("{dir}: {message}")]
    Build {
        /// The kustomization directory whose step failed.
        dir: PathBuf,
        /// What failed, naming the resource or field.
        message: String,
    },
}

/// Whether `dir` is a directory holding a kustomization file.
pub fn is_kustomization_dir(dir: &Path) -> bool {
    dir.is_dir()
        && KUSTOMIZATION_FILE_NAMES
            .iter()
            .any(|n| dir.join(n).is_file())
}

/// Builds the kustomization in `dir` and returns its output as JSON values in
/// output order (the legacy kind order, or input order with `sortOptions: fifo`).
pub fn build_values(dir: &Path) -> Result<Vec<Value>, KustomizeError> {
    kustomize_build(dir)
}

/// Serialises one rendered object as a YAML document (block style, as
/// `kubectl kustomize` prints).
pub fn to_yaml(doc: &Value) -> Result<String, serde_saphyr::ser::Error> {
    serde_saphyr::to_string(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a kustomization written into a temporary directory; returns the
    /// directory (kept alive) and the result.
    fn build(kustomization: &str) -> (tempfile::TempDir, Result<Vec<Value>, KustomizeError>) {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("kustomization.yaml"), kustomization).unwrap();
        fs_err::write(
            dir.path().join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        )
        .unwrap();
        let result = kustomize_build(dir.path());
        (dir, result)
    }

    #[test]
    fn unsupported_field_is_an_error_naming_file_and_field() {
        let (_dir, result) = build("resources:\n- cm.yaml\nhelmCharts:\n- name: x\n");
        let err = result.unwrap_err().to_string();
        assert!(err.contains("kustomization.yaml"), "{err}");
        assert!(err.contains("`helmCharts` is not supported"), "{err}");
    }

    #[test]
    fn unknown_field_is_an_error_naming_file_and_field() {
        let (_dir, result) = build("resources:\n- cm.yaml\nnamePrefx: a-\n");
        let err = result.unwrap_err().to_string();
        assert!(err.contains("kustomization.yaml"), "{err}");
        assert!(err.contains("unknown field \"namePrefx\""), "{err}");
    }

    #[test]
    fn deprecated_image_tags_apply_like_images() {
        let (dir, _) = build("");
        fs_err::write(
            dir.path().join("kustomization.yaml"),
            "resources:\n- pod.yaml\nimageTags:\n- name: nginx\n  newTag: \"1.2\"\n",
        )
        .unwrap();
        fs_err::write(
            dir.path().join("pod.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx\n",
        )
        .unwrap();
        let out = kustomize_build(dir.path()).unwrap();
        assert_eq!(out[0]["spec"]["containers"][0]["image"], "nginx:1.2");
    }

    #[test]
    fn files_outside_the_kustomization_are_refused() {
        let outer = tempfile::tempdir().unwrap();
        let inner = outer.path().join("app");
        fs_err::create_dir(&inner).unwrap();
        fs_err::write(
            outer.path().join("cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
        )
        .unwrap();
        fs_err::write(
            inner.join("kustomization.yaml"),
            "resources:\n- ../cm.yaml\n",
        )
        .unwrap();
        let err = kustomize_build(&inner).unwrap_err();
        assert!(matches!(err, KustomizeError::OutsideRoot { .. }), "{err}");
    }
}
