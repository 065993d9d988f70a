//! Ingest from a stream (`lake ingest - …`): records read from a pipe, cut into batches by row
//! count, bytes or time, each batch committed as a version through the one ingest path.
//!
//! A batch is cut only at a record boundary (a CSV record may span lines inside quotes). It is
//! spooled to a file beside the catalog, ingested whole (hashed, checked, committed in one
//! transaction, or not at all), and the spool file removed. A stop (SIGINT) is looked at only
//! between records: the batch being read is dropped, never committed in part, and a batch being
//! committed finishes first.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::error::{Error, Result};
use crate::format::source::{CsvOptions, SourceFormat};
use crate::ident::DatasetRef;
use crate::ingest::{IngestMode, IngestReport};
use crate::lake::Lake;

/// When a batch is cut; with none set, the whole stream is one batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchLimits {
    /// Cut a batch at this many rows.
    pub rows: Option<u64>,
    /// Cut a batch at about this many bytes of input.
    pub bytes: Option<u64>,
    /// Cut a batch when it has been open this long.
    pub interval: Option<Duration>,
}

/// What a stream ingest committed, batch by batch.
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    /// The dataset written.
    pub dataset: String,
    /// Each batch committed, in order.
    pub batches: Vec<IngestReport>,
    /// Records read from the stream, committed or not.
    pub records: u64,
    /// Rows committed in all.
    pub committed_rows: u64,
    /// Stopped before the end of input: the records of the batch being read (not committed).
    pub interrupted: bool,
    /// Records read after the last commit, not committed.
    pub uncommitted_records: u64,
    /// The named stream, its committed position (records) at the end, and the records of the
    /// input left out because the stream had already committed them (a re-feed).
    pub stream: Option<String>,
    /// The named stream's committed position at the end.
    pub position: Option<u64>,
    /// Records left out because the stream had committed them already.
    pub skipped_records: u64,
    /// Compactions run between batches (`[maintain] compact_small_files`).
    pub compactions: Vec<crate::compact::CompactReport>,
}

/// Called after each compaction between batches.
pub type CompactFn = std::sync::Arc<dyn Fn(&Result<crate::compact::CompactReport>) + Send + Sync>;

/// Called after each batch commits.
pub type BatchFn = std::sync::Arc<dyn Fn(&IngestReport) + Send + Sync>;

/// A stream ingest; see the module docs.
pub struct StreamIngest<'a> {
    lake: &'a Lake,
    target: DatasetRef,
    format: SourceFormat,
    csv: CsvOptions,
    mode: IngestMode,
    limits: BatchLimits,
    on_batch: Option<BatchFn>,
    on_compact: Option<CompactFn>,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
    /// A named stream, and the offset (in records) at which this input starts.
    stream: Option<(String, Option<u64>)>,
}

impl Lake {
    /// A named stream's committed position.
    pub fn stream_state(&self, name: &str) -> Result<Option<crate::catalog::StreamRow>> {
        self.catalog().reader().stream(name)
    }

    /// The files a watch (a stream of kind `files`) has seen, by key.
    pub fn stream_files(&self, name: &str) -> Result<Vec<crate::catalog::StreamFile>> {
        self.catalog().reader().stream_files(name)
    }

    /// Files watches could not ingest, newest first.
    pub fn dead_letters(&self, limit: u64) -> Result<Vec<crate::catalog::DeadLetter>> {
        self.catalog().reader().dead_letters(limit)
    }

    /// Ingest records of `format` (CSV or NDJSON) from a stream into `target`.
    pub fn ingest_stream(&self, target: DatasetRef, format: SourceFormat) -> StreamIngest<'_> {
        StreamIngest {
            lake: self,
            target,
            format,
            csv: CsvOptions::default(),
            mode: IngestMode::Append,
            limits: BatchLimits::default(),
            on_batch: None,
            on_compact: None,
            stop: None,
            stream: None,
        }
    }
}

impl StreamIngest<'_> {
    /// How CSV input is read.
    pub fn with_csv(mut self, csv: CsvOptions) -> Self {
        self.csv = csv;
        self
    }
    /// The first batch's mode; later batches append.
    pub fn with_mode(mut self, mode: IngestMode) -> Self {
        self.mode = mode;
        self
    }
    /// When batches are cut.
    pub fn with_limits(mut self, limits: BatchLimits) -> Self {
        self.limits = limits;
        self
    }
    /// Call `f` after each batch commits.
    pub fn with_on_batch(mut self, f: BatchFn) -> Self {
        self.on_batch = Some(f);
        self
    }
    /// Told of each compaction run between batches, and of one that failed (the stream goes
    /// on: a failed compaction changes nothing).
    pub fn with_on_compact(mut self, f: CompactFn) -> Self {
        self.on_compact = Some(f);
        self
    }
    /// Commit positions of the named stream with each batch, in the batch's transaction; the
    /// input starts at record `offset` of the stream (by default where it stands). Records the
    /// stream already committed are left out; an offset past its position is refused.
    pub fn with_stream(mut self, name: String, offset: Option<u64>) -> Self {
        self.stream = Some((name, offset));
        self
    }
    /// Once this turns true, the batch being read is dropped and the ingest ends.
    pub fn with_stop(mut self, rx: tokio::sync::watch::Receiver<bool>) -> Self {
        self.stop = Some(rx);
        self
    }

    /// Read `input` to its end (or an interruption), committing a version per batch.
    pub async fn execute(self, input: impl AsyncBufRead + Unpin) -> Result<StreamReport> {
        let Some((name, _)) = &self.stream else {
            return self.read(input, 0, 0).await;
        };
        let lease = format!("stream:{name}");
        if let Some(holder) = self.lake.take_lease(&lease)? {
            return Err(Error::StreamBusy {
                name: name.clone(),
                pid: holder.owner.pid,
                host: holder.owner.host,
            });
        }
        let result = match self.start() {
            Ok((start, skip)) => self.read(input, start, skip).await,
            Err(e) => Err(e),
        };
        let released = self.lake.release_lease(&lease);
        let report = result?;
        released?;
        Ok(report)
    }

    /// Where the input starts in the stream, and how many of its records are already committed.
    fn start(&self) -> Result<(u64, u64)> {
        let Some((name, offset)) = &self.stream else {
            return Ok((0, 0));
        };
        let state = self.lake.stream_state(name)?;
        let position = match &state {
            Some(s) if s.dataset != self.target.to_string() => {
                return Err(Error::StreamElsewhere {
                    name: name.clone(),
                    dataset: s.dataset.clone(),
                });
            }
            Some(s) if s.kind != "records" => {
                return Err(Error::StreamKind {
                    name: name.clone(),
                    kind: s.kind.clone(),
                });
            }
            Some(s) => s.position,
            None => 0,
        };
        let offset = offset.unwrap_or(position);
        if offset > position {
            return Err(Error::StreamGap {
                name: name.clone(),
                offset,
                position,
            });
        }
        Ok((offset, position - offset))
    }

    async fn read(
        &self,
        input: impl AsyncBufRead + Unpin,
        start: u64,
        skip: u64,
    ) -> Result<StreamReport> {
        let format = match self.format {
            SourceFormat::Csv | SourceFormat::Ndjson => self.format,
            other => {
                return Err(Error::StreamFormat {
                    format: other.as_str().to_string(),
                });
            }
        };
        let spool_dir = self.lake.spool_dir()?;
        // Each batch's source is named by this stream and its number: `stdin:<id>/batch-3`.
        let stream_id = uuid::Uuid::now_v7().simple().to_string();
        let mut report = StreamReport {
            dataset: self.target.to_string(),
            batches: Vec::new(),
            records: 0,
            committed_rows: 0,
            interrupted: false,
            uncommitted_records: 0,
            stream: self.stream.as_ref().map(|(n, _)| n.clone()),
            position: self.stream.as_ref().map(|_| start + skip),
            skipped_records: 0,
            compactions: Vec::new(),
        };
        // The stream offset of the next record to read.
        let mut next = start;
        let mut record: Vec<u8> = Vec::new();
        let mut batch_from = start + skip;
        let mut lines = input;
        let mut header: Option<Vec<u8>> = None;
        // The batch being read goes straight to its spool file: memory holds one record.
        let mut batch: Option<Spool> = None;
        let (mut batch_records, mut in_quotes) = (0u64, false);
        let mut batch_started = Instant::now();
        let mut line = Vec::new();
        let mut line_done = true;
        let mut stop = self.stop.clone();
        loop {
            // A line cut short by the interval timer is kept and read on.
            if line_done {
                line.clear();
            }
            // Wait for the next line, a stop, or the batch interval.
            let deadline = self
                .limits
                .interval
                .filter(|_| batch_records > 0)
                .map(|d| tokio::time::Instant::from_std(batch_started + d));
            let read = tokio::select! {
                r = lines.read_until(b'\n', &mut line) => Some(r),
                _ = wait_stop(&mut stop) => {
                    report.interrupted = true;
                    report.uncommitted_records = batch_records;
                    break;
                }
                _ = sleep_until(deadline) => None,
            };
            line_done = read.is_some();
            let eof = match read {
                Some(r) => {
                    let n = r.map_err(|source| Error::Io {
                        path: PathBuf::from("-"),
                        source,
                    })?;
                    n == 0
                }
                None => false,
            };
            if line_done && !line.is_empty() {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                let blank = line.iter().all(u8::is_ascii_whitespace);
                if format == SourceFormat::Csv && self.csv.has_header && header.is_none() {
                    header = Some(line.clone());
                } else if !blank || in_quotes {
                    if format == SourceFormat::Csv {
                        let quotes = line.iter().filter(|&&b| b == b'"').count();
                        if quotes % 2 == 1 {
                            in_quotes = !in_quotes;
                        }
                    }
                    record.extend_from_slice(&line);
                    if !in_quotes {
                        // A whole record: left out if the stream has it, else into the batch.
                        report.records += 1;
                        next += 1;
                        if next <= start + skip {
                            report.skipped_records += 1;
                        } else {
                            if batch.is_none() {
                                batch_started = Instant::now();
                                let mut spool = Spool::create(&spool_dir, self.format)?;
                                if let Some(h) = &header {
                                    spool.write(h)?;
                                }
                                batch = Some(spool);
                            }
                            if let Some(spool) = &mut batch {
                                spool.write(&record)?;
                            }
                            batch_records += 1;
                        }
                        record.clear();
                    }
                }
            }
            let full = self.limits.rows.is_some_and(|n| batch_records >= n)
                || self
                    .limits
                    .bytes
                    .is_some_and(|n| batch.as_ref().is_some_and(|b| b.bytes >= n))
                || self
                    .limits
                    .interval
                    .is_some_and(|d| batch_records > 0 && batch_started.elapsed() >= d);
            if batch_records > 0
                && !in_quotes
                && (full || eof)
                && let Some(spool) = batch.take()
            {
                let committed = self
                    .commit(spool, report.batches.len(), &stream_id, (batch_from, next))
                    .await?;
                batch_from = next;
                if report.position.is_some() {
                    report.position = Some(next);
                }
                report.committed_rows += committed.rows;
                if let Some(f) = &self.on_batch {
                    f(&committed);
                }
                report.batches.push(committed);
                batch_records = 0;
                if let Some(done) = self.lake.compact_if_due(&self.target).await {
                    if let Some(f) = &self.on_compact {
                        f(&done);
                    }
                    if let Ok(c) = done {
                        report.compactions.push(c);
                    }
                }
            }
            if eof {
                if in_quotes {
                    return Err(Error::BadInput {
                        path: PathBuf::from("-"),
                        at: crate::error::Location::File,
                        problem: "the input ends inside a quoted CSV field".into(),
                    });
                }
                break;
            }
        }
        Ok(report)
    }

    /// Ingest one spooled batch as a version; the spool file goes either way.
    async fn commit(
        &self,
        spool: Spool,
        n: usize,
        stream_id: &str,
        (from, to): (u64, u64),
    ) -> Result<IngestReport> {
        let path = spool.finish()?;
        let mode = if n == 0 {
            self.mode
        } else {
            IngestMode::Append
        };
        let mut ingest = self
            .lake
            .ingest(vec![path.to_path_buf()], self.target.clone());
        if let Some((name, _)) = &self.stream {
            // A stream's batch is its records at these offsets: committed even if its bytes
            // repeat an earlier batch, and moving the stream in the same transaction.
            let (name, dataset) = (name.clone(), self.target.to_string());
            ingest = ingest
                .with_force(true)
                .with_on_commit(Box::new(move |tx, row| {
                    let now = crate::clock::timestamp(chrono::Utc::now());
                    if tx.advance_stream(&name, &dataset, (from, to), row.id, &now)? {
                        Ok(())
                    } else {
                        Err(Error::StreamMoved { name })
                    }
                }));
        }
        let ingested = ingest
            .with_format(Some(self.format))
            .with_csv(self.csv.clone())
            .with_mode(mode)
            .with_source_uri(
                path.to_path_buf(),
                format!("stdin:{stream_id}/batch-{}", n + 1),
            )
            .execute()
            .await;
        drop(path);
        ingested
    }
}

/// A batch being read, written to its own file beside the catalog; removed when dropped.
struct Spool {
    path: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    bytes: u64,
}

impl Spool {
    fn create(dir: &std::path::Path, format: SourceFormat) -> Result<Spool> {
        let path = dir.join(format!(
            "{}.{}",
            uuid::Uuid::now_v7().simple(),
            format.as_str()
        ));
        let file = std::fs::File::create(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Spool {
            path,
            file: Some(std::io::BufWriter::with_capacity(1 << 20, file)),
            bytes: 0,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        let file = self
            .file
            .as_mut()
            .expect("a spool is written until finished");
        file.write_all(bytes).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Close the file for reading; it is still removed when the spool is dropped.
    fn finish(mut self) -> Result<SpoolFile> {
        use std::io::Write;
        if let Some(mut file) = self.file.take() {
            file.flush().map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(SpoolFile(std::mem::take(&mut self.path)))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A finished spool file, removed when dropped.
pub(crate) struct SpoolFile(pub(crate) PathBuf);

impl std::ops::Deref for SpoolFile {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Resolves once `stop` turns true; never without one.
pub(crate) async fn wait_stop(stop: &mut Option<tokio::sync::watch::Receiver<bool>>) {
    match stop {
        Some(rx) => {
            if rx.wait_for(|s| *s).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Standard input as an async reader: a thread reads it in chunks (a pipe blocks; the runtime
/// must not), handing them over a small channel.
pub fn stdin() -> impl AsyncBufRead + Unpin {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut input = std::io::stdin().lock();
        loop {
            let mut chunk = vec![0u8; 1 << 20];
            match input.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    chunk.truncate(n);
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    tokio::io::BufReader::with_capacity(
        1 << 20,
        Chunks {
            rx,
            chunk: Vec::new(),
            at: 0,
        },
    )
}

struct Chunks {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
}

impl tokio::io::AsyncRead for Chunks {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        while self.at == self.chunk.len() {
            match self.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(Some(Ok(chunk))) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
            }
        }
        let n = buf.remaining().min(self.chunk.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.chunk[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}
