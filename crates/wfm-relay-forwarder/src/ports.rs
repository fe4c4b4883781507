//! The forwarder's ports: the five narrow things its flow needs from the outside world, each a
//! small trait, with the AWS adapters beside them ([`Ports::aws`]). Unit tests put in-memory
//! fakes in their place (`memory.rs`), so the orchestration (guard → deadline → breaker →
//! attempt → verdict → schedule → enqueue / park) runs without moto, including the paths moto
//! cannot produce (a queue that refuses, a failed visibility change, a claim check that cannot
//! be read now).
//!
//! The traits are object-safe (their futures are boxed): the forwarder holds them as
//! `Arc<dyn _>`, which costs one allocation per call, nothing next to a network round trip.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use wfm_relay_aws::queues::{QueueError, Queues, Sent};
use wfm_relay_aws::wfm::WfmClient;
use wfm_relay_core::attempt::{AttemptResult, Delivery};
use wfm_relay_core::envelope::EnvelopeV1;

/// A boxed, sendable future borrowing its arguments for `'a`.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Makes one delivery attempt to WFM (adapter: [`WfmClient::post`]).
pub trait Deliver: Send + Sync + Debug {
    /// One POST of `d` with a total timeout of `timeout`; the answer as data, never an error.
    fn post<'a>(&'a self, d: &'a Delivery, timeout: Duration) -> PortFuture<'a, AttemptResult>;
}

/// The retry queue, as the forwarder uses it (adapter: [`Queues::retry`] and
/// [`Queues::event_bytes`]).
pub trait RetryQueue: Send + Sync + Debug {
    /// Sends `env` with `DelaySeconds = delay_s` (0–900), claim-checking a large event.
    fn enqueue<'a>(
        &'a self,
        env: &'a EnvelopeV1,
        delay_s: u32,
    ) -> PortFuture<'a, Result<Sent, QueueError>>;
    /// Sets a received record's visibility timeout (seconds, 0–43,200).
    fn set_visibility<'a>(
        &'a self,
        receipt_handle: &'a str,
        secs: u32,
    ) -> PortFuture<'a, Result<(), QueueError>>;
    /// The event bytes of a queued envelope: inline, or read from its claim check.
    fn event_bytes<'a>(
        &'a self,
        env: &'a EnvelopeV1,
    ) -> PortFuture<'a, Result<Vec<u8>, QueueError>>;
}

/// The dead-letter queue, as the forwarder uses it (adapter: [`Queues::dlq`]).
pub trait DeadLetters: Send + Sync + Debug {
    /// Parks `env` (its reason and history already written).
    fn park<'a>(&'a self, env: &'a EnvelopeV1) -> PortFuture<'a, Result<Sent, QueueError>>;
}

/// Time: wall clock (deadlines, guards, `not_before`, envelope times), monotonic clock (the
/// breaker) and sleeping (inline backoff).
pub trait Clock: Send + Sync + Debug {
    /// The wall-clock time now.
    fn now(&self) -> SystemTime;
    /// The monotonic time now.
    fn instant(&self) -> Instant;
    /// Waits `d`.
    fn sleep(&self, d: Duration) -> PortFuture<'_, ()>;
}

/// The random draw of full-jitter backoff ([`wfm_relay_core::policy::full_jitter`]).
pub trait Jitter: Send + Sync + Debug {
    /// A uniform draw in `[0, 1)`.
    fn unit(&self) -> f64;
}

/// Everything the forwarder's flow reaches outside itself.
#[derive(Debug, Clone)]
pub struct Ports {
    /// WFM.
    pub deliver: Arc<dyn Deliver>,
    /// The retry queue (and claim-check reads).
    pub retry: Arc<dyn RetryQueue>,
    /// The dead-letter queue.
    pub dead_letters: Arc<dyn DeadLetters>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Backoff randomness.
    pub jitter: Arc<dyn Jitter>,
}

impl Ports {
    /// The production wiring: the WFM client, both queues of `queues`, the system clock and
    /// tokio's timer, and the thread-local RNG.
    pub fn aws(wfm: WfmClient, queues: Queues) -> Self {
        let queues = Arc::new(queues);
        Ports {
            deliver: Arc::new(wfm),
            retry: queues.clone(),
            dead_letters: queues,
            clock: Arc::new(SystemClock),
            jitter: Arc::new(ThreadRng),
        }
    }
}

impl Deliver for WfmClient {
    fn post<'a>(&'a self, d: &'a Delivery, timeout: Duration) -> PortFuture<'a, AttemptResult> {
        Box::pin(WfmClient::post(self, d, timeout))
    }
}

impl RetryQueue for Queues {
    fn enqueue<'a>(
        &'a self,
        env: &'a EnvelopeV1,
        delay_s: u32,
    ) -> PortFuture<'a, Result<Sent, QueueError>> {
        Box::pin(async move { self.retry().enqueue(env, delay_s).await })
    }

    fn set_visibility<'a>(
        &'a self,
        receipt_handle: &'a str,
        secs: u32,
    ) -> PortFuture<'a, Result<(), QueueError>> {
        Box::pin(async move { self.retry().set_visibility(receipt_handle, secs).await })
    }

    fn event_bytes<'a>(
        &'a self,
        env: &'a EnvelopeV1,
    ) -> PortFuture<'a, Result<Vec<u8>, QueueError>> {
        Box::pin(Queues::event_bytes(self, env))
    }
}

impl DeadLetters for Queues {
    fn park<'a>(&'a self, env: &'a EnvelopeV1) -> PortFuture<'a, Result<Sent, QueueError>> {
        Box::pin(async move { self.dlq().park(env).await })
    }
}

/// [`SystemTime::now`], [`Instant::now`] and `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn instant(&self) -> Instant {
        Instant::now()
    }
    fn sleep(&self, d: Duration) -> PortFuture<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// `rand`'s thread-local generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRng;

impl Jitter for ThreadRng {
    fn unit(&self) -> f64 {
        rand::random::<f64>()
    }
}
