//! The per-policy pipeline: expand (done at load), match/exclude, then hand
//! each matching rule to its handler, collecting rule responses in order.

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
/// policies against it without converting the object again.
#[derive(Debug, Clone)]
pub struct PreparedRequest<'r> {
    pub(crate) req: &'r Request,
    pub(crate) ctx: JmesContext,
}

impl<'r> PreparedRequest<'r> {
    /// The request.
    pub fn request(&self) -> &'r Request {
        self.req
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
        let mut ctx = prepared.ctx.clone();
        inject(&mut ctx, &values.global);
        inject(&mut ctx, &values.resource);
        Self {
            policy,
            req: prepared.req,
            values,
            ctx,
        }
    }

    fn matches(&self, rule: &Rule, resource: &Value) -> bool {
        let target = MatchTarget {
            resource,
            operation: self.req.operation,
            subresource: &self.req.subresource,
            user_info: self.req.user_info.as_ref(),
            namespace_labels: self.req.namespace_labels.as_ref(),
        };
        let ns = match self.policy.kind {
            PolicyKind::Policy => self.policy.namespace.as_deref(),
            PolicyKind::ClusterPolicy => None,
        };
        rule_matches(rule, ns, &target)
    }

    /// Kyverno's effective failure action for a rule on a resource.
    pub fn failure_action(&self, rule: &Rule, resource: &Value) -> FailureAction {
        let v = rule.validate.as_ref();
        let overrides: &[FailureActionOverride] = match v {
            Some(v) if !v.failure_action_overrides.is_empty() => &v.failure_action_overrides,
            _ => &self.policy.spec.validation_failure_action_overrides,
        };
        let ns = resource
            .pointer("/metadata/namespace")
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
            ctx: build_context(req),
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
        let mut run = PolicyRun::new(policy, prepared, values);
        let mut resp = base_response(policy);
        let resource = target_resource(prepared.req);
        for rule in &policy.rules {
            if rule.validate.is_none() || !run.matches(rule, resource) {
                continue;
            }
            let checkpoint = run.ctx.checkpoint();
            let outcome = super::validation::validate_rule(&mut run, rule, resource);
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
        let mut run = PolicyRun::new(policy, prepared, values);
        let mut resp = base_response(policy);
        let mut resource = target_resource(prepared.req).clone();
        let is_delete = prepared.req.operation == Operation::Delete;
        for rule in &policy.rules {
            if rule.mutate.is_none() || !run.matches(rule, &resource) {
                continue;
            }
            let checkpoint = run.ctx.checkpoint();
            let outcome = super::mutation::mutate_rule(&mut run, rule, &mut resource);
            run.ctx.restore(checkpoint);
            if let Some((o, changed)) = outcome {
                if changed {
                    // Later rules see the mutated object, as in Kyverno.
                    run.ctx.set(
                        if is_delete {
                            "request.oldObject"
                        } else {
                            "request.object"
                        },
                        &resource,
                    );
                }
                let done = applied(o.status) && apply_one(policy);
                resp.rules
                    .push(run.response(rule, RuleType::Mutation, o, &resource));
                if done {
                    break;
                }
            }
        }
        resp.patched = Some(resource);
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
        let mut run = PolicyRun::new(policy, prepared, values);
        let mut resp = base_response(policy);
        let resource = target_resource(prepared.req);
        for rule in &policy.rules {
            if rule.generate.is_none() || !run.matches(rule, resource) {
                continue;
            }
            let checkpoint = run.ctx.checkpoint();
            let outcome = super::generate::generate_rule(&mut run, rule);
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
