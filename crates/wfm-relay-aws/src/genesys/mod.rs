//! The Genesys Cloud API client for state snapshots (PRODUCT.md §6 `snapshot`, FACTS.md §7.4):
//! an adapter beside the WFM client.
//!
//! - [`GenesysSettings`]: `GENESYS_DOMAIN` (`api.<domain>`, `login.<domain>`),
//!   `GENESYS_API_URL` / `GENESYS_LOGIN_URL` overrides (http only on loopback),
//!   `GENESYS_CLIENT_ID`, `GENESYS_CLIENT_SECRET` (`_ARN` / `_PARAM`), `GENESYS_ORG_ID`.
//! - OAuth client credentials ([`GenesysTokenEndpoint`]) behind the shared single-flight
//!   [`crate::auth::TokenCache`].
//! - [`GenesysClient::get_json`]: one call, paced to `rate_per_minute` per token (300),
//!   429 `Retry-After` honoured, 5xx retried with backoff, a 401 refreshes the token once and
//!   retries, a second 401 or a 403 stops with [`GenesysError::Forbidden`] naming the permission.
//! - [`GenesysClient::page`] (`agents.rs`): the agents to include, page by page, with their
//!   presence and routing status read in the fewest calls (see [`Selection`]; a division
//!   selection filters the users pages by `division.id`, `divisions.rs`).
//! - [`GenesysClient::user_fields`] (`user_fields.rs`): every active user's `username`,
//!   `employerInfo.employeeId` and `email`, for `relayctl profile sync`.
//!
//! Endpoints (official SDK `purecloudplatformclientv2` 269.0.0, `PureCloudPlatformClientV2/apis/`):
//! `UsersApi.get_users` `GET /api/v2/users` (`pageSize`, `pageNumber`, `id`, `expand`, `state`),
//! `GroupsApi.get_group_members` `GET /api/v2/groups/{groupId}/members` (`expand`),
//! `RoutingApi.get_routing_queue_members` `GET /api/v2/routing/queues/{queueId}/members`
//! (`pageSize` ≤ 100; each `QueueMember` carries `routingStatus`),
//! `PresenceApi.get_users_presences_purecloud_bulk`
//! `GET /api/v2/users/presences/purecloud/bulk` (`id`, at most 50),
//! `UsersApi.get_user_routingstatus` `GET /api/v2/users/{userId}/routingstatus`,
//! `OrganizationApi.get_organizations_me` `GET /api/v2/organizations/me`.

mod agents;
mod client;
mod divisions;
mod settings;
mod transport;
mod user_fields;

pub use agents::{BULK_PRESENCE_LIMIT, Cursor, Page, QUEUE_PAGE_SIZE, Selection, USERS_PAGE_SIZE};
pub use client::{
    CallStats, GenesysClient, MAX_429_PER_CALL, RETRY_AFTER_CAP, SERVER_ERROR_ATTEMPTS,
    SERVER_ERROR_BACKOFF,
};
pub use settings::{GENESYS_RATE_PER_MINUTE, GenesysSettings};
pub use transport::{
    Answer, BoxFuture, CALL_TIMEOUT, GenesysTokenEndpoint, HttpTransport, Transport,
};
pub use user_fields::{USER_FIELD_NAMES, UserDirectory, UserFields};

use crate::auth::AuthError;

/// Why a Genesys call (and so the snapshot) could not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesysError {
    /// A 403, or a 401 after one token refresh: the OAuth client lacks a permission. The
    /// snapshot stops; someone must add `permission` to the client's role.
    #[error(
        "Genesys answered HTTP {status} to {path}: the OAuth client's role needs the permission {permission} ({detail})"
    )]
    Forbidden {
        /// 401 or 403.
        status: u16,
        /// The API path called (no query).
        path: String,
        /// The permission the endpoint needs (developer.genesys.cloud API explorer).
        permission: &'static str,
        /// The start of Genesys's error body.
        detail: String,
    },
    /// No token could be had (token endpoint down, or the client's credentials refused).
    #[error("no Genesys token: {0}")]
    Token(AuthError),
    /// 5xx / no answer [`SERVER_ERROR_ATTEMPTS`] times, or 429 [`MAX_429_PER_CALL`] times.
    #[error("Genesys unavailable at {path}: {message}")]
    Unavailable {
        /// The API path called.
        path: String,
        /// What happened last.
        message: String,
    },
    /// Another 4xx, or a body that cannot be read.
    #[error("Genesys answer of {path} unusable: {message}")]
    BadAnswer {
        /// The API path called.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A wait (pacing, `Retry-After`, backoff) would end after the caller's deadline: continue
    /// with `next`.
    #[error("no time left before the deadline")]
    OutOfTime,
}

impl GenesysError {
    /// True for the errors that stop a snapshot for good (a permission or credentials problem).
    pub fn is_fatal(&self) -> bool {
        match self {
            GenesysError::Forbidden { .. } => true,
            GenesysError::Token(e) => e.variable().is_some(),
            _ => false,
        }
    }
}

/// The permission an API path needs (Genesys Cloud API explorer, "Permissions"; the names of
/// the role permissions, `domain:entity:action`).
pub fn permission_for(path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api", "v2", "users", "presences", ..] => "presence:userPresence:view",
        ["api", "v2", "users", _, "routingstatus"] => "routing:agent:view",
        ["api", "v2", "groups", ..] => "directory:group:view",
        ["api", "v2", "routing", "queues", ..] => "routing:queueMember:view",
        ["api", "v2", "organizations", ..] => "directory:organization:view",
        _ => "directory:user:view",
    }
}

#[cfg(test)]
mod tests;
