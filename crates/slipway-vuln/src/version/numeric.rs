//! Arbitrary-size comparison of decimal digit strings.

use std::cmp::Ordering;

/// True when `s` is a non-empty run of ASCII digits.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Compare two digit strings by numeric value (leading zeros ignored, no size limit).
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Compare two lists of digit strings, padding the shorter with zeros.
pub(crate) fn cmp_padded(a: &[&str], b: &[&str]) -> Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or("0");
        let y = b.get(i).copied().unwrap_or("0");
        let o = cmp_digits(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}
