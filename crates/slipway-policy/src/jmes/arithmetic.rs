//! Kyverno's arithmetic functions (`pkg/engine/jmespath/arithmetic.go`).

use jmespath::Runtime;

pub(crate) fn register(_rt: &mut Runtime) {}
