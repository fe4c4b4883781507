//! One `relayctl doctor` run: the names from the environment (or `--stack`), the AWS calls, the
//! report on stdout, the exit code. Loads no secret and no profile; WFM's URL (`WFM_URL`, else the
//! forwarder's) gets one TLS probe, never an event.

use super::function::DoctorClients;
use super::gather::{QueueFacts, Unreachable, bucket_checks, queue_checks};
use super::gather_fn::{Forwarder, eventbridge_checks, lambda_checks};
use super::stack::{self, StackError};
use super::stack_functions::{Functions, Lookup};
use super::targets::StackNames;
use super::{DoctorExit, exit_for, report_json, report_text};
use super::{alarms, profile, secrets_gather};
use super::{deployed, tls};
use crate::app::LOG_VAR;
use crate::args::DoctorArgs;
use crate::errors::{AwsSettings, one_line, wants_full_chain};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use wfm_relay_aws::aws::{AwsClients, load_sdk_config};

/// Runs the checks and prints the report (`json`: as JSON); returns the exit code
/// ([`DoctorExit`]).
pub fn run(args: &DoctorArgs, json: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("relayctl doctor: cannot start the async runtime: {e}");
            return ExitCode::from(DoctorExit::CouldNotRun as u8);
        }
    };
    ExitCode::from(runtime.block_on(checks(args, json)) as u8)
}

async fn checks(args: &DoctorArgs, json: bool) -> DoctorExit {
    let env = |k: &str| std::env::var(k).ok();
    let conf = load_sdk_config().await;
    let aws_settings = AwsSettings::from_lookup(env, conf.region().map(ToString::to_string));
    let could_not_run = |u: Unreachable| {
        eprintln!(
            "relayctl doctor: {}",
            one_line(&format!("{} failed", u.call), &u.chain, &aws_settings)
        );
        if wants_full_chain(env(LOG_VAR).as_deref()) {
            eprintln!("relayctl doctor: full error: {}", u.chain);
        }
        DoctorExit::CouldNotRun
    };
    let clients = DoctorClients::from_sdk_config(&conf);
    let from_stack = match &args.stack {
        None => BTreeMap::new(),
        Some(name) => match stack::read(&clients, name).await {
            Ok(facts) => stack::names(&facts),
            Err(StackError::NotFound(name)) => {
                eprintln!(
                    "relayctl doctor: stack {name} does not exist (DescribeStacks; check the \
                     name, AWS_REGION and the account)"
                );
                return DoctorExit::CouldNotRun;
            }
            Err(StackError::Unreachable(u)) => return could_not_run(u),
        },
    };
    let (lookup, overridden) = stack::overlay(env, &from_stack);
    if let Some(name) = &args.stack
        && !overridden.is_empty()
    {
        eprintln!(
            "relayctl doctor: {} set in the environment, used instead of stack {name}'s",
            overridden.join(", ")
        );
    }
    let names = StackNames::from_lookup(&lookup);
    let aws = AwsClients::from_sdk_config(&conf);
    let gathered = async {
        // The stack's functions, each read once (GetFunctionConfiguration): the forwarder's
        // RETRY_SCHEDULE, Timeout and WFM_URL, and the secrets, role and profile checks' facts.
        let functions = Functions::read(&clients, &names).await?;
        let facts = match functions.forwarder() {
            Lookup::Found(f) => Some(&**f),
            Lookup::Unset | Lookup::Missing(_) => None,
        };
        let forwarder = Forwarder::from(names.forwarder_function.as_deref(), facts);
        // The two queues' attributes, each read once: the queue checks and the ARNs.
        let queues = QueueFacts::read(&aws, &names).await?;
        let (lambda_findings, mapping) =
            lambda_checks(&clients, forwarder, &queues.arns(), args.local).await?;
        let expected = deployed::expected(env, forwarder, mapping.as_ref(), args.local);
        let mut all = queue_checks(&names, &queues, &expected);
        all.extend(bucket_checks(&aws, &names, &expected).await?);
        all.extend(lambda_findings);
        all.extend(eventbridge_checks(&clients, &names, forwarder, args.local).await?);
        let wfm_forwarder = names.forwarder_function.as_deref().map(|n| (n, facts));
        all.push(tls::check(env("WFM_URL").as_deref(), wfm_forwarder, args.local).await);
        all.extend(
            alarms::checks(
                &clients,
                names.alarm_prefix.as_deref(),
                args.local,
                names.snapshot_function.is_some(),
            )
            .await?,
        );
        all.extend(secrets_gather::checks(&clients, &functions, args.local).await?);
        all.extend(profile::checks(&clients, &aws, &functions, args.local).await?);
        Ok::<_, Unreachable>(all)
    }
    .await;
    let findings = match gathered {
        Ok(f) => f,
        Err(u) => return could_not_run(u),
    };
    let text = if json {
        format!("{:#}\n", report_json(&findings))
    } else {
        report_text(&findings)
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("relayctl doctor: cannot write the report: {e}");
        return DoctorExit::CouldNotRun;
    }
    exit_for(&findings, args.strict)
}
