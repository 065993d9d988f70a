use crate::util::{TestLake, orders_csv, text};

fn lake_with_three_versions() -> TestLake {
    let lake = TestLake::new();
    for (i, at) in [
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
        "2026-03-01T00:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("o{i}.csv");
        lake.write(&name, orders_csv(10, i * 10));
        lake.cmd(["ingest", &name, "--into", "bronze.orders"])
            .env("LAKE_NOW", at)
            .assert()
            .success();
    }
    lake
}

#[test]
fn log_lists_versions_newest_first() {
    let lake = lake_with_three_versions();
    let log = lake.json(["log", "bronze.orders"]);
    let versions: Vec<u64> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [3, 2, 1]);
    assert_eq!(log[0]["ref"], "bronze.orders@v3");
    assert_eq!(log[0]["rows"], 30);
    let out = lake.cmd(["log", "bronze.orders"]).output().unwrap();
    let (stdout, _) = text(&out);
    let first: Vec<&str> = stdout.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &first[..4],
        ["v3", "2026-03-01T00:00:00.000000Z", "ingest", "append"]
    );
}

#[test]
fn show_resolves_every_kind_of_ref() {
    let lake = lake_with_three_versions();
    let v2 = lake.json(["show", "bronze.orders@v2"]);
    let digest = v2["digest"].as_str().unwrap().to_string();
    for (r, expect) in [
        ("bronze.orders", 3),
        ("bronze.orders@latest", 3),
        ("bronze.orders@latest~2", 1),
        ("bronze.orders@2026-02-15T00:00:00Z", 2),
        ("bronze.orders@2026-03-01", 3),
    ] {
        assert_eq!(lake.json(["show", r])["version"], expect, "{r}");
    }
    let by_digest = format!("bronze.orders@sha256:{}", &digest[..10]);
    assert_eq!(lake.json(["show", &by_digest])["version"], 2);
}

#[test]
fn show_and_log_of_unknown_things_fail_with_hints() {
    let lake = lake_with_three_versions();
    let out = lake.cmd(["show", "bronze.order"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, err) = text(&out);
    assert!(err.contains("dataset `bronze.order` not found"), "{err}");
    assert!(err.contains("did you mean `bronze.orders`"), "{err}");

    let out = lake.cmd(["show", "bronze.orders@v9"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, err) = text(&out);
    assert!(err.contains("no version matching `@v9`"), "{err}");
    assert!(err.contains("lake log bronze.orders"), "{err}");

    let out = lake
        .cmd(["show", "bronze.orders@2020-01-01"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn malformed_refs_exit_2() {
    let lake = lake_with_three_versions();
    for r in [
        "bronze.orders@v0",
        "bronze.orders@",
        "bronze.orders@latest~x",
        "bronze.orders@sha256:zz",
        "bronze.orders@2026-13-45T00:00:00Z",
        "Bronze.orders",
        "orders",
    ] {
        let out = lake.cmd(["show", r]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{r}: {}", text(&out).1);
    }
}

#[test]
fn ls_filters_by_zone_and_reports_latest_versions() {
    let lake = lake_with_three_versions();
    lake.write("c.csv", "id,name\n1,a\n");
    lake.cmd(["ingest", "c.csv", "--into", "bronze.customers"])
        .assert()
        .success();
    let all = lake.json(["ls"]);
    assert_eq!(all[0]["dataset"], "bronze.customers");
    assert_eq!(all[1]["dataset"], "bronze.orders");
    assert_eq!(all[1]["latest"], 3);
    assert_eq!(all[1]["versions"], 3);
    assert_eq!(all[1]["rows"], 30);
    assert_eq!(lake.json(["ls", "--zone", "silver"]), serde_json::json!([]));
    let out = lake.cmd(["ls", "--zone", "platinum"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn show_prints_schema_sources_and_files() {
    let lake = lake_with_three_versions();
    let out = lake.cmd(["show", "bronze.orders@v1"]).output().unwrap();
    assert!(out.status.success());
    let (stdout, _) = text(&out);
    assert!(stdout.starts_with("bronze.orders@v1  active\n"), "{stdout}");
    let lines: Vec<String> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    for expect in [
        "order_id int64",
        "amount float64",
        "paid bool",
        "ordered_at timestamp[us]",
        "note string",
    ] {
        assert!(
            lines.iter().any(|l| l == expect),
            "missing {expect:?} in\n{stdout}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("size 10 rows, ") && l.ends_with(", 1 file")),
        "{stdout}"
    );
    assert!(stdout.contains("o0.csv  csv  10 rows"), "{stdout}");
    assert!(stdout.contains("bronze/orders/data/"), "{stdout}");
}
