//! Agent tables: Genesys user id → WFM agent key, read from CSV or JSON.
//!
//! Two sources (PRODUCT.md §10):
//! * the **mapping table** at `WFM_PROFILE_MAPPING` — CSV with a header row naming the columns
//!   `user_id` and `wfm_id` (other columns are ignored), or a JSON object
//!   `{"<user id>": "<wfm id>", …}`;
//! * the **user-field table** at `WFM_PROFILE_USER_FIELDS` (written by the snapshot job or
//!   `relayctl profile sync`) — CSV with a header row `user_id,<field>,<field>…`, or a JSON
//!   object `{"<user id>": {"<field>": "<value>", …}, …}`; only the field the profile names is
//!   kept, and a user whose field is empty or null is simply absent (unmapped).
//!
//! The format is told by the content: a first non-blank byte `{` means JSON, anything else CSV.
//!
//! Memory: the table is two allocations — one string arena holding every id and key back to
//! back, and a sorted vector of 12-byte entries — so a 20,000-agent table of UUIDs mapped to
//! 12-character ids takes about 1.2 MB ([`AgentTable::heap_bytes`] gives the exact figure).
//! Lookups are a binary search (about 15 comparisons for 20,000 agents).

use crate::error::TableError;
use std::collections::BTreeMap;

/// Which table a profile reads its agent keys from, and so which variable names its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// `WFM_PROFILE_MAPPING`: Genesys user id → WFM id.
    Mapping,
    /// `WFM_PROFILE_USER_FIELDS`: Genesys user id → a field of the Genesys user.
    UserFields,
}

impl TableKind {
    /// The environment variable that names this table's object.
    pub fn variable(self) -> &'static str {
        match self {
            Self::Mapping => "WFM_PROFILE_MAPPING",
            Self::UserFields => "WFM_PROFILE_USER_FIELDS",
        }
    }

    /// A phrase for messages: `agent mapping table (WFM_PROFILE_MAPPING)`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Mapping => "agent mapping table (WFM_PROFILE_MAPPING)",
            Self::UserFields => "user-field table (WFM_PROFILE_USER_FIELDS)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    start: u32,
    key_len: u16,
    value_len: u16,
}

/// A read-only map from Genesys user id to WFM agent key, compact and sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentTable {
    arena: String,
    entries: Vec<Entry>,
}

impl AgentTable {
    /// Builds a table from pairs. Duplicate user ids with different keys are an error (the
    /// table would be ambiguous); exact duplicates are kept once.
    ///
    /// # Errors
    /// [`TableError`] naming `kind`'s variable: an ambiguous user id, an id or key longer than
    /// 65,535 bytes, or a table larger than 4 GiB.
    pub fn from_pairs(
        kind: TableKind,
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, TableError> {
        let err = |message: String| TableError {
            variable: kind.variable(),
            message,
        };
        let mut sorted: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in pairs {
            if let Some(old) = sorted.get(&k) {
                if *old != v {
                    return Err(err(format!(
                        "user id {k} is mapped twice ({old:?} and {v:?})"
                    )));
                }
                continue;
            }
            sorted.insert(k, v);
        }
        let total: usize = sorted.iter().map(|(k, v)| k.len() + v.len()).sum();
        let mut arena = String::with_capacity(total);
        let mut entries = Vec::with_capacity(sorted.len());
        for (k, v) in sorted {
            let too_long = |s: &str| {
                let head: String = s.chars().take(40).collect();
                err(format!("{head:?}… is longer than 65,535 bytes"))
            };
            let key_len = u16::try_from(k.len()).map_err(|_| too_long(&k))?;
            let value_len = u16::try_from(v.len()).map_err(|_| too_long(&v))?;
            let start = u32::try_from(arena.len())
                .map_err(|_| err("table is larger than 4 GiB".to_owned()))?;
            arena.push_str(&k);
            arena.push_str(&v);
            entries.push(Entry {
                start,
                key_len,
                value_len,
            });
        }
        Ok(Self { arena, entries })
    }

    /// Parses a mapping table (`WFM_PROFILE_MAPPING`), CSV or JSON (see the module docs).
    ///
    /// # Errors
    /// [`TableError`] naming `WFM_PROFILE_MAPPING` and the line or key at fault.
    pub fn parse_mapping(bytes: &[u8]) -> Result<Self, TableError> {
        let kind = TableKind::Mapping;
        let pairs = if is_json(bytes) {
            let map: BTreeMap<String, String> = serde_json::from_slice(bytes).map_err(|e| {
                table_err(
                    kind,
                    format!("not a JSON object of strings (user id → wfm id): {e}"),
                )
            })?;
            for (k, v) in &map {
                nonempty(kind, k, v, &format!("key {k:?}"))?;
            }
            map.into_iter().collect::<Vec<_>>()
        } else {
            csv_pairs(kind, bytes, "wfm_id", true)?
        };
        Self::from_pairs(kind, pairs)
    }

    /// Parses a user-field table (`WFM_PROFILE_USER_FIELDS`), keeping only `field`.
    ///
    /// # Errors
    /// [`TableError`] naming `WFM_PROFILE_USER_FIELDS`: unreadable CSV/JSON, a CSV header
    /// without `user_id` or `field`, a JSON value that is not an object of strings.
    pub fn parse_user_fields(bytes: &[u8], field: &str) -> Result<Self, TableError> {
        let kind = TableKind::UserFields;
        let pairs = if is_json(bytes) {
            type Users = BTreeMap<String, BTreeMap<String, Option<String>>>;
            let users: Users = serde_json::from_slice(bytes).map_err(|e| {
                table_err(
                    kind,
                    format!(
                        "not a JSON object of users (user id → {{field: string or null}}): {e}"
                    ),
                )
            })?;
            users
                .into_iter()
                .filter_map(|(id, mut fields)| {
                    let v = fields.remove(field).flatten()?;
                    (!v.is_empty()).then_some((id, v))
                })
                .collect::<Vec<_>>()
        } else {
            csv_pairs(kind, bytes, field, false)?
        };
        Self::from_pairs(kind, pairs)
    }

    /// The WFM agent key for a Genesys user id.
    pub fn get(&self, user_id: &str) -> Option<&str> {
        let i = self
            .entries
            .binary_search_by(|e| self.key(e).cmp(user_id))
            .ok()?;
        let e = self.entries.get(i)?;
        let from = e.start as usize + usize::from(e.key_len);
        self.arena.get(from..from + usize::from(e.value_len))
    }

    fn key(&self, e: &Entry) -> &str {
        let from = e.start as usize;
        self.arena
            .get(from..from + usize::from(e.key_len))
            .unwrap_or_default()
    }

    /// Number of user ids in the table.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the table maps no user id.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes this table holds on the heap: the arena's capacity plus the entry vector's
    /// capacity × 8 bytes. Exact (two allocations), allocator bookkeeping aside.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }
}

fn is_json(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

fn table_err(kind: TableKind, message: String) -> TableError {
    TableError {
        variable: kind.variable(),
        message,
    }
}

fn nonempty(kind: TableKind, k: &str, v: &str, at: &str) -> Result<(), TableError> {
    if k.trim().is_empty() {
        return Err(table_err(kind, format!("{at}: empty user_id")));
    }
    if v.trim().is_empty() {
        return Err(table_err(kind, format!("{at}: empty wfm_id")));
    }
    Ok(())
}

/// Reads `user_id` and `column` from a CSV with a header row. With `strict`, an empty value is
/// an error (a mapping row must map); otherwise the row is skipped (the user has no such field).
fn csv_pairs(
    kind: TableKind,
    bytes: &[u8],
    column: &str,
    strict: bool,
) -> Result<Vec<(String, String)>, TableError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(bytes);
    let headers = rdr
        .headers()
        .map_err(|e| table_err(kind, format!("unreadable CSV header: {e}")))?
        .clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| {
                table_err(
                    kind,
                    format!(
                        "CSV header has no column `{name}` (found: {})",
                        headers.iter().collect::<Vec<_>>().join(", ")
                    ),
                )
            })
    };
    let (ki, vi) = (find("user_id")?, find(column)?);
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| table_err(kind, format!("unreadable CSV: {e}")))?;
        let line = rec.position().map_or(0, |p| p.line());
        let k = rec.get(ki).unwrap_or_default();
        let v = rec.get(vi).unwrap_or_default();
        if strict {
            nonempty(kind, k, v, &format!("line {line}"))?;
        } else if k.is_empty() {
            return Err(table_err(kind, format!("line {line}: empty user_id")));
        } else if v.is_empty() {
            continue;
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_mapping() {
        let csv = "user_id,wfm_id,comment\n u1 ,W-1,first\nu2,W-2,\n";
        let t = AgentTable::parse_mapping(csv.as_bytes()).expect("csv");
        assert_eq!(
            (t.get("u1"), t.get("u2"), t.get("u3")),
            (Some("W-1"), Some("W-2"), None)
        );
        let t = AgentTable::parse_mapping(br#" {"u1": "W-1", "u2": "W-2"}"#).expect("json");
        assert_eq!(
            (t.get("u1"), t.get("u2"), t.len()),
            (Some("W-1"), Some("W-2"), 2)
        );
    }

    #[test]
    fn mapping_errors_name_the_variable_and_line() {
        let cases: &[(&str, &str)] = &[
            (
                "user_id,wfm\nu1,W\n",
                "WFM_PROFILE_MAPPING: CSV header has no column `wfm_id`",
            ),
            (
                "user_id,wfm_id\nu1,W\nu2,\n",
                "WFM_PROFILE_MAPPING: line 3: empty wfm_id",
            ),
            (
                "user_id,wfm_id\nu1,W\nu1,X\n",
                "WFM_PROFILE_MAPPING: user id u1 is mapped twice",
            ),
            (
                "user_id,wfm_id\nu1,W,extra\n",
                "WFM_PROFILE_MAPPING: unreadable CSV",
            ),
            (
                r#"{"u1": 5}"#,
                "WFM_PROFILE_MAPPING: not a JSON object of strings",
            ),
        ];
        for (input, want) in cases {
            let e = AgentTable::parse_mapping(input.as_bytes()).expect_err(input);
            assert!(e.to_string().starts_with(want), "{input:?}: {e}");
        }
    }

    #[test]
    fn user_fields_keep_one_field() {
        let csv = "user_id,username,employee_id\nu1,alice,E1\nu2,bob,\n";
        let t = AgentTable::parse_user_fields(csv.as_bytes(), "employee_id").expect("csv");
        assert_eq!((t.get("u1"), t.get("u2"), t.len()), (Some("E1"), None, 1));
        let json =
            br#"{"u1": {"username": "alice", "employee_id": null}, "u2": {"username": "bob"}}"#;
        let t = AgentTable::parse_user_fields(json, "username").expect("json");
        assert_eq!((t.get("u1"), t.get("u2")), (Some("alice"), Some("bob")));
        let t = AgentTable::parse_user_fields(json, "employee_id").expect("json");
        assert!(t.is_empty());
        let e = AgentTable::parse_user_fields(b"user_id,username\n", "email").expect_err("col");
        assert!(
            e.to_string()
                .starts_with("WFM_PROFILE_USER_FIELDS: CSV header has no column `email`")
        );
    }

    /// Issue 13 §5: a 20,000-agent mapping table stays within 8 MB. Measured by the table's own
    /// size arithmetic (two allocations); `examples/bench.rs` prints the same figure.
    #[test]
    fn twenty_thousand_agents_fit_in_eight_megabytes() {
        let mut csv = String::from("user_id,wfm_id\n");
        for i in 0..20_000u32 {
            csv.push_str(&format!("aaaaaaaa-0000-4000-8000-{i:012},WFM-{i:08}\n"));
        }
        let t = AgentTable::parse_mapping(csv.as_bytes()).expect("table");
        assert_eq!(t.len(), 20_000);
        assert_eq!(
            t.get("aaaaaaaa-0000-4000-8000-000000012345"),
            Some("WFM-00012345")
        );
        // 20,000 × (36 + 12) bytes of text + 20,000 × 8 bytes of entries.
        assert_eq!(t.heap_bytes(), 20_000 * (36 + 12) + 20_000 * 8);
        assert!(t.heap_bytes() <= 8 * 1024 * 1024);
    }
}
