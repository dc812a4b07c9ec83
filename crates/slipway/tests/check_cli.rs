//! `slipway check` on the example platform repo (apps/legacy-worker violates the
//! Enforce policies: exit 1) and on a passing subset (exit 0), in every format.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/platform")
}

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("check")
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_example_platform_fails_on_legacy_worker() {
    let root = example();
    let out = check(&[root.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("gate failed"), "{stderr}");
    assert!(
        stderr.contains("Deployment/batch/legacy-worker"),
        "{stderr}"
    );
    assert!(stderr.contains("disallow-latest-tag"), "{stderr}");
    // The passing apps are not named as reasons.
    assert!(!stderr.contains("Deployment/shop/api"), "{stderr}");
    assert!(text(&out.stdout).contains("legacy-worker"));
}

#[test]
fn every_format_gives_one_document_and_the_same_exit_code() {
    let root = example();
    let json = check(&[root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(
        v["summary"]["by_result"]["fail"].as_u64().unwrap() > 0,
        "{v}"
    );
    let sources: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["source"].as_str())
        .collect();
    assert!(
        sources.contains(&"policy") && sources.contains(&"kubesec"),
        "{sources:?}"
    );

    let sarif = check(&[root.to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(sarif.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");

    let junit = check(&[root.to_str().unwrap(), "--format", "junit"]);
    assert_eq!(junit.status.code(), Some(1));
    assert!(text(&junit.stdout).starts_with("<?xml"));
}

#[test]
fn a_passing_subset_exits_zero() {
    let root = example();
    let policies = root.join("policies");
    for app in ["api", "web"] {
        let out = check(&[
            root.join("apps").join(app).to_str().unwrap(),
            "--policies",
            policies.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{app}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
}

#[test]
fn min_score_flag_overrides_the_platform_file() {
    let root = example();
    let api = root.join("apps/api");
    let out = check(&[api.to_str().unwrap(), "--min-score", "1000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("below the minimum 1000"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_input_exits_two() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("broken.yaml"), "kind: [unclosed\n").unwrap();
    let out = check(&[dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = check(&["/nonexistent/target"]);
    assert_eq!(out.status.code(), Some(2));
    let out = check(&[example().to_str().unwrap(), "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
}
