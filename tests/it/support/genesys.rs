//! The Genesys Cloud API stand-in's settings and the snapshot runner on it, as the snapshot
//! tests set them up (tests/it/snapshot*.rs, relayctl_snapshot.rs, profile_sync.rs).

use wfm_relay_aws::genesys::{GenesysClient, GenesysSettings};
use wfm_relay_forwarder::Forwarder;
use wfm_relay_local::genesys_api::GenesysApi;
use wfm_relay_replayer::Snapshotter;

/// The account the snapshot events name (`account` of an EventBridge event).
pub const ACCOUNT: &str = "123456789012";
/// The region they name.
pub const REGION: &str = "eu-west-1";

/// The Genesys settings of the stand-in `api`: its URL as `GENESYS_API_URL` and
/// `GENESYS_LOGIN_URL`, its client `standin-client` / `standin-secret`.
pub fn genesys_vars(api: &GenesysApi) -> Vec<(&'static str, String)> {
    let url = api.url();
    vec![
        ("GENESYS_API_URL", url.clone()),
        ("GENESYS_LOGIN_URL", url),
        ("GENESYS_CLIENT_ID", "standin-client".to_owned()),
        ("GENESYS_CLIENT_SECRET", "standin-secret".to_owned()),
    ]
}

/// A Genesys client of the stand-in `api` ([`genesys_vars`] plus `extra`, e.g.
/// `GENESYS_RATE_PER_MINUTE`).
pub async fn genesys_client(api: &GenesysApi, extra: &[(&str, &str)]) -> GenesysClient {
    let mut vars: Vec<(&str, String)> = genesys_vars(api);
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let settings = GenesysSettings::from_lookup(|k| {
        vars.iter()
            .rev()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
    })
    .expect("settings");
    GenesysClient::connect(&settings, None)
        .await
        .expect("client")
}

/// The snapshot runner of `genesys` delivering through `forwarder`: events of [`ACCOUNT`] in
/// [`REGION`], the org checked against `org` when given, no pacing (0 events per second).
pub fn snapshotter(
    genesys: GenesysClient,
    forwarder: Forwarder,
    org: Option<String>,
) -> Snapshotter {
    Snapshotter::new(
        genesys,
        forwarder,
        org,
        ACCOUNT.to_owned(),
        REGION.to_owned(),
        0.0,
    )
}
