//! `lake ingest --watch`: watched folders, each file exactly once through kills and restarts.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{TestLake, text};

/// The NDJSON of events `from..to`.
fn events(from: usize, to: usize) -> String {
    (from..to)
        .map(|i| format!("{{\"id\":{i},\"kind\":\"k{}\"}}\n", i % 5))
        .collect()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn stream(lake: &TestLake, name: &str) -> Option<Value> {
    let out = lake
        .cmd(["stream", "show", name, "--files", "--json"])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn position(lake: &TestLake, name: &str) -> u64 {
    stream(lake, name).map_or(0, |s| s["position"].as_u64().unwrap())
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn watcher(lake: &TestLake, extra: &[&str]) -> std::process::Child {
    let mut args = vec![
        "ingest",
        "--watch",
        "inbox",
        "--into",
        "bronze.events",
        "--stream",
        "inbox",
        "--settle",
        "300ms",
        "--poll",
        "50ms",
        "--batch-files",
        "4",
    ];
    args.extend_from_slice(extra);
    lake.spawn(&args)
}

#[test]
fn a_watched_folder_ingests_each_file_once_through_two_kills() {
    let lake = TestLake::new();
    let inbox = lake.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // 50 files of 100 events each arrive one by one, each written in two parts with a pause
    // (a file still being written), one of them malformed; plus files a watch leaves alone.
    let producer = {
        let inbox = inbox.clone();
        std::thread::spawn(move || {
            for n in 0..50 {
                let body = events(n * 100, n * 100 + 100);
                let (head, tail) = body.split_at(body.len() / 2);
                let path = inbox.join(format!("day-{}/events-{n:02}.ndjson", n / 10));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let mut f = std::fs::File::create(&path).unwrap();
                f.write_all(head.as_bytes()).unwrap();
                f.flush().unwrap();
                std::thread::sleep(Duration::from_millis(40));
                f.write_all(tail.as_bytes()).unwrap();
                drop(f);
                if n == 20 {
                    std::fs::write(inbox.join("broken.ndjson"), "{\"id\": 1,\n{oops\n").unwrap();
                    std::fs::write(inbox.join(".hidden.ndjson"), "{\"id\": -1}\n").unwrap();
                    std::fs::write(inbox.join("_SUCCESS"), "").unwrap();
                    std::fs::write(inbox.join("notes.txt.tmp"), "x").unwrap();
                }
                std::thread::sleep(Duration::from_millis(30));
            }
        })
    };
    // Started, killed with SIGKILL part way (maybe mid-commit), twice; the third runs to the end.
    for until in [8, 23] {
        let mut w = watcher(&lake, &[]);
        wait_until("files to commit", || position(&lake, "inbox") >= until);
        std::thread::sleep(Duration::from_millis(until * 3));
        w.kill().unwrap();
        let _ = w.wait();
    }
    let w = watcher(&lake, &[]);
    producer.join().unwrap();
    wait_until("all 50 files", || position(&lake, "inbox") >= 50);
    // A watch stops at SIGINT (or SIGTERM) after its batch, exit 0.
    let ok = std::process::Command::new("kill")
        .args(["-INT", &w.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = w.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", text(&out));

    assert_eq!(
        lake.query_csv(
            "SELECT count(*) AS n, count(DISTINCT id) AS ids, min(id) AS lo, max(id) AS hi \
             FROM bronze.events",
            &[]
        ),
        "n,ids,lo,hi\n5000,5000,0,4999\n"
    );
    let s = stream(&lake, "inbox").unwrap();
    assert_eq!(s["kind"], "files");
    assert_eq!(s["position"], 50);
    assert_eq!(s["dead_letters"], 1);
    let files = s["files"].as_array().unwrap();
    assert_eq!(files.len(), 51, "{s}");
    for f in files {
        let key = f["key"].as_str().unwrap();
        if key == "broken.ndjson" {
            assert_eq!(f["status"], "dead");
            assert!(
                f["error"].as_str().unwrap().contains("broken.ndjson"),
                "{f}"
            );
            continue;
        }
        assert_eq!(f["status"], "ingested", "{f}");
        let bytes = std::fs::read(inbox.join(key)).unwrap();
        assert_eq!(f["size"], bytes.len() as u64);
        assert_eq!(f["sha256"], sha256(&bytes), "{key}");
    }
    // Each file is one source of the latest version, recorded once.
    let shown = lake.json(["show", "bronze.events"]);
    assert_eq!(shown["sources"].as_array().unwrap().len(), 50);

    // The dead letter is shown by `lake status`, which asks for attention.
    let status = lake.json(["status"]);
    assert_eq!(
        status["dead_letters"][0]["key"], "broken.ndjson",
        "{status}"
    );
    assert_eq!(status["dead_letters"][0]["stream"], "inbox");
    lake.cmd(["status", "--check"]).assert().code(1);

    // Started again: nothing new, nothing twice. A file changed after its ingest is reported and
    // not read again; the fixed dead letter is.
    let versions = lake
        .json(["log", "bronze.events"])
        .as_array()
        .unwrap()
        .len();
    std::fs::write(inbox.join("day-0/events-03.ndjson"), events(0, 10)).unwrap();
    std::fs::write(inbox.join("broken.ndjson"), events(9000, 9003)).unwrap();
    let once = lake
        .cmd([
            "ingest",
            "--watch",
            "inbox",
            "--into",
            "bronze.events",
            "--stream",
            "inbox",
        ])
        .args(["--settle", "0s", "--once"])
        .output()
        .unwrap();
    assert!(once.status.success(), "{:?}", text(&once));
    assert!(
        text(&once)
            .1
            .contains("events-03.ndjson changed after it was ingested"),
        "{:?}",
        text(&once)
    );
    assert_eq!(
        lake.json(["log", "bronze.events"])
            .as_array()
            .unwrap()
            .len(),
        versions + 1
    );
    let s = stream(&lake, "inbox").unwrap();
    assert_eq!(
        (s["position"].as_u64(), s["dead_letters"].as_u64()),
        (Some(51), Some(0))
    );
    assert_eq!(
        lake.query_csv("SELECT count(*) AS n FROM bronze.events", &[]),
        "n\n5003\n"
    );
    // One watcher per stream.
    let mut first = watcher(&lake, &[]);
    std::thread::sleep(Duration::from_millis(700));
    let busy = lake
        .cmd([
            "ingest",
            "--watch",
            "inbox",
            "--into",
            "bronze.events",
            "--stream",
            "inbox",
        ])
        .arg("--once")
        .output()
        .unwrap();
    first.kill().unwrap();
    let _ = first.wait();
    assert_ne!(busy.status.code(), Some(0));
    assert!(
        text(&busy).1.contains("has a writer already"),
        "{:?}",
        text(&busy)
    );
}

#[test]
fn a_marker_holds_a_folder_back_until_it_is_there() {
    let lake = TestLake::new();
    let batch = lake.path().join("drop/2026-12-01");
    std::fs::create_dir_all(&batch).unwrap();
    std::fs::write(batch.join("a.ndjson"), events(0, 5)).unwrap();
    std::fs::write(batch.join("b.ndjson"), events(5, 9)).unwrap();
    let once = |lake: &TestLake| {
        lake.json([
            "ingest",
            "--watch",
            "drop",
            "--into",
            "bronze.drop",
            "--marker",
            "_SUCCESS",
            "--once",
        ])
    };
    let r = once(&lake);
    assert_eq!(r["event"], "stopped", "{r}");
    assert_eq!(r["watch"]["files_ingested"], 0, "{r}");
    assert_eq!(r["watch"]["pending"], 2, "{r}");
    std::fs::write(batch.join("_SUCCESS"), "").unwrap();
    let out = lake
        .cmd([
            "ingest",
            "--watch",
            "drop",
            "--into",
            "bronze.drop",
            "--marker",
            "_SUCCESS",
            "--once",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let lines: Vec<Value> = text(&out)
        .0
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["event"], "committed");
    assert_eq!(
        lines[0]["files"],
        serde_json::json!(["2026-12-01/a.ndjson", "2026-12-01/b.ndjson"])
    );
    assert_eq!(lines[0]["version"]["rows"], 9);
    assert_eq!(lines.last().unwrap()["watch"]["files_ingested"], 2);
    // The default stream is named by the folder.
    let name = lines.last().unwrap()["watch"]["stream"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        name.starts_with("watch:/") && name.ends_with("/drop"),
        "{name}"
    );
    // A pipe cannot write to a stream of files.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("lake"))
        .current_dir(lake.path())
        .env_remove("LAKE_DIR")
        .args([
            "ingest",
            "-",
            "--into",
            "bronze.drop",
            "--format",
            "ndjson",
            "--stream",
            &name,
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(events(100, 101).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).1.contains("counts files"), "{:?}", text(&out));
}
