//! The per-policy pipeline: expand (done at load), match/exclude, then hand
//! each matching rule to its handler, collecting rule responses in order.

use std::sync::OnceLock;

use serde_json::Value;

use super::context::{build_context, inject, target_resource};
use super::{
    ContextValues, EngineResponse, FailureAction, Operation, Request, RuleResponse, RuleStatus,
    RuleType,
};
use crate::jmes::JmesContext;
use crate::matching::{MatchTarget, rule_matches, selector_matches};
use crate::model::{FailureActionOverride, Policy, PolicyKind, Rule};
use crate::wildcard;

/// The policy engine. Stateless and cheap to build; compiled JMESPath
/// expressions are cached by the `jmes` module.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    _private: (),
}

/// A request with its JMESPath context built once, to evaluate many
/// policies against it without converting the object again. The context is
/// built on first use: a policy whose rules match nothing never needs it.
#[derive(Debug, Clone)]
pub struct PreparedRequest<'r> {
    pub(crate) req: &'r Request,
    ctx: OnceLock<JmesContext>,
}

impl<'r> PreparedRequest<'r> {
    /// The request.
    pub fn request(&self) -> &'r Request {
        self.req
    }

    /// The request's JMESPath context (`request.*`, `images`, ...).
    pub(crate) fn context(&self) -> &JmesContext {
        self.ctx.get_or_init(|| build_context(self.req))
    }
}

/// One rule's outcome before it becomes a [`RuleResponse`]; `None` (in an
/// `Option`) means "no response".
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub status: RuleStatus,
    pub message: String,
}

impl Outcome {
    pub fn pass(m: impl Into<String>) -> Self {
        Self {
            status: RuleStatus::Pass,
            message: m.into(),
        }
    }
    pub fn fail(m: impl Into<String>) -> Self {
        Self {
            status: RuleStatus::Fail,
            message: m.into(),
        }
    }
    pub fn skip(m: impl Into<String>) -> Self {
        Self {
            status: RuleStatus::Skip,
            message: m.into(),
        }
    }
    pub fn error(m: impl Into<String>) -> Self {
        Self {
            status: RuleStatus::Error,
            message: m.into(),
        }
    }
}

/// State shared by the rules of one policy on one request.
pub(crate) struct PolicyRun<'a> {
    pub policy: &'a Policy,
    pub req: &'a Request,
    pub values: &'a ContextValues,
    pub ctx: JmesContext,
}

impl<'a> PolicyRun<'a> {
    fn new(policy: &'a Policy, prepared: &PreparedRequest<'a>, values: &'a ContextValues) -> Self {
        let mut ctx = prepared.context().clone();
        inject(&mut ctx, &values.global);
        inject(&mut ctx, &values.resource);
        Self {
            policy,
            req: prepared.req,
            values,
            ctx,
        }
    }

    /// Kyverno's effective failure action for a rule on a resource.
    pub fn failure_action(&self, rule: &Rule, resource: &Value) -> FailureAction {
        let v = rule.validate.as_ref();
        let overrides: &[FailureActionOverride] = match v {
            Some(v) if !v.failure_action_overrides.is_empty() => &v.failure_action_overrides,
            _ => &self.policy.spec.validation_failure_action_overrides,
        };
        let ns = resource
            .get("metadata")
            .and_then(|m| m.get("namespace"))
            .and_then(Value::as_str)
            .unwrap_or("");
        for o in overrides {
            let ns_ok =
                o.namespaces.is_empty() || o.namespaces.iter().any(|p| wildcard::matches(p, ns));
            let sel_ok = o
                .namespace_selector
                .as_ref()
                .is_none_or(|s| selector_matches(s, self.req.namespace_labels.as_ref()));
            if ns_ok && sel_ok && (!o.namespaces.is_empty() || o.namespace_selector.is_some()) {
                return parse_action(&o.action);
            }
        }
        v.and_then(|v| v.failure_action.as_deref())
            .or(self.policy.spec.validation_failure_action.as_deref())
            .map(parse_action)
            .unwrap_or_default()
    }

    fn response(
        &self,
        rule: &Rule,
        rule_type: RuleType,
        o: Outcome,
        resource: &Value,
    ) -> RuleResponse {
        RuleResponse {
            name: rule.name.clone(),
            rule_type,
            status: o.status,
            message: o.message,
            action: self.failure_action(rule, resource),
        }
    }
}

/// The `kind` of an object, `""` when it has none.
fn kind_of(resource: &Value) -> &str {
    resource.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// Whether `rule` of `policy` applies to `resource` in this request.
/// `kind` is the resource's kind, looked up once by the caller.
fn matches(policy: &Policy, req: &Request, rule: &Rule, resource: &Value, kind: &str) -> bool {
    // Most rules are for other kinds: reject those by the kind name alone.
    if let Some(kinds) = &rule.compiled.get(rule).kinds
        && !kinds.iter().any(|k| k == kind)
    {
        return false;
    }
    let target = MatchTarget {
        resource,
        operation: req.operation,
        subresource: &req.subresource,
        user_info: req.user_info.as_ref(),
        namespace_labels: req.namespace_labels.as_ref(),
    };
    let ns = match policy.kind {
        PolicyKind::Policy => policy.namespace.as_deref(),
        PolicyKind::ClusterPolicy => None,
    };
    rule_matches(rule, ns, &target)
}

fn parse_action(s: &str) -> FailureAction {
    if s.eq_ignore_ascii_case("enforce") {
        FailureAction::Enforce
    } else {
        FailureAction::Audit
    }
}

fn apply_one(policy: &Policy) -> bool {
    policy
        .spec
        .apply_rules
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case("one"))
}

fn base_response(policy: &Policy) -> EngineResponse {
    EngineResponse {
        policy: policy.name.clone(),
        policy_namespace: policy.namespace.clone(),
        ..EngineResponse::default()
    }
}

fn applied(status: RuleStatus) -> bool {
    matches!(status, RuleStatus::Pass | RuleStatus::Fail)
}

impl Engine {
    /// A new engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the request's JMESPath context once, for the `*_prepared` calls.
    pub fn prepare<'r>(&self, req: &'r Request) -> PreparedRequest<'r> {
        PreparedRequest {
            req,
            ctx: OnceLock::new(),
        }
    }

    /// Runs the policy's validate rules.
    pub fn validate(
        &self,
        policy: &Policy,
        req: &Request,
        values: &ContextValues,
    ) -> EngineResponse {
        self.validate_prepared(policy, &self.prepare(req), values)
    }

    /// [`Engine::validate`] on a prepared request.
    pub fn validate_prepared(
        &self,
        policy: &Policy,
        prepared: &PreparedRequest<'_>,
        values: &ContextValues,
    ) -> EngineResponse {
        let mut resp = base_response(policy);
        let resource = target_resource(prepared.req);
        let kind = kind_of(resource);
        let mut run = None;
        for rule in &policy.rules {
            if rule.validate.is_none() || !matches(policy, prepared.req, rule, resource, kind) {
                continue;
            }
            let run = run.get_or_insert_with(|| PolicyRun::new(policy, prepared, values));
            let checkpoint = run.ctx.checkpoint();
            let outcome = super::validation::validate_rule(run, rule, resource);
            run.ctx.restore(checkpoint);
            if let Some(o) = outcome {
                let done = applied(o.status) && apply_one(policy);
                resp.rules
                    .push(run.response(rule, RuleType::Validation, o, resource));
                if done {
                    break;
                }
            }
        }
        resp
    }

    /// Runs the policy's mutate rules; `patched` holds the object afterwards.
    pub fn mutate(&self, policy: &Policy, req: &Request, values: &ContextValues) -> EngineResponse {
        self.mutate_prepared(policy, &self.prepare(req), values)
    }

    /// [`Engine::mutate`] on a prepared request.
    pub fn mutate_prepared(
        &self,
        policy: &Policy,
        prepared: &PreparedRequest<'_>,
        values: &ContextValues,
    ) -> EngineResponse {
        let mut resp = base_response(policy);
        // The object is copied (and the context built) only once a mutate
        // rule applies; until then `current` borrows the request's object.
        let original = target_resource(prepared.req);
        let mut state: Option<(PolicyRun<'_>, Value)> = None;
        let is_delete = prepared.req.operation == Operation::Delete;
        // Set when a rule changed the object: the context is brought up to
        // date before the next rule runs (converting the object is costly,
        // and after the last rule nobody reads it).
        let mut stale = false;
        for rule in &policy.rules {
            let current = state.as_ref().map_or(original, |(_, r)| r);
            if rule.mutate.is_none()
                || !matches(policy, prepared.req, rule, current, kind_of(current))
            {
                continue;
            }
            let (run, resource) = state.get_or_insert_with(|| {
                (PolicyRun::new(policy, prepared, values), original.clone())
            });
            if stale {
                // Later rules see the mutated object, as in Kyverno.
                run.ctx.set(
                    if is_delete {
                        "request.oldObject"
                    } else {
                        "request.object"
                    },
                    &*resource,
                );
                stale = false;
            }
            let checkpoint = run.ctx.checkpoint();
            let outcome = super::mutation::mutate_rule(run, rule, resource);
            run.ctx.restore(checkpoint);
            if let Some((o, changed)) = outcome {
                stale |= changed;
                let done = applied(o.status) && apply_one(policy);
                resp.rules
                    .push(run.response(rule, RuleType::Mutation, o, resource));
                if done {
                    break;
                }
            }
        }
        resp.patched = state.map(|(_, r)| r);
        resp
    }

    /// Runs the policy's generate rules; `generated` holds the objects.
    pub fn generate(
        &self,
        policy: &Policy,
        req: &Request,
        values: &ContextValues,
    ) -> EngineResponse {
        self.generate_prepared(policy, &self.prepare(req), values)
    }

    /// [`Engine::generate`] on a prepared request.
    pub fn generate_prepared(
        &self,
        policy: &Policy,
        prepared: &PreparedRequest<'_>,
        values: &ContextValues,
    ) -> EngineResponse {
        let mut resp = base_response(policy);
        let resource = target_resource(prepared.req);
        let kind = kind_of(resource);
        let mut run = None;
        for rule in &policy.rules {
            if rule.generate.is_none() || !matches(policy, prepared.req, rule, resource, kind) {
                continue;
            }
            let run = run.get_or_insert_with(|| PolicyRun::new(policy, prepared, values));
            let checkpoint = run.ctx.checkpoint();
            let outcome = super::generate::generate_rule(run, rule);
            run.ctx.restore(checkpoint);
            if let Some((o, objects)) = outcome {
                resp.generated.extend(objects);
                let done = applied(o.status) && apply_one(policy);
                resp.rules
                    .push(run.response(rule, RuleType::Generation, o, resource));
                if done {
                    break;
                }
            }
        }
        resp
    }
}
