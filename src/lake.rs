//! `Lake`: one handle over a project's storage, archive tier, catalog and clock.
//!
//! It also knows this process as an owner of work in flight (`owner.rs`): registered in the
//! catalog the first time it writes or moves anything, with a heartbeat while it lives. The
//! commit protocol every writer shares is in `commit.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::catalog::Catalog;
use crate::clock::{self, Clock};
use crate::config::{self, CONFIG_FILE, Config};
use crate::error::{Error, Result};
use crate::owner::{self, Owner};
use crate::storage::Storage;

/// Progress of a long operation, for a caller that shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressEvent {
    /// Work of this many bytes begins.
    Started {
        /// The bytes the whole operation will handle.
        total_bytes: u64,
    },
    /// This many more bytes are done.
    Advanced {
        /// The bytes just done.
        bytes: u64,
    },
    /// The work is done.
    Finished,
}

/// A callback that receives [`ProgressEvent`]s, called on the thread doing the work: it
/// should return quickly.
pub type ProgressFn = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

/// A lake project: its config, its two storage tiers (hot and archive) and its catalog. Open
/// one with [`Lake::open`].
#[derive(Debug)]
pub struct Lake {
    dir: PathBuf,
    config: Config,
    storage: Storage,
    archive: Storage,
    catalog: Mutex<Catalog>,
    clock: Clock,
    actor: String,
    /// This process as an owner of work in flight, once it has any.
    owner: OnceLock<Owner>,
    /// Tells the heartbeat thread to stop when the lake is dropped.
    stop_heartbeat: Arc<AtomicBool>,
}

impl Drop for Lake {
    fn drop(&mut self) {
        self.stop_heartbeat.store(true, Ordering::SeqCst);
        // This process's spool folder, once empty (only an empty folder is removed).
        let _ = std::fs::remove_dir(self.spool_root().join(owner::spool_name()));
    }
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
        // Check both tiers parse, answer and are apart before anything is written.
        let root = Storage::open(&config.lake.root, dir, &config.s3)?;
        let archive = Storage::open(&config.lake.archive, dir, &config.s3)?;
        root.check_apart(&archive)?;
        for storage in [&root, &archive] {
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
    pub fn open(start: impl AsRef<Path>) -> Result<Lake> {
        let dir = config::find_project(start.as_ref())?;
        let config = Config::load(&dir.join(CONFIG_FILE))?;
        let storage = Storage::open(&config.lake.root, &dir, &config.s3)?;
        let archive = Storage::open(&config.lake.archive, &dir, &config.s3)?;
        storage.check_apart(&archive)?;
        let catalog = Catalog::open(&dir.join(&config.lake.catalog), false)?;
        Ok(Lake::from_parts(dir, config, storage, archive, catalog))
    }

    /// Copy the catalog, consistent, to `to` (a new file), while other commands go on: what a
    /// reader of the same root (over HTTP, say) opens as its catalog. Its size in bytes.
    pub fn backup_catalog(&self, to: &Path) -> Result<u64> {
        self.catalog().backup(to)
    }

    /// Refuse `command` (a name for the message) when the root is read and never written: an
    /// `http(s)://` root. Checked before a command starts, so nothing is sent or changed.
    pub fn check_writable(&self, command: &'static str) -> Result<()> {
        if self.storage.is_read_only() {
            return Err(Error::ReadOnlyRoot {
                command,
                root: self.storage.url().to_string(),
            });
        }
        Ok(())
    }

    /// Assemble a lake from parts (tests use in-memory storage and catalog).
    pub(crate) fn from_parts(
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
            owner: OnceLock::new(),
            stop_heartbeat: Arc::new(AtomicBool::new(false)),
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

    /// The same lake, its times taken from `clock` (versions, ages of rules).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Lake {
        self.clock = clock;
        self
    }

    /// The project folder (where `lake.toml` is).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A folder beside the catalog for bytes on their way in (stream batches, remote sources),
    /// each removed once ingested. Each process has its own, named by its pid and start time,
    /// so `lake gc` removes what a killed one left (see [`Lake::spool_root`]).
    pub(crate) fn spool_dir(&self) -> Result<PathBuf> {
        let dir = self.spool_root().join(owner::spool_name());
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(dir)
    }
    /// The spool of every process: `spool/` beside the catalog.
    pub(crate) fn spool_root(&self) -> PathBuf {
        self.catalog()
            .path()
            .parent()
            .map(|p| p.join("spool"))
            .unwrap_or_else(|| std::env::temp_dir().join("lake-spool"))
    }

    /// The project's settings: `lake.toml` with the `LAKE_*` variables over it.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The hot tier, where versions are written and read.
    pub(crate) fn storage(&self) -> &Storage {
        &self.storage
    }
    /// The archive tier, where archived versions' files live.
    pub(crate) fn archive(&self) -> &Storage {
        &self.archive
    }
    /// The root's URL: `s3://bucket/prefix`, `az://…`, `https://…`, or a local folder's
    /// absolute path.
    pub fn root_url(&self) -> &str {
        self.storage.url()
    }
    /// The archive tier's URL, in the same form.
    pub fn archive_url(&self) -> &str {
        self.archive.url()
    }
    /// The clock that stamps versions.
    pub fn clock(&self) -> Clock {
        self.clock
    }
    /// Who is recorded as making changes (`LAKE_ACTOR`, else the user name).
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// This process's owner id, recording it in the catalog (and starting its heartbeat) the
    /// first time it is asked for.
    pub(crate) fn owner(&self) -> Result<String> {
        if let Some(o) = self.owner.get() {
            return Ok(o.id.clone());
        }
        let me = Owner::current();
        let now = clock::timestamp(chrono::Utc::now());
        let command = std::env::args().collect::<Vec<_>>().join(" ");
        // Owners with no work on record are forgotten here, so the table stays as small as the
        // work in flight; a live one puts itself back with its next piece of work (see
        // `Lake::keep_owner`).
        self.catalog().write(|tx| {
            tx.remove_idle_owners(&me.id)?;
            tx.insert_owner(&me, &command, &now)
        })?;
        let id = me.id.clone();
        if self.owner.set(me).is_ok() {
            self.start_heartbeat(id.clone());
        }
        Ok(self.owner.get().map_or(id, |o| o.id.clone()))
    }

    /// Put this process's owner row back if another process forgot it while it was idle; called
    /// in every transaction that records work in its name.
    pub(crate) fn keep_owner(&self, tx: &crate::catalog::Tx<'_>) -> Result<()> {
        let Some(me) = self.owner.get() else {
            return Err(Error::Internal("work recorded before its owner".into()));
        };
        let now = clock::timestamp(chrono::Utc::now());
        tx.insert_owner(me, "", &now)
    }

    /// Refresh this owner's heartbeat from a thread of its own, on a connection of its own, so
    /// a long copy or encode never looks abandoned to another host.
    fn start_heartbeat(&self, id: String) {
        let path = self.catalog().path().to_path_buf();
        if path.as_os_str() == ":memory:" {
            return;
        }
        let stop = self.stop_heartbeat.clone();
        std::thread::spawn(move || {
            let Ok(mut catalog) = Catalog::open(&path, false) else {
                return;
            };
            let step = std::time::Duration::from_millis(250);
            let mut waited = std::time::Duration::ZERO;
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(step);
                waited += step;
                if waited >= owner::HEARTBEAT_EVERY {
                    waited = std::time::Duration::ZERO;
                    let now = clock::timestamp(chrono::Utc::now());
                    let _ = catalog.write(|tx| tx.heartbeat(&id, &now));
                }
            }
        });
    }

    /// Where the catalog is (`.lake/catalog.sqlite` by default).
    pub fn catalog_path(&self) -> std::path::PathBuf {
        self.catalog().path().to_path_buf()
    }

    /// The catalog, locked for this thread.
    pub(crate) fn catalog(&self) -> MutexGuard<'_, Catalog> {
        self.catalog
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Run a storage future from synchronous code, inside a runtime or not.
pub(crate) fn run_blocking<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
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
