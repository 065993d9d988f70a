//! A version as a DataFusion table, for SQL in a session of the caller's own.
//!
//! ```no_run
//! # async fn tour() -> lake::Result<()> {
//! use std::sync::Arc;
//! use lake::datafusion::prelude::SessionContext;
//!
//! let lake = lake::Lake::open("my-lake")?;
//! let orders = lake.table(&"bronze.orders@v3".parse()?).await?;
//! println!("{} rows at {}", orders.version().rows, orders.version().digest);
//! let ctx = SessionContext::new();
//! ctx.register_table("orders", Arc::new(orders)).expect("a new name");
//! let df = ctx.sql("SELECT count(*) FROM orders").await.expect("valid SQL");
//! df.show().await.expect("a result");
//! # Ok(()) }
//! ```

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::catalog::VersionRow;
use crate::error::Result;
use crate::format::schema;
use crate::ident::DatasetRef;
use crate::lake::Lake;
use crate::sql::ExactFiles;

/// One version of a dataset as a DataFusion [`TableProvider`]: exactly the version's files, each
/// checked to be in storage with its recorded size when the table was made. A file that goes
/// missing later fails the query; it never makes the table shorter. The table brings the lake's
/// object store with it, so it scans in any session.
#[derive(Debug)]
pub struct VersionTable {
    version: VersionRow,
    files: ExactFiles,
}

impl VersionTable {
    /// The version this table is.
    pub fn version(&self) -> &VersionRow {
        &self.version
    }
}

impl Lake {
    /// The version `r` names (its latest without a selector) as a table. Archived and expired
    /// versions are refused, as in `lake query`; with `verify`, every file's sha256 is checked
    /// first as well as its size.
    pub async fn table(&self, r: &DatasetRef) -> Result<VersionTable> {
        self.table_verified(r, false).await
    }

    /// [`Lake::table`], with every file's sha256 checked against the catalog first when `verify`.
    pub async fn table_verified(&self, r: &DatasetRef, verify: bool) -> Result<VersionTable> {
        let version = self.resolve_input(r, &Default::default())?;
        let (schema, files) = self.readable_files(&version, verify).await?;
        let schema: SchemaRef = Arc::new(schema::with_views(&schema));
        // One URL per store, so tables of two lakes scan side by side in one session.
        let root = crate::format::hash::sha256_hex(self.storage().object_url("").as_bytes());
        let url = format!("lake://t{}", &root[..16]);
        Ok(VersionTable {
            files: self.exact_files(schema, &files, Some(url)),
            version,
        })
    }
}

#[async_trait::async_trait]
impl TableProvider for VersionTable {
    fn schema(&self) -> SchemaRef {
        self.files.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        self.files.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        self.files.scan(state, projection, filters, limit).await
    }
}
