//! The Genesys Cloud API stand-in against the official SDK: `infra/genesys/contract_check.py`
//! runs PyPI `purecloudplatformclientv2` (pinned in infra/requirements.txt) against a stand-in on
//! a free loopback port and checks that every answer parses into the SDK's own models; this test
//! then asserts what the stand-in counted. It fails loudly when the venv's Python or the SDK is
//! missing (run it through `infra/test.sh genesys_api`).

use crate::signing::python;
use wfm_relay_local::genesys_api::seed::{group_id, queue_id};
use wfm_relay_local::genesys_api::{GenesysApi, GenesysApiOptions};

/// 230 agents: three users pages of 100, and more than 50 ids for the bulk limit; every tenth
/// (23) has no `employerInfo`.
const AGENTS: usize = 230;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_parses_every_answer_of_the_stand_in() {
    let opts = GenesysApiOptions::new(AGENTS);
    let api = GenesysApi::start(opts.clone()).await.expect("stand-in");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/genesys/contract_check.py"
    );
    let out = tokio::process::Command::new(python())
        .arg(script)
        .arg(api.url())
        .arg(&opts.client_id)
        .arg(&opts.client_secret)
        .arg(&opts.org_id)
        .arg(AGENTS.to_string())
        .arg(group_id(0))
        .arg(queue_id(0))
        .output()
        .await
        .expect("run the contract check with the venv's python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "contract check failed ({:?}); is purecloudplatformclientv2 in the venv \
         (infra/requirements.txt)?\n{text}",
        out.status
    );
    assert!(
        text.starts_with("ok: 230 users in 3 pages (207 with an employee id), 50 bulk presences"),
        "{text}"
    );

    let c = api.counters();
    assert_eq!(c.tokens_issued, 1);
    assert_eq!(c.of("POST /oauth/token"), 1);
    // Three pages of 100 with presence and routing status, one of 500 with employerInfo.
    assert_eq!(c.of("GET /api/v2/users"), 4);
    assert_eq!(c.of("GET /api/v2/users/presences/purecloud/bulk"), 2);
    assert_eq!(
        (c.bulk_calls, c.max_bulk_ids),
        (2, 51),
        "50 accepted, 51 refused"
    );
    assert_eq!(c.of("GET /api/v2/users/{userId}/routingstatus"), 1);
    assert_eq!(c.of("GET /api/v2/groups/{groupId}/members"), 1);
    assert_eq!(c.of("GET /api/v2/groups/{groupId}/individuals"), 1);
    assert_eq!(c.of("GET /api/v2/routing/queues/{queueId}/members"), 1);
    assert_eq!(
        c.of("GET /api/v2/organizations/me"),
        2,
        "one good, one bad token"
    );
    assert_eq!(c.unauthorized, 1);
    assert_eq!(c.rate_limited, 0);
    api.shutdown().await;
}
