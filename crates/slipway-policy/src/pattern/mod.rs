//! Validate `pattern` evaluation, exactly as Kyverno does it (`shared/specs/kyverno.md`
//! sections 2–4).
//!
//! - [`validate`] walks a pattern over a resource and returns pass, fail (with the path
//!   Kyverno prints, e.g. `/spec/containers/0/image/`), skip (a conditional or global anchor
//!   did not hold) or error (Kyverno's "execution error" cases).
//! - [`leaf_matches`] is the scalar comparison (operators, ranges, durations, quantities,
//!   wildcards), shared with podSecurity and foreach.
//! - [`resolve_references`] replaces `$(path)` references by the pattern values they name.
//! - [`check_pattern_syntax`] rejects anchors Kyverno refuses in validate patterns.
//!
//! Engine behaviours kept on purpose (from Kyverno's code, see `walk`): a list whose
//! elements are all skipped is a skip for everything above it, and a plain mismatch while
//! some conditional/existence/negation anchor key was never found in the resource is
//! reported as an error, not a failure.

mod anchor;
mod leaf;
mod reference;
mod walk;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use anchor::{Anchor, AnchorKind, parse as parse_anchor};
pub use leaf::leaf_matches;
pub use reference::resolve_references;

/// The outcome of validating one resource against one pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternOutcome {
    /// The resource satisfies the pattern.
    Pass,
    /// The resource violates the pattern at `path`.
    Fail {
        /// Where it failed, as Kyverno prints it (`/spec/containers/0/image/`).
        path: String,
        /// Kyverno's reason text.
        message: String,
    },
    /// The pattern does not apply (a conditional or global anchor did not hold).
    Skip {
        /// Where the deciding anchor was evaluated.
        path: String,
        /// Kyverno's reason text (`conditional anchor mismatch: ...`).
        message: String,
    },
    /// Kyverno reports a rule error ("execution error") for this mismatch: a failure
    /// without a path (list length mismatch) or while an anchor key is missing.
    Error {
        /// Kyverno's reason text.
        message: String,
    },
}

impl PatternOutcome {
    /// Whether the outcome is [`PatternOutcome::Pass`].
    pub fn is_pass(&self) -> bool {
        matches!(self, PatternOutcome::Pass)
    }
}

/// A problem with the pattern itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// An anchor that is not allowed in validate patterns.
    #[error("unsupported anchor {key} at {path}")]
    UnsupportedAnchor {
        /// The anchored key.
        key: String,
        /// Field path of the key.
        path: String,
    },
    /// An existence anchor whose value is not a non-empty list.
    #[error("existence anchor {key} at {path} should have a non-empty list value")]
    ExistenceNotList {
        /// The anchored key.
        key: String,
        /// Field path of the key.
        path: String,
    },
    /// A `$(...)` reference that could not be resolved.
    #[error("failed to resolve reference {reference} at path {path}: {reason}")]
    Reference {
        /// The reference text.
        reference: String,
        /// Field path of the value holding it.
        path: String,
        /// Why it failed.
        reason: String,
    },
}

/// Validates `resource` against a validate `pattern` (Kyverno's `MatchPattern`). The
/// pattern must already have its variables and `$(...)` references resolved.
pub fn validate(resource: &Value, pattern: &Value) -> PatternOutcome {
    let mut walker = walk::Walker::default();
    let mut path = String::with_capacity(64);
    path.push('/');
    match walker.element(resource, pattern, &mut path) {
        Ok(()) => PatternOutcome::Pass,
        Err(e) => match e.kind {
            walk::ErrKind::Conditional | walk::ErrKind::Global | walk::ErrKind::ListSkip => {
                PatternOutcome::Skip {
                    path: e.path,
                    message: e.message,
                }
            }
            walk::ErrKind::Negation => PatternOutcome::Fail {
                path: e.path,
                message: e.message,
            },
            walk::ErrKind::Plain => {
                if walker.keys_are_missing() || e.path.is_empty() {
                    PatternOutcome::Error { message: e.message }
                } else {
                    PatternOutcome::Fail {
                        path: e.path,
                        message: e.message,
                    }
                }
            }
        },
    }
}

/// Checks a validate pattern the way Kyverno does when a policy is loaded: `+(key)`
/// anchors are not allowed, and `^(key)` needs a non-empty list. Operators inside string
/// values are not checked (Kyverno does not either; unknown ones compare as strings).
pub fn check_pattern_syntax(pattern: &Value) -> Result<(), PatternError> {
    check_syntax_at(pattern, "")
}

fn check_syntax_at(pattern: &Value, path: &str) -> Result<(), PatternError> {
    match pattern {
        Value::Object(map) => {
            for (key, value) in map {
                let key_path = format!("{path}/{key}");
                if let Some(a) = anchor::parse(key) {
                    if a.kind == AnchorKind::AddIfNotPresent {
                        return Err(PatternError::UnsupportedAnchor {
                            key: key.clone(),
                            path: key_path,
                        });
                    }
                    if a.kind == AnchorKind::Existence
                        && !matches!(value, Value::Array(items) if !items.is_empty())
                    {
                        return Err(PatternError::ExistenceNotList {
                            key: key.clone(),
                            path: key_path,
                        });
                    }
                }
                check_syntax_at(value, &key_path)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_syntax_at(item, &format!("{path}/{i}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
