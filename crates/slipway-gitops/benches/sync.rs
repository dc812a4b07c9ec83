//! GitOps engine benchmarks against real Git repositories (`git` on the PATH)
//! and the embedded environment.
//!
//! - `render_diff_plan/5000`: one Application of 5,000 resources (Deployments,
//!   Services, ConfigMaps), live state synced at the previous commit, a new
//!   commit changing every tenth resource: resolve the revision, render (from
//!   the render cache, as every reconcile after the first does), diff against
//!   live, and build the ordered sync plan (`sync --dry-run`). Target < 200 ms.
//!   `render_diff_plan/5000-cold` renders from Git without the cache.
//! - `reconcile/1000-apps`: one pass of the automated loop over 1,000
//!   Applications of 5 resources each, all synced (compare every app, store
//!   its status, nothing to sync). Target < 10 s.
//!
//! Run: `cargo bench -p slipway-gitops --bench sync`. Peak memory: build
//! with `--no-run`, then `/usr/bin/time -v <target>/release/deps/sync-<hash>
//! --bench <filter>` ("Maximum resident set size"); each group can be run
//! alone with `SLIPWAY_BENCH_ONLY=render_diff_plan` or `=reconcile` (which
//! also skips the other group's setup, so the peak is that scenario's).

#![allow(clippy::print_stderr, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use slipway_gitops::controller::{Controller, SyncRequest};
use slipway_gitops::environments::Environments;
use slipway_model::{Document, SourceLocation};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.email=b@example.com", "-c", "user.name=b"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn commit(repo: &Path, msg: &str) {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", msg]);
}

/// Resource `i` of an app: a Deployment, a Service or a ConfigMap; `rev`
/// changes its content.
fn resource(i: usize, rev: usize) -> String {
    match i % 3 {
        0 => format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-{i}\n  labels: {{app: web-{i}, team: t{}}}\n  annotations: {{argocd.argoproj.io/sync-wave: \"{}\"}}\nspec:\n  replicas: {}\n  selector: {{matchLabels: {{app: web-{i}}}}}\n  template:\n    metadata: {{labels: {{app: web-{i}}}}}\n    spec:\n      containers:\n        - name: web\n          image: registry.example.com/web:1.{rev}\n          ports: [{{containerPort: 8080}}]\n          env: [{{name: MODE, value: prod}}, {{name: INDEX, value: \"{i}\"}}]\n          resources: {{requests: {{cpu: 10m, memory: 16Mi}}, limits: {{memory: 64Mi}}}}\n          readinessProbe: {{httpGet: {{path: /healthz, port: 8080}}}}\n",
            i % 7,
            i % 3,
            1 + rev % 3
        ),
        1 => format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, labels: {{app: web-{i}}}}}\nspec:\n  selector: {{app: web-{i}}}\n  ports: [{{port: 80, targetPort: {}}}]\n",
            8080 + rev
        ),
        _ => format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg-{i}}}\ndata: {{index: \"{i}\", rev: \"{rev}\", text: \"{}\"}}\n",
            "lorem ipsum ".repeat(8)
        ),
    }
}

fn app_doc(name: &str, repo: &Path, path: &str, automated: bool) -> Document {
    let policy = if automated {
        "  syncPolicy: {automated: {prune: true, selfHeal: true}}\n"
    } else {
        ""
    };
    let text = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  source: {{repoURL: \"file://{}\", targetRevision: main, path: {path}}}\n  destination: {{server: \"https://kubernetes.default.svc\", namespace: {name}}}\n{policy}",
        repo.display()
    );
    let object = serde_saphyr::from_str(&text).expect("app parses");
    Document::new(object, SourceLocation::new("bench.yaml", 0, 1))
}

/// Whether the group `name` is to run (`SLIPWAY_BENCH_ONLY` unset or equal).
fn selected(name: &str) -> bool {
    match std::env::var("SLIPWAY_BENCH_ONLY") {
        Ok(only) => only == name,
        Err(_) => true,
    }
}

fn big_app(c: &mut Criterion) {
    const N: usize = 5000;
    if !selected("render_diff_plan") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs_err::create_dir_all(repo.join("big")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let write = |rev_of: &dyn Fn(usize) -> usize| {
        // 50 files of 100 resources.
        for f in 0..N / 100 {
            let text: String = (f * 100..(f + 1) * 100)
                .map(|i| resource(i, rev_of(i)))
                .collect();
            fs_err::write(repo.join(format!("big/part-{f:03}.yaml")), text).unwrap();
        }
    };
    write(&|_| 0);
    commit(&repo, "v0");
    let data = tmp.path().join("data");
    let ctl = Controller::open(&data, Environments::local_only()).unwrap();
    ctl.apply_documents(&[app_doc("big", &repo, "big", false)])
        .unwrap();
    let t = Instant::now();
    let out = ctl
        .sync(
            "big",
            &SyncRequest {
                initiator: "bench".into(),
                ..SyncRequest::default()
            },
        )
        .unwrap();
    assert_eq!(out.entry.result, "Succeeded", "{}", out.entry.message);
    eprintln!(
        "setup: first sync of {N} resources into the embedded environment took {:?}",
        t.elapsed()
    );
    // Every tenth resource changes in the new commit.
    write(&|i| usize::from(i % 10 == 0));
    commit(&repo, "v1");
    // The engine fetches once per reconcile pass; this process saw v0.
    ctl.repos().forget_fetches();
    let dry = SyncRequest {
        initiator: "bench".into(),
        dry_run: true,
        ..SyncRequest::default()
    };
    let planned = ctl.sync("big", &dry).unwrap();
    assert_eq!(planned.entry.resources.len(), N);
    let (cmp, _) = ctl.refresh("big").unwrap();
    let out_of_sync = cmp
        .resources
        .iter()
        .filter(|r| r.status == slipway_gitops::store::SyncStatusCode::OutOfSync)
        .count();
    assert_eq!(out_of_sync, N / 10, "{}", cmp.reason);

    let mut g = c.benchmark_group("render_diff_plan");
    g.sample_size(10);
    g.bench_function("5000", |b| {
        b.iter(|| black_box(ctl.sync("big", &dry).unwrap()));
    });
    g.bench_function("5000-cold", |b| {
        b.iter(|| {
            // Drop the render cache so the source is read from Git and parsed.
            let _ = fs_err::remove_dir_all(data.join("renders"));
            black_box(ctl.sync("big", &dry).unwrap())
        });
    });
    g.finish();
}

fn many_apps(c: &mut Criterion) {
    const APPS: usize = 1000;
    const PER_APP: usize = 5;
    if !selected("reconcile") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs_err::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    for a in 0..APPS {
        let dir = repo.join(format!("apps/app-{a:04}"));
        fs_err::create_dir_all(&dir).unwrap();
        let text: String = (0..PER_APP).map(|i| resource(i, a % 5)).collect();
        fs_err::write(dir.join("all.yaml"), text).unwrap();
    }
    commit(&repo, "apps");
    let data = tmp.path().join("data");
    let ctl = Controller::open(&data, Environments::local_only()).unwrap();
    let docs: Vec<Document> = (0..APPS)
        .map(|a| {
            app_doc(
                &format!("app-{a:04}"),
                &repo,
                &format!("apps/app-{a:04}"),
                true,
            )
        })
        .collect();
    ctl.apply_documents(&docs).unwrap();
    let t = Instant::now();
    let first = ctl.reconcile_once().unwrap();
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(first.synced.len(), APPS);
    eprintln!(
        "setup: first reconcile pass (auto-syncs {APPS} apps, {} resources) took {:?}",
        APPS * PER_APP,
        t.elapsed()
    );
    let steady = ctl.reconcile_once().unwrap();
    assert_eq!(steady.compared, APPS);
    assert!(steady.synced.is_empty(), "{:?}", steady.synced.first());

    let mut g = c.benchmark_group("reconcile");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("1000-apps", |b| {
        b.iter(|| black_box(ctl.reconcile_once().unwrap()));
    });
    g.finish();
}

criterion_group!(benches, big_app, many_apps);

fn main() {
    let have_git = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_git {
        eprintln!("skipped: git is not installed");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
