//! Time, from one place, so tests can set it.
//!
//! `LAKE_NOW` (RFC 3339) fixes the clock for a whole process; the library takes a [`Clock`] so
//! unit tests use [`Clock::fixed`] directly.

use chrono::{DateTime, SecondsFormat, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock::Fixed(at)
    }

    /// The system clock, unless `LAKE_NOW` holds an RFC 3339 time.
    pub fn from_env() -> Clock {
        std::env::var("LAKE_NOW")
            .ok()
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| Clock::Fixed(t.with_timezone(&Utc)))
            .unwrap_or(Clock::System)
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }
}

/// RFC 3339 UTC with microseconds, the catalog's one time format (sorts as text).
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
