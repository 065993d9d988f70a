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

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid dataset name `{input}`: {reason}")]
    InvalidName { input: String, reason: &'static str },

    #[error("invalid ref `{input}`: {reason}")]
    InvalidRef { input: String, reason: String },

    #[error("`{dataset}` is in zone {zone}; {operation} writes only to {allowed}")]
    WrongZone {
        dataset: String,
        zone: String,
        operation: &'static str,
        allowed: &'static str,
    },

    #[error("no lake project found in `{}` or any parent (no lake.toml)", start.display())]
    LakeNotFound { start: PathBuf },

    #[error("a lake already exists at `{}`", path.display())]
    LakeExists { path: PathBuf },

    #[error("cannot read config `{}`", path.display())]
    ConfigParse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },

    #[error("config `{}`: `{field}` {reason}", path.display())]
    ConfigInvalid {
        path: PathBuf,
        field: String,
        reason: String,
    },

    #[error("dataset `{dataset}` not found{}", suggestion(suggestions))]
    DatasetNotFound {
        dataset: String,
        suggestions: Vec<String>,
    },

    #[error("`{dataset}` has no version matching `@{selector}`")]
    VersionNotFound { dataset: String, selector: String },

    #[error("`{dataset}` already has version {version}; another writer committed first")]
    CommitConflict { dataset: String, version: Version },

    #[error("source `{}` does not exist", path.display())]
    SourceNotFound { path: PathBuf },

    #[error("no {what} files found in `{pattern}`")]
    NoSourceFiles { pattern: String, what: String },

    #[error("cannot tell the format of `{}`; pass --format csv|ndjson|json|parquet", path.display())]
    UnknownFormat { path: PathBuf },

    #[error("{}{at}: {problem}", path.display())]
    BadInput {
        path: PathBuf,
        at: Location,
        problem: String,
    },

    #[error("schema file `{}`: {problem}", path.display())]
    BadSchemaFile { path: PathBuf, problem: String },

    #[error("column `{column}` cannot hold both {left} and {right}")]
    SchemaConflict {
        column: String,
        left: String,
        right: String,
    },

    #[error("cannot read `{}`", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("object store `{url}`: {operation} failed")]
    Storage {
        url: String,
        operation: &'static str,
        #[source]
        source: object_store::Error,
    },

    #[error("invalid storage URL `{url}`: {reason}")]
    StorageUrl { url: String, reason: String },

    #[error("catalog `{}`", path.display())]
    Catalog {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error(
        "another scheduler runs this lake: pid {pid} on {host}, since {since} (`{command}`); stop it, or use --watch to wait and take over when it ends"
    )]
    SchedulerRunning {
        pid: u32,
        host: String,
        since: String,
        command: String,
    },

    #[error(
        "`{job}` ran longer than its timeout of {after} and was cancelled; nothing was committed"
    )]
    JobTimedOut { job: String, after: String },

    #[error("`{job}` was stopped before it committed; nothing was committed")]
    JobCancelled { job: String },

    #[error(
        "a stream is read as csv or ndjson, not {format}; give `--format csv` or `--format ndjson`"
    )]
    StreamFormat { format: String },

    #[error("cannot fetch `{url}`: {problem}")]
    HttpSource { url: String, problem: String },

    #[error("stream `{name}` has a writer already: pid {pid} on {host}")]
    StreamBusy {
        name: String,
        pid: u32,
        host: String,
    },

    #[error("stream `{name}` writes `{dataset}`, not this dataset")]
    StreamElsewhere { name: String, dataset: String },

    #[error(
        "stream `{name}` has committed {position} records; an input starting at record {offset} would leave a gap (`lake stream show {name}` says where to resume)"
    )]
    StreamGap {
        name: String,
        offset: u64,
        position: u64,
    },

    #[error(
        "stream `{name}` was moved by another writer while this batch was written; nothing was committed"
    )]
    StreamMoved { name: String },

    #[error("stream `{name}` counts {kind}; a watch is a stream of files: name another stream")]
    StreamKind { name: String, kind: String },

    #[error("`{uri}` changed while it was read; it is read again once it settles")]
    SourceChanged { uri: String },

    #[error(
        "`{dataset}` kept getting new versions: compaction gave up after {attempts} attempts, changing nothing"
    )]
    KeptMoving { dataset: String, attempts: u32 },

    #[error(
        "`lake serve` on {bind} needs a token: only 127.0.0.1 is served without one (--token or LAKE_SERVE_TOKEN)"
    )]
    ServeToken { bind: String },

    #[error("cannot serve on {bind}")]
    ServeBind {
        bind: String,
        #[source]
        source: std::io::Error,
    },

    #[error("there is no stream `{name}`")]
    StreamNotFound { name: String },

    #[error("there is no run {id}")]
    RunNotFound { id: i64 },

    #[error("run {id} was of `{job}`, which has no job file now")]
    JobGone { id: i64, job: String },

    #[error("catalog `{}`: migration {migration} {problem}", path.display())]
    CatalogMigration {
        path: PathBuf,
        migration: String,
        problem: String,
    },

    #[error("catalog `{}` has schema version {found}, newer than this lake ({supported}); upgrade lake", path.display())]
    CatalogTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("cannot encode Parquet for `{dataset}`")]
    Encode {
        dataset: String,
        #[source]
        source: parquet::errors::ParquetError,
    },

    #[error("{origin}:{line}:{column}: SQL syntax: {message}")]
    SqlSyntax {
        origin: String,
        line: u64,
        column: u64,
        message: String,
    },

    #[error(
        "{origin}: table `{table}` is not a dataset (write `<zone>.<name>`, such as `bronze.orders`){}",
        suggestion(suggestions)
    )]
    UnknownTable {
        origin: String,
        table: String,
        suggestions: Vec<String>,
    },

    #[error("{origin}: dataset `{dataset}` not found{}", suggestion(suggestions))]
    UnknownDataset {
        origin: String,
        dataset: String,
        suggestions: Vec<String>,
    },

    #[error("{origin}: query failed")]
    Query {
        origin: String,
        #[source]
        source: datafusion::error::DataFusionError,
    },

    #[error("only queries can run here, not {what}")]
    NotAQuery { what: String },

    #[error("`{version}` is {state}: it cannot be read until it is restored")]
    VersionArchived {
        version: String,
        state: &'static str,
    },

    #[error("job `{path}`: {problem}")]
    JobInvalid { path: PathBuf, problem: String },

    #[error("jobs depend on each other in a cycle: {cycle}")]
    DependencyCycle { cycle: String },

    #[error(
        "job `{job}` reads `{input}`, which is above its zone; a job reads its own zone or below"
    )]
    UpwardRead { job: String, input: String },

    #[error("`{dataset}` would change its schema in a breaking way: {changes}")]
    BreakingChange { dataset: String, changes: String },

    #[error("{failed} of the checks of `{job}` failed: {names}")]
    ChecksFailed {
        job: String,
        failed: usize,
        names: String,
    },

    #[error("invalid dataset glob `{input}`: {reason}")]
    InvalidGlob { input: String, reason: String },

    #[error("invalid age `{input}`: write a number and a unit, such as 90s, 30m, 12h, 30d or 2w")]
    InvalidAge { input: String },

    #[error("{what} `{name}` not found")]
    NotFound { what: &'static str, name: String },

    #[error("`{version}` has expired: its data was deleted on {at}; the catalog keeps its record")]
    VersionExpired { version: String, at: String },

    #[error("no job matches `{selector}`")]
    NoJobMatches { selector: String },

    #[error("`{address}` is not a worker address: write host:port, such as 10.0.0.5:50051")]
    WorkerAddress { address: String },

    #[error("no `lake worker` answers at {address}")]
    WorkerUnreachable {
        address: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot roll back to `{version}`: {reason}")]
    RollbackRefused { version: String, reason: String },

    #[error(
        "`{input}`, which `{output}` was computed from, was changed by `lake erase` while this ran; nothing was committed"
    )]
    InputAmended { output: String, input: String },

    #[error("cannot erase from `{dataset}`: {reason}")]
    EraseRefused { dataset: String, reason: String },

    #[error(
        "`{dataset}` kept changing while rows were erased from it ({attempts} attempts); what was erased before stays erased"
    )]
    EraseContended { dataset: String, attempts: u32 },

    #[error("`{dataset}`: Delta log: {problem}")]
    Delta { dataset: String, problem: String },

    #[error("`{path}` is corrupt: {problem}")]
    Integrity { path: String, problem: String },

    /// A committed version whose objects are not as the catalog recorded them: reading it would
    /// give fewer or wrong rows, so nothing is read.
    #[error("`{version}` cannot be read: `{url}` {problem}")]
    VersionUnreadable {
        version: String,
        url: String,
        problem: String,
    },

    #[error("the archive tier `{archive}` overlaps the root `{root}`: {problem}")]
    TiersOverlap {
        root: String,
        archive: String,
        problem: &'static str,
    },

    #[error("files of `{version}` are being moved by another process; nothing was changed")]
    MoveInProgress { version: String },

    #[error("the lease on moving `{path}` was taken by another process; nothing was changed")]
    LeaseLost { path: String },

    #[error(
        "write `{write_id}` of `{dataset}` was taken for debris while it ran; nothing was committed"
    )]
    WriteLost { dataset: String, write_id: String },

    #[error("failpoint `{name}`: injected error")]
    Injected { name: String },

    #[error("interrupted")]
    Interrupted,

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

pub type Result<T, E = Error> = std::result::Result<T, E>;
