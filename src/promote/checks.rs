//! Data checks that gate a promote's commit.
//!
//! Each check becomes a query over the job's result (the table `result`) that returns the rows
//! that fail it; a check passes when that query returns none. The result is already written to
//! storage but not committed, so a failing check commits nothing.

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;

use crate::catalog::CheckRow;
use crate::error::{Error, Result};

/// Failing rows kept as a sample.
const SAMPLE_ROWS: usize = 5;

/// A check a job's header declares (`-- check: unique(order_id)`), run over its result before it
/// commits.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// No NULLs in these columns.
    NotNull(Vec<String>),
    /// No two rows alike in these columns.
    Unique(Vec<String>),
    /// Every value of the column is one of these.
    AcceptedValues {
        /// The column.
        column: String,
        /// The values allowed.
        values: Vec<String>,
    },
    /// Every value of the column lies between `min` and `max` (SQL literals), each optional.
    Range {
        /// The column.
        column: String,
        /// The smallest value allowed.
        min: Option<String>,
        /// The largest value allowed.
        max: Option<String>,
    },
    /// The result has between `min` and `max` rows, each optional.
    RowCount {
        /// The fewest rows allowed.
        min: Option<u64>,
        /// The most rows allowed.
        max: Option<u64>,
    },
    /// Custom SQL that must return no rows.
    Sql(String),
}

impl Check {
    /// Parse `not_null(a, b)`, `unique(a)`, `accepted_values(a, ['x', 'y'])`, `range(a, 0, 10)`,
    /// `row_count(1, 100)` or `sql: SELECT …`.
    pub fn parse(text: &str) -> std::result::Result<Check, String> {
        let text = text.trim();
        if let Some(sql) = text.strip_prefix("sql:") {
            let sql = sql.trim();
            if sql.is_empty() {
                return Err("`check: sql:` needs a query that returns the failing rows".into());
            }
            return Ok(Check::Sql(sql.to_string()));
        }
        let (name, rest) = text
            .split_once('(')
            .ok_or_else(|| format!("cannot read check `{text}`; expected name(arguments)"))?;
        let args = rest
            .trim_end()
            .strip_suffix(')')
            .ok_or_else(|| format!("check `{text}` is missing its closing `)`"))?;
        let args = split_args(args);
        let column = |i: usize| -> std::result::Result<String, String> {
            args.get(i)
                .map(|a| a.trim().trim_matches('"').to_string())
                .filter(|a| !a.is_empty())
                .ok_or_else(|| format!("check `{text}` needs a column"))
        };
        let bound = |i: usize| -> Option<String> {
            args.get(i)
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty() && a != "null" && a != "_")
        };
        match name.trim() {
            "not_null" | "unique" => {
                let cols = (0..args.len())
                    .map(column)
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                if cols.is_empty() {
                    return Err(format!("check `{text}` needs at least one column"));
                }
                Ok(if name.trim() == "not_null" {
                    Check::NotNull(cols)
                } else {
                    Check::Unique(cols)
                })
            }
            "accepted_values" => {
                let list = args
                    .get(1)
                    .map(|a| a.trim())
                    .and_then(|a| a.strip_prefix('[')?.strip_suffix(']'))
                    .ok_or_else(|| {
                        format!("check `{text}` needs a list: accepted_values(col, ['a', 'b'])")
                    })?;
                let values = split_args(list)
                    .into_iter()
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .collect();
                Ok(Check::AcceptedValues {
                    column: column(0)?,
                    values,
                })
            }
            "range" => {
                if args.len() != 3 {
                    return Err(format!(
                        "check `{text}` takes range(col, min, max); use null for an open end"
                    ));
                }
                for b in [bound(1), bound(2)].into_iter().flatten() {
                    if b.parse::<f64>().is_err() && !(b.starts_with('\'') && b.ends_with('\'')) {
                        return Err(format!(
                            "check `{text}`: `{b}` is neither a number nor a quoted value"
                        ));
                    }
                }
                Ok(Check::Range {
                    column: column(0)?,
                    min: bound(1),
                    max: bound(2),
                })
            }
            "row_count" => {
                let number = |i: usize| -> std::result::Result<Option<u64>, String> {
                    let Some(b) = bound(i) else { return Ok(None) };
                    let b = b.trim_start_matches("min=").trim_start_matches("max=");
                    b.parse()
                        .map(Some)
                        .map_err(|_| format!("check `{text}`: `{b}` is not a whole number"))
                };
                Ok(Check::RowCount {
                    min: number(0)?,
                    max: number(1)?,
                })
            }
            other => Err(format!(
                "unknown check `{other}`; expected not_null, unique, accepted_values, range, row_count or sql:"
            )),
        }
    }

    /// `not_null`, `unique`, `accepted_values`, `range` or `row_count`.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::NotNull(_) => "not_null",
            Check::Unique(_) => "unique",
            Check::AcceptedValues { .. } => "accepted_values",
            Check::Range { .. } => "range",
            Check::RowCount { .. } => "row_count",
            Check::Sql(_) => "sql",
        }
    }

    /// The check as a header would write it.
    pub fn name(&self) -> String {
        match self {
            Check::NotNull(c) => format!("not_null({})", c.join(", ")),
            Check::Unique(c) => format!("unique({})", c.join(", ")),
            Check::AcceptedValues { column, values } => {
                format!("accepted_values({column}, [{}])", values.join(", "))
            }
            Check::Range { column, min, max } => format!(
                "range({column}, {}, {})",
                min.as_deref().unwrap_or("null"),
                max.as_deref().unwrap_or("null")
            ),
            Check::RowCount { min, max } => format!(
                "row_count({}, {})",
                min.map_or("null".into(), |m| m.to_string()),
                max.map_or("null".into(), |m| m.to_string())
            ),
            Check::Sql(sql) => format!("sql: {sql}"),
        }
    }

    /// A query returning the rows of `result` that fail the check.
    fn failing_rows(&self) -> String {
        match self {
            Check::NotNull(cols) => {
                let cond: Vec<String> = cols
                    .iter()
                    .map(|c| format!("{} IS NULL", ident(c)))
                    .collect();
                format!("SELECT * FROM result WHERE {}", cond.join(" OR "))
            }
            Check::Unique(cols) => {
                let list: Vec<String> = cols.iter().map(|c| ident(c)).collect();
                let list = list.join(", ");
                format!(
                    "SELECT {list}, count(*) AS occurrences FROM result GROUP BY {list} HAVING count(*) > 1"
                )
            }
            Check::AcceptedValues { column, values } => format!(
                "SELECT * FROM result WHERE {c} IS NOT NULL AND {c} NOT IN ({})",
                values.join(", "),
                c = ident(column)
            ),
            Check::Range { column, min, max } => {
                let c = ident(column);
                let mut cond = Vec::new();
                if let Some(m) = min {
                    cond.push(format!("{c} < {m}"));
                }
                if let Some(m) = max {
                    cond.push(format!("{c} > {m}"));
                }
                if cond.is_empty() {
                    cond.push("false".into());
                }
                format!("SELECT * FROM result WHERE {}", cond.join(" OR "))
            }
            Check::RowCount { min, max } => {
                let mut cond = Vec::new();
                if let Some(m) = min {
                    cond.push(format!("count(*) < {m}"));
                }
                if let Some(m) = max {
                    cond.push(format!("count(*) > {m}"));
                }
                if cond.is_empty() {
                    cond.push("false".into());
                }
                format!(
                    "SELECT count(*) AS row_count FROM result HAVING {}",
                    cond.join(" OR ")
                )
            }
            Check::Sql(sql) => format!("SELECT * FROM ({sql}) AS failing"),
        }
    }

    /// Run the check in `ctx`, where `result` is the job's output.
    pub async fn run(&self, ctx: &SessionContext, origin: &str) -> Result<CheckRow> {
        let failing = self.failing_rows();
        let query_err = |source| Error::Query {
            origin: format!("{origin}: check {}", self.name()),
            source,
        };
        let count_sql = format!("SELECT count(*) AS n FROM ({failing}) AS f");
        let counted = ctx
            .sql(&count_sql)
            .await
            .map_err(query_err)?
            .collect()
            .await
            .map_err(query_err)?;
        let count = counted
            .first()
            .and_then(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .map(|a| a.value(0))
            })
            .unwrap_or(0) as u64;
        let sample = if count == 0 {
            serde_json::Value::Array(vec![])
        } else {
            let rows = ctx
                .sql(&format!("{failing} LIMIT {SAMPLE_ROWS}"))
                .await
                .map_err(query_err)?
                .collect()
                .await
                .map_err(query_err)?;
            batches_to_json(&rows)
        };
        Ok(CheckRow {
            name: self.name(),
            kind: self.kind().to_string(),
            passed: count == 0,
            // For row_count the one failing "row" is the count itself; report the count.
            failing: match self {
                Check::RowCount { .. } if count > 0 => {
                    sample[0]["row_count"].as_u64().unwrap_or(count)
                }
                _ => count,
            },
            sample,
            severity: "error".into(),
        })
    }
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Rows as JSON objects.
pub fn batches_to_json(batches: &[RecordBatch]) -> serde_json::Value {
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for b in batches {
        if writer.write(b).is_err() {
            return serde_json::Value::Null;
        }
    }
    if writer.finish().is_err() {
        return serde_json::Value::Null;
    }
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return serde_json::Value::Array(vec![]);
    }
    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
}

/// `a, 'b, c', [1, 2]` split at commas outside quotes and brackets.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut quote) = (0i32, None::<char>);
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '[' | '(') => {
                depth += 1;
                cur.push(c);
            }
            (None, ']' | ')') => {
                depth -= 1;
                cur.push(c);
            }
            (None, ',') if depth == 0 => out.push(std::mem::take(&mut cur)),
            (None, c) => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!(
            Check::parse("not_null(a, b)").unwrap(),
            Check::NotNull(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            Check::parse("accepted_values(status, ['paid', 'a, b'])").unwrap(),
            Check::AcceptedValues {
                column: "status".into(),
                values: vec!["'paid'".into(), "'a, b'".into()]
            }
        );
        assert_eq!(
            Check::parse("range(amount, null, 100)").unwrap(),
            Check::Range {
                column: "amount".into(),
                min: None,
                max: Some("100".into())
            }
        );
        assert_eq!(
            Check::parse("row_count(min=1)").unwrap(),
            Check::RowCount {
                min: Some(1),
                max: None
            }
        );
        assert_eq!(
            Check::parse("sql: SELECT 1").unwrap(),
            Check::Sql("SELECT 1".into())
        );
        for bad in [
            "nope(a)",
            "not_null()",
            "range(a, 1)",
            "range(a, x, 2)",
            "row_count(x)",
            "unique(a",
            "accepted_values(a, 'x')",
        ] {
            assert!(Check::parse(bad).is_err(), "{bad}");
        }
    }
}
