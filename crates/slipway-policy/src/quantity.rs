//! Kubernetes `resource.Quantity`: parsing, exact comparison, arithmetic and canonical text.
//!
//! Kyverno compares pattern operands and condition values as quantities
//! (`memory: "<=1Gi"`, `GreaterThan` on `"500m"`), and its JMESPath arithmetic functions
//! compute with them, so this module follows `k8s.io/apimachinery/pkg/api/resource`:
//!
//! - grammar: optional sign, digits with an optional fraction (`"1."`, `".5"` and even a
//!   bare suffix such as `"Mi"` are accepted: a missing number is zero), then a suffix:
//!   decimal SI (`n u m "" k M G T P E`), binary SI (`Ki Mi Gi Ti Pi Ei`) or a decimal
//!   exponent (`e3`, `E-2`, `e+6`);
//! - values are kept exactly, rounded up (away from zero) to a multiple of 10⁻⁹ as
//!   Kubernetes does on parse, in an `i128` count of nano-units, so `"1Gi"` and
//!   `"1073741824"` compare equal without any float rounding;
//! - [`Display`](std::fmt::Display) gives Kubernetes' canonical form (`"1500m"`, `"2Gi"`,
//!   `"1536Mi"`, `"1e3"`), keeping the format (decimal SI, binary SI, exponent) of the
//!   parsed text like `Quantity.String()`.
//!
//! Values beyond ±1.7·10²⁹ do not fit and are rejected with [`QuantityError::Overflow`]
//! (Kubernetes would keep them as big decimals; no real manifest uses such numbers).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Nano-units per unit.
const NANO: i128 = 1_000_000_000;
/// Kubernetes caps binary-SI quantities at `2^63 - 1` units when parsing.
const MAX_BINARY_UNITS: i128 = i64::MAX as i128;

/// How a quantity is written, kept from parsing as Kubernetes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `"500m"`, `"2k"`, `"10"`.
    DecimalSi,
    /// `"2Gi"`, `"512Mi"`.
    BinarySi,
    /// `"1e3"`.
    DecimalExponent,
}

/// A Kubernetes resource quantity.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    /// The value in units of 10⁻⁹.
    nanos: i128,
    format: Format,
    /// Number of fractional decimal digits of Kubernetes' internal decimal (its `inf.Dec`
    /// scale). Only Kyverno's quantity/number division depends on it.
    dec_scale: i32,
}

/// Why a quantity could not be parsed or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The text is not a quantity.
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text:?}"
    )]
    Format {
        /// The rejected text.
        text: String,
    },
    /// The value does not fit in the supported range.
    #[error("quantity {text:?} is out of the supported range")]
    Overflow {
        /// The value or operation that overflowed.
        text: String,
    },
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
}

impl Quantity {
    /// The zero quantity (`"0"`).
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSi,
        dec_scale: 0,
    };

    /// A quantity of `value` whole units in the given format.
    pub fn from_units(value: i64, format: Format) -> Quantity {
        Quantity {
            nanos: i128::from(value) * NANO,
            format,
            dec_scale: 0,
        }
    }

    /// A quantity of `nanos` units of 10⁻⁹ in the given format.
    pub fn from_nanos(nanos: i128, format: Format) -> Quantity {
        Quantity {
            nanos,
            format,
            dec_scale: 9,
        }
    }

    /// The exact value in units of 10⁻⁹.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The format kept from parsing.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value as the nearest `f64` (Kubernetes' `AsApproximateFloat64`).
    pub fn as_f64(&self) -> f64 {
        let whole = self.nanos / NANO;
        let frac = self.nanos % NANO;
        whole as f64 + frac as f64 / 1e9
    }

    /// The value when it is a whole number that fits in an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        if self.nanos % NANO != 0 {
            return None;
        }
        i64::try_from(self.nanos / NANO).ok()
    }

    /// `self + other`, in the format of `self` (Kubernetes `Quantity.Add`).
    pub fn checked_add(&self, other: &Quantity) -> Result<Quantity, QuantityError> {
        let nanos = self
            .nanos
            .checked_add(other.nanos)
            .ok_or_else(|| overflow("addition"))?;
        Ok(Quantity {
            nanos,
            format: self.format,
            dec_scale: self.dec_scale.max(other.dec_scale),
        })
    }

    /// `self - other`, in the format of `self` (Kubernetes `Quantity.Sub`).
    pub fn checked_sub(&self, other: &Quantity) -> Result<Quantity, QuantityError> {
        let nanos = self
            .nanos
            .checked_sub(other.nanos)
            .ok_or_else(|| overflow("subtraction"))?;
        Ok(Quantity {
            nanos,
            format: self.format,
            dec_scale: self.dec_scale.max(other.dec_scale),
        })
    }

    /// `self × factor`, exact, in the format of `self`. A product finer than 10⁻⁹ is rounded
    /// away from zero to the next nano-unit.
    pub fn checked_mul(&self, factor: &Quantity) -> Result<Quantity, QuantityError> {
        let product = self
            .nanos
            .checked_mul(factor.nanos)
            .ok_or_else(|| overflow("multiplication"))?;
        let nanos = div_round_away(product, NANO);
        Ok(Quantity {
            nanos,
            format: self.format,
            dec_scale: (self.dec_scale + factor.dec_scale).min(9),
        })
    }

    /// `self × factor` for a JSON number, as Kyverno's `multiply` does: the number is read
    /// as a quantity from its shortest decimal text and the product is exact.
    pub fn checked_mul_f64(&self, factor: f64) -> Result<Quantity, QuantityError> {
        let factor = Quantity::from_f64(factor)?;
        self.checked_mul(&factor)
    }

    /// `self ÷ divisor` for a quantity divisor, truncated toward zero at the larger decimal
    /// scale of the two operands (Kyverno's `divide` of a quantity by a number, which uses
    /// `inf.Dec.QuoRound(.., RoundDown)`), in the format of `self`.
    pub fn checked_div(&self, divisor: &Quantity) -> Result<Quantity, QuantityError> {
        if divisor.nanos == 0 {
            return Err(QuantityError::DivisionByZero);
        }
        let scale = self.dec_scale.max(divisor.dec_scale).clamp(0, 9);
        // Quotient in units of 10^-scale, truncated: nanos_a * 10^scale / nanos_b.
        let pow = 10i128.pow(scale as u32);
        let numerator = self
            .nanos
            .checked_mul(pow)
            .ok_or_else(|| overflow("division"))?;
        let quotient = numerator / divisor.nanos;
        let nanos = quotient
            .checked_mul(10i128.pow((9 - scale) as u32))
            .ok_or_else(|| overflow("division"))?;
        Ok(Quantity {
            nanos,
            format: self.format,
            dec_scale: scale,
        })
    }

    /// `self ÷ divisor` for a JSON number (see [`Quantity::checked_div`]).
    pub fn checked_div_f64(&self, divisor: f64) -> Result<Quantity, QuantityError> {
        if divisor == 0.0 {
            return Err(QuantityError::DivisionByZero);
        }
        let divisor = Quantity::from_f64(divisor)?;
        self.checked_div(&divisor)
    }

    /// The ratio of two quantities as a float (Kyverno's quantity/quantity `divide`).
    pub fn ratio(&self, divisor: &Quantity) -> Result<f64, QuantityError> {
        if divisor.nanos == 0 {
            return Err(QuantityError::DivisionByZero);
        }
        Ok(self.as_f64() / divisor.as_f64())
    }

    /// Reads a JSON number as a quantity from its shortest decimal text.
    pub fn from_f64(value: f64) -> Result<Quantity, QuantityError> {
        if !value.is_finite() {
            return Err(QuantityError::Format {
                text: value.to_string(),
            });
        }
        value.to_string().parse()
    }
}

fn overflow(what: &str) -> QuantityError {
    QuantityError::Overflow {
        text: what.to_string(),
    }
}

/// `a / b` rounded away from zero (b > 0).
fn div_round_away(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b == 0 {
        q
    } else if a > 0 {
        q + 1
    } else {
        q - 1
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl std::hash::Hash for Quantity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.nanos.hash(state);
    }
}

/// Parts of a quantity text, as Kubernetes' `parseQuantityString` splits it.
struct Parts<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

fn split_parts(s: &str) -> Option<Parts<'_>> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    if pos < end {
        match b[0] {
            b'-' => {
                positive = false;
                pos += 1;
            }
            b'+' => pos += 1,
            _ => {}
        }
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Some(Parts {
            positive,
            num: "0",
            denom: "",
            suffix: "",
        });
    }
    let num_start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let mut num = &s[num_start..pos];
    if num.is_empty() {
        num = "0";
    }
    let mut denom = "";
    if pos < end && b[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[denom_start..pos];
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return None;
    }
    Some(Parts {
        positive,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// Interprets a suffix as (base, exponent, format).
fn interpret_suffix(suffix: &str) -> Option<(u32, i32, Format)> {
    let dec = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(exp) = dec {
        return Some((10, exp, Format::DecimalSi));
    }
    let bin = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(exp) = bin {
        return Some((2, exp, Format::BinarySi));
    }
    let bytes = suffix.as_bytes();
    if bytes.len() > 1 && (bytes[0] == b'e' || bytes[0] == b'E') {
        // Go's strconv.ParseInt accepts a leading sign and decimal digits only.
        let exp: i64 = suffix[1..].parse().ok()?;
        let exp = i32::try_from(exp).ok()?;
        return Some((10, exp, Format::DecimalExponent));
    }
    None
}

fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_core(s).map_err(|reject| match reject {
            Reject::Format => QuantityError::Format {
                text: s.to_string(),
            },
            Reject::Overflow => QuantityError::Overflow {
                text: s.to_string(),
            },
        })
    }
}

impl Quantity {
    /// Parses quantity text without building an error (for hot comparison paths).
    pub fn parse_opt(s: &str) -> Option<Quantity> {
        parse_core(s).ok()
    }
}

/// Why the core parser rejected a text; converted to [`QuantityError`] only when the
/// caller wants a message, so failed attempts in hot comparisons do not allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reject {
    Format,
    Overflow,
}

fn parse_core(s: &str) -> Result<Quantity, Reject> {
    {
        let format_err = || Reject::Format;
        if s.is_empty() {
            return Err(format_err());
        }
        let parts = split_parts(s).ok_or_else(format_err)?;
        let (base, exponent, mut format) = interpret_suffix(parts.suffix).ok_or_else(format_err)?;
        let overflow_err = || Reject::Overflow;

        // Significant digits as one integer; value = digits × 10^-len(denom) × base^exponent.
        let mut digits: i128 = 0;
        for c in parts.num.bytes().chain(parts.denom.bytes()) {
            digits = digits
                .checked_mul(10)
                .and_then(|d| d.checked_add(i128::from(c - b'0')))
                .ok_or_else(overflow_err)?;
        }
        let denom_len = i32::try_from(parts.denom.len()).map_err(|_| overflow_err())?;

        let mut nanos = if digits == 0 {
            0
        } else if base == 10 {
            let shift = 9 - denom_len + exponent;
            if shift >= 0 {
                let factor = pow10(shift as u32).ok_or_else(overflow_err)?;
                digits.checked_mul(factor).ok_or_else(overflow_err)?
            } else {
                match pow10(shift.unsigned_abs()) {
                    Some(divisor) => div_round_away(digits, divisor),
                    // Smaller than any representable step: Kubernetes rounds it up to 1n.
                    None => 1,
                }
            }
        } else {
            let scaled = digits
                .checked_mul(1i128 << exponent)
                .and_then(|v| v.checked_mul(NANO))
                .ok_or_else(overflow_err)?;
            match pow10(parts.denom.len() as u32) {
                Some(divisor) => div_round_away(scaled, divisor),
                None => 1,
            }
        };

        if format == Format::BinarySi && nanos > MAX_BINARY_UNITS * NANO {
            nanos = MAX_BINARY_UNITS * NANO;
        }
        if format == Format::BinarySi && nanos > 0 && nanos < NANO {
            format = Format::DecimalSi;
        }
        if !parts.positive {
            nanos = -nanos;
        }
        Ok(Quantity {
            nanos,
            format,
            dec_scale: dec_scale(&parts, base, exponent),
        })
    }
}

/// The scale of Kubernetes' internal decimal after parsing: the exact number of fractional
/// digits on its integer fast path, 9 when it took the rounding path.
fn dec_scale(parts: &Parts<'_>, base: u32, exponent: i32) -> i32 {
    const MAX_INT64_FACTORS: i32 = 18;
    let len_num = parts.num.len() as i32;
    let len_denom = parts.denom.len() as i32;
    let (scale, precision) = if base == 10 {
        (
            exponent - len_denom,
            MAX_INT64_FACTORS - (len_num + len_denom),
        )
    } else if len_denom == 0 {
        (0, 15 - len_num - (exponent as f32 * 3.0 / 10.0) as i32 - 1)
    } else {
        (0, -1)
    };
    if precision >= 0 && scale >= -9 {
        -scale
    } else {
        9
    }
}

/// Splits `value × 10^exponent` (value ≠ 0) into a mantissa without trailing decimal zeros
/// and an exponent that is a multiple of three, as Kubernetes' `AsCanonicalBytes`.
fn canonical_decimal(mut value: i128, mut exponent: i32) -> (i128, i32) {
    while value % 10 == 0 {
        value /= 10;
        exponent += 1;
    }
    while exponent.rem_euclid(3) != 0 {
        match value.checked_mul(10) {
            Some(v) => value = v,
            None => break,
        }
        exponent -= 1;
    }
    (value, exponent)
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == Format::BinarySi
            && ((-1024 * NANO < self.nanos && self.nanos < 1024 * NANO) || self.nanos % NANO != 0)
        {
            format = Format::DecimalSi;
        }
        match format {
            Format::BinarySi => {
                let mut value = self.nanos / NANO;
                let mut exp = 0;
                while exp < 6 && value % 1024 == 0 {
                    value /= 1024;
                    exp += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
                write!(f, "{value}{suffix}")
            }
            Format::DecimalSi | Format::DecimalExponent => {
                let (value, exp) = canonical_decimal(self.nanos, -9);
                if format == Format::DecimalExponent {
                    if exp == 0 {
                        return write!(f, "{value}");
                    }
                    return write!(f, "{value}e{exp}");
                }
                let suffix = match exp {
                    -9 => "n",
                    -6 => "u",
                    -3 => "m",
                    0 => "",
                    3 => "k",
                    6 => "M",
                    9 => "G",
                    12 => "T",
                    15 => "P",
                    18 => "E",
                    _ => return write!(f, "{value}e{exp}"),
                };
                write!(f, "{value}{suffix}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn check_canonical(input: &str, expected: &str) {
        assert_eq!(
            q(input).to_string(),
            expected,
            "canonical form of {input:?}"
        );
    }

    #[test]
    fn parses_decimal_si() {
        assert_eq!(q("500m").nanos(), 500_000_000);
        assert_eq!(q("1").nanos(), NANO);
        assert_eq!(q("2k").nanos(), 2000 * NANO);
        assert_eq!(q("1n").nanos(), 1);
        assert_eq!(q("3u").nanos(), 3000);
        assert_eq!(q("1E").nanos(), 1_000_000_000_000_000_000 * NANO);
    }

    #[test]
    fn parses_binary_si() {
        assert_eq!(q("1Ki").nanos(), 1024 * NANO);
        assert_eq!(q("1Gi").nanos(), 1_073_741_824 * NANO);
        assert_eq!(q("1.5Gi").nanos(), 1_610_612_736 * NANO);
    }

    #[test]
    fn parses_exponents_and_signs() {
        assert_eq!(q("1e3").nanos(), 1000 * NANO);
        assert_eq!(q("1E3").nanos(), 1000 * NANO);
        assert_eq!(q("1e+3").nanos(), 1000 * NANO);
        assert_eq!(q("25e-2").nanos(), 250_000_000);
        assert_eq!(q("-1.5").nanos(), -1_500_000_000);
        assert_eq!(q("+2").nanos(), 2 * NANO);
    }

    #[test]
    fn lenient_forms_kubernetes_accepts() {
        assert_eq!(q(".5").nanos(), 500_000_000);
        assert_eq!(q("1.").nanos(), NANO);
        assert_eq!(q("Mi").nanos(), 0);
        assert_eq!(q("-").nanos(), 0);
        assert_eq!(q("000").nanos(), 0);
    }

    #[test]
    fn rejects_non_quantities() {
        for bad in [
            "", "abc", "1 Gi", "1K", "1mi", "1e", "1Ki5", "1.5.5", "*", "1-10", "10s", "1h",
        ] {
            assert!(bad.parse::<Quantity>().is_err(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn rounds_up_below_nano() {
        assert_eq!(q("0.1n").nanos(), 1);
        assert_eq!(q("-0.1n").nanos(), -1);
        assert_eq!(q("1e-20").nanos(), 1);
    }

    #[test]
    fn exact_comparison() {
        assert_eq!(q("1Gi"), q("1073741824"));
        assert_eq!(q("1000m"), q("1"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("500m") < q("1"));
        assert!(q("-1") < q("0"));
        assert!(q("1073741825") > q("1Gi"));
    }

    #[test]
    fn canonical_forms() {
        check_canonical("500m", "500m");
        check_canonical("0.5", "500m");
        check_canonical("1000", "1k");
        check_canonical("1500", "1500");
        check_canonical("1.5k", "1500");
        check_canonical("2048Mi", "2Gi");
        check_canonical("1536Mi", "1536Mi");
        check_canonical("1.5Gi", "1536Mi");
        check_canonical("100Mi", "100Mi");
        check_canonical("512", "512");
        check_canonical("1e3", "1e3");
        check_canonical("1.5e3", "1500");
        check_canonical("0", "0");
        check_canonical("0Gi", "0");
        check_canonical("-500m", "-500m");
        check_canonical("1Ki", "1Ki");
        check_canonical("0.5Ki", "512");
        check_canonical("1n", "1n");
        check_canonical("10u", "10u");
    }

    #[test]
    fn arithmetic_keeps_first_format() {
        assert_eq!(q("1500m").checked_add(&q("500m")).unwrap().to_string(), "2");
        assert_eq!(q("1Gi").checked_add(&q("1Gi")).unwrap().to_string(), "2Gi");
        assert_eq!(
            q("1Gi").checked_sub(&q("512Mi")).unwrap().to_string(),
            "512Mi"
        );
        assert_eq!(
            q("1").checked_sub(&q("1500m")).unwrap().to_string(),
            "-500m"
        );
        assert_eq!(q("10Mi").checked_mul_f64(2.0).unwrap().to_string(), "20Mi");
        assert_eq!(q("250m").checked_mul_f64(3.0).unwrap().to_string(), "750m");
        assert_eq!(q("1").checked_mul_f64(0.5).unwrap().to_string(), "500m");
    }

    #[test]
    fn division_truncates_at_operand_scale() {
        assert_eq!(q("10").checked_div_f64(4.0).unwrap().to_string(), "2");
        assert_eq!(q("500m").checked_div_f64(2.0).unwrap().to_string(), "250m");
        assert_eq!(q("1").checked_div_f64(0.3).unwrap().to_string(), "3300m");
        assert_eq!(q("1Gi").checked_div_f64(2.0).unwrap().to_string(), "512Mi");
        assert_eq!(
            q("1").checked_div_f64(0.0),
            Err(QuantityError::DivisionByZero)
        );
        assert_eq!(q("1Gi").ratio(&q("512Mi")).unwrap(), 2.0);
    }

    #[test]
    fn overflow_is_an_error() {
        assert!(matches!(
            "1e40".parse::<Quantity>(),
            Err(QuantityError::Overflow { .. })
        ));
        let big = q("100E");
        assert!(big.checked_mul(&q("1e20")).is_err());
    }

    #[test]
    fn float_and_integer_views() {
        assert_eq!(q("1500m").as_f64(), 1.5);
        assert_eq!(q("2k").as_i64(), Some(2000));
        assert_eq!(q("1500m").as_i64(), None);
    }
}
