//! `--env-file`: `KEY=VALUE` lines, as on-call keeps them per environment (`prod.env`).
//!
//! Format: one `KEY=VALUE` per line; blank lines and lines starting with `#` are ignored; an
//! optional leading `export ` is allowed; the value is trimmed and one pair of surrounding
//! `"…"` or `'…'` quotes is removed. No escapes, no `${VAR}` expansion and no inline comments
//! (a `#` inside a value is kept: URLs contain it).

/// Parses the text of an env file into `(key, value)` pairs, in file order.
///
/// # Errors
/// A message naming the first bad line (1-based), e.g. a line without `=` or an invalid name.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE", i + 1));
        };
        let key = key.trim();
        let valid_name = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(format!(
                "line {}: `{key}` is not a variable name (letters, digits, _)",
                i + 1
            ));
        }
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|q| {
                value
                    .strip_prefix(*q)
                    .and_then(|v| v.strip_suffix(*q))
                    .filter(|_| value.len() >= 2)
            })
            .unwrap_or(value);
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_keys_values_comments_and_quotes() {
        let text = "\
# production, eu-west-1
WFM_URL=https://wfm.example.com/api/status/update#frag

export AWS_PROFILE = oncall-prod
  DLQ_URL=\"https://sqs.eu-west-1.amazonaws.com/123/wfm-relay-dlq\"
ARCHIVE_PREFIX='dead-letters'
EMPTY=
QUOTE_ONLY=\"
   # indented comment
";
        assert_eq!(
            parse_env_file(text),
            Ok(pairs(&[
                ("WFM_URL", "https://wfm.example.com/api/status/update#frag"),
                ("AWS_PROFILE", "oncall-prod"),
                (
                    "DLQ_URL",
                    "https://sqs.eu-west-1.amazonaws.com/123/wfm-relay-dlq"
                ),
                ("ARCHIVE_PREFIX", "dead-letters"),
                ("EMPTY", ""),
                ("QUOTE_ONLY", "\""),
            ]))
        );
        assert_eq!(parse_env_file(""), Ok(vec![]));
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, want) in [
            ("A=1\nWFM_URL https://x\n", "line 2: expected KEY=VALUE"),
            ("=x", "line 1: `` is not a variable name"),
            ("1A=x", "line 1: `1A` is not a variable name"),
            ("MY-VAR=x", "line 1: `MY-VAR` is not a variable name"),
        ] {
            let e = parse_env_file(text).expect_err(text);
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }
}
