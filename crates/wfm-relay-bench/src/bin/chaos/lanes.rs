//! The Lambda processes of the run: each forwarder process behind its own local Runtime API (a
//! "lane"), started, checked at start-up, and checked again at the end (exited? panicked? peak
//! RSS).

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wfm_relay_bench::measure::peak_rss_kib;
use wfm_relay_local::{FunctionProcess, RuntimeApi};

/// One Lambda process behind its own Runtime API.
pub struct Lane {
    /// `forwarder-<k>` or `consumer-<k>`.
    pub name: String,
    /// The Runtime API the process polls.
    pub api: RuntimeApi,
    /// The process.
    pub process: FunctionProcess,
    /// Its stdout and stderr (JSON logs).
    pub log: PathBuf,
}

/// The forwarder processes of the run.
pub struct Lanes {
    /// Serving the EventBridge invocations.
    pub forwarders: Vec<Lane>,
    /// Serving the retry queue's event source mapping.
    pub consumers: Vec<Lane>,
}

impl Lanes {
    /// Starts `forwarders` + `consumers` processes of `bin` with `env`, logging into `log_dir`,
    /// and fails when one of them exits within its first 300 ms (with its init error).
    ///
    /// # Errors
    /// When a Runtime API or a process cannot be started, or a process exits at start-up.
    pub async fn start(
        bin: &Path,
        env: &[(String, String)],
        log_dir: &Path,
        forwarders: usize,
        consumers: usize,
    ) -> anyhow::Result<Lanes> {
        let mut lanes = Lanes {
            forwarders: Vec::new(),
            consumers: Vec::new(),
        };
        for k in 1..=forwarders {
            let lane = spawn_lane(bin, &format!("forwarder-{k}"), env, log_dir).await?;
            lanes.forwarders.push(lane);
        }
        for k in 1..=consumers {
            let lane = spawn_lane(bin, &format!("consumer-{k}"), env, log_dir).await?;
            lanes.consumers.push(lane);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        for lane in lanes.all_mut() {
            if let Some(status) = lane.process.try_wait()? {
                bail!(
                    "{} exited at start-up ({status}); init error: {}; see {}",
                    lane.name,
                    lane.api
                        .init_error()
                        .unwrap_or_else(|| "none posted".into()),
                    lane.log.display()
                );
            }
        }
        Ok(lanes)
    }

    /// Every lane, forwarders first.
    pub fn all(&self) -> impl Iterator<Item = &Lane> {
        self.forwarders.iter().chain(&self.consumers)
    }

    fn all_mut(&mut self) -> impl Iterator<Item = &mut Lane> {
        self.forwarders.iter_mut().chain(&mut self.consumers)
    }

    /// Processes that exited, and panics found in the logs (`"panicked"`), one line each.
    ///
    /// # Errors
    /// When a process's status cannot be queried.
    pub fn problems(&mut self) -> anyhow::Result<Vec<String>> {
        let mut problems = Vec::new();
        for lane in self.all_mut() {
            if let Some(status) = lane.process.try_wait()? {
                problems.push(format!("{} exited ({status})", lane.name));
            }
            let log = std::fs::read_to_string(&lane.log).unwrap_or_default();
            let panics = log.matches("panicked").count();
            if panics > 0 {
                problems.push(format!(
                    "{}: {panics} panics in {}",
                    lane.name,
                    lane.log.display()
                ));
            }
        }
        Ok(problems)
    }

    /// `<name> <MiB> MiB` per process whose peak RSS could be read.
    pub fn peak_rss(&self) -> Vec<String> {
        self.all()
            .filter_map(|l| {
                let kib = peak_rss_kib(l.process.id()?)?;
                Some(format!("{} {:.1} MiB", l.name, kib as f64 / 1024.0))
            })
            .collect()
    }

    /// Kills every process.
    pub async fn kill(&mut self) {
        for lane in self.all_mut() {
            let _ = lane.process.kill().await;
        }
    }
}

async fn spawn_lane(
    bin: &Path,
    name: &str,
    env: &[(String, String)],
    log_dir: &Path,
) -> anyhow::Result<Lane> {
    let api = RuntimeApi::start()
        .await
        .context("cannot start a local Lambda Runtime API")?;
    let log = log_dir.join(format!("{name}.log"));
    let _ = std::fs::remove_file(&log);
    let process = api
        .spawn_function(bin, "wfm-relay-forwarder", env, Some(&log))
        .with_context(|| format!("cannot start {}", bin.display()))?;
    Ok(Lane {
        name: name.to_owned(),
        api,
        process,
        log,
    })
}
