//! Keeping an agent table fresh: re-read when older than `WFM_PROFILE_MAPPING_TTL_S`, and a
//! failed re-read keeps the previous table (PRODUCT.md §10; the caller logs and counts
//! `MappingStale`). Time is passed in; the caller does the reading.

use crate::apply::Tables;
use crate::table::AgentTable;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tables in use and when they were last (attempted to be) read.
#[derive(Debug, Clone)]
pub struct TableSlot {
    tables: Arc<Tables>,
    attempted_at: Instant,
    stale_since: Option<Instant>,
}

/// What a re-read did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The new table is in use.
    Updated,
    /// The re-read failed; the previous table stays in use. Log `error` and count
    /// `MappingStale`.
    KeptPrevious {
        /// Why the re-read failed (the read or parse error's text).
        error: String,
        /// How long the table in use has been stale (since the first failed re-read).
        stale_for: Duration,
    },
}

impl TableSlot {
    /// A slot holding the tables read at start-up (before the first poll), at `now`.
    pub fn new(tables: Tables, now: Instant) -> Self {
        Self {
            tables: Arc::new(tables),
            attempted_at: now,
            stale_since: None,
        }
    }

    /// The tables to pass to [`crate::Profile::apply`]; cheap to clone across tasks.
    pub fn current(&self) -> Arc<Tables> {
        Arc::clone(&self.tables)
    }

    /// True when the last read (or failed re-read) is at least `ttl` old: read the table again.
    /// A failed re-read waits a whole `ttl` before the next attempt.
    pub fn due(&self, now: Instant, ttl: Duration) -> bool {
        now.saturating_duration_since(self.attempted_at) >= ttl
    }

    /// Records a re-read: `read` is the new table, or why it could not be read or parsed.
    pub fn refresh(&mut self, now: Instant, read: Result<AgentTable, String>) -> Refresh {
        self.attempted_at = now;
        match read {
            Ok(table) => {
                self.tables = Arc::new(Tables {
                    agents: Some(table),
                });
                self.stale_since = None;
                Refresh::Updated
            }
            Err(error) => {
                let since = *self.stale_since.get_or_insert(now);
                Refresh::KeptPrevious {
                    error,
                    stale_for: now.saturating_duration_since(since),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_rereads_keep_the_previous_table() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(300);
        let first = AgentTable::parse_mapping(b"user_id,wfm_id\nu1,A\n").expect("table");
        let mut slot = TableSlot::new(
            Tables {
                agents: Some(first),
            },
            t0,
        );
        assert!(!slot.due(t0 + Duration::from_secs(299), ttl));
        assert!(slot.due(t0 + ttl, ttl));
        let t1 = t0 + ttl;
        let got = slot.refresh(t1, Err("GetObject: AccessDenied".into()));
        assert_eq!(
            got,
            Refresh::KeptPrevious {
                error: "GetObject: AccessDenied".into(),
                stale_for: Duration::ZERO
            }
        );
        let agents = |s: &TableSlot| {
            s.current()
                .agents
                .as_ref()
                .and_then(|t| t.get("u1").map(str::to_owned))
        };
        assert_eq!(agents(&slot).as_deref(), Some("A"));
        assert!(
            !slot.due(t1 + Duration::from_secs(1), ttl),
            "waits a ttl after a failure"
        );
        let t2 = t1 + ttl;
        let got = slot.refresh(t2, Err("parse".into()));
        assert_eq!(
            got,
            Refresh::KeptPrevious {
                error: "parse".into(),
                stale_for: ttl
            }
        );
        let next = AgentTable::parse_mapping(b"user_id,wfm_id\nu1,B\n").expect("table");
        assert_eq!(slot.refresh(t2 + ttl, Ok(next)), Refresh::Updated);
        assert_eq!(agents(&slot).as_deref(), Some("B"));
    }
}
