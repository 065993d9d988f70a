//! Time, from one place, so tests can set it.
//!
//! `LAKE_NOW` (RFC 3339) fixes the clock for a whole process; the library takes a [`Clock`] so
//! unit tests use [`Clock::fixed`] directly.

use chrono::{DateTime, SecondsFormat, Utc};

/// Where times come from: the system clock, or one fixed instant (tests, `LAKE_NOW`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// Always this instant.
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// A clock stopped at `at`.
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

    /// The current time by this clock.
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

/// An RFC 3339 time (`2026-01-01T00:00:00Z`) in UTC; none if `s` is not one.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
