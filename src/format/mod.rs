//! Bytes in, bytes out: source decoding, Parquet encoding, hashing, schemas and manifests.
//!
//! Nothing here touches storage or the catalog; callers hand in readers and writers.

mod csv_refusal;
pub(crate) mod hash;
pub(crate) mod json;
pub(crate) mod manifest;
mod ndjson;
pub(crate) mod quotes;
pub(crate) mod schema;
pub(crate) mod source;
pub(crate) mod writer;

pub(crate) use manifest::Manifest;
pub(crate) use writer::{EncodeOptions, ParquetFileWriter};
