//! The Prometheus metrics of the control plane (prometheus-client, text
//! exposition format). Metric names are fields of [`Metrics`], never strings
//! passed around; label values are bounded (operations, decisions, results,
//! app names, policy names).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `operation`, `decision`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AdmissionLabels {
    /// `validate` / `mutate`.
    pub operation: String,
    /// `allowed` / `denied` / `error`.
    pub decision: String,
}

/// `operation`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabel {
    /// `validate` / `mutate`.
    pub operation: String,
}

/// `policy`, `result`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    /// Policy name.
    pub policy: String,
    /// `pass` / `fail` / `error` / `skip`.
    pub result: String,
}

/// `result`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// `Succeeded` / `Failed` / `Error`, or `ok` / `error`.
    pub result: String,
}

/// `app`, `status`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppStatusLabels {
    /// Application.
    pub app: String,
    /// Destination environment.
    pub env: String,
    /// Health or sync status name.
    pub status: String,
}

/// `app`, `env`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppLabels {
    /// Application.
    pub app: String,
    /// Destination environment.
    pub env: String,
}

/// `store`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreLabel {
    /// `applications`, `history`, `events`, `deployments`, or an environment name.
    pub store: String,
}

fn admission_histogram() -> Histogram {
    // 50 µs .. ~1.6 s.
    Histogram::new(exponential_buckets(0.00005, 2.0, 16))
}

fn seconds_histogram() -> Histogram {
    // 1 ms .. ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Every metric the control plane exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Reconcile passes, by result.
    pub reconciles: Family<ResultLabel, Counter>,
    /// Reconcile pass durations.
    pub reconcile_duration: Histogram,
    /// Syncs by result.
    pub syncs: Family<ResultLabel, Counter>,
    /// 1 for the current health status of each app.
    pub app_health: Family<AppStatusLabels, Gauge>,
    /// 1 for the current sync status of each app.
    pub app_sync: Family<AppStatusLabels, Gauge>,
    /// Admission requests by operation and decision.
    pub admission_requests: Family<AdmissionLabels, Counter>,
    /// Admission latency by operation.
    pub admission_duration: Family<OperationLabel, Histogram>,
    /// Policy evaluations by policy and result.
    pub policy_evaluations: Family<PolicyLabels, Counter>,
    /// Git fetch durations.
    pub git_fetch_duration: Family<ResultLabel, Histogram>,
    /// Rows / objects per store.
    pub store_size: Family<StoreLabel, Gauge>,
    /// Policies loaded in the webhook.
    pub policies_loaded: Gauge,
    /// DORA: successful deployments per day (30-day window), per app and env.
    pub deployment_frequency: Family<AppLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// DORA: median lead time for changes, seconds.
    pub lead_time: Family<AppLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// DORA: change failure rate, 0..1.
    pub change_failure_rate: Family<AppLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// DORA: median failed deployment recovery time, seconds.
    pub recovery_time: Family<AppLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `slipway` prefix.
    pub fn new() -> Self {
        let mut r = Registry::with_prefix("slipway");
        let m = Self {
            registry: Mutex::new(Registry::default()),
            reconciles: Family::default(),
            reconcile_duration: seconds_histogram(),
            syncs: Family::default(),
            app_health: Family::default(),
            app_sync: Family::default(),
            admission_requests: Family::default(),
            admission_duration: Family::new_with_constructor(admission_histogram),
            policy_evaluations: Family::default(),
            git_fetch_duration: Family::new_with_constructor(seconds_histogram),
            store_size: Family::default(),
            policies_loaded: Gauge::default(),
            deployment_frequency: Family::default(),
            lead_time: Family::default(),
            change_failure_rate: Family::default(),
            recovery_time: Family::default(),
        };
        r.register(
            "reconciles",
            "Reconcile passes of the GitOps loop",
            m.reconciles.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "Duration of a reconcile pass",
            m.reconcile_duration.clone(),
        );
        r.register("syncs", "Syncs by result", m.syncs.clone());
        r.register(
            "app_health_status",
            "1 for the current health status of an application",
            m.app_health.clone(),
        );
        r.register(
            "app_sync_status",
            "1 for the current sync status of an application",
            m.app_sync.clone(),
        );
        r.register(
            "admission_requests",
            "Admission reviews by webhook operation and decision",
            m.admission_requests.clone(),
        );
        r.register(
            "admission_duration_seconds",
            "Admission review latency",
            m.admission_duration.clone(),
        );
        r.register(
            "policy_evaluations",
            "Policy evaluations by policy and result",
            m.policy_evaluations.clone(),
        );
        r.register(
            "git_fetch_duration_seconds",
            "Duration of Git fetches",
            m.git_fetch_duration.clone(),
        );
        r.register(
            "store_size",
            "Records per store (applications, history, events, objects per environment)",
            m.store_size.clone(),
        );
        r.register(
            "webhook_policies_loaded",
            "Policies the admission webhook evaluates",
            m.policies_loaded.clone(),
        );
        r.register(
            "dora_deployment_frequency_per_day",
            "Successful deployments per day over the last 30 days",
            m.deployment_frequency.clone(),
        );
        r.register(
            "dora_lead_time_seconds",
            "Median lead time for changes (commit to successful sync)",
            m.lead_time.clone(),
        );
        r.register(
            "dora_change_failure_rate",
            "Share of deployments that failed or were rolled back",
            m.change_failure_rate.clone(),
        );
        r.register(
            "dora_failed_deployment_recovery_time_seconds",
            "Median time from a failed deployment to the next successful one",
            m.recovery_time.clone(),
        );
        *m.registry.lock().unwrap_or_else(|e| e.into_inner()) = r;
        m
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    /// Counts one admission review.
    pub fn admission(&self, operation: &str, decision: &str, seconds: f64) {
        self.admission_requests
            .get_or_create(&AdmissionLabels {
                operation: operation.into(),
                decision: decision.into(),
            })
            .inc();
        self.admission_duration
            .get_or_create(&OperationLabel {
                operation: operation.into(),
            })
            .observe(seconds);
    }

    /// Counts one policy evaluation.
    pub fn policy(&self, policy: &str, result: &str) {
        self.policy_evaluations
            .get_or_create(&PolicyLabels {
                policy: policy.into(),
                result: result.into(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_text_format_with_prefix() {
        let m = Metrics::new();
        m.admission("validate", "denied", 0.0003);
        m.policy("disallow-latest-tag", "fail");
        let text = m.encode();
        assert!(
            text.contains(
                "slipway_admission_requests_total{operation=\"validate\",decision=\"denied\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("slipway_admission_duration_seconds_bucket"));
        assert!(text.contains(
            "slipway_policy_evaluations_total{policy=\"disallow-latest-tag\",result=\"fail\"} 1"
        ));
        assert!(text.ends_with("# EOF\n"));
    }
}
