//! PyPI order: PEP 440 (via `pep440_rs`) plus the legacy order of `packaging` < 22.
//!
//! OSV's PyPI `versions[]` still contain non-PEP 440 strings (`0.9-doduo`,
//! `trunk`), so they must be ordered too: like `packaging.version.LegacyVersion`
//! they sort before every valid version and compare among themselves by
//! setuptools' old key.

use std::cmp::Ordering;
use std::str::FromStr;

use pep440_rs::Version;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Legacy(Vec<String>),
    Valid(Version),
}

fn key(v: &str) -> Key {
    match Version::from_str(v.trim()) {
        Ok(ver) => Key::Valid(ver),
        Err(_) => Key::Legacy(legacy_key(v)),
    }
}

/// Split like Python's `re.split(r"(\d+|[a-z]+|\.|-)", s)`: the matches and the
/// text between them, in order.
fn legacy_split(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut gap_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let len = if c.is_ascii_digit() {
            bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count()
        } else if c.is_ascii_lowercase() {
            bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_lowercase())
                .count()
        } else if c == b'.' || c == b'-' {
            1
        } else {
            0
        };
        if len == 0 {
            i += s[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        out.push(&s[gap_start..i]);
        out.push(&s[i..i + len]);
        i += len;
        gap_start = i;
    }
    out.push(&s[gap_start..]);
    out
}

/// `packaging` 21.3 `_legacy_cmpkey` (the epoch -1 is implied by [`Key::Legacy`]).
fn legacy_key(v: &str) -> Vec<String> {
    let lower = v.to_lowercase();
    let mut parts: Vec<String> = Vec::new();
    let raw = legacy_split(&lower);
    let mapped = raw
        .into_iter()
        .map(|p| match p {
            "pre" | "preview" | "rc" => "c",
            "-" => "final-",
            "dev" => "@",
            other => other,
        })
        .filter(|p| !p.is_empty() && *p != ".")
        .map(|p| {
            if p.as_bytes()[0].is_ascii_digit() {
                format!("{p:0>8}")
            } else {
                format!("*{p}")
            }
        })
        .chain(std::iter::once("*final".to_owned()));
    for part in mapped {
        if part.starts_with('*') {
            if part.as_str() < "*final" {
                while parts.last().is_some_and(|p| p == "*final-") {
                    parts.pop();
                }
            }
            while parts.last().is_some_and(|p| p == "00000000") {
                parts.pop();
            }
        }
        parts.push(part);
    }
    parts
}

pub(super) fn compare(a: &str, b: &str) -> Ordering {
    key(a).cmp(&key(b))
}
