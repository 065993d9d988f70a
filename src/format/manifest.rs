//! The manifest: the read contract of one committed version.
//!
//! Canonical JSON (keys sorted at every level, files in path order, no insignificant spaces), so
//! its sha256 (the version's **digest**) is reproducible from the same facts. With it, pyarrow,
//! DuckDB or Polars read exactly that version with no `lake` installed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::hash::sha256_hex;

/// The manifest format this lake writes.
pub const MANIFEST_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub lake_manifest: u32,
    /// `zone.name`
    pub dataset: String,
    pub version: u64,
    pub created_at: String,
    pub operation: Operation,
    /// Versions this one was computed from (promote), each with its manifest digest.
    pub inputs: Vec<Input>,
    /// `{"fields": [{"name", "type", "nullable"}]}` (see `format::schema`).
    pub schema: Value,
    pub rows: u64,
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
    pub at: String,
    pub by: String,
    /// The salted sha256 of the predicate, never the predicate itself.
    pub predicate_sha256: String,
    /// The version's digest before this erasure.
    pub previous_digest: String,
    pub rows_removed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Operation {
    Ingest {
        mode: String,
        /// The sources this operation ingested (an append also keeps earlier versions' files).
        sources: Vec<ManifestSource>,
    },
    /// The same rows and schema as version `of`, its small files merged into fewer.
    Compact {
        of: u64,
        /// Files of `of` merged, and the files they became.
        merged: u64,
        into: u64,
    },
    /// The rows of version `of` without those an erasure matched (`lake erase` of the latest
    /// version only); earlier versions still hold them.
    Erase {
        of: u64,
        /// The salted sha256 of the predicate, never the predicate itself.
        predicate_sha256: String,
        rows_removed: u64,
    },
    /// The files and schema of version `to` again, over version `from` (see `rollback.rs`).
    Rollback { to: u64, from: u64 },
    /// Parquet files another engine wrote, registered as they are (see `adopt.rs`).
    Adopt {
        mode: String,
        /// The folder or prefix they were adopted from.
        from: String,
        files: Vec<ManifestSource>,
    },
    Promote {
        /// The job file, relative to the project: `jobs/silver/orders_clean.sql`.
        job: String,
        /// sha256 of the job file as it ran.
        sql_sha256: String,
        /// Run against inputs pinned on the command line (`--at`), not the latest.
        backfill: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSource {
    pub uri: String,
    pub sha256: String,
    pub size: u64,
    pub format: String,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    #[serde(rename = "ref")]
    pub reference: String,
    pub manifest_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub rows: u64,
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
    pub size: u64,
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
