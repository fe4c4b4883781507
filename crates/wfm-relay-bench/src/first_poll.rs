//! A Lambda Runtime API listener that only records when a process first polls for work: the end
//! of a cold start. It answers `GET /2018-06-01/runtime/invocation/next` by never answering (the
//! poll is held open, as the real API does while no invocation is queued) and records the
//! instant the first such request arrived; `POST /2018-06-01/runtime/init/error` is recorded and
//! answered `202`; anything else gets `404`.
//!
//! Source of the protocol: <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.
//! `wfm_relay_local::RuntimeApi` has no hook for the first poll, hence this listener; it runs on
//! the same accept loop (`wfm_relay_local::http_server`).

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use wfm_relay_local::harness::lock;
use wfm_relay_local::http_server::{self, ConnCtx, Handler, HandlerFuture, Stopper};

/// The path a Lambda runtime polls for its next invocation.
pub const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
/// The path a Lambda runtime posts its initialisation error to.
pub const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

#[derive(Default)]
struct State {
    first_poll: Option<Instant>,
    init_error: Option<String>,
}

/// A running listener on `127.0.0.1:0`; it stops when dropped.
pub struct FirstPollApi {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    /// Dropping it stops the server and ends the held polls.
    _stopper: Arc<Stopper>,
}

impl std::fmt::Debug for FirstPollApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstPollApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FirstPollApi {
    /// Binds `127.0.0.1:0` and serves on a spawned task (the accept loop of
    /// `wfm_relay_local::http_server`).
    ///
    /// # Errors
    /// When the socket cannot be bound.
    pub async fn start() -> std::io::Result<FirstPollApi> {
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let handler: Handler = {
            let (state, changed) = (Arc::clone(&state), Arc::clone(&changed));
            Arc::new(move |ctx, req| respond(Arc::clone(&state), Arc::clone(&changed), ctx, req))
        };
        let server = http_server::serve(handler).await?;
        Ok(FirstPollApi {
            addr: server.addr,
            state,
            changed,
            _stopper: server.stopper,
        })
    }

    /// `127.0.0.1:<port>`: the value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Waits at most `timeout` for the first `next` poll or an init error. `Ok(instant)` of the
    /// first poll; `Err(message)` with the init error the process posted, or `"timeout"`.
    pub async fn wait(&self, timeout: Duration) -> Result<Instant, String> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            {
                let s = lock(&self.state);
                if let Some(t) = s.first_poll {
                    return Ok(t);
                }
                if let Some(e) = &s.init_error {
                    return Err(e.clone());
                }
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return Err("timeout".into());
            }
        }
    }
}

fn respond(
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    _ctx: ConnCtx,
    req: Request<Incoming>,
) -> HandlerFuture {
    let now = Instant::now();
    Box::pin(async move {
        let status = match (req.method(), req.uri().path()) {
            (&Method::GET, NEXT_PATH) => {
                lock(&state).first_poll.get_or_insert(now);
                changed.notify_waiters();
                // Hold the poll: no invocation will come. The server drops this future when it
                // stops.
                std::future::pending::<()>().await;
                500
            }
            (&Method::POST, INIT_ERROR_PATH) => {
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                lock(&state).init_error = Some(String::from_utf8_lossy(&body).into_owned());
                changed.notify_waiters();
                202
            }
            _ => 404,
        };
        http_server::response(status, &[], Vec::new())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_the_first_poll_and_holds_it() {
        let api = FirstPollApi::start().await.expect("start");
        let url = format!("http://{}{NEXT_PATH}", api.address());
        let poll = tokio::spawn(async move {
            reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client")
                .get(url)
                .send()
                .await
        });
        let before = Instant::now();
        let first = api.wait(Duration::from_secs(5)).await.expect("first poll");
        assert!(first >= before - Duration::from_secs(1));
        // Held: still no answer.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!poll.is_finished());
        drop(api);
    }

    #[tokio::test]
    async fn reports_an_init_error() {
        let api = FirstPollApi::start().await.expect("start");
        let status = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .post(format!("http://{}{INIT_ERROR_PATH}", api.address()))
            .body(r#"{"errorType":"Runtime.InitError","errorMessage":"WFM_URL missing"}"#)
            .send()
            .await
            .expect("post")
            .status()
            .as_u16();
        assert_eq!(status, 202);
        let err = api
            .wait(Duration::from_secs(5))
            .await
            .expect_err("init error");
        assert!(err.contains("WFM_URL missing"), "{err}");
    }
}
