//! The admission webhook over real HTTPS: a generated CA, a reqwest client
//! that trusts only that CA, and real AdmissionReview payloads.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use slipway_server::metrics::Metrics;
use slipway_server::tls::{default_hosts, ensure_self_signed};
use slipway_server::webhook::{PolicyStore, WebhookState, router, serve_tls};

fn data() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
}

fn client(ca_pem: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_and_mutate_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let tls = ensure_self_signed(&dir.path().join("tls"), &default_hosts()).unwrap();
    let metrics = Arc::new(Metrics::new());
    let store = Arc::new(PolicyStore::from_dir(&data().join("policies")).unwrap());
    let app = router(WebhookState::new(store, metrics.clone()));
    let server = serve_tls("127.0.0.1:0".parse().unwrap(), &tls, app)
        .await
        .unwrap();
    let base = format!("https://localhost:{}", server.addr.port());
    let http = client(&tls.ca_pem);

    let latest = fs_err::read(data().join("reviews/pod-latest.json")).unwrap();
    let resp = http
        .post(format!("{base}/validate"))
        .header("content-type", "application/json")
        .body(latest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    assert_eq!(v["response"]["allowed"], false);
    let msg = v["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("policy disallow-latest-tag/validate-image-tag: "),
        "{msg}"
    );
    assert!(
        v["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("policy require-labels/check-for-labels: ")
    );

    let ok = fs_err::read(data().join("reviews/pod-ok.json")).unwrap();
    let v: Value = serde_json::from_slice(
        &http
            .post(format!("{base}/validate"))
            .body(ok.clone())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(v["response"]["allowed"], true);
    assert!(v["response"].get("warnings").is_none());

    let v: Value = serde_json::from_slice(
        &http
            .post(format!("{base}/mutate"))
            .body(ok)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(v["response"]["allowed"], true);
    assert_eq!(v["response"]["patchType"], "JSONPatch");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(v["response"]["patch"].as_str().unwrap())
        .unwrap();
    let ops: Value = serde_json::from_slice(&patch).unwrap();
    assert_eq!(ops[0]["op"], "add");

    // Malformed body: 400 with the reason.
    let resp = http
        .post(format!("{base}/validate"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .starts_with("bad AdmissionReview")
    );

    // Oversized body: refused before parsing.
    let big = vec![b' '; 8 * 1024 * 1024];
    let resp = http
        .post(format!("{base}/validate"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    let text = metrics.encode();
    assert!(
        text.contains(
            "slipway_admission_requests_total{operation=\"validate\",decision=\"denied\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "slipway_admission_requests_total{operation=\"mutate\",decision=\"allowed\"} 1"
        )
    );
    assert!(text.contains(
        "slipway_policy_evaluations_total{policy=\"disallow-latest-tag\",result=\"fail\"} 1"
    ));

    // Plain HTTP is not served.
    let plain = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/validate", server.addr.port()))
        .body(latest)
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));

    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_reload_when_the_directory_changes() {
    let dir = tempfile::tempdir().unwrap();
    let pol = dir.path().join("policies");
    fs_err::create_dir_all(&pol).unwrap();
    let store = PolicyStore::from_dir(&pol).unwrap();
    assert!(store.current().policies.is_empty());
    assert!(!store.reload_if_changed().unwrap());
    fs_err::copy(
        data().join("policies/disallow-latest-tag.yaml"),
        pol.join("disallow-latest-tag.yaml"),
    )
    .unwrap();
    assert!(store.reload_if_changed().unwrap());
    assert_eq!(store.current().policies.len(), 1);
    // A broken file keeps the previous set in force and reports the error.
    fs_err::write(pol.join("broken.yaml"), "a: [").unwrap();
    assert!(store.reload_if_changed().is_err());
    assert_eq!(store.current().policies.len(), 1);
}
