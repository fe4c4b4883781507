//! RFC 3339 helpers shared by the envelope and the event model.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

const MS_UTC: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Formats a [`SystemTime`] as RFC 3339 in UTC with millisecond precision,
/// e.g. `2026-03-02T09:00:00.000Z`.
///
/// Never panics: a time outside the years 0000–9999 (only reachable from hostile input, e.g. an
/// absurd epoch-ms `eventTime`) is clamped to the nearest end of that range.
pub fn format_rfc3339(t: SystemTime) -> String {
    let dt = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => time::Duration::try_from(d)
            .ok()
            .and_then(|d| OffsetDateTime::UNIX_EPOCH.checked_add(d)),
        Err(before) => time::Duration::try_from(before.duration())
            .ok()
            .and_then(|d| OffsetDateTime::UNIX_EPOCH.checked_sub(d)),
    };
    let late = t > UNIX_EPOCH;
    dt.filter(|dt| (0..=9999).contains(&dt.year()))
        .and_then(|dt| dt.format(MS_UTC).ok())
        .unwrap_or_else(|| {
            String::from(if late {
                "9999-12-31T23:59:59.999Z"
            } else {
                "0000-01-01T00:00:00.000Z"
            })
        })
}

/// Parses an RFC 3339 / ISO 8601 timestamp with offset (`2026-03-02T09:00:05.120Z`).
/// Returns `None` for anything else.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let dt = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some(SystemTime::from(dt))
}

/// Converts epoch milliseconds (as Genesys analytics detail events carry in `eventTime`) into a
/// [`SystemTime`]. Negative values (before 1970) and values after 9999-12-31 yield `None`.
pub fn from_epoch_ms(ms: i64) -> Option<SystemTime> {
    /// 9999-12-31T23:59:59.999Z in epoch ms, the last instant RFC 3339 can write.
    const MAX_MS: u64 = 253_402_300_799_999;
    let ms = u64::try_from(ms).ok().filter(|ms| *ms <= MAX_MS)?;
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
        assert_eq!(from_epoch_ms(i64::MAX), None);
        let last = from_epoch_ms(253_402_300_799_999).expect("year 9999");
        assert_eq!(format_rfc3339(last), "9999-12-31T23:59:59.999Z");
        // Out of range times never panic; they clamp.
        let far = UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 1000);
        assert_eq!(format_rfc3339(far), "9999-12-31T23:59:59.999Z");
        let before = UNIX_EPOCH - Duration::from_secs(100_000_000_000);
        assert_eq!(format_rfc3339(before), "0000-01-01T00:00:00.000Z");
    }
}
