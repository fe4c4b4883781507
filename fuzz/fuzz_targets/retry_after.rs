//! Fuzz target: `Retry-After` parsing (RFC 9110 §10.2.3) with a fixed clock.
//!
//! Properties: never panics on any UTF-8 string; a `delay-seconds` value (ASCII digits only)
//! gives exactly that many whole seconds, or `None` only when it exceeds `u64::MAX`; optional
//! whitespace around the value (RFC 9110 §5.6.3 OWS) changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wfm_relay_core::policy::parse_retry_after;

/// 2026-03-02T09:00:00Z, the `clock_now` of case C10, in seconds since the Unix epoch.
const FIXED_NOW_S: u64 = 1_772_442_000;

/// `u64::MAX` in decimal, the largest `delay-seconds` a `Duration` of whole seconds holds.
const U64_MAX_DEC: &str = "18446744073709551615";

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let now: SystemTime = UNIX_EPOCH + Duration::from_secs(FIXED_NOW_S);
    let got = parse_retry_after(s, now);
    assert_eq!(
        got,
        parse_retry_after(&format!(" \t{s}\t "), now),
        "OWS changed {s:?}"
    );
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        // Decimal comparison, independent of the parser: strip leading zeros, compare lengths.
        let digits = s.trim_start_matches('0');
        let fits = digits.len() < U64_MAX_DEC.len()
            || (digits.len() == U64_MAX_DEC.len() && digits <= U64_MAX_DEC);
        match got {
            Some(d) => {
                assert!(fits, "{s:?} exceeds u64::MAX yet gave {d:?}");
                assert_eq!(d.subsec_nanos(), 0, "{s:?} gave a fractional wait {d:?}");
                let want = if digits.is_empty() { "0" } else { digits };
                assert_eq!(d.as_secs().to_string(), want, "{s:?} gave {d:?}");
            }
            None => assert!(!fits, "{s:?} is valid delay-seconds but gave None"),
        }
    }
});
