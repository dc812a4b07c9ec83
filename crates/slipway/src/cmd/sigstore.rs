//! `slipway sigstore ...`: Sigstore bundle verification with the client protocol of
//! sigstore-conformance (`verify-bundle --bundle B ... FILE|sha256:DIGEST`).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use regex::Regex;
use slipway_oci::keys::PublicKey;
use slipway_oci::sigstore::bundle::{Artifact, Options, Policy, verify_bundle};
use slipway_oci::sigstore::identity::{Identity, Matcher};
use slipway_oci::sigstore::trust::TrustedRoot;

use crate::exit::Exit;
use crate::output;

/// Sigstore commands.
#[derive(Debug, Subcommand)]
pub enum SigstoreCommand {
    /// Verify a Sigstore bundle (v0.1 to v0.3) for a file or a `sha256:` digest, offline.
    ///
    /// Exit 0 when the bundle verifies, 1 when it does not, 2 on unusable input.
    VerifyBundle(VerifyBundleArgs),
}

/// Who must have signed: a key, or a keyless identity.
#[derive(Debug, Clone, Args)]
pub struct SignerArgs {
    /// Public key (PEM) the signature must verify with.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Expected certificate identity (SAN), exactly.
    #[arg(long, value_name = "IDENTITY")]
    pub certificate_identity: Option<String>,
    /// Expected certificate identity, as an (unanchored) regular expression.
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_identity")]
    pub certificate_identity_regexp: Option<String>,
    /// Expected OIDC issuer, exactly.
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,
    /// Expected OIDC issuer, as an (unanchored) regular expression.
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_oidc_issuer")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Trusted root (`trusted_root.json`): CAs, Rekor and CT log keys, TSAs.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
}

impl SignerArgs {
    /// Keyless identity matcher, when identity flags were given.
    pub fn identity(&self) -> anyhow::Result<Option<Identity>> {
        let san = match (
            &self.certificate_identity,
            &self.certificate_identity_regexp,
        ) {
            (Some(s), _) => Some(Matcher::Exact(s.clone())),
            (None, Some(r)) => {
                Some(Matcher::Regex(Regex::new(r).with_context(|| {
                    format!("--certificate-identity-regexp {r:?}")
                })?))
            }
            (None, None) => None,
        };
        let issuer = match (
            &self.certificate_oidc_issuer,
            &self.certificate_oidc_issuer_regexp,
        ) {
            (Some(s), _) => Some(Matcher::Exact(s.clone())),
            (None, Some(r)) => {
                Some(Matcher::Regex(Regex::new(r).with_context(|| {
                    format!("--certificate-oidc-issuer-regexp {r:?}")
                })?))
            }
            (None, None) => None,
        };
        match (san, issuer) {
            (Some(san), Some(issuer)) => Ok(Some(Identity { san, issuer })),
            (None, None) => Ok(None),
            _ => anyhow::bail!(
                "keyless verification needs both an identity and an issuer\nhint: pass --certificate-identity and --certificate-oidc-issuer (or their -regexp forms)"
            ),
        }
    }

    pub fn public_key(&self) -> anyhow::Result<Option<PublicKey>> {
        self.key
            .as_ref()
            .map(|p| {
                let text = fs_err::read_to_string(p)?;
                PublicKey::from_pem(&text)
                    .with_context(|| format!("reading public key {}", p.display()))
            })
            .transpose()
    }

    pub fn trusted_root(&self) -> anyhow::Result<Option<TrustedRoot>> {
        self.trusted_root
            .as_ref()
            .map(|p| {
                let data = fs_err::read(p)?;
                TrustedRoot::from_json(&data)
                    .with_context(|| format!("reading trusted root {}", p.display()))
            })
            .transpose()
    }
}

#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// The bundle (`*.sigstore.json`).
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The artifact: a file, or `sha256:<hex>` when only its digest is known.
    #[arg(value_name = "FILE|sha256:DIGEST")]
    pub artifact: String,
}

/// Runs a sigstore command.
pub fn run(command: SigstoreCommand) -> anyhow::Result<Exit> {
    match command {
        SigstoreCommand::VerifyBundle(a) => verify(&a),
    }
}

fn verify(args: &VerifyBundleArgs) -> anyhow::Result<Exit> {
    let bundle = fs_err::read(&args.bundle)?;
    let identity = args.signer.identity()?;
    let key = args.signer.public_key()?;
    let root = args.signer.trusted_root()?;
    let (policy, root, opts) = match (key, identity) {
        (Some(key), None) => {
            // With only a key and no trusted root there is no log to check (cosign's
            // --insecure-ignore-tlog); a trusted root brings the Rekor keys back in.
            let opts = Options {
                tlog_threshold: usize::from(root.is_some()),
                require_sct: false,
                ..Options::default()
            };
            (
                Policy::Key {
                    key,
                    validity: None,
                },
                root.unwrap_or_default(),
                opts,
            )
        }
        (None, Some(id)) => {
            let root = root.context(
                "keyless verification needs --trusted-root (a trusted_root.json with the Fulcio CAs and log keys)",
            )?;
            (Policy::Keyless(vec![id]), root, Options::default())
        }
        (Some(_), Some(_)) => {
            anyhow::bail!("pass either --key or a certificate identity, not both")
        }
        (None, None) => anyhow::bail!(
            "nothing to verify against\nhint: pass --key FILE, or --certificate-identity and --certificate-oidc-issuer"
        ),
    };
    let digest_bytes;
    let data;
    let artifact = if let Some(hex_digest) = args.artifact.strip_prefix("sha256:") {
        let raw = hex::decode(hex_digest)
            .ok()
            .filter(|b| b.len() == 32)
            .with_context(|| format!("{:?} is not sha256:<64 hex digits>", args.artifact))?;
        let mut b = [0u8; 32];
        b.copy_from_slice(&raw);
        digest_bytes = b;
        Artifact::Sha256(digest_bytes)
    } else {
        data = fs_err::read(&args.artifact)?;
        Artifact::Bytes(&data)
    };
    match verify_bundle(&bundle, artifact, &root, &policy, &opts) {
        Ok(v) => {
            output::stdout(&format!(
                "OK: {} verified, signer {}{}\n",
                args.bundle.display(),
                v.signer,
                v.issuer
                    .map(|i| format!(" (issuer {i})"))
                    .unwrap_or_default()
            ))?;
            Ok(Exit::Success)
        }
        Err(e) => {
            let mut msg = format!("FAIL: {}: {e}", args.bundle.display());
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            output::stdout(&(msg + "\n"))?;
            Ok(Exit::Findings)
        }
    }
}
