//! The kustomization file: finding it, parsing it, and refusing fields that
//! are unknown or not implemented (an unsupported field is an error naming
//! it, never silently ignored).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{KUSTOMIZATION_FILE_NAMES, KustomizeError};

/// Kustomization fields this renderer implements.
pub const SUPPORTED_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "images",
    "imageTags",
    "replicas",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "configurations",
    "crds",
    "generators",
    "transformers",
    "vars",
    "replacements",
    "sortOptions",
    "buildMetadata",
    "openapi",
];

/// Kustomization fields that exist upstream but are refused here.
pub const UNSUPPORTED_FIELDS: &[&str] = &[
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
    "validators",
];

/// A parsed kustomization file.
#[derive(Debug, Clone)]
pub(crate) struct Kustomization {
    /// The file it came from.
    pub path: PathBuf,
    /// The directory it lives in (paths in it are relative to this).
    pub dir: PathBuf,
    /// `Kustomization` or `Component`.
    pub is_component: bool,
    /// The raw fields.
    pub fields: Map<String, Value>,
    /// Where this kustomization sits relative to the build root, when
    /// origins are tracked (`buildMetadata`).
    pub origin: Option<super::origin::Origin>,
}

impl Kustomization {
    /// Reads and validates the kustomization in `dir`.
    pub fn load(dir: &Path) -> Result<Self, KustomizeError> {
        let found: Vec<PathBuf> = KUSTOMIZATION_FILE_NAMES
            .iter()
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
            .collect();
        let path = match found.as_slice() {
            [] => {
                return Err(KustomizeError::NoKustomization {
                    path: dir.to_path_buf(),
                });
            }
            [one] => one.clone(),
            _ => {
                return Err(KustomizeError::MultipleKustomizations {
                    path: dir.to_path_buf(),
                });
            }
        };
        let text = fs_err::read_to_string(&path).map_err(|source| KustomizeError::Io {
            path: path.clone(),
            source,
        })?;
        let value = parse_yaml(&text, &path)?;
        let fields = match value {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            _ => {
                return Err(KustomizeError::Invalid {
                    path,
                    message: "a kustomization must be a YAML mapping".into(),
                });
            }
        };
        for key in fields.keys() {
            if UNSUPPORTED_FIELDS.contains(&key.as_str()) {
                return Err(KustomizeError::Unsupported {
                    path: path.clone(),
                    field: key.clone(),
                });
            }
            if !SUPPORTED_FIELDS.contains(&key.as_str()) {
                return Err(KustomizeError::Invalid {
                    path: path.clone(),
                    message: format!("invalid Kustomization: unknown field \"{key}\""),
                });
            }
        }
        let kind = fields.get("kind").and_then(Value::as_str).unwrap_or("");
        let is_component = match kind {
            "" | "Kustomization" => false,
            "Component" => true,
            other => {
                return Err(KustomizeError::Invalid {
                    path,
                    message: format!("kind `{other}` is not Kustomization or Component"),
                });
            }
        };
        if is_component
            && fields
                .get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|a| a != "kustomize.config.k8s.io/v1alpha1")
        {
            return Err(KustomizeError::Invalid {
                path,
                message: "apiVersion for Component should be kustomize.config.k8s.io/v1alpha1"
                    .into(),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            path,
            is_component,
            fields,
            origin: None,
        })
    }

    /// The kustomization's file name (`kustomization.yaml`...).
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The origin of a builtin generator or transformer of this kustomization.
    pub fn builtin_origin(&self, kind: &str) -> Option<super::origin::Origin> {
        self.origin
            .as_ref()
            .map(|o| o.builtin(&self.file_name(), kind))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).filter(|v| !v.is_null())
    }

    /// A string field (empty when unset).
    pub fn string(&self, key: &str) -> Result<String, KustomizeError> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            Some(_) => Err(self.invalid(format!("field `{key}` must be a string"))),
        }
    }

    /// A list field (empty when unset).
    pub fn list(&self, key: &str) -> Result<Vec<Value>, KustomizeError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(_) => Err(self.invalid(format!("field `{key}` must be a list"))),
        }
    }

    /// A list of strings (empty when unset).
    pub fn string_list(&self, key: &str) -> Result<Vec<String>, KustomizeError> {
        self.list(key)?
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(self.invalid(format!("field `{key}` must be a list of strings"))),
            })
            .collect()
    }

    /// A map of strings (labels, annotations); values are stringified as upstream does.
    pub fn string_map(&self, key: &str) -> Result<Map<String, Value>, KustomizeError> {
        match self.get(key) {
            None => Ok(Map::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        Value::String(scalar_string(v).ok_or_else(|| {
                            self.invalid(format!("field `{key}.{k}` must be a string"))
                        })?),
                    ))
                })
                .collect(),
            Some(_) => Err(self.invalid(format!("field `{key}` must be a map"))),
        }
    }

    pub fn invalid(&self, message: String) -> KustomizeError {
        KustomizeError::Invalid {
            path: self.path.clone(),
            message,
        }
    }
}

/// A scalar as the string upstream would read it into a `string` field.
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Parses one YAML document; tabs after a mapping colon are tolerated as
/// Go's YAML does, and a repeated key keeps its last value.
pub(crate) fn parse_yaml(text: &str, path: &Path) -> Result<Value, KustomizeError> {
    // Upstream accepts a repeated key, the last one winning.
    let options = || {
        serde_saphyr::options! {
            duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
        }
    };
    match serde_saphyr::from_str_with_options::<Value>(text, options()) {
        Ok(v) => Ok(v),
        Err(first) => {
            // Go's YAML accepts trailing tabs; strip trailing whitespace and retry.
            let cleaned: String = text
                .lines()
                .map(|l| l.trim_end_matches([' ', '\t']))
                .collect::<Vec<_>>()
                .join("\n");
            serde_saphyr::from_str_with_options::<Value>(&cleaned, options()).map_err(|_| {
                KustomizeError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("invalid YAML: {first}"),
                }
            })
        }
    }
}

/// The file `rel` names relative to the kustomization directory `root`,
/// refused when it resolves outside `root` (Kustomize's default
/// `LoadRestrictionsRootOnly`). A file that does not exist is returned as
/// joined, so reading it reports the missing path.
pub(crate) fn confined(root: &Path, rel: &str) -> Result<PathBuf, KustomizeError> {
    let joined = root.join(rel);
    let Ok(real) = fs_err::canonicalize(&joined) else {
        return Ok(joined);
    };
    if real.starts_with(root) {
        Ok(real)
    } else {
        Err(KustomizeError::OutsideRoot {
            path: real,
            root: root.to_path_buf(),
        })
    }
}
