//! `lake run [SEL…] [--once | --watch] [--max-parallel N] [--every 30s]`

use std::sync::Arc;
use std::time::Duration;

use lake::Lake;
use lake::promote::policy::parse_duration;
use lake::promote::scheduler::{Event, PassReport, Pick};
use lake::promote::{JobReport, JobStatus};

use super::Failure;
use super::printer::{Printer, bytes, plural};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Jobs to consider: silver.orders_clean, +gold.features, bronze.orders+, zone:silver.
    /// Default: every job.
    #[arg(value_name = "SEL")]
    select: Vec<String>,
    /// Jobs to leave out, in the same syntax.
    #[arg(long, value_name = "SEL", num_args = 1..)]
    exclude: Vec<String>,
    /// One pass, then exit (for cron, systemd timers and CI). The default.
    #[arg(long, conflicts_with = "watch")]
    once: bool,
    /// Keep running: a pass every `--every`, and at each cron slot; SIGINT or SIGTERM cancels
    /// running jobs cleanly and exits.
    #[arg(long)]
    watch: bool,
    /// Independent jobs run together, up to N at a time.
    #[arg(long, value_name = "N", default_value_t = 1)]
    max_parallel: usize,
    /// With --watch, how often to look for new input versions.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_every)]
    every: Duration,
}

fn parse_every(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("needs a positive duration, such as 30s".into());
    }
    Ok(d)
}

pub async fn run(lake: &Lake, args: Args, p: Printer) -> Result<(), Failure> {
    let (shutdown, signals) = stop_on_signal(
        "stopping; running jobs are cancelled and commit nothing",
        "exiting now",
    );
    let watch = args.watch;
    let live = Arc::new(Live::new(&p));
    let shown = live.clone();
    let events = move |e: &Event| shown.event(&p, watch, e);
    let scheduler = lake
        .scheduler()
        .with_select(args.select)
        .with_exclude(args.exclude)
        .with_max_parallel(args.max_parallel)
        .with_shutdown(shutdown.clone())
        .with_on_event(Arc::new(events));
    let result = async {
        if !scheduler.acquire(watch).await? {
            return Ok(0);
        }
        loop {
            let report = match scheduler.pass().await {
                Ok(r) => r,
                // A watch outlives a bad job file or a busy catalog: it says so and tries again.
                Err(e) if watch => {
                    live.show(|| {
                        super::report::render(&e);
                        eprintln!("{}  the next pass is in {:?}", clock(), args.every);
                    });
                    if *shutdown.borrow() || scheduler.wait_for_next(args.every).await? {
                        break Ok(0);
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let failed = report.promote.failed;
            live.show(|| print_pass(&p, watch, &report));
            if !watch || *shutdown.borrow() || scheduler.wait_for_next(args.every).await? {
                break Ok::<_, lake::Error>(failed);
            }
        }
    }
    .await;
    let released = scheduler.release();
    live.clear();
    signals.abort();
    let failed = result?;
    released?;
    if failed > 0 && !watch {
        return Err(Failure::silent(1));
    }
    Ok(())
}

/// A stop flag the first SIGINT or SIGTERM raises, saying `then` on stderr; a second signal
/// ends the process at once (exit 130), saying `again`. Abort the handle when done.
pub(super) fn stop_on_signal(
    then: &'static str,
    again: &'static str,
) -> (
    tokio::sync::watch::Receiver<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let signals = tokio::spawn(async move {
        let name = wait_for_signal().await;
        let _ = stop.send(true);
        eprintln!("{name}: {then}");
        let second = wait_for_signal().await;
        eprintln!("{second} again: {again}");
        std::process::exit(super::report::EXIT_INTERRUPTED);
    });
    (stopped, signals)
}

/// The name of the first SIGINT or SIGTERM to arrive.
pub(super) async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return "SIGINT";
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

fn clock() -> String {
    chrono::Local::now().format("%H:%M:%S").to_string()
}

/// On a terminal, a spinner naming the jobs running now; lines print above it.
struct Live {
    bar: Option<indicatif::ProgressBar>,
    running: std::sync::Mutex<Vec<String>>,
}

impl Live {
    fn new(p: &Printer) -> Live {
        Live {
            bar: p.spinner("looking for due jobs"),
            running: Default::default(),
        }
    }

    fn show(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn event(&self, p: &Printer, watch: bool, e: &Event) {
        if let Some(bar) = &self.bar {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            match e {
                Event::Start { job, .. } => running.push(job.clone()),
                Event::Finished { report } => {
                    let job = report.job.to_string();
                    if let Some(i) = running.iter().position(|j| *j == job) {
                        running.remove(i);
                    }
                }
                _ => {}
            }
            bar.set_message(if running.is_empty() {
                "waiting for due jobs".to_string()
            } else {
                format!("running {}", running.join(", "))
            });
        }
        self.show(|| print_event(p, watch, e));
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn print_event(p: &Printer, watch: bool, e: &Event) {
    if p.json {
        // Events stream as lines only where passes do too.
        if watch {
            p.json_line(e);
        }
        return;
    }
    match e {
        Event::Start {
            job,
            attempt,
            trigger,
            inputs,
        } => {
            let which = if *attempt > 1 {
                format!("attempt {attempt}")
            } else {
                trigger.to_string()
            };
            let from = if inputs.is_empty() {
                String::new()
            } else {
                format!(" from {}", inputs.join(", "))
            };
            p.status(format!("{}  START {job}  ({which}){from}", clock()));
        }
        // Up-to-date jobs are news in a single pass, noise in a watch.
        Event::Finished { report } if watch && report.status == JobStatus::UpToDate => {}
        Event::Finished { report } => print_job(p, report),
        Event::Retrying {
            job,
            attempt,
            delay_ms,
        } => p.status(format!(
            "{}  RETRY {job}  attempt {attempt} in {:.1}s, on the same input versions",
            clock(),
            *delay_ms as f64 / 1000.0
        )),
        Event::LeaseHeld { pid, host, since } => p.status(format!(
            "{}  another scheduler runs this lake (pid {pid} on {host}, since {since}); waiting for it",
            clock()
        )),
    }
}

fn print_job(p: &Printer, job: &JobReport) {
    let t = clock();
    let label = super::promote::label(job.status);
    let line = match job.status {
        JobStatus::Ok => format!(
            "{t}  {label} {}  {}  {} [{:.1}s]",
            job.reference.as_deref().unwrap_or_default(),
            plural(job.rows, "row", "rows"),
            bytes(job.bytes),
            job.duration_ms as f64 / 1000.0
        ),
        JobStatus::UpToDate => format!(
            "{t}  {label} {}",
            job.reference.as_deref().unwrap_or(&job.job.to_string())
        ),
        _ => format!(
            "{t}  {label} {}  {}",
            job.job,
            job.error.as_deref().unwrap_or_default()
        ),
    };
    p.out(line);
}

fn print_pass(p: &Printer, watch: bool, r: &PassReport) {
    if p.json {
        if watch {
            p.json_line(r);
        } else {
            p.json(r);
        }
        return;
    }
    let promote = &r.promote;
    let acted = promote.ok + promote.failed + promote.skipped + r.waiting;
    if promote.jobs.is_empty() || (watch && acted == 0) {
        if !watch {
            p.status(format!("{}  nothing due", clock()));
        }
        return;
    }
    p.status(format!(
        "{}  pass done: OK={} FAILED={} SKIP={} UP-TO-DATE={} WAITING={} HELD={} [{:.1}s]",
        clock(),
        promote.ok,
        promote.failed,
        promote.skipped,
        promote.up_to_date,
        r.waiting,
        r.held,
        promote.elapsed_ms as f64 / 1000.0
    ));
}

#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// Jobs (silver.orders_clean) or zones (silver); default: every job.
    #[arg(value_name = "JOB")]
    jobs: Vec<String>,
    /// Only runs in this state: success, failed, skipped, waiting, timed_out, cancelled.
    #[arg(long, value_parser = ["success", "failed", "skipped", "waiting", "timed_out", "cancelled"])]
    status: Option<String>,
    /// Only runs started within this long (1d, 12h, 30m), by the lake's clock.
    #[arg(long, value_name = "AGE", value_parser = parse_duration)]
    since: Option<Duration>,
    /// At most this many, newest first.
    #[arg(long, short = 'n', default_value_t = 50)]
    limit: usize,
}

pub fn runs(lake: &Lake, args: &RunsArgs, p: Printer) -> Result<(), Failure> {
    let since = args.since.map(|d| {
        let at = lake.clock().now() - chrono::Duration::from_std(d).unwrap_or_default();
        lake::clock::timestamp(at)
    });
    let runs = lake.runs(&lake::records::RunFilter {
        jobs: args.jobs.clone(),
        status: args.status.clone(),
        since,
        limit: args.limit,
    })?;
    if p.json {
        p.json(&runs);
        return Ok(());
    }
    if runs.is_empty() {
        p.status("no runs yet; `lake run` or `lake promote` runs the jobs");
        return Ok(());
    }
    let rows = runs
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.job.clone(),
                r.status.clone(),
                match r.retry_of {
                    Some(first) => format!("{} #{} of {first}", r.trigger, r.attempt),
                    None => r.trigger.clone(),
                },
                r.started_at.clone(),
                format!("{:.1}s", r.duration_ms as f64 / 1000.0),
                r.inputs.join(","),
                r.output.clone().unwrap_or_default(),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    p.out(super::printer::table(
        &[
            "run", "job", "status", "trigger", "started", "took", "inputs", "output", "error",
        ],
        rows,
    ));
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct RetryArgs {
    /// The run to retry (`lake runs` lists them); its job runs on exactly the inputs it read.
    #[arg(value_name = "RUN_ID")]
    run: i64,
}

pub async fn retry(lake: &Lake, args: &RetryArgs, p: Printer) -> Result<(), Failure> {
    let report = lake.retry(args.run).await?;
    if p.json {
        p.json(&report);
    } else {
        print_job(&p, &report);
    }
    if matches!(
        report.status,
        JobStatus::Failed | JobStatus::TimedOut | JobStatus::Cancelled
    ) {
        return Err(Failure::silent(1));
    }
    Ok(())
}

/// `lake show run ID`.
pub fn show_run(lake: &Lake, id: i64, p: Printer) -> Result<(), Failure> {
    let d = lake.run_detail(id)?;
    if p.json {
        p.json(&d);
        return Ok(());
    }
    let r = &d.run;
    p.out(format!("run {}  {}  {}", r.id, r.job, r.status));
    p.out(format!(
        "  job      {} (sha256:{})",
        r.job_path,
        &r.sql_digest[..r.sql_digest.len().min(12)]
    ));
    p.out(format!(
        "  trigger  {}, attempt {}{}",
        r.trigger,
        r.attempt,
        r.retry_of
            .map(|f| format!(" (retry of run {f})"))
            .unwrap_or_default()
    ));
    p.out(format!(
        "  time     {} → {} ({:.1}s) by {}",
        r.started_at,
        r.finished_at,
        r.duration_ms as f64 / 1000.0,
        r.actor
    ));
    if !r.inputs.is_empty() {
        p.out(format!("  inputs   {}", r.inputs.join(", ")));
    }
    if let Some(o) = &r.output {
        p.out(format!(
            "  output   {o}{}",
            r.rows
                .map(|n| format!(", {}", plural(n, "row", "rows")))
                .unwrap_or_default()
        ));
    }
    if let Some(e) = &r.error {
        p.out(format!("  error    {e}"));
    }
    for c in &d.checks {
        let state = if c.passed { "pass" } else { "FAIL" };
        p.out(format!(
            "  check    {state} {}{}",
            c.name,
            if c.passed {
                String::new()
            } else {
                format!(": {}", plural(c.failing, "failing row", "failing rows"))
            }
        ));
        if !c.passed
            && let Some(rows) = c.sample.as_array()
        {
            for row in rows {
                p.out(format!("             {row}"));
            }
        }
    }
    if d.attempts.len() > 1 {
        p.out("  attempts");
        for a in &d.attempts {
            p.out(format!(
                "    #{} run {}  {}  {}  {}",
                a.attempt,
                a.id,
                a.status,
                a.started_at,
                a.error.as_deref().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Jobs to test: silver.orders_clean, +gold.features, zone:silver. Default: every job.
    #[arg(value_name = "SEL")]
    select: Vec<String>,
    /// Jobs to leave out, in the same syntax.
    #[arg(long, value_name = "SEL", num_args = 1..)]
    exclude: Vec<String>,
}

/// `lake test`: each job's checks over its latest version; exit 1 if a blocking one fails.
pub async fn test(lake: &Lake, args: TestArgs, p: Printer) -> Result<(), Failure> {
    let report = lake
        .promote()
        .with_select(args.select)
        .with_exclude(args.exclude)
        .test()
        .await?;
    if p.json {
        p.json(&report);
    } else {
        for j in &report.jobs {
            let what = j.reference.clone().unwrap_or_else(|| j.job.to_string());
            p.out(format!("{} {what}", j.status.to_uppercase()));
            for c in &j.checks {
                let state = match (c.passed, c.severity.as_str()) {
                    (true, _) => "pass",
                    (false, "warn") => "WARN",
                    (false, _) => "FAIL",
                };
                let sample = super::promote::first_sample(c);
                if c.passed {
                    p.out(format!("    {state} {}", c.name));
                } else {
                    p.out(format!(
                        "    {state} {}: {}{sample}",
                        c.name,
                        plural(c.failing, "failing row", "failing rows")
                    ));
                }
            }
        }
        p.status(format!(
            "Done. PASS={} FAIL={} WARN={}",
            report.passed, report.failed, report.warned
        ));
    }
    if report.failed > 0 {
        return Err(Failure::silent(1));
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The partitioned job (`-- partition_by: day(<column>)`), such as silver.daily_orders.
    #[arg(value_name = "JOB")]
    job: String,
    /// The first day of the range (its partition is included).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    from: chrono::NaiveDate,
    /// The last day of the range (its partition is included).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    to: chrono::NaiveDate,
    /// Run the partitions the latest version does not have (the default).
    #[arg(long, group = "pick")]
    missing: bool,
    /// Run the partitions whose latest backfill run failed or timed out.
    #[arg(long, group = "pick")]
    failed: bool,
    /// Run every partition of the range.
    #[arg(long, group = "pick")]
    all: bool,
    /// Show which partitions would run; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Partitions run side by side, up to N at a time.
    #[arg(long, value_name = "N", default_value_t = 1)]
    max_parallel: usize,
    /// Read DATASET at REF (v3, a tag, a time) instead of its latest version.
    #[arg(long, value_name = "DATASET=REF")]
    at: Vec<String>,
}

fn parse_date(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date such as 2026-01-31"))
}

/// `lake backfill`: one run per partition, each committing its partition.
pub async fn backfill(lake: &Lake, args: BackfillArgs, p: Printer) -> Result<(), Failure> {
    if args.from > args.to {
        return Err(Failure::usage(&format!(
            "--from {} is after --to {}",
            args.from, args.to
        )));
    }
    let pick = if args.failed {
        Pick::Failed
    } else if args.all {
        Pick::All
    } else {
        Pick::Missing
    };
    let (shutdown, signals) = stop_on_signal(
        "stopping; running partitions are cancelled and commit nothing",
        "exiting now",
    );
    let mut scheduler = lake
        .scheduler()
        .with_max_parallel(args.max_parallel)
        .with_shutdown(shutdown);
    if !p.json {
        scheduler = scheduler.with_on_event(Arc::new(move |e: &Event| print_event(&p, false, e)));
    }
    for at in &args.at {
        let r = super::parse_at(at)?;
        let selector = r.selector.clone().expect("parse_at gives a selector");
        scheduler = scheduler.with_input_at(r, selector);
    }
    let report = scheduler
        .backfill(&args.job, args.from, args.to, pick, args.dry_run)
        .await;
    signals.abort();
    let report = report?;
    if p.json {
        p.json(&report);
    } else {
        if report.dry_run {
            for part in &report.partitions {
                p.out(format!("WOULD RUN {} {}", report.job, part.partition));
            }
        }
        p.status(format!(
            "{} of {} partitions of {} picked ({}); OK={} FAILED={} [{:.1}s]",
            report.picked,
            report.in_range,
            report.job,
            report.partition_by,
            report.ok,
            report.failed,
            report.elapsed_ms as f64 / 1000.0
        ));
    }
    if report.failed > 0 {
        return Err(Failure::silent(1));
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Exit 1 when something needs attention (for monitoring).
    #[arg(long)]
    check: bool,
}

/// `lake status`.
pub async fn status(lake: &Lake, args: &StatusArgs, p: Printer) -> Result<(), Failure> {
    let s = lake.status().await?;
    if p.json {
        p.json(&s);
    } else {
        let sched = &s.scheduler;
        p.out(match sched.state {
            "running" => format!(
                "scheduler  running: pid {} on {}, since {}",
                sched.pid.unwrap_or_default(),
                sched.host.as_deref().unwrap_or_default(),
                sched.since.as_deref().unwrap_or_default()
            ),
            "dead" => format!(
                "scheduler  DEAD: the lease of pid {} on {} outlived it; the next `lake run` takes it over",
                sched.pid.unwrap_or_default(),
                sched.host.as_deref().unwrap_or_default()
            ),
            _ => "scheduler  not running".to_string(),
        });
        let up = s.jobs.iter().filter(|j| j.state == "up_to_date").count();
        p.out(format!("jobs       {} of {} up to date", up, s.jobs.len()));
        for j in s.jobs.iter().filter(|j| j.state != "up_to_date") {
            p.out(format!(
                "  {} {}  {}",
                j.state.to_uppercase(),
                j.job,
                j.detail.as_deref().unwrap_or_default()
            ));
        }
        if !s.freshness.is_empty() {
            let breached = s.freshness.iter().filter(|f| f.breached).count();
            p.out(format!(
                "freshness  {} of {} within their limits",
                s.freshness.len() - breached,
                s.freshness.len()
            ));
            for f in s.freshness.iter().filter(|f| f.breached) {
                let limit = lake::promote::status::age(f.limit_s);
                p.out(match (&f.reference, f.age_s) {
                    (Some(r), Some(a)) => format!(
                        "  STALE {}  {r} is {} old (limit {limit})",
                        f.dataset,
                        lake::promote::status::age(a)
                    ),
                    _ => format!("  STALE {}  has no version (limit {limit})", f.dataset),
                });
            }
        }
        p.out(format!(
            "archive    {} by the rules now (`lake archive --dry-run` lists them)",
            plural(
                s.archive_candidates.len() as u64,
                "version would move",
                "versions would move"
            )
        ));
        if !s.lock_files.is_empty() {
            p.out(format!(
                "pins       {} hold versions",
                plural(s.lock_files.len() as u64, "lock file", "lock files")
            ));
            for l in s.lock_files.iter().filter(|l| l.missing) {
                p.out(format!(
                    "  MISSING {}  still holds {}",
                    l.path,
                    l.versions.join(", ")
                ));
            }
        }
        if !s.dead_letters.is_empty() {
            p.out(format!(
                "ingest     {} watches could not ingest (`lake stream show NAME` lists them)",
                plural(s.dead_letters.len() as u64, "file", "files")
            ));
            for d in &s.dead_letters {
                p.out(format!(
                    "  DEAD {}  {}  {}: {}",
                    d.stream, d.dataset, d.key, d.error
                ));
            }
        }
        p.status(if s.attention == 0 {
            "nothing needs attention".to_string()
        } else {
            format!(
                "{} to look at",
                plural(s.attention as u64, "thing", "things")
            )
        });
    }
    if args.check && s.attention > 0 {
        return Err(Failure::silent(1));
    }
    Ok(())
}
