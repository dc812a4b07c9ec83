//! Mutate rules: `patchStrategicMerge`, `patchesJson6902` and `foreach`
//! (nested), applied to the object in place (`pkg/engine/handlers/mutation`).
//! A rule is `pass` when the object changed and `skip` when it did not.

use std::borrow::Cow;

use serde_json::Value;

use super::compiled::MutateLoop;
use super::context::{contains_variables, inject, load_entries, preconditions, substitute};
use super::foreach::{add_element, evaluate_list};
use super::run::{Outcome, PolicyRun};
use crate::model::{ForEachMutation, Rule};

/// Evaluates one mutate rule that matched; returns the outcome and whether
/// `resource` changed, or `None` for no response.
pub(crate) fn mutate_rule(
    run: &mut PolicyRun<'_>,
    rule: &Rule,
    resource: &mut Value,
) -> Option<(Outcome, bool)> {
    let m = rule.mutate.as_ref()?;
    if let Some(vals) = run.values.rules.get(&rule.name) {
        inject(&mut run.ctx, vals);
    }
    if let Err(e) = load_entries(&rule.context, &mut run.ctx, run.values, &rule.name) {
        return Some((
            Outcome::error(format!("failed to load context: {e}")),
            false,
        ));
    }
    let compiled = rule.compiled.get(rule);
    match preconditions(compiled.preconditions.as_ref(), &run.ctx) {
        Err(e) => {
            return Some((
                Outcome::error(format!("failed to evaluate preconditions: {e}")),
                false,
            ));
        }
        Ok(false) => return Some((Outcome::skip("preconditions not met"), false)),
        Ok(true) => {}
    }
    let result = if let Some(overlay) = &m.patch_strategic_merge {
        apply_strategic_merge(run, overlay, resource)
    } else if let Some(patch) = &m.patches_json6902 {
        apply_json6902(run, patch, resource)
    } else if let Some(loops) = &m.foreach {
        mutate_foreach(run, rule, loops, &compiled.mutate_loops, 0, resource)
    } else {
        // mutate-existing `targets` need cluster access: no response offline.
        return None;
    };
    Some(match result {
        Ok(true) => (Outcome::pass("mutated"), true),
        Ok(false) => (Outcome::skip("no patches applied"), false),
        Err(e) => (Outcome::error(e), false),
    })
}

fn apply_strategic_merge(
    run: &PolicyRun<'_>,
    overlay: &Value,
    resource: &mut Value,
) -> Result<bool, String> {
    let overlay = if contains_variables(overlay) {
        Cow::Owned(
            substitute(overlay, &run.ctx, Some(resource), false)
                .map_err(|e| format!("variable substitution failed: {e}"))?,
        )
    } else {
        Cow::Borrowed(overlay)
    };
    crate::mutate::strategic_merge_in_place(resource, &overlay).map_err(|e| e.to_string())
}

/// Variables are substituted in the patch text before it is parsed, paths
/// included (`/spec/containers/{{elementIndex}}/env`), as Kyverno does.
fn apply_json6902(run: &PolicyRun<'_>, patch: &str, resource: &mut Value) -> Result<bool, String> {
    let text: Cow<'_, str> = if patch.contains("{{") {
        match substitute(&Value::String(patch.to_string()), &run.ctx, None, false)
            .map_err(|e| format!("variable substitution failed: {e}"))?
        {
            Value::String(s) => Cow::Owned(s),
            other => Cow::Owned(other.to_string()),
        }
    } else {
        Cow::Borrowed(patch)
    };
    let out = crate::mutate::json6902(resource, &text).map_err(|e| e.to_string())?;
    if out.changed {
        *resource = out.patched;
    }
    Ok(out.changed)
}

fn mutate_foreach(
    run: &mut PolicyRun<'_>,
    rule: &Rule,
    loops: &[ForEachMutation],
    compiled: &[MutateLoop],
    nesting: usize,
    resource: &mut Value,
) -> Result<bool, String> {
    let mut changed = false;
    for (l, c) in loops.iter().zip(compiled) {
        let mut elements = evaluate_list(&l.list, &run.ctx)?;
        // Strategic-merge loops run in reverse by default, so that removing or
        // inserting list entries does not shift the ones still to visit.
        let mut reverse = l.patch_strategic_merge.is_some();
        if let Some(order) = &l.order {
            reverse = order.eq_ignore_ascii_case("descending");
        }
        if reverse {
            elements.reverse();
        }
        let checkpoint = run.ctx.checkpoint();
        let len = elements.len();
        for (pos, e) in elements.iter().enumerate() {
            if e.is_null() {
                continue;
            }
            // `elementIndex` is the element's position in the original list.
            let i = if reverse { len - 1 - pos } else { pos };
            run.ctx.restore(checkpoint.clone());
            add_element(&mut run.ctx, e, i, nesting, run.values, &rule.name);
            let step = (|| -> Result<Option<bool>, String> {
                load_entries(&l.context, &mut run.ctx, run.values, &rule.name)
                    .map_err(|e| format!("failed to load context: {e}"))?;
                if !preconditions(c.preconditions.as_ref(), &run.ctx)
                    .map_err(|e| format!("failed to evaluate preconditions: {e}"))?
                {
                    return Ok(None);
                }
                if let Some(nested) = &l.foreach {
                    return mutate_foreach(run, rule, nested, &c.loops, nesting + 1, resource)
                        .map(Some);
                }
                if let Some(overlay) = &l.patch_strategic_merge {
                    return apply_strategic_merge(run, overlay, resource).map(Some);
                }
                if let Some(patch) = &l.patches_json6902 {
                    return apply_json6902(run, patch, resource).map(Some);
                }
                Ok(None)
            })();
            match step {
                Ok(Some(c)) => changed |= c,
                Ok(None) => {}
                Err(e) => {
                    run.ctx.restore(checkpoint);
                    return Err(e);
                }
            }
        }
        run.ctx.restore(checkpoint);
    }
    Ok(changed)
}
