//! `lake export delta`: each dataset's Delta log, written (or written again) from the catalog.

use lake::delta::DeltaSync;
use lake::{DatasetRef, Lake};
use serde::Serialize;

use super::Failure;
use super::printer::{Printer, plural, table};

#[derive(Debug, clap::Subcommand)]
pub enum ExportCommand {
    /// Write the Delta log of each dataset (`<zone>/<name>/_delta_log/`) that lacks commits,
    /// so Delta readers open every version: lake version N is Delta version N-1.
    Delta(DeltaArgs),
}

#[derive(Debug, clap::Args)]
pub struct DeltaArgs {
    /// Datasets such as bronze.orders; every dataset when none is named.
    datasets: Vec<String>,
    /// Remove each log and write it again from the catalog (after `lake check` reports one
    /// that disagrees).
    #[arg(long)]
    rebuild: bool,
    /// List the tags with the Delta version each names, instead of writing anything.
    #[arg(long)]
    tags: bool,
}

#[derive(Serialize)]
struct Exported {
    datasets: Vec<DeltaSync>,
}

pub async fn run(lake: &Lake, command: &ExportCommand, p: Printer) -> Result<(), Failure> {
    let ExportCommand::Delta(args) = command;
    let named = args
        .datasets
        .iter()
        .map(|n| DatasetRef::parse_dataset(n).map_err(Failure::from))
        .collect::<Result<Vec<_>, _>>()?;
    if args.tags {
        let mut tags = Vec::new();
        if named.is_empty() {
            tags = lake.delta_tags(None)?;
        } else {
            for d in &named {
                tags.extend(lake.delta_tags(Some(d))?);
            }
        }
        if p.json {
            p.json(&serde_json::json!({ "tags": tags }));
        } else if tags.is_empty() {
            p.status("no tags");
        } else {
            let rows = tags
                .iter()
                .map(|t| {
                    vec![
                        t.dataset.clone(),
                        t.tag.clone(),
                        format!("v{}", t.version.0),
                        t.delta_version.to_string(),
                        super::printer::short_digest(&t.digest),
                    ]
                })
                .collect();
            p.out(table(
                &["dataset", "tag", "version", "delta version", "digest"],
                rows,
            ));
        }
        return Ok(());
    }
    if !lake.delta_enabled() {
        return Err(Failure::usage(
            "this lake writes no Delta log (`[delta] log = false`, or an in-memory store)",
        ));
    }
    let datasets = if named.is_empty() {
        lake.datasets(None)?
            .into_iter()
            .map(|d| d.dataset)
            .collect()
    } else {
        named
    };
    let mut out = Vec::with_capacity(datasets.len());
    for d in &datasets {
        let report = p
            .spinning(
                &format!("writing the Delta log of {d}"),
                lake.sync_delta(d, args.rebuild),
            )
            .await?;
        if !p.json {
            p.out(line(&report));
        }
        out.push(report);
    }
    if p.json {
        p.json(&Exported { datasets: out });
    }
    Ok(())
}

fn line(r: &DeltaSync) -> String {
    let at = match r.delta_version {
        Some(d) => format!("Delta version {d}"),
        None => "no Delta version".to_string(),
    };
    let mut s = format!(
        "✓ {}: {at} at {} ({} written, {})",
        r.dataset,
        r.location,
        plural(r.written, "commit", "commits"),
        plural(r.checkpoints, "checkpoint", "checkpoints"),
    );
    if let Some(why) = &r.skipped {
        s = format!("! {}: the log stops at {at}: {why}", r.dataset);
    }
    s
}
