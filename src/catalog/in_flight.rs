//! Work in flight: owners (processes), their writes, their leases on file moves, and holds.
//!
//! A write is registered before its first byte and closed by the transaction that commits it,
//! so at any moment every object under the root is either known to the catalog, under a
//! registered write, or debris. A move is a lease on one file: while its owner lives, no other
//! mover, repair or gc acts on that file.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Tx;
use crate::clock::parse_timestamp;
use crate::error::{Error, Result};
use crate::owner::{Owner, OwnerRecord};

/// A registered write.
#[derive(Debug, Clone, Serialize)]
pub struct WriteRow {
    /// The write's id (its staging prefix names it).
    pub id: String,
    /// The dataset it writes.
    pub dataset: String,
    /// What writes: `ingest`, `promote`, `compact`…
    pub operation: String,
    /// Where its files are staged.
    pub prefix: String,
    /// When it started.
    pub started_at: String,
    /// The process writing.
    #[serde(skip)]
    pub owner: OwnerRecord,
}

/// A file under a mover's lease.
#[derive(Debug, Clone, Serialize)]
pub struct MoveRow {
    /// The file's row id.
    pub file_id: i64,
    /// Its key.
    pub path: String,
    /// Its sha256.
    pub sha256: String,
    /// The catalog's tier for the file now.
    pub tier: String,
    /// `archive`, `restore`, `expire` or `erase`.
    pub direction: String,
    /// The tier it leaves.
    pub from_tier: String,
    /// The tier it goes to.
    pub to_tier: String,
    /// The catalog already says it is in `to_tier`.
    pub flipped: bool,
    /// When the move started.
    pub started_at: String,
    /// The process moving it.
    #[serde(skip)]
    pub owner: OwnerRecord,
}

pub(super) const OWNER_COLUMNS: &str = "o.id, o.host, o.pid, o.proc_start, o.heartbeat_at";

pub(super) fn owner_at(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<OwnerRecord> {
    let heartbeat: String = r.get(at + 4)?;
    Ok(OwnerRecord {
        id: r.get(at)?,
        host: r.get(at + 1)?,
        pid: r.get::<_, i64>(at + 2)? as u32,
        proc_start: r.get::<_, Option<i64>>(at + 3)?.map(|v| v as u64),
        heartbeat_at: parse_timestamp(&heartbeat).unwrap_or_default(),
    })
}

impl Tx<'_> {
    /// Record this process as an owner of work (once per process).
    pub(crate) fn insert_owner(&self, owner: &Owner, command: &str, now: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO owners (id, host, pid, proc_start, command, started_at, heartbeat_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (id) DO NOTHING",
                params![
                    owner.id,
                    owner.host,
                    owner.pid as i64,
                    owner.proc_start.map(|v| v as i64),
                    command,
                    now
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub(crate) fn heartbeat(&self, owner_id: &str, now: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE owners SET heartbeat_at = ?2 WHERE id = ?1",
                params![owner_id, now],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Forget owners that have no work left on record.
    pub(crate) fn remove_idle_owners(&self, except: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM owners WHERE id != ?1
                   AND NOT EXISTS (SELECT 1 FROM writes w WHERE w.owner_id = owners.id)
                   AND NOT EXISTS (SELECT 1 FROM moves m WHERE m.owner_id = owners.id)
                   AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.owner_id = owners.id)",
                [except],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub(crate) fn insert_write(&self, w: &NewWrite<'_>) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO writes (id, owner_id, dataset, operation, prefix, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    w.id,
                    w.owner_id,
                    w.dataset,
                    w.operation,
                    w.prefix,
                    w.started_at
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Close a write record; `false` if it was not there (someone judged it dead and took it).
    pub(crate) fn remove_write(&self, id: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM writes WHERE id = ?1", [id])
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Every registered write, oldest first.
    pub(crate) fn writes(&self) -> Result<Vec<WriteRow>> {
        let sql = format!(
            "SELECT w.id, w.dataset, w.operation, w.prefix, w.started_at, {OWNER_COLUMNS}
             FROM writes w JOIN owners o ON o.id = w.owner_id ORDER BY w.started_at, w.id"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(WriteRow {
                    id: r.get(0)?,
                    dataset: r.get(1)?,
                    operation: r.get(2)?,
                    prefix: r.get(3)?,
                    started_at: r.get(4)?,
                    owner: owner_at(r, 5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Take the lease on moving `file_id`; `false` if another mover holds it.
    pub(crate) fn claim_move(
        &self,
        file_id: i64,
        owner_id: &str,
        direction: &str,
        from_tier: &str,
        to_tier: &str,
        now: &str,
    ) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "INSERT INTO moves (file_id, owner_id, direction, from_tier, to_tier, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (file_id) DO NOTHING",
                params![file_id, owner_id, direction, from_tier, to_tier, now],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Every lease, oldest first.
    pub(crate) fn moves(&self) -> Result<Vec<MoveRow>> {
        self.query_moves("", [])
    }

    fn query_moves(&self, filter: &str, p: impl rusqlite::Params) -> Result<Vec<MoveRow>> {
        let sql = format!(
            "SELECT m.file_id, f.path, f.sha256, f.tier, m.direction, m.from_tier, m.to_tier,
                    m.flipped, m.started_at, {OWNER_COLUMNS}
             FROM moves m JOIN files f ON f.id = m.file_id JOIN owners o ON o.id = m.owner_id
             {filter} ORDER BY m.started_at, m.file_id"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(p, |r| {
                Ok(MoveRow {
                    file_id: r.get(0)?,
                    path: r.get(1)?,
                    sha256: r.get(2)?,
                    tier: r.get(3)?,
                    direction: r.get(4)?,
                    from_tier: r.get(5)?,
                    to_tier: r.get(6)?,
                    flipped: r.get(7)?,
                    started_at: r.get(8)?,
                    owner: owner_at(r, 9)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Record that the catalog's tier for `file_id` now is the move's destination. Fails unless
    /// `owner_id` still holds the lease.
    pub(crate) fn flip_move(&self, file_id: i64, owner_id: &str) -> Result<()> {
        let to: Option<String> = self
            .conn
            .query_row(
                "UPDATE moves SET flipped = 1 WHERE file_id = ?1 AND owner_id = ?2 RETURNING to_tier",
                params![file_id, owner_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        let Some(to) = to else {
            let path: Option<String> = self
                .conn
                .query_row("SELECT path FROM files WHERE id = ?1", [file_id], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(self.err())?;
            return Err(Error::LeaseLost {
                path: path.unwrap_or_else(|| format!("file {file_id}")),
            });
        };
        self.set_file_tier(file_id, &to)
    }

    /// Hand a dead owner's lease to `to`; `false` if someone else took it first.
    pub(crate) fn take_over_move(&self, file_id: i64, from: &str, to: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE moves SET owner_id = ?3 WHERE file_id = ?1 AND owner_id = ?2",
                params![file_id, from, to],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// The catalog's tier for a file now.
    pub(crate) fn file_tier(&self, file_id: i64) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT tier FROM files WHERE id = ?1", [file_id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())
    }

    /// Give up the lease on `file_id` (held by `owner_id`, or by anyone when `None`).
    pub(crate) fn release_move(&self, file_id: i64, owner_id: Option<&str>) -> Result<()> {
        match owner_id {
            Some(o) => self.conn.execute(
                "DELETE FROM moves WHERE file_id = ?1 AND owner_id = ?2",
                params![file_id, o],
            ),
            None => self
                .conn
                .execute("DELETE FROM moves WHERE file_id = ?1", [file_id]),
        }
        .map_err(self.err())?;
        Ok(())
    }

    /// Is a file of this version under a lease some other owner holds? Such a version is in
    /// another mover's hands (a restore, say) and is not to change state under it.
    pub(crate) fn leased_by_others(&self, version_id: i64, owner_id: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM version_files vf JOIN moves m ON m.file_id = vf.file_id
                                WHERE vf.version_id = ?1 AND m.owner_id != ?2)",
                params![version_id, owner_id],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Hold `version_id` for the lock file at `lock_path`.
    pub(crate) fn add_hold(
        &self,
        version_id: i64,
        lock_path: &str,
        at: &str,
        actor: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO holds (version_id, lock_path, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (version_id, lock_path) DO NOTHING",
                params![version_id, lock_path, at, actor],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Release the holds of `lock_path` on every version of `dataset_id` but `keep`.
    pub(crate) fn release_holds(&self, dataset_id: i64, lock_path: &str, keep: i64) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM holds WHERE lock_path = ?2 AND version_id != ?3
                   AND version_id IN (SELECT id FROM versions WHERE dataset_id = ?1)",
                params![dataset_id, lock_path, keep],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Every lock file holding versions, with how many (and which) it holds.
    pub(crate) fn lock_files(&self) -> Result<Vec<(String, Vec<String>)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT h.lock_path, d.zone || '.' || d.name || '@v' || v.version
                 FROM holds h JOIN versions v ON v.id = h.version_id
                 JOIN datasets d ON d.id = v.dataset_id
                 ORDER BY h.lock_path, 2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.err())?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for row in rows {
            let (lock, version) = row.map_err(self.err())?;
            match out.last_mut() {
                Some((l, versions)) if *l == lock => versions.push(version),
                _ => out.push((lock, vec![version])),
            }
        }
        Ok(out)
    }

    /// The lock files holding a version.
    pub(crate) fn holds(&self, version_id: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT lock_path FROM holds WHERE version_id = ?1 ORDER BY lock_path")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([version_id], |r| r.get(0))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.err())
    }

    /// Is this version tagged or held by a lock file? Either keeps it where it is.
    pub(crate) fn is_protected(&self, version_id: i64) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM tags WHERE version_id = ?1)
                     OR EXISTS (SELECT 1 FROM holds WHERE version_id = ?1)",
                [version_id],
                |r| r.get(0),
            )
            .map_err(self.err())
    }
}

/// A write to register.
pub(crate) struct NewWrite<'a> {
    pub id: &'a str,
    pub owner_id: &'a str,
    pub dataset: &'a str,
    pub operation: &'a str,
    pub prefix: &'a str,
    pub started_at: &'a str,
}

#[cfg(test)]
mod tests {
    use super::super::Catalog;
    use super::*;

    #[test]
    fn a_write_is_on_record_until_closed() {
        let mut catalog = Catalog::open_in_memory().unwrap();
        let me = Owner::current();
        let now = "2026-01-01T00:00:00.000000Z";
        catalog
            .write(|tx| {
                tx.insert_owner(&me, "test", now)?;
                tx.insert_write(&NewWrite {
                    id: "w1",
                    owner_id: &me.id,
                    dataset: "bronze.x",
                    operation: "ingest",
                    prefix: "bronze/x/data/w1-",
                    started_at: now,
                })
            })
            .unwrap();
        let writes = catalog.reader().writes().unwrap();
        assert_eq!(writes.len(), 1);
        assert!(writes[0].owner.is_alive(chrono::Utc::now()));
        assert!(catalog.write(|tx| tx.remove_write("w1")).unwrap());
        assert!(!catalog.write(|tx| tx.remove_write("w1")).unwrap());
        catalog.write(|tx| tx.remove_idle_owners("none")).unwrap();
    }
}
