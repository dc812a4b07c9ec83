//! The gate's thresholds: the `spec.gates` section of a platform repo's
//! `slipway.yaml`.
//!
//! ```yaml
//! spec:
//!   gates:
//!     policies: policies/     # Kyverno policies, relative to the platform repo root
//!     minScore: 0             # every scored object must score at least this (KubeSec points)
//!     secrets: true           # fail on secrets in the checked files (default true)
//!     riskScore: true         # score objects with the KubeSec rules (default true)
//!     schema: false           # strict Kubernetes schema validation of scored objects (default false)
//!     ignoreFile: .slipwayignore  # suppressions, relative to the root (default .slipwayignore)
//! ```
//!
//! Other keys of `gates` (`vulnerabilities`, `signatures`) belong to other checks
//! and are kept for them, not rejected.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use slipway_scan::suppress::IGNORE_FILE_NAME;

/// The platform file at a platform repo's root.
pub const PLATFORM_FILE: &str = "slipway.yaml";

/// `slipway.yaml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `spec.gates` is not what the gate expects.
    #[error("{path}: invalid spec.gates")]
    Parse {
        /// The file.
        path: String,
        /// The parser error, with line and field (boxed: large and rare).
        #[source]
        source: Box<serde_saphyr::Error>,
    },
}

#[derive(Deserialize, Default)]
struct PlatformFile {
    #[serde(default)]
    spec: PlatformSpec,
}

#[derive(Deserialize, Default)]
struct PlatformSpec {
    #[serde(default)]
    gates: Option<RawGates>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawGates {
    #[serde(default)]
    policies: Option<String>,
    #[serde(default)]
    min_score: Option<i64>,
    #[serde(default)]
    secrets: Option<bool>,
    #[serde(default)]
    risk_score: Option<bool>,
    #[serde(default)]
    schema: Option<bool>,
    #[serde(default)]
    ignore_file: Option<String>,
}

/// The gate's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateConfig {
    /// Where the policies are (absolute, or relative to the working directory).
    pub policies: Option<PathBuf>,
    /// Every scored object must score at least this.
    pub min_score: i64,
    /// Run the secret scan.
    pub secrets: bool,
    /// Run the KubeSec risk score.
    pub risk_score: bool,
    /// Validate scored objects against the Kubernetes schemas first.
    pub schema: bool,
    /// The suppressions file.
    pub ignore_file: Option<PathBuf>,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            policies: None,
            min_score: 0,
            secrets: true,
            risk_score: true,
            schema: false,
            ignore_file: None,
        }
    }
}

impl GateConfig {
    /// Reads `spec.gates` of `<root>/slipway.yaml`; paths in it are resolved against
    /// `root`. Without a `gates` section the defaults apply, with `policies/` and
    /// `.slipwayignore` under the root when they exist.
    pub fn load(root: &Path) -> Result<Self, ConfigError> {
        let path = root.join(PLATFORM_FILE);
        let display = path.display().to_string();
        let text = fs_err::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: display.clone(),
            source,
        })?;
        Self::parse(&text, &display, root)
    }

    /// Parses the text of a `slipway.yaml` at `root` (`path` names it in errors).
    pub fn parse(text: &str, path: &str, root: &Path) -> Result<Self, ConfigError> {
        let file: PlatformFile =
            serde_saphyr::from_str(text).map_err(|source| ConfigError::Parse {
                path: path.to_string(),
                source: Box::new(source),
            })?;
        let gates = file.spec.gates.unwrap_or_default();
        let default = Self::default();
        let existing = |rel: &str| {
            let p = root.join(rel);
            p.exists().then_some(p)
        };
        Ok(Self {
            policies: match gates.policies {
                Some(p) => Some(root.join(p)),
                None => existing("policies"),
            },
            min_score: gates.min_score.unwrap_or(default.min_score),
            secrets: gates.secrets.unwrap_or(default.secrets),
            risk_score: gates.risk_score.unwrap_or(default.risk_score),
            schema: gates.schema.unwrap_or(default.schema),
            ignore_file: match gates.ignore_file {
                Some(p) => Some(root.join(p)),
                None => existing(IGNORE_FILE_NAME),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gates_and_resolves_paths() {
        let root = Path::new("/repo");
        let c = GateConfig::parse(
            "apiVersion: slipway.dev/v1alpha1\nkind: Platform\nspec:\n  environments: []\n  gates:\n    policies: rules/\n    minScore: 3\n    secrets: false\n    vulnerabilities: {severity: [HIGH]}\n",
            "slipway.yaml",
            root,
        )
        .unwrap();
        assert_eq!(c.policies, Some(PathBuf::from("/repo/rules/")));
        assert_eq!(c.min_score, 3);
        assert!(!c.secrets);
        assert!(c.risk_score);
        assert!(!c.schema);
        assert_eq!(c.ignore_file, None);
    }

    #[test]
    fn no_gates_means_defaults() {
        let c = GateConfig::parse(
            "kind: Platform\n",
            "slipway.yaml",
            Path::new("/nonexistent"),
        )
        .unwrap();
        assert_eq!(c, GateConfig::default());
    }

    #[test]
    fn a_wrong_type_names_the_file() {
        let err = GateConfig::parse(
            "spec:\n  gates:\n    minScore: high\n",
            "p/slipway.yaml",
            Path::new("/r"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p/slipway.yaml: invalid spec.gates"),
            "{err}"
        );
    }
}
