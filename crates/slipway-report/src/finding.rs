//! The `Finding` model: one outcome of one check on one object (or file), shared by
//! every engine of the platform (policies, KubeSec risk rules, secret detection,
//! vulnerabilities, signature checks).
//!
//! Engines build findings with [`Finding::new`] and the `with_*` methods; renderers
//! read them. Field names are part of the JSON output (see [`crate::json`]) and must
//! stay stable.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use slipway_model::{ObjectExt, ObjectKey, SourceLocation};

/// A check identifier that is not kebab-case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid check id `{id}`: expected kebab-case (lowercase letters and digits separated by single dashes)"
)]
pub struct InvalidCheckId {
    /// The rejected text.
    pub id: String,
}

/// The stable identifier of a check, in kebab-case (`run-as-non-root`,
/// `aws-access-key-id`, `vulnerable-package`).
///
/// It names the rule in SARIF, the test case in JUnit and the rule of a
/// PolicyReport when the finding has no policy rule of its own. Build it with
/// [`CheckId::new`] (strict) or [`CheckId::slugify`] (for names that come from
/// user files, such as Kyverno rule names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CheckId(String);

impl CheckId {
    /// Validates `id` as kebab-case: `[a-z0-9]+(-[a-z0-9]+)*`.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidCheckId> {
        let id = id.into();
        if is_kebab_case(&id) {
            Ok(Self(id))
        } else {
            Err(InvalidCheckId { id })
        }
    }

    /// Turns any name into a check id: lowercases ASCII letters, maps every run of
    /// other characters to one dash, and trims dashes. `Require_Labels` becomes
    /// `require-labels`. A name with no ASCII letter or digit becomes `unnamed`,
    /// because an empty id is not an id.
    pub fn slugify(name: &str) -> Self {
        let mut out = String::with_capacity(name.len());
        let mut dash = false;
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                if dash && !out.is_empty() {
                    out.push('-');
                }
                dash = false;
                out.push(c.to_ascii_lowercase());
            } else {
                dash = true;
            }
        }
        if out.is_empty() {
            out.push_str("unnamed");
        }
        Self(out)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CheckId {
    type Err = InvalidCheckId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl<'de> Deserialize<'de> for CheckId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

/// Whether `s` is kebab-case: non-empty groups of `[a-z0-9]` joined by single dashes.
pub fn is_kebab_case(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// How serious a failing finding is. Ordered from `Info` (least) to `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational only.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// Lower-case name (`critical` … `info`), as in PolicyReports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
            Self::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that names no severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{given}`: expected one of critical, high, medium, low, info")]
pub struct UnknownSeverity {
    /// The rejected text.
    pub given: String,
}

impl FromStr for Severity {
    type Err = UnknownSeverity;
    /// Case-insensitive; accepts `informational`, `moderate` and `negligible` as
    /// well, which vulnerability databases use.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Ok(Self::Critical),
            "high" => Ok(Self::High),
            "medium" | "moderate" => Ok(Self::Medium),
            "low" => Ok(Self::Low),
            "info" | "informational" | "negligible" => Ok(Self::Info),
            _ => Err(UnknownSeverity {
                given: s.to_string(),
            }),
        }
    }
}

/// The outcome of a check, with PolicyReport's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The object complies.
    Pass,
    /// The object violates the check.
    Fail,
    /// The object violates a check that does not block (audit, advisory).
    Warn,
    /// The check could not be evaluated; the message says why.
    Error,
    /// The check does not apply (preconditions false, not relevant for the kind).
    Skip,
}

impl Outcome {
    /// Every outcome, in summary order.
    pub const ALL: [Outcome; 5] = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Warn,
        Outcome::Error,
        Outcome::Skip,
    ];

    /// Lower-case name (`pass`, `fail`, `warn`, `error`, `skip`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Skip => "skip",
        }
    }

    /// `fail` and `warn`: the outcomes that ask the user to act.
    pub fn is_failing(self) -> bool {
        matches!(self, Self::Fail | Self::Warn)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The engine that produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Kyverno-compatible policy evaluation.
    Policy,
    /// Manifest risk scoring with KubeSec's rules.
    Kubesec,
    /// Secret detection.
    Secrets,
    /// Vulnerability matching.
    Vuln,
    /// Image signature verification.
    Signature,
}

impl Source {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::Kubesec => "kubesec",
            Self::Secrets => "secrets",
            Self::Vuln => "vuln",
            Self::Signature => "signature",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reference to the Kubernetes object a finding is about. Serialized with
/// Kubernetes' field names (`apiVersion`), like an `ObjectReference`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// `apps/v1`, `v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// Namespace, for namespaced objects that name one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid`, when the object came from a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl ObjectRef {
    /// A reference from its parts.
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        namespace: Option<&str>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.filter(|ns| !ns.is_empty()).map(str::to_string),
            name: name.into(),
            uid: None,
        }
    }

    /// The reference of an object value (missing fields read as empty).
    pub fn of(object: &Value) -> Self {
        let mut r = Self::new(
            object.api_version(),
            object.kind(),
            object.namespace(),
            object.name(),
        );
        r.uid = object
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .filter(|uid| !uid.is_empty())
            .map(str::to_string);
        r
    }

    /// Whether the object is cluster-scoped: its kind is a known cluster-scoped
    /// kind, or it names no namespace.
    pub fn is_cluster_scoped(&self) -> bool {
        self.namespace.is_none() || slipway_model::is_cluster_scoped(&self.kind)
    }
}

impl From<&ObjectKey> for ObjectRef {
    fn from(key: &ObjectKey) -> Self {
        Self::new(
            key.api_version.clone(),
            key.kind.clone(),
            key.namespace.as_deref(),
            key.name.clone(),
        )
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind/namespace/name`, or `Kind/name` without a namespace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// One outcome of one check on one object or file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check's stable id.
    pub check_id: CheckId,
    /// Which engine produced it.
    pub source: Source,
    /// How serious a failure of this check is (kept for passes too, so that
    /// reports can show what was checked).
    pub severity: Severity,
    /// The outcome.
    pub result: Outcome,
    /// One line naming the check (the same for every finding of the check).
    pub title: String,
    /// What was found on this object, with details.
    pub message: String,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
    /// A page explaining the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_uri: Option<String>,
    /// The object checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
    /// Where the object (or the secret, the lockfile entry) is in the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
    /// A category, as in the `policies.kyverno.io/category` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The policy name, for policy findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The rule name within the policy, as written by the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// KubeSec's score contribution of this rule (positive for good practice,
    /// negative for critical risks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    /// Engine-specific details (package, CVE ids, matched secret kind…).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
}

impl Finding {
    /// A finding with the required fields; add the rest with the `with_*` methods.
    pub fn new(
        check_id: CheckId,
        source: Source,
        severity: Severity,
        result: Outcome,
        title: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            check_id,
            source,
            severity,
            result,
            title: title.into(),
            message: message.into(),
            remediation: None,
            help_uri: None,
            object: None,
            location: None,
            category: None,
            policy: None,
            rule: None,
            score: None,
            properties: Map::new(),
        }
    }

    /// Sets the remediation hint.
    pub fn with_remediation(mut self, remediation: impl Into<String>) -> Self {
        self.remediation = Some(remediation.into());
        self
    }

    /// Sets the help page.
    pub fn with_help_uri(mut self, uri: impl Into<String>) -> Self {
        self.help_uri = Some(uri.into());
        self
    }

    /// Sets the object.
    pub fn with_object(mut self, object: ObjectRef) -> Self {
        self.object = Some(object);
        self
    }

    /// Sets the location.
    pub fn with_location(mut self, location: SourceLocation) -> Self {
        self.location = Some(location);
        self
    }

    /// Sets the category.
    pub fn with_category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Sets the policy and rule names.
    pub fn with_policy_rule(mut self, policy: impl Into<String>, rule: impl Into<String>) -> Self {
        self.policy = Some(policy.into());
        self.rule = Some(rule.into());
        self
    }

    /// Sets the KubeSec score.
    pub fn with_score(mut self, score: i64) -> Self {
        self.score = Some(score);
        self
    }

    /// Adds one property.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// The rule name for rule-keyed formats: the policy rule when set, else the check id.
    pub fn rule_name(&self) -> &str {
        self.rule.as_deref().unwrap_or(self.check_id.as_str())
    }
}

/// A problem in a check catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// An id is not kebab-case.
    #[error(transparent)]
    NotKebabCase(#[from] InvalidCheckId),
    /// Two checks share an id.
    #[error("check id `{id}` is used more than once")]
    Duplicate {
        /// The repeated id.
        id: String,
    },
}

/// Checks that every id of a check catalog is kebab-case and unique, reporting every
/// problem (engines call this from a unit test, like cargo-deny's `codes_unique`).
pub fn validate_catalog<'a>(
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<(), Vec<CatalogError>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut errors = Vec::new();
    for id in ids {
        if let Err(e) = CheckId::new(id) {
            errors.push(CatalogError::NotKebabCase(e));
        }
        if !seen.insert(id) {
            errors.push(CatalogError::Duplicate { id: id.to_string() });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_case_ids() {
        for ok in ["a", "run-as-non-root", "cve-2024-1", "x1"] {
            assert!(CheckId::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "A", "snake_case", "a b", "a/b", "é"] {
            let err = CheckId::new(bad).unwrap_err();
            assert_eq!(err.id, bad);
        }
    }

    #[test]
    fn slugify_gives_valid_ids() {
        let cases = [
            ("Require_Labels", "require-labels"),
            ("autogen-check-for-labels", "autogen-check-for-labels"),
            ("  --weird  name!! ", "weird-name"),
            ("émoji 🚀 rule", "moji-rule"),
            ("", "unnamed"),
            ("---", "unnamed"),
        ];
        for (input, expected) in cases {
            let id = CheckId::slugify(input);
            assert_eq!(id.as_str(), expected, "{input}");
            assert!(is_kebab_case(id.as_str()));
        }
    }

    #[test]
    fn check_id_deserialization_validates() {
        let ok: CheckId = serde_json::from_str("\"run-as-non-root\"").unwrap();
        assert_eq!(ok.as_str(), "run-as-non-root");
        let err = serde_json::from_str::<CheckId>("\"Run_As\"").unwrap_err();
        assert!(
            err.to_string().contains("invalid check id `Run_As`"),
            "{err}"
        );
    }

    #[test]
    fn catalog_validation_reports_every_problem() {
        assert_eq!(validate_catalog(["a-b", "c"]), Ok(()));
        let errors = validate_catalog(["a-b", "Bad", "a-b"]).unwrap_err();
        assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "invalid check id `Bad`: expected kebab-case (lowercase letters and digits separated by single dashes)",
                "check id `a-b` is used more than once",
            ]
        );
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Low > Severity::Info);
        assert_eq!("MODERATE".parse::<Severity>().unwrap(), Severity::Medium);
        assert_eq!(
            "urgent".parse::<Severity>().unwrap_err().to_string(),
            "unknown severity `urgent`: expected one of critical, high, medium, low, info"
        );
    }

    #[test]
    fn object_refs_from_values() {
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "shop", "uid": "1234"}});
        let r = ObjectRef::of(&pod);
        assert_eq!(r.to_string(), "Pod/shop/web");
        assert_eq!(r.uid.as_deref(), Some("1234"));
        assert!(!r.is_cluster_scoped());
        let ns = ObjectRef::of(&serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "shop"}}));
        assert!(ns.is_cluster_scoped());
        assert_eq!(ns.to_string(), "Namespace/shop");
    }
}
