//! Copies between two local tiers without passing the bytes through the process.
//!
//! The kernel copies the file (`copy_file_range`, a reflink where the file system has them) into
//! a staging file beside the destination (`key#N`, the name local writes stage under, which gc
//! knows), the copy is flushed to disk, hashed as read back, and only then linked at its key,
//! refusing to replace anything there. The destination is what must hash to the catalog's
//! sha256, so the source is hashed only when the copy does not, to tell which side is bad.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Error;

pub(super) enum CopyError {
    Io(Error),
    /// The source does not hash to what was expected (its sha256 given); nothing was written.
    Source(String),
    /// The copy does not, though the source does (its sha256 given); it was removed.
    Copy(String),
    /// Something is at the destination already; nothing was written.
    Exists,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CopyError + '_ {
    move |source| {
        CopyError::Io(Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// sha256 (hex) and size of a file, read in large blocks.
pub(super) fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((crate::format::hash::hex(&hasher.finalize()), size))
}

pub(super) fn copy_verified(source: &Path, dest: &Path, sha256: &str) -> Result<(), CopyError> {
    let mut from = File::open(source).map_err(io(source))?;
    let (mut to, staging) = staging_file(dest)?;
    let result = (|| {
        std::io::copy(&mut from, &mut to).map_err(io(&staging))?;
        to.sync_all().map_err(io(&staging))?;
        drop(to);
        let (copied, _) = hash_file(&staging).map_err(io(&staging))?;
        if copied != sha256 {
            let (found, _) = hash_file(source).map_err(io(source))?;
            return Err(if found == sha256 {
                CopyError::Copy(copied)
            } else {
                CopyError::Source(found)
            });
        }
        match std::fs::hard_link(&staging, dest) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(CopyError::Exists),
            Err(e) => return Err(io(dest)(e)),
        }
        if let Some(dir) = dest.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&staging);
    result
}

/// A new, empty staging file `dest#N`, creating the destination's folders as needed.
fn staging_file(dest: &Path) -> Result<(File, PathBuf), CopyError> {
    for n in 1u32.. {
        let mut name = dest.as_os_str().to_owned();
        name.push(format!("#{n}"));
        let path = PathBuf::from(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let dir = dest.parent().unwrap_or(Path::new("."));
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            Err(e) => return Err(io(&path)(e)),
        }
    }
    unreachable!("some staging name is free")
}
