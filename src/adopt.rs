//! `lake adopt DIR|s3://prefix --into zone.name`: Parquet files another engine wrote (Spark,
//! DuckDB, Polars) registered as a new version of a dataset, through the one write path.
//!
//! Each file is read twice before anything commits: decoded whole (every row group, every
//! column), so a truncated or corrupt file is refused naming it, and hashed (sha256 and the
//! block hashes verified reads check). Files that already sit under the dataset's data prefix
//! (`<root>/<zone>/<name>/data/…`) are registered where they are, nothing copied; the write's
//! record covers their folder, so `lake gc` leaves them alone while the adopt runs, and a
//! failed adopt never removes them. Files elsewhere are copied byte for byte (not re-encoded)
//! to fresh keys of the write, hashed as they are copied.
//!
//! Names starting with `_` or `.` (`_SUCCESS`, `.crc` files, `_temporary/`) are not data and
//! are skipped, as Spark's readers skip them. A file whose sha256 the dataset's latest version
//! already holds is skipped too, so adopting a folder again adopts only what is new.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use arrow::datatypes::Schema;
use bytes::Bytes;
use futures::StreamExt;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use serde::Serialize;

use crate::catalog::{FileRow, SchemaChange, SourceRow};
use crate::commit::Draft;
use crate::error::{Error, Location, Result};
use crate::format::hash::{BLOCK_SIZE, HashingWriter};
use crate::format::manifest::{Blocks, ManifestSource, Operation};
use crate::format::schema;
use crate::ident::{DatasetRef, Version};
use crate::ingest::IngestMode;
use crate::lake::Lake;
use crate::storage::{Storage, layout};

/// How an adoption ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdoptStatus {
    /// A new version with the files committed.
    Committed,
    /// Every file is already in the latest version.
    Unchanged,
    /// Every file was read and checked; nothing was committed (`--dry-run`).
    DryRun,
}

/// One file adopted.
#[derive(Debug, Clone, Serialize)]
pub struct AdoptedFile {
    /// Where it was found.
    pub uri: String,
    /// Its key in the lake's root, once adopted.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its rows.
    pub rows: u64,
    /// Its sha256, as the manifest records it.
    pub sha256: String,
    /// Registered where it was (under the dataset's data prefix), not copied.
    pub in_place: bool,
}

/// What `lake adopt` did.
#[derive(Debug, Clone, Serialize)]
pub struct AdoptReport {
    /// The dataset.
    pub dataset: DatasetRef,
    /// How it ended.
    pub status: AdoptStatus,
    /// Append to the latest version or overwrite it.
    pub mode: IngestMode,
    /// The new version's number.
    pub version: Option<Version>,
    /// The new version's ref.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The new version's digest.
    pub digest: Option<String>,
    /// Rows in the adopted files, and in the version.
    pub rows: u64,
    /// Rows of the new version.
    pub version_rows: u64,
    /// Each file adopted.
    pub files: Vec<AdoptedFile>,
    /// Files found that the latest version already holds.
    pub skipped: u64,
    /// Bytes copied under the lake's root (files found elsewhere).
    pub bytes_copied: u64,
    /// How the schema differs from the version before.
    pub drift: Vec<schema::Drift>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

/// An adoption; see the module docs.
pub struct Adopt<'a> {
    lake: &'a Lake,
    from: String,
    dataset: DatasetRef,
    mode: IngestMode,
    dry_run: bool,
}

impl Lake {
    /// Prepare to adopt the Parquet files under `from` (a folder or an `s3://` prefix) as a new
    /// version of `dataset`.
    pub fn adopt(&self, from: impl Into<String>, dataset: DatasetRef) -> Adopt<'_> {
        Adopt {
            lake: self,
            from: from.into(),
            dataset: dataset.dataset(),
            mode: IngestMode::Append,
            dry_run: false,
        }
    }
}

/// A file found, before it is read.
struct Found {
    /// Its key in the store it was found in.
    key: String,
    uri: String,
    size: u64,
}

/// A file read and checked.
struct Checked {
    found: Found,
    schema: Schema,
    rows: u64,
    row_groups: Vec<u64>,
}

impl Adopt<'_> {
    /// Append the files to the latest version (the default), or make them the whole version.
    pub fn with_mode(mut self, mode: IngestMode) -> Self {
        self.mode = mode;
        self
    }

    /// Read and check every file, commit nothing.
    pub fn with_dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Read, check and hash every file, then commit them as a new version.
    pub async fn execute(self) -> Result<AdoptReport> {
        let started = Instant::now();
        let lake = self.lake;
        let (source, found, in_place) = self.find().await?;
        let latest = {
            let catalog = lake.catalog();
            let tx = catalog.reader();
            match tx.find_dataset(&self.dataset)? {
                Some(d) => tx.latest_version(d.id)?,
                None => None,
            }
        };
        let (held_paths, held_sources): (HashSet<String>, HashSet<String>) = match &latest {
            Some(v) => {
                let catalog = lake.catalog();
                let tx = catalog.reader();
                (
                    tx.version_files(v.id)?
                        .into_iter()
                        .map(|f| f.path)
                        .collect(),
                    tx.version_sources(v.id)?
                        .into_iter()
                        .map(|s| s.sha256)
                        .collect(),
                )
            }
            None => Default::default(),
        };
        // In place, files are found in the root itself, under their own keys.
        let root_key = |f: &Found| -> String { f.key.clone() };
        let mut report = AdoptReport {
            dataset: self.dataset.clone(),
            status: AdoptStatus::Unchanged,
            mode: self.mode,
            version: None,
            reference: None,
            digest: None,
            rows: 0,
            version_rows: latest.as_ref().map_or(0, |v| v.rows),
            files: Vec::new(),
            skipped: 0,
            bytes_copied: 0,
            drift: Vec::new(),
            elapsed_ms: 0,
        };
        // Decode every file before anything is registered or copied.
        let mut checked = Vec::new();
        for f in found {
            if in_place.is_some() && held_paths.contains(&root_key(&f)) {
                report.skipped += 1;
                continue;
            }
            checked.push(check(&source, f).await?);
        }
        let mut merged: Option<Schema> = None;
        for c in &checked {
            let stored =
                schema::storable(&c.schema).map_err(|problem| bad(&c.found.uri, problem))?;
            merged = Some(match merged {
                None => stored,
                Some(m) => {
                    schema::unify(&m, &stored).map_err(|e| bad(&c.found.uri, e.to_string()))?
                }
            });
        }
        let staged_prefix = in_place.clone();
        let mut staged = match (&staged_prefix, self.dry_run || checked.is_empty()) {
            (_, true) => None,
            (Some(prefix), false) => Some(lake.stage_in_place(&self.dataset, "adopt", prefix)?),
            (None, false) => Some(lake.stage(&self.dataset, "adopt")?),
        };
        let mut files: Vec<FileRow> = Vec::new();
        let mut sources: Vec<SourceRow> = Vec::new();
        let hashed = async {
            for c in &checked {
                let (path, written, copied) = match staged.as_mut() {
                    Some(w) if in_place.is_none() => {
                        let key = w.next_key();
                        let written =
                            copy_hashing(&source, &c.found.key, lake.storage(), &key).await?;
                        (key, written, true)
                    }
                    _ => (
                        root_key(&c.found),
                        hash_blocks(&source, &c.found.key).await?,
                        false,
                    ),
                };
                let (sha256, size, blocks) = written;
                if size != c.found.size {
                    return Err(bad(
                        &c.found.uri,
                        format!(
                            "changed while it was read: {} bytes, then {size}",
                            c.found.size
                        ),
                    ));
                }
                if held_sources.contains(&sha256) {
                    report.skipped += 1;
                    if copied {
                        let _ = lake.storage().delete(&path).await;
                    }
                    continue;
                }
                let row = FileRow {
                    path: path.clone(),
                    sha256: sha256.clone(),
                    size,
                    rows: c.rows,
                    row_groups: c.row_groups.clone(),
                    blocks: Some(Blocks {
                        size: BLOCK_SIZE,
                        sha256: blocks,
                    }),
                    partition: None,
                };
                if copied {
                    report.bytes_copied += size;
                    if let Some(w) = staged.as_mut() {
                        w.add_file(row.clone());
                    }
                }
                files.push(row);
                sources.push(SourceRow {
                    uri: c.found.uri.clone(),
                    sha256: sha256.clone(),
                    size,
                    format: "parquet".into(),
                    rows: c.rows,
                    added: true,
                });
                report.rows += c.rows;
                report.files.push(AdoptedFile {
                    uri: c.found.uri.clone(),
                    path,
                    size,
                    rows: c.rows,
                    sha256,
                    in_place: !copied,
                });
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = hashed {
            if let Some(w) = staged {
                w.abort().await;
            }
            return Err(e);
        }
        let Some(merged) = merged.filter(|_| !files.is_empty()) else {
            if let Some(w) = staged {
                w.abort().await;
            }
            report.elapsed_ms = started.elapsed().as_millis() as u64;
            return Ok(report);
        };
        if self.dry_run {
            report.status = AdoptStatus::DryRun;
            report.elapsed_ms = started.elapsed().as_millis() as u64;
            return Ok(report);
        }
        let Some(staged) = staged else {
            return Err(Error::Internal(
                "an adopt with files to commit and no write".into(),
            ));
        };
        let mode = self.mode;
        let operation = Operation::Adopt {
            mode: mode.as_str().to_string(),
            from: self.from.clone(),
            files: sources
                .iter()
                .map(|s| ManifestSource {
                    uri: s.uri.clone(),
                    sha256: s.sha256.clone(),
                    size: s.size,
                    format: s.format.clone(),
                    rows: s.rows,
                })
                .collect(),
        };
        let mut drift = Vec::new();
        let committed = staged
            .commit(
                |tx, now| {
                    let previous = match now {
                        Some(v) => Some(crate::sql::version_schema(&tx.schema_json(v.schema_id)?)?),
                        None => None,
                    };
                    let mut all = files;
                    let version_schema = match (mode, now, &previous) {
                        (IngestMode::Append, Some(v), Some(prev)) => {
                            all.extend(tx.version_files(v.id)?);
                            schema::unify(prev, &merged)?
                        }
                        _ => merged.clone(),
                    };
                    if let Some(prev) = &previous {
                        drift = schema::diff(prev, &version_schema);
                    }
                    let changes = drift
                        .iter()
                        .map(|d| SchemaChange {
                            change: d.change.to_string(),
                            column: d.column.clone(),
                            old_type: d.old_type.clone(),
                            new_type: d.new_type.clone(),
                        })
                        .collect();
                    Ok(Some(Draft {
                        operation_name: "adopt",
                        operation,
                        mode: Some(mode.as_str().to_string()),
                        inputs: Vec::new(),
                        schema: version_schema,
                        files: all,
                        sources,
                        keep_sources: mode == IngestMode::Append,
                        changes,
                    }))
                },
                |_, _| Ok(()),
            )
            .await?;
        let Some(c) = committed else {
            return Err(Error::Internal("adopt planned nothing to commit".into()));
        };
        report.drift = drift;
        report.status = AdoptStatus::Committed;
        report.version = Some(c.version.version);
        report.reference = Some(c.version.reference().to_string());
        report.digest = Some(c.version.digest.clone());
        report.version_rows = c.version.rows;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// The store the files are in, the files (sorted by key), and — when they sit under the
    /// dataset's data prefix of the lake's root — that folder's key in the root.
    async fn find(&self) -> Result<(Storage, Vec<Found>, Option<String>)> {
        let lake = self.lake;
        let data = layout::data_prefix(&self.dataset);
        let (source, prefix_in_source, in_place) = if let Some(rest) =
            self.from.strip_prefix("s3://")
        {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            let key = if key.is_empty() || key.ends_with('/') {
                key.to_string()
            } else {
                format!("{key}/")
            };
            let store = Storage::open(
                &format!("s3://{bucket}"),
                lake.dir(),
                &lake.config().source_options(&self.from),
            )?;
            let url = format!("s3://{bucket}/{key}");
            let data_url = lake.storage().object_url(&data);
            let in_place = url
                .strip_prefix(&data_url)
                .map(|rest| format!("{data}{rest}"));
            (store, key, in_place)
        } else {
            let dir = lake.dir().join(&self.from);
            let dir = dir
                .canonicalize()
                .map_err(|_| Error::SourceNotFound { path: dir.clone() })?;
            if !dir.is_dir() {
                return Err(Error::BadInput {
                    path: dir,
                    at: Location::File,
                    problem: "adopt takes a folder of Parquet files (or an s3:// prefix)".into(),
                });
            }
            let in_place = lake.storage().local_dir().and_then(|root| {
                let rel = dir.strip_prefix(root.join(&data)).ok()?;
                let mut key = data.clone();
                for part in rel.components() {
                    key.push_str(&part.as_os_str().to_string_lossy());
                    key.push('/');
                }
                Some(key)
            });
            let store = Storage::open(
                &dir.display().to_string(),
                Path::new("/"),
                &Default::default(),
            )?;
            (store, String::new(), in_place)
        };
        let listed = source.list(&prefix_in_source).await?;
        let mut found: Vec<Found> = listed
            .into_iter()
            .filter(|o| {
                let rel = o.key.strip_prefix(&prefix_in_source).unwrap_or(&o.key);
                rel.ends_with(".parquet")
                    && !rel
                        .split('/')
                        .any(|part| part.starts_with('_') || part.starts_with('.'))
            })
            .map(|o| Found {
                uri: source.object_url(&o.key),
                size: o.size,
                key: o.key,
            })
            .collect();
        found.sort_by(|a, b| a.key.cmp(&b.key));
        if found.is_empty() {
            return Err(Error::NoSourceFiles {
                pattern: self.from.clone(),
                what: "parquet".into(),
            });
        }
        // Files in place are read (and registered) through the root, under their keys there.
        if let Some(folder) = &in_place {
            for f in &mut found {
                let rel = f.key.strip_prefix(&prefix_in_source).unwrap_or(&f.key);
                f.key = format!("{folder}{rel}");
            }
            return Ok((lake.storage().clone(), found, in_place));
        }
        Ok((source, found, in_place))
    }
}

fn bad(uri: &str, problem: String) -> Error {
    Error::BadInput {
        path: uri.into(),
        at: Location::File,
        problem,
    }
}

/// Decode the whole file: its schema, rows and row groups, or what is wrong with it.
async fn check(source: &Storage, found: Found) -> Result<Checked> {
    let key = found.key.clone();
    let reader = crate::scan::ObjectFile::unchecked(source.clone(), &key, found.size);
    let not_parquet = |e: parquet::errors::ParquetError| {
        bad(&found.uri, format!("not a readable Parquet file: {e}"))
    };
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(not_parquet)?;
    let schema = builder.schema().as_ref().clone();
    let row_groups: Vec<u64> = builder
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows() as u64)
        .collect();
    let mut stream = builder.build().map_err(not_parquet)?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        rows += batch.map_err(not_parquet)?.num_rows() as u64;
    }
    if rows != row_groups.iter().sum::<u64>() {
        return Err(bad(
            &found.uri,
            format!(
                "{rows} rows decode, its footer says {}",
                row_groups.iter().sum::<u64>()
            ),
        ));
    }
    let schema = Schema::new(schema.fields().clone());
    Ok(Checked {
        found,
        schema,
        rows,
        row_groups,
    })
}

/// sha256, size and block hashes of an object, read as a stream.
async fn hash_blocks(source: &Storage, key: &str) -> Result<(String, u64, Vec<String>)> {
    let mut hashing = HashingWriter::new(std::io::sink());
    let mut stream = source.stream(key).await?;
    while let Some(chunk) = stream.next().await {
        std::io::Write::write_all(&mut hashing, &chunk?)
            .map_err(|e| Error::Internal(e.to_string()))?;
    }
    let w = hashing.finish();
    Ok((w.sha256, w.size, w.blocks))
}

/// Copy an object byte for byte to a new key of the root, hashing it on the way.
async fn copy_hashing(
    source: &Storage,
    key: &str,
    root: &Storage,
    to: &str,
) -> Result<(String, u64, Vec<String>)> {
    let mut hashing = HashingWriter::new(std::io::sink());
    let mut stream = source.stream(key).await?;
    let mut writer = root.writer(to);
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = match chunk {
            Ok(c) => c,
            Err(e) => {
                writer.abort().await;
                return Err(e);
            }
        };
        std::io::Write::write_all(&mut hashing, &chunk)
            .map_err(|e| Error::Internal(e.to_string()))?;
        if let Err(e) = writer.write(&chunk).await {
            writer.abort().await;
            return Err(e);
        }
    }
    writer.finish().await?;
    let w = hashing.finish();
    Ok((w.sha256, w.size, w.blocks))
}
