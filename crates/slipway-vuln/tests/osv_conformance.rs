//! OSV conformance: runs `shared/conformance/osv` in place (see its INDEX.md) and
//! requires 100% on every section. The data root is `SLIPWAY_CONFORMANCE_DIR`,
//! default `../shared/conformance` next to the workspace.

#![allow(
    clippy::print_stdout,
    reason = "the conformance test reports what it skipped and its pass counts"
)]

use std::cmp::Ordering;
use std::path::PathBuf;

use slipway_vuln::version::{
    self, Ecosystem, alpine_is_valid, alpine_is_valid_feed_version, check_comparisons, go_is_valid,
};

/// The OSV conformance folder, or `None` (after printing why) when it is absent
/// outside CI. In CI a missing folder fails the test.
fn osv_root() -> Option<PathBuf> {
    let base = std::env::var_os("SLIPWAY_CONFORMANCE_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/conformance"
            ))
        },
        PathBuf::from,
    );
    let dir = base.join("osv");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "conformance data missing at {} (set SLIPWAY_CONFORMANCE_DIR)",
        dir.display()
    );
    println!(
        "skipped: OSV conformance data not found at {}",
        dir.display()
    );
    None
}

fn read(path: &std::path::Path) -> String {
    fs_err::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Collects failures of one section and fails once with all of them.
#[derive(Default)]
struct Tally {
    passed: usize,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
        } else {
            self.failures.push(what());
        }
    }

    fn finish(self, section: &str) {
        println!(
            "{section}: {} passed, {} failed",
            self.passed,
            self.failures.len()
        );
        assert!(
            self.failures.is_empty(),
            "{section}: {} failed (of {}):\n{}",
            self.failures.len(),
            self.passed + self.failures.len(),
            self.failures
                .iter()
                .take(40)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(self.passed > 0, "{section}: nothing was checked");
    }
}

#[test]
fn version_ordering_files() {
    let Some(root) = osv_root() else { return };
    let dir = root.join("versions");
    let files: &[(&str, &[Ecosystem])] = &[
        (
            "debian-versions.txt",
            &[Ecosystem::Debian, Ecosystem::Ubuntu],
        ),
        ("debian-versions-generated.txt", &[Ecosystem::Debian]),
        ("alpine-versions.txt", &[Ecosystem::Alpine]),
        ("alpine-versions-generated.txt", &[Ecosystem::Alpine]),
        ("pypi-versions.txt", &[Ecosystem::PyPI]),
        ("pypi-versions-generated.txt", &[Ecosystem::PyPI]),
        (
            "semver-versions.txt",
            &[
                Ecosystem::Npm,
                Ecosystem::CratesIo,
                Ecosystem::Go,
                Ecosystem::Hex,
            ],
        ),
        ("maven-versions.txt", &[Ecosystem::Maven]),
        ("maven-versions-generated.txt", &[Ecosystem::Maven]),
        ("rubygems-versions.txt", &[Ecosystem::RubyGems]),
        ("rubygems-versions-generated.txt", &[Ecosystem::RubyGems]),
        ("packagist-versions.txt", &[Ecosystem::Packagist]),
        ("packagist-versions-generated.txt", &[Ecosystem::Packagist]),
        ("osvdev-packagist_test_cases.txt", &[Ecosystem::Packagist]),
        ("nuget-versions.txt", &[Ecosystem::NuGet]),
        ("cran-versions.txt", &[Ecosystem::Cran]),
        ("cran-versions-generated.txt", &[Ecosystem::Cran]),
        ("pub-versions.txt", &[Ecosystem::Pub]),
        ("hackage-versions.txt", &[Ecosystem::Hackage]),
        ("redhat-versions.txt", &[Ecosystem::RedHat]),
    ];
    let mut tally = Tally::default();
    for (file, ecosystems) in files {
        let text = read(&dir.join(file));
        for eco in *ecosystems {
            let report = check_comparisons(*eco, &text);
            tally.passed += report.passed;
            for m in report.mismatches {
                tally.failures.push(format!(
                    "{file}:{} [{eco}] `{}`: {}",
                    m.line, m.text, m.problem
                ));
            }
        }
    }
    tally.finish("version ordering");
}

#[test]
fn pep440_sorted_list_is_strictly_ascending() {
    let Some(root) = osv_root() else { return };
    let text = read(&root.join("versions/pep440-sorted.txt"));
    let versions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("//"))
        .collect();
    let mut tally = Tally::default();
    for (i, a) in versions.iter().enumerate() {
        for b in &versions[i + 1..] {
            let got = version::compare(Ecosystem::PyPI, a, b);
            tally.check(got == Ok(Ordering::Less), || {
                format!("{a} < {b}: got {got:?}")
            });
        }
    }
    tally.finish("pep440-sorted");
}

#[test]
fn apk_tools_unit_data() {
    let Some(root) = osv_root() else { return };
    let text = read(&root.join("versions/apk-tools-version.data"));
    let mut tally = Tally::default();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [single] => {
                let (want_valid, v) = match single.strip_prefix('!') {
                    Some(v) => (false, v),
                    None => (true, *single),
                };
                let got = alpine_is_valid(v);
                tally.check(got == want_valid, || {
                    format!("line {}: `{v}` valid={got}, want {want_valid}", idx + 1)
                });
            }
            [a, op, b] => {
                let (negated, op) = match op.strip_prefix('!') {
                    Some(op) => (true, op),
                    None => (false, *op),
                };
                // Fuzzy operators (`~`, `<~`, `>~`) are apk dependency matching, not order.
                let expected = match op {
                    "<" => Ordering::Less,
                    "=" => Ordering::Equal,
                    ">" => Ordering::Greater,
                    _ => continue,
                };
                let ab = version::compare(Ecosystem::Alpine, a, b);
                let ba = version::compare(Ecosystem::Alpine, b, a);
                let ok = if negated {
                    ab != Ok(expected)
                } else {
                    ab == Ok(expected) && ba == Ok(expected.reverse())
                };
                tally.check(ok, || {
                    format!("line {}: `{raw}`: got {ab:?}/{ba:?}", idx + 1)
                });
            }
            _ => panic!(
                "apk-tools-version.data line {}: unexpected `{raw}`",
                idx + 1
            ),
        }
    }
    tally.finish("apk-tools version.data");
}

#[test]
fn osvdev_alpine_validity() {
    let Some(root) = osv_root() else { return };
    let mut tally = Tally::default();
    for (file, want) in [
        ("osvdev-alpine-valid_versions.txt", true),
        ("osvdev-alpine-invalid_versions.txt", false),
    ] {
        for line in read(&root.join("versions").join(file)).lines() {
            let v = line.trim();
            if v.is_empty() || v.starts_with('#') {
                continue;
            }
            let got = alpine_is_valid_feed_version(v);
            tally.check(got == want, || {
                format!("{file}: `{v}` valid={got}, want {want}")
            });
        }
    }
    tally.finish("osv.dev alpine validity");
}

#[test]
fn node_semver_comparisons() {
    let Some(root) = osv_root() else { return };
    let data: serde_json::Value =
        serde_json::from_str(&read(&root.join("versions/node-semver-compare.json"))).unwrap();
    let mut tally = Tally::default();
    for (key, expected) in [("greater", Ordering::Greater), ("equal", Ordering::Equal)] {
        for item in data[key].as_array().unwrap() {
            let a = item["a"].as_str().unwrap();
            let b = item["b"].as_str().unwrap();
            let ab = version::compare(Ecosystem::Npm, a, b);
            let ba = version::compare(Ecosystem::Npm, b, a);
            tally.check(ab == Ok(expected) && ba == Ok(expected.reverse()), || {
                format!("{key}: {a} vs {b}: got {ab:?}/{ba:?}")
            });
        }
    }
    tally.finish("node-semver");
}

#[test]
fn go_semver_and_pseudo_versions() {
    let Some(root) = osv_root() else { return };
    let data: serde_json::Value =
        serde_json::from_str(&read(&root.join("versions/go-semver.json"))).unwrap();
    let mut tally = Tally::default();
    let ordered: Vec<(&str, &str)> = data["ordered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap()))
        .collect();
    for (i, (a, ca)) in ordered.iter().enumerate() {
        tally.check(go_is_valid(a), || format!("{a} should be valid"));
        for (b, cb) in &ordered[i + 1..] {
            let expected = if ca == cb {
                Ordering::Equal
            } else {
                Ordering::Less
            };
            let got = version::compare(Ecosystem::Go, a, b);
            tally.check(got == Ok(expected), || {
                format!("{a} vs {b}: got {got:?}, want {expected:?}")
            });
        }
    }
    for v in data["invalid"].as_array().unwrap() {
        let v = v.as_str().unwrap();
        tally.check(!go_is_valid(v), || format!("{v} should be invalid"));
    }
    for p in data["pseudo"].as_array().unwrap() {
        let (pseudo, older) = (p["pseudo"].as_str().unwrap(), p["older"].as_str().unwrap());
        let got = version::compare(Ecosystem::Go, pseudo, older);
        tally.check(got == Ok(Ordering::Greater), || {
            format!("{pseudo} > {older}: got {got:?}")
        });
    }
    for p in data["pseudo_base"].as_array().unwrap() {
        let pseudo = p["pseudo"].as_str().unwrap();
        let release = pseudo.split('-').next().unwrap();
        let got = version::compare(Ecosystem::Go, pseudo, release);
        tally.check(go_is_valid(pseudo) && got == Ok(Ordering::Less), || {
            format!("{pseudo} < {release}: got {got:?}")
        });
    }
    tally.finish("go semver");
}

#[test]
fn range_cases() {
    use slipway_vuln::matching::{Query, Verdict, evaluate};
    use slipway_vuln::osv::Record;

    let Some(root) = osv_root() else { return };
    let data: serde_json::Value =
        serde_json::from_str(&read(&root.join("matching/range-cases.json"))).unwrap();
    let cases = data["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 23, "range-cases.json should hold 23 cases");
    let now = "2026-01-01T00:00:00Z";
    let mut tally = Tally::default();
    for case in cases {
        let id = case["id"].as_str().unwrap();
        let record: Record = serde_json::from_value(serde_json::json!({
            "id": id,
            "affected": case["affected"].clone(),
        }))
        .unwrap();
        let eco = case["query"]["ecosystem"].as_str().unwrap();
        let name = case["query"]["name"].as_str().unwrap();
        let mut case_ok = true;
        let mut problems = Vec::new();
        for (key, want) in [("affected_versions", true), ("unaffected_versions", false)] {
            for v in case[key].as_array().unwrap() {
                let v = v.as_str().unwrap();
                let q = Query {
                    ecosystem: eco,
                    name,
                    version: v,
                };
                let got = matches!(evaluate(&record, &q, now), Verdict::Affected(_));
                if got != want {
                    case_ok = false;
                    problems.push(format!("{v}: affected={got}, want {want}"));
                }
            }
        }
        if case["empty_version_affected"] == serde_json::Value::Bool(true) {
            // osv-scanner counts an unknown version as affected; we say "not assessed",
            // which must never read as clean.
            let q = Query {
                ecosystem: eco,
                name,
                version: "",
            };
            let got = evaluate(&record, &q, now);
            if !matches!(got, Verdict::NotAssessed | Verdict::Affected(_)) {
                case_ok = false;
                problems.push(format!("empty version: {got:?}"));
            }
        }
        tally.check(case_ok, || format!("{id}: {}", problems.join("; ")));
    }
    tally.finish("range cases");
}

#[test]
fn cvss_base_scores() {
    use slipway_vuln::cvss::{SeverityLevel, score};

    let Some(root) = osv_root() else { return };
    let mut tally = Tally::default();
    for file in [
        "cvss-v3.0-base.txt",
        "cvss-v3.1-base.txt",
        "cvss-v4.0-base-sample.txt",
    ] {
        for (idx, line) in read(&root.join("cvss").join(file)).lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [vector, want, rating] = parts.as_slice() else {
                panic!("{file}:{}: malformed line", idx + 1);
            };
            let want: f64 = want.parse().unwrap();
            let got = score(vector).map(|s| s.score);
            // The file rates 0.0 as NONE; Trivy's buckets call that UNKNOWN.
            let want_bucket = if *rating == "NONE" {
                SeverityLevel::Unknown
            } else {
                rating.parse().unwrap()
            };
            let ok = got.as_ref().is_ok_and(|g| {
                (g - want).abs() < 1e-9 && SeverityLevel::from_score(*g) == want_bucket
            });
            tally.check(ok, || {
                format!("{file}:{}: {vector}: got {got:?}, want {want}", idx + 1)
            });
        }
    }
    tally.finish("cvss");
}

/// Whether produced package `p` satisfies every field the expectation lists.
fn package_matches(p: &slipway_vuln::inventory::Package, want: &serde_json::Value) -> bool {
    let s = |k: &str| want.get(k).and_then(|v| v.as_str());
    let os = p.os.clone().unwrap_or_default();
    let opt_eq = |got: &Option<String>, k: &str| match s(k) {
        None => true,
        Some("") => got.as_deref().unwrap_or("").is_empty(),
        Some(w) => got.as_deref() == Some(w),
    };
    let mut ok = s("name") == Some(p.name.as_str()) && s("version").unwrap_or("") == p.version;
    if let Some(line) = want.get("line").and_then(|v| v.as_u64()) {
        ok &= p.line == Some(line as usize);
    }
    if let Some(groups) = want.get("dep_groups").and_then(|v| v.as_array()) {
        let mut w: Vec<&str> = groups.iter().filter_map(|g| g.as_str()).collect();
        let mut g: Vec<&str> = p.dep_groups.iter().map(String::as_str).collect();
        w.sort_unstable();
        g.sort_unstable();
        ok &= w == g;
    }
    ok &= opt_eq(&p.commit, "commit");
    ok &= opt_eq(&p.requirement, "requirement");
    ok &= opt_eq(&p.status, "status");
    ok &= opt_eq(&p.source_name, "source_name");
    ok &= opt_eq(&p.source_version, "source_version");
    ok &= opt_eq(&p.source_name, "origin");
    ok &= opt_eq(&p.architecture, "architecture");
    ok &= s("os_id").unwrap_or("") == os.id || want.get("os_id").is_none() && os.id.is_empty();
    ok &= s("os_version_id").unwrap_or("") == os.version_id;
    ok &= s("os_version_codename").unwrap_or("") == os.version_codename;
    ok &= want
        .get("vex_component_not_present")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
        == p.component_not_present;
    ok
}

#[test]
fn lockfile_extraction() {
    use slipway_vuln::inventory::{self, DpkgOptions, OsRelease};

    let Some(root) = osv_root() else { return };
    let mut tally = Tally::default();
    for folder in [
        "cargo-lock",
        "npm-package-lock",
        "pip-requirements",
        "poetry-lock",
        "go-mod",
        "dpkg-status",
        "apk-installed",
    ] {
        let dir = root.join("lockfiles").join(folder);
        let data: serde_json::Value =
            serde_json::from_str(&read(&dir.join("expected.json"))).unwrap();
        for case in data["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let path = dir.join(case["file"].as_str().unwrap());
            let os = case["os_release"].as_str().map(OsRelease::parse);
            let include_not_installed = case["config"]
                .as_str()
                .is_some_and(|c| c.contains("IncludeNotInstalled=true"));
            let text = || read(&path);
            let result = match folder {
                "cargo-lock" => inventory::parse_cargo_lock(&path, &text()),
                "npm-package-lock" => inventory::parse_package_lock(&path, &text()),
                "pip-requirements" => inventory::parse_requirements(&path),
                "poetry-lock" => inventory::parse_poetry_lock(&path, &text()),
                "go-mod" => inventory::parse_go_mod(&path, &text()),
                "dpkg-status" => inventory::parse_dpkg_status(
                    &path,
                    &text(),
                    os.as_ref(),
                    DpkgOptions {
                        include_not_installed,
                    },
                ),
                "apk-installed" => inventory::parse_apk_installed(&path, &text(), os.as_ref()),
                _ => unreachable!(),
            };
            let label = format!("{folder}/{name}");
            if case["expect_error"].as_bool() == Some(true) {
                tally.check(result.is_err(), || {
                    format!("{label}: expected an error, got {result:?}")
                });
                continue;
            }
            let packages = match result {
                Ok(p) => p,
                Err(e) => {
                    tally.check(false, || format!("{label}: unexpected error {e}"));
                    continue;
                }
            };
            let wanted = case["packages"].as_array().unwrap();
            let mut used = vec![false; packages.len()];
            let mut problems = Vec::new();
            for w in wanted {
                match (0..packages.len()).find(|&i| !used[i] && package_matches(&packages[i], w)) {
                    Some(i) => used[i] = true,
                    None => problems.push(format!("missing {w}")),
                }
            }
            for (i, p) in packages.iter().enumerate() {
                if !used[i] {
                    problems.push(format!(
                        "extra {} {} line={:?} groups={:?} commit={:?} req={:?} src={:?} os={:?}",
                        p.name,
                        p.version,
                        p.line,
                        p.dep_groups,
                        p.commit,
                        p.requirement,
                        p.source_name,
                        p.os
                    ));
                }
            }
            tally.check(problems.is_empty(), || {
                format!("{label}:\n    {}", problems.join("\n    "))
            });
        }
    }
    tally.finish("lockfile extraction");
}

#[test]
fn end_to_end_scans() {
    use std::collections::BTreeSet;

    use slipway_vuln::cvss::SeverityLevel;
    use slipway_vuln::inventory;
    use slipway_vuln::scan::{Advisories, scan};

    let Some(root) = osv_root() else { return };
    let e2e = root.join("e2e");
    let db = Advisories::load_dir(&e2e.join("db"));
    assert!(
        db.skipped.is_empty(),
        "unparseable records: {:?}",
        db.skipped
    );
    let data: serde_json::Value = serde_json::from_str(&read(&e2e.join("expected.json"))).unwrap();
    let mut tally = Tally::default();
    for s in data["scenarios"].as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        let mut packages = Vec::new();
        for input in s["inputs"].as_array().unwrap() {
            let path = e2e.join(input.as_str().unwrap());
            let inv = inventory::scan_path(&path);
            assert!(inv.skipped.is_empty(), "{id}: {:?}", inv.skipped);
            let file = path.file_name().unwrap().to_str().unwrap();
            if let Some(n) = s["packages_found"][file].as_u64() {
                let found = inv.packages.len();
                tally.check(found as u64 == n, || {
                    format!("{id}: {file}: {found} packages, want {n}")
                });
            }
            packages.extend(inv.packages);
        }
        let result = scan(&packages, &db, "2026-06-01T00:00:00Z");
        let got: BTreeSet<(String, String, String, Option<String>)> = result
            .findings
            .iter()
            .map(|f| {
                (
                    f.vulnerability_id.clone(),
                    f.matched_by.lookup_name.clone(),
                    f.installed_version.clone(),
                    f.fixed_version.clone(),
                )
            })
            .collect();
        let want: BTreeSet<(String, String, String, Option<String>)> = s["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["id"].as_str().unwrap().to_owned(),
                    f["package"].as_str().unwrap().to_owned(),
                    f["version"].as_str().unwrap().to_owned(),
                    f["fixed"].as_str().map(str::to_owned),
                )
            })
            .collect();
        tally.check(got == want, || {
            format!(
                "{id}: findings differ\n    missing: {:?}\n    extra: {:?}",
                want.difference(&got).collect::<Vec<_>>(),
                got.difference(&want).collect::<Vec<_>>()
            )
        });
        for f in s["findings"].as_array().unwrap() {
            let Some(want_score) = f.get("cvss").and_then(|c| c.as_f64()) else {
                continue;
            };
            let found = result
                .findings
                .iter()
                .find(|g| g.vulnerability_id == f["id"].as_str().unwrap());
            let score = found.and_then(|g| g.score());
            tally.check(score == Some(want_score), || {
                format!("{id}: {} cvss {score:?}, want {want_score}", f["id"])
            });
        }
        if let Some(summary) = s.get("summary").and_then(|v| v.as_object()) {
            for (bucket, n) in summary {
                let level: SeverityLevel = bucket.parse().unwrap();
                let count = result
                    .findings
                    .iter()
                    .filter(|f| f.severity == level)
                    .count() as u64;
                tally.check(Some(count) == n.as_u64(), || {
                    format!("{id}: {bucket} {count}, want {n}")
                });
            }
        }
    }
    tally.finish("end-to-end scans");
}
