//! Lineage: which versions a version was computed from, and which columns from which.

use rusqlite::params;
use serde::Serialize;

use super::{Tx, VersionRow};
use crate::error::{Error, Result};
use crate::ident::DatasetRef;

/// An output column computed from an input column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnEdge {
    pub output_column: String,
    pub input: DatasetRef,
    pub input_column: String,
}

impl Tx<'_> {
    /// Record that `output` was computed from `inputs`, column by column where known.
    pub fn insert_lineage(
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
    pub fn version_by_id(&self, id: i64) -> Result<VersionRow> {
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
    pub fn upstream(&self, version_id: i64) -> Result<Vec<VersionRow>> {
        self.linked(
            "SELECT input_version_id FROM lineage_edges WHERE output_version_id = ?1 ORDER BY input_version_id",
            version_id,
        )
    }

    /// The versions computed from `version_id`.
    pub fn downstream(&self, version_id: i64) -> Result<Vec<VersionRow>> {
        self.linked(
            "SELECT output_version_id FROM lineage_edges WHERE input_version_id = ?1 ORDER BY output_version_id",
            version_id,
        )
    }

    /// Column edges of a version's output.
    pub fn column_lineage(&self, version_id: i64) -> Result<Vec<ColumnEdge>> {
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
