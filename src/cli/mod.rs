//! The command line: clap definitions, one module per subcommand, one place that renders errors.

mod adopt;
mod completions;
mod erase;
mod export;
mod ingest;
mod init;
mod inspect;
mod lifecycle;
mod lineage;
mod printer;
mod promote;
mod query;
mod reads;
mod report;
mod run;
mod search;
mod serve;
mod settings;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use lake::{Error, Lake};
use printer::Printer;

#[derive(Debug, Parser)]
#[command(
    name = "lake",
    version,
    about = "Versioned bronze/silver/gold datasets with a SQLite catalog"
)]
pub(crate) struct Cli {
    /// Run as if started in DIR (the lake project, or a folder inside it); default: LAKE_DIR,
    /// else the current folder.
    #[arg(short = 'C', long = "dir", global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Print only results and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print JSON with stable fields instead of text: one document (an object carries
    /// `schema_version`), or one line per event where a command runs on (`--watch`, `serve`).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a lake project: lake.toml and the catalog.
    #[command(after_help = r#"Examples:
  lake init
  lake init my-lake
  lake init --root s3://bucket/lake --archive s3://cold/lake --s3-region eu-west-1
  lake init --root az://container/lake --archive gs://cold-bucket/lake
  lake init --root https://data.example.com/lake     # read-only"#)]
    Init(init::Args),
    /// Ingest CSV, JSON/NDJSON or Parquet (files, s3:// or https:// sources, or a pipe) as a new
    /// version of a bronze dataset.
    #[command(after_help = r#"Examples:
  lake ingest examples/data/orders-2026-01.csv --into bronze.orders
  lake ingest customers.csv --into bronze.customers --mode overwrite
  lake ingest s3://drop/exports/ --into bronze.events --format ndjson
  producer | lake ingest - --into bronze.clicks --format ndjson --stream clicks
  lake ingest --watch inbox/ --into bronze.orders"#)]
    Ingest(ingest::Args),
    /// Register Parquet files another engine wrote (Spark, DuckDB) as a new version, checked
    /// and hashed; files already under the dataset's data prefix are not copied.
    #[command(after_help = r#"Examples:
  lake adopt spark-out/ --into bronze.orders --dry-run
  lake adopt spark-out/ --into bronze.orders --mode append"#)]
    Adopt(adopt::Args),
    /// Named streams that `lake ingest - --stream NAME` writes: where each stands.
    #[command(subcommand)]
    #[command(after_help = r#"Examples:
  lake stream show clicks
  lake stream show clicks --json"#)]
    Stream(ingest::StreamCommand),
    /// List datasets with their latest version.
    #[command(after_help = r#"Examples:
  lake ls
  lake ls --zone gold --json"#)]
    Ls(inspect::LsArgs),
    /// Show one version: schema, rows, files, sources, digest, drift.
    #[command(after_help = r#"Examples:
  lake show bronze.orders
  lake show bronze.orders@v3
  lake show gold.features@train-2026-11 --json"#)]
    Show(inspect::ShowArgs),
    /// List a dataset's versions, newest first.
    #[command(after_help = r#"Examples:
  lake log bronze.orders
  lake log silver.orders --json"#)]
    Log(inspect::LogArgs),
    /// Run the SQL jobs in jobs/<zone>/ that turn bronze into silver and gold.
    #[command(after_help = r#"Examples:
  lake promote
  lake promote --dry-run
  lake promote --select +gold.customer_features
  lake promote --select bronze.orders+ --full-refresh
  lake promote --at bronze.orders=v2"#)]
    Promote(promote::Args),
    /// Run the jobs that are due by their schedules and new input versions; once, or watching.
    #[command(after_help = r#"Examples:
  lake run --once
  lake run --watch --every 5m --max-parallel 4
  lake run gold.customer_features --once --json"#)]
    Run(run::Args),
    /// What needs attention: stale, waiting and failing jobs, freshness, archive candidates,
    /// the scheduler's lease and the lock files that hold versions.
    #[command(after_help = r#"Examples:
  lake status
  lake status --check        # exit 1 when something needs attention"#)]
    Status(run::StatusArgs),
    /// Run a partitioned job once per partition of a date range, each run committing its partition.
    #[command(after_help = r#"Examples:
  lake backfill silver.daily --from 2026-01-01 --to 2026-01-31 --dry-run
  lake backfill silver.daily --from 2026-01-01 --to 2026-01-31 --missing --max-parallel 4"#)]
    Backfill(run::BackfillArgs),
    /// Run each job's checks over its latest version, building nothing.
    #[command(after_help = r#"Examples:
  lake test
  lake test silver.orders --json"#)]
    Test(run::TestArgs),
    /// Run a run's job again on exactly the input versions that run read.
    #[command(after_help = r#"Examples:
  lake runs --status failed
  lake retry 42"#)]
    Retry(run::RetryArgs),
    /// List job runs, newest first: status, trigger and attempt, exact inputs, output, error.
    #[command(after_help = r#"Examples:
  lake runs
  lake runs silver.orders --status failed --since 1d
  lake runs -n 5 --json"#)]
    Runs(run::RunsArgs),
    /// Run a read-only SQL query over the datasets.
    #[command(after_help = r#"Examples:
  lake query "SELECT status, count(*) FROM silver.orders GROUP BY status"
  lake query "SELECT * FROM bronze.orders" --at bronze.orders=v1 --format csv -o v1.csv
  lake query 'SELECT count(*) FROM "bronze.orders@v3"' --verify"#)]
    Query(query::Args),
    /// Show which versions a version was computed from, or what was computed from it.
    #[command(after_help = r#"Examples:
  lake lineage gold.customer_features
  lake lineage bronze.orders@v1 --downstream
  lake lineage gold.customer_features --format mermaid"#)]
    Lineage(lineage::Args),
    /// Point a tag at a version (tagged versions are never archived); -d removes it.
    #[command(after_help = r#"Examples:
  lake tag gold.customer_features@v4 train-2026-11
  lake tag gold.customer_features train-2026-11 --delete"#)]
    Tag(lifecycle::TagArgs),
    /// Lifecycle rules: when versions are archived and expired.
    #[command(subcommand)]
    #[command(after_help = r#"Examples:
  lake rule add --zone bronze --archive-after 30d --keep-last 3
  lake rule add --dataset "events*" --archive-after 1w --expire-after 90d
  lake rule ls
  lake rule rm 2"#)]
    Rule(lifecycle::RuleCommand),
    /// Apply the rules: move old versions to the archive tier, expire old archived data.
    #[command(after_help = r#"Examples:
  lake archive --dry-run
  lake archive bronze.orders
  lake archive --yes          # expire without asking"#)]
    Archive(lifecycle::ArchiveArgs),
    /// A new version with the files and schema of an earlier one (nothing copied); downstream
    /// jobs rerun on it.
    #[command(after_help = r#"Examples:
  lake rollback gold.customer_features@v2 --dry-run
  lake rollback gold.customer_features@v2"#)]
    Rollback(lifecycle::RollbackArgs),
    /// Remove rows (a person's data) from datasets: a new latest version without them, or with
    /// --all-versions every retained version amended; `--log` lists the erasures.
    Erase(erase::Args),
    /// Bring an archived version back to the hot tier, verified.
    #[command(after_help = r#"Examples:
  lake restore bronze.orders@v1 --dry-run
  lake restore bronze.orders@v1"#)]
    Restore(lifecycle::RestoreArgs),
    /// Delete objects no catalog row references (left by interrupted writes).
    #[command(after_help = r#"Examples:
  lake gc --dry-run
  lake gc --grace 1h"#)]
    Gc(lifecycle::GcArgs),
    /// Keep datasets fast to read: `lake maintain` applies the `[maintain]` policies;
    /// `lake maintain compact DATASET` merges one dataset's small files.
    #[command(after_help = r#"Examples:
  lake maintain --dry-run
  lake maintain
  lake maintain compact bronze.events --target-file-mb 256"#)]
    Maintain(lifecycle::MaintainArgs),
    /// The catalog in a browser: datasets, versions, lineage, runs, storage (read only).
    #[command(after_help = r#"Examples:
  lake serve
  lake serve --bind 127.0.0.1:8080 --open
  lake serve --bind 0.0.0.0:8080 --token "$LAKE_TOKEN""#)]
    Serve(serve::ServeArgs),
    /// Run stages of `lake promote --workers` plans (a distributed DataFusion worker); needs
    /// the project's lake.toml, not its catalog.
    #[command(after_help = r#"Examples:
  lake worker --bind 127.0.0.1:50051
  lake promote --workers 10.0.0.2:50051,10.0.0.3:50051"#)]
    Worker(serve::WorkerArgs),
    /// The catalog's pages as static HTML: `lake docs build -o site/`.
    #[command(subcommand)]
    #[command(after_help = r#"Examples:
  lake docs build --output site/"#)]
    Docs(serve::DocsCommand),
    /// Compare the catalog with storage; exit 3 if data is missing or altered.
    #[command(after_help = r#"Examples:
  lake check
  lake check --verify-hashes
  lake check --repair
  lake check --rebuild-catalog --into rebuilt.sqlite"#)]
    Check(lifecycle::CheckArgs),
    /// Write each dataset's Delta log, so Spark, DuckDB, Polars and delta-rs read every version.
    #[command(subcommand)]
    #[command(after_help = r#"Examples:
  lake export delta
  lake export delta bronze.orders silver.orders"#)]
    Export(export::ExportCommand),
    /// The catalog itself: a consistent copy of it, taken while other commands run.
    #[command(
        subcommand,
        after_help = r#"Examples:
  lake catalog backup /tmp/catalog.sqlite"#
    )]
    Catalog(settings::CatalogCommand),
    /// Bytes per zone, dataset and version, hot and archive.
    #[command(after_help = r#"Examples:
  lake du
  lake du bronze.orders --json"#)]
    Du(lifecycle::DuArgs),
    /// Describe a dataset: description, owner, labels, column docs.
    #[command(after_help = r#"Examples:
  lake annotate silver.customers --description "One row per customer" --owner data-team
  lake annotate silver.customers --label pii --column 'email_masked=Masked e-mail'"#)]
    Annotate(search::AnnotateArgs),
    /// Find datasets by name, description, owner, labels, columns, column docs or job SQL.
    #[command(after_help = r#"Examples:
  lake search revenue
  lake search --label pii
  lake search --column customer_id --ever"#)]
    Search(search::SearchArgs),
    /// Compare two versions: schema, rows, bytes, files and per-column statistics.
    #[command(after_help = r#"Examples:
  lake diff bronze.orders@v1 bronze.orders@v2
  lake diff gold.customer_features@train-2026-10 gold.customer_features --json"#)]
    Diff(search::DiffArgs),
    /// Rebuild the search index from the catalog.
    #[command(after_help = r#"Examples:
  lake reindex"#)]
    Reindex(search::ReindexArgs),
    /// Resolve refs to exact versions and write them, with digests, to a lock file.
    #[command(after_help = r#"Examples:
  lake pin gold.customer_features@train-2026-11
  lake pin bronze.orders@v3 silver.orders --lock training.lock"#)]
    Pin(reads::PinArgs),
    /// Check that every version in a lock file is intact; exit 3 if not.
    #[command(after_help = r#"Examples:
  lake verify
  lake verify training.lock --json"#)]
    Verify(reads::VerifyArgs),
    /// Download a version's files and manifest into a folder, verified.
    #[command(after_help = r#"Examples:
  lake get gold.customer_features@v4 --output features/"#)]
    Get(reads::GetArgs),
    /// Print a version's manifest (the read contract).
    #[command(after_help = r#"Examples:
  lake manifest gold.customer_features@v4"#)]
    Manifest(reads::ManifestArgs),
    /// Read a version (or one shard of it) as CSV or JSON lines, verified.
    #[command(after_help = r#"Examples:
  lake scan gold.customer_features --columns customer_id,orders --format csv
  lake scan gold.customer_features@v4 --shard 0/4 --seed 7 --epoch 2 --buffer 100000
  lake scan bronze.orders --format arrow > orders.arrows"#)]
    Scan(reads::ScanArgs),
    /// The project's settings (lake.toml, with LAKE_* variables over it) and where each came from.
    Config(settings::Args),
    /// A completion script for bash, zsh or fish (subcommands, flags, and the lake's datasets
    /// and tags).
    Completions(completions::Args),
    #[command(name = "__complete", hide = true)]
    Complete(completions::CompleteArgs),
}

/// Parse, run, render; returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return report::EXIT_FAILED;
        }
    };
    // `lake run` handles its own signals: it cancels running jobs and releases its lease.
    // So does an ingest from a pipe (it stops between records and keeps what it committed) and a
    // watch (it stops after the batch being ingested).
    let own_signals = match &cli.command {
        Command::Run(_) => true,
        Command::Ingest(args) => args.reads_stdin() || args.watches(),
        Command::Serve(_) | Command::Worker(_) => true,
        _ => false,
    };
    if own_signals {
        return runtime.block_on(run(cli));
    }
    runtime.block_on(async {
        tokio::select! {
            code = run(cli) => code,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("interrupted; nothing was committed by the command in progress");
                report::EXIT_INTERRUPTED
            }
        }
    })
}

async fn run(cli: Cli) -> i32 {
    match dispatch(cli).await {
        Ok(()) => 0,
        Err(Failure {
            error: None, code, ..
        }) => code,
        Err(Failure {
            error: Some(error), ..
        }) => report::render(&error),
    }
}

async fn dispatch(cli: Cli) -> Result<(), Failure> {
    let start = cli
        .dir
        .clone()
        .or_else(|| {
            std::env::var_os("LAKE_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("."));
    let p = Printer {
        json: cli.json,
        quiet: cli.quiet,
    };
    // A clock set wrongly must not fall back to the real one unnoticed: it stamps versions.
    if let Some(now) = std::env::var("LAKE_NOW").ok().filter(|v| !v.is_empty())
        && lake::clock::parse_timestamp(&now).is_none()
    {
        return Err(Failure::usage(&format!(
            "LAKE_NOW `{now}` is not an RFC 3339 time, such as 2026-01-01T00:00:00Z"
        )));
    }
    if let Command::Completions(args) = &cli.command {
        return completions::run(args, p);
    }
    if let Command::Complete(args) = &cli.command {
        return completions::complete(&start, args);
    }
    if let Command::Config(args) = &cli.command {
        return settings::run(&start, args, p);
    }
    if let Command::Init(args) = cli.command {
        return init::run(&start, args, p);
    }
    if let Command::Worker(args) = cli.command {
        return serve::worker(&start, args, p).await;
    }
    if let Command::Check(args) = &cli.command
        && args.rebuild_catalog
    {
        return lifecycle::rebuild_catalog(&start, args, p).await;
    }
    let lake = Lake::open(&start)?;
    if let Some(command) = writes(&cli.command) {
        lake.check_writable(command)?;
    }
    if let Command::Serve(args) = cli.command {
        return serve::serve(lake, args, p).await;
    }
    let lake = &lake;
    match cli.command {
        Command::Init(_) => unreachable!("handled above"),
        Command::Ingest(args) => ingest::run(lake, args, p).await,
        Command::Promote(args) => promote::run(lake, args, p).await,
        Command::Query(args) => query::run(lake, args, p).await,
        Command::Run(args) => run::run(lake, args, p).await,
        Command::Runs(args) => run::runs(lake, &args, p),
        Command::Retry(args) => run::retry(lake, &args, p).await,
        Command::Stream(command) => ingest::stream(lake, &command, p),
        Command::Status(args) => run::status(lake, &args, p).await,
        Command::Backfill(args) => run::backfill(lake, args, p).await,
        Command::Test(args) => run::test(lake, args, p).await,
        Command::Lineage(args) => lineage::run(lake, &args, p),
        Command::Tag(args) => lifecycle::tag(lake, &args, p),
        Command::Rule(command) => lifecycle::rule(lake, &command, p),
        Command::Archive(args) => lifecycle::archive(lake, &args, p).await,
        Command::Erase(args) => erase::run(lake, &args, p).await,
        Command::Restore(args) => lifecycle::restore(lake, &args, p).await,
        Command::Rollback(args) => lifecycle::rollback(lake, &args, p).await,
        Command::Gc(args) => lifecycle::gc(lake, &args, p).await,
        Command::Maintain(args) => match &args.command {
            Some(lifecycle::MaintainCommand::Compact(c)) => lifecycle::compact(lake, c, p).await,
            None => lifecycle::maintain(lake, &args, p).await,
        },
        Command::Serve(_) | Command::Worker(_) => unreachable!("handled above"),
        Command::Completions(_) | Command::Complete(_) | Command::Config(_) => {
            unreachable!("handled above")
        }
        Command::Docs(command) => serve::docs(lake, command, p).await,
        Command::Check(args) => lifecycle::check(lake, &args, p).await,
        Command::Adopt(args) => adopt::run(lake, &args, p).await,
        Command::Export(command) => export::run(lake, &command, p).await,
        Command::Du(args) => lifecycle::du(lake, &args, p),
        Command::Catalog(command) => settings::catalog(lake, &command, p),
        Command::Annotate(args) => search::annotate(lake, &args, p),
        Command::Search(args) => search::search(lake, &args, p),
        Command::Diff(args) => search::diff(lake, &args, p).await,
        Command::Reindex(args) => search::reindex(lake, &args, p),
        Command::Pin(args) => reads::pin(lake, &args, p),
        Command::Verify(args) => reads::verify(lake, &args, p).await,
        Command::Get(args) => reads::get(lake, &args, p).await,
        Command::Manifest(args) => reads::manifest(lake, &args, p).await,
        Command::Scan(args) => reads::scan(lake, &args, p).await,
        Command::Ls(args) => inspect::ls(lake, &args, p),
        Command::Show(args) => inspect::show(lake, &args, p),
        Command::Log(args) => inspect::log(lake, &args, p),
    }
}

/// The name of a command that writes to the lake's storage, refused on a read-only root before
/// it starts. Reads, and what changes only the local catalog (tags, rules), go on.
fn writes(command: &Command) -> Option<&'static str> {
    Some(match command {
        Command::Ingest(_) => "ingest",
        Command::Adopt(_) => "adopt",
        Command::Promote(_) => "promote",
        Command::Run(_) => "run",
        Command::Backfill(_) => "backfill",
        Command::Retry(_) => "retry",
        Command::Archive(_) => "archive",
        Command::Rollback(_) => "rollback",
        Command::Erase(_) => "erase",
        Command::Restore(_) => "restore",
        Command::Gc(_) => "gc",
        Command::Maintain(_) => "maintain",
        Command::Export(_) => "export",
        Command::Annotate(_) => "annotate",
        _ => return None,
    })
}

/// How a command failed: an error, or
/// just an exit code when the command already said what went wrong.
pub struct Failure {
    pub error: Option<Box<Error>>,
    pub code: i32,
}

impl Failure {
    /// Exit with `code`; the output already explained why.
    pub fn silent(code: i32) -> Failure {
        Failure { error: None, code }
    }

    /// A usage mistake clap cannot catch (exit 2).
    pub fn usage(message: &str) -> Failure {
        eprintln!("error: {message}");
        Failure::silent(report::EXIT_USAGE)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let code = report::exit_code(&error);
        Failure {
            error: Some(Box::new(error)),
            code,
        }
    }
}

/// Every `--at DATASET=REF`, each dataset once: two different versions of one dataset are a
/// usage error, not the last one winning.
pub fn parse_ats(
    list: &[String],
) -> Result<Vec<(lake::DatasetRef, lake::ident::Selector)>, Failure> {
    let mut out: Vec<(lake::DatasetRef, lake::ident::Selector)> = Vec::new();
    for at in list {
        let r = parse_at(at)?;
        let selector = r.selector.clone().expect("parse_at gives a selector");
        let dataset = r.dataset();
        match out.iter().find(|(d, _)| *d == dataset) {
            Some((_, s)) if *s != selector => {
                return Err(Failure::usage(&format!(
                    "--at names {dataset} twice ({dataset}@{s} and {dataset}@{selector}); to read two versions in one query, name them in the SQL: \"{dataset}@{s}\""
                )));
            }
            Some(_) => {}
            None => out.push((dataset, selector)),
        }
    }
    Ok(out)
}

/// `DATASET=REF` (or `DATASET@REF`) as a ref with a selector.
pub fn parse_at(text: &str) -> Result<lake::DatasetRef, Error> {
    let joined = match text.split_once('=') {
        Some((d, r)) => format!("{d}@{}", r.trim_start_matches('@')),
        None => text.to_string(),
    };
    let r: lake::DatasetRef = joined.parse()?;
    if r.selector.is_none() {
        return Err(Error::InvalidRef {
            input: text.to_string(),
            reason: "--at takes DATASET=REF, such as bronze.orders=v3".into(),
        });
    }
    Ok(r)
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LAKE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
