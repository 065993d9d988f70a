//! Runs of promote jobs and the data checks they ran; the scheduler's lease and cron slots.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Tx;
use super::in_flight::{OWNER_COLUMNS, owner_at};
use crate::error::Result;
use crate::ident::Version;
use crate::owner::OwnerRecord;

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckRow {
    /// As written in the job header: `not_null(order_id)`.
    pub name: String,
    /// `not_null`, `unique`, `accepted_values`, `range`, `row_count`.
    pub kind: String,
    /// It held.
    pub passed: bool,
    /// Rows that failed it.
    pub failing: u64,
    /// A few rows that failed the check.
    pub sample: serde_json::Value,
    /// `error` (a failure blocks the commit) or `warn` (`check[warn]:`, recorded only).
    pub severity: String,
}

/// What a finished run records.
#[derive(Debug, Clone)]
pub(crate) struct NewRun {
    pub job: String,
    pub job_path: String,
    pub sql_digest: String,
    pub sql_text: String,
    pub inputs_key: String,
    /// `success`, `failed`, `skipped`, `waiting`, `timed_out` or `cancelled`.
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
    /// 1, or the retry's number counting the first attempt.
    pub attempt: u32,
    /// The first attempt's run, for a retry.
    pub retry_of: Option<i64>,
    /// `promote`, `on_new_input`, `cron`, `after`, `retry` or `backfill`.
    pub trigger: &'static str,
    /// The one partition a backfill run wrote.
    pub partition: Option<String>,
}

/// A run as the catalog remembers it.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    /// The run's id.
    pub id: i64,
    /// The job (the dataset it writes).
    pub job: String,
    /// sha256 of the job file it ran.
    pub sql_digest: String,
    /// A key of the exact input versions it read.
    pub inputs_key: String,
    /// `success`, `failed`, `skipped`, `waiting`, `timed_out` or `cancelled`.
    pub status: String,
    /// The version it committed.
    pub output_version: Option<Version>,
    /// When it started.
    pub started_at: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// The attempt, from 1.
    pub attempt: u32,
    /// The run it retries.
    pub retry_of: Option<i64>,
    /// What started it.
    pub trigger: String,
}

/// Who holds a lease, to say so or to judge whether they still live.
#[derive(Debug, Clone)]
pub struct LeaseHolder {
    /// The process holding it.
    pub owner: OwnerRecord,
    /// The command it runs.
    pub command: String,
    /// When it took the lease.
    pub acquired_at: String,
}

impl Tx<'_> {
    pub(crate) fn insert_run(&self, run: &NewRun) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO runs (job, job_path, sql_digest, sql_text, inputs_key, status,
                                   output_version_id, rows, bytes, backfill, started_at,
                                   finished_at, duration_ms, error, actor, attempt, retry_of,
                                   trigger, partition)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19)",
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
                    run.actor,
                    run.attempt,
                    run.retry_of,
                    run.trigger,
                    run.partition
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
                    "INSERT INTO check_results (run_id, version_id, name, kind, status, failing, sample,
                                                severity)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        run_id,
                        run.output_version_id,
                        c.name,
                        c.kind,
                        if c.passed { "pass" } else { "fail" },
                        c.failing as i64,
                        c.sample.to_string(),
                        c.severity
                    ],
                )
                .map_err(self.err())?;
        }
        Ok(run_id)
    }

    /// The job's last successful run, if any.
    pub(crate) fn last_success(&self, job: &str) -> Result<Option<RunRow>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs r LEFT JOIN versions v ON v.id = r.output_version_id
                     WHERE r.job = ?1 AND r.status = 'success' ORDER BY r.id DESC LIMIT 1"
                ),
                [job],
                run_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// The checks that passed when a version was committed.
    pub(crate) fn version_checks(&self, version_id: i64) -> Result<Vec<CheckRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, kind, status, failing, sample, severity FROM check_results
                 WHERE version_id = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([version_id], check_row)
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }
}

fn check_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckRow> {
    let sample: Option<String> = r.get(4)?;
    Ok(CheckRow {
        name: r.get(0)?,
        kind: r.get(1)?,
        passed: r.get::<_, String>(2)? == "pass",
        failing: r.get::<_, i64>(3)? as u64,
        sample: sample
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null),
        severity: r.get(5)?,
    })
}

const RUN_COLUMNS: &str = "r.id, r.job, r.sql_digest, r.inputs_key, r.status, v.version, \
     r.started_at, r.duration_ms, r.error, r.attempt, r.retry_of, r.trigger";

impl Tx<'_> {
    /// The job's latest run of any kind, if any.
    pub(crate) fn last_run(&self, job: &str) -> Result<Option<RunRow>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs r LEFT JOIN versions v ON v.id = r.output_version_id
                     WHERE r.job = ?1 ORDER BY r.id DESC LIMIT 1"
                ),
                [job],
                run_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// The partitions a version has, with their rows, sorted.
    pub(crate) fn version_partitions(&self, version_id: i64) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT partition, rows FROM version_partitions WHERE version_id = ?1
                 ORDER BY partition",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([version_id], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    pub(crate) fn insert_partitions(
        &self,
        version_id: i64,
        partitions: &[(String, u64)],
    ) -> Result<()> {
        for (key, rows) in partitions {
            self.conn
                .execute(
                    "INSERT INTO version_partitions (version_id, partition, rows) VALUES (?1, ?2, ?3)",
                    params![version_id, key, *rows as i64],
                )
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// The latest run's status of each partition of `job` that a backfill run wrote.
    pub(crate) fn partition_runs(&self, job: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT partition, status FROM runs WHERE id IN (
                     SELECT max(id) FROM runs WHERE job = ?1 AND partition IS NOT NULL
                     GROUP BY partition)
                 ORDER BY partition",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([job], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// One run by its id.
    pub(crate) fn run(&self, id: i64) -> Result<Option<RunRow>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs r LEFT JOIN versions v ON v.id = r.output_version_id
                     WHERE r.id = ?1"
                ),
                [id],
                run_row,
            )
            .optional()
            .map_err(self.err())
    }

    /// The highest attempt number among a first run and its retries.
    pub(crate) fn last_attempt(&self, first: i64) -> Result<u32> {
        self.conn
            .query_row(
                "SELECT max(attempt) FROM runs WHERE id = ?1 OR retry_of = ?1",
                [first],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|n| n.unwrap_or(1) as u32)
            .map_err(self.err())
    }

    /// When the job's last success finished, if it ever succeeded.
    pub(crate) fn last_success_at(&self, job: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT finished_at FROM runs WHERE job = ?1 AND status = 'success'
                 ORDER BY id DESC LIMIT 1",
                [job],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Note that a job still waits: the latest `waiting` run of the job, if it is the job's
    /// latest run and waits for the same reason, gets `now` as its finish time instead of a new
    /// row being added each pass. Returns the run's id.
    pub(crate) fn record_waiting(&self, run: &NewRun) -> Result<i64> {
        if let Some(last) = self.last_run(&run.job)?
            && last.status == "waiting"
            && last.error == run.error
        {
            self.conn
                .execute(
                    "UPDATE runs SET finished_at = ?2 WHERE id = ?1",
                    params![last.id, run.finished_at],
                )
                .map_err(self.err())?;
            return Ok(last.id);
        }
        self.insert_run(run)
    }

    /// The latest cron slot the job was considered at.
    pub(crate) fn last_slot(&self, job: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT last_slot FROM schedule_slots WHERE job = ?1",
                [job],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    pub(crate) fn set_last_slot(&self, job: &str, slot: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO schedule_slots (job, last_slot) VALUES (?1, ?2)
                 ON CONFLICT (job) DO UPDATE SET last_slot = excluded.last_slot",
                params![job, slot],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Who holds lease `name`, if anyone.
    pub(crate) fn lease_holder(&self, name: &str) -> Result<Option<LeaseHolder>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {OWNER_COLUMNS}, o.command, l.acquired_at
                     FROM leases l JOIN owners o ON o.id = l.owner_id WHERE l.name = ?1"
                ),
                [name],
                |r| {
                    Ok(LeaseHolder {
                        owner: owner_at(r, 0)?,
                        command: r.get(5)?,
                        acquired_at: r.get(6)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Give lease `name` to `owner_id`, replacing whoever held it (the caller has judged them
    /// gone, in this same transaction).
    pub(crate) fn put_lease(&self, name: &str, owner_id: &str, now: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO leases (name, owner_id, acquired_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET owner_id = excluded.owner_id,
                                                  acquired_at = excluded.acquired_at",
                params![name, owner_id, now],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Let go of lease `name` if `owner_id` holds it.
    pub(crate) fn release_lease(&self, name: &str, owner_id: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM leases WHERE name = ?1 AND owner_id = ?2",
                params![name, owner_id],
            )
            .map_err(self.err())?;
        Ok(())
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
        attempt: r.get::<_, i64>(9)? as u32,
        retry_of: r.get(10)?,
        trigger: r.get(11)?,
    })
}

/// A run as `lake runs` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The run's id.
    pub id: i64,
    /// The job (the dataset it writes).
    pub job: String,
    /// `success`, `failed`, `skipped`, `waiting`, `timed_out` or `cancelled`.
    pub status: String,
    /// What started it: `promote`, `on_new_input`, `cron`, `after` or `retry`.
    pub trigger: String,
    /// The attempt, from 1.
    pub attempt: u32,
    /// The run it retries.
    pub retry_of: Option<i64>,
    /// The exact inputs read, `bronze.orders@v3`.
    pub inputs: Vec<String>,
    /// The version committed, `silver.orders_clean@v4`.
    pub output: Option<String>,
    /// Rows of the version committed.
    pub rows: Option<u64>,
    /// A run of `lake backfill` (one partition).
    pub backfill: bool,
    /// When it started.
    pub started_at: String,
    /// When it finished.
    pub finished_at: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// Who ran it.
    pub actor: String,
    /// The job file.
    pub job_path: String,
    /// sha256 of the job file the run ran.
    pub sql_digest: String,
}

/// Which runs `lake runs` lists.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Jobs by name (`silver.orders_clean`) or zone (`silver`); all when empty.
    pub jobs: Vec<String>,
    /// Only runs in this status.
    pub status: Option<String>,
    /// Runs started at or after this timestamp.
    pub since: Option<String>,
    /// At most this many, newest first.
    pub limit: usize,
}

impl Tx<'_> {
    /// Runs matching `filter`, newest first.
    pub(crate) fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>> {
        // Jobs by name or by zone, as a JSON array; SQLite's LIMIT -1 is no limit.
        let jobs = (!filter.jobs.is_empty())
            .then(|| serde_json::to_string(&filter.jobs).expect("strings serialize"));
        let limit = if filter.limit == 0 {
            -1
        } else {
            filter.limit as i64
        };
        let mut out = self.query_runs(
            "WHERE (?1 IS NULL OR r.status = ?1) AND (?2 IS NULL OR r.started_at >= ?2)
               AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(?3) j
                                          WHERE j.value = r.job
                                             OR substr(r.job, 1, length(j.value) + 1) = j.value || '.'))
             ORDER BY r.id DESC LIMIT ?4",
            params![filter.status, filter.since, jobs, limit],
        )?;
        for run in &mut out {
            run.inputs = self.run_inputs(run.id)?;
        }
        Ok(out)
    }

    /// One run, with its inputs.
    pub(crate) fn run_summary(&self, id: i64) -> Result<Option<RunSummary>> {
        let mut found = self
            .query_runs("WHERE r.id = ?1 ORDER BY r.id DESC", [id])?
            .pop();
        if let Some(run) = &mut found {
            run.inputs = self.run_inputs(id)?;
        }
        Ok(found)
    }

    /// A first attempt and its retries, in order.
    pub(crate) fn attempts(&self, first: i64) -> Result<Vec<RunSummary>> {
        let mut all = self.query_runs(
            "WHERE r.id = ?1 OR r.retry_of = ?1 ORDER BY r.id DESC",
            [first],
        )?;
        all.reverse();
        for run in &mut all {
            run.inputs = self.run_inputs(run.id)?;
        }
        Ok(all)
    }

    /// The checks a run ran, failing ones with their sample rows.
    pub(crate) fn run_checks(&self, run_id: i64) -> Result<Vec<CheckRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, kind, status, failing, sample, severity FROM check_results
                 WHERE run_id = ?1 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = stmt.query_map([run_id], check_row).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Runs chosen and ordered by `filter` (a `WHERE … ORDER BY …` tail).
    fn query_runs(&self, filter: &str, p: impl rusqlite::Params) -> Result<Vec<RunSummary>> {
        let sql = format!(
            "SELECT r.id, r.job, r.status, r.trigger, r.attempt, r.retry_of,
                    (SELECT d.zone || '.' || d.name || '@v' || v.version
                     FROM versions v JOIN datasets d ON d.id = v.dataset_id
                     WHERE v.id = r.output_version_id),
                    r.rows, r.backfill, r.started_at, r.finished_at, r.duration_ms, r.error,
                    r.actor, r.job_path, r.sql_digest
             FROM runs r {filter}"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(p, |r| {
                Ok(RunSummary {
                    id: r.get(0)?,
                    job: r.get(1)?,
                    status: r.get(2)?,
                    trigger: r.get(3)?,
                    attempt: r.get::<_, i64>(4)? as u32,
                    retry_of: r.get(5)?,
                    inputs: Vec::new(),
                    output: r.get(6)?,
                    rows: r.get::<_, Option<i64>>(7)?.map(|n| n as u64),
                    backfill: r.get(8)?,
                    started_at: r.get(9)?,
                    finished_at: r.get(10)?,
                    duration_ms: r.get::<_, i64>(11)? as u64,
                    error: r.get(12)?,
                    actor: r.get(13)?,
                    job_path: r.get(14)?,
                    sql_digest: r.get(15)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// The exact input versions a run read, sorted.
    pub(crate) fn run_inputs(&self, run_id: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT d.zone || '.' || d.name || '@v' || v.version
                 FROM run_inputs ri JOIN versions v ON v.id = ri.version_id
                 JOIN datasets d ON d.id = v.dataset_id
                 WHERE ri.run_id = ?1 ORDER BY 1",
            )
            .map_err(self.err())?;
        let rows = stmt.query_map([run_id], |r| r.get(0)).map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }
}

/// A named stream's committed position.
#[derive(Debug, Clone, Serialize)]
pub struct StreamRow {
    /// The stream's name.
    pub name: String,
    /// The dataset it writes.
    pub dataset: String,
    /// Records committed, counted from 0: the offset a producer resumes from.
    pub position: u64,
    /// Batches committed.
    pub batches: u64,
    /// The last version it committed.
    #[serde(rename = "ref")]
    pub last_version: Option<String>,
    /// When it last committed.
    pub updated_at: String,
    /// `records` (a pipe: the position counts records) or `files` (a watch: it counts files).
    pub kind: String,
    /// The watched folder or prefix.
    pub source: Option<String>,
    /// Files of a watch that could not be ingested.
    pub dead_letters: u64,
}

/// A file a watch has seen: ingested into a version, or a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamFile {
    /// The file's key.
    pub key: String,
    /// Its size when seen.
    pub size: u64,
    /// Its modification time when seen.
    pub modified: String,
    /// Its ETag, where the store has one.
    pub etag: Option<String>,
    /// Its sha256, once read.
    pub sha256: Option<String>,
    /// `ingested` or `dead`.
    pub status: String,
    /// The version that holds its rows.
    #[serde(rename = "ref")]
    pub version: Option<String>,
    /// Why it could not be ingested.
    pub error: Option<String>,
    /// When it was recorded.
    pub at: String,
}

/// A file a watch could not ingest, for `lake status`.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// The watch's stream.
    pub stream: String,
    /// The dataset it writes.
    pub dataset: String,
    /// The file's key.
    pub key: String,
    /// Why it could not be ingested.
    pub error: String,
    /// When.
    pub at: String,
}

impl Tx<'_> {
    pub(crate) fn stream(&self, name: &str) -> Result<Option<StreamRow>> {
        self.conn
            .query_row(
                "SELECT s.name, s.dataset, s.position, s.batches,
                        (SELECT d.zone || '.' || d.name || '@v' || v.version
                         FROM versions v JOIN datasets d ON d.id = v.dataset_id
                         WHERE v.id = s.last_version_id),
                        s.updated_at, s.kind, s.source,
                        (SELECT count(*) FROM stream_files f
                         WHERE f.stream = s.name AND f.status = 'dead')
                 FROM streams s WHERE s.name = ?1",
                [name],
                |r| {
                    Ok(StreamRow {
                        name: r.get(0)?,
                        dataset: r.get(1)?,
                        position: r.get::<_, i64>(2)? as u64,
                        batches: r.get::<_, i64>(3)? as u64,
                        last_version: r.get(4)?,
                        updated_at: r.get(5)?,
                        kind: r.get(6)?,
                        source: r.get(7)?,
                        dead_letters: r.get::<_, i64>(8)? as u64,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Move stream `name` from `from` to `to` records, as committed by `version_id`; `false` if
    /// it is not at `from` any more (another writer moved it).
    pub(crate) fn advance_stream(
        &self,
        name: &str,
        dataset: &str,
        (from, to): (u64, u64),
        version_id: i64,
        now: &str,
    ) -> Result<bool> {
        self.advance(
            name,
            dataset,
            ("records", None),
            (from, to),
            version_id,
            now,
        )
    }

    /// Move stream `name` as [`Tx::advance_stream`] does; a new stream is created as `kind`
    /// (`records` or `files`) reading `source`.
    pub(crate) fn advance(
        &self,
        name: &str,
        dataset: &str,
        (kind, source): (&str, Option<&str>),
        (from, to): (u64, u64),
        version_id: i64,
        now: &str,
    ) -> Result<bool> {
        let moved = self
            .conn
            .execute(
                "UPDATE streams SET position = ?3, batches = batches + 1, last_version_id = ?4,
                                    updated_at = ?5
                 WHERE name = ?1 AND position = ?2",
                params![name, from as i64, to as i64, version_id, now],
            )
            .map_err(self.err())?;
        if moved == 1 || from != 0 {
            return Ok(moved == 1);
        }
        let n = self
            .conn
            .execute(
                "INSERT INTO streams (name, dataset, position, batches, last_version_id, updated_at,
                                      kind, source)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO NOTHING",
                params![name, dataset, to as i64, version_id, now, kind, source],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Create stream `name` (position 0) unless it exists.
    pub(crate) fn open_stream(
        &self,
        name: &str,
        dataset: &str,
        kind: &str,
        source: &str,
        now: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO streams (name, dataset, position, batches, updated_at, kind, source)
                 VALUES (?1, ?2, 0, 0, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
                params![name, dataset, now, kind, source],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Every file watch `stream` has seen, by key.
    pub(crate) fn stream_files(&self, stream: &str) -> Result<Vec<StreamFile>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT f.key, f.size, f.modified, f.etag, f.sha256, f.status,
                        (SELECT d.zone || '.' || d.name || '@v' || v.version
                         FROM versions v JOIN datasets d ON d.id = v.dataset_id
                         WHERE v.id = f.version_id),
                        f.error, f.at
                 FROM stream_files f WHERE f.stream = ?1 ORDER BY f.key",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([stream], |r| {
                Ok(StreamFile {
                    key: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    modified: r.get(2)?,
                    etag: r.get(3)?,
                    sha256: r.get(4)?,
                    status: r.get(5)?,
                    version: r.get(6)?,
                    error: r.get(7)?,
                    at: r.get(8)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Record `file` as seen by watch `stream` (replacing an earlier dead letter of its key);
    /// `false` if the key is already ingested (another watcher recorded it first).
    pub(crate) fn record_stream_file(
        &self,
        stream: &str,
        file: &StreamFile,
        version_id: Option<i64>,
    ) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "INSERT INTO stream_files (stream, key, size, modified, etag, sha256, status,
                                           version_id, error, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (stream, key) DO UPDATE SET
                     size = excluded.size, modified = excluded.modified, etag = excluded.etag,
                     sha256 = excluded.sha256, status = excluded.status,
                     version_id = excluded.version_id, error = excluded.error, at = excluded.at
                 WHERE stream_files.status = 'dead'",
                params![
                    stream,
                    file.key,
                    file.size as i64,
                    file.modified,
                    file.etag,
                    file.sha256,
                    file.status,
                    version_id,
                    file.error,
                    file.at
                ],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// The source a version's own operation added under `uri`: its sha256 and size.
    pub(crate) fn added_source(&self, version_id: i64, uri: &str) -> Result<Option<(String, u64)>> {
        self.conn
            .query_row(
                "SELECT s.sha256, s.size
                 FROM versions v
                 JOIN source_spans sp ON sp.dataset_id = v.dataset_id AND sp.added_in = v.version
                 JOIN sources s ON s.id = sp.source_id
                 WHERE v.id = ?1 AND s.uri = ?2",
                params![version_id, uri],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
            )
            .optional()
            .map_err(self.err())
    }

    /// Files watches could not ingest, newest first.
    pub(crate) fn dead_letters(&self, limit: u64) -> Result<Vec<DeadLetter>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT f.stream, s.dataset, f.key, coalesce(f.error, ''), f.at
                 FROM stream_files f JOIN streams s ON s.name = f.stream
                 WHERE f.status = 'dead' ORDER BY f.at DESC, f.key LIMIT ?1",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(DeadLetter {
                    stream: r.get(0)?,
                    dataset: r.get(1)?,
                    key: r.get(2)?,
                    error: r.get(3)?,
                    at: r.get(4)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }
}
