//! ApplicationSets: generators (list, git directories, git files, clusters,
//! matrix, merge) producing parameter sets, and the template rendered once per
//! set into an Application, in the go-template form (`{{.path.basename}}`,
//! `{{index .path.segments 1}}`, `{{.name | lower}}`) or the legacy form
//! (`{{path.basename}}`, `{{path[1]}}`).

use serde_json::{Map, Value, json};
use slipway_model::{Document, ObjectExt};

use crate::application::{ARGO_API_VERSION, SpecError};
use crate::environments::Environment;
use crate::git::TreeFile;

/// What generators need from the outside world.
pub trait GeneratorContext {
    /// Every directory of `repo` at `revision`.
    fn directories(&self, repo: &str, revision: &str) -> Result<Vec<String>, String>;
    /// Every file of `repo` at `revision`.
    fn files(&self, repo: &str, revision: &str) -> Result<Vec<TreeFile>, String>;
    /// Known clusters (environments).
    fn clusters(&self) -> Vec<Environment>;
}

/// A parsed ApplicationSet.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationSet {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: Option<String>,
    /// Generators as written.
    pub generators: Vec<Value>,
    /// The Application template (`metadata`, `spec`).
    pub template: Value,
    /// `goTemplate: true`.
    pub go_template: bool,
    /// `goTemplateOptions: [missingkey=error]`.
    pub missing_key_error: bool,
    /// `syncPolicy.preserveResourcesOnDeletion`.
    pub preserve_resources_on_deletion: bool,
    /// The manifest.
    pub manifest: Value,
}

type Params = Map<String, Value>;

impl ApplicationSet {
    /// Reads an ApplicationSet.
    pub fn from_document(doc: &Document) -> Result<Self, SpecError> {
        let o = &doc.object;
        if o.api_version() != ARGO_API_VERSION || o.kind() != "ApplicationSet" {
            return Err(SpecError::WrongKind {
                location: doc.source.clone(),
                expected: "ApplicationSet",
                found: format!("{}/{}", o.api_version(), o.kind()),
            });
        }
        let field = |path: &str, message: &str| SpecError::Field {
            location: doc.source.clone(),
            object: format!("ApplicationSet {}", o.name()),
            path: path.into(),
            message: message.into(),
        };
        if o.name().is_empty() {
            return Err(field("metadata.name", "is required"));
        }
        let generators = o
            .pointer("/spec/generators")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| field("spec.generators", "is required and must be a list"))?;
        for (i, g) in generators.iter().enumerate() {
            check_generator(g, &format!("spec.generators[{i}]"), 0)
                .map_err(|(p, m)| field(&p, &m))?;
        }
        let template = o
            .pointer("/spec/template")
            .cloned()
            .filter(Value::is_object)
            .ok_or_else(|| field("spec.template", "is required and must be a mapping"))?;
        let go_template = o
            .pointer("/spec/goTemplate")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let missing_key_error = o
            .pointer("/spec/goTemplateOptions")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some("missingkey=error")));
        Ok(Self {
            name: o.name().into(),
            namespace: o.namespace().map(str::to_string),
            generators,
            template,
            go_template,
            missing_key_error,
            preserve_resources_on_deletion: o
                .pointer("/spec/syncPolicy/preserveResourcesOnDeletion")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            manifest: o.clone(),
        })
    }

    /// Generates the Applications.
    pub fn generate(&self, ctx: &dyn GeneratorContext) -> Result<Vec<Value>, String> {
        let mut sets = Vec::new();
        for g in &self.generators {
            sets.extend(eval(g, ctx)?);
        }
        let mut out = Vec::new();
        for p in sets {
            let rendered = self.render(&self.template, &p)?;
            let mut app = json!({"apiVersion": ARGO_API_VERSION, "kind": "Application"});
            app["metadata"] = rendered
                .get("metadata")
                .cloned()
                .unwrap_or_else(|| json!({}));
            if let Some(ns) = &self.namespace
                && app["metadata"].get("namespace").is_none()
            {
                app["metadata"]["namespace"] = json!(ns);
            }
            app["spec"] = rendered.get("spec").cloned().unwrap_or_else(|| json!({}));
            out.push(app);
        }
        Ok(out)
    }

    fn render(&self, v: &Value, p: &Params) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => Value::String(if self.go_template {
                render_go(s, p, self.missing_key_error)?
            } else {
                render_legacy(s, &flatten(p))
            }),
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.render(x, p))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => {
                let mut out = Map::new();
                for (k, x) in m {
                    out.insert(k.clone(), self.render(x, p)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}

fn check_generator(g: &Value, at: &str, depth: usize) -> Result<(), (String, String)> {
    let Some(m) = g.as_object() else {
        return Err((at.into(), "must be a mapping".into()));
    };
    let kinds: Vec<&String> = m
        .keys()
        .filter(|k| *k != "selector" && *k != "template")
        .collect();
    let [kind] = kinds.as_slice() else {
        return Err((at.into(), "must have exactly one generator".into()));
    };
    match kind.as_str() {
        "list" | "git" | "clusters" => Ok(()),
        "matrix" | "merge" => {
            if depth >= 2 {
                return Err((
                    at.into(),
                    "combination generators nest at most one level".into(),
                ));
            }
            let children = g[kind.as_str()]["generators"].as_array().ok_or_else(|| {
                (
                    format!("{at}.{kind}.generators"),
                    "is required and must be a list".to_string(),
                )
            })?;
            if kind.as_str() == "matrix" && children.len() != 2 {
                return Err((
                    format!("{at}.matrix.generators"),
                    "a matrix takes exactly two generators".into(),
                ));
            }
            for (i, c) in children.iter().enumerate() {
                check_generator(c, &format!("{at}.{kind}.generators[{i}]"), depth + 1)?;
            }
            Ok(())
        }
        other => Err((
            format!("{at}.{other}"),
            format!("generator {other:?} is not supported (list, git, clusters, matrix, merge)"),
        )),
    }
}

fn normalize_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(253);
    out
}

fn path_params(path: &str) -> Value {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let basename = segments.last().copied().unwrap_or("");
    json!({
        "path": path,
        "basename": basename,
        "basenameNormalized": normalize_name(basename),
        "segments": segments,
    })
}

fn glob_match(pattern: &str, path: &str) -> bool {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher().is_match(path))
        .unwrap_or(false)
}

fn eval(g: &Value, ctx: &dyn GeneratorContext) -> Result<Vec<Params>, String> {
    let sets = if let Some(list) = g.get("list") {
        list.get("elements")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|e| e.as_object().cloned()).collect())
            .unwrap_or_default()
    } else if let Some(git) = g.get("git") {
        eval_git(git, ctx)?
    } else if let Some(cl) = g.get("clusters") {
        let want: Map<String, Value> = cl
            .pointer("/selector/matchLabels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        ctx.clusters()
            .into_iter()
            .filter(|e| {
                want.iter()
                    .all(|(k, v)| e.labels.get(k).map(String::as_str) == v.as_str())
            })
            .map(|e| {
                let mut p = Params::new();
                p.insert("name".into(), json!(e.name));
                p.insert("nameNormalized".into(), json!(normalize_name(&e.name)));
                p.insert("server".into(), json!(e.server.clone().unwrap_or_default()));
                p.insert("metadata".into(), json!({"labels": e.labels}));
                if let Some(v) = cl.get("values") {
                    p.insert("values".into(), v.clone());
                }
                p
            })
            .collect()
    } else if let Some(mx) = g.get("matrix") {
        let children = mx["generators"].as_array().cloned().unwrap_or_default();
        let a = eval(&children[0], ctx)?;
        let b = eval(&children[1], ctx)?;
        let mut out = Vec::new();
        for x in &a {
            for y in &b {
                let mut p = x.clone();
                for (k, v) in y {
                    p.insert(k.clone(), v.clone());
                }
                out.push(p);
            }
        }
        out
    } else if let Some(mg) = g.get("merge") {
        let keys: Vec<String> = mg
            .get("mergeKeys")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let children = mg["generators"].as_array().cloned().unwrap_or_default();
        let mut base = match children.first() {
            Some(c) => eval(c, ctx)?,
            None => Vec::new(),
        };
        let key_of = |p: &Params| -> Vec<Value> {
            keys.iter()
                .map(|k| lookup(p, k).cloned().unwrap_or(Value::Null))
                .collect()
        };
        for c in children.iter().skip(1) {
            let over = eval(c, ctx)?;
            for b in base.iter_mut() {
                let kb = key_of(b);
                if let Some(o) = over.iter().find(|o| key_of(o) == kb) {
                    for (k, v) in o {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        base
    } else {
        return Err(format!("unsupported generator {g}"));
    };
    // Post-filter by `selector.matchLabels` over the (flattened) parameters.
    if let Some(sel) = g
        .pointer("/selector/matchLabels")
        .and_then(Value::as_object)
    {
        return Ok(sets
            .into_iter()
            .filter(|p| {
                let flat = flatten(p);
                sel.iter()
                    .all(|(k, v)| flat.get(k).map(String::as_str) == v.as_str())
            })
            .collect());
    }
    Ok(sets)
}

fn eval_git(git: &Value, ctx: &dyn GeneratorContext) -> Result<Vec<Params>, String> {
    let repo = git
        .get("repoURL")
        .and_then(Value::as_str)
        .ok_or("git generator: repoURL is required")?;
    let revision = git
        .get("revision")
        .and_then(Value::as_str)
        .unwrap_or("HEAD");
    let values = git.get("values").cloned();
    let mut out = Vec::new();
    if let Some(dirs) = git.get("directories").and_then(Value::as_array) {
        let all = ctx.directories(repo, revision)?;
        let (mut inc, mut exc) = (Vec::new(), Vec::new());
        for d in dirs {
            let p = d.get("path").and_then(Value::as_str).unwrap_or("");
            if d.get("exclude").and_then(Value::as_bool) == Some(true) {
                exc.push(p);
            } else {
                inc.push(p);
            }
        }
        for dir in all {
            if dir.split('/').any(|s| s.starts_with('.')) {
                continue;
            }
            if inc.iter().any(|p| glob_match(p, &dir)) && !exc.iter().any(|p| glob_match(p, &dir)) {
                let mut p = Params::new();
                p.insert("path".into(), path_params(&dir));
                if let Some(v) = &values {
                    p.insert("values".into(), v.clone());
                }
                out.push(p);
            }
        }
    }
    if let Some(files) = git.get("files").and_then(Value::as_array) {
        let all = ctx.files(repo, revision)?;
        for f in files {
            let pattern = f.get("path").and_then(Value::as_str).unwrap_or("");
            for tf in all.iter().filter(|t| glob_match(pattern, &t.path)) {
                let text =
                    std::str::from_utf8(&tf.data).map_err(|_| format!("{}: not UTF-8", tf.path))?;
                let docs =
                    slipway_manifests::load_str(text, &tf.path).map_err(|e| e.to_string())?;
                let dir = tf.path.rsplit_once('/').map_or("", |(d, _)| d);
                let filename = tf.path.rsplit('/').next().unwrap_or("");
                for d in docs {
                    let items = match d.object {
                        Value::Array(a) => a,
                        other => vec![other],
                    };
                    for item in items {
                        let mut p = item.as_object().cloned().unwrap_or_default();
                        let mut path = path_params(dir);
                        path["filename"] = json!(filename);
                        path["filenameNormalized"] = json!(normalize_name(filename));
                        p.insert("path".into(), path);
                        if let Some(v) = &values {
                            p.insert("values".into(), v.clone());
                        }
                        out.push(p);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn lookup<'a>(p: &'a Params, dotted: &str) -> Option<&'a Value> {
    let mut parts = dotted.split('.');
    let mut cur = p.get(parts.next()?)?;
    for k in parts {
        cur = cur.get(k)?;
    }
    Some(cur)
}

/// Legacy (fasttemplate) parameters: dotted keys, `path` = the path string,
/// `path[n]` = segments.
fn flatten(p: &Params) -> std::collections::HashMap<String, String> {
    fn walk(prefix: &str, v: &Value, out: &mut std::collections::HashMap<String, String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    walk(&format!("{prefix}.{k}"), x, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(&format!("{prefix}[{i}]"), x, out);
                }
            }
            Value::String(s) => {
                out.insert(prefix.into(), s.clone());
            }
            Value::Null => {}
            other => {
                out.insert(prefix.into(), other.to_string());
            }
        }
    }
    let mut out = std::collections::HashMap::new();
    for (k, v) in p {
        walk(k, v, &mut out);
    }
    if let Some(path) = p
        .get("path")
        .and_then(|v| v.get("path"))
        .and_then(Value::as_str)
    {
        out.insert("path".into(), path.into());
        if let Some(segs) = p["path"].get("segments").and_then(Value::as_array) {
            for (i, s) in segs.iter().enumerate() {
                out.insert(format!("path[{i}]"), s.as_str().unwrap_or("").into());
            }
        }
    }
    out
}

fn render_legacy(s: &str, flat: &std::collections::HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let key = rest[start + 2..start + end].trim();
        match flat.get(key) {
            Some(v) => out.push_str(v),
            // fasttemplate leaves unknown tags as written.
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

fn go_value(expr: &str, p: &Params, strict: bool) -> Result<Value, String> {
    let expr = expr.trim();
    let mut stages = expr.split('|').map(str::trim);
    let first = stages.next().unwrap_or("");
    let words: Vec<&str> = first.split_whitespace().collect();
    let resolve = |w: &str| -> Result<Value, String> {
        if let Some(path) = w.strip_prefix('.') {
            if path.is_empty() {
                return Ok(Value::Object(p.clone()));
            }
            match lookup(p, path) {
                Some(v) => Ok(v.clone()),
                None if strict => Err(format!("map has no entry for key {path:?}")),
                None => Ok(Value::Null),
            }
        } else if let Ok(n) = w.parse::<i64>() {
            Ok(json!(n))
        } else if w.starts_with('"') {
            serde_json::from_str(w).map_err(|_| format!("bad string literal {w}"))
        } else {
            Err(format!("unsupported template expression {expr:?}"))
        }
    };
    let apply = |f: &str, v: Value| -> Result<Value, String> {
        let s = match &v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        Ok(match f {
            "lower" => json!(s.to_lowercase()),
            "upper" => json!(s.to_uppercase()),
            "normalize" => json!(normalize_name(&s)),
            "quote" => json!(format!("{s:?}")),
            "trim" => json!(s.trim()),
            _ => return Err(format!("unsupported template function {f:?}")),
        })
    };
    let mut v = match words.as_slice() {
        [single] => resolve(single)?,
        ["index", target, idx] => {
            let t = resolve(target)?;
            let i = resolve(idx)?;
            match (&t, &i) {
                (Value::Array(a), Value::Number(n)) => n
                    .as_u64()
                    .and_then(|n| a.get(usize::try_from(n).ok()?))
                    .cloned()
                    .ok_or_else(|| format!("index out of range: {n}"))?,
                (Value::Object(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
                _ => return Err(format!("cannot index {target}")),
            }
        }
        [f, arg] => apply(f, resolve(arg)?)?,
        _ => return Err(format!("unsupported template expression {expr:?}")),
    };
    for f in stages {
        v = apply(f, v)?;
    }
    Ok(v)
}

fn render_go(s: &str, p: &Params, strict: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            return Err(format!("unclosed action in {s:?}"));
        };
        out.push_str(&rest[..start]);
        let inner = rest[start + 2..start + end].trim_matches('-').trim();
        match go_value(inner, p, strict)? {
            Value::String(v) => out.push_str(&v),
            Value::Null => out.push_str("<no value>"),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl GeneratorContext for Fake {
        fn directories(&self, _: &str, _: &str) -> Result<Vec<String>, String> {
            Ok([
                "apps",
                "apps/api",
                "apps/web",
                "apps/.hidden",
                "apps/legacy",
                "docs",
            ]
            .map(String::from)
            .into())
        }
        fn files(&self, _: &str, _: &str) -> Result<Vec<TreeFile>, String> {
            Ok(vec![TreeFile {
                path: "clusters/eu/config.json".into(),
                data: br#"{"cluster": {"name": "eu-1", "region": "eu"}}"#.to_vec(),
            }])
        }
        fn clusters(&self) -> Vec<Environment> {
            crate::environments::Environments::local_only().items
        }
    }

    fn set(yaml: &str) -> ApplicationSet {
        let docs = slipway_manifests::load_str(yaml, "set.yaml").unwrap();
        ApplicationSet::from_document(&docs[0]).unwrap()
    }

    #[test]
    fn git_directories_with_go_and_legacy_templates() {
        for (go, name, seg) in [
            ("true", "{{.path.basename}}", "{{index .path.segments 0}}"),
            ("false", "{{path.basename}}", "{{path[0]}}"),
        ] {
            let s = set(&format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: s, namespace: argocd}}\nspec:\n  goTemplate: {go}\n  generators:\n  - git:\n      repoURL: r\n      revision: HEAD\n      directories: [{{path: 'apps/*'}}, {{path: apps/legacy, exclude: true}}]\n  template:\n    metadata: {{name: '{name}'}}\n    spec:\n      source: {{repoURL: r, path: '{{{{.path.path}}}}', targetRevision: '{seg}'}}\n      destination: {{name: local, namespace: '{name}'}}\n"
            ));
            let apps = s.generate(&Fake).unwrap();
            let names: Vec<&str> = apps
                .iter()
                .map(|a| a["metadata"]["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, ["api", "web"], "goTemplate {go}");
            assert_eq!(apps[0]["spec"]["source"]["targetRevision"], "apps");
            assert_eq!(apps[0]["metadata"]["namespace"], "argocd");
        }
    }

    #[test]
    fn list_matrix_merge_files_and_clusters() {
        let s = set(r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s}
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
  - matrix:
      generators:
      - clusters: {}
      - list: {elements: [{app: a}, {app: b}]}
  - merge:
      mergeKeys: [app]
      generators:
      - list: {elements: [{app: x, v: "1"}, {app: yy, v: "2"}]}
      - list: {elements: [{app: yy, v: "3"}]}
  - git:
      repoURL: r
      files: [{path: "clusters/*/config.json"}]
  template:
    metadata: {name: '{{.name | default}}'}
    spec: {}
"#);
        // `default` is not supported: a clear error.
        assert!(s.generate(&Fake).unwrap_err().contains("default"));
        let s = set(r#"
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s}
spec:
  generators:
  - matrix:
      generators:
      - clusters: {}
      - list: {elements: [{app: a}, {app: b}]}
  - merge:
      mergeKeys: [app]
      generators:
      - list: {elements: [{app: x, v: "1"}, {app: yy, v: "2"}]}
      - list: {elements: [{app: yy, v: "3"}]}
  - git:
      repoURL: r
      files: [{path: "clusters/*/config.json"}]
  template:
    metadata: {name: '{{name}}-{{app}}{{cluster.name}}-{{v}}{{path.basename}}'}
    spec: {}
"#);
        let names: Vec<String> = s
            .generate(&Fake)
            .unwrap()
            .iter()
            .map(|a| a["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "local-a{{cluster.name}}-{{v}}{{path.basename}}",
                "local-b{{cluster.name}}-{{v}}{{path.basename}}",
                "{{name}}-x{{cluster.name}}-1{{path.basename}}",
                "{{name}}-yy{{cluster.name}}-3{{path.basename}}",
                "{{name}}-{{app}}eu-1-{{v}}eu",
            ]
        );
    }

    #[test]
    fn strict_missing_key_and_bad_generators() {
        let s = set(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: s}\nspec:\n  goTemplate: true\n  goTemplateOptions: [missingkey=error]\n  generators: [{list: {elements: [{a: b}]}}]\n  template: {metadata: {name: '{{.nope}}'}, spec: {}}\n",
        );
        assert!(s.generate(&Fake).unwrap_err().contains("nope"));
        let docs = slipway_manifests::load_str(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: s}\nspec:\n  generators: [{scmProvider: {}}]\n  template: {metadata: {}, spec: {}}\n",
            "x.yaml",
        )
        .unwrap();
        let err = ApplicationSet::from_document(&docs[0])
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.generators[0].scmProvider"), "{err}");
    }
}
