//! Writing data objects: Arrow batches in, Parquet files in object storage out.
//!
//! The encoder runs on a thread of its own, fed through a bounded channel, so the producer
//! (a decoding thread or a query stream) and the encoder use both cores while memory stays
//! bounded by a few batches and one row group. Files roll over at the configured size; every
//! byte is hashed as it is written. Nothing here makes a version visible: see `commit.rs`, whose
//! staged write owns the encoder and the objects it writes.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::errors::ParquetError;
use tokio::sync::mpsc;

use crate::format::manifest::Blocks;

use crate::catalog::FileRow;
use crate::error::{Error, Result};
use crate::format::{EncodeOptions, ParquetFileWriter};
use crate::ident::DatasetRef;
use crate::lake::Lake;
use crate::storage::{self, BlockingObjectWriter, Storage, layout};

/// Batches waiting for the encoder.
const BATCHES_IN_FLIGHT: usize = 4;

/// The sending half of a [`DataWriter`].
pub(crate) type BatchSender = mpsc::Sender<RecordBatch>;

/// A running encoder for one dataset's new files.
pub(crate) struct DataWriter {
    sender: BatchSender,
    encoder: tokio::task::JoinHandle<(Vec<FileRow>, Option<Error>)>,
}

impl Lake {
    /// Start encoding batches of `schema` into new data files of `dataset`, named by `write_id`
    /// and numbered from `first_seq`.
    pub(crate) fn data_writer(
        &self,
        dataset: &DatasetRef,
        write_id: &str,
        first_seq: usize,
        schema: SchemaRef,
    ) -> DataWriter {
        let (sender, receiver) = mpsc::channel(BATCHES_IN_FLIGHT);
        let options = &self.config().ingest;
        let encode = EncodeOptions {
            row_group_rows: options.row_group_rows,
            zstd_level: options.zstd_level,
        };
        let target_bytes = options.target_file_mb * 1024 * 1024;
        let storage = self.storage().clone();
        let target = Target {
            dataset: dataset.clone(),
            write_id: write_id.to_string(),
            first_seq,
        };
        let handle = tokio::runtime::Handle::current();
        let encoder = tokio::task::spawn_blocking(move || {
            encode_files(
                receiver,
                &storage,
                handle,
                &target,
                schema,
                &encode,
                target_bytes,
            )
        });
        DataWriter { sender, encoder }
    }
}

impl DataWriter {
    /// A sender for the producer; sending fails once the encoder has stopped on an error.
    pub(crate) fn sender(&self) -> BatchSender {
        self.sender.clone()
    }

    /// Wait for the encoder to drain the channel and close its last file. Every sender must be
    /// dropped first. Returns the files written and, if it stopped early, why.
    pub(crate) async fn finish(self) -> (Vec<FileRow>, Option<Error>) {
        drop(self.sender);
        match self.encoder.await {
            Ok(result) => result,
            Err(e) => (
                Vec::new(),
                Some(Error::Internal(format!("encoder thread: {e}"))),
            ),
        }
    }
}

/// Where an encoder's files go.
struct Target {
    dataset: DatasetRef,
    write_id: String,
    first_seq: usize,
}

/// The encoder thread. A half-written file is aborted (no upload is left open); completed ones
/// are returned either way, so the caller can remove them if the operation fails.
fn encode_files(
    mut receiver: mpsc::Receiver<RecordBatch>,
    storage: &Storage,
    handle: tokio::runtime::Handle,
    target: &Target,
    schema: SchemaRef,
    options: &EncodeOptions,
    target_bytes: u64,
) -> (Vec<FileRow>, Option<Error>) {
    let dataset = &target.dataset;
    let mut files = Vec::new();
    let mut current: Option<ParquetFileWriter<BlockingObjectWriter>> = None;
    let encode_err = |e: ParquetError| parquet_error(dataset, e);
    let finish =
        |w: ParquetFileWriter<BlockingObjectWriter>, files: &mut Vec<FileRow>| -> Result<()> {
            let written = w.finish().map_err(encode_err)?;
            let key = written.sink.key().to_string();
            written.sink.finish()?;
            crate::failpoint::hit("write.file_done")?;
            files.push(FileRow {
                path: key,
                sha256: written.sha256,
                size: written.size,
                rows: written.rows,
                row_groups: written.row_groups,
                blocks: Some(Blocks {
                    size: crate::format::hash::BLOCK_SIZE,
                    sha256: written.blocks,
                }),
                partition: None,
            });
            Ok(())
        };
    while let Some(batch) = receiver.blocking_recv() {
        let writer = match current.as_mut() {
            Some(w) => w,
            None => {
                let seq = target.first_seq + files.len();
                let key = layout::data_file(dataset, &target.write_id, seq);
                let sink = storage.writer(&key).into_blocking(handle.clone());
                match ParquetFileWriter::new(sink, schema.clone(), options) {
                    Ok(w) => current.insert(w),
                    Err(e) => return (files, Some(encode_err(e))),
                }
            }
        };
        if let Err(e) = writer.write(&batch) {
            if let Some(mut w) = current.take() {
                w.sink_mut().abort();
            }
            return (files, Some(encode_err(e)));
        }
        if writer.size_estimate() >= target_bytes {
            let w = current.take().expect("just written");
            if let Err(e) = finish(w, &mut files) {
                return (files, Some(e));
            }
        }
    }
    if let Some(w) = current.take()
        && let Err(e) = finish(w, &mut files)
    {
        return (files, Some(e));
    }
    (files, None)
}

/// A Parquet error, unless it carries a storage failure from the sink (then that).
fn parquet_error(dataset: &DatasetRef, e: ParquetError) -> Error {
    let encode = |source| Error::Encode {
        dataset: dataset.dataset_name(),
        source,
    };
    let ParquetError::External(inner) = e else {
        return encode(e);
    };
    match inner.downcast::<std::io::Error>() {
        Ok(io) => match storage::storage_error(*io) {
            Ok(storage_error) => storage_error,
            Err(io) => encode(ParquetError::External(Box::new(io))),
        },
        Err(other) => encode(ParquetError::External(other)),
    }
}
