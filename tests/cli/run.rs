//! `lake run`: schedules on a set clock, data-aware triggers, retries on the same inputs,
//! timeouts, requirements, one scheduler per lake, and signals that leave nothing half-done.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{TestLake, orders_csv, statuses, text};

fn job(lake: &TestLake, rel: &str, header: &str, sql: &str) {
    lake.write(rel, format!("{header}\n{sql}\n"));
}

fn ingest(lake: &TestLake, dataset: &str, rows: usize, start: usize, now: Option<&str>) {
    let name = format!("in-{start}-{rows}.csv");
    lake.write(&name, orders_csv(rows, start));
    let mut cmd = lake.cmd(["ingest", &name, "--into", dataset, "--mode", "overwrite"]);
    if let Some(now) = now {
        cmd.env("LAKE_NOW", now);
    }
    cmd.assert().success();
}

/// One `lake run --once --json` pass at `now`: (exit code, report).
fn pass(lake: &TestLake, now: Option<&str>, env: &[(&str, &str)]) -> (Option<i32>, Value) {
    let mut cmd = lake.cmd(["run", "--once", "--json"]);
    if let Some(now) = now {
        cmd.env("LAKE_NOW", now);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {:?}", text(&out)));
    (out.status.code(), report)
}

fn ran(report: &Value) -> Vec<String> {
    statuses(report)
        .into_iter()
        .filter(|(_, s)| s == "ok")
        .map(|(j, _)| j)
        .collect()
}

fn runs(lake: &TestLake, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["runs"];
    all.extend_from_slice(args);
    lake.json(all).as_array().unwrap().clone()
}

/// Poll until `f` holds (each check a real `lake` call), at most `limit`.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {}", child.id());
}

#[test]
fn a_cron_job_runs_at_its_slots_over_a_simulated_day() {
    let lake = TestLake::new();
    job(
        &lake,
        "jobs/silver/every_six_hours.sql",
        "-- schedule: cron: \"0 */6 * * *\"",
        "SELECT order_id, amount FROM bronze.orders",
    );
    job(
        &lake,
        "jobs/silver/each_input.sql",
        "-- schedule: on_new_input",
        "SELECT order_id FROM bronze.orders",
    );
    let mut cron_runs = Vec::new();
    let mut input_runs = 0;
    // A new bronze version every two hours, each followed by a pass half an hour later.
    for hour in (0..24).step_by(2) {
        let at = |m: u32| format!("2026-03-10T{hour:02}:{m:02}:00Z");
        ingest(&lake, "bronze.orders", 5, hour * 100, Some(&at(10)));
        let (code, report) = pass(&lake, Some(&at(30)), &[]);
        assert_eq!(code, Some(0), "{report}");
        let done = ran(&report);
        if done.contains(&"silver.every_six_hours".to_string()) {
            cron_runs.push(hour);
        }
        if done.contains(&"silver.each_input".to_string()) {
            input_runs += 1;
        }
        // A second pass at the same moment finds nothing due.
        let (_, again) = pass(&lake, Some(&at(31)), &[]);
        assert!(ran(&again).is_empty(), "{again}");
    }
    assert_eq!(cron_runs, vec![0, 6, 12, 18]);
    assert_eq!(input_runs, 12);
    let cron: Vec<Value> = runs(&lake, &["silver.every_six_hours"]);
    assert_eq!(cron.len(), 4);
    assert!(cron.iter().all(|r| r["trigger"] == "cron"), "{cron:?}");
}

#[test]
fn a_time_zone_moves_the_slots() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 5, 0, Some("2026-01-10T00:00:00Z"));
    job(
        &lake,
        "jobs/silver/paris.sql",
        "-- schedule: cron: \"0 3 * * *\", tz: Europe/Paris",
        "SELECT order_id FROM bronze.orders",
    );
    // First pass: never ran, so its latest slot (03:00 Paris on the 9th) is due.
    let (_, r) = pass(&lake, Some("2026-01-10T01:00:00Z"), &[]);
    assert_eq!(ran(&r), vec!["silver.paris"]);
    ingest(&lake, "bronze.orders", 6, 100, Some("2026-01-10T01:10:00Z"));
    // 01:59 UTC is 02:59 in Paris: not yet.
    let (_, r) = pass(&lake, Some("2026-01-10T01:59:00Z"), &[]);
    assert!(ran(&r).is_empty(), "{r}");
    // 02:00 UTC is 03:00 in Paris.
    let (_, r) = pass(&lake, Some("2026-01-10T02:00:00Z"), &[]);
    assert_eq!(ran(&r), vec!["silver.paris"]);
}

#[test]
fn a_new_bronze_version_runs_exactly_the_jobs_downstream() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 20, 0, None);
    ingest(&lake, "bronze.customers", 20, 0, None);
    job(
        &lake,
        "jobs/silver/o.sql",
        "",
        "SELECT order_id, customer_id FROM bronze.orders",
    );
    job(
        &lake,
        "jobs/silver/c.sql",
        "",
        "SELECT DISTINCT customer_id FROM bronze.customers",
    );
    job(
        &lake,
        "jobs/gold/g.sql",
        "",
        "SELECT count(*) AS n FROM silver.o JOIN silver.c USING (customer_id)",
    );
    let (_, r) = pass(&lake, None, &[]);
    assert_eq!(ran(&r), vec!["silver.c", "silver.o", "gold.g"]);
    let (_, r) = pass(&lake, None, &[]);
    assert!(ran(&r).is_empty(), "{r}");
    ingest(&lake, "bronze.customers", 25, 0, None);
    let (_, r) = pass(&lake, None, &[]);
    assert_eq!(ran(&r), vec!["silver.c", "gold.g"]);
    let o = statuses(&r)
        .into_iter()
        .find(|(j, _)| j == "silver.o")
        .unwrap();
    assert_eq!(o.1, "up_to_date");
}

#[test]
fn a_flaky_job_succeeds_on_its_third_attempt_with_the_first_attempts_inputs() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 10, 0, None);
    job(
        &lake,
        "jobs/silver/flaky.sql",
        "-- retries: 3\n-- retry_delay: 2s",
        "SELECT order_id FROM bronze.orders",
    );
    // A failure that a retry follows is not a failure to be told of.
    lake.configure("promote", "on_failure", "'echo $LAKE_RUN_ID >> hooks.txt'");
    let child = {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("lake"));
        cmd.current_dir(lake.path())
            .env_remove("LAKE_DIR")
            .env("LAKE_FAILPOINT", "promote.batch:error(2)")
            .args(["run", "--once", "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    // While the first retry waits, bronze.orders gets a new version.
    assert!(eventually(Duration::from_secs(30), || {
        !runs(&lake, &["--status", "failed"]).is_empty()
    }));
    ingest(&lake, "bronze.orders", 12, 1000, None);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["jobs"][0]["status"], "ok", "{report}");
    assert_eq!(report["jobs"][0]["attempt"], 3);
    assert_eq!(report["jobs"][0]["inputs"][0], "bronze.orders@v1");
    let all = runs(&lake, &["silver.flaky"]);
    let seen: Vec<(String, u64, String)> = all
        .iter()
        .rev()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_string(),
                r["attempt"].as_u64().unwrap(),
                r["inputs"][0].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("failed".into(), 1, "bronze.orders@v1".into()),
            ("failed".into(), 2, "bronze.orders@v1".into()),
            ("success".into(), 3, "bronze.orders@v1".into()),
        ]
    );
    let first = all.last().unwrap()["id"].clone();
    assert!(all[..2].iter().all(|r| r["retry_of"] == first), "{all:?}");
    assert!(!lake.path().join("hooks.txt").exists());
    // The next pass reads the new version.
    let (_, r) = pass(&lake, None, &[]);
    assert_eq!(r["jobs"][0]["inputs"][0], "bronze.orders@v2", "{r}");
}

#[test]
fn a_failure_is_held_until_its_input_changes() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 10, 0, None);
    job(
        &lake,
        "jobs/silver/strict.sql",
        "-- check: row_count(11, 1000)",
        "SELECT order_id FROM bronze.orders",
    );
    lake.configure("promote", "on_failure", "'echo $LAKE_JOB >> hooks.txt'");
    let (code, r) = pass(&lake, None, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        statuses(&r),
        vec![("silver.strict".into(), "failed".into())]
    );
    // Same SQL, same input: held, not failed again.
    let (code, r) = pass(&lake, None, &[]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(statuses(&r), vec![("silver.strict".into(), "held".into())]);
    assert_eq!(runs(&lake, &["--status", "failed"]).len(), 1);
    let hooks = std::fs::read_to_string(lake.path().join("hooks.txt")).unwrap();
    assert_eq!(hooks, "silver.strict\n", "one failure, told once");
    ingest(&lake, "bronze.orders", 20, 0, None);
    let (code, r) = pass(&lake, None, &[]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(ran(&r), vec!["silver.strict"]);
}

#[test]
fn a_timeout_cancels_the_run_and_records_it() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 10, 0, None);
    job(
        &lake,
        "jobs/silver/slow.sql",
        "-- timeout: 1s",
        "SELECT order_id FROM bronze.orders",
    );
    let (code, r) = pass(
        &lake,
        None,
        &[("LAKE_FAILPOINT", "promote.batch:sleep(5000)")],
    );
    assert_eq!(code, Some(1), "{r}");
    assert_eq!(r["jobs"][0]["status"], "timed_out");
    assert!(
        r["jobs"][0]["error"]
            .as_str()
            .unwrap()
            .contains("timeout of 1s"),
        "{r}"
    );
    let recorded = runs(&lake, &[]);
    assert_eq!(recorded[0]["status"], "timed_out");
    assert!(lake.stored_files("silver", "slow").is_empty());
    let check = lake.json(["check"]);
    assert_eq!(check["in_flight_writes"], 0, "{check}");
    assert!(
        lake.cmd(["show", "silver.slow"])
            .assert()
            .try_failure()
            .is_ok()
    );
}

#[test]
fn requirements_hold_a_job_waiting_until_they_are_met() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 5, 0, Some("2026-02-01T00:00:00Z"));
    job(
        &lake,
        "jobs/silver/big.sql",
        "-- require: bronze.orders rows >= 10\n-- require: fresh(bronze.orders, 26h)\n-- require: sql: SELECT 1 FROM bronze.orders WHERE amount < 0",
        "SELECT order_id FROM bronze.orders",
    );
    let (code, r) = pass(&lake, Some("2026-02-01T01:00:00Z"), &[]);
    assert_eq!(code, Some(0), "waiting is not failing: {r}");
    assert_eq!(r["jobs"][0]["status"], "waiting");
    let why = r["jobs"][0]["error"].as_str().unwrap();
    assert!(
        why.contains("bronze.orders rows >= 10") && why.contains("has 5 rows"),
        "{why}"
    );
    // Waiting again for the same reason is one record, not one per pass.
    pass(&lake, Some("2026-02-01T01:05:00Z"), &[]);
    assert_eq!(runs(&lake, &["--status", "waiting"]).len(), 1);

    ingest(&lake, "bronze.orders", 12, 0, Some("2026-02-01T02:00:00Z"));
    // Too old by now.
    let (_, r) = pass(&lake, Some("2026-02-03T00:00:00Z"), &[]);
    assert_eq!(r["jobs"][0]["status"], "waiting");
    assert!(
        r["jobs"][0]["error"]
            .as_str()
            .unwrap()
            .contains("fresh(bronze.orders, 26h)")
    );
    let (_, r) = pass(&lake, Some("2026-02-01T03:00:00Z"), &[]);
    assert_eq!(ran(&r), vec!["silver.big"], "{r}");
}

#[test]
fn one_scheduler_per_lake_and_a_killed_one_is_taken_over() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 5, 0, None);
    job(
        &lake,
        "jobs/silver/o.sql",
        "",
        "SELECT order_id FROM bronze.orders",
    );
    let first = lake.spawn(&["run", "--watch", "--every", "1s"]);
    assert!(eventually(Duration::from_secs(30), || {
        runs(&lake, &["silver.o"]).len() == 1
    }));
    let status = lake.json(["status"]);
    assert_eq!(status["scheduler"]["state"], "running", "{status}");
    assert_eq!(status["scheduler"]["pid"], first.id());
    // A single pass refuses while the watcher holds the lease, naming it.
    let out = lake.cmd(["run", "--once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, err) = text(&out);
    assert!(
        err.contains("another scheduler runs this lake") && err.contains(&first.id().to_string()),
        "{err}"
    );
    let mut second = lake.spawn(&["run", "--watch", "--every", "1s"]);
    // Its stderr, line by line, to see it wait.
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let said = said.clone();
        let stderr = second.stderr.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut s = said.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        })
    };
    assert!(eventually(Duration::from_secs(30), || {
        said.lock()
            .unwrap()
            .contains("another scheduler runs this lake")
    }));
    // Only the holder runs jobs: a new input is promoted once.
    ingest(&lake, "bronze.orders", 6, 100, None);
    assert!(eventually(Duration::from_secs(30), || {
        runs(&lake, &["silver.o"]).len() == 2
    }));
    signal(&first, "-KILL");
    let first = first.wait_with_output().unwrap();
    assert!(!first.status.success());
    // The second takes over and runs what arrives next.
    ingest(&lake, "bronze.orders", 7, 200, None);
    assert!(eventually(Duration::from_secs(30), || {
        runs(&lake, &["silver.o"]).len() == 3
    }));
    signal(&second, "-TERM");
    let second = second.wait_with_output().unwrap();
    reader.join().unwrap();
    let err = said.lock().unwrap().clone();
    assert!(second.status.success(), "{err}");
    assert!(err.contains("SIGTERM: stopping"), "{err}");
    let all = runs(&lake, &["silver.o"]);
    assert!(all.iter().all(|r| r["status"] == "success"), "{all:?}");
    // The lease went with it: a single pass runs now.
    lake.cmd(["run", "--once"]).assert().success();
}

#[test]
fn sigterm_during_a_run_commits_nothing_and_releases_the_lease() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 5, 0, None);
    job(
        &lake,
        "jobs/silver/o.sql",
        "",
        "SELECT order_id FROM bronze.orders",
    );
    let child = {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("lake"));
        cmd.current_dir(lake.path())
            .env_remove("LAKE_DIR")
            .env("LAKE_FAILPOINT", "promote.batch:sleep(20000)")
            .args(["run", "--watch"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    // The job's write is registered once it runs.
    assert!(eventually(Duration::from_secs(30), || {
        lake.json(["check"])["in_flight_writes"] == 1
    }));
    signal(&child, "-TERM");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(runs(&lake, &[])[0]["status"], "cancelled");
    let check = lake.json(["check"]);
    assert_eq!(check["in_flight_writes"], 0, "{check}");
    assert!(lake.stored_files("silver", "o").is_empty());
    let (code, r) = pass(&lake, None, &[]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(ran(&r), vec!["silver.o"]);
}

#[test]
fn bad_schedule_headers_name_the_line() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 5, 0, None);
    job(
        &lake,
        "jobs/silver/o.sql",
        "-- description: x\n-- schedule: cron: \"0 25 * * *\"",
        "SELECT order_id FROM bronze.orders",
    );
    let out = lake.cmd(["run", "--once"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, err) = text(&out);
    assert!(
        err.contains("jobs/silver/o.sql") && err.contains("line 2") && err.contains("0 25 * * *"),
        "{err}"
    );
}

#[test]
fn retry_runs_a_failed_run_again_on_its_own_inputs() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 10, 0, None);
    job(
        &lake,
        "jobs/silver/o.sql",
        "",
        "SELECT order_id FROM bronze.orders",
    );
    let (code, _) = pass(&lake, None, &[("LAKE_FAILPOINT", "promote.batch:error(1)")]);
    assert_eq!(code, Some(1));
    let failed = runs(&lake, &[])[0]["id"].as_i64().unwrap();
    ingest(&lake, "bronze.orders", 12, 100, None);
    let id = failed.to_string();
    let r = lake.json(["retry", &id]);
    assert_eq!(r["status"], "ok", "{r}");
    assert_eq!(r["inputs"][0], "bronze.orders@v1");
    assert_eq!(r["attempt"], 2);
    let latest = &runs(&lake, &[])[0];
    assert_eq!(latest["trigger"], "retry");
    assert_eq!(latest["retry_of"], failed);
    let out = lake.cmd(["retry", "999"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("there is no run 999"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn warn_checks_record_without_blocking_and_lake_test_rechecks_the_latest_version() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 10, 0, None);
    job(
        &lake,
        "jobs/silver/o.sql",
        "-- check: not_null(order_id)\n-- check[warn]: row_count(100, null)",
        "SELECT order_id, note FROM bronze.orders",
    );
    let (code, r) = pass(&lake, None, &[]);
    assert_eq!(code, Some(0), "{r}");
    let checks = r["jobs"][0]["checks"].as_array().unwrap();
    let warn = checks.iter().find(|c| c["severity"] == "warn").unwrap();
    assert_eq!(warn["passed"], false);
    // The warning is on record with the run.
    let id = runs(&lake, &[])[0]["id"].to_string();
    let shown = lake.json(["show", "run", &id]);
    assert_eq!(shown["status"], "success");
    assert_eq!(shown["inputs"][0], "bronze.orders@v1");
    assert_eq!(shown["checks"].as_array().unwrap().len(), 2);
    assert_eq!(shown["attempts"].as_array().unwrap().len(), 1);
    let text_out = lake.cmd(["show", "run", &id]).output().unwrap();
    assert!(
        text(&text_out).0.contains("FAIL row_count(100, null)"),
        "{:?}",
        text(&text_out)
    );

    // A stricter check, added later, fails `lake test` on the committed version; nothing is built.
    job(
        &lake,
        "jobs/silver/o.sql",
        "-- check: not_null(order_id)\n-- check: not_null(note)\n-- check[warn]: row_count(100, null)",
        "SELECT order_id, note FROM bronze.orders",
    );
    let out = lake.cmd(["test", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["jobs"][0]["status"], "fail", "{t}");
    assert_eq!(t["jobs"][0]["ref"], "silver.o@v1");
    let failing: Vec<&str> = t["jobs"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["not_null(note)", "row_count(100, null)"]);
    assert_eq!(lake.json(["log", "silver.o"]).as_array().unwrap().len(), 1);
    let out = lake.cmd(["show", "run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

fn january_orders(lake: &TestLake) {
    let mut csv = String::from("order_id,customer_id,amount,ordered_at\n");
    for i in 0..310 {
        csv.push_str(&format!(
            "{i},{},{}.5,2026-01-{:02}T{:02}:00:00\n",
            i % 17,
            i % 50,
            1 + i % 31,
            i % 24
        ));
    }
    lake.write("january.csv", csv);
    lake.cmd(["ingest", "january.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    job(
        lake,
        "jobs/silver/daily.sql",
        "-- partition_by: day(ordered_at)",
        "SELECT order_id, ordered_at, amount FROM bronze.orders",
    );
}

fn backfill(lake: &TestLake, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value) {
    let mut all = vec!["backfill", "silver.daily", "--json"];
    all.extend_from_slice(args);
    let mut cmd = lake.cmd(&all);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {:?}", text(&out)));
    (out.status.code(), v)
}

fn daily_counts(lake: &TestLake) -> String {
    lake.query_csv(
        "SELECT count(*) AS n, count(DISTINCT order_id) AS ids FROM silver.daily",
        &[],
    )
}

#[test]
fn a_31_day_backfill_commits_31_partitions_and_missing_then_does_nothing() {
    let lake = TestLake::new();
    january_orders(&lake);
    let range = ["--from", "2026-01-01", "--to", "2026-01-31"];
    let (_, dry) = backfill(&lake, &[&range[..], &["--dry-run"]].concat(), &[]);
    assert_eq!(dry["picked"], 31);
    assert!(
        lake.cmd(["show", "silver.daily"])
            .assert()
            .try_failure()
            .is_ok()
    );

    let (code, r) = backfill(&lake, &[&range[..], &["--max-parallel", "2"]].concat(), &[]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["ok"], 31);
    let parts = r["partitions"].as_array().unwrap();
    assert_eq!(parts[0]["partition"], "2026-01-01");
    assert_eq!(parts[30]["partition"], "2026-01-31");
    assert_eq!(
        lake.json(["log", "silver.daily"]).as_array().unwrap().len(),
        31
    );
    assert_eq!(daily_counts(&lake), "n,ids\n310,310\n");
    let files = lake.json(["manifest", "silver.daily"])["files"].clone();
    assert_eq!(files.as_array().unwrap().len(), 31);
    assert!(
        files
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["partition"].is_string())
    );

    let shown = lake.json(["show", "silver.daily"]);
    let parts = shown["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 31);
    assert_eq!(parts[0]["partition"], "2026-01-01");
    assert_eq!(
        parts
            .iter()
            .map(|p| p["rows"].as_u64().unwrap())
            .sum::<u64>(),
        310
    );
    let (code, again) = backfill(&lake, &[&range[..], &["--missing"]].concat(), &[]);
    assert_eq!(code, Some(0));
    assert_eq!(again["picked"], 0, "{again}");
    assert_eq!(
        lake.json(["log", "silver.daily"]).as_array().unwrap().len(),
        31
    );

    // Two partitions again, each replacing only its own rows.
    let (_, two) = backfill(
        &lake,
        &["--from", "2026-01-05", "--to", "2026-01-06", "--all"],
        &[],
    );
    assert_eq!(two["ok"], 2);
    assert_eq!(daily_counts(&lake), "n,ids\n310,310\n");
    // Every reader reads the partitioned version back, through the pin's manifest.
    if let Some(python) = crate::util::test_python() {
        lake.cmd(["pin", "silver.daily", "--lock", "lake.lock"])
            .assert()
            .success();
        let said = lake.run_python(
            &python,
            r#"import duckdb, polars
m = lm.Manifest.from_lock('lake.lock', 'silver.daily', root='lake-data')
t = m.read()
d = duckdb.sql(f"SELECT count(DISTINCT order_id) FROM read_parquet({m.paths()!r})").fetchall()[0][0]
p = polars.scan_parquet(m.paths()).collect().height
print(t.num_rows, len(set(t.column('order_id').to_pylist())), d, p)"#,
        );
        assert_eq!(said.trim(), "310 310 310 310");
    }
    // A whole run writes every partition into files of their own, in one version.
    lake.cmd(["promote", "--full-refresh"]).assert().success();
    assert_eq!(daily_counts(&lake), "n,ids\n310,310\n");
    assert_eq!(
        lake.json(["manifest", "silver.daily"])["files"]
            .as_array()
            .unwrap()
            .len(),
        31
    );
}

#[test]
fn a_backfill_reruns_its_failed_partitions_and_refuses_unpartitioned_jobs() {
    let lake = TestLake::new();
    january_orders(&lake);
    let range = ["--from", "2026-01-01", "--to", "2026-01-10"];
    let (code, r) = backfill(
        &lake,
        &range,
        &[("LAKE_FAILPOINT", "promote.batch:error(3)")],
    );
    assert_eq!(code, Some(1), "{r}");
    assert_eq!(
        (r["ok"].as_u64(), r["failed"].as_u64()),
        (Some(7), Some(3)),
        "{r}"
    );
    let failed: Vec<&str> = r["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "failed")
        .map(|p| p["partition"].as_str().unwrap())
        .collect();
    let (code, again) = backfill(&lake, &[&range[..], &["--failed"]].concat(), &[]);
    assert_eq!(code, Some(0), "{again}");
    let rerun: Vec<&str> = again["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["partition"].as_str().unwrap())
        .collect();
    assert_eq!(rerun, failed);
    let (_, none) = backfill(&lake, &[&range[..], &["--failed"]].concat(), &[]);
    assert_eq!(none["picked"], 0);
    assert_eq!(daily_counts(&lake), "n,ids\n100,100\n");

    job(
        &lake,
        "jobs/silver/plain.sql",
        "",
        "SELECT order_id FROM bronze.orders",
    );
    let out = lake
        .cmd([
            "backfill",
            "silver.plain",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("no `-- partition_by"),
        "{:?}",
        text(&out)
    );
    let out = lake
        .cmd([
            "backfill",
            "silver.daily",
            "--from",
            "2026-01-05",
            "--to",
            "2026-01-01",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn status_shows_stale_waiting_and_failing_jobs_and_freshness() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 5, 0, Some("2026-04-01T00:00:00Z"));
    ingest(
        &lake,
        "bronze.customers",
        5,
        0,
        Some("2026-04-01T00:00:00Z"),
    );
    job(
        &lake,
        "jobs/silver/fresh.sql",
        "-- freshness: 12h",
        "SELECT order_id FROM bronze.orders",
    );
    job(
        &lake,
        "jobs/silver/needs_more.sql",
        "-- require: bronze.customers rows >= 100",
        "SELECT customer_id FROM bronze.customers",
    );
    job(
        &lake,
        "jobs/silver/broken.sql",
        "-- check: row_count(100, null)",
        "SELECT customer_id FROM bronze.customers",
    );
    lake.write(
        "lake.toml",
        format!(
            "{}\n[freshness]\n\"bronze.orders\" = \"1d\"\n",
            std::fs::read_to_string(lake.path().join("lake.toml")).unwrap()
        ),
    );
    pass(&lake, Some("2026-04-01T01:00:00Z"), &[]);
    ingest(&lake, "bronze.orders", 6, 100, Some("2026-04-01T02:00:00Z"));
    let out = lake
        .cmd(["status", "--json"])
        .env("LAKE_NOW", "2026-04-02T06:00:00Z")
        .output()
        .unwrap();
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let state = |job: &str| {
        s["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job"] == job)
            .map(|j| j["state"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(state("silver.fresh"), "stale", "{s}");
    assert_eq!(state("silver.needs_more"), "waiting");
    assert_eq!(state("silver.broken"), "failing");
    let fresh: Vec<(String, bool)> = s["freshness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["dataset"].as_str().unwrap().to_string(),
                f["breached"].as_bool().unwrap(),
            )
        })
        .collect();
    // bronze.orders@v2 is 28 h old (limit 1 d); silver.fresh@v1 is 29 h old (limit 12 h).
    assert_eq!(
        fresh,
        [
            ("bronze.orders".into(), true),
            ("silver.fresh".into(), true)
        ]
    );
    assert_eq!(s["scheduler"]["state"], "not_running");
    assert!(s["attention"].as_u64().unwrap() >= 5, "{s}");
    let check = lake
        .cmd(["status", "--check"])
        .env("LAKE_NOW", "2026-04-02T06:00:00Z")
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    assert!(
        text(&check).0.contains("STALE bronze.orders"),
        "{:?}",
        text(&check)
    );
}

#[test]
fn after_runs_once_the_interval_has_passed_since_the_last_success() {
    let lake = TestLake::new();
    job(
        &lake,
        "jobs/silver/o.sql",
        "-- schedule: after: 2h",
        "SELECT order_id FROM bronze.orders",
    );
    let mut ran_at = Vec::new();
    for (i, hour) in [0, 1, 2, 3, 4, 5].into_iter().enumerate() {
        let at = format!("2026-05-01T{hour:02}:00:00Z");
        // New input every hour: only the interval holds the job back.
        ingest(&lake, "bronze.orders", 5 + i, 0, Some(&at));
        let (_, r) = pass(&lake, Some(&format!("2026-05-01T{hour:02}:30:00Z")), &[]);
        if !ran(&r).is_empty() {
            ran_at.push(hour);
        }
    }
    assert_eq!(ran_at, vec![0, 2, 4]);
    assert!(runs(&lake, &[]).iter().all(|r| r["trigger"] == "after"));
}

#[test]
fn independent_jobs_run_side_by_side_up_to_max_parallel() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 5, 0, None);
    for name in ["a", "b", "c"] {
        job(
            &lake,
            &format!("jobs/silver/{name}.sql"),
            "",
            "SELECT order_id FROM bronze.orders",
        );
    }
    job(
        &lake,
        "jobs/gold/all.sql",
        "",
        "SELECT * FROM silver.a JOIN silver.b USING (order_id)",
    );
    let out = lake
        .cmd(["run", "--max-parallel", "2"])
        .env("LAKE_FAILPOINT", "promote.batch:sleep(700)")
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let runs = runs(&lake, &[]);
    let span = |job: &str| {
        let r = runs.iter().find(|r| r["job"] == job).unwrap();
        (
            r["started_at"].as_str().unwrap().to_string(),
            r["finished_at"].as_str().unwrap().to_string(),
        )
    };
    // Two silver jobs overlap; the third starts when one of them is done; gold waits for a and b.
    let (a, b, c, gold) = (
        span("silver.a"),
        span("silver.b"),
        span("silver.c"),
        span("gold.all"),
    );
    let mut silver = [a.clone(), b.clone(), c.clone()];
    silver.sort();
    assert!(
        silver[1].0 < silver[0].1,
        "the first two overlap: {silver:?}"
    );
    let first_done = silver[0].1.clone().min(silver[1].1.clone());
    assert!(
        silver[2].0 >= first_done,
        "the third waits for a free slot: {silver:?}"
    );
    assert!(
        gold.0 >= a.1 && gold.0 >= b.1,
        "gold after its inputs: {gold:?} {a:?} {b:?}"
    );
}

#[test]
fn a_watch_outlives_a_broken_job_file() {
    let lake = TestLake::new();
    ingest(&lake, "bronze.orders", 5, 0, None);
    job(
        &lake,
        "jobs/silver/o.sql",
        "",
        "SELECT order_id FROM bronze.orders",
    );
    job(&lake, "jobs/silver/bad.sql", "", "SELECT FROM WHERE");
    let watcher = lake.spawn(&["run", "--watch", "--every", "1s"]);
    std::thread::sleep(Duration::from_millis(1500));
    // Fixed while it watches: the next pass runs both.
    job(
        &lake,
        "jobs/silver/bad.sql",
        "",
        "SELECT customer_id FROM bronze.orders",
    );
    assert!(eventually(Duration::from_secs(30), || {
        runs(&lake, &["--status", "success"]).len() == 2
    }));
    signal(&watcher, "-TERM");
    let out = watcher.wait_with_output().unwrap();
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("jobs/silver/bad.sql") && err.contains("the next pass is in"),
        "{err}"
    );
}
