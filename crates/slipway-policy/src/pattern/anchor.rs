//! Anchor keys of Kyverno patterns: `(k)`, `=(k)`, `^(k)`, `X(k)`, `<(k)`, `+(k)`.
//!
//! Kyverno recognises an anchor with `^([+<=X^])?\((.+)\)$` after trimming spaces; any
//! other key (including `!(k)` or `((k)`-like typos that do not match) is a plain key.

/// The kind of an anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnchorKind {
    /// `(key)`: the enclosing map only applies when the key's value matches.
    Condition,
    /// `<(key)`: the whole rule only applies when the key's value matches.
    Global,
    /// `^(key)`: each pattern element must match some list element.
    Existence,
    /// `=(key)`: checked only when the key is present.
    Equality,
    /// `X(key)`: the key must be absent.
    Negation,
    /// `+(key)`: mutate only, add when absent.
    AddIfNotPresent,
}

/// A parsed anchor key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor<'a> {
    /// What the anchor does.
    pub kind: AnchorKind,
    /// The resource key inside the parentheses.
    pub key: &'a str,
}

/// Parses an anchor key; `None` for a plain key.
pub fn parse(raw: &str) -> Option<Anchor<'_>> {
    let s = raw.trim();
    let inner = s.strip_suffix(')')?;
    let (kind, rest) = match inner.as_bytes().first()? {
        b'(' => (AnchorKind::Condition, &inner[1..]),
        b'+' => (AnchorKind::AddIfNotPresent, inner[1..].strip_prefix('(')?),
        b'<' => (AnchorKind::Global, inner[1..].strip_prefix('(')?),
        b'=' => (AnchorKind::Equality, inner[1..].strip_prefix('(')?),
        b'X' => (AnchorKind::Negation, inner[1..].strip_prefix('(')?),
        b'^' => (AnchorKind::Existence, inner[1..].strip_prefix('(')?),
        _ => return None,
    };
    if rest.is_empty() {
        return None;
    }
    Some(Anchor { kind, key: rest })
}

/// Whether a key is one of the anchors handled in the first phase of map validation
/// (condition, existence, equality, negation).
pub fn is_phase_one(kind: AnchorKind) -> bool {
    matches!(
        kind,
        AnchorKind::Condition | AnchorKind::Existence | AnchorKind::Equality | AnchorKind::Negation
    )
}

/// Whether a key takes part in Kyverno's "anchor key missing in the resource" bookkeeping.
pub fn is_tracked(kind: AnchorKind) -> bool {
    matches!(
        kind,
        AnchorKind::Condition | AnchorKind::Existence | AnchorKind::Negation
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expected: Option<(AnchorKind, &str)>) {
        assert_eq!(parse(raw).map(|a| (a.kind, a.key)), expected, "{raw:?}");
    }

    #[test]
    fn recognises_every_modifier() {
        check("(name)", Some((AnchorKind::Condition, "name")));
        check("=(name)", Some((AnchorKind::Equality, "name")));
        check("^(name)", Some((AnchorKind::Existence, "name")));
        check("X(name)", Some((AnchorKind::Negation, "name")));
        check("<(name)", Some((AnchorKind::Global, "name")));
        check("+(name)", Some((AnchorKind::AddIfNotPresent, "name")));
    }

    #[test]
    fn plain_keys_and_edge_cases() {
        check("name", None);
        check("()", None);
        check("=()", None);
        check("!(name)", None);
        check("x(name)", None);
        check("=name)", None);
        check("(name", None);
        check(" (name) ", Some((AnchorKind::Condition, "name")));
        check("((a))", Some((AnchorKind::Condition, "(a)")));
        check("(a)(b)", Some((AnchorKind::Condition, "a)(b")));
        check(
            "(app.kubernetes.io/*)",
            Some((AnchorKind::Condition, "app.kubernetes.io/*")),
        );
    }
}
