//! The secret patterns: well-known token formats, private keys, and secret-like keys with
//! high-entropy values.

use std::sync::OnceLock;

use regex::Regex;

/// One pattern. Group 1 of `pattern` (or the whole match) is the secret.
#[derive(Debug)]
pub struct SecretRule {
    /// Stable kebab-case id, e.g. `aws-access-key-id`.
    pub id: &'static str,
    /// What was found.
    pub description: &'static str,
    /// Cheap substrings of which at least one must be on the line (case-insensitive when
    /// `keywords_ignore_case`), checked before the regex runs.
    keywords: &'static [&'static str],
    keywords_ignore_case: bool,
    pattern: &'static str,
    /// Minimum Shannon entropy (bits per character) of the secret, to drop placeholders.
    pub min_entropy: f64,
}

/// A rule with its compiled regex.
#[derive(Debug)]
pub struct CompiledRule {
    /// The rule.
    pub rule: &'static SecretRule,
    /// The compiled pattern.
    pub regex: Regex,
}

impl CompiledRule {
    /// Whether a keyword of the rule occurs in `line` (`lower` is `line` lower-cased).
    pub fn may_match(&self, line: &str, lower: &str) -> bool {
        let hay = if self.rule.keywords_ignore_case {
            lower
        } else {
            line
        };
        self.rule.keywords.iter().any(|k| hay.contains(k))
    }
}

/// The rule id of the generic secret-like-key rule (it has extra filters).
pub const GENERIC: &str = "generic-secret";

/// Every pattern rule. (Kubernetes `Secret` manifests are found structurally, not here.)
pub static RULES: &[SecretRule] = &[
    SecretRule {
        id: "private-key",
        description: "Private key",
        keywords: &["PRIVATE KEY"],
        keywords_ignore_case: false,
        pattern: r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----",
        min_entropy: 0.0,
    },
    SecretRule {
        id: "aws-access-key-id",
        description: "AWS access key id",
        keywords: &["AKIA", "ASIA", "ABIA", "ACCA"],
        keywords_ignore_case: false,
        pattern: r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
        min_entropy: 3.0,
    },
    SecretRule {
        id: "aws-secret-access-key",
        description: "AWS secret access key",
        keywords: &["aws"],
        keywords_ignore_case: true,
        pattern: r#"(?i)aws_?(?:secret)_?(?:access)?_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        min_entropy: 3.5,
    },
    SecretRule {
        id: "github-token",
        description: "GitHub token",
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        keywords_ignore_case: false,
        pattern: r"\b((?:gh[pousr]_[A-Za-z0-9]{36,255})|(?:github_pat_[A-Za-z0-9_]{82}))\b",
        min_entropy: 3.0,
    },
    SecretRule {
        id: "gitlab-token",
        description: "GitLab personal access token",
        keywords: &["glpat-"],
        keywords_ignore_case: false,
        pattern: r"\b(glpat-[A-Za-z0-9_-]{20,})",
        min_entropy: 3.0,
    },
    SecretRule {
        id: "slack-token",
        description: "Slack token",
        keywords: &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
        keywords_ignore_case: false,
        pattern: r"\b(xox[abprs]-[A-Za-z0-9-]{10,})",
        min_entropy: 3.0,
    },
    SecretRule {
        id: "slack-webhook",
        description: "Slack incoming webhook URL",
        keywords: &["hooks.slack.com"],
        keywords_ignore_case: false,
        pattern: r"(https://hooks\.slack\.com/services/[A-Za-z0-9]+/[A-Za-z0-9]+/[A-Za-z0-9]+)",
        min_entropy: 3.0,
    },
    SecretRule {
        id: "stripe-key",
        description: "Stripe API key",
        keywords: &["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
        keywords_ignore_case: false,
        pattern: r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,})\b",
        min_entropy: 3.0,
    },
    SecretRule {
        id: "google-api-key",
        description: "Google API key",
        keywords: &["AIza"],
        keywords_ignore_case: false,
        pattern: r"\b(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)",
        min_entropy: 3.0,
    },
    SecretRule {
        id: "jwt",
        description: "JSON Web Token",
        keywords: &["eyJ"],
        keywords_ignore_case: false,
        pattern: r"\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})",
        min_entropy: 3.0,
    },
    SecretRule {
        id: GENERIC,
        description: "High-entropy value under a secret-like key",
        keywords: &[
            "pass",
            "pwd",
            "secret",
            "token",
            "apikey",
            "api_key",
            "api-key",
            "access_key",
            "accesskey",
            "private_key",
            "credential",
            "auth",
        ],
        keywords_ignore_case: true,
        pattern: r#"(?i)(?:^|[\s"'{,(])([A-Za-z0-9_.-]*(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|auth)[A-Za-z0-9_.-]*)["']?\s*(?::|=|:=)\s*["']?([^\s"'`,;)]+)"#,
        min_entropy: 3.5,
    },
];

/// The compiled rules, built once.
pub fn compiled() -> &'static [CompiledRule] {
    static COMPILED: OnceLock<Vec<CompiledRule>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        RULES
            .iter()
            // The patterns are constants covered by tests; one that did not compile would be
            // skipped rather than take the whole scan down.
            .filter_map(|rule| {
                Regex::new(rule.pattern)
                    .ok()
                    .map(|regex| CompiledRule { rule, regex })
            })
            .collect()
    })
}

/// Shannon entropy of `s` in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    let bytes = s.as_bytes();
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// Filters for the generic rule: `key` is the secret-like key, `value` its value.
pub fn generic_value_is_secret(key: &str, value: &str) -> bool {
    let key = key.to_ascii_lowercase();
    // References to secrets, not secrets: secretName, tokenPath, passwordFile, secretKeyRef...
    const NOT_VALUES: &[&str] = &[
        "name",
        "ref",
        "path",
        "file",
        "url",
        "uri",
        "type",
        "key_id",
        "keyid",
        "length",
        "mode",
        "policy",
        "provider",
        "enabled",
        "ttl",
        "expiry",
        "expiration",
    ];
    if NOT_VALUES.iter().any(|s| key.ends_with(s)) || key.contains("ref") {
        return false;
    }
    let v = value.trim_matches(|c| c == '"' || c == '\'');
    if v.len() < 12 || v.len() > 500 {
        return false;
    }
    // Placeholders and templates.
    if v.contains("${")
        || v.contains("{{")
        || v.starts_with('<')
        || v.starts_with('$')
        || v.starts_with('%')
        || v.contains("***")
        || v.to_ascii_lowercase().contains("changeme")
        || v.to_ascii_lowercase().contains("example")
        || v.to_ascii_lowercase().contains("placeholder")
    {
        return false;
    }
    let classes = [
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
    ]
    .iter()
    .filter(|&&x| x)
    .count();
    classes >= 2 && entropy(v) >= 3.5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_and_ids_are_unique() {
        assert_eq!(compiled().len(), RULES.len());
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
    }

    #[test]
    fn entropy_of_simple_strings() {
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn generic_filters() {
        assert!(!generic_value_is_secret(
            "secretName",
            "my-tls-secret-name-x"
        ));
        assert!(!generic_value_is_secret("password", "${DB_PASSWORD}"));
        assert!(!generic_value_is_secret("password", "short"));
        assert!(generic_value_is_secret("db_password", "Xk29fQm3LpZr8TwVb"));
    }
}
