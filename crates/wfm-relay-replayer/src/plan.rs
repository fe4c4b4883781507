//! The plan of a request: what each (action × dry run × mode) combination does, decided in this
//! one place and used by the replayer (which stage runs) and by `relayctl` (confirmation, the
//! archive-bucket check, what a report shows).

use crate::request::{Action, Mode, Request};

/// Peek's default limit (PRODUCT.md §6).
pub const PEEK_LIMIT: usize = 10;

/// What the scan does with each page of matching dead letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageWork {
    /// Count them by topic, reason and status (`stats`); keep them.
    Tally,
    /// Show them (`peek`); keep them.
    Peek,
    /// Keep them (a dry run that counts matches only).
    Hold,
    /// Keep them for the work on the whole selection (`replay --mode latest`).
    Collect,
    /// Collect them and archive every full chunk of [`crate::ARCHIVE_CHUNK`] (`archive`).
    Archive,
    /// POST them to WFM now (`replay`, history mode).
    Replay,
    /// Move them to the retry queue (`redrive`).
    Redrive,
}

/// What runs on the whole selection once the scan has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionWork {
    /// Nothing: the collected letters are released.
    Release,
    /// Count the superseded letters of a `latest` selection (its dry run).
    CountSuperseded,
    /// Archive the superseded letters, POST the newest ones (`replay --mode latest`).
    ReplayLatest,
    /// Archive the last partial chunk and write the manifest (`archive`).
    ArchiveRest,
}

/// What a request does, derived from its action, dry-run flag and mode only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// It reads archive objects, not the DLQ (`replay-archive`).
    pub reads_archive: bool,
    /// The scan's work per page (unused when `reads_archive`).
    pub page: PageWork,
    /// The work on the whole selection after the scan.
    pub selection: SelectionWork,
    /// The whole selection is needed before anything is done (`latest` and its dry run).
    pub reads_whole_selection: bool,
    /// It needs `ARCHIVE_BUCKET`: it writes to the archive, or reads it. A dry run writes
    /// nothing, so only `replay-archive`'s reading needs the bucket then.
    pub needs_bucket: bool,
    /// It changes the DLQ or the archive, or sends to WFM (relayctl asks first).
    pub destructive: bool,
    /// Stopped early, it reports a `next` request that continues it.
    pub continuable: bool,
    /// It POSTs dead letters to WFM (or would, in a dry run): letters without a valid event
    /// are counted `unsendable`, the pace applies.
    pub sends: bool,
    /// The limit when the request names none (`usize::MAX`: no limit).
    pub default_limit: usize,
}

impl Action {
    /// Whether the action only reads (`stats`, `peek`): every letter stays in place.
    pub fn reads_only(self) -> bool {
        matches!(self, Action::Stats | Action::Peek)
    }

    /// Whether the action POSTs letters to WFM (`replay`, `replay-archive`).
    pub fn sends(self) -> bool {
        matches!(self, Action::Replay | Action::ReplayArchive)
    }

    /// Whether the action reads archive objects instead of the DLQ (`replay-archive`); the DLQ's
    /// depth is then not its `remaining` work.
    pub fn reads_archive(self) -> bool {
        self == Action::ReplayArchive
    }
}

impl Plan {
    /// The plan of `action` with `dry_run` in `mode` (`mode` matters for `replay` only).
    pub fn new(action: Action, dry_run: bool, mode: Mode) -> Plan {
        let latest = action == Action::Replay && mode == Mode::Latest;
        let page = match (action, dry_run) {
            (Action::Stats, _) => PageWork::Tally,
            (Action::Peek, _) => PageWork::Peek,
            (Action::Replay, _) if latest => PageWork::Collect,
            (_, true) | (Action::ReplayArchive, _) => PageWork::Hold,
            (Action::Replay, false) => PageWork::Replay,
            (Action::Archive, false) => PageWork::Archive,
            (Action::Redrive, false) => PageWork::Redrive,
        };
        let selection = match (action, dry_run) {
            (Action::Replay, true) if latest => SelectionWork::CountSuperseded,
            (Action::Replay, false) if latest => SelectionWork::ReplayLatest,
            (Action::Archive, false) => SelectionWork::ArchiveRest,
            _ => SelectionWork::Release,
        };
        let writes_archive = !dry_run && (action == Action::Archive || latest);
        Plan {
            reads_archive: action.reads_archive(),
            page,
            selection,
            reads_whole_selection: latest,
            needs_bucket: writes_archive || action.reads_archive(),
            destructive: !dry_run && !action.reads_only(),
            continuable: !dry_run && !action.reads_only(),
            sends: action.sends(),
            default_limit: if action == Action::Peek {
                PEEK_LIMIT
            } else {
                usize::MAX
            },
        }
    }
}

impl Request {
    /// This request's [`Plan`].
    pub fn plan(&self) -> Plan {
        Plan::new(self.action, self.dry_run, self.mode)
    }

    /// At most this many matching letters: `limit`, or the action's default.
    pub fn effective_limit(&self) -> usize {
        self.limit.unwrap_or(self.plan().default_limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Mode::*;
    use PageWork as P;
    use SelectionWork as S;

    #[test]
    fn the_action_dry_run_mode_table() {
        // (action, dry run, mode) → page work, selection work, and the flags
        // B = needs the bucket, D = destructive, C = continuable.
        #[rustfmt::skip]
        let rows = [
            (Stats,         false, History, P::Tally,   S::Release,         ""),
            (Stats,         true,  History, P::Tally,   S::Release,         ""),
            (Peek,          false, History, P::Peek,    S::Release,         ""),
            (Replay,        false, History, P::Replay,  S::Release,         "DC"),
            (Replay,        true,  History, P::Hold,    S::Release,         ""),
            (Replay,        false, Latest,  P::Collect, S::ReplayLatest,    "BDC"),
            // Decided (issue 8, c): a dry run never needs the archive bucket (it writes nothing).
            (Replay,        true,  Latest,  P::Collect, S::CountSuperseded, ""),
            (Redrive,       false, History, P::Redrive, S::Release,         "DC"),
            (Redrive,       true,  History, P::Hold,    S::Release,         ""),
            (Redrive,       false, Latest,  P::Redrive, S::Release,         "DC"),
            (Archive,       false, History, P::Archive, S::ArchiveRest,     "BDC"),
            (Archive,       true,  History, P::Hold,    S::Release,         ""),
            (ReplayArchive, false, History, P::Hold,    S::Release,         "BDC"),
            // It reads the archive, so even its dry run needs the bucket.
            (ReplayArchive, true,  History, P::Hold,    S::Release,         "B"),
        ];
        for (action, dry_run, mode, page, selection, flags) in rows {
            let p = Plan::new(action, dry_run, mode);
            let mut got = String::new();
            for (flag, set) in [
                ('B', p.needs_bucket),
                ('D', p.destructive),
                ('C', p.continuable),
            ] {
                if set {
                    got.push(flag);
                }
            }
            assert_eq!(
                (p.page, p.selection, got.as_str()),
                (page, selection, flags),
                "{action:?} dry_run={dry_run} {mode:?}"
            );
            assert_eq!(
                p.reads_whole_selection,
                action == Replay && mode == Latest,
                "{action:?} {mode:?}"
            );
            assert_eq!(p.reads_archive, action == ReplayArchive);
            assert_eq!(p.sends, matches!(action, Replay | ReplayArchive));
        }
    }

    #[test]
    fn peek_defaults_to_ten_letters() {
        assert_eq!(Request::new(Peek).effective_limit(), PEEK_LIMIT);
        assert_eq!(Request::new(Replay).effective_limit(), usize::MAX);
        let limited = Request {
            limit: Some(3),
            ..Request::new(Peek)
        };
        assert_eq!(limited.effective_limit(), 3);
    }
}
