//! Small helpers shared by the stand-ins and by the harness binaries (the demo, the chaos run and
//! the benchmarks): a poison-tolerant [`lock`], a progress [`Clock`], the one string-typed
//! invocation helper [`invoke_raw`] the event source mapping stand-in takes, [`moto_endpoint`]
//! and [`sibling_binary`] to find moto and the Lambda binaries built next to a harness.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::runtime_api::{InvocationType, RuntimeApi};

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the state of a test
/// double or a harness counter stays usable, and no `unwrap` is needed at the call sites.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds since a start instant, for the progress lines of the harness binaries.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    /// A clock started now.
    pub fn start() -> Clock {
        Clock(Instant::now())
    }

    /// Time since the start.
    pub fn elapsed(self) -> Duration {
        self.0.elapsed()
    }

    /// `[  12.3s]`: the seconds since the start, one decimal, right-aligned in 6 characters.
    pub fn stamp(self) -> String {
        format!("[{:>6.1}s]", self.elapsed().as_secs_f64())
    }
}

/// One invocation of type `kind` through the Runtime API, as the event source mapping stand-in
/// ([`crate::SqsEventSourceMapping::poll_once`], synchronous) and the harnesses (EventBridge
/// events: `Event`) take it: the bytes the function posted as its response, or the failure as
/// text (`<errorType>: <errorMessage>` for a function error, Lambda's
/// `RequestEntityTooLargeException: …` for an `Event` payload over 1 MiB, else why no outcome
/// came; see [`RuntimeApi::invoke_response`]).
///
/// # Errors
/// The text of the [`crate::InvokeFailure`].
pub async fn invoke_raw(
    api: &RuntimeApi,
    kind: InvocationType,
    payload: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    api.invoke_response(kind, payload, timeout)
        .await
        .map_err(|e| e.to_string())
}

/// The moto server the harness binaries run against: `AWS_ENDPOINT_URL`.
///
/// # Errors
/// When the variable is unset or empty; the message says that `needs` ("the demo needs") moto
/// server and to run `script` (e.g. `infra/demo.sh`), which starts it.
pub fn moto_endpoint(needs: &str, script: &str) -> anyhow::Result<String> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => anyhow::bail!(
            "AWS_ENDPOINT_URL is not set: {needs} moto server. Run {script}, which starts moto \
             on a free port, sets the variable and builds the binaries."
        ),
    }
}

/// The executable `name` in the directory of the running executable (where `cargo build --bins`
/// puts every binary of the workspace).
///
/// # Errors
/// When the running executable cannot be found, or `name` is not there (the message says to run
/// `cargo build --bins`; `script` names the wrapper that builds it, e.g. `infra/demo.sh`).
pub fn sibling_binary(name: &str, script: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find this executable: {e}"))?
        .with_file_name(name);
    if !path.exists() {
        anyhow::bail!(
            "{} is missing: build it with `cargo build --bins` ({script} does)",
            path.display()
        );
    }
    Ok(path)
}

/// The HTTP client of the stand-ins' own tests: no proxy (everything is on loopback), 10 s
/// timeout.
#[cfg(test)]
pub(crate) fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_recovers_a_poisoned_mutex() {
        let m = std::sync::Arc::new(Mutex::new(41));
        let poisoner = std::sync::Arc::clone(&m);
        let joined = std::thread::spawn(move || {
            let _guard = poisoner.lock();
            panic!("poison the mutex");
        })
        .join();
        assert!(joined.is_err());
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 42);
    }

    #[test]
    fn stamp_is_seconds_with_one_decimal() {
        let start = Instant::now()
            .checked_sub(Duration::from_millis(12_340))
            .expect("the machine is up for more than 13 s");
        let clock = Clock(start);
        let stamp = clock.stamp();
        assert!(stamp == "[  12.3s]" || stamp == "[  12.4s]", "{stamp}");
    }

    #[test]
    fn a_missing_sibling_names_the_build_command() {
        let err = sibling_binary("no-such-binary-here", "infra/demo.sh")
            .expect_err("missing")
            .to_string();
        assert!(err.contains("no-such-binary-here"), "{err}");
        assert!(
            err.contains("`cargo build --bins` (infra/demo.sh does)"),
            "{err}"
        );
    }
}
