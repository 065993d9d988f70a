//! `lake promote [--select SEL…] [--exclude SEL…] [--dry-run] [--full-refresh] [--at DATASET=REF…]`

use std::sync::Arc;

use lake::promote::{JobReport, JobStatus};
use lake::{Lake, PromoteReport};

use super::printer::{Printer, bytes, plural};
use super::{Failure, parse_ats};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Jobs to run: silver.orders_clean, +gold.features (with its ancestors), bronze.orders+
    /// (everything downstream), zone:silver. Default: every job.
    #[arg(long, short = 's', value_name = "SEL", num_args = 1..)]
    select: Vec<String>,
    /// Jobs to leave out, in the same syntax.
    #[arg(long, value_name = "SEL", num_args = 1..)]
    exclude: Vec<String>,
    /// Show which jobs would run; run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Run jobs even when their SQL and inputs are unchanged since their last run.
    #[arg(long)]
    full_refresh: bool,
    /// Backfill: read DATASET at REF (v3, a tag, a time) instead of its latest version.
    #[arg(long, value_name = "DATASET=REF")]
    at: Vec<String>,
    /// Run each job's plan on these `lake worker`s (host:port,…), over the shared store;
    /// this process plans, writes and commits. Default: `[promote] workers`, else none.
    #[arg(long, value_name = "HOST:PORT", value_delimiter = ',')]
    workers: Option<Vec<String>>,
}

pub async fn run(lake: &Lake, args: Args, p: Printer) -> Result<(), Failure> {
    let mut promote = lake
        .promote()
        .with_select(args.select)
        .with_exclude(args.exclude)
        .with_dry_run(args.dry_run)
        .with_full_refresh(args.full_refresh);
    if let Some(workers) = args.workers {
        promote = promote.with_workers(workers);
    }
    for (dataset, selector) in parse_ats(&args.at)? {
        promote = promote.with_input_at(dataset, selector);
    }
    if !p.json {
        promote = promote.with_on_job(Arc::new(move |i, n, job| print_job(&p, i, n, job)));
    }
    let report = promote.execute().await?;
    if p.json {
        p.json(&report);
    } else {
        print_summary(&p, &report);
    }
    if report.failed > 0 {
        return Err(Failure::silent(1));
    }
    Ok(())
}

fn seconds(ms: u64) -> String {
    format!("[{:.1}s]", ms as f64 / 1000.0)
}

fn print_job(p: &Printer, i: usize, n: usize, job: &JobReport) {
    let head = format!("{i} of {n}");
    match job.status {
        JobStatus::Ok => p.out(format!(
            "{head} OK {}  {}  {} {}",
            job.reference.as_deref().unwrap_or_default(),
            plural(job.rows, "row", "rows"),
            bytes(job.bytes),
            seconds(job.duration_ms)
        )),
        JobStatus::UpToDate => p.out(format!(
            "{head} UP-TO-DATE {}  (same SQL and inputs as its last run)",
            job.reference.as_deref().unwrap_or(&job.job.to_string())
        )),
        JobStatus::WouldRun => p.out(format!(
            "{head} WOULD RUN {}  from {}",
            job.job,
            if job.inputs.is_empty() {
                "no inputs".to_string()
            } else {
                job.inputs.join(", ")
            }
        )),
        JobStatus::Skipped | JobStatus::Waiting | JobStatus::Held => p.out(format!(
            "{head} {} {}  {}",
            label(job.status),
            job.job,
            job.error.as_deref().unwrap_or_default()
        )),
        JobStatus::Failed | JobStatus::TimedOut | JobStatus::Cancelled => {
            p.out(format!(
                "{head} {} {}  {}",
                label(job.status),
                job.job,
                job.error.as_deref().unwrap_or_default()
            ));
            for c in job.checks.iter().filter(|c| !c.passed) {
                let sample = first_sample(c);
                p.out(format!(
                    "    check {}: {}{sample}",
                    c.name,
                    plural(c.failing, "failing row", "failing rows")
                ));
            }
        }
    }
    if job.status == JobStatus::Ok {
        for c in job.checks.iter().filter(|c| !c.passed) {
            p.out(format!(
                "    warn: check {}: {}",
                c.name,
                plural(c.failing, "failing row", "failing rows")
            ));
        }
    }
    for d in &job.drift {
        p.out(format!("    schema: {d}"));
    }
    if let Some(h) = &job.hook_error {
        eprintln!("warning: {h}");
    }
}

/// `, e.g. {…}`: a failing check's first sample row, for a job line.
pub fn first_sample(c: &lake::records::CheckRow) -> String {
    c.sample
        .as_array()
        .and_then(|rows| rows.first())
        .map(|r| format!(", e.g. {r}"))
        .unwrap_or_default()
}

/// A status as the job lines spell it.
pub fn label(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Ok => "OK",
        JobStatus::Failed => "FAILED",
        JobStatus::Skipped => "SKIP",
        JobStatus::UpToDate => "UP-TO-DATE",
        JobStatus::WouldRun => "WOULD RUN",
        JobStatus::Waiting => "WAITING",
        JobStatus::TimedOut => "TIMED OUT",
        JobStatus::Cancelled => "CANCELLED",
        JobStatus::Held => "HELD",
    }
}

fn print_summary(p: &Printer, r: &PromoteReport) {
    if r.jobs.is_empty() {
        p.status("no jobs to run (jobs live in jobs/<zone>/<name>.sql)");
        return;
    }
    p.out(format!(
        "Done. OK={} FAILED={} SKIP={} UP-TO-DATE={} {}",
        r.ok,
        r.failed,
        r.skipped,
        r.up_to_date,
        seconds(r.elapsed_ms)
    ));
}
