//! Kyverno's arithmetic functions (`pkg/engine/jmespath/arithmetic.go`):
//! `add`, `subtract`, `multiply`, `divide`, `modulo` and `sum` over numbers,
//! Kubernetes quantities and Go durations.
//!
//! An operand that is a JSON number is a scalar; a string is read first as a
//! quantity, then as a duration, so `'10m'` is ten milli-units and `'1h'` an
//! hour. Quantity and duration results are strings in their canonical text
//! (`'30m'`, `'1h30m0s'`), as Kyverno returns them.
//!
//! | operation | allowed operand kinds → result |
//! |---|---|
//! | `+ -` | same kind → same kind |
//! | `×` | scalar×scalar → scalar; quantity×scalar, duration×scalar (either order) → quantity / duration |
//! | `÷` | scalar÷scalar → scalar; quantity÷quantity, duration÷duration → scalar; quantity÷scalar, duration÷scalar → quantity / duration |
//! | `%` | same kind, integral values → same kind |

use jmespath::{Rcvar, Runtime, Variable};

use super::functions::{FnResult, add};
use super::value::{num_var, str_var};
use crate::duration::Duration;
use crate::quantity::{Quantity, QuantityError};

#[derive(Debug, Clone, Copy)]
enum Operand {
    Scalar(f64),
    Quantity(Quantity),
    Duration(Duration),
}

fn operand(value: &Variable) -> Option<Operand> {
    match value {
        Variable::Number(n) => n.as_f64().map(Operand::Scalar),
        Variable::String(s) => {
            if let Ok(q) = s.parse::<Quantity>() {
                Some(Operand::Quantity(q))
            } else {
                Duration::parse(s).ok().map(Operand::Duration)
            }
        }
        _ => None,
    }
}

fn operands(f: &str, args: &[Rcvar]) -> Result<(Operand, Operand), String> {
    match (operand(&args[0]), operand(&args[1])) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(format!("JMESPath function '{f}': invalid operands")),
    }
}

fn mismatch(f: &str) -> String {
    format!("JMESPath function '{f}': types mismatch")
}

fn zero_division(f: &str) -> String {
    format!("JMESPath function '{f}': Zero divisor passed")
}

fn non_integer(f: &str) -> String {
    format!("JMESPath function '{f}': Non-integer argument(s) passed for modulo")
}

fn quantity_error(f: &str, e: &QuantityError) -> String {
    match e {
        QuantityError::DivisionByZero => zero_division(f),
        other => format!("JMESPath function '{f}': {other}"),
    }
}

fn duration_error(f: &str, e: &crate::duration::DurationError) -> String {
    match e {
        crate::duration::DurationError::DivisionByZero => zero_division(f),
        other => format!("JMESPath function '{f}': {other}"),
    }
}

pub(crate) fn register(rt: &mut Runtime) {
    add(rt, "add", 2, |f, a| {
        let (x, y) = operands(f, a)?;
        plus(f, x, y)
    });
    add(rt, "sum", 1, |f, a| {
        let Variable::Array(items) = &*a[0] else {
            return Err(format!(
                "JMESPath function '{f}': 1 argument is expected of Array type"
            ));
        };
        let Some((first, rest)) = items.split_first() else {
            return Err(format!(
                "JMESPath function '{f}': at least one element in the array is required"
            ));
        };
        let mut total = first.clone();
        for item in rest {
            let pair = [total, item.clone()];
            let (x, y) = operands(f, &pair)?;
            total = plus(f, x, y)?;
        }
        // A single element is returned as it is, like Kyverno.
        Ok(total)
    });
    add(rt, "subtract", 2, |f, a| match operands(f, a)? {
        (Operand::Scalar(x), Operand::Scalar(y)) => Ok(num_var(x - y)),
        (Operand::Quantity(x), Operand::Quantity(y)) => x
            .checked_sub(&y)
            .map(|q| str_var(q.to_string()))
            .map_err(|e| quantity_error(f, &e)),
        (Operand::Duration(x), Operand::Duration(y)) => x
            .checked_sub(y)
            .map(|d| str_var(d.to_string()))
            .map_err(|e| duration_error(f, &e)),
        _ => Err(mismatch(f)),
    });
    add(rt, "multiply", 2, |f, a| match operands(f, a)? {
        (Operand::Scalar(x), Operand::Scalar(y)) => Ok(num_var(x * y)),
        (Operand::Quantity(q), Operand::Scalar(s)) | (Operand::Scalar(s), Operand::Quantity(q)) => {
            q.checked_mul_f64(s)
                .map(|q| str_var(q.to_string()))
                .map_err(|e| quantity_error(f, &e))
        }
        (Operand::Duration(d), Operand::Scalar(s)) | (Operand::Scalar(s), Operand::Duration(d)) => {
            Ok(str_var(d.mul_f64(s).to_string()))
        }
        _ => Err(mismatch(f)),
    });
    add(rt, "divide", 2, |f, a| match operands(f, a)? {
        (Operand::Scalar(x), Operand::Scalar(y)) => {
            if y == 0.0 {
                Err(zero_division(f))
            } else {
                Ok(num_var(x / y))
            }
        }
        (Operand::Quantity(x), Operand::Quantity(y)) => {
            x.ratio(&y).map(num_var).map_err(|e| quantity_error(f, &e))
        }
        (Operand::Quantity(x), Operand::Scalar(y)) => x
            .checked_div_f64(y)
            .map(|q| str_var(q.to_string()))
            .map_err(|e| quantity_error(f, &e)),
        (Operand::Duration(x), Operand::Duration(y)) => {
            x.ratio(y).map(num_var).map_err(|e| duration_error(f, &e))
        }
        (Operand::Duration(x), Operand::Scalar(y)) => x
            .div_f64(y)
            .map(|d| str_var(d.to_string()))
            .map_err(|e| duration_error(f, &e)),
        _ => Err(mismatch(f)),
    });
    add(rt, "modulo", 2, |f, a| match operands(f, a)? {
        (Operand::Scalar(x), Operand::Scalar(y)) => {
            let (i, j) = (integral(f, x)?, integral(f, y)?);
            if j == 0 {
                return Err(zero_division(f));
            }
            #[allow(clippy::cast_precision_loss)]
            Ok(num_var(i.wrapping_rem(j) as f64))
        }
        (Operand::Quantity(x), Operand::Quantity(y)) => {
            let (i, j) = (integral(f, x.as_f64())?, integral(f, y.as_f64())?);
            if j == 0 {
                return Err(zero_division(f));
            }
            Ok(str_var(
                Quantity::from_units(i.wrapping_rem(j), x.format()).to_string(),
            ))
        }
        (Operand::Duration(x), Operand::Duration(y)) => x
            .checked_rem(y)
            .map(|d| str_var(d.to_string()))
            .map_err(|e| duration_error(f, &e)),
        _ => Err(mismatch(f)),
    });
}

fn plus(f: &str, x: Operand, y: Operand) -> FnResult {
    match (x, y) {
        (Operand::Scalar(x), Operand::Scalar(y)) => Ok(num_var(x + y)),
        (Operand::Quantity(x), Operand::Quantity(y)) => x
            .checked_add(&y)
            .map(|q| str_var(q.to_string()))
            .map_err(|e| quantity_error(f, &e)),
        (Operand::Duration(x), Operand::Duration(y)) => x
            .checked_add(y)
            .map(|d| str_var(d.to_string()))
            .map_err(|e| duration_error(f, &e)),
        _ => Err(mismatch(f)),
    }
}

/// Kyverno's integer check: the value must survive `int64(f)` unchanged.
fn integral(f: &str, value: f64) -> Result<i64, String> {
    // The range check makes the conversion exact for accepted values.
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let i = value as i64;
    #[allow(clippy::cast_precision_loss)]
    if value.fract() != 0.0 || !value.is_finite() || (i as f64) != value {
        return Err(non_integer(f));
    }
    Ok(i)
}
