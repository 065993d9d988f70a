//! The odd-input corpus (`tests/corpus/`, written by its `make.py`): every file is either read
//! back alike by every reader, with the rows it holds, or refused with its file (and line, where
//! there is one) and nothing written. `expect.tsv` says which. "Alike" is checked cell by cell
//! as a chain: `lake scan` = `lake query` (JSON), `lake query` (Parquet) = pyarrow through the
//! manifest = DuckDB = Polars (typed values).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::util::{TestLake, text};

struct Case {
    file: String,
    read: Option<u64>,
    refusal: String,
}

fn corpus() -> (PathBuf, Vec<Case>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let expect = std::fs::read_to_string(dir.join("expect.tsv")).unwrap();
    let cases = expect
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split('\t').collect();
            assert_eq!(parts.len(), 3, "expect.tsv: {l}");
            Case {
                file: parts[0].to_string(),
                read: (parts[1] == "read").then(|| parts[2].parse().unwrap()),
                refusal: parts[2].to_string(),
            }
        })
        .collect();
    (dir, cases)
}

/// Rows as canonical JSON text, sorted, so two readers compare cell by cell whatever the order.
fn canonical(rows: impl Iterator<Item = Value>) -> Vec<String> {
    let mut out: Vec<String> = rows.map(|r| r.to_string()).collect();
    out.sort();
    out
}

#[test]
fn every_odd_input_reads_back_alike_or_is_refused_naming_where() {
    let (dir, cases) = corpus();
    assert!(cases.len() >= 60, "the corpus holds {} inputs", cases.len());
    let files = std::fs::read_dir(&dir).unwrap().count() - 2;
    assert_eq!(files, cases.len(), "every corpus file has an expectation");
    let lake = TestLake::new();
    let mut read = BTreeMap::new();
    for (i, case) in cases.iter().enumerate() {
        let dataset = format!("bronze.c{i}");
        let path = dir.join(&case.file);
        let out = lake
            .cmd(["ingest"])
            .arg(&path)
            .args(["--into", &dataset, "--json"])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        let Some(rows) = case.read else {
            assert_eq!(
                out.status.code(),
                Some(1),
                "{} was not refused: {stdout}",
                case.file
            );
            assert!(
                stderr.contains(&case.refusal) && stderr.contains(&case.file),
                "{}: expected {:?} in: {stderr}",
                case.file,
                case.refusal
            );
            assert!(
                !lake.datasets().contains(&dataset),
                "{} left a dataset",
                case.file
            );
            let (zone, name) = dataset.split_once('.').unwrap();
            assert!(
                lake.stored_files(zone, name).is_empty(),
                "{} left objects",
                case.file
            );
            continue;
        };
        assert!(out.status.success(), "{}: {stderr}", case.file);
        let report: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["rows"], rows, "{}", case.file);
        // lake query and lake scan: the same rows, cell by cell.
        let out = lake
            .cmd([
                "query",
                &format!("SELECT * FROM {dataset}"),
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", case.file, text(&out).1);
        let queried: Value = serde_json::from_slice(&out.stdout).unwrap();
        let queried = canonical(queried.as_array().unwrap().iter().cloned());
        assert_eq!(queried.len() as u64, rows, "{}", case.file);
        let out = lake
            .cmd(["scan", &dataset, "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", case.file, text(&out).1);
        let scanned = canonical(
            text(&out)
                .0
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
        assert_eq!(scanned, queried, "{}: scan and query differ", case.file);
        // The query's typed values, for the Python readers to compare with.
        let out = lake
            .cmd([
                "query",
                &format!("SELECT * FROM {dataset}"),
                "--format",
                "parquet",
            ])
            .args(["-o", &format!("{dataset}.query.parquet")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", case.file, text(&out).1);
        read.insert(dataset, (case.file.clone(), rows));
    }
    python_readers_agree(&lake, &read);
}

/// pyarrow (through the manifest), DuckDB and Polars read every accepted version with the rows
/// and columns lake has.
fn python_readers_agree(lake: &TestLake, read: &BTreeMap<String, (String, u64)>) {
    let Some(python) = crate::util::test_python() else {
        return;
    };
    let mut pin = vec!["pin".to_string()];
    pin.extend(read.keys().cloned());
    lake.cmd(&pin).assert().success();
    let expected: Vec<String> = read
        .iter()
        .map(|(d, (_, rows))| {
            let columns: Vec<String> = lake.json(["show", d])["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect();
            serde_json::json!([d, rows, columns]).to_string()
        })
        .collect();
    let script = r#"import json, sys
import math, os
import lake_reader as lm, duckdb, polars, pyarrow.parquet as pq

def cell(v):
    # One spelling per value across readers: floats by repr (NaN equal to NaN), the rest as is.
    if isinstance(v, float):
        return 'nan' if math.isnan(v) else repr(v)
    if isinstance(v, dict):
        return {k: cell(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [cell(x) for x in v]
    return v

def rows_of(records):
    return sorted(json.dumps([cell(v) for v in r], default=str, sort_keys=True) for r in records)

checked = 0
for line in sys.stdin:
    checked += 1
    dataset, rows, columns = json.loads(line)
    m = lm.Manifest.from_lock('lake.lock', dataset, root='lake-data')
    t = m.read()
    assert (t.num_rows, t.schema.names) == (rows, columns), (dataset, 'pyarrow', t.num_rows, t.schema.names)
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet({m.paths()!r}, union_by_name = true)").fetchall()[0][0]
    assert n == rows, (dataset, 'duckdb', n)
    p = polars.scan_parquet(m.paths(), schema=m.polars_schema(), missing_columns="insert").collect()
    assert (p.height, p.columns) == (rows, columns), (dataset, 'polars', p.height, p.columns)
    # Cell by cell, the three agree.
    quoted = ', '.join('"' + c.replace('"', '""') + '"' for c in columns)
    d = duckdb.sql(f"SELECT {quoted} FROM read_parquet({m.paths()!r}, union_by_name = true)").fetchall()
    a = [tuple(r[c] for c in columns) for r in t.to_pylist()]
    pl_rows = p.rows()
    assert rows_of(a) == rows_of(d), (dataset, 'pyarrow vs duckdb', rows_of(a)[:2], rows_of(d)[:2])
    assert rows_of(a) == rows_of(pl_rows), (dataset, 'pyarrow vs polars', rows_of(a)[:2], rows_of(pl_rows)[:2])
    q = pq.read_table(f'{dataset}.query.parquet')
    assert q.schema.names == columns, (dataset, 'lake query columns', q.schema.names)
    lq = [tuple(r[c] for c in columns) for r in q.to_pylist()]
    assert rows_of(a) == rows_of(lq), (dataset, 'pyarrow vs lake query', rows_of(a)[:2], rows_of(lq)[:2])
print(checked)
# Leave at once: pyarrow's thread pools now and then abort the teardown after the work is done.
sys.stdout.flush()
os._exit(0)
"#;
    let mut child = std::process::Command::new(&python)
        .current_dir(lake.path())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for line in &expected {
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(
        text(&out).0.trim(),
        read.len().to_string(),
        "every version was checked"
    );
}
