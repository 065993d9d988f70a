//! `lake query`: read-only ad-hoc SQL over the lake's datasets.
//!
//! Each table the SQL names is resolved to one version (the latest, or `--at`) before planning;
//! a table named with its version, `"bronze.orders@v3"`, reads that version.
//! Only queries run: DDL, DML, `COPY` and external tables are refused before anything executes,
//! and a table that is not `<zone>.<name>` (a file path, say) is not found.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use futures::StreamExt;

use crate::error::{Error, Result};
use crate::ident::{DatasetRef, Selector};
use crate::lake::Lake;

/// A read-only SQL query being prepared: made by [`Lake::query`], run by [`Query::execute`].
pub struct Query<'a> {
    lake: &'a Lake,
    sql: String,
    at: BTreeMap<DatasetRef, Selector>,
    verify: bool,
}

/// A running query: the exact versions it reads and its result stream.
pub struct QueryOutput {
    /// The exact versions the query reads.
    pub inputs: Vec<DatasetRef>,
    /// The result, as Arrow batches.
    pub stream: SendableRecordBatchStream,
}

impl Lake {
    /// Prepare a read-only query; nothing runs until [`Query::execute`].
    #[must_use]
    pub fn query(&self, sql: impl Into<String>) -> Query<'_> {
        Query {
            lake: self,
            sql: sql.into(),
            at: BTreeMap::new(),
            verify: self.config().read.verify,
        }
    }
}

impl Query<'_> {
    /// Read `dataset` at `selector` instead of its latest version.
    pub fn with_input_at(mut self, dataset: DatasetRef, selector: Selector) -> Self {
        self.at.insert(dataset.dataset(), selector);
        self
    }

    /// Check the sha256 of every file read before any row is returned.
    pub fn with_verify(mut self, yes: bool) -> Self {
        self.verify = self.verify || yes;
        self
    }

    /// Plan the query over the versions it names and start it.
    pub async fn execute(self) -> Result<QueryOutput> {
        let lake = self.lake;
        let ctx = lake.sql_session()?;
        let parsed = lake.parse_sql(&ctx, &self.sql, "query", refuse_non_queries)?;
        let mut inputs = Vec::new();
        for t in &parsed.tables {
            let v = lake.resolve_input(t, &self.at)?;
            lake.register_version(&ctx, &v, self.verify).await?;
            inputs.push(v.reference());
        }
        // Versions the SQL names itself, each under the name it wrote: several versions of one
        // dataset can meet in one query.
        for (r, table) in &parsed.pinned {
            let v = lake.resolve_input(r, &BTreeMap::new())?;
            lake.register_version_as(&ctx, &v, self.verify, table.clone())
                .await?;
            if !inputs.contains(&v.reference()) {
                inputs.push(v.reference());
            }
        }
        let err = |source| Error::Query {
            origin: "query".into(),
            source,
        };
        let plan = ctx
            .state()
            .statement_to_plan(parsed.statement)
            .await
            .map_err(err)?;
        let df = ctx.execute_logical_plan(plan).await.map_err(err)?;
        let stream = df.execute_stream().await.map_err(err)?;
        // Results in their stored types (plain strings, not the engine's views).
        let plain = Arc::new(crate::format::schema::without_views(&stream.schema()));
        let target = plain.clone();
        let batches = stream.map(move |batch| {
            batch.and_then(|b| {
                crate::format::schema::conform(&b, &target)
                    .map_err(|e| datafusion::error::DataFusionError::ArrowError(Box::new(e), None))
            })
        });
        let stream: SendableRecordBatchStream =
            Box::pin(RecordBatchStreamAdapter::new(plain, batches));
        Ok(QueryOutput { inputs, stream })
    }
}

fn refuse_non_queries(statement: &Statement) -> Result<()> {
    let what = match statement {
        Statement::Statement(s) => match s.as_ref() {
            SqlStatement::Query(_) => return Ok(()),
            SqlStatement::Insert(_)
            | SqlStatement::Update { .. }
            | SqlStatement::Delete(_)
            | SqlStatement::Merge { .. } => {
                "a statement that changes data (datasets change only through ingest and promote)"
                    .to_string()
            }
            other => {
                let text = other.to_string();
                let words: Vec<&str> = text.split_whitespace().take(2).collect();
                format!("`{}`", words.join(" "))
            }
        },
        Statement::CreateExternalTable(_) => {
            "`CREATE EXTERNAL TABLE` (only the lake's datasets can be read)".into()
        }
        Statement::CopyTo(_) => "`COPY` (write results with `--format` and `-o FILE`)".into(),
        Statement::Explain(_) => "`EXPLAIN`".into(),
        #[allow(unreachable_patterns)]
        _ => "this statement".into(),
    };
    Err(Error::NotAQuery { what })
}
