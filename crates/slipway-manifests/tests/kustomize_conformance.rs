//! Kustomize conformance: every case of the shared corpus
//! (`kustomize/cases/*`, see its INDEX.md) rendered by the native renderer and
//! compared with the recorded `kubectl kustomize` output (documents in order,
//! each compared structurally), or expected to fail with an error that says
//! what Kustomize's does (`error_contains`). A second test renders
//! cases with the live `kubectl kustomize` too, so a difference is always
//! against the reference itself.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "tests and benchmarks report what they measured or skipped"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use slipway_manifests::{Loader, kustomize_build};

fn conformance_root() -> Option<PathBuf> {
    let root = std::env::var_os("SLIPWAY_CONFORMANCE_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/conformance"
            ))
        },
        PathBuf::from,
    );
    let cases = root.join("kustomize/cases");
    if cases.is_dir() {
        return Some(cases);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "conformance corpus missing at {} (CI is set)",
        cases.display()
    );
    println!(
        "skipped: kustomize conformance corpus not found at {}",
        cases.display()
    );
    None
}

struct Case {
    name: String,
    dir: PathBuf,
    target: PathBuf,
    expect_error: bool,
    /// Kustomize's wording of the failure (expected-error cases).
    error_contains: Vec<String>,
}

fn cases(root: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("case.json").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let meta: Value =
            serde_json::from_str(&fs_err::read_to_string(dir.join("case.json")).unwrap()).unwrap();
        let target = dir.join(meta["target"].as_str().unwrap_or("."));
        out.push(Case {
            name: dir.file_name().unwrap().to_string_lossy().to_string(),
            target,
            expect_error: meta["expect"] == "error",
            error_contains: meta["error_contains"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            dir,
        });
    }
    out
}

fn parse_stream(text: &str) -> Vec<Value> {
    Loader {
        expand_lists: false,
        keep_empty: false,
    }
    .load_str(text, "expected.yaml")
    .unwrap()
    .into_iter()
    .map(|d| d.object)
    .collect()
}

/// Runs one case; `Ok(())` when it conforms, else a description.
fn check(case: &Case) -> Result<(), String> {
    let got = kustomize_build(&case.target);
    if case.expect_error {
        return match got {
            Err(e) => {
                let ours = error_chain(&e);
                match case
                    .error_contains
                    .iter()
                    .find(|phrase| !same_meaning(&ours, phrase, &case.dir))
                {
                    None => Ok(()),
                    Some(phrase) => Err(format!(
                        "the error differs from the reference's: got `{ours}`, kustomize says `{phrase}`"
                    )),
                }
            }
            Ok(docs) => Err(format!("expected an error, got {} documents", docs.len())),
        };
    }
    let got = got.map_err(|e| format!("error: {e}"))?;
    let expected = parse_stream(&fs_err::read_to_string(case.dir.join("expected.yaml")).unwrap());
    compare(&got, &expected)
}

/// Upstream-internal words in Kustomize's messages that carry no meaning for
/// a user: id-format markers and Go function names.
const INTERNAL_WORDS: [&str; 4] = ["nons", "nogrp", "nover", "accumulatedirectory"];

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3)
        .map(str::to_lowercase)
}

/// Whether our error says what Kustomize's phrase says: every word of the
/// phrase (ids and paths included, `<case>` standing for the case
/// directory) appears in our message. Word order, punctuation and the id
/// format (`Kind.version.group/name.[noNs]` upstream, `group/version Kind
/// name` here) are free.
fn same_meaning(ours: &str, phrase: &str, case_dir: &Path) -> bool {
    let dir = std::fs::canonicalize(case_dir).unwrap_or_else(|_| case_dir.to_path_buf());
    let phrase = phrase.replace("<case>", &dir.to_string_lossy());
    let ours: std::collections::HashSet<String> = words(ours).collect();
    words(&phrase)
        .filter(|w| !INTERNAL_WORDS.contains(&w.as_str()))
        .all(|w| ours.contains(&w))
}

/// The error and its sources, as the CLI prints them.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

fn describe(v: &Value) -> String {
    format!(
        "{} {}",
        v["kind"].as_str().unwrap_or("?"),
        v["metadata"]["name"].as_str().unwrap_or("?")
    )
}

fn compare(got: &[Value], expected: &[Value]) -> Result<(), String> {
    if got.len() != expected.len() {
        return Err(format!(
            "{} documents, expected {}: got [{}], expected [{}]",
            got.len(),
            expected.len(),
            got.iter().map(describe).collect::<Vec<_>>().join(", "),
            expected.iter().map(describe).collect::<Vec<_>>().join(", ")
        ));
    }
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        if g != e {
            return Err(format!(
                "document {i} differs:\n--- got\n{}\n--- expected\n{}",
                serde_json::to_string(g).unwrap(),
                serde_json::to_string(e).unwrap()
            ));
        }
    }
    Ok(())
}

#[test]
fn kustomize_corpus_meets_committed_minimum() {
    let Some(root) = conformance_root() else {
        return;
    };
    let all = cases(&root);
    let mut passed = 0;
    let mut failures = Vec::new();
    for case in &all {
        match check(case) {
            Ok(()) => passed += 1,
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    for f in &failures {
        println!("FAIL {f}\n");
    }
    let minimum: usize = fs_err::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/kustomize-minimum.txt"
    ))
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    println!(
        "kustomize conformance: {passed}/{} passed ({:.1}%), committed minimum {minimum}",
        all.len(),
        100.0 * passed as f64 / all.len().max(1) as f64
    );
    assert!(
        passed >= minimum,
        "kustomize conformance dropped below the committed minimum: {passed} < {minimum}"
    );
}

fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubectl missing (CI is set)"
        );
        println!("skipped: kubectl not found on PATH");
    }
    found
}

/// Renders every case with the live `kubectl kustomize` and compares with
/// ours: the same documents for output cases, a failure from both for error
/// cases.
#[test]
fn agrees_with_live_kubectl_kustomize() {
    let Some(root) = conformance_root() else {
        return;
    };
    let Some(kubectl) = kubectl() else {
        return;
    };
    let mut compared = 0;
    let mut differences = Vec::new();
    for case in cases(&root) {
        let out = Command::new(&kubectl)
            .arg("kustomize")
            .arg(&case.target)
            .output()
            .unwrap();
        let ours = kustomize_build(&case.target);
        compared += 1;
        match (out.status.success(), ours) {
            (true, Ok(ours)) => {
                let live = parse_stream(&String::from_utf8(out.stdout).unwrap());
                if let Err(e) = compare(&ours, &live) {
                    differences.push(format!("{}: {e}", case.name));
                }
            }
            (false, Err(_)) => {}
            (true, Err(e)) => differences.push(format!(
                "{}: kubectl kustomize renders it, we fail: {}",
                case.name,
                error_chain(&e)
            )),
            (false, Ok(_)) => differences.push(format!(
                "{}: kubectl kustomize fails ({}), we render it",
                case.name,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }
    println!("compared {compared} cases with live kubectl kustomize");
    assert!(differences.is_empty(), "differences: {differences:#?}");
}
