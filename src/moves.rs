//! Moving files between tiers under a lease: what archive, restore, expiry and repair share.
//!
//! A mover first takes a lease on each file in the catalog (one mover per file, so two lifecycle
//! commands never act on the same file), then copies and verifies, then flips the catalog's
//! tier in its own final transaction, re-checking whatever it assumed, and only then deletes
//! the copy it left behind. Until the flip the catalog's tier holds the good copy; after it the
//! destination does. That one bit (`moves.flipped`) tells anyone who finds the lease of a dead
//! owner what to do: before the flip, remove the destination copy; after it, the source copy.

use std::collections::BTreeSet;

use crate::catalog::{MoveRow, TieredFile};
use crate::clock;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::lake::Lake;
use crate::storage::Storage;

/// Leases this process holds on files moving `from` → `to`.
pub(crate) struct Lease<'a> {
    lake: &'a Lake,
    owner: String,
    files: Vec<TieredFile>,
    from: &'static str,
    to: &'static str,
}

impl Lake {
    /// The store of a tier (`hot` or `archive`).
    pub(crate) fn tier(&self, name: &str) -> &Storage {
        if name == "archive" {
            self.archive()
        } else {
            self.storage()
        }
    }

    /// Take leases on `files` for a move `from` → `to`. A file another mover holds, or whose
    /// catalog tier is no longer `from`, is left out: see [`Lease::files`].
    pub(crate) fn claim(
        &self,
        files: &[TieredFile],
        direction: &'static str,
        from: &'static str,
        to: &'static str,
    ) -> Result<Lease<'_>> {
        let owner = self.owner()?;
        let now = clock::timestamp(chrono::Utc::now());
        let claimed = self.catalog().write(|tx| {
            self.keep_owner(tx)?;
            let mut claimed = Vec::new();
            for f in files {
                if tx.file_tier(f.id)?.as_deref() != Some(from) {
                    continue;
                }
                if tx.claim_move(f.id, &owner, direction, from, to, &now)? {
                    claimed.push(f.clone());
                }
            }
            Ok(claimed)
        })?;
        failpoint::hit("move.claimed")?;
        Ok(Lease {
            lake: self,
            owner,
            files: claimed,
            from,
            to,
        })
    }

    /// Finish or undo the moves whose owner is gone; returns how many objects were removed.
    /// Leases of live owners are never touched.
    pub(crate) async fn resume_moves(&self) -> Result<u64> {
        let me = self.owner()?;
        let now = chrono::Utc::now();
        let dead: Vec<MoveRow> = {
            let catalog = self.catalog();
            let moves = catalog.reader().moves()?;
            moves
                .into_iter()
                .filter(|m| m.owner.id != me && !m.owner.is_alive(now))
                .collect()
        };
        let mut removed = 0;
        for m in dead {
            // Take the lease over, so two processes never resume the same move.
            let taken = self.catalog().write(|tx| {
                self.keep_owner(tx)?;
                tx.take_over_move(m.file_id, &m.owner.id, &me)
            })?;
            if taken {
                removed += self.resume_move(&m, &me).await?;
            }
        }
        Ok(removed)
    }

    /// Bring back a file missing from its tier `home` from a copy in tier `from`, under a lease:
    /// copied and verified, recorded, then the other copy removed. `false` if another mover holds
    /// the file.
    pub(crate) async fn repair_from(
        &self,
        f: &TieredFile,
        from: &'static str,
        home: &'static str,
    ) -> Result<bool> {
        let owner = self.owner()?;
        let now = clock::timestamp(chrono::Utc::now());
        let claimed = self.catalog().write(|tx| {
            self.keep_owner(tx)?;
            Ok(tx.file_tier(f.id)?.as_deref() == Some(home)
                && tx.claim_move(f.id, &owner, "repair", from, home, &now)?)
        })?;
        if !claimed {
            return Ok(false);
        }
        let copied = self
            .tier(from)
            .copy_verified(self.tier(home), &f.path, &f.sha256)
            .await;
        if let Err(e) = copied {
            self.catalog()
                .write(|tx| tx.release_move(f.id, Some(&owner)))?;
            return Err(e);
        }
        failpoint::hit("repair.copied")?;
        self.catalog().write(|tx| tx.flip_move(f.id, &owner))?;
        self.tier(from).delete(&f.path).await?;
        self.catalog()
            .write(|tx| tx.release_move(f.id, Some(&owner)))?;
        Ok(true)
    }

    async fn resume_move(&self, m: &MoveRow, me: &str) -> Result<u64> {
        let mut removed = 0;
        if m.to_tier == "deleted" {
            if m.flipped {
                for tier in ["hot", "archive"] {
                    removed += delete_if_there(self.tier(tier), &m.path).await?;
                }
            }
        } else if !m.flipped {
            // The catalog's tier holds the good copy; whatever reached the destination goes.
            removed += delete_if_there(self.tier(&m.to_tier), &m.path).await?;
        } else {
            let (dest, source) = (self.tier(&m.to_tier), self.tier(&m.from_tier));
            if hashes_to(dest, &m.path, &m.sha256).await? {
                removed += delete_if_there(source, &m.path).await?;
            } else if hashes_to(source, &m.path, &m.sha256).await? {
                // The flip was recorded over a copy that is not whole: the source still is.
                self.catalog()
                    .write(|tx| tx.set_file_tier(m.file_id, &m.from_tier))?;
                removed += delete_if_there(dest, &m.path).await?;
            } else {
                return Err(Error::Integrity {
                    path: dest.object_url(&m.path),
                    problem: format!(
                        "neither tier holds a copy with sha256 {}; the lease is kept",
                        m.sha256
                    ),
                });
            }
        }
        self.catalog()
            .write(|tx| tx.release_move(m.file_id, Some(me)))?;
        Ok(removed)
    }
}

impl Lease<'_> {
    /// The files this lease holds.
    pub(crate) fn files(&self) -> &[TieredFile] {
        &self.files
    }

    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Copy every leased file to the destination tier, verified there.
    pub(crate) async fn copy(&self) -> Result<()> {
        let (from, to) = (self.lake.tier(self.from), self.lake.tier(self.to));
        for f in &self.files {
            from.copy_verified(to, &f.path, &f.sha256).await?;
        }
        failpoint::hit("move.copied")
    }

    /// After the caller's transaction flipped `flipped` (with `Tx::flip_move`): remove the
    /// source copy of each of those and the destination copy of every other leased file, then
    /// give the leases up.
    pub(crate) async fn finish(self, flipped: &BTreeSet<i64>) -> Result<u64> {
        failpoint::hit("move.flipped")?;
        let mut removed = 0;
        for f in &self.files {
            removed += if flipped.contains(&f.id) {
                let mut n = 0;
                // An expired file leaves every tier it may still be in.
                for tier in
                    std::iter::once(self.from).chain((self.to == "deleted").then_some("hot"))
                {
                    n += delete_if_there(self.lake.tier(tier), &f.path).await?;
                }
                n
            } else if self.to != "deleted" {
                delete_if_there(self.lake.tier(self.to), &f.path).await?
            } else {
                0
            };
        }
        failpoint::hit("move.source_deleted")?;
        self.release().await?;
        Ok(removed)
    }

    /// Undo a move that will not happen: remove what reached the destination, give the leases up.
    pub(crate) async fn abandon(self) {
        if let Err(e) = self.finish(&BTreeSet::new()).await {
            tracing::warn!(error = %e, "could not undo a move; the next mover will");
        }
    }

    async fn release(&self) -> Result<()> {
        self.lake.catalog().write(|tx| {
            for f in &self.files {
                tx.release_move(f.id, Some(&self.owner))?;
            }
            Ok(())
        })
    }
}

async fn delete_if_there(storage: &Storage, key: &str) -> Result<u64> {
    if storage.head(key).await?.is_none() {
        return Ok(0);
    }
    storage.delete(key).await?;
    Ok(1)
}

async fn hashes_to(storage: &Storage, key: &str, sha256: &str) -> Result<bool> {
    if storage.head(key).await?.is_none() {
        return Ok(false);
    }
    Ok(storage.hash(key).await?.0 == sha256)
}
