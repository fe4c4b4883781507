//! The event `relayctl profile test` shapes: the bytes of an EventBridge event file, or the
//! event a dead letter carries. Pure.

use serde_json::Value;
use wfm_relay_core::envelope::EnvelopeV1;

/// One event to shape, and how the request for it would be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The original event bytes.
    pub raw: Vec<u8>,
    /// `X-Attempt`: 1 for an event file; the letter's attempts + 1 for a dead letter.
    pub attempt: u32,
    /// A dead letter is sent again by a replay (`X-Replay: true`).
    pub replay: bool,
}

impl Input {
    /// An event file: its bytes exactly, a first attempt.
    pub fn event(raw: Vec<u8>) -> Self {
        Input {
            raw,
            attempt: 1,
            replay: false,
        }
    }

    /// A dead letter from its JSON text: an envelope (`{"v":1,"event":…}`), one entry of a peek
    /// report's `letters` (`{"message_id":…,"letter":{…}}`), or a whole peek report with exactly
    /// one letter.
    ///
    /// # Errors
    /// A message saying what the text is not: not JSON, not a dead letter, a report with more
    /// or fewer than one letter, or a claim-checked letter (its event is in S3).
    pub fn letter(text: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let envelope = match (v.get("letters"), v.get("letter")) {
            (Some(Value::Array(letters)), _) => match letters.as_slice() {
                [one] => one.get("letter").cloned().unwrap_or(Value::Null),
                other => {
                    return Err(format!(
                        "a peek report with {} letters; save one of them (its `letter`) to a file",
                        other.len()
                    ));
                }
            },
            (_, Some(letter)) => letter.clone(),
            _ => v,
        };
        let env: EnvelopeV1 = serde_json::from_value(envelope)
            .map_err(|e| format!("not a dead letter (envelope v1): {e}"))?;
        match (env.event, env.event_s3) {
            (Some(event), _) => Ok(Input {
                raw: event.into_bytes(),
                attempt: env.attempts.saturating_add(1),
                replay: true,
            }),
            (None, Some(p)) => Err(format!(
                "the letter's event is stored in S3 (s3://{}/{}); download it and use --event",
                p.bucket, p.key
            )),
            (None, None) => Err("the letter carries no event".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = r#"{"id":"e1","detail-type":"t","source":"s","detail":{}}"#;

    fn envelope(attempts: u32) -> EnvelopeV1 {
        EnvelopeV1 {
            attempts,
            ..EnvelopeV1::new(RAW.as_bytes(), None)
        }
    }

    #[test]
    fn a_letter_in_each_of_its_three_forms() {
        let env = serde_json::to_value(envelope(4)).expect("serializes");
        let want = Input {
            raw: RAW.as_bytes().to_vec(),
            attempt: 5,
            replay: true,
        };
        let peeked = serde_json::json!({"message_id": "m1", "shape": "envelope", "letter": env});
        let report = serde_json::json!({"v": 1, "action": "peek", "letters": [peeked]});
        for text in [env.to_string(), peeked.to_string(), report.to_string()] {
            assert_eq!(Input::letter(&text), Ok(want.clone()), "{text}");
        }
    }

    #[test]
    fn what_is_not_one_letter_is_refused() {
        let two = serde_json::json!({"letters": [{}, {}]}).to_string();
        assert_eq!(
            Input::letter(&two),
            Err("a peek report with 2 letters; save one of them (its `letter`) to a file".into())
        );
        assert!(
            Input::letter("nope")
                .expect_err("not json")
                .starts_with("not JSON")
        );
        assert!(
            Input::letter(r#"{"x":1}"#)
                .expect_err("not a letter")
                .starts_with("not a dead letter")
        );
        let claim = serde_json::json!({"v":1, "event_s3": {"bucket":"b","key":"k"}});
        assert_eq!(
            Input::letter(&claim.to_string()),
            Err(
                "the letter's event is stored in S3 (s3://b/k); download it and use --event".into()
            )
        );
    }
}
