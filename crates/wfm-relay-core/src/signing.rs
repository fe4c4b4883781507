//! Standard Webhooks signatures (symmetric, `v1`), as a pure function of the key, the message id,
//! the attempt's timestamp and the exact body bytes.
//!
//! Source: Standard Webhooks specification v1.0.0 (`standard-webhooks/standard-webhooks`,
//! `spec/standard-webhooks.md`), sections "Signature scheme" and "Webhook headers":
//! - the signed content is `{msg_id}.{timestamp}.{payload}` over the raw body, the timestamp being
//!   integer seconds since the Unix epoch;
//! - the signature is HMAC-SHA256, base64-encoded and prefixed `v1,`;
//! - `webhook-signature` is a space-delimited list, one signature per key, so a receiver can
//!   rotate secrets without downtime;
//! - secrets are shown as `whsec_` + base64 of 24 to 64 random bytes.
//!
//! wfm-relay sends `webhook-id` = the idempotency key (lowercase hex, so it never holds a `.`),
//! `webhook-timestamp` = the attempt's send time and `webhook-signature` = one `v1,` signature per
//! configured secret.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// Prefix of a serialized symmetric Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Smallest key the specification allows: 24 bytes (192 bits).
pub const MIN_KEY_BYTES: usize = 24;
/// Largest key the specification allows: 64 bytes (512 bits).
pub const MAX_KEY_BYTES: usize = 64;

/// Standard base64 that accepts the secret with or without `=` padding (the reference Python
/// verifier accepts both, and secrets are often copied without it).
const SECRET_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One HMAC key (the base64-decoded part of a `whsec_…` secret). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

/// The configured signing keys, in the order given (current first, by convention). Never empty.
/// `Debug` shows only how many there are.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeys(Vec<SigningKey>);

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKeys({} × ***)", self.0.len())
    }
}

impl SigningKeys {
    /// Parses a list of `whsec_<base64>` secrets separated by spaces, commas or newlines.
    ///
    /// # Errors
    /// A message saying which entry (1-based) is wrong and why: missing `whsec_` prefix, invalid
    /// base64, or a key outside 24..=64 bytes. The message never contains the secret.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (i, entry) in list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let n = i + 1;
            let Some(b64) = entry.strip_prefix(SECRET_PREFIX) else {
                return Err(format!("entry {n} does not start with `{SECRET_PREFIX}`"));
            };
            let key = SECRET_B64
                .decode(b64)
                .map_err(|_| format!("entry {n} is not valid base64 after `{SECRET_PREFIX}`"))?;
            if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
                return Err(format!(
                    "entry {n} decodes to {} bytes; Standard Webhooks keys are {MIN_KEY_BYTES} to \
                     {MAX_KEY_BYTES} bytes",
                    key.len()
                ));
            }
            keys.push(SigningKey(key));
        }
        if keys.is_empty() {
            return Err("holds no `whsec_…` secret".into());
        }
        Ok(SigningKeys(keys))
    }

    /// How many keys there are (≥ 1).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a parsed list holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `webhook-signature` header value for one attempt: `v1,<base64 HMAC-SHA256>` per key,
    /// space-separated, over `{msg_id}.{timestamp}.{body}`. `timestamp` is the attempt's
    /// `webhook-timestamp` in whole seconds since the Unix epoch; `body` is exactly the bytes
    /// sent.
    pub fn signature_header(&self, msg_id: &str, timestamp: u64, body: &[u8]) -> String {
        let ts = timestamp.to_string();
        let mut out = String::new();
        for key in &self.0 {
            // HMAC accepts keys of any length (RFC 2104 §2), so `new_from_slice` cannot fail.
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key.0) else {
                continue;
            };
            mac.update(msg_id.as_bytes());
            mac.update(b".");
            mac.update(ts.as_bytes());
            mac.update(b".");
            mac.update(body);
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str("v1,");
            general_purpose::STANDARD.encode_string(mac.finalize().into_bytes(), &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vector of the reference libraries (standard-webhooks `libraries/python`, test
    // `test_sign_function`): secret, id, timestamp, payload and the expected signature.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TS: u64 = 1_614_265_330;
    const VECTOR_BODY: &str = r#"{"test": 2432232314}"#;
    const VECTOR_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn reference_vector() {
        let keys = SigningKeys::parse(VECTOR_SECRET).expect("valid");
        assert_eq!(
            keys.signature_header(VECTOR_ID, VECTOR_TS, VECTOR_BODY.as_bytes()),
            VECTOR_SIG
        );
    }

    #[test]
    fn one_signature_per_key_in_order() {
        let other = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let keys = SigningKeys::parse(&format!(" {VECTOR_SECRET},\n{other} ")).expect("valid");
        assert_eq!(keys.len(), 2);
        let h = keys.signature_header(VECTOR_ID, VECTOR_TS, VECTOR_BODY.as_bytes());
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], VECTOR_SIG);
        assert!(parts[1].starts_with("v1,") && parts[1] != VECTOR_SIG, "{h}");
        // A 25-byte key with and without its `==` padding is the same key.
        let padded = format!("whsec_{}", general_purpose::STANDARD.encode([9u8; 25]));
        assert!(padded.ends_with("=="));
        let unpadded = padded.trim_end_matches('=');
        assert_eq!(
            SigningKeys::parse(&padded).expect("padded"),
            SigningKeys::parse(unpadded).expect("unpadded")
        );
    }

    #[test]
    fn the_body_the_id_and_the_time_are_all_signed() {
        let keys = SigningKeys::parse(VECTOR_SECRET).expect("valid");
        let base = keys.signature_header(VECTOR_ID, VECTOR_TS, VECTOR_BODY.as_bytes());
        assert_ne!(
            base,
            keys.signature_header(VECTOR_ID, VECTOR_TS, br#"{"test": 2432232315}"#)
        );
        assert_ne!(
            base,
            keys.signature_header("msg_other", VECTOR_TS, VECTOR_BODY.as_bytes())
        );
        assert_ne!(
            base,
            keys.signature_header(VECTOR_ID, VECTOR_TS + 1, VECTOR_BODY.as_bytes())
        );
    }

    #[test]
    fn invalid_lists_are_refused_without_echoing_the_secret() {
        let table: &[(&str, &str)] = &[
            ("", "no `whsec_"),
            (" , ", "no `whsec_"),
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "entry 1 does not start"),
            (
                "whsec_MfKQ9r8GKYqrTwjUPD8I!!!!o2LaLaSw",
                "entry 1 is not valid base64",
            ),
            (
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_c2hvcnQ=",
                "entry 2 decodes to 5 bytes",
            ),
        ];
        for (input, want) in table {
            let err = SigningKeys::parse(input).expect_err(input);
            assert!(err.contains(want), "{input:?}: {err}");
            for secret in input.split([' ', ',']).filter(|s| s.len() > 6) {
                assert!(!err.contains(secret), "{err} echoes {secret}");
                assert!(!err.contains(&secret[6..]), "{err} echoes {secret}");
            }
        }
        let too_long = format!("whsec_{}", general_purpose::STANDARD.encode([7u8; 65]));
        assert!(
            SigningKeys::parse(&too_long)
                .expect_err("65 bytes")
                .contains("65 bytes")
        );
    }

    #[test]
    fn debug_shows_no_key() {
        let keys = SigningKeys::parse(VECTOR_SECRET).expect("valid");
        let dbg = format!("{keys:?}");
        assert_eq!(dbg, "SigningKeys(1 × ***)");
    }
}
