//! `lake ingest SRC… --into bronze.NAME`

use std::path::PathBuf;

use lake::format::source::{Compression, CsvOptions, SourceFormat};
use lake::ingest::IngestStatus;
use lake::{DatasetRef, IngestMode, IngestReport, Lake};

use super::Failure;
use super::printer::{Printer, bytes, count, plural, short_digest};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, folders or globs; s3://bucket/key or s3://bucket/prefix/; https:// URLs; or `-`
    /// for standard input (with --format). `.gz` and `.zst` are decompressed as read.
    #[arg(required = true, value_name = "SRC")]
    sources: Vec<PathBuf>,
    /// The bronze dataset to write, such as bronze.orders.
    #[arg(long, value_name = "DATASET")]
    into: String,
    /// Read sources as this format instead of going by their extension.
    #[arg(long, value_parser = parse_format)]
    format: Option<SourceFormat>,
    /// Read sources as stored with this compression (gzip, zstd, none) instead of going by
    /// their extension (`.gz`, `.zst`); the sha256 is of the bytes as stored.
    #[arg(long, value_parser = parse_compression)]
    compression: Option<Compression>,
    /// append: keep the current rows and add these; overwrite: these rows only.
    #[arg(long, value_enum, default_value = "append")]
    mode: ModeArg,
    /// Column names and types (JSON: {"fields": [{"name", "type", "nullable"}]}) instead of inference.
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// CSV field delimiter (default `,`; tab for .tsv).
    #[arg(long, value_parser = parse_delimiter)]
    delimiter: Option<u8>,
    /// The CSV files have no header row; columns are named column_1, column_2, …
    #[arg(long)]
    no_header: bool,
    /// A CSV value that means null, besides the empty field (such as NA).
    #[arg(long, value_name = "TEXT")]
    null_value: Option<String>,
    /// Show the plan (sources, schema, drift) and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Ingest sources even if the current version already holds their content.
    #[arg(long)]
    force: bool,
    /// With `-` (a pipe): commit a version every N records.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    batch_rows: Option<u64>,
    /// With `-`: commit a version once a batch holds this much input (64MB, 1GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    batch_bytes: Option<u64>,
    /// With `-`: commit a version this long after a batch's first record (30s, 5m).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    batch_interval: Option<std::time::Duration>,
    /// With `-`: a named stream. Each batch moves its committed position (in records) in the
    /// batch's own transaction; `lake stream show NAME` says where a producer resumes, and
    /// records re-fed before that position are left out.
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
    /// With --stream: the stream offset (in records) at which this input starts (default: its
    /// committed position).
    #[arg(long, value_name = "N", requires = "stream")]
    offset: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Append,
    Overwrite,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("`{s}` is not a size such as 64MB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        _ => return Err(format!("`{s}` is not a size such as 64MB")),
    };
    n.checked_mul(scale)
        .filter(|b| *b > 0)
        .ok_or_else(|| format!("`{s}` is not a positive size"))
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let d = lake::promote::policy::parse_duration(s)?;
    if d.is_zero() {
        return Err("needs a positive duration, such as 30s".into());
    }
    Ok(d)
}

fn parse_compression(s: &str) -> Result<Compression, String> {
    s.parse()
}

fn parse_format(s: &str) -> Result<SourceFormat, String> {
    s.parse()
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "\\t" | "tab" => Ok(b'\t'),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err("a delimiter is one ASCII character (or `tab`)".into()),
    }
}

impl Args {
    /// `lake ingest - …`: records from standard input.
    pub fn reads_stdin(&self) -> bool {
        self.sources.iter().any(|s| s.as_os_str() == "-")
    }
}

pub async fn run(lake: &Lake, args: Args, p: Printer) -> Result<(), Failure> {
    let target = DatasetRef::parse_dataset(&args.into)?;
    let mode = match args.mode {
        ModeArg::Append => IngestMode::Append,
        ModeArg::Overwrite => IngestMode::Overwrite,
    };
    if args.reads_stdin() {
        return stdin(lake, args, target, mode, p).await;
    }
    if args.stream.is_some() {
        return Err(Failure::usage(
            "--stream names a stream read from `-` (standard input)",
        ));
    }
    if args.batch_rows.is_some() || args.batch_bytes.is_some() || args.batch_interval.is_some() {
        return Err(Failure::usage(
            "--batch-rows, --batch-bytes and --batch-interval cut a stream: read one with `lake ingest - …`",
        ));
    }
    let mut ingest = lake
        .ingest(args.sources, target)
        .with_format(args.format)
        .with_compression(args.compression)
        .with_mode(mode)
        .with_schema_file(args.schema)
        .with_csv(CsvOptions {
            delimiter: args.delimiter,
            has_header: !args.no_header,
            null_value: args.null_value,
        })
        .with_dry_run(args.dry_run)
        .with_force(args.force);
    if let Some(progress) = p.byte_progress("ingest") {
        ingest = ingest.with_progress(progress);
    }
    let report = ingest.execute().await?;
    if p.json {
        p.json(&report);
    } else {
        print_report(&report, &p);
    }
    Ok(())
}

fn print_report(r: &IngestReport, p: &Printer) {
    let skipped = r.sources.iter().filter(|s| s.skipped).count();
    if skipped > 0 && r.status != IngestStatus::Unchanged {
        p.status(format!(
            "skipped {} already in {} (same sha256)",
            plural(skipped as u64, "source", "sources"),
            r.dataset
        ));
    }
    if !r.drift.is_empty() {
        p.out(format!("schema drift in {}:", r.dataset));
        for d in &r.drift {
            p.out(format!("  {d}"));
        }
    }
    match r.status {
        IngestStatus::Committed => p.out(format!(
            "✓ {}  {}  {}  {}  {}",
            r.reference.as_deref().unwrap_or_default(),
            plural(r.rows, "row", "rows"),
            plural(r.files_written, "file", "files"),
            bytes(r.bytes_written),
            short_digest(r.digest.as_deref().unwrap_or_default()),
        )),
        IngestStatus::Unchanged => p.out(format!(
            "= {} unchanged: its current version already holds {} (--force ingests again)",
            r.dataset,
            if r.sources.len() == 1 {
                "this source"
            } else {
                "these sources"
            },
        )),
        IngestStatus::DryRun => {
            let todo: Vec<_> = r.sources.iter().filter(|s| !s.skipped).collect();
            p.out(format!(
                "would {} {} ({}) into {}:",
                r.mode.as_str(),
                plural(todo.len() as u64, "source", "sources"),
                bytes(r.input_bytes),
                r.dataset
            ));
            for s in &r.sources {
                let note = if s.skipped {
                    "  (skipped: already present)"
                } else {
                    ""
                };
                p.out(format!(
                    "  {}  {}  {}{note}",
                    s.path.display(),
                    s.format.as_str(),
                    bytes(s.size)
                ));
            }
            p.out("columns:");
            for c in &r.columns {
                p.out(format!("  {}  {}", c.name, c.data_type));
            }
            p.out(format!(
                "(dry run: nothing written; {} columns)",
                count(r.columns.len() as u64)
            ));
        }
    }
}

/// `lake ingest - --into … --format ndjson|csv [--batch-rows N] [--batch-bytes SIZE]
/// [--batch-interval 30s]`: a version per batch; SIGINT drops the batch being read.
async fn stdin(
    lake: &Lake,
    args: Args,
    target: DatasetRef,
    mode: IngestMode,
    p: Printer,
) -> Result<(), Failure> {
    if args.sources.len() > 1 {
        return Err(Failure::usage(
            "`-` (standard input) is read alone, not beside files",
        ));
    }
    let Some(format) = args.format else {
        return Err(Failure::usage(
            "a pipe has no extension: give `--format ndjson` or `--format csv`",
        ));
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let signals = tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
    });
    let shown = p;
    let mut streaming = lake.ingest_stream(target, format);
    if let Some(name) = args.stream.clone() {
        streaming = streaming.with_stream(name, args.offset);
    }
    let report = streaming
        .with_mode(mode)
        .with_csv(CsvOptions {
            delimiter: args.delimiter,
            has_header: !args.no_header,
            null_value: args.null_value,
        })
        .with_limits(lake::stream::BatchLimits {
            rows: args.batch_rows,
            bytes: args.batch_bytes,
            interval: args.batch_interval,
        })
        .with_stop(stopped)
        .with_on_batch(std::sync::Arc::new(move |r: &IngestReport| {
            if shown.json {
                shown.out(serde_json::to_string(r).expect("reports serialize"));
            } else {
                print_report(r, &shown);
            }
        }))
        .execute(lake::stream::stdin())
        .await;
    signals.abort();
    let report = report?;
    let summary = format!(
        "{} read, {} committed in {}",
        plural(report.records, "record", "records"),
        plural(report.committed_rows, "row", "rows"),
        plural(report.batches.len() as u64, "version", "versions")
    );
    if report.interrupted {
        eprintln!(
            "interrupted: {summary}; the batch being read ({}) was not committed",
            plural(report.uncommitted_records, "record", "records")
        );
        return Err(Failure::silent(super::report::EXIT_INTERRUPTED));
    }
    p.status(summary);
    if let (Some(name), Some(at)) = (&report.stream, report.position) {
        p.status(format!(
            "stream {name} at record {at}{}",
            if report.skipped_records > 0 {
                format!(
                    " ({} already committed, left out)",
                    plural(report.skipped_records, "record", "records")
                )
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

#[derive(Debug, clap::Subcommand)]
pub enum StreamCommand {
    /// Where a named stream stands: records committed (the offset to resume from), batches,
    /// the last version.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn stream(lake: &Lake, command: &StreamCommand, p: Printer) -> Result<(), Failure> {
    let StreamCommand::Show { name, .. } = command;
    let Some(s) = lake.stream_state(name)? else {
        return Err(lake::Error::StreamNotFound { name: name.clone() }.into());
    };
    if p.json {
        p.json(&s);
        return Ok(());
    }
    p.out(format!("stream    {}", s.name));
    p.out(format!("dataset   {}", s.dataset));
    p.out(format!(
        "position  {} (resume from record {})",
        plural(s.position, "record", "records"),
        s.position
    ));
    p.out(format!("batches   {}", s.batches));
    if let Some(v) = &s.last_version {
        p.out(format!("last      {v} at {}", s.updated_at));
    }
    Ok(())
}
