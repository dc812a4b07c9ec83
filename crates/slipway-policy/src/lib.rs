//! A Kyverno-compatible policy engine.
//!
//! It evaluates `kyverno.io/v1` and `v2beta1` `ClusterPolicy` / `Policy` documents
//! against Kubernetes objects as Kyverno does (see `shared/specs/kyverno.md`):
//! match/exclude, preconditions, validate (pattern, anyPattern, deny, foreach,
//! podSecurity), mutate (patchStrategicMerge, patchesJson6902, foreach),
//! generate (data), JMESPath variables with Kyverno's functions, autogen for
//! pod controllers. It also runs `kyverno-test.yaml` suites (see [`kyverno_test`]).
//!
//! **Invariant:** evaluation never fails as a whole: a rule that cannot be
//! evaluated produces an `error` rule response with the reason. Only loading a
//! policy (a document that does not parse or names unknown operators) is a
//! `Result` error, and that error names the file, the policy, the rule and the
//! field path.
//!
//! Module ownership (kept apart so the pieces can be tested alone):
//! - [`wildcard`], [`quantity`], [`duration`]: the scalar comparisons Kyverno uses.
//! - [`pattern`]: validate `pattern` trees (anchors, operators, leaf values).
//! - [`conditions`]: `deny` / precondition operators.
//! - [`jmes`]: JMESPath with Kyverno's functions and "Unknown key" semantics,
//!   and `{{ }}` variable substitution.
//! - [`mutate`]: strategic-merge overlays with anchors, JSON 6902 patches.
//! - [`pod_security`]: the `podSecurity` validate subrule (Pod Security Standards).
//! - [`model`], [`autogen`], [`matching`], [`engine`]: policies, rule expansion,
//!   match/exclude and the evaluation pipeline.
//! - [`kyverno_test`]: the `kyverno-test.yaml` runner.

pub mod apply;
pub mod autogen;
pub mod conditions;
pub mod duration;
pub mod engine;
pub mod jmes;
pub mod kyverno_test;
pub mod matching;
pub mod model;
pub mod mutate;
pub mod pattern;
pub mod pod_security;
pub mod quantity;
pub mod wildcard;
