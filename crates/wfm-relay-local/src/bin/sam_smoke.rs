//! `wfm-relay-sam-smoke`: a smoke test of the artefact users deploy. Run it through
//! `infra/sam-smoke.sh`, which starts moto and passes `sam build`'s output directory.
//!
//! For every `AWS::Serverless::Function` of the built template (`<build-dir>/template.yaml`) it
//! checks that `<build-dir>/<CodeUri>/bootstrap` exists and is an ELF executable for `--arch`,
//! starts it as a Lambda process behind the local Runtime API (with a retry queue, a DLQ and a
//! bucket in moto and a scripted WFM that answers 200), sends it one invocation and checks the
//! answer. A function whose binary has no smoke invocation here fails the run (add one), and so
//! does a build without one of [`EXPECTED_BINARIES`] (the snapshot function exists only with a
//! `SnapshotSchedule`: the smoke build must be made with it set). The snapshot function gets a
//! Genesys Cloud API stand-in and a dry-run snapshot request.

// The output is a short human-readable report for CI's log.
#![allow(clippy::print_stdout)]

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_local::genesys_api::{GenesysApi, GenesysApiOptions};
use wfm_relay_local::harness::{invoke_raw, moto_endpoint};
use wfm_relay_local::{
    InvocationType, LocalStack, Reply, RuntimeApi, Script, ScriptedWfm, StackOptions,
};

/// A Genesys presence event in its EventBridge envelope (the fixture the integration tests use).
const PRESENCE_EVENT: &[u8] =
    include_bytes!("../../../../tests/fixtures/genesys/presence-break.json");
/// The binaries every smoke build must hold: the forwarder, the replayer and the scheduled
/// snapshot function.
const EXPECTED_BINARIES: [&str; 3] = [
    "wfm-relay-forwarder",
    "wfm-relay-replayer",
    "wfm-relay-snapshot",
];
/// Agents of the Genesys stand-in the snapshot function reads.
const SNAPSHOT_AGENTS: usize = 3;
/// Time given to each invocation.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Smoke test of `sam build`'s bootstraps (run it through `infra/sam-smoke.sh`).
#[derive(Debug, Parser)]
#[command(name = "wfm-relay-sam-smoke")]
struct Args {
    /// `sam build`'s output directory (holds `template.yaml` and one directory per function).
    #[arg(long = "build-dir", default_value = ".aws-sam/build")]
    build_dir: PathBuf,
    /// The architecture the bootstraps must be built for: `x86_64` or `arm64` (only the host's
    /// own can be started).
    #[arg(long, default_value = "x86_64")]
    arch: String,
    /// Directory for each function's log (`<function>.log`).
    #[arg(long = "log-dir", default_value = ".demo")]
    log_dir: PathBuf,
}

/// One function of the built template.
#[derive(Debug)]
struct Function {
    /// Its logical id, e.g. `ForwarderFunction`.
    name: String,
    /// `Metadata.BuildProperties.Binary`, e.g. `wfm-relay-forwarder`.
    binary: String,
    /// `<build-dir>/<CodeUri>/bootstrap`.
    bootstrap: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wfm-relay-sam-smoke: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    moto_endpoint("the smoke test needs", "infra/sam-smoke.sh")?;
    let functions = built_functions(&args.build_dir)?;
    if functions.is_empty() {
        bail!(
            "{}: the built template has no function",
            args.build_dir.display()
        );
    }
    for binary in EXPECTED_BINARIES {
        if !functions.iter().any(|f| f.binary == binary) {
            bail!(
                "{}: the built template has no function of binary {binary} (build with \
                 SnapshotSchedule set, see infra/sam-smoke.sh)",
                args.build_dir.display()
            );
        }
    }
    let want = elf_machine(&args.arch)?;
    for f in &functions {
        let got = read_elf_machine(&f.bootstrap)?;
        if got != want {
            bail!(
                "{} is built for ELF machine {got:#x}, not {} ({want:#x})",
                f.bootstrap.display(),
                args.arch
            );
        }
    }
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("cannot create {}", args.log_dir.display()))?;
    let aws = AwsClients::from_env().await;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let stack = LocalStack::create(
        &aws,
        "wfm-relay-smoke",
        &run_id,
        StackOptions {
            max_receive_count: 14,
            retry_visibility_timeout_s: 360,
        },
    )
    .await?;
    let wfm = ScriptedWfm::start(Script::Sequence(vec![Reply::status(200)]))
        .await
        .context("cannot start the scripted WFM server")?;
    for f in &functions {
        smoke(f, &args, &stack, &wfm).await?;
    }
    wfm.shutdown().await;
    println!(
        "sam smoke: {} bootstraps ({}) each answered one invocation",
        functions.len(),
        args.arch
    );
    Ok(())
}

/// Starts one bootstrap behind its own Runtime API, sends its invocation and checks the answer.
async fn smoke(
    f: &Function,
    args: &Args,
    stack: &LocalStack,
    wfm: &ScriptedWfm,
) -> anyhow::Result<()> {
    let (payload, timeout_s): (Vec<u8>, &str) = match f.binary.as_str() {
        "wfm-relay-forwarder" => (PRESENCE_EVENT.trim_ascii_end().to_vec(), "60"),
        "wfm-relay-replayer" => (br#"{"action":"stats"}"#.to_vec(), "900"),
        "wfm-relay-snapshot" => (
            br#"{"action":"snapshot","scheduled":true,"dry_run":true}"#.to_vec(),
            "900",
        ),
        other => bail!(
            "{}: no smoke invocation for binary {other}: add one to wfm-relay-sam-smoke",
            f.name
        ),
    };
    let before = wfm.requests().len();
    let api = RuntimeApi::start()
        .await
        .context("cannot start the local Lambda Runtime API")?;
    // The snapshot function reads Genesys: a stand-in of its API, for its run only.
    let genesys = match f.binary.as_str() {
        "wfm-relay-snapshot" => Some(
            GenesysApi::start(GenesysApiOptions::new(SNAPSHOT_AGENTS))
                .await
                .context("cannot start the Genesys Cloud API stand-in")?,
        ),
        _ => None,
    };
    let genesys_url = genesys.as_ref().map(GenesysApi::url).unwrap_or_default();
    let mut vars = vec![("FUNCTION_TIMEOUT_S", timeout_s), ("RUST_LOG", "info")];
    if genesys.is_some() {
        vars.extend([
            ("GENESYS_API_URL", genesys_url.as_str()),
            ("GENESYS_LOGIN_URL", genesys_url.as_str()),
            ("GENESYS_CLIENT_ID", "standin-client"),
            ("GENESYS_CLIENT_SECRET", "standin-secret"),
        ]);
    }
    let env = stack.lambda_env(&wfm.url(), &vars);
    let log = args.log_dir.join(format!("{}.log", f.name));
    let _ = std::fs::remove_file(&log);
    let mut process = api
        .spawn_function(&f.bootstrap, &f.binary, &env, Some(&log))
        .with_context(|| format!("cannot start {}", f.bootstrap.display()))?;
    let answer = invoke_raw(
        &api,
        InvocationType::RequestResponse,
        payload.clone(),
        INVOKE_TIMEOUT,
    )
    .await;
    let exited = process.try_wait()?;
    process.kill().await.ok();
    api.shutdown().await;
    if let Some(g) = genesys {
        g.shutdown().await;
    }
    let raw = answer.map_err(|e| {
        anyhow::anyhow!(
            "{} ({}) did not answer: {e}; exit status {exited:?}; log {}",
            f.name,
            f.bootstrap.display(),
            log.display()
        )
    })?;
    let answer: Value = serde_json::from_slice(&raw).with_context(|| {
        format!(
            "{} answered non-JSON: {}",
            f.name,
            String::from_utf8_lossy(&raw)
        )
    })?;
    let posted = &wfm.requests()[before..];
    match f.binary.as_str() {
        "wfm-relay-forwarder" => {
            if answer != json!({"outcome": "delivered"})
                || posted.len() != 1
                || posted[0].body != payload
            {
                bail!(
                    "{}: expected {{\"outcome\":\"delivered\"}} and the event posted to WFM once, got {answer} and {} requests",
                    f.name,
                    posted.len()
                );
            }
        }
        "wfm-relay-snapshot" => {
            let events = json!(2 * SNAPSHOT_AGENTS);
            if answer["action"] != "snapshot"
                || answer["dry_run"] != true
                || answer["events"] != events
                || answer["not_sent"] != events
                || answer["continued"] != false
                || !posted.is_empty()
            {
                bail!(
                    "{}: expected a dry-run snapshot of {SNAPSHOT_AGENTS} agents ({events} events \
                     built, none sent), got {answer} and {} requests",
                    f.name,
                    posted.len()
                );
            }
        }
        _ => {
            if answer["action"] != "stats" || answer["stats"]["depth"] != 0 {
                bail!(
                    "{}: expected a stats report of an empty DLQ, got {answer}",
                    f.name
                );
            }
        }
    }
    println!("{:<20} {} answered {answer}", f.name, f.bootstrap.display());
    Ok(())
}

/// The functions of `<build_dir>/template.yaml`, sorted by logical id.
fn built_functions(build_dir: &Path) -> anyhow::Result<Vec<Function>> {
    let path = build_dir.join("template.yaml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (run sam build first)", path.display()))?;
    let tpl: Yaml =
        serde_yaml::from_str(&text).with_context(|| format!("{} is not YAML", path.display()))?;
    let Some(resources) = tpl.get("Resources").and_then(Yaml::as_mapping) else {
        bail!("{} has no Resources", path.display());
    };
    let mut out = Vec::new();
    for (name, r) in resources {
        if r.get("Type").and_then(Yaml::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or_default().to_owned();
        let text_at = |v: Option<&Yaml>, what: &str| {
            v.and_then(Yaml::as_str)
                .map(str::to_owned)
                .with_context(|| format!("{name} has no {what}"))
        };
        let code_uri = text_at(
            r.get("Properties").and_then(|p| p.get("CodeUri")),
            "CodeUri",
        )?;
        let binary = text_at(
            r.get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary")),
            "Metadata.BuildProperties.Binary",
        )?;
        let bootstrap = build_dir.join(code_uri).join("bootstrap");
        if !bootstrap.is_file() {
            bail!("{name}: {} is missing", bootstrap.display());
        }
        out.push(Function {
            name,
            binary,
            bootstrap,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// ELF `e_machine` of an architecture name (System V ABI: 0x3e x86-64, 0xb7 AArch64).
fn elf_machine(arch: &str) -> anyhow::Result<u16> {
    match arch {
        "x86_64" => Ok(0x3e),
        "arm64" => Ok(0xb7),
        other => bail!("--arch {other}: expected x86_64 or arm64"),
    }
}

/// The `e_machine` field of a little-endian ELF file (bytes 18..20).
fn read_elf_machine(path: &Path) -> anyhow::Result<u16> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    match bytes.get(..20) {
        Some(h) if h.starts_with(b"\x7fELF") && h[5] == 1 => Ok(u16::from_le_bytes([h[18], h[19]])),
        _ => bail!("{} is not a little-endian ELF executable", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_machines_follow_the_system_v_abi() {
        assert_eq!(elf_machine("x86_64").expect("known"), 0x3e);
        assert_eq!(elf_machine("arm64").expect("known"), 0xb7);
        assert!(elf_machine("ppc").is_err());
    }

    #[test]
    fn this_test_binary_is_an_elf_of_the_host() {
        let exe = std::env::current_exe().expect("test binary");
        let want = if cfg!(target_arch = "x86_64") {
            0x3e
        } else {
            0xb7
        };
        assert_eq!(read_elf_machine(&exe).expect("ELF"), want);
    }
}
