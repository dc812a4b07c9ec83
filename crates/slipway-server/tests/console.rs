//! The web console end to end in headless Chromium, driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`): load the page, open an
//! application, press Sync, and see its sync status change in the page.
//!
//! The WebDriver client is a few W3C calls over `reqwest`; no browser
//! automation crate is needed for a click-and-read scenario.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use slipway_server::server::{ServeConfig, start};

mod common;
use common::{free_port, platform, wait_ready, which};

/// The W3C key naming an element reference in WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session.
struct Browser {
    http: reqwest::Client,
    driver: Child,
    base: String,
    session: String,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile.
    async fn launch(chromedriver: &Path, chromium: &Path, profile: &Path) -> Browser {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver never answered on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let mut browser = Browser {
            http,
            driver,
            base,
            session: String::new(),
        };
        let v = browser.call("POST", "/session", Some(caps)).await;
        browser.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session in {v}"))
            .to_string();
        browser
    }

    /// One WebDriver command; panics with the driver's error on failure.
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let r = req.send().await.unwrap();
        let status = r.status();
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert!(
            status.is_success(),
            "webdriver {method} {path}: {status} {v}"
        );
        v["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    async fn goto(&self, url: &str) {
        self.call(
            "POST",
            &self.session_path("/url"),
            Some(json!({"url": url})),
        )
        .await;
    }

    /// The element matching a CSS selector, if any.
    async fn find(&self, css: &str) -> Option<String> {
        let url = format!("{}{}", self.base, self.session_path("/elements"));
        let v: Value = self
            .http
            .post(url)
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["value"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|e| e[ELEMENT_KEY].as_str())
            .map(str::to_string)
    }

    /// Waits until the element matching `css` shows exactly `text`; returns
    /// the last text seen on timeout, for the assertion message.
    async fn wait_text(&self, css: &str, text: &str) -> Result<(), String> {
        self.wait_until(css, |t| t.trim() == text).await
    }

    /// Waits until the element matching `css` has text passing `ok`.
    async fn wait_until(&self, css: &str, ok: impl Fn(&str) -> bool) -> Result<(), String> {
        let started = Instant::now();
        let mut last = String::from("(no element)");
        while started.elapsed() < Duration::from_secs(30) {
            if let Some(id) = self.find(css).await {
                let url = format!(
                    "{}{}",
                    self.base,
                    self.session_path(&format!("/element/{id}/text"))
                );
                // The element can be replaced between find and read (the
                // page re-renders): a stale reference is retried.
                if let Ok(r) = self.http.get(url).send().await
                    && r.status().is_success()
                    && let Ok(v) = r.json::<Value>().await
                {
                    last = v["value"].as_str().unwrap_or_default().to_string();
                    if ok(&last) {
                        return Ok(());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(last)
    }

    /// Like [`Browser::wait_text`], panicking with the page state.
    async fn expect_text(&self, css: &str, text: &str, what: &str) {
        if let Err(seen) = self.wait_text(css, text).await {
            panic!(
                "{what}: expected {text:?} in {css}, saw {seen:?}\n{}",
                self.page_state().await
            );
        }
    }

    /// Like [`Browser::wait_until`], panicking with the page state.
    async fn expect_until(&self, css: &str, ok: impl Fn(&str) -> bool, what: &str) {
        if let Err(seen) = self.wait_until(css, ok).await {
            panic!("{what}: {css} showed {seen:?}\n{}", self.page_state().await);
        }
    }

    /// The page's visible text and the browser's console log, for
    /// assertion messages.
    async fn page_state(&self) -> String {
        let url = format!("{}{}", self.base, self.session_path("/execute/sync"));
        let text = match self
            .http
            .post(url)
            .json(&json!({"script": "return document.body.innerText", "args": []}))
            .send()
            .await
        {
            Ok(r) => r
                .json::<Value>()
                .await
                .map(|v| v["value"].to_string())
                .unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        let url = format!("{}{}", self.base, self.session_path("/se/log"));
        let log = match self
            .http
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        format!("page text: {text}\nbrowser log: {log}")
    }

    /// Errors the page logged (script errors, failed loads) since the
    /// last call.
    async fn severe_log(&self) -> Vec<Value> {
        let v = self
            .call(
                "POST",
                &self.session_path("/se/log"),
                Some(json!({"type": "browser"})),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn click(&self, css: &str) {
        let started = Instant::now();
        loop {
            if let Some(id) = self.find(css).await {
                let url = format!(
                    "{}{}",
                    self.base,
                    self.session_path(&format!("/element/{id}/click"))
                );
                let r = self.http.post(url).json(&json!({})).send().await.unwrap();
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "cannot click {css}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await.unwrap_or_else(|| panic!("no {css}"));
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/value")),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn quit(mut self) {
        let path = self.session_path("");
        let _ = self
            .http
            .delete(format!("{}{path}", self.base))
            .send()
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed assertion must not leave chromedriver (and its browser) behind.
        let _ = self.driver.kill();
    }
}

/// Chromium and chromedriver, or a skip (a failure when CI is set).
#[allow(clippy::print_stderr)] // the "skipped:" line CI logs show
fn tools() -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let driver = which("chromedriver");
    let chromium = which("chromium").or_else(|| which("chromium-browser"));
    match (driver, chromium) {
        (Some(d), Some(c)) => Some((d, c)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromium or chromedriver is not installed (apt-get install chromium chromium-driver) and CI is set"
            );
            eprintln!(
                "skipped: console end-to-end test (install the Debian packages `chromium` and `chromium-driver`)"
            );
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_open_app_and_sync() {
    let Some((chromedriver, chromium)) = tools() else {
        return;
    };
    // reqwest is built without a crypto provider: install ring, as the binary does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    let (repo, data) = platform(tmp.path());
    let running = start(ServeConfig {
        data_dir: data.clone(),
        platform: repo,
        policies: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        webhook_listen: None,
        tls: None,
        poll_interval: Duration::from_secs(60),
    })
    .await
    .unwrap();
    let base = format!("http://{}", running.api_addr);
    wait_ready(&reqwest::Client::new(), &base).await;
    let token = fs_err::read_to_string(data.join("api-token")).unwrap();

    let browser = Browser::launch(&chromedriver, &chromium, &tmp.path().join("profile")).await;
    browser.goto(&format!("{base}/")).await;

    // The application list shows the app out of sync.
    let row = r#"tr.app[data-app="web"] td[data-field="sync"]"#;
    browser.expect_text(row, "OutOfSync", "app list").await;

    // Open it: the detail pane shows its status and the resources to create.
    browser.click(r#"tr.app[data-app="web"]"#).await;
    browser
        .expect_text("#app-title", "web", "detail title")
        .await;
    browser
        .expect_text("#app-sync", "OutOfSync", "detail sync")
        .await;

    // Sync without the token is refused, and the page says so.
    browser.click("#sync-btn").await;
    browser
        .expect_until(
            "#msg",
            |t| t.contains("needs 'Authorization: Bearer <token>'"),
            "unauthorised sync message",
        )
        .await;
    browser
        .expect_text("#app-sync", "OutOfSync", "after refused sync")
        .await;

    // With the token, Sync brings it in sync: detail, list and history agree.
    browser.type_into("#token", token.trim()).await;
    browser.click("#sync-btn").await;
    browser
        .expect_text("#app-sync", "Synced", "detail sync")
        .await;
    browser.expect_text(row, "Synced", "app list").await;
    browser
        .expect_text("#history tbody tr td:nth-child(3)", "Succeeded", "history")
        .await;
    browser
        .expect_text("#msg", "", "message after a good sync")
        .await;

    // Nothing failed in the page but the refused sync (a 401 the console
    // reports, and the browser logs as a failed load).
    let errors: Vec<Value> = browser
        .severe_log()
        .await
        .into_iter()
        .filter(|e| !e["message"].as_str().unwrap_or_default().contains("401"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");

    browser.quit().await;
    running.shutdown().await;
}
