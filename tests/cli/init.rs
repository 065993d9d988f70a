use crate::util::{TestLake, text};

#[test]
fn init_creates_config_and_catalog() {
    let lake = TestLake::empty();
    let report = lake.json(["init"]);
    assert!(lake.path().join("lake.toml").is_file());
    assert!(lake.path().join(".lake/catalog.sqlite").is_file());
    assert!(report["root"].as_str().unwrap().ends_with("lake-data"));
    assert!(
        report["archive"]
            .as_str()
            .unwrap()
            .ends_with("lake-archive")
    );
    assert_eq!(lake.datasets(), Vec::<String>::new());
}

#[test]
fn init_into_a_named_folder_with_custom_roots() {
    let lake = TestLake::empty();
    lake.cmd(["init", "proj", "--root", "data", "--archive", "cold"])
        .assert()
        .success();
    let config = std::fs::read_to_string(lake.path().join("proj/lake.toml")).unwrap();
    assert!(config.contains("root = \"data\""), "{config}");
    assert!(config.contains("archive = \"cold\""), "{config}");
    lake.cmd(["-C", "proj", "ls"]).assert().success();
}

#[test]
fn init_twice_is_an_error_that_keeps_the_lake() {
    let lake = TestLake::new();
    lake.write("o.csv", "id\n1\n");
    lake.cmd(["ingest", "o.csv", "--into", "bronze.o"])
        .assert()
        .success();
    let out = lake.cmd(["init"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, err) = text(&out);
    assert!(err.contains("a lake already exists"), "{err}");
    assert_eq!(lake.datasets(), ["bronze.o"]);
}

#[test]
fn commands_outside_a_lake_exit_2_with_a_hint() {
    let lake = TestLake::empty();
    let out = lake.cmd(["ls"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (_, err) = text(&out);
    assert!(err.contains("no lake project found"), "{err}");
    assert!(err.contains("hint: `lake init`"), "{err}");
}

#[test]
fn commands_find_the_lake_from_a_subfolder_and_from_lake_dir() {
    let lake = TestLake::new();
    std::fs::create_dir_all(lake.path().join("a/b")).unwrap();
    lake.cmd(["ls"])
        .current_dir(lake.path().join("a/b"))
        .assert()
        .success();
    let elsewhere = tempfile::tempdir().unwrap();
    lake.cmd(["ls"])
        .current_dir(elsewhere.path())
        .env("LAKE_DIR", lake.path())
        .assert()
        .success();
    // An empty LAKE_DIR is no LAKE_DIR.
    lake.cmd(["ls"]).env("LAKE_DIR", "").assert().success();
}

#[test]
fn a_broken_config_names_the_file_and_exits_2() {
    let lake = TestLake::new();
    lake.configure("ingest", "zstd_level", "99");
    let out = lake.cmd(["ls"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (_, err) = text(&out);
    assert!(
        err.contains("lake.toml") && err.contains("ingest.zstd_level"),
        "{err}"
    );
}

#[test]
fn init_keeps_the_catalog_and_local_data_out_of_git_and_warns_of_the_salt() {
    let lake = TestLake::empty();
    lake.write(".gitignore", "target/");
    let out = lake.cmd(["init"]).output().unwrap();
    assert!(out.status.success());
    let (_, stderr) = crate::util::text(&out);
    assert!(
        stderr.contains("salt") && stderr.contains("lake.toml"),
        "{stderr}"
    );
    let ignore = std::fs::read_to_string(lake.path().join(".gitignore")).unwrap();
    assert!(
        ignore.starts_with("target/\n"),
        "what was there stays: {ignore}"
    );
    // Git itself agrees: the catalog and both local tiers are ignored, the config and the
    // jobs and lock files are not.
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .current_dir(lake.path())
            .args(args)
            .output()
            .unwrap()
    };
    assert!(git(&["init", "-q"]).status.success());
    lake.write("lake-data/bronze/x/data/a.parquet", "x");
    lake.write("lake-archive/bronze/x/data/a.parquet", "x");
    lake.write("jobs/silver/a.sql", "SELECT 1");
    lake.write("lake.lock", "{}");
    for path in [
        ".lake/catalog.sqlite",
        "lake-data/bronze/x/data/a.parquet",
        "lake-archive/bronze/x/data/a.parquet",
    ] {
        assert!(
            git(&["check-ignore", "-q", path]).status.success(),
            "{path} is ignored"
        );
    }
    for path in ["lake.toml", "jobs/silver/a.sql", "lake.lock"] {
        assert!(
            !git(&["check-ignore", "-q", path]).status.success(),
            "{path} is kept"
        );
    }
    // A project in a subfolder gets its own.
    let json = lake.cmd(["init", "sub", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(report["warnings"][0].as_str().unwrap().contains("salt"));
    assert!(
        report["gitignore"]
            .as_str()
            .unwrap()
            .ends_with("sub/.gitignore")
    );
}

#[test]
fn lake_variables_override_the_file_and_config_says_where_each_value_came_from() {
    let lake = TestLake::new();
    lake.configure("ingest", "zstd_level", "3");
    let mut csv = String::from("id\n");
    for i in 0..1000 {
        csv.push_str(&format!("{i}\n"));
    }
    lake.write("ids.csv", csv);
    // The variable reaches the command: row groups of 100 rows.
    lake.cmd(["ingest", "ids.csv", "--into", "bronze.ids"])
        .env("LAKE_INGEST_ROW_GROUP_ROWS", "100")
        .assert()
        .success();
    let files = lake.json(["show", "bronze.ids"])["files"].clone();
    assert_eq!(
        files[0]["row_groups"].as_array().unwrap().len(),
        10,
        "{files}"
    );

    let listed = |envs: &[(&str, &str)]| {
        let out = lake
            .cmd(["config", "list", "--show-origin", "--json"])
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["schema_version"], 1);
        v["settings"].as_array().unwrap().clone()
    };
    let settings = listed(&[
        ("LAKE_INGEST_ROW_GROUP_ROWS", "100"),
        ("LAKE_DELTA_LOG", "no"),
    ]);
    let find = |key: &str| settings.iter().find(|s| s["key"] == key).unwrap().clone();
    assert_eq!(find("ingest.row_group_rows")["value"], 100);
    assert_eq!(
        find("ingest.row_group_rows")["origin"]["variable"],
        "LAKE_INGEST_ROW_GROUP_ROWS"
    );
    assert_eq!(find("delta.log")["value"], false);
    assert_eq!(find("ingest.zstd_level")["value"], 3);
    assert_eq!(find("ingest.zstd_level")["origin"]["kind"], "file");
    assert_eq!(find("s3.region")["origin"]["kind"], "default");
    assert_eq!(find("s3.endpoint")["value"], serde_json::Value::Null);
    let salt = find("promote.salt");
    assert!(
        salt["value"].as_str().unwrap().starts_with("(hidden"),
        "{salt}"
    );

    // `get` prints the value alone, for scripts; the salt too.
    let get = |key: &str| lake.cmd(["config", "get", key]).output().unwrap();
    assert_eq!(text(&get("ingest.zstd_level")).0, "3\n");
    let toml = std::fs::read_to_string(lake.path().join("lake.toml")).unwrap();
    let salt = text(&get("promote.salt")).0;
    assert!(toml.contains(salt.trim()) && salt.trim().len() == 64);
    assert_eq!(
        get("s3.endpoint").status.code(),
        Some(1),
        "unset, no default"
    );
    let out = get("ingest.zstd");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("did you mean `ingest.zstd_level`"),
        "{}",
        text(&out).1
    );

    // A variable that is not of its key's type stops every command, naming both.
    let out = lake
        .cmd(["ls"])
        .env("LAKE_INGEST_ROW_GROUP_ROWS", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out).1;
    assert!(
        err.contains("LAKE_INGEST_ROW_GROUP_ROWS") && err.contains("whole number"),
        "{err}"
    );
}
