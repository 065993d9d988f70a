//! The Delta log beside every dataset, read by the Delta readers people run: Python `deltalake`
//! (delta-rs) for every version by time travel, Polars and DuckDB for the latest; on a local
//! folder and on the S3 test server.

use std::path::Path;

use serde_json::Value;
use sha2::Digest as _;

use crate::util::{TestLake, text};

/// Reads every version of each dataset through `deltalake` and compares it, row by row and
/// cell by cell (both sides sorted), with `lake scan --format arrow` of the same version;
/// Polars reads the latest version and the first. Prints how many versions it compared.
const COMPARE: &str = r#"
import json, os, subprocess, sys
import pyarrow as pa, pyarrow.ipc as ipc
import deltalake, polars as pl

lake, root, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
options = {}
if root.startswith("s3://"):
    options = {"AWS_ENDPOINT_URL": os.environ["LAKE_TEST_S3_ENDPOINT"], "AWS_ALLOW_HTTP": "true",
               "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1")}

def scan(ref):
    out = subprocess.run([lake, "scan", ref, "--format", "arrow"], capture_output=True, check=True)
    return ipc.open_stream(out.stdout).read_all()

def like(table, schema):
    # Delta readers hand back large or view types; the values are what is compared.
    assert table.schema.names == schema.names, (table.schema.names, schema.names)
    return pa.table([c.cast(f.type) for c, f in zip(table.columns, schema)], names=schema.names)

def rows(table):
    return sorted(tuple(repr(v) for v in r.values()) for r in table.to_pylist())

compared = 0
for dataset, versions in spec.items():
    zone, name = dataset.split(".")
    at = f"{root}/{zone}/{name}"
    table = deltalake.DeltaTable(at, storage_options=options)
    assert table.version() == versions - 1, (dataset, table.version(), versions)
    for v in range(1, versions + 1):
        ours = scan(f"{dataset}@v{v}")
        table.load_as_version(v - 1)
        theirs = like(table.to_pyarrow_table(), ours.schema)
        assert theirs.num_rows == ours.num_rows, (dataset, v, theirs.num_rows, ours.num_rows)
        assert rows(theirs) == rows(ours), f"{dataset}@v{v} differs"
        compared += 1
    latest = like(pl.read_delta(at, storage_options=options or None).to_arrow(), ours.schema)
    assert rows(latest) == rows(ours), f"polars: {dataset}"
    first = scan(f"{dataset}@v1")
    old = like(pl.read_delta(at, version=0, storage_options=options or None).to_arrow(), first.schema)
    assert rows(old) == rows(first), f"polars at version 0: {dataset}"
print(compared)
sys.stdout.flush()
os._exit(0)
"#;

/// DuckDB's `delta_scan` of the latest version of each dataset, compared with `lake scan`.
const DUCKDB: &str = r#"
import glob, json, os, subprocess, sys
import duckdb, duckdb_ext
import pyarrow.ipc as ipc

lake, root, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
con.sql("SET enable_progress_bar = false")
for name in ["httpfs", "delta"]:
    extension = glob.glob(os.path.join(list(duckdb_ext.__path__)[0], "extensions", "*", "*", f"{name}.duckdb_extension"))[0]
    con.sql(f"LOAD '{extension}'")
if root.startswith("s3://"):
    endpoint = os.environ["LAKE_TEST_S3_ENDPOINT"].split("://", 1)[1]
    con.sql(f"""CREATE SECRET lake (TYPE S3, KEY_ID '{os.environ["AWS_ACCESS_KEY_ID"]}',
                SECRET '{os.environ["AWS_SECRET_ACCESS_KEY"]}', REGION '{os.environ.get("AWS_REGION", "us-east-1")}',
                ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false)""")
for dataset in spec:
    zone, name = dataset.split(".")
    ours = ipc.open_stream(subprocess.run([lake, "scan", dataset, "--format", "arrow"],
                                          capture_output=True, check=True).stdout).read_all()
    theirs = con.sql(f"SELECT * FROM delta_scan('{root}/{zone}/{name}')").arrow()
    if hasattr(theirs, "read_all"):
        theirs = theirs.read_all()
    assert theirs.schema.names == ours.schema.names, (dataset, theirs.schema.names)
    assert theirs.num_rows == ours.num_rows, (dataset, theirs.num_rows, ours.num_rows)
    cols = ", ".join(f'"{c}"' for c in ours.schema.names)
    con.register("ours", ours)
    diff = con.sql(f"SELECT count(*) FROM ((SELECT {cols} FROM ours EXCEPT ALL SELECT {cols} FROM delta_scan('{root}/{zone}/{name}')) UNION ALL (SELECT {cols} FROM delta_scan('{root}/{zone}/{name}') EXCEPT ALL SELECT {cols} FROM ours))").fetchone()[0]
    assert diff == 0, (dataset, diff)
    con.unregister("ours")
print(len(spec))
sys.stdout.flush()
os._exit(0)
"#;

/// The sample lake, with the history Delta readers must get right: an append that adds a
/// column, an overwrite, jobs promoted twice (the second run replaces the files), and twelve
/// appends (a checkpoint after the tenth).
fn sample_history(lake: &TestLake) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = repo.join("examples/data");
    let ingest = |src: &Path, into: &str, extra: &[&str]| {
        lake.cmd(["ingest", src.to_str().unwrap(), "--into", into])
            .args(extra)
            .assert()
            .success();
    };
    ingest(&data.join("customers.csv"), "bronze.customers", &[]);
    let na = ["--null-value", "NA"];
    ingest(
        &data.join("orders/orders-2026-01.csv"),
        "bronze.orders",
        &na,
    );
    ingest(
        &data.join("orders/orders-2026-02.csv"),
        "bronze.orders",
        &na,
    );
    ingest(&data.join("events.ndjson"), "bronze.events", &[]);
    ingest(
        &data.join("customers.csv"),
        "bronze.customers",
        &["--mode", "overwrite", "--force"],
    );
    crate::util::copy_dir(&repo.join("examples/jobs"), &lake.path().join("jobs"));
    lake.cmd(["promote"]).assert().success();
    // A third month of orders: every job reruns and replaces its output's files.
    let march = lake.write(
        "orders-2026-03.csv",
        std::fs::read_to_string(data.join("orders/orders-2026-02.csv"))
            .unwrap()
            .replace("2026-02-", "2026-03-"),
    );
    lake.cmd([
        "ingest",
        march.to_str().unwrap(),
        "--into",
        "bronze.orders",
        "--null-value",
        "NA",
    ])
    .assert()
    .success();
    lake.cmd(["promote"]).assert().success();
    for i in 0..12 {
        let f = lake.write(
            &format!("clicks/{i}.csv"),
            format!("id,page,at\n{i},/p/{i},2026-04-{:02}T10:00:00Z\n", i + 1),
        );
        ingest(&f, "bronze.clicks", &[]);
    }
    // And a compaction of them: the same rows in one file, Delta's OPTIMIZE.
    lake.cmd(["maintain", "compact", "bronze.clicks"])
        .assert()
        .success();
}

/// `{"bronze.orders": 3, …}`: each dataset with its number of versions.
fn versions(lake: &TestLake) -> Value {
    let ls = lake.json(["ls"]);
    let mut out = serde_json::Map::new();
    for d in ls.as_array().unwrap() {
        let name = d["dataset"].as_str().unwrap().to_string();
        out.insert(name, d["latest"].clone());
    }
    Value::Object(out)
}

fn run(python: &str, script: &str, lake: &TestLake, root: &str, spec: &Value) -> String {
    let bin = assert_cmd::cargo::cargo_bin("lake");
    let out = std::process::Command::new(python)
        .current_dir(lake.path())
        .env("LAKE_ACTOR", "test")
        .args(["-c", script, bin.to_str().unwrap(), root, &spec.to_string()])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    stdout.trim().to_string()
}

fn check_readers(lake: &TestLake, root: &str) {
    let spec = versions(lake);
    let total: u64 = spec
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(spec.as_object().unwrap().len() >= 8, "{spec}");
    if let Some(python) = crate::util::test_python() {
        let compared = run(&python, COMPARE, lake, root, &spec);
        assert_eq!(compared, total.to_string());
    }
    match std::env::var("LAKE_TEST_DUCKDB_DELTA_PYTHON") {
        Ok(python) if !python.is_empty() => {
            let compared = run(&python, DUCKDB, lake, root, &spec);
            assert_eq!(compared, spec.as_object().unwrap().len().to_string());
        }
        _ => eprintln!("skipping DuckDB: LAKE_TEST_DUCKDB_DELTA_PYTHON is not set"),
    }
}

#[test]
fn delta_readers_read_every_version_of_the_sample_lake_as_lake_does() {
    let lake = TestLake::new();
    sample_history(&lake);
    let root = lake.path().join("lake-data");
    // lake version N is Delta version N-1; a checkpoint after the tenth.
    let log = root.join("bronze/clicks/_delta_log");
    assert!(log.join("00000000000000000012.json").exists());
    assert!(log.join("00000000000000000009.checkpoint.parquet").exists());
    assert!(!log.join("00000000000000000013.json").exists());
    let optimize = std::fs::read_to_string(log.join("00000000000000000012.json")).unwrap();
    assert!(
        optimize.contains("\"OPTIMIZE\"") && optimize.contains("\"dataChange\":false"),
        "{optimize}"
    );
    // commitInfo carries lake's version, digest and, for a job's output, its run.
    let show = lake.json(["show", "gold.customer_features@v2"]);
    let commit = std::fs::read_to_string(
        root.join("gold/customer_features/_delta_log/00000000000000000001.json"),
    )
    .unwrap();
    let info: Value = serde_json::from_str(commit.lines().next().unwrap()).unwrap();
    let info = &info["commitInfo"];
    assert_eq!(info["lake"]["version"], 2);
    assert_eq!(info["lake"]["digest"], show["digest"]);
    assert!(info["lake"]["run_id"].as_i64().is_some(), "{info}");
    assert_eq!(info["operationParameters"]["mode"], "Overwrite");
    assert!(
        commit.contains("\"remove\""),
        "a promote replaces its files"
    );
    check_readers(&lake, root.to_str().unwrap());
    // gc never takes the log for debris, and check finds it in agreement.
    let gc = lake.json(["gc", "--grace", "0s"]);
    assert_eq!(gc["deleted"], 0, "{gc}");
    let check = lake.json(["check"]);
    assert_eq!(check["problems"].as_array().unwrap().len(), 0, "{check}");
    // Archived: Delta time travel to it fails naming the file; the latest still reads.
    lake.cmd(["rule", "add", "--zone", "bronze", "--archive-after", "30d"])
        .assert()
        .success();
    lake.cmd(["archive"])
        .env("LAKE_NOW", "2030-01-01T00:00:00Z")
        .assert()
        .success();
    assert_eq!(lake.state("bronze.customers@v1"), "archived");
    let file = lake.json(["show", "bronze.customers@v1"])["files"][0]["path"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    if let Some(python) = crate::util::test_python() {
        let said = lake.run_python(
            &python,
            "import deltalake\n\
             t = deltalake.DeltaTable('lake-data/bronze/customers', version=0)\n\
             try:\n    t.to_pyarrow_table(); print('read')\n\
             except Exception as e: print(type(e).__name__, e)\n\
             print(deltalake.DeltaTable('lake-data/bronze/customers').to_pyarrow_table().num_rows)",
        );
        assert!(said.contains("not found") && said.contains(&file), "{said}");
        assert!(said.trim().ends_with("306"), "{said}");
    }
}

#[test]
fn a_log_left_behind_is_reported_caught_up_and_rebuilt() {
    let lake = TestLake::new();
    let a = lake.write("a.csv", "id,v\n1,10\n2,20\n");
    let b = lake.write("b.csv", "id,v,extra\n3,30,x\n");
    lake.cmd(["ingest", a.to_str().unwrap(), "--into", "bronze.t"])
        .assert()
        .success();
    // A process that dies between the catalog's commit and the log's leaves the log behind.
    lake.cmd(["ingest", b.to_str().unwrap(), "--into", "bronze.t"])
        .env("LAKE_FAILPOINT", "delta.before_log:error")
        .assert()
        .success();
    let log = lake.path().join("lake-data/bronze/t/_delta_log");
    assert!(!log.join("00000000000000000001.json").exists());
    let check = lake.json(["check"]);
    let problems = check["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{check}");
    assert_eq!(problems[0]["kind"], "delta_log");
    assert!(
        problems[0]["detail"]
            .as_str()
            .unwrap()
            .contains("at version 0"),
        "{check}"
    );
    // Not an integrity failure: the data is all there.
    assert_eq!(check["integrity_failures"], 0);
    let out = lake.json(["export", "delta", "bronze.t"]);
    assert_eq!(out["datasets"][0]["written"], 1, "{out}");
    assert_eq!(out["datasets"][0]["delta_version"], 1);
    assert!(log.join("00000000000000000001.json").exists());
    // Exporting again writes nothing; the commits are the same bytes each time.
    let first = std::fs::read(log.join("00000000000000000000.json")).unwrap();
    let again = lake.json(["export", "delta"]);
    assert_eq!(again["datasets"][0]["written"], 0);
    // A log someone changed is found, and `--rebuild` writes it again from the catalog.
    std::fs::remove_file(log.join("00000000000000000001.json")).unwrap();
    std::fs::write(log.join("00000000000000000001.json"), &first).unwrap();
    let check = lake.json(["check"]);
    assert_eq!(check["problems"][0]["kind"], "delta_log", "{check}");
    let rebuilt = lake.json(["export", "delta", "bronze.t", "--rebuild"]);
    assert_eq!(rebuilt["datasets"][0]["written"], 2, "{rebuilt}");
    assert_eq!(
        std::fs::read(log.join("00000000000000000000.json")).unwrap(),
        first
    );
    let check = lake.json(["check"]);
    assert_eq!(check["problems"].as_array().unwrap().len(), 0, "{check}");
    // Tags: listed with their Delta version, and kept beside the log for Delta users.
    lake.cmd(["tag", "bronze.t@v1", "first"]).assert().success();
    let tags = lake.json(["export", "delta", "--tags"]);
    assert_eq!(tags["tags"][0]["tag"], "first");
    assert_eq!(tags["tags"][0]["delta_version"], 0);
    let beside: Value =
        serde_json::from_slice(&std::fs::read(log.join("_lake_tags.json")).unwrap()).unwrap();
    assert_eq!(beside["tags"][0]["version"], 1);
    lake.cmd(["tag", "-d", "bronze.t", "first"])
        .assert()
        .success();
    let beside: Value =
        serde_json::from_slice(&std::fs::read(log.join("_lake_tags.json")).unwrap()).unwrap();
    assert_eq!(beside["tags"].as_array().unwrap().len(), 0);
}

#[test]
fn a_retyped_column_stops_the_log_where_delta_readers_would_read_otherwise() {
    let lake = TestLake::new();
    let a = lake.write("a.csv", "id,x\n1,5\n2,6\n");
    let b = lake.write("b.csv", "id,x\n3,5.5\n");
    lake.cmd(["ingest", a.to_str().unwrap(), "--into", "bronze.w"])
        .assert()
        .success();
    lake.cmd(["ingest", b.to_str().unwrap(), "--into", "bronze.w"])
        .assert()
        .success();
    let log = lake.path().join("lake-data/bronze/w/_delta_log");
    assert!(log.join("00000000000000000000.json").exists());
    assert!(!log.join("00000000000000000001.json").exists());
    let out = lake.json(["export", "delta", "bronze.w"]);
    let skipped = out["datasets"][0]["skipped"].as_str().unwrap();
    assert!(
        skipped.contains("column `x` is float64") && skipped.contains("int64"),
        "{skipped}"
    );
    let check = lake.json(["check"]);
    assert_eq!(check["problems"][0]["kind"], "delta_stops", "{check}");
    assert_eq!(check["integrity_failures"], 0);
    // An overwrite holds files of one type again, yet the log cannot skip a version: it stays.
    let (stdout, _) = text(&lake.cmd(["export", "delta", "bronze.w"]).output().unwrap());
    assert!(stdout.contains("stops at Delta version 0"), "{stdout}");
}

#[test]
fn s3_delta_readers_read_every_version_on_the_s3_server() {
    let Some(s3) = crate::s3::s3() else {
        return;
    };
    let (lake, root) = crate::s3::s3_lake(&s3, &s3.endpoint);
    sample_history(&lake);
    // Files another engine wrote to S3: one under the dataset's data prefix (adopted in place),
    // one under another prefix of the bucket (copied).
    if let Some(python) = crate::util::test_python() {
        let outside = format!("{root}-outside/");
        let inside = format!(
            "{}/bronze/clicks/data/run-1/",
            root.trim_start_matches("s3://")
        );
        let out = outside.trim_start_matches("s3://");
        let write = format!(
            "import os, pyarrow as pa, pyarrow.parquet as pq, pyarrow.fs as fs\n\
             s3 = fs.S3FileSystem(endpoint_override=os.environ['LAKE_TEST_S3_ENDPOINT'], scheme='http', region='us-east-1')\n\
             t = pa.table({{'id': list(range(100)), 'page': ['/x'] * 100}})\n\
             pq.write_table(t, '{inside}part-0.parquet', filesystem=s3)\n\
             pq.write_table(t.set_column(0, 'id', pa.array(range(100, 200))), '{out}part-1.parquet', filesystem=s3)\n\
             print('ok')"
        );
        assert_eq!(lake.run_python(&python, &write).trim(), "ok");
        let a = lake.json([
            "adopt",
            &format!("{root}/bronze/clicks/data/run-1/"),
            "--into",
            "bronze.clicks",
        ]);
        assert_eq!(a["files"][0]["in_place"], true, "{a}");
        assert_eq!(a["bytes_copied"], 0);
        let b = lake.json(["adopt", &outside, "--into", "bronze.clicks"]);
        assert_eq!(b["files"][0]["in_place"], false, "{b}");
        assert_eq!(b["version_rows"], 212);
    }
    check_readers(&lake, &root);
    let check = lake.json(["check", "--verify-hashes"]);
    assert_eq!(check["problems"].as_array().unwrap().len(), 0, "{check}");
    let gc = lake.json(["gc", "--grace", "0s"]);
    assert_eq!(gc["deleted"], 0, "{gc}");
}

/// DuckDB writes Parquet files into a folder outside the lake and into the dataset's own data
/// prefix (as Spark would write to the table's location); `lake adopt` registers both.
#[test]
fn adopt_registers_another_engines_files_checked_hashed_and_in_place() {
    let Some(python) = crate::util::test_python() else {
        return;
    };
    let lake = TestLake::new();
    let inside = "lake-data/bronze/events/data/run-1";
    std::fs::create_dir_all(lake.path().join(inside)).unwrap();
    std::fs::create_dir_all(lake.path().join("export/_temporary")).unwrap();
    let write = format!(
        "import duckdb\n\
         c = duckdb.connect()\n\
         c.sql(\"COPY (SELECT range AS id, 'e' || range AS kind, CAST(range * 0.5 AS DOUBLE) AS score FROM range(1000)) TO 'export/part-0.parquet' (FORMAT parquet)\")\n\
         c.sql(\"COPY (SELECT range + 1000 AS id, 'e' || range AS kind, CAST(range * 0.5 AS DOUBLE) AS score FROM range(500)) TO 'export/part-1.parquet' (FORMAT parquet)\")\n\
         c.sql(\"COPY (SELECT range + 5000 AS id, 'late' AS kind, NULL::DOUBLE AS score, range AS extra FROM range(300)) TO '{inside}/part-00000.parquet' (FORMAT parquet)\")\n\
         print('ok')"
    );
    assert_eq!(lake.run_python(&python, &write).trim(), "ok");
    lake.write("export/_SUCCESS", "");
    lake.write("export/_temporary/part-9.parquet", "not data");
    // Copied: the folder is outside the dataset.
    let out = lake.json(["adopt", "export", "--into", "bronze.events"]);
    assert_eq!(out["status"], "committed", "{out}");
    assert_eq!(out["rows"], 1500);
    assert_eq!(
        out["files"].as_array().unwrap().len(),
        2,
        "_SUCCESS and _temporary/ are not data"
    );
    assert_eq!(out["files"][0]["in_place"], false);
    assert!(out["bytes_copied"].as_u64().unwrap() > 0);
    // Again: nothing new.
    let again = lake.json(["adopt", "export", "--into", "bronze.events"]);
    assert_eq!(again["status"], "unchanged");
    // In place: registered where it is, nothing copied, a drifted column recorded.
    let before = data_files(&lake, "bronze/events").len();
    let out = lake.json(["adopt", inside, "--into", "bronze.events"]);
    assert_eq!(out["status"], "committed", "{out}");
    assert_eq!(out["files"][0]["in_place"], true);
    assert_eq!(
        out["files"][0]["path"],
        "bronze/events/data/run-1/part-00000.parquet"
    );
    assert_eq!(out["bytes_copied"], 0);
    assert_eq!(out["version_rows"], 1800);
    assert_eq!(out["drift"][0]["column"], "extra", "{out}");
    assert_eq!(
        data_files(&lake, "bronze/events").len(),
        before,
        "nothing copied"
    );
    let show = lake.json(["show", "bronze.events"]);
    assert_eq!(show["operation"], "adopt");
    let sha = out["files"][0]["sha256"].as_str().unwrap();
    let bytes = std::fs::read(lake.path().join(inside).join("part-00000.parquet")).unwrap();
    let hex: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sha, hex);
    // Every row reads, verified; gc keeps the adopted files; check is clean; Delta reads it.
    let rows = lake.query_csv(
        "SELECT count(*) AS n, count(extra) AS e FROM bronze.events",
        &[],
    );
    assert_eq!(rows.lines().nth(1).unwrap().trim(), "1800,300");
    lake.cmd(["scan", "bronze.events"]).assert().success();
    let gc = lake.json(["gc", "--grace", "0s"]);
    assert_eq!(gc["deleted"], 0, "{gc}");
    lake.assert_clean();
    let spec = versions(&lake);
    let compared = run(
        &python,
        COMPARE,
        &lake,
        lake.path().join("lake-data").to_str().unwrap(),
        &spec,
    );
    assert_eq!(compared, "2");
}

#[test]
fn adopting_a_broken_file_names_it_and_commits_nothing() {
    let lake = TestLake::new();
    let csv = lake.write("rows.csv", crate::util::orders_csv(200, 0));
    lake.cmd(["ingest", csv.to_str().unwrap(), "--into", "bronze.src"])
        .assert()
        .success();
    let good = data_files(&lake, "bronze/src").pop().unwrap();
    let bytes = std::fs::read(&good).unwrap();
    // A file cut short, beside a good one, in the dataset's own data prefix.
    let inside = lake.path().join("lake-data/bronze/dst/data/run-1");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::write(inside.join("a.parquet"), &bytes).unwrap();
    std::fs::write(inside.join("b.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    let out = lake
        .cmd([
            "adopt",
            "lake-data/bronze/dst/data/run-1",
            "--into",
            "bronze.dst",
        ])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("b.parquet") && stderr.contains("not a readable Parquet file"),
        "{stderr}"
    );
    // Nothing committed, and the files the engine wrote are still there.
    let ls = lake.json(["ls"]);
    assert!(!ls.to_string().contains("bronze.dst"), "{ls}");
    assert!(inside.join("a.parquet").exists() && inside.join("b.parquet").exists());
    // Not Parquet at all, copied from outside: refused the same way; nothing left behind.
    lake.write("other/x.parquet", "PAR1 this is not parquet PAR1");
    let out = lake
        .cmd(["adopt", "other", "--into", "bronze.other"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("x.parquet"));
    assert!(data_files(&lake, "bronze/other").is_empty());
    let empty = lake
        .cmd(["adopt", "rows.csv", "--into", "bronze.x"])
        .output()
        .unwrap();
    assert_ne!(empty.status.code(), Some(0));
}

/// The Parquet files under a dataset's data prefix, sorted.
fn data_files(lake: &TestLake, dataset: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![lake.path().join("lake-data").join(dataset).join("data")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
