//! Sigstore bundles (v0.1, v0.2, v0.3 JSON): parsing and offline verification against a
//! trusted root, following sigstore-go's `Verify` with cosign's defaults (one verified tlog
//! entry, one SCT, one trusted time for certificates). Nothing passes by default: every check
//! that cannot be made is a failure with its reason.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use sha2::Digest as _;
use thiserror::Error;

use super::cert::{CertError, Certificate, fmt_time, verify_path};
use super::identity::Identity;
use super::tlog::{self, Expected, TlogError};
use super::trust::{TrustedRoot, Validity};
use super::tsa::{self, TsaError};
use crate::keys::{HashAlg, KeyError, PublicKey};

/// DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Bundle verification errors.
#[derive(Debug, Error)]
pub enum BundleError {
    #[error("bundle is not valid json: {0}")]
    Json(String),
    #[error("unsupported bundle media type {0:?}")]
    MediaType(String),
    #[error("bundle {field} is malformed: {reason}")]
    Malformed { field: String, reason: String },
    #[error("bundle certificate chain is empty")]
    EmptyChain,
    #[error("bundle is signed with a certificate but a public key was required")]
    CertificateNotKey,
    #[error("bundle is signed with a key but no public key was given")]
    KeyNotGiven,
    #[error("bundle signing certificate")]
    Cert(#[source] CertError),
    #[error("signature does not verify over the artifact: {0}")]
    Signature(KeyError),
    #[error("message digest in the bundle does not match the artifact")]
    MessageDigestMismatch,
    #[error("dsse envelope has {0} signatures, exactly one is supported")]
    DsseSignatureCount(usize),
    #[error("dsse payload type {0:?} is not in-toto")]
    PayloadType(String),
    #[error("in-toto statement has no subject with the artifact digest {0}")]
    SubjectMismatch(String),
    #[error("transparency log entry {index}")]
    Tlog {
        index: usize,
        #[source]
        source: TlogError,
    },
    #[error(
        "transparency log entry {index} is from a log not in the trusted root (log id {log_id})"
    )]
    UnknownLog { index: usize, log_id: String },
    #[error("transparency log entry {index} has integrated time {time} in the future")]
    FutureTime { index: usize, time: String },
    #[error("transparency log entry {index} has no {what}")]
    MissingProof { index: usize, what: &'static str },
    #[error("transparency log entries {0} and {1} are duplicates")]
    DuplicateEntry(usize, usize),
    #[error("needs {needed} verified transparency log entries, found {found}")]
    TlogThreshold { needed: usize, found: usize },
    #[error("signed timestamp {index}")]
    Timestamp {
        index: usize,
        #[source]
        source: TsaError,
    },
    #[error(
        "no trusted time: a certificate signature needs a signed entry timestamp or an rfc 3161 timestamp"
    )]
    NoTrustedTime,
    #[error("signing certificate is not valid at verified time {0}: {1}")]
    CertTime(String, String),
    #[error("signing certificate does not chain to a trusted certificate authority at {0}")]
    Untrusted(String),
    #[error("certificate identity {sans:?} (issuer {issuer:?}) matches no expected identity")]
    Identity {
        sans: Vec<String>,
        issuer: Option<String>,
    },
    #[error("signature time {0} is outside of the public key validity window")]
    KeyValidity(String),
}

/// The artifact a bundle claims to sign.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    Bytes(&'a [u8]),
    /// Only the SHA-256 digest is known.
    Sha256([u8; 32]),
    /// Only the SHA-512 digest is known (in-toto subjects such as npm packages).
    Sha512([u8; 64]),
}

impl Artifact<'_> {
    /// The SHA-256 digest, when known.
    pub fn sha256(&self) -> Option<[u8; 32]> {
        match self {
            Artifact::Bytes(b) => Some(sha2::Sha256::digest(b).into()),
            Artifact::Sha256(d) => Some(*d),
            Artifact::Sha512(_) => None,
        }
    }

    /// (in-toto digest name, lowercase hex) pairs that identify the artifact.
    fn subject_digests(&self) -> Vec<(&'static str, String)> {
        match self {
            Artifact::Bytes(b) => vec![
                ("sha256", hex::encode(sha2::Sha256::digest(b))),
                ("sha512", hex::encode(sha2::Sha512::digest(b))),
            ],
            Artifact::Sha256(d) => vec![("sha256", hex::encode(d))],
            Artifact::Sha512(d) => vec![("sha512", hex::encode(d))],
        }
    }

    fn describe(&self) -> String {
        self.subject_digests()
            .first()
            .map(|(a, h)| format!("{a}:{h}"))
            .unwrap_or_default()
    }
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum Policy {
    /// A managed key, optionally only for signatures made inside a validity window.
    Key {
        key: PublicKey,
        validity: Option<Validity>,
    },
    /// Fulcio certificates whose identity matches any of these.
    Keyless(Vec<Identity>),
}

/// Verification options (cosign's defaults via [`Options::default`]).
#[derive(Debug, Clone)]
pub struct Options {
    pub tlog_threshold: usize,
    pub require_sct: bool,
    /// "Now" for future-time checks (Unix seconds).
    pub now: i64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tlog_threshold: 1,
            require_sct: true,
            now: chrono::Utc::now().timestamp(),
        }
    }
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Certificate SAN or key hint.
    pub signer: String,
    pub issuer: Option<String>,
    /// Verified signature times (Unix seconds).
    pub times: Vec<i64>,
    /// The in-toto statement of a DSSE bundle.
    pub statement: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    verification_material: RawMaterial,
    message_signature: Option<RawMessageSignature>,
    dsse_envelope: Option<RawEnvelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    public_key: Option<RawHint>,
    certificate: Option<RawBytes>,
    x509_certificate_chain: Option<RawChain>,
    #[serde(default)]
    tlog_entries: Vec<RawTlogEntry>,
    timestamp_verification_data: Option<RawTsData>,
}

#[derive(Deserialize)]
struct RawHint {
    #[allow(dead_code)]
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTsData {
    #[serde(default)]
    rfc3161_timestamps: Vec<RawTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestamp {
    signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlogEntry {
    log_index: serde_json::Value,
    log_id: RawLogId,
    kind_version: RawKindVersion,
    integrated_time: Option<serde_json::Value>,
    inclusion_promise: Option<RawPromise>,
    inclusion_proof: Option<RawProof>,
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct RawKindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    log_index: serde_json::Value,
    root_hash: String,
    tree_size: serde_json::Value,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessageSignature {
    message_digest: Option<RawDigest>,
    signature: String,
}

#[derive(Deserialize)]
struct RawDigest {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    #[serde(default)]
    signatures: Vec<RawDsseSig>,
}

#[derive(Deserialize)]
struct RawDsseSig {
    sig: String,
}

fn malformed(field: impl Into<String>, reason: impl ToString) -> BundleError {
    BundleError::Malformed {
        field: field.into(),
        reason: reason.to_string(),
    }
}

/// Standard base64; like Go's decoder (which wrote most bundles), line breaks are ignored.
fn b64(field: &str, v: &str) -> Result<Vec<u8>, BundleError> {
    if v.contains(['\n', '\r']) {
        let compact: String = v.chars().filter(|c| *c != '\n' && *c != '\r').collect();
        return B64.decode(compact).map_err(|e| malformed(field, e));
    }
    B64.decode(v).map_err(|e| malformed(field, e))
}

/// protobuf-JSON int64: a string or a number.
fn int64(field: &str, v: &serde_json::Value) -> Result<i64, BundleError> {
    match v {
        serde_json::Value::String(s) => s.parse().map_err(|e| malformed(field, e)),
        serde_json::Value::Number(n) => {
            n.as_i64().ok_or_else(|| malformed(field, "not an integer"))
        }
        _ => Err(malformed(field, "not an integer")),
    }
}

/// Bundle format version (minor) from its media type.
pub fn bundle_version(media_type: &str) -> Result<u32, BundleError> {
    match media_type {
        "application/vnd.dev.sigstore.bundle+json;version=0.1" => Ok(1),
        "application/vnd.dev.sigstore.bundle+json;version=0.2" => Ok(2),
        "application/vnd.dev.sigstore.bundle+json;version=0.3"
        | "application/vnd.dev.sigstore.bundle.v0.3+json" => Ok(3),
        other => Err(BundleError::MediaType(other.to_string())),
    }
}

/// DSSE pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

enum Signer {
    Cert(Box<Certificate>),
    Key(PublicKey),
}

/// Verifies a bundle (JSON bytes) for `artifact`.
pub fn verify_bundle(
    json: &[u8],
    artifact: Artifact<'_>,
    root: &TrustedRoot,
    policy: &Policy,
    opts: &Options,
) -> Result<Verified, BundleError> {
    let bundle: RawBundle =
        serde_json::from_slice(json).map_err(|e| BundleError::Json(e.to_string()))?;
    let version = bundle_version(&bundle.media_type)?;
    let vm = &bundle.verification_material;

    // Who signed.
    let cert_der = match (&vm.certificate, &vm.x509_certificate_chain) {
        (Some(c), _) => Some(b64(
            "verificationMaterial.certificate.rawBytes",
            &c.raw_bytes,
        )?),
        (None, Some(chain)) => {
            let first = chain.certificates.first().ok_or(BundleError::EmptyChain)?;
            // Only the leaf is used: intermediates and roots come from the trusted root, never
            // from the bundle (as sigstore-go does).
            Some(b64(
                "verificationMaterial.x509CertificateChain.certificates[0]",
                &first.raw_bytes,
            )?)
        }
        (None, None) => None,
    };
    let signer = match (cert_der, policy) {
        (Some(der), Policy::Keyless(_)) => Signer::Cert(Box::new(
            Certificate::from_der(&der).map_err(BundleError::Cert)?,
        )),
        (Some(_), Policy::Key { .. }) => return Err(BundleError::CertificateNotKey),
        (None, Policy::Key { key, .. }) if vm.public_key.is_some() => Signer::Key(key.clone()),
        (None, Policy::Keyless(_)) if vm.public_key.is_some() => {
            return Err(BundleError::KeyNotGiven);
        }
        (None, _) => {
            return Err(malformed(
                "verificationMaterial",
                "no certificate or public key",
            ));
        }
    };
    let (key, verifier_der) = match &signer {
        Signer::Cert(c) => (c.public_key().map_err(BundleError::Cert)?, c.der.clone()),
        Signer::Key(k) => (k.clone(), k.spki_der().to_vec()),
    };

    // The signed content.
    let (signature, expected_digest, payload_hash, statement) =
        match (&bundle.message_signature, &bundle.dsse_envelope) {
            (Some(ms), None) => {
                let sig = b64("messageSignature.signature", &ms.signature)?;
                let digest = artifact.sha256().ok_or_else(|| {
                    malformed(
                        "messageSignature",
                        "needs the artifact or its sha256 digest",
                    )
                })?;
                if let Some(md) = &ms.message_digest {
                    let given = b64("messageSignature.messageDigest.digest", &md.digest)?;
                    if md.algorithm != "SHA2_256" || given != digest {
                        return Err(BundleError::MessageDigestMismatch);
                    }
                }
                match artifact {
                    Artifact::Bytes(bytes) => key.verify(bytes, &sig),
                    _ => key.verify_prehashed(HashAlg::Sha256, &digest, &sig),
                }
                .map_err(BundleError::Signature)?;
                (sig, digest.to_vec(), None, None)
            }
            (None, Some(env)) => {
                if env.signatures.len() != 1 {
                    return Err(BundleError::DsseSignatureCount(env.signatures.len()));
                }
                let sig = b64("dsseEnvelope.signatures[0].sig", &env.signatures[0].sig)?;
                let payload = b64("dsseEnvelope.payload", &env.payload)?;
                let pae_bytes = pae(&env.payload_type, &payload);
                key.verify(&pae_bytes, &sig)
                    .map_err(BundleError::Signature)?;
                if env.payload_type != IN_TOTO_PAYLOAD_TYPE {
                    return Err(BundleError::PayloadType(env.payload_type.clone()));
                }
                let statement: serde_json::Value = serde_json::from_slice(&payload)
                    .map_err(|e| malformed("dsseEnvelope.payload", e))?;
                let wanted = artifact.subject_digests();
                let matches = statement
                    .get("subject")
                    .and_then(|s| s.as_array())
                    .is_some_and(|subjects| {
                        subjects.iter().any(|s| {
                            wanted.iter().any(|(alg, hex)| {
                                s.get("digest")
                                    .and_then(|d| d.get(*alg))
                                    .and_then(|d| d.as_str())
                                    == Some(hex.as_str())
                            })
                        })
                    });
                if !matches {
                    return Err(BundleError::SubjectMismatch(artifact.describe()));
                }
                let payload_hash = sha2::Sha256::digest(&payload).to_vec();
                (
                    sig,
                    sha2::Sha256::digest(&pae_bytes).to_vec(),
                    Some(payload_hash),
                    Some(statement),
                )
            }
            _ => {
                return Err(malformed(
                    "content",
                    "exactly one of messageSignature and dsseEnvelope is required",
                ));
            }
        };

    // Transparency log entries.
    let mut times = Vec::new();
    let mut verified_entries = 0usize;
    let mut seen: Vec<(Vec<u8>, i64)> = Vec::new();
    for (index, entry) in vm.tlog_entries.iter().enumerate() {
        let tl = |source| BundleError::Tlog { index, source };
        let log_index = int64("tlogEntries.logIndex", &entry.log_index)?;
        if log_index < 0 {
            return Err(malformed(
                format!("tlogEntries[{index}].logIndex"),
                "negative",
            ));
        }
        let key_id = b64("tlogEntries.logId.keyId", &entry.log_id.key_id)?;
        if let Some(prev) = seen
            .iter()
            .position(|(k, i)| *k == key_id && *i == log_index)
        {
            return Err(BundleError::DuplicateEntry(prev, index));
        }
        seen.push((key_id.clone(), log_index));
        let log = root.tlog(&key_id).ok_or_else(|| BundleError::UnknownLog {
            index,
            log_id: hex::encode(&key_id),
        })?;
        let body = b64("tlogEntries.canonicalizedBody", &entry.canonicalized_body)?;
        let logged = tlog::parse_body(&body).map_err(tl)?;
        if logged.kind != entry.kind_version.kind || logged.version != entry.kind_version.version {
            return Err(tl(TlogError::Mismatch(format!(
                "kindVersion {} {} but body is {} {}",
                entry.kind_version.kind, entry.kind_version.version, logged.kind, logged.version
            ))));
        }
        logged
            .check(&Expected {
                signature: &signature,
                verifier: &verifier_der,
                digest: Some(&expected_digest),
                payload_hash: payload_hash.as_deref(),
            })
            .map_err(tl)?;
        let integrated_time = entry
            .integrated_time
            .as_ref()
            .map(|t| int64("tlogEntries.integratedTime", t))
            .transpose()?
            .unwrap_or(0);
        if integrated_time > opts.now + 60 {
            return Err(BundleError::FutureTime {
                index,
                time: fmt_time(integrated_time),
            });
        }
        match &entry.inclusion_promise {
            Some(p) => {
                let set = b64(
                    "tlogEntries.inclusionPromise.signedEntryTimestamp",
                    &p.signed_entry_timestamp,
                )?;
                tlog::verify_set(
                    log,
                    &entry.canonicalized_body,
                    integrated_time,
                    log_index,
                    &set,
                )
                .map_err(tl)?;
                times.push(integrated_time);
            }
            None if version == 1 => {
                return Err(BundleError::MissingProof {
                    index,
                    what: "inclusion promise",
                });
            }
            None => {}
        }
        match &entry.inclusion_proof {
            Some(p) => {
                let idx = int64("inclusionProof.logIndex", &p.log_index)?;
                let size = int64("inclusionProof.treeSize", &p.tree_size)?;
                if idx < 0 || size < 0 {
                    return Err(malformed(
                        format!("tlogEntries[{index}].inclusionProof"),
                        "negative index or size",
                    ));
                }
                let root_hash = b64("inclusionProof.rootHash", &p.root_hash)?;
                let hashes = p
                    .hashes
                    .iter()
                    .map(|h| b64("inclusionProof.hashes", h))
                    .collect::<Result<Vec<_>, _>>()?;
                tlog::verify_inclusion(
                    idx as u64,
                    size as u64,
                    tlog::leaf_hash(&body),
                    &hashes,
                    &root_hash,
                )
                .map_err(tl)?;
                let cp = p.checkpoint.as_ref().ok_or(BundleError::MissingProof {
                    index,
                    what: "checkpoint",
                })?;
                let checkpoint = tlog::verify_checkpoint(&cp.envelope, log).map_err(tl)?;
                if checkpoint.size != size as u64 {
                    return Err(tl(TlogError::CheckpointMismatch { field: "tree size" }));
                }
                if checkpoint.root_hash != root_hash {
                    return Err(tl(TlogError::CheckpointMismatch { field: "root hash" }));
                }
            }
            None if version >= 2 => {
                return Err(BundleError::MissingProof {
                    index,
                    what: "inclusion proof",
                });
            }
            None => {}
        }
        verified_entries += 1;
    }
    if verified_entries < opts.tlog_threshold {
        return Err(BundleError::TlogThreshold {
            needed: opts.tlog_threshold,
            found: verified_entries,
        });
    }

    // RFC 3161 timestamps over the signature.
    if let Some(tsd) = &vm.timestamp_verification_data {
        for (index, ts) in tsd.rfc3161_timestamps.iter().enumerate() {
            let der = b64("rfc3161Timestamps.signedTimestamp", &ts.signed_timestamp)?;
            let t = tsa::verify_timestamp(&der, &signature, &root.timestamp_authorities)
                .map_err(|source| BundleError::Timestamp { index, source })?;
            times.push(t);
        }
    }

    match (&signer, policy) {
        (Signer::Cert(leaf), Policy::Keyless(identities)) => {
            if times.is_empty() {
                return Err(BundleError::NoTrustedTime);
            }
            for &t in &times {
                verify_leaf(leaf, root, t, opts.require_sct)?;
            }
            let sans = leaf.sans().map_err(BundleError::Cert)?;
            let issuer = leaf.oidc_issuer();
            if !identities
                .iter()
                .any(|id| id.matches(&sans, issuer.as_deref()))
            {
                return Err(BundleError::Identity { sans, issuer });
            }
            Ok(Verified {
                signer: sans.into_iter().next().unwrap_or_default(),
                issuer,
                times,
                statement,
            })
        }
        (Signer::Key(k), Policy::Key { validity, .. }) => {
            if let Some(v) = validity
                && let Some(t) = times.iter().find(|t| !v.contains(**t))
            {
                return Err(BundleError::KeyValidity(fmt_time(*t)));
            }
            Ok(Verified {
                signer: k.hint(),
                issuer: None,
                times,
                statement,
            })
        }
        _ => Err(malformed(
            "verificationMaterial",
            "signer does not match the policy",
        )),
    }
}

/// Verifies a Fulcio-style leaf at time `t`: chain to a CA valid at `t`, validity of every
/// certificate at `t`, code-signing EKU, and (optionally) an SCT from a trusted CT log.
pub fn verify_leaf(
    leaf: &Certificate,
    root: &TrustedRoot,
    t: i64,
    require_sct: bool,
) -> Result<(), BundleError> {
    leaf.check_valid_at(t)
        .map_err(|e| BundleError::CertTime(fmt_time(t), e.to_string()))?;
    if !leaf.has_code_signing().map_err(BundleError::Cert)? {
        return Err(BundleError::Cert(CertError::NoCodeSigning));
    }
    let mut last_err = None;
    for ca in root
        .certificate_authorities
        .iter()
        .filter(|ca| ca.valid_for.contains(t))
    {
        match verify_path(leaf, &ca.chain, t) {
            Ok(()) => {
                if require_sct {
                    let issuer = ca
                        .chain
                        .iter()
                        .find(|c| leaf.verify_signed_by(c).is_ok())
                        .ok_or_else(|| BundleError::Untrusted(fmt_time(t)))?;
                    leaf.verify_scts(issuer, &root.ctlogs)
                        .map_err(BundleError::Cert)?;
                }
                return Ok(());
            }
            Err(e) => last_err = Some(e),
        }
    }
    match last_err {
        Some(CertError::Expired { .. }) | None => Err(BundleError::Untrusted(fmt_time(t))),
        Some(e) => Err(BundleError::Cert(e)),
    }
}
