//! The scheduled snapshot (issue 12): its own function, `wfm-relay-snapshot`, so a schedule never
//! blocks an operator's replay (the replayer has a reserved concurrency of 1).
//!
//! One run is a chain of invocations: each part runs the [`crate::Snapshotter`] until its
//! deadline, then invokes the function itself asynchronously with the report's `next`; the run
//! ends when `next` is absent. A lease ([`lease`]) says which run is going: a start that finds a
//! live lease of another run is skipped (one log line, EMF `SnapshotSkipped` = 1), an expired one
//! (a crashed run) is taken over, each part renews it, the last part deletes it. A lease that
//! cannot be read or written fails the invocation (Lambda retries it); it is never taken as
//! "free" or "busy".
//!
//! The I/O is behind [`ScheduleIo`] ([`aws::AwsSchedule`] in the Lambda), so [`handle`] is
//! tested without it.

pub mod aws;
pub mod lease;
pub mod trigger;

use crate::snapshot_request::{SnapshotReport, SnapshotRequest};
use lease::{ContinueStep, Lease, StartStep, Stored, continue_step, start_step};
use serde_json::{Value, json};
use std::future::Future;
use std::time::{Duration, SystemTime};
use tracing::{info, warn};
use trigger::{Trigger, trigger_of};

/// The EMF metric of a skipped scheduled run (Count; 0 on every other invocation).
pub const SNAPSHOT_SKIPPED: &str = "SnapshotSkipped";

/// Why a lease call failed (the store's message; the invocation fails with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot lease: {0}")]
pub struct LeaseError(pub String);

/// How a conditional lease write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Written.
    Done,
    /// The condition failed (`412 Precondition Failed` / `409`): another writer came first.
    Conflict,
}

/// The snapshot function's I/O: the lease store, one part of a run, and the asynchronous
/// self-invocation.
pub trait ScheduleIo {
    /// Now (lease times).
    fn now(&self) -> SystemTime;
    /// The lease, `None` when there is none.
    fn read_lease(&self) -> impl Future<Output = Result<Option<Stored>, LeaseError>> + Send;
    /// Writes `lease` only if there is none (`If-None-Match: *`).
    fn create_lease(
        &self,
        lease: &Lease,
    ) -> impl Future<Output = Result<Written, LeaseError>> + Send;
    /// Writes `lease` only over the version `etag` (`If-Match`).
    fn replace_lease(
        &self,
        lease: &Lease,
        etag: &str,
    ) -> impl Future<Output = Result<Written, LeaseError>> + Send;
    /// Deletes the lease.
    fn delete_lease(&self) -> impl Future<Output = Result<(), LeaseError>> + Send;
    /// Runs one part of `req` until `deadline` ([`crate::Snapshotter::run`]).
    fn run_part(
        &self,
        req: &SnapshotRequest,
        deadline: SystemTime,
    ) -> impl Future<Output = SnapshotReport> + Send;
    /// Invokes this function asynchronously with `next` (Lambda `Invoke`, `InvocationType=Event`).
    fn invoke_next(
        &self,
        next: &SnapshotRequest,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// Why an invocation failed; Lambda retries an asynchronous one (the lease stays, so the retry
/// is the same run).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The payload is neither a scheduled event nor a snapshot request.
    #[error("invalid snapshot payload: {0}")]
    Payload(String),
    /// The lease could not be read or written.
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// The next part could not be invoked: this part's events were handed over, the rest of the
    /// run was not (a retry of this part sends them again).
    #[error("cannot invoke the next part of {run_id}: {message}")]
    Invoke {
        /// The run.
        run_id: String,
        /// The Invoke API's error.
        message: String,
    },
    /// The run stopped for good before its end (a Genesys error without `next`).
    #[error("snapshot {run_id} stopped: {why}")]
    Stopped {
        /// The run.
        run_id: String,
        /// The report's `stopped`.
        why: String,
    },
}

/// What one invocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A part ran; `continued` when the next part was invoked.
    Ran {
        /// The part's report.
        report: Box<SnapshotReport>,
        /// True when the next part was invoked.
        continued: bool,
    },
    /// A start skipped: another run holds the lease.
    Skipped {
        /// The skipped run's id.
        run_id: String,
        /// The lease of the run still going.
        running: Lease,
    },
    /// A continuation stopped: its lease lapsed and another run took it over.
    Lost {
        /// This run's id.
        run_id: String,
        /// The lease of the run that took over.
        holder: Lease,
    },
}

impl Outcome {
    /// The invocation's answer: the part's report with `continued`, or
    /// `{"skipped":true,"run_id":…,"running":{lease}}` / `{"lost":true,…,"holder":{lease}}`.
    pub fn to_json(&self) -> Value {
        match self {
            Outcome::Ran { report, continued } => {
                let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert("continued".to_owned(), Value::Bool(*continued));
                }
                v
            }
            Outcome::Skipped { run_id, running } => {
                json!({"skipped": true, "run_id": run_id, "running": running})
            }
            Outcome::Lost { run_id, holder } => {
                json!({"lost": true, "run_id": run_id, "holder": holder})
            }
        }
    }

    /// 1 for a skipped run, else 0: the `SnapshotSkipped` count.
    pub fn skipped_count(&self) -> u64 {
        u64::from(matches!(self, Outcome::Skipped { .. }))
    }
}

/// The lease's lifetime for a function of `function_timeout`: one part plus [`lease::LEASE_SLACK`].
pub fn lease_ttl(function_timeout: Duration) -> Duration {
    function_timeout + lease::LEASE_SLACK
}

/// Handles one invocation of the snapshot function: reads the trigger, takes or renews the lease
/// (`ttl`), runs one part until `deadline`, then invokes the next part or deletes the lease.
///
/// # Errors
/// [`ScheduleError`]: the invocation fails and Lambda retries it.
pub async fn handle<I: ScheduleIo>(
    io: &I,
    payload: Value,
    deadline: SystemTime,
    ttl: Duration,
) -> Result<Outcome, ScheduleError> {
    let req = match trigger_of(payload).map_err(ScheduleError::Payload)? {
        Trigger::Start {
            req,
            run_id,
            scheduled,
        } => {
            if let Some(running) = take(io, &run_id, ttl).await? {
                warn!(run_id = %run_id, running_run_id = %running.run_id, running_since = %running.since,
                    expires = %running.expires, scheduled,
                    "snapshot run skipped: run {} is still going since {}", running.run_id, running.since);
                return Ok(Outcome::Skipped { run_id, running });
            }
            SnapshotRequest {
                run_id: Some(run_id),
                ..req
            }
        }
        Trigger::Continue(req) => {
            let run_id = req.run_id.clone().unwrap_or_default();
            if let Some(holder) = renew(io, &run_id, ttl).await? {
                warn!(run_id = %run_id, holder_run_id = %holder.run_id, holder_since = %holder.since,
                    "snapshot part stopped: the lease lapsed and run {} took over", holder.run_id);
                return Ok(Outcome::Lost { run_id, holder });
            }
            req
        }
    };
    let run_id = req.run_id.clone().unwrap_or_default();
    let report = io.run_part(&req, deadline).await;
    if let Some(next) = &report.next {
        io.invoke_next(next)
            .await
            .map_err(|message| ScheduleError::Invoke {
                run_id: run_id.clone(),
                message,
            })?;
        info!(run_id = %run_id, "snapshot part done; next part invoked");
        return Ok(Outcome::Ran {
            report: Box::new(report),
            continued: true,
        });
    }
    release(io, &run_id).await?;
    match &report.stopped {
        Some(why) if !report.dry_run => Err(ScheduleError::Stopped {
            run_id,
            why: why.clone(),
        }),
        _ => {
            info!(run_id = %run_id, "snapshot run finished; lease released");
            Ok(Outcome::Ran {
                report: Box::new(report),
                continued: false,
            })
        }
    }
}

/// Takes the lease for a start of `run_id`: `None` when taken, `Some(lease)` of the run still
/// going when the start is to be skipped.
async fn take<I: ScheduleIo>(
    io: &I,
    run_id: &str,
    ttl: Duration,
) -> Result<Option<Lease>, LeaseError> {
    let now = io.now();
    let written = match start_step(io.read_lease().await?, run_id, now) {
        StartStep::Skip(running) => return Ok(Some(running)),
        StartStep::Create => io.create_lease(&Lease::new(run_id, now, ttl)).await?,
        StartStep::Renew(s) => {
            io.replace_lease(&s.lease.renewed(now, ttl), &s.etag)
                .await?
        }
        StartStep::TakeOver(s) => {
            warn!(run_id = %run_id, crashed_run_id = %s.lease.run_id, crashed_since = %s.lease.since,
                expired = %s.lease.expires,
                "snapshot lease of run {} expired at {}: taken over", s.lease.run_id, s.lease.expires);
            io.replace_lease(&Lease::new(run_id, now, ttl), &s.etag)
                .await?
        }
    };
    match written {
        Written::Done => Ok(None),
        // Another start came first: it is the run going now.
        Written::Conflict => match io.read_lease().await? {
            Some(s) if s.lease.run_id != run_id => Ok(Some(s.lease)),
            _ => Err(LeaseError(
                "the lease changed while it was taken; try again".to_owned(),
            )),
        },
    }
}

/// Renews the lease for a continuation of `run_id`: `None` when renewed, `Some(lease)` of the
/// run that took over.
async fn renew<I: ScheduleIo>(
    io: &I,
    run_id: &str,
    ttl: Duration,
) -> Result<Option<Lease>, LeaseError> {
    let now = io.now();
    let written = match continue_step(io.read_lease().await?, run_id) {
        ContinueStep::Lost(holder) => return Ok(Some(holder)),
        ContinueStep::Renew(s) => {
            io.replace_lease(&s.lease.renewed(now, ttl), &s.etag)
                .await?
        }
        ContinueStep::Create => {
            warn!(run_id = %run_id, "snapshot lease missing for a running run: written again");
            io.create_lease(&Lease::new(run_id, now, ttl)).await?
        }
    };
    match written {
        Written::Done => Ok(None),
        Written::Conflict => match io.read_lease().await? {
            Some(s) if s.lease.run_id != run_id => Ok(Some(s.lease)),
            _ => Err(LeaseError(
                "the lease changed while it was renewed; try again".to_owned(),
            )),
        },
    }
}

/// Deletes the lease when it is still `run_id`'s.
async fn release<I: ScheduleIo>(io: &I, run_id: &str) -> Result<(), LeaseError> {
    match io.read_lease().await? {
        Some(s) if s.lease.run_id == run_id => io.delete_lease().await,
        Some(s) => {
            warn!(run_id = %run_id, holder_run_id = %s.lease.run_id,
                "snapshot run finished; the lease is run {}'s, left in place", s.lease.run_id);
            Ok(())
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
