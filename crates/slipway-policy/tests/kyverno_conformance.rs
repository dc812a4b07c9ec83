//! Runs the Kyverno corpus (`shared/conformance/kyverno`) through the strict
//! kyverno-test runner and holds the pass rate of each supported family to
//! the committed minimum in `tests/data/kyverno-minimums.txt`, which only ever
//! goes up. Families the engine does not evaluate yet must be reported as
//! unsupported errors, never as matches.

#![allow(
    clippy::print_stdout,
    reason = "a conformance test reports its pass rate"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slipway_policy::engine::Engine;
use slipway_policy::kyverno_test::{self, CheckResult};

fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("SLIPWAY_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        })
        .join("kyverno");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the Kyverno conformance corpus is missing at {} and CI is set; set SLIPWAY_CONFORMANCE_DIR",
        dir.display()
    );
    println!(
        "skipped: the Kyverno conformance corpus is not at {} (set SLIPWAY_CONFORMANCE_DIR)",
        dir.display()
    );
    None
}

/// `suite -> family` from the corpus index.
fn families(dir: &Path) -> BTreeMap<String, String> {
    let text = fs_err::read_to_string(dir.join("index.json")).expect("index.json");
    let index: serde_json::Value = serde_json::from_str(&text).expect("index.json parses");
    index["suites"]
        .as_array()
        .expect("suites")
        .iter()
        .map(|s| {
            (
                s["suite"].as_str().unwrap_or_default().to_string(),
                s["family"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn minimums() -> BTreeMap<String, f64> {
    let text = include_str!("data/kyverno-minimums.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (family, min) = l.split_once(char::is_whitespace).expect("family minimum");
            (family.to_string(), min.trim().parse().expect("a number"))
        })
        .collect()
}

#[test]
fn kyverno_corpus_strict_pass_rate() {
    let Some(dir) = conformance_dir() else { return };
    let families = families(&dir);
    let files = kyverno_test::discover(&[&dir]).expect("discover");
    assert!(files.len() >= 300, "found only {} suites", files.len());
    let engine = Engine::new();
    let mut per_family: BTreeMap<String, Vec<CheckResult>> = BTreeMap::new();
    for f in &files {
        let report = kyverno_test::run_suite(&engine, f);
        let rel = Path::new(&report.suite)
            .strip_prefix(&dir)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| report.suite.clone());
        let family = families
            .get(&rel)
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        per_family.entry(family).or_default().extend(report.checks);
    }
    let minimums = minimums();
    let mut failures = Vec::new();
    for (family, checks) in &per_family {
        let matched = checks.iter().filter(|c| c.matched).count();
        let rate = 100.0 * matched as f64 / checks.len().max(1) as f64;
        println!(
            "kyverno {family}: {matched}/{} checks matched strictly ({rate:.2}%)",
            checks.len()
        );
        if let Some(min) = minimums.get(family) {
            if rate + 1e-9 < *min {
                failures.push(format!(
                    "{family}: {rate:.2}% is below the committed minimum {min}%"
                ));
                for c in checks.iter().filter(|c| !c.matched).take(40) {
                    println!(
                        "  MISS {} {}/{} {} {}: expected {} got {} {}",
                        c.suite,
                        c.policy,
                        c.rule,
                        c.kind,
                        c.resource,
                        c.expected,
                        c.actual,
                        c.message
                    );
                }
            }
        } else {
            // Families without a minimum are not evaluated yet: they must not
            // be counted as matches by accident.
            let unsupported = checks.iter().filter(|c| c.actual == "unsupported").count();
            println!("  ({unsupported} checks reported unsupported)");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
