//! A circuit breaker for the WFM endpoint: a pure state machine, time passed in.
//!
//! When WFM fails `BREAKER_FAILURES` requests in a row (transient failures: 5xx, 408/425/429,
//! transport errors), the breaker **opens** for `BREAKER_OPEN_MS`. While it is open the forwarder
//! makes no POST: each event goes straight to the retry queue (EventBridge entry) or is listed in
//! `batchItemFailures` with a visibility timeout (SQS entry). An open breaker never turns an event
//! into a success and never drops it (case C17: "never an endpoint disabled / circuit-open path
//! that skips events instead of queueing them"). When the open period is over, exactly one
//! request goes through as a **probe** (half-open): its success closes the breaker, its failure
//! opens it again for another period. A probe that never reports (its invocation died) is
//! replaced by a new one after another open period, so the breaker cannot stay half-open forever.
//!
//! An answer that is not transient (2xx, or a permanent 3xx/4xx/410) shows that WFM is up: it
//! counts as healthy and resets the run of failures.
//!
//! The pattern: Michael Nygard, "Release It!", chapter "Circuit Breaker"; Martin Fowler,
//! "CircuitBreaker" (martinfowler.com/bliki/CircuitBreaker.html).

use std::time::{Duration, Instant};

/// `BREAKER_FAILURES` and `BREAKER_OPEN_MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive transient failures that open the breaker; 0 turns the breaker off.
    pub failures: u32,
    /// How long the breaker stays open before one probe may go through.
    pub open_for: Duration,
}

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests go through; `consecutive` transient failures in a row so far.
    Closed {
        /// Transient failures since the last healthy answer.
        consecutive: u32,
    },
    /// No request goes through before `until`.
    Open {
        /// End of the open period.
        until: Instant,
    },
    /// One probe is in flight; a new probe may go after `probe_expires` if it never reports.
    HalfOpen {
        /// When a silent probe counts as lost.
        probe_expires: Instant,
    },
}

/// The breaker's answer to "may I POST now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Closed (or turned off): go ahead.
    Go,
    /// Go ahead as the one probe; report its outcome with [`Breaker::record`].
    Probe,
    /// Do not POST; queue the event instead. `wait` is the time until a probe may go.
    Skip {
        /// Time until the open period (or the silent probe) ends.
        wait: Duration,
    },
}

/// How a request that was let through ended, as the breaker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// WFM answered something other than a transient failure.
    Healthy,
    /// A transient failure (transient status, timeout, connection error).
    Failed,
}

/// What [`Breaker::record`] changed, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing worth a log line.
    None,
    /// Closed → open: the run of failures reached the threshold.
    Opened,
    /// The probe failed: open again.
    Reopened,
    /// The probe succeeded: closed.
    Closed,
}

/// The circuit breaker. One per process (the forwarder keeps it behind a `Mutex`).
#[derive(Debug, Clone)]
pub struct Breaker {
    settings: BreakerSettings,
    state: BreakerState,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Breaker {
            settings,
            state: BreakerState::Closed { consecutive: 0 },
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// True unless the breaker is closed (open, or half-open waiting for its probe).
    pub fn is_open(&self) -> bool {
        !matches!(self.state, BreakerState::Closed { .. })
    }

    /// Asks to make one request at `now`. A `Probe` answer moves the breaker to half-open.
    pub fn admit(&mut self, now: Instant) -> Admit {
        if self.settings.failures == 0 {
            return Admit::Go;
        }
        match self.state {
            BreakerState::Closed { .. } => Admit::Go,
            BreakerState::Open { until }
            | BreakerState::HalfOpen {
                probe_expires: until,
            } if now < until => Admit::Skip { wait: until - now },
            BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => {
                self.state = BreakerState::HalfOpen {
                    probe_expires: now + self.settings.open_for,
                };
                Admit::Probe
            }
        }
    }

    /// Reports how a request that `admit` let through (`admitted` is its answer) ended at `now`.
    /// Reports of requests admitted before the state changed (a `Go` finishing while the breaker
    /// is open or half-open) change nothing.
    pub fn record(&mut self, admitted: Admit, health: Health, now: Instant) -> Transition {
        if self.settings.failures == 0 {
            return Transition::None;
        }
        match (admitted, self.state, health) {
            (Admit::Probe, BreakerState::HalfOpen { .. }, Health::Healthy) => {
                self.state = BreakerState::Closed { consecutive: 0 };
                Transition::Closed
            }
            (Admit::Probe, BreakerState::HalfOpen { .. }, Health::Failed) => {
                self.state = BreakerState::Open {
                    until: now + self.settings.open_for,
                };
                Transition::Reopened
            }
            (Admit::Go, BreakerState::Closed { .. }, Health::Healthy) => {
                self.state = BreakerState::Closed { consecutive: 0 };
                Transition::None
            }
            (Admit::Go, BreakerState::Closed { consecutive }, Health::Failed) => {
                let consecutive = consecutive.saturating_add(1);
                if consecutive >= self.settings.failures {
                    self.state = BreakerState::Open {
                        until: now + self.settings.open_for,
                    };
                    Transition::Opened
                } else {
                    self.state = BreakerState::Closed { consecutive };
                    Transition::None
                }
            }
            _ => Transition::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: u32) -> Breaker {
        Breaker::new(BreakerSettings {
            failures,
            open_for: Duration::from_secs(30),
        })
    }

    #[test]
    fn opens_after_n_consecutive_failures_and_skips_while_open() {
        let t0 = Instant::now();
        let mut b = breaker(3);
        for i in 0..3 {
            assert_eq!(b.admit(t0), Admit::Go);
            let want = if i == 2 {
                Transition::Opened
            } else {
                Transition::None
            };
            assert_eq!(b.record(Admit::Go, Health::Failed, t0), want);
        }
        assert!(b.is_open());
        assert_eq!(
            b.admit(t0 + Duration::from_secs(10)),
            Admit::Skip {
                wait: Duration::from_secs(20)
            }
        );
    }

    #[test]
    fn a_healthy_answer_resets_the_run() {
        let t0 = Instant::now();
        let mut b = breaker(3);
        let table = [
            (Health::Failed, 1),
            (Health::Failed, 2),
            (Health::Healthy, 0),
            (Health::Failed, 1),
            (Health::Failed, 2),
        ];
        for (health, consecutive) in table {
            let a = b.admit(t0);
            assert_eq!(b.record(a, health, t0), Transition::None);
            assert_eq!(b.state(), BreakerState::Closed { consecutive });
        }
    }

    #[test]
    fn half_open_lets_one_probe_through() {
        let t0 = Instant::now();
        let mut b = breaker(1);
        b.record(Admit::Go, Health::Failed, t0);
        assert!(b.is_open());
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(b.admit(t1), Admit::Probe);
        // While the probe is in flight, everyone else is skipped.
        assert!(matches!(b.admit(t1), Admit::Skip { .. }));
        // A late report of a request admitted before the breaker opened changes nothing.
        assert_eq!(b.record(Admit::Go, Health::Healthy, t1), Transition::None);
        assert!(b.is_open());
        assert_eq!(
            b.record(Admit::Probe, Health::Healthy, t1),
            Transition::Closed
        );
        assert_eq!(b.state(), BreakerState::Closed { consecutive: 0 });
        assert_eq!(b.admit(t1), Admit::Go);
    }

    #[test]
    fn a_failed_probe_reopens_for_a_full_period() {
        let t0 = Instant::now();
        let mut b = breaker(1);
        b.record(Admit::Go, Health::Failed, t0);
        let t1 = t0 + Duration::from_secs(31);
        assert_eq!(b.admit(t1), Admit::Probe);
        let t2 = t1 + Duration::from_secs(2);
        assert_eq!(
            b.record(Admit::Probe, Health::Failed, t2),
            Transition::Reopened
        );
        assert_eq!(
            b.state(),
            BreakerState::Open {
                until: t2 + Duration::from_secs(30)
            }
        );
        assert!(matches!(
            b.admit(t2 + Duration::from_secs(29)),
            Admit::Skip { .. }
        ));
        assert_eq!(b.admit(t2 + Duration::from_secs(30)), Admit::Probe);
    }

    #[test]
    fn a_silent_probe_is_replaced_after_an_open_period() {
        let t0 = Instant::now();
        let mut b = breaker(1);
        b.record(Admit::Go, Health::Failed, t0);
        let t1 = t0 + Duration::from_secs(30);
        assert_eq!(b.admit(t1), Admit::Probe);
        assert!(matches!(
            b.admit(t1 + Duration::from_secs(29)),
            Admit::Skip { .. }
        ));
        assert_eq!(b.admit(t1 + Duration::from_secs(30)), Admit::Probe);
    }

    #[test]
    fn zero_failures_turns_it_off() {
        let t0 = Instant::now();
        let mut b = breaker(0);
        for _ in 0..100 {
            assert_eq!(b.admit(t0), Admit::Go);
            assert_eq!(b.record(Admit::Go, Health::Failed, t0), Transition::None);
        }
        assert!(!b.is_open());
    }
}
