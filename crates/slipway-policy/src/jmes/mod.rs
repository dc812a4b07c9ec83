//! JMESPath for policies, as Kyverno evaluates it: the standard functions plus
//! Kyverno's own ([`functions`], [`arithmetic`], [`time`]), Kyverno's
//! "Unknown key" semantics for missing data ([`eval`]), the rule context
//! ([`JmesContext`]) and `{{ }}` variable substitution ([`substitute`]).
//!
//! The context is kept as a tree of shared `jmespath` variables, so the big
//! parts (`request.object`) are converted from JSON once and reused by every
//! search; [`JmesContext::set`] rebuilds only the path it changes and a
//! [`Checkpoint`] is a cheap pointer copy (used for `foreach` scopes).
//! Compiled expressions are cached per thread ([`eval::compile`]).

use std::borrow::Borrow;

use jmespath::{Rcvar, Variable};
use serde_json::Value;

pub mod arithmetic;
pub mod eval;
pub mod functions;
pub mod image;
mod random;
mod semver;
pub mod substitute;
pub mod time;
mod value;
mod x509;

#[cfg(test)]
mod tests;

pub use eval::compile;
pub use substitute::{
    SubstituteOptions, SubstitutionError, substitute, substitute_with, variables_in,
};

/// Why a JMESPath expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JmesError {
    /// The expression does not parse.
    #[error("invalid JMESPath expression `{expression}`: {message}")]
    Parse {
        /// The expression as written.
        expression: String,
        /// The parser's explanation.
        message: String,
    },
    /// A plain field path looked up a key that the map does not have. The
    /// text is Kyverno's, which users see in policy reports.
    #[error("Unknown key \"{key}\" in path")]
    UnknownKey {
        /// The expression as written.
        expression: String,
        /// The missing key.
        key: String,
    },
    /// The expression calls a function that does not exist.
    #[error("unknown function: {function}()")]
    UnknownFunction {
        /// The expression as written.
        expression: String,
        /// The function name.
        function: String,
    },
    /// A function rejected its arguments or failed.
    #[error("{message}")]
    Function {
        /// The expression as written.
        expression: String,
        /// The function that failed.
        function: String,
        /// What went wrong, in Kyverno's words where Kyverno has them.
        message: String,
    },
    /// Any other evaluation failure.
    #[error("{message}")]
    Runtime {
        /// The expression as written.
        expression: String,
        /// What went wrong.
        message: String,
    },
}

impl JmesError {
    /// The expression the error is about.
    pub fn expression(&self) -> &str {
        match self {
            JmesError::Parse { expression, .. }
            | JmesError::UnknownKey { expression, .. }
            | JmesError::UnknownFunction { expression, .. }
            | JmesError::Function { expression, .. }
            | JmesError::Runtime { expression, .. } => expression,
        }
    }

    /// True for Kyverno's recoverable "Unknown key" error.
    pub fn is_unknown_key(&self) -> bool {
        matches!(self, JmesError::UnknownKey { .. })
    }
}

/// The data that `{{ }}` expressions and context `jmesPath`s are evaluated
/// against: `request.*`, `images`, `element`, context entries, ...
///
/// Cloning is cheap (a reference count); values inside are shared.
#[derive(Clone, Debug)]
pub struct JmesContext {
    root: Rcvar,
    delete_rewrite: Option<bool>,
}

/// A saved state of a [`JmesContext`], restored when a `foreach` scope ends.
#[derive(Clone, Debug)]
pub struct Checkpoint(Rcvar);

impl Default for JmesContext {
    fn default() -> Self {
        Self::new(Value::Object(serde_json::Map::new()))
    }
}

impl JmesContext {
    /// A context whose root is `root` (normally a JSON object).
    pub fn new(root: Value) -> Self {
        Self {
            root: value::to_var(&root),
            delete_rewrite: None,
        }
    }

    /// Sets the value at a dotted path (`request.object`, `element`,
    /// `myConfigMap.data`), creating intermediate objects; a non-object met on
    /// the way is replaced by an object. Only `value` is converted; the rest of
    /// the tree is shared with earlier states.
    pub fn set(&mut self, dotted_path: &str, value: impl Borrow<Value>) {
        self.set_var(dotted_path, value::to_var(value.borrow()));
    }

    /// [`JmesContext::set`] for a value that is already a JMESPath variable
    /// (e.g. the result of [`JmesContext::search_var`]).
    pub fn set_var(&mut self, dotted_path: &str, value: Rcvar) {
        let keys: Vec<&str> = dotted_path.split('.').filter(|k| !k.is_empty()).collect();
        if keys.is_empty() {
            self.root = value;
            return;
        }
        set_in(&mut self.root, &keys, value);
    }

    /// Removes the value at a dotted path, if present.
    pub fn remove(&mut self, dotted_path: &str) {
        let keys: Vec<&str> = dotted_path.split('.').filter(|k| !k.is_empty()).collect();
        if let Some((last, parents)) = keys.split_last() {
            if self.get_var(dotted_path).is_none() {
                return;
            }
            let mut node = &mut self.root;
            for key in parents {
                let Variable::Object(map) = std::sync::Arc::make_mut(node) else {
                    return;
                };
                let Some(child) = map.get_mut(*key) else {
                    return;
                };
                node = child;
            }
            if let Variable::Object(map) = std::sync::Arc::make_mut(node) {
                map.remove(*last);
            }
        }
    }

    /// The JSON value at a dotted path (converted; prefer [`Self::search`]).
    pub fn get(&self, dotted_path: &str) -> Option<Value> {
        self.get_var(dotted_path).map(|v| value::from_var(&v))
    }

    /// The variable at a dotted path, shared.
    pub fn get_var(&self, dotted_path: &str) -> Option<Rcvar> {
        let mut node = &self.root;
        for key in dotted_path.split('.').filter(|k| !k.is_empty()) {
            match &**node {
                Variable::Object(map) => node = map.get(key)?,
                _ => return None,
            }
        }
        Some(node.clone())
    }

    /// The whole context as JSON.
    pub fn to_json(&self) -> Value {
        value::from_var(&self.root)
    }

    /// The root variable.
    pub fn root(&self) -> &Rcvar {
        &self.root
    }

    /// Saves the current state.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint(self.root.clone())
    }

    /// Returns to a saved state.
    pub fn restore(&mut self, checkpoint: Checkpoint) {
        self.root = checkpoint.0;
    }

    /// Forces (`Some`) or disables the `request.object` → `request.oldObject`
    /// rewrite that substitution applies for DELETE requests; `None` (the
    /// default) decides from `request.operation` as Kyverno does.
    pub fn set_delete_rewrite(&mut self, rewrite: Option<bool>) {
        self.delete_rewrite = rewrite;
    }

    /// Whether substitution rewrites `request.object` to `request.oldObject`.
    pub fn is_delete_request(&self) -> bool {
        self.delete_rewrite.unwrap_or_else(|| {
            self.get_var("request.operation")
                .is_some_and(|op| op.as_string().is_some_and(|s| s == "DELETE"))
        })
    }

    /// Evaluates `expression` against the context.
    ///
    /// # Errors
    /// See [`JmesError`].
    pub fn search(&self, expression: &str) -> Result<Value, JmesError> {
        self.search_var(expression).map(|v| value::from_var(&v))
    }

    /// Evaluates `expression`, returning the shared variable.
    ///
    /// # Errors
    /// See [`JmesError`].
    pub fn search_var(&self, expression: &str) -> Result<Rcvar, JmesError> {
        let ast = eval::compile(expression)?;
        eval::evaluate(expression, &ast, &self.root)
    }
}

fn set_in(node: &mut Rcvar, keys: &[&str], value: Rcvar) {
    let Some((first, rest)) = keys.split_first() else {
        *node = value;
        return;
    };
    let inner = std::sync::Arc::make_mut(node);
    if !matches!(inner, Variable::Object(_)) {
        *inner = Variable::Object(Default::default());
    }
    if let Variable::Object(map) = inner {
        if rest.is_empty() {
            map.insert((*first).to_owned(), value);
        } else {
            let child = map
                .entry((*first).to_owned())
                .or_insert_with(|| Rcvar::new(Variable::Object(Default::default())));
            set_in(child, rest, value);
        }
    }
}

/// Evaluates `expression` against the rule context.
///
/// # Errors
/// See [`JmesError`].
pub fn search(expression: &str, ctx: &JmesContext) -> Result<Value, JmesError> {
    ctx.search(expression)
}

/// Evaluates `expression` against an arbitrary JSON document (for example a
/// context entry's `jmesPath` applied to its `value`).
///
/// # Errors
/// See [`JmesError`].
pub fn search_value(expression: &str, data: &Value) -> Result<Value, JmesError> {
    let ast = eval::compile(expression)?;
    eval::evaluate(expression, &ast, &value::to_var(data)).map(|v| value::from_var(&v))
}

/// Converts JSON into a shared JMESPath variable.
pub(crate) fn to_var(value: &Value) -> Rcvar {
    value::to_var(value)
}

/// Converts a JMESPath variable into JSON (expression references become `null`).
pub(crate) fn to_json(var: &Variable) -> Value {
    value::from_var(var)
}

/// Serialises a value as Kyverno (Go's `encoding/json`) prints it when a
/// non-string result is inserted into text: sorted keys, no spaces.
pub fn to_go_json(value: &Value) -> String {
    value::go_json(value)
}
