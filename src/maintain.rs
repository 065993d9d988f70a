//! Keeping storage and catalog in step: `gc` removes objects nothing references, `check`
//! compares the catalog with both tiers, `du` says where the bytes are.
//!
//! What is safe to delete is decided from storage first and the catalog second: objects are
//! listed, then one catalog snapshot says which are committed files, manifests, under a
//! registered write whose owner lives, or under a mover's lease. A write registers before its
//! first byte and a commit closes the record in the transaction that makes the files known, so
//! no object of a live write or a committed version can look like debris. Ages are measured on
//! the real clock (objects carry real modification times; `LAKE_NOW` never moves grace).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use crate::catalog::{TieredFile, WriteRow};
use crate::error::{Error, Result};
use crate::failpoint;
use crate::ident::DatasetRef;
use crate::lake::Lake;
use crate::storage::{ObjectInfo, Storage, Upload, layout};

/// An object in storage that no catalog row references.
#[derive(Debug, Clone, Serialize)]
pub struct Orphan {
    /// `hot` or `archive`.
    pub tier: &'static str,
    /// Its key under the tier's root.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: String,
    /// `object`; `staging`, a partial file a local write left behind (`key#N`); `upload`, an
    /// incomplete S3 multipart upload (its parts are billed, no listing shows them); or
    /// `spool`, a folder of input a stream or remote fetch spooled (tier `spool`, key its path).
    pub kind: &'static str,
    /// The S3 upload id, for `upload`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    /// Not deleted: younger than the grace period, or in flight (see `why`).
    pub kept: bool,
    /// Why it was kept or removed: `young`, `in_flight` (a live write or lease), `debris`.
    pub why: &'static str,
}

/// What `lake gc` did (or, with a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct GcReport {
    /// Nothing was deleted: the report is the plan.
    pub dry_run: bool,
    /// Objects younger than this many seconds were kept.
    pub grace_s: u64,
    /// Every unreferenced object found.
    pub orphans: Vec<Orphan>,
    /// Objects deleted.
    pub deleted: u64,
    /// Their bytes.
    pub bytes_deleted: u64,
    /// Writes under way, whose objects are never collected.
    pub writes_in_flight: u64,
    /// Records of dead writes whose objects are all gone, closed by this run.
    pub dead_writes_closed: u64,
}

/// What one catalog snapshot says of the listed objects.
struct Inventory {
    hot: BTreeSet<String>,
    cold: BTreeSet<String>,
    /// Key prefixes no one may collect: data prefixes of live writes, and the manifest prefixes
    /// of their datasets (a commit writes its manifest before the catalog row).
    protected: Vec<String>,
    /// Keys of files under a mover's lease, in either tier.
    moving: BTreeSet<String>,
    live_writes: u64,
    dead_writes: Vec<WriteRow>,
}

impl Inventory {
    fn is_protected(&self, key: &str) -> bool {
        let base = key.split_once('#').map_or(key, |(k, _)| k);
        self.moving.contains(base) || self.protected.iter().any(|p| base.starts_with(p.as_str()))
    }
}

/// Something `lake check` found.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `missing`, `size`, `sha256`, `manifest_missing`, `manifest_sha256`, `stray_copy`,
    /// `interrupted_move`, `dead_write`, `dataset_record` (a dataset's record in storage unlike
    /// the catalog; `--repair` writes it), `manifest_pending` (an erasure's amended manifest not yet
    /// written; `--repair` writes it), `delta_log` (a Delta log behind or unlike the catalog;
    /// `--repair` writes it again), `delta_stops` (where a log ends, and why: a note)
    pub kind: &'static str,
    /// The object concerned.
    pub key: String,
    /// `hot` or `archive`.
    pub tier: &'static str,
    /// What is wrong, in words.
    pub detail: String,
    /// `--repair` fixed it.
    pub repaired: bool,
}

/// What `lake check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Data files checked.
    pub files_checked: u64,
    /// Manifests checked.
    pub manifests_checked: u64,
    /// Every file's sha256 was compared, not only its size (`--verify-hashes`).
    pub hashes_verified: bool,
    /// What is wrong; integrity problems make `lake check` exit 3.
    pub problems: Vec<Problem>,
    /// Objects no catalog row references (`lake gc` removes them).
    pub orphans: u64,
    /// Problems that put data at stake and were not repaired.
    pub integrity_failures: u64,
    /// Writes under way now.
    pub in_flight_writes: u64,
    /// Files a live mover is moving now (not checked: their copies are the mover's).
    pub moves_in_progress: u64,
    /// Partial files and incomplete S3 uploads that crashed writes left (`lake gc` removes them).
    pub debris: u64,
    /// Moves of dead processes this run finished or undid (with `--repair`).
    pub resumed_moves: u64,
}

/// Bytes of one version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionUsage {
    /// The version.
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    /// Its lifecycle state.
    pub state: String,
    /// Bytes of its files, wherever they are.
    pub bytes: u64,
    /// Of those, in the hot tier.
    pub hot_bytes: u64,
    /// Of those, in the archive tier.
    pub archive_bytes: u64,
    /// Bytes of files no other version references: what archiving or expiring it frees.
    pub alone_bytes: u64,
}

/// Bytes of one dataset.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetUsage {
    /// The dataset.
    pub dataset: DatasetRef,
    /// Bytes in the hot tier (each file once, however many versions share it).
    pub hot_bytes: u64,
    /// Bytes in the archive tier.
    pub archive_bytes: u64,
    /// Per version.
    pub versions: Vec<VersionUsage>,
}

/// What `lake du` found.
#[derive(Debug, Clone, Serialize)]
pub struct DuReport {
    /// Per zone: (hot bytes, archive bytes).
    pub zones: BTreeMap<String, (u64, u64)>,
    /// Per dataset.
    pub datasets: Vec<DatasetUsage>,
    /// All hot bytes.
    pub hot_bytes: u64,
    /// All archive bytes.
    pub archive_bytes: u64,
}

impl Lake {
    /// The catalog's view of what is in flight and what is known, read in one snapshot.
    fn inventory(&self) -> Result<Inventory> {
        let now = chrono::Utc::now();
        let (files, manifests, writes, moves) = self.catalog().snapshot(|tx| {
            let (files, manifests) = tx.known_keys()?;
            Ok((files, manifests, tx.writes()?, tx.moves()?))
        })?;
        let hot = files
            .iter()
            .filter(|f| f.tier == "hot")
            .map(|f| f.path.clone())
            .chain(manifests)
            .collect();
        let cold = files
            .iter()
            .filter(|f| f.tier == "archive")
            .map(|f| f.path.clone())
            .collect();
        let (live, dead): (Vec<WriteRow>, Vec<WriteRow>) =
            writes.into_iter().partition(|w| w.owner.is_alive(now));
        let mut protected = Vec::new();
        for w in &live {
            protected.push(w.prefix.clone());
            if let Ok(d) = w.dataset.parse::<DatasetRef>() {
                protected.push(layout::manifest_prefix(&d));
            }
        }
        Ok(Inventory {
            hot,
            cold,
            protected,
            moving: moves.into_iter().map(|m| m.path).collect(),
            live_writes: live.len() as u64,
            dead_writes: dead,
        })
    }

    /// Objects in either tier that no catalog row references and no live work owns: leftovers
    /// of crashed or interrupted writes. Listed before the catalog is read (see module docs).
    async fn orphans(&self) -> Result<(Vec<Orphan>, Inventory)> {
        let mut listed = Vec::new();
        for (tier, storage) in [("hot", self.storage()), ("archive", self.archive())] {
            for o in list_lake_objects(storage).await? {
                listed.push((tier, "object", o, None));
            }
            for o in staging_files(storage)? {
                listed.push((tier, "staging", o, None));
            }
            for (key, u) in storage.incomplete_uploads().await? {
                let info = ObjectInfo {
                    key,
                    size: 0,
                    last_modified: u.initiated,
                    etag: None,
                };
                listed.push((tier, "upload", info, Some(u.id)));
            }
        }
        failpoint::hit("gc.listed")?;
        let inventory = self.inventory()?;
        let mut out = Vec::new();
        for (tier, kind, o, upload_id) in listed {
            let known = if tier == "hot" {
                &inventory.hot
            } else {
                &inventory.cold
            };
            if kind == "object" && known.contains(&o.key) {
                continue;
            }
            let in_flight = inventory.is_protected(&o.key);
            out.push(Orphan {
                tier,
                key: o.key,
                size: o.size,
                last_modified: crate::clock::timestamp(o.last_modified),
                kind,
                upload_id,
                kept: in_flight,
                why: if in_flight { "in_flight" } else { "debris" },
            });
        }
        Ok((out, inventory))
    }

    /// Delete objects nothing references and no live work owns, once older than `grace_s`
    /// seconds of real time; then close the records of dead writes that have nothing left.
    pub async fn gc(&self, grace_s: u64, dry_run: bool) -> Result<GcReport> {
        let now = chrono::Utc::now();
        let (mut orphans, inventory) = self.orphans().await?;
        let mut report = GcReport {
            dry_run,
            grace_s,
            orphans: Vec::new(),
            deleted: 0,
            bytes_deleted: 0,
            writes_in_flight: inventory.live_writes,
            dead_writes_closed: 0,
        };
        for o in &mut orphans {
            if o.kept {
                continue;
            }
            let modified = crate::clock::parse_timestamp(&o.last_modified).unwrap_or(now);
            if (now - modified).num_seconds() < grace_s as i64 {
                o.kept = true;
                o.why = "young";
                continue;
            }
            if !dry_run {
                failpoint::hit("gc.deleting")?;
                let storage = self.tier(o.tier);
                match (o.kind, &o.upload_id) {
                    ("staging", _) => remove_staging(storage, &o.key)?,
                    ("upload", Some(id)) => {
                        let upload = Upload {
                            key: storage.path(&o.key).to_string(),
                            id: id.clone(),
                            initiated: modified,
                        };
                        storage.abort_upload(&upload).await?
                    }
                    _ => storage.delete(&o.key).await?,
                }
            }
            report.deleted += 1;
            report.bytes_deleted += o.size;
        }
        self.collect_spool(now, grace_s, dry_run, &mut orphans, &mut report)?;
        if !dry_run {
            for w in &inventory.dead_writes {
                let left = orphans
                    .iter()
                    .any(|o| o.key.starts_with(&w.prefix) && o.kept);
                if !left && self.catalog().write(|tx| tx.remove_write(&w.id))? {
                    report.dead_writes_closed += 1;
                }
            }
            let me = self.owner()?;
            self.catalog().write(|tx| tx.remove_idle_owners(&me))?;
        }
        report.orphans = orphans;
        Ok(report)
    }

    /// The spool folders of processes that are gone (a stream or a remote fetch killed part
    /// way), whatever their age; anything else in the spool once older than the grace period.
    fn collect_spool(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        grace_s: u64,
        dry_run: bool,
        orphans: &mut Vec<Orphan>,
        report: &mut GcReport,
    ) -> Result<()> {
        let root = self.spool_root();
        let Ok(entries) = std::fs::read_dir(&root) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or(now);
            let old = (now - modified).num_seconds() >= grace_s as i64;
            let (kept, why) = match crate::owner::spool_owner_gone(&name) {
                Some(true) => (false, "debris"),
                Some(false) => (true, "in_flight"),
                None if old => (false, "debris"),
                None => (true, "young"),
            };
            let size = tree_size(&path);
            if !kept && !dry_run {
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
            }
            if !kept {
                report.deleted += 1;
                report.bytes_deleted += size;
            }
            orphans.push(Orphan {
                tier: "spool",
                key: path.display().to_string(),
                size,
                last_modified: crate::clock::timestamp(modified),
                kind: "spool",
                upload_id: None,
                kept,
                why,
            });
        }
        Ok(())
    }

    /// Compare the catalog with storage. With `verify_hashes`, read every object and compare its
    /// sha256; with `repair`, fix what has one right answer (a file whose verified copy sits in
    /// the other tier; a leftover copy of a file already moved).
    pub async fn check(&self, verify_hashes: bool, repair: bool) -> Result<CheckReport> {
        let resumed = if repair {
            self.resume_moves().await?
        } else {
            0
        };
        let now = chrono::Utc::now();
        let (files, versions, moves) = self
            .catalog()
            .snapshot(|tx| Ok((tx.known_keys()?.0, tx.all_versions()?, tx.moves()?)))?;
        let leases: BTreeMap<i64, bool> = moves
            .iter()
            .map(|m| (m.file_id, m.owner.is_alive(now)))
            .collect();
        let mut report = CheckReport {
            files_checked: 0,
            manifests_checked: 0,
            hashes_verified: verify_hashes,
            problems: Vec::new(),
            orphans: 0,
            integrity_failures: 0,
            in_flight_writes: 0,
            moves_in_progress: 0,
            debris: 0,
            resumed_moves: resumed,
        };
        for f in files.iter().filter(|f| f.tier != "deleted") {
            report.files_checked += 1;
            match leases.get(&f.id) {
                // A live mover owns this file and both its copies: nothing here is ours to judge.
                Some(true) => {
                    report.moves_in_progress += 1;
                    continue;
                }
                Some(false) => {
                    report.problems.push(Problem {
                        kind: "interrupted_move",
                        key: f.path.clone(),
                        tier: tier_name(&f.tier),
                        detail: "a move whose process is gone; `lake check --repair` or the next `lake archive` finishes it".into(),
                        repaired: false,
                    });
                    continue;
                }
                None => {}
            }
            let (home, other, tier, other_tier) = if f.tier == "hot" {
                (self.storage(), self.archive(), "hot", "archive")
            } else {
                (self.archive(), self.storage(), "archive", "hot")
            };
            if let Some(p) = self.check_object(home, tier, f, verify_hashes).await? {
                let mut p = p;
                if repair && p.kind == "missing" && other.head(&f.path).await?.is_some() {
                    // The one right answer: a copy in the other tier that hashes as recorded.
                    if self.repair_from(f, other_tier, tier).await? {
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
                    // Under a lease, re-checked: a mover that started since is left alone.
                    let lease = self.claim(std::slice::from_ref(f), "repair", tier, other_tier)?;
                    p.repaired = !lease.files().is_empty();
                    lease.abandon().await;
                }
                report.problems.push(p);
            }
        }
        // An erasure stopped between its commit and its manifest writes: the catalog holds the
        // amended manifests, which `--repair` (or the next `lake erase`) writes.
        let pending: BTreeMap<i64, String> = if repair {
            self.write_pending_manifests().await?;
            BTreeMap::new()
        } else {
            let catalog = self.catalog();
            let tx = catalog.reader();
            tx.pending_manifests()?
                .into_iter()
                .map(|p| (p.version.id, p.version.reference().to_string()))
                .collect()
        };
        for v in &versions {
            report.manifests_checked += 1;
            if let Some(reference) = pending.get(&v.id) {
                report.problems.push(Problem {
                    kind: "manifest_pending",
                    key: v.manifest_key.clone(),
                    tier: "hot",
                    detail: format!(
                        "{reference} was amended by an erasure that stopped before writing its manifest; `lake check --repair` or the next `lake erase` writes it"
                    ),
                    repaired: false,
                });
                continue;
            }
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
        if self.delta_enabled() {
            let mut datasets: Vec<DatasetRef> =
                versions.iter().map(|v| v.dataset.clone()).collect();
            datasets.sort_by_key(|d| d.to_string());
            datasets.dedup();
            for d in &datasets {
                for (kind, detail) in self.check_delta(d).await? {
                    let mut p = Problem {
                        kind,
                        key: crate::delta::log_prefix(d),
                        tier: "hot",
                        detail,
                        repaired: false,
                    };
                    if repair && kind == "delta_log" {
                        // The log is derived: written again from the catalog, it agrees.
                        self.sync_delta(d, true).await?;
                        p.repaired = self
                            .check_delta(d)
                            .await?
                            .iter()
                            .all(|(k, _)| *k != "delta_log");
                    }
                    report.problems.push(p);
                }
            }
        }
        // Each dataset's record in storage (tags, states, annotations) follows the catalog.
        let mut datasets: Vec<DatasetRef> = versions.iter().map(|v| v.dataset.clone()).collect();
        datasets.sort_by_key(|d| d.to_string());
        datasets.dedup();
        for d in &datasets {
            if self.record_is_current(d).await? {
                continue;
            }
            let mut p = Problem {
                kind: "dataset_record",
                key: layout::dataset_record(d),
                tier: "hot",
                detail: format!(
                    "the record of {} (tags, lifecycle states, annotations) differs from the catalog; `lake check --repair` writes it",
                    d.dataset_name()
                ),
                repaired: false,
            };
            if repair {
                self.write_dataset_record(d).await?;
                p.repaired = true;
            }
            report.problems.push(p);
        }
        let (orphans, inventory) = self.orphans().await?;
        report.in_flight_writes = inventory.live_writes;
        report.orphans = orphans.iter().filter(|o| !o.kept).count() as u64;
        report.debris = orphans
            .iter()
            .filter(|o| o.kind != "object" && !o.kept)
            .count() as u64;
        for w in &inventory.dead_writes {
            report.problems.push(Problem {
                kind: "dead_write",
                key: w.prefix.clone(),
                tier: "hot",
                detail: format!(
                    "a {} of `{}` started {} by pid {} on {} that never finished; `lake gc` removes its objects",
                    w.operation, w.dataset, w.started_at, w.owner.pid, w.owner.host
                ),
                repaired: false,
            });
        }
        report.integrity_failures = report
            .problems
            .iter()
            .filter(|p| {
                !p.repaired
                    && !matches!(
                        p.kind,
                        "stray_copy"
                            | "dead_write"
                            | "interrupted_move"
                            | "delta_log"
                            | "delta_stops"
                            | "manifest_pending"
                            | "dataset_record"
                    )
            })
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

fn tier_name(tier: &str) -> &'static str {
    if tier == "archive" { "archive" } else { "hot" }
}

/// Partial files of local writes that never completed (`key#N`; object listings hide them).
fn staging_files(storage: &Storage) -> Result<Vec<ObjectInfo>> {
    let Some(root) = storage.local_dir() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for zone in ["bronze", "silver", "gold", "_lake"] {
        walk_staging(root, &root.join(zone), &mut out)?;
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Staged writes (`name#N`) under `dir`; unreadable entries are passed over, as gc looks again.
fn walk_staging(root: &Path, dir: &Path, out: &mut Vec<ObjectInfo>) -> Result<()> {
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let staged = name
            .rsplit_once('#')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let Ok(meta) = entry.metadata() else { continue };
        if !staged {
            continue;
        }
        let key = entry
            .path()
            .strip_prefix(root)
            .map(|k| k.to_string_lossy().replace('\\', "/"))
            .unwrap_or(name);
        out.push(ObjectInfo {
            key,
            size: meta.len(),
            last_modified: meta
                .modified()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or_else(|_| chrono::Utc::now()),
            etag: None,
        });
    }
    Ok(())
}

/// Bytes of the files under `path` (or of the file itself), links not followed.
fn tree_size(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .flatten()
        .filter(|e| !e.file_type().is_dir())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn remove_staging(storage: &Storage, key: &str) -> Result<()> {
    let Some(root) = storage.local_dir() else {
        return Ok(());
    };
    let path = root.join(key);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// The objects `lake` writes under a root: zone data and `_lake/`.
async fn list_lake_objects(storage: &Storage) -> Result<Vec<ObjectInfo>> {
    let mut out = Vec::new();
    for prefix in ["bronze/", "silver/", "gold/", "_lake/"] {
        // A dataset's Delta log (`<zone>/<name>/_delta_log/`) is derived from the catalog and
        // no catalog row names its objects: it is never debris (`lake check` compares it).
        out.extend(
            storage
                .list(prefix)
                .await?
                .into_iter()
                .filter(|o| o.key.split('/').nth(2) != Some(layout::DELTA_LOG))
                // Dataset records are derived from the catalog too (`lake check` compares them).
                .filter(|o| !o.key.starts_with(layout::DATASET_RECORDS)),
        );
    }
    Ok(out)
}
