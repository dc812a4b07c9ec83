//! Expected keyless identities: a certificate SAN and OIDC issuer, each matched exactly or by
//! an (unanchored, as in cosign) regular expression.

use regex::Regex;

/// How one field is matched.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Regex(Regex),
    Any,
}

impl Matcher {
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
            Matcher::Any => true,
        }
    }
}

/// A (SAN, issuer) pair the signing certificate must carry.
#[derive(Debug, Clone)]
pub struct Identity {
    pub san: Matcher,
    pub issuer: Matcher,
}

impl Identity {
    /// Exact SAN and issuer.
    pub fn exact(san: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            san: Matcher::Exact(san.into()),
            issuer: Matcher::Exact(issuer.into()),
        }
    }

    pub fn matches(&self, sans: &[String], issuer: Option<&str>) -> bool {
        let issuer_ok = match issuer {
            Some(i) => self.issuer.matches(i),
            None => matches!(self.issuer, Matcher::Any),
        };
        issuer_ok && sans.iter().any(|s| self.san.matches(s))
    }
}
