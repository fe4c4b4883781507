//! The idempotency key sent as `Idempotency-Key` on every delivery of the same event.
//!
//! Definition (PRODUCT.md §3): bare lowercase hex SHA-256 of the topic (`detail.topicName`, or
//! `detail-type` when absent), one 0x00 byte, and the RFC 8785 (JSON Canonicalization Scheme)
//! form of `detail.eventBody` (of `detail` when there is no `eventBody`). When that member cannot
//! be parsed as JSON (for example it holds an escaped lone surrogate, which serde_json refuses),
//! its raw bytes are hashed instead. The EventBridge `id` is deliberately not used: an
//! EventBridge archive replay re-publishes the same event with a new `id`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::fmt;

/// A 64-character lowercase hex SHA-256 digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Computes the key from the topic and the raw JSON of the hashed member.
    pub fn compute(topic: &str, body: &RawValue) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(topic.as_bytes());
        hasher.update([0u8]);
        match canonical(body) {
            Some(bytes) => hasher.update(&bytes),
            None => hasher.update(body.get().as_bytes()),
        }
        IdempotencyKey(hex::encode(hasher.finalize()))
    }

    /// The key as sent in the header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 8785 canonical bytes of a JSON value, or `None` when serde_json cannot parse it.
fn canonical(body: &RawValue) -> Option<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_str(body.get()).ok()?;
    serde_json_canonicalizer::to_vec(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).expect("test JSON")
    }

    #[test]
    fn key_ignores_member_order_and_whitespace() {
        let a = IdempotencyKey::compute("t", &raw(r#"{"a":1,"b":[true, null]}"#));
        let b = IdempotencyKey::compute("t", &raw(r#"{ "b": [true,null], "a": 1 }"#));
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert!(
            a.as_str()
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn key_depends_on_topic_and_body() {
        let body = raw(r#"{"a":1}"#);
        assert_ne!(
            IdempotencyKey::compute("t1", &body),
            IdempotencyKey::compute("t2", &body)
        );
        assert_ne!(
            IdempotencyKey::compute("t", &body),
            IdempotencyKey::compute("t", &raw(r#"{"a":2}"#))
        );
    }

    #[test]
    fn key_is_the_documented_sha256() {
        // sha256("t" 0x00 '{"a":1}') computed with: printf 't\0{"a":1}' | sha256sum
        let k = IdempotencyKey::compute("t", &raw(r#"{ "a" : 1 }"#));
        assert_eq!(
            k.as_str(),
            "916fd2169e5f45d03d8741ed0263c850cff8a8dfaa8c61d1d8a20045e76ac68f"
        );
    }

    #[test]
    fn lone_surrogate_falls_back_to_raw_bytes() {
        let body = raw(r#"{"message":"On a break \ud83d"}"#);
        let k1 = IdempotencyKey::compute("t", &body);
        let k2 = IdempotencyKey::compute("t", &body);
        assert_eq!(k1, k2);
        assert_ne!(
            k1,
            IdempotencyKey::compute("t", &raw(r#"{"message":"On a break "}"#))
        );
    }
}
