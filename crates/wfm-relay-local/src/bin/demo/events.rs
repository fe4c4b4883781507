//! The demo's input: the Genesys sample events of the repository, generated presence and routing
//! status events, and one payload without the EventBridge envelope (the shape of case C01).

use anyhow::{Context, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use wfm_relay_local::UserEvent;

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

/// `n` generated events ([`UserEvent`]: alternately `v2.users.{id}.presence` and
/// `v2.users.{id}.routingStatus`, spread over 25 agents) with distinct random EventBridge ids and
/// correlation ids, state times 1 s apart ending at `now`.
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

/// The order of sending: the events WFM treats like any other first, then the specially treated
/// ones (sent once the random warm-up is over, so their fate does not depend on a coin toss),
/// and the invalid payload last.
pub fn sending_order(
    samples: &[DemoEvent],
    generated: &[DemoEvent],
    invalid: DemoEvent,
) -> Vec<DemoEvent> {
    let (special, normal): (Vec<DemoEvent>, Vec<DemoEvent>) = samples
        .iter()
        .chain(generated)
        .cloned()
        .partition(|e| e.special != Special::No);
    let mut sent = normal;
    sent.extend(special);
    sent.push(invalid);
    sent
}

fn generated_one(i: usize, state_time: SystemTime, special: Special) -> DemoEvent {
    let id = uuid::Uuid::new_v4().to_string();
    let event = UserEvent {
        index: i,
        id: &id,
        correlation_id: &uuid::Uuid::new_v4().to_string(),
        source: SOURCE,
        state_time,
    };
    DemoEvent {
        label: format!("generated #{i} ({})", event.kind()),
        bytes: event.to_bytes(),
        id: Some(id),
        special,
        sample: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(events: &[DemoEvent]) -> Vec<&str> {
        events.iter().map(|e| e.label.as_str()).collect()
    }

    #[test]
    fn special_events_go_after_the_others_and_the_invalid_payload_last() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let generated = generated(STUCK_EVENTS + 2, now);
        let mut rejected = generated_one(99, now, Special::Rejected);
        rejected.label = "rejected sample".into();
        let invalid = DemoEvent {
            label: "invalid".into(),
            id: None,
            bytes: b"{}".to_vec(),
            special: Special::Invalid,
            sample: false,
        };
        let sent = sending_order(&[rejected], &generated, invalid);
        let specials: Vec<Special> = sent.iter().map(|e| e.special).collect();
        assert_eq!(
            specials,
            [
                Special::No,
                Special::No,
                Special::Rejected,
                Special::Stuck,
                Special::Stuck,
                Special::Stuck,
                Special::Invalid
            ]
        );
        assert_eq!(labels(&sent)[6], "invalid");
        assert_eq!(labels(&sent)[2], "rejected sample");
    }
}
