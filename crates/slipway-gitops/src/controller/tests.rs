//! Controller tests against real Git repositories (`git` on the PATH, served
//! as `file://` URLs) and the embedded environment.

use std::path::Path;
use std::process::Command;

use super::*;

pub(crate) fn have_git() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Skips (returns false) when git is missing outside CI.
#[allow(clippy::print_stderr)]
pub(crate) fn require_git() -> bool {
    if have_git() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "git is required for these tests in CI"
    );
    eprintln!("skipped: git is not installed");
    false
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub(crate) fn write(path: &Path, text: &str) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

pub(crate) fn commit(repo: &Path, msg: &str) -> String {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", msg]);
    git(repo, &["rev-parse", "HEAD"])
}

pub(crate) fn app_yaml(name: &str, repo: &Path, path: &str, automated: bool) -> Vec<Document> {
    let policy = if automated {
        "  syncPolicy: {automated: {prune: true, selfHeal: true}}\n"
    } else {
        ""
    };
    let text = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  project: default\n  source: {{repoURL: \"file://{}\", targetRevision: main, path: {path}}}\n  destination: {{server: \"https://kubernetes.default.svc\", namespace: {name}}}\n{policy}",
        repo.display()
    );
    slipway_manifests::Loader::default()
        .load_str(&text, "app.yaml")
        .unwrap()
}

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n        - name: web\n          image: \"{image}\"\n          resources: {{requests: {{cpu: 10m, memory: 16Mi}}, limits: {{cpu: 100m, memory: 64Mi}}}}\n"
    )
}

const EXAMPLE_POLICIES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/platform/policies"
);

/// A platform repo whose gate has the example's `disallow-latest-tag`
/// (Enforce) and `require-probes` (Audit) policies.
fn platform(root: &Path) -> SyncGate {
    write(
        &root.join("slipway.yaml"),
        "apiVersion: slipway.dev/v1alpha1\nkind: Platform\nmetadata: {name: t}\nspec:\n  gates: {policies: policies/, minScore: 0}\n",
    );
    for p in ["disallow-latest-tag.yaml", "require-probes.yaml"] {
        let text = fs_err::read_to_string(Path::new(EXAMPLE_POLICIES).join(p)).unwrap();
        write(&root.join("policies").join(p), &text);
    }
    SyncGate::load(root).unwrap().unwrap()
}

#[test]
fn policy_gate_blocks_a_latest_tag_until_git_fixes_it() {
    if !require_git() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs_err::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(&repo.join("web/deploy.yaml"), &deployment("web:1.0"));
    let first = commit(&repo, "first");

    let gate = platform(&tmp.path().join("platform"));
    let c = Controller::open(&tmp.path().join("data"), Environments::local_only())
        .unwrap()
        .with_gate(gate);
    c.apply_documents(&app_yaml("web", &repo, "web", true))
        .unwrap();
    let cluster = c.cluster("local").unwrap();
    let deploy = ResourceRef::new("apps", "Deployment", "web", "web");
    let cm = ResourceRef::new("", "ConfigMap", "web", "extra");
    let image = |cluster: &Arc<dyn Cluster>| {
        cluster.get(&deploy).unwrap().unwrap()["spec"]["template"]["spec"]["containers"][0]["image"]
            .clone()
    };

    // A clean revision syncs; the Audit policy (no probes) is recorded.
    let report = c.reconcile_once().unwrap();
    assert_eq!(report.synced.len(), 1, "{report:?}");
    assert_eq!(report.synced[0].2, "Succeeded", "{report:?}");
    assert_eq!(image(&cluster), "web:1.0");
    let h = c.store().history("web").unwrap();
    assert_eq!(h.len(), 1);
    assert!(h[0].policy_violations.is_empty());
    assert!(
        h[0].policy_audits
            .iter()
            .any(|a| a.contains("require-probes")),
        "{:?}",
        h[0].policy_audits
    );
    let (_, stored) = c.application("web").unwrap();
    assert!(
        stored
            .status
            .conditions
            .iter()
            .any(|c| c.kind == POLICY_AUDIT && c.message.contains("require-probes"))
    );

    // A revision introducing `latest` (and a new ConfigMap) is blocked whole.
    write(&repo.join("web/deploy.yaml"), &deployment("web:latest"));
    write(
        &repo.join("web/extra.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {a: \"1\"}\n",
    );
    let second = commit(&repo, "latest");
    let report = c.reconcile_once().unwrap();
    assert_eq!(report.synced.len(), 1, "{report:?}");
    assert_eq!(report.synced[0].2, "Failed");
    assert_eq!(image(&cluster), "web:1.0", "nothing may be applied");
    assert!(
        cluster.get(&cm).unwrap().is_none(),
        "nothing may be applied"
    );
    let h = c.store().history("web").unwrap();
    let last = h.last().unwrap();
    assert_eq!(last.result, "Failed");
    assert_eq!(last.revisions, vec![second.clone()]);
    assert!(last.resources.is_empty(), "{:?}", last.resources);
    assert!(
        last.message.contains("blocked by the policy gate")
            && last.message.contains("disallow-latest-tag")
            && last.message.contains("latest"),
        "{}",
        last.message
    );
    assert!(
        last.policy_violations
            .iter()
            .any(|v| v.contains("disallow-latest-tag/autogen-validate-image-tag")),
        "{:?}",
        last.policy_violations
    );
    let (_, stored) = c.application("web").unwrap();
    let conds = &stored.status.conditions;
    assert!(
        conds
            .iter()
            .any(|c| c.kind == POLICY_VIOLATION && c.message.contains("disallow-latest-tag")),
        "{conds:?}"
    );
    assert!(conds.iter().any(|c| c.kind == "SyncError"), "{conds:?}");
    assert_eq!(stored.status.sync, SyncStatusCode::OutOfSync);
    assert_eq!(
        stored.status.operation_state.as_ref().unwrap().phase,
        "Failed"
    );
    // Automated sync does not retry the same blocked revision.
    let report = c.reconcile_once().unwrap();
    assert!(report.synced.is_empty(), "{report:?}");
    // A manual sync is gated too.
    let out = c
        .sync(
            "web",
            &SyncRequest {
                initiator: "alice".into(),
                ..SyncRequest::default()
            },
        )
        .unwrap();
    assert_eq!(out.entry.result, "Failed");
    assert!(!out.entry.policy_violations.is_empty());
    assert_eq!(image(&cluster), "web:1.0");

    // Fixing the tag in Git lets the next sync through.
    write(&repo.join("web/deploy.yaml"), &deployment("web:1.1"));
    let third = commit(&repo, "fix");
    let report = c.reconcile_once().unwrap();
    assert_eq!(report.synced.len(), 1, "{report:?}");
    assert_eq!(report.synced[0].2, "Succeeded", "{report:?}");
    assert_eq!(image(&cluster), "web:1.1");
    assert!(cluster.get(&cm).unwrap().is_some());
    let (_, stored) = c.application("web").unwrap();
    assert!(
        !stored
            .status
            .conditions
            .iter()
            .any(|c| c.kind == POLICY_VIOLATION || c.kind == "SyncError"),
        "{:?}",
        stored.status.conditions
    );
    assert_eq!(stored.status.sync, SyncStatusCode::Synced);
    let h = c.store().history("web").unwrap();
    assert_eq!(h.last().unwrap().revisions, vec![third]);
    assert_ne!(first, second);

    // A rollback to the blocked revision is gated as well.
    c.apply_documents(&app_yaml("web", &repo, "web", false))
        .unwrap();
    let blocked_id = h
        .iter()
        .find(|e| e.revisions == vec![second.clone()])
        .unwrap()
        .id;
    let out = c.rollback("web", blocked_id, "alice", false).unwrap();
    assert_eq!(out.entry.result, "Failed");
    assert_eq!(image(&cluster), "web:1.1");
}

#[test]
fn without_a_gate_nothing_is_blocked() {
    if !require_git() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs_err::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(&repo.join("web/deploy.yaml"), &deployment("web:latest"));
    commit(&repo, "first");
    let c = Controller::open(&tmp.path().join("data"), Environments::local_only()).unwrap();
    c.apply_documents(&app_yaml("web", &repo, "web", false))
        .unwrap();
    let out = c
        .sync(
            "web",
            &SyncRequest {
                initiator: "alice".into(),
                ..SyncRequest::default()
            },
        )
        .unwrap();
    assert_eq!(out.entry.result, "Succeeded", "{}", out.entry.message);
    assert!(out.entry.policy_violations.is_empty());
}

#[test]
fn kustomize_sources_render_from_a_git_checkout_with_app_overrides() {
    if !require_git() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs_err::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(
        &repo.join("base/kustomization.yaml"),
        "resources: [deploy.yaml]\nconfigMapGenerator:\n  - name: web-config\n    literals: [color=blue]\n",
    );
    write(
        &repo.join("base/deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n        - name: web\n          image: web:1.0\n          envFrom: [{configMapRef: {name: web-config}}]\n",
    );
    write(
        &repo.join("overlays/prod/kustomization.yaml"),
        "resources: [../../base]\nnamePrefix: prod-\ncommonLabels: {env: prod}\nreplicas: [{name: web, count: 3}]\n",
    );
    commit(&repo, "kustomize");
    let c = Controller::open(&tmp.path().join("data"), Environments::local_only()).unwrap();
    let mut docs = app_yaml("web", &repo, "overlays/prod", false);
    docs[0].object["spec"]["source"]["kustomize"] =
        serde_json::json!({"images": ["web:2.0"], "commonAnnotations": {"team": "a"}});
    c.apply_documents(&docs).unwrap();
    let out = c
        .sync(
            "web",
            &SyncRequest {
                initiator: "alice".into(),
                ..SyncRequest::default()
            },
        )
        .unwrap();
    assert_eq!(out.entry.result, "Succeeded", "{}", out.entry.message);
    let cluster = c.cluster("local").unwrap();
    let live = cluster.list(&Selector::default()).unwrap();
    let names: Vec<String> = live.iter().map(|o| o.name().to_string()).collect();
    let cm = names
        .iter()
        .find(|n| n.starts_with("prod-web-config-"))
        .unwrap_or_else(|| panic!("no hashed ConfigMap in {names:?}"));
    let d = cluster
        .get(&ResourceRef::new("apps", "Deployment", "web", "prod-web"))
        .unwrap()
        .unwrap();
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["metadata"]["labels"]["env"], "prod");
    assert_eq!(d["metadata"]["annotations"]["team"], "a");
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "web:2.0");
    assert_eq!(container["envFrom"][0]["configMapRef"]["name"], cm.as_str());

    // A change in the base, in Git, reaches the app through the overlay.
    write(
        &repo.join("base/kustomization.yaml"),
        "resources: [deploy.yaml]\nconfigMapGenerator:\n  - name: web-config\n    literals: [color=green]\n",
    );
    commit(&repo, "green");
    c.repos().forget_fetches();
    let (cmp, _) = c.refresh("web").unwrap();
    assert_eq!(cmp.sync, SyncStatusCode::OutOfSync, "{}", cmp.reason);
    let out = c
        .sync(
            "web",
            &SyncRequest {
                initiator: "alice".into(),
                prune: true,
                ..SyncRequest::default()
            },
        )
        .unwrap();
    assert_eq!(out.entry.result, "Succeeded", "{}", out.entry.message);
    let d = cluster
        .get(&ResourceRef::new("apps", "Deployment", "web", "prod-web"))
        .unwrap()
        .unwrap();
    let new_cm =
        d["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"]
            .as_str()
            .unwrap()
            .to_string();
    assert_ne!(&new_cm, cm, "a new hash suffix for new content");
    let live_cm = cluster
        .get(&ResourceRef::new("", "ConfigMap", "web", &new_cm))
        .unwrap()
        .unwrap();
    assert_eq!(live_cm["data"]["color"], "green");
    assert!(
        cluster
            .get(&ResourceRef::new("", "ConfigMap", "web", cm))
            .unwrap()
            .is_none(),
        "the old generated ConfigMap is pruned"
    );

    // A broken kustomization fails the render, naming the source; nothing changes.
    write(
        &repo.join("overlays/prod/kustomization.yaml"),
        "resources: [../../missing]\n",
    );
    commit(&repo, "broken");
    c.repos().forget_fetches();
    let (cmp, _) = c.refresh("web").unwrap();
    let err = cmp.error.unwrap();
    assert!(
        err.contains("overlays/prod") && err.contains("kustomize"),
        "{err}"
    );
}
