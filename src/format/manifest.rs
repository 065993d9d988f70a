//! The manifest: the read contract of one committed version.
//!
//! Canonical JSON (keys sorted at every level, files in path order, no insignificant spaces), so
//! its sha256 (the version's **digest**) is reproducible from the same facts. With it, pyarrow,
//! DuckDB or Polars read exactly that version with no `lake` installed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::hash::sha256_hex;

/// The manifest format this lake writes.
pub(crate) const MANIFEST_FORMAT: u32 = 1;

/// A version's manifest: what a reader needs to read it exactly, with no catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest format's version.
    pub lake_manifest: u32,
    /// `zone.name`
    pub dataset: String,
    /// The version's number.
    pub version: u64,
    /// When it committed.
    pub created_at: String,
    /// What made it.
    pub operation: Operation,
    /// Versions this one was computed from (promote), each with its manifest digest.
    pub inputs: Vec<Input>,
    /// `{"fields": [{"name", "type", "nullable"}]}` (see `format::schema`).
    pub schema: Value,
    /// Its rows.
    pub rows: u64,
    /// Bytes of its files.
    pub bytes: u64,
    /// In path order. Paths are relative to the root.
    pub files: Vec<ManifestFile>,
    /// Erasures that removed rows from this version after it was committed, oldest first
    /// (`lake erase --all-versions`); absent for a version never amended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amendments: Vec<Amendment>,
}

/// One erasure of rows from a committed version: the version keeps its number, its digest
/// changes, and the digest it had is kept here (and in the catalog's erasure ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    /// When the erasure ran.
    pub at: String,
    /// Who ran it.
    pub by: String,
    /// The salted sha256 of the predicate, never the predicate itself.
    pub predicate_sha256: String,
    /// The version's digest before this erasure.
    pub previous_digest: String,
    /// Rows it removed from this version.
    pub rows_removed: u64,
}

/// What made a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Operation {
    /// An ingest of raw sources.
    Ingest {
        /// `append` or `overwrite`.
        mode: String,
        /// The sources this operation ingested (an append also keeps earlier versions' files).
        sources: Vec<ManifestSource>,
    },
    /// The same rows and schema as version `of`, its small files merged into fewer.
    Compact {
        /// The version compacted.
        of: u64,
        /// Files of `of` merged, and the files they became.
        merged: u64,
        /// Files written.
        into: u64,
    },
    /// The rows of version `of` without those an erasure matched (`lake erase` of the latest
    /// version only); earlier versions still hold them.
    Erase {
        /// The version the rows were erased from.
        of: u64,
        /// The salted sha256 of the predicate, never the predicate itself.
        predicate_sha256: String,
        /// Rows removed.
        rows_removed: u64,
    },
    /// The files and schema of version `to` again, over version `from` (see `rollback.rs`).
    Rollback {
        /// The version whose files and schema it has.
        to: u64,
        /// The latest version before it.
        from: u64,
    },
    /// Parquet files another engine wrote, registered as they are (see `adopt.rs`).
    Adopt {
        /// `append` or `overwrite`.
        mode: String,
        /// The folder or prefix they were adopted from.
        from: String,
        /// The files adopted.
        files: Vec<ManifestSource>,
    },
    /// A job's result.
    Promote {
        /// The job file, relative to the project: `jobs/silver/orders_clean.sql`.
        job: String,
        /// sha256 of the job file as it ran.
        sql_sha256: String,
        /// Run against inputs pinned on the command line (`--at`), not the latest.
        backfill: bool,
    },
}

/// A raw source an ingest read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSource {
    /// Its URI.
    pub uri: String,
    /// Its sha256 as read.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// How it was read (`csv`, `ndjson`, `json`, `parquet`).
    pub format: String,
    /// Rows read from it.
    pub rows: u64,
}

/// A version this one was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// Its exact ref, `zone.name@vN`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Its digest when it was read.
    pub manifest_sha256: String,
}

/// A data file of the version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Its key, relative to the root.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256.
    pub sha256: String,
    /// Its rows.
    pub rows: u64,
    /// Rows of each of its row groups, in order.
    pub row_groups: Vec<u64>,
    /// Per-block hashes, for readers that check the bytes they fetch as they read them; absent
    /// for files written before lake recorded them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Blocks>,
    /// The partition the file holds, for a dataset written with `partition_by`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// The sha256 of each `size`-byte block of a file, in order; the last block may be shorter.
/// Block `i` covers bytes `i * size .. min((i + 1) * size, file size)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocks {
    /// The block size in bytes.
    pub size: u64,
    /// Each block's sha256.
    pub sha256: Vec<String>,
}

impl Manifest {
    /// The canonical bytes and their sha256 (the digest).
    pub fn encode(&self) -> (Vec<u8>, String) {
        let mut sorted = self.clone();
        sorted.files.sort_by(|a, b| a.path.cmp(&b.path));
        let value = serde_json::to_value(&sorted).expect("a manifest serializes");
        let mut out = String::new();
        write_canonical(&value, &mut out);
        out.push('\n');
        let digest = sha256_hex(out.as_bytes());
        (out.into_bytes(), digest)
    }

    /// Read a manifest from its bytes.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// JSON with object keys sorted, whatever map type serde_json was built with.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: Vec<&str>) -> Manifest {
        Manifest {
            lake_manifest: MANIFEST_FORMAT,
            dataset: "bronze.orders".into(),
            version: 1,
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            operation: Operation::Ingest {
                mode: "append".into(),
                sources: vec![],
            },
            inputs: vec![],
            schema: serde_json::json!({"fields": [{"type": "int64", "name": "id", "nullable": true}]}),
            rows: 0,
            bytes: 0,
            files: files
                .into_iter()
                .map(|p| ManifestFile {
                    path: p.into(),
                    size: 1,
                    sha256: "00".into(),
                    blocks: None,
                    rows: 0,
                    row_groups: vec![],
                    partition: None,
                })
                .collect(),
            amendments: vec![],
        }
    }

    #[test]
    fn encoding_is_canonical_and_round_trips() {
        let (a, da) = manifest(vec!["b", "a"]).encode();
        let (b, db) = manifest(vec!["a", "b"]).encode();
        assert_eq!(a, b);
        assert_eq!(da, db);
        let text = String::from_utf8(a.clone()).unwrap();
        assert!(text.starts_with(r#"{"bytes":0,"created_at""#), "{text}");
        assert!(
            text.contains(r#"{"name":"id","nullable":true,"type":"int64"}"#),
            "{text}"
        );
        let back = Manifest::decode(&a).unwrap();
        assert_eq!(back.files[0].path, "a");
    }
}
