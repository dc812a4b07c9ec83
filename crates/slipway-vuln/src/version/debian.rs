//! dpkg version order (Debian Policy §5.6.12), used for Debian and Ubuntu.
//!
//! Written here rather than taken from the `debversion` crate: the algorithm is
//! short, and that crate pulls in `lazy-regex`, `num-bigint` and `chrono`.

use std::cmp::Ordering;

use super::numeric::cmp_digits;
use super::{Ecosystem, VersionError};

struct Parsed<'a> {
    epoch: &'a str,
    upstream: &'a str,
    revision: &'a str,
}

fn parse(eco: Ecosystem, v: &str) -> Result<Parsed<'_>, VersionError> {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) => {
            if !e.bytes().all(|b| b.is_ascii_digit()) || e.is_empty() {
                return Err(VersionError::new(eco, v, "epoch is not a number"));
            }
            (e, r)
        }
        None => ("0", v),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err(VersionError::new(eco, v, "empty upstream version"));
    }
    let upstream_ok = upstream
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._+~-:".contains(&b));
    let revision_ok = revision
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b));
    if !upstream_ok || !revision_ok {
        return Err(VersionError::new(
            eco,
            v,
            "character not allowed in a dpkg version",
        ));
    }
    Ok(Parsed {
        epoch,
        upstream,
        revision,
    })
}

/// Weight of a byte in the non-digit part: `~` first, then end of string, letters, others.
fn order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit prefix, compared character by character with the modified order.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let bc = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            let o = order(ac).cmp(&order(bc));
            if o != Ordering::Equal {
                return o;
            }
            if ac.is_some() {
                i += 1;
            }
            if bc.is_some() {
                j += 1;
            }
        }
        let si = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let sj = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        // Both slices are ASCII digits, so the conversion cannot fail.
        let da = std::str::from_utf8(&a[si..i]).unwrap_or("");
        let db = std::str::from_utf8(&b[sj..j]).unwrap_or("");
        let o = cmp_digits(da, db);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

pub(super) fn compare(eco: Ecosystem, a: &str, b: &str) -> Result<Ordering, VersionError> {
    let pa = parse(eco, a)?;
    let pb = parse(eco, b)?;
    Ok(cmp_digits(pa.epoch, pb.epoch)
        .then_with(|| verrevcmp(pa.upstream, pb.upstream))
        .then_with(|| verrevcmp(pa.revision, pb.revision)))
}
