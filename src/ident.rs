//! Names are types: zones, dataset names, versions and refs are parsed here, once.
//!
//! The grammar (DESIGN.md): a dataset is `<zone>.<name>` with `name` matching
//! `[a-z][a-z0-9_]{0,62}` (a plain SQL identifier); a ref adds `@vN`, `@latest`, `@latest~K`,
//! `@<RFC 3339 time>` (the version current at that instant), `@sha256:<hex prefix>` or `@<tag>`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Serialize, Serializer};

use crate::error::{Error, Result};

/// The three zones, in rank order: a job may read its own zone or below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Zone {
    /// Raw data as ingested.
    Bronze,
    /// Cleaned data for analysis, made by jobs from bronze.
    Silver,
    /// Features and aggregates, made by jobs from silver (and bronze).
    Gold,
}

impl Zone {
    /// The zones, upstream first.
    pub const ALL: [Zone; 3] = [Zone::Bronze, Zone::Silver, Zone::Gold];

    /// `bronze`, `silver` or `gold`.
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::Bronze => "bronze",
            Zone::Silver => "silver",
            Zone::Gold => "gold",
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Zone {
    type Err = Error;
    fn from_str(s: &str) -> Result<Zone> {
        Zone::ALL
            .into_iter()
            .find(|z| z.as_str() == s)
            .ok_or_else(|| Error::InvalidName {
                input: s.to_string(),
                reason: "the zone must be bronze, silver or gold (lowercase)",
            })
    }
}

impl Serialize for Zone {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A committed version number, `v1, v2, …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Version(pub u64);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// Which version of a dataset a ref means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `@vN`
    Version(Version),
    /// `@latest` (back = 0) or `@latest~K`
    Latest {
        /// How many versions before the latest: 0 is the latest.
        back: u64,
    },
    /// `@2026-01-01T00:00:00Z`: the newest version created at or before that instant.
    AsOf(DateTime<Utc>),
    /// `@sha256:<prefix>`: the version whose manifest digest starts with the prefix.
    Digest(String),
    /// `@<tag>`
    Tag(String),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Version(v) => write!(f, "{v}"),
            Selector::Latest { back: 0 } => f.write_str("latest"),
            Selector::Latest { back } => write!(f, "latest~{back}"),
            Selector::AsOf(t) => write!(
                f,
                "{}",
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
            Selector::Digest(p) => write!(f, "sha256:{p}"),
            Selector::Tag(t) => f.write_str(t),
        }
    }
}

/// A dataset, optionally pinned to one of its versions: `silver.orders`, `silver.orders@v3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatasetRef {
    /// The zone.
    pub zone: Zone,
    /// The name within the zone (`orders` in `bronze.orders`).
    pub name: String,
    /// Which version (`@v3`, a tag, a time, a digest); none means the latest.
    pub selector: Option<Selector>,
}

impl std::hash::Hash for Selector {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_string().hash(state)
    }
}

impl PartialOrd for DatasetRef {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// By zone rank, then name, then selector text.
impl Ord for DatasetRef {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (
            self.zone,
            &self.name,
            self.selector.as_ref().map(|s| s.to_string()),
        )
            .cmp(&(
                other.zone,
                &other.name,
                other.selector.as_ref().map(|s| s.to_string()),
            ))
    }
}

impl DatasetRef {
    /// `zone.name`, without any selector.
    pub fn dataset_name(&self) -> String {
        format!("{}.{}", self.zone, self.name)
    }

    /// The same dataset with no selector.
    pub fn dataset(&self) -> DatasetRef {
        DatasetRef {
            selector: None,
            ..self.clone()
        }
    }

    /// The same dataset at an exact version.
    pub fn at(&self, version: Version) -> DatasetRef {
        DatasetRef {
            selector: Some(Selector::Version(version)),
            ..self.clone()
        }
    }

    /// Parse a dataset name with no `@` part.
    pub fn parse_dataset(input: &str) -> Result<DatasetRef> {
        let r: DatasetRef = input.parse()?;
        if r.selector.is_some() {
            return Err(Error::InvalidName {
                input: input.to_string(),
                reason: "a dataset name takes no `@` version here",
            });
        }
        Ok(r)
    }
}

impl fmt::Display for DatasetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.zone, self.name)?;
        if let Some(s) = &self.selector {
            write!(f, "@{s}")?;
        }
        Ok(())
    }
}

impl Serialize for DatasetRef {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for DatasetRef {
    type Err = Error;

    fn from_str(input: &str) -> Result<DatasetRef> {
        let (dataset, selector) = match input.split_once('@') {
            Some((d, s)) => (d, Some(parse_selector(input, s)?)),
            None => (input, None),
        };
        let invalid = |reason| Error::InvalidName {
            input: input.to_string(),
            reason,
        };
        let (zone, name) = dataset
            .split_once('.')
            .ok_or_else(|| invalid("expected `<zone>.<name>`, such as `bronze.orders`"))?;
        let zone: Zone = zone.parse().map_err(|_| {
            invalid("the zone must be bronze, silver or gold (lowercase), as in `bronze.orders`")
        })?;
        check_name(name).map_err(invalid)?;
        Ok(DatasetRef {
            zone,
            name: name.to_string(),
            selector,
        })
    }
}

/// `[a-z][a-z0-9_]{0,62}`
fn check_name(name: &str) -> std::result::Result<(), &'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("the name after the zone is empty"),
        Some(c) if !c.is_ascii_lowercase() => {
            return Err("a name starts with a lowercase letter a-z");
        }
        _ => {}
    }
    if name.len() > 63 {
        return Err("a name is at most 63 characters");
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err("a name has only lowercase letters, digits and `_`");
    }
    Ok(())
}

/// A tag: `[a-z0-9][a-z0-9._-]{0,127}`, and not a word the selector grammar already owns.
pub fn check_tag(tag: &str) -> std::result::Result<(), &'static str> {
    let first_ok = tag
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_ok {
        return Err("a tag starts with a lowercase letter or a digit");
    }
    if tag.len() > 128 {
        return Err("a tag is at most 128 characters");
    }
    if !tag
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Err("a tag has only lowercase letters, digits, `.`, `_` and `-`");
    }
    if parse_version(tag).is_some() || tag == "latest" || tag.starts_with("latest~") {
        return Err("a tag cannot look like a version (`v3`) or `latest`");
    }
    if looks_like_time(tag) {
        return Err(
            "a tag cannot look like a date or time: `@2026-01-01` means the version current then",
        );
    }
    Ok(())
}

/// Is this selector text a time (`2026-01-01`, `2026-01-01T00:00:00Z`) rather than a tag?
fn looks_like_time(s: &str) -> bool {
    s.len() >= 10 && s.as_bytes()[0].is_ascii_digit() && s.as_bytes().get(4) == Some(&b'-')
}

/// An age: `90s`, `30m`, `12h`, `30d`, `2w`, or a plain number of seconds.
pub fn parse_age(input: &str) -> Result<u64> {
    let s = input.trim();
    let invalid = || Error::InvalidAge {
        input: input.to_string(),
    };
    // A bare number is seconds; anything else is humantime's: `30d`, `2w`, `1h 30m`, `3 days`.
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| invalid());
    }
    humantime::parse_duration(s)
        .map(|d| d.as_secs())
        .map_err(|_| invalid())
}

/// Single-character insertions, deletions and substitutions between `a` and `b`, for "did you
/// mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// An age in the largest whole unit: `2592000` → `30d`.
pub fn format_age(seconds: u64) -> String {
    for (unit, scale) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if seconds >= scale && seconds.is_multiple_of(scale) {
            return format!("{}{unit}", seconds / scale);
        }
    }
    format!("{seconds}s")
}

fn parse_version(s: &str) -> Option<u64> {
    let digits = s.strip_prefix('v')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn parse_selector(input: &str, s: &str) -> Result<Selector> {
    let invalid = |reason: &str| Error::InvalidRef {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    if s.is_empty() {
        return Err(invalid(
            "nothing after `@`; expected vN, latest, latest~K, a time, sha256:<hex> or a tag",
        ));
    }
    if let Some(n) = parse_version(s) {
        if n == 0 {
            return Err(invalid("versions start at v1"));
        }
        return Ok(Selector::Version(Version(n)));
    }
    if s == "latest" {
        return Ok(Selector::Latest { back: 0 });
    }
    if let Some(k) = s.strip_prefix("latest~") {
        let back = k
            .parse::<u64>()
            .ok()
            .filter(|b| i64::try_from(*b).is_ok())
            .ok_or_else(|| invalid("`latest~K` takes a whole number K"))?;
        return Ok(Selector::Latest { back });
    }
    if let Some(hex) = s.strip_prefix("sha256:") {
        if hex.len() < 4
            || hex.len() > 64
            || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid("`sha256:` takes 4 to 64 lowercase hex digits"));
        }
        return Ok(Selector::Digest(hex.to_string()));
    }
    if looks_like_time(s) {
        return parse_time(s).map(Selector::AsOf).ok_or_else(|| {
            invalid("a time must be RFC 3339, such as 2026-01-01T00:00:00Z, or a date 2026-01-01")
        });
    }
    check_tag(s).map_err(invalid)?;
    Ok(Selector::Tag(s.to_string()))
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_selector() {
        let cases = [
            ("silver.orders", None),
            ("silver.orders@v12", Some(Selector::Version(Version(12)))),
            ("silver.orders@latest", Some(Selector::Latest { back: 0 })),
            ("silver.orders@latest~2", Some(Selector::Latest { back: 2 })),
            (
                "silver.orders@sha256:ab12ef",
                Some(Selector::Digest("ab12ef".into())),
            ),
            (
                "gold.features@train-2026-11",
                Some(Selector::Tag("train-2026-11".into())),
            ),
        ];
        for (input, selector) in cases {
            let r: DatasetRef = input.parse().unwrap();
            assert_eq!(r.selector, selector, "{input}");
            assert_eq!(r.to_string(), input);
        }
        let r: DatasetRef = "bronze.events@2024-05-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            r.selector,
            Some(Selector::AsOf("2024-05-01T00:00:00Z".parse().unwrap()))
        );
        let r: DatasetRef = "bronze.events@2024-05-01".parse().unwrap();
        assert!(matches!(r.selector, Some(Selector::AsOf(_))));
    }

    #[test]
    fn rejects_bad_names_and_refs() {
        let long = format!("bronze.{}", "a".repeat(200));
        for input in [
            "bronze.../x",
            "Bronze.Orders",
            "bronze.Orders",
            "bronze",
            "bronze.",
            "platinum.orders",
            "bronze.1orders",
            "bronze.or-ders",
            long.as_str(),
        ] {
            assert!(
                matches!(input.parse::<DatasetRef>(), Err(Error::InvalidName { .. })),
                "{input}"
            );
        }
        for input in [
            "bronze.orders@",
            "bronze.orders@v0",
            "bronze.orders@latest~x",
            "bronze.orders@sha256:XYZ",
            "bronze.orders@2024-13-45T00:00:00Z",
            "bronze.orders@Tag",
            "bronze.orders@a b",
        ] {
            assert!(
                matches!(input.parse::<DatasetRef>(), Err(Error::InvalidRef { .. })),
                "{input}"
            );
        }
    }

    #[test]
    fn ages_parse_and_print() {
        assert_eq!(parse_age("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_age("2w").unwrap(), 14 * 86_400);
        assert_eq!(parse_age("90").unwrap(), 90);
        assert_eq!(parse_age("3 days").unwrap(), 3 * 86_400);
        assert_eq!(parse_age("1h 30m").unwrap(), 5400);
        assert!(parse_age("d").is_err());
        assert!(parse_age("").is_err());
        assert!(parse_age("30x").is_err());
        assert!(parse_age("99999999999999999999d").is_err());
        assert_eq!(format_age(30 * 86_400), "30d");
        assert_eq!(format_age(90), "90s");
    }

    #[test]
    fn a_name_of_63_characters_is_the_longest() {
        let ok = format!("bronze.a{}", "b".repeat(62));
        assert!(ok.parse::<DatasetRef>().is_ok());
        let too_long = format!("bronze.a{}", "b".repeat(63));
        assert!(too_long.parse::<DatasetRef>().is_err());
    }
}
