//! Shared parts of the chaos run (`wfm-relay-chaos`) and the benchmark suite (`wfm-relay-bench`):
//! generated events with ids that map back to their index, the chaos run's hostile mix, a
//! Runtime API listener that only records the first poll, the replayer library built from a
//! Lambda environment, and small measurement helpers. The queues and bucket in moto and the
//! event shapes come from `wfm-relay-local` (`stack`, `genesys`), shared with the demo.
//!
//! Both binaries run against moto server (`AWS_ENDPOINT_URL`, started by `infra/chaos.sh` and
//! `infra/bench.sh`) and the stand-ins of `wfm-relay-local`.

pub mod events;
pub mod first_poll;
pub mod hostile;
pub mod measure;
pub mod replayer;
