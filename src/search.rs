//! Finding and describing datasets: `annotate` adds what people know, `search` finds datasets
//! by any of it (SQLite FTS5, ranked by bm25), `diff` compares two versions down to per-column
//! statistics from the Parquet footers.

use std::collections::BTreeMap;
use std::time::Instant;

use datafusion::common::ScalarValue;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use serde::Serialize;

use crate::catalog::VersionRow;
use crate::catalog::search::{DatasetMeta, Hit, SearchFilter};
use crate::clock;
use crate::error::{Error, Result};
use crate::format::schema::{self, Drift};
use crate::ident::DatasetRef;
use crate::lake::Lake;
use crate::read::footer;
use crate::sql::version_schema;

/// Changes to a dataset's metadata; each field left empty changes nothing.
#[derive(Debug, Clone, Default)]
pub struct Annotation {
    /// A new description.
    pub description: Option<String>,
    /// A new owner.
    pub owner: Option<String>,
    /// Labels to set, `pii` or `domain=sales`.
    pub labels: Vec<(String, Option<String>)>,
    /// Labels to remove.
    pub unlabel: Vec<String>,
    /// Column docs to set: (column, text).
    pub column_docs: Vec<(String, String)>,
}

/// What `lake search` found.
#[derive(Debug, Clone, Serialize)]
pub struct SearchReport {
    /// The query as given.
    pub query: String,
    /// The FTS5 query the words became (every word is data, never syntax).
    pub fts: Option<String>,
    /// How long the search took, in milliseconds.
    pub took_ms: f64,
    /// The datasets found, best first.
    pub hits: Vec<Hit>,
}

/// Statistics of one column in one version, from the Parquet footers.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnStats {
    /// The column.
    pub column: String,
    /// Its nulls, when every file records them.
    pub null_count: Option<u64>,
    /// Its smallest value, as text.
    pub min: Option<String>,
    /// Its largest value, as text.
    pub max: Option<String>,
}

/// One side of a diff.
#[derive(Debug, Clone, Serialize)]
pub struct DiffSide {
    /// The version.
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    /// Its rows.
    pub rows: u64,
    /// Its bytes.
    pub bytes: u64,
    /// Its files.
    pub files: u64,
    /// Per-column statistics.
    pub stats: Vec<ColumnStats>,
}

/// What `lake diff` found between two versions.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// The first version.
    pub left: DiffSide,
    /// The second version.
    pub right: DiffSide,
    /// How the second's schema differs from the first's.
    pub schema: Vec<Drift>,
    /// Rows of the second minus rows of the first.
    pub rows_delta: i64,
    /// Bytes of the second minus bytes of the first.
    pub bytes_delta: i64,
    /// Files the second has and the first lacks.
    pub files_added: Vec<String>,
    /// Files the first has and the second lacks.
    pub files_removed: Vec<String>,
}

/// The user's words as an FTS5 query that can only match words: each whitespace-separated word
/// becomes a quoted phrase of its letters and digits (`customer_email` → `"customer email"`),
/// keeping a trailing `*` as a prefix search. Quotes, operators, `NEAR`, parentheses and SQL are
/// searched for as words or dropped. `None` if nothing searchable is left.
pub fn fts_query(input: &str) -> Option<String> {
    let mut terms = Vec::new();
    for word in input.split_whitespace() {
        let prefix = word.ends_with('*');
        let parts: Vec<&str> = word
            .split(|c: char| !c.is_alphanumeric())
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            continue;
        }
        terms.push(format!(
            "\"{}\"{}",
            parts.join(" "),
            if prefix { "*" } else { "" }
        ));
    }
    (!terms.is_empty()).then(|| terms.join(" "))
}

impl Lake {
    /// Set a dataset's description, owner, labels and column docs; recorded in the audit trail.
    pub fn annotate(&self, dataset: &DatasetRef, a: &Annotation) -> Result<DatasetMeta> {
        let at = clock::timestamp(self.clock().now());
        let actor = self.actor().to_string();
        let meta = self.catalog().write(|tx| {
            let d = tx.dataset(dataset)?;
            if let Some(text) = &a.description {
                tx.set_description(d.id, text)?;
            }
            if let Some(owner) = &a.owner {
                tx.set_owner(d.id, owner)?;
            }
            for (k, v) in &a.labels {
                tx.set_label(d.id, k, v.as_deref())?;
            }
            for k in &a.unlabel {
                tx.remove_label(d.id, k)?;
            }
            if !a.column_docs.is_empty() {
                let columns: Vec<String> = match tx.latest_version(d.id)? {
                    Some(v) => tx
                        .columns(v.schema_id)?
                        .into_iter()
                        .map(|c| c.name)
                        .collect(),
                    None => Vec::new(),
                };
                for (col, doc) in &a.column_docs {
                    if !columns.contains(col) {
                        return Err(Error::NotFound {
                            what: "column",
                            name: format!("{dataset}.{col}"),
                        });
                    }
                    tx.set_column_doc(d.id, col, doc)?;
                }
            }
            tx.reindex(Some(d.id))?;
            let meta = tx.dataset_meta(d.id)?;
            tx.audit(
                &at,
                &actor,
                "annotate",
                &dataset.to_string(),
                &serde_json::json!({
                    "description": a.description,
                    "owner": a.owner,
                    "labels": a.labels,
                    "unlabel": a.unlabel,
                    "column_docs": a.column_docs,
                }),
            )?;
            Ok(meta)
        })?;
        let _ = crate::lake::run_blocking(async {
            self.follow_record(&dataset.dataset()).await;
            Ok(())
        });
        Ok(meta)
    }

    /// What people wrote about a dataset.
    pub fn dataset_meta(&self, dataset: &DatasetRef) -> Result<DatasetMeta> {
        let catalog = self.catalog();
        let tx = catalog.reader();
        let d = tx.dataset(dataset)?;
        tx.dataset_meta(d.id)
    }

    /// Full-text search over names, descriptions, owners, labels, columns, column docs and job
    /// SQL, narrowed by `filter`; with no searchable words, a listing by the filter alone.
    pub fn search(&self, query: &str, filter: &SearchFilter, limit: usize) -> Result<SearchReport> {
        let fts = fts_query(query);
        let started = Instant::now();
        let hits = self
            .catalog()
            .reader()
            .search(fts.as_deref(), filter, limit)?;
        Ok(SearchReport {
            query: query.to_string(),
            fts,
            took_ms: started.elapsed().as_secs_f64() * 1000.0,
            hits,
        })
    }

    /// Rebuild the whole search index from the catalog.
    pub fn reindex(&self) -> Result<()> {
        self.catalog().write(|tx| tx.reindex(None))
    }

    /// Compare two versions: schema, rows, bytes, files, and per-column statistics.
    pub async fn diff(&self, a: &DatasetRef, b: &DatasetRef) -> Result<DiffReport> {
        let (va, vb) = (self.resolve(a)?, self.resolve(b)?);
        let (left, left_files, left_schema) = self.diff_side(&va).await?;
        let (right, right_files, right_schema) = self.diff_side(&vb).await?;
        Ok(DiffReport {
            schema: schema::diff(&left_schema, &right_schema),
            rows_delta: vb.rows as i64 - va.rows as i64,
            bytes_delta: vb.bytes as i64 - va.bytes as i64,
            files_added: right_files
                .iter()
                .filter(|f| !left_files.contains(f))
                .cloned()
                .collect(),
            files_removed: left_files
                .iter()
                .filter(|f| !right_files.contains(f))
                .cloned()
                .collect(),
            left,
            right,
        })
    }

    async fn diff_side(
        &self,
        v: &VersionRow,
    ) -> Result<(DiffSide, Vec<String>, arrow::datatypes::Schema)> {
        let (files, json) = {
            let catalog = self.catalog();
            let tx = catalog.reader();
            (tx.tiered_files(v.id)?, tx.schema_json(v.schema_id)?)
        };
        let schema = version_schema(&json)?;
        let mut acc: BTreeMap<String, Extremes> = BTreeMap::new();
        for f in &files {
            let storage = match f.tier.as_str() {
                "hot" => self.storage(),
                "archive" => self.archive(),
                _ => continue,
            };
            let metadata = footer(storage, &f.path, f.size).await?;
            let Ok(file_schema) = parquet::arrow::parquet_to_arrow_schema(
                metadata.file_metadata().schema_descr(),
                metadata.file_metadata().key_value_metadata(),
            ) else {
                continue;
            };
            for field in schema.fields() {
                let Ok(conv) = StatisticsConverter::try_new(
                    field.name(),
                    &file_schema,
                    metadata.file_metadata().schema_descr(),
                ) else {
                    continue;
                };
                let groups = metadata.row_groups();
                let entry = acc.entry(field.name().clone()).or_default();
                if let Ok(nulls) = conv.row_group_null_counts(groups.iter()) {
                    let n: u64 = nulls.iter().flatten().sum();
                    entry.0 = Some(entry.0.unwrap_or(0) + n);
                }
                if let Ok(mins) = conv.row_group_mins(groups.iter()) {
                    fold(&mins, &mut entry.1, std::cmp::Ordering::Less);
                }
                if let Ok(maxes) = conv.row_group_maxes(groups.iter()) {
                    fold(&maxes, &mut entry.2, std::cmp::Ordering::Greater);
                }
            }
        }
        let stats = schema
            .fields()
            .iter()
            .map(|f| {
                let (nulls, min, max) = acc.remove(f.name()).unwrap_or_default();
                ColumnStats {
                    column: f.name().clone(),
                    null_count: nulls,
                    min: min.map(|(_, text)| text),
                    max: max.map(|(_, text)| text),
                }
            })
            .collect();
        let side = DiffSide {
            reference: v.reference(),
            rows: v.rows,
            bytes: v.bytes,
            files: files.len() as u64,
            stats,
        };
        Ok((side, files.into_iter().map(|f| f.path).collect(), schema))
    }
}

/// Null count, and the least and greatest value with their display text.
type Extremes = (
    Option<u64>,
    Option<(ScalarValue, String)>,
    Option<(ScalarValue, String)>,
);

/// Keep in `best` the value of `values` that compares `wanted` to all others.
fn fold(
    values: &arrow::array::ArrayRef,
    best: &mut Option<(ScalarValue, String)>,
    wanted: std::cmp::Ordering,
) {
    for i in 0..values.len() {
        let Ok(s) = ScalarValue::try_from_array(values, i) else {
            continue;
        };
        if s.is_null() {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(b, _)| s.partial_cmp(b) == Some(wanted))
        {
            let text = arrow::util::display::array_value_to_string(values, i)
                .unwrap_or_else(|_| s.to_string());
            *best = Some((s, text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn user_text_is_never_fts_syntax() {
        assert_eq!(
            fts_query("customer email").as_deref(),
            Some("\"customer\" \"email\"")
        );
        assert_eq!(
            fts_query("customer_email").as_deref(),
            Some("\"customer email\"")
        );
        assert_eq!(fts_query("cust*").as_deref(), Some("\"cust\"*"));
        assert_eq!(
            fts_query("\"unbalanced (paren NEAR -x").as_deref(),
            Some("\"unbalanced\" \"paren\" \"NEAR\" \"x\"")
        );
        assert_eq!(
            fts_query("'; DROP TABLE datasets; --").as_deref(),
            Some("\"DROP\" \"TABLE\" \"datasets\"")
        );
        assert_eq!(fts_query("*** ( ) \" -"), None);
    }
}
