//! Kustomize conformance: every case of the shared corpus
//! (`kustomize/cases/*`, see its INDEX.md) rendered by the native renderer and
//! compared with the recorded `kubectl kustomize` output (documents in order,
//! each compared structurally), or expected to fail. A second test renders
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
                println!("ERROR {}: {}", case.name, error_chain(&e));
                Ok(())
            }
            Ok(docs) => Err(format!("expected an error, got {} documents", docs.len())),
        };
    }
    let got = got.map_err(|e| format!("error: {e}"))?;
    let expected = parse_stream(&fs_err::read_to_string(case.dir.join("expected.yaml")).unwrap());
    compare(&got, &expected)
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

/// Renders every output case with the live `kubectl kustomize` and compares
/// with ours, for the cases we pass against the recorded file.
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
        if case.expect_error || check(&case).is_err() {
            continue;
        }
        let out = Command::new(&kubectl)
            .arg("kustomize")
            .arg(&case.target)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl kustomize failed on {}",
            case.name
        );
        let live = parse_stream(&String::from_utf8(out.stdout).unwrap());
        let ours = kustomize_build(&case.target).unwrap();
        compared += 1;
        if let Err(e) = compare(&ours, &live) {
            differences.push(format!("{}: {e}", case.name));
        }
    }
    println!("compared {compared} cases with live kubectl kustomize");
    assert!(differences.is_empty(), "differences: {differences:#?}");
}
