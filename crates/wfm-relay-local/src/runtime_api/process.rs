//! Starting a Lambda binary as a function process of a [`RuntimeApi`], with the environment the
//! Lambda runtime library reads at start-up.

use std::path::Path;
use std::process::Stdio;

use super::RuntimeApi;
use crate::harness::lock;

/// The variables Lambda sets for a function process and the runtime library reads at start-up
/// (AWS Lambda Developer Guide, "Defined runtime environment variables"):
/// `AWS_LAMBDA_RUNTIME_API` = `api_address`, `AWS_LAMBDA_FUNCTION_NAME` = `name`,
/// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128`, `AWS_LAMBDA_FUNCTION_VERSION=$LATEST`,
/// `AWS_LAMBDA_LOG_STREAM_NAME=local/[$LATEST]<32 hex>`,
/// `AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/<name>` and `AWS_LAMBDA_INITIALIZATION_TYPE=on-demand`.
pub fn lambda_env(name: &str, api_address: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api_address.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("local/[$LATEST]{}", uuid::Uuid::new_v4().simple()),
        ),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

impl RuntimeApi {
    /// Spawns the Lambda binary `program` (killed when the returned handle is dropped) with the
    /// environment of this process plus `AWS_LAMBDA_RUNTIME_API` = [`RuntimeApi::address`],
    /// `AWS_LAMBDA_FUNCTION_NAME` = `name`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128`,
    /// `AWS_LAMBDA_FUNCTION_VERSION=$LATEST`, `AWS_LAMBDA_LOG_STREAM_NAME`,
    /// `AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/<name>`, `AWS_LAMBDA_INITIALIZATION_TYPE=on-demand`,
    /// then `envs` (which may override any of them). Its stdout and stderr are appended to
    /// `log_path` when given, else inherited. `name` is also used in the invoked function ARN
    /// (`arn:aws:lambda:us-east-1:123456789012:function:<name>`).
    ///
    /// # Errors
    /// When the log file cannot be opened or the program cannot be started.
    pub fn spawn_function(
        &self,
        program: &Path,
        name: &str,
        envs: &[(String, String)],
        log_path: Option<&Path>,
    ) -> std::io::Result<FunctionProcess> {
        *lock(&self.shared.function_name) = name.to_owned();
        let mut cmd = tokio::process::Command::new(program);
        cmd.envs(lambda_env(name, &self.address()))
            .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(path) = log_path {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            cmd.stdout(Stdio::from(file.try_clone()?))
                .stderr(Stdio::from(file));
        }
        let child = cmd.spawn()?;
        Ok(FunctionProcess { child })
    }
}

/// A spawned Lambda function process; dropping it kills the process.
#[derive(Debug)]
pub struct FunctionProcess {
    child: tokio::process::Child,
}

impl FunctionProcess {
    /// Kills the process (SIGKILL) and waits for it to exit.
    ///
    /// # Errors
    /// When the signal cannot be sent or waiting fails.
    pub async fn kill(&mut self) -> std::io::Result<()> {
        self.child.kill().await
    }

    /// The OS process id, `None` once the process was reaped.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The exit status if the process has exited, without waiting.
    ///
    /// # Errors
    /// When the status cannot be queried.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_environment_names_the_api_and_the_function() {
        let env = lambda_env("wfm-relay-forwarder", "127.0.0.1:9001");
        let get = |k: &str| {
            env.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9001"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), Some("wfm-relay-forwarder"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("128"));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_VERSION"), Some("$LATEST"));
        assert_eq!(
            get("AWS_LAMBDA_LOG_GROUP_NAME"),
            Some("/aws/lambda/wfm-relay-forwarder")
        );
        assert_eq!(get("AWS_LAMBDA_INITIALIZATION_TYPE"), Some("on-demand"));
        let stream = get("AWS_LAMBDA_LOG_STREAM_NAME").expect("log stream");
        assert_eq!(stream.len(), "local/[$LATEST]".len() + 32, "{stream}");
        assert_eq!(env.len(), 7);
    }
}
