//! The JMESPath evaluator with Kyverno's "Unknown key" semantics, the shared
//! function runtime and the compiled-expression cache.
//!
//! Why a small evaluator instead of `jmespath::Expression::search`: the crate
//! always yields `null` for a missing key, while Kyverno's interpreter
//! (`pkg/engine/jmespath/interpreter.go`, formerly kyverno/go-jmespath) raises
//! a `NotFoundError` when a field lookup hits a map without that key. The
//! error travels up through plain sub-expressions (`a.b.c`, `a[0].b`), and is
//! turned into `null` by function arguments, comparisons, `||`, `!`, the
//! left side of `&&`, pipes, projections, filters, flattens and multi-selects.
//! We walk the crate's parsed [`Ast`] ourselves to reproduce that, and call
//! the crate's function implementations (plus Kyverno's, see
//! [`super::functions`]) through its `Runtime`. Functions taking expression
//! references (`sort_by`, `map`, ...) evaluate those with the crate's own
//! interpreter; there a missing key is `null`, which is what Kyverno does
//! inside expression references too.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use jmespath::ast::Ast;
use jmespath::{Context, ErrorReason, Rcvar, Runtime, Variable};

use super::JmesError;
use super::value::{bool_var, null};

/// The runtime holding JMESPath's standard functions and Kyverno's.
pub(crate) static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    let mut runtime = Runtime::new();
    runtime.register_builtin_functions();
    super::functions::register(&mut runtime);
    runtime
});

/// Compiled expressions are kept per thread, so lookups never contend on a
/// lock; the cache is dropped when it grows past this many entries, which
/// bounds memory for workloads generating many distinct expressions.
const CACHE_LIMIT: usize = 8192;

thread_local! {
    static CACHE: RefCell<HashMap<Box<str>, Arc<Ast>>> = RefCell::new(HashMap::new());
}

/// Parses `expression`, reusing a cached syntax tree when there is one.
///
/// # Errors
/// A [`JmesError::Parse`] when the expression is not valid JMESPath.
pub fn compile(expression: &str) -> Result<Arc<Ast>, JmesError> {
    if let Some(hit) = CACHE.with(|c| c.borrow().get(expression).cloned()) {
        return Ok(hit);
    }
    let ast = Arc::new(jmespath::parse(expression).map_err(|e| JmesError::Parse {
        expression: expression.to_owned(),
        message: parse_message(&e),
    })?);
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(expression.into(), Arc::clone(&ast));
    });
    Ok(ast)
}

fn parse_message(e: &jmespath::JmespathError) -> String {
    match &e.reason {
        ErrorReason::Parse(msg) => format!("{msg} (column {})", e.column),
        other => other.to_string(),
    }
}

/// Evaluation failure inside the walker: `NotFound` is the recoverable
/// "Unknown key" error, `Fatal` always propagates.
enum Fail {
    NotFound(String),
    Fatal(JmesError),
}

type Eval = Result<Rcvar, Fail>;

/// Evaluates a compiled expression against `data`.
pub(crate) fn evaluate(expression: &str, ast: &Ast, data: &Rcvar) -> Result<Rcvar, JmesError> {
    let mut walker = Walker {
        ctx: Context::new(expression, &RUNTIME),
        expression,
    };
    walker.eval(ast, data).map_err(|f| match f {
        Fail::NotFound(key) => JmesError::UnknownKey {
            expression: expression.to_owned(),
            key,
        },
        Fail::Fatal(e) => e,
    })
}

struct Walker<'a> {
    ctx: Context<'a>,
    expression: &'a str,
}

impl Walker<'_> {
    fn is_pipe(&self, offset: usize) -> bool {
        self.expression.as_bytes().get(offset) == Some(&b'|')
    }

    /// Evaluates `node`, turning an "Unknown key" error into `null`.
    fn soft(&mut self, node: &Ast, data: &Rcvar) -> Eval {
        match self.eval(node, data) {
            Err(Fail::NotFound(_)) => Ok(null()),
            other => other,
        }
    }

    fn eval(&mut self, node: &Ast, data: &Rcvar) -> Eval {
        match node {
            Ast::Field { name, .. } => match &**data {
                Variable::Object(map) => match map.get(name) {
                    Some(v) => Ok(v.clone()),
                    None => Err(Fail::NotFound(name.clone())),
                },
                _ => Ok(null()),
            },
            // The crate parses `a | b` into a `Subexpr` too; the byte at the
            // node's offset tells the two apart. Kyverno's pipes swallow
            // "Unknown key" on both sides and feed even `null` to the right.
            Ast::Subexpr { lhs, rhs, offset } if self.is_pipe(*offset) => {
                let left = self.soft(lhs, data)?;
                self.soft(rhs, &left)
            }
            Ast::Subexpr { lhs, rhs, .. } => {
                let left = self.eval(lhs, data)?;
                if left.is_null() {
                    return Ok(left);
                }
                self.eval(rhs, &left)
            }
            Ast::Identity { .. } => Ok(data.clone()),
            Ast::Literal { value, .. } => Ok(value.clone()),
            Ast::Index { idx, .. } => Ok(if *idx >= 0 {
                data.get_index(idx.unsigned_abs() as usize)
            } else {
                data.get_negative_index(idx.unsigned_abs() as usize)
            }),
            Ast::Or { lhs, rhs, .. } => {
                let left = self.soft(lhs, data)?;
                if left.is_truthy() {
                    Ok(left)
                } else {
                    self.soft(rhs, data)
                }
            }
            Ast::And { lhs, rhs, .. } => {
                // Kyverno swallows "Unknown key" on the left operand only.
                let left = self.soft(lhs, data)?;
                if left.is_truthy() {
                    self.eval(rhs, data)
                } else {
                    Ok(left)
                }
            }
            Ast::Not { node, .. } => {
                let value = self.soft(node, data)?;
                Ok(bool_var(!value.is_truthy()))
            }
            Ast::Condition {
                predicate, then, ..
            } => {
                let cond = self.soft(predicate, data)?;
                if cond.is_truthy() {
                    self.soft(then, data)
                } else {
                    Ok(null())
                }
            }
            Ast::Comparison {
                comparator,
                lhs,
                rhs,
                ..
            } => {
                let left = self.soft(lhs, data)?;
                let right = self.soft(rhs, data)?;
                Ok(left.compare(comparator, &right).map_or_else(null, bool_var))
            }
            Ast::ObjectValues { node, .. } => {
                let subject = self.soft(node, data)?;
                Ok(match &*subject {
                    Variable::Object(map) => {
                        Rcvar::new(Variable::Array(map.values().cloned().collect()))
                    }
                    _ => null(),
                })
            }
            Ast::Projection { lhs, rhs, .. } => {
                let left = self.soft(lhs, data)?;
                match &*left {
                    Variable::Array(items) => {
                        let mut collected = Vec::with_capacity(items.len());
                        for item in items {
                            let value = self.soft(rhs, item)?;
                            if !value.is_null() {
                                collected.push(value);
                            }
                        }
                        Ok(Rcvar::new(Variable::Array(collected)))
                    }
                    // String slicing (`'abc'[0:2]`) yields the sliced string.
                    Variable::String(_) if ends_in_slice(lhs) => Ok(left.clone()),
                    _ => Ok(null()),
                }
            }
            Ast::Flatten { node, .. } => {
                let value = self.soft(node, data)?;
                match &*value {
                    Variable::Array(items) => {
                        let mut collected = Vec::with_capacity(items.len());
                        for item in items {
                            match &**item {
                                Variable::Array(inner) => collected.extend(inner.iter().cloned()),
                                _ => collected.push(item.clone()),
                            }
                        }
                        Ok(Rcvar::new(Variable::Array(collected)))
                    }
                    _ => Ok(null()),
                }
            }
            Ast::MultiList { elements, .. } => {
                if data.is_null() {
                    return Ok(null());
                }
                let mut collected = Vec::with_capacity(elements.len());
                for element in elements {
                    collected.push(self.soft(element, data)?);
                }
                Ok(Rcvar::new(Variable::Array(collected)))
            }
            Ast::MultiHash { elements, .. } => {
                if data.is_null() {
                    return Ok(null());
                }
                let mut collected = std::collections::BTreeMap::new();
                for kvp in elements {
                    let value = self.soft(&kvp.value, data)?;
                    collected.insert(kvp.key.clone(), value);
                }
                Ok(Rcvar::new(Variable::Object(collected)))
            }
            Ast::Function {
                name, args, offset, ..
            } => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(self.soft(arg, data)?);
                }
                self.ctx.offset = *offset;
                let Some(function) = self.ctx.runtime.get_function(name) else {
                    return Err(Fail::Fatal(JmesError::UnknownFunction {
                        expression: self.expression.to_owned(),
                        function: name.clone(),
                    }));
                };
                function.evaluate(&values, &mut self.ctx).map_err(|e| {
                    Fail::Fatal(JmesError::Function {
                        expression: self.expression.to_owned(),
                        function: name.clone(),
                        message: function_message(&e),
                    })
                })
            }
            Ast::Expref { ast, .. } => Ok(Rcvar::new(Variable::Expref((**ast).clone()))),
            Ast::Slice {
                start, stop, step, ..
            } => {
                if *step == 0 {
                    return Err(Fail::Fatal(JmesError::Runtime {
                        expression: self.expression.to_owned(),
                        message: "slice step cannot be 0".to_owned(),
                    }));
                }
                match &**data {
                    Variable::Array(_) => Ok(data
                        .slice(*start, *stop, *step)
                        .map_or_else(null, |a| Rcvar::new(Variable::Array(a)))),
                    Variable::String(s) => {
                        let chars: Vec<Rcvar> = s
                            .chars()
                            .map(|c| Rcvar::new(Variable::String(c.to_string())))
                            .collect();
                        let sliced = Variable::Array(chars)
                            .slice(*start, *stop, *step)
                            .unwrap_or_default();
                        let text: String = sliced
                            .iter()
                            .filter_map(|c| c.as_string().map(String::as_str))
                            .collect();
                        Ok(Rcvar::new(Variable::String(text)))
                    }
                    _ => Ok(null()),
                }
            }
        }
    }
}

fn ends_in_slice(node: &Ast) -> bool {
    match node {
        Ast::Slice { .. } => true,
        Ast::Subexpr { rhs, .. } => ends_in_slice(rhs),
        _ => false,
    }
}

/// The message of an error raised by a function: Kyverno's functions report
/// through `ErrorReason::Parse` carrying their own text; the crate's argument
/// checks use runtime reasons.
fn function_message(e: &jmespath::JmespathError) -> String {
    match &e.reason {
        ErrorReason::Parse(msg) => msg.clone(),
        ErrorReason::Runtime(r) => r.to_string(),
    }
}
