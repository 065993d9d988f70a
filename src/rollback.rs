//! `lake rollback DATASET@vN`: a new version whose files and schema are vN's, through the one
//! write path. Nothing is copied and nothing is deleted: the versions after vN stay in the
//! history (and readable by their numbers) until lifecycle rules say otherwise.
//!
//! The new version (operation `rollback`) has lineage to vN and an audit row, as every commit
//! does. Downstream jobs see a new input version and rerun. The dataset's own job, if it has
//! one, is up to date as long as its SQL and inputs are as they were at its last run, so the
//! rollback stands until they change (or `lake promote --full-refresh`).
//!
//! The version holds vN's sources again: a source ingested after vN is no longer held, and
//! ingesting that file again makes a new version. A rollback that would drop rows a stream
//! committed after vN is refused, since the stream never sends them again.

use std::time::Instant;

use serde::Serialize;

use crate::catalog::VersionState;
use crate::commit::Draft;
use crate::error::{Error, Result};
use crate::format::manifest::{Input, Operation};
use crate::format::schema;
use crate::ident::{DatasetRef, Version};
use crate::lake::Lake;

/// How a rollback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    /// A new version with the files of the earlier one committed.
    Committed,
    /// vN is the latest version already.
    Unchanged,
    /// Nothing was written (`--dry-run`); the report says what would be.
    DryRun,
}

/// What `lake rollback` did.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// The dataset.
    pub dataset: DatasetRef,
    /// How it ended.
    pub status: RollbackStatus,
    /// The version rolled back to, and the latest before the rollback.
    pub to: String,
    /// The version rolled back to, `zone.name@vN`.
    pub from: String,
    /// The new version's number.
    pub version: Option<Version>,
    /// The new version's ref.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The new version's digest.
    pub digest: Option<String>,
    /// Its rows.
    pub rows: u64,
    /// Its files.
    pub files: u64,
    /// Sources the latest version holds and vN does not: ingesting them again makes a version.
    pub dropped_sources: Vec<String>,
    /// How its schema differs from the latest before it.
    pub drift: Vec<schema::Drift>,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

/// A rollback; see the module docs.
pub struct Rollback<'a> {
    lake: &'a Lake,
    to: DatasetRef,
    dry_run: bool,
}

impl Lake {
    /// Prepare a rollback of `to`'s dataset to the version `to` names.
    pub fn rollback(&self, to: DatasetRef) -> Rollback<'_> {
        Rollback {
            lake: self,
            to,
            dry_run: false,
        }
    }
}

impl Rollback<'_> {
    /// Say what would change; commit nothing.
    pub fn with_dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Commit the rollback (or, with a dry run, say what it would commit).
    pub async fn execute(self) -> Result<RollbackReport> {
        let started = Instant::now();
        let lake = self.lake;
        if self.to.selector.is_none() {
            return Err(Error::InvalidRef {
                input: self.to.to_string(),
                reason: "name the version to roll back to, such as @v2 or a tag".into(),
            });
        }
        let dataset = self.to.dataset();
        let (target, latest, dropped, drift, streams) = {
            let catalog = lake.catalog();
            let tx = catalog.reader();
            let target = tx.resolve(&self.to)?;
            let latest = tx
                .latest_version(target.dataset_id)?
                .ok_or_else(|| Error::Internal(format!("{dataset} has no versions")))?;
            let held: std::collections::HashSet<String> = tx
                .version_sources(target.id)?
                .into_iter()
                .map(|s| s.sha256)
                .collect();
            let dropped: Vec<String> = tx
                .version_sources(latest.id)?
                .into_iter()
                .filter(|s| !held.contains(&s.sha256))
                .map(|s| s.uri)
                .collect();
            let drift = schema::diff(
                &crate::sql::version_schema(&tx.schema_json(latest.schema_id)?)?,
                &crate::sql::version_schema(&tx.schema_json(target.schema_id)?)?,
            );
            let streams = tx.streams_past(&dataset, target.version)?;
            (target, latest, dropped, drift, streams)
        };
        match target.state {
            VersionState::Active => {}
            VersionState::Archived => {
                return Err(Error::VersionArchived {
                    version: target.reference().to_string(),
                    state: target.state.as_str(),
                });
            }
            VersionState::Expired => {
                return Err(Error::VersionExpired {
                    version: target.reference().to_string(),
                    at: target.created_at.clone(),
                });
            }
        }
        if let Some(stream) = streams.first() {
            return Err(Error::RollbackRefused {
                version: target.reference().to_string(),
                reason: format!(
                    "stream `{stream}` committed rows to {dataset} after it, which it will not send again; roll back by ingesting a corrected version instead"
                ),
            });
        }
        let mut report = RollbackReport {
            dataset: dataset.clone(),
            status: RollbackStatus::Unchanged,
            to: target.reference().to_string(),
            from: latest.reference().to_string(),
            version: None,
            reference: None,
            digest: None,
            rows: target.rows,
            files: target.file_count,
            dropped_sources: dropped,
            drift,
            elapsed_ms: 0,
        };
        if target.id == latest.id || self.dry_run {
            if target.id != latest.id {
                report.status = RollbackStatus::DryRun;
            }
            report.elapsed_ms = started.elapsed().as_millis() as u64;
            return Ok(report);
        }
        let staged = lake.stage(&dataset, "rollback")?;
        let (target_id, read_id) = (target.id, latest.id);
        let input = Input {
            reference: target.reference().to_string(),
            manifest_sha256: target.digest.clone(),
        };
        let operation = Operation::Rollback {
            to: target.version.0,
            from: latest.version.0,
        };
        let changes = report
            .drift
            .iter()
            .map(|d| crate::catalog::SchemaChange {
                change: d.change.to_string(),
                column: d.column.clone(),
                old_type: d.old_type.clone(),
                new_type: d.new_type.clone(),
            })
            .collect();
        let committed = staged
            .commit(
                move |tx, now| {
                    // Only over the version this read: a version committed since would vanish
                    // from the latest without anyone having asked for that.
                    if now.is_none_or(|v| v.id != read_id) {
                        return Err(Error::CommitConflict {
                            dataset: dataset.to_string(),
                            version: now.map_or(Version(0), |v| v.version),
                        });
                    }
                    let schema = crate::sql::version_schema(
                        &tx.schema_json(tx.version_by_id(target_id)?.schema_id)?,
                    )?;
                    Ok(Some(Draft {
                        operation_name: "rollback",
                        operation,
                        mode: None,
                        inputs: vec![input],
                        schema,
                        files: tx.version_files(target_id)?,
                        sources: tx.version_sources(target_id)?,
                        keep_sources: false,
                        changes,
                    }))
                },
                |tx, row| {
                    tx.insert_lineage(row.id, &[target_id], &[])?;
                    let parts = tx.version_partitions(target_id)?;
                    tx.insert_partitions(row.id, &parts)
                },
            )
            .await?;
        let Some(c) = committed else {
            return Err(Error::Internal("rollback planned nothing to commit".into()));
        };
        report.status = RollbackStatus::Committed;
        report.version = Some(c.version.version);
        report.reference = Some(c.version.reference().to_string());
        report.digest = Some(c.version.digest.clone());
        report.rows = c.version.rows;
        report.files = c.version.file_count;
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}
