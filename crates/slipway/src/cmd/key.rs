//! `slipway key ...`: cosign-compatible signing keys (`cosign.key` encrypted with scrypt and
//! secretbox under `ENCRYPTED SIGSTORE PRIVATE KEY`, `cosign.pub` as SPKI PEM).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use slipway_oci::keys::{SigningKey, encrypted_key_pem, load_private_key};

use crate::exit::Exit;
use crate::output;

/// Environment variable holding the key password (as cosign reads it).
pub const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate an ECDSA P-256 key pair: `<prefix>.key` (encrypted, cosign format) and `<prefix>.pub`.
    ///
    /// The password comes from COSIGN_PASSWORD, or a prompt on a terminal.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// File name prefix (cosign's --output-key-prefix).
    #[arg(long, default_value = "cosign", value_name = "PREFIX")]
    pub output_key_prefix: PathBuf,
    /// Overwrite existing key files.
    #[arg(long)]
    pub force: bool,
}

/// Runs a key command.
pub fn run(command: KeyCommand) -> anyhow::Result<Exit> {
    match command {
        KeyCommand::Generate(a) => generate(&a),
    }
}

/// The password: COSIGN_PASSWORD (may be empty), else a prompt (twice when `confirm`).
pub fn password(confirm: bool) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "no key password: {PASSWORD_ENV} is not set and stdin is not a terminal\nhint: export {PASSWORD_ENV}=..."
    );
    let first = rpassword::prompt_password("Enter password for private key: ")
        .context("reading the password")?;
    if confirm {
        let second = rpassword::prompt_password("Enter password for private key again: ")
            .context("reading the password")?;
        anyhow::ensure!(first == second, "passwords do not match");
    }
    Ok(first)
}

/// Loads a private key file (cosign encrypted or plain PEM), asking for the password.
pub fn load_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = fs_err::read_to_string(path)?;
    let needs_password = text.contains("ENCRYPTED");
    let pw = if needs_password {
        password(false)?
    } else {
        String::new()
    };
    load_private_key(&text, pw.as_bytes())
        .with_context(|| format!("loading private key {}", path.display()))
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn generate(args: &GenerateArgs) -> anyhow::Result<Exit> {
    let key_path = with_suffix(&args.output_key_prefix, ".key");
    let pub_path = with_suffix(&args.output_key_prefix, ".pub");
    for p in [&key_path, &pub_path] {
        anyhow::ensure!(
            args.force || !p.exists(),
            "{} already exists\nhint: pass --force to overwrite it",
            p.display()
        );
    }
    let pw = password(true)?;
    let key = SigningKey::generate()?;
    let pem = encrypted_key_pem(&key, pw.as_bytes())?;
    write_private(&key_path, pem.as_bytes())?;
    fs_err::write(&pub_path, key.public_key().to_pem())?;
    output::stdout(&format!(
        "Private key written to {}\nPublic key written to {}\n",
        key_path.display(),
        pub_path.display()
    ))?;
    Ok(Exit::Success)
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use fs_err::os::unix::fs::OpenOptionsExt as _;
    use std::io::Write as _;
    let mut f = fs_err::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    fs_err::write(path, data)?;
    Ok(())
}
