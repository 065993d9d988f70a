//! `lake ls`, `lake show REF`, `lake log DATASET`: what the catalog knows.

use lake::{DatasetRef, Lake, Zone};

use super::Failure;
use super::printer::{Printer, bytes, count, plural, short_digest, table};

#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Only this zone: bronze, silver or gold.
    #[arg(long, value_parser = parse_zone)]
    zone: Option<Zone>,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// A dataset or version: bronze.orders, bronze.orders@v3, @latest~1, @2026-01-01T00:00:00Z,
    /// @sha256:…; or `run ID` for a job run.
    #[arg(value_name = "REF")]
    reference: String,
    /// With `run`: the run's id (`lake runs` lists them).
    #[arg(value_name = "ID")]
    id: Option<i64>,
}

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    #[arg(value_name = "DATASET")]
    dataset: String,
}

fn parse_zone(s: &str) -> Result<Zone, String> {
    s.parse().map_err(|e: lake::Error| e.to_string())
}

pub fn ls(lake: &Lake, args: &LsArgs, p: Printer) -> Result<(), Failure> {
    let datasets = lake.datasets(args.zone)?;
    if p.json {
        p.json(&datasets);
        return Ok(());
    }
    if datasets.is_empty() {
        p.status("no datasets yet; `lake ingest FILE --into bronze.NAME` creates one");
        return Ok(());
    }
    let rows = datasets
        .iter()
        .map(|d| {
            vec![
                d.dataset.to_string(),
                d.latest.map(|v| v.to_string()).unwrap_or_default(),
                count(d.versions),
                count(d.rows),
                bytes(d.bytes),
                d.updated_at.clone().unwrap_or_default(),
            ]
        })
        .collect();
    p.out(table(
        &["dataset", "latest", "versions", "rows", "bytes", "updated"],
        rows,
    ));
    Ok(())
}

pub fn show(lake: &Lake, args: &ShowArgs, p: Printer) -> Result<(), Failure> {
    if args.reference == "run" {
        let Some(id) = args.id else {
            return Err(Failure::usage(
                "`lake show run` needs a run id: `lake show run 12`",
            ));
        };
        return super::run::show_run(lake, id, p);
    }
    if args.id.is_some() {
        return Err(Failure::usage(
            "`lake show` takes one ref, or `run ID` for a job run",
        ));
    }
    let r: DatasetRef = args.reference.parse()?;
    let info = lake.describe(&r)?;
    if p.json {
        p.json(&info);
        return Ok(());
    }
    let v = &info.version;
    p.out(format!("{}  {}", info.reference, v.state.as_str()));
    p.out(format!("  digest   sha256:{}", v.digest));
    let how = match &v.mode {
        Some(mode) => format!("{} ({mode})", v.operation),
        None => v.operation.clone(),
    };
    p.out(format!(
        "  created  {} by {}, {how}",
        v.created_at, v.created_by
    ));
    p.out(format!(
        "  size     {}, {}, {}",
        plural(v.rows, "row", "rows"),
        bytes(v.bytes),
        plural(v.file_count, "file", "files")
    ));
    if !info.tags.is_empty() {
        p.out(format!("  tags     {}", info.tags.join(", ")));
    }
    if let Some(d) = &info.meta.description {
        p.out(format!("  about    {d}"));
    }
    if let Some(o) = &info.meta.owner {
        p.out(format!("  owner    {o}"));
    }
    if !info.meta.labels.is_empty() {
        let labels: Vec<String> = info
            .meta
            .labels
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect();
        p.out(format!("  labels   {}", labels.join(", ")));
    }
    p.out("columns:");
    let width = info.columns.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &info.columns {
        let null = if c.nullable { "" } else { "  not null" };
        let doc = info
            .meta
            .column_docs
            .iter()
            .find(|(col, _)| col == &c.name)
            .map(|(_, d)| format!("  -- {d}"))
            .unwrap_or_default();
        p.out(format!("  {:width$}  {}{null}{doc}", c.name, c.data_type));
    }
    if !info.drift.is_empty() {
        p.out("drift against the previous version:");
        for d in &info.drift {
            let line = match d.change.as_str() {
                "added" => format!("+ {} {}", d.column, d.new_type.as_deref().unwrap_or("")),
                "removed" => format!("- {} {}", d.column, d.old_type.as_deref().unwrap_or("")),
                _ => format!(
                    "~ {} {} -> {}",
                    d.column,
                    d.old_type.as_deref().unwrap_or(""),
                    d.new_type.as_deref().unwrap_or("")
                ),
            };
            p.out(format!("  {line}"));
        }
    }
    if let (Some(first), Some(last)) = (info.partitions.first(), info.partitions.last()) {
        p.out(format!(
            "  partitions {} from {} to {}",
            info.partitions.len(),
            first.partition,
            last.partition
        ));
    }
    if !info.sources.is_empty() {
        p.out("sources:");
        for s in &info.sources {
            let added = if s.added {
                ""
            } else {
                "  (from an earlier version)"
            };
            p.out(format!(
                "  {}  {}  {}  {}{added}",
                s.uri,
                s.format,
                plural(s.rows, "row", "rows"),
                short_digest(&s.sha256)
            ));
        }
    }
    p.out("files:");
    for f in &info.files {
        p.out(format!(
            "  {}  {}  {}  {}  {}",
            f.path,
            bytes(f.size),
            plural(f.rows, "row", "rows"),
            plural(f.row_groups.len() as u64, "row group", "row groups"),
            short_digest(&f.sha256)
        ));
    }
    Ok(())
}

pub fn log(lake: &Lake, args: &LogArgs, p: Printer) -> Result<(), Failure> {
    let dataset = DatasetRef::parse_dataset(&args.dataset)?;
    let entries = lake.log(&dataset)?;
    if p.json {
        p.json(&entries);
        return Ok(());
    }
    let rows = entries
        .iter()
        .map(|e| {
            let v = &e.version;
            let drift = if e.drift.is_empty() {
                String::new()
            } else {
                let (mut a, mut r, mut t) = (0, 0, 0);
                for d in &e.drift {
                    match d.change.as_str() {
                        "added" => a += 1,
                        "removed" => r += 1,
                        _ => t += 1,
                    }
                }
                format!("+{a} -{r} ~{t}")
            };
            vec![
                v.version.to_string(),
                v.created_at.clone(),
                match &v.mode {
                    Some(m) => format!("{} {m}", v.operation),
                    None => v.operation.clone(),
                },
                v.state.as_str().to_string(),
                count(v.rows),
                bytes(v.bytes),
                count(v.file_count),
                short_digest(&v.digest),
                drift,
                e.tags.join(","),
            ]
        })
        .collect();
    p.out(table(
        &[
            "version",
            "created",
            "operation",
            "state",
            "rows",
            "bytes",
            "files",
            "digest",
            "drift",
            "tags",
        ],
        rows,
    ));
    Ok(())
}
