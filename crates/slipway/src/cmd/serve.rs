//! `slipway serve`: the control plane (reconcile loop, REST API, console,
//! /metrics, admission webhook) until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use slipway_server::server::{ServeConfig, shutdown_signal, start};

use crate::exit::Exit;
use crate::output;

/// Log formats.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per event (for Loki and friends).
    Json,
}

/// `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Data directory (state, embedded environments, Git cache, token, TLS).
    #[arg(long, env = crate::cmd::app::DATA_DIR_ENV, default_value = ".slipway")]
    pub data_dir: PathBuf,
    /// Platform repository root holding `slipway.yaml` (environments) and `policies/`.
    #[arg(long, default_value = ".")]
    pub platform: PathBuf,
    /// Policy directory for the admission webhook (default: <platform>/policies).
    #[arg(long)]
    pub policies: Option<PathBuf>,
    /// API, console and /metrics address (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Admission webhook address (HTTPS); no webhook when absent.
    #[arg(long)]
    pub webhook_listen: Option<SocketAddr>,
    /// Webhook serving certificate (PEM); generated in <data-dir>/tls when absent.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Webhook serving key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds between reconcile passes.
    #[arg(long, default_value_t = 10)]
    pub interval: u64,
    /// Log format.
    #[arg(long, value_enum, default_value = "human")]
    pub log_format: LogFormat,
}

/// Installs the tracing subscriber (RUST_LOG overrides the level).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

impl ServeArgs {
    /// The server configuration.
    pub fn config(&self) -> anyhow::Result<ServeConfig> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Some(slipway_server::tls::from_files(c, k, None)?),
            _ => None,
        };
        Ok(ServeConfig {
            data_dir: self.data_dir.clone(),
            platform: self.platform.clone(),
            policies: self.policies.clone(),
            listen: self.listen,
            webhook_listen: self.webhook_listen,
            tls,
            poll_interval: Duration::from_secs(self.interval.max(1)),
        })
    }
}

/// Runs the control plane; `banner` is printed once listening.
pub fn serve_until_signal(
    config: ServeConfig,
    banner: impl FnOnce(&slipway_server::server::Running) -> String,
) -> anyhow::Result<Exit> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let running = start(config).await?;
        output::stdout(&banner(&running))?;
        shutdown_signal().await;
        running.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Exit::Success)
}

/// Runs `serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<Exit> {
    init_logging(args.log_format);
    let config = args.config()?;
    serve_until_signal(config, |r| {
        let mut s = format!("slipway: API and console on http://{}/\n", r.api_addr);
        if let Some(w) = r.webhook_addr {
            s.push_str(&format!(
                "slipway: admission webhook on https://{w}/validate and /mutate\n"
            ));
        }
        s
    })
}
