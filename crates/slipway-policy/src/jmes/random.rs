//! `random(pattern)`: a random string matching a regular expression, as
//! Kyverno produces with `zach-klippenstein/goregen`.
//!
//! The pattern is parsed with `regex-syntax` and its tree walked, choosing
//! randomly among alternatives, class members and repetition counts.
//! Unbounded repetitions (`*`, `+`, `{n,}`) add at most
//! [`UNBOUNDED_EXTRA`] repeats so results stay short. Randomness comes from
//! the standard library's per-process random hasher keys; the values are not
//! for cryptographic use (neither are goregen's).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use regex_syntax::hir::{Class, Hir, HirKind};

/// The most repeats added beyond the minimum of an unbounded repetition.
const UNBOUNDED_EXTRA: u32 = 10;

/// The output size at which generation stops (guards `(a{1000}){1000}`).
const MAX_LEN: usize = 1 << 16;

struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        Rng(hasher.finish())
    }

    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Generates a random string matching `pattern`.
pub(crate) fn generate(pattern: &str) -> Result<String, String> {
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    let mut rng = Rng::new();
    walk(&hir, &mut rng, &mut out)?;
    Ok(out)
}

fn walk(hir: &Hir, rng: &mut Rng, out: &mut String) -> Result<(), String> {
    if out.len() > MAX_LEN {
        return Err("generated string too long".to_owned());
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(&String::from_utf8_lossy(&lit.0)),
        HirKind::Class(Class::Unicode(class)) => {
            let ranges = class.ranges();
            let total: u64 = ranges
                .iter()
                .map(|r| u64::from(r.end() as u32 - r.start() as u32) + 1)
                .sum();
            if total == 0 {
                return Err("empty character class".to_owned());
            }
            // Retry a few times in case the pick lands on a surrogate.
            for _ in 0..16 {
                let mut pick = rng.below(total);
                for r in ranges {
                    let size = u64::from(r.end() as u32 - r.start() as u32) + 1;
                    if pick < size {
                        let code = r.start() as u64 + pick;
                        if let Some(c) = u32::try_from(code).ok().and_then(char::from_u32) {
                            out.push(c);
                            return Ok(());
                        }
                        break;
                    }
                    pick -= size;
                }
            }
            out.push(ranges[0].start());
        }
        HirKind::Class(Class::Bytes(class)) => {
            let ranges = class.ranges();
            let total: u64 = ranges
                .iter()
                .map(|r| u64::from(r.end() - r.start()) + 1)
                .sum();
            if total == 0 {
                return Err("empty character class".to_owned());
            }
            let mut pick = rng.below(total);
            for r in ranges {
                let size = u64::from(r.end() - r.start()) + 1;
                if pick < size {
                    let byte = u8::try_from(u64::from(r.start()) + pick).unwrap_or(b'?');
                    out.push(if byte.is_ascii() { byte as char } else { '?' });
                    break;
                }
                pick -= size;
            }
        }
        HirKind::Repetition(rep) => {
            let max = rep.max.unwrap_or(rep.min.saturating_add(UNBOUNDED_EXTRA));
            let span = u64::from(max.saturating_sub(rep.min)) + 1;
            let count = u64::from(rep.min) + rng.below(span);
            for _ in 0..count {
                walk(&rep.sub, rng, out)?;
            }
        }
        HirKind::Capture(cap) => walk(&cap.sub, rng, out)?,
        HirKind::Concat(parts) => {
            for part in parts {
                walk(part, rng, out)?;
            }
        }
        HirKind::Alternation(alts) => {
            let i = usize::try_from(rng.below(alts.len() as u64)).unwrap_or(0);
            if let Some(alt) = alts.get(i) {
                walk(alt, rng, out)?;
            }
        }
    }
    Ok(())
}
