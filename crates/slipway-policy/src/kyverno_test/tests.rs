use std::path::PathBuf;

use super::*;

fn suite(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/suites")
        .join(name)
}

fn check<'a>(r: &'a SuiteReport, rule: &str, resource: &str, expected: &str) -> &'a CheckResult {
    r.checks
        .iter()
        .find(|c| c.rule == rule && c.resource == resource && c.expected == expected)
        .unwrap_or_else(|| panic!("no check {rule}/{resource} expecting {expected}: {r:#?}"))
}

#[test]
fn discovers_suites_inside_dot_kyverno_test() {
    let files = discover(&[suite("")]).unwrap();
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("require-team-label/.kyverno-test/kyverno-test.yaml")),
        "{files:?}"
    );
    assert_eq!(
        suite_name(&files[0]),
        suite("require-team-label").display().to_string()
    );
}

#[test]
fn strict_runner_matches_real_results_and_rejects_wrong_expectations() {
    let file = suite("require-team-label/.kyverno-test/kyverno-test.yaml");
    let report = run_suite(&Engine::new(), &file);
    assert_eq!(report.error, None);
    assert!(check(&report, "check-team", "labelled", "pass").matched);
    assert!(check(&report, "check-team", "unlabelled", "fail").matched);
    let mutated = check(&report, "add-owner", "settings", "pass");
    assert!(mutated.matched, "{mutated:?}");

    let wrong = check(&report, "check-team", "unlabelled", "pass");
    assert!(!wrong.matched);
    assert_eq!(wrong.actual, "fail");
    // The rule does not match ConfigMaps: no response is not a pass.
    let na = check(&report, "check-team", "settings", "pass");
    assert!(!na.matched);
    assert_eq!(na.actual, "n/a");
    let missing = check(&report, "check-team", "does-not-exist", "fail");
    assert!(!missing.matched);
    assert_eq!(missing.actual, "not-found");

    let summary = Summary::of(std::slice::from_ref(&report));
    assert_eq!(summary.checks, 6);
    assert_eq!(summary.matched, 3);
    assert_eq!(summary.mismatched, 3);
}

#[test]
fn a_missing_policy_file_is_a_suite_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let test = dir.path().join(TEST_FILE_NAME);
    fs_err::write(
        &test,
        "policies: [nope.yaml]\nresources: []\nresults:\n- {policy: p, rule: r, resources: [x], result: pass}\n",
    )
    .unwrap();
    let report = run_suite(&Engine::new(), &test);
    assert!(report.error.as_deref().unwrap_or("").contains("nope.yaml"));
    assert_eq!(report.checks.len(), 1);
    assert!(!report.checks[0].matched);
    assert!(report.checks[0].error);
}
