//! The catalog of Dentally resources.
