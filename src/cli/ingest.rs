//! `lake ingest SRC… --into bronze.NAME`

use std::path::PathBuf;

use lake::ingest::IngestStatus;
use lake::{Compression, CsvOptions, SourceFormat};
use lake::{DatasetRef, IngestMode, IngestReport, Lake};

use super::Failure;
use super::printer::{Printer, bytes, count, plural, short_digest};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, folders or globs; s3://bucket/key or s3://bucket/prefix/; https:// URLs; or `-`
    /// for standard input (with --format). `.gz` and `.zst` are decompressed as read.
    #[arg(required_unless_present = "watch", value_name = "SRC")]
    sources: Vec<PathBuf>,
    /// Watch a folder or s3://bucket/prefix/ and ingest each new file exactly once, recorded
    /// in a stream (--stream, by default `watch:` and the folder); runs until SIGINT/SIGTERM.
    #[arg(long, value_name = "DIR|URL", conflicts_with_all = ["sources", "dry_run", "schema"])]
    watch: Option<String>,
    /// With --watch: read a file once its size and modification time have not changed for
    /// this long (default 2s for a folder, 0 for a prefix).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "watch")]
    settle: Option<std::time::Duration>,
    /// With --watch: time between listings (default 2s).
    #[arg(long, value_name = "DURATION", value_parser = parse_interval, requires = "watch")]
    poll: Option<std::time::Duration>,
    /// With --watch: read the files of a folder only once a file of this name is in it
    /// (such as _SUCCESS).
    #[arg(long, value_name = "NAME", requires = "watch")]
    marker: Option<String>,
    /// With --watch: files per version, at most (default 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), requires = "watch")]
    batch_files: Option<u64>,
    /// With --watch: one pass: ingest the files that are ready now, then exit.
    #[arg(long, requires = "watch")]
    once: bool,
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

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    lake::promote::policy::parse_duration(s)
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

    /// The CSV flags as options.
    fn csv_options(&self) -> CsvOptions {
        CsvOptions {
            delimiter: self.delimiter,
            has_header: !self.no_header,
            null_value: self.null_value.clone(),
        }
    }

    /// `lake ingest --watch …`: it stops at a signal after the batch being ingested.
    pub fn watches(&self) -> bool {
        self.watch.is_some()
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
    if args.watch.is_some() {
        return watch(lake, args, target, mode, p).await;
    }
    if args.stream.is_some() {
        return Err(Failure::usage(
            "--stream names a stream read from `-` (standard input) or --watch",
        ));
    }
    if args.batch_rows.is_some() || args.batch_bytes.is_some() || args.batch_interval.is_some() {
        return Err(Failure::usage(
            "--batch-rows, --batch-bytes and --batch-interval cut a stream: read one with `lake ingest - …`",
        ));
    }
    let csv = args.csv_options();
    let mut ingest = lake
        .ingest(args.sources, target)
        .with_format(args.format)
        .with_compression(args.compression)
        .with_mode(mode)
        .with_schema_file(args.schema)
        .with_csv(csv)
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
    let (stopped, signals) = super::run::stop_on_signal(
        "stopping; the batch being read is not committed",
        "exiting now",
    );
    let shown = p;
    let mut streaming = lake.ingest_stream(target, format);
    if let Some(name) = args.stream.clone() {
        streaming = streaming.with_stream(name, args.offset);
    }
    let report = streaming
        .with_mode(mode)
        .with_csv(args.csv_options())
        .with_limits(lake::stream::BatchLimits {
            rows: args.batch_rows,
            bytes: args.batch_bytes,
            interval: args.batch_interval,
        })
        .with_stop(stopped)
        .with_on_batch(std::sync::Arc::new(move |r: &IngestReport| {
            if shown.json {
                shown.json_line(r);
            } else {
                print_report(r, &shown);
            }
        }))
        .with_on_compact(std::sync::Arc::new(move |r| print_compaction(r, &shown)))
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

/// `lake ingest --watch DIR|s3://bucket/prefix/ --into …`: every new file once, until a signal.
async fn watch(
    lake: &Lake,
    args: Args,
    target: DatasetRef,
    mode: IngestMode,
    p: Printer,
) -> Result<(), Failure> {
    use lake::watch::{WatchEvent, WatchOptions};
    if mode != IngestMode::Append {
        return Err(Failure::usage(
            "a watch appends: --mode overwrite cannot be used with --watch",
        ));
    }
    if args.offset.is_some() {
        return Err(Failure::usage(
            "--offset positions a pipe; a watch keeps its own files",
        ));
    }
    let (stopped, signals) = super::run::stop_on_signal(
        "stopping after the batch being ingested",
        "exiting now; the batch being ingested is not committed",
    );
    let shown = p;
    let defaults = WatchOptions::default();
    let options = WatchOptions {
        settle: args.settle,
        poll: args.poll.unwrap_or(defaults.poll),
        marker: args.marker.clone(),
        batch_files: args
            .batch_files
            .map_or(defaults.batch_files, |n| n as usize),
        once: args.once,
    };
    let source = args.watch.clone().unwrap_or_default();
    let report = lake
        .watch(&source, target)
        .with_stream(args.stream.clone())
        .with_format(args.format)
        .with_compression(args.compression)
        .with_csv(args.csv_options())
        .with_options(options)
        .with_stop(stopped)
        .with_on_event(std::sync::Arc::new(move |e: WatchEvent<'_>| {
            let p = &shown;
            match e {
                WatchEvent::Committed { report, files } => {
                    if p.json {
                        let line = serde_json::json!({
                            "event": "committed", "files": files, "version": report,
                        });
                        p.json_line(&line);
                    } else {
                        print_report(report, p);
                        let mut from = files.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                        if files.len() > 3 {
                            from.push_str(&format!(" and {} more", files.len() - 3));
                        }
                        p.status(format!("  from {from}"));
                    }
                }
                WatchEvent::DeadLetter { key, error } => {
                    if p.json {
                        let line =
                            serde_json::json!({"event": "dead_letter", "key": key, "error": error});
                        p.json_line(&line);
                    } else {
                        eprintln!("✗ {key}: dead letter: {error}");
                    }
                }
                WatchEvent::Changed { key } => {
                    if p.json {
                        p.json_line(&serde_json::json!({"event": "changed", "key": key}));
                    } else {
                        eprintln!("! {key} changed after it was ingested; not read again");
                    }
                }
                WatchEvent::Compacted { result } => {
                    if p.json {
                        let line = match result {
                            Ok(c) => serde_json::json!({"event": "compacted", "compaction": c}),
                            Err(e) => serde_json::json!({"event": "compaction_failed", "error": e.to_string()}),
                        };
                        p.json_line(&line);
                    } else {
                        print_compaction(result, p);
                    }
                }
                WatchEvent::PassFailed { error } => {
                    super::report::render(error);
                    eprintln!("the next pass tries again");
                }
            }
        }))
        .execute()
        .await;
    signals.abort();
    let report = report?;
    if p.json {
        p.json_line(&serde_json::json!({"event": "stopped", "watch": report}));
    } else {
        p.status(format!(
            "{}: {} in {}, {} ({}); stream {} at {}",
            report.source,
            plural(report.files_ingested, "file", "files"),
            plural(report.versions, "version", "versions"),
            plural(report.rows, "row", "rows"),
            plural(report.dead_letters, "dead letter", "dead letters"),
            report.stream,
            plural(report.position, "file", "files"),
        ));
        if report.pending > 0 {
            p.status(format!(
                "{} not ready yet (still being written, or no marker)",
                plural(report.pending, "file", "files")
            ));
        }
    }
    Ok(())
}

/// A compaction between batches, on stderr (the batches' own lines stay one kind on stdout).
fn print_compaction(result: &lake::Result<lake::compact::CompactReport>, p: &Printer) {
    match result {
        Ok(c) => p.status(format!(
            "compacted {} into {}: {} small files into {}",
            c.from,
            c.reference.as_deref().unwrap_or("-"),
            c.files_merged,
            c.files_written
        )),
        Err(e) => eprintln!("compaction skipped, nothing changed: {e}"),
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum StreamCommand {
    /// Where a named stream stands: records committed (the offset to resume from), batches,
    /// the last version.
    Show {
        name: String,
        /// For a watch: every file it has seen (key, size, sha256, version), not only the
        /// dead letters.
        #[arg(long)]
        files: bool,
    },
}

pub fn stream(lake: &Lake, command: &StreamCommand, p: Printer) -> Result<(), Failure> {
    let StreamCommand::Show { name, files, .. } = command;
    let Some(s) = lake.stream_state(name)? else {
        return Err(lake::Error::StreamNotFound { name: name.clone() }.into());
    };
    let seen = lake.stream_files(name)?;
    let dead: Vec<_> = seen.iter().filter(|f| f.status == "dead").collect();
    if p.json {
        let mut doc = serde_json::to_value(&s).expect("streams serialize");
        let listed: Vec<_> = if *files {
            seen.iter().collect()
        } else {
            dead.clone()
        };
        doc["files"] = serde_json::to_value(listed).expect("files serialize");
        p.json(&doc);
        return Ok(());
    }
    let unit = if s.kind == "files" {
        ("file", "files")
    } else {
        ("record", "records")
    };
    p.out(format!("stream    {}", s.name));
    p.out(format!("dataset   {}", s.dataset));
    if let Some(source) = &s.source {
        p.out(format!("watches   {source}"));
    }
    p.out(format!(
        "position  {} (resume from {} {})",
        plural(s.position, unit.0, unit.1),
        unit.0,
        s.position
    ));
    p.out(format!("batches   {}", s.batches));
    if let Some(v) = &s.last_version {
        p.out(format!("last      {v} at {}", s.updated_at));
    }
    if s.kind == "files" {
        p.out(format!(
            "dead      {}",
            plural(s.dead_letters, "letter", "letters")
        ));
    }
    for f in &dead {
        p.out(format!(
            "  ✗ {}  {}  {}",
            f.key,
            f.at,
            f.error.as_deref().unwrap_or_default()
        ));
    }
    if *files {
        for f in seen.iter().filter(|f| f.status != "dead") {
            p.out(format!(
                "  {}  {}  {}  {}",
                f.key,
                bytes(f.size),
                f.version.as_deref().unwrap_or("-"),
                short_digest(f.sha256.as_deref().unwrap_or_default())
            ));
        }
    }
    Ok(())
}
