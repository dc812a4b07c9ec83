//! The issue's throughput benchmark: every `cpol` policy of the Kyverno corpus
//! against 10,000 generated resources (the synthetic workload corpus of
//! `shared/research/tools/gen_manifests.py`, seed 1), one thread.
//!
//! Reports rule evaluations per second, where a rule evaluation is one rule
//! against one resource (rules x resources, the match/exclude check included;
//! most rules are for other kinds and stop there), both per wall-clock second
//! and per second of this thread's CPU time (the machine may be shared: CPU
//! time is the one-core figure). Also the responses (rules that applied and
//! produced a result), per-resource latency percentiles for the whole set,
//! and peak resident memory. Run:
//!
//! ```sh
//! cargo bench -p slipway-policy --bench corpus
//! ```
//!
//! Needs the corpus (`SLIPWAY_CONFORMANCE_DIR`, default `../shared/conformance`)
//! and python3; prints why it skipped otherwise.

#![allow(clippy::print_stdout, reason = "a benchmark reports its figures")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use slipway_model::ObjectExt;
use slipway_policy::engine::{ContextValues, Engine, Request};
use slipway_policy::model::{LoadedPolicy, Policy, load_policy};

fn shared() -> PathBuf {
    std::env::var_os("SLIPWAY_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        })
}

fn cpol_policies(dir: &Path) -> Vec<Policy> {
    let index: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(dir.join("index.json")).expect("index"))
            .expect("index.json");
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for suite in index["suites"].as_array().expect("suites") {
        if suite["family"] != "cpol" {
            continue;
        }
        for f in suite["files"].as_array().expect("files") {
            let f = f.as_str().unwrap_or_default();
            if f.contains(".kyverno-test")
                || f.contains(".chainsaw-test")
                || !seen.insert(f.to_string())
            {
                continue;
            }
            let Ok(docs) = slipway_manifests::load_path(&dir.join(f)) else {
                continue;
            };
            for d in &docs {
                if let Some(LoadedPolicy::Kyverno(p)) = load_policy(d) {
                    out.push(*p);
                }
            }
        }
    }
    out
}

fn peak_rss_kib() -> u64 {
    fs_err::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// `p50 .. p99 .. max ..` of a list of durations.
fn percentiles(d: &mut [Duration]) -> String {
    d.sort();
    let at = |q: f64| d[((d.len() as f64 - 1.0) * q) as usize];
    format!("p50 {:?} p99 {:?} max {:?}", at(0.5), at(0.99), at(1.0))
}

/// Whether some rule of the policy is for Pods or pod controllers.
fn for_pods(p: &Policy) -> bool {
    const KINDS: [&str; 8] = [
        "Pod",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "CronJob",
        "*",
    ];
    p.rules.iter().any(|r| {
        r.match_
            .kinds()
            .iter()
            .any(|k| KINDS.contains(&k.rsplit('/').next().unwrap_or(k)))
    })
}

/// CPU time of the current thread: unlike wall-clock time it does not grow
/// while other processes have the core, so it is the one-core figure on a
/// shared machine.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

fn main() {
    let conformance = shared();
    let kyverno = conformance.join("kyverno");
    let generator = conformance.join("../research/tools/gen_manifests.py");
    if !kyverno.is_dir() || !generator.is_file() {
        println!(
            "skipped: corpus or generator not found under {}",
            conformance.display()
        );
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new("python3")
        .arg(&generator)
        .args(["--out"])
        .arg(out.path())
        .args([
            "--count",
            "10000",
            "--per-file",
            "100",
            "--seed",
            "1",
            "--noise",
            "0",
        ])
        .stdout(std::process::Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        println!("skipped: python3 could not run {}", generator.display());
        return;
    }
    let resources = slipway_manifests::load_path(out.path()).expect("generated corpus loads");
    let policies = cpol_policies(&kyverno);
    let rules: usize = policies.iter().map(|p| p.rules.len()).sum();
    let engine = Engine::new();
    let values = ContextValues::default();

    let mut responses = 0u64;
    let mut latencies: Vec<Duration> = Vec::with_capacity(resources.len());
    let mut cpu_latencies: Vec<Duration> = Vec::with_capacity(resources.len());
    let cpu_started = thread_cpu();
    let started = Instant::now();
    for doc in &resources {
        let t = Instant::now();
        let c = thread_cpu();
        let req = Request {
            object: doc.object.clone(),
            ..Request::default()
        };
        // As the admission path does: the request context is built once per
        // resource and shared by every policy.
        let prepared = engine.prepare(&req);
        for p in &policies {
            responses += engine.mutate_prepared(p, &prepared, &values).rules.len() as u64;
            responses += engine.validate_prepared(p, &prepared, &values).rules.len() as u64;
        }
        latencies.push(t.elapsed());
        cpu_latencies.push(thread_cpu().saturating_sub(c));
    }
    let total = started.elapsed();
    let cpu = thread_cpu().saturating_sub(cpu_started);
    let checks = (rules * resources.len()) as f64;
    println!(
        "corpus: {} cpol policies ({rules} rules after autogen) x {} resources ({} kinds)",
        policies.len(),
        resources.len(),
        resources
            .iter()
            .map(|d| d.object.kind().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    println!(
        "total {:.2} s wall, {:.2} s CPU; rule evaluations (rule x resource) {checks}: {:.0}/s wall, {:.0}/s CPU; responses {responses}: {:.0}/s wall",
        total.as_secs_f64(),
        cpu.as_secs_f64(),
        checks / total.as_secs_f64(),
        checks / cpu.as_secs_f64().max(1e-9),
        responses as f64 / total.as_secs_f64(),
    );
    println!(
        "per resource (all policies): wall {}; CPU {}",
        percentiles(&mut latencies),
        percentiles(&mut cpu_latencies)
    );
    println!("peak RSS {} MiB", peak_rss_kib() / 1024);

    // With SLIPWAY_BENCH_PER_POLICY=N: the N policies that cost the most
    // time over the first 2,000 resources (a separate pass, so the timer
    // calls do not disturb the figures above).
    if let Some(top) = std::env::var("SLIPWAY_BENCH_PER_POLICY")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        let mut cost: Vec<(Duration, u64, &str)> = policies
            .iter()
            .map(|p| (Duration::ZERO, 0, p.name.as_str()))
            .collect();
        for doc in resources.iter().take(2000) {
            let req = Request {
                object: doc.object.clone(),
                ..Request::default()
            };
            let prepared = engine.prepare(&req);
            for (p, slot) in policies.iter().zip(cost.iter_mut()) {
                let t = Instant::now();
                slot.1 += engine.mutate_prepared(p, &prepared, &values).rules.len() as u64;
                slot.1 += engine.validate_prepared(p, &prepared, &values).rules.len() as u64;
                slot.0 += t.elapsed();
            }
        }
        cost.sort_by_key(|c| std::cmp::Reverse(c.0));
        for (d, n, name) in cost.iter().take(top) {
            println!("  {:>10.1?} {n:>6} responses  {name}", d);
        }
    }

    // The admission-path figure: a 20-policy set (the first 20 policies with
    // a rule for Pods or pod controllers), per resource.
    let set: Vec<&Policy> = policies.iter().filter(|p| for_pods(p)).take(20).collect();
    let mut lat: Vec<Duration> = Vec::with_capacity(resources.len());
    let mut cpu_lat: Vec<Duration> = Vec::with_capacity(resources.len());
    let mut responses20 = 0u64;
    let rules20: usize = set.iter().map(|p| p.rules.len()).sum();
    let cpu_started = thread_cpu();
    let started = Instant::now();
    for doc in &resources {
        let t = Instant::now();
        let c = thread_cpu();
        let req = Request {
            object: doc.object.clone(),
            ..Request::default()
        };
        let prepared = engine.prepare(&req);
        for p in &set {
            responses20 += engine.mutate_prepared(p, &prepared, &values).rules.len() as u64;
            responses20 += engine.validate_prepared(p, &prepared, &values).rules.len() as u64;
        }
        lat.push(t.elapsed());
        cpu_lat.push(thread_cpu().saturating_sub(c));
    }
    let total20 = started.elapsed();
    let cpu20 = thread_cpu().saturating_sub(cpu_started);
    let checks20 = (rules20 * resources.len()) as f64;
    println!(
        "20-policy set ({rules20} rules): rule evaluations {:.0}/s wall, {:.0}/s CPU; responses {responses20}; per resource wall {}; CPU {}",
        checks20 / total20.as_secs_f64(),
        checks20 / cpu20.as_secs_f64().max(1e-9),
        percentiles(&mut lat),
        percentiles(&mut cpu_lat)
    );
}
