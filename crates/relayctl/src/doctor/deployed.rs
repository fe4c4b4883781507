//! What the queue checks compare against: the DEPLOYED forwarder's `RETRY_SCHEDULE` (its
//! environment, else the forwarder's own default) and `Timeout` (GetFunctionConfiguration), and
//! the batching window of its event source mapping. Only when the forwarder is not deployed and
//! doctor runs with `--local` do the local `RETRY_SCHEDULE` / `FUNCTION_TIMEOUT_S` (or their
//! defaults) stand in; without `--local` there is then nothing to compare with (a fail).
//! Pure. Each value's source goes into the finding's detail.

use super::gather::{Expected, Unknown};
use super::gather_fn::Forwarder;
use super::lambda::Mapping;
use wfm_relay_core::policy::{DEFAULT_RETRY_SCHEDULE, RetrySchedule};

/// The settings for the queue checks (see the module doc). `local_env` reads the local
/// variables; `mapping` is the retry queue's event source mapping when one was found.
pub fn expected(
    local_env: impl Fn(&str) -> Option<String>,
    forwarder: Forwarder<'_>,
    mapping: Option<&Mapping>,
    local: bool,
) -> Expected {
    let window = match mapping {
        Some(m) => (
            format!("batching window of event source mapping {}", m.uuid),
            m.batching_window_s
                .map_or(0, |w| u64::try_from(w).unwrap_or(0)),
        ),
        None => (
            "the template's batching window (no event source mapping found)".to_owned(),
            super::gather::TEMPLATE_BATCHING_WINDOW_S,
        ),
    };
    let f = match forwarder {
        Forwarder::Deployed(f) => f,
        absent => {
            let (why, fix) = match absent {
                Forwarder::Missing(n) => (
                    format!("function {n} not found"),
                    "deploy the stack or fix FORWARDER_FUNCTION (--local compares with the \
                     local RETRY_SCHEDULE and FUNCTION_TIMEOUT_S)",
                ),
                _ => (
                    "FORWARDER_FUNCTION not set".to_owned(),
                    "set FORWARDER_FUNCTION (--local compares with the local RETRY_SCHEDULE and \
                     FUNCTION_TIMEOUT_S)",
                ),
            };
            if local {
                let mut e = Expected::from_lookup(local_env, true);
                let note = |s: &mut String| s.push_str(&format!(" ({why}: not deployed locally)"));
                if let Ok((s, _)) = &mut e.schedule {
                    note(s);
                }
                if let Ok((s, _)) = &mut e.function_timeout_s {
                    note(s);
                }
                e.batching_window_s = window;
                return e;
            }
            let unknown = |what: &str| Unknown {
                detail: format!("{why}: no deployed {what} to compare with"),
                fix: fix.to_owned(),
            };
            return Expected {
                schedule: Err(unknown("RETRY_SCHEDULE")),
                function_timeout_s: Err(unknown("Timeout")),
                batching_window_s: window,
                local,
            };
        }
    };
    let name = &f.name;
    let schedule = match f.var("RETRY_SCHEDULE") {
        Some(s) => s
            .parse::<RetrySchedule>()
            .map(|p| (format!("deployed RETRY_SCHEDULE {s} of {name}"), p))
            .map_err(|e| Unknown {
                detail: format!("the forwarder {name}'s RETRY_SCHEDULE `{s}` does not parse: {e}"),
                fix: "redeploy with a valid RetrySchedule parameter".to_owned(),
            }),
        None => DEFAULT_RETRY_SCHEDULE
            .parse::<RetrySchedule>()
            .map(|p| {
                (
                    format!(
                        "{name}'s default {DEFAULT_RETRY_SCHEDULE}: no RETRY_SCHEDULE in its \
                         environment"
                    ),
                    p,
                )
            })
            .map_err(|e| Unknown {
                detail: format!("default schedule: {e}"),
                fix: "report this bug".to_owned(),
            }),
    };
    let function_timeout_s = if (1..=900).contains(&f.timeout_s) {
        Ok((format!("deployed Timeout of {name}"), f.timeout_s))
    } else {
        Err(Unknown {
            detail: format!(
                "the forwarder {name} reports Timeout {} s (not 1-900)",
                f.timeout_s
            ),
            fix: "check the function's configuration".to_owned(),
        })
    };
    Expected {
        schedule,
        function_timeout_s,
        batching_window_s: window,
        local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::function::FunctionFacts;

    fn deployed(schedule: Option<&str>, timeout_s: u64) -> FunctionFacts {
        FunctionFacts {
            name: "fwd".into(),
            timeout_s,
            environment: schedule
                .map(|s| ("RETRY_SCHEDULE".to_owned(), s.to_owned()))
                .into_iter()
                .collect(),
            ..FunctionFacts::default()
        }
    }

    fn local_env(k: &str) -> Option<String> {
        match k {
            "RETRY_SCHEDULE" => Some("30s".to_owned()),
            "FUNCTION_TIMEOUT_S" => Some("10".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn a_deployed_forwarder_wins_over_the_local_variables() {
        let f = deployed(Some("30s,2m,10m"), 61);
        let m = Mapping {
            uuid: "u-1".into(),
            batching_window_s: Some(7),
            ..Mapping::default()
        };
        let e = expected(local_env, Forwarder::Deployed(&f), Some(&m), false);
        let (source, s) = e.schedule.expect("parses");
        assert_eq!(s.max_receive_count(), 8);
        assert_eq!(source, "deployed RETRY_SCHEDULE 30s,2m,10m of fwd");
        assert_eq!(
            e.function_timeout_s.expect("valid"),
            ("deployed Timeout of fwd".to_owned(), 61)
        );
        assert_eq!(e.batching_window_s.1, 7);
        assert!(e.batching_window_s.0.contains("u-1"));

        let no_var = deployed(None, 60);
        let e = expected(local_env, Forwarder::Deployed(&no_var), None, false);
        let (source, s) = e.schedule.expect("default");
        assert_eq!(s.max_receive_count(), 14);
        assert!(
            source.contains("no RETRY_SCHEDULE in its environment"),
            "{source}"
        );
        assert_eq!(e.batching_window_s.1, 0);

        let junk = deployed(Some("soon"), 0);
        let e = expected(local_env, Forwarder::Deployed(&junk), None, false);
        assert!(e.schedule.expect_err("junk").detail.contains("`soon`"));
        assert!(e.function_timeout_s.is_err());
    }

    #[test]
    fn local_values_stand_in_only_under_local() {
        let e = expected(local_env, Forwarder::Missing("fwd"), None, true);
        let (source, s) = e.schedule.expect("local");
        assert_eq!(s.max_receive_count(), 6);
        assert_eq!(
            source,
            "local RETRY_SCHEDULE 30s (function fwd not found: not deployed locally)"
        );
        assert_eq!(e.function_timeout_s.expect("local").1, 10);
        let e = expected(local_env, Forwarder::Missing("fwd"), None, false);
        let u = e.schedule.expect_err("nothing to compare with");
        assert!(u.detail.contains("function fwd not found"), "{}", u.detail);
        assert!(e.function_timeout_s.is_err());
        let e = expected(|_| None, Forwarder::Unset, None, false);
        assert!(
            e.schedule
                .expect_err("unset")
                .detail
                .contains("FORWARDER_FUNCTION not set")
        );
    }
}
