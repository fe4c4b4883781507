//! Local stand-ins for the demo and the integration tests; everything binds `127.0.0.1:0`.
//!
//! - [`wfm_server`]: a scripted WFM HTTP/1.1 server (keep-alive, delays, resets, hangs, stale
//!   keep-alive connections) that records every request.
//! - [`wfm_auth`]: bearer token validation (RFC 7662 introspection) for the scripted WFM.
//! - [`runtime_api`]: a local AWS Lambda Runtime API (2018-06-01) that runs a real Lambda binary
//!   with real deadlines.
//! - [`esm`]: a stand-in for Lambda's SQS event source mapping with partial batch responses.
//! - [`aws_rules`]: the AWS-rules layer in front of moto (what AWS refuses and moto accepts).
//! - [`fault_proxy`]: a proxy in front of moto that fails or rewrites AWS calls by `X-Amz-Target`.
//! - [`stack`]: the retry queue, DLQ and archive bucket of one run in moto, and queue reads.
//! - [`template_wiring`]: the archive bucket's encryption and public-access blocks as
//!   template.yaml sets them (the demo's kept stack, doctor's tests).
//! - [`genesys`]: generated Genesys Cloud presence / routing status events.
//! - [`genesys_api`]: a Genesys Cloud Platform API stand-in (OAuth, users, presence, routing
//!   status, membership, rate limit) for snapshots.
//! - [`http_server`]: the HTTP/1.1 accept loop under every stand-in (numbered connections and
//!   requests, a stopper), for other loopback servers of the harnesses.
//! - [`lambda_invoke`]: a Lambda Invoke API stand-in (`Event` → a new invocation on a
//!   [`runtime_api::RuntimeApi`]) for functions that invoke themselves.
//! - [`harness`]: helpers shared by the stand-ins and the harness binaries (`lock`, `Clock`,
//!   `invoke_raw`, `moto_endpoint`, `sibling_binary`).

pub mod aws_rules;
pub mod esm;
pub mod fault_proxy;
pub mod genesys;
pub mod genesys_api;
pub mod harness;
pub mod http_server;
pub mod lambda_invoke;
pub mod runtime_api;
pub mod stack;
pub mod template_wiring;
pub mod wfm_auth;
pub mod wfm_server;

pub use esm::{BatchReport, EsmError, SqsEventSourceMapping};
pub use fault_proxy::{Fault, FaultProxy};
pub use genesys::UserEvent;
pub use runtime_api::{
    FunctionProcess, InvocationType, InvokeError, InvokeFailure, InvokeOutcome, RuntimeApi,
};
pub use stack::{LocalStack, StackError, StackOptions};
pub use wfm_server::{Recorded, Reply, ReplyKind, Script, ScriptedWfm};
