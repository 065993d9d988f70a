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
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    pub rule: Option<i64>,
    /// Files that leave their tier with it (others are still needed where they are).
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArchiveReport {
    pub dry_run: bool,
    pub archived: Vec<VersionMove>,
    pub expired: Vec<VersionMove>,
    /// Files copied to the archive tier and removed from the hot tier.
    pub files_archived: u64,
    pub bytes_archived: u64,
    /// Files deleted from the archive tier by expiry.
    pub files_deleted: u64,
    pub bytes_deleted: u64,
    /// Leftovers of an interrupted run that this run completed.
    pub resumed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    pub dry_run: bool,
    /// Already active: nothing to do.
    pub already_active: bool,
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TagReport {
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
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
        self.catalog().write(|tx| {
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
        })
    }

    /// Remove tag `name` from `dataset`.
    pub fn untag(&self, dataset: &DatasetRef, name: &str) -> Result<()> {
        let at = clock::timestamp(self.clock().now());
        let actor = self.actor().to_string();
        self.catalog().write(|tx| {
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
        })
    }

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

    pub fn rules(&self) -> Result<Vec<Rule>> {
        self.catalog().reader().rules()
    }

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
        let cold: Vec<&TieredFile> = files.iter().filter(|f| f.tier == "archive").collect();
        report.files = cold.len() as u64;
        report.bytes = cold.iter().map(|f| f.size).sum();
        if dry_run {
            return Ok(report);
        }
        for f in &cold {
            self.archive()
                .copy_verified(self.storage(), &f.path, &f.sha256)
                .await?;
        }
        let at = clock::timestamp(self.clock().now());
        let actor = self.actor().to_string();
        self.catalog().write(|tx| {
            for f in &cold {
                tx.set_file_tier(f.id, "hot")?;
            }
            tx.set_version_state(version.id, "active", &at, None)?;
            tx.audit(
                &at,
                &actor,
                "restore",
                &version.reference().to_string(),
                &serde_json::json!({ "files": cold.len() }),
            )
        })?;
        for f in &cold {
            self.archive().delete(&f.path).await?;
        }
        Ok(report)
    }
}

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
            report.resumed = finish_interrupted(lake).await?;
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

        for f in moving.values() {
            lake.storage()
                .copy_verified(lake.archive(), &f.path, &f.sha256)
                .await?;
        }
        let at = clock::timestamp(lake.clock().now());
        let actor = lake.actor().to_string();
        lake.catalog().write(|tx| {
            for f in moving.values() {
                tx.set_file_tier(f.id, "archive")?;
            }
            for (v, rule) in &to_archive {
                tx.set_version_state(v.id, "archived", &at, Some(*rule))?;
                tx.audit(
                    &at,
                    &actor,
                    "archive",
                    &v.reference().to_string(),
                    &serde_json::json!({ "rule": rule }),
                )?;
            }
            for f in deleting.values() {
                tx.set_file_tier(f.id, "deleted")?;
            }
            for (v, rule) in &to_expire {
                tx.set_version_state(v.id, "expired", &at, Some(*rule))?;
                tx.audit(
                    &at,
                    &actor,
                    "expire",
                    &v.reference().to_string(),
                    &serde_json::json!({ "rule": rule }),
                )?;
            }
            Ok(())
        })?;
        for f in moving.values() {
            lake.storage().delete(&f.path).await?;
        }
        for f in deleting.values() {
            let tier = if f.tier == "archive" {
                lake.archive()
            } else {
                lake.storage()
            };
            tier.delete(&f.path).await?;
        }
        Ok(report)
    }

    /// Versions to archive and to expire, each with the rule that says so.
    #[allow(clippy::type_complexity)]
    fn plan(&self) -> Result<(Vec<(VersionRow, i64)>, Vec<(VersionRow, i64)>)> {
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
            for rule in rules.iter().filter(|r| applies(r, &dataset)) {
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
                            if tx.is_tagged(v.id)?
                                || (rule.keep_inputs && tx.feeds_a_live_version(v.id)?)
                            {
                                continue;
                            }
                            if seen.insert(v.id) {
                                archive.push((v.clone(), rule.id));
                            }
                        }
                        VersionState::Archived => {
                            let Some(after) = rule.expire_after_s else {
                                continue;
                            };
                            if age < after || tx.is_tagged(v.id)? {
                                continue;
                            }
                            if seen.insert(v.id) {
                                expire.push((v.clone(), rule.id));
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
fn leaving(
    tx: &crate::catalog::Tx<'_>,
    versions: &[(VersionRow, i64)],
    eligible: impl Fn(&TieredFile) -> bool,
    keep_states: &[&str],
) -> Result<(Vec<VersionMove>, BTreeMap<i64, TieredFile>)> {
    let ids: Vec<i64> = versions.iter().map(|(v, _)| v.id).collect();
    let mut files_leaving = BTreeMap::new();
    let mut moves = Vec::with_capacity(versions.len());
    for (v, rule) in versions {
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

fn applies(rule: &Rule, dataset: &DatasetRef) -> bool {
    rule.zone.is_none_or(|z| z == dataset.zone)
        && glob::Pattern::new(&rule.dataset_glob).is_ok_and(|p| p.matches(&dataset.name))
}

/// Finish what an interrupted run left: a file the catalog already moved to the archive tier
/// still has its hot copy; a file the catalog marks deleted still has an object. Either is
/// removed once the catalog's side is confirmed. Returns how many objects were cleaned.
async fn finish_interrupted(lake: &Lake) -> Result<u64> {
    let (archived, deleted) = {
        let catalog = lake.catalog();
        let tx = catalog.reader();
        (tx.files_in_tier("archive")?, tx.files_in_tier("deleted")?)
    };
    let mut done = 0;
    for f in archived {
        if lake.storage().head(&f.path).await?.is_some() {
            // Delete the hot copy only once the archive copy is there and whole.
            let (sha, _) = lake.archive().hash(&f.path).await?;
            if sha == f.sha256 {
                lake.storage().delete(&f.path).await?;
                done += 1;
            }
        }
    }
    for f in deleted {
        for tier in [lake.archive(), lake.storage()] {
            if tier.head(&f.path).await?.is_some() {
                tier.delete(&f.path).await?;
                done += 1;
            }
        }
    }
    Ok(done)
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
