//! `serve` end to end on loopback: a real Git platform repository, the
//! reconcile loop, the REST API with its token, /metrics, and (when the
//! Debian `prometheus` package is installed) a real Prometheus scraping us.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slipway_server::server::{ServeConfig, start};

mod common;
use common::{platform, wait_ready, which};

async fn json_of(r: reqwest::Response) -> Value {
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_sync_history_metrics_and_auth() {
    // reqwest is built without a crypto provider: install ring, as the binary does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = platform(tmp.path());
    let running = start(ServeConfig {
        data_dir: data.clone(),
        platform: repo.clone(),
        policies: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        webhook_listen: None,
        tls: None,
        poll_interval: Duration::from_secs(60),
    })
    .await
    .unwrap();
    let base = format!("http://{}", running.api_addr);
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;
    let token = fs_err::read_to_string(data.join("api-token")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs_err::metadata(data.join("api-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let apps = json_of(
        http.get(format!("{base}/api/v1/applications"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(apps[0]["name"], "web");
    assert_eq!(apps[0]["env"], "prod");
    assert_eq!(apps[0]["sync"], "OutOfSync");

    // Mutating without the token is refused.
    let r = http
        .post(format!("{base}/api/v1/applications/web/sync"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{base}/api/v1/applications/web/sync"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let r = http
        .post(format!("{base}/api/v1/applications/web/sync"))
        .bearer_auth(token.trim())
        .json(&json!({"prune": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let out = json_of(r).await;
    assert_eq!(out["entry"]["result"], "Succeeded");
    assert_eq!(out["entry"]["initiator"], "api");

    let app = json_of(
        http.get(format!("{base}/api/v1/applications/web"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(app["summary"]["sync"], "Synced");
    let res = json_of(
        http.get(format!("{base}/api/v1/applications/web/resources"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(res["resources"].as_array().unwrap().len(), 2);
    assert!(
        res["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["live"] == true)
    );
    let diff = json_of(
        http.get(format!("{base}/api/v1/applications/web/diff"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(diff["diffs"].as_array().unwrap().len(), 0);
    let hist = json_of(
        http.get(format!("{base}/api/v1/applications/web/history"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(hist.as_array().unwrap().len(), 1);
    let objs = json_of(
        http.get(format!(
            "{base}/api/v1/environments/prod/objects?kind=Service"
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(objs[0]["metadata"]["name"], "guestbook");
    let envs = json_of(
        http.get(format!("{base}/api/v1/environments"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        envs.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "prod" && e["objects"].as_u64().unwrap() >= 2)
    );

    let dora = json_of(
        http.get(format!("{base}/api/v1/delivery"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(dora["overall"]["deployments"], 1);
    assert_eq!(dora["overall"]["changeFailureRate"], 0.0);
    assert!(dora["overall"]["leadTimeSeconds"].as_f64().unwrap() > 0.0);

    let events = json_of(
        http.get(format!("{base}/api/v1/events?app=web"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(events[0]["kind"], "Sync");

    let doc = json_of(
        http.get(format!("{base}/api/v1/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/api/v1/applications/{name}/sync"]["post"]["security"].is_array());

    let r = http
        .post(format!("{base}/api/v1/webhooks/git"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);

    // The server closes a connection whose oversized body it refused; a
    // client of its own keeps that connection out of the shared pool.
    let big = vec![b' '; 2 * 1024 * 1024];
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/applications/web/sync"))
        .bearer_auth(token.trim())
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "slipway_syncs_total{result=\"Succeeded\"} 1",
        "slipway_app_sync_status{app=\"web\",env=\"prod\",status=\"Synced\"} 1",
        "slipway_reconcile_duration_seconds_count",
        "slipway_git_fetch_duration_seconds_count{result=\"ok\"}",
        "slipway_dora_deployment_frequency_per_day{app=\"web\",env=\"prod\"}",
    ] {
        assert!(metrics.contains(series), "missing {series}\n{metrics}");
    }

    let page = http
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<title>Slipway console</title>"));

    prometheus_scrape(&running.api_addr.to_string(), tmp.path()).await;
    running.shutdown().await;
}

/// A real Prometheus scrapes /metrics; its HTTP API must show the target up
/// and our series.
#[allow(clippy::print_stderr)] // the "skipped:" line CI logs show
async fn prometheus_scrape(target: &str, dir: &Path) {
    let Some(bin) = which("prometheus") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is not installed (apt-get install prometheus) and CI is set"
        );
        eprintln!("skipped: prometheus scrape test (install the Debian package `prometheus`)");
        return;
    };
    let port = common::free_port();
    let cfg = dir.join("prometheus.yml");
    fs_err::write(
        &cfg,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: slipway\n    metrics_path: /metrics\n    static_configs: [{{targets: ['{target}']}}]\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let start = Instant::now();
    let mut up = false;
    let mut series = false;
    while start.elapsed() < Duration::from_secs(40) && !(up && series) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Ok(r) = http.get(format!("{api}/targets")).send().await
            && let Ok(v) = serde_json::from_slice::<Value>(&r.bytes().await.unwrap_or_default())
        {
            up = v["data"]["activeTargets"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["health"] == "up"));
        }
        if let Ok(r) = http
            .get(format!("{api}/query?query=slipway_syncs_total"))
            .send()
            .await
            && let Ok(v) = serde_json::from_slice::<Value>(&r.bytes().await.unwrap_or_default())
        {
            series = v["data"]["result"]
                .as_array()
                .is_some_and(|r| r.iter().any(|s| s["metric"]["result"] == "Succeeded"));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "prometheus never saw the slipway target up");
    assert!(series, "prometheus has no slipway_syncs_total series");
}
