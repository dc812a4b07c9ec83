//! The OSV range algorithm: is one installed package version affected by a record?
//!
//! Implements the evaluation of OSV schema §"Evaluation" with three decisions
//! (spec `shared/specs/osv.md` §2.3): `GIT` ranges are skipped (commit graphs are
//! not available offline) without failing the entry; `introduced: "0"` is a
//! sentinel below every version while `fixed: "0"` is an ordinary version; an
//! unparseable event version makes only its own range unevaluable.

use std::cell::Cell;
use std::cmp::Ordering;

use crate::osv::{EcosystemName, Event, Range, RangeType, Record, lookup_name};
use crate::version::{self, Ecosystem};

/// An installed package, as the matcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// Full OSV ecosystem of the package (`Debian:12`, `npm`).
    pub ecosystem: &'a str,
    /// Lookup name (source package for distros).
    pub name: &'a str,
    /// Installed version; empty means unknown.
    pub version: &'a str,
}

/// Why a record matched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MatchReason {
    /// Index into `record.affected`.
    pub affected_index: usize,
    /// Index into that entry's `ranges`, `None` when `versions[]` matched.
    pub range_index: Option<usize>,
    /// `SEMVER`/`ECOSYSTEM`, or `versions` for an explicit list hit.
    pub kind: String,
    /// The `introduced` bound of the matching window (`0` = from the start).
    pub introduced: Option<String>,
    /// Smallest `fixed` above the installed version in that range.
    pub fixed: Option<String>,
    /// The inclusive `last_affected` bound of the window, if that is how it ends.
    pub last_affected: Option<String>,
}

/// The matcher's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The version is affected, with the first reason found.
    Affected(MatchReason),
    /// The record names the package but not this version.
    NotAffected,
    /// The record names the package but the version is unknown (empty), so no
    /// statement is possible: reported as "not assessed", never as clean.
    NotAssessed,
    /// The record is about other packages (or is withdrawn).
    Unrelated,
}

/// Compare under a range's type: SEMVER ranges always use SemVer precedence.
fn cmp(kind: RangeType, eco: Option<Ecosystem>, a: &str, b: &str) -> Option<Ordering> {
    match kind {
        RangeType::Semver => version::compare(Ecosystem::Npm, a, b).ok(),
        RangeType::Ecosystem => eco.and_then(|e| version::compare(e, a, b).ok()),
        RangeType::Git | RangeType::Unknown => None,
    }
}

enum EventKind<'a> {
    Introduced(&'a str),
    Fixed(&'a str),
    LastAffected(&'a str),
}

impl EventKind<'_> {
    fn version(&self) -> &str {
        match self {
            EventKind::Introduced(v) | EventKind::Fixed(v) | EventKind::LastAffected(v) => v,
        }
    }
}

fn event_kind(e: &Event) -> Option<EventKind<'_>> {
    if let Some(v) = &e.introduced {
        Some(EventKind::Introduced(v))
    } else if let Some(v) = &e.fixed {
        Some(EventKind::Fixed(v))
    } else {
        e.last_affected.as_deref().map(EventKind::LastAffected)
    }
}

/// Evaluate one range for `v`; `None` when the range cannot be evaluated.
fn evaluate_range(range: &Range, eco: Option<Ecosystem>, v: &str) -> Option<Option<MatchReason>> {
    let kind = range.range_type();
    if matches!(kind, RangeType::Git | RangeType::Unknown) {
        return None;
    }
    let limits: Vec<&str> = range
        .events
        .iter()
        .filter_map(|e| e.limit.as_deref())
        .collect();
    if !limits.is_empty() {
        let below_some = limits
            .iter()
            .any(|l| *l == "*" || cmp(kind, eco, v, l) == Some(Ordering::Less));
        if !below_some {
            return Some(None);
        }
    }
    let mut events: Vec<EventKind<'_>> = range.events.iter().filter_map(event_kind).collect();
    let failed = Cell::new(false);
    events.sort_by(|a, b| {
        let (va, vb) = (a.version(), b.version());
        let a_zero = matches!(a, EventKind::Introduced("0"));
        let b_zero = matches!(b, EventKind::Introduced("0"));
        let by_version = match (a_zero, b_zero) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => cmp(kind, eco, va, vb).unwrap_or_else(|| {
                failed.set(true);
                Ordering::Equal
            }),
        };
        // On equal versions an introduced event goes first.
        by_version.then_with(|| {
            let rank = |e: &EventKind<'_>| u8::from(!matches!(e, EventKind::Introduced(_)));
            rank(a).cmp(&rank(b))
        })
    });
    if failed.get() {
        return None;
    }
    let mut state: Option<MatchReason> = None;
    for e in &events {
        match e {
            EventKind::Introduced(i) => {
                if *i == "0" || cmp(kind, eco, v, i)? != Ordering::Less {
                    state = Some(MatchReason {
                        affected_index: 0,
                        range_index: None,
                        kind: range.kind.clone(),
                        introduced: Some((*i).to_owned()),
                        fixed: None,
                        last_affected: None,
                    });
                }
            }
            EventKind::Fixed(f) => {
                if state.is_some() {
                    if cmp(kind, eco, v, f)? != Ordering::Less {
                        state = None;
                    } else if let Some(s) = state.as_mut()
                        && s.fixed.is_none()
                    {
                        s.fixed = Some((*f).to_owned());
                    }
                }
            }
            EventKind::LastAffected(l) => {
                if state.is_some() {
                    if cmp(kind, eco, v, l)? == Ordering::Greater {
                        state = None;
                    } else if let Some(s) = state.as_mut()
                        && s.last_affected.is_none()
                    {
                        s.last_affected = Some((*l).to_owned());
                    }
                }
            }
        }
    }
    Some(state)
}

/// Whether `record` affects the package in `query`.
///
/// `now` is an RFC 3339 timestamp: a record withdrawn at or before it is
/// ignored (one withdrawn in the future is still live).
pub fn evaluate(record: &Record, query: &Query<'_>, now: &str) -> Verdict {
    if let Some(w) = &record.withdrawn
        && w.as_str() <= now
    {
        return Verdict::Unrelated;
    }
    let pkg_eco = EcosystemName::parse(query.ecosystem);
    let lookup = lookup_name(query.ecosystem, query.name);
    let version = normalize_query_version(&pkg_eco, query.version);
    let forms = listed_forms(query);
    let mut named = false;
    let mut listed: Option<MatchReason> = None;
    for (ai, affected) in record.affected.iter().enumerate() {
        let Some(package) = &affected.package else {
            continue;
        };
        let rec_eco = EcosystemName::parse(&package.ecosystem);
        if !rec_eco.record_applies_to(&pkg_eco)
            || lookup_name(&package.ecosystem, &package.name) != lookup
        {
            continue;
        }
        named = true;
        if version.is_empty() {
            continue;
        }
        // Ranges say which version fixes it; an explicit `versions[]` hit only says
        // "affected", so it is kept as a fallback while other ranges are tried.
        let eco = rec_eco.known();
        for (ri, range) in affected.ranges.iter().enumerate() {
            if let Some(Some(mut reason)) = evaluate_range(range, eco, version) {
                reason.affected_index = ai;
                reason.range_index = Some(ri);
                return Verdict::Affected(reason);
            }
        }
        if listed.is_none()
            && affected
                .versions
                .iter()
                .any(|v| forms.contains(&v.as_str()))
        {
            listed = Some(MatchReason {
                affected_index: ai,
                range_index: None,
                kind: "versions".to_owned(),
                introduced: None,
                fixed: None,
                last_affected: None,
            });
        }
    }
    if let Some(reason) = listed {
        return Verdict::Affected(reason);
    }
    match (named, version.is_empty()) {
        (false, _) => Verdict::Unrelated,
        (true, true) => Verdict::NotAssessed,
        (true, false) => Verdict::NotAffected,
    }
}

/// The spellings of the installed version of `query` that a `versions[]`
/// entry must equal: as given, and as OSV spells it (Go without the `v`).
pub(crate) fn listed_forms<'a>(query: &Query<'a>) -> [&'a str; 2] {
    let pkg_eco = EcosystemName::parse(query.ecosystem);
    [
        query.version,
        normalize_query_version(&pkg_eco, query.version),
    ]
}

/// Version as OSV data spells it: Go drops the leading `v` (and `go` for toolchains).
fn normalize_query_version<'a>(eco: &EcosystemName, v: &'a str) -> &'a str {
    let v = v.trim();
    if eco.base == "Go" {
        return v
            .strip_prefix("go")
            .or_else(|| v.strip_prefix('v'))
            .unwrap_or(v);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Record {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn withdrawn_only_counts_once_it_is_in_the_past() {
        let r = record(
            r#"{"id":"X","withdrawn":"2030-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}"#,
        );
        let q = Query {
            ecosystem: "npm",
            name: "a",
            version: "1.0.0",
        };
        assert!(matches!(
            evaluate(&r, &q, "2025-01-01T00:00:00Z"),
            Verdict::Affected(_)
        ));
        assert_eq!(evaluate(&r, &q, "2031-01-01T00:00:00Z"), Verdict::Unrelated);
    }

    #[test]
    fn git_range_is_skipped_not_fatal() {
        let r = record(
            r#"{"id":"X","affected":[{"package":{"ecosystem":"PyPI","name":"Flask"},"ranges":[{"type":"GIT","repo":"r","events":[{"introduced":"0"},{"fixed":"abc"}]},{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.2.5"}]}]}]}"#,
        );
        let q = Query {
            ecosystem: "PyPI",
            name: "flask",
            version: "1.0.0",
        };
        let Verdict::Affected(reason) = evaluate(&r, &q, "2025-01-01T00:00:00Z") else {
            panic!("not affected");
        };
        assert_eq!(reason.range_index, Some(1));
        assert_eq!(reason.fixed.as_deref(), Some("2.2.5"));
    }
}
