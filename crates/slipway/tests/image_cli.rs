//! `slipway image|key|sigstore ...` as a user runs them: reproducible builds, keys, signing
//! and verification in layouts, the sigstore-conformance client protocol over every shared
//! case, and a round trip through Debian's `docker-registry` read back by skopeo.

#![allow(clippy::print_stdout)] // Skip notices.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn slipway(dir: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slipway"));
    cmd.args(args)
        .current_dir(dir)
        .env("SLIPWAY_DATA_DIR", dir.join("data"))
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null());
    match password {
        Some(p) => cmd.env("COSIGN_PASSWORD", p),
        None => cmd.env_remove("COSIGN_PASSWORD"),
    };
    cmd.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The `@sha256:...` digest on the first output line of build/copy.
fn digest_of(stdout: &str) -> String {
    let first = stdout.lines().next().unwrap();
    first[first.rfind('@').unwrap() + 1..].to_string()
}

fn tree(root: &Path) {
    fs_err::create_dir_all(root.join("app/bin")).unwrap();
    fs_err::write(root.join("app/bin/run"), "#!/bin/sh\necho run\n").unwrap();
    fs_err::write(root.join("app/notes.txt"), "notes").unwrap();
}

#[test]
fn build_is_reproducible_and_sign_verify_in_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    tree(&d.join("src"));
    let args = |tag: &str| {
        vec![
            "image".to_string(),
            "build".into(),
            "src".into(),
            "--tag".into(),
            tag.to_string(),
            "--entrypoint".into(),
            r#"["/app/bin/run","--x"]"#.into(),
            "--env".into(),
            "A=1".into(),
            "--label".into(),
            "org.example=1".into(),
        ]
    };
    let a: Vec<String> = args("oci:one:v1");
    let first = digest_of(&ok(&slipway(
        d,
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    )));
    // Touch the files: new mtimes, same digest.
    fs_err::write(d.join("src/app/notes.txt"), "notes").unwrap();
    let b: Vec<String> = args("myapp:v1");
    let second = digest_of(&ok(&slipway(
        d,
        &b.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    )));
    assert_eq!(first, second, "same input, same digest");

    // The local store lists it; inspect shows the config.
    let ls = ok(&slipway(d, &["image", "ls"], None));
    assert!(ls.contains(&format!("myapp:v1\t{first}")), "{ls}");
    let info: Value =
        serde_json::from_str(&ok(&slipway(d, &["image", "inspect", "myapp:v1"], None))).unwrap();
    assert_eq!(info["Digest"], first.as_str());
    assert_eq!(
        info["Entrypoint"],
        serde_json::json!(["/app/bin/run", "--x"])
    );
    assert_eq!(info["Labels"]["org.example"], "1");

    // Keys: generate, refuse to overwrite, no password without a terminal is an error.
    ok(&slipway(d, &["key", "generate"], Some("secret")));
    assert!(
        fs_err::read_to_string(d.join("cosign.key"))
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    );
    let again = slipway(d, &["key", "generate"], Some("secret"));
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("already exists"), "{}", text(&again));
    let nopw = slipway(d, &["key", "generate", "--output-key-prefix", "k2"], None);
    assert_eq!(nopw.status.code(), Some(2));
    assert!(text(&nopw).contains("COSIGN_PASSWORD"), "{}", text(&nopw));
    ok(&slipway(
        d,
        &["key", "generate", "--output-key-prefix", "other"],
        Some("x"),
    ));

    // Unsigned: verification fails with exit 1 and says why.
    let unsigned = slipway(
        d,
        &["image", "verify", "myapp:v1", "--key", "cosign.pub"],
        None,
    );
    assert_eq!(unsigned.status.code(), Some(1), "{}", text(&unsigned));
    assert!(
        text(&unsigned).contains("no sha256-"),
        "{}",
        text(&unsigned)
    );

    // Wrong password: exit 2, clear message.
    let bad = slipway(
        d,
        &["image", "sign", "myapp:v1", "--key", "cosign.key"],
        Some("wrong"),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("wrong password"), "{}", text(&bad));

    ok(&slipway(
        d,
        &["image", "sign", "myapp:v1", "--key", "cosign.key"],
        Some("secret"),
    ));
    let verified = ok(&slipway(
        d,
        &[
            "image",
            "verify",
            "myapp:v1",
            "--key",
            "cosign.pub",
            "--identity",
            "myapp",
        ],
        None,
    ));
    assert!(verified.starts_with("OK:"), "{verified}");
    let wrong_key = slipway(
        d,
        &["image", "verify", "myapp:v1", "--key", "other.pub"],
        None,
    );
    assert_eq!(wrong_key.status.code(), Some(1));
    assert!(
        text(&wrong_key).contains("does not verify"),
        "{}",
        text(&wrong_key)
    );
    let wrong_identity = slipway(
        d,
        &[
            "image",
            "verify",
            "myapp:v1",
            "--key",
            "cosign.pub",
            "--identity",
            "other",
        ],
        None,
    );
    assert_eq!(
        wrong_identity.status.code(),
        Some(1),
        "{}",
        text(&wrong_identity)
    );

    // The signature is a bundle referrer and a .sig tag; each verifies on its own.
    assert!(
        verified.contains(".sig signature verified"),
        "--identity checks .sig payloads: {verified}"
    );
    let by_bundle = ok(&slipway(
        d,
        &["image", "verify", "myapp:v1", "--key", "cosign.pub"],
        None,
    ));
    assert!(by_bundle.contains("sigstore bundle"), "{by_bundle}");
    let legacy_only = ok(&slipway(
        d,
        &[
            "image",
            "build",
            "src",
            "--tag",
            "legacy:v1",
            "--env",
            "L=1",
        ],
        None,
    ));
    let legacy_digest = digest_of(&legacy_only);
    let signed = ok(&slipway(
        d,
        &[
            "image",
            "sign",
            "legacy:v1",
            "--key",
            "cosign.key",
            "--no-bundle",
        ],
        Some("secret"),
    ));
    assert!(!signed.contains("bundle"), "{signed}");
    let v = ok(&slipway(
        d,
        &["image", "verify", "legacy:v1", "--key", "cosign.pub"],
        None,
    ));
    assert!(
        v.contains(".sig signature verified") && v.contains(&legacy_digest),
        "{v}"
    );

    // Attestations: a predicate of a type, verified by that type only.
    fs_err::write(d.join("predicate.json"), r#"{"builder":{"id":"test"}}"#).unwrap();
    ok(&slipway(
        d,
        &[
            "image",
            "attest",
            "legacy:v1",
            "--predicate",
            "predicate.json",
            "--type",
            "https://slsa.dev/provenance/v1",
            "--key",
            "cosign.key",
        ],
        Some("secret"),
    ));
    let att = ok(&slipway(
        d,
        &[
            "image",
            "verify",
            "legacy:v1",
            "--key",
            "cosign.pub",
            "--attestation-type",
            "https://slsa.dev/provenance/v1",
        ],
        None,
    ));
    assert!(att.contains("https://slsa.dev/provenance/v1"), "{att}");
    let other_type = slipway(
        d,
        &[
            "image",
            "verify",
            "legacy:v1",
            "--key",
            "cosign.pub",
            "--attestation-type",
            "https://example.com/other",
        ],
        None,
    );
    assert_eq!(other_type.status.code(), Some(1), "{}", text(&other_type));
    assert!(
        text(&other_type).contains("predicate type"),
        "{}",
        text(&other_type)
    );

    // Copy to a layout carries the signature; it verifies there.
    let copied = ok(&slipway(
        d,
        &["image", "copy", "myapp:v1", "oci:copy:v1"],
        None,
    ));
    assert!(copied.contains("signatures copied"), "{copied}");
    ok(&slipway(
        d,
        &["image", "verify", "oci:copy:v1", "--key", "cosign.pub"],
        None,
    ));

    // Bad input: a missing directory and a malformed --env are exit 2.
    let missing = slipway(d, &["image", "build", "nope", "--tag", "x:v1"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).contains("nope"), "{}", text(&missing));
    let bad_env = slipway(
        d,
        &[
            "image", "build", "src", "--tag", "x:v1", "--env", "NOEQUALS",
        ],
        None,
    );
    assert_eq!(bad_env.status.code(), Some(2));
    assert!(text(&bad_env).contains("KEY=VALUE"), "{}", text(&bad_env));
}

fn conformance_dir() -> Option<PathBuf> {
    let base = std::env::var_os("SLIPWAY_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/conformance"
            ))
        });
    let cosign = base.join("cosign");
    if cosign.is_dir() {
        return Some(cosign);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "conformance data missing at {}",
        cosign.display()
    );
    println!(
        "skipped: conformance data not found at {}",
        cosign.display()
    );
    None
}

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Every sigstore-conformance bundle case through `slipway sigstore verify-bundle`, as the
/// conformance suite drives a client: with the artifact file and with only its digest.
#[test]
fn sigstore_conformance_client_protocol() {
    let Some(base) = conformance_dir() else {
        return;
    };
    let dir = base.join("bundles/sigstore-conformance/bundle-verify");
    let mut cases: Vec<PathBuf> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 70);
    let work = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let expect_pass = !name.ends_with("_fail");
        let artifact = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            dir.join("a.txt")
        };
        let root = if case.join("trusted_root.json").exists() {
            case.join("trusted_root.json")
        } else {
            base.join("trust/public-good.trusted_root.json")
        };
        let mut args: Vec<String> = vec![
            "sigstore".into(),
            "verify-bundle".into(),
            "--bundle".into(),
            case.join("bundle.sigstore.json").display().to_string(),
            "--trusted-root".into(),
            root.display().to_string(),
        ];
        if case.join("key.pub").exists() {
            args.extend(["--key".into(), case.join("key.pub").display().to_string()]);
        } else {
            let read = |f: &str, default: &str| {
                fs_err::read_to_string(case.join(f))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| default.to_string())
            };
            args.extend([
                "--certificate-identity".into(),
                read("identity", DEFAULT_IDENTITY),
                "--certificate-oidc-issuer".into(),
                read("issuer", DEFAULT_ISSUER),
            ]);
        }
        let data = fs_err::read(&artifact).unwrap();
        let digest = {
            use sha2::Digest as _;
            format!("sha256:{}", hex::encode(sha2::Sha256::digest(&data)))
        };
        for target in [artifact.display().to_string(), digest] {
            let mut a = args.clone();
            a.push(target.clone());
            let out = slipway(
                work.path(),
                &a.iter().map(String::as_str).collect::<Vec<_>>(),
                None,
            );
            let passed = out.status.success();
            // Failing cases must fail by verification (exit 1) or unusable input (exit 2), never pass.
            if passed != expect_pass || out.status.code().is_none() {
                wrong.push(format!(
                    "{name} ({}): {}",
                    if target.starts_with("sha256:") {
                        "digest"
                    } else {
                        "file"
                    },
                    text(&out)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} case(s) wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

fn tools_available() -> bool {
    let missing: Vec<&str> = ["docker-registry", "skopeo"]
        .into_iter()
        .filter(|t| {
            Command::new(t)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| !s.success())
                .unwrap_or(true)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "interop tools missing in CI: {}",
        missing.join(", ")
    );
    println!(
        "skipped: {} not installed (apt-get install -y docker-registry skopeo umoci)",
        missing.join(", ")
    );
    false
}

struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn build_push_sign_verify_against_docker_registry() {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fs_err::write(
        d.join("config.yml"),
        format!("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n", d.join("reg").display()),
    )
    .unwrap();
    let _registry = Registry(
        Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let host = format!("127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(&host).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "registry did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    tree(&d.join("src"));
    let image = format!("{host}/demo/cli:v1");
    let built = digest_of(&ok(&slipway(
        d,
        &["image", "build", "src", "--tag", &image, "--insecure"],
        None,
    )));
    let skopeo = Command::new("skopeo")
        .args([
            "inspect",
            "--format",
            "{{.Digest}}",
            "--tls-verify=false",
            &format!("docker://{image}"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&skopeo.stdout).trim(),
        built,
        "{}",
        String::from_utf8_lossy(&skopeo.stderr)
    );

    // Without --insecure the client insists on TLS and says so.
    let tls = slipway(d, &["image", "inspect", &image], None);
    assert_eq!(tls.status.code(), Some(2));

    ok(&slipway(d, &["key", "generate"], Some("pw")));
    ok(&slipway(
        d,
        &["image", "sign", &image, "--key", "cosign.key", "--insecure"],
        Some("pw"),
    ));
    let v = ok(&slipway(
        d,
        &[
            "image",
            "verify",
            &image,
            "--key",
            "cosign.pub",
            "--insecure",
            "--identity",
            &format!("{host}/demo/cli"),
        ],
        None,
    ));
    assert!(v.contains(&built), "{v}");

    // The bundle referrer sits in distribution's fallback tag index (no referrers API there).
    let v = ok(&slipway(
        d,
        &[
            "image",
            "verify",
            &image,
            "--key",
            "cosign.pub",
            "--insecure",
        ],
        None,
    ));
    assert!(v.contains("sigstore bundle"), "{v}");
    let hex = built.trim_start_matches("sha256:");
    let index = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{host}/demo/cli:sha256-{hex}"),
        ])
        .output()
        .unwrap();
    let index: Value = serde_json::from_slice(&index.stdout).unwrap();
    assert_eq!(
        index["manifests"][0]["artifactType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );

    // Pull into the local store (with the signature), verify offline there.
    let pulled = ok(&slipway(d, &["image", "pull", &image, "--insecure"], None));
    assert_eq!(digest_of(&pulled), built);
    ok(&slipway(
        d,
        &["image", "verify", "cli:v1", "--key", "cosign.pub"],
        None,
    ));
    let ls = ok(&slipway(
        d,
        &["image", "ls", &format!("{host}/demo/cli"), "--insecure"],
        None,
    ));
    assert!(ls.lines().any(|l| l == "v1"), "{ls}");
}
