//! The pre-sync policy gate: before any sync applies anything, the app's
//! rendered objects pass through the same [`slipway_gate::Gate`] that
//! `slipway check` runs (the platform's Kyverno policies, the KubeSec risk
//! score threshold, the secret scan, `.slipwayignore` suppressions). A failure
//! blocks the sync; Audit findings are recorded and let it through.
//!
//! The gate is configured from the platform repository: `spec.gates` of its
//! `slipway.yaml` (policies default to `policies/` under the root). Without a
//! `slipway.yaml` there is no platform configuration, and syncs are not gated.

use std::path::Path;

use serde_json::Value;
use slipway_gate::config::PLATFORM_FILE;
use slipway_gate::{ConfigError, Gate, GateConfig, GateError, GateInput};
use slipway_model::{Document, ObjectExt, SourceLocation};
use slipway_scan::suppress::{IgnoreFile, IgnoreFileError};

/// The platform gate could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum GateLoadError {
    /// `spec.gates` of `slipway.yaml` is invalid.
    #[error("pre-sync gate: {0}")]
    Config(#[from] ConfigError),
    /// The policies did not load.
    #[error("pre-sync gate: {0}")]
    Policies(#[from] GateError),
    /// The suppressions file did not load.
    #[error("pre-sync gate: {0}")]
    Ignore(#[from] IgnoreFileError),
}

/// The verdict of the gate on one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateVerdict {
    /// One line per reason the sync is blocked (empty: it may go ahead).
    pub violations: Vec<String>,
    /// One line per Audit finding (recorded, not blocking).
    pub audits: Vec<String>,
}

impl GateVerdict {
    /// Whether the sync may go ahead.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The gate every sync passes, configured once.
#[derive(Debug)]
pub struct SyncGate {
    gate: Gate,
    /// Policies the gate recognises but does not evaluate (CEL kinds), `what: why`.
    pub skipped: Vec<String>,
}

impl SyncGate {
    /// Wraps a configured gate.
    pub fn new(gate: Gate) -> Self {
        Self {
            gate,
            skipped: Vec::new(),
        }
    }

    /// The gate of the platform repository at `root`, with suppressions as of
    /// today (UTC); `None` when `root` has no `slipway.yaml`.
    pub fn load(root: &Path) -> Result<Option<Self>, GateLoadError> {
        if !root.join(PLATFORM_FILE).is_file() {
            return Ok(None);
        }
        let config = GateConfig::load(root)?;
        let (policies, skipped) = match &config.policies {
            Some(p) => slipway_gate::load_policies(p)?,
            None => (Vec::new(), Vec::new()),
        };
        let ignore = match &config.ignore_file {
            Some(f) => IgnoreFile::load(f)?,
            None => IgnoreFile::default(),
        };
        let gate = Gate::new(policies, &config, &ignore, chrono::Utc::now().date_naive());
        Ok(Some(Self {
            gate,
            skipped: skipped
                .into_iter()
                .map(|s| format!("{}: {}", s.what, s.reason))
                .collect(),
        }))
    }

    /// Evaluates the objects an app is about to sync (`app` names them in findings).
    pub fn evaluate(&self, app: &str, objects: &[&Value]) -> GateVerdict {
        let documents = objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let source = SourceLocation::new(
                    format!(
                        "application {app}: {}/{}",
                        o.kind(),
                        match o.namespace() {
                            Some(ns) => format!("{ns}/{}", o.name()),
                            None => o.name().to_string(),
                        }
                    ),
                    i,
                    1,
                );
                Document::new((*o).clone(), source)
            })
            .collect();
        let outcome = self.gate.evaluate(&GateInput::from_documents(documents));
        GateVerdict {
            violations: outcome.failures,
            audits: outcome.audits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LATEST: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: disallow-latest-tag}
spec:
  validationFailureAction: Enforce
  rules:
    - name: require-image-tag
      match: {any: [{resources: {kinds: [Deployment]}}]}
      validate:
        message: "an image tag is required and must not be latest"
        pattern:
          spec: {template: {spec: {containers: [{image: "!*:latest"}]}}}
"#;

    fn deployment(image: &str) -> Value {
        serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}
        })
    }

    #[test]
    fn no_platform_file_means_no_gate() {
        let dir = tempfile::tempdir().unwrap();
        assert!(SyncGate::load(dir.path()).unwrap().is_none());
    }

    #[test]
    fn enforce_blocks_and_names_the_policy() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join("slipway.yaml"),
            "apiVersion: slipway.dev/v1alpha1\nkind: Platform\nspec:\n  gates: {policies: rules/}\n",
        )
        .unwrap();
        fs_err::create_dir_all(dir.path().join("rules")).unwrap();
        fs_err::write(dir.path().join("rules/latest.yaml"), LATEST).unwrap();
        let gate = SyncGate::load(dir.path()).unwrap().unwrap();
        let bad = deployment("web:latest");
        let v = gate.evaluate("web", &[&bad]);
        assert!(!v.passed());
        assert!(
            v.violations[0].contains("disallow-latest-tag"),
            "{:?}",
            v.violations
        );
        let good = deployment("web:1.2");
        assert!(gate.evaluate("web", &[&good]).passed());
    }

    #[test]
    fn bad_policies_are_a_load_error() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join("slipway.yaml"),
            "spec:\n  gates: {policies: missing/}\n",
        )
        .unwrap();
        let e = SyncGate::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
