//! KubeSec conformance: every fixture of `shared/conformance/kubesec` against `expected.yaml`,
//! in both modes (strict schema validation, and rules only), plus the rule table against
//! `rules.yaml`. The data is read in place; `SLIPWAY_CONFORMANCE_DIR` overrides its root.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use slipway_model::Document;
use slipway_scan::input::{InputError, read_text};
use slipway_scan::kubesec::{self, KubesecReport, RuleRef, Scorer};

fn conformance_dir() -> Option<PathBuf> {
    let root = std::env::var_os("SLIPWAY_CONFORMANCE_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/conformance"
            ))
        },
        PathBuf::from,
    );
    let dir = root.join("kubesec");
    if dir.join("expected.yaml").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "conformance data missing at {} (CI is set)",
        dir.display()
    );
    println!(
        "skipped: kubesec conformance data not found at {}",
        dir.display()
    );
    None
}

fn load_yaml(path: &Path) -> Value {
    let text = fs_err::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// Counts checks and collects failures, so one run shows every mismatch.
#[derive(Default)]
struct Tally {
    checks: usize,
    failures: Vec<String>,
}

impl Tally {
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        self.checks += 1;
        if got != want {
            self.failures
                .push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }
}

fn read_all(text: &str, label: &str) -> (Vec<Document>, Vec<InputError>) {
    let (mut docs, mut errors) = (Vec::new(), Vec::new());
    read_text(text, label, &mut |r| match r {
        Ok(d) => docs.push(d),
        Err(e) => errors.push(e),
    });
    (docs, errors)
}

fn ids(bucket: &[RuleRef]) -> Vec<String> {
    bucket.iter().map(|r| r.id.to_string()).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn check_buckets(t: &mut Tally, what: &str, report: &KubesecReport, want: &Value) {
    if let Some(score) = want.get("score").and_then(Value::as_i64) {
        t.eq(&format!("{what} score"), report.score, score);
    }
    if let Some(message) = want.get("message").and_then(Value::as_str) {
        t.eq(&format!("{what} message"), report.message.as_str(), message);
    }
    for bucket in ["critical", "passed", "advise"] {
        if let Some(list) = want.get(bucket) {
            let got = match bucket {
                "critical" => ids(&report.scoring.critical),
                "passed" => ids(&report.scoring.passed),
                _ => ids(&report.scoring.advise),
            };
            t.eq(&format!("{what} {bucket}"), got, strings(list));
        }
    }
}

/// Exit status as the CLI computes it: 1 on input errors, else 0 when every object scores > 0.
fn exit_code(reports: &[KubesecReport], errors: usize) -> i64 {
    if errors > 0 {
        1
    } else if kubesec::all_pass(reports, 0) {
        0
    } else {
        2
    }
}

fn check_documents(t: &mut Tally, name: &str, text: &str, label: &str, derived: &Value) {
    let (docs, errors) = read_all(text, label);
    let want_docs = derived
        .get("documents")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if derived.get("error").is_some() || derived.get("status").and_then(Value::as_i64) == Some(400)
    {
        t.eq(
            &format!("{name} input error reported"),
            !errors.is_empty(),
            true,
        );
    }
    if let Some(code) = derived.get("cli_exit_code").and_then(Value::as_i64) {
        let reports: Vec<_> = docs
            .iter()
            .map(|d| Scorer::new().score(&d.object, label))
            .collect();
        t.eq(
            &format!("{name} exit code"),
            exit_code(&reports, errors.len()),
            code,
        );
    }
    if let Some(code) = derived
        .get("cli_exit_code_without_validation")
        .and_then(Value::as_i64)
    {
        let scorer = Scorer::new().with_schema(false);
        let reports: Vec<_> = docs
            .iter()
            .map(|d| scorer.score(&d.object, label))
            .collect();
        t.eq(
            &format!("{name} exit code (rules only)"),
            exit_code(&reports, errors.len()),
            code,
        );
    }
    if want_docs.is_empty() {
        return;
    }
    t.eq(
        &format!("{name} document count"),
        docs.len(),
        want_docs.len(),
    );
    for (i, (doc, want)) in docs.iter().zip(&want_docs).enumerate() {
        let what = format!("{name}#{i}");
        let rules_only = Scorer::new().with_schema(false).score(&doc.object, label);
        let default = Scorer::new().score(&doc.object, label);
        if let Some(object) = want.get("object").and_then(Value::as_str) {
            t.eq(
                &format!("{what} object"),
                rules_only.object.as_str(),
                object,
            );
        }
        if let Some(valid) = want.get("schema_valid").and_then(Value::as_bool) {
            t.eq(&format!("{what} schema_valid"), default.valid, valid);
        }
        if let Some(ro) = want.get("rules_only") {
            // Upstream crashes on these inputs; we only require a report.
            if ro.get("crash").is_none() {
                t.eq(
                    &format!("{what} [rules only] valid"),
                    rules_only.valid,
                    true,
                );
                check_buckets(t, &format!("{what} [rules only]"), &rules_only, ro);
            }
        }
        if let Some(dm) = want.get("default_mode")
            && let Some(valid) = dm.get("valid").and_then(Value::as_bool)
        {
            {
                t.eq(&format!("{what} [default] valid"), default.valid, valid);
                if valid {
                    check_buckets(t, &format!("{what} [default]"), &default, dm);
                    // A valid object scores exactly as in rules-only mode.
                    if let Some(ro) = want.get("rules_only").filter(|r| r.get("crash").is_none()) {
                        check_buckets(t, &format!("{what} [default]"), &default, ro);
                    }
                } else {
                    t.eq(&format!("{what} [default] score"), default.score, 0);
                    t.eq(
                        &format!("{what} [default] empty scoring"),
                        default.scoring.clone(),
                        Default::default(),
                    );
                }
            }
        }
    }
    for (key, want) in derived.as_object().into_iter().flatten() {
        let Some(list) = key.strip_prefix("with_rules_") else {
            continue;
        };
        let ids: Vec<&str> = list.split('_').collect();
        let scorer = Scorer::new().with_schema(false).with_rules(&ids).unwrap();
        if let Some(doc) = docs.first() {
            check_buckets(
                t,
                &format!("{name} {key}"),
                &scorer.score(&doc.object, label),
                want,
            );
        }
    }
}

fn check_rule_table(t: &mut Tally, dir: &Path) {
    let rules = load_yaml(&dir.join("rules.yaml"));
    let list = rules["rules"].as_array().unwrap();
    t.eq("rule count", kubesec::RULES.len(), list.len());
    for (want, got) in list.iter().zip(kubesec::RULES) {
        let id = want["id"].as_str().unwrap();
        t.eq("rule order", got.id, id);
        t.eq(
            &format!("{id} selector"),
            got.selector,
            want["selector"].as_str().unwrap(),
        );
        t.eq(
            &format!("{id} points"),
            got.points,
            want["points"].as_i64().unwrap(),
        );
        t.eq(
            &format!("{id} advise"),
            got.advise,
            want["advise_weight"].as_i64().unwrap(),
        );
        let kinds: Vec<String> = got.kinds.iter().map(|k| k.to_string()).collect();
        t.eq(&format!("{id} kinds"), kinds, strings(&want["kinds"]));
    }
}

#[test]
fn kubesec_conformance() {
    let Some(dir) = conformance_dir() else { return };
    let expected = load_yaml(&dir.join("expected.yaml"));
    let fixtures = expected["fixtures"].as_object().unwrap();
    let mut t = Tally::default();
    check_rule_table(&mut t, &dir);
    let mut fixture_failures = 0;
    for (name, spec) in fixtures {
        let before = t.failures.len();
        let text = fs_err::read_to_string(dir.join("fixtures").join(name)).unwrap();
        match spec["kind"].as_str() {
            Some("rule_count") => {
                let (docs, errors) = read_all(&text, name);
                t.eq(&format!("{name} parses"), errors.len(), 0);
                let object = docs
                    .first()
                    .map(|d| d.object.clone())
                    .unwrap_or(Value::Null);
                let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
                for a in spec["asserted"].as_array().into_iter().flatten() {
                    let id = a["rule"].as_str().unwrap();
                    let rule = kubesec::rule(id).unwrap();
                    t.eq(
                        &format!("{name} {id} count"),
                        rule.count(&object, kind) as i64,
                        a["count"].as_i64().unwrap(),
                    );
                }
            }
            _ => {
                let derived = &spec["derived"];
                check_documents(&mut t, name, &text, name, derived);
                if let Some(http) = derived.get("http_mode") {
                    // The HTTP endpoint strips a leading `file=` (form upload) before scanning.
                    let body = text.strip_prefix("file=").unwrap_or(&text);
                    check_documents(&mut t, &format!("{name} (http)"), body, "API", http);
                }
            }
        }
        if t.failures.len() > before {
            fixture_failures += 1;
        }
    }
    let passed = fixtures.len() - fixture_failures;
    println!(
        "kubesec conformance: {passed}/{} fixtures ({:.1}%), {}/{} checks",
        fixtures.len(),
        100.0 * passed as f64 / fixtures.len() as f64,
        t.checks - t.failures.len(),
        t.checks
    );
    assert!(
        t.failures.is_empty(),
        "{} failures:\n{}",
        t.failures.len(),
        t.failures.join("\n")
    );
}
