//! Against a live S3-compatible server (SeaweedFS on 127.0.0.1, started by scripts/test.sh).
//! Each test prints "skipping" and passes when `LAKE_TEST_S3_URL` is not set.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{TestLake, orders_csv, text};

pub(crate) struct S3 {
    pub url: String,
    pub archive: String,
    pub endpoint: String,
}

pub(crate) fn s3() -> Option<S3> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        get("LAKE_TEST_S3_URL"),
        get("LAKE_TEST_S3_ARCHIVE_URL"),
        get("LAKE_TEST_S3_ENDPOINT"),
    ) {
        (Some(url), Some(archive), Some(endpoint)) => Some(S3 {
            url,
            archive,
            endpoint,
        }),
        _ => {
            eprintln!("skipping: LAKE_TEST_S3_URL is not set (scripts/test.sh starts a server)");
            None
        }
    }
}

pub(crate) fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// lake uploads objects larger than this in parts (8 MiB).
const PART_SIZE: u64 = 8 * 1024 * 1024;

/// The objects under `s3://bucket/prefix` or `az://container/prefix`, reached with object_store
/// directly, as another tool would: to put sources in place and read back what lake wrote.
pub(crate) struct Objects {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    runtime: tokio::runtime::Runtime,
}

impl Objects {
    /// The store at `url`, with the credentials of the test's environment; `endpoint` for S3.
    pub(crate) fn open(url: &str, endpoint: &str) -> Objects {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let store: Arc<dyn ObjectStore> = match scheme {
            "s3" => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_endpoint(endpoint)
                    .with_allow_http(true)
                    .build()
                    .unwrap(),
            ),
            "az" => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(bucket)
                    .build()
                    .unwrap(),
            ),
            other => panic!("no test store for {other}://"),
        };
        Objects {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            runtime: runtime(),
        }
    }

    fn path(&self, key: &str) -> ObjectPath {
        match (self.prefix.is_empty(), key.is_empty()) {
            (true, _) => ObjectPath::from(key),
            (false, true) => ObjectPath::from(self.prefix.as_str()),
            (false, false) => ObjectPath::from(format!("{}/{key}", self.prefix)),
        }
    }

    pub(crate) fn put(&self, key: &str, bytes: impl Into<bytes::Bytes>) {
        let payload = PutPayload::from(bytes.into());
        self.runtime
            .block_on(self.store.put(&self.path(key), payload))
            .unwrap_or_else(|e| panic!("putting {key}: {e}"));
    }

    pub(crate) fn get(&self, key: &str) -> Vec<u8> {
        self.runtime
            .block_on(async { self.store.get(&self.path(key)).await?.bytes().await })
            .unwrap_or_else(|e| panic!("getting {key}: {e}"))
            .to_vec()
    }

    /// Does the store answer a listing?
    pub(crate) fn lists(&self) -> bool {
        let path = self.path("");
        self.runtime
            .block_on(self.store.list(Some(&path)).try_next())
            .is_ok()
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A lake whose root and archive are fresh prefixes of the two test buckets.
pub(crate) fn s3_lake(s3: &S3, endpoint: &str) -> (TestLake, String) {
    let lake = TestLake::empty();
    let prefix = unique();
    let root = format!("{}/{prefix}", s3.url);
    lake.cmd([
        "init",
        "--root",
        &root,
        "--archive",
        &format!("{}/{prefix}", s3.archive),
        "--s3-endpoint",
        endpoint,
        "--s3-allow-http",
    ])
    .assert()
    .success();
    (lake, root)
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A CSV whose Parquet is larger than a multipart part: high-entropy tokens.
fn big_csv(rows: u64) -> String {
    let mut csv = String::from("id,token,other\n");
    for i in 0..rows {
        let a = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let b = a.rotate_left(17) ^ 0xD6E8_FEB8_6659_FD93;
        csv.push_str(&format!(
            "{i},{a:016x}{b:016x},{:016x}\n",
            b.wrapping_mul(31)
        ));
    }
    csv
}

#[test]
fn s3_cli_flow_end_to_end() {
    let Some(s3) = s3() else { return };
    let (lake, root) = s3_lake(&s3, &s3.endpoint);
    cli_flow_end_to_end(&lake, &Objects::open(&root, &s3.endpoint));
}

/// Ingest a small version and one spanning several upload parts, and find in the store,
/// byte for byte, what the catalog says.
pub(crate) fn cli_flow_end_to_end(lake: &TestLake, objects: &Objects) {
    lake.write("o.csv", orders_csv(100, 0));
    lake.cmd(["ingest", "o.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    lake.write("big.csv", big_csv(500_000));
    let r = lake.json([
        "ingest",
        "big.csv",
        "--into",
        "bronze.orders",
        "--mode",
        "overwrite",
    ]);
    assert_eq!(r["version"], 2);
    assert!(
        r["bytes_written"].as_u64().unwrap() > PART_SIZE,
        "the data file must span several multipart parts: {}",
        r["bytes_written"]
    );
    let log = lake.json(["log", "bronze.orders"]);
    assert_eq!(log.as_array().unwrap().len(), 2);
    let show = lake.json(["show", "bronze.orders@v2"]);
    assert_eq!(show["rows"], 500_000);
    assert_eq!(lake.json(["show", "bronze.orders@v1"])["rows"], 100);

    // What the catalog says is what the bucket holds, byte for byte.
    let manifest = objects.get(show["manifest_key"].as_str().unwrap());
    assert_eq!(sha256(&manifest), show["digest"].as_str().unwrap());
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    for f in manifest["files"].as_array().unwrap() {
        let data = objects.get(f["path"].as_str().unwrap());
        assert_eq!(sha256(&data), f["sha256"].as_str().unwrap());
        assert_eq!(data.len() as u64, f["size"].as_u64().unwrap());
    }
    let again = lake.json([
        "ingest",
        "big.csv",
        "--into",
        "bronze.orders",
        "--mode",
        "overwrite",
    ]);
    assert_eq!(again["status"], "unchanged");
}

#[test]
fn s3_concurrent_ingests_make_one_version_each() {
    let Some(s3) = s3() else { return };
    let (lake, _) = s3_lake(&s3, &s3.endpoint);
    assert_eq!(lake.concurrent_ingests(4, 500), [1, 2, 3, 4]);
    assert_eq!(lake.json(["show", "bronze.orders"])["rows"], 2000);
}

/// `lake init` against a broken S3 setup: exit 1 within `limit`, naming the URL.
#[test]
fn s3_eight_writers_beside_a_gc_loop() {
    let Some(s3) = s3() else { return };
    let (lake, _) = s3_lake(&s3, &s3.endpoint);
    crate::faults::eight_writers_beside_gc(&lake);
}

#[test]
fn s3_concurrent_ingests_of_one_file_make_one_version() {
    let Some(s3) = s3() else { return };
    let (lake, _) = s3_lake(&s3, &s3.endpoint);
    crate::faults::one_file_ingested_four_times_at_once(&lake);
}

#[test]
fn s3_archive_during_a_restore_keeps_the_restored_files() {
    use crate::faults::LATER;
    let Some(s3) = s3() else { return };
    let (lake, _) = s3_lake(&s3, &s3.endpoint);
    for day in 1..=3 {
        lake.ingest_on_day("bronze.orders", day, 1000);
    }
    lake.cmd(["rule", "add", "--archive-after", "1d"])
        .assert()
        .success();
    lake.run_with(&["archive"], &[("LAKE_NOW", LATER)]);
    crate::faults::archive_during_a_restore_of_v1(&lake);
    assert_eq!(lake.json(["show", "bronze.orders@v1"])["state"], "active");
    assert_eq!(lake.count("bronze.orders", Some("v1")), 1000);
    lake.assert_clean();
}

fn init_fails(
    s3: &S3,
    root: &str,
    endpoint: &str,
    env: &[(&str, &str)],
    expect: &str,
    hint: &str,
    limit: Duration,
) {
    let lake = TestLake::empty();
    let mut cmd = lake.cmd([
        "init",
        "--root",
        root,
        "--archive",
        &format!("{}/{}", s3.archive, unique()),
        "--s3-endpoint",
        endpoint,
        "--s3-allow-http",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let took = started.elapsed();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(root.trim_end_matches('/')),
        "the error names the URL: {err}"
    );
    assert!(err.contains(expect), "expected {expect:?} in {err}");
    assert!(
        err.contains("hint: ") && err.contains("check the bucket exists") && err.contains(hint),
        "expected the hint {hint:?}: {err}"
    );
    assert!(took < limit, "took {took:?}");
    assert!(
        !lake.path().join("lake.toml").exists(),
        "a failed init leaves no project"
    );
}

#[test]
fn s3_misconfiguration_fails_fast_and_clearly() {
    let Some(s3) = s3() else { return };
    init_fails(
        &s3,
        "s3://no-such-bucket-here/x",
        &s3.endpoint,
        &[],
        "NoSuchBucket",
        "the bucket `no-such-bucket-here` does not exist",
        Duration::from_secs(20),
    );
    init_fails(
        &s3,
        &format!("{}/{}", s3.url, unique()),
        &s3.endpoint,
        &[("AWS_SECRET_ACCESS_KEY", "wrong-secret")],
        "SignatureDoesNotMatch",
        "the server refused the credentials",
        Duration::from_secs(20),
    );
    // Nothing listens on port 1: connections are refused, retried with backoff, then given up.
    init_fails(
        &s3,
        &format!("{}/{}", s3.url, unique()),
        "http://127.0.0.1:1",
        &[],
        "127.0.0.1:1",
        "nothing answered",
        Duration::from_secs(30),
    );
}

/// A private SeaweedFS, started and stopped (by PID) by the test that needs to stop it.
struct Seaweed {
    child: Option<Child>,
    dir: tempfile::TempDir,
    base: u16,
}

impl Seaweed {
    fn start() -> Option<Seaweed> {
        let weed = std::env::var("LAKE_TEST_WEED").ok()?;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("s3.json"),
            format!(
                r#"{{"identities": [{{"name": "lake", "credentials": [{{"accessKey": "{}", "secretKey": "{}"}}],
                   "actions": ["Admin", "Read", "List", "Tagging", "Write"]}}]}}"#,
                std::env::var("AWS_ACCESS_KEY_ID").unwrap(),
                std::env::var("AWS_SECRET_ACCESS_KEY").unwrap()
            ),
        )
        .unwrap();
        let mut s = Seaweed {
            child: None,
            dir,
            base: free_base_port(),
        };
        s.run(&weed);
        let out = Command::new(&weed)
            .args(["shell", &format!("-master=127.0.0.1:{}", s.base + 1)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(b"s3.bucket.create -name private\n")?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("created bucket"),
            "{out:?}"
        );
        Some(s)
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.base)
    }

    fn run(&mut self, weed: &str) {
        let p = self.base;
        let log = std::fs::File::create(self.dir.path().join("weed.log")).unwrap();
        let child = Command::new(weed)
            .args([
                "mini".to_string(),
                format!("-dir={}", self.dir.path().join("data").display()),
                "-ip=127.0.0.1".into(),
                "-ip.bind=127.0.0.1".into(),
                format!("-s3.port={p}"),
                format!("-master.port={}", p + 1),
                format!("-volume.port={}", p + 2),
                format!("-filer.port={}", p + 3),
                format!("-admin.port={}", p + 4),
                format!("-s3.config={}", self.dir.path().join("s3.json").display()),
                "-master.telemetry=false".into(),
                "-admin.ui=false".into(),
                "-webdav=false".into(),
                "-s3.port.iceberg=0".into(),
                "-s3.port.lance=0".into(),
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
            assert!(Instant::now() < deadline, "SeaweedFS did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        // The gateway listens before the filer is ready; a listing proves both are.
        let objects = Objects::open(&format!("s3://private/{}", unique()), &self.endpoint());
        let deadline = Instant::now() + Duration::from_secs(30);
        while !objects.lists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGTERM by PID, then wait for the process to end.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn restart(&mut self) {
        self.stop();
        let weed = std::env::var("LAKE_TEST_WEED").unwrap();
        self.run(&weed);
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_base_port() -> u16 {
    let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
    let seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
    for i in 0..500u64 {
        let base =
            20000 + ((seed.wrapping_mul(2654435761).wrapping_add(i * 7919)) % 2000) as u16 * 10;
        if (base..base + 5).all(|p| free(p) && free(p + 10000)) {
            return base;
        }
    }
    panic!("no free ports for a private SeaweedFS");
}

/// Rows in the outage test's input: enough for several seconds of ingest in a debug build.
const OUTAGE_ROWS: u64 = 2_400_000;

/// Start an ingest of a large file in the background; return it once it is under way.
fn start_big_ingest(lake: &TestLake) -> Child {
    if !lake.path().join("big.csv").exists() {
        lake.write("big.csv", big_csv(OUTAGE_ROWS));
    }
    let child = lake.spawn(&["ingest", "big.csv", "--into", "bronze.big", "--json"]);
    std::thread::sleep(Duration::from_millis(1000));
    child
}

#[test]
fn s3_outage_mid_ingest_fails_cleanly_and_a_brief_one_is_retried() {
    let Some(_) = s3() else { return };
    let Some(mut server) = Seaweed::start() else {
        eprintln!("skipping: LAKE_TEST_WEED is not set");
        return;
    };
    let endpoint = server.endpoint();
    let s3 = S3 {
        url: "s3://private".into(),
        // The archive tier needs a place of its own: a prefix of another name in the same bucket.
        archive: "s3://private/archive".into(),
        endpoint: endpoint.clone(),
    };
    let (lake, _) = s3_lake(&s3, &endpoint);
    lake.configure("s3", "retry_timeout_secs", "4");
    lake.configure("s3", "max_retries", "3");

    // A server that goes away for good: the ingest gives up within its deadline, commits nothing.
    let mut child = start_big_ingest(&lake);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the ingest should still be running"
    );
    server.stop();
    let started = Instant::now();
    let out = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "ingest hung after the outage"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("s3://private/"), "{err}");
    assert!(lake.datasets().is_empty(), "nothing half-committed");

    // A server that comes back within the retry window: the ingest goes on and commits.
    server.restart();
    lake.configure("s3", "retry_timeout_secs", "60");
    lake.configure("s3", "max_retries", "20");
    let mut child = start_big_ingest(&lake);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the ingest should still be running"
    );
    server.restart();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["version"], 1);
    assert_eq!(lake.json(["show", "bronze.big"])["rows"], OUTAGE_ROWS);
}

#[test]
fn s3_a_lost_catalog_is_rebuilt_from_storage_with_every_digest() {
    let Some(s3) = s3() else { return };
    let (lake, _) = s3_lake(&s3, &s3.endpoint);
    crate::erase::catalog_rebuilt_from_storage(&lake);
}

#[test]
fn s3_promote_archive_restore_gc_and_check() {
    let Some(s3) = s3() else { return };
    let (lake, _) = s3_lake(&s3, &s3.endpoint);
    promote_archive_restore_gc_and_check(&lake);
}

/// A job promoted, its input archived to the other tier and restored, then checked whole.
pub(crate) fn promote_archive_restore_gc_and_check(lake: &TestLake) {
    for day in 1..=2 {
        lake.ingest_on_day("bronze.orders", day, 300);
    }
    lake.write(
        "jobs/silver/paid.sql",
        "-- check: unique(order_id)\nSELECT order_id, amount FROM bronze.orders WHERE paid\n",
    );
    lake.cmd(["promote"]).assert().success();
    let q = lake
        .cmd([
            "query",
            "SELECT count(*) AS n FROM silver.paid",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert_eq!(text(&q).0, "n\n100\n");
    lake.cmd(["rule", "add", "--zone", "bronze", "--archive-after", "7d"])
        .assert()
        .success();
    let r = lake
        .cmd(["archive", "--json"])
        .env("LAKE_NOW", "2026-02-01T00:00:00Z")
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(r["archived"][0]["ref"], "bronze.orders@v1");
    assert_eq!(r["files_archived"], 1, "moved to the archive bucket");
    let out = lake
        .cmd([
            "query",
            "SELECT 1 FROM bronze.orders",
            "--at",
            "bronze.orders=v1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    lake.cmd(["restore", "bronze.orders@v1"]).assert().success();
    assert_eq!(
        lake.query_csv(
            "SELECT count(*) AS n FROM bronze.orders",
            &["bronze.orders=v1"]
        ),
        "n\n300\n"
    );
    let check = lake.json(["check", "--verify-hashes"]);
    assert_eq!(check["integrity_failures"], 0, "{check}");
    assert_eq!(check["orphans"], 0, "{check}");
    lake.cmd(["gc", "--dry-run"]).assert().success();
    let du = lake.json(["du"]);
    assert!(du["hot_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn s3_an_upload_killed_midway_is_found_and_aborted() {
    let Some(s3) = s3() else { return };
    let (lake, _) = s3_lake(&s3, &s3.endpoint);
    lake.write("big.csv", big_csv(OUTAGE_ROWS));
    let uploads = |report: &Value, why: &str| {
        report["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == "upload" && o["why"] == why)
            .count()
    };
    let mut child = lake.spawn(&["ingest", "big.csv", "--into", "bronze.big"]);
    // While the ingest lives, gc sees its upload and keeps it.
    crate::faults::wait_until("a multipart upload under way", || {
        uploads(
            &lake.json(["gc", "--dry-run", "--grace", "0s"]),
            "in_flight",
        ) > 0
    });
    child.kill().unwrap();
    child.wait().unwrap();

    let check = lake.json(["check"]);
    assert!(check["debris"].as_u64().unwrap() >= 1, "{check:#}");
    let gc = lake.json(["gc", "--grace", "0s"]);
    assert!(uploads(&gc, "debris") >= 1, "{gc:#}");
    assert_eq!(gc["dead_writes_closed"], 1, "{gc:#}");
    let after = lake.json(["gc", "--dry-run", "--grace", "0s"]);
    assert_eq!(after["orphans"], serde_json::json!([]), "{after:#}");
    lake.assert_clean();
}

#[test]
fn s3_standard_environment_variables_are_enough() {
    let Some(s3) = s3() else { return };
    let prefix = unique();
    let init = |lake: &TestLake, allow_http: Option<&str>| {
        let mut cmd = lake.cmd([
            "init",
            "--root",
            &format!("{}/{prefix}", s3.url),
            "--archive",
            &format!("{}/{prefix}", s3.archive),
        ]);
        cmd.env("AWS_ENDPOINT_URL", &s3.endpoint)
            .env_remove("AWS_ENDPOINT")
            .env_remove("AWS_ALLOW_HTTP");
        if let Some(v) = allow_http {
            cmd.env("AWS_ALLOW_HTTP", v);
        }
        cmd.output().unwrap()
    };
    // Plain http without saying so: refused, and the hint names the setting, not credentials.
    let lake = TestLake::empty();
    let out = init(&lake, None);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("AWS_ALLOW_HTTP"), "{err}");
    // As every MinIO or SeaweedFS guide sets them: init and ingest work with no [s3] section.
    let lake = TestLake::empty();
    let out = init(&lake, Some("true"));
    assert!(out.status.success(), "{}", text(&out).1);
    lake.write("o.csv", orders_csv(100, 0));
    let out = lake
        .cmd(["ingest", "o.csv", "--into", "bronze.orders"])
        .env("AWS_ENDPOINT_URL", &s3.endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
}

#[test]
fn s3_sources_ingest_hashed_as_stored_and_recorded_by_url() {
    let Some(s3) = s3() else { return };
    let (lake, _) = s3_lake(&s3, &s3.endpoint);
    let prefix = format!("{}/in-{}", s3.url, unique());
    let inbox = Objects::open(&prefix, &s3.endpoint);
    let (a, b) = (orders_csv(300, 0), orders_csv(200, 300));
    inbox.put("a.csv", a.clone());
    inbox.put("more/b.csv", b.clone());
    inbox.put("notes.txt.bak", "x");
    let one = format!("{prefix}/a.csv");
    let r = lake.json(["ingest", &one, "--into", "bronze.one"]);
    assert_eq!(r["rows"], 300, "{r}");
    let shown = lake.json(["show", "bronze.one"]);
    assert_eq!(shown["sources"][0]["uri"], one);
    assert_eq!(shown["sources"][0]["sha256"], sha256(a.as_bytes()));
    // The same object again is the same source.
    let again = lake.json(["ingest", &one, "--into", "bronze.one"]);
    assert_eq!(again["sources"][0]["skipped"], true, "{again}");
    // A prefix: every source under it, by extension.
    let all = lake.json(["ingest", &format!("{prefix}/"), "--into", "bronze.all"]);
    assert_eq!(all["rows"], 500, "{all}");
    let uris: Vec<String> = lake.json(["show", "bronze.all"])["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["uri"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(uris, [one.clone(), format!("{prefix}/more/b.csv")]);
    // A key that is not there is named; the spool keeps nothing.
    let out = lake
        .cmd([
            "ingest",
            &format!("{prefix}/nope.csv"),
            "--into",
            "bronze.nope",
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).1.contains("nope.csv"), "{:?}", text(&out));
    let spool = lake.path().join(".lake/spool");
    let left = std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "spooled copies are removed");
}

#[test]
fn s3_a_watched_prefix_ingests_each_object_once_with_the_credentials_its_section_names() {
    let Some(s3) = s3() else { return };
    let lake = TestLake::new();
    let prefix = format!("{}/drop-{}", s3.url, unique());
    let inbox = Objects::open(&prefix, &s3.endpoint);
    let (a, b, c) = (orders_csv(30, 0), orders_csv(20, 30), orders_csv(10, 50));
    inbox.put("a.csv", a.clone());
    inbox.put("day=2/b.csv", b.clone());
    inbox.put("_SUCCESS", "");
    // The source bucket's own section: its endpoint, and the variables holding its keys.
    lake.configure("sources.drop", "url", &format!("\"{prefix}/\""));
    lake.configure("sources.drop", "endpoint", &format!("\"{}\"", s3.endpoint));
    lake.configure("sources.drop", "allow_http", "true");
    lake.configure("sources.drop", "access_key_id_env", "\"DROP_KEY_ID\"");
    lake.configure("sources.drop", "secret_access_key_env", "\"DROP_SECRET\"");
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap();
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
    let watch = |lake: &TestLake, id: Option<&str>, secret: &str| {
        let mut cmd = lake.cmd([
            "ingest",
            "--watch",
            &format!("{prefix}/"),
            "--into",
            "bronze.drop",
            "--stream",
            "drop",
            "--once",
            "--json",
        ]);
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("DROP_SECRET", secret);
        match id {
            Some(id) => cmd.env("DROP_KEY_ID", id),
            None => cmd.env_remove("DROP_KEY_ID"),
        };
        cmd.output().unwrap()
    };
    // A variable the section names but the environment lacks is named.
    let out = watch(&lake, None, &secret);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).1.contains("DROP_KEY_ID"), "{:?}", text(&out));
    // Wrong keys are refused by the server.
    let out = watch(&lake, Some("nobody"), "wrong");
    assert_ne!(out.status.code(), Some(0), "{:?}", text(&out));
    // The right ones, from the named variables alone (no AWS_ACCESS_KEY_ID).
    let out = watch(&lake, Some(&key), &secret);
    assert!(out.status.success(), "{:?}", text(&out));
    let s = lake.json(["stream", "show", "drop", "--files"]);
    assert_eq!(s["position"], 2, "{s}");
    assert_eq!(s["source"], prefix);
    let files = s["files"].as_array().unwrap();
    assert_eq!(files[0]["key"], "a.csv");
    assert_eq!(files[0]["sha256"], sha256(a.as_bytes()));
    assert_eq!(files[1]["key"], "day=2/b.csv");
    assert_eq!(files[1]["sha256"], sha256(b.as_bytes()));
    assert!(files.iter().all(|f| f["etag"].is_string()), "{s}");
    let uris: Vec<String> = lake.json(["show", "bronze.drop"])["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["uri"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        uris,
        [format!("{prefix}/a.csv"), format!("{prefix}/day=2/b.csv")]
    );
    // Again: nothing new. A new object: only it.
    let out = watch(&lake, Some(&key), &secret);
    assert!(out.status.success(), "{:?}", text(&out));
    inbox.put("c.csv", c.clone());
    let out = watch(&lake, Some(&key), &secret);
    assert!(out.status.success(), "{:?}", text(&out));
    let versions = lake.json(["log", "bronze.drop"]);
    assert_eq!(versions.as_array().unwrap().len(), 2, "{versions}");
    assert_eq!(
        lake.query_csv("SELECT count(*) AS n FROM bronze.drop", &[]),
        "n\n60\n"
    );
    let spool = lake.path().join(".lake/spool");
    let left = std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "spooled copies are removed");
}

#[test]
fn s3_the_python_wheel_reads_an_s3_lake_in_the_rust_order() {
    let (Some(s3), Some(python)) = (s3(), crate::util::reader_python()) else {
        return;
    };
    let (lake, root) = s3_lake(&s3, &s3.endpoint);
    lake.ingest_orders("bronze.orders", 2, 400);
    lake.cmd(["pin", "bronze.orders"]).assert().success();
    for (args, kwargs) in [
        (vec!["--shard", "0/3"], "shard=(0, 3)"),
        (
            vec![
                "--seed",
                "5",
                "--epoch",
                "1",
                "--buffer",
                "100",
                "--batch-size",
                "30",
            ],
            "shuffle=(5, 1, 100), batch_size=30",
        ),
    ] {
        let rust = crate::util::scanned(&lake, "bronze.orders", "order_id", &args);
        let read = crate::util::python_batches("bronze.orders", &root, "order_id", kwargs);
        let said = lake.run_python_with(
            &python,
            &format!("{read}\nassert m.paths()[0].startswith('s3://'), m.paths()"),
            &[("AWS_ENDPOINT_URL", &s3.endpoint)],
        );
        let py: Vec<String> = said.lines().map(str::to_string).collect();
        assert!(!rust.is_empty());
        assert_eq!(py, rust, "{kwargs}");
    }
}
