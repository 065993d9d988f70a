//! Bad input: a clear error naming the file and line, exit 1, and nothing left behind.

use crate::util::{TestLake, orders_csv, text};

/// Ingest `file` into bronze.bad; expect exit `code`, stderr containing every `expect`, and no
/// trace in the catalog or storage.
fn refused(lake: &TestLake, args: &[&str], code: i32, expect: &[&str]) {
    let mut all = vec!["ingest"];
    all.extend_from_slice(args);
    if !args.contains(&"--into") {
        all.extend(["--into", "bronze.bad"]);
    }
    let out = lake.cmd(&all).output().unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    for e in expect {
        assert!(err.contains(e), "{args:?}: expected {e:?} in:\n{err}");
    }
    assert!(
        !lake.datasets().contains(&"bronze.bad".to_string()),
        "{args:?} left a dataset"
    );
    assert!(
        lake.stored_files("bronze", "bad").is_empty(),
        "{args:?} left objects: {:?}",
        lake.stored_files("bronze", "bad")
    );
}

#[test]
fn a_ragged_csv_row_names_its_line() {
    let lake = TestLake::new();
    lake.write("ragged.csv", "id,name\n1,a\n2,b,c\n3,d\n");
    refused(
        &lake,
        &["ragged.csv"],
        1,
        &["ragged.csv:3:", "ragged row: expected 2 fields, found 3"],
    );
}

#[test]
fn a_ragged_row_past_the_inference_window_names_its_line() {
    let lake = TestLake::new();
    lake.configure("ingest", "infer_rows", "10");
    let mut csv = orders_csv(100, 0);
    csv.push_str("100,1,2.5\n");
    lake.write("late.csv", csv);
    refused(&lake, &["late.csv"], 1, &["late.csv:102:", "ragged row"]);
}

#[test]
fn invalid_utf8_names_line_and_column() {
    let lake = TestLake::new();
    lake.write("utf8.csv", b"id,name\n1,a\n2,\xff\xfe\n".as_slice());
    refused(&lake, &["utf8.csv"], 1, &["utf8.csv:3:", "invalid UTF-8"]);
    lake.configure("ingest", "infer_rows", "1");
    refused(
        &lake,
        &["utf8.csv"],
        1,
        &["utf8.csv:3:", "invalid UTF-8 in column `name`"],
    );
}

#[test]
fn a_value_that_contradicts_the_inferred_type_names_line_and_column() {
    let lake = TestLake::new();
    lake.configure("ingest", "infer_rows", "50");
    let mut csv = orders_csv(100, 0);
    csv.push_str("100,1,lots,true,2026-01-01T00:00:00,x\n");
    lake.write("typed.csv", csv);
    refused(
        &lake,
        &["typed.csv"],
        1,
        &[
            "typed.csv:102:",
            "value `lots` in column `amount` is not float64",
            "--schema",
        ],
    );
}

#[test]
fn lines_are_the_files_own_past_values_that_span_lines() {
    // Records and lines part at a quoted value holding a newline: the line named is the file's.
    let lake = TestLake::new();
    lake.write("ragged.csv", "id,note\n1,\"two\nlines\"\n2,b,c\n");
    refused(
        &lake,
        &["ragged.csv"],
        1,
        &["ragged.csv:4:", "ragged row: expected 2 fields, found 3"],
    );
    lake.configure("ingest", "infer_rows", "2");
    let typed = "id,note,n\n1,\"x\ny\",5\n2,z,6\n3,w,seven\n";
    lake.write("typed.csv", typed);
    refused(
        &lake,
        &["typed.csv"],
        1,
        &["typed.csv:5:", "value `seven` in column `n` is not int64"],
    );
    // The same, compressed, and with tabs: the second reading decompresses and splits alike.
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(typed.replace(',', "\t").as_bytes()).unwrap();
    lake.write("typed.tsv.gz", gz.finish().unwrap());
    refused(
        &lake,
        &["typed.tsv.gz"],
        1,
        &[
            "typed.tsv.gz:5:",
            "value `seven` in column `n` is not int64",
        ],
    );
}

#[test]
fn a_value_that_contradicts_the_given_schema_is_refused() {
    let lake = TestLake::new();
    lake.write("o.csv", "id,n\n1,2\n2,two\n");
    lake.write(
        "s.json",
        r#"{"fields": [{"name": "id", "type": "int64"}, {"name": "n", "type": "int64"}]}"#,
    );
    refused(
        &lake,
        &["o.csv", "--schema", "s.json"],
        1,
        &["o.csv:3:", "value `two` in column `n` is not int64"],
    );
    lake.write(
        "bad-schema.json",
        r#"{"fields": [{"name": "id", "type": "integer"}]}"#,
    );
    refused(
        &lake,
        &["o.csv", "--schema", "bad-schema.json"],
        1,
        &["bad-schema.json", "`id`", "integer"],
    );
}

#[test]
fn empty_and_header_only_files_are_refused() {
    let lake = TestLake::new();
    lake.write("empty.csv", "");
    refused(
        &lake,
        &["empty.csv"],
        1,
        &["empty.csv", "the file is empty"],
    );
    lake.write("header.csv", "id,name\n");
    refused(
        &lake,
        &["header.csv"],
        1,
        &["header.csv", "a header but no data rows"],
    );
    lake.write("empty.ndjson", "\n\n");
    refused(
        &lake,
        &["empty.ndjson"],
        1,
        &["empty.ndjson", "no JSON records"],
    );
}

#[test]
fn missing_files_and_empty_folders_are_refused() {
    let lake = TestLake::new();
    refused(
        &lake,
        &["nope.csv"],
        1,
        &["source `nope.csv` does not exist"],
    );
    std::fs::create_dir(lake.path().join("nothing")).unwrap();
    lake.write("nothing/readme.txt.bak", "x");
    refused(
        &lake,
        &["nothing"],
        1,
        &["no csv, ndjson, json or parquet files found in `nothing`"],
    );
    refused(
        &lake,
        &["*.parquet"],
        1,
        &["no matching files found in `*.parquet`"],
    );
}

#[test]
fn a_truncated_parquet_file_is_refused() {
    let lake = TestLake::new();
    lake.write("o.csv", orders_csv(100, 0));
    lake.cmd(["ingest", "o.csv", "--into", "bronze.good"])
        .assert()
        .success();
    let path = lake.json(["show", "bronze.good"])["files"][0]["path"]
        .as_str()
        .unwrap()
        .to_string();
    let bytes = std::fs::read(lake.path().join("lake-data").join(path)).unwrap();
    lake.write("truncated.parquet", &bytes[..bytes.len() / 2]);
    refused(
        &lake,
        &["truncated.parquet"],
        1,
        &["truncated.parquet", "not a readable Parquet file"],
    );
}

#[test]
fn malformed_json_names_its_line() {
    let lake = TestLake::new();
    lake.write("bad.ndjson", "{\"a\": 1}\n{\"a\": 2,}\n");
    refused(
        &lake,
        &["bad.ndjson"],
        1,
        &["bad.ndjson:2:", "malformed JSON"],
    );
    lake.write("cut.json", "[{\"a\": 1},\n {\"a\": 2");
    refused(
        &lake,
        &["cut.json"],
        1,
        &["cut.json:2:", "ends inside the JSON object"],
    );
    lake.write("scalar.ndjson", "{\"a\": 1}\n7\n");
    refused(
        &lake,
        &["scalar.ndjson"],
        1,
        &["scalar.ndjson:2:", "expected a JSON object"],
    );
    // Past the inference window, found by the decoder.
    lake.configure("ingest", "infer_rows", "1");
    lake.write("late.ndjson", "{\"a\": 1}\n{\"a\": 2}\n{\"a\": tru}\n");
    refused(
        &lake,
        &["late.ndjson"],
        1,
        &["late.ndjson:3:", "malformed JSON"],
    );
    lake.write("typed.ndjson", "{\"a\": 1}\n{\"a\": 2}\n{\"a\": \"x\"}\n");
    refused(&lake, &["typed.ndjson"], 1, &["typed.ndjson:3:", "Int64"]);
    lake.write("newfield.ndjson", "{\"a\": 1}\n{\"b\": 2}\n");
    refused(
        &lake,
        &["newfield.ndjson"],
        1,
        &["newfield.ndjson:2:", "field `b`"],
    );
}

#[test]
fn a_bad_file_among_good_ones_commits_nothing() {
    let lake = TestLake::new();
    lake.write("a.csv", orders_csv(1000, 0));
    lake.write("b.csv", "order_id,customer_id\n1,2,3\n");
    refused(&lake, &["a.csv", "b.csv"], 1, &["b.csv:2:", "ragged row"]);
}

#[test]
fn a_failed_ingest_leaves_the_existing_dataset_as_it_was() {
    let lake = TestLake::new();
    lake.write("good.csv", orders_csv(10, 0));
    lake.cmd(["ingest", "good.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    let before = lake.stored_files("bronze", "orders");
    lake.write("bad.csv", "order_id,customer_id\n1,2,3\n");
    let out = lake
        .cmd(["ingest", "bad.csv", "--into", "bronze.orders"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lake.stored_files("bronze", "orders"), before);
    assert_eq!(
        lake.json(["log", "bronze.orders"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn invalid_dataset_names_exit_2() {
    let lake = TestLake::new();
    lake.write("o.csv", "id\n1\n");
    let long = format!("bronze.{}", "a".repeat(200));
    for name in [
        "bronze.../x",
        "Bronze.Orders",
        "bronze.Orders",
        "bronze.1x",
        long.as_str(),
        "bronze.x@v1",
    ] {
        let out = lake
            .cmd(["ingest", "o.csv", "--into", name])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out).1);
        assert!(
            text(&out).1.contains("invalid dataset name"),
            "{name}: {}",
            text(&out).1
        );
    }
    let out = lake
        .cmd(["ingest", "o.csv", "--into", "silver.x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("ingest writes only to bronze"),
        "{}",
        text(&out).1
    );
    assert!(lake.datasets().is_empty());
}

#[test]
fn an_unknown_extension_asks_for_a_format() {
    let lake = TestLake::new();
    lake.write("data.xlsx", "x");
    refused(
        &lake,
        &["data.xlsx"],
        2,
        &["cannot tell the format of `data.xlsx`", "--format"],
    );
}

#[test]
fn a_stray_quote_names_the_line_it_opened_on_instead_of_merging_rows() {
    let lake = TestLake::new();
    // Line 3's quote never closes: read on, it would swallow lines 4 to 6 into one field.
    lake.write(
        "stray.csv",
        "id,note\n1,fine\n2,\"six feet\n3,x\n4,y\n5,z\n",
    );
    refused(&lake, &["stray.csv"], 1, &["stray.csv:3:", "never closes"]);
    // Quoted fields that close, with commas, escaped quotes and newlines inside, still read.
    lake.write(
        "good.csv",
        "id,note\n1,\"a, \"\"b\"\"\nc\"\n2,plain \"quote\" inside\n3,\"\"\n",
    );
    let r = lake.json(["ingest", "good.csv", "--into", "bronze.notes"]);
    assert_eq!(r["rows"], 3);
}

#[test]
fn exotic_types_are_stored_so_they_read_back_or_refused_with_the_column_named() {
    let lake = TestLake::new();
    // A Parquet file with types a DataFusion user meets: written by lake's own query.
    let sql = "SELECT arrow_cast('a', 'Dictionary(Int32, Utf8)') AS dict, \
               arrow_cast('v', 'Utf8View') AS viewed, \
               arrow_cast(X'0102', 'FixedSizeBinary(2)') AS fsb, \
               arrow_cast(5, 'Duration(Second)') AS dur, \
               arrow_cast(1.5, 'Decimal256(40, 2)') AS big, \
               CAST('10:00:00' AS TIME) AS at_time";
    lake.cmd(["query", sql, "--format", "parquet", "-o", "exotic.parquet"])
        .assert()
        .success();
    let r = lake.json(["ingest", "exotic.parquet", "--into", "bronze.exotic"]);
    let types: Vec<String> = r["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["name"].as_str().unwrap(),
                c["type"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            "dict:string",
            "viewed:string",
            "fsb:fixed_size_binary[2]",
            "dur:duration[s]",
            "big:decimal256(40, 2)",
            "at_time:time64[ns]"
        ]
    );
    // It reads back, appends, and promotes, for good.
    let out = lake
        .cmd(["query", "SELECT dict, viewed, CAST(big AS VARCHAR) AS big, CAST(at_time AS VARCHAR) AS t FROM bronze.exotic", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(text(&out).0, "dict,viewed,big,t\na,v,1.50,10:00:00\n");
    lake.cmd([
        "ingest",
        "exotic.parquet",
        "--into",
        "bronze.exotic",
        "--force",
    ])
    .assert()
    .success();
    lake.write(
        "jobs/silver/times.sql",
        "SELECT dict, CAST('10:00:00' AS TIME) AS opens FROM bronze.exotic",
    );
    let p = lake.json(["promote"]);
    assert_eq!(p["ok"], 1, "{p:#}");
    assert_eq!(
        lake.query_csv("SELECT count(*) AS n FROM silver.times", &[]),
        "n\n2\n"
    );

    // A map cannot be stored: refused, naming the column, with nothing written.
    lake.cmd([
        "query",
        "SELECT MAP {'k': 1} AS tags",
        "--format",
        "parquet",
        "-o",
        "map.parquet",
    ])
    .assert()
    .success();
    refused(
        &lake,
        &["map.parquet", "--into", "bronze.maps"],
        1,
        &["map.parquet", "column `tags`"],
    );
}

#[test]
fn a_ten_thousand_column_csv_ingests_and_reads_back() {
    let lake = TestLake::new();
    let cols = 10_000;
    let mut csv = (0..cols)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(",");
    csv.push('\n');
    for r in 0..5 {
        let row: Vec<String> = (0..cols).map(|i| ((r * i) % 10).to_string()).collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    lake.write("wide.csv", csv);
    let r = lake.json(["ingest", "wide.csv", "--into", "bronze.wide"]);
    assert_eq!(r["rows"], 5);
    assert_eq!(r["columns"].as_array().unwrap().len(), cols);
    let out = lake.query_csv("SELECT sum(c9999) AS s FROM bronze.wide", &[]);
    // (r * 9999) % 10 for r in 0..5: 0 + 9 + 8 + 7 + 6
    assert_eq!(out, "s\n30\n");
}

/// NDJSON of `rows` records of about 100 bytes, pretty-printed over four lines each when
/// `pretty`; record `bad` (0-based), if any, holds a malformed literal.
fn big_ndjson(rows: usize, pretty: bool, bad: Option<usize>) -> String {
    let mut out = String::with_capacity(rows * 110);
    for i in 0..rows {
        let y = if Some(i) == bad {
            "tru".to_string()
        } else {
            (i % 7).to_string()
        };
        if pretty {
            out.push_str(&format!(
                "{{\n  \"id\": {i}, \"note\": \"{i:0>60}\",\n  \"x\": {{\"y\": {y}}}\n}}\n"
            ));
        } else {
            out.push_str(&format!(
                "{{\"id\": {i}, \"note\": \"{i:0>60}\", \"x\": {{\"y\": {y}}}}}\n"
            ));
        }
    }
    out
}

#[test]
fn big_json_streams_decode_whole_and_name_the_line_of_a_late_error() {
    // Over 8 MiB, so the source is read and decoded in several chunks at once.
    let rows = 120_000;
    let lake = TestLake::new();
    for (name, pretty) in [("flat.ndjson", false), ("pretty.json", true)] {
        lake.write(name, big_ndjson(rows, pretty, None));
        let dataset = format!("bronze.{}", name.split('.').next().unwrap());
        lake.cmd(["ingest", name, "--into", &dataset])
            .assert()
            .success();
        let out = lake
            .cmd([
                "query",
                &format!(
                    "SELECT count(*) AS n, sum(id) AS s, count(DISTINCT id) AS d FROM {dataset}"
                ),
                "--format",
                "csv",
            ])
            .output()
            .unwrap();
        let expected_sum = rows as u64 * (rows as u64 - 1) / 2;
        assert_eq!(
            text(&out).0.lines().nth(1).unwrap(),
            format!("{rows},{expected_sum},{rows}"),
            "{name}: every record once"
        );
    }
    // A malformed record deep in the file, in a later chunk: its own line is named.
    let bad = 100_000;
    lake.write("late_flat.ndjson", big_ndjson(rows, false, Some(bad)));
    refused(
        &lake,
        &["late_flat.ndjson"],
        1,
        &[&format!("late_flat.ndjson:{}:", bad + 1), "malformed JSON"],
    );
    lake.write("late_pretty.json", big_ndjson(rows, true, Some(bad)));
    refused(
        &lake,
        &["late_pretty.json"],
        1,
        &[
            &format!("late_pretty.json:{}:", bad * 4 + 3),
            "malformed JSON",
        ],
    );
}

#[test]
fn a_folder_with_a_link_back_up_is_refused_naming_the_link() {
    let lake = TestLake::new();
    lake.write("in/x.csv", "a\n1\n");
    lake.write("in/sub/y.csv", "a\n2\n");
    lake.write("in/.hidden/z.csv", "a\n3\n");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("..", lake.path().join("in/sub/loop")).unwrap();
        refused(&lake, &["in"], 1, &["in/sub/loop", "loop"]);
        std::fs::remove_file(lake.path().join("in/sub/loop")).unwrap();
    }
    // Without it, the folder's files in name order, hidden ones left out.
    let r = lake.json(["ingest", "in", "--into", "bronze.walked"]);
    assert_eq!(r["rows"], 2, "{r}");
}
