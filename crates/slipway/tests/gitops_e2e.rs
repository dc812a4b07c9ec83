//! End to end from the CLI against a Git repository served over smart HTTP by
//! `git http-backend` behind python's CGI server: commit -> auto-sync -> drift
//! by hand -> self-heal -> a manifest deleted in Git -> prune -> rollback, with
//! history at each step; app of apps; an ApplicationSet git-directory generator.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.email=e2e@example.com", "-c", "user.name=e2e"])
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

struct Cli {
    data: PathBuf,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(args)
            .env("SLIPWAY_DATA_DIR", &self.data)
            .output()
            .unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "slipway {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

fn commit_and_push(work: &Path, bare: &Path, msg: &str) {
    git(work, &["add", "-A"]);
    git(work, &["commit", "-qm", msg]);
    git(work, &["push", "-q", bare.to_str().unwrap(), "main"]);
}

const CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {color: blue}\n";
const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, annotations: {argocd.argoproj.io/sync-wave: \"1\"}}\nspec: {replicas: 2, template: {spec: {containers: [{name: web, image: \"web:1\"}]}}}\n";
const EXTRA: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {a: \"1\"}\n";

#[test]
#[allow(clippy::print_stderr)]
fn git_over_http_to_embedded_environment() {
    if !(have("git") && have("python3")) {
        assert!(
            std::env::var_os("CI").is_none(),
            "git and python3 are required in CI"
        );
        eprintln!("skipped: git or python3 not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // python's CGI handler drops to `nobody` when run as root: let it read.
    let _ = Command::new("chmod")
        .args(["755", root.to_str().unwrap()])
        .status();
    let work = root.join("work");
    fs_err::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    write(&work.join("apps/web/config.yaml"), CM);
    write(&work.join("apps/web/deploy.yaml"), DEPLOY);
    write(&work.join("apps/web/extra.yaml"), EXTRA);
    write(
        &work.join("services/api/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api}\ndata: {x: \"1\"}\n",
    );
    write(
        &work.join("services/billing/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: billing}\ndata: {x: \"1\"}\n",
    );
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-qm", "first"]);
    let repos = root.join("repos");
    fs_err::create_dir_all(&repos).unwrap();
    let bare = repos.join("platform.git");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let cgi = root.join("cgi-bin");
    fs_err::create_dir_all(&cgi).unwrap();
    let exec_path = String::from_utf8(
        Command::new("git")
            .arg("--exec-path")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    write(
        &cgi.join("git"),
        &format!(
            "#!/bin/sh\nexec \"{}/git-http-backend\"\n",
            exec_path.trim()
        ),
    );
    let _ = Command::new("chmod")
        .args(["-R", "a+rX", root.to_str().unwrap()])
        .status();
    let _ = Command::new("chmod")
        .args(["755", cgi.join("git").to_str().unwrap()])
        .status();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server(
        Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--cgi",
            ])
            .current_dir(root)
            .env("GIT_PROJECT_ROOT", &repos)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "safe.directory")
            .env("GIT_CONFIG_VALUE_0", "*")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}/cgi-bin/git/platform.git");
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let cli = Cli {
        data: root.join("data"),
    };
    let app = |automated: bool| {
        let auto = if automated {
            "\n    automated: {prune: true, selfHeal: true}"
        } else {
            ""
        };
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: web, namespace: argocd}}\nspec:\n  source: {{repoURL: '{url}', targetRevision: main, path: apps/web}}\n  destination: {{server: https://kubernetes.default.svc, namespace: shop}}\n  syncPolicy:{auto}\n    syncOptions: [CreateNamespace=true]\n"
        )
    };
    write(&root.join("app.yaml"), &app(true));
    cli.ok(&[
        "app",
        "apply",
        "-f",
        root.join("app.yaml").to_str().unwrap(),
    ]);
    assert_eq!(cli.run(&["app", "diff", "web"]).status.code(), Some(1));

    // commit -> auto-sync
    let out = cli.ok(&["app", "reconcile", "--once"]);
    assert!(out.contains("synced web: auto-sync"), "{out}");
    let got = cli.ok(&[
        "env",
        "get",
        "ConfigMap/web-config",
        "-n",
        "shop",
        "-o",
        "json",
    ]);
    assert!(got.contains("\"color\": \"blue\""), "{got}");
    assert!(got.contains("web:/ConfigMap:shop/web-config"), "{got}");
    assert!(cli.ok(&["env", "get", "Namespace/shop"]).contains("shop"));
    assert_eq!(cli.run(&["app", "diff", "web"]).status.code(), Some(0));

    // drift by hand -> self-heal
    write(
        &root.join("drift.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config, namespace: shop}\ndata: {color: red}\n",
    );
    cli.ok(&[
        "env",
        "apply",
        "-f",
        root.join("drift.yaml").to_str().unwrap(),
        "--as",
        "alice",
    ]);
    let diff = cli.run(&["app", "diff", "web"]);
    assert_eq!(diff.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&diff.stdout).contains("-  color: red"));
    let out = cli.ok(&["app", "reconcile", "--once"]);
    assert!(out.contains("self-heal"), "{out}");
    assert!(
        cli.ok(&[
            "env",
            "get",
            "ConfigMap/web-config",
            "-n",
            "shop",
            "-o",
            "json"
        ])
        .contains("\"color\": \"blue\"")
    );

    // a manifest deleted in Git -> prune
    std::fs::remove_file(work.join("apps/web/extra.yaml")).unwrap();
    commit_and_push(&work, &bare, "drop extra");
    let out = cli.ok(&["app", "reconcile", "--once"]);
    assert!(out.contains("synced web: auto-sync"), "{out}");
    assert!(
        cli.run(&["env", "get", "ConfigMap/extra", "-n", "shop"])
            .status
            .code()
            != Some(0)
    );

    let history = cli.ok(&["app", "history", "web"]);
    assert_eq!(history.lines().count(), 4, "{history}");
    assert!(history.contains("self-heal"));

    // rollback: refused while automated, then back to the first revision
    assert_eq!(
        cli.run(&["app", "rollback", "web", "0"]).status.code(),
        Some(2)
    );
    write(&root.join("app.yaml"), &app(false));
    cli.ok(&[
        "app",
        "apply",
        "-f",
        root.join("app.yaml").to_str().unwrap(),
    ]);
    let out = cli.ok(&["app", "rollback", "web", "0"]);
    assert!(out.contains("Succeeded"), "{out}");
    assert!(
        cli.ok(&["env", "get", "ConfigMap/extra", "-n", "shop", "-o", "json"])
            .contains("\"a\": \"1\"")
    );
    let history = cli.ok(&["app", "history", "web"]);
    assert!(history.contains("rollback to history id 0"), "{history}");

    // a broken manifest: render error with file and line, nothing live touched
    write(
        &work.join("apps/web/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken\n",
    );
    commit_and_push(&work, &bare, "broken");
    let out = cli.run(&["app", "diff", "web"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("apps/web/broken.yaml:"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = cli.run(&["app", "sync", "web"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        cli.ok(&["env", "get", "ConfigMap/web-config", "-n", "shop"])
            .contains("web-config")
    );

    // app of apps + ApplicationSet git-directory generator
    write(
        &work.join("apps/web/broken.yaml"),
        CM.replace("web-config", "fixed").as_str(),
    );
    write(
        &work.join("bootstrap/child.yaml"),
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: child, namespace: argocd}}\nspec:\n  source: {{repoURL: '{url}', path: services/api}}\n  destination: {{name: local, namespace: child}}\n  syncPolicy: {{automated: {{}}, syncOptions: [CreateNamespace=true]}}\n"
        ),
    );
    commit_and_push(&work, &bare, "bootstrap");
    write(
        &root.join("root.yaml"),
        &format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: root, namespace: argocd}}\nspec:\n  source: {{repoURL: '{url}', path: bootstrap}}\n  destination: {{name: local, namespace: argocd}}\n  syncPolicy: {{automated: {{prune: true}}}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: services, namespace: argocd}}\nspec:\n  goTemplate: true\n  generators:\n  - git: {{repoURL: '{url}', revision: main, directories: [{{path: 'services/*'}}]}}\n  template:\n    metadata: {{name: 'svc-{{{{.path.basename}}}}'}}\n    spec:\n      source: {{repoURL: '{url}', targetRevision: main, path: '{{{{.path.path}}}}'}}\n      destination: {{name: local, namespace: '{{{{.path.basename}}}}'}}\n      syncPolicy: {{automated: {{}}, syncOptions: [CreateNamespace=true]}}\n"
        ),
    );
    cli.ok(&[
        "app",
        "apply",
        "-f",
        root.join("root.yaml").to_str().unwrap(),
    ]);
    let out = cli.ok(&["app", "reconcile", "--once"]);
    for name in ["root", "child", "svc-api", "svc-billing"] {
        assert!(
            out.contains(&format!("synced {name}: auto-sync")),
            "{name}: {out}"
        );
    }
    assert!(
        cli.ok(&["env", "get", "ConfigMap/billing", "-n", "billing"])
            .contains("billing")
    );
    assert!(
        cli.ok(&["env", "get", "ConfigMap/api", "-n", "child"])
            .contains("api")
    );
    assert!(
        cli.ok(&["env", "get", "Application/child", "-n", "argocd"])
            .contains("child")
    );
    let list = cli.ok(&["app", "list"]);
    assert!(
        list.lines().filter(|l| l.contains("Synced")).count() >= 4,
        "{list}"
    );
    drop(server);
}
