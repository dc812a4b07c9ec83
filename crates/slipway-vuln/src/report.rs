//! Findings of the vulnerability scan in the platform's common model
//! (`slipway_report::Finding`), for the table, SARIF and JUnit renderers, and
//! as a CycloneDX 1.5 document with a `vulnerabilities` section.

use serde_json::{Value, json};
use slipway_report::{CheckId, Outcome, Severity, Source, SourceLocation};

use crate::cvss::SeverityLevel;
use crate::inventory::Package;
use crate::scan::Finding;

/// The report severity of a bucket; UNKNOWN becomes `info` (the finding's
/// `properties.Severity` keeps `UNKNOWN`).
pub fn report_severity(level: SeverityLevel) -> Severity {
    match level {
        SeverityLevel::Critical => Severity::Critical,
        SeverityLevel::High => Severity::High,
        SeverityLevel::Medium => Severity::Medium,
        SeverityLevel::Low => Severity::Low,
        SeverityLevel::Unknown => Severity::Info,
    }
}

/// One vulnerability finding as a report finding (check id = the vulnerability id).
pub fn to_report_finding(f: &Finding) -> slipway_report::Finding {
    let check = CheckId::new(f.vulnerability_id.to_ascii_lowercase())
        .unwrap_or_else(|_| CheckId::slugify(&f.vulnerability_id));
    let fix = match &f.fixed_version {
        Some(v) => format!("fixed in {v}"),
        None => "no fixed version known".to_owned(),
    };
    let via = match &f.src_name {
        Some(src) => format!(" (source package {src})"),
        None => String::new(),
    };
    let message = format!(
        "{} {}{via} is affected by {}{}; {fix}",
        f.pkg_name,
        f.installed_version,
        f.vulnerability_id,
        if f.aliases.is_empty() {
            String::new()
        } else {
            format!(" ({})", f.aliases.join(", "))
        },
    );
    let title = f
        .title
        .clone()
        .unwrap_or_else(|| format!("{} in {}", f.vulnerability_id, f.pkg_name));
    let mut out = slipway_report::Finding::new(
        check,
        Source::Vuln,
        report_severity(f.severity),
        Outcome::Fail,
        title,
        message,
    )
    .with_location(SourceLocation::new(
        f.target.clone(),
        0,
        f.line.unwrap_or(1),
    ));
    if let Some(u) = &f.primary_url {
        out = out.with_help_uri(u.clone());
    }
    if let Some(v) = &f.fixed_version {
        out = out.with_remediation(format!("upgrade {} to {v} or later", f.pkg_name));
    }
    if let Ok(Value::Object(map)) = serde_json::to_value(f) {
        out.properties = map;
    }
    if let Some(score) = f.score() {
        out.properties
            .insert("security-severity".to_owned(), json!(format!("{score:.1}")));
    }
    out
}

/// A CycloneDX 1.5 JSON document: the packages as components and, when
/// given, the findings as `vulnerabilities` referencing them.
pub fn cyclonedx(packages: &[Package], findings: &[Finding], timestamp: &str) -> Value {
    let mut refs: Vec<String> = Vec::new();
    let components: Vec<Value> = packages
        .iter()
        .map(|p| {
            let bom_ref = if p.purl.is_empty() {
                format!("{}@{}", p.name, p.version)
            } else {
                p.purl.clone()
            };
            refs.push(bom_ref.clone());
            let mut c = json!({
                "type": "library",
                "bom-ref": bom_ref,
                "name": p.name,
                "version": p.version,
            });
            if !p.purl.is_empty() {
                c["purl"] = json!(p.purl);
            }
            c["properties"] = json!([
                {"name": "slipway:ecosystem", "value": p.ecosystem},
                {"name": "slipway:source_file", "value": p.source_file},
            ]);
            if let (Some(s), Some(props)) = (&p.source_name, c["properties"].as_array_mut()) {
                props.push(json!({"name": "slipway:source_package", "value": s}));
            }
            c
        })
        .collect();
    let vulnerabilities: Vec<Value> = findings
        .iter()
        .map(|f| {
            let ratings: Vec<Value> = f
                .cvss
                .iter()
                .map(|c| {
                    let method = if c.vector.starts_with("CVSS:4") {
                        "CVSSv4"
                    } else if c.vector.starts_with("CVSS:3") {
                        "CVSSv31"
                    } else {
                        "CVSSv2"
                    };
                    json!({"score": c.score, "method": method, "vector": c.vector,
                           "severity": format!("{:?}", f.severity).to_lowercase()})
                })
                .collect();
            let bom_ref = if f.purl.is_empty() {
                format!("{}@{}", f.pkg_name, f.installed_version)
            } else {
                f.purl.clone()
            };
            let mut v = json!({
                "id": f.vulnerability_id,
                "ratings": ratings,
                "affects": [{"ref": bom_ref}],
            });
            if let Some(u) = &f.primary_url {
                v["source"] = json!({"url": u});
            }
            if let Some(t) = &f.title {
                v["description"] = json!(t);
            }
            if !f.aliases.is_empty() {
                v["references"] = Value::Array(
                    f.aliases
                        .iter()
                        .map(|a| json!({"id": a, "source": {"name": "alias"}}))
                        .collect(),
                );
            }
            if let Some(fix) = &f.fixed_version {
                v["recommendation"] = json!(format!("upgrade {} to {fix}", f.pkg_name));
            }
            v
        })
        .collect();
    let mut doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": [{"vendor": "slipway", "name": "slipway", "version": env!("CARGO_PKG_VERSION")}],
        },
        "components": components,
    });
    if !findings.is_empty() {
        doc["vulnerabilities"] = Value::Array(vulnerabilities);
    }
    doc
}

/// An SPDX 2.3 JSON document listing the packages.
pub fn spdx(packages: &[Package], name: &str, timestamp: &str) -> Value {
    let pkgs: Vec<Value> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut v = json!({
                "SPDXID": format!("SPDXRef-Package-{i}"),
                "name": p.name,
                "versionInfo": p.version,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "sourceInfo": format!("found in {}", p.source_file),
            });
            if !p.purl.is_empty() {
                v["externalRefs"] = json!([{
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": p.purl,
                }]);
            }
            v
        })
        .collect();
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://slipway.invalid/spdx/{}-{}", name.replace(['/', ' '], "-"), timestamp.replace(':', "")),
        "creationInfo": {"created": timestamp, "creators": [format!("Tool: slipway-{}", env!("CARGO_PKG_VERSION"))]},
        "packages": pkgs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Inventory, scan_path};

    #[test]
    fn cyclonedx_and_spdx_round_trip_through_our_sbom_readers() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join("package-lock.json"),
            r#"{"lockfileVersion":3,"packages":{"":{},"node_modules/@s/x":{"version":"1.2.3"}}}"#,
        )
        .unwrap();
        let Inventory { packages, .. } = scan_path(dir.path());
        let cdx = cyclonedx(&packages, &[], "2026-01-01T00:00:00Z");
        let cdx_path = dir.path().join("out.cdx.json");
        fs_err::write(&cdx_path, cdx.to_string()).unwrap();
        let back = scan_path(&cdx_path);
        assert_eq!(back.packages.len(), 1, "{:?}", back.skipped);
        assert_eq!(back.packages[0].name, "@s/x");
        assert_eq!(back.packages[0].version, "1.2.3");
        assert_eq!(back.packages[0].ecosystem, "npm");

        let sp = spdx(&packages, "t", "2026-01-01T00:00:00Z");
        let sp_path = dir.path().join("out.spdx.json");
        fs_err::write(&sp_path, sp.to_string()).unwrap();
        let back = scan_path(&sp_path);
        assert_eq!(back.packages.len(), 1, "{:?}", back.skipped);
        assert_eq!(back.packages[0].version, "1.2.3");
    }
}
