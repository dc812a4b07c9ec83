//! The validate-pattern check used by mutate conditions (`(key)` and `<(key)` anchors).
//!
//! Kyverno evaluates a condition anchor's value with its validate `MatchPattern`; any outcome
//! other than "pass" (a mismatch, a nested condition that does not apply, an error) makes
//! the condition fail. The walk itself is [`crate::pattern::validate`].

use serde_json::Value;

/// `true` when `resource` satisfies `pattern` with validate semantics.
pub(crate) fn matches(resource: &Value, pattern: &Value) -> bool {
    crate::pattern::validate(resource, pattern).is_pass()
}
