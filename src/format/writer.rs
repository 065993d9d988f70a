//! Parquet encoding: zstd, bounded row groups, and a sha256 of every byte as it is written.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::hash::HashingWriter;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EncodeOptions {
    pub row_group_rows: usize,
    pub zstd_level: i32,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            row_group_rows: 1 << 20,
            zstd_level: 1,
        }
    }
}

impl EncodeOptions {
    fn properties(&self) -> Result<WriterProperties, ParquetError> {
        Ok(WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(self.zstd_level)?))
            .set_max_row_group_row_count(Some(self.row_group_rows))
            // Row groups also stop at this many bytes, so wide rows keep memory bounded.
            .set_max_row_group_bytes(Some(128 << 20))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_created_by(format!("lake {}", env!("CARGO_PKG_VERSION")))
            .build())
    }
}

/// A Parquet file that was written and closed.
#[derive(Debug)]
pub(crate) struct WrittenFile<W> {
    pub sink: W,
    pub sha256: String,
    pub size: u64,
    pub rows: u64,
    pub row_groups: Vec<u64>,
    /// sha256 of each [`super::hash::BLOCK_SIZE`] block.
    pub blocks: Vec<String>,
}

/// Encodes batches into one Parquet file on `W`, hashing as it writes.
pub(crate) struct ParquetFileWriter<W: Write + Send> {
    inner: ArrowWriter<HashingWriter<W>>,
}

impl<W: Write + Send> ParquetFileWriter<W> {
    pub(crate) fn new(
        sink: W,
        schema: SchemaRef,
        options: &EncodeOptions,
    ) -> Result<Self, ParquetError> {
        let inner = ArrowWriter::try_new(
            HashingWriter::new(sink),
            schema,
            Some(options.properties()?),
        )?;
        Ok(ParquetFileWriter { inner })
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        self.inner.write(batch)
    }

    /// The sink, to abort it when the file is given up.
    pub(crate) fn sink_mut(&mut self) -> &mut W {
        self.inner.inner_mut().get_mut()
    }

    /// Bytes written so far plus the encoded size of the row group in progress.
    pub(crate) fn size_estimate(&self) -> u64 {
        self.inner.bytes_written() as u64 + self.inner.in_progress_size() as u64
    }

    pub(crate) fn finish(mut self) -> Result<WrittenFile<W>, ParquetError> {
        // Close the last row group, note the row groups, then let `into_inner` write the footer.
        self.inner.flush()?;
        let row_groups: Vec<u64> = self
            .inner
            .flushed_row_groups()
            .iter()
            .map(|rg| rg.num_rows() as u64)
            .collect();
        let written = self.inner.into_inner()?.finish();
        Ok(WrittenFile {
            sink: written.sink,
            sha256: written.sha256,
            size: written.size,
            rows: row_groups.iter().sum(),
            row_groups,
            blocks: written.blocks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::hash::sha256_hex;
    use arrow::array::Int64Array;
    use bytes::Bytes;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    #[test]
    fn writes_row_groups_and_hashes_the_bytes() {
        let batch = RecordBatch::try_from_iter([(
            "id",
            Arc::new(Int64Array::from_iter_values(0..2500)) as _,
        )])
        .unwrap();
        let options = EncodeOptions {
            row_group_rows: 1000,
            zstd_level: 1,
        };
        let mut w = ParquetFileWriter::new(Vec::new(), batch.schema(), &options).unwrap();
        w.write(&batch).unwrap();
        let file = w.finish().unwrap();
        assert_eq!(file.row_groups, [1000, 1000, 500]);
        assert_eq!(file.rows, 2500);
        assert_eq!(file.size, file.sink.len() as u64);
        assert_eq!(file.sha256, sha256_hex(&file.sink));
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(file.sink))
            .unwrap()
            .build()
            .unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 2500);
    }
}
