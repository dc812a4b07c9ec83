//! Validate rules: `pattern`, `anyPattern`, `deny`, `foreach` (nested) and
//! `podSecurity`, with Kyverno's messages and outcome rules
//! (`pkg/engine/handlers/validation`).

use std::borrow::Cow;

use serde_json::Value;

use super::compiled::{self, Block, BlockError, PatternInfo};
use super::context::{load_entries, message, preconditions, substitute};
use super::foreach::{add_element, evaluate_list};
use super::run::{Outcome, PolicyRun};
use super::{FailureAction, Operation, RuleStatus};
use crate::model::{ContextEntry, Deny, ForEachValidation, PodSecurity, Rule};
use crate::pattern::{self, PatternOutcome};

/// The parts a rule and a foreach loop have in common.
struct Body<'b> {
    context: &'b [ContextEntry],
    preconditions: Option<&'b Block>,
    compiled: &'b compiled::Body,
    pattern: Option<&'b Value>,
    any_pattern: Option<&'b Value>,
    deny: Option<&'b Deny>,
    foreach: Option<&'b [ForEachValidation]>,
    pod_security: Option<&'b PodSecurity>,
}

impl<'b> Body<'b> {
    fn of_loop(l: &'b ForEachValidation, compiled: &'b compiled::Body) -> Self {
        Self {
            context: &l.context,
            preconditions: compiled.preconditions.as_ref(),
            compiled,
            pattern: l.pattern.as_ref(),
            any_pattern: l.any_pattern.as_ref(),
            deny: l.deny.as_ref(),
            foreach: l.foreach.as_deref(),
            pod_security: None,
        }
    }
}

/// Evaluates one validate rule that matched; `None` means no response.
pub(crate) fn validate_rule(
    run: &mut PolicyRun<'_>,
    rule: &Rule,
    resource: &Value,
) -> Option<Outcome> {
    let v = rule.validate.as_ref()?;
    if v.cel.is_some() {
        let inputs = crate::cel::CelInputs::default();
        let (status, message) =
            crate::cel::cluster::validate_rule(rule, run.req, resource, &inputs);
        return Some(Outcome { status, message });
    }
    if let Some(vals) = run.values.rules.get(&rule.name) {
        super::context::inject(&mut run.ctx, vals);
    }
    let compiled = rule.compiled.get(rule);
    let body = Body {
        context: &rule.context,
        preconditions: compiled.preconditions.as_ref(),
        compiled: &compiled.validate,
        pattern: v.pattern.as_ref(),
        any_pattern: v.any_pattern.as_ref(),
        deny: v.deny.as_ref(),
        foreach: v.foreach.as_deref(),
        pod_security: v.pod_security.as_ref(),
    };
    let checkpoint = run.ctx.checkpoint();
    let outcome = run_body(run, rule, &body, None, 0, resource)?;
    // A violation the old object already had is not reported on UPDATE
    // (Enforce only, unless allowExistingViolations is false).
    if outcome.status == RuleStatus::Fail
        && run.req.operation == Operation::Update
        && !run.req.old_object.is_null()
        && v.allow_existing_violations != Some(false)
        && run.failure_action(rule, resource) == FailureAction::Enforce
    {
        let old = run.req.old_object.clone();
        run.ctx.restore(checkpoint);
        run.ctx.set("request.object", &old);
        run.ctx.remove("request.oldObject");
        let prior = run_body(run, rule, &body, None, 0, &old);
        if prior.is_some_and(|p| p.status == RuleStatus::Fail) {
            return Some(Outcome::skip(
                "skipping modified resource as validation results have not changed",
            ));
        }
    }
    Some(outcome)
}

fn run_body(
    run: &mut PolicyRun<'_>,
    rule: &Rule,
    body: &Body<'_>,
    element: Option<&Value>,
    nesting: usize,
    resource: &Value,
) -> Option<Outcome> {
    if let Err(e) = load_entries(body.context, &mut run.ctx, run.values, &rule.name) {
        return Some(Outcome::error(format!("failed to load context: {e}")));
    }
    match preconditions(body.preconditions, &run.ctx) {
        Err(e) => {
            return Some(Outcome::error(format!(
                "failed to evaluate preconditions: {e}"
            )));
        }
        Ok(false) => return Some(Outcome::skip("preconditions not met")),
        Ok(true) => {}
    }
    if body.deny.is_some() {
        let block = body.compiled.deny.as_ref()?;
        return Some(validate_deny(run, rule, block));
    }
    if body.pattern.is_some() || body.any_pattern.is_some() {
        let target = match element {
            Some(e) => e,
            None if run.req.operation == Operation::Delete => return None,
            None => resource,
        };
        return Some(validate_patterns(run, rule, body, target));
    }
    if let Some(loops) = body.foreach {
        return validate_foreach(run, rule, loops, &body.compiled.loops, nesting, resource);
    }
    if let Some(ps) = body.pod_security {
        let parsed = rule.compiled.get(rule).pod_security.as_ref()?;
        return Some(validate_pod_security(rule, ps, parsed, resource));
    }
    None
}

fn rule_message(run: &PolicyRun<'_>, rule: &Rule) -> Option<String> {
    rule.validate
        .as_ref()
        .and_then(|v| v.message.as_deref())
        .filter(|m| !m.is_empty())
        .map(|m| message(m, &run.ctx))
}

fn validate_deny(run: &PolicyRun<'_>, rule: &Rule, deny: &Block) -> Outcome {
    match deny.evaluate(&run.ctx, false) {
        Err(BlockError::Substitute(e)) => Outcome::error(format!(
            "failed to substitute variables in deny conditions: {e}"
        )),
        Err(BlockError::Invalid(e)) => Outcome::error(format!("invalid deny conditions: {e}")),
        Ok(true) => Outcome::fail(
            rule_message(run, rule)
                .unwrap_or_else(|| format!("validation error: rule {} failed", rule.name)),
        ),
        Ok(false) => Outcome::pass(format!("validation rule '{}' passed.", rule.name)),
    }
}

/// Substitutes variables and `$(...)` references in a pattern; borrows it
/// unchanged when it has neither (the common case, kept allocation-free).
fn prepare_pattern<'p>(
    run: &PolicyRun<'_>,
    pattern: &'p Value,
    info: Option<&'p PatternInfo>,
    target: &Value,
) -> Result<Cow<'p, Value>, String> {
    match info {
        Some(i) if !i.has_variables => match &i.resolved {
            None => return Ok(Cow::Borrowed(pattern)),
            Some(Ok(resolved)) => return Ok(Cow::Borrowed(resolved)),
            Some(Err(e)) => return Err(e.clone()),
        },
        _ => {}
    }
    let p = substitute(pattern, &run.ctx, Some(target), false)?;
    if compiled::contains_reference(&p) {
        return Ok(Cow::Owned(
            pattern::resolve_references(&p).map_err(|e| e.to_string())?,
        ));
    }
    Ok(Cow::Owned(p))
}

fn error_message(run: &PolicyRun<'_>, rule: &Rule, path: Option<&str>, err: &str) -> String {
    match rule_message(run, rule) {
        None => match path {
            Some(p) => format!("validation error: rule {} failed at path {p}", rule.name),
            None => format!(
                "validation error: rule {} execution error: {err}",
                rule.name
            ),
        },
        Some(mut msg) => {
            if !msg.ends_with('.') {
                msg.push('.');
            }
            match path {
                Some(p) => format!(
                    "validation error: {msg} rule {} failed at path {p}",
                    rule.name
                ),
                None => format!(
                    "validation error: {msg} rule {} execution error: {err}",
                    rule.name
                ),
            }
        }
    }
}

fn validate_patterns(run: &PolicyRun<'_>, rule: &Rule, body: &Body<'_>, target: &Value) -> Outcome {
    if let Some(p) = body.pattern {
        let p = match prepare_pattern(run, p, body.compiled.pattern.as_ref(), target) {
            Ok(p) => p,
            Err(e) => return Outcome::error(format!("variable substitution failed: {e}")),
        };
        return match pattern::validate(target, &p) {
            PatternOutcome::Pass => {
                Outcome::pass(format!("validation rule '{}' passed.", rule.name))
            }
            PatternOutcome::Skip { message, .. } => Outcome::skip(message),
            PatternOutcome::Fail { path, message } => {
                Outcome::fail(error_message(run, rule, Some(&path), &message))
            }
            PatternOutcome::Error { message } => {
                Outcome::error(error_message(run, rule, None, &message))
            }
        };
    }
    let Some(any) = body.any_pattern else {
        return Outcome::pass(String::new());
    };
    let any = match prepare_pattern(run, any, body.compiled.any_pattern.as_ref(), target) {
        Ok(p) => p,
        Err(e) => return Outcome::error(format!("variable substitution failed: {e}")),
    };
    let Some(patterns) = any.as_array() else {
        return Outcome::error("failed to deserialize anyPattern, expected type array");
    };
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        match pattern::validate(target, p) {
            PatternOutcome::Pass => {
                return Outcome::pass(format!(
                    "validation rule '{}' anyPattern[{i}] passed.",
                    rule.name
                ));
            }
            PatternOutcome::Skip { message, .. } => {
                skipped.push(format!("rule {}[{i}] skipped: {message}", rule.name));
            }
            PatternOutcome::Fail { path, .. } => {
                failed.push(format!("rule {}[{i}] failed at path {path}", rule.name));
            }
            PatternOutcome::Error { message } => {
                failed.push(format!("rule {}[{i}] failed: {message}", rule.name));
            }
        }
    }
    if !failed.is_empty() {
        let errs = failed.join(" ");
        let raw = rule
            .validate
            .as_ref()
            .and_then(|v| v.message.as_deref())
            .unwrap_or("");
        let msg = if raw.is_empty() {
            format!("validation error: {errs}")
        } else {
            let m = message(raw, &run.ctx);
            if m.ends_with('.') {
                format!("validation error: {m} {errs}")
            } else {
                format!("validation error: {m}. {errs}")
            }
        };
        return Outcome::fail(msg);
    }
    if !skipped.is_empty() {
        return Outcome::skip(skipped.join(" "));
    }
    Outcome::pass(
        rule.validate
            .as_ref()
            .and_then(|v| v.message.clone())
            .unwrap_or_default(),
    )
}

fn validate_foreach(
    run: &mut PolicyRun<'_>,
    rule: &Rule,
    loops: &[ForEachValidation],
    compiled: &[compiled::Body],
    nesting: usize,
    resource: &Value,
) -> Option<Outcome> {
    let mut applied = 0;
    for (l, c) in loops.iter().zip(compiled) {
        // Kyverno skips a loop whose list cannot be evaluated (e.g. a missing field).
        let Ok(elements) = evaluate_list(&l.list, &run.ctx) else {
            continue;
        };
        let (outcome, count) = validate_elements(run, rule, l, c, &elements, nesting, resource);
        if outcome.status != RuleStatus::Pass {
            return Some(outcome);
        }
        applied += count;
    }
    if applied == 0 {
        return None;
    }
    Some(Outcome::pass("rule passed"))
}

fn validate_elements(
    run: &mut PolicyRun<'_>,
    rule: &Rule,
    l: &ForEachValidation,
    c: &compiled::Body,
    elements: &[jmespath::Rcvar],
    nesting: usize,
    resource: &Value,
) -> (Outcome, usize) {
    let checkpoint = run.ctx.checkpoint();
    let mut count = 0;
    let body = Body::of_loop(l, c);
    for (i, e) in elements.iter().enumerate() {
        if e.is_null() {
            continue;
        }
        run.ctx.restore(checkpoint.clone());
        add_element(&mut run.ctx, e, i, nesting, run.values, &rule.name);
        // The element as JSON, only for the pattern checks that walk it.
        let json =
            (body.pattern.is_some() || body.any_pattern.is_some()).then(|| crate::jmes::to_json(e));
        let scoped = match l.element_scope {
            Some(true) if !e.is_object() => {
                run.ctx.restore(checkpoint);
                return (
                    Outcome::error(
                        "failed to process foreach: cannot use elementScope=true foreach rules for elements that are not maps",
                    ),
                    count,
                );
            }
            Some(s) => s,
            None => e.is_object(),
        };
        let element = if scoped { json.as_ref() } else { None };
        let r = run_body(run, rule, &body, element, nesting + 1, resource);
        let Some(r) = r else { continue };
        match r.status {
            RuleStatus::Skip => {}
            RuleStatus::Pass => count += 1,
            RuleStatus::Error if i + 1 < elements.len() => {}
            status => {
                run.ctx.restore(checkpoint);
                return (
                    Outcome {
                        status,
                        message: format!("validation failure: {}", r.message),
                    },
                    count,
                );
            }
        }
    }
    run.ctx.restore(checkpoint);
    (Outcome::pass(""), count)
}

fn validate_pod_security(
    rule: &Rule,
    ps: &PodSecurity,
    parsed: &Result<crate::pod_security::PodSecurityRule, String>,
    resource: &Value,
) -> Outcome {
    let (Some(metadata), Some(spec)) = (
        super::images::pod_metadata(resource).or(Some(&Value::Null)),
        super::images::pod_spec(resource),
    ) else {
        return Outcome::error(format!("rule {}: the resource has no pod spec", rule.name));
    };
    let pss_rule = match parsed {
        Ok(r) => r,
        Err(e) => return Outcome::error(format!("invalid podSecurity: {e}")),
    };
    let violations = crate::pod_security::evaluate(pss_rule, metadata, spec);
    if violations.is_empty() {
        Outcome::pass(format!("validation rule '{}' passed.", rule.name))
    } else {
        let level = format!("{}:{}", ps.level, ps.version.as_deref().unwrap_or("latest"));
        let details: Vec<String> = violations
            .iter()
            .map(|v| format!("{}: {}", v.control, v.message))
            .collect();
        Outcome::fail(format!(
            "Validation rule '{}' failed. It violates PodSecurity \"{level}\": {}",
            rule.name,
            details.join("; ")
        ))
    }
}
