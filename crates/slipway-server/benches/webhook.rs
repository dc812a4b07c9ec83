//! Admission webhook latency and throughput on loopback over HTTPS, with the
//! issue's target: p99 < 2 ms at 1,000 requests/s on this machine.
//!
//! - **Policies:** the 20 most commonly deployed policies of the Kyverno
//!   corpus: the 13 Pod Security Standards policies (baseline and restricted)
//!   and the 7 best-practice policies every Kyverno quick start installs
//!   (latest tag, labels, requests/limits, probes, registries, default
//!   namespace, NET_RAW), read in place from `SLIPWAY_CONFORMANCE_DIR`.
//! - **Payloads:** AdmissionReview v1 CREATE requests wrapping every
//!   resource those 20 suites test (the Pods, Deployments, CronJobs, ... of
//!   kyverno/policies), sent round robin: a mix of allowed and denied.
//! - **Server:** the webhook router behind `serve_tls` (rustls, the
//!   generated CA), on its own two-worker runtime as `slipway serve` runs it.
//! - **Load:** an open-loop Rust generator (reqwest + rustls, keep-alive,
//!   trusting only the generated CA) sending at a fixed rate regardless of
//!   answers, so a slow server cannot slow the offered load; latency is from
//!   send to full answer, client overhead included.
//!
//! Reports p50/p90/p99/p99.9/max at 1,000 requests/s, then steps the rate
//! up until it is no longer sustained (achieved < 98% of offered, or p99 over
//! 10 ms; or down by halves when 1,000 is not) and reports the highest
//! sustained rate. Run:
//!
//! ```sh
//! cargo bench -p slipway-server --bench webhook
//! ```
//!
//! `SLIPWAY_BENCH_SECONDS` sets the seconds per rate (default 10). Skips with
//! a message when the corpus is missing.

#![allow(clippy::print_stdout, reason = "a benchmark reports its figures")]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slipway_server::metrics::Metrics;
use slipway_server::tls::{default_hosts, ensure_self_signed};
use slipway_server::webhook::{PolicyStore, WebhookState, router, serve_tls};

/// The 20 policies (suite paths in the corpus).
const POLICIES: [&str; 20] = [
    "pod-security/baseline/disallow-host-namespaces",
    "pod-security/baseline/disallow-host-path",
    "pod-security/baseline/disallow-host-ports",
    "pod-security/baseline/disallow-host-process",
    "pod-security/baseline/disallow-privileged-containers",
    "pod-security/baseline/disallow-selinux",
    "pod-security/baseline/restrict-apparmor-profiles",
    "pod-security/baseline/restrict-seccomp",
    "pod-security/baseline/restrict-sysctls",
    "pod-security/restricted/require-run-as-non-root-user",
    "pod-security/restricted/require-run-as-nonroot",
    "pod-security/restricted/restrict-seccomp-strict",
    "pod-security/restricted/restrict-volume-types",
    "best-practices/disallow-latest-tag",
    "best-practices/require-labels",
    "best-practices/require-pod-requests-limits",
    "best-practices/require-probes",
    "best-practices/restrict-image-registries",
    "best-practices/disallow-default-namespace",
    "best-practices/require-drop-cap-net-raw",
];

/// A rate is sustained when at least this share of the offered requests
/// was answered within the run...
const SUSTAINED_SHARE: f64 = 0.98;
/// ...and the p99 stayed under this.
const SUSTAINED_P99: Duration = Duration::from_millis(10);

fn conformance() -> PathBuf {
    std::env::var_os("SLIPWAY_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        })
}

/// Copies the 20 policy files into `dir`; returns the resource files their
/// suites test.
fn stage_policies(kyverno: &Path, dir: &Path) -> Vec<PathBuf> {
    fs_err::create_dir_all(dir).expect("policy dir");
    let index: Value = serde_json::from_str(
        &fs_err::read_to_string(kyverno.join("index.json")).expect("index.json"),
    )
    .expect("index.json parses");
    let mut resources = Vec::new();
    for suite in POLICIES {
        let name = suite.rsplit('/').next().unwrap_or(suite);
        let policy = kyverno.join(suite).join(format!("{name}.yaml"));
        fs_err::copy(&policy, dir.join(format!("{name}.yaml"))).expect("copy policy");
        let entry = index["suites"]
            .as_array()
            .expect("suites")
            .iter()
            .find(|s| s["suite"].as_str() == Some(suite))
            .unwrap_or_else(|| panic!("{suite} is not in index.json"));
        for f in entry["files"].as_array().expect("files") {
            let f = f.as_str().unwrap_or_default();
            let path = kyverno.join(f);
            if f.ends_with("kyverno-test.yaml") || path == policy || resources.contains(&path) {
                continue;
            }
            resources.push(path);
        }
    }
    resources
}

/// One AdmissionReview (CREATE) per Kubernetes object in `files`.
fn reviews(files: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in files {
        let Ok(docs) = slipway_manifests::load_path(f) else {
            continue;
        };
        for d in docs {
            let obj = d.object;
            let (Some(kind), Some(api)) = (
                obj.get("kind").and_then(Value::as_str),
                obj.get("apiVersion").and_then(Value::as_str),
            ) else {
                continue;
            };
            // Values files, exceptions and test manifests are not admitted objects.
            if api.contains("kyverno.io") || api.starts_with("cli.") {
                continue;
            }
            let (group, version) = api.split_once('/').unwrap_or(("", api));
            let name = obj
                .pointer("/metadata/name")
                .cloned()
                .unwrap_or(Value::Null);
            let namespace = obj
                .pointer("/metadata/namespace")
                .cloned()
                .unwrap_or_else(|| json!("default"));
            let n = out.len();
            let review = json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "request": {
                    "uid": format!("00000000-0000-4000-8000-{n:012}"),
                    "kind": {"group": group, "version": version, "kind": kind},
                    "resource": {"group": group, "version": version,
                                 "resource": format!("{}s", kind.to_lowercase())},
                    "name": name,
                    "namespace": namespace,
                    "operation": "CREATE",
                    "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
                    "object": obj,
                    "oldObject": null,
                    "dryRun": false,
                    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
                }
            });
            out.push(serde_json::to_vec(&review).expect("review serialises"));
        }
    }
    out
}

/// What one run at a fixed rate measured.
struct Run {
    offered: f64,
    achieved: f64,
    answered: usize,
    errors: usize,
    denied: usize,
    warned: usize,
    latencies: Vec<Duration>,
}

impl Run {
    fn pct(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::MAX;
        }
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1]
    }

    fn sustained(&self) -> bool {
        self.achieved >= self.offered * SUSTAINED_SHARE && self.pct(0.99) <= SUSTAINED_P99
    }

    fn print(&self) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{:>7.0} rps offered {:>7.0} answered/s  p50 {:>6.3} ms  p90 {:>6.3} ms  p99 {:>6.3} ms  p99.9 {:>7.3} ms  max {:>7.3} ms  ({} answers: {} denied, {} allowed with warnings; {} errors)",
            self.offered,
            self.achieved,
            ms(self.pct(0.50)),
            ms(self.pct(0.90)),
            ms(self.pct(0.99)),
            ms(self.pct(0.999)),
            self.latencies.last().copied().map(ms).unwrap_or(f64::NAN),
            self.answered,
            self.denied,
            self.warned,
            self.errors,
        );
    }
}

/// Sends `rate` requests per second for `seconds`, open loop: every
/// millisecond the requests due by then are started, each in its own task.
async fn run(
    http: &reqwest::Client,
    url: &str,
    bodies: &Arc<Vec<Vec<u8>>>,
    rate: f64,
    seconds: f64,
) -> Run {
    let total = (rate * seconds) as usize;
    let results = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let denied = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let warned = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now();
    let mut sent = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while sent < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate) as usize + 1).min(total);
        while sent < due {
            let body = bodies[sent % bodies.len()].clone();
            let (http, url) = (http.clone(), url.to_string());
            let (results, errors, denied, warned) = (
                results.clone(),
                errors.clone(),
                denied.clone(),
                warned.clone(),
            );
            tasks.spawn(async move {
                let t0 = Instant::now();
                let answer = async {
                    let r = http
                        .post(url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?;
                    let ok = r.status().is_success();
                    let bytes = r.bytes().await?;
                    Ok::<_, reqwest::Error>((ok, bytes))
                }
                .await;
                let took = t0.elapsed();
                match answer {
                    Ok((true, bytes)) => {
                        // A denial answers `"allowed":false`; no need to parse it all.
                        if memchr_find(&bytes, b"\"allowed\":false") {
                            denied.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        } else if memchr_find(&bytes, b"\"warnings\":") {
                            warned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        results
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((t0, took));
                    }
                    _ => {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
            sent += 1;
        }
        // Reap finished tasks so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
    }
    let deadline = start + Duration::from_secs_f64(seconds);
    while tasks.join_next().await.is_some() {}
    let mut all = std::mem::take(&mut *results.lock().unwrap_or_else(|e| e.into_inner()));
    // Throughput counts answers finished within the offered window (plus the
    // latency bound), so a backlog drained afterwards does not count as sustained.
    let window_end = deadline + SUSTAINED_P99;
    let in_window = all
        .iter()
        .filter(|(t0, took)| *t0 + *took <= window_end)
        .count();
    let achieved = in_window as f64 / (window_end - start).as_secs_f64().max(1e-9);
    let mut latencies: Vec<Duration> = all.drain(..).map(|(_, d)| d).collect();
    latencies.sort_unstable();
    Run {
        offered: rate,
        achieved,
        answered: latencies.len(),
        errors: errors.load(std::sync::atomic::Ordering::Relaxed),
        denied: denied.load(std::sync::atomic::Ordering::Relaxed),
        warned: warned.load(std::sync::atomic::Ordering::Relaxed),
        latencies,
    }
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn main() {
    // `cargo bench` passes `--bench`; there are no options to read.
    let seconds: f64 = std::env::var("SLIPWAY_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let kyverno = conformance().join("kyverno");
    if !kyverno.join("index.json").is_file() {
        println!(
            "skipped: webhook benchmark needs the Kyverno corpus at {} (set SLIPWAY_CONFORMANCE_DIR)",
            kyverno.display()
        );
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let policy_dir = tmp.path().join("policies");
    let files = stage_policies(&kyverno, &policy_dir);
    let store = Arc::new(PolicyStore::from_dir(&policy_dir).expect("policies load"));
    let set = store.current();
    let bodies = Arc::new(reviews(&files));
    println!(
        "webhook benchmark: {} policies ({} rules, {} skipped), {} AdmissionReviews from their suites",
        set.policies.len(),
        set.rule_count(),
        set.skipped.len(),
        bodies.len()
    );
    assert_eq!(
        set.policies.len(),
        20,
        "all 20 policies must load: {:?}",
        set.skipped
    );
    // Other work on the machine skews latency: say how busy it was.
    if let Ok(load) = fs_err::read_to_string("/proc/loadavg") {
        println!(
            "load average before the run: {}",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }

    // The server: two workers, as `slipway serve` runs on this 2-core machine.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()
        .expect("server runtime");
    let tls = ensure_self_signed(&tmp.path().join("tls"), &default_hosts()).expect("tls");
    let state = WebhookState::new(store, Arc::new(Metrics::new()));
    let server = server_rt
        .block_on(serve_tls(
            "127.0.0.1:0".parse().expect("addr"),
            &tls,
            router(state),
        ))
        .expect("webhook listens");
    let url = format!("https://localhost:{}/validate", server.addr.port());

    // The load generator: its own runtime, one worker (it shares the 2 cores).
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("load")
        .enable_all()
        .build()
        .expect("client runtime");
    client_rt.block_on(async {
        let http = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(tls.ca_pem.as_bytes()).expect("ca")])
            .pool_max_idle_per_host(512)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        // Warm up: connections, handshakes, lazily built engine caches.
        let _ = run(&http, &url, &bodies, 500.0, 2.0).await;

        println!("-- target: p99 < 2 ms at 1,000 requests/s ({seconds} s per rate)");
        let at_1k = run(&http, &url, &bodies, 1000.0, seconds).await;
        at_1k.print();
        println!(
            "target {}: p99 {:.3} ms at 1,000 requests/s",
            if at_1k.pct(0.99) < Duration::from_millis(2) && at_1k.errors == 0 {
                "met"
            } else {
                "MISSED"
            },
            at_1k.pct(0.99).as_secs_f64() * 1e3
        );

        println!(
            "-- stepping up (sustained: >= {:.0}% answered in time and p99 <= {} ms)",
            SUSTAINED_SHARE * 100.0,
            SUSTAINED_P99.as_millis()
        );
        let mut best: Option<f64> = None;
        if at_1k.sustained() && at_1k.errors == 0 {
            best = Some(1000.0);
            let mut rate = 2000.0;
            loop {
                let r = run(&http, &url, &bodies, rate, seconds).await;
                r.print();
                if !r.sustained() || r.errors > 0 {
                    break;
                }
                best = Some(rate);
                rate += if rate < 4000.0 { 1000.0 } else { 2000.0 };
                // Let the backlog of the last step drain before the next.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        } else {
            // Not sustained at 1,000: halve until it is.
            let mut rate = 500.0;
            while rate >= 60.0 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let r = run(&http, &url, &bodies, rate, seconds).await;
                r.print();
                if r.sustained() && r.errors == 0 {
                    best = Some(rate);
                    break;
                }
                rate /= 2.0;
            }
        }
        match best {
            Some(b) => println!("highest sustained rate: {b:.0} requests/s"),
            None => println!("highest sustained rate: below 60 requests/s"),
        }
    });
    server_rt.block_on(server.shutdown(Duration::from_secs(1)));
}
