//! The layer's own small HTTP plumbing: an HTTP/1.1 accept loop on `127.0.0.1:0` with keep-alive,
//! and the forwarding of a request to the upstream emulator (method, path and query, headers
//! except `Host`, `Content-Length` and hop-by-hop ones, body), relaying status, headers and body.

use crate::http_server::{forwarded_headers, upstream_client};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A response of the layer.
pub(crate) type Reply = Response<Full<Bytes>>;

/// Time limit of one upstream call: 60 s (longer than SQS's 20 s long poll).
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// Binds `127.0.0.1:0` and serves `handler` until `stop` turns true or its sender is dropped.
pub(crate) async fn serve<H, F>(
    handler: H,
    stop: watch::Receiver<bool>,
) -> std::io::Result<SocketAddr>
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        let mut rx = stop;
        loop {
            let accepted = tokio::select! {
                _ = rx.wait_for(|s| *s) => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else {
                // Transient accept errors (e.g. too many open files): try again shortly.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let handler = Arc::clone(&handler);
            let mut conn_rx = rx.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let fut = handler(req);
                    async move { Ok::<_, std::convert::Infallible>(fut.await) }
                });
                let conn = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = conn_rx.wait_for(|s| *s) => {}
                    // A connection error (client gone) just ends the connection.
                    _ = conn => {}
                }
            });
        }
    });
    Ok(addr)
}

/// An upstream answer.
pub(crate) struct Forwarded {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// The upstream emulator (moto server).
pub(crate) struct Upstream {
    base: String,
    client: reqwest::Client,
}

impl Upstream {
    /// An upstream at `base` (e.g. `http://127.0.0.1:5000`; a trailing `/` is ignored).
    pub(crate) fn new(base: &str) -> std::io::Result<Upstream> {
        let client = upstream_client(UPSTREAM_TIMEOUT)?;
        Ok(Upstream {
            base: base.trim_end_matches('/').to_owned(),
            client,
        })
    }

    /// Sends one request upstream.
    pub(crate) async fn send(
        &self,
        method: hyper::Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Forwarded, reqwest::Error> {
        let resp = self
            .client
            .request(method, format!("{}{path_and_query}", self.base))
            .headers(forwarded_headers(headers))
            .body(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let headers = forwarded_headers(resp.headers());
        let body = resp.bytes().await?;
        Ok(Forwarded {
            status,
            headers,
            body,
        })
    }

    /// One SQS JSON-protocol call made by the layer itself (e.g. `GetQueueAttributes`), with
    /// the `Authorization` header of the caller's request: moto picks the service (and region)
    /// from its credential scope.
    pub(crate) async fn sqs_call(
        &self,
        operation: &str,
        body: &serde_json::Value,
        caller: &HeaderMap,
    ) -> Result<Forwarded, reqwest::Error> {
        let mut headers = HeaderMap::new();
        for name in ["authorization", "x-amz-date"] {
            if let Some(v) = caller.get(name) {
                headers.insert(name, v.clone());
            }
        }
        if let Ok(v) = HeaderValue::from_str(&format!("AmazonSQS.{operation}")) {
            headers.insert("x-amz-target", v);
        }
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        self.send(
            hyper::Method::POST,
            "/",
            &headers,
            Bytes::from(body.to_string()),
        )
        .await
    }
}

/// A response with `status`, `headers` and `body`; `Content-Length` is set by hyper.
pub(crate) fn reply(status: u16, headers: &HeaderMap, body: impl Into<Bytes>) -> Reply {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    *resp.headers_mut() = headers.clone();
    resp
}

/// The upstream answer relayed as is.
pub(crate) fn relay(f: Forwarded) -> Reply {
    reply(f.status, &f.headers, f.body)
}

/// A 502 naming an upstream failure.
pub(crate) fn bad_gateway(e: &reqwest::Error) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    reply(
        502,
        &headers,
        format!("aws-rules layer: upstream failed: {e}"),
    )
}
