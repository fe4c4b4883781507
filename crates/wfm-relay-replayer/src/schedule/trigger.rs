//! What invoked the snapshot function: the schedule (an EventBridge scheduled event, or an input
//! `{"action":"snapshot","scheduled":true, …}`), an operator (a plain snapshot request), or the
//! function itself (a report's `next`: a request with `resume` and `run_id`).

use crate::snapshot_request::SnapshotRequest;
use serde_json::Value;

/// One invocation's trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A new run: it must take the lease first.
    Start {
        /// What to snapshot (every active user for the EventBridge event).
        req: SnapshotRequest,
        /// The run's id: `snapshot-<event id>` for an EventBridge event (so Lambda's retry of
        /// the same event is the same run), else the request's `run_id` or a new one.
        run_id: String,
        /// True when the schedule sent it.
        scheduled: bool,
    },
    /// The next part of a running run (a report's `next`).
    Continue(SnapshotRequest),
}

/// Reads a payload.
///
/// # Errors
/// A sentence when it is neither a scheduled event nor a snapshot request, when a start carries
/// `resume`, or when a continuation has no `run_id`, or when the action is not `snapshot`.
pub fn trigger_of(payload: Value) -> Result<Trigger, String> {
    if payload.get("source").and_then(Value::as_str) == Some("aws.events") {
        let kind = payload.get("detail-type").and_then(Value::as_str);
        if kind != Some("Scheduled Event") {
            return Err(format!(
                "an aws.events payload of detail-type {kind:?} is not a scheduled event"
            ));
        }
        let id = payload
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or("a scheduled event without an id")?;
        return Ok(Trigger::Start {
            req: SnapshotRequest::all(),
            run_id: format!("snapshot-{id}"),
            scheduled: true,
        });
    }
    let mut payload = payload;
    let scheduled = match payload.as_object_mut().map(|o| o.remove("scheduled")) {
        None => return Err("the payload is not a JSON object".to_owned()),
        Some(None) => false,
        Some(Some(Value::Bool(b))) => b,
        Some(Some(other)) => return Err(format!("scheduled: {other} is not true or false")),
    };
    let req: SnapshotRequest =
        serde_json::from_value(payload).map_err(|e| format!("invalid request: {e}"))?;
    if req.action != "snapshot" {
        return Err(format!("action `{}` is not snapshot", req.action));
    }
    match (&req.resume, &req.run_id, scheduled) {
        (Some(_), _, true) => Err("a scheduled start carries no resume".to_owned()),
        (Some(_), None, false) => Err("a continuation (resume) needs its run_id".to_owned()),
        (Some(_), Some(_), false) => Ok(Trigger::Continue(req)),
        (None, id, _) => Ok(Trigger::Start {
            run_id: id
                .clone()
                .unwrap_or_else(|| format!("snapshot-{}", uuid::Uuid::new_v4().simple())),
            req,
            scheduled,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot_request::SnapshotCursor;
    use serde_json::json;

    #[test]
    fn a_scheduled_event_starts_a_run_named_after_its_id() {
        let ev = json!({"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type":"Scheduled Event","source":"aws.events","account":"123456789012",
            "time":"2026-12-01T13:00:00Z","region":"eu-west-1",
            "resources":["arn:aws:events:eu-west-1:123456789012:rule/x"],"detail":{}});
        assert_eq!(
            trigger_of(ev),
            Ok(Trigger::Start {
                req: SnapshotRequest::all(),
                run_id: "snapshot-53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa".into(),
                scheduled: true
            })
        );
        let other = json!({"source":"aws.events","detail-type":"EC2 Instance State","id":"x"});
        assert!(trigger_of(other).is_err());
        let no_id = json!({"source":"aws.events","detail-type":"Scheduled Event"});
        assert!(trigger_of(no_id).is_err());
    }

    #[test]
    fn inputs_and_requests_start_and_next_continues() {
        let input = json!({"action":"snapshot","scheduled":true,"groups":["g1"]});
        let Ok(Trigger::Start {
            req,
            run_id,
            scheduled,
        }) = trigger_of(input)
        else {
            panic!("a start");
        };
        assert!(scheduled);
        assert_eq!(req.groups, vec!["g1".to_owned()]);
        assert!(run_id.starts_with("snapshot-"));
        let manual = json!({"action":"snapshot","run_id":"mine"});
        assert_eq!(
            trigger_of(manual),
            Ok(Trigger::Start {
                req: SnapshotRequest {
                    run_id: Some("mine".into()),
                    ..SnapshotRequest::all()
                },
                run_id: "mine".into(),
                scheduled: false
            })
        );
        let next = SnapshotRequest {
            resume: Some(SnapshotCursor::default()),
            run_id: Some("r1".into()),
            ..SnapshotRequest::all()
        };
        let v = serde_json::to_value(&next).expect("json");
        assert_eq!(trigger_of(v), Ok(Trigger::Continue(next)));
        for bad in [
            json!({"action":"snapshot","resume":{"part":0,"page":1}}),
            json!({"action":"snapshot","scheduled":true,"run_id":"r","resume":{"part":0,"page":1}}),
            json!({"action":"snapshot","scheduled":"yes"}),
            json!({"action":"stats"}),
            json!([1]),
        ] {
            assert!(trigger_of(bad.clone()).is_err(), "{bad}");
        }
    }
}
