//! Orders of the remaining ecosystems: RubyGems, Packagist, CRAN and rpm.

use std::cmp::Ordering;

use super::numeric::{cmp_digits, cmp_padded, is_digits};

/// `Gem::Version`: segments split at `.` and digit/letter changes; trailing zero
/// segments dropped (separately before and after the first letter segment);
/// numbers above strings, strings compared bytewise, missing segments are `0`.
pub(super) fn compare_rubygems(a: &str, b: &str) -> Ordering {
    fn segments(v: &str) -> Vec<String> {
        let mut out = Vec::new();
        for dotted in v.trim().split('.') {
            let bytes = dotted.as_bytes();
            let mut start = 0;
            for i in 1..=bytes.len() {
                if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit() {
                    out.push(dotted[start..i].to_owned());
                    start = i;
                }
            }
            if bytes.is_empty() {
                out.push(String::new());
            }
        }
        let split = out.iter().position(|s| !is_digits(s)).unwrap_or(out.len());
        let mut build = out.split_off(split);
        let trim = |v: &mut Vec<String>| {
            while v.last().is_some_and(|s| s == "0") {
                v.pop();
            }
        };
        trim(&mut out);
        trim(&mut build);
        out.extend(build);
        out
    }
    let (sa, sb) = (segments(a), segments(b));
    for i in 0..sa.len().max(sb.len()) {
        let x = sa.get(i).map_or("0", String::as_str);
        let y = sb.get(i).map_or("0", String::as_str);
        let o = match (is_digits(x), is_digits(y)) {
            (true, true) => cmp_digits(x, y),
            (false, false) => x.cmp(y),
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// PHP `version_compare` after Composer's normalisation (leading `v` dropped).
pub(super) fn compare_packagist(a: &str, b: &str) -> Ordering {
    fn canonical(v: &str) -> Vec<String> {
        let v = v.trim();
        let v = v
            .strip_prefix('v')
            .or_else(|| v.strip_prefix('V'))
            .unwrap_or(v);
        let mut s = String::with_capacity(v.len() + 4);
        let mut prev: Option<char> = None;
        for c in v.chars() {
            let c = if matches!(c, '-' | '_' | '+') { '.' } else { c };
            if let Some(p) = prev
                && p != '.'
                && c != '.'
                && p.is_ascii_digit() != c.is_ascii_digit()
            {
                s.push('.');
            }
            s.push(c);
            prev = Some(c);
        }
        s.split('.').map(str::to_owned).collect()
    }
    fn weight(s: &str) -> u8 {
        if s.starts_with("RC") {
            return 3;
        }
        ["dev", "a", "b", "rc", "#", "p"]
            .iter()
            .position(|p| s.starts_with(p))
            .map_or(0, |i| i as u8)
    }
    fn special(a: &str, b: &str) -> Ordering {
        weight(a).cmp(&weight(b))
    }
    fn components(a: &[String], b: &[String]) -> Ordering {
        for (x, y) in a.iter().zip(b) {
            let o = match (is_digits(x), is_digits(y)) {
                (true, true) => cmp_digits(x, y),
                (false, false) => special(x, y),
                (true, false) => special("#", y),
                (false, true) => special(x, "#"),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        let hash = ["#".to_owned()];
        match a.len().cmp(&b.len()) {
            Ordering::Greater => {
                if is_digits(&a[b.len()]) {
                    Ordering::Greater
                } else {
                    components(&a[b.len()..], &hash)
                }
            }
            Ordering::Less => {
                if is_digits(&b[a.len()]) {
                    Ordering::Less
                } else {
                    components(&hash, &b[a.len()..])
                }
            }
            Ordering::Equal => Ordering::Equal,
        }
    }
    components(&canonical(a), &canonical(b))
}

/// CRAN: numeric components separated by `.` or `-`; more components win a tie.
pub(super) fn compare_cran(a: &str, b: &str) -> Ordering {
    fn comps(v: &str) -> Vec<&str> {
        v.trim()
            .split(['.', '-'])
            .filter(|s| is_digits(s))
            .collect()
    }
    let (ca, cb) = (comps(a), comps(b));
    cmp_padded(&ca, &cb).then_with(|| ca.len().cmp(&cb.len()))
}

/// rpmvercmp on one of epoch, version or release.
fn rpmvercmp(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        _ => {}
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let skip = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && skip(a[i]) {
            i += 1;
        }
        while j < b.len() && skip(b[j]) {
            j += 1;
        }
        let at = a.get(i) == Some(&b'~');
        let bt = b.get(j) == Some(&b'~');
        if at && bt {
            i += 1;
            j += 1;
            continue;
        }
        if at {
            return Ordering::Less;
        }
        if bt {
            return Ordering::Greater;
        }
        let ac = a.get(i) == Some(&b'^');
        let bc = b.get(j) == Some(&b'^');
        if ac && bc {
            i += 1;
            j += 1;
            continue;
        }
        if ac {
            return if j == b.len() {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        if bc {
            return if i == a.len() {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        if i == a.len() || j == b.len() {
            break;
        }
        let digit = a[i].is_ascii_digit();
        let run = |s: &[u8], k: &mut usize| {
            let start = *k;
            while *k < s.len()
                && (if digit {
                    s[*k].is_ascii_digit()
                } else {
                    s[*k].is_ascii_alphabetic()
                })
            {
                *k += 1;
            }
            String::from_utf8_lossy(&s[start..*k]).into_owned()
        };
        let sa = run(a, &mut i);
        let sb = run(b, &mut j);
        if sb.is_empty() {
            return if digit {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let o = if digit {
            cmp_digits(&sa, &sb)
        } else {
            sa.cmp(&sb)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// rpm `[epoch:]version[-release]`, each part by rpmvercmp.
pub(super) fn compare_rpm(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (&str, &str, String) {
        let v = v.trim();
        let (epoch, vr) = match v.split_once(':') {
            Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) => (e, r),
            _ => ("", v),
        };
        let (version, release) = match vr.split_once('-') {
            Some((ver, rel)) => (ver, format!("-{rel}")),
            None => (vr, String::new()),
        };
        (if epoch.is_empty() { "0" } else { epoch }, version, release)
    }
    let (ea, va, ra) = split(a);
    let (eb, vb, rb) = split(b);
    rpmvercmp(ea, eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| rpmvercmp(&ra, &rb))
}
