//! `{{ }}` variable substitution in policy documents, as Kyverno's
//! `pkg/engine/variables/vars.go` does it.
//!
//! - Every string value *and every object key* is scanned for `{{ expr }}`.
//! - A string that is exactly one variable takes the result with its JSON
//!   type; otherwise results are inserted as text (strings as-is, other values
//!   as Go would print their JSON: sorted keys, no spaces).
//! - After text insertion the new string is scanned again until no variable
//!   is left (results may contain variables), bounded by [`MAX_PASSES`];
//!   `{{- expr }}` substitutes once: its result is not scanned again. A
//!   string that is exactly one variable returns the value as it is, without
//!   a rescan (Kyverno returns at that point).
//! - `\{{ ... }}` is a literal: the backslash is removed, nothing is evaluated.
//! - `{{ @ }}` is the resource value at the position of the field, obtained
//!   from the caller through [`SubstituteOptions::at`].
//! - For DELETE requests `request.object` is rewritten to `request.oldObject`
//!   (see [`JmesContext::set_delete_rewrite`]).
//! - Inside a variable, one level of braces is allowed (`{{ {a: b} }}`,
//!   `` {{ x || `{}` }} ``), as in Kyverno's variable regex.

use serde_json::{Map, Value};

use super::{JmesContext, JmesError, value};

/// How many times a string is rescanned before substitution gives up (a value
/// that expands to itself would otherwise loop forever).
pub const MAX_PASSES: usize = 32;

/// A callback giving the resource value at a JSON pointer (RFC 6901, relative
/// to the substituted document), for `{{ @ }}`.
pub type AtFn<'a> = &'a dyn Fn(&str) -> Option<Value>;

/// Options for [`substitute_with`].
#[derive(Clone, Copy, Default)]
pub struct SubstituteOptions<'a> {
    /// Resolves `{{ @ }}`; without it `{{ @ }}` is an error.
    pub at: Option<AtFn<'a>>,
    /// Kyverno's precondition resolver: an expression that fails becomes the
    /// empty string instead of an error.
    pub unresolved_as_empty: bool,
    /// Prefix for the field paths in error messages (e.g.
    /// `/validate/deny/conditions`), so they name the place in the rule.
    pub base_path: &'a str,
}

/// Why substitution failed; the message names the expression and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubstitutionError {
    /// The expression could not be evaluated.
    #[error("failed to resolve {variable} at path {path}: {cause}")]
    Resolve {
        /// The expression (after the DELETE rewrite).
        variable: String,
        /// The field where it appeared.
        path: String,
        /// The evaluation error.
        cause: JmesError,
    },
    /// `{{ @ }}` was used where no resource value is available.
    #[error("failed to resolve @ at path {path}: no resource value at this position")]
    NoValueAt {
        /// The field where it appeared.
        path: String,
    },
    /// Results kept producing new variables.
    #[error(
        "variable substitution at path {path} did not finish after {MAX_PASSES} passes (a value expands to itself?)"
    )]
    TooManyPasses {
        /// The field being substituted.
        path: String,
    },
}

impl SubstitutionError {
    /// The field path the error is about.
    pub fn path(&self) -> &str {
        match self {
            SubstitutionError::Resolve { path, .. }
            | SubstitutionError::NoValueAt { path }
            | SubstitutionError::TooManyPasses { path } => path,
        }
    }
}

/// Substitutes every variable in `doc`; `at` resolves `{{ @ }}`.
///
/// # Errors
/// The first expression that fails, with its field path.
pub fn substitute(
    doc: &Value,
    ctx: &JmesContext,
    at: Option<AtFn<'_>>,
) -> Result<Value, SubstitutionError> {
    substitute_with(
        doc,
        ctx,
        &SubstituteOptions {
            at,
            ..SubstituteOptions::default()
        },
    )
}

/// Substitutes every variable in `doc` with explicit options.
///
/// # Errors
/// The first expression that fails, with its field path.
pub fn substitute_with(
    doc: &Value,
    ctx: &JmesContext,
    options: &SubstituteOptions<'_>,
) -> Result<Value, SubstitutionError> {
    let mut walker = Walker {
        ctx,
        options,
        delete: ctx.is_delete_request(),
        path: Vec::new(),
    };
    walker.value(doc)
}

/// Lists the expressions of all variables in `doc` (values and keys, in
/// document order, escaped ones excluded, `{{- }}` without its dash), for
/// policy validation.
pub fn variables_in(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect(doc, &mut out);
    out
}

fn collect(doc: &Value, out: &mut Vec<String>) {
    match doc {
        Value::String(s) => out.extend(find_vars(s).into_iter().map(|v| v.expr.to_owned())),
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.extend(find_vars(k).into_iter().map(|v| v.expr.to_owned()));
                collect(v, out);
            }
        }
        _ => {}
    }
}

/// Whether a string contains a variable to substitute.
pub fn has_variables(s: &str) -> bool {
    s.contains("{{") && !find_vars(s).is_empty()
}

/// One `{{ }}` occurrence: byte range in the string and the trimmed
/// expression.
struct Var<'s> {
    start: usize,
    end: usize,
    expr: &'s str,
    shallow: bool,
}

/// Finds variables: `{{` not preceded by `\`, content without braces except
/// balanced single-level `{...}`, closed by `}}`.
fn find_vars(s: &str) -> Vec<Var<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'{'
            && b[i + 1] == b'{'
            && (i == 0 || b[i - 1] != b'\\')
            && let Some(end) = var_end(b, i + 2)
        {
            let inner = s[i + 2..end - 2].trim();
            let (expr, shallow) = match inner.strip_prefix('-') {
                Some(rest) => (rest.trim(), true),
                None => (inner, false),
            };
            out.push(Var {
                start: i,
                end,
                expr,
                shallow,
            });
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// The end (exclusive, after `}}`) of a variable whose content starts at `j`.
fn var_end(b: &[u8], mut j: usize) -> Option<usize> {
    let mut depth = 0;
    while j < b.len() {
        match (b[j], depth) {
            (b'{', 0) => depth = 1,
            (b'{', _) => return None,
            (b'}', 1) => depth = 0,
            (b'}', _) => {
                return (j + 1 < b.len() && b[j + 1] == b'}').then_some(j + 2);
            }
            _ => {}
        }
        j += 1;
    }
    None
}

/// Marks the `{{` of shallow results so later passes do not see them; the
/// mark (a private-use character) is removed at the end.
const SHALLOW_MARK: char = '\u{F8FF}';

struct Walker<'a, 'o> {
    ctx: &'a JmesContext,
    options: &'a SubstituteOptions<'o>,
    delete: bool,
    path: Vec<String>,
}

impl Walker<'_, '_> {
    fn value(&mut self, doc: &Value) -> Result<Value, SubstitutionError> {
        match doc {
            Value::String(s) => {
                if s.contains("{{") {
                    self.string(s)
                } else {
                    Ok(doc.clone())
                }
            }
            // Parts without variables are copied as they are (no field path
            // bookkeeping: errors can only come from variables).
            Value::Array(_) | Value::Object(_) if !has_braces(doc) => Ok(doc.clone()),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    self.path.push(i.to_string());
                    let v = self.value(item);
                    self.path.pop();
                    out.push(v?);
                }
                Ok(Value::Array(out))
            }
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (k, v) in map {
                    self.path.push(k.clone());
                    let key = if k.contains("{{") {
                        match self.string(k) {
                            Ok(Value::String(s)) => Ok(s),
                            Ok(other) => Ok(value::go_json(&other)),
                            Err(e) => Err(e),
                        }
                    } else {
                        Ok(k.clone())
                    };
                    let v = key.and_then(|key| Ok((key, self.value(v)?)));
                    self.path.pop();
                    let (key, v) = v?;
                    out.insert(key, v);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    fn error_path(&self) -> String {
        let mut p = self.options.base_path.trim_end_matches('/').to_owned();
        for seg in &self.path {
            p.push('/');
            p.push_str(seg);
        }
        if p.is_empty() { "/".to_owned() } else { p }
    }

    fn pointer(&self) -> String {
        self.path
            .iter()
            .map(|seg| format!("/{}", seg.replace('~', "~0").replace('/', "~1")))
            .collect()
    }

    fn string(&mut self, s: &str) -> Result<Value, SubstitutionError> {
        let mut current = s.to_owned();
        let mut passes = 0;
        loop {
            let vars = find_vars(&current);
            if vars.is_empty() {
                break;
            }
            passes += 1;
            if passes > MAX_PASSES {
                return Err(SubstitutionError::TooManyPasses {
                    path: self.error_path(),
                });
            }
            let whole = vars.len() == 1 && vars[0].start == 0 && vars[0].end == current.len();
            let mut out = String::with_capacity(current.len());
            let mut last = 0;
            for var in &vars {
                let result = self.resolve(var.expr)?;
                if whole {
                    return Ok(result);
                }
                out.push_str(&current[last..var.start]);
                let text = match &result {
                    Value::String(s) => s.clone(),
                    other => value::go_json(other),
                };
                if var.shallow {
                    out.push_str(&text.replace("{{", &format!("{{{SHALLOW_MARK}{{")));
                } else {
                    out.push_str(&text);
                }
                last = var.end;
            }
            out.push_str(&current[last..]);
            current = out;
        }
        if current.contains(SHALLOW_MARK) {
            current = current.replace(SHALLOW_MARK, "");
        }
        Ok(Value::String(unescape(&current)))
    }

    fn resolve(&self, expr: &str) -> Result<Value, SubstitutionError> {
        if expr == "@" {
            let found = self.options.at.and_then(|at| at(&self.pointer()));
            return match found {
                Some(v) => Ok(v),
                None if self.options.unresolved_as_empty => Ok(Value::String(String::new())),
                None => Err(SubstitutionError::NoValueAt {
                    path: self.error_path(),
                }),
            };
        }
        let rewritten;
        let expr = if self.delete && expr.contains("request.object") {
            rewritten = expr.replace("request.object", "request.oldObject");
            rewritten.as_str()
        } else {
            expr
        };
        match self.ctx.search(expr) {
            Ok(v) => Ok(v),
            Err(_) if self.options.unresolved_as_empty => Ok(Value::String(String::new())),
            Err(cause) => Err(SubstitutionError::Resolve {
                variable: expr.to_owned(),
                path: self.error_path(),
                cause,
            }),
        }
    }
}

/// Whether any string or key below `doc` contains `{{`.
fn has_braces(doc: &Value) -> bool {
    match doc {
        Value::String(s) => s.contains("{{"),
        Value::Array(items) => items.iter().any(has_braces),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains("{{") || has_braces(v)),
        _ => false,
    }
}

/// Removes the backslash of escaped variables (`\{{ x }}` → `{{ x }}`).
fn unescape(s: &str) -> String {
    if !s.contains("\\{{") {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] == b'\\' && b[i + 1] == b'{' && b[i + 2] == b'{' && var_end(b, i + 3).is_some() {
            out.push_str(&s[last..i]);
            last = i + 1;
            i += 3;
            continue;
        }
        i += 1;
    }
    out.push_str(&s[last..]);
    out
}
