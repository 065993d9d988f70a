//! Trust under concurrency and faults: real `lake` processes side by side, stopped at failpoints
//! (`LAKE_FAILPOINT`), killed, and given broken storage. After each, every committed version
//! reads back whole and `lake check --verify-hashes` is clean.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{TestLake, orders_csv, text};

/// The clock lifecycle commands run at: every version made on 2026-01-0N is old by then.
const LATER: &str = "2026-03-01T00:00:00Z";

impl TestLake {
    /// `lake ARGS…` in the background with extra environment.
    pub fn spawn_with(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("lake"));
        cmd.current_dir(self.path())
            .env_remove("LAKE_DIR")
            .env_remove("LAKE_FAILPOINT")
            .env("NO_COLOR", "1")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("lake starts")
    }

    /// `lake ARGS…` to the end with extra environment.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.spawn_with(args, env).wait_with_output().unwrap()
    }

    /// `lake check --verify-hashes --json`, asserting it found nothing wrong at all.
    pub fn assert_clean(&self) -> Value {
        let out = self.run_with(&["check", "--verify-hashes", "--json"], &[]);
        let (stdout, stderr) = text(&out);
        let report: Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|_| panic!("check printed no JSON: {stdout} {stderr}"));
        assert_eq!(out.status.code(), Some(0), "{report:#}");
        assert_eq!(report["problems"], serde_json::json!([]), "{report:#}");
        report
    }

    /// Rows in `r` counted through SQL (so a missing file fails instead of counting short).
    pub fn count(&self, dataset: &str, at: Option<&str>) -> u64 {
        let sql = format!("SELECT count(*) AS n FROM {dataset}");
        let mut args = vec!["query", sql.as_str(), "--format", "csv"];
        let pin;
        if let Some(a) = at {
            pin = format!("{dataset}={a}");
            args.extend(["--at", pin.as_str()]);
        }
        let out = self.run_with(&args, &[]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        stdout.lines().nth(1).unwrap().trim().parse().unwrap()
    }
}

/// Wait (bounded) until `done` holds; a guard against hangs, not a timing assertion.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn finished(child: Child) -> (Option<i32>, String, String) {
    let out = child.wait_with_output().unwrap();
    let (o, e) = text(&out);
    (out.status.code(), o, e)
}

/// bronze.orders v1..v4 made on Jan 1..4 by overwrites, and a rule that archives all but the
/// newest after a day.
fn aged_lake() -> TestLake {
    let lake = TestLake::new();
    for day in 1..=4 {
        lake.ingest_on_day("bronze.orders", day, 2000);
    }
    lake.cmd(["rule", "add", "--archive-after", "1d"])
        .assert()
        .success();
    lake
}

fn state(lake: &TestLake, r: &str) -> String {
    lake.json(["show", r])["state"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn archive_during_a_restore_keeps_the_restored_files() {
    let lake = aged_lake();
    lake.run_with(&["archive"], &[("LAKE_NOW", LATER)]);
    assert_eq!(state(&lake, "bronze.orders@v1"), "archived");
    let key = lake.file_paths("bronze.orders@v1")[0].clone();
    let hot = lake.path().join("lake-data").join(&key);

    // The restore stops after copying back; an archive of every dataset runs meanwhile.
    let restore = lake.spawn_with(
        &["restore", "bronze.orders@v1"],
        &[("LAKE_FAILPOINT", "restore.copied:sleep(1500)")],
    );
    wait_until("the restored copy", || hot.exists());
    let out = lake.run_with(&["archive", "--json"], &[("LAKE_NOW", LATER)]);
    assert!(out.status.success(), "{}", text(&out).1);
    let (code, _, err) = finished(restore);
    assert_eq!(code, Some(0), "{err}");

    assert_eq!(state(&lake, "bronze.orders@v1"), "active");
    assert!(hot.exists(), "the restored file is in the hot tier");
    assert_eq!(lake.count("bronze.orders", Some("v1")), 2000);
    lake.assert_clean();
}

#[test]
fn check_repair_during_an_archive_leaves_the_copy_in_transit() {
    let lake = aged_lake();
    let keys = lake.file_paths("bronze.orders@v1");
    let cold = lake.path().join("lake-archive").join(&keys[0]);
    let archive = lake.spawn_with(
        &["archive"],
        &[
            ("LAKE_NOW", LATER),
            ("LAKE_FAILPOINT", "move.copied:sleep(1500)"),
        ],
    );
    wait_until("the archive copy", || cold.exists());
    let out = lake.run_with(&["check", "--repair", "--json"], &[]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["moves_in_progress"].as_u64().unwrap() >= 1,
        "{report:#}"
    );
    assert!(cold.exists(), "repair left the mover's copy alone");
    let (code, _, err) = finished(archive);
    assert_eq!(code, Some(0), "{err}");
    for v in 1..=3 {
        assert_eq!(state(&lake, &format!("bronze.orders@v{v}")), "archived");
    }
    lake.assert_clean();
    lake.cmd(["restore", "bronze.orders@v1"]).assert().success();
    assert_eq!(lake.count("bronze.orders", Some("v1")), 2000);
}

#[test]
fn gc_never_collects_a_write_in_flight() {
    let lake = TestLake::new();
    lake.write("orders.csv", orders_csv(5000, 0));
    let data = lake.path().join("lake-data/bronze/orders/data");
    // The ingest stops with its files written and its commit not yet made.
    let ingest = lake.spawn_with(
        &["ingest", "orders.csv", "--into", "bronze.orders", "--json"],
        &[("LAKE_FAILPOINT", "write.encoded:sleep(2000)")],
    );
    wait_until("the ingest's data file", || !files_under(&data).is_empty());
    for env in [vec![], vec![("LAKE_NOW", "2030-01-01T00:00:00Z")]] {
        let mut args = vec!["gc", "--json"];
        if env.is_empty() {
            args.extend(["--grace", "0s"]);
        }
        let out = lake.run_with(&args, &env);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["deleted"], 0, "{report:#}");
        assert_eq!(report["writes_in_flight"], 1, "{report:#}");
        assert!(
            report["orphans"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["why"] == "in_flight"),
            "{report:#}"
        );
    }
    let (code, out, err) = finished(ingest);
    assert_eq!(code, Some(0), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["version"], 1);
    assert_eq!(lake.count("bronze.orders", None), 5000);
    lake.assert_clean();
}

#[test]
fn a_commit_whose_files_vanished_commits_nothing() {
    let lake = TestLake::new();
    lake.write("orders.csv", orders_csv(5000, 0));
    let data = lake.path().join("lake-data/bronze/orders/data");
    let ingest = lake.spawn_with(
        &["ingest", "orders.csv", "--into", "bronze.orders"],
        &[("LAKE_FAILPOINT", "write.encoded:sleep(1500)")],
    );
    wait_until("the ingest's data file", || !files_under(&data).is_empty());
    for f in files_under(&data) {
        std::fs::remove_file(f).unwrap();
    }
    let (code, _, err) = finished(ingest);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("is gone"), "{err}");
    assert!(lake.datasets().is_empty(), "no version was committed");
    lake.assert_clean();
}

#[test]
fn reads_of_a_version_with_a_missing_or_altered_file_fail() {
    let lake = TestLake::new();
    for i in 0..4 {
        let name = format!("part{i}.csv");
        lake.write(&name, orders_csv(1000, i * 1000));
        lake.cmd(["ingest", &name, "--into", "bronze.orders"])
            .assert()
            .success();
    }
    assert_eq!(lake.count("bronze.orders", None), 4000);
    let keys = lake.file_paths("bronze.orders");
    assert_eq!(keys.len(), 4);
    let victim = lake.path().join("lake-data").join(&keys[1]);
    let bytes = std::fs::read(&victim).unwrap();

    // A bit flipped inside the file: the same size, other bytes.
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x10;
    std::fs::write(&victim, &flipped).unwrap();
    let out = lake.run_with(
        &["query", "SELECT count(*) FROM bronze.orders", "--verify"],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out).1);
    assert!(text(&out).1.contains(&keys[1]), "{}", text(&out).1);

    // Gone: every reader refuses, naming the version and the key, rather than count short.
    std::fs::remove_file(&victim).unwrap();
    let out = lake.run_with(&["query", "SELECT count(*) FROM bronze.orders"], &[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("bronze.orders@v4") && err.contains(&keys[1]),
        "{err}"
    );
    lake.write("jobs/silver/orders.sql", "SELECT * FROM bronze.orders");
    let out = lake.run_with(&["promote", "--json"], &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        lake.json(["ls"]).as_array().unwrap().len() == 1,
        "no silver version from partial input"
    );

    // A failed `-o FILE` leaves no file behind.
    let out = lake.run_with(
        &[
            "query",
            "SELECT * FROM bronze.orders",
            "--format",
            "csv",
            "-o",
            "out.csv",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(!lake.path().join("out.csv").exists());
    assert!(
        !std::fs::read_dir(lake.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("partial")),
        "no temporary file either"
    );
}

#[test]
fn promote_refuses_corrupt_inputs() {
    let lake = TestLake::new();
    lake.write("orders.csv", orders_csv(3000, 0));
    lake.cmd(["ingest", "orders.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    let key = lake.file_paths("bronze.orders")[0].clone();
    let path = lake.path().join("lake-data").join(&key);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    lake.write("jobs/silver/orders.sql", "SELECT * FROM bronze.orders");
    let out = lake.run_with(&["promote", "--json"], &[]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["failed"], 1, "{report:#}");
    let error = report["jobs"][0]["error"].as_str().unwrap();
    assert!(error.contains("sha256") && error.contains(&key), "{error}");
}

#[test]
fn overlapping_tiers_are_refused() {
    for archive in ["lake-data", "lake-data/cold", "."] {
        let lake = TestLake::empty();
        let out = lake.run_with(&["init", "--archive", archive], &[]);
        assert_eq!(out.status.code(), Some(2), "{archive}: {}", text(&out).1);
        assert!(text(&out).1.contains("overlaps"), "{}", text(&out).1);
        assert!(!lake.path().join("lake.toml").exists());
    }
    // A lake.toml edited to overlap is refused when opened, before anything moves.
    let lake = TestLake::new();
    lake.configure("lake", "archive", "\"lake-data/cold\"");
    let out = lake.run_with(&["archive"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
}

#[test]
fn concurrent_ingests_of_one_file_make_one_version() {
    let lake = TestLake::new();
    lake.write("orders.csv", orders_csv(20_000, 0));
    // A widened window: every ingest has written its files before any commits.
    let children: Vec<Child> = (0..4)
        .map(|_| {
            lake.spawn_with(
                &["ingest", "orders.csv", "--into", "bronze.orders", "--json"],
                &[("LAKE_FAILPOINT", "write.encoded:sleep(500)")],
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for child in children {
        let (code, out, err) = finished(child);
        assert_eq!(code, Some(0), "{err}");
        let r: Value = serde_json::from_str(&out).unwrap();
        statuses.push(r["status"].as_str().unwrap().to_string());
    }
    statuses.sort();
    assert_eq!(
        statuses,
        ["committed", "unchanged", "unchanged", "unchanged"]
    );
    assert_eq!(
        lake.json(["log", "bronze.orders"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(lake.count("bronze.orders", None), 20_000);
    let data = lake.path().join("lake-data/bronze/orders/data");
    assert_eq!(
        files_under(&data).len(),
        1,
        "the losers removed their files"
    );
    lake.assert_clean();
}

#[test]
fn a_version_tagged_while_an_archive_runs_stays() {
    let lake = aged_lake();
    let archive = lake.spawn_with(
        &["archive", "--json"],
        &[
            ("LAKE_NOW", LATER),
            ("LAKE_FAILPOINT", "move.copied:sleep(1500)"),
        ],
    );
    let cold = lake
        .path()
        .join("lake-archive")
        .join(&lake.file_paths("bronze.orders@v1")[0]);
    wait_until("the archive copy", || cold.exists());
    lake.cmd(["tag", "bronze.orders@v1", "keep"])
        .assert()
        .success();
    let (code, out, err) = finished(archive);
    assert_eq!(code, Some(0), "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let mut archived: Vec<&str> = report["archived"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ref"].as_str().unwrap())
        .collect();
    archived.sort();
    assert_eq!(archived, ["bronze.orders@v2", "bronze.orders@v3"]);
    assert_eq!(state(&lake, "bronze.orders@v1"), "active");
    assert!(!cold.exists(), "its archive copy was taken back");
    assert_eq!(lake.count("bronze.orders", Some("keep")), 2000);
    lake.assert_clean();
}

#[test]
fn expiry_never_takes_a_version_a_restore_brings_back() {
    let lake = TestLake::new();
    for day in 1..=3 {
        lake.ingest_on_day("bronze.orders", day, 1000);
    }
    lake.cmd([
        "rule",
        "add",
        "--archive-after",
        "1d",
        "--expire-after",
        "2d",
    ])
    .assert()
    .success();
    lake.run_with(&["archive"], &[("LAKE_NOW", "2026-01-10T00:00:00Z")]);
    assert_eq!(state(&lake, "bronze.orders@v1"), "archived");
    let hot = lake
        .path()
        .join("lake-data")
        .join(&lake.file_paths("bronze.orders@v1")[0]);
    let restore = lake.spawn_with(
        &["restore", "bronze.orders@v1"],
        &[("LAKE_FAILPOINT", "restore.copied:sleep(1500)")],
    );
    wait_until("the restored copy", || hot.exists());
    let out = lake.run_with(&["archive", "--json"], &[("LAKE_NOW", LATER)]);
    assert!(out.status.success(), "{}", text(&out).1);
    let (code, _, err) = finished(restore);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(state(&lake, "bronze.orders@v1"), "active");
    assert_eq!(lake.count("bronze.orders", Some("v1")), 1000);
    assert_eq!(state(&lake, "bronze.orders@v2"), "expired");
    lake.assert_clean();
}

#[test]
fn pinned_versions_are_held_and_verify_says_when_they_cannot_be_read() {
    let lake = aged_lake();
    lake.cmd(["pin", "bronze.orders@v1"]).assert().success();
    let show = lake.json(["show", "bronze.orders@v1"]);
    assert_eq!(show["holds"].as_array().unwrap().len(), 1, "{show:#}");
    let out = lake.run_with(&["archive", "--json"], &[("LAKE_NOW", LATER)]);
    assert!(out.status.success());
    assert_eq!(
        state(&lake, "bronze.orders@v1"),
        "active",
        "the pin holds it"
    );
    assert_eq!(state(&lake, "bronze.orders@v2"), "archived");

    // Re-pinning moves the hold; an archived pinned version is not readable, and verify says so.
    lake.cmd(["pin", "bronze.orders@v2"]).assert().success();
    assert!(
        lake.json(["show", "bronze.orders@v1"])["holds"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let out = lake.run_with(&["verify"], &[]);
    let (said, err) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}{err}");
    assert!(said.contains("lake restore bronze.orders@v2"), "{said}");
}

#[test]
fn crash_leftovers_are_seen_and_collected() {
    let lake = TestLake::new();
    lake.write("orders.csv", orders_csv(5000, 0));
    // Killed with its files written and nothing committed.
    let out = lake.run_with(
        &["ingest", "orders.csv", "--into", "bronze.orders"],
        &[("LAKE_FAILPOINT", "write.encoded:abort")],
    );
    assert!(!out.status.success());
    // A partial file of a local upload that never completed, as a crash mid-upload leaves.
    let staging = lake
        .path()
        .join("lake-data/bronze/orders/data/0000dead-00000.parquet#1");
    std::fs::write(&staging, b"PAR1 partial").unwrap();

    let out = lake.run_with(&["check", "--json"], &[]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["dead_write"], "{report:#}");
    assert_eq!(report["debris"], 1, "{report:#}");
    assert_eq!(report["orphans"], 2, "{report:#}");

    let gc: Value = lake.json(["gc", "--grace", "0s"]);
    assert_eq!(gc["deleted"], 2, "{gc:#}");
    assert_eq!(gc["dead_writes_closed"], 1, "{gc:#}");
    assert!(!staging.exists());
    lake.assert_clean();

    // The rerun commits once.
    let r = lake.json(["ingest", "orders.csv", "--into", "bronze.orders"]);
    assert_eq!(r["version"], 1);
    assert_eq!(lake.count("bronze.orders", None), 5000);
}
