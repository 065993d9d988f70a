//! Ingest: source files become a new, immutable version of a bronze dataset.
//!
//! Sources stream through two threads: one reads, hashes and decodes them into Arrow batches,
//! the other encodes Parquet (hashing as it writes) straight into object storage, so memory
//! stays bounded by a few batches and one row group whatever the input size. Objects are written
//! first at fresh keys; the version becomes visible only when the catalog commits. A failure
//! anywhere deletes what this ingest wrote and commits nothing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use serde::Serialize;

use crate::catalog::{FileRow, SchemaChange, SourceRow, Tx, VersionRow};
use crate::commit::{Draft, StagedWrite};
use crate::error::{Error, Location, Result};
use crate::format::manifest::{ManifestSource, Operation};
use crate::format::schema::{self, ColumnSpec, Drift};
use crate::format::source::{self, Compression, CsvOptions, Source, SourceFormat, SourceStats};
use crate::ident::{DatasetRef, Version, Zone};
use crate::lake::{Lake, ProgressEvent, ProgressFn};

/// Cells (rows x columns) per decoded batch: 64 Ki rows of 64 columns. Decoders allocate for a
/// whole batch of every column, so a batch of a fixed row count grows with the width; a fixed
/// cell count keeps a 10,000-column file to a few hundred rows per batch.
const BATCH_CELLS: usize = 64 * 1024 * 64;

/// Rows per decoded batch for a source of `columns` columns (1 to 64 Ki).
fn batch_rows(columns: usize) -> usize {
    (BATCH_CELLS / columns.max(1)).clamp(1, 64 * 1024)
}

/// How a new version relates to the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestMode {
    /// The new version holds the previous version's files plus the new ones.
    Append,
    /// The new version holds only the new files.
    Overwrite,
}

impl IngestMode {
    /// `append` or `overwrite`.
    pub fn as_str(self) -> &'static str {
        match self {
            IngestMode::Append => "append",
            IngestMode::Overwrite => "overwrite",
        }
    }
}

/// How an ingest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestStatus {
    /// A new version committed.
    Committed,
    /// Every source is already in the current version; nothing was written.
    Unchanged,
    /// Nothing was written (`--dry-run`); the report says what would be.
    DryRun,
}

/// One source of an ingest.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// The file (or its spooled copy, for a remote source).
    pub path: PathBuf,
    /// How it was read.
    pub format: SourceFormat,
    /// Its size in bytes.
    pub size: u64,
    /// Known once read (or when checked against the current version).
    pub sha256: Option<String>,
    /// Rows read from it; none when it was skipped.
    pub rows: Option<u64>,
    /// Already in the current version, so not read again.
    pub skipped: bool,
}

/// What an ingest did.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// The dataset written.
    pub dataset: DatasetRef,
    /// How it ended.
    pub status: IngestStatus,
    /// Append or overwrite.
    pub mode: IngestMode,
    /// The new version, when one was committed.
    pub version: Option<Version>,
    /// The new version's ref, `zone.name@vN`.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The new version's digest.
    pub digest: Option<String>,
    /// Rows read from the sources.
    pub rows: u64,
    /// Rows in the new version (with an append, the earlier rows too).
    pub version_rows: u64,
    /// Bytes of the sources read.
    pub input_bytes: u64,
    /// Data files written.
    pub files_written: u64,
    /// Bytes of the files written.
    pub bytes_written: u64,
    /// Files of the new version (an append keeps the previous version's).
    pub version_files: u64,
    /// Bytes of the new version.
    pub version_bytes: u64,
    /// The new version's schema.
    pub columns: Vec<ColumnSpec>,
    /// How it differs from the version before.
    pub drift: Vec<Drift>,
    /// Each source, in the order read.
    pub sources: Vec<SourceReport>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

impl Lake {
    /// Prepare an ingest of `sources` (files, globs or folders) into `target`; nothing runs until
    /// [`Ingest::execute`].
    #[must_use]
    pub fn ingest(&self, sources: Vec<PathBuf>, target: DatasetRef) -> Ingest<'_> {
        Ingest {
            lake: self,
            sources,
            target,
            format: None,
            compression: None,
            uris: Default::default(),
            on_commit: None,
            mode: IngestMode::Append,
            schema_file: None,
            csv: CsvOptions::default(),
            dry_run: false,
            force: false,
            progress: None,
            spooled: None,
        }
    }

    /// Prepare an ingest of Arrow `batches`, all of `schema`, into `target`, through the same
    /// path as a file: the same checks, drift, sources and commit. The batches are written
    /// now, as one Parquet file in this process's spool beside the catalog, which the ingest
    /// reads as its source and removes when it ends; the version records the source as
    /// `arrow:<name>`, hashed as written, so the same batches again are `unchanged`.
    pub fn ingest_batches(
        &self,
        target: DatasetRef,
        schema: SchemaRef,
        batches: impl IntoIterator<Item = RecordBatch>,
        name: &str,
    ) -> Result<Ingest<'_>> {
        let path = self
            .spool_dir()?
            .join(format!("{}.parquet", uuid::Uuid::now_v7().simple()));
        let spooled = crate::stream::SpoolFile(path.clone());
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let parquet = |e: parquet::errors::ParquetError| io(std::io::Error::other(e));
        let file = std::fs::File::create(&path).map_err(io)?;
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).map_err(parquet)?;
        for batch in batches {
            if batch.schema().fields() != schema.fields() {
                return Err(Error::BatchSchema {
                    name: name.to_string(),
                    expected: format!("{schema}"),
                    found: format!("{}", batch.schema()),
                });
            }
            writer.write(&batch).map_err(parquet)?;
        }
        writer.close().map_err(parquet)?;
        let mut ingest = self
            .ingest(vec![path.clone()], target)
            .with_format(Some(SourceFormat::Parquet))
            .with_source_uri(path, format!("arrow:{name}"));
        ingest.spooled = Some(spooled);
        Ok(ingest)
    }
}

/// An ingest being prepared: made by [`Lake::ingest`], run by [`Ingest::execute`].
pub struct Ingest<'a> {
    lake: &'a Lake,
    sources: Vec<PathBuf>,
    target: DatasetRef,
    format: Option<SourceFormat>,
    compression: Option<Compression>,
    /// Sources recorded under a URI of their own instead of their path: spooled copies of
    /// remote sources (their URLs) and stream batches (`stdin:<stream>/batch-3`).
    uris: std::collections::HashMap<PathBuf, String>,
    /// More to record in the commit's own transaction (a stream's new position).
    on_commit: Option<OnCommit>,
    mode: IngestMode,
    schema_file: Option<PathBuf>,
    csv: CsvOptions,
    dry_run: bool,
    force: bool,
    progress: Option<ProgressFn>,
    /// The file [`Lake::ingest_batches`] wrote, removed when the ingest ends.
    spooled: Option<crate::stream::SpoolFile>,
}

impl Ingest<'_> {
    /// Read every source as this format instead of going by extension.
    pub fn with_format(mut self, format: Option<SourceFormat>) -> Self {
        self.format = format;
        self
    }
    /// Read every source as stored with this compression instead of going by extension.
    pub fn with_compression(mut self, compression: Option<Compression>) -> Self {
        self.compression = compression;
        self
    }
    /// Record more in the transaction that commits the version.
    pub(crate) fn with_on_commit(mut self, f: OnCommit) -> Self {
        self.on_commit = Some(f);
        self
    }
    /// Record the source at `path` under `uri` instead of its path (a spooled stream batch).
    pub fn with_source_uri(mut self, path: PathBuf, uri: String) -> Self {
        self.uris.insert(path, uri);
        self
    }
    /// Append (the default) or overwrite.
    pub fn with_mode(mut self, mode: IngestMode) -> Self {
        self.mode = mode;
        self
    }
    /// Take column names and types from this file (the manifest's schema form) instead of inferring.
    pub fn with_schema_file(mut self, path: Option<PathBuf>) -> Self {
        self.schema_file = path;
        self
    }
    /// How CSV sources are read: delimiter, header, null values, quoting.
    pub fn with_csv(mut self, csv: CsvOptions) -> Self {
        self.csv = csv;
        self
    }
    /// Plan only: sources, schema and drift; write nothing.
    pub fn with_dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }
    /// Ingest sources even when their content is already in the current version.
    pub fn with_force(mut self, yes: bool) -> Self {
        self.force = yes;
        self
    }
    /// Report progress (bytes read) to `progress`.
    pub fn with_progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Ingest the sources; remote ones (`s3://bucket/key`, `s3://bucket/prefix/`) are fetched
    /// into the spool first, recorded under their URLs, and removed after.
    pub async fn execute(mut self) -> Result<IngestReport> {
        let fetched = fetch_remote(self.lake, &self.sources).await;
        let fetched = match fetched {
            Ok(f) => f,
            Err((e, spooled)) => {
                remove_spooled(&spooled);
                return Err(e);
            }
        };
        self.sources = fetched.paths.clone();
        self.uris.extend(fetched.uris);
        let result = self.execute_local().await;
        remove_spooled(&fetched.spooled);
        result
    }

    async fn execute_local(mut self) -> Result<IngestReport> {
        let on_commit = self.on_commit.take();
        let started = Instant::now();
        if self.target.zone != Zone::Bronze {
            return Err(Error::WrongZone {
                dataset: self.target.dataset_name(),
                zone: self.target.zone.to_string(),
                operation: "ingest",
                allowed: "bronze (silver and gold come from `lake promote`)",
            });
        }
        let dataset = self.target.dataset();
        let sources = expand_sources(&self.sources, self.format, self.compression)?;
        let given = self
            .schema_file
            .as_deref()
            .map(read_schema_file)
            .transpose()?;

        // What the dataset holds now: its sources (to skip known content) and its schema.
        let latest = {
            let catalog = self.lake.catalog();
            let tx = catalog.reader();
            match tx.find_dataset(&dataset)? {
                Some(row) => match tx.latest_version(row.id)? {
                    // Known sources only matter to skip them; a forced ingest reads none.
                    Some(v) => Some((
                        if self.force {
                            Vec::new()
                        } else {
                            tx.version_sources(v.id)?
                        },
                        current_schema(&tx, &v)?,
                    )),
                    None => None,
                },
                None => None,
            }
        };
        let (known, previous) = match latest {
            Some((sources, schema)) => (sources, Some(schema)),
            None => (Vec::new(), None),
        };

        let mut reports: Vec<SourceReport> = sources
            .iter()
            .map(|s| SourceReport {
                path: s.path.clone(),
                format: s.format,
                size: s.size,
                sha256: None,
                rows: None,
                skipped: false,
            })
            .collect();
        if !self.force {
            mark_known_sources(&mut reports, &known, self.mode)?;
        }
        let todo: Vec<Source> = sources
            .iter()
            .zip(&reports)
            .filter(|(_, r)| !r.skipped)
            .map(|(s, _)| s.clone())
            .collect();

        let mut report = IngestReport {
            dataset: dataset.clone(),
            status: IngestStatus::Unchanged,
            mode: self.mode,
            version: None,
            reference: None,
            digest: None,
            rows: 0,
            version_rows: 0,
            input_bytes: todo.iter().map(|s| s.size).sum(),
            files_written: 0,
            bytes_written: 0,
            version_files: 0,
            version_bytes: 0,
            columns: previous.as_ref().map(schema::columns).unwrap_or_default(),
            drift: Vec::new(),
            sources: reports,
            elapsed_ms: 0,
        };
        if todo.is_empty() {
            // Nothing new; a Delta log a killed writer left behind catches up here.
            if previous.is_some() {
                self.lake.follow_with_delta(&dataset).await;
            }
            report.elapsed_ms = started.elapsed().as_millis() as u64;
            return Ok(report);
        }

        // Columns: each source's own, then one schema for every file this ingest writes.
        let infer_rows = self.lake.config().ingest.infer_rows;
        let mut own = Vec::with_capacity(todo.len());
        for s in &todo {
            own.push(match &given {
                Some(schema) => given_columns(s, schema, &self.csv)?,
                None => source::infer_schema(s, &self.csv, infer_rows)?,
            });
        }
        // Each source's columns in the form lake stores (dictionaries as values, views as plain
        // types), or the file and column that cannot be stored, before anything is written.
        let mut stored = Vec::with_capacity(todo.len());
        for (s, o) in todo.iter().zip(&own) {
            stored.push(schema::storable(o).map_err(|problem| Error::BadInput {
                path: s.path.clone(),
                at: Location::File,
                problem,
            })?);
        }
        let incoming = match &given {
            Some(schema) => schema.clone(),
            None => {
                let mut merged = stored[0].clone();
                for s in &stored[1..] {
                    merged = schema::unify(&merged, s)?;
                }
                match (&previous, self.mode) {
                    // Keep the dataset's types where the new data fits them (a batch of whole
                    // numbers stays float64 if the column is float64).
                    (Some(prev), IngestMode::Append) => widen_to(&merged, prev)?,
                    _ => merged,
                }
            }
        };
        let incoming: SchemaRef = Arc::new(incoming);
        report.columns = schema::columns(&incoming);
        report.drift = match &previous {
            Some(prev) => schema::diff(prev, &incoming),
            None => Vec::new(),
        };
        if self.dry_run {
            report.status = IngestStatus::DryRun;
            report.elapsed_ms = started.elapsed().as_millis() as u64;
            return Ok(report);
        }

        if let Some(p) = &self.progress {
            p(ProgressEvent::Started {
                total_bytes: report.input_bytes,
            });
        }
        let written = self.write(&dataset, &todo, own, incoming.clone()).await;
        if let Some(p) = &self.progress {
            p(ProgressEvent::Finished);
        }
        let (stats, staged) = written?;
        let files = staged.files().to_vec();

        let new_sources: Vec<SourceRow> = todo
            .iter()
            .zip(&stats)
            .map(|(s, st)| SourceRow {
                uri: self
                    .uris
                    .get(&s.path)
                    .cloned()
                    .unwrap_or_else(|| source_uri(&s.path)),
                sha256: st.sha256.clone(),
                size: st.size,
                format: s.format.as_str().to_string(),
                rows: st.rows,
                added: true,
            })
            .collect();
        let (mode, force) = (self.mode, self.force);
        let committed = staged
            .commit(
                |tx, latest| draft(tx, latest, mode, force, &incoming, &files, &new_sources),
                |tx, row| match on_commit {
                    Some(f) => f(tx, row),
                    None => Ok(()),
                },
            )
            .await?;
        let Some(committed) = committed else {
            // Another ingest of the same content committed while this one ran.
            for r in report.sources.iter_mut() {
                r.skipped = true;
            }
            report.elapsed_ms = started.elapsed().as_millis() as u64;
            return Ok(report);
        };

        let mut done = stats.iter();
        for r in report.sources.iter_mut().filter(|r| !r.skipped) {
            let st = done.next().expect("one stats per source read");
            r.sha256 = Some(st.sha256.clone());
            r.rows = Some(st.rows);
        }
        let v = &committed.version;
        report.status = IngestStatus::Committed;
        report.version = Some(v.version);
        report.reference = Some(v.reference().to_string());
        report.digest = Some(v.digest.clone());
        report.rows = stats.iter().map(|s| s.rows).sum();
        report.version_rows = v.rows;
        report.files_written = files.len() as u64;
        report.bytes_written = files.iter().map(|f| f.size).sum();
        report.version_files = v.file_count;
        report.version_bytes = v.bytes;
        report.drift = committed
            .changes
            .iter()
            .map(|c| Drift {
                change: match c.change.as_str() {
                    "added" => "added",
                    "removed" => "removed",
                    _ => "retyped",
                },
                column: c.column.clone(),
                old_type: c.old_type.clone(),
                new_type: c.new_type.clone(),
            })
            .collect();
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Decode on one thread and encode on another into a staged write; returns per-source stats
    /// and the write, ready to commit. On failure nothing this ingest wrote is left.
    async fn write(
        &self,
        dataset: &DatasetRef,
        todo: &[Source],
        own: Vec<Schema>,
        incoming: SchemaRef,
    ) -> Result<(Vec<SourceStats>, StagedWrite<'_>)> {
        let mut staged = self.lake.stage(dataset, "ingest")?;
        let writer = staged.encoder(incoming.clone());
        let decoder = {
            let todo = todo.to_vec();
            let csv = self.csv.clone();
            let progress = self.progress.clone();
            let sender = writer.sender();
            tokio::task::spawn_blocking(move || {
                let report = |bytes: u64| {
                    if let Some(p) = &progress {
                        p(ProgressEvent::Advanced { bytes });
                    }
                };
                let mut stats = Vec::with_capacity(todo.len());
                for (s, own) in todo.iter().zip(&own) {
                    let own = source::decode_schema(own, &incoming);
                    // A closed channel means the encoder stopped; its error is the cause.
                    let mut emit = |batch: RecordBatch| {
                        sender.blocking_send(batch).map_err(|_| Error::Interrupted)
                    };
                    let rows = batch_rows(own.fields().len().max(incoming.fields().len()));
                    stats.push(source::decode(
                        s, &csv, &own, &incoming, rows, &mut emit, &report,
                    )?);
                }
                Ok::<_, Error>(stats)
            })
        };
        let decoded = decoder
            .await
            .map_err(|e| Error::Internal(format!("decoder thread: {e}")))?;
        let encoded = staged.finish(writer).await;
        let failure = match (decoded, encoded) {
            (Ok(stats), Ok(())) => return Ok((stats, staged)),
            (Err(Error::Interrupted), Err(e)) => e,
            (Err(e), _) => e,
            (Ok(_), Err(e)) => e,
        };
        staged.abort().await;
        Err(failure)
    }
}

/// The version's content, decided against the latest version as the transaction sees it.
/// `None`: that version already holds these sources (a concurrent ingest of the same files
/// committed first), so there is nothing to commit. Without `force`, a version that holds only
/// some of them is a conflict: committing would duplicate their rows, and a rerun skips them.
fn draft(
    tx: &Tx<'_>,
    latest: Option<&VersionRow>,
    mode: IngestMode,
    force: bool,
    incoming: &Schema,
    files: &[FileRow],
    new_sources: &[SourceRow],
) -> Result<Option<Draft>> {
    if let (Some(v), false) = (latest, force) {
        let held: HashSet<String> = tx
            .version_sources(v.id)?
            .into_iter()
            .map(|s| s.sha256)
            .collect();
        let already = new_sources
            .iter()
            .filter(|s| held.contains(&s.sha256))
            .count();
        let unchanged = match mode {
            IngestMode::Append => already == new_sources.len(),
            IngestMode::Overwrite => {
                let incoming: HashSet<&str> =
                    new_sources.iter().map(|s| s.sha256.as_str()).collect();
                incoming.len() == held.len() && incoming.iter().all(|h| held.contains(*h))
            }
        };
        if unchanged {
            return Ok(None);
        }
        if mode == IngestMode::Append && already > 0 {
            return Err(Error::CommitConflict {
                dataset: v.dataset.dataset_name(),
                version: v.version,
            });
        }
    }
    let previous = latest.map(|v| current_schema(tx, v)).transpose()?;
    let mut all_files = files.to_vec();
    let version_schema = match (mode, latest, &previous) {
        (IngestMode::Append, Some(v), Some(prev)) => {
            all_files.extend(tx.version_files(v.id)?);
            schema::unify(prev, incoming)?
        }
        _ => incoming.clone(),
    };
    let changes = match &previous {
        Some(prev) => schema::diff(prev, incoming)
            .into_iter()
            .map(|d| SchemaChange {
                change: d.change.to_string(),
                column: d.column,
                old_type: d.old_type,
                new_type: d.new_type,
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(Some(Draft {
        operation_name: "ingest",
        operation: Operation::Ingest {
            mode: mode.as_str().to_string(),
            sources: new_sources
                .iter()
                .map(|s| ManifestSource {
                    uri: s.uri.clone(),
                    sha256: s.sha256.clone(),
                    size: s.size,
                    format: s.format.clone(),
                    rows: s.rows,
                })
                .collect(),
        },
        mode: Some(mode.as_str().to_string()),
        inputs: Vec::new(),
        schema: version_schema,
        files: all_files,
        sources: new_sources.to_vec(),
        keep_sources: mode == IngestMode::Append,
        changes,
    }))
}

/// The schema a version was committed with.
fn current_schema(tx: &Tx<'_>, v: &VersionRow) -> Result<Schema> {
    crate::sql::version_schema(&tx.schema_json(v.schema_id)?)
}

/// `incoming` with each column that `previous` also has widened to hold both.
fn widen_to(incoming: &Schema, previous: &Schema) -> Result<Schema> {
    let fields: Vec<arrow::datatypes::Field> = incoming
        .fields()
        .iter()
        .map(|f| {
            let dt = match previous.field_with_name(f.name()) {
                Ok(p) => schema::supertype(p.data_type(), f.data_type()).ok_or_else(|| {
                    Error::SchemaConflict {
                        column: f.name().clone(),
                        left: schema::type_name(p.data_type()),
                        right: schema::type_name(f.data_type()),
                    }
                })?,
                Err(_) => f.data_type().clone(),
            };
            Ok(arrow::datatypes::Field::new(f.name(), dt, true))
        })
        .collect::<Result<_>>()?;
    Ok(Schema::new(fields))
}

/// Mark the sources whose content the current version already holds. A source is hashed here
/// only when its size matches a known source, so new data is still read exactly once.
fn mark_known_sources(
    reports: &mut [SourceReport],
    known: &[SourceRow],
    mode: IngestMode,
) -> Result<()> {
    if known.is_empty() {
        return Ok(());
    }
    let sizes: HashSet<u64> = known.iter().map(|s| s.size).collect();
    let hashes: HashSet<&str> = known.iter().map(|s| s.sha256.as_str()).collect();
    let mut matched = Vec::with_capacity(reports.len());
    for r in reports.iter_mut() {
        let mut same = false;
        if sizes.contains(&r.size) {
            let (sha, _) = source::hash_file(&r.path)?;
            same = hashes.contains(sha.as_str());
            r.sha256 = Some(sha);
        }
        matched.push(same);
    }
    match mode {
        IngestMode::Append => {
            for (r, same) in reports.iter_mut().zip(matched) {
                r.skipped = same;
            }
        }
        IngestMode::Overwrite => {
            // Overwriting with exactly the current content changes nothing.
            let incoming: HashSet<&str> =
                reports.iter().filter_map(|r| r.sha256.as_deref()).collect();
            if matched.iter().all(|m| *m) && incoming == hashes {
                for r in reports.iter_mut() {
                    r.skipped = true;
                }
            }
        }
    }
    Ok(())
}

/// For `--schema`: a source's columns in file order, typed by the schema file.
fn given_columns(source: &Source, given: &Schema, csv: &CsvOptions) -> Result<Schema> {
    match source.format {
        SourceFormat::Csv if csv.has_header => {
            let header = source::infer_schema(source, csv, 1)?;
            let fields = header
                .fields()
                .iter()
                .map(|f| {
                    given
                        .field_with_name(f.name())
                        .cloned()
                        .map_err(|_| Error::BadInput {
                            path: source.path.clone(),
                            at: Location::Line(1),
                            problem: format!("column `{}` is not in the schema file", f.name()),
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Schema::new(fields))
        }
        SourceFormat::Parquet => source::infer_schema(source, csv, 1),
        _ => Ok(given.clone()),
    }
}

fn read_schema_file(path: &Path) -> Result<Schema> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let problem = |problem: String| Error::BadSchemaFile {
        path: path.to_path_buf(),
        problem,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| problem(format!("not JSON: {e}")))?;
    schema::schema_from_json(&value).map_err(problem)
}

/// Files, folders (searched recursively) and globs, in a stable order, without repeats.
fn expand_sources(
    inputs: &[PathBuf],
    format: Option<SourceFormat>,
    compression: Option<Compression>,
) -> Result<Vec<Source>> {
    let mut paths: Vec<PathBuf> = Vec::new();
    for input in inputs {
        let text = input.to_string_lossy();
        if text.contains(['*', '?', '[']) {
            let mut found: Vec<PathBuf> = glob::glob(&text)
                .map_err(|e| Error::NoSourceFiles {
                    pattern: format!("{text} ({e})"),
                    what: "matching".into(),
                })?
                .filter_map(|p| p.ok())
                .filter(|p| p.is_file())
                .collect();
            if found.is_empty() {
                return Err(Error::NoSourceFiles {
                    pattern: text.into_owned(),
                    what: "matching".into(),
                });
            }
            found.sort();
            paths.extend(found);
        } else if input.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found)?;
            found.retain(|p| match format {
                Some(f) => {
                    SourceFormat::from_path(p) == Some(f)
                        || SourceFormat::from_path(p).is_none() && !is_hidden(p)
                }
                None => SourceFormat::from_path(p).is_some(),
            });
            if found.is_empty() {
                return Err(Error::NoSourceFiles {
                    pattern: text.into_owned(),
                    what: format.map_or("csv, ndjson, json or parquet".to_string(), |f| {
                        f.as_str().to_string()
                    }),
                });
            }
            found.sort();
            paths.extend(found);
        } else if input.is_file() {
            paths.push(input.clone());
        } else {
            return Err(Error::SourceNotFound {
                path: input.clone(),
            });
        }
    }
    let mut seen = HashSet::new();
    let mut sources = Vec::new();
    for path in paths {
        let canonical = path.canonicalize().map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        if !seen.insert(canonical) {
            continue;
        }
        let format = match format.or_else(|| SourceFormat::from_path(&path)) {
            Some(f) => f,
            None => return Err(Error::UnknownFormat { path }),
        };
        let size = std::fs::metadata(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?
            .len();
        let compression = compression.unwrap_or_else(|| Compression::from_path(&path));
        if format == SourceFormat::Parquet && compression != Compression::None {
            return Err(Error::BadInput {
                path,
                at: crate::error::Location::File,
                problem: format!(
                    "Parquet is compressed inside; a {} Parquet file cannot be read as it is (decompress it first)",
                    compression.as_str()
                ),
            });
        }
        sources.push(Source {
            path,
            format,
            size,
            compression,
        });
    }
    Ok(sources)
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// The files under `dir`, in name order, hidden entries (and everything under a hidden folder)
/// left out. Symbolic links are followed, and a link back to a folder above is an error, not a
/// walk without end.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(e.path()));
    for entry in entries {
        let entry = entry.map_err(|e| Error::Io {
            path: e.path().unwrap_or(dir).to_path_buf(),
            source: e
                .io_error()
                .map(|io| std::io::Error::new(io.kind(), io.to_string()))
                .unwrap_or_else(|| std::io::Error::other(e.to_string())),
        })?;
        if entry.file_type().is_file() {
            out.push(entry.into_path());
        }
    }
    Ok(())
}

/// What an ingest records beside its version, in the same transaction.
pub(crate) type OnCommit =
    Box<dyn FnOnce(&crate::catalog::Tx<'_>, &crate::catalog::VersionRow) -> Result<()> + Send>;

/// Remote sources fetched into the spool.
struct Fetched {
    /// Every input, remote ones replaced by their spooled copies.
    paths: Vec<PathBuf>,
    uris: std::collections::HashMap<PathBuf, String>,
    /// Files and folders to remove once the ingest ends.
    spooled: Vec<PathBuf>,
}

/// Fetch `s3://bucket/key` inputs (and every source under `s3://bucket/prefix/`) into the
/// spool, under their own file names so their extensions still say their format. On failure,
/// what was already spooled comes back with the error, to be removed.
async fn fetch_remote(
    lake: &Lake,
    inputs: &[PathBuf],
) -> std::result::Result<Fetched, (Error, Vec<PathBuf>)> {
    let mut out = Fetched {
        paths: Vec::with_capacity(inputs.len()),
        uris: Default::default(),
        spooled: Vec::new(),
    };
    for input in inputs {
        let text = input.to_string_lossy();
        let fail = |e: Error, out: Fetched| (e, out.spooled);
        if text.starts_with("https://") || text.starts_with("http://") {
            let dir = match spool_folder(lake) {
                Ok(d) => d,
                Err(e) => return Err(fail(e, out)),
            };
            out.spooled.push(dir.clone());
            let url = text.to_string();
            match fetch_http(&url, &dir).await {
                Ok(local) => {
                    out.uris.insert(local.clone(), url);
                    out.paths.push(local);
                }
                Err(e) => return Err(fail(e, out)),
            }
            continue;
        }
        let Some(rest) = text.strip_prefix("s3://") else {
            out.paths.push(input.clone());
            continue;
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let store = match crate::storage::Storage::open(
            &format!("s3://{bucket}"),
            lake.dir(),
            &lake.config().source_options(&text),
        ) {
            Ok(s) => s,
            Err(e) => return Err(fail(e, out)),
        };
        let keys: Vec<String> = if key.is_empty() || key.ends_with('/') {
            let listed = match store.list(key).await {
                Ok(l) => l,
                Err(e) => return Err(fail(e, out)),
            };
            let keys: Vec<String> = listed
                .into_iter()
                .map(|o| o.key)
                .filter(|k| SourceFormat::from_path(Path::new(k)).is_some())
                .collect();
            if keys.is_empty() {
                return Err(fail(
                    Error::NoSourceFiles {
                        pattern: text.into_owned(),
                        what: "csv, ndjson, json or parquet".into(),
                    },
                    out,
                ));
            }
            keys
        } else {
            match store.head(key).await {
                Ok(Some(_)) => vec![key.to_string()],
                Ok(None) => {
                    return Err(fail(
                        Error::SourceNotFound {
                            path: input.clone(),
                        },
                        out,
                    ));
                }
                Err(e) => return Err(fail(e, out)),
            }
        };
        for key in keys {
            let dir = match spool_folder(lake) {
                Ok(d) => d,
                Err(e) => return Err(fail(e, out)),
            };
            out.spooled.push(dir.clone());
            let name = Path::new(&key)
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_else(|| "source".into());
            let local = dir.join(name);
            if let Err(e) = store.download(&key, &local).await {
                return Err(fail(e, out));
            }
            out.uris
                .insert(local.clone(), format!("s3://{bucket}/{key}"));
            out.paths.push(local);
        }
    }
    Ok(out)
}

/// GET `url` into `dir`, under the last segment of its path (so its extension still says its
/// format); the local path.
async fn fetch_http(url: &str, dir: &Path) -> Result<PathBuf> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let bad = |problem: String| Error::HttpSource {
        url: url.to_string(),
        problem,
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|n| !n.is_empty())
        .unwrap_or("source")
        .to_string();
    let response = reqwest::get(parsed).await.map_err(|e| bad(e.to_string()))?;
    if !response.status().is_success() {
        return Err(bad(format!("the server answered {}", response.status())));
    }
    let local = dir.join(name);
    let io = |source| Error::Io {
        path: local.clone(),
        source,
    };
    let mut file = tokio::fs::File::create(&local).await.map_err(io)?;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| bad(format!("the body broke off: {e}")))?;
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(local)
}

/// A fresh folder in the spool for one fetched source.
pub(crate) fn spool_folder(lake: &Lake) -> Result<PathBuf> {
    let dir = lake
        .spool_dir()?
        .join(uuid::Uuid::now_v7().simple().to_string());
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

fn remove_spooled(spooled: &[PathBuf]) {
    for dir in spooled {
        let _ = std::fs::remove_dir_all(dir);
    }
}

pub(crate) fn source_uri(path: &Path) -> String {
    let abs = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    url::Url::from_file_path(&abs)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| abs.display().to_string())
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;
    use object_store::{ObjectMeta, ObjectStore};

    use super::*;
    use crate::catalog::Catalog;
    use crate::config::Config;
    use crate::storage::faulty::{Fault, Faulty};
    use crate::storage::{Storage, layout};

    fn lake_over(store: Arc<Faulty>) -> Lake {
        let storage = Storage::from_store(store, "faulty://");
        Lake::from_parts(
            PathBuf::from("."),
            Config::new(None, None),
            storage,
            Storage::in_memory(),
            Catalog::open_in_memory().unwrap(),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_ingest_as_a_file_would_and_the_same_batches_again_are_unchanged() {
        use arrow::array::{Int64Array, StringArray};
        use arrow::datatypes::{DataType, Field};
        let lake = Lake::in_memory().unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = |ids: Vec<i64>| {
            let names: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(StringArray::from(names)),
                ],
            )
            .unwrap()
        };
        let target: DatasetRef = "bronze.people".parse().unwrap();
        let ingest = |batches: Vec<RecordBatch>| {
            lake.ingest_batches(target.clone(), schema.clone(), batches, "api")
                .unwrap()
        };
        let first = ingest(vec![batch(vec![1, 2]), batch(vec![3])])
            .execute()
            .await
            .unwrap();
        assert_eq!((first.version, first.rows), (Some(Version(1)), 3));
        let spooled = first.sources[0].path.clone();
        assert!(
            !spooled.exists(),
            "the spooled file is removed: {spooled:?}"
        );
        let v1 = lake.resolve(&"bronze.people@v1".parse().unwrap()).unwrap();
        let sources = lake.catalog().reader().version_sources(v1.id).unwrap();
        assert_eq!(sources[0].uri, "arrow:api");
        let again = ingest(vec![batch(vec![1, 2]), batch(vec![3])])
            .execute()
            .await
            .unwrap();
        assert_eq!(again.status, IngestStatus::Unchanged);
        let more = ingest(vec![batch(vec![4])]).execute().await.unwrap();
        assert_eq!((more.version, more.version_rows), (Some(Version(2)), 4));
        // A batch of another schema is refused before anything is staged.
        let other = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)])),
            vec![Arc::new(Int64Array::from(vec![9]))],
        )
        .unwrap();
        let Err(e) = lake.ingest_batches(target.clone(), schema.clone(), [other], "api") else {
            panic!("a batch of another schema was taken");
        };
        assert!(matches!(e, Error::BatchSchema { .. }), "{e}");
        assert_eq!(lake.resolve(&target).unwrap().version, Version(2));
    }

    fn sample(dir: &Path) -> PathBuf {
        let path = dir.join("orders.csv");
        let mut csv = String::from("id,amount\n");
        for i in 0..5000 {
            csv.push_str(&format!("{i},{}.5\n", i % 100));
        }
        std::fs::write(&path, csv).unwrap();
        path
    }

    async fn run(fail_on: &'static str) -> (Arc<Faulty>, Lake, Result<IngestReport>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Faulty::default());
        store.inject(fail_on, Fault::FailBefore);
        let lake = lake_over(store.clone());
        let target: DatasetRef = "bronze.orders".parse().unwrap();
        let result = lake
            .ingest(vec![sample(dir.path())], target)
            .execute()
            .await;
        (store, lake, result)
    }

    async fn objects(store: &Faulty) -> Vec<String> {
        let all: Vec<ObjectMeta> = store.inner.list(None).try_collect().await.unwrap();
        all.into_iter().map(|m| m.location.to_string()).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_data_upload_commits_nothing() {
        let (store, lake, result) = run("/data/").await;
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Storage { .. }), "{err:?}");
        assert!(
            err.to_string().contains("faulty://bronze/orders/data/"),
            "{err}"
        );
        assert!(lake.datasets(None).unwrap().is_empty());
        assert_eq!(objects(&store).await, Vec::<String>::new());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_manifest_write_commits_nothing_and_removes_the_data() {
        let (store, lake, result) = run("_lake/manifests").await;
        let err = result.unwrap_err();
        assert!(
            err.to_string()
                .contains("_lake/manifests/bronze/orders/v000001.json"),
            "{err}"
        );
        assert!(
            lake.datasets(None).unwrap().is_empty(),
            "the catalog rolled back"
        );
        assert_eq!(objects(&store).await, Vec::<String>::new());

        // Once the store recovers, the same ingest commits v1.
        store.clear();
        let dir = tempfile::tempdir().unwrap();
        let report = lake
            .ingest(vec![sample(dir.path())], "bronze.orders".parse().unwrap())
            .execute()
            .await
            .unwrap();
        assert_eq!(report.version, Some(Version(1)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_manifest_left_by_a_crashed_writer_is_set_aside() {
        let store = Arc::new(Faulty::default());
        let lake = lake_over(store.clone());
        let target: DatasetRef = "bronze.orders".parse().unwrap();
        // A writer that crashed after writing v1's manifest but before its catalog commit.
        let key = layout::manifest(&target, Version(1));
        lake.storage()
            .put_new(&key, bytes::Bytes::from_static(b"{}"))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let report = lake
            .ingest(vec![sample(dir.path())], target.clone())
            .execute()
            .await
            .unwrap();
        assert_eq!(report.version, Some(Version(1)));
        let (_, manifest, _) = lake.manifest(&target.at(Version(1))).await.unwrap();
        assert_eq!(manifest.rows, 5000);
        let stale = lake.storage().list("_lake/stale/").await.unwrap();
        assert_eq!(stale.len(), 1, "the stale manifest was kept aside");
    }
}
