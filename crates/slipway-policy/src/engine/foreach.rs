//! Shared pieces of `foreach` loops (validate and mutate): evaluating the
//! list and putting the current element into the context.

use jmespath::{Rcvar, Variable};
use serde_json::json;

use super::ContextValues;
use crate::jmes::JmesContext;

/// Evaluates a loop's `list` expression. A list is iterated as is; any other
/// value becomes a one-element list (Kyverno's `EvaluateList`). Elements stay
/// JMESPath variables shared with the context (no conversion to JSON).
pub(crate) fn evaluate_list(list: &str, ctx: &JmesContext) -> Result<Vec<Rcvar>, String> {
    let trimmed = list.trim();
    let expr = trimmed
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .map(str::trim)
        .unwrap_or(trimmed);
    match ctx.search_var(expr) {
        Ok(v) => match &*v {
            Variable::Array(items) => Ok(items.clone()),
            _ => Ok(vec![v]),
        },
        Err(e) => Err(format!("failed to evaluate list {list}: {e}")),
    }
}

/// Adds `element`, `elementIndex` and their nesting-numbered copies, and the
/// caller's per-iteration values for this rule.
pub(crate) fn add_element(
    ctx: &mut JmesContext,
    element: &Rcvar,
    index: usize,
    nesting: usize,
    values: &ContextValues,
    rule: &str,
) {
    ctx.set_var("element", element.clone());
    ctx.set_var(&format!("element{nesting}"), element.clone());
    let i = crate::jmes::to_var(&json!(index));
    ctx.set_var("elementIndex", i.clone());
    ctx.set_var(&format!("elementIndex{nesting}"), i);
    if let Some(per_iteration) = values.foreach.get(rule) {
        for (name, list) in per_iteration {
            if let Some(v) = list.get(index) {
                ctx.set(name, v);
            }
        }
    }
}
