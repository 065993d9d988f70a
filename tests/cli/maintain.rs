//! `lake maintain compact`: small files merged, every row kept, older versions still read.

use std::io::Write;

use serde_json::Value;

use crate::util::{TestLake, orders_csv, text};

/// `n` NDJSON events from `from`, piped into bronze.events in batches of `batch` (a version
/// each).
fn stream_events(lake: &TestLake, from: usize, n: usize, batch: usize, extra: &str) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("lake"))
        .current_dir(lake.path())
        .env_remove("LAKE_DIR")
        .args([
            "ingest",
            "-",
            "--into",
            "bronze.events",
            "--format",
            "ndjson",
        ])
        .args(["--batch-rows", &batch.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let body: String = (from..from + n)
        .map(|i| format!("{{\"id\":{i},\"kind\":\"k{}\"{extra}}}\n", i % 7))
        .collect();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(body.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
}

fn versions(lake: &TestLake, dataset: &str) -> usize {
    lake.json(["log", dataset]).as_array().unwrap().len()
}

#[test]
fn compacting_200_small_appends_keeps_every_row_and_older_versions_read() {
    let lake = TestLake::new();
    // 200 small appends, left as they are.
    lake.configure("maintain", "compact_small_files", "0");
    stream_events(&lake, 0, 1000, 5, "");
    // A drifted append: a column the first 200 files do not have.
    stream_events(&lake, 1000, 3, 3, ",\"score\":0.5");
    assert_eq!(versions(&lake, "bronze.events"), 201);
    lake.cmd(["tag", "bronze.events@v100", "mid"])
        .assert()
        .success();
    lake.cmd(["pin", "bronze.events@v150"]).assert().success();
    let all = "SELECT * FROM bronze.events ORDER BY id";
    let before = lake.query_csv(all, &[]);

    let dry = lake.json(["maintain", "compact", "bronze.events", "--dry-run"]);
    assert_eq!(dry["status"], "dry_run", "{dry}");
    assert_eq!(dry["files_merged"], 201);
    assert_eq!(versions(&lake, "bronze.events"), 201);

    let r = lake.json(["maintain", "compact", "bronze.events"]);
    assert_eq!(r["status"], "committed", "{r}");
    assert_eq!(r["from"], "bronze.events@v201");
    assert_eq!(r["ref"], "bronze.events@v202");
    assert_eq!(
        (r["files_before"].as_u64(), r["files_after"].as_u64()),
        (Some(201), Some(1))
    );
    assert_eq!(r["rows"], 1003);
    // The same rows, cell by cell, in the same schema.
    assert_eq!(lake.query_csv(all, &[]), before);
    let latest = lake.json(["show", "bronze.events"]);
    let older = lake.json(["show", "bronze.events@v201"]);
    assert_eq!(latest["columns"], older["columns"]);
    assert_eq!(latest["operation"], "compact", "{latest}");
    let lineage = lake.json(["lineage", "bronze.events@v202"]);
    assert!(
        lineage.to_string().contains("bronze.events@v201"),
        "{lineage}"
    );
    // Older versions keep their files: the tag, the pin and time travel still read.
    assert_eq!(
        lake.query_csv(
            "SELECT count(*) AS n FROM bronze.events",
            &["bronze.events@mid"]
        ),
        "n\n500\n"
    );
    let scan = lake
        .cmd(["scan", "bronze.events@v150", "--format", "json"])
        .output()
        .unwrap();
    assert!(scan.status.success(), "{:?}", text(&scan));
    assert_eq!(text(&scan).0.lines().count(), 750);
    lake.cmd(["verify"]).assert().success();
    // Nothing became unreferenced, and every byte is as recorded.
    let gc = lake.json(["gc", "--grace", "0s"]);
    assert_eq!(gc["deleted"], 0, "{gc}");
    lake.cmd(["check", "--verify-hashes"]).assert().success();
    // Again: nothing small is left to merge.
    let again = lake.json(["maintain", "compact", "bronze.events"]);
    assert_eq!(again["status"], "unchanged", "{again}");
    assert_eq!(versions(&lake, "bronze.events"), 202);
}

#[test]
fn a_compacted_dataset_still_knows_its_sources_and_takes_appends() {
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 4, 50);
    lake.json(["maintain", "compact", "bronze.orders"]);
    // A source already ingested is still recognised after the compaction.
    let again = lake.json(["ingest", "part1.csv", "--into", "bronze.orders"]);
    assert_eq!(again["status"], "unchanged", "{again}");
    lake.write("more.csv", orders_csv(10, 1000));
    let more = lake.json(["ingest", "more.csv", "--into", "bronze.orders"]);
    assert_eq!(more["version_rows"], 210, "{more}");
    assert_eq!(more["version_files"], 2, "{more}");
    // Archived versions cannot be the one compacted; an unknown dataset is named.
    let out = lake
        .cmd(["maintain", "compact", "bronze.nope"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).1.contains("bronze.nope"), "{:?}", text(&out));
}

#[test]
fn a_compaction_racing_ingests_never_loses_their_rows() {
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 20, 10);
    for i in 0..8 {
        lake.write(&format!("race{i}.csv"), orders_csv(25, 10_000 + i * 25));
    }
    let compactor = {
        let dir = lake.path().to_path_buf();
        std::thread::spawn(move || {
            let mut outcomes = Vec::new();
            for _ in 0..6 {
                let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("lake"))
                    .current_dir(&dir)
                    .env_remove("LAKE_DIR")
                    .args(["maintain", "compact", "bronze.orders", "--json"])
                    .output()
                    .unwrap();
                let (stdout, stderr) = text(&out);
                if out.status.success() {
                    let r: Value = serde_json::from_str(&stdout).unwrap();
                    outcomes.push(r["status"].as_str().unwrap().to_string());
                } else {
                    assert!(stderr.contains("kept getting new versions"), "{stderr}");
                    outcomes.push("gave_up".to_string());
                }
            }
            outcomes
        })
    };
    let ingests: Vec<_> = (0..8)
        .map(|i| {
            std::thread::sleep(std::time::Duration::from_millis(15));
            lake.spawn(&["ingest", &format!("race{i}.csv"), "--into", "bronze.orders"])
        })
        .collect();
    for child in ingests {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
    }
    let outcomes = compactor.join().unwrap();
    assert!(outcomes.iter().any(|o| o == "committed"), "{outcomes:?}");
    // Every ingest's rows, once, whatever the interleaving.
    assert_eq!(
        lake.query_csv(
            "SELECT count(*) AS n, count(DISTINCT order_id) AS ids FROM bronze.orders",
            &[]
        ),
        "n,ids\n400,400\n"
    );
    lake.cmd(["check", "--verify-hashes"]).assert().success();
}

#[test]
fn lake_maintain_applies_the_policies_of_lake_toml_to_every_dataset() {
    let lake = TestLake::new();
    // Ten small appends to one dataset, three to another, one to a third.
    for (dataset, n) in [("bronze.many", 10), ("bronze.few", 3), ("bronze.one", 1)] {
        for i in 0..n {
            let f = lake.write(&format!("{dataset}-{i}.csv"), orders_csv(20, i * 100));
            lake.cmd(["ingest", f.to_str().unwrap(), "--into", dataset])
                .assert()
                .success();
        }
    }
    let rows = |d: &str| lake.json(["show", d])["rows"].as_u64().unwrap();
    let before = (rows("bronze.many"), rows("bronze.few"));
    // The default policy (64 small files) finds nothing due.
    let out = lake.json(["maintain"]);
    assert_eq!(out["datasets"], serde_json::json!([]), "{out}");
    // Eight small files, or three appends since the last compaction: both policies.
    lake.configure("maintain", "compact_small_files", "8");
    lake.configure("maintain", "compact_after_appends", "3");
    let dry = lake.json(["maintain", "--dry-run"]);
    let due: Vec<&str> = dry["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dataset"].as_str().unwrap())
        .collect();
    assert_eq!(due, ["bronze.few", "bronze.many"], "{dry}");
    assert_eq!(
        versions(&lake, "bronze.many"),
        10,
        "a dry run writes nothing"
    );
    let out = lake.json(["maintain"]);
    let acted = out["datasets"].as_array().unwrap();
    assert_eq!(acted.len(), 2, "{out}");
    assert!(
        acted[1]["why"].as_str().unwrap().contains("10 small files"),
        "{out}"
    );
    assert!(
        acted[0]["why"].as_str().unwrap().contains("3 appends"),
        "{out}"
    );
    for d in ["bronze.many", "bronze.few"] {
        let show = lake.json(["show", d]);
        assert_eq!(show["operation"], "compact", "{d}");
        assert_eq!(show["file_count"], 1, "{d}");
    }
    assert_eq!((rows("bronze.many"), rows("bronze.few")), before);
    // Compacted, nothing is due again until more appends come.
    let again = lake.json(["maintain"]);
    assert_eq!(again["datasets"], serde_json::json!([]), "{again}");
    assert_eq!(versions(&lake, "bronze.one"), 1);
    lake.assert_clean();
    // `lake maintain compact` still works beside it.
    lake.cmd(["maintain", "compact", "bronze.one", "--dry-run"])
        .assert()
        .success();
}
