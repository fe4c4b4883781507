//! The Runtime API's HTTP side: the routes a function process calls, and what each answers.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request};

use super::{ACCOUNT_ID, InvokeOutcome, Pending, REGION, Shared};
use crate::harness::lock;
use crate::http_server::{self, ConnCtx, HandlerFuture};

/// An X-Ray trace header value like `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
pub(super) fn trace_id() -> String {
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

pub(super) fn handle(shared: Arc<Shared>, _ctx: ConnCtx, req: Request<Incoming>) -> HandlerFuture {
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
