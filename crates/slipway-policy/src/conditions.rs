//! Condition operators of `preconditions` and `validate.deny.conditions`
//! (Kyverno's `pkg/engine/variables/operator`, spec section 6).
//!
//! Keys and values arrive already variable-substituted and keep their JSON types. Numbers
//! are handled as `f64`, as Kyverno sees them after JMESPath. The operators:
//!
//! - `Equals`/`NotEquals`: durations first (a duration string on either side, a number on
//!   the other side meaning seconds; `"0"` is not a duration string here), then for a
//!   string key a quantity comparison when the key is a quantity, else a wildcard match of
//!   the value (as pattern) against the key; numbers compare numerically (numeric strings
//!   accepted), booleans need booleans, maps and lists compare deeply.
//! - `AnyIn`, `AllIn`, `AnyNotIn`, `AllNotIn`: set operators with wildcards on both sides;
//!   the value may be a list, a wildcard string, a numeric range `"1-10"` or a JSON array
//!   string; scalar keys are printed like Go's `fmt.Sprint`.
//! - `In`, `NotIn` (deprecated): like `AllIn` / "some key not in", with exact matching of
//!   list keys.
//! - `GreaterThan`, `GreaterThanOrEquals`, `LessThan`, `LessThanOrEquals`: durations, then
//!   quantities, then floats, then semantic versions.
//! - `DurationGreaterThan`... (deprecated): both sides as durations, numbers as seconds.

use std::cmp::Ordering;
use std::str::FromStr;

use serde_json::Value;

use crate::duration::Duration;
use crate::quantity::Quantity;
use crate::wildcard;

/// A condition operator, parsed case-insensitively like Kyverno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `Equals` (or `Equal`).
    Equals,
    /// `NotEquals` (or `NotEqual`).
    NotEquals,
    /// `In` (deprecated).
    In,
    /// `NotIn` (deprecated).
    NotIn,
    /// `AnyIn`.
    AnyIn,
    /// `AllIn`.
    AllIn,
    /// `AnyNotIn`.
    AnyNotIn,
    /// `AllNotIn`.
    AllNotIn,
    /// `GreaterThan`.
    GreaterThan,
    /// `GreaterThanOrEquals`.
    GreaterThanOrEquals,
    /// `LessThan`.
    LessThan,
    /// `LessThanOrEquals`.
    LessThanOrEquals,
    /// `DurationGreaterThan` (deprecated).
    DurationGreaterThan,
    /// `DurationGreaterThanOrEquals` (deprecated).
    DurationGreaterThanOrEquals,
    /// `DurationLessThan` (deprecated).
    DurationLessThan,
    /// `DurationLessThanOrEquals` (deprecated).
    DurationLessThanOrEquals,
}

/// Errors of condition parsing and evaluation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// An operator Kyverno does not know.
    #[error("unknown condition operator {operator:?}")]
    UnknownOperator {
        /// The operator as written.
        operator: String,
    },
    /// A condition block with the wrong shape.
    #[error("invalid conditions at {path}: {reason}")]
    Shape {
        /// Field path inside the condition block (`any[0].operator`).
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl FromStr for Operator {
    type Err = ConditionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let op = match s.to_ascii_lowercase().as_str() {
            "equal" | "equals" => Operator::Equals,
            "notequal" | "notequals" => Operator::NotEquals,
            "in" => Operator::In,
            "notin" => Operator::NotIn,
            "anyin" => Operator::AnyIn,
            "allin" => Operator::AllIn,
            "anynotin" => Operator::AnyNotIn,
            "allnotin" => Operator::AllNotIn,
            "greaterthan" => Operator::GreaterThan,
            "greaterthanorequals" => Operator::GreaterThanOrEquals,
            "lessthan" => Operator::LessThan,
            "lessthanorequals" => Operator::LessThanOrEquals,
            "durationgreaterthan" => Operator::DurationGreaterThan,
            "durationgreaterthanorequals" => Operator::DurationGreaterThanOrEquals,
            "durationlessthan" => Operator::DurationLessThan,
            "durationlessthanorequals" => Operator::DurationLessThanOrEquals,
            _ => {
                return Err(ConditionError::UnknownOperator {
                    operator: s.to_string(),
                });
            }
        };
        Ok(op)
    }
}

/// One condition: `key operator value`, with an optional message.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The left operand (after variable substitution).
    pub key: Value,
    /// The operator.
    pub operator: Operator,
    /// The right operand (after variable substitution).
    pub value: Value,
    /// The message reported when this condition decides a `deny`.
    pub message: Option<String>,
}

/// A condition block: `{any, all}` or the legacy plain list (meaning `all`).
#[derive(Debug, Clone, PartialEq)]
pub enum ConditionBlock {
    /// `any` and/or `all`; a block that is absent counts as true, an empty `any` as false.
    AnyAll {
        /// `any:` when given.
        any: Option<Vec<Condition>>,
        /// `all:` when given.
        all: Option<Vec<Condition>>,
    },
    /// The deprecated plain list: every condition must hold.
    Legacy(Vec<Condition>),
}

impl ConditionBlock {
    /// Parses a block from policy YAML (`preconditions` or `deny.conditions`); `null` is an
    /// empty block. Errors name the field path inside the block.
    pub fn parse(value: &Value) -> Result<ConditionBlock, ConditionError> {
        match value {
            Value::Null => Ok(ConditionBlock::AnyAll {
                any: None,
                all: None,
            }),
            Value::Array(items) => Ok(ConditionBlock::Legacy(parse_list(items, "")?)),
            Value::Object(map) => {
                for key in map.keys() {
                    if key != "any" && key != "all" {
                        return Err(ConditionError::Shape {
                            path: key.clone(),
                            reason: "expected only `any` and `all`".to_string(),
                        });
                    }
                }
                let any = parse_optional_list(map.get("any"), "any")?;
                let all = parse_optional_list(map.get("all"), "all")?;
                Ok(ConditionBlock::AnyAll { any, all })
            }
            _ => Err(ConditionError::Shape {
                path: String::new(),
                reason: "expected a list or a map with `any`/`all`".to_string(),
            }),
        }
    }
}

fn parse_optional_list(
    value: Option<&Value>,
    name: &str,
) -> Result<Option<Vec<Condition>>, ConditionError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(parse_list(items, name)?)),
        Some(_) => Err(ConditionError::Shape {
            path: name.to_string(),
            reason: "expected a list".to_string(),
        }),
    }
}

fn parse_list(items: &[Value], prefix: &str) -> Result<Vec<Condition>, ConditionError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_condition(item, &format!("{prefix}[{i}]")))
        .collect()
}

fn parse_condition(item: &Value, path: &str) -> Result<Condition, ConditionError> {
    let Value::Object(map) = item else {
        return Err(ConditionError::Shape {
            path: path.to_string(),
            reason: "expected a map".to_string(),
        });
    };
    let operator = match map.get("operator") {
        Some(Value::String(s)) => s
            .parse()
            .map_err(|e: ConditionError| ConditionError::Shape {
                path: format!("{path}.operator"),
                reason: e.to_string(),
            })?,
        _ => {
            return Err(ConditionError::Shape {
                path: format!("{path}.operator"),
                reason: "expected an operator name".to_string(),
            });
        }
    };
    let message = match map.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ConditionError::Shape {
                path: format!("{path}.message"),
                reason: "expected a string".to_string(),
            });
        }
    };
    Ok(Condition {
        key: map.get("key").cloned().unwrap_or(Value::Null),
        operator,
        value: map.get("value").cloned().unwrap_or(Value::Null),
        message,
    })
}

/// The result of a block with the messages of the conditions that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    /// Whether the block holds.
    pub result: bool,
    /// Messages of the deciding conditions (the true `any` one, the false `all` one).
    pub messages: Vec<String>,
}

/// Evaluates a block: `any` needs one true condition, `all` needs every one; both must
/// hold when both are given; short-circuits like Kyverno.
pub fn evaluate_block(block: &ConditionBlock) -> Result<bool, ConditionError> {
    Ok(evaluate_block_detailed(block)?.result)
}

/// [`evaluate_block`] with the messages of the deciding conditions.
pub fn evaluate_block_detailed(block: &ConditionBlock) -> Result<BlockOutcome, ConditionError> {
    let mut messages = Vec::new();
    let (any, all) = match block {
        ConditionBlock::Legacy(list) => (None, Some(list)),
        ConditionBlock::AnyAll { any, all } => (any.as_ref(), all.as_ref()),
    };
    let mut any_result = true;
    if let Some(any) = any {
        any_result = false;
        for c in any {
            if evaluate(&c.key, c.operator, &c.value)? {
                any_result = true;
                messages.extend(c.message.clone());
                break;
            }
        }
    }
    let mut all_result = true;
    if let Some(all) = all {
        for c in all {
            if !evaluate(&c.key, c.operator, &c.value)? {
                all_result = false;
                messages.extend(c.message.clone());
                break;
            }
        }
    }
    Ok(BlockOutcome {
        result: any_result && all_result,
        messages,
    })
}

/// Evaluates one condition on substituted operands.
pub fn evaluate(key: &Value, op: Operator, value: &Value) -> Result<bool, ConditionError> {
    let result = match op {
        Operator::Equals => equals(key, value),
        Operator::NotEquals => !equals(key, value),
        Operator::AnyIn => set_op(key, value, SetOp::Any),
        Operator::AllIn => set_op(key, value, SetOp::All),
        Operator::AnyNotIn => set_op(key, value, SetOp::AnyNot),
        Operator::AllNotIn => set_op(key, value, SetOp::AllNot),
        Operator::In => legacy_in(key, value, false),
        Operator::NotIn => legacy_in(key, value, true),
        Operator::GreaterThan => numeric(key, value, |o| o == Ordering::Greater),
        Operator::GreaterThanOrEquals => numeric(key, value, |o| o != Ordering::Less),
        Operator::LessThan => numeric(key, value, |o| o == Ordering::Less),
        Operator::LessThanOrEquals => numeric(key, value, |o| o != Ordering::Greater),
        Operator::DurationGreaterThan => duration_op(key, value, |o| o == Ordering::Greater),
        Operator::DurationGreaterThanOrEquals => duration_op(key, value, |o| o != Ordering::Less),
        Operator::DurationLessThan => duration_op(key, value, |o| o == Ordering::Less),
        Operator::DurationLessThanOrEquals => duration_op(key, value, |o| o != Ordering::Greater),
    };
    Ok(result)
}

// ---- Equals -----------------------------------------------------------------------------

fn equals(key: &Value, value: &Value) -> bool {
    if let Some((k, v)) = durations(key, value) {
        return k == v;
    }
    match key {
        Value::Bool(k) => matches!(value, Value::Bool(v) if v == k),
        Value::Number(k) => {
            let k = k.as_f64();
            match value {
                Value::Number(v) => v.as_f64() == k,
                Value::String(s) => parse_go_float(s).is_some() && parse_go_float(s) == k,
                _ => false,
            }
        }
        Value::String(k) => {
            if let Some(kq) = Quantity::parse_opt(k) {
                return match value {
                    Value::String(v) => Quantity::parse_opt(v).is_some_and(|vq| vq == kq),
                    _ => false,
                };
            }
            match value {
                Value::String(v) => wildcard::matches(v, k),
                _ => false,
            }
        }
        Value::Object(_) | Value::Array(_) => deep_equal(key, value),
        Value::Null => false,
    }
}

/// Go's `reflect.DeepEqual` on decoded JSON: numbers compare as `f64`.
fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Kyverno's `parseDuration`: at least one side must be a duration string (not `"0"`);
/// the other side may be a duration string or a number of seconds.
fn durations(key: &Value, value: &Value) -> Option<(Duration, Duration)> {
    let as_duration_string = |v: &Value| match v {
        Value::String(s) if s != "0" => Duration::parse_opt(s),
        _ => None,
    };
    let kd = as_duration_string(key);
    let vd = as_duration_string(value);
    if kd.is_none() && vd.is_none() {
        return None;
    }
    let seconds = |v: &Value| match v {
        Value::Number(n) => n.as_f64().map(Duration::from_secs_f64),
        _ => None,
    };
    let k = kd.or_else(|| seconds(key))?;
    let v = vd.or_else(|| seconds(value))?;
    Some((k, v))
}

fn parse_go_float(s: &str) -> Option<f64> {
    if s.contains('_') {
        return None;
    }
    s.parse::<f64>().ok()
}

// ---- set operators ------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Any,
    All,
    AnyNot,
    AllNot,
}

/// Go's `fmt.Sprint` of a decoded JSON value.
fn go_sprint(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) => go_float_v(f),
            None => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(go_sprint).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_sprint(&map[k.as_str()])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `%v` of a float64 (`'g'` with the shortest precision, exponent from 1e21).
fn go_float_v(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        let digits = if digits.len() < 2 {
            format!("0{digits}")
        } else {
            digits.to_string()
        };
        return format!("{mantissa}e{sign}{digits}");
    }
    format!("{f}")
}

/// The value side of a set operator as strings; `None` when Kyverno reports an invalid type.
enum Candidates {
    List(Vec<String>),
    /// A numeric range `"A-B"`: keys must be numbers inside it.
    Range(f64, f64),
}

fn candidates(key_single: Option<&str>, value: &Value) -> Option<(Candidates, bool)> {
    match value {
        Value::Array(items) => Some((
            Candidates::List(items.iter().map(go_sprint).collect()),
            false,
        )),
        Value::String(s) => {
            // A wildcard string matching a scalar key counts as found directly.
            if let Some(k) = key_single
                && wildcard::matches(s, k)
            {
                return Some((Candidates::List(vec![s.clone()]), true));
            }
            if let Some((a, b)) = numeric_range(s) {
                return Some((Candidates::Range(a, b), false));
            }
            match serde_json::from_str::<Vec<String>>(s) {
                Ok(list) => Some((Candidates::List(list), false)),
                Err(_) => {
                    // Kyverno also accepts a plain string as a one-element set for list keys.
                    if key_single.is_none() {
                        Some((Candidates::List(vec![s.clone()]), false))
                    } else {
                        None
                    }
                }
            }
        }
        _ => None,
    }
}

fn numeric_range(s: &str) -> Option<(f64, f64)> {
    let b = s.as_bytes();
    // Split at a '-' that follows a digit: "1-10", "-5-5".
    let split = (1..b.len()).find(|&i| b[i] == b'-' && b[i - 1].is_ascii_digit())?;
    let a: f64 = s[..split].trim().parse().ok()?;
    let c: f64 = s[split + 1..].trim().parse().ok()?;
    Some((a, c))
}

fn matches_any(key: &str, candidates: &Candidates) -> bool {
    match candidates {
        Candidates::List(list) => list
            .iter()
            .any(|v| wildcard::matches(v, key) || wildcard::matches(key, v)),
        Candidates::Range(a, b) => parse_go_float(key).is_some_and(|k| k >= *a && k <= *b),
    }
}

fn set_op(key: &Value, value: &Value, op: SetOp) -> bool {
    let keys: Vec<String> = match key {
        Value::Array(items) => items.iter().map(go_sprint).collect(),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => vec![go_sprint(key)],
        _ => return false,
    };
    let single = if key.is_array() {
        None
    } else {
        keys.first().map(String::as_str)
    };
    let Some((cands, direct)) = candidates(single, value) else {
        return false;
    };
    if direct {
        // The value string itself matched the scalar key.
        return matches!(op, SetOp::Any | SetOp::All);
    }
    let found: Vec<bool> = keys.iter().map(|k| matches_any(k, &cands)).collect();
    match op {
        SetOp::Any => found.iter().any(|&f| f),
        SetOp::All => !found.is_empty() && found.iter().all(|&f| f),
        SetOp::AnyNot => found.iter().any(|&f| !f),
        SetOp::AllNot => found.iter().all(|&f| !f),
    }
}

/// Deprecated `In` / `NotIn`: scalar keys use wildcards, list keys exact membership.
fn legacy_in(key: &Value, value: &Value, negate: bool) -> bool {
    match key {
        Value::Array(items) => {
            let keys: Vec<String> = items.iter().map(go_sprint).collect();
            let values: Vec<String> = match value {
                Value::Array(vs) => vs.iter().map(go_sprint).collect(),
                Value::String(s) => match serde_json::from_str::<Vec<String>>(s) {
                    Ok(list) => list,
                    Err(_) => return false,
                },
                _ => return false,
            };
            let all_in = keys.iter().all(|k| values.contains(k));
            if negate { !all_in } else { all_in }
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            let k = go_sprint(key);
            let found = match value {
                Value::Array(vs) => vs
                    .iter()
                    .map(go_sprint)
                    .any(|v| wildcard::matches(&v, &k) || wildcard::matches(&k, &v)),
                Value::String(s) => {
                    if wildcard::matches(s, &k) {
                        true
                    } else {
                        match serde_json::from_str::<Vec<String>>(s) {
                            Ok(list) => list.contains(&k),
                            Err(_) => return false,
                        }
                    }
                }
                _ => return false,
            };
            if negate { !found } else { found }
        }
        _ => false,
    }
}

// ---- numeric comparisons -------------------------------------------------------------------

fn numeric(key: &Value, value: &Value, accept: impl Fn(Ordering) -> bool) -> bool {
    if let Some((k, v)) = durations(key, value) {
        return accept(k.cmp(&v));
    }
    match key {
        Value::Number(k) => match (k.as_f64(), number_of(value)) {
            (Some(k), Some(v)) => k.partial_cmp(&v).is_some_and(&accept),
            _ => false,
        },
        Value::String(k) => {
            if let Some(kq) = Quantity::parse_opt(k) {
                let vq = match value {
                    Value::String(v) => Quantity::parse_opt(v),
                    Value::Number(n) => n.as_f64().and_then(|f| Quantity::from_f64(f).ok()),
                    _ => None,
                };
                if let Some(vq) = vq {
                    return accept(kq.cmp(&vq));
                }
            }
            if let Some(kf) = parse_go_float(k) {
                return number_of(value)
                    .and_then(|v| kf.partial_cmp(&v))
                    .is_some_and(&accept);
            }
            if let (Some(kv), Value::String(v)) = (Version::parse(k), value)
                && let Some(vv) = Version::parse(v)
            {
                return accept(kv.cmp(&vv));
            }
            false
        }
        _ => false,
    }
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => parse_go_float(s),
        _ => None,
    }
}

fn duration_op(key: &Value, value: &Value, accept: impl Fn(Ordering) -> bool) -> bool {
    let as_duration = |v: &Value| match v {
        Value::Number(n) => n.as_f64().map(Duration::from_secs_f64),
        Value::String(s) => Duration::parse_opt(s),
        _ => None,
    };
    match (as_duration(key), as_duration(value)) {
        (Some(k), Some(v)) => accept(k.cmp(&v)),
        _ => false,
    }
}

/// A semantic version `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]` (blang/semver strict form).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    core: [u64; 3],
    pre: Vec<String>,
}

impl Version {
    fn parse(s: &str) -> Option<Version> {
        let s = s.split_once('+').map_or(s, |(v, _)| v);
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let mut parts = core.split('.');
        let mut nums = [0u64; 3];
        for n in &mut nums {
            let p = parts.next()?;
            if p.is_empty()
                || !p.bytes().all(|b| b.is_ascii_digit())
                || (p.len() > 1 && p.starts_with('0'))
            {
                return None;
            }
            *n = p.parse().ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        let pre = match pre {
            Some("") => return None,
            Some(p) => p.split('.').map(str::to_string).collect(),
            None => Vec::new(),
        };
        Some(Version { core: nums, pre })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let ord = match (a.parse::<u64>(), b.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => a.cmp(b),
                        };
                        if ord != Ordering::Equal {
                            return ord;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(key: Value, op: &str, value: Value, expected: bool) {
        let operator: Operator = op.parse().unwrap();
        assert_eq!(
            evaluate(&key, operator, &value).unwrap(),
            expected,
            "{key} {op} {value}"
        );
    }

    #[test]
    fn operator_names_are_case_insensitive() {
        assert_eq!("equals".parse::<Operator>().unwrap(), Operator::Equals);
        assert_eq!("Equal".parse::<Operator>().unwrap(), Operator::Equals);
        assert_eq!(
            "NOTEQUALS".parse::<Operator>().unwrap(),
            Operator::NotEquals
        );
        assert_eq!("anyin".parse::<Operator>().unwrap(), Operator::AnyIn);
        let err = "Contains".parse::<Operator>().unwrap_err();
        assert_eq!(
            err,
            ConditionError::UnknownOperator {
                operator: "Contains".into()
            }
        );
        assert!(err.to_string().contains("Contains"));
    }

    #[test]
    fn equals_strings_and_wildcards() {
        check(json!("nginx"), "Equals", json!("nginx"), true);
        check(json!("nginx"), "Equals", json!("ngin*"), true);
        check(json!("ngin*"), "Equals", json!("nginx"), false);
        check(json!("CREATE"), "Equals", json!("create"), false);
        check(json!("a"), "NotEquals", json!("b"), true);
        check(json!(""), "Equals", json!(""), true);
        check(json!("x"), "Equals", Value::Null, false);
    }

    #[test]
    fn equals_string_key_never_equals_number_value() {
        check(json!("abc"), "Equals", json!(3), false);
        check(json!("3"), "Equals", json!(3), false);
    }

    #[test]
    fn equals_quantities() {
        check(json!("1Gi"), "Equals", json!("1024Mi"), true);
        check(json!("10"), "Equals", json!("10"), true);
        check(json!("10"), "Equals", json!("1*"), false);
        check(json!("1Gi"), "NotEquals", json!("1G"), true);
    }

    #[test]
    fn equals_durations() {
        check(json!("1h"), "Equals", json!("60m"), true);
        check(json!("1h"), "Equals", json!(3600), true);
        check(json!(90), "Equals", json!("1m30s"), true);
        check(json!("1h"), "Equals", json!("abc"), false);
    }

    #[test]
    fn equals_numbers_and_booleans() {
        check(json!(3), "Equals", json!(3.0), true);
        check(json!(3), "Equals", json!("3"), true);
        check(json!(3.5), "Equals", json!("3.5"), true);
        check(json!(3), "Equals", json!("x"), false);
        check(json!(true), "Equals", json!(true), true);
        check(json!(true), "Equals", json!("true"), false);
        check(json!(false), "NotEquals", json!(true), true);
    }

    #[test]
    fn equals_maps_and_lists_deeply() {
        check(json!({"a": [1, 2]}), "Equals", json!({"a": [1.0, 2]}), true);
        check(json!({"a": 1}), "Equals", json!({"a": 2}), false);
        check(json!([1, 2]), "Equals", json!([2, 1]), false);
        check(json!([]), "Equals", json!([]), true);
        check(json!(["a"]), "Equals", json!("a"), false);
        check(Value::Null, "Equals", Value::Null, false);
    }

    #[test]
    fn any_in() {
        check(json!("a"), "AnyIn", json!(["a", "b"]), true);
        check(json!("c"), "AnyIn", json!(["a", "b"]), false);
        check(json!(["c", "a"]), "AnyIn", json!(["a", "b"]), true);
        check(json!(["c", "d"]), "AnyIn", json!(["a", "b"]), false);
        check(json!("nginx"), "AnyIn", json!(["ngi*"]), true);
        check(json!("ngi*"), "AnyIn", json!(["nginx"]), true);
        check(json!("a"), "AnyIn", json!("a*"), true);
        check(json!("a"), "AnyIn", json!("[\"x\",\"a\"]"), true);
        check(json!(5), "AnyIn", json!("1-10"), true);
        check(json!(11), "AnyIn", json!("1-10"), false);
        check(json!([]), "AnyIn", json!(["a"]), false);
        check(Value::Null, "AnyIn", json!(["a"]), false);
        check(json!("a"), "AnyIn", json!(3), false);
    }

    #[test]
    fn all_in() {
        check(json!(["a", "b"]), "AllIn", json!(["a", "b", "c"]), true);
        check(json!(["a", "d"]), "AllIn", json!(["a", "b", "c"]), false);
        check(json!("a"), "AllIn", json!(["a"]), true);
        check(json!(["x-1", "x-2"]), "AllIn", json!(["x-*"]), true);
    }

    #[test]
    fn not_in_family() {
        check(json!(["a", "d"]), "AnyNotIn", json!(["a", "b"]), true);
        check(json!(["a", "b"]), "AnyNotIn", json!(["a", "b"]), false);
        check(
            json!("ghcr.io"),
            "AnyNotIn",
            json!(["ghcr.io", "quay.io"]),
            false,
        );
        check(
            json!(["docker.io"]),
            "AnyNotIn",
            json!(["ghcr.io", "quay.io"]),
            true,
        );
        check(json!(["c", "d"]), "AllNotIn", json!(["a", "b"]), true);
        check(json!(["a", "d"]), "AllNotIn", json!(["a", "b"]), false);
        check(json!("kube-system"), "AllNotIn", json!(["kube-*"]), false);
        check(json!([]), "AllNotIn", json!(["a"]), true);
    }

    #[test]
    fn deprecated_in_and_not_in() {
        check(json!("a"), "In", json!(["a", "b"]), true);
        check(json!("a"), "In", json!(["a*"]), true);
        check(json!(["a", "b"]), "In", json!(["a", "b", "c"]), true);
        check(json!(["a*"]), "In", json!(["abc"]), false);
        check(json!("c"), "NotIn", json!(["a", "b"]), true);
        check(json!(["a", "x"]), "NotIn", json!(["a", "b"]), true);
        check(json!(["a"]), "NotIn", json!(["a", "b"]), false);
    }

    #[test]
    fn numeric_comparisons() {
        check(json!(5), "GreaterThan", json!(3), true);
        check(json!(3), "GreaterThan", json!(3), false);
        check(json!(3), "GreaterThanOrEquals", json!(3), true);
        check(json!("5"), "GreaterThan", json!(3), true);
        check(json!(5), "LessThan", json!("10"), true);
        check(json!("2.5"), "LessThanOrEquals", json!("2.5"), true);
        check(json!([1]), "GreaterThan", json!(0), false);
        check(json!("abc"), "GreaterThan", json!("abd"), false);
    }

    #[test]
    fn quantity_comparisons() {
        check(json!("2Gi"), "GreaterThan", json!("1Gi"), true);
        check(json!("500m"), "LessThan", json!("1"), true);
        check(json!("1Gi"), "GreaterThanOrEquals", json!("1024Mi"), true);
        check(json!("1500m"), "GreaterThan", json!(1), true);
    }

    #[test]
    fn duration_comparisons() {
        check(json!("2h"), "GreaterThan", json!("90m"), true);
        check(json!("30s"), "LessThan", json!(60), true);
        check(json!(120), "GreaterThan", json!("1m"), true);
        check(json!("1h"), "DurationGreaterThan", json!("30m"), true);
        check(json!("1h"), "DurationLessThanOrEquals", json!(3600), true);
        check(json!(10), "DurationLessThan", json!("1m"), true);
        check(json!("x"), "DurationLessThan", json!("1m"), false);
    }

    #[test]
    fn version_comparisons() {
        check(json!("1.10.0"), "GreaterThan", json!("1.9.3"), true);
        check(json!("1.2.3"), "LessThan", json!("1.2.4"), true);
        check(json!("1.0.0-alpha"), "LessThan", json!("1.0.0"), true);
        check(
            json!("1.0.0-alpha.1"),
            "GreaterThan",
            json!("1.0.0-alpha"),
            true,
        );
        check(json!("v1.2.3"), "GreaterThan", json!("1.0.0"), false);
    }

    fn block(yaml: &str) -> ConditionBlock {
        let value: Value = serde_saphyr::from_str(yaml).unwrap();
        ConditionBlock::parse(&value).unwrap()
    }

    #[test]
    fn blocks_any_all_and_legacy() {
        let t = "{key: a, operator: Equals, value: a}";
        let f = "{key: a, operator: Equals, value: b}";
        assert!(evaluate_block(&block(&format!("any: [{f}, {t}]"))).unwrap());
        assert!(!evaluate_block(&block(&format!("any: [{f}]"))).unwrap());
        assert!(evaluate_block(&block(&format!("all: [{t}, {t}]"))).unwrap());
        assert!(!evaluate_block(&block(&format!("all: [{t}, {f}]"))).unwrap());
        assert!(!evaluate_block(&block(&format!("any: [{t}]\nall: [{f}]"))).unwrap());
        assert!(evaluate_block(&block(&format!("any: [{t}]\nall: [{t}]"))).unwrap());
        assert!(evaluate_block(&block(&format!("[{t}, {t}]"))).unwrap());
        assert!(!evaluate_block(&block(&format!("[{t}, {f}]"))).unwrap());
    }

    #[test]
    fn empty_blocks() {
        assert!(evaluate_block(&block("{}")).unwrap());
        assert!(evaluate_block(&block("[]")).unwrap());
        assert!(evaluate_block(&block("all: []")).unwrap());
        assert!(!evaluate_block(&block("any: []")).unwrap());
        assert!(evaluate_block(&ConditionBlock::parse(&Value::Null).unwrap()).unwrap());
    }

    #[test]
    fn deciding_messages() {
        let b = block(
            "any: [{key: a, operator: Equals, value: a, message: first}]\nall: [{key: 1, operator: Equals, value: 2, message: second}]",
        );
        let out = evaluate_block_detailed(&b).unwrap();
        assert!(!out.result);
        assert_eq!(
            out.messages,
            vec!["first".to_string(), "second".to_string()]
        );
    }

    #[test]
    fn parse_errors_name_the_field() {
        let bad = |yaml: &str| {
            let value: Value = serde_saphyr::from_str(yaml).unwrap();
            ConditionBlock::parse(&value).unwrap_err()
        };
        let err = bad("any: [{key: a, operator: Contains, value: b}]");
        assert!(
            matches!(&err, ConditionError::Shape { path, .. } if path == "any[0].operator"),
            "{err}"
        );
        assert!(err.to_string().contains("Contains"));
        let err = bad("all: [{key: a, value: b}]");
        assert!(matches!(&err, ConditionError::Shape { path, .. } if path == "all[0].operator"));
        let err = bad("[1]");
        assert!(matches!(&err, ConditionError::Shape { path, .. } if path == "[0]"));
        let err = bad("some: []");
        assert!(matches!(&err, ConditionError::Shape { path, .. } if path == "some"));
        let err = bad("any: {}");
        assert!(matches!(&err, ConditionError::Shape { path, .. } if path == "any"));
    }

    #[test]
    fn go_sprint_of_numbers() {
        assert_eq!(go_sprint(&json!(3)), "3");
        assert_eq!(go_sprint(&json!(1.5)), "1.5");
        assert_eq!(go_sprint(&json!(1e21)), "1e+21");
        assert_eq!(go_sprint(&json!({"b": 1, "a": true})), "map[a:true b:1]");
    }

    #[test]
    fn random_operands_never_panic() {
        let samples = [
            json!(null),
            json!(true),
            json!(0),
            json!(-1.5),
            json!("1h"),
            json!("0"),
            json!("1Gi"),
            json!("a*"),
            json!("1-10"),
            json!("[\"a\"]"),
            json!("[1"),
            json!("1.2.3"),
            json!(["a", 1, null]),
            json!({"a": [1]}),
            json!("99999999999999999999999Ei"),
            json!("-"),
        ];
        let ops = [
            "Equals",
            "NotEquals",
            "In",
            "NotIn",
            "AnyIn",
            "AllIn",
            "AnyNotIn",
            "AllNotIn",
            "GreaterThan",
            "GreaterThanOrEquals",
            "LessThan",
            "LessThanOrEquals",
            "DurationGreaterThan",
            "DurationGreaterThanOrEquals",
            "DurationLessThan",
            "DurationLessThanOrEquals",
        ];
        for k in &samples {
            for v in &samples {
                for op in ops {
                    let _ = evaluate(k, op.parse().unwrap(), v);
                }
            }
        }
    }
}
