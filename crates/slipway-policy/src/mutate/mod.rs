//! Mutation patches as Kyverno applies them: `patchStrategicMerge` overlays (with Kyverno's
//! anchor preprocessing, then a kustomize/kyaml-style strategic merge) and `patchesJson6902`
//! (RFC 6902 with the evanphx/json-patch options Kyverno enables). It also turns a before/after
//! pair back into RFC 6902 operations for admission responses.
//!
//! Variable substitution happens before these functions are called; they see literal values.

mod anchor;
mod condition;
mod diff;
mod json_patch;
mod merge;
mod preprocess;
mod schema;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use diff::diff_to_json_patch;

/// The object after a patch, and whether the patch changed anything.
#[derive(Debug, Clone, PartialEq)]
pub struct MutateOutcome {
    /// The patched object.
    pub patched: Value,
    /// `false` when the patch left the object as it was (the rule is then `skip`).
    pub changed: bool,
}

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MutateError {
    /// The `patchesJson6902` text is neither JSON nor YAML.
    #[error("patchesJson6902 is not valid YAML or JSON: {reason}")]
    PatchSyntax {
        /// The parser's message.
        reason: String,
    },
    /// The patch document is not a list of operation objects.
    #[error("patchesJson6902 must be a list of operations")]
    PatchNotAList,
    /// An operation is malformed (unknown `op`, missing `path`, `value` or `from`).
    #[error("invalid patch operation {index}: {reason}")]
    InvalidOperation {
        /// Index of the operation in the patch.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// An operation could not be applied to the document.
    #[error("patch operation {index} ({op} {path}) failed: {reason}")]
    OperationFailed {
        /// Index of the operation in the patch.
        index: usize,
        /// The operation name.
        op: String,
        /// The operation's `path`.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// The overlay and the object disagree on the kind of a node (map vs list vs scalar).
    #[error("strategic merge failed at {path}: cannot merge a {patch_kind} into a {resource_kind}")]
    KindMismatch {
        /// Slash-separated path of the node.
        path: String,
        /// Node kind in the overlay.
        patch_kind: &'static str,
        /// Node kind in the object.
        resource_kind: &'static str,
    },
    /// The overlay cannot be preprocessed (e.g. its top level is not a map).
    #[error("failed to preprocess patchStrategicMerge at {path}: {reason}")]
    Preprocess {
        /// Slash-separated path in the overlay.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Applies a `patchStrategicMerge` overlay to `resource` as Kyverno does.
///
/// Anchors are handled first against the original object: `(key)` conditions (a failing one
/// inside a list element drops that element, elsewhere it drops the whole overlay), `<(key)`
/// global conditions (a failing one drops the whole overlay), `+(key)` add-if-absent. The
/// remaining overlay is strategic-merged: maps recursively, `null` deletes, lists merged by
/// the Kubernetes patch merge key of known fields, other lists replaced.
pub fn strategic_merge(resource: &Value, overlay: &Value) -> Result<MutateOutcome, MutateError> {
    let mut patched = resource.clone();
    let changed = strategic_merge_in_place(&mut patched, overlay)?;
    Ok(MutateOutcome { patched, changed })
}

/// [`strategic_merge`] on the object in place, without copying it; returns whether it
/// changed. On error the object is unchanged.
pub fn strategic_merge_in_place(
    resource: &mut Value,
    overlay: &Value,
) -> Result<bool, MutateError> {
    let patch = preprocess::preprocess(overlay, resource)?;
    merge::merge_document(resource, &patch)
}

/// Applies a `patchesJson6902` text (a YAML or JSON list of operations).
pub fn json6902(resource: &Value, patch: &str) -> Result<MutateOutcome, MutateError> {
    let ops = parsed_patch(patch)?;
    json_patch_ops(resource, &ops)
}

/// Parsed patch texts are kept per thread: a policy's patch is the same text for every
/// resource (or one of few after variable substitution), and parsing YAML costs more than
/// applying the operations. The cache is dropped past this many entries.
const PATCH_CACHE_LIMIT: usize = 256;

thread_local! {
    static PATCH_CACHE: std::cell::RefCell<std::collections::HashMap<Box<str>, std::rc::Rc<Vec<Value>>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn parsed_patch(text: &str) -> Result<std::rc::Rc<Vec<Value>>, MutateError> {
    if let Some(hit) = PATCH_CACHE.with(|c| c.borrow().get(text).cloned()) {
        return Ok(hit);
    }
    let ops = std::rc::Rc::new(json_patch::parse_patch(text)?);
    PATCH_CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= PATCH_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(text.into(), std::rc::Rc::clone(&ops));
    });
    Ok(ops)
}

/// Applies already-parsed RFC 6902 operations.
///
/// Kyverno's options apply: `add` creates missing parent objects/arrays, `remove` of a missing
/// path is ignored, negative array indices count from the end.
pub fn json_patch_ops(resource: &Value, ops: &[Value]) -> Result<MutateOutcome, MutateError> {
    let patched = json_patch::apply(resource, ops)?;
    let changed = &patched != resource;
    Ok(MutateOutcome { patched, changed })
}

/// Human-readable kind of a JSON node, for error messages.
pub(crate) fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) | Value::Number(_) | Value::String(_) => "scalar",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}
