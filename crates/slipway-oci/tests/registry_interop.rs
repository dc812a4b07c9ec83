//! Interop with real components: Debian's `docker-registry` (CNCF distribution 2.8) on a
//! loopback port, `skopeo` and `umoci`. Images Slipway builds and pushes are read back by
//! skopeo with equal digests; an umoci-made image pushed by skopeo is signed and verified by
//! Slipway. Skipped with a message when the tools are missing, failing when env CI is set.

#![allow(clippy::print_stdout)]

use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use slipway_oci::build::{BuildOptions, build};
use slipway_oci::digest::Digest;
use slipway_oci::keys::SigningKey;
use slipway_oci::layout::Layout;
use slipway_oci::legacy::{LegacyPolicy, SIGNATURE_ANNOTATION, sign_layer, verify_layers};
use slipway_oci::registry::{Credentials, Registry, RegistryError, RegistryOptions};
use slipway_oci::store::{Store, StoreError, copy};

const TOOLS: [&str; 3] = ["docker-registry", "skopeo", "umoci"];
/// bcrypt (cost 4) of "testpass", made with `crypt.crypt(..., mksalt(METHOD_BLOWFISH, rounds=16))`.
const HTPASSWD: &str = "tester:$2b$04$KnJswi25QxTmvjP2UQzwV.PPKlWOXys8WcCNXNP1T7KJrxxLVDeWe\n";

fn tools_available() -> bool {
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
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
    if std::env::var_os("CI").is_some() {
        panic!(
            "interop tools missing in CI: {} (apt-get install -y docker-registry skopeo umoci)",
            missing.join(", ")
        );
    }
    println!(
        "skipped: {} not installed (apt-get install -y docker-registry skopeo umoci)",
        missing.join(", ")
    );
    false
}

/// A `docker-registry serve` child on 127.0.0.1, killed on drop.
struct LocalRegistry {
    child: Child,
    host: String,
    dir: tempfile::TempDir,
}

impl LocalRegistry {
    fn start(basic_auth: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if basic_auth {
            fs_err::write(dir.path().join("htpasswd"), HTPASSWD).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        fs_err::write(dir.path().join("config.yml"), config).unwrap();
        let log = fs_err::File::create(dir.path().join("registry.log"))
            .unwrap()
            .into_parts()
            .0;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let host = format!("127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "registry did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, host, dir }
    }

    fn store(&self, repo: &str, credentials: Option<Credentials>) -> Store {
        let opts = RegistryOptions {
            insecure: true,
            credentials,
            chunk_size: None,
        };
        Store::Registry {
            client: Registry::new(&self.host, &opts).unwrap(),
            repository: repo.to_string(),
        }
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sample_dir(root: &Path) {
    fs_err::create_dir_all(root.join("app/bin")).unwrap();
    fs_err::write(root.join("app/bin/hello.sh"), "#!/bin/sh\necho hello\n").unwrap();
    fs_err::write(root.join("app/config.json"), r#"{"a":1}"#).unwrap();
    let big: Vec<u8> = (0..2_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs_err::write(root.join("app/blob.bin"), big).unwrap();
}

fn layout_index_digest(layout: &Path, tag: &str) -> String {
    let index: Value =
        serde_json::from_slice(&fs_err::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .map(|m| m["digest"].as_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn slipway_push_is_read_by_skopeo_with_equal_digests() {
    if !tools_available() {
        return;
    }
    let reg = LocalRegistry::start(false);
    let src = tempfile::tempdir().unwrap();
    sample_dir(src.path());
    let store = reg.store("demo/app", None);
    let opts = BuildOptions {
        entrypoint: Some(vec!["/app/bin/hello.sh".into()]),
        env: vec![("MODE".into(), "test".into())],
        ..BuildOptions::default()
    };
    let built = build(src.path(), None, &opts, &store, Some("v1"), &|_| {}).unwrap();
    let image = format!("docker://{}/demo/app:v1", reg.host);

    // skopeo sees exactly Slipway's manifest bytes.
    let raw = run(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &image]));
    assert_eq!(Digest::sha256_of(raw.as_bytes()), built.manifest_digest);
    let digest = run(Command::new("skopeo").args([
        "inspect",
        "--format",
        "{{.Digest}}",
        "--tls-verify=false",
        &image,
    ]));
    assert_eq!(digest.trim(), built.manifest_digest.to_string());
    let info: Value = serde_json::from_str(&run(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        &image,
    ])))
    .unwrap();
    assert_eq!(info["Architecture"], "amd64");
    assert_eq!(info["Os"], "linux");
    assert!(
        info["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("MODE=test"))
    );

    // skopeo copies it to a layout: same manifest digest, and Slipway reads that layout.
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    run(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &image,
        &format!("oci:{}:v1", layout.display()),
    ]));
    assert_eq!(
        layout_index_digest(&layout, "v1"),
        built.manifest_digest.to_string()
    );
    // umoci unpacks the layer (Go's gzip and tar readers) to the same files.
    let bundle = out.path().join("bundle");
    run(Command::new("umoci").args([
        "unpack",
        "--rootless",
        "--image",
        &format!("{}:v1", layout.display()),
        &bundle.display().to_string(),
    ]));
    for f in ["app/bin/hello.sh", "app/config.json", "app/blob.bin"] {
        assert_eq!(
            fs_err::read(bundle.join("rootfs").join(f)).unwrap(),
            fs_err::read(src.path().join(f)).unwrap(),
            "{f}"
        );
    }
    let copied = Store::Layout(Layout::open(&layout).unwrap());
    let m = copied.get_manifest("v1").unwrap();
    assert_eq!(m.digest, built.manifest_digest);

    // Rebuilding the same directory pushes the same digest (reproducible).
    let again = build(src.path(), None, &opts, &store, Some("v2"), &|_| {}).unwrap();
    assert_eq!(again.manifest_digest, built.manifest_digest);

    // Slipway pulls it back into its own layout, and the copy is skopeo-readable.
    let mine = out.path().join("mine");
    let dst = Store::Layout(Layout::create(&mine).unwrap());
    let report = copy(&store, "v1", &dst, Some("v1"), true, &|_| {}).unwrap();
    assert_eq!(report.digest.as_ref(), Some(&built.manifest_digest));
    assert_eq!(report.blobs_copied, 2);
    let raw = run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        &format!("oci:{}:v1", mine.display()),
    ]));
    assert_eq!(Digest::sha256_of(raw.as_bytes()), built.manifest_digest);
}

#[test]
fn umoci_image_pushed_by_skopeo_is_signed_and_verified_by_slipway() {
    if !tools_available() {
        return;
    }
    let reg = LocalRegistry::start(false);
    let work = tempfile::tempdir().unwrap();
    let w = |p: &str| work.path().join(p).display().to_string();
    run(Command::new("umoci").args(["init", "--layout", &w("layout")]));
    run(Command::new("umoci").args(["new", "--image", &format!("{}:hello", w("layout"))]));
    run(Command::new("umoci").args([
        "unpack",
        "--rootless",
        "--image",
        &format!("{}:hello", w("layout")),
        &w("bundle"),
    ]));
    fs_err::write(
        work.path().join("bundle/rootfs/hello.txt"),
        "hello from umoci\n",
    )
    .unwrap();
    run(Command::new("umoci").args([
        "repack",
        "--image",
        &format!("{}:hello", w("layout")),
        &w("bundle"),
    ]));
    run(Command::new("umoci").args([
        "config",
        "--image",
        &format!("{}:hello", w("layout")),
        "--architecture",
        "amd64",
        "--os",
        "linux",
        "--config.cmd",
        "/hello.txt",
    ]));
    let umoci_digest = layout_index_digest(&work.path().join("layout"), "hello");
    let image = format!("docker://{}/demo/hello:v1", reg.host);
    run(Command::new("skopeo").args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:hello", w("layout")),
        &image,
    ]));

    // Slipway signs the pushed image in the registry and verifies it.
    let store = reg.store("demo/hello", None);
    let manifest = store.get_manifest("v1").unwrap();
    assert_eq!(manifest.digest.to_string(), umoci_digest);
    let key = SigningKey::generate().unwrap();
    let identity = format!("{}/demo/hello", reg.host);
    let layer = sign_layer(&key, &identity, &manifest.digest).unwrap();
    store.add_signature(&manifest.digest, &layer).unwrap();
    let layers = store.signature_layers(&manifest.digest).unwrap();
    assert_eq!(layers.len(), 1);
    let ok = verify_layers(
        &manifest.digest.to_string(),
        &layers,
        &LegacyPolicy::KeysWithReference(vec![key.public_key()], identity.clone()),
    )
    .unwrap();
    assert_eq!(ok.verified_layers, [0]);
    let other = SigningKey::generate().unwrap();
    let err = verify_layers(
        &manifest.digest.to_string(),
        &layers,
        &LegacyPolicy::Keys(vec![other.public_key()]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");

    // skopeo reads the .sig attachment Slipway wrote (structure: payload plus annotation).
    let regd = work.path().join("regd");
    fs_err::create_dir_all(&regd).unwrap();
    fs_err::write(
        regd.join("default.yaml"),
        "default-docker:\n  use-sigstore-attachments: true\n",
    )
    .unwrap();
    fs_err::write(
        work.path().join("any.json"),
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    run(Command::new("skopeo").args([
        "copy",
        "--policy",
        &w("any.json"),
        "--registries.d",
        &regd.display().to_string(),
        "--src-tls-verify=false",
        &image,
        &format!("dir:{}", w("out")),
    ]));
    let mut sig = Vec::new();
    fs_err::File::open(work.path().join("out/signature-1"))
        .unwrap()
        .read_to_end(&mut sig)
        .unwrap();
    assert!(
        sig.starts_with(b"\x00sigstore-json\n"),
        "skopeo wrote {:?}",
        &sig[..20.min(sig.len())]
    );
    let sig_json: Value = serde_json::from_slice(&sig[15..]).unwrap();
    assert_eq!(
        sig_json["mimeType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    assert_eq!(
        sig_json["annotations"][SIGNATURE_ANNOTATION],
        layer.annotations[SIGNATURE_ANNOTATION].as_str()
    );

    // A second signature is appended, not replacing the first; a copy carries both.
    let second = sign_layer(&other, &identity, &manifest.digest).unwrap();
    store.add_signature(&manifest.digest, &second).unwrap();
    let dst = Store::Layout(Layout::create(work.path().join("copy")).unwrap());
    let report = copy(&store, "v1", &dst, Some("v1"), true, &|_| {}).unwrap();
    assert!(report.signatures_copied);
    let copied = dst.signature_layers(&manifest.digest).unwrap();
    assert_eq!(copied.len(), 2);
    verify_layers(
        &manifest.digest.to_string(),
        &copied,
        &LegacyPolicy::Keys(vec![other.public_key()]),
    )
    .unwrap();
}

#[test]
fn chunked_uploads_basic_auth_referrers_and_corruption() {
    if !tools_available() {
        return;
    }
    let reg = LocalRegistry::start(true);
    let creds = Credentials {
        username: "tester".into(),
        password: "testpass".into(),
    };

    // No credentials: a clear authentication error.
    let anonymous = reg.store("demo/auth", None);
    let err = anonymous.get_manifest("v1").unwrap_err();
    assert!(
        anyhow_chain(&err).contains("no credentials"),
        "{}",
        anyhow_chain(&err)
    );

    // Chunked upload (PATCH) with basic auth.
    let opts = RegistryOptions {
        insecure: true,
        credentials: Some(creds.clone()),
        chunk_size: Some(64 * 1024),
    };
    let client = Registry::new(&reg.host, &opts).unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::sha256_of(&data);
    assert!(
        client
            .put_blob("demo/auth", &digest, Bytes::from(data.clone()))
            .unwrap()
    );
    assert!(
        !client
            .put_blob("demo/auth", &digest, Bytes::from(data.clone()))
            .unwrap(),
        "second upload skipped"
    );
    assert_eq!(client.get_blob("demo/auth", &digest).unwrap(), data);

    // An image plus a referrer: distribution 2.8 has no referrers API, so the fallback tag.
    let config = b"{}".to_vec();
    let config_digest = Digest::sha256_of(&config);
    client
        .put_blob("demo/auth", &config_digest, Bytes::from(config.clone()))
        .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest.to_string(), "size": data.len()}],
    }))
    .unwrap();
    let (image_digest, _) = client
        .put_manifest(
            "demo/auth",
            "v1",
            &manifest,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap();
    assert!(
        client
            .referrers("demo/auth", &image_digest)
            .unwrap()
            .is_empty()
    );
    let artifact = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config_digest.to_string(), "size": 2},
        "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image_digest.to_string(), "size": manifest.len()},
    }))
    .unwrap();
    let art = client
        .push_referrer(
            "demo/auth",
            &image_digest,
            &artifact,
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.dev.sigstore.bundle.v0.3+json",
        )
        .unwrap();
    let refs = client.referrers("demo/auth", &image_digest).unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0]["digest"], art.to_string());
    assert_eq!(
        refs[0]["artifactType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );

    // A registry answering with the wrong content: corrupt the stored blob on disk.
    let blob_file: PathBuf = reg
        .dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&digest.hex()[..2])
        .join(digest.hex())
        .join("data");
    let mut corrupt = data.clone();
    corrupt[0] ^= 0xff;
    fs_err::write(&blob_file, &corrupt).unwrap();
    let err = client.get_blob("demo/auth", &digest).unwrap_err();
    assert!(matches!(err, RegistryError::Digest { .. }), "{err}");
    assert!(
        anyhow_chain(&err).contains(&digest.to_string()),
        "{}",
        anyhow_chain(&err)
    );
    let authed = reg.store("demo/auth", Some(creds));
    let dst = Store::Layout(Layout::create(reg.dir.path().join("pulled")).unwrap());
    let err = copy(&authed, "v1", &dst, Some("v1"), false, &|_| {}).unwrap_err();
    assert!(
        matches!(err, StoreError::Registry(RegistryError::Digest { .. })),
        "{err}"
    );
}

fn anyhow_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
