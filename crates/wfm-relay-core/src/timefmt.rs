//! RFC 3339 helpers shared by the envelope and the event model.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

const MS_UTC: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Formats a [`SystemTime`] as RFC 3339 in UTC with millisecond precision,
/// e.g. `2026-03-02T09:00:00.000Z`.
pub fn format_rfc3339(t: SystemTime) -> String {
    let dt = OffsetDateTime::from(t).to_offset(time::UtcOffset::UTC);
    dt.format(MS_UTC)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00.000Z"))
}

/// Parses an RFC 3339 / ISO 8601 timestamp with offset (`2026-03-02T09:00:05.120Z`).
/// Returns `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let dt = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some(SystemTime::from(dt))
}

/// Converts epoch milliseconds (as Genesys analytics detail events carry in `eventTime`) into a
/// [`SystemTime`]. Negative values are before 1970 and yield `None`.
pub fn from_epoch_ms(ms: i64) -> Option<SystemTime> {
    let ms = u64::try_from(ms).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_three_fraction_digits() {
        for s in [
            "2025-03-04T09:45:11.300Z",
            "2025-03-04T09:45:11.000Z",
            "2026-03-02T09:00:05.120Z",
        ] {
            assert_eq!(format_rfc3339(parse_rfc3339(s).expect("parses")), s);
        }
        assert_eq!(
            format_rfc3339(parse_rfc3339("2026-03-02T10:00:05+01:00").expect("parses")),
            "2026-03-02T09:00:05.000Z"
        );
        assert_eq!(from_epoch_ms(-1), None);
    }
}
