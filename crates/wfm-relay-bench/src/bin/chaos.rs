//! `wfm-relay-chaos`: many events through the real forwarder Lambda processes while the WFM
//! stand-in misbehaves, then a recovery with the replayer, and an accounting from outside
//! evidence that fails the run when any event is lost. Run it with `infra/chaos.sh`, which makes
//! the venv, starts moto server on a free port, builds the binaries and stops moto.
//!
//! What it does:
//! 1. creates the retry queue (RedrivePolicy, `maxReceiveCount` = schedule steps + 5), the DLQ
//!    and the archive bucket in moto;
//! 2. starts a scripted WFM server: random faults at `--fault-rate` (502, 503, 504, no answer
//!    past `WFM_TIMEOUT_MS`, connection reset, slow 200 within and past the timeout), a full
//!    outage (503) of `--outage-s` once half the events are sent, then random faults again;
//! 3. runs `--forwarders` forwarder processes, each behind its own local Lambda Runtime API, and
//!    spreads the EventBridge invocations over them; a failed invocation is retried twice and
//!    then written to the DLQ as Lambda's on-failure record, as Lambda's async invocation does;
//! 4. plays Lambda's SQS event source mapping against the retry queue with `--consumers` more
//!    forwarder processes until the queue is empty;
//! 5. recovery: WFM healthy, the replayer library replays the DLQ, what is left is archived;
//! 6. checks at checkpoints that delivered (distinct `X-Event-Id` answered 2xx by WFM) + retry
//!    queue depth + DLQ depth ≥ completed invocations, and at the end that every sent id is
//!    delivered, queued, dead-lettered or archived, that every repeated POST of an event carried
//!    the same `Idempotency-Key`, and that no Lambda process exited or panicked.
//!
//! `--inject-loss N` deletes N undelivered messages from the retry queue during the outage (a
//! simulated bug): the run must then fail.

// The output is a human-readable report; the Lambdas under test log JSON to their own files.
#![allow(clippy::print_stdout)]

use anyhow::{Context, bail};
use clap::Parser;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use wfm_relay_aws::archive::Archive;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_aws::queues::{QueueSettings, Queues};
use wfm_relay_aws::wfm::{WfmClient, WfmSettings};
use wfm_relay_bench::events::EventFamily;
use wfm_relay_bench::measure::peak_rss_kib;
use wfm_relay_core::config::ForwarderConfig;
use wfm_relay_core::replay::decode_dead_letter;
use wfm_relay_core::timefmt::format_rfc3339;
use wfm_relay_local::stack::{depth, peek_bodies, release};
use wfm_relay_local::{
    FunctionProcess, LocalStack, Recorded, Reply, RuntimeApi, Script, ScriptedWfm,
    SqsEventSourceMapping, StackOptions,
};
use wfm_relay_replayer::{Action, Replayer, Request};

/// Time given to each invocation (the Runtime API's deadline counts from the moment it is
/// queued); also the forwarder's `FUNCTION_TIMEOUT_S`.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Invocations of one EventBridge event before it goes to the on-failure destination: the first
/// plus Lambda's 2 async retries (AWS Lambda Developer Guide, "Asynchronous invocation": by
/// default Lambda retries a function error twice).
const ASYNC_INVOKES: usize = 3;
/// Wait between those retries (1 min then 2 min on AWS; compressed here).
const ASYNC_RETRY_WAIT: Duration = Duration::from_secs(1);
/// The retry queue's visibility timeout, seconds (twice [`INVOKE_TIMEOUT`]).
const RETRY_VISIBILITY_TIMEOUT_S: u32 = 60;

/// Chaos run of wfm-relay on moto server (run it through `infra/chaos.sh`).
#[derive(Debug, Parser)]
#[command(name = "wfm-relay-chaos")]
struct Args {
    /// Events sent as EventBridge invocations (generated, about 700 bytes each).
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Forwarder processes serving the EventBridge invocations (each behind its own Runtime API).
    #[arg(long, default_value_t = 2)]
    forwarders: usize,
    /// Forwarder processes serving the retry queue's event source mapping (one poller each).
    #[arg(long, default_value_t = 2)]
    consumers: usize,
    /// EventBridge invocations queued per forwarder process at once.
    #[arg(long = "per-forwarder", default_value_t = 2)]
    per_forwarder: usize,
    /// Share of WFM requests (0..=1) that get a fault outside the outage.
    #[arg(long = "fault-rate", default_value_t = 0.3)]
    fault_rate: f64,
    /// Seconds of full outage (every request 503), starting once half the events are sent.
    #[arg(long = "outage-s", default_value_t = 60)]
    outage_s: u64,
    /// The forwarder's `RETRY_SCHEDULE` (compressed; production default 30s,2m,10m,...).
    #[arg(long = "retry-schedule", default_value = "1s,2s,4s,8s")]
    retry_schedule: String,
    /// The forwarder's `WFM_TIMEOUT_MS`: a request WFM never answers costs this long.
    #[arg(long = "wfm-timeout-ms", default_value_t = 300)]
    wfm_timeout_ms: u64,
    /// The forwarder's `BREAKER_OPEN_MS` (production default 30000; compressed like the
    /// schedule).
    #[arg(long = "breaker-open-ms", default_value_t = 5000)]
    breaker_open_ms: u64,
    /// Delete this many undelivered messages from the retry queue during the outage (a
    /// simulated bug: the run must then fail).
    #[arg(long = "inject-loss", default_value_t = 0)]
    inject_loss: usize,
    /// Seconds between checkpoints.
    #[arg(long = "checkpoint-s", default_value_t = 10)]
    checkpoint_s: u64,
    /// Seconds, after the last event is sent, to wait for the retry queue to drain.
    #[arg(long = "drain-budget-s", default_value_t = 900)]
    drain_budget_s: u64,
    /// Seed of the WFM server's fault generator.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Directory for the Lambda processes' logs.
    #[arg(long = "log-dir", default_value = ".chaos")]
    log_dir: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("wfm-relay-chaos: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Seconds since the start, for progress lines.
#[derive(Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn stamp(self) -> String {
        format!("[{:>6.1}s]", self.0.elapsed().as_secs_f64())
    }
}

/// The WFM server's phase.
const PHASE_FAULTS: u8 = 0;
const PHASE_OUTAGE: u8 = 1;
const PHASE_AFTER: u8 = 2;
const PHASE_HEALTHY: u8 = 3;

fn phase_name(p: u8) -> &'static str {
    match p {
        PHASE_FAULTS => "faults",
        PHASE_OUTAGE => "outage",
        PHASE_AFTER => "faults",
        _ => "healthy",
    }
}

/// What the EventBridge invocation of an event answered.
const OUT_NONE: u8 = 0;
const OUT_DELIVERED: u8 = 1;
const OUT_QUEUED: u8 = 2;
const OUT_PARKED: u8 = 3;
const OUT_FAILED: u8 = 4;

/// Counters shared by the tasks.
#[derive(Default)]
struct Counters {
    started: AtomicUsize,
    completed: AtomicUsize,
    invoke_errors: AtomicUsize,
    on_failure_records: AtomicUsize,
    batches: AtomicUsize,
    batch_records: AtomicUsize,
    batch_listed: AtomicUsize,
    batch_failed_whole: AtomicUsize,
    parked_inline: Mutex<BTreeMap<String, usize>>,
}

/// One Lambda process behind its own Runtime API.
struct Lane {
    name: String,
    api: RuntimeApi,
    process: FunctionProcess,
    log: PathBuf,
}

/// Per-event evidence gathered from the WFM server's recorded requests.
struct Evidence {
    /// Flags per event index: bit 0 delivered (some 2xx), bit 1 the first 2xx carried
    /// `X-Replay: true`.
    flags: Vec<u8>,
    /// The first `Idempotency-Key` seen per event.
    keys: Vec<Option<Box<str>>>,
    /// Recorded requests already looked at.
    seen: usize,
    delivered: usize,
    requests: usize,
    ok_2xx: usize,
    no_answer: usize,
    by_status: BTreeMap<u16, usize>,
    repeated_posts: usize,
    duplicate_deliveries: usize,
    key_mismatches: usize,
    foreign: usize,
}

impl Evidence {
    fn new(n: usize) -> Self {
        Evidence {
            flags: vec![0; n],
            keys: vec![None; n],
            seen: 0,
            delivered: 0,
            requests: 0,
            ok_2xx: 0,
            no_answer: 0,
            by_status: BTreeMap::new(),
            repeated_posts: 0,
            duplicate_deliveries: 0,
            key_mismatches: 0,
            foreign: 0,
        }
    }

    /// Reads the requests recorded since the last call.
    fn update(&mut self, fam: &EventFamily, wfm: &ScriptedWfm) {
        let all = wfm.requests();
        for r in all.iter().skip(self.seen) {
            self.add(fam, r);
        }
        self.seen = all.len();
    }

    fn add(&mut self, fam: &EventFamily, r: &Recorded) {
        self.requests += 1;
        match r.answered {
            Some(s) => *self.by_status.entry(s).or_default() += 1,
            None => self.no_answer += 1,
        }
        let Some(i) = r
            .header("x-event-id")
            .and_then(|id| fam.index_of(id))
            .filter(|i| *i < self.flags.len())
        else {
            self.foreign += 1;
            return;
        };
        let key = r.header("idempotency-key").unwrap_or("");
        match &self.keys[i] {
            Some(first) => {
                self.repeated_posts += 1;
                if **first != *key {
                    self.key_mismatches += 1;
                }
            }
            None => self.keys[i] = Some(key.into()),
        }
        if r.answered.is_some_and(|s| (200..300).contains(&s)) {
            self.ok_2xx += 1;
            if self.flags[i] & 1 == 0 {
                self.delivered += 1;
                let replay = r.header("x-replay") == Some("true");
                self.flags[i] |= 1 | if replay { 2 } else { 0 };
            } else {
                self.duplicate_deliveries += 1;
            }
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let endpoint = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(v) if !v.is_empty() => v,
        _ => bail!(
            "AWS_ENDPOINT_URL is not set: the chaos run needs moto server. Run infra/chaos.sh, \
             which starts moto on a free port, sets the variable and builds the binaries."
        ),
    };
    if !(0.0..=1.0).contains(&args.fault_rate) {
        bail!("--fault-rate must be within 0..=1");
    }
    if args.forwarders == 0 || args.consumers == 0 || args.per_forwarder == 0 {
        bail!("--forwarders, --consumers and --per-forwarder must be at least 1");
    }
    let forwarder_bin = sibling("wfm-relay-forwarder")?;
    let n = args.events;
    let fam = EventFamily::random();
    let run_id = fam.run_hex();
    let clock = Clock(Instant::now());

    // ------------------------------------------------------------ AWS resources in moto
    let steps = args.retry_schedule.split(',').count();
    let max_receive = steps + 5;
    let aws = AwsClients::from_env().await;
    let stack = LocalStack::create(
        &aws,
        "wfm-relay-chaos",
        &run_id,
        StackOptions {
            max_receive_count: max_receive,
            retry_visibility_timeout_s: RETRY_VISIBILITY_TIMEOUT_S,
        },
    )
    .await?;

    // ------------------------------------------------------------ WFM, Lambda processes
    let timeout = Duration::from_millis(args.wfm_timeout_ms);
    let wfm = ScriptedWfm::start(fault_script(args.fault_rate, timeout, args.seed))
        .await
        .context("cannot start the scripted WFM server")?;
    let timeout_ms = args.wfm_timeout_ms.to_string();
    let breaker_ms = args.breaker_open_ms.to_string();
    let env = stack.lambda_env(
        &wfm.url(),
        &[
            ("RETRY_SCHEDULE", args.retry_schedule.as_str()),
            ("WFM_TIMEOUT_MS", timeout_ms.as_str()),
            ("WFM_CONNECT_TIMEOUT_MS", "200"),
            ("INLINE_ATTEMPTS", "3"),
            ("BACKOFF_BASE_MS", "20"),
            ("BACKOFF_CAP_MS", "200"),
            ("FUNCTION_TIMEOUT_S", "30"),
            ("BREAKER_OPEN_MS", breaker_ms.as_str()),
            ("RUST_LOG", "info"),
        ],
    );
    std::fs::create_dir_all(&args.log_dir)
        .with_context(|| format!("cannot create {}", args.log_dir.display()))?;
    let mut lanes = Vec::new();
    for k in 1..=args.forwarders {
        lanes.push(
            spawn_lane(
                &forwarder_bin,
                &format!("forwarder-{k}"),
                &env,
                &args.log_dir,
            )
            .await?,
        );
    }
    let mut consumer_lanes = Vec::new();
    for k in 1..=args.consumers {
        consumer_lanes.push(
            spawn_lane(
                &forwarder_bin,
                &format!("consumer-{k}"),
                &env,
                &args.log_dir,
            )
            .await?,
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for lane in lanes.iter_mut().chain(consumer_lanes.iter_mut()) {
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

    println!("wfm-relay chaos run {run_id}");
    println!("moto server          {endpoint}");
    println!(
        "retry queue          {} (maxReceiveCount {max_receive})",
        stack.retry_url
    );
    println!("dead-letter queue    {}", stack.dlq_url);
    println!("scripted WFM         {}", wfm.url());
    println!(
        "Lambda processes     {} forwarders for EventBridge ({} invocations queued each), {} for the retry queue; logs in {}",
        args.forwarders,
        args.per_forwarder,
        args.consumers,
        args.log_dir.display()
    );
    println!(
        "forwarder config     RETRY_SCHEDULE={} WFM_TIMEOUT_MS={} BREAKER_OPEN_MS={} INLINE_ATTEMPTS=3 BACKOFF_BASE_MS=20 BACKOFF_CAP_MS=200",
        args.retry_schedule, args.wfm_timeout_ms, args.breaker_open_ms
    );
    println!(
        "plan                 {n} events; WFM faults {:.0} % (502/503/504, no answer, reset, slow 200), full outage {} s from the {}th event on, then faults again; recovery: WFM healthy, replay the DLQ{}",
        args.fault_rate * 100.0,
        args.outage_s,
        n / 2,
        if args.inject_loss > 0 {
            format!(
                "; INJECTED LOSS: {} retry-queue messages deleted during the outage",
                args.inject_loss
            )
        } else {
            String::new()
        }
    );
    println!();

    // ------------------------------------------------------------ the run
    let counters = Arc::new(Counters::default());
    let outcomes = Arc::new(Mutex::new(vec![OUT_NONE; n]));
    let phase = Arc::new(AtomicU8::new(PHASE_FAULTS));
    let evidence = Arc::new(Mutex::new(Evidence::new(n)));
    let stop_consumers = Arc::new(AtomicBool::new(false));
    let check_failures = Arc::new(AtomicUsize::new(0));

    let sender = tokio::spawn(send_all(
        fam,
        n,
        lanes.iter().map(|l| l.api.clone()).collect(),
        args.per_forwarder,
        Arc::clone(&counters),
        Arc::clone(&outcomes),
        aws.sqs.clone(),
        stack.dlq_url.clone(),
    ));
    let phases = tokio::spawn(run_phases(
        clock,
        wfm.clone(),
        Arc::clone(&counters),
        Arc::clone(&phase),
        n,
        args.outage_s,
        args.fault_rate,
        timeout,
        args.seed,
    ));
    let mut consumers = JoinSet::new();
    for lane in &consumer_lanes {
        consumers.spawn(consume(
            SqsEventSourceMapping {
                sqs: aws.sqs.clone(),
                queue_url: stack.retry_url.clone(),
                queue_arn: stack.retry_arn.clone(),
                region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                batch_size: 10,
                wait_time_s: 1,
            },
            lane.api.clone(),
            Arc::clone(&counters),
            Arc::clone(&stop_consumers),
        ));
    }
    let injector = (args.inject_loss > 0).then(|| {
        tokio::spawn(inject_loss(
            clock,
            fam,
            aws.sqs.clone(),
            stack.retry_url.clone(),
            wfm.clone(),
            Arc::clone(&phase),
            args.inject_loss,
            args.outage_s,
        ))
    });
    let checkpoints = tokio::spawn(checkpoint_loop(
        clock,
        fam,
        aws.sqs.clone(),
        stack.clone(),
        wfm.clone(),
        Arc::clone(&counters),
        Arc::clone(&phase),
        Arc::clone(&evidence),
        Arc::clone(&check_failures),
        n,
        Duration::from_secs(args.checkpoint_s.max(1)),
    ));

    let sending = sender.await.context("sender task")?;
    sending?;
    let sent_at = clock.0.elapsed();
    println!("{} all {n} EventBridge invocations answered", clock.stamp());
    // The outage may outlast the sending: wait for its end before draining.
    while phase.load(Ordering::SeqCst) < PHASE_AFTER {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain_until = Instant::now() + Duration::from_secs(args.drain_budget_s);
    let mut empty_in_a_row = 0;
    while empty_in_a_row < 2 {
        if Instant::now() >= drain_until {
            println!(
                "{} drain budget of {} s is over; stopping the event source mapping",
                clock.stamp(),
                args.drain_budget_s
            );
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        if depth(&aws.sqs, &stack.retry_url).await? == 0 {
            empty_in_a_row += 1;
        } else {
            empty_in_a_row = 0;
        }
    }
    stop_consumers.store(true, Ordering::SeqCst);
    while let Some(done) = consumers.join_next().await {
        done.context("consumer task")??;
    }
    let drained_at = clock.0.elapsed();
    println!(
        "{} retry queue drained; event source mapping stopped",
        clock.stamp()
    );
    let injected = match injector {
        Some(task) => task.await.context("loss injector task")??,
        None => Vec::new(),
    };
    phases.abort();
    checkpoints.abort();

    // ------------------------------------------------------------ quiescent checkpoint
    check_once(
        clock,
        &fam,
        &aws.sqs,
        &stack,
        &wfm,
        &counters,
        &evidence,
        &check_failures,
        "after drain",
    )
    .await?;

    // ------------------------------------------------------------ recovery
    wfm.set_script(Script::Sequence(vec![Reply::status(200)]));
    phase.store(PHASE_HEALTHY, Ordering::SeqCst);
    println!(
        "{} WFM healthy; recovery with the replayer (library)",
        clock.stamp()
    );
    let replayer = replayer(&aws, &env)?;
    let stats = replayer
        .run(&Request::new(Action::Stats), None, &|_| {})
        .await
        .context("replayer stats")?;
    let parked_by_reason = stats.stats.map(|s| s.by_reason).unwrap_or_default();
    println!(
        "{} DLQ before replay: {} dead letters {:?}",
        clock.stamp(),
        stats.matched,
        parked_by_reason
    );
    let replay_started = Instant::now();
    let mut replayed = 0;
    for _ in 0..5 {
        let mut req = Request::new(Action::Replay);
        req.concurrency = Some(10);
        let report = replayer.run(&req, None, &|_| {}).await.context("replay")?;
        replayed += report.delivered;
        println!(
            "{} replay: matched {} delivered {} failed {} skipped {} remaining {}",
            clock.stamp(),
            report.matched,
            report.delivered,
            report.failed,
            report.skipped,
            report.remaining
        );
        if report.remaining == 0 || report.delivered == 0 {
            break;
        }
    }
    let replay_time = replay_started.elapsed();
    let mut archived_ids: Vec<Option<String>> = Vec::new();
    if depth(&aws.sqs, &stack.dlq_url).await? > 0 {
        let report = replayer
            .run(&Request::new(Action::Archive), None, &|_| {})
            .await
            .context("archive")?;
        println!(
            "{} archived {} dead letters the replay could not deliver ({} objects)",
            clock.stamp(),
            report.archived,
            report.keys.len()
        );
        let archive = Archive::new(aws.s3.clone(), stack.bucket.clone());
        for key in report.keys.iter().filter(|k| k.ends_with(".jsonl.gz")) {
            for letter in archive
                .read_letters(key)
                .await
                .context("reading the archive")?
            {
                archived_ids.push(letter.event_id);
            }
        }
    }

    // ------------------------------------------------------------ the final accounting
    let retry_depth = depth(&aws.sqs, &stack.retry_url).await?;
    let retry_ids = peek_event_ids(
        &aws.sqs,
        &stack.retry_url,
        retry_depth,
        Duration::from_secs(20),
    )
    .await?;
    let dlq_depth = depth(&aws.sqs, &stack.dlq_url).await?;
    let dlq_ids =
        peek_event_ids(&aws.sqs, &stack.dlq_url, dlq_depth, Duration::from_secs(20)).await?;
    let mut ev = {
        let mut e = lock(&evidence);
        e.update(&fam, &wfm);
        std::mem::replace(&mut *e, Evidence::new(0))
    };
    let mut place = vec![0u8; n]; // bit 0 delivered, 1 retry queue, 2 DLQ, 3 archive
    for (i, f) in ev.flags.iter().enumerate() {
        place[i] |= f & 1;
    }
    let mut mark = |ids: &[Option<String>], bit: u8| {
        for i in ids.iter().flatten().filter_map(|id| fam.index_of(id)) {
            if let Some(p) = place.get_mut(i) {
                *p |= bit;
            }
        }
    };
    mark(&retry_ids, 2);
    mark(&dlq_ids, 4);
    mark(&archived_ids, 8);
    let lost: Vec<usize> = (0..n).filter(|i| place[*i] == 0).collect();
    let outcomes = std::mem::take(&mut *lock(&outcomes));
    let (mut inline, mut via_queue, mut via_replay) = (0, 0, 0);
    for (i, f) in ev.flags.iter().enumerate() {
        if f & 1 == 0 {
            continue;
        }
        if f & 2 != 0 {
            via_replay += 1;
        } else if outcomes[i] == OUT_DELIVERED {
            inline += 1;
        } else {
            via_queue += 1;
        }
    }
    let mut answered: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &outcomes {
        *answered
            .entry(match *o {
                OUT_DELIVERED => "delivered",
                OUT_QUEUED => "queued",
                OUT_PARKED => "parked",
                OUT_FAILED => "failed (on-failure record)",
                _ => "not answered",
            })
            .or_default() += 1;
    }

    // Lambda processes: none may have exited or panicked.
    let mut process_problems = Vec::new();
    for lane in lanes.iter_mut().chain(consumer_lanes.iter_mut()) {
        if let Some(status) = lane.process.try_wait()? {
            process_problems.push(format!("{} exited ({status})", lane.name));
        }
        let log = std::fs::read_to_string(&lane.log).unwrap_or_default();
        let panics = log.matches("panicked").count();
        if panics > 0 {
            process_problems.push(format!(
                "{}: {panics} panics in {}",
                lane.name,
                lane.log.display()
            ));
        }
    }
    let peak_rss: Vec<String> = lanes
        .iter()
        .chain(consumer_lanes.iter())
        .filter_map(|l| {
            let kib = peak_rss_kib(l.process.id()?)?;
            Some(format!("{} {:.1} MiB", l.name, kib as f64 / 1024.0))
        })
        .collect();
    for lane in lanes.iter_mut().chain(consumer_lanes.iter_mut()) {
        let _ = lane.process.kill().await;
    }
    let harness_rss = peak_rss_kib(std::process::id()).unwrap_or(0);
    let wall = clock.0.elapsed();

    let accounted = ev.delivered + retry_depth + dlq_depth + archived_ids.len();
    let failures = check_failures.load(Ordering::SeqCst);
    let c = &counters;
    println!();
    println!("## Chaos run summary ({run_id})");
    println!();
    println!("| | |");
    println!("|---|---|");
    let row = |k: &str, v: String| println!("| {k} | {v} |");
    row("events sent (EventBridge invocations)", n.to_string());
    row(
        "invocations answered",
        answered
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    row(
        "parked by the EventBridge invocation",
        fmt_map(&lock(&c.parked_inline)),
    );
    row(
        "invocation errors (retried as Lambda async does)",
        format!(
            "{} errors, {} on-failure records written to the DLQ",
            c.invoke_errors.load(Ordering::SeqCst),
            c.on_failure_records.load(Ordering::SeqCst)
        ),
    );
    row(
        "retry-queue batches (event source mapping)",
        format!(
            "{} batches, {} records, {} listed for retry, {} failed as a whole",
            c.batches.load(Ordering::SeqCst),
            c.batch_records.load(Ordering::SeqCst),
            c.batch_listed.load(Ordering::SeqCst),
            c.batch_failed_whole.load(Ordering::SeqCst)
        ),
    );
    row(
        "**delivered** (distinct X-Event-Id answered 2xx)",
        ev.delivered.to_string(),
    );
    row(
        "  inline (in the EventBridge invocation)",
        inline.to_string(),
    );
    row("  from the retry queue", via_queue.to_string());
    row(
        "  by the replayer",
        format!(
            "{via_replay} ({replayed} replay POSTs answered 2xx in {:.1} s)",
            replay_time.as_secs_f64()
        ),
    );
    row(
        "parked in the DLQ before replay, by reason",
        fmt_map(&parked_by_reason),
    );
    row("still in the retry queue", retry_depth.to_string());
    row("still in the DLQ", dlq_depth.to_string());
    row("archived", archived_ids.len().to_string());
    row(
        "delivered + retry queue + DLQ + archived",
        format!("{accounted} (sent {n})"),
    );
    row(
        "WFM requests",
        format!(
            "{} ({} answered 2xx, {} no answer (hang / reset); by status {})",
            ev.requests,
            ev.ok_2xx,
            ev.no_answer,
            ev.by_status
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    row(
        "repeated POSTs (same X-Event-Id again)",
        format!(
            "{}, {} with a different Idempotency-Key",
            ev.repeated_posts, ev.key_mismatches
        ),
    );
    row(
        "duplicate deliveries (2xx for an event already delivered)",
        ev.duplicate_deliveries.to_string(),
    );
    if !injected.is_empty() {
        row(
            "deliberately deleted (--inject-loss)",
            injected.len().to_string(),
        );
    }
    row(
        "**lost** (in none of delivered / retry queue / DLQ / archive)",
        format!("**{}**", lost.len()),
    );
    row("checkpoint failures", failures.to_string());
    row(
        "Lambda processes",
        if process_problems.is_empty() {
            format!(
                "{} ran to the end, no panic",
                lanes.len() + consumer_lanes.len()
            )
        } else {
            process_problems.join("; ")
        },
    );
    row("peak RSS of the Lambda processes", peak_rss.join(", "));
    row(
        "peak RSS of this harness (incl. the WFM stand-in's request log)",
        format!("{:.0} MiB", harness_rss as f64 / 1024.0),
    );
    row(
        "wall time",
        format!(
            "{:.1} s (sending {:.1} s, drained at {:.1} s)",
            wall.as_secs_f64(),
            sent_at.as_secs_f64(),
            drained_at.as_secs_f64()
        ),
    );
    println!();
    for i in lost.iter().take(20) {
        let why = if injected.contains(i) {
            " (deleted by --inject-loss)"
        } else {
            ""
        };
        println!("LOST: event #{i} id {}{why}", fam.id(*i));
    }
    if lost.len() > 20 {
        println!("LOST: … and {} more", lost.len() - 20);
    }
    ev.flags.clear();
    wfm.shutdown().await;

    let ok = lost.is_empty()
        && failures == 0
        && ev.key_mismatches == 0
        && process_problems.is_empty()
        && accounted >= n;
    println!(
        "{}",
        if ok {
            "RESULT: PASS — every event accounted for"
        } else {
            "RESULT: FAIL"
        }
    );
    Ok(ok)
}

/// `BTreeMap` as `k n, k n`, or `-`.
fn fmt_map(m: &BTreeMap<String, usize>) -> String {
    if m.is_empty() {
        return "-".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The binary `name` next to this executable.
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()
        .context("cannot find this executable")?
        .with_file_name(name);
    if !path.exists() {
        bail!(
            "{} is missing: build it with `cargo build --bins` (infra/chaos.sh does)",
            path.display()
        );
    }
    Ok(path)
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

/// Random faults: with probability `rate` one of 502, 503, 504, no answer, reset, a slow 200
/// within the client's timeout and a slow 200 past it (WFM accepted it, the forwarder timed out:
/// it retries, so the event is posted twice with the same key).
fn fault_script(rate: f64, timeout: Duration, seed: u64) -> Script {
    Script::Random {
        p_fail: rate,
        faults: vec![
            Reply::status(502),
            Reply::status(503),
            Reply::status(504),
            Reply::hang(),
            Reply::reset(),
            Reply::status(200).delay(timeout / 2),
            Reply::status(200).delay(timeout + Duration::from_millis(200)),
        ],
        ok: Reply::status(200),
        seed,
    }
}

/// Faults until half the events are started, then the outage, then faults again.
#[allow(clippy::too_many_arguments)]
async fn run_phases(
    clock: Clock,
    wfm: ScriptedWfm,
    counters: Arc<Counters>,
    phase: Arc<AtomicU8>,
    n: usize,
    outage_s: u64,
    rate: f64,
    timeout: Duration,
    seed: u64,
) {
    println!(
        "{} WFM: random faults on {:.0} % of the requests",
        clock.stamp(),
        rate * 100.0
    );
    while counters.started.load(Ordering::SeqCst) < n / 2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wfm.set_script(Script::Sequence(vec![Reply::status(503)]));
    phase.store(PHASE_OUTAGE, Ordering::SeqCst);
    println!(
        "{} WFM: full outage, every request 503, for {outage_s} s",
        clock.stamp()
    );
    tokio::time::sleep(Duration::from_secs(outage_s)).await;
    wfm.set_script(fault_script(rate, timeout, seed.wrapping_add(1)));
    phase.store(PHASE_AFTER, Ordering::SeqCst);
    println!("{} WFM: outage over, random faults again", clock.stamp());
}

/// Sends every event as an EventBridge invocation, spread over the forwarder lanes: a lane
/// takes a new invocation as soon as one of its `per_lane` slots is free.
#[allow(clippy::too_many_arguments)]
async fn send_all(
    fam: EventFamily,
    n: usize,
    apis: Vec<RuntimeApi>,
    per_lane: usize,
    counters: Arc<Counters>,
    outcomes: Arc<Mutex<Vec<u8>>>,
    sqs: aws_sdk_sqs::Client,
    dlq_url: String,
) -> anyhow::Result<()> {
    let (free_tx, mut free_rx) = mpsc::unbounded_channel::<usize>();
    for lane in 0..apis.len() {
        for _ in 0..per_lane {
            let _ = free_tx.send(lane);
        }
    }
    let mut running = JoinSet::new();
    for i in 0..n {
        let lane = free_rx.recv().await.context("lane channel closed")?;
        while let Some(done) = running.try_join_next() {
            done.context("invocation task")??;
        }
        counters.started.fetch_add(1, Ordering::SeqCst);
        let api = apis[lane].clone();
        let (counters, outcomes, free_tx) = (
            Arc::clone(&counters),
            Arc::clone(&outcomes),
            free_tx.clone(),
        );
        let (sqs, dlq_url) = (sqs.clone(), dlq_url.clone());
        running.spawn(async move {
            let payload = fam.event(i);
            let code = invoke_event(&api, &payload, &counters, &sqs, &dlq_url).await?;
            lock(&outcomes)[i] = code;
            counters.completed.fetch_add(1, Ordering::SeqCst);
            let _ = free_tx.send(lane);
            anyhow::Ok(())
        });
    }
    while let Some(done) = running.join_next().await {
        done.context("invocation task")??;
    }
    Ok(())
}

/// One EventBridge event as Lambda's async invocation handles it: up to [`ASYNC_INVOKES`]
/// invocations, then Lambda's on-failure record in the DLQ (the forwarder's on-failure
/// destination). Returns the outcome code.
async fn invoke_event(
    api: &RuntimeApi,
    payload: &[u8],
    counters: &Counters,
    sqs: &aws_sdk_sqs::Client,
    dlq_url: &str,
) -> anyhow::Result<u8> {
    let mut last_error = String::new();
    for attempt in 1..=ASYNC_INVOKES {
        match invoke_raw(api, payload.to_vec()).await {
            Ok(body) => {
                let outcome = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["outcome"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                return Ok(match outcome.as_str() {
                    "delivered" => OUT_DELIVERED,
                    "queued" => OUT_QUEUED,
                    _ => {
                        *lock(&counters.parked_inline).entry(outcome).or_default() += 1;
                        OUT_PARKED
                    }
                });
            }
            Err(e) => {
                counters.invoke_errors.fetch_add(1, Ordering::SeqCst);
                last_error = e;
                if attempt < ASYNC_INVOKES {
                    tokio::time::sleep(ASYNC_RETRY_WAIT).await;
                }
            }
        }
    }
    // Lambda's on-failure record (AWS Lambda Developer Guide, "Capturing records of Lambda
    // asynchronous invocations"): the event is kept as `requestPayload`.
    let request_payload: serde_json::Value =
        serde_json::from_slice(payload).unwrap_or(serde_json::Value::Null);
    let record = serde_json::json!({
        "version": "1.0",
        "timestamp": format_rfc3339(SystemTime::now()),
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:wfm-relay-forwarder:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": ASYNC_INVOKES,
        },
        "requestPayload": request_payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": last_error},
    });
    sqs.send_message()
        .queue_url(dlq_url)
        .message_body(record.to_string())
        .send()
        .await
        .context("writing an on-failure record to the DLQ")?;
    counters.on_failure_records.fetch_add(1, Ordering::SeqCst);
    Ok(OUT_FAILED)
}

/// One invocation through the Runtime API: the response bytes, or the invocation error.
async fn invoke_raw(api: &RuntimeApi, payload: Vec<u8>) -> Result<Vec<u8>, String> {
    api.invoke_response(payload, INVOKE_TIMEOUT)
        .await
        .map_err(|e| e.to_string())
}

/// The EventBridge ids of the messages of `url` (our envelope, Lambda's on-failure record or a
/// raw event; `None` for a body without an id), read by receiving up to `expected` messages
/// (waiting at most `patience` for in-flight and delayed ones, hiding each for 120 s meanwhile)
/// and making them visible again.
async fn peek_event_ids(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    expected: usize,
    patience: Duration,
) -> anyhow::Result<Vec<Option<String>>> {
    let bodies = peek_bodies(sqs, url, expected, patience, 120).await?;
    Ok(bodies
        .iter()
        .map(|body| decode_dead_letter(body).env.event_id)
        .collect())
}

/// Lambda's SQS event source mapping with one poller, invoking one forwarder process, until
/// `stop`.
async fn consume(
    esm: SqsEventSourceMapping,
    api: RuntimeApi,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    while !stop.load(Ordering::SeqCst) {
        let report = esm
            .poll_once(|payload| {
                let api = api.clone();
                async move { invoke_raw(&api, payload).await }
            })
            .await
            .context("polling the retry queue")?;
        if report.received > 0 {
            counters.batches.fetch_add(1, Ordering::SeqCst);
            counters
                .batch_records
                .fetch_add(report.received, Ordering::SeqCst);
            counters
                .batch_listed
                .fetch_add(report.failed_ids.len(), Ordering::SeqCst);
        }
        if report.invoke_error.is_some() || report.invalid_response.is_some() {
            counters.batch_failed_whole.fetch_add(1, Ordering::SeqCst);
        }
    }
    Ok(())
}

/// The simulated bug: half-way through the outage, deletes `n` messages of the retry queue
/// whose event WFM has not accepted; returns their event indices.
#[allow(clippy::too_many_arguments)]
async fn inject_loss(
    clock: Clock,
    fam: EventFamily,
    sqs: aws_sdk_sqs::Client,
    retry_url: String,
    wfm: ScriptedWfm,
    phase: Arc<AtomicU8>,
    n: usize,
    outage_s: u64,
) -> anyhow::Result<Vec<usize>> {
    while phase.load(Ordering::SeqCst) == PHASE_FAULTS {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(outage_s * 500)).await;
    let mut deleted = Vec::new();
    for _ in 0..30 {
        if deleted.len() >= n {
            break;
        }
        let accepted = accepted_indices(&fam, &wfm);
        let got = sqs
            .receive_message()
            .queue_url(&retry_url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(1)
            .send()
            .await
            .context("ReceiveMessage (inject-loss)")?;
        let mut keep = Vec::new();
        for m in got.messages() {
            let handle = m.receipt_handle().unwrap_or_default().to_owned();
            let index = decode_dead_letter(m.body().unwrap_or_default())
                .env
                .event_id
                .and_then(|id| fam.index_of(&id));
            match index {
                Some(i) if deleted.len() < n && !accepted.contains(&i) => {
                    sqs.delete_message()
                        .queue_url(&retry_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .context("DeleteMessage (inject-loss)")?;
                    deleted.push(i);
                }
                _ => keep.push(handle),
            }
        }
        release(&sqs, &retry_url, &keep).await?;
    }
    println!(
        "{} INJECTED LOSS: deleted {} undelivered messages from the retry queue: events {:?}",
        clock.stamp(),
        deleted.len(),
        deleted
    );
    Ok(deleted)
}

/// The indices of the events WFM has answered 2xx so far.
fn accepted_indices(fam: &EventFamily, wfm: &ScriptedWfm) -> std::collections::HashSet<usize> {
    wfm.requests()
        .iter()
        .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
        .filter_map(|r| r.header("x-event-id").and_then(|id| fam.index_of(id)))
        .collect()
}

/// A checkpoint every `every` until aborted.
#[allow(clippy::too_many_arguments)]
async fn checkpoint_loop(
    clock: Clock,
    fam: EventFamily,
    sqs: aws_sdk_sqs::Client,
    stack: LocalStack,
    wfm: ScriptedWfm,
    counters: Arc<Counters>,
    phase: Arc<AtomicU8>,
    evidence: Arc<Mutex<Evidence>>,
    failures: Arc<AtomicUsize>,
    n: usize,
    every: Duration,
) -> anyhow::Result<()> {
    loop {
        tokio::time::sleep(every).await;
        let label = format!(
            "{}/{n} sent, WFM {}",
            counters.started.load(Ordering::SeqCst),
            phase_name(phase.load(Ordering::SeqCst))
        );
        check_once(
            clock, &fam, &sqs, &stack, &wfm, &counters, &evidence, &failures, &label,
        )
        .await?;
    }
}

/// Re-reads of a checkpoint that came out short before it counts as a failure.
const CHECK_REREADS: usize = 5;

/// One checkpoint. Reads, in this order, the completed invocations, the retry queue's depth,
/// the DLQ's depth and WFM's recorded requests: an event moves retry queue → DLQ (parked before
/// it is deleted) or retry queue / DLQ → delivered (2xx recorded before the delete), so with this
/// order every completed event is counted at least once, and `delivered + retry + DLQ ≥
/// completed` holds unless an event is lost. (It can miss a loss: an event both delivered and
/// still queued counts twice; the final check compares id sets.)
///
/// moto computes the visible, in-flight and delayed counts of one `GetQueueAttributes` one after
/// the other, so a message that changes state in between (a delay or a visibility timeout
/// ending) can be missed by one reading. A short reading is therefore re-read up to
/// [`CHECK_REREADS`] times, 0.5 s apart, and counts as a failure only when every reading is short.
#[allow(clippy::too_many_arguments)]
async fn check_once(
    clock: Clock,
    fam: &EventFamily,
    sqs: &aws_sdk_sqs::Client,
    stack: &LocalStack,
    wfm: &ScriptedWfm,
    counters: &Counters,
    evidence: &Mutex<Evidence>,
    failures: &AtomicUsize,
    label: &str,
) -> anyhow::Result<()> {
    let mut rereads = 0;
    loop {
        let completed = counters.completed.load(Ordering::SeqCst);
        let retry = depth(sqs, &stack.retry_url).await?;
        let dlq = depth(sqs, &stack.dlq_url).await?;
        let (delivered, requests) = {
            let mut ev = lock(evidence);
            ev.update(fam, wfm);
            (ev.delivered, ev.requests)
        };
        let sum = delivered + retry + dlq;
        let short = sum < completed;
        if short && rereads < CHECK_REREADS {
            rereads += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let mut verdict = if short {
            failures.fetch_add(1, Ordering::SeqCst);
            format!("CHECK FAILED: {} events missing", completed - sum)
        } else {
            "ok".to_owned()
        };
        if rereads > 0 {
            verdict.push_str(&format!(" (after {rereads} short readings)"));
        }
        println!(
            "{} checkpoint ({label}): delivered {delivered} + retry queue {retry} + DLQ {dlq} = {sum} ≥ {completed} answered invocations: {verdict} | WFM requests {requests}",
            clock.stamp()
        );
        return Ok(());
    }
}

/// The replayer library with the forwarder's environment and this process's AWS clients.
fn replayer(aws: &AwsClients, env: &[(String, String)]) -> anyhow::Result<Replayer> {
    let lookup = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let cfg = ForwarderConfig::from_lookup(lookup).context("replayer configuration")?;
    let wfm = WfmClient::new(&WfmSettings::from(&cfg)).context("replayer WFM client")?;
    let queues = Queues::new(aws.sqs.clone(), aws.s3.clone(), QueueSettings::from(&cfg));
    Ok(Replayer::new(cfg, wfm, queues))
}
