//! End to end: `slipway db import`, `slipway inventory` and `slipway scan vulns`
//! on an OCI image layout built here (gzip tar layers with a dpkg status file,
//! os-release and a package-lock.json, one layer whiting out a file of another).

#![allow(clippy::print_stderr, reason = "test diagnostics")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

fn slipway(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env("SLIPWAY_DATA_DIR", data)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn blob(layout: &Path, bytes: &[u8]) -> String {
    let hex = hex::encode(Sha256::digest(bytes));
    let dir = layout.join("blobs/sha256");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join(&hex), bytes).unwrap();
    format!("sha256:{hex}")
}

fn layer(files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

const DPKG_STATUS: &str = "Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u1

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1

";

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";

const PACKAGE_LOCK: &str = r#"{"name":"app","lockfileVersion":3,"packages":{"":{"name":"app"},
"node_modules/lodash":{"version":"4.17.20"},
"node_modules/left-pad":{"version":"1.3.0"}}}"#;

/// An image: layer 1 = OS, layer 2 = app + a stale lockfile, layer 3 whites the stale one out.
fn image(root: &Path) -> PathBuf {
    let layout = root.join("image");
    fs_err::create_dir_all(&layout).unwrap();
    fs_err::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let l1 = blob(
        &layout,
        &layer(&[
            ("etc/os-release", OS_RELEASE),
            ("var/lib/dpkg/status", DPKG_STATUS),
        ]),
    );
    let l2 = blob(
        &layout,
        &layer(&[
            ("app/package-lock.json", PACKAGE_LOCK),
            (
                "old/package-lock.json",
                r#"{"lockfileVersion":3,"packages":{"node_modules/minimist":{"version":"0.0.1"}}}"#,
            ),
        ]),
    );
    let l3 = blob(&layout, &layer(&[("old/.wh.package-lock.json", "")]));
    let config = blob(
        &layout,
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let layers: Vec<String> = [&l1, &l2, &l3]
        .iter()
        .map(|d| {
            format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{d}","size":1}}"#)
        })
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":1}},"layers":[{}]}}"#,
        layers.join(",")
    );
    let m = blob(&layout, manifest.as_bytes());
    fs_err::write(
        layout.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{m}","size":{}}}]}}"#,
            manifest.len()
        ),
    )
    .unwrap();
    layout
}

fn now_minus_days(days: i64) -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - days * 86_400;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T00:00:00Z")
}

/// OSV records: a Debian openssl advisory (source-package match), a CVE/GHSA
/// alias pair on lodash, an unfixed low one on left-pad, one on the whited-out minimist.
fn records(dir: &Path, modified: &str) {
    fs_err::create_dir_all(dir).unwrap();
    let write = |name: &str, json: String| fs_err::write(dir.join(name), json).unwrap();
    write(
        "DSA-5532-1.json",
        format!(
            r#"{{"id":"DSA-5532-1","modified":"{modified}","aliases":["CVE-2023-5363"],"summary":"openssl security update",
            "affected":[{{"package":{{"ecosystem":"Debian:12","name":"openssl"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"3.0.11-1~deb12u2"}}]}}]}}],
            "severity":[{{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}}],
            "references":[{{"type":"ADVISORY","url":"https://security-tracker.debian.org/tracker/DSA-5532-1"}}]}}"#
        ),
    );
    let lodash = |id: &str, alias: &str| {
        format!(
            r#"{{"id":"{id}","modified":"{modified}","aliases":["{alias}"],"summary":"Command injection in lodash",
            "affected":[{{"package":{{"ecosystem":"npm","name":"lodash"}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}},{{"fixed":"4.17.21"}}]}}]}}],
            "severity":[{{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}}]}}"#
        )
    };
    write(
        "GHSA-35jh-r3h4-6jhm.json",
        lodash("GHSA-35jh-r3h4-6jhm", "CVE-2021-23337"),
    );
    write(
        "CVE-2021-23337.json",
        lodash("CVE-2021-23337", "GHSA-35jh-r3h4-6jhm"),
    );
    write(
        "GHSA-left.json",
        format!(
            r#"{{"id":"GHSA-left-pad0-0000","modified":"{modified}","affected":[{{"package":{{"ecosystem":"npm","name":"left-pad"}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}}]}}]}}],
            "database_specific":{{"severity":"LOW"}}}}"#
        ),
    );
    write(
        "GHSA-minimist.json",
        format!(
            r#"{{"id":"GHSA-vh95-rmgr-6w4m","modified":"{modified}","affected":[{{"package":{{"ecosystem":"npm","name":"minimist"}},"ranges":[{{"type":"SEMVER","events":[{{"introduced":"0"}},{{"fixed":"0.2.1"}}]}}]}}],
            "database_specific":{{"severity":"CRITICAL"}}}}"#
        ),
    );
    write(
        "broken.json",
        "{\"id\": \"X\",\n\"affected\": [\n".to_owned(),
    );
}

#[test]
fn scan_vulns_on_an_oci_image_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let layout = image(tmp.path());

    // No database yet: a clear error, never a pass.
    let o = slipway(&data, &["scan", "vulns", layout.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("slipway db import"),
        "{}",
        text(&o)
    );

    let osv = tmp.path().join("osv");
    records(&osv, &now_minus_days(1));
    let o = slipway(&data, &["db", "import", osv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("5 added"), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("broken.json"),
        "{}",
        text(&o)
    );

    let o = slipway(&data, &["db", "status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("records: 5"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("Debian") && l.ends_with(" 1")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("npm") && l.ends_with(" 4")),
        "{out}"
    );

    // Inventory sees the dpkg packages with their distro and the live lockfile only.
    let o = slipway(
        &data,
        &["inventory", layout.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let inv: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut names: Vec<String> = inv["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p["name"].as_str().unwrap(),
                p["ecosystem"].as_str().unwrap(),
                p["source_file"].as_str().unwrap()
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "left-pad npm /app/package-lock.json",
            "libssl3 Debian:12 /var/lib/dpkg/status",
            "lodash npm /app/package-lock.json",
            "zlib1g Debian:12 /var/lib/dpkg/status",
        ]
    );

    // JSON: Trivy's fields, alias pair merged, why it matched.
    let o = slipway(
        &data,
        &[
            "scan",
            "vulns",
            layout.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut found: Vec<String> = Vec::new();
    for r in report["Results"].as_array().unwrap() {
        for v in r["Vulnerabilities"].as_array().unwrap() {
            found.push(format!(
                "{} {} {} {} {}",
                v["VulnerabilityID"].as_str().unwrap(),
                v["PkgName"].as_str().unwrap(),
                v["InstalledVersion"].as_str().unwrap(),
                v["FixedVersion"].as_str().unwrap_or("-"),
                v["Severity"].as_str().unwrap()
            ));
            if v["PkgName"] == "libssl3" {
                assert_eq!(v["SrcName"], "openssl");
                assert_eq!(v["MatchedBy"]["Ecosystem"], "Debian:12");
                assert_eq!(v["MatchedBy"]["Range"]["fixed"], "3.0.11-1~deb12u2");
                assert_eq!(v["Status"], "fixed");
                assert_eq!(v["CVSS"][0]["Score"], 7.5);
                assert!(v["PrimaryURL"].as_str().unwrap().contains("DSA-5532-1"));
            }
            if v["PkgName"] == "lodash" {
                assert_eq!(v["MatchedRecords"].as_array().unwrap().len(), 2);
            }
        }
    }
    found.sort();
    assert_eq!(
        found,
        [
            "CVE-2021-23337 lodash 4.17.20 4.17.21 HIGH",
            "CVE-2023-5363 libssl3 3.0.11-1~deb12u1 3.0.11-1~deb12u2 HIGH",
            "GHSA-left-pad0-0000 left-pad 1.3.0 - LOW",
        ]
    );

    // Threshold: only HIGH and above, unfixed ignored, an ignore file and a VEX statement.
    let ignore = tmp.path().join("ignore.yaml");
    fs_err::write(
        &ignore,
        "ignore:\n  - id: GHSA-35jh-r3h4-6jhm\n    reason: template input is trusted\n    expires: 2999-01-01\n  - id: CVE-2000-1\n    reason: old\n    expires: 2001-01-01\n",
    )
    .unwrap();
    let vex = tmp.path().join("vex.json");
    fs_err::write(
        &vex,
        r#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-2023-5363"},"products":[{"@id":"pkg:oci/app","subcomponents":[{"@id":"pkg:deb/debian/libssl3"}]}],"status":"not_affected","justification":"vulnerable_code_not_present"}]}"#,
    )
    .unwrap();
    let l = layout.to_str().unwrap();
    let o = slipway(
        &data,
        &[
            "scan",
            "vulns",
            l,
            "--severity",
            "HIGH+",
            "--ignore-file",
            ignore.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("CVE-2000-1 expired"),
        "{}",
        text(&o)
    );
    let o = slipway(
        &data,
        &[
            "scan",
            "vulns",
            l,
            "--severity",
            "HIGH,CRITICAL",
            "--ignore-file",
            ignore.to_str().unwrap(),
            "--vex",
            vex.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("0 vulnerabilities, 3 suppressed"), "{out}");
    assert!(out.contains("template input is trusted"), "{out}");
    let o = slipway(
        &data,
        &["scan", "vulns", l, "--ignore-unfixed", "--format", "sarif"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        2,
        "{sarif}"
    );

    // A database older than --max-db-age fails the scan.
    let o = slipway(&data, &["scan", "vulns", l, "--max-db-age", "1h"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("too old"),
        "{}",
        text(&o)
    );
}

#[test]
fn malformed_lockfile_is_reported_and_the_rest_scanned() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let osv = tmp.path().join("osv");
    records(&osv, &now_minus_days(0));
    let o = slipway(&data, &["db", "import", osv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let project = tmp.path().join("project");
    fs_err::create_dir_all(project.join("web")).unwrap();
    fs_err::write(project.join("web/package-lock.json"), PACKAGE_LOCK).unwrap();
    fs_err::write(
        project.join("pnpm-lock.yaml"),
        "lockfileVersion: '9.0'\npackages:\n  a@1.0.0: [unclosed\n",
    )
    .unwrap();
    let o = slipway(
        &data,
        &[
            "scan",
            "vulns",
            project.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let skipped = report["Skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{report}");
    assert!(
        skipped[0].as_str().unwrap().contains("pnpm-lock.yaml:3"),
        "{report}"
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("pnpm-lock.yaml:3"),
        "{}",
        text(&o)
    );
    assert_eq!(
        report["Results"][0]["Vulnerabilities"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
