//! Lock files: exact versions a training job reads, checked byte for byte years later.
//!
//! `lake.lock` is TOML, one `[[pin]]` per dataset, sorted, with each version's digest (the
//! sha256 of its manifest) and manifest key; the same file lets Python read the version with no
//! `lake` installed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::catalog::VersionState;
use crate::error::{Error, Result};
use crate::format::Manifest;
use crate::format::hash::sha256_hex;
use crate::ident::DatasetRef;
use crate::lake::Lake;

/// One version a lock file pins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The dataset, `zone.name`.
    pub dataset: String,
    /// The version number.
    pub version: u64,
    /// The exact ref, `zone.name@vN`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// What was asked for: a tag, a time, `latest`.
    pub requested: String,
    /// The sha256 of the version's manifest.
    pub digest: String,
    /// The manifest's key under the root.
    pub manifest: String,
    /// The version's rows.
    pub rows: u64,
}

/// A `lake.lock`: the exact versions a training run or a report reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockFile {
    /// Every pinned version, in dataset order.
    #[serde(default)]
    pub pin: Vec<Pin>,
}

impl LockFile {
    /// Read a lock file.
    pub fn read(path: &Path) -> Result<LockFile> {
        if !path.exists() {
            return Ok(LockFile::default());
        }
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| Error::ConfigParse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Write the lock file (deterministic TOML: the same pins give the same bytes).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut sorted = self.clone();
        sorted.pin.sort_by(|a, b| a.dataset.cmp(&b.dataset));
        let body = toml::to_string(&sorted).expect("a lock file serializes");
        let text = format!(
            "# Exact dataset versions, written by `lake pin`; `lake verify` checks them.\n{body}"
        );
        std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// How a lock file is named in the catalog's holds: its absolute path.
fn lock_key(path: &Path) -> String {
    let abs = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir
            .canonicalize()
            .map(|d| d.join(path.file_name().unwrap_or_default()))
            .unwrap_or_else(|_| path.to_path_buf()),
        None => std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf()),
    };
    abs.display().to_string()
}

/// Something a lock pins that cannot be read as pinned.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyProblem {
    /// The pinned ref.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The object (manifest or data file) at fault.
    pub object: String,
    /// What is wrong with it: missing, resized, or another sha256.
    pub problem: String,
}

/// What `lake verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Pins checked.
    pub pins: usize,
    /// Files checked.
    pub files: usize,
    /// What cannot be read as pinned; empty when the lock verifies.
    pub problems: Vec<VerifyProblem>,
}

impl Lake {
    /// Resolve `refs` to exact versions and record them in the lock file at `path`. Each pinned
    /// version is held in the catalog for this lock file (so lifecycle rules never archive or
    /// expire it, as with a tag); re-pinning a dataset releases the lock's hold on its old version.
    pub fn pin(&self, refs: &[DatasetRef], path: &Path) -> Result<Vec<Pin>> {
        let mut lock = LockFile::read(path)?;
        let mut pinned = Vec::new();
        let lock_path = lock_key(path);
        let at = crate::clock::timestamp(self.clock().now());
        for r in refs {
            let v = self.resolve(r)?;
            self.catalog().write(|tx| {
                tx.add_hold(v.id, &lock_path, &at, self.actor())?;
                tx.release_holds(v.dataset_id, &lock_path, v.id)?;
                tx.audit(
                    &at,
                    self.actor(),
                    "pin",
                    &v.reference().to_string(),
                    &serde_json::json!({ "lock": lock_path }),
                )
            })?;
            let pin = Pin {
                dataset: v.dataset.to_string(),
                version: v.version.0,
                reference: v.reference().to_string(),
                requested: r.to_string(),
                digest: v.digest.clone(),
                manifest: v.manifest_key.clone(),
                rows: v.rows,
            };
            lock.pin.retain(|p| p.dataset != pin.dataset);
            lock.pin.push(pin.clone());
            pinned.push(pin);
        }
        lock.write(path)?;
        Ok(pinned)
    }

    /// Check every pinned version: the catalog agrees, the manifest hashes to the digest, and
    /// every file exists with the manifest's size and sha256.
    pub async fn verify(&self, path: &Path) -> Result<VerifyReport> {
        let lock = LockFile::read(path)?;
        let mut report = VerifyReport {
            pins: lock.pin.len(),
            files: 0,
            problems: Vec::new(),
        };
        for pin in &lock.pin {
            let mut problem = |object: &str, problem: String| {
                report.problems.push(VerifyProblem {
                    reference: pin.reference.clone(),
                    object: object.to_string(),
                    problem,
                })
            };
            let r: DatasetRef = pin.reference.parse()?;
            let state = match self.resolve(&r) {
                Ok(v) if v.digest != pin.digest => {
                    problem(
                        "catalog",
                        format!(
                            "the catalog's digest is {}, the lock's {}",
                            v.digest, pin.digest
                        ),
                    );
                    continue;
                }
                Ok(v) => v.state,
                Err(e) => {
                    problem("catalog", e.to_string());
                    continue;
                }
            };
            let bytes = match self.storage().get(&pin.manifest).await {
                Ok(b) => b,
                Err(e) => {
                    problem(&pin.manifest, format!("missing: {e}"));
                    continue;
                }
            };
            let sha = sha256_hex(&bytes);
            if sha != pin.digest {
                problem(
                    &pin.manifest,
                    format!("sha256 {sha}, pinned {}", pin.digest),
                );
                continue;
            }
            let manifest = Manifest::decode(&bytes).map_err(|e| Error::Integrity {
                path: self.storage().object_url(&pin.manifest),
                problem: format!("not a manifest: {e}"),
            })?;
            if state == VersionState::Expired {
                problem(&pin.reference, "expired: its data was deleted".into());
                continue;
            }
            if state == VersionState::Archived {
                // Its bytes may all be whole in the archive tier, but no reader can use them.
                problem(
                    &pin.reference,
                    format!(
                        "archived: not readable until `lake restore {}`",
                        pin.reference
                    ),
                );
            }
            let tier = if state == VersionState::Archived {
                self.archive()
            } else {
                self.storage()
            };
            for f in &manifest.files {
                report.files += 1;
                let hot = self.storage();
                // An archived version may still have files a live version keeps hot.
                let found = match tier.head(&f.path).await? {
                    Some(_) => Some(tier),
                    None if !std::ptr::eq(tier, hot) => hot.head(&f.path).await?.map(|_| hot),
                    None => None,
                };
                let Some(store) = found else {
                    report.problems.push(VerifyProblem {
                        reference: pin.reference.clone(),
                        object: f.path.clone(),
                        problem: "missing".into(),
                    });
                    continue;
                };
                let (sha, size) = store.hash(&f.path).await?;
                if sha != f.sha256 || size != f.size {
                    report.problems.push(VerifyProblem {
                        reference: pin.reference.clone(),
                        object: f.path.clone(),
                        problem: format!(
                            "sha256 {sha} ({size} bytes), the manifest says {} ({} bytes)",
                            f.sha256, f.size
                        ),
                    });
                }
            }
        }
        Ok(report)
    }

    /// Download a version's manifest and files into `dir` (the root's layout), verified.
    pub async fn get(&self, r: &DatasetRef, dir: &Path) -> Result<(Manifest, u64)> {
        let (version, manifest, bytes) = self.manifest(r).await?;
        if version.state != VersionState::Active {
            return Err(Error::VersionArchived {
                version: version.reference().to_string(),
                state: version.state.as_str(),
            });
        }
        let local = crate::storage::Storage::open(
            &dir.display().to_string(),
            Path::new("."),
            &Default::default(),
        )?;
        let mut total = 0;
        for f in &manifest.files {
            self.storage()
                .copy_verified(&local, &f.path, &f.sha256)
                .await?;
            total += f.size;
        }
        let key = &version.manifest_key;
        if local.head(key).await?.is_none() {
            local.put_new(key, bytes::Bytes::from(bytes)).await?;
        }
        Ok((manifest, total))
    }
}
