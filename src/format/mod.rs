//! Bytes in, bytes out: source decoding, Parquet encoding, hashing, schemas and manifests.
//!
//! Nothing here touches storage or the catalog; callers hand in readers and writers.

pub mod hash;
pub mod json;
pub mod manifest;
mod ndjson;
pub mod quotes;
pub mod schema;
pub mod source;
pub mod writer;

pub use manifest::Manifest;
pub use writer::{EncodeOptions, ParquetFileWriter};
