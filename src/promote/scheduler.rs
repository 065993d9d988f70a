//! `lake run`: the jobs run by themselves, when their schedules and their data say so.
//!
//! A pass looks at every selected job in dependency order. A job is *due* by its trigger
//! ([`Trigger`]): on every pass (`on_new_input`), at each cron slot, or once a duration has passed
//! since its last success. A due job runs unless it is up to date (same SQL, same input versions
//! as its last success), its requirements do not hold yet (it is recorded `waiting`), or its
//! last run already failed on exactly these inputs (it is *held* until an input changes or
//! `lake retry` asks again). Jobs whose upstream jobs in the pass are done start at once, up to
//! `max_parallel` together; a failure skips what reads it. A failed attempt is retried after an
//! exponential, jittered delay on the same input versions; an attempt past its `timeout` is
//! cancelled, its write removed, and recorded `timed_out`.
//!
//! One scheduler runs per lake: it holds the `scheduler` lease in the catalog for as long as its
//! process lives, and a second one waits (or, with `--once`, says who holds it and stops). A
//! holder killed outright is seen dead at once on its own host (the process table) and after the
//! owner heartbeat's lease elsewhere.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use tokio::sync::watch;

use super::policy::{Require, Trigger};
use super::{Attempt, Job, JobReport, JobStatus, Prepared, Promote, PromoteReport, Stop};
use crate::catalog::LeaseHolder;
use crate::clock;
use crate::error::{Error, Result};
use crate::ident::Selector;
use crate::lake::Lake;

/// The catalog lease one scheduler per lake holds.
pub const SCHEDULER_LEASE: &str = "scheduler";

/// What a scheduler tells as it works.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An attempt starts: it is not up to date and its inputs are resolved.
    Start {
        /// The job (the dataset it writes).
        job: String,
        /// The attempt, from 1.
        attempt: u32,
        /// What made it due: `on_new_input`, `cron`, `after` or `retry`.
        trigger: &'static str,
        /// The exact inputs, `bronze.orders@v3`.
        inputs: Vec<String>,
    },
    /// An attempt ended (in any way).
    Finished {
        /// How the attempt ended.
        report: Box<JobReport>,
    },
    /// A failed attempt will be tried again after `delay_ms`.
    Retrying {
        /// The job.
        job: String,
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next, in milliseconds.
        delay_ms: u64,
    },
    /// Another scheduler holds the lease; this one waits for it.
    LeaseHeld {
        /// The process holding it.
        pid: u32,
        /// Its host.
        host: String,
        /// Since when.
        since: String,
    },
}

/// Called with each [`Event`] as a pass goes.
pub type EventFn = Arc<dyn Fn(&Event) + Send + Sync>;

/// What one pass did, job by job.
#[derive(Debug, Clone, Serialize)]
pub struct PassReport {
    /// Jobs that were due and considered; jobs not due are left out.
    #[serde(flatten)]
    pub promote: PromoteReport,
    /// Jobs due but held back by a `require:` that does not hold yet.
    pub waiting: usize,
    /// Jobs held because their last run failed on the same inputs.
    pub held: usize,
    /// When the pass looked at the schedules (the lake's clock).
    pub at: String,
}

/// A run, its checks (failing ones with sample rows) and all attempts of the same first run.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: crate::catalog::RunSummary,
    /// Its checks, failing ones with sample rows.
    pub checks: Vec<crate::catalog::CheckRow>,
    /// The first attempt and its retries, in order (this run among them).
    pub attempts: Vec<crate::catalog::RunSummary>,
}

impl Lake {
    /// A scheduler over the project's jobs; see the module docs.
    #[must_use]
    pub fn scheduler(&self) -> Scheduler<'_> {
        Scheduler {
            promote: self.promote(),
            max_parallel: 1,
            on_event: None,
            shutdown: None,
        }
    }

    /// Take lease `name` unless a live owner holds it; who does, if one does.
    pub(crate) fn take_lease(&self, name: &str) -> Result<Option<LeaseHolder>> {
        let me = self.owner()?;
        self.catalog().write(|tx| {
            self.keep_owner(tx)?;
            let now = chrono::Utc::now();
            match tx.lease_holder(name)? {
                Some(h) if h.owner.id == me => Ok(None),
                Some(h) if h.owner.is_alive(now) => Ok(Some(h)),
                _ => {
                    tx.put_lease(name, &me, &clock::timestamp(now))?;
                    Ok(None)
                }
            }
        })
    }

    /// Run a run's job again on exactly the input versions that run read (the job's SQL as it
    /// is now), recorded as the next attempt of that run.
    pub async fn retry(&self, run_id: i64) -> Result<JobReport> {
        let (run, inputs, attempts) = {
            let catalog = self.catalog();
            let tx = catalog.reader();
            let run = tx.run(run_id)?.ok_or(Error::RunNotFound { id: run_id })?;
            let first = run.retry_of.unwrap_or(run.id);
            (run, tx.run_inputs(run_id)?, tx.last_attempt(first)?)
        };
        let promote = self.promote().with_select(vec![run.job.clone()]);
        let prepared = promote.prepare()?;
        let Some(&i) = prepared
            .plan
            .iter()
            .find(|&&i| prepared.jobs[i].output.to_string() == run.job)
        else {
            return Err(Error::JobGone {
                id: run_id,
                job: run.job,
            });
        };
        let mut attempt = Attempt::first("retry");
        attempt.number = attempts + 1;
        attempt.retry_of = Some(run.retry_of.unwrap_or(run.id));
        for input in &inputs {
            let r: crate::ident::DatasetRef = input.parse()?;
            if let Some(selector) = r.selector.clone() {
                attempt.pins.insert(r.dataset(), selector);
            }
        }
        let job = &prepared.jobs[i];
        match promote
            .run(job, &prepared.parsed[i], &prepared.planned, &attempt)
            .await
        {
            Ok(report) => Ok(report),
            Err(failure) => promote.fail(job, failure, &attempt),
        }
    }

    /// One run as `lake show run ID` tells it: the run, its checks, and every attempt of it.
    pub fn run_detail(&self, id: i64) -> Result<RunDetail> {
        let catalog = self.catalog();
        let tx = catalog.reader();
        let run = tx.run_summary(id)?.ok_or(Error::RunNotFound { id })?;
        let attempts = tx.attempts(run.retry_of.unwrap_or(run.id))?;
        Ok(RunDetail {
            checks: tx.run_checks(id)?,
            attempts,
            run,
        })
    }

    /// Runs of jobs, newest first, as `lake runs` lists them.
    pub fn runs(
        &self,
        filter: &crate::catalog::RunFilter,
    ) -> Result<Vec<crate::catalog::RunSummary>> {
        self.catalog().reader().list_runs(filter)
    }

    pub(crate) fn release_lease(&self, name: &str) -> Result<()> {
        let me = self.owner()?;
        self.catalog().write(|tx| tx.release_lease(name, &me))
    }
}

/// `lake run`: passes over the jobs that are due, made by [`Lake::scheduler`].
pub struct Scheduler<'a> {
    promote: Promote<'a>,
    max_parallel: usize,
    on_event: Option<EventFn>,
    shutdown: Option<watch::Receiver<bool>>,
}

/// Why a due job does not run now.
enum Decision {
    NotDue,
    Run {
        trigger: &'static str,
        slot: Option<DateTime<Utc>>,
    },
}

impl<'a> Scheduler<'a> {
    /// Consider only the jobs these selectors pick.
    pub fn with_select(mut self, selectors: Vec<String>) -> Self {
        self.promote = self.promote.with_select(selectors);
        self
    }
    /// Leave out the jobs these selectors pick.
    pub fn with_exclude(mut self, selectors: Vec<String>) -> Self {
        self.promote = self.promote.with_exclude(selectors);
        self
    }
    /// Independent jobs run together, up to `n` at a time.
    pub fn with_max_parallel(mut self, n: usize) -> Self {
        self.max_parallel = n.max(1);
        self
    }
    /// Call `f` with each [`Event`].
    pub fn with_on_event(mut self, f: EventFn) -> Self {
        self.on_event = Some(f);
        self
    }
    /// Once this turns true, running jobs are cancelled (their writes removed, recorded
    /// `cancelled`) and nothing new starts.
    pub fn with_shutdown(mut self, rx: watch::Receiver<bool>) -> Self {
        self.shutdown = Some(rx);
        self
    }

    fn lake(&self) -> &'a Lake {
        self.promote.lake
    }

    fn emit(&self, e: Event) {
        if let Some(f) = &self.on_event {
            f(&e);
        }
    }

    fn shutting_down(&self) -> bool {
        self.shutdown.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// Take the scheduler lease, waiting for it while another live scheduler holds it (each
    /// wait is told once). `Ok(false)`: shut down while waiting. With `wait` false, the holder
    /// is an error.
    pub async fn acquire(&self, wait: bool) -> Result<bool> {
        let mut told = None;
        loop {
            let Some(holder) = self.lake().take_lease(SCHEDULER_LEASE)? else {
                return Ok(true);
            };
            if !wait {
                return Err(Error::SchedulerRunning {
                    pid: holder.owner.pid,
                    host: holder.owner.host,
                    since: holder.acquired_at,
                    command: holder.command,
                });
            }
            if told.as_ref() != Some(&holder.owner.id) {
                told = Some(holder.owner.id.clone());
                self.emit(Event::LeaseHeld {
                    pid: holder.owner.pid,
                    host: holder.owner.host.clone(),
                    since: holder.acquired_at.clone(),
                });
            }
            if self.sleep(Duration::from_millis(500)).await {
                return Ok(false);
            }
        }
    }

    /// Give up the scheduler's lease, so another scheduler may take it at once.
    pub fn release(&self) -> Result<()> {
        self.lake().release_lease(SCHEDULER_LEASE)
    }

    /// Sleep, or stop early at shutdown; `true` if shut down.
    async fn sleep(&self, d: Duration) -> bool {
        match &self.shutdown {
            None => {
                tokio::time::sleep(d).await;
                false
            }
            Some(rx) => {
                let mut rx = rx.clone();
                let stopped = tokio::select! {
                    _ = tokio::time::sleep(d) => None,
                    r = rx.wait_for(|stop| *stop) => Some(r.is_ok()),
                };
                stopped.unwrap_or_else(|| *rx.borrow())
            }
        }
    }

    /// Sleep until the next pass is due: `every`, or earlier for a cron slot or an `after:`
    /// deadline that comes first. `true` if shut down meanwhile.
    pub async fn wait_for_next(&self, every: Duration) -> Result<bool> {
        let Ok(prepared) = self.promote.prepare() else {
            return Ok(self.sleep(every).await);
        };
        let now = self.lake().clock().now();
        let mut wait = every;
        for &i in &prepared.plan {
            if let Trigger::Cron { .. } = prepared.jobs[i].policy.trigger
                && let Some(next) = prepared.jobs[i].policy.trigger.next_slot(now)
            {
                wait = wait.min((next - now).to_std().unwrap_or_default());
            }
        }
        Ok(self.sleep(wait.max(Duration::from_millis(50))).await)
    }

    /// One pass over the selected jobs; see the module docs.
    pub async fn pass(&self) -> Result<PassReport> {
        let started = Instant::now();
        let prepared = self.promote.prepare()?;
        let lake = self.lake();
        let now = lake.clock().now();
        let plan = &prepared.plan;
        let position: HashMap<usize, usize> =
            plan.iter().enumerate().map(|(p, &i)| (i, p)).collect();
        // Per plan position: still to consider, and the upstream jobs in the plan not yet done.
        let mut waiting_on: Vec<usize> = plan
            .iter()
            .map(|&i| {
                prepared
                    .graph
                    .upstream(i)
                    .iter()
                    .filter(|j| position.contains_key(j))
                    .count()
            })
            .collect();
        let mut blocked: HashMap<usize, String> = HashMap::new();
        let mut started_jobs = vec![false; plan.len()];
        let mut reports: Vec<(usize, JobReport)> = Vec::new();
        let (mut waiting, mut held) = (0, 0);
        let mut running = FuturesUnordered::new();
        // The first error of the pass: nothing new starts, and jobs already running finish
        // (and commit or remove their writes) before it is returned.
        let mut failure: Option<Error> = None;
        macro_rules! or_stop {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => {
                        failure.get_or_insert(e);
                        break;
                    }
                }
            };
        }
        loop {
            // Start every job whose upstream is done, while there is room.
            let mut p = 0;
            while p < plan.len()
                && running.len() < self.max_parallel
                && !self.shutting_down()
                && failure.is_none()
            {
                if started_jobs[p] || waiting_on[p] > 0 {
                    p += 1;
                    continue;
                }
                started_jobs[p] = true;
                let i = plan[p];
                let job = &prepared.jobs[i];
                if let Some(upstream) = blocked.get(&i) {
                    let report = or_stop!(self.promote.skip(
                        job,
                        upstream,
                        &Attempt::first("on_new_input")
                    ));
                    self.emit(Event::Finished {
                        report: Box::new(report.clone()),
                    });
                    reports.push((p, report));
                    self.done(&prepared, &position, &mut waiting_on, i);
                    continue;
                }
                match or_stop!(self.decide(job, now)) {
                    Decision::NotDue => self.done(&prepared, &position, &mut waiting_on, i),
                    Decision::Run { trigger, slot } => {
                        if let Some(reason) = or_stop!(self.unmet(job, now).await) {
                            let report = or_stop!(self.wait(job, trigger, reason));
                            waiting += 1;
                            self.emit(Event::Finished {
                                report: Box::new(report.clone()),
                            });
                            reports.push((p, report));
                            self.done(&prepared, &position, &mut waiting_on, i);
                            continue;
                        }
                        let prepared = &prepared;
                        running.push(async move {
                            let r = self.attempts(prepared, i, trigger, None).await;
                            (p, i, slot, r)
                        });
                    }
                }
            }
            let Some((p, i, slot, report)) = running.next().await else {
                break;
            };
            let report = match report {
                Ok(r) => r,
                Err(e) => {
                    failure.get_or_insert(e);
                    continue;
                }
            };
            let job = &prepared.jobs[i];
            if let Some(slot) = slot
                && report.status != JobStatus::Cancelled
                && let Err(e) = lake
                    .catalog()
                    .write(|tx| tx.set_last_slot(&job.output.to_string(), &clock::timestamp(slot)))
            {
                failure.get_or_insert(e);
            }
            match report.status {
                JobStatus::Failed | JobStatus::TimedOut | JobStatus::Cancelled => {
                    for d in prepared.graph.dependents(i) {
                        blocked.entry(d).or_insert_with(|| job.output.to_string());
                    }
                }
                JobStatus::Held => held += 1,
                _ => {}
            }
            reports.push((p, report));
            self.done(&prepared, &position, &mut waiting_on, i);
        }
        if let Some(e) = failure {
            return Err(e);
        }
        reports.sort_by_key(|(p, _)| *p);
        Ok(PassReport {
            promote: PromoteReport::of(reports.into_iter().map(|(_, r)| r).collect(), started),
            waiting,
            held,
            at: clock::timestamp(now),
        })
    }

    /// Job `i` is done for this pass: its dependents wait on one fewer.
    fn done(
        &self,
        prepared: &Prepared,
        position: &HashMap<usize, usize>,
        waiting_on: &mut [usize],
        i: usize,
    ) {
        for d in prepared.graph.downstream(i) {
            if let Some(&p) = position.get(&d) {
                waiting_on[p] = waiting_on[p].saturating_sub(1);
            }
        }
    }

    /// Is the job due now by its trigger?
    fn decide(&self, job: &Job, now: DateTime<Utc>) -> Result<Decision> {
        let name = job.output.to_string();
        let reader = self.lake().catalog();
        let tx = reader.reader();
        Ok(match &job.policy.trigger {
            Trigger::OnNewInput => Decision::Run {
                trigger: "on_new_input",
                slot: None,
            },
            t @ Trigger::Cron { .. } => match t.latest_slot(now) {
                None => Decision::NotDue,
                Some(slot) => {
                    let seen = tx
                        .last_slot(&name)?
                        .and_then(|s| clock::parse_timestamp(&s));
                    if seen.is_some_and(|s| s >= slot) {
                        Decision::NotDue
                    } else {
                        Decision::Run {
                            trigger: "cron",
                            slot: Some(slot),
                        }
                    }
                }
            },
            Trigger::After(every) => {
                let last = tx
                    .last_success_at(&name)?
                    .and_then(|s| clock::parse_timestamp(&s));
                let due = last.is_none_or(|t| (now - t).to_std().unwrap_or_default() >= *every);
                if due {
                    Decision::Run {
                        trigger: "after",
                        slot: None,
                    }
                } else {
                    Decision::NotDue
                }
            }
        })
    }

    /// The first requirement of the job that does not hold now, said as a reason.
    async fn unmet(&self, job: &Job, now: DateTime<Utc>) -> Result<Option<String>> {
        let lake = self.lake();
        for r in &job.policy.requires {
            let latest = |dataset: &crate::ident::DatasetRef| match lake.resolve(dataset) {
                Ok(v) => Ok(Some(v)),
                Err(Error::DatasetNotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            };
            let reason = match r {
                Require::Rows { dataset, cmp, rows } => match latest(dataset)? {
                    None => Some(format!("{dataset} has no version yet")),
                    Some(v) if !cmp.holds(v.rows, *rows) => {
                        Some(format!("{} has {} rows", v.reference(), v.rows))
                    }
                    Some(_) => None,
                },
                Require::Fresh { dataset, within } => match latest(dataset)? {
                    None => Some(format!("{dataset} has no version yet")),
                    Some(v) => {
                        let created = clock::parse_timestamp(&v.created_at).unwrap_or(now);
                        let age = (now - created).to_std().unwrap_or_default();
                        (age > *within).then(|| {
                            format!(
                                "{} was committed {} ago",
                                v.reference(),
                                crate::ident::format_age(age.as_secs())
                            )
                        })
                    }
                },
                Require::Sql(sql) => {
                    let mut out = lake.query(sql.clone()).execute().await?;
                    let mut rows = 0;
                    while let Some(b) = out.stream.next().await {
                        rows += b
                            .map_err(|source| Error::Query {
                                origin: format!("{}: require", job.path.display()),
                                source,
                            })?
                            .num_rows();
                        if rows > 0 {
                            break;
                        }
                    }
                    (rows > 0).then(|| "its query returned rows".to_string())
                }
            };
            if let Some(reason) = reason {
                return Ok(Some(format!("requires {}: {reason}", r.describe())));
            }
        }
        Ok(None)
    }

    /// Record that a due job waits for a requirement.
    fn wait(&self, job: &Job, trigger: &'static str, reason: String) -> Result<JobReport> {
        let promote = &self.promote;
        let mut report = promote.report(job, JobStatus::Waiting);
        report.error = Some(reason.clone());
        let now = clock::timestamp(self.lake().clock().now());
        let mut run = promote.new_run(job, "waiting", &[], now, &Attempt::first(trigger));
        run.error = Some(reason);
        report.run_id = Some(self.lake().catalog().write(|tx| tx.record_waiting(&run))?);
        Ok(report)
    }

    /// Run a due job, retrying a failure on the same input versions as its policy allows.
    async fn attempts(
        &self,
        prepared: &Prepared,
        i: usize,
        trigger: &'static str,
        partition: Option<String>,
    ) -> Result<JobReport> {
        let job = &prepared.jobs[i];
        let policy = &job.policy;
        let stop = |attempt_timeout: Option<Duration>| Stop {
            deadline: attempt_timeout.map(|d| (tokio::time::Instant::now() + d, d)),
            shutdown: self.shutdown.clone(),
        };
        let mut attempt = Attempt::first(trigger);
        attempt.hold_failed = partition.is_none();
        attempt.partition = partition;
        attempt.stop = stop(policy.timeout);
        let mut delays = policy.retry_delays();
        loop {
            if let Some(f) = self.on_event.clone() {
                let (name, number, trigger) =
                    (job.output.to_string(), attempt.number, attempt.trigger);
                attempt.on_start = Some(Arc::new(move |inputs: &[String]| {
                    f(&Event::Start {
                        job: name.clone(),
                        attempt: number,
                        trigger,
                        inputs: inputs.to_vec(),
                    })
                }));
            }
            let failure = match self
                .promote
                .run(job, &prepared.parsed[i], &prepared.planned, &attempt)
                .await
            {
                Ok(report) => {
                    self.emit(Event::Finished {
                        report: Box::new(report.clone()),
                    });
                    return Ok(report);
                }
                Err(f) => f,
            };
            let inputs = failure.inputs.clone();
            let delay = match failure.error {
                Error::JobCancelled { .. } => None,
                _ => delays.next(),
            };
            // `on_failure` is for a failure that stays: not one a retry follows.
            attempt.run_hook = delay.is_none();
            let report = self.promote.fail(job, failure, &attempt)?;
            self.emit(Event::Finished {
                report: Box::new(report.clone()),
            });
            let Some(delay) = delay else {
                return Ok(report);
            };
            self.emit(Event::Retrying {
                job: job.output.to_string(),
                attempt: attempt.number + 1,
                delay_ms: delay.as_millis() as u64,
            });
            if self.sleep(delay).await {
                return Ok(report);
            }
            attempt = Attempt {
                trigger: "retry",
                number: attempt.number + 1,
                retry_of: attempt.retry_of.or(report.run_id),
                pins: inputs
                    .iter()
                    .map(|v| (v.dataset.clone(), Selector::Version(v.version)))
                    .collect::<BTreeMap<_, _>>(),
                stop: stop(policy.timeout),
                hold_failed: false,
                on_start: None,
                partition: attempt.partition.clone(),
                run_hook: true,
            };
        }
    }
}

/// Which partitions of the range a backfill runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pick {
    /// Partitions the latest version does not have.
    #[default]
    Missing,
    /// Partitions whose latest backfill run failed or timed out.
    Failed,
    /// Every partition of the range.
    All,
}

/// One partition's outcome in a backfill.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionOutcome {
    /// The partition, `2026-01-05` or `2026-01`.
    pub partition: String,
    /// `ok`, `failed`, `timed_out`, `cancelled`, `up_to_date` or `would_run`.
    pub status: JobStatus,
    /// The version its commit made, `silver.daily@v7`.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// Rows of the whole version it committed.
    pub rows: u64,
    /// The run recorded for it.
    pub run_id: Option<i64>,
    /// The attempt that ended it.
    pub attempt: u32,
    /// Why it failed.
    pub error: Option<String>,
}

/// What `lake backfill` did.
#[derive(Debug, Clone, Serialize)]
pub struct BackfillReport {
    /// The job.
    pub job: String,
    /// How its output is partitioned, `day(order_ts)`.
    pub partition_by: String,
    /// Partitions of the range, and of them those picked to run.
    pub in_range: usize,
    /// Partitions picked to run (`--missing`, `--failed` or `--all`).
    pub picked: usize,
    /// Each partition picked.
    pub partitions: Vec<PartitionOutcome>,
    /// Partitions that committed.
    pub ok: usize,
    /// Partitions that failed.
    pub failed: usize,
    /// Nothing ran: the report is the plan.
    pub dry_run: bool,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

impl<'a> Scheduler<'a> {
    /// Read `dataset` at `selector` instead of its latest version (a backfill over past input).
    pub fn with_input_at(mut self, dataset: crate::ident::DatasetRef, selector: Selector) -> Self {
        self.promote = self.promote.with_input_at(dataset, selector);
        self
    }

    /// Run `job` once per partition of `from..=to` that `pick` picks, up to `max_parallel` at
    /// once, each run committing its partition (and keeping the others of the latest version).
    pub async fn backfill(
        self,
        job: &str,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
        pick: Pick,
        dry_run: bool,
    ) -> Result<BackfillReport> {
        let started = Instant::now();
        let mut scheduler = self;
        scheduler.promote = scheduler.promote.with_select(vec![job.to_string()]);
        let prepared = scheduler.promote.prepare()?;
        let Some(&i) = prepared
            .plan
            .iter()
            .find(|&&i| prepared.jobs[i].output.to_string() == job)
        else {
            return Err(Error::NoJobMatches {
                selector: job.to_string(),
            });
        };
        let spec = &prepared.jobs[i];
        let by = spec.partition_by.clone().ok_or_else(|| Error::JobInvalid {
            path: spec.path.clone(),
            problem:
                "it has no `-- partition_by: day(<column>)`, so it has no partitions to backfill"
                    .into(),
        })?;
        let keys = by.between(from, to);
        let (present, failed) = {
            let catalog = scheduler.lake().catalog();
            let tx = catalog.reader();
            let present: Vec<String> = match tx.find_dataset(&spec.output)? {
                Some(d) => match tx.latest_version(d.id)? {
                    Some(v) => tx
                        .version_partitions(v.id)?
                        .into_iter()
                        .map(|(k, _)| k)
                        .collect(),
                    None => Vec::new(),
                },
                None => Vec::new(),
            };
            let failed: Vec<String> = tx
                .partition_runs(job)?
                .into_iter()
                .filter(|(_, s)| s == "failed" || s == "timed_out")
                .map(|(k, _)| k)
                .collect();
            (present, failed)
        };
        let picked: Vec<String> = keys
            .iter()
            .filter(|k| match pick {
                Pick::Missing => !present.contains(k),
                Pick::Failed => failed.contains(k),
                Pick::All => true,
            })
            .cloned()
            .collect();
        let outcome = |key: &str, r: &JobReport| PartitionOutcome {
            partition: key.to_string(),
            status: r.status,
            reference: r.reference.clone(),
            rows: r.rows,
            run_id: r.run_id,
            attempt: r.attempt,
            error: r.error.clone(),
        };
        let mut partitions = Vec::with_capacity(picked.len());
        if dry_run {
            for key in &picked {
                partitions.push(PartitionOutcome {
                    partition: key.clone(),
                    status: JobStatus::WouldRun,
                    reference: None,
                    rows: 0,
                    run_id: None,
                    attempt: 0,
                    error: None,
                });
            }
        } else {
            let scheduler = &scheduler;
            let prepared = &prepared;
            let mut queue = picked.iter();
            let mut running = FuturesUnordered::new();
            // As in a pass: after an error, running partitions finish before it is returned.
            let mut failure: Option<Error> = None;
            loop {
                while running.len() < scheduler.max_parallel
                    && !scheduler.shutting_down()
                    && failure.is_none()
                {
                    let Some(key) = queue.next() else { break };
                    running.push(async move {
                        let r = scheduler
                            .attempts(prepared, i, "backfill", Some(key.clone()))
                            .await;
                        (key, r)
                    });
                }
                let Some((key, report)) = running.next().await else {
                    break;
                };
                match report {
                    Ok(r) => partitions.push(outcome(key, &r)),
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = failure {
                return Err(e);
            }
            partitions.sort_by(|a, b| a.partition.cmp(&b.partition));
        }
        let count = |s: JobStatus| partitions.iter().filter(|p| p.status == s).count();
        Ok(BackfillReport {
            job: job.to_string(),
            partition_by: by.describe(),
            in_range: keys.len(),
            picked: picked.len(),
            ok: count(JobStatus::Ok),
            failed: count(JobStatus::Failed) + count(JobStatus::TimedOut),
            partitions,
            dry_run,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }
}
