//! Per-event cost of a profile (mapping lookup + jq) on the Genesys fixtures, and the memory of
//! a 20,000-agent mapping table (issue 13 §5: p99 ≤ 100 µs, ≤ 8 MB). A benchmark, not a test.
//!
//! `cargo run --release -p wfm-relay-profile --example bench [iterations]`
//!
//! Each sample is one `Profile::apply` on one fixture (the event already parsed by core, as in
//! the forwarder), with a 20,000-agent mapping table holding the fixtures' users. Prints one
//! line per profile with its load time (the start-up cost of `builtin:<name>`, first call in the
//! process) and p50 / p99 / max of `apply` in microseconds, then the table's heap size.

use std::time::Instant;
use wfm_relay_core::event::parse_event;
use wfm_relay_profile::{AgentTable, Profile, Tables};

const FIXTURES: &[&str] = &[
    "presence-break",
    "presence-break-eventbridge-replay",
    "presence-available",
    "routing-status-idle",
    "routing-status-not-responding",
    "activity",
    "user-end-detail-event",
    "snapshot-presence",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/genesys");
    let mut events = Vec::new();
    for name in FIXTURES {
        let raw = std::fs::read(format!("{dir}/{name}.json"))?;
        let info = parse_event(&raw).map_err(|e| format!("{name}: {e}"))?;
        events.push((raw, info));
    }
    let mut csv = String::from("user_id,wfm_id\n");
    for i in 0..20_000u32 {
        csv.push_str(&format!("bbbbbbbb-0000-4000-8000-{i:012},WFM-{i:08}\n"));
    }
    for (i, user) in ["a1", "a2"].iter().enumerate() {
        csv.push_str(&format!(
            "aaaaaaaa-0000-4000-8000-0000000000{user},ASM-{i}\n"
        ));
    }
    let table = AgentTable::parse_mapping(csv.as_bytes())?;
    let heap = table.heap_bytes();
    let agents = table.len();
    let tables = Tables {
        agents: Some(table),
    };
    let mut out = std::io::stdout().lock();
    use std::io::Write;
    for name in ["genesys", "agent-state", "assembled"] {
        let t = Instant::now();
        let profile = Profile::builtin(name)?;
        let load_us = t.elapsed().as_secs_f64() * 1e6;
        writeln!(
            out,
            "profile {name:<12} load (parse + validate + jq compile): {load_us:.0} µs"
        )?;
        let mut samples = Vec::with_capacity(iterations);
        let mut bytes = 0usize;
        for i in 0..iterations {
            let (raw, info) = &events[i % events.len()];
            let t = Instant::now();
            let r = profile.apply(raw, info, &tables);
            let ns = t.elapsed().as_nanos();
            bytes += r.map_or(0, |o| o.body.len());
            samples.push(ns);
        }
        samples.sort_unstable();
        let q = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
        writeln!(
            out,
            "profile {name:<12} {iterations} applies: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs ({bytes} body bytes)",
            q(0.50),
            q(0.99),
            q(1.0)
        )?;
    }
    writeln!(
        out,
        "mapping table: {agents} agents, {heap} bytes on the heap ({:.2} MiB)",
        heap as f64 / (1024.0 * 1024.0)
    )?;
    Ok(())
}
