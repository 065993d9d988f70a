//! `lake tag`, `lake rule`, `lake archive`, `lake restore`, `lake gc`, `lake check`, `lake du`.

use lake::archive::describe_rule;
use lake::ident::{format_age, parse_age};
use lake::records::NewRule;
use lake::{DatasetRef, Lake, Zone};

use super::printer::{Printer, bytes, count, plural, short_digest, table};
use super::{Failure, report};

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// The version to tag (gold.features@v7), or with -d the dataset.
    #[arg(value_name = "REF")]
    reference: String,
    /// The tag, such as train-2026-11.
    name: String,
    /// Remove the tag instead.
    #[arg(short, long)]
    delete: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum RuleCommand {
    /// Add a lifecycle rule.
    Add(RuleAddArgs),
    /// List the rules in force.
    Ls,
    /// Retire a rule (versions it moved keep naming it).
    Rm { id: i64 },
}

#[derive(Debug, clap::Args)]
pub struct RuleAddArgs {
    /// bronze, silver or gold (default: every zone).
    #[arg(long, value_parser = parse_zone)]
    zone: Option<Zone>,
    /// Dataset names the rule covers, as a glob.
    #[arg(long, default_value = "*", value_name = "GLOB")]
    dataset: String,
    /// Archive versions older than this (30d, 12h, 2w).
    #[arg(long, value_name = "AGE", value_parser = parse_age_arg)]
    archive_after: Option<u64>,
    /// Never archive the newest N versions.
    #[arg(long, default_value_t = 0, value_name = "N")]
    keep_last: u64,
    /// Delete archived data older than this; the catalog keeps the version's record.
    #[arg(long, value_name = "AGE", value_parser = parse_age_arg)]
    expire_after: Option<u64>,
    /// Never archive a version that a live silver or gold version was computed from.
    #[arg(long)]
    keep_inputs: bool,
}

#[derive(Debug, clap::Args)]
pub struct ArchiveArgs {
    /// Only these datasets (default: all).
    #[arg(value_name = "DATASET")]
    datasets: Vec<String>,
    /// Print the plan; move nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete expired data without asking (on a terminal, lake asks first).
    #[arg(short, long)]
    yes: bool,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[arg(value_name = "REF")]
    reference: String,
    #[arg(long)]
    dry_run: bool,
}

/// With no subcommand: every dataset that the `[maintain]` policies in lake.toml say is due
/// (`compact_small_files`, `compact_after_appends`) is compacted.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MaintainArgs {
    #[command(subcommand)]
    pub command: Option<MaintainCommand>,
    /// Say which datasets are due and what would be merged; write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum MaintainCommand {
    /// Merge the latest version's small files into a new version with the same rows and
    /// schema (older versions keep their files: pins and tags still read).
    Compact(CompactArgs),
}

#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// The dataset, such as bronze.events.
    dataset: String,
    /// Write files of about this size; files under three quarters of it are merged (default
    /// `[ingest] target_file_mb`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    target_file_mb: Option<u64>,
    /// Say what would be merged; write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The version to go back to, such as gold.features@v2 or @<tag>.
    reference: String,
    /// Say what would change; commit nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// Keep unreferenced objects younger than this (real time). Objects of writes and moves in
    /// progress are never collected, whatever their age.
    #[arg(long, default_value = "1h", value_name = "AGE", value_parser = parse_age_arg)]
    grace: u64,
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Read every object and compare its sha256 with the catalog.
    #[arg(long)]
    verify_hashes: bool,
    /// Fix what has one right answer: copy a missing file back from its verified copy in the
    /// other tier, remove a stray second copy.
    #[arg(long)]
    repair: bool,
    /// Make the catalog again from storage alone (the manifests of both tiers, the files where
    /// they are, the tags beside the Delta log): into the catalog's path if it is gone, into
    /// --into, or else into a scratch copy compared with the live catalog and removed.
    #[arg(long, conflicts_with_all = ["verify_hashes", "repair"])]
    pub rebuild_catalog: bool,
    /// Where --rebuild-catalog writes (a new file); the live catalog, if any, is compared with it.
    #[arg(long, value_name = "NEW.sqlite", requires = "rebuild_catalog")]
    pub into: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DuArgs {
    #[arg(value_name = "DATASET")]
    datasets: Vec<String>,
}

fn parse_zone(s: &str) -> Result<Zone, String> {
    s.parse().map_err(|e: lake::Error| e.to_string())
}

fn parse_age_arg(s: &str) -> Result<u64, String> {
    parse_age(s).map_err(|e| e.to_string())
}

fn datasets(names: &[String]) -> Result<Vec<DatasetRef>, Failure> {
    names
        .iter()
        .map(|n| DatasetRef::parse_dataset(n).map_err(Failure::from))
        .collect()
}

pub fn tag(lake: &Lake, args: &TagArgs, p: Printer) -> Result<(), Failure> {
    if args.delete {
        let dataset = DatasetRef::parse_dataset(&args.reference)?;
        lake.untag(&dataset, &args.name)?;
        if p.json {
            p.json(&serde_json::json!({ "dataset": dataset, "tag": args.name, "deleted": true }));
        } else {
            p.out(format!("✓ removed tag {} from {dataset}", args.name));
        }
        return Ok(());
    }
    let r: DatasetRef = args.reference.parse()?;
    let report = lake.tag(&r, &args.name)?;
    if p.json {
        p.json(&report);
    } else {
        let moved = report
            .moved_from
            .as_ref()
            .map(|m| format!(" (moved from {m})"))
            .unwrap_or_default();
        p.out(format!(
            "✓ {}@{} -> {}{moved}",
            report.reference.dataset(),
            report.tag,
            report.reference
        ));
    }
    Ok(())
}

pub fn rule(lake: &Lake, command: &RuleCommand, p: Printer) -> Result<(), Failure> {
    match command {
        RuleCommand::Add(a) => {
            if a.archive_after.is_none() && a.expire_after.is_none() {
                return Err(Failure::usage(
                    "a rule needs --archive-after, --expire-after or both",
                ));
            }
            let id = lake.add_rule(&NewRule {
                zone: a.zone,
                dataset_glob: a.dataset.clone(),
                archive_after_s: a.archive_after,
                keep_last: a.keep_last,
                expire_after_s: a.expire_after,
                keep_inputs: a.keep_inputs,
                origin: "cli",
            })?;
            let rule = lake
                .rules()?
                .into_iter()
                .find(|r| r.id == id)
                .expect("just added");
            if p.json {
                p.json(&rule);
            } else {
                p.out(format!("✓ rule {id}: {}", describe_rule(&rule)));
            }
        }
        RuleCommand::Ls => {
            let rules = lake.rules()?;
            if p.json {
                p.json(&rules);
            } else if rules.is_empty() {
                p.status("no rules; `lake rule add --zone bronze --archive-after 30d` adds one");
            } else {
                let rows = rules
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.to_string(),
                            r.zone.map_or("*".into(), |z| z.to_string()),
                            r.dataset_glob.clone(),
                            r.archive_after_s.map(format_age).unwrap_or_default(),
                            r.keep_last.to_string(),
                            r.expire_after_s.map(format_age).unwrap_or_default(),
                            if r.keep_inputs {
                                "yes".into()
                            } else {
                                String::new()
                            },
                            r.origin.clone(),
                        ]
                    })
                    .collect();
                p.out(table(
                    &[
                        "id",
                        "zone",
                        "dataset",
                        "archive after",
                        "keep last",
                        "expire after",
                        "keep inputs",
                        "from",
                    ],
                    rows,
                ));
            }
        }
        RuleCommand::Rm { id } => {
            lake.remove_rule(*id)?;
            if p.json {
                p.json(&serde_json::json!({ "id": id, "removed": true }));
            } else {
                p.out(format!("✓ removed rule {id}"));
            }
        }
    }
    Ok(())
}

/// Ask on the terminal before deleting data for good; `true` to go on. Without a terminal
/// (cron, CI, a pipe) there is nobody to ask, and the command goes on as told.
pub fn confirm(question: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return true;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

pub async fn archive(lake: &Lake, args: &ArchiveArgs, p: Printer) -> Result<(), Failure> {
    if !args.dry_run && !args.yes {
        let plan = lake
            .archive_versions()
            .with_datasets(datasets(&args.datasets)?)
            .with_dry_run(true)
            .execute()
            .await?;
        if !plan.expired.is_empty() {
            let question = format!(
                "expiry deletes the data of {} for good ({} files, {}); go on?",
                plural(plan.expired.len() as u64, "version", "versions"),
                count(plan.files_deleted),
                bytes(plan.bytes_deleted)
            );
            if !confirm(&question) {
                p.out("nothing changed");
                return Ok(());
            }
        }
    }
    let archive = lake
        .archive_versions()
        .with_datasets(datasets(&args.datasets)?)
        .with_dry_run(args.dry_run)
        .execute();
    let report = p
        .spinning("archiving: copying and verifying", archive)
        .await?;
    if p.json {
        p.json(&report);
        return Ok(());
    }
    let verb = |done: &str, plan: &str| {
        if report.dry_run {
            plan.to_string()
        } else {
            done.to_string()
        }
    };
    if report.resumed > 0 {
        p.status(format!(
            "finished an interrupted run: {}",
            plural(report.resumed, "object", "objects")
        ));
    }
    for m in &report.archived {
        p.out(format!(
            "{} {}  {} {}  (rule {})",
            verb("archived", "would archive"),
            m.reference,
            plural(m.files, "file", "files"),
            bytes(m.bytes),
            m.rule.unwrap_or_default()
        ));
    }
    for m in &report.expired {
        p.out(format!(
            "{} {}  {} {} deleted from the archive tier  (rule {})",
            verb("expired", "would expire"),
            m.reference,
            plural(m.files, "file", "files"),
            bytes(m.bytes),
            m.rule.unwrap_or_default()
        ));
    }
    if report.archived.is_empty() && report.expired.is_empty() {
        p.out("nothing to archive or expire under the current rules");
    } else {
        p.out(format!(
            "{}: {} ({}) to the archive tier, {} ({}) deleted{}",
            if report.dry_run { "plan" } else { "done" },
            plural(report.files_archived, "file", "files"),
            bytes(report.bytes_archived),
            plural(report.files_deleted, "file", "files"),
            bytes(report.bytes_deleted),
            if report.dry_run {
                "; nothing moved (dry run)"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

pub async fn restore(lake: &Lake, args: &RestoreArgs, p: Printer) -> Result<(), Failure> {
    let r: DatasetRef = args.reference.parse()?;
    let report = p
        .spinning(
            "restoring: copying back and verifying",
            lake.restore(&r, args.dry_run),
        )
        .await?;
    if p.json {
        p.json(&report);
    } else if report.already_active {
        p.out(format!(
            "= {} is active; nothing to restore",
            report.reference
        ));
    } else {
        p.out(format!(
            "{} {}  {} {}",
            if report.dry_run {
                "would restore"
            } else {
                "✓ restored"
            },
            report.reference,
            plural(report.files, "file", "files"),
            bytes(report.bytes)
        ));
    }
    Ok(())
}

pub async fn gc(lake: &Lake, args: &GcArgs, p: Printer) -> Result<(), Failure> {
    let report = p
        .spinning("listing both tiers", lake.gc(args.grace, args.dry_run))
        .await?;
    if p.json {
        p.json(&report);
        return Ok(());
    }
    for o in &report.orphans {
        let what = match (o.why, report.dry_run) {
            ("in_flight", _) if o.kind == "spool" => "kept (its process still runs)",
            ("in_flight", _) => "kept (a write or move in progress)",
            ("young", _) => "kept (younger than the grace period)",
            (_, true) => "would delete",
            (_, false) => "deleted",
        };
        let staging = match o.kind {
            "staging" => " (partial file of a crashed write)",
            "upload" => " (incomplete multipart upload of a crashed write)",
            "spool" => " (input spooled by a process that is gone)",
            _ => "",
        };
        p.out(format!(
            "{what}: {} {}{staging}  {}",
            o.tier,
            o.key,
            bytes(o.size)
        ));
    }
    p.out(format!(
        "{} {} ({}) not referenced by the catalog{}",
        if report.dry_run {
            "would delete"
        } else {
            "deleted"
        },
        plural(report.deleted, "object", "objects"),
        bytes(report.bytes_deleted),
        if report.dry_run {
            "; nothing deleted (dry run)"
        } else {
            ""
        }
    ));
    Ok(())
}

pub async fn check(lake: &Lake, args: &CheckArgs, p: Printer) -> Result<(), Failure> {
    let report = p
        .spinning(
            "checking the catalog against storage",
            lake.check(args.verify_hashes, args.repair),
        )
        .await?;
    if p.json {
        p.json(&report);
    } else {
        for pr in &report.problems {
            p.out(format!(
                "{} {}: {} {}: {}",
                if pr.repaired {
                    "repaired"
                } else if pr.kind == "delta_stops" {
                    "note"
                } else {
                    "problem"
                },
                pr.kind,
                pr.tier,
                pr.key,
                pr.detail
            ));
        }
        p.out(format!(
            "checked {} and {}{}: {}, {} ({} removes them)",
            plural(report.files_checked, "file", "files"),
            plural(report.manifests_checked, "manifest", "manifests"),
            if report.hashes_verified {
                " with sha256"
            } else {
                ""
            },
            if report.integrity_failures == 0 {
                "no integrity problems".to_string()
            } else {
                plural(
                    report.integrity_failures,
                    "integrity problem",
                    "integrity problems",
                )
            },
            plural(
                report.orphans,
                "unreferenced object",
                "unreferenced objects"
            ),
            "`lake gc`"
        ));
    }
    if report.integrity_failures > 0 {
        return Err(Failure::silent(report::EXIT_INTEGRITY));
    }
    Ok(())
}

pub fn du(lake: &Lake, args: &DuArgs, p: Printer) -> Result<(), Failure> {
    let report = lake.du(&datasets(&args.datasets)?)?;
    if p.json {
        p.json(&report);
        return Ok(());
    }
    let mut rows = Vec::new();
    for d in &report.datasets {
        rows.push(vec![
            d.dataset.to_string(),
            String::new(),
            bytes(d.hot_bytes),
            bytes(d.archive_bytes),
            String::new(),
        ]);
        for v in &d.versions {
            rows.push(vec![
                format!(
                    "  {}",
                    v.reference
                        .selector
                        .as_ref()
                        .map(|s| s.to_string())
                        .unwrap_or_default()
                ),
                v.state.clone(),
                bytes(v.hot_bytes),
                bytes(v.archive_bytes),
                bytes(v.alone_bytes),
            ]);
        }
    }
    p.out(table(
        &["dataset / version", "state", "hot", "archive", "alone"],
        rows,
    ));
    let zones: Vec<String> = report
        .zones
        .iter()
        .map(|(z, (h, a))| format!("{z} {} hot, {} archive", bytes(*h), bytes(*a)))
        .collect();
    p.out(format!(
        "total {} hot, {} archive ({})",
        bytes(report.hot_bytes),
        bytes(report.archive_bytes),
        zones.join("; ")
    ));
    Ok(())
}

pub async fn compact(lake: &Lake, args: &CompactArgs, p: Printer) -> Result<(), Failure> {
    use lake::compact::CompactStatus;
    let dataset = DatasetRef::parse_dataset(&args.dataset)?;
    let report = p
        .spinning(
            "compacting",
            lake.compact(dataset)
                .with_target_file_mb(args.target_file_mb)
                .with_dry_run(args.dry_run)
                .execute(),
        )
        .await?;
    if p.json {
        p.json(&report);
        return Ok(());
    }
    match report.status {
        CompactStatus::Committed => p.out(format!(
            "✓ {}  {} → {} ({} merged into {})  {}  {}",
            report.reference.as_deref().unwrap_or_default(),
            plural(report.files_before, "file", "files"),
            report.files_after,
            report.files_merged,
            report.files_written,
            plural(report.rows, "row", "rows"),
            short_digest(report.digest.as_deref().unwrap_or_default()),
        )),
        CompactStatus::DryRun => p.out(format!(
            "would merge {} ({}) of {}'s {} (dry run: nothing written)",
            plural(report.files_merged, "small file", "small files"),
            bytes(report.bytes_merged),
            report.from,
            report.files_before,
        )),
        CompactStatus::Unchanged => p.out(format!(
            "= {} has no small files to merge ({})",
            report.from,
            plural(report.files_before, "file", "files")
        )),
    }
    if report.attempts > 1 {
        p.status(format!(
            "other writers committed meanwhile: {} attempts",
            report.attempts
        ));
    }
    Ok(())
}

pub async fn rollback(lake: &Lake, args: &RollbackArgs, p: Printer) -> Result<(), Failure> {
    let to: DatasetRef = args.reference.parse()?;
    let report = lake
        .rollback(to)
        .with_dry_run(args.dry_run)
        .execute()
        .await?;
    if p.json {
        p.json(&report);
        return Ok(());
    }
    for d in &report.drift {
        p.status(format!("  {d}"));
    }
    for s in &report.dropped_sources {
        p.status(format!(
            "  no longer holds {s} (ingesting it again makes a new version)"
        ));
    }
    use lake::rollback::RollbackStatus;
    match report.status {
        RollbackStatus::Committed => p.out(format!(
            "✓ {}  the files and schema of {} again ({} rows, {}), over {}",
            report.reference.as_deref().unwrap_or_default(),
            report.to,
            count(report.rows),
            plural(report.files, "file", "files"),
            report.from
        )),
        RollbackStatus::DryRun => p.out(format!(
            "would make a version of {} with the files and schema of {} ({} rows); nothing committed (dry run)",
            report.dataset,
            report.to,
            count(report.rows)
        )),
        RollbackStatus::Unchanged => p.out(format!("unchanged: {} is the latest version", report.to)),
    }
    Ok(())
}

pub async fn maintain(lake: &Lake, args: &MaintainArgs, p: Printer) -> Result<(), Failure> {
    let actions = p
        .spinning(
            "applying the [maintain] policies",
            lake.maintain(args.dry_run),
        )
        .await?;
    if p.json {
        p.json(&serde_json::json!({ "dry_run": args.dry_run, "datasets": actions }));
        return Ok(());
    }
    if actions.is_empty() {
        p.out("nothing is due under the [maintain] policies");
    }
    for a in &actions {
        let c = &a.compaction;
        p.out(format!(
            "{} {} ({}): {} small files into {}{}",
            if args.dry_run {
                "would compact"
            } else {
                "✓ compacted"
            },
            a.dataset,
            a.why,
            c.files_merged,
            c.reference.as_deref().unwrap_or("a new version"),
            if args.dry_run {
                "; nothing written (dry run)"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

/// `lake check --rebuild-catalog`: runs before the catalog is opened, since it may be gone.
pub async fn rebuild_catalog(
    start: &std::path::Path,
    args: &CheckArgs,
    p: Printer,
) -> Result<(), Failure> {
    let report = p
        .spinning(
            "rebuilding the catalog from storage",
            lake::rebuild::rebuild_catalog(start, args.into.as_deref()),
        )
        .await?;
    let differs = report
        .compared
        .as_ref()
        .is_some_and(|c| !c.differences.is_empty());
    if p.json {
        p.json(&report);
    } else {
        for s in &report.skipped {
            p.status(format!("! skipped {}: {}", s.key, s.reason));
        }
        p.out(format!(
            "{} {}: {}, {}, {}, {}, {}",
            if report.kept {
                "✓ rebuilt"
            } else {
                "rebuilt (scratch copy, removed)"
            },
            report.into,
            plural(report.datasets, "dataset", "datasets"),
            plural(report.versions, "version", "versions"),
            plural(report.files, "file", "files"),
            plural(report.tags, "tag", "tags"),
            plural(report.erasures, "erasure", "erasures")
        ));
        if let Some(c) = &report.compared {
            for d in &c.differences {
                p.out(format!(
                    "  differs {} {}: live {}, rebuilt {}",
                    d.reference, d.field, d.live, d.rebuilt
                ));
            }
            p.out(format!(
                "compared with {}: {} alike, {}",
                c.live,
                plural(c.same, "version", "versions"),
                plural(c.differences.len() as u64, "difference", "differences")
            ));
        }
        p.status("not in storage, so not rebuilt:");
        for l in &report.lost {
            p.status(format!("  - {l}"));
        }
    }
    if differs {
        return Err(Failure::silent(report::EXIT_INTEGRITY));
    }
    Ok(())
}
