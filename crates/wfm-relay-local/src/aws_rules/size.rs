//! SQS message sizes as AWS counts them (SQS Developer Guide, "Amazon SQS message attributes"):
//! the UTF-8 bytes of the body plus, for every message attribute, the bytes of its name, its
//! data type and its value (the decoded bytes of a `BinaryValue`). moto 5.2.5 counts only the
//! body's characters. Input is the JSON of one SendMessage request or SendMessageBatch entry (AWS
//! JSON protocol: `MessageBody`, `MessageAttributes: {name: {DataType, StringValue | BinaryValue}}`).

use serde_json::Value;

/// `MaximumMessageSize` upper bound and SendMessageBatch's total limit: 1,048,576 bytes (SQS API
/// Reference, SetQueueAttributes and SendMessageBatch).
pub const MAX_BATCH_BYTES: u64 = 1_048_576;

/// The most entries a SendMessageBatch / DeleteMessageBatch / ChangeMessageVisibilityBatch takes.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// Size in bytes of one message (body + every attribute's name, type and value).
pub fn message_bytes(entry: &Value) -> u64 {
    let attrs = entry
        .get("MessageAttributes")
        .and_then(Value::as_object)
        .map_or(0, |m| {
            m.iter()
                .map(|(name, attr)| name.len() as u64 + attribute_bytes(attr))
                .sum::<u64>()
        });
    text_len(entry, "MessageBody", str::len) as u64 + attrs
}

/// Bytes of one attribute's data type and value.
fn attribute_bytes(attr: &Value) -> u64 {
    let data_type = text_len(attr, "DataType", str::len);
    let string = text_len(attr, "StringValue", str::len);
    let binary = text_len(attr, "BinaryValue", base64_decoded_len);
    (data_type + string + binary) as u64
}

/// `len` of the string field `key` of `v` (0 when absent or not a string).
fn text_len(v: &Value, key: &str, len: fn(&str) -> usize) -> usize {
    v.get(key).and_then(Value::as_str).map_or(0, len)
}

/// Decoded length of standard base64 text (the JSON protocol's blob encoding), without decoding.
fn base64_decoded_len(text: &str) -> usize {
    let text = text.trim_end();
    let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
    (text.len() / 4 * 3
        + match text.len() % 4 {
            2 => 1,
            3 => 2,
            _ => 0,
        })
    .saturating_sub(padding)
}

/// Whether `entry`'s `DelaySeconds`, when present, is within 0–900 (SQS API Reference,
/// SendMessage). `Err` carries the refused value as text.
pub fn check_delay(entry: &Value) -> Result<(), String> {
    match entry.get("DelaySeconds") {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_i64() {
            Some(d) if (0..=900).contains(&d) => Ok(()),
            _ => Err(v.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_counts_utf8_bytes_not_characters() {
        assert_eq!(message_bytes(&json!({"MessageBody": "abc"})), 3);
        assert_eq!(message_bytes(&json!({"MessageBody": "é"})), 2);
        assert_eq!(message_bytes(&json!({"MessageBody": "\u{FFFD}"})), 3);
        assert_eq!(message_bytes(&json!({"MessageBody": "\u{10000}"})), 4);
        assert_eq!(message_bytes(&json!({})), 0);
    }

    #[test]
    fn attributes_count_name_type_and_value() {
        let entry = json!({
            "MessageBody": "0123456789",
            "MessageAttributes": {
                "kind": {"DataType": "String", "StringValue": "é"},
                "n": {"DataType": "Number", "StringValue": "42"},
                "blob": {"DataType": "Binary", "BinaryValue": "AAEC"}
            }
        });
        // body 10; kind 4 + String 6 + é 2; n 1 + Number 6 + 2; blob 4 + Binary 6 + 3 bytes.
        assert_eq!(message_bytes(&entry), 10 + 12 + 9 + 13);
    }

    #[test]
    fn base64_lengths_with_and_without_padding() {
        for (text, want) in [
            ("", 0),
            ("AA==", 1),
            ("AAE=", 2),
            ("AAEC", 3),
            ("AAECAw==", 4),
            ("AAE", 2),
        ] {
            assert_eq!(base64_decoded_len(text), want, "{text}");
        }
    }

    #[test]
    fn delay_seconds_between_0_and_900() {
        assert_eq!(check_delay(&json!({})), Ok(()));
        assert_eq!(check_delay(&json!({"DelaySeconds": 0})), Ok(()));
        assert_eq!(check_delay(&json!({"DelaySeconds": 900})), Ok(()));
        assert_eq!(
            check_delay(&json!({"DelaySeconds": 901})),
            Err("901".to_owned())
        );
        assert_eq!(
            check_delay(&json!({"DelaySeconds": -1})),
            Err("-1".to_owned())
        );
    }
}
