//! Versions: immutable snapshots of a dataset, with the files and sources behind them.
//!
//! [`Tx::insert_version`] is the visible half of a commit: it runs inside the writer's
//! `BEGIN IMMEDIATE` transaction, after every data object and the manifest are in storage.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::Tx;
use crate::clock;
use crate::error::{Error, Result};
use crate::format::manifest::Blocks;
use crate::ident::{DatasetRef, Selector, Version};

/// Where a version's files are, and so whether it can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionState {
    /// In the hot tier: readable.
    Active,
    /// In the archive tier: `lake restore` brings it back.
    Archived,
    /// Its files are deleted; the catalog keeps its record.
    Expired,
}

impl VersionState {
    /// `active`, `archived` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Active => "active",
            VersionState::Archived => "archived",
            VersionState::Expired => "expired",
        }
    }

    fn parse(s: &str) -> VersionState {
        match s {
            "archived" => VersionState::Archived,
            "expired" => VersionState::Expired,
            _ => VersionState::Active,
        }
    }
}

/// A version as the catalog records it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    /// Its row id.
    #[serde(skip)]
    pub id: i64,
    /// Its dataset's row id.
    #[serde(skip)]
    pub dataset_id: i64,
    /// The dataset.
    pub dataset: DatasetRef,
    /// Its number.
    pub version: Version,
    /// Where its files are.
    pub state: VersionState,
    /// The sha256 of its manifest.
    pub digest: String,
    /// Its manifest's key under the root.
    pub manifest_key: String,
    /// Its schema's row id.
    #[serde(skip)]
    pub schema_id: i64,
    /// What made it: `ingest`, `promote`, `compact`, `rollback`, `erase`, `adopt`.
    pub operation: String,
    /// `append` or `overwrite`, for writes that take one.
    pub mode: Option<String>,
    /// Its rows.
    pub rows: u64,
    /// Bytes of its files.
    pub bytes: u64,
    /// How many files it has.
    pub file_count: u64,
    /// When it committed.
    pub created_at: String,
    /// Who committed it.
    pub created_by: String,
}

/// A file row whose columns (path, sha256, size, rows, row_groups, blocks, partition) start at
/// column `at`.
pub(super) fn file_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<FileRow> {
    let groups: String = r.get(at + 4)?;
    Ok(FileRow {
        path: r.get(at)?,
        sha256: r.get(at + 1)?,
        size: r.get::<_, i64>(at + 2)? as u64,
        rows: r.get::<_, i64>(at + 3)? as u64,
        row_groups: serde_json::from_str(&groups).unwrap_or_default(),
        blocks: r
            .get::<_, Option<String>>(at + 5)?
            .and_then(|b| serde_json::from_str(&b).ok()),
        partition: r.get(at + 6)?,
    })
}

impl FileRow {
    /// The file as a manifest lists it.
    pub fn manifest_file(&self) -> crate::format::manifest::ManifestFile {
        crate::format::manifest::ManifestFile {
            path: self.path.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
            rows: self.rows,
            row_groups: self.row_groups.clone(),
            blocks: self.blocks.clone(),
            partition: self.partition.clone(),
        }
    }

    /// A file as a manifest lists it.
    pub fn from_manifest(m: &crate::format::manifest::ManifestFile) -> FileRow {
        FileRow {
            path: m.path.clone(),
            sha256: m.sha256.clone(),
            size: m.size,
            rows: m.rows,
            row_groups: m.row_groups.clone(),
            blocks: m.blocks.clone(),
            partition: m.partition.clone(),
        }
    }
}

impl VersionRow {
    /// `zone.name@vN`
    pub fn reference(&self) -> DatasetRef {
        self.dataset.at(self.version)
    }
}

/// A data file as the catalog and the manifest know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRow {
    /// Relative to the root.
    pub path: String,
    /// Its sha256.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its rows.
    pub rows: u64,
    /// Rows of each of its row groups.
    pub row_groups: Vec<u64>,
    /// Per-block sha256, where the file was written with them (in the manifest, not in reports).
    #[serde(skip_serializing)]
    pub blocks: Option<Blocks>,
    /// The partition the file holds, for a partitioned dataset (`2026-01-05`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// An ingested source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRow {
    /// The source's URI.
    pub uri: String,
    /// Its sha256 as read.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// How it was read.
    pub format: String,
    /// Rows read from it.
    pub rows: u64,
    /// Ingested by this version's own operation (not carried over by an append).
    pub added: bool,
}

/// One column's drift against the previous version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaChange {
    /// `added`, `removed` or `retyped`.
    pub change: String,
    /// The column.
    pub column: String,
    /// Its type before.
    pub old_type: Option<String>,
    /// Its type now.
    pub new_type: Option<String>,
}

/// Everything a commit writes to the catalog.
#[derive(Debug, Clone)]
pub(crate) struct NewVersion {
    pub dataset: DatasetRef,
    pub version: Version,
    pub digest: String,
    pub manifest_key: String,
    pub schema_json: String,
    pub columns: Vec<super::ColumnRow>,
    pub operation: String,
    pub mode: Option<String>,
    pub created_at: String,
    pub created_by: String,
    /// Every file the version references, in path order.
    pub files: Vec<FileRow>,
    pub sources: Vec<SourceRow>,
    /// Keep every source the dataset's latest version holds, besides `sources`.
    pub keep_sources: bool,
    pub changes: Vec<SchemaChange>,
}

pub(super) const VERSION_COLUMNS: &str =
    "v.id, v.dataset_id, d.zone, d.name, v.version, v.state, v.digest,
    v.manifest_key, v.schema_id, v.operation, v.mode, v.rows, v.bytes, v.file_count,
    v.created_at, v.created_by";

pub(super) fn version_row(r: &Row<'_>) -> rusqlite::Result<VersionRow> {
    version_row_at(r, 0)
}

/// A version row whose columns start at column `at`.
pub(super) fn version_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<VersionRow> {
    let zone: String = r.get(at + 2)?;
    let dataset = DatasetRef {
        zone: zone
            .parse()
            .map_err(|e: Error| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
        name: r.get(at + 3)?,
        selector: None,
    };
    Ok(VersionRow {
        id: r.get(at)?,
        dataset_id: r.get(at + 1)?,
        dataset,
        version: Version(r.get::<_, i64>(at + 4)? as u64),
        state: VersionState::parse(&r.get::<_, String>(at + 5)?),
        digest: r.get(at + 6)?,
        manifest_key: r.get(at + 7)?,
        schema_id: r.get(at + 8)?,
        operation: r.get(at + 9)?,
        mode: r.get(at + 10)?,
        rows: r.get::<_, i64>(at + 11)? as u64,
        bytes: r.get::<_, i64>(at + 12)? as u64,
        file_count: r.get::<_, i64>(at + 13)? as u64,
        created_at: r.get(at + 14)?,
        created_by: r.get(at + 15)?,
    })
}

impl Tx<'_> {
    pub(super) fn query_version(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
    ) -> Result<Option<VersionRow>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN datasets d ON d.id = v.dataset_id {filter}"
        );
        self.conn
            .query_row(&sql, params, version_row)
            .optional()
            .map_err(self.err())
    }

    /// The newest version of a dataset, if it has any.
    pub(crate) fn latest_version(&self, dataset_id: i64) -> Result<Option<VersionRow>> {
        self.query_version(
            "WHERE v.dataset_id = ?1 ORDER BY v.version DESC LIMIT 1",
            [dataset_id],
        )
    }

    /// Every version of a dataset, newest first.
    pub(crate) fn versions(&self, dataset_id: i64) -> Result<Vec<VersionRow>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN datasets d ON d.id = v.dataset_id
             WHERE v.dataset_id = ?1 ORDER BY v.version DESC"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map([dataset_id], version_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// A dataset's versions from number `from` on, oldest first.
    pub(crate) fn versions_from(&self, dataset_id: i64, from: u64) -> Result<Vec<VersionRow>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM versions v JOIN datasets d ON d.id = v.dataset_id
             WHERE v.dataset_id = ?1 AND v.version >= ?2 ORDER BY v.version"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params![dataset_id, from as i64], version_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The version a ref names; no selector means the latest.
    pub(crate) fn resolve(&self, r: &DatasetRef) -> Result<VersionRow> {
        let dataset = self.dataset(r)?;
        let id = dataset.id;
        let selector = r.selector.clone().unwrap_or(Selector::Latest { back: 0 });
        let found = match &selector {
            Selector::Version(v) => self.query_version(
                "WHERE v.dataset_id = ?1 AND v.version = ?2",
                params![id, v.0 as i64],
            )?,
            // A K past the number of versions finds none; one past i64 would wrap to a negative
            // OFFSET, which SQLite takes as none at all (the latest).
            Selector::Latest { back } => match i64::try_from(*back) {
                Ok(back) => self.query_version(
                    "WHERE v.dataset_id = ?1 ORDER BY v.version DESC LIMIT 1 OFFSET ?2",
                    params![id, back],
                )?,
                Err(_) => None,
            },
            Selector::AsOf(t) => self.query_version(
                "WHERE v.dataset_id = ?1 AND v.created_at <= ?2 ORDER BY v.version DESC LIMIT 1",
                params![id, clock::timestamp(*t)],
            )?,
            Selector::Digest(prefix) => {
                let sql = format!(
                    "SELECT {VERSION_COLUMNS} FROM versions v JOIN datasets d ON d.id = v.dataset_id
                     WHERE v.dataset_id = ?1 AND substr(v.digest, 1, length(?2)) = ?2 LIMIT 2"
                );
                let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
                let mut found: Vec<VersionRow> = stmt
                    .query_map(params![id, prefix], version_row)
                    .map_err(self.err())?
                    .collect::<rusqlite::Result<_>>()
                    .map_err(self.err())?;
                if found.len() > 1 {
                    return Err(Error::InvalidRef {
                        input: r.to_string(),
                        reason: "the digest prefix matches more than one version; give more digits"
                            .into(),
                    });
                }
                found.pop()
            }
            Selector::Tag(tag) => self.query_version(
                "JOIN tags t ON t.version_id = v.id WHERE v.dataset_id = ?1 AND t.name = ?2",
                params![id, tag],
            )?,
        };
        found.ok_or_else(|| Error::VersionNotFound {
            dataset: r.dataset_name(),
            selector: selector.to_string(),
        })
    }

    /// The files a version references, in path order.
    pub(crate) fn version_files(&self, version_id: i64) -> Result<Vec<FileRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT f.path, f.sha256, f.size, f.rows, f.row_groups, f.blocks, f.partition
                 FROM version_files vf JOIN files f ON f.id = vf.file_id
                 WHERE vf.version_id = ?1 ORDER BY f.path",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([version_id], |r| file_row_at(r, 0))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The sources whose rows a version holds, oldest first.
    /// How many files of a version are smaller than `below` bytes.
    pub(crate) fn small_files(&self, version_id: i64, below: u64) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT count(*) FROM version_files vf JOIN files f ON f.id = vf.file_id
                 WHERE vf.version_id = ?1 AND f.size < ?2",
                params![version_id, below as i64],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// The sources a version holds (see `catalog/0011_source_spans.sql`), `added` for those its
    /// own operation ingested.
    pub(crate) fn version_sources(&self, version_id: i64) -> Result<Vec<SourceRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT s.uri, s.sha256, s.size, s.format, s.rows, sp.added_in = v.version
                 FROM versions v
                 JOIN source_spans sp ON sp.dataset_id = v.dataset_id
                      AND sp.added_in <= v.version
                      AND (sp.removed_in IS NULL OR sp.removed_in > v.version)
                 JOIN sources s ON s.id = sp.source_id
                 WHERE v.id = ?1 ORDER BY s.id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([version_id], |r| {
                Ok(SourceRow {
                    uri: r.get(0)?,
                    sha256: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    format: r.get(3)?,
                    rows: r.get::<_, i64>(4)? as u64,
                    added: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Make the dataset's open source spans what version `version_id` holds: sources it added
    /// get a span of their own from this version (a re-ingest starts anew); the rest stay open
    /// with `keep_sources`, and are closed here without. A batch costs what it adds.
    fn hold_sources(&self, v: &NewVersion, version_id: i64) -> Result<()> {
        let (dataset_id, version): (i64, i64) = self
            .conn
            .query_row(
                "SELECT dataset_id, version FROM versions WHERE id = ?1",
                [version_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?;
        if !v.keep_sources {
            self.conn
                .execute(
                    "UPDATE source_spans SET removed_in = ?2
                     WHERE dataset_id = ?1 AND removed_in IS NULL",
                    params![dataset_id, version],
                )
                .map_err(self.err())?;
        }
        let mut held = std::collections::HashSet::new();
        for s in &v.sources {
            self.conn
                .execute(
                    "INSERT INTO sources (uri, sha256, size, format, rows, first_seen_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (uri, sha256) DO NOTHING",
                    params![
                        s.uri,
                        s.sha256,
                        s.size as i64,
                        s.format,
                        s.rows as i64,
                        v.created_at
                    ],
                )
                .map_err(self.err())?;
            let source_id: i64 = self
                .conn
                .query_row(
                    "SELECT id FROM sources WHERE uri = ?1 AND sha256 = ?2",
                    params![s.uri, s.sha256],
                    |r| r.get(0),
                )
                .map_err(self.err())?;
            if !held.insert(source_id) {
                continue;
            }
            // A source ingested again starts a span anew.
            self.conn
                .execute(
                    "UPDATE source_spans SET removed_in = ?3
                     WHERE dataset_id = ?1 AND source_id = ?2 AND removed_in IS NULL",
                    params![dataset_id, source_id, version],
                )
                .map_err(self.err())?;
            self.conn
                .execute(
                    "INSERT INTO source_spans (dataset_id, source_id, added_in) VALUES (?1, ?2, ?3)",
                    params![dataset_id, source_id, version],
                )
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// The drift a version recorded against the one before it.
    pub(crate) fn schema_changes(&self, version_id: i64) -> Result<Vec<SchemaChange>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT change, column_name, old_type, new_type FROM schema_changes
                 WHERE version_id = ?1 ORDER BY rowid",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([version_id], |r| {
                Ok(SchemaChange {
                    change: r.get(0)?,
                    column: r.get(1)?,
                    old_type: r.get(2)?,
                    new_type: r.get(3)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The tags pointing at a version.
    pub(crate) fn version_tags(&self, version_id: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM tags WHERE version_id = ?1 ORDER BY name")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([version_id], |r| r.get(0))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Every tag with the version it names, of one dataset or all, by dataset then tag.
    pub(crate) fn list_tags(
        &self,
        dataset: Option<&DatasetRef>,
    ) -> Result<Vec<(String, VersionRow)>> {
        let sql = format!(
            "SELECT t.name, {VERSION_COLUMNS} FROM tags t JOIN versions v ON v.id = t.version_id
             JOIN datasets d ON d.id = v.dataset_id
             WHERE (?1 IS NULL OR (d.zone = ?1 AND d.name = ?2)) ORDER BY d.zone, d.name, t.name"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let zone = dataset.map(|d| d.zone.to_string());
        let name = dataset.map(|d| d.name.clone());
        let rows = stmt
            .query_map(params![zone, name], |r| {
                let tag: String = r.get(0)?;
                let v = version_row_at(r, 1)?;
                Ok((tag, v))
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The schema ids a version's files were written under (the schema of the first version
    /// that held each file), other than the version's own, with how many files each.
    pub(crate) fn older_file_schemas(&self, version: &VersionRow) -> Result<Vec<(i64, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT origin, count(*) FROM (
                   SELECT (SELECT v2.schema_id FROM version_files vf2
                           JOIN versions v2 ON v2.id = vf2.version_id
                           WHERE vf2.file_id = vf.file_id ORDER BY v2.version LIMIT 1) AS origin
                   FROM version_files vf WHERE vf.version_id = ?1)
                 WHERE origin != ?2 GROUP BY origin",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![version.id, version.schema_id], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Streams that committed rows to `dataset` in a version after `version`.
    pub(crate) fn streams_past(
        &self,
        dataset: &DatasetRef,
        version: Version,
    ) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT s.name FROM streams s
                 JOIN versions v ON v.dataset_id = (SELECT id FROM datasets WHERE zone = ?1 AND name = ?2)
                 WHERE s.dataset = ?3 AND v.version > ?4
                   AND (v.id = s.last_version_id
                        OR v.id IN (SELECT version_id FROM stream_files WHERE stream = s.name))
                 ORDER BY s.name",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(
                params![
                    dataset.zone.to_string(),
                    dataset.name,
                    dataset.dataset_name(),
                    version.0 as i64
                ],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Appends (ingests, adopts and stream batches that kept the files before them) committed
    /// to a dataset since its last compaction.
    pub(crate) fn appends_since_compaction(&self, dataset_id: i64) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT count(*) FROM versions WHERE dataset_id = ?1 AND mode = 'append'
                   AND version > coalesce((SELECT max(version) FROM versions
                                           WHERE dataset_id = ?1 AND operation = 'compact'), 0)",
                [dataset_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// The run whose output a version is, if a job made it.
    pub(crate) fn run_of_version(&self, version_id: i64) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT id FROM runs WHERE output_version_id = ?1 ORDER BY id LIMIT 1",
                [version_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Make a version visible. Fails with [`Error::CommitConflict`] if its number is taken.
    /// Make `files` part of version `version_id`, recording each file not yet known.
    pub(super) fn link_files(
        &self,
        version_id: i64,
        files: &[FileRow],
        created_at: &str,
    ) -> Result<()> {
        for f in files {
            self.conn
                .execute(
                    "INSERT INTO files (path, sha256, size, rows, row_groups, created_at, blocks,
                                        partition)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (path) DO NOTHING",
                    params![
                        f.path,
                        f.sha256,
                        f.size as i64,
                        f.rows as i64,
                        serde_json::to_string(&f.row_groups).expect("numbers serialize"),
                        created_at,
                        f.blocks
                            .as_ref()
                            .map(|b| serde_json::to_string(b).expect("hashes serialize")),
                        f.partition,
                    ],
                )
                .map_err(self.err())?;
            self.conn
                .execute(
                    "INSERT INTO version_files (version_id, file_id)
                     SELECT ?1, id FROM files WHERE path = ?2",
                    params![version_id, f.path],
                )
                .map_err(self.err())?;
        }
        Ok(())
    }

    pub(crate) fn insert_version(&self, v: &NewVersion) -> Result<VersionRow> {
        let dataset_id = self.ensure_dataset(&v.dataset, &v.created_at)?;
        let schema_id = self.intern_schema(&v.schema_json, &v.columns)?;
        let rows: u64 = v.files.iter().map(|f| f.rows).sum();
        let bytes: u64 = v.files.iter().map(|f| f.size).sum();
        let inserted = self.conn.execute(
            "INSERT INTO versions (dataset_id, version, digest, manifest_key, schema_id, operation,
                                   mode, rows, bytes, file_count, created_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                dataset_id,
                v.version.0 as i64,
                v.digest,
                v.manifest_key,
                schema_id,
                v.operation,
                v.mode,
                rows as i64,
                bytes as i64,
                v.files.len() as i64,
                v.created_at,
                v.created_by
            ],
        );
        match inserted {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(Error::CommitConflict {
                    dataset: v.dataset.dataset_name(),
                    version: v.version,
                });
            }
            other => {
                other.map_err(self.err())?;
            }
        }
        let version_id = self.conn.last_insert_rowid();
        self.link_files(version_id, &v.files, &v.created_at)?;
        self.hold_sources(v, version_id)?;
        for c in &v.changes {
            self.conn
                .execute(
                    "INSERT INTO schema_changes (version_id, change, column_name, old_type, new_type)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![version_id, c.change, c.column, c.old_type, c.new_type],
                )
                .map_err(self.err())?;
        }
        self.query_version("WHERE v.id = ?1", [version_id])?
            .ok_or_else(|| Error::Internal("a version vanished inside its own transaction".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Catalog, ColumnRow};
    use super::*;

    fn new_version(dataset: &str, version: u64, at: &str) -> NewVersion {
        NewVersion {
            keep_sources: false,
            dataset: dataset.parse().unwrap(),
            version: Version(version),
            digest: format!("{version:x}{}", "0".repeat(63)),
            manifest_key: format!("m/{version}"),
            schema_json: "{}".into(),
            columns: vec![ColumnRow {
                name: "id".into(),
                data_type: "int64".into(),
                nullable: true,
            }],
            operation: "ingest".into(),
            mode: Some("append".into()),
            created_at: at.into(),
            created_by: "test".into(),
            files: vec![FileRow {
                path: format!("bronze/x/data/{version}.parquet"),
                sha256: "00".into(),
                size: 10,
                rows: 2,
                row_groups: vec![2],
                blocks: None,
                partition: None,
            }],
            sources: vec![],
            changes: vec![],
        }
    }

    #[test]
    fn a_taken_version_number_is_a_commit_conflict() {
        let mut catalog = Catalog::open_in_memory().unwrap();
        let v = new_version("bronze.x", 1, "2026-01-01T00:00:00.000000Z");
        catalog.write(|tx| tx.insert_version(&v)).unwrap();
        let err = catalog.write(|tx| tx.insert_version(&v)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::CommitConflict {
                    version: Version(1),
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn resolves_every_kind_of_selector() {
        let mut catalog = Catalog::open_in_memory().unwrap();
        for (n, at) in [
            (1, "2026-01-01T00:00:00.000000Z"),
            (2, "2026-02-01T00:00:00.000000Z"),
            (3, "2026-03-01T00:00:00.000000Z"),
        ] {
            let v = new_version("bronze.x", n, at);
            catalog.write(|tx| tx.insert_version(&v)).unwrap();
        }
        let tx = catalog.reader();
        let at = |s: &str| tx.resolve(&s.parse().unwrap()).map(|v| v.version.0);
        assert_eq!(at("bronze.x").unwrap(), 3);
        assert_eq!(at("bronze.x@v2").unwrap(), 2);
        assert_eq!(at("bronze.x@latest~2").unwrap(), 1);
        assert_eq!(at("bronze.x@2026-02-15T00:00:00Z").unwrap(), 2);
        assert_eq!(at("bronze.x@sha256:2000").unwrap(), 2);
        assert!(matches!(
            at("bronze.x@sha256:0000"),
            Err(Error::VersionNotFound { .. })
        ));
        assert!(matches!(
            at("bronze.x@latest~3"),
            Err(Error::VersionNotFound { .. })
        ));
        assert!(matches!(
            at("bronze.x@latest~9223372036854775807"),
            Err(Error::VersionNotFound { .. })
        ));
        assert!(
            "bronze.x@latest~18446744073709551615"
                .parse::<DatasetRef>()
                .is_err()
        );
        assert!(matches!(
            at("bronze.x@2025-01-01"),
            Err(Error::VersionNotFound { .. })
        ));
        assert!(matches!(
            at("bronze.x@v9"),
            Err(Error::VersionNotFound { .. })
        ));
        assert!(matches!(at("bronze.y"), Err(Error::DatasetNotFound { .. })));
    }
}
