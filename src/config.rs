//! `lake.toml`: where a project keeps its data, its archive and its catalog.
//!
//! Found from the working directory upward (or `-C DIR` / `LAKE_DIR`). Relative paths in it are
//! relative to the file's folder, so a project can be moved or cloned as a whole. Credentials are
//! never written here: S3 takes them from the standard `AWS_*` variables, or from variables a
//! `[sources.NAME]` section names.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The name of a project's config file.
pub const CONFIG_FILE: &str = "lake.toml";

/// A project's settings: `lake.toml`, section by section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[lake]`: where data, archive and catalog are.
    #[serde(default)]
    pub lake: LakeSection,
    /// `[s3]`: how to reach `s3://` roots.
    #[serde(default, skip_serializing_if = "S3Options::is_empty")]
    pub s3: S3Options,
    /// `[ingest]`: how ingest lays out Parquet.
    #[serde(default)]
    pub ingest: IngestOptions,
    /// `[promote]`: how jobs and queries run.
    #[serde(default)]
    pub promote: PromoteOptions,
    /// `[read]`: how `lake query` reads.
    #[serde(default)]
    pub read: ReadOptions,
    /// `[maintain]`: when datasets are compacted.
    #[serde(default)]
    pub maintain: MaintainOptions,
    /// `[delta]`: the Delta log beside each dataset.
    #[serde(default)]
    pub delta: DeltaOptions,
    /// Lifecycle rules the catalog takes on at every `lake archive`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleConfig>,
    /// How old each dataset's latest version may be before `lake status` calls it stale:
    /// `[freshness]  "bronze.orders" = "26h"`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub freshness: std::collections::BTreeMap<String, String>,
    /// Buckets remote sources are read from, each with its own endpoint and credentials:
    /// `[sources.vendor]  url = "s3://vendor-drop/exports/"  region = "eu-west-1"
    /// access_key_id_env = "VENDOR_KEY_ID"  secret_access_key_env = "VENDOR_SECRET"`. A source
    /// URL takes the section whose `url` is its longest prefix; others take `[s3]`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sources: std::collections::BTreeMap<String, SourceConfig>,
}

/// A source bucket: where it is and how to reach it. Secrets stay in the environment: the
/// section names the variables that hold them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `s3://bucket` or `s3://bucket/prefix/`.
    pub url: String,
    /// The endpoint, for S3-compatible stores.
    pub endpoint: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// Allow a plain-http endpoint.
    pub allow_http: Option<bool>,
    /// The variable holding the access key id (instead of AWS_ACCESS_KEY_ID).
    pub access_key_id_env: Option<String>,
    /// The variable holding the secret key (instead of AWS_SECRET_ACCESS_KEY).
    pub secret_access_key_env: Option<String>,
    /// The variable holding a session token (instead of AWS_SESSION_TOKEN).
    pub session_token_env: Option<String>,
}

/// A lifecycle rule written in `lake.toml`:
/// `[[rules]] zone = "bronze"  dataset = "*"  archive_after = "30d"  keep_last = 3  expire_after = "365d"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The zone the rule applies to; none: every zone.
    pub zone: Option<String>,
    /// A glob of dataset names within the zone (`orders*`).
    #[serde(default = "any_dataset")]
    pub dataset: String,
    /// Archive versions older than this age (`30d`).
    pub archive_after: Option<String>,
    /// Keep this many newest versions hot whatever their age.
    #[serde(default)]
    pub keep_last: u64,
    /// Expire archived versions older than this age (their files are deleted).
    pub expire_after: Option<String>,
    /// Keep hot the input versions of live downstream versions.
    #[serde(default)]
    pub keep_inputs: bool,
}

fn any_dataset() -> String {
    "*".into()
}

/// `[lake]`: where the data, the archive and the catalog are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeSection {
    /// Where data lives: a local folder, `s3://bucket/prefix`, `az://container/prefix`,
    /// `gs://bucket/prefix`, `https://host/path` (read-only) or `memory://`.
    #[serde(default = "default_root")]
    pub root: String,
    /// The cold tier, a second store URL.
    #[serde(default = "default_archive")]
    pub archive: String,
    /// The SQLite catalog, relative to the project folder.
    #[serde(default = "default_catalog")]
    pub catalog: String,
}

impl Default for LakeSection {
    fn default() -> Self {
        LakeSection {
            root: default_root(),
            archive: default_archive(),
            catalog: default_catalog(),
        }
    }
}

fn default_root() -> String {
    "lake-data".into()
}
fn default_archive() -> String {
    "lake-archive".into()
}
fn default_catalog() -> String {
    ".lake/catalog.sqlite".into()
}

/// Connection settings for `s3://` roots; credentials come from `AWS_*` variables only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Options {
    /// The endpoint, for S3-compatible stores (MinIO, SeaweedFS); `AWS_ENDPOINT_URL` otherwise.
    pub endpoint: Option<String>,
    /// The region; `AWS_REGION` otherwise.
    pub region: Option<String>,
    /// Allow a plain-http endpoint; `AWS_ALLOW_HTTP` otherwise.
    pub allow_http: Option<bool>,
    /// Retries of one request that failed with a 5xx, a timeout or a dropped connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<usize>,
    /// Give up on one request, retries included, after this long: a persistent outage fails
    /// within a bounded time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_timeout_secs: Option<u64>,
    /// One attempt of one request times out after this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_secs: Option<u64>,
    /// Credentials from these variables instead of the standard `AWS_*` ones (set by a
    /// `[sources.NAME]` section).
    #[serde(skip)]
    pub credentials: Option<CredentialVars>,
}

/// The names of the variables that hold one store's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialVars {
    /// The variable holding the access key id.
    pub access_key_id: Option<String>,
    /// The variable holding the secret access key.
    pub secret_access_key: Option<String>,
    /// The variable holding the session token.
    pub session_token: Option<String>,
}

impl S3Options {
    /// Are these the defaults (nothing set)?
    pub fn is_empty(&self) -> bool {
        self == &S3Options::default()
    }
}

/// How ingest lays out Parquet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestOptions {
    /// A data file is closed once it reaches about this size.
    pub target_file_mb: u64,
    /// The most rows in one row group.
    pub row_group_rows: usize,
    /// zstd level, 1 (fast) to 22 (small).
    pub zstd_level: i32,
    /// How many records schema inference reads from the start of each source.
    pub infer_rows: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            target_file_mb: 512,
            row_group_rows: 1 << 20,
            zstd_level: 1,
            infer_rows: 20_000,
        }
    }
}

/// How promote jobs and queries run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromoteOptions {
    /// Where job files live, relative to the project folder.
    pub jobs_dir: String,
    /// Memory DataFusion may hold before it spills to disk.
    pub memory_mb: u64,
    /// The secret that keys `pseudonymize()`; made at `lake init`. Keep it out of version control
    /// if the pseudonyms must not be recomputable.
    pub salt: String,
    /// A shell command run when a job fails, with LAKE_JOB, LAKE_RUN_ID and LAKE_ERROR set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    /// Check the sha256 of every input file before a job reads it, so a corrupt file fails the
    /// job instead of reaching silver or gold. Costs one streaming read of each input.
    pub verify_inputs: bool,
    /// `lake worker` addresses (`host:port`) that run the stages of each job's plan; empty runs
    /// every job in this process. `lake promote --workers` overrides it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<String>,
    /// Input bytes each partition of a worker's scan takes: inputs smaller than this times the
    /// partitions of one process run in this process alone. Lower spreads small inputs out.
    pub worker_partition_bytes: u64,
}

/// Keeping datasets fast to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaintainOptions {
    /// Compact a dataset once its latest version holds this many small files (under three
    /// quarters of `[ingest] target_file_mb`); streams and watches look after every batch.
    /// 0 turns it off.
    pub compact_small_files: u64,
    /// Compact a dataset also once this many appends have committed since its last
    /// compaction (and it has small files to merge); 0 turns it off.
    pub compact_after_appends: u64,
}

impl Default for MaintainOptions {
    fn default() -> Self {
        MaintainOptions {
            compact_small_files: 64,
            compact_after_appends: 0,
        }
    }
}

/// The Delta transaction log beside each dataset (`<zone>/<name>/_delta_log/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeltaOptions {
    /// Write each dataset's Delta log as versions commit, so Delta readers (Spark, DuckDB,
    /// Polars, delta-rs, Trino) open every version. `lake export delta` writes it on demand.
    pub log: bool,
}

impl Default for DeltaOptions {
    fn default() -> Self {
        DeltaOptions { log: true }
    }
}

/// How `lake query` reads versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReadOptions {
    /// Check the sha256 of every file a query reads before any row is returned (as
    /// `lake query --verify`).
    pub verify: bool,
}

impl Default for PromoteOptions {
    fn default() -> Self {
        PromoteOptions {
            jobs_dir: "jobs".into(),
            memory_mb: 1024,
            salt: String::new(),
            on_failure: None,
            verify_inputs: true,
            workers: Vec::new(),
            worker_partition_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Config {
    /// A new project's settings, with a fresh salt; `root` and `archive` replace the default
    /// folders.
    pub fn new(root: Option<String>, archive: Option<String>) -> Config {
        let mut lake = LakeSection::default();
        if let Some(r) = root {
            lake.root = r;
        }
        if let Some(a) = archive {
            lake.archive = a;
        }
        Config {
            lake,
            s3: S3Options::default(),
            ingest: IngestOptions::default(),
            promote: PromoteOptions {
                salt: new_salt(),
                ..PromoteOptions::default()
            },
            read: ReadOptions::default(),
            maintain: MaintainOptions::default(),
            delta: DeltaOptions::default(),
            rules: Vec::new(),
            freshness: Default::default(),
            sources: Default::default(),
        }
    }

    /// How to reach the store of source URL `url`: the `[sources.NAME]` section with the
    /// longest `url` prefix of it, or else the lake's own `[s3]` settings.
    pub fn source_options(&self, url: &str) -> S3Options {
        let trimmed = |u: &str| u.trim_end_matches('/').to_string();
        let url = trimmed(url);
        let section = self
            .sources
            .values()
            .filter(|s| {
                let prefix = trimmed(&s.url);
                url == prefix || url.starts_with(&format!("{prefix}/"))
            })
            .max_by_key(|s| s.url.len());
        let Some(s) = section else {
            return self.s3.clone();
        };
        S3Options {
            endpoint: s.endpoint.clone(),
            region: s.region.clone(),
            allow_http: s.allow_http,
            credentials: Some(CredentialVars {
                access_key_id: s.access_key_id_env.clone(),
                secret_access_key: s.secret_access_key_env.clone(),
                session_token: s.session_token_env.clone(),
            }),
            ..self.s3.clone()
        }
    }

    /// `lake.toml` at `path`, with the `LAKE_*` variables of [`KEYS`] over it.
    pub fn load(path: &Path) -> Result<Config> {
        Ok(Config::load_with_origins(path)?.0)
    }

    /// [`Config::load`], and every setting of [`KEYS`] with its value and where it came from:
    /// a `LAKE_*` variable, the file, or the default.
    pub fn load_with_origins(path: &Path) -> Result<(Config, Vec<Setting>)> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let parse_error = |source| Error::ConfigParse {
            path: path.to_path_buf(),
            source,
        };
        let file: toml::Table = toml::from_str(&text).map_err(parse_error)?;
        let mut merged = file.clone();
        let mut from_env = Vec::new();
        for key in KEYS {
            let variable = key.variable();
            let Ok(raw) = std::env::var(&variable) else {
                continue;
            };
            let value = key.kind.parse(&raw).ok_or_else(|| Error::ConfigInvalid {
                path: PathBuf::from(&variable),
                field: key.key(),
                reason: format!("must be {}, not {raw:?}", key.kind.describe()),
            })?;
            let section = merged
                .entry(key.section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = section {
                t.insert(key.name.to_string(), value);
            }
            from_env.push((key.key(), variable));
        }
        let config: Config = toml::Value::Table(merged).try_into().map_err(parse_error)?;
        config.validate(path)?;
        let effective = toml::Value::try_from(&config).expect("config serializes");
        let settings = KEYS
            .iter()
            .map(|k| {
                let value = effective
                    .get(k.section)
                    .and_then(|s| s.get(k.name))
                    .cloned();
                let in_file = file.get(k.section).and_then(|s| s.get(k.name)).is_some();
                let origin = match from_env.iter().find(|(key, _)| *key == k.key()) {
                    Some((_, variable)) => Origin::Env {
                        variable: variable.clone(),
                    },
                    None if in_file => Origin::File {
                        path: path.to_path_buf(),
                    },
                    None => Origin::Default,
                };
                Setting {
                    key: k.key(),
                    value,
                    origin,
                }
            })
            .collect();
        Ok((config, settings))
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let invalid = |field: &str, reason: &str| Error::ConfigInvalid {
            path: path.to_path_buf(),
            field: field.into(),
            reason: reason.into(),
        };
        for (dataset, age) in &self.freshness {
            let field = format!("freshness.{dataset}");
            if dataset.parse::<crate::ident::DatasetRef>().is_err() {
                return Err(invalid(
                    &field,
                    "must name a dataset, such as \"bronze.orders\"",
                ));
            }
            if crate::ident::parse_age(age).is_err() {
                return Err(invalid(&field, "must be an age such as \"26h\" or \"7d\""));
            }
        }
        for (name, source) in &self.sources {
            if !source.url.starts_with("s3://") || source.url.len() <= "s3://".len() {
                return Err(invalid(
                    &format!("sources.{name}.url"),
                    "must be an s3://bucket or s3://bucket/prefix/ URL",
                ));
            }
        }
        if self.maintain.compact_small_files == 1 {
            return Err(invalid(
                "maintain.compact_small_files",
                "must be 0 (off) or at least 2: one file has nothing to merge with",
            ));
        }
        if self.ingest.target_file_mb == 0 {
            return Err(invalid("ingest.target_file_mb", "must be at least 1"));
        }
        if self.ingest.row_group_rows == 0 {
            return Err(invalid("ingest.row_group_rows", "must be at least 1"));
        }
        if !(1..=22).contains(&self.ingest.zstd_level) {
            return Err(invalid("ingest.zstd_level", "must be between 1 and 22"));
        }
        if self.ingest.infer_rows == 0 {
            return Err(invalid("ingest.infer_rows", "must be at least 1"));
        }
        if self.promote.memory_mb < 16 {
            return Err(invalid("promote.memory_mb", "must be at least 16"));
        }
        Ok(())
    }

    /// The settings as the `lake.toml` that `lake init` writes.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string_pretty(self).expect("config serializes");
        format!(
            "# lake project: data roots and catalog. Relative paths are relative to this file.\n\
             # S3 credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, never from here.\n{body}"
        )
    }
}

/// A `lake.toml` key that a `LAKE_*` variable can set: `[ingest] target_file_mb` is
/// `LAKE_INGEST_TARGET_FILE_MB`, and the `[lake]` keys are `LAKE_ROOT`, `LAKE_ARCHIVE` and
/// `LAKE_CATALOG`. Tables (`[[rules]]`, `[freshness]`, `[sources.NAME]`) are the file's alone.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The section, `ingest`.
    pub section: &'static str,
    /// The key in it, `target_file_mb`.
    pub name: &'static str,
    /// What its value is.
    pub kind: Kind,
}

/// The type of a [`Key`]'s value, which a variable's text is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text as it is.
    Text,
    /// A whole number.
    Integer,
    /// `true` or `false` (also `1`/`0`, `yes`/`no`).
    Bool,
    /// Comma-separated text.
    List,
}

impl Kind {
    fn parse(self, raw: &str) -> Option<toml::Value> {
        let raw = raw.trim();
        Some(match self {
            Kind::Text => toml::Value::String(raw.to_string()),
            Kind::Integer => toml::Value::Integer(raw.parse().ok()?),
            Kind::Bool => toml::Value::Boolean(match raw.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => return None,
            }),
            Kind::List => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_string()))
                    .collect(),
            ),
        })
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Integer => "a whole number",
            Kind::Bool => "true or false",
            Kind::List => "a comma-separated list",
        }
    }
}

impl Key {
    /// `ingest.target_file_mb`.
    pub fn key(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }

    /// The variable that overrides it.
    pub fn variable(&self) -> String {
        if self.section == "lake" {
            format!("LAKE_{}", self.name.to_ascii_uppercase())
        } else {
            format!(
                "LAKE_{}_{}",
                self.section.to_ascii_uppercase(),
                self.name.to_ascii_uppercase()
            )
        }
    }
}

const fn key(section: &'static str, name: &'static str, kind: Kind) -> Key {
    Key {
        section,
        name,
        kind,
    }
}

/// Every setting of `lake.toml` that is one value, in the order `lake config list` shows them.
pub const KEYS: &[Key] = &[
    key("lake", "root", Kind::Text),
    key("lake", "archive", Kind::Text),
    key("lake", "catalog", Kind::Text),
    key("s3", "endpoint", Kind::Text),
    key("s3", "region", Kind::Text),
    key("s3", "allow_http", Kind::Bool),
    key("s3", "max_retries", Kind::Integer),
    key("s3", "retry_timeout_secs", Kind::Integer),
    key("s3", "request_timeout_secs", Kind::Integer),
    key("ingest", "target_file_mb", Kind::Integer),
    key("ingest", "row_group_rows", Kind::Integer),
    key("ingest", "zstd_level", Kind::Integer),
    key("ingest", "infer_rows", Kind::Integer),
    key("promote", "jobs_dir", Kind::Text),
    key("promote", "memory_mb", Kind::Integer),
    key("promote", "salt", Kind::Text),
    key("promote", "on_failure", Kind::Text),
    key("promote", "verify_inputs", Kind::Bool),
    key("promote", "workers", Kind::List),
    key("promote", "worker_partition_bytes", Kind::Integer),
    key("read", "verify", Kind::Bool),
    key("maintain", "compact_small_files", Kind::Integer),
    key("maintain", "compact_after_appends", Kind::Integer),
    key("delta", "log", Kind::Bool),
];

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Nothing set it.
    Default,
    /// `lake.toml`.
    File {
        /// The file.
        path: PathBuf,
    },
    /// A `LAKE_*` variable.
    Env {
        /// The variable.
        variable: String,
    },
}

/// One setting as the project has it.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// `ingest.target_file_mb`.
    pub key: String,
    /// Its value; none for a key without a default that nothing set (`s3.endpoint`).
    pub value: Option<toml::Value>,
    /// Where the value came from.
    pub origin: Origin,
}

/// 32 random bytes as hex, from the operating system's generator (UUID v4 draws from it).
fn new_salt() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Find `lake.toml` in `start` or the nearest parent that has one.
pub fn find_project(start: &Path) -> Result<PathBuf> {
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    let mut dir = start.as_path();
    loop {
        if dir.join(CONFIG_FILE).is_file() {
            return Ok(dir.to_path_buf());
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => return Err(Error::LakeNotFound { start }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every one-value setting a config can hold is in [`KEYS`], so each has a variable.
    #[test]
    fn every_scalar_setting_has_a_key() {
        let mut config = Config::new(None, None);
        config.s3.endpoint = Some("http://127.0.0.1:9000".into());
        config.s3.region = Some("r".into());
        config.s3.allow_http = Some(true);
        config.s3.max_retries = Some(1);
        config.s3.retry_timeout_secs = Some(1);
        config.s3.request_timeout_secs = Some(1);
        config.promote.on_failure = Some("true".into());
        config.promote.workers = vec!["127.0.0.1:1".into()];
        let value = toml::Value::try_from(&config).unwrap();
        let mut seen = Vec::new();
        for (section, table) in value.as_table().unwrap() {
            let Some(table) = table.as_table() else {
                continue;
            };
            if ["freshness", "sources"].contains(&section.as_str()) {
                continue;
            }
            for name in table.keys() {
                seen.push(format!("{section}.{name}"));
            }
        }
        let mut keys: Vec<String> = KEYS.iter().map(Key::key).collect();
        seen.sort();
        keys.sort();
        assert_eq!(seen, keys);
        assert_eq!(KEYS[9].variable(), "LAKE_INGEST_TARGET_FILE_MB");
        assert_eq!(KEYS[0].variable(), "LAKE_ROOT");
        assert_eq!(Kind::Bool.parse("no"), Some(toml::Value::Boolean(false)));
        assert_eq!(Kind::Integer.parse("x"), None);
    }
}
