//! Who is doing a piece of work, and whether they still are.
//!
//! Every process of lake that writes or moves objects records itself in the catalog as an
//! owner: host, pid and the process's start time (so a recycled pid is not mistaken for the
//! original), plus a heartbeat. Work whose owner is gone is debris to clean up; work whose owner
//! lives is never touched by anyone else. On the owner's own host liveness is exact (the process
//! table); seen from another host it falls back to the heartbeat's age.

use std::time::Duration;

/// How often a live owner's heartbeat is refreshed.
pub(crate) const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// A heartbeat older than this, from another host, means its owner is gone.
pub(crate) const LEASE: Duration = Duration::from_secs(120);

/// This process, as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    /// A random id for this process's life.
    pub id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When the process started (clock ticks since boot, where the system says), so a reused pid is
    /// told apart.
    pub proc_start: Option<u64>,
}

impl Owner {
    /// This process, with a fresh random id.
    pub(crate) fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            id: uuid::Uuid::new_v4().simple().to_string(),
            host: host_name(),
            pid,
            proc_start: proc_start(pid),
        }
    }
}

/// What the catalog knows of an owner, to judge whether it still lives.
#[derive(Debug, Clone)]
pub struct OwnerRecord {
    /// The owner's id.
    pub id: String,
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When its process started, where known.
    pub proc_start: Option<u64>,
    /// Its last heartbeat.
    pub heartbeat_at: chrono::DateTime<chrono::Utc>,
}

impl OwnerRecord {
    /// Is the process behind this record still running? `now` is the real clock.
    pub fn is_alive(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        if self.host == host_name()
            && let Some(alive) = process_alive(self.pid, self.proc_start)
        {
            return alive;
        }
        let age = (now - self.heartbeat_at).to_std().unwrap_or_default();
        age < LEASE
    }
}

/// The machine's name, as the kernel has it.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The start time (clock ticks since boot) of process `pid`, where the system tells.
fn proc_start(pid: u32) -> Option<u64> {
    stat_fields(pid).and_then(|(_, start)| start)
}

/// This process's folder name in the spool: its pid and start time, so `lake gc` can tell
/// the bytes of a live process from a dead one's.
pub(crate) fn spool_name() -> String {
    let pid = std::process::id();
    format!("{pid}-{}", proc_start(pid).unwrap_or(0))
}

/// Whether the process that made spool folder `name` is known to be gone; `None` for a name
/// that is not a spool folder's, or where the process table cannot be read.
pub(crate) fn spool_owner_gone(name: &str) -> Option<bool> {
    let (pid, start) = name.split_once('-')?;
    let pid: u32 = pid.parse().ok()?;
    let start: u64 = start.parse().ok()?;
    let alive = process_alive(pid, (start != 0).then_some(start))?;
    Some(!alive)
}

/// `Some(alive)` where the process table can be read; `None` where it cannot (not Linux).
fn process_alive(pid: u32, started: Option<u64>) -> Option<bool> {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return None;
    }
    Some(match stat_fields(pid) {
        None => false,
        // A zombie has exited: it only waits for its parent to read its status.
        Some((state, _)) if state == 'Z' || state == 'X' => false,
        Some((_, start)) => started.is_none() || start == started,
    })
}

/// The state letter and start time from `/proc/<pid>/stat`.
fn stat_fields(pid: u32) -> Option<(char, Option<u64>)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields start after the last `)`.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 of the file, the 20th after the command name.
    let start = fields.get(19).and_then(|s| s.parse().ok());
    Some((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(pid: u32, proc_start: Option<u64>, host: &str, age_s: i64) -> OwnerRecord {
        OwnerRecord {
            id: "x".into(),
            host: host.into(),
            pid,
            proc_start,
            heartbeat_at: chrono::Utc::now() - chrono::Duration::seconds(age_s),
        }
    }

    #[test]
    fn this_process_is_alive() {
        let me = Owner::current();
        let r = record(me.pid, me.proc_start, &me.host, 10_000);
        assert!(r.is_alive(chrono::Utc::now()));
    }

    #[test]
    fn a_recycled_pid_is_not_the_owner() {
        let me = Owner::current();
        let Some(start) = me.proc_start else { return };
        let r = record(me.pid, Some(start + 1), &me.host, 0);
        assert!(!r.is_alive(chrono::Utc::now()));
    }

    #[test]
    fn an_exited_process_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = proc_start(pid);
        child.wait().unwrap();
        let r = record(pid, start, &host_name(), 0);
        assert!(!r.is_alive(chrono::Utc::now()));
    }

    #[test]
    fn another_host_lives_by_its_heartbeat() {
        let now = chrono::Utc::now();
        assert!(record(1, None, "elsewhere.invalid", 5).is_alive(now));
        assert!(!record(1, None, "elsewhere.invalid", 500).is_alive(now));
    }
}
