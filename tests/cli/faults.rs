//! Trust under concurrency and faults: real `lake` processes side by side, stopped at failpoints
//! (`LAKE_FAILPOINT`), killed, and given broken storage. After each, every committed version
//! reads back whole and `lake check --verify-hashes` is clean.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{TestLake, orders_csv, text};

/// The clock lifecycle commands run at: every version made on 2026-01-0N is old by then.
pub(crate) const LATER: &str = "2026-03-01T00:00:00Z";

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

    /// Rows in `dataset` (at `at`) counted through SQL, so a missing file fails instead of
    /// counting short.
    pub fn count(&self, dataset: &str, at: Option<&str>) -> u64 {
        let sql = format!("SELECT count(*) AS n FROM {dataset}");
        let pin = at.map(|a| format!("{dataset}={a}"));
        let at: Vec<&str> = pin.iter().map(String::as_str).collect();
        self.query_csv(&sql, &at)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

/// Wait (bounded) until `done` holds; a guard against hangs, not a timing assertion.
pub(crate) fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
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

pub(crate) fn finished(child: Child) -> (Option<i32>, String, String) {
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

#[test]
fn archive_during_a_restore_keeps_the_restored_files() {
    let lake = aged_lake();
    lake.run_with(&["archive"], &[("LAKE_NOW", LATER)]);
    assert_eq!(lake.state("bronze.orders@v1"), "archived");
    archive_during_a_restore_of_v1(&lake);
    assert_eq!(lake.state("bronze.orders@v1"), "active");
    assert_eq!(lake.count("bronze.orders", Some("v1")), 2000);
    lake.assert_clean();
}

/// `lake restore bronze.orders@v1`, stopped after its copy while a whole `lake archive` runs
/// beside it; both must succeed. Its lease is seen through `lake check`, so this works on any root.
pub(crate) fn archive_during_a_restore_of_v1(lake: &TestLake) {
    let restore = lake.spawn_with(
        &["restore", "bronze.orders@v1"],
        &[("LAKE_FAILPOINT", "restore.copied:sleep(1500)")],
    );
    wait_until("the restore's lease", || {
        lake.json(["check"])["moves_in_progress"]
            .as_u64()
            .is_some_and(|n| n > 0)
    });
    let out = lake.run_with(&["archive", "--json"], &[("LAKE_NOW", LATER)]);
    assert!(out.status.success(), "{}", text(&out).1);
    let (code, _, err) = finished(restore);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_read_of_a_version_archived_under_it_says_archived_not_missing() {
    // The query resolves v1 while it is active, then waits; the archive moves v1's files to the
    // cold tier meanwhile. The query finds them gone from the hot tier: that is an archive, not
    // lost data, and it says so (exit 1 and the restore hint, not exit 3 and "missing").
    let lake = aged_lake();
    let query = lake.spawn_with(
        &[
            "query",
            "SELECT count(*) AS n FROM bronze.orders",
            "--at",
            "bronze.orders=v1",
        ],
        &[("LAKE_FAILPOINT", "read.resolved:sleep(2000)")],
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = lake.run_with(&["archive"], &[("LAKE_NOW", LATER)]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(lake.state("bronze.orders@v1"), "archived");
    let (code, _, err) = finished(query);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("bronze.orders@v1` is archived") && err.contains("lake restore"),
        "{err}"
    );
    assert!(!err.contains("missing"), "{err}");
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
        assert_eq!(lake.state(&format!("bronze.orders@v{v}")), "archived");
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
    lake.ingest_orders("bronze.orders", 4, 1000);
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
    one_file_ingested_four_times_at_once(&lake);
    let data = lake.path().join("lake-data/bronze/orders/data");
    assert_eq!(
        files_under(&data).len(),
        1,
        "the losers removed their files"
    );
}

/// Four ingests of one file at once, as a retried cron job: one version, the rest unchanged.
pub(crate) fn one_file_ingested_four_times_at_once(lake: &TestLake) {
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
    let report = lake.assert_clean();
    let left = lake.json(["gc", "--dry-run"]);
    assert_eq!(
        report["orphans"], 0,
        "the losers removed their files: {left:#}"
    );
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
    assert_eq!(lake.state("bronze.orders@v1"), "active");
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
    assert_eq!(lake.state("bronze.orders@v1"), "archived");
    archive_during_a_restore_of_v1(&lake);
    assert_eq!(lake.state("bronze.orders@v1"), "active");
    assert_eq!(lake.count("bronze.orders", Some("v1")), 1000);
    assert_eq!(lake.state("bronze.orders@v2"), "expired");
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
    assert_eq!(lake.state("bronze.orders@v1"), "active", "the pin holds it");
    assert_eq!(lake.state("bronze.orders@v2"), "archived");

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

/// Rows each fresh ingest of the kill tests carries.
const ROWS: u64 = 3000;

/// After a crash and a rerun: gc takes the debris, and nothing is left to find.
fn assert_recovered(lake: &TestLake) {
    let gc = lake.json(["gc", "--grace", "0s"]);
    assert_eq!(gc["writes_in_flight"], 0, "{gc:#}");
    let report = lake.assert_clean();
    assert_eq!(report["orphans"], 0, "{report:#}");
    assert_eq!(report["debris"], 0, "{report:#}");
}

/// Kill `args` at `point`, expect it to die there, rerun it whole, then check.
fn kill_at(lake: &TestLake, args: &[&str], point: &str, env: &[(&str, &str)]) {
    let spec = format!("{point}:abort");
    let mut with = env.to_vec();
    with.push(("LAKE_FAILPOINT", &spec));
    let out = lake.run_with(args, &with);
    assert!(
        !out.status.success(),
        "{args:?} passed {point} without stopping: {}",
        text(&out).1
    );
    let out = lake.run_with(args, env);
    assert!(
        out.status.success(),
        "rerun of {args:?} after {point}: {}",
        text(&out).1
    );
    assert_recovered(lake);
}

#[test]
fn an_ingest_killed_at_any_step_commits_exactly_once_on_rerun() {
    for point in [
        "write.registered",
        "write.file_done",
        "write.encoded",
        "commit.before_manifest",
        "commit.after_manifest",
        "commit.before_catalog",
        "commit.after_catalog",
    ] {
        let lake = TestLake::new();
        lake.write("orders.csv", orders_csv(ROWS as usize, 0));
        kill_at(
            &lake,
            &["ingest", "orders.csv", "--into", "bronze.orders"],
            point,
            &[],
        );
        let log = lake.json(["log", "bronze.orders"]);
        assert_eq!(log.as_array().unwrap().len(), 1, "{point}: {log:#}");
        assert_eq!(lake.count("bronze.orders", None), ROWS, "{point}");
    }
}

#[test]
fn a_promote_killed_at_any_step_commits_exactly_once_on_rerun() {
    for point in [
        "write.registered",
        "write.encoded",
        "commit.after_manifest",
        "commit.before_catalog",
        "commit.after_catalog",
    ] {
        let lake = TestLake::new();
        lake.write("orders.csv", orders_csv(ROWS as usize, 0));
        lake.cmd(["ingest", "orders.csv", "--into", "bronze.orders"])
            .assert()
            .success();
        lake.write(
            "jobs/silver/paid.sql",
            "SELECT order_id, amount FROM bronze.orders WHERE paid",
        );
        kill_at(&lake, &["promote"], point, &[]);
        let log = lake.json(["log", "silver.paid"]);
        assert_eq!(log.as_array().unwrap().len(), 1, "{point}: {log:#}");
        assert_eq!(lake.count("silver.paid", None), ROWS / 3, "{point}");
    }
}

#[test]
fn an_archive_or_restore_killed_at_any_step_finishes_on_rerun() {
    let later = [("LAKE_NOW", LATER)];
    for point in [
        "move.claimed",
        "move.copied",
        "move.flipped",
        "move.source_deleted",
    ] {
        let lake = aged_lake();
        kill_at(&lake, &["archive"], point, &later);
        for v in 1..=3 {
            assert_eq!(
                lake.state(&format!("bronze.orders@v{v}")),
                "archived",
                "{point}"
            );
        }
        assert_eq!(lake.count("bronze.orders", None), 2000);
    }
    for point in [
        "move.claimed",
        "restore.copied",
        "restore.flipped",
        "move.flipped",
        "move.source_deleted",
    ] {
        let lake = aged_lake();
        lake.run_with(&["archive"], &later);
        kill_at(&lake, &["restore", "bronze.orders@v2"], point, &[]);
        assert_eq!(lake.state("bronze.orders@v2"), "active", "{point}");
        assert_eq!(lake.count("bronze.orders", Some("v2")), 2000, "{point}");
    }
}

#[test]
fn gc_and_repair_killed_at_any_step_lose_nothing() {
    for point in ["gc.listed", "gc.deleting"] {
        let lake = aged_lake();
        let debris = lake.write("lake-data/bronze/orders/data/crashed-00000.parquet", "x");
        std::fs::File::options()
            .write(true)
            .open(&debris)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - Duration::from_secs(7200))
            .unwrap();
        kill_at(&lake, &["gc"], point, &[]);
        assert!(!debris.exists(), "{point}");
        for v in 1..=4 {
            assert_eq!(lake.count("bronze.orders", Some(&format!("v{v}"))), 2000);
        }
    }
    // A hot file lost, its copy in the archive tier: repair brings it back, even after a kill.
    let lake = aged_lake();
    let key = lake.file_paths("bronze.orders@v4")[0].clone();
    let hot = lake.path().join("lake-data").join(&key);
    let cold = lake.path().join("lake-archive").join(&key);
    std::fs::create_dir_all(cold.parent().unwrap()).unwrap();
    std::fs::rename(&hot, &cold).unwrap();
    kill_at(&lake, &["check", "--repair"], "repair.copied", &[]);
    assert!(hot.exists() && !cold.exists());
    assert_eq!(lake.count("bronze.orders", None), 2000);
}

/// The mutating commands the race and kill suites run, by name. `round` makes each ingest new.
fn command(name: &str, round: usize) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect();
    match name {
        "ingest" => vec![
            "ingest".into(),
            format!("new{round}.csv"),
            "--into".into(),
            "bronze.orders".into(),
        ],
        "promote" => s(&["promote"]),
        "archive" => s(&["archive"]),
        "restore" => s(&["restore", "bronze.orders@v1"]),
        "gc" => s(&["gc", "--grace", "0s"]),
        "repair" => s(&["check", "--repair"]),
        "erase" => vec![
            "erase".into(),
            "--where".into(),
            format!("order_id % 50 = {round}"),
            "--dataset".into(),
            "bronze.orders".into(),
            "--all-versions".into(),
        ],
        "tag" if round.is_multiple_of(2) => s(&["tag", "bronze.orders@v2", "keep"]),
        "tag" => s(&["tag", "-d", "bronze.orders", "keep"]),
        other => panic!("no command {other}"),
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

const MUTATING: [&str; 8] = [
    "ingest", "promote", "archive", "restore", "gc", "repair", "tag", "erase",
];

/// A lake where every mutating command has work: aged versions, a rule that archives after a
/// day and expires after 40, an archived v1, a job, and source files for new ingests.
fn busy_lake(rounds: usize) -> TestLake {
    let lake = TestLake::new();
    for day in 1..=4 {
        lake.ingest_on_day("bronze.orders", day, 1000);
    }
    lake.cmd([
        "rule",
        "add",
        "--archive-after",
        "1d",
        "--keep-last",
        "2",
        "--expire-after",
        "40d",
    ])
    .assert()
    .success();
    lake.write(
        "jobs/silver/paid.sql",
        "SELECT order_id, amount FROM bronze.orders WHERE paid",
    );
    lake.run_with(&["archive"], &[("LAKE_NOW", LATER)]);
    for r in 0..rounds {
        lake.write(&format!("new{r}.csv"), orders_csv(500, 100_000 + r * 500));
    }
    lake
}

/// Exit codes a command may end with beside another: done, or refused with a message.
fn ended_cleanly(name: &str, out: &Output) {
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{name} crashed ({:?}): {}",
        out.status,
        text(out).1
    );
}

/// The invariants of issue 10, after any mix of commands, crashes and reruns.
pub(crate) fn assert_invariants(lake: &TestLake, context: &str) {
    for d in lake.json(["ls"]).as_array().unwrap() {
        let name = d["dataset"].as_str().unwrap();
        let log = lake.json(["log", name]);
        let mut numbers: Vec<u64> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect();
        numbers.sort();
        let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
        assert_eq!(
            numbers, expected,
            "{context}: {name} numbers are contiguous"
        );
        for v in log.as_array().unwrap() {
            if v["state"] != "active" {
                continue;
            }
            let at = format!("v{}", v["version"]);
            let sql = format!("SELECT count(*) AS n FROM {name}");
            let pin = format!("{name}={at}");
            let out = lake.run_with(
                &["query", &sql, "--at", &pin, "--format", "csv", "--verify"],
                &[],
            );
            let (stdout, stderr) = text(&out);
            assert!(out.status.success(), "{context}: {name}@{at}: {stderr}");
            let n: u64 = stdout.lines().nth(1).unwrap().trim().parse().unwrap();
            assert_eq!(n, v["rows"].as_u64().unwrap(), "{context}: {name}@{at}");
        }
    }
    let report = lake.run_with(&["check", "--verify-hashes", "--json"], &[]);
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(
        report["problems"],
        serde_json::json!([]),
        "{context}: {report:#}"
    );
    let catalog = rusqlite::Connection::open(lake.path().join(".lake/catalog.sqlite")).unwrap();
    let ok: String = catalog
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok", "{context}");
}

#[test]
fn every_pair_of_mutating_commands_runs_side_by_side_safely() {
    // Each command's own window is widened, so the other lands inside it.
    let widen = "write.encoded:sleep(150),move.copied:sleep(150),restore.copied:sleep(150),gc.listed:sleep(150),commit.after_manifest:sleep(50),erase.planned:sleep(150),erase.scanned:sleep(150)";
    let mut pairs = 0;
    for (i, a) in MUTATING.iter().enumerate() {
        let lake = busy_lake(2 * MUTATING.len());
        let mut round = 0;
        for b in &MUTATING[i..] {
            let (ca, cb) = (command(a, round), command(b, round + 1));
            round += 2;
            let env = [("LAKE_NOW", LATER), ("LAKE_FAILPOINT", widen)];
            let first = lake.spawn_with(&strs(&ca), &env);
            let second = lake.spawn_with(&strs(&cb), &[("LAKE_NOW", LATER)]);
            ended_cleanly(a, &first.wait_with_output().unwrap());
            ended_cleanly(b, &second.wait_with_output().unwrap());
            pairs += 1;
            assert_invariants(&lake, &format!("{a} beside {b}"));
        }
    }
    eprintln!("races: {pairs} pairs of mutating commands, invariants held after each");
}

#[test]
fn eight_writers_and_a_gc_loop_into_one_dataset() {
    eight_writers_beside_gc(&TestLake::new());
}

/// Eight concurrent ingests into one dataset while gc runs in a loop: v1..v8, every row there.
pub(crate) fn eight_writers_beside_gc(lake: &TestLake) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gc = {
        let stop = stop.clone();
        let dir = lake.path().to_path_buf();
        std::thread::spawn(move || {
            let mut runs = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let out = Command::new(assert_cmd::cargo::cargo_bin("lake"))
                    .current_dir(&dir)
                    .args(["gc", "--grace", "0s"])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                runs += 1;
            }
            runs
        })
    };
    let versions = lake.concurrent_ingests(8, 4000);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let gc_runs = gc.join().unwrap();
    assert_eq!(versions, (1..=8).collect::<Vec<u64>>());
    assert_eq!(lake.count("bronze.orders", None), 8 * 4000);
    assert_invariants(lake, "eight writers");
    eprintln!("eight writers beside {gc_runs} gc runs");
}

/// A small deterministic generator for kill delays (SplitMix64), seeded by LAKE_TEST_SEED.
struct Delays(u64);

impl Delays {
    fn from_env() -> (Delays, u64) {
        let seed = std::env::var("LAKE_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        (Delays(seed), seed)
    }

    fn below(&mut self, max: Duration) -> Duration {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Duration::from_micros(z % (max.as_micros() as u64).max(1))
    }
}

#[test]
fn random_kills_of_every_mutating_command_leave_nothing_check_calls_dirty() {
    let per_command: usize = if std::env::var("LAKE_SOAK").is_ok_and(|v| v == "1") {
        500
    } else {
        50
    };
    let (mut delays, seed) = Delays::from_env();
    eprintln!("random kills: LAKE_TEST_SEED={seed} replays this run");
    let mut totals = (0, 0, 0);
    let attempts = 8 * per_command;
    for name in MUTATING {
        let lake = busy_lake(attempts + 1);
        // How long one uninterrupted run takes: kills land uniformly within it.
        let started = Instant::now();
        let out = lake.run_with(&strs(&command(name, 0)), &[("LAKE_NOW", LATER)]);
        ended_cleanly(name, &out);
        // Narrowed whenever a run finishes before its kill (a busy machine runs slower at first).
        let mut span = started.elapsed();
        let (mut killed, mut finished, mut dirty) = (0, 0, Vec::new());
        for round in 1..=attempts {
            if killed == per_command {
                break;
            }
            let owned = command(name, round);
            let args = strs(&owned);
            let mut child = lake.spawn_with(&args, &[("LAKE_NOW", LATER)]);
            std::thread::sleep(delays.below(span));
            match child.try_wait().unwrap() {
                Some(_) => {
                    finished += 1;
                    span = span.mul_f64(0.9).max(Duration::from_millis(1));
                }
                None => {
                    child.kill().unwrap();
                    killed += 1;
                }
            }
            child.wait().unwrap();
            // The next run of the operation, then check: nothing may be left dirty.
            let out = lake.run_with(&args, &[("LAKE_NOW", LATER)]);
            ended_cleanly(name, &out);
            let report = lake.run_with(&["check", "--json"], &[]);
            let report: Value = serde_json::from_slice(&report.stdout).unwrap();
            // A killed write's objects are debris for gc, not damage: gc takes them.
            let problems = report["problems"].as_array().unwrap();
            if problems.iter().any(|p| p["kind"] != "dead_write") {
                dirty.push(format!("round {round}: {report:#}"));
            }
        }
        assert!(killed >= per_command, "{name}: only {killed} kills landed");
        assert!(
            dirty.is_empty(),
            "{name} (seed {seed}): {}",
            dirty.join("\n")
        );
        lake.json(["gc", "--grace", "0s"]);
        assert_invariants(&lake, &format!("{name} after {killed} kills"));
        eprintln!("random kills: {name}: {killed} killed, {finished} finished first, 0 dirty");
        totals = (
            totals.0 + killed,
            totals.1 + finished,
            totals.2 + dirty.len(),
        );
    }
    eprintln!(
        "random kills: {} killed, {} finished before the kill, {} left dirty",
        totals.0, totals.1, totals.2
    );
}

#[test]
fn a_query_over_its_memory_limit_fails_cleanly() {
    let lake = TestLake::new();
    lake.write("orders.csv", orders_csv(600_000, 0));
    lake.cmd(["ingest", "orders.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    lake.configure("promote", "memory_mb", "16");
    let out = lake.run_with(
        &["query", "SELECT length(string_agg(a.note || a.order_id, ',')) FROM bronze.orders a JOIN bronze.orders b USING (order_id)"],
        &[],
    );
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Resources exhausted") && err.contains("memory_mb"),
        "{err}"
    );
}

#[test]
fn the_record_of_owners_stays_as_small_as_the_work_in_flight() {
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 6, 100);
    let catalog = rusqlite::Connection::open(lake.path().join(".lake/catalog.sqlite")).unwrap();
    let owners: i64 = catalog
        .query_row("SELECT count(*) FROM owners", [], |r| r.get(0))
        .unwrap();
    assert!(
        owners <= 1,
        "{owners} owners on record after six finished ingests"
    );
    assert_invariants(&lake, "six ingests");
}
