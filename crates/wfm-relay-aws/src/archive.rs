//! The S3 archive of dead letters: gzip-compressed JSON Lines objects, one line per dead letter
//! (its [`EnvelopeV1`] JSON with the original event inline), plus a manifest per run.

use crate::lazy_aws::LazyAws;
use aws_sdk_s3::error::DisplayErrorContext;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
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

/// Decodes gzip JSON Lines into envelopes; `(line number, error)` for the first problem.
/// Every gzip member is read (`cat a.gz b.gz` is one valid object); blank lines and a last line
/// without `\n` are fine ([`read_jsonl_gz`] reads a damaged object as far as it can).
///
/// # Errors
/// The 1-based line number and message of the first line that is not an envelope, or of the
/// line at which the gzip stream broke (its partial text is not decoded).
pub fn decode_jsonl_gz(bytes: &[u8]) -> Result<Vec<EnvelopeV1>, (usize, String)> {
    let read = read_jsonl_gz(bytes);
    let mut letters = Vec::with_capacity(read.lines.len());
    for l in read.lines {
        letters.push(l.letter.map_err(|e| (l.line, e))?);
    }
    match read.damage {
        Some(e) => Err((read.lines_read + 1, e)),
        None => Ok(letters),
    }
}

/// One non-blank line of an archive object.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveLine {
    /// 1-based line number in the decompressed object (blank lines count).
    pub line: usize,
    /// The dead letter, or why the line is not one (serde_json's message).
    pub letter: Result<EnvelopeV1, String>,
}

/// An archive object read as far as it can be: every line decoded in full before any damage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObjectLines {
    /// The non-blank lines read in full, in order.
    pub lines: Vec<ArchiveLine>,
    /// Lines read in full, blank ones included (the number of the last one).
    pub lines_read: usize,
    /// Why reading stopped before the end (gzip or deflate damage, truncation), if it did; the
    /// partial line at the damage is dropped, never decoded.
    pub damage: Option<String>,
}

impl ObjectLines {
    /// The problems of the object in words: each line that is not a dead letter (`line N: …`)
    /// and the damage; `None` when it was read in full and every line is a letter.
    pub fn problem(&self) -> Option<String> {
        let mut parts: Vec<String> = self
            .lines
            .iter()
            .filter_map(|l| {
                l.letter
                    .as_ref()
                    .err()
                    .map(|e| format!("line {} is not a dead letter: {e}", l.line))
            })
            .collect();
        if let Some(d) = &self.damage {
            parts.push(format!("unreadable after line {}: {d}", self.lines_read));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Reads gzip JSON Lines as far as they go: every gzip member in turn (flate2's
/// `MultiGzDecoder`; RFC 1952 §2.2 lets a file hold several members), line by line. A line
/// ends at `\n` (a `\r` before it is dropped) or, for the last line, at the clean end of the
/// stream. When the stream breaks (truncated, bad CRC, bytes that are not gzip), the lines read
/// in full before are kept, the partial line is dropped, and `damage` says why.
pub fn read_jsonl_gz(bytes: &[u8]) -> ObjectLines {
    let mut reader = BufReader::new(flate2::read::MultiGzDecoder::new(bytes));
    let mut out = ObjectLines::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {
                out.lines_read += 1;
                let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                if text.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                out.lines.push(ArchiveLine {
                    line: out.lines_read,
                    letter: serde_json::from_slice::<EnvelopeV1>(text).map_err(|e| e.to_string()),
                });
            }
            Err(e) => {
                out.damage = Some(e.to_string());
                break;
            }
        }
    }
    out
}

/// One page of a ListObjectsV2 listing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    /// Keys of the page, in S3's (lexicographic, UTF-8 binary) order.
    pub keys: Vec<String>,
    /// The token of the next page when S3 said `IsTruncated` (opaque: it may hold `+`, `/`,
    /// `=`; pass it back as it is).
    pub next_token: Option<String>,
}

/// The archive bucket.
#[derive(Debug, Clone)]
pub struct Archive {
    aws: Arc<LazyAws>,
    /// Bucket name.
    pub bucket: String,
}

impl Archive {
    /// An archive in `bucket`.
    pub fn new(s3: aws_sdk_s3::Client, bucket: String) -> Self {
        Self::lazy(LazyAws::with_s3(s3), bucket)
    }

    /// An archive in `bucket` whose S3 client comes from `aws` at the first call.
    pub fn lazy(aws: Arc<LazyAws>, bucket: String) -> Self {
        Archive { aws, bucket }
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
        self.aws
            .s3()
            .await
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
            .aws
            .s3()
            .await
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
            let page = self
                .list_page(prefix, start_after, token.as_deref())
                .await?;
            keys.extend(page.keys);
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(keys)
    }

    /// One ListObjectsV2 page of the keys under `prefix` after `start_after`: the first page
    /// without `token`, the next ones with the page's [`ListPage::next_token`]. S3 answers at
    /// most 1,000 keys a page (S3 API Reference, ListObjectsV2 `MaxKeys`, `IsTruncated`,
    /// `NextContinuationToken`); a truncated page without a token ends the listing.
    ///
    /// # Errors
    /// [`ArchiveError::S3`].
    pub async fn list_page(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        token: Option<&str>,
    ) -> Result<ListPage, ArchiveError> {
        let out = self
            .aws
            .s3()
            .await
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_owned))
            .set_continuation_token(token.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.err("ListObjectsV2", prefix, e))?;
        let next_token = out
            .next_continuation_token()
            .filter(|_| out.is_truncated().unwrap_or(false))
            .map(str::to_owned);
        Ok(ListPage {
            keys: out
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect(),
            next_token,
        })
    }

    /// Reads one archive object as far as it can be decoded ([`read_jsonl_gz`]): damage in the
    /// object is in the answer, not an error.
    ///
    /// # Errors
    /// [`ArchiveError::S3`] when GetObject fails or its body cannot be read.
    pub async fn read_object(&self, key: &str) -> Result<ObjectLines, ArchiveError> {
        Ok(read_jsonl_gz(&self.get(key).await?))
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
    fn letters(n: usize) -> Vec<EnvelopeV1> {
        let src = include_str!("../../../tests/fixtures/genesys/presence-break.json");
        let info = wfm_relay_core::event::parse_event(src.as_bytes()).expect("valid");
        (1..=n)
            .map(|i| {
                let mut e = EnvelopeV1::new(src.as_bytes(), Some(&info));
                e.attempts = u32::try_from(i).expect("small");
                e
            })
            .collect()
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text).expect("to a Vec");
        gz.finish().expect("to a Vec")
    }

    fn text(letters: &[EnvelopeV1]) -> String {
        letters.iter().map(|l| l.to_json() + "\n").collect()
    }

    fn attempts(read: &ObjectLines) -> Vec<u32> {
        read.lines
            .iter()
            .map(|l| l.letter.as_ref().expect("a letter").attempts)
            .collect()
    }

    #[test]
    fn every_gzip_member_and_every_line_is_read() {
        let all = letters(10);
        let mut joined = encode_jsonl_gz(&all[..6]);
        joined.extend(encode_jsonl_gz(&all[6..]));
        let read = read_jsonl_gz(&joined);
        assert_eq!((read.lines_read, read.damage.clone()), (10, None));
        assert_eq!(attempts(&read), (1..=10).collect::<Vec<u32>>());
        assert_eq!(decode_jsonl_gz(&joined).expect("two members"), all);

        let no_newline = text(&all);
        let no_newline = gzip(no_newline.trim_end().as_bytes());
        let read = read_jsonl_gz(&no_newline);
        assert_eq!(
            (read.lines.len(), read.lines_read, read.problem()),
            (10, 10, None)
        );

        let blank_end = gzip(format!("{}\n\r\n", text(&all)).as_bytes());
        let read = read_jsonl_gz(&blank_end);
        assert_eq!(
            (read.lines.len(), read.lines_read, read.problem()),
            (10, 12, None)
        );
    }

    #[test]
    fn a_damaged_object_keeps_the_lines_before_the_damage() {
        let all = letters(10);
        let whole = gzip(text(&all).trim_end().as_bytes());
        let cut = &whole[..whole.len() - 17];
        let read = read_jsonl_gz(cut);
        assert!(read.damage.is_some(), "{read:?}");
        assert!(read.lines_read < 10, "the partial last line is dropped");
        let n = u32::try_from(read.lines_read).expect("small");
        assert_eq!(attempts(&read), (1..=n).collect::<Vec<u32>>());
        assert!(
            read.problem()
                .expect("a problem")
                .starts_with(&format!("unreadable after line {}: ", read.lines_read)),
            "{:?}",
            read.problem()
        );
        assert!(decode_jsonl_gz(cut).is_err());

        // Only the trailer cut: the last line has no `\n` and may be partial: never decoded.
        let read = read_jsonl_gz(&whole[..whole.len() - 8]);
        assert_eq!(read.lines_read, 9, "{read:?}");
        assert!(read.damage.is_some());

        // A good member, then bytes that are not gzip.
        let mut junk = encode_jsonl_gz(&all[..3]);
        junk.extend_from_slice(b"not gzip at all");
        let read = read_jsonl_gz(&junk);
        assert_eq!(
            (attempts(&read), read.damage.is_some()),
            (vec![1, 2, 3], true)
        );

        let read = read_jsonl_gz(b"not gzip");
        assert_eq!((read.lines_read, read.damage.is_some()), (0, true));
    }

    #[test]
    fn a_line_that_is_not_a_letter_is_named_and_the_others_are_kept() {
        let all = letters(2);
        let bytes =
            gzip(format!("{}{{\"v\":\n{}", all[0].to_json() + "\n", text(&all[1..])).as_bytes());
        let read = read_jsonl_gz(&bytes);
        assert_eq!(read.lines.len(), 3);
        assert!(read.lines[1].letter.is_err());
        let problem = read.problem().expect("a problem");
        assert!(
            problem.starts_with("line 2 is not a dead letter: "),
            "{problem}"
        );
        assert_eq!(decode_jsonl_gz(&bytes).map_err(|(l, _)| l), Err(2));
    }
}
