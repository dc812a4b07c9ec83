//! `x509_decode`: a PEM certificate or certificate request decoded into the
//! object Kyverno returns, which is Go's `x509.Certificate` (or
//! `x509.CertificateRequest`) marshalled to JSON, with `PublicKey` replaced by
//! `{N, E}` of the RSA key. Like Kyverno, only RSA keys are accepted.
//!
//! The DER reader below covers what these structures need (definite-length
//! TLVs). Fields are named as Go names them; byte fields are base64 (as Go's
//! JSON encodes `[]byte`), times are RFC 3339 in UTC. Go encodes the serial
//! number exactly; serial numbers above 2^64 are given here as the nearest
//! float because JSON numbers are `f64`/`u64` in this crate's JSON type.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// A DER element: tag, content and the whole encoding.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let bad = || "malformed DER".to_owned();
    let tag = *input.first().ok_or_else(bad)?;
    if tag & 0x1f == 0x1f {
        return Err("unsupported high-tag-number DER tag".to_owned());
    }
    let first = *input.get(1).ok_or_else(bad)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(bad());
        }
        let bytes = input.get(2..2 + n).ok_or_else(bad)?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            2 + n,
        )
    };
    let end = header.checked_add(len).ok_or_else(bad)?;
    let raw = input.get(..end).ok_or_else(bad)?;
    Ok((
        Tlv {
            tag,
            content: &raw[header..],
            raw,
        },
        &input[end..],
    ))
}

/// The elements inside a constructed element.
fn children(content: &[u8]) -> Result<Vec<Tlv<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (tlv, r) = read_tlv(rest)?;
        out.push(tlv);
        rest = r;
    }
    Ok(out)
}

fn expect<'a>(items: &[Tlv<'a>], i: usize, tag: u8, what: &str) -> Result<Tlv<'a>, String> {
    match items.get(i) {
        Some(t) if t.tag == tag => Ok(*t),
        _ => Err(format!("malformed {what}")),
    }
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn oid_parts(content: &[u8]) -> Vec<u64> {
    let mut parts = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in content.iter().enumerate() {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() && i < content.len() {
                let first = (value / 40).min(2);
                parts.push(first);
                parts.push(value - first * 40);
            } else {
                parts.push(value);
            }
            value = 0;
        }
    }
    parts
}

fn oid_string(content: &[u8]) -> String {
    oid_parts(content)
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// Big-endian unsigned bytes to decimal text.
fn decimal(bytes: &[u8]) -> String {
    let mut digits: Vec<u8> = vec![0]; // little-endian base-10 digits
    for byte in bytes {
        let mut carry = u32::from(*byte);
        for d in &mut digits {
            let v = u32::from(*d) * 256 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            digits.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while digits.len() > 1 && digits.last() == Some(&0) {
        digits.pop();
    }
    digits.iter().rev().map(|d| char::from(b'0' + d)).collect()
}

fn integer_value(content: &[u8]) -> Value {
    let negative = content.first().is_some_and(|b| b & 0x80 != 0);
    let text = decimal(content);
    if negative {
        // Negative serials are invalid in practice; report the magnitude as Go
        // would not, rather than failing.
        return Value::String(text);
    }
    text.parse::<u64>()
        .map(Value::from)
        .or_else(|_| text.parse::<f64>().map(Value::from))
        .unwrap_or(Value::String(text))
}

fn string_value(tlv: &Tlv<'_>) -> String {
    match tlv.tag {
        // BMPString is UTF-16BE.
        0x1e => {
            let units: Vec<u16> = tlv
                .content
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        _ => String::from_utf8_lossy(tlv.content).into_owned(),
    }
}

/// A `pkix.Name` from an X.501 Name.
fn name(tlv: &Tlv<'_>) -> Result<Value, String> {
    let mut country = Vec::new();
    let mut organization = Vec::new();
    let mut unit = Vec::new();
    let mut locality = Vec::new();
    let mut province = Vec::new();
    let mut street = Vec::new();
    let mut postal = Vec::new();
    let mut serial = String::new();
    let mut common = String::new();
    let mut names = Vec::new();
    for rdn in children(tlv.content)? {
        for atv in children(rdn.content)? {
            let parts = children(atv.content)?;
            let oid = expect(&parts, 0, 0x06, "name attribute")?;
            let value = parts.get(1).map(string_value).unwrap_or_default();
            let oid_num = oid_parts(oid.content);
            names.push(json!({"Type": oid_num, "Value": value}));
            if oid_num.len() == 4 && oid_num[..3] == [2, 5, 4] {
                match oid_num[3] {
                    3 => common = value,
                    5 => serial = value,
                    6 => country.push(value),
                    7 => locality.push(value),
                    8 => province.push(value),
                    9 => street.push(value),
                    10 => organization.push(value),
                    11 => unit.push(value),
                    17 => postal.push(value),
                    _ => {}
                }
            }
        }
    }
    let list = |v: Vec<String>| if v.is_empty() { Value::Null } else { json!(v) };
    Ok(json!({
        "Country": list(country),
        "Organization": list(organization),
        "OrganizationalUnit": list(unit),
        "Locality": list(locality),
        "Province": list(province),
        "StreetAddress": list(street),
        "PostalCode": list(postal),
        "SerialNumber": serial,
        "CommonName": common,
        "Names": names,
        "ExtraNames": null,
    }))
}

/// UTCTime / GeneralizedTime to RFC 3339 (UTC).
fn time_value(tlv: &Tlv<'_>) -> Result<Value, String> {
    let text = std::str::from_utf8(tlv.content).map_err(|_| "malformed time".to_owned())?;
    let text = text.trim_end_matches('Z');
    let (year, rest) = match tlv.tag {
        0x17 if text.len() >= 12 => {
            let yy: i32 = text[..2].parse().map_err(|_| "malformed time")?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        0x18 if text.len() >= 14 => (text[..4].parse().map_err(|_| "malformed time")?, &text[4..]),
        _ => return Err("malformed time".to_owned()),
    };
    let field = |i: usize| rest.get(i..i + 2).unwrap_or("00");
    Ok(Value::String(format!(
        "{year:04}-{}-{}T{}:{}:{}Z",
        field(0),
        field(2),
        field(4),
        field(6),
        field(8)
    )))
}

fn signature_algorithm(oid: &str) -> u64 {
    match oid {
        "1.2.840.113549.1.1.4" => 2,  // MD5WithRSA
        "1.2.840.113549.1.1.5" => 3,  // SHA1WithRSA
        "1.2.840.113549.1.1.11" => 4, // SHA256WithRSA
        "1.2.840.113549.1.1.12" => 5, // SHA384WithRSA
        "1.2.840.113549.1.1.13" => 6, // SHA512WithRSA
        "1.2.840.10040.4.3" => 7,     // DSAWithSHA1
        "2.16.840.1.101.3.4.3.2" => 8,
        "1.2.840.10045.4.1" => 9,
        "1.2.840.10045.4.3.2" => 10,
        "1.2.840.10045.4.3.3" => 11,
        "1.2.840.10045.4.3.4" => 12,
        "1.3.101.112" => 16,
        _ => 0,
    }
}

fn algorithm_oid(tlv: &Tlv<'_>) -> Result<String, String> {
    let parts = children(tlv.content)?;
    Ok(oid_string(
        expect(&parts, 0, 0x06, "algorithm identifier")?.content,
    ))
}

/// `{N, E}` of an RSA SubjectPublicKeyInfo (anything else is rejected).
fn rsa_public_key(spki: &Tlv<'_>) -> Result<Value, String> {
    let parts = children(spki.content)?;
    let alg = expect(&parts, 0, 0x30, "subject public key info")?;
    if algorithm_oid(&alg)? != "1.2.840.113549.1.1.1" {
        return Err("certificate should use rsa algorithm".to_owned());
    }
    let bits = expect(&parts, 1, 0x03, "subject public key")?;
    let key_der = bits
        .content
        .get(1..)
        .ok_or_else(|| "failed to parse subject public key info".to_owned())?;
    let (key, _) = read_tlv(key_der)?;
    let nums = children(key.content)?;
    let n = expect(&nums, 0, 0x02, "RSA modulus")?;
    let e = expect(&nums, 1, 0x02, "RSA exponent")?;
    let e_val = e
        .content
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    Ok(json!({"N": decimal(n.content), "E": e_val}))
}

/// Extension list plus the fields Go derives from known extensions.
fn extensions(list: &[Tlv<'_>], out: &mut Map<String, Value>) -> Result<(), String> {
    let mut exts = Vec::new();
    let mut dns = Vec::new();
    let mut emails = Vec::new();
    let mut ips = Vec::new();
    let mut uris = Vec::new();
    for ext in list {
        let parts = children(ext.content)?;
        let oid = expect(&parts, 0, 0x06, "extension")?;
        let (critical, value) = match parts.get(1) {
            Some(t) if t.tag == 0x01 => (
                t.content.first().is_some_and(|b| *b != 0),
                expect(&parts, 2, 0x04, "extension value")?,
            ),
            _ => (false, expect(&parts, 1, 0x04, "extension value")?),
        };
        exts.push(json!({
            "Id": oid_parts(oid.content),
            "Critical": critical,
            "Value": b64(value.content),
        }));
        match oid_string(oid.content).as_str() {
            "2.5.29.17" => {
                let (seq, _) = read_tlv(value.content)?;
                for gn in children(seq.content)? {
                    let text = String::from_utf8_lossy(gn.content).into_owned();
                    match gn.tag {
                        0x81 => emails.push(Value::String(text)),
                        0x82 => dns.push(Value::String(text)),
                        0x86 => uris.push(json!({"Scheme": text.split(':').next().unwrap_or_default(), "Opaque": "", "User": null, "Host": "", "Path": "", "RawPath": "", "OmitHost": false, "ForceQuery": false, "RawQuery": "", "Fragment": "", "RawFragment": ""})),
                        0x87 => {
                            let ip = match gn.content.len() {
                                4 => <[u8; 4]>::try_from(gn.content)
                                    .map(|b| std::net::IpAddr::from(b).to_string())
                                    .unwrap_or_default(),
                                16 => <[u8; 16]>::try_from(gn.content)
                                    .map(|b| std::net::IpAddr::from(b).to_string())
                                    .unwrap_or_default(),
                                _ => String::new(),
                            };
                            ips.push(Value::String(ip));
                        }
                        _ => {}
                    }
                }
            }
            "2.5.29.19" => {
                let (seq, _) = read_tlv(value.content)?;
                let fields = children(seq.content)?;
                let is_ca = fields
                    .first()
                    .is_some_and(|f| f.tag == 0x01 && f.content.first().is_some_and(|b| *b != 0));
                let path_len = fields.iter().find(|f| f.tag == 0x02).map(|f| {
                    f.content
                        .iter()
                        .fold(0i64, |acc, b| (acc << 8) | i64::from(*b))
                });
                out.insert("BasicConstraintsValid".into(), json!(true));
                out.insert("IsCA".into(), json!(is_ca));
                out.insert("MaxPathLen".into(), json!(path_len.unwrap_or(-1)));
                out.insert("MaxPathLenZero".into(), json!(path_len == Some(0)));
            }
            "2.5.29.15" => {
                let (bits, _) = read_tlv(value.content)?;
                let mut usage: u64 = 0;
                for (i, byte) in bits.content.iter().skip(1).take(2).enumerate() {
                    for bit in 0..8 {
                        if byte & (0x80 >> bit) != 0 {
                            usage |= 1 << (i * 8 + bit);
                        }
                    }
                }
                out.insert("KeyUsage".into(), json!(usage));
            }
            _ => {}
        }
    }
    let list = |v: Vec<Value>| {
        if v.is_empty() {
            Value::Null
        } else {
            Value::Array(v)
        }
    };
    out.insert("Extensions".into(), list(exts));
    out.insert("DNSNames".into(), list(dns));
    out.insert("EmailAddresses".into(), list(emails));
    out.insert("IPAddresses".into(), list(ips));
    out.insert("URIs".into(), list(uris));
    Ok(())
}

/// The first PEM block: (type, DER bytes).
fn pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let after = &text[start + 11..];
    let label_end = after.find("-----")?;
    let label = after[..label_end].to_owned();
    let body_start = label_end + 5;
    let end_marker = format!("-----END {label}-----");
    let body_end = after.find(&end_marker)?;
    let body: String = after[body_start..body_end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((label, der))
}

pub(crate) fn decode(pem: &str) -> Result<Value, String> {
    let (label, der) = pem_block(pem).ok_or_else(|| "failed to decode PEM block".to_owned())?;
    if label != "CERTIFICATE" && label != "CERTIFICATE REQUEST" {
        return Err("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST".to_owned());
    }
    let (outer, _) = read_tlv(&der)?;
    let top = children(outer.content)?;
    let tbs = expect(&top, 0, 0x30, "certificate")?;
    let sig_alg = expect(&top, 1, 0x30, "signature algorithm")?;
    let sig = expect(&top, 2, 0x03, "signature")?;
    let mut out = Map::new();
    out.insert("Raw".into(), b64(outer.raw));
    out.insert(
        "Signature".into(),
        b64(sig.content.get(1..).unwrap_or_default()),
    );
    out.insert(
        "SignatureAlgorithm".into(),
        json!(signature_algorithm(&algorithm_oid(&sig_alg)?)),
    );
    out.insert("PublicKeyAlgorithm".into(), json!(1));
    let fields = children(tbs.content)?;
    match label.as_str() {
        "CERTIFICATE" => {
            let mut i = 0;
            let mut version = 1;
            if let Some(v) = fields.first().filter(|f| f.tag == 0xa0) {
                let inner = children(v.content)?;
                let n = expect(&inner, 0, 0x02, "version")?;
                version = n
                    .content
                    .iter()
                    .fold(0i64, |acc, b| (acc << 8) | i64::from(*b))
                    + 1;
                i = 1;
            }
            let serial = expect(&fields, i, 0x02, "serial number")?;
            let issuer = expect(&fields, i + 2, 0x30, "issuer")?;
            let validity = children(expect(&fields, i + 3, 0x30, "validity")?.content)?;
            let subject = expect(&fields, i + 4, 0x30, "subject")?;
            let spki = expect(&fields, i + 5, 0x30, "subject public key info")?;
            out.insert("RawTBSCertificate".into(), b64(tbs.raw));
            out.insert("RawSubjectPublicKeyInfo".into(), b64(spki.raw));
            out.insert("RawSubject".into(), b64(subject.raw));
            out.insert("RawIssuer".into(), b64(issuer.raw));
            out.insert("PublicKey".into(), rsa_public_key(&spki)?);
            out.insert("Version".into(), json!(version));
            out.insert("SerialNumber".into(), integer_value(serial.content));
            out.insert("Issuer".into(), name(&issuer)?);
            out.insert("Subject".into(), name(&subject)?);
            out.insert(
                "NotBefore".into(),
                time_value(validity.first().ok_or("malformed validity")?)?,
            );
            out.insert(
                "NotAfter".into(),
                time_value(validity.get(1).ok_or("malformed validity")?)?,
            );
            out.insert("KeyUsage".into(), json!(0));
            out.insert("BasicConstraintsValid".into(), json!(false));
            out.insert("IsCA".into(), json!(false));
            out.insert("MaxPathLen".into(), json!(0));
            out.insert("MaxPathLenZero".into(), json!(false));
            let ext_list = match fields[i + 6..].iter().find(|f| f.tag == 0xa3) {
                Some(wrapper) => {
                    let (seq, _) = read_tlv(wrapper.content)?;
                    children(seq.content)?
                }
                None => Vec::new(),
            };
            extensions(&ext_list, &mut out)?;
            Ok(Value::Object(out))
        }
        "CERTIFICATE REQUEST" => {
            let version = expect(&fields, 0, 0x02, "version")?;
            let subject = expect(&fields, 1, 0x30, "subject")?;
            let spki = expect(&fields, 2, 0x30, "subject public key info")?;
            out.insert("RawTBSCertificateRequest".into(), b64(tbs.raw));
            out.insert("RawSubjectPublicKeyInfo".into(), b64(spki.raw));
            out.insert("RawSubject".into(), b64(subject.raw));
            out.insert(
                "Version".into(),
                json!(
                    version
                        .content
                        .iter()
                        .fold(0i64, |acc, b| (acc << 8) | i64::from(*b))
                ),
            );
            out.insert("PublicKey".into(), rsa_public_key(&spki)?);
            out.insert("Subject".into(), name(&subject)?);
            out.insert("Attributes".into(), Value::Null);
            out.insert("ExtraExtensions".into(), Value::Null);
            // Requested extensions live in the extensionRequest attribute.
            let mut ext_list = Vec::new();
            if let Some(attrs) = fields.get(3).filter(|f| f.tag == 0xa0) {
                for attr in children(attrs.content)? {
                    let parts = children(attr.content)?;
                    let is_ext_req = parts.first().is_some_and(|o| {
                        o.tag == 0x06 && oid_string(o.content) == "1.2.840.113549.1.9.14"
                    });
                    if let (true, Some(set)) = (is_ext_req, parts.get(1)) {
                        for seq in children(set.content)? {
                            ext_list.extend(children(seq.content)?);
                        }
                    }
                }
            }
            extensions(&ext_list, &mut out)?;
            Ok(Value::Object(out))
        }
        _ => Err("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST".to_owned()),
    }
}
