//! `lake promote --workers` on a loopback cluster: two `lake worker` processes on 127.0.0.1
//! over the same store, their stages planned by the promoting process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::faults::wait_until;
use crate::util::{TestLake, text};

/// A running `lake worker`, stopped by its pid when dropped.
struct Worker {
    child: Child,
    addr: String,
    log: std::path::PathBuf,
}

impl Worker {
    /// `lake worker --bind 127.0.0.1:0` in the project, with extra environment.
    fn start(lake: &TestLake, name: &str, env: &[(&str, &str)]) -> Worker {
        let log = lake.path().join(format!("{name}.log"));
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("lake"));
        cmd.current_dir(lake.path())
            .env_remove("LAKE_FAILPOINT")
            .env("LAKE_LOG", "lake=info")
            .env("NO_COLOR", "1")
            .args(["worker", "--bind", "127.0.0.1:0", "--json"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("lake worker starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let said: Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("worker said {line:?}"));
        Worker {
            addr: said["bind"].as_str().unwrap().to_string(),
            child,
            log,
        }
    }

    /// Tasks this worker has run, by its log.
    fn tasks(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("running a task of a stage")
            .count()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The promote benchmark's inputs, small: orders with duplicates and cancellations, customers.
fn bench_inputs(lake: &TestLake, orders: usize) {
    let statuses = ["paid", "shipped", "pending", "cancelled", "refunded"];
    let countries = ["DE", "FR", "ES", "US", "GB"];
    let mut csv =
        String::from("order_id,customer_id,ordered_at,order_date,amount,quantity,status,country\n");
    for i in 0..orders {
        // Every 50th order comes twice, the later copy wins the dedupe.
        let id = if i % 50 == 49 { i - 1 } else { i };
        let day = 1 + (i / 2000) % 28;
        csv.push_str(&format!(
            "{id},{},2026-01-{day:02}T{:02}:{:02}:00,2026-01-{day:02},{}.{:02},{},{},{}\n",
            1 + (i * 7919) % 2000,
            i % 24,
            i % 60,
            1 + i % 400,
            i % 100,
            1 + i % 8,
            statuses[i % 5],
            countries[(i / 3) % 5]
        ));
    }
    let mut customers = String::from("customer_id,segment,country,signup_year\n");
    for c in 1..=2000 {
        customers.push_str(&format!(
            "{c},{},{},{}\n",
            ["consumer", "smb", "enterprise"][c % 3],
            countries[c % 5],
            2015 + c % 12
        ));
    }
    let o = lake.write("orders.csv", csv);
    let c = lake.write("customers.csv", customers);
    for (file, into) in [(&o, "bronze.orders"), (&c, "bronze.customers")] {
        lake.cmd(["ingest", file.to_str().unwrap(), "--into", into])
            .assert()
            .success();
    }
    crate::util::copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/jobs"),
        &lake.path().join("jobs"),
    );
}

/// The sample data and the demo's jobs.
fn sample_inputs(lake: &TestLake) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = repo.join("examples/data");
    for (src, into, extra) in [
        ("customers.csv", "bronze.customers", &[][..]),
        ("orders", "bronze.orders", &["--null-value", "NA"][..]),
        ("events.ndjson", "bronze.events", &[][..]),
    ] {
        lake.cmd(["ingest", data.join(src).to_str().unwrap(), "--into", into])
            .args(extra)
            .assert()
            .success();
    }
    crate::util::copy_dir(&repo.join("examples/jobs"), &lake.path().join("jobs"));
}

/// Each job output's rows at `version`, sorted, as CSV lines.
fn rows(lake: &TestLake, dataset: &str, version: u64) -> Vec<String> {
    let out = lake
        .cmd(["scan", &format!("{dataset}@v{version}"), "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let mut lines: Vec<String> = text(&out).0.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// The same rows, cell by cell. A float that is a sum may differ in its last bits: tasks add
/// their rows in another order than one process does. Such cells must agree to 1e-12 of their
/// size; every other cell (integers, decimals, strings, times) must be the same text.
fn same_rows(got: &[String], expected: &[String], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: row count");
    for (g, e) in got.iter().zip(expected) {
        if g == e {
            continue;
        }
        let (gs, es): (Vec<&str>, Vec<&str>) = (g.split(',').collect(), e.split(',').collect());
        assert_eq!(gs.len(), es.len(), "{what}: {g} vs {e}");
        for (a, b) in gs.iter().zip(&es) {
            if a == b {
                continue;
            }
            let close = match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) if a.contains('.') && b.contains('.') => {
                    (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
                }
                _ => false,
            };
            assert!(close, "{what}: {g} vs {e}");
        }
    }
}

/// Promote with these workers (none: in this process) and return each job with its version.
fn promote(lake: &TestLake, workers: &[&Worker]) -> Vec<(String, u64)> {
    let mut cmd = lake.cmd(["promote", "--full-refresh", "--json"]);
    if !workers.is_empty() {
        let list: Vec<&str> = workers.iter().map(|w| w.addr.as_str()).collect();
        cmd.args(["--workers", &list.join(",")]);
    }
    let out = cmd.output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout} {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            assert_eq!(j["status"], "ok", "{j}");
            (
                j["job"].as_str().unwrap().to_string(),
                j["version"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Local, one worker, two workers: every job's output identical row for row.
fn same_results_on_one_and_two_workers(lake: &TestLake) {
    // Small inputs are spread over the workers, not kept in the coordinator.
    lake.configure("promote", "worker_partition_bytes", "4096");
    let local = promote(lake, &[]);
    let a = Worker::start(lake, "a", &[]);
    let b = Worker::start(lake, "b", &[]);
    // With one worker every stage is one task, which the planner keeps in the coordinator.
    let one = promote(lake, &[&a]);
    let two = promote(lake, &[&a, &b]);
    assert!(
        a.tasks() > 0 && b.tasks() > 0,
        "tasks: {} and {}",
        a.tasks(),
        b.tasks()
    );
    for ((job, v0), ((_, v1), (_, v2))) in local.iter().zip(one.iter().zip(&two)) {
        let expected = rows(lake, job, *v0);
        assert!(!expected.is_empty() || job.contains("empty"), "{job}");
        same_rows(
            &rows(lake, job, *v1),
            &expected,
            &format!("{job} on one worker"),
        );
        same_rows(
            &rows(lake, job, *v2),
            &expected,
            &format!("{job} on two workers"),
        );
    }
}

#[test]
fn the_sample_and_benchmark_jobs_give_the_same_rows_on_one_and_two_workers() {
    let sample = TestLake::new();
    sample_inputs(&sample);
    same_results_on_one_and_two_workers(&sample);
    let bench = TestLake::new();
    bench_inputs(&bench, 20_000);
    same_results_on_one_and_two_workers(&bench);
}

#[test]
fn s3_the_sample_and_benchmark_jobs_give_the_same_rows_on_two_workers() {
    let Some(s3) = crate::s3::s3() else {
        return;
    };
    let (sample, _) = crate::s3::s3_lake(&s3, &s3.endpoint);
    sample_inputs(&sample);
    same_results_on_one_and_two_workers(&sample);
    let (bench, _) = crate::s3::s3_lake(&s3, &s3.endpoint);
    bench_inputs(&bench, 20_000);
    same_results_on_one_and_two_workers(&bench);
}

#[test]
fn a_worker_killed_mid_job_fails_the_job_and_commits_nothing() {
    let lake = TestLake::new();
    bench_inputs(&lake, 5_000);
    lake.configure("promote", "worker_partition_bytes", "4096");
    // Each task waits before it runs, so the worker is surely killed mid-job.
    let slow = [("LAKE_FAILPOINT", "worker.task:sleep(3000)")];
    let a = Worker::start(&lake, "a", &slow);
    let mut b = Worker::start(&lake, "b", &slow);
    let workers = format!("{},{}", a.addr, b.addr);
    let running = lake.spawn_with(
        &[
            "promote",
            "--json",
            "-s",
            "silver.orders_clean",
            "--workers",
            &workers,
        ],
        &[],
    );
    wait_until("a task on worker b", || b.tasks() > 0);
    b.kill();
    let out = running.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout} {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["jobs"][0]["status"], "failed", "{report}");
    // Nothing committed, nothing left behind.
    let ls = lake.json(["ls"]);
    assert!(!ls.to_string().contains("silver.orders_clean"), "{ls}");
    let runs = lake.json(["runs"]);
    assert!(runs.to_string().contains("\"failed\""), "{runs}");
    lake.assert_clean();
    let gc = lake.json(["gc", "--grace", "0s"]);
    assert_eq!(gc["deleted"], 0, "{gc}");
    // A worker that is down is named before any job runs; an address that is none is a usage
    // error.
    let out = lake
        .cmd(["promote", "-s", "silver.orders_clean", "--workers", &b.addr])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("no `lake worker` answers at {}", b.addr)),
        "{stderr}"
    );
    let out = lake
        .cmd(["promote", "--workers", "no-port-here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    // With the worker back (a new one), the job runs.
    let c = Worker::start(&lake, "c", &[]);
    let out = lake
        .cmd(["promote", "-s", "silver.orders_clean", "--workers", &c.addr])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    drop(a);
}
