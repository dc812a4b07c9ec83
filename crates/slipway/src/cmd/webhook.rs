//! `slipway webhook ...`: the admission webhook's Kubernetes registration.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use slipway_server::tls::{
    ManifestOptions, WebhookTarget, default_hosts, ensure_self_signed, from_files,
    webhook_configurations,
};

use crate::exit::Exit;
use crate::output;

/// Webhook commands.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Print the ValidatingWebhookConfiguration and MutatingWebhookConfiguration
    /// with the CA bundle (generating the CA in the data directory if needed).
    Manifest(ManifestArgs),
}

/// `webhook manifest` options.
#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Data directory (the generated CA lives in `<data-dir>/tls`).
    #[arg(long, env = crate::cmd::app::DATA_DIR_ENV, default_value = ".slipway")]
    data_dir: PathBuf,
    /// Reach the webhook at this base URL (e.g. https://10.0.0.5:8443) instead of a Service.
    #[arg(long, conflicts_with = "service")]
    url: Option<String>,
    /// The in-cluster Service as NAMESPACE/NAME[:PORT].
    #[arg(long, default_value = "slipway/slipway-webhook:443")]
    service: String,
    /// failurePolicy: Fail or Ignore.
    #[arg(long, default_value = "Fail", value_parser = ["Fail", "Ignore"])]
    failure_policy: String,
    /// timeoutSeconds (1-30).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=30))]
    timeout: u8,
    /// Serving certificate given to `serve --tls-cert` (its CA is then --tls-ca).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Serving key.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// CA bundle of --tls-cert (default: the certificate itself).
    #[arg(long)]
    tls_ca: Option<PathBuf>,
}

fn parse_service(s: &str) -> anyhow::Result<WebhookTarget> {
    let (ns, rest) = s
        .split_once('/')
        .ok_or_else(|| anyhow::anyhow!("--service {s:?}: expected NAMESPACE/NAME[:PORT]"))?;
    let (name, port) = match rest.split_once(':') {
        Some((n, p)) => (
            n,
            p.parse::<u16>()
                .map_err(|_| anyhow::anyhow!("--service {s:?}: port {p:?} is not a number"))?,
        ),
        None => (rest, 443),
    };
    Ok(WebhookTarget::Service {
        namespace: ns.into(),
        name: name.into(),
        port,
    })
}

/// Runs a webhook command.
pub fn run(command: WebhookCommand) -> anyhow::Result<Exit> {
    match command {
        WebhookCommand::Manifest(a) => {
            let tls = match (&a.tls_cert, &a.tls_key) {
                (Some(c), Some(k)) => from_files(c, k, a.tls_ca.as_deref())?,
                _ => ensure_self_signed(&a.data_dir.join("tls"), &default_hosts())?,
            };
            let target = match a.url {
                Some(u) => WebhookTarget::Url(u),
                None => parse_service(&a.service)?,
            };
            let opts = ManifestOptions {
                target,
                failure_policy: a.failure_policy,
                timeout_seconds: a.timeout,
                ..ManifestOptions::default()
            };
            let mut text = String::new();
            for doc in webhook_configurations(&opts, &tls.ca_bundle()) {
                text.push_str("---\n");
                text.push_str(&serde_saphyr::to_string(&doc)?);
            }
            output::stdout(&text)?;
            Ok(Exit::Success)
        }
    }
}
