//! Tags, rules, archive, restore, expiry, gc, check and du, with a clock the tests set.

use std::path::PathBuf;

use serde_json::Value;

use crate::util::{TestLake, orders_csv, refs, text};

/// bronze.orders with v1..v4 made on Jan 1..4 by overwrites (each version has its own file).
fn aged_lake() -> TestLake {
    let lake = TestLake::new();
    for day in 1..=4 {
        lake.ingest_on_day("bronze.orders", day, 2000);
    }
    lake
}

fn at(lake: &TestLake, when: &str, args: &[&str]) -> std::process::Output {
    lake.cmd(args).env("LAKE_NOW", when).output().unwrap()
}

fn json_at(lake: &TestLake, when: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = at(lake, when, &all);
    assert!(out.status.success(), "{:?}: {}", args, text(&out).1);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn hot(lake: &TestLake, key: &str) -> PathBuf {
    lake.path().join("lake-data").join(key)
}

fn cold(lake: &TestLake, key: &str) -> PathBuf {
    lake.path().join("lake-archive").join(key)
}

#[test]
fn tags_point_move_and_resolve() {
    let lake = aged_lake();
    let r = lake.json(["tag", "bronze.orders@v1", "train-2026-01"]);
    assert_eq!(r["ref"], "bronze.orders@v1");
    assert_eq!(
        lake.json(["show", "bronze.orders@train-2026-01"])["version"],
        1
    );
    let moved = lake.json(["tag", "bronze.orders@v2", "train-2026-01"]);
    assert_eq!(moved["moved_from"], "bronze.orders@v1");
    assert_eq!(
        lake.json(["show", "bronze.orders@train-2026-01"])["tags"][0],
        "train-2026-01"
    );
    let log = lake.json(["log", "bronze.orders"]);
    assert_eq!(
        log[2]["tags"][0], "train-2026-01",
        "v2 carries the tag in the log"
    );
    lake.cmd(["tag", "-d", "bronze.orders", "train-2026-01"])
        .assert()
        .success();
    let out = lake
        .cmd(["show", "bronze.orders@train-2026-01"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = lake
        .cmd(["tag", "-d", "bronze.orders", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    for bad in ["v9", "latest", "2026-01-01", "2026-01-01t00-00"] {
        let out = lake.cmd(["tag", "bronze.orders@v1", bad]).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "a tag may not look like a version or a time: {bad}"
        );
    }
    // Further back than there are versions is no version, however far.
    for back in ["latest~4", "latest~9223372036854775807"] {
        let out = lake
            .cmd(["show", &format!("bronze.orders@{back}")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{back}");
    }
}

#[test]
fn archive_moves_old_untagged_versions_and_reads_fail_fast() {
    let lake = aged_lake();
    lake.cmd(["tag", "bronze.orders@v2", "keep"])
        .assert()
        .success();
    let rule = lake.json([
        "rule",
        "add",
        "--zone",
        "bronze",
        "--archive-after",
        "30d",
        "--keep-last",
        "2",
    ]);
    assert_eq!(rule["archive_after_s"], 30 * 86_400);

    // Not old enough yet: nothing moves.
    let early = json_at(&lake, "2026-01-20T00:00:00Z", &["archive"]);
    assert!(early["archived"].as_array().unwrap().is_empty());

    // A dry run plans and moves nothing.
    let v1_files = lake.file_paths("bronze.orders@v1");
    let plan = json_at(&lake, "2026-03-01T00:00:00Z", &["archive", "--dry-run"]);
    let planned = refs(&plan["archived"]);
    assert_eq!(
        planned,
        ["bronze.orders@v1"],
        "v4 is the latest, v3 within keep-last 2, v2 tagged"
    );
    assert!(hot(&lake, &v1_files[0]).exists());
    assert_eq!(lake.state("bronze.orders@v1"), "active");

    let done = json_at(&lake, "2026-03-01T00:00:00Z", &["archive"]);
    assert_eq!(done["files_archived"], 1);
    assert!(
        !hot(&lake, &v1_files[0]).exists(),
        "removed from the hot tier"
    );
    assert!(
        cold(&lake, &v1_files[0]).exists(),
        "present in the archive tier"
    );
    let show = lake.json(["show", "bronze.orders@v1"]);
    assert_eq!(show["state"], "archived");
    assert_eq!(show["archive_rule"], rule["id"]);
    assert_eq!(show["archived_at"], "2026-03-01T00:00:00.000000Z");
    assert_eq!(lake.state("bronze.orders@v2"), "active");

    let out = lake
        .cmd([
            "query",
            "SELECT count(*) FROM bronze.orders",
            "--at",
            "bronze.orders=v1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .contains("hint: `lake restore bronze.orders@v1`"),
        "{}",
        text(&out).1
    );

    // Run again: nothing left to do.
    let again = json_at(&lake, "2026-03-01T00:00:00Z", &["archive"]);
    assert!(again["archived"].as_array().unwrap().is_empty());
}

#[test]
fn shared_files_stay_hot_while_a_live_version_needs_them() {
    let lake = TestLake::new();
    for day in 1..=2 {
        let name = format!("o{day}.csv");
        lake.write(&name, orders_csv(100, day * 1000));
        lake.cmd(["ingest", &name, "--into", "bronze.events"])
            .env("LAKE_NOW", format!("2026-01-0{day}T00:00:00Z"))
            .assert()
            .success();
    }
    // v2 appends: it references v1's file and its own.
    lake.cmd(["rule", "add", "--archive-after", "1d"])
        .assert()
        .success();
    let r = json_at(&lake, "2026-02-01T00:00:00Z", &["archive"]);
    assert_eq!(r["archived"][0]["ref"], "bronze.events@v1");
    assert_eq!(r["files_archived"], 0, "v1's only file is still used by v2");
    let v1 = lake.file_paths("bronze.events@v1");
    assert!(hot(&lake, &v1[0]).exists());
    let du = lake.json(["du"]);
    let versions = du["datasets"][0]["versions"].as_array().unwrap();
    assert_eq!(versions[0]["alone_bytes"], 0, "v1 holds nothing alone");
    assert!(versions[1]["alone_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn restore_brings_a_version_back_verified() {
    let lake = aged_lake();
    lake.cmd(["rule", "add", "--archive-after", "30d"])
        .assert()
        .success();
    json_at(&lake, "2026-03-01T00:00:00Z", &["archive"]);
    let v1 = lake.file_paths("bronze.orders@v1");
    let plan = lake.json(["restore", "bronze.orders@v1", "--dry-run"]);
    assert_eq!(plan["files"], 1);
    assert!(cold(&lake, &v1[0]).exists());
    let r = lake.json(["restore", "bronze.orders@v1"]);
    assert_eq!(r["files"], 1);
    assert!(hot(&lake, &v1[0]).exists());
    assert!(!cold(&lake, &v1[0]).exists(), "one copy, not two");
    assert_eq!(lake.state("bronze.orders@v1"), "active");
    assert_eq!(
        lake.query_csv(
            "SELECT count(*) AS n FROM bronze.orders",
            &["bronze.orders=v1"]
        ),
        "n\n2000\n"
    );
    let again = lake.json(["restore", "bronze.orders@v1"]);
    assert_eq!(again["already_active"], true);
    lake.cmd(["check", "--verify-hashes"]).assert().success();
}

#[test]
fn expiry_deletes_archived_data_and_keeps_a_tombstone() {
    let lake = aged_lake();
    let rule = lake.json([
        "rule",
        "add",
        "--zone",
        "bronze",
        "--archive-after",
        "30d",
        "--expire-after",
        "60d",
    ]);
    json_at(&lake, "2026-02-15T00:00:00Z", &["archive"]);
    assert_eq!(lake.state("bronze.orders@v1"), "archived");
    let v1 = lake.file_paths("bronze.orders@v1");
    let r = json_at(&lake, "2026-03-15T00:00:00Z", &["archive"]);
    let expired = refs(&r["expired"]);
    assert_eq!(
        expired,
        ["bronze.orders@v3", "bronze.orders@v2", "bronze.orders@v1"]
    );
    assert!(
        !cold(&lake, &v1[0]).exists() && !hot(&lake, &v1[0]).exists(),
        "the data is gone"
    );
    let show = lake.json(["show", "bronze.orders@v1"]);
    assert_eq!(show["state"], "expired");
    assert_eq!(show["expire_rule"], rule["id"]);
    assert_eq!(show["expired_at"], "2026-03-15T00:00:00.000000Z");
    assert_eq!(show["rows"], 2000, "the record stays");
    let log = lake.json(["log", "bronze.orders"]);
    assert_eq!(log.as_array().unwrap().len(), 4);
    let out = lake.cmd(["restore", "bronze.orders@v1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("has expired"), "{}", text(&out).1);
    assert_eq!(
        lake.state("bronze.orders@v4"),
        "active",
        "the latest is never archived"
    );
    lake.cmd(["check", "--verify-hashes"]).assert().success();
}

#[test]
fn keep_inputs_spares_versions_live_data_was_built_from() {
    let lake = aged_lake();
    lake.write(
        "jobs/silver/orders.sql",
        "SELECT order_id FROM bronze.orders\n",
    );
    lake.cmd(["promote", "--at", "bronze.orders=v1"])
        .env("LAKE_NOW", "2026-01-05T00:00:00Z")
        .assert()
        .success();
    lake.cmd([
        "rule",
        "add",
        "--zone",
        "bronze",
        "--archive-after",
        "30d",
        "--keep-inputs",
    ])
    .assert()
    .success();
    let r = json_at(&lake, "2026-03-01T00:00:00Z", &["archive", "--dry-run"]);
    let planned = refs(&r["archived"]);
    assert_eq!(
        planned,
        ["bronze.orders@v3", "bronze.orders@v2"],
        "v1 feeds silver.orders@v1"
    );
}

#[test]
fn rules_are_listed_removed_and_seeded_from_the_config() {
    let lake = aged_lake();
    let mut config = std::fs::read_to_string(lake.path().join("lake.toml")).unwrap();
    config.push_str("\n[[rules]]\nzone = \"bronze\"\ndataset = \"ord*\"\narchive_after = \"45d\"\nkeep_last = 1\n");
    std::fs::write(lake.path().join("lake.toml"), config).unwrap();
    json_at(&lake, "2026-01-10T00:00:00Z", &["archive"]);
    let rules = lake.json(["rule", "ls"]);
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(rules[0]["origin"], "config");
    assert_eq!(rules[0]["dataset_glob"], "ord*");
    assert_eq!(rules[0]["archive_after_s"], 45 * 86_400);
    json_at(&lake, "2026-01-10T00:00:00Z", &["archive"]);
    assert_eq!(
        lake.json(["rule", "ls"]).as_array().unwrap().len(),
        1,
        "seeding twice adds nothing"
    );
    let id = rules[0]["id"].as_i64().unwrap().to_string();
    lake.cmd(["rule", "rm", &id]).assert().success();
    let out = lake.cmd(["rule", "rm", "999"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = lake
        .cmd(["rule", "add", "--archive-after", "3 fortnights"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let added = lake.json(["rule", "add", "--archive-after", "1w 3d"]);
    assert_eq!(added["archive_after_s"], 10 * 86_400, "{added}");
    let out = lake
        .cmd(["rule", "add", "--zone", "bronze"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_archive_killed_at_any_point_finishes_when_run_again() {
    let lake = TestLake::new();
    lake.configure("ingest", "target_file_mb", "1");
    // Several versions with several files each, so a kill lands in the middle of the work.
    for day in 1..=4 {
        let name = format!("o{day}.csv");
        let mut csv = String::from("id,token\n");
        for i in 0..150_000u64 {
            csv.push_str(&format!(
                "{i},{:016x}\n",
                (i + day * 1_000_000).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ));
        }
        lake.write(&name, csv);
        lake.cmd([
            "ingest",
            &name,
            "--into",
            "bronze.big",
            "--mode",
            "overwrite",
        ])
        .env("LAKE_NOW", format!("2026-01-0{day}T00:00:00Z"))
        .assert()
        .success();
    }
    lake.cmd(["rule", "add", "--archive-after", "1d"])
        .assert()
        .success();
    let mut killed = 0;
    for delay_ms in [5u64, 20, 40, 80, 160] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("lake"))
            .current_dir(lake.path())
            .env("LAKE_NOW", "2026-02-01T00:00:00Z")
            .args(["archive", "--quiet"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        // SIGKILL: no cleanup of any kind.
        let _ = std::process::Command::new("kill")
            .args(["-9", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    json_at(&lake, "2026-02-01T00:00:00Z", &["archive"]);
    for v in 1..=3 {
        assert_eq!(lake.state(&format!("bronze.big@v{v}")), "archived", "v{v}");
        for key in lake.file_paths(&format!("bronze.big@v{v}")) {
            assert!(cold(&lake, &key).exists(), "{key} is in the archive tier");
            assert!(!hot(&lake, &key).exists(), "{key} has no second copy");
        }
    }
    for key in lake.file_paths("bronze.big@v4") {
        assert!(hot(&lake, &key).exists());
    }
    let check = lake.json(["check", "--verify-hashes"]);
    assert_eq!(check["integrity_failures"], 0, "{check}");
    let out = lake.cmd(["restore", "bronze.big@v2"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(killed >= 1, "no run was killed while still working");
}

#[test]
fn gc_removes_unreferenced_objects_past_the_grace_period() {
    let lake = aged_lake();
    let orphan = lake.write(
        "lake-data/bronze/orders/data/crashed-00000.parquet",
        "half a file",
    );
    let leftover = lake.write(
        "lake-archive/bronze/orders/data/leftover-00000.parquet",
        "x",
    );
    let referenced = lake.file_paths("bronze.orders@v4");
    let dry = lake.json(["gc", "--dry-run"]);
    assert_eq!(dry["orphans"].as_array().unwrap().len(), 2);
    assert!(
        dry["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["kept"] == true),
        "younger than 1h"
    );
    // Grace is real time: a fixed clock in the future does not make young objects old.
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    let dry = json_at(&lake, &later.to_rfc3339(), &["gc", "--dry-run"]);
    assert_eq!(dry["deleted"], 0, "{dry:#}");
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for f in [&orphan, &leftover] {
        std::fs::File::options()
            .write(true)
            .open(f)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
    }
    let dry = lake.json(["gc", "--dry-run"]);
    assert_eq!(dry["deleted"], 2);
    assert!(orphan.exists(), "a dry run deletes nothing");
    let done = lake.json(["gc"]);
    assert_eq!(done["deleted"], 2);
    assert!(!orphan.exists());
    assert!(hot(&lake, &referenced[0]).exists());
    lake.cmd(["check", "--verify-hashes"]).assert().success();
}

#[test]
fn check_finds_missing_and_altered_data_and_repairs_what_it_can() {
    let lake = aged_lake();
    let v4 = lake.file_paths("bronze.orders@v4");
    let v3 = lake.file_paths("bronze.orders@v3");
    lake.cmd(["check"]).assert().success();
    // Altered bytes of the same size: only --verify-hashes sees them.
    let mut bytes = std::fs::read(hot(&lake, &v4[0])).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(hot(&lake, &v4[0]), &bytes).unwrap();
    lake.cmd(["check"]).assert().success();
    let out = lake.cmd(["check", "--verify-hashes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out)
            .0
            .contains(&format!("problem sha256: hot {}", v4[0])),
        "{}",
        text(&out).0
    );
    // A missing file, whose verified copy sits in the archive tier: --repair copies it back.
    std::fs::create_dir_all(cold(&lake, &v3[0]).parent().unwrap()).unwrap();
    std::fs::rename(hot(&lake, &v3[0]), cold(&lake, &v3[0])).unwrap();
    let out = lake.cmd(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out).0.contains("problem missing"), "{}", text(&out).0);
    let r = lake.json(["check", "--repair"]);
    let repaired: Vec<&Value> = r["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["repaired"] == true)
        .collect();
    assert_eq!(repaired.len(), 1);
    assert!(hot(&lake, &v3[0]).exists() && !cold(&lake, &v3[0]).exists());
    // The altered file has no right answer to repair to: still exit 3.
    let out = lake
        .cmd(["check", "--verify-hashes", "--repair"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    // A missing manifest is reported.
    let manifest = lake.json(["show", "bronze.orders@v1"])["manifest_key"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(hot(&lake, &manifest)).unwrap();
    let out = lake.cmd(["check"]).output().unwrap();
    assert!(
        text(&out).0.contains("manifest_missing"),
        "{}",
        text(&out).0
    );
}

#[test]
fn du_reports_bytes_per_zone_dataset_and_version() {
    let lake = aged_lake();
    lake.cmd(["rule", "add", "--archive-after", "30d"])
        .assert()
        .success();
    json_at(&lake, "2026-03-01T00:00:00Z", &["archive"]);
    let du = lake.json(["du", "bronze.orders"]);
    let d = &du["datasets"][0];
    let versions = d["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 4);
    assert_eq!(versions[0]["state"], "archived");
    assert_eq!(versions[0]["hot_bytes"], 0);
    assert!(versions[0]["archive_bytes"].as_u64().unwrap() > 0);
    assert_eq!(versions[3]["state"], "active");
    assert_eq!(versions[3]["alone_bytes"], versions[3]["bytes"]);
    assert_eq!(du["zones"]["bronze"][1], d["archive_bytes"]);
    let out = lake.cmd(["du"]).output().unwrap();
    assert!(text(&out).0.contains("total "), "{}", text(&out).0);
}

/// Run `lake ARGS` on a pseudo-terminal (python3's `pty`), answering `answer` to its question;
/// (exit code, everything it wrote).
fn on_a_terminal(lake: &TestLake, when: &str, args: &[&str], answer: &str) -> (i32, String) {
    let script = r#"
import os, pty, sys, time
lake, answer, args = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(lake, [lake, *args])
out, answered = b"", False
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not answered and b"[y/N]" in out:
        os.write(fd, answer.encode() + b"\n")
        answered = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let bin = assert_cmd::cargo::cargo_bin("lake");
    let out = std::process::Command::new("python3")
        .current_dir(lake.path())
        .env("LAKE_NOW", when)
        .env("NO_COLOR", "1")
        .arg("-c")
        .arg(script)
        .arg(&bin)
        .arg(answer)
        .args(args)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), text(&out).0)
}

#[test]
fn expiry_and_erasure_ask_on_a_terminal_and_take_yes_for_an_answer() {
    let lake = aged_lake();
    lake.cmd([
        "rule",
        "add",
        "--zone",
        "bronze",
        "--archive-after",
        "30d",
        "--expire-after",
        "60d",
    ])
    .assert()
    .success();
    json_at(&lake, "2026-02-15T00:00:00Z", &["archive"]);
    let later = "2026-03-15T00:00:00Z";
    let (code, said) = on_a_terminal(&lake, later, &["archive"], "n");
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("for good") && said.contains("nothing changed"),
        "{said}"
    );
    assert_eq!(
        lake.state("bronze.orders@v1"),
        "archived",
        "a no keeps the data"
    );
    let (code, said) = on_a_terminal(&lake, later, &["archive"], "y");
    assert_eq!(code, 0, "{said}");
    assert_eq!(lake.state("bronze.orders@v1"), "expired");

    let (code, said) = on_a_terminal(
        &lake,
        later,
        &[
            "erase",
            "--where",
            "order_id = 40003",
            "--dataset",
            "bronze.orders",
            "--all-versions",
        ],
        "n",
    );
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("nothing changed"), "{said}");
    assert_eq!(
        lake.json(["erase", "--log"])["erasures"],
        serde_json::json!([])
    );
    // --yes asks nothing, on a terminal or not.
    let (code, said) = on_a_terminal(
        &lake,
        later,
        &[
            "erase",
            "--where",
            "order_id = 40003",
            "--dataset",
            "bronze.orders",
            "--all-versions",
            "--yes",
        ],
        "",
    );
    assert_eq!(code, 0, "{said}");
    assert!(!said.contains("[y/N]"), "{said}");
    assert_eq!(
        lake.json(["erase", "--log"])["erasures"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_catalog_backup_taken_beside_writers_is_a_whole_catalog_of_some_moment() {
    let lake = TestLake::new();
    lake.ingest_orders("bronze.orders", 1, 100);
    let writers: Vec<_> = (0..3)
        .map(|i| {
            let name = format!("w{i}.csv");
            lake.write(&name, orders_csv(100, 1000 * (i + 1)));
            lake.spawn(&["ingest", &name, "--into", "bronze.orders"])
        })
        .collect();
    let backups: Vec<_> = (0..3)
        .map(|i| {
            let file = lake.path().join(format!("backup-{i}.sqlite"));
            lake.cmd(["catalog", "backup", file.to_str().unwrap()])
                .assert()
                .success();
            file
        })
        .collect();
    for w in writers {
        assert!(w.wait_with_output().unwrap().status.success());
    }
    for file in backups {
        // Each copy opens as a catalog: versions from v1 up with no gap, every file intact.
        let with = |args: &[&str]| {
            let out = lake.cmd(args).env("LAKE_CATALOG", &file).output().unwrap();
            assert!(out.status.success(), "{}", text(&out).1);
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };
        let log = with(&["log", "bronze.orders", "--json"]);
        let versions: Vec<u64> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect();
        let n = versions.len() as u64;
        assert!((1..=4).contains(&n), "{log}");
        assert_eq!(versions, (1..=n).rev().collect::<Vec<_>>(), "{log}");
        let shown = with(&["show", "bronze.orders", "--json"]);
        assert_eq!(shown["rows"], 100 * n, "{shown}");
        let check = with(&["check", "--verify-hashes", "--json"]);
        assert_eq!(check["integrity_failures"], 0, "{check}");
    }
}
