//! Shared pieces of `foreach` loops (validate and mutate): evaluating the
//! list and putting the current element into the context.

use serde_json::{Value, json};

use super::ContextValues;
use crate::jmes::JmesContext;

/// Evaluates a loop's `list` expression. A list is iterated as is; any other
/// value becomes a one-element list (Kyverno's `EvaluateList`).
pub(crate) fn evaluate_list(list: &str, ctx: &JmesContext) -> Result<Vec<Value>, String> {
    let trimmed = list.trim();
    let expr = trimmed
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .map(str::trim)
        .unwrap_or(trimmed);
    match ctx.search(expr) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(other) => Ok(vec![other]),
        Err(e) => Err(format!("failed to evaluate list {list}: {e}")),
    }
}

/// Adds `element`, `elementIndex` and their nesting-numbered copies, and the
/// caller's per-iteration values for this rule.
pub(crate) fn add_element(
    ctx: &mut JmesContext,
    element: &Value,
    index: usize,
    nesting: usize,
    values: &ContextValues,
    rule: &str,
) {
    ctx.set("element", element);
    ctx.set(&format!("element{nesting}"), element);
    ctx.set("elementIndex", json!(index));
    ctx.set(&format!("elementIndex{nesting}"), json!(index));
    if let Some(per_iteration) = values.foreach.get(rule) {
        for (name, list) in per_iteration {
            if let Some(v) = list.get(index) {
                ctx.set(name, v);
            }
        }
    }
}
