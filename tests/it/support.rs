//! Shared set-up of the integration tests: moto server through `AWS_ENDPOINT_URL` (started by
//! `infra/test.sh`), one fresh pair of queues and one bucket per test, a scripted WFM server, and
//! a forwarder built from the real adapters.

pub mod doctor_stack;
pub mod doctor_wiring;
pub mod genesys;
pub mod https;
pub mod relayctl;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_aws::queues::{QueueSettings, Queues, Received};
use wfm_relay_aws::wfm::{WfmClient, WfmSettings};
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::envelope::EnvelopeV1;
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::harness::invoke_raw;
use wfm_relay_local::runtime_api::{InvocationType, RuntimeApi};
use wfm_relay_local::stack::{LocalStack, StackOptions as LocalOptions};
use wfm_relay_replayer::{Replayer, Report, Request};

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

/// One test's retry queue, DLQ and bucket: the shared [`LocalStack`] of wfm-relay-local (its
/// fields `retry_url`, `retry_arn`, `dlq_url`, `bucket` through `Deref`) plus the clients.
#[derive(Clone)]
pub struct Stack {
    pub aws: AwsClients,
    pub local: LocalStack,
}

impl std::ops::Deref for Stack {
    type Target = LocalStack;
    fn deref(&self) -> &LocalStack {
        &self.local
    }
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
    /// [`LocalStack::create`] with unique names (`it-dlq-<run>`, `it-retry-<run>`, `it-<run>`),
    /// a 30 s retry visibility timeout, and the retry queue's `MaximumMessageSize` set after.
    pub async fn create(opts: StackOptions) -> Stack {
        let aws = clients().await;
        let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let options = LocalOptions {
            max_receive_count: opts.max_receive_count.unwrap_or(14) as usize,
            retry_visibility_timeout_s: 30,
        };
        let local = LocalStack::create(&aws, "it", &run, options)
            .await
            .expect("create the stack");
        if let Some(max) = opts.retry_max_bytes {
            aws.sqs
                .set_queue_attributes()
                .queue_url(&local.retry_url)
                .attributes(QueueAttributeName::MaximumMessageSize, max.to_string())
                .send()
                .await
                .expect("set MaximumMessageSize");
        }
        Stack { aws, local }
    }

    /// The forwarder's environment for this stack and a WFM URL ([`LocalStack::lambda_env`]
    /// with a short backoff), plus `extra` overrides.
    pub fn env(&self, wfm_url: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut all = vec![("BACKOFF_BASE_MS", "20"), ("BACKOFF_CAP_MS", "100")];
        all.extend_from_slice(extra);
        self.local.lambda_env(wfm_url, &all).into_iter().collect()
    }

    /// The configuration the Lambdas read from [`Stack::env`].
    pub fn config(&self, wfm_url: &str, extra: &[(&str, &str)]) -> ForwarderConfig {
        let env = self.env(wfm_url, extra);
        ForwarderConfig::from_lookup(|k| env.get(k).cloned()).expect("valid config")
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
        let cfg = self.config(wfm_url, extra);
        let wfm = WfmClient::new(&WfmSettings::from(&cfg)).expect("client");
        let queues = Queues::new(sqs, self.aws.s3.clone(), QueueSettings::from(&cfg));
        Forwarder::new(cfg, wfm, queues)
    }

    /// The product's queue handles on this stack (claim checks in its bucket).
    pub fn queues(&self) -> Queues {
        self.reader(&self.dlq_url)
    }

    /// Queue handles whose DLQ handle reads `url`, so that a test reads any of the stack's
    /// queues through the product's `DeadLetterQueue::receive` / `release` / `delete_batch`.
    fn reader(&self, url: &str) -> Queues {
        Queues::new(
            self.aws.sqs.clone(),
            self.aws.s3.clone(),
            QueueSettings {
                retry_url: self.retry_url.clone(),
                dlq_url: url.to_owned(),
                claim_bucket: Some(self.bucket.clone()),
                claim_prefix: "dead-letters".into(),
            },
        )
    }

    /// Visible + in flight + delayed messages of a queue ([`wfm_relay_local::stack::depth`]).
    pub async fn depth(&self, url: &str) -> usize {
        wfm_relay_local::stack::depth(&self.aws.sqs, url)
            .await
            .expect("depth")
    }

    /// Receives every visible message of `url` (they become invisible for 60 s) and decodes the
    /// envelopes.
    pub async fn take_all(&self, url: &str) -> Vec<(String, EnvelopeV1)> {
        let reader = self.reader(url);
        let mut out = Vec::new();
        for _ in 0..20 {
            let msgs = reader.dlq().receive(10, 60, 0).await.expect("receive");
            if msgs.is_empty() {
                break;
            }
            for m in msgs {
                let env: EnvelopeV1 = serde_json::from_str(&m.body).expect("envelope JSON");
                out.push((m.body, env));
            }
        }
        out
    }

    /// Sends `body` as it is (not wrapped in an envelope) to the queue at `url`; returns the
    /// message id.
    pub async fn send_raw(&self, url: &str, body: &str) -> String {
        let sent = self
            .aws
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .expect("send");
        sent.message_id.expect("message id")
    }

    /// The keys of the objects in the stack's bucket (one ListObjectsV2 page: up to 1000).
    pub async fn object_keys(&self) -> Vec<String> {
        let objects = self
            .aws
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("list");
        objects
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    /// Writes `body` to `key` in the stack's bucket; returns its `s3://` URL.
    pub async fn put(&self, key: &str, body: &[u8]) -> String {
        self.aws
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .expect("put");
        format!("s3://{}/{key}", self.bucket)
    }

    /// The bytes of the object `key` in the stack's bucket.
    pub async fn object(&self, key: &str) -> Vec<u8> {
        let obj = self
            .aws
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("get");
        obj.body
            .collect()
            .await
            .expect("body")
            .into_bytes()
            .to_vec()
    }

    /// Receives and deletes every visible message of `url`; returns them.
    pub async fn drain(&self, url: &str) -> Vec<Received> {
        let reader = self.reader(url);
        let mut out = Vec::new();
        for _ in 0..50 {
            let msgs = reader.dlq().receive(10, 60, 0).await.expect("receive");
            if msgs.is_empty() {
                break;
            }
            let refs: Vec<&Received> = msgs.iter().collect();
            let deleted = reader.dlq().delete_batch(&refs).await;
            assert_eq!(deleted.len(), msgs.len(), "delete");
            out.extend(msgs);
        }
        out
    }
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
    pub fn replayer(&self, wfm_url: &str, extra: &[(&str, &str)]) -> Replayer {
        let cfg = self.config(wfm_url, extra);
        let wfm = WfmClient::new(&WfmSettings::from(&cfg)).expect("client");
        let queues = Queues::new(
            self.aws.sqs.clone(),
            self.aws.s3.clone(),
            QueueSettings::from(&cfg),
        );
        Replayer::new(cfg, wfm, queues)
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
        self.queues().dlq().park(&env).await.expect("park");
    }

    /// Messages visible in `url` right now (received, then made visible again).
    pub async fn visible_now(&self, url: &str) -> usize {
        let reader = self.reader(url);
        let mut got = Vec::new();
        for _ in 0..50 {
            let msgs = reader.dlq().receive(10, 30, 0).await.expect("receive");
            if msgs.is_empty() {
                break;
            }
            got.extend(msgs);
        }
        reader.dlq().release(&got.iter().collect::<Vec<_>>()).await;
        got.len()
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
    /// Lambda's SQS event source mapping on this stack's retry queue
    /// ([`LocalStack::retry_esm`]: batches of 10, 1 s wait).
    pub async fn retry_esm(&self) -> wfm_relay_local::esm::SqsEventSourceMapping {
        self.local.retry_esm(&self.aws.sqs)
    }

    /// Whether a receive on `url` (1 s long poll) finds no visible message right now.
    pub async fn nothing_visible(&self, url: &str) -> bool {
        let msgs = self.reader(url).dlq().receive(1, 30, 1).await;
        msgs.expect("receive").is_empty()
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

/// The replayer's progress callback of a test that does not look at progress.
pub fn no_progress(_: &Report) {}

/// Runs `req` on `r` with a deadline 60 s away and no progress callback; a report is returned
/// only after PRODUCT.md §6's identity was asserted on it ([`Checked`]).
pub async fn run_request(
    r: &Replayer,
    req: &Request,
) -> Result<Report, wfm_relay_replayer::ReplayError> {
    r.run(req, Some(deadline()), &no_progress)
        .await
        .map(Checked::checked)
}

/// PRODUCT.md §6's identity, asserted on every report a test reads: `report.checked()`.
pub trait Checked {
    /// Asserts the identity (exempt reports pass: stats, peek, dry runs) and returns the report.
    fn checked(self) -> Self;
}

impl Checked for Report {
    fn checked(self) -> Self {
        assert!(
            self.identity_holds(),
            "matched {} != delivered + delivered_not_deleted + failed + unsendable + superseded \
             + archived + redriven + in_flight + not_reached = {}: {self:?}",
            self.matched,
            self.accounted()
        );
        self
    }
}

/// One synchronous invocation of the function behind `api` (30 s timeout) through
/// [`wfm_relay_local::harness::invoke_raw`]: the response as JSON. Panics with the function's
/// error (`<errorType>: <errorMessage>`) or why no outcome came.
pub async fn invoke_json(api: &RuntimeApi, payload: Vec<u8>) -> Value {
    let body = invoke_raw(
        api,
        InvocationType::RequestResponse,
        payload,
        Duration::from_secs(30),
    )
    .await
    .unwrap_or_else(|e| panic!("invocation error {e}"));
    serde_json::from_slice(&body).expect("JSON response")
}
