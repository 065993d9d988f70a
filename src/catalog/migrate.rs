//! Schema migrations: `catalog/NNNN_name.sql`, applied in order, tracked by `PRAGMA user_version`.
//!
//! A merged migration is never edited; a change is a new file appended to [`MIGRATIONS`].

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};

/// Every migration, in order; the catalog's schema version is the number applied.
pub(crate) const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../catalog/0001_init.sql")),
    (
        "0002_promote",
        include_str!("../../catalog/0002_promote.sql"),
    ),
    (
        "0003_lifecycle",
        include_str!("../../catalog/0003_lifecycle.sql"),
    ),
    ("0004_search", include_str!("../../catalog/0004_search.sql")),
    (
        "0005_in_flight",
        include_str!("../../catalog/0005_in_flight.sql"),
    ),
    (
        "0006_search_past_columns",
        include_str!("../../catalog/0006_search_past_columns.sql"),
    ),
    (
        "0007_file_blocks",
        include_str!("../../catalog/0007_file_blocks.sql"),
    ),
    (
        "0008_orchestration",
        include_str!("../../catalog/0008_orchestration.sql"),
    ),
    (
        "0009_streams",
        include_str!("../../catalog/0009_streams.sql"),
    ),
    (
        "0010_watches",
        include_str!("../../catalog/0010_watches.sql"),
    ),
    (
        "0011_source_spans",
        include_str!("../../catalog/0011_source_spans.sql"),
    ),
    (
        "0012_erasure",
        include_str!("../../catalog/0012_erasure.sql"),
    ),
];

pub(crate) fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Bring the catalog at `path` up to date; each migration commits on its own.
///
/// Foreign keys are off while migrations run, so one can rebuild a table that others reference
/// (SQLite's own recipe for a change `ALTER TABLE` cannot make); each migration is checked for
/// dangling references before it commits, and they are on again after.
pub(crate) fn apply(conn: &mut Connection, path: &Path) -> Result<()> {
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(Error::catalog(path))?;
    let applied = apply_each(conn, path);
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(Error::catalog(path))?;
    applied
}

fn apply_each(conn: &mut Connection, path: &Path) -> Result<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(Error::catalog(path))?;
    if current > latest() {
        return Err(Error::CatalogTooNew {
            path: path.to_path_buf(),
            found: current,
            supported: latest(),
        });
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(Error::catalog(path))?;
        // Another process may have migrated while we waited for the lock.
        let now: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(Error::catalog(path))?;
        if now > index as i64 {
            continue;
        }
        tx.execute_batch(sql).map_err(Error::catalog(path))?;
        let dangling: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()
            .map_err(Error::catalog(path))?;
        if let Some(table) = dangling {
            return Err(Error::CatalogMigration {
                path: path.to_path_buf(),
                migration: name.to_string(),
                problem: format!("left rows of `{table}` referring to rows that do not exist"),
            });
        }
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(Error::catalog(path))?;
        tx.commit().map_err(Error::catalog(path))?;
    }
    Ok(())
}
