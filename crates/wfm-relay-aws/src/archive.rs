//! The S3 archive of dead letters: gzip-compressed JSON Lines objects, one line per dead letter
//! (its [`EnvelopeV1`] JSON with the original event inline), plus a manifest per run.

use aws_sdk_s3::error::DisplayErrorContext;
use std::io::{Read, Write};
use wfm_relay_core::envelope::EnvelopeV1;

/// An archive operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// An S3 call failed.
    #[error("S3 {operation} s3://{bucket}/{key}: {message}")]
    S3 {
        /// API name.
        operation: &'static str,
        /// Bucket.
        bucket: String,
        /// Key or prefix.
        key: String,
        /// The SDK error with its sources.
        message: String,
    },
    /// The object is not gzip JSON Lines of envelopes.
    #[error("s3://{bucket}/{key} line {line}: {message}")]
    Format {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// 1-based line number (0: the gzip stream itself).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Encodes envelopes as gzip JSON Lines (one compact JSON object per line, `\n`-terminated).
pub fn encode_jsonl_gz(letters: &[EnvelopeV1]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for l in letters {
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(l.to_json().as_bytes());
        let _ = gz.write_all(b"\n");
    }
    gz.finish().unwrap_or_default()
}

/// Decodes gzip JSON Lines into envelopes; `(line number, error)` for the first bad line.
///
/// # Errors
/// The 1-based line number and message of the first line that is not an envelope (0 when the
/// gzip stream itself is broken).
pub fn decode_jsonl_gz(bytes: &[u8]) -> Result<Vec<EnvelopeV1>, (usize, String)> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .map_err(|e| (0, e.to_string()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str::<EnvelopeV1>(l).map_err(|e| (i + 1, e.to_string())))
        .collect()
}

/// The archive bucket.
#[derive(Debug, Clone)]
pub struct Archive {
    s3: aws_sdk_s3::Client,
    /// Bucket name.
    pub bucket: String,
}

impl Archive {
    /// An archive in `bucket`.
    pub fn new(s3: aws_sdk_s3::Client, bucket: String) -> Self {
        Archive { s3, bucket }
    }

    fn err(&self, operation: &'static str, key: &str, e: impl std::error::Error) -> ArchiveError {
        ArchiveError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            message: DisplayErrorContext(&e).to_string(),
        }
    }

    /// PutObject.
    ///
    /// # Errors
    /// [`ArchiveError::S3`]: the object is not stored.
    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), ArchiveError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| self.err("PutObject", key, e))?;
        Ok(())
    }

    /// GetObject, whole body.
    ///
    /// # Errors
    /// [`ArchiveError::S3`].
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, ArchiveError> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| self.err("GetObject", key, e))?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| self.err("GetObject", key, e))?;
        Ok(body.into_bytes().to_vec())
    }

    /// Keys under `prefix` (ListObjectsV2, all pages), in S3's (lexicographic) order, after
    /// `start_after` when given.
    ///
    /// # Errors
    /// [`ArchiveError::S3`].
    pub async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<Vec<String>, ArchiveError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix);
            if let Some(s) = start_after {
                req = req.start_after(s);
            }
            if let Some(t) = &token {
                req = req.continuation_token(t);
            }
            let out = req
                .send()
                .await
                .map_err(|e| self.err("ListObjectsV2", prefix, e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match out.next_continuation_token() {
                Some(t) if out.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(keys)
    }

    /// Reads one archive object's envelopes.
    ///
    /// # Errors
    /// [`ArchiveError`] when it cannot be read or decoded.
    pub async fn read_letters(&self, key: &str) -> Result<Vec<EnvelopeV1>, ArchiveError> {
        let bytes = self.get(key).await?;
        decode_jsonl_gz(&bytes).map_err(|(line, message)| ArchiveError::Format {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            line,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_gz_round_trip() {
        let src = include_str!("../../../tests/fixtures/genesys/presence-break.json");
        let info = wfm_relay_core::event::parse_event(src.as_bytes()).expect("valid");
        let a = EnvelopeV1::new(src.as_bytes(), Some(&info));
        let mut b = a.clone();
        b.attempts = 7;
        let bytes = encode_jsonl_gz(&[a.clone(), b.clone()]);
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
        let back = decode_jsonl_gz(&bytes).expect("decodes");
        assert_eq!(back, vec![a, b]);
        assert_eq!(back[0].event.as_deref(), Some(src), "original bytes kept");
        assert!(decode_jsonl_gz(b"not gzip").is_err());
    }
}
