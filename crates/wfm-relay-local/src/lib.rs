//! Local stand-ins for the demo and the integration tests; everything binds `127.0.0.1:0`.
//!
//! - [`wfm_server`]: a scripted WFM HTTP/1.1 server (keep-alive, delays, resets, hangs, stale
//!   keep-alive connections) that records every request.
//! - [`wfm_auth`]: bearer token validation (RFC 7662 introspection) for the scripted WFM.
//! - [`runtime_api`]: a local AWS Lambda Runtime API (2018-06-01) that runs a real Lambda binary
//!   with real deadlines.
//! - [`esm`]: a stand-in for Lambda's SQS event source mapping with partial batch responses.
//! - [`fault_proxy`]: a proxy in front of moto that fails or rewrites AWS calls by `X-Amz-Target`.
//! - [`stack`]: the retry queue, DLQ and archive bucket of one run in moto, and queue reads.
//! - [`genesys`]: generated Genesys Cloud presence / routing status events.

pub mod esm;
pub mod fault_proxy;
pub mod genesys;
mod http_server;
pub mod runtime_api;
pub mod stack;
pub mod wfm_auth;
pub mod wfm_server;

pub use esm::{BatchReport, EsmError, SqsEventSourceMapping};
pub use fault_proxy::{Fault, FaultProxy};
pub use genesys::UserEvent;
pub use runtime_api::{FunctionProcess, InvokeError, InvokeFailure, InvokeOutcome, RuntimeApi};
pub use stack::{LocalStack, StackError, StackOptions};
pub use wfm_server::{Recorded, Reply, ReplyKind, Script, ScriptedWfm};
