//! [`ScheduleIo`] on AWS: the lease object in the archive bucket (S3 conditional writes:
//! `PutObject` with `If-None-Match: *` / `If-Match`, S3 User Guide "Conditional writes"), the
//! [`Snapshotter`] for the parts, and Lambda `Invoke` with `InvocationType=Event` for the next
//! part (the function's own name, `AWS_LAMBDA_FUNCTION_NAME`).

use super::lease::{LEASE_KEY, Lease, Stored};
use super::{LeaseError, Outcome, SNAPSHOT_SKIPPED, ScheduleError, ScheduleIo, Written};
use crate::snapshot::{SnapshotStartError, Snapshotter};
use crate::snapshot_request::{SnapshotReport, SnapshotRequest};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;
use std::time::{Duration, SystemTime};
use wfm_relay_aws::telemetry::emit_metrics;
use wfm_relay_core::config::{ConfigError, ForwarderConfig};
use wfm_relay_core::deadline::effective_deadline;
use wfm_relay_core::metrics::Metrics;

/// The snapshot function's clients and settings.
pub struct AwsSchedule {
    snapshotter: Snapshotter,
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
    bucket: String,
    function: String,
    function_timeout: Duration,
    namespace: String,
}

impl std::fmt::Debug for AwsSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSchedule")
            .field("bucket", &self.bucket)
            .field("function", &self.function)
            .finish_non_exhaustive()
    }
}

/// A status of a failed S3 / Lambda call, if it got an HTTP answer.
fn status<E, R: HttpStatus>(e: &aws_sdk_s3::error::SdkError<E, R>) -> Option<u16> {
    e.raw_response().map(HttpStatus::status)
}

/// The HTTP status of an SDK raw response.
trait HttpStatus {
    fn status(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
}

impl AwsSchedule {
    /// Reads the environment: the snapshot runner's (the forwarder's variables, `GENESYS_*`,
    /// `SNAPSHOT_RATE_PER_S`), `ARCHIVE_BUCKET` (the lease's bucket, required) and
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda: the function invokes itself).
    ///
    /// # Errors
    /// [`SnapshotStartError`] naming the variable at fault.
    pub async fn from_env() -> Result<Self, SnapshotStartError> {
        let cfg = ForwarderConfig::from_lookup(|k| std::env::var(k).ok())?;
        let bucket = cfg.archive_bucket.clone().ok_or_else(|| ConfigError {
            variable: "ARCHIVE_BUCKET",
            message: "required by the snapshot function (it holds the run's lease)".to_owned(),
        })?;
        let function = cfg.function_name.clone().ok_or_else(|| ConfigError {
            variable: "AWS_LAMBDA_FUNCTION_NAME",
            message: "not set: the snapshot function runs only inside Lambda".to_owned(),
        })?;
        let snapshotter = Snapshotter::from_env().await?;
        let conf = wfm_relay_aws::aws::load_sdk_config().await;
        Ok(AwsSchedule {
            snapshotter,
            s3: wfm_relay_aws::aws::AwsClients::from_sdk_config(&conf).s3,
            lambda: aws_sdk_lambda::Client::new(&conf),
            bucket,
            function,
            function_timeout: cfg.function_timeout,
            namespace: cfg.metrics_namespace,
        })
    }

    /// One Lambda invocation: [`super::handle`] against the invocation's deadline, then the EMF
    /// line with `SnapshotSkipped` (1 for a skipped run, else 0) and the run id as `RunId`.
    ///
    /// # Errors
    /// The [`ScheduleError`] as text; Lambda retries the asynchronous invocation.
    pub async fn invoke(
        &self,
        payload: Value,
        runtime_deadline: SystemTime,
    ) -> Result<Value, String> {
        let deadline =
            effective_deadline(runtime_deadline, SystemTime::now(), self.function_timeout);
        let ttl = super::lease_ttl(self.function_timeout);
        let out = super::handle(self, payload, deadline, ttl).await;
        let mut m = Metrics::new(self.namespace.clone(), self.function.clone());
        m.add(
            SNAPSHOT_SKIPPED,
            out.as_ref().map_or(0, Outcome::skipped_count),
        );
        if let Ok(o) = &out {
            let run = match o {
                Outcome::Ran { report, .. } => &report.run_id,
                Outcome::Skipped { run_id, .. } | Outcome::Lost { run_id, .. } => run_id,
            };
            m.property("RunId", run.clone());
        }
        emit_metrics(&m);
        out.map(|o| o.to_json()).map_err(|e: ScheduleError| {
            tracing::error!(error = %e, "snapshot invocation failed");
            e.to_string()
        })
    }

    fn where_(&self) -> String {
        format!("s3://{}/{LEASE_KEY}", self.bucket)
    }

    fn written<E: std::error::Error + 'static>(
        &self,
        call: &str,
        r: Result<(), aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
    ) -> Result<Written, LeaseError> {
        match r {
            Ok(()) => Ok(Written::Done),
            // 412 Precondition Failed; 409 ConditionalRequestConflict (a concurrent write).
            Err(e) if matches!(status(&e), Some(412 | 409)) => Ok(Written::Conflict),
            Err(e) => Err(LeaseError(format!(
                "{call} {}: {}",
                self.where_(),
                DisplayErrorContext(&e)
            ))),
        }
    }

    fn body(lease: &Lease) -> Result<ByteStream, LeaseError> {
        serde_json::to_vec(lease)
            .map(ByteStream::from)
            .map_err(|e| LeaseError(format!("cannot write the lease as JSON: {e}")))
    }
}

impl ScheduleIo for AwsSchedule {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    async fn read_lease(&self) -> Result<Option<Stored>, LeaseError> {
        let got = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(LEASE_KEY)
            .send()
            .await;
        let out = match got {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => {
                return Err(LeaseError(format!(
                    "GetObject {}: {}",
                    self.where_(),
                    DisplayErrorContext(&e)
                )));
            }
        };
        let etag = out
            .e_tag()
            .map(str::to_owned)
            .ok_or_else(|| LeaseError(format!("GetObject {}: no ETag", self.where_())))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| LeaseError(format!("GetObject {}: body: {e}", self.where_())))?
            .into_bytes();
        let lease = serde_json::from_slice(&bytes)
            .map_err(|e| LeaseError(format!("{} is not a lease: {e}", self.where_())))?;
        Ok(Some(Stored { lease, etag }))
    }

    async fn create_lease(&self, lease: &Lease) -> Result<Written, LeaseError> {
        let r = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(LEASE_KEY)
            .content_type("application/json")
            .if_none_match("*")
            .body(Self::body(lease)?)
            .send()
            .await
            .map(|_| ());
        self.written("PutObject (If-None-Match)", r)
    }

    async fn replace_lease(&self, lease: &Lease, etag: &str) -> Result<Written, LeaseError> {
        let r = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(LEASE_KEY)
            .content_type("application/json")
            .if_match(etag)
            .body(Self::body(lease)?)
            .send()
            .await
            .map(|_| ());
        self.written("PutObject (If-Match)", r)
    }

    async fn delete_lease(&self) -> Result<(), LeaseError> {
        self.s3
            .delete_object()
            .bucket(&self.bucket)
            .key(LEASE_KEY)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                LeaseError(format!(
                    "DeleteObject {}: {}",
                    self.where_(),
                    DisplayErrorContext(&e)
                ))
            })
    }

    async fn run_part(&self, req: &SnapshotRequest, deadline: SystemTime) -> SnapshotReport {
        self.snapshotter.run(req, Some(deadline), &|_| {}).await
    }

    async fn invoke_next(&self, next: &SnapshotRequest) -> Result<(), String> {
        let payload = serde_json::to_vec(next).map_err(|e| format!("cannot write next: {e}"))?;
        let out = self
            .lambda
            .invoke()
            .function_name(&self.function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "Invoke {}: {}",
                    self.function,
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                )
            })?;
        match out.status_code() {
            202 => Ok(()),
            s => Err(format!(
                "Invoke {}: status {s}, not 202 Accepted",
                self.function
            )),
        }
    }
}
