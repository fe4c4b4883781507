//! The URL path template (`path`, e.g. `/agents/{agent_key}/state`) and the extra headers of a
//! profile: parsed and checked at load, rendered per event.

use crate::error::ProfileError;

/// A value a path template can insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// `{agent_key}`: the mapped agent key.
    AgentKey,
    /// `{user_id}`: the Genesys user id.
    UserId,
    /// `{state_code}`: the WFM state code.
    StateCode,
}

impl Var {
    fn name(self) -> &'static str {
        match self {
            Self::AgentKey => "agent_key",
            Self::UserId => "user_id",
            Self::StateCode => "state_code",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Var(Var),
}

/// A parsed path template: literal text and `{name}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    parts: Vec<Part>,
}

impl PathTemplate {
    /// Parses a template. It must start with `/`, hold only path characters (RFC 3986
    /// `pchar` and `/`; no query or fragment) and name only `{agent_key}`, `{user_id}`,
    /// `{state_code}`.
    ///
    /// # Errors
    /// A [`ProfileError`] for field `path`.
    pub fn parse(s: &str) -> Result<Self, ProfileError> {
        let err = |m: String| ProfileError::field("path", m);
        if !s.starts_with('/') {
            return Err(err(format!("must start with `/`, got {s:?}")));
        }
        let mut parts = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let (name, tail) = after
                    .split_once('}')
                    .ok_or_else(|| err(format!("unclosed `{{` in {s:?}")))?;
                let var = match name {
                    "agent_key" => Var::AgentKey,
                    "user_id" => Var::UserId,
                    "state_code" => Var::StateCode,
                    other => {
                        return Err(err(format!(
                            "unknown placeholder {{{other}}} (known: {{agent_key}}, {{user_id}}, {{state_code}})"
                        )));
                    }
                };
                parts.push(Part::Var(var));
                rest = tail;
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                let (lit, tail) = rest.split_at(end);
                if let Some(c) = lit.chars().find(|c| !is_path_char(*c)) {
                    return Err(err(format!("character {c:?} is not allowed in a URL path")));
                }
                parts.push(Part::Lit(lit.to_owned()));
                rest = tail;
            }
        }
        Ok(Self { parts })
    }

    /// True when the template inserts `var`.
    pub fn uses(&self, var: Var) -> bool {
        self.parts.contains(&Part::Var(var))
    }

    /// Renders the path, percent-encoding each inserted value (everything but RFC 3986
    /// unreserved characters).
    ///
    /// # Errors
    /// The name of a placeholder whose value is null for this event.
    pub fn render(&self, value: impl Fn(Var) -> Option<String>) -> Result<String, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(l) => out.push_str(l),
                Part::Var(v) => {
                    let s = value(*v).ok_or_else(|| {
                        format!(
                            "path template needs {{{}}}, which is null for this event",
                            v.name()
                        )
                    })?;
                    encode_into(&s, &mut out);
                }
            }
        }
        Ok(out)
    }
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%".contains(c)
}

fn encode_into(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Appends a rendered `path` to the WFM URL: `https://wfm.example/api?x=1` +
/// `/agents/a1/state` → `https://wfm.example/api/agents/a1/state?x=1`. The URL's own path
/// keeps its segments (a trailing `/` is not doubled) and its query stays last.
pub fn join_url(base: &str, path: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let mut out = String::with_capacity(base.len() + path.len());
    out.push_str(head.trim_end_matches('/'));
    out.push_str(path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A URL for people (`relayctl profile test`, logs): every query value replaced by `REDACTED`,
/// since WFM URLs may carry keys in the query. `https://w.example/a?key=s3cr3t&v=1` →
/// `https://w.example/a?key=REDACTED&v=REDACTED`.
pub fn redact_query(url: &str) -> String {
    let Some((head, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}=REDACTED"),
            None => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{head}?{}", redacted.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Headers wfm-relay sets itself (PRODUCT.md §3): a profile may not replace them.
const RESERVED: &[&str] = &[
    "authorization",
    "content-length",
    "content-type",
    "host",
    "idempotency-key",
    "user-agent",
    "webhook-id",
    "webhook-signature",
    "webhook-timestamp",
    "x-attempt",
    "x-event-id",
    "x-event-time",
    "x-genesys-topic",
    "x-replay",
    "x-snapshot",
];

/// Checks one extra header of a profile (`headers.<name>`): an RFC 9110 token as name, no
/// control characters in the value, not one of the headers wfm-relay sets.
///
/// # Errors
/// A [`ProfileError`] for field `headers.<name>`.
pub fn check_header(name: &str, value: &str) -> Result<(), ProfileError> {
    let field = format!("headers.{name}");
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(tchar) {
        return Err(ProfileError::field(field, "not a valid header name"));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(ProfileError::field(
            field,
            "reserved: wfm-relay sets this header itself",
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ProfileError::field(
            field,
            "value holds a control character",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_encodes() {
        let t = PathTemplate::parse("/agents/{agent_key}/state").expect("valid");
        assert!(t.uses(Var::AgentKey) && !t.uses(Var::UserId));
        let got = t.render(|v| (v == Var::AgentKey).then(|| "a b/1".to_owned()));
        assert_eq!(got.as_deref(), Ok("/agents/a%20b%2F1/state"));
        assert_eq!(
            t.render(|_| None),
            Err("path template needs {agent_key}, which is null for this event".into())
        );
    }

    #[test]
    fn rejects_bad_templates() {
        for (s, want) in [
            ("agents", "must start with `/`"),
            ("/a/{agent}", "unknown placeholder {agent}"),
            ("/a/{agent_key", "unclosed `{`"),
            ("/a?x=1", "character '?' is not allowed"),
        ] {
            let e = PathTemplate::parse(s).expect_err(s);
            assert_eq!(e.field.as_deref(), Some("path"));
            assert!(e.message.starts_with(want), "{s}: {e}");
        }
    }

    #[test]
    fn joins_urls() {
        assert_eq!(
            join_url("https://w.example/api/", "/a/1"),
            "https://w.example/api/a/1"
        );
        assert_eq!(
            join_url("https://w.example?k=v", "/a/1"),
            "https://w.example/a/1?k=v"
        );
    }

    #[test]
    fn redacts_query_values() {
        assert_eq!(
            redact_query("https://w.example/a?key=s3cr3t&v=1&flag"),
            "https://w.example/a?key=REDACTED&v=REDACTED&flag"
        );
        assert_eq!(redact_query("https://w.example/a"), "https://w.example/a");
    }

    #[test]
    fn header_checks() {
        assert!(check_header("X-Source", "genesys").is_ok());
        assert_eq!(
            check_header("Idempotency-Key", "x").map_err(|e| e.to_string()),
            Err(
                "WFM_PROFILE: headers.Idempotency-Key: reserved: wfm-relay sets this header itself"
                    .into()
            )
        );
        assert!(check_header("Bad Name", "x").is_err());
        assert!(check_header("X-A", "a\r\nb").is_err());
    }
}
