//! `lake pin`, `lake verify`, `lake get`, `lake manifest`, `lake scan`: pinned reads.

use std::io::Write;
use std::path::PathBuf;

use arrow::array::RecordBatch;
use futures::TryStreamExt;
use lake::scan::{ScanOptions, Shuffle};
use lake::{DatasetRef, Lake};

use super::printer::{Printer, bytes, plural};
use super::{Failure, report};

#[derive(Debug, clap::Args)]
pub struct PinArgs {
    /// Refs to pin: gold.features@train-2026-11, silver.orders@2026-11-01, bronze.events.
    #[arg(required = true, value_name = "REF")]
    refs: Vec<String>,
    #[arg(long, default_value = "lake.lock", value_name = "FILE")]
    lock: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[arg(default_value = "lake.lock", value_name = "LOCK")]
    lock: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    #[arg(value_name = "REF")]
    reference: String,
    /// The folder to fill (the root's layout: data files and the manifest).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ManifestArgs {
    #[arg(value_name = "REF")]
    reference: String,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    #[arg(value_name = "REF")]
    reference: String,
    /// Comma-separated columns.
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// RANK/WORLD, such as 0/2.
    #[arg(long, value_name = "RANK/WORLD")]
    shard: Option<String>,
    /// Shuffle row groups (and rows within --buffer) with this seed.
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, default_value_t = 0)]
    epoch: u64,
    #[arg(long, default_value_t = 0, value_name = "ROWS")]
    buffer: usize,
    #[arg(long, default_value_t = 8192)]
    batch_size: usize,
    /// Skip the sha256 check of each file.
    #[arg(long)]
    no_verify: bool,
    #[arg(long, value_enum, default_value = "csv")]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Csv,
    /// One JSON object per row.
    Json,
    /// An Arrow IPC stream (`pyarrow.ipc.open_stream`), the scan's batches as they are.
    Arrow,
}

/// Batches being formatted as text at once, beyond the one being written.
const TEXT_IN_FLIGHT: usize = 3;

/// One batch as CSV (with the header line when `header`) or as JSON lines.
fn format_batch(
    batch: &RecordBatch,
    format: Format,
    header: bool,
) -> Result<Vec<u8>, arrow::error::ArrowError> {
    let mut text = Vec::with_capacity(batch.get_array_memory_size());
    if format == Format::Json {
        let mut w = arrow::json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::LineDelimited>(&mut text);
        w.write(batch)?;
        w.finish()?;
    } else {
        let mut w = arrow::csv::WriterBuilder::new()
            .with_header(header)
            .build(&mut text);
        w.write(batch)?;
    }
    Ok(text)
}

pub fn pin(lake: &Lake, args: &PinArgs, p: Printer) -> Result<(), Failure> {
    let refs = args
        .refs
        .iter()
        .map(|r| r.parse::<DatasetRef>().map_err(Failure::from))
        .collect::<Result<Vec<_>, _>>()?;
    let pins = lake.pin(&refs, &args.lock)?;
    if p.json {
        p.json(&pins);
    } else {
        for pin in &pins {
            p.out(format!(
                "✓ {} -> {}  sha256:{}",
                pin.requested,
                pin.reference,
                &pin.digest[..12]
            ));
        }
        p.status(format!("wrote {}", args.lock.display()));
    }
    Ok(())
}

pub async fn verify(lake: &Lake, args: &VerifyArgs, p: Printer) -> Result<(), Failure> {
    if !args.lock.exists() {
        return Err(Failure::usage(&format!(
            "no lock file `{}`; `lake pin REF` writes one",
            args.lock.display()
        )));
    }
    let report = p
        .spinning("verifying pinned versions", lake.verify(&args.lock))
        .await?;
    if p.json {
        p.json(&report);
    } else {
        for pr in &report.problems {
            p.out(format!(
                "problem {}: {}: {}",
                pr.reference, pr.object, pr.problem
            ));
        }
        p.out(format!(
            "{} and {} checked: {}",
            plural(report.pins as u64, "pin", "pins"),
            plural(report.files as u64, "file", "files"),
            if report.problems.is_empty() {
                "all match".to_string()
            } else {
                plural(report.problems.len() as u64, "problem", "problems")
            }
        ));
    }
    if !report.problems.is_empty() {
        return Err(Failure::silent(report::EXIT_INTEGRITY));
    }
    Ok(())
}

pub async fn get(lake: &Lake, args: &GetArgs, p: Printer) -> Result<(), Failure> {
    let r: DatasetRef = args.reference.parse()?;
    std::fs::create_dir_all(&args.output).map_err(|source| lake::Error::Io {
        path: args.output.clone(),
        source,
    })?;
    let (manifest, total) = p
        .spinning("downloading and verifying", lake.get(&r, &args.output))
        .await?;
    if p.json {
        p.json(&serde_json::json!({ "dataset": manifest.dataset, "version": manifest.version, "files": manifest.files.len(), "bytes": total, "dir": args.output }));
    } else {
        p.out(format!(
            "✓ {}@v{} -> {}  {} {} (verified)",
            manifest.dataset,
            manifest.version,
            args.output.display(),
            plural(manifest.files.len() as u64, "file", "files"),
            bytes(total)
        ));
    }
    Ok(())
}

pub async fn manifest(lake: &Lake, args: &ManifestArgs, p: Printer) -> Result<(), Failure> {
    let r: DatasetRef = args.reference.parse()?;
    let (_, _, raw) = lake.manifest(&r).await?;
    p.out(String::from_utf8_lossy(&raw).trim_end());
    Ok(())
}

pub async fn scan(lake: &Lake, args: &ScanArgs, p: Printer) -> Result<(), Failure> {
    let r: DatasetRef = args.reference.parse()?;
    let shard = match &args.shard {
        Some(s) => {
            let parsed = s
                .split_once('/')
                .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
            match parsed {
                Some(pair) => Some(pair),
                None => return Err(Failure::usage("--shard takes RANK/WORLD, such as 0/2")),
            }
        }
        None => None,
    };
    let options = ScanOptions {
        columns: args.columns.clone(),
        batch_size: args.batch_size,
        shard,
        shuffle: args.seed.map(|seed| Shuffle {
            seed,
            epoch: args.epoch,
            buffer_rows: args.buffer,
        }),
        verify: !args.no_verify,
    };
    let scan = lake.scan(&r, options).await?;
    if !p.json
        && args.format == Format::Csv
        && let Some(f) = scan
            .schema
            .fields()
            .iter()
            .find(|f| f.data_type().is_nested())
    {
        return Err(Failure::usage(&format!(
            "CSV cannot hold the nested column `{}` ({}); `--format json` prints it",
            f.name(),
            lake::type_name(f.data_type())
        )));
    }
    if let (Some(shard), true) = (&args.shard, scan.units.is_empty() && scan.version.rows > 0) {
        eprintln!(
            "warning: shard {shard} of {} gets no rows: the version has {} rows, fewer than ranks",
            scan.version.reference(),
            scan.version.rows
        );
    }
    let scan_schema = scan.schema.clone();
    let mut stream = scan.into_stream();
    let mut out = super::printer::stdout();
    let io_err = |e: std::io::Error| {
        Failure::from(lake::Error::Io {
            path: "stdout".into(),
            source: e,
        })
    };
    let arrow_err = |e: arrow::error::ArrowError| io_err(std::io::Error::other(e));
    let format = if p.json { Format::Json } else { args.format };
    if format == Format::Arrow {
        let mut w =
            arrow::ipc::writer::StreamWriter::try_new(out, &scan_schema).map_err(arrow_err)?;
        while let Some(batch) = stream.try_next().await? {
            w.write(&batch).map_err(arrow_err)?;
        }
        w.finish().map_err(arrow_err)?;
        w.into_inner().map_err(arrow_err)?.flush().map_err(io_err)?;
        return Ok(());
    }
    // Text is formatted batch by batch on blocking threads, a few at once, and written in order:
    // formatting costs more than reading, so it gets the cores the read leaves.
    let mut pending = std::collections::VecDeque::new();
    let mut first = true;
    loop {
        let batch = stream.try_next().await?;
        let done = batch.is_none();
        if let Some(batch) = batch {
            let header = std::mem::take(&mut first);
            pending.push_back(tokio::task::spawn_blocking(move || {
                format_batch(&batch, format, header)
            }));
        }
        while pending.len() > TEXT_IN_FLIGHT || (done && !pending.is_empty()) {
            let text = pending
                .pop_front()
                .expect("not empty")
                .await
                .map_err(|e| Failure::from(lake::Error::Internal(format!("format thread: {e}"))))?
                .map_err(arrow_err)?;
            out.write_all(&text).map_err(io_err)?;
        }
        if done {
            break;
        }
    }
    out.flush().map_err(io_err)?;
    Ok(())
}
