//! `slipway scan manifests` with `.slipwayignore` suppressions: a current one
//! lifts the rule for the selected object only; an expired one fails the scan
//! and is named on stderr.

use std::path::Path;
use std::process::{Command, Output};

const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: agent-1
  namespace: ops
spec:
  containers:
    - name: c
      image: registry.example.com/agent:1.0
      securityContext:
        privileged: true
";

fn scan(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["scan", "manifests", "--format", "json", "."])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn score(out: &Output) -> i64 {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["score"].as_i64().unwrap()
}

fn ignore(dir: &Path, expires: &str, object: &str) {
    fs_err::write(
        dir.join(".slipwayignore"),
        format!(
            "suppressions:\n  - rule: Privileged\n    object: {object}\n    reason: node agent, SEC-12\n    expires: {expires}\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_current_suppression_lifts_the_rule_for_its_objects() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("pod.yaml"), POD).unwrap();
    let out = scan(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(score(&out), -30);

    ignore(dir.path(), "2999-12-31", "Pod/ops/agent-*");
    // Without Privileged's -30 the pod scores 0, above a minimum of -1.
    let out = scan(dir.path(), &["--min-score", "-1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(score(&out), 0);
    // --no-suppressions turns the file off.
    assert_eq!(
        scan(dir.path(), &["--no-suppressions"]).status.code(),
        Some(2)
    );

    ignore(dir.path(), "2999-12-31", "Pod/other/agent-*");
    assert_eq!(score(&scan(dir.path(), &[])), -30);
}

#[test]
fn an_expired_suppression_fails_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("pod.yaml"), POD).unwrap();
    ignore(dir.path(), "2020-01-31", "Pod/ops/agent-1");
    let out = scan(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(score(&out), -30, "an expired suppression no longer applies");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("suppression of rule `Privileged` for Pod/ops/agent-1 expired on 2020-01-31"),
        "{stderr}"
    );
    assert!(stderr.contains(".slipwayignore:2"), "{stderr}");

    // SARIF carries it as a failing result located in the ignore file.
    let out = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["scan", "manifests", "--format", "sarif", "."])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let sarif = String::from_utf8_lossy(&out.stdout);
    assert!(sarif.contains("suppression-expired"), "{sarif}");
}

#[test]
fn a_malformed_ignore_file_is_bad_input_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("pod.yaml"), POD).unwrap();
    fs_err::write(
        dir.path().join("rules.yaml.ignore"),
        "suppressions:\n  - rule: Privileged\n    expires: 2030-01-01\n",
    )
    .unwrap();
    let out = scan(dir.path(), &["--ignore-file", "rules.yaml.ignore"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "input errors exit 1 in scan manifests"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rules.yaml.ignore:2: suppression field `reason` is missing"),
        "{stderr}"
    );
}
