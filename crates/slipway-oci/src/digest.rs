//! Content digests (`sha256:<hex>`): parsing, computing, and checking bytes against them.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;
use thiserror::Error;

/// Digest errors.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("invalid digest {0:?}: expected sha256:<64 hex digits>")]
    Invalid(String),
    #[error("content does not match digest {expected} (got {actual})")]
    Mismatch { expected: Digest, actual: Digest },
}

/// A validated `sha256:<hex>` digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    pub fn sha256_of(data: &[u8]) -> Self {
        Self {
            hex: hex::encode(sha2::Sha256::digest(data)),
        }
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            hex: hex::encode(bytes),
        }
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    pub fn bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // The hex was validated on construction.
        if let Ok(v) = hex::decode(&self.hex) {
            out.copy_from_slice(&v);
        }
        out
    }

    /// Errors unless `data` hashes to this digest.
    pub fn verify(&self, data: &[u8]) -> Result<(), DigestError> {
        let actual = Self::sha256_of(data);
        if &actual == self {
            Ok(())
        } else {
            Err(DigestError::Mismatch {
                expected: self.clone(),
                actual,
            })
        }
    }

    /// The cosign tag for an attachment: `sha256-<hex>` plus `.suffix` when given.
    pub fn tag(&self, suffix: Option<&str>) -> String {
        match suffix {
            Some(s) => format!("sha256-{}.{s}", self.hex),
            None => format!("sha256-{}", self.hex),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| DigestError::Invalid(s.to_string()))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::Invalid(s.to_string()));
        }
        Ok(Self {
            hex: hex.to_string(),
        })
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_verify_tag() {
        let d = Digest::sha256_of(b"{}");
        assert_eq!(
            d.to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        assert!(d.verify(b"{}").is_ok());
        assert!(matches!(d.verify(b"[]"), Err(DigestError::Mismatch { .. })));
        assert!("sha256:XYZ".parse::<Digest>().is_err());
        assert!(
            d.tag(Some("sig")).starts_with("sha256-44136fa3")
                && d.tag(Some("sig")).ends_with(".sig")
        );
    }
}
