//! Tests of the Kubernetes backend that need no cluster: kubeconfig loading
//! and context selection, discovery mapping, the apply and delete requests,
//! error mapping, and failing fast on a server that is down or silent. The
//! shared suite against a real cluster is in `cluster::harness`.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

const KUBECONFIG: &str = "apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}
- name: prod
  cluster: {server: 'https://prod.example:6443', insecure-skip-tls-verify: true}
contexts:
- name: dev
  context: {cluster: dev, user: dev, namespace: web}
- name: prod
  context: {cluster: prod, user: prod}
users:
- name: dev
  user: {token: dev-token}
- name: prod
  user: {token: prod-token}
";

fn write_kubeconfig(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    fs_err::write(&path, text).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

fn fast() -> KubeOptions {
    KubeOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        ..KubeOptions::default()
    }
}

fn kube_error(e: ClusterError) -> KubeError {
    match e {
        ClusterError::Kubernetes { error, .. } => *error,
        other => panic!("not a Kubernetes error: {other}"),
    }
}

#[test]
fn kubeconfig_context_selection() {
    let (_dir, path) = write_kubeconfig(KUBECONFIG);
    // Empty context: the current one.
    let (_, ctx) = load_kubeconfig(&path, "").unwrap();
    assert_eq!(ctx, "dev");
    let c = KubeCluster::connect("staging", &path, "").unwrap();
    assert_eq!(c.server(), "https://127.0.0.1:1");
    assert_eq!(c.context(), "dev");
    assert_eq!(c.name(), "staging");
    assert!(c.runs_workloads());
    let c = KubeCluster::connect("prod", &path, "prod").unwrap();
    assert_eq!(c.server(), "https://prod.example:6443");

    let err = KubeCluster::connect("qa", &path, "qa")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("environment qa: kubeconfig "), "{err}");
    assert!(
        err.contains("has no context \"qa\" (contexts: dev, prod)"),
        "{err}"
    );

    let (_dir2, no_current) = write_kubeconfig(&KUBECONFIG.replace("current-context: dev\n", ""));
    let err = load_kubeconfig(&no_current, "").unwrap_err();
    assert!(matches!(err, KubeError::NoContext { .. }), "{err}");
    assert!(err.to_string().contains("sets no current-context"), "{err}");
    assert!(err.to_string().contains("contexts: dev, prod"), "{err}");
}

#[test]
fn kubeconfig_errors_name_the_file() {
    let err = load_kubeconfig("/nonexistent/kubeconfig", "").unwrap_err();
    assert!(matches!(err, KubeError::Kubeconfig { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot load kubeconfig /nonexistent/kubeconfig: "),
        "{err}"
    );

    let (_dir, path) = write_kubeconfig("clusters: [unclosed");
    let err = load_kubeconfig(&path, "").unwrap_err().to_string();
    assert!(err.contains(&path) && err.contains("parse"), "{err}");

    // A context whose cluster is missing fails when connecting.
    let (_dir, path) = write_kubeconfig(
        &KUBECONFIG.replace("{cluster: prod, user: prod}", "{cluster: gone, user: prod}"),
    );
    let err = KubeCluster::connect("prod", &path, "prod")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("context \"prod\"") && err.contains("gone"),
        "{err}"
    );
}

#[test]
fn relative_kubeconfig_paths_are_taken_from_the_platform_root() {
    let root = Path::new("/repo");
    assert_eq!(
        resolve_kubeconfig_path(root, "kube/prod.yaml"),
        "/repo/kube/prod.yaml"
    );
    assert_eq!(resolve_kubeconfig_path(root, "/etc/k"), "/etc/k");
    assert_eq!(resolve_kubeconfig_path(root, ""), "");
}

fn resource_list(gv: &str, resources: serde_json::Value) -> APIResourceList {
    serde_json::from_value(
        json!({"kind": "APIResourceList", "groupVersion": gv, "resources": resources}),
    )
    .unwrap()
}

fn res(name: &str, kind: &str, namespaced: bool, verbs: &[&str]) -> serde_json::Value {
    json!({"name": name, "singularName": "", "kind": kind, "namespaced": namespaced, "verbs": verbs})
}

const ALL_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

fn sample_discovery() -> DiscoveryMap {
    let core: APIVersions =
        serde_json::from_value(json!({"versions": ["v1"], "serverAddressByClientCIDRs": []}))
            .unwrap();
    let groups: APIGroupList = serde_json::from_value(json!({"groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
        {"name": "coordination.k8s.io", "versions": [{"groupVersion": "coordination.k8s.io/v1", "version": "v1"}]},
        {"name": "example.com", "versions": [
            {"groupVersion": "example.com/v1beta1", "version": "v1beta1"},
            {"groupVersion": "example.com/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "example.com/v1", "version": "v1"}},
        {"name": "metrics.k8s.io", "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}]}
    ]})).unwrap();
    let served = served_groups(&core, &groups);
    assert_eq!(
        served[3].versions,
        ["v1", "v1beta1"],
        "preferred version first"
    );
    let lists = vec![
        (
            "".into(),
            "v1".into(),
            Ok(resource_list(
                "v1",
                json!([
                    res("pods", "Pod", true, ALL_VERBS),
                    res("pods/status", "Pod", true, &["get", "patch"]),
                    res("configmaps", "ConfigMap", true, ALL_VERBS),
                    res("namespaces", "Namespace", false, ALL_VERBS),
                    res("events", "Event", true, ALL_VERBS),
                    res("bindings", "Binding", true, &["create"]),
                ]),
            )),
        ),
        (
            "apps".into(),
            "v1".into(),
            Ok(resource_list(
                "apps/v1",
                json!([res("deployments", "Deployment", true, ALL_VERBS)]),
            )),
        ),
        (
            "coordination.k8s.io".into(),
            "v1".into(),
            Ok(resource_list(
                "coordination.k8s.io/v1",
                json!([res("leases", "Lease", true, ALL_VERBS)]),
            )),
        ),
        (
            "example.com".into(),
            "v1".into(),
            Ok(resource_list(
                "example.com/v1",
                json!([res("widgets", "Widget", false, ALL_VERBS)]),
            )),
        ),
        (
            "example.com".into(),
            "v1beta1".into(),
            Ok(resource_list(
                "example.com/v1beta1",
                json!([
                    res("widgets", "Widget", false, ALL_VERBS),
                    res("gadgets", "Gadget", true, ALL_VERBS),
                ]),
            )),
        ),
        (
            "metrics.k8s.io".into(),
            "v1beta1".into(),
            Err("service unavailable (503)".to_string()),
        ),
    ];
    DiscoveryMap::from_lists(&served, lists)
}

#[test]
fn discovery_maps_kinds_to_resources() {
    let d = sample_discovery();
    let deploy = d.resolve("apps", "v1", "Deployment").unwrap();
    assert_eq!(deploy.plural, "deployments");
    assert!(deploy.namespaced);
    assert_eq!(
        deploy.collection_path(Some("web")),
        "/apis/apps/v1/namespaces/web/deployments"
    );
    let ns = d.preferred("", "Namespace").unwrap();
    assert!(!ns.namespaced);
    assert_eq!(ns.collection_path(Some("ignored")), "/api/v1/namespaces");
    assert_eq!(
        d.preferred("", "Pod").unwrap().collection_path(None),
        "/api/v1/pods"
    );
    // Subresources are not kinds of their own.
    assert_eq!(d.preferred("", "Pod").unwrap().plural, "pods");
    // Preferred version wins; other versions still resolve exactly.
    assert_eq!(d.preferred("example.com", "Widget").unwrap().version, "v1");
    assert_eq!(
        d.resolve("example.com", "v1beta1", "Widget")
            .unwrap()
            .api_version(),
        "example.com/v1beta1"
    );
    // A kind only in a non-preferred version is preferred there.
    assert_eq!(
        d.preferred("example.com", "Gadget").unwrap().version,
        "v1beta1"
    );
    assert!(d.resolve("example.com", "v2", "Widget").is_none());
    // Listable: not excluded, supports list; one version per kind.
    let listable: Vec<String> = d
        .listable()
        .iter()
        .map(|r| format!("{}/{}", r.api_version(), r.kind))
        .collect();
    assert_eq!(
        listable,
        [
            "v1/ConfigMap",
            "v1/Namespace",
            "v1/Pod",
            "apps/v1/Deployment",
            "example.com/v1beta1/Gadget",
            "example.com/v1/Widget"
        ]
    );
    assert_eq!(
        d.failed.get("metrics.k8s.io/v1beta1").map(String::as_str),
        Some("service unavailable (503)")
    );
    // Hints for unknown kinds.
    assert_eq!(
        d.unknown_hint("example.com", "Widget"),
        " (served as: example.com/v1, example.com/v1beta1)"
    );
    assert!(
        d.unknown_hint("metrics.k8s.io", "PodMetrics")
            .contains("discovery failed for metrics.k8s.io/v1beta1: service unavailable")
    );
    assert!(
        d.unknown_hint("nope.dev", "Thing")
            .contains("CustomResourceDefinition")
    );
    assert_eq!(d.len(), 9);
}

#[test]
fn server_side_apply_request() {
    let d = sample_discovery();
    let info = d.resolve("apps", "v1", "Deployment").unwrap();
    let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "web", "resourceVersion": "7", "uid": "u",
                     "managedFields": [{"manager": "x"}], "creationTimestamp": "2020-01-01T00:00:00Z", "labels": {"a": "b"}},
        "spec": {"replicas": 2}, "status": {"readyReplicas": 1}});
    let req = apply_request(info, &obj, "slipway").unwrap();
    assert_eq!(req.method(), http::Method::PATCH);
    assert_eq!(
        req.uri().path(),
        "/apis/apps/v1/namespaces/web/deployments/api"
    );
    let query = req.uri().query().unwrap();
    for q in [
        "fieldManager=slipway",
        "force=true",
        "fieldValidation=Strict",
    ] {
        assert!(query.split('&').any(|p| p == q), "{query}");
    }
    assert_eq!(
        req.headers()["content-type"],
        "application/apply-patch+yaml"
    );
    let body: Value = serde_json::from_slice(req.body()).unwrap();
    assert_eq!(
        body,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "web", "labels": {"a": "b"}}, "spec": {"replicas": 2}})
    );
    let p = ssa_params("alice");
    assert_eq!(p.field_manager.as_deref(), Some("alice"));
    assert!(p.force && !p.dry_run);

    let r = ResourceRef::new("apps", "Deployment", "web", "api");
    let req = delete_request(info, &r, PropagationPolicy::Foreground).unwrap();
    assert_eq!(req.method(), http::Method::DELETE);
    assert_eq!(
        req.uri().path(),
        "/apis/apps/v1/namespaces/web/deployments/api"
    );
    let body: Value = serde_json::from_slice(req.body()).unwrap();
    assert_eq!(body, json!({"propagationPolicy": "Foreground"}));
}

#[test]
fn label_selectors_render_as_the_api_server_reads_them() {
    let reqs = Selector::parse_labels("app=web,tier!=db,env,!legacy").unwrap();
    assert_eq!(label_selector(&reqs), "app=web,tier!=db,env,!legacy");
    assert_eq!(label_selector(&[]), "");
}

#[test]
fn api_errors_map_to_clear_messages() {
    let status = |code: u16, reason: &str, message: &str| {
        kube::Error::Api(Box::new(
            serde_json::from_value(
                json!({"code": code, "reason": reason, "message": message, "status": "Failure"}),
            )
            .unwrap(),
        ))
    };
    let e = map_kube_error(
        "https://k",
        "list /api/v1/secrets",
        status(
            403,
            "Forbidden",
            "secrets is forbidden: User \"dev\" cannot list resource \"secrets\"",
        ),
    );
    assert!(matches!(e, KubeError::Forbidden { .. }));
    assert_eq!(
        e.to_string(),
        "list /api/v1/secrets: forbidden: secrets is forbidden: User \"dev\" cannot list resource \"secrets\""
    );
    let e = map_kube_error(
        "https://k",
        "get x",
        status(401, "Unauthorized", "Unauthorized"),
    );
    assert!(
        e.to_string().contains("unauthorized by https://k") && e.to_string().contains("expired"),
        "{e}"
    );
    let e = map_kube_error("https://k", "get x", status(404, "NotFound", "not found"));
    assert_eq!(api_code(&e), Some(404));
    let e = map_kube_error("https://k", "apply x", status(500, "InternalError", "boom"));
    assert_eq!(e.to_string(), "apply x: InternalError (500): boom");
    let e = KubeError::UnknownKind {
        api_version: "example.com/v2".into(),
        kind: "Widget".into(),
        hint: sample_discovery().unknown_hint("example.com", "Widget"),
    };
    assert_eq!(
        e.to_string(),
        "kind Widget of apiVersion example.com/v2 is not served by the API server (served as: example.com/v1, example.com/v1beta1)"
    );
}

#[test]
fn events_carry_the_latest_writer_and_numeric_revisions() {
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n", "resourceVersion": "42",
        "managedFields": [{"manager": "slipway", "time": "2024-01-01T00:00:00Z"}, {"manager": "kubectl", "time": "2024-02-01T00:00:00Z"}]}});
    assert_eq!(last_manager(&obj), "kubectl");
    assert_eq!(revision_of(&obj).unwrap(), 42);
    let bad = json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "abc"}});
    assert!(
        revision_of(&bad)
            .unwrap_err()
            .to_string()
            .contains("resourceVersion \"abc\" is not a number")
    );
}

#[test]
fn unreachable_server_fails_fast_with_a_clear_error() {
    let (_dir, path) = write_kubeconfig(KUBECONFIG);
    let c = KubeCluster::connect_with("staging", &path, "dev", fast()).unwrap();
    let start = Instant::now();
    let err = c
        .get(&ResourceRef::new("", "ConfigMap", "web", "a"))
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    let text = err.to_string();
    let e = kube_error(err);
    assert!(matches!(e, KubeError::Unreachable { .. }), "{text}");
    assert!(
        text.starts_with("environment staging: cannot reach the API server https://127.0.0.1:1"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("connect"), "{text}");
    assert!(
        text.contains("hint: check that the cluster is up"),
        "{text}"
    );
    // Every verb reports it the same way.
    let err = c.list(&Selector::default()).unwrap_err().to_string();
    assert!(err.contains("cannot reach the API server"), "{err}");
}

#[test]
fn silent_server_times_out_instead_of_hanging() {
    // Accepts connections (the kernel backlog does) but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_dir, path) = write_kubeconfig(
        &KUBECONFIG.replace("https://127.0.0.1:1", &format!("https://127.0.0.1:{port}")),
    );
    let c = KubeCluster::connect_with("staging", &path, "dev", fast()).unwrap();
    let start = Instant::now();
    let err = c
        .get(&ResourceRef::new("", "ConfigMap", "web", "a"))
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    let text = err.to_string();
    assert!(
        text.contains("127.0.0.1") && (text.contains("within 2s") || text.contains("cannot reach")),
        "{text}"
    );
    drop(listener);
}

#[test]
fn a_handle_can_be_used_and_dropped_inside_another_runtime() {
    let (_dir, path) = write_kubeconfig(KUBECONFIG);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(async move {
        let c = KubeCluster::connect_with("staging", &path, "dev", fast()).unwrap();
        let err = c
            .get(&ResourceRef::new("", "ConfigMap", "web", "a"))
            .unwrap_err();
        drop(c);
        err.to_string()
    });
    assert!(err.contains("cannot reach the API server"), "{err}");
}

#[test]
fn kubeconfig_environments_open_a_kube_cluster() {
    use crate::environments::{Environment, Target};
    let (dir, path) = write_kubeconfig(KUBECONFIG);
    let env = |context: &str| Environment {
        name: "prod".into(),
        server: None,
        labels: Default::default(),
        target: Target::Kubeconfig {
            path: path.clone(),
            context: context.into(),
        },
    };
    let c = env("prod").open_cluster(dir.path()).unwrap();
    assert_eq!(c.name(), "prod");
    assert!(
        c.runs_workloads(),
        "health comes from status on a real cluster"
    );
    let Err(err) = env("nope").open_cluster(dir.path()) else {
        panic!("a missing context must fail");
    };
    let err = err.to_string();
    assert!(err.contains("has no context \"nope\""), "{err}");
}

/// One scripted answer: the first route whose method, path and query
/// fragment match (and that has uses left) answers.
struct Route {
    method: &'static str,
    path: String,
    query: &'static str,
    status: u16,
    body: String,
    uses: Option<usize>,
}

fn route(method: &'static str, path: &str, query: &'static str, status: u16, body: Value) -> Route {
    Route {
        method,
        path: path.into(),
        query,
        status,
        body: body.to_string(),
        uses: None,
    }
}

/// A request the scripted server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    content_type: String,
    accept: String,
    body: String,
}

/// A scripted API server on loopback (plain HTTP): enough to drive discovery,
/// get, paged list, apply, delete and watch through the real client.
struct ScriptedServer {
    url: String,
    seen: std::sync::Arc<Mutex<Vec<Seen>>>,
}

impl ScriptedServer {
    fn start(routes: Vec<Route>) -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let routes = Mutex::new(routes);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let target = parts.next().unwrap_or("").to_string();
                let (mut length, mut content_type, mut accept) =
                    (0usize, String::new(), String::new());
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    let (k, v) = h.split_once(':').unwrap_or((&h, ""));
                    match k.to_ascii_lowercase().as_str() {
                        "content-length" => length = v.trim().parse().unwrap_or(0),
                        "content-type" => content_type = v.trim().to_string(),
                        "accept" => accept = v.trim().to_string(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let mut routes = routes.lock().unwrap();
                let answer = routes.iter_mut().find(|r| {
                    r.method == method
                        && r.path == path
                        && query.contains(r.query)
                        && r.uses != Some(0)
                });
                let (status, text) = match answer {
                    Some(r) => {
                        if let Some(n) = r.uses.as_mut() {
                            *n -= 1;
                        }
                        (r.status, r.body.clone())
                    }
                    None => (404, json!({"kind": "Status", "code": 404, "reason": "NotFound", "message": format!("no route for {method} {target}")}).to_string()),
                };
                log.lock().unwrap().push(Seen {
                    method,
                    target: target.clone(),
                    content_type,
                    accept,
                    body: String::from_utf8_lossy(&body).into(),
                });
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        Self { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, method: &str, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == method && s.target.split('?').next() == Some(path))
            .count()
    }
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message})
}

fn discovery_routes() -> Vec<Route> {
    vec![
        route(
            "GET",
            "/api",
            "",
            200,
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        ),
        route(
            "GET",
            "/apis",
            "",
            200,
            json!({"kind": "APIGroupList", "groups": [
            {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]}),
        ),
        route(
            "GET",
            "/api/v1",
            "",
            200,
            json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            res("configmaps", "ConfigMap", true, ALL_VERBS), res("namespaces", "Namespace", false, ALL_VERBS),
            res("secrets", "Secret", true, ALL_VERBS)]}),
        ),
        route(
            "GET",
            "/apis/apps/v1",
            "",
            200,
            json!({"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
            res("deployments", "Deployment", true, ALL_VERBS)]}),
        ),
    ]
}

fn scripted_cluster(server: &ScriptedServer) -> (tempfile::TempDir, KubeCluster) {
    let (dir, path) = write_kubeconfig(&KUBECONFIG.replace("https://127.0.0.1:1", &server.url));
    let options = KubeOptions {
        delete_wait: Duration::from_secs(3),
        ..fast()
    };
    let c = KubeCluster::connect_with("staging", &path, "dev", options).unwrap();
    (dir, c)
}

fn cm_item(ns: &str, name: &str, rv: u32) -> Value {
    json!({"metadata": {"name": name, "namespace": ns, "resourceVersion": rv.to_string(), "uid": format!("uid-{name}")}, "data": {"k": name}})
}

#[test]
fn talks_to_an_api_server_over_http() {
    let mut routes = discovery_routes();
    routes.extend([
        route("GET", "/api/v1/namespaces/web/configmaps/a", "", 200, cm_item("web", "a", 5)),
        route("GET", "/api/v1/configmaps", "continue=page2", 200, json!({"kind": "ConfigMapList", "metadata": {"resourceVersion": "9"}, "items": [cm_item("web", "a", 5)]})),
        route("GET", "/api/v1/configmaps", "labelSelector=app%3Dweb", 200, json!({"kind": "ConfigMapList", "metadata": {"continue": "page2"}, "items": [cm_item("web", "z", 6), cm_item("api", "b", 7)]})),
        route("GET", "/api/v1/secrets", "", 403, status(403, "Forbidden", "secrets is forbidden: User \"dev\" cannot list resource \"secrets\" in API group \"\" at the cluster scope")),
        route("PATCH", "/apis/apps/v1/namespaces/web/deployments/api", "", 200,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "web", "resourceVersion": "10", "uid": "d1"}, "spec": {"replicas": 2}})),
        route("PATCH", "/api/v1/namespaces/web/configmaps/bad", "", 422, status(422, "Invalid", "ConfigMap \"bad\" is invalid: data[k]: Invalid value")),
        Route { uses: Some(1), ..route("DELETE", "/api/v1/namespaces/web/configmaps/b", "", 200, cm_item("web", "b", 8)) },
        // Still there once (being deleted), then gone.
        Route { uses: Some(1), ..route("GET", "/api/v1/namespaces/web/configmaps/b", "", 200, cm_item("web", "b", 8)) },
    ]);
    let server = ScriptedServer::start(routes);
    let (_dir, c) = scripted_cluster(&server);

    // Get fills in apiVersion and kind; missing objects and unknown kinds are None.
    let a = c
        .get(&ResourceRef::new("", "ConfigMap", "web", "a"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (a["apiVersion"].as_str(), a["kind"].as_str()),
        (Some("v1"), Some("ConfigMap"))
    );
    assert!(
        c.get(&ResourceRef::new("", "ConfigMap", "web", "none"))
            .unwrap()
            .is_none()
    );
    assert!(
        c.get(&ResourceRef::new("example.com", "Widget", "web", "w"))
            .unwrap()
            .is_none()
    );
    assert_eq!(server.count("GET", "/api"), 1, "discovery is cached");

    // Paged list with a server-side label selector, sorted by identity.
    let listed = c
        .list(&Selector {
            group_kind: Some((String::new(), "ConfigMap".into())),
            labels: Selector::parse_labels("app=web").unwrap(),
            ..Selector::default()
        })
        .unwrap();
    assert_eq!(names_of(&listed), ["api/b", "web/a", "web/z"]);
    assert!(listed.iter().all(|o| o["kind"] == "ConfigMap"));
    let pages = server
        .seen()
        .into_iter()
        .filter(|s| s.target.starts_with("/api/v1/configmaps?"))
        .count();
    assert_eq!(pages, 2);

    // Forbidden says who may not do what.
    let err = c
        .list(&Selector {
            group_kind: Some((String::new(), "Secret".into())),
            ..Selector::default()
        })
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("environment staging: list /api/v1/secrets: forbidden: secrets is forbidden: User \"dev\""), "{err}");

    // Server-side apply.
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "web"}, "spec": {"replicas": 2}});
    let stored = c.apply(&deploy, "slipway").unwrap();
    assert_eq!(stored["metadata"]["uid"], "d1");
    let patch = server
        .seen()
        .into_iter()
        .find(|s| s.method == "PATCH")
        .unwrap();
    assert_eq!(patch.content_type, "application/apply-patch+yaml");
    assert!(
        patch.target.contains("fieldManager=slipway") && patch.target.contains("force=true"),
        "{}",
        patch.target
    );
    assert_eq!(serde_json::from_str::<Value>(&patch.body).unwrap(), deploy);
    // A rejected object is Invalid with the server's reason.
    let err = c
        .apply(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad", "namespace": "web"}, "data": {"k": 1}}), "slipway")
        .unwrap_err();
    assert!(matches!(err, ClusterError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("data[k]: Invalid value"), "{err}");
    // An unknown kind is an error naming it, after one more discovery at most.
    let err = c
        .apply(
            &json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
            "slipway",
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("kind Widget of apiVersion example.com/v1 is not served")
            && err.contains("CustomResourceDefinition"),
        "{err}"
    );

    // Delete waits until the object is gone; a second delete finds nothing.
    assert!(
        c.delete(&ResourceRef::new("", "ConfigMap", "web", "b"), "slipway")
            .unwrap()
    );
    let del = server
        .seen()
        .into_iter()
        .find(|s| s.method == "DELETE")
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&del.body).unwrap(),
        json!({"propagationPolicy": "Foreground"})
    );
    assert_eq!(
        server.count("GET", "/api/v1/namespaces/web/configmaps/b"),
        2
    );
    assert!(
        !c.delete(&ResourceRef::new("", "ConfigMap", "web", "b"), "slipway")
            .unwrap()
    );
}

fn names_of(objs: &[Value]) -> Vec<String> {
    objs.iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o.name()
            )
        })
        .collect()
}

#[test]
fn a_deletion_held_by_finalizers_times_out_with_them_named() {
    let mut routes = discovery_routes();
    let mut held = cm_item("web", "b", 8);
    held["metadata"]["finalizers"] = json!(["example.com/cleanup"]);
    routes.extend([
        route(
            "DELETE",
            "/api/v1/namespaces/web/configmaps/b",
            "",
            200,
            held.clone(),
        ),
        route("GET", "/api/v1/namespaces/web/configmaps/b", "", 200, held),
    ]);
    let server = ScriptedServer::start(routes);
    let (_dir, path) = write_kubeconfig(&KUBECONFIG.replace("https://127.0.0.1:1", &server.url));
    let options = KubeOptions {
        delete_wait: Duration::from_millis(500),
        ..fast()
    };
    let c = KubeCluster::connect_with("staging", &path, "dev", options).unwrap();
    let err = c
        .delete(&ResourceRef::new("", "ConfigMap", "web", "b"), "slipway")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "environment staging: delete ConfigMap:web/b: still present after 500ms (finalizers: example.com/cleanup)"
    );
}

#[test]
fn events_since_watches_the_kinds_used() {
    let mut routes = discovery_routes();
    let ev = |t: &str, name: &str, rv: u32, manager: &str| {
        let mut o = cm_item("web", name, rv);
        o["metadata"]["managedFields"] =
            json!([{"manager": manager, "time": "2024-01-01T00:00:00Z", "operation": "Apply"}]);
        json!({"type": t, "object": o}).to_string()
    };
    let cm_stream = [
        ev("ADDED", "c", 11, "kubectl"),
        ev("MODIFIED", "old", 3, "kubectl"),
        json!({"type": "BOOKMARK", "object": {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"resourceVersion": "12"}}}).to_string(),
        ev("DELETED", "c", 13, "kubectl"),
    ]
    .join("\n");
    routes.extend([
        route("GET", "/api/v1/namespaces/web/configmaps/a", "", 200, cm_item("web", "a", 5)),
        Route { body: cm_stream, uses: Some(1), ..route("GET", "/api/v1/configmaps", "watch=true", 200, json!(null)) },
        route("GET", "/api/v1/configmaps", "watch=true", 200, json!({"type": "ERROR", "object": status(410, "Expired", "too old resource version: 4 (900)")})),
    ]);
    let server = ScriptedServer::start(routes);
    let (_dir, c) = scripted_cluster(&server);
    // Nothing used yet: nothing watched.
    assert!(c.events_since(4).unwrap().is_empty());
    c.get(&ResourceRef::new("", "ConfigMap", "web", "a"))
        .unwrap();
    let events = c.events_since(4).unwrap();
    let got: Vec<(EventType, String, u64, String)> = events
        .iter()
        .map(|e| {
            (
                e.event,
                e.resource.to_string(),
                e.revision,
                e.manager.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                EventType::Added,
                "ConfigMap:web/c".to_string(),
                11,
                "kubectl".to_string()
            ),
            (
                EventType::Deleted,
                "ConfigMap:web/c".to_string(),
                13,
                String::new()
            ),
        ]
    );
    let watch = server
        .seen()
        .into_iter()
        .find(|s| s.target.contains("watch=true"))
        .unwrap();
    assert!(
        watch.target.contains("resourceVersion=4") && watch.target.contains("timeoutSeconds=1"),
        "{}",
        watch.target
    );
    // A revision the server no longer keeps.
    let err = c.events_since(4).unwrap_err().to_string();
    assert!(
        err.contains("from revision 4: the API server no longer keeps changes that old"),
        "{err}"
    );
}

#[test]
fn tracked_objects_are_found_across_kinds_with_one_scan() {
    use crate::tracking::set_tracking;
    let tracked = |mut o: Value, kind: &str, api_version: &str, app: &str| {
        o["kind"] = kind.into();
        o["apiVersion"] = api_version.into();
        set_tracking(&mut o, app);
        o
    };
    let a = tracked(cm_item("web", "a", 5), "ConfigMap", "v1", "app1");
    let b = tracked(cm_item("web", "b", 6), "ConfigMap", "v1", "app2");
    let c = tracked(cm_item("web", "c", 7), "ConfigMap", "v1", "app3");
    let d = tracked(
        json!({"metadata": {"name": "d", "namespace": "web", "resourceVersion": "8"}}),
        "Deployment",
        "apps/v1",
        "app1",
    );
    let list = |items: Vec<Value>| json!({"kind": "List", "metadata": {}, "items": items});
    let mut routes = discovery_routes();
    routes.extend([
        // The metadata scan, cluster-wide.
        route(
            "GET",
            "/api/v1/configmaps",
            "",
            200,
            list(vec![a.clone(), b.clone(), cm_item("web", "x", 9)]),
        ),
        route(
            "GET",
            "/api/v1/namespaces",
            "",
            200,
            list(vec![json!({"metadata": {"name": "web"}})]),
        ),
        route(
            "GET",
            "/api/v1/secrets",
            "",
            403,
            status(403, "Forbidden", "no"),
        ),
        route(
            "GET",
            "/apis/apps/v1/deployments",
            "",
            200,
            list(vec![d.clone()]),
        ),
        // Full lists in the namespace.
        route(
            "GET",
            "/api/v1/namespaces/web/configmaps",
            "",
            200,
            list(vec![a, b, c.clone(), cm_item("web", "x", 9)]),
        ),
        route(
            "GET",
            "/apis/apps/v1/namespaces/web/deployments",
            "",
            200,
            list(vec![d]),
        ),
        route(
            "PATCH",
            "/api/v1/namespaces/web/configmaps/c",
            "",
            200,
            c.clone(),
        ),
    ]);
    let server = ScriptedServer::start(routes);
    let (_dir, cluster) = scripted_cluster(&server);
    let by_app = |app: &str| {
        let found = cluster
            .list(&Selector {
                tracked_by: Some(app.into()),
                namespace: Some("web".into()),
                ..Selector::default()
            })
            .unwrap();
        found
            .iter()
            .map(|o| ResourceRef::of(o).to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(by_app("app1"), ["ConfigMap:web/a", "apps/Deployment:web/d"]);
    assert_eq!(by_app("app2"), ["ConfigMap:web/b"]);
    // One metadata scan served both apps, and asked for metadata only.
    assert_eq!(server.count("GET", "/api/v1/namespaces"), 1);
    let scan = server
        .seen()
        .into_iter()
        .find(|s| s.target.starts_with("/apis/apps/v1/deployments"))
        .unwrap();
    assert!(
        scan.accept.contains("as=PartialObjectMetadataList"),
        "{}",
        scan.accept
    );
    // app3's object is not in the scan; applying it through this handle
    // records it at once.
    assert!(by_app("app3").is_empty());
    cluster.apply(&c, "slipway").unwrap();
    assert_eq!(by_app("app3"), ["ConfigMap:web/c"]);
    assert_eq!(server.count("GET", "/api/v1/namespaces"), 1);
}
