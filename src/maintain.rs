//! Keeping storage and catalog in step: `gc` removes objects nothing references, `check`
//! compares the catalog with both tiers, `du` says where the bytes are.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::TieredFile;
use crate::error::Result;
use crate::ident::DatasetRef;
use crate::lake::Lake;
use crate::storage::{ObjectInfo, Storage};

#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    pub tier: &'static str,
    pub key: String,
    pub size: u64,
    pub last_modified: String,
    /// Younger than the grace period: perhaps a write in progress, so kept.
    pub kept: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub grace_s: u64,
    pub orphans: Vec<Orphan>,
    pub deleted: u64,
    pub bytes_deleted: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `missing`, `size`, `sha256`, `manifest_missing`, `manifest_sha256`, `stray_copy`
    pub kind: &'static str,
    pub key: String,
    pub tier: &'static str,
    pub detail: String,
    pub repaired: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub files_checked: u64,
    pub manifests_checked: u64,
    pub hashes_verified: bool,
    pub problems: Vec<Problem>,
    /// Objects no catalog row references (`lake gc` removes them).
    pub orphans: u64,
    /// Problems that put data at stake and were not repaired.
    pub integrity_failures: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionUsage {
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    pub state: String,
    pub bytes: u64,
    pub hot_bytes: u64,
    pub archive_bytes: u64,
    /// Bytes of files no other version references: what archiving or expiring it frees.
    pub alone_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatasetUsage {
    pub dataset: DatasetRef,
    pub hot_bytes: u64,
    pub archive_bytes: u64,
    pub versions: Vec<VersionUsage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DuReport {
    pub zones: BTreeMap<String, (u64, u64)>,
    pub datasets: Vec<DatasetUsage>,
    pub hot_bytes: u64,
    pub archive_bytes: u64,
}

impl Lake {
    /// Objects in either tier that no catalog row references, from crashed or interrupted writes.
    async fn orphans(&self) -> Result<Vec<(&'static str, ObjectInfo)>> {
        let (files, manifests) = self.catalog().reader().known_keys()?;
        let hot: BTreeSet<&str> = files
            .iter()
            .filter(|f| f.tier == "hot")
            .map(|f| f.path.as_str())
            .chain(manifests.iter().map(String::as_str))
            .collect();
        let cold: BTreeSet<&str> = files
            .iter()
            .filter(|f| f.tier == "archive")
            .map(|f| f.path.as_str())
            .collect();
        let mut out = Vec::new();
        for (tier, storage, known) in [
            ("hot", self.storage(), &hot),
            ("archive", self.archive(), &cold),
        ] {
            for o in list_lake_objects(storage).await? {
                if !known.contains(o.key.as_str()) {
                    out.push((tier, o));
                }
            }
        }
        Ok(out)
    }

    /// Delete objects nothing references once they are older than `grace_s` seconds.
    pub async fn gc(&self, grace_s: u64, dry_run: bool) -> Result<GcReport> {
        let now = self.clock().now();
        let mut report = GcReport {
            dry_run,
            grace_s,
            orphans: Vec::new(),
            deleted: 0,
            bytes_deleted: 0,
        };
        for (tier, o) in self.orphans().await? {
            let age = (now - o.last_modified).num_seconds();
            let kept = age < grace_s as i64;
            if !kept && !dry_run {
                let storage = if tier == "hot" {
                    self.storage()
                } else {
                    self.archive()
                };
                storage.delete(&o.key).await?;
            }
            if !kept {
                report.deleted += 1;
                report.bytes_deleted += o.size;
            }
            report.orphans.push(Orphan {
                tier,
                key: o.key,
                size: o.size,
                last_modified: crate::clock::timestamp(o.last_modified),
                kept,
            });
        }
        Ok(report)
    }

    /// Compare the catalog with storage. With `verify_hashes`, read every object and compare its
    /// sha256; with `repair`, fix what has one right answer (a file whose verified copy sits in
    /// the other tier; a leftover copy of a file already moved).
    pub async fn check(&self, verify_hashes: bool, repair: bool) -> Result<CheckReport> {
        let (files, versions) = {
            let catalog = self.catalog();
            let tx = catalog.reader();
            (tx.known_keys()?.0, tx.all_versions()?)
        };
        let mut report = CheckReport {
            files_checked: 0,
            manifests_checked: 0,
            hashes_verified: verify_hashes,
            problems: Vec::new(),
            orphans: 0,
            integrity_failures: 0,
        };
        for f in files.iter().filter(|f| f.tier != "deleted") {
            report.files_checked += 1;
            let (home, other, tier, other_tier) = if f.tier == "hot" {
                (self.storage(), self.archive(), "hot", "archive")
            } else {
                (self.archive(), self.storage(), "archive", "hot")
            };
            if let Some(p) = self.check_object(home, tier, f, verify_hashes).await? {
                let mut p = p;
                if repair && p.kind == "missing" && other.head(&f.path).await?.is_some() {
                    // The one right answer: a copy in the other tier that hashes as recorded.
                    if other.copy_verified(home, &f.path, &f.sha256).await.is_ok() {
                        other.delete(&f.path).await?;
                        p.repaired = true;
                        p.detail.push_str(&format!(
                            "; copied back from the {other_tier} tier, verified"
                        ));
                    }
                }
                report.problems.push(p);
            } else if other.head(&f.path).await?.is_some() {
                let mut p = Problem {
                    kind: "stray_copy",
                    key: f.path.clone(),
                    tier: other_tier,
                    detail: format!(
                        "a second copy in the {other_tier} tier, left by an interrupted move"
                    ),
                    repaired: false,
                };
                if repair {
                    other.delete(&f.path).await?;
                    p.repaired = true;
                }
                report.problems.push(p);
            }
        }
        for v in &versions {
            report.manifests_checked += 1;
            match self.storage().head(&v.manifest_key).await? {
                None => report.problems.push(Problem {
                    kind: "manifest_missing",
                    key: v.manifest_key.clone(),
                    tier: "hot",
                    detail: format!(
                        "the manifest of {} is gone; its digest was {}",
                        v.reference(),
                        v.digest
                    ),
                    repaired: false,
                }),
                Some(_) if verify_hashes => {
                    let (sha, _) = self.storage().hash(&v.manifest_key).await?;
                    if sha != v.digest {
                        report.problems.push(Problem {
                            kind: "manifest_sha256",
                            key: v.manifest_key.clone(),
                            tier: "hot",
                            detail: format!(
                                "the manifest of {} hashes to {sha}, its digest is {}",
                                v.reference(),
                                v.digest
                            ),
                            repaired: false,
                        });
                    }
                }
                Some(_) => {}
            }
        }
        report.orphans = self.orphans().await?.len() as u64;
        report.integrity_failures = report
            .problems
            .iter()
            .filter(|p| !p.repaired && p.kind != "stray_copy")
            .count() as u64;
        Ok(report)
    }

    async fn check_object(
        &self,
        storage: &Storage,
        tier: &'static str,
        f: &TieredFile,
        verify: bool,
    ) -> Result<Option<Problem>> {
        let problem = |kind, detail: String| Problem {
            kind,
            key: f.path.clone(),
            tier,
            detail,
            repaired: false,
        };
        let Some(info) = storage.head(&f.path).await? else {
            return Ok(Some(problem("missing", format!("not in the {tier} tier"))));
        };
        if info.size != f.size {
            return Ok(Some(problem(
                "size",
                format!("{} bytes, the catalog recorded {}", info.size, f.size),
            )));
        }
        if verify {
            let (sha, _) = storage.hash(&f.path).await?;
            if sha != f.sha256 {
                return Ok(Some(problem(
                    "sha256",
                    format!("sha256 {sha}, the catalog recorded {}", f.sha256),
                )));
            }
        }
        Ok(None)
    }

    /// Bytes per zone, dataset and version, hot and archive.
    pub fn du(&self, only: &[DatasetRef]) -> Result<DuReport> {
        let catalog = self.catalog();
        let tx = catalog.reader();
        let mut report = DuReport {
            zones: BTreeMap::new(),
            datasets: Vec::new(),
            hot_bytes: 0,
            archive_bytes: 0,
        };
        let mut users: BTreeMap<i64, u64> = BTreeMap::new();
        let mut per_version = Vec::new();
        for (id, dataset) in tx.dataset_ids()? {
            if !only.is_empty() && !only.iter().any(|d| d.dataset() == dataset) {
                continue;
            }
            let mut versions = tx.versions(id)?;
            versions.reverse();
            let mut rows = Vec::new();
            for v in versions {
                let files = tx.tiered_files(v.id)?;
                for f in &files {
                    *users.entry(f.id).or_default() += 1;
                }
                rows.push((v, files));
            }
            per_version.push((dataset, rows));
        }
        for (dataset, rows) in per_version {
            let mut seen = BTreeSet::new();
            let mut usage = DatasetUsage {
                dataset: dataset.clone(),
                hot_bytes: 0,
                archive_bytes: 0,
                versions: Vec::new(),
            };
            for (v, files) in rows {
                let sum = |tier: &str| {
                    files
                        .iter()
                        .filter(|f| f.tier == tier)
                        .map(|f| f.size)
                        .sum::<u64>()
                };
                for f in &files {
                    if seen.insert(f.id) {
                        match f.tier.as_str() {
                            "hot" => usage.hot_bytes += f.size,
                            "archive" => usage.archive_bytes += f.size,
                            _ => {}
                        }
                    }
                }
                usage.versions.push(VersionUsage {
                    reference: v.reference(),
                    state: v.state.as_str().to_string(),
                    bytes: files
                        .iter()
                        .filter(|f| f.tier != "deleted")
                        .map(|f| f.size)
                        .sum(),
                    hot_bytes: sum("hot"),
                    archive_bytes: sum("archive"),
                    alone_bytes: files
                        .iter()
                        .filter(|f| f.tier != "deleted" && users.get(&f.id) == Some(&1))
                        .map(|f| f.size)
                        .sum(),
                });
            }
            let zone = report.zones.entry(dataset.zone.to_string()).or_default();
            zone.0 += usage.hot_bytes;
            zone.1 += usage.archive_bytes;
            report.hot_bytes += usage.hot_bytes;
            report.archive_bytes += usage.archive_bytes;
            report.datasets.push(usage);
        }
        Ok(report)
    }
}

/// The objects `lake` writes under a root: zone data and `_lake/`.
async fn list_lake_objects(storage: &Storage) -> Result<Vec<ObjectInfo>> {
    let mut out = Vec::new();
    for prefix in ["bronze/", "silver/", "gold/", "_lake/"] {
        out.extend(storage.list(prefix).await?);
    }
    Ok(out)
}
