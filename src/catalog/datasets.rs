//! Datasets: `<zone>.<name>`, created by their first committed version.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::Tx;
use crate::error::{Error, Result};
use crate::ident::{DatasetRef, Version, Zone, edit_distance};

/// A dataset as the catalog records it.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetRow {
    /// Its row id.
    #[serde(skip)]
    pub id: i64,
    /// The dataset.
    pub dataset: DatasetRef,
    /// Its description.
    pub description: Option<String>,
    /// Its owner.
    pub owner: Option<String>,
    /// When its first version committed.
    pub created_at: String,
}

/// A dataset with its latest version, for listings.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetSummary {
    /// The dataset.
    pub dataset: DatasetRef,
    /// Its zone.
    pub zone: Zone,
    /// Its latest version.
    pub latest: Option<Version>,
    /// How many versions it has.
    pub versions: u64,
    /// Rows of the latest version.
    pub rows: u64,
    /// Bytes of the latest version.
    pub bytes: u64,
    /// When the latest version committed.
    pub updated_at: Option<String>,
    /// Its description.
    pub description: Option<String>,
}

/// A summary from columns zone, name, description, version, rows, bytes, created_at (versions
/// left 0).
fn summary_row(r: &Row<'_>) -> rusqlite::Result<DatasetSummary> {
    let dataset = dataset_ref(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?)?;
    Ok(DatasetSummary {
        zone: dataset.zone,
        dataset,
        description: r.get(2)?,
        latest: r.get::<_, Option<i64>>(3)?.map(|v| Version(v as u64)),
        rows: r.get::<_, Option<i64>>(4)?.unwrap_or(0) as u64,
        bytes: r.get::<_, Option<i64>>(5)?.unwrap_or(0) as u64,
        updated_at: r.get(6)?,
        versions: 0,
    })
}

fn dataset_ref(zone: &str, name: &str) -> rusqlite::Result<DatasetRef> {
    let zone: Zone = zone
        .parse()
        .map_err(|e: Error| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    Ok(DatasetRef {
        zone,
        name: name.to_string(),
        selector: None,
    })
}

fn dataset_row(r: &Row<'_>) -> rusqlite::Result<DatasetRow> {
    Ok(DatasetRow {
        id: r.get(0)?,
        dataset: dataset_ref(&r.get::<_, String>(1)?, &r.get::<_, String>(2)?)?,
        description: r.get(3)?,
        owner: r.get(4)?,
        created_at: r.get(5)?,
    })
}

impl Tx<'_> {
    pub(crate) fn find_dataset(&self, dataset: &DatasetRef) -> Result<Option<DatasetRow>> {
        self.conn
            .query_row(
                "SELECT id, zone, name, description, owner, created_at
                 FROM datasets WHERE zone = ?1 AND name = ?2",
                params![dataset.zone.as_str(), dataset.name],
                dataset_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// The dataset, or [`Error::DatasetNotFound`] naming datasets with similar names.
    pub(crate) fn dataset(&self, dataset: &DatasetRef) -> Result<DatasetRow> {
        match self.find_dataset(dataset)? {
            Some(row) => Ok(row),
            None => Err(Error::DatasetNotFound {
                dataset: dataset.dataset_name(),
                suggestions: self
                    .similar_datasets(&dataset.name)?
                    .iter()
                    .map(|d| d.to_string())
                    .collect(),
            }),
        }
    }

    /// The dataset's id, creating the dataset if it is new.
    pub(crate) fn ensure_dataset(&self, dataset: &DatasetRef, at: &str) -> Result<i64> {
        if let Some(row) = self.find_dataset(dataset)? {
            return Ok(row.id);
        }
        self.conn
            .execute(
                "INSERT INTO datasets (zone, name, created_at) VALUES (?1, ?2, ?3)",
                params![dataset.zone.as_str(), dataset.name, at],
            )
            .map_err(self.err())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Every dataset (of one zone, if given) with its latest version, by zone rank then name.
    pub(crate) fn list_datasets(&self, zone: Option<Zone>) -> Result<Vec<DatasetSummary>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.zone, d.name, d.description,
                        v.version, v.rows, v.bytes, v.created_at,
                        (SELECT count(*) FROM versions c WHERE c.dataset_id = d.id)
                 FROM datasets d
                 LEFT JOIN versions v ON v.dataset_id = d.id
                      AND v.version = (SELECT max(version) FROM versions m WHERE m.dataset_id = d.id)
                 WHERE ?1 IS NULL OR d.zone = ?1
                 ORDER BY CASE d.zone WHEN 'bronze' THEN 0 WHEN 'silver' THEN 1 ELSE 2 END, d.name",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([zone.map(|z| z.as_str())], |r| {
                Ok(DatasetSummary {
                    versions: r.get::<_, i64>(7)? as u64,
                    ..summary_row(r)?
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Per zone: how many datasets, and the bytes of their latest versions.
    pub(crate) fn zone_totals(&self) -> Result<Vec<(Zone, u64, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.zone, count(*), coalesce(sum(v.bytes), 0)
                 FROM datasets d
                 LEFT JOIN versions v ON v.dataset_id = d.id
                      AND v.version = (SELECT max(version) FROM versions m WHERE m.dataset_id = d.id)
                 GROUP BY d.zone",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                let zone: String = r.get(0)?;
                Ok((zone, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (zone, n, bytes) = row.map_err(self.err())?;
            out.push((zone.parse()?, n, bytes));
        }
        Ok(out)
    }

    /// The first `limit` datasets of a zone by name, with their latest versions (no count of
    /// versions: `versions` is 0).
    pub(crate) fn first_datasets(&self, zone: Zone, limit: u64) -> Result<Vec<DatasetSummary>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.zone, d.name, d.description, v.version, v.rows, v.bytes, v.created_at
                 FROM datasets d
                 LEFT JOIN versions v ON v.dataset_id = d.id
                      AND v.version = (SELECT max(version) FROM versions m WHERE m.dataset_id = d.id)
                 WHERE d.zone = ?1 ORDER BY d.name LIMIT ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![zone.as_str(), limit as i64], summary_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Datasets named like `name`: containing it (or contained in it), else a typo or two away.
    pub(crate) fn similar_datasets(&self, name: &str) -> Result<Vec<DatasetRef>> {
        let found = self.datasets_containing(name)?;
        if !found.is_empty() {
            return Ok(found);
        }
        let mut scored: Vec<(usize, DatasetRef)> = self
            .list_datasets(None)?
            .into_iter()
            .map(|d| (edit_distance(&d.dataset.name, name), d.dataset))
            .filter(|(distance, _)| *distance <= 2)
            .collect();
        scored.sort();
        Ok(scored.into_iter().take(3).map(|(_, d)| d).collect())
    }

    fn datasets_containing(&self, fragment: &str) -> Result<Vec<DatasetRef>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT zone, name FROM datasets WHERE instr(name, ?1) > 0 OR instr(?1, name) > 0
                 ORDER BY zone, name LIMIT 5",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([fragment], |r| {
                dataset_ref(&r.get::<_, String>(0)?, &r.get::<_, String>(1)?)
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }
}

impl Tx<'_> {
    /// Set a dataset's description (a promote job's header carries one).
    pub(crate) fn set_description(&self, dataset_id: i64, description: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE datasets SET description = ?2 WHERE id = ?1",
                params![dataset_id, description],
            )
            .map_err(self.err())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn edit_distance_counts_typos() {
        assert_eq!(super::edit_distance("orders", "order"), 1);
        assert_eq!(super::edit_distance("orders", "ordres"), 2);
    }
}
