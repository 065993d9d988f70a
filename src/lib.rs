//! `lake`: a data lake manager. Raw files become immutable, versioned Parquet datasets in the
//! bronze zone; a SQLite catalog records every version, its files, schema and sources.
//!
//! ```no_run
//! # async fn tour() -> lake::Result<()> {
//! use lake::{Lake, DatasetRef};
//!
//! let dir = std::path::Path::new("my-lake");
//! lake::Lake::init(dir, lake::Config::new(None, None))?;
//! let lake = Lake::open(dir)?;
//! let orders: DatasetRef = "bronze.orders".parse()?;
//! let report = lake
//!     .ingest(vec!["orders.csv".into()], orders.clone())
//!     .execute()
//!     .await?;
//! println!("{} rows", report.rows);
//! let v = lake.resolve(&"bronze.orders@v1".parse()?)?;
//! println!("{} is {}", v.reference(), v.digest);
//! # Ok(()) }
//! ```

pub mod adopt;
pub mod archive;
pub mod catalog;
pub mod clock;
mod commit;
pub mod compact;
pub mod config;
pub mod delta;
pub mod erase;
pub mod error;
pub mod failpoint;
pub mod format;
pub mod functions;
pub mod ident;
pub mod ingest;
pub mod lake;
pub mod lineage;
pub mod maintain;
mod moves;
pub mod owner;
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
pub mod storage;
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
pub use table::VersionTable;

/// The Arrow crate `lake` reads and writes batches with, for building and reading them at the
/// same version.
pub use arrow;
/// The DataFusion crate behind `lake`'s SQL, for sessions that register a [`VersionTable`].
pub use datafusion;
