//! apk version order (apk-tools `version.c`), used for Alpine, Wolfi and Chainguard.
//!
//! Grammar: `digits{.digits}[letter]{_suffix[digits]}[~hash][-rdigits]`. The order
//! is total: like `apk version -t` of the apk 2.x line (which produced OSV's Alpine
//! test data), comparison accepts a few invalid shapes (`6.6.2p1`, `1.2.r1`,
//! `1-r`, empty components) by reading missing digits as zero, and otherwise stops
//! at the first invalid token. Validity is a separate check: [`is_valid`] is apk's
//! own, [`is_valid_feed_version`] the looser APKBUILD rule OSV.dev applies to feeds.

use std::cmp::Ordering;

use super::numeric::cmp_digits;

/// Token kinds in the order apk uses to break ties when the kinds differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Pre-release suffixes sort below "no suffix" (value 5), post-release above.
fn suffix_value(s: &str) -> Option<u8> {
    Some(match s {
        "alpha" => 1,
        "beta" => 2,
        "pre" => 3,
        "rc" => 4,
        "cvs" => 6,
        "svn" => 7,
        "git" => 8,
        "hg" => 9,
        "p" => 10,
        _ => return None,
    })
}
const SUFFIX_NONE: u8 = 5;

struct Tokens<'a> {
    lenient: bool,
    rest: &'a str,
    kind: Kind,
    value: &'a str,
    suffix: u8,
    /// A `.` not followed by digits (accepted only when lenient). Two such
    /// components at the same place compare equal; against anything else the
    /// component counts as invalid, which sorts lowest.
    empty_component: bool,
}

impl<'a> Tokens<'a> {
    fn first(s: &'a str, lenient: bool) -> Self {
        let mut t = Tokens {
            lenient,
            rest: s,
            kind: Kind::InitialDigit,
            value: "",
            suffix: 0,
            empty_component: false,
        };
        t.digits();
        t
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let n = self.rest.bytes().take_while(|&b| f(b)).count();
        let (v, r) = self.rest.split_at(n);
        self.rest = r;
        v
    }

    fn digits(&mut self) {
        self.value = self.take_while(|b| b.is_ascii_digit());
        self.empty_component = self.value.is_empty() && self.kind == Kind::Digit;
        if self.value.is_empty() && !self.lenient {
            self.kind = Kind::Invalid;
        }
    }

    fn next(&mut self) {
        let Some(&c) = self.rest.as_bytes().first() else {
            self.kind = Kind::End;
            return;
        };
        match c {
            b'a'..=b'z' if self.kind <= Kind::Digit => {
                self.value = &self.rest[..1];
                self.rest = &self.rest[1..];
                self.kind = Kind::Letter;
            }
            b'.' | b'0'..=b'9'
                if self.kind <= Kind::Digit
                    || (c != b'.' && self.kind == Kind::Suffix)
                    || (c != b'.' && self.kind == Kind::Letter && self.lenient) =>
            {
                if c == b'.' {
                    self.rest = &self.rest[1..];
                }
                self.kind = if self.kind == Kind::Suffix {
                    Kind::SuffixNo
                } else {
                    Kind::Digit
                };
                self.digits();
            }
            b'_' if self.kind <= Kind::SuffixNo => {
                self.rest = &self.rest[1..];
                self.value = self.take_while(|b| b.is_ascii_lowercase());
                match suffix_value(self.value) {
                    Some(v) => {
                        self.suffix = v;
                        self.kind = Kind::Suffix;
                    }
                    None => self.kind = Kind::Invalid,
                }
            }
            b'~' if self.kind < Kind::CommitHash => {
                self.rest = &self.rest[1..];
                self.value = self.take_while(|b| b.is_ascii_hexdigit());
                self.kind = if self.value.is_empty() {
                    Kind::Invalid
                } else {
                    Kind::CommitHash
                };
            }
            b'-' if self.kind < Kind::RevisionNo && self.rest.starts_with("-r") => {
                self.rest = &self.rest[2..];
                self.kind = Kind::RevisionNo;
                self.digits();
            }
            _ => self.kind = Kind::Invalid,
        }
    }
}

fn token_cmp(a: &Tokens<'_>, b: &Tokens<'_>) -> Ordering {
    match a.kind {
        // A leading zero in a later component makes apk compare the digits as strings
        // (Gentoo rule): 1.01 < 1.1.
        Kind::Digit if a.value.starts_with('0') || b.value.starts_with('0') => a.value.cmp(b.value),
        Kind::Digit | Kind::InitialDigit | Kind::SuffixNo | Kind::RevisionNo => {
            cmp_digits(a.value, b.value)
        }
        Kind::Letter => a.value.cmp(b.value),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        _ => a.value.cmp(b.value),
    }
}

/// apk's order; total on every string.
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    let mut ta = Tokens::first(a, true);
    let mut tb = Tokens::first(b, true);
    while ta.kind == tb.kind && ta.kind < Kind::End && ta.empty_component == tb.empty_component {
        let o = token_cmp(&ta, &tb);
        if o != Ordering::Equal {
            return o;
        }
        ta.next();
        tb.next();
    }
    let effective = |t: &Tokens<'_>| {
        if t.empty_component {
            Kind::Invalid
        } else {
            t.kind
        }
    };
    let (ka, kb) = (effective(&ta), effective(&tb));
    if ka == kb {
        return Ordering::Equal;
    }
    // The version that goes on is newer, unless what follows is a pre-release suffix.
    if ta.kind == Kind::Suffix && ta.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if tb.kind == Kind::Suffix && tb.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    kb.cmp(&ka)
}

/// Whether apk accepts `v` as a version (`apk version --check`).
pub fn is_valid(v: &str) -> bool {
    let mut t = Tokens::first(v, false);
    while t.kind < Kind::End {
        t.next();
    }
    t.kind == Kind::End
}

/// OSV.dev's check for versions in the Alpine secdb feed (abuild's APKBUILD rule,
/// with the optional `_` before a suffix and `.r` revisions seen in real data).
pub fn is_valid_feed_version(v: &str) -> bool {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"^(\d+\.)*(\d+)[a-zA-Z]?(_?(?:alpha|beta|rc|pre|cvs|svn|git|hg|p)\d*)?([-.]r\d+)?$",
        )
        .ok()
    })
    .as_ref()
    .is_some_and(|re| re.is_match(v))
}
