//! Shared parts of the chaos run (`wfm-relay-chaos`) and the benchmark suite (`wfm-relay-bench`):
//! generated events, the queues and bucket in moto, the environment of the Lambda processes, a
//! Runtime API listener that only records the first poll, and small measurement helpers.
//!
//! Both binaries run against moto server (`AWS_ENDPOINT_URL`, started by `infra/chaos.sh` and
//! `infra/bench.sh`) and the stand-ins of `wfm-relay-local`.

pub mod events;
pub mod first_poll;
pub mod measure;
pub mod stack;
