//! Environments: read from `slipway.yaml` at the platform repository's root
//! (`spec.environments[]`: `name`, optional `server`, `target: {embedded: {}}`
//! or `target: {kubeconfig: {path, context}}`), and the resolution of an
//! Application's destination to one of them. The data directory's default
//! embedded environment `local` always exists; `https://kubernetes.default.svc`
//! and `in-cluster` name it unless an environment claims that server.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::application::Destination;
use crate::cluster::embedded::EmbeddedCluster;
use crate::cluster::kube::{KubeCluster, resolve_kubeconfig_path};
use crate::cluster::{Cluster, ClusterError};

/// The default embedded environment.
pub const LOCAL_ENV: &str = "local";
/// The in-cluster API server URL Argo CD uses.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

/// Environment configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// `slipway.yaml` did not load.
    #[error(transparent)]
    Load(#[from] slipway_manifests::LoadError),
    /// A field is wrong.
    #[error("{file}: field {path}: {message}")]
    Field {
        /// The file.
        file: String,
        /// Field path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A destination names no environment.
    #[error("destination {destination} matches no environment (known: {known})")]
    UnknownDestination {
        /// The destination as written.
        destination: String,
        /// Known names.
        known: String,
    },
}

/// Where an environment's objects live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// The embedded object store in the data directory.
    Embedded,
    /// A Kubernetes cluster.
    Kubeconfig {
        /// Kubeconfig path (empty: `$KUBECONFIG` or `~/.kube/config`; a
        /// relative path in `slipway.yaml` is taken from the platform root).
        path: String,
        /// Context (empty: current).
        context: String,
    },
}

/// One environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// Its name (`staging`).
    pub name: String,
    /// API server URL that names it in `destination.server`.
    pub server: Option<String>,
    /// Labels (for the ApplicationSet cluster generator).
    pub labels: std::collections::BTreeMap<String, String>,
    /// Where it lives.
    pub target: Target,
}

impl Environment {
    /// Opens its backend: the embedded store in `data_dir`, or a
    /// [`KubeCluster`] for a kubeconfig target (which contacts the API server
    /// only on its first call).
    pub fn open_cluster(&self, data_dir: &Path) -> Result<Arc<dyn Cluster>, ClusterError> {
        Ok(match &self.target {
            Target::Embedded => Arc::new(EmbeddedCluster::open(data_dir, &self.name)?),
            Target::Kubeconfig { path, context } => {
                Arc::new(KubeCluster::connect(&self.name, path, context)?)
            }
        })
    }
}

/// The set of environments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Environments {
    /// Declared environments plus `local`.
    pub items: Vec<Environment>,
}

impl Environments {
    /// Only `local`.
    pub fn local_only() -> Self {
        Self {
            items: vec![Environment {
                name: LOCAL_ENV.into(),
                server: None,
                labels: Default::default(),
                target: Target::Embedded,
            }],
        }
    }

    /// Reads `<platform_root>/slipway.yaml` when present; `local` is always added.
    pub fn load(platform_root: &Path) -> Result<Self, EnvError> {
        let file = platform_root.join("slipway.yaml");
        if !file.exists() {
            return Ok(Self::local_only());
        }
        let docs = slipway_manifests::load_path(&file)?;
        let label = file.display().to_string();
        let mut envs = Self::local_only();
        let Some(doc) = docs.first() else {
            return Ok(envs);
        };
        let list = doc.object.pointer("/spec/environments");
        let field = |path: String, message: &str| EnvError::Field {
            file: label.clone(),
            path,
            message: message.into(),
        };
        let Some(list) = list else { return Ok(envs) };
        let items = list
            .as_array()
            .ok_or_else(|| field("spec.environments".into(), "must be a list"))?;
        for (i, e) in items.iter().enumerate() {
            let at = |f: &str| format!("spec.environments[{i}].{f}");
            let name = e
                .get("name")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| field(at("name"), "is required"))?;
            let target = match e.get("target") {
                None => Target::Embedded,
                Some(t) if t.get("embedded").is_some() => Target::Embedded,
                Some(t) if t.get("kubeconfig").is_some() => {
                    let k = &t["kubeconfig"];
                    Target::Kubeconfig {
                        path: resolve_kubeconfig_path(
                            platform_root,
                            k.get("path").and_then(Value::as_str).unwrap_or(""),
                        ),
                        context: k
                            .get("context")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .into(),
                    }
                }
                Some(_) => {
                    return Err(field(
                        at("target"),
                        "must be {embedded: {}} or {kubeconfig: {path, context}}",
                    ));
                }
            };
            let labels = e
                .get("labels")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let env = Environment {
                name: name.into(),
                server: e.get("server").and_then(Value::as_str).map(str::to_string),
                labels,
                target,
            };
            if envs
                .items
                .iter()
                .any(|x| x.name == env.name && x.name != LOCAL_ENV)
            {
                return Err(field(at("name"), "duplicate environment name"));
            }
            envs.items.retain(|x| x.name != env.name);
            envs.items.push(env);
        }
        Ok(envs)
    }

    /// The environment with this name.
    pub fn get(&self, name: &str) -> Option<&Environment> {
        self.items.iter().find(|e| e.name == name)
    }

    /// The environment a destination names.
    pub fn resolve(&self, d: &Destination) -> Result<&Environment, EnvError> {
        let known = || {
            self.items
                .iter()
                .map(|e| e.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(name) = d.name.as_deref().filter(|s| !s.is_empty()) {
            let name = if name == "in-cluster" && self.get("in-cluster").is_none() {
                LOCAL_ENV
            } else {
                name
            };
            return self.get(name).ok_or_else(|| EnvError::UnknownDestination {
                destination: format!("name {name:?}"),
                known: known(),
            });
        }
        let server = d.server.as_deref().unwrap_or("").trim_end_matches('/');
        if let Some(e) = self
            .items
            .iter()
            .find(|e| e.server.as_deref().map(|s| s.trim_end_matches('/')) == Some(server))
        {
            return Ok(e);
        }
        if server == IN_CLUSTER_SERVER
            && let Some(e) = self.get(LOCAL_ENV)
        {
            return Ok(e);
        }
        Err(EnvError::UnknownDestination {
            destination: format!("server {server:?}"),
            known: known(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_platform_environments_and_resolves_destinations() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join("slipway.yaml"),
            "apiVersion: slipway.dev/v1alpha1\nkind: Platform\nmetadata: {name: p}\nspec:\n  environments:\n  - name: staging\n    labels: {tier: pre}\n    target: {embedded: {}}\n  - name: prod\n    server: https://prod.example:6443\n    target: {kubeconfig: {path: /k, context: prod}}\n",
        )
        .unwrap();
        let envs = Environments::load(dir.path()).unwrap();
        assert_eq!(envs.items.len(), 3);
        let d = |name: Option<&str>, server: Option<&str>| Destination {
            name: name.map(str::to_string),
            server: server.map(str::to_string),
            namespace: None,
        };
        assert_eq!(
            envs.resolve(&d(Some("staging"), None)).unwrap().name,
            "staging"
        );
        assert_eq!(
            envs.resolve(&d(None, Some("https://prod.example:6443/")))
                .unwrap()
                .name,
            "prod"
        );
        assert_eq!(
            envs.resolve(&d(None, Some(IN_CLUSTER_SERVER)))
                .unwrap()
                .name,
            LOCAL_ENV
        );
        assert_eq!(
            envs.resolve(&d(Some("in-cluster"), None)).unwrap().name,
            LOCAL_ENV
        );
        let err = envs.resolve(&d(Some("qa"), None)).unwrap_err().to_string();
        assert!(err.contains("known: local, staging, prod"), "{err}");
        assert_eq!(
            Environments::load(&dir.path().join("none")).unwrap(),
            Environments::local_only()
        );
    }
}
