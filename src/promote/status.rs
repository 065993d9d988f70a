//! `lake status`: what needs attention, in one place: jobs whose inputs moved on, jobs waiting
//! on a requirement or failing, datasets past their freshness, versions the rules would archive,
//! the scheduler's lease and the lock files that hold versions.

use std::time::Duration;

use serde::Serialize;

use super::JobStatus;
use super::scheduler::SCHEDULER_LEASE;
use crate::archive::VersionMove;
use crate::clock;
use crate::error::{Error, Result};
use crate::ident::{DatasetRef, format_age, parse_age};
use crate::lake::Lake;

/// What needs attention (`lake status`).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The lake's clock when this was taken.
    pub at: String,
    /// The scheduler (`lake run --watch`) and its lease.
    pub scheduler: SchedulerState,
    /// Each job's state.
    pub jobs: Vec<JobState>,
    /// Each dataset `[freshness]` names.
    pub freshness: Vec<Freshness>,
    /// Versions `lake archive` would move now, by the rules.
    pub archive_candidates: Vec<VersionMove>,
    /// The lock files that hold versions.
    pub lock_files: Vec<LockFile>,
    /// Files watches could not ingest (newest first, at most 100).
    pub dead_letters: Vec<crate::catalog::DeadLetter>,
    /// Things to act on: stale, waiting or failing jobs, freshness breaches, stale holds,
    /// dead letters and a dead scheduler's lease.
    pub attention: usize,
}

/// The scheduler's lease.
#[derive(Debug, Clone, Serialize)]
pub struct SchedulerState {
    /// `running`, `not_running`, or `dead` (a lease whose holder is gone; the next scheduler
    /// takes it over).
    pub state: &'static str,
    /// The process holding it.
    pub pid: Option<u32>,
    /// Its host.
    pub host: Option<String>,
    /// Since when it holds it.
    pub since: Option<String>,
}

/// One job's state.
#[derive(Debug, Clone, Serialize)]
pub struct JobState {
    /// The dataset it writes.
    pub job: String,
    /// `up_to_date`, `stale` (an input has a version its last success did not read, or its SQL
    /// changed), `waiting` (a requirement does not hold), `failing` (its last run failed).
    pub state: &'static str,
    /// Why, in a line.
    pub detail: Option<String>,
    /// The exact inputs a run would read now.
    pub inputs: Vec<String>,
    /// Its last run's id.
    pub last_run: Option<i64>,
}

/// How old a dataset's latest version is against its `[freshness]` limit.
#[derive(Debug, Clone, Serialize)]
pub struct Freshness {
    /// The dataset.
    pub dataset: String,
    /// Its latest version, if any.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// That version's age in seconds.
    pub age_s: Option<u64>,
    /// The limit in seconds.
    pub limit_s: u64,
    /// The latest version is older than the limit (or there is none).
    pub breached: bool,
}

/// A lock file that holds versions.
#[derive(Debug, Clone, Serialize)]
pub struct LockFile {
    /// Its path.
    pub path: String,
    /// The versions it pins.
    pub versions: Vec<String>,
    /// The file is gone but its holds remain, keeping those versions from being archived.
    pub missing: bool,
}

impl Lake {
    /// See the module docs.
    pub async fn status(&self) -> Result<Status> {
        let now = self.clock().now();
        let plan = self.promote().with_dry_run(true).execute().await?;
        let jobs_found = super::job::discover(self.dir(), &self.config().promote.jobs_dir)?;
        let (scheduler, mut jobs, lock_files) = {
            let catalog = self.catalog();
            let tx = catalog.reader();
            let scheduler = match tx.lease_holder(SCHEDULER_LEASE)? {
                None => SchedulerState {
                    state: "not_running",
                    pid: None,
                    host: None,
                    since: None,
                },
                Some(h) => SchedulerState {
                    state: if h.owner.is_alive(chrono::Utc::now()) {
                        "running"
                    } else {
                        "dead"
                    },
                    pid: Some(h.owner.pid),
                    host: Some(h.owner.host.clone()),
                    since: Some(h.acquired_at.clone()),
                },
            };
            let mut jobs = Vec::with_capacity(plan.jobs.len());
            for r in &plan.jobs {
                let name = r.job.to_string();
                let last = tx.last_run(&name)?;
                let mut state = JobState {
                    job: name,
                    state: if r.status == JobStatus::UpToDate {
                        "up_to_date"
                    } else {
                        "stale"
                    },
                    detail: None,
                    inputs: r.inputs.clone(),
                    last_run: last.as_ref().map(|l| l.id),
                };
                if state.state == "stale" {
                    state.detail = Some(match &last {
                        None => "never ran".into(),
                        Some(_) => format!("would run on {}", r.inputs.join(", ")),
                    });
                }
                match last.as_ref().map(|l| l.status.as_str()) {
                    Some("waiting") => {
                        state.state = "waiting";
                        state.detail = last.as_ref().and_then(|l| l.error.clone());
                    }
                    Some("failed" | "timed_out") => {
                        state.state = "failing";
                        state.detail = last.as_ref().and_then(|l| l.error.clone());
                    }
                    _ => {}
                }
                jobs.push(state);
            }
            let lock_files = tx
                .lock_files()?
                .into_iter()
                .map(|(path, versions)| LockFile {
                    missing: !std::path::Path::new(&path).exists(),
                    path,
                    versions,
                })
                .collect::<Vec<_>>();
            (scheduler, jobs, lock_files)
        };
        jobs.sort_by(|a, b| a.job.cmp(&b.job));

        let freshness = self.freshness_of(&jobs_found, now)?;

        let archive_candidates = self
            .archive_versions()
            .with_dry_run(true)
            .execute()
            .await?
            .archived;
        let dead_letters = self.dead_letters(100)?;
        let attention = jobs.iter().filter(|j| j.state != "up_to_date").count()
            + dead_letters.len()
            + freshness.iter().filter(|f| f.breached).count()
            + lock_files.iter().filter(|l| l.missing).count()
            + usize::from(scheduler.state == "dead");
        Ok(Status {
            at: clock::timestamp(now),
            scheduler,
            jobs,
            freshness,
            archive_candidates,
            lock_files,
            dead_letters,
            attention,
        })
    }

    /// Every dataset with a freshness limit (`[freshness]` in lake.toml, then each job's
    /// `-- freshness:`), its latest version's age and whether it is past the limit.
    pub fn freshness(&self) -> Result<Vec<Freshness>> {
        let jobs = super::job::discover(self.dir(), &self.config().promote.jobs_dir)?;
        self.freshness_of(&jobs, self.clock().now())
    }

    fn freshness_of(
        &self,
        jobs_found: &[super::job::Job],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Freshness>> {
        let mut limits: Vec<(String, u64)> = self
            .config()
            .freshness
            .iter()
            .map(|(d, age)| Ok((d.clone(), parse_age(age)?)))
            .collect::<Result<_>>()?;
        for j in jobs_found {
            if let Some(f) = j.freshness {
                limits.push((j.output.to_string(), f.as_secs()));
            }
        }
        limits.sort();
        limits.dedup_by(|a, b| a.0 == b.0);
        let mut freshness = Vec::with_capacity(limits.len());
        for (dataset, limit_s) in limits {
            let r: DatasetRef = dataset.parse()?;
            let latest = match self.resolve(&r) {
                Ok(v) => Some(v),
                Err(Error::DatasetNotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            let age_s = latest.as_ref().map(|v| {
                let created = clock::parse_timestamp(&v.created_at).unwrap_or(now);
                (now - created).to_std().unwrap_or(Duration::ZERO).as_secs()
            });
            freshness.push(Freshness {
                dataset,
                reference: latest.map(|v| v.reference().to_string()),
                breached: age_s.is_none_or(|a| a > limit_s),
                age_s,
                limit_s,
            });
        }
        Ok(freshness)
    }
}

/// `26h` for a number of seconds, as the status prints ages.
pub fn age(seconds: u64) -> String {
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 120 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 72 {
        return format!("{hours}h");
    }
    format_age((hours / 24) * 86_400)
}
