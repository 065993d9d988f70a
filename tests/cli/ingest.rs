use std::collections::HashSet;
use std::fs::File;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{TestLake, orders_csv, text};

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The non-null values of an int64 column of a version, in manifest order.
fn ids(lake: &TestLake, r: &str, column: &str) -> Vec<i64> {
    read_ints(lake, r, column).into_iter().flatten().collect()
}

/// Every value of an int64 column across a version's Parquet files, in manifest order.
fn read_ints(lake: &TestLake, r: &str, column: &str) -> Vec<Option<i64>> {
    let mut out = Vec::new();
    for path in lake.file_paths(r) {
        let file = File::open(lake.path().join("lake-data").join(path)).unwrap();
        for batch in ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
        {
            let batch = batch.unwrap();
            let col = batch
                .column_by_name(column)
                .unwrap()
                .as_primitive::<Int64Type>();
            out.extend((0..col.len()).map(|i| col.is_valid(i).then(|| col.value(i))));
        }
    }
    out
}

#[test]
fn ingest_csv_creates_version_1() {
    let lake = TestLake::new();
    lake.write("orders.csv", "id,name\n1,a\n2,b\n3,c\n");
    let out = lake
        .cmd(["ingest", "orders.csv", "--into", "bronze.orders"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (stdout, _) = text(&out);
    let words: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(
        &words[..6],
        ["✓", "bronze.orders@v1", "3", "rows", "1", "file"]
    );
    assert!(words[8].starts_with("sha256:"), "{stdout}");
    assert_eq!(
        read_ints(&lake, "bronze.orders@v1", "id"),
        [Some(1), Some(2), Some(3)]
    );
}

#[test]
fn ingest_infers_types_with_nulls() {
    let lake = TestLake::new();
    lake.write(
        "t.csv",
        "i,f,b,s,d,ts\n1,1.5,true,x,2024-01-01,2024-01-01T10:00:00\n,,,,,\n3,2,false,y,2024-02-29,2024-01-01 11:30:00.250\n",
    );
    let report = lake.json(["ingest", "t.csv", "--into", "bronze.t"]);
    let types: Vec<(&str, &str)> = report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        types,
        [
            ("i", "int64"),
            ("f", "float64"),
            ("b", "bool"),
            ("s", "string"),
            ("d", "date32"),
            ("ts", "timestamp[us]")
        ]
    );
    assert_eq!(read_ints(&lake, "bronze.t", "i"), [Some(1), None, Some(3)]);
}

#[test]
fn ingest_json_output_has_stable_fields() {
    let lake = TestLake::new();
    lake.write("o.csv", orders_csv(5, 0));
    let r = lake.json(["ingest", "o.csv", "--into", "bronze.orders"]);
    for field in [
        "dataset",
        "status",
        "mode",
        "version",
        "ref",
        "digest",
        "rows",
        "version_rows",
        "input_bytes",
        "files_written",
        "bytes_written",
        "version_files",
        "version_bytes",
        "columns",
        "drift",
        "sources",
        "elapsed_ms",
    ] {
        assert!(r.get(field).is_some(), "missing {field} in {r}");
    }
    assert_eq!(r["status"], "committed");
    assert_eq!(r["ref"], "bronze.orders@v1");
    assert_eq!(r["rows"], 5);
    let source = &r["sources"][0];
    assert_eq!(source["format"], "csv");
    assert_eq!(source["rows"], 5);
    assert_eq!(
        source["sha256"].as_str().unwrap(),
        sha256(orders_csv(5, 0).as_bytes())
    );
}

#[test]
fn ingesting_the_same_content_again_is_unchanged() {
    let lake = TestLake::new();
    lake.write("o.csv", orders_csv(5, 0));
    lake.cmd(["ingest", "o.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    // Same content under another name is still the same source content.
    lake.write("copy.csv", orders_csv(5, 0));
    let out = lake
        .cmd(["ingest", "copy.csv", "--into", "bronze.orders"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).0.contains("unchanged"), "{}", text(&out).0);
    assert_eq!(
        lake.json(["log", "bronze.orders"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let forced = lake.json(["ingest", "o.csv", "--into", "bronze.orders", "--force"]);
    assert_eq!(forced["version"], 2);
    assert_eq!(forced["version_rows"], 10);
}

#[test]
fn append_references_earlier_files_without_copying() {
    let lake = TestLake::new();
    lake.write("a.csv", orders_csv(5, 0));
    lake.write("b.csv", orders_csv(7, 5));
    lake.cmd(["ingest", "a.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    let v2 = lake.json(["ingest", "a.csv", "b.csv", "--into", "bronze.orders"]);
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["rows"], 7, "a.csv is skipped: its content is in v1");
    assert_eq!(v2["sources"][0]["skipped"], true);
    assert_eq!(v2["version_rows"], 12);
    let v1_files = lake.file_paths("bronze.orders@v1");
    let v2_files = lake.file_paths("bronze.orders@v2");
    assert_eq!(v2_files.len(), 2);
    assert!(v2_files.contains(&v1_files[0]));
    let ids = ids(&lake, "bronze.orders@v2", "order_id");
    assert_eq!(ids, (0..12).collect::<Vec<_>>());
    let data_files = std::fs::read_dir(lake.path().join("lake-data/bronze/orders/data"))
        .unwrap()
        .count();
    assert_eq!(data_files, 2, "nothing was copied");
}

#[test]
fn overwrite_references_only_the_new_files() {
    let lake = TestLake::new();
    lake.write("a.csv", orders_csv(5, 0));
    lake.write("b.csv", orders_csv(3, 100));
    lake.cmd(["ingest", "a.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    let v2 = lake.json([
        "ingest",
        "b.csv",
        "--into",
        "bronze.orders",
        "--mode",
        "overwrite",
    ]);
    assert_eq!(v2["version_rows"], 3);
    let ids = ids(&lake, "bronze.orders@v2", "order_id");
    assert_eq!(ids, [100, 101, 102]);
    assert_eq!(
        read_ints(&lake, "bronze.orders@v1", "order_id").len(),
        5,
        "v1 is unchanged"
    );
    let again = lake.json([
        "ingest",
        "b.csv",
        "--into",
        "bronze.orders",
        "--mode",
        "overwrite",
    ]);
    assert_eq!(again["status"], "unchanged");
}

#[test]
fn schema_drift_is_recorded_and_shown_not_refused() {
    let lake = TestLake::new();
    lake.write("v1.csv", "id,amount,old\n1,10,x\n");
    lake.write("v2.csv", "id,amount,new\n2,oops,true\n");
    lake.cmd(["ingest", "v1.csv", "--into", "bronze.d"])
        .assert()
        .success();
    let out = lake
        .cmd(["ingest", "v2.csv", "--into", "bronze.d"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("schema drift in bronze.d:"), "{stdout}");
    assert!(stdout.contains("~ amount int64 -> string"), "{stdout}");
    assert!(
        stdout.contains("- old int64") || stdout.contains("- old string"),
        "{stdout}"
    );
    assert!(stdout.contains("+ new bool"), "{stdout}");
    let drift = lake.json(["show", "bronze.d@v2"])["drift"].clone();
    let changes: HashSet<(String, String)> = drift
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["change"].as_str().unwrap().into(),
                d["column"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expect: HashSet<(String, String)> =
        [("retyped", "amount"), ("removed", "old"), ("added", "new")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
    assert_eq!(changes, expect);
    // An append keeps every column: old rows still have `old`, new rows have `new`.
    let cols: Vec<String> = lake.json(["show", "bronze.d@v2"])["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(cols, ["id", "amount", "old", "new"]);
}

#[test]
fn an_append_keeps_the_wider_type_of_the_dataset() {
    let lake = TestLake::new();
    lake.write("a.csv", "id,amount\n1,1.5\n");
    lake.write("b.csv", "id,amount\n2,3\n");
    lake.cmd(["ingest", "a.csv", "--into", "bronze.d"])
        .assert()
        .success();
    let r = lake.json(["ingest", "b.csv", "--into", "bronze.d"]);
    assert_eq!(
        r["drift"],
        Value::Array(vec![]),
        "whole numbers fit float64"
    );
}

#[test]
fn ndjson_json_arrays_and_parquet_are_ingested() {
    let lake = TestLake::new();
    lake.write(
        "e.ndjson",
        "{\"id\": 1, \"kind\": \"view\"}\n\n{\"id\": 2, \"kind\": \"buy\", \"extra\": null}\n",
    );
    lake.write(
        "e.json",
        "[\n  {\"id\": 3, \"kind\": \"view\"},\n  {\"id\": 4, \"kind\": \"buy\"}\n]\n",
    );
    let r = lake.json(["ingest", "e.ndjson", "e.json", "--into", "bronze.events"]);
    assert_eq!(r["rows"], 4);
    assert_eq!(ids(&lake, "bronze.events", "id"), [1, 2, 3, 4]);
    // Re-ingest lake's own Parquet output as a Parquet source.
    let file = lake.file_paths("bronze.events@v1").remove(0);
    std::fs::copy(
        lake.path().join("lake-data").join(file),
        lake.path().join("events.parquet"),
    )
    .unwrap();
    let r = lake.json(["ingest", "events.parquet", "--into", "bronze.events_copy"]);
    assert_eq!(r["rows"], 4);
    assert_eq!(r["sources"][0]["format"], "parquet");
}

#[test]
fn globs_and_folders_expand_in_a_stable_order() {
    let lake = TestLake::new();
    lake.write("in/2.csv", orders_csv(2, 2));
    lake.write("in/1.csv", orders_csv(2, 0));
    lake.write("in/sub/3.csv", orders_csv(2, 4));
    lake.write("in/readme.md", "not data");
    let r = lake.json(["ingest", "in", "--into", "bronze.a"]);
    assert_eq!(r["rows"], 6);
    let ids = ids(&lake, "bronze.a", "order_id");
    assert_eq!(ids, [0, 1, 2, 3, 4, 5]);
    let r = lake.json(["ingest", "in/*.csv", "--into", "bronze.b"]);
    assert_eq!(r["rows"], 4);
}

#[test]
fn dry_run_plans_and_writes_nothing() {
    let lake = TestLake::new();
    lake.write("o.csv", orders_csv(5, 0));
    let r = lake.json(["ingest", "o.csv", "--into", "bronze.orders", "--dry-run"]);
    assert_eq!(r["status"], "dry_run");
    assert_eq!(r["columns"].as_array().unwrap().len(), 6);
    assert!(lake.datasets().is_empty());
    assert!(lake.stored_files("bronze", "orders").is_empty());
}

#[test]
fn a_schema_file_sets_the_types() {
    let lake = TestLake::new();
    lake.write("o.csv", "id,code\n1,007\n2,042\n");
    lake.write(
        "schema.json",
        r#"{"fields": [{"name": "id", "type": "int32", "nullable": false}, {"name": "code", "type": "string"}]}"#,
    );
    let r = lake.json([
        "ingest",
        "o.csv",
        "--into",
        "bronze.codes",
        "--schema",
        "schema.json",
    ]);
    assert_eq!(r["columns"][0]["type"], "int32");
    assert_eq!(
        r["columns"][1]["type"], "string",
        "leading zeros survive as text"
    );
}

#[test]
fn csv_options_set_delimiter_header_and_nulls() {
    let lake = TestLake::new();
    lake.write("semi.txt", "1;NA;x\n2;5;y\n");
    let r = lake.json([
        "ingest",
        "semi.txt",
        "--into",
        "bronze.semi",
        "--format",
        "csv",
        "--delimiter",
        ";",
        "--no-header",
        "--null-value",
        "NA",
    ]);
    let names: Vec<&str> = r["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["column_1", "column_2", "column_3"]);
    assert_eq!(r["columns"][1]["type"], "int64");
    assert_eq!(read_ints(&lake, "bronze.semi", "column_2"), [None, Some(5)]);
    lake.write("tabs.tsv", "a\tb\n1\t2\n");
    let r = lake.json(["ingest", "tabs.tsv", "--into", "bronze.tabs"]);
    assert_eq!(r["columns"].as_array().unwrap().len(), 2);
}

#[test]
fn large_inputs_roll_into_several_files_and_row_groups() {
    let lake = TestLake::new();
    lake.configure("ingest", "target_file_mb", "1");
    lake.configure("ingest", "row_group_rows", "20000");
    // A high-entropy column keeps the Parquet output well over 1 MiB.
    let mut csv = String::from("order_id,token\n");
    for i in 0..200_000u64 {
        csv.push_str(&format!(
            "{i},{:016x}\n",
            i.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ));
    }
    lake.write("big.csv", csv);
    let r = lake.json(["ingest", "big.csv", "--into", "bronze.big"]);
    assert_eq!(r["rows"], 200_000);
    let files = lake.json(["show", "bronze.big"])["files"].clone();
    let files = files.as_array().unwrap();
    assert!(
        files.len() >= 2,
        "expected several files, got {}",
        files.len()
    );
    let rows: u64 = files.iter().map(|f| f["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 200_000);
    assert!(files.iter().all(|f| {
        f["row_groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g.as_u64().unwrap() <= 20_000)
    }));
    let ids = ids(&lake, "bronze.big", "order_id");
    assert_eq!(
        ids,
        (0..200_000).collect::<Vec<_>>(),
        "file order is row order"
    );
}

#[test]
fn the_manifest_describes_exactly_the_stored_files() {
    let lake = TestLake::new();
    lake.write("o.csv", orders_csv(50, 0));
    lake.cmd(["ingest", "o.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    let show = lake.json(["show", "bronze.orders"]);
    let manifest_path = lake
        .path()
        .join("lake-data")
        .join(show["manifest_key"].as_str().unwrap());
    let bytes = std::fs::read(&manifest_path).unwrap();
    assert_eq!(
        sha256(&bytes),
        show["digest"].as_str().unwrap(),
        "the digest is the manifest's sha256"
    );
    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest["dataset"], "bronze.orders");
    assert_eq!(manifest["version"], 1);
    assert_eq!(manifest["rows"], 50);
    assert_eq!(manifest["operation"]["kind"], "ingest");
    assert_eq!(manifest["schema"]["fields"][0]["name"], "order_id");
    for f in manifest["files"].as_array().unwrap() {
        let data = std::fs::read(
            lake.path()
                .join("lake-data")
                .join(f["path"].as_str().unwrap()),
        )
        .unwrap();
        assert_eq!(sha256(&data), f["sha256"].as_str().unwrap());
        assert_eq!(data.len() as u64, f["size"].as_u64().unwrap());
    }
}

#[test]
fn concurrent_ingests_make_contiguous_versions() {
    let lake = TestLake::new();
    assert_eq!(lake.concurrent_ingests(4, 1000), [1, 2, 3, 4]);
    let latest = lake.json(["show", "bronze.orders"]);
    assert_eq!(latest["rows"], 4000, "every append kept the others' rows");
    for v in 1..=4 {
        let ids = read_ints(&lake, &format!("bronze.orders@v{v}"), "order_id");
        assert_eq!(ids.len() as u64, v * 1000);
    }
}

#[test]
fn compressed_sources_read_as_their_plain_bytes_and_hash_as_stored() {
    use std::io::Write;
    let lake = TestLake::new();
    let csv = orders_csv(5000, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(csv.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let ndjson: String = (0..5000)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"name\":\"n{}\",\"score\":{}.5}}\n",
                i % 7,
                i % 100
            )
        })
        .collect();
    let zst = zstd::encode_all(ndjson.as_bytes(), 3).unwrap();
    // Tab-separated under the compression: `.tsv.gz` splits at tabs as `.tsv` does.
    let mut tsv = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    tsv.write_all(csv.replace(',', "\t").as_bytes()).unwrap();
    lake.write("o.csv", &csv);
    lake.write("o.csv.gz", &gz);
    lake.write("o.tsv.gz", tsv.finish().unwrap());
    lake.write("e.ndjson", &ndjson);
    lake.write("e.ndjson.zst", &zst);
    lake.write("o.bin", &gz);
    for (file, dataset, extra) in [
        ("o.csv", "bronze.o_plain", &[][..]),
        ("o.csv.gz", "bronze.o_gz", &[][..]),
        ("o.tsv.gz", "bronze.o_tsv_gz", &[][..]),
        (
            "o.bin",
            "bronze.o_named",
            &["--format", "csv", "--compression", "gzip"][..],
        ),
        ("e.ndjson", "bronze.e_plain", &[][..]),
        ("e.ndjson.zst", "bronze.e_zst", &[][..]),
    ] {
        let mut args = vec!["ingest", file, "--into", dataset];
        args.extend_from_slice(extra);
        lake.cmd(&args).assert().success();
    }
    for (plain, packed) in [
        ("bronze.o_plain", "bronze.o_gz"),
        ("bronze.o_plain", "bronze.o_tsv_gz"),
        ("bronze.o_plain", "bronze.o_named"),
        ("bronze.e_plain", "bronze.e_zst"),
    ] {
        let same = lake.query_csv(
            &format!(
                "SELECT (SELECT count(*) FROM {packed}) AS n, \
                 (SELECT count(*) FROM (SELECT * FROM {plain} EXCEPT ALL SELECT * FROM {packed})) AS missing, \
                 (SELECT count(*) FROM (SELECT * FROM {packed} EXCEPT ALL SELECT * FROM {plain})) AS extra"
            ),
            &[],
        );
        assert_eq!(same, "n,missing,extra\n5000,0,0\n", "{plain} vs {packed}");
    }
    // The source is recorded as stored: its sha256 and size are the compressed file's.
    let shown = lake.json(["show", "bronze.o_gz"]);
    assert_eq!(shown["sources"][0]["sha256"], sha256(&gz));
    assert_eq!(shown["sources"][0]["size"], gz.len());
    let shown = lake.json(["show", "bronze.e_zst"]);
    assert_eq!(shown["sources"][0]["sha256"], sha256(&zst));
    // The same stored bytes again are the same source: nothing new to commit.
    let again = lake.json(["ingest", "o.csv.gz", "--into", "bronze.o_gz"]);
    assert_eq!(again["sources"][0]["skipped"], true, "{again}");

    // A truncated file is named, and nothing is written.
    lake.write("cut.csv.gz", &gz[..gz.len() / 2]);
    let out = lake
        .cmd(["ingest", "cut.csv.gz", "--into", "bronze.cut"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let (_, err) = text(&out);
    assert!(err.contains("cut.csv.gz") && err.contains("gzip"), "{err}");
    assert!(lake.stored_files("bronze", "cut").is_empty());
    assert!(
        lake.cmd(["show", "bronze.cut"])
            .assert()
            .try_failure()
            .is_ok()
    );
    assert_eq!(lake.json(["check"])["in_flight_writes"], 0);
    // Not gzip at all.
    lake.write("fake.csv.gz", &csv);
    let out = lake
        .cmd(["ingest", "fake.csv.gz", "--into", "bronze.fake"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).1.contains("fake.csv.gz"), "{:?}", text(&out));
    // Parquet is compressed inside.
    lake.write("p.parquet.gz", &gz);
    let out = lake
        .cmd(["ingest", "p.parquet.gz", "--into", "bronze.p"])
        .output()
        .unwrap();
    assert!(
        text(&out).1.contains("Parquet is compressed inside"),
        "{:?}",
        text(&out)
    );
}

/// `lake ingest - …` with its stdin piped, its output captured.
fn piped(lake: &TestLake, args: &[&str]) -> std::process::Child {
    let mut all = vec!["ingest", "-"];
    all.extend_from_slice(args);
    std::process::Command::new(assert_cmd::cargo::cargo_bin("lake"))
        .current_dir(lake.path())
        .env_remove("LAKE_DIR")
        .args(&all)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// NDJSON events into bronze.events, a version per 1,000.
const EVENTS_IN_BATCHES: [&str; 6] = [
    "--into",
    "bronze.events",
    "--format",
    "ndjson",
    "--batch-rows",
    "1000",
];

fn events(from: usize, to: usize) -> String {
    (from..to)
        .map(|i| format!("{{\"id\":{i},\"kind\":\"k{}\"}}\n", i % 5))
        .collect()
}

#[test]
fn a_pipe_commits_a_version_per_batch_and_sigint_drops_only_the_batch_being_read() {
    use std::io::Write;
    let lake = TestLake::new();
    let args = EVENTS_IN_BATCHES;
    let mut child = piped(&lake, &args);
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        // 100,000 events in writes that do not line up with batches or lines.
        let all = events(0, 100_000);
        for chunk in all.as_bytes().chunks(7_777) {
            stdin.write_all(chunk).unwrap();
        }
    });
    feeder.join().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    // A version per batch, and one compaction once 64 small files had piled up
    // (`[maintain] compact_small_files`), which the output says.
    let log = lake.json(["log", "bronze.events"]);
    let operations: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations.iter().filter(|o| **o == "ingest").count(), 100);
    assert_eq!(operations.iter().filter(|o| **o == "compact").count(), 1);
    assert_eq!(log[100 - 64]["operation"], "compact", "{log}");
    assert!(
        text(&out)
            .1
            .contains("compacted bronze.events@v64 into bronze.events@v65: 64 small files into 1"),
        "{:?}",
        text(&out)
    );
    assert_eq!(
        lake.query_csv(
            "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM bronze.events",
            &[]
        ),
        "n,ids\n100000,100000\n"
    );
    let shown = lake.json(["show", "bronze.events"]);
    let uri = shown["sources"][99]["uri"].as_str().unwrap();
    assert!(
        uri.starts_with("stdin:") && uri.ends_with("/batch-100"),
        "{uri}"
    );

    // 2,500 more, then SIGINT while the pipe stays open: two batches commit, 500 do not.
    let mut child = piped(&lake, &args);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(events(100_000, 102_500).as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let start = std::time::Instant::now();
    while lake
        .json(["log", "bronze.events"])
        .as_array()
        .unwrap()
        .len()
        < 103
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "two batches commit"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(out.status.code(), Some(130), "{:?}", text(&out));
    let (_, err) = text(&out);
    assert!(
        err.contains("the batch being read (500 records) was not committed"),
        "{err}"
    );
    assert_eq!(
        lake.query_csv(
            "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM bronze.events",
            &[]
        ),
        "n,ids\n102000,102000\n"
    );
    assert_eq!(lake.json(["check"])["in_flight_writes"], 0);

    // A pipe needs its format; batch flags need a pipe.
    let out = lake
        .cmd(["ingest", "-", "--into", "bronze.x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("--format ndjson"));
    lake.write("a.csv", "a\n1\n");
    let out = lake
        .cmd(["ingest", "a.csv", "--into", "bronze.x", "--batch-rows", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A static HTTP server on 127.0.0.1 over `dir` (Python's), stopped by PID when dropped.
struct HttpServer {
    child: std::process::Child,
    port: u16,
}

impl HttpServer {
    fn start(dir: &std::path::Path) -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let python = crate::util::test_python().unwrap_or_else(|| "python3".into());
        let child = std::process::Command::new(python)
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "http.server starts"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        HttpServer { child, port }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_https_or_http_source_ingests_with_the_sha256_of_what_was_served() {
    let lake = TestLake::new();
    let served = tempfile::tempdir().unwrap();
    let csv = orders_csv(400, 0);
    std::fs::write(served.path().join("orders.csv"), &csv).unwrap();
    let server = HttpServer::start(served.path());
    let url = format!("http://127.0.0.1:{}/orders.csv", server.port);
    let r = lake.json(["ingest", &url, "--into", "bronze.web"]);
    assert_eq!(r["rows"], 400, "{r}");
    let shown = lake.json(["show", "bronze.web"]);
    assert_eq!(shown["sources"][0]["uri"], url.as_str());
    assert_eq!(shown["sources"][0]["sha256"], sha256(csv.as_bytes()));
    let missing = format!("http://127.0.0.1:{}/nope.csv", server.port);
    let out = lake
        .cmd(["ingest", &missing, "--into", "bronze.nope"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let (_, err) = text(&out);
    assert!(err.contains("nope.csv") && err.contains("404"), "{err}");
    drop(server);
    assert_eq!(
        std::fs::read_dir(lake.path().join(".lake/spool"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
}

#[test]
fn a_named_stream_killed_at_random_resumes_from_its_position_with_no_duplicates() {
    use std::io::Write;
    let lake = TestLake::new();
    let all = events(0, 100_000);
    let lines: Vec<&str> = all.lines().collect();
    let args = [&EVENTS_IN_BATCHES[..], &["--stream", "clicks"]].concat();
    let position = |lake: &TestLake| -> usize {
        let out = lake
            .cmd(["stream", "show", "clicks", "--json"])
            .output()
            .unwrap();
        if !out.status.success() {
            return 0;
        }
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["position"]
            .as_u64()
            .unwrap() as usize
    };
    // Three producers killed with SIGKILL part way, each resuming where the stream stands;
    // a fourth feeds the rest. Kill points vary with each run's timing.
    for (round, kill_after) in [(0, 17_345usize), (1, 23_456), (2, 9_999)].into_iter() {
        let from = position(&lake);
        let mut child = piped(&lake, &args);
        let mut stdin = child.stdin.take().unwrap();
        let chunk: String = lines[from..(from + kill_after).min(lines.len())]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        stdin.write_all(chunk.as_bytes()).unwrap();
        stdin.flush().unwrap();
        // Let some batches commit, then kill it mid-stream (maybe mid-commit).
        let start = std::time::Instant::now();
        while position(&lake) <= from && start.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(37 * (round + 1)));
        child.kill().unwrap();
        let _ = child.wait();
        drop(stdin);
    }
    // A producer that re-sends from an earlier offset commits nothing twice.
    let from = position(&lake);
    let back = from.saturating_sub(2_500);
    let mut child = piped(
        &lake,
        &[&args[..], &["--offset", &back.to_string()]].concat(),
    );
    let mut stdin = child.stdin.take().unwrap();
    let rest: String = lines[back..].iter().map(|l| format!("{l}\n")).collect();
    let feeder = std::thread::spawn(move || stdin.write_all(rest.as_bytes()).unwrap());
    feeder.join().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out).1.contains("already committed, left out"),
        "{:?}",
        text(&out)
    );
    assert_eq!(position(&lake), 100_000);
    assert_eq!(
        lake.query_csv(
            "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM bronze.events",
            &[]
        ),
        "n,ids\n100000,100000\n"
    );
    // An offset past the position is a gap, refused.
    let mut child = piped(&lake, &[&args[..], &["--offset", "100001"]].concat());
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).1.contains("would leave a gap"),
        "{:?}",
        text(&out)
    );
    // gc collects what the killed writers left: their writes and their spooled batches.
    let spool = lake.path().join(".lake/spool");
    let spooled = || std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    assert!(
        spooled() > 0,
        "the killed producers left their spool folders"
    );
    let gc = lake.json(["gc"]);
    let kinds: Vec<&str> = gc["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"spool"), "{gc}");
    assert_eq!(spooled(), 0, "{gc}");
    assert_eq!(lake.json(["check"])["in_flight_writes"], 0);
}

#[test]
fn gc_keeps_the_spooled_batch_of_a_live_stream() {
    use std::io::Write;
    let lake = TestLake::new();
    let mut child = piped(&lake, &EVENTS_IN_BATCHES);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(events(0, 10).as_bytes()).unwrap();
    stdin.flush().unwrap();
    let spool = lake.path().join(".lake/spool");
    let start = std::time::Instant::now();
    // The batch's spool file exists from its first record (its bytes are buffered).
    while files_under(&spool) == 0 {
        assert!(start.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let gc = lake.json(["gc", "--grace", "0s"]);
    let spools: Vec<&Value> = gc["orphans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "spool")
        .collect();
    assert_eq!(spools.len(), 1, "{gc}");
    assert_eq!(spools[0]["kept"], true);
    assert_eq!(spools[0]["why"], "in_flight");
    stdin.write_all(events(10, 20).as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        lake.query_csv("SELECT count(*) AS n FROM bronze.events", &[]),
        "n\n20\n"
    );
}

fn files_under(path: &std::path::Path) -> usize {
    let Ok(meta) = std::fs::metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return 1;
    }
    std::fs::read_dir(path)
        .map(|d| d.flatten().map(|e| files_under(&e.path())).sum())
        .unwrap_or(0)
}
