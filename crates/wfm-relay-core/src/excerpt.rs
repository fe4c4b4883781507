//! The response excerpt kept with a dead letter (PRODUCT.md §3: "a response excerpt (≤ 1 KiB)";
//! case C26): valid UTF-8 of at most [`EXCERPT_MAX_BYTES`] bytes, cut on a character boundary
//! after decoding, so a multi-byte character at the limit is dropped whole rather than split
//! into U+FFFD, and invalid bytes (each shown as U+FFFD, 3 bytes) never push it past the limit.
//! Pure; the WFM client makes every excerpt with [`excerpt`] and the envelope keeps what it
//! stores within the limit with [`clip`], on every path (the forwarder's two entries, the
//! replayer).

/// Largest response excerpt kept for a dead letter, in bytes of UTF-8: 1 KiB.
pub const EXCERPT_MAX_BYTES: usize = 1024;

/// The excerpt of a response body: `body` decoded as UTF-8 (invalid sequences become U+FFFD,
/// as [`String::from_utf8_lossy`] does), then cut to at most [`EXCERPT_MAX_BYTES`] bytes on a
/// character boundary.
pub fn excerpt(body: &[u8]) -> String {
    // Decoding more than the limit plus one character cannot change the result: every input
    // byte yields at least one output byte, so output past this point is cut anyway.
    let head = &body[..body.len().min(EXCERPT_MAX_BYTES + 4)];
    clip(&String::from_utf8_lossy(head)).to_owned()
}

/// `s` cut to at most [`EXCERPT_MAX_BYTES`] bytes on a character boundary (`s` itself when it
/// fits).
pub fn clip(s: &str) -> &str {
    let mut end = s.len().min(EXCERPT_MAX_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C26: 1,023 `a`, the euro sign (E2 82 AC), 2,000 `b`.
    fn euro_body() -> Vec<u8> {
        let mut b = vec![b'a'; 1023];
        b.extend_from_slice("€".as_bytes());
        b.extend(std::iter::repeat_n(b'b', 2000));
        b
    }

    #[test]
    fn the_euro_at_the_limit_is_dropped_whole() {
        let e = excerpt(&euro_body());
        assert_eq!(e, "a".repeat(1023));
        assert!(!e.contains('\u{FFFD}'));
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily_within_the_limit() {
        // C26's variant: 3,000 bytes of C3 28 (a lead byte followed by `(`).
        let body: Vec<u8> = [0xC3, 0x28].repeat(1500);
        let e = excerpt(&body);
        assert!(e.len() <= EXCERPT_MAX_BYTES, "{} bytes", e.len());
        // Each pair decodes to U+FFFD + `(` (4 bytes): 256 pairs fit exactly.
        assert_eq!(e, "\u{FFFD}(".repeat(256));
    }

    #[test]
    fn short_and_exact_bodies_are_kept_whole() {
        assert_eq!(excerpt(b""), "");
        assert_eq!(excerpt(b"busy"), "busy");
        let exact = "x".repeat(EXCERPT_MAX_BYTES);
        assert_eq!(excerpt(exact.as_bytes()), exact);
        // A character ending exactly at the limit stays.
        let edge = format!("{}€", "a".repeat(EXCERPT_MAX_BYTES - 3));
        assert_eq!(excerpt(edge.as_bytes()), edge);
    }

    #[test]
    fn clip_cuts_on_a_character_boundary() {
        let long = "é".repeat(600); // 1,200 bytes of 2-byte characters
        assert_eq!(clip(&long), "é".repeat(512));
        let four = format!("a{}", "😀".repeat(300)); // 1 + 1,200 bytes
        assert_eq!(clip(&four).len(), 1 + 4 * 255);
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn a_dead_letter_stores_at_most_the_limit() {
        use crate::attempt::Verdict;
        use crate::envelope::{EnvelopeV1, Reason};
        let mut env = EnvelopeV1::invalid(b"{}", "test");
        let long = format!("{}€{}", "a".repeat(1023), "b".repeat(2000));
        env.record_verdict(&Verdict::Park {
            reason: Reason::Rejected,
            status: 400,
            error: "HTTP 400: permanent failure".into(),
            excerpt: long.clone(),
        });
        assert_eq!(env.excerpt.as_deref(), Some("a".repeat(1023).as_str()));
        env.record_verdict(&Verdict::Transient {
            status: Some(503),
            retry_after: None,
            error: "HTTP 503".into(),
            excerpt: Some(long),
        });
        assert_eq!(env.excerpt.map(|e| e.len()), Some(1023));
    }
}
