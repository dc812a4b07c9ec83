//! Every `app` and `env` verb with `--server` (and `SLIPWAY_SERVER`) against
//! a running `slipway serve`: apply, list, get, diff, sync, drift by hand,
//! history, rollback, object delete, reconcile, delete; the token comes from
//! `--token`, `SLIPWAY_TOKEN` or the data directory, and is required.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
}

fn write(path: &Path, text: &str) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, text).unwrap();
}

/// Runs the CLI with no data directory of its own (an empty one), so only
/// the server's state can answer.
fn slipway(args: &[&str], envs: &[(&str, &str)], cwd: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slipway"));
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("SLIPWAY_SERVER")
        .env_remove("SLIPWAY_TOKEN")
        .env_remove("SLIPWAY_DATA_DIR");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {color: blue}\n";
const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2, template: {spec: {containers: [{name: web, image: \"web:1\"}]}}}\n";
const PLATFORM: &str = "apiVersion: slipway.dev/v1alpha1\nkind: Platform\nmetadata: {name: t}\nspec:\n  environments:\n  - name: prod\n    server: https://prod.example.internal\n    target: {embedded: {}}\n";

#[test]
fn app_and_env_verbs_through_the_api() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("platform");
    write(&repo.join("slipway.yaml"), PLATFORM);
    write(&repo.join("apps/web/configmap.yaml"), CM);
    write(&repo.join("apps/web/deployment.yaml"), DEPLOY);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "web"]);
    let data = tmp.path().join("data");
    let elsewhere = tmp.path().join("elsewhere");
    fs_err::create_dir_all(&elsewhere).unwrap();

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(["serve", "--interval", "3600", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data)
            .arg("--platform")
            .arg(&repo)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    loop {
        let o = slipway(&["app", "list", "--server", &url], &[], &elsewhere);
        if o.status.success() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server never answered: {}",
            text(&o)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let token = fs_err::read_to_string(data.join("api-token"))
        .unwrap()
        .trim()
        .to_string();
    // The three ways to name the server and token.
    let with_flags = |args: &[&str]| -> Output {
        let mut all = args.to_vec();
        all.extend(["--server", &url, "--token", &token]);
        slipway(&all, &[], &elsewhere)
    };
    let data_str = data.to_str().unwrap();
    let with_env = |args: &[&str]| -> Output {
        slipway(
            args,
            &[("SLIPWAY_SERVER", &url), ("SLIPWAY_TOKEN", &token)],
            &elsewhere,
        )
    };
    let with_data_dir = |args: &[&str]| -> Output {
        slipway(
            args,
            &[("SLIPWAY_SERVER", &url), ("SLIPWAY_DATA_DIR", data_str)],
            &elsewhere,
        )
    };
    let ok = |o: Output| -> String {
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };

    let app = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: web}}\nspec:\n  project: default\n  source: {{repoURL: 'file://{}', targetRevision: HEAD, path: apps/web}}\n  destination: {{name: prod, namespace: web}}\n  syncPolicy: {{syncOptions: [CreateNamespace=true]}}\n",
        repo.display()
    );
    let app_file = tmp.path().join("app.yaml");
    fs_err::write(&app_file, app).unwrap();
    let app_path = app_file.to_str().unwrap();

    // Changing state without a token is refused with the server's message.
    let o = slipway(
        &["app", "apply", "-f", app_path, "--server", &url],
        &[],
        &elsewhere,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("401"), "{}", text(&o));
    assert!(text(&o).contains("Authorization: Bearer"), "{}", text(&o));

    assert_eq!(
        ok(with_flags(&["app", "apply", "-f", app_path])),
        "Application/web configured\n"
    );
    // `get` compares first (a new app has no status until then); `list`
    // then shows the stored status.
    let get = ok(with_env(&["app", "get", "web"]));
    assert!(get.contains("Sync:      OutOfSync"), "{get}");
    let list = ok(with_env(&["app", "list"]));
    let row = list.lines().find(|l| l.starts_with("web ")).unwrap();
    assert!(row.contains("prod") && row.contains("OutOfSync"), "{list}");

    let o = with_env(&["app", "diff", "web"]);
    assert_eq!(o.status.code(), Some(1), "out of sync: {}", text(&o));
    assert!(text(&o).contains("web-config"), "{}", text(&o));

    let out = ok(with_data_dir(&["app", "sync", "web"]));
    assert!(out.starts_with("Operation: Succeeded"), "{out}");
    assert!(out.contains("ConfigMap"), "{out}");
    let get = ok(with_env(&["app", "get", "web"]));
    assert!(get.contains("Sync:      Synced"), "{get}");
    assert!(get.contains("Project:   default"), "{get}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(with_env(&["app", "get", "web", "-o", "json"]))).unwrap();
    assert_eq!(json["status"]["sync"], "Synced", "{json}");
    assert!(
        json["status"]["operationState"]["initiator"]
            .as_str()
            .unwrap()
            .starts_with("api:"),
        "the server records the CLI user as initiator: {json}"
    );
    assert_eq!(with_env(&["app", "diff", "web"]).status.code(), Some(0));

    let envs = ok(with_env(&["env", "list"]));
    let row = envs.lines().find(|l| l.starts_with("prod ")).unwrap();
    assert!(row.contains("embedded"), "{envs}");
    let objects: u64 = row.split_whitespace().last().unwrap().parse().unwrap();
    assert!(objects >= 2, "configmap and deployment: {envs}");
    let cms = ok(with_env(&[
        "env",
        "get",
        "configmap",
        "--env",
        "prod",
        "-n",
        "web",
    ]));
    assert!(cms.contains("web-config"), "{cms}");
    let cm: serde_json::Value = serde_json::from_str(&ok(with_env(&[
        "env",
        "get",
        "ConfigMap/web-config",
        "--env",
        "prod",
        "-n",
        "web",
        "-o",
        "json",
    ])))
    .unwrap();
    assert_eq!(cm["data"]["color"], "blue");
    let o = with_env(&["env", "get", "ConfigMap/nope", "--env", "prod"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("ConfigMap/nope not found in environment prod"),
        "{}",
        text(&o)
    );

    // Drift by hand through the API; the diff sees it; a sync heals it.
    let drift = tmp.path().join("drift.yaml");
    fs_err::write(&drift, CM.replace("blue", "red")).unwrap();
    let applied = ok(with_env(&[
        "env",
        "apply",
        "-f",
        drift.to_str().unwrap(),
        "--env",
        "prod",
        "-n",
        "web",
        "--as",
        "alice",
    ]));
    assert!(
        applied.contains("web-config applied (resourceVersion"),
        "{applied}"
    );
    assert_eq!(with_env(&["app", "diff", "web"]).status.code(), Some(1));
    ok(with_env(&["app", "sync", "web"]));
    let history = ok(with_env(&["app", "history", "web"]));
    assert_eq!(
        history.lines().count(),
        3,
        "header and two syncs: {history}"
    );
    assert!(history.contains("Succeeded"), "{history}");

    let out = ok(with_env(&["app", "rollback", "web", "1"]));
    assert!(out.starts_with("Operation: Succeeded"), "{out}");

    let deleted = ok(with_env(&[
        "env",
        "delete",
        "ConfigMap/web-config",
        "-n",
        "web",
        "--env",
        "prod",
    ]));
    assert!(deleted.contains("web-config deleted"), "{deleted}");
    let rec = ok(with_env(&["app", "reconcile"]));
    assert!(rec.starts_with("reconciled 1 application(s)"), "{rec}");

    let out = ok(with_env(&["app", "delete", "web", "--cascade"]));
    assert!(out.ends_with("application web deleted\n"), "{out}");
    let list = ok(with_env(&["app", "list"]));
    assert!(!list.lines().any(|l| l.starts_with("web ")), "{list}");
    let o = with_env(&["app", "get", "web"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("404"), "{}", text(&o));

    // The CLI never opened a data directory of its own.
    assert!(!elsewhere.join(".slipway").exists());
}
