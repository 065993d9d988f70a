//! Lineage: which versions a version was computed from, and which columns from which.

use rusqlite::params;
use serde::Serialize;

use super::{Tx, VersionRow};
use crate::error::{Error, Result};
use crate::ident::DatasetRef;

/// An output column computed from an input column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnEdge {
    /// The output's column.
    pub output_column: String,
    /// The input dataset.
    pub input: DatasetRef,
    /// The input's column.
    pub input_column: String,
}

impl Tx<'_> {
    /// Record that `output` was computed from `inputs`, column by column where known.
    pub(crate) fn insert_lineage(
        &self,
        output: i64,
        inputs: &[i64],
        columns: &[(String, i64, String)],
    ) -> Result<()> {
        for input in inputs {
            self.conn
                .execute(
                    "INSERT OR IGNORE INTO lineage_edges (output_version_id, input_version_id) VALUES (?1, ?2)",
                    params![output, input],
                )
                .map_err(self.err())?;
        }
        for (out_col, input, in_col) in columns {
            self.conn
                .execute(
                    "INSERT OR IGNORE INTO column_lineage
                     (output_version_id, output_column, input_version_id, input_column)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![output, out_col, input, in_col],
                )
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// A version by its catalog id.
    pub(crate) fn version_by_id(&self, id: i64) -> Result<VersionRow> {
        self.query_version("WHERE v.id = ?1", [id])?
            .ok_or_else(|| Error::Internal(format!("version id {id} is referenced but missing")))
    }

    fn linked(&self, sql: &str, id: i64) -> Result<Vec<VersionRow>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(self.err())?;
        let ids: Vec<i64> = stmt
            .query_map([id], |r| r.get(0))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        ids.into_iter().map(|i| self.version_by_id(i)).collect()
    }

    /// The versions `version_id` was computed from.
    pub(crate) fn upstream(&self, version_id: i64) -> Result<Vec<VersionRow>> {
        self.linked(
            "SELECT input_version_id FROM lineage_edges WHERE output_version_id = ?1 ORDER BY input_version_id",
            version_id,
        )
    }

    /// The versions computed from `version_id`.
    pub(crate) fn downstream(&self, version_id: i64) -> Result<Vec<VersionRow>> {
        self.linked(
            "SELECT output_version_id FROM lineage_edges WHERE input_version_id = ?1 ORDER BY output_version_id",
            version_id,
        )
    }

    /// The lake's dataset graph now: `(input, output)` for every dataset the latest version of
    /// `output` was computed from. A version computed from its own dataset (a compaction, a
    /// rollback) passes on the inputs of the version it came from.
    pub(crate) fn dataset_edges(&self) -> Result<Vec<(DatasetRef, DatasetRef)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT v.id FROM versions v
                 WHERE v.version = (SELECT max(version) FROM versions w WHERE w.dataset_id = v.dataset_id)",
            )
            .map_err(self.err())?;
        let latest: Vec<i64> = stmt
            .query_map([], |r| r.get(0))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        let mut edges = std::collections::BTreeSet::new();
        for id in latest {
            let out = self.version_by_id(id)?;
            let dataset = out.dataset.dataset();
            let mut todo = vec![out.id];
            let mut seen = std::collections::BTreeSet::new();
            while let Some(v) = todo.pop() {
                if !seen.insert(v) {
                    continue;
                }
                for input in self.upstream(v)? {
                    if input.dataset.dataset() == dataset {
                        todo.push(input.id);
                    } else {
                        edges.insert((input.dataset.dataset(), dataset.clone()));
                    }
                }
            }
        }
        Ok(edges.into_iter().collect())
    }

    /// The newest versions across the lake, newest first.
    pub(crate) fn recent_versions(&self, limit: u64) -> Result<Vec<VersionRow>> {
        let sql = format!(
            "SELECT {} FROM versions v JOIN datasets d ON d.id = v.dataset_id
             ORDER BY v.id DESC LIMIT ?1",
            super::versions::VERSION_COLUMNS
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map([limit as i64], super::versions::version_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Column edges of a version's output.
    pub(crate) fn column_lineage(&self, version_id: i64) -> Result<Vec<ColumnEdge>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT output_column, input_version_id, input_column FROM column_lineage
                 WHERE output_version_id = ?1 ORDER BY output_column, input_version_id, input_column",
            )
            .map_err(self.err())?;
        let rows: Vec<(String, i64, String)> = stmt
            .query_map([version_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        rows.into_iter()
            .map(|(output_column, input, input_column)| {
                Ok(ColumnEdge {
                    output_column,
                    input: self.version_by_id(input)?.reference(),
                    input_column,
                })
            })
            .collect()
    }
}
