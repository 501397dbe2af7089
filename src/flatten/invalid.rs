//! Why a value breaks the type contract: the `reason` of a reject (a key that does not fit).

use thiserror::Error;

/// Why a JSON value does not fit its column's type (the record is rejected only when the value
/// is its primary key, or the record is not an object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub(crate) enum Invalid {
    /// The record itself is not a JSON object.
    #[error("record is not a JSON object")]
    NotARecord,
    /// The primary key is null or missing.
    #[error("primary key is missing or null")]
    MissingKey,
    /// Not a JSON integer or a string holding one.
    #[error("expected an integer (a JSON integer or a string holding one)")]
    Integer,
    /// An integer outside Int64.
    #[error("integer out of range for Int64")]
    IntegerRange,
    /// Not a decimal number.
    #[error("expected a decimal number (a string or JSON number)")]
    Decimal,
    /// Non-zero digits beyond the column's scale.
    #[error("more than {scale} decimal places (values are never rounded)")]
    TooManyDecimals {
        /// The column's scale.
        scale: u32,
    },
    /// More than 18 significant digits.
    #[error("does not fit Decimal128(18, {scale})")]
    DecimalRange {
        /// The column's scale.
        scale: u32,
    },
    /// Not an RFC 3339 datetime with an offset.
    #[error("expected an RFC 3339 datetime with a UTC offset")]
    Timestamp,
    /// A datetime with sub-microsecond digits that would be lost.
    #[error("datetime more precise than microseconds")]
    SubMicrosecond,
    /// Not a `YYYY-MM-DD` date.
    #[error("expected a `YYYY-MM-DD` date")]
    Date,
    /// Not a boolean (or 0/1).
    #[error("expected a boolean (true/false or 0/1)")]
    Bool,
    /// An array or object where text was expected.
    #[error("expected text, got an array or object")]
    Text,
    /// Not a string or an integral number.
    #[error("expected an id (a string or an integral number)")]
    Id,
    /// Not an array of scalars.
    #[error("expected an array of scalars")]
    List,
}
