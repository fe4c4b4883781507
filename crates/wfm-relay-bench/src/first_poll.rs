//! A Lambda Runtime API listener that only records when a process first polls for work: the end
//! of a cold start. It answers `GET /2018-06-01/runtime/invocation/next` by never answering (the
//! poll is held open, as the real API does while no invocation is queued) and records the
//! instant the first such request arrived; `POST /2018-06-01/runtime/init/error` is recorded and
//! answered `202`; anything else gets `404`.
//!
//! Source of the protocol: <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.
//! `wfm_relay_local::RuntimeApi` has no hook for the first poll, hence this listener.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// The path a Lambda runtime polls for its next invocation.
pub const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
/// The path a Lambda runtime posts its initialisation error to.
pub const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

#[derive(Default)]
struct State {
    first_poll: Option<Instant>,
    init_error: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running listener on `127.0.0.1:0`; it stops when dropped.
pub struct FirstPollApi {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for FirstPollApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstPollApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FirstPollApi {
    /// Binds `127.0.0.1:0` and serves on a spawned task.
    ///
    /// # Errors
    /// When the socket cannot be bound.
    pub async fn start() -> std::io::Result<FirstPollApi> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(accept_loop(
            listener,
            Arc::clone(&state),
            Arc::clone(&changed),
            stop_rx,
        ));
        Ok(FirstPollApi {
            addr,
            state,
            changed,
            stop,
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

impl Drop for FirstPollApi {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (state, changed) = (Arc::clone(&state), Arc::clone(&changed));
        let mut conn_stop = stop.clone();
        let for_service = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let (state, changed) = (Arc::clone(&state), Arc::clone(&changed));
                let mut held = for_service.clone();
                async move { Ok::<_, Infallible>(respond(req, &state, &changed, &mut held).await) }
            });
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn_stop.wait_for(|s| *s) => {}
                _ = conn => {}
            }
        });
    }
}

async fn respond(
    req: Request<Incoming>,
    state: &Mutex<State>,
    changed: &Notify,
    stop: &mut watch::Receiver<bool>,
) -> Response<Full<Bytes>> {
    let now = Instant::now();
    let status = match (req.method(), req.uri().path()) {
        (&Method::GET, NEXT_PATH) => {
            lock(state).first_poll.get_or_insert(now);
            changed.notify_waiters();
            // Hold the poll: no invocation will come.
            let _ = stop.wait_for(|s| *s).await;
            500
        }
        (&Method::POST, INIT_ERROR_PATH) => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            lock(state).init_error = Some(String::from_utf8_lossy(&body).into_owned());
            changed.notify_waiters();
            202
        }
        _ => 404,
    };
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    resp
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
