//! Fuzz target: the forwarder's first look at a Lambda payload (`payload_kind`, `parse_event`).
//!
//! Properties: neither function panics on any bytes; for a valid event every body mode returns
//! bytes that occur in the input (the POSTed body is never re-serialised, PRODUCT.md §3), and the
//! idempotency key is 64 lowercase hex characters (SHA-256, `wfm_relay_core::key`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wfm_relay_core::event::{BodyMode, parse_event, payload_kind};

/// Whether `needle` occurs in `haystack` as a contiguous run of bytes.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let _ = payload_kind(data);
    let Ok(info) = parse_event(data) else {
        return;
    };
    for mode in [BodyMode::Event, BodyMode::Detail, BodyMode::EventBody] {
        let body = info.body(data, mode);
        assert!(
            contains(data, body),
            "{mode:?} body is not a slice of the input: {:?}",
            String::from_utf8_lossy(body)
        );
    }
    let key = info.key.as_str();
    assert_eq!(key.len(), 64, "key length: {key:?}");
    assert!(
        key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "key is not lowercase hex: {key:?}"
    );
});
