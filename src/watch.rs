//! Watched folders and prefixes (`lake ingest --watch DIR|s3://bucket/prefix/`): every new file
//! becomes part of a version exactly once.
//!
//! A watch is a named stream whose position counts files. Each pass lists the folder or prefix,
//! leaves out what the stream has already seen (by key), waits for files still being written
//! (their size and modification time unchanged for the settle time, or a marker file such as
//! `_SUCCESS` beside them), and ingests the ready ones in batches through the one ingest path.
//! Each file is recorded (key, size, modification time, ETag, sha256) in the transaction that
//! commits its version, so a watcher killed at any point and started again reads on from exactly
//! where the catalog says: no file twice, none left out.
//!
//! A file that cannot be read as data (a parse error, a column that cannot be stored, a type the
//! dataset cannot take) is recorded as a dead letter and the stream goes on; it is tried again
//! only once it changes. A file that changes after it was ingested is not read again (its rows
//! are in a version already); the watch reports it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::catalog::StreamFile;
use crate::error::{Error, Result};
use crate::format::source::{Compression, CsvOptions, SourceFormat};
use crate::ident::DatasetRef;
use crate::ingest::{IngestMode, IngestReport};
use crate::lake::Lake;
use crate::storage::Storage;

/// How a watch decides that a file is ready and how much goes in one version.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// How long a file's size and modification time must stay the same before it is read; by
    /// default 2 s for a folder and none for a prefix (an object appears whole).
    pub settle: Option<Duration>,
    /// Time between passes.
    pub poll: Duration,
    /// Read a file only once a file of this name (`_SUCCESS`) sits in its folder.
    pub marker: Option<String>,
    /// Files per version, at most.
    pub batch_files: usize,
    /// One pass, then stop: ingest what is ready now.
    pub once: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            settle: None,
            poll: Duration::from_secs(2),
            marker: None,
            batch_files: 100,
            once: false,
        }
    }
}

/// What a watch reports as it goes.
#[derive(Debug)]
pub enum WatchEvent<'a> {
    /// A batch of files committed as a version.
    Committed {
        /// What the batch committed.
        report: &'a IngestReport,
        /// The files it held.
        files: &'a [String],
    },
    /// A file that could not be ingested, recorded as a dead letter.
    DeadLetter {
        /// The file's key.
        key: &'a str,
        /// Why it could not be ingested.
        error: &'a str,
    },
    /// A file ingested before has changed since; it is not read again.
    Changed {
        /// The file's key.
        key: &'a str,
    },
    /// The dataset's small files were compacted after a batch (or the compaction failed,
    /// changing nothing).
    Compacted {
        /// The compaction's report, or why it failed.
        result: &'a Result<crate::compact::CompactReport>,
    },
    /// A pass failed for a reason that is not one file's (storage or catalog unreachable); the
    /// next pass tries again.
    PassFailed {
        /// What failed.
        error: &'a Error,
    },
}

/// Called with each [`WatchEvent`].
pub type WatchEventFn = std::sync::Arc<dyn Fn(WatchEvent<'_>) + Send + Sync>;

/// What a watch did, from its start to its stop.
#[derive(Debug, Clone, Serialize)]
pub struct WatchReport {
    /// The watch's stream name.
    pub stream: String,
    /// The dataset written.
    pub dataset: String,
    /// The folder or prefix watched.
    pub source: String,
    /// Listings made.
    pub passes: u64,
    /// Versions committed.
    pub versions: u64,
    /// Files ingested.
    pub files_ingested: u64,
    /// Rows committed.
    pub rows: u64,
    /// Files recorded as dead letters.
    pub dead_letters: u64,
    /// Files seen changed after they were ingested (not read again).
    pub changed: u64,
    /// Files seen but not ready yet when the watch stopped (still settling, or no marker).
    pub pending: u64,
    /// The stream's committed position (files) at the end.
    pub position: u64,
    /// Stopped by a signal rather than by `--once`.
    pub interrupted: bool,
}

/// Where the watched files are.
enum Place {
    Local(PathBuf),
    Remote {
        storage: Storage,
        /// `s3://bucket/prefix`, without a trailing slash.
        url: String,
    },
}

/// One listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    key: String,
    size: u64,
    modified: chrono::DateTime<chrono::Utc>,
    etag: Option<String>,
}

/// What a watcher knows of its files between passes.
struct Seen {
    /// Every file the stream has recorded, by key.
    recorded: HashMap<String, StreamFile>,
    /// Files seen but not ready: how they looked, and since when.
    settling: HashMap<String, (Listed, Instant)>,
    /// Changed files already reported, as they looked then.
    told_changed: HashSet<(String, u64, String)>,
}

impl Listed {
    /// The stream's record of this file as listed (its sha256 is known only to the catalog).
    fn record(&self, status: &str, error: Option<String>) -> StreamFile {
        StreamFile {
            key: self.key.clone(),
            size: self.size,
            modified: crate::clock::timestamp(self.modified),
            etag: self.etag.clone(),
            sha256: None,
            status: status.into(),
            version: None,
            error,
            at: crate::clock::timestamp(chrono::Utc::now()),
        }
    }

    fn same_as(&self, seen: &StreamFile) -> bool {
        self.size == seen.size
            && crate::clock::timestamp(self.modified) == seen.modified
            && self.etag == seen.etag
    }
}

/// A watch; see the module docs.
pub struct Watch<'a> {
    lake: &'a Lake,
    target: DatasetRef,
    source: String,
    name: Option<String>,
    format: Option<SourceFormat>,
    compression: Option<Compression>,
    csv: CsvOptions,
    options: WatchOptions,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
    on_event: Option<WatchEventFn>,
}

impl Lake {
    /// Watch `source` (a folder, or `s3://bucket/prefix/`) and ingest its new files into
    /// `target`.
    pub fn watch(&self, source: &str, target: DatasetRef) -> Watch<'_> {
        Watch {
            lake: self,
            target,
            source: source.to_string(),
            name: None,
            format: None,
            compression: None,
            csv: CsvOptions::default(),
            options: WatchOptions::default(),
            stop: None,
            on_event: None,
        }
    }
}

impl Watch<'_> {
    /// The stream's name; by default `watch:` and the watched folder or prefix.
    pub fn with_stream(mut self, name: Option<String>) -> Self {
        self.name = name;
        self
    }
    /// Read files as this format instead of going by their extensions.
    pub fn with_format(mut self, format: Option<SourceFormat>) -> Self {
        self.format = format;
        self
    }
    /// Read files as stored with this compression.
    pub fn with_compression(mut self, compression: Option<Compression>) -> Self {
        self.compression = compression;
        self
    }
    /// How CSV files are read.
    pub fn with_csv(mut self, csv: CsvOptions) -> Self {
        self.csv = csv;
        self
    }
    /// How the watch lists, settles and batches.
    pub fn with_options(mut self, options: WatchOptions) -> Self {
        self.options = options;
        self
    }
    /// Once this turns true the watch stops; a batch being ingested finishes first.
    pub fn with_stop(mut self, rx: tokio::sync::watch::Receiver<bool>) -> Self {
        self.stop = Some(rx);
        self
    }
    /// Call `f` with each [`WatchEvent`].
    pub fn with_on_event(mut self, f: WatchEventFn) -> Self {
        self.on_event = Some(f);
        self
    }

    /// Watch until stopped (or, with `once`, one pass): each batch of settled files becomes a
    /// version.
    pub async fn execute(self) -> Result<WatchReport> {
        let (place, source) = self.place()?;
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("watch:{source}"));
        let lease = format!("stream:{name}");
        if let Some(holder) = self.lake.take_lease(&lease)? {
            return Err(Error::StreamBusy {
                name,
                pid: holder.owner.pid,
                host: holder.owner.host,
            });
        }
        let result = self.run(&place, &name, &source).await;
        let released = self.lake.release_lease(&lease);
        let report = result?;
        released?;
        Ok(report)
    }

    /// The watched place, and its canonical name (an absolute folder or `s3://bucket/prefix`).
    fn place(&self) -> Result<(Place, String)> {
        if self.source.starts_with("s3://") {
            let url = self.source.trim_end_matches('/').to_string();
            let options = self.lake.config().source_options(&url);
            let storage = Storage::open(&url, self.lake.dir(), &options)?;
            return Ok((
                Place::Remote {
                    storage,
                    url: url.clone(),
                },
                url,
            ));
        }
        if self.source.contains("://") {
            return Err(Error::StorageUrl {
                url: self.source.clone(),
                reason: "a watch reads a local folder or s3://bucket/prefix/".into(),
            });
        }
        let dir = Path::new(&self.source);
        let dir = dir.canonicalize().map_err(|_| Error::SourceNotFound {
            path: dir.to_path_buf(),
        })?;
        if !dir.is_dir() {
            return Err(Error::StorageUrl {
                url: self.source.clone(),
                reason: "a watch reads a folder, not a file".into(),
            });
        }
        let text = dir.display().to_string();
        Ok((Place::Local(dir), text))
    }

    async fn run(&self, place: &Place, name: &str, source: &str) -> Result<WatchReport> {
        let dataset = self.target.to_string();
        let opened = self.lake.catalog().write(|tx| {
            let now = crate::clock::timestamp(chrono::Utc::now());
            tx.open_stream(name, &dataset, "files", source, &now)?;
            tx.stream(name)
        })?;
        match opened {
            Some(s) if s.dataset != dataset => {
                return Err(Error::StreamElsewhere {
                    name: name.to_string(),
                    dataset: s.dataset,
                });
            }
            Some(s) if s.kind != "files" => {
                return Err(Error::StreamKind {
                    name: name.to_string(),
                    kind: s.kind,
                });
            }
            _ => {}
        }
        let settle = self.options.settle.unwrap_or(match place {
            Place::Local(_) => Duration::from_secs(2),
            Place::Remote { .. } => Duration::ZERO,
        });
        let mut report = WatchReport {
            stream: name.to_string(),
            dataset: dataset.clone(),
            source: source.to_string(),
            passes: 0,
            versions: 0,
            files_ingested: 0,
            rows: 0,
            dead_letters: 0,
            changed: 0,
            pending: 0,
            position: 0,
            interrupted: false,
        };
        // What the stream has recorded, read once: one watcher holds the stream, so it changes
        // only by what this watcher records next.
        let mut seen = Seen {
            recorded: self
                .lake
                .stream_files(name)?
                .into_iter()
                .map(|f| (f.key.clone(), f))
                .collect(),
            settling: HashMap::new(),
            told_changed: HashSet::new(),
        };
        let mut stop = self.stop.clone();
        loop {
            if stop.as_ref().is_some_and(|s| *s.borrow()) {
                report.interrupted = true;
                break;
            }
            report.passes += 1;
            let pass = self.pass(place, name, settle, &mut seen, &mut report).await;
            if let Err(e) = pass {
                if self.options.once || matches!(e, Error::StreamMoved { .. }) {
                    return Err(e);
                }
                // A batch may have committed before the failure was seen: what is recorded is
                // read again from the catalog.
                if let Ok(files) = self.lake.stream_files(name) {
                    seen.recorded = files.into_iter().map(|f| (f.key.clone(), f)).collect();
                }
                self.event(WatchEvent::PassFailed { error: &e });
            }
            if self.options.once {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.options.poll) => {}
                _ = crate::stream::wait_stop(&mut stop) => {
                    report.interrupted = true;
                    break;
                }
            }
        }
        report.pending = seen.settling.len() as u64;
        report.position = self.lake.stream_state(name)?.map_or(0, |s| s.position);
        Ok(report)
    }

    fn event(&self, e: WatchEvent<'_>) {
        if let Some(f) = &self.on_event {
            f(e);
        }
    }

    /// One pass: list, pick the ready files, ingest them in batches.
    async fn pass(
        &self,
        place: &Place,
        name: &str,
        settle: Duration,
        seen: &mut Seen,
        report: &mut WatchReport,
    ) -> Result<()> {
        let listed = list(place).await?;
        let Seen {
            recorded,
            settling,
            told_changed,
        } = &mut *seen;
        let marked: HashSet<String> = match &self.options.marker {
            Some(m) => listed
                .iter()
                .filter(|l| file_name(&l.key) == m)
                .map(|l| parent(&l.key).to_string())
                .collect(),
            None => HashSet::new(),
        };
        let now = chrono::Utc::now();
        let mut ready = Vec::new();
        let mut present = HashSet::new();
        for l in listed {
            if !self.is_source(&l.key) {
                continue;
            }
            present.insert(l.key.clone());
            match recorded.get(&l.key) {
                Some(s) if l.same_as(s) => {
                    settling.remove(&l.key);
                    continue;
                }
                Some(s) if s.status == "ingested" => {
                    let stamp = (l.key.clone(), l.size, crate::clock::timestamp(l.modified));
                    if told_changed.insert(stamp) {
                        report.changed += 1;
                        self.event(WatchEvent::Changed { key: &l.key });
                    }
                    continue;
                }
                // New, or a dead letter that has changed since: try it.
                _ => {}
            }
            // Unchanged since when, as far as this watcher has seen.
            let since = match settling.get(&l.key) {
                Some((before, since)) if before == &l => *since,
                _ => {
                    settling.insert(l.key.clone(), (l.clone(), Instant::now()));
                    Instant::now()
                }
            };
            let is_ready = match &self.options.marker {
                Some(_) => marked.contains(parent(&l.key)),
                // Not modified for the settle time: by its own time stamp (a file that was
                // already there), or by what this watcher saw.
                None => {
                    (now - l.modified).to_std().unwrap_or_default() >= settle
                        || since.elapsed() >= settle
                }
            };
            if is_ready {
                settling.remove(&l.key);
                ready.push(l);
            }
        }
        settling.retain(|k, _| present.contains(k));
        // In the order they arrived.
        ready.sort_by(|a, b| a.modified.cmp(&b.modified).then_with(|| a.key.cmp(&b.key)));
        for batch in ready.chunks(self.options.batch_files.max(1)) {
            self.ingest(place, name, batch, seen, report).await?;
            if self.stop.as_ref().is_some_and(|s| *s.borrow()) {
                break;
            }
        }
        Ok(())
    }

    /// A file the watch reads: a known format (or any with `--format`), not hidden, and not
    /// under a `_`-named folder or file (`_SUCCESS`, `_temporary/`).
    fn is_source(&self, key: &str) -> bool {
        if key
            .split('/')
            .any(|part| part.starts_with('.') || part.starts_with('_'))
        {
            return false;
        }
        let known = SourceFormat::from_path(Path::new(key)).is_some();
        known || self.format.is_some()
    }

    /// Ingest `files` as one version. A file whose content fails becomes a dead letter and
    /// the rest are tried again together; a failure that names no file (a type conflict
    /// between files) splits the batch in halves until it does.
    async fn ingest(
        &self,
        place: &Place,
        name: &str,
        files: &[Listed],
        seen: &mut Seen,
        report: &mut WatchReport,
    ) -> Result<()> {
        let mut files = files.to_vec();
        while !files.is_empty() {
            match self.commit(place, name, &files).await {
                Ok(Outcome::Committed(r)) => {
                    let keys: Vec<String> = files.iter().map(|f| f.key.clone()).collect();
                    for f in &files {
                        seen.recorded
                            .insert(f.key.clone(), f.record("ingested", None));
                    }
                    report.versions += 1;
                    report.files_ingested += files.len() as u64;
                    report.rows += r.rows;
                    self.event(WatchEvent::Committed {
                        report: &r,
                        files: &keys,
                    });
                    if let Some(done) = self.lake.compact_if_due(&self.target).await {
                        self.event(WatchEvent::Compacted { result: &done });
                    }
                    return Ok(());
                }
                // A file vanished or grew between the listing and the read: the next pass sees
                // it as it is then.
                Ok(Outcome::Changed) => return Ok(()),
                Ok(Outcome::Culprit(i, error)) => {
                    let f = files.remove(i);
                    self.dead_letter(name, &f, error, seen, report)?;
                }
                Err(e) if is_data_error(&e) && files.len() > 1 => {
                    let (a, b) = files.split_at(files.len() / 2);
                    Box::pin(self.ingest(place, name, a, seen, report)).await?;
                    return Box::pin(self.ingest(place, name, b, seen, report)).await;
                }
                Err(e) if is_data_error(&e) => {
                    let error = describe(&e, place, &files[0]);
                    return self.dead_letter(name, &files[0], error, seen, report);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn dead_letter(
        &self,
        name: &str,
        f: &Listed,
        error: String,
        seen: &mut Seen,
        report: &mut WatchReport,
    ) -> Result<()> {
        let dead = f.record("dead", Some(error.clone()));
        self.lake
            .catalog()
            .write(|tx| tx.record_stream_file(name, &dead, None))?;
        seen.recorded.insert(f.key.clone(), dead);
        report.dead_letters += 1;
        self.event(WatchEvent::DeadLetter {
            key: &f.key,
            error: &error,
        });
        Ok(())
    }

    /// Read `files` into one version, recording them and moving the stream in its transaction.
    async fn commit(&self, place: &Place, name: &str, files: &[Listed]) -> Result<Outcome> {
        let local = Materialized::new(self.lake, place, files).await?;
        let Some(local) = local else {
            return Ok(Outcome::Changed);
        };
        let mut ingest = self
            .lake
            .ingest(local.paths.clone(), self.target.clone())
            .with_format(self.format)
            .with_compression(self.compression)
            .with_csv(self.csv.clone())
            .with_mode(IngestMode::Append)
            // A watched file is new by its key: committed even if its bytes repeat another's.
            .with_force(true);
        for (path, uri) in local.paths.iter().zip(&local.uris) {
            ingest = ingest.with_source_uri(path.clone(), uri.clone());
        }
        let (name, dataset) = (name.to_string(), self.target.to_string());
        let records: Vec<(Listed, String)> =
            files.iter().cloned().zip(local.uris.clone()).collect();
        let result = ingest
            .with_on_commit(Box::new(move |tx, row| {
                let now = crate::clock::timestamp(chrono::Utc::now());
                for (f, uri) in &records {
                    let Some((sha256, size)) = tx.added_source(row.id, uri)? else {
                        return Err(Error::Internal(format!("{uri} is not in the new version")));
                    };
                    if size != f.size {
                        return Err(Error::SourceChanged { uri: uri.clone() });
                    }
                    let file = StreamFile {
                        sha256: Some(sha256),
                        at: now.clone(),
                        ..f.record("ingested", None)
                    };
                    if !tx.record_stream_file(&name, &file, Some(row.id))? {
                        return Err(Error::StreamMoved { name: name.clone() });
                    }
                }
                let at = tx.stream(&name)?.map_or(0, |s| s.position);
                let to = at + records.len() as u64;
                if tx.advance(&name, &dataset, ("files", None), (at, to), row.id, &now)? {
                    Ok(())
                } else {
                    Err(Error::StreamMoved { name })
                }
            }))
            .execute()
            .await;
        match result {
            Ok(r) => Ok(Outcome::Committed(Box::new(r))),
            Err(Error::SourceChanged { .. } | Error::SourceNotFound { .. }) => Ok(Outcome::Changed),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(Outcome::Changed)
            }
            Err(e) if is_data_error(&e) => {
                let named = match &e {
                    Error::BadInput { path, .. } | Error::UnknownFormat { path } => {
                        local.paths.iter().position(|p| p == path)
                    }
                    _ => None,
                };
                match named {
                    Some(i) => Ok(Outcome::Culprit(i, describe(&e, place, &files[i]))),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// How one attempt at a batch ended.
enum Outcome {
    Committed(Box<IngestReport>),
    /// A file changed or vanished under the read; nothing was committed.
    Changed,
    /// The file at this index of the batch cannot be read as data; nothing was committed.
    Culprit(usize, String),
}

/// Files of one batch as local paths: the watched folder's own, or copies of a prefix's
/// objects in the spool (removed when dropped).
struct Materialized {
    paths: Vec<PathBuf>,
    uris: Vec<String>,
    spooled: Vec<PathBuf>,
}

impl Materialized {
    /// `None` if an object changed or vanished since it was listed.
    async fn new(lake: &Lake, place: &Place, files: &[Listed]) -> Result<Option<Materialized>> {
        let mut out = Materialized {
            paths: Vec::new(),
            uris: Vec::new(),
            spooled: Vec::new(),
        };
        for f in files {
            match place {
                Place::Local(dir) => {
                    let path = dir.join(&f.key);
                    out.uris.push(crate::ingest::source_uri(&path));
                    out.paths.push(path);
                }
                Place::Remote { storage, url } => {
                    let dir = crate::ingest::spool_folder(lake)?;
                    out.spooled.push(dir.clone());
                    let local = dir.join(file_name(&f.key));
                    match storage.download(&f.key, &local).await {
                        Ok(size) if size == f.size => {}
                        Ok(_) => return Ok(None),
                        Err(e) if crate::storage::is_not_found(&e) => return Ok(None),
                        Err(e) => return Err(e),
                    }
                    out.uris.push(format!("{url}/{}", f.key));
                    out.paths.push(local);
                }
            }
        }
        Ok(Some(out))
    }
}

impl Drop for Materialized {
    fn drop(&mut self) {
        for dir in &self.spooled {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Every file under the watched place, with its size, modification time and ETag.
async fn list(place: &Place) -> Result<Vec<Listed>> {
    match place {
        Place::Remote { storage, .. } => Ok(storage
            .list("")
            .await?
            .into_iter()
            .map(|o| Listed {
                key: o.key,
                size: o.size,
                modified: o.last_modified,
                etag: o.etag,
            })
            .collect()),
        Place::Local(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                list_dir(&dir, &dir, &mut out)?;
                out.sort_by(|a, b| a.key.cmp(&b.key));
                Ok(out)
            })
            .await
            .map_err(|e| Error::Internal(format!("listing thread: {e}")))?
        }
    }
}

fn list_dir(root: &Path, dir: &Path, out: &mut Vec<Listed>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        // A file removed between the listing and its stat is simply not there.
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            list_dir(root, &path, out)?;
            continue;
        }
        if !meta.is_file() {
            continue;
        }
        let key = path
            .strip_prefix(root)
            .map(|k| k.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let modified = meta
            .modified()
            .map(chrono::DateTime::<chrono::Utc>::from)
            .unwrap_or_else(|_| chrono::Utc::now());
        out.push(Listed {
            key,
            size: meta.len(),
            modified,
            etag: None,
        });
    }
    Ok(())
}

/// A failure that is one file's content, not the lake's or the store's.
fn is_data_error(e: &Error) -> bool {
    matches!(
        e,
        Error::BadInput { .. } | Error::UnknownFormat { .. } | Error::SchemaConflict { .. }
    )
}

/// The error as a dead letter records it, naming the file by its URI rather than its spooled
/// copy.
fn describe(e: &Error, place: &Place, f: &Listed) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    if let Place::Remote { url, .. } = place
        && let Error::BadInput { path, .. } | Error::UnknownFormat { path } = e
    {
        text = text.replace(&path.display().to_string(), &format!("{url}/{}", f.key));
    }
    text
}

fn file_name(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(_, n)| n)
}

fn parent(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(p, _)| p)
}
