//! `lake query "SQL" [--at DATASET=REF…] [--format table|csv|json|parquet] [-o FILE]`

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use futures::TryStreamExt;
use lake::Lake;

use super::printer::Printer;
use super::{Failure, parse_ats};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One SELECT over datasets named `<zone>.<name>`.
    sql: String,
    /// Read DATASET at REF (v3, a tag, a time) instead of its latest version.
    #[arg(long, value_name = "DATASET=REF")]
    at: Vec<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write the result here instead of stdout (required for parquet).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// With --format table: rows shown; the rest are counted and left out (0: all).
    #[arg(long, default_value_t = 40, value_name = "N")]
    max_rows: usize,
    /// Check the sha256 of every file read before any row is returned (or set `[read] verify`).
    #[arg(long)]
    verify: bool,
}

/// The result file while it is written: a temporary name beside it, renamed into place only
/// once the whole result is there, and removed if anything fails, so `-o FILE` never leaves a
/// truncated file.
struct PendingFile {
    tmp: PathBuf,
    done: bool,
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
    Parquet,
}

pub async fn run(lake: &Lake, args: Args, p: Printer) -> Result<(), Failure> {
    let format = if p.json { Format::Json } else { args.format };
    if format == Format::Parquet && args.output.is_none() {
        return Err(Failure::usage(
            "--format parquet writes a file: add -o FILE",
        ));
    }
    let mut query = lake.query(args.sql).with_verify(args.verify);
    for (dataset, selector) in parse_ats(&args.at)? {
        query = query.with_input_at(dataset, selector);
    }
    let output = query.execute().await?;
    let schema = output.stream.schema();
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| Failure::from(lake::Error::Io { path, source })
    };
    let query_err = |source| {
        Failure::from(lake::Error::Query {
            origin: "query".into(),
            source,
        })
    };
    let mut pending = None;
    let mut sink: Box<dyn Write + Send> = match &args.output {
        Some(path) => {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let tmp = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
            let file = File::create(&tmp).map_err(io(&tmp))?;
            pending = Some(PendingFile { tmp, done: false });
            Box::new(std::io::BufWriter::new(file))
        }
        None => Box::new(super::printer::stdout()),
    };
    let out_path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("stdout"));
    let write_err = |e: arrow::error::ArrowError| {
        Failure::from(lake::Error::Io {
            path: out_path.clone(),
            source: std::io::Error::other(e),
        })
    };
    let mut stream = output.stream;
    match format {
        Format::Table => {
            // Keep the first rows to show; count the rest as they stream past, so a result of
            // any size takes the memory of a screenful.
            let limit = if args.max_rows == 0 {
                usize::MAX
            } else {
                args.max_rows
            };
            let counted = async {
                let (mut shown, mut rows) = (Vec::new(), 0usize);
                while let Some(batch) = stream.try_next().await.map_err(query_err)? {
                    let room = limit.saturating_sub(rows.min(limit));
                    if room > 0 {
                        shown.push(batch.slice(0, room.min(batch.num_rows())));
                    }
                    rows += batch.num_rows();
                }
                Ok::<_, Failure>((shown, rows))
            };
            let (shown, rows) = p.spinning("running the query", counted).await?;
            let text =
                arrow::util::pretty::pretty_format_batches_with_schema(schema.clone(), &shown)
                    .map_err(write_err)?;
            writeln!(sink, "{text}").map_err(io(&out_path))?;
            sink.flush().map_err(io(&out_path))?;
            let noun = if rows == 1 { "row" } else { "rows" };
            if rows > limit {
                eprintln!(
                    "{rows} {noun}, {limit} shown ({} left out; --max-rows N shows more, 0 all)",
                    rows - limit
                );
            } else {
                eprintln!("{rows} {noun}");
            }
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(sink);
            while let Some(batch) = stream.try_next().await.map_err(query_err)? {
                w.write(&batch).map_err(write_err)?;
            }
            sink = w.into_inner();
        }
        Format::Json => {
            // Every row has every column: a null is written as `null`, not left out.
            let mut w = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::JsonArray>(sink);
            while let Some(batch) = stream.try_next().await.map_err(query_err)? {
                w.write(&batch).map_err(write_err)?;
            }
            w.finish().map_err(write_err)?;
            sink = w.into_inner();
            writeln!(sink).map_err(io(&out_path))?;
        }
        Format::Parquet => {
            let mut w = parquet::arrow::ArrowWriter::try_new(sink, schema, None)
                .map_err(|e| write_err(arrow::error::ArrowError::ExternalError(Box::new(e))))?;
            while let Some(batch) = stream.try_next().await.map_err(query_err)? {
                w.write(&batch)
                    .map_err(|e| write_err(arrow::error::ArrowError::ExternalError(Box::new(e))))?;
            }
            sink = w
                .into_inner()
                .map_err(|e| write_err(arrow::error::ArrowError::ExternalError(Box::new(e))))?;
        }
    }
    if let Err(e) = sink.flush() {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(());
        }
        return Err(io(&out_path)(e));
    }
    drop(sink);
    if let Some(mut pending) = pending {
        std::fs::rename(&pending.tmp, &out_path).map_err(io(&out_path))?;
        pending.done = true;
    }
    Ok(())
}
