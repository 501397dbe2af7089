//! The built-in Dentally sandbox.
pub(crate) mod data;
