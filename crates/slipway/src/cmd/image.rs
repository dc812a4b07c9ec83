//! `slipway image ...`: images without Docker. Build reproducibly from a directory; push,
//! pull, copy, inspect and list between OCI layouts (`oci:PATH[:TAG]`, or bare `NAME[:TAG]`
//! in the local store `<data-dir>/images`) and registries; sign and verify cosign signatures.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use slipway_oci::build::{Base, BuildOptions, build};
use slipway_oci::digest::Digest;
use slipway_oci::legacy::{LegacyPolicy, sign_layer, verify_layers};
use slipway_oci::reference::{ImageRef, Version};
use slipway_oci::registry::{Credentials, RegistryOptions, docker_config_credentials};
use slipway_oci::sigstore::bundle::{Artifact, Options, Policy, verify_bundle};
use slipway_oci::sigstore::sign;
use slipway_oci::store::{self, Platform, Progress, Store, copy};

use crate::cmd::db::DataDir;
use crate::cmd::key::load_signing_key;
use crate::cmd::sigstore::SignerArgs;
use crate::exit::Exit;
use crate::output;

/// Image commands.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build an image from a directory: one reproducible layer (sorted entries, fixed mtimes,
    /// owner 0:0), optionally on a base image. The same input gives the same digest.
    Build(BuildArgs),
    /// Push an image (by default from the local store) to a registry or layout.
    Push(TransferArgs),
    /// Pull an image from a registry into the local store (or DEST).
    Pull(PullArgs),
    /// Copy an image with everything it references (and its signatures) between stores.
    Copy(TransferArgs),
    /// Show an image's manifest digest, platform, layers and config as JSON.
    Inspect(InspectArgs),
    /// List the tags of the local store, a layout (`oci:PATH`) or a registry repository.
    Ls(LsArgs),
    /// Sign an image with a key: a cosign `sha256-<hex>.sig` signature (simple signing) and a
    /// Sigstore v0.3 bundle attached as an OCI referrer (as cosign v3 writes).
    Sign(SignArgs),
    /// Attest: sign an in-toto statement (your predicate, of type --type) about the image into a
    /// Sigstore bundle attached as an OCI referrer.
    Attest(AttestArgs),
    /// Verify an image's signatures (`.sig` tag and Sigstore bundle referrers), offline.
    ///
    /// Exit 0 only when a signature verifies; 1 when none does.
    Verify(VerifyArgs),
}

/// How to reach registries and the local store.
#[derive(Debug, Clone, Args)]
pub struct Access {
    /// Plain HTTP for loopback registries (127.0.0.1, localhost).
    #[arg(long)]
    pub insecure: bool,
    /// Registry user (else SLIPWAY_REGISTRY_USERNAME, else Docker's config.json).
    #[arg(long, env = "SLIPWAY_REGISTRY_USERNAME", value_name = "USER")]
    pub username: Option<String>,
    /// Registry password or token.
    #[arg(
        long,
        env = "SLIPWAY_REGISTRY_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Upload blobs in chunks of this many MiB (default: one request per blob).
    #[arg(long, value_name = "MIB")]
    pub chunk_mib: Option<usize>,
    #[command(flatten)]
    pub data: DataDir,
}

impl Access {
    fn default_layout(&self) -> PathBuf {
        store::default_layout_path(&self.data.data_dir)
    }

    fn parse(&self, reference: &str) -> anyhow::Result<ImageRef> {
        Ok(ImageRef::parse(reference, &self.default_layout())?)
    }

    fn options(&self, reference: &ImageRef) -> RegistryOptions {
        let credentials = match (&self.username, &self.password) {
            (Some(u), Some(p)) => Some(Credentials {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => match reference {
                ImageRef::Registry(r) => docker_credentials(&r.registry),
                ImageRef::Layout { .. } => None,
            },
        };
        RegistryOptions {
            insecure: self.insecure,
            credentials,
            chunk_size: self.chunk_mib.map(|m| m * 1024 * 1024),
        }
    }

    /// Opens the store of a reference and the tag or digest in it.
    fn open(&self, reference: &ImageRef, create: bool) -> anyhow::Result<(Store, Option<Version>)> {
        Store::open(reference, &self.options(reference), create)
            .with_context(|| format!("opening {reference}"))
    }
}

fn docker_credentials(host: &str) -> Option<Credentials> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    let data = fs_err::read(dir.join("config.json")).ok()?;
    docker_config_credentials(&data, host)
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The directory whose contents become the image's file system.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Where to write the image: `NAME[:TAG]` (local store), `oci:PATH:TAG` or `HOST/REPO:TAG`.
    #[arg(long, short = 't', value_name = "REF")]
    pub tag: String,
    /// Base image (a reference as for --tag).
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Entrypoint: a JSON array (`["/app","--flag"]`) or words split on spaces.
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// Default arguments (Cmd), as for --entrypoint.
    #[arg(long, value_name = "CMD")]
    pub cmd: Option<String>,
    /// Environment variable (repeatable).
    #[arg(long, value_name = "K=V")]
    pub env: Vec<String>,
    /// Label (repeatable).
    #[arg(long, value_name = "K=V")]
    pub label: Vec<String>,
    /// Working directory.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Platform `os/arch[/variant]`.
    #[arg(long, default_value = "linux/amd64", value_name = "PLATFORM")]
    pub platform: String,
    /// Timestamp for mtimes and `created` (Unix seconds; default SOURCE_DATE_EPOCH or 0).
    #[arg(
        long,
        env = "SOURCE_DATE_EPOCH",
        default_value_t = 0,
        value_name = "SECONDS"
    )]
    pub timestamp: i64,
    /// gzip level 0-9 (1: fastest; the digest depends on it).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub compression_level: u32,
    #[command(flatten)]
    pub access: Access,
}

#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Source image.
    #[arg(value_name = "SRC")]
    pub src: String,
    /// Destination (tag defaults to the source's).
    #[arg(value_name = "DEST")]
    pub dest: String,
    /// Do not copy the cosign `.sig` signature tag along.
    #[arg(long)]
    pub skip_signatures: bool,
    #[command(flatten)]
    pub access: Access,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Image to pull.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Destination (default: the local store, as `REPO:TAG`).
    #[arg(value_name = "DEST")]
    pub dest: Option<String>,
    /// Do not copy the cosign `.sig` signature tag along.
    #[arg(long)]
    pub skip_signatures: bool,
    #[command(flatten)]
    pub access: Access,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Print the manifest bytes exactly as stored.
    #[arg(long)]
    pub raw: bool,
    /// Platform to pick from an index.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    #[command(flatten)]
    pub access: Access,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// `oci:PATH` or `HOST/REPO` (default: the local store).
    #[arg(value_name = "LOCATION")]
    pub location: Option<String>,
    /// Output JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub access: Access,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Private key (cosign.key; password from COSIGN_PASSWORD or a prompt).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Identity written into the payload (default: the repository, as cosign does).
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,
    /// Write only the legacy `.sig` signature, no bundle referrer.
    #[arg(long)]
    pub no_bundle: bool,
    #[command(flatten)]
    pub access: Access,
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    #[arg(value_name = "REF")]
    pub reference: String,
    /// The predicate (JSON file).
    #[arg(long, value_name = "FILE")]
    pub predicate: PathBuf,
    /// The predicate type (a URI, e.g. https://slsa.dev/provenance/v1).
    #[arg(long = "type", value_name = "URI")]
    pub predicate_type: String,
    /// Private key (cosign.key; password from COSIGN_PASSWORD or a prompt).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    #[command(flatten)]
    pub access: Access,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[arg(value_name = "REF")]
    pub reference: String,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Require the signed identity (docker-reference) to be this (default: not checked for keys).
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,
    /// Verify an attestation of this predicate type instead of a signature.
    #[arg(long, value_name = "URI")]
    pub attestation_type: Option<String>,
    #[command(flatten)]
    pub access: Access,
}

/// Runs an image command.
pub fn run(command: ImageCommand) -> anyhow::Result<Exit> {
    match command {
        ImageCommand::Build(a) => build_cmd(&a),
        ImageCommand::Push(a) | ImageCommand::Copy(a) => {
            transfer(&a.src, &a.dest, a.skip_signatures, &a.access)
        }
        ImageCommand::Pull(a) => pull(&a),
        ImageCommand::Inspect(a) => inspect(&a),
        ImageCommand::Ls(a) => ls(&a),
        ImageCommand::Sign(a) => sign(&a),
        ImageCommand::Attest(a) => attest(&a),
        ImageCommand::Verify(a) => verify(&a),
    }
}

fn words(s: &str) -> anyhow::Result<Vec<String>> {
    if s.trim_start().starts_with('[') {
        return serde_json::from_str(s)
            .with_context(|| format!("{s:?} is not a JSON array of strings"));
    }
    Ok(s.split_whitespace().map(str::to_string).collect())
}

fn pairs(values: &[String], flag: &str) -> anyhow::Result<Vec<(String, String)>> {
    values
        .iter()
        .map(|v| {
            v.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--{flag} {v:?}: expected KEY=VALUE"))
        })
        .collect()
}

/// A progress reporter: a byte counter on a terminal, nothing otherwise.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new(prefix: &str) -> Self {
        if output::stderr_is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} {prefix} {bytes} ({bytes_per_sec}) {msg}",
            ) {
                bar.set_style(style);
            }
            bar.set_prefix(prefix.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            Self(bar)
        } else {
            Self(indicatif::ProgressBar::hidden())
        }
    }

    fn event(&self, p: Progress) {
        match p {
            Progress::Blob { digest, size } => {
                self.0
                    .set_message(format!("{} ({} bytes)", short(&digest), size))
            }
            Progress::BlobDone { size, .. } => self.0.inc(size),
            Progress::Manifest { digest, .. } => {
                self.0.set_message(format!("manifest {}", short(&digest)))
            }
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

fn short(d: &Digest) -> String {
    format!("sha256:{}", &d.hex()[..12])
}

fn tag_of(version: &Option<Version>) -> Option<String> {
    match version {
        Some(Version::Tag(t)) => Some(t.clone()),
        _ => None,
    }
}

fn version_str(reference: &ImageRef, version: &Option<Version>) -> anyhow::Result<String> {
    version
        .as_ref()
        .map(Version::as_reference)
        .with_context(|| {
            format!("{reference} names no tag or digest\nhint: add :TAG or @sha256:...")
        })
}

fn build_cmd(args: &BuildArgs) -> anyhow::Result<Exit> {
    let platform = Platform::parse(&args.platform)
        .with_context(|| format!("--platform {:?}: expected os/arch[/variant]", args.platform))?;
    let options = BuildOptions {
        platform,
        entrypoint: args.entrypoint.as_deref().map(words).transpose()?,
        cmd: args.cmd.as_deref().map(words).transpose()?,
        env: pairs(&args.env, "env")?,
        labels: pairs(&args.label, "label")?
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        workdir: args.workdir.clone(),
        timestamp: args.timestamp,
        compression: args.compression_level,
    };
    let target = args.access.parse(&args.tag)?;
    let (dst, version) = args.access.open(&target, true)?;
    let tag = match &version {
        Some(Version::Tag(t)) => t.clone(),
        _ => anyhow::bail!(
            "--tag {}: name a tag (NAME:TAG, oci:PATH:TAG or HOST/REPO:TAG)",
            args.tag
        ),
    };
    let base_store;
    let base = match &args.base {
        Some(b) => {
            let r = args.access.parse(b)?;
            let (s, v) = args.access.open(&r, false)?;
            base_store = s;
            Some(Base {
                store: &base_store,
                reference: version_str(&r, &v)?,
            })
        }
        None => None,
    };
    let bar = Bar::new("build");
    let built = build(&args.dir, base, &options, &dst, Some(&tag), &|p| {
        bar.event(p)
    })
    .with_context(|| format!("building {} into {target}", args.dir.display()))?;
    drop(bar);
    output::stdout(&format!(
        "{}@{}\n  layer {} ({} entries, {} bytes compressed, {} uncompressed){}\n",
        target,
        built.manifest_digest,
        built.layer.digest,
        built.layer.entries,
        built.layer.data.len(),
        built.layer.uncompressed_size,
        if built.base_layers > 0 {
            format!("\n  on {} base layer(s)", built.base_layers)
        } else {
            String::new()
        }
    ))?;
    Ok(Exit::Success)
}

fn transfer(src: &str, dest: &str, skip_signatures: bool, access: &Access) -> anyhow::Result<Exit> {
    let src_ref = access.parse(src)?;
    let (src_store, src_version) = access.open(&src_ref, false)?;
    let src_v = version_str(&src_ref, &src_version)?;
    let dst_ref = access.parse(dest)?;
    let (dst_store, dst_version) = access.open(&dst_ref, true)?;
    // A destination without its own tag takes the source's tag.
    let dst_tag = match (&dst_ref, tag_of(&dst_version)) {
        (ImageRef::Registry(r), Some(t)) if r.tag.is_none() && r.digest.is_none() => {
            tag_of(&src_version)
                .map(|s| s.rsplit(':').next().unwrap_or(&s).to_string())
                .or(Some(t))
        }
        (_, Some(t)) => Some(t),
        (_, None) => tag_of(&src_version),
    };
    let bar = Bar::new("copy");
    let report = copy(
        &src_store,
        &src_v,
        &dst_store,
        dst_tag.as_deref(),
        !skip_signatures,
        &|p| bar.event(p),
    )
    .with_context(|| format!("copying {src_ref} to {dst_ref}"))?;
    drop(bar);
    let digest = report.digest.map(|d| d.to_string()).unwrap_or_default();
    output::stdout(&format!(
        "{} -> {}{}@{digest}\n  {} blob(s) copied ({} bytes), {} already present{}\n",
        src_ref,
        dst_store.describe(),
        dst_tag.map(|t| format!(":{t}")).unwrap_or_default(),
        report.blobs_copied,
        report.bytes_copied,
        report.blobs_skipped,
        if report.signatures_copied {
            ", signatures copied"
        } else {
            ""
        }
    ))?;
    Ok(Exit::Success)
}

fn pull(args: &PullArgs) -> anyhow::Result<Exit> {
    let dest = match &args.dest {
        Some(d) => d.clone(),
        None => match args.access.parse(&args.reference)? {
            ImageRef::Registry(r) => {
                let name = r
                    .repository
                    .rsplit('/')
                    .next()
                    .unwrap_or(&r.repository)
                    .to_string();
                format!(
                    "{name}:{}",
                    r.tag.clone().unwrap_or_else(|| "latest".into())
                )
            }
            ImageRef::Layout { .. } => anyhow::bail!(
                "pull reads from a registry; use `slipway image copy` between layouts"
            ),
        },
    };
    transfer(&args.reference, &dest, args.skip_signatures, &args.access)
}

fn inspect(args: &InspectArgs) -> anyhow::Result<Exit> {
    let r = args.access.parse(&args.reference)?;
    let (store, version) = args.access.open(&r, false)?;
    let v = version_str(&r, &version)?;
    if args.raw {
        let m = store.get_manifest(&v)?;
        output::stdout(&String::from_utf8_lossy(&m.bytes))?;
        return Ok(Exit::Success);
    }
    let platform = args
        .platform
        .as_deref()
        .map(|p| {
            Platform::parse(p)
                .with_context(|| format!("--platform {p:?}: expected os/arch[/variant]"))
        })
        .transpose()?;
    let top = store.get_manifest(&v)?;
    let m = store.resolve_image(&v, platform.as_ref())?;
    let manifest: Value = serde_json::from_slice(&m.bytes).context("manifest is not JSON")?;
    let config = match manifest
        .pointer("/config/digest")
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<Digest>().ok())
    {
        Some(d) => serde_json::from_slice::<Value>(&store.get_blob(&d)?).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let signatures = store
        .signature_layers(&top.digest)
        .map(|l| l.len())
        .unwrap_or(0);
    let out = json!({
        "Name": r.to_string(),
        "Digest": top.digest.to_string(),
        "MediaType": top.media_type,
        "ImageDigest": m.digest.to_string(),
        "Architecture": config.get("architecture"),
        "Os": config.get("os"),
        "Created": config.get("created"),
        "Env": config.pointer("/config/Env"),
        "Entrypoint": config.pointer("/config/Entrypoint"),
        "Cmd": config.pointer("/config/Cmd"),
        "Labels": config.pointer("/config/Labels"),
        "Layers": manifest.get("layers").and_then(Value::as_array).map(|ls| ls.iter().map(|l| json!({"Digest": l.get("digest"), "Size": l.get("size"), "MediaType": l.get("mediaType")})).collect::<Vec<_>>()),
        "Signatures": signatures,
    });
    output::stdout(&(serde_json::to_string_pretty(&out)? + "\n"))?;
    Ok(Exit::Success)
}

fn ls(args: &LsArgs) -> anyhow::Result<Exit> {
    let r = match &args.location {
        Some(l) => args.access.parse(l)?,
        None => ImageRef::Layout {
            path: args.access.default_layout(),
            version: None,
        },
    };
    let store = match args.access.open(&r, false) {
        Ok((s, _)) => s,
        Err(e) if args.location.is_none() => {
            // An empty local store is not an error.
            let _ = e;
            output::stdout(if args.json { "[]\n" } else { "" })?;
            return Ok(Exit::Success);
        }
        Err(e) => return Err(e),
    };
    let mut tags = store.tags()?;
    tags.sort();
    if args.json {
        let list: Vec<Value> = tags
            .iter()
            .map(|(t, d)| json!({"tag": t, "digest": d.as_ref().map(Digest::to_string)}))
            .collect();
        output::stdout(&(serde_json::to_string_pretty(&list)? + "\n"))?;
    } else {
        let mut text = String::new();
        for (t, d) in &tags {
            match d {
                Some(d) => text.push_str(&format!("{t}\t{d}\n")),
                None => text.push_str(&format!("{t}\n")),
            }
        }
        output::stdout(&text)?;
    }
    Ok(Exit::Success)
}

/// Resolves a reference to its store and manifest digest.
fn resolve(access: &Access, reference: &str) -> anyhow::Result<(ImageRef, Store, Digest)> {
    let r = access.parse(reference)?;
    let (store, version) = access.open(&r, false)?;
    let v = version_str(&r, &version)?;
    let digest = match &version {
        Some(Version::Digest(d)) => d.clone(),
        _ => {
            store
                .get_manifest(&v)
                .with_context(|| format!("resolving {r}"))?
                .digest
        }
    };
    Ok((r, store, digest))
}

fn sign(args: &SignArgs) -> anyhow::Result<Exit> {
    let key = load_signing_key(&args.key)?;
    let (r, store, digest) = resolve(&args.access, &args.reference)?;
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| r.signing_identity());
    let layer = sign_layer(&key, &identity, &digest)?;
    let sig = store
        .add_signature(&digest, &layer)
        .with_context(|| format!("writing the signature of {r}"))?;
    let mut text = format!(
        "signed {identity}@{digest}\n  .sig signature {} ({sig}) in {}\n",
        digest.tag(Some("sig")),
        store.describe()
    );
    if !args.no_bundle {
        let statement = sign::statement(&digest, sign::COSIGN_SIGN_PREDICATE, json!({}));
        let referrer = attach(
            &store,
            &digest,
            &key,
            &statement,
            sign::COSIGN_SIGN_PREDICATE,
        )
        .with_context(|| format!("attaching the signature bundle to {r}"))?;
        text.push_str(&format!("  sigstore bundle referrer {referrer}\n"));
    }
    output::stdout(&text)?;
    Ok(Exit::Success)
}

/// Signs `statement` into a bundle and attaches it to the image as a referrer.
fn attach(
    store: &Store,
    digest: &Digest,
    key: &slipway_oci::keys::SigningKey,
    statement: &Value,
    predicate_type: &str,
) -> anyhow::Result<Digest> {
    let bundle = sign::dsse_bundle(key, statement)?;
    let subject = store.get_manifest(&digest.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok(store.attach_bundle(&subject, &bundle, predicate_type, now)?)
}

fn attest(args: &AttestArgs) -> anyhow::Result<Exit> {
    let predicate: Value = serde_json::from_slice(&fs_err::read(&args.predicate)?)
        .with_context(|| format!("{} is not JSON", args.predicate.display()))?;
    let key = load_signing_key(&args.key)?;
    let (r, store, digest) = resolve(&args.access, &args.reference)?;
    let statement = sign::statement(&digest, &args.predicate_type, predicate);
    let referrer = attach(&store, &digest, &key, &statement, &args.predicate_type)
        .with_context(|| format!("attaching the attestation to {r}"))?;
    output::stdout(&format!(
        "attested {r}@{digest} ({})\n  sigstore bundle referrer {referrer}\n",
        args.predicate_type
    ))?;
    Ok(Exit::Success)
}

fn verify(args: &VerifyArgs) -> anyhow::Result<Exit> {
    let identity = args.signer.identity()?;
    let key = args.signer.public_key()?;
    let root = args.signer.trusted_root()?;
    let (r, store, digest) = resolve(&args.access, &args.reference)?;
    let (legacy_policy, policy, bundle_root, opts) = match (&key, &identity) {
        (Some(k), None) => (
            match &args.identity {
                Some(id) => LegacyPolicy::KeysWithReference(vec![k.clone()], id.clone()),
                None => LegacyPolicy::Keys(vec![k.clone()]),
            },
            Policy::Key {
                key: k.clone(),
                validity: None,
            },
            root.clone().unwrap_or_default(),
            // Without a trusted root there is no log to check (cosign's --insecure-ignore-tlog).
            Options {
                tlog_threshold: usize::from(root.is_some()),
                require_sct: false,
                ..Options::default()
            },
        ),
        (None, Some(id)) => {
            let root = root.clone().context(
                "keyless verification needs --trusted-root (a trusted_root.json with the Fulcio CAs and log keys)",
            )?;
            (
                LegacyPolicy::Keyless {
                    root: Box::new(root.clone()),
                    identities: vec![id.clone()],
                    require_sct: true,
                    require_tlog: true,
                    extra_intermediates: Vec::new(),
                },
                Policy::Keyless(vec![id.clone()]),
                root,
                Options::default(),
            )
        }
        (Some(_), Some(_)) => {
            anyhow::bail!("pass either --key or a certificate identity, not both")
        }
        (None, None) => anyhow::bail!(
            "nothing to verify against\nhint: pass --key FILE, or --certificate-identity and --certificate-oidc-issuer"
        ),
    };
    let wanted_predicate = args
        .attestation_type
        .clone()
        .unwrap_or_else(|| sign::COSIGN_SIGN_PREDICATE.to_string());
    let mut problems = Vec::new();

    // Sigstore bundles attached as referrers first (cosign v3 order), then the `.sig` tag.
    let mut bundles = store
        .bundles(&digest)
        .with_context(|| format!("reading the referrers of {r}"))?;
    if bundles.is_empty() {
        problems.push("no sigstore bundle referrers".into());
    } else if args.identity.is_some() {
        // A bundle signs the digest only; the reference is in legacy payloads alone.
        problems.push(format!(
            "{} bundle(s) skipped: --identity needs a .sig payload's docker-reference",
            bundles.len()
        ));
        bundles.clear();
    }
    for (d, blob) in &bundles {
        match verify_bundle(
            blob,
            Artifact::Sha256(digest.bytes()),
            &bundle_root,
            &policy,
            &opts,
        ) {
            Ok(v) => {
                let predicate = v
                    .statement
                    .as_ref()
                    .and_then(|s| s.get("predicateType"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                // A message-signature bundle (no statement) signs the image itself.
                if v.statement.is_some() && predicate != wanted_predicate {
                    problems.push(format!(
                        "bundle {d}: predicate type {predicate:?}, not {wanted_predicate:?}"
                    ));
                    continue;
                }
                output::stdout(&format!(
                    "OK: {r}@{digest}: sigstore bundle {d} verified ({wanted_predicate}), signer {}\n",
                    v.signer
                ))?;
                return Ok(Exit::Success);
            }
            Err(e) => problems.push(format!("bundle {d}: {}", chain(&e))),
        }
    }
    if args.attestation_type.is_none() {
        let layers = store
            .signature_layers(&digest)
            .with_context(|| format!("reading signatures of {r}"))?;
        if layers.is_empty() {
            problems.push(format!("no {} signature tag", digest.tag(Some("sig"))));
        } else {
            match verify_layers(&digest.to_string(), &layers, &legacy_policy) {
                Ok(v) => {
                    output::stdout(&format!(
                        "OK: {r}@{digest}: .sig signature verified ({})\n",
                        v.summary()
                    ))?;
                    for p in problems.iter().chain(&v.problems) {
                        output::warn(&format!("did not verify: {p}"));
                    }
                    return Ok(Exit::Success);
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    output::stdout(&format!("FAIL: {r}@{digest}: no signature verifies\n"))?;
    for p in &problems {
        output::stdout(&format!("  {p}\n"))?;
    }
    Ok(Exit::Findings)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
