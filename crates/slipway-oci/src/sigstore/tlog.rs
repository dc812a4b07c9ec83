//! Transparency log material: Rekor signed entry timestamps (SETs), RFC 6962 inclusion proofs,
//! signed-note checkpoints, and the entry bodies (hashedrekord, dsse, intoto) whose contents
//! must match what the bundle or signature layer claims.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::Digest as _;
use thiserror::Error;

use super::trust::LogInstance;
use crate::keys::parse_pem;

/// Transparency-log verification errors.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TlogError {
    #[error("signed entry timestamp does not verify with the log key")]
    BadSet,
    #[error("log key is not valid at integrated time {0}")]
    KeyNotValid(String),
    #[error("inclusion proof does not reproduce the root hash")]
    BadInclusionProof,
    #[error("inclusion proof is malformed: {0}")]
    MalformedProof(String),
    #[error("checkpoint is malformed: {0}")]
    MalformedCheckpoint(String),
    #[error("no checkpoint signature verifies with the log key")]
    BadCheckpointSignature,
    #[error("checkpoint {field} does not match the inclusion proof")]
    CheckpointMismatch { field: &'static str },
    #[error("log entry body is malformed: {0}")]
    MalformedBody(String),
    #[error("log entry does not match the signed content: {0}")]
    Mismatch(String),
}

/// RFC 8785 canonical form of the SET payload, then ECDSA over it.
pub fn verify_set(
    log: &LogInstance,
    body_b64: &str,
    integrated_time: i64,
    log_index: i64,
    set: &[u8],
) -> Result<(), TlogError> {
    let key = log.key.as_ref().ok_or(TlogError::BadSet)?;
    if !log.valid_for.contains(integrated_time) {
        return Err(TlogError::KeyNotValid(super::cert::fmt_time(
            integrated_time,
        )));
    }
    let payload = format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        body_b64,
        integrated_time,
        hex::encode(&log.key_id),
        log_index
    );
    key.verify(payload.as_bytes(), set)
        .map_err(|_| TlogError::BadSet)
}

fn node(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 6962 leaf hash.
pub fn leaf_hash(body: &[u8]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(body);
    h.finalize().into()
}

/// RFC 9162 §2.1.3.2 inclusion proof verification.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    proof: &[Vec<u8>],
    root: &[u8],
) -> Result<(), TlogError> {
    if index >= size {
        return Err(TlogError::MalformedProof(format!(
            "index {index} not below tree size {size}"
        )));
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if p.len() != 32 {
            return Err(TlogError::MalformedProof("hash is not 32 bytes".into()));
        }
        if snode == 0 {
            return Err(TlogError::BadInclusionProof);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode == 0 && r.as_slice() == root {
        Ok(())
    } else {
        Err(TlogError::BadInclusionProof)
    }
}

/// A parsed signed-note checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root_hash: Vec<u8>,
}

/// Parses and verifies a checkpoint: some signature line must be by the log (key name = log
/// host, key hint = the log key's hint) and verify over the note text. Unknown signers
/// (witness cosignatures, other keys) are ignored.
pub fn verify_checkpoint(envelope: &str, log: &LogInstance) -> Result<Checkpoint, TlogError> {
    let bad = |m: &str| TlogError::MalformedCheckpoint(m.to_string());
    let split = envelope
        .find("\n\n")
        .ok_or_else(|| bad("no blank line before signatures"))?;
    let text = &envelope[..split + 1];
    let mut lines = text.lines();
    let origin = lines
        .next()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("missing origin"))?;
    let size: u64 = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or_else(|| bad("missing or invalid tree size"))?;
    let root_hash = lines
        .next()
        .and_then(|l| B64.decode(l).ok())
        .filter(|h| h.len() == 32)
        .ok_or_else(|| bad("missing or invalid root hash"))?;
    let key = log.key.as_ref().ok_or(TlogError::BadCheckpointSignature)?;
    let mut hints: Vec<Vec<u8>> = vec![
        sha2::Sha256::digest(key.spki_der())[..4].to_vec(),
        log.key_id.get(..4).unwrap_or_default().to_vec(),
    ];
    if key.algorithm() == "ed25519" {
        // C2SP signed-note Ed25519 key id: SHA-256(name || "\n" || 0x01 || public key).
        let raw = key
            .spki_der()
            .get(key.spki_der().len().saturating_sub(32)..)
            .unwrap_or_default();
        let mut h = sha2::Sha256::new();
        h.update(log.host().as_bytes());
        h.update(b"\n\x01");
        h.update(raw);
        hints.push(h.finalize()[..4].to_vec());
    }
    let mut any_sig = false;
    for line in envelope[split + 2..].lines().filter(|l| !l.is_empty()) {
        let rest = line
            .strip_prefix("\u{2014} ")
            .ok_or_else(|| bad("signature line without em dash"))?;
        let (name, sig_b64) = rest
            .rsplit_once(' ')
            .ok_or_else(|| bad("signature line without key"))?;
        any_sig = true;
        let Ok(blob) = B64.decode(sig_b64) else {
            continue;
        };
        // Ed25519 (Rekor v2, C2SP signed notes) binds the key name into the key id, so the
        // name must be the log's; Rekor v1 names its signature after the serving host.
        let name_ok = key.algorithm() != "ed25519" || name == log.host();
        if blob.len() < 5 || !name_ok || !hints.iter().any(|h| h.as_slice() == &blob[..4]) {
            continue;
        }
        if key.verify(text.as_bytes(), &blob[4..]).is_ok() {
            return Ok(Checkpoint {
                origin: origin.to_string(),
                size,
                root_hash,
            });
        }
    }
    if !any_sig {
        return Err(bad("no signature lines"));
    }
    Err(TlogError::BadCheckpointSignature)
}

/// What a log entry body records.
#[derive(Debug, Default)]
pub struct LoggedEntry {
    pub kind: String,
    pub version: String,
    /// Signatures in the entry (raw bytes).
    pub signatures: Vec<Vec<u8>>,
    /// Verification material: certificate or SPKI DER, one per signature.
    pub verifiers: Vec<Vec<u8>>,
    /// hashedrekord: the logged artifact digest (SHA-256 unless stated).
    pub digest: Option<Vec<u8>>,
    /// dsse / intoto: SHA-256 of the envelope payload.
    pub payload_hash: Option<Vec<u8>>,
}

fn get<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(v, |acc, k| acc.get(*k))
}

fn get_str<'a>(v: &'a serde_json::Value, path: &[&str]) -> Result<&'a str, TlogError> {
    get(v, path)
        .and_then(|x| x.as_str())
        .ok_or_else(|| TlogError::MalformedBody(format!("missing {}", path.join("."))))
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, TlogError> {
    B64.decode(s)
        .map_err(|_| TlogError::MalformedBody(format!("{what} is not base64")))
}

/// PEM (certificate or public key) inside a body → DER.
fn pem_der(b64_pem: &str, what: &str) -> Result<Vec<u8>, TlogError> {
    let text = String::from_utf8(b64(b64_pem, what)?)
        .map_err(|_| TlogError::MalformedBody(format!("{what} is not pem")))?;
    parse_pem(&text)
        .ok()
        .and_then(|blocks| blocks.into_iter().next())
        .map(|b| b.der)
        .ok_or_else(|| TlogError::MalformedBody(format!("{what} is not pem")))
}

fn hex_field(v: &serde_json::Value, path: &[&str]) -> Result<Vec<u8>, TlogError> {
    hex::decode(get_str(v, path)?)
        .map_err(|_| TlogError::MalformedBody(format!("{} is not hex", path.join("."))))
}

fn v2_verifier(v: &serde_json::Value) -> Result<Vec<u8>, TlogError> {
    if let Some(raw) = get(v, &["x509Certificate", "rawBytes"]).and_then(|x| x.as_str()) {
        return b64(raw, "verifier.x509Certificate");
    }
    b64(
        get_str(v, &["publicKey", "rawBytes"])?,
        "verifier.publicKey",
    )
}

/// Parses a canonicalized entry body.
pub fn parse_body(body: &[u8]) -> Result<LoggedEntry, TlogError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| TlogError::MalformedBody(e.to_string()))?;
    let kind = get_str(&v, &["kind"])?.to_string();
    let version = get_str(&v, &["apiVersion"])?.to_string();
    let mut e = LoggedEntry {
        kind: kind.clone(),
        version: version.clone(),
        ..Default::default()
    };
    match (kind.as_str(), version.as_str()) {
        ("hashedrekord", "0.0.1") => {
            let alg = get_str(&v, &["spec", "data", "hash", "algorithm"])?;
            if alg != "sha256" {
                return Err(TlogError::MalformedBody(format!("unsupported hash {alg}")));
            }
            e.digest = Some(hex_field(&v, &["spec", "data", "hash", "value"])?);
            e.signatures.push(b64(
                get_str(&v, &["spec", "signature", "content"])?,
                "signature.content",
            )?);
            e.verifiers.push(pem_der(
                get_str(&v, &["spec", "signature", "publicKey", "content"])?,
                "publicKey",
            )?);
        }
        ("hashedrekord", "0.0.2") => {
            let spec = get(&v, &["spec", "hashedRekordV002"])
                .ok_or_else(|| TlogError::MalformedBody("missing spec".into()))?;
            e.digest = Some(b64(get_str(spec, &["data", "digest"])?, "data.digest")?);
            e.signatures.push(b64(
                get_str(spec, &["signature", "content"])?,
                "signature.content",
            )?);
            let verifier = get(spec, &["signature", "verifier"])
                .ok_or_else(|| TlogError::MalformedBody("missing verifier".into()))?;
            e.verifiers.push(v2_verifier(verifier)?);
        }
        ("dsse", "0.0.1") => {
            e.payload_hash = Some(hex_field(&v, &["spec", "payloadHash", "value"])?);
            for s in get(&v, &["spec", "signatures"])
                .and_then(|s| s.as_array())
                .into_iter()
                .flatten()
            {
                e.signatures
                    .push(b64(get_str(s, &["signature"])?, "signatures.signature")?);
                e.verifiers
                    .push(pem_der(get_str(s, &["verifier"])?, "signatures.verifier")?);
            }
        }
        ("dsse", "0.0.2") => {
            let spec = get(&v, &["spec", "dsseV002"])
                .ok_or_else(|| TlogError::MalformedBody("missing spec".into()))?;
            e.payload_hash = Some(b64(
                get_str(spec, &["payloadHash", "digest"])?,
                "payloadHash.digest",
            )?);
            for s in get(spec, &["signatures"])
                .and_then(|s| s.as_array())
                .into_iter()
                .flatten()
            {
                e.signatures
                    .push(b64(get_str(s, &["content"])?, "signatures.content")?);
                let verifier = get(s, &["verifier"])
                    .ok_or_else(|| TlogError::MalformedBody("missing verifier".into()))?;
                e.verifiers.push(v2_verifier(verifier)?);
            }
        }
        ("intoto", "0.0.2") => {
            e.payload_hash = Some(hex_field(&v, &["spec", "content", "payloadHash", "value"])?);
            for s in get(&v, &["spec", "content", "envelope", "signatures"])
                .and_then(|s| s.as_array())
                .into_iter()
                .flatten()
            {
                // intoto 0.0.2 stores the base64 signature base64-encoded once more.
                let once = b64(get_str(s, &["sig"])?, "envelope.signatures.sig")?;
                let sig = std::str::from_utf8(&once)
                    .ok()
                    .and_then(|t| B64.decode(t).ok())
                    .unwrap_or(once);
                e.signatures.push(sig);
                e.verifiers.push(pem_der(
                    get_str(s, &["publicKey"])?,
                    "envelope.signatures.publicKey",
                )?);
            }
        }
        (k, ver) => {
            return Err(TlogError::MalformedBody(format!(
                "unsupported entry kind {k} {ver}"
            )));
        }
    }
    Ok(e)
}

/// What the entry must record, from the bundle's point of view.
pub struct Expected<'a> {
    pub signature: &'a [u8],
    /// Certificate DER (keyless) or SPKI DER (key).
    pub verifier: &'a [u8],
    /// SHA-256 of the artifact (message signatures) or of PAE (DSSE on hashedrekord 0.0.2).
    pub digest: Option<&'a [u8]>,
    /// SHA-256 of the DSSE payload (dsse / intoto entries).
    pub payload_hash: Option<&'a [u8]>,
}

impl LoggedEntry {
    /// Checks the entry against the signed content.
    pub fn check(&self, exp: &Expected<'_>) -> Result<(), TlogError> {
        let pos = self
            .signatures
            .iter()
            .position(|s| s == exp.signature)
            .ok_or_else(|| TlogError::Mismatch("signature differs".into()))?;
        if self.verifiers.get(pos).map(Vec::as_slice) != Some(exp.verifier) {
            return Err(TlogError::Mismatch(
                "certificate or public key differs".into(),
            ));
        }
        if self.kind == "hashedrekord" {
            match (&self.digest, exp.digest) {
                (Some(d), Some(e)) if d == e => {}
                _ => return Err(TlogError::Mismatch("artifact digest differs".into())),
            }
        } else {
            match (&self.payload_hash, exp.payload_hash) {
                (Some(d), Some(e)) if d == e => {}
                _ => return Err(TlogError::Mismatch("dsse payload hash differs".into())),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusion_in_two_leaf_tree() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let root = node(&a, &b);
        verify_inclusion(0, 2, a, &[b.to_vec()], &root).unwrap();
        verify_inclusion(1, 2, b, &[a.to_vec()], &root).unwrap();
        assert_eq!(
            verify_inclusion(1, 2, a, &[a.to_vec()], &root),
            Err(TlogError::BadInclusionProof)
        );
        assert!(verify_inclusion(2, 2, a, &[], &root).is_err());
    }
}
