//! Reading source files: CSV, NDJSON, JSON and Parquet, decoded to Arrow batches as they stream.
//!
//! Every byte of a text source passes through one sha256 as it is decoded; nothing is read
//! twice to hash it. Schema inference reads only the first records. Problems are reported with
//! the file and the line (or byte offset) where they are, in words a user can act on.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

use super::hash::HashingReader;
use super::json::JsonRecords;
use super::quotes::{QuoteProblem, QuoteScan};
use super::schema::{check_names, conform};
use crate::error::{Error, Location, Result};

/// Bytes read from a source at a time.
const READ_CHUNK: usize = 4 << 20;

/// How a source is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// Comma- (or otherwise) separated values.
    Csv,
    /// One JSON object per line.
    Ndjson,
    /// A JSON array of objects (or one object).
    Json,
    /// Parquet.
    Parquet,
}

/// How a source's bytes are stored: as they are, or compressed (decoded as they stream; the
/// sha256 is of the bytes as stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Stored as it is.
    #[default]
    None,
    /// gzip (`.gz`).
    Gzip,
    /// zstd (`.zst`).
    Zstd,
}

impl Compression {
    /// `.gz` / `.gzip` and `.zst` / `.zstd` by the file's last extension.
    pub fn from_path(path: &Path) -> Compression {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("gz" | "gzip") => Compression::Gzip,
            Some("zst" | "zstd") => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// `none`, `gzip` or `zstd`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// A file's extension under any compression suffix, lowercased: `csv` for `Orders.CSV.gz`.
fn inner_extension(path: &Path) -> Option<String> {
    let inner;
    let path = if Compression::from_path(path) == Compression::None {
        path
    } else {
        inner = PathBuf::from(path.file_stem()?);
        inner.as_path()
    };
    Some(path.extension()?.to_str()?.to_ascii_lowercase())
}

impl std::str::FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "none" => Ok(Compression::None),
            "gzip" | "gz" => Ok(Compression::Gzip),
            "zstd" | "zst" => Ok(Compression::Zstd),
            other => Err(format!(
                "unknown compression `{other}`; expected gzip, zstd or none"
            )),
        }
    }
}

/// A source file's bytes as stored, hashed as they are read, decoded as they stream.
pub(super) enum Stored {
    Plain(HashingReader<File>),
    Gzip(Box<flate2::read::MultiGzDecoder<BufReader<HashingReader<File>>>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<HashingReader<File>>>),
}

impl Stored {
    pub(super) fn open(source: &Source) -> Result<Stored> {
        let path = source.path.as_path();
        let hashing = HashingReader::new(open(path)?);
        Ok(match source.compression {
            Compression::None => Stored::Plain(hashing),
            Compression::Gzip => Stored::Gzip(Box::new(flate2::read::MultiGzDecoder::new(
                BufReader::with_capacity(READ_CHUNK, hashing),
            ))),
            Compression::Zstd => Stored::Zstd(
                zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(
                    READ_CHUNK, hashing,
                ))
                .map_err(io_err(path))?,
            ),
        })
    }

    /// Stored bytes read so far.
    fn stored_bytes(&self) -> u64 {
        match self {
            Stored::Plain(h) => h.bytes(),
            Stored::Gzip(d) => d.get_ref().get_ref().bytes(),
            Stored::Zstd(d) => d.get_ref().get_ref().bytes(),
        }
    }

    /// The sha256 and size of the whole file as stored (what the decoder left is read too).
    fn finish(self) -> std::io::Result<(String, u64)> {
        match self {
            Stored::Plain(h) => h.finish(),
            Stored::Gzip(d) => d.into_inner().into_inner().finish(),
            Stored::Zstd(d) => d.finish().into_inner().finish(),
        }
    }
}

impl std::io::Read for Stored {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stored::Plain(r) => r.read(buf),
            Stored::Gzip(r) => r.read(buf),
            Stored::Zstd(r) => r.read(buf),
        }
    }
}

/// For a compressed source whose reading failed: whether its bytes fail to decompress, said
/// as such (a second pass, taken only once something already went wrong).
fn decompress_problem(source: &Source) -> Option<Error> {
    if source.compression == Compression::None {
        return None;
    }
    let mut stored = Stored::open(source).ok()?;
    std::io::copy(&mut stored, &mut std::io::sink())
        .err()
        .map(read_err(source))
}

/// A read error of a source, said as what it means for a compressed one.
fn read_err(source: &Source) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| match source.compression {
        Compression::None => Error::Io {
            path: source.path.clone(),
            source: e,
        },
        c => bad(
            &source.path,
            Location::File,
            format!(
                "cannot decompress it as {}: {e} (is it truncated, or not {} at all?)",
                c.as_str(),
                c.as_str()
            ),
        ),
    }
}

impl SourceFormat {
    /// `csv`, `ndjson`, `json` or `parquet`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Csv => "csv",
            SourceFormat::Ndjson => "ndjson",
            SourceFormat::Json => "json",
            SourceFormat::Parquet => "parquet",
        }
    }

    /// The format a file's extension names, if any; `orders.csv.gz` is CSV.
    pub fn from_path(path: &Path) -> Option<SourceFormat> {
        let ext = inner_extension(path)?;
        Some(match ext.as_str() {
            "csv" | "tsv" | "txt" => SourceFormat::Csv,
            "ndjson" | "jsonl" => SourceFormat::Ndjson,
            "json" => SourceFormat::Json,
            "parquet" | "pq" => SourceFormat::Parquet,
            _ => return None,
        })
    }
}

impl std::str::FromStr for SourceFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "csv" => Ok(SourceFormat::Csv),
            "ndjson" | "jsonl" => Ok(SourceFormat::Ndjson),
            "json" => Ok(SourceFormat::Json),
            "parquet" => Ok(SourceFormat::Parquet),
            other => Err(format!(
                "unknown format `{other}`; expected csv, ndjson, json or parquet"
            )),
        }
    }
}

/// How CSV sources are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// `None`: `,`, or tab for `.tsv` files (`.tsv.gz` too).
    pub delimiter: Option<u8>,
    /// The first row names the columns.
    pub has_header: bool,
    /// A value that means null, besides the empty field.
    pub null_value: Option<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            has_header: true,
            null_value: None,
        }
    }
}

impl CsvOptions {
    pub(super) fn delimiter_for(&self, path: &Path) -> u8 {
        self.delimiter.unwrap_or_else(|| {
            let tsv = inner_extension(path).is_some_and(|e| e == "tsv");
            if tsv { b'\t' } else { b',' }
        })
    }

    pub(super) fn format(&self, path: &Path) -> arrow::csv::reader::Format {
        let format = arrow::csv::reader::Format::default()
            .with_header(self.has_header)
            .with_delimiter(self.delimiter_for(path));
        // Without a null value, the empty field is null; arrow tests that without a regex,
        // which matters at a gigabyte of fields.
        match &self.null_value {
            Some(v) => {
                let pattern = format!("^(?:|{})$", regex::escape(v));
                format.with_null_regex(
                    regex::Regex::new(&pattern).expect("an escaped literal is a valid regex"),
                )
            }
            None => format,
        }
    }
}

/// One source file to read.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub path: PathBuf,
    pub format: SourceFormat,
    /// Stored size, in bytes (compressed, for a compressed source).
    pub size: u64,
    pub compression: Compression,
}

/// What reading a whole source found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceStats {
    pub sha256: String,
    pub size: u64,
    pub rows: u64,
}

pub(super) fn bad(path: &Path, at: Location, problem: impl Into<String>) -> Error {
    Error::BadInput {
        path: path.to_path_buf(),
        at,
        problem: problem.into(),
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Inferred types, made regular: every timestamp in microseconds, so files and versions that
/// differ only in sub-second digits do not drift.
fn normalize(schema: Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let dt = match f.data_type() {
                DataType::Timestamp(_, tz) => {
                    DataType::Timestamp(TimeUnit::Microsecond, tz.clone())
                }
                DataType::Null => DataType::Utf8,
                other => other.clone(),
            };
            Field::new(f.name(), dt, true)
        })
        .collect();
    Schema::new(fields)
}

/// The source's own columns, in file order, with types inferred from its first `infer_rows`
/// records (or, with `rows == 0`, only its column names, all strings).
pub(crate) fn infer_schema(source: &Source, csv: &CsvOptions, infer_rows: usize) -> Result<Schema> {
    let path = source.path.as_path();
    if source.size == 0 {
        return Err(bad(path, Location::File, "the file is empty"));
    }
    match source.format {
        SourceFormat::Csv => {
            let (schema, records) = csv
                .format(path)
                .infer_schema(
                    BufReader::new(Stored::open(source)?),
                    Some(infer_rows.max(1)),
                )
                .map_err(|e| {
                    decompress_problem(source).unwrap_or_else(|| {
                        super::csv_refusal::refusal(source, csv, None, Some(infer_rows.max(1)), &e)
                    })
                })?;
            if records == 0 {
                let problem = if csv.has_header {
                    "the file has a header but no data rows"
                } else {
                    "the file has no rows"
                };
                return Err(bad(path, Location::File, problem));
            }
            check_names(schema.fields().iter().map(|f| f.name().as_str()))
                .map_err(|p| bad(path, Location::Line(1), format!("header: {p}")))?;
            Ok(normalize(schema))
        }
        SourceFormat::Ndjson | SourceFormat::Json => {
            let mut values = Vec::new();
            let mut records = JsonRecords::new(BufReader::new(Stored::open(source)?));
            while values.len() < infer_rows.max(1) {
                let next = records.next_record().map_err(|e| match e {
                    super::json::ScanError::Io(io) => read_err(source)(io),
                    e => e.at(path),
                })?;
                let Some((line, bytes)) = next else {
                    break;
                };
                let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                    bad(
                        path,
                        Location::Line(line + e.line() as u64 - 1),
                        json_problem(&e),
                    )
                })?;
                values.push(value);
            }
            if values.is_empty() {
                return Err(bad(path, Location::File, "the file has no JSON records"));
            }
            let schema =
                arrow::json::reader::infer_json_schema_from_iterator(values.iter().map(Ok))
                    .map_err(|e| bad(path, Location::File, e.to_string()))?;
            Ok(normalize(schema))
        }
        SourceFormat::Parquet => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(open(path)?).map_err(|e| {
                bad(
                    path,
                    Location::File,
                    format!("not a readable Parquet file: {e}"),
                )
            })?;
            if builder.metadata().file_metadata().num_rows() == 0 {
                return Err(bad(path, Location::File, "the file has no rows"));
            }
            let fields: Vec<Field> = builder
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_metadata(Default::default()))
                .collect();
            Ok(Schema::new(fields))
        }
    }
}

/// The schema to decode a source with: its own columns in file order, typed as in `target`.
pub(crate) fn decode_schema(own: &Schema, target: &Schema) -> Schema {
    let fields: Vec<Field> = own
        .fields()
        .iter()
        .map(|f| match target.field_with_name(f.name()) {
            Ok(t) => Field::new(f.name(), t.data_type().clone(), true),
            Err(_) => f.as_ref().clone(),
        })
        .collect();
    Schema::new(fields)
}

/// Read the whole source, handing `emit` batches shaped as `target`, and `progress` the bytes
/// read as they go. `own` is the source's own columns typed for decoding (see [`decode_schema`]).
pub(crate) fn decode(
    source: &Source,
    csv: &CsvOptions,
    own: &Schema,
    target: &SchemaRef,
    batch_size: usize,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SourceStats> {
    let path = source.path.as_path();
    let own = Arc::new(own.clone());
    let mut rows = 0u64;
    let mut send = |batch: RecordBatch| -> Result<()> {
        rows += batch.num_rows() as u64;
        let batch = conform(&batch, target).map_err(|e| {
            bad(
                path,
                Location::File,
                format!("cannot convert to the dataset's schema: {e}"),
            )
        })?;
        emit(batch)
    };
    let (sha256, size) = match source.format {
        SourceFormat::Csv => {
            let mut decoder = arrow::csv::ReaderBuilder::new(own.clone())
                .with_format(csv.format(path))
                .with_batch_size(batch_size)
                .build_decoder();
            let mut reader = BufReader::with_capacity(READ_CHUNK, Stored::open(source)?);
            let mut reported = 0u64;
            let mut quotes = QuoteScan::new(csv.delimiter_for(path));
            let refused =
                |e: &ArrowError| super::csv_refusal::refusal(source, csv, Some(&own), None, e);
            let quote_err = |p: QuoteProblem| bad(path, Location::Line(p.line()), p.message());
            loop {
                let buf = reader.fill_buf().map_err(read_err(source))?;
                let len = buf.len();
                let consumed = decoder.decode(buf).map_err(|e| refused(&e))?;
                quotes.feed(&buf[..consumed]).map_err(quote_err)?;
                reader.consume(consumed);
                // Progress counts stored bytes: a compressed source's own size is the total.
                let stored = reader.get_ref().stored_bytes();
                if stored > reported {
                    progress(stored - reported);
                    reported = stored;
                }
                if consumed == 0 || decoder.capacity() == 0 {
                    match decoder.flush().map_err(|e| refused(&e))? {
                        Some(batch) => send(batch)?,
                        None if len == 0 => break,
                        None => {}
                    }
                }
            }
            quotes.finish().map_err(quote_err)?;
            reader.into_inner().finish().map_err(read_err(source))?
        }
        SourceFormat::Ndjson | SourceFormat::Json
            if source.compression == Compression::None && starts_with_object(path)? =>
        {
            super::ndjson::decode(path, &own, batch_size, &mut send, progress)?
        }
        SourceFormat::Ndjson | SourceFormat::Json => {
            let reader = Stored::open(source)?;
            let mut records = JsonRecords::new(BufReader::with_capacity(READ_CHUNK, reader));
            decode_records(&mut records, path, &own, batch_size, &mut send, progress)?;
            records
                .into_inner()
                .into_inner()
                .finish()
                .map_err(read_err(source))?
        }
        SourceFormat::Parquet => {
            // The footer comes first, so the hash is a pass of its own; Parquet sources are
            // compressed, and sha256 runs far faster than decoding.
            let (sha256, size) = HashingReader::new(open(path)?)
                .finish()
                .map_err(io_err(path))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(open(path)?)
                .and_then(|b| b.with_batch_size(batch_size).build())
                .map_err(|e| {
                    bad(
                        path,
                        Location::File,
                        format!("not a readable Parquet file: {e}"),
                    )
                })?;
            for batch in reader {
                let batch = batch
                    .map_err(|e| bad(path, Location::File, format!("corrupt Parquet data: {e}")))?;
                progress(0);
                send(batch)?;
            }
            progress(size);
            (sha256, size)
        }
    };
    Ok(SourceStats { sha256, size, rows })
}

/// Is the first thing in the JSON source at `path` (after a byte order mark and white space) an
/// object, so that it is a stream of objects rather than one array?
fn starts_with_object(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 * 1024);
    open(path)?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(io_err(path))?;
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    Ok(head
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{'))
}

/// How far a reader has read, for progress.
pub(super) trait Position {
    fn position(&self) -> u64;
}

impl Position for BufReader<Stored> {
    fn position(&self) -> u64 {
        self.get_ref().stored_bytes()
    }
}

impl Position for std::io::Cursor<&[u8]> {
    fn position(&self) -> u64 {
        std::io::Cursor::position(self)
    }
}

/// Split `records` and decode them in batches of `batch_size`, handing each to `send`. Every
/// complaint names its line.
pub(super) fn decode_records<R: BufRead + Position>(
    records: &mut JsonRecords<R>,
    path: &Path,
    own: &SchemaRef,
    batch_size: usize,
    send: &mut dyn FnMut(RecordBatch) -> Result<()>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let mut chunk = JsonChunk::default();
    let mut reported = 0u64;
    loop {
        let next = records.next_record().map_err(|e| e.at(path))?;
        let done = next.is_none();
        if let Some((line, bytes)) = next {
            chunk.push(line, &bytes);
        }
        if chunk.len() >= batch_size || (done && chunk.len() > 0) {
            send(chunk.decode(path, own, batch_size)?)?;
            let read = records.get_ref().position();
            progress(read - reported);
            reported = read;
        }
        if done {
            return Ok(());
        }
    }
}

/// NDJSON/JSON records waiting to be decoded together, with the line each starts on.
#[derive(Default)]
pub(super) struct JsonChunk {
    bytes: Vec<u8>,
    records: Vec<(u64, std::ops::Range<usize>)>,
}

impl JsonChunk {
    fn push(&mut self, line: u64, record: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(record);
        self.records.push((line, start..self.bytes.len()));
        self.bytes.push(b'\n');
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    pub(super) fn decoder(
        schema: &SchemaRef,
        batch_size: usize,
    ) -> Result<arrow::json::reader::Decoder> {
        arrow::json::ReaderBuilder::new(schema.clone())
            .with_batch_size(batch_size.max(1))
            .with_strict_mode(true)
            // A column inferred as string keeps numbers and booleans as their JSON text.
            .with_coerce_primitive(true)
            .build_decoder()
            .map_err(|e| Error::Internal(format!("json decoder: {e}")))
    }

    /// Decode every record into one batch; on failure, find the first bad record and name its line.
    fn decode(
        &mut self,
        path: &Path,
        schema: &SchemaRef,
        batch_size: usize,
    ) -> Result<RecordBatch> {
        let mut decoder = Self::decoder(schema, batch_size.max(self.len()))?;
        let result = decoder
            .decode(&self.bytes)
            .and_then(|_| decoder.flush())
            .map(|b| b.unwrap_or_else(|| RecordBatch::new_empty(schema.clone())));
        match result {
            Ok(batch) => {
                self.bytes.clear();
                self.records.clear();
                Ok(batch)
            }
            Err(e) => Err(self.locate(path, schema, e)?),
        }
    }

    fn locate(&self, path: &Path, schema: &SchemaRef, fallback: ArrowError) -> Result<Error> {
        for (line, range) in &self.records {
            let record = &self.bytes[range.clone()];
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(record) {
                return Ok(bad(
                    path,
                    Location::Line(line + e.line() as u64 - 1),
                    json_problem(&e),
                ));
            }
            let mut one = Self::decoder(schema, 1)?;
            if let Err(e) = one.decode(record).and_then(|_| one.flush()) {
                return Ok(bad(
                    path,
                    Location::Line(*line),
                    arrow_json_problem(record, schema, &e),
                ));
            }
        }
        Ok(bad(path, Location::File, fallback.to_string()))
    }
}

fn json_problem(e: &serde_json::Error) -> String {
    // serde_json appends " at line L column C"; the location is reported separately.
    let text = e.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    format!("malformed JSON: {text}")
}

/// What is wrong with one JSON `record` that Arrow's strict decoder refused as `schema`: a field
/// the schema does not have, found by reading the record's keys, or Arrow's words for a value.
fn arrow_json_problem(record: &[u8], schema: &Schema, e: &ArrowError) -> String {
    let unknown = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(record)
        .ok()
        .and_then(|object| {
            object
                .into_iter()
                .map(|(key, _)| key)
                .find(|key| schema.field_with_name(key).is_err())
        });
    if let Some(field) = unknown {
        return format!(
            "field `{field}` is not in the schema inferred from the first records; pass --schema to declare it"
        );
    }
    let text = e.to_string();
    let text = text
        .trim_start_matches("Json error: ")
        .trim_start_matches("Parser error: ");
    format!("{text} (the type was inferred from the first records; pass --schema to set it)")
}

/// The sha256 and size of a whole file (for sources that may already be in the dataset).
pub(crate) fn hash_file(path: &Path) -> Result<(String, u64)> {
    HashingReader::new(open(path)?)
        .finish()
        .map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole read path of an ingest over `bytes`: infer, store, decode; rows read.
    fn read(dir: &Path, name: &str, bytes: &[u8]) -> Result<u64> {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let format = SourceFormat::from_path(&path).unwrap();
        let source = Source {
            compression: Compression::from_path(&path),
            path,
            format,
            size: bytes.len() as u64,
        };
        let csv = CsvOptions::default();
        let own = infer_schema(&source, &csv, 1000)?;
        let target =
            Arc::new(
                super::super::schema::storable(&own).map_err(|problem| Error::BadInput {
                    path: source.path.clone(),
                    at: Location::File,
                    problem,
                })?,
            );
        let own = decode_schema(&own, &target);
        let stats = decode(&source, &csv, &own, &target, 64, &mut |_| Ok(()), &|_| {})?;
        Ok(stats.rows)
    }

    /// Mutated inputs never panic and never fail as a bug: each is read, or refused naming the
    /// file (a short, fixed run here; the corpus in tests/corpus covers named cases).
    #[test]
    fn mutated_csv_and_json_are_read_or_refused_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let seeds: [(&str, &[u8]); 3] = [
            (
                "m.csv",
                b"id,name,amount,when\n1,\"a, \"\"b\"\"\",1.5,2026-01-01\n2,plain,-3,2026-02-01\n3,\"multi\nline\",,2026-03-01\n",
            ),
            (
                "m.ndjson",
                b"{\"a\":1,\"s\":{\"t\":[1,2,{\"u\":\"x\"}]},\"b\":null}\n{\"a\":2.5,\"b\":\"y\"}\n",
            ),
            ("m.json", b"[{\"k\":\"v\",\"n\":[1,[2,[3]]]},{\"k\":null}]"),
        ];
        let alphabet = b"\",\n\r{}[]\\:0a\xff\x00 -.e";
        let mut rng = crate::scan::Rng::new(0x5EED, 0);
        let mut next = move || rng.next();
        let (mut read_ok, mut refused) = (0, 0);
        for (name, seed) in seeds {
            for _ in 0..400 {
                let mut bytes = seed.to_vec();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % (bytes.len() + 1);
                    let b = alphabet[(next() as usize) % alphabet.len()];
                    match next() % 4 {
                        0 if at < bytes.len() => bytes[at] = b,
                        1 => bytes.insert(at, b),
                        2 if at < bytes.len() => {
                            bytes.remove(at);
                        }
                        _ => bytes.truncate(at),
                    }
                }
                let shown = String::from_utf8_lossy(&bytes).into_owned();
                let result = std::panic::catch_unwind(|| read(dir.path(), name, &bytes))
                    .unwrap_or_else(|_| panic!("panicked on {shown:?}"));
                match result {
                    Ok(_) => read_ok += 1,
                    Err(Error::Internal(e)) => panic!("a bug on {shown:?}: {e}"),
                    Err(e) => {
                        assert!(e.to_string().contains(name), "{e} does not name {name}");
                        refused += 1;
                    }
                }
            }
        }
        assert!(
            read_ok > 0 && refused > 0,
            "{read_ok} read, {refused} refused"
        );
    }
}
