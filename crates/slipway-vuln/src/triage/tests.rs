use super::*;
use crate::matching::MatchReason;
use crate::scan::MatchedBy;

const NOW: &str = "2026-01-01T00:00:00Z";

fn finding(id: &str, aliases: &[&str], sev: SeverityLevel, fixed: Option<&str>) -> Finding {
    Finding {
        vulnerability_id: id.to_owned(),
        aliases: aliases.iter().map(|s| (*s).to_owned()).collect(),
        pkg_name: "openssl".to_owned(),
        src_name: None,
        installed_version: "1.0.0".to_owned(),
        fixed_version: fixed.map(str::to_owned),
        status: if fixed.is_some() { "fixed" } else { "affected" },
        severity: sev,
        cvss: Vec::new(),
        primary_url: None,
        title: None,
        target: "Cargo.lock".to_owned(),
        purl: "pkg:cargo/openssl@1.0.0".to_owned(),
        matched_by: MatchedBy {
            ecosystem: "crates.io".to_owned(),
            lookup_name: "openssl".to_owned(),
            range: MatchReason {
                affected_index: 0,
                range_index: Some(0),
                kind: "SEMVER".to_owned(),
                introduced: Some("0".to_owned()),
                fixed: fixed.map(str::to_owned),
                last_affected: None,
            },
        },
        matched_records: vec![id.to_owned()],
        line: None,
    }
}

#[test]
fn aliases_become_one_finding_under_the_cve() {
    let merged = group_aliases(vec![
        finding(
            "GHSA-aaaa",
            &["CVE-2024-1"],
            SeverityLevel::High,
            Some("1.1.0"),
        ),
        finding(
            "RUSTSEC-2024-9",
            &["CVE-2024-1", "GHSA-aaaa"],
            SeverityLevel::Medium,
            Some("1.1.0"),
        ),
        finding("GHSA-other", &[], SeverityLevel::Low, None),
    ]);
    assert_eq!(merged.len(), 2);
    assert_eq!(merged[0].vulnerability_id, "CVE-2024-1");
    assert_eq!(merged[0].aliases, ["GHSA-aaaa", "RUSTSEC-2024-9"]);
    assert_eq!(merged[0].severity, SeverityLevel::High);
    assert_eq!(merged[0].matched_records, ["GHSA-aaaa", "RUSTSEC-2024-9"]);
    assert_eq!(merged[1].vulnerability_id, "GHSA-other");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs_err::write(&p, text).unwrap();
    p
}

#[test]
fn ignore_file_entries_apply_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "ignore.yaml",
        "ignore:\n  - id: GHSA-aaaa\n    reason: not reachable\n    expires: 2026-06-30\n  - id: CVE-2020-1\n    reason: old\n    expires: 2025-01-01\n  - id: CVE-9\n    reason: nothing\n",
    );
    let opts = TriageOptions {
        ignore: Some(IgnoreFile::load(&path).unwrap()),
        ..TriageOptions::default()
    };
    let out = triage(
        vec![
            finding("CVE-2024-1", &["GHSA-aaaa"], SeverityLevel::High, None),
            finding("CVE-2020-1", &[], SeverityLevel::High, None),
        ],
        &opts,
        NOW,
    );
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].vulnerability_id, "CVE-2020-1");
    assert_eq!(out.suppressed[0].reason, "not reachable");
    let stale: Vec<(&str, &str)> = out
        .stale_ignores
        .iter()
        .map(|s| (s.entry.id.as_str(), s.state))
        .collect();
    assert_eq!(stale, [("CVE-2020-1", "expired"), ("CVE-9", "unused")]);
}

#[test]
fn ignore_entry_without_reason_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "i.yaml", "ignore:\n  - id: CVE-1\n");
    let err = IgnoreFile::load(&path).unwrap_err().to_string();
    assert!(err.contains("reason"), "{err}");
}

#[test]
fn openvex_not_affected_suppresses_and_under_investigation_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "v.json",
        r#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[
          {"vulnerability":{"name":"CVE-2024-1"},"products":[{"@id":"pkg:oci/app","subcomponents":[{"@id":"pkg:cargo/openssl"}]}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"},
          {"vulnerability":{"name":"CVE-2024-2"},"products":[{"@id":"pkg:cargo/openssl@1.0.0"}],"status":"under_investigation"},
          {"vulnerability":{"name":"CVE-2024-3"},"products":[{"@id":"pkg:cargo/other"}],"status":"not_affected"}
        ]}"#,
    );
    let mut vex = Vex::default();
    vex.load(&path).unwrap();
    let opts = TriageOptions {
        vex,
        ..TriageOptions::default()
    };
    let out = triage(
        vec![
            finding("CVE-2024-1", &[], SeverityLevel::High, Some("2.0.0")),
            finding("CVE-2024-2", &[], SeverityLevel::High, Some("2.0.0")),
            finding("CVE-2024-3", &[], SeverityLevel::High, Some("2.0.0")),
        ],
        &opts,
        NOW,
    );
    let kept: Vec<(&str, &str)> = out
        .findings
        .iter()
        .map(|f| (f.vulnerability_id.as_str(), f.status))
        .collect();
    assert_eq!(
        kept,
        [
            ("CVE-2024-2", "under_investigation"),
            ("CVE-2024-3", "fixed")
        ]
    );
    assert_eq!(
        out.suppressed[0].reason,
        "vulnerable_code_not_in_execute_path"
    );
}

#[test]
fn unfixed_and_severity_filters() {
    let opts = TriageOptions {
        severities: vec![SeverityLevel::High, SeverityLevel::Critical],
        ignore_unfixed: true,
        ..TriageOptions::default()
    };
    let out = triage(
        vec![
            finding("A", &[], SeverityLevel::Critical, None),
            finding("B", &[], SeverityLevel::Medium, Some("2")),
            finding("C", &[], SeverityLevel::High, Some("2")),
        ],
        &opts,
        NOW,
    );
    assert_eq!(out.findings.len(), 1);
    assert_eq!(out.findings[0].vulnerability_id, "C");
    let by: Vec<&str> = out.suppressed.iter().map(|s| s.by.as_str()).collect();
    assert_eq!(by, ["ignore-unfixed", "severity"]);
}
