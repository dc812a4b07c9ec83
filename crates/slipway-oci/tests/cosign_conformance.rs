//! Runs every vector of `shared/conformance/cosign` (see its VECTORS.md) with the expected
//! outcome and prints the pass rate. The conformance root is read in place:
//! `SLIPWAY_CONFORMANCE_DIR` overrides it; when missing, the test fails under `CI` and is
//! skipped otherwise.

#![allow(clippy::print_stdout)] // The report of a conformance run is its output.

use std::path::{Path, PathBuf};

use slipway_oci::keys::{self, PublicKey};
use slipway_oci::legacy::{self, LegacyPolicy, SignatureLayer};
use slipway_oci::sigstore::bundle::{Artifact, Options, Policy, verify_bundle};
use slipway_oci::sigstore::cert::Certificate;
use slipway_oci::sigstore::identity::{Identity, Matcher};
use slipway_oci::sigstore::trust::{TrustedRoot, Validity};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn conformance_root() -> Option<PathBuf> {
    let dir = std::env::var_os("SLIPWAY_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/conformance"
            ))
        });
    let cosign = dir.join("cosign");
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

fn read(p: &Path) -> Vec<u8> {
    fs_err::read(p).unwrap()
}

fn read_str(p: &Path) -> String {
    String::from_utf8(read(p)).unwrap().trim().to_string()
}

struct Tally {
    passed: usize,
    failed: Vec<String>,
}

impl Tally {
    fn check(&mut self, name: &str, expect_pass: bool, result: Result<String, String>) {
        match (expect_pass, &result) {
            (true, Ok(_)) | (false, Err(_)) => self.passed += 1,
            (true, Err(e)) => self.failed.push(format!("{name}: expected pass, got: {e}")),
            (false, Ok(s)) => self
                .failed
                .push(format!("{name}: expected fail, passed ({s})")),
        }
        if let Err(e) = &result
            && !expect_pass
        {
            println!("  ok (fails as expected) {name}: {e}");
        }
    }
}

fn err_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn run_bundle(
    bundle: &Path,
    artifact: Artifact<'_>,
    root: Result<TrustedRoot, String>,
    policy: &Policy,
) -> Result<String, String> {
    let root = root?;
    verify_bundle(&read(bundle), artifact, &root, policy, &Options::default())
        .map(|v| format!("signer {}", v.signer))
        .map_err(|e| err_chain(&e))
}

fn load_root(p: &Path) -> Result<TrustedRoot, String> {
    TrustedRoot::from_json(&read(p)).map_err(|e| err_chain(&e))
}

fn sigstore_conformance(base: &Path, t: &mut Tally) {
    let dir = base.join("bundles/sigstore-conformance/bundle-verify");
    let mut cases: Vec<_> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 70, "expected 70 sigstore-conformance cases");
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let expect_pass = !name.ends_with("_fail");
        let artifact_path = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            dir.join("a.txt")
        };
        let artifact = read(&artifact_path);
        let root_path = if case.join("trusted_root.json").exists() {
            case.join("trusted_root.json")
        } else {
            base.join("trust/public-good.trusted_root.json")
        };
        let policy = if case.join("key.pub").exists() {
            // A key file that does not parse fails the case (managed-key-wrong-key_fail).
            match PublicKey::from_pem(&read_str(&case.join("key.pub"))) {
                Ok(key) => Policy::Key {
                    key,
                    validity: None,
                },
                Err(e) => {
                    t.check(
                        &format!("conformance/{name} (key.pub)"),
                        expect_pass,
                        Err(err_chain(&e)),
                    );
                    continue;
                }
            }
        } else {
            let id = if case.join("identity").exists() {
                read_str(&case.join("identity"))
            } else {
                DEFAULT_IDENTITY.into()
            };
            let iss = if case.join("issuer").exists() {
                read_str(&case.join("issuer"))
            } else {
                DEFAULT_ISSUER.into()
            };
            Policy::Keyless(vec![Identity::exact(id, iss)])
        };
        let bundle = case.join("bundle.sigstore.json");
        let with_bytes = run_bundle(
            &bundle,
            Artifact::Bytes(&artifact),
            load_root(&root_path),
            &policy,
        );
        t.check(
            &format!("conformance/{name} (artifact)"),
            expect_pass,
            with_bytes,
        );
        let digest = Artifact::Sha256(Artifact::Bytes(&artifact).sha256().unwrap());
        let with_digest = run_bundle(&bundle, digest, load_root(&root_path), &policy);
        t.check(
            &format!("conformance/{name} (digest)"),
            expect_pass,
            with_digest,
        );
    }
}

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

fn other_bundles(base: &Path, t: &mut Tally) {
    let trust = base.join("trust");
    let any = |iss: &str| {
        Policy::Keyless(vec![Identity {
            san: Matcher::Any,
            issuer: Matcher::Exact(iss.into()),
        }])
    };
    // cosign OCI attestation: subject = go-containerregistry's empty image.
    let att = base.join("bundles/cosign/oci-attestation.sigstore.json");
    let empty_image = hex32("732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4");
    for root in [
        "cosign-pgi.trusted_root.json",
        "public-good.trusted_root.json",
    ] {
        let r = run_bundle(
            &att,
            Artifact::Sha256(empty_image),
            load_root(&trust.join(root)),
            &any("https://github.com/login/oauth"),
        );
        t.check(&format!("cosign/oci-attestation ({root})"), true, r);
    }
    let wrong = Policy::Keyless(vec![Identity {
        san: Matcher::Regex(regex::Regex::new("wrong").unwrap()),
        issuer: Matcher::Any,
    }]);
    let r = run_bundle(
        &att,
        Artifact::Sha256(empty_image),
        load_root(&trust.join("cosign-pgi.trusted_root.json")),
        &wrong,
    );
    t.check("cosign/oci-attestation (subject regex wrong)", false, r);
    let r = run_bundle(
        &att,
        Artifact::Sha256([7u8; 32]),
        load_root(&trust.join("cosign-pgi.trusted_root.json")),
        &any("https://github.com/login/oauth"),
    );
    t.check("cosign/oci-attestation (other image)", false, r);

    let sg = base.join("bundles/sigstore-go");
    let dsse = sg.join("dsse.sigstore.json");
    let subject = statement_subject_sha512(&dsse);
    for root in [
        "sigstore-go.public-good.trusted_root.json",
        "public-good.trusted_root.json",
    ] {
        let policy = Policy::Keyless(vec![Identity::exact(
            "brian@dehamer.com",
            "https://github.com/login/oauth",
        )]);
        let r = run_bundle(
            &dsse,
            Artifact::Sha512(subject),
            load_root(&trust.join(root)),
            &policy,
        );
        t.check(&format!("sigstore-go/dsse ({root})"), true, r);
    }
    let other = Policy::Keyless(vec![Identity::exact(
        "brian@dehamer.com",
        "https://github.com/login/oauth",
    )]);
    let r = run_bundle(
        &sg.join("dsse-2sigs.sigstore.json"),
        Artifact::Sha512(subject),
        load_root(&trust.join("public-good.trusted_root.json")),
        &other,
    );
    t.check("sigstore-go/dsse-2sigs", false, r);

    let othername = sg.join("othername.sigstore.json");
    let on_digest = hex32("bc103b4a84971ef6459b294a2b98568a2bfb72cded09d4acd1e16366a401f95b");
    let scaffolding = trust.join("sigstore-go.scaffolding.trusted_root.json");
    let r = run_bundle(
        &othername,
        Artifact::Sha256(on_digest),
        load_root(&scaffolding),
        &Policy::Keyless(vec![Identity::exact(
            "foo!oidc.local",
            "http://oidc.local:8080",
        )]),
    );
    t.check("sigstore-go/othername (foo!oidc.local)", true, r);
    let r = run_bundle(
        &othername,
        Artifact::Sha256(on_digest),
        load_root(&scaffolding),
        &Policy::Keyless(vec![Identity::exact(
            "foo@oidc.local",
            "http://oidc.local:8080",
        )]),
    );
    t.check("sigstore-go/othername (foo@oidc.local)", false, r);

    let pkv = sg.join("public-key-validity.sigstore.json");
    let key = PublicKey::from_pem(&read_str(&sg.join("public-key-validity.pem"))).unwrap();
    let pkv_root = trust.join("sigstore-go.public-key-validity.trusted_root.json");
    let root = load_root(&pkv_root).unwrap();
    let opts = Options {
        tlog_threshold: 0,
        ..Options::default()
    };
    let narrow = Policy::Key {
        key: key.clone(),
        validity: Some(Validity {
            start: 0,
            end: Some(1),
        }),
    };
    let r = verify_bundle(
        &read(&pkv),
        Artifact::Bytes(b"test content"),
        &root,
        &narrow,
        &opts,
    )
    .map(|v| v.signer)
    .map_err(|e| err_chain(&e));
    t.check("sigstore-go/public-key-validity (window 1970)", false, r);
    let open = Policy::Key {
        key,
        validity: None,
    };
    let r = verify_bundle(
        &read(&pkv),
        Artifact::Bytes(b"test content"),
        &root,
        &open,
        &opts,
    )
    .map(|v| v.signer)
    .map_err(|e| err_chain(&e));
    t.check("sigstore-go/public-key-validity (unbounded)", true, r);

    let js = sg.join("sigstore.js@2.0.0-provenance.sigstore.json");
    let policy = Policy::Keyless(vec![Identity::exact(
        "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main",
        "https://token.actions.githubusercontent.com",
    )]);
    let r = run_bundle(
        &js,
        Artifact::Sha512(statement_subject_sha512(&js)),
        load_root(&trust.join("public-good.trusted_root.json")),
        &policy,
    );
    t.check("sigstore-go/sigstore.js provenance", true, r);
    let r = run_bundle(
        &js,
        Artifact::Sha512([1u8; 64]),
        load_root(&trust.join("public-good.trusted_root.json")),
        &policy,
    );
    t.check(
        "sigstore-go/sigstore.js provenance (other artifact)",
        false,
        r,
    );
}

fn statement(path: &Path) -> serde_json::Value {
    use base64::Engine as _;
    let b: serde_json::Value = serde_json::from_slice(&read(path)).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// The sha512 subject of a statement whose artifact is not in the vectors (npm tarballs).
fn statement_subject_sha512(path: &Path) -> [u8; 64] {
    hex::decode(
        statement(path)["subject"][0]["digest"]["sha512"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
    .try_into()
    .unwrap()
}

fn keys_vectors(base: &Path, t: &mut Tally) {
    let k = base.join("keys");
    let check_key = |file: &str, pw: &[u8], want_pub: Option<&str>| -> Result<String, String> {
        let key =
            keys::load_private_key(&read_str(&k.join(file)), pw).map_err(|e| err_chain(&e))?;
        let hint = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(key.public_key().spki_der())
        };
        match want_pub {
            Some(w) if w != hint => Err(format!("public key {hint} differs")),
            _ => Ok(hint),
        }
    };
    t.check("keys/empty-password", true, check_key("sigstore-rs.cosign_generated_encrypted_empty_private.key", b"", Some("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGmsWpZNuu+SUX70n3lVK4JLsaoV7T+rhea2rQUu29EQiatoLB06QdsmSd+GsQGlQzfcDtsKPzb+B2zLggrWZjg==")));
    t.check(
        "keys/empty-password wrong password",
        false,
        check_key(
            "sigstore-rs.cosign_generated_encrypted_empty_private.key",
            b"x",
            None,
        ),
    );
    t.check("keys/ecdsa-encrypted 123", true, check_key("sigstore-rs.ecdsa_encrypted_private.key", b"123", Some("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEI3sxu+p/GFrJyfgmSWr4qMzwbnd/pRAShSG6tHcrlhBSoRCAiVYOoQR7514Uz6ft2tQlnoJLHmHcFqqy0/ERJA==")));
    t.check(
        "keys/ecdsa-encrypted wrong password",
        false,
        check_key("sigstore-rs.ecdsa_encrypted_private.key", b"1234", None),
    );
    t.check(
        "keys/ecdsa-plain",
        true,
        check_key("sigstore-rs.ecdsa_private.key", b"", None),
    );
    let r = check_key("cosign-test.key", b"", None);
    let auth_error = matches!(&r, Err(e) if e.contains("decryption failed"));
    t.check(
        "keys/cosign-test.key empty password is an authentication error",
        true,
        if auth_error {
            Ok("auth error".into())
        } else {
            Err(format!("{r:?}"))
        },
    );
    t.check(
        "keys/cosign-test.pub",
        true,
        PublicKey::from_pem(&read_str(&k.join("cosign-test.pub")))
            .map(|k| k.algorithm().to_string())
            .map_err(|e| e.to_string()),
    );
}

fn legacy_vectors(base: &Path, t: &mut Tally) {
    let d = base.join("legacy-oci");
    let key = |f: &str| PublicKey::from_pem(&read_str(&d.join(f))).unwrap();
    let keys_policy = |ks: Vec<PublicKey>| LegacyPolicy::Keys(ks);
    let run =
        |dir: &str, policy: &LegacyPolicy, layers: Option<Vec<usize>>| -> Result<String, String> {
            let (digest, sigs) = load_dir(&d.join(dir))?;
            let sigs: Vec<SignatureLayer> = match layers {
                Some(idx) => idx.into_iter().map(|i| sigs[i].clone()).collect(),
                None => sigs,
            };
            legacy::verify_layers(&digest, &sigs, policy)
                .map(|v| v.summary())
                .map_err(|e| err_chain(&e))
        };
    let p1 = keys_policy(vec![key("cosign.pub")]);
    t.check(
        "legacy/valid cosign.pub",
        true,
        run("dir-img-cosign-valid", &p1, None),
    );
    t.check(
        "legacy/valid key set",
        true,
        run(
            "dir-img-cosign-valid",
            &keys_policy(vec![key("cosign.pub"), key("cosign2.pub")]),
            None,
        ),
    );
    t.check(
        "legacy/valid cosign2.pub",
        false,
        run(
            "dir-img-cosign-valid",
            &keys_policy(vec![key("cosign2.pub")]),
            None,
        ),
    );
    t.check(
        "legacy/valid-2",
        true,
        run("dir-img-cosign-valid-2", &p1, None),
    );
    t.check(
        "legacy/valid-with-tag",
        true,
        run("dir-img-cosign-valid-with-tag", &p1, None),
    );
    let with_ref =
        |r: &str| LegacyPolicy::KeysWithReference(vec![key("cosign.pub")], r.to_string());
    t.check(
        "legacy/valid-with-tag exact reference",
        true,
        run(
            "dir-img-cosign-valid-with-tag",
            &with_ref("192.168.64.2:5000/skopeo-signed:tag"),
            None,
        ),
    );
    t.check(
        "legacy/valid-with-tag other reference",
        false,
        run(
            "dir-img-cosign-valid-with-tag",
            &with_ref("192.168.64.2:5000/skopeo-signed:othertag"),
            None,
        ),
    );
    t.check("legacy/mixed", true, run("dir-img-cosign-mixed", &p1, None));
    t.check(
        "legacy/mixed layer 1 alone",
        false,
        run("dir-img-cosign-mixed", &p1, Some(vec![0])),
    );
    t.check(
        "legacy/modified-manifest",
        false,
        run("dir-img-cosign-modified-manifest", &p1, None),
    );
    t.check(
        "legacy/manifest-digest-error",
        false,
        run("dir-img-cosign-manifest-digest-error", &p1, None),
    );
    t.check(
        "legacy/no-manifest",
        false,
        run("dir-img-cosign-no-manifest", &p1, None),
    );
    t.check(
        "legacy/other-attachment",
        false,
        run("dir-img-cosign-other-attachment", &p1, None),
    );
    t.check("legacy/unsigned", false, run("dir-img-unsigned", &p1, None));
    let unknown = (|| -> Result<String, String> {
        let (digest, _) = load_dir(&d.join("dir-img-cosign-valid"))?;
        let layer = parse_signature_file(&read(&d.join("unknown-cosign-key.signature")))?;
        legacy::verify_layers(&digest, &[layer], &p1)
            .map(|v| v.summary())
            .map_err(|e| err_chain(&e))
    })();
    t.check("legacy/unknown-cosign-key", false, unknown);

    // Keyless (Fulcio + Rekor SET) with the public-good trusted root.
    let root = load_root(&base.join("trust/public-good.trusted_root.json")).unwrap();
    let mitr = |email: &str| LegacyPolicy::Keyless {
        root: Box::new(root.clone()),
        identities: vec![Identity::exact(email, "https://github.com/login/oauth")],
        require_sct: true,
        require_tlog: true,
        extra_intermediates: Vec::new(),
    };
    let fr = "dir-img-cosign-fulcio-rekor-valid";
    t.check(
        "legacy/fulcio-rekor-valid",
        true,
        run(fr, &mitr("mitr@redhat.com"), None),
    );
    t.check(
        "legacy/fulcio-rekor-valid other email",
        false,
        run(fr, &mitr("other@redhat.com"), None),
    );
    let mutate = |f: &dyn Fn(&mut SignatureLayer)| -> Result<String, String> {
        let (digest, mut sigs) = load_dir(&d.join(fr))?;
        sigs.iter_mut().for_each(f);
        legacy::verify_layers(&digest, &sigs, &mitr("mitr@redhat.com"))
            .map(|v| v.summary())
            .map_err(|e| err_chain(&e))
    };
    t.check(
        "legacy/fulcio-rekor no SET",
        false,
        mutate(&|l| {
            l.annotations.remove(legacy::BUNDLE_ANNOTATION);
        }),
    );
    t.check(
        "legacy/fulcio-rekor no certificate",
        false,
        mutate(&|l| {
            l.annotations.remove(legacy::CERTIFICATE_ANNOTATION);
        }),
    );
    let pki_cert = read_str(&d.join("pki-cert"));
    t.check(
        "legacy/fulcio-rekor replaced certificate",
        false,
        mutate(&|l| {
            l.annotations
                .insert(legacy::CERTIFICATE_ANNOTATION.into(), pki_cert.clone());
        }),
    );
    let other_set = read_str(&d.join("rekor-set-standalone/rekor-set"));
    t.check(
        "legacy/fulcio-rekor replaced SET",
        false,
        mutate(&|l| {
            l.annotations
                .insert(legacy::BUNDLE_ANNOTATION.into(), other_set.clone());
        }),
    );
    let cosign_as_rekor = {
        let mut r = TrustedRoot {
            certificate_authorities: root.certificate_authorities.clone(),
            ctlogs: root.ctlogs.clone(),
            ..TrustedRoot::default()
        };
        r.add_rekor_key(key("cosign.pub"));
        LegacyPolicy::Keyless {
            root: Box::new(r),
            identities: vec![Identity::exact(
                "mitr@redhat.com",
                "https://github.com/login/oauth",
            )],
            require_sct: true,
            require_tlog: true,
            extra_intermediates: Vec::new(),
        }
    };
    t.check(
        "legacy/fulcio-rekor rekor key = cosign.pub",
        false,
        run(fr, &cosign_as_rekor, None),
    );
    // Only the Fulcio root trusted (+ rekor.pub), chain annotation removed / kept.
    let fulcio_root = Certificate::from_pem_chain(&read_str(&d.join("fulcio_v1.crt.pem"))).unwrap();
    let root_only = {
        let mut r = TrustedRoot {
            ctlogs: root.ctlogs.clone(),
            ..TrustedRoot::default()
        };
        r.add_ca_chain(fulcio_root.clone());
        r.add_rekor_key(key("rekor.pub"));
        r
    };
    let root_only_policy = |extra: Vec<Certificate>| LegacyPolicy::Keyless {
        root: Box::new(root_only.clone()),
        identities: vec![Identity::exact(
            "mitr@redhat.com",
            "https://github.com/login/oauth",
        )],
        require_sct: true,
        require_tlog: true,
        extra_intermediates: extra,
    };
    t.check(
        "legacy/fulcio-rekor root only, chain annotation",
        true,
        run(fr, &root_only_policy(Vec::new()), None),
    );
    let no_chain = |policy: &LegacyPolicy| -> Result<String, String> {
        let (digest, mut sigs) = load_dir(&d.join(fr))?;
        sigs.iter_mut().for_each(|l| {
            l.annotations.remove(legacy::CHAIN_ANNOTATION);
        });
        legacy::verify_layers(&digest, &sigs, policy)
            .map(|v| v.summary())
            .map_err(|e| err_chain(&e))
    };
    t.check(
        "legacy/fulcio-rekor no chain, root only",
        false,
        no_chain(&root_only_policy(Vec::new())),
    );
    let (_, fr_sigs) = load_dir(&d.join(fr)).unwrap();
    let chain_pem = fr_sigs[0]
        .annotations
        .get(legacy::CHAIN_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    let intermediates: Vec<Certificate> = Certificate::from_pem_chain(&chain_pem)
        .unwrap()
        .into_iter()
        .filter(|c| !c.is_self_signed())
        .collect();
    t.check(
        "legacy/fulcio-rekor no chain, intermediate trusted",
        true,
        no_chain(&root_only_policy(intermediates)),
    );

    // Private PKI, RSA-4096 leaf, no EKU, no SCT, no tlog.
    let pki_roots = Certificate::from_pem_chain(&read_str(&d.join("pki_root_crts.pem"))).unwrap();
    let pki_inter =
        Certificate::from_pem_chain(&read_str(&d.join("pki_intermediate_crts.pem"))).unwrap();
    let pki = |extra: Vec<Certificate>, email: &str| {
        let mut r = TrustedRoot::default();
        r.add_ca_chain(pki_roots.clone());
        LegacyPolicy::Keyless {
            root: Box::new(r),
            identities: vec![Identity {
                san: Matcher::Exact(email.into()),
                issuer: Matcher::Any,
            }],
            require_sct: false,
            require_tlog: false,
            extra_intermediates: extra,
        }
    };
    t.check(
        "legacy/pki-valid",
        true,
        run(
            "dir-img-cosign-pki-valid",
            &pki(Vec::new(), "qiwan@redhat.com"),
            None,
        ),
    );
    t.check(
        "legacy/pki-valid hostname",
        true,
        run(
            "dir-img-cosign-pki-valid",
            &pki(Vec::new(), "myhost.example.com"),
            None,
        ),
    );
    t.check(
        "legacy/pki-valid other email",
        false,
        run(
            "dir-img-cosign-pki-valid",
            &pki(Vec::new(), "x@redhat.com"),
            None,
        ),
    );
    let pki_no_chain = |policy: &LegacyPolicy| -> Result<String, String> {
        let (digest, mut sigs) = load_dir(&d.join("dir-img-cosign-pki-valid"))?;
        sigs.iter_mut().for_each(|l| {
            l.annotations.remove(legacy::CHAIN_ANNOTATION);
        });
        legacy::verify_layers(&digest, &sigs, policy)
            .map(|v| v.summary())
            .map_err(|e| err_chain(&e))
    };
    t.check(
        "legacy/pki no chain, intermediate supplied",
        true,
        pki_no_chain(&pki(pki_inter.clone(), "qiwan@redhat.com")),
    );
    t.check(
        "legacy/pki no chain, root only",
        false,
        pki_no_chain(&pki(Vec::new(), "qiwan@redhat.com")),
    );

    // Standalone certificates and the standalone Rekor SET.
    let chain_check = |cert: &str, chain: &str, roots: &str| -> Result<String, String> {
        let leaf = Certificate::from_pem_chain(&read_str(&d.join(cert)))
            .map_err(|e| e.to_string())?
            .remove(0);
        let mut path =
            Certificate::from_pem_chain(&read_str(&d.join(chain))).map_err(|e| e.to_string())?;
        let anchors =
            Certificate::from_pem_chain(&read_str(&d.join(roots))).map_err(|e| e.to_string())?;
        path.retain(|c| !c.is_self_signed());
        path.extend(anchors);
        slipway_oci::sigstore::cert::verify_path(&leaf, &path, leaf.not_before)
            .map(|_| leaf.describe())
            .map_err(|e| e.to_string())
    };
    t.check(
        "legacy/fulcio-cert chain",
        true,
        chain_check("fulcio-cert", "fulcio-chain", "fulcio_v1.crt.pem"),
    );
    t.check(
        "legacy/pki-cert chain",
        true,
        chain_check("pki-cert", "pki-chain", "pki_root_crts.pem"),
    );
    let rs = d.join("rekor-set-standalone");
    let set_check = |rekor_key: &str| -> Result<String, String> {
        let mut r = TrustedRoot::default();
        r.add_rekor_key(key(rekor_key));
        let payload = read(&rs.join("rekor-payload"));
        let sig = read_str(&rs.join("rekor-sig"));
        let cert = read_str(&rs.join("rekor-cert"));
        let set = read_str(&rs.join("rekor-set"));
        legacy::verify_rekor_bundle_annotation(&set, &payload, &sig, &cert, &r)
            .map(|t| format!("integrated {t}"))
            .map_err(|e| err_chain(&e))
    };
    t.check(
        "legacy/rekor-set-standalone rekor.pub",
        true,
        set_check("rekor.pub"),
    );
    t.check(
        "legacy/rekor-set-standalone cosign.pub",
        false,
        set_check("cosign.pub"),
    );
}

/// containers/image `dir:` layout: manifest.json + signature-N files.
fn load_dir(dir: &Path) -> Result<(String, Vec<SignatureLayer>), String> {
    let manifest = fs_err::read(dir.join("manifest.json"))
        .map_err(|e| format!("no image to check against: {e}"))?;
    let digest = slipway_oci::digest::Digest::sha256_of(&manifest).to_string();
    let mut sigs = Vec::new();
    for i in 1.. {
        let p = dir.join(format!("signature-{i}"));
        if !p.exists() {
            break;
        }
        sigs.push(parse_signature_file(&read(&p))?);
    }
    Ok((digest, sigs))
}

fn parse_signature_file(data: &[u8]) -> Result<SignatureLayer, String> {
    use base64::Engine as _;
    let json = data
        .strip_prefix(b"\x00sigstore-json\n")
        .ok_or("not a sigstore-json signature file")?;
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(v["payload"].as_str().unwrap_or_default())
        .map_err(|e| e.to_string())?;
    let annotations = v["annotations"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    Ok(SignatureLayer {
        media_type: v["mimeType"].as_str().unwrap_or_default().to_string(),
        blob: payload,
        annotations,
    })
}

#[test]
fn cosign_conformance() {
    let Some(base) = conformance_root() else {
        return;
    };
    let mut t = Tally {
        passed: 0,
        failed: Vec::new(),
    };
    sigstore_conformance(&base, &mut t);
    other_bundles(&base, &mut t);
    keys_vectors(&base, &mut t);
    legacy_vectors(&base, &mut t);
    let total = t.passed + t.failed.len();
    for f in &t.failed {
        println!("FAILED {f}");
    }
    println!(
        "cosign conformance: {}/{} passed ({:.1}%)",
        t.passed,
        total,
        100.0 * t.passed as f64 / total as f64
    );
    assert!(
        t.failed.is_empty(),
        "{} of {total} vectors failed",
        t.failed.len()
    );
}
