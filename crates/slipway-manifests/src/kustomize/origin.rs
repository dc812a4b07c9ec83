//! Build metadata (`buildMetadata`): where each resource came from (the
//! `config.kubernetes.io/origin` annotation) and which transformers ran over
//! it (`alpha.config.kubernetes.io/transformations`), tracked as upstream
//! does while building and written as annotations at the end; and the
//! `managedByLabel` option.

use serde_json::Value;

/// The annotation holding a resource's origin.
pub(crate) const ORIGIN_ANNOTATION: &str = "config.kubernetes.io/origin";
/// The annotation listing the transformers that ran over a resource.
pub(crate) const TRANSFORMATIONS_ANNOTATION: &str = "alpha.config.kubernetes.io/transformations";
/// The label `managedByLabel` sets.
pub(crate) const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value: what `kubectl kustomize` (Kustomize v5.5 built into kubectl)
/// writes, so the output matches the reference renderer.
pub(crate) const MANAGED_BY_VALUE: &str = "kustomize-(devel)";

/// The `buildMetadata` options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BuildMetadata {
    pub origin_annotations: bool,
    pub transformer_annotations: bool,
    pub managed_by_label: bool,
}

impl BuildMetadata {
    /// Parses the option list; unknown options are refused.
    pub fn from_value(v: Option<&Value>) -> Result<Self, String> {
        let mut out = Self::default();
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Ok(out);
        };
        let Some(items) = v.as_array() else {
            return Err("field `buildMetadata` must be a list".into());
        };
        for item in items {
            match item.as_str() {
                Some("originAnnotations") => out.origin_annotations = true,
                Some("transformerAnnotations") => out.transformer_annotations = true,
                Some("managedByLabel") => out.managed_by_label = true,
                _ => {
                    return Err(format!(
                        "buildMetadata: unknown option {item}, expected originAnnotations, \
                         transformerAnnotations or managedByLabel"
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Whether origins are tracked at all (any option turns it on upstream).
    pub fn tracks_origin(self) -> bool {
        self.origin_annotations || self.transformer_annotations || self.managed_by_label
    }
}

/// The object that configured a generator or transformer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ConfiguredBy {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// Upstream's `resource.Origin` (local sources only: no repo or ref).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The file the resource was read from, relative to the build root.
    pub path: String,
    /// The file holding the generator or transformer config.
    pub configured_in: String,
    /// The generator or transformer config.
    pub configured_by: Option<ConfiguredBy>,
}

impl Origin {
    /// A copy with `rel` appended to the path.
    pub fn append(&self, rel: &str) -> Origin {
        Origin {
            path: clean_join(&self.path, rel),
            ..self.clone()
        }
    }

    /// The origin of a builtin generator or transformer configured by the
    /// kustomization file `kust_file` at this origin's path.
    pub fn builtin(&self, kust_file: &str, kind: &str) -> Origin {
        Origin {
            path: String::new(),
            configured_in: clean_join(&self.path, kust_file),
            configured_by: Some(ConfiguredBy {
                api_version: "builtin".into(),
                kind: kind.into(),
                ..ConfiguredBy::default()
            }),
        }
    }

    /// Upstream's `OriginFromCustomPlugin`: a generator or transformer
    /// configured by `config`, which itself came from `self`.
    pub fn of_plugin(&self, config: &Value) -> Origin {
        let s = |path: &[&str]| super::resource::str_at(config, path).to_string();
        Origin {
            path: String::new(),
            configured_in: self.path.clone(),
            configured_by: Some(ConfiguredBy {
                api_version: s(&["apiVersion"]),
                kind: s(&["kind"]),
                name: s(&["metadata", "name"]),
                namespace: s(&["metadata", "namespace"]),
            }),
        }
    }

    /// The YAML upstream writes (fields in upstream's order, empty ones left out).
    fn write(&self, indent: &str, first_prefix: &str, out: &mut String) {
        let mut lines: Vec<String> = Vec::new();
        if !self.path.is_empty() {
            lines.push(format!("path: {}", scalar(&self.path)));
        }
        if !self.configured_in.is_empty() {
            lines.push(format!("configuredIn: {}", scalar(&self.configured_in)));
        }
        if let Some(by) = &self.configured_by {
            let fields = [
                ("apiVersion", &by.api_version),
                ("kind", &by.kind),
                ("name", &by.name),
                ("namespace", &by.namespace),
            ];
            if fields.iter().any(|(_, v)| !v.is_empty()) {
                lines.push("configuredBy:".into());
                for (k, v) in fields {
                    if !v.is_empty() {
                        lines.push(format!("  {k}: {}", scalar(v)));
                    }
                }
            }
        }
        if lines.is_empty() {
            lines.push("{}".into());
        }
        for (i, line) in lines.iter().enumerate() {
            out.push_str(if i == 0 { first_prefix } else { indent });
            out.push_str(line);
            out.push('\n');
        }
    }

    /// The origin annotation's value.
    pub fn to_annotation(&self) -> String {
        let mut out = String::new();
        self.write("", "", &mut out);
        out
    }
}

/// The transformations annotation's value.
pub(crate) fn transformations_annotation(list: &[Origin]) -> String {
    let mut out = String::new();
    for o in list {
        o.write("  ", "- ", &mut out);
    }
    out
}

/// A YAML scalar for a string: plain when it reads back as the same string,
/// double-quoted otherwise.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._/-@+~".contains(c))
        && !s.starts_with(['-', '~', '@'])
        && matches!(serde_saphyr::from_str::<Value>(s), Ok(Value::String(ref x)) if x == s);
    if plain {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

/// Go's `filepath.Join` of two slash-separated paths: joined, then cleaned
/// (`.` parts dropped, `x/..` collapsed, leading `..` kept).
pub(crate) fn clean_join(a: &str, b: &str) -> String {
    let joined = match (a.is_empty(), b.is_empty()) {
        (true, true) => return String::new(),
        (true, false) => b.to_string(),
        (false, true) => a.to_string(),
        (false, false) => format!("{a}/{b}"),
    };
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    match (absolute, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_like_go() {
        assert_eq!(clean_join("", "../base"), "../base");
        assert_eq!(clean_join("../base", "svc.yaml"), "../base/svc.yaml");
        assert_eq!(clean_join("a/b", "../../c"), "c");
        assert_eq!(clean_join("", "./x.yaml"), "x.yaml");
    }

    #[test]
    fn writes_origins_as_upstream() {
        let base = Origin::default().append("../base");
        assert_eq!(
            base.builtin("kustomization.yaml", "ConfigMapGenerator")
                .to_annotation(),
            "configuredIn: ../base/kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n"
        );
        assert_eq!(
            transformations_annotation(&[Origin::default().builtin("k.yaml", "X")]),
            "- configuredIn: k.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: X\n"
        );
    }
}
