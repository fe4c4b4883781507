//! The flag groups of the subcommands (filter, limit, dry run, pace, mode) and their value
//! parsers. Pure: nothing here touches AWS.

use clap::builder::{PossibleValuesParser, RangedU64ValueParser, TypedValueParser};
use clap::{Args, ValueEnum};
use wfm_relay_core::envelope::Reason;
use wfm_relay_core::replay::Filter;
use wfm_relay_core::timefmt::parse_rfc3339;
use wfm_relay_replayer::Mode;

const FILTER_HELP: &str = "Filter";

/// Which dead letters (all of them when no flag is given; every given flag must match).
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Topic glob (`*` any run, `?` one character), e.g. 'v2.users.*.presence'.
    #[arg(long, value_name = "GLOB", help_heading = FILTER_HELP)]
    pub topic: Option<String>,
    /// Agent user id (exact).
    #[arg(long, value_name = "ID", help_heading = FILTER_HELP)]
    pub user_id: Option<String>,
    /// Why the letter was parked (redriven: moved by SQS after too many receives).
    #[arg(long, value_name = "TOKEN", help_heading = FILTER_HELP,
        value_parser = PossibleValuesParser::new(reason_tokens()).try_map(|s| parse_reason(&s)))]
    pub reason: Option<Reason>,
    /// Last HTTP status WFM answered, e.g. 503.
    #[arg(long, value_name = "CODE", help_heading = FILTER_HELP,
        value_parser = RangedU64ValueParser::<u16>::new().range(100..=599))]
    pub status: Option<u16>,
    /// Event time at or after this RFC 3339 time, e.g. 2026-03-02T08:00:00Z.
    #[arg(long, value_name = "RFC3339", help_heading = FILTER_HELP, value_parser = rfc3339)]
    pub from: Option<String>,
    /// Event time before this RFC 3339 time.
    #[arg(long, value_name = "RFC3339", help_heading = FILTER_HELP, value_parser = rfc3339)]
    pub to: Option<String>,
}

/// `stats`, `peek`: a filter and a limit.
#[derive(Debug, Clone, Default, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub filter: FilterArgs,
    /// At most N matching dead letters (peek: 10 by default).
    #[arg(long, value_name = "N", value_parser = limit_parser())]
    pub limit: Option<usize>,
}

/// `redrive`, `archive`: a filter, a limit, dry run.
#[derive(Debug, Clone, Default, Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub scan: ScanArgs,
    /// Show what would happen; change nothing, send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How fast replays POST to WFM.
#[derive(Debug, Clone, Default, Args)]
pub struct PaceArgs {
    /// At most this many POSTs per second (default: no limit).
    #[arg(long, value_name = "PER_SECOND", value_parser = positive_rate)]
    pub rate: Option<f64>,
    /// POSTs in flight at once, 1-50 (default 4).
    #[arg(long, value_name = "N",
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=50))]
    pub concurrency: Option<usize>,
}

/// `replay`.
#[derive(Debug, Clone, Default, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub change: ChangeArgs,
    /// Which events to send.
    #[arg(long, value_enum, default_value_t = ModeArg::History)]
    pub mode: ModeArg,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub pace: PaceArgs,
}

/// `replay-archive`.
#[derive(Debug, Clone, Default, Args)]
pub struct ReplayArchiveArgs {
    /// Archive object key (….jsonl.gz) or key prefix, e.g. dead-letters/2026/03/02/.
    #[arg(long, value_name = "KEY_OR_PREFIX")]
    pub key: String,
    /// Continue after this object key (from a previous report's `next`).
    #[arg(long, value_name = "KEY")]
    pub start_after: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub change: ChangeArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub pace: PaceArgs,
}

/// `doctor`.
#[derive(Debug, Clone, Default, Args)]
pub struct DoctorArgs {
    /// A warning fails the run too (exit 5).
    #[arg(long)]
    pub strict: bool,
    /// A resource that does not exist is a warning ("not deployed locally"), not a failure.
    /// Also on when `RELAYCTL_DOCTOR_LOCAL` is `1`, `true`, `yes`, `on` or `y` (off for `0`,
    /// `false`, `no`, `off`, `n`; anything else is a usage error), as the env file of
    /// `infra/demo.sh --keep` sets it.
    #[arg(
        long,
        env = "RELAYCTL_DOCTOR_LOCAL",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub local: bool,
    /// Read the names from this CloudFormation stack (ListStackResources, DescribeStacks); a
    /// variable that is set wins over the stack's value.
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Every event, with its original event time.
    #[default]
    History,
    /// Only the newest state per agent and topic; older ones archived as superseded.
    Latest,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::History => Mode::History,
            ModeArg::Latest => Mode::Latest,
        }
    }
}

/// The reason tokens `--reason` accepts: every [`Reason::ALL`] as the envelope writes it.
pub fn reason_tokens() -> impl Iterator<Item = &'static str> {
    Reason::ALL.into_iter().map(Reason::as_str)
}

/// Parses a reason token through the envelope's own serde names, so the CLI cannot drift from
/// what dead letters carry.
///
/// # Errors
/// A message listing the tokens when `s` is none of them.
pub fn parse_reason(s: &str) -> Result<Reason, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
        let tokens: Vec<&str> = reason_tokens().collect();
        format!("`{s}` is not a reason; one of: {}", tokens.join(", "))
    })
}

fn rfc3339(s: &str) -> Result<String, String> {
    parse_rfc3339(s)
        .map(|_| s.to_owned())
        .ok_or_else(|| format!("`{s}` is not an RFC 3339 time such as 2026-03-02T08:00:00Z"))
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!(
            "`{s}` is not a positive number of POSTs per second"
        )),
    }
}

fn limit_parser() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1..)
}

impl FilterArgs {
    /// The replayer's filter.
    pub fn to_filter(&self) -> Filter {
        Filter {
            topic: self.topic.clone(),
            user_id: self.user_id.clone(),
            reason: self.reason,
            status: self.status,
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_tokens_are_the_envelope_tokens() {
        for token in reason_tokens() {
            let r = parse_reason(token).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.as_str(), token);
        }
        assert!(
            parse_reason("Rejected")
                .expect_err("case matters")
                .contains("transient_exhausted")
        );
    }

    #[test]
    fn every_reason_is_offered() {
        // No wildcard: a new `Reason` variant fails to compile here until it is counted.
        let declared = |r: Reason| match r {
            Reason::InvalidEvent
            | Reason::Rejected
            | Reason::Gone
            | Reason::TransientExhausted
            | Reason::Redriven
            | Reason::Oversize
            | Reason::Expired
            | Reason::UnknownSource
            | Reason::Superseded
            | Reason::UnmappedAgent
            | Reason::TransformFailed => 1,
        };
        assert_eq!(Reason::ALL.into_iter().map(declared).sum::<usize>(), 11);
        let tokens: std::collections::HashSet<&str> = reason_tokens().collect();
        assert_eq!(tokens.len(), Reason::ALL.len(), "no token twice");
    }
}
