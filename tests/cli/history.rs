//! Repairing history: `lake rollback` through the real binary.

use serde_json::Value;

use crate::util::{TestLake, text};

/// The demo's sample lake, then two more months of orders, each promoted: gold has v1..v3.
fn three_promotes() -> TestLake {
    let lake = TestLake::new();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = repo.join("examples/data");
    let ingest = |src: &std::path::Path, into: &str, extra: &[&str]| {
        lake.cmd(["ingest", src.to_str().unwrap(), "--into", into])
            .args(extra)
            .assert()
            .success();
    };
    ingest(&data.join("customers.csv"), "bronze.customers", &[]);
    ingest(
        &data.join("orders"),
        "bronze.orders",
        &["--null-value", "NA"],
    );
    ingest(&data.join("events.ndjson"), "bronze.events", &[]);
    crate::util::copy_dir(&repo.join("examples/jobs"), &lake.path().join("jobs"));
    lake.cmd(["promote"]).assert().success();
    let february = std::fs::read_to_string(data.join("orders/orders-2026-02.csv")).unwrap();
    for month in ["03", "04"] {
        let f = lake.write(
            &format!("orders-2026-{month}.csv"),
            february.replace("2026-02-", &format!("2026-{month}-")),
        );
        ingest(&f, "bronze.orders", &["--null-value", "NA"]);
        lake.cmd(["promote"]).assert().success();
    }
    lake
}

fn files(lake: &TestLake, r: &str) -> Vec<String> {
    let show = lake.json(["show", r]);
    show["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["path"], f["sha256"]))
        .collect()
}

fn scan(lake: &TestLake, r: &str) -> Vec<String> {
    let out = lake.cmd(["scan", r]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let mut lines: Vec<String> = text(&out).0.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

fn status_of(report: &Value, job: &str) -> String {
    crate::util::statuses(report)
        .into_iter()
        .find(|(j, _)| j == job)
        .map(|(_, s)| s)
        .unwrap_or_default()
}

#[test]
fn a_rolled_back_gold_version_stands_and_downstream_jobs_rerun_on_a_rolled_back_input() {
    let lake = three_promotes();
    let gold = "gold.customer_features";
    assert_eq!(lake.json(["show", gold])["version"], 3);
    // A dry run commits nothing.
    let dry = lake.json(["rollback", &format!("{gold}@v2"), "--dry-run"]);
    assert_eq!(dry["status"], "dry_run");
    assert_eq!(lake.json(["show", gold])["version"], 3);
    // The rollback: v4 holds v2's files (nothing copied) and reads as v2 does.
    let r = lake.json(["rollback", &format!("{gold}@v2")]);
    assert_eq!(r["status"], "committed", "{r}");
    assert_eq!(r["ref"], format!("{gold}@v4"));
    assert_eq!(r["from"], format!("{gold}@v3"));
    let v4 = lake.json(["show", &format!("{gold}@v4")]);
    assert_eq!(v4["operation"], "rollback");
    assert_eq!(
        files(&lake, &format!("{gold}@v4")),
        files(&lake, &format!("{gold}@v2"))
    );
    assert_eq!(
        scan(&lake, &format!("{gold}@v4")),
        scan(&lake, &format!("{gold}@v2"))
    );
    assert_ne!(
        v4["digest"],
        lake.json(["show", &format!("{gold}@v2")])["digest"]
    );
    // Lineage and the audit trail record it.
    let lineage = lake.json(["lineage", &format!("{gold}@v4")]);
    assert!(
        lineage.to_string().contains(&format!("{gold}@v2")),
        "{lineage}"
    );
    let manifest = lake
        .cmd(["manifest", &format!("{gold}@v4")])
        .output()
        .unwrap();
    let manifest: Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(manifest["operation"]["kind"], "rollback");
    assert_eq!(manifest["operation"]["to"], 2);
    // It stands: the job's SQL and inputs are as at its last run, so promote leaves it.
    let p = lake.json(["promote"]);
    assert_eq!(status_of(&p, gold), "up_to_date", "{p}");
    assert_eq!(lake.json(["show", gold])["version"], 4);
    // Rolling back an input is a new input version: the jobs downstream of it rerun.
    lake.cmd(["rollback", "silver.orders_clean@v1"])
        .assert()
        .success();
    let p = lake.json(["promote"]);
    assert_eq!(status_of(&p, gold), "ok", "{p}");
    let v5 = lake.json(["show", gold]);
    assert_eq!(v5["version"], 5);
    assert_eq!(v5["operation"], "promote");
    // The rerun on orders@v1's clean rows is what v1 of gold was.
    assert_eq!(
        scan(&lake, &format!("{gold}@v5")),
        scan(&lake, &format!("{gold}@v1"))
    );
    // Rolling back to the latest changes nothing.
    let same = lake.json(["rollback", &format!("{gold}@v5")]);
    assert_eq!(same["status"], "unchanged");
    lake.assert_clean();
    let check = lake.json(["check"]);
    assert_eq!(check["problems"], serde_json::json!([]), "{check}");
}

#[test]
fn rollback_refuses_archived_versions_and_rows_a_stream_would_not_send_again() {
    let lake = TestLake::new();
    let a = lake.write("a.csv", "id,v\n1,10\n");
    let b = lake.write("b.csv", "id,v\n2,20\n");
    for (f, day) in [(&a, "01"), (&b, "02")] {
        lake.cmd(["ingest", f.to_str().unwrap(), "--into", "bronze.t"])
            .env("LAKE_NOW", format!("2026-01-{day}T00:00:00Z"))
            .assert()
            .success();
    }
    // Bronze: v3 holds a.csv alone again, and says b.csv is no longer held.
    let r = lake.json(["rollback", "bronze.t@v1"]);
    assert_eq!(r["status"], "committed", "{r}");
    assert!(
        r["dropped_sources"][0].as_str().unwrap().ends_with("b.csv"),
        "{r}"
    );
    assert_eq!(scan(&lake, "bronze.t"), scan(&lake, "bronze.t@v1"));
    // So ingesting b.csv again makes a version.
    let again = lake.json(["ingest", b.to_str().unwrap(), "--into", "bronze.t"]);
    assert_eq!(again["status"], "committed", "{again}");
    // An archived version: refused, with the way back.
    for (f, day) in [(&a, "01"), (&b, "02")] {
        lake.cmd([
            "ingest",
            f.to_str().unwrap(),
            "--into",
            "bronze.u",
            "--mode",
            "overwrite",
        ])
        .env("LAKE_NOW", format!("2026-01-{day}T00:00:00Z"))
        .assert()
        .success();
    }
    lake.cmd([
        "rule",
        "add",
        "--zone",
        "bronze",
        "--dataset",
        "u",
        "--archive-after",
        "1d",
    ])
    .assert()
    .success();
    lake.cmd(["archive"])
        .env("LAKE_NOW", "2026-06-01T00:00:00Z")
        .assert()
        .success();
    assert_eq!(lake.state("bronze.u@v1"), "archived");
    let out = lake.cmd(["rollback", "bronze.u@v1"]).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("archived") && stderr.contains("lake restore"),
        "{stderr}"
    );
    // A stream's rows after the version would be lost for good: refused, naming the stream.
    for batch in ["{\"id\": 1}\n", "{\"id\": 2}\n"] {
        lake.cmd([
            "ingest", "-", "--into", "bronze.s", "--format", "ndjson", "--stream", "feed",
        ])
        .write_stdin(batch)
        .assert()
        .success();
    }
    let out = lake.cmd(["rollback", "bronze.s@v1"]).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stream `feed`"), "{stderr}");
    assert_eq!(lake.json(["show", "bronze.s"])["version"], 2);
    // No version named: a usage error.
    let out = lake.cmd(["rollback", "bronze.t"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
