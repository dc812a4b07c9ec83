//! Keys: PEM blocks, public keys (ECDSA P-256/P-384, RSA PKCS#1 v1.5, Ed25519) with signature
//! verification, and P-256 signing keys in cosign's encrypted key-file format
//! (`ENCRYPTED SIGSTORE PRIVATE KEY`: scrypt + NaCl secretbox over PKCS#8).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::pkcs8::EncodePrivateKey as _;
use sha2::Digest as _;
use thiserror::Error;

use crate::asn1::{self, Asn1Error, oid, tag};

/// Key and signature errors.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("no PEM block found{}", expected_suffix(.0))]
    NoPem(Option<String>),
    #[error("invalid PEM block {label}: {reason}")]
    BadPem { label: String, reason: String },
    #[error("malformed key encoding")]
    Der(#[from] Asn1Error),
    #[error("unsupported public key algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("invalid {0} public key")]
    InvalidKey(&'static str),
    #[error("signature does not verify")]
    BadSignature,
    #[error("unsupported signature algorithm {0}")]
    UnsupportedSignatureAlgorithm(String),
    #[error("{0} keys cannot verify a signature over a precomputed digest")]
    NoPrehash(&'static str),
    #[error("unsupported private key: {0}")]
    UnsupportedPrivateKey(String),
    #[error("encrypted private key envelope is malformed: {0}")]
    BadEnvelope(String),
    #[error("unsupported scrypt parameters N={n} r={r} p={p}")]
    ScryptParams { n: u64, r: u32, p: u32 },
    #[error("decryption failed: wrong password or corrupt key file")]
    Decrypt,
    #[error("random number generator failed")]
    Random,
}

fn expected_suffix(label: &Option<String>) -> String {
    label
        .as_ref()
        .map(|l| format!(" (expected {l})"))
        .unwrap_or_default()
}

/// One decoded PEM block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    pub label: String,
    pub der: Vec<u8>,
}

/// Decodes every PEM block in `text`, in order.
pub fn parse_pem(text: &str) -> Result<Vec<PemBlock>, KeyError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after.find("-----").ok_or_else(|| KeyError::BadPem {
            label: String::new(),
            reason: "unterminated BEGIN line".into(),
        })?;
        let label = after[..label_end].to_string();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let end = body_start
            .find(&end_marker)
            .ok_or_else(|| KeyError::BadPem {
                label: label.clone(),
                reason: "missing END line".into(),
            })?;
        let body: String = body_start[..end]
            .lines()
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = B64.decode(body.as_bytes()).map_err(|e| KeyError::BadPem {
            label: label.clone(),
            reason: e.to_string(),
        })?;
        out.push(PemBlock { label, der });
        rest = &body_start[end + end_marker.len()..];
    }
    Ok(out)
}

/// Encodes one PEM block with 64-column lines.
pub fn encode_pem(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Hash algorithms used by signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    /// The algorithm for a digest OID.
    pub fn from_oid(oid_str: &str) -> Option<Self> {
        match oid_str {
            oid::SHA256 => Some(HashAlg::Sha256),
            oid::SHA384 => Some(HashAlg::Sha384),
            oid::SHA512 => Some(HashAlg::Sha512),
            _ => None,
        }
    }
}

/// A signature algorithm named by an X.509 / CMS AlgorithmIdentifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlg {
    Ecdsa(HashAlg),
    RsaPkcs1(HashAlg),
    Ed25519,
}

impl SigAlg {
    /// The algorithm for a signature-algorithm OID.
    pub fn from_oid(oid_str: &str) -> Result<Self, KeyError> {
        Ok(match oid_str {
            oid::ECDSA_SHA256 => SigAlg::Ecdsa(HashAlg::Sha256),
            oid::ECDSA_SHA384 => SigAlg::Ecdsa(HashAlg::Sha384),
            oid::ECDSA_SHA512 => SigAlg::Ecdsa(HashAlg::Sha512),
            oid::RSA_SHA256 => SigAlg::RsaPkcs1(HashAlg::Sha256),
            oid::RSA_SHA384 => SigAlg::RsaPkcs1(HashAlg::Sha384),
            oid::RSA_SHA512 => SigAlg::RsaPkcs1(HashAlg::Sha512),
            oid::ED25519 => SigAlg::Ed25519,
            other => return Err(KeyError::UnsupportedSignatureAlgorithm(other.to_string())),
        })
    }
}

/// A public key able to verify signatures.
#[derive(Debug, Clone)]
pub struct PublicKey {
    kind: KeyKind,
    spki: Vec<u8>,
}

#[derive(Debug, Clone)]
enum KeyKind {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    /// PKCS#1 `RSAPublicKey` DER, as ring takes it.
    Rsa(Vec<u8>),
    Ed25519([u8; 32]),
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki == other.spki
    }
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = asn1::parse_single(der, tag::SEQUENCE)?;
        let mut r = spki.reader();
        let alg = r.expect(tag::SEQUENCE)?;
        let bits = r.expect(tag::BIT_STRING)?;
        let mut ar = alg.reader();
        let alg_oid = asn1::oid_string(ar.expect(tag::OID)?.value);
        let key = bits
            .value
            .get(1..)
            .ok_or(KeyError::InvalidKey("bit string"))?;
        let kind = match alg_oid.as_str() {
            oid::EC_PUBLIC_KEY => {
                let curve = asn1::oid_string(ar.expect(tag::OID)?.value);
                match curve.as_str() {
                    oid::P256 => KeyKind::P256(
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(key)
                            .map_err(|_| KeyError::InvalidKey("ecdsa p-256"))?,
                    ),
                    oid::P384 => KeyKind::P384(
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(key)
                            .map_err(|_| KeyError::InvalidKey("ecdsa p-384"))?,
                    ),
                    other => {
                        return Err(KeyError::UnsupportedAlgorithm(format!(
                            "ecdsa curve {other}"
                        )));
                    }
                }
            }
            oid::RSA => {
                asn1::parse_single(key, tag::SEQUENCE).map_err(|_| KeyError::InvalidKey("rsa"))?;
                KeyKind::Rsa(key.to_vec())
            }
            oid::ED25519 => KeyKind::Ed25519(
                key.try_into()
                    .map_err(|_| KeyError::InvalidKey("ed25519"))?,
            ),
            other => return Err(KeyError::UnsupportedAlgorithm(other.to_string())),
        };
        Ok(Self {
            kind,
            spki: der.to_vec(),
        })
    }

    /// Parses the first `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1) PEM block.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        for block in parse_pem(text)? {
            match block.label.as_str() {
                "PUBLIC KEY" => return Self::from_spki_der(&block.der),
                "RSA PUBLIC KEY" => {
                    let alg = asn1::encode(
                        tag::SEQUENCE,
                        &[
                            asn1::encode(tag::OID, &RSA_OID_DER),
                            asn1::encode(tag::NULL, &[]),
                        ]
                        .concat(),
                    );
                    let mut bits = vec![0u8];
                    bits.extend_from_slice(&block.der);
                    let spki = asn1::encode(
                        tag::SEQUENCE,
                        &[alg, asn1::encode(tag::BIT_STRING, &bits)].concat(),
                    );
                    return Self::from_spki_der(&spki);
                }
                _ => {}
            }
        }
        Err(KeyError::NoPem(Some("PUBLIC KEY".into())))
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// PEM `PUBLIC KEY` text.
    pub fn to_pem(&self) -> String {
        encode_pem("PUBLIC KEY", &self.spki)
    }

    /// Short algorithm name.
    pub fn algorithm(&self) -> &'static str {
        match self.kind {
            KeyKind::P256(_) => "ecdsa-p256",
            KeyKind::P384(_) => "ecdsa-p384",
            KeyKind::Rsa(_) => "rsa",
            KeyKind::Ed25519(_) => "ed25519",
        }
    }

    /// The hash a signature made with this key uses by default (cosign decides by key).
    pub fn default_hash(&self) -> HashAlg {
        match self.kind {
            KeyKind::P384(_) => HashAlg::Sha384,
            _ => HashAlg::Sha256,
        }
    }

    /// Verifies `sig` over `msg` with the key's default scheme (ECDSA with the curve's hash,
    /// RSA PKCS#1 v1.5 with SHA-256, pure Ed25519).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        match &self.kind {
            KeyKind::Ed25519(_) => self.verify_with(SigAlg::Ed25519, msg, sig),
            KeyKind::Rsa(_) => self.verify_with(SigAlg::RsaPkcs1(HashAlg::Sha256), msg, sig),
            _ => self.verify_with(SigAlg::Ecdsa(self.default_hash()), msg, sig),
        }
    }

    /// Verifies `sig` over `msg` with an explicit algorithm.
    pub fn verify_with(&self, alg: SigAlg, msg: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        use ring::signature as rs;
        match (alg, &self.kind) {
            (SigAlg::Ecdsa(h), KeyKind::P256(_) | KeyKind::P384(_)) => {
                self.verify_prehashed(h, &h.digest(msg), sig)
            }
            (SigAlg::RsaPkcs1(h), KeyKind::Rsa(der)) => {
                let params = match h {
                    HashAlg::Sha256 => &rs::RSA_PKCS1_2048_8192_SHA256,
                    HashAlg::Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
                    HashAlg::Sha512 => &rs::RSA_PKCS1_2048_8192_SHA512,
                };
                rs::UnparsedPublicKey::new(params, der)
                    .verify(msg, sig)
                    .map_err(|_| KeyError::BadSignature)
            }
            (SigAlg::Ed25519, KeyKind::Ed25519(key)) => {
                rs::UnparsedPublicKey::new(&rs::ED25519, key)
                    .verify(msg, sig)
                    .map_err(|_| KeyError::BadSignature)
            }
            (alg, _) => Err(KeyError::UnsupportedSignatureAlgorithm(format!(
                "{alg:?} with a {} key",
                self.algorithm()
            ))),
        }
    }

    /// Verifies a DER ECDSA signature over a precomputed digest.
    pub fn verify_prehashed(
        &self,
        _hash: HashAlg,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<(), KeyError> {
        match &self.kind {
            KeyKind::P256(k) => {
                let s =
                    p256::ecdsa::Signature::from_der(sig).map_err(|_| KeyError::BadSignature)?;
                k.verify_prehash(digest, &s)
                    .map_err(|_| KeyError::BadSignature)
            }
            KeyKind::P384(k) => {
                let s =
                    p384::ecdsa::Signature::from_der(sig).map_err(|_| KeyError::BadSignature)?;
                k.verify_prehash(digest, &s)
                    .map_err(|_| KeyError::BadSignature)
            }
            KeyKind::Rsa(_) => Err(KeyError::NoPrehash("rsa")),
            KeyKind::Ed25519(_) => Err(KeyError::NoPrehash("ed25519")),
        }
    }

    /// cosign / sigstore key hint: base64(sha256(SPKI DER)).
    pub fn hint(&self) -> String {
        B64.encode(sha2::Sha256::digest(&self.spki))
    }
}

const RSA_OID_DER: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// A P-256 signing key (the scheme cosign uses by default).
#[derive(Clone)]
pub struct SigningKey {
    key: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public_key().hint())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Result<Self, KeyError> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|_| KeyError::Random)?;
            if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return Ok(Self { key });
            }
        }
    }

    /// Parses a PKCS#8 `PrivateKeyInfo` (DER) holding a P-256 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = asn1::parse_single(der, tag::SEQUENCE)?;
        let mut r = info.reader();
        r.expect(tag::INTEGER)?;
        let alg = r.expect(tag::SEQUENCE)?;
        let mut ar = alg.reader();
        let alg_oid = asn1::oid_string(ar.expect(tag::OID)?.value);
        if alg_oid != oid::EC_PUBLIC_KEY {
            return Err(KeyError::UnsupportedPrivateKey(format!(
                "algorithm {alg_oid}"
            )));
        }
        let curve = asn1::oid_string(ar.expect(tag::OID)?.value);
        if curve != oid::P256 {
            return Err(KeyError::UnsupportedPrivateKey(format!("curve {curve}")));
        }
        let inner = r.expect(tag::OCTET_STRING)?;
        Self::from_sec1_der(inner.value)
    }

    /// Parses a SEC1 `ECPrivateKey` (DER).
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        let ec = asn1::parse_single(der, tag::SEQUENCE)?;
        let mut r = ec.reader();
        r.expect(tag::INTEGER)?;
        let d = r.expect(tag::OCTET_STRING)?;
        let key = p256::ecdsa::SigningKey::from_slice(d.value)
            .map_err(|_| KeyError::UnsupportedPrivateKey("invalid p-256 scalar".into()))?;
        Ok(Self { key })
    }

    /// Parses an unencrypted PEM key: `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1).
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        for block in parse_pem(text)? {
            match block.label.as_str() {
                "PRIVATE KEY" => return Self::from_pkcs8_der(&block.der),
                "EC PRIVATE KEY" => return Self::from_sec1_der(&block.der),
                _ => {}
            }
        }
        Err(KeyError::NoPem(Some("PRIVATE KEY".into())))
    }

    /// PKCS#8 DER encoding (with the public key, as Go writes it).
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, KeyError> {
        let doc = self
            .key
            .to_pkcs8_der()
            .map_err(|e| KeyError::UnsupportedPrivateKey(e.to_string()))?;
        Ok(doc.as_bytes().to_vec())
    }

    pub fn public_key(&self) -> PublicKey {
        let point = self.key.verifying_key().to_sec1_point(false);
        let alg = asn1::encode(
            tag::SEQUENCE,
            &[
                asn1::encode(tag::OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                asn1::encode(tag::OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
            ]
            .concat(),
        );
        let mut bits = vec![0u8];
        bits.extend_from_slice(point.as_bytes());
        let spki = asn1::encode(
            tag::SEQUENCE,
            &[alg, asn1::encode(tag::BIT_STRING, &bits)].concat(),
        );
        PublicKey {
            kind: KeyKind::P256(*self.key.verifying_key()),
            spki,
        }
    }

    /// ECDSA P-256 SHA-256 signature over `msg`, DER encoded.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        let digest = HashAlg::Sha256.digest(msg);
        let sig: p256::ecdsa::Signature = self
            .key
            .sign_prehash(&digest)
            .map_err(|_| KeyError::BadSignature)?;
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

/// PEM labels of cosign's encrypted private key files.
pub const ENCRYPTED_SIGSTORE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
pub const ENCRYPTED_COSIGN_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[allow(non_snake_case)]
struct ScryptParams {
    N: u64,
    r: u32,
    p: u32,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn derive_key(password: &[u8], salt: &[u8], n: u64, r: u32, p: u32) -> Result<[u8; 32], KeyError> {
    // Exactly the parameter sets go-securesystemslib accepts (legacy, standard, owasp).
    let log_n = match (n, r, p) {
        (32768, 8, 1) => 15,
        (65536, 8, 1) => 16,
        (131072, 8, 1) => 17,
        _ => return Err(KeyError::ScryptParams { n, r, p }),
    };
    let params =
        scrypt::Params::new(log_n, r, p).map_err(|_| KeyError::ScryptParams { n, r, p })?;
    let mut out = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut out).map_err(|_| KeyError::ScryptParams {
        n,
        r,
        p,
    })?;
    Ok(out)
}

/// Decrypts the JSON envelope inside an encrypted cosign key file to the PKCS#8 DER.
pub fn decrypt_envelope(json: &[u8], password: &[u8]) -> Result<Vec<u8>, KeyError> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let env: Envelope =
        serde_json::from_slice(json).map_err(|e| KeyError::BadEnvelope(e.to_string()))?;
    if env.kdf.name != "scrypt" {
        return Err(KeyError::BadEnvelope(format!("kdf {}", env.kdf.name)));
    }
    if env.cipher.name != "nacl/secretbox" {
        return Err(KeyError::BadEnvelope(format!("cipher {}", env.cipher.name)));
    }
    let b = |field: &str, v: &str| {
        B64.decode(v)
            .map_err(|e| KeyError::BadEnvelope(format!("{field}: {e}")))
    };
    let salt = b("kdf.salt", &env.kdf.salt)?;
    let nonce = b("cipher.nonce", &env.cipher.nonce)?;
    let ct = b("ciphertext", &env.ciphertext)?;
    if nonce.len() != 24 {
        return Err(KeyError::BadEnvelope("cipher.nonce: not 24 bytes".into()));
    }
    let key = derive_key(
        password,
        &salt,
        env.kdf.params.N,
        env.kdf.params.r,
        env.kdf.params.p,
    )?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&key.into());
    let nonce = crypto_secretbox::Nonce::from_slice(&nonce);
    cipher
        .decrypt(nonce, ct.as_slice())
        .map_err(|_| KeyError::Decrypt)
}

/// Encrypts PKCS#8 DER into cosign's JSON envelope (scrypt N=65536 r=8 p=1).
pub fn encrypt_envelope(pkcs8: &[u8], password: &[u8]) -> Result<Vec<u8>, KeyError> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    let mut salt = [0u8; 32];
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut salt).map_err(|_| KeyError::Random)?;
    getrandom::fill(&mut nonce).map_err(|_| KeyError::Random)?;
    let key = derive_key(password, &salt, 65536, 8, 1)?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(&key.into());
    let ct = cipher
        .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), pkcs8)
        .map_err(|_| KeyError::Decrypt)?;
    let env = Envelope {
        kdf: Kdf {
            name: "scrypt".into(),
            params: ScryptParams {
                N: 65536,
                r: 8,
                p: 1,
            },
            salt: B64.encode(salt),
        },
        cipher: Cipher {
            name: "nacl/secretbox".into(),
            nonce: B64.encode(nonce),
        },
        ciphertext: B64.encode(ct),
    };
    serde_json::to_vec(&env).map_err(|e| KeyError::BadEnvelope(e.to_string()))
}

/// Loads a private key file: cosign encrypted (both labels) or plain PKCS#8 / SEC1 PEM.
pub fn load_private_key(text: &str, password: &[u8]) -> Result<SigningKey, KeyError> {
    for block in parse_pem(text)? {
        match block.label.as_str() {
            ENCRYPTED_SIGSTORE_LABEL | ENCRYPTED_COSIGN_LABEL => {
                return SigningKey::from_pkcs8_der(&decrypt_envelope(&block.der, password)?);
            }
            "PRIVATE KEY" => return SigningKey::from_pkcs8_der(&block.der),
            "EC PRIVATE KEY" => return SigningKey::from_sec1_der(&block.der),
            _ => {}
        }
    }
    Err(KeyError::NoPem(Some(ENCRYPTED_SIGSTORE_LABEL.into())))
}

/// The `cosign.key` text for a key (encrypted with `password`).
pub fn encrypted_key_pem(key: &SigningKey, password: &[u8]) -> Result<String, KeyError> {
    let env = encrypt_envelope(&key.to_pkcs8_der()?, password)?;
    Ok(encode_pem(ENCRYPTED_SIGSTORE_LABEL, &env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_roundtrip_and_encrypted_file() {
        let key = SigningKey::generate().unwrap();
        let sig = key.sign(b"hello").unwrap();
        let public = PublicKey::from_pem(&key.public_key().to_pem()).unwrap();
        public.verify(b"hello", &sig).unwrap();
        assert!(matches!(
            public.verify(b"hellO", &sig),
            Err(KeyError::BadSignature)
        ));
        let pem = encrypted_key_pem(&key, b"pw").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
        let back = load_private_key(&pem, b"pw").unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert!(matches!(
            load_private_key(&pem, b"wrong"),
            Err(KeyError::Decrypt)
        ));
    }

    #[test]
    fn prehash_matches_message_verification() {
        let key = SigningKey::generate().unwrap();
        let sig = key.sign(b"artifact").unwrap();
        let digest = HashAlg::Sha256.digest(b"artifact");
        key.public_key()
            .verify_prehashed(HashAlg::Sha256, &digest, &sig)
            .unwrap();
    }
}
