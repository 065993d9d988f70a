//! Compaction (`lake maintain compact DATASET`): the latest version's small files merged into
//! fewer, as a new version with the same rows and schema, through the one write path.
//!
//! Files smaller than three quarters of the target file size are small; within each partition
//! (a dataset written with `partition_by` keeps one partition per file) they are read in
//! manifest order, checked against their hashes, and written again as files of the target size.
//! Large files are kept as they are. The new version (operation `compact`, lineage to the version
//! it compacted) commits only if that version is still the latest: a writer that committed in
//! between wins, and compaction starts over from the new latest version (a few times, then it
//! gives up, having changed nothing). Older versions keep their files, so pins and tags still
//! read; archive, expiry and gc decide when those go.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::catalog::FileRow;
use crate::commit::Draft;
use crate::error::{Error, Result};
use crate::format::manifest::{Input, ManifestFile, Operation};
use crate::ident::{DatasetRef, Version};
use crate::lake::Lake;

/// Attempts before compaction gives up on a dataset that keeps moving.
const ATTEMPTS: u32 = 3;

/// Bytes under which a file is small: three quarters of the target file size.
fn small_below(target_file_mb: u64) -> u64 {
    target_file_mb.max(1) * 1024 * 1024 * 3 / 4
}

/// How a compaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompactStatus {
    /// A new version with the merged files committed.
    Committed,
    /// Nothing to merge: no partition has two small files.
    Unchanged,
    /// Nothing was written (`--dry-run`); the report says what would be.
    DryRun,
}

/// What `lake maintain compact` did.
#[derive(Debug, Clone, Serialize)]
pub struct CompactReport {
    /// The dataset compacted.
    pub dataset: DatasetRef,
    /// How it ended.
    pub status: CompactStatus,
    /// The version compacted.
    pub from: String,
    /// The new version's number, when one committed.
    pub version: Option<Version>,
    /// The new version's ref, `zone.name@vN`.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The new version's digest.
    pub digest: Option<String>,
    /// Rows of the version (the same before and after).
    pub rows: u64,
    /// Files of the version compacted.
    pub files_before: u64,
    /// Files of the new version.
    pub files_after: u64,
    /// Small files merged, and the files written in their place.
    pub files_merged: u64,
    /// Files this compaction wrote.
    pub files_written: u64,
    /// Bytes of the small files merged.
    pub bytes_merged: u64,
    /// Bytes of the files written.
    pub bytes_written: u64,
    /// 1, or more when another writer committed while a compaction ran.
    pub attempts: u32,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

/// A compaction; see the module docs.
pub struct Compact<'a> {
    lake: &'a Lake,
    dataset: DatasetRef,
    target_file_mb: Option<u64>,
    dry_run: bool,
}

impl Lake {
    /// Prepare a compaction of `dataset`'s latest version.
    pub fn compact(&self, dataset: DatasetRef) -> Compact<'_> {
        Compact {
            lake: self,
            dataset: dataset.dataset(),
            target_file_mb: None,
            dry_run: false,
        }
    }
}

impl Lake {
    /// Compact `dataset` if `[maintain]` says it is due ([`Lake::compaction_due`]): what
    /// streams and watches do after each batch. `None` when it is not.
    pub(crate) async fn compact_if_due(
        &self,
        dataset: &DatasetRef,
    ) -> Option<Result<CompactReport>> {
        match self.compaction_due(dataset) {
            Ok(Some(_)) => Some(self.compact(dataset.clone()).execute().await),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// Why `[maintain]` says `dataset` is due for compaction, if it is: its latest version holds
    /// `compact_small_files` small files, or `compact_after_appends` appends have committed
    /// since its last compaction and it has small files to merge.
    pub fn compaction_due(&self, dataset: &DatasetRef) -> Result<Option<String>> {
        let policy = &self.config().maintain;
        let small = small_below(self.config().ingest.target_file_mb);
        let catalog = self.catalog();
        let tx = catalog.reader();
        let Some(row) = tx.find_dataset(dataset)? else {
            return Ok(None);
        };
        let Some(v) = tx.latest_version(row.id)? else {
            return Ok(None);
        };
        let files = tx.small_files(v.id, small)?;
        if policy.compact_small_files >= 2 && files >= policy.compact_small_files {
            return Ok(Some(format!("{files} small files")));
        }
        if policy.compact_after_appends > 0 && files >= 2 {
            let appends = tx.appends_since_compaction(row.id)?;
            if appends >= policy.compact_after_appends {
                return Ok(Some(format!(
                    "{appends} appends since its last compaction ({files} small files)"
                )));
            }
        }
        Ok(None)
    }

    /// `lake maintain`: every dataset `[maintain]` says is due, compacted (or, with `dry_run`,
    /// named).
    pub async fn maintain(&self, dry_run: bool) -> Result<Vec<MaintainAction>> {
        let datasets: Vec<DatasetRef> = self
            .catalog()
            .reader()
            .list_datasets(None)?
            .into_iter()
            .map(|d| d.dataset)
            .collect();
        let mut out = Vec::new();
        for d in datasets {
            let Some(why) = self.compaction_due(&d)? else {
                continue;
            };
            let report = self
                .compact(d.clone())
                .with_dry_run(dry_run)
                .execute()
                .await?;
            out.push(MaintainAction {
                dataset: d,
                why,
                compaction: report,
            });
        }
        Ok(out)
    }
}

/// One dataset `lake maintain` acted on.
#[derive(Debug, Clone, Serialize)]
pub struct MaintainAction {
    /// The dataset.
    pub dataset: DatasetRef,
    /// Which `[maintain]` policy made it due.
    pub why: String,
    /// What compacting it did.
    pub compaction: CompactReport,
}

impl Compact<'_> {
    /// The size files are written at (default `[ingest] target_file_mb`); smaller than three
    /// quarters of it is small.
    pub fn with_target_file_mb(mut self, mb: Option<u64>) -> Self {
        self.target_file_mb = mb;
        self
    }
    /// Say what would be merged; write nothing.
    pub fn with_dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Compact the dataset's latest version: a new version, unless nothing is small enough to
    /// merge.
    pub async fn execute(self) -> Result<CompactReport> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            match self.once(attempt, started).await {
                Err(Error::CommitConflict { .. }) if attempt < ATTEMPTS => attempt += 1,
                Err(Error::CommitConflict { dataset, .. }) => {
                    return Err(Error::KeptMoving {
                        dataset,
                        attempts: attempt,
                    });
                }
                other => return other,
            }
        }
    }

    async fn once(&self, attempt: u32, started: Instant) -> Result<CompactReport> {
        let lake = self.lake;
        let latest = lake.resolve(&self.dataset)?;
        crate::sql::refuse_unless_active(&latest)?;
        let (_, manifest, _) = lake.manifest(&latest.reference()).await?;
        let schema = Arc::new(
            crate::format::schema::schema_from_json(&manifest.schema)
                .map_err(|e| Error::Internal(format!("manifest schema: {e}")))?,
        );
        let small = small_below(
            self.target_file_mb
                .unwrap_or(lake.config().ingest.target_file_mb),
        );
        // Small files by partition, in manifest order; a partition with one small file has
        // nothing to merge it with.
        let mut groups: BTreeMap<Option<String>, Vec<ManifestFile>> = BTreeMap::new();
        for f in manifest.files.iter().filter(|f| f.size < small) {
            groups
                .entry(f.partition.clone())
                .or_default()
                .push(f.clone());
        }
        groups.retain(|_, files| files.len() >= 2);
        let merged: Vec<&ManifestFile> = groups.values().flatten().collect();
        let mut report = CompactReport {
            dataset: self.dataset.clone(),
            status: CompactStatus::Unchanged,
            from: latest.reference().to_string(),
            version: None,
            reference: None,
            digest: None,
            rows: latest.rows,
            files_before: manifest.files.len() as u64,
            files_after: manifest.files.len() as u64,
            files_merged: merged.len() as u64,
            files_written: 0,
            bytes_merged: merged.iter().map(|f| f.size).sum(),
            bytes_written: 0,
            attempts: attempt,
            elapsed_ms: 0,
        };
        if merged.is_empty() || self.dry_run {
            if self.dry_run && !merged.is_empty() {
                report.status = CompactStatus::DryRun;
            }
            report.elapsed_ms = started.elapsed().as_millis() as u64;
            return Ok(report);
        }
        let merged_paths: std::collections::HashSet<String> =
            merged.iter().map(|f| f.path.clone()).collect();

        let mut staged = lake.stage(&self.dataset, "compact")?;
        let written = async {
            for (partition, files) in &groups {
                let from = staged.files().len();
                let writer = staged.encoder(schema.clone());
                let sender = writer.sender();
                let mut rows =
                    crate::scan::read_files(lake.storage().clone(), files.clone(), schema.clone());
                let mut read: Result<()> = Ok(());
                while let Some(batch) = rows.recv().await {
                    match batch {
                        Ok(b) => {
                            if sender.send(b).await.is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            read = Err(e);
                            break;
                        }
                    }
                }
                drop(sender);
                let encoded = staged.finish(writer).await;
                read.and(encoded)?;
                if let Some(p) = partition {
                    staged.label_from(from, p);
                }
            }
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = written {
            staged.abort().await;
            return Err(e);
        }
        let new_files = staged.files().to_vec();
        let (rows_in, rows_out) = (
            merged.iter().map(|f| f.rows).sum::<u64>(),
            new_files.iter().map(|f| f.rows).sum::<u64>(),
        );
        if rows_in != rows_out {
            staged.abort().await;
            return Err(Error::Internal(format!(
                "compacting {} wrote {rows_out} rows for {rows_in}; nothing was committed",
                latest.reference()
            )));
        }
        let read_id = latest.id;
        let input = Input {
            reference: latest.reference().to_string(),
            manifest_sha256: latest.digest.clone(),
        };
        let operation = Operation::Compact {
            of: latest.version.0,
            merged: merged.len() as u64,
            into: new_files.len() as u64,
        };
        let draft_schema = schema.as_ref().clone();
        let committed = staged
            .commit(
                move |tx, now| {
                    // Only over the version this read: anything newer would lose its rows.
                    let Some(now) = now.filter(|v| v.id == read_id) else {
                        let v = now.map_or(Version(0), |v| v.version);
                        return Err(Error::CommitConflict {
                            dataset: input.reference.clone(),
                            version: v,
                        });
                    };
                    let mut files: Vec<FileRow> = tx
                        .version_files(now.id)?
                        .into_iter()
                        .filter(|f| !merged_paths.contains(&f.path))
                        .collect();
                    files.extend(new_files);
                    Ok(Some(Draft {
                        operation_name: "compact",
                        operation,
                        mode: None,
                        inputs: vec![input],
                        schema: draft_schema,
                        files,
                        // The same sources, carried: a compaction ingests nothing.
                        sources: Vec::new(),
                        keep_sources: true,
                        changes: Vec::new(),
                    }))
                },
                |tx, row| {
                    tx.insert_lineage(row.id, &[read_id], &[])?;
                    let parts = tx.version_partitions(read_id)?;
                    tx.insert_partitions(row.id, &parts)
                },
            )
            .await?;
        let Some(c) = committed else {
            return Err(Error::Internal(
                "compaction planned nothing to commit".into(),
            ));
        };
        let v = &c.version;
        report.status = CompactStatus::Committed;
        report.version = Some(v.version);
        report.reference = Some(v.reference().to_string());
        report.digest = Some(v.digest.clone());
        report.rows = v.rows;
        report.files_after = v.file_count;
        report.files_written = report.files_after + report.files_merged - report.files_before;
        report.bytes_written = v.bytes + report.bytes_merged - latest.bytes;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}
