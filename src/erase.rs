//! `lake erase --where PREDICATE`: rows removed from a dataset's data, through the one write path.
//!
//! Every file a retained version (active or archived, hot or cold) references is looked at:
//! row groups whose Parquet statistics say no row can match are skipped, the rest are read and
//! the predicate evaluated. A file with matching rows is rewritten without them (rows where the
//! predicate is NULL stay); a file without any is left as it is.
//!
//! - By default only the latest version changes: a new version (operation `erase`) holds its
//!   rows without the matches, as a `DELETE` would. Earlier versions still hold them; the
//!   report says which.
//! - With `--all-versions`, every version that references a rewritten file is **amended**: it
//!   keeps its number, its manifest lists the new files and records the erasure, and its digest
//!   changes (lock files that pinned the old digest then fail to verify, by design). The files
//!   replaced are held under a mover's lease while the erasure runs, so archive, restore, expiry
//!   and repair leave them alone, and they are deleted once the amendments are committed.
//!
//! Either way the erasure ledger (`lake erase --log`) keeps who, when, the salted sha256 of the
//! predicate (never its values), and each version's digest before and after.
//!
//! A writer that committed a version of the dataset since it was scanned makes the erasure
//! start that dataset over; a job or compaction that read an amended version commits nothing
//! (its input no longer has the digest it read).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt64Array, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::ExprSchemable;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::pruning::{PruningPredicateBuilder, PruningStatistics};
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::file::metadata::ParquetMetaData;
use serde::Serialize;

use crate::catalog::erasure::{ErasureEntry, HeldFile};
use crate::catalog::{FileRow, TieredFile, VersionRow, VersionState};
use crate::clock;
use crate::commit::Draft;
use crate::error::{Error, Result};
use crate::format::hash::sha256_hex;
use crate::format::manifest::{Amendment, Input, Manifest, Operation};
use crate::ident::DatasetRef;
use crate::lake::Lake;
use crate::scan::ObjectFile;
use crate::storage::Storage;

/// Attempts per dataset when writers keep committing or movers hold its files.
const ATTEMPTS: u32 = 5;

/// Files read at once while looking for matches and verifying.
const SCAN_AHEAD: usize = 4;

/// What `lake erase` did (or, with a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct EraseReport {
    /// Nothing was written: the report is the plan.
    pub dry_run: bool,
    /// Every retained version was amended, not only the latest.
    pub all_versions: bool,
    /// The salted sha256 of the predicate: what the ledger keeps.
    pub predicate_sha256: String,
    /// The ledger entry, once something was committed.
    pub erasure_id: Option<i64>,
    /// Per dataset, what happened to each version.
    pub datasets: Vec<DatasetErasure>,
    /// Datasets of `--downstream-of` the predicate cannot apply to, and why.
    pub skipped: Vec<Skipped>,
    /// Rows removed (with `--dry-run`: that would be).
    pub rows: u64,
    /// Files read to look for matching rows.
    pub files_scanned: u64,
    /// Files whose row groups' statistics ruled out every match: not read.
    pub files_skipped_by_statistics: u64,
    /// Files rewritten without them.
    pub files_rewritten: u64,
    /// Files replaced and deleted (with `--all-versions`).
    pub files_deleted: u64,
    /// Lock files that pinned an amended version (they now show a digest mismatch).
    pub pins: Vec<Held>,
    /// Tags on amended versions (they stay on the version, which has a new digest).
    pub tags: Vec<Held>,
    /// Failing-row samples of checks on amended versions, cleared.
    pub check_samples_cleared: u64,
    /// Each amended or new version read back: files and manifest hash as the catalog says.
    pub verified_versions: u64,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

/// One dataset of an erasure.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetErasure {
    /// The dataset.
    pub dataset: DatasetRef,
    /// Each version that held matching rows.
    pub versions: Vec<VersionErasure>,
    /// The version made without the rows (default mode).
    pub new_version: Option<String>,
    /// Scans it took (a commit in between makes the erasure scan again).
    pub attempts: u32,
}

/// One version of an erasure.
#[derive(Debug, Clone, Serialize)]
pub struct VersionErasure {
    /// The version's ref.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Its lifecycle state.
    pub state: VersionState,
    /// Its rows that matched the condition.
    pub matching_rows: u64,
    /// Its rows before the erasure.
    pub rows_before: u64,
    /// `amended`, `kept` (the rows stay: an older version without `--all-versions`), or
    /// `replaced` (the latest, superseded by the new version).
    pub action: &'static str,
    /// Its digest before.
    pub old_digest: String,
    /// Its digest after, when it was amended.
    pub new_digest: Option<String>,
}

/// A dataset an erasure left alone, and why (it lacks the condition's columns).
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The dataset.
    pub dataset: DatasetRef,
    /// Why it was left alone.
    pub reason: String,
}

/// A lock file or a tag on an amended version, whose readers will see a new digest.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    /// The version.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The lock file's path, or the tag's name.
    pub by: String,
}

/// Which datasets an erasure covers.
#[derive(Debug, Clone)]
pub enum Targets {
    /// These datasets.
    Datasets(Vec<DatasetRef>),
    /// This dataset and every dataset ever computed from it, directly or not.
    DownstreamOf(DatasetRef),
}

/// An erasure; see the module docs.
pub struct Erase<'a> {
    lake: &'a Lake,
    predicate: String,
    targets: Targets,
    all_versions: bool,
    dry_run: bool,
    /// When: one time for every dataset and version the erasure changes.
    at: String,
}

impl Lake {
    /// Prepare an erasure of the rows where `predicate` (a SQL condition) is true.
    pub fn erase(&self, predicate: &str, targets: Targets) -> Erase<'_> {
        Erase {
            lake: self,
            predicate: predicate.to_string(),
            targets,
            all_versions: false,
            dry_run: false,
            at: clock::timestamp(self.clock().now()),
        }
    }

    /// The erasure ledger, newest first; only erasures of `predicate`, if given.
    pub fn erasure_log(&self, predicate: Option<&str>) -> Result<Vec<ErasureEntry>> {
        let digest = predicate.map(|p| predicate_digest(self, p)).transpose()?;
        self.catalog().reader().erasure_log(digest.as_deref())
    }

    /// Write the amended manifests an erasure committed but did not get to write (it was
    /// stopped in between); returns how many.
    pub async fn write_pending_manifests(&self) -> Result<u64> {
        let pending = self.catalog().reader().pending_manifests()?;
        let mut written = 0;
        for p in pending {
            if sha256_hex(p.text.as_bytes()) != p.version.digest {
                continue;
            }
            self.storage()
                .put_replacing(&p.version.manifest_key, Bytes::from(p.text.clone()))
                .await?;
            self.catalog()
                .write(|tx| tx.manifests_written(p.erasure_id, &[p.version.id]))?;
            written += 1;
        }
        Ok(written)
    }
}

/// The predicate in one canonical spelling (so `id=42` and `id = 42` are the same erasure),
/// salted with the project's salt and hashed: the ledger can say whether a predicate was
/// erased without holding the values it names.
fn predicate_digest(lake: &Lake, predicate: &str) -> Result<String> {
    let canonical = canonical_predicate(predicate)?;
    let salt = &lake.config().promote.salt;
    Ok(sha256_hex(format!("{salt}\0{canonical}").as_bytes()))
}

fn canonical_predicate(predicate: &str) -> Result<String> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    let invalid = |reason: String| Error::InvalidRef {
        input: predicate.to_string(),
        reason,
    };
    let mut parser = Parser::new(&GenericDialect {})
        .try_with_sql(predicate)
        .map_err(|e| invalid(format!("--where is not a SQL condition: {e}")))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| invalid(format!("--where is not a SQL condition: {e}")))?;
    if parser.peek_token().token != datafusion::sql::sqlparser::tokenizer::Token::EOF {
        return Err(invalid(
            "--where takes one condition, such as \"customer_id = 42\"".into(),
        ));
    }
    Ok(expr.to_string())
}

impl Erase<'_> {
    /// Amend every retained version, not only the latest.
    pub fn with_all_versions(mut self, yes: bool) -> Self {
        self.all_versions = yes;
        self
    }

    /// Count the matching rows of each version; change nothing.
    pub fn with_dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Erase the matching rows (or, with a dry run, count them).
    pub async fn execute(self) -> Result<EraseReport> {
        let started = Instant::now();
        let lake = self.lake;
        let mut report = EraseReport {
            dry_run: self.dry_run,
            all_versions: self.all_versions,
            predicate_sha256: predicate_digest(lake, &self.predicate)?,
            erasure_id: None,
            datasets: Vec::new(),
            skipped: Vec::new(),
            rows: 0,
            files_scanned: 0,
            files_skipped_by_statistics: 0,
            files_rewritten: 0,
            files_deleted: 0,
            pins: Vec::new(),
            tags: Vec::new(),
            check_samples_cleared: 0,
            verified_versions: 0,
            elapsed_ms: 0,
        };
        if !self.dry_run {
            // What an erasure (or mover) stopped part way left: its leases, then the amended
            // manifests it committed and did not write.
            lake.resume_moves().await?;
            lake.write_pending_manifests().await?;
        }
        let (named, downstream) = self.resolve_targets()?;
        let ctx = lake.sql_session()?;
        let mut erasure_id = None;
        for (dataset, explicit) in named
            .into_iter()
            .map(|d| (d, true))
            .chain(downstream.into_iter().map(|d| (d, false)))
        {
            let predicate = match Predicate::compile(lake, &ctx, &dataset, &self.predicate) {
                Ok(p) => p,
                Err(reason) if !explicit => {
                    report.skipped.push(Skipped { dataset, reason });
                    continue;
                }
                Err(reason) => {
                    return Err(Error::EraseRefused {
                        dataset: dataset.dataset_name(),
                        reason,
                    });
                }
            };
            let done = self
                .erase_dataset(&dataset, &predicate, &mut erasure_id, &mut report)
                .await?;
            report.datasets.push(done);
        }
        report.erasure_id = erasure_id;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// The datasets named, then (for `--downstream-of`) those computed from them.
    fn resolve_targets(&self) -> Result<(Vec<DatasetRef>, Vec<DatasetRef>)> {
        let catalog = self.lake.catalog();
        let tx = catalog.reader();
        let exists = |d: &DatasetRef| -> Result<i64> {
            if d.selector.is_some() {
                return Err(Error::InvalidRef {
                    input: d.to_string(),
                    reason:
                        "erase takes datasets, not versions: it looks at every version it should"
                            .into(),
                });
            }
            tx.find_dataset(d)?
                .map(|row| row.id)
                .ok_or_else(|| Error::DatasetNotFound {
                    dataset: d.dataset_name(),
                    suggestions: self.lake.suggest(&d.name),
                })
        };
        match &self.targets {
            Targets::Datasets(list) => {
                let mut out: Vec<DatasetRef> = Vec::new();
                for d in list {
                    exists(d)?;
                    if !out.contains(d) {
                        out.push(d.clone());
                    }
                }
                Ok((out, Vec::new()))
            }
            Targets::DownstreamOf(d) => {
                let id = exists(d)?;
                let below = tx
                    .ever_downstream(id)?
                    .into_iter()
                    .map(|(_, d)| d)
                    .collect();
                Ok((vec![d.clone()], below))
            }
        }
    }

    async fn erase_dataset(
        &self,
        dataset: &DatasetRef,
        predicate: &Predicate,
        erasure_id: &mut Option<i64>,
        report: &mut EraseReport,
    ) -> Result<DatasetErasure> {
        let lake = self.lake;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let plan = Plan::read(lake, dataset)?;
            if !self.dry_run {
                crate::failpoint::pass("erase.planned").await?;
            }
            // Which files hold matching rows, and how many.
            let mut matches: BTreeMap<String, u64> = BTreeMap::new();
            let mut scanned = 0;
            let mut by_statistics = 0;
            // A few files at a time: each read is mostly waiting on storage and decoding.
            let counted: Result<Vec<(String, Counted)>> =
                futures::stream::iter(plan.files.values())
                    .map(|f| async move {
                        let found = predicate.count(lake.tier(&f.tier), &f.file).await?;
                        Ok::<_, Error>((f.file.path.clone(), found))
                    })
                    .buffer_unordered(SCAN_AHEAD)
                    .try_collect()
                    .await;
            let counted = match counted {
                Ok(counted) => counted,
                // A mover commits a file's new tier (or its version's expiry) before it deletes
                // the old copy, so a file gone since the plan was read shows in the catalog:
                // scan again from there. A file the catalog still places where it is not is lost.
                Err(e) if attempt < ATTEMPTS && Plan::read(lake, dataset)?.moved_since(&plan) => {
                    tracing::debug!("files moved while erasing ({e}); scanning again");
                    continue;
                }
                Err(e) => return Err(e),
            };
            for (path, found) in counted {
                scanned += 1;
                if found.pruned {
                    by_statistics += 1;
                }
                if found.rows > 0 {
                    matches.insert(path, found.rows);
                }
            }
            if !self.dry_run {
                crate::failpoint::pass("erase.scanned").await?;
            }
            let mut done = DatasetErasure {
                dataset: dataset.clone(),
                versions: plan.describe(&matches, self.all_versions),
                new_version: None,
                attempts: attempt,
            };
            let touched: BTreeMap<String, u64> = if self.all_versions {
                matches.clone()
            } else {
                let latest: BTreeSet<&String> = plan.latest_files.iter().collect();
                matches
                    .iter()
                    .filter(|(p, _)| latest.contains(p))
                    .map(|(p, n)| (p.clone(), *n))
                    .collect()
            };
            let counted = |report: &mut EraseReport| {
                report.files_scanned += scanned;
                report.files_skipped_by_statistics += by_statistics;
            };
            if self.dry_run || touched.is_empty() {
                counted(report);
                if !self.dry_run {
                    catch_up_delta(lake, dataset).await;
                    lake.follow_record(dataset).await;
                }
                report.rows += touched.values().sum::<u64>();
                return Ok(done);
            }
            let outcome = if self.all_versions {
                self.amend(dataset, &plan, &touched, predicate, erasure_id)
                    .await?
            } else {
                self.new_version(dataset, &plan, &touched, predicate, erasure_id)
                    .await?
            };
            let Some(outcome) = outcome else {
                if attempt >= ATTEMPTS {
                    return Err(Error::EraseContended {
                        dataset: dataset.dataset_name(),
                        attempts: attempt,
                    });
                }
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt as u64)).await;
                continue;
            };
            counted(report);
            report.rows += outcome.rows;
            report.files_rewritten += touched.len() as u64;
            report.files_deleted += outcome.deleted;
            report.pins.extend(outcome.pins);
            report.tags.extend(outcome.tags);
            report.check_samples_cleared += outcome.samples_cleared;
            for v in &mut done.versions {
                if let Some(d) = outcome.digests.get(&v.reference) {
                    v.new_digest = Some(d.clone());
                }
            }
            done.new_version = outcome.new_version;
            // Read back what was committed: every file where the catalog says, hashing as it
            // says, and each manifest hashing to its version's digest.
            report.verified_versions += verify(lake, &outcome.changed).await?;
            if lake.delta_enabled()
                && let Err(e) = lake.sync_delta(dataset, self.all_versions).await
            {
                tracing::warn!(
                    "the Delta log of {} was not rewritten ({}); `lake export delta --rebuild {}` writes it",
                    dataset.dataset_name(),
                    e.causes().join(": "),
                    dataset.dataset_name()
                );
            }
            return Ok(done);
        }
    }

    /// Default mode: a new version of the latest without the rows.
    async fn new_version(
        &self,
        dataset: &DatasetRef,
        plan: &Plan,
        touched: &BTreeMap<String, u64>,
        predicate: &Predicate,
        erasure_id: &mut Option<i64>,
    ) -> Result<Option<Outcome>> {
        let lake = self.lake;
        let latest = plan
            .latest
            .clone()
            .ok_or_else(|| Error::Internal(format!("{dataset} has no versions")))?;
        let (staged, rewritten) = rewrite(lake, dataset, plan, touched, predicate).await?;
        let removed: u64 = rewritten.values().map(|r| r.removed).sum();
        let (read_id, read_digest) = (latest.id, latest.digest.clone());
        let input = Input {
            reference: latest.reference().to_string(),
            manifest_sha256: latest.digest.clone(),
        };
        let operation = Operation::Erase {
            of: latest.version.0,
            predicate_sha256: predicate.digest.clone(),
            rows_removed: removed,
        };
        let at = self.at.clone();
        let actor = lake.actor().to_string();
        let all_versions = self.all_versions;
        let digest = predicate.digest.clone();
        let mut recorded = None;
        let committed = staged
            .commit(
                |tx, now| {
                    if now.is_none_or(|v| v.id != read_id || v.digest != read_digest) {
                        return Ok(None);
                    }
                    let files = tx
                        .version_files(read_id)?
                        .into_iter()
                        .flat_map(|f| match rewritten.get(&f.path) {
                            Some(r) => r.files.clone(),
                            None => vec![f],
                        })
                        .collect();
                    Ok(Some(Draft {
                        operation_name: "erase",
                        operation,
                        mode: None,
                        inputs: vec![input],
                        schema: crate::sql::version_schema(&tx.schema_json(latest.schema_id)?)?,
                        files,
                        sources: Vec::new(),
                        keep_sources: true,
                        changes: Vec::new(),
                    }))
                },
                |tx, row| {
                    tx.insert_lineage(row.id, &[read_id], &[])?;
                    let parts: Vec<(String, u64)> = tx.version_partitions(read_id)?;
                    if !parts.is_empty() {
                        let mut counts: BTreeMap<String, u64> =
                            parts.into_iter().map(|(k, _)| (k, 0)).collect();
                        for f in tx.version_files(row.id)? {
                            if let Some(p) = f.partition {
                                *counts.entry(p).or_default() += f.rows;
                            }
                        }
                        tx.insert_partitions(row.id, &counts.into_iter().collect::<Vec<_>>())?;
                    }
                    let id = match *erasure_id {
                        Some(id) => id,
                        None => tx.insert_erasure(&at, &actor, &digest, all_versions)?,
                    };
                    tx.insert_erased_version(
                        id,
                        row.id,
                        "new",
                        &read_digest,
                        &row.digest,
                        removed,
                        rewritten.len() as u64,
                        None,
                    )?;
                    tx.add_erased_rows(id, removed)?;
                    recorded = Some(id);
                    Ok(())
                },
            )
            .await?;
        let Some(c) = committed else {
            return Ok(None);
        };
        if recorded.is_some() {
            *erasure_id = recorded;
        }
        // The latest version keeps its digest; the new one is named in `new_version`.
        let digests = BTreeMap::new();
        Ok(Some(Outcome {
            rows: removed,
            deleted: 0,
            pins: Vec::new(),
            tags: Vec::new(),
            samples_cleared: 0,
            digests,
            new_version: Some(c.version.reference().to_string()),
            changed: vec![c.version],
        }))
    }

    /// `--all-versions`: every version referencing a rewritten file, amended in place.
    async fn amend(
        &self,
        dataset: &DatasetRef,
        plan: &Plan,
        touched: &BTreeMap<String, u64>,
        predicate: &Predicate,
        erasure_id: &mut Option<i64>,
    ) -> Result<Option<Outcome>> {
        let lake = self.lake;
        // Hold the files to be replaced, so no lifecycle command moves them meanwhile.
        let mut leases = Vec::new();
        for tier in ["hot", "archive"] {
            let files: Vec<TieredFile> = touched
                .keys()
                .map(|p| &plan.files[p])
                .filter(|f| f.tier == tier)
                .map(|f| TieredFile {
                    id: f.id,
                    path: f.file.path.clone(),
                    tier: f.tier.clone(),
                    sha256: f.file.sha256.clone(),
                    size: f.file.size,
                })
                .collect();
            let lease = match lake.claim(&files, "erase", tier, "deleted") {
                Ok(l) => l,
                Err(e) => {
                    release(leases).await;
                    return Err(e);
                }
            };
            let all = lease.files().len() == files.len();
            leases.push(lease);
            if !all {
                // Another mover holds one of them, or it left its tier: try again shortly.
                release(leases).await;
                return Ok(None);
            }
        }
        let (staged, rewritten) = match rewrite(lake, dataset, plan, touched, predicate).await {
            Ok(r) => r,
            Err(e) => {
                release(leases).await;
                return Err(e);
            }
        };
        let scanned: BTreeSet<String> = plan.files.keys().cloned().collect();
        let ids: BTreeMap<String, i64> = touched
            .keys()
            .map(|p| (p.clone(), plan.files[p].id))
            .collect();
        let at = self.at.clone();
        let actor = lake.actor().to_string();
        let (dataset_id, digest, all_versions) =
            (plan.dataset_id, predicate.digest.clone(), self.all_versions);
        let owner = lake.owner()?;
        let storage = lake.storage().clone();
        let committed = staged
            .amend(|tx, handle| {
                // A version committed since the scan may hold files nobody looked at.
                if tx
                    .held_files(dataset_id)?
                    .iter()
                    .any(|f| !scanned.contains(&f.file.path))
                {
                    return Ok(None);
                }
                let mut affected: BTreeMap<i64, VersionRow> = BTreeMap::new();
                for id in ids.values() {
                    for v in tx.versions_with_file(*id)? {
                        affected.insert(v.id, v);
                    }
                }
                let id = match *erasure_id {
                    Some(id) => id,
                    None => tx.insert_erasure(&at, &actor, &digest, all_versions)?,
                };
                let mut out = Outcome {
                    rows: 0,
                    deleted: ids.len() as u64,
                    pins: Vec::new(),
                    tags: Vec::new(),
                    samples_cleared: 0,
                    digests: BTreeMap::new(),
                    new_version: None,
                    changed: Vec::new(),
                };
                let mut manifests = Vec::new();
                for v in affected.values() {
                    let bytes = handle.block_on(storage.get(&v.manifest_key))?;
                    if sha256_hex(&bytes) != v.digest {
                        return Err(Error::Integrity {
                            path: storage.object_url(&v.manifest_key),
                            problem: format!(
                                "the manifest of {} does not hash to its digest {}; run `lake check`",
                                v.reference(),
                                v.digest
                            ),
                        });
                    }
                    let mut manifest = Manifest::decode(&bytes).map_err(|e| Error::Integrity {
                        path: storage.object_url(&v.manifest_key),
                        problem: format!("not a manifest: {e}"),
                    })?;
                    let mut files = Vec::new();
                    let (mut removed, mut rewrote) = (0, 0);
                    for f in tx.version_files(v.id)? {
                        match rewritten.get(&f.path) {
                            Some(r) => {
                                files.extend(r.files.iter().cloned());
                                removed += r.removed;
                                rewrote += 1;
                            }
                            None => files.push(f),
                        }
                    }
                    files.sort_by(|a, b| a.path.cmp(&b.path));
                    manifest.files = files.iter().map(FileRow::manifest_file).collect();
                    manifest.rows = files.iter().map(|f| f.rows).sum();
                    manifest.bytes = files.iter().map(|f| f.size).sum();
                    manifest.amendments.push(Amendment {
                        at: at.clone(),
                        by: actor.clone(),
                        predicate_sha256: digest.clone(),
                        previous_digest: v.digest.clone(),
                        rows_removed: removed,
                    });
                    let (text, new_digest) = manifest.encode();
                    let text = String::from_utf8(text).expect("a manifest is UTF-8");
                    tx.amend_version(v.id, &new_digest, &files, &at)?;
                    tx.insert_erased_version(
                        id,
                        v.id,
                        "amended",
                        &v.digest,
                        &new_digest,
                        removed,
                        rewrote,
                        Some(&text),
                    )?;
                    out.samples_cleared += tx.clear_check_samples(v.id)?;
                    tx.audit(
                        &at,
                        &actor,
                        "erase",
                        &v.reference().to_string(),
                        &serde_json::json!({
                            "erasure": id,
                            "old_digest": v.digest,
                            "digest": new_digest,
                            "rows_removed": removed,
                            "predicate_sha256": digest,
                        }),
                    )?;
                    for lock in tx.holds(v.id)? {
                        out.pins.push(Held {
                            reference: v.reference().to_string(),
                            by: lock,
                        });
                    }
                    for tag in tx.version_tags(v.id)? {
                        out.tags.push(Held {
                            reference: v.reference().to_string(),
                            by: tag,
                        });
                    }
                    // Within one dataset, a file's rows are counted once: by the latest
                    // version that held it, which the report's row total follows.
                    out.digests
                        .insert(v.reference().to_string(), new_digest.clone());
                    manifests.push((v.id, v.manifest_key.clone(), text));
                    out.changed.push(tx.version_by_id(v.id)?);
                }
                out.rows = rewritten.values().map(|r| r.removed).sum();
                tx.add_erased_rows(id, out.rows)?;
                tx.reindex(Some(dataset_id))?;
                for file_id in ids.values() {
                    tx.flip_move(*file_id, &owner)?;
                }
                Ok(Some((out, manifests, id)))
            })
            .await;
        let (out, manifests, id) = match committed {
            Ok(Some(c)) => c,
            Ok(None) => {
                release(leases).await;
                return Ok(None);
            }
            Err(e) => {
                release(leases).await;
                return Err(e);
            }
        };
        *erasure_id = Some(id);
        // Committed. The manifests in storage follow, then the replaced files go; a process
        // stopped here leaves both to the next erase or `lake check --repair`.
        crate::failpoint::hit("erase.committed")?;
        for (_, key, text) in &manifests {
            lake.storage()
                .put_replacing(key, Bytes::from(text.clone()))
                .await?;
        }
        let version_ids: Vec<i64> = manifests.iter().map(|(v, _, _)| *v).collect();
        lake.catalog()
            .write(|tx| tx.manifests_written(id, &version_ids))?;
        let flipped: BTreeSet<i64> = ids.values().copied().collect();
        for lease in leases {
            lease.finish(&flipped).await?;
        }
        // A file that was in the archive tier is replaced in the archive tier.
        let cold: Vec<&str> = touched
            .keys()
            .filter(|p| plan.files[*p].tier == "archive")
            .flat_map(|p| rewritten[p].files.iter().map(|f| f.path.as_str()))
            .collect();
        if !cold.is_empty() {
            archive_files(lake, &cold).await?;
        }
        // Tags and states in the dataset's record name digests, which changed.
        lake.follow_record(dataset).await;
        Ok(Some(out))
    }
}

/// Rewrite `touched` files without the matching rows; returns the write (not committed) and,
/// per file replaced, the files it became and the rows it lost.
async fn rewrite<'l>(
    lake: &'l Lake,
    dataset: &DatasetRef,
    plan: &Plan,
    touched: &BTreeMap<String, u64>,
    predicate: &Predicate,
) -> Result<(crate::commit::StagedWrite<'l>, BTreeMap<String, Rewritten>)> {
    let mut staged = lake.stage(dataset, "erase")?;
    let mut out = BTreeMap::new();
    for path in touched.keys() {
        let held = &plan.files[path];
        let result = predicate
            .rewrite(lake.tier(&held.tier), &held.file, &mut staged)
            .await;
        match result {
            Ok(r) => {
                out.insert(path.clone(), r);
            }
            Err(e) => {
                staged.abort().await;
                return Err(e);
            }
        }
    }
    Ok((staged, out))
}

/// Rewrite a Delta log that an erasure stopped before rewriting (its commits still name the
/// files and digests from before).
async fn catch_up_delta(lake: &Lake, dataset: &DatasetRef) {
    if !lake.delta_enabled() {
        return;
    }
    let stale = match lake.check_delta(dataset).await {
        Ok(problems) => problems.iter().any(|(kind, _)| *kind == "delta_log"),
        Err(_) => true,
    };
    if stale && let Err(e) = lake.sync_delta(dataset, true).await {
        tracing::warn!(
            "the Delta log of {} was not rewritten ({}); `lake export delta --rebuild {}` writes it",
            dataset.dataset_name(),
            e.causes().join(": "),
            dataset.dataset_name()
        );
    }
}

async fn release(leases: Vec<crate::moves::Lease<'_>>) {
    for l in leases {
        l.abandon().await;
    }
}

/// Move freshly written files of archived versions to the archive tier, the way archive does.
async fn archive_files(lake: &Lake, paths: &[&str]) -> Result<()> {
    let files: Vec<TieredFile> = {
        let catalog = lake.catalog();
        let tx = catalog.reader();
        tx.files_in_tier("hot")?
            .into_iter()
            .filter(|f| paths.contains(&f.path.as_str()))
            .collect()
    };
    let lease = lake.claim(&files, "archive", "hot", "archive")?;
    if let Err(e) = lease.copy().await {
        lease.abandon().await;
        return Err(e);
    }
    let owner = lease.owner().to_string();
    let ids: Vec<i64> = lease.files().iter().map(|f| f.id).collect();
    let flipped = lake.catalog().write(|tx| {
        let mut flipped = BTreeSet::new();
        for id in &ids {
            // Only while no active version needs it hot (a restore may have come in between).
            if !tx.file_needed_by(*id, &["active"], &[])? {
                tx.flip_move(*id, &owner)?;
                flipped.insert(*id);
            }
        }
        Ok(flipped)
    });
    match flipped {
        Ok(flipped) => lease.finish(&flipped).await.map(|_| ()),
        Err(e) => {
            lease.abandon().await;
            Err(e)
        }
    }
}

/// Read each version back as `lake verify` would: its manifest hashes to its digest, and every
/// file it references (each once, however many versions share it) to its sha256.
async fn verify(lake: &Lake, versions: &[VersionRow]) -> Result<u64> {
    let mut files: BTreeMap<String, (TieredFile, String)> = BTreeMap::new();
    for v in versions {
        let manifest = lake.storage().get(&v.manifest_key).await?;
        if sha256_hex(&manifest) != v.digest {
            return Err(Error::Integrity {
                path: lake.storage().object_url(&v.manifest_key),
                problem: format!(
                    "the amended manifest of {} does not hash to its digest",
                    v.reference()
                ),
            });
        }
        let tiered = lake.catalog().reader().tiered_files(v.id)?;
        for f in tiered {
            files
                .entry(f.path.clone())
                .or_insert((f, v.reference().to_string()));
        }
    }
    futures::stream::iter(files.into_values())
        .map(|(f, reference)| async move {
            let mut tier = f.tier.clone();
            let mut looked = 0;
            let (storage, (sha, size)) = loop {
                let storage = lake.tier(&tier);
                looked += 1;
                match storage.hash(&f.path).await {
                    Ok(hashed) => break (storage, hashed),
                    // A mover may have taken the file to the other tier (or expired its
                    // version) since the catalog was read: look where the catalog says now.
                    Err(e) => match lake.catalog().reader().file_tier(f.id)? {
                        Some(now) if now == "deleted" => return Ok(()),
                        Some(now) if now != tier && looked < 3 => tier = now,
                        _ => return Err(e),
                    },
                }
            };
            if sha != f.sha256 || size != f.size {
                return Err(Error::Integrity {
                    path: storage.object_url(&f.path),
                    problem: format!(
                        "after the erasure it has sha256 {sha} ({size} bytes); {reference} says {} ({} bytes)",
                        f.sha256, f.size
                    ),
                });
            }
            Ok(())
        })
        .buffer_unordered(SCAN_AHEAD)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(versions.len() as u64)
}

/// What one committed attempt changed.
struct Outcome {
    rows: u64,
    deleted: u64,
    pins: Vec<Held>,
    tags: Vec<Held>,
    samples_cleared: u64,
    /// New digest by the ref of each version amended.
    digests: BTreeMap<String, String>,
    new_version: Option<String>,
    /// The versions to read back.
    changed: Vec<VersionRow>,
}

/// One dataset as an erasure found it.
struct Plan {
    dataset_id: i64,
    latest: Option<VersionRow>,
    latest_files: Vec<String>,
    /// Retained versions, oldest first, with their files' paths.
    versions: Vec<(VersionRow, Vec<String>)>,
    files: BTreeMap<String, HeldFile>,
}

impl Plan {
    fn read(lake: &Lake, dataset: &DatasetRef) -> Result<Plan> {
        let catalog = lake.catalog();
        let tx = catalog.reader();
        let row = tx
            .find_dataset(dataset)?
            .ok_or_else(|| Error::DatasetNotFound {
                dataset: dataset.dataset_name(),
                suggestions: Vec::new(),
            })?;
        let latest = tx.latest_version(row.id)?;
        let mut versions = Vec::new();
        let mut all = tx.versions(row.id)?;
        all.reverse();
        for v in all {
            if v.state == VersionState::Expired {
                continue;
            }
            let paths = tx
                .version_files(v.id)?
                .into_iter()
                .map(|f| f.path)
                .collect();
            versions.push((v, paths));
        }
        let latest_files = latest
            .as_ref()
            .map(|l| tx.version_files(l.id))
            .transpose()?
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.path)
            .collect();
        let files = tx
            .held_files(row.id)?
            .into_iter()
            .map(|f| (f.file.path.clone(), f))
            .collect();
        Ok(Plan {
            dataset_id: row.id,
            latest,
            latest_files,
            versions,
            files,
        })
    }

    /// Whether a file the plan `before` holds has since changed tier or is held no more.
    fn moved_since(&self, before: &Plan) -> bool {
        before
            .files
            .iter()
            .any(|(path, f)| self.files.get(path).is_none_or(|now| now.tier != f.tier))
    }

    fn describe(&self, matches: &BTreeMap<String, u64>, all_versions: bool) -> Vec<VersionErasure> {
        let latest = self.latest.as_ref().map(|l| l.id);
        self.versions
            .iter()
            .map(|(v, paths)| {
                let matching: u64 = paths.iter().filter_map(|p| matches.get(p)).sum();
                let action = if matching == 0 {
                    "none"
                } else if all_versions {
                    "amended"
                } else if Some(v.id) == latest {
                    "replaced"
                } else {
                    "kept"
                };
                VersionErasure {
                    reference: v.reference().to_string(),
                    state: v.state,
                    matching_rows: matching,
                    rows_before: v.rows,
                    action,
                    old_digest: v.digest.clone(),
                    new_digest: None,
                }
            })
            .collect()
    }
}

/// A file rewritten without the matching rows.
struct Rewritten {
    files: Vec<FileRow>,
    removed: u64,
}

struct Counted {
    rows: u64,
    /// No row group could match by its statistics: the file was not read.
    pruned: bool,
}

/// The `--where` condition, ready to evaluate over any file of one dataset.
struct Predicate {
    ctx: SessionContext,
    text: String,
    digest: String,
    /// Columns the condition names, with their types in the dataset's schemas (newest first).
    columns: Vec<Field>,
    compiled: std::sync::Mutex<HashMap<SchemaRef, Arc<dyn PhysicalExpr>>>,
}

impl Predicate {
    /// Check the condition against every schema the dataset's retained versions have had;
    /// `Err(reason)` if it names a column none has, or is not a condition.
    fn compile(
        lake: &Lake,
        ctx: &SessionContext,
        dataset: &DatasetRef,
        text: &str,
    ) -> std::result::Result<Predicate, String> {
        let fields = (|| -> Result<Vec<Field>> {
            let catalog = lake.catalog();
            let tx = catalog.reader();
            let Some(row) = tx.find_dataset(dataset)? else {
                return Ok(Vec::new());
            };
            let mut fields: Vec<Field> = Vec::new();
            let mut seen = BTreeSet::new();
            for v in tx.versions(row.id)? {
                if !seen.insert(v.schema_id) {
                    continue;
                }
                for f in crate::sql::version_schema(&tx.schema_json(v.schema_id)?)?.fields() {
                    if !fields.iter().any(|g| g.name() == f.name()) {
                        fields.push(f.as_ref().clone().with_nullable(true));
                    }
                }
            }
            Ok(fields)
        })()
        .map_err(|e| e.to_string())?;
        let union = Schema::new(fields.clone());
        let df = DFSchema::try_from(union).map_err(|e| e.to_string())?;
        let expr = ctx.parse_sql_expr(text, &df).map_err(|e| {
            let text = e.to_string();
            match text.find("No field named") {
                Some(at) => format!(
                    "no version has the column the condition names ({})",
                    text[at..].trim_end_matches('.')
                ),
                None => text,
            }
        })?;
        match expr.get_type(&df) {
            Ok(DataType::Boolean) | Ok(DataType::Null) => {}
            Ok(other) => return Err(format!("--where gives {other}, not true or false")),
            Err(e) => return Err(e.to_string()),
        }
        let named: BTreeSet<String> = expr.column_refs().iter().map(|c| c.name.clone()).collect();
        let columns = fields
            .into_iter()
            .filter(|f| named.contains(f.name()))
            .collect();
        Ok(Predicate {
            ctx: ctx.clone(),
            text: text.to_string(),
            digest: predicate_digest(lake, text).map_err(|e| e.to_string())?,
            columns,
            compiled: Default::default(),
        })
    }

    /// The condition over batches of `file_schema`, columns it lacks read as NULL (as a
    /// version whose schema added them reads that file).
    fn for_schema(&self, file_schema: &SchemaRef) -> Result<(SchemaRef, Arc<dyn PhysicalExpr>)> {
        let mut fields: Vec<Field> = file_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for c in &self.columns {
            if file_schema.field_with_name(c.name()).is_err() {
                fields.push(c.clone());
            }
        }
        let eval: SchemaRef = Arc::new(Schema::new(fields));
        let mut cache = self.compiled.lock().expect("predicate cache");
        if let Some(p) = cache.get(&eval) {
            return Ok((eval, p.clone()));
        }
        let df = DFSchema::try_from(eval.as_ref().clone())
            .map_err(|e| Error::Internal(format!("erase schema: {e}")))?;
        let bad = |e: datafusion::error::DataFusionError| Error::InvalidRef {
            input: self.text.clone(),
            reason: format!("--where: {e}"),
        };
        let expr = self.ctx.parse_sql_expr(&self.text, &df).map_err(bad)?;
        let physical = self.ctx.create_physical_expr(expr, &df).map_err(bad)?;
        cache.insert(eval.clone(), physical.clone());
        Ok((eval, physical))
    }

    /// Which rows of `batch` (of the file's schema) match: true only where the condition is.
    fn matches(
        &self,
        eval: &SchemaRef,
        expr: &Arc<dyn PhysicalExpr>,
        batch: &RecordBatch,
    ) -> Result<BooleanArray> {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for f in eval.fields().iter().skip(batch.num_columns()) {
            columns.push(new_null_array(f.data_type(), batch.num_rows()));
        }
        let full = RecordBatch::try_new(eval.clone(), columns)
            .map_err(|e| Error::Internal(format!("erase batch: {e}")))?;
        let value = expr
            .evaluate(&full)
            .and_then(|v| v.into_array(full.num_rows()))
            .map_err(|e| Error::InvalidRef {
                input: self.text.clone(),
                reason: format!("--where: {e}"),
            })?;
        let bools = value
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| Error::Internal("a condition gave no booleans".into()))?;
        Ok(bools.iter().map(|b| Some(b == Some(true))).collect())
    }

    async fn open(
        &self,
        storage: &Storage,
        file: &FileRow,
    ) -> Result<ParquetRecordBatchStreamBuilder<ObjectFile>> {
        let reader = ObjectFile::unchecked(storage.clone(), &file.path, file.size);
        ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(|e| Error::Integrity {
                path: storage.object_url(&file.path),
                problem: format!("cannot be read for the erasure: {e}"),
            })
    }

    /// How many rows of `file` match, reading only row groups whose statistics allow a match.
    async fn count(&self, storage: &Storage, file: &FileRow) -> Result<Counted> {
        match storage.head(&file.path).await? {
            Some(o) if o.size == file.size => {}
            found => {
                return Err(Error::Integrity {
                    path: storage.object_url(&file.path),
                    problem: match found {
                        None => "is missing; nothing was erased from it (`lake check`)".into(),
                        Some(o) => format!("is {} bytes, the catalog says {}", o.size, file.size),
                    },
                });
            }
        }
        let builder = self.open(storage, file).await?;
        let file_schema = Arc::new(Schema::new(builder.schema().fields().clone()));
        let (eval, expr) = self.for_schema(&file_schema)?;
        let groups = candidate_row_groups(builder.metadata(), &file_schema, &eval, &expr);
        if groups.is_empty() {
            return Ok(Counted {
                rows: 0,
                pruned: true,
            });
        }
        let url = storage.object_url(&file.path);
        let unreadable = |e: parquet::errors::ParquetError| Error::Integrity {
            path: url.clone(),
            problem: format!("cannot be read for the erasure: {e}"),
        };
        // Only the columns the condition reads are decoded.
        let mut wanted: Vec<usize> = self
            .columns
            .iter()
            .filter_map(|c| file_schema.index_of(c.name()).ok())
            .collect();
        wanted.sort_unstable();
        let (eval, expr, builder) = if wanted.is_empty() {
            (eval, expr, builder)
        } else {
            let mask =
                parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), wanted.clone());
            let projected = Arc::new(
                file_schema
                    .project(&wanted)
                    .map_err(|e| Error::Internal(format!("erase projection: {e}")))?,
            );
            let (eval, expr) = self.for_schema(&projected)?;
            (eval, expr, builder.with_projection(mask))
        };
        let mut stream = builder
            .with_row_groups(groups)
            .build()
            .map_err(unreadable)?;
        let mut rows = 0;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(unreadable)?;
            rows += self.matches(&eval, &expr, &batch)?.true_count() as u64;
        }
        Ok(Counted {
            rows,
            pruned: false,
        })
    }

    /// Write `file` again without its matching rows, as new files of `staged` in the file's
    /// own schema and partition.
    async fn rewrite(
        &self,
        storage: &Storage,
        file: &FileRow,
        staged: &mut crate::commit::StagedWrite<'_>,
    ) -> Result<Rewritten> {
        let builder = self.open(storage, file).await?;
        let file_schema = Arc::new(Schema::new(builder.schema().fields().clone()));
        let (eval, expr) = self.for_schema(&file_schema)?;
        let url = storage.object_url(&file.path);
        let unreadable = |e: parquet::errors::ParquetError| Error::Integrity {
            path: url.clone(),
            problem: format!("cannot be read for the erasure: {e}"),
        };
        let mut stream = builder.build().map_err(unreadable)?;
        let from = staged.files().len();
        let encoder = staged.encoder(file_schema.clone());
        let sender = encoder.sender();
        let mut removed = 0;
        let mut kept = 0;
        let mut failed = None;
        while let Some(batch) = stream.next().await {
            let step = (|| {
                let batch = batch.map_err(unreadable)?;
                let matched = self.matches(&eval, &expr, &batch)?;
                let keep: BooleanArray = matched.iter().map(|m| Some(m != Some(true))).collect();
                removed += matched.true_count() as u64;
                let kept_rows = arrow::compute::filter_record_batch(&batch, &keep)
                    .map_err(|e| Error::Internal(format!("erase filter: {e}")))?;
                // The file's own schema, without the metadata the reader adds.
                RecordBatch::try_new(file_schema.clone(), kept_rows.columns().to_vec())
                    .map_err(|e| Error::Internal(format!("erase batch: {e}")))
            })();
            match step {
                Ok(b) if b.num_rows() == 0 => {}
                Ok(b) => {
                    kept += b.num_rows() as u64;
                    if sender.send(b).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop(sender);
        let finished = staged.finish(encoder).await;
        if let Some(e) = failed {
            return Err(e);
        }
        finished?;
        if removed + kept != file.rows {
            return Err(Error::Integrity {
                path: url.clone(),
                problem: format!(
                    "{} rows decode, the catalog says {}; nothing was erased",
                    removed + kept,
                    file.rows
                ),
            });
        }
        if let Some(p) = &file.partition {
            staged.label_from(from, p);
        }
        Ok(Rewritten {
            files: staged.files()[from..].to_vec(),
            removed,
        })
    }
}

/// The row groups of a file whose statistics do not rule a match out (all of them if the
/// condition cannot be checked against statistics).
fn candidate_row_groups(
    metadata: &Arc<ParquetMetaData>,
    file_schema: &SchemaRef,
    eval: &SchemaRef,
    expr: &Arc<dyn PhysicalExpr>,
) -> Vec<usize> {
    let all: Vec<usize> = (0..metadata.num_row_groups()).collect();
    let Ok(pruning) = PruningPredicateBuilder::new()
        .with_file_schema(eval.clone())
        .try_build(expr.clone())
    else {
        return all;
    };
    if pruning.always_true() {
        return all;
    }
    let stats = RowGroupStatistics {
        metadata,
        file_schema,
    };
    match pruning.prune(&stats) {
        Ok(keep) => all.into_iter().filter(|i| keep[*i]).collect(),
        Err(_) => all,
    }
}

/// A file's row-group statistics, as the pruning predicate asks for them. A column the file
/// does not have is all NULL in every row group.
struct RowGroupStatistics<'a> {
    metadata: &'a ParquetMetaData,
    file_schema: &'a Schema,
}

impl RowGroupStatistics<'_> {
    fn converter(&self, column: &Column) -> Option<StatisticsConverter<'_>> {
        StatisticsConverter::try_new(
            &column.name,
            self.file_schema,
            self.metadata.file_metadata().schema_descr(),
        )
        .ok()
    }

    fn has(&self, column: &Column) -> bool {
        self.file_schema.field_with_name(&column.name).is_ok()
    }
}

impl PruningStatistics for RowGroupStatistics<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.converter(column)?
            .row_group_mins(self.metadata.row_groups().iter())
            .ok()
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.converter(column)?
            .row_group_maxes(self.metadata.row_groups().iter())
            .ok()
    }

    fn num_containers(&self) -> usize {
        self.metadata.num_row_groups()
    }

    fn null_counts(&self, column: &Column) -> Option<ArrayRef> {
        if !self.has(column) {
            return self.row_counts();
        }
        let counts = self
            .converter(column)?
            .row_group_null_counts(self.metadata.row_groups().iter())
            .ok()?;
        Some(Arc::new(counts))
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        let counts: UInt64Array = self
            .metadata
            .row_groups()
            .iter()
            .map(|g| Some(g.num_rows() as u64))
            .collect();
        Some(Arc::new(counts))
    }

    fn contained(
        &self,
        _column: &Column,
        _values: &std::collections::HashSet<ScalarValue>,
    ) -> Option<BooleanArray> {
        None
    }
}
