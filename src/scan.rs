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
//! same order on every run. With verification on, no byte reaches the decoder unchecked: a file
//! with block hashes in the manifest (every file lake writes) is fetched in whole blocks, each
//! checked against its sha256 as it arrives, so a read is one pass; an older file without them
//! is hashed whole before any of its rows are returned. A few units decode at once, on their own
//! tasks; their batches come out in unit order all the same.

use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchReader, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector,
};
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::catalog::{VersionRow, VersionState};
use crate::error::{Error, Result};
use crate::format::Manifest;
use crate::format::manifest::{Blocks, ManifestFile};
use crate::ident::DatasetRef;
use crate::lake::Lake;
use crate::storage::Storage;

/// A deterministic shuffle: the same seed, epoch, buffer and batch size give the same order in
/// every run, and in Python.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shuffle {
    /// The run's seed.
    pub seed: u64,
    /// The epoch: each gives another order of the same rows.
    pub epoch: u64,
    /// Also shuffle rows within a buffer of this many rows (0: units only).
    pub buffer_rows: usize,
}

/// What a scan reads and how: columns, batch size, one shard, a shuffle, verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// Only these columns (default: all).
    pub columns: Option<Vec<String>>,
    /// The most rows in one batch.
    pub batch_size: usize,
    /// `(rank, world_size)`
    pub shard: Option<(usize, usize)>,
    /// Read in this shuffled order rather than in manifest order.
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
    /// The file's index in the manifest.
    pub file: usize,
    /// The row group's index in the file.
    pub row_group: usize,
    /// The first row of the unit within the row group.
    pub offset: u64,
    /// The unit's rows.
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
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, epoch: u64) -> Rng {
        Rng(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }
    pub(crate) fn next(&mut self) -> u64 {
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
    /// The version being read.
    pub version: VersionRow,
    /// Its manifest, checked against the digest.
    pub manifest: Manifest,
    /// The units this scan reads, in the order it reads them.
    pub units: Vec<Unit>,
    /// The schema of the batches.
    pub schema: SchemaRef,
    stream: BoxStream<'static, Result<RecordBatch>>,
}

impl Scan {
    /// The batches, in unit order (or the shuffle's).
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
        let reader = Reader::new(
            self.storage().clone(),
            manifest.files.clone(),
            options,
            schema.clone(),
        );
        let units = todo.clone();
        tokio::spawn(async move {
            if let Err(e) = reader.run(units, &tx).await {
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

/// Reads one Parquet object through the lake's storage: ranged reads, footer first. With the
/// file's block hashes, every byte handed to the decoder was fetched as part of a whole block
/// whose sha256 matched the manifest: verification happens in the same pass as the read.
pub(crate) struct ObjectFile {
    storage: Storage,
    key: String,
    size: u64,
    check: Option<Arc<BlockCheck>>,
}

impl ObjectFile {
    /// A reader of the object at `key`, `size` bytes, with nothing to check it against.
    pub(crate) fn unchecked(storage: Storage, key: &str, size: u64) -> ObjectFile {
        ObjectFile {
            storage,
            key: key.to_string(),
            size,
            check: None,
        }
    }
}

/// A file's block hashes, and the scan's cache of verified blocks, keyed by the file's position
/// in the manifest.
struct BlockCheck {
    file: usize,
    blocks: Blocks,
    cache: Arc<BlockCache>,
}

#[derive(Default)]
struct BlockCache {
    recent: std::sync::Mutex<std::collections::VecDeque<((usize, u64), Bytes)>>,
}

/// Verified blocks kept per scan (of [`crate::format::hash::BLOCK_SIZE`] each).
const CACHED_BLOCKS: usize = 64;

impl BlockCache {
    fn get(&self, key: (usize, u64)) -> Option<Bytes> {
        let recent = self.recent.lock().expect("block cache lock");
        recent
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, b)| b.clone())
    }

    fn put(&self, key: (usize, u64), bytes: Bytes) {
        let mut recent = self.recent.lock().expect("block cache lock");
        if recent.len() >= CACHED_BLOCKS {
            recent.pop_front();
        }
        recent.push_back((key, bytes));
    }
}

impl ObjectFile {
    fn integrity(&self, problem: String) -> Error {
        Error::Integrity {
            path: self.storage.object_url(&self.key),
            problem,
        }
    }

    /// The bytes of `range`, from whole blocks that were each checked against the manifest
    /// (the most recent kept, so neighbouring reads fetch and hash each block once).
    async fn read_checked(&self, check: &BlockCheck, range: std::ops::Range<u64>) -> Result<Bytes> {
        if range.start >= range.end {
            return Ok(Bytes::new());
        }
        if range.end > self.size {
            return Err(self.integrity(format!(
                "a read of bytes {range:?} goes past its size of {} bytes in the manifest",
                self.size
            )));
        }
        let (cache, file, blocks) = (&check.cache, check.file, &check.blocks);
        let bs = blocks.size;
        let (first, last) = (range.start / bs, (range.end - 1) / bs);
        let mut parts = Vec::with_capacity((last - first + 1) as usize);
        let mut i = first;
        while i <= last {
            if let Some(b) = cache.get((file, i)) {
                parts.push(b);
                i += 1;
                continue;
            }
            let mut j = i;
            while j < last && cache.get((file, j + 1)).is_none() {
                j += 1;
            }
            let (start, end) = (i * bs, ((j + 1) * bs).min(self.size));
            let fetched = self.storage.get_range(&self.key, start..end).await?;
            if fetched.len() as u64 != end - start {
                return Err(self.integrity(format!(
                    "bytes {start}..{end} came back as {} bytes; the file is shorter than the manifest says",
                    fetched.len()
                )));
            }
            for k in i..=j {
                let from = ((k - i) * bs) as usize;
                let block = fetched.slice(from..(from + bs as usize).min(fetched.len()));
                let found = crate::format::hash::sha256_hex(&block);
                let expected = blocks.sha256.get(k as usize);
                if expected != Some(&found) {
                    return Err(self.integrity(format!(
                        "block {k} (bytes {}..{}) has sha256 {found}; the manifest says {}",
                        k * bs,
                        k * bs + block.len() as u64,
                        expected.map_or("no block there", |e| e.as_str())
                    )));
                }
                cache.put((file, k), block.clone());
                parts.push(block);
            }
            i = j + 1;
        }
        let offset = (range.start - first * bs) as usize;
        let len = (range.end - range.start) as usize;
        if parts.len() == 1 {
            return Ok(parts[0].slice(offset..offset + len));
        }
        let mut out = Vec::with_capacity(len);
        let mut skip = offset;
        for part in &parts {
            let take = &part[skip.min(part.len())..];
            skip = skip.saturating_sub(part.len());
            out.extend_from_slice(&take[..take.len().min(len - out.len())]);
        }
        Ok(Bytes::from(out))
    }
}

fn external(e: Error) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(e))
}

impl AsyncFileReader for ObjectFile {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> futures::future::BoxFuture<'_, parquet::errors::Result<Bytes>> {
        Box::pin(async move {
            match &self.check {
                Some(check) => self.read_checked(check, range).await,
                None => self.storage.get_range(&self.key, range).await,
            }
            .map_err(external)
        })
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> futures::future::BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        Box::pin(async move {
            let size = self.size;
            let offset_index = options.map_or(PageIndexPolicy::Skip, |o| o.offset_index_policy());
            let metadata = ParquetMetaDataReader::new()
                .with_prefetch_hint(Some(64 * 1024))
                .with_offset_index_policy(offset_index)
                .load_and_finish(&mut *self, size)
                .await?;
            Ok(Arc::new(metadata))
        })
    }
}

/// The error a Parquet failure stands for: ours when it carried one (a block that does not
/// hash), else an integrity error naming the file.
fn parquet_failure(storage: &Storage, key: &str, e: parquet::errors::ParquetError) -> Error {
    match e {
        parquet::errors::ParquetError::External(inner) => match inner.downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => Error::Integrity {
                path: storage.object_url(key),
                problem: other.to_string(),
            },
        },
        other => Error::Integrity {
            path: storage.object_url(key),
            problem: format!("cannot read it as Parquet: {other}"),
        },
    }
}

/// What every unit of one file shares: its footer, read (and checked) once.
struct OpenFile {
    metadata: ArrowReaderMetadata,
    check: Option<Arc<BlockCheck>>,
}

/// Units decoded at once, each on its own task (the version's order is kept).
const PARALLEL_UNITS: usize = 2;

#[derive(Clone)]
struct Reader {
    storage: Storage,
    files: Arc<Vec<ManifestFile>>,
    options: ScanOptions,
    schema: SchemaRef,
    opened: Arc<Vec<tokio::sync::OnceCell<Arc<OpenFile>>>>,
    cache: Arc<BlockCache>,
}

impl Reader {
    fn new(
        storage: Storage,
        files: Vec<ManifestFile>,
        options: ScanOptions,
        schema: SchemaRef,
    ) -> Self {
        let opened = (0..files.len())
            .map(|_| tokio::sync::OnceCell::new())
            .collect();
        Reader {
            storage,
            files: Arc::new(files),
            options,
            schema,
            opened: Arc::new(opened),
            cache: Arc::new(BlockCache::default()),
        }
    }

    /// File `i` opened: checked whole first when it has no block hashes (and verification is
    /// on), then its footer read.
    async fn open(&self, i: usize) -> Result<Arc<OpenFile>> {
        let f = &self.files[i];
        self.opened[i]
            .get_or_try_init(|| async {
                let check = match (&f.blocks, self.options.verify) {
                    (Some(blocks), true) => Some(Arc::new(BlockCheck {
                        file: i,
                        blocks: blocks.clone(),
                        cache: self.cache.clone(),
                    })),
                    (None, true) => {
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
                        None
                    }
                    (_, false) => None,
                };
                let mut reader = self.object(i, check.clone());
                // The offset index lets a unit fetch only the pages holding its rows.
                let metadata = ArrowReaderMetadata::load_async(
                    &mut reader,
                    ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional),
                )
                .await
                .map_err(|e| parquet_failure(&self.storage, &f.path, e))?;
                Ok(Arc::new(OpenFile { metadata, check }))
            })
            .await
            .cloned()
    }

    fn object(&self, i: usize, check: Option<Arc<BlockCheck>>) -> ObjectFile {
        let f = &self.files[i];
        ObjectFile {
            storage: self.storage.clone(),
            key: f.path.clone(),
            size: f.size,
            check,
        }
    }

    /// Decode one unit, sending its batches (in the version's shape) to `tx`.
    async fn unit(&self, unit: Unit, tx: &mpsc::Sender<Result<RecordBatch>>) -> Result<()> {
        let f = &self.files[unit.file];
        let open = self.open(unit.file).await?;
        let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(
            self.object(unit.file, open.check.clone()),
            open.metadata.clone(),
        );
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
            .map_err(|e| parquet_failure(&self.storage, &f.path, e))?;
        while let Some(batch) = stream
            .try_next()
            .await
            .map_err(|e| parquet_failure(&self.storage, &f.path, e))?
        {
            // In the version's shape: columns added since as nulls, widened types cast.
            let batch = crate::format::schema::conform(&batch, &self.schema).map_err(|e| {
                Error::Integrity {
                    path: self.storage.object_url(&f.path),
                    problem: format!("does not fit the version's schema: {e}"),
                }
            })?;
            if tx.send(Ok(batch)).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Decode `units` a few at a time, handing their batches on in unit order.
    async fn run(self, units: Vec<Unit>, tx: &mpsc::Sender<Result<RecordBatch>>) -> Result<()> {
        let mut buffer: Vec<RecordBatch> = Vec::new();
        let mut buffered = 0usize;
        let shuffle = self.options.shuffle.filter(|s| s.buffer_rows > 0);
        let mut rng = shuffle.map(|s| Rng::new(s.seed ^ 0x5555, s.epoch));
        let mut todo = units.into_iter();
        let mut running = std::collections::VecDeque::new();
        let spawn = |unit: Unit| {
            let (unit_tx, unit_rx) = mpsc::channel::<Result<RecordBatch>>(2);
            let reader = self.clone();
            let task = tokio::spawn(async move {
                if let Err(e) = reader.unit(unit, &unit_tx).await {
                    let _ = unit_tx.send(Err(e)).await;
                }
            });
            (unit_rx, task)
        };
        loop {
            while running.len() < PARALLEL_UNITS {
                match todo.next() {
                    Some(unit) => running.push_back(spawn(unit)),
                    None => break,
                }
            }
            let Some((mut unit_rx, task)) = running.pop_front() else {
                break;
            };
            while let Some(batch) = unit_rx.recv().await {
                // Returning drops the other units' receivers: their tasks stop at their next send.
                let batch = batch?;
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
            let _ = task.await;
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

/// Every row of `files` (some of one version's), in the version's shape `schema` and in file
/// order, each file checked against its hashes as it is read: for writers that rewrite files.
pub(crate) fn read_files(
    storage: Storage,
    files: Vec<ManifestFile>,
    schema: SchemaRef,
) -> mpsc::Receiver<Result<RecordBatch>> {
    let units: Vec<Unit> = files
        .iter()
        .enumerate()
        .flat_map(|(file, f)| {
            f.row_groups
                .iter()
                .enumerate()
                .map(move |(row_group, &rows)| Unit {
                    file,
                    row_group,
                    offset: 0,
                    rows,
                })
        })
        .collect();
    let (tx, rx) = mpsc::channel::<Result<RecordBatch>>(2);
    let reader = Reader::new(storage, files, ScanOptions::default(), schema);
    tokio::spawn(async move {
        if let Err(e) = reader.run(units, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    rx
}

/// A scan for code that is not async: an iterator of batches with a runtime of its own.
pub struct BlockingScan {
    runtime: tokio::runtime::Runtime,
    stream: BoxStream<'static, Result<RecordBatch>>,
    /// The version being read.
    pub version: VersionRow,
    /// The units this scan reads, in order.
    pub units: Vec<Unit>,
    /// The schema of the batches.
    pub schema: SchemaRef,
}

impl Lake {
    /// [`Lake::scan`] as a blocking iterator. Call it outside any async runtime.
    pub fn scan_blocking(&self, r: &DatasetRef, options: ScanOptions) -> Result<BlockingScan> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(PARALLEL_UNITS)
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

impl BlockingScan {
    /// The scan as Arrow's standard [`RecordBatchReader`], for code that takes one (Arrow IPC and
    /// Parquet writers, the C stream interface). A failed read is an
    /// [`ArrowError::ExternalError`] holding the [`Error`], which `downcast_ref` recovers.
    pub fn into_reader(self) -> ScanReader {
        ScanReader(self)
    }
}

/// A [`BlockingScan`] as a [`RecordBatchReader`]; made by [`BlockingScan::into_reader`].
pub struct ScanReader(BlockingScan);

impl ScanReader {
    /// The version being read.
    pub fn version(&self) -> &VersionRow {
        &self.0.version
    }
}

impl Iterator for ScanReader {
    type Item = std::result::Result<RecordBatch, ArrowError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0
            .next()
            .map(|r| r.map_err(|e| ArrowError::ExternalError(Box::new(e))))
    }
}

impl RecordBatchReader for ScanReader {
    fn schema(&self) -> SchemaRef {
        self.0.schema.clone()
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
        overwrite(&lake, key, bytes).await;
        let scan = lake.scan(&r, ScanOptions::default()).await.unwrap();
        let err = scan
            .into_stream()
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Integrity { .. }), "{err}");
        assert!(err.to_string().contains("the manifest says"), "{err}");
    }

    /// Replace the object at `key` by `bytes`.
    async fn overwrite(lake: &Lake, key: &str, bytes: Vec<u8>) {
        lake.storage().delete(key).await.unwrap();
        lake.storage()
            .put_new(key, bytes::Bytes::from(bytes))
            .await
            .unwrap();
    }

    /// Read `manifest`'s units with a reader of its own, as the scan would.
    async fn read_all(lake: &Lake, manifest: &Manifest) -> Result<usize> {
        let schema = Arc::new(crate::format::schema::schema_from_json(&manifest.schema).unwrap());
        let reader = Reader::new(
            lake.storage().clone(),
            manifest.files.clone(),
            ScanOptions::default(),
            schema,
        );
        let (tx, mut rx) = mpsc::channel(1024);
        let todo = units(manifest);
        let run = tokio::spawn(async move { reader.run(todo, &tx).await });
        let mut rows = 0;
        while let Some(b) = rx.recv().await {
            rows += b?.num_rows();
        }
        run.await.unwrap()?;
        Ok(rows)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_file_written_has_block_hashes_that_match_its_bytes() {
        let (lake, r) = lake_with_rows(3000).await;
        let (_, manifest, _) = lake.manifest(&r).await.unwrap();
        for f in &manifest.files {
            let blocks = f.blocks.as_ref().expect("block hashes in the manifest");
            let bytes = lake.storage().get(&f.path).await.unwrap();
            let expected: Vec<String> = bytes
                .chunks(blocks.size as usize)
                .map(crate::format::hash::sha256_hex)
                .collect();
            assert_eq!(blocks.sha256, expected);
        }
        assert_eq!(read_all(&lake, &manifest).await.unwrap(), 3000);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_without_block_hashes_is_checked_whole() {
        let (lake, r) = lake_with_rows(300).await;
        let (_, mut manifest, _) = lake.manifest(&r).await.unwrap();
        for f in &mut manifest.files {
            f.blocks = None;
        }
        assert_eq!(read_all(&lake, &manifest).await.unwrap(), 300);
        let key = manifest.files[0].path.clone();
        let mut bytes = lake.storage().get(&key).await.unwrap().to_vec();
        let last = bytes.len() - 20;
        bytes[last] ^= 0x01;
        overwrite(&lake, &key, bytes).await;
        let err = read_all(&lake, &manifest).await.unwrap_err();
        assert!(
            err.to_string().contains("bytes); the manifest says"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_truncated_file_stops_the_read() {
        let (lake, r) = lake_with_rows(300).await;
        let (_, manifest, _) = lake.manifest(&r).await.unwrap();
        let key = &manifest.files[0].path;
        let bytes = lake.storage().get(key).await.unwrap().to_vec();
        overwrite(&lake, key, bytes[..bytes.len() - 100].to_vec()).await;
        let err = read_all(&lake, &manifest).await.unwrap_err();
        assert!(
            matches!(err, Error::Integrity { .. } | Error::Storage { .. }),
            "{err}"
        );
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
