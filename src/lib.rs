#![warn(unnameable_types, missing_docs, unreachable_pub)]
//! `lake`: a data lake manager. Raw files become immutable, versioned Parquet datasets in the
//! bronze zone; a SQLite catalog records every version, its files, schema and sources.
//!
//! A tour: make a lake, ingest Arrow batches as `bronze.orders@v1` and a file as `@v2`, resolve
//! a version, read it back as Arrow batches, pin it, and query it with DataFusion.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use lake::arrow::array::{Float64Array, Int64Array, RecordBatch};
//! use lake::arrow::datatypes::{DataType, Field, Schema};
//! use lake::{DatasetRef, Lake};
//! use lake::scan::ScanOptions;
//!
//! let dir = tempfile::tempdir()?;
//! Lake::init(dir.path(), lake::Config::new(None, None))?;
//! let lake = Lake::open(dir.path())?;
//! let runtime = tokio::runtime::Runtime::new()?;
//! let orders: DatasetRef = "bronze.orders".parse()?;
//!
//! // Batches from anywhere (a client library, another engine) become a version.
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("order_id", DataType::Int64, true),
//!     Field::new("amount", DataType::Float64, true),
//! ]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![
//!     Arc::new(Int64Array::from(vec![1, 2, 3])),
//!     Arc::new(Float64Array::from(vec![5.5, 7.0, 1.25])),
//! ])?;
//! let ingest = lake.ingest_batches(orders.clone(), schema, [batch], "orders-api")?;
//! let report = runtime.block_on(ingest.execute())?;
//! assert_eq!((report.version.map(|v| v.0), report.rows), (Some(1), 3));
//!
//! // So do files: CSV, JSON and Parquet, appended as v2.
//! let csv = dir.path().join("more.csv");
//! std::fs::write(&csv, "order_id,amount\n4,2.5\n")?;
//! let report = runtime.block_on(lake.ingest(vec![csv], orders.clone()).execute())?;
//! assert_eq!((report.version.map(|v| v.0), report.version_rows), (Some(2), 4));
//!
//! // An exact version: its digest is the sha256 of its manifest.
//! let v1: DatasetRef = "bronze.orders@v1".parse()?;
//! let version = lake.resolve(&v1)?;
//! assert_eq!(version.rows, 3);
//!
//! // Read it back, every byte checked against the manifest (a blocking scan brings its own
//! // runtime, so it runs outside `block_on`).
//! let mut rows = 0;
//! for batch in lake.scan_blocking(&v1, ScanOptions::default())? {
//!     rows += batch?.num_rows();
//! }
//! assert_eq!(rows, 3);
//!
//! // Pin it for training: a lock file with the digest.
//! let pins = lake.pin(&[v1.clone()], &dir.path().join("lake.lock"))?;
//! assert_eq!(pins[0].digest, version.digest);
//!
//! // The same version as a DataFusion table in a session of your own.
//! let total = runtime.block_on(async {
//!     let ctx = lake::datafusion::prelude::SessionContext::new();
//!     ctx.register_table("orders", Arc::new(lake.table(&v1).await?))?;
//!     let batches = ctx.sql("SELECT sum(amount) FROM orders").await?.collect().await?;
//!     let sum = batches[0].column(0).as_any().downcast_ref::<lake::arrow::array::Float64Array>();
//!     Ok::<f64, Box<dyn std::error::Error>>(sum.expect("a float").value(0))
//! })?;
//! assert_eq!(total, 13.75);
//! # Ok(()) }
//! ```

pub mod adopt;
pub mod archive;
pub(crate) mod catalog;
pub mod clock;
mod commit;
pub mod compact;
pub mod config;
pub mod delta;
pub mod erase;
pub mod error;
pub mod failpoint;
pub(crate) mod format;
pub(crate) mod functions;
pub mod ident;
pub mod ingest;
pub mod lake;
pub mod lineage;
pub mod maintain;
mod moves;
pub(crate) mod owner;
pub mod pin;
pub mod promote;
pub mod query;
pub mod read;
pub mod rebuild;
pub mod rollback;
pub mod scan;
pub mod search;
pub mod serve;
mod sql;
pub(crate) mod storage;
pub mod stream;
pub mod svg;
pub mod table;
pub mod watch;
pub mod worker;
mod write;

pub use clock::Clock;
pub use config::Config;
pub use error::{Error, Location, Result};
pub use ident::{DatasetRef, Selector, Version, Zone};
pub use ingest::{Ingest, IngestMode, IngestReport};
pub use lake::Lake;
pub use promote::{Promote, PromoteReport};
pub use read::VersionInfo;

/// What the catalog records, as the library's calls return it: versions, files, sources,
/// schema changes, lineage, runs, checks, rules, search hits and erasures.
pub mod records {
    pub use crate::catalog::datasets::{DatasetRow, DatasetSummary};
    pub use crate::catalog::erasure::{ErasedVersion, ErasureEntry, HeldFile};
    pub use crate::catalog::in_flight::{MoveRow, WriteRow};
    pub use crate::catalog::lineage::ColumnEdge;
    pub use crate::catalog::rules::{Lifecycle, NewRule, Rule, TieredFile};
    pub use crate::catalog::runs::{
        CheckRow, DeadLetter, LeaseHolder, RunFilter, RunRow, RunSummary, StreamFile, StreamRow,
    };
    pub use crate::catalog::schemas::ColumnRow;
    pub use crate::catalog::search::{DatasetMeta, Hit, SearchFilter};
    pub use crate::catalog::versions::{
        FileRow, SchemaChange, SourceRow, VersionRow, VersionState,
    };
    pub use crate::owner::OwnerRecord;
}

/// A version's manifest, the read contract stored beside its data: files with their sizes,
/// sha256 and row groups, the schema, sources, inputs and the operation that made it. Its own
/// sha256 is the version's digest.
pub mod manifest {
    pub use crate::format::manifest::{
        Amendment, Blocks, Input, Manifest, ManifestFile, ManifestSource, Operation,
    };
    pub use crate::format::schema::{ColumnSpec, Drift};
}

pub use format::schema::type_name;
pub use format::source::{Compression, CsvOptions, SourceFormat};
pub use table::VersionTable;

/// The Arrow crate `lake` reads and writes batches with, for building and reading them at the
/// same version.
pub use arrow;
/// The DataFusion crate behind `lake`'s SQL, for sessions that register a [`VersionTable`].
pub use datafusion;

/// The version of the fields of every JSON document `lake` prints (`--json`) and serves
/// (`lake serve`'s `/api/…`): it changes when a field is renamed, removed or changes meaning;
/// new fields leave it as it is.
pub const SCHEMA_VERSION: u32 = 1;

/// `value` as the JSON document the CLI prints and the API serves: an object gains
/// `schema_version` ([`SCHEMA_VERSION`]); a list stays a plain array of records, each of which
/// carries it (as each item of a Kubernetes list carries its `apiVersion`), so `jq '.[]'` and
/// existing consumers read it as before.
pub fn json_document<T: serde::Serialize>(value: &T) -> serde_json::Result<serde_json::Value> {
    let mut value = serde_json::to_value(value)?;
    let versioned = |value: &mut serde_json::Value| {
        if let serde_json::Value::Object(fields) = value {
            fields
                .entry("schema_version")
                .or_insert(serde_json::Value::from(SCHEMA_VERSION));
        }
    };
    match &mut value {
        serde_json::Value::Array(records) => records.iter_mut().for_each(versioned),
        other => versioned(other),
    }
    Ok(value)
}
