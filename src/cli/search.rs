//! `lake annotate`, `lake search`, `lake diff`, `lake reindex`.

use lake::records::SearchFilter;
use lake::search::Annotation;
use lake::{DatasetRef, Lake, Zone};

use super::Failure;
use super::printer::{Printer, bytes, count, table};

#[derive(Debug, clap::Args)]
pub struct AnnotateArgs {
    #[arg(value_name = "DATASET")]
    dataset: String,
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    #[arg(long, value_name = "NAME")]
    owner: Option<String>,
    /// A label, `pii` or `domain=sales`; repeat for more.
    #[arg(long, value_name = "KEY[=VALUE]")]
    label: Vec<String>,
    /// Remove a label.
    #[arg(long, value_name = "KEY")]
    unlabel: Vec<String>,
    /// Document a column: `email=Customer email, lower-cased`.
    #[arg(long, value_name = "COL=TEXT")]
    column: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Words to find (a trailing * matches a prefix: cust*). Every character is searched for,
    /// never interpreted.
    #[arg(default_value = "", allow_hyphen_values = true)]
    query: String,
    #[arg(long, value_parser = parse_zone)]
    zone: Option<Zone>,
    /// Only datasets with this label (`pii`, `domain=sales`).
    #[arg(long, value_name = "KEY[=VALUE]")]
    label: Vec<String>,
    #[arg(long, value_name = "NAME")]
    owner: Option<String>,
    /// Only datasets that have this column.
    #[arg(long, value_name = "NAME")]
    column: Option<String>,
    /// With --column: in any past schema too ("which dataset ever had `ssn`?").
    #[arg(long)]
    ever: bool,
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[arg(value_name = "REF")]
    left: String,
    #[arg(value_name = "REF")]
    right: String,
}

#[derive(Debug, clap::Args)]
pub struct ReindexArgs {}

fn parse_zone(s: &str) -> Result<Zone, String> {
    s.parse().map_err(|e: lake::Error| e.to_string())
}

fn key_value(s: &str) -> (String, Option<String>) {
    match s.split_once('=') {
        Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
        None => (s.trim().to_string(), None),
    }
}

pub fn annotate(lake: &Lake, args: &AnnotateArgs, p: Printer) -> Result<(), Failure> {
    let dataset = DatasetRef::parse_dataset(&args.dataset)?;
    let mut docs = Vec::new();
    for c in &args.column {
        match c.split_once('=') {
            Some((col, doc)) => docs.push((col.trim().to_string(), doc.trim().to_string())),
            None => return Err(Failure::usage("--column takes COL=TEXT")),
        }
    }
    let annotation = Annotation {
        description: args.description.clone(),
        owner: args.owner.clone(),
        labels: args.label.iter().map(|l| key_value(l)).collect(),
        unlabel: args.unlabel.clone(),
        column_docs: docs,
    };
    let meta = lake.annotate(&dataset, &annotation)?;
    if p.json {
        p.json(&meta);
    } else {
        p.out(format!("✓ annotated {dataset}"));
    }
    Ok(())
}

pub fn search(lake: &Lake, args: &SearchArgs, p: Printer) -> Result<(), Failure> {
    let filter = SearchFilter {
        zone: args.zone.map(|z| z.to_string()),
        labels: args.label.iter().map(|l| key_value(l)).collect(),
        owner: args.owner.clone(),
        column: args.column.clone(),
        ever: args.ever,
    };
    let nothing = lake::search::fts_query(&args.query).is_none()
        && filter.zone.is_none()
        && filter.labels.is_empty()
        && filter.owner.is_none()
        && filter.column.is_none();
    if nothing {
        return Err(Failure::usage(if args.query.trim().is_empty() {
            "give words to search for, or a filter such as --column or --label"
        } else {
            "nothing searchable in that query: it has no letters or digits"
        }));
    }
    let report = lake.search(&args.query, &filter, args.limit)?;
    if p.json {
        p.json(&report);
        return Ok(());
    }
    if report.hits.is_empty() {
        p.status("no datasets match");
        return Ok(());
    }
    for hit in &report.hits {
        p.out(format!(
            "{}  {}",
            hit.dataset,
            hit.description.as_deref().unwrap_or_default()
        ));
        for (field, text) in &hit.matched {
            p.out(format!("    {field}: {}", text.replace('\n', " ")));
        }
    }
    p.status(format!(
        "{} ({:.1} ms)",
        count(report.hits.len() as u64),
        report.took_ms
    ));
    Ok(())
}

pub async fn diff(lake: &Lake, args: &DiffArgs, p: Printer) -> Result<(), Failure> {
    let a: DatasetRef = args.left.parse()?;
    let b: DatasetRef = args.right.parse()?;
    let d = p
        .spinning("reading Parquet footers", lake.diff(&a, &b))
        .await?;
    if p.json {
        p.json(&d);
        return Ok(());
    }
    p.out(format!("{} -> {}", d.left.reference, d.right.reference));
    p.out(format!(
        "  rows   {} -> {} ({:+})",
        count(d.left.rows),
        count(d.right.rows),
        d.rows_delta
    ));
    p.out(format!(
        "  bytes  {} -> {} ({:+})",
        bytes(d.left.bytes),
        bytes(d.right.bytes),
        d.bytes_delta
    ));
    p.out(format!(
        "  files  +{} -{}",
        d.files_added.len(),
        d.files_removed.len()
    ));
    if !d.schema.is_empty() {
        p.out("schema:");
        for s in &d.schema {
            p.out(format!("  {s}"));
        }
    }
    let right: std::collections::BTreeMap<&str, &lake::search::ColumnStats> = d
        .right
        .stats
        .iter()
        .map(|s| (s.column.as_str(), s))
        .collect();
    let mut rows = Vec::new();
    let mut columns: Vec<&str> = d.left.stats.iter().map(|s| s.column.as_str()).collect();
    for s in &d.right.stats {
        if !columns.contains(&s.column.as_str()) {
            columns.push(&s.column);
        }
    }
    let left: std::collections::BTreeMap<&str, &lake::search::ColumnStats> = d
        .left
        .stats
        .iter()
        .map(|s| (s.column.as_str(), s))
        .collect();
    let show = |s: Option<&&lake::search::ColumnStats>,
                f: fn(&lake::search::ColumnStats) -> String| {
        s.map(|s| f(s)).unwrap_or_else(|| "—".into())
    };
    for c in columns {
        let (l, r) = (left.get(c), right.get(c));
        rows.push(vec![
            c.to_string(),
            format!(
                "{} -> {}",
                show(l, |s| s.null_count.map_or("?".into(), |n| n.to_string())),
                show(r, |s| s.null_count.map_or("?".into(), |n| n.to_string()))
            ),
            format!(
                "{} -> {}",
                show(l, |s| s.min.clone().unwrap_or_default()),
                show(r, |s| s.min.clone().unwrap_or_default())
            ),
            format!(
                "{} -> {}",
                show(l, |s| s.max.clone().unwrap_or_default()),
                show(r, |s| s.max.clone().unwrap_or_default())
            ),
        ]);
    }
    p.out(table(&["column", "nulls", "min", "max"], rows));
    Ok(())
}

pub fn reindex(lake: &Lake, _args: &ReindexArgs, p: Printer) -> Result<(), Failure> {
    lake.reindex()?;
    if p.json {
        let datasets = lake.datasets(None)?.len();
        p.json(&serde_json::json!({ "status": "rebuilt", "datasets": datasets }));
        return Ok(());
    }
    p.out("✓ rebuilt the search index");
    Ok(())
}
