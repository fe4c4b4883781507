//! The replayer library as the chaos run and the benchmarks drive it: built from a Lambda
//! environment (the forwarder's variables, as `LocalStack::lambda_env` makes them) and this
//! process's AWS clients, the way the replayer Lambda builds itself at start-up.

use anyhow::Context;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_aws::queues::{QueueSettings, Queues};
use wfm_relay_aws::wfm::{WfmClient, WfmSettings};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_replayer::Replayer;

/// A [`Replayer`] configured from `env` (`(name, value)` pairs read as the Lambda's environment)
/// over `aws`'s SQS and S3 clients.
///
/// # Errors
/// When `env` is not a valid configuration or the WFM client cannot be built.
pub fn from_env(aws: &AwsClients, env: &[(String, String)]) -> anyhow::Result<Replayer> {
    let lookup = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let cfg = ForwarderConfig::from_lookup(lookup).context("replayer configuration")?;
    let wfm = WfmClient::new(&WfmSettings::from(&cfg)).context("replayer WFM client")?;
    let queues = Queues::new(aws.sqs.clone(), aws.s3.clone(), QueueSettings::from(&cfg));
    Ok(Replayer::new(cfg, wfm, queues))
}
