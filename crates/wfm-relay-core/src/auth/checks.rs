//! The checks of destination auth values at start-up: a token endpoint URL (https, or http on
//! loopback) and an API-key header name (an RFC 9110 token the relay does not set itself).

/// Headers the relay sets itself; an API key may not replace them.
const RESERVED_HEADERS: [&str; 14] = [
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "user-agent",
    "idempotency-key",
    "x-event-id",
    "x-event-time",
    "x-genesys-topic",
    "x-attempt",
    "x-replay",
    "webhook-id",
    "webhook-signature",
];

/// Checks a token endpoint URL: `https://<host>`, or `http://` on a loopback host
/// (`localhost`, `127.0.0.0/8`, `[::1]`) for local runs and tests.
///
/// # Errors
/// A message saying what is wrong.
pub fn check_token_url(url: &str) -> Result<(), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not an absolute URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("the URL must not carry credentials (user:password@)".into());
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback());
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("plain http is refused outside loopback; use https".into()),
        _ => Err(format!("`{url}` is not an https:// URL")),
    }
}

/// Checks an API-key header name: an RFC 9110 §5.6.2 token, not a header the relay sets.
pub(super) fn check_header_name(name: &str) -> Result<(), String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !name.chars().all(tchar) {
        return Err(format!("`{name}` is not a valid HTTP header name"));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("`{name}` is a header the relay sets itself"));
    }
    Ok(())
}
