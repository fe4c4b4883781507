//! The one runner of the relayctl binary for the tests (`target/<profile>/relayctl`, built by
//! `infra/test.sh`'s `cargo build --bins`): stdin not a terminal, its exit code, stdout and
//! stderr kept. Either with only the variables given (and PATH: [`Relayctl::only`]) or with the
//! test process's environment plus them ([`Relayctl::inheriting`]); run on this thread
//! ([`Relayctl::run`]) or off the runtime's threads when a stand-in runs on them
//! ([`Relayctl::run_off_runtime`]). [`aws_vars`] are the AWS settings the runs give it (the
//! Genesys stand-in's: [`super::genesys::genesys_vars`]).

use crate::lambda_process::forwarder_binary;
use serde_json::Value;
use std::ffi::OsStr;
use std::process::{Command, Stdio};

/// What one relayctl run left: exit code (`None` when killed by a signal), stdout, stderr.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: Option<i32>,
    /// stdout, as text.
    pub stdout: String,
    /// stderr, as text.
    pub stderr: String,
}

impl Run {
    /// stdout as the `--json` report (panics, with both outputs, when it is not JSON).
    pub fn report(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("--json report: {e}\n{}\n{}", self.stdout, self.stderr))
    }
}

/// One relayctl command line, ready to run.
pub struct Relayctl {
    cmd: Command,
}

impl Relayctl {
    /// relayctl `args` with nothing but `vars` and PATH in its environment.
    pub fn only<K, V>(args: &[&str], vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let mut cmd = Command::new(forwarder_binary().with_file_name("relayctl"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        Relayctl::with(cmd, args, vars)
    }

    /// relayctl `args` with nothing but moto's AWS settings ([`aws_vars`] of
    /// [`super::endpoint`]), `vars` and PATH in its environment.
    pub fn against_moto(args: &[&str], vars: &[(&str, String)]) -> Self {
        let mut all: Vec<(&str, String)> = aws_vars(&super::endpoint());
        all.extend(vars.iter().cloned());
        Relayctl::only(args, all)
    }

    /// relayctl `args` with this process's environment plus `vars`.
    pub fn inheriting<K, V>(args: &[&str], vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let cmd = Command::new(forwarder_binary().with_file_name("relayctl"));
        Relayctl::with(cmd, args, vars)
    }

    fn with<K, V>(mut cmd: Command, args: &[&str], vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        cmd.args(args).envs(vars).stdin(Stdio::null());
        Relayctl { cmd }
    }

    /// Runs it on this thread and waits.
    pub fn run(mut self) -> Run {
        let out = self
            .cmd
            .output()
            .unwrap_or_else(|e| panic!("{:?} runs: {e}", self.cmd.get_program()));
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs it on a blocking thread (the stand-ins on the runtime's threads keep answering).
    pub async fn run_off_runtime(self) -> Run {
        tokio::task::spawn_blocking(move || self.run())
            .await
            .expect("joined")
    }
}

/// moto's AWS settings as `infra/test.sh` sets them, with `endpoint` as `AWS_ENDPOINT_URL`, no
/// SDK retries (`AWS_MAX_ATTEMPTS=1`) and no instance-metadata lookups.
pub fn aws_vars(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_MAX_ATTEMPTS", "1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}
