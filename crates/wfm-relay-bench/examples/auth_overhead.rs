//! Destination-auth benchmarks of issue 11 item 7 (BENCHMARKS.md, "Destination auth").
//!
//! 1. Warm overhead of `oauth2` vs `bearer`: the credentials step of one POST to WFM as
//!    `WfmClient::post` makes it — `SecretStore::current` then `WfmAuth::authorization` —
//!    timed call by call, both modes interleaved in the same run. `bearer`: the token in the
//!    secret store, `WfmAuth::none()`; `oauth2`: no token in the store, `WfmAuth` over a
//!    `TokenCache` holding a cached 600 s token (its endpoint is a counting fake that is asked
//!    once, before the timed loop). Prints p50 / p99 / max in µs for each mode and the p99
//!    difference.
//! 2. Token requests over 10,000 events with 600 s tokens: the same `TokenCache`, a
//!    `ManualClock` advanced 0.36 s per event (10,000 events over 60 minutes). Prints the number
//!    of token requests (issue 11: 7 — at 0 s, then every 540 s).
//!
//! Run: `cargo run --release -p wfm-relay-bench --example auth_overhead [iterations]`
//! (default 200,000 iterations per mode).

// A benchmark prints its results on stdout.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wfm_relay_aws::auth::{
    AuthError, IssuedToken, ManualClock, SystemClock, TokenCache, TokenEndpoint, TokenFuture,
    WfmAuth,
};
use wfm_relay_aws::secrets::{Credentials, SecretStore};
use wfm_relay_core::config::Secret;

/// A token endpoint that issues 600 s tokens and counts its calls.
#[derive(Default)]
struct Issuer {
    calls: AtomicU64,
}

impl TokenEndpoint for Issuer {
    fn request(&self, _timeout: Duration) -> TokenFuture<'_> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            Ok::<_, AuthError>(IssuedToken {
                access_token: Secret::new(format!("bench-token-{n}-{}", "x".repeat(800))),
                expires_in: Some(Duration::from_secs(600)),
            })
        })
    }
}

/// Budget given to the credentials step (the POST's timeout, `WFM_TIMEOUT_MS` default).
const BUDGET: Duration = Duration::from_secs(10);

/// p50, p99 and max of `ns`, in µs.
fn summary(ns: &mut [u64]) -> (f64, f64, f64) {
    ns.sort_unstable();
    let at = |q: f64| {
        let i = ((ns.len() as f64 - 1.0) * q).round() as usize;
        ns[i] as f64 / 1000.0
    };
    (at(0.50), at(0.99), at(1.0))
}

fn elapsed_ns(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let iterations: usize = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 200_000,
    };
    let token = Secret::new(format!("bench-bearer-{}", "x".repeat(800)));
    let bearer_store =
        SecretStore::fixed(Credentials::new(Some(token), None).map_err(anyhow::Error::msg)?);
    let bearer_auth = WfmAuth::none();
    let oauth_store = SecretStore::fixed(Credentials::new(None, None).map_err(anyhow::Error::msg)?);
    let issuer = Arc::new(Issuer::default());
    let oauth_auth = WfmAuth::with_token_cache(TokenCache::new(
        Arc::clone(&issuer) as _,
        Arc::new(SystemClock),
    ));
    // Warm: the first (untimed) call fetches the token the loop then reuses.
    oauth_auth.authorization(BUDGET).await?;
    let (mut bearer_ns, mut oauth_ns) = (Vec::with_capacity(iterations), Vec::new());
    oauth_ns.reserve(iterations);
    let mut headers = 0usize;
    for _ in 0..iterations {
        let t = Instant::now();
        let c = bearer_store.current().await;
        let a = bearer_auth.authorization(BUDGET).await?;
        headers += usize::from(c.authorization().is_some()) + usize::from(a.header().is_some());
        bearer_ns.push(elapsed_ns(t));
        let t = Instant::now();
        let c = oauth_store.current().await;
        let a = oauth_auth.authorization(BUDGET).await?;
        headers += usize::from(c.authorization().is_some()) + usize::from(a.header().is_some());
        oauth_ns.push(elapsed_ns(t));
    }
    anyhow::ensure!(
        headers == 2 * iterations,
        "one Authorization header per POST"
    );
    anyhow::ensure!(
        issuer.calls.load(Ordering::SeqCst) == 1,
        "the token is cached"
    );
    let (b50, b99, bmax) = summary(&mut bearer_ns);
    let (o50, o99, omax) = summary(&mut oauth_ns);
    println!("credentials step of a POST, {iterations} iterations per mode (µs)");
    println!("mode    p50     p99     max");
    println!("bearer  {b50:.3}  {b99:.3}  {bmax:.1}");
    println!("oauth2  {o50:.3}  {o99:.3}  {omax:.1}");
    println!(
        "oauth2 - bearer: p50 {:.3} µs, p99 {:.3} µs",
        o50 - b50,
        o99 - b99
    );

    // Token requests over 10,000 events spread over 60 simulated minutes.
    let issuer = Arc::new(Issuer::default());
    let clock = Arc::new(ManualClock::new(Instant::now()));
    let cache = TokenCache::new(Arc::clone(&issuer) as _, Arc::clone(&clock) as _);
    let events = 10_000u32;
    let period = Duration::from_secs(3600);
    let step = period / events;
    for _ in 0..events {
        cache.token(BUDGET).await?;
        clock.advance(step);
    }
    println!(
        "token requests over {events} events in {} s with 600 s tokens: {} (TokenStats.requests {})",
        period.as_secs(),
        issuer.calls.load(Ordering::SeqCst),
        cache.stats().requests
    );
    Ok(())
}
