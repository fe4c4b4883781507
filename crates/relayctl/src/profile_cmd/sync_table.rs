//! `relayctl profile sync`, the pure part: where the table goes, the table's bytes (the CSV
//! that `wfm_relay_profile::AgentTable::parse_user_fields` reads), the dry-run preview and the
//! summary.
//!
//! The table: a header `user_id,username,employee_id,email`, then one row per active user,
//! sorted by user id; a field the user does not have is empty (the table reader skips it: that
//! user is unmapped for a profile keyed on that field). Values are quoted as RFC 4180 says
//! when they hold `,`, `"`, CR or LF.

use crate::app::Exit;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::path::PathBuf;
use wfm_relay_aws::genesys::{USER_FIELD_NAMES, UserFields};

/// Where the table is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `WFM_PROFILE_USER_FIELDS` = `s3://bucket/key`: one PutObject.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
    },
    /// `--out FILE`: a temporary file beside it, renamed over it.
    File(PathBuf),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Destination::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The destination: `--out` wins, else `WFM_PROFILE_USER_FIELDS`.
///
/// # Errors
/// Exit 2 when neither is given; exit 1 when the variable is not `s3://bucket/key` (the rule
/// of `wfm_relay_profile::ProfileSettings`).
pub fn destination(
    out: Option<&std::path::Path>,
    variable: Option<&str>,
) -> Result<Destination, (Exit, String)> {
    if let Some(p) = out {
        return Ok(Destination::File(p.to_path_buf()));
    }
    let v = variable.map(str::trim).filter(|v| !v.is_empty()).ok_or((
        Exit::Usage,
        "nowhere to write: give --out FILE or set WFM_PROFILE_USER_FIELDS=s3://bucket/key".into(),
    ))?;
    v.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
        .map(|(bucket, key)| Destination::S3 {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
        .ok_or_else(|| {
            (
                Exit::Error,
                format!("WFM_PROFILE_USER_FIELDS: {v:?} is not an S3 object (s3://bucket/key)"),
            )
        })
}

fn csv_field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

fn row(u: &UserFields) -> String {
    let mut cells = vec![csv_field(&u.user_id)];
    cells.extend(
        USER_FIELD_NAMES
            .iter()
            .map(|name| csv_field(u.get(name).unwrap_or_default())),
    );
    cells.join(",")
}

/// The header line, without its newline.
pub fn header() -> String {
    std::iter::once("user_id")
        .chain(USER_FIELD_NAMES)
        .collect::<Vec<_>>()
        .join(",")
}

/// The users sorted by user id.
pub fn sorted(users: &[UserFields]) -> Vec<&UserFields> {
    let mut v: Vec<&UserFields> = users.iter().collect();
    v.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    v
}

/// The whole table (header and one line per user, sorted by user id, `\n` line ends).
pub fn table_csv(users: &[UserFields]) -> Vec<u8> {
    let mut out = header();
    out.push('\n');
    for u in sorted(users) {
        out.push_str(&row(u));
        out.push('\n');
    }
    out.into_bytes()
}

/// The header and the first `n` rows, for `--dry-run`.
pub fn preview(users: &[UserFields], n: usize) -> String {
    let mut out = header();
    out.push('\n');
    for u in sorted(users).into_iter().take(n) {
        out.push_str(&row(u));
        out.push('\n');
    }
    if users.len() > n {
        out.push_str(&format!("… {} more\n", users.len() - n));
    }
    out
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSummary {
    /// Where the table went (or would go).
    pub destination: String,
    /// Rows of the table.
    pub users: usize,
    /// Users with no value for each of [`USER_FIELD_NAMES`], in that order.
    pub missing: [usize; 3],
    /// Users that could not be rows (no id).
    pub problems: usize,
    /// Genesys API calls.
    pub genesys_calls: u64,
    /// Genesys answers 429.
    pub genesys_429: u64,
    /// True for `--dry-run` (nothing written).
    pub dry_run: bool,
    /// Bytes of the table.
    pub bytes: usize,
}

impl SyncSummary {
    /// The summary of `users`; the counts of calls are set by the caller.
    pub fn of(users: &[UserFields], problems: usize, destination: String, dry_run: bool) -> Self {
        let missing =
            USER_FIELD_NAMES.map(|name| users.iter().filter(|u| u.get(name).is_none()).count());
        SyncSummary {
            destination,
            users: users.len(),
            missing,
            problems,
            genesys_calls: 0,
            genesys_429: 0,
            dry_run,
            bytes: table_csv(users).len(),
        }
    }

    /// One line: `wrote 120 users to s3://b/k (12 without employee_id) · Genesys calls 1 (429: 0)`.
    pub fn text(&self) -> String {
        let verb = if self.dry_run { "would write" } else { "wrote" };
        let missing: Vec<String> = USER_FIELD_NAMES
            .iter()
            .zip(self.missing)
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{n} without {name}"))
            .collect();
        let missing = if missing.is_empty() {
            String::new()
        } else {
            format!(" ({})", missing.join(", "))
        };
        let problems = if self.problems > 0 {
            format!(" · {} users without id skipped", self.problems)
        } else {
            String::new()
        };
        format!(
            "{verb} {} users to {}{missing}{problems} · Genesys calls {} (429: {})\n",
            self.users, self.destination, self.genesys_calls, self.genesys_429
        )
    }

    /// The summary as JSON (`--json`).
    pub fn json(&self) -> Value {
        let missing: serde_json::Map<String, Value> = USER_FIELD_NAMES
            .iter()
            .zip(self.missing)
            .map(|(name, n)| ((*name).to_owned(), json!(n)))
            .collect();
        json!({
            "destination": self.destination,
            "dry_run": self.dry_run,
            "users": self.users,
            "missing": missing,
            "problems": self.problems,
            "bytes": self.bytes,
            "genesys_calls": self.genesys_calls,
            "genesys_429": self.genesys_429,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use wfm_relay_profile::AgentTable;

    fn user(id: &str, username: Option<&str>, employee: Option<&str>) -> UserFields {
        UserFields {
            user_id: id.into(),
            username: username.map(Into::into),
            employee_id: employee.map(Into::into),
            email: username.map(|u| format!("{u}@example.com")),
        }
    }

    #[test]
    fn the_table_is_what_the_profile_reader_reads() {
        let users = [
            user("u2", Some("bob"), None),
            user("u1", Some("alice"), Some("E,1")),
            user("u3", None, Some("say \"hi\"")),
        ];
        let bytes = table_csv(&users);
        assert_eq!(
            String::from_utf8(bytes.clone()).expect("utf-8"),
            "user_id,username,employee_id,email\n\
             u1,alice,\"E,1\",alice@example.com\n\
             u2,bob,,bob@example.com\n\
             u3,,\"say \"\"hi\"\"\",\n"
        );
        let by_name = AgentTable::parse_user_fields(&bytes, "username").expect("reads");
        assert_eq!(
            (by_name.get("u1"), by_name.get("u2"), by_name.get("u3")),
            (Some("alice"), Some("bob"), None)
        );
        let by_id = AgentTable::parse_user_fields(&bytes, "employee_id").expect("reads");
        assert_eq!(
            (by_id.get("u1"), by_id.get("u2"), by_id.get("u3")),
            (Some("E,1"), None, Some("say \"hi\""))
        );
        let by_mail = AgentTable::parse_user_fields(&bytes, "email").expect("reads");
        assert_eq!(by_mail.get("u2"), Some("bob@example.com"));
    }

    #[test]
    fn destinations_and_their_errors() {
        assert_eq!(
            destination(Some(Path::new("t.csv")), Some("s3://b/k")),
            Ok(Destination::File("t.csv".into()))
        );
        let s3 = destination(None, Some(" s3://b/tables/users.csv ")).expect("s3");
        assert_eq!(s3.to_string(), "s3://b/tables/users.csv");
        let (code, msg) = destination(None, None).expect_err("none");
        assert_eq!(code, Exit::Usage);
        assert!(msg.contains("--out FILE"), "{msg}");
        let (code, msg) = destination(None, Some("/tmp/x.csv")).expect_err("not s3");
        assert_eq!(code, Exit::Error);
        assert!(msg.starts_with("WFM_PROFILE_USER_FIELDS: "), "{msg}");
    }

    #[test]
    fn preview_and_summary() {
        let users: Vec<UserFields> = (1..=4)
            .map(|i| user(&format!("u{i}"), Some(&format!("n{i}")), None))
            .collect();
        assert_eq!(
            preview(&users, 2),
            "user_id,username,employee_id,email\nu1,n1,,n1@example.com\nu2,n2,,n2@example.com\n… 2 more\n"
        );
        let mut s = SyncSummary::of(&users, 1, "s3://b/k".into(), false);
        s.genesys_calls = 1;
        assert_eq!(
            s.text(),
            "wrote 4 users to s3://b/k (4 without employee_id) · 1 users without id skipped · Genesys calls 1 (429: 0)\n"
        );
        assert_eq!(s.json()["missing"]["employee_id"], 4);
        assert_eq!(s.json()["bytes"], table_csv(&users).len());
        s.dry_run = true;
        assert!(s.text().starts_with("would write 4 users"));
    }
}
