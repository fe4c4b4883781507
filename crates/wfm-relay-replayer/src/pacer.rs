//! Pacing: at most `rate` replay POSTs per second, shared by every POST in flight.

use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Paces POSTs to at most `rate` per second (no limit without a rate).
pub(crate) struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Pacer {
    /// A pacer for `rate_per_s` POSTs per second (`None`: no limit).
    pub(crate) fn new(rate_per_s: Option<f64>) -> Self {
        Pacer {
            interval: rate_per_s.map(|r| Duration::from_secs_f64(1.0 / r)),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next free slot (returns at once without a rate).
    pub(crate) async fn wait(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}
