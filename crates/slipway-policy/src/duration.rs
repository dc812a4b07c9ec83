//! Go `time.Duration`: parsing (`time.ParseDuration`) and text (`Duration.String()`).
//!
//! Kyverno compares pattern operands and condition values as Go durations (`"<=1h"`,
//! `DurationGreaterThan`), and its JMESPath arithmetic and time functions print durations
//! the Go way, so both directions follow the Go standard library exactly:
//!
//! - grammar `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units `ns us µs μs ms s m h`; `"0"`
//!   (optionally signed) is the only number accepted without a unit; fractions are
//!   converted with the same float arithmetic as Go, so `"1.1h"` gives Go's nanoseconds;
//! - output like `"1h30m0s"`, `"1.5s"`, `"300ms"`, `"1µs"`, `"0s"`.

use std::fmt;
use std::str::FromStr;

/// A signed span of time in nanoseconds, like Go's `time.Duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub i64);

/// Why a duration could not be parsed or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text is not a Go duration.
    #[error("time: invalid duration {text:?}")]
    Invalid {
        /// The rejected text.
        text: String,
    },
    /// A number without a unit.
    #[error("time: missing unit in duration {text:?}")]
    MissingUnit {
        /// The rejected text.
        text: String,
    },
    /// A unit Go does not know.
    #[error("time: unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit {
        /// The unknown unit.
        unit: String,
        /// The rejected text.
        text: String,
    },
    /// The result does not fit in 64-bit nanoseconds.
    #[error("duration arithmetic overflowed")]
    Overflow,
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
}

const NANOSECOND: i64 = 1;
const MICROSECOND: i64 = 1_000;
const MILLISECOND: i64 = 1_000_000;
const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

impl Duration {
    /// The zero duration.
    pub const ZERO: Duration = Duration(0);

    /// Parses Go duration text (`time.ParseDuration`).
    pub fn parse(s: &str) -> Result<Duration, DurationError> {
        s.parse()
    }

    /// A duration of `secs` seconds (fractions truncated to nanoseconds like Go's
    /// `time.Duration(secs * float64(time.Second))`).
    pub fn from_secs_f64(secs: f64) -> Duration {
        Duration((secs * SECOND as f64) as i64)
    }

    /// Nanoseconds.
    pub fn as_nanos(&self) -> i64 {
        self.0
    }

    /// Seconds as a float (Go's `Duration.Seconds()`).
    pub fn as_secs_f64(&self) -> f64 {
        let sec = self.0 / SECOND;
        let nsec = self.0 % SECOND;
        sec as f64 + nsec as f64 / 1e9
    }

    /// `self + other`.
    pub fn checked_add(self, other: Duration) -> Result<Duration, DurationError> {
        self.0
            .checked_add(other.0)
            .map(Duration)
            .ok_or(DurationError::Overflow)
    }

    /// `self - other`.
    pub fn checked_sub(self, other: Duration) -> Result<Duration, DurationError> {
        self.0
            .checked_sub(other.0)
            .map(Duration)
            .ok_or(DurationError::Overflow)
    }

    /// `self × factor`, computed like Kyverno's `multiply` (through float seconds).
    pub fn mul_f64(self, factor: f64) -> Duration {
        Duration::from_secs_f64(self.as_secs_f64() * factor)
    }

    /// `self ÷ divisor`, computed like Kyverno's `divide` (through float seconds).
    pub fn div_f64(self, divisor: f64) -> Result<Duration, DurationError> {
        if divisor == 0.0 {
            return Err(DurationError::DivisionByZero);
        }
        Ok(Duration::from_secs_f64(self.as_secs_f64() / divisor))
    }

    /// `self ÷ other` as a float ratio of seconds.
    pub fn ratio(self, other: Duration) -> Result<f64, DurationError> {
        if other.0 == 0 {
            return Err(DurationError::DivisionByZero);
        }
        Ok(self.as_secs_f64() / other.as_secs_f64())
    }

    /// `self % other` (Go's integer remainder, sign of the dividend).
    pub fn checked_rem(self, other: Duration) -> Result<Duration, DurationError> {
        if other.0 == 0 {
            return Err(DurationError::DivisionByZero);
        }
        Ok(Duration(self.0.wrapping_rem(other.0)))
    }
}

/// Go's `leadingInt`: digits as u64, `None` on overflow.
fn leading_int(s: &[u8]) -> Option<(u64, usize)> {
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if x > (1u64 << 63) / 10 {
            return None;
        }
        x = x * 10 + u64::from(s[i] - b'0');
        if x > 1u64 << 63 {
            return None;
        }
        i += 1;
    }
    Some((x, i))
}

/// Go's `leadingFraction`: digits after the point, their scale, and the consumed length.
fn leading_fraction(s: &[u8]) -> (u64, f64, usize) {
    let mut x: u64 = 0;
    let mut scale = 1.0f64;
    let mut overflow = false;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if !overflow {
            if x > ((1u64 << 63) - 1) / 10 {
                overflow = true;
            } else {
                let y = x * 10 + u64::from(s[i] - b'0');
                if y > 1u64 << 63 {
                    overflow = true;
                } else {
                    x = y;
                    scale *= 10.0;
                }
            }
        }
        i += 1;
    }
    (x, scale, i)
}

fn unit_nanos(unit: &str) -> Option<u64> {
    let n = match unit {
        "ns" => NANOSECOND,
        "us" | "µs" | "μs" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    };
    Some(n as u64)
}

/// Why the core parser rejected a text; converted to [`DurationError`] only when the
/// caller wants a message, so failed attempts in hot comparisons do not allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    Invalid,
    MissingUnit,
    /// Byte range of the unknown unit.
    UnknownUnit(usize, usize),
}

fn parse_core(orig: &str) -> Result<Duration, Reject> {
    let all = orig.as_bytes();
    let mut s = all;
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(Duration(0));
    }
    if s.is_empty() {
        return Err(Reject::Invalid);
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(Reject::Invalid);
        }
        let (mut v, used) = leading_int(s).ok_or(Reject::Invalid)?;
        let pre = used > 0;
        s = &s[used..];
        let mut f = 0u64;
        let mut scale = 1.0f64;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let (fx, fscale, fused) = leading_fraction(s);
            f = fx;
            scale = fscale;
            post = fused > 0;
            s = &s[fused..];
        }
        if !pre && !post {
            return Err(Reject::Invalid);
        }
        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(Reject::MissingUnit);
        }
        let start = all.len() - s.len();
        // The unit ends before an ASCII byte or at the end, so this is a char boundary.
        let unit = orig.get(start..start + unit_len).ok_or(Reject::Invalid)?;
        s = &s[unit_len..];
        let unit_ns = unit_nanos(unit).ok_or(Reject::UnknownUnit(start, start + unit_len))?;
        if v > (1u64 << 63) / unit_ns {
            return Err(Reject::Invalid);
        }
        v *= unit_ns;
        if f > 0 {
            // Same float arithmetic as Go, so fractional hours give Go's nanoseconds.
            v += (f as f64 * (unit_ns as f64 / scale)) as u64;
            if v > 1u64 << 63 {
                return Err(Reject::Invalid);
            }
        }
        total = total.checked_add(v).ok_or(Reject::Invalid)?;
        if total > 1u64 << 63 {
            return Err(Reject::Invalid);
        }
    }
    if neg {
        return Ok(Duration((total as i64).wrapping_neg()));
    }
    if total > (1u64 << 63) - 1 {
        return Err(Reject::Invalid);
    }
    Ok(Duration(total as i64))
}

impl Duration {
    /// Parses Go duration text without building an error (for hot comparison paths).
    pub fn parse_opt(s: &str) -> Option<Duration> {
        parse_core(s).ok()
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(orig: &str) -> Result<Self, Self::Err> {
        parse_core(orig).map_err(|reject| match reject {
            Reject::Invalid => DurationError::Invalid {
                text: orig.to_string(),
            },
            Reject::MissingUnit => DurationError::MissingUnit {
                text: orig.to_string(),
            },
            Reject::UnknownUnit(a, b) => DurationError::UnknownUnit {
                unit: orig[a..b].to_string(),
                text: orig.to_string(),
            },
        })
    }
}

/// Writes `v / 10^prec` fraction digits (".123", trailing zeros and an empty fraction
/// omitted) and returns the integer part, like Go's `fmtFrac`.
fn push_frac(out: &mut String, v: u64, prec: u32) -> u64 {
    let div = 10u64.pow(prec);
    let frac = v % div;
    if frac != 0 {
        let mut digits = format!("{frac:0width$}", width = prec as usize);
        while digits.ends_with('0') {
            digits.pop();
        }
        out.push('.');
        out.push_str(&digits);
    }
    v / div
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.0 < 0;
        let u = self.0.unsigned_abs();
        if u == 0 {
            return f.write_str("0s");
        }
        let mut out = String::with_capacity(24);
        if neg {
            out.push('-');
        }
        if u < SECOND as u64 {
            let (prec, unit) = if u < MICROSECOND as u64 {
                (0, "ns")
            } else if u < MILLISECOND as u64 {
                (3, "µs")
            } else {
                (6, "ms")
            };
            let mut frac = String::new();
            let int = push_frac(&mut frac, u, prec);
            out.push_str(&int.to_string());
            out.push_str(&frac);
            out.push_str(unit);
        } else {
            let mut frac = String::new();
            let secs = push_frac(&mut frac, u, 9);
            let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
            if h > 0 {
                out.push_str(&format!("{h}h{m}m"));
            } else if secs >= 60 {
                out.push_str(&format!("{m}m"));
            }
            out.push_str(&s.to_string());
            out.push_str(&frac);
            out.push('s');
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> i64 {
        Duration::parse(s)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .0
    }

    fn check_string(nanos: i64, expected: &str) {
        assert_eq!(Duration(nanos).to_string(), expected, "{nanos}ns");
    }

    #[test]
    fn parses_units() {
        assert_eq!(d("1h30m"), 90 * MINUTE);
        assert_eq!(d("90s"), 90 * SECOND);
        assert_eq!(d("300ms"), 300 * MILLISECOND);
        assert_eq!(d("1us"), MICROSECOND);
        assert_eq!(d("1µs"), MICROSECOND);
        assert_eq!(d("1μs"), MICROSECOND);
        assert_eq!(d("5ns"), 5);
        assert_eq!(
            d("1h1m1s1ms1us1ns"),
            HOUR + MINUTE + SECOND + MILLISECOND + MICROSECOND + 1
        );
    }

    #[test]
    fn parses_fractions_and_signs() {
        assert_eq!(d("1.5h"), 90 * MINUTE);
        assert_eq!(d(".5s"), 500 * MILLISECOND);
        assert_eq!(d("1.s"), SECOND);
        assert_eq!(d("-2m"), -2 * MINUTE);
        assert_eq!(d("+2m"), 2 * MINUTE);
        assert_eq!(d("0"), 0);
        assert_eq!(d("-0"), 0);
        assert_eq!(d("0s"), 0);
        assert_eq!(d("1.0000000000000000001s"), SECOND);
    }

    #[test]
    fn rejects_non_durations() {
        for bad in [
            "",
            "10",
            "00",
            "1",
            "h",
            ".s",
            "1hm",
            "1 h",
            "1d",
            "1H",
            "--1s",
            "9223372036854775808ns",
            "-",
            "1.5.5s",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad:?} must not parse");
        }
        assert!(matches!(
            Duration::parse("10"),
            Err(DurationError::MissingUnit { .. })
        ));
        assert!(matches!(
            Duration::parse("1d"),
            Err(DurationError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn extreme_values() {
        assert_eq!(d("-9223372036854775808ns"), i64::MIN);
        assert_eq!(d("9223372036854775807ns"), i64::MAX);
        assert!(Duration::parse("2562048h").is_err());
    }

    #[test]
    fn formats_like_go() {
        check_string(0, "0s");
        check_string(1, "1ns");
        check_string(1100, "1.1µs");
        check_string(2_200_000, "2.2ms");
        check_string(300 * MILLISECOND, "300ms");
        check_string(1_500_000_000, "1.5s");
        check_string(90 * SECOND, "1m30s");
        check_string(90 * MINUTE, "1h30m0s");
        check_string(HOUR, "1h0m0s");
        check_string(-2 * MINUTE, "-2m0s");
        check_string(MINUTE + 500 * MILLISECOND, "1m0.5s");
        check_string(i64::MIN, "-2562047h47m16.854775808s");
        check_string(i64::MAX, "2562047h47m16.854775807s");
    }

    #[test]
    fn round_trips() {
        for s in [
            "1h30m0s", "1.5s", "300ms", "1µs", "0s", "-1m0.5s", "100h0m0s",
        ] {
            assert_eq!(Duration::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn arithmetic() {
        let a = Duration::parse("1h").unwrap();
        let b = Duration::parse("30m").unwrap();
        assert_eq!(a.checked_add(b).unwrap().to_string(), "1h30m0s");
        assert_eq!(b.checked_sub(a).unwrap().to_string(), "-30m0s");
        assert_eq!(b.mul_f64(2.0).to_string(), "1h0m0s");
        assert_eq!(a.div_f64(4.0).unwrap().to_string(), "15m0s");
        assert_eq!(a.ratio(b).unwrap(), 2.0);
        assert_eq!(
            a.checked_rem(Duration::parse("25m").unwrap())
                .unwrap()
                .to_string(),
            "10m0s"
        );
        assert!(a.div_f64(0.0).is_err());
        assert!(Duration(i64::MAX).checked_add(Duration(1)).is_err());
        assert_eq!(Duration::from_secs_f64(1.5).to_string(), "1.5s");
    }
}
