//! What a rule needs at evaluation time that depends only on the policy:
//! condition blocks split into literal operands (used in place, never copied)
//! and operands with variables (substituted per request), and for patterns
//! whether they hold variables or `$(...)` references, with the references
//! of variable-free patterns resolved once.
//!
//! Built once per rule (at load, or on first use) and kept in the rule's
//! [`CompileCache`]; the evaluation pipeline never re-parses policy text.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::context::contains_variables;
use crate::conditions::{self, Operator};
use crate::jmes::{JmesContext, SubstituteOptions, substitute_with};
use crate::model::{ForEachMutation, ForEachValidation, Rule};

/// The compiled form of a rule, filled on first use. Cloning a rule gives an
/// empty cache (a clone may be edited, e.g. by autogen, before it is used).
#[derive(Default)]
pub struct CompileCache(OnceLock<Arc<CompiledRule>>);

impl Clone for CompileCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for CompileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompileCache")
    }
}

impl CompileCache {
    /// The compiled rule, compiling it on first call.
    pub(crate) fn get(&self, rule: &Rule) -> &CompiledRule {
        self.0.get_or_init(|| Arc::new(CompiledRule::new(rule)))
    }
}

/// A rule's compiled parts.
pub(crate) struct CompiledRule {
    /// The kinds the rule's `match` can select at most (`None`: any kind),
    /// to reject it by the object's kind before the full match.
    pub kinds: Option<Vec<String>>,
    /// `preconditions` of the rule.
    pub preconditions: Option<Block>,
    /// The validate body (deny, patterns, foreach loops).
    pub validate: Body,
    /// The mutate foreach loops, in order.
    pub mutate_loops: Vec<MutateLoop>,
    /// The parsed `validate.podSecurity` subrule, or why it does not parse.
    pub pod_security: Option<Result<crate::pod_security::PodSecurityRule, String>>,
}

impl CompiledRule {
    fn new(rule: &Rule) -> Self {
        let preconditions = rule.preconditions.as_ref().map(Block::new);
        let validate = match &rule.validate {
            Some(v) => Body {
                preconditions: None,
                deny: v
                    .deny
                    .as_ref()
                    .map(|d| Block::new(d.conditions.as_ref().unwrap_or(&Value::Null))),
                pattern: v.pattern.as_ref().map(PatternInfo::new),
                any_pattern: v.any_pattern.as_ref().map(PatternInfo::new),
                loops: v.foreach.as_deref().map(validate_loops).unwrap_or_default(),
            },
            None => Body::default(),
        };
        let mutate_loops = rule
            .mutate
            .as_ref()
            .and_then(|m| m.foreach.as_deref())
            .map(mutate_loops)
            .unwrap_or_default();
        Self {
            kinds: crate::matching::possible_kinds(&rule.match_),
            pod_security: rule
                .validate
                .as_ref()
                .and_then(|v| v.pod_security.as_ref())
                .map(|ps| {
                    let raw = serde_json::to_value(ps).unwrap_or(Value::Null);
                    crate::pod_security::PodSecurityRule::parse(&raw).map_err(|e| e.to_string())
                }),
            preconditions,
            validate,
            mutate_loops,
        }
    }
}

fn validate_loops(loops: &[ForEachValidation]) -> Vec<Body> {
    loops
        .iter()
        .map(|l| Body {
            preconditions: l.preconditions.as_ref().map(Block::new),
            deny: l
                .deny
                .as_ref()
                .map(|d| Block::new(d.conditions.as_ref().unwrap_or(&Value::Null))),
            pattern: l.pattern.as_ref().map(PatternInfo::new),
            any_pattern: l.any_pattern.as_ref().map(PatternInfo::new),
            loops: l.foreach.as_deref().map(validate_loops).unwrap_or_default(),
        })
        .collect()
}

fn mutate_loops(loops: &[ForEachMutation]) -> Vec<MutateLoop> {
    loops
        .iter()
        .map(|l| MutateLoop {
            preconditions: l.preconditions.as_ref().map(Block::new),
            loops: l.foreach.as_deref().map(mutate_loops).unwrap_or_default(),
        })
        .collect()
}

/// A validate body (the rule's or a foreach loop's).
#[derive(Default)]
pub(crate) struct Body {
    /// The loop's own preconditions (the rule's are in [`CompiledRule`]).
    pub preconditions: Option<Block>,
    /// `deny.conditions`.
    pub deny: Option<Block>,
    /// `pattern`.
    pub pattern: Option<PatternInfo>,
    /// `anyPattern`.
    pub any_pattern: Option<PatternInfo>,
    /// Nested `foreach` loops, in order.
    pub loops: Vec<Body>,
}

/// A mutate foreach loop.
pub(crate) struct MutateLoop {
    /// The loop's preconditions.
    pub preconditions: Option<Block>,
    /// Nested loops, in order.
    pub loops: Vec<MutateLoop>,
}

/// What is known about a pattern before any request.
pub(crate) struct PatternInfo {
    /// Whether it holds `{{ }}` variables (then it is substituted per request).
    pub has_variables: bool,
    /// For a pattern without variables: the pattern with `$(...)` references
    /// resolved (`None` when it has none), or why they do not resolve.
    pub resolved: Option<Result<Value, String>>,
}

impl PatternInfo {
    fn new(pattern: &Value) -> Self {
        let has_variables = contains_variables(pattern);
        let resolved = (!has_variables && contains_reference(pattern))
            .then(|| crate::pattern::resolve_references(pattern).map_err(|e| e.to_string()));
        Self {
            has_variables,
            resolved,
        }
    }
}

/// Whether any string in `v` holds a `$(...)` reference.
pub(crate) fn contains_reference(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("$("),
        Value::Array(a) => a.iter().any(contains_reference),
        Value::Object(m) => m.values().any(contains_reference),
        _ => false,
    }
}

/// Why a condition block could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum BlockError {
    /// A variable could not be substituted.
    #[error("{0}")]
    Substitute(String),
    /// The substituted block is not a valid condition block.
    #[error("{0}")]
    Invalid(String),
}

/// A condition block (`preconditions`, `deny.conditions`).
pub(crate) enum Block {
    /// The usual shape: conditions whose operands are literals or templates.
    Split {
        /// `any:` when given.
        any: Option<Vec<Condition>>,
        /// `all:` (or the legacy plain list) when given.
        all: Option<Vec<Condition>>,
    },
    /// Anything else (variables in the structure, a malformed block): the
    /// whole block is substituted, then parsed, on every evaluation, which
    /// reports problems exactly as the parser does.
    Whole(Value),
}

/// One condition with its operator parsed.
pub(crate) struct Condition {
    key: Operand,
    operator: Operator,
    value: Operand,
    /// Substituted (for its errors) but not otherwise used by the outcome.
    message: Option<Operand>,
}

/// A condition operand.
enum Operand {
    /// No variables: used as written.
    Literal(Value),
    /// Holds variables; `path` is its place in the block for error messages
    /// (`/any/0/key`), as whole-block substitution reports it.
    Template { value: Value, path: String },
}

impl Operand {
    fn new(value: Option<&Value>, path: String) -> Self {
        let value = value.cloned().unwrap_or(Value::Null);
        if contains_variables(&value) {
            Operand::Template { value, path }
        } else {
            Operand::Literal(value)
        }
    }

    fn resolve<'a>(
        &'a self,
        ctx: &JmesContext,
        lenient: bool,
    ) -> Result<Cow<'a, Value>, BlockError> {
        match self {
            Operand::Literal(v) => Ok(Cow::Borrowed(v)),
            Operand::Template { value, path } => {
                let options = SubstituteOptions {
                    at: None,
                    unresolved_as_empty: lenient,
                    base_path: path,
                };
                substitute_with(value, ctx, &options)
                    .map(Cow::Owned)
                    .map_err(|e| BlockError::Substitute(e.to_string()))
            }
        }
    }
}

impl Block {
    /// Compiles a block; falls back to [`Block::Whole`] for any shape the
    /// split form would not reproduce exactly.
    pub(crate) fn new(block: &Value) -> Self {
        let split = match block {
            Value::Null => Some((None, None)),
            Value::Array(items) => conditions_of(items, "").map(|all| (None, Some(all))),
            Value::Object(map) if map.keys().all(|k| k == "any" || k == "all") => {
                let list = |name: &str| match map.get(name) {
                    None | Some(Value::Null) => Some(None),
                    Some(Value::Array(items)) => conditions_of(items, name).map(Some),
                    Some(_) => None,
                };
                list("any").zip(list("all"))
            }
            _ => None,
        };
        match split {
            Some((any, all)) => Block::Split { any, all },
            None => Block::Whole(block.clone()),
        }
    }

    /// Substitutes the variables of every condition (all of them first, as
    /// Kyverno substitutes the whole block before evaluating), then
    /// evaluates: `any` needs one true condition, `all` needs every one.
    /// `lenient` is Kyverno's precondition resolver (unresolved → `""`).
    pub(crate) fn evaluate(&self, ctx: &JmesContext, lenient: bool) -> Result<bool, BlockError> {
        let (any, all) = match self {
            Block::Whole(raw) => {
                let options = SubstituteOptions {
                    at: None,
                    unresolved_as_empty: lenient,
                    base_path: "",
                };
                let substituted = substitute_with(raw, ctx, &options)
                    .map_err(|e| BlockError::Substitute(e.to_string()))?;
                return super::context::evaluate_block(&substituted).map_err(BlockError::Invalid);
            }
            Block::Split { any, all } => (any, all),
        };
        let any_ops = resolve(any, ctx, lenient)?;
        let all_ops = resolve(all, ctx, lenient)?;
        let eval = |(k, op, v): &(Cow<'_, Value>, Operator, Cow<'_, Value>)| {
            conditions::evaluate(k, *op, v).map_err(|e| BlockError::Invalid(e.to_string()))
        };
        if any.is_some() {
            let mut hit = false;
            for c in &any_ops {
                if eval(c)? {
                    hit = true;
                    break;
                }
            }
            if !hit {
                return Ok(false);
            }
        }
        for c in &all_ops {
            if !eval(c)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Operands of every condition of a list, substituted.
type Resolved<'a> = Vec<(Cow<'a, Value>, Operator, Cow<'a, Value>)>;

fn resolve<'a>(
    list: &'a Option<Vec<Condition>>,
    ctx: &JmesContext,
    lenient: bool,
) -> Result<Resolved<'a>, BlockError> {
    let mut out = Vec::new();
    for c in list.iter().flatten() {
        let key = c.key.resolve(ctx, lenient)?;
        let value = c.value.resolve(ctx, lenient)?;
        if let Some(m) = &c.message {
            m.resolve(ctx, lenient)?;
        }
        out.push((key, c.operator, value));
    }
    Ok(out)
}

/// The conditions of a list, or `None` when some item is not a plain
/// `{key, operator, value, message}` map with a known operator.
fn conditions_of(items: &[Value], prefix: &str) -> Option<Vec<Condition>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let map = item.as_object()?;
            if !map
                .keys()
                .all(|k| matches!(k.as_str(), "key" | "operator" | "value" | "message"))
            {
                return None;
            }
            let operator: Operator = map.get("operator")?.as_str()?.parse().ok()?;
            let message = match map.get("message") {
                None | Some(Value::Null) => None,
                Some(m @ Value::String(_)) => Some(Operand::new(
                    Some(m),
                    format!("{}/{i}/message", slash(prefix)),
                )),
                Some(_) => return None,
            };
            Some(Condition {
                key: Operand::new(map.get("key"), format!("{}/{i}/key", slash(prefix))),
                operator,
                value: Operand::new(map.get("value"), format!("{}/{i}/value", slash(prefix))),
                message,
            })
        })
        .collect()
}

fn slash(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!("/{prefix}")
    }
}
