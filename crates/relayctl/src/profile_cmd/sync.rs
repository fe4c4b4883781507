//! `relayctl profile sync` (issue 13 items 1/4): every active user's `username`,
//! `employerInfo.employeeId` and `email` read from the Genesys Cloud API through the snapshot's
//! client (`GENESYS_*` settings; the same pacing, 429, 401 and 5xx rules), written as the
//! user-field table a `user_field` profile reads — to `WFM_PROFILE_USER_FIELDS`
//! (`s3://bucket/key`, one PutObject, so readers see the old table or the new one, never half)
//! or to `--out FILE` (a temporary file beside it, renamed over it). `--dry-run` prints the
//! first rows and writes nothing. The forwarder never calls Genesys: it reads the table.

use super::sync_table::{Destination, SyncSummary, destination, preview, table_csv};
use crate::app::Exit;
use clap::Args;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use wfm_relay_aws::genesys::{GenesysClient, GenesysSettings};

/// Rows `--dry-run` prints.
pub const PREVIEW_ROWS: usize = 10;

/// Longest a sync may take reading Genesys: 30 minutes (20,000 users are 40 calls, seconds).
const READ_BUDGET: Duration = Duration::from_secs(30 * 60);

/// `relayctl profile sync`.
#[derive(Debug, Clone, Default, Args)]
pub struct ProfileSyncArgs {
    /// Write the table to this local file instead of WFM_PROFILE_USER_FIELDS.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Read Genesys and print the first rows; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// A failure with its exit code.
struct Failure(Exit, String);

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

/// Runs `relayctl profile sync` to its exit code: 0 written (or a dry run), 1 error (a setting,
/// Genesys, AWS, the file, or no active user at all), 2 usage (nowhere to write).
pub fn run(args: &ProfileSyncArgs, json: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(Exit::Error, &format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(sync(args)) {
        Ok((summary, shown)) => {
            let text = if json {
                format!("{:#}\n", summary.json())
            } else {
                format!("{shown}{}", summary.text())
            };
            let mut out = io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    fail(Exit::Error, &format!("cannot write: {e}"))
                }
                _ => Exit::Done.into(),
            }
        }
        Err(Failure(code, msg)) => fail(code, &msg),
    }
}

fn fail(code: Exit, msg: &str) -> ExitCode {
    eprintln!("relayctl: {msg}");
    code.into()
}

/// Reads Genesys, writes the table (unless `--dry-run`); the summary and, for a dry run, the
/// preview.
async fn sync(args: &ProfileSyncArgs) -> Result<(SyncSummary, String), Failure> {
    let error = |m: String| Failure(Exit::Error, m);
    let to = destination(
        args.out.as_deref(),
        env("WFM_PROFILE_USER_FIELDS").as_deref(),
    )
    .map_err(|(code, m)| Failure(code, m))?;
    let settings = GenesysSettings::from_lookup(env).map_err(|e| error(e.to_string()))?;
    let conf = wfm_relay_aws::aws::load_sdk_config().await;
    let fetcher = wfm_relay_aws::secrets::AwsSecretFetcher::new(&conf);
    let client = GenesysClient::connect(&settings, Some(&fetcher))
        .await
        .map_err(|e| error(format!("Genesys client: {e}")))?;
    let read = client.user_fields(Instant::now() + READ_BUDGET).await;
    let stats = client.stats();
    let dir = read.map_err(|e| {
        error(format!(
            "reading the Genesys users failed after {} calls; nothing written: {e}",
            stats.calls
        ))
    })?;
    for p in &dir.problems {
        eprintln!("relayctl: skipped: {p}");
    }
    if dir.users.is_empty() {
        return Err(error(
            "Genesys listed no active user; nothing written (an empty table would leave every \
             agent unmapped)"
                .into(),
        ));
    }
    let mut summary = SyncSummary::of(&dir.users, dir.problems.len(), to.to_string(), args.dry_run);
    summary.genesys_calls = stats.calls;
    summary.genesys_429 = stats.rate_limited;
    if args.dry_run {
        return Ok((summary, preview(&dir.users, PREVIEW_ROWS)));
    }
    let bytes = table_csv(&dir.users);
    match &to {
        Destination::S3 { bucket, key } => {
            let s3 = wfm_relay_aws::aws::AwsClients::from_sdk_config(&conf).s3;
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .content_type("text/csv; charset=utf-8")
                .body(bytes.into())
                .send()
                .await
                .map_err(|e| {
                    error(format!(
                        "WFM_PROFILE_USER_FIELDS: cannot write {to}: {}",
                        // The smithy error display (the same type every SDK crate re-exports).
                        aws_sdk_iam::error::DisplayErrorContext(&e)
                    ))
                })?;
        }
        Destination::File(path) => write_file(path, &bytes).map_err(error)?,
    }
    Ok((summary, String::new()))
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("--out {}: not a file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("--out {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_command_line_parses() {
        let cli = crate::cli::Cli::try_parse_from([
            "relayctl",
            "profile",
            "sync",
            "--out",
            "u.csv",
            "--dry-run",
            "--json",
        ])
        .expect("parses");
        let Some(crate::cli::Command::Profile(p)) = &cli.command else {
            panic!("{cli:?}");
        };
        let super::super::ProfileCommand::Sync(a) = &p.command else {
            panic!("{p:?}");
        };
        assert_eq!(a.out.as_deref(), Some(Path::new("u.csv")));
        assert!(a.dry_run && cli.json);
        assert!(
            crate::cli::Cli::try_parse_from(["relayctl", "profile", "sync", "--user-id", "u"])
                .is_err()
        );
    }

    #[test]
    fn a_file_is_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("relayctl-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("users.csv");
        std::fs::write(&path, "old").expect("old");
        write_file(&path, b"user_id,username\nu1,a\n").expect("written");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "user_id,username\nu1,a\n"
        );
        let left: Vec<_> = std::fs::read_dir(&dir).expect("ls").collect();
        assert_eq!(left.len(), 1, "no temporary file left");
        let e = write_file(&dir.join("missing/users.csv"), b"x").expect_err("no dir");
        assert!(e.starts_with("--out "), "{e}");
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
