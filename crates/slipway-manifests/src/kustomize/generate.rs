//! ConfigMap and Secret generators (files, literals, env files; options) and
//! the content hash suffix, computed as upstream's `hasher` does: SHA-256 of a
//! Go-`json.Marshal` encoding, first ten hex digits with some letters swapped.

use std::path::Path;

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::kustomization::{confined, scalar_string};
use super::resource::{Behavior, Resource};

/// Generator options (`generatorOptions` or a generator's `options`).
#[derive(Debug, Clone, Default)]
pub(crate) struct GenOptions {
    pub labels: Map<String, Value>,
    pub annotations: Map<String, Value>,
    pub disable_hash: Option<bool>,
    pub immutable: Option<bool>,
}

impl GenOptions {
    pub fn from_value(v: Option<&Value>) -> Result<Self, String> {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Ok(Self::default());
        };
        let m = v.as_object().ok_or("generator options must be a mapping")?;
        let strmap = |k: &str| -> Result<Map<String, Value>, String> {
            match m.get(k) {
                None | Some(Value::Null) => Ok(Map::new()),
                Some(Value::Object(x)) => x
                    .iter()
                    .map(|(a, b)| {
                        scalar_string(b)
                            .map(|s| (a.clone(), Value::String(s)))
                            .ok_or_else(|| format!("option `{k}.{a}` must be a string"))
                    })
                    .collect(),
                Some(_) => Err(format!("option `{k}` must be a mapping")),
            }
        };
        for k in m.keys() {
            if !matches!(
                k.as_str(),
                "labels" | "annotations" | "disableNameSuffixHash" | "immutable"
            ) {
                return Err(format!("unknown generator option `{k}`"));
            }
        }
        Ok(Self {
            labels: strmap("labels")?,
            annotations: strmap("annotations")?,
            disable_hash: m.get("disableNameSuffixHash").and_then(Value::as_bool),
            immutable: m.get("immutable").and_then(Value::as_bool),
        })
    }

    /// Upstream's `MergeGlobalOptionsIntoLocal`: local values win.
    pub fn merged_over(&self, global: &GenOptions) -> GenOptions {
        let mut labels = global.labels.clone();
        labels.extend(self.labels.clone());
        let mut annotations = global.annotations.clone();
        annotations.extend(self.annotations.clone());
        GenOptions {
            labels,
            annotations,
            disable_hash: if global.disable_hash == Some(true) {
                Some(true)
            } else {
                self.disable_hash
            },
            immutable: if global.immutable == Some(true) {
                Some(true)
            } else {
                self.immutable
            },
        }
    }
}

/// Which object a generator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GenKind {
    ConfigMap,
    Secret,
}

/// Runs one generator entry (a `configMapGenerator`/`secretGenerator` item or
/// a builtin generator config) relative to `dir`.
pub(crate) fn generate(
    kind: GenKind,
    args: &Value,
    global: &GenOptions,
    dir: &Path,
) -> Result<Resource, String> {
    let m = args
        .as_object()
        .ok_or("a generator entry must be a mapping")?;
    // Builtin plugin configs (`generators:`) are read leniently, as upstream
    // unmarshals them; kustomization entries are checked strictly.
    let is_plugin_config = m.contains_key("apiVersion");
    for k in m.keys().filter(|_| !is_plugin_config) {
        if !matches!(
            k.as_str(),
            "name"
                | "namespace"
                | "behavior"
                | "files"
                | "literals"
                | "envs"
                | "env"
                | "options"
                | "type"
                | "kind"
                | "apiVersion"
                | "metadata"
        ) {
            return Err(format!("unknown generator field `{k}`"));
        }
    }
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    // A plugin config's own `name`/`namespace` win over its metadata's.
    let meta = |k: &str| {
        m.get("metadata")
            .and_then(|md| md.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let name = Some(s("name"))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| meta("name"));
    let namespace = Some(s("namespace"))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| meta("namespace"));
    if name.is_empty() {
        return Err("a generator needs a `name`".into());
    }
    let behavior = match s("behavior").as_str() {
        "" | "create" => Behavior::Create,
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        other => return Err(format!("unknown generator behavior `{other}`")),
    };
    let opts = GenOptions::from_value(m.get("options"))?.merged_over(global);

    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let push = |k: String, v: Vec<u8>, pairs: &mut Vec<(String, Vec<u8>)>| -> Result<(), String> {
        if pairs.iter().any(|(x, _)| *x == k) {
            return Err(format!("configmap {name} illegally repeats the key `{k}`"));
        }
        pairs.push((k, v));
        Ok(())
    };
    let mut env_files: Vec<String> = strings(m.get("envs"))?;
    if let Some(Value::String(e)) = m.get("env") {
        env_files.push(e.clone());
    }
    for env in env_files {
        let path = confined(dir, &env).map_err(|e| e.to_string())?;
        let text = fs_err::read_to_string(&path).map_err(|e| e.to_string())?;
        for (k, v) in parse_env(&text)? {
            push(k, v.into_bytes(), &mut pairs)?;
        }
    }
    for lit in strings(m.get("literals"))? {
        let (k, v) = parse_literal(&lit)?;
        push(k, v.into_bytes(), &mut pairs)?;
    }
    for f in strings(m.get("files"))? {
        let (key, rel) = match f.split_once('=') {
            Some((k, p)) => (k.to_string(), p.to_string()),
            None => (
                Path::new(&f)
                    .file_name()
                    .map(|x| x.to_string_lossy().to_string())
                    .unwrap_or_default(),
                f.clone(),
            ),
        };
        if key.is_empty() {
            return Err(format!("key name missing in `{f}`"));
        }
        let path = confined(dir, &rel).map_err(|e| e.to_string())?;
        if path.is_dir() {
            return Err(format!("{}: is a directory", path.display()));
        }
        let bytes = fs_err::read(&path).map_err(|e| e.to_string())?;
        push(key, bytes, &mut pairs)?;
    }

    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String("v1".into()));
    obj.insert(
        "kind".into(),
        Value::String(match kind {
            GenKind::ConfigMap => "ConfigMap".into(),
            GenKind::Secret => "Secret".into(),
        }),
    );
    let mut md = Map::new();
    md.insert("name".into(), Value::String(name.clone()));
    if !namespace.is_empty() {
        md.insert("namespace".into(), Value::String(namespace));
    }
    if !opts.labels.is_empty() {
        md.insert("labels".into(), Value::Object(opts.labels.clone()));
    }
    if !opts.annotations.is_empty() {
        md.insert(
            "annotations".into(),
            Value::Object(opts.annotations.clone()),
        );
    }
    obj.insert("metadata".into(), Value::Object(md));
    match kind {
        GenKind::ConfigMap => {
            let mut data = Map::new();
            let mut binary = Map::new();
            for (k, v) in pairs {
                match String::from_utf8(v) {
                    Ok(s) => {
                        data.insert(k, Value::String(s));
                    }
                    Err(e) => {
                        binary.insert(k, Value::String(encode_base64(&e.into_bytes())));
                    }
                }
            }
            if !data.is_empty() {
                obj.insert("data".into(), Value::Object(data));
            }
            if !binary.is_empty() {
                obj.insert("binaryData".into(), Value::Object(binary));
            }
        }
        GenKind::Secret => {
            let ty = s("type");
            obj.insert(
                "type".into(),
                Value::String(if ty.is_empty() { "Opaque".into() } else { ty }),
            );
            let data: Map<String, Value> = pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(encode_base64(&v))))
                .collect();
            if !data.is_empty() {
                obj.insert("data".into(), Value::Object(data));
            }
        }
    }
    if opts.immutable == Some(true) {
        obj.insert("immutable".into(), Value::Bool(true));
    }
    let mut r = Resource::new(Value::Object(obj));
    r.needs_hash = opts.disable_hash != Some(true);
    r.behavior = behavior;
    Ok(r)
}

/// Base64 as upstream's generators write it: lines of at most 70
/// characters, each ending in a newline once the text needs more than one.
fn encode_base64(bytes: &[u8]) -> String {
    const LINE_LEN: usize = 70;
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    // Upstream wraps as soon as the text reaches one full line.
    if enc.len() < LINE_LEN {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / LINE_LEN + 1);
    for chunk in enc.as_bytes().chunks(LINE_LEN) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// The builtin `IAMPolicyGenerator`: a ServiceAccount bound to a cloud
/// service account (only `cloud: gke`, as upstream).
pub(crate) fn iam_policy(args: &Value) -> Result<Resource, String> {
    let s = |path: &[&str]| super::resource::str_at(args, path).to_string();
    let cloud = s(&["cloud"]);
    if cloud != "gke" {
        return Err(format!("cloud `{cloud}` is not supported, only `gke`"));
    }
    let name = s(&["kubernetesService", "name"]);
    if name.is_empty() {
        return Err("`kubernetesService.name` is required".into());
    }
    let mut annotations = Map::new();
    annotations.insert(
        "iam.gke.io/gcp-service-account".into(),
        Value::String(format!(
            "{}@{}.iam.gserviceaccount.com",
            s(&["serviceAccount", "name"]),
            s(&["serviceAccount", "projectId"])
        )),
    );
    let mut md = Map::new();
    md.insert("annotations".into(), Value::Object(annotations));
    md.insert("name".into(), Value::String(name));
    let namespace = s(&["kubernetesService", "namespace"]);
    if !namespace.is_empty() {
        md.insert("namespace".into(), Value::String(namespace));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String("v1".into()));
    obj.insert("kind".into(), Value::String("ServiceAccount".into()));
    obj.insert("metadata".into(), Value::Object(md));
    Ok(Resource::new(Value::Object(obj)))
}

fn strings(v: Option<&Value>) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| scalar_string(x).ok_or_else(|| "expected a list of strings".to_string()))
            .collect(),
        Some(_) => Err("expected a list of strings".into()),
    }
}

/// `KEY=VALUE`; a value wrapped in matching quotes loses them.
fn parse_literal(lit: &str) -> Result<(String, String), String> {
    let Some((k, v)) = lit.split_once('=') else {
        return Err(format!("invalid literal source {lit}, expected key=value"));
    };
    let v = if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        &v[1..v.len() - 1]
    } else {
        v
    };
    Ok((k.to_string(), v.to_string()))
}

/// An env file: `KEY=VALUE` lines; `#` comments and blank lines skipped; a
/// line with only a key takes its value from the environment (skipped when unset).
fn parse_env(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) => {
                if k.contains(char::is_whitespace) {
                    return Err(format!("line {}: key `{k}` has white space", i + 1));
                }
                out.push((k.to_string(), v.to_string()));
            }
            None => {
                if let Ok(v) = std::env::var(line.trim()) {
                    out.push((line.trim().to_string(), v));
                }
            }
        }
    }
    Ok(out)
}

/// Go's `json.Marshal` string escaping (HTML-safe, as `encoding/json` does).
fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `json.Marshal` of a value decoded into `interface{}` (maps sorted by key).
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => go_json_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(k, out);
                out.push(':');
                go_json(&m[k], out);
            }
            out.push('}');
        }
    }
}

fn field_or_empty(obj: &Value, key: &str) -> Value {
    match obj.get(key) {
        None => Value::String(String::new()),
        Some(v) => v.clone(),
    }
}

/// The hash suffix of a resource (upstream's `Hasher.Hash`).
pub(crate) fn hash_suffix(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    // Upstream looks the name up with the single key `metadata/name`, which
    // never exists, so the encoded name is always empty.
    let name = Value::String(String::new());
    let mut m = Map::new();
    match kind {
        "ConfigMap" => {
            m.insert("kind".into(), Value::String("ConfigMap".into()));
            m.insert("name".into(), name);
            m.insert("data".into(), field_or_empty(obj, "data"));
            if let Some(b @ Value::Object(_)) = obj.get("binaryData") {
                m.insert("binaryData".into(), b.clone());
            }
        }
        "Secret" => {
            m.insert("kind".into(), Value::String("Secret".into()));
            m.insert("type".into(), field_or_empty(obj, "type"));
            m.insert("name".into(), name);
            m.insert("data".into(), field_or_empty(obj, "data"));
            if let Some(b @ Value::Object(_)) = obj.get("stringData") {
                m.insert("stringData".into(), b.clone());
            }
        }
        _ => {
            let mut s = String::new();
            go_json(obj, &mut s);
            return encode_hash(&s);
        }
    }
    let mut s = String::new();
    go_json(&Value::Object(m), &mut s);
    encode_hash(&s)
}

fn encode_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmap_hash_matches_upstream_example() {
        // From upstream's hasher tests: an empty ConfigMap named "" with empty data.
        let obj = serde_json::json!({"kind": "ConfigMap", "metadata": {"name": ""}, "data": {}});
        assert_eq!(hash_suffix(&obj), "42745tchd9");
    }
}
