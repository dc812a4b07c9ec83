//! A minimal DER reader and writer: just enough ASN.1 for certificates, SPKI, PKCS#8 and
//! RFC 3161 / CMS timestamps. Hand-written because verification needs the exact encoded
//! bytes of inner structures (TBS certificates, signed attributes), which general decoders
//! re-encode rather than expose.

use thiserror::Error;

/// Universal tags used by this crate.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
}

/// A DER decoding error.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Asn1Error {
    #[error("truncated der input")]
    Truncated,
    #[error("unsupported der length encoding")]
    BadLength,
    #[error("expected der tag 0x{expected:02x}, found 0x{found:02x}")]
    UnexpectedTag { expected: u8, found: u8 },
    #[error("trailing bytes after der value")]
    Trailing,
    #[error("invalid der time {0:?}")]
    BadTime(String),
    #[error("invalid der {0}")]
    Invalid(&'static str),
}

/// One tag-length-value element.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    /// The whole element, header included.
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Reader over the contents of a constructed element.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }
}

/// A cursor over consecutive DER elements.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.data.first().copied()
    }

    /// Reads the next element.
    pub fn read(&mut self) -> Result<Tlv<'a>, Asn1Error> {
        let data = self.data;
        let tag = *data.first().ok_or(Asn1Error::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(Asn1Error::Invalid("high tag number"));
        }
        let first = *data.get(1).ok_or(Asn1Error::Truncated)?;
        let (len, header) = if first < 0x80 {
            (first as usize, 2)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 {
                return Err(Asn1Error::BadLength);
            }
            let bytes = data.get(2..2 + n).ok_or(Asn1Error::Truncated)?;
            let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, 2 + n)
        };
        let end = header.checked_add(len).ok_or(Asn1Error::BadLength)?;
        let raw = data.get(..end).ok_or(Asn1Error::Truncated)?;
        self.data = &data[end..];
        Ok(Tlv {
            tag,
            value: &raw[header..],
            raw,
        })
    }

    /// Reads the next element and requires its tag.
    pub fn expect(&mut self, tag: u8) -> Result<Tlv<'a>, Asn1Error> {
        let tlv = self.read()?;
        if tlv.tag != tag {
            return Err(Asn1Error::UnexpectedTag {
                expected: tag,
                found: tlv.tag,
            });
        }
        Ok(tlv)
    }

    /// Reads the next element when it has this tag.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, Asn1Error> {
        if self.peek_tag() == Some(tag) {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Requires that nothing is left.
    pub fn finish(&self) -> Result<(), Asn1Error> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(Asn1Error::Trailing)
        }
    }
}

/// Parses exactly one element spanning all of `data`.
pub fn parse_single(data: &[u8], tag: u8) -> Result<Tlv<'_>, Asn1Error> {
    let mut r = Reader::new(data);
    let tlv = r.expect(tag)?;
    r.finish()?;
    Ok(tlv)
}

/// Dotted-decimal form of an OBJECT IDENTIFIER's contents.
pub fn oid_string(value: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for b in value {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = (acc / 40).min(2);
                parts.push(first);
                parts.push(acc - first * 40);
            } else {
                parts.push(acc);
            }
            acc = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Unix seconds of a UTCTime or GeneralizedTime element (fractions dropped).
pub fn time(tlv: &Tlv<'_>) -> Result<i64, Asn1Error> {
    let s = std::str::from_utf8(tlv.value).map_err(|_| Asn1Error::BadTime(String::new()))?;
    let bad = || Asn1Error::BadTime(s.to_string());
    let (year, rest) = match tlv.tag {
        tag::UTC_TIME => {
            let yy: i32 = s.get(..2).and_then(|v| v.parse().ok()).ok_or_else(bad)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
        }
        tag::GENERALIZED_TIME => {
            let y: i32 = s.get(..4).and_then(|v| v.parse().ok()).ok_or_else(bad)?;
            (y, &s[4..])
        }
        _ => return Err(bad()),
    };
    let field = |i: usize| -> Result<u32, Asn1Error> {
        rest.get(i..i + 2)
            .and_then(|v| v.parse().ok())
            .ok_or_else(bad)
    };
    let (mo, d, h, mi, se) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !rest.ends_with('Z') {
        return Err(bad());
    }
    let date = chrono::NaiveDate::from_ymd_opt(year, mo, d).ok_or_else(bad)?;
    let dt = date.and_hms_opt(h, mi, se).ok_or_else(bad)?;
    Ok(dt.and_utc().timestamp())
}

/// Encodes one element.
pub fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Well-known object identifiers.
pub mod oid {
    pub const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
    pub const P256: &str = "1.2.840.10045.3.1.7";
    pub const P384: &str = "1.3.132.0.34";
    pub const RSA: &str = "1.2.840.113549.1.1.1";
    pub const ED25519: &str = "1.3.101.112";
    pub const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
    pub const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
    pub const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
    pub const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
    pub const RSA_SHA384: &str = "1.2.840.113549.1.1.12";
    pub const RSA_SHA512: &str = "1.2.840.113549.1.1.13";
    pub const SHA256: &str = "2.16.840.1.101.3.4.2.1";
    pub const SHA384: &str = "2.16.840.1.101.3.4.2.2";
    pub const SHA512: &str = "2.16.840.1.101.3.4.2.3";
    pub const SUBJECT_ALT_NAME: &str = "2.5.29.17";
    pub const BASIC_CONSTRAINTS: &str = "2.5.29.19";
    pub const KEY_USAGE: &str = "2.5.29.15";
    pub const EXT_KEY_USAGE: &str = "2.5.29.37";
    pub const CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
    pub const SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
    pub const FULCIO_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
    pub const FULCIO_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
    pub const FULCIO_OTHERNAME_SAN: &str = "1.3.6.1.4.1.57264.1.7";
    pub const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
    pub const TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
    pub const MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
    pub const CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_and_roundtrip() {
        let enc = encode(tag::OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]);
        let tlv = parse_single(&enc, tag::OID).unwrap();
        assert_eq!(oid_string(tlv.value), oid::EC_PUBLIC_KEY);
        let long = encode(tag::OCTET_STRING, &[7u8; 300]);
        assert_eq!(
            parse_single(&long, tag::OCTET_STRING).unwrap().value.len(),
            300
        );
        assert_eq!(
            Reader::new(&long[..10]).read().unwrap_err(),
            Asn1Error::Truncated
        );
    }

    #[test]
    fn times() {
        let t = encode(tag::UTC_TIME, b"230120205131Z");
        assert_eq!(
            time(&parse_single(&t, tag::UTC_TIME).unwrap()).unwrap(),
            1674247891
        );
        let g = encode(tag::GENERALIZED_TIME, b"20230120205131.123Z");
        assert_eq!(
            time(&parse_single(&g, tag::GENERALIZED_TIME).unwrap()).unwrap(),
            1674247891
        );
    }
}
