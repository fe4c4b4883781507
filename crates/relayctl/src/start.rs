//! Building the replayer for one action. Read-only actions (`stats`, `peek`) send nothing to
//! WFM, so they read neither `WFM_URL` nor the secrets nor the profile: they run with only the
//! queue settings (`DLQ_URL`, `RETRY_QUEUE_URL`) and AWS's own variables.

use crate::errors::AwsSettings;
use wfm_relay_aws::relay::{RelayParts, StartError};
use wfm_relay_replayer::{Action, Replayer, Request};

/// The WFM URL a read-only action's (unused) WFM client is built with: the reserved `.invalid`
/// top-level domain (RFC 6761 section 6.4), which never resolves, so nothing can be sent to it.
pub const READ_ONLY_WFM_URL: &str = "https://wfm-url-not-read-by-stats-or-peek.invalid/";

/// Whether `req` only reads the DLQ (stats, peek).
pub fn read_only(req: &Request) -> bool {
    matches!(req.action, Action::Stats | Action::Peek)
}

/// The configuration as a read-only action sees `var`: every `WFM_*` variable (the URL, the
/// token and signing secrets and their sources, the auth mode, the profile, the body settings)
/// is left out, and `WFM_URL` is [`READ_ONLY_WFM_URL`]; the rest is `var`'s.
pub fn read_only_lookup(var: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    move |k: &str| {
        if k == "WFM_URL" {
            Some(READ_ONLY_WFM_URL.to_owned())
        } else if k.starts_with("WFM_") {
            None
        } else {
            var(k)
        }
    }
}

/// Loads the AWS configuration once and builds the replayer for `req` (read-only actions through
/// [`read_only_lookup`]). Returns it, or the [`StartError`] naming the variable at fault, with
/// the AWS settings used (for error messages).
pub async fn replayer_for(req: &Request) -> (Result<Replayer, StartError>, AwsSettings) {
    let conf = wfm_relay_aws::aws::load_sdk_config().await;
    let env = |k: &str| std::env::var(k).ok();
    let aws = AwsSettings::from_lookup(env, conf.region().map(ToString::to_string));
    let parts = if read_only(req) {
        RelayParts::from_lookup(read_only_lookup(env), &conf).await
    } else {
        RelayParts::from_lookup(env, &conf).await
    };
    let replayer = parts.map(|p| Replayer::new(p.cfg, p.wfm, p.queues));
    (replayer, aws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_actions_see_no_wfm_setting() {
        let env = |k: &str| match k {
            "WFM_URL" => Some("https://wfm.example.com/x".to_owned()),
            "WFM_AUTH_TOKEN_SECRET_ARN" | "WFM_PROFILE" => Some("set".to_owned()),
            "DLQ_URL" => Some("http://q/dlq".to_owned()),
            _ => None,
        };
        let seen = read_only_lookup(env);
        assert_eq!(seen("WFM_URL").as_deref(), Some(READ_ONLY_WFM_URL));
        assert_eq!(seen("WFM_AUTH_TOKEN_SECRET_ARN"), None);
        assert_eq!(seen("WFM_PROFILE"), None);
        assert_eq!(seen("DLQ_URL").as_deref(), Some("http://q/dlq"));
        for (action, want) in [
            (Action::Stats, true),
            (Action::Peek, true),
            (Action::Replay, false),
            (Action::Redrive, false),
            (Action::Archive, false),
            (Action::ReplayArchive, false),
        ] {
            assert_eq!(read_only(&Request::new(action)), want, "{action:?}");
        }
    }
}
