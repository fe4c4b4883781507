//! A tiny HTTP/1.1 server loop shared by the stand-ins: binds `127.0.0.1:0`, serves every
//! connection with keep-alive, numbers connections and requests, and stops when told to or when
//! the owning handle (the [`Stopper`]) is dropped. When the server stops, every connection
//! task ends and drops the handler futures it was running: a handler that holds a request open
//! (a long poll) needs no stop signal of its own.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// Error type returned by handlers; an `Err` makes hyper close the connection without a response.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future a handler returns.
pub type HandlerFuture =
    Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, BoxError>> + Send>>;

/// Where a request arrived: 1-based connection id and 1-based request number on it.
#[derive(Debug, Clone, Copy)]
pub struct ConnCtx {
    /// The connection's number, from 1 in accept order.
    pub connection: u64,
    /// The request's number on its connection, from 1.
    pub nth: u64,
}

/// A request handler shared by all connections.
pub type Handler = Arc<dyn Fn(ConnCtx, Request<Incoming>) -> HandlerFuture + Send + Sync>;

/// Owns the stop signal: dropping the last clone of the `Arc<Stopper>` stops the server.
pub struct Stopper {
    tx: watch::Sender<bool>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Stopper {
    /// Signals every task to stop and waits for the accept loop to end.
    pub async fn stop(&self) {
        self.tx.send_replace(true);
        let handle = self.accept.lock().await.take();
        if let Some(handle) = handle {
            // The accept loop never panics; a JoinError here only means it was cancelled.
            let _ = handle.await;
        }
    }
}

impl Drop for Stopper {
    fn drop(&mut self) {
        self.tx.send_replace(true);
    }
}

/// Resolves once a stop was signalled or the [`Stopper`] is gone.
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    // `wait_for` errs when the sender is dropped: that means "stop" too.
    let _ = rx.wait_for(|stop| *stop).await;
}

/// A running server: its address, its stopper and the count of accepted connections.
pub struct Server {
    /// The bound address, `127.0.0.1:<port>`.
    pub addr: SocketAddr,
    /// Stops the server when told to or when its last clone is dropped.
    pub stopper: Arc<Stopper>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicU64>,
}

/// Binds `127.0.0.1:0` and serves `handler` on a spawned task.
///
/// # Errors
/// When the socket cannot be bound.
pub async fn serve(handler: Handler) -> std::io::Result<Server> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let connections = Arc::new(AtomicU64::new(0));
    let accept = tokio::spawn(accept_loop(listener, rx, handler, Arc::clone(&connections)));
    Ok(Server {
        addr,
        stopper: Arc::new(Stopper {
            tx,
            accept: Mutex::new(Some(accept)),
        }),
        connections,
    })
}

async fn accept_loop(
    listener: TcpListener,
    mut rx: watch::Receiver<bool>,
    handler: Handler,
    connections: Arc<AtomicU64>,
) {
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut rx) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _peer)) = accepted else {
            // Transient accept errors (e.g. too many open files): try again shortly.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection = connections.fetch_add(1, Ordering::SeqCst) + 1;
        let handler = Arc::clone(&handler);
        let mut conn_rx = rx.clone();
        tokio::spawn(async move {
            let service = ConnService {
                handler,
                connection,
                nth: AtomicU64::new(0),
            };
            let conn = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                () = stopped(&mut conn_rx) => {}
                // Connection errors (client gone, handler Err) just end the connection.
                _ = conn => {}
            }
        });
    }
}

/// The per-connection service: numbers the requests and calls the shared handler.
struct ConnService {
    handler: Handler,
    connection: u64,
    nth: AtomicU64,
}

impl Service<Request<Incoming>> for ConnService {
    type Response = Response<Full<Bytes>>;
    type Error = BoxError;
    type Future = HandlerFuture;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let ctx = ConnCtx {
            connection: self.connection,
            nth: self.nth.fetch_add(1, Ordering::SeqCst) + 1,
        };
        (self.handler)(ctx, req)
    }
}

/// Builds a response with a status, headers and body.
///
/// # Errors
/// When `status` is not a valid HTTP status or a header name or value is invalid.
pub fn response(
    status: u16,
    headers: &[(String, String)],
    body: impl Into<Bytes>,
) -> Result<Response<Full<Bytes>>, BoxError> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    Ok(builder.body(Full::new(body.into()))?)
}

/// The HTTP client a proxy in front of an upstream forwards with (the fault proxy, the AWS-rules
/// layer): no system proxy, redirects relayed rather than followed, `timeout` per upstream call.
pub(crate) fn upstream_client(timeout: std::time::Duration) -> std::io::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(std::io::Error::other)
}

/// The headers a proxy passes on from `headers`: all but the hop-by-hop ones (RFC 9110 §7.6.1)
/// and the ones recomputed on each hop (`host`, `content-length`).
pub(crate) fn forwarded_headers(headers: &hyper::HeaderMap) -> hyper::HeaderMap {
    let mut out = hyper::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let dropped = matches!(
            name.as_str(),
            "connection"
                | "keep-alive"
                | "proxy-connection"
                | "proxy-authenticate"
                | "proxy-authorization"
                | "te"
                | "trailer"
                | "transfer-encoding"
                | "upgrade"
                | "host"
                | "content-length"
        );
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out
}
