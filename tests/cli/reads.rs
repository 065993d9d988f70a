//! Pinned reads from the shell: lock files, verify, get, manifest, scan, and Python reading
//! the same rows per shard with no `lake` installed.

use serde_json::Value;

use crate::util::{TestLake, text};

fn lake_with_data() -> TestLake {
    let lake = TestLake::new();
    lake.configure("ingest", "row_group_rows", "100");
    let mut csv = String::from("id,score\n");
    for i in 0..1234 {
        csv.push_str(&format!("{i},{}\n", (i * 37) % 101));
    }
    lake.write("rows.csv", csv);
    lake.cmd(["ingest", "rows.csv", "--into", "bronze.rows"])
        .assert()
        .success();
    lake.cmd(["tag", "bronze.rows@v1", "train-1"])
        .assert()
        .success();
    lake
}

fn scan_ids(lake: &TestLake, args: &[&str]) -> Vec<i64> {
    let mut all = vec![
        "scan",
        "bronze.rows@train-1",
        "--columns",
        "id",
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    let out = lake.cmd(&all).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    text(&out)
        .0
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

#[test]
fn pin_writes_a_deterministic_lock_and_verify_checks_it() {
    let lake = lake_with_data();
    lake.cmd(["pin", "bronze.rows@train-1"]).assert().success();
    let lock = std::fs::read_to_string(lake.path().join("lake.lock")).unwrap();
    assert!(lock.contains("ref = \"bronze.rows@v1\""), "{lock}");
    assert!(
        lock.contains("requested = \"bronze.rows@train-1\""),
        "{lock}"
    );
    lake.cmd(["pin", "bronze.rows@train-1"]).assert().success();
    assert_eq!(
        std::fs::read_to_string(lake.path().join("lake.lock")).unwrap(),
        lock,
        "deterministic"
    );
    let ok = lake.json(["verify"]);
    assert_eq!(ok["problems"], serde_json::json!([]));
    // Alter one byte of a data file: verify names it and exits 3.
    let manifest: Value =
        serde_json::from_str(&text(&lake.cmd(["manifest", "bronze.rows@v1"]).output().unwrap()).0)
            .unwrap();
    let key = manifest["files"][0]["path"].as_str().unwrap().to_string();
    let path = lake.path().join("lake-data").join(&key);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let out = lake.cmd(["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out).0.contains(&key), "{}", text(&out).0);
    std::fs::remove_file(&path).unwrap();
    let out = lake.cmd(["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out).0.contains("missing"), "{}", text(&out).0);
    let out = lake.cmd(["verify", "nope.lock"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn get_downloads_a_verified_copy_and_manifest_prints_the_contract() {
    let lake = lake_with_data();
    let r = lake.json(["get", "bronze.rows@train-1", "-o", "copy"]);
    assert_eq!(r["version"], 1);
    let manifest_text = text(&lake.cmd(["manifest", "bronze.rows@v1"]).output().unwrap()).0;
    let manifest: Value = serde_json::from_str(&manifest_text).unwrap();
    for f in manifest["files"].as_array().unwrap() {
        assert!(
            lake.path()
                .join("copy")
                .join(f["path"].as_str().unwrap())
                .exists()
        );
    }
    assert!(
        lake.path()
            .join("copy/_lake/manifests/bronze/rows/v000001.json")
            .exists()
    );
}

#[test]
fn scan_shards_are_disjoint_complete_and_reproducible() {
    let lake = lake_with_data();
    let mut all: Vec<i64> = Vec::new();
    for rank in 0..3 {
        all.extend(scan_ids(&lake, &["--shard", &format!("{rank}/3")]));
    }
    all.sort();
    assert_eq!(all, (0..1234).collect::<Vec<_>>());
    let a = scan_ids(&lake, &["--seed", "9", "--epoch", "1", "--buffer", "300"]);
    assert_eq!(
        a,
        scan_ids(&lake, &["--seed", "9", "--epoch", "1", "--buffer", "300"])
    );
    assert_ne!(
        a,
        scan_ids(&lake, &["--seed", "9", "--epoch", "2", "--buffer", "300"])
    );
    let out = lake
        .cmd(["scan", "bronze.rows", "--shard", "3/3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn python_reads_the_same_rows_per_shard_without_lake() {
    let Some(python) = crate::util::test_python() else {
        return;
    };
    let lake = lake_with_data();
    lake.cmd(["pin", "bronze.rows@train-1"]).assert().success();
    for world in [1, 2, 3] {
        for rank in 0..world {
            let rust = scan_ids(&lake, &["--shard", &format!("{rank}/{world}")]);
            let said = lake.run_python(
                &python,
                &format!(
                    "m = lm.Manifest.from_lock('lake.lock', 'bronze.rows', root='lake-data')\n\
                     t = m.read(columns=['id'], shard=({rank}, {world}))\n\
                     print(','.join(str(x) for x in t.column('id').to_pylist()))"
                ),
            );
            let py: Vec<i64> = said
                .trim()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            assert_eq!(py, rust, "shard {rank}/{world}");
        }
    }
    // A manifest that no longer matches the lock is refused.
    let manifest = lake
        .path()
        .join("lake-data/_lake/manifests/bronze/rows/v000001.json");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push(' ');
    std::fs::write(&manifest, text).unwrap();
    let out = std::process::Command::new(&python)
        .current_dir(lake.path())
        .args([
            "-c",
            "import lake_reader as lm\nlm.Manifest.from_lock('lake.lock', 'bronze.rows', root='lake-data')",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("IntegrityError"));
}

/// The sample data's own drift: February's export adds `channel`; the version holds both months.
fn drifted_orders() -> TestLake {
    let lake = TestLake::new();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/orders");
    for month in ["orders-2026-01.csv", "orders-2026-02.csv"] {
        lake.cmd(["ingest"])
            .arg(data.join(month))
            .args(["--into", "bronze.orders", "--null-value", "NA"])
            .assert()
            .success();
    }
    lake
}

#[test]
fn scans_of_a_drifted_version_read_every_row_in_the_versions_shape() {
    let lake = drifted_orders();
    let rows = lake.json(["show", "bronze.orders"])["rows"]
        .as_u64()
        .unwrap();
    let out = lake.cmd(["scan", "bronze.orders"]).output().unwrap();
    let (csv, err) = text(&out);
    assert!(out.status.success(), "{err}");
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.ends_with(",channel"), "{header}");
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len() as u64, rows);
    let columns = header.split(',').count();
    let january_row = body
        .iter()
        .find(|l| l.starts_with("100001,"))
        .expect("a January row");
    assert!(
        january_row.ends_with(','),
        "January has no channel: {january_row}"
    );
    assert!(body.iter().all(|l| l.split(',').count() >= columns - 1));

    // A column only February has, and a buffered shuffle across both months' files.
    let out = lake
        .cmd(["scan", "bronze.orders", "--columns", "order_id,channel"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(text(&out).0.lines().count() as u64, rows + 1);
    let out = lake
        .cmd(["scan", "bronze.orders", "--seed", "7", "--buffer", "500"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(text(&out).0.lines().count() as u64, rows + 1);
}

#[test]
fn every_reader_reads_a_drifted_version_alike() {
    let Some(python) = crate::util::test_python() else {
        return;
    };
    let lake = drifted_orders();
    lake.cmd(["pin", "bronze.orders"]).assert().success();
    // rows, rows with a channel, orders, total amount in cents: by lake's own SQL...
    let sql = "SELECT count(*) AS n, count(channel) AS c, count(DISTINCT order_id) AS o, \
               CAST(round(sum(amount) * 100) AS BIGINT) AS cents FROM bronze.orders";
    let expected = lake.query_csv(sql, &[]).lines().nth(1).unwrap().to_string();
    // ...and by every reader that needs no lake.
    let said = lake.run_python(
        &python,
        r#"import duckdb, polars
m = lm.Manifest.from_lock('lake.lock', 'bronze.orders', root='lake-data')
t = m.read()
assert t.schema.names[-1] == 'channel', t.schema.names
print('pyarrow', t.num_rows, t.num_rows - t.column('channel').null_count,
      len(set(t.column('order_id').to_pylist())),
      round(sum(x for x in t.column('amount').to_pylist() if x is not None) * 100))
d = duckdb.sql(f"SELECT count(*), count(channel), count(DISTINCT order_id), "
               f"CAST(round(sum(amount) * 100) AS BIGINT) FROM read_parquet({m.paths()!r}, union_by_name = true)").fetchall()[0]
print('duckdb', *d)
p = polars.scan_parquet(m.paths(), schema=m.polars_schema(), missing_columns="insert").collect()
print('polars', p.height, p['channel'].count(), p['order_id'].n_unique(), round(p['amount'].sum() * 100))
"#,
    );
    let expected: Vec<&str> = expected.split(',').collect();
    for line in said.lines() {
        let mut words = line.split_whitespace();
        let reader = words.next().unwrap();
        let got: Vec<&str> = words.collect();
        assert_eq!(got, expected, "{reader} reads the version as lake does");
    }
    assert_eq!(said.lines().count(), 3, "{said}");
}

#[test]
fn every_rank_gets_rows_from_a_small_version() {
    let lake = TestLake::new();
    lake.write("small.csv", crate::util::orders_csv(100, 0));
    lake.cmd(["ingest", "small.csv", "--into", "bronze.small"])
        .assert()
        .success();
    let rows_of = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["scan", "bronze.small", "--columns", "order_id"];
        all.extend_from_slice(args);
        let out = lake.cmd(&all).output().unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
        text(&out).0.lines().skip(1).map(str::to_string).collect()
    };
    // One row group of 100 rows, 64 ranks: every rank reads, and together they read each row once.
    let mut all = Vec::new();
    for rank in 0..64 {
        let part = rows_of(&["--shard", &format!("{rank}/64")]);
        assert!(!part.is_empty(), "rank {rank} of 64 got no rows");
        all.extend(part);
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 100);
    // More ranks than rows: the ranks left without rows are told so.
    lake.write("tiny.csv", crate::util::orders_csv(3, 0));
    lake.cmd(["ingest", "tiny.csv", "--into", "bronze.tiny"])
        .assert()
        .success();
    let out = lake
        .cmd(["scan", "bronze.tiny", "--shard", "5/8"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(text(&out).1.contains("gets no rows"), "{}", text(&out).1);
}

#[test]
fn python_shuffles_exactly_like_rust() {
    let Some(python) = crate::util::test_python() else {
        return;
    };
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 3, 500);
    lake.cmd(["pin", "bronze.orders"]).assert().success();
    for (seed, epoch, buffer, batch, shard) in [
        (7u64, 0u64, 0usize, 8192usize, (0usize, 1usize)),
        (7, 1, 0, 8192, (0, 1)),
        (7, 2, 300, 64, (1, 2)),
        (123_456_789, 5, 1000, 100, (0, 3)),
    ] {
        let out = lake
            .cmd([
                "scan",
                "bronze.orders",
                "--columns",
                "order_id",
                "--seed",
                &seed.to_string(),
                "--epoch",
                &epoch.to_string(),
                "--buffer",
                &buffer.to_string(),
                "--batch-size",
                &batch.to_string(),
                "--shard",
                &format!("{}/{}", shard.0, shard.1),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
        let rust: Vec<String> = text(&out).0.lines().skip(1).map(str::to_string).collect();
        let said = lake.run_python(
            &python,
            &format!(
                "m = lm.Manifest.from_lock('lake.lock', 'bronze.orders', root='lake-data')\n\
                 t = m.read(columns=['order_id'], shard={shard:?}, shuffle=({seed}, {epoch}, {buffer}), batch_size={batch})\n\
                 print('\\n'.join(str(x) for x in t.column('order_id').to_pylist()))"
            ),
        );
        let py: Vec<String> = said.lines().map(str::to_string).collect();
        assert_eq!(py.len(), rust.len());
        assert_eq!(
            py, rust,
            "seed {seed} epoch {epoch} buffer {buffer} batch {batch}"
        );
    }
}

#[test]
fn scan_writes_an_arrow_stream_with_the_same_rows_in_the_same_order() {
    let lake = lake_with_data();
    let json = scan_ids(&lake, &["--shard", "1/3", "--seed", "5"]);
    let out = lake
        .cmd([
            "scan",
            "bronze.rows@train-1",
            "--format",
            "arrow",
            "--shard",
            "1/3",
            "--seed",
            "5",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(out.stdout), None)
        .expect("an Arrow IPC stream");
    let names: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["id", "score"]);
    let mut ids = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = batch
            .column_by_name("id")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap();
        ids.extend(col.values().iter().copied());
    }
    assert_eq!(
        ids, json,
        "the same rows as --format json, in the same order"
    );
    assert!(!ids.is_empty());
}

#[test]
fn the_python_wheel_in_a_fresh_venv_reads_in_the_rust_order_without_torch() {
    let Some(python) = crate::util::reader_python() else {
        return;
    };
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 3, 500);
    lake.cmd(["pin", "bronze.orders"]).assert().success();
    let rust = crate::util::scanned(
        &lake,
        "bronze.orders",
        "order_id",
        &[
            "--shard",
            "1/2",
            "--seed",
            "11",
            "--epoch",
            "2",
            "--buffer",
            "200",
            "--batch-size",
            "50",
        ],
    );
    assert!(rust.len() > 500, "{}", rust.len());
    let read = crate::util::python_batches(
        "bronze.orders",
        "lake-data",
        "order_id",
        "shard=(1, 2), shuffle=(11, 2, 200), batch_size=50",
    );
    let said = lake.run_python(
        &python,
        &format!(
            "assert 'site-packages' in lm.__file__, lm.__file__\n\
             assert 'torch' not in sys.modules\n\
             {read}\n\
             try:\n    lm.Manifest.from_lock('lake.lock', 'bronze.orders', root='lake-data').to_torch()\n\
             except ImportError as e:\n    assert 'lake-reader[torch]' in str(e), e\n\
             else:\n    raise SystemExit('torch is not in this venv')"
        ),
    );
    let py: Vec<String> = said.lines().map(str::to_string).collect();
    assert_eq!(py, rust);
}
