//! A local stand-in of the Lambda Invoke API in front of a [`RuntimeApi`], so that a function
//! that invokes itself (the scheduled snapshot's next part) runs its next invocation on this
//! machine. Reached by the AWS SDK through `AWS_ENDPOINT_URL_LAMBDA=<url>`.
//!
//! Source of the API: AWS Lambda API Reference, "Invoke": `POST
//! /2015-03-31/functions/{FunctionName}/invocations`, header `X-Amz-Invocation-Type`
//! (`RequestResponse` default, `Event`, `DryRun`); `Event` answers `202 Accepted` with an empty
//! body once Lambda queued the event, `RequestResponse` answers `200` with the function's
//! response (`X-Amz-Function-Error: Unhandled` when it failed), `DryRun` answers `204`. An
//! `Event` payload over 1 MiB is refused with `413 RequestEntityTooLargeException` (as
//! [`crate::runtime_api::invocation`] checks). The function name is recorded, not checked.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request};
use tokio::task::JoinHandle;

use crate::harness::lock;
use crate::http_server::{self, ConnCtx, Handler, HandlerFuture, Stopper};
use crate::runtime_api::{InvocationType, InvokeOutcome, RuntimeApi};

/// One asynchronous invocation that ran (or could not) on the Runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncInvocation {
    /// The `{FunctionName}` of the request path.
    pub function: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// How it ended; `Err` with the reason when no outcome came (timeout, stopped).
    pub outcome: Result<InvokeOutcome, String>,
}

impl AsyncInvocation {
    /// The function's response as JSON, `None` for an error, no outcome or a response that is not
    /// JSON.
    pub fn response_json(&self) -> Option<serde_json::Value> {
        match &self.outcome {
            Ok(InvokeOutcome::Response(body)) => serde_json::from_slice(body).ok(),
            _ => None,
        }
    }
}

struct Shared {
    runtime: RuntimeApi,
    timeout: Duration,
    tasks: Mutex<Vec<JoinHandle<AsyncInvocation>>>,
    done: Mutex<Vec<AsyncInvocation>>,
}

/// A running Invoke API stand-in on `127.0.0.1:0`; stops when dropped or on
/// [`LambdaInvokeApi::shutdown`].
pub struct LambdaInvokeApi {
    shared: Arc<Shared>,
    stopper: Arc<Stopper>,
    addr: std::net::SocketAddr,
}

impl std::fmt::Debug for LambdaInvokeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaInvokeApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl LambdaInvokeApi {
    /// Starts the stand-in: every invocation goes to `runtime` with a deadline of now +
    /// `timeout` (the function's timeout).
    ///
    /// # Errors
    /// When the listening socket cannot be bound.
    pub async fn start(runtime: RuntimeApi, timeout: Duration) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            runtime,
            timeout,
            tasks: Mutex::new(Vec::new()),
            done: Mutex::new(Vec::new()),
        });
        let for_handler = Arc::clone(&shared);
        let handler: Handler = Arc::new(move |ctx, req| handle(Arc::clone(&for_handler), ctx, req));
        let server = http_server::serve(handler).await?;
        Ok(LambdaInvokeApi {
            shared,
            stopper: server.stopper,
            addr: server.addr,
        })
    }

    /// `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_LAMBDA`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until every asynchronous invocation accepted so far has ended, including those
    /// they made in turn (an invocation that invokes the next one before it answers is always
    /// seen), and returns all that ended since the start, in the order they ended.
    pub async fn settle(&self) -> Vec<AsyncInvocation> {
        loop {
            let tasks = std::mem::take(&mut *lock(&self.shared.tasks));
            if tasks.is_empty() {
                break;
            }
            for t in tasks {
                let ended = t.await.unwrap_or_else(|e| AsyncInvocation {
                    function: String::new(),
                    payload: Vec::new(),
                    outcome: Err(format!("invocation task failed: {e}")),
                });
                lock(&self.shared.done).push(ended);
            }
        }
        lock(&self.shared.done).clone()
    }

    /// Stops the server.
    pub async fn shutdown(self) {
        self.stopper.stop().await;
    }
}

const PREFIX: &str = "/2015-03-31/functions/";

fn error(status: u16, kind: &str, message: &str) -> HandlerFuture {
    let body = serde_json::json!({ "Type": "User", "message": message }).to_string();
    let headers = [
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-amzn-errortype".to_owned(), kind.to_owned()),
    ];
    Box::pin(async move { http_server::response(status, &headers, body) })
}

fn handle(shared: Arc<Shared>, _ctx: ConnCtx, req: Request<Incoming>) -> HandlerFuture {
    let path = req.uri().path().to_owned();
    let name = path
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix("/invocations"))
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .map(str::to_owned);
    let (Some(function), &Method::POST) = (name, req.method()) else {
        return error(404, "ResourceNotFoundException", "unknown path or method");
    };
    let kind = req
        .headers()
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse")
        .to_owned();
    Box::pin(async move {
        let payload = req.into_body().collect().await?.to_bytes().to_vec();
        match kind.as_str() {
            "DryRun" => http_server::response(204, &[], Vec::new()),
            "Event" => {
                if let Err(e) = InvocationType::Event.check(payload.len()) {
                    return error(e.status(), "RequestEntityTooLargeException", &e.to_string())
                        .await;
                }
                let task = {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let outcome = shared
                            .runtime
                            .invoke_as(InvocationType::Event, payload.clone(), shared.timeout)
                            .await
                            .map_err(|e| e.to_string());
                        AsyncInvocation {
                            function,
                            payload,
                            outcome,
                        }
                    })
                };
                lock(&shared.tasks).push(task);
                http_server::response(202, &[], Vec::new())
            }
            "RequestResponse" => {
                let outcome = shared
                    .runtime
                    .invoke(payload, shared.timeout)
                    .await
                    .map_err(|e| e.to_string());
                let version = ("x-amz-executed-version".to_owned(), "$LATEST".to_owned());
                match outcome {
                    Ok(InvokeOutcome::Response(body)) => {
                        http_server::response(200, &[version], body)
                    }
                    Ok(InvokeOutcome::Error { raw, .. }) => {
                        let failed = ("x-amz-function-error".to_owned(), "Unhandled".to_owned());
                        http_server::response(200, &[version, failed], raw)
                    }
                    Err(e) => error(500, "ServiceException", &e).await,
                }
            }
            other => {
                error(
                    400,
                    "InvalidParameterValueException",
                    &format!(
                        "X-Amz-Invocation-Type {other} is not RequestResponse, Event or DryRun"
                    ),
                )
                .await
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::test_client as client;

    /// Acts as the function once: polls `next`, answers `reply`; returns the payload.
    async fn serve_once(base: String, reply: &'static str) -> Vec<u8> {
        let c = client();
        let next = c
            .get(format!("http://{base}/2018-06-01/runtime/invocation/next"))
            .send()
            .await
            .expect("next");
        let id = next.headers()["lambda-runtime-aws-request-id"]
            .to_str()
            .expect("id")
            .to_owned();
        let payload = next.bytes().await.expect("payload").to_vec();
        c.post(format!(
            "http://{base}/2018-06-01/runtime/invocation/{id}/response"
        ))
        .body(reply)
        .send()
        .await
        .expect("post");
        payload
    }

    #[tokio::test]
    async fn an_event_invoke_is_accepted_then_runs_on_the_runtime_api() {
        let runtime = RuntimeApi::start().await.expect("runtime");
        let api = LambdaInvokeApi::start(runtime.clone(), Duration::from_secs(5))
            .await
            .expect("invoke api");
        let function = tokio::spawn(serve_once(runtime.address(), r#"{"ok":1}"#));
        let c = client();
        let url = format!("{}/2015-03-31/functions/fn-a/invocations", api.url());
        let r = c
            .post(&url)
            .header("X-Amz-Invocation-Type", "Event")
            .body(r#"{"n":1}"#)
            .send()
            .await
            .expect("invoke");
        assert_eq!(r.status().as_u16(), 202);
        assert_eq!(r.bytes().await.expect("body").len(), 0);
        let ran = api.settle().await;
        assert_eq!(function.await.expect("function"), br#"{"n":1}"#);
        assert_eq!(ran.len(), 1);
        assert_eq!(ran[0].function, "fn-a");
        assert_eq!(ran[0].response_json(), Some(serde_json::json!({"ok": 1})));

        let big = c
            .post(&url)
            .header("X-Amz-Invocation-Type", "Event")
            .body(vec![b'x'; 1_048_577])
            .send()
            .await
            .expect("invoke");
        assert_eq!(big.status().as_u16(), 413);
        assert_eq!(
            big.headers()["x-amzn-errortype"],
            "RequestEntityTooLargeException"
        );
        let other = c
            .post(format!("{}/2015-03-31/functions/", api.url()))
            .send()
            .await
            .expect("invoke");
        assert_eq!(other.status().as_u16(), 404);
        assert_eq!(api.settle().await.len(), 1, "nothing more ran");
    }

    #[tokio::test]
    async fn a_request_response_invoke_answers_the_function_response() {
        let runtime = RuntimeApi::start().await.expect("runtime");
        let api = LambdaInvokeApi::start(runtime.clone(), Duration::from_secs(5))
            .await
            .expect("invoke api");
        let function = tokio::spawn(serve_once(runtime.address(), "pong"));
        let r = client()
            .post(format!("{}/2015-03-31/functions/f/invocations", api.url()))
            .body("ping")
            .send()
            .await
            .expect("invoke");
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["x-amz-executed-version"], "$LATEST");
        assert_eq!(r.text().await.expect("body"), "pong");
        assert_eq!(function.await.expect("function"), b"ping");
    }
}
