//! Kyverno's CEL policy kinds (`policies.kyverno.io` ValidatingPolicy,
//! MutatingPolicy, GeneratingPolicy) and Kubernetes'
//! ValidatingAdmissionPolicy: loading (every expression compiled, errors name
//! policy, field and position), matching (`matchConstraints`,
//! `matchConditions`), autogen for pod controllers, and evaluation into
//! [`EngineResponse`]s.

// Errors carry file, policy and path for the user; they happen once per load.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value as Json};
use slipway_model::{Document, SourceLocation};

use super::lang::{self, Activation, CelData, Program};
use crate::engine::{
    EngineResponse, FailureAction, Operation, Request, RuleResponse, RuleStatus, RuleType,
};
use crate::model::PolicyError;

/// Which CEL policy kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CelKind {
    /// `policies.kyverno.io` ValidatingPolicy (and Kubernetes'
    /// ValidatingAdmissionPolicy, evaluated the same way).
    Validating,
    /// `policies.kyverno.io` MutatingPolicy.
    Mutating,
    /// `policies.kyverno.io` GeneratingPolicy.
    Generating,
}

/// A named expression (`variables`, `matchConditions`).
#[derive(Debug, Clone)]
pub struct NamedProgram {
    /// Name.
    pub name: String,
    /// Compiled expression.
    pub program: Program,
}

/// One validation.
#[derive(Debug, Clone)]
pub struct CelValidation {
    /// The boolean expression.
    pub program: Program,
    /// Its source text.
    pub expression: String,
    /// Static message.
    pub message: Option<String>,
    /// Message computed by CEL.
    pub message_expression: Option<Program>,
}

/// One mutation.
#[derive(Debug, Clone)]
pub enum CelMutation {
    /// Server-side-apply style merge of the object the expression returns.
    ApplyConfiguration(Program),
    /// RFC 6902 operations returned by the expression.
    JsonPatch(Program),
}

/// The expressions of one evaluation variant (the policy as written, or an
/// autogen variant for pod controllers with rewritten field paths).
#[derive(Debug, Clone)]
pub struct CelBody {
    /// Rule name in responses (empty for the policy as written).
    pub rule: String,
    /// Kinds this variant applies to (`None` = as matchConstraints say).
    pub kinds: Option<Vec<String>>,
    /// matchConditions.
    pub match_conditions: Vec<NamedProgram>,
    /// variables.
    pub variables: Vec<NamedProgram>,
    /// validations.
    pub validations: Vec<CelValidation>,
    /// mutations.
    pub mutations: Vec<CelMutation>,
    /// generate expressions.
    pub generate: Vec<Program>,
}

/// A loaded CEL policy.
#[derive(Debug, Clone)]
pub struct CelPolicy {
    /// Which kind.
    pub kind: CelKind,
    /// `kind` as written.
    pub kind_name: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (namespaced kinds).
    pub namespace: Option<String>,
    /// `metadata.annotations` with string values (severity, title, category for reports).
    pub annotations: BTreeMap<String, String>,
    /// `spec.matchConstraints` as written.
    pub match_constraints: Json,
    /// Enforce when `validationActions` contains `Deny`.
    pub action: FailureAction,
    /// The policy as written, then autogen variants.
    pub bodies: Vec<CelBody>,
    /// Where it was read.
    pub source: SourceLocation,
}

/// Pod controllers and the path of their pod template.
const CONTROLLERS: &[&str] = &[
    "DaemonSet",
    "Deployment",
    "Job",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
];

/// Loads a CEL policy document (any `policies.kyverno.io` kind this module
/// evaluates, or a ValidatingAdmissionPolicy). `None`: not a CEL kind it knows.
pub fn load(doc: &Document) -> Option<Result<CelPolicy, PolicyError>> {
    let obj = &doc.object;
    let kind_name = obj.get("kind").and_then(Json::as_str).unwrap_or("");
    let kind = match kind_name {
        "ValidatingPolicy" | "NamespacedValidatingPolicy" | "ValidatingAdmissionPolicy" => {
            CelKind::Validating
        }
        "MutatingPolicy" | "NamespacedMutatingPolicy" => CelKind::Mutating,
        "GeneratingPolicy" | "NamespacedGeneratingPolicy" => CelKind::Generating,
        _ => return None,
    };
    let name = obj
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    let err = |path: String, message: String| PolicyError {
        location: doc.source.clone(),
        policy: name.clone(),
        rule: None,
        path,
        message,
        hint: "fix the CEL expression; see https://kubernetes.io/docs/reference/using-api/cel/"
            .into(),
    };
    let spec = obj.get("spec").cloned().unwrap_or(Json::Null);
    let compile = |path: String, src: &str| -> Result<Program, PolicyError> {
        lang::compile(src)
            .map_err(|e| err(path, format!("expression {src:?} does not compile: {e}")))
    };
    let result = (|| -> Result<CelPolicy, PolicyError> {
        let named = |key: &str| -> Result<Vec<(String, String)>, PolicyError> {
            let mut out = Vec::new();
            for (i, v) in spec
                .get(key)
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let n = v
                    .get("name")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string();
                let e = v
                    .get("expression")
                    .and_then(Json::as_str)
                    .ok_or_else(|| err(format!("spec.{key}[{i}].expression"), "missing".into()))?;
                out.push((n, e.to_string()));
            }
            Ok(out)
        };
        let variables = named("variables")?;
        let conditions = named("matchConditions")?;
        let mut validations = Vec::new();
        for (i, v) in spec
            .get("validations")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let e = v.get("expression").and_then(Json::as_str).ok_or_else(|| {
                err(
                    format!("spec.validations[{i}].expression"),
                    "missing".into(),
                )
            })?;
            validations.push((
                e.to_string(),
                v.get("message").and_then(Json::as_str).map(str::to_string),
                v.get("messageExpression")
                    .and_then(Json::as_str)
                    .map(str::to_string),
            ));
        }
        let mut mutations = Vec::new();
        for (i, m) in spec
            .get("mutations")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let pt = m.get("patchType").and_then(Json::as_str).unwrap_or("");
            let (key, apply) = match pt {
                "ApplyConfiguration" => ("applyConfiguration", true),
                "JSONPatch" => ("jsonPatch", false),
                other => {
                    return Err(err(
                        format!("spec.mutations[{i}].patchType"),
                        format!("unknown patchType {other:?} (ApplyConfiguration or JSONPatch)"),
                    ));
                }
            };
            let e = m
                .pointer(&format!("/{key}/expression"))
                .and_then(Json::as_str)
                .ok_or_else(|| {
                    err(
                        format!("spec.mutations[{i}].{key}.expression"),
                        "missing".into(),
                    )
                })?;
            mutations.push((e.to_string(), apply));
        }
        let generate: Vec<String> = spec
            .get("generate")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| {
                g.get("expression")
                    .and_then(Json::as_str)
                    .map(str::to_string)
            })
            .collect();
        let build = |rule: String,
                     kinds: Option<Vec<String>>,
                     rw: &dyn Fn(&str) -> String|
         -> Result<CelBody, PolicyError> {
            let mut body = CelBody {
                rule,
                kinds,
                match_conditions: Vec::new(),
                variables: Vec::new(),
                validations: Vec::new(),
                mutations: Vec::new(),
                generate: Vec::new(),
            };
            for (i, (n, e)) in conditions.iter().enumerate() {
                body.match_conditions.push(NamedProgram {
                    name: n.clone(),
                    program: compile(format!("spec.matchConditions[{i}].expression"), &rw(e))?,
                });
            }
            for (i, (n, e)) in variables.iter().enumerate() {
                body.variables.push(NamedProgram {
                    name: n.clone(),
                    program: compile(format!("spec.variables[{i}].expression"), &rw(e))?,
                });
            }
            for (i, (e, m, me)) in validations.iter().enumerate() {
                body.validations.push(CelValidation {
                    program: compile(format!("spec.validations[{i}].expression"), &rw(e))?,
                    expression: e.clone(),
                    message: m.clone(),
                    message_expression: me
                        .as_ref()
                        .map(|me| {
                            compile(format!("spec.validations[{i}].messageExpression"), &rw(me))
                        })
                        .transpose()?,
                });
            }
            for (i, (e, apply)) in mutations.iter().enumerate() {
                let p = compile(format!("spec.mutations[{i}]"), &rw(e))?;
                body.mutations.push(if *apply {
                    CelMutation::ApplyConfiguration(p)
                } else {
                    CelMutation::JsonPatch(p)
                });
            }
            for (i, e) in generate.iter().enumerate() {
                body.generate
                    .push(compile(format!("spec.generate[{i}].expression"), &rw(e))?);
            }
            Ok(body)
        };
        let mc = spec.get("matchConstraints").cloned().unwrap_or(Json::Null);
        let mut bodies = vec![build(String::new(), None, &|s: &str| s.to_string())?];
        if kind != CelKind::Generating
            && kind_name != "ValidatingAdmissionPolicy"
            && let Some(controllers) = autogen_controllers(&spec, &mc)
        {
            let (cron, others): (Vec<String>, Vec<String>) =
                controllers.into_iter().partition(|c| c == "CronJob");
            if !others.is_empty() {
                bodies.push(build(
                    format!("autogen-{name}"),
                    Some(others),
                    &|s: &str| rewrite_paths(s, "spec.template."),
                )?);
            }
            if !cron.is_empty() {
                bodies.push(build(
                    format!("autogen-cronjob-{name}"),
                    Some(cron),
                    &|s: &str| rewrite_paths(s, "spec.jobTemplate.spec.template."),
                )?);
            }
        }
        let actions: Vec<&str> = spec
            .get("validationActions")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .collect();
        Ok(CelPolicy {
            kind,
            kind_name: kind_name.to_string(),
            name: name.clone(),
            namespace: obj
                .pointer("/metadata/namespace")
                .and_then(Json::as_str)
                .map(str::to_string),
            annotations: obj
                .pointer("/metadata/annotations")
                .and_then(Json::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            match_constraints: mc,
            action: if actions.iter().any(|a| a.eq_ignore_ascii_case("deny")) {
                FailureAction::Enforce
            } else {
                FailureAction::Audit
            },
            bodies,
            source: doc.source.clone(),
        })
    })();
    Some(result)
}

/// Rewrites `object.spec`/`object.metadata` (and `oldObject.`) to the pod
/// template under `prefix`, as Kyverno's CEL autogen does by text replacement.
pub fn rewrite_paths(src: &str, prefix: &str) -> String {
    let mut s = src.to_string();
    for root in ["object", "oldObject"] {
        for field in ["spec", "metadata"] {
            s = replace_ident_path(
                &s,
                &format!("{root}.{field}"),
                &format!("{root}.{prefix}{field}"),
            );
        }
    }
    s
}

/// Replaces `from` where it starts an identifier path (not `xobject.spec`).
fn replace_ident_path(s: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(from) {
        let prev = if i > 0 {
            rest[..i].chars().last()
        } else {
            out.chars().last()
        };
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        if ident(prev) || prev == Some('.') || ident(after) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// Controllers to generate variants for: the policy must match only pods
/// (`resources: [pods]`) and not opt out.
fn autogen_controllers(spec: &Json, mc: &Json) -> Option<Vec<String>> {
    let rules = mc.get("resourceRules").and_then(Json::as_array)?;
    let pods_only = !rules.is_empty()
        && rules.iter().all(|r| {
            r.get("resources")
                .and_then(Json::as_array)
                .is_some_and(|rs| !rs.is_empty() && rs.iter().all(|x| x == "pods"))
        });
    if !pods_only {
        return None;
    }
    let configured = spec
        .pointer("/autogen/podControllers/controllers")
        .and_then(Json::as_array);
    let list: Vec<String> = match configured {
        Some(cs) => cs
            .iter()
            .filter_map(Json::as_str)
            .filter_map(|c| {
                let lc = c.to_ascii_lowercase();
                CONTROLLERS
                    .iter()
                    .chain(std::iter::once(&"CronJob"))
                    .find(|k| lang::plural(k) == lc || k.eq_ignore_ascii_case(&lc))
                    .map(|k| k.to_string())
            })
            .collect(),
        None => CONTROLLERS
            .iter()
            .chain(std::iter::once(&"CronJob"))
            .map(|s| s.to_string())
            .collect(),
    };
    (!list.is_empty()).then_some(list)
}

fn api_group_version(object: &Json) -> (&str, &str) {
    let av = object
        .get("apiVersion")
        .and_then(Json::as_str)
        .unwrap_or("");
    av.split_once('/').unwrap_or(("", av))
}

fn any_of(list: Option<&Json>, value: &str) -> bool {
    list.and_then(Json::as_array).is_some_and(|l| {
        l.iter()
            .filter_map(Json::as_str)
            .any(|x| x == "*" || x.eq_ignore_ascii_case(value))
    })
}

/// Whether a resourceRules entry covers the object and operation.
fn rule_covers(rule: &Json, object: &Json, op: Operation, kind: &str) -> bool {
    let (group, version) = api_group_version(object);
    let resource = lang::plural(kind);
    let resources_ok = rule
        .get("resources")
        .and_then(Json::as_array)
        .is_some_and(|rs| {
            rs.iter().filter_map(Json::as_str).any(|r| {
                let base = r.split('/').next().unwrap_or(r);
                (base == "*" || base.eq_ignore_ascii_case(&resource)) && !r.contains('/')
                    || r == "*/*"
            })
        });
    let names_ok = match rule.get("resourceNames").and_then(Json::as_array) {
        Some(ns) if !ns.is_empty() => {
            let name = object
                .pointer("/metadata/name")
                .and_then(Json::as_str)
                .unwrap_or("");
            ns.iter().any(|n| n == name)
        }
        _ => true,
    };
    any_of(rule.get("apiGroups"), group)
        && any_of(rule.get("apiVersions"), version)
        && (rule.get("operations").is_none() || any_of(rule.get("operations"), op.as_str()))
        && resources_ok
        && names_ok
}

fn selector_matches(sel: Option<&Json>, labels: Option<&Map<String, Json>>) -> bool {
    let Some(sel) = sel.filter(|s| s.as_object().is_some_and(|m| !m.is_empty())) else {
        return true;
    };
    let Ok(sel) = serde_json::from_value::<crate::model::LabelSelector>(sel.clone()) else {
        return false;
    };
    crate::matching::selector_matches(&sel, labels)
}

impl CelPolicy {
    /// The body to evaluate for this request, if `matchConstraints` (with
    /// autogen) select it.
    fn select(&self, req: &Request, object: &Json) -> Option<&CelBody> {
        let kind = object.get("kind").and_then(Json::as_str).unwrap_or("");
        let mc = &self.match_constraints;
        if let Some(ns) = &self.namespace
            && self.kind_name.starts_with("Namespaced")
            && object.pointer("/metadata/namespace").and_then(Json::as_str) != Some(ns)
        {
            return None;
        }
        let labels = object.pointer("/metadata/labels").and_then(Json::as_object);
        if !selector_matches(mc.get("objectSelector"), labels) {
            return None;
        }
        if object.pointer("/metadata/namespace").is_some()
            && !selector_matches(mc.get("namespaceSelector"), req.namespace_labels.as_ref())
        {
            return None;
        }
        let excluded = mc
            .get("excludeResourceRules")
            .and_then(Json::as_array)
            .is_some_and(|rs| {
                rs.iter()
                    .any(|r| rule_covers(r, object, req.operation, kind))
            });
        if excluded {
            return None;
        }
        let rules = mc.get("resourceRules").and_then(Json::as_array);
        if rules.is_some_and(|rs| {
            rs.iter()
                .any(|r| rule_covers(r, object, req.operation, kind))
        }) {
            return self.bodies.first();
        }
        // Autogen variants: the operations of the pod rule still apply.
        let ops_ok = rules.is_some_and(|rs| {
            rs.iter().any(|r| {
                r.get("operations").is_none() || any_of(r.get("operations"), req.operation.as_str())
            })
        });
        if !ops_ok {
            return None;
        }
        self.bodies.iter().skip(1).find(|b| {
            b.kinds
                .as_ref()
                .is_some_and(|ks| ks.iter().any(|k| k == kind))
        })
    }
}

/// Inputs shared by every CEL policy evaluated on one request.
#[derive(Debug, Clone, Default)]
pub struct CelInputs {
    /// Offline data for library calls.
    pub data: CelData,
    /// `params` (paramRef), when given.
    pub params: Option<Json>,
    /// `namespaceObject`, when known.
    pub namespace_object: Option<Json>,
}

/// The `request` variable of an admission request.
pub fn request_value(req: &Request, object: &Json) -> Json {
    let (group, version) = api_group_version(object);
    let kind = object.get("kind").and_then(Json::as_str).unwrap_or("");
    let mut r = serde_json::json!({
        "operation": req.operation.as_str(),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": lang::plural(kind)},
        "name": object.pointer("/metadata/name").cloned().unwrap_or(Json::Null),
        "namespace": object.pointer("/metadata/namespace").cloned().unwrap_or(Json::Null),
        "object": req.object,
        "oldObject": req.old_object,
        "dryRun": false,
    });
    if !req.subresource.is_empty() {
        r["subResource"] = Json::String(req.subresource.clone());
    }
    if let Some(u) = &req.user_info {
        r["userInfo"] = u.user_info.clone();
    }
    r
}

/// Builds the base variables for one request.
pub(crate) fn base_vars(
    req: &Request,
    object: &Json,
    inputs: &CelInputs,
) -> Vec<(&'static str, cel::Value)> {
    let obj = if req.operation == Operation::Delete {
        Json::Null
    } else {
        object.clone()
    };
    vec![
        ("object", lang::json_to_cel(&obj)),
        ("oldObject", lang::json_to_cel(&req.old_object)),
        ("request", lang::json_to_cel(&request_value(req, object))),
        (
            "params",
            lang::json_to_cel(inputs.params.as_ref().unwrap_or(&Json::Null)),
        ),
        (
            "namespaceObject",
            lang::json_to_cel(inputs.namespace_object.as_ref().unwrap_or(&Json::Null)),
        ),
    ]
}

/// Evaluates `variables` in order into the `variables` map; a variable that
/// fails is left out (using it is then an error).
pub(crate) fn eval_variables(
    vars: &mut Vec<(&'static str, cel::Value)>,
    defs: &[NamedProgram],
    data: &CelData,
    generated: &Arc<Mutex<Vec<Json>>>,
) {
    let mut map = std::collections::HashMap::new();
    for d in defs {
        let mut act_vars = vars.clone();
        act_vars.push((
            "variables",
            cel::Value::Map(cel::objects::Map::from(map.clone())),
        ));
        let act = Activation {
            vars: act_vars,
            data,
            generated: generated.clone(),
        };
        if let Ok(v) = lang::eval(&d.program, &act) {
            map.insert(cel::objects::Key::from(d.name.clone()), v);
        }
    }
    vars.push(("variables", cel::Value::Map(cel::objects::Map::from(map))));
}

/// All match conditions true (`Ok(true)`), one false (`Ok(false)`), or an error.
pub(crate) fn eval_conditions(
    conds: &[NamedProgram],
    act: &Activation<'_>,
) -> Result<bool, String> {
    for c in conds {
        match lang::eval(&c.program, act)? {
            cel::Value::Bool(true) => {}
            cel::Value::Bool(false) => return Ok(false),
            other => {
                return Err(format!(
                    "match condition {:?} returned {}, not a bool",
                    c.name,
                    lang::display(&other)
                ));
            }
        }
    }
    Ok(true)
}

/// Runs validations: `Ok(None)` all passed, `Ok(Some(msg))` one failed.
pub(crate) fn run_validations(
    validations: &[CelValidation],
    act: &Activation<'_>,
) -> Result<Option<String>, String> {
    for v in validations {
        match lang::eval(&v.program, act)? {
            cel::Value::Bool(true) => {}
            cel::Value::Bool(false) => {
                let msg = v
                    .message_expression
                    .as_ref()
                    .and_then(|me| lang::eval(me, act).ok())
                    .map(|m| lang::display(&m))
                    .filter(|m| !m.trim().is_empty())
                    .or_else(|| v.message.clone())
                    .unwrap_or_else(|| format!("failed expression: {}", v.expression));
                return Ok(Some(msg));
            }
            other => {
                return Err(format!(
                    "expression {:?} returned {}, not a bool",
                    v.expression,
                    lang::display(&other)
                ));
            }
        }
    }
    Ok(None)
}

fn response(
    policy: &CelPolicy,
    rule: &str,
    rule_type: RuleType,
    status: RuleStatus,
    message: String,
) -> RuleResponse {
    RuleResponse {
        name: if rule.is_empty() {
            policy.name.clone()
        } else {
            rule.to_string()
        },
        rule_type,
        status,
        message,
        action: policy.action,
    }
}

fn base_response(policy: &CelPolicy) -> EngineResponse {
    EngineResponse {
        policy: policy.name.clone(),
        policy_namespace: policy.namespace.clone(),
        ..EngineResponse::default()
    }
}

/// The object the request is about (the old object on DELETE).
fn target(req: &Request) -> &Json {
    if req.operation == Operation::Delete {
        &req.old_object
    } else {
        &req.object
    }
}

impl CelPolicy {
    /// Runs a ValidatingPolicy (one response, or none when it does not match).
    pub fn validate(&self, req: &Request, inputs: &CelInputs) -> EngineResponse {
        let mut resp = base_response(self);
        if self.kind != CelKind::Validating {
            return resp;
        }
        let object = target(req);
        let Some(body) = self.select(req, object) else {
            return resp;
        };
        let generated = Arc::default();
        let mut vars = base_vars(req, object, inputs);
        eval_variables(&mut vars, &body.variables, &inputs.data, &generated);
        let act = Activation {
            vars,
            data: &inputs.data,
            generated,
        };
        let (status, message) = match eval_conditions(&body.match_conditions, &act) {
            Err(e) => (RuleStatus::Error, e),
            Ok(false) => (RuleStatus::Skip, "match conditions not met".into()),
            Ok(true) => match run_validations(&body.validations, &act) {
                Ok(None) => (RuleStatus::Pass, String::new()),
                Ok(Some(m)) => (RuleStatus::Fail, m),
                Err(e) => (RuleStatus::Error, e),
            },
        };
        resp.rules.push(response(
            self,
            &body.rule,
            RuleType::Validation,
            status,
            message,
        ));
        resp
    }

    /// Runs a MutatingPolicy; `patched` holds the object afterwards.
    pub fn mutate(&self, req: &Request, inputs: &CelInputs) -> EngineResponse {
        let mut resp = base_response(self);
        let object = target(req).clone();
        resp.patched = Some(object.clone());
        if self.kind != CelKind::Mutating {
            return resp;
        }
        let Some(body) = self.select(req, &object) else {
            return resp;
        };
        let generated = Arc::default();
        let mut vars = base_vars(req, &object, inputs);
        eval_variables(&mut vars, &body.variables, &inputs.data, &generated);
        let mut act = Activation {
            vars,
            data: &inputs.data,
            generated,
        };
        let (status, message, patched) = match eval_conditions(&body.match_conditions, &act) {
            Err(e) => (RuleStatus::Error, e, None),
            Ok(false) => (RuleStatus::Skip, "match conditions not met".into(), None),
            Ok(true) => {
                let mut current = object.clone();
                let mut error = None;
                for m in &body.mutations {
                    match super::mutate::apply(m, &act, &current) {
                        Ok(next) => {
                            current = next;
                            // Later mutations see the result of earlier ones.
                            if let Some(slot) = act.vars.iter_mut().find(|(n, _)| *n == "object") {
                                slot.1 = lang::json_to_cel(&current);
                            }
                        }
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                }
                match error {
                    Some(e) => (RuleStatus::Error, e, None),
                    None if current == object => (RuleStatus::Skip, "no change".into(), None),
                    None => (RuleStatus::Pass, "mutated".into(), Some(current)),
                }
            }
        };
        if let Some(p) = patched {
            resp.patched = Some(p);
        }
        resp.rules.push(response(
            self,
            &body.rule,
            RuleType::Mutation,
            status,
            message,
        ));
        resp
    }

    /// Runs a GeneratingPolicy; `generated` holds the objects.
    pub fn generate(&self, req: &Request, inputs: &CelInputs) -> EngineResponse {
        let mut resp = base_response(self);
        if self.kind != CelKind::Generating {
            return resp;
        }
        let object = target(req);
        let Some(body) = self.select(req, object) else {
            return resp;
        };
        let generated: Arc<Mutex<Vec<Json>>> = Arc::default();
        let mut vars = base_vars(req, object, inputs);
        eval_variables(&mut vars, &body.variables, &inputs.data, &generated);
        let act = Activation {
            vars,
            data: &inputs.data,
            generated: generated.clone(),
        };
        let (status, message) = match eval_conditions(&body.match_conditions, &act) {
            Err(e) => (RuleStatus::Error, e),
            Ok(false) => (RuleStatus::Skip, "match conditions not met".into()),
            Ok(true) => {
                let mut err = None;
                for g in &body.generate {
                    if let Err(e) = lang::eval(g, &act) {
                        err = Some(e);
                        break;
                    }
                }
                match err {
                    Some(e) => (RuleStatus::Error, e),
                    None => (RuleStatus::Pass, String::new()),
                }
            }
        };
        if let Ok(g) = generated.lock() {
            resp.generated = g.clone();
        }
        resp.rules.push(response(
            self,
            &body.rule,
            RuleType::Generation,
            status,
            message,
        ));
        resp
    }
}
