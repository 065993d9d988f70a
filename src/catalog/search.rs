//! Dataset metadata (owner, labels, column docs) and the FTS5 index over it.

use rusqlite::params;
use serde::Serialize;

use super::Tx;
use crate::error::Result;
use crate::ident::DatasetRef;

/// What people wrote about a dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DatasetMeta {
    /// Its description.
    pub description: Option<String>,
    /// Its owner.
    pub owner: Option<String>,
    /// `(key, value)`; a label may be a bare key such as `pii`.
    pub labels: Vec<(String, Option<String>)>,
    /// `(column, doc)`
    pub column_docs: Vec<(String, String)>,
}

/// One search hit.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// The dataset.
    pub dataset: DatasetRef,
    /// How well it matches (higher is better).
    pub rank: f64,
    /// Its description.
    pub description: Option<String>,
    /// `(field, text with [matches] marked)` for each field that matched.
    pub matched: Vec<(String, String)>,
}

/// Filters that narrow a search (or, without a text query, make a listing).
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Only this zone.
    pub zone: Option<String>,
    /// Only datasets with these labels.
    pub labels: Vec<(String, Option<String>)>,
    /// Only datasets with this owner.
    pub owner: Option<String>,
    /// Only datasets with this column.
    pub column: Option<String>,
    /// `column` in any past schema, not only the current one.
    pub ever: bool,
}

const FIELDS: [&str; 8] = [
    "name",
    "description",
    "owner",
    "labels",
    "columns",
    "column_docs",
    "job_sql",
    "past_columns",
];

impl Tx<'_> {
    pub(crate) fn set_owner(&self, dataset_id: i64, owner: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE datasets SET owner = ?2 WHERE id = ?1",
                params![dataset_id, owner],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub(crate) fn set_label(&self, dataset_id: i64, key: &str, value: Option<&str>) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO dataset_labels (dataset_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (dataset_id, key) DO UPDATE SET value = ?3",
                params![dataset_id, key, value],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub(crate) fn remove_label(&self, dataset_id: i64, key: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "DELETE FROM dataset_labels WHERE dataset_id = ?1 AND key = ?2",
                params![dataset_id, key],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    pub(crate) fn set_column_doc(&self, dataset_id: i64, column: &str, doc: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO column_docs (dataset_id, column_name, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (dataset_id, column_name) DO UPDATE SET doc = ?3",
                params![dataset_id, column, doc],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub(crate) fn dataset_meta(&self, dataset_id: i64) -> Result<DatasetMeta> {
        let (description, owner) = self
            .conn
            .query_row(
                "SELECT description, owner FROM datasets WHERE id = ?1",
                [dataset_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT key, value FROM dataset_labels WHERE dataset_id = ?1 ORDER BY key",
            )
            .map_err(self.err())?;
        let labels = stmt
            .query_map([dataset_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT column_name, doc FROM column_docs WHERE dataset_id = ?1 ORDER BY column_name")
            .map_err(self.err())?;
        let column_docs = stmt
            .query_map([dataset_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.err())?;
        Ok(DatasetMeta {
            description,
            owner,
            labels,
            column_docs,
        })
    }

    /// Rebuild the search row of one dataset, or of all (`None`).
    pub(crate) fn reindex(&self, dataset_id: Option<i64>) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM search_index WHERE ?1 IS NULL OR rowid = ?1",
                [dataset_id],
            )
            .map_err(self.err())?;
        self.conn
            .execute(
                "INSERT INTO search_index (rowid, name, description, owner, labels, columns, column_docs, job_sql, past_columns)
                 SELECT d.id,
                        d.zone || '.' || d.name,
                        coalesce(d.description, ''),
                        coalesce(d.owner, ''),
                        coalesce((SELECT group_concat(l.key || coalesce('=' || l.value, ''), ' ')
                                  FROM dataset_labels l WHERE l.dataset_id = d.id), ''),
                        coalesce((SELECT group_concat(c.name, ' ') FROM schema_columns c
                                  WHERE c.schema_id = (SELECT v.schema_id FROM versions v
                                                       WHERE v.dataset_id = d.id
                                                       ORDER BY v.version DESC LIMIT 1)), ''),
                        coalesce((SELECT group_concat(cd.column_name || ': ' || cd.doc, ' | ')
                                  FROM column_docs cd WHERE cd.dataset_id = d.id), ''),
                        coalesce((SELECT r.sql_text FROM runs r WHERE r.job = d.zone || '.' || d.name
                                  ORDER BY r.id DESC LIMIT 1), ''),
                        coalesce((SELECT group_concat(DISTINCT c.name) FROM schema_columns c
                                  JOIN versions v ON v.schema_id = c.schema_id AND v.dataset_id = d.id
                                  WHERE c.name NOT IN (
                                      SELECT c2.name FROM schema_columns c2
                                      WHERE c2.schema_id = (SELECT v2.schema_id FROM versions v2
                                                            WHERE v2.dataset_id = d.id
                                                            ORDER BY v2.version DESC LIMIT 1))), '')
                 FROM datasets d WHERE ?1 IS NULL OR d.id = ?1",
                [dataset_id],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Datasets matching an FTS5 query (already made safe by the caller) and the filters, best
    /// first; with no query, every dataset the filters pass, by name.
    pub(crate) fn search(
        &self,
        fts: Option<&str>,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let mut conditions = vec!["1 = 1".to_string()];
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let arg = |v: String, args: &mut Vec<rusqlite::types::Value>| {
            args.push(rusqlite::types::Value::Text(v));
            format!("?{}", args.len())
        };
        if let Some(z) = &filter.zone {
            let p = arg(z.clone(), &mut args);
            conditions.push(format!("d.zone = {p}"));
        }
        if let Some(o) = &filter.owner {
            let p = arg(o.clone(), &mut args);
            conditions.push(format!("d.owner = {p}"));
        }
        for (k, v) in &filter.labels {
            let pk = arg(k.clone(), &mut args);
            match v {
                Some(v) => {
                    let pv = arg(v.clone(), &mut args);
                    conditions.push(format!(
                        "EXISTS (SELECT 1 FROM dataset_labels l WHERE l.dataset_id = d.id AND l.key = {pk} AND l.value = {pv})"
                    ));
                }
                None => conditions.push(format!(
                    "EXISTS (SELECT 1 FROM dataset_labels l WHERE l.dataset_id = d.id AND l.key = {pk})"
                )),
            }
        }
        if let Some(c) = &filter.column {
            let pc = arg(c.clone(), &mut args);
            let schemas = if filter.ever {
                "SELECT v.schema_id FROM versions v WHERE v.dataset_id = d.id".to_string()
            } else {
                "SELECT v.schema_id FROM versions v WHERE v.dataset_id = d.id ORDER BY v.version DESC LIMIT 1".to_string()
            };
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM schema_columns c WHERE c.name = {pc} COLLATE NOCASE AND c.schema_id IN ({schemas}))"
            ));
        }
        let snippets: Vec<String> = (0..FIELDS.len())
            .map(|i| format!("snippet(search_index, {i}, '[', ']', '…', 12)"))
            .collect();
        let sql = match fts {
            // Rank every match cheaply, then make snippets for the top `limit` only.
            Some(q) => {
                // Past column names count only with `--ever`.
                let q = if filter.ever {
                    q.to_string()
                } else {
                    format!("{{{}}} : ({q})", FIELDS[..FIELDS.len() - 1].join(" "))
                };
                let pq = arg(q, &mut args);
                format!(
                    "WITH top AS (
                         SELECT search_index.rowid AS id,
                                bm25(search_index, 10.0, 4.0, 2.0, 3.0, 5.0, 3.0, 1.0, 1.0) AS rank
                         FROM search_index JOIN datasets d ON d.id = search_index.rowid
                         WHERE search_index MATCH {pq} AND {}
                         ORDER BY rank LIMIT {limit})
                     SELECT d.zone || '.' || d.name, top.rank, {}, d.description
                     FROM top JOIN search_index ON search_index.rowid = top.id
                              JOIN datasets d ON d.id = top.id
                     WHERE search_index MATCH {pq}
                     ORDER BY top.rank, d.zone, d.name",
                    conditions.join(" AND "),
                    snippets.join(", ")
                )
            }
            None => format!(
                "SELECT d.zone || '.' || d.name, 0.0, {}, d.description FROM datasets d
                 WHERE {} ORDER BY d.zone, d.name LIMIT {limit}",
                vec!["''"; FIELDS.len()].join(", "),
                conditions.join(" AND ")
            ),
        };
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), |r| {
                let name: String = r.get(0)?;
                let mut matched = Vec::new();
                for (i, field) in FIELDS.iter().enumerate() {
                    let text: String = r.get(2 + i)?;
                    if text.contains('[') && text.contains(']') {
                        matched.push((field.to_string(), text));
                    }
                }
                Ok((
                    name,
                    r.get::<_, f64>(1)?,
                    r.get::<_, Option<String>>(2 + FIELDS.len())?,
                    matched,
                ))
            })
            .map_err(self.err())?;
        let mut hits = Vec::new();
        for row in rows {
            let (name, rank, description, matched) = row.map_err(self.err())?;
            let dataset: DatasetRef = match name.parse() {
                Ok(d) => d,
                Err(_) => continue,
            };
            hits.push(Hit {
                dataset,
                rank,
                description,
                matched,
            });
        }
        Ok(hits)
    }
}
