//! Does a role's policy documents allow one action on one resource? A small, conservative reading
//! of IAM's JSON policy language (IAM User Guide, "IAM JSON policy elements reference" and
//! "Policy evaluation logic"): `Effect`, `Action` / `Resource` as a string or a list, `*` and
//! `?` wildcards (actions compared case-insensitively, resources case-sensitively), an explicit
//! `Deny` beats an `Allow`. Statements with `NotAction`, `NotResource` or a `Condition` are not
//! counted as an allow (doctor cannot evaluate them offline; the finding says so), but a `Deny`
//! with them still counts as a deny only when it has plain `Action` / `Resource`. Pure.

use serde_json::Value;

/// What the documents say about `action` on `resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A plain `Allow` statement names them (its `Sid`, or `#n` for the n-th statement).
    Allowed(String),
    /// An explicit `Deny` names them.
    Denied(String),
    /// Only a conditional or `Not*` statement could allow them (doctor cannot tell).
    Conditional(String),
    /// No statement allows them.
    NotAllowed,
}

/// Decodes a policy document as IAM returns it: `GetRolePolicy` and `GetPolicyVersion` give the
/// document URL-encoded (RFC 3986); a document that already starts with `{` is used as it is.
/// `None` when it is not JSON.
pub fn decode_document(doc: &str) -> Option<Value> {
    let trimmed = doc.trim();
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).ok();
    }
    serde_json::from_str(&percent_decode(trimmed)?).ok()
}

/// `%XX` → byte, `+` kept as is (IAM encodes spaces as `%20`); `None` on a broken escape or
/// non-UTF-8 result.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `*` (any run, also empty) and `?` (one character) glob match.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => Vec::new(),
    }
}

/// The verdict of `docs` (decoded documents, each with a label such as `inline wfm-secrets`)
/// for `action` (e.g. `secretsmanager:GetSecretValue`) on `resource` (an ARN).
pub fn evaluate(docs: &[(String, Value)], action: &str, resource: &str) -> Verdict {
    let action_lc = action.to_ascii_lowercase();
    let mut allowed = None;
    let mut conditional = None;
    for (label, doc) in docs {
        for (n, st) in statements(doc).into_iter().enumerate() {
            let id = st
                .get("Sid")
                .and_then(Value::as_str)
                .map_or_else(|| format!("#{}", n + 1), str::to_owned);
            let at = format!("{label} {id}");
            let names_action = strings(st.get("Action").unwrap_or(&Value::Null))
                .iter()
                .any(|a| glob_match(&a.to_ascii_lowercase(), &action_lc));
            let names_resource = strings(st.get("Resource").unwrap_or(&Value::Null))
                .iter()
                .any(|r| glob_match(r, resource));
            let effect = st.get("Effect").and_then(Value::as_str).unwrap_or("");
            let plain = st.get("Condition").is_none();
            if names_action && names_resource {
                if effect == "Deny" && plain {
                    return Verdict::Denied(at);
                }
                if effect == "Allow" && plain {
                    allowed.get_or_insert(at);
                } else if effect == "Allow" {
                    conditional.get_or_insert(at);
                }
            } else if effect == "Allow"
                && (st.get("NotAction").is_some() || st.get("NotResource").is_some())
            {
                conditional.get_or_insert(at);
            }
        }
    }
    match (allowed, conditional) {
        (Some(a), _) => Verdict::Allowed(a),
        (None, Some(c)) => Verdict::Conditional(c),
        (None, None) => Verdict::NotAllowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:wfm/token-AbCdEf";

    fn docs(v: Value) -> Vec<(String, Value)> {
        vec![("inline p".to_owned(), v)]
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("arn:*:secret:wfm/*", ARN));
        assert!(glob_match(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:wfm/token-??????",
            ARN
        ));
        assert!(!glob_match(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:other*",
            ARN
        ));
        assert!(glob_match("a*b*c", "aXbYbc"));
        assert!(!glob_match("a*b", "aXc"));
    }

    #[test]
    fn documents_decode_from_iam_url_encoding() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            decode_document(enc),
            Some(json!({"Version": "2012-10-17", "Statement": []}))
        );
        assert_eq!(decode_document(r#"{"a":1}"#), Some(json!({"a": 1})));
        assert_eq!(decode_document("%7"), None);
        assert_eq!(decode_document("not json"), None);
    }

    #[test]
    fn verdicts() {
        let action = "secretsmanager:GetSecretValue";
        let allow = |res: Value| {
            docs(json!({"Statement": [
                {"Sid": "Other", "Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
                {"Sid": "Read", "Effect": "Allow", "Action": ["secretsmanager:getsecretvalue"], "Resource": res}
            ]}))
        };
        assert_eq!(
            evaluate(&allow(json!(ARN)), action, ARN),
            Verdict::Allowed("inline p Read".to_owned())
        );
        assert_eq!(
            evaluate(
                &allow(json!(["x", "arn:aws:secretsmanager:*:*:secret:wfm/*"])),
                action,
                ARN
            ),
            Verdict::Allowed("inline p Read".to_owned())
        );
        assert_eq!(
            evaluate(&allow(json!("arn:other")), action, ARN),
            Verdict::NotAllowed
        );
        let single =
            docs(json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}));
        assert_eq!(
            evaluate(&single, action, ARN),
            Verdict::Allowed("inline p #1".to_owned())
        );
        let mut denied = allow(json!(ARN));
        denied.push((
            "managed deny".to_owned(),
            json!({"Statement": [{"Effect": "Deny", "Action": "secretsmanager:*", "Resource": "*"}]}),
        ));
        assert_eq!(
            evaluate(&denied, action, ARN),
            Verdict::Denied("managed deny #1".to_owned())
        );
        let cond = docs(json!({"Statement": [{"Effect": "Allow", "Action": action,
            "Resource": ARN, "Condition": {"StringEquals": {"aws:SourceVpc": "v"}}}]}));
        assert_eq!(
            evaluate(&cond, action, ARN),
            Verdict::Conditional("inline p #1".to_owned())
        );
        assert_eq!(evaluate(&[], action, ARN), Verdict::NotAllowed);
    }
}
