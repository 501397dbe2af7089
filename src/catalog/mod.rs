//! The catalog of Dentally resources: one entry per list endpoint of the v1 API plus `practice`.
mod types;

pub use types::{Field, FieldKind, FieldType, Kind, Pii, Resource, Window};
