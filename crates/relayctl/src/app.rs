//! One `relayctl` run: env file, request, confirmation, progress, output, exit code. The I/O
//! edge of the CLI; decisions live in [`crate::cli`] and [`crate::render`].

use crate::cli::{Cli, RequestSource, parse_request_json};
use crate::envfile::parse_env_file;
use crate::errors::{AwsFailure, AwsSettings, classify, one_line, wants_full_chain};
use crate::preview::{Targets, preview_text};
use crate::render::{nothing_matches_line, progress_text, report_text};
use crate::start::replayer_for;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use wfm_relay_replayer::{ReplayError, Replayer, Report, Request, RequestError};

/// Set in the re-executed process once `--env-file` is applied (its value is the file's path).
pub const ENV_FILE_LOADED: &str = "RELAYCTL_ENV_FILE_LOADED";
/// Log filter variable (`tracing` directives; default `warn`). Not `RUST_LOG`: an env file copied
/// from the Lambda sets that to `info`, which would log every POST over the progress bar.
pub const LOG_VAR: &str = "RELAYCTL_LOG";
/// The log filter when [`LOG_VAR`] is unset: warnings, except the AWS SDK's configuration
/// loader's (`aws_config`: "failed to load region from IMDS", "provider failed to provide
/// credentials", several lines each), whose failure relayctl already reports as one line with a
/// hint ([`crate::errors::one_line`]); `RELAYCTL_LOG=debug` shows them.
pub const DEFAULT_LOG_FILTER: &str = "warn,aws_config=error";

/// The process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the action finished (a dry run, or nothing failed).
    Done = 0,
    /// 1: an error (configuration, AWS, I/O).
    Error = 1,
    /// 2: a usage error, an invalid request, or a refused / declined confirmation.
    Usage = 2,
    /// 3: the action finished, but `failed > 0` (those letters are still in the DLQ).
    Failed = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// Whether the request changes the DLQ or sends to WFM, so it needs a confirmation
/// ([`wfm_relay_replayer::Plan::destructive`]).
pub fn needs_confirmation(req: &Request) -> bool {
    req.plan().destructive
}

pub(crate) fn fail(code: Exit, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("relayctl: {msg}");
    code.into()
}

/// Runs the parsed command line to its exit code.
pub fn run(cli: Cli) -> ExitCode {
    if let Some(path) = &cli.env_file
        && std::env::var_os(ENV_FILE_LOADED).is_none()
    {
        return reexec_with_env_file(path);
    }
    if let Some(crate::cli::Command::Doctor(args)) = &cli.command {
        if cli.request_file.is_some() {
            return fail(
                Exit::Usage,
                "give either doctor or --request-file, not both",
            );
        }
        return crate::doctor::run::run(args, cli.json);
    }
    if let Some(crate::cli::Command::Snapshot(args)) = &cli.command {
        if cli.request_file.is_some() {
            return fail(
                Exit::Usage,
                "give either snapshot or --request-file, not both",
            );
        }
        return crate::snapshot::run(args, cli.json, cli.yes);
    }
    if let Some(crate::cli::Command::Profile(args)) = &cli.command {
        if cli.request_file.is_some() {
            return fail(
                Exit::Usage,
                "give either profile or --request-file, not both",
            );
        }
        return match &args.command {
            crate::profile_cmd::ProfileCommand::Test(test) => {
                crate::profile_cmd::run::run(test, cli.json)
            }
            crate::profile_cmd::ProfileCommand::Sync(sync) => {
                crate::profile_cmd::sync::run(sync, cli.json)
            }
        };
    }
    let req = match load_request(&cli) {
        Ok(r) => r,
        Err(e) => return fail(Exit::Usage, e),
    };
    if needs_confirmation(&req) && !cli.yes && !io::stdin().is_terminal() {
        return fail(
            Exit::Usage,
            format!(
                "refusing to {} without confirmation: stdin is not a terminal. Check what it \
                 would do with --dry-run, then run it again with --yes.",
                req.action.as_str()
            ),
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(Exit::Error, format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run_request(&cli, &req)).into()
}

/// `--env-file`: applies the file by running this program again with the variables set.
///
/// Edition 2024 makes `std::env::set_var` unsafe and the workspace forbids unsafe code; a child
/// process gets the variables safely, and so does everything that reads the environment itself
/// (`AWS_PROFILE`, `AWS_REGION` and `AWS_ENDPOINT_URL` in the AWS SDK as well as the replayer's
/// own variables). File values override variables already set: the file was named explicitly.
fn reexec_with_env_file(path: &Path) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return fail(Exit::Usage, format!("--env-file {}: {e}", path.display())),
    };
    let vars = match parse_env_file(&text) {
        Ok(v) => v,
        Err(e) => return fail(Exit::Usage, format!("--env-file {}: {e}", path.display())),
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return fail(Exit::Error, format!("cannot find my own executable: {e}")),
    };
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .envs(vars)
        .env(ENV_FILE_LOADED, path)
        .status();
    match status {
        Ok(s) => match s.code() {
            Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
            // Killed by a signal (Ctrl-C): the shell convention 128 + SIGINT.
            None => ExitCode::from(130),
        },
        Err(e) => fail(
            Exit::Error,
            format!("cannot run relayctl with the env file: {e}"),
        ),
    }
}

fn load_request(cli: &Cli) -> Result<Request, String> {
    let req = match cli.request_source()? {
        RequestSource::Command(r) => r,
        RequestSource::File(p) => {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("--request-file {}: {e}", p.display()))?;
            parse_request_json(&text).map_err(|e| format!("--request-file {}: {e}", p.display()))?
        }
    };
    req.validate().map_err(|e| e.to_string())?;
    Ok(req)
}

/// A spinner on stderr, hidden with `--json` or when stderr is not a terminal.
pub(crate) fn progress_bar(json: bool) -> ProgressBar {
    if json || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.set_prefix("relayctl");
    bar.set_message("reading the configuration…");
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Log lines on stderr that do not tear the progress bar.
struct BarWriter(ProgressBar);

impl Write for BarWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.suspend(|| io::stderr().write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

pub(crate) fn init_logging(bar: &ProgressBar) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(LOG_VAR)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    let bar = bar.clone();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Colours only on a terminal: `RELAYCTL_LOG=debug relayctl stats 2>err.txt` stays text.
        .with_ansi(io::stderr().is_terminal())
        .with_writer(move || BarWriter(bar.clone()))
        .try_init();
}

fn targets(replayer: &Replayer) -> Targets {
    let c = replayer.config();
    Targets {
        wfm_url: c.wfm_url.expose().to_owned(),
        dlq_url: c.dlq_url.clone(),
        retry_queue_url: c.retry_queue_url.clone(),
        archive_bucket: c.archive_bucket.clone(),
        archive_prefix: c.archive_prefix.clone(),
    }
}

async fn run_action(
    replayer: &Replayer,
    req: &Request,
    bar: &ProgressBar,
) -> Result<Report, ReplayError> {
    bar.reset();
    bar.set_prefix(format!(
        "{}{}",
        req.action.as_str(),
        if req.dry_run { " --dry-run" } else { "" }
    ));
    bar.set_message("receiving…");
    let progress = |r: &Report| bar.set_message(progress_text(r));
    // No deadline from a laptop: the action runs until it is done or reaches --limit.
    replayer.run(req, None, &progress).await
}

/// The exit code of an action that could not run: 2 for an invalid request (a usage error),
/// 1 for anything else (AWS, configuration).
fn error_exit(e: &ReplayError) -> Exit {
    match e {
        ReplayError::Invalid(_) | ReplayError::NotARequest(_) => Exit::Usage,
        _ => Exit::Error,
    }
}

/// The exit code of an action that ran: 3 when letters failed (still in the DLQ), else 0.
fn report_exit(report: &Report) -> Exit {
    if report.failed > 0 {
        Exit::Failed
    } else {
        Exit::Done
    }
}

/// Prints the error (an AWS error as one line with a hint, [`crate::errors::one_line`]; its
/// full chain too with `RELAYCTL_LOG=debug`); returns its exit code.
fn replay_error(e: ReplayError, aws: &AwsSettings) -> Exit {
    let code = error_exit(&e);
    let aws_call = matches!(e, ReplayError::Queue(_) | ReplayError::Archive(_));
    print_error(&anyhow::Error::from(e), aws_call, aws);
    code
}

/// Prints `e`: as one line with a hint when it is an AWS failure (`aws_call`, or its text shows
/// one), else with its sources; the full chain as well with `RELAYCTL_LOG=debug`.
pub(crate) fn print_error(e: &anyhow::Error, aws_call: bool, aws: &AwsSettings) {
    let chain = format!("{e:#}");
    if aws_call || classify(&chain) != AwsFailure::Other {
        eprintln!("relayctl: {}", one_line(&e.to_string(), &chain, aws));
        if wants_full_chain(std::env::var(LOG_VAR).ok().as_deref()) {
            eprintln!("relayctl: full error: {chain}");
        }
    } else {
        eprintln!("relayctl: {chain}");
    }
}

/// Asks on the terminal; true only for `y` / `yes`.
pub(crate) fn confirm(bar: &ProgressBar, preview: &str) -> bool {
    bar.suspend(|| {
        eprint!("{preview}Proceed? [y/N] ");
        let _ = io::stderr().flush();
        let mut answer = String::new();
        if io::stdin().lock().read_line(&mut answer).is_err() {
            return false;
        }
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    })
}

fn print_report(report: &Report, json: bool) -> Result<(), String> {
    let text = if json {
        let mut s = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        s.push('\n');
        s
    } else {
        report_text(report)
    };
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // `relayctl peek | head`: the reader left; not an error of ours.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(|e| format!("cannot write the report: {e}")),
    }
}

async fn run_request(cli: &Cli, req: &Request) -> Exit {
    let bar = progress_bar(cli.json);
    init_logging(&bar);
    let (replayer, aws) = replayer_for(req).await;
    let replayer = match replayer {
        Ok(r) => r,
        Err(e) => {
            bar.finish_and_clear();
            print_error(&anyhow::Error::from(e), false, &aws);
            return Exit::Error;
        }
    };
    let targets = targets(&replayer);
    // Checked before the confirmation's dry run, which (writing nothing) needs no bucket.
    if req.plan().needs_bucket && targets.archive_bucket.is_none() {
        bar.finish_and_clear();
        eprintln!(
            "relayctl: {}",
            RequestError::NeedsBucket(req.command_text())
        );
        return Exit::Usage;
    }
    if needs_confirmation(req) && !cli.yes {
        let dry_req = Request {
            dry_run: true,
            ..req.clone()
        };
        let dry = match run_action(&replayer, &dry_req, &bar).await {
            Ok(r) => r,
            Err(e) => {
                bar.finish_and_clear();
                return replay_error(e, &aws);
            }
        };
        if dry.matched == 0 {
            bar.finish_and_clear();
            eprintln!("relayctl: {}", nothing_matches_line(req.action));
            return match print_report(&dry, cli.json) {
                Ok(()) => Exit::Done,
                Err(e) => {
                    eprintln!("relayctl: {e}");
                    Exit::Error
                }
            };
        }
        if !confirm(&bar, &preview_text(req, &dry, &targets)) {
            bar.finish_and_clear();
            eprintln!("relayctl: nothing done");
            return Exit::Usage;
        }
    }
    let result = run_action(&replayer, req, &bar).await;
    bar.finish_and_clear();
    let report = match result {
        Ok(r) => r,
        Err(e) => return replay_error(e, &aws),
    };
    if let Err(e) = print_report(&report, cli.json) {
        eprintln!("relayctl: {e}");
        return Exit::Error;
    }
    report_exit(&report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfm_relay_replayer::Action;

    #[test]
    fn the_default_filter_drops_the_sdk_loaders_warnings_only() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| io::Error::other("poisoned"))?
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target: "aws_config::imds::region", "failed to load region from IMDS");
            tracing::error!(target: "aws_config::meta", "an aws_config error");
            tracing::warn!(target: "wfm_relay_replayer::scan", "a replayer warning");
            tracing::info!(target: "relayctl", "an info line");
        });
        let text = String::from_utf8(buf.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with("an aws_config error"), "{text}");
        assert!(lines[1].ends_with("a replayer warning"), "{text}");
    }

    #[test]
    fn confirmation_is_for_actions_that_change_or_send() {
        for (action, dry_run, want) in [
            (Action::Stats, false, false),
            (Action::Peek, false, false),
            (Action::Replay, false, true),
            (Action::Replay, true, false),
            (Action::Redrive, false, true),
            (Action::Archive, false, true),
            (Action::Archive, true, false),
            (Action::ReplayArchive, false, true),
        ] {
            let req = Request {
                dry_run,
                ..Request::new(action)
            };
            assert_eq!(
                needs_confirmation(&req),
                want,
                "{action:?} dry_run={dry_run}"
            );
        }
    }

    #[test]
    fn outcomes_map_to_exit_codes() {
        // What the process returns: `Exit as u8` through `ExitCode::from`.
        let code = |e: Exit| e as u8;
        let failed = Report {
            delivered: 4,
            failed: 1,
            ..Report::default()
        };
        assert_eq!(code(report_exit(&failed)), 3, "done, but letters failed");
        let clean = Report {
            delivered: 5,
            ..Report::default()
        };
        assert_eq!(code(report_exit(&clean)), 0);
        let no_bucket = ReplayError::Invalid(RequestError::NeedsBucket("archive".into()));
        assert_eq!(code(error_exit(&no_bucket)), 2, "a usage error");
        let invalid = Request {
            rate_per_s: Some(-1.0),
            ..Request::new(Action::Replay)
        };
        let refused = ReplayError::from(invalid.validate().expect_err("a negative rate"));
        assert_eq!(code(error_exit(&refused)), 2);
        let encode = serde_json::from_str::<u8>("x").expect_err("not a number");
        assert_eq!(
            code(error_exit(&ReplayError::Encode(encode))),
            1,
            "our error"
        );
    }
}
