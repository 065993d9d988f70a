//! The catalog: one SQLite file holding datasets, versions, files, schemas and history.
//!
//! Synchronous on purpose: a transaction never spans an `.await` of this module's own. Writers
//! take the lock up front (`BEGIN IMMEDIATE`) and queue on the busy timeout, so contention lives
//! here rather than on an object key. WAL mode lets readers go on while one writer commits.

pub(crate) mod datasets;
pub(crate) mod erasure;
pub(crate) mod in_flight;
pub(crate) mod lineage;
pub(crate) mod migrate;
pub(crate) mod rules;
pub(crate) mod runs;
pub(crate) mod schemas;
pub(crate) mod search;
pub(crate) mod versions;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{Error, Result};

pub(crate) use datasets::DatasetSummary;
pub(crate) use in_flight::{MoveRow, NewWrite, WriteRow};
pub(crate) use lineage::ColumnEdge;
pub(crate) use rules::{NewRule, Rule, TieredFile};
pub(crate) use runs::{
    CheckRow, DeadLetter, LeaseHolder, NewRun, RunFilter, RunSummary, StreamFile, StreamRow,
};
pub(crate) use schemas::ColumnRow;
pub(crate) use versions::{FileRow, NewVersion, SchemaChange, SourceRow, VersionRow, VersionState};

/// How long a writer waits for another to finish before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) struct Catalog {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("path", &self.path).finish()
    }
}

impl Catalog {
    /// Open the catalog at `path`, creating it if `create`, and migrate it to the latest schema.
    pub(crate) fn open(path: &Path, create: bool) -> Result<Catalog> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags).map_err(Error::catalog(path))?;
        Catalog::setup(conn, path.to_path_buf())
    }

    /// A private catalog for unit tests.
    pub(crate) fn open_in_memory() -> Result<Catalog> {
        let conn = Connection::open_in_memory().map_err(Error::catalog(Path::new(":memory:")))?;
        Catalog::setup(conn, PathBuf::from(":memory:"))
    }

    fn setup(mut conn: Connection, path: PathBuf) -> Result<Catalog> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(Error::catalog(&path))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(Error::catalog(&path))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(Error::catalog(&path))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(Error::catalog(&path))?;
        migrate::apply(&mut conn, &path)?;
        Ok(Catalog { conn, path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Write a consistent copy of the whole catalog to `to`, a new file, while other processes
    /// go on writing (SQLite's `VACUUM INTO` reads one snapshot); its size in bytes.
    pub(crate) fn backup(&self, to: &Path) -> Result<u64> {
        if to.exists() {
            return Err(Error::Io {
                path: to.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists already; a backup never overwrites a file",
                ),
            });
        }
        let target = to.to_str().ok_or_else(|| Error::Io {
            path: to.to_path_buf(),
            source: std::io::Error::other("the path is not UTF-8"),
        })?;
        self.conn
            .execute("VACUUM INTO ?1", [target])
            .map_err(Error::catalog(&self.path))?;
        std::fs::metadata(to)
            .map(|m| m.len())
            .map_err(|source| Error::Io {
                path: to.to_path_buf(),
                source,
            })
    }

    /// The schema version this catalog is at.
    #[cfg(test)]
    pub(crate) fn schema_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(Error::catalog(&self.path))
    }

    /// Read-only access outside any write transaction.
    pub(crate) fn reader(&self) -> Tx<'_> {
        Tx {
            conn: &self.conn,
            path: &self.path,
        }
    }

    /// Run `f` over one consistent snapshot of the catalog (a read transaction), so rows read
    /// together were committed together.
    pub(crate) fn snapshot<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.transaction(TransactionBehavior::Deferred, f)
    }

    /// Run `f` in one write transaction taken up front (`BEGIN IMMEDIATE`); commit on `Ok`,
    /// roll back on `Err`.
    pub(crate) fn write<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.transaction(TransactionBehavior::Immediate, f)
    }

    fn transaction<T>(
        &mut self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(behavior)
            .map_err(Error::catalog(&path))?;
        let value = f(&Tx {
            conn: &tx,
            path: &path,
        })?;
        tx.commit().map_err(Error::catalog(&path))?;
        Ok(value)
    }
}

/// A view of the catalog inside (or, for reads, outside) a transaction.
pub(crate) struct Tx<'a> {
    conn: &'a Connection,
    path: &'a Path,
}

impl Tx<'_> {
    fn err(&self) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
        Error::catalog(self.path)
    }

    /// Record who did what to which target.
    pub(crate) fn audit(
        &self,
        at: &str,
        actor: &str,
        action: &str,
        target: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![at, actor, action, target, detail.to_string()],
            )
            .map_err(self.err())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_to_a_new_catalog() {
        let catalog = Catalog::open_in_memory().unwrap();
        assert_eq!(catalog.schema_version().unwrap(), migrate::latest());
    }

    #[test]
    fn reopening_a_catalog_keeps_its_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        drop(Catalog::open(&path, true).unwrap());
        let again = Catalog::open(&path, false).unwrap();
        assert_eq!(again.schema_version().unwrap(), migrate::latest());
    }

    #[test]
    fn a_catalog_from_a_newer_lake_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = Catalog::open(&path, false).unwrap_err();
        assert!(
            matches!(err, Error::CatalogTooNew { found: 999, .. }),
            "{err}"
        );
    }

    #[test]
    fn rebuilding_the_runs_table_keeps_runs_and_their_references() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        // A catalog as the release before orchestration left it, with a run and its check.
        for (i, (_, sql)) in migrate::MIGRATIONS.iter().take(7).enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as i64 + 1)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO runs (job, job_path, sql_digest, sql_text, inputs_key, status, started_at,
                               finished_at, duration_ms, actor)
             VALUES ('silver.x', 'jobs/silver/x.sql', 'd', 'SELECT 1', '', 'failed', 't', 't', 5, 'me');
             INSERT INTO check_results (run_id, name, kind, status, failing)
             VALUES (1, 'unique(a)', 'unique', 'fail', 2);",
        )
        .unwrap();
        migrate::apply(&mut conn, &path).unwrap();
        let (status, attempt, trigger): (String, i64, String) = conn
            .query_row(
                "SELECT status, attempt, trigger FROM runs WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            (status.as_str(), attempt, trigger.as_str()),
            ("failed", 1, "promote")
        );
        // The check still points at its run, foreign keys are on again, and the new states fit.
        let dangling: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(dangling, 0);
        let on: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(on, 1);
        conn.execute("UPDATE runs SET status = 'timed_out' WHERE id = 1", [])
            .unwrap();
        assert!(
            conn.execute("DELETE FROM runs WHERE id = 1", []).is_err(),
            "check_results must still reference runs"
        );
    }
}
