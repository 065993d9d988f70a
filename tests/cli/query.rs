//! `lake query`: read-only SQL over pinned versions, in four output formats.

use crate::util::{TestLake, text};

fn lake_with_versions() -> TestLake {
    let lake = TestLake::new();
    lake.write("a.csv", "id,name\n1,a\n2,b\n");
    lake.write("b.csv", "id,name\n3,c\n");
    lake.cmd(["ingest", "a.csv", "--into", "bronze.items"])
        .assert()
        .success();
    lake.cmd(["ingest", "b.csv", "--into", "bronze.items"])
        .assert()
        .success();
    lake
}

#[test]
fn query_reads_the_latest_or_a_pinned_version() {
    let lake = lake_with_versions();
    let out = lake
        .cmd([
            "query",
            "SELECT count(*) AS n FROM bronze.items",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert_eq!(text(&out).0, "n\n3\n");
    let out = lake
        .cmd([
            "query",
            "SELECT count(*) AS n FROM bronze.items",
            "--format",
            "csv",
            "--at",
            "bronze.items=v1",
        ])
        .output()
        .unwrap();
    assert_eq!(text(&out).0, "n\n2\n");
    let out = lake
        .cmd(["query", "SELECT id, name FROM bronze.items ORDER BY id"])
        .output()
        .unwrap();
    let (table, err) = text(&out);
    assert!(
        table.contains("| id | name |") && table.contains("| 3  | c    |"),
        "{table}"
    );
    assert!(err.contains("3 rows"), "{err}");
    let json = lake.json(["query", "SELECT max(id) AS top FROM bronze.items"]);
    assert_eq!(json, serde_json::json!([{"top": 3}]));
}

#[test]
fn query_writes_parquet_to_a_file() {
    let lake = lake_with_versions();
    lake.cmd([
        "query",
        "SELECT * FROM bronze.items",
        "--format",
        "parquet",
        "-o",
        "out.parquet",
    ])
    .assert()
    .success();
    let file = std::fs::File::open(lake.path().join("out.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>(), 3);
    let out = lake
        .cmd(["query", "SELECT 1", "--format", "parquet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn query_refuses_everything_but_queries() {
    let lake = lake_with_versions();
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO bronze.items VALUES (9, 'z')",
        "DELETE FROM bronze.items",
        "DROP TABLE bronze.items",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
    ] {
        let out = lake.cmd(["query", sql]).output().unwrap();
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{sql}: {err}");
        assert!(err.contains("only queries can run here"), "{sql}: {err}");
    }
    let out = lake
        .cmd(["query", "SELECT * FROM '/etc/passwd'"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("is not a dataset"),
        "{}",
        text(&out).1
    );
    let out = lake
        .cmd(["query", "SELECT * FROM bronze.itemz"])
        .output()
        .unwrap();
    assert!(
        text(&out).1.contains("dataset `bronze.itemz` not found"),
        "{}",
        text(&out).1
    );
    assert!(
        text(&out).1.contains("did you mean `bronze.items`"),
        "{}",
        text(&out).1
    );
    assert_eq!(
        lake.json(["log", "bronze.items"]).as_array().unwrap().len(),
        2
    );
}

#[test]
fn json_rows_carry_every_column_even_when_null() {
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 1, 10);
    // Order 0's note is empty, so null.
    let out = lake
        .cmd([
            "query",
            "SELECT order_id, note FROM bronze.orders WHERE order_id < 2 ORDER BY order_id",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{"order_id": 0, "note": null}, {"order_id": 1, "note": "ok"}])
    );
    let out = lake
        .cmd([
            "scan",
            "bronze.orders",
            "--format",
            "json",
            "--columns",
            "order_id,note",
        ])
        .output()
        .unwrap();
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first, serde_json::json!({"order_id": 0, "note": null}));
}

#[test]
fn misleading_inputs_are_refused_and_every_command_speaks_json() {
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 1, 10);
    let out = lake
        .cmd(["ls"])
        .env("LAKE_NOW", "yesterday")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LAKE_NOW"));
    let r = lake.json(["reindex"]);
    assert_eq!(r["status"], "rebuilt");
    assert_eq!(r["datasets"], 1);
    let m = lake.json(["manifest", "bronze.orders"]);
    assert_eq!(m["dataset"], "bronze.orders");
}

#[test]
fn table_output_shows_the_first_rows_and_counts_the_rest() {
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 1, 5000);
    let sql = "SELECT order_id FROM bronze.orders ORDER BY order_id";
    let out = lake.cmd(["query", sql]).output().unwrap();
    let (table, err) = text(&out);
    assert!(out.status.success(), "{err}");
    let body = table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.contains("order_id"));
    assert_eq!(body.count(), 40);
    assert!(err.contains("5000 rows, 40 shown (4960 left out"), "{err}");
    let out = lake
        .cmd(["query", sql, "--max-rows", "0"])
        .output()
        .unwrap();
    let (table, err) = text(&out);
    let body = table
        .lines()
        .filter(|l| l.starts_with("| ") && !l.contains("order_id"));
    assert_eq!(body.count(), 5000);
    assert_eq!(err.trim(), "5000 rows");
    let out = lake
        .cmd([
            "query",
            "SELECT order_id FROM bronze.orders WHERE order_id < 0",
        ])
        .output()
        .unwrap();
    assert!(
        text(&out).0.contains("order_id"),
        "an empty result still shows its columns"
    );
}

#[test]
fn sql_names_versions_itself_and_two_versions_of_one_dataset_meet_in_one_query() {
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 3, 100);
    lake.cmd(["tag", "bronze.orders@v1", "first"])
        .assert()
        .success();
    // The rows v3 added over v1, and each version's count, in one query.
    let got = lake.query_csv(
        "SELECT (SELECT count(*) FROM \"bronze.orders@v3\") AS v3, \
                (SELECT count(*) FROM \"bronze.orders@first\") AS v1, \
                (SELECT count(*) FROM (SELECT order_id FROM bronze.orders \
                 EXCEPT SELECT order_id FROM \"bronze.orders@v1\")) AS added",
        &[],
    );
    assert_eq!(got, "v3,v1,added\n300,100,200\n");
    // --at pins the plain name; a version named in the SQL stays what it names.
    let got = lake.query_csv(
        "SELECT (SELECT count(*) FROM bronze.orders) AS pinned, (SELECT count(*) FROM bronze.\"orders@v3\") AS named",
        &["bronze.orders=v2"],
    );
    assert_eq!(got, "pinned,named\n200,300\n");
    let json = lake.json(["query", "SELECT count(*) AS n FROM \"bronze.orders@v2\""]);
    assert_eq!(json[0]["n"], 200, "{json}");
    // Two different --at of one dataset are refused, not the last one taken.
    let out = lake
        .cmd([
            "query",
            "SELECT 1 FROM bronze.orders",
            "--at",
            "bronze.orders=v1",
            "--at",
            "bronze.orders=v2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("twice"), "{}", text(&out).1);
    let out = lake
        .cmd(["query", "SELECT count(*) FROM \"bronze.orders@v9\""])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).1.contains("@v9"), "{}", text(&out).1);
    // The clause DuckLake and Snowflake write reads the same versions.
    let got = lake.query_csv(
        "SELECT (SELECT count(*) FROM bronze.orders AT (VERSION => 2)) AS v2, \
                (SELECT count(*) FROM bronze.orders AT (TAG => 'first')) AS first",
        &[],
    );
    assert_eq!(got, "v2,first\n200,100\n");
    let out = lake
        .cmd(["query", "SELECT 1\nFROM orders AT (VERSION => 2)"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).1.contains("query:2:13"), "{}", text(&out).1);
}

#[test]
fn a_job_reads_a_named_version_beside_the_latest_and_records_both_in_its_lineage() {
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 2, 100);
    lake.cmd(["tag", "bronze.orders@v1", "baseline"])
        .assert()
        .success();
    // The orders since the baseline: the latest version against a named one.
    lake.write(
        "jobs/gold/new_orders.sql",
        "SELECT order_id FROM bronze.orders\n\
         EXCEPT SELECT order_id FROM bronze.orders AT (TAG => 'baseline')\n",
    );
    lake.cmd(["promote"]).assert().success();
    assert_eq!(lake.json(["show", "gold.new_orders"])["rows"], 100);
    let lineage = lake.json(["lineage", "gold.new_orders", "--upstream"]);
    let text_of = lineage.to_string();
    assert!(
        text_of.contains("bronze.orders@v1") && text_of.contains("bronze.orders@v2"),
        "{lineage}"
    );
    let again = lake.json(["promote"]);
    assert_eq!(again["jobs"][0]["status"], "up_to_date", "{again}");
    // A new latest version runs the job again; the baseline stays where its tag is.
    lake.write("part9.csv", crate::util::orders_csv(50, 300));
    lake.cmd(["ingest", "part9.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    let third = lake.json(["promote"]);
    assert_eq!(third["jobs"][0]["status"], "ok", "{third}");
    let inputs = third["jobs"][0]["inputs"].to_string();
    assert!(
        inputs.contains("bronze.orders@v1") && inputs.contains("bronze.orders@v3"),
        "{inputs}"
    );
    assert_eq!(lake.json(["show", "gold.new_orders"])["rows"], 150);
    // A job may not read its own output, by any version.
    lake.write(
        "jobs/gold/new_orders.sql",
        "SELECT order_id FROM \"gold.new_orders@v1\"",
    );
    let out = lake.cmd(["promote"]).output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).1.contains("new_orders.sql") && text(&out).1.contains("own output"),
        "{}",
        text(&out).1
    );
}
