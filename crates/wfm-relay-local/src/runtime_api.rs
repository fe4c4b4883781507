//! A local AWS Lambda Runtime API (version 2018-06-01) so that a real Lambda binary built with
//! `lambda_runtime` runs on this machine with real deadlines.
//!
//! Source of the protocol: <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.
//! Implemented: `GET /2018-06-01/runtime/invocation/next` (long poll),
//! `POST /2018-06-01/runtime/invocation/{id}/response`, `POST /2018-06-01/runtime/invocation/{id}/error`
//! and `POST /2018-06-01/runtime/init/error`; posts are answered `202 Accepted` as AWS does, an
//! unknown request id with `400` and an unknown path with `404`.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request};
use tokio::sync::{mpsc, oneshot};

use crate::harness::lock;
use crate::http_server::{self, ConnCtx, Handler, HandlerFuture, Stopper};

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

    /// Queues one invocation with a deadline of now + `timeout` (sent as
    /// `Lambda-Runtime-Deadline-Ms`, epoch ms) and waits for the function's response or error, at
    /// most `timeout` + [`INVOKE_GRACE`] (5 s).
    ///
    /// # Errors
    /// [`InvokeError::Timeout`] when nothing arrived in time (a later post for this id gets `400`,
    /// and if no process took it yet it is dropped from the queue); [`InvokeError::Stopped`] when
    /// the server stopped.
    pub async fn invoke(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<InvokeOutcome, InvokeError> {
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

    /// [`RuntimeApi::invoke`], keeping only a posted response: the bytes the function posted.
    ///
    /// # Errors
    /// [`InvokeFailure::Function`] when the function posted an invocation error (displayed as
    /// `<errorType>: <errorMessage>`), [`InvokeFailure::NoOutcome`] as [`RuntimeApi::invoke`].
    pub async fn invoke_response(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, InvokeFailure> {
        match self.invoke(payload, timeout).await? {
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

    /// Spawns the Lambda binary `program` (killed when the returned handle is dropped) with the
    /// environment of this process plus `AWS_LAMBDA_RUNTIME_API` = [`RuntimeApi::address`],
    /// `AWS_LAMBDA_FUNCTION_NAME` = `name`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128`,
    /// `AWS_LAMBDA_FUNCTION_VERSION=$LATEST`, `AWS_LAMBDA_LOG_STREAM_NAME`,
    /// `AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/<name>`, `AWS_LAMBDA_INITIALIZATION_TYPE=on-demand`,
    /// then `envs` (which may override any of them). Its stdout and stderr are appended to
    /// `log_path` when given, else inherited. `name` is also used in the invoked function ARN
    /// (`arn:aws:lambda:us-east-1:123456789012:function:<name>`).
    ///
    /// # Errors
    /// When the log file cannot be opened or the program cannot be started.
    pub fn spawn_function(
        &self,
        program: &Path,
        name: &str,
        envs: &[(String, String)],
        log_path: Option<&Path>,
    ) -> std::io::Result<FunctionProcess> {
        *lock(&self.shared.function_name) = name.to_owned();
        let mut cmd = tokio::process::Command::new(program);
        cmd.env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!("local/[$LATEST]{}", uuid::Uuid::new_v4().simple()),
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(path) = log_path {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            cmd.stdout(Stdio::from(file.try_clone()?))
                .stderr(Stdio::from(file));
        }
        let child = cmd.spawn()?;
        Ok(FunctionProcess { child })
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

/// A spawned Lambda function process; dropping it kills the process.
#[derive(Debug)]
pub struct FunctionProcess {
    child: tokio::process::Child,
}

impl FunctionProcess {
    /// Kills the process (SIGKILL) and waits for it to exit.
    ///
    /// # Errors
    /// When the signal cannot be sent or waiting fails.
    pub async fn kill(&mut self) -> std::io::Result<()> {
        self.child.kill().await
    }

    /// The OS process id, `None` once the process was reaped.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The exit status if the process has exited, without waiting.
    ///
    /// # Errors
    /// When the status cannot be queried.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }
}

/// An X-Ray trace header value like `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
fn trace_id() -> String {
    let epoch_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{epoch_s:08x}-{};Parent={};Sampled=0",
        &a[..24],
        &b[..16]
    )
}

/// Parses a posted error body `{"errorType": "...", "errorMessage": "..."}`.
fn parse_error(header_type: Option<String>, raw: Vec<u8>) -> InvokeOutcome {
    let json: Option<serde_json::Value> = serde_json::from_slice(&raw).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|v| v.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    InvokeOutcome::Error {
        error_type: field("errorType")
            .or(header_type)
            .unwrap_or_else(|| "Unknown".to_owned()),
        error_message: field("errorMessage")
            .unwrap_or_else(|| String::from_utf8_lossy(&raw).into_owned()),
        raw,
    }
}

fn json_error(status: u16, error_type: &str, message: &str) -> HandlerFuture {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string();
    let headers = [("content-type".to_owned(), "application/json".to_owned())];
    Box::pin(async move { http_server::response(status, &headers, body) })
}

fn accepted() -> HandlerFuture {
    let headers = [("content-type".to_owned(), "application/json".to_owned())];
    Box::pin(async move { http_server::response(202, &headers, r#"{"status":"OK"}"#) })
}

const PREFIX: &str = "/2018-06-01/runtime/";

fn handle(shared: Arc<Shared>, _ctx: ConnCtx, req: Request<Incoming>) -> HandlerFuture {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return json_error(404, "NotFound", "unknown path");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(shared),
        (&Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
            let (id, is_error) = ((*id).to_owned(), *kind == "error");
            Box::pin(async move {
                let header_type = req
                    .headers()
                    .get("lambda-runtime-function-error-type")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let raw = req.into_body().collect().await?.to_bytes().to_vec();
                let Some(done) = lock(&shared.in_flight).remove(&id) else {
                    return json_error(400, "InvalidRequestID", "unknown or finished request id")
                        .await;
                };
                let outcome = if is_error {
                    parse_error(header_type, raw)
                } else {
                    InvokeOutcome::Response(raw)
                };
                // The invoker may have given up meanwhile: nothing to tell then.
                let _ = done.send(outcome);
                accepted().await
            })
        }
        (&Method::POST, ["init", "error"]) => Box::pin(async move {
            let raw = req.into_body().collect().await?.to_bytes().to_vec();
            let text = match parse_error(None, raw) {
                InvokeOutcome::Error {
                    error_type,
                    error_message,
                    ..
                } => format!("{error_type}: {error_message}"),
                InvokeOutcome::Response(raw) => String::from_utf8_lossy(&raw).into_owned(),
            };
            *lock(&shared.init_error) = Some(text);
            accepted().await
        }),
        _ => json_error(404, "NotFound", "unknown path or method"),
    }
}

/// Long-polls the queue and hands the next live invocation to the caller.
fn next(shared: Arc<Shared>) -> HandlerFuture {
    Box::pin(async move {
        // One poller at a time waits on the queue (FIFO lock), so invocations go out in order.
        // Both waits are cancel-safe: a poller that disconnects takes nothing with it.
        let mut queue = shared.queue.lock().await;
        let pending = loop {
            let Some(pending) = queue.recv().await else {
                return json_error(500, "ServiceException", "runtime API stopped").await;
            };
            if !pending.done.is_closed() {
                break pending;
            }
            // The invoker timed out before any process took it: skip.
        };
        drop(queue);
        let Pending {
            id,
            payload,
            deadline_ms,
            trace_id,
            done,
        } = pending;
        lock(&shared.in_flight).insert(id.clone(), done);
        let name = lock(&shared.function_name).clone();
        let headers = [
            ("content-type".to_owned(), "application/json".to_owned()),
            ("lambda-runtime-aws-request-id".to_owned(), id),
            (
                "lambda-runtime-deadline-ms".to_owned(),
                deadline_ms.to_string(),
            ),
            (
                "lambda-runtime-invoked-function-arn".to_owned(),
                format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"),
            ),
            ("lambda-runtime-trace-id".to_owned(), trace_id),
        ];
        http_server::response(200, &headers, payload)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client")
    }

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
}
