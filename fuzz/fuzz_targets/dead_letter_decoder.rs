//! Fuzz target: reading a dead-letter or retry-queue body (`classify_queue_body`,
//! `decode_dead_letter`), which may be any text (PRODUCT.md §5).
//!
//! Properties: neither function panics; a decoded letter always keeps an event (`event` or
//! `event_s3`); for the foreign shapes that event is taken from the body unchanged (the whole
//! body for a raw event or an unreadable one, the `requestPayload` member for a Lambda failure
//! record) and a key, when derived, is 64 lowercase hex characters; and the envelope survives a
//! round trip through its queue JSON (a re-parked or redriven letter reads back the same).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wfm_relay_core::envelope::{QueueBody, classify_queue_body};
use wfm_relay_core::replay::{Shape, decode_dead_letter};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let class = classify_queue_body(s);
    let letter = decode_dead_letter(s);
    let env = &letter.env;
    assert!(
        env.event.is_some() || env.event_s3.is_some(),
        "letter lost its event: {letter:?}"
    );
    match letter.shape {
        Shape::Envelope => assert!(matches!(class, QueueBody::Envelope(_)), "{class:?}"),
        Shape::RawEvent => {
            assert!(matches!(class, QueueBody::RawEvent), "{class:?}");
            assert_eq!(env.event.as_deref(), Some(s));
        }
        Shape::Unreadable => {
            assert!(matches!(class, QueueBody::Invalid(_)), "{class:?}");
            assert_eq!(env.event.as_deref(), Some(s));
        }
        Shape::LambdaFailure => {
            assert!(matches!(class, QueueBody::Invalid(_)), "{class:?}");
            let event = env.event.as_deref().unwrap_or_default();
            assert!(
                s.contains(event),
                "requestPayload {event:?} is not from the body"
            );
        }
    }
    if letter.shape != Shape::Envelope
        && let Some(key) = env.key.as_deref()
    {
        assert!(
            key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "derived key is not 64 lowercase hex: {key:?}"
        );
    }
    let again = decode_dead_letter(&env.to_json());
    assert_eq!(
        again.shape,
        Shape::Envelope,
        "re-parked letter is not an envelope"
    );
    assert_eq!(&again.env, env, "envelope changed through its queue JSON");
});
