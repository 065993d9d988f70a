//! A store that misbehaves on purpose, for tests: errors before a request is forwarded (the
//! store never saw it), errors after (the store did it, the answer was lost: outcome unknown),
//! delays, and GETs that return a truncated body. Faults apply to keys containing a pattern.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Writes fail before reaching the store.
    FailBefore,
    /// Writes reach the store, then report failure.
    FailAfter,
    /// Every request waits this long first.
    Delay(Duration),
    /// GETs return the first half of the body.
    TruncateGet,
}

#[derive(Debug, Default)]
pub(crate) struct Faulty {
    pub inner: InMemory,
    faults: Mutex<Vec<(String, Fault)>>,
}

impl fmt::Display for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

impl Faulty {
    /// Apply `fault` to every key containing `pattern` (until [`Faulty::clear`]).
    pub(crate) fn inject(&self, pattern: &str, fault: Fault) {
        self.faults
            .lock()
            .unwrap()
            .push((pattern.to_string(), fault));
    }

    pub(crate) fn clear(&self) {
        self.faults.lock().unwrap().clear();
    }

    fn faults_for(&self, location: &ObjectPath) -> Vec<Fault> {
        self.faults
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| location.as_ref().contains(p.as_str()))
            .map(|(_, f)| *f)
            .collect()
    }

    async fn before(&self, location: &ObjectPath, write: bool) -> object_store::Result<bool> {
        let mut fail_after = false;
        for f in self.faults_for(location) {
            match f {
                Fault::Delay(d) => tokio::time::sleep(d).await,
                Fault::FailBefore if write => return Err(injected("before forwarding")),
                Fault::FailAfter if write => fail_after = true,
                _ => {}
            }
        }
        Ok(fail_after)
    }
}

fn injected(when: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "Faulty",
        source: format!("injected: 503 Service Unavailable ({when})").into(),
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let fail_after = self.before(location, true).await?;
        let result = self.inner.put_opts(location, payload, opts).await?;
        if fail_after {
            return Err(injected("after forwarding: outcome unknown"));
        }
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.before(location, true).await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.before(location, false).await?;
        let result = self.inner.get_opts(location, options).await?;
        if !self.faults_for(location).contains(&Fault::TruncateGet) {
            return Ok(result);
        }
        let (meta, range, attributes) = (
            result.meta.clone(),
            result.range.clone(),
            result.attributes.clone(),
        );
        let body = result.bytes().await?;
        let half: Bytes = body.slice(..body.len() / 2);
        Ok(GetResult {
            payload: GetResultPayload::Stream(
                futures::stream::once(async move { Ok(half) }).boxed(),
            ),
            meta,
            range,
            attributes,
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.before(to, true).await?;
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use futures::TryStreamExt;

    use super::*;
    use crate::catalog::{Catalog, NewRule, VersionState};
    use crate::config::Config;
    use crate::error::Error;
    use crate::ident::{DatasetRef, Version};
    use crate::lake::Lake;
    use crate::storage::Storage;

    /// A lake whose hot and archive tiers are faulty stores, with a project folder for jobs.
    fn lake(dir: &Path) -> (Lake, Arc<Faulty>, Arc<Faulty>) {
        let (hot, cold) = (Arc::new(Faulty::default()), Arc::new(Faulty::default()));
        let lake = Lake::from_parts(
            dir.to_path_buf(),
            Config::new(None, None),
            Storage::from_store(hot.clone(), "faulty://hot"),
            Storage::from_store(cold.clone(), "faulty://cold"),
            Catalog::open_in_memory().unwrap(),
        );
        (lake, hot, cold)
    }

    fn csv(dir: &Path, name: &str, rows: usize) -> PathBuf {
        let path = dir.join(name);
        let mut s = String::from("id,amount\n");
        for i in 0..rows {
            s.push_str(&format!("{i},{}.5\n", i % 100));
        }
        std::fs::write(&path, s).unwrap();
        path
    }

    async fn keys(store: &Faulty) -> Vec<String> {
        let all: Vec<ObjectMeta> = store.inner.list(None).try_collect().await.unwrap();
        all.into_iter().map(|m| m.location.to_string()).collect()
    }

    fn orders() -> DatasetRef {
        "bronze.orders".parse().unwrap()
    }

    async fn ingest(lake: &Lake, dir: &Path, name: &str) -> crate::Result<crate::IngestReport> {
        lake.ingest(vec![csv(dir, name, 4000)], orders())
            .execute()
            .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_data_upload_of_unknown_outcome_commits_nothing_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, hot, _) = lake(dir.path());
        hot.inject("/data/", Fault::FailAfter);
        let err = ingest(&lake, dir.path(), "a.csv").await.unwrap_err();
        assert!(err.to_string().contains("faulty://hot"), "{err}");
        assert!(lake.datasets(None).unwrap().is_empty());
        assert_eq!(keys(&hot).await, Vec::<String>::new(), "swept by prefix");
        assert!(lake.catalog().reader().writes().unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_manifest_of_unknown_outcome_commits_nothing_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, hot, _) = lake(dir.path());
        hot.inject("_lake/manifests", Fault::FailAfter);
        assert!(ingest(&lake, dir.path(), "a.csv").await.is_err());
        assert!(lake.datasets(None).unwrap().is_empty());
        assert_eq!(keys(&hot).await, Vec::<String>::new());
        hot.clear();
        let report = ingest(&lake, dir.path(), "a.csv").await.unwrap();
        assert_eq!(report.version, Some(Version(1)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_storage_only_slows() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, hot, _) = lake(dir.path());
        hot.inject("", Fault::Delay(Duration::from_millis(30)));
        let report = ingest(&lake, dir.path(), "a.csv").await.unwrap();
        assert_eq!(report.rows, 4000);
        let out = lake
            .query("SELECT count(*) AS n FROM bronze.orders")
            .execute()
            .await
            .unwrap();
        let batches: Vec<_> = out.stream.try_collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches).unwrap();
        assert!(text.to_string().contains("4000"), "{text}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_promote_output_commits_nothing_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, hot, _) = lake(dir.path());
        ingest(&lake, dir.path(), "a.csv").await.unwrap();
        std::fs::create_dir_all(dir.path().join("jobs/silver")).unwrap();
        std::fs::write(
            dir.path().join("jobs/silver/big.sql"),
            "SELECT id, amount FROM bronze.orders WHERE amount > 10",
        )
        .unwrap();
        let before = keys(&hot).await;
        for fault in [Fault::FailBefore, Fault::FailAfter] {
            hot.inject("silver/", fault);
            let report = lake.promote().execute().await.unwrap();
            assert_eq!(report.failed, 1, "{fault:?}");
            assert_eq!(keys(&hot).await, before, "{fault:?}");
            hot.clear();
        }
        let report = lake.promote().execute().await.unwrap();
        assert_eq!(report.ok, 1);
    }

    /// v1 and v2 of bronze.orders, and a rule that archives v1.
    async fn two_versions(lake: &Lake, dir: &Path) {
        ingest(lake, dir, "a.csv").await.unwrap();
        lake.ingest(vec![csv(dir, "b.csv", 10)], orders())
            .with_mode(crate::IngestMode::Overwrite)
            .execute()
            .await
            .unwrap();
        lake.add_rule(&NewRule {
            zone: None,
            dataset_glob: "*".into(),
            archive_after_s: Some(0),
            keep_last: 0,
            expire_after_s: None,
            keep_inputs: false,
            origin: "cli",
        })
        .unwrap();
    }

    fn state(lake: &Lake, v: u64) -> VersionState {
        lake.resolve(&orders().at(Version(v))).unwrap().state
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_truncated_read_never_moves_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (lake, hot, cold) = lake(dir.path());
        two_versions(&lake, dir.path()).await;
        let hot_before = keys(&hot).await;

        // Archive reads each file back through a truncating GET: the copy does not verify.
        hot.inject("/data/", Fault::TruncateGet);
        let err = lake.archive_versions().execute().await.unwrap_err();
        assert!(matches!(err, Error::Integrity { .. }), "{err}");
        assert_eq!(state(&lake, 1), VersionState::Active);
        assert_eq!(keys(&hot).await, hot_before);
        assert_eq!(keys(&cold).await, Vec::<String>::new(), "no half copy left");
        hot.clear();

        // Writes to the archive tier that fail, either way, move nothing either.
        for fault in [Fault::FailBefore, Fault::FailAfter] {
            cold.inject("/data/", fault);
            assert!(
                lake.archive_versions().execute().await.is_err(),
                "{fault:?}"
            );
            assert_eq!(state(&lake, 1), VersionState::Active, "{fault:?}");
            assert_eq!(keys(&hot).await, hot_before, "{fault:?}");
            cold.clear();
        }
        lake.archive_versions().execute().await.unwrap();
        assert_eq!(state(&lake, 1), VersionState::Archived);

        // Restore reads the archive copy truncated: the version stays archived, its copy kept.
        let cold_before = keys(&cold).await;
        cold.inject("/data/", Fault::TruncateGet);
        assert!(lake.restore(&orders().at(Version(1)), false).await.is_err());
        assert_eq!(state(&lake, 1), VersionState::Archived);
        assert_eq!(keys(&cold).await, cold_before);
        cold.clear();
        lake.restore(&orders().at(Version(1)), false).await.unwrap();
        assert_eq!(state(&lake, 1), VersionState::Active);
        let report = lake.check(true, false).await.unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }
}
