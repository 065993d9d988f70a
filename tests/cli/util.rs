//! A throwaway lake project per test, driven through the real `lake` binary.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

pub struct TestLake {
    pub dir: tempfile::TempDir,
}

impl TestLake {
    /// `lake init` in a fresh temporary folder.
    pub fn new() -> TestLake {
        let lake = TestLake::empty();
        lake.cmd(["init"]).assert().success();
        lake
    }

    /// A fresh folder with no lake in it.
    pub fn empty() -> TestLake {
        TestLake {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `lake` binary, run in the project folder.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::cargo_bin("lake").expect("the lake binary");
        cmd.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("LAKE_ACTOR", "test")
            .env_remove("LAKE_DIR")
            .env_remove("LAKE_NOW")
            .args(args);
        cmd
    }

    /// Run with `--json` appended; expect success and parse stdout.
    pub fn json<I, S>(&self, args: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let out = self.cmd(args).arg("--json").output().expect("lake runs");
        assert!(
            out.status.success(),
            "lake failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("--json prints JSON")
    }

    /// Write a file under the project folder and return its path.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Set `key = value` in a section of lake.toml.
    pub fn configure(&self, section: &str, key: &str, value: &str) {
        let path = self.path().join("lake.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        let mut in_section = false;
        let mut done = false;
        for line in text.lines() {
            if line.starts_with('[') {
                if in_section && !done {
                    out.push_str(&format!("{key} = {value}\n"));
                    done = true;
                }
                in_section = line == format!("[{section}]");
            }
            if in_section && line.starts_with(&format!("{key} =")) {
                out.push_str(&format!("{key} = {value}\n"));
                done = true;
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        if !done {
            if !in_section {
                out.push_str(&format!("[{section}]\n"));
            }
            out.push_str(&format!("{key} = {value}\n"));
        }
        std::fs::write(&path, out).unwrap();
    }

    /// Every file under the data root's folder for a dataset (data and manifests).
    pub fn stored_files(&self, zone: &str, name: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in [
            self.path().join("lake-data").join(zone).join(name),
            self.path()
                .join("lake-data/_lake/manifests")
                .join(zone)
                .join(name),
        ] {
            collect(&dir, &mut out);
        }
        out.sort();
        out
    }

    /// The datasets the catalog lists.
    pub fn datasets(&self) -> Vec<String> {
        self.json(["ls"])
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["dataset"].as_str().unwrap().to_string())
            .collect()
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

impl TestLake {
    /// `lake ARGS…` started in the background, its output captured.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("lake"))
            .current_dir(self.path())
            .env_remove("LAKE_DIR")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("lake starts")
    }

    /// `processes` ingests of `rows` orders each into bronze.orders, all at once; the versions
    /// they report, sorted.
    pub fn concurrent_ingests(&self, processes: usize, rows: usize) -> Vec<u64> {
        let children: Vec<_> = (0..processes)
            .map(|i| {
                let name = format!("part{i}.csv");
                self.write(&name, orders_csv(rows, i * rows));
                self.spawn(&["ingest", &name, "--into", "bronze.orders", "--json"])
            })
            .collect();
        let mut versions: Vec<u64> = children
            .into_iter()
            .map(|child| {
                let out = child.wait_with_output().unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                serde_json::from_slice::<Value>(&out.stdout).unwrap()["version"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        versions.sort();
        versions
    }
}

impl TestLake {
    /// Ingest `rows` orders into `dataset` as of 2026-01-DAY (overwrite: each version its own file).
    pub fn ingest_on_day(&self, dataset: &str, day: usize, rows: usize) {
        let name = format!("day{day}.csv");
        self.write(&name, orders_csv(rows, day * 10_000));
        self.cmd(["ingest", &name, "--into", dataset, "--mode", "overwrite"])
            .env("LAKE_NOW", format!("2026-01-{day:02}T00:00:00Z"))
            .assert()
            .success();
    }
}

impl TestLake {
    /// `lake query SQL --format csv [--at A…]`: its stdout, after asserting it succeeded.
    pub fn query_csv(&self, sql: &str, at: &[&str]) -> String {
        let mut args = vec!["query", sql, "--format", "csv"];
        for a in at {
            args.extend(["--at", a]);
        }
        let out = self.cmd(&args).output().expect("lake runs");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl TestLake {
    /// `parts` ingests (appends) of `rows` orders each into `dataset`, from `part0.csv`, ….
    pub fn ingest_orders(&self, dataset: &str, parts: usize, rows: usize) {
        for i in 0..parts {
            let name = format!("part{i}.csv");
            self.write(&name, orders_csv(rows, i * rows));
            self.cmd(["ingest", &name, "--into", dataset])
                .assert()
                .success();
        }
    }

    /// Run a Python snippet in the project folder with `lake_reader` (the package in `python/`,
    /// installed from its wheel by scripts/test.sh) imported as `lm`; its stdout, after asserting
    /// it succeeded.
    pub fn run_python(&self, python: &str, body: &str) -> String {
        self.run_python_with(python, body, &[])
    }

    /// [`TestLake::run_python`] with more environment variables.
    pub fn run_python_with(&self, python: &str, body: &str, envs: &[(&str, &str)]) -> String {
        // The snippet ends by leaving at once: pyarrow's thread pools now and then abort the
        // interpreter's teardown ("terminate called without an active exception"), after all
        // the work is done; an exception before that still exits non-zero.
        let script = format!(
            "import os, sys\nimport lake_reader as lm\n{body}\nsys.stdout.flush(); os._exit(0)"
        );
        let out = std::process::Command::new(python)
            .current_dir(self.path())
            .args(["-c", &script])
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out).1);
        text(&out).0
    }

    /// A version's lifecycle state: `active`, `archived` or `expired`.
    pub fn state(&self, r: &str) -> String {
        self.json(["show", r])["state"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The data files of a version, as `lake show` lists them (relative to the root).
    pub fn file_paths(&self, r: &str) -> Vec<String> {
        self.json(["show", r])["files"]
            .as_array()
            .expect("a file list")
            .iter()
            .map(|f| f["path"].as_str().expect("a path").to_string())
            .collect()
    }
}

/// The `ref` fields of a JSON array of objects.
pub fn refs(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|m| m["ref"].as_str().expect("a ref").to_string())
        .collect()
}

/// stdout and stderr of a finished command, as text.
pub fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A CSV of `rows` orders, deterministic.
pub fn orders_csv(rows: usize, start: usize) -> String {
    let mut s = String::from("order_id,customer_id,amount,paid,ordered_at,note\n");
    for i in start..start + rows {
        s.push_str(&format!(
            "{i},{},{}.{:02},{},2026-01-{:02}T{:02}:{:02}:00,{}\n",
            i % 97,
            i % 1000,
            i % 100,
            if i % 3 == 0 { "true" } else { "false" },
            1 + i % 28,
            i % 24,
            i % 60,
            if i % 5 == 0 { "" } else { "ok" }
        ));
    }
    s
}

/// A fresh venv with nothing but the `lake-reader` wheel and what it depends on (scripts/test.sh
/// builds the wheel and makes the venv).
pub fn reader_python() -> Option<String> {
    let python = std::env::var("LAKE_TEST_READER_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if python.is_none() {
        eprintln!(
            "skipping: LAKE_TEST_READER_PYTHON is not set (scripts/test.sh builds the wheel)"
        );
    }
    python
}

/// `lake scan REF --columns COLUMN` with `args`: the column's values as printed, in order.
pub fn scanned(lake: &TestLake, r: &str, column: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec!["scan", r, "--columns", column];
    all.extend_from_slice(args);
    let out = lake.cmd(&all).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    text(&out).0.lines().skip(1).map(str::to_string).collect()
}

/// A Python snippet printing, one per line, `column` of the version `dataset` the lock pins
/// under `root`, read with `lake_reader`'s `iter_batches` and these keyword arguments.
pub fn python_batches(dataset: &str, root: &str, column: &str, kwargs: &str) -> String {
    format!(
        "m = lm.Manifest.from_lock('lake.lock', {dataset:?}, root={root:?})\n\
         out = []\n\
         for b in m.iter_batches(columns=[{column:?}], {kwargs}):\n    out += b.column(0).to_pylist()\n\
         print('\\n'.join(str(x) for x in out))"
    )
}

/// The Python with pyarrow, DuckDB and Polars that scripts/test.sh installs, or `None` (and a
/// "skipping" line) when it is not set.
pub fn test_python() -> Option<String> {
    let python = std::env::var("LAKE_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty());
    if python.is_none() {
        eprintln!("skipping: LAKE_TEST_PYTHON is not set (scripts/test.sh installs pyarrow)");
    }
    python
}

/// (job, status) of every job a promote or run report holds.
pub fn statuses(report: &Value) -> Vec<(String, String)> {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["job"].as_str().unwrap().to_string(),
                j["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Copy a folder and everything in it (job folders into a project).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}
