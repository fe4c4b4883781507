//! The chaos run's command line and the timings it compresses.

use anyhow::bail;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// Time given to each invocation (the Runtime API's deadline counts from the moment it is
/// queued); also the forwarder's `FUNCTION_TIMEOUT_S`.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Invocations of one EventBridge event before it goes to the on-failure destination: the first
/// plus Lambda's 2 async retries (AWS Lambda Developer Guide, "Asynchronous invocation": by
/// default Lambda retries a function error twice).
pub const ASYNC_INVOKES: usize = 3;
/// Wait between those retries (1 min then 2 min on AWS; compressed here).
pub const ASYNC_RETRY_WAIT: Duration = Duration::from_secs(1);
/// The retry queue's visibility timeout, seconds (twice [`INVOKE_TIMEOUT`]).
pub const RETRY_VISIBILITY_TIMEOUT_S: u32 = 60;

/// The forwarder's `RETRY_AFTER_CAP_S` in the run: the production default, 12 h (a longer
/// `Retry-After` is waited for 12 h).
pub const RETRY_AFTER_CAP_S: &str = "43200";

/// Chaos run of wfm-relay on moto server (run it through `infra/chaos.sh`).
#[derive(Debug, Parser)]
#[command(name = "wfm-relay-chaos")]
pub struct Args {
    /// Events sent as EventBridge invocations (generated, about 700 bytes each; 900 KB for 1 %
    /// of them with the hostile mix).
    #[arg(long, default_value_t = 10_000)]
    pub events: usize,
    /// Forwarder processes serving the EventBridge invocations (each behind its own Runtime API).
    #[arg(long, default_value_t = 2)]
    pub forwarders: usize,
    /// Forwarder processes serving the retry queue's event source mapping (one poller each).
    #[arg(long, default_value_t = 2)]
    pub consumers: usize,
    /// EventBridge invocations queued per forwarder process at once.
    #[arg(long = "per-forwarder", default_value_t = 2)]
    pub per_forwarder: usize,
    /// Share of WFM requests (0..=1) that get a fault outside the outage.
    #[arg(long = "fault-rate", default_value_t = 0.3)]
    pub fault_rate: f64,
    /// Seconds of full outage (every request 503), starting once half the events are sent.
    #[arg(long = "outage-s", default_value_t = 60)]
    pub outage_s: u64,
    /// The forwarder's `RETRY_SCHEDULE` (compressed; production default 30s,2m,10m,...).
    #[arg(long = "retry-schedule", default_value = "1s,2s,4s,8s")]
    pub retry_schedule: String,
    /// The forwarder's `WFM_TIMEOUT_MS`: a request WFM never answers costs this long.
    #[arg(long = "wfm-timeout-ms", default_value_t = 300)]
    pub wfm_timeout_ms: u64,
    /// The forwarder's `BREAKER_OPEN_MS` (production default 30000; compressed like the
    /// schedule).
    #[arg(long = "breaker-open-ms", default_value_t = 5000)]
    pub breaker_open_ms: u64,
    /// Delete this many undelivered messages from the retry queue during the outage (a
    /// simulated bug: the run must then fail).
    #[arg(long = "inject-loss", default_value_t = 0)]
    pub inject_loss: usize,
    /// Seconds between checkpoints.
    #[arg(long = "checkpoint-s", default_value_t = 10)]
    pub checkpoint_s: u64,
    /// Seconds, after the last event is sent, to wait for the retry queue to drain.
    #[arg(long = "drain-budget-s", default_value_t = 900)]
    pub drain_budget_s: u64,
    /// Leave out the hostile mix (by default 1 % of the events carry U+FFFF / U+FFFE in an
    /// agent's status message, 1 % are 900 KB, and WFM answers 2 % with a `Retry-After` of 1 h to
    /// 24 h; see `wfm_relay_bench::hostile`).
    #[arg(long = "no-hostile")]
    pub no_hostile: bool,
    /// Seed of the WFM server's fault generator.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Directory for the Lambda processes' logs.
    #[arg(long = "log-dir", default_value = ".chaos")]
    pub log_dir: PathBuf,
}

impl Args {
    /// Refuses values the run cannot work with.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(0.0..=1.0).contains(&self.fault_rate) {
            bail!("--fault-rate must be within 0..=1");
        }
        if self.forwarders == 0 || self.consumers == 0 || self.per_forwarder == 0 {
            bail!("--forwarders, --consumers and --per-forwarder must be at least 1");
        }
        Ok(())
    }

    /// Whether the hostile mix is on (the default).
    pub fn hostile(&self) -> bool {
        !self.no_hostile
    }

    /// The forwarder's per-attempt timeout towards WFM.
    pub fn wfm_timeout(&self) -> Duration {
        Duration::from_millis(self.wfm_timeout_ms)
    }

    /// Steps of the retry schedule.
    pub fn schedule_steps(&self) -> usize {
        self.retry_schedule.split(',').count()
    }

    /// The retry queue's `maxReceiveCount`: the schedule's steps + 5.
    pub fn max_receive_count(&self) -> usize {
        self.schedule_steps() + 5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("wfm-relay-chaos").chain(extra.iter().copied()))
            .expect("arguments")
    }

    #[test]
    fn defaults_are_the_documented_run() {
        let a = parse(&[]);
        assert_eq!(
            (a.events, a.forwarders, a.consumers, a.per_forwarder),
            (10_000, 2, 2, 2)
        );
        assert_eq!((a.outage_s, a.inject_loss, a.seed), (60, 0, 2026));
        assert_eq!(a.max_receive_count(), 9);
        assert_eq!(a.wfm_timeout(), Duration::from_millis(300));
        assert!(a.hostile());
        assert!(!parse(&["--no-hostile"]).hostile());
        a.validate().expect("defaults are valid");
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let rate = parse(&["--fault-rate", "1.5"])
            .validate()
            .expect_err("rate");
        assert_eq!(rate.to_string(), "--fault-rate must be within 0..=1");
        let lanes = parse(&["--consumers", "0"]).validate().expect_err("lanes");
        assert_eq!(
            lanes.to_string(),
            "--forwarders, --consumers and --per-forwarder must be at least 1"
        );
    }
}
