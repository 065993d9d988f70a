//! The one error type of the library.
//!
//! Each variant names a condition and carries the values a user needs to act on it: the file,
//! line, dataset or URL. Messages speak for their own level only; causes ride in `#[source]`.
//! The CLI maps variants to exit codes in one place (`cli/report.rs`).

use std::path::PathBuf;

use crate::ident::Version;

/// Where in an input file a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A 1-based line of a text file.
    Line(u64),
    /// A 0-based byte offset.
    Byte(u64),
    /// The file as a whole.
    File,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Line(n) => write!(f, ":{n}"),
            Location::Byte(n) => write!(f, " (byte {n})"),
            Location::File => Ok(()),
        }
    }
}

/// Everything that can go wrong, each variant naming what it concerns (a file and line, a
/// dataset, a version, a URL); the CLI maps each to an exit code and a hint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A dataset name that is not `zone.name` with a valid zone and name.
    #[error("invalid dataset name `{input}`: {reason}")]
    InvalidName {
        /// The name given.
        input: String,
        /// Why, in words.
        reason: &'static str,
    },

    /// A ref (`zone.name@selector`) that does not parse.
    #[error("invalid ref `{input}`: {reason}")]
    InvalidRef {
        /// The ref given.
        input: String,
        /// Why, in words.
        reason: String,
    },

    /// A write to a zone the operation does not write (ingest writes bronze only).
    #[error("`{dataset}` is in zone {zone}; {operation} writes only to {allowed}")]
    WrongZone {
        /// The dataset, `zone.name`.
        dataset: String,
        /// Its zone.
        zone: String,
        /// The operation (`ingest`, `adopt`…).
        operation: &'static str,
        /// The zones it writes.
        allowed: &'static str,
    },

    /// No `lake.toml` in the folder or any parent.
    #[error("no lake project found in `{}` or any parent (no lake.toml)", start.display())]
    LakeNotFound {
        /// The folder the search started from.
        start: PathBuf,
    },

    /// `lake init` where a project exists already.
    #[error("a lake already exists at `{}`", path.display())]
    LakeExists {
        /// The `lake.toml` found.
        path: PathBuf,
    },

    /// `lake.toml` is not valid TOML, or holds an unknown key.
    #[error("cannot read config `{}`", path.display())]
    ConfigParse {
        /// The config file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: toml::de::Error,
    },

    /// A setting out of range, or a `LAKE_*` variable not of its key's type.
    #[error("config `{}`: `{field}` {reason}", path.display())]
    ConfigInvalid {
        /// The config file, or the variable that set the key.
        path: PathBuf,
        /// The key.
        field: String,
        /// Why, in words.
        reason: String,
    },

    /// No dataset of that name.
    #[error("dataset `{dataset}` not found{}", suggestion(suggestions))]
    DatasetNotFound {
        /// The dataset, `zone.name`.
        dataset: String,
        /// Names like it, for "did you mean".
        suggestions: Vec<String>,
    },

    /// The dataset has no version the selector names.
    #[error("`{dataset}` has no version matching `@{selector}`")]
    VersionNotFound {
        /// The dataset, `zone.name`.
        dataset: String,
        /// The selector, after `@`.
        selector: String,
    },

    /// Another writer committed the version number this one was about to take.
    #[error("`{dataset}` already has version {version}; another writer committed first")]
    CommitConflict {
        /// The dataset, `zone.name`.
        dataset: String,
        /// The version number taken.
        version: Version,
    },

    /// A source file or folder that does not exist.
    #[error("source `{}` does not exist", path.display())]
    SourceNotFound {
        /// The path given.
        path: PathBuf,
    },

    /// A folder or glob with no files to ingest.
    #[error("no {what} files found in `{pattern}`")]
    NoSourceFiles {
        /// The folder or glob.
        pattern: String,
        /// The format looked for.
        what: String,
    },

    /// A source whose format its name does not tell.
    #[error("cannot tell the format of `{}`; pass --format csv|ndjson|json|parquet", path.display())]
    UnknownFormat {
        /// The source.
        path: PathBuf,
    },

    /// A source that cannot be read as its format, at a line, record or byte offset.
    #[error("{}{at}: {problem}", path.display())]
    BadInput {
        /// The source.
        path: PathBuf,
        /// Where in the file.
        at: Location,
        /// What is wrong, in words.
        problem: String,
    },

    /// A `--schema` file that is not a valid schema.
    #[error("schema file `{}`: {problem}", path.display())]
    BadSchemaFile {
        /// The schema file.
        path: PathBuf,
        /// What is wrong, in words.
        problem: String,
    },

    /// Sources that disagree on a column's type.
    #[error("column `{column}` cannot hold both {left} and {right}")]
    SchemaConflict {
        /// The column.
        column: String,
        /// One type.
        left: String,
        /// The other type.
        right: String,
    },

    /// A local file or folder that cannot be read or written.
    #[error("cannot read `{}`", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// An object store request that failed.
    #[error("object store `{url}`: {operation} failed")]
    Storage {
        /// The URL.
        url: String,
        /// The request: `get`, `put`, `list`…
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: object_store::Error,
    },

    /// A root or archive URL that is not a folder, `s3://`, `az://`, `gs://`, `http(s)://` or
    /// `memory://` URL.
    #[error("invalid storage URL `{url}`: {reason}")]
    StorageUrl {
        /// The URL.
        url: String,
        /// Why, in words.
        reason: String,
    },

    /// The SQLite catalog failed.
    #[error("catalog `{}`", path.display())]
    Catalog {
        /// The catalog file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },

    /// Another scheduler holds the lake's lease.
    #[error(
        "another scheduler runs this lake: pid {pid} on {host}, since {since} (`{command}`); stop it, or use --watch to wait and take over when it ends"
    )]
    SchedulerRunning {
        /// The scheduler's process id.
        pid: u32,
        /// Its host.
        host: String,
        /// Since when.
        since: String,
        /// Its command.
        command: String,
    },

    /// A job cancelled at its `timeout:`.
    #[error(
        "`{job}` ran longer than its timeout of {after} and was cancelled; nothing was committed"
    )]
    JobTimedOut {
        /// The job (the dataset it writes).
        job: String,
        /// The timeout.
        after: String,
    },

    /// A job stopped by a signal before it committed.
    #[error("`{job}` was stopped before it committed; nothing was committed")]
    JobCancelled {
        /// The job (the dataset it writes).
        job: String,
    },

    /// A piped stream in a format other than CSV or NDJSON.
    #[error(
        "a stream is read as csv or ndjson, not {format}; give `--format csv` or `--format ndjson`"
    )]
    StreamFormat {
        /// The format given.
        format: String,
    },

    /// An `https://` source that cannot be fetched.
    #[error("cannot fetch `{url}`: {problem}")]
    HttpSource {
        /// The URL.
        url: String,
        /// What is wrong, in words.
        problem: String,
    },

    /// A named stream another process writes.
    #[error("stream `{name}` has a writer already: pid {pid} on {host}")]
    StreamBusy {
        /// The stream.
        name: String,
        /// The writer's process id.
        pid: u32,
        /// The writer's host.
        host: String,
    },

    /// A named stream that writes another dataset.
    #[error("stream `{name}` writes `{dataset}`, not this dataset")]
    StreamElsewhere {
        /// The stream.
        name: String,
        /// The dataset the stream writes.
        dataset: String,
    },

    /// Input that would start after the stream's committed position, leaving records out.
    #[error(
        "stream `{name}` has committed {position} records; an input starting at record {offset} would leave a gap (`lake stream show {name}` says where to resume)"
    )]
    StreamGap {
        /// The stream.
        name: String,
        /// The input's first record.
        offset: u64,
        /// Records the stream has committed.
        position: u64,
    },

    /// A named stream whose position another writer moved during this batch.
    #[error(
        "stream `{name}` was moved by another writer while this batch was written; nothing was committed"
    )]
    StreamMoved {
        /// The stream.
        name: String,
    },

    /// A stream of records named for a watch, or the other way round.
    #[error("stream `{name}` counts {kind}; a watch is a stream of files: name another stream")]
    StreamKind {
        /// The stream.
        name: String,
        /// What the stream counts.
        kind: String,
    },

    /// A source that changed while it was read.
    #[error("`{uri}` changed while it was read; it is read again once it settles")]
    SourceChanged {
        /// The source.
        uri: String,
    },

    /// A compaction that gave up because new versions kept arriving.
    #[error(
        "`{dataset}` kept getting new versions: compaction gave up after {attempts} attempts, changing nothing"
    )]
    KeptMoving {
        /// The dataset, `zone.name`.
        dataset: String,
        /// Attempts made.
        attempts: u32,
    },

    /// `lake serve` on an address other than loopback without a token.
    #[error(
        "`lake serve` on {bind} needs a token: only 127.0.0.1 is served without one (--token or LAKE_SERVE_TOKEN)"
    )]
    ServeToken {
        /// The address.
        bind: String,
    },

    /// `lake serve` cannot listen on the address.
    #[error("cannot serve on {bind}")]
    ServeBind {
        /// The address.
        bind: String,
        /// The listener error.
        #[source]
        source: std::io::Error,
    },

    /// No stream of that name.
    #[error("there is no stream `{name}`")]
    StreamNotFound {
        /// The stream.
        name: String,
    },

    /// No run with that id.
    #[error("there is no run {id}")]
    RunNotFound {
        /// The run id.
        id: i64,
    },

    /// A run whose job file no longer exists.
    #[error("run {id} was of `{job}`, which has no job file now")]
    JobGone {
        /// The run.
        id: i64,
        /// The job (the dataset it writes).
        job: String,
    },

    /// A catalog migration that failed.
    #[error("catalog `{}`: migration {migration} {problem}", path.display())]
    CatalogMigration {
        /// The catalog file.
        path: PathBuf,
        /// The migration.
        migration: String,
        /// What is wrong, in words.
        problem: String,
    },

    /// A catalog written by a newer `lake`.
    #[error("catalog `{}` has schema version {found}, newer than this lake ({supported}); upgrade lake", path.display())]
    CatalogTooNew {
        /// The catalog file.
        path: PathBuf,
        /// The catalog's schema version.
        found: i64,
        /// The newest schema version this lake knows.
        supported: i64,
    },

    /// Parquet encoding failed.
    #[error("cannot encode Parquet for `{dataset}`")]
    Encode {
        /// The dataset, `zone.name`.
        dataset: String,
        /// The underlying error.
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// SQL that does not parse, at a line and column of its file.
    #[error("{origin}:{line}:{column}: SQL syntax: {message}")]
    SqlSyntax {
        /// Where the SQL came from: a job file, or `query`.
        origin: String,
        /// The line, from 1.
        line: u64,
        /// The column, from 1.
        column: u64,
        /// What the parser said.
        message: String,
    },

    /// SQL that names a table which is not `zone.name`.
    #[error(
        "{origin}: table `{table}` is not a dataset (write `<zone>.<name>`, such as `bronze.orders`){}",
        suggestion(suggestions)
    )]
    UnknownTable {
        /// Where the SQL came from: a job file, or `query`.
        origin: String,
        /// The table as written.
        table: String,
        /// Names like it, for "did you mean".
        suggestions: Vec<String>,
    },

    /// SQL that reads a dataset that does not exist.
    #[error("{origin}: dataset `{dataset}` not found{}", suggestion(suggestions))]
    UnknownDataset {
        /// Where the SQL came from: a job file, or `query`.
        origin: String,
        /// The dataset, `zone.name`.
        dataset: String,
        /// Names like it, for "did you mean".
        suggestions: Vec<String>,
    },

    /// A query that failed while it ran.
    #[error("{origin}: query failed")]
    Query {
        /// Where the SQL came from: a job file, or `query`.
        origin: String,
        /// The underlying error.
        #[source]
        source: datafusion::error::DataFusionError,
    },

    /// A statement other than a query where only a query may run.
    #[error("only queries can run here, not {what}")]
    NotAQuery {
        /// What was looked for.
        what: String,
    },

    /// A version in the archive tier, which is not read until restored.
    #[error("`{version}` is {state}: it cannot be read until it is restored")]
    VersionArchived {
        /// The version.
        version: String,
        /// `archived` or `expired`.
        state: &'static str,
    },

    /// A job file that is not valid: its header, or its name.
    #[error("job `{path}`: {problem}")]
    JobInvalid {
        /// The job file.
        path: PathBuf,
        /// What is wrong, in words.
        problem: String,
    },

    /// Jobs that read each other's outputs in a cycle.
    #[error("jobs depend on each other in a cycle: {cycle}")]
    DependencyCycle {
        /// The cycle, `a -> b -> a`.
        cycle: String,
    },

    /// A job that reads a zone above its own.
    #[error(
        "job `{job}` reads `{input}`, which is above its zone; a job reads its own zone or below"
    )]
    UpwardRead {
        /// The job (the dataset it writes).
        job: String,
        /// The dataset it reads.
        input: String,
    },

    /// A job result that drops or narrows a column without approval.
    #[error("`{dataset}` would change its schema in a breaking way: {changes}")]
    BreakingChange {
        /// The dataset, `zone.name`.
        dataset: String,
        /// The breaking changes.
        changes: String,
    },

    /// Blocking checks that failed; nothing was committed.
    #[error("{failed} of the checks of `{job}` failed: {names}")]
    ChecksFailed {
        /// The job (the dataset it writes).
        job: String,
        /// How many failed.
        failed: usize,
        /// Their names.
        names: String,
    },

    /// A dataset glob that does not parse.
    #[error("invalid dataset glob `{input}`: {reason}")]
    InvalidGlob {
        /// The glob given.
        input: String,
        /// Why, in words.
        reason: String,
    },

    /// An age that does not parse.
    #[error("invalid age `{input}`: write a number and a unit, such as 90s, 30m, 12h, 30d or 2w")]
    InvalidAge {
        /// The age given.
        input: String,
    },

    /// A named thing (a tag, a rule, a lock entry) that does not exist.
    #[error("{what} `{name}` not found")]
    NotFound {
        /// What kind of thing: `tag`, `rule`…
        what: &'static str,
        /// Its name.
        name: String,
    },

    /// A version whose data expired.
    #[error("`{version}` has expired: its data was deleted on {at}; the catalog keeps its record")]
    VersionExpired {
        /// The version.
        version: String,
        /// When it expired.
        at: String,
    },

    /// A selector that picks no job.
    #[error("no job matches `{selector}`")]
    NoJobMatches {
        /// The selector, after `@`.
        selector: String,
    },

    /// A worker address that is not `host:port`.
    #[error("`{address}` is not a worker address: write host:port, such as 10.0.0.5:50051")]
    WorkerAddress {
        /// The address.
        address: String,
    },

    /// A `lake worker` that does not answer.
    #[error("no `lake worker` answers at {address}")]
    WorkerUnreachable {
        /// The address.
        address: String,
        /// The connection error.
        #[source]
        source: std::io::Error,
    },

    /// A rollback that cannot be done (the version is not readable, or a stream would lose rows).
    #[error("cannot roll back to `{version}`: {reason}")]
    RollbackRefused {
        /// The version.
        version: String,
        /// Why, in words.
        reason: String,
    },

    /// An input version amended by an erasure while a job read it; nothing was committed.
    #[error(
        "`{input}`, which `{output}` was computed from, was changed by `lake erase` while this ran; nothing was committed"
    )]
    InputAmended {
        /// The version being computed.
        output: String,
        /// The input version.
        input: String,
    },

    /// An erasure that cannot be done on that dataset.
    #[error("cannot erase from `{dataset}`: {reason}")]
    EraseRefused {
        /// The dataset, `zone.name`.
        dataset: String,
        /// Why, in words.
        reason: String,
    },

    /// An erasure that gave up because the dataset kept getting new versions.
    #[error(
        "`{dataset}` kept changing while rows were erased from it ({attempts} attempts); what was erased before stays erased"
    )]
    EraseContended {
        /// The dataset, `zone.name`.
        dataset: String,
        /// Scans made.
        attempts: u32,
    },

    /// The Delta log beside a dataset cannot be written or read.
    #[error("`{dataset}`: Delta log: {problem}")]
    Delta {
        /// The dataset, `zone.name`.
        dataset: String,
        /// What is wrong, in words.
        problem: String,
    },

    /// Stored bytes that do not hash as recorded.
    #[error("`{path}` is corrupt: {problem}")]
    Integrity {
        /// The object.
        path: String,
        /// What is wrong, in words.
        problem: String,
    },

    /// A committed version whose objects are not as the catalog recorded them: reading it would
    /// give fewer or wrong rows, so nothing is read.
    #[error("`{version}` cannot be read: `{url}` {problem}")]
    VersionUnreadable {
        /// The version.
        version: String,
        /// The object at fault.
        url: String,
        /// What is wrong, in words.
        problem: String,
    },

    /// A batch given to `Lake::ingest_batches` that does not have the schema given with them.
    #[error("batches `{name}`: a batch has the schema {found}, not {expected}")]
    BatchSchema {
        /// The name the batches were given.
        name: String,
        /// The schema given.
        expected: String,
        /// The batch's.
        found: String,
    },

    /// A command that writes, on a lake whose root is read and never written (`http(s)://`).
    #[error(
        "`lake {command}` writes to the lake, and its root {root} is read-only (it is read over \
         HTTP); run it where the lake is written"
    )]
    ReadOnlyRoot {
        /// The command refused.
        command: &'static str,
        /// The root.
        root: String,
    },

    /// An archive tier inside the root, or the other way round.
    #[error("the archive tier `{archive}` overlaps the root `{root}`: {problem}")]
    TiersOverlap {
        /// The root.
        root: String,
        /// The archive tier.
        archive: String,
        /// What is wrong, in words.
        problem: &'static str,
    },

    /// Files of the version are under another mover's lease.
    #[error("files of `{version}` are being moved by another process; nothing was changed")]
    MoveInProgress {
        /// The version.
        version: String,
    },

    /// A mover's lease taken over by another process.
    #[error("the lease on moving `{path}` was taken by another process; nothing was changed")]
    LeaseLost {
        /// The file being moved.
        path: String,
    },

    /// A write collected as debris while it ran (it was presumed dead); nothing was committed.
    #[error(
        "write `{write_id}` of `{dataset}` was taken for debris while it ran; nothing was committed"
    )]
    WriteLost {
        /// The dataset, `zone.name`.
        dataset: String,
        /// The write.
        write_id: String,
    },

    /// A failure injected by `LAKE_FAILPOINT`, for the fault tests.
    #[error("failpoint `{name}`: injected error")]
    Injected {
        /// The failpoint.
        name: String,
    },

    /// Stopped by a signal.
    #[error("interrupted")]
    Interrupted,

    /// A bug in lake.
    #[error("internal error: {0}; this is a bug in lake")]
    Internal(String),
}

impl Error {
    /// This error's message, then each cause's that says something new, outermost first.
    pub fn causes(&self) -> Vec<String> {
        let mut out = vec![self.to_string()];
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            let line = cause.to_string();
            if !out.iter().any(|seen| seen.contains(&line)) {
                out.push(line);
            }
            source = cause.source();
        }
        out
    }

    /// A query that needed more memory than its pool (`[promote] memory_mb`) allows.
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Error::Query { source, .. }
            if matches!(source.find_root(), datafusion::error::DataFusionError::ResourcesExhausted(_)))
    }

    /// A failure of the catalog file at `path`.
    pub(crate) fn catalog(path: &std::path::Path) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
        move |source| Error::Catalog {
            path: path.to_path_buf(),
            source,
        }
    }
}

fn suggestion(names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("; did you mean {}?", quoted.join(", "))
}

/// A result whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
