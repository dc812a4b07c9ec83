//! Engine throughput: a 20-policy set (pattern, anyPattern, deny, foreach,
//! preconditions with variables; autogen on) against a Pod and a Deployment.
//! Targets: >= 200,000 rule evaluations per second on one core, p99 < 1 ms
//! per resource for the whole set. Run: `cargo bench -p slipway-policy --bench engine`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use serde_json::Value;
use slipway_model::{Document, SourceLocation};
use slipway_policy::engine::{ContextValues, Engine, LoadedPolicy, Policy, Request};
use slipway_policy::model::load_policy;

const RULES: [&str; 5] = [
    "    validate:\n      message: no latest\n      pattern:\n        spec:\n          containers:\n          - image: \"!*:latest\"\n",
    "    validate:\n      anyPattern:\n      - spec:\n          securityContext:\n            runAsNonRoot: true\n      - spec:\n          containers:\n          - securityContext:\n              runAsNonRoot: true\n",
    "    preconditions:\n      all:\n      - key: \"{{ request.operation || 'BACKGROUND' }}\"\n        operator: AnyIn\n        value: [CREATE, UPDATE]\n    validate:\n      message: \"{{ request.object.metadata.name }} needs app label\"\n      deny:\n        conditions:\n          any:\n          - key: \"{{ request.object.metadata.labels.app || '' }}\"\n            operator: Equals\n            value: \"\"\n",
    "    validate:\n      foreach:\n      - list: request.object.spec.containers\n        deny:\n          conditions:\n            any:\n            - key: \"{{ element.resources.limits.memory || '0' }}\"\n              operator: GreaterThan\n              value: 2Gi\n",
    "    validate:\n      pattern:\n        spec:\n          =(hostNetwork): false\n          containers:\n          - =(securityContext):\n              =(privileged): false\n",
];

fn policies() -> Vec<Policy> {
    (0..20)
        .map(|i| {
            let yaml = format!(
                "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p{i}\nspec:\n  rules:\n  - name: r{i}\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n{}",
                RULES[i % RULES.len()]
            );
            let object: Value = serde_saphyr::from_str(&yaml).expect("bench policy parses");
            match load_policy(&Document::new(object, SourceLocation::new("bench.yaml", i, 1))) {
                Some(LoadedPolicy::Kyverno(p)) => *p,
                other => panic!("bench policy {i} did not load: {other:?}"),
            }
        })
        .collect()
}

fn resource(yaml: &str) -> Value {
    serde_saphyr::from_str(yaml).expect("bench resource parses")
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: default\n  labels:\n    app: web\nspec:\n  securityContext:\n    runAsNonRoot: true\n  containers:\n  - name: app\n    image: nginx:1.25\n    resources:\n      limits:\n        memory: 512Mi\n  - name: sidecar\n    image: envoy:1.29\n    resources:\n      limits:\n        memory: 128Mi\n";
const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: app\n        image: nginx:latest\n";

fn bench(c: &mut Criterion) {
    let engine = Engine::new();
    let set = policies();
    let values = ContextValues::default();
    let rules: u64 = set.iter().map(|p| p.rules.len() as u64).sum();
    for (name, yaml) in [("pod", POD), ("deployment", DEPLOY)] {
        let req = Request {
            object: resource(yaml),
            ..Request::default()
        };
        let mut group = c.benchmark_group(format!("validate-20-policies-{name}"));
        group.throughput(Throughput::Elements(rules));
        group.bench_function("per-resource", |b| {
            b.iter(|| {
                let prepared = engine.prepare(&req);
                for p in &set {
                    black_box(engine.validate_prepared(p, &prepared, &values));
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);

/// With `SLIPWAY_BENCH_ITERATIONS=N` the benchmark runs a fixed number of
/// iterations per resource without criterion, so instruction counts under
/// `valgrind --tool=callgrind` compare across versions (criterion's
/// time-based loops do not).
fn fixed_iterations(n: usize) {
    let engine = Engine::new();
    let set = policies();
    let values = ContextValues::default();
    for yaml in [POD, DEPLOY] {
        let req = Request {
            object: resource(yaml),
            ..Request::default()
        };
        // The first round fills the lazily built statics (regexes, caches).
        for _ in 0..=n {
            let prepared = engine.prepare(&req);
            for p in &set {
                black_box(engine.validate_prepared(p, &prepared, &values));
            }
        }
    }
}

fn main() {
    match std::env::var("SLIPWAY_BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        Some(n) => fixed_iterations(n),
        None => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
