//! A sync killed with SIGKILL mid-way leaves the data directory consistent:
//! both SQLite files pass `PRAGMA integrity_check`, every live object is
//! whole (identity, uid, resourceVersion, generation, tracking, the data from
//! Git), the interrupted operation is recorded as such in the history on the
//! next open, and a rerun of the sync converges.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use slipway_gitops::cluster::embedded::EmbeddedCluster;
use slipway_gitops::cluster::{Cluster, Selector};
use slipway_gitops::store::{AppStore, SyncStatusCode};

const OBJECTS: usize = 2000;

fn have_git() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn git(dir: &Path, args: &[&str]) {
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
}

fn slipway(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env("SLIPWAY_DATA_DIR", data)
        .output()
        .unwrap()
}

fn ok(data: &Path, args: &[&str]) -> String {
    let o = slipway(data, args);
    assert!(
        o.status.success(),
        "slipway {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
#[allow(clippy::print_stderr)]
fn sync_killed_mid_way_leaves_a_consistent_store() {
    if !have_git() {
        assert!(std::env::var_os("CI").is_none(), "git is required in CI");
        eprintln!("skipped: git is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let data = tmp.path().join("data");
    fs_err::create_dir_all(repo.join("big")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let mut text = String::new();
    for i in 0..OBJECTS {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:05}}}\ndata: {{index: \"{i}\", payload: \"{}\"}}\n",
            "x".repeat(200)
        ));
    }
    fs_err::write(repo.join("big/all.yaml"), text).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "big"]);
    let app = tmp.path().join("app.yaml");
    fs_err::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: big}}\nspec:\n  source: {{repoURL: \"file://{}\", targetRevision: main, path: big}}\n  destination: {{server: \"https://kubernetes.default.svc\", namespace: big}}\n",
            repo.display()
        ),
    )
    .unwrap();
    ok(&data, &["app", "apply", "-f", app.to_str().unwrap()]);

    // Sync, and kill the process once part of the app is live.
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(["app", "sync", "big"])
        .env("SLIPWAY_DATA_DIR", &data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut live_at_kill = 0;
    while Instant::now() < deadline {
        if data.join("environments.db").exists()
            && let Ok(c) = EmbeddedCluster::open(&data, "local")
            && let Ok(n) = c.count()
            && n >= 50
        {
            live_at_kill = n;
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SIGKILL, as `kill -9`.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the sync must have been killed");
    assert!(
        live_at_kill > 0,
        "no object was applied before the deadline"
    );

    // Both databases are sound, and every object that is live is whole.
    let store = AppStore::open(&data).unwrap();
    assert!(store.integrity_ok().unwrap());
    let cluster = EmbeddedCluster::open(&data, "local").unwrap();
    assert!(cluster.integrity_ok().unwrap());
    let live = cluster.list(&Selector::default()).unwrap();
    let n = live.len();
    assert!(
        n < OBJECTS,
        "the kill came after the sync had applied everything ({n} objects)"
    );
    let mut rvs = std::collections::HashSet::new();
    for o in &live {
        let m = &o["metadata"];
        let name = m["name"].as_str().unwrap();
        assert_eq!(o["kind"], "ConfigMap");
        assert_eq!(m["namespace"], "big");
        assert!(m["uid"].as_str().is_some_and(|s| !s.is_empty()), "{o}");
        assert!(m["creationTimestamp"].as_str().is_some(), "{o}");
        assert_eq!(m["generation"], 1, "{o}");
        assert!(rvs.insert(m["resourceVersion"].as_str().unwrap().to_string()));
        assert_eq!(
            m["annotations"]["argocd.argoproj.io/tracking-id"],
            format!("big:/ConfigMap:big/{name}")
        );
        let i: usize = name.trim_start_matches("cm-").parse().unwrap();
        assert_eq!(o["data"]["index"], i.to_string());
        assert_eq!(o["data"]["payload"].as_str().unwrap().len(), 200);
    }
    // The killed operation is still `Running`, by a process that is gone.
    let stored = store.get("Application", "big").unwrap().unwrap();
    let op = stored.status.operation_state.clone().unwrap();
    assert_eq!(op.phase, "Running");
    assert!(store.history("big").unwrap().is_empty());
    drop(store);
    drop(cluster);

    // The next command to open the app records the interruption.
    ok(&data, &["app", "get", "big", "-o", "json"]);
    let store = AppStore::open(&data).unwrap();
    let history = store.history("big").unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].result, "Error");
    assert!(
        history[0].message.contains("sync interrupted"),
        "{}",
        history[0].message
    );
    let op = store
        .get("Application", "big")
        .unwrap()
        .unwrap()
        .status
        .operation_state
        .unwrap();
    assert_eq!(op.phase, "Error");
    drop(store);
    let h = ok(&data, &["app", "history", "big"]);
    assert!(h.contains("Error"), "{h}");

    // A rerun converges: everything live, Synced, a second history entry.
    ok(&data, &["app", "sync", "big"]);
    let cluster = EmbeddedCluster::open(&data, "local").unwrap();
    assert_eq!(cluster.count().unwrap(), OBJECTS as u64);
    assert!(cluster.integrity_ok().unwrap());
    let store = AppStore::open(&data).unwrap();
    let app = store.get("Application", "big").unwrap().unwrap();
    assert_eq!(app.status.sync, SyncStatusCode::Synced);
    let history = store.history("big").unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].result, "Succeeded", "{}", history[1].message);
    // Objects applied before the kill kept their identity.
    for o in &live {
        let r = slipway_gitops::cluster::ResourceRef::of(o);
        let now = cluster.get(&r).unwrap().unwrap();
        assert_eq!(now["metadata"]["uid"], o["metadata"]["uid"]);
        assert_eq!(
            now["metadata"]["resourceVersion"],
            o["metadata"]["resourceVersion"]
        );
    }
}
