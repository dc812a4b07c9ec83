//! Legacy cosign image signatures (the `sha256-<hex>.sig` tag scheme): simple-signing payloads
//! in manifest layers, with the signature and optional certificate, chain and Rekor bundle in
//! layer annotations. Each layer is verified independently; one verified layer is success.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::digest::Digest;
use crate::keys::{KeyError, PublicKey, SigningKey};
use crate::sigstore::bundle::{BundleError, verify_leaf};
use crate::sigstore::cert::{CertError, Certificate, fmt_time, verify_path};
use crate::sigstore::identity::Identity;
use crate::sigstore::tlog::{self, Expected, TlogError};
use crate::sigstore::trust::TrustedRoot;

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// One layer of a `.sig` manifest: media type, blob (the payload), annotations.
#[derive(Debug, Clone)]
pub struct SignatureLayer {
    pub media_type: String,
    pub blob: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum LegacyPolicy {
    /// Any of these keys.
    Keys(Vec<PublicKey>),
    /// Any of these keys, and `docker-reference` must equal the reference exactly.
    KeysWithReference(Vec<PublicKey>, String),
    /// Certificates chaining to the root's CAs with a matching identity.
    Keyless {
        root: Box<TrustedRoot>,
        identities: Vec<Identity>,
        require_sct: bool,
        require_tlog: bool,
        /// Intermediates trusted in addition to the annotation's chain.
        extra_intermediates: Vec<Certificate>,
    },
}

/// Legacy verification errors.
#[derive(Debug, Error)]
pub enum LegacyError {
    #[error("no signatures found for {0}")]
    NoSignatures(String),
    #[error("no signature of {digest} verifies: {}", .problems.join("; "))]
    NoneVerified {
        digest: String,
        problems: Vec<String>,
    },
}

/// Why one layer did not verify.
#[derive(Debug, Error)]
pub enum LayerError {
    #[error("layer media type {0} is not a simple-signing payload")]
    MediaType(String),
    #[error("layer has no {SIGNATURE_ANNOTATION} annotation")]
    NoSignature,
    #[error("signature annotation is not base64")]
    BadBase64,
    #[error("signature does not verify with {0}")]
    Key(String),
    #[error("payload is not a cosign simple-signing document: {0}")]
    Payload(String),
    #[error("payload signs {found}, not {expected}")]
    WrongDigest { expected: String, found: String },
    #[error("payload identity {found:?} is not {expected:?}")]
    WrongReference { expected: String, found: String },
    #[error("layer has no certificate annotation")]
    NoCertificate,
    #[error("certificate")]
    Cert(#[from] CertError),
    #[error("signature does not verify with the certificate key")]
    CertSignature(KeyError),
    #[error("rekor bundle: {0}")]
    Rekor(#[from] RekorBundleError),
    #[error("no trusted time: the layer has no rekor bundle")]
    NoTrustedTime,
    #[error("{0}")]
    Leaf(#[from] BundleError),
    #[error("certificate does not chain to a trusted authority at {0}")]
    Untrusted(String),
    #[error("certificate identity {0:?} matches no expected identity")]
    Identity(Vec<String>),
}

/// Errors of the `dev.sigstore.cosign/bundle` annotation.
#[derive(Debug, Error)]
pub enum RekorBundleError {
    #[error("annotation is not valid json: {0}")]
    Json(String),
    #[error("log {0} is not in the trusted root")]
    UnknownLog(String),
    #[error("{0}")]
    Tlog(#[from] TlogError),
    #[error("{0} is not base64")]
    Base64(&'static str),
}

/// The simple-signing payload (cosign's field order; Go's encoder has no whitespace).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimpleSigning {
    pub critical: Critical,
    pub optional: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Critical {
    pub identity: IdentityClaim,
    pub image: ImageClaim,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityClaim {
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageClaim {
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl SimpleSigning {
    pub fn new(
        reference: &str,
        digest: &Digest,
        optional: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Self {
        Self {
            critical: Critical {
                identity: IdentityClaim {
                    docker_reference: reference.to_string(),
                },
                image: ImageClaim {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: SIGNATURE_TYPE.to_string(),
            },
            optional,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// A successful verification.
#[derive(Debug, Clone)]
pub struct LegacyVerified {
    pub verified_layers: Vec<usize>,
    pub signer: String,
    pub problems: Vec<String>,
}

impl LegacyVerified {
    pub fn summary(&self) -> String {
        format!(
            "{} layer(s) verified, signer {}",
            self.verified_layers.len(),
            self.signer
        )
    }
}

/// Signs an image digest: returns the signature layer (payload + annotations) cosign writes.
pub fn sign_layer(
    key: &SigningKey,
    reference: &str,
    digest: &Digest,
) -> Result<SignatureLayer, KeyError> {
    let payload = SimpleSigning::new(reference, digest, None).to_bytes();
    let sig = key.sign(&payload)?;
    let mut annotations = BTreeMap::new();
    annotations.insert(SIGNATURE_ANNOTATION.to_string(), B64.encode(sig));
    Ok(SignatureLayer {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_string(),
        blob: payload,
        annotations,
    })
}

/// Verifies the layers of a `.sig` manifest for the image `digest`.
pub fn verify_layers(
    digest: &str,
    layers: &[SignatureLayer],
    policy: &LegacyPolicy,
) -> Result<LegacyVerified, LegacyError> {
    if layers.is_empty() {
        return Err(LegacyError::NoSignatures(digest.to_string()));
    }
    let mut verified = Vec::new();
    let mut problems = Vec::new();
    let mut signer = String::new();
    for (i, layer) in layers.iter().enumerate() {
        match verify_layer(digest, layer, policy) {
            Ok(s) => {
                verified.push(i);
                signer = s;
            }
            Err(e) => problems.push(format!("layer {}: {}", i + 1, error_chain(&e))),
        }
    }
    if verified.is_empty() {
        return Err(LegacyError::NoneVerified {
            digest: digest.to_string(),
            problems,
        });
    }
    Ok(LegacyVerified {
        verified_layers: verified,
        signer,
        problems,
    })
}

/// Base64 that some writers (containers/image) wrap at 76 columns.
fn decode_wrapped(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(compact).ok()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn verify_layer(
    digest: &str,
    layer: &SignatureLayer,
    policy: &LegacyPolicy,
) -> Result<String, LayerError> {
    if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
        return Err(LayerError::MediaType(layer.media_type.clone()));
    }
    let sig_b64 = layer
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .ok_or(LayerError::NoSignature)?;
    let sig = decode_wrapped(sig_b64).ok_or(LayerError::BadBase64)?;
    let signer = match policy {
        LegacyPolicy::Keys(keys) | LegacyPolicy::KeysWithReference(keys, _) => keys
            .iter()
            .find(|k| k.verify(&layer.blob, &sig).is_ok())
            .map(|k| format!("key {}", k.hint()))
            .ok_or_else(|| {
                LayerError::Key(keys.iter().map(|k| k.hint()).collect::<Vec<_>>().join(", "))
            })?,
        LegacyPolicy::Keyless {
            root,
            identities,
            require_sct,
            require_tlog,
            extra_intermediates,
        } => {
            let pem = layer
                .annotations
                .get(CERTIFICATE_ANNOTATION)
                .ok_or(LayerError::NoCertificate)?;
            let leaf = Certificate::from_pem_chain(pem)?
                .into_iter()
                .next()
                .ok_or(LayerError::NoCertificate)?;
            leaf.public_key()?
                .verify(&layer.blob, &sig)
                .map_err(LayerError::CertSignature)?;
            let time = match layer.annotations.get(BUNDLE_ANNOTATION) {
                Some(set) => Some(verify_rekor_bundle_annotation(
                    set,
                    &layer.blob,
                    sig_b64,
                    pem,
                    root,
                )?),
                None if *require_tlog => return Err(LayerError::NoTrustedTime),
                None => None,
            };
            let t = time.unwrap_or_else(|| chrono::Utc::now().timestamp());
            let mut intermediates: Vec<Certificate> = layer
                .annotations
                .get(CHAIN_ANNOTATION)
                .map(|c| Certificate::from_pem_chain(c))
                .transpose()?
                .unwrap_or_default()
                .into_iter()
                .filter(|c| !c.is_self_signed())
                .collect();
            intermediates.extend(extra_intermediates.iter().cloned());
            check_keyless_leaf(&leaf, root, &intermediates, t, *require_sct)?;
            let sans = leaf.sans()?;
            let issuer = leaf.oidc_issuer();
            if !identities
                .iter()
                .any(|id| id.matches(&sans, issuer.as_deref()))
            {
                return Err(LayerError::Identity(sans));
            }
            sans.into_iter().next().unwrap_or_default()
        }
    };
    let payload: SimpleSigning =
        serde_json::from_slice(&layer.blob).map_err(|e| LayerError::Payload(e.to_string()))?;
    if payload.critical.kind != SIGNATURE_TYPE {
        return Err(LayerError::Payload(format!(
            "type {:?}",
            payload.critical.kind
        )));
    }
    if payload.critical.image.docker_manifest_digest != digest {
        return Err(LayerError::WrongDigest {
            expected: digest.to_string(),
            found: payload.critical.image.docker_manifest_digest,
        });
    }
    if let LegacyPolicy::KeysWithReference(_, reference) = policy
        && &payload.critical.identity.docker_reference != reference
    {
        return Err(LayerError::WrongReference {
            expected: reference.clone(),
            found: payload.critical.identity.docker_reference,
        });
    }
    Ok(signer)
}

fn check_keyless_leaf(
    leaf: &Certificate,
    root: &TrustedRoot,
    intermediates: &[Certificate],
    t: i64,
    require_sct: bool,
) -> Result<(), LayerError> {
    // Fulcio leaves must carry code signing; private PKI leaves may omit EKU entirely.
    if leaf.extension(crate::asn1::oid::EXT_KEY_USAGE).is_some() && !leaf.has_code_signing()? {
        return Err(LayerError::Cert(CertError::NoCodeSigning));
    }
    leaf.check_valid_at(t)?;
    for ca in root
        .certificate_authorities
        .iter()
        .filter(|ca| ca.valid_for.contains(t))
    {
        // Intermediates from the trusted root first (as cosign with a trusted root), then the
        // annotation's / supplied intermediates in front of the CA chain.
        let mut extended: Vec<Certificate> = intermediates
            .iter()
            .filter(|i| !ca.chain.iter().any(|c| c.der == i.der))
            .cloned()
            .collect();
        extended.extend(ca.chain.iter().cloned());
        for chain in [&ca.chain, &extended] {
            if verify_path(leaf, chain, t).is_ok() {
                if require_sct {
                    let single = TrustedRoot {
                        certificate_authorities: vec![crate::sigstore::trust::Authority {
                            chain: chain.clone(),
                            valid_for: ca.valid_for,
                        }],
                        ctlogs: root.ctlogs.clone(),
                        ..TrustedRoot::default()
                    };
                    verify_leaf(leaf, &single, t, true)?;
                }
                return Ok(());
            }
        }
    }
    Err(LayerError::Untrusted(fmt_time(t)))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RekorBundle {
    signed_entry_timestamp: String,
    payload: RekorPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RekorPayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Verifies a `dev.sigstore.cosign/bundle` annotation for a signature over `payload` made by
/// the certificate or key in `signer_pem`; returns the integrated time.
pub fn verify_rekor_bundle_annotation(
    annotation: &str,
    payload: &[u8],
    sig_b64: &str,
    signer_pem: &str,
    root: &TrustedRoot,
) -> Result<i64, RekorBundleError> {
    let b: RekorBundle =
        serde_json::from_str(annotation).map_err(|e| RekorBundleError::Json(e.to_string()))?;
    let log_id = hex::decode(&b.payload.log_id)
        .map_err(|_| RekorBundleError::UnknownLog(b.payload.log_id.clone()))?;
    let log = root
        .tlog(&log_id)
        .ok_or_else(|| RekorBundleError::UnknownLog(b.payload.log_id.clone()))?;
    let set = B64
        .decode(&b.signed_entry_timestamp)
        .map_err(|_| RekorBundleError::Base64("SignedEntryTimestamp"))?;
    tlog::verify_set(
        log,
        &b.payload.body,
        b.payload.integrated_time,
        b.payload.log_index,
        &set,
    )?;
    let body = B64
        .decode(&b.payload.body)
        .map_err(|_| RekorBundleError::Base64("Payload.body"))?;
    let entry = tlog::parse_body(&body)?;
    let sig = decode_wrapped(sig_b64).ok_or(RekorBundleError::Base64("signature"))?;
    let signer_der = crate::keys::parse_pem(signer_pem)
        .ok()
        .and_then(|b| b.into_iter().next())
        .map(|b| b.der)
        .unwrap_or_default();
    let digest = Digest::sha256_of(payload).bytes();
    entry.check(&Expected {
        signature: &sig,
        verifier: &signer_der,
        digest: Some(&digest),
        payload_hash: None,
    })?;
    Ok(b.payload.integrated_time)
}
