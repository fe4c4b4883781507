//! In-memory fakes of the [`crate::ports`], for unit tests of the flow without moto: a scripted
//! WFM, queues that record what they were given (and can be told to refuse), a clock that only
//! moves when slept on, and a fixed jitter draw.

use crate::ports::{Clock, DeadLetters, Deliver, Jitter, PortFuture, Ports, RetryQueue};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};
use wfm_relay_aws::queues::{QueueError, Sent};
use wfm_relay_core::attempt::{AttemptResult, Delivery};
use wfm_relay_core::envelope::EnvelopeV1;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// WFM answering from a script (then 200 for ever), recording every request.
#[derive(Debug, Default)]
pub(crate) struct ScriptedWfm {
    answers: Mutex<VecDeque<AttemptResult>>,
    posts: Mutex<Vec<Delivery>>,
}

impl ScriptedWfm {
    pub(crate) fn answer(&self, status: u16, retry_after: Option<&str>) {
        lock(&self.answers).push_back(AttemptResult::Answered {
            status,
            retry_after: retry_after.map(str::to_owned),
            excerpt: format!("status {status}"),
            latency_ms: 7,
        });
    }
    pub(crate) fn posts(&self) -> Vec<Delivery> {
        lock(&self.posts).clone()
    }
}

impl Deliver for ScriptedWfm {
    fn post<'a>(&'a self, d: &'a Delivery, _timeout: Duration) -> PortFuture<'a, AttemptResult> {
        lock(&self.posts).push(d.clone());
        let next = lock(&self.answers).pop_front();
        Box::pin(async move {
            next.unwrap_or(AttemptResult::Answered {
                status: 200,
                retry_after: None,
                excerpt: String::new(),
                latency_ms: 7,
            })
        })
    }
}

fn refused(queue: &str) -> QueueError {
    QueueError::Send {
        queue: queue.into(),
        message: "dispatch failure (fake)".into(),
    }
}

/// The retry queue: records enqueues and visibility changes; each can be made to fail; a claim
/// check can be made unreadable for now.
#[derive(Debug, Default)]
pub(crate) struct MemoryRetryQueue {
    pub(crate) enqueued: Mutex<Vec<(EnvelopeV1, u32)>>,
    pub(crate) visibility: Mutex<Vec<(String, u32)>>,
    pub(crate) refuse_enqueue: AtomicBool,
    pub(crate) refuse_visibility: AtomicBool,
    pub(crate) claim_check_unavailable: AtomicBool,
}

impl RetryQueue for MemoryRetryQueue {
    fn enqueue<'a>(
        &'a self,
        env: &'a EnvelopeV1,
        delay_s: u32,
    ) -> PortFuture<'a, Result<Sent, QueueError>> {
        let r = if self.refuse_enqueue.load(Ordering::SeqCst) {
            Err(refused("retry"))
        } else {
            let mut q = lock(&self.enqueued);
            q.push((env.clone(), delay_s));
            Ok(Sent {
                message_id: format!("retry-{}", q.len()),
                claim_check: None,
            })
        };
        Box::pin(async move { r })
    }

    fn set_visibility<'a>(
        &'a self,
        receipt_handle: &'a str,
        secs: u32,
    ) -> PortFuture<'a, Result<(), QueueError>> {
        let r = if self.refuse_visibility.load(Ordering::SeqCst) {
            Err(QueueError::Call {
                operation: "ChangeMessageVisibility",
                queue: "retry".into(),
                message: "receipt handle expired (fake)".into(),
            })
        } else {
            lock(&self.visibility).push((receipt_handle.to_owned(), secs));
            Ok(())
        };
        Box::pin(async move { r })
    }

    fn event_bytes<'a>(
        &'a self,
        env: &'a EnvelopeV1,
    ) -> PortFuture<'a, Result<Vec<u8>, QueueError>> {
        let r = match (&env.event, &env.event_s3) {
            (Some(e), _) => Ok(e.clone().into_bytes()),
            (None, Some(p)) if self.claim_check_unavailable.load(Ordering::SeqCst) => {
                Err(QueueError::ClaimCheck {
                    bucket: p.bucket.clone(),
                    key: p.key.clone(),
                    message: "slow down (fake)".into(),
                })
            }
            (None, Some(p)) => Err(QueueError::ClaimCheckMissing {
                bucket: p.bucket.clone(),
                key: p.key.clone(),
            }),
            (None, None) => Err(QueueError::NoEvent),
        };
        Box::pin(async move { r })
    }
}

/// The DLQ: records parked letters; can be made to refuse.
#[derive(Debug, Default)]
pub(crate) struct MemoryDlq {
    pub(crate) parked: Mutex<Vec<EnvelopeV1>>,
    pub(crate) refuse: AtomicBool,
}

impl DeadLetters for MemoryDlq {
    fn park<'a>(&'a self, env: &'a EnvelopeV1) -> PortFuture<'a, Result<Sent, QueueError>> {
        let r = if self.refuse.load(Ordering::SeqCst) {
            Err(refused("dlq"))
        } else {
            let mut q = lock(&self.parked);
            q.push(env.clone());
            Ok(Sent {
                message_id: format!("dlq-{}", q.len()),
                claim_check: None,
            })
        };
        Box::pin(async move { r })
    }
}

/// A clock that moves only when slept on (a sleep returns at once and advances it).
#[derive(Debug)]
pub(crate) struct FakeClock {
    start: SystemTime,
    base: Instant,
    offset: Mutex<Duration>,
    pub(crate) slept: Mutex<Vec<Duration>>,
}

impl FakeClock {
    pub(crate) fn at(start: SystemTime) -> Self {
        FakeClock {
            start,
            base: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
            slept: Mutex::new(Vec::new()),
        }
    }
    pub(crate) fn advance(&self, d: Duration) {
        *lock(&self.offset) += d;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        self.start + *lock(&self.offset)
    }
    fn instant(&self) -> Instant {
        self.base + *lock(&self.offset)
    }
    fn sleep(&self, d: Duration) -> PortFuture<'_, ()> {
        lock(&self.slept).push(d);
        self.advance(d);
        Box::pin(async {})
    }
}

/// Always the same draw.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedJitter(pub(crate) f64);

impl Jitter for FixedJitter {
    fn unit(&self) -> f64 {
        self.0
    }
}

/// The fakes, kept by the test to script and inspect them.
#[derive(Debug, Clone)]
pub(crate) struct Fakes {
    pub(crate) wfm: Arc<ScriptedWfm>,
    pub(crate) retry: Arc<MemoryRetryQueue>,
    pub(crate) dlq: Arc<MemoryDlq>,
    pub(crate) clock: Arc<FakeClock>,
}

impl Fakes {
    pub(crate) fn at(start: SystemTime) -> Self {
        Fakes {
            wfm: Arc::default(),
            retry: Arc::default(),
            dlq: Arc::default(),
            clock: Arc::new(FakeClock::at(start)),
        }
    }
    pub(crate) fn ports(&self) -> Ports {
        Ports {
            deliver: self.wfm.clone(),
            retry: self.retry.clone(),
            dead_letters: self.dlq.clone(),
            clock: self.clock.clone(),
            jitter: Arc::new(FixedJitter(0.5)),
        }
    }
    pub(crate) fn parked(&self) -> Vec<EnvelopeV1> {
        lock(&self.dlq.parked).clone()
    }
    pub(crate) fn enqueued(&self) -> Vec<(EnvelopeV1, u32)> {
        lock(&self.retry.enqueued).clone()
    }
    pub(crate) fn visibility(&self) -> Vec<(String, u32)> {
        lock(&self.retry.visibility).clone()
    }
}
