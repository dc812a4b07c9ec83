//! Semantic versions and ranges as `blang/semver` v4 reads them, for
//! `semver_compare`: a range is `||`-separated alternatives of
//! space-separated comparators (`>=1.2.0 <2.0.0`), operators `>`, `>=`, `<`,
//! `<=`, `=`, `==`, `!`, `!=` (none means `=`), and `x` wildcards
//! (`1.2.x`, `>1.x`).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pre {
    Num(u64),
    Alpha(String),
}

/// A strict `MAJOR.MINOR.PATCH[-pre][+build]` version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<Pre>,
}

fn parse_num(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid character(s) found in {s:?}"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(format!("number must not contain leading zeroes {s:?}"));
    }
    s.parse().map_err(|_| format!("number out of range {s:?}"))
}

impl Version {
    /// Parses a strict semantic version.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let core_end = s.find(['-', '+']).unwrap_or(s.len());
        let parts: Vec<&str> = s[..core_end].split('.').collect();
        if parts.len() != 3 {
            return Err("no Major.Minor.Patch elements found".to_owned());
        }
        let mut v = Version {
            major: parse_num(parts[0])?,
            minor: parse_num(parts[1])?,
            patch: parse_num(parts[2])?,
            pre: Vec::new(),
        };
        let rest = &s[core_end..];
        let (pre, build) = match rest.strip_prefix('-') {
            Some(r) => match r.split_once('+') {
                Some((p, b)) => (Some(p), Some(b)),
                None => (Some(r), None),
            },
            None => (None, rest.strip_prefix('+')),
        };
        let valid_ident =
            |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if let Some(pre) = pre {
            for id in pre.split('.') {
                if !valid_ident(id) {
                    return Err(format!("invalid prerelease {id:?}"));
                }
                v.pre.push(if id.bytes().all(|b| b.is_ascii_digit()) {
                    Pre::Num(parse_num(id)?)
                } else {
                    Pre::Alpha(id.to_owned())
                });
            }
        }
        if let Some(build) = build
            && !build.split('.').all(valid_ident)
        {
            return Err(format!("invalid build metadata {build:?}"));
        }
        Ok(v)
    }

    fn cmp_semver(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let ord = match (a, b) {
                            (Pre::Num(x), Pre::Num(y)) => x.cmp(y),
                            (Pre::Num(_), Pre::Alpha(_)) => Ordering::Less,
                            (Pre::Alpha(_), Pre::Num(_)) => Ordering::Greater,
                            (Pre::Alpha(x), Pre::Alpha(y)) => x.cmp(y),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed range: alternatives of conjunctions.
#[derive(Debug, Clone)]
pub struct Range(Vec<Vec<(Op, Version)>>);

impl Range {
    /// Parses a `blang/semver` range expression.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut alternatives = Vec::new();
        for alt in s.split("||") {
            // Join an operator written apart from its version (`>= 1.2.3`).
            let mut tokens: Vec<String> = Vec::new();
            let mut pending = String::new();
            for part in alt.split_whitespace() {
                if part.chars().all(|c| "<>=!".contains(c)) {
                    pending.push_str(part);
                } else {
                    tokens.push(format!("{pending}{part}"));
                    pending.clear();
                }
            }
            if !pending.is_empty() {
                return Err(format!("could not parse Range {s:?}: dangling operator"));
            }
            if tokens.is_empty() {
                return Err(format!("could not parse Range {s:?}: empty alternative"));
            }
            let mut conj = Vec::new();
            for token in tokens {
                conj.extend(parse_comparator(&token)?);
            }
            alternatives.push(conj);
        }
        Ok(Range(alternatives))
    }

    /// Whether `v` satisfies the range.
    pub fn matches(&self, v: &Version) -> bool {
        self.0.iter().any(|conj| {
            conj.iter().all(|(op, bound)| {
                let ord = v.cmp_semver(bound);
                match op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Ne => ord != Ordering::Equal,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                }
            })
        })
    }
}

fn parse_comparator(token: &str) -> Result<Vec<(Op, Version)>, String> {
    let op_len = token.chars().take_while(|c| "<>=!".contains(*c)).count();
    let (op_text, version) = token.split_at(op_len);
    let op = match op_text {
        "" | "=" | "==" => Op::Eq,
        "!" | "!=" => Op::Ne,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        "<" => Op::Lt,
        "<=" => Op::Le,
        other => return Err(format!("could not parse comparator {other:?}")),
    };
    let parts: Vec<&str> = version.split('.').collect();
    let wildcard = |p: &&str| *p == "x" || *p == "X" || *p == "*";
    let Some(pos) = parts.iter().position(wildcard) else {
        return Ok(vec![(op, Version::parse(version)?)]);
    };
    // Expand `1.2.x` style wildcards into bounds.
    if pos == 0 || parts[pos + 1..].iter().any(|p| !wildcard(p)) || parts.len() > 3 {
        return Err(format!("invalid wildcard version {version:?}"));
    }
    let major = parse_num(parts[0])?;
    let minor = if pos >= 2 { parse_num(parts[1])? } else { 0 };
    let lower = Version {
        major,
        minor,
        patch: 0,
        pre: Vec::new(),
    };
    let upper = if pos == 1 {
        Version {
            major: major + 1,
            ..Version::default()
        }
    } else {
        Version {
            major,
            minor: minor + 1,
            ..Version::default()
        }
    };
    Ok(match op {
        Op::Eq => vec![(Op::Ge, lower), (Op::Lt, upper)],
        Op::Ne => return Err(format!("invalid wildcard comparison {token:?}")),
        Op::Gt | Op::Ge if op == Op::Gt => vec![(Op::Ge, upper)],
        Op::Ge => vec![(Op::Ge, lower)],
        Op::Lt => vec![(Op::Lt, lower)],
        Op::Le | Op::Gt => vec![(Op::Lt, upper)],
    })
}
