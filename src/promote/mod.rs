//! Promote: run SQL jobs over pinned inputs and commit their results to silver and gold.
//!
//! Jobs are found under `jobs/<zone>/<name>.sql`; their inputs come from the SQL itself. Each
//! job's inputs are resolved to exact versions before planning, so a run can be replayed from
//! its lineage rows. The result streams into Parquet objects; checks then run over those
//! objects, and only if they pass does one catalog transaction make the version visible,
//! together with its run, lineage and check rows. A failed job commits nothing and its
//! downstream jobs are skipped rather than run on stale data.

pub mod checks;
pub mod graph;
pub mod job;
pub mod lineage_plan;
pub mod policy;
pub mod scheduler;
pub mod status;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;

use crate::catalog::{CheckRow, NewRun, SchemaChange, VersionRow};
use crate::clock;
use crate::commit::Draft;
use crate::error::{Error, Result};
use crate::format::manifest::{Input, Operation};
use crate::format::schema::{self, Drift};
use crate::ident::{DatasetRef, Selector, Version};
use crate::lake::Lake;
use crate::sql::{Parsed, is_query, version_schema};

pub use job::Job;

/// How one job of a promote ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// A new version committed.
    Ok,
    /// It failed (SQL, a blocking check, or a breaking schema change); nothing was committed.
    Failed,
    /// Not run: a job it reads failed.
    Skipped,
    /// Inputs and SQL unchanged since its last successful run.
    UpToDate,
    /// `--dry-run`: it would run.
    WouldRun,
    /// Due, but a `require:` does not hold yet (`lake run`).
    Waiting,
    /// Cancelled at its `timeout:`; nothing was committed.
    TimedOut,
    /// Stopped by a signal before it committed; nothing was committed.
    Cancelled,
    /// Not run by `lake run`: its last run failed on these same inputs and SQL.
    Held,
}

/// What a promote did with one job.
#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    /// The dataset the job writes.
    pub job: DatasetRef,
    /// The job file.
    pub path: PathBuf,
    /// How it ended.
    pub status: JobStatus,
    /// The version it committed, `zone.name@vN`.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// Its number.
    pub version: Option<Version>,
    /// Rows of that version.
    pub rows: u64,
    /// Bytes of that version.
    pub bytes: u64,
    /// How long the job took, in milliseconds.
    pub duration_ms: u64,
    /// The exact inputs, `bronze.orders@v3`.
    pub inputs: Vec<String>,
    /// The checks run and what they found.
    pub checks: Vec<CheckRow>,
    /// How the output's schema differs from its version before.
    pub drift: Vec<Drift>,
    /// Why it failed.
    pub error: Option<String>,
    /// The run recorded for it (`lake runs`).
    pub run_id: Option<i64>,
    /// The `on_failure` command's own failure, if it had one.
    pub hook_error: Option<String>,
    /// 1 for a first attempt; `lake run` retries count on from there.
    pub attempt: u32,
}

/// What `lake promote` did.
#[derive(Debug, Clone, Serialize)]
pub struct PromoteReport {
    /// Each job, in the order run.
    pub jobs: Vec<JobReport>,
    /// Jobs that committed a version.
    pub ok: usize,
    /// Jobs that failed.
    pub failed: usize,
    /// Jobs not run because a job they read failed.
    pub skipped: usize,
    /// Jobs whose SQL and inputs are unchanged since their last run.
    pub up_to_date: usize,
    /// How long it took, in milliseconds.
    pub elapsed_ms: u64,
}

/// Told a job's exact inputs (`bronze.orders@v3`) as it starts.
pub type StartFn = Arc<dyn Fn(&[String]) + Send + Sync>;

/// Called as each job finishes: (position from 1, jobs in the plan, its report).
pub type JobFn = Arc<dyn Fn(usize, usize, &JobReport) + Send + Sync>;

impl Lake {
    /// Prepare a promote of the project's jobs; nothing runs until [`Promote::execute`].
    #[must_use]
    pub fn promote(&self) -> Promote<'_> {
        Promote {
            lake: self,
            select: Vec::new(),
            exclude: Vec::new(),
            dry_run: false,
            full_refresh: false,
            at: BTreeMap::new(),
            on_job: None,
            workers: self.config().promote.workers.clone(),
        }
    }
}

/// A promote being prepared: made by [`Lake::promote`], run by [`Promote::execute`].
pub struct Promote<'a> {
    lake: &'a Lake,
    select: Vec<String>,
    exclude: Vec<String>,
    dry_run: bool,
    full_refresh: bool,
    at: BTreeMap<DatasetRef, Selector>,
    on_job: Option<JobFn>,
    /// `lake worker` addresses that run the stages of each job's plan (none: this process).
    workers: Vec<String>,
}

/// `lake test`: one job's checks over its latest version.
#[derive(Debug, Clone, Serialize)]
pub struct JobTest {
    /// The dataset the job writes.
    pub job: DatasetRef,
    /// The version tested, `silver.orders@v4`; none if the job never committed one.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// `pass`, `fail` (a blocking check failed), `warn` (only `check[warn]` ones did),
    /// `no_version` or `no_checks`.
    pub status: &'static str,
    /// The checks and what they found.
    pub checks: Vec<CheckRow>,
}

/// What `lake test` found.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// Each job tested.
    pub jobs: Vec<JobTest>,
    /// Jobs whose checks all passed.
    pub passed: usize,
    /// Jobs with a blocking check that failed.
    pub failed: usize,
    /// Jobs with only warning checks that failed.
    pub warned: usize,
}

/// The jobs of a project and the order a selection of them runs in.
struct Prepared {
    jobs: Vec<Job>,
    parsed: Vec<Parsed>,
    graph: graph::Graph,
    plan: Vec<usize>,
    planned: BTreeSet<DatasetRef>,
}

impl PromoteReport {
    fn of(jobs: Vec<JobReport>, started: Instant) -> PromoteReport {
        let count = |s: JobStatus| jobs.iter().filter(|r| r.status == s).count();
        PromoteReport {
            ok: count(JobStatus::Ok),
            failed: count(JobStatus::Failed) + count(JobStatus::TimedOut),
            skipped: count(JobStatus::Skipped),
            up_to_date: count(JobStatus::UpToDate),
            jobs,
            elapsed_ms: started.elapsed().as_millis() as u64,
        }
    }
}

/// One attempt at a job: what started it, which attempt it is, the exact input versions a
/// retry reuses, and when it must stop.
#[derive(Clone)]
pub(crate) struct Attempt {
    /// `promote`, `on_new_input`, `cron`, `after` or `retry`.
    pub trigger: &'static str,
    pub number: u32,
    /// The first attempt's run, for every retry.
    pub retry_of: Option<i64>,
    pub pins: BTreeMap<DatasetRef, Selector>,
    pub stop: Stop,
    /// Hold the job (run nothing) if its last run failed on the same SQL and inputs.
    pub hold_failed: bool,
    /// Told the exact inputs once the job is found to need running.
    pub on_start: Option<StartFn>,
    /// For a partitioned job: write only this partition (`2026-01-05`), keeping the others.
    pub partition: Option<String>,
    /// Run `[promote] on_failure` if this attempt fails (not when a retry follows it).
    pub run_hook: bool,
}

impl Attempt {
    pub(crate) fn first(trigger: &'static str) -> Attempt {
        Attempt {
            trigger,
            number: 1,
            retry_of: None,
            pins: BTreeMap::new(),
            stop: Stop::default(),
            hold_failed: false,
            on_start: None,
            partition: None,
            run_hook: true,
        }
    }
}

/// When a running job must give up before it commits: its deadline, or a shutdown.
#[derive(Clone, Default)]
pub(crate) struct Stop {
    pub deadline: Option<(tokio::time::Instant, std::time::Duration)>,
    pub shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Stop {
    /// Resolves, with the error to record, once the job must stop; never, if nothing stops it.
    pub(crate) async fn reached(&self, job: &DatasetRef) -> Error {
        let timed_out = async {
            match self.deadline {
                Some((at, after)) => {
                    tokio::time::sleep_until(at).await;
                    Error::JobTimedOut {
                        job: job.to_string(),
                        after: crate::ident::format_age(after.as_secs().max(1)),
                    }
                }
                None => std::future::pending().await,
            }
        };
        let shut_down = async {
            match &self.shutdown {
                Some(rx) => {
                    let mut rx = rx.clone();
                    if rx.wait_for(|stop| *stop).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                    Error::JobCancelled {
                        job: job.to_string(),
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            e = timed_out => e,
            e = shut_down => e,
        }
    }
}

/// A job that failed, with what it had found out by then.
struct Failure {
    error: Error,
    checks: Vec<CheckRow>,
    inputs: Vec<VersionRow>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            checks: Vec::new(),
            inputs: Vec::new(),
        }
    }
}

impl Promote<'_> {
    /// Run only the jobs these selectors pick (`silver.x`, `+gold.y`, `bronze.orders+`, `zone:silver`).
    pub fn with_select(mut self, selectors: Vec<String>) -> Self {
        self.select = selectors;
        self
    }
    /// Leave out the jobs these selectors pick (the syntax of [`Promote::with_select`]).
    pub fn with_exclude(mut self, selectors: Vec<String>) -> Self {
        self.exclude = selectors;
        self
    }
    /// Plan only: which jobs would run, which are up to date.
    pub fn with_dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }
    /// Run jobs even when they are up to date.
    pub fn with_full_refresh(mut self, yes: bool) -> Self {
        self.full_refresh = yes;
        self
    }
    /// Backfill: read `dataset` at `selector` instead of its latest version.
    pub fn with_input_at(mut self, dataset: DatasetRef, selector: Selector) -> Self {
        self.at.insert(dataset.dataset(), selector);
        self
    }
    /// Call `f` with each job's report as it finishes.
    pub fn with_on_job(mut self, f: JobFn) -> Self {
        self.on_job = Some(f);
        self
    }
    /// Run each job's plan on these `lake worker`s (`host:port`) instead of `[promote] workers`;
    /// empty runs every job in this process.
    pub fn with_workers(mut self, workers: Vec<String>) -> Self {
        self.workers = workers;
        self
    }

    /// Run the selected jobs in dependency order, each committing a version or nothing.
    pub async fn execute(self) -> Result<PromoteReport> {
        let started = Instant::now();
        if !self.workers.is_empty() && !self.dry_run {
            crate::worker::Workers::parse(&self.workers)?
                .probe()
                .await?;
        }
        let Prepared {
            jobs,
            parsed,
            graph,
            plan,
            planned,
        } = self.prepare()?;
        let mut reports = Vec::with_capacity(plan.len());
        let mut blocked: HashMap<usize, String> = HashMap::new();
        // A dry run's jobs that would run: what reads them would see a new version, so runs too.
        let mut rebuilt: BTreeSet<DatasetRef> = BTreeSet::new();
        for (position, &i) in plan.iter().enumerate() {
            let job = &jobs[i];
            let attempt = Attempt::first("promote");
            let upstream_rebuilt =
                self.dry_run && parsed[i].tables.iter().any(|t| rebuilt.contains(t));
            let report = match blocked.get(&i) {
                Some(failed) => self.skip(job, failed, &attempt)?,
                None if upstream_rebuilt => {
                    let mut report = self.report(job, JobStatus::WouldRun);
                    report.inputs = parsed[i]
                        .tables
                        .iter()
                        .map(|t| {
                            if rebuilt.contains(t) {
                                format!("{t} (rebuilt first)")
                            } else {
                                t.to_string()
                            }
                        })
                        .collect();
                    report
                }
                None => match self.run(job, &parsed[i], &planned, &attempt).await {
                    Ok(report) => report,
                    Err(failure) => {
                        for d in graph.dependents(i) {
                            blocked.entry(d).or_insert_with(|| job.output.to_string());
                        }
                        self.fail(job, failure, &attempt)?
                    }
                },
            };
            if report.status == JobStatus::WouldRun {
                rebuilt.insert(job.output.clone());
            }
            if let Some(f) = &self.on_job {
                f(position + 1, plan.len(), &report);
            }
            reports.push(report);
        }
        Ok(PromoteReport::of(reports, started))
    }

    /// Run each selected job's checks over its latest version, building nothing: the version as
    /// `result`, its inputs at the versions it was computed from.
    pub async fn test(self) -> Result<TestReport> {
        let lake = self.lake;
        let prepared = self.prepare()?;
        let mut jobs = Vec::with_capacity(prepared.plan.len());
        for &i in &prepared.plan {
            let job = &prepared.jobs[i];
            let mut t = JobTest {
                job: job.output.clone(),
                reference: None,
                status: "no_checks",
                checks: Vec::new(),
            };
            let latest = match lake.resolve(&job.output) {
                Ok(v) => v,
                Err(Error::DatasetNotFound { .. }) => {
                    t.status = "no_version";
                    jobs.push(t);
                    continue;
                }
                Err(e) => return Err(e),
            };
            t.reference = Some(latest.reference().to_string());
            if job.checks.is_empty() {
                jobs.push(t);
                continue;
            }
            let ctx = lake.sql_session()?;
            let inputs = lake.catalog().reader().upstream(latest.id)?;
            for v in &inputs {
                lake.register_version(&ctx, v, false).await?;
            }
            lake.register_version_as(&ctx, &latest, false, "result".into())
                .await?;
            let origin = job.path.display().to_string();
            for c in &job.checks {
                let mut row = c.check.run(&ctx, &origin).await?;
                if c.warn {
                    row.severity = "warn".into();
                }
                t.checks.push(row);
            }
            let failing = |sev: &str| t.checks.iter().any(|c| !c.passed && c.severity == sev);
            t.status = if failing("error") {
                "fail"
            } else if failing("warn") {
                "warn"
            } else {
                "pass"
            };
            jobs.push(t);
        }
        let count = |s: &str| jobs.iter().filter(|j| j.status == s).count();
        Ok(TestReport {
            passed: count("pass"),
            failed: count("fail"),
            warned: count("warn"),
            jobs,
        })
    }

    /// The project's jobs, parsed, and the order this promote's selection runs them in.
    fn prepare(&self) -> Result<Prepared> {
        let lake = self.lake;
        let jobs = job::discover(lake.dir(), &lake.config().promote.jobs_dir)?;
        let ctx = lake.sql_session()?;
        let mut parsed: Vec<Parsed> = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let origin = job.path.display().to_string();
            let p = lake.parse_sql(&ctx, &job.text, &origin, |statement| {
                if is_query(statement) {
                    Ok(())
                } else {
                    Err(Error::JobInvalid {
                        path: job.path.clone(),
                        problem: "a job is one SELECT (or WITH … SELECT) statement".into(),
                    })
                }
            })?;
            // A version named in the SQL (`"bronze.orders@v3"`, `AT (TAG => 'baseline')`) is
            // read as named, beside the latest versions of the plain names: a diff against a
            // baseline. Its own output is not an input: every run would change what it reads.
            if let Some((_, table)) = p.pinned.iter().find(|(r, _)| r.dataset() == job.output) {
                return Err(Error::JobInvalid {
                    path: job.path.clone(),
                    problem: format!(
                        "`{table}` is a version of the job's own output; a job reads other datasets"
                    ),
                });
            }
            parsed.push(p);
        }
        // A named version is still an edge: it must be built before the job reads it.
        let graph = graph::Graph::new(
            jobs.iter().map(|j| j.output.clone()).collect(),
            parsed
                .iter()
                .map(|p| {
                    let mut reads = p.tables.clone();
                    for (r, _) in &p.pinned {
                        if !reads.contains(&r.dataset()) {
                            reads.push(r.dataset());
                        }
                    }
                    reads
                })
                .collect(),
        )?;
        let plan = graph.plan(&self.select, &self.exclude)?;
        let planned: BTreeSet<DatasetRef> = plan.iter().map(|&i| jobs[i].output.clone()).collect();
        Ok(Prepared {
            jobs,
            parsed,
            graph,
            plan,
            planned,
        })
    }

    fn report(&self, job: &Job, status: JobStatus) -> JobReport {
        JobReport {
            job: job.output.clone(),
            path: job.path.clone(),
            status,
            reference: None,
            version: None,
            rows: 0,
            bytes: 0,
            duration_ms: 0,
            inputs: Vec::new(),
            checks: Vec::new(),
            drift: Vec::new(),
            error: None,
            run_id: None,
            hook_error: None,
            attempt: 1,
        }
    }

    fn new_run(
        &self,
        job: &Job,
        status: &'static str,
        inputs: &[VersionRow],
        started_at: String,
        attempt: &Attempt,
    ) -> NewRun {
        let now = clock::timestamp(self.lake.clock().now());
        NewRun {
            job: job.output.to_string(),
            job_path: job.path.display().to_string(),
            sql_digest: job.sql_digest.clone(),
            sql_text: job.text.clone(),
            inputs_key: inputs_key(inputs),
            status,
            output_version_id: None,
            rows: None,
            bytes: None,
            backfill: self.is_backfill(inputs),
            started_at,
            finished_at: now,
            duration_ms: 0,
            error: None,
            actor: self.lake.actor().to_string(),
            input_version_ids: inputs.iter().map(|v| v.id).collect(),
            checks: Vec::new(),
            attempt: attempt.number,
            retry_of: attempt.retry_of,
            trigger: attempt.trigger,
            partition: attempt.partition.clone(),
        }
    }

    fn is_backfill(&self, inputs: &[VersionRow]) -> bool {
        inputs.iter().any(|v| self.at.contains_key(&v.dataset))
    }

    /// Record a job not run because `upstream` failed.
    fn skip(&self, job: &Job, upstream: &str, attempt: &Attempt) -> Result<JobReport> {
        let mut report = self.report(job, JobStatus::Skipped);
        report.error = Some(format!("not run: `{upstream}` failed upstream"));
        if !self.dry_run {
            let now = clock::timestamp(self.lake.clock().now());
            let mut run = self.new_run(job, "skipped", &[], now, attempt);
            run.error = report.error.clone();
            report.run_id = Some(self.lake.catalog().write(|tx| tx.insert_run(&run))?);
        }
        Ok(report)
    }

    /// Record a failed (or timed-out, or cancelled) job and run the `on_failure` hook.
    fn fail(&self, job: &Job, failure: Failure, attempt: &Attempt) -> Result<JobReport> {
        let (status, run_status) = match failure.error {
            Error::JobTimedOut { .. } => (JobStatus::TimedOut, "timed_out"),
            Error::JobCancelled { .. } => (JobStatus::Cancelled, "cancelled"),
            _ => (JobStatus::Failed, "failed"),
        };
        let mut report = self.report(job, status);
        report.attempt = attempt.number;
        let message = failure.error.causes().join(": ");
        report.inputs = failure
            .inputs
            .iter()
            .map(|v| v.reference().to_string())
            .collect();
        report.checks = failure.checks.clone();
        report.error = Some(message.clone());
        if self.dry_run {
            return Ok(report);
        }
        let now = clock::timestamp(self.lake.clock().now());
        let mut run = self.new_run(job, run_status, &failure.inputs, now, attempt);
        run.error = Some(message.clone());
        run.checks = failure.checks;
        let run_id = self.lake.catalog().write(|tx| tx.insert_run(&run))?;
        report.run_id = Some(run_id);
        if status == JobStatus::Cancelled || !attempt.run_hook {
            return Ok(report);
        }
        if let Some(command) = &self.lake.config().promote.on_failure {
            report.hook_error = run_hook(
                self.lake,
                command,
                &job.output.to_string(),
                run_id,
                &message,
            )
            .err();
        }
        Ok(report)
    }

    /// Run one job; `planned` are the outputs of every job in this promote.
    async fn run(
        &self,
        job: &Job,
        parsed: &Parsed,
        planned: &BTreeSet<DatasetRef>,
        attempt: &Attempt,
    ) -> std::result::Result<JobReport, Failure> {
        let lake = self.lake;
        let started = Instant::now();
        let started_at = clock::timestamp(lake.clock().now());
        let origin = job.path.display().to_string();

        // Inputs: the job's pins, then --at (or a retry's exact versions), else the latest; each
        // must be readable.
        let mut pins = job.pins.clone();
        pins.extend(self.at.clone());
        pins.extend(attempt.pins.clone());
        let mut inputs = Vec::with_capacity(parsed.tables.len());
        let mut to_build = Vec::new();
        for t in &parsed.tables {
            match lake.resolve_input(t, &pins) {
                Ok(v) => inputs.push(v),
                // A dry run plans jobs whose inputs earlier jobs of the plan would build.
                Err(Error::DatasetNotFound { .. }) if self.dry_run && planned.contains(t) => {
                    to_build.push(t.clone())
                }
                Err(Error::DatasetNotFound {
                    dataset,
                    suggestions,
                }) => {
                    return Err(Error::UnknownDataset {
                        origin: job.path.display().to_string(),
                        dataset,
                        suggestions,
                    }
                    .into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Versions the SQL names itself, each registered under the name it wrote.
        let plain = inputs.len();
        let mut named = Vec::with_capacity(parsed.pinned.len());
        for (r, table) in &parsed.pinned {
            match lake.resolve_input(r, &BTreeMap::new()) {
                Ok(v) => {
                    if !inputs.iter().any(|i| i.id == v.id) {
                        inputs.push(v.clone());
                    }
                    named.push((v, table.clone()));
                }
                Err(Error::DatasetNotFound { .. })
                    if self.dry_run && planned.contains(&r.dataset()) =>
                {
                    to_build.push(r.clone())
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !to_build.is_empty() {
            let mut report = self.report(job, JobStatus::WouldRun);
            report.inputs = inputs.iter().map(|v| v.reference().to_string()).collect();
            report
                .inputs
                .extend(to_build.iter().map(|t| format!("{t} (built first)")));
            return Ok(report);
        }
        let mut report = self.report(job, JobStatus::Ok);
        report.attempt = attempt.number;
        report.inputs = inputs.iter().map(|v| v.reference().to_string()).collect();
        let fail = |error: Error, checks: Vec<CheckRow>| Failure {
            error,
            checks,
            inputs: inputs.clone(),
        };

        let previous = {
            let catalog = lake.catalog();
            let tx = catalog.reader();
            match tx.find_dataset(&job.output).map_err(|e| fail(e, vec![]))? {
                Some(d) => tx.latest_version(d.id).map_err(|e| fail(e, vec![]))?,
                None => None,
            }
        };
        if !self.full_refresh
            && !self.is_backfill(&inputs)
            && attempt.partition.is_none()
            && self
                .up_to_date(job, &inputs, previous.as_ref())
                .map_err(|e| fail(e, vec![]))?
        {
            // Nothing to run; a Delta log a killed run left behind catches up here.
            lake.follow_with_delta(&job.output).await;
            report.status = JobStatus::UpToDate;
            report.reference = previous.as_ref().map(|v| v.reference().to_string());
            report.version = previous.as_ref().map(|v| v.version);
            report.rows = previous.as_ref().map_or(0, |v| v.rows);
            return Ok(report);
        }
        if self.dry_run {
            report.status = JobStatus::WouldRun;
            return Ok(report);
        }
        if attempt.hold_failed {
            let last = lake
                .catalog()
                .reader()
                .last_run(&job.output.to_string())
                .map_err(|e| fail(e, vec![]))?;
            if let Some(last) = last
                && matches!(last.status.as_str(), "failed" | "timed_out")
                && last.sql_digest == job.sql_digest
                && last.inputs_key == inputs_key(&inputs)
            {
                report.status = JobStatus::Held;
                report.run_id = Some(last.id);
                report.error = Some(format!(
                    "run {} failed on these inputs; `lake retry {}` runs it again",
                    last.id, last.id
                ));
                return Ok(report);
            }
        }

        if let Some(f) = &attempt.on_start {
            f(&report.inputs);
        }

        // Plan over exactly these versions.
        let ctx = lake
            .sql_session_with(&self.workers)
            .map_err(|e| fail(e, vec![]))?;
        let verify = lake.config().promote.verify_inputs;
        let registered = async {
            for v in &inputs[..plain] {
                lake.register_version(&ctx, v, verify).await?;
            }
            for (v, table) in &named {
                lake.register_version_as(&ctx, v, verify, table.clone())
                    .await?;
            }
            Ok(())
        };
        tokio::select! {
            r = registered => r.map_err(|e| fail(e, vec![]))?,
            e = attempt.stop.reached(&job.output) => return Err(fail(e, vec![])),
        }
        let query_err = |source| Error::Query {
            origin: origin.clone(),
            source,
        };
        let plan = ctx
            .state()
            .statement_to_plan(parsed.statement.clone())
            .await
            .map_err(|e| fail(query_err(e), vec![]))?;
        let columns = lineage_plan::column_sources(&plan);
        let df = ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|e| fail(query_err(e), vec![]))?;
        // The result in the form lake stores, or the column it cannot store, before any write.
        let out_schema = schema::storable(df.schema().as_arrow())
            .map(Arc::new)
            .map_err(|problem| {
                fail(
                    Error::JobInvalid {
                        path: job.path.clone(),
                        problem: format!("its result cannot be stored: {problem}"),
                    },
                    vec![],
                )
            })?;

        // Silver and gold keep their contracts: no dropped columns or changed types unless allowed.
        let prev_schema = match &previous {
            Some(v) => {
                let json = lake
                    .catalog()
                    .reader()
                    .schema_json(v.schema_id)
                    .map_err(|e| fail(e, vec![]))?;
                Some(version_schema(&json).map_err(|e| fail(e, vec![]))?)
            }
            None => None,
        };
        let drift = prev_schema
            .as_ref()
            .map(|p| schema::diff(p, &out_schema))
            .unwrap_or_default();
        let breaking: Vec<String> = drift
            .iter()
            .filter(|d| d.change != "added")
            .map(|d| d.to_string())
            .collect();
        if attempt.partition.is_some() && !drift.is_empty() {
            let changes: Vec<String> = drift.iter().map(|d| d.to_string()).collect();
            return Err(fail(
                Error::JobInvalid {
                    path: job.path.clone(),
                    problem: format!(
                        "a run of one partition cannot change the schema ({}); run the whole job",
                        changes.join(", ")
                    ),
                },
                vec![],
            ));
        }
        if !breaking.is_empty() && !job.allow_breaking {
            return Err(fail(
                Error::BreakingChange {
                    dataset: job.output.to_string(),
                    changes: format!(
                        "{} (add `-- allow: breaking_change` to {origin} to accept)",
                        breaking.join(", ")
                    ),
                },
                vec![],
            ));
        }

        // Stream the result into new objects of a registered write: one stream, or, for a
        // partitioned job, one per partition, each into files of its own.
        let mut staged = lake
            .stage(&job.output, "promote")
            .map_err(|e| fail(e, vec![]))?;
        let mut partitions: Vec<(String, u64)> = Vec::new();
        let written = async {
            let Some(by) = &job.partition_by else {
                return write_result(&mut staged, df, &out_schema, attempt, job, &origin).await;
            };
            let keys = match &attempt.partition {
                Some(key) => vec![key.clone()],
                None => {
                    let sql = by.keys_sql(&job.text);
                    let keys = collect_keys(&ctx, &sql, &origin).await?;
                    if keys.iter().any(Option::is_none) {
                        return Err(Error::JobInvalid {
                            path: job.path.clone(),
                            problem: format!(
                                "its partition column `{}` is null in some rows; every row needs a partition",
                                by.column
                            ),
                        });
                    }
                    keys.into_iter().flatten().collect()
                }
            };
            for key in keys {
                let sql = by.filtered_sql(&job.text, &key).map_err(|problem| Error::JobInvalid {
                    path: job.path.clone(),
                    problem,
                })?;
                let df = ctx.sql(&sql).await.map_err(|source| Error::Query {
                    origin: origin.clone(),
                    source,
                })?;
                let from = staged.files().len();
                write_result(&mut staged, df, &out_schema, attempt, job, &origin).await?;
                let rows = staged.label_from(from, &key);
                partitions.push((key, rows));
            }
            Ok(())
        }
        .await;
        if let Err(e) = written {
            staged.abort().await;
            return Err(fail(e, vec![]));
        }
        let files = staged.files().to_vec();

        // Checks over the written, uncommitted result.
        let mut results = Vec::with_capacity(job.checks.len());
        if !job.checks.is_empty() {
            let checked = async {
                lake.register_files(&ctx, "result".into(), out_schema.clone(), &files)?;
                for c in &job.checks {
                    let mut row = c.check.run(&ctx, &origin).await?;
                    if c.warn {
                        row.severity = "warn".into();
                    }
                    results.push(row);
                }
                Ok::<_, Error>(())
            };
            let checked = tokio::select! {
                r = checked => r,
                e = attempt.stop.reached(&job.output) => Err(e),
            };
            let failed: Vec<String> = results
                .iter()
                .filter(|c| !c.passed && c.severity != "warn")
                .map(|c| c.name.clone())
                .collect();
            if let Err(e) = checked {
                staged.abort().await;
                return Err(fail(e, results));
            }
            if !failed.is_empty() {
                staged.abort().await;
                return Err(fail(
                    Error::ChecksFailed {
                        job: job.output.to_string(),
                        failed: failed.len(),
                        names: failed.join("; "),
                    },
                    results,
                ));
            }
        }

        // Commit: the version, its run, lineage and checks, in one transaction.
        let by_table: HashMap<String, i64> = inputs[..plain]
            .iter()
            .map(|v| (v.dataset.to_string(), v.id))
            .chain(named.iter().map(|(v, table)| (table.to_string(), v.id)))
            .collect();
        let column_edges: Vec<(String, i64, String)> = columns
            .iter()
            .flat_map(|(out, sources)| {
                sources
                    .iter()
                    .filter_map(|(table, col)| {
                        by_table
                            .get(table)
                            .map(|id| (out.clone(), *id, col.clone()))
                    })
                    .collect::<Vec<_>>()
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut run = self.new_run(job, "success", &inputs, started_at, attempt);
        run.checks = results.clone();
        let changes: Vec<SchemaChange> = drift
            .iter()
            .map(|d| SchemaChange {
                change: d.change.to_string(),
                column: d.column.clone(),
                old_type: d.old_type.clone(),
                new_type: d.new_type.clone(),
            })
            .collect();
        let draft = Draft {
            operation_name: "promote",
            operation: Operation::Promote {
                job: job.path.display().to_string(),
                sql_sha256: job.sql_digest.clone(),
                backfill: run.backfill,
            },
            mode: None,
            inputs: inputs
                .iter()
                .map(|v| Input {
                    reference: v.reference().to_string(),
                    manifest_sha256: v.digest.clone(),
                })
                .collect(),
            schema: out_schema.as_ref().clone(),
            files: files.clone(),
            sources: Vec::new(),
            keep_sources: false,
            changes,
        };
        let input_ids: Vec<i64> = inputs.iter().map(|v| v.id).collect();
        let job_path = job.path.clone();
        let (job_name, sql_digest, key) =
            (job.output.to_string(), &job.sql_digest, inputs_key(&inputs));
        let rerun = self.full_refresh || run.backfill || attempt.partition.is_some();
        // The version's partitions, decided with the latest version in the commit transaction.
        let decided = Arc::new(std::sync::Mutex::new(partitions));
        let (replacing, out_partitions) = (attempt.partition.clone(), decided.clone());
        let committed = staged
            .commit(
                // A run of the same SQL over the same inputs that committed while this one ran
                // already made this version: a second would be a copy (unless one is asked for).
                // A run of one partition keeps every other partition of the latest version.
                move |tx, latest| {
                    let mut draft = draft;
                    if let (Some(key), Some(v)) = (&replacing, latest) {
                        let kept: Vec<_> = tx
                            .version_files(v.id)?
                            .into_iter()
                            .filter(|f| f.partition.as_deref() != Some(key.as_str()))
                            .collect();
                        if kept.iter().any(|f| f.partition.is_none()) {
                            return Err(Error::JobInvalid {
                                path: job_path.clone(),
                                problem: format!(
                                    "{} has files of no partition (written before `partition_by`); run the whole job first",
                                    v.reference()
                                ),
                            });
                        }
                        draft.files.extend(kept);
                        let mut parts = tx.version_partitions(v.id)?;
                        parts.retain(|(k, _)| k != key);
                        let mut decided = out_partitions.lock().unwrap_or_else(|e| e.into_inner());
                        parts.append(&mut decided);
                        parts.sort();
                        *decided = parts;
                    }
                    if rerun {
                        return Ok(Some(draft));
                    }
                    let last = tx.last_success(&job_name)?;
                    let same = matches!((&last, latest), (Some(run), Some(v))
                        if &run.sql_digest == sql_digest
                            && run.inputs_key == key
                            && run.output_version == Some(v.version));
                    Ok((!same).then_some(draft))
                },
                |tx, row| {
                    run.output_version_id = Some(row.id);
                    run.rows = Some(row.rows);
                    run.bytes = Some(row.bytes);
                    run.finished_at = row.created_at.clone();
                    run.duration_ms = started.elapsed().as_millis() as u64;
                    report.run_id = Some(tx.insert_run(&run)?);
                    tx.insert_partitions(
                        row.id,
                        &decided.lock().unwrap_or_else(|e| e.into_inner()),
                    )?;
                    tx.insert_lineage(row.id, &input_ids, &column_edges)?;
                    if let Some(d) = &job.description {
                        tx.set_description(row.dataset_id, d)?;
                    }
                    Ok(())
                },
            )
            .await;
        let committed = match committed {
            Ok(Some(c)) => c,
            Ok(None) => {
                if job.description.is_some() {
                    // A run stopped after its commit left the dataset's record behind.
                    lake.follow_record(&job.output.dataset()).await;
                }
                let latest = lake.resolve(&job.output).map_err(|e| fail(e, vec![]))?;
                report.status = JobStatus::UpToDate;
                report.reference = Some(latest.reference().to_string());
                report.version = Some(latest.version);
                report.rows = latest.rows;
                return Ok(report);
            }
            Err(e) => return Err(fail(e, results)),
        };
        if job.description.is_some() {
            lake.follow_record(&job.output.dataset()).await;
        }
        let v = committed.version;
        report.reference = Some(v.reference().to_string());
        report.version = Some(v.version);
        report.rows = v.rows;
        report.bytes = v.bytes;
        report.checks = results;
        report.drift = drift;
        report.duration_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }

    /// Same SQL and same inputs as the last successful run, whose output is still the latest.
    fn up_to_date(
        &self,
        job: &Job,
        inputs: &[VersionRow],
        latest: Option<&VersionRow>,
    ) -> Result<bool> {
        let last = self
            .lake
            .catalog()
            .reader()
            .last_success(&job.output.to_string())?;
        Ok(match (last, latest) {
            (Some(run), Some(latest)) => {
                // A rollback stands until the job's SQL or inputs change: running the same
                // SQL on the same inputs would only make again what was rolled back.
                run.sql_digest == job.sql_digest
                    && run.inputs_key == inputs_key(inputs)
                    && (run.output_version == Some(latest.version)
                        || latest.operation == "rollback")
            }
            _ => false,
        })
    }
}

/// Stream a query's result into a new encoder of `staged`, stopping at the attempt's deadline or
/// shutdown; the files it completed belong to `staged` either way.
async fn write_result(
    staged: &mut crate::commit::StagedWrite<'_>,
    df: datafusion::dataframe::DataFrame,
    out_schema: &arrow::datatypes::SchemaRef,
    attempt: &Attempt,
    job: &Job,
    origin: &str,
) -> Result<()> {
    let query_err = |source| Error::Query {
        origin: origin.to_string(),
        source,
    };
    let writer = staged.encoder(out_schema.clone());
    let sender = writer.sender();
    let mut produced: Result<()> = Ok(());
    match df.execute_stream().await {
        Err(e) => produced = Err(query_err(e)),
        Ok(mut stream) => loop {
            let next = async {
                crate::failpoint::pass("promote.batch").await?;
                Ok::<_, Error>(stream.next().await)
            };
            let batch = tokio::select! {
                b = next => match b {
                    Ok(b) => b,
                    Err(e) => {
                        produced = Err(e);
                        break;
                    }
                },
                e = attempt.stop.reached(&job.output) => {
                    produced = Err(e);
                    break;
                }
            };
            let Some(batch) = batch else { break };
            let batch = match batch.map_err(query_err) {
                Ok(b) => schema::conform(&b, out_schema).map_err(|e| query_err(e.into())),
                Err(e) => Err(e),
            };
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    produced = Err(e);
                    break;
                }
            };
            if sender.send(batch).await.is_err() {
                break;
            }
        },
    }
    drop(sender);
    let encoded = staged.finish(writer).await;
    produced.and(encoded)
}

/// The distinct partition keys of a query's result (`None` for a null partition column).
async fn collect_keys(
    ctx: &datafusion::prelude::SessionContext,
    sql: &str,
    origin: &str,
) -> Result<Vec<Option<String>>> {
    let err = |source| Error::Query {
        origin: origin.to_string(),
        source,
    };
    let batches = ctx
        .sql(sql)
        .await
        .map_err(err)?
        .collect()
        .await
        .map_err(err)?;
    let mut keys = Vec::new();
    for b in &batches {
        let column = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)
            .map_err(|e| err(e.into()))?;
        let strings = column
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .ok_or_else(|| Error::Internal("partition keys are not text".into()))?;
        keys.extend(strings.iter().map(|k| k.map(str::to_string)));
    }
    keys.sort();
    Ok(keys)
}

/// The exact inputs of a run, in a stable order: `bronze.orders@v3:<digest>,…`.
fn inputs_key(inputs: &[VersionRow]) -> String {
    let mut parts: Vec<String> = inputs
        .iter()
        .map(|v| format!("{}:{}", v.reference(), v.digest))
        .collect();
    parts.sort();
    parts.join(",")
}

/// Run the `on_failure` command with the job, run id and error in its environment.
fn run_hook(
    lake: &Lake,
    command: &str,
    job: &str,
    run_id: i64,
    error: &str,
) -> std::result::Result<(), String> {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(lake.dir())
        .env("LAKE_JOB", job)
        .env("LAKE_RUN_ID", run_id.to_string())
        .env("LAKE_ERROR", error)
        .status()
        .map_err(|e| format!("on_failure command could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("on_failure command exited with {status}"))
    }
}
