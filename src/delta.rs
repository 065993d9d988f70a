//! A Delta transaction log beside every dataset, so Spark, DuckDB, Polars, Trino or delta-rs read
//! any version with no `lake` installed.
//!
//! ```text
//! <zone>/<name>/_delta_log/00000000000000000000.json   lake v1
//! <zone>/<name>/_delta_log/00000000000000000009.json   lake v10, and a checkpoint of it
//! <zone>/<name>/data/<write-id>-00000.parquet          the files, referenced where they are
//! ```
//!
//! The log is derived from the catalog, never the other way round: lake version N is Delta
//! version N-1, and each commit's actions follow from the two versions' file lists and schemas
//! (files only in N are `add`s, files only in N-1 `remove`s, a new schema a `metaData`). Every
//! value comes from the catalog (times are the versions' own), so the same version always
//! derives the same bytes: two processes that write a commit at once write the same thing, and
//! whichever loses the race (the commit key is written only if absent) finds its twin there.
//!
//! A commit to the catalog is followed by [`Lake::sync_delta`], which writes whatever commits
//! the log lacks. A process killed in between leaves the log one commit behind; the next commit
//! of that dataset, `lake export delta` or `lake check` catch it up or report it. Archive,
//! restore and expiry write no Delta commit: they never touch the latest version, and they move
//! or delete files of older ones, so Delta time travel to an archived version fails naming the
//! missing file until `lake restore` brings it back.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema};
use bytes::Bytes;
use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake_core::kernel::{Action, Add, CommitInfo, Metadata, Protocol, Remove, StructType};
use deltalake_core::logstore::{LogStoreRef, StorageConfig, default_logstore};
use object_store::ObjectStore;
use object_store::prefix::PrefixStore;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::catalog::{FileRow, VersionRow};
use crate::clock;
use crate::error::{Error, Result};
use crate::format::schema;
use crate::ident::{DatasetRef, Version};
use crate::lake::Lake;
use crate::storage::{self, layout};

/// A checkpoint every this many Delta versions (after versions 9, 19, …).
pub const CHECKPOINT_EVERY: u64 = 10;

/// The engine named in each commit.
const ENGINE: &str = concat!("lake/", env!("CARGO_PKG_VERSION"));

/// What [`Lake::sync_delta`] did for one dataset.
#[derive(Debug, Clone, Serialize)]
pub struct DeltaSync {
    /// The dataset, `zone.name`.
    pub dataset: String,
    /// The table's location, for a Delta reader.
    pub location: String,
    /// The Delta version of the latest lake version (lake version minus one).
    pub delta_version: Option<u64>,
    /// Commits written now (the rest were there already).
    pub written: u64,
    /// Checkpoints written now.
    pub checkpoints: u64,
    /// Why the dataset has no Delta log, when it cannot have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// A tag and where a Delta reader finds its version.
#[derive(Debug, Clone, Serialize)]
pub struct DeltaTag {
    /// The dataset, `zone.name`.
    pub dataset: String,
    /// The tag.
    pub tag: String,
    /// The lake version it points at.
    pub version: Version,
    /// The same version as a Delta reader numbers it (the lake version minus one).
    pub delta_version: u64,
    /// The version's digest.
    pub digest: String,
}

/// The key of Delta version `d`'s commit.
pub fn commit_key(dataset: &DatasetRef, d: u64) -> String {
    format!("{}{d:020}.json", log_prefix(dataset))
}

/// Where a dataset's Delta log lives under the root (`<zone>/<name>/_delta_log/`).
pub fn log_prefix(dataset: &DatasetRef) -> String {
    layout::delta_log_prefix(dataset)
}

/// The dataset's tags with their Delta versions, beside the log (Delta readers ignore names
/// they do not know in `_delta_log/`, as they do `_last_checkpoint`'s peers).
pub fn tags_key(dataset: &DatasetRef) -> String {
    format!("{}_lake_tags.json", log_prefix(dataset))
}

fn checkpoint_key(dataset: &DatasetRef, d: u64) -> String {
    format!("{}{d:020}.checkpoint.parquet", log_prefix(dataset))
}

/// One lake version as a Delta commit needs it.
struct Snapshot {
    row: VersionRow,
    files: Vec<FileRow>,
    schema: Schema,
    run: Option<i64>,
    /// Why a Delta reader would not read this version as lake does, if it would not.
    unreadable: Option<String>,
}

impl Lake {
    /// The Delta log is written unless `[delta] log = false`, and only where a reader can find
    /// it (a local folder or S3, not an in-memory store).
    pub fn delta_enabled(&self) -> bool {
        self.config().delta.log && self.storage().table_location("").is_some()
    }

    /// After a commit: bring the dataset's Delta log up to the version just committed. The
    /// version is committed whatever happens here; a log left behind is caught up by the next
    /// commit or `lake export delta`, and reported by `lake check`.
    pub(crate) async fn follow_with_delta(&self, dataset: &DatasetRef) {
        if !self.delta_enabled() {
            return;
        }
        if let Err(e) = crate::failpoint::hit("delta.before_log") {
            tracing::warn!(dataset = %dataset.dataset_name(), error = %e, "the Delta log was not written");
            return;
        }
        match self.sync_delta(dataset, false).await {
            Ok(report) => {
                if let Some(why) = report.skipped {
                    tracing::debug!(dataset = %dataset.dataset_name(), why, "no Delta log");
                }
            }
            Err(e) => tracing::warn!(
                "the Delta log of {} lags the catalog ({}); `lake export delta {}` writes it",
                dataset.dataset_name(),
                e.causes().join(": "),
                dataset.dataset_name()
            ),
        }
    }

    /// Write the commits (and checkpoints) `dataset`'s Delta log lacks, up to its latest
    /// version. Commits already there are left as they are, unless `rebuild`, which first
    /// removes the whole log and writes it again from the catalog.
    pub async fn sync_delta(&self, dataset: &DatasetRef, rebuild: bool) -> Result<DeltaSync> {
        let location = self
            .storage()
            .table_location(&layout::dataset_prefix(dataset))
            .map(|(_, url)| url.to_string())
            .unwrap_or_default();
        let mut report = DeltaSync {
            dataset: dataset.dataset_name(),
            location,
            delta_version: None,
            written: 0,
            checkpoints: 0,
            skipped: None,
        };
        let (dataset_id, latest) = {
            let catalog = self.catalog();
            let tx = catalog.reader();
            let row = tx.dataset(&dataset.dataset())?;
            (row.id, tx.latest_version(row.id)?)
        };
        let Some(latest) = latest else {
            return Ok(report);
        };
        let last = latest.version.0 - 1;
        report.delta_version = Some(last);
        let storage = self.storage();
        if rebuild {
            for o in storage.list(&log_prefix(dataset)).await? {
                storage.delete(&o.key).await?;
            }
        }
        let first = if rebuild {
            0
        } else {
            match self.delta_head(dataset, last).await? {
                Some(d) if d >= last => {
                    self.checkpoint_if_due(dataset, last, &mut report).await?;
                    self.write_delta_tags(dataset, false).await?;
                    return Ok(report);
                }
                Some(d) => d + 1,
                None => 0,
            }
        };
        // The versions to write, and the one before the first of them (Delta version d is
        // lake version d + 1, so `versions[i]` is Delta version `base + i`).
        let base = first.saturating_sub(1);
        let (versions, first_digest) = {
            let catalog = self.catalog();
            let tx = catalog.reader();
            let versions = tx.versions_from(dataset_id, base + 1)?;
            let first_digest = match versions.first() {
                Some(v) if v.version.0 == 1 => v.digest.clone(),
                _ => tx
                    .versions_from(dataset_id, 1)?
                    .first()
                    .map(|v| v.digest.clone())
                    .unwrap_or_default(),
            };
            (versions, first_digest)
        };
        let at = |d: u64| -> Result<&VersionRow> {
            versions
                .get((d - base) as usize)
                .ok_or_else(|| Error::Internal(format!("{dataset} has no version {}", d + 1)))
        };
        let mut previous = match first {
            0 => None,
            d => Some(self.delta_snapshot(at(d - 1)?, false)?),
        };
        // A protocol action is written when the schema needs more than the version before
        // it did (repeating one the log had earlier is allowed and harmless).
        let mut protocol = previous
            .as_ref()
            .and_then(|p| needed_protocol(&p.schema).ok());
        for d in first..=last {
            let current = self.delta_snapshot(at(d)?, true)?;
            let needed =
                match needed_protocol(&current.schema).and_then(|p| match &current.unreadable {
                    Some(why) => Err(why.clone()),
                    None => Ok(p),
                }) {
                    Ok(p) => p,
                    Err(why) => {
                        report.skipped = Some(format!("{}: {why}", current.row.reference()));
                        report.delta_version = if d == 0 { None } else { Some(d - 1) };
                        return Ok(report);
                    }
                };
            let new_protocol = match protocol {
                Some(p) if p >= needed => None,
                _ => Some(needed),
            };
            if let Some(p) = new_protocol {
                protocol = Some(p);
            }
            let bytes = commit_bytes(
                dataset,
                d,
                &first_digest,
                previous.as_ref(),
                &current,
                new_protocol,
            )?;
            let key = commit_key(dataset, d);
            match storage.put_new(&key, Bytes::from(bytes.clone())).await {
                Ok(()) => report.written += 1,
                Err(e) if storage::is_already_exists(&e) => {
                    let there = storage.get(&key).await?;
                    if there.as_ref() != bytes.as_slice() {
                        return Err(Error::Delta {
                            dataset: dataset.dataset_name(),
                            problem: format!(
                                "`{}` differs from what {} derives; `lake export delta {} --rebuild` writes the log again",
                                storage.object_url(&key),
                                current.row.reference(),
                                dataset.dataset_name()
                            ),
                        });
                    }
                }
                Err(e) => return Err(e),
            }
            self.checkpoint_if_due(dataset, d, &mut report).await?;
            previous = Some(current);
        }
        self.write_delta_tags(dataset, false).await?;
        Ok(report)
    }

    /// Write `_delta_log/_lake_tags.json` from the catalog's tags, if it says anything else.
    /// Two writers can race here; each checks afterwards that what it wrote is still the
    /// catalog's list and writes again if not.
    /// After a commit (`changed` false) a dataset without tags is not looked at: only a tag
    /// or untag (`changed`) can leave a list to empty.
    pub(crate) async fn write_delta_tags(&self, dataset: &DatasetRef, changed: bool) -> Result<()> {
        let storage = self.storage();
        let key = tags_key(dataset);
        for _ in 0..3 {
            let tags = self.delta_tags(Some(dataset))?;
            if tags.is_empty() && !changed {
                return Ok(());
            }
            let mut body = serde_json::to_vec_pretty(&json!({ "tags": tags }))
                .map_err(|e| Error::Internal(format!("tags of {dataset}: {e}")))?;
            body.push(b'\n');
            let there = match storage.get(&key).await {
                Ok(b) => Some(b),
                Err(e) if storage::is_not_found(&e) => None,
                Err(e) => return Err(e),
            };
            if there.as_deref() == Some(body.as_slice()) {
                return Ok(());
            }
            if tags.is_empty() && there.is_none() {
                return Ok(());
            }
            storage.put_replacing(&key, Bytes::from(body)).await?;
        }
        Ok(())
    }

    /// After `lake tag` or untag: the tag list beside the Delta log follows.
    pub(crate) fn follow_tags(&self, dataset: &DatasetRef) {
        if !self.delta_enabled() {
            return;
        }
        if let Err(e) = crate::lake::run_blocking(self.write_delta_tags(dataset, true)) {
            tracing::warn!(
                "the Delta tag list of {} lags the catalog ({}); `lake export delta {}` writes it",
                dataset.dataset_name(),
                e.causes().join(": "),
                dataset.dataset_name()
            );
        }
    }

    /// The newest Delta version in the log, looking first at `expected` (the usual answer).
    async fn delta_head(&self, dataset: &DatasetRef, expected: u64) -> Result<Option<u64>> {
        let storage = self.storage();
        if storage
            .head(&commit_key(dataset, expected))
            .await?
            .is_some()
        {
            return Ok(Some(expected));
        }
        // Usually the commit before it is there (the version just committed is the one
        // missing); a listing only when the log is further behind.
        if let Some(before) = expected.checked_sub(1)
            && storage.head(&commit_key(dataset, before)).await?.is_some()
        {
            return Ok(Some(before));
        }
        Ok(self.delta_commits(dataset).await?.last().copied())
    }

    /// Every Delta version whose commit is in the log, in order.
    pub(crate) async fn delta_commits(&self, dataset: &DatasetRef) -> Result<Vec<u64>> {
        let prefix = log_prefix(dataset);
        let mut out: Vec<u64> = self
            .storage()
            .list(&prefix)
            .await?
            .into_iter()
            .filter_map(|o| {
                let name = o.key.strip_prefix(&prefix)?.strip_suffix(".json")?;
                (name.len() == 20).then(|| name.parse().ok()).flatten()
            })
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// `row` with its files and schema; with `whole`, also its run and whether a Delta reader
    /// would read it as lake does (what only the version being written needs).
    fn delta_snapshot(&self, row: &VersionRow, whole: bool) -> Result<Snapshot> {
        let catalog = self.catalog();
        let tx = catalog.reader();
        let files = tx.version_files(row.id)?;
        let schema = crate::sql::version_schema(&tx.schema_json(row.schema_id)?)?;
        if !whole {
            return Ok(Snapshot {
                run: None,
                row: row.clone(),
                files,
                schema,
                unreadable: None,
            });
        }
        // A file holds its columns in the types of the version that wrote it. Delta readers
        // fill a column a file lacks with nulls, as lake does, but take a file's types as they
        // are: a version whose older files hold a column in another type than the version's
        // (an append that widened it) reads differently there, or not at all.
        let mut unreadable = None;
        for (schema_id, count) in tx.older_file_schemas(row)? {
            let older = crate::sql::version_schema(&tx.schema_json(schema_id)?)?;
            unreadable = older.fields().iter().find_map(|f| {
                let now = schema.field_with_name(f.name()).ok()?;
                (now.data_type() != f.data_type()).then(|| {
                    format!(
                        "column `{}` is {} but {count} of its files hold it as {}; Delta readers do not convert a file's types",
                        f.name(),
                        schema::type_name(now.data_type()),
                        schema::type_name(f.data_type())
                    )
                })
            });
            if unreadable.is_some() {
                break;
            }
        }
        Ok(Snapshot {
            run: tx.run_of_version(row.id)?,
            row: row.clone(),
            files,
            schema,
            unreadable,
        })
    }

    /// Write a checkpoint of Delta version `d` when one is due and not there yet. The kernel
    /// reads the table as of `d` (from the last checkpoint and the commits since) and writes
    /// `NNN.checkpoint.parquet` and `_last_checkpoint`.
    async fn checkpoint_if_due(
        &self,
        dataset: &DatasetRef,
        d: u64,
        report: &mut DeltaSync,
    ) -> Result<()> {
        if !(d + 1).is_multiple_of(CHECKPOINT_EVERY) {
            return Ok(());
        }
        if self
            .storage()
            .head(&checkpoint_key(dataset, d))
            .await?
            .is_some()
        {
            return Ok(());
        }
        let problem = |e: deltalake_core::DeltaTableError| Error::Delta {
            dataset: dataset.dataset_name(),
            problem: format!("cannot write the checkpoint of version {d}: {e}"),
        };
        let mut table = deltalake_core::DeltaTable::new(self.delta_store(dataset)?);
        table.load_version(d).await.map_err(problem)?;
        deltalake_core::checkpoints::create_checkpoint(&table, None)
            .await
            .map_err(problem)?;
        report.checkpoints += 1;
        Ok(())
    }

    /// The dataset's Delta table as deltalake-core reaches it, through lake's own store.
    fn delta_store(&self, dataset: &DatasetRef) -> Result<LogStoreRef> {
        let prefix = layout::dataset_prefix(dataset);
        let (root, url) = self
            .storage()
            .table_location(&prefix)
            .ok_or_else(|| Error::Delta {
                dataset: dataset.dataset_name(),
                problem: "this store has no URL a Delta reader could open".into(),
            })?;
        let at = object_store::path::Path::from_url_path(url.path()).map_err(|e| Error::Delta {
            dataset: dataset.dataset_name(),
            problem: format!("table location {url}: {e}"),
        })?;
        let prefixed: Arc<dyn ObjectStore> = Arc::new(PrefixStore::new(root.clone(), at));
        Ok(default_logstore(
            prefixed,
            root,
            &url,
            &StorageConfig::default(),
        ))
    }

    /// What a Delta reader sees of `dataset` now, beside the catalog's latest version: the
    /// problems found (`delta_log`), or where the log stops and why (`delta_stops`); nothing
    /// when they agree.
    pub async fn check_delta(&self, dataset: &DatasetRef) -> Result<Vec<(&'static str, String)>> {
        let latest = {
            let catalog = self.catalog();
            let tx = catalog.reader();
            let row = tx.dataset(&dataset.dataset())?;
            tx.latest_version(row.id)?
        };
        let Some(latest) = latest else {
            return Ok(Vec::new());
        };
        let expected = self.delta_snapshot(&latest, true)?;
        let cannot = needed_protocol(&expected.schema)
            .err()
            .or_else(|| expected.unreadable.clone());
        if let Some(why) = cannot {
            // A note, not a disagreement: the log stops before the first such version.
            let at = self.delta_commits(dataset).await?.last().copied();
            return Ok(vec![(
                "delta_stops",
                format!(
                    "the Delta log of {} stops at {}: {} cannot be a Delta version ({why})",
                    dataset.dataset_name(),
                    at.map_or("nothing".to_string(), |d| format!(
                        "version {d} ({}@v{})",
                        dataset.dataset_name(),
                        d + 1
                    )),
                    latest.reference()
                ),
            )]);
        }
        let commits = self.delta_commits(dataset).await?;
        let fix = format!("`lake export delta {}` writes it", dataset.dataset_name());
        let mut problems = Vec::new();
        let want = latest.version.0 - 1;
        match commits.last() {
            None => {
                problems.push(("delta_log", format!("{} has no Delta log; {fix}", latest.reference())));
                return Ok(problems);
            }
            Some(&d) if d != want => problems.push(("delta_log", format!(
                "the Delta log of {} is at version {d}, the catalog's latest is {} (Delta version {want}); {fix}",
                dataset.dataset_name(),
                latest.reference()
            ))),
            Some(_) => {}
        }
        if let Some(gap) =
            (0..=*commits.last().unwrap_or(&0)).find(|d| commits.binary_search(d).is_err())
        {
            problems.push(("delta_log", format!(
                "the Delta log of {} lacks version {gap}; `lake export delta {} --rebuild` writes it again",
                dataset.dataset_name(),
                dataset.dataset_name()
            )));
        }
        // A version an erasure amended has a new digest: its commit must say so, or the log
        // still lists the files the erasure deleted.
        let amended = {
            let catalog = self.catalog();
            let tx = catalog.reader();
            tx.amended_versions(latest.dataset_id)?
        };
        for v in amended {
            let key = commit_key(dataset, v.version.0 - 1);
            let text = match self.storage().get(&key).await {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(_) => String::new(),
            };
            if !text.contains(&format!("\"digest\":\"{}\"", v.digest)) {
                problems.push(("delta_log", format!(
                    "the Delta log's commit of {} predates the erasure that amended it; `lake export delta {} --rebuild` writes it again",
                    v.reference(),
                    dataset.dataset_name()
                )));
                break;
            }
        }
        if !problems.is_empty() {
            return Ok(problems);
        }
        let mut table = deltalake_core::DeltaTable::new(self.delta_store(dataset)?);
        if let Err(e) = table.load().await {
            problems.push((
                "delta_log",
                format!(
                    "the Delta log of {} does not load: {e}",
                    dataset.dataset_name()
                ),
            ));
            return Ok(problems);
        }
        let state = table.snapshot().map_err(|e| Error::Delta {
            dataset: dataset.dataset_name(),
            problem: e.to_string(),
        })?;
        let prefix = layout::dataset_prefix(dataset);
        let theirs: std::collections::BTreeSet<String> = state
            .log_data()
            .into_iter()
            .map(|f| f.path().to_string())
            .collect();
        let ours: std::collections::BTreeSet<String> = expected
            .files
            .iter()
            .map(|f| f.path.strip_prefix(&prefix).unwrap_or(&f.path).to_string())
            .collect();
        if theirs != ours {
            let missing = ours.difference(&theirs).count();
            let extra = theirs.difference(&ours).count();
            problems.push(("delta_log", format!(
                "the Delta log of {} lists other files than {}: {missing} missing, {extra} extra; `lake export delta {} --rebuild` writes it again",
                dataset.dataset_name(),
                latest.reference(),
                dataset.dataset_name()
            )));
        }
        let delta_columns: Vec<String> = state
            .schema()
            .fields()
            .map(|f| f.name().to_string())
            .collect();
        let lake_columns: Vec<String> = expected
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        if delta_columns != lake_columns {
            problems.push((
                "delta_log",
                format!(
                    "the Delta schema of {} has columns {delta_columns:?}, {} has {lake_columns:?}",
                    dataset.dataset_name(),
                    latest.reference()
                ),
            ));
        }
        Ok(problems)
    }

    /// Every tag of `dataset` (or of every dataset), with its Delta version.
    pub fn delta_tags(&self, dataset: Option<&DatasetRef>) -> Result<Vec<DeltaTag>> {
        let catalog = self.catalog();
        let tx = catalog.reader();
        let tags = tx.list_tags(dataset)?;
        Ok(tags
            .into_iter()
            .map(|(tag, v)| DeltaTag {
                dataset: v.dataset.dataset_name(),
                tag,
                version: v.version,
                delta_version: v.version.0 - 1,
                digest: v.digest,
            })
            .collect())
    }
}

/// The Delta protocol a schema needs: (reader, writer) versions, with `timestampNtz` when a
/// timestamp has no time zone. A type Delta cannot hold is why the dataset has no log.
fn needed_protocol(schema: &Schema) -> std::result::Result<(i32, i32), String> {
    let mut ntz = false;
    for f in schema.fields() {
        check_type(f.name(), f.data_type(), &mut ntz)?;
    }
    Ok(if ntz { (3, 7) } else { (1, 2) })
}

fn check_type(column: &str, dt: &DataType, ntz: &mut bool) -> std::result::Result<(), String> {
    use DataType::*;
    let no = |what: &str| {
        Err(format!(
            "column `{column}` is {what}, which a Delta table cannot hold"
        ))
    };
    match dt {
        Boolean | Int8 | Int16 | Int32 | Int64 | Float32 | Float64 | Utf8 | LargeUtf8 | Binary
        | LargeBinary | FixedSizeBinary(_) | Date32 => Ok(()),
        Decimal128(p, _) if *p <= 38 => Ok(()),
        Timestamp(_, Some(_)) => Ok(()),
        Timestamp(_, None) => {
            *ntz = true;
            Ok(())
        }
        List(f) | LargeList(f) => check_type(column, f.data_type(), ntz),
        Struct(fields) => {
            for f in fields {
                check_type(column, f.data_type(), ntz)?;
            }
            Ok(())
        }
        other => no(&schema::type_name(other)),
    }
}

/// The bytes of Delta version `d`'s commit: one JSON action per line.
fn commit_bytes(
    dataset: &DatasetRef,
    d: u64,
    first_digest: &str,
    previous: Option<&Snapshot>,
    current: &Snapshot,
    protocol: Option<(i32, i32)>,
) -> Result<Vec<u8>> {
    let bad = |problem: String| Error::Delta {
        dataset: dataset.dataset_name(),
        problem,
    };
    let at = clock::parse_timestamp(&current.row.created_at)
        .map(|t| t.timestamp_millis())
        .unwrap_or(0);
    let prefix = layout::dataset_prefix(dataset);
    let relative = |f: &FileRow| f.path.strip_prefix(&prefix).unwrap_or(&f.path).to_string();
    let before: BTreeMap<&str, &FileRow> = previous
        .map(|p| p.files.iter().map(|f| (f.path.as_str(), f)).collect())
        .unwrap_or_default();
    let now: BTreeMap<&str, &FileRow> =
        current.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let removes: Vec<&FileRow> = before
        .iter()
        .filter(|(k, _)| !now.contains_key(*k))
        .map(|(_, f)| *f)
        .collect();
    let adds: Vec<&FileRow> = now
        .iter()
        .filter(|(k, _)| !before.contains_key(*k))
        .map(|(_, f)| *f)
        .collect();

    let reference = current.row.reference();
    let delta_operation = match current.row.operation.as_str() {
        "compact" => "OPTIMIZE",
        _ if d == 0 => "CREATE TABLE",
        _ => "WRITE",
    };
    let mode = if removes.is_empty() {
        "Append"
    } else {
        "Overwrite"
    };
    // A compaction rewrites rows without changing them: Delta marks such files `dataChange:
    // false`, so streaming readers of the table do not read the rows again.
    let data_change = current.row.operation != "compact";
    let mut info = HashMap::new();
    info.insert(
        "lake".to_string(),
        json!({
            "ref": reference.to_string(),
            "version": current.row.version.0,
            "digest": current.row.digest,
            "operation": current.row.operation,
            "mode": current.row.mode,
            "run_id": current.run,
            "manifest": current.row.manifest_key,
        }),
    );
    let commit_info = CommitInfo {
        timestamp: Some(at),
        user_name: Some(current.row.created_by.clone()),
        operation: Some(delta_operation.to_string()),
        operation_parameters: Some(HashMap::from([(
            "mode".to_string(),
            Value::String(mode.to_string()),
        )])),
        read_version: d.checked_sub(1),
        is_blind_append: Some(removes.is_empty()),
        engine_info: Some(ENGINE.to_string()),
        info,
        ..Default::default()
    };
    let mut actions = vec![Action::CommitInfo(commit_info)];
    if let Some((reader, writer)) = protocol {
        let features = (reader >= 3).then(|| vec!["timestampNtz"]);
        let value = json!({
            "minReaderVersion": reader,
            "minWriterVersion": writer,
            "readerFeatures": features,
            "writerFeatures": features,
        });
        let protocol: Protocol =
            serde_json::from_value(value).map_err(|e| bad(format!("protocol: {e}")))?;
        actions.push(Action::Protocol(protocol));
    }
    let schema_changed = previous.is_none_or(|p| p.schema != current.schema);
    if schema_changed {
        let delta_schema: StructType = (&current.schema)
            .try_into_kernel()
            .map_err(|e| bad(format!("schema of {reference}: {e}")))?;
        let schema_string = serde_json::to_string(&delta_schema)
            .map_err(|e| bad(format!("schema of {reference}: {e}")))?;
        let value = json!({
            "id": table_id(dataset, first_digest),
            "name": dataset.dataset_name(),
            "format": { "provider": "parquet", "options": {} },
            "schemaString": schema_string,
            "partitionColumns": [],
            "configuration": { "delta.checkpointInterval": CHECKPOINT_EVERY.to_string() },
            "createdTime": at,
        });
        let metadata: Metadata =
            serde_json::from_value(value).map_err(|e| bad(format!("metaData: {e}")))?;
        actions.push(Action::Metadata(metadata));
    }
    for f in removes {
        actions.push(Action::Remove(Remove {
            path: relative(f),
            data_change,
            deletion_timestamp: Some(at),
            extended_file_metadata: Some(true),
            partition_values: Some(HashMap::new()),
            size: Some(f.size as i64),
            ..Default::default()
        }));
    }
    for f in adds {
        actions.push(Action::Add(Add {
            path: relative(f),
            partition_values: HashMap::new(),
            size: f.size as i64,
            modification_time: at,
            data_change,
            stats: Some(json!({ "numRecords": f.rows }).to_string()),
            ..Default::default()
        }));
    }
    let mut out = Vec::new();
    for a in &actions {
        serde_json::to_writer(&mut out, a).map_err(|e| bad(format!("commit {d}: {e}")))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// The table's id: derived from the dataset's name and its first version's digest, so every
/// rebuild of the log gives the same id, and a dataset dropped and made again a new one.
fn table_id(dataset: &DatasetRef, first: &str) -> String {
    let hash = Sha256::digest(format!("lake:{}:{first}", dataset.dataset_name()).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}
