//! The demo's input: the Genesys sample events of the repository, generated presence and routing
//! status events, and one payload without the EventBridge envelope (the shape of case C01).

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use wfm_relay_core::timefmt::format_rfc3339;

/// The partner event source Genesys publishes from (fake organisation id, as in the samples).
const SOURCE: &str = "aws.partner/genesys.com/cloud/11111111-2222-3333-4444-555555555555/wfm-relay";

/// The sample the scripted WFM rejects for good (HTTP 400): an analytics detail event the WFM
/// service does not understand.
const REJECTED_SAMPLE: &str = "user-end-detail-event.json";

/// How many generated events the scripted WFM answers `503` forever, so that they run through
/// the whole (compressed) retry schedule and end in the DLQ as `transient_exhausted`.
pub const STUCK_EVENTS: usize = 3;

/// What the scripted WFM does with an event whatever the phase (after the warm-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// Follows the phase's script.
    No,
    /// Always answered `400`: parked at once as `rejected`.
    Rejected,
    /// Always answered `503`: ends as `transient_exhausted`.
    Stuck,
    /// Not an EventBridge event: never posted, parked as `invalid_event`.
    Invalid,
}

/// One payload the demo sends as an EventBridge invocation.
#[derive(Debug, Clone)]
pub struct DemoEvent {
    /// Short name for the printout (sample file name, `generated #n`, `invalid payload`).
    pub label: String,
    /// EventBridge `id`; `None` for the invalid payload.
    pub id: Option<String>,
    /// The invocation payload, exactly as sent.
    pub bytes: Vec<u8>,
    /// How the scripted WFM treats it.
    pub special: Special,
    /// One of the repository's Genesys samples (else generated, or the invalid payload).
    pub sample: bool,
}

/// The repository checkout the demo runs from (it reads `tests/fixtures` and `tests/cases`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Genesys samples of `tests/fixtures/genesys/*.json`, sorted by file name, as the JSON
/// value the Runtime API hands over (the trailing newline of the file is not part of it).
///
/// # Errors
/// When the directory or a file cannot be read, or a sample has no string `id`.
pub fn samples(dir: &Path) -> anyhow::Result<Vec<DemoEvent>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| {
            format!(
                "cannot read the Genesys samples in {} (the demo runs from a checkout of the repository)",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no *.json sample in {}", dir.display());
    }
    let mut out = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .trim_ascii_end()
            .to_vec();
        let v: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let id = v["id"]
            .as_str()
            .with_context(|| format!("{} has no string `id`", path.display()))?
            .to_owned();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let special = if name == REJECTED_SAMPLE {
            Special::Rejected
        } else {
            Special::No
        };
        out.push(DemoEvent {
            label: name,
            id: Some(id),
            bytes,
            special,
            sample: true,
        });
    }
    Ok(out)
}

/// The payload of case C01 (`tests/cases/C01.json`, member `event`): the Genesys `detail` object
/// alone, without `id`, `detail-type`, `source` and `time`.
///
/// # Errors
/// When the case file cannot be read or has no `event` object.
pub fn invalid_payload(cases_dir: &Path) -> anyhow::Result<DemoEvent> {
    let path = cases_dir.join("C01.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let case: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let event = case
        .get("event")
        .filter(|e| e.is_object())
        .with_context(|| format!("{} has no `event` object", path.display()))?;
    Ok(DemoEvent {
        label: "invalid payload (C01: detail only)".into(),
        id: None,
        bytes: serde_json::to_vec(event)?,
        special: Special::Invalid,
        sample: false,
    })
}

const PRESENCES: [&str; 5] = ["Available", "Break", "Meal", "Meeting", "Training"];
const ROUTING: [&str; 4] = ["IDLE", "INTERACTING", "NOT_RESPONDING", "OFF_QUEUE"];
/// Distinct agents the generated events are spread over.
const USERS: u64 = 25;

/// `n` generated events: alternately `v2.users.{id}.presence` and `v2.users.{id}.routingStatus`,
/// spread over 25 agents, distinct random EventBridge ids, state times 1 s apart ending at `now`.
/// The last [`STUCK_EVENTS`] of them are [`Special::Stuck`].
pub fn generated(n: usize, now: SystemTime) -> Vec<DemoEvent> {
    (0..n)
        .map(|i| {
            let back = Duration::from_secs((n - i) as u64);
            let state_time = now.checked_sub(back).unwrap_or(now);
            let special = if i + STUCK_EVENTS >= n {
                Special::Stuck
            } else {
                Special::No
            };
            generated_one(i, state_time, special)
        })
        .collect()
}

fn generated_one(i: usize, state_time: SystemTime, special: Special) -> DemoEvent {
    let id = uuid::Uuid::new_v4().to_string();
    let user = format!(
        "aaaaaaaa-0000-4000-8000-{:012x}",
        0xd00 + (i as u64 % USERS)
    );
    let modified = format_rfc3339(state_time);
    let published = format_rfc3339(state_time + Duration::from_millis(40));
    // EventBridge's `time` has second precision.
    let time = format!("{}Z", &published[..19]);
    let (kind, body) = if i.is_multiple_of(2) {
        (
            "presence",
            json!({
                "source": "PURECLOUD",
                "presenceDefinition": {
                    "id": format!("6a3af858-0000-4000-8000-{:012x}", i % PRESENCES.len()),
                    "systemPresence": PRESENCES[i % PRESENCES.len()],
                },
                "primary": true,
                "message": "",
                "modifiedDate": modified,
            }),
        )
    } else {
        (
            "routingStatus",
            json!({
                "id": user,
                "routingStatus": {
                    "status": ROUTING[i % ROUTING.len()],
                    "startTime": modified,
                },
            }),
        )
    };
    let event = json!({
        "version": "0",
        "id": id,
        "detail-type": format!("v2.users.{{id}}.{kind}"),
        "source": SOURCE,
        "account": "123456789012",
        "time": time,
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "topicName": format!("v2.users.{user}.{kind}"),
            "version": "2",
            "eventBody": body,
            "metadata": { "CorrelationId": uuid::Uuid::new_v4().to_string() },
            "timestamp": published,
        },
    });
    DemoEvent {
        label: format!("generated #{i} ({kind})"),
        id: Some(id),
        // Serialising a `Value` cannot fail.
        bytes: serde_json::to_vec(&event).unwrap_or_default(),
        special,
        sample: false,
    }
}
