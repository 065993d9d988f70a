//! Schemas, stored once each by fingerprint, with their columns in rows so past schemas stay
//! searchable ("which dataset ever had `ssn`?").

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Tx;
use crate::error::Result;

/// One column of a version's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnRow {
    /// Its name.
    pub name: String,
    /// Its type, as `lake` names it (`int64`, `string`, `timestamp[us]`).
    pub data_type: String,
    /// It may hold NULLs.
    pub nullable: bool,
}

impl Tx<'_> {
    /// The id of this schema, adding it if it is new.
    pub(crate) fn intern_schema(&self, schema_json: &str, columns: &[ColumnRow]) -> Result<i64> {
        let fingerprint = format!("{:x}", Sha256::digest(schema_json.as_bytes()));
        if let Some(id) = self
            .conn
            .query_row(
                "SELECT id FROM schemas WHERE fingerprint = ?1",
                [&fingerprint],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?
        {
            return Ok(id);
        }
        self.conn
            .execute(
                "INSERT INTO schemas (fingerprint, schema_json) VALUES (?1, ?2)",
                params![fingerprint, schema_json],
            )
            .map_err(self.err())?;
        let id = self.conn.last_insert_rowid();
        let mut insert = self
            .conn
            .prepare_cached(
                "INSERT INTO schema_columns (schema_id, position, name, data_type, nullable)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(self.err())?;
        for (position, c) in columns.iter().enumerate() {
            insert
                .execute(params![
                    id,
                    position as i64,
                    c.name,
                    c.data_type,
                    c.nullable
                ])
                .map_err(self.err())?;
        }
        Ok(id)
    }

    pub(crate) fn schema_json(&self, schema_id: i64) -> Result<String> {
        self.conn
            .query_row(
                "SELECT schema_json FROM schemas WHERE id = ?1",
                [schema_id],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    pub(crate) fn columns(&self, schema_id: i64) -> Result<Vec<ColumnRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, data_type, nullable FROM schema_columns
                 WHERE schema_id = ?1 ORDER BY position",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([schema_id], |r| {
                Ok(ColumnRow {
                    name: r.get(0)?,
                    data_type: r.get(1)?,
                    nullable: r.get(2)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Catalog;
    use super::*;

    #[test]
    fn the_same_schema_is_stored_once() {
        let mut catalog = Catalog::open_in_memory().unwrap();
        let cols = vec![ColumnRow {
            name: "id".into(),
            data_type: "int64".into(),
            nullable: true,
        }];
        let (a, b) = catalog
            .write(|tx| {
                Ok((
                    tx.intern_schema("{}", &cols)?,
                    tx.intern_schema("{}", &cols)?,
                ))
            })
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(catalog.reader().columns(a).unwrap(), cols);
    }
}
