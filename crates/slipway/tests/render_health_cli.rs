//! `slipway render --app/--app-name` against a real Git repository over
//! `file://`, and `slipway health -f` over live objects.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

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

fn write(path: &Path, text: &str) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

fn slipway(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args(args)
        .env("SLIPWAY_DATA_DIR", data)
        .output()
        .unwrap()
}

fn stdout_ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A repo with two commits: `v1` has one ConfigMap, the branch head two.
fn repo(dir: &Path) {
    fs_err::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    write(
        &dir.join("app/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\ndata: {a: \"1\"}\n",
    );
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "one"]);
    git(dir, &["tag", "v1"]);
    write(
        &dir.join("app/more.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: second}\ndata: {b: \"2\"}\n",
    );
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "two"]);
}

fn application(url: &str, revision: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: demo}}\nspec:\n  project: default\n  source: {{repoURL: \"{url}\", targetRevision: {revision}, path: app}}\n  destination: {{server: \"https://kubernetes.default.svc\", namespace: team}}\n"
    )
}

fn names(json: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn render_application_file_at_its_revision_without_leaving_state() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    repo(&src);
    let url = format!("file://{}", src.display());
    let data = tmp.path().join("data");

    let head = tmp.path().join("head.yaml");
    write(&head, &application(&url, "main"));
    let out = stdout_ok(&slipway(
        &data,
        &[
            "render",
            "--app",
            head.to_str().unwrap(),
            "--format",
            "json",
        ],
    ));
    // The destination namespace is set, as a sync would apply it.
    assert_eq!(names(&out), ["team/first", "team/second"]);

    let tagged = tmp.path().join("tagged.yaml");
    write(&tagged, &application(&url, "v1"));
    let out = stdout_ok(&slipway(
        &data,
        &["render", "--app", tagged.to_str().unwrap()],
    ));
    assert!(out.contains("name: first"), "{out}");
    assert!(!out.contains("name: second"), "{out}");
    // Rendering a file is read-only: no data directory appears.
    assert!(!data.exists());
}

#[test]
fn render_registered_application_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    repo(&src);
    let url = format!("file://{}", src.display());
    let data = tmp.path().join("data");
    let app = tmp.path().join("app.yaml");
    write(&app, &application(&url, "v1"));
    stdout_ok(&slipway(
        &data,
        &["app", "apply", "-f", app.to_str().unwrap()],
    ));
    let out = stdout_ok(&slipway(
        &data,
        &["render", "--app-name", "demo", "--format", "json"],
    ));
    assert_eq!(names(&out), ["team/first"]);

    let missing = slipway(&data, &["render", "--app-name", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope"));
}

#[test]
fn render_application_errors_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let not_app = tmp.path().join("cm.yaml");
    write(
        &not_app,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    let o = slipway(&data, &["render", "--app", not_app.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cm.yaml") && err.contains("no argoproj.io Application"),
        "{err}"
    );

    let bad_repo = tmp.path().join("bad.yaml");
    write(&bad_repo, &application("file:///nonexistent/repo", "main"));
    let o = slipway(&data, &["render", "--app", bad_repo.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.yaml") && err.contains("demo"), "{err}");
}

#[test]
fn health_of_live_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live.yaml");
    write(
        &live,
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, generation: 2}
spec: {replicas: 2}
status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
status:
  failed: 3
  conditions: [{type: Failed, status: "True", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop}
status: {phase: Pending}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: shop}
"#,
    );
    let data = tmp.path().join("data");
    let out = stdout_ok(&slipway(
        &data,
        &["health", "-f", live.to_str().unwrap(), "--format", "json"],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    let statuses: Vec<(&str, &Value)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), &o["status"]))
        .collect();
    assert_eq!(
        statuses,
        [
            ("web", &Value::from("Healthy")),
            ("migrate", &Value::from("Degraded")),
            ("data", &Value::from("Progressing")),
            ("w", &Value::Null),
        ]
    );
    assert!(v[1]["message"].as_str().unwrap().contains("backoff limit"));

    let table = stdout_ok(&slipway(&data, &["health", "-f", live.to_str().unwrap()]));
    assert!(table.contains("Widget.example.com/shop/w"), "{table}");
    assert!(table.contains("Job.batch/shop/migrate"), "{table}");

    let o = slipway(&data, &["health", "-f", "/nonexistent.yaml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent.yaml"));
}
