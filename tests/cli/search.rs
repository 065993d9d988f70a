//! Metadata, full-text search and version diffs.

use crate::util::{TestLake, text};

fn catalog_lake() -> TestLake {
    let lake = TestLake::new();
    lake.write("customers.csv", "customer_id,email,ssn\n1,a@x.com,123\n");
    lake.write("customers2.csv", "customer_id,email\n2,b@x.com\n");
    lake.write(
        "orders.csv",
        "order_id,customer_id,amount\n1,1,9.5\n2,1,3\n",
    );
    lake.write("events.csv", "event_id,url\n1,https://x.com\n");
    lake.cmd(["ingest", "customers.csv", "--into", "bronze.customers"])
        .assert()
        .success();
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
    lake.cmd(["ingest", "orders.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    lake.cmd(["ingest", "events.csv", "--into", "bronze.web_events"])
        .assert()
        .success();
    lake.write("jobs/silver/order_totals.sql", "-- description: Order totals per customer.\nSELECT customer_id, sum(amount) AS total FROM bronze.orders GROUP BY customer_id\n");
    lake.cmd(["promote"]).assert().success();
    lake.cmd([
        "annotate",
        "bronze.customers",
        "--description",
        "Raw CRM export",
        "--owner",
        "crm-team",
        "--label",
        "pii",
        "--label",
        "domain=sales",
        "--column",
        "email=Customer email as typed",
    ])
    .assert()
    .success();
    lake
}

fn hits(lake: &TestLake, args: &[&str]) -> Vec<String> {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    let r = lake.json(&all);
    r["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["dataset"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn annotations_show_and_are_audited() {
    let lake = catalog_lake();
    let show = lake.json(["show", "bronze.customers"]);
    assert_eq!(show["meta"]["description"], "Raw CRM export");
    assert_eq!(show["meta"]["owner"], "crm-team");
    assert_eq!(
        show["meta"]["labels"],
        serde_json::json!([["domain", "sales"], ["pii", null]])
    );
    let out = lake.cmd(["show", "bronze.customers"]).output().unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("owner    crm-team") && stdout.contains("labels   domain=sales, pii"),
        "{stdout}"
    );
    assert!(stdout.contains("-- Customer email as typed"), "{stdout}");
    lake.cmd(["annotate", "bronze.customers", "--unlabel", "pii"])
        .assert()
        .success();
    assert_eq!(
        lake.json(["show", "bronze.customers"])["meta"]["labels"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let out = lake
        .cmd(["annotate", "bronze.customers", "--column", "nope=x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let audit = rusqlite::Connection::open(lake.path().join(".lake/catalog.sqlite"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM audit WHERE action = 'annotate'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    assert_eq!(audit, 2);
    // A job's description lands on its dataset.
    assert_eq!(
        lake.json(["show", "silver.order_totals"])["meta"]["description"],
        "Order totals per customer."
    );
}

#[test]
fn search_ranks_names_descriptions_columns_docs_and_sql() {
    let lake = catalog_lake();
    assert_eq!(
        hits(&lake, &["customers"])[0],
        "bronze.customers",
        "the name ranks first"
    );
    assert!(hits(&lake, &["crm"]).contains(&"bronze.customers".to_string()));
    assert_eq!(
        hits(&lake, &["typed"]),
        ["bronze.customers"],
        "column docs are searched"
    );
    assert_eq!(
        hits(&lake, &["amount"]).len(),
        2,
        "bronze.orders by column, silver.order_totals by its SQL"
    );
    assert_eq!(hits(&lake, &["cust*"]).len(), 3, "prefix search");
    assert_eq!(hits(&lake, &["web_events"]), ["bronze.web_events"]);
    let r = lake.json(["search", "email"]);
    let matched = &r["hits"][0]["matched"];
    assert!(
        matched
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m[1].as_str().unwrap().contains("[email]")),
        "{matched}"
    );
    assert_eq!(
        hits(&lake, &["totals", "--zone", "silver"]),
        ["silver.order_totals"]
    );
    assert_eq!(
        hits(&lake, &["--label", "domain=sales"]),
        ["bronze.customers"]
    );
    assert_eq!(hits(&lake, &["--owner", "crm-team"]), ["bronze.customers"]);
}

#[test]
fn column_search_covers_past_schemas_with_ever() {
    let lake = catalog_lake();
    assert!(
        hits(&lake, &["--column", "ssn"]).is_empty(),
        "the current schema has no ssn"
    );
    assert_eq!(
        hits(&lake, &["--column", "ssn", "--ever"]),
        ["bronze.customers"]
    );
    assert_eq!(hits(&lake, &["--column", "customer_id"]).len(), 3);
    // As words too: a column only a past schema had is found with --ever, and only then.
    assert!(
        hits(&lake, &["ssn"]).is_empty(),
        "{:?}",
        hits(&lake, &["ssn"])
    );
    assert_eq!(hits(&lake, &["ssn", "--ever"]), ["bronze.customers"]);
    assert_eq!(
        hits(&lake, &["ssn", "--column", "ssn", "--ever"]),
        ["bronze.customers"]
    );
}

#[test]
fn whatever_the_user_types_is_data() {
    let lake = catalog_lake();
    for q in [
        "\"unbalanced",
        "(customers",
        "customers NEAR orders",
        "-customers",
        "cust* OR 1=1",
        "'; DROP TABLE datasets; --",
        "customers) OR (",
        "email:*",
        "^customers",
        "NOT",
    ] {
        let out = lake.cmd(["search", q, "--json"]).output().unwrap();
        assert!(out.status.success(), "{q}: {}", text(&out).1);
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(r["hits"].is_array(), "{q}");
    }
    assert_eq!(hits(&lake, &["(customers"])[0], "bronze.customers");
    let out = lake.cmd(["search", "*** ( ) -"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("nothing searchable"),
        "{}",
        text(&out).1
    );
    assert_eq!(lake.datasets().len(), 4, "the catalog is intact");
}

#[test]
fn diff_compares_schema_rows_files_and_statistics() {
    let lake = catalog_lake();
    let d = lake.json(["diff", "bronze.customers@v1", "bronze.customers@v2"]);
    assert_eq!(d["schema"][0]["change"], "removed");
    assert_eq!(d["schema"][0]["column"], "ssn");
    assert_eq!(d["rows_delta"], 0);
    assert_eq!(d["files_added"].as_array().unwrap().len(), 1);
    assert_eq!(d["files_removed"].as_array().unwrap().len(), 1);
    let left = &d["left"]["stats"];
    assert_eq!(left[0]["column"], "customer_id");
    assert_eq!(left[0]["min"], "1");
    assert_eq!(d["right"]["stats"][0]["max"], "2");
    assert_eq!(left[0]["null_count"], 0);
    let out = lake
        .cmd(["diff", "bronze.customers@v1", "bronze.customers@v2"])
        .output()
        .unwrap();
    let (stdout, _) = text(&out);
    assert!(stdout.contains("- ssn int64"), "{stdout}");
    assert!(stdout.contains("customer_id"), "{stdout}");
}
