//! RFC 3161 signed timestamps (CMS SignedData over a TSTInfo): the message imprint must cover
//! the signature bytes, the CMS signature must verify with a TSA certificate that chains to a
//! trusted timestamp authority, and the time must fall inside every validity window.

use thiserror::Error;

use super::cert::{Certificate, fmt_time, verify_path};
use super::trust::Authority;
use crate::asn1::{self, Asn1Error, oid, tag};
use crate::keys::{HashAlg, SigAlg};

/// Timestamp errors.
#[derive(Debug, Error)]
pub enum TsaError {
    #[error("malformed timestamp")]
    Der(#[from] Asn1Error),
    #[error("timestamp is malformed: {0}")]
    Malformed(String),
    #[error("timestamp response status {0} is not granted")]
    Status(u8),
    #[error("timestamp message imprint does not match the signature")]
    ImprintMismatch,
    #[error("timestamp content digest does not match its signed attributes")]
    ContentDigestMismatch,
    #[error("timestamp at {0} is not signed by a trusted timestamp authority valid at that time")]
    Untrusted(String),
}

struct Parsed<'a> {
    tst_info: &'a [u8],
    certs: Vec<Certificate>,
    digest_alg: HashAlg,
    signed_attrs: Option<asn1::Tlv<'a>>,
    sig_alg_oid: String,
    signature: &'a [u8],
    imprint_alg: HashAlg,
    imprint: &'a [u8],
    gen_time: i64,
}

fn hash_of(tlv: asn1::Tlv<'_>) -> Result<HashAlg, TsaError> {
    let o = asn1::oid_string(tlv.reader().expect(tag::OID)?.value);
    HashAlg::from_oid(&o).ok_or_else(|| TsaError::Malformed(format!("unsupported digest {o}")))
}

fn parse(der: &[u8]) -> Result<Parsed<'_>, TsaError> {
    let outer = asn1::parse_single(der, tag::SEQUENCE)?;
    let mut r = outer.reader();
    // TimeStampResp { status PKIStatusInfo, timeStampToken } or a bare ContentInfo token.
    let content_info = if r.peek_tag() == Some(tag::SEQUENCE) {
        let status = r.expect(tag::SEQUENCE)?;
        let code = status
            .reader()
            .expect(tag::INTEGER)?
            .value
            .last()
            .copied()
            .unwrap_or(255);
        if code > 1 {
            return Err(TsaError::Status(code));
        }
        r.expect(tag::SEQUENCE)?
    } else {
        outer
    };
    let mut ci = content_info.reader();
    if asn1::oid_string(ci.expect(tag::OID)?.value) != oid::SIGNED_DATA {
        return Err(TsaError::Malformed("token is not cms signed data".into()));
    }
    let sd = asn1::parse_single(ci.expect(0xa0)?.value, tag::SEQUENCE)?;
    let mut s = sd.reader();
    s.expect(tag::INTEGER)?;
    s.expect(tag::SET)?;
    let encap = s.expect(tag::SEQUENCE)?;
    let mut e = encap.reader();
    if asn1::oid_string(e.expect(tag::OID)?.value) != oid::TST_INFO {
        return Err(TsaError::Malformed("content is not tstinfo".into()));
    }
    let tst_info = asn1::parse_single(e.expect(0xa0)?.value, tag::OCTET_STRING)?.value;
    let mut certs = Vec::new();
    if let Some(c) = s.optional(0xa0)? {
        let mut cr = c.reader();
        while !cr.is_empty() {
            let cert = cr.read()?;
            if cert.tag == tag::SEQUENCE {
                certs.push(
                    Certificate::from_der(cert.raw)
                        .map_err(|e| TsaError::Malformed(e.to_string()))?,
                );
            }
        }
    }
    s.optional(0xa1)?;
    let infos = s.expect(tag::SET)?;
    let info = infos.reader().expect(tag::SEQUENCE)?;
    let mut i = info.reader();
    i.expect(tag::INTEGER)?;
    i.read()?; // sid
    let digest_alg = hash_of(i.expect(tag::SEQUENCE)?)?;
    let signed_attrs = i.optional(0xa0)?;
    let sig_alg = i.expect(tag::SEQUENCE)?;
    let sig_alg_oid = asn1::oid_string(sig_alg.reader().expect(tag::OID)?.value);
    let signature = i.expect(tag::OCTET_STRING)?.value;

    let tst = asn1::parse_single(tst_info, tag::SEQUENCE)?;
    let mut t = tst.reader();
    t.expect(tag::INTEGER)?;
    t.expect(tag::OID)?;
    let mi = t.expect(tag::SEQUENCE)?;
    let mut m = mi.reader();
    let imprint_alg = hash_of(m.expect(tag::SEQUENCE)?)?;
    let imprint = m.expect(tag::OCTET_STRING)?.value;
    t.expect(tag::INTEGER)?;
    let gen_time = asn1::time(&t.expect(tag::GENERALIZED_TIME)?)?;
    Ok(Parsed {
        tst_info,
        certs,
        digest_alg,
        signed_attrs,
        sig_alg_oid,
        signature,
        imprint_alg,
        imprint,
        gen_time,
    })
}

fn message_digest_attr(attrs: &asn1::Tlv<'_>) -> Result<Option<Vec<u8>>, TsaError> {
    let mut r = attrs.reader();
    while !r.is_empty() {
        let attr = r.expect(tag::SEQUENCE)?;
        let mut a = attr.reader();
        if asn1::oid_string(a.expect(tag::OID)?.value) == oid::MESSAGE_DIGEST {
            let set = a.expect(tag::SET)?;
            return Ok(Some(set.reader().expect(tag::OCTET_STRING)?.value.to_vec()));
        }
    }
    Ok(None)
}

/// Verifies a signed timestamp over `signed_bytes`; returns the verified time (Unix seconds).
pub fn verify_timestamp(
    der: &[u8],
    signed_bytes: &[u8],
    tsas: &[Authority],
) -> Result<i64, TsaError> {
    let p = parse(der)?;
    if p.imprint_alg.digest(signed_bytes) != p.imprint {
        return Err(TsaError::ImprintMismatch);
    }
    // What the TSA key signed: the signed attributes re-tagged as a SET, or the content itself.
    let signed = match &p.signed_attrs {
        Some(attrs) => {
            let md = message_digest_attr(attrs)?
                .ok_or_else(|| TsaError::Malformed("no message digest attribute".into()))?;
            if md != p.digest_alg.digest(p.tst_info) {
                return Err(TsaError::ContentDigestMismatch);
            }
            asn1::encode(tag::SET, attrs.value)
        }
        None => p.tst_info.to_vec(),
    };
    let sig_alg = match SigAlg::from_oid(&p.sig_alg_oid) {
        Ok(a) => a,
        // Signature algorithm given as the bare key algorithm: the digest algorithm decides.
        Err(_) if p.sig_alg_oid == oid::EC_PUBLIC_KEY => SigAlg::Ecdsa(p.digest_alg),
        Err(_) if p.sig_alg_oid == oid::RSA => SigAlg::RsaPkcs1(p.digest_alg),
        Err(e) => return Err(TsaError::Malformed(e.to_string())),
    };
    let time = p.gen_time;
    for authority in tsas.iter().filter(|a| a.valid_for.contains(time)) {
        // Candidate signers: the authority's own leaf, and certificates embedded in the token
        // (which must still chain to the authority).
        let leaf = &authority.chain[0];
        let candidates = std::iter::once(leaf).chain(p.certs.iter());
        for signer in candidates {
            if signer
                .public_key()
                .and_then(|k| Ok(k.verify_with(sig_alg, &signed, p.signature)?))
                .is_err()
            {
                continue;
            }
            let ok = if signer.der == leaf.der {
                verify_path(signer, &authority.chain[1..], time).is_ok()
                    || (authority.chain.len() == 1 && signer.valid_at(time))
            } else {
                verify_path(signer, &authority.chain, time).is_ok()
            };
            if ok {
                return Ok(time);
            }
        }
    }
    Err(TsaError::Untrusted(fmt_time(time)))
}
