//! KubeSec results as the platform's [`Finding`]s, for SARIF, JUnit and `slipway check`.
//!
//! Per object: one `kubesec-score` finding (pass when the score is above the threshold), one
//! failing finding per critical rule, a warning per unmet advisory rule and a pass per met
//! one; a schema-invalid object gives a single `kubesec-schema-invalid` error instead.

use serde_json::Value;
use slipway_report::{CheckId, Finding, ObjectRef, Outcome, Severity, Source};

use super::report::{KubesecReport, RuleRef};
use super::rules::RULES;

/// The check id of a rule: its id in kebab case (`RunAsNonRoot` → `kubesec-run-as-non-root`).
pub fn check_id(rule_id: &str) -> String {
    let mut out = String::from("kubesec");
    let chars: Vec<char> = rule_id.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let boundary = c.is_ascii_uppercase()
            && (i == 0
                || chars[i - 1].is_ascii_lowercase()
                || chars.get(i + 1).is_some_and(char::is_ascii_lowercase));
        if boundary || i == 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// How serious a matched critical rule is, from its points.
pub fn severity(points: i64) -> Severity {
    match points {
        p if p <= -30 => Severity::Critical,
        p if p <= -7 => Severity::High,
        p if p <= -3 => Severity::Medium,
        p if p < 0 => Severity::Low,
        _ => Severity::Info,
    }
}

fn id(text: &str) -> CheckId {
    CheckId::new(text).unwrap_or_else(|_| CheckId::slugify(text))
}

fn rule_finding(entry: &RuleRef, result: Outcome, object: &str) -> Finding {
    let message = match result {
        Outcome::Fail => format!("{object}: {} ({} points)", entry.selector, entry.points),
        Outcome::Pass => format!("{object}: {} (+{} points)", entry.selector, entry.points),
        _ => format!(
            "{object}: could gain {} points: {}",
            entry.points, entry.selector
        ),
    };
    Finding::new(
        id(&check_id(entry.id)),
        Source::Kubesec,
        severity(entry.points),
        result,
        entry.reason,
        message,
    )
    .with_score(entry.points)
    .with_property("selector", entry.selector)
}

/// The findings of one scored object. `object` is the scored value (for the object
/// reference); the report's location, when set, is attached to every finding.
pub fn findings(report: &KubesecReport, object: &Value, min_score: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    if report.valid {
        let passed = report.score > min_score;
        out.push(
            Finding::new(
                id("kubesec-score"),
                Source::Kubesec,
                if passed {
                    Severity::Info
                } else {
                    Severity::Medium
                },
                if passed { Outcome::Pass } else { Outcome::Fail },
                format!("KubeSec score above {min_score}"),
                format!("{}: {}", report.object, report.message),
            )
            .with_score(report.score),
        );
        for e in &report.scoring.critical {
            out.push(rule_finding(e, Outcome::Fail, &report.object));
        }
        for e in &report.scoring.passed {
            out.push(rule_finding(e, Outcome::Pass, &report.object));
        }
        for e in &report.scoring.advise {
            out.push(rule_finding(e, Outcome::Warn, &report.object));
        }
    } else {
        out.push(Finding::new(
            id("kubesec-schema-invalid"),
            Source::Kubesec,
            Severity::High,
            Outcome::Error,
            "Object must be valid against the Kubernetes schema",
            format!("{}: {}", report.object, report.message),
        ));
    }
    let object_ref = object.is_object().then(|| ObjectRef::of(object));
    for f in &mut out {
        f.object.clone_from(&object_ref);
        f.location.clone_from(&report.location);
    }
    out
}

/// Every rule's check id, for catalogues and uniqueness tests.
pub fn check_ids() -> Vec<String> {
    RULES.iter().map(|r| check_id(r.id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubesec::Scorer;
    use serde_json::json;

    #[test]
    fn kebab_case_ids_are_unique_and_valid() {
        assert_eq!(check_id("RunAsNonRoot"), "kubesec-run-as-non-root");
        assert_eq!(check_id("HostPID"), "kubesec-host-pid");
        assert_eq!(check_id("LimitsCPU"), "kubesec-limits-cpu");
        assert_eq!(
            check_id("VolumeClaimAccessModeReadWriteOnce"),
            "kubesec-volume-claim-access-mode-read-write-once"
        );
        let mut ids = check_ids();
        assert!(
            ids.iter().all(|i| CheckId::new(i.as_str()).is_ok()),
            "{ids:?}"
        );
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 30);
    }

    #[test]
    fn findings_of_a_failing_pod() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}});
        let report = Scorer::new().score(&pod, "pod.yaml");
        let f = findings(&report, &pod, 0);
        assert_eq!(f[0].check_id.as_str(), "kubesec-score");
        assert_eq!(f[0].result, Outcome::Fail);
        assert_eq!(f[1].check_id.as_str(), "kubesec-privileged");
        assert_eq!(f[1].severity, Severity::Critical);
        assert_eq!(f[1].object.as_ref().map(|o| o.name.as_str()), Some("p"));
    }
}
