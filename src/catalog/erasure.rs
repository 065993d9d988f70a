//! The erasure ledger, and amending a committed version in place (`lake erase --all-versions`).
//!
//! An amended version keeps its number; its digest, rows, bytes and files change in the one
//! transaction that records the old digest here. The predicate is never stored, only its
//! salted sha256.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::versions::{VERSION_COLUMNS, file_row_at, version_row};
use super::{FileRow, Tx, VersionRow};
use crate::error::Result;
use crate::ident::DatasetRef;

/// A file some version of a dataset references, with where it is.
#[derive(Debug, Clone)]
pub struct HeldFile {
    /// The file's row id.
    pub id: i64,
    /// `hot` or `archive`.
    pub tier: String,
    /// The file.
    pub file: FileRow,
}

/// One version an erasure changed.
#[derive(Debug, Clone, Serialize)]
pub struct ErasedVersion {
    /// The version.
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    /// `amended` (the version kept its number) or `new` (a version made without the rows).
    pub kind: String,
    /// Its digest before.
    pub old_digest: String,
    /// Its digest after.
    pub new_digest: String,
    /// Rows it lost.
    pub rows_removed: u64,
    /// Its files rewritten.
    pub files_rewritten: u64,
}

/// One `lake erase`, as the ledger keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct ErasureEntry {
    /// The erasure's id.
    pub id: i64,
    /// When it ran.
    pub at: String,
    /// Who ran it.
    pub actor: String,
    /// sha256 of the salt and the canonical condition (the condition itself is never stored).
    pub predicate_sha256: String,
    /// Every retained version was amended.
    pub all_versions: bool,
    /// Rows removed in all.
    pub rows: u64,
    /// The versions it changed.
    pub versions: Vec<ErasedVersion>,
}

/// An amended manifest the catalog holds and storage does not yet.
#[derive(Debug, Clone)]
pub(crate) struct PendingManifest {
    pub erasure_id: i64,
    pub version: VersionRow,
    pub text: String,
}

impl Tx<'_> {
    /// Put the file at `path` in `tier` (a catalog rebuilt from storage finds tiers there).
    pub(crate) fn set_file_tier_by_path(&self, path: &str, tier: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE files SET tier = ?2 WHERE path = ?1",
                params![path, tier],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Every file an active or archived version of `dataset_id` references, once each.
    pub(crate) fn held_files(&self, dataset_id: i64) -> Result<Vec<HeldFile>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT f.id, f.tier, f.path, f.sha256, f.size, f.rows, f.row_groups,
                        f.blocks, f.partition
                 FROM versions v JOIN version_files vf ON vf.version_id = v.id
                 JOIN files f ON f.id = vf.file_id
                 WHERE v.dataset_id = ?1 AND v.state IN ('active', 'archived')
                   AND f.tier IN ('hot', 'archive')
                 ORDER BY f.path",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([dataset_id], |r| {
                Ok(HeldFile {
                    id: r.get(0)?,
                    tier: r.get(1)?,
                    file: file_row_at(r, 2)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Every version (in any state) that references file `file_id`.
    pub(crate) fn versions_with_file(&self, file_id: i64) -> Result<Vec<VersionRow>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN datasets d ON d.id = v.dataset_id
             JOIN version_files vf ON vf.version_id = v.id WHERE vf.file_id = ?1
             ORDER BY v.version"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt.query_map([file_id], version_row).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Give version `version_id` the files `files` (every one it references now) and the
    /// digest of its amended manifest. Partition row counts follow the files.
    pub(crate) fn amend_version(
        &self,
        version_id: i64,
        digest: &str,
        files: &[FileRow],
        created_at: &str,
    ) -> Result<()> {
        let rows: u64 = files.iter().map(|f| f.rows).sum();
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        self.conn
            .execute(
                "UPDATE versions SET digest = ?2, rows = ?3, bytes = ?4, file_count = ?5
                 WHERE id = ?1",
                params![
                    version_id,
                    digest,
                    rows as i64,
                    bytes as i64,
                    files.len() as i64
                ],
            )
            .map_err(self.err())?;
        self.conn
            .execute(
                "DELETE FROM version_files WHERE version_id = ?1",
                [version_id],
            )
            .map_err(self.err())?;
        self.link_files(version_id, files, created_at)?;
        let partitions = self.version_partitions(version_id)?;
        if !partitions.is_empty() {
            let mut counts: BTreeMap<String, u64> =
                partitions.into_iter().map(|(k, _)| (k, 0)).collect();
            for f in files {
                if let Some(p) = &f.partition {
                    *counts.entry(p.clone()).or_default() += f.rows;
                }
            }
            self.conn
                .execute(
                    "DELETE FROM version_partitions WHERE version_id = ?1",
                    [version_id],
                )
                .map_err(self.err())?;
            self.insert_partitions(version_id, &counts.into_iter().collect::<Vec<_>>())?;
        }
        Ok(())
    }

    /// Forget the failing rows a check kept as a sample of `version_id`: they may be rows an
    /// erasure removed.
    pub(crate) fn clear_check_samples(&self, version_id: i64) -> Result<u64> {
        let n = self
            .conn
            .execute(
                "UPDATE check_results SET sample = NULL WHERE version_id = ?1 AND sample IS NOT NULL",
                [version_id],
            )
            .map_err(self.err())?;
        Ok(n as u64)
    }

    pub(crate) fn insert_erasure(
        &self,
        at: &str,
        actor: &str,
        predicate_sha256: &str,
        all_versions: bool,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO erasures (at, actor, predicate_sha256, all_versions) VALUES (?1, ?2, ?3, ?4)",
                params![at, actor, predicate_sha256, all_versions],
            )
            .map_err(self.err())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Record one version an erasure changed; `pending` is its amended manifest until storage
    /// holds it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert_erased_version(
        &self,
        erasure_id: i64,
        version_id: i64,
        kind: &str,
        old_digest: &str,
        new_digest: &str,
        rows_removed: u64,
        files_rewritten: u64,
        pending: Option<&str>,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO erased_versions (erasure_id, version_id, kind, old_digest, new_digest,
                                              rows_removed, files_rewritten, pending_manifest)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (erasure_id, version_id) DO UPDATE SET
                     new_digest = excluded.new_digest,
                     rows_removed = erased_versions.rows_removed + excluded.rows_removed,
                     files_rewritten = erased_versions.files_rewritten + excluded.files_rewritten,
                     pending_manifest = excluded.pending_manifest",
                params![
                    erasure_id,
                    version_id,
                    kind,
                    old_digest,
                    new_digest,
                    rows_removed as i64,
                    files_rewritten as i64,
                    pending
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Count `rows` more rows as removed by erasure `erasure_id` (each row once, however many
    /// versions held it).
    pub(crate) fn add_erased_rows(&self, erasure_id: i64, rows: u64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE erasures SET rows = rows + ?2 WHERE id = ?1",
                params![erasure_id, rows as i64],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Amended manifests not yet written to storage (an erasure stopped between its commit and
    /// its writes).
    pub(crate) fn pending_manifests(&self) -> Result<Vec<PendingManifest>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT erasure_id, version_id, pending_manifest FROM erased_versions
                 WHERE pending_manifest IS NOT NULL ORDER BY erasure_id, version_id",
            )
            .map_err(self.err())?;
        let found: Vec<(i64, i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        let mut out = Vec::new();
        for (erasure_id, version_id, text) in found {
            let version = self.version_by_id(version_id)?;
            // A later erasure of the same version supersedes this one's manifest.
            let newer: Option<i64> = self
                .conn
                .query_row(
                    "SELECT erasure_id FROM erased_versions WHERE version_id = ?1 AND erasure_id > ?2 LIMIT 1",
                    params![version_id, erasure_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.err())?;
            if newer.is_none() {
                out.push(PendingManifest {
                    erasure_id,
                    version,
                    text,
                });
            }
        }
        Ok(out)
    }

    /// Storage holds the amended manifests of versions `version_ids` up to erasure `erasure_id`.
    pub(crate) fn manifests_written(&self, erasure_id: i64, version_ids: &[i64]) -> Result<()> {
        for id in version_ids {
            self.conn
                .execute(
                    "UPDATE erased_versions SET pending_manifest = NULL
                     WHERE version_id = ?1 AND erasure_id <= ?2",
                    params![id, erasure_id],
                )
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// The ledger, newest first; only erasures of one predicate digest, if given.
    pub(crate) fn erasure_log(&self, predicate_sha256: Option<&str>) -> Result<Vec<ErasureEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, at, actor, predicate_sha256, all_versions, rows FROM erasures
                 WHERE ?1 IS NULL OR predicate_sha256 = ?1 ORDER BY id DESC",
            )
            .map_err(self.err())?;
        let mut entries: Vec<ErasureEntry> = stmt
            .query_map([predicate_sha256], |r| {
                Ok(ErasureEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    predicate_sha256: r.get(3)?,
                    all_versions: r.get(4)?,
                    rows: r.get::<_, i64>(5)? as u64,
                    versions: Vec::new(),
                })
            })
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT version_id, kind, old_digest, new_digest, rows_removed, files_rewritten
                 FROM erased_versions WHERE erasure_id = ?1 ORDER BY version_id",
            )
            .map_err(self.err())?;
        for e in &mut entries {
            let rows: Vec<(i64, String, String, String, i64, i64)> = stmt
                .query_map([e.id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())?;
            for (version_id, kind, old_digest, new_digest, removed, files) in rows {
                e.versions.push(ErasedVersion {
                    reference: self.version_by_id(version_id)?.reference(),
                    kind,
                    old_digest,
                    new_digest,
                    rows_removed: removed as u64,
                    files_rewritten: files as u64,
                });
            }
        }
        Ok(entries)
    }

    /// The versions of a dataset that an erasure amended, oldest first.
    pub(crate) fn amended_versions(&self, dataset_id: i64) -> Result<Vec<VersionRow>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN datasets d ON d.id = v.dataset_id
             WHERE v.dataset_id = ?1 AND v.id IN (SELECT version_id FROM erased_versions
                                                  WHERE kind = 'amended')
             ORDER BY v.version"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map([dataset_id], version_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Every dataset a version of `dataset_id` was ever an input of, directly or through
    /// others (not the dataset itself), in the order found.
    pub(crate) fn ever_downstream(&self, dataset_id: i64) -> Result<Vec<(i64, DatasetRef)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT o.dataset_id FROM lineage_edges e
                 JOIN versions i ON i.id = e.input_version_id
                 JOIN versions o ON o.id = e.output_version_id
                 WHERE i.dataset_id = ?1 AND o.dataset_id != ?1 ORDER BY o.dataset_id",
            )
            .map_err(self.err())?;
        let names: BTreeMap<i64, DatasetRef> = self.dataset_ids()?.into_iter().collect();
        let mut seen = vec![dataset_id];
        let mut out = Vec::new();
        let mut queue = vec![dataset_id];
        while let Some(id) = queue.pop() {
            let next: Vec<i64> = stmt
                .query_map([id], |r| r.get(0))
                .map_err(self.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.err())?;
            for n in next {
                if !seen.contains(&n) {
                    seen.push(n);
                    queue.push(n);
                    if let Some(name) = names.get(&n) {
                        out.push((n, name.clone()));
                    }
                }
            }
        }
        Ok(out)
    }
}
