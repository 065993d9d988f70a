//! `lake adopt`: Parquet files another engine wrote, registered as a new version.

use lake::adopt::AdoptStatus;
use lake::{DatasetRef, IngestMode, Lake};

use super::Failure;
use super::printer::{Printer, bytes, count, plural, short_digest};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A folder of Parquet files, or an s3://bucket/prefix/. Files under the dataset's own data
    /// prefix are registered where they are; others are copied (byte for byte).
    from: String,
    /// The dataset, such as bronze.orders.
    #[arg(long)]
    into: String,
    /// append: the files join the latest version's; overwrite: they are the whole version.
    #[arg(long, value_enum, default_value = "append")]
    mode: Mode,
    /// Read and check every file; commit nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Mode {
    Append,
    Overwrite,
}

pub async fn run(lake: &Lake, args: &Args, p: Printer) -> Result<(), Failure> {
    let dataset = DatasetRef::parse_dataset(&args.into)?;
    let mode = match args.mode {
        Mode::Append => IngestMode::Append,
        Mode::Overwrite => IngestMode::Overwrite,
    };
    let report = p
        .spinning(
            &format!("adopting {} into {dataset}", args.from),
            lake.adopt(args.from.clone(), dataset)
                .with_mode(mode)
                .with_dry_run(args.dry_run)
                .execute(),
        )
        .await?;
    if p.json {
        p.json(&report);
        return Ok(());
    }
    for d in &report.drift {
        p.status(format!("  {d}"));
    }
    let in_place = report.files.iter().filter(|f| f.in_place).count() as u64;
    let files = format!(
        "{} ({} in place, {} copied)",
        plural(report.files.len() as u64, "file", "files"),
        in_place,
        bytes(report.bytes_copied)
    );
    match report.status {
        AdoptStatus::Committed => p.out(format!(
            "✓ {}  {} rows adopted from {files}  {}",
            report.reference.as_deref().unwrap_or_default(),
            count(report.rows),
            short_digest(report.digest.as_deref().unwrap_or_default())
        )),
        AdoptStatus::DryRun => p.out(format!(
            "would adopt {} rows from {files}; nothing committed (dry run)",
            count(report.rows)
        )),
        AdoptStatus::Unchanged => p.out(format!(
            "unchanged: the latest version of {} holds all {}",
            report.dataset,
            plural(report.skipped, "file", "files")
        )),
    }
    Ok(())
}
