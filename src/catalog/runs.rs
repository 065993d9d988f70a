//! Runs of promote jobs and the data checks they ran.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Tx;
use crate::error::Result;
use crate::ident::Version;

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckRow {
    /// As written in the job header: `not_null(order_id)`.
    pub name: String,
    pub kind: String,
    pub passed: bool,
    pub failing: u64,
    /// A few rows that failed the check.
    pub sample: serde_json::Value,
}

/// What a finished run records.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub job: String,
    pub job_path: String,
    pub sql_digest: String,
    pub sql_text: String,
    pub inputs_key: String,
    /// `success`, `failed` or `skipped`.
    pub status: &'static str,
    pub output_version_id: Option<i64>,
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
    pub backfill: bool,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub actor: String,
    pub input_version_ids: Vec<i64>,
    pub checks: Vec<CheckRow>,
}

/// A run as the catalog remembers it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub id: i64,
    pub job: String,
    pub sql_digest: String,
    pub inputs_key: String,
    pub status: String,
    pub output_version: Option<Version>,
    pub started_at: String,
    pub duration_ms: u64,
    pub error: Option<String>,
}

impl Tx<'_> {
    pub fn insert_run(&self, run: &NewRun) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO runs (job, job_path, sql_digest, sql_text, inputs_key, status,
                                   output_version_id, rows, bytes, backfill, started_at,
                                   finished_at, duration_ms, error, actor)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    run.job,
                    run.job_path,
                    run.sql_digest,
                    run.sql_text,
                    run.inputs_key,
                    run.status,
                    run.output_version_id,
                    run.rows.map(|r| r as i64),
                    run.bytes.map(|b| b as i64),
                    run.backfill,
                    run.started_at,
                    run.finished_at,
                    run.duration_ms as i64,
                    run.error,
                    run.actor
                ],
            )
            .map_err(self.err())?;
        let run_id = self.conn.last_insert_rowid();
        for v in &run.input_version_ids {
            self.conn
                .execute(
                    "INSERT OR IGNORE INTO run_inputs (run_id, version_id) VALUES (?1, ?2)",
                    params![run_id, v],
                )
                .map_err(self.err())?;
        }
        for c in &run.checks {
            self.conn
                .execute(
                    "INSERT INTO check_results (run_id, version_id, name, kind, status, failing, sample)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        run_id,
                        run.output_version_id,
                        c.name,
                        c.kind,
                        if c.passed { "pass" } else { "fail" },
                        c.failing as i64,
                        c.sample.to_string()
                    ],
                )
                .map_err(self.err())?;
        }
        Ok(run_id)
    }

    /// The job's last successful run, if any.
    pub fn last_success(&self, job: &str) -> Result<Option<RunRow>> {
        self.conn
            .query_row(
                "SELECT r.id, r.job, r.sql_digest, r.inputs_key, r.status, v.version, r.started_at,
                        r.duration_ms, r.error
                 FROM runs r LEFT JOIN versions v ON v.id = r.output_version_id
                 WHERE r.job = ?1 AND r.status = 'success' ORDER BY r.id DESC LIMIT 1",
                [job],
                run_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// The checks that passed when a version was committed.
    pub fn version_checks(&self, version_id: i64) -> Result<Vec<CheckRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, kind, status, failing, sample FROM check_results
                 WHERE version_id = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([version_id], |r| {
                let sample: Option<String> = r.get(4)?;
                Ok(CheckRow {
                    name: r.get(0)?,
                    kind: r.get(1)?,
                    passed: r.get::<_, String>(2)? == "pass",
                    failing: r.get::<_, i64>(3)? as u64,
                    sample: sample
                        .and_then(|s| serde_json::from_str(&s).ok())
                        .unwrap_or(serde_json::Value::Null),
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }
}

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: r.get(0)?,
        job: r.get(1)?,
        sql_digest: r.get(2)?,
        inputs_key: r.get(3)?,
        status: r.get(4)?,
        output_version: r.get::<_, Option<i64>>(5)?.map(|v| Version(v as u64)),
        started_at: r.get(6)?,
        duration_ms: r.get::<_, i64>(7)? as u64,
        error: r.get(8)?,
    })
}
