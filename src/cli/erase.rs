//! `lake erase`: remove rows from datasets, in the latest version or in every retained one;
//! `lake erase --log`: the ledger of erasures.

use lake::erase::{EraseReport, Targets};
use lake::{DatasetRef, Lake};

use super::Failure;
use super::printer::{Printer, count, plural, short_digest};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  lake erase --where \"customer_id = 42\" --downstream-of bronze.customers --dry-run
  lake erase --where \"customer_id = 42\" --downstream-of bronze.customers --all-versions
  lake erase --where \"email = 'a@example.com'\" --dataset bronze.signups --dataset silver.signups
  lake erase --log
  lake erase --log --where \"customer_id = 42\"")]
pub struct Args {
    /// The rows to remove, as a SQL condition over the dataset's columns. Rows where it is
    /// NULL stay. The ledger keeps its salted sha256, never its text.
    #[arg(long = "where", value_name = "CONDITION")]
    predicate: Option<String>,
    /// A dataset to erase from (repeat for several).
    #[arg(
        long = "dataset",
        value_name = "DATASET",
        conflicts_with = "downstream_of"
    )]
    datasets: Vec<String>,
    /// This dataset and every dataset ever computed from it (through lineage).
    #[arg(long, value_name = "DATASET")]
    downstream_of: Option<String>,
    /// Amend every retained version (active and archived, hot and cold), keeping the version
    /// numbers; without it, only a new latest version is made without the rows.
    #[arg(long)]
    all_versions: bool,
    /// Count the matching rows of each version; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Amend without asking (on a terminal, --all-versions asks first).
    #[arg(short, long)]
    yes: bool,
    /// List the erasures done so far (with --where, only those of that condition).
    #[arg(long, conflicts_with_all = ["datasets", "downstream_of", "all_versions", "dry_run"])]
    log: bool,
}

pub async fn run(lake: &Lake, args: &Args, p: Printer) -> Result<(), Failure> {
    if args.log {
        return log(lake, args, p);
    }
    let Some(predicate) = &args.predicate else {
        return Err(Failure::usage(
            "say which rows with --where, such as --where \"customer_id = 42\"",
        ));
    };
    let targets = match (&args.downstream_of, args.datasets.is_empty()) {
        (Some(d), _) => Targets::DownstreamOf(d.parse::<DatasetRef>()?),
        (None, false) => Targets::Datasets(
            args.datasets
                .iter()
                .map(|d| d.parse::<DatasetRef>())
                .collect::<Result<_, _>>()?,
        ),
        (None, true) => {
            return Err(Failure::usage(
                "say where with --dataset DATASET or --downstream-of DATASET",
            ));
        }
    };
    if args.all_versions && !args.dry_run && !args.yes {
        let plan = lake
            .erase(predicate, targets.clone())
            .with_all_versions(true)
            .with_dry_run(true)
            .execute()
            .await?;
        let versions: usize = plan
            .datasets
            .iter()
            .map(|d| d.versions.iter().filter(|v| v.matching_rows > 0).count())
            .sum();
        if plan.rows > 0
            && !super::lifecycle::confirm(&format!(
                "this removes {} from {} for good and gives them new digests; go on?",
                plural(plan.rows, "row", "rows"),
                plural(versions as u64, "version", "versions")
            ))
        {
            p.out("nothing changed");
            return Ok(());
        }
    }
    let report = p
        .spinning(
            "looking for matching rows",
            lake.erase(predicate, targets)
                .with_all_versions(args.all_versions)
                .with_dry_run(args.dry_run)
                .execute(),
        )
        .await?;
    if p.json {
        p.json(&report);
        return Ok(());
    }
    render(&report, &p);
    Ok(())
}

fn render(r: &EraseReport, p: &Printer) {
    for d in &r.datasets {
        for v in d.versions.iter().filter(|v| v.matching_rows > 0) {
            let what = match (r.dry_run, v.action) {
                (true, "kept") => "match (kept without --all-versions)",
                (true, _) => "match",
                (false, "amended") => "removed, version amended",
                (false, "replaced") => "removed in the new version",
                (false, _) => "match, kept (erase with --all-versions to remove them)",
            };
            let digest = match &v.new_digest {
                Some(n) if v.action == "amended" => {
                    format!("  {} → {}", short_digest(&v.old_digest), short_digest(n))
                }
                _ => String::new(),
            };
            p.out(format!(
                "  {:<28} {:>8}  {} {what}{digest}",
                v.reference,
                v.state.as_str(),
                plural(v.matching_rows, "row", "rows")
            ));
        }
        if let Some(n) = &d.new_version {
            p.out(format!("✓ {n}  {} without the matching rows", d.dataset));
        }
    }
    for s in &r.skipped {
        p.status(format!("! {}: not erased: {}", s.dataset, s.reason));
    }
    for h in &r.pins {
        p.status(format!(
            "! {} is pinned by {}: that lock file now shows a digest mismatch (by design); pin again",
            h.reference, h.by
        ));
    }
    for h in &r.tags {
        p.status(format!(
            "  tag `{}` stays on {}, which has a new digest",
            h.by, h.reference
        ));
    }
    let scanned = format!(
        "{} looked at, {} skipped by their statistics",
        plural(r.files_scanned, "file", "files"),
        count(r.files_skipped_by_statistics)
    );
    if r.dry_run {
        p.out(format!(
            "would remove {} from {} ({scanned}); nothing changed (dry run)",
            plural(r.rows, "row", "rows"),
            plural(
                r.datasets
                    .iter()
                    .filter(|d| d.versions.iter().any(|v| v.matching_rows > 0))
                    .count() as u64,
                "dataset",
                "datasets"
            )
        ));
    } else if r.rows == 0 {
        p.out(format!("no rows match ({scanned}); nothing changed"));
    } else {
        p.out(format!(
            "✓ erased {}: {} rewritten, {} deleted, {} read back and verified ({scanned}); ledger entry {}",
            plural(r.rows, "row", "rows"),
            plural(r.files_rewritten, "file", "files"),
            count(r.files_deleted),
            plural(r.verified_versions, "version", "versions"),
            r.erasure_id.map_or("-".to_string(), |id| id.to_string())
        ));
    }
}

fn log(lake: &Lake, args: &Args, p: Printer) -> Result<(), Failure> {
    let entries = lake.erasure_log(args.predicate.as_deref())?;
    if p.json {
        p.json(&serde_json::json!({ "erasures": entries }));
        return Ok(());
    }
    if entries.is_empty() {
        p.out("no erasures");
    }
    for e in &entries {
        p.out(format!(
            "erasure {}  {}  by {}  predicate {}  {}{}",
            e.id,
            e.at,
            e.actor,
            short_digest(&e.predicate_sha256),
            plural(e.rows, "row", "rows"),
            if e.all_versions { "  all versions" } else { "" }
        ));
        for v in &e.versions {
            p.out(format!(
                "  {:<28} {:<7} {} → {}  {}, {}",
                v.reference.to_string(),
                v.kind,
                short_digest(&v.old_digest),
                short_digest(&v.new_digest),
                plural(v.rows_removed, "row", "rows"),
                plural(v.files_rewritten, "file", "files")
            ));
        }
    }
    Ok(())
}
