//! `wfm-relay-aws-rules`: the AWS-rules layer ([`wfm_relay_local::aws_rules`]) as a process in
//! front of moto server, for `infra/moto.sh`. It listens on a free `127.0.0.1` port, writes its
//! URL (`http://127.0.0.1:<port>`) to `--url-file` once it accepts connections, and runs until
//! SIGTERM or Ctrl-C. `AWS_RULES_S3_PAGE_SIZE` sets the ListObjectsV2 page size (default 1000).
//! Every refusal is logged to stderr (one line each: the code and AWS's message).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use wfm_relay_local::aws_rules::{AwsRules, AwsRulesOptions};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "wfm-relay-aws-rules",
    about = "AWS rules in front of moto server"
)]
struct Args {
    /// moto server's URL, e.g. http://127.0.0.1:5000.
    #[arg(long)]
    upstream: String,
    /// File to write the layer's URL to once it listens.
    #[arg(long)]
    url_file: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .init();
    let opts = match AwsRulesOptions::from_env() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("wfm-relay-aws-rules: {e}");
            return ExitCode::from(2);
        }
    };
    let page = opts.s3_page_size;
    let layer = match AwsRules::start(&args.upstream, opts).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wfm-relay-aws-rules: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(&args.url_file, layer.url()) {
        eprintln!(
            "wfm-relay-aws-rules: cannot write {}: {e}",
            args.url_file.display()
        );
        return ExitCode::FAILURE;
    }
    eprintln!(
        "wfm-relay-aws-rules: {} in front of {} (S3 page size {page})",
        layer.url(),
        args.upstream
    );
    wait_for_stop().await;
    layer.shutdown();
    ExitCode::SUCCESS
}

async fn wait_for_stop() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
