//! The state one chaos run shares between its tasks: the [`Run`] context (borrowed through an
//! `Arc` by the sender, the consumers, the phase script, the checkpoints and the loss injector),
//! the counters and what each EventBridge invocation answered.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use tokio::sync::watch;
use wfm_relay_bench::events::EventFamily;
use wfm_relay_local::harness::Clock;
use wfm_relay_local::{LocalStack, ScriptedWfm};

use crate::args::Args;
use crate::evidence::Evidence;
use crate::phases::Phase;

/// Everything the tasks of one run share.
pub struct Run {
    /// The command line.
    pub args: Args,
    /// Seconds since the start, for the progress lines.
    pub clock: Clock,
    /// The generated events (`args.events` of them).
    pub fam: EventFamily,
    /// This process's SQS client (moto, through `AWS_ENDPOINT_URL`).
    pub sqs: aws_sdk_sqs::Client,
    /// The retry queue, DLQ and archive bucket of the run.
    pub stack: LocalStack,
    /// The retry queue's messages as the SQS answers show them.
    pub ledger: std::sync::Arc<crate::ledger::Ledger>,
    /// The scripted WFM server.
    pub wfm: ScriptedWfm,
    /// Counters of the sender and the consumers.
    pub counters: Counters,
    /// The WFM server's current phase.
    pub phase: watch::Sender<Phase>,
    /// What WFM's recorded requests show so far.
    pub evidence: Mutex<Evidence>,
    /// What each EventBridge invocation answered, by event index.
    pub outcomes: Mutex<Vec<Outcome>>,
    /// Checkpoints that found events missing.
    pub check_failures: AtomicUsize,
    /// Tells the event source mapping pollers to stop.
    pub stop_consumers: AtomicBool,
}

impl Run {
    /// Events of the run.
    pub fn n(&self) -> usize {
        self.args.events
    }
}

/// Counters shared by the tasks.
#[derive(Default)]
pub struct Counters {
    /// EventBridge invocations started.
    pub started: AtomicUsize,
    /// EventBridge events whose invocations ended (answered, or written as an on-failure record).
    pub completed: AtomicUsize,
    /// Invocations that ended in an error (each retried as Lambda's async invocation does).
    pub invoke_errors: AtomicUsize,
    /// Lambda on-failure records written to the DLQ.
    pub on_failure_records: AtomicUsize,
    /// Retry-queue batches the event source mapping passed to a consumer.
    pub batches: AtomicUsize,
    /// Records in those batches.
    pub batch_records: AtomicUsize,
    /// Records the consumers listed for retry.
    pub batch_listed: AtomicUsize,
    /// Batches that failed as a whole (invocation error or invalid partial batch response).
    pub batch_failed_whole: AtomicUsize,
    /// Events the EventBridge invocation parked, by the `outcome` it answered (a reason token).
    pub parked_inline: Mutex<BTreeMap<String, usize>>,
}

/// What the EventBridge invocation of an event answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not (yet) answered.
    NotAnswered,
    /// `"outcome": "delivered"`: WFM accepted it inline.
    Delivered,
    /// `"outcome": "queued"`: written to the retry queue.
    Queued,
    /// Any other outcome: a reason token, parked in the DLQ.
    Parked,
    /// Every invocation failed: Lambda's on-failure record is in the DLQ.
    Failed,
}

impl Outcome {
    /// The summary's label.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::NotAnswered => "not answered",
            Outcome::Delivered => "delivered",
            Outcome::Queued => "queued",
            Outcome::Parked => "parked",
            Outcome::Failed => "failed (on-failure record)",
        }
    }
}
