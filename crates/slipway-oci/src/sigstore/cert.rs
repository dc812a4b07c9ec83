//! X.509 certificates as Sigstore uses them: parsing, chain building against trusted CAs at a
//! given time, Fulcio identity (SANs and issuer extensions), EKU, and embedded SCTs.

use sha2::Digest as _;
use thiserror::Error;

use crate::asn1::{self, Asn1Error, Reader, Tlv, oid, tag};
use crate::keys::{KeyError, PublicKey, SigAlg};

/// Certificate errors.
#[derive(Debug, Error)]
pub enum CertError {
    #[error("malformed certificate")]
    Der(#[from] Asn1Error),
    #[error("certificate key")]
    Key(#[from] KeyError),
    #[error("certificate {subject} is not valid at {time} (valid {not_before} to {not_after})")]
    Expired {
        subject: String,
        time: String,
        not_before: String,
        not_after: String,
    },
    #[error("certificate {0} does not chain to any trusted certificate authority{1}")]
    Untrusted(String, String),
    #[error("certificate has no code-signing extended key usage")]
    NoCodeSigning,
    #[error("certificate has no embedded signed certificate timestamp")]
    NoSct,
    #[error("no signed certificate timestamp verifies against a trusted ct log: {0}")]
    SctInvalid(String),
    #[error("certificate extension {0} is malformed")]
    BadExtension(&'static str),
}

/// One extension.
#[derive(Debug, Clone)]
pub struct Extension {
    pub oid: String,
    pub critical: bool,
    pub value: Vec<u8>,
}

/// A parsed certificate that keeps its exact bytes.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub der: Vec<u8>,
    pub tbs: Vec<u8>,
    pub sig_alg: String,
    pub signature: Vec<u8>,
    pub serial: Vec<u8>,
    pub issuer: Vec<u8>,
    pub subject: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub spki: Vec<u8>,
    pub extensions: Vec<Extension>,
}

pub(crate) fn fmt_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

impl Certificate {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let cert = asn1::parse_single(der, tag::SEQUENCE)?;
        let mut r = cert.reader();
        let tbs = r.expect(tag::SEQUENCE)?;
        let alg = r.expect(tag::SEQUENCE)?;
        let sig = r.expect(tag::BIT_STRING)?;
        r.finish()?;
        let sig_alg = asn1::oid_string(alg.reader().expect(tag::OID)?.value);
        let mut t = tbs.reader();
        t.optional(0xa0)?;
        let serial = t.expect(tag::INTEGER)?;
        t.expect(tag::SEQUENCE)?;
        let issuer = t.expect(tag::SEQUENCE)?;
        let validity = t.expect(tag::SEQUENCE)?;
        let subject = t.expect(tag::SEQUENCE)?;
        let spki = t.expect(tag::SEQUENCE)?;
        t.optional(0x81)?;
        t.optional(0x82)?;
        let mut extensions = Vec::new();
        if let Some(exts) = t.optional(0xa3)? {
            let seq = asn1::parse_single(exts.value, tag::SEQUENCE)?;
            let mut er = seq.reader();
            while !er.is_empty() {
                let ext = er.expect(tag::SEQUENCE)?;
                let mut x = ext.reader();
                let ext_oid = asn1::oid_string(x.expect(tag::OID)?.value);
                let critical = x
                    .optional(tag::BOOLEAN)?
                    .map(|b| b.value.first().copied().unwrap_or(0) != 0)
                    .unwrap_or(false);
                let value = x.expect(tag::OCTET_STRING)?.value.to_vec();
                extensions.push(Extension {
                    oid: ext_oid,
                    critical,
                    value,
                });
            }
        }
        let mut v = validity.reader();
        let not_before = asn1::time(&v.read()?)?;
        let not_after = asn1::time(&v.read()?)?;
        Ok(Self {
            der: der.to_vec(),
            tbs: tbs.raw.to_vec(),
            sig_alg,
            signature: sig.value.get(1..).unwrap_or_default().to_vec(),
            serial: serial.value.to_vec(),
            issuer: issuer.raw.to_vec(),
            subject: subject.raw.to_vec(),
            not_before,
            not_after,
            spki: spki.raw.to_vec(),
            extensions,
        })
    }

    /// Parses every `CERTIFICATE` PEM block.
    pub fn from_pem_chain(text: &str) -> Result<Vec<Self>, CertError> {
        crate::keys::parse_pem(text)?
            .into_iter()
            .filter(|b| b.label == "CERTIFICATE")
            .map(|b| Self::from_der(&b.der))
            .collect()
    }

    pub fn public_key(&self) -> Result<PublicKey, CertError> {
        Ok(PublicKey::from_spki_der(&self.spki)?)
    }

    pub fn extension(&self, ext_oid: &str) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.oid == ext_oid)
    }

    /// Whether `issuer` signed this certificate.
    pub fn verify_signed_by(&self, issuer: &Certificate) -> Result<(), CertError> {
        if self.issuer != issuer.subject {
            return Err(CertError::Key(KeyError::BadSignature));
        }
        let alg = SigAlg::from_oid(&self.sig_alg)?;
        issuer
            .public_key()?
            .verify_with(alg, &self.tbs, &self.signature)?;
        Ok(())
    }

    pub fn is_self_signed(&self) -> bool {
        self.issuer == self.subject && self.verify_signed_by(self).is_ok()
    }

    pub fn is_ca(&self) -> bool {
        let Some(ext) = self.extension(oid::BASIC_CONSTRAINTS) else {
            return false;
        };
        let Ok(seq) = asn1::parse_single(&ext.value, tag::SEQUENCE) else {
            return false;
        };
        seq.reader()
            .optional(tag::BOOLEAN)
            .ok()
            .flatten()
            .is_some_and(|b| b.value.first().copied().unwrap_or(0) != 0)
    }

    pub fn valid_at(&self, time: i64) -> bool {
        self.not_before <= time && time <= self.not_after
    }

    pub fn check_valid_at(&self, time: i64) -> Result<(), CertError> {
        if self.valid_at(time) {
            Ok(())
        } else {
            Err(CertError::Expired {
                subject: self.describe(),
                time: fmt_time(time),
                not_before: fmt_time(self.not_before),
                not_after: fmt_time(self.not_after),
            })
        }
    }

    /// A readable name: the first SAN, else the subject's common name, else the serial.
    pub fn describe(&self) -> String {
        if let Some(san) = self.sans().ok().and_then(|s| s.into_iter().next()) {
            return san;
        }
        common_name(&self.subject)
            .unwrap_or_else(|| format!("serial {}", hex::encode(&self.serial)))
    }

    /// The subject alternative names a Sigstore identity can be: email, DNS, URI, IP and the
    /// Fulcio OtherName (UTF8String).
    pub fn sans(&self) -> Result<Vec<String>, CertError> {
        let Some(ext) = self.extension(oid::SUBJECT_ALT_NAME) else {
            return Ok(Vec::new());
        };
        let seq = asn1::parse_single(&ext.value, tag::SEQUENCE)?;
        let mut r = seq.reader();
        let mut out = Vec::new();
        while !r.is_empty() {
            let name = r.read()?;
            match name.tag {
                0x81 | 0x82 | 0x86 => out.push(String::from_utf8_lossy(name.value).into_owned()),
                0x87 => out.push(match name.value.len() {
                    4 => std::net::Ipv4Addr::from(
                        <[u8; 4]>::try_from(name.value).unwrap_or_default(),
                    )
                    .to_string(),
                    16 => std::net::Ipv6Addr::from(
                        <[u8; 16]>::try_from(name.value).unwrap_or_default(),
                    )
                    .to_string(),
                    _ => hex::encode(name.value),
                }),
                0xa0 => {
                    let mut o = name.reader();
                    let type_oid = asn1::oid_string(o.expect(tag::OID)?.value);
                    let value = o.expect(0xa0)?;
                    if type_oid == oid::FULCIO_OTHERNAME_SAN {
                        let s = asn1::parse_single(value.value, tag::UTF8_STRING)?;
                        out.push(String::from_utf8_lossy(s.value).into_owned());
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The OIDC issuer: extension 1.3.6.1.4.1.57264.1.8 (DER UTF8String), else the deprecated
    /// 1.3.6.1.4.1.57264.1.1 (raw bytes).
    pub fn oidc_issuer(&self) -> Option<String> {
        if let Some(ext) = self.extension(oid::FULCIO_ISSUER_V2)
            && let Ok(s) = asn1::parse_single(&ext.value, tag::UTF8_STRING)
        {
            return Some(String::from_utf8_lossy(s.value).into_owned());
        }
        self.extension(oid::FULCIO_ISSUER_V1)
            .map(|e| String::from_utf8_lossy(&e.value).into_owned())
    }

    /// Whether the EKU extension lists code signing.
    pub fn has_code_signing(&self) -> Result<bool, CertError> {
        let Some(ext) = self.extension(oid::EXT_KEY_USAGE) else {
            return Ok(false);
        };
        let seq = asn1::parse_single(&ext.value, tag::SEQUENCE)?;
        let mut r = seq.reader();
        while !r.is_empty() {
            if asn1::oid_string(r.expect(tag::OID)?.value) == oid::CODE_SIGNING {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The TBS certificate with the SCT list extension removed: what the CT log signed.
    fn precert_tbs(&self) -> Result<Vec<u8>, CertError> {
        let tbs = asn1::parse_single(&self.tbs, tag::SEQUENCE)?;
        let mut r = tbs.reader();
        let mut body = Vec::new();
        while !r.is_empty() {
            let el = r.read()?;
            if el.tag != 0xa3 {
                body.extend_from_slice(el.raw);
                continue;
            }
            let seq = asn1::parse_single(el.value, tag::SEQUENCE)?;
            let mut er = seq.reader();
            let mut exts = Vec::new();
            while !er.is_empty() {
                let ext = er.expect(tag::SEQUENCE)?;
                let ext_oid = asn1::oid_string(ext.reader().expect(tag::OID)?.value);
                if ext_oid != oid::SCT_LIST {
                    exts.extend_from_slice(ext.raw);
                }
            }
            body.extend(asn1::encode(0xa3, &asn1::encode(tag::SEQUENCE, &exts)));
        }
        Ok(asn1::encode(tag::SEQUENCE, &body))
    }

    /// Verifies the embedded SCTs; at least one must verify with a CT log key that is trusted
    /// at the SCT's time. `issuer` is the certificate that issued this one.
    pub fn verify_scts(
        &self,
        issuer: &Certificate,
        ctlogs: &[super::trust::LogInstance],
    ) -> Result<(), CertError> {
        let ext = self.extension(oid::SCT_LIST).ok_or(CertError::NoSct)?;
        let list = asn1::parse_single(&ext.value, tag::OCTET_STRING)?.value;
        let bad = || CertError::BadExtension("signed certificate timestamp list");
        let total = u16::from_be_bytes(
            list.get(..2)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        ) as usize;
        let mut rest = list.get(2..2 + total).ok_or_else(bad)?;
        let issuer_key_hash = sha2::Sha256::digest(&issuer.spki);
        let tbs = self.precert_tbs()?;
        let mut problems = Vec::new();
        while !rest.is_empty() {
            let len = u16::from_be_bytes(
                rest.get(..2)
                    .ok_or_else(bad)?
                    .try_into()
                    .map_err(|_| bad())?,
            ) as usize;
            let sct = rest.get(2..2 + len).ok_or_else(bad)?;
            rest = &rest[2 + len..];
            match verify_one_sct(sct, &issuer_key_hash, &tbs, ctlogs) {
                Ok(()) => return Ok(()),
                Err(e) => problems.push(e),
            }
        }
        if problems.is_empty() {
            return Err(CertError::NoSct);
        }
        Err(CertError::SctInvalid(problems.join("; ")))
    }
}

fn verify_one_sct(
    sct: &[u8],
    issuer_key_hash: &[u8],
    tbs: &[u8],
    ctlogs: &[super::trust::LogInstance],
) -> Result<(), String> {
    let short = || "truncated sct".to_string();
    if sct.first() != Some(&0) {
        return Err("unsupported sct version".into());
    }
    let log_id = sct.get(1..33).ok_or_else(short)?;
    let ts_bytes: [u8; 8] = sct
        .get(33..41)
        .ok_or_else(short)?
        .try_into()
        .map_err(|_| short())?;
    let timestamp_ms = u64::from_be_bytes(ts_bytes);
    let ext_len = u16::from_be_bytes(
        sct.get(41..43)
            .ok_or_else(short)?
            .try_into()
            .map_err(|_| short())?,
    ) as usize;
    let exts = sct.get(43..43 + ext_len).ok_or_else(short)?;
    let p = 43 + ext_len;
    let sig_len = u16::from_be_bytes(
        sct.get(p + 2..p + 4)
            .ok_or_else(short)?
            .try_into()
            .map_err(|_| short())?,
    ) as usize;
    let sig = sct.get(p + 4..p + 4 + sig_len).ok_or_else(short)?;
    let time = (timestamp_ms / 1000) as i64;
    let log = ctlogs
        .iter()
        .find(|l| l.key_id == log_id)
        .ok_or_else(|| format!("sct from unknown ct log {}", hex::encode(log_id)))?;
    let key = log
        .key
        .as_ref()
        .ok_or_else(|| "ct log key unsupported".to_string())?;
    if !log.valid_for.contains(time) {
        return Err(format!("ct log key not valid at {}", fmt_time(time)));
    }
    let mut msg = vec![0u8, 0u8];
    msg.extend_from_slice(&ts_bytes);
    msg.extend_from_slice(&[0, 1]);
    msg.extend_from_slice(issuer_key_hash);
    let tbs_len = tbs.len() as u32;
    msg.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    msg.extend_from_slice(tbs);
    msg.extend_from_slice(&(ext_len as u16).to_be_bytes());
    msg.extend_from_slice(exts);
    key.verify(&msg, sig)
        .map_err(|e| format!("sct signature: {e}"))
}

/// The CN of a DER Name, if any.
pub fn common_name(name_der: &[u8]) -> Option<String> {
    let name = asn1::parse_single(name_der, tag::SEQUENCE).ok()?;
    let mut r: Reader<'_> = name.reader();
    while !r.is_empty() {
        let rdn: Tlv<'_> = r.read().ok()?;
        let mut rr = rdn.reader();
        while !rr.is_empty() {
            let atv = rr.read().ok()?;
            let mut a = atv.reader();
            let o = asn1::oid_string(a.read().ok()?.value);
            let v = a.read().ok()?;
            if o == "2.5.4.3" {
                return Some(String::from_utf8_lossy(v.value).into_owned());
            }
        }
    }
    None
}

/// Builds a path from `leaf` through `intermediates`/`chain` to the end of `chain` (the trust
/// anchor), checking every signature and validity at `time`.
/// `chain` is ordered issuer-first: chain[0] issued the leaf (or an intermediate), last is the root.
pub fn verify_path(leaf: &Certificate, chain: &[Certificate], time: i64) -> Result<(), CertError> {
    leaf.check_valid_at(time)?;
    // Find where the leaf attaches to the chain (normally index 0).
    let start = chain
        .iter()
        .position(|c| leaf.verify_signed_by(c).is_ok())
        .ok_or_else(|| CertError::Untrusted(leaf.describe(), String::new()))?;
    for (i, cert) in chain.iter().enumerate().skip(start) {
        cert.check_valid_at(time)?;
        if let Some(parent) = chain.get(i + 1) {
            cert.verify_signed_by(parent)
                .map_err(|_| CertError::Untrusted(cert.describe(), ": broken chain".into()))?;
        }
    }
    Ok(())
}
