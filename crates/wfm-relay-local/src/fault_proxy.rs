//! An HTTP proxy in front of an AWS emulator (moto server) that injects faults into selected AWS
//! calls. moto cannot fail at the transport level, so the proxy does: requests are matched by
//! their `X-Amz-Target` header (AWS JSON protocol, e.g. `AmazonSQS.SendMessage`).
//!
//! S3 speaks REST (AWS S3 API Reference: the operation is the method and the path, no
//! `X-Amz-Target`), so a request without that header is matched by a *pseudo-target* instead:
//! `S3:<METHOD>` (e.g. `S3:PUT` for PutObject, `S3:GET` for GetObject and ListObjectsV2,
//! `S3:DELETE`, `S3:HEAD`, `S3:POST` for DeleteObjects), optionally narrowed by a path prefix
//! after one space: `S3:PUT /my-bucket/dead-letters/` matches only PUTs whose path starts with
//! `/my-bucket/dead-letters/`. Paths are path-style (`/<bucket>/<key>`): give the S3 client
//! `force_path_style(true)`. A request matches the fault of its longest matching prefix, else the
//! one of its bare `S3:<METHOD>`. [`FaultProxy::count`] and [`FaultProxy::bodies`] take the same
//! pseudo-targets (with or without a prefix). Every request without `X-Amz-Target` counts as an
//! S3 request, moto's own `/moto-api/` calls included.
//!
//! The proxy forwards the method, path and query, headers (except `Host`, `Content-Length` and
//! hop-by-hop headers) and body to the upstream, and relays status, headers (minus hop-by-hop
//! ones; `Content-Length` is recomputed) and body. moto does not check SigV4 signatures, so the
//! changed `Host` does no harm.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header;
use hyper::{Request, Response};

use crate::harness::lock;
use crate::http_server::{
    self, BoxError, ConnCtx, Handler, HandlerFuture, Stopper, forwarded_headers, upstream_client,
};

/// The request header that selects a fault.
pub const TARGET_HEADER: &str = "x-amz-target";

/// Prefix of the pseudo-targets of REST (S3) requests, e.g. `S3:PUT`.
pub const S3_PSEUDO_PREFIX: &str = "S3:";

/// Time limit of one upstream call: 60 s (longer than SQS's 20 s long poll).
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// A function that rewrites an upstream response body.
pub type RewriteFn = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// A function that picks the fault of one request from its body (`None`: forward it unchanged).
/// It may keep state, e.g. to fault only the first call, or only the entries naming one receipt
/// handle.
pub type DecideFn = Arc<dyn Fn(&[u8]) -> Option<Fault> + Send + Sync>;

/// What to do with requests of one `X-Amz-Target`.
#[derive(Clone)]
pub enum Fault {
    /// Read the request, then close the connection without a response (the SDK sees a dispatch
    /// failure / connection closed). Upstream is not called.
    Reset,
    /// Answer this status, body and `Content-Type` without calling upstream.
    Respond {
        /// HTTP status code.
        status: u16,
        /// Response body.
        body: String,
        /// `Content-Type` of the response, e.g. `application/x-amz-json-1.0`.
        content_type: String,
    },
    /// Forward, then replace the upstream response body with the function's result (status and
    /// headers are kept; `Content-Length` is recomputed).
    Rewrite(RewriteFn),
    /// Forward this request body instead of the one received (e.g. a DeleteMessageBatch without
    /// one entry), then rewrite the upstream response body with `rewrite` if given (e.g. to list
    /// that entry in `Failed`, as SQS answers it inside an HTTP 200).
    Forward {
        /// The request body sent upstream.
        body: Vec<u8>,
        /// The rewrite of the upstream response body.
        rewrite: Option<RewriteFn>,
    },
    /// Decide per request ([`DecideFn`]); a decided `Decide` forwards unchanged.
    Decide(DecideFn),
}

impl std::fmt::Debug for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Reset => f.write_str("Reset"),
            Fault::Respond {
                status,
                body,
                content_type,
            } => f
                .debug_struct("Respond")
                .field("status", status)
                .field("body", body)
                .field("content_type", content_type)
                .finish(),
            Fault::Rewrite(_) => f.write_str("Rewrite(..)"),
            Fault::Forward { body, .. } => f
                .debug_struct("Forward")
                .field("body", &String::from_utf8_lossy(body))
                .finish_non_exhaustive(),
            Fault::Decide(_) => f.write_str("Decide(..)"),
        }
    }
}

struct Shared {
    upstream: String,
    client: reqwest::Client,
    faults: Mutex<HashMap<String, Fault>>,
    counts: Mutex<HashMap<String, usize>>,
    bodies: Mutex<HashMap<String, Vec<Bytes>>>,
    /// REST (S3) requests seen, in arrival order.
    rest: Mutex<Vec<RestRequest>>,
}

/// One request without `X-Amz-Target`, as the S3 pseudo-targets see it.
struct RestRequest {
    method: String,
    path: String,
    body: Bytes,
}

/// A parsed pseudo-target: `S3:<METHOD>` or `S3:<METHOD> <path prefix>`.
#[derive(Debug, PartialEq, Eq)]
struct S3Selector<'a> {
    method: &'a str,
    prefix: &'a str,
}

impl<'a> S3Selector<'a> {
    /// `None` when `target` is not a pseudo-target (an ordinary `X-Amz-Target` value).
    fn parse(target: &'a str) -> Option<Self> {
        let rest = target.strip_prefix(S3_PSEUDO_PREFIX)?;
        let (method, prefix) = rest.split_once(' ').unwrap_or((rest, ""));
        Some(S3Selector { method, prefix })
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.eq_ignore_ascii_case(method) && path.starts_with(self.prefix)
    }
}

/// The fault for a REST request: the longest matching path prefix wins.
fn rest_fault(faults: &HashMap<String, Fault>, method: &str, path: &str) -> Option<Fault> {
    faults
        .iter()
        .filter_map(|(k, f)| S3Selector::parse(k).map(|s| (s, f)))
        .filter(|(s, _)| s.matches(method, path))
        .max_by_key(|(s, _)| s.prefix.len())
        .map(|(_, f)| f.clone())
}

/// Handle to a running fault-injecting proxy on `127.0.0.1:0`. Clones share the proxy; it stops
/// when the last handle is dropped or on [`FaultProxy::shutdown`].
#[derive(Clone)]
pub struct FaultProxy {
    shared: Arc<Shared>,
    stopper: Arc<Stopper>,
    addr: std::net::SocketAddr,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts the proxy in front of `upstream` (e.g. `http://127.0.0.1:5000`; a trailing `/` is
    /// ignored).
    ///
    /// # Errors
    /// When the socket cannot be bound or the HTTP client cannot be built.
    pub async fn start(upstream: String) -> std::io::Result<FaultProxy> {
        let client = upstream_client(UPSTREAM_TIMEOUT)?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client,
            faults: Mutex::new(HashMap::new()),
            counts: Mutex::new(HashMap::new()),
            bodies: Mutex::new(HashMap::new()),
            rest: Mutex::new(Vec::new()),
        });
        let for_handler = Arc::clone(&shared);
        let handler: Handler = Arc::new(move |ctx, req| handle(Arc::clone(&for_handler), ctx, req));
        let server = http_server::serve(handler).await?;
        Ok(FaultProxy {
            shared,
            stopper: server.stopper,
            addr: server.addr,
        })
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL to give the AWS SDK (`AWS_ENDPOINT_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets (`Some`) or clears (`None`) the fault for requests whose `X-Amz-Target` equals
    /// `target` (exact match, e.g. `AmazonSQS.SendMessageBatch`), or for the REST (S3) requests
    /// a pseudo-target selects (`S3:PUT`, `S3:PUT /bucket/prefix`; see the module documentation).
    pub fn set_fault(&self, target: &str, fault: Option<Fault>) {
        let mut faults = lock(&self.shared.faults);
        match fault {
            Some(fault) => faults.insert(target.to_owned(), fault),
            None => faults.remove(target),
        };
    }

    /// Number of requests seen with `X-Amz-Target: target`, faulted or not; for a pseudo-target
    /// (`S3:PUT`, `S3:GET /bucket/key-prefix`), the REST requests it selects.
    pub fn count(&self, target: &str) -> usize {
        if let Some(sel) = S3Selector::parse(target) {
            return lock(&self.shared.rest)
                .iter()
                .filter(|r| sel.matches(&r.method, &r.path))
                .count();
        }
        lock(&self.shared.counts).get(target).copied().unwrap_or(0)
    }

    /// The request bodies seen with `X-Amz-Target: target`, in arrival order (e.g. the JSON of
    /// each `AmazonSQS.SendMessage`, with its `DelaySeconds` that no SQS API returns later).
    /// For a pseudo-target, the bodies of the REST requests it selects (e.g. the objects PUT, as
    /// sent: the SDK may frame them with `Content-Encoding: aws-chunked`).
    pub fn bodies(&self, target: &str) -> Vec<Vec<u8>> {
        if let Some(sel) = S3Selector::parse(target) {
            return lock(&self.shared.rest)
                .iter()
                .filter(|r| sel.matches(&r.method, &r.path))
                .map(|r| r.body.to_vec())
                .collect();
        }
        lock(&self.shared.bodies)
            .get(target)
            .map(|v| v.iter().map(|b| b.to_vec()).collect())
            .unwrap_or_default()
    }

    /// Stops the proxy and closes its open connections.
    pub async fn shutdown(self) {
        self.stopper.stop().await;
    }
}

fn handle(shared: Arc<Shared>, _ctx: ConnCtx, req: Request<Incoming>) -> HandlerFuture {
    Box::pin(async move {
        let (parts, body) = req.into_parts();
        let body = body.collect().await?.to_bytes();
        let target = parts
            .headers
            .get(TARGET_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let fault = match &target {
            Some(target) => {
                *lock(&shared.counts).entry(target.clone()).or_insert(0) += 1;
                lock(&shared.bodies)
                    .entry(target.clone())
                    .or_default()
                    .push(body.clone());
                lock(&shared.faults).get(target).cloned()
            }
            None => {
                let path = parts.uri.path().to_owned();
                let method = parts.method.as_str().to_owned();
                let fault = rest_fault(&lock(&shared.faults), &method, &path);
                lock(&shared.rest).push(RestRequest {
                    method,
                    path,
                    body: body.clone(),
                });
                fault
            }
        };
        let fault = match fault {
            Some(Fault::Decide(decide)) => decide(&body),
            other => other,
        };
        let mut body = body;
        let rewrite = match fault {
            Some(Fault::Reset) => return Err(BoxError::from("injected reset")),
            Some(Fault::Respond {
                status,
                body,
                content_type,
            }) => {
                return http_server::response(
                    status,
                    &[("content-type".to_owned(), content_type)],
                    body,
                );
            }
            Some(Fault::Rewrite(f)) => Some(f),
            Some(Fault::Forward {
                body: replaced,
                rewrite,
            }) => {
                body = Bytes::from(replaced);
                rewrite
            }
            Some(Fault::Decide(_)) | None => None,
        };
        let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let url = format!("{}{path_and_query}", shared.upstream);
        let upstream = shared
            .client
            .request(parts.method, url)
            .headers(forwarded_headers(&parts.headers))
            .body(body)
            .send()
            .await;
        let upstream = match upstream {
            Ok(resp) => resp,
            Err(e) => {
                return http_server::response(
                    502,
                    &[("content-type".to_owned(), "text/plain".to_owned())],
                    format!("fault proxy: upstream failed: {e}"),
                );
            }
        };
        let status = upstream.status();
        let headers = forwarded_headers(upstream.headers());
        let mut body = upstream.bytes().await?;
        if let Some(f) = rewrite {
            body = Bytes::from(f(&body));
        }
        let mut resp = Response::new(Full::new(body));
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
        // hyper sets Content-Length from the full body.
        resp.headers_mut().remove(header::CONTENT_LENGTH);
        Ok(resp)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wfm_server::{Reply, Script, ScriptedWfm};

    use crate::harness::test_client as client;

    #[tokio::test]
    async fn forwards_and_injects_faults_by_target() {
        let upstream = ScriptedWfm::start(Script::Sequence(vec![
            Reply::status(200)
                .header("content-type", "application/x-amz-json-1.0")
                .header("x-amzn-requestid", "r-1")
                .body(r#"{"MessageId":"m-1"}"#),
        ]))
        .await
        .expect("upstream");
        let proxy = FaultProxy::start(format!("http://{}/", upstream.addr()))
            .await
            .expect("proxy");
        let c = client();
        let send = |target: &'static str| {
            c.post(format!("{}/queue/a?x=1", proxy.url()))
                .header("X-Amz-Target", target)
                .header("content-type", "application/x-amz-json-1.0")
                .body(r#"{"QueueUrl":"q"}"#)
                .send()
        };

        // Forwarded as is.
        let resp = send("AmazonSQS.SendMessage").await.expect("forwarded");
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(resp.headers()["x-amzn-requestid"], "r-1");
        assert_eq!(resp.text().await.expect("body"), r#"{"MessageId":"m-1"}"#);
        let seen = upstream.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].path, "/queue/a");
        assert_eq!(
            seen[0].header("x-amz-target"),
            Some("AmazonSQS.SendMessage")
        );
        assert_eq!(seen[0].body, br#"{"QueueUrl":"q"}"#);

        // Respond without calling upstream.
        proxy.set_fault(
            "AmazonSQS.SendMessage",
            Some(Fault::Respond {
                status: 500,
                body: r#"{"__type":"InternalError"}"#.to_owned(),
                content_type: "application/x-amz-json-1.0".to_owned(),
            }),
        );
        let resp = send("AmazonSQS.SendMessage").await.expect("faulted");
        assert_eq!(resp.status().as_u16(), 500);
        assert_eq!(
            resp.text().await.expect("body"),
            r#"{"__type":"InternalError"}"#
        );
        assert_eq!(upstream.requests().len(), 1);

        // Other targets still pass; rewrite changes the body.
        proxy.set_fault(
            "AmazonSQS.SendMessageBatch",
            Some(Fault::Rewrite(Arc::new(|b: &[u8]| {
                let mut v = b"rewritten:".to_vec();
                v.extend_from_slice(b);
                v
            }))),
        );
        let resp = send("AmazonSQS.SendMessageBatch").await.expect("rewritten");
        assert_eq!(
            resp.text().await.expect("body"),
            r#"rewritten:{"MessageId":"m-1"}"#
        );

        // Reset closes the connection.
        proxy.set_fault("AmazonSQS.DeleteMessage", Some(Fault::Reset));
        assert!(send("AmazonSQS.DeleteMessage").await.is_err());

        // Cleared: forwarded again.
        proxy.set_fault("AmazonSQS.SendMessage", None);
        let resp = send("AmazonSQS.SendMessage").await.expect("forwarded");
        assert_eq!(resp.status().as_u16(), 200);

        assert_eq!(proxy.count("AmazonSQS.SendMessage"), 3);
        assert_eq!(proxy.count("AmazonSQS.SendMessageBatch"), 1);
        assert_eq!(proxy.count("AmazonSQS.DeleteMessage"), 1);
        assert_eq!(proxy.count("AmazonSQS.ReceiveMessage"), 0);
        assert_eq!(upstream.requests().len(), 3);
    }

    #[test]
    fn s3_selectors_parse_and_match() {
        assert_eq!(S3Selector::parse("AmazonSQS.SendMessage"), None);
        let bare = S3Selector::parse("S3:PUT").expect("pseudo-target");
        assert_eq!((bare.method, bare.prefix), ("PUT", ""));
        assert!(bare.matches("PUT", "/b/k"));
        assert!(!bare.matches("GET", "/b/k"));
        let narrow = S3Selector::parse("S3:PUT /b/dead-letters/").expect("pseudo-target");
        assert!(narrow.matches("PUT", "/b/dead-letters/2026/x.jsonl.gz"));
        assert!(!narrow.matches("PUT", "/b/claim-checks/x.json"));
    }

    #[tokio::test]
    async fn rest_requests_are_matched_by_s3_pseudo_targets() {
        let upstream = ScriptedWfm::start(Script::Sequence(vec![Reply::status(200)]))
            .await
            .expect("upstream");
        let proxy = FaultProxy::start(format!("http://{}", upstream.addr()))
            .await
            .expect("proxy");
        let c = client();
        let put = |path: &'static str| {
            c.put(format!("{}{path}", proxy.url()))
                .body(format!("object at {path}"))
                .send()
        };
        proxy.set_fault(
            "S3:PUT",
            Some(Fault::Respond {
                status: 500,
                body: "<Error><Code>InternalError</Code></Error>".to_owned(),
                content_type: "application/xml".to_owned(),
            }),
        );
        proxy.set_fault("S3:PUT /b/keep/", Some(Fault::Reset));
        assert_eq!(put("/b/x").await.expect("answered").status().as_u16(), 500);
        assert!(put("/b/keep/y").await.is_err(), "the longer prefix wins");
        let get = c
            .get(format!("{}/b/x", proxy.url()))
            .send()
            .await
            .expect("forwarded");
        assert_eq!(get.status().as_u16(), 200);
        assert_eq!(
            upstream.requests().len(),
            1,
            "only the GET reached upstream"
        );
        assert_eq!(proxy.count("S3:PUT"), 2);
        assert_eq!(proxy.count("S3:PUT /b/keep/"), 1);
        assert_eq!(proxy.count("S3:GET"), 1);
        assert_eq!(proxy.count("S3:DELETE"), 0);
        assert_eq!(
            proxy.bodies("S3:PUT /b/x"),
            vec![b"object at /b/x".to_vec()]
        );
        proxy.set_fault("S3:PUT", None);
        proxy.set_fault("S3:PUT /b/keep/", None);
        assert_eq!(
            put("/b/keep/y").await.expect("forwarded").status().as_u16(),
            200
        );
    }
}
