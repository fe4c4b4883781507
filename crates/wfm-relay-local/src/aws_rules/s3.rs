//! S3 ListObjectsV2 paging as AWS does it, in pages the test chooses: the layer answers at most
//! `s3_page_size` keys per page (whatever larger `max-keys` the caller asks), follows the listing
//! with moto's `start-after`, and issues its own continuation tokens. The tokens are opaque to
//! callers and always contain `+`, `/` and `=`, so a caller that does not URL-encode them, or that
//! builds them itself, fails here as it would on AWS (S3 API Reference, ListObjectsV2:
//! `NextContinuationToken` is obfuscated and not a real key; mapbox/aws-log-replay#5).
//!
//! Path-style requests only (`GET /<bucket>?list-type=2`, as `force_path_style(true)` sends
//! them). Listings with a `delimiter` or an `encoding-type`, and `max-keys=0`, pass through to
//! moto unchanged.

use bytes::Bytes;
use hyper::HeaderMap;
use hyper::header::HeaderValue;
use hyper::http::request::Parts;

use super::Shared;
use super::http::{self, Reply};

const TOKEN_HEAD: &str = "+/";
const TOKEN_TAIL: &str = "==";

/// The continuation token that resumes after `key`.
pub(super) fn token_for(key: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{TOKEN_HEAD}{hex}{TOKEN_TAIL}")
}

/// The key a token of [`token_for`] resumes after; `None` for any other text.
pub(super) fn key_of(token: &str) -> Option<String> {
    let hex = token.strip_prefix(TOKEN_HEAD)?.strip_suffix(TOKEN_TAIL)?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// Percent-decodes a query component (`+` stays `+`: the SDK encodes a space as `%20`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query component (everything but RFC 3986 unreserved characters).
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Removes every `<tag>…</tag>` and `<tag/>` from `xml`.
fn strip_element(xml: &str, tag: &str) -> String {
    let (open, close, empty) = (format!("<{tag}>"), format!("</{tag}>"), format!("<{tag}/>"));
    let mut out = xml.replace(&empty, "");
    while let Some(start) = out.find(&open) {
        let Some(len) = out[start..].find(&close) else {
            break;
        };
        out.replace_range(start..start + len + close.len(), "");
    }
    out
}

/// The text of the last `<Key>` in `xml`, unescaped.
fn last_key(xml: &str) -> Option<String> {
    let start = xml.rfind("<Key>")? + "<Key>".len();
    let len = xml[start..].find("</Key>")?;
    Some(xml_unescape(&xml[start..start + len]))
}

/// One parsed ListObjectsV2 request the layer pages itself.
#[derive(Debug, PartialEq, Eq)]
struct Listing {
    bucket: String,
    max_keys: usize,
    token: Option<String>,
    start_after: Option<String>,
    /// Other parameters passed on to moto (`prefix`, `fetch-owner`), decoded.
    others: Vec<(String, String)>,
}

/// `None` when the request is not a ListObjectsV2 the layer pages (it then passes through).
fn parse(path: &str, query: &str) -> Option<Listing> {
    let bucket = path.trim_matches('/');
    if bucket.is_empty() || bucket.contains('/') {
        return None;
    }
    let mut listing = Listing {
        bucket: bucket.to_owned(),
        max_keys: super::DEFAULT_PAGE_SIZE,
        token: None,
        start_after: None,
        others: Vec::new(),
    };
    let mut v2 = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        match k.as_str() {
            "list-type" => v2 = v == "2",
            "max-keys" => listing.max_keys = v.parse().ok().filter(|n| *n > 0)?,
            "continuation-token" => listing.token = Some(v),
            "start-after" => listing.start_after = Some(v),
            "delimiter" | "encoding-type" => return None,
            _ => listing.others.push((k, v)),
        }
    }
    v2.then_some(listing)
}

fn xml_reply(status: u16, body: String) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/xml"));
    http::reply(status, &headers, body)
}

/// Answers a ListObjectsV2 page itself; `None` when the request is not one it pages.
pub(super) async fn list_objects_v2(shared: &Shared, parts: &Parts, body: &Bytes) -> Option<Reply> {
    let listing = parse(parts.uri.path(), parts.uri.query()?)?;
    let resume = match &listing.token {
        Some(t) => match key_of(t) {
            Some(key) => Some(key),
            None => {
                return Some(xml_reply(
                    400,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidArgument</Code>\
                     <Message>The continuation token provided is incorrect</Message>\
                     <ArgumentName>continuation-token</ArgumentName></Error>"
                        .to_owned(),
                ));
            }
        },
        None => listing.start_after.clone(),
    };
    let page = listing.max_keys.min(shared.opts.s3_page_size);
    let mut query = format!("list-type=2&max-keys={page}");
    for (k, v) in &listing.others {
        query.push_str(&format!("&{}={}", percent_encode(k), percent_encode(v)));
    }
    if let Some(key) = &resume {
        query.push_str(&format!("&start-after={}", percent_encode(key)));
    }
    let path = format!("/{}?{query}", listing.bucket);
    let f = match shared
        .upstream
        .send(hyper::Method::GET, &path, &parts.headers, body.clone())
        .await
    {
        Ok(f) => f,
        Err(e) => return Some(http::bad_gateway(&e)),
    };
    if f.status != 200 {
        return Some(http::relay(f));
    }
    let xml = String::from_utf8_lossy(&f.body).into_owned();
    Some(xml_reply(200, rewrite(&xml, &listing)))
}

/// moto's page with the layer's `MaxKeys`, `ContinuationToken`, `StartAfter` and
/// `NextContinuationToken`.
fn rewrite(xml: &str, listing: &Listing) -> String {
    let truncated = xml.contains("<IsTruncated>true</IsTruncated>");
    let mut out = xml.to_owned();
    for tag in [
        "ContinuationToken",
        "NextContinuationToken",
        "StartAfter",
        "MaxKeys",
    ] {
        out = strip_element(&out, tag);
    }
    let mut ours = format!("<MaxKeys>{}</MaxKeys>", listing.max_keys);
    if let Some(t) = &listing.token {
        ours.push_str(&format!(
            "<ContinuationToken>{}</ContinuationToken>",
            xml_escape(t)
        ));
    }
    if let Some(s) = &listing.start_after {
        ours.push_str(&format!("<StartAfter>{}</StartAfter>", xml_escape(s)));
    }
    if let (true, Some(key)) = (truncated, last_key(&out)) {
        let token = xml_escape(&token_for(&key));
        ours.push_str(&format!(
            "<NextContinuationToken>{token}</NextContinuationToken>"
        ));
    }
    match out.find("</Name>") {
        Some(i) => out.insert_str(i + "</Name>".len(), &ours),
        None => out.push_str(&ours),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_hold_plus_slash_and_equals() {
        for key in ["", "dead-letters/2026/03/02/a-1.jsonl.gz", "ünï/cøde key+&"] {
            let t = token_for(key);
            assert!(t.contains('+') && t.contains('/') && t.contains('='), "{t}");
            assert_eq!(key_of(&t).as_deref(), Some(key));
        }
        assert_eq!(key_of("dead-letters/x"), None);
        assert_eq!(key_of("+/abc=="), None);
        assert_eq!(key_of("+/zz=="), None);
    }

    #[test]
    fn percent_coding_round_trips() {
        let t = token_for("a/b c");
        assert_eq!(percent_decode(&percent_encode(&t)), t);
        assert_eq!(percent_decode("a%2Bb+c%3D"), "a+b+c=");
    }

    #[test]
    fn parse_keeps_what_moto_needs() {
        let l = parse(
            "/bkt",
            "list-type=2&prefix=dead-letters%2F&max-keys=50&continuation-token=%2B%2F61%3D%3D",
        )
        .expect("a listing");
        assert_eq!(l.bucket, "bkt");
        assert_eq!(l.max_keys, 50);
        assert_eq!(l.token.as_deref(), Some("+/61=="));
        assert_eq!(
            l.others,
            vec![("prefix".to_owned(), "dead-letters/".to_owned())]
        );
        assert_eq!(parse("/bkt", "list-type=2&delimiter=%2F"), None);
        assert_eq!(parse("/bkt/key", "list-type=2"), None);
        assert_eq!(parse("/bkt", "location"), None);
    }

    #[test]
    fn rewrite_replaces_moto_tokens_with_ours() {
        let xml = "<ListBucketResult><Name>b</Name><MaxKeys>7</MaxKeys><IsTruncated>true</IsTruncated>\
                   <Contents><Key>a&amp;1</Key></Contents><Contents><Key>a&amp;2</Key></Contents>\
                   <NextContinuationToken>moto</NextContinuationToken><StartAfter>x</StartAfter></ListBucketResult>";
        let listing = parse("/b", "list-type=2&max-keys=1000").expect("a listing");
        let out = rewrite(xml, &listing);
        assert!(
            !out.contains("moto") && !out.contains("<StartAfter>"),
            "{out}"
        );
        assert!(out.contains("<MaxKeys>1000</MaxKeys>"), "{out}");
        let want = format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            token_for("a&2")
        );
        assert!(out.contains(&want), "{out}");
    }

    #[test]
    fn xml_entities_are_unescaped() {
        assert_eq!(
            xml_unescape("a&amp;b&lt;&#65;&#x42;&bogus;"),
            "a&b<AB&bogus;"
        );
    }
}
