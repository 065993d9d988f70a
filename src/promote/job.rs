//! Job files: `jobs/<zone>/<name>.sql`, a header of `-- key: value` comments, then one SELECT.
//!
//! ```sql
//! -- description: Orders, one row per order with its latest status; emails masked.
//! -- check: not_null(order_id)
//! -- check: unique(order_id)
//! -- check: accepted_values(status, ['paid', 'shipped', 'pending', 'cancelled', 'refunded'])
//! -- check: range(amount, -10000, 10000)
//! -- check: row_count(1, 10000000)
//! -- check: sql: SELECT * FROM result WHERE amount < 0 AND status <> 'refunded'
//! -- check[warn]: not_null(email)
//! -- pin: bronze.customers@v3
//! -- allow: breaking_change
//! -- schedule: cron: "0 3 * * *", tz: Europe/Paris
//! -- require: bronze.orders rows >= 1000
//! -- retries: 3
//! -- retry_delay: 30s
//! -- timeout: 10m
//! SELECT …
//! ```
//! The header ends at the first line that is neither a comment nor blank. Other comments are
//! free text. The SQL's line numbers are the file's, so parser errors point into the file.
//! The scheduling keys are read by [`super::policy`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::hash::sha256_hex;
use crate::ident::{DatasetRef, Selector, Zone};

use super::checks::Check;
use super::policy::{PartitionBy, Policy, Require, Trigger, parse_duration};

/// A check of the job's result: `check:` blocks the commit when it fails, `check[warn]:` only
/// records the failure.
#[derive(Debug, Clone)]
pub struct JobCheck {
    /// The check.
    pub check: Check,
    /// A failure only warns (`check[warn]:`); it does not block the commit.
    pub warn: bool,
}

/// A SQL job: `jobs/<zone>/<name>.sql` with its header.
#[derive(Debug, Clone)]
pub struct Job {
    /// The dataset the job writes: `<zone>.<name>` from its path.
    pub output: DatasetRef,
    /// As found, relative to the project folder: `jobs/silver/orders_clean.sql`.
    pub path: PathBuf,
    /// The whole file.
    pub text: String,
    /// The sha256 of its SQL, as the runs record it.
    pub sql_digest: String,
    /// `-- description:`.
    pub description: Option<String>,
    /// `-- check:` and `-- check[warn]:` lines.
    pub checks: Vec<JobCheck>,
    /// Inputs held at a version by the header (`-- pin: bronze.orders@v3`).
    pub pins: BTreeMap<DatasetRef, Selector>,
    /// `-- allow_breaking: true`: a breaking schema change commits without approval.
    pub allow_breaking: bool,
    /// When `lake run` considers it, what must hold first, retries and time limit.
    pub policy: Policy,
    /// `-- partition_by: day(order_ts)`: each file of the output holds one partition, and
    /// `lake backfill` rewrites partitions one by one.
    pub partition_by: Option<PartitionBy>,
    /// `-- freshness: 26h`: its latest version should be no older than this (`lake status`).
    pub freshness: Option<std::time::Duration>,
}

/// Every `*.sql` under `jobs_dir/<zone>/`, sorted by path.
pub fn discover(project: &Path, jobs_dir: &str) -> Result<Vec<Job>> {
    let root = project.join(jobs_dir);
    let mut jobs = Vec::new();
    let Ok(zones) = std::fs::read_dir(&root) else {
        return Ok(jobs);
    };
    let mut paths = Vec::new();
    for zone in zones.flatten() {
        let zone_path = zone.path();
        if !zone_path.is_dir() {
            continue;
        }
        let files = std::fs::read_dir(&zone_path).map_err(|source| Error::Io {
            path: zone_path.clone(),
            source,
        })?;
        for f in files.flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "sql") {
                paths.push(p);
            }
        }
    }
    paths.sort();
    for p in paths {
        let relative = p.strip_prefix(project).unwrap_or(&p).to_path_buf();
        jobs.push(load(&p, relative)?);
    }
    Ok(jobs)
}

/// Read and parse one job file.
pub fn load(path: &Path, relative: PathBuf) -> Result<Job> {
    let invalid = |problem: String| Error::JobInvalid {
        path: relative.clone(),
        problem,
    };
    let zone = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|z| z.to_str())
        .unwrap_or_default();
    let name = path
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let output: DatasetRef = format!("{zone}.{name}").parse().map_err(|e: Error| {
        invalid(format!(
            "the path must be jobs/<zone>/<name>.sql naming a dataset: {e}"
        ))
    })?;
    if output.zone == Zone::Bronze {
        return Err(invalid(
            "bronze receives only `lake ingest`; promote jobs write silver or gold".into(),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: relative.clone(),
        source,
    })?;
    let mut job = Job {
        output,
        sql_digest: sha256_hex(text.as_bytes()),
        path: relative.clone(),
        description: None,
        checks: Vec::new(),
        pins: BTreeMap::new(),
        allow_breaking: false,
        policy: Policy::default(),
        partition_by: None,
        freshness: None,
        text: String::new(),
    };
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let Some(comment) = trimmed.strip_prefix("--") else {
            break;
        };
        let Some((key, value)) = comment.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let at_line = |problem: String| invalid(format!("line {}: {problem}", i + 1));
        match key {
            "description" => job.description = Some(value.to_string()),
            "check" | "check[warn]" => job.checks.push(JobCheck {
                check: Check::parse(value).map_err(at_line)?,
                warn: key == "check[warn]",
            }),
            "pin" => {
                let r: DatasetRef = value.parse().map_err(|e: Error| at_line(e.to_string()))?;
                let selector = r.selector.clone().ok_or_else(|| {
                    at_line(format!(
                        "`pin: {value}` needs a version, such as `{value}@v3`"
                    ))
                })?;
                job.pins.insert(r.dataset(), selector);
            }
            "allow" => match value {
                "breaking_change" => job.allow_breaking = true,
                other => {
                    return Err(at_line(format!(
                        "unknown `allow: {other}`; the one allowance is `breaking_change`"
                    )));
                }
            },
            "schedule" => job.policy.trigger = Trigger::parse(value).map_err(at_line)?,
            "require" => job
                .policy
                .requires
                .push(Require::parse(value).map_err(at_line)?),
            "retries" => {
                job.policy.retries = value.parse().ok().filter(|n| *n <= 100).ok_or_else(|| {
                    at_line(format!(
                        "`retries: {value}` needs a whole number from 0 to 100"
                    ))
                })?
            }
            "freshness" => job.freshness = Some(parse_duration(value).map_err(at_line)?),
            "partition_by" => job.partition_by = Some(PartitionBy::parse(value).map_err(at_line)?),
            "retry_delay" => job.policy.retry_delay = parse_duration(value).map_err(at_line)?,
            "timeout" => {
                let d = parse_duration(value).map_err(at_line)?;
                if d.is_zero() {
                    return Err(at_line("`timeout:` needs a positive duration".into()));
                }
                job.policy.timeout = Some(d);
            }
            // Free text that happens to contain a colon (`-- Note: …`): directives are lowercase words.
            k if !k.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {}
            other => {
                return Err(at_line(format!(
                    "unknown header key `{other}`; expected description, check, pin, allow, schedule, require, retries, retry_delay, timeout, partition_by or freshness"
                )));
            }
        }
    }
    job.text = text;
    Ok(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "jobs/silver/orders_clean.sql",
            "-- description: Clean orders\n-- Note: free text\n-- check: not_null(order_id)\n-- pin: bronze.orders@v3\n-- allow: breaking_change\n\nSELECT 1\n-- check: ignored after the header\n",
        );
        let job = load(&p, "jobs/silver/orders_clean.sql".into()).unwrap();
        assert_eq!(job.output.to_string(), "silver.orders_clean");
        assert_eq!(job.description.as_deref(), Some("Clean orders"));
        assert_eq!(job.checks.len(), 1);
        assert!(job.allow_breaking);
        assert_eq!(job.pins.len(), 1);
    }

    #[test]
    fn refuses_bronze_jobs_and_bad_headers() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "jobs/bronze/x.sql", "SELECT 1");
        assert!(
            load(&p, "jobs/bronze/x.sql".into())
                .unwrap_err()
                .to_string()
                .contains("bronze receives only")
        );
        let p = write(
            dir.path(),
            "jobs/silver/y.sql",
            "-- chek: not_null(a)\nSELECT 1",
        );
        let err = load(&p, "jobs/silver/y.sql".into())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 1") && err.contains("unknown header key `chek`"),
            "{err}"
        );
        let p = write(
            dir.path(),
            "jobs/silver/z.sql",
            "-- pin: bronze.orders\nSELECT 1",
        );
        assert!(
            load(&p, "jobs/silver/z.sql".into())
                .unwrap_err()
                .to_string()
                .contains("needs a version")
        );
    }
}
