//! The stand-ins of the snapshot benchmark, in a child process of their own (so the peak RSS
//! measured is the snapshot runner's alone): the Genesys Cloud API stand-in with the real
//! limit (300 requests per minute per token) and a WFM that answers 200 at once, counts the
//! requests and keeps the arrival time of the first and the last.

use anyhow::Context;
use http_body_util::BodyExt;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use wfm_relay_local::genesys_api::{GenesysApi, GenesysApiOptions, RateLimit};
use wfm_relay_local::harness::lock;
use wfm_relay_local::http_server::{self, Handler};

/// The path of the WFM stand-in that answers the counts as JSON (never a delivery).
pub const STATS_PATH: &str = "/_bench/stats";

#[derive(Default)]
struct Tally {
    requests: u64,
    first_ms: Option<u64>,
    last_ms: Option<u64>,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Runs the stand-ins for `agents` agents; prints `{"genesys": url, "wfm": url}` on one line
/// of stdout and serves until stdin is closed (the parent exits or drops it).
///
/// # Errors
/// When a listening socket cannot be bound.
pub async fn serve(agents: usize) -> anyhow::Result<()> {
    let api = GenesysApi::start(GenesysApiOptions {
        rate_limit: RateLimit::GENESYS,
        ..GenesysApiOptions::new(agents)
    })
    .await
    .context("Genesys stand-in")?;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (for_handler, counted) = (Arc::clone(&tally), api.clone());
    let handler: Handler = Arc::new(move |_ctx, req| {
        let (tally, api) = (Arc::clone(&for_handler), counted.clone());
        Box::pin(async move {
            if req.uri().path() == STATS_PATH {
                let c = api.counters();
                let t = lock(&tally);
                let body = serde_json::json!({
                    "wfm_requests": t.requests,
                    "wfm_first_ms": t.first_ms,
                    "wfm_last_ms": t.last_ms,
                    "genesys_api_calls": c.api_calls(),
                    "genesys_429": c.rate_limited,
                    "genesys_401": c.unauthorized,
                    "genesys_tokens": c.tokens_issued,
                });
                drop(t);
                return http_server::response(200, &[], serde_json::to_vec(&body)?);
            }
            req.into_body().collect().await?;
            let now = unix_ms(SystemTime::now());
            let mut t = lock(&tally);
            t.requests += 1;
            t.first_ms.get_or_insert(now);
            t.last_ms = Some(now);
            drop(t);
            http_server::response(200, &[], Vec::new())
        })
    });
    let wfm = http_server::serve(handler).await.context("WFM stand-in")?;
    let line = serde_json::json!({"genesys": api.url(), "wfm": format!("http://{}/wfm", wfm.addr)});
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    drop(out);
    // Until the parent closes stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        std::io::stdin().read_to_end(&mut sink)
    })
    .await??;
    wfm.stopper.stop().await;
    api.shutdown().await;
    Ok(())
}
