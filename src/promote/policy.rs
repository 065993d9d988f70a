//! When a job may run and how hard to try: the `schedule`, `require`, `retries`, `retry_delay`
//! and `timeout` keys of its header.
//!
//! ```sql
//! -- schedule: cron: "0 3 * * *", tz: Europe/Paris
//! -- require: bronze.orders rows >= 1000
//! -- require: fresh(bronze.orders, 26h)
//! -- require: sql: SELECT 1 FROM bronze.orders WHERE order_ts IS NULL LIMIT 1
//! -- retries: 3
//! -- retry_delay: 30s
//! -- timeout: 10m
//! ```
//!
//! A schedule says when `lake run` looks at a job; whether it then runs is the data's question:
//! a job whose inputs and SQL are those of its last success is up to date at any time. A
//! requirement that does not hold keeps a due job `waiting`, which is not a failure.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

use crate::ident::{DatasetRef, parse_age};

/// When `lake run` considers a job.
#[derive(Debug, Clone, Default)]
pub enum Trigger {
    /// On every pass: it runs when an input has a version its last success did not read.
    #[default]
    OnNewInput,
    /// At each slot of a cron pattern, read in an explicit time zone (UTC unless given).
    Cron {
        /// The pattern as written.
        pattern: String,
        /// The parsed pattern.
        cron: Box<Cron>,
        /// The time zone its slots are read in.
        tz: Tz,
    },
    /// Once this long has passed since its last success (or it never succeeded).
    After(Duration),
}

impl Trigger {
    /// `on_new_input`, `cron: "0 3 * * *"` (optionally `, tz: Europe/Paris`) or `after: 2h`.
    pub fn parse(value: &str) -> Result<Trigger, String> {
        let value = value.trim();
        if value == "on_new_input" {
            return Ok(Trigger::OnNewInput);
        }
        if let Some(rest) = value.strip_prefix("after:") {
            let d = parse_duration(rest.trim())?;
            if d.is_zero() {
                return Err("`after:` needs a positive duration, such as `after: 2h`".into());
            }
            return Ok(Trigger::After(d));
        }
        if let Some(rest) = value.strip_prefix("cron:") {
            let rest = rest.trim();
            let (pattern, after) = match rest.strip_prefix('"') {
                Some(quoted) => match quoted.split_once('"') {
                    Some((p, after)) => (p, after.trim()),
                    None => return Err("the cron pattern's closing `\"` is missing".into()),
                },
                None => return Err("quote the cron pattern: `cron: \"0 3 * * *\"`".into()),
            };
            let tz = match after.strip_prefix(',').map(str::trim) {
                None if after.is_empty() => Tz::UTC,
                Some(t) => match t.strip_prefix("tz:") {
                    Some(name) => Tz::from_str(name.trim()).map_err(|_| {
                        format!(
                            "unknown time zone `{}`; use an IANA name such as `Europe/Paris` or `UTC`",
                            name.trim()
                        )
                    })?,
                    None => return Err(format!("expected `tz: <zone>` after the pattern, found `{t}`")),
                },
                None => return Err(format!("unexpected `{after}` after the cron pattern")),
            };
            let cron = Cron::from_str(pattern)
                .map_err(|e| format!("`{pattern}` is not a cron pattern: {e}"))?;
            return Ok(Trigger::Cron {
                pattern: pattern.to_string(),
                cron: Box::new(cron),
                tz,
            });
        }
        Err(format!(
            "unknown schedule `{value}`; expected on_new_input, cron: \"<pattern>\" or after: <duration>"
        ))
    }

    /// As written back: `cron: "0 3 * * *", tz: UTC`.
    pub fn describe(&self) -> String {
        match self {
            Trigger::OnNewInput => "on_new_input".into(),
            Trigger::Cron { pattern, tz, .. } => format!("cron: \"{pattern}\", tz: {tz}"),
            Trigger::After(d) => format!("after: {}", crate::ident::format_age(d.as_secs())),
        }
    }

    /// The latest cron slot at or before `now`, if this is a cron trigger.
    pub fn latest_slot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.slot(now, false)
    }

    /// The next cron slot after `now`, if this is a cron trigger.
    pub fn next_slot(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.slot(now, true)
    }

    fn slot(&self, now: DateTime<Utc>, next: bool) -> Option<DateTime<Utc>> {
        let Trigger::Cron { cron, tz, .. } = self else {
            return None;
        };
        let local = now.with_timezone(tz);
        let found = if next {
            cron.find_next_occurrence(&local, false)
        } else {
            cron.find_previous_occurrence(&local, true)
        };
        found.ok().map(|t| t.with_timezone(&Utc))
    }
}

/// A comparison in `require: bronze.orders rows >= 1000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
    /// `=`
    Eq,
}

impl Cmp {
    /// Does `left` compare to `right` this way?
    pub fn holds(self, left: u64, right: u64) -> bool {
        match self {
            Cmp::Ge => left >= right,
            Cmp::Gt => left > right,
            Cmp::Le => left <= right,
            Cmp::Lt => left < right,
            Cmp::Eq => left == right,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Gt => ">",
            Cmp::Le => "<=",
            Cmp::Lt => "<",
            Cmp::Eq => "=",
        }
    }
}

/// A precondition that holds a due job back until it is true.
#[derive(Debug, Clone)]
pub enum Require {
    /// The dataset's latest version has this many rows.
    Rows {
        /// The dataset.
        dataset: DatasetRef,
        /// How its rows compare.
        cmp: Cmp,
        /// With this many.
        rows: u64,
    },
    /// The dataset's latest version was committed within this long.
    Fresh {
        /// The dataset.
        dataset: DatasetRef,
        /// How recent its latest version must be.
        within: Duration,
    },
    /// A query over the datasets that returns no rows.
    Sql(String),
}

impl Require {
    /// `bronze.orders rows >= 1000`, `fresh(bronze.orders, 26h)` or `sql: SELECT …`.
    pub fn parse(value: &str) -> Result<Require, String> {
        let value = value.trim();
        if let Some(sql) = value.strip_prefix("sql:") {
            let sql = sql.trim();
            if sql.is_empty() {
                return Err(
                    "`require: sql:` needs a query that returns no rows when it holds".into(),
                );
            }
            return Ok(Require::Sql(sql.to_string()));
        }
        if let Some(args) = value
            .strip_prefix("fresh(")
            .and_then(|a| a.strip_suffix(')'))
        {
            let (dataset, within) = args
                .split_once(',')
                .ok_or("expected `fresh(<dataset>, <age>)`, such as `fresh(bronze.orders, 26h)`")?;
            let dataset: DatasetRef = dataset.trim().parse().map_err(|e| format!("{e}"))?;
            return Ok(Require::Fresh {
                dataset,
                within: parse_duration(within.trim())?,
            });
        }
        let words: Vec<&str> = value.split_whitespace().collect();
        if let [dataset, "rows", cmp, n] = words[..] {
            let cmp = match cmp {
                ">=" => Cmp::Ge,
                ">" => Cmp::Gt,
                "<=" => Cmp::Le,
                "<" => Cmp::Lt,
                "=" | "==" => Cmp::Eq,
                other => {
                    return Err(format!(
                        "unknown comparison `{other}`; use >=, >, <=, < or ="
                    ));
                }
            };
            let dataset: DatasetRef = dataset.parse().map_err(|e| format!("{e}"))?;
            let rows = n
                .replace('_', "")
                .parse()
                .map_err(|_| format!("`{n}` is not a row count"))?;
            return Ok(Require::Rows { dataset, cmp, rows });
        }
        Err(format!(
            "unknown requirement `{value}`; expected `<dataset> rows >= N`, `fresh(<dataset>, <age>)` or `sql: <query>`"
        ))
    }

    /// The requirement as the header writes it.
    pub fn describe(&self) -> String {
        match self {
            Require::Rows { dataset, cmp, rows } => {
                format!("{dataset} rows {} {rows}", cmp.symbol())
            }
            Require::Fresh { dataset, within } => format!(
                "fresh({dataset}, {})",
                crate::ident::format_age(within.as_secs())
            ),
            Require::Sql(sql) => format!("sql: {sql}"),
        }
    }
}

/// How `lake run` treats a job: its trigger, requirements, retries and time limit.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// When the job is due.
    pub trigger: Trigger,
    /// What must hold before a due job runs.
    pub requires: Vec<Require>,
    /// Attempts after the first, each on the first attempt's exact input versions.
    pub retries: u32,
    /// The wait before the first retry; it doubles for each next one, with jitter.
    pub retry_delay: Duration,
    /// A run taking longer is cancelled and recorded `timed_out`.
    pub timeout: Option<Duration>,
}

impl Policy {
    /// The waits before each retry: exponential from `retry_delay`, with jitter, at most 1 h.
    pub fn retry_delays(&self) -> impl Iterator<Item = Duration> {
        use backon::BackoffBuilder;
        backon::ExponentialBuilder::default()
            .with_min_delay(self.retry_delay)
            .with_max_delay(Duration::from_secs(3600).max(self.retry_delay))
            .with_factor(2.0)
            .with_max_times(self.retries as usize)
            .with_jitter()
            .build()
            .map(|d| {
                if self.retry_delay.is_zero() {
                    Duration::ZERO
                } else {
                    d
                }
            })
    }
}

/// How a partitioned job's output is cut: `-- partition_by: day(order_ts)` or `month(…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionBy {
    /// A date or timestamp column of the job's result.
    pub column: String,
    /// By day or by month.
    pub grain: Grain,
}

/// The size of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    /// One partition per day.
    Day,
    /// One partition per month.
    Month,
}

impl PartitionBy {
    /// Read `day(column)` or `month(column)`.
    pub fn parse(value: &str) -> Result<PartitionBy, String> {
        let value = value.trim();
        let (grain, rest) = value
            .split_once('(')
            .ok_or_else(|| format!("expected day(<column>) or month(<column>), found `{value}`"))?;
        let column = rest
            .strip_suffix(')')
            .map(|c| c.trim().trim_matches('"'))
            .filter(|c| !c.is_empty())
            .ok_or_else(|| format!("`{value}` needs a column: day(order_ts)"))?;
        let grain = match grain.trim() {
            "day" => Grain::Day,
            "month" => Grain::Month,
            other => {
                return Err(format!(
                    "unknown partition grain `{other}`; use day or month"
                ));
            }
        };
        Ok(PartitionBy {
            column: column.to_string(),
            grain,
        })
    }

    fn format(&self) -> &'static str {
        match self.grain {
            Grain::Day => "%Y-%m-%d",
            Grain::Month => "%Y-%m",
        }
    }

    /// The partition of a day: `2026-01-05`, or `2026-01` by month.
    pub fn key(&self, day: chrono::NaiveDate) -> String {
        day.format(self.format()).to_string()
    }

    /// The first day of partition `key` and the first day after it.
    pub fn range(&self, key: &str) -> Result<(chrono::NaiveDate, chrono::NaiveDate), String> {
        let bad = || format!("`{key}` is not a partition of {}", self.describe());
        let start = match self.grain {
            Grain::Day => chrono::NaiveDate::parse_from_str(key, "%Y-%m-%d").map_err(|_| bad())?,
            Grain::Month => chrono::NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d")
                .map_err(|_| bad())?,
        };
        if self.key(start) != key {
            return Err(bad());
        }
        let end = match self.grain {
            Grain::Day => start.succ_opt(),
            Grain::Month => start.checked_add_months(chrono::Months::new(1)),
        }
        .ok_or_else(bad)?;
        Ok((start, end))
    }

    /// Every partition from the one holding `from` to the one holding `to`, both included.
    pub fn between(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Vec<String> {
        let mut keys = Vec::new();
        let mut day = from;
        while day <= to {
            let key = self.key(day);
            if keys.last() != Some(&key) {
                keys.push(key);
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        keys
    }

    /// The partitioning as the header writes it, `day(order_ts)`.
    pub fn describe(&self) -> String {
        let grain = match self.grain {
            Grain::Day => "day",
            Grain::Month => "month",
        };
        format!("{grain}({})", self.column)
    }

    fn quoted(&self) -> String {
        format!("\"{}\"", self.column.replace('"', "\"\""))
    }

    /// A query listing the partition keys of the job's result.
    pub fn keys_sql(&self, job_sql: &str) -> String {
        let trunc = match self.grain {
            Grain::Day => "day",
            Grain::Month => "month",
        };
        format!(
            "SELECT DISTINCT to_char(date_trunc('{trunc}', CAST({} AS TIMESTAMP)), '{}') AS k FROM (\n{}\n) AS lake_partitioned",
            self.quoted(),
            self.format(),
            strip_semicolon(job_sql)
        )
    }

    /// The job's query narrowed to the rows of partition `key`.
    pub fn filtered_sql(&self, job_sql: &str, key: &str) -> Result<String, String> {
        let (start, end) = self.range(key)?;
        Ok(format!(
            "SELECT * FROM (\n{}\n) AS lake_partitioned WHERE {col} >= TIMESTAMP '{start} 00:00:00' AND {col} < TIMESTAMP '{end} 00:00:00'",
            strip_semicolon(job_sql),
            col = self.quoted(),
        ))
    }
}

/// A job's SQL without the statement's closing `;` (and what follows it on its lines).
fn strip_semicolon(sql: &str) -> &str {
    let trimmed = sql.trim_end();
    trimmed.strip_suffix(';').unwrap_or(trimmed)
}

/// `250ms`, `30s`, `10m`, `2h`, `1d`, `2w`, or a number of seconds.
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return ms
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("`{input}` is not a duration such as 250ms, 30s, 10m or 2h"));
    }
    parse_age(s)
        .map(Duration::from_secs)
        .map_err(|_| format!("`{input}` is not a duration such as 250ms, 30s, 10m or 2h"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn cron_slots_in_a_time_zone() {
        let t = Trigger::parse(r#"cron: "0 3 * * *", tz: Europe/Paris"#).unwrap();
        // 03:00 in Paris in winter is 02:00 UTC.
        assert_eq!(
            t.latest_slot(at("2026-01-10T02:30:00Z")),
            Some(at("2026-01-10T02:00:00Z"))
        );
        assert_eq!(
            t.latest_slot(at("2026-01-10T01:59:59Z")),
            Some(at("2026-01-09T02:00:00Z"))
        );
        assert_eq!(
            t.next_slot(at("2026-01-10T02:00:00Z")),
            Some(at("2026-01-11T02:00:00Z"))
        );
        let utc = Trigger::parse(r#"cron: "*/15 * * * *""#).unwrap();
        assert_eq!(utc.describe(), r#"cron: "*/15 * * * *", tz: UTC"#);
        assert_eq!(
            utc.latest_slot(at("2026-01-10T10:14:59Z")),
            Some(at("2026-01-10T10:00:00Z"))
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for (text, expect) in [
            ("cron: 0 3 * * *", "quote the cron pattern"),
            (r#"cron: "0 3 * *"#, "closing"),
            (r#"cron: "61 3 * * *""#, "not a cron pattern"),
            (
                r#"cron: "0 3 * * *", tz: Mars/Olympus"#,
                "unknown time zone",
            ),
            ("after: soon", "not a duration"),
            ("after: 0s", "positive"),
            ("hourly", "unknown schedule"),
        ] {
            let err = Trigger::parse(text).unwrap_err();
            assert!(err.contains(expect), "{text}: {err}");
        }
        for (text, expect) in [
            ("bronze.orders rows ~ 3", "unknown comparison"),
            ("bronze.orders rows >= many", "not a row count"),
            ("fresh(bronze.orders)", "expected `fresh("),
            ("sql:", "needs a query"),
            ("orders are in", "unknown requirement"),
        ] {
            let err = Require::parse(text).unwrap_err();
            assert!(err.contains(expect), "{text}: {err}");
        }
    }

    #[test]
    fn reads_requirements() {
        let r = Require::parse("bronze.orders rows >= 1_000").unwrap();
        assert_eq!(r.describe(), "bronze.orders rows >= 1000");
        let r = Require::parse("fresh(bronze.orders, 26h)").unwrap();
        assert_eq!(r.describe(), "fresh(bronze.orders, 26h)");
        assert!(matches!(
            Require::parse("sql: SELECT 1").unwrap(),
            Require::Sql(_)
        ));
    }

    #[test]
    fn retry_waits_grow_and_stop() {
        let p = Policy {
            retries: 3,
            retry_delay: Duration::from_secs(10),
            ..Policy::default()
        };
        let waits: Vec<Duration> = p.retry_delays().collect();
        assert_eq!(waits.len(), 3);
        // Jitter adds up to one more delay to each: 10–20 s, 20–40 s, 40–80 s.
        for (w, base) in waits.iter().zip([10, 20, 40]) {
            assert!(
                *w >= Duration::from_secs(base) && *w <= Duration::from_secs(2 * base),
                "{w:?}"
            );
        }
        let none = Policy {
            retries: 2,
            ..Policy::default()
        };
        assert_eq!(
            none.retry_delays().collect::<Vec<_>>(),
            vec![Duration::ZERO; 2]
        );
    }
}
