//! The one write path: a staged write of a new dataset version, from first byte to commit.
//!
//! Every writer (ingest, promote, and later compaction, streaming and erasure) goes through a
//! [`StagedWrite`], which owns the commit protocol of `DESIGN.md`:
//!
//! 0. the write is registered in the catalog before its first byte (write id, dataset, key
//!    prefix, owner process), so `lake gc` never collects its objects while it runs;
//! 1. batches are encoded into Parquet at fresh keys under that prefix, hashed as they stream;
//!    every object completed is listed, and on any error all of them are removed (an open
//!    upload is aborted) before the record is closed;
//! 2. one `BEGIN IMMEDIATE` transaction re-checks what the operation assumed (its `plan` sees
//!    the latest version as it is now, and may decide there is nothing to commit), numbers the
//!    version, writes its manifest at a fresh key, inserts the catalog rows and closes the write
//!    record. Only then is the version visible.
//!
//! A process killed anywhere leaves a write record whose owner is dead: its objects are debris
//! that `lake gc` removes, never part of a version.

use arrow::datatypes::{Schema, SchemaRef};
use bytes::Bytes;

use crate::catalog::{
    ColumnRow, FileRow, NewVersion, NewWrite, SchemaChange, SourceRow, Tx, VersionRow,
};
use crate::clock;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::format::manifest::{Input, MANIFEST_FORMAT, Manifest, Operation};
use crate::format::schema;
use crate::ident::{DatasetRef, Version};
use crate::lake::Lake;
use crate::storage::{self, layout};
use crate::write::DataWriter;

/// What an operation commits, decided against the latest version inside the transaction.
pub(crate) struct Draft {
    pub operation_name: &'static str,
    pub operation: Operation,
    pub mode: Option<String>,
    pub inputs: Vec<Input>,
    pub schema: Schema,
    /// Every file the version references: this write's and any it keeps from earlier versions.
    pub files: Vec<FileRow>,
    /// The sources this operation ingested (`added`).
    pub sources: Vec<SourceRow>,
    /// The version also holds every source the latest version holds (an append, a compaction);
    /// otherwise only `sources`.
    pub keep_sources: bool,
    pub changes: Vec<SchemaChange>,
}

pub(crate) struct Committed {
    pub version: VersionRow,
    pub changes: Vec<SchemaChange>,
}

/// A registered write of new objects for one dataset; see the module docs.
pub(crate) struct StagedWrite<'a> {
    lake: &'a Lake,
    dataset: DatasetRef,
    id: String,
    /// Every object this write completed, in the order written.
    files: Vec<FileRow>,
}

impl Lake {
    /// Register a new write of `dataset` by `operation`; nothing is in storage yet.
    pub(crate) fn stage(
        &self,
        dataset: &DatasetRef,
        operation: &'static str,
    ) -> Result<StagedWrite<'_>> {
        let id = layout::new_write_id();
        let prefix = layout::write_prefix(dataset, &id);
        self.stage_under(dataset, operation, id, prefix)
    }

    /// Register a write that commits objects already under `prefix` (written by another
    /// engine), so `lake gc` leaves them alone while it runs. If it fails, nothing under that
    /// prefix is removed (see [`StagedWrite::abort`]): they were never this write's.
    pub(crate) fn stage_in_place(
        &self,
        dataset: &DatasetRef,
        operation: &'static str,
        prefix: &str,
    ) -> Result<StagedWrite<'_>> {
        let id = layout::new_write_id();
        self.stage_under(dataset, operation, id, prefix.to_string())
    }

    fn stage_under(
        &self,
        dataset: &DatasetRef,
        operation: &'static str,
        id: String,
        prefix: String,
    ) -> Result<StagedWrite<'_>> {
        let owner = self.owner()?;
        let now = clock::timestamp(chrono::Utc::now());
        let name = dataset.to_string();
        self.catalog().write(|tx| {
            self.keep_owner(tx)?;
            tx.insert_write(&NewWrite {
                id: &id,
                owner_id: &owner,
                dataset: &name,
                operation,
                prefix: &prefix,
                started_at: &now,
            })
        })?;
        failpoint::hit("write.registered")?;
        Ok(StagedWrite {
            lake: self,
            dataset: dataset.clone(),
            id,
            files: Vec::new(),
        })
    }
}

impl StagedWrite<'_> {
    /// Start encoding batches of `schema` into new data files of this write.
    pub(crate) fn encoder(&self, schema: SchemaRef) -> DataWriter {
        self.lake
            .data_writer(&self.dataset, &self.id, self.files.len(), schema)
    }

    /// Wait for an encoder to close its last file; its files become part of this write whether
    /// it succeeded or not, so [`StagedWrite::abort`] removes them.
    pub(crate) async fn finish(&mut self, encoder: DataWriter) -> Result<()> {
        let (files, error) = encoder.finish().await;
        self.files.extend(files);
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Mark the files written since the first `from` as holding `partition`; their rows.
    pub(crate) fn label_from(&mut self, from: usize, partition: &str) -> u64 {
        let mut rows = 0;
        for f in &mut self.files[from..] {
            f.partition = Some(partition.to_string());
            rows += f.rows;
        }
        rows
    }

    /// The objects written so far.
    pub(crate) fn files(&self) -> &[FileRow] {
        &self.files
    }

    /// The key for this write's next data file, for a writer that puts its own bytes there
    /// (then [`StagedWrite::add_file`]).
    pub(crate) fn next_key(&self) -> String {
        layout::data_file(&self.dataset, &self.id, self.files.len())
    }

    /// Count an object written at [`StagedWrite::next_key`] as part of this write.
    pub(crate) fn add_file(&mut self, file: FileRow) {
        self.files.push(file);
    }

    /// Remove every object of this write, then close its record. Besides the files it knows
    /// of, anything under its key prefix goes too: an upload whose outcome was unknown (the
    /// store took it, the answer was lost) is there without being listed. What cannot be
    /// removed now stays under the record's prefix for `lake gc`.
    pub(crate) async fn abort(self) {
        let storage = self.lake.storage();
        let prefix = layout::write_prefix(&self.dataset, &self.id);
        let mut keys: Vec<String> = self.files.iter().map(|f| f.path.clone()).collect();
        // Only what this write made: under its own write id, also when its record protects
        // another engine's objects (`Lake::stage_in_place`), which are never removed here.
        match storage.list(&layout::data_prefix(&self.dataset)).await {
            Ok(listed) => keys.extend(
                listed
                    .into_iter()
                    .map(|o| o.key)
                    .filter(|k| k.starts_with(&prefix)),
            ),
            Err(e) => tracing::warn!(prefix, error = %e, "could not list an uncommitted write"),
        }
        keys.sort();
        keys.dedup();
        let mut all_removed = true;
        for key in &keys {
            if let Err(e) = storage.delete(key).await {
                all_removed = false;
                tracing::warn!(key, error = %e, "could not remove an uncommitted object; `lake gc` will");
            }
        }
        if all_removed {
            let _ = self.lake.catalog().write(|tx| tx.remove_write(&self.id));
        }
    }

    /// Commit a new version of the dataset from this write's objects.
    ///
    /// `plan` runs inside the write transaction and sees the dataset's latest version as it is
    /// now (a concurrent writer may have committed since the operation started); it returns the
    /// version's content, or `None` when there is nothing new to commit (then the objects are
    /// removed and no version is made). `record` runs in the same transaction once the version
    /// row exists, for rows that name it (lineage, runs, checks). Any error removes the objects.
    pub(crate) async fn commit(
        self,
        plan: impl FnOnce(&Tx<'_>, Option<&VersionRow>) -> Result<Option<Draft>>,
        record: impl FnOnce(&Tx<'_>, &VersionRow) -> Result<()>,
    ) -> Result<Option<Committed>> {
        let result = self.try_commit(plan, record).await;
        match result {
            Ok(Some(c)) => {
                failpoint::hit("commit.after_catalog")?;
                self.lake.follow_with_delta(&self.dataset).await;
                Ok(Some(c))
            }
            Ok(None) => {
                let (lake, dataset) = (self.lake, self.dataset.clone());
                self.abort().await;
                // Nothing new; a Delta log a killed writer left behind catches up here.
                lake.follow_with_delta(&dataset).await;
                Ok(None)
            }
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    /// Commit changes to versions already committed (an erasure's amended versions) that
    /// reference this write's objects, through the same protocol as [`StagedWrite::commit`]:
    /// every object is checked in storage first, `amend` runs inside the write transaction, and
    /// the write's record closes in it. `amend` returns `None` when what it assumed no longer
    /// holds; then, as on any error, the objects are removed and nothing is committed.
    pub(crate) async fn amend<T>(
        self,
        amend: impl FnOnce(&Tx<'_>, &tokio::runtime::Handle) -> Result<Option<T>>,
    ) -> Result<Option<T>> {
        let result = async {
            failpoint::hit("write.encoded")?;
            self.check_objects().await?;
            let handle = tokio::runtime::Handle::current();
            tokio::task::block_in_place(|| {
                self.lake.catalog().write(|tx| {
                    let Some(out) = amend(tx, &handle)? else {
                        return Ok(None);
                    };
                    if !tx.remove_write(&self.id)? {
                        return Err(Error::WriteLost {
                            dataset: self.dataset.to_string(),
                            write_id: self.id.clone(),
                        });
                    }
                    failpoint::hit("commit.before_catalog")?;
                    Ok(Some(out))
                })
            })
        }
        .await;
        match result {
            Ok(Some(out)) => {
                failpoint::hit("commit.after_catalog")?;
                Ok(Some(out))
            }
            Ok(None) => {
                self.abort().await;
                Ok(None)
            }
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    async fn try_commit(
        &self,
        plan: impl FnOnce(&Tx<'_>, Option<&VersionRow>) -> Result<Option<Draft>>,
        record: impl FnOnce(&Tx<'_>, &VersionRow) -> Result<()>,
    ) -> Result<Option<Committed>> {
        failpoint::hit("write.encoded")?;
        self.check_objects().await?;
        let lake = self.lake;
        let dataset = &self.dataset;
        let handle = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| {
            let mut catalog = lake.catalog();
            catalog.write(|tx| {
                let latest = match tx.find_dataset(dataset)? {
                    Some(row) => tx.latest_version(row.id)?,
                    None => None,
                };
                let Some(draft) = plan(tx, latest.as_ref())? else {
                    return Ok(None);
                };
                // An input amended by `lake erase` since it was read would bring back the rows
                // the erasure removed.
                for input in &draft.inputs {
                    let r: DatasetRef = input.reference.parse()?;
                    if tx.resolve(&r)?.digest != input.manifest_sha256 {
                        return Err(Error::InputAmended {
                            output: dataset.dataset_name(),
                            input: input.reference.clone(),
                        });
                    }
                }
                // A version whose schema would not read back could never be read again.
                match schema::storable(&draft.schema) {
                    Ok(stored) if stored == draft.schema => {}
                    other => {
                        let why = other.err().unwrap_or_else(|| "its stored form differs".into());
                        return Err(Error::Internal(format!(
                            "`{dataset}` would be committed with a schema that does not read back: {why}"
                        )));
                    }
                }
                let version = Version(latest.as_ref().map_or(1, |v| v.version.0 + 1));
                let created_at = clock::timestamp(lake.clock().now());
                let mut files = draft.files;
                files.sort_by(|a, b| a.path.cmp(&b.path));
                let manifest = Manifest {
                    lake_manifest: MANIFEST_FORMAT,
                    dataset: dataset.dataset_name(),
                    version: version.0,
                    created_at: created_at.clone(),
                    operation: draft.operation,
                    inputs: draft.inputs,
                    schema: schema::schema_json(&draft.schema),
                    rows: files.iter().map(|f| f.rows).sum(),
                    bytes: files.iter().map(|f| f.size).sum(),
                    files: files.iter().map(FileRow::manifest_file).collect(),
                    amendments: Vec::new(),
                };
                let (bytes, digest) = manifest.encode();
                let key = layout::manifest(dataset, version);
                failpoint::hit("commit.before_manifest")?;
                let put = handle.block_on(put_manifest(lake, dataset, version, &key, Bytes::from(bytes)));
                if let Err(e) = put {
                    // The store may have taken it before the error: it must not outlive us.
                    let _ = handle.block_on(lake.storage().delete(&key));
                    return Err(e);
                }
                // Until the transaction commits, the manifest is ours alone (we hold the write
                // lock): if anything below fails, it goes, so no reader finds an uncommitted one.
                let rows = (|| {
                    failpoint::hit("commit.after_manifest")?;
                    let columns: Vec<ColumnRow> = schema::columns(&draft.schema)
                        .into_iter()
                        .map(|c| ColumnRow {
                            name: c.name,
                            data_type: c.data_type,
                            nullable: c.nullable,
                        })
                        .collect();
                    let row = tx.insert_version(&NewVersion {
                        dataset: dataset.dataset(),
                        version,
                        digest: digest.clone(),
                        manifest_key: key.clone(),
                        schema_json: manifest.schema.to_string(),
                        columns,
                        operation: draft.operation_name.to_string(),
                        mode: draft.mode.clone(),
                        created_at: created_at.clone(),
                        created_by: lake.actor().to_string(),
                        files,
                        sources: draft.sources,
                        keep_sources: draft.keep_sources,
                        changes: draft.changes.clone(),
                    })?;
                    record(tx, &row)?;
                    tx.reindex(Some(row.dataset_id))?;
                    tx.audit(
                        &created_at,
                        lake.actor(),
                        draft.operation_name,
                        &row.reference().to_string(),
                        &serde_json::json!({ "digest": digest, "rows": row.rows, "files": row.file_count }),
                    )?;
                    if !tx.remove_write(&self.id)? {
                        return Err(Error::WriteLost {
                            dataset: dataset.to_string(),
                            write_id: self.id.clone(),
                        });
                    }
                    failpoint::hit("commit.before_catalog")?;
                    Ok(row)
                })();
                match rows {
                    Ok(row) => Ok(Some(Committed {
                        version: row,
                        changes: draft.changes,
                    })),
                    Err(e) => {
                        if let Err(d) = handle.block_on(lake.storage().delete(&key)) {
                            tracing::warn!(key, error = %d, "could not remove an uncommitted manifest");
                        }
                        Err(e)
                    }
                }
            })
        })
    }

    /// Every object of this write is in storage with the size it was written with: a version
    /// is never committed over objects that are not there.
    async fn check_objects(&self) -> Result<()> {
        let storage = self.lake.storage();
        for f in &self.files {
            let problem = match storage.head(&f.path).await? {
                Some(info) if info.size == f.size => continue,
                Some(info) => format!("is {} bytes, {} were written", info.size, f.size),
                None => "is gone".to_string(),
            };
            return Err(Error::Integrity {
                path: storage.object_url(&f.path),
                problem: format!(
                    "an object of this uncommitted write of `{}` {problem}; nothing was committed",
                    self.dataset
                ),
            });
        }
        Ok(())
    }
}

/// Write a manifest at its version's key. We hold the catalog's write lock and the catalog has
/// no such version: whatever is already at this key was left by a writer that never committed,
/// so it is set aside (kept under `_lake/stale/`), never trusted and never lost.
async fn put_manifest(
    lake: &Lake,
    dataset: &DatasetRef,
    version: Version,
    key: &str,
    bytes: Bytes,
) -> Result<()> {
    let storage = lake.storage();
    match storage.put_new(key, bytes.clone()).await {
        Err(e) if storage::is_already_exists(&e) => {
            let stale = layout::stale_manifest(dataset, version, &layout::new_write_id());
            storage.copy(key, &stale).await?;
            storage.delete(key).await?;
            tracing::warn!(key, stale, "set aside an uncommitted manifest");
            storage.put_new(key, bytes).await
        }
        other => other,
    }
}
