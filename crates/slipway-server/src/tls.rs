//! Webhook TLS: a self-signed CA and a serving certificate signed by it,
//! generated with rcgen when the user gives none and kept in
//! `<data-dir>/tls/` (keys mode 0600) so that the CA bundle registered with
//! the API server stays valid across restarts; and the
//! Validating/MutatingWebhookConfiguration manifests carrying that bundle.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde_json::{Value, json};

/// TLS errors.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing a certificate or key file failed.
    #[error("tls file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("cannot generate the {what}")]
    Generate {
        /// CA or serving certificate.
        what: &'static str,
        /// Cause.
        #[source]
        source: rcgen::Error,
    },
    /// A stored key does not parse.
    #[error("stored key {path} is not a valid PEM private key")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: rcgen::Error,
    },
}

/// PEM texts of the serving certificate, its key and the CA that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    /// CA certificate (the `caBundle`).
    pub ca_pem: String,
    /// Serving certificate chain.
    pub cert_pem: String,
    /// Serving key.
    pub key_pem: String,
}

impl TlsMaterial {
    /// The `caBundle` value: base64 of the CA PEM.
    pub fn ca_bundle(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.ca_pem.as_bytes())
    }
}

/// The names the generated serving certificate covers by default: loopback,
/// and the in-cluster Service `slipway-webhook` in namespace `slipway`.
pub fn default_hosts() -> Vec<String> {
    [
        "localhost",
        "127.0.0.1",
        "::1",
        "slipway-webhook",
        "slipway-webhook.slipway",
        "slipway-webhook.slipway.svc",
        "slipway-webhook.slipway.svc.cluster.local",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";
const CERT: &str = "tls.crt";
const KEY: &str = "tls.key";
const HOSTS: &str = "hosts";

fn read(path: &Path) -> Result<String, TlsError> {
    fs_err::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, text: &str, secret: bool) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Write to a temporary file then rename, so a crash never leaves half a key.
    let tmp = path.with_extension("tmp");
    fs_err::write(&tmp, text).map_err(io)?;
    if secret {
        restrict(&tmp).map_err(io)?;
    }
    fs_err::rename(&tmp, path).map_err(io)
}

/// Makes a file readable by its owner only.
pub fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    // The issuer is rebuilt from these parameters and the stored key, so
    // they must stay the same for a CA once it exists.
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "slipway webhook CA");
    p.distinguished_name
        .push(DnType::OrganizationName, "slipway");
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

fn serving_params(hosts: &[String]) -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.subject_alt_names = hosts
        .iter()
        .map(|h| match h.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => h.clone().try_into().map(SanType::DnsName),
        })
        .collect::<Result<_, _>>()?;
    p.distinguished_name.push(
        DnType::CommonName,
        hosts.first().cloned().unwrap_or_else(|| "slipway".into()),
    );
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(p)
}

/// Loads the CA and serving certificate from `dir`, creating what is
/// missing: a new CA when there is none, a new serving certificate (signed by
/// the existing CA) when there is none or its host list changed.
pub fn ensure_self_signed(dir: &Path, hosts: &[String]) -> Result<TlsMaterial, TlsError> {
    fs_err::create_dir_all(dir).map_err(|source| TlsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let gen_err = |what| move |source| TlsError::Generate { what, source };
    let ca_key_path = dir.join(CA_KEY);
    let ca_cert_path = dir.join(CA_CERT);
    let (ca_key, ca_pem) = if ca_key_path.exists() && ca_cert_path.exists() {
        let key = KeyPair::from_pem(&read(&ca_key_path)?).map_err(|source| TlsError::BadKey {
            path: ca_key_path.clone(),
            source,
        })?;
        (key, read(&ca_cert_path)?)
    } else {
        let key = KeyPair::generate().map_err(gen_err("CA key"))?;
        let cert = ca_params()
            .and_then(|p| p.self_signed(&key))
            .map_err(gen_err("CA certificate"))?;
        write(&ca_key_path, &key.serialize_pem(), true)?;
        write(&ca_cert_path, &cert.pem(), false)?;
        // A new CA invalidates any serving certificate signed by an old one.
        let _ = fs_err::remove_file(dir.join(CERT));
        (key, cert.pem())
    };
    let wanted_hosts = hosts.join("\n");
    let cert_path = dir.join(CERT);
    let key_path = dir.join(KEY);
    let hosts_path = dir.join(HOSTS);
    let current = cert_path.exists()
        && key_path.exists()
        && read(&hosts_path)
            .map(|h| h == wanted_hosts)
            .unwrap_or(false);
    if !current {
        let issuer = Issuer::new(ca_params().map_err(gen_err("CA parameters"))?, &ca_key);
        let key = KeyPair::generate().map_err(gen_err("serving key"))?;
        let cert = serving_params(hosts)
            .and_then(|p| p.signed_by(&key, &issuer))
            .map_err(gen_err("serving certificate"))?;
        write(&key_path, &key.serialize_pem(), true)?;
        write(&cert_path, &cert.pem(), false)?;
        write(&hosts_path, &wanted_hosts, false)?;
    }
    Ok(TlsMaterial {
        ca_pem,
        cert_pem: read(&cert_path)?,
        key_pem: read(&key_path)?,
    })
}

/// Uses a certificate and key the user gave; `ca_pem` is the bundle to
/// register (the certificate itself when it is self-signed).
pub fn from_files(cert: &Path, key: &Path, ca: Option<&Path>) -> Result<TlsMaterial, TlsError> {
    let cert_pem = read(cert)?;
    Ok(TlsMaterial {
        ca_pem: match ca {
            Some(p) => read(p)?,
            None => cert_pem.clone(),
        },
        cert_pem,
        key_pem: read(key)?,
    })
}

/// Where the API server reaches the webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookTarget {
    /// `https://...` URL (outside the cluster).
    Url(String),
    /// A Service in the cluster.
    Service {
        /// Namespace.
        namespace: String,
        /// Service name.
        name: String,
        /// Service port.
        port: u16,
    },
}

/// Options of the generated webhook configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestOptions {
    /// Where the webhook is.
    pub target: WebhookTarget,
    /// `Fail` or `Ignore`.
    pub failure_policy: String,
    /// `timeoutSeconds` (1..=30).
    pub timeout_seconds: u8,
    /// Namespaces never sent to the webhook.
    pub excluded_namespaces: Vec<String>,
}

impl Default for ManifestOptions {
    fn default() -> Self {
        Self {
            target: WebhookTarget::Service {
                namespace: "slipway".into(),
                name: "slipway-webhook".into(),
                port: 443,
            },
            failure_policy: "Fail".into(),
            timeout_seconds: 10,
            excluded_namespaces: vec!["kube-system".into(), "slipway".into()],
        }
    }
}

fn client_config(opts: &ManifestOptions, path: &str, ca_bundle: &str) -> Value {
    match &opts.target {
        WebhookTarget::Url(base) => json!({
            "url": format!("{}{path}", base.trim_end_matches('/')),
            "caBundle": ca_bundle,
        }),
        WebhookTarget::Service {
            namespace,
            name,
            port,
        } => json!({
            "service": {"namespace": namespace, "name": name, "path": path, "port": port},
            "caBundle": ca_bundle,
        }),
    }
}

/// The ValidatingWebhookConfiguration and MutatingWebhookConfiguration that
/// send every namespaced and cluster-scoped object to `/validate` and
/// `/mutate`.
pub fn webhook_configurations(opts: &ManifestOptions, ca_bundle: &str) -> [Value; 2] {
    let selector = json!({
        "matchExpressions": [{
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": opts.excluded_namespaces,
        }]
    });
    let labels = json!({"app.kubernetes.io/managed-by": "slipway"});
    let validating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "slipway-validating", "labels": labels},
        "webhooks": [{
            "name": "validate.slipway.dev",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": opts.failure_policy,
            "timeoutSeconds": opts.timeout_seconds,
            "matchPolicy": "Equivalent",
            "clientConfig": client_config(opts, "/validate", ca_bundle),
            "namespaceSelector": selector,
            "rules": [{
                "apiGroups": ["*"], "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE", "DELETE"],
                "resources": ["*/*"], "scope": "*",
            }],
        }],
    });
    let mutating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "slipway-mutating", "labels": labels},
        "webhooks": [{
            "name": "mutate.slipway.dev",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": opts.failure_policy,
            "timeoutSeconds": opts.timeout_seconds,
            "matchPolicy": "Equivalent",
            "reinvocationPolicy": "IfNeeded",
            "clientConfig": client_config(opts, "/mutate", ca_bundle),
            "namespaceSelector": selector,
            "rules": [{
                "apiGroups": ["*"], "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["*/*"], "scope": "*",
            }],
        }],
    });
    [validating, mutating]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses_the_ca() {
        let dir = tempfile::tempdir().unwrap();
        let a = ensure_self_signed(dir.path(), &default_hosts()).unwrap();
        assert!(a.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.key_pem.contains("PRIVATE KEY"));
        let b = ensure_self_signed(dir.path(), &default_hosts()).unwrap();
        assert_eq!(a, b, "a second start reuses everything");
        let c = ensure_self_signed(dir.path(), &["example.test".to_string()]).unwrap();
        assert_eq!(a.ca_pem, c.ca_pem, "new hosts keep the CA");
        assert_ne!(
            a.cert_pem, c.cert_pem,
            "new hosts re-sign the serving certificate"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [CA_KEY, KEY] {
                let mode = fs_err::metadata(dir.path().join(f))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
    }

    #[test]
    fn manifests_carry_the_ca_bundle() {
        let opts = ManifestOptions {
            target: WebhookTarget::Url("https://127.0.0.1:8443".into()),
            ..ManifestOptions::default()
        };
        let [v, m] = webhook_configurations(&opts, "Q0E=");
        assert_eq!(v["kind"], "ValidatingWebhookConfiguration");
        assert_eq!(m["kind"], "MutatingWebhookConfiguration");
        assert_eq!(
            v["webhooks"][0]["clientConfig"]["url"],
            "https://127.0.0.1:8443/validate"
        );
        assert_eq!(m["webhooks"][0]["clientConfig"]["caBundle"], "Q0E=");
        assert_eq!(v["webhooks"][0]["admissionReviewVersions"][0], "v1");
        assert_eq!(v["webhooks"][0]["failurePolicy"], "Fail");
    }
}
