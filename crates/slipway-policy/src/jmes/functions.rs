//! Kyverno's custom JMESPath functions (`pkg/engine/jmespath/functions.go`)
//! other than arithmetic ([`super::arithmetic`]) and time
//! ([`super::time`]), and the plumbing that registers all of them.
//!
//! Arguments are checked by each function, with Kyverno's error texts
//! (`JMESPath function 'name': ...`), because Kyverno's argument rules (e.g.
//! "string or number, converted to text as a 32-bit float") do not fit the
//! crate's `Signature` type.

use std::collections::BTreeMap;

use base64::Engine as _;
use jmespath::functions::Function;
use jmespath::{Context, ErrorReason, JmespathError, Rcvar, Runtime, SearchResult, Variable};
use sha1::Digest as _;

use super::value::{bool_var, go_float32_string, null, num_var, str_var, to_var};

/// A function result: the value, or Kyverno's error text.
pub(crate) type FnResult = Result<Rcvar, String>;

/// A native Kyverno function with a fixed number of arguments.
pub(crate) struct Native {
    pub(crate) name: &'static str,
    pub(crate) arity: usize,
    pub(crate) handler: fn(&'static str, &[Rcvar]) -> FnResult,
}

impl Function for Native {
    fn evaluate(&self, args: &[Rcvar], ctx: &mut Context<'_>) -> SearchResult {
        let fail = |message: String| {
            JmespathError::new(ctx.expression, ctx.offset, ErrorReason::Parse(message))
        };
        if args.len() != self.arity {
            return Err(fail(format!(
                "JMESPath function '{}': expected {} arguments, got {}",
                self.name,
                self.arity,
                args.len()
            )));
        }
        (self.handler)(self.name, args).map_err(fail)
    }
}

pub(crate) fn add(
    runtime: &mut Runtime,
    name: &'static str,
    arity: usize,
    handler: fn(&'static str, &[Rcvar]) -> FnResult,
) {
    runtime.register_function(
        name,
        Box::new(Native {
            name,
            arity,
            handler,
        }),
    );
}

/// Registers every Kyverno function (replacing the standard `sum`).
pub(crate) fn register(rt: &mut Runtime) {
    add(rt, "compare", 2, |f, a| {
        let (x, y) = (string(f, a, 0)?, string(f, a, 1)?);
        Ok(num_var(match x.cmp(y) {
            std::cmp::Ordering::Less => -1.0,
            std::cmp::Ordering::Equal => 0.0,
            std::cmp::Ordering::Greater => 1.0,
        }))
    });
    add(rt, "equal_fold", 2, |f, a| {
        Ok(bool_var(equal_fold(string(f, a, 0)?, string(f, a, 1)?)))
    });
    add(rt, "replace", 4, |f, a| {
        let (s, old, new) = (string(f, a, 0)?, string(f, a, 1)?, string(f, a, 2)?);
        let n = number(f, a, 3)?;
        Ok(str_var(if n < 0.0 {
            s.replace(old, new)
        } else {
            // Go converts the count with int(n), truncating toward zero.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            s.replacen(old, new, n as usize)
        }))
    });
    add(rt, "replace_all", 3, |f, a| {
        let (s, old, new) = (string(f, a, 0)?, string(f, a, 1)?, string(f, a, 2)?);
        Ok(str_var(s.replace(old, new)))
    });
    add(rt, "to_upper", 1, |f, a| {
        Ok(str_var(string(f, a, 0)?.to_uppercase()))
    });
    add(rt, "to_lower", 1, |f, a| {
        Ok(str_var(string(f, a, 0)?.to_lowercase()))
    });
    add(rt, "trim", 2, |f, a| {
        let cutset = string(f, a, 1)?;
        Ok(str_var(
            string(f, a, 0)?.trim_matches(|c| cutset.contains(c)),
        ))
    });
    add(rt, "trim_prefix", 2, |f, a| {
        let (s, prefix) = (string(f, a, 0)?, string(f, a, 1)?);
        Ok(str_var(s.strip_prefix(prefix).unwrap_or(s)))
    });
    add(rt, "split", 2, |f, a| {
        let (s, sep) = (string(f, a, 0)?, string(f, a, 1)?);
        let parts: Vec<Rcvar> = if sep.is_empty() {
            // Go splits into single characters when the separator is empty.
            s.chars().map(|c| str_var(c.to_string())).collect()
        } else {
            s.split(sep).map(str_var).collect()
        };
        Ok(Rcvar::new(Variable::Array(parts)))
    });
    add(rt, "regex_replace_all", 3, |f, a| regex_replace(f, a, true));
    add(rt, "regex_replace_all_literal", 3, |f, a| {
        regex_replace(f, a, false)
    });
    add(rt, "regex_match", 2, |f, a| {
        let re = compile_regex(f, string(f, a, 0)?)?;
        Ok(bool_var(re.is_match(&text(f, a, 1)?)))
    });
    add(rt, "pattern_match", 2, |f, a| {
        Ok(bool_var(crate::wildcard::matches(
            string(f, a, 0)?,
            &text(f, a, 1)?,
        )))
    });
    add(rt, "label_match", 2, |f, a| {
        let selector = object(f, a, 0)?;
        let labels = object(f, a, 1)?;
        Ok(bool_var(
            selector
                .iter()
                .all(|(k, v)| labels.get(k).is_some_and(|l| l == v)),
        ))
    });
    add(rt, "to_boolean", 1, |f, a| {
        let s = string(f, a, 0)?;
        match s.to_lowercase().as_str() {
            "true" => Ok(bool_var(true)),
            "false" => Ok(bool_var(false)),
            _ => Err(format!(
                "JMESPath function '{f}': lowercase argument must be 'true' or 'false' (provided: '{s}')"
            )),
        }
    });
    add(rt, "round", 2, |f, a| {
        let value = number(f, a, 0)?;
        let digits = number(f, a, 1)?;
        if digits.fract() != 0.0 {
            return Err(format!(
                "JMESPath function '{f}': Non-integer argument(s) passed for round off"
            ));
        }
        if digits < 0.0 {
            return Err(format!(
                "JMESPath function '{f}': 2 argument is out of bounds ({digits})"
            ));
        }
        let shift = 10f64.powf(digits);
        Ok(num_var((value * shift).round() / shift))
    });
    add(rt, "base64_decode", 1, |f, a| {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(string(f, a, 0)?)
            .map_err(|e| format!("JMESPath function '{f}': {e}"))?;
        Ok(str_var(String::from_utf8_lossy(&decoded).into_owned()))
    });
    add(rt, "base64_encode", 1, |f, a| {
        Ok(str_var(
            base64::engine::general_purpose::STANDARD.encode(string(f, a, 0)?),
        ))
    });
    add(rt, "path_canonicalize", 1, |f, a| {
        Ok(str_var(clean_path(string(f, a, 0)?)))
    });
    add(rt, "truncate", 2, |f, a| {
        let s = string(f, a, 0)?;
        let n = number(f, a, 1)?.max(0.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = n as usize;
        Ok(str_var(s.chars().take(n).collect::<String>()))
    });
    add(rt, "semver_compare", 2, |f, a| {
        let version = super::semver::Version::parse(string(f, a, 0)?).unwrap_or_default();
        let range = super::semver::Range::parse(string(f, a, 1)?)
            .map_err(|e| format!("JMESPath function '{f}': {e}"))?;
        Ok(bool_var(range.matches(&version)))
    });
    add(rt, "parse_json", 1, |f, a| {
        let value: serde_json::Value = serde_json::from_str(string(f, a, 0)?)
            .map_err(|e| format!("JMESPath function '{f}': {e}"))?;
        Ok(to_var(&value))
    });
    add(rt, "parse_yaml", 1, |f, a| {
        let value: serde_json::Value = serde_saphyr::from_str(string(f, a, 0)?)
            .map_err(|e| format!("JMESPath function '{f}': {e}"))?;
        Ok(to_var(&value))
    });
    add(rt, "lookup", 2, |f, a| match &*a[0] {
        Variable::Object(map) => match &*a[1] {
            Variable::String(key) => Ok(map.get(key).cloned().unwrap_or_else(null)),
            _ => Err(type_error(f, 2, "String")),
        },
        Variable::Array(items) => {
            let index = match &*a[1] {
                Variable::Number(n) => n.as_f64().unwrap_or(f64::NAN),
                _ => return Err(type_error(f, 2, "Number")),
            };
            if index.fract() != 0.0 || !index.is_finite() {
                return Err(format!(
                    "JMESPath function '{f}': argument #2: expected an integer number but got: {index}"
                ));
            }
            if index < 0.0 {
                return Ok(null());
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(items.get(index as usize).cloned().unwrap_or_else(null))
        }
        _ => Err(type_error(f, 1, "Object or Array")),
    });
    add(rt, "items", 3, |f, a| {
        let key_name = string(f, a, 1)?;
        let value_name = string(f, a, 2)?;
        let pair = |k: Rcvar, v: Rcvar| {
            let mut entry = BTreeMap::new();
            entry.insert(key_name.to_owned(), k);
            entry.insert(value_name.to_owned(), v);
            Rcvar::new(Variable::Object(entry))
        };
        match &*a[0] {
            // BTreeMap iteration is sorted by key, as Kyverno sorts the keys.
            Variable::Object(map) => Ok(Rcvar::new(Variable::Array(
                map.iter()
                    .map(|(k, v)| pair(str_var(k.clone()), v.clone()))
                    .collect(),
            ))),
            Variable::Array(items) => Ok(Rcvar::new(Variable::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        #[allow(clippy::cast_precision_loss)]
                        pair(num_var(i as f64), v.clone())
                    })
                    .collect(),
            ))),
            _ => Err(type_error(f, 1, "Object or Array")),
        }
    });
    add(rt, "object_from_lists", 2, |f, a| {
        let keys = array(f, a, 0)?;
        let values = array(f, a, 1)?;
        let mut out = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            let key = match &**key {
                Variable::String(s) => s.clone(),
                Variable::Number(n) => go_float32_string(n.as_f64().unwrap_or_default()),
                Variable::Bool(b) => b.to_string(),
                _ => return Err(type_error(f, 1, "StringArray")),
            };
            out.insert(key, values.get(i).cloned().unwrap_or_else(null));
        }
        Ok(Rcvar::new(Variable::Object(out)))
    });
    add(rt, "random", 1, |f, a| {
        let pattern = string(f, a, 0)?;
        if pattern.is_empty() {
            return Err("no pattern provided".to_owned());
        }
        super::random::generate(pattern)
            .map(str_var)
            .map_err(|e| format!("JMESPath function '{f}': {e}"))
    });
    add(rt, "x509_decode", 1, |f, a| {
        super::x509::decode(string(f, a, 0)?)
            .map(|v| to_var(&v))
            .map_err(|e| format!("JMESPath function '{f}': {e}"))
    });
    add(rt, "image_normalize", 1, |f, a| {
        super::image::ImageInfo::parse(string(f, a, 0)?)
            .map(|info| str_var(info.to_string()))
            .map_err(|e| format!("JMESPath function '{f}': {e}"))
    });
    add(rt, "is_external_url", 1, |f, a| {
        is_external_url(string(f, a, 0)?)
            .map(bool_var)
            .map_err(|e| format!("JMESPath function '{f}': {e}"))
    });
    add(rt, "sha256", 1, |f, a| {
        Ok(str_var(hex::encode(sha2::Sha256::digest(
            string(f, a, 0)?.as_bytes(),
        ))))
    });
    add(rt, "sha1", 1, |f, a| {
        Ok(str_var(hex::encode(sha1::Sha1::digest(
            string(f, a, 0)?.as_bytes(),
        ))))
    });
    add(rt, "md5", 1, |f, a| {
        Ok(str_var(hex::encode(md5::Md5::digest(
            string(f, a, 0)?.as_bytes(),
        ))))
    });
    super::arithmetic::register(rt);
    super::time::register(rt);
}

/// Kyverno's "wrong argument type" text; `position` counts from 1.
pub(crate) fn type_error(function: &str, position: usize, expected: &str) -> String {
    format!("JMESPath function '{function}': {position} argument is expected of {expected} type")
}

pub(crate) fn string<'a>(function: &str, args: &'a [Rcvar], i: usize) -> Result<&'a str, String> {
    match args.get(i).map(|a| &**a) {
        Some(Variable::String(s)) => Ok(s),
        _ => Err(type_error(function, i + 1, "string")),
    }
}

pub(crate) fn number(function: &str, args: &[Rcvar], i: usize) -> Result<f64, String> {
    match args.get(i).map(|a| &**a) {
        Some(Variable::Number(n)) => n
            .as_f64()
            .ok_or_else(|| type_error(function, i + 1, "float64")),
        _ => Err(type_error(function, i + 1, "float64")),
    }
}

fn object<'a>(
    function: &str,
    args: &'a [Rcvar],
    i: usize,
) -> Result<&'a BTreeMap<String, Rcvar>, String> {
    match args.get(i).map(|a| &**a) {
        Some(Variable::Object(map)) => Ok(map),
        _ => Err(type_error(function, i, "Object")),
    }
}

fn array<'a>(function: &str, args: &'a [Rcvar], i: usize) -> Result<&'a [Rcvar], String> {
    match args.get(i).map(|a| &**a) {
        Some(Variable::Array(items)) => Ok(items),
        _ => Err(type_error(function, i + 1, "Array")),
    }
}

/// A string-or-number argument as text (Kyverno's `ifaceToString`).
fn text(function: &str, args: &[Rcvar], i: usize) -> Result<String, String> {
    match args.get(i).map(|a| &**a) {
        Some(Variable::String(s)) => Ok(s.clone()),
        Some(Variable::Number(n)) => Ok(go_float32_string(n.as_f64().unwrap_or_default())),
        _ => Err(type_error(function, i + 1, "String or Real")),
    }
}

fn equal_fold(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Compiled regexes are kept per thread (patterns come from policies, so
/// there are few of them); the cache is dropped past this many entries.
const REGEX_CACHE_LIMIT: usize = 512;

thread_local! {
    static REGEX_CACHE: std::cell::RefCell<std::collections::HashMap<Box<str>, std::rc::Rc<regex::Regex>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Compiles `pattern` once per thread: compiling a regex costs far more than
/// matching it, and the same policy expression runs for every resource.
/// (Shared, not cloned: a cloned `Regex` starts with an empty match cache.)
fn compile_regex(function: &str, pattern: &str) -> Result<std::rc::Rc<regex::Regex>, String> {
    if let Some(hit) = REGEX_CACHE.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(hit);
    }
    let re = std::rc::Rc::new(
        regex::Regex::new(pattern).map_err(|e| format!("JMESPath function '{function}': {e}"))?,
    );
    REGEX_CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        if cache.len() >= REGEX_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(pattern.into(), re.clone());
    });
    Ok(re)
}

fn regex_replace(function: &'static str, args: &[Rcvar], expand: bool) -> FnResult {
    let re = compile_regex(function, string(function, args, 0)?)?;
    let src = text(function, args, 1)?;
    let repl = text(function, args, 2)?;
    let out = if expand {
        re.replace_all(&src, repl.as_str()).into_owned()
    } else {
        re.replace_all(&src, regex::NoExpand(&repl)).into_owned()
    };
    Ok(str_var(out))
}

/// Go's `filepath.Join(p)` on Linux: `""` stays empty, anything else is
/// `path.Clean`ed (duplicate slashes, `.` and `..` resolved lexically).
pub(crate) fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Whether `url`'s host is outside loopback and private ranges.
///
/// Kyverno resolves host names through DNS and checks every address. Policy
/// evaluation here is offline and must be deterministic, so only literal IP
/// addresses and `localhost` are classified; any other host name is treated
/// as external (the answer Kyverno gives for a public name).
fn is_external_url(url: &str) -> Result<bool, String> {
    let host = url_host(url)?;
    if host.is_empty() {
        return Err(format!("no host in URL {url:?}"));
    }
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = unbracketed.parse::<std::net::IpAddr>() {
        return Ok(!is_internal_ip(&ip));
    }
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return Ok(false);
    }
    Ok(true)
}

fn is_internal_ip(ip: &std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private(),
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4.is_loopback() || v4.is_private();
            }
            // fc00::/7 is Go's IsPrivate range for IPv6.
            v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00
        }
    }
}

/// The host of a URL as Go's `url.Parse(...).Hostname()` returns it (no
/// port, no brackets around IPv6); empty for URLs without an authority.
fn url_host(url: &str) -> Result<String, String> {
    if url.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(format!("parse {url:?}: invalid character in URL"));
    }
    let Some((_, rest)) = url.split_once("//") else {
        return Ok(String::new());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(stripped) = host_port.strip_prefix('[') {
        return Ok(stripped.split(']').next().unwrap_or_default().to_owned());
    }
    Ok(host_port
        .rsplit_once(':')
        .map_or(host_port, |(h, _)| h)
        .to_owned())
}
