//! Agent-state guards: which events may be delivered live at all (PRODUCT.md §3, §5; reasons
//! `unknown_source` and `expired`).
//!
//! * [`SourceAllowList`] (`ALLOWED_SOURCES`): an event from a partner source that is not listed
//!   is parked with reason `unknown_source`, never POSTed.
//! * [`MaxEventAge`] (`MAX_EVENT_AGE`): an event whose state is older than its topic's limit is
//!   parked with reason `expired`, so that a stale "Not Ready" delivered late (Genesys retries
//!   delivery to EventBridge for up to 4 days, and EventBridge and Lambda deliver in no
//!   guaranteed order) never overwrites a newer state in WFM. The limit is for *live* delivery
//!   only: the forwarder applies it on every attempt, the replayer never does (a replay is a
//!   deliberate act of an operator).
//!
//! [`check`] is the one decision function; it does no I/O and takes the clock as an argument.

use crate::envelope::Reason;
use crate::event::EventInfo;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};
use wildmatch::WildMatch;

/// The prefix of a Genesys Cloud partner event source:
/// `aws.partner/genesys.com/cloud/<orgId>/<suffix>` (PRODUCT.md §2; EventBridge names partner
/// sources `aws.partner/<partner>/<…>`, AWS EventBridge user guide, "Receiving events from a
/// SaaS partner").
pub const GENESYS_SOURCE_PREFIX: &str = "aws.partner/genesys.com/cloud/";

/// The Genesys Cloud organization id of a partner source
/// (`aws.partner/genesys.com/cloud/<orgId>/<suffix>`), or `None` for any other source.
pub fn genesys_org_id(source: &str) -> Option<&str> {
    let rest = source.strip_prefix(GENESYS_SOURCE_PREFIX)?;
    let (org, suffix) = rest.split_once('/')?;
    (!org.is_empty() && !suffix.is_empty()).then_some(org)
}

/// The org id of a snapshot source `wfm-relay.snapshot/<orgId>`, or `None` for any other source.
pub fn snapshot_org_id(source: &str) -> Option<&str> {
    source
        .strip_prefix(crate::snapshot::SOURCE_PREFIX)
        .filter(|o| !o.is_empty() && !o.contains('/'))
}

/// `ALLOWED_SOURCES`: a comma list of EventBridge `source` values or Genesys Cloud organization
/// ids. Empty means every source is allowed.
///
/// An entry matches when it equals the event's `source` exactly, or when it equals the `<orgId>`
/// of a Genesys source (ASCII case-insensitive: organization ids are UUIDs, whose hex digits may
/// be written in either case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceAllowList(Vec<String>);

impl FromStr for SourceAllowList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry.chars().any(char::is_whitespace) {
                return Err(format!("`{entry}` contains white space"));
            }
            out.push(entry.to_owned());
        }
        Ok(SourceAllowList(out))
    }
}

impl SourceAllowList {
    /// True when no entry is configured (every source is allowed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether events from `source` may be delivered.
    ///
    /// A snapshot source `wfm-relay.snapshot/<orgId>` (PRODUCT.md §6) is admitted when the list
    /// names that org id bare, or inside a listed `aws.partner/genesys.com/cloud/<orgId>/…`
    /// source.
    pub fn allows(&self, source: &str) -> bool {
        if self.0.is_empty() {
            return true;
        }
        if let Some(org) = snapshot_org_id(source) {
            return self.0.iter().any(|e| {
                e == source
                    || e.eq_ignore_ascii_case(org)
                    || genesys_org_id(e).is_some_and(|o| o.eq_ignore_ascii_case(org))
            });
        }
        let org = genesys_org_id(source);
        self.0
            .iter()
            .any(|e| e == source || org.is_some_and(|o| o.eq_ignore_ascii_case(e)))
    }
}

/// One rule of [`MaxEventAge`]: a glob on the topic and its limit.
#[derive(Debug, Clone)]
struct AgeRule {
    pattern: String,
    glob: WildMatch,
    limit: Duration,
}

/// `MAX_EVENT_AGE`: per-topic maximum age of an event for live delivery, as a comma list of
/// `<glob>=<duration>` rules, e.g. `v2.users.*.presence=15m,v2.users.*.routingStatus=15m,*=1h`.
///
/// Globs use `*` (any run of characters) and `?` (one character) and match either the concrete
/// topic (`detail.topicName`, e.g. `v2.users.<userId>.presence`) or the `detail-type`
/// (`v2.users.{id}.presence`). The **first** rule that matches applies, so put a catch-all `*`
/// last. Durations are humantime (`90s`, `15m`, `1h`, `2d`). Empty (the default) means off.
#[derive(Debug, Clone, Default)]
pub struct MaxEventAge(Vec<AgeRule>);

impl PartialEq for MaxEventAge {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.pattern == b.pattern && a.limit == b.limit)
    }
}

impl FromStr for MaxEventAge {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((pattern, dur)) = part.rsplit_once('=') else {
                return Err(format!("`{part}` is not `<topic glob>=<duration>`"));
            };
            let pattern = pattern.trim();
            if pattern.is_empty() {
                return Err(format!("`{part}` has an empty topic glob"));
            }
            let limit =
                humantime::parse_duration(dur.trim()).map_err(|e| format!("`{part}`: {e}"))?;
            if limit.is_zero() {
                return Err(format!("`{part}`: the limit must be longer than zero"));
            }
            out.push(AgeRule {
                pattern: pattern.to_owned(),
                glob: WildMatch::new(pattern),
                limit,
            });
        }
        Ok(MaxEventAge(out))
    }
}

impl fmt::Display for MaxEventAge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| format!("{}={}s", r.pattern, r.limit.as_secs()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl MaxEventAge {
    /// True when no rule is configured (no age limit).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first rule matching `topic_name` or `detail_type`: its glob and its limit.
    pub fn limit_for(
        &self,
        topic_name: Option<&str>,
        detail_type: &str,
    ) -> Option<(&str, Duration)> {
        self.0
            .iter()
            .find(|r| topic_name.is_some_and(|t| r.glob.matches(t)) || r.glob.matches(detail_type))
            .map(|r| (r.pattern.as_str(), r.limit))
    }
}

/// What the guards need to know about an event.
#[derive(Debug, Clone, Copy)]
pub struct GuardInput<'a> {
    /// EventBridge `source`.
    pub source: &'a str,
    /// EventBridge `detail-type`.
    pub detail_type: &'a str,
    /// `detail.topicName`, when present.
    pub topic_name: Option<&'a str>,
    /// The state time (PRODUCT.md §2); `None` means the age is unknown and never expires.
    pub state_time: Option<SystemTime>,
    /// `detail.timestamp` (when Genesys published the event, or when a snapshot read the
    /// state); a snapshot event's age is measured from it (PRODUCT.md §6).
    pub published_time: Option<SystemTime>,
}

impl<'a> From<&'a EventInfo> for GuardInput<'a> {
    fn from(e: &'a EventInfo) -> Self {
        GuardInput {
            source: &e.source,
            detail_type: &e.detail_type,
            topic_name: e.topic_name.as_deref(),
            state_time: e.state_time,
            published_time: e.published_time,
        }
    }
}

/// Why the guards refuse an event: the reason to park it with, and a sentence for `last_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// [`Reason::UnknownSource`] or [`Reason::Expired`].
    pub reason: Reason,
    /// For people: which source, or how old against which limit.
    pub message: String,
}

/// Decides whether `ev` may be POSTed live at `now`: `None` to go ahead, else the refusal.
///
/// The source is checked first. The age is `now − state time` (for a snapshot event, whose
/// source starts with `wfm-relay.snapshot/`, `now − detail.timestamp`: an agent AVAILABLE for
/// six hours read a second ago is fresh); an event without that time, or whose time is in the
/// future, never expires. An age equal to the limit still passes.
pub fn check(
    allowed: &SourceAllowList,
    max_age: &MaxEventAge,
    ev: GuardInput<'_>,
    now: SystemTime,
) -> Option<Refusal> {
    if !allowed.allows(ev.source) {
        return Some(Refusal {
            reason: Reason::UnknownSource,
            message: format!("source `{}` is not in ALLOWED_SOURCES", ev.source),
        });
    }
    let (pattern, limit) = max_age.limit_for(ev.topic_name, ev.detail_type)?;
    let since = if snapshot_org_id(ev.source).is_some() {
        ev.published_time?
    } else {
        ev.state_time?
    };
    let age = now.duration_since(since).ok()?;
    (age > limit).then(|| Refusal {
        reason: Reason::Expired,
        message: format!(
            "state is {} old, above the {} limit of MAX_EVENT_AGE rule `{pattern}`; not sent live",
            humantime::format_duration(Duration::from_secs(age.as_secs())),
            humantime::format_duration(limit)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timefmt::parse_rfc3339;

    const ORG: &str = "0f0f0f0f-0000-4000-8000-000000000001";
    const SRC: &str = "aws.partner/genesys.com/cloud/0f0f0f0f-0000-4000-8000-000000000001/wfm";

    fn at(s: &str) -> SystemTime {
        parse_rfc3339(s).expect("time")
    }

    #[test]
    fn org_ids_from_sources() {
        let table = [
            (SRC, Some(ORG)),
            ("aws.partner/genesys.com/cloud/abc/x/y", Some("abc")),
            ("aws.partner/genesys.com/cloud/abc", None),
            ("aws.partner/genesys.com/cloud//x", None),
            ("aws.partner/genesys.com/cloud/abc/", None),
            ("aws.partner/other.com/cloud/abc/x", None),
            ("my.app", None),
        ];
        for (source, want) in table {
            assert_eq!(genesys_org_id(source), want, "{source}");
        }
    }

    #[test]
    fn allow_list_table() {
        let table: &[(&str, &str, bool)] = &[
            ("", SRC, true),
            ("", "anything", true),
            (SRC, SRC, true),
            (ORG, SRC, true),
            ("0F0F0F0F-0000-4000-8000-000000000001", SRC, true),
            ("other-org", SRC, false),
            ("other-org, my.app", "my.app", true),
            (ORG, "my.app", false),
            // An org id never matches a non-Genesys source that merely contains it.
            (
                ORG,
                "aws.partner/other.com/cloud/0f0f0f0f-0000-4000-8000-000000000001/x",
                false,
            ),
            // A source entry is exact, not a prefix.
            ("aws.partner/genesys.com/cloud", SRC, false),
        ];
        for (list, source, want) in table {
            let l: SourceAllowList = list.parse().expect("parses");
            assert_eq!(l.allows(source), *want, "list `{list}`, source `{source}`");
        }
        assert!("a b".parse::<SourceAllowList>().is_err());
        assert!(" , ".parse::<SourceAllowList>().expect("empty").is_empty());
    }

    #[test]
    fn max_age_parse_errors() {
        for bad in ["15m", "=15m", "x=", "x=0s", "x=soon"] {
            assert!(bad.parse::<MaxEventAge>().is_err(), "{bad}");
        }
        let ok: MaxEventAge = "v2.users.*.presence=15m, *=1h".parse().expect("parses");
        assert_eq!(ok.to_string(), "v2.users.*.presence=900s,*=3600s");
        assert!("".parse::<MaxEventAge>().expect("off").is_empty());
    }

    #[test]
    fn limit_per_topic_first_match_wins() {
        let rules: MaxEventAge = "v2.users.*.presence=15m,v2.users.*.routingStatus=10m,*=1h"
            .parse()
            .expect("parses");
        type Row<'a> = (Option<&'a str>, &'a str, Option<(&'a str, u64)>);
        let table: &[Row<'_>] = &[
            (
                Some("v2.users.u1.presence"),
                "v2.users.{id}.presence",
                Some(("v2.users.*.presence", 900)),
            ),
            // The detail-type alone matches too (`*` covers `{id}`).
            (
                None,
                "v2.users.{id}.routingStatus",
                Some(("v2.users.*.routingStatus", 600)),
            ),
            (
                Some("v2.detail.events.conversation.x.user.end"),
                "v2.detail.events.conversation.{id}.user.end",
                Some(("*", 3600)),
            ),
        ];
        for (topic, dt, want) in table {
            let got = rules.limit_for(*topic, dt).map(|(p, d)| (p, d.as_secs()));
            assert_eq!(got, *want, "{topic:?} {dt}");
        }
        let no_catch_all: MaxEventAge = "v2.users.*.presence=15m".parse().expect("parses");
        assert_eq!(no_catch_all.limit_for(None, "v2.users.{id}.activity"), None);
    }

    #[test]
    fn check_table() {
        let allowed: SourceAllowList = ORG.parse().expect("parses");
        let max_age: MaxEventAge = "v2.users.*.presence=15m,*=1h".parse().expect("parses");
        let now = at("2026-03-02T10:00:00Z");
        let presence = |source: &'static str, state: Option<&str>| GuardInput {
            source,
            detail_type: "v2.users.{id}.presence",
            topic_name: Some("v2.users.u1.presence"),
            state_time: state.map(at),
            published_time: None,
        };
        let table: &[(GuardInput<'_>, Option<Reason>)] = &[
            (presence(SRC, Some("2026-03-02T09:50:00Z")), None),
            // Exactly at the limit: still live.
            (presence(SRC, Some("2026-03-02T09:45:00Z")), None),
            (
                presence(SRC, Some("2026-03-02T09:44:59Z")),
                Some(Reason::Expired),
            ),
            // In the future (clock skew): age zero.
            (presence(SRC, Some("2026-03-02T10:05:00Z")), None),
            // No state time: the age is unknown, never expired.
            (presence(SRC, None), None),
            // The source is checked first, even for an expired event.
            (
                presence(
                    "aws.partner/genesys.com/cloud/other/x",
                    Some("2026-01-01T00:00:00Z"),
                ),
                Some(Reason::UnknownSource),
            ),
            (
                GuardInput {
                    source: SRC,
                    detail_type: "v2.users.{id}.activity",
                    topic_name: None,
                    state_time: Some(at("2026-03-02T09:30:00Z")),
                    published_time: None,
                },
                None,
            ),
            (
                GuardInput {
                    source: SRC,
                    detail_type: "v2.users.{id}.activity",
                    topic_name: None,
                    state_time: Some(at("2026-03-02T08:59:00Z")),
                    published_time: None,
                },
                Some(Reason::Expired),
            ),
        ];
        for (input, want) in table {
            let got = check(&allowed, &max_age, *input, now).map(|r| r.reason);
            assert_eq!(got, *want, "{input:?}");
        }
        let r = check(
            &allowed,
            &max_age,
            presence(SRC, Some("2026-03-02T09:00:00Z")),
            now,
        )
        .expect("expired");
        assert_eq!(
            r.message,
            "state is 1h old, above the 15m limit of MAX_EVENT_AGE rule `v2.users.*.presence`; not sent live"
        );
        // Both guards off: everything passes.
        assert_eq!(
            check(
                &SourceAllowList::default(),
                &MaxEventAge::default(),
                presence("x", Some("2000-01-01T00:00:00Z")),
                now
            ),
            None
        );
    }

    #[test]
    fn snapshot_sources_are_allowed_by_org_and_aged_from_the_read_time() {
        let snap = format!("wfm-relay.snapshot/{ORG}");
        for list in [ORG, SRC, &snap] {
            let allowed: SourceAllowList = list.parse().expect("parses");
            assert!(allowed.allows(&snap), "{list}");
            assert!(!allowed.allows("wfm-relay.snapshot/other-org"), "{list}");
        }
        let upper: SourceAllowList = ORG.to_ascii_uppercase().parse().expect("parses");
        assert!(upper.allows(&snap));
        assert!(
            !SourceAllowList::from_str("other")
                .expect("parses")
                .allows(&snap)
        );
        assert_eq!(snapshot_org_id("wfm-relay.snapshot/"), None);
        assert_eq!(snapshot_org_id("wfm-relay.snapshot/a/b"), None);

        let allowed: SourceAllowList = SRC.parse().expect("parses");
        let max_age: MaxEventAge = "*=15m".parse().expect("parses");
        let now = at("2026-03-02T10:00:00Z");
        let input = |source, published: &str| GuardInput {
            source,
            detail_type: "v2.users.{id}.presence",
            topic_name: Some("v2.users.u1.presence"),
            state_time: Some(at("2026-03-02T04:00:00Z")),
            published_time: Some(at(published)),
        };
        // Six hours in the state, read a second ago: fresh.
        assert_eq!(
            check(
                &allowed,
                &max_age,
                input(&snap, "2026-03-02T09:59:59Z"),
                now
            ),
            None
        );
        // A snapshot event that waited too long since it was read expires.
        let r = check(
            &allowed,
            &max_age,
            input(&snap, "2026-03-02T09:40:00Z"),
            now,
        );
        assert_eq!(r.map(|r| r.reason), Some(Reason::Expired));
        // A live event still ages from its state time.
        let r = check(&allowed, &max_age, input(SRC, "2026-03-02T09:59:59Z"), now);
        assert_eq!(r.map(|r| r.reason), Some(Reason::Expired));
    }
}
