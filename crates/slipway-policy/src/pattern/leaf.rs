//! Leaf comparisons of Kyverno patterns (`pkg/engine/pattern/pattern.go`).
//!
//! A pattern leaf is a boolean, a number, `null` or a string. Strings carry a small
//! language: `|` (or), `&` (and), operators `>=`, `<=`, `>`, `<`, `!`, ranges `A-B` and
//! `A!-B`, and wildcards. Operands are compared as Go durations first, then as Kubernetes
//! quantities, then as wildcard strings (equality and `!` only).
//!
//! Numbers: Kyverno decodes policies and (in the CLI) resources through Go's
//! `encoding/json`, which turns every number into a `float64`, so numeric leaves use float
//! semantics and a number compared as a string is printed the way Go prints a `float64`
//! with `%E`-style shortest formatting (80 → `8E+01`).

use serde_json::Value;

use crate::duration::Duration;
use crate::quantity::Quantity;
use crate::wildcard;

/// Comparison operator at the start of a string pattern part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Equal,
    NotEqual,
    More,
    MoreEqual,
    Less,
    LessEqual,
}

/// Returns whether a resource value satisfies a pattern leaf, as Kyverno's
/// `pattern.Validate`. A map pattern only requires the value to be a map; a list pattern
/// never matches (lists are walked by the caller).
pub fn leaf_matches(value: &Value, pattern: &Value) -> bool {
    match pattern {
        Value::Bool(p) => matches!(value, Value::Bool(v) if v == p),
        Value::Number(p) => float_pattern(value, p.as_f64().unwrap_or(f64::NAN)),
        Value::Null => nil_pattern(value),
        Value::Object(_) => value.is_object(),
        Value::String(p) => string_patterns(value, p),
        Value::Array(_) => false,
    }
}

fn float_pattern(value: &Value, pattern: f64) -> bool {
    match value {
        Value::Number(n) => n.as_f64() == Some(pattern),
        Value::String(s) => parse_go_float(s) == Some(pattern),
        _ => false,
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms that occur in manifests.
fn parse_go_float(s: &str) -> Option<f64> {
    if s.contains('_') {
        return None;
    }
    s.parse::<f64>().ok()
}

fn nil_pattern(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(_) | Value::Object(_) => false,
    }
}

fn string_patterns(value: &Value, pattern: &str) -> bool {
    if let Value::String(v) = value
        && v == pattern
    {
        return true;
    }
    pattern.split('|').any(|alternative| {
        alternative
            .trim_matches(' ')
            .split('&')
            .all(|part| string_pattern(value, part.trim_matches(' ')))
    })
}

/// `validateStringPattern`: one part without `|`/`&`.
fn string_pattern(value: &Value, pattern: &str) -> bool {
    match operator_of(pattern) {
        ParsedOp::InRange(left, right) => {
            validate_string(value, left.trim(), Op::MoreEqual)
                && validate_string(value, right.trim(), Op::LessEqual)
        }
        ParsedOp::NotInRange(left, right) => {
            validate_string(value, left.trim(), Op::Less)
                || validate_string(value, right.trim(), Op::More)
        }
        ParsedOp::Simple(op, len) => validate_string(value, pattern[len..].trim(), op),
    }
}

enum ParsedOp<'a> {
    Simple(Op, usize),
    InRange(&'a str, &'a str),
    NotInRange(&'a str, &'a str),
}

/// Kyverno's `GetOperatorFromStringPattern`.
fn operator_of(pattern: &str) -> ParsedOp<'_> {
    if pattern.len() < 2 {
        return ParsedOp::Simple(Op::Equal, 0);
    }
    if pattern.starts_with(">=") {
        return ParsedOp::Simple(Op::MoreEqual, 2);
    }
    if pattern.starts_with("<=") {
        return ParsedOp::Simple(Op::LessEqual, 2);
    }
    if pattern.starts_with('>') {
        return ParsedOp::Simple(Op::More, 1);
    }
    if pattern.starts_with('<') {
        return ParsedOp::Simple(Op::Less, 1);
    }
    if pattern.starts_with('!') {
        return ParsedOp::Simple(Op::NotEqual, 1);
    }
    if let Some((left, right)) = split_range(pattern, "!-") {
        return ParsedOp::NotInRange(left, right);
    }
    if let Some((left, right)) = split_range(pattern, "-") {
        return ParsedOp::InRange(left, right);
    }
    ParsedOp::Simple(Op::Equal, 0)
}

/// Matches `^(E)SEP(E)$` with `E = [-|+]?\d+(\.\d+)?[A-Za-z]*` (Kyverno's range regexes)
/// and returns both endpoints.
fn split_range<'a>(pattern: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let left_len = endpoint_len(pattern)?;
    let rest = pattern[left_len..].strip_prefix(sep)?;
    let right_len = endpoint_len(rest)?;
    if right_len != rest.len() {
        return None;
    }
    Some((&pattern[..left_len], rest))
}

/// Length of the longest range endpoint at the start of `s`. The unit letters are greedy
/// and cannot contain `-` or `!`, so the longest match is the only candidate.
fn endpoint_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && matches!(b[i], b'-' | b'|' | b'+') {
        i += 1;
    }
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == digits_start {
        return None;
    }
    if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    while i < b.len() && b[i].is_ascii_alphabetic() {
        i += 1;
    }
    Some(i)
}

/// `validateString`: durations, then quantities, then wildcard strings.
fn validate_string(value: &Value, operand: &str, op: Op) -> bool {
    if let Some(result) = compare_duration(value, operand, op) {
        return result;
    }
    if let Some(result) = compare_quantity(value, operand, op) {
        return result;
    }
    compare_string(value, operand, op)
}

pub(crate) fn apply_op<T: Ord>(value: &T, operand: &T, op: Op) -> bool {
    match op {
        Op::Equal => value == operand,
        Op::NotEqual => value != operand,
        Op::More => value > operand,
        Op::MoreEqual => value >= operand,
        Op::Less => value < operand,
        Op::LessEqual => value <= operand,
    }
}

fn compare_duration(value: &Value, operand: &str, op: Op) -> Option<bool> {
    let pattern = Duration::parse_opt(operand)?;
    let value = match value {
        // A missing value counts as "0" (Kyverno's convertNumberToString).
        Value::Null => Duration::ZERO,
        Value::String(s) => Duration::parse_opt(s)?,
        // Numbers print as "%f" ("8.000000"), which never carries a unit.
        _ => return None,
    };
    Some(apply_op(&value, &pattern, op))
}

fn compare_quantity(value: &Value, operand: &str, op: Op) -> Option<bool> {
    let pattern = Quantity::parse_opt(operand)?;
    let value = match value {
        Value::Null => Quantity::ZERO,
        Value::String(s) => Quantity::parse_opt(s)?,
        Value::Number(n) => Quantity::parse_opt(&format!("{:.6}", n.as_f64()?))?,
        _ => return None,
    };
    Some(apply_op(&value, &pattern, op))
}

fn compare_string(value: &Value, operand: &str, op: Op) -> bool {
    if !matches!(op, Op::Equal | Op::NotEqual) {
        return false;
    }
    let matched = match value {
        Value::String(s) => wildcard::matches(operand, s),
        Value::Bool(b) => wildcard::matches(operand, if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64() {
            Some(f) => wildcard::matches(operand, &go_format_e(f)),
            None => return false,
        },
        Value::Null | Value::Array(_) | Value::Object(_) => return false,
    };
    if op == Op::NotEqual {
        !matched
    } else {
        matched
    }
}

/// Go's `strconv.FormatFloat(f, 'E', -1, 64)`: shortest digits, `E`, signed exponent of at
/// least two digits (`8E+01`, `1.5E+00`, `1E-03`).
pub(crate) fn go_format_e(f: f64) -> String {
    let rust = format!("{f:e}");
    let (mantissa, exp) = rust.split_once('e').unwrap_or((rust.as_str(), "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    if digits.len() < 2 {
        format!("{mantissa}E{sign}0{digits}")
    } else {
        format!("{mantissa}E{sign}{digits}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: Value, pattern: Value, expected: bool) {
        assert_eq!(
            leaf_matches(&value, &pattern),
            expected,
            "value {value} pattern {pattern}"
        );
    }

    #[test]
    fn booleans_need_booleans() {
        check(json!(true), json!(true), true);
        check(json!(false), json!(true), false);
        check(json!("true"), json!(true), false);
        check(Value::Null, json!(false), false);
    }

    #[test]
    fn numbers_compare_as_floats() {
        check(json!(8), json!(8), true);
        check(json!(8.0), json!(8), true);
        check(json!("8"), json!(8), true);
        check(json!("8.0"), json!(8), true);
        check(json!(8.5), json!(8), false);
        check(json!(1.5), json!(1.5), true);
        check(json!("1.5"), json!(1.5), true);
        check(json!("abc"), json!(1), false);
        check(json!(true), json!(1), false);
        check(Value::Null, json!(0), false);
    }

    #[test]
    fn null_means_absent_or_empty() {
        check(Value::Null, Value::Null, true);
        check(json!(0), Value::Null, true);
        check(json!(""), Value::Null, true);
        check(json!(false), Value::Null, true);
        check(json!("x"), Value::Null, false);
        check(json!({}), Value::Null, false);
        check(json!([]), Value::Null, false);
    }

    #[test]
    fn map_and_list_patterns() {
        check(json!({"a": 1}), json!({"b": 2}), true);
        check(json!("x"), json!({}), false);
        check(json!([1]), json!([1]), false);
    }

    #[test]
    fn string_equality_and_wildcards() {
        check(json!("nginx"), json!("nginx"), true);
        check(json!("nginx:latest"), json!("*:latest"), true);
        check(json!("nginx:1.2"), json!("!*:latest"), true);
        check(json!("nginx:latest"), json!("!*:latest"), false);
        check(Value::Null, json!("!*:latest"), false);
        check(json!(""), json!("?*"), false);
        check(Value::Null, json!("?*"), false);
        check(json!("x"), json!("?*"), true);
        check(json!(true), json!("true"), true);
        check(json!(false), json!("t*"), false);
    }

    #[test]
    fn whole_pattern_equality_comes_first() {
        // "a|b" as a literal value matches before the pattern is split.
        check(json!("a|b"), json!("a|b"), true);
        check(json!(">5"), json!(">5"), true);
    }

    #[test]
    fn or_and_combinations() {
        check(json!("Always"), json!("Always|IfNotPresent"), true);
        check(json!("IfNotPresent"), json!("Always | IfNotPresent"), true);
        check(json!("Never"), json!("Always|IfNotPresent"), false);
        check(json!(5), json!(">1 & <10"), true);
        check(json!(15), json!(">1 & <10"), false);
        check(json!("nginx:latest"), json!("*:latest | !*:*"), true);
        check(json!("nginx"), json!("*:latest | !*:*"), true);
        check(json!("nginx:1.0"), json!("*:latest | !*:*"), false);
    }

    #[test]
    fn numeric_operators() {
        check(json!(8), json!("<=10"), true);
        check(json!(10), json!("<=10"), true);
        check(json!(11), json!("<=10"), false);
        check(json!("5"), json!(">4"), true);
        check(json!(1000), json!(">=1000"), true);
        check(json!(999), json!(">=1000"), false);
        check(json!(3), json!("!3"), false);
        check(json!(4), json!("!3"), true);
        check(json!(0), json!(">0"), false);
    }

    #[test]
    fn quantity_operators() {
        check(json!("2Gi"), json!("<=4Gi"), true);
        check(json!("512Mi"), json!("<1Gi"), true);
        check(json!("1Gi"), json!("1024Mi"), true);
        check(json!("1073741824"), json!("1Gi"), true);
        check(json!("500m"), json!("<1"), true);
        check(json!("2"), json!(">1500m"), true);
        check(json!("8"), json!("<4|8"), true);
        check(json!("5"), json!("<4|8"), false);
    }

    #[test]
    fn missing_value_is_zero_for_durations_and_quantities() {
        check(Value::Null, json!("<=1Gi"), true);
        check(Value::Null, json!(">0"), false);
        check(Value::Null, json!("<1h"), true);
        check(Value::Null, json!("0"), true);
        check(Value::Null, json!("!0"), false);
    }

    #[test]
    fn duration_operators() {
        check(json!("90s"), json!("<=2m"), true);
        check(json!("1h30m"), json!(">1h"), true);
        check(json!("30m"), json!(">1h"), false);
        check(json!("0"), json!("<1s"), true);
        // A bare number is not a duration, so the quantity comparison decides.
        check(json!("5"), json!("<1h"), false);
    }

    #[test]
    fn operators_on_plain_strings_are_false() {
        check(json!("abc"), json!(">abc"), false);
        check(json!("abc"), json!("<=abc"), false);
        check(json!("abd"), json!("!abc"), true);
    }

    #[test]
    fn ranges() {
        check(json!(5), json!("1-10"), true);
        check(json!(1), json!("1-10"), true);
        check(json!(10), json!("1-10"), true);
        check(json!(11), json!("1-10"), false);
        check(json!("512Mi"), json!("256Mi-1Gi"), true);
        check(json!("2Gi"), json!("256Mi-1Gi"), false);
        check(json!(5), json!("1!-10"), false);
        check(json!(0), json!("1!-10"), true);
        check(json!(11), json!("1!-10"), true);
        check(json!(-3), json!("-5-0"), true);
        check(json!("1.5"), json!("1.0-2.0"), true);
        // Not a range: plain string equality.
        check(json!("a-b"), json!("a-b"), true);
        check(json!("1-10"), json!("x-y"), false);
    }

    #[test]
    fn numbers_as_strings_use_go_exponent_form() {
        check(json!(80), json!("8E+01"), true);
        check(json!(80), json!("80*"), false);
        check(json!(80), json!("8*"), true);
        check(json!(1.5), json!("1.5E+00"), true);
    }

    #[test]
    fn single_char_patterns_have_no_operator() {
        check(json!("!"), json!("!"), true);
        check(json!(">"), json!(">"), true);
        check(json!("a"), json!("!"), false);
    }

    #[test]
    fn go_exponent_formatting() {
        assert_eq!(go_format_e(80.0), "8E+01");
        assert_eq!(go_format_e(1.5), "1.5E+00");
        assert_eq!(go_format_e(0.001), "1E-03");
        assert_eq!(go_format_e(0.0), "0E+00");
        assert_eq!(go_format_e(123456.0), "1.23456E+05");
        assert_eq!(go_format_e(1e100), "1E+100");
        assert_eq!(go_format_e(-2.0), "-2E+00");
    }
}
