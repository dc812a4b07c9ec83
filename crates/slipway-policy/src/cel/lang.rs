//! The CEL language as Kyverno evaluates it: the `cel` crate's interpreter
//! with its standard library, optional types and the strings/lists
//! extensions, plus what Kubernetes and Kyverno add (struct literals such as
//! `Object{...}` and `JSONPatch{...}` read as maps, `jsonpatch.escapeKey`,
//! `parseServiceAccount`, `resource.Get`/`List` and `image.GetMetadata`
//! answered offline from a [`CelData`]), JSON conversion both ways, and a
//! cost bound checked before evaluation.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};

use cel::common::ast::{CallExpr, EntryExpr, Expr, LiteralValue, MapEntryExpr, MapExpr};
use cel::objects::{Key, Map as CelMap, OptionalValue};
use cel::parser::Expression;
use cel::{Context, Env, ExecutionError, Value};
use serde_json::Value as Json;

/// Longest expression accepted, in bytes (Kubernetes caps a CEL string at 5 MiB
/// of cost, and policy expressions are short; this keeps parsing bounded).
pub const MAX_EXPRESSION_LEN: usize = 16 * 1024;

/// Upper bound on the estimated evaluation cost: comprehension nesting
/// multiplies the size of the largest collection in the input.
pub const MAX_COST: u128 = 10_000_000;

/// Kyverno library namespaces whose calls (`image.GetMetadata(x)`) are global
/// functions rather than member calls on a variable.
const LIBRARY_CALLS: &[(&str, &str)] = &[
    ("resource", "Get"),
    ("resource", "List"),
    ("resource", "Post"),
    ("image", "GetMetadata"),
    ("http", "Get"),
    ("http", "Post"),
    ("http", "Client"),
    ("globalContext", "Get"),
    ("generator", "Apply"),
    ("jwt", "Decode"),
    ("time", "now"),
    ("jsonpatch", "escapeKey"),
];

/// A compile error with its position in the expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (line {line}, column {column})")]
pub struct CompileError {
    /// What is wrong.
    pub message: String,
    /// 1-based line in the expression.
    pub line: isize,
    /// 1-based column in the expression.
    pub column: isize,
}

/// A compiled expression (cheap to clone).
#[derive(Debug, Clone)]
pub struct Program {
    expr: Arc<Expression>,
    /// Comprehension nesting depth, for the cost estimate.
    depth: u32,
    /// Number of AST nodes.
    nodes: u32,
}

fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // Both extensions are part of the Kubernetes CEL environment; a
        // duplicate declaration would be a bug in the crate, not input.
        let _ = env.add_extension(cel::extensions::strings);
        let _ = env.add_extension(cel::extensions::lists);
        env.set_error_on_duplicate_map_keys(false);
        Arc::new(env)
    })
}

/// Compiles `source`, with a process-wide cache keyed by the source text.
pub fn compile(source: &str) -> Result<Program, CompileError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Program>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Ok(c) = cache.lock()
        && let Some(p) = c.get(source)
    {
        return Ok(p.clone());
    }
    let program = compile_uncached(source)?;
    if let Ok(mut c) = cache.lock() {
        if c.len() > 100_000 {
            c.clear();
        }
        c.insert(source.to_string(), program.clone());
    }
    Ok(program)
}

fn compile_uncached(source: &str) -> Result<Program, CompileError> {
    if source.len() > MAX_EXPRESSION_LEN {
        return Err(CompileError {
            message: format!(
                "expression is {} bytes long, more than the limit of {MAX_EXPRESSION_LEN}",
                source.len()
            ),
            line: 1,
            column: 1,
        });
    }
    if source.trim().is_empty() {
        return Err(CompileError {
            message: "expression is empty".into(),
            line: 1,
            column: 1,
        });
    }
    let parsed = catch_unwind(AssertUnwindSafe(|| env().parser().parse(source)));
    let mut expr = match parsed {
        Ok(Ok(e)) => e,
        Ok(Err(errs)) => {
            let first = errs.errors.first();
            return Err(CompileError {
                message: first
                    .map(|e| e.msg.clone())
                    .unwrap_or_else(|| "syntax error".into()),
                line: first.map(|e| e.pos.0).unwrap_or(1),
                column: first.map(|e| e.pos.1 + 1).unwrap_or(1),
            });
        }
        Err(_) => {
            return Err(CompileError {
                message: "the parser failed on this expression".into(),
                line: 1,
                column: 1,
            });
        }
    };
    let mut stats = (0u32, 0u32);
    rewrite(&mut expr.expr, 0, &mut stats);
    Ok(Program {
        expr: Arc::new(expr),
        depth: stats.0,
        nodes: stats.1,
    })
}

/// Rewrites what the interpreter does not know into what it does: struct
/// literals (Kubernetes apply configurations, `JSONPatch{...}`) into maps,
/// and Kyverno library calls into global functions. Also measures the
/// comprehension depth and node count.
fn rewrite(expr: &mut Expr, depth: u32, stats: &mut (u32, u32)) {
    stats.1 = stats.1.saturating_add(1);
    match expr {
        Expr::Struct(s) => {
            let entries = std::mem::take(&mut s.entries);
            let mut out = Vec::with_capacity(entries.len());
            for mut e in entries {
                if let EntryExpr::StructField(f) = e.expr {
                    let mut value = f.value;
                    rewrite(&mut value.expr, depth, stats);
                    e.expr = EntryExpr::MapEntry(MapEntryExpr {
                        key: cel::IdedExpr {
                            id: value.id,
                            expr: Expr::Literal(LiteralValue::String(f.field.into())),
                        },
                        value,
                        optional: f.optional,
                    });
                }
                out.push(e);
            }
            *expr = Expr::Map(MapExpr { entries: out });
        }
        Expr::Call(c) => {
            if let Some(t) = &c.target
                && let Expr::Ident(ns) = &t.expr
                && LIBRARY_CALLS
                    .iter()
                    .any(|(n, f)| n == ns && *f == c.func_name)
            {
                let name = format!("{ns}.{}", c.func_name);
                let args = std::mem::take(&mut c.args);
                *c = CallExpr {
                    func_name: name,
                    target: None,
                    args,
                };
            }
            if let Some(t) = &mut c.target {
                rewrite(&mut t.expr, depth, stats);
            }
            for a in &mut c.args {
                rewrite(&mut a.expr, depth, stats);
            }
        }
        Expr::Comprehension(c) => {
            let d = depth + 1;
            stats.0 = stats.0.max(d);
            rewrite(&mut c.iter_range.expr, depth, stats);
            rewrite(&mut c.accu_init.expr, depth, stats);
            rewrite(&mut c.loop_cond.expr, d, stats);
            rewrite(&mut c.loop_step.expr, d, stats);
            rewrite(&mut c.result.expr, depth, stats);
        }
        Expr::List(l) => {
            for e in &mut l.elements {
                rewrite(&mut e.expr, depth, stats);
            }
        }
        Expr::Map(m) => {
            for e in &mut m.entries {
                match &mut e.expr {
                    EntryExpr::MapEntry(me) => {
                        rewrite(&mut me.key.expr, depth, stats);
                        rewrite(&mut me.value.expr, depth, stats);
                    }
                    EntryExpr::StructField(f) => rewrite(&mut f.value.expr, depth, stats),
                }
            }
        }
        Expr::Select(s) => rewrite(&mut s.operand.expr, depth, stats),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// Offline answers for Kyverno's library calls, from a kyverno-test
/// `Context` file (`spec.resources`, `spec.images`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CelData {
    /// Objects visible to `resource.Get` / `resource.List`.
    pub resources: Vec<Json>,
    /// Image metadata for `image.GetMetadata`, each with an `image` field.
    pub images: Vec<Json>,
}

impl CelData {
    /// Reads a `kind: Context` document (`spec.resources`, `spec.images`).
    pub fn from_context_document(doc: &Json) -> Self {
        let list = |key: &str| {
            doc.pointer(&format!("/spec/{key}"))
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default()
        };
        Self {
            resources: list("resources"),
            images: list("images"),
        }
    }

    fn get(&self, api_version: &str, resource: &str, ns: &str, name: &str) -> Option<Json> {
        self.resources
            .iter()
            .find(|o| {
                resource_matches(o, api_version, resource, ns)
                    && o.pointer("/metadata/name").and_then(Json::as_str) == Some(name)
            })
            .cloned()
    }

    fn list(&self, api_version: &str, resource: &str, ns: &str) -> Json {
        let items: Vec<Json> = self
            .resources
            .iter()
            .filter(|o| resource_matches(o, api_version, resource, ns))
            .cloned()
            .collect();
        serde_json::json!({ "apiVersion": api_version, "items": items })
    }

    fn image(&self, reference: &str) -> Option<Json> {
        self.images
            .iter()
            .find(|i| {
                i.get("image").and_then(Json::as_str) == Some(reference)
                    || i.get("resolvedImage").and_then(Json::as_str) == Some(reference)
            })
            .cloned()
    }
}

/// Whether object `o` is of the API resource (`configmaps`) in `api_version`
/// and namespace (`""` = any).
fn resource_matches(o: &Json, api_version: &str, resource: &str, ns: &str) -> bool {
    let av = o.get("apiVersion").and_then(Json::as_str).unwrap_or("");
    let kind = o.get("kind").and_then(Json::as_str).unwrap_or("");
    let ons = o
        .pointer("/metadata/namespace")
        .and_then(Json::as_str)
        .unwrap_or("");
    av == api_version
        && plural(kind).eq_ignore_ascii_case(resource)
        && (ns.is_empty() || ons.is_empty() || ons == ns)
}

/// The plural resource name of a kind, by Kubernetes' English rules.
pub fn plural(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if k.ends_with("ss") || k.ends_with('x') || k.ends_with("ch") || k.ends_with("sh") {
        format!("{k}es")
    } else if let Some(stem) = k.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else if k.ends_with('s') {
        k
    } else {
        format!("{k}s")
    }
}

/// Variables and offline data for one evaluation.
pub struct Activation<'d> {
    /// Top-level variables (`object`, `oldObject`, `request`, `params`,
    /// `namespaceObject`, `variables`...).
    pub vars: Vec<(&'static str, Value)>,
    /// Offline library data.
    pub data: &'d CelData,
    /// Objects passed to `generator.Apply`.
    pub generated: Arc<Mutex<Vec<Json>>>,
}

/// Evaluates a program. Errors (type errors, missing fields, cost) come back
/// as a message; a panic inside the interpreter is caught and reported.
pub fn eval(program: &Program, act: &Activation<'_>) -> Result<Value, String> {
    let size = act
        .vars
        .iter()
        .map(|(_, v)| largest_collection(v))
        .max()
        .unwrap_or(0)
        .max(1) as u128;
    let cost = size
        .saturating_pow(program.depth)
        .saturating_mul(u128::from(program.nodes.max(1)));
    if cost > MAX_COST {
        return Err(format!(
            "estimated cost {cost} exceeds the limit of {MAX_COST} (comprehensions nested {} deep over collections of up to {size} elements)",
            program.depth
        ));
    }
    let mut ctx = Context::with_env(env().clone());
    for (name, v) in &act.vars {
        ctx.add_variable_from_value(*name, v.clone());
    }
    register_library(&mut ctx, act);
    let result = catch_unwind(AssertUnwindSafe(|| ctx.resolve(&program.expr)));
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(describe_error(&e)),
        Err(_) => Err("the CEL interpreter failed on this expression".into()),
    }
}

fn describe_error(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        other => other.to_string(),
    }
}

fn largest_collection(v: &Value) -> usize {
    match v {
        Value::List(l) => l
            .len()
            .max(l.iter().map(largest_collection).max().unwrap_or(0)),
        Value::Map(m) => m
            .map
            .len()
            .max(m.map.values().map(largest_collection).max().unwrap_or(0)),
        _ => 0,
    }
}

fn register_library(ctx: &mut Context<'_, '_>, act: &Activation<'_>) {
    let data = Arc::new(act.data.clone());
    let d = data.clone();
    let _ = ctx.add_function(
        "resource.Get",
        move |av: Arc<String>,
              res: Arc<String>,
              ns: Arc<String>,
              name: Arc<String>|
              -> Result<Value, ExecutionError> {
            d.get(&av, &res, &ns, &name)
                .map(|j| json_to_cel(&j))
                .ok_or_else(|| {
                    ExecutionError::function_error(
                        "resource.Get",
                        format!("{res} {ns}/{name} ({av}) not found in the test context"),
                    )
                })
        },
    );
    let d = data.clone();
    let _ = ctx.add_function(
        "resource.List",
        move |av: Arc<String>, res: Arc<String>, ns: Arc<String>| -> Value {
            json_to_cel(&d.list(&av, &res, &ns))
        },
    );
    let d = data.clone();
    let _ = ctx.add_function(
        "image.GetMetadata",
        move |reference: Arc<String>| -> Result<Value, ExecutionError> {
            d.image(&reference).map(|j| json_to_cel(&j)).ok_or_else(|| {
                ExecutionError::function_error(
                    "image.GetMetadata",
                    format!("no metadata for image {reference:?} in the test context"),
                )
            })
        },
    );
    let generated = act.generated.clone();
    let _ = ctx.add_function(
        "generator.Apply",
        move |ns: Arc<String>, objects: Value| -> Result<Value, ExecutionError> {
            let Value::List(list) = objects else {
                return Err(ExecutionError::function_error(
                    "generator.Apply",
                    "the second argument must be a list of objects",
                ));
            };
            if let Ok(mut g) = generated.lock() {
                for o in list.iter() {
                    let mut j = cel_to_json(o);
                    if let Some(m) = j.get_mut("metadata").and_then(Json::as_object_mut)
                        && !ns.is_empty()
                    {
                        m.insert("namespace".into(), Json::String(ns.to_string()));
                    }
                    g.push(j);
                }
            }
            Ok(Value::Bool(true))
        },
    );
    let _ = ctx.add_function("jsonpatch.escapeKey", |s: Arc<String>| -> Value {
        Value::String(Arc::new(s.replace('~', "~0").replace('/', "~1")))
    });
    let _ = ctx.add_function("time.now", || -> Value {
        Value::Timestamp(chrono::Utc::now().fixed_offset())
    });
    let _ = ctx.add_function("parseServiceAccount", |s: Arc<String>| -> Value {
        let (ns, name) = s
            .strip_prefix("system:serviceaccount:")
            .and_then(|r| r.split_once(':'))
            .unwrap_or(("", ""));
        let mut m = HashMap::new();
        m.insert(Key::from("Namespace"), Value::from(ns.to_string()));
        m.insert(Key::from("Name"), Value::from(name.to_string()));
        Value::Map(CelMap::from(m))
    });
    for name in ["http.Get", "http.Post", "globalContext.Get", "jwt.Decode"] {
        let _ = ctx.add_function(name, move || -> Result<Value, ExecutionError> {
            Err(ExecutionError::function_error(
                name,
                "not available offline: the test context gives no answer",
            ))
        });
    }
}

/// JSON to CEL: integers become `int` (Kubernetes' schema-less numbers).
pub fn json_to_cel(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::UInt(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => Value::String(Arc::new(s.clone())),
        Json::Array(a) => Value::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Json::Object(o) => {
            let m: HashMap<Key, Value> = o
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), json_to_cel(v)))
                .collect();
            Value::Map(CelMap { map: Arc::new(m) })
        }
    }
}

/// CEL to JSON (maps with non-string keys get their keys printed; optional
/// values become their content or null).
pub fn cel_to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Value::String(s) => Json::String(s.to_string()),
        Value::Bytes(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        Value::List(l) => Json::Array(l.iter().map(cel_to_json).collect()),
        Value::Map(m) => {
            let mut keys: Vec<(&Key, &Value)> = m.map.iter().collect();
            keys.sort_by_key(|(k, _)| key_string(k));
            Json::Object(
                keys.into_iter()
                    .map(|(k, v)| (key_string(k), cel_to_json(v)))
                    .collect(),
            )
        }
        Value::Duration(d) => Json::String(format!("{}s", d.num_seconds())),
        Value::Timestamp(t) => Json::String(t.to_rfc3339()),
        Value::Opaque(o) => match o.downcast_ref::<OptionalValue>() {
            Some(opt) => opt.value().map(cel_to_json).unwrap_or(Json::Null),
            None => Json::Null,
        },
        Value::Function(..) | Value::Struct(_) => Json::Null,
    }
}

fn key_string(k: &Key) -> String {
    match k {
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
        Key::String(s) => s.to_string(),
    }
}

/// CEL's string form of a value, for messages.
pub fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        other => match cel_to_json(other) {
            Json::String(s) => s,
            j => j.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, object: Json) -> Result<Json, String> {
        let data = CelData {
            resources: vec![serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cm", "namespace": "default"}, "data": {"k": "v"}})],
            images: vec![serde_json::json!({"image": "nginx", "config": {"User": "root"}})],
        };
        let p = compile(src).map_err(|e| e.to_string())?;
        let act = Activation {
            vars: vec![("object", json_to_cel(&object))],
            data: &data,
            generated: Arc::default(),
        };
        eval(&p, &act).map(|v| cel_to_json(&v))
    }

    #[test]
    fn kubernetes_expressions() {
        let pod = serde_json::json!({"spec": {"containers": [{"name": "a", "image": "nginx:1", "ports": [{"hostPort": 0}]}]}});
        let cases = [
            (
                "object.spec.containers.all(c, c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0))",
                serde_json::json!(true),
            ),
            ("has(object.spec.initContainers)", serde_json::json!(false)),
            (
                "object.spec.containers.map(c, c.image)",
                serde_json::json!(["nginx:1"]),
            ),
            ("'a-%s'.format(['b'])", serde_json::json!("a-b")),
            (
                "Object{metadata: Object.metadata{name: 'y'}}",
                serde_json::json!({"metadata": {"name": "y"}}),
            ),
            (
                "JSONPatch{op: 'add', path: '/a/' + jsonpatch.escapeKey('x/y~z')}",
                serde_json::json!({"op": "add", "path": "/a/x~1y~0z"}),
            ),
            (
                "resource.Get('v1', 'configmaps', 'default', 'cm').data.k",
                serde_json::json!("v"),
            ),
            (
                "size(resource.List('v1', 'configmaps', 'default').items)",
                serde_json::json!(1),
            ),
            (
                "image.GetMetadata('nginx').config.User",
                serde_json::json!("root"),
            ),
            (
                "parseServiceAccount('system:serviceaccount:ns:sa').Name",
                serde_json::json!("sa"),
            ),
            ("duration('8h') > duration('1h')", serde_json::json!(true)),
            (
                "object.spec.containers[0].ports[0].hostPort == 0",
                serde_json::json!(true),
            ),
        ];
        for (src, want) in cases {
            assert_eq!(run(src, pod.clone()), Ok(want), "{src}");
        }
    }

    #[test]
    fn errors_are_values_not_panics() {
        assert!(run("1 / 0", Json::Null).is_err());
        assert!(run("object.missing", serde_json::json!({})).is_err());
        assert!(run("'a' + 1", Json::Null).is_err());
        let e = compile("object.spec.(").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.column > 1, "{e:?}");
    }

    #[test]
    fn nested_comprehensions_over_large_input_are_refused() {
        let big: Vec<i64> = (0..1000).collect();
        let r = run(
            "object.all(a, object.all(b, object.all(c, a + b + c >= 0)))",
            serde_json::json!(big),
        );
        assert!(r.is_err_and(|e| e.contains("cost")));
    }

    #[test]
    fn plurals() {
        assert_eq!(plural("ConfigMap"), "configmaps");
        assert_eq!(plural("NetworkPolicy"), "networkpolicies");
        assert_eq!(plural("Ingress"), "ingresses");
    }
}
