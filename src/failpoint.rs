//! Failpoints: named places between durable steps where a test can stop lake cold.
//!
//! `LAKE_FAILPOINT=name:action[,name:action…]` with actions `panic`, `abort` (the process ends at
//! once, running no cleanup, as under `kill -9`), `sleep(ms)` (widens a race window
//! deterministically), `error` (the operation fails there as if storage had) and `error(n)` (it
//! fails the first n times the process passes there, then passes: a flaky step). They are always
//! compiled in: checking one is a lookup in a map read once per process, and the fault suite runs
//! the same binary users do. [`ALL`] lists every name.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use crate::error::{Error, Result};

/// Every failpoint, in the order an operation passes them.
pub const ALL: &[&str] = &[
    "write.registered",
    "write.file_done",
    "write.encoded",
    "commit.before_manifest",
    "commit.after_manifest",
    "commit.before_catalog",
    "commit.after_catalog",
    "move.claimed",
    "move.copied",
    "move.flipped",
    "move.source_deleted",
    "restore.copied",
    "restore.flipped",
    "gc.listed",
    "gc.deleting",
    "repair.copied",
    "read.resolved",
    "promote.batch",
    "delta.before_log",
    "worker.task",
    "erase.planned",
    "erase.scanned",
    "erase.committed",
];

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Panic,
    Abort,
    Sleep(Duration),
    Error,
    ErrorTimes(usize),
}

fn configured() -> &'static HashMap<String, Action> {
    static POINTS: OnceLock<HashMap<String, Action>> = OnceLock::new();
    POINTS.get_or_init(|| {
        std::env::var("LAKE_FAILPOINT")
            .map(|spec| parse(&spec))
            .unwrap_or_default()
    })
}

fn parse(spec: &str) -> HashMap<String, Action> {
    let mut out = HashMap::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, action) = part.split_once(':').unwrap_or((part, "panic"));
        let action = match action {
            "panic" => Action::Panic,
            "abort" => Action::Abort,
            "error" => Action::Error,
            other => match (
                other
                    .strip_prefix("sleep(")
                    .and_then(|s| s.strip_suffix(')'))
                    .and_then(|ms| ms.parse().ok()),
                other
                    .strip_prefix("error(")
                    .and_then(|s| s.strip_suffix(')'))
                    .and_then(|n| n.parse().ok()),
            ) {
                (Some(ms), _) => Action::Sleep(Duration::from_millis(ms)),
                (_, Some(n)) => Action::ErrorTimes(n),
                _ => {
                    eprintln!("warning: LAKE_FAILPOINT: unknown action `{other}` for `{name}`");
                    continue;
                }
            },
        };
        out.insert(name.to_string(), action);
    }
    out
}

/// How many times each `error(n)` failpoint has failed so far in this process.
fn failures(name: &str) -> usize {
    static SEEN: OnceLock<std::sync::Mutex<HashMap<String, usize>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let n = seen.entry(name.to_string()).or_default();
    *n += 1;
    *n - 1
}

/// Pass the failpoint `name` in async code: a `sleep` waits without holding the thread.
pub async fn pass(name: &str) -> Result<()> {
    if let Some(Action::Sleep(d)) = configured().get(name) {
        tokio::time::sleep(*d).await;
        return Ok(());
    }
    hit(name)
}

/// Pass the failpoint `name`: nothing happens unless `LAKE_FAILPOINT` names it.
pub fn hit(name: &str) -> Result<()> {
    debug_assert!(ALL.contains(&name), "failpoint `{name}` is not in ALL");
    let Some(action) = configured().get(name) else {
        return Ok(());
    };
    match action {
        Action::ErrorTimes(n) => {
            if failures(name) < *n {
                return Err(Error::Injected {
                    name: name.to_string(),
                });
            }
            Ok(())
        }
        Action::Panic => panic!("failpoint `{name}`"),
        Action::Abort => {
            eprintln!("failpoint `{name}`: abort");
            std::process::abort()
        }
        Action::Sleep(d) => {
            std::thread::sleep(*d);
            Ok(())
        }
        Action::Error => Err(Error::Injected {
            name: name.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let points =
            parse("write.encoded:abort, gc.listed:sleep(250),move.copied:error,x,y:error(2)");
        assert_eq!(points["y"], Action::ErrorTimes(2));
        assert_eq!(points["write.encoded"], Action::Abort);
        assert_eq!(
            points["gc.listed"],
            Action::Sleep(Duration::from_millis(250))
        );
        assert_eq!(points["move.copied"], Action::Error);
        assert_eq!(points["x"], Action::Panic);
        assert!(parse("a:bogus").is_empty());
    }
}
