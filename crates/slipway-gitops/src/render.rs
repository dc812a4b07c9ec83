//! Rendering an Application's sources at resolved commits into desired
//! objects. Plain directories (YAML/JSON, `recurse`, `include`/`exclude` globs)
//! are rendered here; a directory holding a kustomization is built by the
//! native Kustomize renderer of `slipway-manifests` from a checkout of the
//! commit (so bases elsewhere in the same repository resolve), with the
//! Application's `kustomize` overrides applied as an overlay on top. Helm,
//! Jsonnet and plugins are reported as not supported yet for that
//! Application. Rendered output is cached on disk by repository, commit, path
//! and options, so an unchanged revision is never rendered twice.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde_json::Value;
use sha2::{Digest, Sha256};
use slipway_manifests::{KustomizeError, LoadError, Loader};
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
    /// `kustomize build` of the source failed.
    // The cause is part of the message: the controller keeps render errors
    // as one line of text in the app's status.
    #[error("source {repo_url} path {path:?}: kustomize build failed: {cause}")]
    Kustomize {
        /// Repository.
        repo_url: String,
        /// Path in it.
        path: String,
        /// What failed (file, resource or field).
        cause: Box<KustomizeError>,
    },
    /// The Application's `kustomize` overrides are invalid, or the checkout failed.
    #[error("source {repo_url} path {path:?}: {message}")]
    KustomizeSource {
        /// Repository.
        repo_url: String,
        /// Path in it.
        path: String,
        /// What is wrong.
        message: String,
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
                &serde_json::to_string(&source.kustomize).unwrap_or_default(),
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
        let is_kustomization = files
            .iter()
            .any(|f| KUSTOMIZATION_FILES.contains(&f.path.as_str()));
        if !is_kustomization && files.iter().any(|f| f.path == "Chart.yaml") {
            return Err(unsupported("Helm"));
        }
        let mut docs = Vec::new();
        if is_kustomization {
            docs = self.kustomize(source, commit, &path)?;
        } else if source.kustomize.is_some() {
            return Err(RenderError::KustomizeSource {
                repo_url: source.repo_url.clone(),
                path: path.clone(),
                message: "spec.source.kustomize is set but the path holds no kustomization.yaml"
                    .into(),
            });
        }
        let loader = Loader::default();
        let prefix = path.trim_matches('/');
        for f in files
            .iter()
            .filter(|f| !is_kustomization && filter.keeps(&f.path))
        {
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

impl Renderer<'_> {
    /// Builds the kustomization at `path` in a checkout of `commit`.
    fn kustomize(
        &self,
        source: &Source,
        commit: &str,
        path: &str,
    ) -> Result<Vec<Document>, RenderError> {
        let fail = |message: String| RenderError::KustomizeSource {
            repo_url: source.repo_url.clone(),
            path: path.to_string(),
            message,
        };
        let checkout = self.checkout(&source.repo_url, commit)?;
        let rel = path.trim_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        let mut dir = checkout.join(rel);
        if let Some(overrides) = source.kustomize.as_ref().filter(|v| has_overrides(v)) {
            let overlay = overlay_kustomization(overrides, rel).map_err(fail)?;
            let text = serde_json::to_string(&overlay).map_err(|e| fail(e.to_string()))?;
            let name = {
                let mut h = Sha256::new();
                h.update(rel.as_bytes());
                h.update([0]);
                h.update(text.as_bytes());
                hex::encode(&h.finalize()[..8])
            };
            // The overlay lives inside the checkout, so its base is a
            // directory of the same tree (Kustomize's load restrictions hold).
            dir = checkout.join(format!(".slipway-overlay-{name}"));
            fs_err::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
            fs_err::write(dir.join("kustomization.yaml"), text).map_err(|e| fail(e.to_string()))?;
        }
        let values =
            slipway_manifests::kustomize_build(&dir).map_err(|e| RenderError::Kustomize {
                repo_url: source.repo_url.clone(),
                path: path.to_string(),
                cause: Box::new(e),
            })?;
        let label = format!("{rel} (kustomize build)");
        let mut docs = Vec::with_capacity(values.len());
        for (i, v) in values.into_iter().enumerate() {
            let d = Document::new(v, slipway_model::SourceLocation::new(label.clone(), i, 1));
            check_object(&d)?;
            docs.push(d);
        }
        Ok(docs)
    }

    /// A checkout of the whole tree at `commit` under
    /// `<data_dir>/checkouts`, written once (to a temporary directory renamed
    /// into place, so a killed process never leaves half a checkout).
    fn checkout(&self, url: &str, commit: &str) -> Result<PathBuf, RenderError> {
        let root = self
            .cache_dir
            .parent()
            .map_or_else(|| PathBuf::from("checkouts"), |d| d.join("checkouts"));
        let dir = root.join(format!("{}-{commit}", crate::git::url_key(url)));
        if dir.is_dir() {
            return Ok(dir);
        }
        let io = |e: std::io::Error| RenderError::KustomizeSource {
            repo_url: url.to_string(),
            path: String::new(),
            message: format!("cannot write a checkout of {commit}: {e}"),
        };
        let tmp = root.join(format!(".tmp-{}-{commit}", std::process::id()));
        let _ = fs_err::remove_dir_all(&tmp);
        for f in self.repos.files(url, commit, "")? {
            let target = tmp.join(&f.path);
            if let Some(parent) = target.parent() {
                fs_err::create_dir_all(parent).map_err(io)?;
            }
            fs_err::write(&target, &f.data).map_err(io)?;
        }
        fs_err::create_dir_all(&tmp).map_err(io)?;
        if let Err(e) = fs_err::rename(&tmp, &dir) {
            // Another process won the race: its checkout is the same tree.
            let _ = fs_err::remove_dir_all(&tmp);
            if !dir.is_dir() {
                return Err(io(e));
            }
        }
        Ok(dir)
    }
}

/// The `spec.source.kustomize` keys that change the output (`version` picks a
/// kustomize binary in Argo CD and means nothing to the native renderer).
const OVERRIDE_KEYS: &[&str] = &[
    "namePrefix",
    "nameSuffix",
    "namespace",
    "images",
    "commonLabels",
    "commonAnnotations",
    "labels",
    "replicas",
    "patches",
    "components",
];

fn has_overrides(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.keys().any(|k| OVERRIDE_KEYS.contains(&k.as_str())))
}

/// An overlay kustomization applying an Application's `kustomize` overrides
/// (as `kustomize edit set ...` would) on top of the source directory `rel`.
fn overlay_kustomization(overrides: &Value, rel: &str) -> Result<Value, String> {
    let o = overrides
        .as_object()
        .ok_or("spec.source.kustomize must be a mapping")?;
    let base = format!("../{rel}");
    let mut k = serde_json::json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [base],
    });
    for (key, value) in o {
        match key.as_str() {
            "version" | "forceCommonLabels" | "forceCommonAnnotations" => {}
            "images" => {
                let list = value
                    .as_array()
                    .ok_or("spec.source.kustomize.images must be a list")?;
                let images = list
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        v.as_str().map(kustomize_image).ok_or_else(|| {
                            format!("spec.source.kustomize.images[{i}] must be a string")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                k["images"] = Value::Array(images);
            }
            "components" => {
                let list = value
                    .as_array()
                    .ok_or("spec.source.kustomize.components must be a list")?;
                // Argo CD resolves components against the source path.
                k["components"] = Value::Array(
                    list.iter()
                        .map(|c| {
                            c.as_str()
                                .map(|c| Value::String(format!("{base}/{c}")))
                                .ok_or("spec.source.kustomize.components entries must be strings")
                        })
                        .collect::<Result<_, _>>()?,
                );
            }
            k2 if OVERRIDE_KEYS.contains(&k2) => {
                k[k2] = value.clone();
            }
            other => {
                return Err(format!(
                    "spec.source.kustomize.{other} is not supported (supported: {})",
                    OVERRIDE_KEYS.join(", ")
                ));
            }
        }
    }
    Ok(k)
}

/// An Argo CD image override (`[old=]new[:tag][@digest]`) as a Kustomize
/// `images` entry.
fn kustomize_image(spec: &str) -> Value {
    let (old, new) = match spec.split_once('=') {
        Some((o, n)) => (Some(o), n),
        None => (None, spec),
    };
    let (rest, digest) = match new.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (new, None),
    };
    // A tag follows the last `:` after the last `/` (a registry port is not a tag).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
        None => (rest, None),
    };
    let mut out = serde_json::Map::new();
    match old {
        Some(o) => {
            out.insert("name".into(), o.into());
            if o != name {
                out.insert("newName".into(), name.into());
            }
        }
        None => {
            out.insert("name".into(), name.into());
        }
    }
    if let Some(t) = tag {
        out.insert("newTag".into(), t.into());
    }
    if let Some(d) = digest {
        out.insert("digest".into(), d.into());
    }
    Value::Object(out)
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
    fn argo_image_overrides_become_kustomize_images() {
        assert_eq!(
            kustomize_image("nginx:1.27"),
            serde_json::json!({"name": "nginx", "newTag": "1.27"})
        );
        assert_eq!(
            kustomize_image("nginx=registry.example.com:5000/nginx:1.27"),
            serde_json::json!({"name": "nginx", "newName": "registry.example.com:5000/nginx", "newTag": "1.27"})
        );
        assert_eq!(
            kustomize_image("web@sha256:abc"),
            serde_json::json!({"name": "web", "digest": "sha256:abc"})
        );
        let k = overlay_kustomization(
            &serde_json::json!({"namePrefix": "p-", "images": ["web:2"], "version": "v5"}),
            "apps/web",
        )
        .unwrap();
        assert_eq!(k["resources"], serde_json::json!(["../apps/web"]));
        assert_eq!(k["namePrefix"], "p-");
        assert!(k.get("version").is_none());
        let e = overlay_kustomization(&serde_json::json!({"bogus": 1}), ".").unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }

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
