//! Object storage: one wrapper over `object_store` for local folders, `s3://`, `az://` (Azure
//! Blob), `gs://` (Google Cloud Storage), read-only `http(s)://` and `memory://`.
//!
//! This is the only code that knows object keys (`layout`). Every write of data or a manifest
//! goes to a fresh key and never overwrites: small objects with `PutMode::Create`, large ones by
//! a multipart upload to a key that carries a unique write id. Errors name the full object URL.

#[cfg(test)]
mod conformance;
#[cfg(test)]
pub(crate) mod faulty;
pub(crate) mod layout;
mod local;
mod readonly;
mod uploads;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientConfigKey, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig, WriteMultipart,
};

pub(crate) use uploads::Upload;

use crate::config::S3Options;
use crate::error::{Error, Result};

/// Objects larger than this are uploaded in parts of this size.
pub(crate) const PART_SIZE: usize = 8 * 1024 * 1024;
/// How long one request to a cloud store may take (S3's is `[s3] request_timeout_secs`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Parts of one upload in flight at once.
const MAX_PARTS_IN_FLIGHT: usize = 4;

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
    /// The store's entity tag, where it has one (S3; a local folder makes one of the inode,
    /// size and modification time).
    pub etag: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The root as the user wrote it, for messages: `s3://bucket/prefix`, `/abs/lake-data`.
    url: String,
    prefix: ObjectPath,
    place: Place,
}

/// Where a store's objects live, to tell whether two stores overlap.
#[derive(Debug, Clone)]
enum Place {
    /// A canonical local folder.
    Local(std::path::PathBuf),
    S3 {
        bucket: String,
        prefix: String,
        /// For what object listings do not show (incomplete multipart uploads).
        direct: uploads::Bucket,
    },
    /// An Azure Blob container (`az`) or a Google Cloud Storage bucket (`gs`).
    Bucket {
        scheme: &'static str,
        bucket: String,
        prefix: String,
    },
    /// Files served over HTTP(S), read and never written.
    Http,
    /// A store of its own (in memory, or wrapped by a test): overlaps nothing.
    Private,
}

impl Storage {
    /// Open the store at `url`; relative local paths are taken from `base`.
    pub(crate) fn open(url: &str, base: &Path, s3: &S3Options) -> Result<Storage> {
        let bad = |reason: &str| Error::StorageUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if url == "memory://" || url.starts_with("memory://") {
            return Ok(Storage::in_memory());
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket after `s3://`"));
            }
            let (store, region) = s3_store(bucket, s3).map_err(|source| Error::Storage {
                url: url.to_string(),
                operation: "configure",
                source,
            })?;
            let store = Arc::new(store);
            let allow_http = s3.allow_http.unwrap_or_else(|| {
                std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
            });
            return Ok(Storage {
                store: store.clone(),
                url: url.trim_end_matches('/').to_string(),
                prefix: ObjectPath::from(prefix.trim_matches('/')),
                place: Place::S3 {
                    bucket: bucket.to_string(),
                    prefix: prefix.trim_matches('/').to_string(),
                    direct: uploads::Bucket {
                        store,
                        region,
                        allow_http,
                    },
                },
            });
        }
        if let Some((scheme, rest)) = url.split_once("://")
            && matches!(scheme, "az" | "gs")
        {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad(&format!("no bucket or container after `{scheme}://`")));
            }
            let built = match scheme {
                "az" => azure_store(bucket).map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
                _ => gcs_store(bucket).map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
            };
            let store = built.map_err(|source| Error::Storage {
                url: url.to_string(),
                operation: "configure",
                source,
            })?;
            let prefix = prefix.trim_matches('/');
            return Ok(Storage {
                store,
                url: url.trim_end_matches('/').to_string(),
                prefix: ObjectPath::from(prefix),
                place: Place::Bucket {
                    scheme: if scheme == "az" { "az" } else { "gs" },
                    bucket: bucket.to_string(),
                    prefix: prefix.to_string(),
                },
            });
        }
        if url.starts_with("http://") || url.starts_with("https://") {
            let store = HttpBuilder::new()
                .with_url(url.trim_end_matches('/'))
                // A plain-http root is what the user wrote: allowed for it alone.
                .with_client_options(
                    client_options(DEFAULT_TIMEOUT, |_| None)
                        .with_allow_http(url.starts_with("http://")),
                )
                .with_retry(retry_config())
                .build()
                .map_err(|source| Error::Storage {
                    url: url.to_string(),
                    operation: "configure",
                    source,
                })?;
            let url = url.trim_end_matches('/').to_string();
            return Ok(Storage {
                store: Arc::new(readonly::ReadOnly::new(Arc::new(store), &url)),
                url,
                prefix: ObjectPath::default(),
                place: Place::Http,
            });
        }
        if let Some((scheme, _)) = url.split_once("://")
            && scheme != "file"
        {
            return Err(bad(
                "supported roots are a local folder, s3://bucket/prefix, az://container/prefix, \
                 gs://bucket/prefix, http(s)://host/path (read-only) and memory://",
            ));
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        let dir = base.join(path);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let dir = dir.canonicalize().map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let store = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|source| Error::Storage {
                url: dir.display().to_string(),
                operation: "open",
                source,
            })?
            .with_automatic_cleanup(true);
        Ok(Storage {
            store: Arc::new(store),
            url: dir.display().to_string(),
            prefix: ObjectPath::default(),
            place: Place::Local(dir),
        })
    }

    pub(crate) fn in_memory() -> Storage {
        Storage::from_store(Arc::new(InMemory::new()), "memory://")
    }

    /// Wrap any store (tests inject faults this way).
    pub(crate) fn from_store(store: Arc<dyn ObjectStore>, url: &str) -> Storage {
        Storage {
            store,
            url: url.to_string(),
            prefix: ObjectPath::default(),
            place: Place::Private,
        }
    }

    /// Refuse an archive tier that is the root, holds it, or lies inside it: moving a file
    /// between them would delete its only copy, and gc would take one tier's files for the
    /// other's orphans.
    pub(crate) fn check_apart(&self, archive: &Storage) -> Result<()> {
        let problem = match (&self.place, &archive.place) {
            (Place::Local(a), Place::Local(b)) => overlap(a.starts_with(b), b.starts_with(a)),
            _ => match (self.bucket(), archive.bucket()) {
                (Some((sa, a, pa)), Some((sb, b, pb))) if sa == sb && a == b => {
                    let inside = |outer: &str, inner: &str| {
                        outer.is_empty()
                            || inner == outer
                            || inner.starts_with(&format!("{outer}/"))
                    };
                    overlap(inside(pb, pa), inside(pa, pb))
                }
                _ => None,
            },
        };
        match problem {
            None => Ok(()),
            Some(problem) => Err(Error::TiersOverlap {
                root: self.url.clone(),
                archive: archive.url.clone(),
                problem,
            }),
        }
    }

    /// The scheme, bucket (or container) and prefix of a store in the cloud.
    fn bucket(&self) -> Option<(&str, &str, &str)> {
        match &self.place {
            Place::S3 { bucket, prefix, .. } => Some(("s3", bucket, prefix)),
            Place::Bucket {
                scheme,
                bucket,
                prefix,
            } => Some((scheme, bucket, prefix)),
            _ => None,
        }
    }

    /// Is this store read and never written (an `http(s)://` root)?
    pub(crate) fn is_read_only(&self) -> bool {
        matches!(self.place, Place::Http)
    }

    /// Multipart uploads under this root that were started and never completed or aborted,
    /// with keys relative to the root. S3 only: a folder has none, Azure discards uncommitted
    /// blocks itself after seven days, and a GCS bucket needs a lifecycle rule
    /// (`AbortIncompleteMultipartUpload`) for the uploads object_store's XML API leaves.
    pub(crate) async fn incomplete_uploads(&self) -> Result<Vec<(String, Upload)>> {
        let Place::S3 { prefix, direct, .. } = &self.place else {
            return Ok(Vec::new());
        };
        let within = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        Ok(direct
            .incomplete_uploads(&within)
            .await?
            .into_iter()
            .map(|u| (self.key_of(&ObjectPath::from(u.key.as_str())), u))
            .collect())
    }

    /// Abort an incomplete upload found by [`Storage::incomplete_uploads`].
    pub(crate) async fn abort_upload(&self, upload: &Upload) -> Result<()> {
        match &self.place {
            Place::S3 { direct, .. } => direct.abort(upload).await,
            _ => Ok(()),
        }
    }

    /// The folder of a local store, for what only a file system has (staging files).
    pub(crate) fn local_dir(&self) -> Option<&Path> {
        match &self.place {
            Place::Local(dir) => Some(dir),
            _ => None,
        }
    }

    /// Where a reader outside lake finds the objects under `prefix`: a store rooted at the top
    /// of the bucket or file system, and the prefix's URL in it (`file:///…/`, `s3://…/`).
    /// None for a store of our own (in memory), which nothing outside this process can read.
    pub(crate) fn table_location(&self, prefix: &str) -> Option<(Arc<dyn ObjectStore>, url::Url)> {
        match &self.place {
            Place::Local(dir) => {
                let url = url::Url::from_directory_path(dir.join(prefix)).ok()?;
                Some((Arc::new(LocalFileSystem::new()), url))
            }
            Place::S3 { .. } | Place::Bucket { .. } => {
                let (scheme, bucket, root) = self.bucket()?;
                let key = if root.is_empty() {
                    prefix.to_string()
                } else {
                    format!("{root}/{prefix}")
                };
                let url = url::Url::parse(&format!("{scheme}://{bucket}/{key}")).ok()?;
                Some((self.store.clone(), url))
            }
            // Nothing can be written there, a Delta log included.
            Place::Http | Place::Private => None,
        }
    }

    /// The root URL as given (local roots as an absolute path).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The full URL of the object at `key`, for messages and manifests.
    pub(crate) fn object_url(&self, key: &str) -> String {
        if self.url.ends_with('/') {
            format!("{}{key}", self.url)
        } else {
            format!("{}/{key}", self.url)
        }
    }

    /// The underlying store and the path of `key` in it, for Parquet readers.
    pub(crate) fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    pub(crate) fn path(&self, key: &str) -> ObjectPath {
        if self.prefix.as_ref().is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{}/{}", self.prefix.as_ref(), key))
        }
    }

    fn key_of(&self, path: &ObjectPath) -> String {
        let p = path.as_ref();
        let prefix = self.prefix.as_ref();
        if prefix.is_empty() {
            p.to_string()
        } else {
            p.strip_prefix(prefix)
                .map(|k| k.trim_start_matches('/').to_string())
                .unwrap_or_else(|| p.to_string())
        }
    }

    fn err(&self, key: &str, operation: &'static str) -> impl FnOnce(object_store::Error) -> Error {
        let url = self.object_url(key);
        move |source| Error::Storage {
            url,
            operation,
            source,
        }
    }

    /// Prove the store answers and lets us list: a missing bucket, wrong credentials or an
    /// unreachable endpoint fail here, naming the URL.
    pub(crate) async fn check(&self) -> Result<()> {
        let probe = self.path("_lake");
        if self.is_read_only() {
            // A plain web server does not list: any answer for a key, "not found" included,
            // shows it is there and lets us in.
            return match self.store.head(&probe).await {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(source) => Err(Error::Storage {
                    url: self.url.clone(),
                    operation: "stat",
                    source,
                }),
            };
        }
        let mut listing = self.store.list(Some(&probe));
        match listing.try_next().await {
            Ok(_) => Ok(()),
            Err(source) => Err(Error::Storage {
                url: self.url.clone(),
                operation: "list",
                source,
            }),
        }
    }

    /// Write `bytes` at `key` only if nothing is there yet.
    pub(crate) async fn put_new(&self, key: &str, bytes: Bytes) -> Result<()> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        self.store
            .put_opts(&self.path(key), PutPayload::from(bytes), opts)
            .await
            .map(|_| ())
            .map_err(self.err(key, "create"))
    }

    /// Write `bytes` at `key`, replacing what is there: only for objects derived from the
    /// catalog and written again whole (a Delta log's tag list), never for data or manifests.
    pub(crate) async fn put_replacing(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.store
            .put(&self.path(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(self.err(key, "put"))
    }

    /// A streaming writer for a new object at `key`.
    pub(crate) fn writer(&self, key: &str) -> ObjectWriter {
        ObjectWriter {
            storage: self.clone(),
            key: key.to_string(),
            buffer: Vec::new(),
            upload: None,
            size: 0,
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Bytes> {
        let result = self
            .store
            .get(&self.path(key))
            .await
            .map_err(self.err(key, "read"))?;
        result.bytes().await.map_err(self.err(key, "read"))
    }

    /// Copy the object at `key` into the local file `to`, chunk by chunk; its size.
    pub(crate) async fn download(&self, key: &str, to: &Path) -> Result<u64> {
        use tokio::io::AsyncWriteExt;
        let mut chunks = self.stream(key).await?;
        let io = |source| Error::Io {
            path: to.to_path_buf(),
            source,
        };
        let mut file = tokio::fs::File::create(to).await.map_err(io)?;
        let mut size = 0u64;
        while let Some(chunk) = chunks.try_next().await? {
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(io)?;
        }
        file.flush().await.map_err(io)?;
        Ok(size)
    }

    /// The object at `key` as a stream of chunks.
    pub(crate) async fn stream(
        &self,
        key: &str,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes>>> {
        let result = self
            .store
            .get(&self.path(key))
            .await
            .map_err(self.err(key, "read"))?;
        let url = self.object_url(key);
        Ok(Box::pin(result.into_stream().map_err(move |source| {
            Error::Storage {
                url: url.clone(),
                operation: "read",
                source,
            }
        })))
    }

    /// The sha256 (hex) and size of the object at `key`, read as a stream.
    pub(crate) async fn hash(&self, key: &str) -> Result<(String, u64)> {
        if let Some(dir) = self.local_dir() {
            let path = dir.join(key);
            let hashed = tokio::task::spawn_blocking(move || local::hash_file(&path))
                .await
                .map_err(|e| Error::Internal(format!("hash thread: {e}")))?;
            return hashed.map_err(|e| {
                let source = if e.kind() == std::io::ErrorKind::NotFound {
                    object_store::Error::NotFound {
                        path: key.to_string(),
                        source: Box::new(e),
                    }
                } else {
                    object_store::Error::Generic {
                        store: "LocalFileSystem",
                        source: Box::new(e),
                    }
                };
                self.err(key, "read")(source)
            });
        }
        use sha2::{Digest, Sha256};
        let mut stream = self.stream(key).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.try_next().await? {
            hasher.update(&chunk);
            size += chunk.len() as u64;
        }
        Ok((crate::format::hash::hex(&hasher.finalize()), size))
    }

    /// Copy `key` from `self` to the same key in `to` (another store or tier), streaming, and
    /// prove the copy: the bytes read must hash to `sha256`, and so must the object read back
    /// at the destination. A verified copy already there is kept; a different object there is an
    /// integrity error, never overwritten.
    pub(crate) async fn copy_verified(&self, to: &Storage, key: &str, sha256: &str) -> Result<()> {
        if to.head(key).await?.is_some() {
            let (found, _) = to.hash(key).await?;
            if found == sha256 {
                return Ok(());
            }
            return Err(Error::Integrity {
                path: to.object_url(key),
                problem: format!(
                    "holds sha256 {found}, but the catalog says {sha256}; left as it is"
                ),
            });
        }
        if let (Some(from_dir), Some(to_dir)) = (self.local_dir(), to.local_dir()) {
            let (source, dest) = (from_dir.join(key), to_dir.join(key));
            let expected = sha256.to_string();
            let copied = tokio::task::spawn_blocking(move || {
                local::copy_verified(&source, &dest, &expected)
            })
            .await
            .map_err(|e| Error::Internal(format!("copy thread: {e}")))?;
            return match copied {
                Ok(()) => Ok(()),
                Err(local::CopyError::Io(e)) => Err(e),
                Err(local::CopyError::Source(found)) => {
                    Err(self.source_differs(key, &found, sha256))
                }
                Err(local::CopyError::Copy(found)) => Err(to.copy_differs(key, &found, sha256)),
                Err(local::CopyError::Exists) => {
                    Box::pin(self.copy_verified(to, key, sha256)).await
                }
            };
        }
        use sha2::{Digest, Sha256};
        let mut stream = self.stream(key).await?;
        let mut hasher = Sha256::new();
        let mut writer = to.writer(key);
        while let Some(chunk) = stream.try_next().await? {
            hasher.update(&chunk);
            if let Err(e) = writer.write(&chunk).await {
                writer.abort().await;
                return Err(e);
            }
        }
        let read = crate::format::hash::hex(&hasher.finalize());
        if read != sha256 {
            writer.abort().await;
            return Err(self.source_differs(key, &read, sha256));
        }
        writer.finish().await?;
        let (written, _) = to.hash(key).await?;
        if written != sha256 {
            to.delete(key).await?;
            return Err(to.copy_differs(key, &written, sha256));
        }
        Ok(())
    }

    /// The object to be copied does not hash to what the catalog recorded.
    fn source_differs(&self, key: &str, found: &str, expected: &str) -> Error {
        Error::Integrity {
            path: self.object_url(key),
            problem: format!("sha256 is {found}, the catalog recorded {expected}"),
        }
    }

    /// The copy made here did not read back whole, and was removed.
    fn copy_differs(&self, key: &str, found: &str, expected: &str) -> Error {
        Error::Integrity {
            path: self.object_url(key),
            problem: format!("the copy reads back as sha256 {found}, expected {expected}; removed"),
        }
    }

    pub(crate) async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.store
            .get_range(&self.path(key), range)
            .await
            .map_err(self.err(key, "read"))
    }

    /// The object at `key`, or `None` when there is none.
    pub(crate) async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        match self.store.head(&self.path(key)).await {
            Ok(meta) => Ok(Some(ObjectInfo {
                key: key.to_string(),
                size: meta.size,
                last_modified: meta.last_modified,
                etag: meta.e_tag,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(key, "stat")(e)),
        }
    }

    /// Every object under `prefix`, sorted by key (stores differ in listing order).
    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let path = self.path(prefix.trim_end_matches('/'));
        let mut objects: Vec<ObjectInfo> = self
            .store
            .list(Some(&path))
            .map_ok(|meta| ObjectInfo {
                key: self.key_of(&meta.location),
                size: meta.size,
                last_modified: meta.last_modified,
                etag: meta.e_tag,
            })
            .try_collect()
            .await
            .map_err(self.err(prefix, "list"))?;
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    pub(crate) async fn copy(&self, from: &str, to: &str) -> Result<()> {
        self.store
            .copy(&self.path(from), &self.path(to))
            .await
            .map_err(self.err(from, "copy"))
    }

    /// Delete `key`; deleting what is already gone succeeds, so re-runs are idempotent.
    pub(crate) async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(key, "delete")(e)),
        }
    }
}

/// Why two places overlap, given whether the root lies in the archive and the archive in the root.
fn overlap(root_in_archive: bool, archive_in_root: bool) -> Option<&'static str> {
    match (root_in_archive, archive_in_root) {
        (true, true) => Some("they are the same place; give the archive tier a place of its own"),
        (true, false) => Some("the root lies inside the archive tier"),
        (false, true) => Some("the archive tier lies inside the root"),
        (false, false) => None,
    }
}

/// Is `e` a lost race for a key that already exists?
pub(crate) fn is_already_exists(e: &Error) -> bool {
    matches!(
        e,
        Error::Storage {
            source: object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ..
        }
    )
}

/// Is `e` a missing object?
pub(crate) fn is_not_found(e: &Error) -> bool {
    matches!(
        e,
        Error::Storage {
            source: object_store::Error::NotFound { .. },
            ..
        }
    )
}

/// Timeouts for every cloud store; `carried` gives what the environment set for a key, which
/// the options built here would otherwise replace.
fn client_options(
    timeout: Duration,
    carried: impl Fn(ClientConfigKey) -> Option<String>,
) -> ClientOptions {
    let mut client = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(timeout);
    for key in [
        ClientConfigKey::AllowHttp,
        ClientConfigKey::AllowInvalidCertificates,
        ClientConfigKey::ProxyUrl,
        ClientConfigKey::ProxyCaCertificate,
        ClientConfigKey::ProxyExcludes,
    ] {
        if let Some(value) = carried(key) {
            client = client.with_config(key, value);
        }
    }
    client
}

/// 5xx answers, timeouts and refused connections are retried with exponential backoff, five
/// times within 30 s.
fn retry_config() -> RetryConfig {
    RetryConfig {
        max_retries: 5,
        retry_timeout: Duration::from_secs(30),
        ..Default::default()
    }
}

/// An Azure Blob container. The account, its key or token, and an emulator
/// (`AZURE_STORAGE_USE_EMULATOR`, `AZURITE_BLOB_STORAGE_URL`) come from the `AZURE_*`
/// variables, as object_store reads them. A new object's create is conditional
/// (`If-None-Match: *`), as on S3.
fn azure_store(container: &str) -> object_store::Result<object_store::azure::MicrosoftAzure> {
    let builder = MicrosoftAzureBuilder::from_env();
    let client = client_options(DEFAULT_TIMEOUT, |key| {
        builder.get_config_value(&AzureConfigKey::Client(key))
    });
    builder
        .with_container_name(container)
        .with_client_options(client)
        .with_retry(retry_config())
        .build()
}

/// A Google Cloud Storage bucket. Credentials come from `GOOGLE_SERVICE_ACCOUNT` (a key file;
/// one with `gcs_base_url` and `disable_oauth` reaches an emulator),
/// `GOOGLE_APPLICATION_CREDENTIALS` or the instance's metadata server, as object_store reads
/// them. A new object's create is conditional (`ifGenerationMatch=0`).
fn gcs_store(bucket: &str) -> object_store::Result<object_store::gcp::GoogleCloudStorage> {
    let builder = GoogleCloudStorageBuilder::from_env();
    let client = client_options(DEFAULT_TIMEOUT, |key| {
        builder.get_config_value(&GoogleConfigKey::Client(key))
    });
    builder
        .with_bucket_name(bucket)
        .with_client_options(client)
        .with_retry(retry_config())
        .build()
}

/// The store, and the region it signs requests for.
fn s3_store(
    bucket: &str,
    s3: &S3Options,
) -> object_store::Result<(object_store::aws::AmazonS3, String)> {
    // Credentials, and anything the user sets in AWS_* variables (AWS_ENDPOINT_URL,
    // AWS_REGION, AWS_ALLOW_HTTP, …), come from the environment; lake.toml overrides them.
    let builder = AmazonS3Builder::from_env();
    let client = client_options(
        Duration::from_secs(s3.request_timeout_secs.unwrap_or(60)),
        |key| builder.get_config_value(&AmazonS3ConfigKey::Client(key)),
    );
    let mut builder = builder
        .with_bucket_name(bucket)
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_client_options(client)
        // 5xx answers, timeouts and refused connections are retried with exponential backoff
        // until either limit is reached.
        .with_retry(RetryConfig {
            max_retries: s3.max_retries.unwrap_or(5),
            retry_timeout: Duration::from_secs(s3.retry_timeout_secs.unwrap_or(30)),
            ..Default::default()
        });
    if let Some(vars) = &s3.credentials {
        let read = |var: &str| {
            std::env::var(var).map_err(|_| object_store::Error::Generic {
                store: "S3",
                source: format!(
                    "the variable {var}, named in lake.toml for this bucket, is not set"
                )
                .into(),
            })
        };
        if let Some(var) = &vars.access_key_id {
            builder = builder.with_access_key_id(read(var)?);
        }
        if let Some(var) = &vars.secret_access_key {
            builder = builder.with_secret_access_key(read(var)?);
        }
        if let Some(var) = &vars.session_token {
            builder = builder.with_token(read(var)?);
        }
    }
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    if let Some(allow) = s3.allow_http {
        builder = builder.with_allow_http(allow);
    }
    let region = builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .unwrap_or_else(|| "us-east-1".into());
    Ok((builder.build()?, region))
}

/// Streams one new object: held in memory until it outgrows one part, then uploaded in parts.
pub(crate) struct ObjectWriter {
    storage: Storage,
    key: String,
    buffer: Vec<u8>,
    upload: Option<WriteMultipart>,
    size: u64,
}

impl ObjectWriter {
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.size += data.len() as u64;
        if self.upload.is_none() {
            self.buffer.extend_from_slice(data);
            if self.buffer.len() < PART_SIZE {
                return Ok(());
            }
            let path = self.storage.path(&self.key);
            let upload = self
                .storage
                .store
                .put_multipart(&path)
                .await
                .map_err(self.storage.err(&self.key, "start upload"))?;
            let mut upload = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            upload.write(&std::mem::take(&mut self.buffer));
            self.upload = Some(upload);
            return Ok(());
        }
        let upload = self.upload.as_mut().expect("checked above");
        upload
            .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
            .await
            .map_err(self.storage.err(&self.key, "upload"))?;
        upload.write(data);
        Ok(())
    }

    /// Complete the object; returns its size in bytes.
    pub(crate) async fn finish(mut self) -> Result<u64> {
        match self.upload.take() {
            None => {
                let bytes = Bytes::from(std::mem::take(&mut self.buffer));
                self.storage.put_new(&self.key, bytes).await?;
            }
            Some(upload) => {
                upload
                    .finish()
                    .await
                    .map_err(self.storage.err(&self.key, "complete upload"))?;
            }
        }
        Ok(self.size)
    }

    /// Give up: nothing stays at the key.
    pub(crate) async fn abort(mut self) {
        self.abort_in_place().await;
    }

    async fn abort_in_place(&mut self) {
        self.buffer = Vec::new();
        if let Some(upload) = self.upload.take()
            && let Err(e) = upload.abort().await
        {
            tracing::warn!(key = self.key, error = %e, "could not abort an upload");
        }
    }
}

impl Drop for ObjectWriter {
    /// An upload dropped unfinished (a failed encoder, a cancelled operation) is aborted, so no
    /// incomplete multipart upload is left behind while the process lives.
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                let _ = upload.abort().await;
            });
        }
    }
}

/// A blocking [`std::io::Write`] over an [`ObjectWriter`], for encoders that run on their own
/// thread (not a runtime worker). A storage failure travels inside the `io::Error`; get it back
/// with [`storage_error`].
pub(crate) struct BlockingObjectWriter {
    handle: tokio::runtime::Handle,
    writer: ObjectWriter,
    buffer: Vec<u8>,
}

/// Bytes gathered before one hand-off to the async writer.
const BLOCKING_CHUNK: usize = 8 << 20;

impl ObjectWriter {
    pub(crate) fn into_blocking(self, handle: tokio::runtime::Handle) -> BlockingObjectWriter {
        BlockingObjectWriter {
            handle,
            writer: self,
            buffer: Vec::with_capacity(BLOCKING_CHUNK),
        }
    }
}

impl BlockingObjectWriter {
    pub(crate) fn key(&self) -> &str {
        self.writer.key()
    }

    fn hand_off(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let result = self.handle.block_on(self.writer.write(&self.buffer));
        self.buffer.clear();
        result
    }

    pub(crate) fn finish(mut self) -> Result<u64> {
        self.hand_off()?;
        self.handle.block_on(self.writer.finish())
    }

    /// Give up the object: an upload in progress is aborted; nothing stays at the key.
    pub(crate) fn abort(&mut self) {
        self.buffer.clear();
        self.handle.block_on(self.writer.abort_in_place());
    }
}

impl std::io::Write for BlockingObjectWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= BLOCKING_CHUNK {
            self.hand_off().map_err(std::io::Error::other)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The storage [`Error`] carried inside an `io::Error` from [`BlockingObjectWriter`], if any.
pub(crate) fn storage_error(e: std::io::Error) -> std::result::Result<Error, std::io::Error> {
    if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        let inner = e.into_inner().expect("checked above");
        return Ok(*inner.downcast::<Error>().expect("checked above"));
    }
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_passes_conformance() {
        conformance::run_all(&Storage::in_memory()).await;
    }

    #[tokio::test]
    async fn local_disk_passes_conformance() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open("data", dir.path(), &S3Options::default()).unwrap();
        conformance::run_all(&storage).await;
    }

    #[test]
    fn overlapping_tiers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s3 = S3Options::default();
        let open = |url: &str| Storage::open(url, dir.path(), &s3).unwrap();
        let root = open("data");
        assert!(root.check_apart(&open("archive")).is_ok());
        assert!(root.check_apart(&open("data-archive")).is_ok());
        for archive in ["data", "./data/", "data/cold", "."] {
            let err = root.check_apart(&open(archive)).unwrap_err();
            assert!(
                matches!(err, Error::TiersOverlap { .. }),
                "{archive}: {err}"
            );
        }
        let bucket = |url: &str| Storage::open(url, dir.path(), &s3).unwrap();
        let r = bucket("s3://b/lake");
        assert!(r.check_apart(&bucket("s3://b/lake-archive")).is_ok());
        assert!(r.check_apart(&bucket("s3://other/lake")).is_ok());
        for archive in ["s3://b/lake", "s3://b/lake/cold", "s3://b", "s3://b/"] {
            assert!(r.check_apart(&bucket(archive)).is_err(), "{archive}");
        }
        // Per scheme: a container on Azure and a bucket on GCS of one name are apart.
        let az = bucket("az://b/lake");
        assert!(az.check_apart(&bucket("gs://b/lake")).is_ok());
        assert!(az.check_apart(&bucket("s3://b/lake")).is_ok());
        assert!(az.check_apart(&bucket("az://b/lake/cold")).is_err());
    }

    /// The live stores scripts/test.sh starts (SeaweedFS for S3, Azurite for Azure), each
    /// check under a fresh prefix; skipped when their variables are not set.
    fn live(url_var: &str) -> Option<(String, S3Options)> {
        let Some(url) = std::env::var(url_var).ok().filter(|v| !v.is_empty()) else {
            eprintln!("skipping: {url_var} is not set (scripts/test.sh starts a server)");
            return None;
        };
        let options = S3Options {
            endpoint: std::env::var("LAKE_TEST_S3_ENDPOINT").ok(),
            allow_http: Some(true),
            ..Default::default()
        };
        Some((format!("{url}/{}", layout::new_write_id()), options))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn s3_passes_conformance() {
        let Some((url, options)) = live("LAKE_TEST_S3_URL") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        conformance::run_all(&Storage::open(&url, dir.path(), &options).unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn azure_passes_conformance() {
        let Some((url, options)) = live("LAKE_TEST_AZURE_URL") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        conformance::run_all(&Storage::open(&url, dir.path(), &options).unwrap()).await;
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Storage::open("ftp://x/y", dir.path(), &S3Options::default()).unwrap_err();
        assert!(matches!(err, Error::StorageUrl { .. }), "{err}");
    }
}
