//! Unit tests for the JMESPath layer: every Kyverno function, the "Unknown
//! key" semantics, the context and substitution.

use base64::Engine as _;
use serde_json::{Value, json};

use super::*;

fn ctx(data: Value) -> JmesContext {
    JmesContext::new(data)
}

/// Evaluates `expr` against `data` and compares with `expected`.
#[track_caller]
fn check(expr: &str, data: Value, expected: Value) {
    match ctx(data).search(expr) {
        Ok(v) => assert_eq!(v, expected, "expression {expr}"),
        Err(e) => panic!("expression {expr} failed: {e}"),
    }
}

/// Evaluates `expr` on an empty object.
#[track_caller]
fn eval(expr: &str) -> Value {
    match ctx(json!({})).search(expr) {
        Ok(v) => v,
        Err(e) => panic!("expression {expr} failed: {e}"),
    }
}

/// Asserts that `expr` fails and that the message contains `needle`.
#[track_caller]
fn fails(expr: &str, needle: &str) {
    match ctx(json!({})).search(expr) {
        Ok(v) => panic!("expression {expr} should fail, got {v}"),
        Err(e) => assert!(
            e.to_string().contains(needle),
            "expression {expr}: error {e:?} does not contain {needle:?}"
        ),
    }
}

// ---------------------------------------------------------------- unknown key

#[test]
fn missing_key_in_plain_path_is_an_error() {
    let data = json!({"request": {"object": {"metadata": {"labels": {"app": "x"}}}}});
    let err = ctx(data)
        .search("request.object.metadata.labels.team")
        .unwrap_err();
    assert!(err.is_unknown_key());
    assert_eq!(err.to_string(), "Unknown key \"team\" in path");
}

#[test]
fn missing_top_level_key_is_an_error() {
    assert!(ctx(json!({})).search("foo").unwrap_err().is_unknown_key());
}

#[test]
fn missing_key_becomes_null_inside_operators() {
    let data = json!({"a": {"b": 1}, "list": [{"x": 1}, {"y": 2}]});
    check("a.missing || 'default'", data.clone(), json!("default"));
    check("missing || a.b", data.clone(), json!(1));
    check("a.b || missing", data.clone(), json!(1));
    check("!(a.missing)", data.clone(), json!(true));
    // `!` binds tighter than `.`: this is `(!a).missing`, a field of a boolean.
    check("!a.missing", data.clone(), json!(null));
    check("a.missing == null", data.clone(), json!(true));
    check("a.missing != `1`", data.clone(), json!(true));
    check("length(a.missing || `[]`)", data.clone(), json!(0));
    check("to_string(a.missing)", data.clone(), json!("null"));
    check("list[*].x", data.clone(), json!([1]));
    check("list[?x == `1`].x", data.clone(), json!([1]));
    check("list[].y", data.clone(), json!([2]));
    check("missing[*].x", data.clone(), json!(null));
    check("[a.b, a.missing]", data.clone(), json!([1, null]));
    check("{v: a.missing}", data.clone(), json!({"v": null}));
    check("a.missing | 'piped'", data.clone(), json!("piped"));
    check("a | missing", data.clone(), json!(null));
    check("a.missing && 'x'", data, json!(null));
}

#[test]
fn and_propagates_missing_key_on_the_right() {
    // Kyverno's interpreter only swallows the error of the left operand.
    let err = ctx(json!({"a": true})).search("a && b").unwrap_err();
    assert!(err.is_unknown_key());
}

#[test]
fn field_on_non_map_or_null_is_null() {
    let data = json!({"s": "text", "n": null, "arr": [1, 2]});
    check("s.field", data.clone(), json!(null));
    check("n.field", data.clone(), json!(null));
    check("n.field.deeper", data.clone(), json!(null));
    check("arr.field", data.clone(), json!(null));
    check("arr[5]", data.clone(), json!(null));
    check("arr[-1]", data, json!(2));
}

#[test]
fn pipe_feeds_null_to_functions() {
    // In a pipe the missing key becomes null, and the function then sees null.
    let err = ctx(json!({"a": {}})).search("a.b | length(@)").unwrap_err();
    assert!(matches!(err, JmesError::Function { .. }), "{err:?}");
}

#[test]
fn string_slices_and_projections() {
    check("'abcdef'[1:3]", json!({}), json!("bc"));
    check("s[::-1]", json!({"s": "abc"}), json!("cba"));
    check("arr[1:]", json!({"arr": [1, 2, 3]}), json!([2, 3]));
    check("obj.*", json!({"obj": {"a": 1, "b": 2}}), json!([1, 2]));
}

#[test]
fn standard_functions_still_work() {
    let data = json!({"items": [{"n": "b", "v": 2}, {"n": "a", "v": 1}]});
    check("sort_by(items, &n)[0].v", data.clone(), json!(1));
    check("max_by(items, &v).n", data.clone(), json!("b"));
    check("map(&n, items)", data.clone(), json!(["b", "a"]));
    check("length(items)", data.clone(), json!(2));
    check("join(',', ['a','b'])", data.clone(), json!("a,b"));
    check("contains(items[*].n, 'a')", data.clone(), json!(true));
    check("starts_with('abc', 'ab')", data.clone(), json!(true));
    check("keys(items[0])", data.clone(), json!(["n", "v"]));
    check(
        "merge(`{\"a\":1}`, `{\"b\":2}`)",
        data,
        json!({"a": 1, "b": 2}),
    );
}

#[test]
fn unknown_function_and_parse_errors() {
    fails("nope(`1`)", "unknown function");
    fails("a.[", "invalid JMESPath expression");
    fails("a ==", "invalid JMESPath expression");
}

// ------------------------------------------------------------------ strings

#[test]
fn string_functions() {
    assert_eq!(eval("compare('a', 'b')"), json!(-1));
    assert_eq!(eval("compare('b', 'b')"), json!(0));
    assert_eq!(eval("compare('c', 'b')"), json!(1));
    assert_eq!(eval("equal_fold('Go', 'GO')"), json!(true));
    assert_eq!(eval("equal_fold('Go', 'Goo')"), json!(false));
    assert_eq!(eval("replace('aaaa', 'a', 'b', `2`)"), json!("bbaa"));
    assert_eq!(eval("replace('aaaa', 'a', 'b', `-1`)"), json!("bbbb"));
    assert_eq!(eval("replace_all('a-b-c', '-', '+')"), json!("a+b+c"));
    assert_eq!(eval("to_upper('abc')"), json!("ABC"));
    assert_eq!(eval("to_lower('ABC')"), json!("abc"));
    assert_eq!(eval("trim('--a-b--', '-')"), json!("a-b"));
    assert_eq!(eval("trim_prefix('prefix-name', 'prefix-')"), json!("name"));
    assert_eq!(eval("trim_prefix('name', 'x')"), json!("name"));
    assert_eq!(eval("split('a,b,c', ',')"), json!(["a", "b", "c"]));
    assert_eq!(eval("split('abc', '')"), json!(["a", "b", "c"]));
    assert_eq!(eval("truncate('kubernetes', `4`)"), json!("kube"));
    assert_eq!(eval("truncate('kube', `10`)"), json!("kube"));
    assert_eq!(eval("truncate('kube', `-1`)"), json!(""));
    fails("to_upper(`1`)", "1 argument is expected of string type");
    fails("compare('a')", "expected 2 arguments, got 1");
}

#[test]
fn regex_functions() {
    assert_eq!(
        eval("regex_replace_all('([a-z]+)-(\\d+)', 'abc-123', '${2}-$1')"),
        json!("123-abc")
    );
    assert_eq!(
        eval("regex_replace_all_literal('[0-9]', 'a1b2', '$1')"),
        json!("a$1b$1")
    );
    assert_eq!(eval("regex_replace_all('5', `15`, `6`)"), json!("16"));
    assert_eq!(eval("regex_match('^[a-z]+$', 'abc')"), json!(true));
    assert_eq!(eval("regex_match('b', 'abc')"), json!(true));
    assert_eq!(eval("regex_match('^b', 'abc')"), json!(false));
    assert_eq!(eval("regex_match('^1\\.5$', `1.5`)"), json!(true));
    fails("regex_match('(', 'x')", "regex_match");
    fails("regex_match('a', `true`)", "regex_match");
}

#[test]
fn pattern_and_label_match() {
    assert_eq!(eval("pattern_match('nginx:*', 'nginx:1.2')"), json!(true));
    assert_eq!(eval("pattern_match('a?c', 'abc')"), json!(true));
    assert_eq!(eval("pattern_match('a?c', 'abbc')"), json!(false));
    assert_eq!(eval("pattern_match('1*', `123`)"), json!(true));
    let data = json!({"sel": {"app": "x"}, "labels": {"app": "x", "tier": "web"}});
    check("label_match(sel, labels)", data.clone(), json!(true));
    check("label_match(labels, sel)", data, json!(false));
    fails("label_match('a', `{}`)", "Object");
}

#[test]
fn to_boolean_values() {
    assert_eq!(eval("to_boolean('TruE')"), json!(true));
    assert_eq!(eval("to_boolean('false')"), json!(false));
    fails(
        "to_boolean('yes')",
        "lowercase argument must be 'true' or 'false' (provided: 'yes')",
    );
}

#[test]
fn encoding_and_hashes() {
    assert_eq!(eval("base64_encode('hello')"), json!("aGVsbG8="));
    assert_eq!(eval("base64_decode('aGVsbG8=')"), json!("hello"));
    fails("base64_decode('%%%')", "base64_decode");
    assert_eq!(
        eval("sha256('hello')"),
        json!("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
    );
    assert_eq!(
        eval("sha1('hello')"),
        json!("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")
    );
    assert_eq!(
        eval("md5('hello')"),
        json!("5d41402abc4b2a76b9719d911017c592")
    );
}

#[test]
fn path_canonicalize_cleans() {
    assert_eq!(eval("path_canonicalize('/a//b/./c/../d')"), json!("/a/b/d"));
    assert_eq!(eval("path_canonicalize('//etc/')"), json!("/etc"));
    assert_eq!(eval("path_canonicalize('../../x')"), json!("../../x"));
    assert_eq!(eval("path_canonicalize('/../x')"), json!("/x"));
    assert_eq!(eval("path_canonicalize('a/..')"), json!("."));
    assert_eq!(eval("path_canonicalize('')"), json!(""));
}

#[test]
fn semver_compare_ranges() {
    assert_eq!(
        eval("semver_compare('1.5.0', '>=1.2.0 <2.0.0')"),
        json!(true)
    );
    assert_eq!(
        eval("semver_compare('2.0.0', '>=1.2.0 <2.0.0')"),
        json!(false)
    );
    assert_eq!(
        eval("semver_compare('1.0.0', '<1.0.0 || >=3.0.0')"),
        json!(false)
    );
    assert_eq!(
        eval("semver_compare('3.1.0', '<1.0.0 || >=3.0.0')"),
        json!(true)
    );
    assert_eq!(eval("semver_compare('1.2.3', '1.2.3')"), json!(true));
    assert_eq!(eval("semver_compare('1.2.3', '!1.2.3')"), json!(false));
    assert_eq!(eval("semver_compare('1.2.9', '1.2.x')"), json!(true));
    assert_eq!(eval("semver_compare('1.3.0', '1.2.x')"), json!(false));
    assert_eq!(eval("semver_compare('1.0.0-alpha', '<1.0.0')"), json!(true));
    // An unparsable version is 0.0.0, as in Kyverno.
    assert_eq!(eval("semver_compare('v1', '<0.0.1')"), json!(true));
    fails("semver_compare('1.0.0', '>=a')", "semver_compare");
}

#[test]
fn parse_json_and_yaml() {
    assert_eq!(eval("parse_json('{\"a\": [1, 2]}')"), json!({"a": [1, 2]}));
    assert_eq!(eval("parse_json('\"x\"')"), json!("x"));
    fails("parse_json('{')", "parse_json");
    assert_eq!(
        eval("parse_yaml('a: 1\nb:\n  - x\n')"),
        json!({"a": 1, "b": ["x"]})
    );
    fails("parse_yaml('a: [')", "parse_yaml");
}

#[test]
fn lookup_items_object_from_lists() {
    let data = json!({"obj": {"b": 2, "a": 1}, "arr": ["x", "y"]});
    check("lookup(obj, 'a')", data.clone(), json!(1));
    check("lookup(obj, 'zz')", data.clone(), json!(null));
    check("lookup(arr, `1`)", data.clone(), json!("y"));
    check("lookup(arr, `5`)", data.clone(), json!(null));
    check("lookup(arr, `-1`)", data.clone(), json!(null));
    check(
        "items(obj, 'k', 'v')",
        data.clone(),
        json!([{"k": "a", "v": 1}, {"k": "b", "v": 2}]),
    );
    check(
        "items(arr, 'i', 'v')",
        data.clone(),
        json!([{"i": 0, "v": "x"}, {"i": 1, "v": "y"}]),
    );
    check(
        "object_from_lists(['a', 'b'], [`1`])",
        data.clone(),
        json!({"a": 1, "b": null}),
    );
    check(
        "object_from_lists([`1`, `true`], ['x', 'y'])",
        data,
        json!({"1": "x", "true": "y"}),
    );
    fails("lookup(`1`, 'a')", "Object or Array");
    fails("lookup(`{}`, `1`)", "String");
    fails("lookup(`[]`, 'a')", "Number");
    fails("lookup(`[]`, `1.5`)", "integer");
}

#[test]
fn round_values() {
    assert_eq!(eval("round(`2.71828`, `2`)"), json!(2.72));
    assert_eq!(eval("round(`2.5`, `0`)"), json!(3));
    assert_eq!(eval("round(`-2.5`, `0`)"), json!(-3));
    fails("round(`1.5`, `0.5`)", "Non-integer");
    fails("round(`1.5`, `-1`)", "out of bounds");
}

#[test]
fn random_matches_its_pattern() {
    for pattern in ["[a-z]{8}", "[0-9a-f]{4}-[A-Z]+", "(foo|bar)\\d?", "x*"] {
        let v = eval(&format!("random('{pattern}')"));
        let s = v.as_str().unwrap();
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
        assert!(re.is_match(s), "{s:?} does not match {pattern}");
    }
    fails("random('')", "no pattern provided");
    fails("random('(')", "random");
}

#[test]
fn image_normalize_adds_defaults() {
    assert_eq!(
        eval("image_normalize('nginx')"),
        json!("docker.io/nginx:latest")
    );
    assert_eq!(
        eval("image_normalize('library/nginx:1.2')"),
        json!("docker.io/library/nginx:1.2")
    );
    assert_eq!(
        eval("image_normalize('ghcr.io/org/app')"),
        json!("ghcr.io/org/app:latest")
    );
    assert_eq!(
        eval("image_normalize('localhost:5000/app:v1')"),
        json!("localhost:5000/app:v1")
    );
    let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_eq!(
        eval(&format!("image_normalize('nginx:1.2@{digest}')")),
        json!(format!("docker.io/nginx@{digest}"))
    );
    fails("image_normalize('Nginx')", "must be lowercase");
    fails("image_normalize('a b')", "invalid reference format");
}

#[test]
fn image_info_fields() {
    let info = image::ImageInfo::parse("ghcr.io/org/app:v1").unwrap();
    assert_eq!(
        info.to_context_value(),
        json!({
            "registry": "ghcr.io", "path": "org/app", "name": "app", "tag": "v1",
            "digest": "", "reference": "ghcr.io/org/app:v1", "referenceWithTag": "ghcr.io/org/app:v1"
        })
    );
}

#[test]
fn is_external_url_without_dns() {
    assert_eq!(eval("is_external_url('http://10.0.0.1/x')"), json!(false));
    assert_eq!(
        eval("is_external_url('http://192.168.1.1:8080')"),
        json!(false)
    );
    assert_eq!(eval("is_external_url('https://127.0.0.1')"), json!(false));
    assert_eq!(eval("is_external_url('http://[::1]:80/')"), json!(false));
    assert_eq!(
        eval("is_external_url('http://localhost:8080')"),
        json!(false)
    );
    assert_eq!(eval("is_external_url('https://8.8.8.8')"), json!(true));
    assert_eq!(
        eval("is_external_url('https://example.com/a')"),
        json!(true)
    );
    fails("is_external_url('no-host')", "no host");
}

// --------------------------------------------------------------- arithmetic

#[test]
fn arithmetic_on_numbers() {
    assert_eq!(eval("add(`1`, `2`)"), json!(3));
    assert_eq!(eval("add(`1.5`, `2`)"), json!(3.5));
    assert_eq!(eval("subtract(`5`, `7`)"), json!(-2));
    assert_eq!(eval("multiply(`3`, `4`)"), json!(12));
    assert_eq!(eval("divide(`7`, `2`)"), json!(3.5));
    assert_eq!(eval("modulo(`7`, `3`)"), json!(1));
    assert_eq!(eval("modulo(`-7`, `3`)"), json!(-1));
    assert_eq!(eval("sum([`1`, `2`, `3`])"), json!(6));
    fails(
        "divide(`1`, `0`)",
        "JMESPath function 'divide': Zero divisor passed",
    );
    fails("modulo(`1`, `0`)", "Zero divisor passed");
    fails(
        "modulo(`1.5`, `1`)",
        "Non-integer argument(s) passed for modulo",
    );
    fails(
        "add(`true`, `1`)",
        "JMESPath function 'add': invalid operands",
    );
    fails("sum(`[]`)", "at least one element in the array is required");
}

#[test]
fn arithmetic_on_quantities() {
    // '10m' is a quantity (milli), not ten minutes.
    assert_eq!(eval("add('10m', '20m')"), json!("30m"));
    assert_eq!(eval("add('1Gi', '512Mi')"), json!("1536Mi"));
    assert_eq!(eval("subtract('1', '250m')"), json!("750m"));
    assert_eq!(eval("multiply('500m', `2`)"), json!("1"));
    assert_eq!(eval("multiply(`3`, '2Gi')"), json!("6Gi"));
    assert_eq!(eval("divide('12Mi', `2`)"), json!("6Mi"));
    assert_eq!(eval("divide('1Gi', '512Mi')"), json!(2));
    assert_eq!(eval("modulo('7', '3')"), json!("1"));
    assert_eq!(eval("sum(['1Gi', '1Gi'])"), json!("2Gi"));
    fails("add('1Gi', `1`)", "types mismatch");
    fails("divide('1Gi', `0`)", "Zero divisor passed");
    fails("divide('1Gi', '0')", "Zero divisor passed");
    fails("multiply('1Gi', '1Gi')", "types mismatch");
}

#[test]
fn arithmetic_on_durations() {
    assert_eq!(eval("add('1h', '30m0s')"), json!("1h30m0s"));
    assert_eq!(eval("subtract('1h', '90m0s')"), json!("-30m0s"));
    assert_eq!(eval("multiply('1h', `1.5`)"), json!("1h30m0s"));
    assert_eq!(eval("divide('1h', `4`)"), json!("15m0s"));
    assert_eq!(eval("divide('1h', '30s')"), json!(120));
    assert_eq!(eval("modulo('1h', '7m0s')"), json!("4m0s"));
    // '7m' alone is a quantity (7 milli-units), so it cannot mix with '1h'.
    fails("modulo('1h', '7m')", "types mismatch");
    assert_eq!(eval("sum(['1s', '2s', '1m0s'])"), json!("1m3s"));
    fails("add('1h', '1')", "types mismatch");
    fails("divide('1h', '0s')", "Zero divisor passed");
    fails("modulo('1h', '0s')", "Zero divisor passed");
}

// --------------------------------------------------------------------- time

#[test]
fn time_parse_go_layouts() {
    let cases = [
        ("2006-01-02", "2021-03-04", "2021-03-04T00:00:00Z"),
        (
            "Mon Jan _2 15:04:05 2006",
            "Thu Mar  4 10:20:30 2021",
            "2021-03-04T10:20:30Z",
        ),
        (
            "02 Jan 06 15:04 -0700",
            "04 Mar 21 10:20 +0530",
            "2021-03-04T10:20:00+05:30",
        ),
        (
            "2006-01-02T15:04:05Z07:00",
            "2021-03-04T10:20:30Z",
            "2021-03-04T10:20:30Z",
        ),
        (
            "2006-01-02T15:04:05Z07:00",
            "2021-03-04T10:20:30.123-07:00",
            "2021-03-04T10:20:30-07:00",
        ),
        (
            "2006-01-02 15:04:05.000",
            "2021-03-04 10:20:30.250",
            "2021-03-04T10:20:30Z",
        ),
        (
            "January 2, 2006 3:04 PM",
            "March 4, 2021 3:04 PM",
            "2021-03-04T15:04:00Z",
        ),
        (
            "Jan 2 2006 03:04:05pm MST",
            "Mar 4 2021 12:00:00am PST",
            "2021-03-04T00:00:00Z",
        ),
        ("2006.002", "2021.063", "2021-03-04T00:00:00Z"),
        ("1", "1600000000", "2020-09-13T12:26:40Z"),
    ];
    for (layout, value, expected) in cases {
        assert_eq!(
            eval(&format!("time_parse('{layout}', '{value}')")),
            json!(expected),
            "layout {layout}"
        );
    }
    fails(
        "time_parse('2006-01-02', '2021-13-01')",
        "month out of range",
    );
    fails("time_parse('2006-01-02', '2021-02-30')", "day out of range");
    fails("time_parse('2006-01-02', 'yesterday')", "cannot parse");
    fails("time_parse('2006-01-02', '2021-01-01 extra')", "extra text");
}

#[test]
fn time_arithmetic_and_comparison() {
    assert_eq!(
        eval("time_add('2021-01-01T00:00:00Z', '1h30m')"),
        json!("2021-01-01T01:30:00Z")
    );
    assert_eq!(
        eval("time_add('2021-01-01T00:00:00+02:00', '-2h')"),
        json!("2020-12-31T22:00:00+02:00")
    );
    assert_eq!(
        eval("time_utc('2021-01-01T05:00:00+05:00')"),
        json!("2021-01-01T00:00:00Z")
    );
    assert_eq!(
        eval("time_diff('2021-01-01T00:00:00Z', '2021-01-02T01:00:30Z')"),
        json!("25h0m30s")
    );
    assert_eq!(
        eval("time_since('', '2021-01-01T00:00:00Z', '2021-01-01T00:00:01.5Z')"),
        json!("1.5s")
    );
    assert_eq!(
        eval("time_since('2006-01-02', '2021-01-01', '2021-01-03')"),
        json!("48h0m0s")
    );
    assert_eq!(
        eval("time_before('2021-01-01T00:00:00Z', '2021-01-01T00:00:01Z')"),
        json!(true)
    );
    assert_eq!(
        eval("time_after('2021-01-01T00:00:00Z', '2021-01-01T00:00:01Z')"),
        json!(false)
    );
    assert_eq!(
        eval(
            "time_between('2021-01-01T12:00:00Z', '2021-01-01T00:00:00Z', '2021-01-02T00:00:00Z')"
        ),
        json!(true)
    );
    assert_eq!(
        eval(
            "time_between('2021-01-01T00:00:00Z', '2021-01-01T00:00:00Z', '2021-01-02T00:00:00Z')"
        ),
        json!(false)
    );
    assert_eq!(
        eval("time_truncate('2021-03-04T10:20:30Z', '1h')"),
        json!("2021-03-04T10:00:00Z")
    );
    assert_eq!(
        eval("time_truncate('2021-03-04T10:20:30+05:30', '24h')"),
        json!("2021-03-04T05:30:00+05:30")
    );
    assert_eq!(
        eval("time_to_cron('2021-03-04T10:20:30Z')"),
        json!("20 10 4 3 4")
    );
    fails("time_add('2021-01-01', '1h')", "cannot parse");
    fails("time_add('2021-01-01T00:00:00Z', '1x')", "unknown unit");
}

#[test]
fn time_now_is_rfc3339() {
    let now = eval("time_now_utc()");
    let s = now.as_str().unwrap();
    assert!(s.ends_with('Z') && s.len() == 20, "{s}");
    let local = eval("time_now()");
    assert!(time::parse(time::RFC3339, local.as_str().unwrap()).is_ok());
    // Comparing against now works: an old time is before now.
    assert_eq!(
        eval("time_before('2000-01-01T00:00:00Z', time_now_utc())"),
        json!(true)
    );
}

// ------------------------------------------------------------------ context

#[test]
fn context_set_get_checkpoint() {
    let mut c = JmesContext::new(json!({"request": {"object": {"a": 1}, "operation": "CREATE"}}));
    c.set("element", json!({"name": "x"}));
    let ns = json!("ns");
    c.set("request.namespace", &ns);
    assert_eq!(c.get("request.namespace"), Some(json!("ns")));
    assert_eq!(c.get("request.object.a"), Some(json!(1)));
    assert_eq!(c.search("element.name").unwrap(), json!("x"));
    let saved = c.checkpoint();
    c.set("element", json!({"name": "y"}));
    c.set("elementIndex", json!(3));
    assert_eq!(c.search("element.name").unwrap(), json!("y"));
    c.restore(saved);
    assert_eq!(c.search("element.name").unwrap(), json!("x"));
    assert_eq!(c.get("elementIndex"), None);
    c.remove("element");
    assert_eq!(c.get("element"), None);
    // Setting through a non-object replaces it.
    c.set("request.object.a.b", json!(2));
    assert_eq!(c.get("request.object.a"), Some(json!({"b": 2})));
    assert_eq!(search("request.operation", &c).unwrap(), json!("CREATE"));
    assert_eq!(search_value("a[0]", &json!({"a": [5]})).unwrap(), json!(5));
}

// ------------------------------------------------------------- substitution

fn request_ctx() -> JmesContext {
    JmesContext::new(json!({
        "request": {
            "operation": "CREATE",
            "object": {"metadata": {"name": "web", "labels": {"app": "nginx"}}, "spec": {"replicas": 3}},
            "oldObject": {"metadata": {"name": "old"}}
        },
        "nested": "{{ request.object.metadata.name }}",
        "selfRef": "{{ selfRef }}"
    }))
}

#[track_caller]
fn subst(doc: Value) -> Value {
    substitute(&doc, &request_ctx(), None).unwrap()
}

#[test]
fn whole_string_keeps_json_type() {
    assert_eq!(subst(json!("{{ request.object.spec.replicas }}")), json!(3));
    assert_eq!(
        subst(json!("{{request.object.metadata.labels}}")),
        json!({"app": "nginx"})
    );
}

#[test]
fn text_insertion() {
    assert_eq!(
        subst(json!(
            "name={{ request.object.metadata.name }}, n={{ request.object.spec.replicas }}"
        )),
        json!("name=web, n=3")
    );
    assert_eq!(
        subst(json!("labels: {{ request.object.metadata.labels }}")),
        json!("labels: {\"app\":\"nginx\"}")
    );
    assert_eq!(
        subst(json!("x-{{ request.object.metadata.missing || 'none' }}")),
        json!("x-none")
    );
}

#[test]
fn substitution_in_keys_and_nested_documents() {
    assert_eq!(
        subst(
            json!({"{{ request.object.metadata.name }}-key": ["{{ request.operation }}", 1, true]})
        ),
        json!({"web-key": ["CREATE", 1, true]})
    );
}

#[test]
fn repeated_and_shallow_substitution() {
    // A whole-string variable returns its value as it is (Kyverno returns
    // before rescanning); text insertion is rescanned.
    assert_eq!(
        subst(json!("{{ nested }}")),
        json!("{{ request.object.metadata.name }}")
    );
    assert_eq!(subst(json!("a {{ nested }}")), json!("a web"));
    assert_eq!(
        subst(json!("a {{- nested }}")),
        json!("a {{ request.object.metadata.name }}")
    );
    let err = substitute(&json!("x {{ selfRef }}"), &request_ctx(), None).unwrap_err();
    assert!(
        matches!(err, SubstitutionError::TooManyPasses { .. }),
        "{err}"
    );
}

#[test]
fn escaped_variables_stay_literal() {
    assert_eq!(
        subst(json!(
            "\\{{ request.operation }} and {{ request.operation }}"
        )),
        json!("{{ request.operation }} and CREATE")
    );
}

#[test]
fn braces_inside_variables() {
    assert_eq!(
        subst(json!("{{ request.object.metadata.missing || `{}` }}")),
        json!({})
    );
    assert_eq!(
        subst(json!("{{ {n: request.object.metadata.name} }}")),
        json!({"n": "web"})
    );
}

#[test]
fn errors_name_expression_and_path() {
    let doc = json!({"any": [{"key": "{{ request.object.metadata.labels.team }}"}]});
    let err = substitute_with(
        &doc,
        &request_ctx(),
        &SubstituteOptions {
            base_path: "/validate/deny/conditions",
            ..SubstituteOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to resolve request.object.metadata.labels.team at path /validate/deny/conditions/any/0/key: Unknown key \"team\" in path"
    );
    assert_eq!(err.path(), "/validate/deny/conditions/any/0/key");
}

#[test]
fn unresolved_as_empty_for_preconditions() {
    let out = substitute_with(
        &json!({"key": "{{ request.object.metadata.labels.team }}"}),
        &request_ctx(),
        &SubstituteOptions {
            unresolved_as_empty: true,
            ..SubstituteOptions::default()
        },
    )
    .unwrap();
    assert_eq!(out, json!({"key": ""}));
}

#[test]
fn null_results() {
    let c = JmesContext::new(json!({"n": null}));
    assert_eq!(
        substitute(&json!("{{ n }}"), &c, None).unwrap(),
        json!(null)
    );
    assert_eq!(
        substitute(&json!("v={{ n }}"), &c, None).unwrap(),
        json!("v=null")
    );
}

#[test]
fn at_resolves_resource_position() {
    let resource = json!({"spec": {"containers": [{"image": "nginx"}]}});
    let at = |ptr: &str| resource.pointer(ptr).cloned();
    let doc = json!({"spec": {"containers": [{"image": "{{ @ }}"}]}});
    assert_eq!(
        substitute(&doc, &request_ctx(), Some(&at)).unwrap(),
        resource
    );
    let err = substitute(&json!({"x": "{{ @ }}"}), &request_ctx(), None).unwrap_err();
    assert!(matches!(err, SubstitutionError::NoValueAt { .. }));
}

#[test]
fn delete_requests_read_old_object() {
    let mut c = request_ctx();
    c.set("request.operation", json!("DELETE"));
    assert_eq!(
        substitute(&json!("{{ request.object.metadata.name }}"), &c, None).unwrap(),
        json!("old")
    );
    c.set_delete_rewrite(Some(false));
    assert_eq!(
        substitute(&json!("{{ request.object.metadata.name }}"), &c, None).unwrap(),
        json!("web")
    );
}

#[test]
fn lists_variables() {
    let doc = json!({
        "a": "{{ request.object.metadata.name }}-{{- element.x }}",
        "{{ keyVar }}": ["\\{{ escaped }}", 1]
    });
    assert_eq!(
        variables_in(&doc),
        vec!["request.object.metadata.name", "element.x", "keyVar"]
    );
}

// ---------------------------------------------------------------- robustness

#[test]
fn malformed_expressions_never_panic() {
    let data = json!({"a": {"b": [1, "x", null, {"c": true}]}, "s": "text"});
    let c = ctx(data);
    let alphabet: Vec<char> = "ab.[]{}()|&!*?@`'\",:=<>-0123456789 sx_".chars().collect();
    let mut seed: u64 = 0x1234_5678;
    for len in 0..40 {
        for _ in 0..200 {
            let expr: String = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            // Any result or error is fine; reaching here means no panic.
            let _ = c.search(&expr);
            let _ = substitute(&json!(format!("{{{{{expr}}}}}")), &c, None);
        }
    }
    let names = [
        "add",
        "divide",
        "modulo",
        "sum",
        "time_parse",
        "time_add",
        "lookup",
        "items",
        "regex_match",
        "random",
        "semver_compare",
        "image_normalize",
        "x509_decode",
        "truncate",
        "round",
        "split",
        "label_match",
        "time_truncate",
        "object_from_lists",
    ];
    let args = [
        "`1`", "'1h'", "'x'", "`null`", "`[]`", "`{}`", "a", "`-1`", "'2006'", "`1e300`",
    ];
    for name in names {
        for a1 in args {
            for a2 in args {
                let _ = c.search(&format!("{name}({a1}, {a2})"));
                let _ = c.search(&format!("{name}({a1})"));
                let _ = c.search(&format!("{name}({a1}, {a2}, {a1})"));
            }
        }
    }
}

// --------------------------------------------------------------------- x509

#[test]
fn x509_decode_certificate() {
    let pem = include_str!("testdata/x509-rsa.pem");
    let c = JmesContext::new(json!({ "pem": pem }));
    let cert = c.search("x509_decode(pem)").unwrap();
    assert_eq!(cert["Subject"]["CommonName"], json!("test.example"));
    assert_eq!(cert["Subject"]["Organization"], json!(["Slipway"]));
    assert_eq!(cert["Issuer"]["Country"], json!(["US"]));
    assert_eq!(cert["Version"], json!(3));
    assert_eq!(cert["NotBefore"], json!("2026-11-28T10:47:30Z"));
    assert_eq!(cert["NotAfter"], json!("2036-11-25T10:47:30Z"));
    assert_eq!(cert["SignatureAlgorithm"], json!(4));
    assert_eq!(cert["PublicKey"]["E"], json!(65537));
    assert_eq!(
        cert["PublicKey"]["N"],
        json!(
            "144337096211200435415343842853910668058369744522678167095841451666825326472645696656597358824718204699921389684072357524581126980190379582339632773674479110932473545902509972075225764142837947025392367466901939901348800462117951962213393542813369842801441072399647041557486345762499774570448200659703872970937"
        )
    );
    assert_eq!(cert["DNSNames"], json!(["a.example"]));
    assert_eq!(cert["IPAddresses"], json!(["10.0.0.1"]));
    assert!(cert["SerialNumber"].is_number());
    // Works on base64-encoded PEM too, through base64_decode.
    let c =
        JmesContext::new(json!({ "b64": base64::engine::general_purpose::STANDARD.encode(pem) }));
    assert_eq!(
        c.search("x509_decode(base64_decode(b64)).Subject.CommonName")
            .unwrap(),
        json!("test.example")
    );
}

#[test]
fn x509_decode_request_and_errors() {
    let pem = include_str!("testdata/x509-rsa.csr");
    let c = JmesContext::new(json!({ "pem": pem }));
    let csr = c.search("x509_decode(pem)").unwrap();
    assert_eq!(csr["Subject"]["CommonName"], json!("csr.example"));
    assert_eq!(csr["PublicKey"]["E"], json!(65537));
    fails("x509_decode('not a pem')", "failed to decode PEM block");
    fails(
        "x509_decode('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----')",
        "neither contains",
    );
}
