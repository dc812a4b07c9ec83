//! Snapshot tests of every renderer on one representative report, plus format
//! parsing. The report mixes every source, outcome and severity, objects with and
//! without namespaces, findings without object or location, and hostile text
//! (markup, quotes, control characters) that each format must escape.

use serde_json::json;

use crate::*;

fn check(id: &str) -> CheckId {
    CheckId::new(id).unwrap()
}

/// The representative report used by every snapshot.
pub(crate) fn sample_report() -> Report {
    let web = ObjectRef::new("apps/v1", "Deployment", Some("shop"), "web");
    let ns = ObjectRef::new("v1", "Namespace", None, "shop");
    let findings = vec![
        Finding::new(
            check("require-labels-check-for-labels"),
            Source::Policy,
            Severity::Medium,
            Outcome::Fail,
            "Require labels",
            "validation error: The label `app.kubernetes.io/name` is required. rule check-for-labels failed at path /metadata/labels/app.kubernetes.io/name/",
        )
        .with_policy_rule("require-labels", "check-for-labels")
        .with_category("Best Practices")
        .with_object(web.clone())
        .with_location(SourceLocation::new("apps/web/deployment.yaml", 0, 1))
        .with_remediation("Add the app.kubernetes.io/name label."),
        Finding::new(
            check("require-labels-check-for-labels"),
            Source::Policy,
            Severity::Medium,
            Outcome::Pass,
            "Require labels",
            "validation rule 'check-for-labels' passed.",
        )
        .with_policy_rule("require-labels", "check-for-labels")
        .with_category("Best Practices")
        .with_object(ns.clone())
        .with_location(SourceLocation::new("apps/web/namespace.yaml", 0, 1)),
        Finding::new(
            check("disallow-latest-tag-validate-image-tag"),
            Source::Policy,
            Severity::High,
            Outcome::Warn,
            "Disallow latest tag",
            "validation error: Using a mutable image tag e.g. 'latest' is not allowed.",
        )
        .with_policy_rule("disallow-latest-tag", "validate-image-tag")
        .with_object(web.clone())
        .with_location(SourceLocation::new("apps/web/deployment.yaml", 0, 1)),
        Finding::new(
            check("run-as-non-root"),
            Source::Kubesec,
            Severity::High,
            Outcome::Fail,
            "Containers should run as non-root",
            "containers[] .securityContext .runAsNonRoot == true is not set",
        )
        .with_object(web.clone())
        .with_location(SourceLocation::new("apps/web/deployment.yaml", 0, 1))
        .with_score(-1)
        .with_remediation("Set securityContext.runAsNonRoot: true.")
        .with_help_uri("https://kubesec.io/basics/containers-securitycontext-runasnonroot-true/"),
        Finding::new(
            check("privileged"),
            Source::Kubesec,
            Severity::Critical,
            Outcome::Pass,
            "Privileged containers",
            "no privileged container",
        )
        .with_object(web.clone())
        .with_location(SourceLocation::new("apps/web/deployment.yaml", 0, 1))
        .with_score(0),
        Finding::new(
            check("aws-access-key-id"),
            Source::Secrets,
            Severity::Critical,
            Outcome::Fail,
            "AWS access key id",
            "possible AWS access key id <AKIA…> in \"config.env\" & friends\u{1b}[31m\u{7}",
        )
        .with_location(SourceLocation::new(r"apps\web\config.env", 0, 12))
        .with_property("rule", "aws-access-key-id")
        .with_property("entropy", 3.9),
        Finding::new(
            check("vulnerable-package"),
            Source::Vuln,
            Severity::Low,
            Outcome::Fail,
            "Vulnerable package",
            "openssl 3.0.1 is affected by CVE-2024-0001 (fixed in 3.0.2)",
        )
        .with_property("package", "openssl")
        .with_property("ids", json!(["CVE-2024-0001", "GHSA-xxxx-yyyy-zzzz"])),
        Finding::new(
            check("image-signature"),
            Source::Signature,
            Severity::High,
            Outcome::Error,
            "Image signature",
            "cannot fetch signature of registry.example/shop/web:1.2: connection refused",
        )
        .with_object(web)
        .with_property("image", "registry.example/shop/web:1.2"),
        Finding::new(
            check("require-labels-check-for-labels"),
            Source::Policy,
            Severity::Info,
            Outcome::Skip,
            "Require labels",
            "preconditions not met",
        )
        .with_policy_rule("require-labels", "check-for-labels")
        .with_object(ObjectRef::new("rbac.authorization.k8s.io/v1", "ClusterRole", None, "view-all")),
    ];
    Report::new(
        Tool {
            name: "slipway".to_string(),
            version: "0.1.0".to_string(),
            information_uri: Some("https://example.invalid/slipway".to_string()),
        },
        findings,
    )
}

fn options() -> RenderOptions {
    RenderOptions {
        timestamp: Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        },
        ..RenderOptions::default()
    }
}

#[test]
fn table_snapshot() {
    let text = render(&sample_report(), Format::Table, &options()).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn table_with_passes_snapshot() {
    let opts = RenderOptions {
        show_passed: true,
        ..options()
    };
    insta::assert_snapshot!(render(&sample_report(), Format::Table, &opts).unwrap());
}

#[test]
fn table_colors_only_when_asked() {
    let plain = render(&sample_report(), Format::Table, &options()).unwrap();
    assert!(
        !plain.contains('\u{1b}'),
        "plain table has escapes: {plain}"
    );
    let opts = RenderOptions {
        color: true,
        ..options()
    };
    let colored = render(&sample_report(), Format::Table, &opts).unwrap();
    assert!(colored.contains("\u{1b}[1;31mFAIL\u{1b}[0m"));
    // Colour never changes the visible layout.
    let stripped = colored
        .replace("\u{1b}[0m", "")
        .replace("\u{1b}[1;31m", "")
        .replace("\u{1b}[31m", "")
        .replace("\u{1b}[33m", "")
        .replace("\u{1b}[35m", "")
        .replace("\u{1b}[36m", "")
        .replace("\u{1b}[1m", "");
    assert_eq!(stripped, plain);
}

#[test]
fn table_of_empty_report_is_only_the_summary() {
    let report = Report::new(Tool::new("slipway", "0.1.0"), vec![]);
    let text = render(&report, Format::Table, &options()).unwrap();
    assert_eq!(
        text,
        "0 findings: 0 pass, 0 fail, 0 warn, 0 error, 0 skip\n"
    );
}

#[test]
fn json_snapshot() {
    let value = json::to_value(&sample_report()).unwrap();
    insta::assert_json_snapshot!(value);
}

#[test]
fn json_round_trips() {
    let report = sample_report();
    let text = render(&report, Format::Json, &options()).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);
}

#[test]
fn summary_counts_results_and_failing_severities() {
    let summary = sample_report().summary();
    assert_eq!(summary.total, 9);
    assert_eq!(summary.count(Outcome::Pass), 2);
    assert_eq!(summary.count(Outcome::Fail), 4);
    assert_eq!(summary.count(Outcome::Warn), 1);
    assert_eq!(summary.count(Outcome::Error), 1);
    assert_eq!(summary.count(Outcome::Skip), 1);
    assert_eq!(summary.failing(Severity::Critical), 1);
    assert_eq!(summary.failing(Severity::High), 2);
    assert_eq!(summary.failing(Severity::Medium), 1);
    assert_eq!(summary.failing(Severity::Low), 1);
}

#[test]
fn gate_threshold_counts_fails_only() {
    let report = sample_report();
    assert!(report.fails_at(Severity::Critical));
    let warn_only = Report::new(
        report.tool.clone(),
        report
            .findings
            .iter()
            .filter(|f| f.result != Outcome::Fail)
            .cloned()
            .collect(),
    );
    assert!(!warn_only.fails_at(Severity::Info));
}

#[test]
fn sort_orders_by_location_then_object_then_check() {
    let mut report = sample_report();
    report.sort();
    let order: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}:{}",
                f.location.as_ref().map_or("-", |l| l.file.as_str()),
                f.check_id
            )
        })
        .collect();
    insta::assert_debug_snapshot!(order);
}

#[test]
fn formats_parse_and_print() {
    for format in Format::ALL {
        assert_eq!(format.as_str().parse::<Format>().unwrap(), format);
    }
    assert_eq!(
        "policy-report".parse::<Format>().unwrap(),
        Format::PolicyReport
    );
    assert_eq!("SARIF".parse::<Format>().unwrap(), Format::Sarif);
    let err = "yaml".parse::<Format>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown output format `yaml`: expected one of table, json, sarif, junit, policyreport"
    );
}
