//! The chaos run's hostile mix: which generated events carry content real SQS refuses unescaped
//! (U+FFFF / U+FFFE in an agent's status message), which are 900 KB, and which events WFM answers
//! with a `Retry-After` of an hour or more. Picked from the event index, so a run of any size
//! gets the same shares and an id read back anywhere says what the event was.
//!
//! Shares (issue 9, item 8): 1 % noncharacters (half U+FFFF, half U+FFFE), 1 % 900 KB bodies,
//! 2 % long `Retry-After`. The characters: SQS accepts only `#x9 | #xA | #xD | #x20–#xD7FF |
//! #xE000–#xFFFD | #x10000–#x10FFFF` (Amazon SQS API Reference, SendMessage `MessageBody`).

use serde_json::Value;

use crate::events::EventFamily;

/// Size of a big event, bytes (the EventBridge payload; SQS and Lambda async take 1 MiB).
pub const BIG_EVENT_BYTES: usize = 900_000;

/// The `Retry-After` values (seconds) WFM answers, in turn: 1 h, 2 h, 12 h (the forwarder's
/// `RETRY_AFTER_CAP_S`) and 24 h (above the cap: the forwarder waits 12 h).
pub const RETRY_AFTER_S: [u64; 4] = [3_600, 7_200, 43_200, 86_400];

/// What the hostile mix makes of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// The plain generated event.
    Plain,
    /// A presence event whose status message (`eventBody.message`) holds this noncharacter.
    Noncharacter(char),
    /// A presence event padded to [`BIG_EVENT_BYTES`] through its status message.
    Big,
    /// WFM answers every POST of this event with `Retry-After` of this many seconds.
    RetryAfter(u64),
}

impl Hostile {
    /// What event `i` is: index ≡ 10 (mod 200) U+FFFF, ≡ 110 (mod 200) U+FFFE, ≡ 30 (mod 100)
    /// big, ≡ 7 (mod 50) a long `Retry-After` (the `k`-th such event gets
    /// `RETRY_AFTER_S[k % 4]`); everything else plain. The first three are even indices
    /// (presence events, which have a status message).
    pub fn of(i: usize) -> Hostile {
        match (i % 200, i % 100, i % 50) {
            (10, _, _) => Hostile::Noncharacter('\u{FFFF}'),
            (110, _, _) => Hostile::Noncharacter('\u{FFFE}'),
            (_, 30, _) => Hostile::Big,
            (_, _, 7) => Hostile::RetryAfter(RETRY_AFTER_S[(i / 50) % RETRY_AFTER_S.len()]),
            _ => Hostile::Plain,
        }
    }

    /// The summary's label.
    pub fn label(self) -> &'static str {
        match self {
            Hostile::Plain => "plain",
            Hostile::Noncharacter(_) => "U+FFFF / U+FFFE in the status message",
            Hostile::Big => "900 KB body",
            Hostile::RetryAfter(_) => "WFM answers Retry-After >= 1 h",
        }
    }
}

/// The bytes of event `i` of `fam` with the hostile mix applied (`on`), else the plain event.
pub fn event(fam: &EventFamily, i: usize, on: bool) -> Vec<u8> {
    let plain = fam.event(i);
    let message = match (on, Hostile::of(i)) {
        (true, Hostile::Noncharacter(c)) => format!("On a break {c} back at 3 {c}"),
        (true, Hostile::Big) => {
            let pad = BIG_EVENT_BYTES.saturating_sub(plain.len());
            "Back in five minutes. ".chars().cycle().take(pad).collect()
        }
        _ => return plain,
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&plain) else {
        return plain;
    };
    v["detail"]["eventBody"]["message"] = Value::String(message);
    // Serialising a `Value` cannot fail.
    serde_json::to_vec(&v).unwrap_or(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn shares_are_one_one_and_two_percent() {
        let kinds: Vec<Hostile> = (0..10_000).map(Hostile::of).collect();
        let count = |f: &dyn Fn(&Hostile) -> bool| kinds.iter().filter(|k| f(k)).count();
        assert_eq!(count(&|k| matches!(k, Hostile::Noncharacter(_))), 100);
        assert_eq!(count(&|k| *k == Hostile::Big), 100);
        assert_eq!(count(&|k| matches!(k, Hostile::RetryAfter(_))), 200);
        assert_eq!(Hostile::of(7), Hostile::RetryAfter(3_600));
        assert_eq!(Hostile::of(57), Hostile::RetryAfter(7_200));
        assert_eq!(Hostile::of(157), Hostile::RetryAfter(86_400));
        assert_eq!(Hostile::of(207), Hostile::RetryAfter(3_600));
    }

    #[test]
    fn hostile_events_carry_their_content_and_stay_valid() {
        let fam = EventFamily::new(7, SystemTime::UNIX_EPOCH);
        for (i, c) in [(10, '\u{FFFF}'), (110, '\u{FFFE}')] {
            let bytes = event(&fam, i, true);
            let v: Value = serde_json::from_slice(&bytes).expect("JSON");
            let msg = v["detail"]["eventBody"]["message"]
                .as_str()
                .expect("message");
            assert_eq!(msg, format!("On a break {c} back at 3 {c}"));
            // The raw bytes hold the character itself (UTF-8 EF BF BF / EF BF BE), not an escape.
            let raw = c.to_string();
            assert!(std::str::from_utf8(&bytes).expect("UTF-8").contains(&raw));
            assert_eq!(
                wfm_relay_core::event::parse_event(&bytes)
                    .expect("valid")
                    .id,
                fam.id(i)
            );
        }
        let big = event(&fam, 30, true);
        assert_eq!(big.len(), BIG_EVENT_BYTES);
        assert!(wfm_relay_core::event::parse_event(&big).is_ok());
        assert_eq!(event(&fam, 30, false), fam.event(30));
        assert_eq!(event(&fam, 7, true), fam.event(7));
    }
}
