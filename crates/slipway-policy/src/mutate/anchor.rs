//! Anchor keys (`(k)`, `<(k)`, `+(k)`, `=(k)`, `X(k)`, `^(k)`) as Kyverno parses them.

/// The modifier in front of an anchor's parentheses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnchorKind {
    /// `(key)`
    Condition,
    /// `<(key)`
    Global,
    /// `+(key)`
    AddIfNotPresent,
    /// `=(key)`
    Equality,
    /// `X(key)`
    Negation,
    /// `^(key)`
    Existence,
}

/// A parsed anchor key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Anchor<'a> {
    pub(crate) kind: AnchorKind,
    pub(crate) key: &'a str,
}

/// Parses `^([+<=X^])?\((.+)\)$`; anything else is a plain key.
pub(crate) fn parse(s: &str) -> Option<Anchor<'_>> {
    let (kind, rest) = match s.as_bytes().first()? {
        b'(' => (AnchorKind::Condition, s),
        b'<' => (AnchorKind::Global, &s[1..]),
        b'+' => (AnchorKind::AddIfNotPresent, &s[1..]),
        b'=' => (AnchorKind::Equality, &s[1..]),
        b'X' => (AnchorKind::Negation, &s[1..]),
        b'^' => (AnchorKind::Existence, &s[1..]),
        _ => return None,
    };
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    if inner.is_empty() {
        return None;
    }
    Some(Anchor { kind, key: inner })
}

/// Kyverno's `ContainsCondition`: a conditional or a global anchor.
pub(crate) fn is_condition_or_global(a: &Anchor<'_>) -> bool {
    matches!(a.kind, AnchorKind::Condition | AnchorKind::Global)
}

/// The anchors the mutate preprocessing acts on (conditions, globals, add-if-absent).
pub(crate) fn is_mutation_anchor(a: &Anchor<'_>) -> bool {
    matches!(
        a.kind,
        AnchorKind::Condition | AnchorKind::Global | AnchorKind::AddIfNotPresent
    )
}

/// `true` when `s` is an anchor satisfying `pred`.
pub(crate) fn is(s: &str, pred: impl Fn(&Anchor<'_>) -> bool) -> bool {
    parse(s).is_some_and(|a| pred(&a))
}
