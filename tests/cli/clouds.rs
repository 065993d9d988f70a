//! Roots on Azure Blob (`az://`) and Google Cloud Storage (`gs://`), against their emulators
//! (Azurite and fake-gcs-server on 127.0.0.1, started by scripts/test.sh with the standard
//! `AZURE_*` and `GOOGLE_*` variables): the same runs as on S3. And a lake read over HTTP from a
//! static web server on 127.0.0.1.
//!
//! A cloud test prints "skipping" and passes when its `LAKE_TEST_AZURE_URL` or
//! `LAKE_TEST_GCS_URL` is not set.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::s3::unique;
use crate::util::{TestLake, copy_dir, text};

pub(crate) struct Cloud {
    url: String,
    archive: String,
}

/// `LAKE_TEST_<NAME>_URL` and `LAKE_TEST_<NAME>_ARCHIVE_URL`: a bucket and another for the
/// archive tier.
fn cloud(name: &str) -> Option<Cloud> {
    let get = |k: String| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        get(format!("LAKE_TEST_{name}_URL")),
        get(format!("LAKE_TEST_{name}_ARCHIVE_URL")),
    ) {
        (Some(url), Some(archive)) => Some(Cloud { url, archive }),
        _ => {
            eprintln!("skipping: LAKE_TEST_{name}_URL is not set (scripts/test.sh starts one)");
            None
        }
    }
}

/// A lake whose root and archive are fresh prefixes of the two buckets.
fn cloud_lake(cloud: &Cloud) -> (TestLake, String) {
    let lake = TestLake::empty();
    let prefix = unique();
    let root = format!("{}/{prefix}", cloud.url);
    let archive = format!("{}/{prefix}", cloud.archive);
    lake.cmd(["init", "--root", &root, "--archive", &archive])
        .assert()
        .success();
    (lake, root)
}

/// Against Azurite: the runs the S3 root passes (the storage conformance checks run as unit
/// tests of the storage module, against the same server).
mod azure {
    use super::*;

    #[test]
    fn cli_flow_end_to_end() {
        let Some(c) = cloud("AZURE") else { return };
        let (lake, root) = cloud_lake(&c);
        crate::s3::cli_flow_end_to_end(&lake, &crate::s3::Objects::open(&root, ""));
    }

    #[test]
    fn concurrent_ingests_make_one_version_each() {
        let Some(c) = cloud("AZURE") else { return };
        let (lake, _) = cloud_lake(&c);
        assert_eq!(lake.concurrent_ingests(4, 500), [1, 2, 3, 4]);
        assert_eq!(lake.json(["show", "bronze.orders"])["rows"], 2000);
    }

    #[test]
    fn concurrent_ingests_of_one_file_make_one_version() {
        let Some(c) = cloud("AZURE") else { return };
        let (lake, _) = cloud_lake(&c);
        crate::faults::one_file_ingested_four_times_at_once(&lake);
    }

    #[test]
    fn eight_writers_beside_a_gc_loop() {
        let Some(c) = cloud("AZURE") else { return };
        let (lake, _) = cloud_lake(&c);
        crate::faults::eight_writers_beside_gc(&lake);
    }

    #[test]
    fn promote_archive_restore_gc_and_check() {
        let Some(c) = cloud("AZURE") else { return };
        let (lake, _) = cloud_lake(&c);
        crate::s3::promote_archive_restore_gc_and_check(&lake);
    }

    #[test]
    fn the_python_wheel_reads_an_azure_lake_in_the_rust_order() {
        let (Some(c), Some(python)) = (cloud("AZURE"), crate::util::reader_python()) else {
            return;
        };
        let (lake, root) = cloud_lake(&c);
        lake.ingest_orders("bronze.orders", 2, 400);
        lake.cmd(["pin", "bronze.orders"]).assert().success();
        python_reads_in_the_rust_order(&lake, &python, &root, "az://");
    }

    #[test]
    fn a_lost_catalog_is_rebuilt_from_storage_with_every_digest() {
        let Some(c) = cloud("AZURE") else { return };
        let (lake, _) = cloud_lake(&c);
        crate::erase::catalog_rebuilt_from_storage(&lake);
    }
}

/// The GCS emulator on the registries (fake-gcs-server) speaks the JSON API for writes, and
/// answers the XML API's object PUT, which object_store's GCS client writes with, with 400
/// "invalid uploadType": writes to gs:// cannot run here. Reads can: a lake written locally, its
/// objects uploaded through the emulator's JSON API, reads back through a gs:// root as it was
/// written, its listing and every hash checked.
#[test]
fn gcs_a_lake_uploaded_through_the_json_api_reads_back_through_gs() {
    let Some(c) = cloud("GCS") else { return };
    let endpoint = std::env::var("LAKE_TEST_GCS_ENDPOINT").expect("set with LAKE_TEST_GCS_URL");
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 2, 500);
    lake.write(
        "jobs/silver/paid.sql",
        "SELECT order_id, amount FROM bronze.orders WHERE paid\n",
    );
    lake.cmd(["promote"]).assert().success();
    let (bucket, under) = c
        .url
        .trim_start_matches("gs://")
        .split_once('/')
        .unwrap_or((c.url.trim_start_matches("gs://"), ""));
    let prefix = if under.is_empty() {
        unique()
    } else {
        format!("{under}/{}", unique())
    };
    let data = lake.path().join("lake-data");
    for (path, _) in walk(&data) {
        let key = std::path::Path::new(&path)
            .strip_prefix(&data)
            .unwrap()
            .display()
            .to_string();
        let status = Command::new("curl")
            .args(["-sf", "-o", "/dev/null", "-X", "POST", "--data-binary"])
            .arg(format!("@{path}"))
            .arg(format!(
                "{endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={prefix}/{key}"
            ))
            .status()
            .unwrap();
        assert!(status.success(), "uploading {key}");
    }
    let root = format!("gs://{bucket}/{prefix}");
    let through_gs = |args: &[&str]| {
        let out = lake.cmd(args).env("LAKE_ROOT", &root).output().unwrap();
        assert!(out.status.success(), "{args:?} on {root}: {}", text(&out).1);
        text(&out).0
    };
    for r in ["bronze.orders@v1", "bronze.orders", "silver.paid"] {
        let local = lake.cmd(["scan", r, "--format", "csv"]).output().unwrap();
        assert_eq!(
            through_gs(&["scan", r, "--format", "csv"]),
            text(&local).0,
            "{r}"
        );
    }
    let check: serde_json::Value =
        serde_json::from_str(&through_gs(&["check", "--verify-hashes", "--json"])).unwrap();
    assert_eq!(check["integrity_failures"], 0, "{check}");
    assert_eq!(check["orphans"], 0, "{check}");
    assert!(check["files_checked"].as_u64().unwrap() >= 3, "{check}");
    // And Python, from the same key file.
    if let Some(python) = crate::util::reader_python() {
        lake.cmd(["pin", "bronze.orders"]).assert().success();
        python_reads_in_the_rust_order(&lake, &python, &root, "gs://");
    }
}

/// `lake_reader` from the wheel, in a fresh venv, reads the pinned `bronze.orders` under `root`
/// in the order `lake scan` gives, for one shard and one buffered shuffle, with the same
/// environment `lake` read it with; its paths are `scheme` URLs for DuckDB and Polars.
fn python_reads_in_the_rust_order(lake: &TestLake, python: &str, root: &str, scheme: &str) {
    for (args, kwargs) in [
        (vec!["--shard", "1/3"], "shard=(1, 3)"),
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
        let rust = crate::util::scanned(lake, "bronze.orders", "order_id", &args);
        let read = crate::util::python_batches("bronze.orders", root, "order_id", kwargs);
        let check = format!("{read}\nassert m.paths()[0].startswith({scheme:?}), m.paths()");
        let said = lake.run_python_with(python, &check, &[]);
        let py: Vec<String> = said.lines().map(str::to_string).collect();
        assert!(!rust.is_empty());
        assert_eq!(py, rust, "{kwargs}");
    }
}

/// A static web server (tests/cli/http_server.py, with Range requests) over `dir`, stopped by
/// PID when dropped.
struct WebServer {
    child: Child,
    url: String,
}

impl WebServer {
    fn start(dir: &std::path::Path) -> WebServer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/http_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the test web server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("port ")
            .expect("`port N`")
            .to_string();
        WebServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn http_a_served_lake_reads_as_it_was_written_and_refuses_every_write() {
    let producer = TestLake::new();
    producer.ingest_orders("bronze.orders", 2, 500);
    producer.write(
        "jobs/silver/paid.sql",
        "SELECT order_id, amount FROM bronze.orders WHERE paid\n",
    );
    producer.cmd(["promote"]).assert().success();
    // What is published: a copy of the data folder, on a web server.
    let site = tempfile::tempdir().unwrap();
    copy_dir(
        &producer.path().join("lake-data"),
        &site.path().join("lake"),
    );
    let server = WebServer::start(site.path());
    let root = format!("{}/lake", server.url);

    // A reader with the catalog and a root on the server.
    let reader = TestLake::empty();
    reader.cmd(["init", "--root", &root]).assert().success();
    // The writer's catalog, copied consistently, is the reader's, as the README says.
    let copy = reader.path().join("catalog.sqlite");
    let backup = producer.json(["catalog", "backup", copy.to_str().unwrap()]);
    assert!(backup["bytes"].as_u64().unwrap() > 0, "{backup}");
    let again = producer
        .cmd(["catalog", "backup", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert_ne!(again.status.code(), Some(0), "a backup never overwrites");
    reader.configure("lake", "catalog", "\"catalog.sqlite\"");
    let scan = |lake: &TestLake, r: &str| {
        let out = lake.cmd(["scan", r, "--format", "csv"]).output().unwrap();
        assert!(out.status.success(), "{r}: {}", text(&out).1);
        text(&out).0
    };
    for r in ["bronze.orders@v1", "bronze.orders", "silver.paid"] {
        assert_eq!(scan(&reader, r), scan(&producer, r), "{r}");
    }
    let sql = "SELECT count(*) AS n, sum(amount) AS total FROM \"bronze.orders@v1\"";
    assert_eq!(reader.query_csv(sql, &[]), producer.query_csv(sql, &[]));
    producer
        .cmd([
            "pin",
            "bronze.orders@v1",
            "silver.paid",
            "--lock",
            "reads.lock",
        ])
        .assert()
        .success();
    std::fs::copy(
        producer.path().join("reads.lock"),
        reader.path().join("reads.lock"),
    )
    .unwrap();
    let verified = reader.json(["verify", "reads.lock"]);
    assert_eq!(verified["problems"], serde_json::json!([]), "{verified}");

    // Every write is refused before anything is sent, naming the root; the catalog is as it was.
    let served = |dir: &std::path::Path| walk(dir);
    let before = served(site.path());
    reader.write("more.csv", crate::util::orders_csv(10, 5000));
    for args in [
        vec!["ingest", "more.csv", "--into", "bronze.orders"],
        vec!["promote", "--full-refresh"],
        vec!["gc"],
    ] {
        let out = reader.cmd(&args).output().unwrap();
        let (_, stderr) = text(&out);
        assert_ne!(
            out.status.code(),
            Some(0),
            "`lake {}` on an http root",
            args.join(" ")
        );
        assert!(
            stderr.contains("read-only") && stderr.contains(&root),
            "`lake {}`: {stderr}",
            args.join(" ")
        );
    }
    assert_eq!(
        served(site.path()),
        before,
        "nothing was written to the server"
    );
    let log = reader.json(["log", "bronze.orders"]);
    assert_eq!(log.as_array().unwrap().len(), 2, "{log}");

    // A file gone from the server fails the read, naming its URL, rather than fewer rows.
    let v1 = reader.json(["show", "bronze.orders@v1"]);
    let gone = v1["files"][0]["path"].as_str().unwrap().to_string();
    std::fs::remove_file(site.path().join("lake").join(&gone)).unwrap();
    let out = reader
        .cmd(["scan", "bronze.orders@v1", "--format", "csv"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).0.is_empty(), "no rows before the error");
    assert!(
        text(&out).1.contains(&format!("{root}/{gone}")),
        "{}",
        text(&out).1
    );
}

/// Every file under `dir` with its size, sorted.
fn walk(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().display().to_string(),
                e.metadata().map_or(0, |m| m.len()),
            )
        })
        .collect();
    files.sort();
    files
}
