//! `lake check --rebuild-catalog [--into NEW.sqlite]`: a catalog made again from storage alone.
//!
//! Every manifest under `_lake/manifests/` (in either tier) is a committed version's read
//! contract, and its sha256 is the version's digest, so the manifests give back datasets,
//! versions with their digests, schemas and drift, files with their hashes and row groups,
//! sources, partitions, lineage (each input's ref and digest) and the erasure ledger (each
//! amendment). Where each file is says its tier, and so the version's state: a file only in the
//! archive tier makes its version archived, a version whose files are gone is expired. Each
//! dataset's record (`_lake/datasets/<zone>/<name>.json`, see [`DatasetRecord`]) gives back its
//! tags, the states storage cannot tell (an archived version whose files stayed hot, because
//! live versions share them) and its annotations.
//!
//! What no object in storage carries is listed as lost (see [`LOST`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::{Catalog, ColumnRow, FileRow, NewVersion, SchemaChange, SourceRow, Tx};
use crate::clock;
use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::format::hash::sha256_hex;
use crate::format::manifest::{Manifest, Operation};
use crate::format::schema;
use crate::ident::{DatasetRef, Version};
use crate::lake::Lake;
use crate::storage::{Storage, layout};

/// What a catalog rebuilt from storage does not have.
pub const LOST: &[&str] = &[
    "who made each version (created_by reads `unknown`)",
    "lifecycle rules made with `lake rule add` (rules in lake.toml come back on the next `lake archive`)",
    "runs, check results and the audit trail (every job runs once more on its next promote)",
    "stream positions and watched files (`lake ingest --stream` starts counting again)",
    "lock-file holds (`lake pin` again)",
    "when and by which rule each version was archived or expired",
    "the erasure ledger's row totals across versions (each amended version's own count is kept; a total reads as the most any one version of a dataset lost)",
    "files_rewritten counts in the erasure ledger",
];

/// What `lake check --rebuild-catalog` did.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    /// The catalog written (removed again after the comparison when it was a scratch copy).
    pub into: String,
    /// The catalog written was kept (it is not a scratch copy).
    pub kept: bool,
    /// Datasets found in the manifests.
    pub datasets: u64,
    /// Versions rebuilt.
    pub versions: u64,
    /// Files they reference.
    pub files: u64,
    /// Tags restored from the datasets' records.
    pub tags: u64,
    /// Erasures restored to the ledger.
    pub erasures: u64,
    /// Manifests not taken as versions, and why.
    pub skipped: Vec<SkippedManifest>,
    /// What the catalog held that storage does not, and so did not come back.
    pub lost: Vec<&'static str>,
    /// The rebuilt catalog against the live one, if there is one.
    pub compared: Option<Comparison>,
}

/// A manifest the rebuild passed over.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedManifest {
    /// Its key.
    pub key: String,
    /// Why it was passed over.
    pub reason: String,
}

/// The rebuilt catalog compared with the live one.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The live catalog's path.
    pub live: String,
    /// Versions alike in both: digest, state, rows, files.
    pub same: u64,
    /// Every difference found; any makes the command exit 3.
    pub differences: Vec<Difference>,
}

/// One way a version differs between the live and the rebuilt catalog.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// The version.
    #[serde(rename = "ref")]
    pub reference: String,
    /// `digest`, `state`, `rows`, `files`, `tags`, `only_live`, `only_rebuilt`
    pub field: &'static str,
    /// What the live catalog says.
    pub live: String,
    /// What the rebuilt catalog says.
    pub rebuilt: String,
}

/// A dataset's record in storage (`_lake/datasets/<zone>/<name>.json`): what the catalog knows
/// of it that no manifest says. Written from the catalog after each tag, untag, archive,
/// restore, expiry and annotation; `lake check` compares it and `--repair` writes it again.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct DatasetRecord {
    /// The dataset, `zone.name`.
    pub dataset: String,
    /// Its description.
    pub description: Option<String>,
    /// Its owner.
    pub owner: Option<String>,
    /// Its labels: (key, value).
    pub labels: Vec<(String, Option<String>)>,
    /// Its column docs: (column, text).
    pub column_docs: Vec<(String, String)>,
    /// Its tags.
    pub tags: Vec<RecordedTag>,
    /// Versions not active, with their digests.
    pub states: Vec<RecordedState>,
}

/// A tag as a dataset's record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RecordedTag {
    /// The tag.
    pub tag: String,
    /// The version it points at.
    pub version: u64,
    /// That version's digest.
    pub digest: String,
}

/// A version that is not active, as a dataset's record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RecordedState {
    /// The version.
    pub version: u64,
    /// Its digest.
    pub digest: String,
    /// `archived` or `expired`.
    pub state: String,
}

impl Lake {
    /// The record of `dataset` as the catalog has it now.
    pub fn dataset_record(&self, dataset: &DatasetRef) -> Result<DatasetRecord> {
        let catalog = self.catalog();
        let tx = catalog.reader();
        let row = tx.dataset(&dataset.dataset())?;
        let meta = tx.dataset_meta(row.id)?;
        let tags = tx
            .list_tags(Some(&dataset.dataset()))?
            .into_iter()
            .map(|(tag, v)| RecordedTag {
                tag,
                version: v.version.0,
                digest: v.digest,
            })
            .collect();
        let mut states: Vec<RecordedState> = tx
            .versions(row.id)?
            .into_iter()
            .filter(|v| v.state != crate::catalog::VersionState::Active)
            .map(|v| RecordedState {
                version: v.version.0,
                digest: v.digest,
                state: v.state.as_str().to_string(),
            })
            .collect();
        states.sort_by_key(|s| s.version);
        Ok(DatasetRecord {
            dataset: dataset.dataset_name(),
            description: meta.description,
            owner: meta.owner,
            labels: meta.labels,
            column_docs: meta.column_docs,
            tags,
            states,
        })
    }

    /// Bring `dataset`'s record in storage in line with the catalog; `true` if it was written.
    /// Read again after writing: a change another process made meanwhile is written too.
    pub async fn write_dataset_record(&self, dataset: &DatasetRef) -> Result<bool> {
        let key = layout::dataset_record(dataset);
        let mut wrote = false;
        for _ in 0..3 {
            let record = self.dataset_record(dataset)?;
            let mut body = serde_json::to_vec_pretty(&record)
                .map_err(|e| Error::Internal(format!("record of {dataset}: {e}")))?;
            body.push(b'\n');
            let there = match self.storage().get(&key).await {
                Ok(b) => Some(b),
                Err(e) if crate::storage::is_not_found(&e) => None,
                Err(e) => return Err(e),
            };
            if there.as_deref() == Some(body.as_slice()) {
                return Ok(wrote);
            }
            self.storage()
                .put_replacing(&key, bytes::Bytes::from(body))
                .await?;
            wrote = true;
        }
        Ok(wrote)
    }

    /// [`Lake::write_dataset_record`] after a change that is committed whatever happens here:
    /// a record left behind is reported by `lake check` and written by `--repair`.
    pub(crate) async fn follow_record(&self, dataset: &DatasetRef) {
        if let Err(e) = self.write_dataset_record(dataset).await {
            tracing::warn!(
                "the record of {} in storage lags the catalog ({}); `lake check --repair` writes it",
                dataset.dataset_name(),
                e.causes().join(": ")
            );
        }
    }

    /// Does `dataset`'s record in storage say what the catalog does?
    pub(crate) async fn record_is_current(&self, dataset: &DatasetRef) -> Result<bool> {
        let record = self.dataset_record(dataset)?;
        match self.storage().get(&layout::dataset_record(dataset)).await {
            Ok(b) => Ok(serde_json::from_slice::<DatasetRecord>(&b).ok() == Some(record)),
            Err(e) if crate::storage::is_not_found(&e) => Ok(record.tags.is_empty()
                && record.states.is_empty()
                && record.description.is_none()
                && record.owner.is_none()
                && record.labels.is_empty()
                && record.column_docs.is_empty()),
            Err(e) => Err(e),
        }
    }
}

/// One manifest found in storage.
struct Found {
    key: String,
    digest: String,
    manifest: Manifest,
}

/// Rebuild the catalog of the project at `start` from its storage into `into` (a new file),
/// or, without it, into the project's catalog path when that file is gone; with a catalog
/// there, into a scratch copy that is compared with it and removed.
pub async fn rebuild_catalog(start: &Path, into: Option<&Path>) -> Result<RebuildReport> {
    let dir = config::find_project(start)?;
    let config = Config::load(&dir.join(config::CONFIG_FILE))?;
    let storage = Storage::open(&config.lake.root, &dir, &config.s3)?;
    let archive = Storage::open(&config.lake.archive, &dir, &config.s3)?;
    storage.check_apart(&archive)?;
    let live = dir.join(&config.lake.catalog);
    let (target, kept) = match into {
        Some(p) => (p.to_path_buf(), true),
        None if !live.exists() => (live.clone(), true),
        None => (
            live.with_file_name(format!("catalog.rebuilt-{}.sqlite", std::process::id())),
            false,
        ),
    };
    if target.exists() {
        return Err(Error::LakeExists { path: target });
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let result = build(&storage, &archive, &target).await;
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            remove_catalog(&target);
            return Err(e);
        }
    };
    report.kept = kept;
    if live.exists() && target != live {
        report.compared = Some(compare(&live, &target)?);
    }
    if !kept {
        remove_catalog(&target);
    }
    Ok(report)
}

fn remove_catalog(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// `_lake/manifests/<zone>/<name>/v000012.json` → (dataset, version).
fn parse_key(key: &str) -> Option<(DatasetRef, u64)> {
    let rest = key.strip_prefix("_lake/manifests/")?;
    let mut parts = rest.split('/');
    let (zone, name, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let n: u64 = file
        .strip_prefix('v')?
        .strip_suffix(".json")?
        .parse()
        .ok()?;
    let dataset: DatasetRef = format!("{zone}.{name}").parse().ok()?;
    Some((dataset, n))
}

async fn build(storage: &Storage, archive: &Storage, target: &Path) -> Result<RebuildReport> {
    let mut report = RebuildReport {
        into: target.display().to_string(),
        kept: true,
        datasets: 0,
        versions: 0,
        files: 0,
        tags: 0,
        erasures: 0,
        skipped: Vec::new(),
        lost: LOST.to_vec(),
        compared: None,
    };
    // Every manifest, by dataset then version.
    let mut found: BTreeMap<String, BTreeMap<u64, Found>> = BTreeMap::new();
    for tier in [storage, archive] {
        for o in tier.list("_lake/manifests/").await? {
            let Some((dataset, n)) = parse_key(&o.key) else {
                continue;
            };
            let bytes = tier.get(&o.key).await?;
            let manifest = match Manifest::decode(&bytes) {
                Ok(m) if m.dataset == dataset.dataset_name() && m.version == n => m,
                Ok(_) => {
                    report.skipped.push(SkippedManifest {
                        key: o.key.clone(),
                        reason: "names another dataset or version than its key".into(),
                    });
                    continue;
                }
                Err(e) => {
                    report.skipped.push(SkippedManifest {
                        key: o.key.clone(),
                        reason: format!("not a manifest: {e}"),
                    });
                    continue;
                }
            };
            found.entry(dataset.dataset_name()).or_default().insert(
                n,
                Found {
                    key: o.key,
                    digest: sha256_hex(&bytes),
                    manifest,
                },
            );
        }
    }
    let mut catalog = Catalog::open(target, true)?;
    let now = clock::timestamp(chrono::Utc::now());
    for (name, versions) in &found {
        let dataset: DatasetRef = name.parse()?;
        let last = versions.keys().next_back().copied();
        let mut previous: Option<arrow::datatypes::Schema> = None;
        for (n, f) in versions {
            // Where each file is decides its tier, and so the version's state.
            let mut tiers = Vec::new();
            for mf in &f.manifest.files {
                let tier = match storage.head(&mf.path).await? {
                    Some(o) if o.size == mf.size => "hot",
                    _ => match archive.head(&mf.path).await? {
                        Some(o) if o.size == mf.size => "archive",
                        _ => "missing",
                    },
                };
                tiers.push(tier);
            }
            let missing = tiers.iter().filter(|t| **t == "missing").count();
            if missing > 0 && Some(*n) == last {
                // The newest manifest of a dataset with files gone was never committed (a
                // writer stopped between its manifest and its catalog commit).
                report.skipped.push(SkippedManifest {
                    key: f.key.clone(),
                    reason: format!(
                        "{missing} of its files are in neither tier: a write that never committed"
                    ),
                });
                continue;
            }
            if missing > 0 && missing < tiers.len() {
                report.skipped.push(SkippedManifest {
                    key: f.key.clone(),
                    reason: format!("{missing} of its {} files are in neither tier; `lake check` on the rebuilt catalog names them", tiers.len()),
                });
            }
            let state = if missing == tiers.len() && !tiers.is_empty() {
                "expired"
            } else if tiers.contains(&"archive") {
                "archived"
            } else {
                "active"
            };
            let schema = crate::sql::version_schema(&f.manifest.schema.to_string())?;
            let changes: Vec<SchemaChange> = previous
                .as_ref()
                .map(|p| schema::diff(p, &schema))
                .unwrap_or_default()
                .into_iter()
                .map(|d| SchemaChange {
                    change: d.change.to_string(),
                    column: d.column,
                    old_type: d.old_type,
                    new_type: d.new_type,
                })
                .collect();
            let files: Vec<FileRow> = f
                .manifest
                .files
                .iter()
                .map(FileRow::from_manifest)
                .collect();
            catalog.write(|tx| {
                let (operation, mode, sources, keep) = lineage_of(tx, &dataset, &f.manifest)?;
                let row = tx.insert_version(&NewVersion {
                    dataset: dataset.clone(),
                    version: Version(*n),
                    digest: f.digest.clone(),
                    manifest_key: f.key.clone(),
                    schema_json: f.manifest.schema.to_string(),
                    columns: schema::columns(&schema)
                        .into_iter()
                        .map(|c| ColumnRow {
                            name: c.name,
                            data_type: c.data_type,
                            nullable: c.nullable,
                        })
                        .collect(),
                    operation: operation.to_string(),
                    mode,
                    created_at: f.manifest.created_at.clone(),
                    created_by: "unknown".into(),
                    files: files.clone(),
                    sources,
                    keep_sources: keep,
                    changes,
                })?;
                for (mf, tier) in f.manifest.files.iter().zip(&tiers) {
                    let tier = if *tier == "missing" { "deleted" } else { tier };
                    if tier != "hot" {
                        tx.set_file_tier_by_path(&mf.path, tier)?;
                    }
                }
                if state != "active" {
                    tx.set_version_state(row.id, state, &f.manifest.created_at, None)?;
                }
                let mut partitions: BTreeMap<String, u64> = BTreeMap::new();
                for file in &files {
                    if let Some(p) = &file.partition {
                        *partitions.entry(p.clone()).or_default() += file.rows;
                    }
                }
                tx.insert_partitions(row.id, &partitions.into_iter().collect::<Vec<_>>())
            })?;
            previous = Some(schema);
            report.versions += 1;
            report.files += files.len() as u64;
        }
        report.datasets += 1;
    }
    // Lineage and the erasure ledger name other versions: once all are in.
    let mut erasures: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    let mut most_removed: BTreeMap<(i64, i64), u64> = BTreeMap::new();
    for (name, versions) in &found {
        let dataset: DatasetRef = name.parse()?;
        for (n, f) in versions {
            catalog.write(|tx| {
                let Ok(row) = tx.resolve(&dataset.at(Version(*n))) else {
                    return Ok(());
                };
                let mut inputs = Vec::new();
                for input in &f.manifest.inputs {
                    let r: DatasetRef = input.reference.parse()?;
                    if let Ok(v) = tx.resolve(&r) {
                        inputs.push(v.id);
                    }
                }
                tx.insert_lineage(row.id, &inputs, &[])?;
                let amendments = &f.manifest.amendments;
                for (i, a) in amendments.iter().enumerate() {
                    let key = (a.at.clone(), a.by.clone(), a.predicate_sha256.clone());
                    let id = match erasures.get(&key) {
                        Some(id) => *id,
                        None => {
                            let id = tx.insert_erasure(&a.at, &a.by, &a.predicate_sha256, true)?;
                            erasures.insert(key, id);
                            id
                        }
                    };
                    let next = amendments
                        .get(i + 1)
                        .map_or(row.digest.clone(), |b| b.previous_digest.clone());
                    tx.insert_erased_version(
                        id,
                        row.id,
                        "amended",
                        &a.previous_digest,
                        &next,
                        a.rows_removed,
                        0,
                        None,
                    )?;
                    // Each dataset's total is the most any one of its versions lost.
                    let most = most_removed.entry((id, row.dataset_id)).or_default();
                    if a.rows_removed > *most {
                        tx.add_erased_rows(id, a.rows_removed - *most)?;
                        *most = a.rows_removed;
                    }
                }
                if let Operation::Erase {
                    predicate_sha256,
                    rows_removed,
                    ..
                } = &f.manifest.operation
                {
                    let key = (
                        f.manifest.created_at.clone(),
                        "unknown".to_string(),
                        predicate_sha256.clone(),
                    );
                    let id = match erasures.get(&key) {
                        Some(id) => *id,
                        None => {
                            let id = tx.insert_erasure(
                                &f.manifest.created_at,
                                "unknown",
                                predicate_sha256,
                                false,
                            )?;
                            erasures.insert(key, id);
                            id
                        }
                    };
                    let old = f
                        .manifest
                        .inputs
                        .first()
                        .map_or(String::new(), |i| i.manifest_sha256.clone());
                    tx.insert_erased_version(
                        id,
                        row.id,
                        "new",
                        &old,
                        &row.digest,
                        *rows_removed,
                        0,
                        None,
                    )?;
                    tx.add_erased_rows(id, *rows_removed)?;
                }
                Ok(())
            })?;
        }
        // Tags, lifecycle states and annotations, from the dataset's record.
        let Ok(bytes) = storage.get(&layout::dataset_record(&dataset)).await else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<DatasetRecord>(&bytes) else {
            report.skipped.push(SkippedManifest {
                key: layout::dataset_record(&dataset),
                reason: "not a dataset record".into(),
            });
            continue;
        };
        let tagged = catalog.write(|tx| {
            let row = tx.dataset(&dataset)?;
            let versions = tx.versions(row.id)?;
            let find = |n: u64, digest: &str| {
                versions
                    .iter()
                    .find(|v| v.version.0 == n && v.digest == digest)
            };
            let mut tagged = 0;
            for t in &record.tags {
                if let Some(v) = find(t.version, &t.digest) {
                    tx.set_tag(v, &t.tag, &now, "unknown")?;
                    tagged += 1;
                }
            }
            for s in &record.states {
                // Storage said what it could (files in the archive tier, files gone); the
                // record says the rest.
                if let Some(v) = find(s.version, &s.digest)
                    && v.state == crate::catalog::VersionState::Active
                {
                    tx.set_version_state(v.id, &s.state, &v.created_at, None)?;
                }
            }
            if let Some(d) = &record.description {
                tx.set_description(row.id, d)?;
            }
            if let Some(o) = &record.owner {
                tx.set_owner(row.id, o)?;
            }
            for (k, v) in &record.labels {
                tx.set_label(row.id, k, v.as_deref())?;
            }
            for (c, d) in &record.column_docs {
                tx.set_column_doc(row.id, c, d)?;
            }
            Ok(tagged)
        })?;
        report.tags += tagged;
    }
    report.erasures = erasures.len() as u64;
    catalog.write(|tx| {
        tx.reindex(None)?;
        tx.audit(
            &now,
            "lake",
            "rebuild-catalog",
            "*",
            &serde_json::json!({ "versions": report.versions, "skipped": report.skipped.len() }),
        )
    })?;
    Ok(report)
}

/// A manifest's operation as the catalog records it: name, mode, the sources the version
/// holds, and whether it also holds the previous version's.
#[allow(clippy::type_complexity)]
fn lineage_of(
    tx: &Tx<'_>,
    dataset: &DatasetRef,
    m: &Manifest,
) -> Result<(&'static str, Option<String>, Vec<SourceRow>, bool)> {
    let sources = |list: &[crate::format::manifest::ManifestSource]| {
        list.iter()
            .map(|s| SourceRow {
                uri: s.uri.clone(),
                sha256: s.sha256.clone(),
                size: s.size,
                format: s.format.clone(),
                rows: s.rows,
                added: true,
            })
            .collect::<Vec<_>>()
    };
    Ok(match &m.operation {
        Operation::Ingest { mode, sources: s } => {
            ("ingest", Some(mode.clone()), sources(s), mode == "append")
        }
        Operation::Adopt { mode, files, .. } => (
            "adopt",
            Some(mode.clone()),
            sources(files),
            mode == "append",
        ),
        Operation::Compact { .. } => ("compact", None, Vec::new(), true),
        Operation::Erase { .. } => ("erase", None, Vec::new(), true),
        Operation::Rollback { to, .. } => {
            let held = match tx.resolve(&dataset.at(Version(*to))) {
                Ok(v) => tx
                    .version_sources(v.id)?
                    .into_iter()
                    .map(|s| SourceRow { added: false, ..s })
                    .collect(),
                Err(_) => Vec::new(),
            };
            ("rollback", None, held, false)
        }
        Operation::Promote { .. } => ("promote", None, Vec::new(), false),
    })
}

/// What is compared of a version: digest, state, rows, files, tags.
type VersionFacts = (String, String, u64, u64, Vec<String>);

/// Every version of the live catalog against the rebuilt one.
fn compare(live: &Path, rebuilt: &Path) -> Result<Comparison> {
    let snapshot = |path: &Path| -> Result<BTreeMap<String, VersionFacts>> {
        let catalog = Catalog::open(path, false)?;
        let tx = catalog.reader();
        let mut out = BTreeMap::new();
        for v in tx.all_versions()? {
            out.insert(
                v.reference().to_string(),
                (
                    v.digest.clone(),
                    v.state.as_str().to_string(),
                    v.rows,
                    v.file_count,
                    tx.version_tags(v.id)?,
                ),
            );
        }
        Ok(out)
    };
    let (a, b) = (snapshot(live)?, snapshot(rebuilt)?);
    let mut out = Comparison {
        live: live.display().to_string(),
        same: 0,
        differences: Vec::new(),
    };
    for (r, x) in &a {
        let Some(y) = b.get(r) else {
            out.differences.push(Difference {
                reference: r.clone(),
                field: "only_live",
                live: x.0.clone(),
                rebuilt: String::new(),
            });
            continue;
        };
        let before = out.differences.len();
        let mut differ = |field, l: String, n: String| {
            if l != n {
                out.differences.push(Difference {
                    reference: r.clone(),
                    field,
                    live: l,
                    rebuilt: n,
                });
            }
        };
        differ("digest", x.0.clone(), y.0.clone());
        differ("state", x.1.clone(), y.1.clone());
        differ("rows", x.2.to_string(), y.2.to_string());
        differ("files", x.3.to_string(), y.3.to_string());
        differ("tags", x.4.join(","), y.4.join(","));
        if out.differences.len() == before {
            out.same += 1;
        }
    }
    for (r, y) in &b {
        if !a.contains_key(r) {
            out.differences.push(Difference {
                reference: r.clone(),
                field: "only_rebuilt",
                live: String::new(),
                rebuilt: y.0.clone(),
            });
        }
    }
    Ok(out)
}
