//! JSON records → typed Arrow record batches.
