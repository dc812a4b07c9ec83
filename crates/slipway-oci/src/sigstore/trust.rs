//! The Sigstore trusted root (`trusted_root.json`): transparency logs, CT logs, Fulcio-style
//! certificate authorities and timestamp authorities, each with an inclusive validity window.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use sha2::Digest as _;
use thiserror::Error;

use super::cert::Certificate;
use crate::keys::PublicKey;

/// Trusted root errors.
#[derive(Debug, Error)]
pub enum TrustError {
    #[error("trusted root is not valid json")]
    Json(#[from] serde_json::Error),
    #[error("unsupported trusted root media type {0:?}")]
    MediaType(String),
    #[error("trusted root {field}: {reason}")]
    Field { field: String, reason: String },
}

/// An inclusive time window (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub start: i64,
    pub end: Option<i64>,
}

impl Validity {
    pub const ALWAYS: Validity = Validity {
        start: i64::MIN,
        end: None,
    };

    pub fn contains(&self, t: i64) -> bool {
        self.start <= t && self.end.is_none_or(|e| t <= e)
    }
}

/// A transparency log or CT log.
#[derive(Debug, Clone)]
pub struct LogInstance {
    pub base_url: String,
    pub key_id: Vec<u8>,
    /// `None` when the key algorithm is unsupported; such logs never verify anything.
    pub key: Option<PublicKey>,
    pub valid_for: Validity,
}

impl LogInstance {
    /// Host part of the base URL (the checkpoint key name).
    pub fn host(&self) -> &str {
        let s = self.base_url.split("://").nth(1).unwrap_or(&self.base_url);
        s.split('/').next().unwrap_or(s)
    }
}

/// A certificate authority or timestamp authority: chain ordered leaf/intermediate first, root last.
#[derive(Debug, Clone)]
pub struct Authority {
    pub chain: Vec<Certificate>,
    pub valid_for: Validity,
}

/// Offline trust material.
#[derive(Debug, Clone, Default)]
pub struct TrustedRoot {
    pub tlogs: Vec<LogInstance>,
    pub ctlogs: Vec<LogInstance>,
    pub certificate_authorities: Vec<Authority>,
    pub timestamp_authorities: Vec<Authority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
    #[serde(default)]
    timestamp_authorities: Vec<RawCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: RawKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: Option<String>,
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct RawValidity {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    cert_chain: RawChain,
    valid_for: Option<RawValidity>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

fn field(field: String, reason: impl ToString) -> TrustError {
    TrustError::Field {
        field,
        reason: reason.to_string(),
    }
}

fn parse_time(s: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp())
        .map_err(|e| format!("{s:?}: {e}"))
}

fn validity(v: Option<RawValidity>, path: &str) -> Result<Validity, TrustError> {
    let v = v.ok_or_else(|| field(format!("{path}.validFor"), "missing"))?;
    // A missing start makes the entry unusable: trusting a key from the beginning of time
    // is exactly what a validity window exists to prevent.
    let start = v
        .start
        .ok_or_else(|| field(format!("{path}.validFor.start"), "missing"))?;
    let start = parse_time(&start).map_err(|e| field(format!("{path}.validFor.start"), e))?;
    let end = v
        .end
        .map(|e| parse_time(&e).map_err(|err| field(format!("{path}.validFor.end"), err)))
        .transpose()?;
    Ok(Validity { start, end })
}

fn logs(raw: Vec<RawLog>, name: &str) -> Result<Vec<LogInstance>, TrustError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, l)| {
            let path = format!("{name}[{i}]");
            let key_id = B64
                .decode(&l.log_id.key_id)
                .map_err(|e| field(format!("{path}.logId.keyId"), e))?;
            let raw = l
                .public_key
                .raw_bytes
                .ok_or_else(|| field(format!("{path}.publicKey.rawBytes"), "missing"))?;
            let der = B64
                .decode(&raw)
                .map_err(|e| field(format!("{path}.publicKey.rawBytes"), e))?;
            let valid_for = validity(l.public_key.valid_for, &format!("{path}.publicKey"))?;
            Ok(LogInstance {
                base_url: l.base_url,
                key_id,
                key: PublicKey::from_spki_der(&der).ok(),
                valid_for,
            })
        })
        .collect()
}

fn authorities(raw: Vec<RawCa>, name: &str) -> Result<Vec<Authority>, TrustError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let path = format!("{name}[{i}]");
            let chain = a
                .cert_chain
                .certificates
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let p = format!("{path}.certChain.certificates[{j}]");
                    let der = B64.decode(&c.raw_bytes).map_err(|e| field(p.clone(), e))?;
                    Certificate::from_der(&der).map_err(|e| field(p, e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if chain.is_empty() {
                return Err(field(format!("{path}.certChain"), "empty"));
            }
            Ok(Authority {
                chain,
                valid_for: validity(a.valid_for, &path)?,
            })
        })
        .collect()
}

impl TrustedRoot {
    /// Parses `trusted_root.json` (media types `...trustedroot+json;version=0.1` and `...trustedroot.v0.2+json`).
    pub fn from_json(data: &[u8]) -> Result<Self, TrustError> {
        let raw: RawRoot = serde_json::from_slice(data)?;
        if let Some(mt) = &raw.media_type
            && !mt.starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(TrustError::MediaType(mt.clone()));
        }
        Ok(Self {
            tlogs: logs(raw.tlogs, "tlogs")?,
            ctlogs: logs(raw.ctlogs, "ctlogs")?,
            certificate_authorities: authorities(
                raw.certificate_authorities,
                "certificateAuthorities",
            )?,
            timestamp_authorities: authorities(raw.timestamp_authorities, "timestampAuthorities")?,
        })
    }

    /// A trust root made of a Rekor key (log id = sha256 of its SPKI), valid forever.
    pub fn add_rekor_key(&mut self, key: PublicKey) {
        let key_id = sha2::Sha256::digest(key.spki_der()).to_vec();
        self.tlogs.push(LogInstance {
            base_url: "https://rekor.sigstore.dev".into(),
            key_id,
            key: Some(key),
            valid_for: Validity::ALWAYS,
        });
    }

    /// Adds a certificate authority from PEM certificates (issuer-first order, root last).
    pub fn add_ca_chain(&mut self, chain: Vec<Certificate>) {
        if !chain.is_empty() {
            self.certificate_authorities.push(Authority {
                chain,
                valid_for: Validity::ALWAYS,
            });
        }
    }

    pub fn tlog(&self, key_id: &[u8]) -> Option<&LogInstance> {
        self.tlogs.iter().find(|l| l.key_id == key_id)
    }
}
