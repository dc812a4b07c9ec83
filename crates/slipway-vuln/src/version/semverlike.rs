//! SemVer-like orders: npm, crates.io, Go, Hex (SemVer §11), NuGet, Pub, Hackage.
//!
//! The parser is deliberately lenient, like osv-scanner's: a leading `v` is
//! dropped, numeric components may be arbitrarily large and there may be more
//! than three of them (extras are folded into the pre-release part), and
//! anything that is not a digit or `.` starts the pre-release/build string.
//! Precedence then follows SemVer §11; build metadata (`+...`) is ignored.

use std::cmp::Ordering;

use super::numeric::{cmp_digits, cmp_padded, is_digits};
use super::{Ecosystem, VersionError};

struct Parsed<'a> {
    components: Vec<&'a str>,
    /// Pre-release and build string, starting with its separator (`-`, `+`, ...).
    build: String,
}

fn parse(v: &str, max_components: Option<usize>) -> Parsed<'_> {
    // node-semver loose mode: `=`, `v` and spaces may precede the version.
    let s = v.trim();
    let s = s.strip_prefix('=').unwrap_or(s).trim_start();
    let s = s.strip_prefix('v').unwrap_or(s).trim_start();
    let mut components = Vec::new();
    let mut build = "";
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            i += 1;
            continue;
        }
        if start < i {
            components.push(&s[start..i]);
        }
        if c == b'.' {
            i += 1;
            start = i;
            continue;
        }
        build = &s[i..];
        start = bytes.len();
        break;
    }
    if start < bytes.len() {
        components.push(&s[start..]);
    }
    let mut build = build.to_owned();
    if let Some(max) = max_components
        && components.len() > max
    {
        let extra: String = components[max..].iter().map(|c| format!(".{c}")).collect();
        components.truncate(max);
        build = format!("{build}{extra}");
    }
    Parsed { components, build }
}

/// SemVer §11 pre-release precedence on the part after the components.
fn compare_build(a: &str, b: &str) -> Ordering {
    let a = a.split('+').next().unwrap_or("");
    let b = b.split('+').next().unwrap_or("");
    let a = a.strip_prefix('-').unwrap_or(a);
    let b = b.strip_prefix('-').unwrap_or(b);
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    let ai: Vec<&str> = a.split('.').collect();
    let bi: Vec<&str> = b.split('.').collect();
    for (x, y) in ai.iter().zip(bi.iter()) {
        let o = match (is_digits(x), is_digits(y)) {
            (true, true) => cmp_digits(x, y),
            (false, false) => x.cmp(y),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ai.len().cmp(&bi.len())
}

/// npm, crates.io, Go and Hex.
pub(super) fn compare_semver(a: &str, b: &str) -> Ordering {
    let (pa, pb) = (parse(a, Some(3)), parse(b, Some(3)));
    cmp_padded(&pa.components, &pb.components).then_with(|| compare_build(&pa.build, &pb.build))
}

/// NuGet: four numeric components, case-insensitive pre-release labels.
pub(super) fn compare_nuget(a: &str, b: &str) -> Ordering {
    let (pa, pb) = (parse(a, Some(4)), parse(b, Some(4)));
    cmp_padded(&pa.components, &pb.components).then_with(|| {
        compare_build(
            &pa.build.to_ascii_lowercase(),
            &pb.build.to_ascii_lowercase(),
        )
    })
}

/// Pub: SemVer, then build metadata as a final tie-breaker.
pub(super) fn compare_pub(a: &str, b: &str) -> Ordering {
    let (pa, pb) = (parse(a, Some(3)), parse(b, Some(3)));
    cmp_padded(&pa.components, &pb.components)
        .then_with(|| compare_build(&pa.build, &pb.build))
        .then_with(|| {
            let ab = pa.build.split_once('+').map_or("", |(_, x)| x);
            let bb = pb.build.split_once('+').map_or("", |(_, x)| x);
            ab.cmp(bb)
        })
}

/// Hackage: any number of numeric components; more components win on a tie.
pub(super) fn compare_hackage(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (pa, pb) = (parse(a, None), parse(b, None));
    for (p, v) in [(&pa, a), (&pb, b)] {
        if !p.build.is_empty() {
            return Err(VersionError::new(
                Ecosystem::Hackage,
                v,
                "only numeric components are allowed",
            ));
        }
    }
    Ok(cmp_padded(&pa.components, &pb.components)
        .then_with(|| pa.components.len().cmp(&pb.components.len())))
}

/// Whether `v` is a valid Go module version (golang.org/x/mod/semver `IsValid`):
/// leading `v` required, `vMAJOR[.MINOR[.PATCH[-pre][+build]]]`, no leading zeros,
/// pre-release and build only after a full `MAJOR.MINOR.PATCH`.
pub fn go_is_valid(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let (core, build) = match rest.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (rest, None),
    };
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (core, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    if nums.is_empty() || nums.len() > 3 {
        return false;
    }
    let num_ok = |n: &str| is_digits(n) && (n == "0" || !n.starts_with('0'));
    if !nums.iter().all(|n| num_ok(n)) {
        return false;
    }
    if (pre.is_some() || build.is_some()) && nums.len() != 3 {
        return false;
    }
    let ident_ok =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if let Some(pre) = pre
        && !pre
            .split('.')
            .all(|p| ident_ok(p) && (!is_digits(p) || p == "0" || !p.starts_with('0')))
    {
        return false;
    }
    if let Some(build) = build
        && !build.split('.').all(ident_ok)
    {
        return false;
    }
    true
}
