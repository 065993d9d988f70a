//! Promote: jobs over pinned inputs, checks, lineage, selectors, and what a failure leaves.

use serde_json::Value;

use crate::util::{TestLake, statuses, text};

pub(crate) const ORDERS: &str = "order_id,customer_id,status,amount\n1,10,paid,5.5\n2,10,PAID ,7\n3,11,refunded,-2\n3,11,shipped,-2\n4,12,paid,10\n";
pub(crate) const CUSTOMERS: &str = "customer_id,email,tier\n10,Ana@Example.com,gold\n11,ben@example.com,basic\n12,,silver\n12,,silver\n";

pub(crate) const ORDERS_CLEAN: &str = "-- description: One row per order.
-- check: not_null(order_id)
-- check: unique(order_id)
-- check: accepted_values(status, ['paid', 'shipped', 'refunded'])
SELECT order_id, customer_id, lower(trim(status)) AS status, amount
FROM (SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY status) AS n FROM bronze.orders)
WHERE n = 1
";
pub(crate) const CUSTOMERS_JOB: &str = "-- check: unique(customer_id)
SELECT DISTINCT customer_id, mask_email(email) AS email_masked, pseudonymize(lower(email)) AS email_token, tier
FROM bronze.customers
";
pub(crate) const REVENUE: &str = "-- description: Revenue per customer tier.
-- check: row_count(1, 100)
SELECT c.tier, count(*) AS orders, sum(o.amount) AS revenue
FROM silver.orders_clean o JOIN silver.customers c ON c.customer_id = o.customer_id
GROUP BY c.tier
ORDER BY c.tier
";

/// A lake with bronze.orders and bronze.customers and three jobs.
pub(crate) fn shop() -> TestLake {
    let lake = TestLake::new();
    lake.write("orders.csv", ORDERS);
    lake.write("customers.csv", CUSTOMERS);
    lake.cmd(["ingest", "orders.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    lake.cmd(["ingest", "customers.csv", "--into", "bronze.customers"])
        .assert()
        .success();
    lake.write("jobs/silver/orders_clean.sql", ORDERS_CLEAN);
    lake.write("jobs/silver/customers.sql", CUSTOMERS_JOB);
    lake.write("jobs/gold/revenue.sql", REVENUE);
    lake
}

fn promote_json(lake: &TestLake, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["promote", "--json"];
    all.extend_from_slice(args);
    let out = lake.cmd(&all).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", text(&out).1));
    (out.status.code(), v)
}

fn rows(lake: &TestLake, sql: &str) -> Value {
    let out = lake
        .cmd(["query", sql, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn promote_runs_jobs_in_dependency_order() {
    let lake = shop();
    let out = lake.cmd(["promote"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("1 of 3 OK silver.customers@v1  3 rows"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("2 of 3 OK silver.orders_clean@v1  4 rows"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("3 of 3 OK gold.revenue@v1  3 rows"),
        "{stdout}"
    );
    assert!(
        lines[3].starts_with("Done. OK=3 FAILED=0 SKIP=0 UP-TO-DATE=0"),
        "{stdout}"
    );
    let revenue = rows(
        &lake,
        "SELECT tier, orders, revenue FROM gold.revenue ORDER BY tier",
    );
    assert_eq!(
        revenue,
        serde_json::json!([
            {"tier": "basic", "orders": 1, "revenue": -2.0},
            {"tier": "gold", "orders": 2, "revenue": 12.5},
            {"tier": "silver", "orders": 1, "revenue": 10.0}
        ])
    );
    let show = lake.json(["show", "gold.revenue"]);
    assert_eq!(show["operation"], "promote");
    assert_eq!(show["checks"][0]["name"], "row_count(1, 100)");
    assert_eq!(show["checks"][0]["passed"], true);
    let ls = lake.json(["ls", "--zone", "gold"]);
    assert_eq!(ls[0]["description"], "Revenue per customer tier.");
}

#[test]
fn unchanged_jobs_are_up_to_date_and_changed_inputs_rerun_downstream() {
    let lake = shop();
    lake.cmd(["promote"]).assert().success();
    let (code, again) = promote_json(&lake, &[]);
    assert_eq!(code, Some(0));
    assert!(
        statuses(&again).iter().all(|(_, s)| s == "up_to_date"),
        "{again}"
    );

    lake.write(
        "orders2.csv",
        "order_id,customer_id,status,amount\n5,11,paid,1\n",
    );
    lake.cmd(["ingest", "orders2.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    let (_, after) = promote_json(&lake, &[]);
    assert_eq!(
        statuses(&after),
        [
            ("silver.customers".into(), "up_to_date".into()),
            ("silver.orders_clean".into(), "ok".into()),
            ("gold.revenue".into(), "ok".into())
        ]
    );
    assert_eq!(after["jobs"][1]["inputs"][0], "bronze.orders@v2");
    let (_, full) = promote_json(&lake, &["--full-refresh", "--select", "silver.customers"]);
    assert_eq!(statuses(&full), [("silver.customers".into(), "ok".into())]);
}

#[test]
fn a_dry_run_shows_the_downstream_jobs_a_new_input_would_rerun() {
    let lake = shop();
    promote_json(&lake, &[]);
    lake.write(
        "customers2.csv",
        format!("{CUSTOMERS}13,dan@example.com,gold\n"),
    );
    lake.cmd([
        "ingest",
        "customers2.csv",
        "--into",
        "bronze.customers",
        "--mode",
        "overwrite",
    ])
    .assert()
    .success();
    let (_, r) = promote_json(&lake, &["--dry-run"]);
    let mut seen = statuses(&r);
    seen.sort();
    assert_eq!(
        seen,
        [
            ("gold.revenue".into(), "would_run".into()),
            ("silver.customers".into(), "would_run".into()),
            ("silver.orders_clean".into(), "up_to_date".into()),
        ]
    );
    let revenue = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job"] == "gold.revenue")
        .unwrap();
    assert!(
        revenue["inputs"]
            .as_array()
            .unwrap()
            .contains(&"silver.customers (rebuilt first)".into()),
        "{revenue}"
    );
}

#[test]
fn selectors_pick_jobs_like_dbt() {
    let lake = shop();
    let (_, r) = promote_json(&lake, &["--dry-run", "--select", "+gold.revenue"]);
    assert_eq!(statuses(&r).len(), 3);
    assert!(statuses(&r).iter().all(|(_, s)| s == "would_run"));
    let (_, r) = promote_json(&lake, &["--dry-run", "--select", "bronze.customers+"]);
    let jobs: Vec<String> = statuses(&r).into_iter().map(|(j, _)| j).collect();
    assert_eq!(jobs, ["silver.customers", "gold.revenue"]);
    let (_, r) = promote_json(
        &lake,
        &[
            "--dry-run",
            "--select",
            "zone:silver",
            "--exclude",
            "silver.customers",
        ],
    );
    let jobs: Vec<String> = statuses(&r).into_iter().map(|(j, _)| j).collect();
    assert_eq!(jobs, ["silver.orders_clean"]);
    assert!(
        lake.json(["ls", "--zone", "silver"])
            .as_array()
            .unwrap()
            .is_empty(),
        "dry run wrote nothing"
    );
    let out = lake
        .cmd(["promote", "--select", "silver.nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no job matches `silver.nope`"));
}

#[test]
fn a_failing_check_commits_nothing_records_the_run_and_skips_downstream() {
    let lake = shop();
    lake.write(
        "jobs/silver/orders_clean.sql",
        ORDERS_CLEAN.replace("['paid', 'shipped', 'refunded']", "['paid', 'shipped']"),
    );
    let (code, r) = promote_json(&lake, &[]);
    assert_eq!(code, Some(1));
    let jobs = r["jobs"].as_array().unwrap();
    let failed = jobs
        .iter()
        .find(|j| j["job"] == "silver.orders_clean")
        .unwrap();
    assert_eq!(failed["status"], "failed");
    let check = failed["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "accepted_values")
        .unwrap();
    assert_eq!(check["passed"], false);
    assert_eq!(check["failing"], 1);
    assert_eq!(check["sample"][0]["status"], "refunded");
    assert!(failed["run_id"].as_i64().is_some());
    let gold = jobs.iter().find(|j| j["job"] == "gold.revenue").unwrap();
    assert_eq!(gold["status"], "skipped");
    assert!(
        gold["error"]
            .as_str()
            .unwrap()
            .contains("silver.orders_clean")
    );
    let silver: Vec<String> = lake.datasets();
    assert!(!silver.contains(&"silver.orders_clean".to_string()));
    assert!(!silver.contains(&"gold.revenue".to_string()));
    assert!(
        silver.contains(&"silver.customers".to_string()),
        "independent jobs still run"
    );
    // Text output names the failing check and a sample row.
    let out = lake.cmd(["promote"]).output().unwrap();
    let (stdout, _) = text(&out);
    assert!(stdout.contains("FAILED silver.orders_clean"), "{stdout}");
    assert!(
        stdout
            .contains("check accepted_values(status, ['paid', 'shipped']): 1 failing row, e.g. {"),
        "{stdout}"
    );
    assert!(stdout.contains("SKIP gold.revenue"), "{stdout}");
    assert!(
        lake.stored_files("silver", "orders_clean").is_empty(),
        "no objects left behind"
    );
}

#[test]
fn breaking_schema_changes_need_approval() {
    let lake = shop();
    lake.cmd(["promote", "--select", "silver.orders_clean"])
        .assert()
        .success();
    lake.write(
        "jobs/silver/orders_clean.sql",
        ORDERS_CLEAN.replace(
            "lower(trim(status)) AS status, amount",
            "lower(trim(status)) AS status",
        ),
    );
    let out = lake
        .cmd(["promote", "--select", "silver.orders_clean"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("breaking way: - amount float64"),
        "{stdout}"
    );
    assert!(stdout.contains("allow: breaking_change"), "{stdout}");
    assert_eq!(
        lake.json(["log", "silver.orders_clean"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    lake.write(
        "jobs/silver/orders_clean.sql",
        format!(
            "-- allow: breaking_change\n{}",
            ORDERS_CLEAN.replace(
                "lower(trim(status)) AS status, amount",
                "lower(trim(status)) AS status"
            )
        ),
    );
    lake.cmd(["promote", "--select", "silver.orders_clean"])
        .assert()
        .success();
    let show = lake.json(["show", "silver.orders_clean"]);
    assert_eq!(show["version"], 2);
    assert_eq!(show["drift"][0]["change"], "removed");
}

#[test]
fn lineage_records_versions_and_columns() {
    let lake = shop();
    lake.cmd(["promote"]).assert().success();
    let l = lake.json(["lineage", "gold.revenue@v1", "--upstream"]);
    let nodes: Vec<&str> = l["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ref"].as_str().unwrap())
        .collect();
    for n in [
        "gold.revenue@v1",
        "silver.orders_clean@v1",
        "silver.customers@v1",
        "bronze.orders@v1",
        "bronze.customers@v1",
    ] {
        assert!(nodes.contains(&n), "{n} missing from {nodes:?}");
    }
    let columns = l["columns"].as_array().unwrap();
    assert!(
        columns.iter().any(|c| c["output_column"] == "revenue"
            && c["input"] == "silver.orders_clean@v1"
            && c["input_column"] == "amount"),
        "{columns:?}"
    );
    assert!(
        columns
            .iter()
            .any(|c| c["output_column"] == "tier" && c["input"] == "silver.customers@v1")
    );
    // Which gold versions came from bronze.orders@v1?
    let down = lake.json(["lineage", "bronze.orders@v1", "--downstream"]);
    let nodes: Vec<&str> = down["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ref"].as_str().unwrap())
        .collect();
    assert!(nodes.contains(&"gold.revenue@v1"), "{nodes:?}");
    let out = lake
        .cmd(["lineage", "gold.revenue", "--upstream"])
        .output()
        .unwrap();
    let (tree, _) = text(&out);
    assert!(tree.starts_with("gold.revenue@v1\n├── silver.customers@v1\n│   └── bronze.customers@v1\n└── silver.orders_clean@v1\n    └── bronze.orders@v1"), "{tree}");
    for format in ["dot", "mermaid"] {
        let out = lake
            .cmd(["lineage", "gold.revenue", "--format", format])
            .output()
            .unwrap();
        assert!(text(&out).0.contains("silver.orders_clean@v1"), "{format}");
    }
    let manifest = lake.json(["show", "silver.orders_clean"]);
    assert_eq!(manifest["operation"], "promote");
}

#[test]
fn backfill_reads_a_past_input_version() {
    let lake = shop();
    lake.write(
        "orders2.csv",
        "order_id,customer_id,status,amount\n5,11,paid,1\n",
    );
    lake.cmd(["ingest", "orders2.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    let (_, r) = promote_json(
        &lake,
        &[
            "--select",
            "silver.orders_clean",
            "--at",
            "bronze.orders=v1",
        ],
    );
    assert_eq!(r["jobs"][0]["inputs"][0], "bronze.orders@v1");
    assert_eq!(r["jobs"][0]["rows"], 4);
    let l = lake.json([
        "lineage",
        "silver.orders_clean@v1",
        "--upstream",
        "--depth",
        "1",
    ]);
    assert_eq!(l["edges"][0][0], "bronze.orders@v1");
    // The next plain run sees the latest input again.
    let (_, r) = promote_json(&lake, &["--select", "silver.orders_clean"]);
    assert_eq!(r["jobs"][0]["inputs"][0], "bronze.orders@v2");
    assert_eq!(r["jobs"][0]["rows"], 5);
}

#[test]
fn bad_jobs_are_refused_with_file_line_and_column() {
    let lake = shop();
    lake.write(
        "jobs/silver/broken.sql",
        "-- description: x\nSELECT order_id FROM bronze.orders\nWHERE order_id = = 1\n",
    );
    let out = lake.cmd(["promote"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, err) = text(&out);
    assert!(
        err.contains("jobs/silver/broken.sql:3:18: SQL syntax"),
        "{err}"
    );
    std::fs::remove_file(lake.path().join("jobs/silver/broken.sql")).unwrap();

    lake.write("jobs/silver/typo.sql", "SELECT * FROM bronze.order\n");
    let out = lake.cmd(["promote"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, _) = text(&out);
    assert!(stdout.contains("FAILED silver.typo"), "{stdout}");
    assert!(
        stdout.contains(
            "jobs/silver/typo.sql: dataset `bronze.order` not found; did you mean `bronze.orders`"
        ),
        "{stdout}"
    );
    std::fs::remove_file(lake.path().join("jobs/silver/typo.sql")).unwrap();

    lake.write("jobs/silver/unqualified.sql", "SELECT * FROM orders\n");
    let out = lake.cmd(["promote"]).output().unwrap();
    let (_, err) = text(&out);
    assert!(
        err.contains("table `orders` is not a dataset")
            && err.contains("did you mean `bronze.orders`"),
        "{err}"
    );
    std::fs::remove_file(lake.path().join("jobs/silver/unqualified.sql")).unwrap();

    lake.write("jobs/silver/upward.sql", "SELECT * FROM gold.revenue\n");
    let out = lake.cmd(["promote"]).output().unwrap();
    assert!(text(&out).1.contains("above its zone"), "{}", text(&out).1);
    std::fs::remove_file(lake.path().join("jobs/silver/upward.sql")).unwrap();

    lake.write("jobs/bronze/raw.sql", "SELECT 1 AS x\n");
    let out = lake.cmd(["promote"]).output().unwrap();
    assert!(
        text(&out).1.contains("bronze receives only `lake ingest`"),
        "{}",
        text(&out).1
    );
    std::fs::remove_file(lake.path().join("jobs/bronze/raw.sql")).unwrap();

    lake.write("jobs/silver/a.sql", "SELECT * FROM silver.b\n");
    lake.write("jobs/silver/b.sql", "SELECT * FROM silver.a\n");
    let before = lake.json(["ls", "--zone", "silver"]);
    let out = lake.cmd(["promote", "--full-refresh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("cycle: silver."), "{}", text(&out).1);
    assert_eq!(
        lake.json(["ls", "--zone", "silver"]),
        before,
        "a cycle runs nothing"
    );
}

#[test]
fn a_runtime_failure_leaves_no_version_and_runs_the_failure_hook() {
    let lake = shop();
    lake.configure(
        "promote",
        "on_failure",
        "'echo \"$LAKE_JOB $LAKE_RUN_ID\" > hook.txt'",
    );
    lake.write(
        "jobs/silver/divide.sql",
        "SELECT order_id / (order_id - order_id) AS boom FROM bronze.orders\n",
    );
    let (code, r) = promote_json(&lake, &["--select", "silver.divide"]);
    assert_eq!(code, Some(1));
    let job = &r["jobs"][0];
    assert_eq!(job["status"], "failed");
    assert!(
        job["error"].as_str().unwrap().contains("Divide by zero"),
        "{job}"
    );
    assert!(!lake.datasets().contains(&"silver.divide".to_string()));
    assert!(lake.stored_files("silver", "divide").is_empty());
    let hook = std::fs::read_to_string(lake.path().join("hook.txt")).unwrap();
    assert_eq!(hook.trim(), format!("silver.divide {}", job["run_id"]));
    // A failing hook is reported, not fatal.
    lake.configure("promote", "on_failure", "'exit 3'");
    let out = lake
        .cmd(["promote", "--select", "silver.divide"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("warning: on_failure command exited"),
        "{}",
        text(&out).1
    );
}

#[test]
fn etlt_functions_pseudonymize_consistently_and_parse_urls() {
    let lake = shop();
    lake.cmd(["promote", "--select", "silver.customers"])
        .assert()
        .success();
    let r = rows(
        &lake,
        "SELECT mask_email('Jane.Doe@Example.com') AS m, url_host('https://Shop.example.com/x?utm_source=mail') AS h, \
         url_param('https://shop.example.com/x?utm_source=mail&q=a%20b', 'q') AS q, pseudonymize('ana@example.com') AS p",
    );
    assert_eq!(r[0]["m"], "J***@example.com");
    assert_eq!(r[0]["h"], "shop.example.com");
    assert_eq!(r[0]["q"], "a b");
    let token = r[0]["p"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 64);
    let c = rows(
        &lake,
        "SELECT email_token, email_masked FROM silver.customers WHERE customer_id = 10",
    );
    assert_eq!(
        c[0]["email_token"],
        token.as_str(),
        "the same person maps to the same token"
    );
    assert_eq!(c[0]["email_masked"], "A***@example.com");
}

#[test]
fn an_archived_input_fails_fast_with_the_restore_hint() {
    let lake = shop();
    // Mark bronze.orders@v1 archived, as `lake archive` does, straight in the catalog.
    let catalog = rusqlite::Connection::open(lake.path().join(".lake/catalog.sqlite")).unwrap();
    catalog
        .execute("UPDATE versions SET state = 'archived' WHERE version = 1 AND dataset_id = (SELECT id FROM datasets WHERE name = 'orders')", [])
        .unwrap();
    drop(catalog);
    let out = lake
        .cmd(["query", "SELECT count(*) FROM bronze.orders"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, err) = text(&out);
    assert!(err.contains("`bronze.orders@v1` is archived"), "{err}");
    assert!(
        err.contains("hint: `lake restore bronze.orders@v1`"),
        "{err}"
    );
    let (code, r) = promote_json(&lake, &["--select", "silver.orders_clean"]);
    assert_eq!(code, Some(1));
    assert!(
        r["jobs"][0]["error"]
            .as_str()
            .unwrap()
            .contains("is archived"),
        "{r}"
    );
}
