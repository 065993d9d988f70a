//! Pinned reads for training: one exact version as a stream of Arrow batches.
//!
//! The manifest is the read contract: it is fetched and checked against the version's digest,
//! and the units of work are row ranges of its files' row groups, in manifest order: each row
//! group is cut into ranges of `S = max(1, rows / 64)` rows (the last one shorter), so a version
//! has at least 64 units, or one per row when it has fewer rows. A shard `(rank, world)` takes
//! units `k` with `k % world == rank`, so the shards are disjoint and together are the version,
//! each row once, and every rank of a world up to 64 gets rows whenever the version has at least
//! as many rows as ranks (`python/lake_manifest.py` applies the same rule). A shuffle permutes
//! the shard's units with a generator seeded by `(seed, epoch)`, and optionally rows within a
//! bounded buffer: the same version, seed, epoch and world size give the same batches in the
//! same order on every run. With verification on, each file's sha256 is checked against the
//! manifest before any of its rows are returned.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::SchemaRef;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector,
};
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::file::metadata::ParquetMetaData;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::catalog::{VersionRow, VersionState};
use crate::error::{Error, Result};
use crate::format::Manifest;
use crate::format::manifest::ManifestFile;
use crate::ident::DatasetRef;
use crate::lake::Lake;
use crate::storage::Storage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shuffle {
    pub seed: u64,
    pub epoch: u64,
    /// Also shuffle rows within a buffer of this many rows (0: units only).
    pub buffer_rows: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// Only these columns (default: all).
    pub columns: Option<Vec<String>>,
    pub batch_size: usize,
    /// `(rank, world_size)`
    pub shard: Option<(usize, usize)>,
    pub shuffle: Option<Shuffle>,
    /// Check each file's sha256 against the manifest before reading it.
    pub verify: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            columns: None,
            batch_size: 8192,
            shard: None,
            shuffle: None,
            verify: true,
        }
    }
}

/// A unit of work: `rows` rows from `offset` in one row group of one file, by position in the
/// manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Unit {
    pub file: usize,
    pub row_group: usize,
    pub offset: u64,
    pub rows: u64,
}

/// Units per version at the least (when it has that many rows): a world of up to this many
/// ranks gives every rank rows.
pub const MIN_UNITS: u64 = 64;

/// Every unit of a manifest, in manifest order: each row group cut into ranges of
/// `max(1, rows / MIN_UNITS)` rows.
pub fn units(manifest: &Manifest) -> Vec<Unit> {
    let total: u64 = manifest.files.iter().flat_map(|f| &f.row_groups).sum();
    let size = (total / MIN_UNITS).max(1);
    let mut out = Vec::new();
    for (file, f) in manifest.files.iter().enumerate() {
        for (row_group, &rows) in f.row_groups.iter().enumerate() {
            let mut offset = 0;
            while offset < rows {
                let n = size.min(rows - offset);
                out.push(Unit {
                    file,
                    row_group,
                    offset,
                    rows: n,
                });
                offset += n;
            }
        }
    }
    out
}

/// The units of shard `rank` of `world`.
pub fn shard(units: &[Unit], rank: usize, world: usize) -> Vec<Unit> {
    units
        .iter()
        .enumerate()
        .filter(|(k, _)| k % world == rank)
        .map(|(_, u)| *u)
        .collect()
}

/// SplitMix64: small, fast, and the same everywhere, so an order can be reproduced years later.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, epoch: u64) -> Rng {
        Rng(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Fisher-Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// A version opened for reading.
pub struct Scan {
    pub version: VersionRow,
    pub manifest: Manifest,
    /// The units this scan reads, in the order it reads them.
    pub units: Vec<Unit>,
    pub schema: SchemaRef,
    stream: BoxStream<'static, Result<RecordBatch>>,
}

impl Scan {
    pub fn into_stream(self) -> BoxStream<'static, Result<RecordBatch>> {
        self.stream
    }
}

impl Lake {
    /// Open the version `r` names for a pinned read.
    pub async fn scan(&self, r: &DatasetRef, options: ScanOptions) -> Result<Scan> {
        let version = self.resolve(r)?;
        if version.state != VersionState::Active {
            return Err(Error::VersionArchived {
                version: version.reference().to_string(),
                state: version.state.as_str(),
            });
        }
        let (_, manifest, _) = self.manifest(&version.reference()).await?;
        let mut todo = units(&manifest);
        if let Some((rank, world)) = options.shard {
            if world == 0 || rank >= world {
                return Err(Error::InvalidRef {
                    input: format!("{rank}/{world}"),
                    reason: "a shard is RANK/WORLD with 0 <= RANK < WORLD".into(),
                });
            }
            todo = shard(&todo, rank, world);
        }
        if let Some(s) = options.shuffle {
            Rng::new(s.seed, s.epoch).shuffle(&mut todo);
        }
        let schema = self.read_schema(&manifest, &options).await?;
        let (tx, rx) = mpsc::channel::<Result<RecordBatch>>(2);
        let reader = Reader {
            storage: self.storage().clone(),
            files: manifest.files.clone(),
            units: todo.clone(),
            options,
            schema: schema.clone(),
        };
        tokio::spawn(async move {
            if let Err(e) = reader.run(&tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        let stream =
            futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) })
                .boxed();
        Ok(Scan {
            version,
            manifest,
            units: todo,
            schema,
            stream,
        })
    }

    /// The Arrow schema of what a scan returns: the version's own (its manifest's), so files
    /// written before a column was added or widened read back in the version's shape. With
    /// `columns`, those columns in the version's order.
    async fn read_schema(&self, manifest: &Manifest, options: &ScanOptions) -> Result<SchemaRef> {
        let all = crate::format::schema::schema_from_json(&manifest.schema)
            .map_err(|e| Error::Internal(format!("manifest schema: {e}")))?;
        Ok(match &options.columns {
            Some(cols) => {
                let mut idx = cols
                    .iter()
                    .map(|c| column_index(&all, c))
                    .collect::<Result<Vec<_>>>()?;
                idx.sort_unstable();
                idx.dedup();
                Arc::new(
                    all.project(&idx)
                        .map_err(|e| Error::Internal(e.to_string()))?,
                )
            }
            None => Arc::new(all),
        })
    }
}

fn column_index(schema: &arrow::datatypes::Schema, name: &str) -> Result<usize> {
    schema.index_of(name).map_err(|_| Error::NotFound {
        what: "column",
        name: name.to_string(),
    })
}

/// Reads one Parquet object through the lake's storage: ranged reads, footer first.
struct ObjectFile {
    storage: Storage,
    key: String,
    size: u64,
}

impl AsyncFileReader for ObjectFile {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<bytes::Bytes>> {
        Box::pin(async move {
            self.storage
                .get_range(&self.key, range)
                .await
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
        })
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> futures::future::BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        Box::pin(async move {
            crate::read::footer(&self.storage, &self.key, self.size)
                .await
                .map(Arc::new)
                .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
        })
    }
}

/// A reader of one file's row groups. Its footer is fetched once and kept in `footers`, so
/// reading a file's row groups one unit at a time does not fetch the footer again.
async fn open(
    storage: &Storage,
    f: &ManifestFile,
    footers: &mut HashMap<String, ArrowReaderMetadata>,
) -> Result<ParquetRecordBatchStreamBuilder<ObjectFile>> {
    let mut reader = ObjectFile {
        storage: storage.clone(),
        key: f.path.clone(),
        size: f.size,
    };
    let metadata = match footers.get(&f.path) {
        Some(m) => m.clone(),
        None => {
            let m = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::default())
                .await
                .map_err(|e| Error::Integrity {
                    path: storage.object_url(&f.path),
                    problem: format!("cannot read it as Parquet: {e}"),
                })?;
            footers.insert(f.path.clone(), m.clone());
            m
        }
    };
    Ok(ParquetRecordBatchStreamBuilder::new_with_metadata(
        reader, metadata,
    ))
}

struct Reader {
    storage: Storage,
    files: Vec<ManifestFile>,
    units: Vec<Unit>,
    options: ScanOptions,
    schema: SchemaRef,
}

impl Reader {
    async fn run(self, tx: &mpsc::Sender<Result<RecordBatch>>) -> Result<()> {
        let mut verified = HashSet::new();
        let mut footers = HashMap::new();
        let mut buffer: Vec<RecordBatch> = Vec::new();
        let mut buffered = 0usize;
        let shuffle = self.options.shuffle.filter(|s| s.buffer_rows > 0);
        let mut rng = shuffle.map(|s| Rng::new(s.seed ^ 0x5555, s.epoch));
        for unit in &self.units {
            let f = &self.files[unit.file];
            if self.options.verify && verified.insert(unit.file) {
                let (sha, size) = self.storage.hash(&f.path).await?;
                if sha != f.sha256 || size != f.size {
                    return Err(Error::Integrity {
                        path: self.storage.object_url(&f.path),
                        problem: format!(
                            "sha256 {sha} ({size} bytes); the manifest says {} ({} bytes)",
                            f.sha256, f.size
                        ),
                    });
                }
            }
            let builder = open(&self.storage, f, &mut footers).await?;
            // Read the columns of the scan this file has; the rest are added as nulls below.
            let file_schema = builder.schema().clone();
            let idx: Vec<usize> = self
                .schema
                .fields()
                .iter()
                .filter_map(|field| file_schema.index_of(field.name()).ok())
                .collect();
            let mask = ProjectionMask::roots(builder.parquet_schema(), idx);
            let selection = RowSelection::from(vec![
                RowSelector::skip(unit.offset as usize),
                RowSelector::select(unit.rows as usize),
            ]);
            let mut stream = builder
                .with_row_groups(vec![unit.row_group])
                .with_row_selection(selection)
                .with_projection(mask)
                .with_batch_size(self.options.batch_size.max(1))
                .build()
                .map_err(|e| Error::Integrity {
                    path: self.storage.object_url(&f.path),
                    problem: e.to_string(),
                })?;
            while let Some(batch) = stream.try_next().await.map_err(|e| Error::Integrity {
                path: self.storage.object_url(&f.path),
                problem: e.to_string(),
            })? {
                // In the version's shape: columns added since as nulls, widened types cast.
                let batch = crate::format::schema::conform(&batch, &self.schema).map_err(|e| {
                    Error::Integrity {
                        path: self.storage.object_url(&f.path),
                        problem: format!("does not fit the version's schema: {e}"),
                    }
                })?;
                match (&mut rng, shuffle) {
                    (Some(rng), Some(s)) => {
                        buffered += batch.num_rows();
                        buffer.push(batch);
                        if buffered >= s.buffer_rows {
                            self.flush(&mut buffer, rng, tx).await?;
                            buffered = 0;
                        }
                    }
                    _ => {
                        if tx.send(Ok(batch)).await.is_err() {
                            return Ok(());
                        }
                    }
                }
            }
        }
        if let Some(rng) = &mut rng {
            self.flush(&mut buffer, rng, tx).await?;
        }
        Ok(())
    }

    /// Emit the buffered rows in a shuffled order, in batches of the configured size.
    async fn flush(
        &self,
        buffer: &mut Vec<RecordBatch>,
        rng: &mut Rng,
        tx: &mpsc::Sender<Result<RecordBatch>>,
    ) -> Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        let all = concat_batches(&self.schema, buffer.iter())
            .map_err(|e| Error::Internal(e.to_string()))?;
        buffer.clear();
        let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
        rng.shuffle(&mut order);
        for chunk in order.chunks(self.options.batch_size.max(1)) {
            let batch = take_record_batch(&all, &UInt32Array::from(chunk.to_vec()))
                .map_err(|e| Error::Internal(e.to_string()))?;
            if tx.send(Ok(batch)).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// A scan for code that is not async: an iterator of batches with a runtime of its own.
pub struct BlockingScan {
    runtime: tokio::runtime::Runtime,
    stream: BoxStream<'static, Result<RecordBatch>>,
    pub version: VersionRow,
    pub units: Vec<Unit>,
    pub schema: SchemaRef,
}

impl Lake {
    /// [`Lake::scan`] as a blocking iterator. Call it outside any async runtime.
    pub fn scan_blocking(&self, r: &DatasetRef, options: ScanOptions) -> Result<BlockingScan> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start a runtime: {e}")))?;
        let scan = runtime.block_on(self.scan(r, options))?;
        Ok(BlockingScan {
            version: scan.version.clone(),
            units: scan.units.clone(),
            schema: scan.schema.clone(),
            stream: scan.into_stream(),
            runtime,
        })
    }
}

impl Iterator for BlockingScan {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        self.runtime.block_on(self.stream.next())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;

    use super::*;
    use crate::catalog::Catalog;
    use crate::config::Config;

    /// An in-memory lake whose bronze.rows@v1 holds ids 0..n in row groups of 100 over files of
    /// at most about 1 MiB.
    async fn lake_with_rows(n: i64) -> (Lake, DatasetRef) {
        let mut config = Config::new(None, None);
        config.ingest.row_group_rows = 100;
        let lake = Lake::from_parts(
            PathBuf::from("."),
            config,
            Storage::in_memory(),
            Storage::in_memory(),
            Catalog::open_in_memory().unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        let mut csv = String::from("id,x\n");
        for i in 0..n {
            csv.push_str(&format!("{i},{}\n", i * 7 % 13));
        }
        std::fs::write(&path, csv).unwrap();
        let r: DatasetRef = "bronze.rows".parse().unwrap();
        lake.ingest(vec![path], r.clone()).execute().await.unwrap();
        (lake, r.at(crate::ident::Version(1)))
    }

    async fn ids(lake: &Lake, r: &DatasetRef, options: ScanOptions) -> Vec<i64> {
        let scan = lake.scan(r, options).await.unwrap();
        let batches: Vec<RecordBatch> = scan.into_stream().try_collect().await.unwrap();
        batches
            .iter()
            .flat_map(|b| {
                b.column_by_name("id")
                    .unwrap()
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shards_are_disjoint_and_complete() {
        let (lake, r) = lake_with_rows(1050).await;
        for world in [1, 2, 3, 7] {
            let mut all = Vec::new();
            for rank in 0..world {
                let options = ScanOptions {
                    shard: Some((rank, world)),
                    ..Default::default()
                };
                all.extend(ids(&lake, &r, options).await);
            }
            let unique: BTreeSet<i64> = all.iter().copied().collect();
            assert_eq!(all.len(), 1050, "world {world}: each row once");
            assert_eq!(unique, (0..1050).collect(), "world {world}: every row");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shuffles_repeat_per_seed_and_epoch_and_differ_across_epochs() {
        let (lake, r) = lake_with_rows(1000).await;
        let with = |epoch: u64, buffer_rows: usize| ScanOptions {
            shard: Some((1, 2)),
            shuffle: Some(Shuffle {
                seed: 42,
                epoch,
                buffer_rows,
            }),
            batch_size: 64,
            ..Default::default()
        };
        let a = ids(&lake, &r, with(0, 0)).await;
        let b = ids(&lake, &r, with(0, 0)).await;
        let c = ids(&lake, &r, with(1, 0)).await;
        assert_eq!(a, b, "same seed and epoch, same order");
        assert_ne!(a, c, "another epoch, another order");
        let mut sorted_a = a.clone();
        sorted_a.sort();
        let mut sorted_c = c.clone();
        sorted_c.sort();
        assert_eq!(sorted_a, sorted_c, "the same rows either way");
        let plain = ids(
            &lake,
            &r,
            ScanOptions {
                shard: Some((1, 2)),
                ..Default::default()
            },
        )
        .await;
        let buffered = ids(&lake, &r, with(0, 250)).await;
        assert_eq!(buffered, ids(&lake, &r, with(0, 250)).await);
        assert_ne!(buffered, a, "rows shuffle within the buffer too");
        let mut sorted_b = buffered.clone();
        sorted_b.sort();
        let mut sorted_p = plain.clone();
        sorted_p.sort();
        assert_eq!(sorted_b, sorted_p);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn projection_and_batch_size_apply() {
        let (lake, r) = lake_with_rows(300).await;
        let options = ScanOptions {
            columns: Some(vec!["x".into()]),
            batch_size: 40,
            ..Default::default()
        };
        let scan = lake.scan(&r, options).await.unwrap();
        assert_eq!(scan.schema.fields().len(), 1);
        let batches: Vec<RecordBatch> = scan.into_stream().try_collect().await.unwrap();
        assert!(
            batches
                .iter()
                .all(|b| b.num_columns() == 1 && b.num_rows() <= 40)
        );
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 300);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn columns_come_in_file_order_whatever_order_is_asked() {
        let (lake, r) = lake_with_rows(300).await;
        let options = ScanOptions {
            columns: Some(vec!["x".into(), "id".into()]),
            shuffle: Some(Shuffle {
                seed: 1,
                epoch: 0,
                buffer_rows: 100,
            }),
            ..Default::default()
        };
        let scan = lake.scan(&r, options).await.unwrap();
        let names: Vec<&str> = scan
            .schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, ["id", "x"]);
        let batches: Vec<RecordBatch> = scan.into_stream().try_collect().await.unwrap();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 300);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_altered_file_stops_the_read() {
        let (lake, r) = lake_with_rows(300).await;
        let (_, manifest, _) = lake.manifest(&r).await.unwrap();
        let key = &manifest.files[0].path;
        let mut bytes = lake.storage().get(key).await.unwrap().to_vec();
        bytes[10] ^= 0xff;
        lake.storage().delete(key).await.unwrap();
        lake.storage()
            .put_new(key, bytes::Bytes::from(bytes))
            .await
            .unwrap();
        let scan = lake.scan(&r, ScanOptions::default()).await.unwrap();
        let err = scan
            .into_stream()
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Integrity { .. }), "{err}");
        assert!(err.to_string().contains("the manifest says"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_archived_version_fails_fast() {
        let (lake, r) = lake_with_rows(10).await;
        lake.catalog()
            .write(|tx| {
                let v = tx.resolve(&r)?;
                tx.set_version_state(v.id, "archived", "2026-01-01T00:00:00.000000Z", None)
            })
            .unwrap();
        let err = lake.scan(&r, ScanOptions::default()).await.err().unwrap();
        assert!(matches!(err, Error::VersionArchived { .. }), "{err}");
    }

    #[test]
    fn the_blocking_iterator_reads_the_same_rows() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (lake, r) = rt.block_on(lake_with_rows(500));
        drop(rt);
        let rows: usize = lake
            .scan_blocking(&r, ScanOptions::default())
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
        assert_eq!(rows, 500);
    }
}
