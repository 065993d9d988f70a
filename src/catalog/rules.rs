//! Lifecycle rules, tags, and the catalog side of archiving, restoring and expiring versions.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Tx, VersionRow};
use crate::error::{Error, Result};
use crate::ident::{DatasetRef, Zone};

/// A lifecycle rule in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Its id (`lake rule rm ID`).
    pub id: i64,
    /// The zone it applies to; none: every zone.
    pub zone: Option<Zone>,
    /// A glob of dataset names (`orders*`).
    pub dataset_glob: String,
    /// Archive versions older than this many seconds.
    pub archive_after_s: Option<u64>,
    /// Keep this many newest versions hot whatever their age.
    pub keep_last: u64,
    /// Expire archived versions older than this many seconds.
    pub expire_after_s: Option<u64>,
    /// Keep hot the input versions of live downstream versions.
    pub keep_inputs: bool,
    /// `cli` (`lake rule add`) or `config` (lake.toml's `[[rules]]`).
    pub origin: String,
    /// When it was added.
    pub created_at: String,
}

/// A rule to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    /// The zone it applies to; none: every zone.
    pub zone: Option<Zone>,
    /// A glob of dataset names (`orders*`).
    pub dataset_glob: String,
    /// Archive versions older than this many seconds.
    pub archive_after_s: Option<u64>,
    /// Keep this many newest versions hot whatever their age.
    pub keep_last: u64,
    /// Expire archived versions older than this many seconds.
    pub expire_after_s: Option<u64>,
    /// Keep hot the input versions of live downstream versions.
    pub keep_inputs: bool,
    /// `cli` or `config`.
    pub origin: &'static str,
}

/// When a version was archived and expired, and by which rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    /// When it was archived.
    pub archived_at: Option<String>,
    /// The rule that archived it.
    pub archive_rule: Option<i64>,
    /// When it expired.
    pub expired_at: Option<String>,
    /// The rule that expired it.
    pub expire_rule: Option<i64>,
}

/// A data file with where it lives now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TieredFile {
    /// The file's row id.
    #[serde(skip)]
    pub id: i64,
    /// Its key under its tier's root.
    pub path: String,
    /// `hot` or `archive`.
    pub tier: String,
    /// Its sha256.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Tx<'_> {
    pub(crate) fn add_rule(&self, rule: &NewRule, at: &str, actor: &str) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO rules (zone, dataset_glob, archive_after_s, keep_last, expire_after_s,
                                    keep_inputs, origin, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    rule.zone.map(|z| z.as_str()),
                    rule.dataset_glob,
                    rule.archive_after_s.map(|s| s as i64),
                    rule.keep_last as i64,
                    rule.expire_after_s.map(|s| s as i64),
                    rule.keep_inputs,
                    rule.origin,
                    at,
                    actor
                ],
            )
            .map_err(self.err())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The rules in force, oldest first.
    pub(crate) fn rules(&self) -> Result<Vec<Rule>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, zone, dataset_glob, archive_after_s, keep_last, expire_after_s, keep_inputs,
                        origin, created_at
                 FROM rules WHERE removed_at IS NULL ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                let zone: Option<String> = r.get(1)?;
                Ok(Rule {
                    id: r.get(0)?,
                    zone: zone.and_then(|z| z.parse().ok()),
                    dataset_glob: r.get(2)?,
                    archive_after_s: r.get::<_, Option<i64>>(3)?.map(|s| s as u64),
                    keep_last: r.get::<_, i64>(4)? as u64,
                    expire_after_s: r.get::<_, Option<i64>>(5)?.map(|s| s as u64),
                    keep_inputs: r.get(6)?,
                    origin: r.get(7)?,
                    created_at: r.get(8)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Retire a rule; versions it moved keep naming it. False if there was no such rule.
    pub(crate) fn remove_rule(&self, id: i64, at: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE rules SET removed_at = ?2 WHERE id = ?1 AND removed_at IS NULL",
                params![id, at],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Point `name` at a version, moving it if it exists. Returns the version it pointed at before.
    pub(crate) fn set_tag(
        &self,
        version: &VersionRow,
        name: &str,
        at: &str,
        actor: &str,
    ) -> Result<Option<i64>> {
        let before: Option<i64> = self
            .conn
            .query_row(
                "SELECT version_id FROM tags WHERE dataset_id = ?1 AND name = ?2",
                params![version.dataset_id, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        self.conn
            .execute(
                "INSERT INTO tags (dataset_id, name, version_id, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (dataset_id, name) DO UPDATE SET version_id = ?3, created_at = ?4, created_by = ?5",
                params![version.dataset_id, name, version.id, at, actor],
            )
            .map_err(self.err())?;
        Ok(before)
    }

    /// Remove a tag; false if the dataset had no such tag.
    pub(crate) fn remove_tag(&self, dataset_id: i64, name: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "DELETE FROM tags WHERE dataset_id = ?1 AND name = ?2",
                params![dataset_id, name],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Every dataset id with its ref, for rules to match.
    pub(crate) fn dataset_ids(&self) -> Result<Vec<(i64, DatasetRef)>> {
        self.list_datasets(None)?
            .into_iter()
            .map(|d| Ok((self.dataset(&d.dataset)?.id, d.dataset)))
            .collect()
    }

    /// Is this version an input of an active silver or gold version?
    pub(crate) fn feeds_a_live_version(&self, version_id: i64) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM lineage_edges e JOIN versions v ON v.id = e.output_version_id
                                WHERE e.input_version_id = ?1 AND v.state = 'active')",
                [version_id],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// A version's files with their tiers.
    pub(crate) fn tiered_files(&self, version_id: i64) -> Result<Vec<TieredFile>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT f.id, f.path, f.tier, f.sha256, f.size FROM version_files vf
                 JOIN files f ON f.id = vf.file_id WHERE vf.version_id = ?1 ORDER BY f.path",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([version_id], tiered_file)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Files in a tier, every one.
    pub(crate) fn files_in_tier(&self, tier: &str) -> Result<Vec<TieredFile>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, path, tier, sha256, size FROM files WHERE tier = ?1 ORDER BY path",
            )
            .map_err(self.err())?;
        let rows = stmt.query_map([tier], tiered_file).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Does a version other than `except` (in `states`) reference this file?
    pub(crate) fn file_needed_by(
        &self,
        file_id: i64,
        states: &[&str],
        except: &[i64],
    ) -> Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT v.id, v.state FROM version_files vf JOIN versions v ON v.id = vf.version_id
                 WHERE vf.file_id = ?1",
            )
            .map_err(self.err())?;
        let users: Vec<(i64, String)> = stmt
            .query_map([file_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        Ok(users
            .iter()
            .any(|(id, state)| !except.contains(id) && states.contains(&state.as_str())))
    }

    pub(crate) fn set_file_tier(&self, file_id: i64, tier: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE files SET tier = ?2 WHERE id = ?1",
                params![file_id, tier],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Move a version to `state`, saying when and by which rule.
    pub(crate) fn set_version_state(
        &self,
        version_id: i64,
        state: &str,
        at: &str,
        rule: Option<i64>,
    ) -> Result<()> {
        let sql = match state {
            "archived" => {
                "UPDATE versions SET state = 'archived', state_changed_at = ?2, archived_at = ?2, archive_rule_id = ?3 WHERE id = ?1"
            }
            "expired" => {
                "UPDATE versions SET state = 'expired', state_changed_at = ?2, expired_at = ?2, expire_rule_id = ?3 WHERE id = ?1"
            }
            "active" => {
                "UPDATE versions SET state = 'active', state_changed_at = ?2, archived_at = NULL, archive_rule_id = ?3 WHERE id = ?1"
            }
            other => return Err(Error::Internal(format!("no version state `{other}`"))),
        };
        self.conn
            .execute(sql, params![version_id, at, rule])
            .map_err(self.err())?;
        Ok(())
    }

    /// When a version was archived or expired, and by which rule.
    pub(crate) fn version_lifecycle(&self, version_id: i64) -> Result<Lifecycle> {
        self.conn
            .query_row(
                "SELECT archived_at, archive_rule_id, expired_at, expire_rule_id FROM versions WHERE id = ?1",
                [version_id],
                |r| {
                    Ok(Lifecycle {
                        archived_at: r.get(0)?,
                        archive_rule: r.get(1)?,
                        expired_at: r.get(2)?,
                        expire_rule: r.get(3)?,
                    })
                },
            )
            .map_err(self.err())
    }

    /// Every object key the catalog knows: data files (by tier) and manifests.
    pub(crate) fn known_keys(&self) -> Result<(Vec<TieredFile>, Vec<String>)> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, path, tier, sha256, size FROM files ORDER BY path")
            .map_err(self.err())?;
        let files: Vec<TieredFile> = stmt
            .query_map([], tiered_file)
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT manifest_key FROM versions ORDER BY manifest_key")
            .map_err(self.err())?;
        let manifests: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        Ok((files, manifests))
    }

    /// Every version of every dataset (for `du` and `check`), by dataset then version.
    pub(crate) fn all_versions(&self) -> Result<Vec<VersionRow>> {
        let mut out = Vec::new();
        for (id, _) in self.dataset_ids()? {
            let mut v = self.versions(id)?;
            v.reverse();
            out.extend(v);
        }
        Ok(out)
    }
}

fn tiered_file(r: &rusqlite::Row<'_>) -> rusqlite::Result<TieredFile> {
    Ok(TieredFile {
        id: r.get(0)?,
        path: r.get(1)?,
        tier: r.get(2)?,
        sha256: r.get(3)?,
        size: r.get::<_, i64>(4)? as u64,
    })
}
