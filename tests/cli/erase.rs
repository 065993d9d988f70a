//! `lake erase`: rows removed from every retained version of a dataset and its descendants, in
//! both tiers, with a ledger; checked by reading every Parquet file the lake holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, Int64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

use crate::util::{TestLake, text};

/// Customers `7p+1 ..= 7p+40` of part `p` (customer 42 is in parts 1 to 5, twice in part 3).
fn customers_csv(part: usize) -> String {
    let mut s = String::from("customer_id,email,amount\n");
    for c in 7 * part + 1..=7 * part + 40 {
        s.push_str(&format!("{c},c{c}@example.com,{}\n", (c * 3 + part) % 50));
    }
    if part == 3 {
        s.push_str("42,second@example.com,7\n");
    }
    s
}

const JOBS: &[(&str, &str)] = &[
    (
        "jobs/silver/customers_clean.sql",
        "SELECT customer_id, lower(email) AS email, amount FROM bronze.customers WHERE amount >= 0",
    ),
    (
        "jobs/gold/customer_value.sql",
        "SELECT customer_id, sum(amount) AS total, count(*) AS orders\n\
         FROM silver.customers_clean GROUP BY customer_id",
    ),
    (
        "jobs/gold/headcount.sql",
        "SELECT count(*) AS customers FROM silver.customers_clean",
    ),
];

/// The jobs, 10 versions of bronze.customers (an overwrite at v5) and promotes after v3, v6
/// and v10.
fn customer_history(lake: &TestLake) {
    for (path, sql) in JOBS {
        lake.write(path, sql);
    }
    for part in 0..10 {
        let name = format!("customers{part}.csv");
        lake.write(&name, customers_csv(part));
        let mode = if part == 4 { "overwrite" } else { "append" };
        lake.cmd([
            "ingest",
            &name,
            "--into",
            "bronze.customers",
            "--mode",
            mode,
        ])
        .assert()
        .success();
        if [2, 5, 9].contains(&part) {
            lake.cmd(["promote"]).assert().success();
        }
    }
}

/// Every version but the newest two of each dataset archived, by a rule and a clock years on.
fn archive_all_but_the_newest_two(lake: &TestLake) {
    lake.cmd(["rule", "add", "--archive-after", "30d", "--keep-last", "2"])
        .assert()
        .success();
    lake.cmd(["archive"])
        .env("LAKE_NOW", "2030-01-01T00:00:00Z")
        .assert()
        .success();
}

/// Bronze.customers from the first `parts` parts, one append each.
fn customer_appends(lake: &TestLake, parts: usize) {
    for part in 0..parts {
        let name = format!("customers{part}.csv");
        lake.write(&name, customers_csv(part));
        lake.cmd(["ingest", &name, "--into", "bronze.customers"])
            .assert()
            .success();
    }
}

/// A 10-version bronze dataset (an overwrite at v5, so v1–v4's files are theirs alone), three
/// promotes of its silver and gold descendants, then everything but the newest two versions
/// of each dataset archived.
fn customer_lake() -> TestLake {
    let lake = TestLake::new();
    customer_history(&lake);
    archive_all_but_the_newest_two(&lake);
    lake
}

fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            parquet_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
}

/// (rows, rows of customer 42) of one Parquet file, read whole.
fn count_file(path: &Path) -> (u64, u64) {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let (mut rows, mut matching) = (0, 0);
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows() as u64;
        if let Some(col) = batch.column_by_name("customer_id") {
            let ids = col.as_any().downcast_ref::<Int64Array>().unwrap();
            matching += ids.iter().filter(|v| *v == Some(42)).count() as u64;
        }
    }
    (rows, matching)
}

/// Rows of customer 42 in every Parquet file of both tiers, and how many files there are.
fn matching_rows_everywhere(lake: &TestLake) -> (u64, usize) {
    let mut files = Vec::new();
    for tier in ["lake-data", "lake-archive"] {
        parquet_files(&lake.path().join(tier), &mut files);
    }
    let total = files.iter().map(|f| count_file(f).1).sum();
    (total, files.len())
}

/// (rows, rows of customer 42) of a version, from its manifest in storage and the files it
/// lists, read from whichever tier holds them: not from the catalog.
fn count_version(lake: &TestLake, dataset: &str, version: u64) -> (u64, u64) {
    let (zone, name) = dataset.split_once('.').unwrap();
    let manifest = lake.path().join(format!(
        "lake-data/_lake/manifests/{zone}/{name}/v{version:06}.json"
    ));
    let m: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let (mut rows, mut matching) = (0, 0);
    for f in m["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        let hot = lake.path().join("lake-data").join(path);
        let file = if hot.exists() {
            hot
        } else {
            lake.path().join("lake-archive").join(path)
        };
        let (r, n) = count_file(&file);
        assert_eq!(
            r,
            f["rows"].as_u64().unwrap(),
            "{path} holds its manifest's rows"
        );
        rows += r;
        matching += n;
    }
    assert_eq!(rows, m["rows"].as_u64().unwrap());
    (rows, matching)
}

/// Every version of the datasets that have a customer column: (dataset, version) → state.
fn versions(lake: &TestLake) -> BTreeMap<(String, u64), String> {
    let mut out = BTreeMap::new();
    for d in [
        "bronze.customers",
        "silver.customers_clean",
        "gold.customer_value",
    ] {
        for v in lake.json(["log", d]).as_array().unwrap() {
            out.insert(
                (d.to_string(), v["version"].as_u64().unwrap()),
                v["state"].as_str().unwrap().to_string(),
            );
        }
    }
    out
}

#[test]
fn erasing_a_customer_from_every_version_of_both_tiers_leaves_every_other_row() {
    let lake = customer_lake();
    let all = versions(&lake);
    assert_eq!(
        all.len(),
        16,
        "10 bronze, 3 silver, 3 gold versions: {all:?}"
    );
    assert!(
        all.values().filter(|s| *s == "archived").count() >= 10,
        "{all:?}"
    );
    let mut cold = Vec::new();
    parquet_files(&lake.path().join("lake-archive"), &mut cold);
    assert!(
        !cold.is_empty(),
        "archived versions have files in the archive tier"
    );
    let before: BTreeMap<_, _> = all
        .keys()
        .map(|(d, v)| ((d.clone(), *v), count_version(&lake, d, *v)))
        .collect();
    let (matching, _) = matching_rows_everywhere(&lake);
    assert!(matching > 0, "customer 42 is there to erase");
    lake.cmd(["tag", "bronze.customers@v10", "release"])
        .assert()
        .success();
    lake.cmd(["pin", "gold.customer_value"]).assert().success();

    // The dry run counts per version and changes nothing.
    let dry = lake.json([
        "erase",
        "--where",
        "customer_id = 42",
        "--downstream-of",
        "bronze.customers",
        "--all-versions",
        "--dry-run",
    ]);
    let mut counted = BTreeMap::new();
    for d in dry["datasets"].as_array().unwrap() {
        for v in d["versions"].as_array().unwrap() {
            counted.insert(
                v["ref"].as_str().unwrap().to_string(),
                v["matching_rows"].as_u64().unwrap(),
            );
        }
    }
    for ((d, v), (_, n)) in &before {
        assert_eq!(counted[&format!("{d}@v{v}")], *n, "{d}@v{v}: {dry}");
    }
    assert!(
        dry["files_skipped_by_statistics"].as_u64().unwrap() > 0,
        "{dry}"
    );
    assert_eq!(
        matching_rows_everywhere(&lake).0,
        matching,
        "a dry run changes nothing"
    );
    assert_eq!(
        lake.json(["erase", "--log"])["erasures"],
        serde_json::json!([])
    );

    let report = lake.json([
        "erase",
        "--where",
        "customer_id = 42",
        "--downstream-of",
        "bronze.customers",
        "--all-versions",
    ]);
    // gold.headcount has no customer column: named, not silently passed over.
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["dataset"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["gold.headcount"], "{report}");
    assert!(
        report["pins"][0]["ref"]
            .as_str()
            .unwrap()
            .starts_with("gold.customer_value@")
    );
    assert_eq!(report["tags"][0]["by"], "release", "{report}");
    let holding = before.values().filter(|(_, n)| *n > 0).count();
    assert!(holding >= 14, "{before:?}");
    assert_eq!(report["verified_versions"], holding as u64, "{report}");

    // No file of either tier holds the customer; every version lost exactly its matches, and
    // the files of archived versions were replaced in the archive tier.
    assert_eq!(matching_rows_everywhere(&lake).0, 0);
    let mut cold_after = Vec::new();
    parquet_files(&lake.path().join("lake-archive"), &mut cold_after);
    assert_eq!(cold_after.len(), cold.len(), "{cold_after:?}");
    assert_ne!(
        cold_after, cold,
        "the cold files holding the customer were rewritten"
    );
    assert_eq!(
        versions(&lake),
        all,
        "versions keep their numbers and states"
    );
    for ((d, v), (rows, n)) in &before {
        assert_eq!(
            count_version(&lake, d, *v),
            (rows - n, 0),
            "{d}@v{v} lost exactly its {n} matching rows"
        );
        let show = lake.json(["show", &format!("{d}@v{v}")]);
        assert_eq!(show["rows"].as_u64().unwrap(), rows - n, "{show}");
    }
    let check = lake.json(["check", "--verify-hashes"]);
    assert_eq!(check["integrity_failures"], 0, "{check}");
    assert_eq!(check["problems"], serde_json::json!([]), "{check}");
    assert_eq!(
        lake.json(["gc", "--grace", "0s"])["deleted"],
        0,
        "nothing left behind"
    );

    // The ledger: old and new digests, the predicate's digest and not its text.
    let log = lake.json(["erase", "--log", "--where", "customer_id=42"]);
    let entry = &log["erasures"][0];
    assert_eq!(entry["rows"], report["rows"], "{log}");
    assert_eq!(entry["actor"], "test");
    let amended = entry["versions"].as_array().unwrap();
    assert_eq!(amended.len(), holding, "{log}");
    for v in amended {
        assert_ne!(v["old_digest"], v["new_digest"]);
        let show = lake.json(["show", v["ref"].as_str().unwrap()]);
        assert_eq!(show["digest"], v["new_digest"]);
    }
    assert_eq!(
        lake.json(["erase", "--log", "--where", "customer_id = 43"])["erasures"],
        serde_json::json!([])
    );
    let catalog = std::fs::read(lake.path().join(".lake/catalog.sqlite")).unwrap();
    let haystack = String::from_utf8_lossy(&catalog);
    assert!(!haystack.contains("customer_id = 42") && !haystack.contains("c42@example.com"));

    // The lock file pinned the old digest: verify says so (exit 3), by design.
    let out = lake.cmd(["verify"]).output().unwrap();
    let said = format!("{}{}", text(&out).0, text(&out).1);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("digest"), "{said}");

    // An archived version restored reads without the customer; the latest does now.
    lake.cmd(["restore", "bronze.customers@v2"])
        .assert()
        .success();
    let got = lake.query_csv(
        "SELECT count(*) AS n, count(CASE WHEN customer_id = 42 THEN 1 END) AS m FROM bronze.customers",
        &["bronze.customers=v2"],
    );
    let (rows, _) = before[&("bronze.customers".to_string(), 2)];
    assert_eq!(got.lines().nth(1).unwrap(), format!("{},0", rows - 1));
    let again = lake.json([
        "erase",
        "--where",
        "customer_id = 42",
        "--downstream-of",
        "bronze.customers",
        "--all-versions",
    ]);
    assert_eq!(again["rows"], 0, "{again}");
    assert_eq!(again["files_rewritten"], 0);
}

#[test]
fn erasing_from_the_latest_version_makes_a_new_version_and_says_what_older_ones_hold() {
    let lake = TestLake::new();
    customer_appends(&lake, 4);
    let report = lake.json([
        "erase",
        "--where",
        "customer_id = 42",
        "--dataset",
        "bronze.customers",
    ]);
    let d = &report["datasets"][0];
    assert_eq!(d["new_version"], "bronze.customers@v5", "{report}");
    let actions: Vec<(&str, &str)> = d["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["ref"].as_str().unwrap(), v["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("bronze.customers@v1", "none"),
            ("bronze.customers@v2", "kept"),
            ("bronze.customers@v3", "kept"),
            ("bronze.customers@v4", "replaced"),
        ]
    );
    assert_eq!(
        report["rows"], 4,
        "42 once in parts 1 and 2, twice in part 3"
    );
    assert_eq!(count_version(&lake, "bronze.customers", 5), (157, 0));
    assert_eq!(
        count_version(&lake, "bronze.customers", 4).1,
        4,
        "v4 keeps its rows"
    );
    let show = lake.json(["show", "bronze.customers@v5"]);
    assert_eq!(show["operation"], "erase");
    let lineage = lake.json(["lineage", "bronze.customers@v5"]);
    assert!(
        lineage.to_string().contains("bronze.customers@v4"),
        "{lineage}"
    );
    // Bad conditions are usage errors naming the problem; nothing is written.
    for (condition, says) in [
        ("customer_id = ", "not a SQL condition"),
        ("no_such_column = 1", "no_such_column"),
        ("customer_id + 1", "not true or false"),
    ] {
        let out = lake
            .cmd([
                "erase",
                "--where",
                condition,
                "--dataset",
                "bronze.customers",
            ])
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0), "{condition}");
        assert!(text(&out).1.contains(says), "{condition}: {}", text(&out).1);
    }
    assert_eq!(
        lake.json(["log", "bronze.customers"])
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

/// `lake erase --where customer_id = 42 --dataset bronze.customers --all-versions --json`,
/// started with `failpoint` (a wait where the race under test lands).
fn erase_of_42_waiting_at(lake: &TestLake, failpoint: &str) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("lake"))
        .current_dir(lake.path())
        .env("LAKE_FAILPOINT", failpoint)
        .args([
            "erase",
            "--where",
            "customer_id = 42",
            "--dataset",
            "bronze.customers",
            "--all-versions",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The report of an erasure that succeeded after starting its dataset over at least once.
fn started_over(erase: std::process::Child) -> Value {
    let out = erase.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["datasets"][0]["attempts"].as_u64().unwrap() >= 2,
        "{report}"
    );
    report
}

#[test]
fn an_erasure_racing_an_ingest_erases_the_ingested_rows_too() {
    let lake = TestLake::new();
    customer_appends(&lake, 3);
    lake.write("late.csv", customers_csv(3));
    // The erasure scans, then waits; an ingest of more rows of the customer commits meanwhile.
    let erase = erase_of_42_waiting_at(&lake, "erase.scanned:sleep(1500)");
    std::thread::sleep(std::time::Duration::from_millis(500));
    lake.cmd(["ingest", "late.csv", "--into", "bronze.customers"])
        .assert()
        .success();
    let report = started_over(erase);
    assert_eq!(report["rows"], 4, "{report}");
    assert_eq!(matching_rows_everywhere(&lake).0, 0);
    for v in 1..=4 {
        assert_eq!(count_version(&lake, "bronze.customers", v).1, 0);
    }
    let check = lake.json(["check", "--verify-hashes"]);
    assert_eq!(check["problems"], serde_json::json!([]), "{check}");
}

#[test]
fn an_erasure_whose_files_a_mover_moved_after_it_planned_scans_again() {
    let lake = customer_lake();
    let cold = |v: u64| {
        lake.file_paths(&format!("bronze.customers@v{v}"))
            .iter()
            .filter(|p| lake.path().join("lake-archive").join(p).exists())
            .count()
    };
    assert!(cold(2) > 0, "v2's files are in the archive tier");
    // The erasure reads where each file is, then waits; meanwhile a restore brings v2's files
    // back to the hot tier and deletes their archive copies.
    let erase = erase_of_42_waiting_at(&lake, "erase.planned:sleep(3000)");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    lake.cmd(["restore", "bronze.customers@v2"])
        .assert()
        .success();
    assert_eq!(
        cold(2),
        0,
        "the restore moved v2's files while the erasure waited"
    );
    let report = started_over(erase);
    assert!(report["rows"].as_u64().unwrap() > 0, "{report}");
    for v in 1..=10 {
        assert_eq!(count_version(&lake, "bronze.customers", v).1, 0, "v{v}");
    }
    let check = lake.json(["check", "--verify-hashes"]);
    assert_eq!(check["problems"], serde_json::json!([]), "{check}");
}

#[test]
fn an_erasure_killed_after_its_commit_is_finished_by_check_repair() {
    let lake = TestLake::new();
    customer_appends(&lake, 3);
    let out = lake
        .cmd([
            "erase",
            "--where",
            "customer_id = 42",
            "--dataset",
            "bronze.customers",
            "--all-versions",
        ])
        .env("LAKE_FAILPOINT", "erase.committed:abort")
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Committed in the catalog; the manifests, the old files and the Delta log lag behind.
    let check = lake.json(["check"]);
    let kinds: Vec<&str> = check["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"manifest_pending"), "{check}");
    assert_eq!(check["integrity_failures"], 0, "{check}");
    let repaired = lake.json(["check", "--repair"]);
    assert!(
        repaired["resumed_moves"].as_u64().unwrap() > 0,
        "{repaired}"
    );
    lake.cmd(["export", "delta", "--rebuild"])
        .assert()
        .success();
    let check = lake.json(["check", "--verify-hashes"]);
    assert_eq!(check["problems"], serde_json::json!([]), "{check}");
    assert_eq!(matching_rows_everywhere(&lake).0, 0);
    for v in 1..=3 {
        assert_eq!(count_version(&lake, "bronze.customers", v).1, 0);
    }
}

#[test]
fn a_job_that_read_a_version_an_erasure_amends_commits_nothing_and_reruns_clean() {
    let lake = TestLake::new();
    lake.write(JOBS[0].0, JOBS[0].1);
    customer_appends(&lake, 3);
    // The promote reads bronze.customers@v3 and is still writing when the erasure amends it.
    let promote = std::process::Command::new(assert_cmd::cargo::cargo_bin("lake"))
        .current_dir(lake.path())
        .env("LAKE_FAILPOINT", "promote.batch:sleep(2000)")
        .args(["promote", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    lake.cmd([
        "erase",
        "--where",
        "customer_id = 42",
        "--dataset",
        "bronze.customers",
        "--all-versions",
    ])
    .assert()
    .success();
    let out = promote.wait_with_output().unwrap();
    let said = format!("{}{}", text(&out).0, text(&out).1);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("changed by `lake erase`"), "{said}");
    assert!(lake.json(["ls"]).to_string().contains("bronze.customers"));
    assert!(
        !lake
            .datasets()
            .contains(&"silver.customers_clean".to_string())
    );
    lake.cmd(["promote"]).assert().success();
    assert_eq!(
        count_version(&lake, "silver.customers_clean", 1),
        (120 - 2, 0)
    );
    assert_eq!(lake.json(["gc", "--grace", "0s"])["deleted"], 0);
}

/// Every version of every dataset: ref → (digest, state, rows, operation, drift, tags).
fn catalog_view(lake: &TestLake) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for d in lake.datasets() {
        for v in lake.json(["log", &d]).as_array().unwrap() {
            out.insert(
                v["ref"].as_str().unwrap().to_string(),
                serde_json::json!({
                    "digest": v["digest"], "state": v["state"], "rows": v["rows"],
                    "operation": v["operation"], "mode": v["mode"], "drift": v["drift"],
                    "tags": v["tags"], "file_count": v["file_count"],
                }),
            );
        }
    }
    out
}

/// A lake with every kind of history (appends, an overwrite, promotes, a compaction, a
/// rollback, a tag, archived versions, an erasure) loses its catalog; `--rebuild-catalog`
/// gives back every version with the same digest.
pub(crate) fn catalog_rebuilt_from_storage(lake: &TestLake) {
    customer_history(lake);
    lake.cmd(["maintain", "compact", "bronze.customers"])
        .assert()
        .success();
    lake.cmd(["rollback", "gold.customer_value@v2"])
        .assert()
        .success();
    lake.cmd(["tag", "silver.customers_clean@v2", "audit-2026"])
        .assert()
        .success();
    lake.cmd([
        "annotate",
        "bronze.customers",
        "--description",
        "Customers as the shop exports them",
        "--owner",
        "data-team",
        "--label",
        "pii",
        "--column",
        "email=Contact address",
    ])
    .assert()
    .success();
    archive_all_but_the_newest_two(lake);
    lake.cmd([
        "erase",
        "--where",
        "customer_id = 42",
        "--downstream-of",
        "bronze.customers",
        "--all-versions",
    ])
    .assert()
    .success();
    let live = catalog_view(lake);
    assert!(live.len() >= 19, "{live:?}");

    // Into a new file beside the live catalog: compared, version by version.
    let into = lake.path().join("rebuilt.sqlite");
    let out = lake
        .cmd(["check", "--rebuild-catalog", "--into"])
        .arg(&into)
        .arg("--json")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["versions"], live.len() as u64, "{report}");
    assert_eq!(report["erasures"], 1, "{report}");
    assert!(
        report["lost"].as_array().unwrap().len() > 3,
        "the lost list is stated"
    );
    assert_eq!(
        report["compared"]["differences"],
        serde_json::json!([]),
        "{report}"
    );
    assert_eq!(report["compared"]["same"], live.len() as u64);
    assert_eq!(out.status.code(), Some(0));
    assert!(into.exists());
    let out = lake
        .cmd(["check", "--rebuild-catalog", "--into"])
        .arg(&into)
        .output()
        .unwrap();
    assert!(
        text(&out).1.contains("exists"),
        "a file there is never overwritten"
    );

    // The catalog gone: rebuilt where it was, then the lake works as before.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(lake.path().join(format!(".lake/catalog.sqlite{suffix}")));
    }
    lake.cmd(["check", "--rebuild-catalog"]).assert().success();
    let rebuilt = catalog_view(lake);
    assert_eq!(
        rebuilt.keys().collect::<Vec<_>>(),
        live.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        rebuilt, live,
        "every version, digest, state, drift and tag as it was"
    );
    let show = lake.json(["show", "bronze.customers"]);
    assert_eq!(
        show["meta"]["description"], "Customers as the shop exports them",
        "{show}"
    );
    assert_eq!(show["meta"]["owner"], "data-team");
    assert_eq!(show["meta"]["column_docs"][0][1], "Contact address");
    assert!(live.values().any(|v| v["state"] == "archived"));
    let check = lake.json(["check", "--verify-hashes"]);
    assert_eq!(check["problems"], serde_json::json!([]), "{check}");
    assert_eq!(lake.json(["gc", "--grace", "0s"])["deleted"], 0);
    let log = lake.json(["erase", "--log", "--where", "customer_id = 42"]);
    assert_eq!(log["erasures"].as_array().unwrap().len(), 1, "{log}");
    let got = lake.query_csv(
        "SELECT count(*) AS n FROM gold.customer_value WHERE customer_id = 42",
        &[],
    );
    assert_eq!(got, "n\n0\n");
    // Runs are lost: every job runs once more, and the lake goes on.
    lake.cmd(["promote"]).assert().success();
    lake.write("late.csv", customers_csv(10));
    lake.cmd(["ingest", "late.csv", "--into", "bronze.customers"])
        .assert()
        .success();
}

#[test]
fn a_lost_catalog_is_rebuilt_from_storage_with_every_digest() {
    catalog_rebuilt_from_storage(&TestLake::new());
}
