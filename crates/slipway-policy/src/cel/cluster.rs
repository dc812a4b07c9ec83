//! `validate.cel` rules and `celPreconditions` inside a Kyverno
//! `ClusterPolicy` / `Policy`. Matching, autogen rule expansion and failure
//! actions are the classic engine's; this module compiles the expressions
//! (at load, to report errors with their position) and evaluates one rule.
//! Autogen rules (`autogen-*`, `autogen-cronjob-*`) read the pod template:
//! their `object.spec` / `object.metadata` paths are rewritten as Kyverno does.

use std::sync::Arc;

use serde_json::Value as Json;

use super::lang::{self, Activation, Program};
use super::policy::{self, CelInputs, CelValidation, NamedProgram};
use crate::engine::{Request, RuleStatus};
use crate::model::Rule;

/// A compile error inside a rule: field path and message.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleCompileError {
    /// Field path relative to the rule, e.g. `validate.cel.expressions[0].expression`.
    pub path: String,
    /// Message with the expression and position.
    pub message: String,
}

fn prefix_for(rule_name: &str) -> Option<&'static str> {
    if rule_name.starts_with("autogen-cronjob-") {
        Some("spec.jobTemplate.spec.template.")
    } else if rule_name.starts_with("autogen-") {
        Some("spec.template.")
    } else {
        None
    }
}

struct Compiled {
    preconditions: Vec<NamedProgram>,
    variables: Vec<NamedProgram>,
    validations: Vec<CelValidation>,
}

fn compile_rule(rule: &Rule) -> Result<Compiled, RuleCompileError> {
    let prefix = prefix_for(&rule.name);
    let compile = |path: String, src: &str| -> Result<Program, RuleCompileError> {
        let text = match prefix {
            Some(p) => policy::rewrite_paths(src, p),
            None => src.to_string(),
        };
        lang::compile(&text).map_err(|e| RuleCompileError {
            message: format!("expression {src:?} does not compile: {e}"),
            path,
        })
    };
    let named = |v: Option<&Json>, base: &str| -> Result<Vec<NamedProgram>, RuleCompileError> {
        let mut out = Vec::new();
        for (i, e) in v.and_then(Json::as_array).into_iter().flatten().enumerate() {
            let path = format!("{base}[{i}].expression");
            let src =
                e.get("expression")
                    .and_then(Json::as_str)
                    .ok_or_else(|| RuleCompileError {
                        path: path.clone(),
                        message: "expression is missing".into(),
                    })?;
            out.push(NamedProgram {
                name: e
                    .get("name")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
                program: compile(path, src)?,
            });
        }
        Ok(out)
    };
    let cel = rule.validate.as_ref().and_then(|v| v.cel.as_ref());
    let preconditions = named(rule.cel_preconditions.as_ref(), "celPreconditions")?;
    let variables = named(
        cel.and_then(|c| c.get("variables")),
        "validate.cel.variables",
    )?;
    let mut validations = Vec::new();
    for (i, e) in cel
        .and_then(|c| c.get("expressions"))
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let base = format!("validate.cel.expressions[{i}]");
        let src = e
            .get("expression")
            .and_then(Json::as_str)
            .ok_or_else(|| RuleCompileError {
                path: format!("{base}.expression"),
                message: "expression is missing".into(),
            })?;
        validations.push(CelValidation {
            program: compile(format!("{base}.expression"), src)?,
            expression: src.to_string(),
            message: e.get("message").and_then(Json::as_str).map(str::to_string),
            message_expression: e
                .get("messageExpression")
                .and_then(Json::as_str)
                .map(|m| compile(format!("{base}.messageExpression"), m))
                .transpose()?,
        });
    }
    Ok(Compiled {
        preconditions,
        variables,
        validations,
    })
}

/// Compiles every CEL expression of a rule (done at load; the programs are
/// cached by source text, so evaluation does not parse again).
pub fn check_rule(rule: &Rule) -> Result<(), RuleCompileError> {
    compile_rule(rule).map(|_| ())
}

/// Evaluates a rule's `celPreconditions` and `validate.cel` on a resource.
pub fn validate_rule(
    rule: &Rule,
    req: &Request,
    resource: &Json,
    inputs: &CelInputs,
) -> (RuleStatus, String) {
    let compiled = match compile_rule(rule) {
        Ok(c) => c,
        Err(e) => return (RuleStatus::Error, format!("{}: {}", e.path, e.message)),
    };
    let generated = Arc::default();
    let mut vars = policy::base_vars(req, resource, inputs);
    let pre = Activation {
        vars: vars.clone(),
        data: &inputs.data,
        generated: Arc::clone(&generated),
    };
    match policy::eval_conditions(&compiled.preconditions, &pre) {
        Err(e) => return (RuleStatus::Error, format!("cel preconditions: {e}")),
        Ok(false) => return (RuleStatus::Skip, "cel preconditions not met".into()),
        Ok(true) => {}
    }
    policy::eval_variables(&mut vars, &compiled.variables, &inputs.data, &generated);
    let act = Activation {
        vars,
        data: &inputs.data,
        generated,
    };
    match policy::run_validations(&compiled.validations, &act) {
        Ok(None) => (RuleStatus::Pass, String::new()),
        Ok(Some(m)) => (RuleStatus::Fail, m),
        Err(e) => (RuleStatus::Error, e),
    }
}
