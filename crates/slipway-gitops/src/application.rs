//! The `argoproj.io/v1alpha1` `Application`: its spec parsed from a document with
//! field-path errors, validated (one of `source`/`sources`, one of
//! `destination.server`/`destination.name`, backoff durations), plus the sync
//! options it carries.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slipway_model::{Document, ObjectExt, SourceLocation};

/// The API version Applications and ApplicationSets use.
pub const ARGO_API_VERSION: &str = "argoproj.io/v1alpha1";
/// The default number of history entries kept (Argo CD's default).
pub const DEFAULT_HISTORY_LIMIT: usize = 10;

/// A document could not be read as an Argo CD object.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A field has the wrong type or shape.
    #[error("{location}: {object}: field {path}: {message}")]
    Field {
        /// Where the document was read.
        location: SourceLocation,
        /// `Application NAME` or `ApplicationSet NAME`.
        object: String,
        /// Dotted field path (`spec.syncPolicy.automated.prune`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The document is not of the expected kind.
    #[error("{location}: expected {expected} ({ARGO_API_VERSION}), found {found}")]
    WrongKind {
        /// Where.
        location: SourceLocation,
        /// The kind wanted.
        expected: &'static str,
        /// `apiVersion/kind` found.
        found: String,
    },
}

/// An Argo CD Application, as read from YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (Argo CD's own namespace, usually `argocd`).
    pub namespace: Option<String>,
    /// Whether the `resources-finalizer.argocd.argoproj.io` finalizer is set
    /// (cascading delete of the app's resources).
    pub cascade_finalizer: bool,
    /// The spec.
    pub spec: ApplicationSpec,
    /// The object as written (kept for `app get`).
    pub manifest: Value,
}

/// `spec` of an Application.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    /// `project`; empty means `default`.
    #[serde(default)]
    pub project: String,
    /// A single source.
    #[serde(default)]
    pub source: Option<Source>,
    /// Several sources (multi-source Applications).
    #[serde(default)]
    pub sources: Vec<Source>,
    /// Where to deploy.
    #[serde(default)]
    pub destination: Destination,
    /// Automation, options, retry.
    #[serde(default)]
    pub sync_policy: Option<SyncPolicy>,
    /// Differences the comparison ignores.
    #[serde(default)]
    pub ignore_differences: Vec<IgnoreDifference>,
    /// History entries kept; default 10.
    #[serde(default)]
    pub revision_history_limit: Option<i64>,
    /// Free-form info (kept, unused).
    #[serde(default)]
    pub info: Vec<Value>,
}

/// One source of manifests.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// Git URL (or Helm repository URL).
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Branch, tag, SHA or `HEAD` (default `HEAD`).
    #[serde(default)]
    pub target_revision: String,
    /// Directory inside the repository.
    #[serde(default)]
    pub path: Option<String>,
    /// Helm chart name (Helm repositories only).
    #[serde(default)]
    pub chart: Option<String>,
    /// Helm options.
    #[serde(default)]
    pub helm: Option<Value>,
    /// Kustomize options.
    #[serde(default)]
    pub kustomize: Option<Value>,
    /// Plain-directory options.
    #[serde(default)]
    pub directory: Option<DirectorySource>,
    /// Config management plugin.
    #[serde(default)]
    pub plugin: Option<Value>,
    /// Multi-source reference name.
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
}

impl Source {
    /// The revision to resolve: `targetRevision`, or `HEAD` when empty.
    pub fn revision(&self) -> &str {
        if self.target_revision.is_empty() {
            "HEAD"
        } else {
            &self.target_revision
        }
    }
}

/// `source.directory`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectorySource {
    /// Descend into subdirectories.
    #[serde(default)]
    pub recurse: bool,
    /// Glob of files to include (`*.yaml` or `{a.yaml,b.yaml}`).
    #[serde(default)]
    pub include: Option<String>,
    /// Glob of files to exclude.
    #[serde(default)]
    pub exclude: Option<String>,
    /// Jsonnet options (not supported; reported when used).
    #[serde(default)]
    pub jsonnet: Option<Value>,
}

/// `spec.destination`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    /// API server URL.
    #[serde(default)]
    pub server: Option<String>,
    /// Cluster (environment) name.
    #[serde(default)]
    pub name: Option<String>,
    /// Namespace for namespaced resources that set none.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `spec.syncPolicy`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    /// Automated sync; absent means manual.
    #[serde(default)]
    pub automated: Option<Automated>,
    /// `Name=value` options.
    #[serde(default)]
    pub sync_options: Vec<String>,
    /// Retry of failed operations.
    #[serde(default)]
    pub retry: Option<Retry>,
    /// Labels/annotations for a namespace created by `CreateNamespace=true`.
    #[serde(default)]
    pub managed_namespace_metadata: Option<Value>,
}

/// `syncPolicy.automated`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Automated {
    /// Delete resources no longer in Git.
    #[serde(default)]
    pub prune: bool,
    /// Re-sync when live state drifts without a Git change.
    #[serde(default)]
    pub self_heal: bool,
    /// Allow a sync that would leave the app with no resources.
    #[serde(default)]
    pub allow_empty: bool,
    /// Newer CRDs: `enabled: false` turns automation off (null means on).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `syncPolicy.retry`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    /// Attempts; negative means unlimited.
    #[serde(default)]
    pub limit: i64,
    /// Backoff between attempts.
    #[serde(default)]
    pub backoff: Option<Backoff>,
}

/// `retry.backoff`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    /// First delay (`5s`); Argo CD accepts a bare number of seconds too.
    #[serde(default)]
    pub duration: Option<Value>,
    /// Multiplier per attempt (default 2).
    #[serde(default)]
    pub factor: Option<i64>,
    /// Cap on the delay (`3m`).
    #[serde(default)]
    pub max_duration: Option<Value>,
}

/// One `spec.ignoreDifferences` entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreDifference {
    /// API group (no version); empty is the core group.
    #[serde(default)]
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Only this name.
    #[serde(default)]
    pub name: Option<String>,
    /// Only this namespace.
    #[serde(default)]
    pub namespace: Option<String>,
    /// RFC 6901 pointers.
    #[serde(default)]
    pub json_pointers: Vec<String>,
    /// jq path expressions (the path subset: `.a.b`, `.a[]`, `.a["k"]`, `select(.name == "x")`).
    #[serde(default)]
    pub jq_path_expressions: Vec<String>,
    /// Fields owned by these managers are ignored.
    #[serde(default)]
    pub managed_fields_managers: Vec<String>,
}

/// The effective retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Attempts after the first; `None` = unlimited.
    pub limit: Option<u32>,
    /// First delay, seconds.
    pub duration_secs: u64,
    /// Multiplier.
    pub factor: u64,
    /// Cap, seconds.
    pub max_secs: u64,
}

impl RetrySchedule {
    /// Delay before retry number `attempt` (0-based).
    pub fn delay_secs(&self, attempt: u32) -> u64 {
        let mut d = self.duration_secs;
        for _ in 0..attempt {
            d = d.saturating_mul(self.factor);
            if d >= self.max_secs {
                return self.max_secs;
            }
        }
        d.min(self.max_secs)
    }
}

impl Application {
    /// Reads an Application from a document, collecting the first field error
    /// with its path and the document's location.
    pub fn from_document(doc: &Document) -> Result<Self, SpecError> {
        let obj = &doc.object;
        if obj.api_version() != ARGO_API_VERSION || obj.kind() != "Application" {
            return Err(SpecError::WrongKind {
                location: doc.source.clone(),
                expected: "Application",
                found: format!("{}/{}", obj.api_version(), obj.kind()),
            });
        }
        let name = obj.name().to_string();
        let field = |path: String, message: String| SpecError::Field {
            location: doc.source.clone(),
            object: format!("Application {name}"),
            path,
            message,
        };
        if name.is_empty() {
            return Err(field("metadata.name".into(), "is required".into()));
        }
        let spec_value = obj.get("spec").cloned().unwrap_or(Value::Null);
        if !spec_value.is_object() {
            return Err(field("spec".into(), "must be a mapping".into()));
        }
        let spec: ApplicationSpec = serde_path_to_error::deserialize(&spec_value)
            .map_err(|e| field(format!("spec.{}", e.path()), e.inner().to_string()))?;
        let finalizers = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let cascade_finalizer = finalizers.iter().any(|f| {
            f.as_str()
                .is_some_and(|s| s.starts_with("resources-finalizer.argocd.argoproj.io"))
        });
        let app = Self {
            name: name.clone(),
            namespace: obj.namespace().map(str::to_string),
            cascade_finalizer,
            spec,
            manifest: obj.clone(),
        };
        app.validate().map_err(|(p, m)| field(p, m))?;
        Ok(app)
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let s = &self.spec;
        match (&s.source, s.sources.is_empty()) {
            (None, true) => {
                return Err((
                    "spec.source".into(),
                    "one of source or sources is required".into(),
                ));
            }
            (Some(_), false) => {
                return Err((
                    "spec.sources".into(),
                    "source and sources are mutually exclusive".into(),
                ));
            }
            _ => {}
        }
        for (i, src) in self.sources().iter().enumerate() {
            let path = if s.source.is_some() {
                "spec.source".to_string()
            } else {
                format!("spec.sources[{i}]")
            };
            if src.repo_url.trim().is_empty() {
                return Err((format!("{path}.repoURL"), "is required".into()));
            }
        }
        let d = &s.destination;
        match (&d.server, &d.name) {
            (Some(_), Some(_)) => {
                return Err((
                    "spec.destination".into(),
                    "server and name are mutually exclusive".into(),
                ));
            }
            (None, None) => {
                return Err((
                    "spec.destination".into(),
                    "one of server or name is required".into(),
                ));
            }
            _ => {}
        }
        if let Some(retry) = s.sync_policy.as_ref().and_then(|p| p.retry.as_ref())
            && let Some(b) = &retry.backoff
        {
            for (field, v) in [("duration", &b.duration), ("maxDuration", &b.max_duration)] {
                if let Some(v) = v {
                    parse_duration_value(v)
                        .map_err(|m| (format!("spec.syncPolicy.retry.backoff.{field}"), m))?;
                }
            }
        }
        if let Some(limit) = s.revision_history_limit
            && limit < 0
        {
            return Err((
                "spec.revisionHistoryLimit".into(),
                "must not be negative".into(),
            ));
        }
        for (i, opt) in self.sync_options().iter().enumerate() {
            if !opt.contains('=') {
                return Err((
                    format!("spec.syncPolicy.syncOptions[{i}]"),
                    format!("{opt:?} is not of the form Name=value"),
                ));
            }
        }
        Ok(())
    }

    /// All sources (`source` or `sources`).
    pub fn sources(&self) -> Vec<&Source> {
        match &self.spec.source {
            Some(s) => vec![s],
            None => self.spec.sources.iter().collect(),
        }
    }

    /// The project, `default` when empty.
    pub fn project(&self) -> &str {
        if self.spec.project.is_empty() {
            "default"
        } else {
            &self.spec.project
        }
    }

    /// Automated sync settings, when automation is on.
    pub fn automated(&self) -> Option<&Automated> {
        self.spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.automated.as_ref())
            .filter(|a| a.enabled != Some(false))
    }

    /// App-level sync options.
    pub fn sync_options(&self) -> &[String] {
        self.spec
            .sync_policy
            .as_ref()
            .map_or(&[], |p| p.sync_options.as_slice())
    }

    /// The value of an app-level sync option (`PruneLast` -> `true`).
    pub fn sync_option(&self, name: &str) -> Option<&str> {
        option_value(self.sync_options().iter().map(String::as_str), name)
    }

    /// History entries to keep.
    pub fn history_limit(&self) -> usize {
        self.spec
            .revision_history_limit
            .map_or(DEFAULT_HISTORY_LIMIT, |l| usize::try_from(l).unwrap_or(0))
    }

    /// The retry schedule, when `retry` is set.
    pub fn retry(&self) -> Option<RetrySchedule> {
        let r = self.spec.sync_policy.as_ref()?.retry.as_ref()?;
        let b = r.backoff.clone().unwrap_or_default();
        let duration_secs = b
            .duration
            .as_ref()
            .and_then(|v| parse_duration_value(v).ok())
            .unwrap_or(5);
        let max_secs = b
            .max_duration
            .as_ref()
            .and_then(|v| parse_duration_value(v).ok())
            .unwrap_or(180);
        Some(RetrySchedule {
            limit: u32::try_from(r.limit).ok(),
            duration_secs,
            factor: b.factor.and_then(|f| u64::try_from(f).ok()).unwrap_or(2),
            max_secs,
        })
    }
}

/// Finds `name` in a list of `Name=value` options; the last one wins.
pub fn option_value<'a>(options: impl Iterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    let mut found = None;
    for opt in options {
        if let Some((k, v)) = opt.split_once('=')
            && k.trim() == name
        {
            found = Some(v.trim());
        }
    }
    found
}

/// Parses a Go-style duration (`5s`, `3m`, `1h30m`) or a bare number of seconds.
pub fn parse_duration_value(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a non-negative number of seconds")),
        Value::String(s) => parse_duration(s),
        other => Err(format!("{other} is not a duration")),
    }
}

/// Parses a Go duration string into whole seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(n);
    }
    let mut total_ms: u128 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("{s:?} is not a duration (like 5s, 3m, 1h)"));
        }
        let num: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("{s:?} is not a duration (like 5s, 3m, 1h)"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor_ms = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            _ => return Err(format!("{s:?} is not a duration (like 5s, 3m, 1h)")),
        };
        rest = &rest[unit_len..];
        total_ms += (num * factor_ms) as u128;
    }
    Ok(u64::try_from(total_ms / 1000).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_manifests::load_str;

    fn parse(yaml: &str) -> Result<Application, SpecError> {
        let docs = load_str(yaml, "app.yaml").unwrap();
        Application::from_document(&docs[0])
    }

    const FULL: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: default
  source:
    repoURL: https://github.com/argoproj/argocd-example-apps.git
    targetRevision: HEAD
    path: guestbook
    directory: {recurse: true, include: "*.yaml", exclude: "{skip.yaml}"}
  destination: {server: https://kubernetes.default.svc, namespace: guestbook}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true, PruneLast=true]
    retry: {limit: 5, backoff: {duration: 5s, factor: 2, maxDuration: 3m}}
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers: [/spec/replicas]
  revisionHistoryLimit: 3
"#;

    #[test]
    fn reads_the_reference_fields() {
        let app = parse(FULL).unwrap();
        assert_eq!(app.name, "guestbook");
        assert!(app.cascade_finalizer);
        assert_eq!(app.sources().len(), 1);
        assert_eq!(app.sources()[0].revision(), "HEAD");
        assert!(app.sources()[0].directory.as_ref().unwrap().recurse);
        let auto = app.automated().unwrap();
        assert!(auto.prune && auto.self_heal && !auto.allow_empty);
        assert_eq!(app.sync_option("PruneLast"), Some("true"));
        assert_eq!(app.history_limit(), 3);
        let retry = app.retry().unwrap();
        assert_eq!(retry.limit, Some(5));
        assert_eq!(
            (0..6).map(|a| retry.delay_secs(a)).collect::<Vec<_>>(),
            vec![5, 10, 20, 40, 80, 160]
        );
        assert_eq!(retry.delay_secs(7), 180);
        assert_eq!(
            app.spec.ignore_differences[0].json_pointers,
            ["/spec/replicas"]
        );
    }

    #[test]
    fn wrong_type_names_the_field_path_and_line() {
        let yaml = "# c\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x}\nspec:\n  source: {repoURL: r}\n  destination: {name: local}\n  syncPolicy:\n    automated: {prune: maybe}\n";
        let err = parse(yaml).unwrap_err().to_string();
        assert!(err.contains("app.yaml:2"), "{err}");
        assert!(err.contains("spec.syncPolicy.automated.prune"), "{err}");
    }

    #[test]
    fn source_and_destination_rules() {
        let base =
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: x}\nspec:\n";
        let err = parse(&format!("{base}  destination: {{name: a}}\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("one of source or sources"), "{err}");
        let err = parse(&format!(
            "{base}  source: {{repoURL: r}}\n  destination: {{name: a, server: b}}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("mutually exclusive"), "{err}");
        let err = parse(&format!("{base}  source: {{repoURL: r}}\n  destination: {{name: a}}\n  syncPolicy: {{retry: {{backoff: {{duration: soon}}}}}}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spec.syncPolicy.retry.backoff.duration"),
            "{err}"
        );
        let app = parse(&format!(
            "{base}  sources: [{{repoURL: a}}, {{repoURL: b, ref: values}}]\n  destination: {{name: a}}\n  syncPolicy: {{automated: {{enabled: false}}}}\n"
        ))
        .unwrap();
        assert_eq!(app.sources().len(), 2);
        assert!(app.automated().is_none());
        assert_eq!(app.project(), "default");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert!(parse_duration("5x").is_err());
    }
}
