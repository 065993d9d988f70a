//! `lake ingest SRC… --into bronze.NAME`

use std::path::PathBuf;

use lake::format::source::{Compression, CsvOptions, SourceFormat};
use lake::ingest::IngestStatus;
use lake::{DatasetRef, IngestMode, IngestReport, Lake};

use super::Failure;
use super::printer::{Printer, bytes, count, plural, short_digest};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, folders or globs to ingest.
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
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Append,
    Overwrite,
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

pub async fn run(lake: &Lake, args: Args, p: Printer) -> Result<(), Failure> {
    let target = DatasetRef::parse_dataset(&args.into)?;
    let mode = match args.mode {
        ModeArg::Append => IngestMode::Append,
        ModeArg::Overwrite => IngestMode::Overwrite,
    };
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
