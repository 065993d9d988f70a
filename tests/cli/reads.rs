//! Pinned reads from the shell: lock files, verify, get, manifest, scan, and Python reading
//! the same rows per shard with no `lake` installed.

use serde_json::Value;

use crate::util::{TestLake, text};

fn lake_with_data() -> TestLake {
    let lake = TestLake::new();
    lake.configure("ingest", "row_group_rows", "100");
    let mut csv = String::from("id,score\n");
    for i in 0..1234 {
        csv.push_str(&format!("{i},{}\n", (i * 37) % 101));
    }
    lake.write("rows.csv", csv);
    lake.cmd(["ingest", "rows.csv", "--into", "bronze.rows"])
        .assert()
        .success();
    lake.cmd(["tag", "bronze.rows@v1", "train-1"])
        .assert()
        .success();
    lake
}

fn scan_ids(lake: &TestLake, args: &[&str]) -> Vec<i64> {
    let mut all = vec![
        "scan",
        "bronze.rows@train-1",
        "--columns",
        "id",
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    let out = lake.cmd(&all).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    text(&out)
        .0
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

#[test]
fn pin_writes_a_deterministic_lock_and_verify_checks_it() {
    let lake = lake_with_data();
    lake.cmd(["pin", "bronze.rows@train-1"]).assert().success();
    let lock = std::fs::read_to_string(lake.path().join("lake.lock")).unwrap();
    assert!(lock.contains("ref = \"bronze.rows@v1\""), "{lock}");
    assert!(
        lock.contains("requested = \"bronze.rows@train-1\""),
        "{lock}"
    );
    lake.cmd(["pin", "bronze.rows@train-1"]).assert().success();
    assert_eq!(
        std::fs::read_to_string(lake.path().join("lake.lock")).unwrap(),
        lock,
        "deterministic"
    );
    let ok = lake.json(["verify"]);
    assert_eq!(ok["problems"], serde_json::json!([]));
    // Alter one byte of a data file: verify names it and exits 3.
    let manifest: Value =
        serde_json::from_str(&text(&lake.cmd(["manifest", "bronze.rows@v1"]).output().unwrap()).0)
            .unwrap();
    let key = manifest["files"][0]["path"].as_str().unwrap().to_string();
    let path = lake.path().join("lake-data").join(&key);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let out = lake.cmd(["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out).0.contains(&key), "{}", text(&out).0);
    std::fs::remove_file(&path).unwrap();
    let out = lake.cmd(["verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out).0.contains("missing"), "{}", text(&out).0);
    let out = lake.cmd(["verify", "nope.lock"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn get_downloads_a_verified_copy_and_manifest_prints_the_contract() {
    let lake = lake_with_data();
    let r = lake.json(["get", "bronze.rows@train-1", "-o", "copy"]);
    assert_eq!(r["version"], 1);
    let manifest_text = text(&lake.cmd(["manifest", "bronze.rows@v1"]).output().unwrap()).0;
    let manifest: Value = serde_json::from_str(&manifest_text).unwrap();
    for f in manifest["files"].as_array().unwrap() {
        assert!(
            lake.path()
                .join("copy")
                .join(f["path"].as_str().unwrap())
                .exists()
        );
    }
    assert!(
        lake.path()
            .join("copy/_lake/manifests/bronze/rows/v000001.json")
            .exists()
    );
}

#[test]
fn scan_shards_are_disjoint_complete_and_reproducible() {
    let lake = lake_with_data();
    let mut all: Vec<i64> = Vec::new();
    for rank in 0..3 {
        all.extend(scan_ids(&lake, &["--shard", &format!("{rank}/3")]));
    }
    all.sort();
    assert_eq!(all, (0..1234).collect::<Vec<_>>());
    let a = scan_ids(&lake, &["--seed", "9", "--epoch", "1", "--buffer", "300"]);
    assert_eq!(
        a,
        scan_ids(&lake, &["--seed", "9", "--epoch", "1", "--buffer", "300"])
    );
    assert_ne!(
        a,
        scan_ids(&lake, &["--seed", "9", "--epoch", "2", "--buffer", "300"])
    );
    let out = lake
        .cmd(["scan", "bronze.rows", "--shard", "3/3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn python_reads_the_same_rows_per_shard_without_lake() {
    let Some(python) = std::env::var("LAKE_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        eprintln!("skipping: LAKE_TEST_PYTHON is not set (scripts/test.sh installs pyarrow)");
        return;
    };
    let lake = lake_with_data();
    lake.cmd(["pin", "bronze.rows@train-1"]).assert().success();
    let module = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
    for world in [1, 2, 3] {
        for rank in 0..world {
            let rust = scan_ids(&lake, &["--shard", &format!("{rank}/{world}")]);
            let script = format!(
                "import sys; sys.path.insert(0, {module:?}); import lake_manifest as lm\n\
                 m = lm.Manifest.from_lock('lake.lock', 'bronze.rows', root='lake-data')\n\
                 t = m.read(columns=['id'], shard=({rank}, {world}))\n\
                 print(','.join(str(x) for x in t.column('id').to_pylist()))",
                module = module.display().to_string()
            );
            let out = std::process::Command::new(&python)
                .current_dir(lake.path())
                .args(["-c", &script])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let py: Vec<i64> = String::from_utf8_lossy(&out.stdout)
                .trim()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            assert_eq!(py, rust, "shard {rank}/{world}");
        }
    }
    // A manifest that no longer matches the lock is refused.
    let manifest = lake
        .path()
        .join("lake-data/_lake/manifests/bronze/rows/v000001.json");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push(' ');
    std::fs::write(&manifest, text).unwrap();
    let out = std::process::Command::new(&python)
        .current_dir(lake.path())
        .args([
            "-c",
            &format!(
                "import sys; sys.path.insert(0, {:?}); import lake_manifest as lm\nlm.Manifest.from_lock('lake.lock', 'bronze.rows', root='lake-data')",
                module.display().to_string()
            ),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("IntegrityError"));
}
