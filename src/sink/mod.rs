//! Writing record batches as Parquet or CSV through object_store.
mod backend;
pub mod error;
pub mod location;
pub use error::SinkError;
pub use location::{Location, StoreOptions};
