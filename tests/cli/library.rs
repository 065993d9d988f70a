//! `lake` as a library: a crate of its own (`examples/pinned-read`) depends on it with
//! `default-features = false` and reads the versions a lock file pins.

use std::path::PathBuf;
use std::process::Command;

use crate::util::TestLake;

/// Cargo with the environment of the shell that ran the tests: the variables the test runner
/// sets for a test (`CARGO_MANIFEST_DIR`, …) would make build scripts that watch them run again,
/// and everything built on them with them.
fn cargo_command(cargo: &str) -> Command {
    let mut command = Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_for_tests = (name.starts_with("CARGO_")
            && !matches!(&*name, "CARGO_HOME" | "CARGO_TARGET_DIR"))
            || name.starts_with("NEXTEST")
            || name.starts_with("RUST_TEST")
            || name == "OUT_DIR";
        if set_for_tests {
            command.env_remove(&*name);
        }
    }
    command
}

/// Build the downstream crate and return its binary, beside the `lake` binary under test.
fn pinned_read() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = env!("CARGO_MANIFEST_DIR");
    let out = cargo_command(&cargo)
        .args(["build", "--quiet", "-p", "pinned-read"])
        .current_dir(root)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "pinned-read builds: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What the library pulls in without its `cli` feature: none of the CLI's own crates
    // (tracing-subscriber stays: the Delta kernel depends on it).
    let tree = cargo_command(&cargo)
        .args([
            "tree",
            "-p",
            "pinned-read",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(root)
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&tree.stdout);
    for crate_name in ["clap ", "clap_complete ", "indicatif "] {
        assert!(
            !tree.lines().any(|l| l.starts_with(crate_name)),
            "{crate_name}is built for the library alone"
        );
    }
    assert_cmd::cargo::cargo_bin("lake")
        .parent()
        .expect("a target folder")
        .join("pinned-read")
}

#[test]
fn a_crate_without_the_cli_reads_pinned_versions_as_the_lock_says() {
    let lake = TestLake::new();
    let mut csv = String::from("id,amount\n");
    for i in 0..500 {
        csv.push_str(&format!("{i},{}\n", i % 17));
    }
    lake.write("a.csv", &csv);
    lake.write("b.csv", "id,amount\n1000,1\n1001,2\n");
    lake.cmd(["ingest", "a.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    lake.cmd(["ingest", "b.csv", "--into", "bronze.orders"])
        .assert()
        .success();
    lake.cmd(["ingest", "b.csv", "--into", "bronze.refunds"])
        .assert()
        .success();
    lake.cmd(["pin", "bronze.orders@v1", "bronze.refunds"])
        .assert()
        .success();

    let bin = pinned_read();
    let lock = lake.path().join("lake.lock");
    let out = Command::new(&bin)
        .arg(lake.path())
        .arg(&lock)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let expect = |r: &str| {
        let show = lake.json(["show", r]);
        format!(
            "{r} {} {} {}",
            show["digest"].as_str().unwrap(),
            show["rows"],
            show["rows"]
        )
    };
    assert_eq!(
        lines,
        [expect("bronze.orders@v1"), expect("bronze.refunds@v1")]
    );
    assert!(
        lines[0].ends_with(" 500 500"),
        "v1, not the latest: {lines:?}"
    );

    // A pinned file gone: the lock does not verify and nothing is read.
    let show = lake.json(["show", "bronze.orders@v1"]);
    let file = show["files"][0]["path"].as_str().unwrap();
    std::fs::remove_file(lake.path().join("lake-data").join(file)).unwrap();
    let out = Command::new(&bin)
        .arg(lake.path())
        .arg(&lock)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not verify"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
