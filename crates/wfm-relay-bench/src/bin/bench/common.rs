//! What the benchmarks share: the Lambda binaries measured, a fresh stack in moto, seeded dead
//! letters, and number formatting for the tables.

use anyhow::{Context, bail};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use std::time::Duration;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_bench::events::EventFamily;
use wfm_relay_core::envelope::{EnvelopeV1, Reason};
use wfm_relay_core::event::parse_event;
use wfm_relay_local::{LocalStack, StackOptions};

/// The Lambda binaries measured.
pub const LAMBDAS: [&str; 2] = ["wfm-relay-forwarder", "wfm-relay-replayer"];
/// Invocation timeout given to the Runtime API.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// `debug` or `release`: how this harness was built.
pub fn harness_build() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// Milliseconds, one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Microseconds, no decimal.
pub fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

/// `a - b` in microseconds, no decimal (may be negative).
pub fn signed_us(a: Duration, b: Duration) -> String {
    format!("{:.0}", (a.as_secs_f64() - b.as_secs_f64()) * 1e6)
}

/// A stack in moto with a fresh run id.
pub async fn fresh_stack(aws: &AwsClients, prefix: &str) -> anyhow::Result<LocalStack> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let options = StackOptions {
        max_receive_count: 5,
        retry_visibility_timeout_s: 60,
    };
    Ok(LocalStack::create(aws, prefix, &run[..8], options).await?)
}

/// Puts `m` dead letters (our envelope, reason `transient_exhausted`) into `url`.
pub async fn seed_dead_letters(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    m: usize,
) -> anyhow::Result<()> {
    let fam = EventFamily::random();
    let mut i = 0;
    while i < m {
        let mut entries = Vec::new();
        for j in i..(i + 10).min(m) {
            let bytes = fam.event(j);
            let info = parse_event(&bytes).ok();
            let mut env = EnvelopeV1::new(&bytes, info.as_ref());
            env.reason = Some(Reason::TransientExhausted);
            env.attempts = 9;
            env.last_status = Some(503);
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{j}"))
                    .message_body(env.to_json())
                    .build()?,
            );
        }
        let out = sqs
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .context("SendMessageBatch (seeding)")?;
        if !out.failed().is_empty() {
            bail!("seeding: {} entries failed", out.failed().len());
        }
        i += 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_numbers() {
        assert_eq!(ms(Duration::from_micros(12_345)), "12.3");
        assert_eq!(us(Duration::from_micros(12_345)), "12345");
        assert_eq!(
            signed_us(Duration::from_micros(900), Duration::from_micros(1_000)),
            "-100"
        );
    }
}
