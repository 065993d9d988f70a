//! SQL over the lake: a DataFusion session in which `zone.name` is one exact dataset version.
//!
//! Zones are schemas. Tables are registered only for the references a statement makes (found by
//! DataFusion's own parser), each pinned to a version resolved before planning. A table is
//! exactly that version's files with their recorded sizes, never a listing of a prefix: each is
//! checked to be there with its size before planning (and, when asked, its sha256), and a file
//! that vanishes later fails the read, so a query never returns fewer rows than the version
//! holds. Files are read through the lake's own object store, so the same code serves local, S3
//! and in-memory roots.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::TableReference;
use datafusion::datasource::TableType;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement;
use datafusion_distributed::{DistributedExt, SessionStateBuilderExt};
use futures::{StreamExt, TryStreamExt};

use crate::catalog::{FileRow, VersionRow};
use crate::error::{Error, Result};
use crate::format::schema;
use crate::functions;
use crate::ident::{DatasetRef, Selector, Zone};
use crate::lake::Lake;

/// Where the lake's object store is registered in a session.
pub(crate) const STORE_URL: &str = "lake://root";

/// A statement and the datasets it reads.
pub(crate) struct Parsed {
    pub statement: Statement,
    /// Datasets read at their latest version (or as `--at` pins them).
    pub tables: Vec<DatasetRef>,
    /// Versions named in the SQL itself, `"bronze.orders@v3"`, with the table name as written.
    pub pinned: Vec<(DatasetRef, TableReference)>,
}

impl Lake {
    /// A session with the lake's store, functions and zone schemas, and no tables yet.
    pub(crate) fn sql_session(&self) -> Result<SessionContext> {
        self.sql_session_with(&[])
    }

    /// [`Lake::sql_session`], planning each query's stages onto `workers` (`lake worker`
    /// addresses) when there are any: this process runs the plan's head and writes, the
    /// workers scan and compute over the same store.
    pub(crate) fn sql_session_with(&self, workers: &[String]) -> Result<SessionContext> {
        let options = &self.config().promote;
        let config = SessionConfig::new()
            .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()))
            .with_information_schema(false)
            // Scans decode strings as views (no copy of their bytes); results leave as plain
            // strings (`schema::storable`), so they read the same in every tool.
            .set_bool("datafusion.execution.parquet.schema_force_view_types", true)
            .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false);
        let runtime = RuntimeEnvBuilder::new()
            // First come, first served up to the limit, as datafusion-cli does by default. A fair
            // pool splits the limit evenly over every operator that can spill, so one big
            // DISTINCT among ten small aggregates spilled at a tenth of it.
            .with_memory_pool(Arc::new(TrackConsumersPool::new(
                GreedyMemoryPool::new(options.memory_mb as usize * 1024 * 1024),
                std::num::NonZeroUsize::new(3).expect("not zero"),
            )))
            .build_arc()
            .map_err(|e| Error::Internal(format!("DataFusion runtime: {e}")))?;
        let url = url::Url::parse(STORE_URL).expect("a valid URL");
        runtime.register_object_store(&url, self.storage().object_store());
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features();
        if !workers.is_empty() {
            state = state
                .with_distributed_worker_resolver(crate::worker::Workers::parse(workers)?)
                .with_distributed_planner()
                .with_distributed_file_scan_config_bytes_per_partition(
                    options.worker_partition_bytes.max(1) as usize,
                )
                .map_err(|e| Error::Internal(format!("distributed planner: {e}")))?;
        }
        let ctx = SessionContext::new_with_state(state.build());
        for f in functions::all(&options.salt) {
            ctx.register_udf(f);
        }
        let catalog = ctx
            .catalog("datafusion")
            .ok_or_else(|| Error::Internal("the default DataFusion catalog is missing".into()))?;
        for zone in Zone::ALL {
            catalog
                .register_schema(zone.as_str(), Arc::new(MemorySchemaProvider::new()))
                .map_err(|e| Error::Internal(format!("register schema {zone}: {e}")))?;
        }
        Ok(ctx)
    }

    /// Parse one statement and name the datasets it reads. `origin` (a job file) is named in
    /// syntax errors; its line numbers are the file's. `allowed` vets the statement before its
    /// tables are looked at.
    pub(crate) fn parse_sql(
        &self,
        ctx: &SessionContext,
        sql: &str,
        origin: &str,
        allowed: impl FnOnce(&Statement) -> Result<()>,
    ) -> Result<Parsed> {
        let state = ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let sql = rewrite_at_clauses(sql, origin)?;
        let statement = state
            .sql_to_statement(&sql, &dialect)
            .map_err(|e| syntax_error(origin, e))?;
        allowed(&statement)?;
        let references = state
            .resolve_table_references(&statement)
            .map_err(|e| syntax_error(origin, e))?;
        let mut tables = Vec::new();
        let mut pinned: Vec<(DatasetRef, TableReference)> = Vec::new();
        for r in references {
            if let Some(d) = pinned_of(&r) {
                if !pinned.iter().any(|(_, t)| *t == r) {
                    pinned.push((d, r));
                }
                continue;
            }
            let d = dataset_of(&r).ok_or_else(|| Error::UnknownTable {
                origin: origin.to_string(),
                table: r.to_string(),
                suggestions: self.suggest(r.table()),
            })?;
            if !tables.contains(&d) {
                tables.push(d);
            }
        }
        Ok(Parsed {
            statement,
            tables,
            pinned,
        })
    }

    /// Datasets named like `name`, for "did you mean".
    pub(crate) fn suggest(&self, name: &str) -> Vec<String> {
        self.similar_datasets(name)
            .unwrap_or_default()
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    /// Resolve `r` (its selector, or `pins`, or the latest) to a readable version.
    pub(crate) fn resolve_input(
        &self,
        r: &DatasetRef,
        pins: &BTreeMap<DatasetRef, Selector>,
    ) -> Result<VersionRow> {
        let pinned = match pins.get(&r.dataset()) {
            Some(selector) => DatasetRef {
                selector: Some(selector.clone()),
                ..r.clone()
            },
            None => r.clone(),
        };
        let version = self.resolve(&pinned)?;
        refuse_unless_active(&version)?;
        Ok(version)
    }

    /// Register `version` as table `zone.name` in the session, after checking that every file is
    /// in storage with its recorded size (and, with `verify`, its sha256).
    pub(crate) async fn register_version(
        &self,
        ctx: &SessionContext,
        version: &VersionRow,
        verify: bool,
    ) -> Result<()> {
        let table =
            TableReference::partial(version.dataset.zone.as_str(), version.dataset.name.as_str());
        self.register_version_as(ctx, version, verify, table).await
    }

    /// [`Lake::register_version`] under another table name (`result`, for checks).
    pub(crate) async fn register_version_as(
        &self,
        ctx: &SessionContext,
        version: &VersionRow,
        verify: bool,
        table: TableReference,
    ) -> Result<()> {
        let (schema, files) = self.readable_files(version, verify).await?;
        self.register_files(ctx, table, Arc::new(schema), &files)
    }

    /// `version`'s schema and files, each file checked to be in storage as the catalog says
    /// ([`Lake::check_readable`]).
    pub(crate) async fn readable_files(
        &self,
        version: &VersionRow,
        verify: bool,
    ) -> Result<(Schema, Vec<FileRow>)> {
        let (schema, files) = {
            let catalog = self.catalog();
            let tx = catalog.reader();
            (
                version_schema(&tx.schema_json(version.schema_id)?)?,
                tx.version_files(version.id)?,
            )
        };
        crate::failpoint::pass("read.resolved").await?;
        self.check_readable(version, &files, verify).await?;
        Ok((schema, files))
    }

    /// Every file of `version` is where the catalog says, whole: a missing or resized object
    /// (or, with `verify`, one whose sha256 differs) is an error naming it, never fewer rows.
    pub(crate) async fn check_readable(
        &self,
        version: &VersionRow,
        files: &[FileRow],
        verify: bool,
    ) -> Result<()> {
        let storage = self.storage();
        let unreadable = |f: &FileRow, problem: String| Error::VersionUnreadable {
            version: version.reference().to_string(),
            url: storage.object_url(&f.path),
            problem,
        };
        futures::stream::iter(files)
            .map(|f| async move {
                let problem = match storage.head(&f.path).await? {
                    // Archive and expiry commit the version's new state before deleting its files
                    // here: one archived since it was resolved is refused as such, not as lost.
                    None => {
                        refuse_unless_active(&self.catalog().reader().version_by_id(version.id)?)?;
                        "is missing".to_string()
                    }
                    Some(o) if o.size != f.size => {
                        format!("is {} bytes, the catalog recorded {}", o.size, f.size)
                    }
                    Some(_) if verify => {
                        let (sha, _) = storage.hash(&f.path).await?;
                        if sha == f.sha256 {
                            return Ok(());
                        }
                        format!("has sha256 {sha}, the catalog recorded {}", f.sha256)
                    }
                    Some(_) => return Ok(()),
                };
                Err(unreadable(f, problem))
            })
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Register Parquet objects (files under the root, with their sizes) as one table of `schema`.
    pub(crate) fn register_files(
        &self,
        ctx: &SessionContext,
        table: TableReference,
        schema: SchemaRef,
        files: &[FileRow],
    ) -> Result<()> {
        let schema = Arc::new(schema::with_views(&schema));
        let provider: Arc<dyn TableProvider> = if files.is_empty() {
            Arc::new(EmptyTable::new(schema))
        } else {
            Arc::new(self.exact_files(schema, files, None))
        };
        ctx.deregister_table(table.clone())
            .map_err(|e| Error::Internal(format!("deregister {table}: {e}")))?;
        ctx.register_table(table.clone(), provider)
            .map_err(|e| Error::Internal(format!("register {table}: {e}")))?;
        Ok(())
    }
}

/// A version is read only while it is active: an archived (or expired) one is refused, with the
/// restore hint, before any of its files is looked for.
pub(crate) fn refuse_unless_active(version: &VersionRow) -> Result<()> {
    if version.state == crate::catalog::VersionState::Active {
        return Ok(());
    }
    Err(Error::VersionArchived {
        version: version.reference().to_string(),
        state: version.state.as_str(),
    })
}

impl Lake {
    /// A table of exactly `files`. With `store`, the table registers the lake's object store
    /// under that URL in whichever session scans it; without, the session has it at
    /// [`STORE_URL`] already.
    pub(crate) fn exact_files(
        &self,
        schema: SchemaRef,
        files: &[FileRow],
        store: Option<String>,
    ) -> ExactFiles {
        ExactFiles {
            schema,
            files: files
                .iter()
                .map(|f| (self.storage().path(&f.path).to_string(), f.size))
                .collect(),
            store: store.map(|url| (url, self.storage().object_store())),
        }
    }
}

/// A table that is exactly these Parquet objects (path in the store, size): no listing, so a
/// missing object is an error when it is read, never an empty part of the table. Filters still
/// reach the Parquet reader (DataFusion pushes them into the scan), so row groups are pruned.
#[derive(Debug)]
pub(crate) struct ExactFiles {
    schema: SchemaRef,
    files: Vec<(String, u64)>,
    /// The store to register in the scanning session, and where.
    store: Option<(String, Arc<dyn object_store::ObjectStore>)>,
}

#[async_trait::async_trait]
impl TableProvider for ExactFiles {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let store_url = match &self.store {
            Some((url, store)) => {
                let parsed = ObjectStoreUrl::parse(url)?;
                if state.runtime_env().object_store(&parsed).is_err() {
                    let url =
                        url::Url::parse(url).map_err(|e| DataFusionError::External(Box::new(e)))?;
                    state
                        .runtime_env()
                        .register_object_store(&url, store.clone());
                }
                parsed
            }
            None => ObjectStoreUrl::parse(STORE_URL)?,
        };
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let source = format.file_source(TableSchema::builder(self.schema.clone()).build());
        let files: Vec<PartitionedFile> = self
            .files
            .iter()
            .map(|(path, size)| PartitionedFile::new(path.clone(), *size))
            .collect();
        let groups = FileGroup::new(files).split_files(state.config().target_partitions());
        let config = FileScanConfigBuilder::new(store_url, source)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}

/// Is this one `SELECT` (or `WITH … SELECT`, `VALUES`)?
pub(crate) fn is_query(statement: &Statement) -> bool {
    matches!(statement, Statement::Statement(s) if matches!(**s, datafusion::sql::sqlparser::ast::Statement::Query(_)))
}

/// A version's schema as the catalog stored it, in Arrow form.
pub(crate) fn version_schema(json: &str) -> Result<Schema> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|e| Error::Internal(format!("stored schema is not JSON: {e}")))?;
    schema::schema_from_json(&value).map_err(|e| Error::Internal(format!("stored schema: {e}")))
}

/// A version named as a table, `"bronze.orders@v3"` (or `bronze."orders@v3"`): any ref with a
/// selector, a version number, a tag or a time.
fn pinned_of(r: &TableReference) -> Option<DatasetRef> {
    let text = match r {
        TableReference::Bare { table } => table.to_string(),
        TableReference::Partial { schema, table } => format!("{schema}.{table}"),
        TableReference::Full { .. } => return None,
    };
    text.parse::<DatasetRef>()
        .ok()
        .filter(|d| d.selector.is_some())
}

/// Time travel written as DuckLake and Snowflake write it, right after a table's `zone.name`:
/// `AT (VERSION => 3)`, `AT (TAG => 'train')` or `AT (TIMESTAMP => '2026-01-01T00:00:00Z')`,
/// rewritten to the quoted form the planner knows, `"zone.name@v3"`. The clause's newlines are
/// kept after it, so the lines of later syntax errors are still the file's.
fn rewrite_at_clauses(sql: &str, origin: &str) -> Result<String> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};

    // What does not tokenize is left for the parser to report.
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
        return Ok(sql.to_string());
    };
    let tokens: Vec<_> = tokens
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |at: Location| -> usize {
        let start = line_starts[(at.line.max(1) - 1) as usize];
        sql[start..]
            .char_indices()
            .nth((at.column.max(1) - 1) as usize)
            .map_or(sql.len(), |(i, _)| start + i)
    };
    let word = |i: usize| match tokens.get(i).map(|t| &t.token) {
        Some(Token::Word(w)) => Some(w),
        _ => None,
    };
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    let mut i = 0;
    while i < tokens.len() {
        let is_at = word(i).is_some_and(|w| w.keyword == Keyword::AT && w.quote_style.is_none())
            && matches!(tokens.get(i + 1).map(|t| &t.token), Some(Token::LParen))
            && matches!(tokens.get(i + 3).map(|t| &t.token), Some(Token::RArrow));
        if !is_at {
            i += 1;
            continue;
        }
        let at = tokens[i].span.start;
        let bad = |message: String| Error::SqlSyntax {
            origin: origin.to_string(),
            line: at.line,
            column: at.column,
            message,
        };
        let kind = word(i + 2).map(|w| w.value.to_ascii_uppercase());
        let value = tokens.get(i + 4).map(|t| &t.token);
        let selector = match (kind.as_deref(), value) {
            (Some("VERSION"), Some(Token::Number(n, false)))
                if n.bytes().all(|b| b.is_ascii_digit()) =>
            {
                format!("v{n}")
            }
            (Some("TAG"), Some(Token::SingleQuotedString(tag))) => tag.clone(),
            (Some("TIMESTAMP"), Some(Token::SingleQuotedString(time))) => time.clone(),
            _ => {
                return Err(bad(
                    "time travel is `AT (VERSION => 3)`, `AT (TAG => 'name')` or \
                     `AT (TIMESTAMP => '2026-01-01T00:00:00Z')`, with a literal value"
                        .into(),
                ));
            }
        };
        if !matches!(tokens.get(i + 5).map(|t| &t.token), Some(Token::RParen)) {
            return Err(bad("expected `)` to close `AT (…)`".into()));
        }
        // The table right before: exactly `zone.name`, each part quoted or not.
        let named = i >= 3
            && matches!(tokens[i - 2].token, Token::Period)
            && word(i - 1).is_some()
            && word(i - 3).is_some()
            && !(i >= 4 && matches!(tokens[i - 4].token, Token::Period));
        if !named {
            return Err(bad(
                "`AT (…)` goes right after a dataset's `zone.name`, before any alias".into(),
            ));
        }
        let (zone, name) = (word(i - 3).expect("checked"), word(i - 1).expect("checked"));
        let reference = format!("{}.{}@{selector}", zone.value, name.value);
        if let Err(e) = reference.parse::<DatasetRef>() {
            return Err(bad(e.to_string()));
        }
        let (start, end) = (
            offset(tokens[i - 3].span.start),
            offset(tokens[i + 5].span.end),
        );
        out.push_str(&sql[copied..start]);
        out.push('"');
        out.push_str(&reference.replace('"', "\"\""));
        out.push('"');
        out.extend(sql[start..end].chars().filter(|c| *c == '\n'));
        copied = end;
        i += 6;
    }
    out.push_str(&sql[copied..]);
    Ok(out)
}

/// `zone.name` as a dataset, or `None` for anything else (unqualified, unknown zone, catalog.).
fn dataset_of(r: &TableReference) -> Option<DatasetRef> {
    match r {
        TableReference::Partial { schema, table } => {
            format!("{schema}.{table}").parse::<DatasetRef>().ok()
        }
        _ => None,
    }
    .filter(|d| d.selector.is_none())
}

/// A parse error with the origin's line and column, where the parser gave them.
fn syntax_error(origin: &str, e: DataFusionError) -> Error {
    let text = e.to_string();
    let (line, column) = line_column(&text).unwrap_or((0, 0));
    let message = text
        .trim_start_matches("SQL error: ")
        .trim_start_matches("ParserError(\"")
        .trim_end_matches("\")")
        .to_string();
    let message = match message.rfind(" at Line: ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    Error::SqlSyntax {
        origin: origin.to_string(),
        line,
        column,
        message,
    }
}

fn line_column(text: &str) -> Option<(u64, u64)> {
    let rest = &text[text.rfind("Line: ")? + 6..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_clauses_become_quoted_refs_and_keep_lines() {
        let sql = "SELECT a.id FROM bronze.orders AT (VERSION => 3) a\nJOIN bronze.\"orders\" at(\n  tag => 'train') b ON a.id = b.id\nWHERE ts AT TIME ZONE 'UTC' > '2026'";
        assert_eq!(
            rewrite_at_clauses(sql, "q").unwrap(),
            "SELECT a.id FROM \"bronze.orders@v3\" a\nJOIN \"bronze.orders@train\"\n b ON a.id = b.id\nWHERE ts AT TIME ZONE 'UTC' > '2026'"
        );
        let time = "SELECT * FROM silver.x AT (TIMESTAMP => '2026-01-01T00:00:00Z')";
        assert_eq!(
            rewrite_at_clauses(time, "q").unwrap(),
            "SELECT * FROM \"silver.x@2026-01-01T00:00:00Z\""
        );
        for (bad, says) in [
            ("SELECT * FROM orders AT (VERSION => 3)", "zone.name"),
            (
                "SELECT * FROM bronze.orders o AT (VERSION => 3)",
                "zone.name",
            ),
            (
                "SELECT * FROM bronze.orders AT (VERSION => now())",
                "literal",
            ),
            ("SELECT * FROM bronze.orders AT (OFFSET => -60)", "literal"),
            ("SELECT 1\nFROM bronze.orders AT (TAG => 'x y')", "tag"),
        ] {
            let e = rewrite_at_clauses(bad, "job.sql").unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
            assert!(e.to_string().starts_with("job.sql:"), "{e}");
        }
        let e = rewrite_at_clauses("SELECT 1\nFROM bronze.o AT (VERSION => 2.5)", "j").unwrap_err();
        assert!(e.to_string().starts_with("j:2:15:"), "{e}");
    }

    #[test]
    fn parser_positions_are_found() {
        let text = "SQL error: ParserError(\"Expected: an expression, found: FROM at Line: 3, Column: 8\")";
        assert_eq!(line_column(text), Some((3, 8)));
    }
}
