//! What people read: the human output of `ls`, `show`, `log`, `promote` and of errors, as
//! snapshots (`tests/cli/snapshots/`). A change to any of it shows up as a diff to review:
//! `INSTA_UPDATE=always` (or `cargo insta review`) accepts it.
//!
//! Every command runs at one fixed time (`LAKE_NOW`); what still differs between runs (hashes,
//! write ids, the temporary folder, durations) is replaced by a placeholder.

use crate::promote::{CUSTOMERS, CUSTOMERS_JOB, ORDERS, ORDERS_CLEAN, REVENUE};
use crate::util::{TestLake, text};

const NOW: &str = "2026-03-01T12:00:00Z";

/// `$ lake ARGS`, its exit code, stdout and stderr, with what differs between runs redacted.
fn run(lake: &TestLake, args: &[&str]) -> String {
    let out = lake.cmd(args).env("LAKE_NOW", NOW).output().unwrap();
    let (stdout, stderr) = text(&out);
    let root = lake.path().display().to_string();
    format!(
        "$ lake {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        out.status.code().unwrap_or(-1),
        stdout,
        stderr
    )
    .replace(&root, "[lake]")
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    for (pattern, replacement) in [
        (r"[0-9a-f]{64}", "[sha256]"),
        (r"sha256:[0-9a-f]{12}\b", "sha256:[short]"),
        (r"\b[0-9a-f]{32}-(\d{5})", "[write]-$1"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uuid]",
        ),
        (r"\b\d+(\.\d+)?\s?(ms|µs|s)\b", "[duration]"),
    ] {
        s.add_filter(pattern, replacement);
    }
    s
}

/// `lake ARGS` at [`NOW`], which must succeed.
fn ok(lake: &TestLake, args: &[&str]) {
    let out = lake.cmd(args).env("LAKE_NOW", NOW).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
}

/// The shop of the promote tests (orders, customers, three jobs), made at [`NOW`], and
/// bronze.sales in two appends.
fn shop() -> TestLake {
    let lake = TestLake::empty();
    ok(&lake, &["init"]);
    lake.write("orders.csv", ORDERS);
    lake.write("customers.csv", CUSTOMERS);
    ok(&lake, &["ingest", "orders.csv", "--into", "bronze.orders"]);
    ok(
        &lake,
        &["ingest", "customers.csv", "--into", "bronze.customers"],
    );
    lake.write("jobs/silver/orders_clean.sql", ORDERS_CLEAN);
    lake.write("jobs/silver/customers.sql", CUSTOMERS_JOB);
    lake.write("jobs/gold/revenue.sql", REVENUE);
    for (file, rows) in [
        ("orders-1.csv", "1,10,paid,5.5\n2,10,paid,7\n"),
        ("orders-2.csv", "3,11,shipped,2\n"),
    ] {
        lake.write(file, format!("order_id,customer_id,status,amount\n{rows}"));
        ok(&lake, &["ingest", file, "--into", "bronze.sales"]);
    }
    lake
}

#[test]
fn ls_show_and_log() {
    let lake = shop();
    settings().bind(|| {
        insta::assert_snapshot!("ls", run(&lake, &["ls"]));
        insta::assert_snapshot!("show", run(&lake, &["show", "bronze.sales"]));
        insta::assert_snapshot!("log", run(&lake, &["log", "bronze.sales"]));
    });
}

#[test]
fn promote() {
    let lake = shop();
    settings().bind(|| {
        insta::assert_snapshot!("promote", run(&lake, &["promote"]));
        insta::assert_snapshot!("promote_again", run(&lake, &["promote"]));
    });
}

#[test]
fn errors() {
    let lake = shop();
    lake.write("bad.csv", "order_id,amount\n1,2\n2,3,4\n");
    lake.write(
        "jobs/gold/broken.sql",
        "SELECT tier, count(*) AS n\nFROM silver.customerz\nGROUP BY tier\n",
    );
    settings().bind(|| {
        insta::assert_snapshot!(
            "error_unknown_dataset",
            run(&lake, &["show", "bronze.order"])
        );
        insta::assert_snapshot!("error_bad_ref", run(&lake, &["show", "bronze.orders@v0"]));
        insta::assert_snapshot!(
            "error_bad_csv",
            run(&lake, &["ingest", "bad.csv", "--into", "bronze.bad"])
        );
        insta::assert_snapshot!(
            "error_bad_job",
            run(&lake, &["promote", "--select", "gold.broken"])
        );
        insta::assert_snapshot!("error_usage", run(&lake, &["ingest", "--into", "bronze.x"]));
    });
}

#[test]
fn json_documents_carry_their_schema_version_and_lists_stay_arrays() {
    let lake = shop();
    let show = lake.json(["show", "bronze.sales"]);
    assert_eq!(show["schema_version"], 1, "{show}");
    let status = lake.json(["status"]);
    assert_eq!(status["schema_version"], 1, "{status}");
    // A list stays an array; each of its records says its version.
    let ls = lake.json(["ls"]);
    assert!(!ls.as_array().unwrap().is_empty(), "{ls}");
    for record in ls.as_array().unwrap() {
        assert_eq!(record["schema_version"], 1, "{record}");
    }
    let log = lake.json(["log", "bronze.sales"]);
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .all(|r| r["schema_version"] == 1),
        "{log}"
    );
}
