//! Shared set-up of the integration tests: moto server through `AWS_ENDPOINT_URL` (started by
//! `infra/test.sh`), one fresh pair of queues and one bucket per test, a scripted WFM server, and
//! a forwarder built from the real adapters.

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_aws::queues::{QueueSettings, Queues};
use wfm_relay_aws::wfm::{WfmClient, WfmSettings};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_forwarder::Forwarder;

/// Fails loudly when the emulator is missing: these tests never skip silently.
pub fn endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: these tests need moto server. Run them with \
             `infra/test.sh`, which starts moto on a free port and sets the variable."
        ),
    }
}

/// A unique, valid SQS/S3 name.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// AWS clients against moto.
pub async fn clients() -> AwsClients {
    let _ = endpoint();
    AwsClients::from_env().await
}

/// One test's retry queue, DLQ and bucket.
#[derive(Clone)]
pub struct Stack {
    pub aws: AwsClients,
    pub retry_url: String,
    pub dlq_url: String,
    pub bucket: String,
}

/// Options for [`Stack::create`].
#[derive(Default, Clone, Copy)]
pub struct StackOptions {
    /// `MaximumMessageSize` of the retry queue (bytes), if not the default.
    pub retry_max_bytes: Option<u32>,
    /// `maxReceiveCount` of the redrive policy (default 14).
    pub max_receive_count: Option<u32>,
}

impl Stack {
    pub async fn create(opts: StackOptions) -> Stack {
        let aws = clients().await;
        let dlq_url = aws
            .sqs
            .create_queue()
            .queue_name(unique("dlq"))
            .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
            .send()
            .await
            .expect("create DLQ")
            .queue_url
            .expect("DLQ url");
        let dlq_arn = queue_arn(&aws, &dlq_url).await;
        let mut create = aws
            .sqs
            .create_queue()
            .queue_name(unique("retry"))
            .attributes(QueueAttributeName::VisibilityTimeout, "30")
            .attributes(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({
                    "deadLetterTargetArn": dlq_arn,
                    "maxReceiveCount": opts.max_receive_count.unwrap_or(14)
                })
                .to_string(),
            );
        if let Some(max) = opts.retry_max_bytes {
            create = create.attributes(QueueAttributeName::MaximumMessageSize, max.to_string());
        }
        let retry_url = create
            .send()
            .await
            .expect("create retry queue")
            .queue_url
            .expect("url");
        let bucket = unique("archive");
        aws.s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        Stack {
            aws,
            retry_url,
            dlq_url,
            bucket,
        }
    }

    /// The forwarder's environment for this stack and a WFM URL, plus `extra` overrides.
    pub fn env(&self, wfm_url: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = [
            ("WFM_URL", wfm_url),
            ("WFM_ALLOW_HTTP", "true"),
            ("RETRY_QUEUE_URL", self.retry_url.as_str()),
            ("DLQ_URL", self.dlq_url.as_str()),
            ("ARCHIVE_BUCKET", self.bucket.as_str()),
            ("BACKOFF_BASE_MS", "20"),
            ("BACKOFF_CAP_MS", "100"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            m.insert(k.to_string(), v.to_string());
        }
        m
    }

    /// An in-process forwarder with the real adapters against moto.
    pub fn forwarder(&self, wfm_url: &str, extra: &[(&str, &str)]) -> Forwarder {
        self.forwarder_with_sqs(wfm_url, extra, self.aws.sqs.clone())
    }

    /// Same, with another SQS client (e.g. one that goes through the fault-injecting proxy).
    pub fn forwarder_with_sqs(
        &self,
        wfm_url: &str,
        extra: &[(&str, &str)],
        sqs: aws_sdk_sqs::Client,
    ) -> Forwarder {
        let env = self.env(wfm_url, extra);
        let cfg = ForwarderConfig::from_lookup(|k| env.get(k).cloned()).expect("valid config");
        let wfm = WfmClient::new(&WfmSettings::from(&cfg)).expect("client");
        let queues = Queues::new(sqs, self.aws.s3.clone(), QueueSettings::from(&cfg));
        Forwarder::new(cfg, wfm, queues)
    }

    /// Visible + in flight + delayed messages of a queue.
    pub async fn depth(&self, url: &str) -> usize {
        let out = self
            .aws
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .expect("attributes");
        let attrs = out.attributes().cloned().unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ]
        .iter()
        .map(|a| {
            attrs
                .get(a)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        })
        .sum()
    }

    /// Receives every visible message of `url` (they become invisible for 60 s) and decodes the
    /// envelopes.
    pub async fn take_all(&self, url: &str) -> Vec<(String, EnvelopeV1)> {
        let mut out = Vec::new();
        for _ in 0..20 {
            let r = self
                .aws
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive");
            let msgs = r.messages.unwrap_or_default();
            if msgs.is_empty() {
                break;
            }
            for m in msgs {
                let body = m.body.unwrap_or_default();
                let env: EnvelopeV1 = serde_json::from_str(&body).expect("envelope JSON");
                out.push((body, env));
            }
        }
        out
    }
}

pub async fn queue_arn(aws: &AwsClients, url: &str) -> String {
    aws.sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("QueueArn")
}

/// A deadline 60 s from now.
pub fn deadline() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

/// A case file from `tests/cases/`.
pub fn case(id: &str) -> Value {
    let path = format!("{}/cases/{id}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("case JSON")
}

/// A fixture file from `tests/fixtures/genesys/`, as bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/genesys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Compact JSON bytes of a case value.
pub fn bytes_of(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialise")
}

/// Raw bytes of member `name` of a case file, without decoding it (C14 holds an escaped lone
/// surrogate that serde_json refuses to put into a `Value`).
pub fn case_raw_member(id: &str, name: &str) -> Vec<u8> {
    use serde_json::value::RawValue;
    let path = format!("{}/cases/{id}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let map: HashMap<String, Box<RawValue>> = serde_json::from_str(&text).expect("case object");
    map.get(name)
        .unwrap_or_else(|| panic!("{id} has no {name}"))
        .get()
        .as_bytes()
        .to_vec()
}

/// A scripted WFM server answering `statuses` in sequence (the last repeats).
pub async fn wfm(statuses: &[u16]) -> wfm_relay_local::wfm_server::ScriptedWfm {
    use wfm_relay_local::wfm_server::{Reply, Script, ScriptedWfm};
    ScriptedWfm::start(Script::Sequence(
        statuses.iter().map(|s| Reply::status(*s)).collect(),
    ))
    .await
    .expect("WFM server")
}

/// The replies of a case's `wfm_responses`-style list (`status`, optional `headers`, `body`).
pub fn replies(list: &Value) -> Vec<wfm_relay_local::wfm_server::Reply> {
    use wfm_relay_local::wfm_server::Reply;
    list.as_array()
        .expect("reply list")
        .iter()
        .map(|r| {
            let mut reply = Reply::status(r["status"].as_u64().expect("status") as u16);
            if let Some(h) = r["headers"].as_object() {
                for (k, v) in h {
                    reply = reply.header(k.clone(), v.as_str().expect("header value").to_owned());
                }
            }
            if !r["body"].is_null() {
                reply = reply.body(r["body"].to_string());
            }
            reply
        })
        .collect()
}

impl Stack {
    /// A replayer with the real adapters against moto.
    pub fn replayer(&self, wfm_url: &str, extra: &[(&str, &str)]) -> wfm_relay_replayer::Replayer {
        let env = self.env(wfm_url, extra);
        let cfg = ForwarderConfig::from_lookup(|k| env.get(k).cloned()).expect("valid config");
        let wfm = WfmClient::new(&WfmSettings::from(&cfg)).expect("client");
        let queues = Queues::new(
            self.aws.sqs.clone(),
            self.aws.s3.clone(),
            QueueSettings::from(&cfg),
        );
        wfm_relay_replayer::Replayer::new(cfg, wfm, queues)
    }

    /// Puts `event` in the DLQ as the forwarder parks it (reason, attempts, last status).
    pub async fn park(
        &self,
        event: &[u8],
        reason: wfm_relay_core::envelope::Reason,
        attempts: u32,
    ) {
        let info = wfm_relay_core::event::parse_event(event).ok();
        let mut env = EnvelopeV1::new(event, info.as_ref());
        env.reason = Some(reason);
        env.attempts = attempts;
        env.last_status = Some(503);
        self.aws
            .sqs
            .send_message()
            .queue_url(&self.dlq_url)
            .message_body(env.to_json())
            .send()
            .await
            .expect("park");
    }

    /// Messages visible in `url` right now (received, then made visible again).
    pub async fn visible_now(&self, url: &str) -> usize {
        let mut n = 0;
        let mut handles = Vec::new();
        for _ in 0..50 {
            let r = self
                .aws
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .send()
                .await
                .expect("receive");
            let msgs = r.messages.unwrap_or_default();
            if msgs.is_empty() {
                break;
            }
            n += msgs.len();
            handles.extend(msgs.into_iter().filter_map(|m| m.receipt_handle));
        }
        for h in handles {
            let _ = self
                .aws
                .sqs
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(h)
                .visibility_timeout(0)
                .send()
                .await;
        }
        n
    }
}

/// A Genesys presence event with the given id, user and state time.
pub fn presence_event(id: &str, user: &str, modified: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "version": "0",
        "id": id,
        "detail-type": "v2.users.{id}.presence",
        "source": "aws.partner/genesys.com/cloud/0f0f0f0f-0000-4000-8000-000000000001/wfm-relay-test",
        "account": "123456789012",
        "time": "2026-03-02T09:20:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "topicName": format!("v2.users.{user}.presence"),
            "version": "2",
            "eventBody": {
                "source": "PURECLOUD",
                "presenceDefinition": {"id": "6a3af858-0000-4000-8000-00000000beef", "systemPresence": "AVAILABLE"},
                "primary": true,
                "message": "",
                "modifiedDate": modified
            },
            "metadata": {"CorrelationId": "c0ffee00-0000-4000-8000-000000000001"},
            "timestamp": modified
        }
    }))
    .expect("json")
}

impl Stack {
    /// Lambda's SQS event source mapping on this stack's retry queue (batches of 10, 1 s wait).
    pub async fn retry_esm(&self) -> wfm_relay_local::esm::SqsEventSourceMapping {
        wfm_relay_local::esm::SqsEventSourceMapping {
            sqs: self.aws.sqs.clone(),
            queue_url: self.retry_url.clone(),
            queue_arn: queue_arn(&self.aws, &self.retry_url).await,
            region: "us-east-1".into(),
            batch_size: 10,
            wait_time_s: 1,
        }
    }

    /// Whether a receive on `url` (1 s long poll) finds no visible message right now.
    pub async fn nothing_visible(&self, url: &str) -> bool {
        let r = self
            .aws
            .sqs
            .receive_message()
            .queue_url(url)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        r.messages.unwrap_or_default().is_empty()
    }
}

/// One poll of `esm` with the in-process forwarder as the function.
pub async fn poll_with(
    esm: &wfm_relay_local::esm::SqsEventSourceMapping,
    fwd: &Forwarder,
) -> wfm_relay_local::esm::BatchReport {
    esm.poll_once(|payload| async move {
        fwd.handle(&payload, deadline())
            .await
            .map(|v| v.to_string().into_bytes())
            .map_err(|e| e.to_string())
    })
    .await
    .expect("poll")
}
