//! Kyverno's wildcard matching (`*` and `?`).
//!
//! Kyverno matches names, labels and pattern values with IGLOU-EU/go-wildcard v1.0.3:
//! `*` matches any sequence of characters (also the empty one), `?` matches exactly one
//! character, every other character matches itself (case-sensitive, no escapes, no
//! character classes), and the pattern has to cover the whole text. An empty pattern
//! only matches the empty text.
//!
//! The matcher is the classic greedy two-pointer algorithm with backtracking to the last
//! `*`: linear in practice, no allocation for ASCII input, no regex compilation.

/// Returns whether `text` matches the wildcard `pattern` as a whole.
pub fn matches(pattern: &str, text: &str) -> bool {
    if pattern.is_empty() {
        return text.is_empty();
    }
    if pattern == "*" {
        return true;
    }
    if !contains_wildcard(pattern) {
        return pattern == text;
    }
    if pattern.is_ascii() && text.is_ascii() {
        // Bytes are characters here, so `?` consuming one byte consumes one character.
        match_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?')
    } else {
        // `?` must consume a whole character, as Go's rune-based matcher does.
        let p: Vec<char> = pattern.chars().collect();
        let t: Vec<char> = text.chars().collect();
        match_units(&p, &t, '*', '?')
    }
}

/// Returns whether `s` contains a wildcard character (`*` or `?`).
pub fn contains_wildcard(s: &str) -> bool {
    s.bytes().any(|b| b == b'*' || b == b'?')
}

fn match_units<T: PartialEq + Copy>(p: &[T], t: &[T], star: T, any: T) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position after the last `*` seen in the pattern and the text index it was tried at.
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == star {
            pi += 1;
            backtrack = Some((pi, ti));
            continue;
        }
        if pi < p.len() && (p[pi] == any || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
            continue;
        }
        match backtrack {
            Some((star_pi, star_ti)) => {
                // Let the last `*` swallow one more unit and retry from there.
                pi = star_pi;
                ti = star_ti + 1;
                backtrack = Some((star_pi, star_ti + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, text: &str, expected: bool) {
        assert_eq!(
            matches(pattern, text),
            expected,
            "pattern {pattern:?} text {text:?}"
        );
    }

    #[test]
    fn empty_pattern_matches_only_empty_text() {
        check("", "", true);
        check("", "a", false);
    }

    #[test]
    fn star_matches_everything() {
        check("*", "", true);
        check("*", "anything at all", true);
        check("**", "", true);
    }

    #[test]
    fn question_mark_is_exactly_one_char() {
        check("?", "", false);
        check("?", "a", true);
        check("?", "ab", false);
        check("?*", "", false);
        check("?*", "x", true);
        check("a?c", "abc", true);
        check("a?c", "ac", false);
    }

    #[test]
    fn question_mark_consumes_a_whole_unicode_char() {
        check("?", "µ", true);
        check("a?b", "aéb", true);
        check("??", "é", false);
    }

    #[test]
    fn literal_characters_and_case() {
        check("nginx", "nginx", true);
        check("nginx", "Nginx", false);
        check("a.b", "axb", false);
        check("[a]", "[a]", true);
        check("\\*", "\\x", true);
    }

    #[test]
    fn whole_string_is_required() {
        check("ngin", "nginx", false);
        check("*:latest", "nginx:latest", true);
        check("*:latest", "nginx:latest2", false);
        check("!*:latest", "nginx:latest", false);
    }

    #[test]
    fn backtracking() {
        check("da*da*da*", "daaadabadmanda", true);
        check("?a*da*d?*", "daaadabadmanda", true);
        check("*a*b*c", "aXbXcXc", true);
        check("*a*b*c", "aXbXcXd", false);
        check("a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false);
        check("*.example.com", "a.b.example.com", true);
    }

    #[test]
    fn contains_wildcard_detects_both_chars() {
        assert!(contains_wildcard("a*"));
        assert!(contains_wildcard("a?"));
        assert!(!contains_wildcard("abc"));
        assert!(!contains_wildcard(""));
    }
}
