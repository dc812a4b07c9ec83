//! Delivery metrics as DORA defines them, computed from the deployment
//! ledger (every sync the control plane observed), per application and
//! environment and overall:
//! - deployment frequency: successful deployments of a new revision per day
//!   over the window, and Four Keys' bucket (Daily: the median week has a
//!   deployment on 3 or more days; Weekly: the median week has one; Monthly:
//!   at least one in the window; Yearly otherwise);
//! - lead time for changes: commit time of the revision to its first
//!   successful sync (median; values <= 0 ignored, as Four Keys does);
//! - change failure rate: deployments of a new revision that failed (sync
//!   Failed/Error) or were rolled back by the next deployment, over all
//!   deployments of a new revision;
//! - failed deployment recovery time: from a failed deployment to the next
//!   successful deployment of that app and environment (median).
//!
//! Self-heal syncs re-apply a revision already deployed: they are counted
//! as drift corrections, not deployments.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Serialize;

use crate::events::Deployment;

/// The metrics for one scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dora {
    /// Application (`None` = all).
    pub app: Option<String>,
    /// Environment (`None` = all).
    pub env: Option<String>,
    /// Window length in days.
    pub window_days: i64,
    /// Deployments of a new revision (any result) in the window.
    pub deployments: usize,
    /// Of which succeeded.
    pub successful_deployments: usize,
    /// Successful deployments per day.
    pub deployment_frequency_per_day: f64,
    /// Daily, Weekly, Monthly, Yearly (None without deployments).
    pub deployment_frequency_bucket: String,
    /// Median lead time, seconds.
    pub lead_time_seconds: Option<f64>,
    /// Changes with a known commit time.
    pub lead_time_samples: usize,
    /// Failed ÷ deployments.
    pub change_failure_rate: Option<f64>,
    /// Failed deployments.
    pub failed_deployments: usize,
    /// Median recovery time, seconds.
    pub recovery_time_seconds: Option<f64>,
    /// Failed deployments that were recovered.
    pub recoveries: usize,
    /// Self-heal syncs (drift corrected).
    pub drift_corrections: usize,
}

fn parse(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn is_self_heal(d: &Deployment) -> bool {
    d.reason.starts_with("self-heal")
}

fn is_rollback(d: &Deployment) -> bool {
    d.reason.starts_with("rollback")
}

/// Computes the metrics of `deps` (any order) in the `window_days` before `now`.
pub fn compute(
    deps: &[Deployment],
    now: DateTime<Utc>,
    window_days: i64,
    app: Option<&str>,
    env: Option<&str>,
) -> Dora {
    let since = now - Duration::days(window_days);
    let mut scoped: Vec<(&Deployment, DateTime<Utc>)> = deps
        .iter()
        .filter(|d| app.is_none_or(|a| d.app == a) && env.is_none_or(|e| d.env == e))
        .filter_map(|d| parse(&d.finished_at).map(|t| (d, t)))
        .collect();
    scoped.sort_by_key(|(d, t)| (*t, d.app.clone(), d.history_id));

    // Classify per app and environment, in time order (history before the
    // window still decides whether a revision is new).
    let mut last_ok: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    let mut deployed_revisions: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    let mut changes: Vec<(usize, bool)> = Vec::new(); // (index in scoped, failed)
    let mut drift = 0;
    let mut lead = Vec::new();
    for (i, (d, t)) in scoped.iter().enumerate() {
        let key = (d.app.as_str(), d.env.as_str());
        let ok = d.result == "Succeeded";
        let same_revision = last_ok.get(&key) == Some(&d.revision.as_str());
        if is_self_heal(d) || (same_revision && !is_rollback(d)) {
            if *t >= since && is_self_heal(d) {
                drift += 1;
            }
        } else {
            if *t >= since {
                changes.push((i, !ok));
                if ok
                    && !deployed_revisions.contains(&(key.0, key.1, d.revision.as_str()))
                    && let Some(c) = d.commit_time.as_deref().and_then(parse)
                {
                    let secs = (*t - c).num_milliseconds() as f64 / 1000.0;
                    if secs > 0.0 {
                        lead.push(secs);
                    }
                }
            }
        }
        if ok {
            last_ok.insert(key, d.revision.as_str());
            deployed_revisions.insert((key.0, key.1, d.revision.as_str()));
        }
    }
    // A successful deployment undone by the next deployment (a rollback) failed too.
    for c in changes.iter_mut() {
        let (d, _) = scoped[c.0];
        let next = scoped[c.0 + 1..]
            .iter()
            .find(|(n, _)| n.app == d.app && n.env == d.env && !is_self_heal(n));
        if next.is_some_and(|(n, _)| is_rollback(n)) {
            c.1 = true;
        }
    }
    let mut recovery = Vec::new();
    for &(i, failed) in &changes {
        if !failed {
            continue;
        }
        let (d, t) = scoped[i];
        if let Some((_, rt)) = scoped[i + 1..].iter().find(|(n, _)| {
            n.app == d.app && n.env == d.env && n.result == "Succeeded" && !is_self_heal(n)
        }) {
            recovery.push((*rt - t).num_milliseconds() as f64 / 1000.0);
        }
    }
    let successful: Vec<DateTime<Utc>> = changes
        .iter()
        .filter(|(i, _)| scoped[*i].0.result == "Succeeded")
        .map(|(i, _)| scoped[*i].1)
        .collect();
    let failed = changes.iter().filter(|c| c.1).count();
    Dora {
        app: app.map(String::from),
        env: env.map(String::from),
        window_days,
        deployments: changes.len(),
        successful_deployments: successful.len(),
        deployment_frequency_per_day: successful.len() as f64 / window_days.max(1) as f64,
        deployment_frequency_bucket: bucket(&successful, now, window_days),
        lead_time_samples: lead.len(),
        lead_time_seconds: median(lead),
        change_failure_rate: (!changes.is_empty()).then(|| failed as f64 / changes.len() as f64),
        failed_deployments: failed,
        recoveries: recovery.len(),
        recovery_time_seconds: median(recovery),
        drift_corrections: drift,
    }
}

fn bucket(times: &[DateTime<Utc>], now: DateTime<Utc>, window_days: i64) -> String {
    if times.is_empty() {
        return "None".into();
    }
    let weeks = (window_days / 7).max(1);
    let mut days_per_week = vec![BTreeSet::new(); weeks as usize];
    let mut per_week = vec![0usize; weeks as usize];
    for t in times {
        let age = (now - *t).num_days();
        if age < 0 || age >= weeks * 7 {
            continue;
        }
        let w = (age / 7) as usize;
        days_per_week[w].insert(t.num_days_from_ce());
        per_week[w] += 1;
    }
    let days = median(days_per_week.iter().map(|d| d.len() as f64).collect()).unwrap_or(0.0);
    let count = median(per_week.iter().map(|&n| n as f64).collect()).unwrap_or(0.0);
    if days >= 3.0 {
        "Daily"
    } else if count >= 1.0 {
        "Weekly"
    } else {
        "Monthly"
    }
    .into()
}

/// The metrics overall and per (app, env) pair present in the ledger.
pub fn report(deps: &[Deployment], now: DateTime<Utc>, window_days: i64) -> (Dora, Vec<Dora>) {
    let pairs: BTreeSet<(String, String)> = deps
        .iter()
        .map(|d| (d.app.clone(), d.env.clone()))
        .collect();
    let overall = compute(deps, now, window_days, None, None);
    let per = pairs
        .iter()
        .map(|(a, e)| compute(deps, now, window_days, Some(a), Some(e)))
        .collect();
    (overall, per)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(id: u64, rev: &str, commit: &str, done: &str, result: &str, reason: &str) -> Deployment {
        Deployment {
            app: "web".into(),
            env: "prod".into(),
            history_id: id,
            revision: rev.into(),
            commit_time: (!commit.is_empty()).then(|| commit.to_string()),
            started_at: done.into(),
            finished_at: done.into(),
            result: result.into(),
            initiator: "automated".into(),
            reason: reason.into(),
        }
    }

    fn now() -> DateTime<Utc> {
        parse("2026-03-01T00:00:00Z").unwrap()
    }

    #[test]
    fn empty_ledger_has_no_rates() {
        let d = compute(&[], now(), 30, None, None);
        assert_eq!(d.deployments, 0);
        assert_eq!(d.change_failure_rate, None);
        assert_eq!(d.lead_time_seconds, None);
        assert_eq!(d.deployment_frequency_bucket, "None");
    }

    #[test]
    fn four_keys_from_a_history() {
        let deps = vec![
            // a: committed 1 h before its deployment.
            dep(
                0,
                "a",
                "2026-02-20T09:00:00Z",
                "2026-02-20T10:00:00Z",
                "Succeeded",
                "auto-sync to a",
            ),
            // self-heal of a: drift, not a deployment.
            dep(
                1,
                "a",
                "2026-02-20T09:00:00Z",
                "2026-02-20T11:00:00Z",
                "Succeeded",
                "self-heal: live state drifted from Git",
            ),
            // b fails; recovered 30 min later by c (committed 10 min before).
            dep(
                2,
                "b",
                "2026-02-21T09:00:00Z",
                "2026-02-21T10:00:00Z",
                "Failed",
                "auto-sync to b",
            ),
            dep(
                3,
                "c",
                "2026-02-21T10:20:00Z",
                "2026-02-21T10:30:00Z",
                "Succeeded",
                "auto-sync to c",
            ),
            // d succeeds but is rolled back to c: d counts as failed.
            dep(
                4,
                "d",
                "2026-02-22T09:00:00Z",
                "2026-02-22T09:30:00Z",
                "Succeeded",
                "auto-sync to d",
            ),
            dep(
                5,
                "c",
                "2026-02-21T10:20:00Z",
                "2026-02-22T10:30:00Z",
                "Succeeded",
                "rollback to history id 3",
            ),
            // Too old for the window.
            dep(
                6,
                "z",
                "2025-12-01T00:00:00Z",
                "2025-12-01T01:00:00Z",
                "Failed",
                "auto-sync to z",
            ),
        ];
        let mut shuffled = deps.clone();
        shuffled.reverse();
        let d = compute(&shuffled, now(), 30, Some("web"), Some("prod"));
        assert_eq!(d.deployments, 5, "a, b, c, d, rollback to c");
        assert_eq!(d.successful_deployments, 4);
        assert_eq!(d.failed_deployments, 2, "b failed, d rolled back");
        assert_eq!(d.change_failure_rate, Some(0.4));
        assert_eq!(d.drift_corrections, 1);
        // Lead times: a 3600 s, c 600 s, d 1800 s (c's redeploy is not a new change).
        assert_eq!(d.lead_time_samples, 3);
        assert_eq!(d.lead_time_seconds, Some(1800.0));
        // Recovery: b -> c 1800 s, d -> rollback 3600 s.
        assert_eq!(d.recoveries, 2);
        assert_eq!(d.recovery_time_seconds, Some(2700.0));
        assert!((d.deployment_frequency_per_day - 4.0 / 30.0).abs() < 1e-9);
        // Deployments in two of the four weeks: the median week has one.
        assert_eq!(d.deployment_frequency_bucket, "Weekly");
        let (all, per) = report(&deps, now(), 30);
        assert_eq!(all.deployments, 5);
        assert_eq!(per.len(), 1);
    }

    #[test]
    fn daily_bucket_when_most_weeks_have_three_deploy_days() {
        let mut deps = Vec::new();
        for day in 0..28 {
            let t = now() - Duration::days(day) - Duration::hours(1);
            deps.push(dep(
                day as u64,
                &format!("r{day}"),
                "",
                &t.to_rfc3339(),
                "Succeeded",
                "auto-sync",
            ));
        }
        let d = compute(&deps, now(), 28, None, None);
        assert_eq!(d.deployment_frequency_bucket, "Daily");
        assert_eq!(d.lead_time_seconds, None, "no commit times known");
    }
}
