//! Maven `ComparableVersion` order.
//!
//! A version is split into tokens at `.`, `-` and digit/letter transitions; each
//! token remembers its separator (a transition counts as `-`). Trailing "null"
//! tokens (`0`, empty, `ga`, `final`, `release`) are trimmed at the end and before
//! each `-`. Comparison pads the shorter list with null tokens that take the
//! other side's separator.

use std::cmp::Ordering;

use super::numeric::{cmp_digits, is_digits};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    /// `.` or `-` (`""` for the first token, treated like `.` when padding).
    prefix: char,
    value: String,
    is_null: bool,
}

const KEYWORDS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

fn keyword_order(s: &str) -> usize {
    KEYWORDS
        .iter()
        .position(|k| *k == s)
        .unwrap_or(KEYWORDS.len())
}

impl Token {
    /// `.qualifier` < `-qualifier` < `-number` < `.number`.
    fn kind_order(&self) -> u8 {
        match (is_digits(&self.value), self.prefix) {
            (true, '-') => 2,
            (true, _) => 3,
            (false, '-') => 1,
            (false, _) => 0,
        }
    }

    fn should_trim(&self) -> bool {
        self.value == "0" || self.value.is_empty()
    }

    fn null_like(other: &Token) -> Token {
        if other.prefix == '-' {
            Token {
                prefix: '-',
                value: String::new(),
                is_null: true,
            }
        } else {
            // `sp` is the only qualifier above the empty one, so padding against it
            // must use the empty qualifier rather than `0`.
            let value = if other.value == "sp" { "" } else { "0" };
            Token {
                prefix: '.',
                value: value.to_owned(),
                is_null: true,
            }
        }
    }

    fn same(&self, other: &Token) -> bool {
        self.prefix == other.prefix && self.value == other.value
    }

    fn cmp(&self, other: &Token) -> Ordering {
        if self.prefix != other.prefix {
            return self.kind_order().cmp(&other.kind_order());
        }
        let (an, bn) = (is_digits(&self.value), is_digits(&other.value));
        if an && bn {
            return cmp_digits(&self.value, &other.value);
        }
        // Numbers sort after qualifiers, unless the number is padding.
        if an && !self.is_null {
            return Ordering::Greater;
        }
        if bn && !other.is_null {
            return Ordering::Less;
        }
        let (ka, kb) = (keyword_order(&self.value), keyword_order(&other.value));
        if ka == KEYWORDS.len() && kb == KEYWORDS.len() {
            return self.value.cmp(&other.value);
        }
        ka.cmp(&kb)
    }
}

fn normalise(token: &str, followed_by_digit: bool) -> String {
    let t = token.to_lowercase();
    let t = match t.as_str() {
        "" => "0".to_owned(),
        "cr" => "rc".to_owned(),
        "ga" | "final" | "release" => String::new(),
        "a" if followed_by_digit => "alpha".to_owned(),
        "b" if followed_by_digit => "beta".to_owned(),
        "m" if followed_by_digit => "milestone".to_owned(),
        _ => t,
    };
    if is_digits(&t) {
        let trimmed = t.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        }
    } else {
        t
    }
}

fn parse(v: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut prefix = '.';
    for (idx, raw) in v.trim().split(['.', '-']).enumerate() {
        if idx > 0 {
            // The separator in front of this piece.
            let consumed: usize = v
                .trim()
                .split(['.', '-'])
                .take(idx)
                .map(|p| p.len() + 1)
                .sum();
            prefix = v.trim()[..consumed].chars().last().unwrap_or('.');
        }
        // Split at digit/letter transitions; later pieces count as `-` separated.
        let bytes = raw.as_bytes();
        let mut start = 0;
        let mut first = true;
        for i in 1..=bytes.len() {
            let boundary =
                i == bytes.len() || bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit();
            if !boundary {
                continue;
            }
            let piece = &raw[start..i];
            let followed_by_digit = i < bytes.len();
            tokens.push(Token {
                prefix: if first { prefix } else { '-' },
                value: normalise(piece, followed_by_digit),
                is_null: false,
            });
            first = false;
            start = i;
        }
        if bytes.is_empty() {
            tokens.push(Token {
                prefix,
                value: "0".to_owned(),
                is_null: false,
            });
        }
    }
    // Trim trailing nulls, then repeat before each remaining `-` from the end.
    let mut i = tokens.len().saturating_sub(1);
    while i > 0 {
        if tokens[i].should_trim() {
            tokens.remove(i);
            i -= 1;
            continue;
        }
        while tokens.get(i).is_some_and(|t| t.prefix != '-') {
            if i == 0 {
                break;
            }
            i -= 1;
        }
        if i == 0 {
            break;
        }
        i -= 1;
    }
    tokens
}

pub(super) fn compare(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (parse(a), parse(b));
    if ta.len() == tb.len() && ta.iter().zip(&tb).all(|(x, y)| x.same(y)) {
        return Ordering::Equal;
    }
    for i in 0..ta.len().max(tb.len()) {
        let left = match (ta.get(i), tb.get(i)) {
            (Some(t), _) => t.clone(),
            (None, Some(o)) => Token::null_like(o),
            (None, None) => break,
        };
        let right = match (tb.get(i), ta.get(i)) {
            (Some(t), _) => t.clone(),
            (None, Some(o)) => Token::null_like(o),
            (None, None) => break,
        };
        if left.same(&right) {
            continue;
        }
        return left.cmp(&right);
    }
    Ordering::Equal
}
