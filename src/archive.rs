//! Lifecycle: tags that pin versions, rules that age them out, and the moves between tiers.
//!
//! `archive` applies the rules: old versions (never the latest, never a tagged one, never the
//! newest `keep_last`, and with `keep_inputs` never an input of a live silver/gold version)
//! become `archived`; files no live version needs are copied to the archive tier, verified by
//! sha256 there, recorded in the catalog, and only then deleted from the hot tier. Expiry
//! deletes archived data past its age and keeps the version as a tombstone. Every step is
//! idempotent: an archive killed at any point and run again finishes the job, losing nothing
//! and leaving no second copy. `restore` moves a version's files back the same careful way.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::{NewRule, Rule, TieredFile, VersionRow, VersionState};
use crate::clock::{self, parse_timestamp};
use crate::config::RuleConfig;
use crate::error::{Error, Result};
use crate::ident::{DatasetRef, Zone, check_tag, format_age, parse_age};
use crate::lake::Lake;

/// A version that moves, and why.
#[derive(Debug, Clone, Serialize)]
pub struct VersionMove {
    /// The version.
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    /// The rule that moves it (its id).
    pub rule: Option<i64>,
    /// Files that leave their tier with it (others are still needed where they are).
    pub files: u64,
    /// Bytes of those files.
    pub bytes: u64,
}

/// What `lake archive` did (or, with a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveReport {
    /// Nothing was moved: the report is the plan.
    pub dry_run: bool,
    /// Versions moved to the archive tier.
    pub archived: Vec<VersionMove>,
    /// Archived versions expired (their files deleted).
    pub expired: Vec<VersionMove>,
    /// Files copied to the archive tier and removed from the hot tier.
    pub files_archived: u64,
    /// Bytes moved to the archive tier.
    pub bytes_archived: u64,
    /// Files deleted from the archive tier by expiry.
    pub files_deleted: u64,
    /// Bytes deleted by expiry.
    pub bytes_deleted: u64,
    /// Leftovers of an interrupted run that this run completed.
    pub resumed: u64,
}

/// What `lake restore` did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// The version restored.
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    /// Nothing was moved: the report is the plan.
    pub dry_run: bool,
    /// Already active: nothing to do.
    pub already_active: bool,
    /// Files brought back to the hot tier.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What `lake tag` did.
#[derive(Debug, Clone, Serialize)]
pub struct TagReport {
    /// The version tagged.
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    /// The tag.
    pub tag: String,
    /// The version the tag pointed at before, if it moved.
    pub moved_from: Option<DatasetRef>,
}

impl Lake {
    /// Point tag `name` at the version `r` names (moving it if it exists).
    pub fn tag(&self, r: &DatasetRef, name: &str) -> Result<TagReport> {
        check_tag(name).map_err(|reason| Error::InvalidRef {
            input: name.to_string(),
            reason: reason.to_string(),
        })?;
        let at = clock::timestamp(self.clock().now());
        let actor = self.actor().to_string();
        let report = self.catalog().write(|tx| {
            let v = tx.resolve(r)?;
            if v.state == VersionState::Expired {
                return Err(Error::VersionExpired {
                    version: v.reference().to_string(),
                    at: v.created_at.clone(),
                });
            }
            let before = tx.set_tag(&v, name, &at, &actor)?;
            let moved_from = match before {
                Some(id) if id != v.id => Some(tx.version_by_id(id)?.reference()),
                _ => None,
            };
            tx.audit(
                &at,
                &actor,
                "tag",
                &v.reference().to_string(),
                &serde_json::json!({ "tag": name }),
            )?;
            Ok(TagReport {
                reference: v.reference(),
                tag: name.to_string(),
                moved_from,
            })
        })?;
        self.follow_tags(&report.reference.dataset());
        let _ = crate::lake::run_blocking(async {
            self.follow_record(&report.reference.dataset()).await;
            Ok(())
        });
        Ok(report)
    }

    /// Remove tag `name` from `dataset`.
    pub fn untag(&self, dataset: &DatasetRef, name: &str) -> Result<()> {
        let at = clock::timestamp(self.clock().now());
        let actor = self.actor().to_string();
        let removed = self.catalog().write(|tx| {
            let d = tx.dataset(dataset)?;
            if !tx.remove_tag(d.id, name)? {
                return Err(Error::NotFound {
                    what: "tag",
                    name: format!("{dataset}@{name}"),
                });
            }
            tx.audit(
                &at,
                &actor,
                "untag",
                &dataset.to_string(),
                &serde_json::json!({ "tag": name }),
            )
        });
        // Also when there was no such tag: an untag stopped after its commit left the record
        // behind, and running it again brings the record in line.
        if removed.is_err() {
            let _ = crate::lake::run_blocking(async {
                self.follow_record(&dataset.dataset()).await;
                Ok(())
            });
        }
        removed?;
        self.follow_tags(&dataset.dataset());
        let _ = crate::lake::run_blocking(async {
            self.follow_record(&dataset.dataset()).await;
            Ok(())
        });
        Ok(())
    }

    /// Add a lifecycle rule; returns its id.
    pub fn add_rule(&self, rule: &NewRule) -> Result<i64> {
        glob::Pattern::new(&rule.dataset_glob).map_err(|e| Error::InvalidGlob {
            input: rule.dataset_glob.clone(),
            reason: e.to_string(),
        })?;
        let at = clock::timestamp(self.clock().now());
        let actor = self.actor().to_string();
        self.catalog().write(|tx| {
            let id = tx.add_rule(rule, &at, &actor)?;
            tx.audit(
                &at,
                &actor,
                "rule add",
                &format!("rule {id}"),
                &serde_json::json!({ "glob": rule.dataset_glob }),
            )?;
            Ok(id)
        })
    }

    /// The rules in force.
    pub fn rules(&self) -> Result<Vec<Rule>> {
        self.catalog().reader().rules()
    }

    /// Retire rule `id` (versions it moved keep naming it).
    pub fn remove_rule(&self, id: i64) -> Result<()> {
        let at = clock::timestamp(self.clock().now());
        let actor = self.actor().to_string();
        self.catalog().write(|tx| {
            if !tx.remove_rule(id, &at)? {
                return Err(Error::NotFound {
                    what: "rule",
                    name: id.to_string(),
                });
            }
            tx.audit(
                &at,
                &actor,
                "rule rm",
                &format!("rule {id}"),
                &serde_json::Value::Null,
            )
        })
    }

    /// Prepare an archive run over every dataset (or those named); nothing moves until
    /// [`Archive::execute`].
    #[must_use]
    pub fn archive_versions(&self) -> Archive<'_> {
        Archive {
            lake: self,
            datasets: Vec::new(),
            dry_run: false,
        }
    }

    /// Bring an archived version back to the hot tier, verified.
    pub async fn restore(&self, r: &DatasetRef, dry_run: bool) -> Result<RestoreReport> {
        if !dry_run {
            // A restore killed after its flip leaves copies to clean: finish that first.
            self.resume_moves().await?;
        }
        let (version, files) = {
            let catalog = self.catalog();
            let tx = catalog.reader();
            let v = tx.resolve(r)?;
            let files = tx.tiered_files(v.id)?;
            (v, files)
        };
        let mut report = RestoreReport {
            reference: version.reference(),
            dry_run,
            already_active: false,
            files: 0,
            bytes: 0,
        };
        match version.state {
            VersionState::Active => {
                report.already_active = true;
                if !dry_run {
                    self.follow_record(&version.dataset).await;
                }
                return Ok(report);
            }
            VersionState::Expired => {
                let lifecycle = self.catalog().reader().version_lifecycle(version.id)?;
                return Err(Error::VersionExpired {
                    version: version.reference().to_string(),
                    at: lifecycle.expired_at.unwrap_or_default(),
                });
            }
            VersionState::Archived => {}
        }
        let cold: Vec<TieredFile> = files.into_iter().filter(|f| f.tier == "archive").collect();
        report.files = cold.len() as u64;
        report.bytes = cold.iter().map(|f| f.size).sum();
        if dry_run {
            return Ok(report);
        }
        let lease = self.claim(&cold, "restore", "archive", "hot")?;
        if lease.files().len() != cold.len() {
            lease.abandon().await;
            return Err(Error::MoveInProgress {
                version: version.reference().to_string(),
            });
        }
        if let Err(e) = lease.copy().await {
            lease.abandon().await;
            return Err(e);
        }
        crate::failpoint::hit("restore.copied")?;
        let at = clock::timestamp(self.clock().now());
        let actor = self.actor().to_string();
        let owner = lease.owner().to_string();
        let flipped = self.catalog().write(|tx| {
            // Re-checked under the write lock: still archived, so the copies are what it needs.
            let now = tx.version_by_id(version.id)?;
            if now.state != VersionState::Archived {
                return Ok(BTreeSet::new());
            }
            let mut flipped = BTreeSet::new();
            for f in &cold {
                tx.flip_move(f.id, &owner)?;
                flipped.insert(f.id);
            }
            tx.set_version_state(version.id, "active", &at, None)?;
            tx.audit(
                &at,
                &actor,
                "restore",
                &version.reference().to_string(),
                &serde_json::json!({ "files": cold.len() }),
            )?;
            Ok(flipped)
        });
        let flipped = match flipped {
            Ok(f) => f,
            Err(e) => {
                lease.abandon().await;
                return Err(e);
            }
        };
        if flipped.is_empty() {
            lease.abandon().await;
            report.already_active = true;
            self.follow_record(&version.dataset).await;
            return Ok(report);
        }
        crate::failpoint::hit("restore.flipped")?;
        lease.finish(&flipped).await?;
        self.follow_record(&version.dataset).await;
        Ok(report)
    }
}

/// An archive run being prepared: made by [`Lake::archive_versions`], run by [`Archive::execute`].
pub struct Archive<'a> {
    lake: &'a Lake,
    datasets: Vec<DatasetRef>,
    dry_run: bool,
}

impl Archive<'_> {
    /// Only these datasets.
    pub fn with_datasets(mut self, datasets: Vec<DatasetRef>) -> Self {
        self.datasets = datasets;
        self
    }

    /// Print the plan; move nothing.
    pub fn with_dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Apply the rules: archive the versions they age out and expire old archived ones.
    pub async fn execute(self) -> Result<ArchiveReport> {
        let lake = self.lake;
        if !self.dry_run {
            sync_config_rules(lake)?;
        }
        let mut report = ArchiveReport {
            dry_run: self.dry_run,
            archived: Vec::new(),
            expired: Vec::new(),
            files_archived: 0,
            bytes_archived: 0,
            files_deleted: 0,
            bytes_deleted: 0,
            resumed: 0,
        };
        if !self.dry_run {
            report.resumed = lake.resume_moves().await?;
        }
        let (to_archive, to_expire) = self.plan()?;

        // Archive: hot files no live version needs are copied, verified, recorded, then deleted.
        // Expire: files only archived or expired versions need leave the archive tier; the
        // versions stay as records.
        let (moving, deleting) = {
            let catalog = lake.catalog();
            let tx = catalog.reader();
            let (archived, moving) = leaving(&tx, &to_archive, |f| f.tier == "hot", &["active"])?;
            let (expired, deleting) = leaving(
                &tx,
                &to_expire,
                |f| f.tier != "deleted",
                &["active", "archived"],
            )?;
            report.archived = archived;
            report.expired = expired;
            (moving, deleting)
        };
        report.files_archived = moving.len() as u64;
        report.bytes_archived = moving.values().map(|f| f.size).sum();
        report.files_deleted = deleting.len() as u64;
        report.bytes_deleted = deleting.values().map(|f| f.size).sum();
        if self.dry_run {
            return Ok(report);
        }

        // Leases first: files another mover holds are left to it.
        let moving: Vec<TieredFile> = moving.into_values().collect();
        let archiving = lake.claim(&moving, "archive", "hot", "archive")?;
        let mut expiring = Vec::new();
        for tier in ["hot", "archive"] {
            let files: Vec<TieredFile> = deleting
                .values()
                .filter(|f| f.tier == tier)
                .cloned()
                .collect();
            match lake.claim(&files, "expire", tier, "deleted") {
                Ok(lease) => expiring.push(lease),
                Err(e) => {
                    archiving.abandon().await;
                    for lease in expiring {
                        lease.abandon().await;
                    }
                    return Err(e);
                }
            }
        }
        if let Err(e) = archiving.copy().await {
            archiving.abandon().await;
            for lease in expiring {
                lease.abandon().await;
            }
            return Err(e);
        }
        let at = clock::timestamp(lake.clock().now());
        let actor = lake.actor().to_string();
        let decided = lake.catalog().write(|tx| {
            // Re-checked under the write lock: a version tagged, pinned, restored or made
            // latest since the plan stays; a file another live version now needs stays.
            let mut archived = Vec::new();
            for (v, rule, keep_inputs) in &to_archive {
                let now = tx.version_by_id(v.id)?;
                let latest = tx.latest_version(v.dataset_id)?.map(|l| l.id);
                if now.state != VersionState::Active
                    || latest == Some(v.id)
                    || tx.is_protected(v.id)?
                    || tx.leased_by_others(v.id, archiving.owner())?
                    || (*keep_inputs && tx.feeds_a_live_version(v.id)?)
                {
                    continue;
                }
                archived.push((v.clone(), *rule));
            }
            let ids: Vec<i64> = archived.iter().map(|(v, _)| v.id).collect();
            let mut flipped_archive = BTreeSet::new();
            for f in archiving.files() {
                if !tx.file_needed_by(f.id, &["active"], &ids)? {
                    tx.flip_move(f.id, archiving.owner())?;
                    flipped_archive.insert(f.id);
                }
            }
            for (v, rule) in &archived {
                tx.set_version_state(v.id, "archived", &at, Some(*rule))?;
                tx.audit(
                    &at,
                    &actor,
                    "archive",
                    &v.reference().to_string(),
                    &serde_json::json!({ "rule": rule }),
                )?;
            }
            let mut expired = Vec::new();
            for (v, rule, _) in &to_expire {
                let now = tx.version_by_id(v.id)?;
                if now.state != VersionState::Archived
                    || tx.is_protected(v.id)?
                    || tx.leased_by_others(v.id, archiving.owner())?
                {
                    continue;
                }
                expired.push((v.clone(), *rule));
            }
            let ids: Vec<i64> = expired.iter().map(|(v, _)| v.id).collect();
            let mut flipped_expire = BTreeSet::new();
            for lease in &expiring {
                for f in lease.files() {
                    if !tx.file_needed_by(f.id, &["active", "archived"], &ids)? {
                        tx.flip_move(f.id, lease.owner())?;
                        flipped_expire.insert(f.id);
                    }
                }
            }
            for (v, rule) in &expired {
                tx.set_version_state(v.id, "expired", &at, Some(*rule))?;
                tx.audit(
                    &at,
                    &actor,
                    "expire",
                    &v.reference().to_string(),
                    &serde_json::json!({ "rule": rule }),
                )?;
            }
            Ok((archived, flipped_archive, expired, flipped_expire))
        });
        let (archived, flipped_archive, expired, flipped_expire) = match decided {
            Ok(d) => d,
            Err(e) => {
                archiving.abandon().await;
                for lease in expiring {
                    lease.abandon().await;
                }
                return Err(e);
            }
        };
        let kept = |moves: &mut Vec<VersionMove>, done: &[(VersionRow, i64)]| {
            moves.retain(|m| done.iter().any(|(v, _)| v.reference() == m.reference));
        };
        kept(&mut report.archived, &archived);
        kept(&mut report.expired, &expired);
        let sum = |files: &[TieredFile], flipped: &BTreeSet<i64>| {
            let done: Vec<&TieredFile> = files.iter().filter(|f| flipped.contains(&f.id)).collect();
            (done.len() as u64, done.iter().map(|f| f.size).sum::<u64>())
        };
        (report.files_archived, report.bytes_archived) = sum(archiving.files(), &flipped_archive);
        let mut deleted = (0, 0);
        for lease in &expiring {
            let (n, b) = sum(lease.files(), &flipped_expire);
            deleted = (deleted.0 + n, deleted.1 + b);
        }
        (report.files_deleted, report.bytes_deleted) = deleted;
        archiving.finish(&flipped_archive).await?;
        for lease in expiring {
            lease.finish(&flipped_expire).await?;
        }
        // Every dataset's record, not only those changed now: one an archive stopped after its
        // commit left behind comes in line on the next run.
        let datasets = lake.catalog().reader().dataset_ids()?;
        for (_, d) in &datasets {
            lake.follow_record(d).await;
        }
        Ok(report)
    }

    /// Versions to archive and to expire, each with the rule that says so.
    #[allow(clippy::type_complexity)]
    fn plan(&self) -> Result<(Vec<Planned>, Vec<Planned>)> {
        let lake = self.lake;
        let now = lake.clock().now();
        let catalog = lake.catalog();
        let tx = catalog.reader();
        let rules = tx.rules()?;
        let mut archive = Vec::new();
        let mut expire = Vec::new();
        let mut seen = BTreeSet::new();
        for (id, dataset) in tx.dataset_ids()? {
            if !self.datasets.is_empty() && !self.datasets.iter().any(|d| d.dataset() == dataset) {
                continue;
            }
            let versions = tx.versions(id)?;
            for rule in rules.iter().filter(|r| rule_applies(r, &dataset)) {
                for (rank, v) in versions.iter().enumerate() {
                    let age = parse_timestamp(&v.created_at)
                        .map(|t| (now - t).num_seconds().max(0) as u64)
                        .unwrap_or(0);
                    match v.state {
                        VersionState::Active => {
                            let Some(after) = rule.archive_after_s else {
                                continue;
                            };
                            // The latest version and the newest keep_last are never archived.
                            if rank == 0 || (rank as u64) < rule.keep_last || age < after {
                                continue;
                            }
                            if tx.is_protected(v.id)?
                                || (rule.keep_inputs && tx.feeds_a_live_version(v.id)?)
                            {
                                continue;
                            }
                            if seen.insert(v.id) {
                                archive.push((v.clone(), rule.id, rule.keep_inputs));
                            }
                        }
                        VersionState::Archived => {
                            let Some(after) = rule.expire_after_s else {
                                continue;
                            };
                            if age < after || tx.is_protected(v.id)? {
                                continue;
                            }
                            if seen.insert(v.id) {
                                expire.push((v.clone(), rule.id, rule.keep_inputs));
                            }
                        }
                        VersionState::Expired => {}
                    }
                }
            }
        }
        Ok((archive, expire))
    }
}

/// For versions leaving their state: each version's move, and the files that leave with them
/// (in the tier `eligible` accepts, and needed by no other version in `keep_states`).
/// A version a rule moves: the version, the rule's id, and whether the rule spares inputs.
type Planned = (VersionRow, i64, bool);

fn leaving(
    tx: &crate::catalog::Tx<'_>,
    versions: &[Planned],
    eligible: impl Fn(&TieredFile) -> bool,
    keep_states: &[&str],
) -> Result<(Vec<VersionMove>, BTreeMap<i64, TieredFile>)> {
    let ids: Vec<i64> = versions.iter().map(|(v, _, _)| v.id).collect();
    let mut files_leaving = BTreeMap::new();
    let mut moves = Vec::with_capacity(versions.len());
    for (v, rule, _) in versions {
        let (mut files, mut bytes) = (0, 0);
        for f in tx.tiered_files(v.id)? {
            if eligible(&f) && !tx.file_needed_by(f.id, keep_states, &ids)? {
                files += 1;
                bytes += f.size;
                files_leaving.insert(f.id, f);
            }
        }
        moves.push(VersionMove {
            reference: v.reference(),
            rule: Some(*rule),
            files,
            bytes,
        });
    }
    Ok((moves, files_leaving))
}

/// Whether `rule` covers `dataset` (its zone, and its name by the rule's glob).
pub(crate) fn rule_applies(rule: &Rule, dataset: &DatasetRef) -> bool {
    rule.zone.is_none_or(|z| z == dataset.zone)
        && glob::Pattern::new(&rule.dataset_glob).is_ok_and(|p| p.matches(&dataset.name))
}

/// Make the catalog's config-origin rules match `[[rules]]` in lake.toml.
fn sync_config_rules(lake: &Lake) -> Result<()> {
    let wanted: Vec<NewRule> = lake
        .config()
        .rules
        .iter()
        .map(rule_from_config)
        .collect::<Result<_>>()?;
    let at = clock::timestamp(lake.clock().now());
    let actor = lake.actor().to_string();
    lake.catalog().write(|tx| {
        let have: Vec<Rule> = tx
            .rules()?
            .into_iter()
            .filter(|r| r.origin == "config")
            .collect();
        let same = |r: &Rule, n: &NewRule| {
            r.zone == n.zone
                && r.dataset_glob == n.dataset_glob
                && r.archive_after_s == n.archive_after_s
                && r.keep_last == n.keep_last
                && r.expire_after_s == n.expire_after_s
                && r.keep_inputs == n.keep_inputs
        };
        for r in &have {
            if !wanted.iter().any(|n| same(r, n)) {
                tx.remove_rule(r.id, &at)?;
            }
        }
        for n in &wanted {
            if !have.iter().any(|r| same(r, n)) {
                tx.add_rule(n, &at, &actor)?;
            }
        }
        Ok(())
    })
}

/// A `[[rules]]` entry as a catalog rule.
pub fn rule_from_config(c: &RuleConfig) -> Result<NewRule> {
    Ok(NewRule {
        zone: c.zone.as_deref().map(str::parse::<Zone>).transpose()?,
        dataset_glob: c.dataset.clone(),
        archive_after_s: c.archive_after.as_deref().map(parse_age).transpose()?,
        keep_last: c.keep_last,
        expire_after_s: c.expire_after.as_deref().map(parse_age).transpose()?,
        keep_inputs: c.keep_inputs,
        origin: "config",
    })
}

/// A rule in words: `bronze.* archive after 30d, keep last 3, expire after 365d`.
pub fn describe_rule(r: &Rule) -> String {
    let scope = format!("{}.{}", r.zone.map_or("*", |z| z.as_str()), r.dataset_glob);
    let mut parts = Vec::new();
    if let Some(a) = r.archive_after_s {
        parts.push(format!("archive after {}", format_age(a)));
    }
    if r.keep_last > 0 {
        parts.push(format!("keep last {}", r.keep_last));
    }
    if let Some(e) = r.expire_after_s {
        parts.push(format!("expire after {}", format_age(e)));
    }
    if r.keep_inputs {
        parts.push("keep inputs of live versions".into());
    }
    format!("{scope} {}", parts.join(", "))
}
