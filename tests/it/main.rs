//! Integration tests: the real adapters against moto server (`AWS_ENDPOINT_URL`, started by
//! `infra/test.sh`), a scripted WFM server on loopback, and the forwarder binary behind a local
//! Lambda Runtime API; `oauth` also needs the OAuth test server (`infra/oauth.sh`).

mod auth_delivery;
mod aws_rules;
mod breaker;
mod c22_signatures;
mod c23_one_mib;
mod c24_continuation;
mod c25_gzip_members;
mod c26_excerpts;
mod c27_no_secret;
mod corpus;
mod demo_script;
mod deploy_relayctl;
mod doctor;
mod doctor_fn;
mod doctor_reads;
mod doctor_stack;
mod eventbridge_cases;
mod faults;
mod genesys_api;
mod guards;
mod lambda_process;
mod log_scan;
mod oauth;
mod profile;
mod profile_relayctl;
mod profile_sync;
mod relayctl_snapshot;
mod replayer;
mod replayer_honest;
mod secrets;
mod signing;
mod snapshot;
mod snapshot_division;
mod snapshot_profile;
mod snapshot_schedule;
mod sqs_cases;
mod strict_sqs;
mod support;
mod template;
mod tls_roots;
