//! Exact decimal parsing for money and other decimals: text → unscaled `i128`.
//!
//! Money arrives as Rails BigDecimal strings (`"-76.0"`, `"0.0"`) or sometimes as JSON numbers.
//! Going through `f64` would round (`0.1 + 0.2`), so the digits are read as text and scaled by
//! powers of ten. Digits beyond the target scale are accepted only when they are zeros, and
//! values that need more than 18 digits are refused: both go to `_rejects`, never rounded.

use super::invalid::Invalid;

/// The Decimal128 precision of every decimal column (`docs/design.md` §5).
pub(crate) const PRECISION: u32 = 18;

/// Parses `text` (`-12.50`, `7`, `1e-2`) into an integer scaled by `10^scale`.
pub(crate) fn parse(text: &str, scale: u32) -> Result<i128, Invalid> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], parse_exponent(&unsigned[at + 1..], scale)?),
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.len() + frac_part.len() == 0 || !all_digits(int_part) || !all_digits(frac_part) {
        return Err(Invalid::Decimal);
    }
    let magnitude = scale_digits(int_part, frac_part, exponent + i64::from(scale), scale)?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// The exponent after `e`, bounded so later arithmetic cannot overflow.
fn parse_exponent(text: &str, scale: u32) -> Result<i64, Invalid> {
    let exponent: i64 = text.parse().map_err(|_| Invalid::Decimal)?;
    if exponent.abs() > 1000 {
        return Err(Invalid::DecimalRange { scale });
    }
    Ok(exponent)
}

/// `int_part.frac_part × 10^shift` as an integer of at most [`PRECISION`] digits, without
/// allocating: the digits are walked in place.
fn scale_digits(int_part: &str, frac_part: &str, shift: i64, scale: u32) -> Result<i128, Invalid> {
    let digits = || int_part.bytes().chain(frac_part.bytes());
    let total = int_part.len() + frac_part.len();
    let leading = digits().take_while(|&b| b == b'0').count();
    if leading == total {
        return Ok(0);
    }
    let trailing = digits().rev().take_while(|&b| b == b'0').count();
    let significant = total - leading - trailing;
    let power = shift - frac_part.len() as i64 + trailing as i64;
    if power < 0 {
        return Err(Invalid::TooManyDecimals { scale });
    }
    if significant as i64 + power > i64::from(PRECISION) {
        return Err(Invalid::DecimalRange { scale });
    }
    let value = digits()
        .skip(leading)
        .take(significant)
        .fold(0i128, |acc, b| acc * 10 + i128::from(b - b'0'));
    Ok(value * 10i128.pow(power as u32))
}

/// Renders an unscaled value with `scale` decimals (`-7600`, 2 → `-76.00`): the canonical text
/// hashed for PII.
pub(crate) fn render(value: i128, scale: u32) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let digits = format!(
        "{:0>width$}",
        value.unsigned_abs(),
        width = scale as usize + 1
    );
    let (int_part, frac_part) = digits.split_at(digits.len() - scale as usize);
    if scale == 0 {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac_part}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_strings_parse_exactly() {
        assert_eq!(parse("-76.0", 2), Ok(-7600));
        assert_eq!(parse("0.0", 2), Ok(0));
        assert_eq!(parse("12", 2), Ok(1200));
        assert_eq!(parse("0.1", 2), Ok(10));
        assert_eq!(parse("76.000", 2), Ok(7600));
        assert_eq!(parse("+3.5", 4), Ok(35000));
        assert_eq!(parse(".5", 2), Ok(50));
        assert_eq!(parse("5.", 2), Ok(500));
        assert_eq!(parse("1e2", 2), Ok(10000));
        assert_eq!(parse("1.5E-1", 2), Ok(15));
        assert_eq!(parse("0000000000000000000000001.10", 2), Ok(110));
    }

    #[test]
    fn extra_precision_and_overflow_are_refused() {
        assert_eq!(
            parse("76.005", 2),
            Err(Invalid::TooManyDecimals { scale: 2 })
        );
        assert_eq!(
            parse("1.00001", 4),
            Err(Invalid::TooManyDecimals { scale: 4 })
        );
        assert_eq!(parse("9999999999999999.99", 2), Ok(999_999_999_999_999_999));
        assert_eq!(
            parse("10000000000000000", 2),
            Err(Invalid::DecimalRange { scale: 2 })
        );
        assert_eq!(parse("1e400", 2), Err(Invalid::DecimalRange { scale: 2 }));
        for bad in ["", "-", ".", "abc", "1.2.3", "1,5", "1e", "NaN", " 1"] {
            assert_eq!(parse(bad, 2), Err(Invalid::Decimal), "{bad:?}");
        }
    }

    #[test]
    fn render_is_canonical() {
        assert_eq!(render(-7600, 2), "-76.00");
        assert_eq!(render(5, 2), "0.05");
        assert_eq!(render(-5, 4), "-0.0005");
        assert_eq!(render(0, 2), "0.00");
    }
}
