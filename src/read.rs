//! Resolving refs to exact versions, and describing what the catalog knows of them.

use serde::Serialize;

use crate::catalog::rules::Lifecycle;
use crate::catalog::search::DatasetMeta;
use crate::catalog::{
    CheckRow, ColumnRow, DatasetSummary, FileRow, SchemaChange, SourceRow, VersionRow,
};
use crate::error::{Error, Result};
use crate::format::Manifest;
use crate::ident::{DatasetRef, Zone};
use crate::lake::Lake;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

/// One version with everything the catalog holds about it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    /// The exact ref, `zone.name@vN`.
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    /// The version as the catalog records it.
    #[serde(flatten)]
    pub version: VersionRow,
    /// Tags on it.
    pub tags: Vec<String>,
    /// Lock files that pin this version (`lake pin`); like tags, they keep it from lifecycle rules.
    pub holds: Vec<String>,
    /// Its schema, column by column.
    pub columns: Vec<ColumnRow>,
    /// How its schema differs from the version before.
    pub drift: Vec<SchemaChange>,
    /// The raw sources its rows came from (bronze).
    pub sources: Vec<SourceRow>,
    /// Its data files.
    pub files: Vec<FileRow>,
    /// The checks that passed when a promote committed it.
    pub checks: Vec<CheckRow>,
    /// For a partitioned dataset: the partitions this version has, with their rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<Partition>,
    /// When and by which rule it was archived or expired.
    #[serde(flatten)]
    pub lifecycle: Lifecycle,
    /// What people wrote about the dataset (`lake annotate`).
    pub meta: DatasetMeta,
}

/// One partition of a version of a partitioned dataset.
#[derive(Debug, Clone, Serialize)]
pub struct Partition {
    /// The partition's value, such as `2026-01-05`.
    pub partition: String,
    /// Its rows in this version.
    pub rows: u64,
}

/// A version in a dataset's history.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    /// The exact ref, `zone.name@vN`.
    #[serde(rename = "ref")]
    pub reference: DatasetRef,
    /// The version as the catalog records it.
    #[serde(flatten)]
    pub version: VersionRow,
    /// Tags on it.
    pub tags: Vec<String>,
    /// How its schema differs from the version before.
    pub drift: Vec<SchemaChange>,
}

impl Lake {
    /// The exact version a ref names (no selector: the latest).
    pub fn resolve(&self, r: &DatasetRef) -> Result<VersionRow> {
        self.catalog().reader().resolve(r)
    }

    /// Everything about the version a ref names.
    pub fn describe(&self, r: &DatasetRef) -> Result<VersionInfo> {
        let catalog = self.catalog();
        let tx = catalog.reader();
        let version = tx.resolve(r)?;
        Ok(VersionInfo {
            lifecycle: tx.version_lifecycle(version.id)?,
            meta: tx.dataset_meta(version.dataset_id)?,
            reference: version.reference(),
            tags: tx.version_tags(version.id)?,
            holds: tx.holds(version.id)?,
            columns: tx.columns(version.schema_id)?,
            drift: tx.schema_changes(version.id)?,
            sources: tx.version_sources(version.id)?,
            files: tx.version_files(version.id)?,
            checks: tx.version_checks(version.id)?,
            partitions: tx
                .version_partitions(version.id)?
                .into_iter()
                .map(|(partition, rows)| Partition { partition, rows })
                .collect(),
            version,
        })
    }

    /// A dataset's versions, newest first.
    pub fn log(&self, dataset: &DatasetRef) -> Result<Vec<LogEntry>> {
        let catalog = self.catalog();
        let tx = catalog.reader();
        let row = tx.dataset(dataset)?;
        tx.versions(row.id)?
            .into_iter()
            .map(|version| {
                Ok(LogEntry {
                    reference: version.reference(),
                    tags: tx.version_tags(version.id)?,
                    drift: tx.schema_changes(version.id)?,
                    version,
                })
            })
            .collect()
    }

    /// Every dataset, or those of one zone.
    pub fn datasets(&self, zone: Option<Zone>) -> Result<Vec<DatasetSummary>> {
        self.catalog().reader().list_datasets(zone)
    }

    /// Datasets named like `name` (containing it, or a typo away), for "did you mean".
    pub fn similar_datasets(&self, name: &str) -> Result<Vec<DatasetRef>> {
        self.catalog().reader().similar_datasets(name)
    }

    /// The manifest of the version a ref names, read from storage and checked against its digest.
    pub async fn manifest(&self, r: &DatasetRef) -> Result<(VersionRow, Manifest, Vec<u8>)> {
        let version = self.resolve(r)?;
        let bytes = self.storage().get(&version.manifest_key).await?;
        let actual = crate::format::hash::sha256_hex(&bytes);
        if actual != version.digest {
            return Err(Error::Integrity {
                path: self.storage().object_url(&version.manifest_key),
                problem: format!(
                    "sha256 is {actual}, the catalog recorded {}",
                    version.digest
                ),
            });
        }
        let manifest = Manifest::decode(&bytes).map_err(|e| Error::Integrity {
            path: self.storage().object_url(&version.manifest_key),
            problem: format!("not a manifest: {e}"),
        })?;
        Ok((version, manifest, bytes.to_vec()))
    }
}

/// A Parquet file's footer, read from the end of the object.
pub(crate) async fn footer(
    storage: &crate::storage::Storage,
    key: &str,
    size: u64,
) -> Result<ParquetMetaData> {
    let corrupt = |e: parquet::errors::ParquetError| Error::Integrity {
        path: storage.object_url(key),
        problem: format!("cannot read its Parquet footer: {e}"),
    };
    let mut want = size.min(64 * 1024);
    loop {
        let tail = storage.get_range(key, size - want..size).await?;
        let mut reader = ParquetMetaDataReader::new();
        match reader.try_parse_sized(&tail, size) {
            Ok(()) => return reader.finish().map_err(corrupt),
            Err(parquet::errors::ParquetError::NeedMoreData(n))
                if (n as u64) > want && (n as u64) <= size =>
            {
                want = n as u64;
            }
            Err(e) => return Err(corrupt(e)),
        }
    }
}
