//! The AWS-rules layer: an HTTP proxy in front of moto server that enforces what real AWS
//! enforces and moto 5.2.5 does not (FACTS §7.1; TOOLING.md, "Where moto 5.2.5 differs from
//! AWS"). Every other request passes through unchanged.
//!
//! SQS (AWS JSON protocol, `X-Amz-Target: AmazonSQS.*`; refusals as AWS shapes them: HTTP 400,
//! `{"__type": "com.amazonaws.sqs#<Error>", "message": …}` and `x-amzn-query-error: <code>;Sender`,
//! which the Rust SDK maps to its error variants):
//! - the character set of bodies and String/Number attribute values ([`charset`];
//!   `InvalidMessageContents`, per-entry `Failed` in SendMessageBatch);
//! - the queue's `MaximumMessageSize` (read with GetQueueAttributes, cached until the queue's
//!   attributes change), counted in UTF-8 bytes of the body plus every attribute's name, type
//!   and value ([`size`]; `InvalidParameterValue`, per-entry `Failed` in a batch);
//! - SendMessageBatch: at most 10 entries (`TooManyEntriesInBatchRequest`) and 1 MiB in total
//!   (`BatchRequestTooLong`); `DelaySeconds` 0–900 (`InvalidParameterValue`);
//! - visibility at most 43,200 s in total since the *receive*, and receipt handles that expire
//!   with the visibility timeout ([`visibility`]; `ReceiptHandleIsInvalid`, per-entry `Failed` in
//!   DeleteMessageBatch / ChangeMessageVisibilityBatch). The layer keeps each message's
//!   visibility itself from the ReceiveMessage answers it forwards and passes moto a value moto
//!   accepts (moto counts the 43,200 s from the send). A message whose extension moto had to
//!   shorten becomes visible in moto earlier than on AWS; only runs longer than 12 h see it.
//!
//! S3: ListObjectsV2 answers pages of at most [`AwsRulesOptions::s3_page_size`] keys with the
//! layer's own opaque continuation tokens, which always contain `+`, `/` and `=` (see `s3`).

pub mod charset;
mod http;
mod s3;
pub mod size;
mod sqs;
mod sqs_visibility;
pub mod visibility;

use crate::harness::lock;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use tokio::sync::watch;

use http::{Reply, Upstream};
pub use visibility::{Clock, ManualClock, SystemClock};

/// Environment variable with the S3 ListObjectsV2 page size (keys per page, 1–1000).
pub const PAGE_SIZE_ENV: &str = "AWS_RULES_S3_PAGE_SIZE";

/// ListObjectsV2's page size on AWS: 1,000 keys (S3 API Reference, ListObjectsV2 `MaxKeys`).
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// How the layer runs.
#[derive(Debug, Clone)]
pub struct AwsRulesOptions {
    /// The layer's clock (visibility deadlines and the 43,200 s limit).
    pub clock: Arc<dyn Clock>,
    /// Most keys in one ListObjectsV2 page (1–1000), whatever `MaxKeys` asks above it.
    pub s3_page_size: usize,
}

impl Default for AwsRulesOptions {
    fn default() -> Self {
        AwsRulesOptions {
            clock: Arc::new(SystemClock),
            s3_page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl AwsRulesOptions {
    /// The defaults, with the page size from [`PAGE_SIZE_ENV`] when set.
    ///
    /// # Errors
    /// When the variable is set but not a number in 1–1000 (the message names the variable).
    pub fn from_env() -> Result<AwsRulesOptions, String> {
        let mut opts = AwsRulesOptions::default();
        if let Ok(v) = std::env::var(PAGE_SIZE_ENV) {
            match v.trim().parse::<usize>() {
                Ok(n) if (1..=DEFAULT_PAGE_SIZE).contains(&n) => opts.s3_page_size = n,
                _ => {
                    return Err(format!(
                        "{PAGE_SIZE_ENV}={v:?}: expected a number in 1-1000"
                    ));
                }
            }
        }
        Ok(opts)
    }
}

/// A queue's attributes the rules need, read from moto.
#[derive(Debug, Clone, Copy)]
struct QueueAttrs {
    max_bytes: u64,
    visibility_s: u64,
}

/// State shared by every connection.
struct Shared {
    upstream: Upstream,
    opts: AwsRulesOptions,
    tracker: Mutex<visibility::Tracker>,
    queues: Mutex<HashMap<String, QueueAttrs>>,
}

/// Handle to a running layer on `127.0.0.1:0`; it stops on [`AwsRules::shutdown`] or when the
/// handle is dropped.
pub struct AwsRules {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for AwsRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsRules")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl AwsRules {
    /// Starts the layer in front of `upstream` (moto server, e.g. `http://127.0.0.1:5000`).
    ///
    /// # Errors
    /// When the socket cannot be bound or the HTTP client cannot be built.
    pub async fn start(upstream: &str, opts: AwsRulesOptions) -> std::io::Result<AwsRules> {
        let shared = Arc::new(Shared {
            upstream: Upstream::new(upstream)?,
            opts,
            tracker: Mutex::new(visibility::Tracker::default()),
            queues: Mutex::new(HashMap::new()),
        });
        let (stop, rx) = watch::channel(false);
        let addr = http::serve(move |req| handle(Arc::clone(&shared), req), rx).await?;
        Ok(AwsRules { addr, stop })
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL to give the AWS SDK (`AWS_ENDPOINT_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting and closes the open connections.
    pub fn shutdown(self) {
        self.stop.send_replace(true);
    }
}

impl Drop for AwsRules {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// One request: SQS by `X-Amz-Target`, S3 ListObjectsV2 by its query, everything else relayed.
async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return http::reply(
                400,
                &hyper::HeaderMap::new(),
                format!("aws-rules layer: could not read the request body: {e}"),
            );
        }
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(op) = target.as_deref().and_then(|t| t.strip_prefix("AmazonSQS.")) {
        return sqs::handle(&shared, op, &parts, body).await;
    }
    if target.is_none()
        && parts.method == hyper::Method::GET
        && let Some(reply) = s3::list_objects_v2(&shared, &parts, &body).await
    {
        return reply;
    }
    forward(&shared, &parts, body).await
}

/// Relays the request to moto unchanged.
async fn forward(shared: &Shared, parts: &hyper::http::request::Parts, body: Bytes) -> Reply {
    let pq = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    match shared
        .upstream
        .send(parts.method.clone(), pq, &parts.headers, body)
        .await
    {
        Ok(f) => http::relay(f),
        Err(e) => http::bad_gateway(&e),
    }
}
