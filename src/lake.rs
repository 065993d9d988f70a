//! `Lake`: one handle over a project's storage, archive tier, catalog and clock.
//!
//! It also owns the commit protocol every writing operation shares: data objects first (done by
//! the operation), then one catalog transaction that numbers the version, writes its manifest
//! at a fresh key and inserts the catalog rows. Only that commit makes a version visible.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use arrow::datatypes::Schema;
use bytes::Bytes;

use crate::catalog::{
    Catalog, ColumnRow, FileRow, NewVersion, SchemaChange, SourceRow, Tx, VersionRow,
};
use crate::clock::{self, Clock};
use crate::config::{self, CONFIG_FILE, Config};
use crate::error::{Error, Result};
use crate::format::manifest::{Input, MANIFEST_FORMAT, Manifest, Operation};
use crate::format::schema;
use crate::ident::{DatasetRef, Version};
use crate::storage::{self, Storage, layout};

/// Progress of a long operation, for a caller that shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressEvent {
    /// Work of this many bytes begins.
    Started {
        total_bytes: u64,
    },
    /// This many more bytes are done.
    Advanced {
        bytes: u64,
    },
    Finished,
}

pub type ProgressFn = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

#[derive(Debug)]
pub struct Lake {
    dir: PathBuf,
    config: Config,
    storage: Storage,
    archive: Storage,
    catalog: Mutex<Catalog>,
    clock: Clock,
    actor: String,
}

impl Lake {
    /// Create a lake project in `dir`: `lake.toml` and a migrated catalog. An existing project
    /// is an error, never a reset.
    pub fn init(dir: &Path, config: Config) -> Result<PathBuf> {
        let config_path = dir.join(CONFIG_FILE);
        if config_path.exists() {
            return Err(Error::LakeExists { path: config_path });
        }
        let catalog_path = dir.join(&config.lake.catalog);
        if catalog_path.exists() {
            return Err(Error::LakeExists { path: catalog_path });
        }
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        // Check both tiers parse and answer before anything is written.
        for url in [&config.lake.root, &config.lake.archive] {
            let storage = Storage::open(url, dir, &config.s3)?;
            run_blocking(storage.check())?;
        }
        Catalog::open(&catalog_path, true)?;
        std::fs::write(&config_path, config.to_toml()).map_err(|source| Error::Io {
            path: config_path.clone(),
            source,
        })?;
        Ok(config_path)
    }

    /// Open the project whose `lake.toml` is in `start` or the nearest parent.
    pub fn open(start: &Path) -> Result<Lake> {
        let dir = config::find_project(start)?;
        let config = Config::load(&dir.join(CONFIG_FILE))?;
        let storage = Storage::open(&config.lake.root, &dir, &config.s3)?;
        let archive = Storage::open(&config.lake.archive, &dir, &config.s3)?;
        let catalog = Catalog::open(&dir.join(&config.lake.catalog), false)?;
        Ok(Lake::from_parts(dir, config, storage, archive, catalog))
    }

    /// Assemble a lake from parts (tests use in-memory storage and catalog).
    pub fn from_parts(
        dir: PathBuf,
        config: Config,
        storage: Storage,
        archive: Storage,
        catalog: Catalog,
    ) -> Lake {
        Lake {
            dir,
            config,
            storage,
            archive,
            catalog: Mutex::new(catalog),
            clock: Clock::from_env(),
            actor: actor_from_env(),
        }
    }

    /// An in-memory lake for tests.
    pub fn in_memory() -> Result<Lake> {
        Ok(Lake::from_parts(
            PathBuf::from("."),
            Config::new(Some("memory://".into()), Some("memory://".into())),
            Storage::in_memory(),
            Storage::in_memory(),
            Catalog::open_in_memory()?,
        ))
    }

    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Lake {
        self.clock = clock;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn storage(&self) -> &Storage {
        &self.storage
    }
    pub fn archive(&self) -> &Storage {
        &self.archive
    }
    pub fn clock(&self) -> Clock {
        self.clock
    }
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The catalog, locked for this thread.
    pub fn catalog(&self) -> MutexGuard<'_, Catalog> {
        self.catalog
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Commit a new version of `dataset` whose data objects are already in storage.
    ///
    /// `plan` runs inside the write transaction and sees the dataset's latest version as it is
    /// now (a concurrent writer may have committed since the operation started); it returns the
    /// version's content. The manifest is written at the new number's key before the catalog
    /// rows; a manifest left there by a writer that crashed before committing is set aside.
    /// `record` runs in the same transaction once the version row exists, for rows that name it
    /// (lineage, runs, checks).
    pub(crate) async fn commit(
        &self,
        dataset: &DatasetRef,
        plan: impl FnOnce(&Tx<'_>, Option<&VersionRow>) -> Result<Draft>,
        record: impl FnOnce(&Tx<'_>, &VersionRow) -> Result<()>,
    ) -> Result<Committed> {
        let handle = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| {
            let mut catalog = self.catalog();
            catalog.write(|tx| {
                let latest = match tx.find_dataset(dataset)? {
                    Some(row) => tx.latest_version(row.id)?,
                    None => None,
                };
                let draft = plan(tx, latest.as_ref())?;
                let version = Version(latest.as_ref().map_or(1, |v| v.version.0 + 1));
                let created_at = clock::timestamp(self.clock.now());
                let mut files = draft.files;
                files.sort_by(|a, b| a.path.cmp(&b.path));
                let manifest = Manifest {
                    lake_manifest: MANIFEST_FORMAT,
                    dataset: dataset.dataset_name(),
                    version: version.0,
                    created_at: created_at.clone(),
                    operation: draft.operation,
                    inputs: draft.inputs,
                    schema: schema::schema_json(&draft.schema),
                    rows: files.iter().map(|f| f.rows).sum(),
                    bytes: files.iter().map(|f| f.size).sum(),
                    files: files
                        .iter()
                        .map(|f| crate::format::manifest::ManifestFile {
                            path: f.path.clone(),
                            size: f.size,
                            sha256: f.sha256.clone(),
                            rows: f.rows,
                            row_groups: f.row_groups.clone(),
                        })
                        .collect(),
                };
                let (bytes, digest) = manifest.encode();
                let key = layout::manifest(dataset, version);
                handle.block_on(self.put_manifest(dataset, version, &key, Bytes::from(bytes)))?;
                let schema_json = manifest.schema.to_string();
                let columns: Vec<ColumnRow> = schema::columns(&draft.schema)
                    .into_iter()
                    .map(|c| ColumnRow {
                        name: c.name,
                        data_type: c.data_type,
                        nullable: c.nullable,
                    })
                    .collect();
                let row = tx.insert_version(&NewVersion {
                    dataset: dataset.dataset(),
                    version,
                    digest: digest.clone(),
                    manifest_key: key,
                    schema_json,
                    columns,
                    operation: draft.operation_name.to_string(),
                    mode: draft.mode.clone(),
                    created_at: created_at.clone(),
                    created_by: self.actor.clone(),
                    files,
                    sources: draft.sources,
                    changes: draft.changes.clone(),
                })?;
                record(tx, &row)?;
                tx.reindex(Some(row.dataset_id))?;
                tx.audit(
                    &created_at,
                    &self.actor,
                    draft.operation_name,
                    &row.reference().to_string(),
                    &serde_json::json!({ "digest": digest, "rows": row.rows, "files": row.file_count }),
                )?;
                Ok(Committed {
                    version: row,
                    changes: draft.changes,
                })
            })
        })
    }

    async fn put_manifest(
        &self,
        dataset: &DatasetRef,
        version: Version,
        key: &str,
        bytes: Bytes,
    ) -> Result<()> {
        match self.storage.put_new(key, bytes.clone()).await {
            Err(e) if storage::is_already_exists(&e) => {
                // We hold the catalog's write lock and the catalog has no such version: whatever
                // is at this key was written by a writer that never committed. Keep it aside.
                let stale = layout::stale_manifest(dataset, version, &layout::new_write_id());
                self.storage.copy(key, &stale).await?;
                self.storage.delete(key).await?;
                tracing::warn!(key, stale, "set aside an uncommitted manifest");
                self.storage.put_new(key, bytes).await
            }
            other => other,
        }
    }
}

/// What an operation commits, decided against the latest version inside the transaction.
pub(crate) struct Draft {
    pub operation_name: &'static str,
    pub operation: Operation,
    pub mode: Option<String>,
    pub inputs: Vec<Input>,
    pub schema: Schema,
    /// Every file the version references.
    pub files: Vec<FileRow>,
    pub sources: Vec<SourceRow>,
    pub changes: Vec<SchemaChange>,
}

pub(crate) struct Committed {
    pub version: VersionRow,
    pub changes: Vec<SchemaChange>,
}

/// Run a storage future from synchronous code, inside a runtime or not.
fn run_blocking<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => tokio::task::block_in_place(|| handle.block_on(future)),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start a runtime: {e}")))?
            .block_on(future),
    }
}

fn actor_from_env() -> String {
    ["LAKE_ACTOR", "USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}
