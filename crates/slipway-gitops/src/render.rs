//! Rendering an Application's sources at resolved commits into desired
//! objects. Plain directories (YAML/JSON, `recurse`, `include`/`exclude` globs)
//! are rendered here; Kustomize, Helm, Jsonnet and plugins are reported as not
//! supported yet for that Application. Rendered output is cached on disk by
//! repository, commit, path and options, so an unchanged revision is never
//! rendered twice.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde_json::Value;
use sha2::{Digest, Sha256};
use slipway_manifests::{LoadError, Loader};
use slipway_model::{Document, ObjectExt};

use crate::application::{DirectorySource, Source};
use crate::git::{GitError, RepoCache};

/// Rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Git failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// A manifest did not parse (file and line in the message).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A document is not a Kubernetes object.
    #[error("{location}: not a Kubernetes object: {message}")]
    NotAnObject {
        /// Where.
        location: slipway_model::SourceLocation,
        /// What is missing.
        message: String,
    },
    /// The source type is not implemented.
    #[error("source {repo_url} path {path:?}: {what} sources are not supported yet")]
    NotSupported {
        /// Repository.
        repo_url: String,
        /// Path in it.
        path: String,
        /// `Helm`, `Kustomize`, ...
        what: &'static str,
    },
    /// A glob is invalid.
    #[error("source {repo_url}: invalid directory {field} glob {pattern:?}: {message}")]
    Glob {
        /// Repository.
        repo_url: String,
        /// `include` or `exclude`.
        field: &'static str,
        /// The pattern.
        pattern: String,
        /// Why.
        message: String,
    },
}

/// Renders sources, with an on-disk cache.
#[derive(Debug)]
pub struct Renderer<'a> {
    repos: &'a RepoCache,
    cache_dir: PathBuf,
}

struct DirFilter {
    include: Option<GlobMatcher>,
    exclude: Option<GlobMatcher>,
    recurse: bool,
}

fn glob(repo_url: &str, field: &'static str, pattern: &str) -> Result<GlobMatcher, RenderError> {
    Glob::new(pattern)
        .map(|g| g.compile_matcher())
        .map_err(|e| RenderError::Glob {
            repo_url: repo_url.into(),
            field,
            pattern: pattern.into(),
            message: e.to_string(),
        })
}

impl DirFilter {
    fn new(repo_url: &str, d: Option<&DirectorySource>) -> Result<Self, RenderError> {
        let d = d.cloned().unwrap_or_default();
        Ok(Self {
            include: d
                .include
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|p| glob(repo_url, "include", p))
                .transpose()?,
            exclude: d
                .exclude
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(|p| glob(repo_url, "exclude", p))
                .transpose()?,
            recurse: d.recurse,
        })
    }

    fn keeps(&self, rel: &str) -> bool {
        if !self.recurse && rel.contains('/') {
            return false;
        }
        let base = rel.rsplit('/').next().unwrap_or(rel);
        if !(base.ends_with(".yaml") || base.ends_with(".yml") || base.ends_with(".json")) {
            return false;
        }
        // A glob without a slash matches the file name as well as the path.
        let matches = |g: &GlobMatcher| g.is_match(rel) || g.is_match(base);
        if let Some(i) = &self.include
            && !matches(i)
        {
            return false;
        }
        if let Some(e) = &self.exclude
            && matches(e)
        {
            return false;
        }
        true
    }
}

const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

impl<'a> Renderer<'a> {
    /// A renderer caching under `<data_dir>/renders`.
    pub fn new(repos: &'a RepoCache, data_dir: &Path) -> Self {
        Self {
            repos,
            cache_dir: data_dir.join("renders"),
        }
    }

    /// Renders one source at `commit`.
    pub fn render_source(
        &self,
        source: &Source,
        commit: &str,
    ) -> Result<Vec<Document>, RenderError> {
        let path = source.path.clone().unwrap_or_default();
        let unsupported = |what| RenderError::NotSupported {
            repo_url: source.repo_url.clone(),
            path: path.clone(),
            what,
        };
        if source.chart.is_some() || source.helm.is_some() {
            return Err(unsupported("Helm"));
        }
        if source.plugin.is_some() {
            return Err(unsupported("config management plugin"));
        }
        if source.kustomize.is_some() {
            return Err(unsupported("Kustomize"));
        }
        if source
            .directory
            .as_ref()
            .and_then(|d| d.jsonnet.as_ref())
            .is_some_and(|j| j.as_object().is_some_and(|o| !o.is_empty()))
        {
            return Err(unsupported("Jsonnet"));
        }
        let key = {
            let mut h = Sha256::new();
            for part in [
                source.repo_url.as_str(),
                commit,
                path.as_str(),
                &serde_json::to_string(&source.directory).unwrap_or_default(),
            ] {
                h.update(part.as_bytes());
                h.update([0]);
            }
            hex::encode(h.finalize())
        };
        let cache_file = self.cache_dir.join(format!("{key}.json"));
        if let Ok(text) = fs_err::read_to_string(&cache_file)
            && let Ok(docs) = serde_json::from_str::<Vec<Document>>(&text)
        {
            return Ok(docs);
        }
        let filter = DirFilter::new(&source.repo_url, source.directory.as_ref())?;
        let files = self.repos.files(&source.repo_url, commit, &path)?;
        if files
            .iter()
            .any(|f| KUSTOMIZATION_FILES.contains(&f.path.as_str()))
        {
            return Err(unsupported("Kustomize"));
        }
        if files.iter().any(|f| f.path == "Chart.yaml") {
            return Err(unsupported("Helm"));
        }
        let loader = Loader::default();
        let mut docs = Vec::new();
        let prefix = path.trim_matches('/');
        for f in files.iter().filter(|f| filter.keeps(&f.path)) {
            let label = if prefix.is_empty() || prefix == "." {
                f.path.clone()
            } else {
                format!("{prefix}/{}", f.path)
            };
            let text = std::str::from_utf8(&f.data).map_err(|_| {
                RenderError::Load(LoadError::NotText {
                    path: PathBuf::from(&label),
                })
            })?;
            let loaded = if f.path.ends_with(".json") {
                loader.load_json(text, &label)?
            } else {
                loader.load_str(text, &label)?
            };
            for d in loaded {
                check_object(&d)?;
                docs.push(d);
            }
        }
        // Best effort: a cache that cannot be written only costs a re-render.
        if fs_err::create_dir_all(&self.cache_dir).is_ok()
            && let Ok(text) = serde_json::to_string(&docs)
        {
            let tmp = cache_file.with_extension(format!("tmp{}", std::process::id()));
            if fs_err::write(&tmp, text).is_ok() {
                let _ = fs_err::rename(&tmp, &cache_file);
            }
        }
        Ok(docs)
    }
}

fn check_object(d: &Document) -> Result<(), RenderError> {
    let o = &d.object;
    let missing = if !o.is_object() {
        Some("the document is not a mapping")
    } else if o.api_version().is_empty() {
        Some("apiVersion is missing")
    } else if o.kind().is_empty() {
        Some("kind is missing")
    } else if o.name().is_empty() && o.pointer("/metadata/generateName").is_none() {
        Some("metadata.name is missing")
    } else if o.get("metadata").is_some_and(|m| !m.is_object()) {
        Some("metadata is not a mapping")
    } else {
        None
    };
    match missing {
        Some(m) => Err(RenderError::NotAnObject {
            location: d.source.clone(),
            message: m.into(),
        }),
        None => Ok(()),
    }
}

/// Whether a value is an Argo CD Application.
pub fn is_application(v: &Value) -> bool {
    v.api_version() == crate::application::ARGO_API_VERSION && v.kind() == "Application"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_filter_rules() {
        let d = DirectorySource {
            recurse: true,
            include: Some("*.yaml".into()),
            exclude: Some("{skip.yaml,tmp/*}".into()),
            jsonnet: None,
        };
        let f = DirFilter::new("r", Some(&d)).unwrap();
        assert!(f.keeps("a.yaml"));
        assert!(f.keeps("sub/b.yaml"));
        assert!(!f.keeps("a.json"));
        assert!(!f.keeps("skip.yaml"));
        assert!(!f.keeps("tmp/x.yaml"));
        let flat = DirFilter::new("r", None).unwrap();
        assert!(!flat.keeps("sub/b.yaml"));
        assert!(flat.keeps("c.json"));
        assert!(!flat.keeps("README.md"));
    }
}
