//! Writing record batches as Parquet or CSV through object_store.
