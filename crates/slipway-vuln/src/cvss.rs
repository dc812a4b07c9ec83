//! Severity: CVSS v2/v3.0/v3.1/v4.0 base scores (via the RustSec `cvss` crate,
//! which reproduces the FIRST reference calculators on every conformance vector)
//! and the Trivy severity buckets.

use std::str::FromStr;

use serde::Serialize;

/// A vector that could not be scored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CVSS vector `{vector}`: {reason}")]
pub struct CvssError {
    /// The vector as given.
    pub vector: String,
    /// The parser's complaint.
    pub reason: String,
}

/// CVSS major version of a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CvssVersion {
    /// 2.0 (no prefix).
    V2,
    /// 3.0 or 3.1.
    V3,
    /// 4.0.
    V4,
}

/// A scored vector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvssScore {
    /// Vector (trailing `/` removed).
    pub vector: String,
    /// Version family.
    pub version: CvssVersion,
    /// Base score 0.0 to 10.0.
    pub score: f64,
}

/// Score a vector string (`CVSS:3.1/AV:N/...`, `CVSS:4.0/...`, or a bare v2 vector).
///
/// # Errors
/// When the vector does not parse.
pub fn score(vector: &str) -> Result<CvssScore, CvssError> {
    // OSV data sometimes ends a vector with a stray `/` (trivy-db strips it too).
    let v = vector.trim().trim_end_matches('/');
    check_base_metrics(v).map_err(|reason| CvssError {
        vector: vector.to_owned(),
        reason,
    })?;
    let parsed = cvss::Cvss::from_str(v).map_err(|e| CvssError {
        vector: vector.to_owned(),
        reason: e.to_string(),
    })?;
    let version = if v.starts_with("CVSS:4") {
        CvssVersion::V4
    } else if v.starts_with("CVSS:3") {
        CvssVersion::V3
    } else {
        CvssVersion::V2
    };
    Ok(CvssScore {
        vector: v.to_owned(),
        version,
        score: parsed.score(),
    })
}

/// The `cvss` crate accepts vectors with base metrics missing; the spec does not.
fn check_base_metrics(v: &str) -> Result<(), String> {
    const V2: &[&str] = &["AV", "AC", "Au", "C", "I", "A"];
    const V3: &[&str] = &["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
    const V4: &[&str] = &[
        "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
    ];
    let (required, body) = if let Some(rest) = v.strip_prefix("CVSS:4.0/") {
        (V4, rest)
    } else if let Some(rest) = v
        .strip_prefix("CVSS:3.0/")
        .or_else(|| v.strip_prefix("CVSS:3.1/"))
    {
        (V3, rest)
    } else if v.starts_with("CVSS:") {
        return Err("unsupported CVSS version".to_owned());
    } else {
        (V2, v)
    };
    let mut seen: Vec<&str> = Vec::new();
    for part in body.split('/') {
        let Some((name, _)) = part.split_once(':') else {
            return Err(format!("malformed metric `{part}`"));
        };
        if seen.contains(&name) {
            return Err(format!("metric `{name}` given twice"));
        }
        seen.push(name);
    }
    match required.iter().find(|m| !seen.contains(m)) {
        Some(m) => Err(format!("base metric `{m}` missing")),
        None => Ok(()),
    }
}

/// Trivy's severity buckets, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SeverityLevel {
    /// No rating available (or a 0.0 score).
    Unknown,
    /// 0.1 to 3.9.
    Low,
    /// 4.0 to 6.9.
    Medium,
    /// 7.0 to 8.9.
    High,
    /// 9.0 to 10.0.
    Critical,
}

impl SeverityLevel {
    /// Upper-case name as Trivy prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            SeverityLevel::Unknown => "UNKNOWN",
            SeverityLevel::Low => "LOW",
            SeverityLevel::Medium => "MEDIUM",
            SeverityLevel::High => "HIGH",
            SeverityLevel::Critical => "CRITICAL",
        }
    }

    /// trivy-db `scoreToSeverity`: 0.0 is UNKNOWN, not "none".
    pub fn from_score(score: f64) -> Self {
        if score >= 9.0 {
            SeverityLevel::Critical
        } else if score >= 7.0 {
            SeverityLevel::High
        } else if score >= 4.0 {
            SeverityLevel::Medium
        } else if score > 0.0 {
            SeverityLevel::Low
        } else {
            SeverityLevel::Unknown
        }
    }

    /// A rating word from `database_specific.severity`, an Ubuntu priority or a
    /// Debian urgency (`MODERATE` is MEDIUM, `negligible` is LOW).
    pub fn from_word(word: &str) -> Option<Self> {
        Some(match word.trim().to_ascii_lowercase().as_str() {
            "critical" => SeverityLevel::Critical,
            "high" | "important" => SeverityLevel::High,
            "medium" | "moderate" => SeverityLevel::Medium,
            "low" | "negligible" | "unimportant" => SeverityLevel::Low,
            _ => return None,
        })
    }
}

impl FromStr for SeverityLevel {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("unknown") {
            return Ok(SeverityLevel::Unknown);
        }
        SeverityLevel::from_word(s)
            .filter(|_| {
                !s.eq_ignore_ascii_case("negligible") && !s.eq_ignore_ascii_case("unimportant")
            })
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}

/// A severity name that is not UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{0}` (expected UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL)")]
pub struct UnknownSeverity(pub String);

impl std::fmt::Display for SeverityLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_the_spec_examples() {
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
                .unwrap()
                .score,
            9.8
        );
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H/")
                .unwrap()
                .score,
            7.5
        );
        assert!(score("CVSS:3.1/AV:N").is_err());
    }

    #[test]
    fn buckets_follow_trivy() {
        assert_eq!(SeverityLevel::from_score(0.0), SeverityLevel::Unknown);
        assert_eq!(SeverityLevel::from_score(9.0), SeverityLevel::Critical);
        assert_eq!(
            SeverityLevel::from_word("MODERATE"),
            Some(SeverityLevel::Medium)
        );
    }
}
