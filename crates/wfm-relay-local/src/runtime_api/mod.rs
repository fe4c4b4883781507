//! A local AWS Lambda Runtime API (version 2018-06-01) so that a real Lambda binary built with
//! `lambda_runtime` runs on this machine with real deadlines.
//!
//! Source of the protocol: <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.
//! Implemented: `GET /2018-06-01/runtime/invocation/next` (long poll),
//! `POST /2018-06-01/runtime/invocation/{id}/response`, `POST /2018-06-01/runtime/invocation/{id}/error`
//! and `POST /2018-06-01/runtime/init/error`; posts are answered `202 Accepted` as AWS does, an
//! unknown request id with `400` and an unknown path with `404`.
//!
//! Before queuing an invocation it checks what the Invoke API checks: an asynchronous (`Event`)
//! payload over 1 MiB is refused with Lambda's `RequestEntityTooLargeException` (HTTP 413) and
//! never reaches the function ([`invocation`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use crate::harness::lock;
use crate::http_server::{self, Handler, Stopper};

pub mod invocation;
mod process;
mod protocol;

pub use invocation::{ASYNC_PAYLOAD_LIMIT, InvocationType, PayloadTooLarge};
pub use process::{FunctionProcess, lambda_env};
use protocol::{handle, trace_id};

/// Account id used in the invoked function ARN.
pub const ACCOUNT_ID: &str = "123456789012";

/// Region used in the invoked function ARN.
pub const REGION: &str = "us-east-1";

/// Extra time [`RuntimeApi::invoke`] waits past the invocation's deadline: 5 s.
pub const INVOKE_GRACE: Duration = Duration::from_secs(5);

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The function posted a response; the bytes it posted.
    Response(Vec<u8>),
    /// The function posted an invocation error.
    Error {
        /// `errorType` of the posted JSON, else the `Lambda-Runtime-Function-Error-Type` header,
        /// else `"Unknown"`.
        error_type: String,
        /// `errorMessage` of the posted JSON, else the raw body as (lossy) UTF-8.
        error_message: String,
        /// The posted body bytes.
        raw: Vec<u8>,
    },
}

/// Why [`RuntimeApi::invoke`] got no outcome.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// No response nor error arrived within the timeout plus [`INVOKE_GRACE`].
    #[error("no response from the function within {0:?}")]
    Timeout(Duration),
    /// The Runtime API server stopped before the invocation finished.
    #[error("the runtime API stopped before the invocation finished")]
    Stopped,
    /// The Invoke API refused the payload before any function ran (HTTP 413,
    /// `RequestEntityTooLargeException`); nothing was queued.
    #[error(transparent)]
    PayloadTooLarge(#[from] PayloadTooLarge),
}

/// Why [`RuntimeApi::invoke_response`] got no response bytes.
#[derive(Debug, thiserror::Error)]
pub enum InvokeFailure {
    /// The function posted an invocation error.
    #[error("{error_type}: {error_message}")]
    Function {
        /// As [`InvokeOutcome::Error::error_type`].
        error_type: String,
        /// As [`InvokeOutcome::Error::error_message`].
        error_message: String,
    },
    /// No outcome at all.
    #[error(transparent)]
    NoOutcome(#[from] InvokeError),
}

/// A queued invocation, waiting for a `next` poll.
struct Pending {
    id: String,
    payload: Vec<u8>,
    deadline_ms: u64,
    trace_id: String,
    done: oneshot::Sender<InvokeOutcome>,
}

struct Shared {
    function_name: Mutex<String>,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<InvokeOutcome>>>,
    init_error: Mutex<Option<String>>,
}

/// Handle to a running local Lambda Runtime API on `127.0.0.1:0`. Clones share the server; it
/// stops when the last handle is dropped or on [`RuntimeApi::shutdown`].
///
/// Several invocations may be queued at once; they are served in order to whichever process
/// polls `next` first.
#[derive(Clone)]
pub struct RuntimeApi {
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Pending>,
    stopper: Arc<Stopper>,
    addr: std::net::SocketAddr,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Starts the Runtime API on `127.0.0.1:0`.
    ///
    /// # Errors
    /// When the listening socket cannot be bound.
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_name: Mutex::new("function".to_owned()),
            queue: tokio::sync::Mutex::new(rx),
            in_flight: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
        });
        let for_handler = Arc::clone(&shared);
        let handler: Handler = Arc::new(move |ctx, req| handle(Arc::clone(&for_handler), ctx, req));
        let server = http_server::serve(handler).await?;
        Ok(RuntimeApi {
            shared,
            queue: tx,
            stopper: server.stopper,
            addr: server.addr,
        })
    }

    /// `127.0.0.1:<port>`: the value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// A synchronous (`RequestResponse`) [`RuntimeApi::invoke_as`].
    ///
    /// # Errors
    /// As [`RuntimeApi::invoke_as`].
    pub async fn invoke(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<InvokeOutcome, InvokeError> {
        self.invoke_as(InvocationType::RequestResponse, payload, timeout)
            .await
    }

    /// Checks the payload against the limit of `kind` (see [`invocation`]), then queues one
    /// invocation with a deadline of now + `timeout` (sent as `Lambda-Runtime-Deadline-Ms`, epoch
    /// ms) and waits for the function's response or error, at most `timeout` +
    /// [`INVOKE_GRACE`] (5 s).
    ///
    /// # Errors
    /// [`InvokeError::PayloadTooLarge`] for an `Event` payload over 1 MiB (nothing is queued);
    /// [`InvokeError::Timeout`] when nothing arrived in time (a later post for this id gets `400`,
    /// and if no process took it yet it is dropped from the queue); [`InvokeError::Stopped`] when
    /// the server stopped.
    pub async fn invoke_as(
        &self,
        kind: InvocationType,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<InvokeOutcome, InvokeError> {
        kind.check(payload.len())?;
        let id = uuid::Uuid::new_v4().to_string();
        let deadline = SystemTime::now() + timeout;
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let (done, rx) = oneshot::channel();
        let pending = Pending {
            id: id.clone(),
            payload,
            deadline_ms,
            trace_id: trace_id(),
            done,
        };
        self.queue.send(pending).map_err(|_| InvokeError::Stopped)?;
        let waited = timeout + INVOKE_GRACE;
        let outcome = tokio::time::timeout(waited, rx).await;
        // Whatever happened, the id is no longer awaited.
        lock(&self.shared.in_flight).remove(&id);
        match outcome {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err(InvokeError::Stopped),
            Err(_) => Err(InvokeError::Timeout(waited)),
        }
    }

    /// [`RuntimeApi::invoke_as`], keeping only a posted response: the bytes the function posted.
    ///
    /// # Errors
    /// [`InvokeFailure::Function`] when the function posted an invocation error (displayed as
    /// `<errorType>: <errorMessage>`), [`InvokeFailure::NoOutcome`] as [`RuntimeApi::invoke_as`].
    pub async fn invoke_response(
        &self,
        kind: InvocationType,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, InvokeFailure> {
        match self.invoke_as(kind, payload, timeout).await? {
            InvokeOutcome::Response(body) => Ok(body),
            InvokeOutcome::Error {
                error_type,
                error_message,
                ..
            } => Err(InvokeFailure::Function {
                error_type,
                error_message,
            }),
        }
    }

    /// The last init error the function posted to `/runtime/init/error`, as
    /// `"<errorType>: <errorMessage>"` (or the raw body when it is not the expected JSON).
    pub fn init_error(&self) -> Option<String> {
        lock(&self.shared.init_error).clone()
    }

    /// Stops the server: open connections are closed and pending [`RuntimeApi::invoke`] calls
    /// end with [`InvokeError::Stopped`] once their function side is gone or times out.
    pub async fn shutdown(self) {
        self.stopper.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::harness::test_client as client;

    fn now_ms() -> u64 {
        u64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock")
                .as_millis(),
        )
        .expect("ms")
    }

    /// Acts as the function: polls `next`, then posts `reply` to `kind` (`response` or `error`).
    /// Returns the headers of the `next` response and the payload.
    async fn act_as_function(
        base: String,
        kind: &'static str,
        reply: &'static str,
    ) -> (reqwest::header::HeaderMap, Vec<u8>, u16) {
        let c = client();
        let next = c
            .get(format!("http://{base}/2018-06-01/runtime/invocation/next"))
            .send()
            .await
            .expect("next");
        assert_eq!(next.status().as_u16(), 200);
        let headers = next.headers().clone();
        let payload = next.bytes().await.expect("payload").to_vec();
        let id = headers["lambda-runtime-aws-request-id"]
            .to_str()
            .expect("id")
            .to_owned();
        let posted = c
            .post(format!(
                "http://{base}/2018-06-01/runtime/invocation/{id}/{kind}"
            ))
            .header("Lambda-Runtime-Function-Error-Type", "HeaderType")
            .body(reply)
            .send()
            .await
            .expect("post");
        (headers, payload, posted.status().as_u16())
    }

    #[tokio::test]
    async fn invoke_returns_the_posted_response_with_a_real_deadline() {
        let api = RuntimeApi::start().await.expect("start");
        let function = tokio::spawn(act_as_function(api.address(), "response", r#"{"ok":1}"#));
        let before = now_ms();
        let outcome = api
            .invoke(br#"{"in":1}"#.to_vec(), Duration::from_secs(3))
            .await
            .expect("invoke");
        assert_eq!(outcome, InvokeOutcome::Response(br#"{"ok":1}"#.to_vec()));
        let (headers, payload, post_status) = function.await.expect("function");
        assert_eq!(post_status, 202);
        assert_eq!(payload, br#"{"in":1}"#);
        let deadline: u64 = headers["lambda-runtime-deadline-ms"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("number");
        assert!(
            deadline >= before + 2_900 && deadline <= now_ms() + 3_100,
            "deadline {deadline} vs now {before}"
        );
        assert_eq!(
            headers["lambda-runtime-invoked-function-arn"],
            "arn:aws:lambda:us-east-1:123456789012:function:function"
        );
        assert!(
            headers["lambda-runtime-trace-id"]
                .to_str()
                .expect("ascii")
                .starts_with("Root=1-")
        );
    }

    #[tokio::test]
    async fn invoke_returns_the_posted_error() {
        let api = RuntimeApi::start().await.expect("start");
        let function = tokio::spawn(act_as_function(
            api.address(),
            "error",
            r#"{"errorType":"my::Error","errorMessage":"boom"}"#,
        ));
        let outcome = api
            .invoke(b"{}".to_vec(), Duration::from_secs(3))
            .await
            .expect("invoke");
        match outcome {
            InvokeOutcome::Error {
                error_type,
                error_message,
                raw,
            } => {
                assert_eq!(error_type, "my::Error");
                assert_eq!(error_message, "boom");
                assert!(raw.starts_with(b"{\"errorType\""));
            }
            other => panic!("expected an error, got {other:?}"),
        }
        assert_eq!(function.await.expect("function").2, 202);
    }

    #[tokio::test]
    async fn queued_invocations_are_served_in_order_and_timeouts_are_reported() {
        let api = RuntimeApi::start().await.expect("start");
        // Nobody polls: the invocation times out after timeout + grace... use a short one.
        let res = tokio::time::timeout(
            Duration::from_secs(8),
            api.invoke(b"lost".to_vec(), Duration::from_millis(100)),
        )
        .await
        .expect("bounded");
        assert!(matches!(res, Err(InvokeError::Timeout(_))), "{res:?}");

        let a = tokio::spawn({
            let api = api.clone();
            async move { api.invoke(b"1".to_vec(), Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let b = tokio::spawn({
            let api = api.clone();
            async move { api.invoke(b"2".to_vec(), Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The timed-out "lost" invocation is skipped.
        let (_, first, _) = act_as_function(api.address(), "response", "r1").await;
        let (_, second, _) = act_as_function(api.address(), "response", "r2").await;
        assert_eq!(
            (first.as_slice(), second.as_slice()),
            (&b"1"[..], &b"2"[..])
        );
        assert_eq!(
            a.await.expect("a").expect("a ok"),
            InvokeOutcome::Response(b"r1".to_vec())
        );
        assert_eq!(
            b.await.expect("b").expect("b ok"),
            InvokeOutcome::Response(b"r2".to_vec())
        );
    }

    #[tokio::test]
    async fn init_error_is_recorded() {
        let api = RuntimeApi::start().await.expect("start");
        let status = client()
            .post(format!(
                "http://{}/2018-06-01/runtime/init/error",
                api.address()
            ))
            .body(r#"{"errorType":"Runtime.InitError","errorMessage":"missing WFM_URL"}"#)
            .send()
            .await
            .expect("post")
            .status()
            .as_u16();
        assert_eq!(status, 202);
        assert_eq!(
            api.init_error().as_deref(),
            Some("Runtime.InitError: missing WFM_URL")
        );
    }

    #[tokio::test]
    async fn an_event_payload_of_exactly_1_mib_reaches_the_function() {
        let api = RuntimeApi::start().await.expect("start");
        let function = tokio::spawn(act_as_function(api.address(), "response", r#"{"ok":1}"#));
        let outcome = api
            .invoke_as(
                InvocationType::Event,
                vec![b'x'; ASYNC_PAYLOAD_LIMIT],
                Duration::from_secs(10),
            )
            .await
            .expect("at the limit");
        assert_eq!(outcome, InvokeOutcome::Response(br#"{"ok":1}"#.to_vec()));
        let (_, payload, post_status) = function.await.expect("function");
        assert_eq!(payload.len(), 1_048_576);
        assert_eq!(post_status, 202);
    }

    #[tokio::test]
    async fn an_event_payload_one_byte_over_1_mib_is_refused_and_never_queued() {
        let api = RuntimeApi::start().await.expect("start");
        let refused = api
            .invoke_as(
                InvocationType::Event,
                vec![b'x'; ASYNC_PAYLOAD_LIMIT + 1],
                Duration::from_secs(10),
            )
            .await
            .expect_err("one byte past the limit");
        let InvokeError::PayloadTooLarge(too_large) = &refused else {
            panic!("expected RequestEntityTooLargeException, got {refused:?}");
        };
        assert_eq!(
            (too_large.size, too_large.limit, too_large.status()),
            (1_048_577, 1_048_576, 413)
        );
        assert_eq!(
            refused.to_string(),
            "RequestEntityTooLargeException: 1048577 byte payload is too large for the Event \
             invocation type (limit 1048576 bytes)"
        );
        // Nothing was queued: the next poll gets the next invocation.
        let function = tokio::spawn(act_as_function(api.address(), "response", "r"));
        let next = api
            .invoke_as(
                InvocationType::Event,
                b"small".to_vec(),
                Duration::from_secs(10),
            )
            .await
            .expect("small invocation");
        assert_eq!(next, InvokeOutcome::Response(b"r".to_vec()));
        assert_eq!(function.await.expect("function").1, b"small");
    }

    #[tokio::test]
    async fn a_synchronous_payload_over_1_mib_is_not_refused() {
        let api = RuntimeApi::start().await.expect("start");
        let function = tokio::spawn(act_as_function(api.address(), "response", "r"));
        let outcome = api
            .invoke(vec![b'x'; ASYNC_PAYLOAD_LIMIT + 1], Duration::from_secs(10))
            .await
            .expect("RequestResponse has no 1 MiB limit");
        assert_eq!(outcome, InvokeOutcome::Response(b"r".to_vec()));
        assert_eq!(function.await.expect("function").1.len(), 1_048_577);
    }
}
