//! The built-in Dentally sandbox.
